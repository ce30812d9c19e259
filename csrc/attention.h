/* attention.h -- fused scaled-dot-product attention, forward and backward
 * (FlashAttention's algorithm on a CPU; attention_impl.h explains it).
 *
 * Shapes (one dtype):  q (N, nT, D), k and v (N, nS, D), out (N, nT, D), lse (N, nT);
 * N = batch * heads, nT queries, nS keys, D features. The plain entry points take
 * C-contiguous arrays; the _views ones find each head's rows through a tg_att_view
 * (below), e.g. inside the GPT's packed (B, T, 3C) activations.
 *
 *   out[n, i] = sum_j softmax_j(scale * q[n, i] . k[n, j]) v[n, j]
 *   lse[n, i] = log sum_j exp(scale * q[n, i] . k[n, j])          (log-sum-exp)
 *
 * over the keys j that query i may look at: all of them, or with `causal` those with
 * j <= i + causal_offset (0: PyTorch's is_causal; nS - nT: new queries after nS - nT
 * cached keys). A query that may look at no key gets out = 0 and lse = -inf.
 * The backward gets dq, dk, dv (shapes of q, k, v) from q, k, v, out, lse and dout.
 * Every function takes `int isa, int nthreads` last (see tg_isa.h) and returns 0, or
 * -1 when its scratch memory could not be allocated. The caller (Python) has checked
 * every shape and the range of causal_offset, and handles sizes of 0.
 */
#ifndef TG_ATTENTION_H
#define TG_ATTENTION_H
#include <stddef.h>

/* Where the rows of each head are, for the _views entry points: head n = b * nh + h
 * (b = n / nh, h = n % nh) starts at element b * sb + h * sh, and its row i is i * ld
 * further; a row's D features are contiguous. (N, T, D) arrays: nh = N, sb = 0,
 * sh = T * D, ld = D. The GPT's packed qkv (B, T, 3C) with C = H * D: q's head (b, h)
 * starts at b * T * 3C + h * D with rows 3C apart (k at +C, v at +2C): nh = H,
 * sb = T * 3C, sh = D, ld = 3C -- so q, k, v are read where c_attn wrote them. */
typedef struct {
    ptrdiff_t nh, sb, sh, ld;
} tg_att_view;

#define TG_ATTENTION_DECLARE(T, SFX)                                                          \
    int tg_attention_forward_##SFX(const T *q, const T *k, const T *v, T *out, T *lse,       \
                                   ptrdiff_t N, ptrdiff_t nT, ptrdiff_t nS, ptrdiff_t D,      \
                                   int causal, ptrdiff_t causal_offset, double scale,         \
                                   int isa, int nthreads);                                    \
    int tg_attention_backward_##SFX(const T *q, const T *k, const T *v, const T *out,        \
                                    const T *lse, const T *dout, T *dq, T *dk, T *dv,         \
                                    ptrdiff_t N, ptrdiff_t nT, ptrdiff_t nS, ptrdiff_t D,     \
                                    int causal, ptrdiff_t causal_offset, double scale,        \
                                    int isa, int nthreads);

#define TG_ATTENTION_VIEWS_DECLARE(T, SFX)                                                    \
    int tg_attention_forward_views_##SFX(const T *q, const T *k, const T *v, T *out, T *lse,  \
                                         ptrdiff_t N, ptrdiff_t nT, ptrdiff_t nS, ptrdiff_t D,\
                                         const tg_att_view views[4], int causal,              \
                                         ptrdiff_t causal_offset, double scale, int isa,      \
                                         int nthreads);                                       \
    int tg_attention_backward_views_##SFX(const T *q, const T *k, const T *v, const T *out,  \
                                          const T *lse, const T *dout, T *dq, T *dk, T *dv,   \
                                          ptrdiff_t N, ptrdiff_t nT, ptrdiff_t nS,            \
                                          ptrdiff_t D, const tg_att_view views[4],            \
                                          int causal, ptrdiff_t causal_offset, double scale,  \
                                          int isa, int nthreads);

/* The same with each tensor's rows where its view says (views: q, k, v, out; dq, dk,
 * dv are written through q's, k's and v's views, dout read through out's). lse is
 * always (N, nT) contiguous. */
TG_ATTENTION_VIEWS_DECLARE(float, f32)
TG_ATTENTION_VIEWS_DECLARE(double, f64)
#undef TG_ATTENTION_VIEWS_DECLARE

TG_ATTENTION_DECLARE(float, f32)
TG_ATTENTION_DECLARE(double, f64)
#undef TG_ATTENTION_DECLARE

/* The bytes of scratch memory one call allocates (all threads together), for the
 * memory accounting of benchmarks/attention.py: backward = 0 for the forward. */
size_t tg_attention_scratch_bytes(ptrdiff_t N, ptrdiff_t nT, ptrdiff_t nS, ptrdiff_t D,
                                  int f64, int backward, int isa, int nthreads);

/* The blocking of one ISA/dtype variant: out[0..3] = query block, key block, rows of
 * the register tile, lanes of the register tile (elements). */
void tg_attention_blocking(int isa, int f64, ptrdiff_t out[4]);

#endif
