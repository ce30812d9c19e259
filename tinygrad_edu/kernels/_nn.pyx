# distutils: sources = csrc/layernorm.c
"""Compiled LayerNorm (forward/backward) and embedding scatter-add.

Trusts its caller: tinygrad_edu/kernels/compiled.py validates shapes, dtypes and
index ranges, and passes C-contiguous arrays, before anything here runs.
"""

from libc.stdint cimport int64_t

cdef extern from "layernorm.h":
    void tg_layernorm_fwd_f32(const float *x, const float *w, const float *b, float *y,
                              float *mean, float *rstd, Py_ssize_t N, Py_ssize_t C, double eps,
                              int isa, int nthreads) nogil
    void tg_layernorm_fwd_f64(const double *x, const double *w, const double *b, double *y,
                              double *mean, double *rstd, Py_ssize_t N, Py_ssize_t C, double eps,
                              int isa, int nthreads) nogil
    int tg_layernorm_bwd_f32(const float *x, const float *w, const float *mean, const float *rstd,
                             const float *dy, float *dx, float *dw, float *db, Py_ssize_t N,
                             Py_ssize_t C, int isa, int nthreads) nogil
    int tg_layernorm_bwd_f64(const double *x, const double *w, const double *mean,
                             const double *rstd, const double *dy, double *dx, double *dw,
                             double *db, Py_ssize_t N, Py_ssize_t C, int isa, int nthreads) nogil
    void tg_embedding_bwd_f32(const int64_t *idx, Py_ssize_t n, const float *g, Py_ssize_t D,
                              float *dw, int64_t V_rows, int isa, int nthreads) nogil
    void tg_embedding_bwd_f64(const int64_t *idx, Py_ssize_t n, const double *g, Py_ssize_t D,
                              double *dw, int64_t V_rows, int isa, int nthreads) nogil


def layernorm_fwd_f32(const float[:, ::1] x, const float[::1] w, const float[::1] b,
                      float[:, ::1] y, float[::1] mean, float[::1] rstd, double eps,
                      int isa, int nthreads):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1]
    cdef const float *wp = &w[0] if w is not None else NULL
    cdef const float *bp = &b[0] if b is not None else NULL
    if N == 0 or C == 0:
        return
    with nogil:
        tg_layernorm_fwd_f32(&x[0, 0], wp, bp, &y[0, 0], &mean[0], &rstd[0], N, C, eps, isa, nthreads)


def layernorm_fwd_f64(const double[:, ::1] x, const double[::1] w, const double[::1] b,
                      double[:, ::1] y, double[::1] mean, double[::1] rstd, double eps,
                      int isa, int nthreads):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1]
    cdef const double *wp = &w[0] if w is not None else NULL
    cdef const double *bp = &b[0] if b is not None else NULL
    if N == 0 or C == 0:
        return
    with nogil:
        tg_layernorm_fwd_f64(&x[0, 0], wp, bp, &y[0, 0], &mean[0], &rstd[0], N, C, eps, isa, nthreads)


def layernorm_bwd_f32(const float[:, ::1] x, const float[::1] w, const float[::1] mean,
                      const float[::1] rstd, const float[:, ::1] dy, float[:, ::1] dx,
                      float[::1] dw, float[::1] db, int isa, int nthreads):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1]
    cdef const float *wp = &w[0] if w is not None else NULL
    cdef float *dwp = &dw[0] if dw is not None else NULL
    cdef int rc
    if N == 0 or C == 0:
        return
    with nogil:
        rc = tg_layernorm_bwd_f32(&x[0, 0], wp, &mean[0], &rstd[0], &dy[0, 0], &dx[0, 0], dwp,
                                  &db[0], N, C, isa, nthreads)
    if rc != 0:
        raise MemoryError("layernorm backward: out of memory for per-thread sums")


def layernorm_bwd_f64(const double[:, ::1] x, const double[::1] w, const double[::1] mean,
                      const double[::1] rstd, const double[:, ::1] dy, double[:, ::1] dx,
                      double[::1] dw, double[::1] db, int isa, int nthreads):
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1]
    cdef const double *wp = &w[0] if w is not None else NULL
    cdef double *dwp = &dw[0] if dw is not None else NULL
    cdef int rc
    if N == 0 or C == 0:
        return
    with nogil:
        rc = tg_layernorm_bwd_f64(&x[0, 0], wp, &mean[0], &rstd[0], &dy[0, 0], &dx[0, 0], dwp,
                                  &db[0], N, C, isa, nthreads)
    if rc != 0:
        raise MemoryError("layernorm backward: out of memory for per-thread sums")


def embedding_bwd_f32(const int64_t[::1] idx, const float[:, ::1] g, float[:, ::1] dw,
                      int isa, int nthreads):
    if idx.shape[0] == 0 or g.shape[1] == 0:
        return
    with nogil:
        tg_embedding_bwd_f32(&idx[0], idx.shape[0], &g[0, 0], g.shape[1], &dw[0, 0], dw.shape[0],
                             isa, nthreads)


def embedding_bwd_f64(const int64_t[::1] idx, const double[:, ::1] g, double[:, ::1] dw,
                      int isa, int nthreads):
    if idx.shape[0] == 0 or g.shape[1] == 0:
        return
    with nogil:
        tg_embedding_bwd_f64(&idx[0], idx.shape[0], &g[0, 0], g.shape[1], &dw[0, 0], dw.shape[0],
                             isa, nthreads)
