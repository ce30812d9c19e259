# distutils: sources = csrc/softmax.c csrc/gelu.c
"""Compiled activations: softmax, log-softmax (with cross-entropy, softmax's loss) and GELU
(csrc/softmax.c, csrc/gelu.c).

Like _core.pyx, these trust their caller: tinygrad_edu/kernels/compiled.py checks
shapes, dtypes and target ranges, and passes C-contiguous arrays of matching shapes.
Each C call runs with the GIL released, so other Python threads keep running.
"""

from libc.stdint cimport int64_t

cimport numpy as cnp

cnp.import_array()

cdef extern from "softmax.h":
    void tg_softmax_f32(const float *x, float *y, Py_ssize_t rows, Py_ssize_t cols,
                        int isa, int nthreads) nogil
    void tg_softmax_f64(const double *x, double *y, Py_ssize_t rows, Py_ssize_t cols,
                        int isa, int nthreads) nogil
    void tg_log_softmax_f32(const float *x, float *y, Py_ssize_t rows, Py_ssize_t cols,
                            int isa, int nthreads) nogil
    void tg_log_softmax_f64(const double *x, double *y, Py_ssize_t rows, Py_ssize_t cols,
                            int isa, int nthreads) nogil
    void tg_log_softmax_stream_f32(const float *x, float *y, Py_ssize_t rows, Py_ssize_t cols,
                                   int isa, int nthreads) nogil
    void tg_log_softmax_stream_f64(const double *x, double *y, Py_ssize_t rows,
                                   Py_ssize_t cols, int isa, int nthreads) nogil
    void tg_softmax_backward_f32(const float *y, const float *dy, float *dx, Py_ssize_t rows,
                                 Py_ssize_t cols, int isa, int nthreads) nogil
    void tg_softmax_backward_f64(const double *y, const double *dy, double *dx,
                                 Py_ssize_t rows, Py_ssize_t cols, int isa, int nthreads) nogil
    void tg_log_softmax_backward_f32(const float *y, const float *dy, float *dx,
                                     Py_ssize_t rows, Py_ssize_t cols, int isa,
                                     int nthreads) nogil
    void tg_log_softmax_backward_f64(const double *y, const double *dy, double *dx,
                                     Py_ssize_t rows, Py_ssize_t cols, int isa,
                                     int nthreads) nogil
    double tg_cross_entropy_f32(const float *logits, const int64_t *targets,
                                int64_t ignore_index, float *row_max, float *row_log_sum,
                                Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t *n_valid,
                                int isa, int nthreads) nogil
    double tg_cross_entropy_f64(const double *logits, const int64_t *targets,
                                int64_t ignore_index, double *row_max, double *row_log_sum,
                                Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t *n_valid,
                                int isa, int nthreads) nogil
    void tg_cross_entropy_backward_f32(const float *logits, const int64_t *targets,
                                       int64_t ignore_index, const float *row_max,
                                       const float *row_log_sum, float scale, float *dlogits,
                                       Py_ssize_t rows, Py_ssize_t cols, int isa,
                                       int nthreads) nogil
    void tg_cross_entropy_backward_f64(const double *logits, const int64_t *targets,
                                       int64_t ignore_index, const double *row_max,
                                       const double *row_log_sum, double scale,
                                       double *dlogits, Py_ssize_t rows, Py_ssize_t cols,
                                       int isa, int nthreads) nogil
    void tg_vexp_f32(const float *x, float *y, Py_ssize_t n, int isa, int nthreads) nogil
    void tg_vexp_f64(const double *x, double *y, Py_ssize_t n, int isa, int nthreads) nogil

cdef extern from "gelu.h":
    void tg_gelu_f32(const float *x, float *y, Py_ssize_t n, int tanh_form, int isa,
                     int nthreads) nogil
    void tg_gelu_f64(const double *x, double *y, Py_ssize_t n, int tanh_form, int isa,
                     int nthreads) nogil
    void tg_gelu_backward_f32(const float *x, const float *dy, float *dx, Py_ssize_t n,
                              int tanh_form, int isa, int nthreads) nogil
    void tg_gelu_backward_f64(const double *x, const double *dy, double *dx, Py_ssize_t n,
                              int tanh_form, int isa, int nthreads) nogil


# --- softmax and log-softmax: (rows, cols) -> (rows, cols) ----------------------------
# Fused types would halve this file, but one function per dtype keeps each C call
# visible; `x.shape[0] == 0 or x.shape[1] == 0` has nothing to do (and no &x[0, 0]).


# The fast path for small inputs (one decoding step's attention row, a (1, 1, 64) test).
# At that size the arithmetic takes ~50 ns and the Python around it ~2 us: acquiring two
# typed memoryviews, the dtype and layout checks of compiled.py, the allocation. Here all
# of that is a few C tests on the array's header and one allocation. Anything out of the
# ordinary returns None, and compiled.py takes its checked path as before.


