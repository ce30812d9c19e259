"""What every check uses: call the learner's function safely, compare with the library.

A check stops at the first mismatch and says what it was: the call with its inputs,
what the library gives and what the learner's function gave. Nothing the learner's code
does (raise, return the wrong type or shape, NaN) reaches the checker as a traceback:
`call` turns an exception into `Failed` (or `NotStarted` for NotImplementedError), and
the comparisons turn a wrong type or shape into `Failed`.
"""

from __future__ import annotations

import math
import numbers
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..scalar import Value

RTOL, ATOL = 1e-6, 1e-9  # float64 results; a different order of summation passes


class NotStarted(Exception):
    """The learner's function still raises NotImplementedError."""

    def __init__(self, function: str) -> None:
        super().__init__(f"`{function}` still raises NotImplementedError")
        self.function = function


class Failed(Exception):
    """The first mismatch, as one line: the call, what was expected, what came back."""


# --- showing inputs and outputs in one line ------------------------------------------------


def _num(x: Any) -> str:
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, numbers.Integral):
        return str(int(x))
    if isinstance(x, numbers.Real):
        return f"{float(x):.8g}"
    return repr(x)


def _nested(x: np.ndarray) -> str:
    if x.ndim == 0:
        return _num(x[()])
    return "[" + ", ".join(_nested(row) for row in x) + "]"


def show(x: Any, limit: int = 8) -> str:
    """A short, one-line picture of a value: numbers, and small arrays, in full; big
    arrays as their shape."""
    if isinstance(x, Value):
        return f"Value(data={x.data:.6g}, grad={x.grad:.6g})"
    if isinstance(x, np.ndarray):
        if x.size <= limit:
            return _nested(x)
        return f"<array of shape {x.shape}>"
    if isinstance(x, (list, tuple)):
        if len(x) > limit or sum(isinstance(v, (list, tuple)) for v in x) * len(x) > limit:
            return f"<{type(x).__name__} of {len(x)} items>"
        inner = ", ".join(show(v, limit) for v in x)
        return f"[{inner}]" if isinstance(x, list) else f"({inner}{',' if len(x) == 1 else ''})"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k!r}: {show(v, limit)}" for k, v in x.items()) + "}"
    if isinstance(x, (numbers.Number, np.number)):
        return _num(x)
    text = repr(x)
    return text if len(text) <= 80 else text[:77] + "..."


def describe(function: str, *args: Any, **kwargs: Any) -> str:
    """`softmax(x=[1, 2, 3])`: a call as the message shows it."""
    parts = [show(a) for a in args] + [f"{k}={show(v)}" for k, v in kwargs.items()]
    return f"{function}({', '.join(parts)})"


# --- calling the learner's code ------------------------------------------------------------


def _where(exc: BaseException, learner_file: str | None) -> str:
    """' (line 12 of softmax.py)': the last line of the learner's file in the traceback."""
    if not learner_file:
        return ""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == str(learner_file):  # runner._load compiles it under this name
            line = frame.lineno
    if isinstance(exc, SyntaxError) and exc.filename == str(learner_file):
        line = exc.lineno
    return f" (line {line} of {Path(learner_file).name})" if line else ""


def explain_exception(exc: BaseException, learner_file: str | None) -> str:
    name = type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(text) > 200:
        text = text[:197] + "..."
    hint = ""
    if isinstance(exc, RecursionError):
        hint = "; Python allows about 1,000 nested calls: keep your own stack instead of recursing"
    return f"{name}{': ' + text if text else ''}{_where(exc, learner_file)}{hint}"


def function_of(module: Any, name: str) -> Callable:
    fn = getattr(module, name, None)
    if not callable(fn):
        raise Failed(f"{Path(module.__file__).name} defines no function `{name}`")
    return fn


def call(module: Any, name: str, *args: Any, shown: str | None = None, **kwargs: Any):
    """The learner's `name(*args, **kwargs)` -> (result, the call as text).

    `shown` replaces the automatic description of the call (for inputs too big to print).
    """
    desc = shown or describe(name, *args, **kwargs)
    fn = function_of(module, name)
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError:
        raise NotStarted(name) from None
    except (Exception, SystemExit) as exc:  # the learner's bug, never a traceback
        raise Failed(f"{desc} raised {explain_exception(exc, module.__file__)}") from None
    return result, desc


def expect_raise(module: Any, name: str, exc_type: type, why: str, *args: Any, **kwargs: Any):
    """The learner's function must raise exc_type on these inputs (as the library does)."""
    desc = describe(name, *args, **kwargs)
    fn = function_of(module, name)
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError:
        raise NotStarted(name) from None
    except exc_type:
        return
    except (Exception, SystemExit) as exc:
        raise Failed(
            f"{desc}: expected {exc_type.__name__} ({why}), got "
            f"{explain_exception(exc, module.__file__)}"
        ) from None
    raise Failed(f"{desc}: expected {exc_type.__name__} ({why}), got {show(result)}")


# --- comparing ---------------------------------------------------------------------------------


