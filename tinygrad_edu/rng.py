"""One seeded random generator for the Tensor engine: `tg.manual_seed(n)` makes runs repeatable.

Weights' initialisation, `Tensor.randn/rand`, dropout masks, data shuffling and
sampling all draw from `generator()`, so one seed fixes a whole experiment.
"""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the generator (like torch.manual_seed) and return it."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def generator() -> np.random.Generator:
    return _generator
