/* reduce.h -- dot product, column sums (the bias-gradient reduction) and the elementwise
 * sum (residual connections, and gradients meeting in backward). */
#ifndef TG_REDUCE_H
#define TG_REDUCE_H
#include <stddef.h>
float tg_dot_f32(const float *x, const float *y, ptrdiff_t n, int isa);
double tg_dot_f64(const double *x, const double *y, ptrdiff_t n, int isa);
/* out[c] (+)= sum over rows of x[r, c]; x is (rows, cols) with row stride ld. */
void tg_colsum_f32(const float *x, ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t ld, float *out,
                   int accumulate, int isa, int nthreads);
void tg_colsum_f64(const double *x, ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t ld, double *out,
                   int accumulate, int isa, int nthreads);
/* Many arrays at once ("foreach", as PyTorch's gradient clipping does it): x[t] has n[t]
 * numbers. sum_squares: out[t] = sum_i x[t][i]^2 (in double). scale: x[t][i] *= s.
 * Return 0, or -1 if out of memory. */
int tg_sum_squares_f32(const float *const *x, const ptrdiff_t *n, ptrdiff_t count, double *out,
                       int isa, int nthreads);
int tg_sum_squares_f64(const double *const *x, const ptrdiff_t *n, ptrdiff_t count, double *out,
                       int isa, int nthreads);
int tg_scale_many_f32(float *const *x, const ptrdiff_t *n, ptrdiff_t count, float s, int isa,
                      int nthreads);
int tg_scale_many_f64(double *const *x, const ptrdiff_t *n, ptrdiff_t count, double s, int isa,
                      int nthreads);
/* out = a + b, elementwise, n numbers; out may be a (or b). */
void tg_add_f32(const float *a, const float *b, float *out, ptrdiff_t n, int isa, int nthreads);
void tg_add_f64(const double *a, const double *b, double *out, ptrdiff_t n, int isa, int nthreads);
#endif
