from __future__ import annotations

import numpy as np


def softmax(x: np.ndarray) -> np.ndarray:
    """softmax over the last axis."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
