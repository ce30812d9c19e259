"""The engine room: measure how the hot loops get fast, on your own machine.

Used by `tutorials/10_engine_room.py` and `tinygrad-edu bench` (a lesson-only module: it
reaches up to `models.train_gpt`, so it lives on the top floor with the lessons). Every rung of every
ladder is a real code path of the package, not code written for the measurement:

  matmul   Python triple loop (kernels.reference.matmul_naive)
           -> C triple loop, i-k-j order (kernels.compiled.gemm_naive)
           -> packed, cache-blocked, register-tiled, with 16-byte vectors (ISA "base")
           -> the same with the widest vectors this CPU has (AVX2 / AVX-512)
           -> and all threads
           next to NumPy (OpenBLAS) and the machine's measured FMA peak
  softmax  the NumPy twin (several passes over memory) vs the fused kernel
  attention the textbook composition (builds the T x T score matrix) vs the fused
           kernel (online softmax, never builds it), in time and memory
  GPT      a training step's tokens/s and model-FLOPs utilisation

Times are medians of repeated runs; quote the ratios, the machine may be shared.
"""

from __future__ import annotations

import time

import numpy as np

from .. import kernels
from ..kernels import reference
from ..kernels.config import ISA_NAMES, config
from .timing import peak_memory, time_call


def _need_compiled():
    if kernels.compiled is None:
        raise RuntimeError(f"the compiled kernels are not built ({kernels.COMPILED_ERROR})")
    return kernels.compiled


def fp32_peak_gflops(nthreads: int = 1) -> float:
    """This machine's fp32 FMA peak, measured by a loop of independent FMAs (no memory)."""
    return float(_need_compiled().peak_gflops(np.float32, nthreads=nthreads))


def matmul_ladder(n: int = 512, n_python: int = 64, quick: bool = False) -> list[dict]:
    """GFLOP/s of each rung at n x n x n (the Python loop at n_python), fp32."""
    C = _need_compiled()
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    t = 0.02 if quick else 0.1
    rows = []

    def add(rung: str, seconds: float, size: int, threads: int) -> None:
        gf = 2.0 * size**3 / seconds / 1e9
        rows.append({"rung": rung, "n": size, "threads": threads, "gflops": gf})

    ap, bp = a[:n_python, :n_python], b[:n_python, :n_python]
    # through the kernel interface: under `--mine`, the learner's matmul_loops
    naive = kernels.ops.matmul_naive
    add("Python triple loop", time_call(lambda: naive(ap, bp), t, 1), n_python, 1)
    add("C triple loop (i-k-j)", time_call(lambda: C.gemm_naive(a, b), t), n, 1)
    old_isa, old_threads = config.isa, config.num_threads
    try:
        config.num_threads = 1
        config.isa = 0
        add("blocked + packed, 16-byte SIMD", time_call(lambda: C.gemm(a, b), t), n, 1)
        config.isa = config.best_isa
        add(
            f"+ {ISA_NAMES[config.best_isa]} micro-kernel", time_call(lambda: C.gemm(a, b), t), n, 1
        )
        config.num_threads = old_threads
        if old_threads > 1:
            add(f"+ {old_threads} threads", time_call(lambda: C.gemm(a, b), t), n, old_threads)
    finally:
        config.isa, config.num_threads = old_isa, old_threads
    add("NumPy (OpenBLAS)", time_call(lambda: a @ b, t), n, old_threads)
    return rows


def softmax_fused_vs_unfused(rows: int = 4096, cols: int = 1024, quick: bool = False) -> list[dict]:
    """Time and peak temporary memory of the NumPy twin vs the fused kernel."""
    C = _need_compiled()
    x = np.random.default_rng(0).standard_normal((rows, cols)).astype(np.float32)
    t = 0.02 if quick else 0.1
    out = []
    for name, fn in (
        ("NumPy twin (max, subtract, exp, sum, divide)", lambda: reference.softmax(x)),
        ("fused kernel (3 passes per row, in L1)", lambda: C.softmax(x)),
    ):
        sec = time_call(fn, t)
        out.append(
            {
                "version": name,
                "ms": sec * 1e3,
                "ns_per_element": sec / x.size * 1e9,
                "peak_mib": peak_memory(fn) / 2**20,
            }
        )
    return out


