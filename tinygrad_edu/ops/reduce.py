"""Reductions: many numbers in, fewer out. Their backward spreads the gradient back."""

from __future__ import annotations

import math

import numpy as np

from ..autograd import Function


def _expand_back(g: np.ndarray, shape: tuple, axis, keepdims: bool) -> np.ndarray:
    """Re-insert the reduced axes of g (as size 1) so it broadcasts against `shape`."""
    if axis is None:
        return g.reshape((1,) * len(shape))
    if not keepdims:
        axes = tuple(sorted(a % len(shape) for a in axis))
        for a in axes:
            g = np.expand_dims(g, a)
    return g


class Sum(Function):
    # y = sum over `axis` of a;  dy/da = 1 for every summed element:
    # the gradient is copied (broadcast) back over the summed axes.
    @staticmethod
    def forward(ctx, a, *, axis=None, keepdims=False):
        ctx.shapes = (a.shape,)
        return np.asarray(a.sum(axis=axis, keepdims=keepdims))

    @staticmethod
    def backward(ctx, g):
        (shape,), o = ctx.shapes, ctx.options
        g = _expand_back(g, shape, o["axis"], o["keepdims"])
        return (np.broadcast_to(g, shape),)


class Mean(Function):
    # y = sum(a) / n;  dy/da = 1/n
    @staticmethod
    def forward(ctx, a, *, axis=None, keepdims=False):
        ctx.shapes = (a.shape,)
        with np.errstate(invalid="ignore", divide="ignore"):  # mean of nothing is NaN
            return np.asarray(a.mean(axis=axis, keepdims=keepdims))

    @staticmethod
    def backward(ctx, g):
        (shape,), axis = ctx.shapes, ctx.options["axis"]
        n = math.prod(shape) if axis is None else math.prod(shape[i] for i in axis)
        g = _expand_back(g, shape, axis, ctx.options["keepdims"]) / max(n, 1)
        return (np.broadcast_to(g, shape),)


class Max(Function):
    # y = max over `axis`; the gradient goes to the element that was the max
    # (split evenly between ties, so that it sums to 1 as the derivative should).
    @staticmethod
    def forward(ctx, a, *, axis=None, keepdims=False):
        y = np.asarray(a.max(axis=axis, keepdims=keepdims))
        ctx.save_for_backward(a, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, y = ctx.saved
        o = ctx.options
        y = _expand_back(y, a.shape, o["axis"], o["keepdims"])
        g = _expand_back(g, a.shape, o["axis"], o["keepdims"])
        is_max = a == y
        count = is_max.sum(axis=o["axis"], keepdims=True)
        return (g * is_max / count,)
