/* naive.h -- every kernel family as plain C: the middle rung between the NumPy twins
 * (tinygrad_edu/kernels/reference.py) and the SIMD + threads kernels.
 *
 * One thread, scalar loops, no intrinsics, no blocking: the math of the twin written as
 * loops, in the style of llm.c. Arrays are C-contiguous; shapes are in the comments.
 * Functions that allocate return 0, or -1 when out of memory. */
#ifndef TG_NAIVE_H
#define TG_NAIVE_H
#include <stddef.h>
#include <stdint.h>

#define TG_NAIVE_DECLARE(T, SFX)                                                             \
    /* x, y: (rows, cols); y = softmax(x) or log_softmax(x) over each row */                \
    void tg_softmax_naive_##SFX(const T *x, T *y, ptrdiff_t rows, ptrdiff_t cols, int log_form); \
    /* logits (rows, cols), targets (rows,): the sum of -log p[target] over the rows whose  \
     * target is not ignore_index (their count in *n_valid); row_max, row_log_sum (rows,) */ \
    double tg_cross_entropy_naive_##SFX(const T *logits, const int64_t *targets,             \
                                        int64_t ignore_index, T *row_max, T *row_log_sum,    \
                                        ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t *n_valid);  \
    /* dlogits (rows, cols) = scale * (softmax(logits) - onehot(targets)), 0 if ignored */  \
    void tg_cross_entropy_backward_naive_##SFX(const T *logits, const int64_t *targets,      \
                                               int64_t ignore_index, const T *row_max,       \
                                               const T *row_log_sum, T scale, T *dlogits,    \
                                               ptrdiff_t rows, ptrdiff_t cols);              \
    /* x, y (N, C); w, b (C,) or NULL; mean, rstd (N,) */                                   \
    void tg_layernorm_fwd_naive_##SFX(const T *x, const T *w, const T *b, T *y, T *mean,     \
                                      T *rstd, ptrdiff_t N, ptrdiff_t C, double eps);        \
    /* dx (N, C); dw (C,) or NULL (no weight), db (C,): written, not accumulated */         \
    void tg_layernorm_bwd_naive_##SFX(const T *x, const T *w, const T *mean, const T *rstd,  \
                                      const T *dy, T *dx, T *dw, T *db, ptrdiff_t N,         \
                                      ptrdiff_t C);                                          \
    /* y = GELU(x), dx = dy * GELU'(x), n elements; tanh_form: GPT-2's approximation */     \
    void tg_gelu_naive_##SFX(const T *x, T *y, ptrdiff_t n, int tanh_form);                  \
    void tg_gelu_backward_naive_##SFX(const T *x, const T *dy, T *dx, ptrdiff_t n,           \
                                      int tanh_form);                                        \
    /* x (N, K), w (M, K), bias (M,) | NULL, resid (N, M) | NULL -> y (N, M):             \
     * h = x w^T + bias + resid, pre = h (if not NULL), y = GELU(h) (act 1, 2) or h (0) */ \
    void tg_linear_naive_##SFX(const T *x, const T *w, const T *bias, const T *resid,      \
                               T *pre, T *y, ptrdiff_t N, ptrdiff_t K, ptrdiff_t M,         \
                               int act);                                                    \
    /* q (N, nT, D), k and v (N, nS, D) -> out (N, nT, D), lse (N, nT) */                  \
    int tg_attention_forward_naive_##SFX(const T *q, const T *k, const T *v, T *out, T *lse, \
                                         ptrdiff_t N, ptrdiff_t nT, ptrdiff_t nS,            \
                                         ptrdiff_t D, int causal, ptrdiff_t causal_offset,   \
                                         double scale);                                      \
    /* dq (N, nT, D), dk and dv (N, nS, D) from out, lse and dout */                        \
    void tg_attention_backward_naive_##SFX(const T *q, const T *k, const T *v, const T *out, \
                                           const T *lse, const T *dout, T *dq, T *dk, T *dv, \
                                           ptrdiff_t N, ptrdiff_t nT, ptrdiff_t nS,          \
                                           ptrdiff_t D, int causal,                          \
                                           ptrdiff_t causal_offset, double scale);           \
    /* Adam (decoupled = 0) or AdamW (1), in place on p, m, v (n,); step counts from 1 */   \
    void tg_adam_naive_##SFX(T *p, const T *g, T *m, T *v, ptrdiff_t n, double lr,           \
                             double beta1, double beta2, double eps, double weight_decay,    \
                             long long step, int decoupled);                                 \
    /* SGD in place on p and buf (n,; NULL when momentum == 0) */                           \
    void tg_sgd_naive_##SFX(T *p, const T *g, T *buf, ptrdiff_t n, double lr,                \
                            double momentum, double dampening, double weight_decay,          \
                            int nesterov, int first);

TG_NAIVE_DECLARE(float, f32)
TG_NAIVE_DECLARE(double, f64)
#undef TG_NAIVE_DECLARE

#endif
