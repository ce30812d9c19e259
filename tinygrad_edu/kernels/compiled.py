"""Compiled kernels: the signatures of reference.py over the Cython/C extension.

Each function validates its arguments in Python (shapes, dtypes, index ranges:
see _validate.py), makes them contiguous where the kernel needs it, and only then
hands pointers to C.

What this module provides is listed in KERNELS below: every kernel name, and the
extension module that runs it (or None where the NumPy twin is used on purpose).
The extension modules load one by one: if one of them did not build or does not
import, only the kernels it carries fall back to their reference twins, and one
warning names the module and its real error (the ImportError, and the compiler's
first error line when the build recorded one in _build_report.json). Only _core is
required: it tells the CPU's SIMD level and whether OpenMP was built in.
"""

from __future__ import annotations

import importlib
import math
import os
import warnings

import numpy as np

from . import _validate as validate
from . import reference as _reference
from .config import config
from .interface import KERNELS, MODULES, build_report

NAME = "compiled"

# Names from reference.py that are part of this backend's interface but are not kernels.
matmul_naive = _reference.matmul_naive
top_p_filter = _reference.top_p_filter
CrossEntropySaved = _reference.CrossEntropySaved


def _load(name: str):
    """Import one extension module; (module, None) or (None, 'why it failed')."""
    try:  # importlib, not `from . import`: a missing module gives its own error, not a
        # misleading "partially initialized module ... circular import"
        return importlib.import_module(f"{__package__}.{name}"), None
    except ImportError as exc:
        why = f"{type(exc).__name__}: {exc}"
        built = build_report().get("modules", {}).get(name)
        if built and built != "built":
            why += f"; the build said: {built}"
        return None, why


MODULE_ERRORS: dict[str, str] = {}
_modules = {}
for _name in MODULES:
    _modules[_name], _err = _load(_name)
    if _err is not None:
        MODULE_ERRORS[_name] = _err
if "_core" in MODULE_ERRORS:  # without _core there is no compiled backend at all
    raise ImportError(f"compiled kernel module _core did not load ({MODULE_ERRORS['_core']})")
_core = _modules["_core"]
_gemm, _nn, _optim = _modules["_gemm"], _modules["_nn"], _modules["_optim"]
_activations, _attention = _modules["_activations"], _modules["_attention"]
_naive = _modules["_naive"]

config.best_isa = _core.best_isa()
config.isa = config.best_isa

_env_isa = os.environ.get("TINYGRAD_EDU_SIMD", "").strip().lower()
if _env_isa:
    config.set_isa(_env_isa)

HAS_OPENMP = _core.has_openmp()


def kernel_table() -> dict[str, str]:
    """kernel name -> 'compiled (_module)' or 'reference' (and why), as running now."""
    table = {}
    for kernel, module in KERNELS.items():
        if module is None:
            table[kernel] = "reference (by design)"
        elif module in MODULE_ERRORS:
            table[kernel] = f"reference ({module} did not load)"
        else:
            table[kernel] = f"compiled ({module})"
    return table


# --- reductions --------------------------------------------------------------------


def dot(x: np.ndarray, y: np.ndarray) -> float:
    validate.float_array(x, "x")
    validate.float_array(y, "y")
    validate.same_dtype(("x", x), ("y", y))
    validate.ndim(x, 1, "x")
    validate.ndim(y, 1, "y")
    if x.shape != y.shape:
        raise ValueError(f"dot needs equal lengths, got shapes {x.shape} and {y.shape}")
    x, y = validate.contiguous(x), validate.contiguous(y)
    f = _core.dot_f32 if x.dtype == np.float32 else _core.dot_f64
    return float(f(x, y, config.isa))


def colsum(x: np.ndarray, out: np.ndarray | None = None, accumulate: bool = False) -> np.ndarray:
    validate.float_array(x, "x")
    validate.ndim(x, 2, "x")
    if out is None:
        out = np.empty(x.shape[1], dtype=x.dtype)
        accumulate = False
    validate.float_array(out, "out")
    validate.same_dtype(("x", x), ("out", out))
    if out.shape != (x.shape[1],):
        raise ValueError(
            f"out must have shape ({x.shape[1]},) for x of shape {x.shape}, got {out.shape}"
        )
    if not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous")
    if not out.flags.aligned:  # the kernel writes through a pointer: let NumPy do it
        return _reference.colsum(x, out, accumulate)
    x = validate.contiguous(x)
    f = _core.colsum_f32 if x.dtype == np.float32 else _core.colsum_f64
    f(x, out, accumulate, config.isa, config.num_threads)
    return out


def sum_squares(arrays: list[np.ndarray]) -> np.ndarray:
    """Every array's sum of squares in one parallel loop over all of them (reduce.c)."""
    arrays = validate.float_arrays(arrays, "arrays")
    out = np.zeros(len(arrays), dtype=np.float64)
    for dtype in (_F32, _F64):
        which = [i for i, x in enumerate(arrays) if x.dtype == dtype]
        if which:
            flat = [validate.contiguous(arrays[i]).reshape(-1) for i in which]
            out[which] = _core.sum_squares(flat, dtype == _F64, config.isa, config.num_threads)
    return out


