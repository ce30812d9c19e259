/* gemm.h -- matrix multiply C (+)= A @ B, the kernel under every Linear layer.
 *
 * A is (M, K), B is (K, N), both with ANY element strides (a transposed view is just
 * swapped strides; a reversed one has negative strides): element A[i, k] is at
 * a[i * rsa + k * csa], B[k, j] at b[k * rsb + j * csb]. C is (M, N) with rows ldc
 * elements apart and unit column stride. `accumulate` = 0: C = A @ B; 1: C += A @ B.
 * M, N, K may be 0. Returns 0, or -1 when out of memory. See gemm_impl.h for how it
 * is made fast.
 */
#ifndef TG_GEMM_H
#define TG_GEMM_H
#include <stddef.h>

int tg_gemm_f32(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *a, ptrdiff_t rsa,
                 ptrdiff_t csa, const float *b, ptrdiff_t rsb, ptrdiff_t csb, float *c,
                 ptrdiff_t ldc, int accumulate, int isa, int nthreads);
int tg_gemm_f64(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const double *a, ptrdiff_t rsa,
                 ptrdiff_t csa, const double *b, ptrdiff_t rsb, ptrdiff_t csb, double *c,
                 ptrdiff_t ldc, int accumulate, int isa, int nthreads);

/* A batch of equal-shaped products: matrix p uses A at a + a_off[p], B at b + b_off[p]
 * (offsets in elements; broadcasting repeats an offset) and C at c + p * c_step.
 * Many small matrices run one per thread; a few large ones are threaded inside. */
int tg_gemm_batched_f32(ptrdiff_t batch, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                         const float *a, const ptrdiff_t *a_off, ptrdiff_t rsa, ptrdiff_t csa,
                         const float *b, const ptrdiff_t *b_off, ptrdiff_t rsb, ptrdiff_t csb,
                         float *c, ptrdiff_t c_step, ptrdiff_t ldc, int accumulate, int isa,
                         int nthreads);
int tg_gemm_batched_f64(ptrdiff_t batch, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                         const double *a, const ptrdiff_t *a_off, ptrdiff_t rsa, ptrdiff_t csa,
                         const double *b, const ptrdiff_t *b_off, ptrdiff_t rsb, ptrdiff_t csb,
                         double *c, ptrdiff_t c_step, ptrdiff_t ldc, int accumulate, int isa,
                         int nthreads);

/* The first rung of the ladder: the textbook i-k-j loops, C-contiguous operands,
 * no blocking, no packing, one thread (the compiler may still vectorize the j loop). */
void tg_gemm_naive_f32(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *a, const float *b,
                       float *c);

/* Block sizes of one ISA/dtype variant: out[0..4] = MR, NR, MC, KC, PANEL_BYTES. */
void tg_gemm_blocking(int isa, int f64, ptrdiff_t out[5]);

/* Run `iters` steps of independent FMA chains on each of `nthreads` threads (the
 * machine's peak, as a micro-benchmark); returns the floating-point operations done.
 * The caller times it. */
double tg_fma_peak_flops(int isa, int f64, ptrdiff_t iters, int nthreads);

#endif
