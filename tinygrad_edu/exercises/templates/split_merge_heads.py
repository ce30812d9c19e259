"""Exercise `split_merge_heads` -- lesson 7, tutorials/07_queries_keys_values.py

Idea: multi-head attention runs n_head small attentions side by side. The C features
of each token are cut into n_head groups of D = C / n_head; each head attends with
its own group, and afterwards the heads' outputs are put side by side again.

Math: split:  x (B, T, C) -> (B, T, n_head, D) -> swap axes 1 and 2 -> (B, n_head, T, D)
      merge:  the inverse, (B, n_head, T, D) -> (B, T, n_head, D) -> (B, T, n_head * D)
      Head h gets the features h*D .. (h+1)*D - 1 of every token.

Shapes: as above; n_head divides C.

Hint: x.reshape(B, T, n_head, D).transpose(0, 2, 1, 3). Reshaping straight to
(B, n_head, T, D) gives the right shape and the wrong numbers.

Answer: `CausalSelfAttention.forward` in tinygrad_edu/nn/transformer.py (read it after
trying).
Check: tinygrad-edu exercises check . split_merge_heads   (from this folder)
"""

from __future__ import annotations

import numpy as np


def split_heads(x: np.ndarray, n_head: int) -> np.ndarray:
    """(B, T, C) -> (B, n_head, T, C // n_head)."""
    raise NotImplementedError


def merge_heads(y: np.ndarray) -> np.ndarray:
    """(B, n_head, T, D) -> (B, T, n_head * D)."""
    raise NotImplementedError
