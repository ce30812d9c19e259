"""The common mistakes, recognised: what a failing answer most likely got wrong.

When a check fails, each diagnosis of that exercise runs the learner's function once more
on one small probe input and compares it with what a known mistake gives there. The
mistake's answer is built from the library's own pieces, changed in the one place the
mistake changes (the attention kernel with scale 1 instead of 1/sqrt(D), the library's
softmax over the other axis, ...). The first diagnosis that matches is added under the
check's message:

    causal_attention(...): expected result[0, 0] = 0.31, got 0.52
      -> looks like the scores were not divided by sqrt(D) ...

A diagnosis never fails a check by itself, and an exception in the learner's code on
the probe means "not this mistake".
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import numpy as np

from ..kernels import reference
from ..scalar import Value
from .harness import function_of

DIAGNOSES: dict[str, list[Callable[[Any], Optional[str]]]] = {}


def diagnosis(name: str):
    def register(fn):
        DIAGNOSES.setdefault(name, []).append(fn)
        return fn

    return register


def diagnose(name: str, module: Any) -> Optional[str]:
    """The first known mistake the learner's module makes, as a sentence; None if none."""
    for fn in DIAGNOSES.get(name, []):
        try:
            with np.errstate(all="ignore"):
                found = fn(module)
        except Exception:  # the learner's code failed on the probe: not this mistake
            found = None
        if found:
            return found
    return None


def _learner(module: Any, name: str, *args: Any) -> Any:
    """The learner's result on a probe (copies of the inputs: their function may write)."""
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    return function_of(module, name)(*copies)


