"""Exercise `gradient_descent_step` -- lesson 2, tutorials/02_cost_and_gradient_descent.py

Idea: gradient descent fits a line prediction = w * x + b to points (x, y) by stepping
w and b against the gradient of the cost, the mean squared error. Here you work the
gradient out by hand instead of calling backward().

Math: cost(w, b) = (1/n) sum_i (w x_i + b - y_i)^2
      dcost/dw = (2/n) sum_i (w x_i + b - y_i) * x_i
      dcost/db = (2/n) sum_i (w x_i + b - y_i)
      w_new = w - lr * dcost/dw,   b_new = b - lr * dcost/db

Shapes: w, b, lr floats; xs, ys lists of n floats; returns the tuple (w_new, b_new).

Hint: compute both gradients at the OLD w and b, then step both.

Answer: `gradient_descent_step` in tinygrad_edu/scalar.py, which gets these gradients
from `Value.backward` on the line's cost (read it after trying).
Check: tinygrad-edu exercises check . gradient_descent_step   (from this folder)
"""

from __future__ import annotations


def gradient_descent_step(w: float, b: float, xs: list, ys: list, lr: float) -> tuple:
    """One step downhill on the mean squared error of the line w * x + b: (w_new, b_new)."""
    raise NotImplementedError
