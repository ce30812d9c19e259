"""Exercise `micro_engine` -- lesson 3, tutorials/03_backpropagation.py

Idea: the whole of backpropagation fits in one small class. A Value holds a number
and remembers the Values it was made from; each operation also leaves behind a
function that hands the output's gradient back to its inputs (the chain rule for that
one operation); backward() calls those functions in reverse topological order. The
check then builds a small network out of YOUR Values and trains it on the two moons,
step for step beside the library's engine.

Math: out = a + b:     a.grad += out.grad,            b.grad += out.grad
      out = a * b:     a.grad += b.data * out.grad,   b.grad += a.data * out.grad
      out = tanh(a):   a.grad += (1 - out.data**2) * out.grad
      out = relu(a):   a.grad += (out.data > 0) * out.grad
      backward(): self.grad = 1, then every node's _backward() in reverse
      topological order (each node after the Values it was made from).

Shapes: Value(data) holds one float in .data and its gradient in .grad (0.0 until
backward). a + b and a * b also take plain numbers on either side (2 * a, a + 1);
a.tanh() and a.relu() return new Values; -a and a - b are written for you from + and *.
out.backward() fills .grad of every Value out depends on (+=: a Value used twice
receives both shares).

Hint: in __mul__, turn a plain number into a Value first; define out, then a
_backward() without arguments that reads out.grad, and store it on out. For
backward(), lesson 3's topological_sort (or your own exercise) gives the order.

Answer: `Value` and `Value.backward` in tinygrad_edu/scalar.py (read them after trying).
Check: tinygrad-edu exercises check . micro_engine   (from this folder)
"""

from __future__ import annotations

import math


class Value:
    """One number, the Values it was made from, and its gradient."""

    def __init__(self, data, _children=()):
        self.data = float(data)
        self.grad = 0.0
        self._prev = tuple(_children)
        self._backward = lambda: None  # a leaf hands nothing on

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"

    def __add__(self, other):
        """self + other, with its _backward."""
        raise NotImplementedError

    def __mul__(self, other):
        """self * other, with its _backward."""
        raise NotImplementedError

    def tanh(self):
        """tanh(self), with its _backward (math.tanh computes the number)."""
        raise NotImplementedError

    def relu(self):
        """max(0, self), with its _backward."""
        raise NotImplementedError

    def backward(self):
        """Fill in .grad of every Value this one depends on."""
        raise NotImplementedError

    # written for you, from + and *
    def __radd__(self, other):  # 1 + a
        return self + other

    def __rmul__(self, other):  # 2 * a
        return self * other

    def __neg__(self):  # -a
        return self * -1

    def __sub__(self, other):  # a - b
        return self + (-other)

    def __rsub__(self, other):  # 1 - a
        return other + (-self)
