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


def get_state() -> dict:
    """The generator's whole state (a JSON-able dict): saved with a checkpoint, so that a
    resumed run draws the same batches and dropout masks as one that never stopped."""
    return _generator.bit_generator.state


def set_state(state: dict) -> None:
    """Restore a state from get_state()."""
    global _generator
    name = state.get("bit_generator") if isinstance(state, dict) else None
    bit_generator = getattr(np.random, str(name), None)
    if bit_generator is None:
        raise ValueError(f"not a generator state: {state!r:.80}")
    gen = np.random.Generator(bit_generator())
    gen.bit_generator.state = state
    _generator = gen
