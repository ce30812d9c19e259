from __future__ import annotations

import numpy as np


def cross_entropy_grad(logits: np.ndarray, targets: np.ndarray) -> tuple:
    """(mean cross-entropy, its gradient with respect to the logits)."""
    N = logits.shape[0]
    rows = np.arange(N)
    shifted = logits - logits.max(axis=1, keepdims=True)  # (N, C), <= 0
    log_sum = np.log(np.exp(shifted).sum(axis=1))  # (N,)
    loss = float(np.mean(log_sum - shifted[rows, targets]))
    p = np.exp(shifted - log_sum[:, None])  # softmax
    p[rows, targets] -= 1.0  # minus the one-hot
    return loss, p / N
