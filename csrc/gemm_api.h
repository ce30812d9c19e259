/* gemm_api.h -- the entry points of gemm.c, written once per dtype (tg_instantiate.h
 * compiles this file for float32 and float64 with tg_dtype.h's names: T, DNAME).
 * They handle the empty cases, pick the ISA variant and hand it the arguments. */

int DNAME(tg_gemm)(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const T *a, ptrdiff_t rsa,
                   ptrdiff_t csa, const T *b, ptrdiff_t rsb, ptrdiff_t csb, T *c, ptrdiff_t ldc,
                   int accumulate, int isa, int nthreads) {
    return DNAME(tg_gemm_batched)(1, M, N, K, a, NULL, rsa, csa, b, NULL, rsb, csb, c, 0, ldc,
                                  accumulate, isa, nthreads);
}

int DNAME(tg_gemm_batched)(ptrdiff_t batch, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const T *a,
                           const ptrdiff_t *a_off, ptrdiff_t rsa, ptrdiff_t csa, const T *b,
                           const ptrdiff_t *b_off, ptrdiff_t rsb, ptrdiff_t csb, T *c,
                           ptrdiff_t c_step, ptrdiff_t ldc, int accumulate, int isa,
                           int nthreads) {
    if (batch <= 0 || M <= 0 || N <= 0) return 0;
    if (K <= 0) { /* an empty sum: C = 0, or C unchanged */
        if (!accumulate)
            for (ptrdiff_t q = 0; q < batch; q++)
                for (ptrdiff_t i = 0; i < M; i++)
                    for (ptrdiff_t j = 0; j < N; j++) c[q * c_step + i * ldc + j] = 0;
        return 0;
    }
    if (nthreads < 1) nthreads = 1;
    DNAME(tg_gemm_args) p = {M, N, K, a, rsa, csa, b, rsb, csb, c, ldc, accumulate};
    isa = tg_clamp_isa(isa);
    if (batch == 1 && !a_off) return TG_PICK(isa, DNAME(gemm))(&p, nthreads);
    return TG_PICK(isa, DNAME(gemm_batched))(batch, &p, a_off, b_off, c_step, nthreads);
}

int DNAME(tg_gemm_fused)(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const T *a, ptrdiff_t rsa,
                         ptrdiff_t csa, const T *b, ptrdiff_t rsb, ptrdiff_t csb, T *c,
                         const T *bias, const T *resid, T *pre, int act, int isa, int nthreads) {
    if (M <= 0 || N <= 0) return 0;
    if (nthreads < 1) nthreads = 1;
    isa = tg_clamp_isa(isa);
    DNAME(tg_gemm_args) p = {M, N, K, a, rsa, csa, b, rsb, csb, c, N, 0,
                             bias, resid, pre, act ? DNAME(tg_gelu_kernel)(isa) : NULL, act == 2};
    if (K <= 0) { /* an empty sum: C = 0, then the epilogue */
        for (ptrdiff_t i = 0; i < M * N; i++) c[i] = 0;
        TG_PICK(isa, DNAME(epilogue))(&p, c, N, 0, 0, M, N);
        return 0;
    }
    return TG_PICK(isa, DNAME(gemm))(&p, nthreads);
}
