"""Exercise `minibatches` -- lesson 4, tutorials/04_digits.py

Idea: stochastic gradient descent shuffles the training examples and cuts them into
mini-batches, one step per batch. Without the shuffle, sorted data (all the 0s, then
all the 1s, ...) would teach the network only the last class it saw.

Math: order = a random permutation of 0 .. n-1; batch i = order[i*bs : (i+1)*bs].
      The last batch may be smaller; with drop_last it is left out.

Shapes: n, batch_size, seed ints; returns a list of 1-D integer arrays (the example
indices of each batch).

Hint: shuffle 0 .. n-1 with a generator made from `seed`, then slice. Any shuffle
passes: the check tests what must hold (every index once, the sizes, not the sorted
order, the same batches for the same seed), not one generator's exact numbers.
`tinygrad-edu exercises hint minibatches --level 3` shows near-code.

Answer: `DataLoader` in tinygrad_edu/data/loader.py (read it after trying).
Check: tinygrad-edu exercises check . minibatches   (from this folder)
"""

from __future__ import annotations

import numpy as np


def minibatches(n: int, batch_size: int, seed: int, drop_last: bool = False) -> list:
    """The shuffled indices 0 .. n-1, cut into batches of batch_size."""
    raise NotImplementedError
