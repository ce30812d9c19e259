/* gemm.c -- the ISA variants of gemm_impl.h, the entry points that pick one, and the
 * naive loop they are measured against. Read gemm_impl.h first: it explains the design.
 */

/* `a * b + c` on vectors must become one fused multiply-add (FMA) instruction where
 * the ISA has one: twice the flops per instruction, and one rounding instead of two.
 * GCC contracts it by default in GNU C, but not in ISO C mode (-std=c11, our build
 * flag), so we ask for it here, for this file only. (Contraction only changes
 * rounding; unlike -ffast-math it keeps NaN, infinity and the order of the sums.) */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#elif defined(__clang__)
#pragma clang fp contract(fast)
#endif

#include <stdlib.h>

#include "gelu.h"
#include "gemm.h"
#include "tg_isa.h"

/* The arguments of one product, as gemm_impl.h reads them (see gemm.h). */
#define TG_GEMM_ARGS_STRUCT(T)                                                              \
    {                                                                                        \
        ptrdiff_t M, N, K;                                                                   \
        const T *a;                                                                          \
        ptrdiff_t rsa, csa;                                                                  \
        const T *b;                                                                          \
        ptrdiff_t rsb, csb;                                                                  \
        T *c;                                                                                \
        ptrdiff_t ldc;                                                                       \
        int accumulate;                                                                      \
        /* the fused epilogue (gemm.h, tg_gemm_fused): all NULL / 0 for a plain product */  \
        const T *bias, *resid;                                                               \
        T *pre;                                                                              \
        void (*act)(const T *, T *, ptrdiff_t, int);                                         \
        int act_tanh;                                                                        \
    }
typedef struct TG_GEMM_ARGS_STRUCT(float) tg_gemm_args_f32;
typedef struct TG_GEMM_ARGS_STRUCT(double) tg_gemm_args_f64;

/* malloc, with the returned pointer moved up to a 64-byte (cache line) boundary so
 * that packed strips start on a line and vector loads never straddle two. Free *raw. */
static void *tg_alloc64(size_t bytes, void **raw) {
    *raw = malloc(bytes + 64);
    if (!*raw) return NULL;
    return (void *)(((uintptr_t)*raw + 63) & ~(uintptr_t)63);
}

/* Below this many flops per thread, another thread costs more than it saves. */
#ifndef GEMM_MIN_FLOPS_PER_THREAD
#define GEMM_MIN_FLOPS_PER_THREAD 2.0e6
#endif

/* Cache blocks (see gemm_impl.h, section 4). MC is a multiple of every MR (4, 6, 8). */
#ifndef GEMM_MC
#define GEMM_MC 192
#endif
#ifndef GEMM_KC
#define GEMM_KC 256
#endif
#ifndef GEMM_PANEL_BYTES /* the B panel: all of K for as many columns as fit */
#define GEMM_PANEL_BYTES (8 << 20)
#endif
/* Prefetching the C tile (see micro_kernel): into L2 when the micro-kernel starts, into
 * L1 GEMM_PF_LATE steps of k before it ends (it pays off for large n: benchmarks/). */
#ifndef GEMM_PF_C
#define GEMM_PF_C 1
#endif
#ifndef GEMM_PF_C_LEVEL /* __builtin_prefetch locality: 3 = L1 (prefetcht0), 2 = L2 (t1) */
#define GEMM_PF_C_LEVEL 2
#endif
#ifndef GEMM_PF_LATE
#define GEMM_PF_LATE 64
#endif
/* With threads, a B of up to this many numbers (K x N) is packed by every thread into
 * its own copy: twice the packing, but no waiting at a barrier and no cache lines
 * travelling between the cores (most of all a gain for small products). */
#ifndef GEMM_PRIVATE_B_MAX
#define GEMM_PRIVATE_B_MAX (1024.0 * 1024.0)
#endif
/* Read a row-major A where it lies instead of packing it (gemm_impl.h, row_block) */
#ifndef GEMM_A_IN_PLACE
#define GEMM_A_IN_PLACE 1
#endif
#ifndef GEMM_MIN_STRIPS /* the smallest chunk of rows a thread takes, in MR-strips */
#define GEMM_MIN_STRIPS 4
#endif

/* ---- the variants: MR x (NV vectors) register tiles per ISA -------------------------- */

/* The register tile of each ISA (TG_VEC_BYTES, set by tg_instantiate.h, says which):
 *   baseline, 16-byte vectors (SSE2 / NEON), 16 registers: 4 x 8 floats, 4 x 4 doubles
 *   AVX2 + FMA, 16 ymm registers: 6 x 16 floats, 6 x 8 doubles (12 accumulators)
 *   AVX-512, 32 zmm registers: 8 x 32 floats, 8 x 16 doubles (16 accumulators)
 * and how many independent FMA chains the peak measurement keeps in flight. */
#define GEMM_MR (TG_VEC_BYTES == 64 ? 8 : TG_VEC_BYTES == 32 ? 6 : 4)
#define GEMM_NV 2
#define GEMM_PEAK_ACC (TG_VEC_BYTES == 64 ? 16 : 12)

#define TG_TEMPLATE "gemm_impl.h"
#define TG_API "gemm_api.h"
#include "tg_instantiate.h"

/* ---- the naive loop, and what the variants report about themselves ------------------- */

void tg_gemm_naive_f32(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *a, const float *b,
                       float *c) {
    for (ptrdiff_t i = 0; i < M; i++) {
        for (ptrdiff_t j = 0; j < N; j++) c[i * N + j] = 0.0f;
        for (ptrdiff_t k = 0; k < K; k++) {
            float aik = a[i * K + k];
            for (ptrdiff_t j = 0; j < N; j++) c[i * N + j] += aik * b[k * N + j];
        }
    }
}

void tg_gemm_blocking(int isa, int f64, ptrdiff_t out[5]) {
    isa = tg_clamp_isa(isa);
    if (f64) TG_PICK(isa, blocking_f64)(out);
    else TG_PICK(isa, blocking_f32)(out);
}

double tg_fma_peak_flops(int isa, int f64, ptrdiff_t iters, int nthreads) {
    double total = 0;
    isa = tg_clamp_isa(isa);
    if (nthreads < 1) nthreads = 1;
    _Pragma("omp parallel num_threads(nthreads) reduction(+ : total)") {
        total += f64 ? TG_PICK(isa, fma_peak_f64)(iters) : TG_PICK(isa, fma_peak_f32)(iters);
    }
    return total;
}
