"""GPT training step, ours vs the same model in PyTorch: tokens per second.

    python benchmarks/gpt.py            # step timing, 1 and 2 threads
    python benchmarks/gpt.py --quick    # a short run (CI)
    python benchmarks/gpt.py --train    # also the full nanoGPT CPU recipe (2000 iterations)
    python benchmarks/gpt.py --fusion   # also the step with its fused epilogues vs unfused

Ours and PyTorch take turns (5 steps each, 15 rounds): the speed ratio is the median
of the rounds' ratios, so both sides see the same load on a shared machine.

One step = forward, cross-entropy, backward, gradient clipping at 1.0, AdamW with
weight decay on 2-D weights: exactly what `tinygrad-edu train-gpt` does per
iteration, on nanoGPT's CPU recipe (4 layers, 4 heads, 128 wide, block 64, batch 12),
and on a model 11x its size (6 layers, 6 heads, 384 wide, block 256, batch 8; 2 threads).
The PyTorch model is tests/torch_gpt.py: same architecture, same
initial weights, same batches.

Each table also gives the step's FLOPs (6 per parameter per token, forward 2 and
backward 4, plus attention's 12 * n_layer * T * n_embd: the count of
tinygrad_edu.lessons.bench.gpt_step_throughput), the GFLOP/s our step achieved and its
share of the machine's FMA peak, measured as `tinygrad-edu bench` does (compiled.peak_gflops:
independent FMA chains that never touch memory, on the same number of threads). Then
where our step's time goes: every `compiled.*` kernel call timed (the outermost call
only, so a kernel calling another is counted once), per step, and what is left, the
Python and NumPy between the kernels. Last, the GEMMs' own GFLOP/s and share of the step,
and the bound that share sets: if everything but the GEMMs took no time, ours/torch
would be the measured ratio divided by that share.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import _harness as H  # noqa: E402

H.reexec_clean()

import tinygrad_edu as tg  # noqa: E402
from tinygrad_edu.models.gpt import GPT, GPTConfig  # noqa: E402
from tinygrad_edu.models.train_gpt import TrainConfig, make_optimizer  # noqa: E402


def make_batches(n: int, cfg: GPTConfig, batch: int, seed: int = 0):
    r = np.random.default_rng(seed)
    return [
        (
            r.integers(0, cfg.vocab_size, (batch, cfg.block_size)),
            r.integers(0, cfg.vocab_size, (batch, cfg.block_size)),
        )
        for _ in range(n)
    ]


def ours_step_fn(model: GPT, batches):
    opt = make_optimizer(model, TrainConfig())
    state = {"i": 0}

    def step():
        x, y = batches[state["i"] % len(batches)]
        state["i"] += 1
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        tg.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    return step


def torch_step_fn(model: GPT, batches):
    torch = H.torch_or_none()
    import torch_gpt  # tests/torch_gpt.py

    twin = torch_gpt.build(model.config)
    twin.load_numpy(model.state_dict())
    params = list(twin.parameters())
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.99))
    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    state = {"i": 0}

    def step():
        x, y = tb[state["i"] % len(tb)]
        state["i"] += 1
        _, loss = twin(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(twin.parameters(), 1.0)
        opt.step()

    return step


# (name, config, batch, thread counts): nanoGPT's CPU recipe, and a model 11x its size
# (6 layers x 384 wide, block 256: nanoGPT's Shakespeare-char GPU config, batch 8).
SHAPES = [
    ("recipe", dict(block_size=64, n_layer=4, n_head=4, n_embd=128), 12, (1, 2)),
    ("6x384", dict(block_size=256, n_layer=6, n_head=6, n_embd=384), 8, (2,)),
]


def step_flops(model: GPT, tokens: int) -> float:
    """FLOPs of one training step (see the module docstring)."""
    cfg = model.config
    n_params = model.num_parameters(non_embedding=False)
    return tokens * (6 * n_params + 12 * cfg.n_layer * cfg.block_size * cfg.n_embd)


# kernel family of each compiled.* kernel the step calls (anything else: its own name)
FAMILIES = {
    "gemm": "GEMM",
    "matmul": "GEMM",
    "linear_gelu": "GEMM + bias + GELU (fused)",
    "linear_residual": "GEMM + bias + residual (fused)",
    "multi_head_attention_forward": "attention",
    "multi_head_attention_backward": "attention",
    "attention_forward": "attention",
    "attention_backward": "attention",
    "gelu": "GELU",
    "gelu_backward": "GELU",
    "layer_norm": "LayerNorm",
    "layer_norm_backward": "LayerNorm",
    "cross_entropy": "softmax / cross-entropy",
    "cross_entropy_backward": "softmax / cross-entropy",
    "softmax": "softmax / cross-entropy",
    "log_softmax": "softmax / cross-entropy",
    "adamw_update": "AdamW",
    "adam_update": "AdamW",
    "add": "adds and sums",
    "sum_to_shape": "adds and sums",
    "colsum": "adds and sums",
    "sum_squares": "clipping (norms, scale)",
    "scale_": "clipping (norms, scale)",
    "embedding_backward": "embedding",
}


def kernel_breakdown(step, n_steps: int) -> tuple[float, dict[str, float]]:
    """(seconds per step, {kernel family: seconds per step}) over n_steps steps, with
    every compiled.* kernel wrapped in a timer while they run (then unwrapped)."""
    from tinygrad_edu.kernels import compiled as C
    from tinygrad_edu.kernels.interface import KERNELS

    totals: dict[str, float] = {}
    depth = [0]

    def timed(name, fn):
        def call(*args, **kwargs):
            if depth[0]:  # called by another kernel: counted in that one
                return fn(*args, **kwargs)
            depth[0] += 1
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                totals[name] = totals.get(name, 0.0) + time.perf_counter() - t0
                depth[0] -= 1

        return call

    # mlp_forward only calls linear_gelu and linear_residual (or gemm): those are timed
    names = [k for k in KERNELS if k != "mlp_forward"]
    originals = {k: getattr(C, k) for k in names if callable(getattr(C, k, None))}
    try:
        for k, fn in originals.items():
            setattr(C, k, timed(k, fn))
        step()  # warm-up
        totals.clear()
        t0 = time.perf_counter()
        for _ in range(n_steps):
            step()
        total = (time.perf_counter() - t0) / n_steps
    finally:
        for k, fn in originals.items():
            setattr(C, k, fn)
    families: dict[str, float] = {}
    for k, t in totals.items():
        fam = FAMILIES.get(k, k)
        families[fam] = families.get(fam, 0.0) + t / n_steps
    return total, families


GEMM_FAMILIES = ("GEMM", "GEMM + bias + GELU (fused)", "GEMM + bias + residual (fused)")


def print_gemm_limit(
    total: float, families: dict[str, float], gemm_flops: float, peak: float, ratio: float | None
) -> None:
    """The GEMMs' own speed and share of the step, and the ratio to PyTorch the step could
    reach at most if everything but its GEMMs took no time: the measured ratio divided by
    the GEMMs' share (a share, not a time, so that the breakdown's run and the ratio's run
    need not see the same load)."""
    t_gemm = sum(families.get(f, 0.0) for f in GEMM_FAMILIES)
    if t_gemm <= 0:
        return
    rate, share = gemm_flops / t_gemm, t_gemm / total
    line = (
        f"  the GEMMs (plain and fused): {t_gemm * 1e3:.2f} ms per step ({100 * share:.0f}%), "
        f"{rate / 1e9:.0f} GFLOP/s, {100 * rate / peak:.0f}% of the FMA peak"
    )
    if ratio is not None:
        line += f"; with all else free, ours/torch would be at most {ratio / share:.2f}"
    print(line)


def print_breakdown(title: str, total: float, families: dict[str, float]) -> None:
    rest = total - sum(families.values())
    rows = [
        [fam, f"{t * 1e3:.2f}", f"{100 * t / total:.1f}"]
        for fam, t in sorted(families.items(), key=lambda kv: -kv[1])
    ]
    rows.append(
        ["Python and NumPy between kernels", f"{rest * 1e3:.2f}", f"{100 * rest / total:.1f}"]
    )
    rows.append(["the whole step (timed with the wrappers on)", f"{total * 1e3:.2f}", "100.0"])
    H.print_table(title, ["kernel family", "ms per step", "% of step"], rows)


def unfused(step):
    """step with the fused epilogues undone: compiled.linear_gelu and linear_residual
    replaced, while it runs, by the kernels they fuse (gemm, the bias, then gelu or the
    add), each a pass over memory of its own. The same numbers and the same ops: only
    the kernels' memory traffic differs."""
    from tinygrad_edu.kernels import compiled as C

    def linear_gelu(x, w, b=None, approximate="none"):
        h = C.gemm(x, w.T)
        if b is not None:
            h += b
        return h, C.gelu(h, approximate)

    def linear_residual(x, w, b, r):
        y = C.gemm(x, w.T)
        if b is not None:
            y += b
        return C.add(r, y)

    def run():
        fused = C.linear_gelu, C.linear_residual
        C.linear_gelu, C.linear_residual = linear_gelu, linear_residual
        try:
            step()
        finally:
            C.linear_gelu, C.linear_residual = fused

    return run


