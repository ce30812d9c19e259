/* reduce_api.h -- the entry points of reduce.c, written once per dtype (tg_instantiate.h
 * compiles this file for float32 and float64 with tg_dtype.h's names). */

T DNAME(tg_dot)(const T *x, const T *y, ptrdiff_t n, int isa) {
    return TG_PICK(tg_clamp_isa(isa), DNAME(dot))(x, y, n);
}

/* Threads split the columns into contiguous chunks (a multiple of 16, one cache
 * line of floats, so no two threads write the same line). */
void DNAME(tg_colsum)(const T *x, ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t ld, T *out,
                      int accumulate, int isa, int nthreads) {
    void (*colsum)(const T *, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, T *, int) =
        TG_PICK(tg_clamp_isa(isa), DNAME(colsum));
    if (rows * cols < 65536) nthreads = 1; /* too little work to wake threads */
    ptrdiff_t chunk = (cols + nthreads - 1) / nthreads;
    chunk = (chunk + 15) / 16 * 16;
    TG_PARALLEL_FOR(nthreads, for (ptrdiff_t c0 = 0; c0 < cols; c0 += chunk) {
        ptrdiff_t c1 = c0 + chunk < cols ? c0 + chunk : cols;
        colsum(x, rows, ld, c0, c1, out, accumulate);
    });
}

/* Threads take contiguous chunks, each a whole number of cache lines (16 floats or
 * 8 doubles) so that no two threads write the same line. Below 64k numbers one
 * thread does it all: waking the other costs more than it saves. */
void DNAME(tg_add)(const T *a, const T *b, T *out, ptrdiff_t n, int isa, int nthreads) {
    void (*add)(const T *, const T *, T *, ptrdiff_t) = TG_PICK(tg_clamp_isa(isa), DNAME(add));
    const ptrdiff_t line = 64 / (ptrdiff_t)sizeof(T);
    if (n < 65536) nthreads = 1;
    ptrdiff_t chunk = (n + nthreads - 1) / nthreads;
    chunk = (chunk + line - 1) / line * line;
    TG_PARALLEL_FOR(nthreads, for (ptrdiff_t i0 = 0; i0 < n; i0 += chunk) {
        ptrdiff_t len = i0 + chunk < n ? chunk : n - i0;
        add(a + i0, b + i0, out + i0, len);
    });
}

/* out[a] = sum of squares of array a, in double: its chunks' sums, added in order. */
int DNAME(tg_sum_squares)(const T *const *x, const ptrdiff_t *n, ptrdiff_t count, double *out,
                          int isa, int nthreads) {
    T (*dot)(const T *, const T *, ptrdiff_t) = TG_PICK(tg_clamp_isa(isa), DNAME(dot));
    ptrdiff_t *t, *start, *len, nc = tg_foreach_chunks(n, count, &t, &start, &len);
    if (nc < 0) return -1;
    double *part = malloc((size_t)(nc + 1) * sizeof(double));
    if (!part) {
        free(t);
        return -1;
    }
    if (nc < 4) nthreads = 1; /* under 64k numbers: not worth a second thread */
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (ptrdiff_t c = 0; c < nc; c++) {
        const T *p = x[t[c]] + start[c];
        part[c] = (double)dot(p, p, len[c]);
    }
    for (ptrdiff_t a = 0; a < count; a++) out[a] = 0;
    for (ptrdiff_t c = 0; c < nc; c++) out[t[c]] += part[c]; /* in order */
    free(part);
    free(t);
    return 0;
}

int DNAME(tg_scale_many)(T *const *x, const ptrdiff_t *n, ptrdiff_t count, T s, int isa,
                         int nthreads) {
    void (*scale)(T *, ptrdiff_t, T) = TG_PICK(tg_clamp_isa(isa), DNAME(scale));
    ptrdiff_t *t, *start, *len, nc = tg_foreach_chunks(n, count, &t, &start, &len);
    if (nc < 0) return -1;
    if (nc < 4) nthreads = 1;
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (ptrdiff_t c = 0; c < nc; c++) scale(x[t[c]] + start[c], len[c], s);
    free(t);
    return 0;
}
