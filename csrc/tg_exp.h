/* tg_exp.h -- e^x for a whole vector at once, and the few vector helpers it needs.
 *
 * Include inside an ISA variant, after tg_vec.h (it uses VF32/VF64/W32 and TG_FN).
 *
 * Why write our own exp? libm's expf works on one number at a time: a softmax over a
 * row of 1024 logits would make 1024 function calls, none of them using SIMD. The
 * vector exp below does 4 (SSE2), 8 (AVX2) or 16 (AVX-512) floats per step with
 * about 20 instructions, and is as accurate as we need: within 1-2 ulp of the
 * correctly rounded e^x (tests/test_kernels_softmax.py measures it against NumPy).
 *
 * The method (Cody and Waite's range reduction, then a polynomial):
 *
 *   1. Split x = n*ln2 + r with n an integer and |r| <= ln2/2 ~ 0.35.
 *      Then e^x = 2^n * e^r: the big part is a power of two, the small part is easy.
 *   2. e^r on [-0.35, 0.35] is a short polynomial (degree 6 for float32, 11 for
 *      float64): the Chebyshev fit of csrc/fit_coefficients.py, within 2e-9
 *      (float32) or 3e-18 (float64) of e^r over the whole interval.
 *   3. 2^n costs no arithmetic at all: an IEEE float is sign | exponent | mantissa,
 *      and the number with exponent field n + 127 (float32; n + 1023 for float64)
 *      and mantissa 0 *is* 2^n. We build those bits with integer vector ops.
 *
 * Edge cases, without branches on the common path:
 *   x = -inf, or x below ~-103.97 (float32) / ~-745.13 (float64): exactly 0, as the
 *     true e^x rounds to 0. This is what gives masked logits (-inf) probability 0.
 *   x above ~88.72 / ~709.78: +inf (e^x overflows).
 *   NaN in, NaN out.
 *   Results below the smallest normal float (subnormals, x in about [-104, -87.3]) are
 *   computed, not flushed to 0, by a careful path that the common one branches to
 *   only when a lane needs it -- see exp_f32_subnormal for why it is kept apart.
 *
 * No -ffast-math anywhere: it would let the compiler assume there are no infinities
 * or NaNs, and then the -inf masking above could silently break.
 */

#ifndef TG_EXP_ONCE
#define TG_EXP_ONCE
#include <math.h> /* INFINITY */
#if TG_X86
#include <immintrin.h> /* for the explicit FMA below */
#endif
#endif

/* Integer vectors of the same width: masks and exponent bits. */
#undef VU32
#undef VI64
#undef VU64
#define VU32 TG_FN(vu32)
#define VI64 TG_FN(vi64)
#define VU64 TG_FN(vu64)
typedef uint32_t VU32 __attribute__((vector_size(TG_VEC_BYTES)));
typedef int64_t VI64 __attribute__((vector_size(TG_VEC_BYTES)));
typedef uint64_t VU64 __attribute__((vector_size(TG_VEC_BYTES)));

/* a*b + c with ONE rounding (fused multiply-add) where the ISA has it.
 * We ask for it explicitly: the build uses -std=c11, and in ISO C mode GCC does
 * not contract `a * b + c` into an FMA on its own (-ffp-contract=off). */
static inline VF32 TG_FN(fma_f32)(VF32 a, VF32 b, VF32 c) {
#if TG_X86 && TG_VEC_BYTES == 64
    return (VF32)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#elif TG_X86 && TG_VEC_BYTES == 32
    return (VF32)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
    return a * b + c; /* baseline SSE2 has no FMA: two roundings */
#endif
}

static inline VF64 TG_FN(fma_f64)(VF64 a, VF64 b, VF64 c) {
#if TG_X86 && TG_VEC_BYTES == 64
    return (VF64)_mm512_fmadd_pd((__m512d)a, (__m512d)b, (__m512d)c);
#elif TG_X86 && TG_VEC_BYTES == 32
    return (VF64)_mm256_fmadd_pd((__m256d)a, (__m256d)b, (__m256d)c);
#else
    return a * b + c;
#endif
}

