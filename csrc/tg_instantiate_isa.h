/* tg_instantiate_isa.h -- one ISA copy of TG_TEMPLATE (see tg_instantiate.h): define
 * TG_SUFFIX and TG_VEC_BYTES, then include this file (under the ISA's target pragma). */
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
