/* gelu.c -- the ISA x dtype copies of gelu_impl.h, and the entry points. */
#include "gelu.h"
#include "tg_isa.h"

/* Element-wise, so any split works: each thread gets one contiguous chunk, a multiple
 * of 16 elements (64-byte cache lines of float32) so no two threads write one line. */
#define TG_CHUNKS(n, nt) ((((n) + (nt)-1) / (nt) + 15) / 16 * 16)

#define TG_TEMPLATE "gelu_impl.h"
#define TG_API "gelu_api.h"
#include "tg_instantiate.h"
