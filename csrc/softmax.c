/* softmax.c -- the ISA x dtype copies of softmax_impl.h, and the entry points.
 *
 * softmax_impl.h is written once; here it is compiled six times: for the baseline,
 * AVX2 and AVX-512 (tg_isa.h), each for float32 and float64 (tg_dtype.h), by
 * tg_instantiate.h, as every kernel family is. */
#include "softmax.h"
#include "tg_isa.h"

/* The kernels, six copies; the entry points (they only pick and call), one per dtype. */
#define TG_TEMPLATE "softmax_impl.h"
#define TG_API "softmax_api.h"
#include "tg_instantiate.h"
