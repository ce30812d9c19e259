"""Ops that move numbers around without changing them: their backward moves the
gradient back to where each number came from."""

from __future__ import annotations

import numpy as np

from .. import kernels
from ..autograd import Function


class Reshape(Function):
    # same numbers, new shape; the gradient just takes the old shape back
    @staticmethod
    def forward(ctx, a, *, shape):
        ctx.shapes = (a.shape,)
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return (g.reshape(ctx.shapes[0]),)


class Permute(Function):
    # y = a with its axes reordered; the gradient is permuted back by the inverse order
    @staticmethod
    def forward(ctx, a, *, dims):
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        return (g.transpose(np.argsort(ctx.options["dims"])),)


def sum_to(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Expand's backward: sum g over the axes that broadcasting added or stretched.

    Broadcasting copies an input along new leading axes and along axes of size 1;
    every copy received its own gradient, so the input's gradient is their sum.
    g (4, 3, 5) -> shape (3, 1): sum over axis 0 (new), then over axis 2 (was 1).
    Every op that broadcasts its inputs (a + b, a * b, where, matmul's batch dims)
    calls this in its backward: broadcast in forward = sum in backward.
    """
    if g.shape == tuple(shape):
        return g  # nothing was broadcast (the common case: no copy, no work)
    return kernels.ops.sum_to_shape(g, shape)


class Expand(Function):
    # y = a broadcast to a larger shape (a view, no copy): each element of a is used
    # many times, so its gradient is the sum of the gradients of all its copies.
    @staticmethod
    def forward(ctx, a, *, shape):
        ctx.shapes = (a.shape,)
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return (sum_to(g, ctx.shapes[0]),)


def _is_basic(index) -> bool:
    """Only ints, slices, None and ...: every element of `a` is picked at most once."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items)


class GetItem(Function):
    # y = a[index]: slices, integers, integer arrays, boolean masks.
    # Backward scatters g into zeros of a's shape. With integer arrays an element can
    # be picked twice (a[[0, 0]]) and must receive both gradients: np.add.at does that
    # (slowly, one element at a time); slices pick each element once, so plain
    # assignment is enough -- this is the path split() into q, k, v takes.
    @staticmethod
    def forward(ctx, a, *, index):
        ctx.shapes = (a.shape,)
        return a[index]

    @staticmethod
    def backward(ctx, g):
        index = ctx.options["index"]
        da = np.zeros(ctx.shapes[0], dtype=g.dtype)
        if _is_basic(index):
            da[index] = g
        else:
            np.add.at(da, index, g)
        return (da,)


class Cat(Function):
    # y = the inputs joined along `axis`; each gets back its own slice of g
    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.shapes = tuple(a.shape for a in arrays)
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        axis = ctx.options["axis"]
        bounds = np.cumsum([shape[axis] for shape in ctx.shapes])[:-1]
        return tuple(np.split(g, bounds, axis=axis))


class Stack(Function):
    # y = the inputs stacked along a new axis; each gets back its own slice of g
    @staticmethod
    def forward(ctx, *arrays, axis):
        return np.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        axis = ctx.options["axis"]
        return tuple(np.take(g, i, axis=axis) for i in range(g.shape[axis]))
