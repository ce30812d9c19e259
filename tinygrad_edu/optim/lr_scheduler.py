"""Learning-rate schedules: the step size need not stay the same all the way down.

Early on, large steps cover ground fast; near a minimum, large steps bounce across
the valley, so the rate is lowered as training goes on. A schedule is a function
step -> learning rate; a scheduler object writes it into `optimizer.param_groups`
each time you call its `step()` (once per epoch, or once per iteration):

    StepLR              multiply by gamma every step_size steps
    CosineAnnealingLR   half a cosine from the initial rate down to eta_min over T_max steps
    LambdaLR            initial rate times any function of the step
    warmup_cosine       nanoGPT's get_lr: linear warm-up, then cosine decay to lr_min
    WarmupCosineLR      the same as a scheduler

The formulas are PyTorch's closed forms (and nanoGPT's), so the values agree with
torch.optim.lr_scheduler at every step.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from .optimizers import Optimizer


def warmup_cosine(step: int, warmup: int, max_steps: int, lr_max: float, lr_min: float) -> float:
    """The learning rate at `step` (0-based): nanoGPT's get_lr.

    1. warm-up: for step < warmup, rise linearly: lr_max * (step + 1) / (warmup + 1).
       (At the start Adam's v is a poor estimate and the weights are random; small
       steps first keep the first updates from being wild.)
    2. after max_steps: stay at lr_min.
    3. in between: cosine decay from lr_max (at step = warmup) to lr_min (at max_steps).
    """
    if step < warmup:
        return lr_max * (step + 1) / (warmup + 1)
    if step > max_steps:
        return lr_min
    if max_steps == warmup:
        return lr_min
    decay_ratio = (step - warmup) / (max_steps - warmup)  # 0 -> 1
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))  # 1 -> 0
    return lr_min + coeff * (lr_max - lr_min)


class LRScheduler:
    """Base class: remembers each group's initial lr and sets lr = get_lr(epoch)."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            if last_epoch == -1:
                group["initial_lr"] = group["lr"]
            elif "initial_lr" not in group:
                raise KeyError("resuming (last_epoch != -1) needs 'initial_lr' in every group")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()  # set the rate for the first epoch/iteration

    def lr_at(self, base_lr: float, epoch: int) -> float:
        raise NotImplementedError

    def get_lr(self) -> list[float]:
        return [self.lr_at(base, self.last_epoch) for base in self.base_lrs]

    def step(self) -> None:
        """Advance one epoch (or iteration) and write the new rates into the optimizer."""
        self.last_epoch += 1
        self._last_lr = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

    def get_last_lr(self) -> list[float]:
        """The rates the last step() set, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in self.__dict__.items()
            if k != "optimizer" and not callable(v) and k != "lr_lambdas"
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """lr = initial_lr * gamma ** (epoch // step_size)."""

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        if step_size < 1:
            raise ValueError(f"step_size must be at least 1, got {step_size}")
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2."""

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        if T_max < 1:
            raise ValueError(f"T_max must be at least 1, got {T_max}")
        self.T_max, self.eta_min = int(T_max), float(eta_min)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return (
            self.eta_min
            + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
        )


class LambdaLR(LRScheduler):
    """lr = initial_lr * lr_lambda(epoch); one function, or one per group."""

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        n = len(optimizer.param_groups)
        lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        if len(lambdas) != n:
            raise ValueError(f"expected {n} lr_lambdas (one per group), got {len(lambdas)}")
        self.lr_lambdas = lambdas
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * f(self.last_epoch) for base, f in zip(self.base_lrs, self.lr_lambdas)]


class WarmupCosineLR(LRScheduler):
    """warmup_cosine as a scheduler: call step() once per iteration.

    Each group rises to its own initial lr (lr_max) over `warmup` steps and decays to
    `lr_min` at `max_steps` (nanoGPT: warmup_iters, lr_decay_iters, min_lr).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        warmup: int,
        max_steps: int,
        lr_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        if warmup < 0 or max_steps < warmup:
            raise ValueError(
                f"need 0 <= warmup <= max_steps, got warmup={warmup}, max_steps={max_steps}"
            )
        self.warmup, self.max_steps, self.lr_min = int(warmup), int(max_steps), float(lr_min)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return warmup_cosine(epoch, self.warmup, self.max_steps, base_lr, self.lr_min)
