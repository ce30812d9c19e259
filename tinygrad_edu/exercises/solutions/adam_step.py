from __future__ import annotations

import numpy as np


def adam_step(p, g, m, v, lr: float, beta1: float, beta2: float, eps: float, step: int):
    """One Adam update: returns (p, m, v) after the step."""
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat = m / (1 - beta1**step)
    v_hat = v / (1 - beta2**step)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v
