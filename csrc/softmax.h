/* softmax.h -- softmax, log-softmax and cross-entropy over the last axis of a
 * C-contiguous (rows, cols) array, forward and backward; and the vector exp itself.
 * Every function takes `int isa, int nthreads` last (see tg_isa.h). */
#ifndef TG_SOFTMAX_H
#define TG_SOFTMAX_H
#include <stddef.h>
#include <stdint.h>

#define TG_SOFTMAX_DECLARE(T, SFX)                                                           \
    /* y = softmax(x) and y = log_softmax(x), row by row */                                 \
    void tg_softmax_##SFX(const T *x, T *y, ptrdiff_t rows, ptrdiff_t cols, int isa,         \
                          int nthreads);                                                     \
    void tg_log_softmax_##SFX(const T *x, T *y, ptrdiff_t rows, ptrdiff_t cols, int isa,     \
                              int nthreads);                                                 \
    /* log_softmax writing y with streaming stores (past the cache): for large outputs */  \
    void tg_log_softmax_stream_##SFX(const T *x, T *y, ptrdiff_t rows, ptrdiff_t cols,       \
                                     int isa, int nthreads);                                 \
    /* dx from the forward output y and the upstream gradient dy */                         \
    void tg_softmax_backward_##SFX(const T *y, const T *dy, T *dx, ptrdiff_t rows,           \
                                   ptrdiff_t cols, int isa, int nthreads);                   \
    void tg_log_softmax_backward_##SFX(const T *y, const T *dy, T *dx, ptrdiff_t rows,       \
                                       ptrdiff_t cols, int isa, int nthreads);               \
    /* Sum of the losses of the rows whose target != ignore_index (count in *n_valid);    \
     * row_max[r] and row_log_sum[r] = log(sum_j exp(x[r,j] - row_max[r])) are saved.    \
     * Targets must be in [0, cols) or equal ignore_index (checked in Python). */         \
    double tg_cross_entropy_##SFX(const T *logits, const int64_t *targets,                  \
                                  int64_t ignore_index, T *row_max, T *row_log_sum,          \
                                  ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t *n_valid,        \
                                  int isa, int nthreads);                                    \
    /* dlogits = scale * (softmax(logits) - onehot(targets)), 0 on ignored rows */          \
    void tg_cross_entropy_backward_##SFX(const T *logits, const int64_t *targets,           \
                                         int64_t ignore_index, const T *row_max,             \
                                         const T *row_log_sum, T scale, T *dlogits,          \
                                         ptrdiff_t rows, ptrdiff_t cols, int isa,            \
                                         int nthreads);                                      \
    /* y = exp(x) with the kernels' vector exp (exposed for the accuracy tests) */          \
    void tg_vexp_##SFX(const T *x, T *y, ptrdiff_t n, int isa, int nthreads);

TG_SOFTMAX_DECLARE(float, f32)
TG_SOFTMAX_DECLARE(double, f64)
#undef TG_SOFTMAX_DECLARE

#endif