/* mask ? a : b, lane by lane. A vector comparison such as `x < y` gives an integer
 * vector whose lanes are all ones (true) or all zeros (false); C (unlike C++) has no
 * vector `?:`, so we pick bits with and/or. The compiler emits one blend. */
static inline VF32 TG_FN(select_f32)(VI32 mask, VF32 a, VF32 b) {
    return (VF32)(((VI32)a & mask) | ((VI32)b & ~mask));
}
static inline VF64 TG_FN(select_f64)(VI64 mask, VF64 a, VF64 b) {
    return (VF64)(((VI64)a & mask) | ((VI64)b & ~mask));
}

/* |x|: clear the sign bit. */
static inline VF32 TG_FN(abs_f32)(VF32 x) { return (VF32)((VU32)x & 0x7fffffffu); }
static inline VF64 TG_FN(abs_f64)(VF64 x) { return (VF64)((VU64)x & 0x7fffffffffffffffull); }

/* Lane-wise max that skips NaN in `m`'s favour: (x > m) ? x : m.
 * x86's maxps computes exactly that (it returns its second operand on NaN). */
static inline VF32 TG_FN(max_f32)(VF32 x, VF32 m) {
#if TG_X86 && TG_VEC_BYTES == 64
    return (VF32)_mm512_max_ps((__m512)x, (__m512)m);
#elif TG_X86 && TG_VEC_BYTES == 32
    return (VF32)_mm256_max_ps((__m256)x, (__m256)m);
#elif TG_X86
    return (VF32)_mm_max_ps((__m128)x, (__m128)m);
#else
    return TG_FN(select_f32)(x > m, x, m);
#endif
}
static inline VF64 TG_FN(max_f64)(VF64 x, VF64 m) {
#if TG_X86 && TG_VEC_BYTES == 64
    return (VF64)_mm512_max_pd((__m512d)x, (__m512d)m);
#elif TG_X86 && TG_VEC_BYTES == 32
    return (VF64)_mm256_max_pd((__m256d)x, (__m256d)m);
#elif TG_X86
    return (VF64)_mm_max_pd((__m128d)x, (__m128d)m);
#else
    return TG_FN(select_f64)(x > m, x, m);
#endif
}
/* Lane-wise min, (x < m) ? x : m (minps, like maxps, returns m on NaN). */
static inline VF32 TG_FN(min_f32)(VF32 x, VF32 m) {
#if TG_X86 && TG_VEC_BYTES == 64
    return (VF32)_mm512_min_ps((__m512)x, (__m512)m);
#elif TG_X86 && TG_VEC_BYTES == 32
    return (VF32)_mm256_min_ps((__m256)x, (__m256)m);
#elif TG_X86
    return (VF32)_mm_min_ps((__m128)x, (__m128)m);
#else
    return TG_FN(select_f32)(x < m, x, m);
#endif
}
static inline VF64 TG_FN(min_f64)(VF64 x, VF64 m) {
#if TG_X86 && TG_VEC_BYTES == 64
    return (VF64)_mm512_min_pd((__m512d)x, (__m512d)m);
#elif TG_X86 && TG_VEC_BYTES == 32
    return (VF64)_mm256_min_pd((__m256d)x, (__m256d)m);
#elif TG_X86
    return (VF64)_mm_min_pd((__m128d)x, (__m128d)m);
#else
    return TG_FN(select_f64)(x < m, x, m);
#endif
}
/* min(max(x, lo), hi), but NaN stays NaN: with x as the second operand, max(lo, x)
 * and min(hi, x) return x itself when x is NaN. */
static inline VF32 TG_FN(clamp_f32)(VF32 x, VF32 lo, VF32 hi) {
    return TG_FN(min_f32)(hi, TG_FN(max_f32)(lo, x));
}
static inline VF64 TG_FN(clamp_f64)(VF64 x, VF64 lo, VF64 hi) {
    return TG_FN(min_f64)(hi, TG_FN(max_f64)(lo, x));
}
/* 0 in the lanes where mask is true, x elsewhere (one and-not). */
static inline VF32 TG_FN(zero_where_f32)(VI32 mask, VF32 x) { return (VF32)((VI32)x & ~mask); }
static inline VF64 TG_FN(zero_where_f64)(VI64 mask, VF64 x) { return (VF64)((VI64)x & ~mask); }

