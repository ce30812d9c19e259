/* gelu_api.h -- the entry points of gelu.c, written once per dtype (tg_instantiate.h
 * compiles this file for float32 and float64 with tg_dtype.h's names). */

void DNAME(tg_gelu)(const T *x, T *y, ptrdiff_t n, int tanh_form, int isa, int nthreads) {
    void (*fn)(const T *, T *, ptrdiff_t, int) = TG_PICK(tg_clamp_isa(isa), DNAME(gelu));
    int nt = tg_threads_for(n * 8, n, nthreads); /* ~8x the work of a copy */
    ptrdiff_t chunk = TG_CHUNKS(n, nt);
    TG_PARALLEL_FOR(nt, for (ptrdiff_t i = 0; i < n; i += chunk)
                            fn(x + i, y + i, n - i < chunk ? n - i : chunk, tanh_form););
}

void DNAME(tg_gelu_backward)(const T *x, const T *dy, T *dx, ptrdiff_t n, int tanh_form, int isa,
                             int nthreads) {
    void (*fn)(const T *, const T *, T *, ptrdiff_t, int) =
        TG_PICK(tg_clamp_isa(isa), DNAME(gelu_backward));
    int nt = tg_threads_for(n * 8, n, nthreads);
    ptrdiff_t chunk = TG_CHUNKS(n, nt);
    TG_PARALLEL_FOR(nt, for (ptrdiff_t i = 0; i < n; i += chunk)
                            fn(x + i, dy + i, dx + i, n - i < chunk ? n - i : chunk, tanh_form););
}

DNAME(tg_gelu_fn) DNAME(tg_gelu_kernel)(int isa) { return TG_PICK(tg_clamp_isa(isa), DNAME(gelu)); }
