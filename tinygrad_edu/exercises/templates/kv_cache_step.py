"""Exercise `kv_cache_step` -- lesson 7, tutorials/07_queries_keys_values.py

Idea: a GPT writes one token at a time, and each new token attends to all the tokens
before it. Their keys and values do not change, so generation keeps them (the KV
cache) and computes the query, key and value of the new tokens only.

Math: keys = concat(cached keys, k) along the token axis, the same for values: S tokens
      in all, the T new ones last. New query i sits at position S - T + i and may see
      keys j <= S - T + i. Then, per head: softmax(q @ keys^T / sqrt(D), masked) @ values.

Shapes: q, k, v (B, n_head, T, D) for the T new tokens. cache is a dict, empty at the
first step, afterwards holding "k" and "v" (B, n_head, S - T, D). Update cache["k"] and
cache["v"] to all S keys and values, and return the new tokens' output (B, n_head, T, D).

Hint: np.concatenate([cache["k"], k], axis=2). The mask: np.triu(np.ones((T, S),
dtype=bool), k=1 + S - T) is True where a new query would see the future.

Answer: `CausalSelfAttention.forward` in tinygrad_edu/nn/transformer.py (its `cache`
argument), and `scaled_dot_product_attention_reference` in tinygrad_edu/nn/functional.py
(its `causal_offset`) (read them after trying).
Check: tinygrad-edu exercises check . kv_cache_step   (from this folder)
"""

from __future__ import annotations

import numpy as np


def kv_cache_step(cache: dict, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Append k, v to the cache; attend the T new queries to all cached keys and values."""
    raise NotImplementedError
