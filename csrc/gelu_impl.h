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
 *           function fitted once (csrc/fit_coefficients.py) with relative error 3.5e-9.
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

/* --- exact form ------------------------------------------------------------------- */
#if TG_DTYPE == 32

/* Phi(x) for float32, and the density phi(x) in *pdf. */
static inline V DFN(normal_cdf)(V x, V *pdf) {
    const V one = VSPLAT(1), half = VSPLAT(0.5f);
    /* a = |x|, capped at 20: phi(20) = 5e-88 is 0 in float32 already (NaN stays NaN). */
    V a = VABS(x);
    a = VSELECT(a > VSPLAT(20), VSPLAT(20), a);
    /* a^2 exactly, as hi + lo: rounding a^2 to float32 would err by up to 2e-5 at
     * a = 14, and e^(-a^2/2) would inherit that as a relative error of 1e-5. */
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
    /* e^(-(hi + lo)/2) = e^(-hi/2) * e^(-lo/2), and e^(-lo/2) = 1 - lo/2 to 1e-11. */
    V density = VEXP(-half * hi) * VFMA(-half, lo, one) * VSPLAT(0.3989422804014327f);
    /* The Mills ratio M(a) = t P(t), t = 1/(1 + 0.3 a), P of degree 9. */
    V t = VRECIP(VFMA(VSPLAT(0.3f), a, one));
    V p = VSPLAT(-5.170844580e-02f);
    p = VFMA(p, t, VSPLAT(2.819077635e-01f));
    p = VFMA(p, t, VSPLAT(-5.722259023e-01f));
    p = VFMA(p, t, VSPLAT(4.809811702e-01f));
    p = VFMA(p, t, VSPLAT(-1.993008465e-01f));
    p = VFMA(p, t, VSPLAT(2.411504970e-01f));
    p = VFMA(p, t, VSPLAT(1.964498425e-01f));
    p = VFMA(p, t, VSPLAT(2.763291060e-01f));
    p = VFMA(p, t, VSPLAT(2.997208400e-01f));
    p = VFMA(p, t, VSPLAT(3.000101084e-01f));
    V q = density * t * p; /* Q(a) = P(Z > a) */
    *pdf = density;        /* phi is even: phi(x) = phi(a) */
    return VSELECT(x < VSPLAT(0), q, one - q);
}

static inline V DFN(gelu_exact_vec)(V x) {
    V pdf;
    return x * DFN(normal_cdf)(x, &pdf);
}

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
