"""`--mine DIR`: a lesson run on the learner's own exercise functions.

`plug_in(DIR)` checks the learner's files of the exercises the library can take
(kernels/mine.py's PLUGS, and SCALAR_HOOKS for the scalar engine), loads the ones
that pass `exercises check` (with force=True also the others, which is how one sees a
wrong function break a lesson), and puts them in place:

    kernels.mine.use({...})                  the kernel interface's one seam
    scalar.use_topological_sort(fn)          the scalar engine's own hooks (it imports
    scalar.use_gradient_descent_step(fn)     nothing of the package)

Lessons call it from lessons/common.py (`--mine DIR`, `--mine-force`, or the environment
variables TINYGRAD_EDU_MINE=DIR and TINYGRAD_EDU_MINE_FORCE=1 for notebooks and the book).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .. import scalar
from ..kernels import mine as registry
from .catalog import get
from .runner import PASSED, _load, run_checks

# exercises the scalar engine takes, each by its own hook (None: the engine's own again)
SCALAR_HOOKS = {
    "topological_sort": scalar.use_topological_sort,
    "gradient_descent_step": scalar.use_gradient_descent_step,
}
PLUGGABLE = tuple(registry.PLUGS) + tuple(SCALAR_HOOKS)


@dataclass(frozen=True)
class Plugged:
    name: str  # the exercise
    used: bool  # its function is in place for this run
    why: str  # "passed", "forced (failed: ...)", "failed: ...", "not started", ...


def plug_in(directory: str | os.PathLike, force: bool = False) -> list:
    """Check and put in place the learner's pluggable functions found in directory.

    Returns one Plugged per pluggable exercise whose file is in the folder. A folder that
    does not exist is a ValueError."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"--mine: no folder {str(directory)!r} (write one with "
                         f"`tinygrad-edu exercises init {directory}`)")  # fmt: skip
    present = [n for n in PLUGGABLE if (directory / get(n).filename).is_file()]
    results = {r.name: r for r in run_checks(directory, present)} if present else {}
    plugged, kernels_fns, scalar_fns = [], {}, {}
    for name in present:
        r = results[name]
        use = r.status == PASSED or (force and r.status != "not started")
        why = r.status if r.status != "failed" else f"failed: {r.detail.splitlines()[0]}"
        if use and r.status != PASSED:
            why = f"forced ({why})"
        if use:
            module = _load(directory / get(name).filename)
            fn = getattr(module, get(name).functions[0])
            if name in SCALAR_HOOKS:
                scalar_fns[name] = _counted(name, fn)
            else:
                kernels_fns[name] = fn
        plugged.append(Plugged(name, use, why))
    registry.use(kernels_fns)
    _scalar_calls.clear()
    for name, hook in SCALAR_HOOKS.items():
        hook(scalar_fns.get(name))
    return plugged


_scalar_calls: dict = {}  # scalar exercise name -> calls of the learner's function in place


def _counted(name: str, fn):
    def counted(*args):
        _scalar_calls[name] = _scalar_calls.get(name, 0) + 1
        return fn(*args)

    counted.__name__ = name
    return counted


def calls() -> dict:
    """How often each of the learner's functions in place was called: {name: calls}."""
    return {**registry.calls(), **_scalar_calls}


def unplug() -> None:
    """The library's own functions everywhere again."""
    registry.use({})
    _scalar_calls.clear()
    for hook in SCALAR_HOOKS.values():
        hook(None)


def describe(plugged: list, directory: str | os.PathLike) -> str:
    """The lines a lesson prints: whose functions this run uses."""
    used = [p.name for p in plugged if p.used]
    lines = [f"--mine {directory}: this run uses YOUR " + (", ".join(used) if used else "nothing")]
    lines += [f"  {p.name}: {p.why}" for p in plugged if p.why != "passed"]
    if not plugged:
        lines.append(f"  (no file of {', '.join(PLUGGABLE)} in that folder)")
    elif any(not p.used for p in plugged):
        lines.append("  (--mine-force uses the ones that failed their check too)")
    return "\n".join(lines)
