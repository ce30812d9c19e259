"""tinygrad_edu -- a deep-learning textbook that runs.

Read it in lecture order (README.md has the map):
  scalar.py          lesson 1-3: a Value that remembers how it was made, and backprop
  kernels/           the hot loops, each twice: readable NumPy and fast Cython/C
  tensor.py          the same autograd idea for whole arrays
  nn/, optim.py      layers, losses and optimizers built on Tensor
  models/gpt.py      a GPT, line by line
"""

from __future__ import annotations

from ._version import __version__
from .kernels.config import get_num_threads, set_num_threads
from .info import info

__all__ = [
    "__version__",
    "info",
    "set_num_threads",
    "get_num_threads",
]