def _label(what: str, index: tuple = ()) -> str:
    """`dx[1, 2]`; the whole result's entries are `result[1, 2]`."""
    if not index:
        return what
    what = "result" if what == "the result" else what
    return f"{what}[{', '.join(str(int(i)) for i in index)}]"


def number(desc: str, expected: float, got: Any, what: str = "", rtol=RTOL, atol=ATOL):
    """got must be a real number close to expected."""
    if isinstance(got, np.ndarray) and got.shape == ():
        got = got[()]
    if isinstance(got, (bool, np.bool_)) or not isinstance(got, (numbers.Real, np.number)):
        raise Failed(
            f"{desc}: expected {what or 'a number'}{' to be a number' if what else ''}, "
            f"got {type(got).__name__} {show(got)}"
        )
    g = float(got)
    if not (math.isclose(g, expected, rel_tol=rtol, abs_tol=atol) or (g == expected)):
        if not (math.isnan(g) and math.isnan(expected)):
            label = f"{what} = " if what else ""
            raise Failed(f"{desc}: expected {label}{_num(expected)}, got {_num(g)}")


def array(
    desc: str, expected: np.ndarray, got: Any, what: str = "the result", rtol=RTOL, atol=ATOL
):
    """got must be an array (or nested lists) of expected's shape, close to it."""
    expected = np.asarray(expected)
    if isinstance(got, (numbers.Number, np.number)) and expected.shape != ():
        raise Failed(
            f"{desc}: expected {what} to be an array of shape {expected.shape}, got the number {_num(got)}"
        )
    try:
        g = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise Failed(
            f"{desc}: expected {what} to be an array of shape {expected.shape}, "
            f"got {type(got).__name__} {show(got)}"
        ) from None
    if g.shape != expected.shape:
        raise Failed(f"{desc}: expected {what} of shape {expected.shape}, got shape {g.shape}")
    e = expected.astype(np.float64)
    ok = np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
    if not ok.all():
        index = tuple(np.argwhere(~ok)[0])
        full = f" (all of it: expected {show(e)}, got {show(g)})" if 1 < e.size <= 6 else ""
        raise Failed(
            f"{desc}: expected {_label(what, index)} = {_num(e[index])}, got {_num(g[index])}"
            f"{full}{diff(e, g, ok) if e.size > 6 else ''}"
        )


def diff(expected: np.ndarray, got: np.ndarray, ok: np.ndarray) -> str:
    """Where two arrays differ, and by how much, in a few lines:

        3 of 16 entries differ; the largest difference is 0.42 at [1, 3]
        where (x = differs), result[0]:
          . x x x
          . . x x
    A 2-D picture of the differing entries for the first slice that has any (the last two
    axes, up to 24 x 40), so that a pattern (the upper triangle: the future was not
    masked; one whole row: an axis mix-up) shows at a glance.
    """
    bad = ~ok
    with np.errstate(invalid="ignore"):
        gap = np.abs(got - expected)
    gap = np.where(np.isnan(gap), np.inf, gap)
    gap = np.where(bad, gap, -1.0)
    worst = np.unravel_index(int(np.argmax(gap)), gap.shape)
    where = ", ".join(str(int(i)) for i in worst)
    size = "not a number" if not np.isfinite(gap[worst]) else f"{_num(gap[worst])}"
    text = (
        f"\n  {int(bad.sum())} of {bad.size} entries differ; the largest difference is {size} "
        f"at [{where}] (expected {_num(expected[worst])}, got {_num(got[worst])})"
    )
    if bad.ndim == 0:
        return text
    picture = bad if bad.ndim >= 2 else bad[None, :]
    lead = ()
    if picture.ndim > 2:  # the first slice over the leading axes that has a difference
        lead = tuple(int(i) for i in np.argwhere(bad)[0][:-2])
        picture = picture[lead]
    if picture.shape[0] > 24 or picture.shape[1] > 40:
        return text
    name = f" in [{', '.join(map(str, lead))}, :, :]" if lead else ""
    rows = ["  " + " ".join("x" if b else "." for b in row) for row in picture]
    return text + f"\n  where they differ (x){name}:\n" + "\n".join("  " + r for r in rows)


def parts(desc: str, got: Any, names: tuple) -> tuple:
    """got must be a tuple (or list) of len(names) parts: (dx, dweight, dbias)."""
    if not isinstance(got, (tuple, list)) or len(got) != len(names):
        kind = (
            f"{type(got).__name__} of {len(got)}" if isinstance(got, (tuple, list)) else show(got)
        )
        raise Failed(f"{desc}: expected a tuple ({', '.join(names)}), got {kind}")
    return tuple(got)


def gradient_by_differences(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6):
    """d f / d x by central differences in float64: (f(x + h) - f(x - h)) / 2h per element."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        up = f(x)
        x[i] = old - h
        down = f(x)
        x[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad


def against_differences(desc: str, numeric: np.ndarray, got: Any, what: str, of: str):
    """The learner's gradient against the finite differences of the library's forward."""
    try:
        array(desc, numeric, got, what, rtol=1e-4, atol=1e-6)
    except Failed as exc:
        raise Failed(f"{exc} -- that disagrees with finite differences of {of}") from None
