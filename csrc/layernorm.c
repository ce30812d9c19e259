/* layernorm.c -- the ISA x dtype copies of layernorm_impl.h, and the entry points.
 *
 * Same scheme as softmax.c: the template is compiled for base/AVX2/AVX-512 (tg_isa.h),
 * each for float32 and float64 (tg_dtype.h). */
#include <stdlib.h>
#include "layernorm.h"
#include "tg_isa.h"

#define TG_TEMPLATE "layernorm_impl.h"
#include "tg_instantiate.h"

/* The entry points (compiled once, for the baseline: they only pick and call). */
#define TG_DTYPE 32
#include "tg_dtype.h"
#include "layernorm_api.h"
#include "tg_dtype_end.h"
#define TG_DTYPE 64
#include "tg_dtype.h"
#include "layernorm_api.h"
#include "tg_dtype_end.h"