def bench_fusion(quick: bool) -> None:
    """The recipe step with the fused epilogues against the same step unfused, in turns."""
    name, dims, batch, thread_counts = SHAPES[0]
    cfg = GPTConfig(vocab_size=65, bias=False, **dims)
    rows = []
    for n in thread_counts:
        with H.threads(n):
            tg.manual_seed(0)
            model = GPT(cfg)
            ours = ours_step_fn(model, make_batches(8, cfg, batch))
            t_f, t_u, ratio = H.time_interleaved(ours, unfused(ours), 5, 4 if quick else 15)
        rows.append([n, f"{t_f * 1e3:.2f}", f"{t_u * 1e3:.2f}", f"{ratio:.3f}"])
    H.print_table(
        f"fused epilogues vs the same kernels unfused, {name} step",
        ["threads", "fused ms", "unfused ms", "unfused time / fused"],
        rows,
    )


def bench_steps(quick: bool, shapes: list[str]) -> None:
    torch = H.torch_or_none()
    for name, dims, batch, thread_counts in SHAPES:
        if name not in shapes:
            continue
        cfg = GPTConfig(vocab_size=65, bias=False, **dims)
        tokens = batch * cfg.block_size
        rows, breakdowns = [], []
        for n in thread_counts:
            with H.threads(n):
                tg.manual_seed(0)
                model = GPT(cfg)
                batches = make_batches(8 if name == "recipe" else 4, cfg, batch)
                ours = ours_step_fn(model, batches)
                t_torch = ratio = None
                steps, rounds = (
                    (5, 4 if quick else 15) if name == "recipe" else (1, 3 if quick else 9)
                )
                if torch is None:
                    t_ours = H.timeit(
                        ours, min_time=0.3 if quick else 1.0, repeats=3 if quick else 5
                    )
                else:  # taking turns, so that both see the same load (see H.time_interleaved)
                    t_ours, t_torch, ratio = H.time_interleaved(
                        ours, torch_step_fn(model, batches), steps=steps, rounds=rounds
                    )
                peak = H.fma_peak(np.float32, n) * 1e9
                gflops = step_flops(model, tokens) / t_ours
                # the GEMMs' FLOPs: 6 per parameter per token (the rest of step_flops is
                # attention's scores and weighted sums, done by the attention kernels)
                gemm_flops = 6.0 * model.num_parameters(non_embedding=False) * tokens
                breakdowns.append(
                    (
                        n,
                        *kernel_breakdown(ours, 2 if quick else steps * 2),
                        gemm_flops,
                        peak,
                        ratio,
                    )
                )
            rows.append(
                [
                    n,
                    f"{t_ours * 1e3:.1f}",
                    f"{tokens / t_ours:,.0f}",
                    "-" if t_torch is None else f"{t_torch * 1e3:.1f}",
                    "-" if t_torch is None else f"{tokens / t_torch:,.0f}",
                    "-" if ratio is None else f"{ratio:.2f}",
                    f"{step_flops(model, tokens) / 1e9:.2f}",
                    f"{gflops / 1e9:.0f}",
                    f"{peak / 1e9:.0f}",
                    f"{100 * gflops / peak:.0f}%",
                ]
            )
        H.print_table(
            f"GPT training step (fwd+bwd+clip+AdamW), {cfg.n_layer}x{cfg.n_embd}, B={batch} "
            f"T={cfg.block_size}, {tokens} tokens/step; backend {tg.info()['backend']}, "
            f"simd {tg.info()['simd']}",
            [
                "threads",
                "ours ms",
                "ours tok/s",
                "torch ms",
                "torch tok/s",
                "ours/torch speed",
                "GFLOP/step",
                "ours GFLOP/s",
                "FMA peak GFLOP/s",
                "share of peak",
            ],
            rows,
        )
        for n, total, families, gemm_flops, peak, ratio in breakdowns:
            print_breakdown(
                f"where our step's time goes, {cfg.n_layer}x{cfg.n_embd}, {n} thread(s)",
                total,
                families,
            )
            print_gemm_limit(total, families, gemm_flops, peak, ratio)


