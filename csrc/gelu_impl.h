/* gelu_impl.h -- GELU and its derivative, element-wise (a template: gelu.c includes it
 * for every ISA x dtype, with tg_dtype.h's names set).
 *
 * GELU(x) = x * Phi(x), Phi the standard normal CDF: the input x, kept with the
 * probability that a standard normal variable falls below it. Two forms:
 *
 *   exact:  Phi(x) = (1 + erf(x / sqrt2)) / 2
 *   "tanh": Phi(x) ~ (1 + tanh(u)) / 2,  u = sqrt(2/pi) * (x + 0.044715 x^3)
 *           (the approximation GPT-2 was trained with)
 *
 * Written naively, both lose all their digits for negative x: 1 + erf(-4) = 1 -
 * 0.99999998 keeps ~1 correct digit in float32. We rewrite each so that nothing
 * cancels:
 *
 *   exact:  Phi(x) = Q(-x) for x < 0 and 1 - Q(x) for x >= 0, where Q(a) = P(Z > a) is
 *           the normal upper tail, computed directly as phi(a) * M(a): the density
 *           phi(a) = e^(-a^2/2) / sqrt(2 pi) and the Mills ratio M(a), a smooth
 *           function fitted once by a polynomial (relative error 1.5e-8; see
 *           normal_cdf below for the variable it is fitted in, and why).
 *           float64 calls libm's erfc instead, one element at a time: erfc(-x/sqrt2)/2
 *           is Phi(x) without cancellation, and a vector erfc good to 1e-16 would be a
 *           chapter of its own.
 *   tanh:   (1 + tanh(u)) / 2 = 1 / (1 + e^(-2u)) = sigmoid(2u), which we evaluate as
 *           s+ = 1/(1 + e) and s- = e/(1 + e) with e = e^(-2|u|) <= 1: no overflow, no
 *           cancellation, and the pair is (sigmoid(2u), 1 - sigmoid(2u)) in some order.
 *
 * Derivatives (backward multiplies them by the upstream gradient dy):
 *   exact:  d/dx x Phi(x) = Phi(x) + x phi(x)
 *   tanh:   d/dx x s      = s + x s (1 - s) 2 du/dx,  du/dx = sqrt(2/pi) (1 + 3*0.044715 x^2)
 *
 * Infinities follow the formula x * Phi(x): GELU(+inf) = +inf and GELU(-inf) =
 * -inf * 0 = NaN (PyTorch also gives NaN there).
 */

/* --- tanh form, any dtype ---------------------------------------------------------- */

/* e^(-2|u|), u = sqrt(2/pi) (x + 0.044715 x^3), which is all the tanh form needs. */
#if TG_DTYPE == 32
/* In float32 the exponent -2|u| is a problem: it reaches -87 while its e^ is still a
 * normal float, and a float32 number that large is only known to +-4e-6, which e^
 * turns into a RELATIVE error of 4e-6 (30 ulp) -- for x < -3 the answer would be
 * off in its 6th digit. So we compute the exponent w in double precision and split
 * it into a float w_hi plus the small rest w_lo (|w_lo| <= 4e-6):
 *     e^w = e^(w_hi) * e^(w_lo) = e^(w_hi) * (1 + w_lo)   (to 1e-11). */
#define VF64W TG_FN(vf64w) /* W32 doubles: two registers' worth, GCC splits the ops */
typedef double VF64W __attribute__((vector_size(2 * TG_VEC_BYTES)));
static inline V DFN(gelu_tanh_exp)(V x) {
    V a = VABS(x);
    a = VSELECT(a > VSPLAT(100), VSPLAT(100), a); /* e^(-2|u|) is 0 long before */
    VF64W ad = __builtin_convertvector(a, VF64W);
    const double k = 1.5957691216057308; /* 2 sqrt(2/pi) */
    VF64W w = -ad * (k + (k * 0.044715) * ad * ad);
    V w_hi = __builtin_convertvector(w, V);
    V w_lo = __builtin_convertvector(w - __builtin_convertvector(w_hi, VF64W), V);
    return VEXP(w_hi) * (VSPLAT(1) + w_lo);
}
#undef VF64W
#else
static inline V DFN(gelu_tanh_exp)(V x) {
    const V c0 = VSPLAT(0.7978845608028654), c1 = VSPLAT(0.044715), one = VSPLAT(1);
    V u = c0 * x * VFMA(c1 * x, x, one);
    return VEXP(VSPLAT(-2) * VABS(u)); /* 0 once |u| is large (or inf) */
}
#endif

