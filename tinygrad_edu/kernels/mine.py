"""The learner's own functions in place of the library's kernels: the one seam of `--mine`.

Every layer above this one calls its hot loops as `kernels.ops.NAME(...)`. `use(functions)`
puts an overlay in front of the active backend: `kernels.ops.softmax` is then the
learner's `softmax` exercise (through a small adapter, below), and every name the learner
did not write is still the backend's. `use({})` takes the overlay away again. Nothing
above the kernel interface changes, and no call site knows. (`kernels.use_backend()`
installs a bare backend: call use() again after it.)

    exercise              kernels it takes over
    softmax               softmax
    layer_norm_backward   layer_norm_backward
    causal_attention      attention_forward (causal, no cache), multi_head_attention_forward
    kv_cache_step         attention_forward for new queries after cached keys (generation)
    cross_entropy_grad    cross_entropy, cross_entropy_backward
    adam_step             adam_update, adamw_update
    matmul_loops          matmul_naive
    mlp_block             mlp_forward (the MLP block as one op; the exact GELU only)
    top_p_filter          top_p_filter (sample_next's nucleus, in generation)

An adapter turns the kernel's arguments into the exercise's (one head at a time; float64
in, the kernel's dtype out) and back; a call the exercise does not cover (a non-causal
attention, another scale, GPT-2's tanh GELU) goes to the backend. Where the backward pass
needs more than the exercise returns (attention's log-sum-exp, the MLP's hidden layer
before and after GELU), the library computes that part from the same inputs.
`calls()` counts the calls each learner function received, so that a lesson can say
whose code a failing verdict ran on.

The scalar engine imports nothing from the package, so its learner functions have hooks
of their own: `scalar.use_topological_sort(fn)` (backward()'s sort) and
`scalar.use_gradient_descent_step(fn)` (the step of `scalar.descend_line`, lesson 2).
The learner's files are checked and loaded one floor up (exercises/mine.py).
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any, Callable

import numpy as np

from . import reference

# exercise name -> the kernel names its function takes over
PLUGS: dict[str, tuple[str, ...]] = {
    "softmax": ("softmax",),
    "layer_norm_backward": ("layer_norm_backward",),
    "causal_attention": ("attention_forward", "multi_head_attention_forward"),
    "kv_cache_step": ("attention_forward",),
    "cross_entropy_grad": ("cross_entropy", "cross_entropy_backward"),
    "adam_step": ("adam_update", "adamw_update"),
    "matmul_loops": ("matmul_naive",),
    "mlp_block": ("mlp_forward",),
    "top_p_filter": ("top_p_filter",),
}

_functions: dict[str, Callable] = {}  # exercise name -> the learner's function
_calls: dict[str, int] = {}  # exercise name -> how many calls it has had


def _learner(name: str) -> Callable:
    _calls[name] = _calls.get(name, 0) + 1
    return _functions[name]


def calls() -> dict[str, int]:
    """How often each learner function was called since use(): {exercise name: calls}."""
    return dict(_calls)


def active() -> list[str]:
    """The exercise names whose learner functions are in use, in PLUGS order."""
    return [name for name in PLUGS if name in _functions]


# --- the adapters: the kernel's signature outside, the exercise's inside ------------------------


def _softmax(base: ModuleType) -> Callable:
    def softmax(x):
        return np.asarray(_learner("softmax")(np.array(x, np.float64)), dtype=x.dtype)

    return softmax


def _layer_norm_backward(base: ModuleType) -> Callable:
    def layer_norm_backward(x, weight, mean, rstd, dy):
        x64 = np.array(x, np.float64)
        var = ((x64 - x64.mean(axis=1, keepdims=True)) ** 2).mean(axis=1)
        # the exercise takes eps, the kernel rstd = 1 / sqrt(var + eps): eps from the two
        eps = float(np.mean(1.0 / np.asarray(rstd, np.float64) ** 2 - var)) if len(var) else 1e-5
        w = np.ones(x.shape[1]) if weight is None else np.array(weight, np.float64)
        dx, dw, db = _learner("layer_norm_backward")(x64, w, np.array(dy, np.float64), eps)
        dtype = x.dtype
        dw = None if weight is None else np.asarray(dw, dtype)
        return np.asarray(dx, dtype), dw, np.asarray(db, dtype)

    return layer_norm_backward


def _is_default_scale(scale: float, D: int) -> bool:
    return D > 0 and math.isclose(scale, 1.0 / math.sqrt(D), rel_tol=1e-6)


def _attention_forward(base: ModuleType) -> Callable:
    def attention_forward(q, k, v, causal, scale, causal_offset=0):
        N, T, D = q.shape
        S = k.shape[1]
        whole = causal and causal_offset == 0 and T == S
        # generation: T new queries after S - T cached keys (one new token needs no mask)
        cached = S > T and ((causal and causal_offset == S - T) or (not causal and T == 1))
        use_whole = whole and "causal_attention" in _functions
        use_cache = cached and "kv_cache_step" in _functions
        if not (use_whole or use_cache) or not _is_default_scale(scale, D) or N * T == 0:
            return base.attention_forward(q, k, v, causal, scale, causal_offset)
        q64, k64, v64 = (np.array(a, np.float64) for a in (q, k, v))
        if use_whole:
            fn = _learner("causal_attention")
            out = np.stack([np.asarray(fn(q64[n], k64[n], v64[n]), np.float64) for n in range(N)])
        else:  # the cache holds the first S - T keys and values; the step appends the rest
            cache = {"k": k64[:, None, : S - T], "v": v64[:, None, : S - T]}
            new = (a[:, None] for a in (q64, k64[:, S - T :], v64[:, S - T :]))
            out = np.asarray(_learner("kv_cache_step")(cache, *new), np.float64)[:, 0]
        # the backward needs the log-sum-exp of the scores: the library's own
        _, lse = reference.attention_forward(q, k, v, causal, scale, causal_offset)
        return out.astype(q.dtype), lse

    return attention_forward


def _multi_head_attention_forward(base: ModuleType) -> Callable:
    def multi_head_attention_forward(qkv, n_head, causal, scale):
        B, T, C3 = qkv.shape
        if not causal or not _is_default_scale(scale, C3 // 3 // n_head):
            return base.multi_head_attention_forward(qkv, n_head, causal, scale)
        q, k, v = (reference._heads(x, n_head) for x in np.split(qkv, 3, axis=2))
        out, lse = _attention_forward(base)(q, k, v, True, scale)  # (B*H, T, D)
        return reference._merge_heads(out, B, n_head), lse

    return multi_head_attention_forward


class _LearnerCrossEntropy:
    """What cross_entropy saves for its backward when the learner's function computed it."""

    def __init__(self, dlogits: np.ndarray) -> None:
        self.dlogits = dlogits  # (N, C): d(mean loss)/d logits, ignored rows 0