/* 1/d for float32. On AVX-512: the hardware's 14-bit reciprocal estimate r (exact
 * for powers of two, so 1/1 stays 1) plus one Newton step r (2 - d r), which doubles
 * the correct bits -- within ~1 ulp, in 3 cheap instructions instead of a 16-lane
 * divide that keeps its unit busy for ~10 cycles, longer than the rest of a GELU
 * step. (AVX2's estimate has only 12 bits, and its 8-lane divide is cheaper: there,
 * and on the baseline, we simply divide.) */
static inline VF32 TG_FN(recip_f32)(VF32 d) {
#if TG_X86 && TG_VEC_BYTES == 64
    VF32 r = (VF32)_mm512_rcp14_ps((__m512)d);
    return r * TG_FN(fma_f32)(-d, r, TG_FN(splat_f32)(2.0f));
#else
    return TG_FN(splat_f32)(1.0f) / d;
#endif
}
static inline VF64 TG_FN(recip_f64)(VF64 d) { return TG_FN(splat_f64)(1.0) / d; }

/* Is any lane of a comparison mask true? (One instruction: movemask or a k-mask test.) */
static inline int TG_FN(any_i32)(VI32 m) {
#if TG_X86 && TG_VEC_BYTES == 64
    return _mm512_test_epi32_mask((__m512i)m, (__m512i)m) != 0;
#elif TG_X86 && TG_VEC_BYTES == 32
    return _mm256_movemask_ps((__m256)m) != 0;
#elif TG_X86
    return _mm_movemask_ps((__m128)m) != 0;
#else
    int any = 0;
    for (int i = 0; i < W32; i++) any |= m[i] != 0;
    return any;
#endif
}
static inline int TG_FN(any_i64)(VI64 m) {
#if TG_X86 && TG_VEC_BYTES == 64
    return _mm512_test_epi64_mask((__m512i)m, (__m512i)m) != 0;
#elif TG_X86 && TG_VEC_BYTES == 32
    return _mm256_movemask_pd((__m256d)m) != 0;
#elif TG_X86
    return _mm_movemask_pd((__m128d)m) != 0;
#else
    int any = 0;
    for (int i = 0; i < W64; i++) any |= m[i] != 0;
    return any;
#endif
}

/* Sum and max of the lanes of one vector, as a tree: fold the upper half onto the
 * lower half, then again: log2(W) steps instead of W-1 dependent additions (a row of
 * 64 floats would otherwise spend more time here than in its 4 vectors of exp). */
static inline float TG_FN(tree_sum_f32)(VF32 v) {
#if TG_X86 && TG_VEC_BYTES == 64
    return _mm512_reduce_add_ps((__m512)v);
#elif TG_X86 && (TG_VEC_BYTES == 32 || TG_VEC_BYTES == 16)
#if TG_VEC_BYTES == 32
    __m128 s = _mm_add_ps(_mm256_castps256_ps128((__m256)v), _mm256_extractf128_ps((__m256)v, 1));
#else
    __m128 s = (__m128)v;
#endif
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
#else
    return TG_FN(hsum_f32)(v);
#endif
}
static inline float TG_FN(tree_max_f32)(VF32 v) {
#if TG_X86 && TG_VEC_BYTES == 64
    return _mm512_reduce_max_ps((__m512)v);
#elif TG_X86 && (TG_VEC_BYTES == 32 || TG_VEC_BYTES == 16)
#if TG_VEC_BYTES == 32
    __m128 s = _mm_max_ps(_mm256_castps256_ps128((__m256)v), _mm256_extractf128_ps((__m256)v, 1));
#else
    __m128 s = (__m128)v;
#endif
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
#else
    return TG_FN(hmax_f32)(v);
#endif
}
static inline double TG_FN(tree_sum_f64)(VF64 v) {
#if TG_X86 && TG_VEC_BYTES == 64
    return _mm512_reduce_add_pd((__m512d)v);
#elif TG_X86 && (TG_VEC_BYTES == 32 || TG_VEC_BYTES == 16)
#if TG_VEC_BYTES == 32
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128((__m256d)v), _mm256_extractf128_pd((__m256d)v, 1));
#else
    __m128d s = (__m128d)v;
