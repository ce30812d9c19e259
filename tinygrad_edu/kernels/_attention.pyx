# distutils: sources = csrc/attention.c
"""Compiled fused attention, forward and backward (csrc/attention.c; the algorithm is
explained in csrc/attention_impl.h).

Every function here trusts its caller: compiled.py has checked the shapes, dtypes and
the range of causal_offset, made every array C-contiguous and handled the sizes of 0,
so each array here has at least one element. The C call runs with the GIL released.
"""

cdef extern from "attention.h":
    int tg_attention_forward_f32(const float *q, const float *k, const float *v, float *out,
                                 float *lse, Py_ssize_t N, Py_ssize_t nT, Py_ssize_t nS,
                                 Py_ssize_t D, int causal, Py_ssize_t causal_offset,
                                 double scale, int isa, int nthreads) nogil
    int tg_attention_forward_f64(const double *q, const double *k, const double *v,
                                 double *out, double *lse, Py_ssize_t N, Py_ssize_t nT,
                                 Py_ssize_t nS, Py_ssize_t D, int causal,
                                 Py_ssize_t causal_offset, double scale, int isa,
                                 int nthreads) nogil
    int tg_attention_backward_f32(const float *q, const float *k, const float *v,
                                  const float *out, const float *lse, const float *dout,
                                  float *dq, float *dk, float *dv, Py_ssize_t N, Py_ssize_t nT,
                                  Py_ssize_t nS, Py_ssize_t D, int causal,
                                  Py_ssize_t causal_offset, double scale, int isa,
                                  int nthreads) nogil
    int tg_attention_backward_f64(const double *q, const double *k, const double *v,
                                  const double *out, const double *lse, const double *dout,
                                  double *dq, double *dk, double *dv, Py_ssize_t N,
                                  Py_ssize_t nT, Py_ssize_t nS, Py_ssize_t D, int causal,
                                  Py_ssize_t causal_offset, double scale, int isa,
                                  int nthreads) nogil
    ctypedef struct tg_att_view:
        Py_ssize_t nh, sb, sh, ld
    int tg_attention_forward_views_f32(const float *q, const float *k, const float *v,
                                       float *out, float *lse, Py_ssize_t N, Py_ssize_t nT,
                                       Py_ssize_t nS, Py_ssize_t D, const tg_att_view *views,
                                       int causal, Py_ssize_t causal_offset, double scale,
                                       int isa, int nthreads) nogil
    int tg_attention_forward_views_f64(const double *q, const double *k, const double *v,
                                       double *out, double *lse, Py_ssize_t N, Py_ssize_t nT,
                                       Py_ssize_t nS, Py_ssize_t D, const tg_att_view *views,
                                       int causal, Py_ssize_t causal_offset, double scale,
                                       int isa, int nthreads) nogil
    int tg_attention_backward_views_f32(const float *q, const float *k, const float *v,
                                        const float *out, const float *lse, const float *dout,
                                        float *dq, float *dk, float *dv, Py_ssize_t N,
                                        Py_ssize_t nT, Py_ssize_t nS, Py_ssize_t D,
                                        const tg_att_view *views, int causal,
                                        Py_ssize_t causal_offset, double scale, int isa,
                                        int nthreads) nogil
    int tg_attention_backward_views_f64(const double *q, const double *k, const double *v,
                                        const double *out, const double *lse,
                                        const double *dout, double *dq, double *dk, double *dv,
                                        Py_ssize_t N, Py_ssize_t nT, Py_ssize_t nS, Py_ssize_t D,
                                        const tg_att_view *views, int causal,
                                        Py_ssize_t causal_offset, double scale, int isa,
                                        int nthreads) nogil
    size_t tg_attention_scratch_bytes(Py_ssize_t N, Py_ssize_t nT, Py_ssize_t nS, Py_ssize_t D,
                                      int f64, int backward, int isa, int nthreads)
    void tg_attention_blocking(int isa, int f64, Py_ssize_t out[4])


cdef inline int _check(int err) except -1:
    if err:
        raise MemoryError("attention: could not allocate the kernel's scratch memory")
    return 0


