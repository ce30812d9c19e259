/* layernorm.c -- the ISA x dtype copies of layernorm_impl.h, and the entry points.
 *
 * Same scheme as softmax.c: the template is compiled for base/AVX2/AVX-512 (tg_isa.h),
 * each for float32 and float64 (tg_dtype.h). */
#include <stdlib.h>
#include "layernorm.h"
#include "tg_isa.h"

/* The kernels, six copies; the entry points (they only pick and call), one per dtype. */
#define TG_TEMPLATE "layernorm_impl.h"
#define TG_API "layernorm_api.h"
#include "tg_instantiate.h"