def attention_fused_vs_textbook(
    B: int = 1, H: int = 4, T: int = 512, D: int = 64, quick: bool = False
) -> list[dict]:
    """Causal attention forward + backward: the textbook composition vs the fused kernel."""
    from ..nn import functional as F
    from ..tensor import Tensor

    C = _need_compiled()
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((B, H, T, D)).astype(np.float32) for _ in range(3)]
    dout = rng.standard_normal((B, H, T, D)).astype(np.float32)

    def run(fused: bool) -> None:
        q, k, v = (Tensor(a, requires_grad=True) for a in arrays)
        if fused:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            y = F.scaled_dot_product_attention_reference(q, k, v, is_causal=True)
        y.backward(Tensor(dout))

    t = 0.02 if quick else 0.1
    inputs_and_grads = 8 * B * H * T * D * 4  # q k v out dout dq dk dv
    out = []
    for name, fused in (
        ("textbook (builds the T x T scores)", False),
        ("fused (online softmax)", True),
    ):
        sec = time_call(lambda fused=fused: run(fused), t)
        extra = peak_memory(lambda fused=fused: run(fused)) - inputs_and_grads
        if fused:
            extra += C.attention_scratch_bytes(B * H, T, T, D, nthreads=config.num_threads)
        out.append({"version": name, "ms": sec * 1e3, "extra_mib": max(extra, 0) / 2**20})
    out.append(
        {
            "version": "one T x T fp32 score matrix",
            "ms": None,
            "extra_mib": B * H * T * T * 4 / 2**20,
        }
    )
    return out


def _gpt_recipe_step():
    """(step function, model, tokens per step) for nanoGPT's CPU recipe on random tokens."""
    from .. import manual_seed
    from ..models.gpt import GPT, GPTConfig
    from ..models.train_gpt import TrainConfig, make_optimizer
    from ..nn.utils import clip_grad_norm_

    cfg = GPTConfig(block_size=64, vocab_size=65, n_layer=4, n_head=4, n_embd=128, bias=False)
    batch = 12
    manual_seed(0)
    model = GPT(cfg)
    opt = make_optimizer(model, TrainConfig())
    rng = np.random.default_rng(0)
    x, y = (rng.integers(0, cfg.vocab_size, (batch, cfg.block_size)) for _ in range(2))

    def step() -> None:
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    return step, model, batch * cfg.block_size


def gpt_step_throughput(quick: bool = False) -> dict:
    """tokens/s of one training step of nanoGPT's CPU recipe, and its model-FLOPs utilisation.

    FLOPs per token ~ 6 * parameters (forward 2, backward 4, per weight) plus the
    attention scores, 12 * n_layer * T * n_embd (forward + backward of q.k and p.v).
    """
    step, model, tokens = _gpt_recipe_step()
    cfg = model.config
    sec = time_call(step, 0.2 if quick else 1.0)
    n_params = model.num_parameters(non_embedding=False)
    flops_per_token = 6 * n_params + 12 * cfg.n_layer * cfg.block_size * cfg.n_embd
    achieved = flops_per_token * tokens / sec
    peak = fp32_peak_gflops(config.num_threads) * 1e9
    return {
        "ms_per_step": sec * 1e3,
        "tokens_per_s": tokens / sec,
        "gflops": achieved / 1e9,
        "mfu": achieved / peak,
        "peak_gflops": peak / 1e9,
    }


