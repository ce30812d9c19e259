/* attention.c -- the ISA x dtype copies of attention_impl.h, their scratch memory, and
 * the entry points. Read attention_impl.h first: it explains the algorithm. */
#include <stdint.h>
#include <stdlib.h>

#include "attention.h"
#include "tg_isa.h"

/* Block sizes: ATT_BR queries (the vector lanes of every tile) by ATT_BC keys. A block
 * of scores is 64 x 64 x 4 bytes = 16 KB: it, a 16 KB block of K or V and the
 * 16 KB accumulator fit the 48 KB L1 cache together. ATT_BR must be a multiple of
 * every vector width (16 floats). */
#ifndef ATT_BR
#define ATT_BR 64
#endif
#ifndef ATT_BC
#define ATT_BC 64
#endif

/* The register tile of each ISA: ATT_MR rows x up to ATT_NV_<isa> vectors of lanes,
 * i.e. ATT_MR * ATT_NV accumulators, plus ATT_NV registers for a row of B and one
 * broadcast -- as many as the ISA has without spilling (16, 16 and 32 registers). */
#define ATT_MR 4
#define ATT_NV_BASE 2   /* 16-byte vectors: 8 accumulators   */
#define ATT_NV_AVX2 3   /* 32-byte vectors: 12 accumulators  */
#define ATT_NV_AVX512 4 /* 64-byte vectors: 16 accumulators  */

enum { ATT_STORE = 0, ATT_ADD = 1, ATT_RESCALE = 2 }; /* what a tile does with C */

/* Where head n = b * nh + h of a tensor starts (its row i is ld further per row). */
#define ATT_HEAD(view, n) ((n) / (view).nh * (view).sb + (n) % (view).nh * (view).sh)

/* The arguments of one call, as attention_impl.h reads them (see attention.h). */
#define ATT_ARGS_STRUCT(T)                                                                   \
    {                                                                                        \
        const T *q, *k, *v;                                                                  \
        T *out, *lse;                   /* forward: written */                               \
        const T *o, *lse_in, *dout;     /* backward: read   */                               \
        T *dq, *dk, *dv;                /* backward: written */                              \
        ptrdiff_t N, nT, nS, D, offset; /* offset: key j is visible to query i iff          \
                                           j <= i + offset (when causal) */                  \
        tg_att_view vq, vk, vv, vo; /* where each head's rows are; vq also for dq, vk for   \
                                       dk, vv for dv, vo for out and dout (attention.h) */  \
        int causal;                                                                          \
        double scale;                                                                        \
    }
typedef struct ATT_ARGS_STRUCT(float) att_args_f32;
typedef struct ATT_ARGS_STRUCT(double) att_args_f64;

/* ---- scratch memory ------------------------------------------------------------------ */

/* malloc, moved up to a 64-byte (cache line) boundary; free *raw. */
static void *att_alloc64(size_t bytes, void **raw) {
    *raw = malloc(bytes + 64);
    if (!*raw) return NULL;
    return (void *)(((uintptr_t)*raw + 63) & ~(uintptr_t)63);
}

/* D rounded up to 16 elements: whole vectors for every ISA, whole cache lines. */
static ptrdiff_t att_round16(ptrdiff_t x) { return (x + 15) / 16 * 16; }

/* One forward thread's scratch, in elements: Q^T (D x BR), scores (BC x BR), O^T
 * (D x BR), and m, l, alpha (BR each). 48 KB for D = 64 in float32. */
static size_t att_forward_elems(ptrdiff_t D) {
    return (size_t)(2 * D * ATT_BR + ATT_BC * ATT_BR + 3 * ATT_BR);
}

/* One backward thread's scratch: where each array starts, in elements (every start a
 * multiple of 16 elements, i.e. of 64 bytes). Tp = nT rounded up to whole blocks. */
typedef struct {
    ptrdiff_t qT, doT, dqT; /* (Tp, D) each, stored block by block as (D, BR)   */
    ptrdiff_t lse, dvec;    /* (Tp,) each                                       */
    ptrdiff_t sT, dpT;      /* (BC, BR) each: one block of P^T and of dP^T/dS^T */
    ptrdiff_t dk, dv;       /* (BC, D rounded up to 16) each                    */
    ptrdiff_t qrow, dorow;  /* (nT, D rounded up) each, only when D % W != 0    */
    ptrdiff_t total;
} att_layout;

