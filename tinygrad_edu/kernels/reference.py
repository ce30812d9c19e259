"""Reference kernels: readable NumPy, the math as the lectures write it.

These are the twins of the compiled kernels in compiled.py: the same signatures,
the same numbers (up to floating-point summation order). Read these to see what a
kernel computes; read csrc/ to see how it is made fast. The package runs on these
when the extension is not built.
"""

from __future__ import annotations

import numpy as np

from . import _validate as V

NAME = "reference"


# --- reductions --------------------------------------------------------------------


def dot(x: np.ndarray, y: np.ndarray) -> float:
    """sum_i x[i] * y[i] for two 1-D arrays of the same length and dtype."""
    return float(np.sum(x * y))


def colsum(x: np.ndarray, out: np.ndarray | None = None, accumulate: bool = False) -> np.ndarray:
    """Sum a (rows, cols) matrix down its rows -> (cols,).

    This is the backward of broadcasting: a bias of shape (cols,) is added to every
    row in forward, so its gradient is the sum of the rows' gradients.
    With `accumulate`, the sums are added into `out` (gradient accumulation).
    """
    s = x.sum(axis=0)
    if out is None:
        return s
    if accumulate:
        out += s
    else:
        out[...] = s
    return out


# --- backward accumulation ----------------------------------------------------------


