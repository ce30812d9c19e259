from __future__ import annotations

import numpy as np


def shard_batch(batch: np.ndarray, rank: int, size: int) -> np.ndarray:
    """Worker rank's consecutive rows of the global batch."""
    if len(batch) % size:
        raise ValueError(f"{len(batch)} examples do not divide among {size} workers")
    b = len(batch) // size
    return batch[rank * b : (rank + 1) * b]
