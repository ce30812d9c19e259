"""Compiled kernels: the signatures of reference.py over the Cython/C extension.

Each function validates its arguments in Python (shapes, dtypes, index ranges:
see _validate.py), makes them contiguous where the kernel needs it, and only then
hands pointers to C. Functions not redefined here are taken from reference.py:
the compiled backend is the reference one with its hot loops replaced.
"""

from __future__ import annotations

import numpy as np

from . import _core  # ImportError here means: the extension is not built
from . import _validate as V
from . import reference as _reference
from .config import config
from .reference import *  # noqa: F403 - every kernel not replaced below

NAME = "compiled"
config.best_isa = _core.best_isa()
config.isa = config.best_isa

_env_isa = __import__("os").environ.get("TINYGRAD_EDU_SIMD", "").strip().lower()
if _env_isa:
    config.set_isa(_env_isa)

HAS_OPENMP = _core.has_openmp()


# --- reductions --------------------------------------------------------------------


def dot(x: np.ndarray, y: np.ndarray) -> float:
    V.float_array(x, "x")
    V.float_array(y, "y")
    V.same_dtype(("x", x), ("y", y))
    V.ndim(x, 1, "x")
    V.ndim(y, 1, "y")
    if x.shape != y.shape:
        raise ValueError(f"dot needs equal lengths, got shapes {x.shape} and {y.shape}")
    x, y = V.contiguous(x), V.contiguous(y)
    f = _core.dot_f32 if x.dtype == np.float32 else _core.dot_f64
    return float(f(x, y, config.isa))


def colsum(x: np.ndarray, out: np.ndarray | None = None, accumulate: bool = False) -> np.ndarray:
    V.float_array(x, "x")
    V.ndim(x, 2, "x")
    if out is None:
        out = np.empty(x.shape[1], dtype=x.dtype)
        accumulate = False
    V.float_array(out, "out")
    V.same_dtype(("x", x), ("out", out))
    if out.shape != (x.shape[1],):
        raise ValueError(f"out must have shape ({x.shape[1]},) for x of shape {x.shape}, got {out.shape}")
    if not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous")
    x = V.contiguous(x)
    f = _core.colsum_f32 if x.dtype == np.float32 else _core.colsum_f64
    f(x, out, accumulate, config.isa, config.num_threads)
    return out


# --- backward accumulation ----------------------------------------------------------


def sum_to_shape(g: np.ndarray, shape: tuple) -> np.ndarray:
    """The bias-gradient case (N, C) -> (C,) runs on the threaded column-sum kernel."""
    shape = tuple(shape)
    if g.ndim == 2 and len(shape) == 1 and g.shape[1] == shape[0] and g.dtype in V.FLOAT_DTYPES:
        return colsum(g)
    if g.ndim > 2 and len(shape) == 1 and g.shape[-1] == shape[0] and g.dtype in V.FLOAT_DTYPES:
        return colsum(g.reshape(-1, shape[0]))
    return _reference.sum_to_shape(g, shape)
