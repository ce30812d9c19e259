# distutils: sources = csrc/naive.c
"""The plain-C rung of every kernel family (csrc/naive_impl.h): one thread, scalar loops.

Trusts its caller: tinygrad_edu/kernels/compiled.py (the *_naive functions) checks
shapes and dtypes and passes C-contiguous float32 or float64 arrays, all of one dtype,
of the shapes each C function documents (csrc/naive.h). Each call releases the GIL.
"""

from libc.stdint cimport int64_t

cimport numpy as cnp

cnp.import_array()

cdef extern from "naive.h":
    void tg_softmax_naive_f32(const float *x, float *y, Py_ssize_t rows, Py_ssize_t cols,
                              int log_form) nogil
    void tg_softmax_naive_f64(const double *x, double *y, Py_ssize_t rows, Py_ssize_t cols,
                              int log_form) nogil
    double tg_cross_entropy_naive_f32(const float *logits, const int64_t *targets,
                                      int64_t ignore_index, float *row_max,
                                      float *row_log_sum, Py_ssize_t rows, Py_ssize_t cols,
                                      Py_ssize_t *n_valid) nogil
    double tg_cross_entropy_naive_f64(const double *logits, const int64_t *targets,
                                      int64_t ignore_index, double *row_max,
                                      double *row_log_sum, Py_ssize_t rows, Py_ssize_t cols,
                                      Py_ssize_t *n_valid) nogil
    void tg_cross_entropy_backward_naive_f32(const float *logits, const int64_t *targets,
                                             int64_t ignore_index, const float *row_max,
                                             const float *row_log_sum, float scale,
                                             float *dlogits, Py_ssize_t rows,
                                             Py_ssize_t cols) nogil
    void tg_cross_entropy_backward_naive_f64(const double *logits, const int64_t *targets,
                                             int64_t ignore_index, const double *row_max,
                                             const double *row_log_sum, double scale,
                                             double *dlogits, Py_ssize_t rows,
                                             Py_ssize_t cols) nogil
    void tg_layernorm_fwd_naive_f32(const float *x, const float *w, const float *b, float *y,
                                    float *mean, float *rstd, Py_ssize_t N, Py_ssize_t C,
                                    double eps) nogil
    void tg_layernorm_fwd_naive_f64(const double *x, const double *w, const double *b,
                                    double *y, double *mean, double *rstd, Py_ssize_t N,
                                    Py_ssize_t C, double eps) nogil
    void tg_layernorm_bwd_naive_f32(const float *x, const float *w, const float *mean,
                                    const float *rstd, const float *dy, float *dx, float *dw,
                                    float *db, Py_ssize_t N, Py_ssize_t C) nogil
    void tg_layernorm_bwd_naive_f64(const double *x, const double *w, const double *mean,
                                    const double *rstd, const double *dy, double *dx,
                                    double *dw, double *db, Py_ssize_t N, Py_ssize_t C) nogil
    void tg_gelu_naive_f32(const float *x, float *y, Py_ssize_t n, int tanh_form) nogil
    void tg_gelu_naive_f64(const double *x, double *y, Py_ssize_t n, int tanh_form) nogil
    void tg_gelu_backward_naive_f32(const float *x, const float *dy, float *dx, Py_ssize_t n,
                                    int tanh_form) nogil
    void tg_gelu_backward_naive_f64(const double *x, const double *dy, double *dx,
                                    Py_ssize_t n, int tanh_form) nogil
    void tg_linear_naive_f32(const float *x, const float *w, const float *bias,
                             const float *resid, float *pre, float *y, Py_ssize_t N,
                             Py_ssize_t K, Py_ssize_t M, int act) nogil
    void tg_linear_naive_f64(const double *x, const double *w, const double *bias,
                             const double *resid, double *pre, double *y, Py_ssize_t N,
                             Py_ssize_t K, Py_ssize_t M, int act) nogil
    int tg_attention_forward_naive_f32(const float *q, const float *k, const float *v,
                                       float *out, float *lse, Py_ssize_t N, Py_ssize_t nT,
                                       Py_ssize_t nS, Py_ssize_t D, int causal,
                                       Py_ssize_t causal_offset, double scale) nogil
    int tg_attention_forward_naive_f64(const double *q, const double *k, const double *v,
                                       double *out, double *lse, Py_ssize_t N, Py_ssize_t nT,
                                       Py_ssize_t nS, Py_ssize_t D, int causal,
                                       Py_ssize_t causal_offset, double scale) nogil
    void tg_attention_backward_naive_f32(const float *q, const float *k, const float *v,
                                         const float *out, const float *lse, const float *dout,
                                         float *dq, float *dk, float *dv, Py_ssize_t N,
                                         Py_ssize_t nT, Py_ssize_t nS, Py_ssize_t D,
                                         int causal, Py_ssize_t causal_offset,
                                         double scale) nogil
    void tg_attention_backward_naive_f64(const double *q, const double *k, const double *v,
                                         const double *out, const double *lse,
                                         const double *dout, double *dq, double *dk,
                                         double *dv, Py_ssize_t N, Py_ssize_t nT,
                                         Py_ssize_t nS, Py_ssize_t D, int causal,
                                         Py_ssize_t causal_offset, double scale) nogil
    void tg_adam_naive_f32(float *p, const float *g, float *m, float *v, Py_ssize_t n,
                           double lr, double beta1, double beta2, double eps,
                           double weight_decay, long long step, int decoupled) nogil
    void tg_adam_naive_f64(double *p, const double *g, double *m, double *v, Py_ssize_t n,
                           double lr, double beta1, double beta2, double eps,
                           double weight_decay, long long step, int decoupled) nogil
    void tg_sgd_naive_f32(float *p, const float *g, float *buf, Py_ssize_t n, double lr,
                          double momentum, double dampening, double weight_decay, int nesterov,
                          int first) nogil
    void tg_sgd_naive_f64(double *p, const double *g, double *buf, Py_ssize_t n, double lr,
                          double momentum, double dampening, double weight_decay, int nesterov,
                          int first) nogil


