"""Toy data sets in two dimensions: small enough to plot, hard enough to need a network.

make_moons: two interleaving half circles. No straight line separates them, so a single
neuron fails and a small MLP succeeds (lesson 3).
make_blobs: round clusters around a few centres.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def _check_n_samples(n_samples: int) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive int, got {n_samples!r}")


def make_moons(
    n_samples: int = 200, noise: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles.

    Returns X, float64 (n_samples, 2), the points; and y, int64 (n_samples,), the moon
    each point belongs to (0 = upper, 1 = lower). The points come shuffled, and `noise` is
    the standard deviation of the Gaussian jitter added to both coordinates.
    """
    _check_n_samples(n_samples)
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    n_upper = n_samples // 2
    n_lower = n_samples - n_upper
    # The upper moon: the top half of the unit circle centred on (0, 0).
    t = np.linspace(0.0, np.pi, n_upper)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)  # (n_upper, 2)
    # The lower moon: the bottom half of a unit circle centred on (1, 0.5), hooking into
    # the upper one from below.
    t = np.linspace(0.0, np.pi, n_lower)
    lower = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)  # (n_lower, 2)

    X = np.concatenate([upper, lower]) + rng.normal(0.0, noise, size=(n_samples, 2))
    y = np.concatenate([np.zeros(n_upper, np.int64), np.ones(n_lower, np.int64)])
    order = rng.permutation(n_samples)  # shuffled, so that a slice is not all one class
    return X[order].astype(np.float64), y[order]


def make_blobs(
    n_samples: int = 200,
    centers: int | Sequence[Sequence[float]] = 3,
    cluster_std: float = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters: X float64 (n_samples, d), y int64 (n_samples,) the cluster index.

    centers: how many clusters (their centres drawn uniformly in [-10, 10]^2), or the
    centres themselves as a (k, d) list. Samples are dealt out to clusters in turn.
    """
    _check_n_samples(n_samples)
    rng = np.random.default_rng(seed)
    if isinstance(centers, (int, np.integer)):
        if centers < 1:
            raise ValueError(f"centers must be >= 1, got {centers}")
        centers = rng.uniform(-10.0, 10.0, size=(int(centers), 2))
    centers = np.asarray(centers, dtype=np.float64)
    if centers.ndim != 2 or len(centers) == 0:
        raise ValueError(
            f"centers must be an int or a (k, d) list of points, got shape {centers.shape}"
        )
    y = np.arange(n_samples, dtype=np.int64) % len(centers)  # (n,) cluster of each sample
    X = centers[y] + rng.normal(0.0, cluster_std, size=(n_samples, centers.shape[1]))
    order = rng.permutation(n_samples)
    return X[order], y[order]
