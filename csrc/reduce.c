/* reduce.c -- the ISA variants of reduce_impl.h and the entry points that pick one. */
#include <stdlib.h>

#include "reduce.h"
#include "tg_isa.h"

#define TG_SUFFIX base
#define TG_VEC_BYTES 16
#include "reduce_impl.h"

#if TG_X86
TG_BEGIN_TARGET_AVX2
#define TG_SUFFIX avx2
#define TG_VEC_BYTES 32
#include "reduce_impl.h"
TG_END_TARGET

TG_BEGIN_TARGET_AVX512
#define TG_SUFFIX avx512
#define TG_VEC_BYTES 64
#include "reduce_impl.h"
TG_END_TARGET
#endif

float tg_dot_f32(const float *x, const float *y, ptrdiff_t n, int isa) {
    switch (tg_clamp_isa(isa)) {
#if TG_X86
    case TG_ISA_AVX512: return dot_f32_avx512(x, y, n);
    case TG_ISA_AVX2: return dot_f32_avx2(x, y, n);
#endif
    default: return dot_f32_base(x, y, n);
    }
}

double tg_dot_f64(const double *x, const double *y, ptrdiff_t n, int isa) {
    switch (tg_clamp_isa(isa)) {
#if TG_X86
    case TG_ISA_AVX512: return dot_f64_avx512(x, y, n);
    case TG_ISA_AVX2: return dot_f64_avx2(x, y, n);
#endif
    default: return dot_f64_base(x, y, n);
    }
}

/* Threads split the columns into contiguous chunks (a multiple of 16, one cache
 * line of floats, so no two threads write the same line). */
#define TG_COLSUM_DRIVER(T, SFX)                                                            \
    void tg_colsum_##SFX(const T *x, ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t ld, T *out,  \
                         int accumulate, int isa, int nthreads) {                           \
        isa = tg_clamp_isa(isa);                                                            \
        if (rows * cols < 65536) nthreads = 1; /* too little work to wake threads */        \
        ptrdiff_t chunk = (cols + nthreads - 1) / nthreads;                                 \
        chunk = (chunk + 15) / 16 * 16;                                                     \
        TG_PARALLEL_FOR(nthreads, for (ptrdiff_t c0 = 0; c0 < cols; c0 += chunk) {         \
            ptrdiff_t c1 = c0 + chunk < cols ? c0 + chunk : cols;                           \
            if (isa == TG_ISA_AVX512) TG_COLSUM_CALL(SFX, avx512);                          \
            else if (isa == TG_ISA_AVX2) TG_COLSUM_CALL(SFX, avx2);                         \
            else colsum_##SFX##_base(x, rows, ld, c0, c1, out, accumulate);                 \
        });                                                                                 \
    }
#if TG_X86
#define TG_COLSUM_CALL(SFX, ISA) colsum_##SFX##_##ISA(x, rows, ld, c0, c1, out, accumulate)
#else
#define TG_COLSUM_CALL(SFX, ISA) colsum_##SFX##_base(x, rows, ld, c0, c1, out, accumulate)
#endif
TG_COLSUM_DRIVER(float, f32)
TG_COLSUM_DRIVER(double, f64)

/* Threads take contiguous chunks, each a whole number of cache lines (16 floats or
 * 8 doubles) so that no two threads write the same line. Below 64k numbers one
 * thread does it all: waking the other costs more than it saves. */
#define TG_ADD_DRIVER(T, SFX, LINE)                                                          \
    void tg_add_##SFX(const T *a, const T *b, T *out, ptrdiff_t n, int isa, int nthreads) {  \
        isa = tg_clamp_isa(isa);                                                            \
        if (n < 65536) nthreads = 1;                                                        \
        ptrdiff_t chunk = (n + nthreads - 1) / nthreads;                                    \
        chunk = (chunk + LINE - 1) / LINE * LINE;                                           \
        TG_PARALLEL_FOR(nthreads, for (ptrdiff_t i0 = 0; i0 < n; i0 += chunk) {             \
            ptrdiff_t len = i0 + chunk < n ? chunk : n - i0;                                \
            if (isa == TG_ISA_AVX512) TG_ADD_CALL(SFX, avx512);                             \
            else if (isa == TG_ISA_AVX2) TG_ADD_CALL(SFX, avx2);                            \
            else add_##SFX##_base(a + i0, b + i0, out + i0, len);                           \
        });                                                                                 \
    }
#if TG_X86
#define TG_ADD_CALL(SFX, ISA) add_##SFX##_##ISA(a + i0, b + i0, out + i0, len)
#else
#define TG_ADD_CALL(SFX, ISA) add_##SFX##_base(a + i0, b + i0, out + i0, len)
#endif
TG_ADD_DRIVER(float, f32, 16)
TG_ADD_DRIVER(double, f64, 8)

