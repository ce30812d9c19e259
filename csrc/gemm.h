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

/* A product with a fused epilogue: C = A @ B, then, on each MR x NR tile of C while it
 * is still in L1 (after its last k-block), in this order:
 *   + bias[j]            bias (N,) or NULL
 *   + resid[i*N + j]     resid (M, N) C-contiguous, or NULL: the residual add
 *   pre[i*N + j] = C     pre (M, N) C-contiguous, or NULL: the value before activation
 *   C = GELU(C)          act 0: none, 1: exact GELU, 2: GELU's tanh form
 * C is (M, N), C-contiguous. Each step is the unfused one's own arithmetic (GELU is
 * gelu.c's kernel), so the result equals gemm, then the adds, then gelu, bit for bit. */
int tg_gemm_fused_f32(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *a, ptrdiff_t rsa,
                      ptrdiff_t csa, const float *b, ptrdiff_t rsb, ptrdiff_t csb, float *c,
                      const float *bias, const float *resid, float *pre, int act, int isa,
                      int nthreads);
int tg_gemm_fused_f64(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const double *a, ptrdiff_t rsa,
                      ptrdiff_t csa, const double *b, ptrdiff_t rsb, ptrdiff_t csb, double *c,
                      const double *bias, const double *resid, double *pre, int act, int isa,
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
