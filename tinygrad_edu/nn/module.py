"""Module: a piece of a network that owns parameters (lecture 1: weights and biases).

A network is one huge function with many parameters (784-16-16-10 has 13,002). A
`Module` is a reusable piece of that function: it holds its parameters as
attributes, and may hold smaller Modules as attributes too. Calling it runs
`forward`. Everything else here is bookkeeping that the training loop needs:

    parameters()        every weight and bias, for the optimizer (lecture 2)
    named_parameters()  the same with dotted names: "0.weight", "transformer.h.0.ln_1.bias"
    state_dict()        name -> a copy of the numbers, to save a checkpoint
    load_state_dict()   the reverse, checking that every name and shape fits
    train() / eval()    a flag for layers that behave differently while learning (Dropout)
    register_forward_hook(fn)   fn(module, args, output) after every forward: a way to
                        look at what a layer computed without changing the model

How a Module finds its parameters: it looks at its own attributes, in the order
they were first assigned. An attribute is
  * a parameter if it is a `Parameter`, or a leaf Tensor that requires grad;
  * a sub-module if it is a `Module` (its parameters are found the same way);
  * a buffer if it was registered with `register_buffer` (saved, never trained);
  * anything else (numbers, lists, activations) is ignored.
So a plain Python list of layers is NOT seen: use `ModuleList` (nn/layers.py).
This mirrors PyTorch's rules, so the names match and PyTorch checkpoints load.
"""

from __future__ import annotations

from collections import namedtuple
from types import MappingProxyType
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a learned weight: it requires grad, and Modules register it.

    `Parameter(data)` takes the same data as `Tensor` (a Tensor's array is shared,
    not copied). Operations on a Parameter give plain Tensors.
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None) -> None:
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class HookHandle:
    """What register_forward_hook returns: remove() takes the hook off again."""

    _next_id = 0

    def __init__(self, hooks: dict) -> None:
        self.hooks = hooks
        self.id = HookHandle._next_id
        HookHandle._next_id += 1

    def remove(self) -> None:
        self.hooks.pop(self.id, None)


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _is_parameter(value: Any) -> bool:
    if isinstance(value, Parameter):
        return True
    # A tensor you made with requires_grad=True counts too; a tensor computed from
    # parameters (an activation, which has a graph behind it) does not.
    return isinstance(value, Tensor) and value.requires_grad and value.is_leaf


