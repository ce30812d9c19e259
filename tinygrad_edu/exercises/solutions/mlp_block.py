from __future__ import annotations

import math

import numpy as np

_erf = np.vectorize(math.erf)


def mlp_block(x, w_fc, b_fc, w_proj, b_proj) -> np.ndarray:
    """Linear -> GELU -> Linear, for every token on its own."""
    h = x @ w_fc.T + b_fc  # (B, T, H)
    g = 0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))  # exact GELU
    return g @ w_proj.T + b_proj  # (B, T, C)
