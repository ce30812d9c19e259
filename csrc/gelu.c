/* gelu.c -- the ISA x dtype copies of gelu_impl.h, and the entry points. */
#include "gelu.h"
#include "tg_isa.h"

#define TG_TEMPLATE "gelu_impl.h"
#include "tg_instantiate.h"

/* Element-wise, so any split works: each thread gets one contiguous chunk, a multiple
 * of 16 elements (64-byte cache lines of float32) so no two threads write one line. */
#define TG_CHUNKS(n, nt) ((((n) + (nt)-1) / (nt) + 15) / 16 * 16)

#define TG_GELU_API(T, SFX)                                                                  \
    void tg_gelu_##SFX(const T *x, T *y, ptrdiff_t n, int tanh_form, int isa, int nthreads) { \
        void (*fn)(const T *, T *, ptrdiff_t, int) = TG_PICK(tg_clamp_isa(isa), gelu_##SFX);  \
        int nt = tg_threads_for(n * 8, n, nthreads); /* ~8x the work of a copy */            \
        ptrdiff_t chunk = TG_CHUNKS(n, nt);                                                  \
        TG_PARALLEL_FOR(nt, for (ptrdiff_t i = 0; i < n; i += chunk)                         \
                                fn(x + i, y + i, n - i < chunk ? n - i : chunk, tanh_form););  \
    }                                                                                        \
    void tg_gelu_backward_##SFX(const T *x, const T *dy, T *dx, ptrdiff_t n, int tanh_form,   \
                                int isa, int nthreads) {                                     \
        void (*fn)(const T *, const T *, T *, ptrdiff_t, int) =                              \
            TG_PICK(tg_clamp_isa(isa), gelu_backward_##SFX);                                 \
        int nt = tg_threads_for(n * 8, n, nthreads);                                         \
        ptrdiff_t chunk = TG_CHUNKS(n, nt);                                                  \
        TG_PARALLEL_FOR(nt, for (ptrdiff_t i = 0; i < n; i += chunk)                         \
                                fn(x + i, dy + i, dx + i, n - i < chunk ? n - i : chunk,     \
                                   tanh_form););                                             \
    }
TG_GELU_API(float, f32)
TG_GELU_API(double, f64)
