"""Checks made in Python before any compiled kernel touches a buffer.

A kernel trusts its pointers; a wrong shape or dtype reaching C would read or write
outside an array. So every compiled entry point first calls these, which raise a
Python exception that names what was wrong.
"""

from __future__ import annotations

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def float_array(x, name: str) -> np.ndarray:
    """x as an ndarray of float32/float64, or TypeError naming `name`."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {x.dtype}")
    return x


def float_arrays(xs, name: str) -> list:
    """xs as a list of float32/float64 ndarrays, or TypeError naming `name` and the index."""
    if not isinstance(xs, (list, tuple)):
        raise TypeError(f"{name} must be a list of numpy arrays, got {type(xs).__name__}")
    for i, x in enumerate(xs):
        float_array(x, f"{name}[{i}]")
    return list(xs)


def same_dtype(*named: tuple[str, np.ndarray]) -> np.dtype:
    dtypes = {a.dtype for _, a in named}
    if len(dtypes) != 1:
        desc = ", ".join(f"{n} is {a.dtype}" for n, a in named)
        raise TypeError(f"dtypes must match: {desc}")
    return named[0][1].dtype


def ndim(x: np.ndarray, n: int, name: str) -> None:
    if x.ndim != n:
        raise ValueError(f"{name} must be {n}-D, got shape {x.shape}")


def contiguous(x: np.ndarray) -> np.ndarray:
    """A C-contiguous array with the same values (a copy only when needed)."""
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


def int_indices(idx, name: str, upper: int) -> np.ndarray:
    """idx as a contiguous int64 array with every value in [0, upper), else TypeError/IndexError."""
    if not isinstance(idx, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(idx).__name__}")
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got {idx.dtype}")
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= upper:
            bad = lo if lo < 0 else hi
            raise IndexError(f"{name} holds {bad}, outside [0, {upper})")
    return np.ascontiguousarray(idx, dtype=np.int64)