# Pointers to each array's first number (NULL for None), taken before the GIL is released;
# compiled.py has checked that every array is C-contiguous, of one dtype, float32 or float64.
ctypedef void *address


cdef inline address _p(object a):
    return NULL if a is None else cnp.PyArray_DATA(<cnp.ndarray>a)


# The addresses as the C functions' pointer types (inside `with nogil:` blocks).
cdef inline float *f32(address a) noexcept nogil:
    return <float *>a


cdef inline double *f64(address a) noexcept nogil:
    return <double *>a


cdef inline int64_t *i64(address a) noexcept nogil:
    return <int64_t *>a


cdef inline bint _is_f32(object a):
    return cnp.PyArray_TYPE(<cnp.ndarray>a) == cnp.NPY_FLOAT32


def softmax(x, y, bint log_form):
    """y = softmax(x) (or log_softmax) for x, y (rows, cols)."""
    cdef address p_x = _p(x), p_y = _p(y)
    cdef Py_ssize_t rows = x.shape[0], cols = x.shape[1]
    if _is_f32(x):
        with nogil:
            tg_softmax_naive_f32(f32(p_x), f32(p_y), rows, cols, log_form)
    else:
        with nogil:
            tg_softmax_naive_f64(f64(p_x), f64(p_y), rows, cols, log_form)


def cross_entropy(logits, targets, int64_t ignore_index, row_max, row_log_sum):
    """(sum of the counted rows' losses, how many rows counted)."""
    cdef address p_logits = _p(logits), p_targets = _p(targets), p_row_max = _p(row_max)
    cdef address p_row_log_sum = _p(row_log_sum)
    cdef Py_ssize_t rows = logits.shape[0], cols = logits.shape[1], n_valid = 0
    cdef double total
    if _is_f32(logits):
        with nogil:
            total = tg_cross_entropy_naive_f32(f32(p_logits), i64(p_targets), ignore_index,
                                               f32(p_row_max), f32(p_row_log_sum), rows, cols,
                                               &n_valid)
    else:
        with nogil:
            total = tg_cross_entropy_naive_f64(f64(p_logits), i64(p_targets), ignore_index,
                                               f64(p_row_max), f64(p_row_log_sum), rows, cols,
                                               &n_valid)
    return total, n_valid


