from __future__ import annotations

import numpy as np


def top_p_filter(probs: np.ndarray, top_p: float) -> np.ndarray:
    """Each row's smallest set of likeliest tokens holding top_p, rescaled; others 0."""
    order = np.argsort(-probs, axis=-1)
    sorted_p = np.take_along_axis(probs, order, axis=-1)
    keep_sorted = np.cumsum(sorted_p, axis=-1) - sorted_p < top_p  # the first always stays
    keep = np.zeros_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    kept = np.where(keep, probs, 0.0)
    return kept / kept.sum(axis=-1, keepdims=True)
