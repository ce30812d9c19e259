"""Tensor: an n-dimensional array that remembers how it was computed.

This is scalar.py's `Value` for whole arrays. The numbers live in a NumPy array
(`.data`); every operation is a Function (tinygrad_edu/ops/) whose backward is
written beside its forward; `backward()` (autograd.py) applies the chain rule
from the cost back to every weight.

Rules, as in PyTorch so that what you learn here carries over:
  * Python floats and lists of floats become float32; an ndarray keeps its dtype
    (float64 stays float64, integers stay integers) and is used without a copy.
  * Binary operators broadcast like NumPy; an input that was broadcast gets its
    gradient summed back to its own shape.
  * Only floating-point tensors can require gradients. Leaves (tensors you made)
    accumulate into `.grad`; call zero_grad between steps.
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import Any, Iterable, Sequence

import numpy as np

from . import autograd, rng
from .ops import elementwise, matmul, movement, nn_ops, reduce

DEFAULT_FLOAT = np.dtype(np.float32)
MaxResult = namedtuple("MaxResult", ["values", "indices"])


def _as_dtype(dtype: Any) -> np.dtype | None:
    if dtype is None:
        return None
    try:
        return np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"not a dtype: {dtype!r}") from exc


def _to_array(data: Any, dtype: np.dtype | None) -> np.ndarray:
    """Turn what the user gave into an ndarray, with PyTorch's dtype rules."""
    if isinstance(data, np.ndarray):
        arr = data
    elif isinstance(data, np.generic):
        arr = np.asarray(data)
    else:
        try:
            arr = np.asarray(data)
        except (ValueError, TypeError) as exc:  # ragged nested lists, odd objects
            raise TypeError(f"cannot make a Tensor from {type(data).__name__}: {exc}") from exc
        if arr.dtype == np.float64:  # Python floats -> float32, the deep-learning default
            arr = arr.astype(DEFAULT_FLOAT)
    if arr.dtype.kind not in "fiub":
        raise TypeError(
            f"Tensor data must be numbers or booleans, got {arr.dtype} from {type(data).__name__}"
        )
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr


def _axes(dim: Any, ndim: int) -> tuple[int, ...] | None:
    """dim (int, tuple, list or None) -> a tuple of non-negative axes, or None for 'all'."""
    if dim is None:
        return None
    if type(dim) is int and -ndim <= dim < ndim:  # the everyday case, without the loop
        return (dim % ndim,)
    try:
        dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    except TypeError:  # a float, say: not a dimension, and not a list of them
        raise TypeError(f"dimensions must be ints, got {dim!r}") from None
    out = []
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
            raise TypeError(f"dimensions must be ints, got {d!r}")
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"dimension {d} out of range for a {ndim}-D tensor")
        out.append(int(d) % max(ndim, 1))
    return tuple(out)


