"""Reference kernels: readable NumPy, the math as the lectures write it.

These are the twins of the compiled kernels in compiled.py: the same signatures,
the same numbers (up to floating-point summation order). Read these to see what a
kernel computes; read csrc/ to see how it is made fast. The package runs on these
when the extension is not built.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import _validate as validate

NAME = "reference"


# --- reductions --------------------------------------------------------------------


def dot(x: np.ndarray, y: np.ndarray) -> float:
    """sum_i x[i] * y[i] for two 1-D arrays of the same length and dtype."""
    validate.float_array(x, "x")
    validate.float_array(y, "y")
    return float(np.sum(x * y))


def colsum(x: np.ndarray, out: np.ndarray | None = None, accumulate: bool = False) -> np.ndarray:
    """Sum a (rows, cols) matrix down its rows -> (cols,).

    This is the backward of broadcasting: a bias of shape (cols,) is added to every
    row in forward, so its gradient is the sum of the rows' gradients.
    With `accumulate`, the sums are added into `out` (gradient accumulation).
    """
    validate.float_array(x, "x")
    s = x.sum(axis=0)
    if out is None:
        return s
    if accumulate:
        out += s
    else:
        out[...] = s
    return out


# --- backward accumulation ----------------------------------------------------------


def sum_squares(arrays: list[np.ndarray]) -> np.ndarray:
    """[sum of x**2 over all of x, for x in arrays], float64: the squared lengths of a
    model's gradients, which gradient clipping needs all of (nn/utils.py)."""
    validate.float_arrays(arrays, "arrays")
    return np.array(
        [float(np.sum(np.square(x, dtype=np.float64))) for x in arrays], dtype=np.float64
    )


def scale_(arrays: list[np.ndarray], s: float) -> None:
    """x *= s for every x in arrays, in place, in x's own dtype (gradient clipping)."""
    validate.float_arrays(arrays, "arrays")
    for x in arrays:
        x *= s


