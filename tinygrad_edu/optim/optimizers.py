"""Optimizers: how the weights move once backward() has filled their gradients.

Lecture 2: the negative gradient points downhill on the cost; the learning rate is
the length of the step. Plain gradient descent is exactly that:

    w  <-  w - lr * dCost/dw

and the optimizers below are refinements of that one line:

    SGD       + momentum: keep rolling in the direction of past steps (through noise)
              + weight decay: also pull every weight a little towards 0
    Adam      a separate step size for every weight, from running averages of its
              gradient (m) and of its squared gradient (v)
    AdamW     Adam, with the pull towards 0 applied to the weight directly

Each optimizer's `update` shows its step's math and hands the numbers to one kernel
per parameter (kernels.ops.sgd_update / adam_update): the update is a hot loop over
every number of the network, and the compiled kernel (csrc/optim_impl.h) reads and
writes each number once. Its twin in kernels/reference.py is the same math in a few
lines of NumPy; TINYGRAD_EDU_BACKEND=reference runs this page on the twin, and
tests/test_optim.py checks both against PyTorch.

As in PyTorch: `params` is an iterable of Tensors or of parameter groups (dicts with
"params" and their own hyper-parameters); `param_groups[i]["lr"]` may be changed at
any time (that is what learning-rate schedules do); parameters whose .grad is None
are skipped; zero_grad() sets the gradients to None.
"""

from __future__ import annotations

from functools import partialmethod
from typing import Any, Callable, Iterable

import numpy as np

from .. import kernels
from ..autograd import enable_grad
from ..tensor import Tensor


