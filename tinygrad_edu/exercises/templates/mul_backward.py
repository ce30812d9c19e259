"""Exercise `mul_backward` -- lesson 3, tutorials/03_backpropagation.py

Idea: every operation hands the gradient that reached its output back to its inputs,
multiplied by its local derivative: the chain rule, one node at a time. An input used
in several places receives a share from every use, so the shares are ADDED to .grad.

Math: out = a * b.   d(out)/da = b,   d(out)/db = a, so
      a.grad += b * out.grad,   b.grad += a * out.grad

Shapes: a, b, out are tinygrad_edu.scalar.Value objects: .data is the number,
.grad the gradient so far. out = a * b was already computed and out.grad holds
dC/d(out). Change a.grad and b.grad; return nothing.

Hint: += and never =: a.grad may already hold a share from another use, and in
x * x both a and b are the same Value x.

Answer: `Value.__mul__` in tinygrad_edu/scalar.py, its inner _backward (read it after trying).
Check: tinygrad-edu exercises check . mul_backward   (from this folder)
"""

from __future__ import annotations

from tinygrad_edu.scalar import Value


def mul_backward(a: Value, b: Value, out: Value) -> None:
    """Add out's gradient, times the local derivatives, into a.grad and b.grad."""
    raise NotImplementedError
