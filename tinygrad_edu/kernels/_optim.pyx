# distutils: sources = csrc/optim.c
"""Compiled optimizer updates: Adam/AdamW and SGD in one pass over each parameter.

Every function here trusts its caller: dtypes, equal lengths and contiguity are
checked in tinygrad_edu/kernels/compiled.py before a pointer is taken. The arrays
are 1-D views (ravel) of the parameter and its state, updated in place.
"""

cdef extern from "optim.h":
    void tg_adam_f32(float *p, const float *g, float *m, float *v, Py_ssize_t n, double lr,
                     double beta1, double beta2, double eps, double weight_decay,
                     long long step, int decoupled, int isa, int nthreads) nogil
    void tg_adam_f64(double *p, const double *g, double *m, double *v, Py_ssize_t n, double lr,
                     double beta1, double beta2, double eps, double weight_decay,
                     long long step, int decoupled, int isa, int nthreads) nogil
    void tg_sgd_f32(float *p, const float *g, float *buf, Py_ssize_t n, double lr,
                    double momentum, double dampening, double weight_decay, int nesterov,
                    int first, int isa, int nthreads) nogil
    void tg_sgd_f64(double *p, const double *g, double *buf, Py_ssize_t n, double lr,
                    double momentum, double dampening, double weight_decay, int nesterov,
                    int first, int isa, int nthreads) nogil


def adam_f32(float[::1] p, const float[::1] g, float[::1] m, float[::1] v, double lr,
             double beta1, double beta2, double eps, double weight_decay, long long step,
             bint decoupled, int isa, int nthreads):
    cdef Py_ssize_t n = p.shape[0]
    if n == 0:
        return
    with nogil:
        tg_adam_f32(&p[0], &g[0], &m[0], &v[0], n, lr, beta1, beta2, eps, weight_decay, step,
                    decoupled, isa, nthreads)


def adam_f64(double[::1] p, const double[::1] g, double[::1] m, double[::1] v, double lr,
             double beta1, double beta2, double eps, double weight_decay, long long step,
             bint decoupled, int isa, int nthreads):
    cdef Py_ssize_t n = p.shape[0]
    if n == 0:
        return
    with nogil:
        tg_adam_f64(&p[0], &g[0], &m[0], &v[0], n, lr, beta1, beta2, eps, weight_decay, step,
                    decoupled, isa, nthreads)


def sgd_f32(float[::1] p, const float[::1] g, float[::1] buf, double lr, double momentum,
            double dampening, double weight_decay, bint nesterov, bint first, int isa,
            int nthreads):
    """buf is None when there is no momentum."""
    cdef Py_ssize_t n = p.shape[0]
    cdef float *b = NULL
    if n == 0:
        return
    if buf is not None:
        b = &buf[0]
    with nogil:
        tg_sgd_f32(&p[0], &g[0], b, n, lr, momentum, dampening, weight_decay, nesterov, first,
                   isa, nthreads)


def sgd_f64(double[::1] p, const double[::1] g, double[::1] buf, double lr, double momentum,
            double dampening, double weight_decay, bint nesterov, bint first, int isa,
            int nthreads):
    cdef Py_ssize_t n = p.shape[0]
    cdef double *b = NULL
    if n == 0:
        return
    if buf is not None:
        b = &buf[0]
    with nogil:
        tg_sgd_f64(&p[0], &g[0], b, n, lr, momentum, dampening, weight_decay, nesterov, first,
                   isa, nthreads)