def cross_entropy_backward(logits, targets, int64_t ignore_index, row_max, row_log_sum,
                           double scale, dlogits):
    cdef address p_logits = _p(logits), p_targets = _p(targets), p_row_max = _p(row_max)
    cdef address p_row_log_sum = _p(row_log_sum), p_dlogits = _p(dlogits)
    cdef Py_ssize_t rows = logits.shape[0], cols = logits.shape[1]
    if _is_f32(logits):
        with nogil:
            tg_cross_entropy_backward_naive_f32(f32(p_logits), i64(p_targets), ignore_index,
                                                f32(p_row_max), f32(p_row_log_sum), <float>scale,
                                                f32(p_dlogits), rows, cols)
    else:
        with nogil:
            tg_cross_entropy_backward_naive_f64(f64(p_logits), i64(p_targets), ignore_index,
                                                f64(p_row_max), f64(p_row_log_sum), scale,
                                                f64(p_dlogits), rows, cols)


def layer_norm(x, w, b, y, mean, rstd, double eps):
    cdef address p_x = _p(x), p_w = _p(w), p_b = _p(b), p_y = _p(y), p_mean = _p(mean)
    cdef address p_rstd = _p(rstd)
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1]
    if _is_f32(x):
        with nogil:
            tg_layernorm_fwd_naive_f32(f32(p_x), f32(p_w), f32(p_b), f32(p_y), f32(p_mean),
                                       f32(p_rstd), N, C, eps)
    else:
        with nogil:
            tg_layernorm_fwd_naive_f64(f64(p_x), f64(p_w), f64(p_b), f64(p_y), f64(p_mean),
                                       f64(p_rstd), N, C, eps)


def layer_norm_backward(x, w, mean, rstd, dy, dx, dw, db):
    cdef address p_x = _p(x), p_w = _p(w), p_mean = _p(mean), p_rstd = _p(rstd)
    cdef address p_dy = _p(dy), p_dx = _p(dx), p_dw = _p(dw), p_db = _p(db)
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1]
    if _is_f32(x):
        with nogil:
            tg_layernorm_bwd_naive_f32(f32(p_x), f32(p_w), f32(p_mean), f32(p_rstd), f32(p_dy),
                                       f32(p_dx), f32(p_dw), f32(p_db), N, C)
    else:
        with nogil:
            tg_layernorm_bwd_naive_f64(f64(p_x), f64(p_w), f64(p_mean), f64(p_rstd), f64(p_dy),
                                       f64(p_dx), f64(p_dw), f64(p_db), N, C)


def gelu(x, y, bint tanh_form):
    """x, y: 1-D."""
    cdef address p_x = _p(x), p_y = _p(y)
    cdef Py_ssize_t n = x.shape[0]
    if _is_f32(x):
        with nogil:
            tg_gelu_naive_f32(f32(p_x), f32(p_y), n, tanh_form)
    else:
        with nogil:
            tg_gelu_naive_f64(f64(p_x), f64(p_y), n, tanh_form)


def gelu_backward(x, dy, dx, bint tanh_form):
    cdef address p_x = _p(x), p_dy = _p(dy), p_dx = _p(dx)
    cdef Py_ssize_t n = x.shape[0]
    if _is_f32(x):
        with nogil:
            tg_gelu_backward_naive_f32(f32(p_x), f32(p_dy), f32(p_dx), n, tanh_form)
    else:
        with nogil:
            tg_gelu_backward_naive_f64(f64(p_x), f64(p_dy), f64(p_dx), n, tanh_form)


def linear(x, w, bias, resid, pre, y, int act):
    """x (N, K), w (M, K), y (N, M); bias (M,), resid and pre (N, M) may be None."""
    cdef address p_x = _p(x), p_w = _p(w), p_b = _p(bias), p_r = _p(resid), p_pre = _p(pre)
    cdef address p_y = _p(y)
    cdef Py_ssize_t N = x.shape[0], K = x.shape[1], M = w.shape[0]
    if _is_f32(x):
        with nogil:
            tg_linear_naive_f32(f32(p_x), f32(p_w), f32(p_b), f32(p_r), f32(p_pre), f32(p_y),
                                N, K, M, act)
    else:
        with nogil:
            tg_linear_naive_f64(f64(p_x), f64(p_w), f64(p_b), f64(p_r), f64(p_pre), f64(p_y),
                                N, K, M, act)


