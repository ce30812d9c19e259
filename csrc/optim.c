/* optim.c -- the ISA variants of optim_impl.h and the entry points that pick one.
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

typedef struct {
    float l2, decay, one_minus_beta1, beta2, one_minus_beta2, bc2_sqrt, eps, neg_step_size;
    int use_l2, use_decay;
} tg_adam_coef_f32;
typedef struct {
    double l2, decay, one_minus_beta1, beta2, one_minus_beta2, bc2_sqrt, eps, neg_step_size;
    int use_l2, use_decay;
} tg_adam_coef_f64;
typedef struct {
    float l2, momentum, one_minus_dampening, neg_lr;
    int use_l2, nesterov, first;
} tg_sgd_coef_f32;
typedef struct {
    double l2, momentum, one_minus_dampening, neg_lr;
    int use_l2, nesterov, first;
} tg_sgd_coef_f64;

#define TG_SUFFIX base
#define TG_VEC_BYTES 16
#include "optim_impl.h"

#if TG_X86
TG_BEGIN_TARGET_AVX2
#define TG_SUFFIX avx2
#define TG_VEC_BYTES 32
#include "optim_impl.h"
TG_END_TARGET

TG_BEGIN_TARGET_AVX512
#define TG_SUFFIX avx512
#define TG_VEC_BYTES 64
#include "optim_impl.h"
TG_END_TARGET
#endif

/* Threads only for tensors of >= 32k elements (128 KB of float32), as the other
 * kernels do (tg_threads_for): an update is a few memory passes, so below that a
 * second thread saves less than waking it costs. (This was 256k, for fear of a busy
 * machine, where a parallel region can wait a scheduler time slice for its second
 * thread; but then the GPT recipe's weights, 16k-66k each, were all updated on one
 * core while the other waited: at 32k its training step is 1.6% faster.) */
#define TG_OPTIM_PARALLEL_MIN (1 << 15)

/* Run NAME_<isa>(pointers..., i0, i1, &c) over [0, n): directly on one thread, or in
 * chunks of whole cache lines, one per OpenMP thread. */
#if TG_X86
#define TG_OPTIM_DISPATCH(NAME, ...)                                               \
    if (isa == TG_ISA_AVX512) NAME##_avx512(__VA_ARGS__);                          \
    else if (isa == TG_ISA_AVX2) NAME##_avx2(__VA_ARGS__);                         \
    else NAME##_base(__VA_ARGS__);
#else
#define TG_OPTIM_DISPATCH(NAME, ...) NAME##_base(__VA_ARGS__);
#endif

#define TG_OPTIM_RUN(NAME, ...)                                                    \
    do {                                                                           \
        isa = tg_clamp_isa(isa);                                                   \
        if (n < TG_OPTIM_PARALLEL_MIN || nthreads <= 1) {                          \
            TG_OPTIM_DISPATCH(NAME, __VA_ARGS__, 0, n, &c)                         \
        } else {                                                                   \
            ptrdiff_t chunk = (n + nthreads - 1) / nthreads;                       \
            chunk = (chunk + 63) / 64 * 64;                                        \
            _Pragma("omp parallel for num_threads(nthreads) schedule(static)")     \
            for (ptrdiff_t s = 0; s < n; s += chunk) {                             \
                ptrdiff_t e = s + chunk < n ? s + chunk : n;                       \
                TG_OPTIM_DISPATCH(NAME, __VA_ARGS__, s, e, &c)                     \
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

void tg_adam_f32(float *p, const float *g, float *m, float *v, ptrdiff_t n, double lr,
                 double beta1, double beta2, double eps, double weight_decay, long long step,
                 int decoupled, int isa, int nthreads) {
    tg_adam_coef_f32 c;
    TG_ADAM_COEFS(float, c)
    TG_OPTIM_RUN(adam_f32, p, g, m, v);
}

void tg_adam_f64(double *p, const double *g, double *m, double *v, ptrdiff_t n, double lr,
                 double beta1, double beta2, double eps, double weight_decay, long long step,
                 int decoupled, int isa, int nthreads) {
    tg_adam_coef_f64 c;
    TG_ADAM_COEFS(double, c)
    TG_OPTIM_RUN(adam_f64, p, g, m, v);
}

#define TG_SGD_COEFS(T, c)                                                         \
    c.use_l2 = weight_decay != 0.0;                                                \
    c.l2 = (T)weight_decay;                                                        \
    c.momentum = (T)momentum;                                                      \
    c.one_minus_dampening = (T)(1.0 - dampening);                                  \
    c.neg_lr = (T)(-lr);                                                           \
    c.nesterov = nesterov;                                                         \
    c.first = first;

void tg_sgd_f32(float *p, const float *g, float *buf, ptrdiff_t n, double lr, double momentum,
                double dampening, double weight_decay, int nesterov, int first, int isa,
                int nthreads) {
    tg_sgd_coef_f32 c;
    TG_SGD_COEFS(float, c)
    TG_OPTIM_RUN(sgd_f32, p, g, buf);
}

void tg_sgd_f64(double *p, const double *g, double *buf, ptrdiff_t n, double lr, double momentum,
                double dampening, double weight_decay, int nesterov, int first, int isa,
                int nthreads) {
    tg_sgd_coef_f64 c;
    TG_SGD_COEFS(double, c)
    TG_OPTIM_RUN(sgd_f64, p, g, buf);
}
