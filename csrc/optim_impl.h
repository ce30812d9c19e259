/* optim_impl.h -- Adam/AdamW and SGD updates, written once for every ISA and dtype
 * (optim.c compiles it through tg_instantiate.h; T, V, W, VLOAD, ... are tg_dtype.h's
 * names, and DNAME(tg_adam_coef) is the coefficient struct of this dtype).
 *
 * Each kernel walks its chunk once: load p, g (and m, v or buf), update in
 * registers, store. The operations and their order are PyTorch's, so the same
 * float32 roundings happen and the results agree with torch.optim to the last bit
 * or two. The scalar coefficients (bias corrections, 1 - beta, ...) are computed
 * once per call in double precision by the driver in optim_api.h, as PyTorch computes
 * them in Python floats. */

/* The square root of every lane. GCC's vector extension has no sqrt operator, so
 * on x86 we use the one-instruction intrinsic of each width and dtype (correctly
 * rounded, exactly like sqrtf / sqrt); elsewhere a lane-by-lane loop. */
static inline V DFN(vsqrt)(V x) {
#if TG_X86 && TG_VEC_BYTES == 64 && TG_DTYPE == 32
    return (V)_mm512_sqrt_ps((__m512)x);
#elif TG_X86 && TG_VEC_BYTES == 32 && TG_DTYPE == 32
    return (V)_mm256_sqrt_ps((__m256)x);
#elif TG_X86 && TG_DTYPE == 32
    return (V)_mm_sqrt_ps((__m128)x);
#elif TG_X86 && TG_VEC_BYTES == 64
    return (V)_mm512_sqrt_pd((__m512d)x);
#elif TG_X86 && TG_VEC_BYTES == 32
    return (V)_mm256_sqrt_pd((__m256d)x);
#elif TG_X86
    return (V)_mm_sqrt_pd((__m128d)x);
#else
    for (int k = 0; k < W; k++) x[k] = SSQRT(x[k]);
    return x;
#endif
}

/* Adam / AdamW for elements [i0, i1) (one thread's chunk):
 *   g  = g + l2 * p                          (Adam's weight decay: part of the gradient)
 *   p  = p * decay                           (AdamW's: decay = 1 - lr * weight_decay)
 *   m  = m + (1 - beta1) * (g - m)           running mean of g      (= beta1 m + (1-beta1) g)
 *   v  = v * beta2 + (1 - beta2) * g * g     running mean of g^2
 *   p  = p + (-step_size) * m / (sqrt(v) / sqrt(bias_correction2) + eps)
 * The same lines twice: a vector of W lanes at a time, then the scalar tail. */
static void DFN(adam)(T *restrict p, const T *restrict g, T *restrict m, T *restrict v,
                      ptrdiff_t i0, ptrdiff_t i1, const DNAME(tg_adam_coef) *c) {
    const V l2 = VSPLAT(c->l2), decay = VSPLAT(c->decay);
    const V omb1 = VSPLAT(c->one_minus_beta1), b2 = VSPLAT(c->beta2);
    const V omb2 = VSPLAT(c->one_minus_beta2);
    const V bc2 = VSPLAT(c->bc2_sqrt), eps = VSPLAT(c->eps);
    const V nstep = VSPLAT(c->neg_step_size);
    ptrdiff_t i = i0;
    for (; i + W <= i1; i += W) {
        V pi = VLOAD(p + i), gi = VLOAD(g + i);
        V mi = VLOAD(m + i), vi = VLOAD(v + i);
        if (c->use_l2) gi = gi + l2 * pi;
        if (c->use_decay) pi = pi * decay;
        mi = mi + omb1 * (gi - mi);
        vi = vi * b2 + omb2 * gi * gi;
        V denom = DFN(vsqrt)(vi) / bc2 + eps;
        pi = pi + nstep * mi / denom;
        VSTORE(m + i, mi);
        VSTORE(v + i, vi);
        VSTORE(p + i, pi);
    }
    for (; i < i1; i++) { /* the tail that does not fill a vector */
        T pi = p[i], gi = g[i], mi = m[i], vi = v[i];
        if (c->use_l2) gi = gi + c->l2 * pi;
        if (c->use_decay) pi = pi * c->decay;
        mi = mi + c->one_minus_beta1 * (gi - mi);
        vi = vi * c->beta2 + c->one_minus_beta2 * gi * gi;
        T denom = SSQRT(vi) / c->bc2_sqrt + c->eps;
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
static void DFN(sgd)(T *restrict p, const T *restrict g, T *restrict buf, ptrdiff_t i0,
                     ptrdiff_t i1, const DNAME(tg_sgd_coef) *c) {
    const V l2 = VSPLAT(c->l2), mom = VSPLAT(c->momentum);
    const V omd = VSPLAT(c->one_minus_dampening);
    const V nlr = VSPLAT(c->neg_lr);
    ptrdiff_t i = i0;
    for (; i + W <= i1; i += W) {
        V pi = VLOAD(p + i), d = VLOAD(g + i);
        if (c->use_l2) d = d + l2 * pi;
        if (buf) {
            V b = c->first ? d : VLOAD(buf + i) * mom + omd * d;
            VSTORE(buf + i, b);
            d = c->nesterov ? d + mom * b : b;
        }
        VSTORE(p + i, pi + nlr * d);
    }
    for (; i < i1; i++) {
        T pi = p[i], d = g[i];
        if (c->use_l2) d = d + c->l2 * pi;
        if (buf) {
            T b = c->first ? d : buf[i] * c->momentum + c->one_minus_dampening * d;
            buf[i] = b;
            d = c->nesterov ? d + c->momentum * b : b;
        }
        p[i] = pi + c->neg_lr * d;
    }
}
