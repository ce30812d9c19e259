"""Exercise `sigmoid` -- lesson 1, tutorials/01_neuron.py

Idea: sigmoid squashes any number into (0, 1): very negative -> near 0, very positive
-> near 1. Backpropagation (lesson 3) needs its derivative, which has a neat form.

Math: s(x) = 1 / (1 + e^-x),   s'(x) = s(x) * (1 - s(x))

Shapes: x is a float; both functions return a float.

Hint: math.exp(800) overflows (OverflowError), and sigmoid(-800) needs e^800 in that
formula. For x < 0 use the same function written as e^x / (1 + e^x): then exp only
ever sees a number <= 0. sigmoid(-800) is 0.0 and sigmoid(800) is 1.0.

Answer: `Value.sigmoid` in tinygrad_edu/scalar.py (read it after trying).
Check: tinygrad-edu exercises check . sigmoid   (from this folder)
"""

from __future__ import annotations

import math


def sigmoid(x: float) -> float:
    """1 / (1 + e^-x), without overflow for any float x."""
    raise NotImplementedError


def sigmoid_prime(x: float) -> float:
    """The derivative of sigmoid at x."""
    raise NotImplementedError
