"""Checks made in Python before any compiled kernel touches a buffer.

A kernel trusts its pointers; a wrong shape or dtype reaching C would read or write
outside an array. So every compiled entry point first calls these, which raise a
Python exception that names what was wrong.
"""

from __future__ import annotations

import math

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


# --- argument checks shared by both backends (reference.py and compiled.py) ---------


def check_gemm(a, b, out) -> None:
    """The errors both gemm()s raise: non-arrays, dtypes, shapes, a bad `out`."""
    float_array(a, "a")
    float_array(b, "b")
    same_dtype(("a", a), ("b", b))
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"gemm needs (M, K) @ (K, N), got shapes {a.shape} and {b.shape}")
    if out is not None:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
        if out.dtype != a.dtype:
            raise ValueError(f"out must have the dtype of a and b ({a.dtype}), got {out.dtype}")
        if out.shape != (a.shape[0], b.shape[1]):
            raise ValueError(
                f"out must have shape {(a.shape[0], b.shape[1])} for {a.shape} @ {b.shape}, "
                f"got {out.shape}"
            )
        out_array(out)


def check_linear(x, weight, bias, residual=None) -> None:
    """The errors both linear_gelu/linear_residual raise: x (N, in), weight (out, in),
    bias (out,) or None, residual (N, out); one float dtype for all."""
    float_array(x, "x")
    float_array(weight, "weight")
    named = [("x", x), ("weight", weight)]
    if x.ndim != 2 or weight.ndim != 2 or x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"linear needs x (N, in) and weight (out, in), got {x.shape} and {weight.shape}"
        )
    if bias is not None:
        float_array(bias, "bias")
        named.append(("bias", bias))
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"bias must have shape ({weight.shape[0]},), got {bias.shape}")
    if residual is not None:
        float_array(residual, "residual")
        named.append(("residual", residual))
        if residual.shape != (x.shape[0], weight.shape[0]):
            raise ValueError(
                f"residual must have shape {(x.shape[0], weight.shape[0])}, got {residual.shape}"
            )
    same_dtype(*named)


def cross_entropy_targets(logits, targets, ignore_index) -> np.ndarray:
    """Check cross_entropy's arguments; return the targets as contiguous int64.

    Shared by both backends, so both raise the same exceptions: TypeError for a wrong
    kind of value, ValueError naming the shapes, IndexError naming a target outside
    [0, C) that is not ignore_index (NumPy would wrap a negative one around silently).
    """
    float_array(logits, "logits")
    ndim(logits, 2, "logits")
    if not isinstance(targets, np.ndarray):
        raise TypeError(f"targets must be a numpy.ndarray, got {type(targets).__name__}")
    if targets.dtype.kind not in "iu":
        raise TypeError(f"targets must hold integers (class indices), got {targets.dtype}")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"ignore_index must be an int, got {type(ignore_index).__name__}")
    n, c = logits.shape
    if targets.shape != (n,):
        raise ValueError(
            f"targets must have shape ({n},) for logits of shape {logits.shape}, got {targets.shape}"
        )
    counted = targets[targets != ignore_index]
    if counted.size:
        lo, hi = int(counted.min()), int(counted.max())
        if lo < 0 or hi >= c:
            bad = lo if lo < 0 else hi
            raise IndexError(
                f"target {bad} is outside [0, {c}) for logits of shape {logits.shape} "
                f"(and is not ignore_index={int(ignore_index)})"
            )
    return contiguous(np.asarray(targets, dtype=np.int64))


def check_approximate(approximate: str) -> bool:
    """True for the tanh form; ValueError unless approximate is 'none' or 'tanh'."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    return approximate == "tanh"


def check_attention(q, k, v, causal, scale, causal_offset) -> tuple[int, int, int, int]:
    """The errors both attention kernels raise; returns (N, T, S, D)."""
    for name, a in (("q", q), ("k", k), ("v", v)):
        float_array(a, name)
    same_dtype(("q", q), ("k", k), ("v", v))
    if q.ndim != 3 or k.ndim != 3 or v.ndim != 3 or k.shape != v.shape:
        raise ValueError(
            f"attention needs q (N, T, D), k and v (N, S, D), got shapes "
            f"q {q.shape}, k {k.shape}, v {v.shape}"
        )
    (N, T, D), S = q.shape, k.shape[1]
    if k.shape[0] != N or k.shape[2] != D:
        raise ValueError(
            f"attention: q {q.shape} and k {k.shape} must agree in N and D (N, T, D) / (N, S, D)"
        )
    check_causal_and_scale(causal, scale)
    if isinstance(causal_offset, (bool, np.bool_)) or not isinstance(
        causal_offset, (int, np.integer)
    ):
        raise TypeError(f"causal_offset must be an int, got {type(causal_offset).__name__}")
    if not causal and causal_offset != 0:
        raise ValueError(f"causal_offset={causal_offset} needs causal=True")
    if not -T <= causal_offset <= S:
        raise ValueError(
            f"causal_offset must be in [-T, S] = [{-T}, {S}] for T={T} queries and S={S} keys, "
            f"got {causal_offset}"
        )
    return N, T, S, D


def check_causal_and_scale(causal, scale) -> None:
    if not isinstance(causal, (bool, np.bool_)):
        raise TypeError(f"causal must be a bool, got {type(causal).__name__}")
    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, (int, float, np.number)):
        raise TypeError(f"scale must be a real number, got {type(scale).__name__}")
    if not math.isfinite(float(scale)):
        raise ValueError(f"scale must be finite, got {scale}")


def check_attention_grads(q, out, lse, dout) -> None:
    """out and dout must have q's shape (N, T, D), lse (N, T), all of q's dtype."""
    for name, a in (("out", out), ("lse", lse), ("dout", dout)):
        float_array(a, name)
    same_dtype(("q", q), ("out", out), ("lse", lse), ("dout", dout))
    if out.shape != q.shape or dout.shape != q.shape or lse.shape != q.shape[:2]:
        raise ValueError(
            f"attention_backward needs out and dout of q's shape {q.shape} and lse of shape "
            f"{q.shape[:2]}, got out {out.shape}, dout {dout.shape}, lse {lse.shape}"
        )


def check_multi_head(qkv, n_head, causal, scale) -> tuple[int, int, int, int, int]:
    """The errors both multi-head kernels raise; returns (B, T, C, H, D)."""
    float_array(qkv, "qkv")
    if isinstance(n_head, (bool, np.bool_)) or not isinstance(n_head, (int, np.integer)):
        raise TypeError(f"n_head must be an int, got {type(n_head).__name__}")
    if n_head < 1:
        raise ValueError(f"n_head must be >= 1, got {n_head}")
    if qkv.ndim != 3 or qkv.shape[2] % (3 * n_head):
        raise ValueError(
            f"qkv must be (B, T, 3C) with C divisible by n_head={n_head}, got {qkv.shape}"
        )
    check_causal_and_scale(causal, scale)
    B, T, C3 = qkv.shape
    return B, T, C3 // 3, int(n_head), C3 // 3 // n_head


def check_multi_head_grads(qkv, y, lse, dy, B, T, C, H) -> None:
    for name, a in (("y", y), ("lse", lse), ("dy", dy)):
        float_array(a, name)
    same_dtype(("qkv", qkv), ("y", y), ("lse", lse), ("dy", dy))
    if y.shape != (B, T, C) or dy.shape != (B, T, C) or lse.shape != (B * H, T):
        raise ValueError(
            f"multi-head backward needs y and dy of shape {(B, T, C)} and lse {(B * H, T)}, "
            f"got y {y.shape}, dy {dy.shape}, lse {lse.shape}"
        )
