"""Exercise `top_p_filter` -- lesson 5, tutorials/05_next_token.py

Idea: sampling the next token from all 50,000 probabilities now and then draws one
from the long tail of unlikely tokens, and the text derails. Top-p (nucleus) sampling
keeps only the most likely tokens whose probabilities together reach top_p, and
rescales those to sum to 1.

Math: sort each row from most to least likely; keep a token if the tokens MORE
likely than it hold less than top_p (so the most likely token is always kept, and
the token that crosses top_p too); zero the rest; divide by the kept sum.

Shapes: probs (B, V), each row summing to 1; top_p in (0, 1]; returns (B, V).

Hint: order = np.argsort(-probs, axis=-1); np.take_along_axis and np.put_along_axis
move between the sorted and the original positions. np.cumsum(sorted_p) - sorted_p is
the probability before each token.

Answer: `top_p_filter` in tinygrad_edu/kernels/reference.py, called by `sample_next` in
tinygrad_edu/models/gpt.py (read it after trying).
Check: tinygrad-edu exercises check . top_p_filter   (from this folder)
"""

from __future__ import annotations

import numpy as np


def top_p_filter(probs: np.ndarray, top_p: float) -> np.ndarray:
    """Each row's smallest set of likeliest tokens holding top_p, rescaled; others 0."""
    raise NotImplementedError
