"""The whole recipe, as whole processes: `train-gpt`'s 2000 iterations against the same
recipe in PyTorch, taking turns.

    python benchmarks/recipe.py            # 2 runs of each side, in turns (about 6 minutes)
    python benchmarks/recipe.py --runs 3
    python benchmarks/recipe.py --quick    # 200 iterations, 1 run of each

The step benchmark (gpt.py) times one training step; this one times everything a real run
does around it: drawing batches, the learning-rate schedule, evaluation every 250
iterations (20 batches of each split), and, on our side, the checkpoint written at every
evaluation. The question is whether the step's lead survives the whole run.

Both sides are separate Python processes started from here, one after the other, on two
threads:
  ours   tinygrad_edu.models.train_gpt.train(TrainConfig()) into a fresh folder: the
         recipe exactly as `tinygrad-edu train-gpt` runs it.
  torch  the same model (tests/torch_gpt.py, our initial weights copied in), the same
         batches (drawn by our TextData from the same seed, in the same order), the same
         schedule, clipping and AdamW groups, the same evaluation; no checkpoint writes.
Each prints its wall time, its time in training steps and its last losses; the table gives
the ratios of each pair of runs (above 1: ours is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.join(HERE, "..", "tests"))
import _harness as H  # noqa: E402

THREADS = 2


def run_ours(iters: int) -> dict:
    from tinygrad_edu.models.train_gpt import TrainConfig, train

    with tempfile.TemporaryDirectory() as out:
        cfg = TrainConfig(
            out=os.path.join(out, "run"), resume=False, progress=False, max_iters=iters
        )
        t0 = time.perf_counter()
        metrics = train(cfg, log=lambda *a, **k: None)
        wall = time.perf_counter() - t0
    last = metrics[-1]
    return {"wall": wall, "steps": last["elapsed_s"], "train": last["train_loss"],
            "val": last["val_loss"]}  # fmt: skip


def run_torch(iters: int) -> dict:
    import torch
    import torch_gpt

    from tinygrad_edu import rng
    from tinygrad_edu.models.train_gpt import (
        TextData,
        TrainConfig,
        _load_text_and_tokenizer,
        _new_model,
        estimate_loss,
        learning_rate,
    )

    torch.set_num_threads(THREADS)
    cfg = TrainConfig(resume=False, progress=False, max_iters=iters)
    t0 = time.perf_counter()
    rng.manual_seed(cfg.seed)  # as ours: the same initial weights, then the same batches
    tok, ids = _load_text_and_tokenizer(cfg, None)
    data = TextData(ids, cfg.block_size, cfg.val_fraction)
    ours = _new_model(cfg, tok.vocab_size)
    model = torch_gpt.build(ours.config)
    model.load_numpy(ours.state_dict())
    params = list(model.parameters())
    opt = torch.optim.AdamW(
        [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ],
        lr=cfg.learning_rate,
        betas=(cfg.beta1, cfg.beta2),
    )

    class NumpyIn:  # the twin as estimate_loss calls a model: NumPy batches in
        def __init__(self, m) -> None:
            self.m, self.eval, self.train = m, m.eval, m.train

        def __call__(self, x, y):
            return self.m(torch.from_numpy(x), torch.from_numpy(y))

    def estimate() -> dict:  # our evaluation itself, on the twin
        with torch.no_grad():
            return estimate_loss(NumpyIn(model), data, cfg)

    steps = 0.0
    for it in range(cfg.max_iters + 1):
        if it % cfg.eval_interval == 0 or it == cfg.max_iters:
            losses = estimate()
        if it == cfg.max_iters:
            break
        s0 = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = learning_rate(it, cfg)
        x, y = data.batch("train", cfg.batch_size)
        _, loss = model(torch.from_numpy(x), torch.from_numpy(y))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        steps += time.perf_counter() - s0
    wall = time.perf_counter() - t0
    return {"wall": wall, "steps": steps, "train": round(losses["train"], 4),
            "val": round(losses["val"], 4)}  # fmt: skip


def side(name: str, iters: int) -> dict:
    """One side in a process of its own (started without the OpenBLAS variables)."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    }
    env["OMP_NUM_THREADS"] = str(THREADS)
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--side", name, "--iters", str(iters)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"the {name} side failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="200 iterations, 1 run of each")
    ap.add_argument("--runs", type=int, default=2, help="runs of each side, in turns")
    ap.add_argument("--iters", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--side", choices=("ours", "torch"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:  # a child: one run, its figures as one JSON line
        print(json.dumps((run_ours if args.side == "ours" else run_torch)(args.iters)))
        return
    if H.torch_or_none() is None:
        print("PyTorch is not installed: nothing to compare with")
        return
    iters, runs = (200, 1) if args.quick else (2000, args.runs)
    rows = []
    for r in range(runs):
        a, b = side("ours", iters), side("torch", iters)
        rows.append(
            [r + 1, f"{a['wall']:.1f}", f"{b['wall']:.1f}", f"{b['wall'] / a['wall']:.2f}",
             f"{a['steps']:.1f}", f"{b['steps']:.1f}", f"{b['steps'] / a['steps']:.2f}",
             f"{a['val']:.3f}", f"{b['val']:.3f}"]
        )  # fmt: skip
    H.print_table(
        f"the recipe, {iters} iterations, whole processes in turns, {THREADS} threads "
        "(ratios: torch time / ours)",
        ["run", "ours s", "torch s", "whole run", "ours steps s", "torch steps s", "steps",
         "ours val", "torch val"],
        rows,
    )  # fmt: skip


if __name__ == "__main__":
    main()
