from __future__ import annotations

from tinygrad_edu.scalar import Value


def tanh_backward(x: Value, out: Value) -> None:
    """Add out's gradient, times tanh's slope, into x.grad."""
    t = out.data
    x.grad += (1.0 - t * t) * out.grad