#endif
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
#else
    return TG_FN(hsum_f64)(v);
#endif
}
static inline double TG_FN(tree_max_f64)(VF64 v) {
#if TG_X86 && TG_VEC_BYTES == 64
    return _mm512_reduce_max_pd((__m512d)v);
#elif TG_X86 && (TG_VEC_BYTES == 32 || TG_VEC_BYTES == 16)
#if TG_VEC_BYTES == 32
    __m128d s = _mm_max_pd(_mm256_castpd256_pd128((__m256d)v), _mm256_extractf128_pd((__m256d)v, 1));
#else
    __m128d s = (__m128d)v;
#endif
    s = _mm_max_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
#else
    return TG_FN(hmax_f64)(v);
#endif
}

/* --- e^x, float32 ----------------------------------------------------------------- */

/* Step 2, shared by both paths: 2 e^r on [-ln2/2, ln2/2] by Horner's rule,
 * p = c0 + r*(c1 + r*(c2 + ...)), with the Chebyshev coefficients of e^r doubled
 * (an exact change: *2 only bumps the exponent). Why 2 e^r: see exp_f32 below.
 * c0 = c1 = 2 exactly, so e^0 comes out as exactly 1 (the row maximum of a softmax). */
static inline VF32 TG_FN(exp_poly2_f32)(VF32 r) {
    VF32 p = TG_FN(splat_f32)(2.78822169e-3f);
    p = TG_FN(fma_f32)(p, r, TG_FN(splat_f32)(1.67502528e-2f));
    p = TG_FN(fma_f32)(p, r, TG_FN(splat_f32)(8.33327058e-2f));
    p = TG_FN(fma_f32)(p, r, TG_FN(splat_f32)(3.33328310e-1f));
    p = TG_FN(fma_f32)(p, r, TG_FN(splat_f32)(1.00000001e+0f));
    p = TG_FN(fma_f32)(p, r, TG_FN(splat_f32)(2.0f));
    return TG_FN(fma_f32)(p, r, TG_FN(splat_f32)(2.0f));
}

/* Step 1: n = round(x / ln2) (as a float, and as the integer bits of t) and
 * r = x - n ln2 with |r| <= ln2/2. */
static inline VF32 TG_FN(exp_reduce_f32)(VF32 x, VF32 *t_out) {
    const VF32 log2e = TG_FN(splat_f32)(1.44269504089f);
    /* ln2 split in two (Cody-Waite): ln2_hi has only 9 significant bits, so n*ln2_hi
     * is exact for |n| < 2^15 and x - n*ln2_hi loses nothing; ln2_lo is the rest. */
    const VF32 ln2_hi = TG_FN(splat_f32)(0.693359375f);
    const VF32 ln2_lo = TG_FN(splat_f32)(-2.12194440e-4f);
    /* 1.5 * 2^23: adding it to a float of magnitude < 2^22 pushes the fraction bits
     * out of the mantissa, so the sum is rounded to the nearest integer -- and that
     * integer sits, as plain binary, in the low mantissa bits of t. */
    const VF32 shifter = TG_FN(splat_f32)(12582912.0f);
    VF32 t = TG_FN(fma_f32)(x, log2e, shifter);
    VF32 n = t - shifter; /* n as a float: exact */
    VF32 r = TG_FN(fma_f32)(n, -ln2_hi, x);
    *t_out = t;
    return TG_FN(fma_f32)(n, -ln2_lo, r);
}

/* The careful path, for vectors with a lane whose e^x is subnormal (x in about
 * [-104, -86.5]): 2^n is applied in two halves, 2^(n - n/2) * 2^(n/2), so that each
 * half is a normal float and only the last multiplication rounds (once, into the
 * subnormal range). Slow -- a multiplication that underflows makes Intel CPUs run a
 * microcode "assist" of ~100 cycles -- but a softmax almost never gets here.
 * (AVX-512 needs no such path, see exp_f32; `unused` keeps that variant quiet.) */
