"""Run-time settings that every compiled kernel receives as arguments.

The kernels keep no hidden global state: each call is passed the number of
threads and the instruction set to use, read from this one object.
"""

from __future__ import annotations

import os

ISA_NAMES = ("base", "avx2", "avx512")


def _default_threads() -> int:
    """OMP_NUM_THREADS if set (as OpenMP itself would), else the CPUs we may run on."""
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


class Config:
    def __init__(self) -> None:
        self.num_threads = _default_threads()
        self.best_isa = 0  # filled in by compiled.py from the CPU
        self.isa = 0

    @property
    def isa_name(self) -> str:
        return ISA_NAMES[self.isa]

    def set_isa(self, name: str) -> None:
        """Use a lower SIMD level than the best one (tests check every variant)."""
        if name not in ISA_NAMES:
            raise ValueError(f"SIMD level must be one of {ISA_NAMES}, got {name!r}")
        level = ISA_NAMES.index(name)
        if level > self.best_isa:
            raise ValueError(
                f"this CPU/build supports up to {ISA_NAMES[self.best_isa]!r}, not {name!r}"
            )
        self.isa = level


config = Config()


MAX_THREADS = 4096  # far above any CPU we run on; OpenMP would try to start them all


def set_num_threads(n: int) -> None:
    """Threads the compiled kernels use (like torch.set_num_threads): an int in
    [1, MAX_THREADS]; anything else raises TypeError/ValueError here, at the call."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"number of threads must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"number of threads must be at least 1, got {n}")
    if n > MAX_THREADS:
        raise ValueError(f"number of threads must be at most {MAX_THREADS}, got {n}")
    config.num_threads = n


def get_num_threads() -> int:
    return config.num_threads
