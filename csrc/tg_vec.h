/* tg_vec.h -- GCC vector types for one ISA variant (include inside a variant).
 *
 * Before including, define TG_SUFFIX (base/avx2/avx512) and TG_VEC_BYTES (16/32/64).
 * A `vf32` holds TG_VEC_BYTES/4 floats and `vf64` TG_VEC_BYTES/8 doubles; `+ - *`
 * on them compile to one SIMD instruction each. `a * b + c` stays a multiply and an
 * add (we build as ISO C11, which does not contract them), so results are the same
 * on every ISA; where a fused multiply-add is wanted, call fma_f32/fma_f64 (tg_exp.h).
 * Loads and stores go through memcpy so that no pointer needs to be aligned; the
 * compiler turns them into single unaligned moves.
 */
#define VF32 TG_FN(vf32)
#define VF64 TG_FN(vf64)
#define VI32 TG_FN(vi32)
typedef float VF32 __attribute__((vector_size(TG_VEC_BYTES)));
typedef double VF64 __attribute__((vector_size(TG_VEC_BYTES)));
typedef int32_t VI32 __attribute__((vector_size(TG_VEC_BYTES)));
#define VI64 TG_FN(vi64)
typedef int64_t VI64 __attribute__((vector_size(TG_VEC_BYTES)));
#define W32 ((int)(TG_VEC_BYTES / 4)) /* floats per vector */
#define W64 ((int)(TG_VEC_BYTES / 8)) /* doubles per vector */

static inline VF32 TG_FN(load_f32)(const float *p) { VF32 v; __builtin_memcpy(&v, p, sizeof v); return v; }
static inline void TG_FN(store_f32)(float *p, VF32 v) { __builtin_memcpy(p, &v, sizeof v); }
static inline VF64 TG_FN(load_f64)(const double *p) { VF64 v; __builtin_memcpy(&v, p, sizeof v); return v; }
static inline void TG_FN(store_f64)(double *p, VF64 v) { __builtin_memcpy(p, &v, sizeof v); }
/* x - 0 (not 0 + x, which turns -0.0 into +0.0) is exact, so it compiles to a bare broadcast */
static inline VF32 TG_FN(splat_f32)(float x) { return x - (VF32){0}; }
static inline VF64 TG_FN(splat_f64)(double x) { return x - (VF64){0}; }
static inline float TG_FN(hsum_f32)(VF32 v) { float s = 0; for (int i = 0; i < W32; i++) s += v[i]; return s; }
static inline double TG_FN(hsum_f64)(VF64 v) { double s = 0; for (int i = 0; i < W64; i++) s += v[i]; return s; }
static inline float TG_FN(hmax_f32)(VF32 v) { float m = v[0]; for (int i = 1; i < W32; i++) m = v[i] > m ? v[i] : m; return m; }
static inline double TG_FN(hmax_f64)(VF64 v) { double m = v[0]; for (int i = 1; i < W64; i++) m = v[i] > m ? v[i] : m; return m; }

/* Lane numbers 0, 1, 2, ...: the shuffle masks of the transpose below are built from them. */
#if TG_VEC_BYTES == 64
#define TG_IOTA32 {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
#define TG_IOTA64 {0, 1, 2, 3, 4, 5, 6, 7}
#elif TG_VEC_BYTES == 32
#define TG_IOTA32 {0, 1, 2, 3, 4, 5, 6, 7}
#define TG_IOTA64 {0, 1, 2, 3}
#else
#define TG_IOTA32 {0, 1, 2, 3}
#define TG_IOTA64 {0, 1}
#endif

/* Transpose, in place, the W x W matrix whose row i is r[i] (W = lanes per vector).
 *
 * A transpose swaps the two off-diagonal blocks of a matrix and transposes each
 * block; doing that recursively, for h = W/2, W/4, ..., 1, swaps in every 2h x 2h block
 * its top-right and bottom-left h x h blocks. For rows a = r[i] and b = r[i + h] (bit h
 * of i clear), lane p of the new rows is
 *
 *     new a[p] = a[p]      if bit h of p is clear, else b[p - h]
 *     new b[p] = a[p + h]  if bit h of p is clear, else b[p]
 *
 * one two-input shuffle each (TG_SHUFFLE2 below: mask index W + p means b[p]).
 * W * log2(W) shuffles in all -- 64 for 16 floats, one instruction each on AVX-512 --
 * where element by element it is W * W loads and W * W stores to scattered addresses.
 * Packing for the GEMM and attention's query-along-lanes layout are made of these.
 * Both loops are unrolled (the pragmas: GCC's own heuristics stop halfway), so that the
 * masks become constants and r[] lives in registers, not on the stack. */
/* TG_SHUFFLE2(a, b, mask): lane p is a[mask[p]] (mask[p] < W) or b[mask[p] - W].
 * GCC: __builtin_shuffle, which takes the mask as a vector (here constant after unrolling).
 * clang has no __builtin_shuffle; its __builtin_shufflevector wants each index as a
 * separate integer constant expression, which a mask computed in a loop is not. So for
 * clang the same selection is written lane by lane; after the unrolling below every
 * mask[p] is a constant and clang's optimizer folds the lane copies into one shuffle. */
#if defined(__clang__) || !defined(__GNUC__)
#define TG_SHUFFLE2(VT, NW, a, b, mask, dst)                                    \
    do {                                                                        \
        VT tg_s_;                                                               \
        for (int tg_p_ = 0; tg_p_ < (NW); tg_p_++)                              \
            tg_s_[tg_p_] = (mask)[tg_p_] < (NW) ? (a)[(mask)[tg_p_]]            \
                                                : (b)[(mask)[tg_p_] - (NW)];    \
        (dst) = tg_s_;                                                          \
    } while (0)
#else
#define TG_SHUFFLE2(VT, NW, a, b, mask, dst) ((dst) = __builtin_shuffle((a), (b), (mask)))
#endif

#define TG_TRANSPOSE_BODY(VT, VIT, NW, IOTA)                                   \
    const VIT iota = IOTA;                                                      \
    _Pragma("GCC unroll 8")                                                     \
    for (int h = (NW) / 2; h >= 1; h /= 2) {                                   \
        const VIT upper = (VIT)((iota & h) != 0); /* -1 where bit h is set */   \
        const VIT lo = iota + (upper & ((NW) - h));                             \
        const VIT hi = iota + h + (upper & ((NW) - h));                         \
        _Pragma("GCC unroll 16")                                                \
        for (int i = 0; i < (NW); i++)                                          \
            if (!(i & h)) {                                                     \
                VT a = r[i], b = r[i + h];                                      \
                TG_SHUFFLE2(VT, NW, a, b, lo, r[i]);                            \
                TG_SHUFFLE2(VT, NW, a, b, hi, r[i + h]);                        \
            }                                                                   \
    }
static inline __attribute__((always_inline)) void TG_FN(transpose_f32)(VF32 *r) {
    TG_TRANSPOSE_BODY(VF32, VI32, W32, TG_IOTA32)
}
static inline __attribute__((always_inline)) void TG_FN(transpose_f64)(VF64 *r) {
    TG_TRANSPOSE_BODY(VF64, VI64, W64, TG_IOTA64)
}
#undef TG_TRANSPOSE_BODY
#undef TG_SHUFFLE2
