"""GPT training step, ours vs the same model in PyTorch: tokens per second.

    python benchmarks/gpt.py            # step timing, 1 and 2 threads
    python benchmarks/gpt.py --quick    # a short run (CI)
    python benchmarks/gpt.py --train    # also the full nanoGPT CPU recipe (2000 iterations)

Ours and PyTorch take turns (5 steps each, 15 rounds): the speed ratio is the median
of the rounds' ratios, so both sides see the same load on a shared machine.

One step = forward, cross-entropy, backward, gradient clipping at 1.0, AdamW with
weight decay on 2-D weights: exactly what `tinygrad-edu train-gpt` does per
iteration, on nanoGPT's CPU recipe (4 layers, 4 heads, 128 wide, block 64, batch 12),
and on a model 11x its size (6 layers, 6 heads, 384 wide, block 256, batch 8; 2 threads).
The PyTorch model is tests/torch_gpt.py: same architecture, same
initial weights, same batches.
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


def bench_steps(quick: bool, shapes: list[str]) -> None:
    torch = H.torch_or_none()
    for name, dims, batch, thread_counts in SHAPES:
        if name not in shapes:
            continue
        cfg = GPTConfig(vocab_size=65, bias=False, **dims)
        tokens = batch * cfg.block_size
        rows = []
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
            rows.append(
                [
                    n,
                    f"{t_ours * 1e3:.1f}",
                    f"{tokens / t_ours:,.0f}",
                    "-" if t_torch is None else f"{t_torch * 1e3:.1f}",
                    "-" if t_torch is None else f"{tokens / t_torch:,.0f}",
                    "-" if ratio is None else f"{ratio:.2f}",
                ]
            )
        H.print_table(
            f"GPT training step (fwd+bwd+clip+AdamW), {cfg.n_layer}x{cfg.n_embd}, B={batch} "
            f"T={cfg.block_size}, {tokens} tokens/step; backend {tg.info()['backend']}, "
            f"simd {tg.info()['simd']}",
            ["threads", "ours ms", "ours tok/s", "torch ms", "torch tok/s", "ours/torch speed"],
            rows,
        )


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
        "--shapes",
        default="recipe,6x384",
        help="comma-separated: recipe (4x128, B12 T64) and/or 6x384 (B8 T256)",
    )
    args = ap.parse_args()
    print(f"NumPy BLAS: {H.openblas_kernel()}")
    bench_steps(args.quick, args.shapes.split(","))
    if args.train:
        train_recipe(args.quick)


if __name__ == "__main__":
    main()
