"""Element-wise operations: the output has the (broadcast) shape of the inputs.

The chain rule for an element-wise op y = f(a) is local: dCost/da = dCost/dy * f'(a),
element by element. Binary ops broadcast like NumPy (a bias (C,) added to (N, C)):
that is an Expand before the op, so backward ends with Expand's backward, `sum_to`,
which sums each input's gradient back to its own shape.
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from ..autograd import Context, Function
from .movement import sum_to

_KERNEL_DTYPES = (np.float32, np.float64)  # what the compiled kernels take


class Add(Function):
    # y = a + b;  dy/da = 1, dy/db = 1
    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ctx.shapes = (a.shape, b.shape)
        if a.shape == b.shape and a.dtype == b.dtype and a.dtype in _KERNEL_DTYPES:
            return kernels.ops.add(a, b)  # the residual stream's x + f(x), on both cores
        return a + b  # broadcasting, mixed dtypes, float16: NumPy's rules

    @staticmethod
    def backward(ctx: Context, g: np.ndarray):
        shape_a, shape_b = ctx.shapes
        return sum_to(g, shape_a), sum_to(g, shape_b)


class Sub(Function):
    # y = a - b;  dy/da = 1, dy/db = -1
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (a.shape, b.shape)
        return a - b

    @staticmethod
    def backward(ctx, g):
        shape_a, shape_b = ctx.shapes
        return sum_to(g, shape_a), (sum_to(-g, shape_b) if ctx.needs_input_grad[1] else None)


class Mul(Function):
    # y = a * b;  dy/da = b, dy/db = a
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        da = sum_to(g * b, a.shape) if ctx.needs_input_grad[0] else None
        db = sum_to(g * a, b.shape) if ctx.needs_input_grad[1] else None
        return da, db


class Div(Function):
    # y = a / b;  dy/da = 1/b, dy/db = -a/b^2
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        da = sum_to(g / b, a.shape) if ctx.needs_input_grad[0] else None
        db = sum_to(-g * a / (b * b), b.shape) if ctx.needs_input_grad[1] else None
        return da, db


class Pow(Function):
    # y = a ** p (p a number);  dy/da = p * a^(p-1)
    @staticmethod
    def forward(ctx, a, *, exponent: float):
        ctx.save_for_backward(a)
        return a**exponent

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        p = ctx.options["exponent"]
        return (g * (p * a ** (p - 1)),)


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return (-g,)


class Exp(Function):
    # y = e^a;  dy/da = e^a = y  (save the output, not the input)
    @staticmethod
    def forward(ctx, a):
        y = np.exp(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return (g * y,)


class Log(Function):
    # y = ln a;  dy/da = 1/a
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf as in torch
            return np.log(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        return (g / a,)


class Sqrt(Function):
    # y = sqrt(a);  dy/da = 1 / (2 sqrt(a)) = 1 / (2y)
    @staticmethod
    def forward(ctx, a):
        y = np.sqrt(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return (g / (2 * y),)


class ReLU(Function):
    # y = max(a, 0);  dy/da = 1 where a > 0, else 0 (the modern activation, lecture 1)
    @staticmethod
    def forward(ctx, a):
        y = np.maximum(a, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return (g * (y > 0),)


class Sigmoid(Function):
    # y = 1 / (1 + e^-a);  dy/da = y (1 - y)  (the older activation, lecture 1)
    @staticmethod
    def forward(ctx, a):
        # Stable for large |a|: never exponentiate a large positive number.
        e = np.exp(-np.abs(a))
        y = np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return (g * y * (1 - y),)


class Tanh(Function):
    # y = tanh(a);  dy/da = 1 - y^2
    @staticmethod
    def forward(ctx, a):
        y = np.tanh(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return (g * (1 - y * y),)


class GELU(Function):
    # y = x * Phi(x), Phi the standard normal CDF (or its tanh approximation):
    # a smooth ReLU, used in GPT's MLP block (lecture 8). Kernel: kernels.ops.gelu.
    @staticmethod
    def forward(ctx, x, *, approximate: str = "none"):
        ctx.save_for_backward(x)
        return kernels.ops.gelu(x, approximate)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return (kernels.ops.gelu_backward(x, g, ctx.options["approximate"]),)


class Maximum(Function):
    # y = max(a, b) element-wise; the gradient goes to the larger (half each on ties)
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        share_a = (a > b) + 0.5 * (a == b)
        return sum_to(g * share_a, a.shape), sum_to(g * (1 - share_a), b.shape)


class Where(Function):
    # y = a where cond else b (cond is not differentiable: it is an option)
    @staticmethod
    def forward(ctx, a, b, *, cond: np.ndarray):
        ctx.shapes = (a.shape, b.shape)
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        cond = ctx.options["cond"]
        shape_a, shape_b = ctx.shapes
        zero = np.zeros((), dtype=g.dtype)
        return sum_to(np.where(cond, g, zero), shape_a), sum_to(np.where(cond, zero, g), shape_b)


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        return (g * np.sign(a),)


class Clamp(Function):
    # y = min(max(a, lo), hi); the gradient passes only where a was inside [lo, hi]
    @staticmethod
    def forward(ctx, a, *, lo=None, hi=None):
        ctx.save_for_backward(a)
        return np.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        lo, hi = ctx.options["lo"], ctx.options["hi"]
        inside = np.ones(a.shape, dtype=bool)
        if lo is not None:
            inside &= a >= lo
        if hi is not None:
            inside &= a <= hi
        return (sum_to(g * inside, a.shape),)  # lo, hi may be arrays that broadcast a


class Cast(Function):
    # y = a in another float dtype; dy/da = 1, and the gradient goes back in a's dtype
    @staticmethod
    def forward(ctx, a, *, dtype):
        ctx.save_for_backward(a.dtype)  # the dtype, not the array
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        (in_dtype,) = ctx.saved
        return (g.astype(in_dtype, copy=False),)