/* ---- many arrays at once: the gradients of a whole model --------------------------- *
 *
 * Gradient clipping needs the length of every gradient, then scales them all. One call
 * per array (a GPT has dozens) leaves the second core idle, and most arrays are too
 * small to be worth a parallel region of their own. So the arrays are cut into chunks
 * of TG_FOREACH_CHUNK numbers, and one parallel loop runs over all the chunks of all
 * the arrays. The chunks are fixed by the sizes alone, and each array's chunk sums are
 * added in order afterwards: the sums do not depend on the number of threads. */
#define TG_FOREACH_CHUNK 16384

/* chunk c covers x[t[c]][start[c] : start[c] + len[c]]. Returns the number of chunks, or -1. */
static ptrdiff_t tg_foreach_chunks(const ptrdiff_t *n, ptrdiff_t count, ptrdiff_t **t,
                                   ptrdiff_t **start, ptrdiff_t **len) {
    ptrdiff_t total = 0;
    for (ptrdiff_t a = 0; a < count; a++) total += (n[a] + TG_FOREACH_CHUNK - 1) / TG_FOREACH_CHUNK;
    *t = malloc((size_t)(3 * total + 1) * sizeof(ptrdiff_t));
    if (!*t) return -1;
    *start = *t + total;
    *len = *start + total;
    ptrdiff_t c = 0;
    for (ptrdiff_t a = 0; a < count; a++)
        for (ptrdiff_t s = 0; s < n[a]; s += TG_FOREACH_CHUNK, c++) {
            (*t)[c] = a;
            (*start)[c] = s;
            (*len)[c] = n[a] - s < TG_FOREACH_CHUNK ? n[a] - s : TG_FOREACH_CHUNK;
        }
    return total;
}

#if TG_X86
#define TG_PICK_REDUCE(isa, name)                                                           \
    ((isa) == TG_ISA_AVX512 ? name##_avx512 : (isa) == TG_ISA_AVX2 ? name##_avx2 : name##_base)
#else
#define TG_PICK_REDUCE(isa, name) name##_base
#endif

#define TG_FOREACH_DRIVERS(T, SFX)                                                           \
    int tg_sum_squares_##SFX(const T *const *x, const ptrdiff_t *n, ptrdiff_t count,         \
                             double *out, int isa, int nthreads) {                           \
        T (*dot)(const T *, const T *, ptrdiff_t) = TG_PICK_REDUCE(tg_clamp_isa(isa), dot_##SFX); \
        ptrdiff_t *t, *start, *len, nc = tg_foreach_chunks(n, count, &t, &start, &len);      \
        if (nc < 0) return -1;                                                               \
        double *part = malloc((size_t)(nc + 1) * sizeof(double));                            \
        if (!part) {                                                                         \
            free(t);                                                                         \
            return -1;                                                                       \
        }                                                                                    \
        if (nc < 4) nthreads = 1; /* under 64k numbers: not worth a second thread */         \
        _Pragma("omp parallel for num_threads(nthreads) schedule(static)")                   \
        for (ptrdiff_t c = 0; c < nc; c++) {                                                 \
            const T *p = x[t[c]] + start[c];                                                 \
            part[c] = (double)dot(p, p, len[c]);                                             \
        }                                                                                    \
        for (ptrdiff_t a = 0; a < count; a++) out[a] = 0;                                    \
        for (ptrdiff_t c = 0; c < nc; c++) out[t[c]] += part[c]; /* in order */             \
        free(part);                                                                          \
        free(t);                                                                             \
        return 0;                                                                            \
    }                                                                                        \
    int tg_scale_many_##SFX(T *const *x, const ptrdiff_t *n, ptrdiff_t count, T s, int isa,  \
                            int nthreads) {                                                  \
        void (*scale)(T *, ptrdiff_t, T) = TG_PICK_REDUCE(tg_clamp_isa(isa), scale_##SFX);   \
        ptrdiff_t *t, *start, *len, nc = tg_foreach_chunks(n, count, &t, &start, &len);      \
        if (nc < 0) return -1;                                                               \
        if (nc < 4) nthreads = 1;                                                            \
        _Pragma("omp parallel for num_threads(nthreads) schedule(static)")                   \
        for (ptrdiff_t c = 0; c < nc; c++) scale(x[t[c]] + start[c], len[c], s);             \
        free(t);                                                                             \
        return 0;                                                                            \
    }
TG_FOREACH_DRIVERS(float, f32)
TG_FOREACH_DRIVERS(double, f64)
