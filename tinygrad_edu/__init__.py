"""tinygrad_edu -- a deep-learning textbook that runs.

Read it in lecture order (README.md has the map):
  scalar.py          lesson 1-3: a Value that remembers how it was made, and backprop
  kernels/           the hot loops, each twice: readable NumPy and fast Cython/C
  tensor.py          the same autograd idea for whole arrays
  nn/, optim/        layers, losses and optimizers built on Tensor
  models/gpt.py      a GPT, line by line

Importing this package changes two process-wide settings (kernels/__init__.py says why):
  * the memory pool (kernels/mempool.py) becomes NumPy's data allocator for the importing
    context, i.e. for every NumPy array made there, also by other libraries. It is on when
    the compiled kernels loaded; TINYGRAD_EDU_MEMPOOL=0 before the import leaves NumPy's
    allocator alone, and ``kernels.mempool.disable()`` removes it. info()["mempool"] shows it.
  * OpenMP's waiting policy defaults to a short spin, then sleep (GOMP_SPINCOUNT=10000,
    KMP_BLOCKTIME=1), unless OMP_WAIT_POLICY or those variables are already set.
When the process is the command line (`tinygrad-edu ...`) and only then, SIGINT and SIGTERM
end it with one line while it starts (_startup.py); cli.main() then handles them itself.
"""

from __future__ import annotations

from . import _startup  # noqa: F401  first of all: a Ctrl-C as the command line starts

# isort: split
import numpy as np

from . import (  # layers and optimizers, built on Tensor
    nn,
    optim,
    scalar,  # lessons 1-3: the scalar engine (stands alone)
)
from ._version import __version__
from .autograd import enable_grad, is_grad_enabled, no_grad
from .checkpoint import load, save
from .info import info
from .kernels.config import get_num_threads, set_num_threads
from .rng import manual_seed
from .scalar import Value
from .tensor import Tensor, cat, ones_like, stack, where, zeros_like

float32 = np.float32
float64 = np.float64
int64 = np.int64

__all__ = [
    "__version__",
    "info",
    "set_num_threads",
    "get_num_threads",
    "Tensor",
    "cat",
    "stack",
    "where",
    "zeros_like",
    "ones_like",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "manual_seed",
    "float32",
    "float64",
    "int64",
    "scalar",
    "Value",
    "nn",
    "optim",
    "save",
    "load",
]
