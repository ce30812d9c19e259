/* optim.h -- fused optimizer updates: one pass over parameter, gradient and state.
 *
 * An optimizer step written with array operations reads and writes every weight
 * five to ten times (one pass per operation, each through memory). These kernels
 * make ONE pass: each element of p, g, m and v is loaded once, updated in
 * registers, and stored once. The math is PyTorch's, operation for operation
 * (see the NumPy twins adam_update / sgd_update in tinygrad_edu/kernels/reference.py).
 */
#ifndef TG_OPTIM_H
#define TG_OPTIM_H
#include <stddef.h>

/* Adam (decoupled = 0: weight decay is L2, added to the gradient) and
 * AdamW (decoupled = 1: p *= 1 - lr * weight_decay), in place on p, m, v.
 * `step` counts from 1 (the bias corrections use it). */
void tg_adam_f32(float *p, const float *g, float *m, float *v, ptrdiff_t n, double lr,
                 double beta1, double beta2, double eps, double weight_decay, long long step,
                 int decoupled, int isa, int nthreads);
void tg_adam_f64(double *p, const double *g, double *m, double *v, ptrdiff_t n, double lr,
                 double beta1, double beta2, double eps, double weight_decay, long long step,
                 int decoupled, int isa, int nthreads);

/* SGD with optional L2 weight decay, momentum (buf, may be NULL when momentum == 0),
 * dampening and Nesterov momentum, in place on p and buf. `first` = the first step,
 * when PyTorch starts the momentum buffer as a copy of the gradient. */
void tg_sgd_f32(float *p, const float *g, float *buf, ptrdiff_t n, double lr, double momentum,
                double dampening, double weight_decay, int nesterov, int first, int isa,
                int nthreads);
void tg_sgd_f64(double *p, const double *g, double *buf, ptrdiff_t n, double lr, double momentum,
                double dampening, double weight_decay, int nesterov, int first, int isa,
                int nthreads);
#endif
