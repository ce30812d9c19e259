/* optim_impl.h -- Adam/AdamW and SGD updates, written once for every ISA.
 * Included by optim.c with TG_SUFFIX and TG_VEC_BYTES set; see tg_isa.h.
 *
 * Each kernel walks its chunk once: load p, g (and m, v or buf), update in
 * registers, store. The operations and their order are PyTorch's, so the same
 * float32 roundings happen and the results agree with torch.optim to the last bit
 * or two. The scalar coefficients (bias corrections, 1 - beta, ...) are computed
 * once per call in double precision by the driver in optim.c, as PyTorch computes
 * them in Python floats. */
#include "tg_vec.h"

/* The square root of every lane. GCC's vector extension has no sqrt operator, so
 * on x86 we use the one-instruction intrinsic of each width (correctly rounded,
 * exactly like sqrtf); elsewhere a lane-by-lane loop. */
static inline VF32 TG_FN(vsqrt_f32)(VF32 x) {
#if TG_X86 && TG_VEC_BYTES == 64
    return (VF32)_mm512_sqrt_ps((__m512)x);
#elif TG_X86 && TG_VEC_BYTES == 32
    return (VF32)_mm256_sqrt_ps((__m256)x);
#elif TG_X86
    return (VF32)_mm_sqrt_ps((__m128)x);
#else
    for (int k = 0; k < W32; k++) x[k] = __builtin_sqrtf(x[k]);
    return x;
#endif
}

static inline VF64 TG_FN(vsqrt_f64)(VF64 x) {
#if TG_X86 && TG_VEC_BYTES == 64
    return (VF64)_mm512_sqrt_pd((__m512d)x);
#elif TG_X86 && TG_VEC_BYTES == 32
    return (VF64)_mm256_sqrt_pd((__m256d)x);
#elif TG_X86
    return (VF64)_mm_sqrt_pd((__m128d)x);
#else
    for (int k = 0; k < W64; k++) x[k] = __builtin_sqrt(x[k]);
    return x;
#endif
}

/* Adam / AdamW for elements [i0, i1) (one thread's chunk):
 *   g  = g + l2 * p                          (Adam's weight decay: part of the gradient)
 *   p  = p * decay                           (AdamW's: decay = 1 - lr * weight_decay)
 *   m  = m + (1 - beta1) * (g - m)           running mean of g      (= beta1 m + (1-beta1) g)
 *   v  = v * beta2 + (1 - beta2) * g * g     running mean of g^2
 *   p  = p + (-step_size) * m / (sqrt(v) / sqrt(bias_correction2) + eps)
 * The same lines twice: a vector of W32 lanes at a time, then the scalar tail. */
static void TG_FN(adam_f32)(float *restrict p, const float *restrict g, float *restrict m,
                            float *restrict v, ptrdiff_t i0, ptrdiff_t i1, const tg_adam_coef_f32 *c) {
    const VF32 l2 = TG_FN(splat_f32)(c->l2), decay = TG_FN(splat_f32)(c->decay);
    const VF32 omb1 = TG_FN(splat_f32)(c->one_minus_beta1), b2 = TG_FN(splat_f32)(c->beta2);
    const VF32 omb2 = TG_FN(splat_f32)(c->one_minus_beta2);
    const VF32 bc2 = TG_FN(splat_f32)(c->bc2_sqrt), eps = TG_FN(splat_f32)(c->eps);
    const VF32 nstep = TG_FN(splat_f32)(c->neg_step_size);
    ptrdiff_t i = i0;
    for (; i + W32 <= i1; i += W32) {
        VF32 pi = TG_FN(load_f32)(p + i), gi = TG_FN(load_f32)(g + i);
        VF32 mi = TG_FN(load_f32)(m + i), vi = TG_FN(load_f32)(v + i);
        if (c->use_l2) gi = gi + l2 * pi;
        if (c->use_decay) pi = pi * decay;
        mi = mi + omb1 * (gi - mi);
        vi = vi * b2 + omb2 * gi * gi;
        VF32 denom = TG_FN(vsqrt_f32)(vi) / bc2 + eps;
        pi = pi + nstep * mi / denom;
        TG_FN(store_f32)(m + i, mi);
        TG_FN(store_f32)(v + i, vi);
        TG_FN(store_f32)(p + i, pi);
    }
    for (; i < i1; i++) { /* the tail that does not fill a vector */
        float pi = p[i], gi = g[i], mi = m[i], vi = v[i];
        if (c->use_l2) gi = gi + c->l2 * pi;
        if (c->use_decay) pi = pi * c->decay;
        mi = mi + c->one_minus_beta1 * (gi - mi);
        vi = vi * c->beta2 + c->one_minus_beta2 * gi * gi;
        float denom = __builtin_sqrtf(vi) / c->bc2_sqrt + c->eps;
        p[i] = pi + c->neg_step_size * mi / denom;
        m[i] = mi;
        v[i] = vi;
    }
}