def scale_(arrays: list[np.ndarray], s: float) -> None:
    """x *= s for every x, in one parallel loop over all of them (reduce.c). An array the
    kernel cannot write through a pointer (not C-contiguous) is scaled by NumPy."""
    arrays = validate.float_arrays(arrays, "arrays")
    for i, x in enumerate(arrays):
        if not x.flags.writeable:
            raise ValueError(f"arrays[{i}] is read-only")
    # Two arrays that share memory have the same owner (.base): then the threads could
    # scale one number twice at once, so NumPy does the list one array after the other.
    owners = {id(x if x.base is None else x.base) for x in arrays}
    if len(owners) < len(arrays):
        return _reference.scale_(arrays, s)
    for dtype in (_F32, _F64):
        group = [x for x in arrays if x.dtype == dtype]
        flat = [x.reshape(-1) for x in group if validate.writable_in_place(x)]
        if flat:
            _core.scale_many(flat, float(s), dtype == _F64, config.isa, config.num_threads)
        for x in group:
            if not validate.writable_in_place(x):
                x *= s


# --- backward accumulation ----------------------------------------------------------


_ADD_SMALL = 1 << 14  # elements (64 KB of float32); see add()


def add(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """a + b on both cores (csrc/reduce_impl.h); the same numbers as NumPy's a + b."""
    if out is None:  # the small everyday case, checked in C (None: not that case)
        c = _core.add_small(a, b, _ADD_SMALL, config.isa)
        if c is not None:
            return c
    validate.float_array(a, "a")
    validate.float_array(b, "b")
    validate.same_dtype(("a", a), ("b", b))
    if a.shape != b.shape:
        raise ValueError(f"add needs equal shapes (no broadcasting), got {a.shape} and {b.shape}")
    if out is None:
        out = np.empty(a.shape, dtype=a.dtype)
    else:
        validate.float_array(out, "out")
        validate.same_dtype(("a", a), ("out", out))
        if out.shape != a.shape:
            raise ValueError(f"out must have shape {a.shape}, got {out.shape}")
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError("out must be a writeable C-contiguous array")
        if not out.flags.aligned:  # the kernel writes through a pointer: let NumPy do it
            return _reference.add(a, b, out)
        for name, x in (("a", a), ("b", b)):
            # out may be a or b itself (a += b), but overlap them no other way: a thread
            # would read numbers that another one has already overwritten
            same = x.ctypes.data == out.ctypes.data and x.strides == out.strides
            if np.may_share_memory(x, out) and not same:
                raise ValueError(f"out overlaps {name} without being it")
    if a.size < _ADD_SMALL:
        # Small, but not the plain case above (out=, strided or unaligned inputs):
        # NumPy's loop gives the same numbers (each sum is rounded once, either way)
        # for less than the memoryview call's argument handling, and there is too
        # little work to share between threads.
        return np.add(a, b, out=out)
    a, b = validate.contiguous(a), validate.contiguous(b)
    _core.add(a.reshape(-1), b.reshape(-1), out.reshape(-1), config.isa, config.num_threads)
    return out


def sum_to_shape(g: np.ndarray, shape: tuple) -> np.ndarray:
    """The bias-gradient case (N, C) -> (C,) runs on the threaded column-sum kernel."""
    shape = tuple(shape)
    if (
        g.ndim == 2
        and len(shape) == 1
        and g.shape[1] == shape[0]
        and g.dtype in validate.FLOAT_DTYPES
    ):
        return colsum(g)
    if (
        g.ndim > 2
        and len(shape) == 1
        and g.shape[-1] == shape[0]
        and g.dtype in validate.FLOAT_DTYPES
    ):
        return colsum(g.reshape(-1, shape[0]))
    return _reference.sum_to_shape(g, shape)


# --- matrix multiply (csrc/gemm_impl.h explains the kernel) ----------------------------
#
# The engine-room ladder, each rung a real code path:
#   reference.matmul_naive   pure Python loops
#   gemm_naive               the same i-k-j loops in C
#   gemm, isa "base"         blocked + packed, 16-byte vectors (SSE2), 1 thread
#   gemm, isa "avx512"       the same with 64-byte vectors and FMA
#   gemm, 2 threads          and both cores
# (config.set_isa / set_num_threads choose the rung.)


def _aligned(x: np.ndarray) -> np.ndarray:
    """x itself if its address and every stride are whole numbers of elements (the
    kernel reads any such view in place), else an aligned copy (only odd views built
    from raw buffers or with as_strided fail this: numpy calls them unaligned).
    np.ascontiguousarray would not do: it returns a contiguous unaligned array as is."""
    return x if x.flags.aligned else np.array(x, order="C", copy=True)


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def gemm(
    a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, accumulate: bool = False
) -> np.ndarray:
    # The common case passes a few quick comparisons; anything else goes through
    # validate.check_gemm, which names the problem. (gemm runs three times per Linear layer
    # per step: for small layers, microseconds of checking count.)
    if not (
        isinstance(a, np.ndarray)
        and isinstance(b, np.ndarray)
        and a.ndim == 2
        and b.ndim == 2
        and a.shape[1] == b.shape[0]
        and a.dtype == b.dtype
        and (a.dtype == _F32 or a.dtype == _F64)
    ) or not (
        out is None
        or isinstance(out, np.ndarray)
        and out.dtype == a.dtype
        and out.shape == (a.shape[0], b.shape[1])
        and out.flags.c_contiguous
        and out.flags.aligned
        and out.flags.writeable
    ):
        validate.check_gemm(a, b, out)
    M, K = a.shape
    N = b.shape[1]
    if out is None:
        out = np.empty((M, N), dtype=a.dtype)
        accumulate = False
    else:  # the kernel writes C while it reads A and B: they must not overlap
        if np.may_share_memory(out, a):
            a = a.copy()
        if np.may_share_memory(out, b):
            b = b.copy()
    if M == 0 or N == 0:
        return out
    if K == 0:  # an empty sum
        if not accumulate:
            out.fill(0)
        return out
    f = _gemm.gemm_f32 if a.dtype == _F32 else _gemm.gemm_f64
    if not f(a, b, out, accumulate, config.isa, config.num_threads):
        # an address or stride that is not a whole number of elements: multiply
        # aligned copies (the kernel refuses such views and computes nothing)
        a, b = _aligned(a), _aligned(b)
        if not f(a, b, out, accumulate, config.isa, config.num_threads):
            raise RuntimeError("gemm: the kernel refused aligned copies of its inputs")
    return out


def _gemm_fused(x, weight, bias, residual, act: int, keep: bool):
    """x @ weight.T with gemm.h's fused epilogue: + bias, + residual, GELU (act 1 exact,
    2 tanh), applied to each tile of C while it is in the cache. Returns (pre, c); pre is
    C before the activation when keep, else None."""
    N, M = x.shape[0], weight.shape[0]
    c = np.empty((N, M), dtype=x.dtype)
    pre = np.empty_like(c) if keep else None
    if c.size == 0:
        return pre, c
    if bias is not None:
        bias = validate.contiguous(bias)
    if residual is not None:
        residual = validate.contiguous(residual)
    f = _gemm.gemm_fused_f32 if x.dtype == _F32 else _gemm.gemm_fused_f64
    args = (bias, residual, pre, act, config.isa, config.num_threads)
    if not f(x, weight.T, c, *args):  # an odd view: aligned copies (see gemm)
        if not f(_aligned(x), _aligned(weight).T, c, *args):
            raise RuntimeError("gemm_fused: the kernel refused aligned copies of its inputs")
    return pre, c


def linear_gelu(x, weight, bias=None, approximate: str = "none"):
    act = 2 if validate.check_approximate(approximate) else 1
    validate.check_linear(x, weight, bias)
    return _gemm_fused(x, weight, bias, None, act, keep=True)


def linear_residual(x, weight, bias, residual):
    validate.check_linear(x, weight, bias, residual)
    return _gemm_fused(x, weight, bias, residual, 0, keep=False)[1]


def mlp_forward(x, w_fc, b_fc, w_proj, b_proj, residual=None, approximate: str = "none"):
    # reference.mlp_forward's lines on this backend's two fused GEMMs
    h, g = linear_gelu(x, w_fc, b_fc, approximate)
    validate.check_linear(g, w_proj, b_proj, residual)
    if residual is not None:
        return h, g, linear_residual(g, w_proj, b_proj, residual)
    y = gemm(g, w_proj.T)
    if b_proj is not None:
        y += b_proj
    return h, g, y


def _batch_offsets(x: np.ndarray, batch: tuple) -> np.ndarray:
    """Element offset of each matrix of x (..., R, C) broadcast to `batch`, in C order:
    a broadcast dimension (size 1 or missing) contributes offset 0."""
    lead = len(batch) - (x.ndim - 2)
    off = np.zeros(batch, dtype=np.intp)
    for d, (n, s) in enumerate(zip(x.shape[:-2], x.strides[:-2])):
        if n != 1:
            shape = [1] * len(batch)
            shape[lead + d] = n
            off = off + (np.arange(n, dtype=np.intp) * (s // x.itemsize)).reshape(shape)
    return np.ascontiguousarray(off).reshape(-1)


_MATMUL_SMALL_FLOPS = 1 << 18  # see matmul()


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    validate.float_array(a, "a")
    validate.float_array(b, "b")
    validate.same_dtype(("a", a), ("b", b))
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul needs at least 1-D operands, got shapes {a.shape} and {b.shape}")
    a2 = a[None, :] if a.ndim == 1 else a  # (K,) -> (1, K): a row
    b2 = b[:, None] if b.ndim == 1 else b  # (K,) -> (K, 1): a column
    (M, K), (K_b, N) = a2.shape[-2:], b2.shape[-2:]
    if K != K_b:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align ({K} != {K_b})")
    batch = a2.shape[:-2]
    if b2.shape[:-2] != batch:
        try:
            batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        except ValueError:
            raise ValueError(
                f"matmul: the batch dimensions of shapes {a.shape} and {b.shape} do not broadcast"
            ) from None
    out = np.empty(batch + (M, N), dtype=a.dtype)
    if out.size and K == 0:
        out.fill(0)
    elif out.size and not batch:
        gemm(a2, b2, out)
    elif 2 * out.size * K < _MATMUL_SMALL_FLOPS:
        # Tiny batches (generation: one query row per head, q @ k^T and p @ v): NumPy's
        # matmul, our twin, takes ~3 us; the batched kernel's offsets and set-up ~15 us
        # before any arithmetic. (The kernel tests set this threshold to 0.)
        np.matmul(a2, b2, out=out)
    elif out.size:
        a2, b2 = _aligned(a2), _aligned(b2)
        first = (0,) * (a2.ndim - 2), (0,) * (b2.ndim - 2)  # the first matrix of each
        f = _gemm.gemm_batched_f32 if a.dtype == np.float32 else _gemm.gemm_batched_f64
        a_off, b_off = _batch_offsets(a2, batch), _batch_offsets(b2, batch)
        c = out.reshape(-1, M, N)  # (batch, M, N), a view
        f(a2[first[0]], a_off, b2[first[1]], b_off, c, config.isa, config.num_threads)
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out[()] if out.ndim == 0 else out  # 1-D @ 1-D is a scalar, as in NumPy


def gemm_naive(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b by the textbook i-k-j loops in C (float32): no blocking, no packing, no
    threads -- the rung between reference.matmul_naive and the blocked gemm."""
    validate.check_gemm(a, b, None)
    if a.dtype != np.float32:
        raise TypeError(f"gemm_naive is float32 only, got {a.dtype}")
    out = np.zeros((a.shape[0], b.shape[1]), dtype=np.float32)
    if out.size and a.shape[1]:
        _gemm.gemm_naive_f32(validate.contiguous(a), validate.contiguous(b), out)
    return out


def _isa_level(isa: str | None) -> int:
    """The index of an ISA name this CPU supports (None: the one in use)."""
    from .config import ISA_NAMES

    if isa is None:
        return config.isa
    if isa not in ISA_NAMES[: config.best_isa + 1]:
        raise ValueError(f"isa must be one of {ISA_NAMES[: config.best_isa + 1]}, got {isa!r}")
    return ISA_NAMES.index(isa)


def gemm_blocking(dtype=np.float32, isa: str | None = None) -> dict:
    """The register tile (MR x NR) and cache blocks (MC, KC, NC) of one gemm variant."""
    level = _isa_level(isa)
    values = _gemm.blocking(level, np.dtype(dtype) == np.float64)
    return dict(zip(("MR", "NR", "MC", "KC", "PANEL_BYTES"), values))


def peak_gflops(
    dtype=np.float32, isa: str | None = None, nthreads: int = 1, seconds: float = 0.2
) -> float:
    """Measured peak GFLOP/s: independent FMA chains that never touch memory
    (csrc/gemm_impl.h, fma_peak). What a perfect matmul would reach."""
    import time

    level = _isa_level(isa)
    f64 = np.dtype(dtype) == np.float64
    iters, best = 1 << 16, 0.0
    while True:  # grow the loop until one run takes ~seconds/5
        t0 = time.perf_counter()
        flops = _gemm.fma_peak_flops(level, f64, iters, nthreads)
        dt = time.perf_counter() - t0
        if dt > seconds / 5:
            break
        iters *= 4
    for _ in range(3):
        t0 = time.perf_counter()
        flops = _gemm.fma_peak_flops(level, f64, iters, nthreads)
        best = max(best, flops / (time.perf_counter() - t0) / 1e9)
    return best


# --- optimizer updates (csrc/optim_impl.h: one pass over p, g and the state) -----------


def _check_update(p: np.ndarray, g: np.ndarray, *state: tuple[str, np.ndarray | None]) -> bool:
    """Validate an in-place update; True if the fused kernel can run on these arrays.

    g and the state buffers (name, array) must be float32/float64 arrays of p's shape
    and dtype. The kernel writes p and the state through raw pointers, so those must
    be C-contiguous and writable: for other views (rare) the NumPy twin, which updates
    any view in place, is used instead. (Called once per parameter per step: cheap.)
    """
    validate.float_array(p, "p")
    if not p.flags.writeable:
        raise ValueError("p is read-only")
    fused = validate.writable_in_place(p)
    for name, a in (("g", g), *state):
        if a is None:
            continue
        if not isinstance(a, np.ndarray) or a.dtype != p.dtype:
            validate.float_array(a, name)
            raise TypeError(f"dtypes must match: p is {p.dtype}, {name} is {a.dtype}")
        if a.shape != p.shape:
            raise ValueError(f"{name} has shape {a.shape}, but p has shape {p.shape}")
        if a is not g:
            if not a.flags.writeable:
                raise ValueError(f"{name} is read-only")
            fused = fused and validate.writable_in_place(a)
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
    if not _check_update(p, g, ("buf", buf)):
        _reference.sgd_update(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, first)
        return
    f = _optim.sgd_f32 if p.dtype == np.float32 else _optim.sgd_f64
    b = buf.reshape(-1) if momentum != 0 else None
    f(p.reshape(-1), validate.contiguous(g).reshape(-1), b, lr, momentum, dampening, weight_decay,
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
    if not _check_update(p, g, ("m", m), ("v", v)):
        _reference.adam_update(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled)
        return
    f = _optim.adam_f32 if p.dtype == np.float32 else _optim.adam_f64
    f(p.reshape(-1), validate.contiguous(g).reshape(-1), m.reshape(-1), v.reshape(-1), lr, beta1,
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


# --- layer normalisation and embedding backward -----------------------------------------


def layer_norm(x: np.ndarray, weight, bias, eps: float):
    validate.float_array(x, "x")
    validate.ndim(x, 2, "x")
    n, c = x.shape
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None:
            validate.float_array(p, name)
            validate.same_dtype(("x", x), (name, p))
            if p.shape != (c,):
                raise ValueError(f"layer_norm {name} must have shape ({c},), got {p.shape}")
    x = validate.contiguous(x)
    w = None if weight is None else validate.contiguous(weight)
    b = None if bias is None else validate.contiguous(bias)
    y = np.empty_like(x)
    mean = np.empty(n, dtype=x.dtype)
    rstd = np.empty(n, dtype=x.dtype)
    f = _nn.layernorm_fwd_f32 if x.dtype == np.float32 else _nn.layernorm_fwd_f64
    f(x, w, b, y, mean, rstd, float(eps), config.isa, config.num_threads)
    return y, mean, rstd


def layer_norm_backward(x, weight, mean, rstd, dy):
    validate.float_array(x, "x")
    validate.ndim(x, 2, "x")
    n, c = x.shape
    if dy.shape != x.shape or mean.shape != (n,) or rstd.shape != (n,):
        raise ValueError(
            f"layer_norm_backward: dy {dy.shape}, mean {mean.shape}, rstd {rstd.shape} for x {x.shape}"
        )
    if weight is not None and weight.shape != (c,):
        raise ValueError(f"layer_norm_backward: weight {weight.shape} for x {x.shape}")
    arrays = [("x", x), ("dy", dy), ("mean", mean), ("rstd", rstd)] + (
        [("weight", weight)] if weight is not None else []
    )
    validate.same_dtype(*arrays)
    x, dy, mean, rstd = (validate.contiguous(a) for a in (x, dy, mean, rstd))
    w = None if weight is None else validate.contiguous(weight)
    dx = np.empty_like(x)
    dw = None if weight is None else np.zeros(c, dtype=x.dtype)  # zeros: N may be 0
    db = np.zeros(c, dtype=x.dtype)
    f = _nn.layernorm_bwd_f32 if x.dtype == np.float32 else _nn.layernorm_bwd_f64
    f(x, w, mean, rstd, dy, dx, dw, db, config.isa, config.num_threads)
    return dx, dw, db


def embedding_backward(idx: np.ndarray, g: np.ndarray, num_embeddings: int) -> np.ndarray:
    validate.float_array(g, "g")
    ids = validate.int_indices(idx, "idx", num_embeddings)  # IndexError before any write
    d = g.shape[-1] if g.ndim else 0
    if g.shape[:-1] != idx.shape:
        raise ValueError(f"embedding_backward: g {g.shape} should be idx shape {idx.shape} + (D,)")
    dw = np.zeros((num_embeddings, d), dtype=g.dtype)
    if ids.size == 0 or d == 0:
        return dw
    f = _nn.embedding_bwd_f32 if g.dtype == np.float32 else _nn.embedding_bwd_f64
    f(
        ids.reshape(-1),
        validate.contiguous(g).reshape(ids.size, d),
        dw,
        config.isa,
        config.num_threads,
    )
    return dw


# --- softmax, log-softmax, cross-entropy, GELU (csrc/softmax_impl.h, csrc/gelu_impl.h) --
# Over the last axis: (..., C) is viewed as (rows, C), rows = the product of the rest.


def _as_rows(x: np.ndarray, name: str) -> np.ndarray:
    """x (..., C), a float array, as a C-contiguous (rows, C) array (a copy only if needed)."""
    validate.float_array(x, name)
    if x.ndim < 1:
        raise ValueError(f"{name} needs a last axis to normalise over, got shape {x.shape}")
    x = validate.contiguous(x)
    if x.ndim == 2:
        return x
    return x.reshape(math.prod(x.shape[:-1]), x.shape[-1])  # explicit rows: C may be 0


def _same_shape(a: np.ndarray, a_name: str, b: np.ndarray, b_name: str) -> None:
    validate.float_array(a, a_name)
    validate.float_array(b, b_name)
    validate.same_dtype((a_name, a), (b_name, b))
    if a.shape != b.shape:
        raise ValueError(
            f"{a_name} and {b_name} must have the same shape, got {a.shape} and {b.shape}"
        )


# From this many bytes of output on, log_softmax writes it with streaming stores
# (csrc/softmax_impl.h, log_softmax_row_stream): one trip to memory per written line
# instead of two. Far above a core's L2, and a good part of a shared L3: an output this
# large would be read back from memory by the next op anyway.
_STREAM_MIN_BYTES = 8 << 20


def _softmax_forward(x: np.ndarray, log: bool) -> np.ndarray:
    x2 = _as_rows(x, "x")
    y = np.empty_like(x2)
    f32 = x2.dtype == np.float32
    if log and x2.nbytes >= _STREAM_MIN_BYTES:
        f = _activations.log_softmax_stream_f32 if f32 else _activations.log_softmax_stream_f64
        f(x2, y, config.isa, config.num_threads)
    else:
        f = _activations.softmax_f32 if f32 else _activations.softmax_f64
        f(x2, y, log, config.isa, config.num_threads)
    return y if x.ndim == 2 else y.reshape(x.shape)


def _softmax_backward(y: np.ndarray, dy: np.ndarray, log: bool) -> np.ndarray:
    _same_shape(y, "y", dy, "dy")
    y2, dy2 = _as_rows(y, "y"), _as_rows(dy, "dy")
    dx = np.empty_like(y2)
    f = (
        _activations.softmax_backward_f32
        if y2.dtype == np.float32
        else _activations.softmax_backward_f64
    )
    f(y2, dy2, dx, log, config.isa, config.num_threads)
    return dx if y.ndim == 2 else dx.reshape(y.shape)


# Below this many elements a plain array's softmax is checked and allocated in C
# (_activations.softmax_small); it is also below tg_threads_for's 32k, so one thread either way.
_SOFTMAX_SMALL = 1 << 14


def softmax(x: np.ndarray) -> np.ndarray:
    y = _activations.softmax_small(
        x, False, _SOFTMAX_SMALL, config.isa
    )  # None: not small and plain
    return y if y is not None else _softmax_forward(x, log=False)


def log_softmax(x: np.ndarray) -> np.ndarray:
    y = _activations.softmax_small(x, True, _SOFTMAX_SMALL, config.isa)
    return y if y is not None else _softmax_forward(x, log=True)


def softmax_backward(y: np.ndarray, dy: np.ndarray) -> np.ndarray:
    return _softmax_backward(y, dy, log=False)


def log_softmax_backward(y: np.ndarray, dy: np.ndarray) -> np.ndarray:
    return _softmax_backward(y, dy, log=True)


def cross_entropy(
    logits: np.ndarray, targets: np.ndarray, ignore_index: int = -100
) -> tuple[float, _reference.CrossEntropySaved]:
    targets = validate.cross_entropy_targets(logits, targets, ignore_index)
    logits = validate.contiguous(logits)
    n = logits.shape[0]
    row_max = np.empty(n, dtype=logits.dtype)
    row_log_sum = np.empty(n, dtype=logits.dtype)
    f = (
        _activations.cross_entropy_f32
        if logits.dtype == np.float32
        else _activations.cross_entropy_f64
    )
    total, n_counted = f(
        logits, targets, int(ignore_index), row_max, row_log_sum, config.isa, config.num_threads
    )
    loss = total / n_counted if n_counted else float("nan")  # 0/0 like PyTorch
    saved = _reference.CrossEntropySaved(logits, targets, row_max, row_log_sum, int(ignore_index))
    return loss, saved


def cross_entropy_backward(saved, grad_loss: float) -> np.ndarray:
    logits, targets, row_max, row_log_sum, ignore_index = saved
    # saved is normally what cross_entropy returned, but it is a public function:
    # check everything a pointer will be taken from.
    targets = validate.cross_entropy_targets(logits, targets, ignore_index)
    for name, a in (("row_max", row_max), ("row_log_sum", row_log_sum)):
        validate.float_array(a, name)
        validate.same_dtype(("logits", logits), (name, a))
        if a.shape != (logits.shape[0],):
            raise ValueError(
                f"{name} must have shape ({logits.shape[0]},) for logits of shape {logits.shape}, got {a.shape}"
            )
    if not isinstance(grad_loss, (int, float, np.floating, np.integer)) and not (
        isinstance(grad_loss, np.ndarray) and grad_loss.shape == ()
    ):
        raise TypeError(f"grad_loss must be a number, got {type(grad_loss).__name__}")
    logits, row_max, row_log_sum = map(validate.contiguous, (logits, row_max, row_log_sum))
    n_counted = int(np.count_nonzero(targets != ignore_index))
    scale = float(grad_loss) / n_counted if n_counted else 0.0  # no counted row: all zeros
    dlogits = np.empty_like(logits)
    f = (
        _activations.cross_entropy_backward_f32
        if logits.dtype == np.float32
        else _activations.cross_entropy_backward_f64
    )
    args = (logits, targets, int(ignore_index), row_max, row_log_sum, scale, dlogits)
    f(*args, config.isa, config.num_threads)
    return dlogits


def gelu(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    tanh_form = validate.check_approximate(approximate)
    validate.float_array(x, "x")
    flat = validate.contiguous(x).reshape(-1)  # element-wise: any shape is a 1-D run
    y = np.empty_like(flat)
    f = _activations.gelu_f32 if flat.dtype == np.float32 else _activations.gelu_f64
    f(flat, y, tanh_form, config.isa, config.num_threads)
    return y.reshape(x.shape)


def gelu_backward(x: np.ndarray, dy: np.ndarray, approximate: str = "none") -> np.ndarray:
    tanh_form = validate.check_approximate(approximate)
    _same_shape(x, "x", dy, "dy")
    xf, dyf = validate.contiguous(x).reshape(-1), validate.contiguous(dy).reshape(-1)
    dx = np.empty_like(xf)
    f = _activations.gelu_backward_f32 if xf.dtype == np.float32 else _activations.gelu_backward_f64
    f(xf, dyf, dx, tanh_form, config.isa, config.num_threads)
    return dx.reshape(x.shape)


# --- fused attention (csrc/attention_impl.h explains the kernel) ------------------------


def attention_forward(q, k, v, causal: bool, scale: float, causal_offset: int = 0):
    N, T, S, D = validate.check_attention(q, k, v, causal, scale, causal_offset)
    if 0 in (N, T, S, D):  # nothing to compute: the twin's edge cases
        return _reference.attention_forward(q, k, v, causal, scale, causal_offset)
    q, k, v = validate.contiguous(q), validate.contiguous(k), validate.contiguous(v)
    out = np.empty((N, T, D), dtype=q.dtype)
    lse = np.empty((N, T), dtype=q.dtype)
    f = _attention.forward_f32 if q.dtype == np.float32 else _attention.forward_f64
    f(q, k, v, out, lse, bool(causal), int(causal_offset), float(scale), config.isa,
      config.num_threads)  # fmt: skip
    return out, lse


def attention_backward(q, k, v, out, lse, dout, causal: bool, scale: float, causal_offset: int = 0):
    N, T, S, D = validate.check_attention(q, k, v, causal, scale, causal_offset)
    validate.check_attention_grads(q, out, lse, dout)
    if 0 in (N, T, S, D):
        return _reference.attention_backward(q, k, v, out, lse, dout, causal, scale, causal_offset)
    q, k, v = validate.contiguous(q), validate.contiguous(k), validate.contiguous(v)
    out, lse, dout = validate.contiguous(out), validate.contiguous(lse), validate.contiguous(dout)
    dq, dk, dv = np.empty_like(q), np.empty_like(k), np.empty_like(v)
    f = _attention.backward_f32 if q.dtype == np.float32 else _attention.backward_f64
    f(q, k, v, out, lse, dout, dq, dk, dv, bool(causal), int(causal_offset), float(scale),
      config.isa, config.num_threads)  # fmt: skip
    return dq, dk, dv


def multi_head_attention_forward(qkv, n_head: int, causal: bool, scale: float):
    B, T, C, H, D = validate.check_multi_head(qkv, n_head, causal, scale)
    if 0 in (B, T, D):
        return _reference.multi_head_attention_forward(qkv, n_head, causal, scale)
    qkv = validate.contiguous(qkv)
    y = np.empty((B, T, C), dtype=qkv.dtype)
    lse = np.empty((B * H, T), dtype=qkv.dtype)
    _attention.packed_forward(qkv, y, lse, H, bool(causal), float(scale), config.isa,
                              config.num_threads)  # fmt: skip
    return y, lse


def multi_head_attention_backward(qkv, y, lse, dy, n_head: int, causal: bool, scale: float):
    B, T, C, H, D = validate.check_multi_head(qkv, n_head, causal, scale)
    validate.check_multi_head_grads(qkv, y, lse, dy, B, T, C, H)
    if 0 in (B, T, D):
        return _reference.multi_head_attention_backward(qkv, y, lse, dy, n_head, causal, scale)
    qkv, y, lse, dy = (
        validate.contiguous(qkv),
        validate.contiguous(y),
        validate.contiguous(lse),
        validate.contiguous(dy),
    )
    dqkv = np.empty_like(qkv)
    _attention.packed_backward(qkv, y, lse, dy, dqkv, H, bool(causal), float(scale),
                               config.isa, config.num_threads)  # fmt: skip
    return dqkv


def attention_scratch_bytes(
    N: int,
    T: int,
    S: int,
    D: int,
    dtype=np.float32,
    backward: bool | None = None,
    nthreads: int | None = None,
) -> int:
    """Bytes of scratch memory the C kernel allocates (all threads) for one forward
    (backward=False) or backward (True) call; None: the larger of the two, which is
    what a forward + backward step needs at its peak (the two never overlap)."""
    f64 = np.dtype(dtype) == np.float64
    nt = config.num_threads if nthreads is None else nthreads
    sizes = [_attention.scratch_bytes(N, T, S, D, f64, b, config.isa, nt)
             for b in ((False, True) if backward is None else (backward,))]  # fmt: skip
    return max(sizes)


def attention_blocking(dtype=np.float32, isa: str | None = None) -> dict:
    """Block sizes of one attention variant (isa None: the one in use): queries (BR) and
    keys (BC) per block, and the register tile's rows (MR) and lanes."""
    from .config import ISA_NAMES

    level = config.isa if isa is None else ISA_NAMES.index(isa)
    values = _attention.blocking(level, np.dtype(dtype) == np.float64)
    return dict(zip(("BR", "BC", "MR", "lanes"), values))


# --- the plain-C rung: every family as scalar loops on one thread (csrc/naive_impl.h) ------
#
# The same signatures as the twins, validated as above; no SIMD, no threads, no blocking.
# Lesson 10 times NumPy -> these -> the SIMD + threads kernels above.


def softmax_naive(x: np.ndarray) -> np.ndarray:
    x2 = _as_rows(x, "x")
    y = np.empty_like(x2)
    _naive.softmax(x2, y, False)
    return y.reshape(x.shape)


def log_softmax_naive(x: np.ndarray) -> np.ndarray:
    x2 = _as_rows(x, "x")
    y = np.empty_like(x2)
    _naive.softmax(x2, y, True)
    return y.reshape(x.shape)


def cross_entropy_naive(logits: np.ndarray, targets: np.ndarray, ignore_index: int = -100):
    validate.float_array(logits, "logits")
    validate.ndim(logits, 2, "logits")
    targets = validate.cross_entropy_targets(logits, targets, ignore_index)
    logits = validate.contiguous(logits)
    n = logits.shape[0]
    row_max, row_log_sum = np.empty(n, dtype=logits.dtype), np.empty(n, dtype=logits.dtype)
    total, n_counted = _naive.cross_entropy(
        logits, targets, int(ignore_index), row_max, row_log_sum
    )
    loss = total / n_counted if n_counted else float("nan")  # 0/0 like PyTorch
    saved = _reference.CrossEntropySaved(logits, targets, row_max, row_log_sum, int(ignore_index))
    return loss, saved


def cross_entropy_backward_naive(saved, grad_loss: float) -> np.ndarray:
    logits, targets, row_max, row_log_sum, ignore_index = saved
    validate.float_array(logits, "logits")
    validate.ndim(logits, 2, "logits")
    targets = validate.cross_entropy_targets(logits, targets, ignore_index)
    for name, a in (("row_max", row_max), ("row_log_sum", row_log_sum)):
        validate.float_array(a, name)
        validate.same_dtype(("logits", logits), (name, a))
        if a.shape != (logits.shape[0],):
            raise ValueError(f"{name} must have shape ({logits.shape[0]},), got {a.shape}")
    logits, row_max, row_log_sum = map(validate.contiguous, (logits, row_max, row_log_sum))
    n_counted = int(np.count_nonzero(targets != ignore_index))
    scale = float(grad_loss) / n_counted if n_counted else 0.0
    dlogits = np.empty_like(logits)
    _naive.cross_entropy_backward(
        logits, targets, int(ignore_index), row_max, row_log_sum, scale, dlogits
    )
    return dlogits


def _layer_norm_params(x, named) -> list:
    """weight/bias/mean/rstd: None or a float array of x's dtype and shape, contiguous."""
    out = []
    for name, a, shape in named:
        if a is not None:
            validate.float_array(a, name)
            validate.same_dtype(("x", x), (name, a))
            if a.shape != shape:
                raise ValueError(f"layer_norm {name} must have shape {shape}, got {a.shape}")
            a = validate.contiguous(a)
        out.append(a)
    return out


def layer_norm_naive(x: np.ndarray, weight, bias, eps: float):
    validate.float_array(x, "x")
    validate.ndim(x, 2, "x")
    n, c = x.shape
    w, b = _layer_norm_params(x, (("weight", weight, (c,)), ("bias", bias, (c,))))
    x = validate.contiguous(x)
    y = np.empty_like(x)
    mean, rstd = np.empty(n, dtype=x.dtype), np.empty(n, dtype=x.dtype)
    _naive.layer_norm(x, w, b, y, mean, rstd, float(eps))
    return y, mean, rstd


def layer_norm_backward_naive(x, weight, mean, rstd, dy):
    validate.float_array(x, "x")
    validate.ndim(x, 2, "x")
    n, c = x.shape
    if mean is None or rstd is None:
        raise ValueError("layer_norm_backward needs the forward's mean and rstd")
    w, mean, rstd, dy = _layer_norm_params(
        x,
        (("weight", weight, (c,)), ("mean", mean, (n,)), ("rstd", rstd, (n,)), ("dy", dy, (n, c))),
    )
    x = validate.contiguous(x)
    dx = np.empty_like(x)
    dw = None if w is None else np.empty(c, dtype=x.dtype)
    db = np.empty(c, dtype=x.dtype)
    _naive.layer_norm_backward(x, w, mean, rstd, dy, dx, dw, db)
    return dx, dw, db


def gelu_naive(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    tanh_form = validate.check_approximate(approximate)
    validate.float_array(x, "x")
    flat = validate.contiguous(x).reshape(-1)
    y = np.empty_like(flat)
    _naive.gelu(flat, y, tanh_form)
    return y.reshape(x.shape)


def gelu_backward_naive(x: np.ndarray, dy: np.ndarray, approximate: str = "none") -> np.ndarray:
    tanh_form = validate.check_approximate(approximate)
    _same_shape(x, "x", dy, "dy")
    xf, dyf = validate.contiguous(x).reshape(-1), validate.contiguous(dy).reshape(-1)
    dx = np.empty_like(xf)
    _naive.gelu_backward(xf, dyf, dx, tanh_form)
    return dx.reshape(x.shape)


def _linear_naive(x, weight, bias, residual, act: int, keep: bool):
    c = validate.contiguous
    x, weight = c(x), c(weight)
    bias = None if bias is None else c(bias)
    residual = None if residual is None else c(residual)
    y = np.empty((x.shape[0], weight.shape[0]), dtype=x.dtype)
    pre = np.empty_like(y) if keep else None
    if y.size:
        _naive.linear(x, weight, bias, residual, pre, y, act)
    return pre, y


def linear_gelu_naive(x, weight, bias=None, approximate: str = "none"):
    act = 2 if validate.check_approximate(approximate) else 1
    validate.check_linear(x, weight, bias)
    return _linear_naive(x, weight, bias, None, act, keep=True)


def linear_residual_naive(x, weight, bias, residual):
    validate.check_linear(x, weight, bias, residual)
    return _linear_naive(x, weight, bias, residual, 0, keep=False)[1]


def attention_forward_naive(q, k, v, causal: bool, scale: float, causal_offset: int = 0):
    N, T, S, D = validate.check_attention(q, k, v, causal, scale, causal_offset)
    q, k, v = validate.contiguous(q), validate.contiguous(k), validate.contiguous(v)
    out = np.empty((N, T, D), dtype=q.dtype)
    lse = np.empty((N, T), dtype=q.dtype)
    _naive.attention_forward(q, k, v, out, lse, bool(causal), int(causal_offset), float(scale))
    return out, lse


def attention_backward_naive(
    q, k, v, out, lse, dout, causal: bool, scale: float, causal_offset: int = 0
):
    validate.check_attention(q, k, v, causal, scale, causal_offset)
    validate.check_attention_grads(q, out, lse, dout)
    q, k, v, out, lse, dout = map(validate.contiguous, (q, k, v, out, lse, dout))
    dq, dk, dv = np.empty_like(q), np.empty_like(k), np.empty_like(v)
    _naive.attention_backward(q, k, v, out, lse, dout, dq, dk, dv, bool(causal),
                              int(causal_offset), float(scale))  # fmt: skip
    return dq, dk, dv


def sgd_update_naive(
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
    if not _check_update(p, g, ("buf", buf)):
        raise ValueError("sgd_update_naive updates C-contiguous arrays in place; p or buf is not")
    b = buf.reshape(-1) if momentum != 0 else None
    _naive.sgd(p.reshape(-1), validate.contiguous(g).reshape(-1), b, lr, momentum, dampening,
               weight_decay, nesterov, first)  # fmt: skip


def adam_update_naive(
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
    if not _check_update(p, g, ("m", m), ("v", v)):
        raise ValueError("adam_update_naive updates C-contiguous arrays in place; p, m or v is not")
    _naive.adam(p.reshape(-1), validate.contiguous(g).reshape(-1), m.reshape(-1), v.reshape(-1), lr,
                beta1, beta2, eps, weight_decay, step, decoupled)  # fmt: skip


def adamw_update_naive(
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
    adam_update_naive(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled=True)


# --- kernels whose extension module did not load run on their twins --------------------

for _kernel, _module in KERNELS.items():
    if _module in MODULE_ERRORS:
        # a plain-C rung (X_naive) falls back to X's twin; gemm_naive to gemm's
        _twin = _kernel[: -len("_naive")] if _kernel.endswith("_naive") else _kernel
        globals()[_kernel] = getattr(_reference, _twin)
if MODULE_ERRORS:
    warnings.warn(
        "tinygrad_edu: "
        + "; ".join(
            f"compiled kernel module {m} did not load ({e}), so "
            + ", ".join(k for k, mod in KERNELS.items() if mod == m)
            + " run on the NumPy reference path"
            for m, e in MODULE_ERRORS.items()
        ),
        RuntimeWarning,
        stacklevel=2,
    )
