/* softmax.c -- the ISA x dtype copies of softmax_impl.h, and the entry points.
 *
 * softmax_impl.h is written once; here it is compiled six times: for the baseline,
 * AVX2 and AVX-512 (tg_isa.h), each for float32 and float64 (tg_dtype.h). */
#include "softmax.h"
#include "tg_isa.h"

#define TG_TEMPLATE "softmax_impl.h"
#include "tg_instantiate.h"

/* The entry points (compiled once, for the baseline: they only pick and call). */
#define TG_DTYPE 32
#include "tg_dtype.h"
#include "softmax_api.h"
#include "tg_dtype_end.h"
#define TG_DTYPE 64
#include "tg_dtype.h"
#include "softmax_api.h"
#include "tg_dtype_end.h"