def add(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """a + b, elementwise, for two float arrays of one shape and dtype (no broadcasting).

    The residual connection x + f(x), and in backward the meeting of two gradients
    (a tensor used twice gets the sum of both uses' gradients). With `out` (which may
    be a or b itself) the sum is written there.
    """
    validate.float_array(a, "a")
    validate.float_array(b, "b")
    if out is None:
        return a + b
    np.add(a, b, out=out)
    return out


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
    validate.float_array(g, "g")
    dw = np.zeros((num_embeddings, g.shape[-1]), dtype=g.dtype)
    np.add.at(dw, idx.reshape(-1), g.reshape(idx.size, g.shape[-1]))
    return dw


# --- layer normalisation -------------------------------------------------------------


def layer_norm(x: np.ndarray, weight, bias, eps: float):
    """x (N, C) -> y (N, C), mean (N,), rstd (N,).

    Each row is shifted to mean 0 and scaled to variance 1, then scaled by `weight`
    and shifted by `bias` (C,), both learned. rstd = 1 / sqrt(var + eps).
    """
    validate.float_array(x, "x")
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
    validate.float_array(x, "x")
    validate.float_array(dy, "dy")
    xhat = (x - mean[:, None]) * rstd[:, None]
    dxhat = dy * weight if weight is not None else dy
    dx = rstd[:, None] * (
        dxhat
        - dxhat.mean(axis=1, keepdims=True)
        - xhat * (dxhat * xhat).mean(axis=1, keepdims=True)
    )
    dweight = (dy * xhat).sum(axis=0) if weight is not None else None
    dbias = dy.sum(axis=0)
    return dx.astype(x.dtype, copy=False), dweight, dbias


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


def gemm(
    a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, accumulate: bool = False
) -> np.ndarray:
    """C = A @ B for A (M, K), B (K, N) -> (M, N): C[i, j] = sum_k A[i, k] * B[k, j].

    The kernel under every Linear layer: y = x @ W.T forward, dx = dy @ W and
    dW = dy.T @ x backward. a and b may be any views (transposed, sliced, reversed).
    With `out`, the result is written into it (C-contiguous, same dtype); with
    `accumulate=True` it is added to it (out += a @ b), as gradients accumulate.
    """
    validate.check_gemm(a, b, out)
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
    validate.float_array(a, "a")
    validate.float_array(b, "b")
    validate.same_dtype(("a", a), ("b", b))
    return np.matmul(a, b)


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
    validate.float_array(p, "p")
    validate.float_array(g, "g")
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
    validate.float_array(p, "p")
    validate.float_array(g, "g")
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
    validate.float_array(p, "p")
    validate.float_array(g, "g")
    adam_update(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled=True)


# --- softmax, log-softmax, cross-entropy, GELU ----------------------------------------
#
# A classifier's last layer gives every row C "logits", unnormalised log-probabilities;
# softmax turns them into probabilities. x is (rows, C) -- the Tensor engine folds any
# leading axes into rows -- and everything below works over the LAST axis.
# The C kernels are csrc/softmax_impl.h and csrc/gelu_impl.h; the vector exp they share
# is csrc/tg_exp.h.


def softmax(x: np.ndarray) -> np.ndarray:
    """p_i = e^(x_i) / sum_j e^(x_j) over the last axis.

    Subtracting the row's maximum m first changes nothing (e^-m cancels above and
    below the line) but makes every exponent <= 0, so e^ cannot overflow even for
    logits of 1e4. A -inf logit (a masked position) gets probability exactly 0. A row
    that is ALL -inf has no distribution: it gives NaN, as in PyTorch.
    """
    validate.float_array(x, "x")
    with np.errstate(invalid="ignore"):  # all -inf row: -inf - (-inf) = NaN, on purpose
        m = np.max(x, axis=-1, keepdims=True, initial=-np.inf)  # (rows, 1)
        e = np.exp(x - m)  # (rows, C), each in [0, 1], the max itself gives 1
        return e / np.sum(e, axis=-1, keepdims=True)


def softmax_backward(y: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """dx for y = softmax(x): dx_i = y_i * (dy_i - sum_j dy_j y_j).

    (The Jacobian dy_j/dx_i = y_j (delta_ij - y_i), applied to dy; y and dy (rows, C).)
    """
    validate.float_array(y, "y")
    validate.float_array(dy, "dy")
    return y * (dy - np.sum(dy * y, axis=-1, keepdims=True))


def log_softmax(x: np.ndarray) -> np.ndarray:
    """y_i = x_i - log sum_j e^(x_j) = (x_i - m) - log sum_j e^(x_j - m), m the row max.

    Computed directly, not as log(softmax(x)): a probability that underflows to 0
    would become -inf, while here a logit of -1e4 gets its finite log-probability.
    """
    validate.float_array(x, "x")
    with np.errstate(invalid="ignore", divide="ignore"):  # all -inf rows, C = 0
        m = np.max(x, axis=-1, keepdims=True, initial=-np.inf)  # (rows, 1)
        log_s = np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))  # (rows, 1)
        return (x - m) - log_s


