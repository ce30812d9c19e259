# distutils: sources = csrc/gemm.c csrc/gelu.c
"""Compiled matrix multiply: C (+)= A @ B over csrc/gemm.c (design: csrc/gemm_impl.h).

gemm_fused adds the fused epilogue (bias, residual, GELU: gemm.h), which calls
csrc/gelu.c's kernel on each tile of C; so gelu.c is compiled into this module too.

Every function here trusts its caller: compiled.py has checked shapes and dtypes
and handled the empty cases, so each matrix here has at least one element. The arrays keep their own strides: the C
packing routines read transposed, sliced and reversed views directly.
"""

cdef extern from "gemm.h":
    int tg_gemm_f32(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K, const float *a, Py_ssize_t rsa,
                    Py_ssize_t csa, const float *b, Py_ssize_t rsb, Py_ssize_t csb, float *c,
                    Py_ssize_t ldc, int accumulate, int isa, int nthreads) nogil
    int tg_gemm_f64(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K, const double *a, Py_ssize_t rsa,
                    Py_ssize_t csa, const double *b, Py_ssize_t rsb, Py_ssize_t csb, double *c,
                    Py_ssize_t ldc, int accumulate, int isa, int nthreads) nogil
    int tg_gemm_batched_f32(Py_ssize_t batch, Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                            const float *a, const Py_ssize_t *a_off, Py_ssize_t rsa,
                            Py_ssize_t csa, const float *b, const Py_ssize_t *b_off,
                            Py_ssize_t rsb, Py_ssize_t csb, float *c, Py_ssize_t c_step,
                            Py_ssize_t ldc, int accumulate, int isa, int nthreads) nogil
    int tg_gemm_batched_f64(Py_ssize_t batch, Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                            const double *a, const Py_ssize_t *a_off, Py_ssize_t rsa,
                            Py_ssize_t csa, const double *b, const Py_ssize_t *b_off,
                            Py_ssize_t rsb, Py_ssize_t csb, double *c, Py_ssize_t c_step,
                            Py_ssize_t ldc, int accumulate, int isa, int nthreads) nogil
    int tg_gemm_fused_f32(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K, const float *a,
                          Py_ssize_t rsa, Py_ssize_t csa, const float *b, Py_ssize_t rsb,
                          Py_ssize_t csb, float *c, const float *bias, const float *resid,
                          float *pre, int act, int isa, int nthreads) nogil
    int tg_gemm_fused_f64(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K, const double *a,
                          Py_ssize_t rsa, Py_ssize_t csa, const double *b, Py_ssize_t rsb,
                          Py_ssize_t csb, double *c, const double *bias, const double *resid,
                          double *pre, int act, int isa, int nthreads) nogil
    void tg_gemm_naive_f32(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K, const float *a,
                           const float *b, float *c) nogil
    void tg_gemm_blocking(int isa, int f64, Py_ssize_t out[5])
    double tg_fma_peak_flops(int isa, int f64, Py_ssize_t iters, int nthreads) nogil


cdef inline int _check(int err) except -1:
    if err:
        raise MemoryError("gemm: could not allocate its packing buffers")
    return 0


cdef inline bint _in_elements(const char *p, Py_ssize_t s0, Py_ssize_t s1, Py_ssize_t item):
    """Memoryview strides are in bytes; the kernel counts elements. True when both
    strides and the address are whole multiples of the item size (else the caller
    copies: only odd views made with as_strided or from raw buffers fail this)."""
    return s0 % item == 0 and s1 % item == 0 and (<size_t>p) % item == 0


def gemm_f32(const float[:, :] a, const float[:, :] b, float[:, ::1] c, bint accumulate,
             int isa, int nthreads):
    """c (+)= a @ b for a (M, K), b (K, N), c (M, N), all non-empty.
    Returns False, computing nothing, if a or b needs a copy first (see _in_elements)."""
    cdef Py_ssize_t M = a.shape[0], K = a.shape[1], N = b.shape[1], err
    if not (_in_elements(<const char *>&a[0, 0], a.strides[0], a.strides[1], 4)
            and _in_elements(<const char *>&b[0, 0], b.strides[0], b.strides[1], 4)):
        return False
    with nogil:
        err = tg_gemm_f32(M, N, K, &a[0, 0], a.strides[0] // 4, a.strides[1] // 4,
                          &b[0, 0], b.strides[0] // 4, b.strides[1] // 4,
                          &c[0, 0], N, accumulate, isa, nthreads)
    _check(err)
    return True


def gemm_f64(const double[:, :] a, const double[:, :] b, double[:, ::1] c, bint accumulate,
             int isa, int nthreads):
    cdef Py_ssize_t M = a.shape[0], K = a.shape[1], N = b.shape[1], err
    if not (_in_elements(<const char *>&a[0, 0], a.strides[0], a.strides[1], 8)
            and _in_elements(<const char *>&b[0, 0], b.strides[0], b.strides[1], 8)):
        return False
    with nogil:
        err = tg_gemm_f64(M, N, K, &a[0, 0], a.strides[0] // 8, a.strides[1] // 8,
                          &b[0, 0], b.strides[0] // 8, b.strides[1] // 8,
                          &c[0, 0], N, accumulate, isa, nthreads)
    _check(err)
    return True