__attribute__((noinline, unused)) static VF32 TG_FN(exp_f32_subnormal)(VF32 x) {
    x = TG_FN(clamp_f32)(x, TG_FN(splat_f32)(-104.0f), TG_FN(splat_f32)(89.0f));
    VF32 t;
    VF32 r = TG_FN(exp_reduce_f32)(x, &t);
    VF32 p = TG_FN(exp_poly2_f32)(r) * TG_FN(splat_f32)(0.5f); /* e^r */
    /* n in [-150, 129]; n1 = floor(n/2), n2 = n - n1 are in [-75, 65]. Unsigned
     * arithmetic keeps NaN lanes (garbage bits, but p is NaN there) overflow-free. */
    VI32 ni = (VI32)((VU32)t - (VU32)TG_FN(splat_f32)(12582912.0f));
    VI32 n1 = ni >> 1;
    VI32 n2 = ni - n1;
    VF32 s1 = (VF32)((VU32)(n1 + 127) << 23);
    VF32 s2 = (VF32)((VU32)(n2 + 127) << 23);
    return p * s1 * s2;
}

/* e^x for every lane of x (float32). */
static inline VF32 TG_FN(exp_f32)(VF32 x) {
#if TG_X86 && TG_VEC_BYTES == 64
    /* AVX-512 does step 3 in ONE instruction: vscalefps computes p * 2^k with a single
     * rounding, subnormal results, 0 below and inf above included. So this ISA needs
     * no careful path, no masks and no exponent bits: ~14 instructions instead of ~22,
     * and exp is what a softmax spends its time on. The numbers are the same as the
     * path below (one rounding of p * 2^(n-1) either way; the tests compare the ISAs).
     * The clamp keeps n finite: -inf would give r = -inf + inf = NaN. Below -104,
     * e^x < 2^-150 rounds to 0, as does e^-104 itself. */
    VF32 xc = TG_FN(clamp_f32)(x, TG_FN(splat_f32)(-104.0f), TG_FN(splat_f32)(89.0f));
    VF32 t;
    VF32 r = TG_FN(exp_reduce_f32)(xc, &t);
    VF32 n_minus_1 = t - TG_FN(splat_f32)(12582913.0f); /* t - shifter - 1, exact */
    return (VF32)_mm512_scalef_ps((__m512)TG_FN(exp_poly2_f32)(r), (__m512)n_minus_1);
#else
    const VF32 lo = TG_FN(splat_f32)(-86.5f); /* below: e^x < 2^-124.8, near subnormal */
    const VF32 zero_below = TG_FN(splat_f32)(-104.0f); /* below: e^x rounds to 0 */
    const VF32 hi = TG_FN(splat_f32)(89.0f); /* above: e^x > FLT_MAX, inf */

    /* Lanes below `lo` are either 0 (x < -104, or -inf: masked logits, common) or
     * subnormal (rare): only the latter need the careful path. */
    VI32 low = x < lo;
    if (__builtin_expect(TG_FN(any_i32)(low & (x >= zero_below)), 0))
        return TG_FN(exp_f32_subnormal)(x);

    /* 0. Clamp into [-86.5, 89] so that n stays in [-125, 128]. NaN passes through. */
    VF32 xc = TG_FN(clamp_f32)(x, lo, hi);
    /* 1. x = n ln2 + r. */
    VF32 t;
    VF32 r = TG_FN(exp_reduce_f32)(xc, &t);
    /* 2. p = 2 e^r, in [1.41, 2.83]. */
    VF32 p = TG_FN(exp_poly2_f32)(r);
    /* 3. e^x = 2 e^r * 2^(n-1). The integer n is the difference of the bit patterns of
     *    t and the shifter (same exponent, so only the low bits differ), and 2^(n-1) is
     *    the float whose exponent field is n - 1 + 127 (bits 23..30), mantissa 0. For n
     *    in [-125, 128] that field is in [1, 254]: always a normal float, and e^89
     *    overflows to inf in the multiplication, as it should. (Scaling by 2^(n-1)
     *    instead of 2^n is what lets n = 128 -- x in (88.4, 88.7] -- stay finite.) */
    VU32 field = (VU32)t - (VU32)TG_FN(splat_f32)(12582912.0f) + 126u;
    VF32 y = p * (VF32)(field << 23);
    /* The lanes below -104 were computed as e^-86.5: they are 0. */
    return TG_FN(zero_where_f32)(low, y);
#endif
}

