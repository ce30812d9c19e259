"""Exercise `adam_step` -- lesson 4, tutorials/04_digits.py

Idea: Adam gives every weight its own step size. It keeps running means of the
gradient (m) and of its square (v), and moves each weight by about lr in the direction
of m, less where the gradient is noisy (v large).

Math: m = beta1 * m + (1 - beta1) * g
      v = beta2 * v + (1 - beta2) * g^2
      m_hat = m / (1 - beta1^step),  v_hat = v / (1 - beta2^step)   (m, v start at 0)
      p = p - lr * m_hat / (sqrt(v_hat) + eps)

Shapes: p, g, m, v arrays of one shape; lr, beta1, beta2, eps floats; step counts
from 1. Returns the new (p, m, v).

Hint: the bias corrections (1 - beta^step) undo the pull of m = v = 0 at the start:
on step 1, m_hat is exactly g.

Answer: `adam_update` in tinygrad_edu/kernels/reference.py, and `Adam` in
tinygrad_edu/optim/optimizers.py (read them after trying).
Check: tinygrad-edu exercises check . adam_step   (from this folder)
"""

from __future__ import annotations

import numpy as np


def adam_step(p, g, m, v, lr: float, beta1: float, beta2: float, eps: float, step: int):
    """One Adam update: returns (p, m, v) after the step."""
    raise NotImplementedError
