"""Exercise `cross_entropy_grad` -- lesson 4, tutorials/04_digits.py

Idea: a classifier's cost is the cross-entropy: minus the log of the probability the
network gives the right class. Softmax turns the scores (logits) into probabilities,
and softmax + cross-entropy together have a famously simple gradient.

Math: p = softmax(logits[n]),  loss = (1/N) sum_n -log p[targets[n]]
      -log p_t = log sum_j e^(x_j - m) - (x_t - m)     (m the row's maximum: no overflow)
      dloss/dlogits[n] = (p - onehot(targets[n])) / N

Shapes: logits (N, C) float64, targets (N,) ints in [0, C);
returns (loss as a float, dlogits (N, C)).

Hint: never take log(softmax): with logits of 1000 a probability underflows to 0 and
its log is -inf. Use the log-sum-exp form above.

Answer: `cross_entropy` and `cross_entropy_backward` in tinygrad_edu/kernels/reference.py
(read them after trying).
Check: tinygrad-edu exercises check . cross_entropy_grad   (from this folder)
"""

from __future__ import annotations

import numpy as np


def cross_entropy_grad(logits: np.ndarray, targets: np.ndarray) -> tuple:
    """(mean cross-entropy, its gradient with respect to the logits)."""
    raise NotImplementedError
