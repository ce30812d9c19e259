/* reduce_impl.h -- dot product, column sums and the elementwise sum, written once for
 * every ISA.
 * Included by reduce.c with TG_SUFFIX and TG_VEC_BYTES set; see tg_isa.h. */
#include "tg_vec.h"

/* dot(x, y) = sum_i x[i] * y[i]
 * Four vector accumulators: an FMA takes 4 cycles, so one accumulator would make
 * every step wait for the previous one; four independent chains keep it busy. */
static float TG_FN(dot_f32)(const float *x, const float *y, ptrdiff_t n) {
    VF32 acc0 = {0}, acc1 = {0}, acc2 = {0}, acc3 = {0};
    ptrdiff_t i = 0;
    for (; i + 4 * W32 <= n; i += 4 * W32) {
        acc0 += TG_FN(load_f32)(x + i) * TG_FN(load_f32)(y + i);
        acc1 += TG_FN(load_f32)(x + i + W32) * TG_FN(load_f32)(y + i + W32);
        acc2 += TG_FN(load_f32)(x + i + 2 * W32) * TG_FN(load_f32)(y + i + 2 * W32);
        acc3 += TG_FN(load_f32)(x + i + 3 * W32) * TG_FN(load_f32)(y + i + 3 * W32);
    }
    for (; i + W32 <= n; i += W32) acc0 += TG_FN(load_f32)(x + i) * TG_FN(load_f32)(y + i);
    float s = TG_FN(hsum_f32)((acc0 + acc1) + (acc2 + acc3));
    for (; i < n; i++) s += x[i] * y[i]; /* the tail that does not fill a vector */
    return s;
}

static double TG_FN(dot_f64)(const double *x, const double *y, ptrdiff_t n) {
    VF64 acc0 = {0}, acc1 = {0}, acc2 = {0}, acc3 = {0};
    ptrdiff_t i = 0;
    for (; i + 4 * W64 <= n; i += 4 * W64) {
        acc0 += TG_FN(load_f64)(x + i) * TG_FN(load_f64)(y + i);
        acc1 += TG_FN(load_f64)(x + i + W64) * TG_FN(load_f64)(y + i + W64);
        acc2 += TG_FN(load_f64)(x + i + 2 * W64) * TG_FN(load_f64)(y + i + 2 * W64);
        acc3 += TG_FN(load_f64)(x + i + 3 * W64) * TG_FN(load_f64)(y + i + 3 * W64);
    }
    for (; i + W64 <= n; i += W64) acc0 += TG_FN(load_f64)(x + i) * TG_FN(load_f64)(y + i);
    double s = TG_FN(hsum_f64)((acc0 + acc1) + (acc2 + acc3));
    for (; i < n; i++) s += x[i] * y[i];
    return s;
}

/* out[c] (+)= sum_r x[r, c] for columns [c0, c1) of a (rows, cols) matrix whose rows
 * are `ld` elements apart. This is how a bias gradient is made: the bias was
 * broadcast over every row in forward, so its gradient sums the rows in backward.
 * We walk down the rows with a vector of columns, so every load is contiguous. */
static void TG_FN(colsum_f32)(const float *x, ptrdiff_t rows, ptrdiff_t ld, ptrdiff_t c0,
                              ptrdiff_t c1, float *out, int accumulate) {
    ptrdiff_t c = c0;
    for (; c + W32 <= c1; c += W32) {
        VF32 acc = accumulate ? TG_FN(load_f32)(out + c) : (VF32){0};
        for (ptrdiff_t r = 0; r < rows; r++) acc += TG_FN(load_f32)(x + r * ld + c);
        TG_FN(store_f32)(out + c, acc);
    }
    for (; c < c1; c++) {
        float acc = accumulate ? out[c] : 0.0f;
        for (ptrdiff_t r = 0; r < rows; r++) acc += x[r * ld + c];
        out[c] = acc;
    }
}

static void TG_FN(colsum_f64)(const double *x, ptrdiff_t rows, ptrdiff_t ld, ptrdiff_t c0,
                              ptrdiff_t c1, double *out, int accumulate) {
    ptrdiff_t c = c0;
    for (; c + W64 <= c1; c += W64) {
        VF64 acc = accumulate ? TG_FN(load_f64)(out + c) : (VF64){0};
        for (ptrdiff_t r = 0; r < rows; r++) acc += TG_FN(load_f64)(x + r * ld + c);
        TG_FN(store_f64)(out + c, acc);
    }
    for (; c < c1; c++) {
        double acc = accumulate ? out[c] : 0.0;
        for (ptrdiff_t r = 0; r < rows; r++) acc += x[r * ld + c];
        out[c] = acc;
    }
}

/* out[i] = a[i] + b[i] for i in [0, n): the residual stream's `x + f(x)` in forward, and
 * in backward the sum of the gradients that reach one tensor along two paths. The
 * simplest kernel there is; it is here because NumPy runs it on one core, and on
 * arrays that no longer sit in this core's cache (a 768 x 128 activation made a
 * layer ago) one core cannot pull the bytes in as fast as two. (out may be a.) */
static void TG_FN(add_f32)(const float *a, const float *b, float *out, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + W32 <= n; i += W32)
        TG_FN(store_f32)(out + i, TG_FN(load_f32)(a + i) + TG_FN(load_f32)(b + i));
    for (; i < n; i++) out[i] = a[i] + b[i];
}

static void TG_FN(add_f64)(const double *a, const double *b, double *out, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + W64 <= n; i += W64)
        TG_FN(store_f64)(out + i, TG_FN(load_f64)(a + i) + TG_FN(load_f64)(b + i));
    for (; i < n; i++) out[i] = a[i] + b[i];
}

/* x[i] *= s for i in [0, n): gradient clipping's rescale. */
static void TG_FN(scale_f32)(float *x, ptrdiff_t n, float s) {
    ptrdiff_t i = 0;
    for (; i + W32 <= n; i += W32) TG_FN(store_f32)(x + i, TG_FN(load_f32)(x + i) * TG_FN(splat_f32)(s));
    for (; i < n; i++) x[i] *= s;
}

static void TG_FN(scale_f64)(double *x, ptrdiff_t n, double s) {
    ptrdiff_t i = 0;
    for (; i + W64 <= n; i += W64) TG_FN(store_f64)(x + i, TG_FN(load_f64)(x + i) * TG_FN(splat_f64)(s));
    for (; i < n; i++) x[i] *= s;
}

#include "tg_vec_end.h"
