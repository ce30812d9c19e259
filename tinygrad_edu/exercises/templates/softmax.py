"""Exercise `softmax` -- lesson 6, tutorials/06_attention.py

Idea: scores (logits) become probabilities: e^ makes every score positive and keeps
their order, and dividing by the sum makes them add up to 1. Attention (lesson 7) and
the last layer of a GPT both use it.

Math: p_i = e^(x_i) / sum_j e^(x_j), over the last axis.
      Subtracting the row's maximum m first changes nothing (e^-m cancels above and
      below the line), but then every exponent is <= 0 and e^ cannot overflow.

Shapes: x (..., C) float64, any number of leading axes; returns p of the same shape,
each row (last axis) summing to 1.

Hint: x.max(axis=-1, keepdims=True) keeps the axis so the subtraction broadcasts.
A logit of -inf (a masked position) must get probability exactly 0, and a logit of
1000 must not give nan.

Answer: `softmax` in tinygrad_edu/kernels/reference.py (read it after trying).
Check: tinygrad-edu exercises check . softmax   (from this folder)
"""

from __future__ import annotations

import numpy as np


def softmax(x: np.ndarray) -> np.ndarray:
    """softmax over the last axis."""
    raise NotImplementedError
