/* naive.c -- the plain-C rung of every kernel family, for float32 and float64.
 *
 * naive_impl.h is written once, with T the element type; tg_instantiate.h compiles it
 * once per dtype (as TG_API: entry points only, no ISA copies -- there is no SIMD here).
 * Read it beside reference.py (the twins) and the *_impl.h files (the fast kernels). */
#include <math.h>
#include <stdlib.h>

#include "naive.h"
#include "tg_isa.h"

/* ISO C11 keeps each * and + its own rounding; say the same to clang (see setup.py). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define TG_API "naive_impl.h"
#include "tg_instantiate.h"
