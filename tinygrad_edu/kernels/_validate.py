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
    """A C-contiguous, aligned array with the same values (a copy only when needed).

    Aligned means the address is a whole number of elements: an array made with
    np.frombuffer(..., offset=1) is C-contiguous but not aligned, and
    np.ascontiguousarray would return it unchanged. A kernel that reads it would
    see elements straddling two slots (or refuse it), so such arrays are copied too.
    """
    if x.flags.c_contiguous and x.flags.aligned:
        return x
    return np.array(x, order="C", copy=True)  # a fresh allocation is always aligned


def writable_in_place(x: np.ndarray) -> bool:
    """True if a kernel may write x through a raw pointer: C-contiguous, aligned,
    writeable. (In-place updates of other arrays go through NumPy instead.)"""
    return x.flags.c_contiguous and x.flags.aligned and x.flags.writeable


def out_array(out: np.ndarray, name: str = "out") -> None:
    """An output a kernel writes through a pointer: C-contiguous, aligned, writeable."""
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only (not writeable)")
    if not out.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    if not out.flags.aligned:
        raise ValueError(
            f"{name} is not aligned (its address is not a whole number of {out.itemsize}-byte "
            "elements): pass an array NumPy allocated, or a copy"
        )


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
    ids = np.asarray(idx, dtype=np.int64)
    return contiguous(ids)
