"""Exercise `causal_attention` -- lesson 7, tutorials/07_queries_keys_values.py

Idea: each token asks a question (its query), offers an answer (its key) and passes
on a message (its value). The match of query i with key j says how much token i
listens to token j; in a GPT a token may only listen to itself and the tokens before
it (the causal mask).

Math: scores = q @ k.T / sqrt(D)                       (T, T)
      scores[i, j] = -inf where j > i                  (no looking ahead)
      weights = softmax(scores) over each row          (T, T), rows sum to 1
      out = weights @ v                                (T, D)

Shapes: q, k, v (T, D) float64, one head; returns out (T, D).

Hint: np.triu(np.ones((T, T), dtype=bool), k=1) is True above the diagonal, the
future. Mask BEFORE the softmax: -inf becomes weight 0 and the rest still sum to 1
(zeroing weights after the softmax would not).

Answer: `attention_forward` in tinygrad_edu/kernels/reference.py, and
`scaled_dot_product_attention_reference` in tinygrad_edu/nn/functional.py (read them
after trying).
Check: tinygrad-edu exercises check . causal_attention   (from this folder)
"""

from __future__ import annotations

import numpy as np


def causal_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """softmax(q k^T / sqrt(D) with the future masked) @ v."""
    raise NotImplementedError
