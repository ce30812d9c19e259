"""tinygrad_edu.nn.functional (import as F): the operations of neural networks as functions.

Each validates its arguments (shapes, dtypes, index ranges) and applies one
Function from tinygrad_edu/ops/. The modules in nn/ hold parameters and call these.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np

from .. import rng
from ..ops import attention, matmul, nn_ops
from ..tensor import Tensor


def _tensor(x: Any, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a Tensor, got {type(x).__name__}")
    return x


def _float(x: Tensor, name: str) -> Tensor:
    if x.dtype.kind != "f":
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
    return x


# --- activations (lecture 1) ----------------------------------------------------------------


def relu(x: Tensor) -> Tensor:
    return _tensor(x, "input").relu()


def sigmoid(x: Tensor) -> Tensor:
    return _tensor(x, "input").sigmoid()


def tanh(x: Tensor) -> Tensor:
    return _tensor(x, "input").tanh()


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    return _float(_tensor(x, "input"), "input").gelu(approximate)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    return _float(_tensor(x, "input"), "input").softmax(dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    return _float(_tensor(x, "input"), "input").log_softmax(dim)


# --- layers as functions ----------------------------------------------------------------------


def _check_linear(x, weight, bias, name: str = "linear") -> None:
    _float(_tensor(x, "input"), "input")
    _tensor(weight, "weight")
    if weight.ndim != 2 or x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"{name}: input {x.shape} does not fit weight {weight.shape} (out, in)")
    if x.dtype != weight.dtype:
        raise TypeError(f"{name}: input is {x.dtype} but weight is {weight.dtype}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"{name}: bias shape {bias.shape} should be ({weight.shape[0]},)")


def _check_residual(residual, x, weight, name: str) -> None:
    _tensor(residual, "residual")
    if residual.shape != x.shape[:-1] + (weight.shape[0],) or residual.dtype != x.dtype:
        raise ValueError(
            f"{name}: residual {residual.shape} {residual.dtype} should be "
            f"{x.shape[:-1] + (weight.shape[0],)} {x.dtype}"
        )


def linear(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, residual: Tensor | None = None
) -> Tensor:
    """x @ weight.T + bias; x (..., in), weight (out, in), bias (out,).

    With `residual` (..., out): residual + (x @ weight.T + bias), the add done by the
    GEMM as it writes each tile (ops/matmul.py LinearResidual): a projection that adds
    onto the residual stream, in one pass."""
    _check_linear(x, weight, bias)
    if residual is not None:
        _check_residual(residual, x, weight, "linear")
        if bias is None:
            return matmul.LinearResidual.apply(x, weight, residual)
        return matmul.LinearResidual.apply(x, weight, residual, bias)
    if bias is None:
        return matmul.Linear.apply(x, weight)
    return matmul.Linear.apply(x, weight, bias)


def linear_gelu(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, approximate: str = "none"
) -> Tensor:
    """gelu(linear(x, weight, bias)): linear then GELU, in one pass (ops/matmul.py
    LinearGELU); the same numbers as the two calls."""
    _check_linear(x, weight, bias, "linear_gelu")
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    if bias is None:
        return matmul.LinearGELU.apply(x, weight, approximate=approximate)
    return matmul.LinearGELU.apply(x, weight, bias, approximate=approximate)


def mlp(
    x: Tensor,
    w_fc: Tensor,
    b_fc: Tensor | None,
    w_proj: Tensor,
    b_proj: Tensor | None,
    residual: Tensor | None = None,
    approximate: str = "none",
) -> Tensor:
    """linear(gelu(linear(x, w_fc, b_fc)), w_proj, b_proj, residual): the transformer's MLP
    block as one op (ops/matmul.py MLPBlock), the same numbers as the calls written out.
    x (..., C), w_fc (hidden, C), w_proj (out, hidden); both biases or neither."""
    _check_linear(x, w_fc, b_fc, "mlp")
    _tensor(w_proj, "w_proj")
    if w_proj.ndim != 2 or w_proj.shape[1] != w_fc.shape[0] or w_proj.dtype != w_fc.dtype:
        raise ValueError(f"mlp: w_proj {w_proj.shape} {w_proj.dtype} does not fit w_fc "
                         f"{w_fc.shape} {w_fc.dtype} (out, hidden)")  # fmt: skip
    if (b_fc is None) != (b_proj is None):
        raise ValueError("mlp: both biases or neither")
    if b_proj is not None and b_proj.shape != (w_proj.shape[0],):
        raise ValueError(f"mlp: b_proj shape {b_proj.shape} should be ({w_proj.shape[0]},)")
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    inputs = [x, w_fc, w_proj] + ([b_fc, b_proj] if b_fc is not None else [])
    if residual is not None:
        _check_residual(residual, x, w_proj, "mlp")
        inputs.append(residual)
    return matmul.MLPBlock.apply(*inputs, bias=b_fc is not None, residual=residual is not None,
                                 approximate=approximate)  # fmt: skip


def embedding(idx: Any, weight: Tensor) -> Tensor:
    """weight[idx]: idx integer (...), weight (num_embeddings, dim) -> (..., dim)."""
    ids = idx.data if isinstance(idx, Tensor) else np.asarray(idx)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"embedding indices must be integers, got {ids.dtype}")
    n = weight.shape[0]
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        bad = int(ids.min()) if ids.min() < 0 else int(ids.max())
        raise IndexError(f"embedding index {bad} is outside [0, {n})")
    return nn_ops.Embedding.apply(weight, idx=ids)


def layer_norm(
    x: Tensor,
    normalized_shape,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise the last dimension to mean 0, variance 1, then scale and shift."""
    _float(_tensor(x, "input"), "input")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if len(shape) != 1 or x.shape[-1:] != shape:
        raise ValueError(
            f"layer_norm over the last dimension {shape}, but input has shape {x.shape}"
        )
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.shape != shape:
            raise ValueError(f"layer_norm {name} shape {p.shape} should be {shape}")
    if weight is None and bias is not None:
        weight = Tensor(np.ones(shape, dtype=x.dtype))
    args = [a for a in (weight, bias) if a is not None]
    return nn_ops.LayerNorm.apply(x, *args, eps=eps)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p (training only), scale the rest by 1/(1-p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = rng.generator().random(x.shape) >= p
    return nn_ops.Dropout.apply(x, mask=keep, scale=1.0 / (1.0 - p))


# --- costs (lecture 2) --------------------------------------------------------------------------


def cross_entropy(logits: Tensor, targets: Any, ignore_index: int = -100) -> Tensor:
    """Mean over rows of -log softmax(logits)[target]; logits (N, C), targets (N,) ints.

    Rows whose target is `ignore_index` are left out of the mean (padding).
    """
    _float(_tensor(logits, "logits"), "logits")
    t = targets.data if isinstance(targets, Tensor) else np.asarray(targets)
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy needs logits of shape (N, C), got {logits.shape}")
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy targets must be integers, got {t.dtype}")
    if t.shape != (logits.shape[0],):
        raise ValueError(
            f"cross_entropy targets shape {t.shape} should be ({logits.shape[0]},) for logits {logits.shape}"
        )
    return nn_ops.CrossEntropy.apply(logits, targets=t, ignore_index=ignore_index)


def mse_loss(prediction: Tensor, target: Any) -> Tensor:
    """Mean squared error: mean of (prediction - target)^2."""
    target = (
        target if isinstance(target, Tensor) else Tensor(np.asarray(target, dtype=prediction.dtype))
    )
    if prediction.shape != target.shape:
        raise ValueError(
            f"mse_loss: prediction {prediction.shape} and target {target.shape} differ"
        )
    diff = prediction - target
    return (diff * diff).mean()


# --- attention (lectures 6-7) -------------------------------------------------------------------


def causal_mask(T: int, S: int, causal_offset: int = 0) -> np.ndarray:
    """(T, S) booleans, True where key j lies in query i's future: j > i + causal_offset.

    These are the scores attention sets to -inf, so a token looks only at itself and
    the tokens before it. With a KV cache, T new queries follow S - T cached keys:
    causal_offset = S - T (query i is then token S - T + i).
    """
    return np.triu(np.ones((T, S), dtype=bool), k=1 + causal_offset)


def attention_weights(
    q: Tensor,
    k: Tensor,
    attn_mask: Any = None,
    is_causal: bool = False,
    scale: float | None = None,
    *,
    causal_offset: int = 0,
) -> Tensor:
    """softmax(q k^T / sqrt(D) + mask): q (B, H, T, D), k (B, H, S, D) -> (B, H, T, S).

    Row i says how much query i attends to each key; it sums to 1. attn_mask: boolean
    (True = may look) or additive float, broadcastable to (B, H, T, S). is_causal: a
    token may look only at itself and the past (causal_mask, with causal_offset).
    """
    for name, t in (("q", q), ("k", k)):
        _float(_tensor(t, name), name)
        if t.ndim < 2:
            raise ValueError(f"{name} must be (..., T, D), got {t.shape}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"attention shapes do not fit: q {q.shape}, k {k.shape}")
    if attn_mask is not None and is_causal:
        raise ValueError("pass either attn_mask or is_causal, not both")
    T, S = q.shape[-2], k.shape[-2]
    _check_causal_offset(causal_offset, is_causal, T, S)
    scale = _default_scale(q.shape[-1]) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale  # (B, H, T, S): how well each query matches each key
    if is_causal:
        future = causal_mask(T, S, causal_offset)  # (T, S): key j after query i
        if future.any():  # (one new token, as in generation, has no future among the keys)
            scores = scores.masked_fill(future, -np.inf)
    elif attn_mask is not None:
        m = attn_mask.data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        scores = (
            scores.masked_fill(~m, -np.inf)
            if m.dtype == np.bool_
            else scores + Tensor(m.astype(scores.dtype))
        )
    return scores.softmax(-1)  # each row: how much one query attends to each key


def _default_scale(D: int) -> float:
    """1 / sqrt(D): keeps q . k near unit variance. With D = 0 every score is an empty
    sum, 0, whatever the scale (PyTorch then averages the values uniformly too)."""
    return 1.0 / math.sqrt(D) if D > 0 else 1.0


def _check_causal_offset(causal_offset: Any, is_causal: bool, T: int, S: int) -> None:
    if isinstance(causal_offset, bool) or not isinstance(causal_offset, (int, np.integer)):
        raise TypeError(f"causal_offset must be an int, got {type(causal_offset).__name__}")
    if causal_offset and not is_causal:
        raise ValueError(f"causal_offset={causal_offset} needs is_causal=True")
    if not -T <= causal_offset <= S:
        raise ValueError(f"causal_offset must be in [-T, S] = [{-T}, {S}], got {causal_offset}")


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    *,
    causal_offset: int = 0,
    fused: bool = True,
) -> Tensor:
    """softmax(q k^T / sqrt(D) + mask) v; q (..., T, D), k and v (..., S, D).

    The textbook way (fused=False, the last lines below): the weights are
    attention_weights(q, k, ...) above; dropout_p drops some of them (training only;
    PyTorch's order), and each query gets the weighted average of the values. Five
    ops, and the (B, H, T, S) weights stay alive until backward.

    Without attn_mask and dropout, and with q, k, v of one dtype and the same leading
    dims (B, H), the default runs ONE fused op instead (ops/attention.py:
    FlashAttention's online softmax, csrc/attention_impl.h) that never builds the
    weights. A query that may look at no key (causal_offset < 0) gets 0 there, where
    the textbook softmax gives NaN. KV cache: T new queries after S - T cached keys
    pass is_causal=True, causal_offset=S - T.
    """
    if (
        fused
        and attn_mask is None
        and all(isinstance(t, Tensor) and t.numel() > 0 for t in (q, k, v))  # empty: textbook
        and dropout_p == 0.0
        and all(isinstance(t, Tensor) and t.ndim >= 2 for t in (q, k, v))
        and q.dtype == k.dtype == v.dtype
        and q.dtype in (np.float32, np.float64)
        and q.shape[:-2] == k.shape[:-2] == v.shape[:-2]
        and q.shape[-1] == k.shape[-1] == v.shape[-1]
        and k.shape[-2] == v.shape[-2]
    ):
        T, S = q.shape[-2], k.shape[-2]
        _check_causal_offset(causal_offset, is_causal, T, S)
        scale = _default_scale(q.shape[-1]) if scale is None else float(scale)
        return attention.Attention.apply(
            q, k, v, causal=bool(is_causal), scale=scale, causal_offset=int(causal_offset)
        )
    _float(_tensor(v, "v"), "v")
    if v.ndim < 2:
        raise ValueError(f"v must be (..., S, D), got {v.shape}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"attention shapes do not fit: q {q.shape}, k {k.shape}, v {v.shape}")
    weights = attention_weights(q, k, attn_mask, is_causal, scale, causal_offset=causal_offset)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p)
    return weights @ v  # (B, H, T, D): a weighted average of the values


# The textbook lines alone, whatever the inputs (lessons and tests compare the two).
scaled_dot_product_attention_reference = partial(scaled_dot_product_attention, fused=False)


def multi_head_attention(
    qkv: Tensor, n_head: int, is_causal: bool = True, scale: float | None = None
) -> Tensor:
    """Multi-head attention from a packed (B, T, 3C) query|key|value tensor to (B, T, C).

    Exactly what nn.CausalSelfAttention does step by step -- split qkv into q, k, v,
    give each head its D = C / n_head features, (B, T, C) -> (B, n_head, T, D), run
    scaled_dot_product_attention, put the heads side by side again -- but as ONE op
    (ops/attention.py: MultiHeadAttention) around the same fused kernel, which saves
    ten small ops in forward and ten in backward for every layer.
    """
    _float(_tensor(qkv, "qkv"), "qkv")
    if qkv.dtype not in (np.float32, np.float64):
        raise TypeError(f"qkv must be float32 or float64, got {qkv.dtype}")
    if isinstance(n_head, bool) or not isinstance(n_head, (int, np.integer)) or n_head < 1:
        raise ValueError(f"n_head must be a positive int, got {n_head!r}")
    if qkv.ndim != 3 or qkv.shape[-1] % (3 * n_head):
        raise ValueError(
            f"qkv must be (B, T, 3 * C) with C divisible by n_head={n_head}, got {qkv.shape}"
        )
    D = qkv.shape[-1] // (3 * n_head)
    scale = _default_scale(D) if scale is None else float(scale)
    return attention.MultiHeadAttention.apply(
        qkv, n_head=int(n_head), causal=bool(is_causal), scale=scale
    )
