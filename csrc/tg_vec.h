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