def _cross_entropy(base: ModuleType) -> Callable:
    def cross_entropy(logits, targets, ignore_index=-100):
        targets = np.asarray(targets)
        counted = np.nonzero(targets != ignore_index)[0]
        if logits.ndim != 2 or counted.size == 0:
            return base.cross_entropy(logits, targets, ignore_index)
        rows = np.array(logits[counted], np.float64)
        loss, d = _learner("cross_entropy_grad")(rows, targets[counted].astype(np.int64))
        dlogits = np.zeros(logits.shape, logits.dtype)
        dlogits[counted] = np.asarray(d, np.float64)
        return float(loss), _LearnerCrossEntropy(dlogits)

    return cross_entropy


def _cross_entropy_backward(base: ModuleType) -> Callable:
    def cross_entropy_backward(saved, grad_loss):
        if isinstance(saved, _LearnerCrossEntropy):
            return saved.dlogits * saved.dlogits.dtype.type(grad_loss)
        return base.cross_entropy_backward(saved, grad_loss)

    return cross_entropy_backward


def _adam(decoupled_always: bool) -> Callable:
    def make(base: ModuleType) -> Callable:
        def adam_update(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled=False):
            decoupled = decoupled or decoupled_always
            g = np.array(g, np.float64)
            if weight_decay != 0 and not decoupled:
                g = g + weight_decay * p  # Adam's L2 decay: part of the gradient
            if weight_decay != 0 and decoupled:
                p *= 1 - lr * weight_decay  # AdamW: the weight itself shrinks
            new = _learner("adam_step")(
                np.array(p, np.float64), g, np.array(m, np.float64), np.array(v, np.float64),
                lr, beta1, beta2, eps, step,
            )  # fmt: skip
            for target, value in zip((p, m, v), new):
                target[...] = np.asarray(value, np.float64)  # in place, as the kernel does

        return adam_update

    return make


