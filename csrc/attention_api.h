/* attention_api.h -- the entry points of attention.c, written once per dtype
 * (tg_instantiate.h compiles this file for float32 and float64 with tg_dtype.h's names).
 * They fill in the arguments, choose how many threads, pick the ISA variant and call it.
 * The _views forms take where each head's rows are (attention.h); the plain forms are
 * for dense (N, T, D) arrays. */

int DNAME(tg_attention_forward_views)(const T *q, const T *k, const T *v, T *out, T *lse,
                                      ptrdiff_t N, ptrdiff_t nT, ptrdiff_t nS, ptrdiff_t D,
                                      const tg_att_view views[4], int causal,
                                      ptrdiff_t causal_offset, double scale, int isa,
                                      int nthreads) {
    DNAME(att_args) p = {q, k, v, out, lse, NULL, NULL, NULL, NULL, NULL, NULL,
                         N, nT, nS, D, causal_offset, views[0], views[1], views[2], views[3],
                         causal, scale};
    int by_heads, nt = att_threads(N, nT, nS, D, 0, nthreads, &by_heads);
    if (N <= 0 || nT <= 0 || D <= 0) return 0; /* Python handles sizes of 0 */
    return TG_PICK(tg_clamp_isa(isa), DNAME(forward))(&p, nt);
}

int DNAME(tg_attention_backward_views)(const T *q, const T *k, const T *v, const T *out,
                                       const T *lse, const T *dout, T *dq, T *dk, T *dv,
                                       ptrdiff_t N, ptrdiff_t nT, ptrdiff_t nS, ptrdiff_t D,
                                       const tg_att_view views[4], int causal,
                                       ptrdiff_t causal_offset, double scale, int isa,
                                       int nthreads) {
    DNAME(att_args) p = {q, k, v, NULL, NULL, out, lse, dout, dq, dk, dv,
                         N, nT, nS, D, causal_offset, views[0], views[1], views[2], views[3],
                         causal, scale};
    int by_heads, nt = att_threads(N, nT, nS, D, 1, nthreads, &by_heads);
    if (N <= 0 || nT <= 0 || nS <= 0 || D <= 0) return 0;
    return TG_PICK(tg_clamp_isa(isa), DNAME(backward))(&p, nt, by_heads);
}

int DNAME(tg_attention_forward)(const T *q, const T *k, const T *v, T *out, T *lse, ptrdiff_t N,
                                ptrdiff_t nT, ptrdiff_t nS, ptrdiff_t D, int causal,
                                ptrdiff_t causal_offset, double scale, int isa, int nthreads) {
    tg_att_view views[4] = {att_dense(N, nT, D), att_dense(N, nS, D), att_dense(N, nS, D),
                            att_dense(N, nT, D)};
    return DNAME(tg_attention_forward_views)(q, k, v, out, lse, N, nT, nS, D, views, causal,
                                             causal_offset, scale, isa, nthreads);
}

int DNAME(tg_attention_backward)(const T *q, const T *k, const T *v, const T *out, const T *lse,
                                 const T *dout, T *dq, T *dk, T *dv, ptrdiff_t N, ptrdiff_t nT,
                                 ptrdiff_t nS, ptrdiff_t D, int causal, ptrdiff_t causal_offset,
                                 double scale, int isa, int nthreads) {
    tg_att_view views[4] = {att_dense(N, nT, D), att_dense(N, nS, D), att_dense(N, nS, D),
                            att_dense(N, nT, D)};
    return DNAME(tg_attention_backward_views)(q, k, v, out, lse, dout, dq, dk, dv, N, nT, nS, D,
                                              views, causal, causal_offset, scale, isa, nthreads);
}
