"""Exercise `tanh_backward` -- lesson 3, tutorials/03_backpropagation.py

Idea: tanh squashes x into (-1, 1). In backpropagation it passes the gradient on,
scaled by its slope: nearly 1 near x = 0, nearly 0 for large |x| (a saturated neuron
learns slowly).

Math: t = tanh(x),   d tanh(x)/dx = 1 - t^2, so   x.grad += (1 - t^2) * out.grad

Shapes: x and out are tinygrad_edu.scalar.Value objects; out = x.tanh() was already
computed (out.data is t) and out.grad holds dC/d(out). Change x.grad; return nothing.

Hint: out.data already is tanh(x): no need to compute it again. Add, do not assign.

Answer: `Value.tanh` in tinygrad_edu/scalar.py, its inner _backward (read it after trying).
Check: tinygrad-edu exercises check . tanh_backward   (from this folder)
"""

from __future__ import annotations

from tinygrad_edu.scalar import Value


def tanh_backward(x: Value, out: Value) -> None:
    """Add out's gradient, times tanh's slope, into x.grad."""
    raise NotImplementedError