static void TG_FN(adam_f64)(double *restrict p, const double *restrict g, double *restrict m,
                            double *restrict v, ptrdiff_t i0, ptrdiff_t i1, const tg_adam_coef_f64 *c) {
    const VF64 l2 = TG_FN(splat_f64)(c->l2), decay = TG_FN(splat_f64)(c->decay);
    const VF64 omb1 = TG_FN(splat_f64)(c->one_minus_beta1), b2 = TG_FN(splat_f64)(c->beta2);
    const VF64 omb2 = TG_FN(splat_f64)(c->one_minus_beta2);
    const VF64 bc2 = TG_FN(splat_f64)(c->bc2_sqrt), eps = TG_FN(splat_f64)(c->eps);
    const VF64 nstep = TG_FN(splat_f64)(c->neg_step_size);
    ptrdiff_t i = i0;
    for (; i + W64 <= i1; i += W64) {
        VF64 pi = TG_FN(load_f64)(p + i), gi = TG_FN(load_f64)(g + i);
        VF64 mi = TG_FN(load_f64)(m + i), vi = TG_FN(load_f64)(v + i);
        if (c->use_l2) gi = gi + l2 * pi;
        if (c->use_decay) pi = pi * decay;
        mi = mi + omb1 * (gi - mi);
        vi = vi * b2 + omb2 * gi * gi;
        VF64 denom = TG_FN(vsqrt_f64)(vi) / bc2 + eps;
        pi = pi + nstep * mi / denom;
        TG_FN(store_f64)(m + i, mi);
        TG_FN(store_f64)(v + i, vi);
        TG_FN(store_f64)(p + i, pi);
    }
    for (; i < i1; i++) {
        double pi = p[i], gi = g[i], mi = m[i], vi = v[i];
        if (c->use_l2) gi = gi + c->l2 * pi;
        if (c->use_decay) pi = pi * c->decay;
        mi = mi + c->one_minus_beta1 * (gi - mi);
        vi = vi * c->beta2 + c->one_minus_beta2 * gi * gi;
        double denom = __builtin_sqrt(vi) / c->bc2_sqrt + c->eps;
        p[i] = pi + c->neg_step_size * mi / denom;
        m[i] = mi;
        v[i] = vi;
    }
}

/* SGD for elements [i0, i1) (one thread's chunk):
 *   d   = g + l2 * p                                   (L2 weight decay)
 *   buf = first step ? d : buf * momentum + (1 - dampening) * d
 *   d   = nesterov ? d + momentum * buf : buf          (only when there is a buf)
 *   p   = p + (-lr) * d */
static void TG_FN(sgd_f32)(float *restrict p, const float *restrict g, float *restrict buf,
                           ptrdiff_t i0, ptrdiff_t i1, const tg_sgd_coef_f32 *c) {
    const VF32 l2 = TG_FN(splat_f32)(c->l2), mom = TG_FN(splat_f32)(c->momentum);
    const VF32 omd = TG_FN(splat_f32)(c->one_minus_dampening);
    const VF32 nlr = TG_FN(splat_f32)(c->neg_lr);
    ptrdiff_t i = i0;
    for (; i + W32 <= i1; i += W32) {
        VF32 pi = TG_FN(load_f32)(p + i), d = TG_FN(load_f32)(g + i);
        if (c->use_l2) d = d + l2 * pi;
        if (buf) {
            VF32 b = c->first ? d : TG_FN(load_f32)(buf + i) * mom + omd * d;
            TG_FN(store_f32)(buf + i, b);
            d = c->nesterov ? d + mom * b : b;
        }
        TG_FN(store_f32)(p + i, pi + nlr * d);
    }
    for (; i < i1; i++) {
        float pi = p[i], d = g[i];
        if (c->use_l2) d = d + c->l2 * pi;
        if (buf) {
            float b = c->first ? d : buf[i] * c->momentum + c->one_minus_dampening * d;
            buf[i] = b;
            d = c->nesterov ? d + c->momentum * b : b;
        }
        p[i] = pi + c->neg_lr * d;
    }
}

static void TG_FN(sgd_f64)(double *restrict p, const double *restrict g, double *restrict buf,
                           ptrdiff_t i0, ptrdiff_t i1, const tg_sgd_coef_f64 *c) {
    const VF64 l2 = TG_FN(splat_f64)(c->l2), mom = TG_FN(splat_f64)(c->momentum);
    const VF64 omd = TG_FN(splat_f64)(c->one_minus_dampening);
    const VF64 nlr = TG_FN(splat_f64)(c->neg_lr);
    ptrdiff_t i = i0;
    for (; i + W64 <= i1; i += W64) {
        VF64 pi = TG_FN(load_f64)(p + i), d = TG_FN(load_f64)(g + i);
        if (c->use_l2) d = d + l2 * pi;
        if (buf) {
            VF64 b = c->first ? d : TG_FN(load_f64)(buf + i) * mom + omd * d;
            TG_FN(store_f64)(buf + i, b);
            d = c->nesterov ? d + mom * b : b;
        }
        TG_FN(store_f64)(p + i, pi + nlr * d);
    }
    for (; i < i1; i++) {
        double pi = p[i], d = g[i];
        if (c->use_l2) d = d + c->l2 * pi;
        if (buf) {
            double b = c->first ? d : buf[i] * c->momentum + c->one_minus_dampening * d;
            buf[i] = b;
            d = c->nesterov ? d + c->momentum * b : b;
        }
        p[i] = pi + c->neg_lr * d;
    }
}

#include "tg_vec_end.h"