static att_layout att_backward_layout(ptrdiff_t nT, ptrdiff_t D, ptrdiff_t vec) {
    const ptrdiff_t Tp = (nT + ATT_BR - 1) / ATT_BR * ATT_BR, Dp = att_round16(D);
    att_layout L;
    ptrdiff_t at = 0;
    L.qT = at, at += Tp * D;
    L.doT = at, at += Tp * D;
    L.dqT = at, at += Tp * D;
    L.lse = at, at += Tp;
    L.dvec = at, at += Tp;
    L.sT = at, at += ATT_BC * ATT_BR;
    L.dpT = at, at += ATT_BC * ATT_BR;
    L.dk = at, at += ATT_BC * Dp;
    L.dv = at, at += ATT_BC * Dp;
    L.qrow = at, at += D % vec ? nT * Dp : 0;
    L.dorow = at, at += D % vec ? nT * Dp : 0;
    L.total = at;
    return L;
}

/* Which of `team` threads takes key block jb when the threads share a head: in rounds
 * of `team` blocks, left to right, then right to left (a snake). Under the causal mask
 * block 0 is the heaviest and every later one lighter, so each thread gets a heavy
 * and a light one in turn. */
static int att_snake_owner(ptrdiff_t jb, int team) {
    ptrdiff_t round = jb / team, pos = jb % team;
    return (int)(round % 2 == 0 ? pos : team - 1 - pos);
}

/* Below this many flops per thread, another thread costs more than it saves. */
#define ATT_MIN_FLOPS_PER_THREAD 2.0e6

/* How many threads a call gets, and (backward) whether they take whole heads. */
static int att_threads(ptrdiff_t N, ptrdiff_t nT, ptrdiff_t nS, ptrdiff_t D, int backward,
                       int nthreads, int *by_heads) {
    double flops = (backward ? 10.0 : 4.0) * (double)N * (double)nT * (double)nS * (double)D;
    int nt = nthreads < 1 ? 1 : nthreads;
    if (flops < nt * ATT_MIN_FLOPS_PER_THREAD) nt = (int)(flops / ATT_MIN_FLOPS_PER_THREAD);
    if (nt < 1) nt = 1;
    ptrdiff_t items = backward ? N : N * ((nT + ATT_BR - 1) / ATT_BR);
    *by_heads = 1;
    if (backward && nt > 1 && !(N >= 4 * nt || (N >= nt && N % nt == 0))) {
        *by_heads = 0; /* few heads: share each head's key blocks */
        items = (nS + ATT_BC - 1) / ATT_BC;
    }
    if (nt > items) nt = items < 1 ? 1 : (int)items;
    if (nt == 1) *by_heads = 1;
    return nt;
}

/* ---- the variants and the entry points -------------------------------------------------- */

/* Each ISA copy (TG_VEC_BYTES, set by tg_instantiate.h, says which) gets its register tile. */
#define ATT_NV (TG_VEC_BYTES == 64 ? ATT_NV_AVX512 : TG_VEC_BYTES == 32 ? ATT_NV_AVX2 : ATT_NV_BASE)

/* (N, nT, D) arrays, one head after the other: head n at n * nT * D, rows D apart. */
static tg_att_view att_dense(ptrdiff_t N, ptrdiff_t rows, ptrdiff_t D) {
    tg_att_view v = {N, 0, rows * D, D};
    return v;
}

#define TG_TEMPLATE "attention_impl.h"
#define TG_API "attention_api.h"
#include "tg_instantiate.h"

size_t tg_attention_scratch_bytes(ptrdiff_t N, ptrdiff_t nT, ptrdiff_t nS, ptrdiff_t D,
                                  int f64, int backward, int isa, int nthreads) {
    int by_heads, nt = att_threads(N, nT, nS, D, backward, nthreads, &by_heads);
    size_t elem = f64 ? sizeof(double) : sizeof(float);
    isa = tg_clamp_isa(isa);
    ptrdiff_t vec = (isa == TG_ISA_AVX512 ? 64 : isa == TG_ISA_AVX2 ? 32 : 16) / (ptrdiff_t)elem;
    size_t per_thread = backward ? (size_t)att_backward_layout(nT, D, vec).total
                                 : att_forward_elems(D);
    return (size_t)nt * per_thread * elem + 64;
}

void tg_attention_blocking(int isa, int f64, ptrdiff_t out[4]) {
    isa = tg_clamp_isa(isa);
    ptrdiff_t vec = (isa == TG_ISA_AVX512 ? 64 : isa == TG_ISA_AVX2 ? 32 : 16) / (f64 ? 8 : 4);
    ptrdiff_t nv = isa == TG_ISA_AVX512 ? ATT_NV_AVX512 : isa == TG_ISA_AVX2 ? ATT_NV_AVX2 : ATT_NV_BASE;
    out[0] = ATT_BR;
    out[1] = ATT_BC;
    out[2] = ATT_MR;
    out[3] = nv * vec;
}