/* s = sigmoid(2u) = (1 + tanh u)/2 and its complement 1 - s, with e = e^(-2|u|) in
 * [0, 1]: s+ = 1/(1 + e) = sigmoid(2|u|) and s- = e/(1 + e) = 1 - s+, no overflow
 * and no cancellation; u has the sign of x, which says which is which. */
static inline V DFN(gelu_tanh_sigmoid)(V x, V *one_minus_s) {
    const V one = VSPLAT(1);
    V e = DFN(gelu_tanh_exp)(x);
    V s_pos = VRECIP(one + e);
    V s_neg = e * s_pos;
    *one_minus_s = VSELECT(x >= VSPLAT(0), s_neg, s_pos);
    return VSELECT(x >= VSPLAT(0), s_pos, s_neg);
}

static inline V DFN(gelu_tanh_vec)(V x) {
    V one_minus_s;
    return x * DFN(gelu_tanh_sigmoid)(x, &one_minus_s);
}

static inline V DFN(gelu_tanh_grad_vec)(V x) {
    const V c0 = VSPLAT((T)0.7978845608028654), c3 = VSPLAT((T)(3 * 0.044715));
    V one_minus_s;
    V s = DFN(gelu_tanh_sigmoid)(x, &one_minus_s);
    /* Past |x| = 1e4, s (1 - s) is exactly 0; capping x^2 keeps du/dx finite there, so
     * that 0 * du/dx is 0 and not 0 * inf = NaN. */
    V x2 = x * x, cap = VSPLAT((T)1e8);
    x2 = VSELECT(x2 > cap, cap, x2);
    V du = c0 * VFMA(c3, x2, VSPLAT(1));
    return VFMA(x * s * one_minus_s, VSPLAT(2) * du, s);
}

/* --- exact form, float32 ----------------------------------------------------------- */
#if TG_DTYPE == 32
/* Phi(x) = Q(-x) for x < 0 and 1 - Q(x) for x >= 0, with the upper tail
 *
 *     Q(a) = P(Z > a) = phi(a) M(a),   a = |x|,   phi(a) = e^(-a^2/2) / sqrt(2 pi),
 *
 * M(a) = Q(a)/phi(a) the Mills ratio: smooth, from sqrt(pi/2) = 1.25 at a = 0 down to
 * ~1/a. Both factors carry a RELATIVE error, so Q(a) is as accurate at a = 10 (1e-23)
 * as at a = 0: no 1 - erf cancellation anywhere. Past a = 14.5, Q(a) < 1e-47 rounds to 0
 * in float32, so a is capped there (which keeps every step below finite; x = +-inf then
 * gives Phi = 1 or 0 and GELU = inf or -inf * 0 = NaN, like PyTorch).
 *
 * Per vector of W numbers: one exp without its edge cases (e^(-a^2/2) with a <= 14.5
 * can neither overflow nor be NaN-masked), one reciprocal, two polynomials, no divide
 * on AVX-512, no branch: ~37 vector instructions, where the version with a general
 * exp, a divide and an uncentered polynomial took ~75. Measured: within 4.7 ulp of
 * the float64 value of GELU(x) while |GELU(x)| >= 1e-30, on every ISA (~9.5 ulp in
 * the last binades above the subnormals, where Q(a) itself is already subnormal;
 * tests/test_kernels_softmax.py, the sweep).
 */

/* p * 2^n for an integer n in [-152, 0], given as the float n and as t = n + 1.5*2^23
 * (the bits exp_reduce_f32 leaves), rounded ONCE even where the result is subnormal
 * (Q(a) for a > 12.9) or 0. */
