from __future__ import annotations

import math


def neuron_output(weights: list, inputs: list, bias: float, activation: str) -> float:
    """activation(w . a + b), with activation "relu" or "sigmoid"."""
    z = bias
    for w, a in zip(weights, inputs):
        z += w * a
    if activation == "relu":
        return max(0.0, z)
    return 1.0 / (1.0 + math.exp(-z))