def forward_f32(const float[:, :, ::1] q, const float[:, :, ::1] k, const float[:, :, ::1] v,
                float[:, :, ::1] out, float[:, ::1] lse, bint causal, Py_ssize_t causal_offset,
                double scale, int isa, int nthreads):
    """out (N, nT, D) and lse (N, nT) from q (N, nT, D), k and v (N, nS, D)."""
    cdef Py_ssize_t N = q.shape[0], nT = q.shape[1], D = q.shape[2], nS = k.shape[1]
    cdef int err
    with nogil:
        err = tg_attention_forward_f32(&q[0, 0, 0], &k[0, 0, 0], &v[0, 0, 0], &out[0, 0, 0],
                                       &lse[0, 0], N, nT, nS, D, causal, causal_offset, scale,
                                       isa, nthreads)
    _check(err)


def forward_f64(const double[:, :, ::1] q, const double[:, :, ::1] k,
                const double[:, :, ::1] v, double[:, :, ::1] out, double[:, ::1] lse,
                bint causal, Py_ssize_t causal_offset, double scale, int isa, int nthreads):
    cdef Py_ssize_t N = q.shape[0], nT = q.shape[1], D = q.shape[2], nS = k.shape[1]
    cdef int err
    with nogil:
        err = tg_attention_forward_f64(&q[0, 0, 0], &k[0, 0, 0], &v[0, 0, 0], &out[0, 0, 0],
                                       &lse[0, 0], N, nT, nS, D, causal, causal_offset, scale,
                                       isa, nthreads)
    _check(err)


def backward_f32(const float[:, :, ::1] q, const float[:, :, ::1] k, const float[:, :, ::1] v,
                 const float[:, :, ::1] out, const float[:, ::1] lse,
                 const float[:, :, ::1] dout, float[:, :, ::1] dq, float[:, :, ::1] dk,
                 float[:, :, ::1] dv, bint causal, Py_ssize_t causal_offset, double scale,
                 int isa, int nthreads):
    """dq, dk, dv (shapes of q, k, v) from the forward's inputs, out, lse and dout."""
    cdef Py_ssize_t N = q.shape[0], nT = q.shape[1], D = q.shape[2], nS = k.shape[1]
    cdef int err
    with nogil:
        err = tg_attention_backward_f32(&q[0, 0, 0], &k[0, 0, 0], &v[0, 0, 0], &out[0, 0, 0],
                                        &lse[0, 0], &dout[0, 0, 0], &dq[0, 0, 0], &dk[0, 0, 0],
                                        &dv[0, 0, 0], N, nT, nS, D, causal, causal_offset,
                                        scale, isa, nthreads)
    _check(err)


def backward_f64(const double[:, :, ::1] q, const double[:, :, ::1] k,
                 const double[:, :, ::1] v, const double[:, :, ::1] out,
                 const double[:, ::1] lse, const double[:, :, ::1] dout, double[:, :, ::1] dq,
                 double[:, :, ::1] dk, double[:, :, ::1] dv, bint causal,
                 Py_ssize_t causal_offset, double scale, int isa, int nthreads):
    cdef Py_ssize_t N = q.shape[0], nT = q.shape[1], D = q.shape[2], nS = k.shape[1]
    cdef int err
    with nogil:
        err = tg_attention_backward_f64(&q[0, 0, 0], &k[0, 0, 0], &v[0, 0, 0], &out[0, 0, 0],
                                        &lse[0, 0], &dout[0, 0, 0], &dq[0, 0, 0], &dk[0, 0, 0],
                                        &dv[0, 0, 0], N, nT, nS, D, causal, causal_offset,
                                        scale, isa, nthreads)
    _check(err)


# --- multi-head attention on the GPT's packed (B, T, 3C) activations -----------------------

ctypedef fused floating:
    float
    double