def _sizes(sizes: tuple) -> tuple[int, ...]:
    """Accept f(2, 3) and f((2, 3)) as PyTorch does."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"sizes must be non-negative ints, got {sizes}")
    return tuple(int(s) for s in sizes)


class Tensor:
    __slots__ = ("data", "_requires_grad", "grad", "_node", "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        self.data: np.ndarray = _to_array(data, _as_dtype(dtype))
        self.grad: Tensor | None = None
        self._node: tuple | None = None  # (Function, Context, inputs) that made this tensor
        self._retains_grad = False
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _wrap(cls, data: np.ndarray, requires_grad: bool = False) -> Tensor:
        """Fast path for ops: data is already a valid ndarray. Always a plain Tensor
        (an op on a Parameter gives a Tensor, as in PyTorch)."""
        t = Tensor.__new__(Tensor)
        t.data = data if isinstance(data, np.ndarray) else np.asarray(data)
        t.grad = None
        t._node = None
        t._retains_grad = False
        t._requires_grad = requires_grad
        return t

    # --- what it is -----------------------------------------------------------------

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients, not {self.data.dtype}"
            )
        self._requires_grad = bool(value)

    def requires_grad_(self, value: bool = True) -> Tensor:
        self.requires_grad = value
        return self

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    def size(self, dim: int | None = None):
        """The shape (as in PyTorch), or its length along `dim`."""
        return self.shape if dim is None else self.shape[_axes(dim, self.ndim)[0]]

    def numel(self) -> int:
        return int(self.data.size)

    def dim(self) -> int:
        return self.ndim

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise ValueError(
                f"item() needs a tensor with one element, this one has shape {self.shape}"
            )
        return self.data.item()

    def numpy(self) -> np.ndarray:
        return self.data

    def tolist(self) -> Any:
        return self.data.tolist()

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", prefix="Tensor(")
        extra = f", dtype={self.dtype}" if self.dtype != DEFAULT_FLOAT else ""
        if self._node is not None:
            extra += f", grad_fn={self._node[0].__name__}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor with shape {self.shape} is ambiguous")
        return bool(self.data.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    __hash__ = object.__hash__  # tensors are identities (== is element-wise)

    # --- autograd ---------------------------------------------------------------------

    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Compute d(self)/d(leaf) for every leaf that requires grad, into leaf.grad.

        `self` is usually the scalar cost; for a non-scalar tensor pass `grad`
        (dCost/dself, same shape), as in PyTorch.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad (no graph to walk)"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a grad needs a scalar (one-element) tensor, got shape {self.shape}"
                )
            g = np.ones(self.shape, dtype=self.dtype)
        else:
            g = _to_array(grad.data if isinstance(grad, Tensor) else grad, self.dtype)
            if g.shape != self.shape:
                raise ValueError(f"grad has shape {g.shape}, but the tensor has shape {self.shape}")
        autograd.backward(self, g, retain_graph=retain_graph)

    def retain_grad(self) -> Tensor:
        """Keep .grad on this intermediate tensor too (leaves always keep it)."""
        self._retains_grad = True
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def detach(self) -> Tensor:
        """The same numbers, cut from the graph: no gradient flows through the result."""
        return Tensor._wrap(self.data)

    # --- arithmetic (broadcasting) ---------------------------------------------------------

    def _other(self, x: Any) -> Tensor:
        if isinstance(x, Tensor):
            return x
        if (
            isinstance(x, (int, float, np.number))
            and not isinstance(x, bool)
            and self.dtype.kind == "f"
        ):
            return Tensor._wrap(np.asarray(x, dtype=self.dtype))  # a scalar keeps our dtype
        return Tensor(x)

    def __add__(self, x):
        return elementwise.Add.apply(self, self._other(x))

    def __radd__(self, x):
        return elementwise.Add.apply(self._other(x), self)

    def __sub__(self, x):
        return elementwise.Sub.apply(self, self._other(x))

    def __rsub__(self, x):
        return elementwise.Sub.apply(self._other(x), self)

    def __mul__(self, x):
        return elementwise.Mul.apply(self, self._other(x))

    def __rmul__(self, x):
        return elementwise.Mul.apply(self._other(x), self)

    def __truediv__(self, x):
        return elementwise.Div.apply(self, self._other(x))

    def __rtruediv__(self, x):
        return elementwise.Div.apply(self._other(x), self)

    def __neg__(self):
        return elementwise.Neg.apply(self)

    def __pow__(self, p):
        if isinstance(p, Tensor):  # a^b = e^(b ln a)
            return (p * self.log()).exp()
        if isinstance(p, bool) or not isinstance(p, (int, float, np.number)):
            raise TypeError(f"exponent must be a number or a Tensor, got {type(p).__name__}")
        return elementwise.Pow.apply(self, exponent=p)

    def __rpow__(self, base):
        if not isinstance(base, (int, float)) or base <= 0:
            raise ValueError(f"number ** Tensor needs a positive base, got {base!r}")
        return (self * math.log(base)).exp()

    def __matmul__(self, x):
        x = self._other(x)
        _check_matmul(self.shape, x.shape)
        return matmul.MatMul.apply(self, x)

    def __rmatmul__(self, x):
        x = self._other(x)
        _check_matmul(x.shape, self.shape)
        return matmul.MatMul.apply(x, self)

    # comparisons give boolean tensors and no gradient
    def _compare(self, x, op) -> Tensor:
        other = x.data if isinstance(x, Tensor) else x
        return Tensor._wrap(np.asarray(op(self.data, other)))

    def __lt__(self, x):
        return self._compare(x, np.less)

    def __le__(self, x):
        return self._compare(x, np.less_equal)

    def __gt__(self, x):
        return self._compare(x, np.greater)

    def __ge__(self, x):
        return self._compare(x, np.greater_equal)

    def __eq__(self, x):  # type: ignore[override]
        return self._compare(x, np.equal)

    def __ne__(self, x):  # type: ignore[override]
        return self._compare(x, np.not_equal)

    # --- element-wise functions --------------------------------------------------------------

    def exp(self) -> Tensor:
        return elementwise.Exp.apply(self)

    def log(self) -> Tensor:
        return elementwise.Log.apply(self)

    def sqrt(self) -> Tensor:
        return elementwise.Sqrt.apply(self)

    def relu(self) -> Tensor:
        return elementwise.ReLU.apply(self)

    def sigmoid(self) -> Tensor:
        return elementwise.Sigmoid.apply(self)

    def tanh(self) -> Tensor:
        return elementwise.Tanh.apply(self)

    def gelu(self, approximate: str = "none") -> Tensor:
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        return elementwise.GELU.apply(self, approximate=approximate)

    def abs(self) -> Tensor:
        return elementwise.Abs.apply(self)

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        return elementwise.Clamp.apply(self, lo=min, hi=max)

    def maximum(self, x) -> Tensor:
        return elementwise.Maximum.apply(self, self._other(x))

    def float(self) -> Tensor:
        return self.to(np.float32)

    def double(self) -> Tensor:
        return self.to(np.float64)

    def long(self) -> Tensor:
        return Tensor._wrap(self.data.astype(np.int64))

    def to(self, dtype: Any) -> Tensor:
        """A copy in another dtype (gradients flow between float dtypes)."""
        dtype = _as_dtype(dtype)
        if dtype == self.dtype:
            return self
        if dtype.kind != "f":
            return Tensor._wrap(self.data.astype(dtype))
        return elementwise.Cast.apply(self, dtype=dtype)

    # --- reductions ----------------------------------------------------------------------------

    def sum(self, dim=None, keepdim: bool = False, *, axis=None) -> Tensor:
        return reduce.Sum.apply(
            self, axis=_axes(axis if dim is None else dim, self.ndim), keepdims=keepdim
        )

    def mean(self, dim=None, keepdim: bool = False, *, axis=None) -> Tensor:
        return reduce.Mean.apply(
            self, axis=_axes(axis if dim is None else dim, self.ndim), keepdims=keepdim
        )

    def var(self, dim=None, keepdim: bool = False, *, correction: int = 1, axis=None) -> Tensor:
        """Variance with Bessel's correction by default (PyTorch's `unbiased=True`)."""
        axes = _axes(axis if dim is None else dim, self.ndim)
        n = self.numel() if axes is None else math.prod(self.shape[a] for a in axes)
        centred = self - self.mean(axes, keepdim=True)
        return (centred * centred).sum(axes, keepdim=keepdim) / max(n - correction, 0)

    def max(self, dim=None, keepdim: bool = False, *, axis=None):
        """max() -> the largest element; max(dim) -> (values, indices) as in PyTorch."""
        dim = axis if dim is None else dim
        if dim is None:
            if self.numel() == 0:
                raise ValueError("max() of an empty tensor")
            return reduce.Max.apply(self, axis=None, keepdims=False)
        (d,) = _axes(dim, self.ndim)
        if self.shape and self.shape[d] == 0:
            raise ValueError(f"max over dimension {d} of size 0")
        values = reduce.Max.apply(self, axis=(d,), keepdims=keepdim)
        indices = np.argmax(self.data, axis=d)
        if keepdim:
            indices = np.expand_dims(indices, d)
        return MaxResult(values, Tensor._wrap(indices.astype(np.int64)))

    def argmax(self, dim=None, keepdim: bool = False) -> Tensor:
        if dim is None:
            return Tensor._wrap(np.asarray(np.argmax(self.data), dtype=np.int64))
        (d,) = _axes(dim, self.ndim)
        idx = np.argmax(self.data, axis=d)
        return Tensor._wrap((np.expand_dims(idx, d) if keepdim else idx).astype(np.int64))

    # --- shape -----------------------------------------------------------------------------------

    def reshape(self, *shape) -> Tensor:
        shape = (
            tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        )
        try:
            np.empty(self.shape, dtype=np.bool_).reshape(shape)  # validate before recording the op
        except (ValueError, TypeError) as exc:
            raise ValueError(f"cannot reshape a tensor of shape {self.shape} into {shape}") from exc
        return movement.Reshape.apply(self, shape=shape)

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        if self.ndim == 0:
            return self.reshape(1)
        s, e = _axes((start_dim, end_dim), self.ndim)
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1 :])

    def unsqueeze(self, dim: int) -> Tensor:
        (d,) = _axes(dim, self.ndim + 1)
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim: int | None = None) -> Tensor:
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        (d,) = _axes(dim, self.ndim)
        return self if self.shape[d] != 1 else self.reshape(self.shape[:d] + self.shape[d + 1 :])

    def permute(self, *dims) -> Tensor:
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        axes = _axes(dims, self.ndim)
        if sorted(axes) != list(range(self.ndim)):
            raise ValueError(f"permute needs each of the {self.ndim} dimensions once, got {dims}")
        return movement.Permute.apply(self, dims=axes)

    def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
        if self.ndim < 2:
            return self
        d0, d1 = _axes((dim0, dim1), self.ndim)
        order = list(range(self.ndim))
        order[d0], order[d1] = order[d1], order[d0]
        return movement.Permute.apply(self, dims=tuple(order))

    @property
    def T(self) -> Tensor:
        """All dimensions reversed (for a matrix: the transpose)."""
        return movement.Permute.apply(self, dims=tuple(reversed(range(self.ndim))))

    def expand(self, *sizes) -> Tensor:
        """A broadcast view to a larger shape; -1 keeps a dimension's size."""
        sizes = (
            tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        )
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ValueError(f"cannot expand shape {self.shape} to fewer dimensions {sizes}")
        shape = tuple(
            self.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes)
        )
        try:
            if np.broadcast_shapes(self.shape, shape) != shape:
                raise ValueError
        except ValueError as exc:
            raise ValueError(f"cannot expand shape {self.shape} to {sizes}") from exc
        return movement.Expand.apply(self, shape=shape)

    def contiguous(self) -> Tensor:
        """Storage is NumPy; kernels make their own contiguous copies when they need them."""
        return self

    def split(self, split_size: int | Sequence[int], dim: int = 0) -> list[Tensor]:
        (d,) = _axes(dim, self.ndim)
        n = self.shape[d]
        if isinstance(split_size, int):  # equal pieces of split_size, the last one shorter
            if split_size <= 0:
                raise ValueError(f"split_size must be positive, got {split_size}")
            sizes = [split_size] * (n // split_size) + ([n % split_size] if n % split_size else [])
        else:
            sizes = list(split_size)
        if sum(sizes) != n:
            raise ValueError(f"split sizes {sizes} do not add up to {n} along dimension {d}")
        out, start = [], 0
        for s in sizes:
            index = (slice(None),) * d + (slice(start, start + s),)
            out.append(self[index])
            start += s
        return out

    def chunk(self, chunks: int, dim: int = 0) -> list[Tensor]:
        (d,) = _axes(dim, self.ndim)
        return self.split(-(-self.shape[d] // chunks), d)

    # --- indexing ----------------------------------------------------------------------------------

    def __getitem__(self, index: Any) -> Tensor:
        index = _convert_index(index)
        try:
            self.data[index]  # validate (IndexError names the bad index) before recording
        except IndexError:
            raise
        except (TypeError, ValueError) as exc:
            raise IndexError(f"invalid index {index!r} for shape {self.shape}: {exc}") from exc
        return movement.GetItem.apply(self, index=index)

    def masked_fill(self, mask: Any, value: float) -> Tensor:
        """`value` where mask is True; mask a boolean Tensor broadcastable to self."""
        m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
        if m.dtype != np.bool_:
            raise TypeError(f"masked_fill needs a boolean mask, got {m.dtype}")
        try:
            np.broadcast_shapes(m.shape, self.shape)
        except ValueError as exc:
            raise ValueError(f"mask of shape {m.shape} does not broadcast to {self.shape}") from exc
        return nn_ops.MaskedFill.apply(self, mask=m, value=value)

    # --- neural-network functions -----------------------------------------------------------------

    def softmax(self, dim: int = -1) -> Tensor:
        return _along_last(self, dim, nn_ops.Softmax.apply)

    def log_softmax(self, dim: int = -1) -> Tensor:
        return _along_last(self, dim, nn_ops.LogSoftmax.apply)

    # --- constructors --------------------------------------------------------------------------------

    @staticmethod
    def zeros(*size, dtype=None, requires_grad: bool = False) -> Tensor:
        return Tensor(
            np.zeros(_sizes(size), dtype=_as_dtype(dtype) or DEFAULT_FLOAT), requires_grad
        )

    @staticmethod
    def ones(*size, dtype=None, requires_grad: bool = False) -> Tensor:
        return Tensor(np.ones(_sizes(size), dtype=_as_dtype(dtype) or DEFAULT_FLOAT), requires_grad)

    @staticmethod
    def full(size, fill_value: float, dtype=None, requires_grad: bool = False) -> Tensor:
        size = _sizes((size,) if isinstance(size, (tuple, list)) else (size,))
        return Tensor(
            np.full(size, fill_value, dtype=_as_dtype(dtype) or DEFAULT_FLOAT), requires_grad
        )

    @staticmethod
    def randn(*size, dtype=None, requires_grad: bool = False) -> Tensor:
        """Samples of the standard normal distribution (mean 0, variance 1)."""
        dt = _as_dtype(dtype) or DEFAULT_FLOAT
        return Tensor(rng.generator().standard_normal(_sizes(size), dtype=dt), requires_grad)

    @staticmethod
    def rand(*size, dtype=None, requires_grad: bool = False) -> Tensor:
        """Uniform samples in [0, 1)."""
        dt = _as_dtype(dtype) or DEFAULT_FLOAT
        return Tensor(rng.generator().random(_sizes(size), dtype=dt), requires_grad)

    @staticmethod
    def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
        if end is None:
            start, end = 0, start
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dt = _as_dtype(dtype) or (np.dtype(np.int64) if ints else DEFAULT_FLOAT)
        return Tensor(np.arange(start, end, step).astype(dt), requires_grad)

    @staticmethod
    def eye(n: int, m: int | None = None, dtype=None, requires_grad: bool = False) -> Tensor:
        return Tensor(np.eye(n, m, dtype=_as_dtype(dtype) or DEFAULT_FLOAT), requires_grad)


def _check_matmul(a: tuple, b: tuple) -> None:
    """ValueError naming both shapes unless a @ b is defined (NumPy's rules)."""
    if not a or not b:
        raise ValueError(f"matmul needs at least 1-D operands, got shapes {a} and {b}")
    k_a = a[-1]
    k_b = b[0] if len(b) == 1 else b[-2]
    ok = k_a == k_b
    if ok and len(a) > 2 and len(b) > 2:
        try:
            np.broadcast_shapes(a[:-2], b[:-2])
        except ValueError:
            ok = False
    if not ok:
        raise ValueError(
            f"matmul: shapes {a} and {b} do not fit ({a[-1]} != {k_b}, or batch dims differ)"
        )


def _convert_index(index: Any) -> Any:
    """Tensors inside an index become their arrays (integer arrays, boolean masks)."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _along_last(x: Tensor, dim: int, fn) -> Tensor:
    """Apply a last-axis kernel along any dim by moving that dim last and back."""
    (d,) = _axes(dim, x.ndim)
    if x.ndim == 0:
        raise ValueError("softmax needs at least one dimension")
    if d == x.ndim - 1:
        return fn(x)
    return fn(x.transpose(d, -1)).transpose(d, -1)


# --- functions of several tensors --------------------------------------------------------------


def cat(tensors: Iterable[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension."""
    ts = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not ts:
        raise ValueError("cat needs at least one tensor")
    (d,) = _axes(dim, ts[0].ndim)
    for t in ts[1:]:
        if (
            t.ndim != ts[0].ndim
            or t.shape[:d] + t.shape[d + 1 :] != ts[0].shape[:d] + ts[0].shape[d + 1 :]
        ):
            raise ValueError(f"cat along dim {d}: shapes {ts[0].shape} and {t.shape} do not match")
    return movement.Cat.apply(*ts, axis=d)


def stack(tensors: Iterable[Tensor], dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dimension."""
    ts = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not ts:
        raise ValueError("stack needs at least one tensor")
    for t in ts[1:]:
        if t.shape != ts[0].shape:
            raise ValueError(f"stack needs equal shapes, got {ts[0].shape} and {t.shape}")
    (d,) = _axes(dim, ts[0].ndim + 1)
    return movement.Stack.apply(*ts, axis=d)


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """x where condition is True, else y (broadcasting); gradients flow to x and y."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"where needs a boolean condition, got {cond.dtype}")
    xt = x if isinstance(x, Tensor) else None
    yt = y if isinstance(y, Tensor) else None
    ref = xt if xt is not None else yt
    if ref is None:
        return Tensor(np.where(cond, x, y))
    return elementwise.Where.apply(ref._other(x), ref._other(y), cond=cond)


def zeros_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros_like(t.data, dtype=_as_dtype(dtype)), requires_grad)


def ones_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones_like(t.data, dtype=_as_dtype(dtype)), requires_grad)