def log_softmax_backward(y: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """dx for y = log_softmax(x): dx_i = dy_i - e^(y_i) sum_j dy_j (e^y is the softmax)."""
    validate.float_array(y, "y")
    validate.float_array(dy, "dy")
    return dy - np.exp(y) * np.sum(dy, axis=-1, keepdims=True)


class CrossEntropySaved(NamedTuple):
    """What cross_entropy keeps for its backward: enough for ONE pass over the logits.

    row_max[n] and row_log_sum[n] = log sum_j e^(logits[n, j] - row_max[n]) give back
    softmax(logits[n]) = e^((logits[n] - row_max[n]) - row_log_sum[n]) without another
    max or sum. (Their sum, the log-sum-exp, would be one number fewer, but at logits
    of 1e4 a float32 has a spacing of 1e-3 there, and the loss would lose its digits.)
    """

    logits: np.ndarray  # (N, C)
    targets: np.ndarray  # (N,) int64, validated
    row_max: np.ndarray  # (N,) dtype of logits
    row_log_sum: np.ndarray  # (N,)
    ignore_index: int


def cross_entropy(
    logits: np.ndarray, targets: np.ndarray, ignore_index: int = -100
) -> tuple[float, CrossEntropySaved]:
    """Mean over rows of -log softmax(logits[n])[targets[n]] -> (loss, saved).

    logits (N, C), targets (N,) integer classes. Rows whose target is ignore_index
    (padding) are left out of the mean, as in torch.nn.functional.cross_entropy. If
    no row counts (all ignored, or N = 0) the mean is 0/0 = NaN -- PyTorch's answer
    too -- and the gradient is all zeros.
    """
    validate.float_array(logits, "logits")
    targets = validate.cross_entropy_targets(logits, targets, ignore_index)
    with np.errstate(invalid="ignore", divide="ignore"):
        row_max = np.max(logits, axis=-1, initial=-np.inf)  # (N,)
        shifted = logits - row_max[:, None]  # (N, C), <= 0
        row_log_sum = np.log(np.sum(np.exp(shifted), axis=-1))  # (N,)
    counted = np.nonzero(targets != ignore_index)[0]  # the rows in the mean
    # -log p_t = log sum_j e^(x_j - m) - (x_t - m)
    losses = row_log_sum[counted] - shifted[counted, targets[counted]]
    loss = float(np.sum(losses, dtype=np.float64) / counted.size) if counted.size else float("nan")
    return loss, CrossEntropySaved(logits, targets, row_max, row_log_sum, int(ignore_index))


def cross_entropy_backward(saved: CrossEntropySaved, grad_loss: float) -> np.ndarray:
    """d loss / d logits = grad_loss * (softmax(logits) - onehot(targets)) / N_counted.

    Ignored rows get 0. One pass: softmax comes back from the saved row_max/row_log_sum.
    """
    logits, targets, row_max, row_log_sum, ignore_index = saved
    counted = targets != ignore_index  # (N,)
    n_counted = int(np.count_nonzero(counted))
    scale = float(grad_loss) / n_counted if n_counted else 0.0
    with np.errstate(invalid="ignore"):
        p = np.exp((logits - row_max[:, None]) - row_log_sum[:, None])  # (N, C) softmax
    dlogits = p * logits.dtype.type(scale)
    rows = np.nonzero(counted)[0]
    dlogits[rows, targets[rows]] -= logits.dtype.type(scale)  # the -onehot
    dlogits[~counted] = 0
    return dlogits


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_erfc = np.frompyfunc(math.erfc, 1, 1)  # math.erfc on every element (slow, exact)


def gelu(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    """GELU(x) = x * Phi(x), Phi the standard normal CDF, element-wise, any shape.

    exact ("none"): Phi(x) = (1 + erf(x/sqrt2))/2, written as erfc(-x/sqrt2)/2 -- the
    same number, but without the cancellation of 1 + erf(x/sqrt2) ~ 1 - 1 for x << 0.
    "tanh": Phi(x) ~ (1 + tanh(u))/2, u = sqrt(2/pi) (x + 0.044715 x^3) (GPT-2's form),
    written as sigmoid(2u) = 1/(1 + e^(-2u)) -- the same number (multiply top and bottom
    of (1 + tanh u)/2 by e^u + e^-u) without the cancellation of 1 + tanh(u) for u << 0;
    with e = e^(-2|u|) <= 1 it is 1/(1 + e) for u >= 0 and e/(1 + e) for u < 0 (no
    overflow either).
    Computed in float64, rounded once to x's dtype. GELU(-inf) = NaN (-inf * 0), as in
    PyTorch; GELU(+inf) = +inf.
    """
    validate.float_array(x, "x")
    tanh_form = validate.check_approximate(approximate)
    x64 = x.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        if tanh_form:
            u = _SQRT_2_OVER_PI * (x64 + 0.044715 * x64**3)
            e = np.exp(-2.0 * np.abs(u))  # in [0, 1]
            y = x64 * np.where(u >= 0, 1.0, e) / (1.0 + e)  # x * sigmoid(2u)
        else:
            y = 0.5 * x64 * np.asarray(_erfc(-x64 / math.sqrt(2.0)), dtype=np.float64)
    return y.astype(x.dtype)


def gelu_backward(x: np.ndarray, dy: np.ndarray, approximate: str = "none") -> np.ndarray:
    """dx = dy * GELU'(x).

    exact: GELU'(x) = Phi(x) + x phi(x), phi(x) = e^(-x^2/2)/sqrt(2 pi) the density.
    tanh:  GELU'(x) = s + x s (1 - s) 2 du/dx, with s = (1 + tanh u)/2 = 1/(1 + e^(-2u))
           and du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2).
    """
    validate.float_array(x, "x")
    validate.float_array(dy, "dy")
    tanh_form = validate.check_approximate(approximate)
    x64 = x.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        if tanh_form:
            u = _SQRT_2_OVER_PI * (x64 + 0.044715 * x64**3)
            e = np.exp(-2.0 * np.abs(u))
            s = np.where(u >= 0, 1.0, e) / (1.0 + e)  # sigmoid(2u), as in gelu
            one_minus_s = np.where(u >= 0, e, 1.0) / (1.0 + e)
            du = _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x64**2)
            grad = s + x64 * s * one_minus_s * 2.0 * du
        else:
            cdf = 0.5 * np.asarray(_erfc(-x64 / math.sqrt(2.0)), dtype=np.float64)
            pdf = np.exp(-0.5 * x64 * x64) / math.sqrt(2.0 * math.pi)
            grad = cdf + x64 * pdf
    return (dy.astype(np.float64) * grad).astype(x.dtype)


# --- a Linear layer and what follows it, in one pass (csrc/gemm_impl.h, the epilogue) ---


def linear_gelu(x, weight, bias=None, approximate: str = "none"):
    """(h, y): the MLP's first layer and its activation, x (N, in) -> (N, out).

        h = x @ weight.T + bias      (N, out)   the layer: gemm, then the bias
        y = gelu(h)                  (N, out)   the activation

    h is returned too: the backward pass takes GELU's derivative at h
    (gelu_backward(h, dy)). The compiled kernel computes both while each tile of h is
    still in the cache; these lines are its meaning.
    """
    validate.check_linear(x, weight, bias)
    h = gemm(x, weight.T)
    if bias is not None:
        h += bias
    return h, gelu(h, approximate)


def linear_residual(x, weight, bias, residual):
    """residual + (x @ weight.T + bias): a projection that adds onto the residual stream
    (attention's and the MLP's c_proj), x (N, in), residual (N, out) -> (N, out)."""
    validate.check_linear(x, weight, bias, residual)
    h = gemm(x, weight.T)
    if bias is not None:
        h += bias
    return residual + h


def mlp_forward(x, w_fc, b_fc, w_proj, b_proj, residual=None, approximate: str = "none"):
    """(h, g, y): the transformer's MLP block, x (N, C) -> y (N, out), as the two ops above.

        h, g = linear_gelu(x, w_fc, b_fc)        (N, hidden)  c_fc, and g = gelu(h)
        y = g @ w_proj.T + b_proj (+ residual)   (N, out)     c_proj (linear_residual)

    h and g are returned for the backward pass: GELU's derivative is taken at h, and
    c_proj's weight gradient is dy^T g. The whole block is one kernel so that a
    learner's `mlp_block` exercise can take its place (`--mine`, kernels/mine.py).
    """
    h, g = linear_gelu(x, w_fc, b_fc, approximate)
    validate.check_linear(g, w_proj, b_proj, residual)  # c_proj's operands, with or without
    if residual is not None:
        return h, g, linear_residual(g, w_proj, b_proj, residual)
    y = gemm(g, w_proj.T)
    if b_proj is not None:
        y += b_proj
    return h, g, y


# --- attention (lecture 7; csrc/attention_impl.h is the fused kernel) -----------------


def _attention_probabilities(q, k, causal, scale, causal_offset, lse=None):
    """P = softmax(scale * q k^T) with the causal mask: (N, T, S), and lse (N, T).

    Given lse (the backward), P = exp(scores - lse) directly, without a new max.
    """
    N, T, D = q.shape
    S = k.shape[1]
    scores = (q @ k.transpose(0, 2, 1)) * q.dtype.type(scale)  # (N, T, S)
    if causal:
        i = np.arange(T)[:, None]  # query positions, as a column
        j = np.arange(S)[None, :]  # key positions, as a row
        scores = np.where(j > i + causal_offset, -np.inf, scores)  # no looking ahead
    if lse is None:
        m = scores.max(axis=-1, keepdims=True) if S else np.full((N, T, 1), -np.inf, q.dtype)
        m = np.where(np.isneginf(m), 0, m)  # a row that sees nothing: keep exp(-inf) = 0
        e = np.exp(scores - m)  # (N, T, S), each in [0, 1]
        total = e.sum(axis=-1, keepdims=True)  # (N, T, 1)
        with np.errstate(divide="ignore"):
            lse = (m + np.log(total))[..., 0]  # log-sum-exp; -inf for an empty row
        p = e / np.where(total == 0, 1, total)  # an empty row: all zeros
    else:
        # the forward's P, rebuilt from its log-sum-exp; rows that saw nothing stay 0
        safe = np.where(np.isneginf(lse), np.inf, lse)[..., None]
        p = np.exp(scores - safe)
    return p.astype(q.dtype, copy=False), lse.astype(q.dtype, copy=False)


def attention_forward(q, k, v, causal: bool, scale: float, causal_offset: int = 0):
    """Scaled dot-product attention for N = batch * heads independent heads.

    q (N, T, D) queries, k and v (N, S, D) keys and values -> out (N, T, D), lse (N, T):

        scores = scale * q @ k^T                  (N, T, S)
        scores[i, j] = -inf if j > i + offset     (causal: query i sees keys j <= i + offset)
        P = softmax(scores) over the keys         (N, T, S)
        out = P @ v                               (N, T, D)
        lse = log sum_j exp(scores[i, j])         (N, T) what backward needs instead of P

    causal_offset 0 is PyTorch's is_causal=True; S - T puts the diagonal at the bottom
    right, for T new queries after S - T cached keys. A query that may look at no key
    gets out 0 and lse -inf (PyTorch gives NaN there).
    """
    validate.check_attention(q, k, v, causal, scale, causal_offset)
    p, lse = _attention_probabilities(q, k, causal, scale, causal_offset)
    return (p @ v).astype(q.dtype, copy=False), lse


def attention_forward_online(
    q, k, v, causal: bool, scale: float, causal_offset: int = 0, block: int = 64
):
    """attention_forward by the *online softmax*: the algorithm of the C kernels.

    Same arguments and results as attention_forward, but P (N, T, S) is never built.
    The keys are visited in blocks of `block`; for every query we keep

        m    (N, T, 1)   the largest score seen so far
        l    (N, T, 1)   sum of exp(score - m) over the keys seen so far
        acc  (N, T, D)   sum of exp(score - m) * v over the keys seen so far

    A new block of scores s (N, T, block) may raise the maximum to m_new; what was summed
    so far was scaled by exp(-m), so it is rescaled by alpha = exp(m - m_new):

        l   = l * alpha + rowsum(exp(s - m_new))
        acc = acc * alpha + exp(s - m_new) @ v_block

    and at the end out = acc / l, lse = m + log(l). Memory: one (N, T, block) block of
    scores instead of all of P -- which is why the kernel fits in cache for any length.
    (csrc/naive_impl.h does it with block = 1, csrc/attention_impl.h with 64 x 64 tiles.)
    """
    N, T, S, D = validate.check_attention(q, k, v, causal, scale, causal_offset)
    if not isinstance(block, int) or block < 1:
        raise ValueError(f"block must be a positive int, got {block!r}")
    dt = q.dtype.type
    m = np.full((N, T, 1), -np.inf, dtype=q.dtype)  # running max
    l = np.zeros((N, T, 1), dtype=q.dtype)  # noqa: E741 - the paper's name: running sum
    acc = np.zeros((N, T, D), dtype=q.dtype)  # running sum of weights * values
    i = np.arange(T)[:, None]  # query positions, as a column
    for j0 in range(0, S, block):
        kb, vb = k[:, j0 : j0 + block], v[:, j0 : j0 + block]  # (N, b, D)
        s = (q @ kb.transpose(0, 2, 1)) * dt(scale)  # (N, T, b) this block's scores
        if causal:
            j = np.arange(j0, j0 + kb.shape[1])[None, :]  # key positions, as a row
            s = np.where(j > i + causal_offset, -np.inf, s)
        m_new = np.maximum(m, s.max(axis=-1, keepdims=True))  # (N, T, 1)
        safe = np.where(np.isneginf(m_new), 0, m_new)  # a row that saw nothing yet: exp(-inf) = 0
        alpha = np.exp(m - safe)  # (N, T, 1) how much the old sums shrink
        p = np.exp(s - safe)  # (N, T, b) this block's unnormalised weights
        l = l * alpha + p.sum(axis=-1, keepdims=True)  # noqa: E741
        acc = acc * alpha + p @ vb  # (N, T, D)
        m = m_new
    with np.errstate(divide="ignore"):
        lse = (m + np.log(l))[..., 0]  # -inf for a query that saw no key
    out = acc / np.where(l == 0, 1, l)  # that query: all zeros
    return out.astype(q.dtype, copy=False), lse.astype(q.dtype, copy=False)


def attention_backward(q, k, v, out, lse, dout, causal: bool, scale: float, causal_offset: int = 0):
    """Gradients of attention_forward: dq (N, T, D), dk and dv (N, S, D).

    With P rebuilt from lse (N, T, S) and dout = dCost/dout (N, T, D):
        dv = P^T @ dout                           (N, S, D)
        dP = dout @ v^T                           (N, T, S)
        dS = P * (dP - rowsum(dout * out))        (N, T, S) softmax's backward
        dq = scale * dS @ k                       (N, T, D)
        dk = scale * dS^T @ q                     (N, S, D)
    (rowsum(dP * P) = rowsum(dout * out), since out = P @ v: an (N, T) vector.)
    """
    validate.check_attention(q, k, v, causal, scale, causal_offset)
    validate.check_attention_grads(q, out, lse, dout)
    p, _ = _attention_probabilities(q, k, causal, scale, causal_offset, lse)
    dv = p.transpose(0, 2, 1) @ dout
    dp = dout @ v.transpose(0, 2, 1)
    d = (dout * out).sum(axis=-1, keepdims=True)  # (N, T, 1)
    ds = p * (dp - d)
    s = q.dtype.type(scale)
    dq = (ds @ k) * s
    dk = (ds.transpose(0, 2, 1) @ q) * s
    return (
        dq.astype(q.dtype, copy=False),
        dk.astype(q.dtype, copy=False),
        dv.astype(q.dtype, copy=False),
    )


# --- multi-head attention on packed (B, T, 3C) query|key|value activations ----------------


def _heads(x, H):
    """(B, T, C) -> (B*H, T, D): cut C into H heads of D features, heads as a batch dim."""
    B, T, C = x.shape
    return np.ascontiguousarray(x.reshape(B, T, H, C // H).transpose(0, 2, 1, 3)).reshape(
        B * H, T, C // H
    )


def _merge_heads(x, B, H):
    """(B*H, T, D) -> (B, T, H*D): the heads side by side again (the inverse of _heads)."""
    _, T, D = x.shape
    return np.ascontiguousarray(x.reshape(B, H, T, D).transpose(0, 2, 1, 3)).reshape(B, T, H * D)


def multi_head_attention_forward(qkv, n_head: int, causal: bool, scale: float):
    """qkv (B, T, 3C) -> y (B, T, C), lse (B * n_head, T).

    q, k, v = qkv split in three; each head h of n_head attends with its D = C / n_head
    features (attention_forward), and y has the heads' outputs side by side."""
    B, T, C, H, D = validate.check_multi_head(qkv, n_head, causal, scale)
    q, k, v = (_heads(x, H) for x in np.split(qkv, 3, axis=2))  # each (B*H, T, D)
    out, lse = attention_forward(q, k, v, causal, scale)
    return _merge_heads(out, B, H), lse


def multi_head_attention_backward(qkv, y, lse, dy, n_head: int, causal: bool, scale: float):
    """dqkv (B, T, 3C), laid out like qkv, from qkv, y, lse and dy = dCost/dy (B, T, C)."""
    B, T, C, H, D = validate.check_multi_head(qkv, n_head, causal, scale)
    validate.check_multi_head_grads(qkv, y, lse, dy, B, T, C, H)
    q, k, v = (_heads(x, H) for x in np.split(qkv, 3, axis=2))  # each (B*H, T, D)
    out, dout = _heads(y, H), _heads(dy, H)
    dq, dk, dv = attention_backward(q, k, v, out, lse, dout, causal, scale)
    return np.concatenate([_merge_heads(d, B, H) for d in (dq, dk, dv)], axis=2)


# --- sampling (lesson 5: models/gpt.py sample_next draws the next token) --------------


def top_p_filter(probs: np.ndarray, top_p: float) -> np.ndarray:
    """Nucleus (top-p) filtering: probs (B, vocab), each row summing to 1 -> (B, vocab).

    Keep each row's most likely tokens until their probabilities add up to top_p (the
    smallest such set: a token is kept if the tokens more likely than it hold less than
    top_p), zero the rest, and rescale the kept ones to sum to 1 again.
    """
    order = np.argsort(-probs, axis=-1)  # most likely first
    sorted_p = np.take_along_axis(probs, order, axis=-1)
    keep_sorted = np.cumsum(sorted_p, axis=-1) - sorted_p < top_p  # always keeps the first
    keep = np.zeros_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    probs = np.where(keep, probs, 0.0)
    return probs / probs.sum(axis=-1, keepdims=True)