def sum_to_shape(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a gradient back to the shape of an input that was broadcast in forward.

    Broadcasting copies an input along new leading axes and along axes of size 1;
    each copy received its own gradient, so the input's gradient is their sum:
    g (4, 3, 5) -> shape (3, 1): sum over axis 0 (new), then axis 2 (size 1).
    """
    shape = tuple(shape)
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    s = g.sum(axis=axes, keepdims=True) if axes else g
    return s.reshape(shape)


def embedding_backward(idx: np.ndarray, g: np.ndarray, num_embeddings: int) -> np.ndarray:
    """Gradient of weight[idx]: row v receives the sum of g over every place idx == v.

    idx (...) ints, g (..., D) -> (num_embeddings, D). np.add.at adds repeated
    indices one by one (plain `dw[idx] += g` would keep only the last of them).
    """
    dw = np.zeros((num_embeddings, g.shape[-1]), dtype=g.dtype)
    np.add.at(dw, idx.reshape(-1), g.reshape(-1, g.shape[-1]))
    return dw


# --- layer normalisation -------------------------------------------------------------


def layer_norm(x: np.ndarray, weight, bias, eps: float):
    """x (N, C) -> y (N, C), mean (N,), rstd (N,).

    Each row is shifted to mean 0 and scaled to variance 1, then scaled by `weight`
    and shifted by `bias` (C,), both learned. rstd = 1 / sqrt(var + eps).
    """
    mean = x.mean(axis=1)
    xc = x - mean[:, None]
    var = (xc * xc).mean(axis=1)
    rstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
    y = xc * rstd[:, None]
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y.astype(x.dtype, copy=False), mean, rstd


def layer_norm_backward(x, weight, mean, rstd, dy):
    """Gradients of layer_norm: dx (N, C), dweight (C,), dbias (C,).

    With xhat = (x - mean) * rstd and dxhat = dy * weight, the mean and variance
    depend on every element of the row, which gives the two correction terms:
        dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
    """
    xhat = (x - mean[:, None]) * rstd[:, None]
    dxhat = dy * weight if weight is not None else dy
    dx = rstd[:, None] * (
        dxhat - dxhat.mean(axis=1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=1, keepdims=True)
    )
    dweight = (dy * xhat).sum(axis=0) if weight is not None else None
    dbias = dy.sum(axis=0)
    return dx.astype(x.dtype, copy=False), dweight, dbias


# --- optimizer updates ----------------------------------------------------------------
# One step of gradient descent for one parameter tensor, in place (lecture 2: step
# downhill, against the gradient). These are the twins of csrc/optim_impl.h, which
# does the same in one pass over memory; the order of operations is PyTorch's.


def sgd_update(
    p: np.ndarray,
    g: np.ndarray,
    buf: np.ndarray | None,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    first: bool = False,
) -> None:
    """p -= lr * d, with d the gradient plus L2 weight decay, through momentum.

    p, g, buf: same shape and dtype; buf (the momentum buffer, "velocity") may be None
    when momentum == 0. `first`: the first step, when the buffer starts as a copy of d.
    """
    d = g
    if weight_decay != 0:
        d = d + weight_decay * p  # L2: the gradient of (weight_decay / 2) * |p|^2
    if momentum != 0:
        if first:
            buf[...] = d
        else:
            buf *= momentum  # a running sum of past steps: keeps rolling through noise
            buf += (1 - dampening) * d
        d = d + momentum * buf if nesterov else buf
    p += -lr * d


def adam_update(
    p: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    step: int,
    decoupled: bool = False,
) -> None:
    """One Adam step (AdamW's when `decoupled`), in place on p, m, v (all the same shape).

    m and v are running means of the gradient and of its square; each weight moves by
    about lr in the direction of m, scaled down where the gradient is noisy (v large).
    `step` counts from 1: the bias corrections undo the pull of m = v = 0 at the start.
    """
    if weight_decay != 0 and not decoupled:
        g = g + weight_decay * p  # Adam: L2 decay is part of the gradient (then rescaled by v)
    if weight_decay != 0 and decoupled:
        p *= 1 - lr * weight_decay  # AdamW: shrink the weight itself, by the same fraction for all
    m += (1 - beta1) * (g - m)  # m = beta1 * m + (1 - beta1) * g
    v *= beta2
    v += (1 - beta2) * g * g  # v = beta2 * v + (1 - beta2) * g^2
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    step_size = lr / bias_correction1
    denom = np.sqrt(v) / bias_correction2**0.5 + eps
    p += -step_size * m / denom


def adamw_update(
    p: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    step: int,
) -> None:
    """AdamW (Loshchilov & Hutter): Adam with the weight decay decoupled from the gradient."""
    adam_update(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled=True)


# --- matrix multiply -----------------------------------------------------------------


def matmul_naive(a, b):
    """C[i][j] = sum_k A[i][k] * B[k][j], one multiply-add at a time, in pure Python.

    The definition, for lists of lists (or 2-D arrays): 2*M*N*K interpreted steps, so
    keep n below ~100. Returns a list of lists for lists, an ndarray for arrays.
    This is the bottom rung of the engine-room ladder: the same loops in C
    (compiled.gemm_naive), then blocked, vectorized and threaded (compiled.gemm).
    """
    arrays = isinstance(a, np.ndarray) or isinstance(b, np.ndarray)
    A = a.tolist() if isinstance(a, np.ndarray) else a  # Python floats: fast to index
    B = b.tolist() if isinstance(b, np.ndarray) else b
    M, K = len(A), len(B)
    N = len(B[0]) if K else (b.shape[1] if isinstance(b, np.ndarray) else 0)
    if any(len(row) != K for row in A):
        raise ValueError(f"matmul_naive: rows of a must have len(b) = {K} entries")
    C = [[0.0] * N for _ in range(M)]
    for i in range(M):
        for j in range(N):
            s = 0.0
            for k in range(K):
                s += A[i][k] * B[k][j]
            C[i][j] = s
    if arrays:
        return np.array(C, dtype=np.result_type(a, b)).reshape(M, N)
    return C


def _check_gemm(a, b, out) -> None:
    """The errors both gemm()s raise: non-arrays, dtypes, shapes, a bad `out`."""
    V.float_array(a, "a")
    V.float_array(b, "b")
    V.same_dtype(("a", a), ("b", b))
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"gemm needs (M, K) @ (K, N), got shapes {a.shape} and {b.shape}")
    if out is not None:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
        if out.dtype != a.dtype:
            raise ValueError(f"out must have the dtype of a and b ({a.dtype}), got {out.dtype}")
        if out.shape != (a.shape[0], b.shape[1]):
            raise ValueError(
                f"out must have shape {(a.shape[0], b.shape[1])} for {a.shape} @ {b.shape}, "
                f"got {out.shape}"
            )
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError("out must be a writeable C-contiguous array")


def gemm(
    a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, accumulate: bool = False
) -> np.ndarray:
    """C = A @ B for A (M, K), B (K, N) -> (M, N): C[i, j] = sum_k A[i, k] * B[k, j].

    The kernel under every Linear layer: y = x @ W.T forward, dx = dy @ W and
    dW = dy.T @ x backward. a and b may be any views (transposed, sliced, reversed).
    With `out`, the result is written into it (C-contiguous, same dtype); with
    `accumulate=True` it is added to it (out += a @ b), as gradients accumulate.
    """
    _check_gemm(a, b, out)
    c = a @ b  # (M, N)
    if out is None:
        return c
    if accumulate:
        out += c
    else:
        out[...] = c
    return out


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.matmul: (..., M, K) @ (..., K, N) -> (..., M, N), batch dims broadcast.

    A 1-D a is a row (1, K) and a 1-D b a column (K, 1); that axis is dropped from the
    result. Attention uses the batched form: (B, n_head, T, hs) @ (B, n_head, hs, T).
    """
    V.float_array(a, "a")
    V.float_array(b, "b")
    V.same_dtype(("a", a), ("b", b))
    return np.matmul(a, b)