def _same(got: Any, want: Any, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    try:
        g = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    want = np.asarray(want, dtype=np.float64)
    return g.shape == want.shape and bool(np.allclose(g, want, rtol, atol, equal_nan=True))


def _blows_up(got: Any) -> bool:
    try:
        return not np.all(np.isfinite(np.asarray(got, dtype=np.float64)))
    except (TypeError, ValueError):
        return False


def _probe(seed: int, *shape: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


NO_MAX = (
    "looks like the maximum was not subtracted before exp: right on small numbers, but "
    "exp(1000) overflows to inf and inf / inf is NaN. Subtract each row's maximum first "
    "(softmax(x) = softmax(x - max(x)))"
)


# --- softmax ---------------------------------------------------------------------------------


@diagnosis("softmax")
def _softmax_no_max(m) -> Optional[str]:
    small, large = _probe(1, 2, 4), np.array([[1000.0, 0.0, -5.0, 999.0]])
    if _same(_learner(m, "softmax", small), reference.softmax(small)) and _blows_up(
        _learner(m, "softmax", large)
    ):
        return NO_MAX
    return None


@diagnosis("softmax")
def _softmax_wrong_axis(m) -> Optional[str]:
    x = _probe(2, 3, 4)
    got = _learner(m, "softmax", x)
    if _same(got, reference.softmax(x.T).T):
        return (
            "looks like the softmax went over the wrong axis (down each column, axis 0): "
            "each ROW must sum to 1, so take the max and the sum over axis=-1 with "
            "keepdims=True"
        )
    e = np.exp(x - x.max())
    if _same(got, e / e.sum()):
        return (
            "looks like the sum went over the whole array (no axis): each row is its own "
            "softmax, so sum over axis=-1 with keepdims=True"
        )
    return None


# --- causal attention -----------------------------------------------------------------------


def _attention(q, k, v, scale: float, offset: int = 0) -> np.ndarray:
    out, _ = reference.attention_forward(
        q[None], k[None], v[None], causal=True, scale=scale, causal_offset=offset
    )
    return out[0]


def _qkv(seed: int = 3, T: int = 5, D: int = 4):
    r = np.random.default_rng(seed)
    return r.standard_normal((T, D)), r.standard_normal((T, D)), r.standard_normal((T, D))


@diagnosis("causal_attention")
def _attention_no_sqrt(m) -> Optional[str]:
    q, k, v = _qkv()
    if _same(_learner(m, "causal_attention", q, k, v), _attention(q, k, v, scale=1.0)):
        return (
            "looks like the scores were not divided by sqrt(D): every score is sqrt(D) "
            "times too big, so the softmax is too peaked. scores = q @ k.T / sqrt(D)"
        )
    return None


@diagnosis("causal_attention")
def _attention_masked_after_softmax(m) -> Optional[str]:
    q, k, v = _qkv()
    T, D = q.shape
    weights = reference.softmax(q @ k.T / math.sqrt(D))  # no mask yet: sees the future
    weights = np.where(np.triu(np.ones((T, T), dtype=bool), k=1), 0.0, weights)
    if _same(_learner(m, "causal_attention", q, k, v), weights @ v):
        return (
            "looks like the future was masked AFTER the softmax: the zeroed weights leave "
            "each row summing to less than 1. Put -inf in the scores before the softmax, "
            "so that the past's weights still sum to 1"
        )
    return None


@diagnosis("causal_attention")
def _attention_mask_off_by_one(m) -> Optional[str]:
    q, k, v = _qkv()
    got = _learner(m, "causal_attention", q, k, v)
    scale = 1.0 / math.sqrt(q.shape[1])
    if _same(got, _attention(q, k, v, scale, offset=1)):
        return (
            "looks like the mask is off by one: each token also sees the NEXT token. Mask "
            "j > i only (np.triu(..., k=1)): the diagonal, the token itself, stays"
        )
    if _same(np.asarray(got)[1:], _attention(q, k, v, scale, offset=-1)[1:]):
        return (
            "looks like the mask is off by one: each token does not see ITSELF (the diagonal "
            "is masked too, and the first row has nothing left). Mask j > i only "
            "(np.triu(..., k=1))"
        )
    return None


@diagnosis("causal_attention")
def _attention_wrong_axis(m) -> Optional[str]:
    q, k, v = _qkv()
    T, D = q.shape
    scores = np.where(np.triu(np.ones((T, T), dtype=bool), k=1), -np.inf, q @ k.T / math.sqrt(D))
    weights = reference.softmax(scores.T).T  # each column sums to 1: the wrong axis
    if _same(_learner(m, "causal_attention", q, k, v), weights @ v):
        return (
            "looks like the softmax went over the wrong axis (axis 0, the queries): each "
            "query's row of weights must sum to 1, so normalise over the keys, axis=-1"
        )
    return None


@diagnosis("causal_attention")
def _attention_no_max(m) -> Optional[str]:
    q, k, v = _qkv()
    big = 40.0 * q  # keys = queries: each token's score with itself is in the thousands
    scale = 1.0 / math.sqrt(q.shape[1])
    if _same(_learner(m, "causal_attention", q, k, v), _attention(q, k, v, scale)) and _blows_up(
        _learner(m, "causal_attention", big, big, v)
    ):
        return NO_MAX
    return None


# --- costs: sum instead of mean -------------------------------------------------------------


@diagnosis("mse_cost")
def _mse_sum(m) -> Optional[str]:
    p, t = _probe(4, 6), _probe(5, 6)
    mean = float(np.mean((p - t) ** 2))
    if _same(_learner(m, "mse_cost", p, t), 6 * mean):
        return (
            "looks like a sum instead of a mean: the answer is 6 times too big for 6 "
            "numbers. Divide by how many there are (np.mean), so that the cost does not "
            "grow with the size of the data"
        )
    return None


@diagnosis("cross_entropy_grad")
def _cross_entropy_sum(m) -> Optional[str]:
    logits, targets = _probe(6, 4, 3), np.array([0, 2, 1, 2])
    loss, saved = reference.cross_entropy(logits, targets)
    dlogits = reference.cross_entropy_backward(saved, 1.0)
    got = _learner(m, "cross_entropy_grad", logits, targets)
    if _same(got[0], 4 * loss) or _same(got[1], 4 * dlogits):
        return (
            "looks like a sum instead of a mean over the 4 examples (4 times too big): the "
            "cost is the MEAN over the batch, and so its gradient is divided by N too"
        )
    return None


@diagnosis("cross_entropy_grad")
def _cross_entropy_no_max(m) -> Optional[str]:
    small, targets = _probe(7, 2, 3), np.array([1, 0])
    large = np.array([[1000.0, -1000.0, 0.0], [0.0, 0.0, 1000.0]])
    loss, _ = reference.cross_entropy(small, targets)
    got_small = _learner(m, "cross_entropy_grad", small, targets)
    got_large = _learner(m, "cross_entropy_grad", large, np.array([1, 2]))
    if _same(got_small[0], loss) and (_blows_up(got_large[0]) or _blows_up(got_large[1])):
        return NO_MAX
    return None


# --- gradient descent: simultaneous update ---------------------------------------------------


def _mse_grads(w: float, b: float, xs: list, ys: list) -> tuple:
    """dCost/dw and dCost/db of the mean squared error, by the library's Value.backward."""
    wv, bv = Value(w), Value(b)
    total = Value(0.0)
    for x, y in zip(xs, ys):
        total = total + (wv * x + bv - y) ** 2
    (total / len(xs)).backward()
    return wv.grad, bv.grad


@diagnosis("gradient_descent_step")
def _sequential_update(m) -> Optional[str]:
    xs, ys, w, b, lr = [-1.0, 0.0, 2.0], [1.0, -0.5, 3.0], 0.5, -0.2, 0.1
    dw, db = _mse_grads(w, b, xs, ys)
    w_new, b_new = w - lr * dw, b - lr * db
    w_first = (w_new, b - lr * _mse_grads(w_new, b, xs, ys)[1])  # b's gradient at the new w
    b_first = (w - lr * _mse_grads(w, b_new, xs, ys)[0], b_new)  # w's gradient at the new b
    got = _learner(m, "gradient_descent_step", w, b, list(xs), list(ys), lr)
    if _same(got, w_first) or _same(got, b_first):
        return (
            "looks like a sequential update: one parameter moved first, and the other's "
            "gradient was then computed at the NEW value. Compute both gradients at the "
            "old (w, b), then move both (a simultaneous update)"
        )
    return None


# --- Adam: bias correction ------------------------------------------------------------------


@diagnosis("adam_step")
def _adam_no_bias_correction(m) -> Optional[str]:
    p, g = _probe(8, 2, 3), _probe(9, 2, 3)
    mom, vel = np.zeros((2, 3)), np.zeros((2, 3))
    lr, beta1, beta2, eps, step = 1e-2, 0.9, 0.999, 1e-8, 1
    want_p, want_m, want_v = p.copy(), mom.copy(), vel.copy()
    reference.adam_update(want_p, g.copy(), want_m, want_v, lr, beta1, beta2, eps, 0.0, step)
    got = _learner(m, "adam_step", p, g, mom, vel, lr, beta1, beta2, eps, step)
    # the library's own m and v, used raw: m / sqrt(v) instead of m_hat / sqrt(v_hat)
    uncorrected = p - lr * want_m / (np.sqrt(want_v) + eps)
    if _same(got[1], want_m) and _same(got[2], want_v) and _same(got[0], uncorrected):
        return (
            "looks like Adam without bias correction: m and v start at 0, so in the first "
            "steps they are too small (m by a factor 1 - beta1**step). Divide them by "
            "1 - beta1**step and 1 - beta2**step before the update"
        )
    return None


# --- top-p: < against <= at a tie -----------------------------------------------------------


@diagnosis("top_p_filter")
def _top_p_tie(m) -> Optional[str]:
    probs, top_p = np.array([[0.5, 0.25, 0.15, 0.1]]), 0.75  # 0.5 + 0.25 = 0.75 exactly
    got = _learner(m, "top_p_filter", probs, top_p)
    tie_kept = reference.top_p_filter(probs.copy(), np.nextafter(top_p, 1.0))  # keeps the 0.15 too
    if _same(got, tie_kept) and not _same(tie_kept, reference.top_p_filter(probs.copy(), top_p)):
        return (
            "looks like <= where the rule needs <: the tokens before 0.15 hold exactly "
            "top_p = 0.75 already, so 0.15 is not needed. Keep a token only if the "
            "likelier tokens hold LESS than top_p"
        )
    return None
