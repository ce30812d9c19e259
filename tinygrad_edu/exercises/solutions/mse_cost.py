from __future__ import annotations

import numpy as np


def mse_cost(predictions: np.ndarray, targets: np.ndarray) -> float:
    """The mean of the squared differences."""
    diff = np.asarray(predictions) - np.asarray(targets)
    return float((diff * diff).mean())
