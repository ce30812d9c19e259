"""Where backward keeps the gradients it has computed but not yet used -- for speed only.

autograd.backward (read that first) needs one thing from this page: a dictionary
"tensor -> dCost/dtensor so far", where a second gradient for the same tensor is
added to the first (the multivariable chain rule: sum over every path). Everything
else here only saves copies:

  * `add` sums two gradients with the compiled add (kernels.ops.add, both cores).
  * Ownership. A leaf's `.grad` is added into in place later (the next backward,
    clip_grad_norm_), so it must not share memory with anything else. Copying every
    gradient would be safe but costs a pass over every weight in every step. Instead
    the store remembers which pending arrays only it holds ("owned"): a sum it made,
    a cast it made, or an array an op promised is fresh (`Function.fresh_grads`,
    e.g. a weight gradient straight out of a GEMM). A leaf keeps such an array as its
    `.grad` as it is; any other array (`g` itself, a view of it) is copied first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import kernels

if TYPE_CHECKING:
    from .tensor import Tensor


class GradStore:
    """dCost/dt for every tensor t that backward has reached and not yet processed."""

    def __init__(self, root: Tensor, grad: np.ndarray) -> None:
        self.grads: dict[int, np.ndarray] = {id(root): grad}
        self.owned: set[int] = set()  # tensors whose pending gradient only this store holds

    def pop(self, t: Tensor) -> np.ndarray | None:
        """All of dCost/dt (every consumer of t has been processed), or None: no path."""
        return self.grads.pop(id(t), None)

    def add(self, t: Tensor, g: np.ndarray, fresh: bool) -> None:
        """dCost/dt += g. `fresh`: the op that made g promised nothing else holds it."""
        if g.dtype != t.dtype:  # mixed dtypes (float32 + float64): the input's own, as PyTorch
            g, fresh = g.astype(t.dtype), True
        prev = self.grads.get(id(t))
        if prev is not None:
            # Out of place: g may be the very array another input also received (Add).
            g, fresh = _sum(prev, g), True
        self.grads[id(t)] = g
        if fresh:
            self.owned.add(id(t))
        else:
            self.owned.discard(id(t))

    def deposit(self, t: Tensor, g: np.ndarray) -> None:
        """t.grad += g, for a leaf (a weight) or a tensor that called retain_grad()."""
        if t.grad is not None:
            t.grad.data += g
            return
        # Only a leaf may keep g itself: an intermediate tensor's g also goes on into
        # its op's backward, which may hand the same array to an input (Add returns g, g).
        keep = (
            t._node is None
            and id(t) in self.owned
            and isinstance(g, np.ndarray)
            and g.dtype == t.dtype
            and g.flags.c_contiguous
            and g.flags.writeable
        )
        t.grad = type(t)._wrap(g if keep else np.array(g, dtype=t.dtype, copy=True))


def _sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two gradients of one tensor, a new array: on the compiled add for floats."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape:
        if a.dtype == b.dtype and a.dtype.kind == "f":
            return kernels.ops.add(a, b)
    return a + b  # NumPy scalars, mixed dtypes
