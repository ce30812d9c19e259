/* tg_isa.h -- one kernel, compiled once per instruction set, chosen at run time.
 *
 * Why: `-march=native` would make the fastest code for *this* CPU, but a wheel
 * built that way crashes (illegal instruction) on an older one. Instead each SIMD
 * kernel is written once, with GCC vector types whose width is a macro, and the C
 * file includes it three times:
 *
 *     base    SSE2 on x86-64 (every x86-64 CPU has it), NEON on arm64   16 bytes
 *     avx2    AVX2 + FMA (Haswell, 2013, and newer; AMD Zen)           32 bytes
 *     avx512  AVX-512 F/VL/BW/DQ (Skylake-X, Ice Lake, Sapphire Rapids, Zen 4)  64 bytes
 *
 * Each copy is compiled for its own ISA with a target pragma (TG_BEGIN_TARGET_*),
 * and the public entry point switches on an `isa` argument that Python chooses
 * from tg_best_isa() -- itself from __builtin_cpu_supports, which works in GCC and
 * clang, on Linux, macOS and Windows (unlike ifunc-based target_clones).
 * Tests call every variant the CPU supports and compare each with the NumPy twin.
 */
#ifndef TG_ISA_H
#define TG_ISA_H

#include <stddef.h>
#include <stdint.h>

enum { TG_ISA_BASE = 0, TG_ISA_AVX2 = 1, TG_ISA_AVX512 = 2 };

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#define TG_X86 1
#else
#define TG_X86 0
#endif

/* Target pragmas for GCC and clang (clang spells "apply this attribute" differently). */
#if defined(__clang__)
#define TG_BEGIN_TARGET_AVX2 \
    _Pragma("clang attribute push (__attribute__((target(\"avx2,fma\"))), apply_to=function)")
#define TG_BEGIN_TARGET_AVX512 \
    _Pragma("clang attribute push (__attribute__((target(\"avx512f,avx512vl,avx512bw,avx512dq,avx2,fma\"))), apply_to=function)")
#define TG_END_TARGET _Pragma("clang attribute pop")
#else
#define TG_BEGIN_TARGET_AVX2 _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma\")")
#define TG_BEGIN_TARGET_AVX512 \
    _Pragma("GCC push_options") _Pragma("GCC target(\"avx512f,avx512vl,avx512bw,avx512dq,avx2,fma\")")
#define TG_END_TARGET _Pragma("GCC pop_options")
#endif

/* Name pasting: TG_FN(dot) becomes dot_base / dot_avx2 / dot_avx512 inside a variant. */
#define TG_CAT2(a, b) a##_##b
#define TG_CAT(a, b) TG_CAT2(a, b)
#define TG_FN(name) TG_CAT(name, TG_SUFFIX)

/* TG_PICK(isa, softmax_row_f32) names the variant of a kernel that `isa` selects:
 * softmax_row_f32_avx512, _avx2 or _base (names are always name_<dtype>_<isa>). The one
 * dispatch of every entry point: TG_PICK(isa, DNAME(softmax_row))(x, y, cols). */
#if TG_X86
#define TG_PICK(isa, name)                                   \
    ((isa) == TG_ISA_AVX512 ? TG_CAT(name, avx512)           \
     : (isa) == TG_ISA_AVX2 ? TG_CAT(name, avx2)             \
                            : TG_CAT(name, base))
#else
#define TG_PICK(isa, name) TG_CAT(name, base)
#endif

/* OpenMP is optional: without it the kernels run on one thread. */
#ifndef TG_NO_OPENMP
#include <omp.h>
#define TG_HAVE_OPENMP 1
#else
#define TG_HAVE_OPENMP 0
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
static inline int omp_get_max_threads(void) { return 1; }
#endif

/* TG_PARALLEL_FOR(nt, for (...) body;) splits the loop over nt threads, as
 * `#pragma omp parallel for num_threads(nt) schedule(static)` does, except that with
 * nt <= 1 the loop simply runs. Entering a parallel region costs ~0.3 us even for ONE
 * thread (libgomp sets up a team every time, and GCC's `if` clause does not skip it):
 * longer than a softmax or a LayerNorm of a 64-wide row takes, so every small op
 * would pay it. The loop is written once; the preprocessor pastes it twice.
 * TG_PARALLEL(nt, { block }) is the same for `#pragma omp parallel`: outside a region,
 * omp_get_thread_num() is 0 and omp_get_num_threads() is 1, so the block runs as
 * thread 0 of 1 without a change. */
#define TG_PRAGMA(x) _Pragma(#x)
#define TG_PARALLEL_FOR(nt, ...)                                                   \
    do {                                                                           \
        if ((nt) > 1) {                                                            \
            TG_PRAGMA(omp parallel for num_threads(nt) schedule(static))           \
            __VA_ARGS__                                                            \
        } else {                                                                   \
            __VA_ARGS__                                                            \
        }                                                                          \
    } while (0)
#define TG_PARALLEL(nt, ...)                                                       \
    do {                                                                           \
        if ((nt) > 1) {                                                            \
            TG_PRAGMA(omp parallel num_threads(nt))                                \
            __VA_ARGS__                                                            \
        } else {                                                                   \
            __VA_ARGS__                                                            \
        }                                                                          \
    } while (0)

/* The best ISA that both this build and the running CPU support. */
static inline int tg_best_isa(void) {
#if TG_X86 && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        return TG_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return TG_ISA_AVX2;
#endif
    return TG_ISA_BASE;
}

/* Clamp a requested ISA to what the build has: non-x86 builds only have `base`. */
static inline int tg_clamp_isa(int isa) {
#if TG_X86
    return isa < TG_ISA_BASE ? TG_ISA_BASE : (isa > TG_ISA_AVX512 ? TG_ISA_AVX512 : isa);
#else
    (void)isa;
    return TG_ISA_BASE;
#endif
}

#endif /* TG_ISA_H */
