/* reduce.c -- the ISA variants of reduce_impl.h and the entry points that pick one. */
#include "reduce.h"
#include "tg_isa.h"

#define TG_SUFFIX base
#define TG_VEC_BYTES 16
#include "reduce_impl.h"

#if TG_X86
TG_BEGIN_TARGET_AVX2
#define TG_SUFFIX avx2
#define TG_VEC_BYTES 32
#include "reduce_impl.h"
TG_END_TARGET

TG_BEGIN_TARGET_AVX512
#define TG_SUFFIX avx512
#define TG_VEC_BYTES 64
#include "reduce_impl.h"
TG_END_TARGET
#endif

float tg_dot_f32(const float *x, const float *y, ptrdiff_t n, int isa) {
    switch (tg_clamp_isa(isa)) {
#if TG_X86
    case TG_ISA_AVX512: return dot_f32_avx512(x, y, n);
    case TG_ISA_AVX2: return dot_f32_avx2(x, y, n);
#endif
    default: return dot_f32_base(x, y, n);
    }
}

double tg_dot_f64(const double *x, const double *y, ptrdiff_t n, int isa) {
    switch (tg_clamp_isa(isa)) {
#if TG_X86
    case TG_ISA_AVX512: return dot_f64_avx512(x, y, n);
    case TG_ISA_AVX2: return dot_f64_avx2(x, y, n);
#endif
    default: return dot_f64_base(x, y, n);
    }
}

/* Threads split the columns into contiguous chunks (a multiple of 16, one cache
 * line of floats, so no two threads write the same line). */
#define TG_COLSUM_DRIVER(T, SFX)                                                            \
    void tg_colsum_##SFX(const T *x, ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t ld, T *out,  \
                         int accumulate, int isa, int nthreads) {                           \
        isa = tg_clamp_isa(isa);                                                            \
        if (rows * cols < 65536) nthreads = 1; /* too little work to wake threads */        \
        ptrdiff_t chunk = (cols + nthreads - 1) / nthreads;                                 \
        chunk = (chunk + 15) / 16 * 16;                                                     \
        _Pragma("omp parallel for num_threads(nthreads) schedule(static)")                  \
        for (ptrdiff_t c0 = 0; c0 < cols; c0 += chunk) {                                    \
            ptrdiff_t c1 = c0 + chunk < cols ? c0 + chunk : cols;                           \
            if (isa == TG_ISA_AVX512) TG_COLSUM_CALL(SFX, avx512);                          \
            else if (isa == TG_ISA_AVX2) TG_COLSUM_CALL(SFX, avx2);                         \
            else colsum_##SFX##_base(x, rows, ld, c0, c1, out, accumulate);                 \
        }                                                                                   \
    }
#if TG_X86
#define TG_COLSUM_CALL(SFX, ISA) colsum_##SFX##_##ISA(x, rows, ld, c0, c1, out, accumulate)
#else
#define TG_COLSUM_CALL(SFX, ISA) colsum_##SFX##_base(x, rows, ld, c0, c1, out, accumulate)
#endif
TG_COLSUM_DRIVER(float, f32)
TG_COLSUM_DRIVER(double, f64)

/* Threads take contiguous chunks, each a whole number of cache lines (16 floats or
 * 8 doubles) so that no two threads write the same line. Below 64k numbers one
 * thread does it all: waking the other costs more than it saves. */
#define TG_ADD_DRIVER(T, SFX, LINE)                                                          \
    void tg_add_##SFX(const T *a, const T *b, T *out, ptrdiff_t n, int isa, int nthreads) {  \
        isa = tg_clamp_isa(isa);                                                            \
        if (n < 65536) nthreads = 1;                                                        \
        ptrdiff_t chunk = (n + nthreads - 1) / nthreads;                                    \
        chunk = (chunk + LINE - 1) / LINE * LINE;                                           \
        _Pragma("omp parallel for num_threads(nthreads) schedule(static)")                  \
        for (ptrdiff_t i0 = 0; i0 < n; i0 += chunk) {                                       \
            ptrdiff_t len = i0 + chunk < n ? chunk : n - i0;                                \
            if (isa == TG_ISA_AVX512) TG_ADD_CALL(SFX, avx512);                             \
            else if (isa == TG_ISA_AVX2) TG_ADD_CALL(SFX, avx2);                            \
            else add_##SFX##_base(a + i0, b + i0, out + i0, len);                           \
        }                                                                                   \
    }
#if TG_X86
#define TG_ADD_CALL(SFX, ISA) add_##SFX##_##ISA(a + i0, b + i0, out + i0, len)
#else
#define TG_ADD_CALL(SFX, ISA) add_##SFX##_base(a + i0, b + i0, out + i0, len)
#endif
TG_ADD_DRIVER(float, f32, 16)
TG_ADD_DRIVER(double, f64, 8)
