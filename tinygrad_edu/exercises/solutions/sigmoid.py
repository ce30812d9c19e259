from __future__ import annotations

import math


def sigmoid(x: float) -> float:
    """1 / (1 + e^-x), without overflow for any float x."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)  # x < 0: exp of a negative number cannot overflow
    return e / (1.0 + e)


def sigmoid_prime(x: float) -> float:
    """The derivative of sigmoid at x."""
    s = sigmoid(x)
    return s * (1.0 - s)