static inline V DFN(scale_pow2)(V p, V n, V t) {
#if TG_X86 && TG_VEC_BYTES == 64
    (void)t;
    return (V)_mm512_scalef_ps((__m512)p, (__m512)n); /* AVX-512 does exactly this */
#else
    (void)n;
    /* 2^(n + 64) is a normal float (n + 64 >= -88): build its exponent field from the
     * integer in t's low bits (see exp_f32), multiply (exact: a power of two), and let
     * the constant 2^-64 do the one rounding. */
    V big = (V)(((VU32)t - (VU32)VSPLAT(12582912.0f) + (127u + 64u)) << 23);
    return (p * big) * VSPLAT(0x1p-64f);
#endif
}

/* Phi(x), and the density phi(x) in *pdf (the backward pass needs both; the forward
 * pass's copy never computes *pdf: the compiler drops what is not used). */
static inline V DFN(normal_cdf)(V x, V *pdf) {
    const V one = VSPLAT(1);
    V a = TG_FN(min_f32)(VSPLAT(14.5f), VABS(x)); /* NaN stays NaN */

    /* 1. e^(-a^2/2) = 2^n e^r. a^2 must be exact: rounding it to float32 would err by
     *    up to 6e-6 at a = 14, and e^(-a^2/2) would inherit that as a RELATIVE error of
     *    3e-6 (50 ulp). So a^2 = hi + lo, exactly (lo = the part hi rounded away). */
    V hi = a * a;
#if TG_VEC_BYTES >= 32 && TG_X86
    V lo = VFMA(a, a, -hi); /* the FMA rounds once, so this is exactly a*a - hi */
#else
    /* No FMA: Dekker's product. Split a = ah + al into halves of 12 bits, whose
     * products are exact, and collect what a*a - hi leaves over. */
    V c = VSPLAT(4097.0f) * a;
    V ah = c - (c - a), al = a - ah;
    V lo = ((ah * ah - hi) + VSPLAT(2) * ah * al) + al * al;
#endif
    /* tg_exp.h's two steps: -hi/2 = n ln2 + r (n integer, |r| <= ln2/2), then the small
     * -lo/2 joins r, and exp_poly2_f32 gives 2 e^r (the 2 is folded into step 2). */
    V t;
    V r = TG_FN(exp_reduce_f32)(VSPLAT(-0.5f) * hi, &t);
    r = VFMA(VSPLAT(-0.5f), lo, r);
    V n = t - VSPLAT(12582912.0f);
    V e2 = TG_FN(exp_poly2_f32)(r); /* 2 e^r: e^(-a^2/2) = e2 * 2^(n-1) */

    /* 2. M(a) = u P(v), u = 1/(1 + K a), v = K a u - s0 = s - s0, with K = 0.4.
     *    s = Ka/(1 + Ka) = 1 - u maps a in [0, 14.5] onto [0, 0.853] and makes M a smooth
     *    function of s, which P of degree 9 fits to a relative 1.5e-8. Why s - s0 and
     *    not u: an error in u (rounding, the reciprocal) moves P(u) by a multiple
     *    (2.7x at a = 0) of itself, while s = Ka u is small exactly where M is steep,
     *    and centering at s0 = the middle of the range keeps P's coefficients small
     *    (no cancellation between them). The coefficients are the relative minimax fit
     *    of csrc/fit_coefficients.py's method (Lawson), rounded to float32 one at a
     *    time with the rest refitted, and they include 1/(2 sqrt(2 pi)): u P(v) is
     *    M(a) phi(0) / 2, so that e2 u P(v) 2^n is phi(a) M(a) = Q(a). */
    V ka = VSPLAT(0.4f) * a;
    V u = VRECIP(ka + one);
    V v = VFMA(ka, u, VSPLAT(-0x1.b4b4b4p-2f)); /* s0 = 0.42647058 */
    V p = VSPLAT(-0x1.083834p-6f);
    p = VFMA(p, v, VSPLAT(-0x1.568476p-8f));
    p = VFMA(p, v, VSPLAT(0x1.853090p-6f));
    p = VFMA(p, v, VSPLAT(0x1.5e8ef2p-6f));
    p = VFMA(p, v, VSPLAT(-0x1.6bea7cp-6f));
    p = VFMA(p, v, VSPLAT(-0x1.7b7294p-5f));
    p = VFMA(p, v, VSPLAT(0x1.e1d3eap-6f));
    p = VFMA(p, v, VSPLAT(0x1.9c659ap-4f));
    p = VFMA(p, v, VSPLAT(-0x1.826c80p-3f));
    p = VFMA(p, v, VSPLAT(0x1.3cb964p-3f));

    /* 3. Q(a) = e2 2^n (u P): the 2^n last, so that it rounds once even for subnormals. */
    V q = DFN(scale_pow2)(e2 * (u * p), n, t);
    *pdf = DFN(scale_pow2)(e2 * VSPLAT(0.19947114020071635f), n, t); /* phi(0)/2 */

    /* 4. Phi(x) = Q(a) for x < 0, 1 - Q(a) for x >= 0 (where Q <= 1/2: no cancellation). */
#if TG_X86 && TG_VEC_BYTES == 64
    /* One masked subtraction: lanes with x >= 0 get 1 - q, the others keep q. */
    __mmask16 nonneg = _mm512_cmp_ps_mask((__m512)x, _mm512_setzero_ps(), _CMP_GE_OQ);
    return (V)_mm512_mask_sub_ps((__m512)q, nonneg, (__m512)one, (__m512)q);
#else
    return VSELECT(x < VSPLAT(0), q, one - q);
#endif
}

