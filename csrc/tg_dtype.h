/* tg_dtype.h -- write a kernel once, get it for float32 and float64.
 *
 * Define TG_DTYPE as 32 or 64, then include this file (inside an ISA variant, after
 * tg_vec.h and tg_exp.h) and then the kernel template. The template is written with
 * these generic names:
 *
 *     T          the scalar type (float / double)
 *     V, W       the vector type and its width in elements (VF32, W32 / VF64, W64)
 *     DSFX       f32 / f64, and DNAME(name) = name_f32 / name_f64
 *     DFN(name)  a function name with dtype and ISA appended: DFN(softmax_row)
 *                becomes softmax_row_f32_avx2 in the float32, AVX2 copy
 *     VLOAD VSTORE VLOAD_PART VSTORE_PART VSPLAT VFMA VEXP VMAX VABS VRECIP VSELECT
 *     HSUM HMAX VTRANSPOSE
 *                the vector helpers of tg_vec.h and tg_exp.h
 *     SLOG SEXP SSQRT  libm's scalar log/exp/sqrt of the right precision
 *
 * Include tg_dtype_end.h after the template to forget the names again.
 */
#ifndef TG_DTYPE_ONCE
#define TG_DTYPE_ONCE
#include <math.h>

/* How many threads a job of `work` elements in `rows` independent rows deserves.
 * Waking a thread costs a few microseconds, the time to process ~30k elements, so
 * small jobs run on the calling thread alone. */
static inline int tg_threads_for(ptrdiff_t work, ptrdiff_t rows, int nthreads) {
    if (work < 32768 || nthreads < 1) return 1;
    return rows < nthreads ? (int)(rows > 0 ? rows : 1) : nthreads;
}
#endif

#if TG_DTYPE == 32
#define T float
#define V VF32
#define W W32
#define DSFX f32
#define VLOAD TG_FN(load_f32)
#define VSTORE TG_FN(store_f32)
#define VSPLAT TG_FN(splat_f32)
#define VFMA TG_FN(fma_f32)
#define VEXP TG_FN(exp_f32)
#define VMAX TG_FN(max_f32)
#define VABS TG_FN(abs_f32)
#define VRECIP TG_FN(recip_f32)
#define VSELECT TG_FN(select_f32)
#define HSUM TG_FN(tree_sum_f32)
#define HMAX TG_FN(tree_max_f32)
#define VLOAD_PART TG_FN(load_part_f32)
#define VSTORE_PART TG_FN(store_part_f32)
#define VTRANSPOSE TG_FN(transpose_f32)
#define SLOG logf
#define SEXP expf
#define SSQRT sqrtf
#elif TG_DTYPE == 64
#define T double
#define V VF64
#define W W64
#define DSFX f64
#define VLOAD TG_FN(load_f64)
#define VSTORE TG_FN(store_f64)
#define VSPLAT TG_FN(splat_f64)
#define VFMA TG_FN(fma_f64)
#define VEXP TG_FN(exp_f64)
#define VMAX TG_FN(max_f64)
#define VABS TG_FN(abs_f64)
#define VRECIP TG_FN(recip_f64)
#define VSELECT TG_FN(select_f64)
#define HSUM TG_FN(tree_sum_f64)
#define HMAX TG_FN(tree_max_f64)
#define VLOAD_PART TG_FN(load_part_f64)
#define VSTORE_PART TG_FN(store_part_f64)
#define VTRANSPOSE TG_FN(transpose_f64)
#define SLOG log
#define SEXP exp
#define SSQRT sqrt
#else
#error "define TG_DTYPE as 32 or 64 before including tg_dtype.h"
#endif
#define DNAME(name) TG_CAT(name, DSFX)
#define DFN(name) TG_FN(DNAME(name))
