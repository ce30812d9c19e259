"""Check a gradient by wiggling the inputs: the test every backward must pass.

For a function f of tensors, backprop gives df/dx in one backward pass. The
finite-difference estimate needs two evaluations per input element,
    df/dx_i ~= (f(x + h e_i) - f(x - h e_i)) / (2h),
which is far too slow to train with but simple enough to trust. In float64 with
h ~ 1e-6 the two agree to about 1e-8 when backward is right.

A non-scalar output is reduced to a scalar with a fixed random projection,
sum(f(x) * w), so that every output element takes part in the check.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .tensor import Tensor


def numerical_grads(
    f: Callable[..., Tensor], inputs: Sequence[np.ndarray], weight: np.ndarray, h: float = 1e-6
) -> list[np.ndarray]:
    """Central differences of sum(f(*inputs) * weight) with respect to every input."""
    grads = []
    for x in inputs:
        g = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            old = x[i]
            x[i] = old + h
            up = float(np.sum(f(*[Tensor(a) for a in inputs]).data * weight))
            x[i] = old - h
            down = float(np.sum(f(*[Tensor(a) for a in inputs]).data * weight))
            x[i] = old
            g[i] = (up - down) / (2 * h)
        grads.append(g)
    return grads


def analytic_grads(
    f: Callable[..., Tensor], inputs: Sequence[np.ndarray], weight: np.ndarray
) -> list[np.ndarray]:
    """Backprop's gradients of sum(f(*inputs) * weight)."""
    ts = [Tensor(x.copy(), requires_grad=True) for x in inputs]
    out = f(*ts)
    (out * Tensor(weight)).sum().backward()
    return [t.grad.data if t.grad is not None else np.zeros_like(t.data) for t in ts]


def gradcheck(
    f: Callable[..., Tensor],
    *inputs: np.ndarray,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    seed: int = 0,
) -> None:
    """Raise AssertionError naming the input and the worst element if backprop disagrees."""
    inputs = [np.array(x, dtype=np.float64) for x in inputs]
    out = f(*[Tensor(x) for x in inputs])
    weight = np.random.default_rng(seed).standard_normal(out.shape)
    num = numerical_grads(f, inputs, weight)
    ana = analytic_grads(f, inputs, weight)
    for k, (a, n) in enumerate(zip(ana, num)):
        err = np.abs(a - n) - (atol + rtol * np.abs(n))
        if err.size and err.max() > 0:
            i = np.unravel_index(np.argmax(err), err.shape)
            raise AssertionError(
                f"gradient of input {k} (shape {a.shape}) differs at {i}: "
                f"backprop {a[i]:.10g}, finite differences {n[i]:.10g}"
            )
