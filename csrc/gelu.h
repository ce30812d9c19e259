/* gelu.h -- GELU and its derivative, element-wise over n contiguous numbers.
 * tanh_form = 0: the exact x * Phi(x); 1: the tanh approximation. See gelu_impl.h. */
#ifndef TG_GELU_H
#define TG_GELU_H
#include <stddef.h>

void tg_gelu_f32(const float *x, float *y, ptrdiff_t n, int tanh_form, int isa, int nthreads);
void tg_gelu_f64(const double *x, double *y, ptrdiff_t n, int tanh_form, int isa, int nthreads);
/* dx = dy * GELU'(x) */
void tg_gelu_backward_f32(const float *x, const float *dy, float *dx, ptrdiff_t n,
                          int tanh_form, int isa, int nthreads);
void tg_gelu_backward_f64(const double *x, const double *dy, double *dx, ptrdiff_t n,
                          int tanh_form, int isa, int nthreads);

/* The one-thread kernel of an ISA, y = GELU(x) on n numbers, for a caller that applies
 * GELU piece by piece (gemm's fused epilogue, on each tile of C as it is written). */
typedef void (*tg_gelu_fn_f32)(const float *x, float *y, ptrdiff_t n, int tanh_form);
typedef void (*tg_gelu_fn_f64)(const double *x, double *y, ptrdiff_t n, int tanh_form);
tg_gelu_fn_f32 tg_gelu_kernel_f32(int isa);
tg_gelu_fn_f64 tg_gelu_kernel_f64(int isa);

#endif
