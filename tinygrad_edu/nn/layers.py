"""The layers networks are built from: each a Module that holds its parameters and
calls one function of nn/functional.py in forward.

    Linear      a layer of neurons (lecture 1)        Embedding  token -> vector (lecture 6)
    LayerNorm   rescale each vector to mean 0, var 1  Dropout    randomly silence neurons
    ReLU, GELU, Sigmoid, Tanh, Identity, Flatten      the activations, as layers
    Sequential, ModuleList, ModuleDict                containers that register what they hold
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, Iterable, Iterator

import numpy as np

from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter

# --- a layer of neurons ---------------------------------------------------------------------


class AddsResidual(Module):
    """A layer whose forward takes `residual=` and returns residual + its output, the add
    done by its last GEMM as it writes (one pass over memory instead of two).

    A forward hook sees, and may replace, the layer's OWN output (as in PyTorch). So when
    the layer has hooks, the residual is added after them instead, by a plain add."""

    def __call__(self, *args: Any, residual: Tensor | None = None, **kwargs: Any) -> Any:
        if residual is not None and self._forward_hooks:
            return residual + super().__call__(*args, **kwargs)
        return super().__call__(*args, residual=residual, **kwargs)


class Linear(AddsResidual):
    """A layer of `out_features` neurons, each connected to all `in_features` inputs.

    This IS the layer of lecture 1. Neuron j holds one weight per input (row j of
    `weight`) and one bias; its input is the weighted sum of the previous layer's
    activations plus its bias:

        z_j = sum_i weight[j, i] * x_i + bias[j]     for every j at once:  z = x @ weight.T + bias

    weight is (out_features, in_features), PyTorch's layout, so 784 -> 16 has a
    (16, 784) weight: row j, seen as a 28x28 image, is the pattern neuron j responds
    to. The activation (sigmoid, ReLU) is a separate layer that follows.

    Initialisation is PyTorch's: weight and bias uniform in +-1/sqrt(in_features)
    (kaiming_uniform_ with a = sqrt(5)), so a neuron's sum starts with about the same
    spread however many inputs it has.
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, dtype: Any = np.float32
    ) -> None:
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        dtype = np.dtype(dtype)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if bias:
            bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            self.bias = Parameter(np.empty(self.out_features, dtype=dtype))
            init.uniform_(self.bias, -bound, bound)
        else:
            self.bias = None

    def forward(self, x: Tensor, residual: Tensor | None = None) -> Tensor:
        # x (..., in_features) -> (..., out_features); one fused op (ops/matmul.py Linear).
        # With a residual: residual + that, the add done as the GEMM writes (LinearResidual).
        return F.linear(x, self.weight, self.bias, residual)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Embedding(Module):
    """A lookup table: token id -> a learned vector of `embedding_dim` features (lecture 6).

    weight is (num_embeddings, embedding_dim), initialised N(0, 1) as in PyTorch.
    Looking up row i is the same as multiplying a one-hot vector by the matrix.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype: Any = np.float32) -> None:
        super().__init__()
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.weight = Parameter(
            np.empty((self.num_embeddings, self.embedding_dim), dtype=np.dtype(dtype))
        )
        init.normal_(self.weight)

    def forward(self, idx: Any) -> Tensor:
        # idx integer (...) -> (..., embedding_dim)
        return F.embedding(idx, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class LayerNorm(Module):
    """Normalise each vector (last dimension) to mean 0 and variance 1, then scale by a
    learned `weight` (starts at 1) and shift by a learned `bias` (starts at 0)."""

    def __init__(
        self,
        normalized_shape: int,
        eps: float = 1e-5,
        bias: bool = True,
        elementwise_affine: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        shape = (
            (int(normalized_shape),)
            if isinstance(normalized_shape, (int, np.integer))
            else tuple(normalized_shape)
        )
        self.normalized_shape = shape
        self.eps = float(eps)
        dtype = np.dtype(dtype)
        self.weight = Parameter(np.ones(shape, dtype=dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, dtype=dtype)) if elementwise_affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        text = (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}"
        )
        return text + (f", bias={self.bias is not None}" if self.weight is not None else "")


class Dropout(Module):
    """While training, zero each activation with probability p and scale the others by
    1/(1-p) (so the expected sum is unchanged); in eval() mode, pass x through as is.

    Why: a neuron cannot rely on any one other neuron being there, which keeps the
    network from memorising the training data.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


