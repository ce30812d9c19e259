"""Ops that move numbers around without changing them: their backward moves the
gradient back to where each number came from."""

from __future__ import annotations

import numpy as np

from ..autograd import Function


class Reshape(Function):
    # same numbers, new shape; the gradient just takes the old shape back
    @staticmethod
    def forward(ctx, a, *, shape):
        ctx.options["in_shape"] = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return (g.reshape(ctx.options["in_shape"]),)


class Permute(Function):
    # y = a with its axes reordered; the gradient is permuted back by the inverse order
    @staticmethod
    def forward(ctx, a, *, dims):
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        return (g.transpose(np.argsort(ctx.options["dims"])),)


class Expand(Function):
    # broadcast a to a larger shape (a view); backward sums the copies (autograd does it)
    @staticmethod
    def forward(ctx, a, *, shape):
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return (g,)


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
        ctx.options["shape"] = a.shape
        return a[index]

    @staticmethod
    def backward(ctx, g):
        o = ctx.options
        da = np.zeros(o["shape"], dtype=g.dtype)
        if _is_basic(o["index"]):
            da[o["index"]] = g
        else:
            np.add.at(da, o["index"], g)
        return (da,)


class Cat(Function):
    # y = the inputs joined along `axis`; each gets back its own slice of g
    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.options["sizes"] = [a.shape[axis] for a in arrays]
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        bounds = np.cumsum(ctx.options["sizes"])[:-1]
        return tuple(np.split(g, bounds, axis=ctx.options["axis"]))


class Stack(Function):
    # y = the inputs stacked along a new axis; each gets back its own slice of g
    @staticmethod
    def forward(ctx, *arrays, axis):
        return np.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        axis = ctx.options["axis"]
        return tuple(np.take(g, i, axis=axis) for i in range(g.shape[axis]))
