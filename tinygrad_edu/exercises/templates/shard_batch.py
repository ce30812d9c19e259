"""Exercise `shard_batch` -- lesson 11, tutorials/11_data_parallel.py

Idea: in data-parallel training every worker holds the whole model and works on its
own slice of each batch; afterwards the workers average their gradients. Every worker
draws the SAME global batch and keeps its own rows, so the N workers together see
exactly the examples one process would.

Math: with B examples and N workers, each takes b = B / N of them: worker r takes the
rows r*b .. (r+1)*b - 1 (consecutive rows, not every N-th).

Shapes: batch (B, ...) an array; rank in [0, size); returns batch's rows for rank.
If B is not a multiple of size, raise ValueError (the workers would get unequal shares).

Hint: B % size tells whether it divides; batch[start:stop] slices rows.

Answer: `shard` and `local_batch_size` in tinygrad_edu/distributed.py (read them after trying).
Check: tinygrad-edu exercises check . shard_batch   (from this folder)
"""

from __future__ import annotations

import numpy as np


def shard_batch(batch: np.ndarray, rank: int, size: int) -> np.ndarray:
    """Worker rank's consecutive rows of the global batch."""
    raise NotImplementedError