class Optimizer:
    """What every optimizer shares: parameter groups, state, zero_grad, state_dict."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}  # per parameter: step count, buffers
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of Tensors (e.g. model.parameters())")
        groups = list(params)
        if not groups:
            raise ValueError("the optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (others: the defaults)."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError("a parameter group must be a dict with a 'params' entry")
        group = dict(group)
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        unique: list[Tensor] = []
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"the optimizer can only update Tensors, got {type(p).__name__}")
            if p.dtype.kind != "f":
                raise TypeError(
                    f"the optimizer can only update floating-point tensors, got {p.dtype}"
                )
            if not any(p is q for q in unique):
                unique.append(p)
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in taken for p in unique):
            raise ValueError("some parameters appear in more than one parameter group")
        group["params"] = unique
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        if not group["lr"] >= 0.0:
            raise ValueError(f"invalid learning rate: {group['lr']}")
        if not group.get("weight_decay", 0.0) >= 0.0:
            raise ValueError(f"invalid weight_decay: {group['weight_decay']}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the last gradients: backward() adds into .grad, it does not overwrite."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.data[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient. `closure`, if given, recomputes
        and returns the cost first (as in PyTorch)."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self.update(p, group)
        return loss

    def update(self, p: Tensor, group: dict[str, Any]) -> None:
        """One parameter's step, with its group's hyper-parameters."""
        raise NotImplementedError

    # --- checkpoints -------------------------------------------------------------------------
    # PyTorch's layout: parameters are numbered 0, 1, 2, ... across the groups in order,
    # "state" maps those numbers to each parameter's state (NumPy copies), and
    # "param_groups" holds the hyper-parameters with "params" as lists of numbers.

    def state_dict(self) -> dict[str, Any]:
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            numbers = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                numbers.append(index[id(p)])
            saved = {k: (tuple(v) if isinstance(v, list) else v) for k, v in group.items()}
            saved["params"] = numbers
            groups.append(saved)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {
                        k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
                        for k, v in self.state[p].items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and per-parameter state saved by state_dict().

        The groups must have the same sizes; each buffer must have its parameter's shape
        (ValueError otherwise); buffers are cast to the parameter's dtype.
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"the state dict has {len(saved_groups)} parameter groups, "
                f"the optimizer {len(self.param_groups)}"
            )
        params: dict[int, Tensor] = {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"parameter group {i} has {len(group['params'])} parameters, "
                    f"the state dict's has {len(saved['params'])}"
                )
            for number, p in zip(saved["params"], group["params"]):
                params[int(number)] = p
        new_state: dict[Tensor, dict[str, Any]] = {}
        for number, st in state_dict["state"].items():
            if int(number) not in params:
                raise ValueError(
                    f"the state dict has state for parameter {number}, which is not in a group"
                )
            p = params[int(number)]
            entry = {}
            for k, v in st.items():
                if k != "step" and isinstance(v, (np.ndarray, Tensor)):
                    arr = v.data if isinstance(v, Tensor) else v
                    if arr.shape != p.shape:
                        raise ValueError(
                            f"state {k!r} of parameter {number} has shape {arr.shape}, "
                            f"the parameter {p.shape}"
                        )
                    entry[k] = np.array(arr, dtype=p.dtype, copy=True, order="C")
                elif k == "step":
                    entry[k] = int(np.asarray(v).item())  # PyTorch stores a 0-d float tensor
                else:
                    entry[k] = v
            new_state[p] = entry
        for group, saved in zip(self.param_groups, saved_groups):
            for k, v in saved.items():
                if k != "params":
                    group[k] = v
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        return "\n".join(lines) + "\n)"


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's formulation (lecture 3: one step per mini-batch).

    With momentum = 0 it is the plain  w -= lr * grad  of lecture 2.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        if not momentum >= 0.0:
            raise ValueError(f"invalid momentum: {momentum}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0")
        defaults = dict(
            lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
            nesterov=nesterov,
        )  # fmt: skip
        super().__init__(params, defaults)

    def update(self, p: Tensor, group: dict[str, Any]) -> None:
        """In place on w (and the momentum buffer "velocity"):

            d = grad + weight_decay * w                   L2: the gradient of (wd / 2) |w|^2
            buf = momentum * buf + (1 - dampening) * d    keeps rolling through noise
                                                          (the first step: buf = d)
            d = d + momentum * buf  if nesterov  else buf
            w = w - lr * d

        With momentum = 0 there is no buffer: w = w - lr * (grad + weight_decay * w).
        """
        momentum = group["momentum"]
        buf, first = None, False
        if momentum != 0:
            state = self.state.setdefault(p, {})
            if state.get("momentum_buffer") is None:
                state["momentum_buffer"] = np.zeros(p.shape, p.dtype)
                first = True
            buf = state["momentum_buffer"]
        kernels.ops.sgd_update(
            p.data, p.grad.data, buf, group["lr"], momentum, group["dampening"],
            group["weight_decay"], group["nesterov"], first,
        )  # fmt: skip


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), bias-corrected as in PyTorch: each weight's step is about
    lr in size whatever the scale of its gradient.

    Adam's weight decay is L2: part of the gradient, so it is rescaled like the gradient.
    AdamW (below) is this class with the decay applied to the weight instead.
    """

    decoupled_weight_decay = False  # AdamW: True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        if not eps >= 0.0:
            raise ValueError(f"invalid epsilon: {eps}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"invalid beta parameter at index {i}: {beta}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)

    def update(self, p: Tensor, group: dict[str, Any]) -> None:
        """In place on w and its two running means m and v (t counts the steps from 1):

            g = grad + weight_decay * w         Adam: L2 decay, part of the gradient
            w = w * (1 - lr * weight_decay)     AdamW instead: shrink the weight itself
            m = beta1 * m + (1 - beta1) * g     the gradient, averaged over ~1/(1-beta1) steps
            v = beta2 * v + (1 - beta2) * g^2   its square, averaged over ~1/(1-beta2) steps
            w = w - lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps)

        The divisions by 1 - beta^t undo the pull towards the zeros m and v start at.
        """
        state = self.state.get(p)
        if state is None:
            state = self.state[p] = {
                "step": 0,
                "exp_avg": np.zeros(p.shape, p.dtype),  # m
                "exp_avg_sq": np.zeros(p.shape, p.dtype),  # v
            }
        state["step"] += 1
        beta1, beta2 = group["betas"]
        kernels.ops.adam_update(
            p.data, p.grad.data, state["exp_avg"], state["exp_avg_sq"], group["lr"], beta1,
            beta2, group["eps"], group["weight_decay"], state["step"], self.decoupled_weight_decay,
        )  # fmt: skip


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019): Adam with DECOUPLED weight decay, 0.01 by default.

        w = w * (1 - lr * weight_decay)      then the Adam step with the plain gradient

    With Adam's L2 the decay goes through m / sqrt(v) and is rescaled per weight, so
    weights with large gradients are barely decayed; here every weight shrinks by the
    same fraction. The GPT recipe uses it (decay on 2-D weights only: parameter groups).
    """

    decoupled_weight_decay = True
    __init__ = partialmethod(Adam.__init__, weight_decay=0.01)