def gemm_batched_f32(const float[:, :] a0, const Py_ssize_t[::1] a_off,
                     const float[:, :] b0, const Py_ssize_t[::1] b_off,
                     float[:, :, ::1] c, int isa, int nthreads):
    """c[q] = A_q @ B_q, where A_q starts a_off[q] elements after a0[0, 0] and has a0's
    strides (a0 is the first matrix of the broadcast batch), and likewise B_q."""
    cdef Py_ssize_t batch = c.shape[0], M = c.shape[1], N = c.shape[2], K = a0.shape[1], err
    with nogil:
        err = tg_gemm_batched_f32(batch, M, N, K, &a0[0, 0], &a_off[0], a0.strides[0] // 4,
                                  a0.strides[1] // 4, &b0[0, 0], &b_off[0], b0.strides[0] // 4,
                                  b0.strides[1] // 4, &c[0, 0, 0], M * N, N, 0, isa, nthreads)
    _check(err)


def gemm_batched_f64(const double[:, :] a0, const Py_ssize_t[::1] a_off,
                     const double[:, :] b0, const Py_ssize_t[::1] b_off,
                     double[:, :, ::1] c, int isa, int nthreads):
    cdef Py_ssize_t batch = c.shape[0], M = c.shape[1], N = c.shape[2], K = a0.shape[1], err
    with nogil:
        err = tg_gemm_batched_f64(batch, M, N, K, &a0[0, 0], &a_off[0], a0.strides[0] // 8,
                                  a0.strides[1] // 8, &b0[0, 0], &b_off[0], b0.strides[0] // 8,
                                  b0.strides[1] // 8, &c[0, 0, 0], M * N, N, 0, isa, nthreads)
    _check(err)


def gemm_fused_f32(const float[:, :] a, const float[:, :] b, float[:, ::1] c,
                   const float[::1] bias, const float[:, ::1] resid, float[:, ::1] pre,
                   int act, int isa, int nthreads):
    """c = a @ b, then + bias, + resid, pre = c, c = GELU(c) (act 1 exact, 2 tanh) on
    each tile as it is written; bias, resid and pre may be None. Shapes as in gemm_f32,
    resid and pre (M, N); K may be 0. Returns False, computing nothing, as gemm_f32 does."""
    cdef Py_ssize_t M = a.shape[0], K = a.shape[1], N = b.shape[1], err
    cdef const float *pb = NULL
    cdef const float *pr = NULL
    cdef float *pp = NULL
    if K and not (_in_elements(<const char *>&a[0, 0], a.strides[0], a.strides[1], 4)
                  and _in_elements(<const char *>&b[0, 0], b.strides[0], b.strides[1], 4)):
        return False
    if bias is not None:
        pb = &bias[0]
    if resid is not None:
        pr = &resid[0, 0]
    if pre is not None:
        pp = &pre[0, 0]
    with nogil:
        err = tg_gemm_fused_f32(M, N, K, &a[0, 0] if K else NULL,
                                a.strides[0] // 4, a.strides[1] // 4,
                                &b[0, 0] if K else NULL, b.strides[0] // 4, b.strides[1] // 4,
                                &c[0, 0], pb, pr, pp, act, isa, nthreads)
    _check(err)
    return True


def gemm_fused_f64(const double[:, :] a, const double[:, :] b, double[:, ::1] c,
                   const double[::1] bias, const double[:, ::1] resid, double[:, ::1] pre,
                   int act, int isa, int nthreads):
    cdef Py_ssize_t M = a.shape[0], K = a.shape[1], N = b.shape[1], err
    cdef const double *pb = NULL
    cdef const double *pr = NULL
    cdef double *pp = NULL
    if K and not (_in_elements(<const char *>&a[0, 0], a.strides[0], a.strides[1], 8)
                  and _in_elements(<const char *>&b[0, 0], b.strides[0], b.strides[1], 8)):
        return False
    if bias is not None:
        pb = &bias[0]
    if resid is not None:
        pr = &resid[0, 0]
    if pre is not None:
        pp = &pre[0, 0]
    with nogil:
        err = tg_gemm_fused_f64(M, N, K, &a[0, 0] if K else NULL,
                                a.strides[0] // 8, a.strides[1] // 8,
                                &b[0, 0] if K else NULL, b.strides[0] // 8, b.strides[1] // 8,
                                &c[0, 0], pb, pr, pp, act, isa, nthreads)
    _check(err)
    return True


def gemm_naive_f32(const float[:, ::1] a, const float[:, ::1] b, float[:, ::1] c):
    """The textbook i-k-j loops (C-contiguous operands, one thread)."""
    cdef Py_ssize_t M = a.shape[0], K = a.shape[1], N = b.shape[1]
    with nogil:
        tg_gemm_naive_f32(M, N, K, &a[0, 0], &b[0, 0], &c[0, 0])


def blocking(int isa, bint f64):
    """(MR, NR, MC, KC, PANEL_BYTES) of one ISA/dtype variant."""
    cdef Py_ssize_t out[5]
    tg_gemm_blocking(isa, f64, out)
    return (out[0], out[1], out[2], out[3], out[4])


def fma_peak_flops(int isa, bint f64, Py_ssize_t iters, int nthreads):
    """Run the FMA-loop micro-benchmark; returns the flops it did (the caller times it)."""
    cdef double flops
    with nogil:
        flops = tg_fma_peak_flops(isa, f64, iters, nthreads)
    return flops
