"""Where the weights start: initialisation (lecture 2: every descent starts somewhere).

Gradient descent walks downhill from wherever the weights begin, and different starts
land in different valleys. If every weight started equal, every neuron of a layer
would compute the same thing and receive the same gradient: they would stay equal
forever. So weights start random, and the scale matters: too large and sigmoids
saturate (their gradient vanishes), too small and signals fade layer by layer.

The rule of thumb behind all of these: keep the variance of each layer's output
about the same as its input's. A neuron sums `fan_in` inputs, so each weight gets a
spread proportional to 1/sqrt(fan_in).

Each function fills a Tensor in place and returns it (PyTorch's `init.*_` names).
The numbers come from `tinygrad_edu.rng.generator()`: `tg.manual_seed(n)` repeats them.
"""

from __future__ import annotations

import math

import numpy as np

from .. import rng
from ..tensor import Tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor by which an activation shrinks the spread of its input (PyTorch's values)."""
    if nonlinearity in ("linear", "identity", "sigmoid", "conv1d", "conv2d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)  # ReLU zeroes half its inputs: half the variance
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(f"unknown nonlinearity {nonlinearity!r}")


def _fans(t: Tensor) -> tuple[int, int]:
    """fan_in, fan_out of a weight: a Linear weight (out, in) has fan_in = in."""
    if t.ndim < 2:
        raise ValueError(f"fan in/out need a weight with at least 2 dimensions, got {t.shape}")
    receptive = int(np.prod(t.shape[2:])) if t.ndim > 2 else 1
    return t.shape[1] * receptive, t.shape[0] * receptive


def _fill(t: Tensor, values: np.ndarray) -> Tensor:
    t.data[...] = values  # cast to the tensor's dtype, in place
    return t


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with samples from U(a, b)."""
    return _fill(t, rng.generator().uniform(a, b, t.shape))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with samples from N(mean, std^2)."""
    return _fill(t, rng.generator().normal(mean, std, t.shape))


def constant_(t: Tensor, value: float) -> Tensor:
    t.data[...] = value
    return t


def zeros_(t: Tensor) -> Tensor:
    return constant_(t, 0.0)


def ones_(t: Tensor) -> Tensor:
    return constant_(t, 1.0)


def kaiming_uniform_(
    t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """He et al. (2015): U(-bound, bound) with bound = gain * sqrt(3 / fan).

    (A uniform distribution on [-b, b] has variance b^2 / 3, so this has variance
    gain^2 / fan.) nn.Linear uses a = sqrt(5), which makes bound = 1 / sqrt(fan_in).
    """
    fan_in, fan_out = _fans(t)
    fan = fan_in if mode == "fan_in" else fan_out
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan) if fan else 0.0
    return uniform_(t, -bound, bound)


def kaiming_normal_(
    t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    fan_in, fan_out = _fans(t)
    fan = fan_in if mode == "fan_in" else fan_out
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan) if fan else 0.0
    return normal_(t, 0.0, std)


def xavier_uniform_(t: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot & Bengio (2010): variance 2 / (fan_in + fan_out), for tanh/sigmoid nets."""
    fan_in, fan_out = _fans(t)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound)


def xavier_normal_(t: Tensor, gain: float = 1.0) -> Tensor:
    fan_in, fan_out = _fans(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))