def _matmul_naive(base: ModuleType) -> Callable:
    def matmul_naive(a, b):
        arrays = isinstance(a, np.ndarray) or isinstance(b, np.ndarray)
        result = _learner("matmul_loops")(
            a.tolist() if isinstance(a, np.ndarray) else a,
            b.tolist() if isinstance(b, np.ndarray) else b,
        )
        return np.array(result, dtype=np.result_type(a, b)) if arrays else result

    return matmul_naive


def _mlp_forward(base: ModuleType) -> Callable:
    def mlp_forward(x, w_fc, b_fc, w_proj, b_proj, residual=None, approximate="none"):
        if approximate != "none" or x.shape[0] == 0:  # the exercise's GELU is the exact one
            return base.mlp_forward(x, w_fc, b_fc, w_proj, b_proj, residual, approximate)
        # the backward needs c_fc's output h and g = gelu(h): the library's own
        h, g = base.linear_gelu(x, w_fc, b_fc, approximate)
        b_fc = np.zeros(w_fc.shape[0]) if b_fc is None else b_fc  # no bias: a bias of 0
        b_proj = np.zeros(w_proj.shape[0]) if b_proj is None else b_proj
        args = (np.array(a, np.float64) for a in (x[None], w_fc, b_fc, w_proj, b_proj))
        y = np.asarray(_learner("mlp_block")(*args), np.float64)[0]  # x as (B=1, T=N, C)
        if residual is not None:
            y = y + residual
        return h, g, y.astype(x.dtype)

    return mlp_forward


def _top_p_filter(base: ModuleType) -> Callable:
    def top_p_filter(probs, top_p):
        got = _learner("top_p_filter")(np.array(probs, np.float64), float(top_p))
        return np.asarray(got, dtype=probs.dtype)

    return top_p_filter


ADAPTERS: dict[str, Callable[[ModuleType], Callable]] = {
    "softmax": _softmax,
    "layer_norm_backward": _layer_norm_backward,
    "attention_forward": _attention_forward,
    "multi_head_attention_forward": _multi_head_attention_forward,
    "cross_entropy": _cross_entropy,
    "cross_entropy_backward": _cross_entropy_backward,
    "adam_update": _adam(False),
    "adamw_update": _adam(True),
    "matmul_naive": _matmul_naive,
    "mlp_forward": _mlp_forward,
    "top_p_filter": _top_p_filter,
}


class Overlay(ModuleType):
    """The backend with some kernels taken over by the learner's functions."""

    def __init__(self, base: ModuleType, kernels: dict[str, Callable]) -> None:
        super().__init__(f"{base.__name__}+mine")
        self.base = base
        self.__dict__.update(kernels)

    def __getattr__(self, name: str) -> Any:  # only for names the overlay does not hold
        return getattr(self.base, name)


def use(functions: dict[str, Callable]) -> list[str]:
    """Put the learner's functions (exercise name -> function) in front of the backend;
    use({}) removes them. Returns the exercise names now in use. A name that is not in
    PLUGS is a ValueError naming the ones that are."""
    from .. import kernels

    unknown = sorted(set(functions) - set(PLUGS))
    if unknown:
        raise ValueError(
            f"no kernel takes the exercise(s) {', '.join(unknown)}; these do: {', '.join(PLUGS)}"
        )
    for name, fn in functions.items():
        if not callable(fn):
            raise TypeError(f"the learner's {name} must be a function, got {fn!r}")
    base = getattr(kernels.ops, "base", kernels.ops)
    _functions.clear()
    _functions.update(functions)
    _calls.clear()
    taken = {k for name in functions for k in PLUGS[name]}
    kernels.ops = Overlay(base, {k: ADAPTERS[k](base) for k in taken}) if taken else base
    return active()
