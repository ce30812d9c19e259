from __future__ import annotations

import numpy as np


def minibatches(n: int, batch_size: int, seed: int, drop_last: bool = False) -> list:
    """The shuffled indices 0 .. n-1, cut into batches of batch_size."""
    order = np.random.default_rng(seed).permutation(n)
    count = n // batch_size if drop_last else -(-n // batch_size)  # -(-a // b): a / b rounded up
    return [order[i * batch_size : (i + 1) * batch_size] for i in range(count)]
