from __future__ import annotations

import numpy as np


def layer_norm_backward(x: np.ndarray, weight: np.ndarray, dy: np.ndarray, eps: float = 1e-5):
    """(dx, dweight, dbias) of y = layer_norm(x) * weight + bias, given dy."""
    mean = x.mean(axis=1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean) * rstd
    dxhat = dy * weight
    dx = rstd * (
        dxhat
        - dxhat.mean(axis=1, keepdims=True)
        - xhat * (dxhat * xhat).mean(axis=1, keepdims=True)
    )
    return dx, (dy * xhat).sum(axis=0), dy.sum(axis=0)
