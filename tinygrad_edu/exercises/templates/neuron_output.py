"""Exercise `neuron_output` -- lesson 1, tutorials/01_neuron.py

Idea: a neuron holds one number, its activation. It computes it from the activations
of the previous layer: each input counts as much as its weight says, the bias shifts
the threshold, and the activation function squashes the result.

Math: z = w1*a1 + w2*a2 + ... + wn*an + b, then
      relu(z) = max(0, z)   or   sigmoid(z) = 1 / (1 + e^-z)

Shapes: weights and inputs are lists of n floats, bias a float; the result is a float.

Hint: zip(weights, inputs) pairs each weight with its input; math.exp is e^x.

Answer: `Neuron.__call__` in tinygrad_edu/scalar.py (read it after trying).
Check: tinygrad-edu exercises check . neuron_output   (from this folder)
"""

from __future__ import annotations

import math


def neuron_output(weights: list, inputs: list, bias: float, activation: str) -> float:
    """activation(w . a + b), with activation "relu" or "sigmoid"."""
    raise NotImplementedError
