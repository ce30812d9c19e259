"""Shared machinery for the benchmark scripts: fair timing of ours vs NumPy vs PyTorch.

Fairness rules (the numbers are ratios measured side by side in ONE process):
* NumPy at its best. Some machines set OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, which
  force OpenBLAS onto slower kernels. `reexec_clean()` restarts the script without
  both, so all three libraries are timed in a process where OpenBLAS picks its own
  kernel; `openblas_kernel()` reports which one ran (threadpoolctl).
* The same thread count for everyone: `threads(n)` sets ours, OpenBLAS's and torch's.
* OpenBLAS and OpenMP workers spin for a while after each call; on 2 cores that
  slows whoever runs next, so `timeit` sleeps PAUSE seconds before it starts.
* Times are the median of several repeats, each long enough to be measured well.
Quote ratios, not absolute times: the machines are shared and noisy.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

PAUSE = 0.3

try:  # run from a checkout without `pip install -e .`: use the in-place build
    import tinygrad_edu  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_CLEAN_FLAG = "TINYGRAD_EDU_BENCH_CLEAN"


def reexec_clean() -> None:
    """Restart this script without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (once)."""
    if os.environ.get(_CLEAN_FLAG) == "1":
        return
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    env[_CLEAN_FLAG] = "1"
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def openblas_kernel() -> str:
    """Which OpenBLAS NumPy uses and the CPU kernel it chose, e.g. 'openblas 0.3.29 SkylakeX'."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (pip install threadpoolctl)"
    import numpy as np

    np.ones((2, 2)) @ np.ones((2, 2))  # make sure BLAS is loaded
    for pool in threadpool_info():
        if pool.get("internal_api") in ("openblas", "mkl", "blis"):
            return f"{pool['internal_api']} {pool.get('version')} {pool.get('architecture', '')}".strip()
    return "no BLAS found by threadpoolctl"


def torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    return torch


@contextlib.contextmanager
def threads(n: int):
    """Run ours, NumPy's BLAS and torch with n threads each."""
    import tinygrad_edu as tg

    old = tg.get_num_threads()
    tg.set_num_threads(n)
    torch = torch_or_none()
    old_torch = torch.get_num_threads() if torch else None
    if torch:
        torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=n)
    except ImportError:
        limiter = contextlib.nullcontext()
    try:
        with limiter:
            yield
    finally:
        tg.set_num_threads(old)
        if torch:
            torch.set_num_threads(old_torch)


_peaks: dict[tuple[str, int], float] = {}


def fma_peak(dtype, nthreads: int) -> float:
    """The machine's FMA peak in GFLOP/s on nthreads threads (compiled.peak_gflops), the best
    of up to five measurements. One measurement on a shared VM can come out at one core's
    peak for two threads (seen: 125 against 240, while a GEMM on the same two threads ran at
    206): measured again until it reaches 80% of nthreads times one thread's peak, and said
    when it never does. Measured once per process."""
    import numpy as np

    from tinygrad_edu.kernels import compiled

    key = (np.dtype(dtype).name, nthreads)
    if key not in _peaks:
        one = max(compiled.peak_gflops(dtype, nthreads=1) for _ in range(2))
        best = one
        for _ in range(5 if nthreads > 1 else 0):
            best = max(best, compiled.peak_gflops(dtype, nthreads=nthreads))
            if best >= 0.8 * nthreads * one:
                break
        else:
            if nthreads > 1:
                print(f"(FMA peak on {nthreads} threads measured {best:.0f} GFLOP/s, below "
                      f"{nthreads} x one thread's {one:.0f}: the other cores were busy)")  # fmt: skip
        _peaks[key] = best
    return _peaks[key]


def timeit(fn, min_time: float = 0.1, repeats: int = 5) -> float:
    """Median seconds per call of fn(), after a pause (other pools' spinning threads
    settle) and a warm-up; the timing itself is tinygrad_edu.lessons.timing.time_call."""
    from tinygrad_edu.lessons.timing import time_call

    time.sleep(PAUSE)
    return time_call(fn, min_time=min_time, repeats=repeats)


def time_interleaved(fn_a, fn_b, steps: int = 5, rounds: int = 15) -> tuple[float, float, float]:
    """Take turns: `steps` calls of fn_a, then `steps` of fn_b, `rounds` times (after a
    warm-up of each). Returns the median seconds per call of each and the median of the
    per-round ratios time_b / time_a (above 1: fn_a is faster).

    On a shared machine the load comes and goes in phases of seconds; timing one side
    after the other can put them in different phases, taking turns puts them in the
    same ones, so the ratio is much steadier than either time."""
    import statistics

    time.sleep(PAUSE)
    for fn in (fn_a, fn_b):
        for _ in range(steps):
            fn()
    ta, tb = [], []
    for _ in range(rounds):
        for fn, out in ((fn_a, ta), (fn_b, tb)):
            t0 = time.perf_counter()
            for _ in range(steps):
                fn()
            out.append((time.perf_counter() - t0) / steps)
    ratios = [b / a for a, b in zip(ta, tb)]
    return statistics.median(ta), statistics.median(tb), statistics.median(ratios)


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    """A plain-text table, columns right-aligned."""
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for k, r in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
        if k == 0:
            print("  ".join("-" * w for w in widths))
    sys.stdout.flush()


def _fmt(x) -> str:
    if isinstance(x, float):
        return f"{x:.2f}" if abs(x) < 1000 else f"{x:.0f}"
    return "-" if x is None else str(x)
