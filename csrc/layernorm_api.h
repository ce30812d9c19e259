/* layernorm_api.h -- the entry points of layernorm.c, written once per dtype
 * (tg_instantiate.h compiles this file for float32 and float64 with tg_dtype.h's names).
 * They choose the ISA variant and split the rows (or vocabulary) between threads
 * (TG_PARALLEL, tg_isa.h: no OpenMP region at all when one thread will do). */

void DNAME(tg_layernorm_fwd)(const T *x, const T *w, const T *b, T *y, T *mean, T *rstd,
                             ptrdiff_t N, ptrdiff_t C, double eps, int isa, int nthreads) {
    isa = tg_clamp_isa(isa);
    int nt = tg_threads_for(N * C, N, nthreads);
    TG_PARALLEL(nt, {
        int t = omp_get_thread_num(), k = omp_get_num_threads();
        ptrdiff_t r0 = N * t / k, r1 = N * (t + 1) / k;
        TG_PICK(isa, DNAME(layernorm_fwd_rows))(x, w, b, y, mean, rstd, r0, r1, C, (T)eps);
    });
}

/* dw/db are reduced from per-thread partial sums in thread order (deterministic). */
int DNAME(tg_layernorm_bwd)(const T *x, const T *w, const T *mean, const T *rstd, const T *dy,
                            T *dx, T *dw, T *db, ptrdiff_t N, ptrdiff_t C, int isa, int nthreads) {
    isa = tg_clamp_isa(isa);
    int nt = tg_threads_for(N * C, N, nthreads);
    T *parts = (T *)calloc((size_t)nt * 2 * (size_t)(C > 0 ? C : 1), sizeof(T));
    if (!parts) return -1;
    TG_PARALLEL(nt, {
        int t = omp_get_thread_num(), k = omp_get_num_threads();
        ptrdiff_t r0 = N * t / k, r1 = N * (t + 1) / k;
        T *dwp = w ? parts + (size_t)t * 2 * C : NULL, *dbp = parts + (size_t)t * 2 * C + C;
        TG_PICK(isa, DNAME(layernorm_bwd_rows))(x, w, mean, rstd, dy, dx, dwp, dbp, r0, r1, C);
    });
    for (ptrdiff_t c = 0; c < C; c++) {
        T sw = 0, sb = 0;
        for (int t = 0; t < nt; t++) {
            sw += parts[(size_t)t * 2 * C + c];
            sb += parts[(size_t)t * 2 * C + C + c];
        }
        if (dw) dw[c] = sw;
        db[c] = sb;
    }
    free(parts);
    return 0;
}

void DNAME(tg_embedding_bwd)(const int64_t *idx, ptrdiff_t n, const T *g, ptrdiff_t D, T *dw,
                             int64_t V_rows, int isa, int nthreads) {
    isa = tg_clamp_isa(isa);
    int nt = tg_threads_for(n * D, V_rows, nthreads);
    TG_PARALLEL(nt, {
        int t = omp_get_thread_num(), k = omp_get_num_threads();
        int64_t v0 = V_rows * t / k, v1 = V_rows * (t + 1) / k;
        TG_PICK(isa, DNAME(embedding_bwd_range))(idx, n, g, D, dw, v0, v1);
    });
}
