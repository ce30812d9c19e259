"""Autograd for tensors: the scalar engine's idea (scalar.py), for whole arrays.

Every operation is a `Function` with two static methods, written side by side:

    forward(ctx, *arrays, **options) -> array      compute the output; save on ctx
                                                  what backward will need
    backward(ctx, grad_output) -> grads           given dCost/dOutput, return
                                                  dCost/dInput for every input,
                                                  shaped like that input

`Function.apply` runs forward on the tensors' NumPy arrays and, when gradients
are wanted, remembers (function, ctx, inputs) on the output tensor. That record
is the graph. `backward()` walks it from the cost back to the leaves (lecture 3:
each layer relies on the one after it), in reverse topological order, calling
each function's backward once all of its output's gradient has arrived.

After a node's backward has run, its saved arrays are freed (as PyTorch does):
the activations of a large model are most of its memory. A second backward
through the same graph therefore needs `retain_graph=True` the first time.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from .grad_store import GradStore

if TYPE_CHECKING:
    from .tensor import Tensor

# --- gradient mode -------------------------------------------------------------------


# Per thread, as in PyTorch: one thread may train (building graphs) while another
# samples under no_grad(); a process-wide flag would switch it off for both.
class _GradState(threading.local):
    enabled = True  # each thread starts with gradients on


_state = _GradState()


def is_grad_enabled() -> bool:
    return _state.enabled


class _GradMode(contextlib.ContextDecorator):
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.prev: list[bool] = []  # a stack: `with m: ... with m:` nests the same object

    def _recreate_cm(self) -> _GradMode:
        return _GradMode(self.enabled)  # @no_grad(): a fresh one per call, so threads share none

    def __enter__(self) -> None:
        self.prev.append(_state.enabled)
        _state.enabled = self.enabled

    def __exit__(self, *exc: object) -> None:
        _state.enabled = self.prev.pop()


def no_grad() -> _GradMode:
    """`with no_grad():` (or `@no_grad()`) -- build no graph: evaluation, sampling, updates."""
    return _GradMode(False)


def enable_grad() -> _GradMode:
    return _GradMode(True)


# --- functions ------------------------------------------------------------------------


class Context:
    """What one op's forward leaves for its backward.

    saved             what forward saved with save_for_backward (arrays, mostly)
    shapes            input shapes forward noted, so backward can shape each
                      gradient like its input without keeping the input itself
    options           the op's keyword arguments (axes, flags), as apply got them
    needs_input_grad  per input: does it want a gradient?
    """

    __slots__ = ("saved", "shapes", "needs_input_grad", "options", "freed")

    def __init__(self) -> None:
        self.saved: tuple = ()
        self.shapes: tuple = ()
        self.needs_input_grad: tuple[bool, ...] = ()
        self.options: dict[str, Any] = {}
        self.freed = False

    def save_for_backward(self, *arrays: Any) -> None:
        self.saved = arrays


class Function:
    """Base class of every differentiable op (see tinygrad_edu/ops/)."""

    # Speed only (grad_store.py): True when backward always returns new arrays, one
    # per input, that nothing else holds (a weight gradient straight out of a kernel),
    # so a weight may keep it as its .grad without a copy.
    fresh_grads: bool = False

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray | None, ...]:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **options: Any) -> Tensor:
        """Run forward on the inputs' data; record the op if a gradient will be needed.

        Inputs that are Tensors are differentiable arguments (backward returns one
        gradient for each); everything else (axes, shapes, flags) goes in **options.
        """
        # autograd.py sits below tensor.py (autograd <- ops <- tensor) and does not import
        # it: the inputs are Tensors already (tensor.py converts numbers), and the first
        # one makes the output (_wrap gives a plain Tensor, also from a Parameter).
        ctx = Context()
        ctx.options = options
        try:  # Tensors only: checked by trying, which costs nothing when they are
            ctx.needs_input_grad = tuple([t._requires_grad for t in inputs])
        except AttributeError:
            bad = next(t for t in inputs if not hasattr(t, "_requires_grad"))
            raise TypeError(
                f"{cls.__name__}.apply takes Tensors as inputs (other arguments "
                f"by keyword), got {type(bad).__name__}"
            ) from None
        if not inputs:
            raise TypeError(f"{cls.__name__}.apply needs at least one Tensor input")
        out = cls.forward(ctx, *[t.data for t in inputs], **options)
        track = _state.enabled and any(ctx.needs_input_grad)
        result = inputs[0]._wrap(out, requires_grad=track)
        if track:
            result._node = (cls, ctx, inputs)
        return result


# --- the backward pass -----------------------------------------------------------------


def _topological_order(root: Tensor) -> list[Tensor]:
    """Every tensor that `root` depends on through recorded ops, inputs before outputs.

    Iterative depth-first search (an explicit stack, not recursion): a graph may be
    thousands of ops deep -- an RNN unrolled, or 100,000 chained additions -- and
    Python's recursion limit is about 1,000.
    """
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        t, children_done = stack.pop()
        if children_done:
            order.append(t)
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        stack.append((t, True))
        if t._node is not None:
            for parent in t._node[2]:
                if parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def backward(root: Tensor, grad: np.ndarray, retain_graph: bool = False) -> None:
    """Propagate d(root)/d(root) = `grad` back to every leaf that requires grad.

    Leaves (tensors made by the user, e.g. weights) accumulate into `.grad`, as in
    PyTorch: call `zero_grad()` between steps. Intermediate tensors get `.grad` only
    if `retain_grad()` was called on them.
    """
    # dCost/dt for each tensor t reached so far: a dict in all but name. GradStore
    # (grad_store.py) adds only speed: compiled sums, and no copy it can avoid.
    pending = GradStore(root, grad)
    for t in reversed(_topological_order(root)):
        # Every op that used t came later in forward, so it was processed before t:
        # all of dCost/dt has arrived.
        g = pending.pop(t)
        if g is None:  # no path from the cost reaches t through a differentiable input
            continue
        if t._node is None or t._retains_grad:
            pending.deposit(t, g)  # t.grad += g
        if t._node is None:
            continue
        fn, ctx, inputs = t._node
        if ctx.freed:
            raise RuntimeError(
                "backward through a graph whose saved arrays were already freed: "
                "call backward(retain_graph=True) the first time to go through it twice"
            )
        # The chain rule, one op: dCost/dinput = dCost/dt * dt/dinput, for every input.
        in_grads = fn.backward(ctx, g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        if len(in_grads) != len(inputs):
            raise RuntimeError(
                f"{fn.__name__}.backward returned {len(in_grads)} gradients for {len(inputs)} inputs"
            )
        for parent, pg in zip(inputs, in_grads):
            if pg is None or not parent.requires_grad:
                continue
            if pg.shape != parent.shape:  # an op that broadcast sums back itself (ops/movement.py)
                raise RuntimeError(
                    f"{fn.__name__}.backward returned a gradient of shape {pg.shape} "
                    f"for an input of shape {parent.shape}"
                )
            # A tensor used twice gets the sum of both paths' gradients.
            pending.add(parent, pg, fresh=fn.fresh_grads)
        if not retain_graph:
            # Free what forward saved, and the references to the inputs (their
            # activations), but keep a marker so a second backward fails loudly.
            ctx.saved = ()
            ctx.freed = True
            t._node = (fn, ctx, ())