def attention_forward(q, k, v, out, lse, bint causal, Py_ssize_t causal_offset, double scale):
    """out (N, nT, D) and lse (N, nT) from q (N, nT, D), k and v (N, nS, D)."""
    cdef address p_q = _p(q), p_k = _p(k), p_v = _p(v), p_out = _p(out), p_lse = _p(lse)
    cdef Py_ssize_t N = q.shape[0], nT = q.shape[1], D = q.shape[2], nS = k.shape[1]
    cdef int err
    if _is_f32(q):
        with nogil:
            err = tg_attention_forward_naive_f32(f32(p_q), f32(p_k), f32(p_v), f32(p_out),
                                                 f32(p_lse), N, nT, nS, D, causal, causal_offset,
                                                 scale)
    else:
        with nogil:
            err = tg_attention_forward_naive_f64(f64(p_q), f64(p_k), f64(p_v), f64(p_out),
                                                 f64(p_lse), N, nT, nS, D, causal, causal_offset,
                                                 scale)
    if err:
        raise MemoryError("attention_forward_naive: could not allocate its (D,) accumulator")


def attention_backward(q, k, v, out, lse, dout, dq, dk, dv, bint causal,
                       Py_ssize_t causal_offset, double scale):
    cdef address p_q = _p(q), p_k = _p(k), p_v = _p(v), p_out = _p(out), p_lse = _p(lse)
    cdef address p_dout = _p(dout), p_dq = _p(dq), p_dk = _p(dk), p_dv = _p(dv)
    cdef Py_ssize_t N = q.shape[0], nT = q.shape[1], D = q.shape[2], nS = k.shape[1]
    if _is_f32(q):
        with nogil:
            tg_attention_backward_naive_f32(f32(p_q), f32(p_k), f32(p_v), f32(p_out), f32(p_lse),
                                            f32(p_dout), f32(p_dq), f32(p_dk), f32(p_dv), N, nT,
                                            nS, D, causal, causal_offset, scale)
    else:
        with nogil:
            tg_attention_backward_naive_f64(f64(p_q), f64(p_k), f64(p_v), f64(p_out), f64(p_lse),
                                            f64(p_dout), f64(p_dq), f64(p_dk), f64(p_dv), N, nT,
                                            nS, D, causal, causal_offset, scale)


def adam(p, g, m, v, double lr, double beta1, double beta2, double eps, double weight_decay,
         long long step, bint decoupled):
    """p, g, m, v: 1-D, in place on p, m, v."""
    cdef address p_p = _p(p), p_g = _p(g), p_m = _p(m), p_v = _p(v)
    cdef Py_ssize_t n = p.shape[0]
    if _is_f32(p):
        with nogil:
            tg_adam_naive_f32(f32(p_p), f32(p_g), f32(p_m), f32(p_v), n, lr, beta1, beta2, eps,
                              weight_decay, step, decoupled)
    else:
        with nogil:
            tg_adam_naive_f64(f64(p_p), f64(p_g), f64(p_m), f64(p_v), n, lr, beta1, beta2, eps,
                              weight_decay, step, decoupled)


def sgd(p, g, buf, double lr, double momentum, double dampening, double weight_decay,
        bint nesterov, bint first):
    """buf is None when there is no momentum."""
    cdef address p_p = _p(p), p_g = _p(g), p_buf = _p(buf)
    cdef Py_ssize_t n = p.shape[0]
    if _is_f32(p):
        with nogil:
            tg_sgd_naive_f32(f32(p_p), f32(p_g), f32(p_buf), n, lr, momentum, dampening,
                             weight_decay, nesterov, first)
    else:
        with nogil:
            tg_sgd_naive_f64(f64(p_p), f64(p_g), f64(p_buf), n, lr, momentum, dampening,
                             weight_decay, nesterov, first)