def memory_pool_effect(quick: bool = False, fresh_process: bool = True) -> list[dict]:
    """The GPT step with NumPy's own allocator and with our memory pool (csrc/mempool.c):
    minor page faults per step (the OS handing out fresh zeroed pages) and ms per step.

    A step frees and remakes the same arrays of 0.1-2 MB each time; without a pool
    their memory goes back to the OS and every first touch of a page faults again.
    Faults are counted with getrusage (POSIX); elsewhere they are None.

    glibc raises its mmap threshold each time it sees a big block freed, so how often
    a process faults depends on everything it did before. By default each allocator is
    therefore measured in a fresh Python process of its own, as a training script starts.
    """
    if not fresh_process:
        return [_step_with_allocator(quick, pool) for pool in (False, True)]
    import json
    import os
    import subprocess
    import sys

    rows = []
    for pool in (False, True):
        code = (
            "import json; from tinygrad_edu.lessons import bench; "
            f"print(json.dumps(bench._step_with_allocator({bool(quick)}, {pool})))"
        )
        env = dict(os.environ, TINYGRAD_EDU_MEMPOOL="1" if pool else "0")
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        )
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows


def _step_with_allocator(quick: bool, pool: bool) -> dict:
    """One row of memory_pool_effect: the GPT step with the pool on or off (then restored)."""
    from ..kernels import mempool

    _need_compiled()
    try:
        import resource

        def faults() -> int | None:
            return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    except ImportError:  # Windows

        def faults() -> int | None:
            return None

    was_on = mempool.is_enabled()
    if pool != was_on:
        mempool.enable() if pool else mempool.disable()
    try:
        step, _, _ = _gpt_recipe_step()
        for _ in range(3):  # warm-up: the pool fills, the caches settle
            step()
        n = 5 if quick else 20
        f0, t0 = faults(), time.perf_counter()
        for _ in range(n):
            step()
        sec, f1 = (time.perf_counter() - t0) / n, faults()
    finally:
        if mempool.is_enabled() != was_on:
            mempool.enable() if was_on else mempool.disable()
    return {
        "allocator": "memory pool" if pool else "NumPy's allocator (malloc/free)",
        "ms_per_step": sec * 1e3,
        "faults_per_step": None if f0 is None else (f1 - f0) / n,
    }


def report(quick: bool = False, out=print) -> None:
    """Print every ladder: what `tinygrad-edu bench` shows."""
    from .info import info

    i = info()
    out(
        f"tinygrad_edu {i['version']}: backend {i['backend']}, simd {i['simd']}, "
        f"{i['num_threads']} threads, OpenMP {'on' if i['openmp'] else 'off'}"
    )
    peak1 = fp32_peak_gflops(1)
    out(f"\nfp32 peak (measured FMA loop): {peak1:.0f} GFLOP/s per core")
    out("\nmatmul ladder (fp32):")
    for r in matmul_ladder(256 if quick else 512, quick=quick):
        out(
            f"  {r['rung']:<34} n={r['n']:<5} threads={r['threads']}  {r['gflops']:8.2f} GFLOP/s"
            f"  {100 * r['gflops'] / (peak1 * r['threads']):5.1f}% of peak"
        )
    out("\nsoftmax (4096 x 1024 fp32):")
    for r in softmax_fused_vs_unfused(quick=quick):
        out(
            f"  {r['version']:<46} {r['ms']:7.2f} ms  {r['ns_per_element']:5.2f} ns/elem  "
            f"peak temporaries {r['peak_mib']:6.1f} MiB"
        )
    out("\ncausal attention forward+backward (B=1, H=4, T=512, D=64):")
    for r in attention_fused_vs_textbook(quick=quick):
        ms = "" if r["ms"] is None else f"{r['ms']:7.2f} ms"
        out(f"  {r['version']:<38} {ms:>10}  extra memory {r['extra_mib']:6.1f} MiB")
    g = gpt_step_throughput(quick)
    out(
        f"\nGPT training step (nanoGPT CPU recipe): {g['ms_per_step']:.1f} ms, "
        f"{g['tokens_per_s']:,.0f} tokens/s, {g['gflops']:.1f} GFLOP/s = {100 * g['mfu']:.1f}% "
        f"of the {g['peak_gflops']:.0f} GFLOP/s peak"
    )