cdef void _packed_views(Py_ssize_t T, Py_ssize_t C, Py_ssize_t H, tg_att_view views[4]):
    """q, k, v inside qkv (B, T, 3C): head (b, h) at b*T*3C + h*D, rows 3C apart; the
    output y (B, T, C): head (b, h) at b*T*C + h*D, rows C apart (attention.h)."""
    cdef Py_ssize_t D = C // H, i
    for i in range(3):
        views[i].nh, views[i].sb, views[i].sh, views[i].ld = H, T * 3 * C, D, 3 * C
    views[3].nh, views[3].sb, views[3].sh, views[3].ld = H, T * C, D, C


def packed_forward(const floating[:, :, ::1] qkv, floating[:, :, ::1] y,
                   floating[:, ::1] lse, Py_ssize_t n_head, bint causal, double scale,
                   int isa, int nthreads):
    """y (B, T, C) and lse (B * n_head, T) from qkv (B, T, 3C), without moving q, k, v."""
    cdef Py_ssize_t B = qkv.shape[0], T = qkv.shape[1], C = qkv.shape[2] // 3
    cdef Py_ssize_t D = C // n_head
    cdef tg_att_view views[4]
    cdef int err
    _packed_views(T, C, n_head, views)
    with nogil:
        if floating is float:
            err = tg_attention_forward_views_f32(&qkv[0, 0, 0], &qkv[0, 0, C], &qkv[0, 0, 2 * C],
                                                 &y[0, 0, 0], &lse[0, 0], B * n_head, T, T, D,
                                                 views, causal, 0, scale, isa, nthreads)
        else:
            err = tg_attention_forward_views_f64(&qkv[0, 0, 0], &qkv[0, 0, C], &qkv[0, 0, 2 * C],
                                                 &y[0, 0, 0], &lse[0, 0], B * n_head, T, T, D,
                                                 views, causal, 0, scale, isa, nthreads)
    _check(err)


def packed_backward(const floating[:, :, ::1] qkv, const floating[:, :, ::1] y,
                    const floating[:, ::1] lse, const floating[:, :, ::1] dy,
                    floating[:, :, ::1] dqkv, Py_ssize_t n_head, bint causal, double scale,
                    int isa, int nthreads):
    """dqkv (B, T, 3C), laid out like qkv, from qkv, y, lse and dy (B, T, C)."""
    cdef Py_ssize_t B = qkv.shape[0], T = qkv.shape[1], C = qkv.shape[2] // 3
    cdef Py_ssize_t D = C // n_head
    cdef tg_att_view views[4]
    cdef int err
    _packed_views(T, C, n_head, views)
    with nogil:
        if floating is float:
            err = tg_attention_backward_views_f32(
                &qkv[0, 0, 0], &qkv[0, 0, C], &qkv[0, 0, 2 * C], &y[0, 0, 0], &lse[0, 0],
                &dy[0, 0, 0], &dqkv[0, 0, 0], &dqkv[0, 0, C], &dqkv[0, 0, 2 * C], B * n_head,
                T, T, D, views, causal, 0, scale, isa, nthreads)
        else:
            err = tg_attention_backward_views_f64(
                &qkv[0, 0, 0], &qkv[0, 0, C], &qkv[0, 0, 2 * C], &y[0, 0, 0], &lse[0, 0],
                &dy[0, 0, 0], &dqkv[0, 0, 0], &dqkv[0, 0, C], &dqkv[0, 0, 2 * C], B * n_head,
                T, T, D, views, causal, 0, scale, isa, nthreads)
    _check(err)


def scratch_bytes(Py_ssize_t N, Py_ssize_t nT, Py_ssize_t nS, Py_ssize_t D, bint f64,
                  bint backward, int isa, int nthreads):
    """Bytes of scratch memory one forward (backward=False) or backward call allocates."""
    return tg_attention_scratch_bytes(N, nT, nS, D, f64, backward, isa, nthreads)


def blocking(int isa, bint f64):
    """(query block, key block, tile rows, tile lanes) of one ISA/dtype variant."""
    cdef Py_ssize_t out[4]
    tg_attention_blocking(isa, f64, out)
    return (out[0], out[1], out[2], out[3])