static inline V DFN(gelu_exact_vec)(V x) {
    V pdf;
    return x * DFN(normal_cdf)(x, &pdf);
}

/* GELU'(x) = Phi(x) + x phi(x). */
static inline V DFN(gelu_exact_grad_vec)(V x) {
    V pdf;
    V cdf = DFN(normal_cdf)(x, &pdf);
    return VFMA(x, pdf, cdf);
}

#else /* float64: libm, one element at a time */

static inline T DFN(normal_cdf_scalar)(T x) { return (T)0.5 * erfc(-x * (T)0.7071067811865476); }

#endif

/* --- the loops: whole vectors, then one partial vector (tg_exp.h) ------------------ */

static void DFN(gelu)(const T *x, T *y, ptrdiff_t n, int tanh_form) {
#if TG_DTYPE == 64
    if (!tanh_form) {
        for (ptrdiff_t i = 0; i < n; i++) y[i] = x[i] * DFN(normal_cdf_scalar)(x[i]);
        return;
    }
#define GELU_VEC(v) DFN(gelu_tanh_vec)(v)
#else
#define GELU_VEC(v) (tanh_form ? DFN(gelu_tanh_vec)(v) : DFN(gelu_exact_vec)(v))
#endif
    ptrdiff_t i = 0;
    for (; i + W <= n; i += W) VSTORE(y + i, GELU_VEC(VLOAD(x + i)));
    if (i < n) VSTORE_PART(y + i, GELU_VEC(VLOAD_PART(x + i, n - i, 0)), n - i);
#undef GELU_VEC
}

static void DFN(gelu_backward)(const T *x, const T *dy, T *dx, ptrdiff_t n, int tanh_form) {
#if TG_DTYPE == 64
    if (!tanh_form) {
        const T inv_sqrt_2pi = 0.3989422804014327;
        for (ptrdiff_t i = 0; i < n; i++) {
            T pdf = inv_sqrt_2pi * exp(-0.5 * x[i] * x[i]);
            dx[i] = dy[i] * (DFN(normal_cdf_scalar)(x[i]) + x[i] * pdf);
        }
        return;
    }
#define GELU_GRAD(v) DFN(gelu_tanh_grad_vec)(v)
#else
#define GELU_GRAD(v) (tanh_form ? DFN(gelu_tanh_grad_vec)(v) : DFN(gelu_exact_grad_vec)(v))
#endif
    ptrdiff_t i = 0;
    for (; i + W <= n; i += W) VSTORE(dx + i, VLOAD(dy + i) * GELU_GRAD(VLOAD(x + i)));
    if (i < n) {
        V g = GELU_GRAD(VLOAD_PART(x + i, n - i, 0));
        VSTORE_PART(dx + i, VLOAD_PART(dy + i, n - i, 0) * g, n - i);
    }
#undef GELU_GRAD
}