def train_recipe(quick: bool) -> None:
    from tinygrad_edu.models.train_gpt import train

    out = os.path.join("out", "bench-gpt")
    cfg = TrainConfig(out=out, resume=False, progress=False, max_iters=200 if quick else 2000)
    t0 = time.perf_counter()
    metrics = train(cfg, log=lambda *a: None)
    wall = time.perf_counter() - t0
    last = metrics[-1]
    H.print_table(
        "nanoGPT CPU recipe on tiny Shakespeare (ours)",
        ["iters", "val loss", "train loss", "train time s", "wall s", "tokens/s"],
        [
            [
                last["iter"],
                last["val_loss"],
                last["train_loss"],
                last["elapsed_s"],
                f"{wall:.1f}",
                f"{last['iter'] * 12 * 64 / last['elapsed_s']:,.0f}",
            ]
        ],
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--train", action="store_true", help="also run the 2000-iteration recipe")
    ap.add_argument(
        "--fusion", action="store_true", help="also the recipe step fused vs unfused, in turns"
    )
    ap.add_argument(
        "--shapes",
        default="recipe,6x384",
        help="comma-separated: recipe (4x128, B12 T64) and/or 6x384 (B8 T256)",
    )
    args = ap.parse_args()
    print(f"NumPy BLAS: {H.openblas_kernel()}")
    for n in (1, 2):  # the FMA peaks, measured before any timing
        H.fma_peak(np.float32, n)
    bench_steps(args.quick, args.shapes.split(","))
    if args.fusion:
        bench_fusion(args.quick)
    if args.train:
        train_recipe(args.quick)


if __name__ == "__main__":
    main()
