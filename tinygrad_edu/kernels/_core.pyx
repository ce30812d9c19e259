# distutils: sources = csrc/reduce.c
"""Compiled core: what the build and the CPU can do, the reduction kernels and the
elementwise sum.

Every function here trusts its caller: shapes, dtypes and contiguity are checked
in tinygrad_edu/kernels/compiled.py before a pointer is taken.
"""

cdef extern from "tg_isa.h":
    int tg_best_isa()
    int TG_HAVE_OPENMP
    int omp_get_max_threads()

cdef extern from "reduce.h":
    float tg_dot_f32(const float *x, const float *y, Py_ssize_t n, int isa) nogil
    double tg_dot_f64(const double *x, const double *y, Py_ssize_t n, int isa) nogil
    void tg_colsum_f32(const float *x, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t ld,
                       float *out, int accumulate, int isa, int nthreads) nogil
    void tg_colsum_f64(const double *x, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t ld,
                       double *out, int accumulate, int isa, int nthreads) nogil
    void tg_add_f32(const float *a, const float *b, float *out, Py_ssize_t n, int isa,
                    int nthreads) nogil
    void tg_add_f64(const double *a, const double *b, double *out, Py_ssize_t n, int isa,
                    int nthreads) nogil

ISA_NAMES = ("base", "avx2", "avx512")


def best_isa():
    """Index into ISA_NAMES of the best instruction set this CPU and build support."""
    return tg_best_isa()


def has_openmp():
    return bool(TG_HAVE_OPENMP)


def openmp_max_threads():
    return omp_get_max_threads()


def dot_f32(const float[::1] x, const float[::1] y, int isa):
    cdef Py_ssize_t n = x.shape[0]
    cdef float r
    if n == 0:
        return 0.0
    with nogil:
        r = tg_dot_f32(&x[0], &y[0], n, isa)
    return r


def dot_f64(const double[::1] x, const double[::1] y, int isa):
    cdef Py_ssize_t n = x.shape[0]
    cdef double r
    if n == 0:
        return 0.0
    with nogil:
        r = tg_dot_f64(&x[0], &y[0], n, isa)
    return r


def colsum_f32(const float[:, ::1] x, float[::1] out, bint accumulate, int isa, int nthreads):
    cdef Py_ssize_t rows = x.shape[0], cols = x.shape[1]
    if cols == 0:
        return
    if rows == 0:
        if not accumulate:
            out[:] = 0
        return
    with nogil:
        tg_colsum_f32(&x[0, 0], rows, cols, cols, &out[0], accumulate, isa, nthreads)


def colsum_f64(const double[:, ::1] x, double[::1] out, bint accumulate, int isa, int nthreads):
    cdef Py_ssize_t rows = x.shape[0], cols = x.shape[1]
    if cols == 0:
        return
    if rows == 0:
        if not accumulate:
            out[:] = 0
        return
    with nogil:
        tg_colsum_f64(&x[0, 0], rows, cols, cols, &out[0], accumulate, isa, nthreads)


def add_f32(const float[::1] a, const float[::1] b, float[::1] out, int isa, int nthreads):
    cdef Py_ssize_t n = a.shape[0]
    if n == 0:
        return
    with nogil:
        tg_add_f32(&a[0], &b[0], &out[0], n, isa, nthreads)


def add_f64(const double[::1] a, const double[::1] b, double[::1] out, int isa, int nthreads):
    cdef Py_ssize_t n = a.shape[0]
    if n == 0:
        return
    with nogil:
        tg_add_f64(&a[0], &b[0], &out[0], n, isa, nthreads)
