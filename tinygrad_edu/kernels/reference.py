"""Reference kernels: readable NumPy, the math as the lectures write it.

These are the twins of the compiled kernels in compiled.py: the same signatures,
the same numbers (up to floating-point summation order). Read these to see what a
kernel computes; read csrc/ to see how it is made fast. The package runs on these
when the extension is not built.
"""

from __future__ import annotations

import numpy as np

NAME = "reference"


# --- reductions --------------------------------------------------------------------


def dot(x: np.ndarray, y: np.ndarray) -> float:
    """sum_i x[i] * y[i] for two 1-D arrays of the same length and dtype."""
    return float(np.sum(x * y))


def colsum(x: np.ndarray, out: np.ndarray | None = None, accumulate: bool = False) -> np.ndarray:
    """Sum a (rows, cols) matrix down its rows -> (cols,).

    This is the backward of broadcasting: a bias of shape (cols,) is added to every
    row in forward, so its gradient is the sum of the rows' gradients.
    With `accumulate`, the sums are added into `out` (gradient accumulation).
    """
    s = x.sum(axis=0)
    if out is None:
        return s
    if accumulate:
        out += s
    else:
        out[...] = s
    return out
