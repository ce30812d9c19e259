from __future__ import annotations

from tinygrad_edu.scalar import Value


def mul_backward(a: Value, b: Value, out: Value) -> None:
    """Add out's gradient, times the local derivatives, into a.grad and b.grad."""
    a.grad += b.data * out.grad
    b.grad += a.data * out.grad
