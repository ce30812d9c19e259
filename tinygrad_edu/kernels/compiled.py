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


# --- optimizer updates (csrc/optim_impl.h: one pass over p, g and the state) -----------

try:
    from . import _optim
except ImportError:  # an extension built before optim.c existed: keep the NumPy twins
    _optim = None


def _check_update(p: np.ndarray, **others: np.ndarray | None) -> bool:
    """Validate an in-place update; True if the fused kernel can run on these arrays.

    Everything must be float32/float64 of p's shape and dtype. The kernel writes
    p and the state through raw pointers, so those must be C-contiguous: for other
    views (rare) the NumPy twin, which updates any view in place, is used instead.
    """
    V.float_array(p, "p")
    if not p.flags.writeable:
        raise ValueError("p is read-only")
    fused = _optim is not None and p.flags.c_contiguous
    for name, a in others.items():
        if a is None:
            continue
        V.float_array(a, name)
        if a.shape != p.shape:
            raise ValueError(f"{name} has shape {a.shape}, but p has shape {p.shape}")
        if a.dtype != p.dtype:
            raise TypeError(f"dtypes must match: p is {p.dtype}, {name} is {a.dtype}")
        if name != "g":
            if not a.flags.writeable:
                raise ValueError(f"{name} is read-only")
            fused = fused and a.flags.c_contiguous
    return fused


def sgd_update(
    p: np.ndarray,
    g: np.ndarray,
    buf: np.ndarray | None,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    first: bool = False,
) -> None:
    if momentum != 0 and buf is None:
        raise ValueError("momentum needs a buffer (buf)")
    if not _check_update(p, g=g, buf=buf):
        _reference.sgd_update(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first)
        return
    f = _optim.sgd_f32 if p.dtype == np.float32 else _optim.sgd_f64
    b = buf.reshape(-1) if momentum != 0 else None
    f(p.reshape(-1), V.contiguous(g).reshape(-1), b, lr, momentum, dampening, weight_decay,
      nesterov, first, config.isa, config.num_threads)  # fmt: skip


def adam_update(
    p: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    step: int,
    decoupled: bool = False,
) -> None:
    if step < 1:
        raise ValueError(f"step counts from 1, got {step}")
    if not _check_update(p, g=g, m=m, v=v):
        _reference.adam_update(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled)
        return
    f = _optim.adam_f32 if p.dtype == np.float32 else _optim.adam_f64
    f(p.reshape(-1), V.contiguous(g).reshape(-1), m.reshape(-1), v.reshape(-1), lr, beta1,
      beta2, eps, weight_decay, step, decoupled, config.isa, config.num_threads)  # fmt: skip


def adamw_update(
    p: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    step: int,
) -> None:
    adam_update(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled=True)
