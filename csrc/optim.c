/* optim.c -- the ISA x dtype copies of optim_impl.h and the entry points that pick one.
 *
 * An entry point computes the step's scalar coefficients once, in double precision
 * (as PyTorch does in Python), rounds them to the parameter's dtype, and runs the
 * kernel over the whole tensor -- or, for a large tensor, over chunks, one per
 * thread. The update of each element depends only on that element, so chunks are
 * independent; each chunk is a multiple of 64 elements (whole cache lines, so no two
 * threads write the same line). */
#include <math.h>

#include "optim.h"
#include "tg_isa.h"
#if TG_X86
#include <immintrin.h>
#endif

/* No fused multiply-add contraction: each * and + rounds on its own, as in NumPy and
 * PyTorch, so the kernels give the twin's numbers bit for bit. (GCC in -std=c11
 * mode does not contract; clang needs telling.) */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* The scalar coefficients of one step, rounded to the parameters' dtype (optim_api.h). */
#define TG_ADAM_COEF_STRUCT(T)                                                                \
    {                                                                                         \
        T l2, decay, one_minus_beta1, beta2, one_minus_beta2, bc2_sqrt, eps, neg_step_size;   \
        int use_l2, use_decay;                                                                \
    }
#define TG_SGD_COEF_STRUCT(T)                                                                 \
    {                                                                                         \
        T l2, momentum, one_minus_dampening, neg_lr;                                          \
        int use_l2, nesterov, first;                                                          \
    }
typedef struct TG_ADAM_COEF_STRUCT(float) tg_adam_coef_f32;
typedef struct TG_ADAM_COEF_STRUCT(double) tg_adam_coef_f64;
typedef struct TG_SGD_COEF_STRUCT(float) tg_sgd_coef_f32;
typedef struct TG_SGD_COEF_STRUCT(double) tg_sgd_coef_f64;

/* Threads only for tensors of >= 32k elements (128 KB of float32), as the other
 * kernels do (tg_threads_for): an update is a few memory passes, so below that a
 * second thread saves less than waking it costs. (A much larger threshold, chosen for
 * fear of a busy machine where a parallel region can wait a scheduler time slice for its
 * second thread, would leave the GPT recipe's weights, 16k-66k elements each, all updated
 * on one core while the other waits.) */
#define TG_OPTIM_PARALLEL_MIN (1 << 15)

/* Run kernel(pointers..., i0, i1, &c) over [0, n): directly on one thread, or in
 * chunks of whole cache lines, one per OpenMP thread. */
#define TG_OPTIM_RUN(kernel, ...)                                                  \
    do {                                                                           \
        if (n < TG_OPTIM_PARALLEL_MIN || nthreads <= 1) {                          \
            kernel(__VA_ARGS__, 0, n, &c);                                         \
        } else {                                                                   \
            ptrdiff_t chunk = (n + nthreads - 1) / nthreads;                       \
            chunk = (chunk + 63) / 64 * 64;                                        \
            _Pragma("omp parallel for num_threads(nthreads) schedule(static)")     \
            for (ptrdiff_t s = 0; s < n; s += chunk) {                             \
                ptrdiff_t e = s + chunk < n ? s + chunk : n;                       \
                kernel(__VA_ARGS__, s, e, &c);                                     \
            }                                                                      \
        }                                                                          \
    } while (0)

/* The coefficients of one Adam step, as torch.optim.Adam computes them:
 *   bias_correction1 = 1 - beta1^step, bias_correction2 = 1 - beta2^step
 *   step_size = lr / bias_correction1, and sqrt(bias_correction2) divides sqrt(v).
 * The bias corrections undo the pull towards 0 of m and v, which start at 0. */
#define TG_ADAM_COEFS(T, c)                                                        \
    c.use_l2 = !decoupled && weight_decay != 0.0;                                  \
    c.use_decay = decoupled && weight_decay != 0.0;                                \
    c.l2 = (T)weight_decay;                                                        \
    c.decay = (T)(1.0 - lr * weight_decay);                                        \
    c.one_minus_beta1 = (T)(1.0 - beta1);                                          \
    c.beta2 = (T)beta2;                                                            \
    c.one_minus_beta2 = (T)(1.0 - beta2);                                          \
    c.bc2_sqrt = (T)sqrt(1.0 - pow(beta2, (double)step));                          \
    c.eps = (T)eps;                                                                \
    c.neg_step_size = (T)(-(lr / (1.0 - pow(beta1, (double)step))));

#define TG_SGD_COEFS(T, c)                                                         \
    c.use_l2 = weight_decay != 0.0;                                                \
    c.l2 = (T)weight_decay;                                                        \
    c.momentum = (T)momentum;                                                      \
    c.one_minus_dampening = (T)(1.0 - dampening);                                  \
    c.neg_lr = (T)(-lr);                                                           \
    c.nesterov = nesterov;                                                         \
    c.first = first;

#define TG_TEMPLATE "optim_impl.h"
#define TG_API "optim_api.h"
#include "tg_instantiate.h"