/* --- e^x, float64: the same steps with double constants and a degree-11 polynomial - */

static inline VF64 TG_FN(exp_poly2_f64)(VF64 r) {
    VF64 p = TG_FN(splat_f64)(5.0220075211927555424e-8);
    p = TG_FN(fma_f64)(p, r, TG_FN(splat_f64)(5.5265279278082059498e-7));
    p = TG_FN(fma_f64)(p, r, TG_FN(splat_f64)(5.5114481837157939646e-6));
    p = TG_FN(fma_f64)(p, r, TG_FN(splat_f64)(4.9602970964656984838e-5));
    p = TG_FN(fma_f64)(p, r, TG_FN(splat_f64)(3.9682539780094227414e-4));
    p = TG_FN(fma_f64)(p, r, TG_FN(splat_f64)(2.7777777904629549304e-3));
    p = TG_FN(fma_f64)(p, r, TG_FN(splat_f64)(1.6666666666639201222e-2));
    p = TG_FN(fma_f64)(p, r, TG_FN(splat_f64)(8.3333333332976190990e-2));
    p = TG_FN(fma_f64)(p, r, TG_FN(splat_f64)(3.3333333333333361612e-1));
    p = TG_FN(fma_f64)(p, r, TG_FN(splat_f64)(1.0000000000000036771e+0));
    p = TG_FN(fma_f64)(p, r, TG_FN(splat_f64)(2.0));
    return TG_FN(fma_f64)(p, r, TG_FN(splat_f64)(2.0));
}

static inline VF64 TG_FN(exp_reduce_f64)(VF64 x, VF64 *t_out) {
    const VF64 log2e = TG_FN(splat_f64)(1.4426950408889634);
    const VF64 ln2_hi = TG_FN(splat_f64)(0.6931471806019545); /* 32 significant bits */
    const VF64 ln2_lo = TG_FN(splat_f64)(-4.2009150726810846e-11);
    const VF64 shifter = TG_FN(splat_f64)(6755399441055744.0); /* 1.5 * 2^52 */
    VF64 t = TG_FN(fma_f64)(x, log2e, shifter);
    VF64 n = t - shifter;
    VF64 r = TG_FN(fma_f64)(n, -ln2_hi, x);
    *t_out = t;
    return TG_FN(fma_f64)(n, -ln2_lo, r);
}

__attribute__((noinline, unused)) static VF64 TG_FN(exp_f64_subnormal)(VF64 x) {
    x = TG_FN(clamp_f64)(x, TG_FN(splat_f64)(-746.0), TG_FN(splat_f64)(710.0));
    VF64 t;
    VF64 r = TG_FN(exp_reduce_f64)(x, &t);
    VF64 p = TG_FN(exp_poly2_f64)(r) * TG_FN(splat_f64)(0.5);
    /* n in [-1077, 1025]; halves in [-539, 513]; exponent field = n + 1023 (bits 52..62) */
    VI64 ni = (VI64)((VU64)t - (VU64)TG_FN(splat_f64)(6755399441055744.0));
    VI64 n1 = ni >> 1;
    VI64 n2 = ni - n1;
    VF64 s1 = (VF64)((VU64)(n1 + 1023) << 52);
    VF64 s2 = (VF64)((VU64)(n2 + 1023) << 52);
    return p * s1 * s2;
}

