/* tg_instantiate.h -- compile one kernel template for every ISA x dtype.
 *
 * In NAME.c:
 *     #define TG_TEMPLATE "NAME_impl.h"
 *     #include "tg_instantiate.h"
 * compiles NAME_impl.h six times: for the baseline, AVX2 and AVX-512 (each under its
 * target pragma, tg_isa.h), each for float32 and float64 (tg_dtype.h). A function
 * DFN(row) in the template becomes row_f32_base, row_f64_avx2, ...; the entry points
 * pick one with TG_PICK(isa, ...).
 */
#ifndef TG_TEMPLATE
#error "define TG_TEMPLATE (the kernel template to compile) before including tg_instantiate.h"
#endif

#define TG_SUFFIX base
#define TG_VEC_BYTES 16
#include "tg_vec.h"
#include "tg_exp.h"
#define TG_DTYPE 32
#include "tg_dtype.h"
#include TG_TEMPLATE
#include "tg_dtype_end.h"
#define TG_DTYPE 64
#include "tg_dtype.h"
#include TG_TEMPLATE
#include "tg_dtype_end.h"
#include "tg_vec_end.h"

#if TG_X86
TG_BEGIN_TARGET_AVX2
#define TG_SUFFIX avx2
#define TG_VEC_BYTES 32
#include "tg_vec.h"
#include "tg_exp.h"
#define TG_DTYPE 32
#include "tg_dtype.h"
#include TG_TEMPLATE
#include "tg_dtype_end.h"
#define TG_DTYPE 64
#include "tg_dtype.h"
#include TG_TEMPLATE
#include "tg_dtype_end.h"
#include "tg_vec_end.h"
TG_END_TARGET

TG_BEGIN_TARGET_AVX512
#define TG_SUFFIX avx512
#define TG_VEC_BYTES 64
#include "tg_vec.h"
#include "tg_exp.h"
#define TG_DTYPE 32
#include "tg_dtype.h"
#include TG_TEMPLATE
#include "tg_dtype_end.h"
#define TG_DTYPE 64
#include "tg_dtype.h"
#include TG_TEMPLATE
#include "tg_dtype_end.h"
#include "tg_vec_end.h"
TG_END_TARGET
#endif

#undef TG_TEMPLATE
