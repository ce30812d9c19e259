/* tg_instantiate.h -- the one way a kernel family is compiled for every ISA x dtype.
 *
 * In NAME.c:
 *     #define TG_TEMPLATE "NAME_impl.h"   the kernels (SIMD): ISA x dtype, six copies
 *     #define TG_API "NAME_api.h"         the entry points: one copy per dtype
 *     #include "tg_instantiate.h"
 * (either may be left out). TG_TEMPLATE is compiled for the baseline, AVX2 and AVX-512
 * (each under its target pragma, tg_isa.h), each for float32 and float64 (tg_dtype.h):
 * a function DFN(row) in it becomes row_f32_base, row_f64_avx2, ... -- always
 * name_<dtype>_<isa>. Inside a copy, TG_VEC_BYTES (16, 32, 64) says which ISA it is,
 * for the register tiles that depend on the number of vector registers.
 * TG_API is compiled once per dtype, for the baseline: an entry point DNAME(tg_softmax)
 * (tg_softmax_f32, ...) picks its kernel with TG_PICK(isa, DNAME(softmax_row)) and
 * splits the work between threads. A plain-C family (naive.c) has only TG_API.
 */
#if !defined(TG_TEMPLATE) && !defined(TG_API)
#error "define TG_TEMPLATE and/or TG_API before including tg_instantiate.h"
#endif

#ifdef TG_TEMPLATE
/* tg_instantiate_isa.h is one ISA copy: the vector types and helpers of TG_SUFFIX and
 * TG_VEC_BYTES, then the template for float32 and float64. */
#define TG_SUFFIX base
#define TG_VEC_BYTES 16
#include "tg_instantiate_isa.h"

#if TG_X86
TG_BEGIN_TARGET_AVX2
#define TG_SUFFIX avx2
#define TG_VEC_BYTES 32
#include "tg_instantiate_isa.h"
TG_END_TARGET

TG_BEGIN_TARGET_AVX512
#define TG_SUFFIX avx512
#define TG_VEC_BYTES 64
#include "tg_instantiate_isa.h"
TG_END_TARGET
#endif
#undef TG_TEMPLATE
#endif

#ifdef TG_API
#define TG_DTYPE 32
#include "tg_dtype.h"
#include TG_API
#include "tg_dtype_end.h"
#define TG_DTYPE 64
#include "tg_dtype.h"
#include TG_API
#include "tg_dtype_end.h"
#undef TG_API
#endif