static inline VF64 TG_FN(exp_f64)(VF64 x) {
#if TG_X86 && TG_VEC_BYTES == 64 /* one vscalefpd, as in exp_f32 */
    VF64 xc = TG_FN(clamp_f64)(x, TG_FN(splat_f64)(-746.0), TG_FN(splat_f64)(710.0));
    VF64 t;
    VF64 r = TG_FN(exp_reduce_f64)(xc, &t);
    VF64 n_minus_1 = t - TG_FN(splat_f64)(6755399441055745.0); /* t - shifter - 1 */
    return (VF64)_mm512_scalef_pd((__m512d)TG_FN(exp_poly2_f64)(r), (__m512d)n_minus_1);
#else
    const VF64 lo = TG_FN(splat_f64)(-707.0);          /* n >= -1020 */
    const VF64 zero_below = TG_FN(splat_f64)(-746.0);  /* e^-746 < 2^-1075: 0 */
    const VF64 hi = TG_FN(splat_f64)(710.0);           /* e^710 > DBL_MAX: inf */
    VI64 low = x < lo;
    if (__builtin_expect(TG_FN(any_i64)(low & (x >= zero_below)), 0))
        return TG_FN(exp_f64_subnormal)(x);
    VF64 xc = TG_FN(clamp_f64)(x, lo, hi);
    VF64 t;
    VF64 r = TG_FN(exp_reduce_f64)(xc, &t);
    VF64 p = TG_FN(exp_poly2_f64)(r);
    /* 2^(n-1): exponent field n - 1 + 1023, in [2, 2046] for n in [-1020, 1024]. */
    VU64 field = (VU64)t - (VU64)TG_FN(splat_f64)(6755399441055744.0) + 1022u;
    VF64 y = p * (VF64)(field << 52);
    return TG_FN(zero_where_f64)(low, y);
#endif
}

/* --- the ragged end of a row ---------------------------------------------------- */
/* A row of n elements is n / W whole vectors and one partial vector of n % W. The
 * partial one goes through the same vector code: load_part fills the missing lanes
 * with a neutral value (-inf for a max or an exp, 0 for a sum), store_part writes
 * only the n real lanes back. AVX-512 and AVX2 have masked loads and stores that
 * never touch memory past the end of the row; the baseline copies through a buffer. */
static inline VF32 TG_FN(load_part_f32)(const float *x, ptrdiff_t n, float fill) {
#if TG_X86 && TG_VEC_BYTES == 64
    return (VF32)_mm512_mask_loadu_ps(_mm512_set1_ps(fill), (__mmask16)((1u << n) - 1), x);
#elif TG_X86 && TG_VEC_BYTES == 32
    __m256i keep = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 v = _mm256_maskload_ps(x, keep);
    return (VF32)_mm256_blendv_ps(_mm256_set1_ps(fill), v, _mm256_castsi256_ps(keep));
#else
    float buf[W32];
    for (int i = 0; i < W32; i++) buf[i] = i < n ? x[i] : fill;
    return TG_FN(load_f32)(buf);
#endif
}
static inline void TG_FN(store_part_f32)(float *y, VF32 v, ptrdiff_t n) {
#if TG_X86 && TG_VEC_BYTES == 64
    _mm512_mask_storeu_ps(y, (__mmask16)((1u << n) - 1), (__m512)v);
#elif TG_X86 && TG_VEC_BYTES == 32
    __m256i keep = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    _mm256_maskstore_ps(y, keep, (__m256)v);
#else
    for (ptrdiff_t i = 0; i < n; i++) y[i] = v[i];
#endif
}
static inline VF64 TG_FN(load_part_f64)(const double *x, ptrdiff_t n, double fill) {
#if TG_X86 && TG_VEC_BYTES == 64
    return (VF64)_mm512_mask_loadu_pd(_mm512_set1_pd(fill), (__mmask8)((1u << n) - 1), x);
#elif TG_X86 && TG_VEC_BYTES == 32
    __m256i keep = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
    __m256d v = _mm256_maskload_pd(x, keep);
    return (VF64)_mm256_blendv_pd(_mm256_set1_pd(fill), v, _mm256_castsi256_pd(keep));
#else
    double buf[W64];
    for (int i = 0; i < W64; i++) buf[i] = i < n ? x[i] : fill;
    return TG_FN(load_f64)(buf);
#endif
}
static inline void TG_FN(store_part_f64)(double *y, VF64 v, ptrdiff_t n) {
#if TG_X86 && TG_VEC_BYTES == 64
    _mm512_mask_storeu_pd(y, (__mmask8)((1u << n) - 1), (__m512d)v);
#elif TG_X86 && TG_VEC_BYTES == 32
    __m256i keep = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
    _mm256_maskstore_pd(y, keep, (__m256d)v);
#else
    for (ptrdiff_t i = 0; i < n; i++) y[i] = v[i];
#endif
}