class Module:
    """Base class of every layer and network. Subclasses set attributes in __init__
    (after calling super().__init__()) and define forward()."""

    training: bool = True  # True while learning; eval() sets it to False everywhere
    _forward_hooks: Mapping = MappingProxyType({})  # none; register_forward_hook gives each its own

    def __init__(self) -> None:
        self.training = True
        self._buffer_names: dict[str, bool] = {}  # name -> persistent (saved in state_dict)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        output = self.forward(*args, **kwargs)
        if self._forward_hooks:  # usually none
            for hook in tuple(self._forward_hooks.values()):
                replaced = hook(self, args, output)
                if replaced is not None:
                    output = replaced
        return output

    def register_forward_hook(self, hook: Callable[[Module, tuple, Any], Any]) -> HookHandle:
        """Call hook(module, args, output) after each forward of this module, as PyTorch does.

        args are the positional arguments the module was called with. A hook that
        returns something other than None replaces the output. Returns a handle whose
        remove() takes the hook away again (models/gpt_inspect.py reads a GPT this way).
        """
        if not callable(hook):
            raise TypeError(f"hook must be callable, got {type(hook).__name__}")
        if "_forward_hooks" not in self.__dict__:
            self._forward_hooks = {}
        handle = HookHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # --- what this module holds directly --------------------------------------------

    def _own_parameters(self) -> Iterator[tuple[str, Tensor]]:
        buffers = self.__dict__.get("_buffer_names", {})
        for name, value in self.__dict__.items():
            if name not in buffers and _is_parameter(value):
                yield name, value

    def _own_buffers(self, persistent_only: bool = False) -> Iterator[tuple[str, Tensor]]:
        for name, persistent in self.__dict__.get("_buffer_names", {}).items():
            value = self.__dict__.get(name)
            if isinstance(value, Tensor) and (persistent or not persistent_only):
                yield name, value

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, value in self.__dict__.items():
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    # --- the whole tree ----------------------------------------------------------------

    def named_modules(
        self, prefix: str = "", remove_duplicate: bool = True, _seen: set | None = None
    ) -> Iterator[tuple[str, Module]]:
        """This module and every module inside it, depth first (parents before children)."""
        seen = set() if _seen is None else _seen
        if remove_duplicate:
            if id(self) in seen:
                return
            seen.add(id(self))
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(
                f"{prefix}.{name}" if prefix else name, remove_duplicate, seen
            )

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, parameter) pairs; a shared (tied) parameter is listed once,
        under the first name that reaches it."""
        seen: set[int] = set()
        modules = self.named_modules(prefix, remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, p in module._own_parameters():
                if remove_duplicate:
                    if id(p) in seen:
                        continue
                    seen.add(id(p))
                yield (f"{module_prefix}.{name}" if module_prefix else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every weight and bias, each shared tensor once: what the optimizer updates."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        for module_prefix, module in self.named_modules(prefix):
            for name, b in module._own_buffers():
                if id(b) not in seen:
                    seen.add(id(b))
                    yield (f"{module_prefix}.{name}" if module_prefix else name), b

    def buffers(self) -> Iterator[Tensor]:
        for _, b in self.named_buffers():
            yield b

    def num_parameters(self, trainable_only: bool = False) -> int:
        """How many numbers the network learns (784-16-16-10: 13,002)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """A tensor that belongs to the module but is not learned (e.g. a causal mask).

        Persistent buffers are saved in state_dict(); others are rebuilt by __init__.
        """
        if "_buffer_names" not in self.__dict__:
            raise AttributeError("call super().__init__() before register_buffer()")
        if "." in name or not name:
            raise KeyError(f"buffer name must be a non-empty name without dots, got {name!r}")
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(np.asarray(tensor))
        self._buffer_names[name] = bool(persistent)
        setattr(self, name, tensor)

    def register_parameter(self, name: str, param: Tensor | None) -> None:
        """Same as `self.name = param` (None leaves the slot empty, e.g. no bias)."""
        if param is not None and not isinstance(param, Parameter):
            param = Parameter(param)
        setattr(self, name, param)

    # --- checkpoints ---------------------------------------------------------------------

    def _state_tensors(self, prefix: str = "") -> dict[str, Tensor]:
        """name -> tensor for every parameter and persistent buffer, tied ones under
        every name that reaches them (as PyTorch's state_dict does)."""
        out: dict[str, Tensor] = {}
        for name, p in self._own_parameters():
            out[prefix + name] = p
        for name, b in self._own_buffers(persistent_only=True):
            out[prefix + name] = b
        for name, child in self.named_children():
            out.update(child._state_tensors(f"{prefix}{name}."))
        return out

    def state_dict(self, keep_vars: bool = False) -> dict[str, Any]:
        """name -> numpy.ndarray copy of every parameter and persistent buffer.

        The copies do not change as training goes on; `keep_vars=True` returns the
        Tensors themselves instead.
        """
        tensors = self._state_tensors()
        if keep_vars:
            return tensors
        return {name: np.array(t.data, copy=True) for name, t in tensors.items()}

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy numbers into the parameters and buffers, by name, in place.

        Values may be ndarrays or Tensors; they are cast to each parameter's dtype. With
        strict=True a missing or unexpected name raises KeyError naming it; a wrong shape
        raises ValueError naming the key, always. Nothing is changed unless all fits.
        Returns (missing_keys, unexpected_keys), as PyTorch does.
        """
        own = self._state_tensors()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append("missing key(s) " + ", ".join(repr(k) for k in missing))
            if unexpected:
                parts.append("unexpected key(s) " + ", ".join(repr(k) for k in unexpected))
            raise KeyError(f"load_state_dict of {type(self).__name__}: " + "; ".join(parts))
        arrays = {}
        for name, t in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            arr = value.data if isinstance(value, Tensor) else np.asarray(value)
            if arr.shape != t.shape:
                raise ValueError(
                    f"load_state_dict: {name!r} has shape {arr.shape} in the state dict, "
                    f"but {t.shape} in the model"
                )
            arrays[name] = arr
        for name, arr in arrays.items():
            own[name].data[...] = arr  # in place: the optimizer keeps pointing at it
        return IncompatibleKeys(missing, unexpected)

    # --- modes and helpers ------------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Set the training flag here and in every sub-module (Dropout reads it)."""
        self.training = bool(mode)
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: Dropout becomes the identity. Same as train(False)."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of the last backward (they would add up otherwise)."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.data[...] = 0

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call fn on every sub-module (children first), then on self; e.g. custom init."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, dtype: Any) -> Module:
        """Cast every floating-point parameter and buffer to dtype, in place."""
        dtype = np.dtype(dtype)
        for t in list(self.parameters()) + list(self.buffers()):
            if t.data.dtype.kind == "f" and t.data.dtype != dtype:
                t.data = t.data.astype(dtype)
                t.grad = None
        return self

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    # --- printing ----------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """What goes inside the parentheses, e.g. 'in_features=784, out_features=16'."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, child in self.named_children():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {child_repr}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join(([extra] if extra else []) + lines)
        return f"{type(self).__name__}(\n  {body}\n)"
