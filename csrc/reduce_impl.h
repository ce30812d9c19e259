/* reduce_impl.h -- dot product, column sums, the elementwise sum and the rescale, written
 * once for every ISA and dtype (reduce.c compiles it through tg_instantiate.h; T, V, W,
 * VLOAD, ... are tg_dtype.h's names). */

/* dot(x, y) = sum_i x[i] * y[i]
 * Four vector accumulators: an FMA takes 4 cycles, so one accumulator would make
 * every step wait for the previous one; four independent chains keep it busy. */
static T DFN(dot)(const T *x, const T *y, ptrdiff_t n) {
    V acc0 = {0}, acc1 = {0}, acc2 = {0}, acc3 = {0};
    ptrdiff_t i = 0;
    for (; i + 4 * W <= n; i += 4 * W) {
        acc0 += VLOAD(x + i) * VLOAD(y + i);
        acc1 += VLOAD(x + i + W) * VLOAD(y + i + W);
        acc2 += VLOAD(x + i + 2 * W) * VLOAD(y + i + 2 * W);
        acc3 += VLOAD(x + i + 3 * W) * VLOAD(y + i + 3 * W);
    }
    for (; i + W <= n; i += W) acc0 += VLOAD(x + i) * VLOAD(y + i);
    T s = DFN(hsum)((acc0 + acc1) + (acc2 + acc3)); /* the lanes, left to right */
    for (; i < n; i++) s += x[i] * y[i]; /* the tail that does not fill a vector */
    return s;
}

/* out[c] (+)= sum_r x[r, c] for columns [c0, c1) of a (rows, cols) matrix whose rows
 * are `ld` elements apart. This is how a bias gradient is made: the bias was
 * broadcast over every row in forward, so its gradient sums the rows in backward.
 * We walk down the rows with a vector of columns, so every load is contiguous. */
static void DFN(colsum)(const T *x, ptrdiff_t rows, ptrdiff_t ld, ptrdiff_t c0, ptrdiff_t c1,
                        T *out, int accumulate) {
    ptrdiff_t c = c0;
    for (; c + W <= c1; c += W) {
        V acc = accumulate ? VLOAD(out + c) : (V){0};
        for (ptrdiff_t r = 0; r < rows; r++) acc += VLOAD(x + r * ld + c);
        VSTORE(out + c, acc);
    }
    for (; c < c1; c++) {
        T acc = accumulate ? out[c] : (T)0;
        for (ptrdiff_t r = 0; r < rows; r++) acc += x[r * ld + c];
        out[c] = acc;
    }
}

/* out[i] = a[i] + b[i] for i in [0, n): the residual stream's `x + f(x)` in forward, and
 * in backward the sum of the gradients that reach one tensor along two paths. The
 * simplest kernel there is; it is here because NumPy runs it on one core, and on
 * arrays that no longer sit in this core's cache (a 768 x 128 activation made a
 * layer ago) one core cannot pull the bytes in as fast as two. (out may be a.) */
static void DFN(add)(const T *a, const T *b, T *out, ptrdiff_t n) {
    ptrdiff_t i = 0;
    for (; i + W <= n; i += W) VSTORE(out + i, VLOAD(a + i) + VLOAD(b + i));
    for (; i < n; i++) out[i] = a[i] + b[i];
}

/* x[i] *= s for i in [0, n): gradient clipping's rescale. */
static void DFN(scale)(T *x, ptrdiff_t n, T s) {
    ptrdiff_t i = 0;
    for (; i + W <= n; i += W) VSTORE(x + i, VLOAD(x + i) * VSPLAT(s));
    for (; i < n; i++) x[i] *= s;
}
