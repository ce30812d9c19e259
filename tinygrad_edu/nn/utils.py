"""Helpers for the training loop: gradient clipping.

A single unlucky batch can produce a huge gradient (a cliff in the cost surface),
and one huge step can throw the weights far from where learning was going. Clipping
scales ALL gradients down together when their combined length exceeds `max_norm`:
the direction of steepest descent is kept, only the step is shortened.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from .. import kernels
from ..tensor import Tensor


def _grads(parameters: Iterable[Tensor] | Tensor) -> list[np.ndarray]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad.data for p in parameters if p.grad is not None]


def clip_grad_norm_(
    parameters: Iterable[Tensor] | Tensor,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    """Scale the gradients in place so that their total norm is at most max_norm.

    total = || (||g_1||, ||g_2||, ...) ||  (the norm of all gradients as one long vector)
    every g is multiplied by min(1, max_norm / (total + 1e-6)), as in PyTorch.
    Returns the total norm BEFORE clipping, as a float (worth logging: a spike means
    trouble).
    """
    grads = _grads(parameters)
    if not grads:
        return 0.0
    norm_type = float(norm_type)
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    elif norm_type == 2.0:
        # The one training uses every step: sqrt of the sum of all squares. All the
        # gradients' sums of squares come from one call that runs on every core
        # (kernels.ops.sum_squares; a call per gradient would leave a core idle).
        total = math.sqrt(float(np.sum(kernels.ops.sum_squares(grads))))
    else:
        # each gradient's norm, then the norm of those norms
        norms = [float(np.linalg.norm(g.ravel().astype(np.float64), ord=norm_type)) for g in grads]
        total = float(np.linalg.norm(np.asarray(norms, dtype=np.float64), ord=norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"the total norm of the gradients is {total}: clip_grad_norm_ cannot scale "
            "non-finite gradients (pass error_if_nonfinite=False to scale anyway)"
        )
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        kernels.ops.scale_(grads, coef)  # g *= coef for each, in place, in g's own dtype
    return total


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)
