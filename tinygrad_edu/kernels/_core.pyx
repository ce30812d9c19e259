# distutils: sources = csrc/reduce.c
"""Compiled core: what the build and the CPU can do, the reduction kernels and the
elementwise sum.

Every function here trusts its caller: shapes, dtypes and contiguity are checked
in tinygrad_edu/kernels/compiled.py before a pointer is taken.
"""

from cython cimport floating
from libc.stdlib cimport free, malloc

import numpy as np

cimport numpy as cnp

cnp.import_array()

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
    int tg_sum_squares_f32(const float *const *x, const Py_ssize_t *n, Py_ssize_t count,
                           double *out, int isa, int nthreads) nogil
    int tg_sum_squares_f64(const double *const *x, const Py_ssize_t *n, Py_ssize_t count,
                           double *out, int isa, int nthreads) nogil
    int tg_scale_many_f32(float *const *x, const Py_ssize_t *n, Py_ssize_t count, float s,
                          int isa, int nthreads) nogil
    int tg_scale_many_f64(double *const *x, const Py_ssize_t *n, Py_ssize_t count, double s,
                          int isa, int nthreads) nogil
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


def add_small(object a, object b, Py_ssize_t limit, int isa):
    """a + b for two small plain arrays, or None: the fast path of compiled.add.

    At (1, 1, 64) the sum takes ~20 ns and the checks, the allocation and the call
    around it ~1 us in Python; here they are a few C tests on the arrays' headers (as
    softmax_small in _softmax.pyx). None unless a and b are exactly numpy.ndarrays of
    one shape and one dtype, float32 or float64, C-contiguous, aligned and in the
    machine's byte order, with fewer than `limit` elements. One thread."""
    if type(a) is not cnp.ndarray or type(b) is not cnp.ndarray:
        return None
    cdef cnp.ndarray x = <cnp.ndarray>a, y = <cnp.ndarray>b
    cdef int typ = cnp.PyArray_TYPE(x), nd = cnp.PyArray_NDIM(x)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    if (n >= limit or typ != cnp.PyArray_TYPE(y) or nd != cnp.PyArray_NDIM(y)
            or (typ != cnp.NPY_FLOAT and typ != cnp.NPY_DOUBLE)
            or not cnp.PyArray_ISCARRAY_RO(x) or not cnp.PyArray_ISCARRAY_RO(y)):
        return None
    cdef int i
    for i in range(nd):
        if cnp.PyArray_DIMS(x)[i] != cnp.PyArray_DIMS(y)[i]:
            return None
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(nd, cnp.PyArray_DIMS(x), typ, 0)
    if n == 0:
        return out
    if typ == cnp.NPY_FLOAT:
        tg_add_f32(<float *>cnp.PyArray_DATA(x), <float *>cnp.PyArray_DATA(y),
                   <float *>cnp.PyArray_DATA(out), n, isa, 1)
    else:
        tg_add_f64(<double *>cnp.PyArray_DATA(x), <double *>cnp.PyArray_DATA(y),
                   <double *>cnp.PyArray_DATA(out), n, isa, 1)
    return out


def add(const floating[::1] a, const floating[::1] b, floating[::1] out, int isa, int nthreads):
    """out = a + b (one Cython fused type: a float32 and a float64 version)."""
    cdef Py_ssize_t n = a.shape[0]
    if n == 0:
        return
    with nogil:
        if floating is float:
            tg_add_f32(&a[0], &b[0], &out[0], n, isa, nthreads)
        else:
            tg_add_f64(&a[0], &b[0], &out[0], n, isa, nthreads)


# --- many arrays at once: the caller passes a list of 1-D C-contiguous arrays of one dtype --


cdef class _Pointers:
    """The data pointers and lengths of a list of arrays, in C arrays (freed with it)."""
    cdef void **ptr
    cdef Py_ssize_t *n
    cdef Py_ssize_t count

    def __cinit__(self, list arrays, bint writeable):
        cdef Py_ssize_t i
        cdef const unsigned char[::1] ro
        cdef unsigned char[::1] rw
        self.count = len(arrays)
        self.ptr = <void **>malloc((self.count + 1) * sizeof(void *))
        self.n = <Py_ssize_t *>malloc((self.count + 1) * sizeof(Py_ssize_t))
        if self.ptr == NULL or self.n == NULL:
            raise MemoryError()
        for i in range(self.count):
            a = arrays[i]
            self.n[i] = a.shape[0]
            self.ptr[i] = NULL
            if self.n[i]:
                if writeable:
                    rw = a.view(np.uint8)
                    self.ptr[i] = <void *>&rw[0]
                else:
                    ro = a.view(np.uint8)
                    self.ptr[i] = <void *>&ro[0]

    def __dealloc__(self):
        free(self.ptr)
        free(self.n)


def sum_squares(list arrays, bint f64, int isa, int nthreads):
    """float64 sums of squares of the arrays (all float64 if f64, else all float32)."""
    cdef _Pointers p = _Pointers(arrays, False)
    cdef double[::1] out = np.zeros(p.count, dtype=np.float64)
    cdef int err = 0
    if p.count:
        with nogil:
            if f64:
                err = tg_sum_squares_f64(<const double *const *>p.ptr, p.n, p.count, &out[0],
                                         isa, nthreads)
            else:
                err = tg_sum_squares_f32(<const float *const *>p.ptr, p.n, p.count, &out[0],
                                         isa, nthreads)
    if err:
        raise MemoryError()
    return np.asarray(out)


def scale_many(list arrays, double s, bint f64, int isa, int nthreads):
    """x *= s for every array, in place (s rounded to float32 first for float32 arrays,
    as NumPy's x *= s does)."""
    cdef _Pointers p = _Pointers(arrays, True)
    cdef int err = 0
    if p.count:
        with nogil:
            if f64:
                err = tg_scale_many_f64(<double *const *>p.ptr, p.n, p.count, s, isa, nthreads)
            else:
                err = tg_scale_many_f32(<float *const *>p.ptr, p.n, p.count, <float>s, isa,
                                        nthreads)
    if err:
        raise MemoryError()
