from __future__ import annotations

import numpy as np


def kv_cache_step(cache: dict, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Append k, v to the cache; attend the T new queries to all cached keys and values."""
    if "k" in cache:
        k = np.concatenate([cache["k"], k], axis=2)  # (B, n_head, S, D)
        v = np.concatenate([cache["v"], v], axis=2)
    cache["k"], cache["v"] = k, v
    T, S, D = q.shape[2], k.shape[2], q.shape[3]
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(D)  # (B, n_head, T, S)
    future = np.triu(np.ones((T, S), dtype=bool), k=1 + S - T)  # key j after query i
    scores = np.where(future, -np.inf, scores)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ v
