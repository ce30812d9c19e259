"""The one timing harness: how long a call takes, and how much memory it needs.

Used by the engine-room lesson (`lessons/bench.py`, tutorials 7 and 10) and by the
benchmark scripts (`benchmarks/_harness.py` adds its fairness rules around it).
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from typing import Callable


def time_call(fn: Callable[[], object], min_time: float = 0.05, repeats: int = 3) -> float:
    """Median seconds per call of fn(), after one warm-up call."""
    fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(min_time / once))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    return statistics.median(samples)


def peak_memory(fn: Callable[[], object]) -> int:
    """Peak bytes NumPy allocated while fn() ran (tracemalloc sees NumPy's buffers)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
