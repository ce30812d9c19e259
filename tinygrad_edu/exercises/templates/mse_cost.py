"""Exercise `mse_cost` -- lesson 2, tutorials/02_cost_and_gradient_descent.py

Idea: the cost is one number that says how badly the network does. The mean squared
error is 0 only if every prediction is exact, and it punishes big misses much more
than small ones.

Math: cost = (1/n) * sum_i (prediction_i - target_i)^2, over all n numbers

Shapes: predictions and targets are NumPy arrays of one shape (any shape);
the result is a float.

Hint: NumPy subtracts and squares whole arrays at once; .mean() averages all entries.

Answer: `mse_loss` in tinygrad_edu/nn/functional.py (read it after trying).
Check: tinygrad-edu exercises check . mse_cost   (from this folder)
"""

from __future__ import annotations

import numpy as np


def mse_cost(predictions: np.ndarray, targets: np.ndarray) -> float:
    """The mean of the squared differences."""
    raise NotImplementedError
