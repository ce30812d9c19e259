"""Exercise `layer_norm_backward` -- lesson 6, tutorials/06_attention.py

Idea: every block of a GPT starts with a layer norm: each token's vector is shifted
to mean 0 and scaled to variance 1, then scaled by a learned weight. Its backward is
the classic tricky one: the mean and the variance depend on every entry of the row,
so every input's gradient gets two correction terms.

Math: per row:  mean = (1/C) sum_c x_c,   var = (1/C) sum_c (x_c - mean)^2
      rstd = 1 / sqrt(var + eps),   xhat = (x - mean) * rstd,   y = xhat * weight + bias
      given dy = dC/dy:   dxhat = dy * weight
      dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))   (means over the row)
      dweight = sum over rows of dy * xhat,   dbias = sum over rows of dy

Shapes: x (N, C), weight (C,), dy (N, C); returns (dx (N, C), dweight (C,), dbias (C,)).

Hint: .mean(axis=1, keepdims=True) for the row means; .sum(axis=0) for the sums over rows.

Answer: `layer_norm_backward` (and `layer_norm`) in tinygrad_edu/kernels/reference.py
(read them after trying).
Check: tinygrad-edu exercises check . layer_norm_backward   (from this folder)
"""

from __future__ import annotations

import numpy as np


def layer_norm_backward(x: np.ndarray, weight: np.ndarray, dy: np.ndarray, eps: float = 1e-5):
    """(dx, dweight, dbias) of y = layer_norm(x) * weight + bias, given dy."""
    raise NotImplementedError