# --- activations as layers (lecture 1: the squashing after the weighted sum) ----------------


class ReLU(Module):
    """max(0, x): the modern activation."""

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class Sigmoid(Module):
    """1 / (1 + e^-x): the older activation, squashes any number into (0, 1)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class GELU(Module):
    """x * Phi(x): a smooth ReLU (GPT's MLP); approximate='tanh' is GPT-2's formula."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Identity(Module):
    def forward(self, x: Any) -> Any:
        return x


class Flatten(Module):
    """(N, 28, 28) images -> (N, 784) vectors: dimensions start_dim..end_dim merged."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


# --- containers ------------------------------------------------------------------------------
# Each stores its modules as attributes named "0", "1", ... (or by key), which is how a
# Module finds them: their parameters get names like "0.weight" or "h.3.attn.c_attn.bias".


def _check_name(owner: Module, name: str) -> str:
    if not isinstance(name, str) or not name or "." in name:
        raise KeyError(f"module names must be non-empty strings without dots, got {name!r}")
    if hasattr(type(owner), name) or name in ("training", "_buffer_names"):
        raise KeyError(f"{name!r} would hide an attribute of {type(owner).__name__}")
    return name


class ModuleList(Module):
    """A list of modules that registers them (a plain Python list would hide them)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        self._n = 0
        for m in modules or ():
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__} holds Modules, got {type(module).__name__}")
        setattr(self, str(self._n), module)
        self._n += 1
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def _index(self, i: int) -> str:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"index must be an int or a slice, got {type(i).__name__}")
        if not -self._n <= i < self._n:
            raise IndexError(
                f"index {i} out of range for {type(self).__name__} of length {self._n}"
            )
        return str(int(i) % self._n)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return type(self)(list(self)[i])
        return getattr(self, self._index(i))

    def __setitem__(self, i: int, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__} holds Modules, got {type(module).__name__}")
        setattr(self, self._index(i), module)

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[Module]:
        return (getattr(self, str(i)) for i in range(self._n))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("a ModuleList has no forward: loop over it in yours")


class Sequential(ModuleList):
    """Modules applied one after the other: Sequential(Linear(784, 16), Sigmoid(), ...).

    Also takes an OrderedDict name -> module, for named steps.
    """

    def __init__(self, *modules: Any) -> None:
        if len(modules) == 1 and isinstance(modules[0], (OrderedDict, dict)):
            super().__init__()
            for name, m in modules[0].items():
                if not isinstance(m, Module):
                    raise TypeError(f"Sequential holds Modules, got {type(m).__name__}")
                setattr(self, _check_name(self, name), m)
                self._n += 1
        else:
            super().__init__(modules)

    def __iter__(self) -> Iterator[Module]:
        return self.children()

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return Sequential(*list(self)[i])
        return list(self.children())[int(self._index(i))]

    def __setitem__(self, i: int, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential holds Modules, got {type(module).__name__}")
        name = [n for n, _ in self.named_children()][int(self._index(i))]
        setattr(self, name, module)

    def forward(self, x: Any) -> Any:
        for module in self.__dict__.values():  # definition order; the fast path
            if isinstance(module, Module):
                x = module(x)
        return x


class ModuleDict(Module):
    """A dict of modules that registers them under their keys (nanoGPT's `transformer`)."""

    def __init__(self, modules: dict[str, Module] | None = None) -> None:
        super().__init__()
        for name, m in (modules or {}).items():
            self[name] = m

    def __setitem__(self, name: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict holds Modules, got {type(module).__name__}")
        setattr(self, _check_name(self, name), module)

    def __getitem__(self, name: str) -> Module:
        value = self.__dict__.get(name)
        if not isinstance(value, Module):
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(self.__dict__.get(name), Module)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return sum(1 for _ in self.children())

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self.named_children())

    def keys(self) -> list[str]:
        return list(self)

    def values(self) -> list[Module]:
        return list(self.children())

    def items(self) -> list[tuple[str, Module]]:
        return list(self.named_children())

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("a ModuleDict has no forward: use its modules in yours")
