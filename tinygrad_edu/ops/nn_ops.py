"""The operations that neural networks are made of, beyond arithmetic.

Softmax, cross-entropy, LayerNorm and the embedding's backward are hot loops: each
calls a fused kernel (kernels.ops.*) that reads its row once while it sits in cache.
They work over the LAST axis; (..., C) is viewed as (rows, C) for the kernel.
"""

from __future__ import annotations

import math

import numpy as np

from .. import kernels
from ..autograd import Function
from .movement import sum_to


def _rows(x: np.ndarray) -> np.ndarray:
    """(..., C) -> (rows, C) as a view where possible (C may be 0: rows is then explicit)."""
    return x.reshape(math.prod(x.shape[:-1]), x.shape[-1]) if x.ndim != 2 else x


class Softmax(Function):
    # y_i = e^{x_i} / sum_j e^{x_j}  over the last axis: scores -> probabilities.
    # dx = y * (dy - sum(dy * y))   (the Jacobian of softmax applied to dy)
    @staticmethod
    def forward(ctx, x):
        y = kernels.ops.softmax(x)  # over the last axis, any leading shape
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return (kernels.ops.softmax_backward(y, g),)


class LogSoftmax(Function):
    # y_i = x_i - log sum_j e^{x_j};  dx = dy - e^y * sum(dy)
    @staticmethod
    def forward(ctx, x):
        y = kernels.ops.log_softmax(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return (kernels.ops.log_softmax_backward(y, g),)


class CrossEntropy(Function):
    # cost = mean over rows n of -log softmax(logits_n)[target_n]   (lecture 2's cost
    # for classification). Fused: log-softmax and the pick happen in one pass, and
    # d cost / d logits = (softmax(logits) - onehot(target)) / N_counted.
    @staticmethod
    def forward(ctx, logits, *, targets, ignore_index=-100):
        loss, saved = kernels.ops.cross_entropy(logits, targets, ignore_index)
        ctx.save_for_backward(saved)
        return np.asarray(loss, dtype=logits.dtype)

    @staticmethod
    def backward(ctx, g):
        (saved,) = ctx.saved
        return (kernels.ops.cross_entropy_backward(saved, float(g)),)


class MaskedFill(Function):
    # y = x, with `value` where mask is True (e.g. -inf where a token may not look).
    # The filled places do not depend on x, so their gradient is 0.
    @staticmethod
    def forward(ctx, x, *, mask, value):
        ctx.shapes = (x.shape,)
        return np.where(mask, np.asarray(value, dtype=x.dtype), x)

    @staticmethod
    def backward(ctx, g):
        dx = np.where(ctx.options["mask"], np.zeros((), dtype=g.dtype), g)
        return (sum_to(dx, ctx.shapes[0]),)  # a mask larger than x broadcast x


class Embedding(Function):
    # y[..., :] = weight[idx[...], :]  -- look up each token's vector (lecture 6).
    # Backward scatter-adds: a token that appears twice gets both gradients.
    fresh_grads = True  # dW: a new array from a kernel (see Function)

    @staticmethod
    def forward(ctx, weight, *, idx):
        ctx.shapes = (weight.shape,)
        return weight[idx]  # (..., D)

    @staticmethod
    def backward(ctx, g):
        num_embeddings = ctx.shapes[0][0]
        return (kernels.ops.embedding_backward(ctx.options["idx"], g, num_embeddings),)


class LayerNorm(Function):
    # y = (x - mean) / sqrt(var + eps) * weight + bias, over the last axis.
    # Saves mean and rstd = 1/sqrt(var + eps) per row so backward needs no recompute.
    fresh_grads = True  # dx, dweight, dbias: new arrays from a kernel (see Function)

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, *, eps=1e-5):
        y, mean, rstd = kernels.ops.layer_norm(_rows(x), weight, bias, eps)
        ctx.save_for_backward(x, weight, mean, rstd)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        x, weight, mean, rstd = ctx.saved
        dx, dw, db = kernels.ops.layer_norm_backward(_rows(x), weight, mean, rstd, _rows(g))
        grads = (dx.reshape(x.shape),)
        n = len(ctx.needs_input_grad)
        if n > 1:
            grads += (dw,)
        if n > 2:
            grads += (db,)
        return grads


class Dropout(Function):
    # Training only: zero each element with probability p and scale the survivors by
    # 1/(1-p), so that the expected value is unchanged. The same mask gates backward.
    @staticmethod
    def forward(ctx, x, *, mask, scale):
        ctx.save_for_backward(mask)
        return x * mask * np.asarray(scale, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved
        return (g * mask * np.asarray(ctx.options["scale"], dtype=g.dtype),)
