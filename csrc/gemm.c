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
 * L1 GEMM_PF_LATE steps of k before it ends. (Measured: +3-8% for n >= 1024.) */
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
 * travelling between the cores (measured: 1.8x faster at n = 128, 5-10% at n = 512). */
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

/* baseline, 16-byte vectors (SSE2 / NEON), 16 registers: 4 x 8 floats, 4 x 4 doubles */
#define TG_SUFFIX base
#define TG_VEC_BYTES 16
#include "tg_vec.h"
#define GEMM_PEAK_ACC 12
#define GEMM_F64 0
#define GEMM_MR 4
#define GEMM_NV 2
#include "gemm_impl.h"
#define GEMM_F64 1
#define GEMM_MR 4
#define GEMM_NV 2
#include "gemm_impl.h"
#undef GEMM_PEAK_ACC
#include "tg_vec_end.h"

#if TG_X86
/* AVX2 + FMA, 16 ymm registers: 6 x 16 floats, 6 x 8 doubles (12 accumulators) */
TG_BEGIN_TARGET_AVX2
#define TG_SUFFIX avx2
#define TG_VEC_BYTES 32
#include "tg_vec.h"
#define GEMM_PEAK_ACC 12
#define GEMM_F64 0
#define GEMM_MR 6
#define GEMM_NV 2
#include "gemm_impl.h"
#define GEMM_F64 1
#define GEMM_MR 6
#define GEMM_NV 2
#include "gemm_impl.h"
#undef GEMM_PEAK_ACC
#include "tg_vec_end.h"
TG_END_TARGET

/* AVX-512, 32 zmm registers: 8 x 32 floats, 8 x 16 doubles (16 accumulators) */
TG_BEGIN_TARGET_AVX512
#define TG_SUFFIX avx512
#define TG_VEC_BYTES 64
#include "tg_vec.h"
#define GEMM_PEAK_ACC 16
#define GEMM_F64 0
#define GEMM_MR 8
#define GEMM_NV 2
#include "gemm_impl.h"
#define GEMM_F64 1
#define GEMM_MR 8
#define GEMM_NV 2
#include "gemm_impl.h"
#undef GEMM_PEAK_ACC
#include "tg_vec_end.h"
TG_END_TARGET
#endif

/* ---- entry points -------------------------------------------------------------------- */

#if TG_X86
#define TG_PICK(isa, fn, dt, args)                                                           \
    ((isa) == TG_ISA_AVX512 ? fn##_avx512_##dt args                                           \
     : (isa) == TG_ISA_AVX2 ? fn##_avx2_##dt args                                             \
                            : fn##_base_##dt args)
#else
#define TG_PICK(isa, fn, dt, args) fn##_base_##dt args
#endif

#define TG_GEMM_ENTRY(T, dt)                                                                 \
    int tg_gemm_##dt(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const T *a, ptrdiff_t rsa,      \
                      ptrdiff_t csa, const T *b, ptrdiff_t rsb, ptrdiff_t csb, T *c,         \
                      ptrdiff_t ldc, int accumulate, int isa, int nthreads) {                \
        return tg_gemm_batched_##dt(1, M, N, K, a, NULL, rsa, csa, b, NULL, rsb, csb, c, 0, ldc,    \
                             accumulate, isa, nthreads);                                     \
    }                                                                                        \
    int tg_gemm_batched_##dt(ptrdiff_t batch, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,        \
                              const T *a, const ptrdiff_t *a_off, ptrdiff_t rsa,             \
                              ptrdiff_t csa, const T *b, const ptrdiff_t *b_off,             \
                              ptrdiff_t rsb, ptrdiff_t csb, T *c, ptrdiff_t c_step,          \
                              ptrdiff_t ldc, int accumulate, int isa, int nthreads) {        \
        if (batch <= 0 || M <= 0 || N <= 0) return 0;                                        \
        if (K <= 0) { /* an empty sum: C = 0, or C unchanged */                              \
            if (!accumulate)                                                                 \
                for (ptrdiff_t q = 0; q < batch; q++)                                        \
                    for (ptrdiff_t i = 0; i < M; i++)                                        \
                        for (ptrdiff_t j = 0; j < N; j++) c[q * c_step + i * ldc + j] = 0;   \
            return 0;                                                                        \
        }                                                                                    \
        if (nthreads < 1) nthreads = 1;                                                      \
        tg_gemm_args_##dt p = {M, N, K, a, rsa, csa, b, rsb, csb, c, ldc, accumulate};       \
        isa = tg_clamp_isa(isa);                                                             \
        if (batch == 1 && !a_off) return TG_PICK(isa, gemm, dt, (&p, nthreads));             \
        return TG_PICK(isa, gemm_batched, dt, (batch, &p, a_off, b_off, c_step, nthreads));  \
    }
TG_GEMM_ENTRY(float, f32)
TG_GEMM_ENTRY(double, f64)

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
    if (f64) TG_PICK(isa, blocking, f64, (out));
    else TG_PICK(isa, blocking, f32, (out));
}

double tg_fma_peak_flops(int isa, int f64, ptrdiff_t iters, int nthreads) {
    double total = 0;
    isa = tg_clamp_isa(isa);
    if (nthreads < 1) nthreads = 1;
    _Pragma("omp parallel num_threads(nthreads) reduction(+ : total)") {
        total += f64 ? TG_PICK(isa, fma_peak, f64, (iters)) : TG_PICK(isa, fma_peak, f32, (iters));
    }
    return total;
}
