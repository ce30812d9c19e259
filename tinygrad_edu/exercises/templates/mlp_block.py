"""Exercise `mlp_block` -- lesson 8, tutorials/08_mlp_and_superposition.py

Idea: between attention blocks, each token's vector goes alone through a small neural
network: a linear layer to a wider hidden layer, an activation, and a linear layer
back. Most of a GPT's parameters, and many of its facts, live here.

Math: h = x @ w_fc.T + b_fc                  (a Linear layer: weight (out, in))
      g = GELU(h) = h * Phi(h),  Phi(h) = (1 + erf(h / sqrt(2))) / 2   (the exact GELU)
      y = g @ w_proj.T + b_proj

Shapes: x (B, T, C), w_fc (H, C), b_fc (H,), w_proj (C, H), b_proj (C,); returns
y (B, T, C).

Hint: NumPy has no erf; np.vectorize(math.erf) applies math.erf to every entry. The
tanh approximation of GELU is close but not the same.

Answer: `MLP` in tinygrad_edu/nn/transformer.py, and `gelu` in
tinygrad_edu/kernels/reference.py (read them after trying).
Check: tinygrad-edu exercises check . mlp_block   (from this folder)
"""

from __future__ import annotations

import math

import numpy as np


def mlp_block(x, w_fc, b_fc, w_proj, b_proj) -> np.ndarray:
    """Linear -> GELU -> Linear, for every token on its own."""
    raise NotImplementedError
