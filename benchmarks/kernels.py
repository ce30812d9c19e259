"""Kernel benchmarks: our compiled kernels vs NumPy (OpenBLAS at its best) vs PyTorch.

    flock /tmp/tinygrad_edu.lock python benchmarks/kernels.py            # everything
    flock /tmp/tinygrad_edu.lock python benchmarks/kernels.py --quick    # CI: few sizes
    flock /tmp/tinygrad_edu.lock python benchmarks/kernels.py --only gemm --threads 1

Each kernel has a section: a function `bench_NAME(args)` registered with @section,
which prints its own tables. Ratios > 1 mean we are faster. Everything is timed in one
process, side by side (see _harness.py for the fairness rules); quote the ratios, the
absolute numbers move with the machine's load.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import _harness as H  # noqa: E402
import numpy as np  # noqa: E402

SECTIONS: dict = {}  # name -> bench function, in the order they run


def section(name: str):
    """Register `fn(args)` as the benchmark section `name`."""

    def register(fn):
        SECTIONS[name] = fn
        return fn

    return register


def _best_time(fn, args, rounds: int = 2) -> float:
    """Best of `rounds` medians (H.timeit), to ride out a noisy neighbour."""
    return min(H.timeit(fn, min_time=args.min_time, repeats=args.repeats) for _ in range(rounds))


# --- GEMM ------------------------------------------------------------------------------


def _clock_estimate_gflops() -> float | None:
    """2 FMA units x 16 float lanes x 2 flops x the clock /proc/cpuinfo reports (the base
    clock on most machines: turbo runs faster, so this is a floor, not a ceiling)."""
    try:
        with open("/proc/cpuinfo") as f:
            mhz = [float(line.split(":")[1]) for line in f if line.startswith("cpu MHz")]
    except (OSError, ValueError):
        return None
    return 2 * 16 * 2 * mhz[0] / 1e3 if mhz else None


def _interleaved_times(runs: dict, args, rounds: int = 3) -> dict:
    """Best of `rounds` medians (H.timeit) for each contender, the contenders taking
    turns round by round: a slow spell of the machine then hits all of them alike."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, fn in runs.items():
            best[name] = min(best[name], H.timeit(fn, min_time=args.min_time, repeats=args.repeats))
    return best


GEMM_SQUARE = (64, 128, 256, 512, 1024, 2048)
GEMM_GPT = ((768, 128, 512), (768, 512, 128), (768, 128, 128))  # (M, K, N): GPT layers


@section("gemm")
def bench_gemm(args) -> None:
    from tinygrad_edu.kernels import compiled

    torch = H.torch_or_none()
    peak1 = H.fma_peak(np.float32, 1)
    est = _clock_estimate_gflops()
    print(
        f"\nGEMM: our ISA {compiled.config.isa_name}, blocking {compiled.gemm_blocking()}"
        f"\n  fp32 peak per core: {peak1:.0f} GFLOP/s measured (FMA loop, compiled.peak_gflops)"
        + (f"; estimate 2 FMA x 16 lanes x 2 x base clock = {est:.0f}" if est else "")
    )
    if args.quick:
        cases = [(n, n, n, np.float32) for n in (128, 512)] + [(768, 128, 512, np.float32)]
    else:
        cases = [(n, n, n, np.float32) for n in GEMM_SQUARE]
        cases += [(m, k, n, np.float32) for m, k, n in GEMM_GPT]
        cases += [(n, n, n, np.float64) for n in (512, 1024)]
    rng = np.random.default_rng(0)
    for nt in args.threads:  # every thread count's peak before any timing
        H.fma_peak(np.float32, nt)
    for nt in args.threads:
        peak = H.fma_peak(np.float32, nt)
        rows = []
        for m, k, n, dtype in cases:
            a = rng.standard_normal((m, k)).astype(dtype)
            b = rng.standard_normal((k, n)).astype(dtype)
            out = np.empty((m, n), dtype=dtype)
            flops = 2.0 * m * n * k
            runs = {
                "ours": lambda a=a, b=b, out=out: compiled.gemm(a, b, out=out),
                "numpy": lambda a=a, b=b, out=out: np.matmul(a, b, out=out),
            }
            if torch is not None:
                ta, tb, tout = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out)
                runs["torch"] = lambda ta=ta, tb=tb, tout=tout: torch.mm(ta, tb, out=tout)
            with H.threads(nt):
                gf = {name: flops / t / 1e9 for name, t in _interleaved_times(runs, args).items()}
            ours, ref, tt = gf["ours"], gf["numpy"], gf.get("torch")
            # fp64 does half the flops per instruction: its peak is half the fp32 one
            p = peak if dtype == np.float32 else peak / 2
            label = f"{m}x{k} @ {k}x{n}" if (m, k) != (k, n) else f"n={n}"
            rows.append(
                [
                    label,
                    np.dtype(dtype).name,
                    ours,
                    ref,
                    tt,
                    ours / ref,
                    ours / tt if tt else None,
                    f"{100 * ours / p:.0f}%",
                ]
            )
        H.print_table(
            f"GEMM, {nt} thread{'s' if nt > 1 else ''} (GFLOP/s; peak {peak:.0f} measured)",
            ["shape", "dtype", "ours", "numpy", "torch", "ours/np", "ours/torch", "% peak"],
            rows,
        )


# --- softmax, log-softmax, cross-entropy, GELU (benchmarks/softmax.py) ------------------


@section("softmax")
def bench_softmax(args) -> None:
    import softmax  # benchmarks/softmax.py, beside this file

    softmax.bench_softmax(args)


# --- driver ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    H.reexec_clean()  # NumPy at its best: no OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="few sizes, short timing (CI)")
    p.add_argument("--only", default="", help=f"comma-separated sections of {list(SECTIONS)}")
    p.add_argument("--threads", default="1,2", help="thread counts to run, e.g. 1,2")
    args = p.parse_args(argv)
    args.threads = [int(t) for t in args.threads.split(",")]
    args.min_time, args.repeats = (0.03, 3) if args.quick else (0.1, 5)
    names = [s for s in args.only.split(",") if s] or list(SECTIONS)
    unknown = [s for s in names if s not in SECTIONS]
    if unknown:
        p.error(f"unknown sections {unknown}; choose from {list(SECTIONS)}")

    from tinygrad_edu import kernels

    if kernels.compiled is None:
        sys.exit(f"compiled kernels not built: {kernels.COMPILED_ERROR}")
    torch = H.torch_or_none()
    print(f"NumPy {np.__version__} BLAS: {H.openblas_kernel()}")
    print(f"PyTorch: {torch.__version__ if torch else 'not installed'}")
    for name in names:
        SECTIONS[name](args)


if __name__ == "__main__":
    main()