def softmax_small(object x, bint log, Py_ssize_t limit, int isa):
    """softmax (log=True: log-softmax) over the last axis of a small array, or None.

    None unless x is exactly a numpy.ndarray of float32 or float64, C-contiguous,
    aligned, in the machine's byte order, at least 1-D, with at least one and fewer
    than `limit` elements. One thread, the GIL held (the work is too small for either)."""
    if type(x) is not cnp.ndarray:
        return None
    cdef cnp.ndarray a = <cnp.ndarray>x
    cdef int nd = cnp.PyArray_NDIM(a)
    cdef int typ = cnp.PyArray_TYPE(a)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(a)
    if (nd == 0 or n == 0 or n >= limit or not cnp.PyArray_ISCARRAY_RO(a)
            or (typ != cnp.NPY_FLOAT and typ != cnp.NPY_DOUBLE)):
        return None
    cdef Py_ssize_t cols = cnp.PyArray_DIMS(a)[nd - 1]
    cdef cnp.ndarray y = cnp.PyArray_EMPTY(nd, cnp.PyArray_DIMS(a), typ, 0)
    cdef void *src = cnp.PyArray_DATA(a)
    cdef void *dst = cnp.PyArray_DATA(y)
    if typ == cnp.NPY_FLOAT:
        if log:
            tg_log_softmax_f32(<float *>src, <float *>dst, n // cols, cols, isa, 1)
        else:
            tg_softmax_f32(<float *>src, <float *>dst, n // cols, cols, isa, 1)
    else:
        if log:
            tg_log_softmax_f64(<double *>src, <double *>dst, n // cols, cols, isa, 1)
        else:
            tg_softmax_f64(<double *>src, <double *>dst, n // cols, cols, isa, 1)
    return y


def softmax_f32(const float[:, ::1] x, float[:, ::1] y, bint log, int isa, int nthreads):
    cdef Py_ssize_t rows = x.shape[0], cols = x.shape[1]
    if rows == 0 or cols == 0:
        return
    with nogil:
        if log:
            tg_log_softmax_f32(&x[0, 0], &y[0, 0], rows, cols, isa, nthreads)
        else:
            tg_softmax_f32(&x[0, 0], &y[0, 0], rows, cols, isa, nthreads)


def softmax_f64(const double[:, ::1] x, double[:, ::1] y, bint log, int isa, int nthreads):
    cdef Py_ssize_t rows = x.shape[0], cols = x.shape[1]
    if rows == 0 or cols == 0:
        return
    with nogil:
        if log:
            tg_log_softmax_f64(&x[0, 0], &y[0, 0], rows, cols, isa, nthreads)
        else:
            tg_softmax_f64(&x[0, 0], &y[0, 0], rows, cols, isa, nthreads)


def log_softmax_stream_f32(const float[:, ::1] x, float[:, ::1] y, int isa, int nthreads):
    """log_softmax, y written with streaming stores (for an output larger than the caches)."""
    cdef Py_ssize_t rows = x.shape[0], cols = x.shape[1]
    if rows == 0 or cols == 0:
        return
    with nogil:
        tg_log_softmax_stream_f32(&x[0, 0], &y[0, 0], rows, cols, isa, nthreads)


def log_softmax_stream_f64(const double[:, ::1] x, double[:, ::1] y, int isa, int nthreads):
    cdef Py_ssize_t rows = x.shape[0], cols = x.shape[1]
    if rows == 0 or cols == 0:
        return
    with nogil:
        tg_log_softmax_stream_f64(&x[0, 0], &y[0, 0], rows, cols, isa, nthreads)


def softmax_backward_f32(const float[:, ::1] y, const float[:, ::1] dy, float[:, ::1] dx,
                         bint log, int isa, int nthreads):
    cdef Py_ssize_t rows = y.shape[0], cols = y.shape[1]
    if rows == 0 or cols == 0:
        return
    with nogil:
        if log:
            tg_log_softmax_backward_f32(&y[0, 0], &dy[0, 0], &dx[0, 0], rows, cols, isa,
                                        nthreads)
        else:
            tg_softmax_backward_f32(&y[0, 0], &dy[0, 0], &dx[0, 0], rows, cols, isa, nthreads)


def softmax_backward_f64(const double[:, ::1] y, const double[:, ::1] dy, double[:, ::1] dx,
                         bint log, int isa, int nthreads):
    cdef Py_ssize_t rows = y.shape[0], cols = y.shape[1]
    if rows == 0 or cols == 0:
        return
    with nogil:
        if log:
            tg_log_softmax_backward_f64(&y[0, 0], &dy[0, 0], &dx[0, 0], rows, cols, isa,
                                        nthreads)
        else:
            tg_softmax_backward_f64(&y[0, 0], &dy[0, 0], &dx[0, 0], rows, cols, isa, nthreads)


# --- cross-entropy ---------------------------------------------------------------------
# Returns (sum of the counted rows' losses, number of counted rows); fills row_max and
# row_log_sum, the state backward needs. Rows whose target is ignore_index count 0.


def cross_entropy_f32(const float[:, ::1] logits, const int64_t[::1] targets,
                      int64_t ignore_index, float[::1] row_max, float[::1] row_log_sum,
                      int isa, int nthreads):
    cdef Py_ssize_t rows = logits.shape[0], cols = logits.shape[1], n_valid = 0
    cdef double total = 0
    if rows == 0:
        return 0.0, 0
    if cols == 0:  # every target is ignore_index (validated): nothing to count
        row_max[:] = float("-inf")
        row_log_sum[:] = float("-inf")
        return 0.0, 0
    with nogil:
        total = tg_cross_entropy_f32(&logits[0, 0], &targets[0], ignore_index, &row_max[0],
                                     &row_log_sum[0], rows, cols, &n_valid, isa, nthreads)
    return total, n_valid


def cross_entropy_f64(const double[:, ::1] logits, const int64_t[::1] targets,
                      int64_t ignore_index, double[::1] row_max, double[::1] row_log_sum,
                      int isa, int nthreads):
    cdef Py_ssize_t rows = logits.shape[0], cols = logits.shape[1], n_valid = 0
    cdef double total = 0
    if rows == 0:
        return 0.0, 0
    if cols == 0:
        row_max[:] = float("-inf")
        row_log_sum[:] = float("-inf")
        return 0.0, 0
    with nogil:
        total = tg_cross_entropy_f64(&logits[0, 0], &targets[0], ignore_index, &row_max[0],
                                     &row_log_sum[0], rows, cols, &n_valid, isa, nthreads)
    return total, n_valid


def cross_entropy_backward_f32(const float[:, ::1] logits, const int64_t[::1] targets,
                               int64_t ignore_index, const float[::1] row_max,
                               const float[::1] row_log_sum, float scale, float[:, ::1] dlogits,
                               int isa, int nthreads):
    cdef Py_ssize_t rows = logits.shape[0], cols = logits.shape[1]
    if rows == 0 or cols == 0:
        return
    with nogil:
        tg_cross_entropy_backward_f32(&logits[0, 0], &targets[0], ignore_index, &row_max[0],
                                      &row_log_sum[0], scale, &dlogits[0, 0], rows, cols, isa,
                                      nthreads)


def cross_entropy_backward_f64(const double[:, ::1] logits, const int64_t[::1] targets,
                               int64_t ignore_index, const double[::1] row_max,
                               const double[::1] row_log_sum, double scale,
                               double[:, ::1] dlogits, int isa, int nthreads):
    cdef Py_ssize_t rows = logits.shape[0], cols = logits.shape[1]
    if rows == 0 or cols == 0:
        return
    with nogil:
        tg_cross_entropy_backward_f64(&logits[0, 0], &targets[0], ignore_index, &row_max[0],
                                      &row_log_sum[0], scale, &dlogits[0, 0], rows, cols, isa,
                                      nthreads)


# --- element-wise: the vector exp itself (for the tests) and GELU ---------------------


def vexp_f32(const float[::1] x, float[::1] y, int isa, int nthreads):
    cdef Py_ssize_t n = x.shape[0]
    if n == 0:
        return
    with nogil:
        tg_vexp_f32(&x[0], &y[0], n, isa, nthreads)


def vexp_f64(const double[::1] x, double[::1] y, int isa, int nthreads):
    cdef Py_ssize_t n = x.shape[0]
    if n == 0:
        return
    with nogil:
        tg_vexp_f64(&x[0], &y[0], n, isa, nthreads)


def gelu_f32(const float[::1] x, float[::1] y, bint tanh_form, int isa, int nthreads):
    cdef Py_ssize_t n = x.shape[0]
    if n == 0:
        return
    with nogil:
        tg_gelu_f32(&x[0], &y[0], n, tanh_form, isa, nthreads)


def gelu_f64(const double[::1] x, double[::1] y, bint tanh_form, int isa, int nthreads):
    cdef Py_ssize_t n = x.shape[0]
    if n == 0:
        return
    with nogil:
        tg_gelu_f64(&x[0], &y[0], n, tanh_form, isa, nthreads)


def gelu_backward_f32(const float[::1] x, const float[::1] dy, float[::1] dx, bint tanh_form,
                      int isa, int nthreads):
    cdef Py_ssize_t n = x.shape[0]
    if n == 0:
        return
    with nogil:
        tg_gelu_backward_f32(&x[0], &dy[0], &dx[0], n, tanh_form, isa, nthreads)


def gelu_backward_f64(const double[::1] x, const double[::1] dy, double[::1] dx,
                      bint tanh_form, int isa, int nthreads):
    cdef Py_ssize_t n = x.shape[0]
    if n == 0:
        return
    with nogil:
        tg_gelu_backward_f64(&x[0], &dy[0], &dx[0], n, tanh_form, isa, nthreads)
