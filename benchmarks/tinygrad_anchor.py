"""The namesake as an anchor: our GPT and MLP training steps vs the same steps in tinygrad.

    pip install tinygrad==0.14.0
    python benchmarks/tinygrad_anchor.py            # both steps, 2 threads
    python benchmarks/tinygrad_anchor.py --quick    # fewer rounds

The GPT step = forward, cross-entropy, backward, gradient clipping at 1.0, AdamW (weight
decay 0.1 on 2-D weights only), on nanoGPT's CPU recipe (4 layers, 4 heads, 128 wide,
block 64, batch 12), the same initial weights and batches on both sides.

The MLP step = lesson 4's modern network (784-100-10, ReLU, cross-entropy, Adam lr 1e-3)
on a mini-batch of 32 digits: forward, backward, update. Same weights and batches on both
sides; the first steps' losses are compared before anything is timed, so the two sides
are shown to compute the same thing.

tinygrad runs with the settings its documentation gives for speed that we could use
here: its default device (CPU, kernels compiled by clang), the whole step captured once
by TinyJit and replayed, and as many CPU threads as ours (NUM_CPU_THREADS). BEAM search
(BEAM=2, a search over kernel variants at compile time) is left out: its compile time
for a whole training step does not fit a benchmark run. tinygrad's GELU is the tanh form,
so both sides use it here (GPTConfig(activation="gelu_tanh"); the recipe's is the exact
one): the same computation, and the same losses step by step.

Ours and tinygrad take turns (H.time_interleaved): the ratio is the median of the rounds'.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as H  # noqa: E402

H.reexec_clean()

THREADS = 2
os.environ.setdefault("NUM_CPU_THREADS", str(THREADS))  # read when tinygrad is imported

from gpt import make_batches, ours_step_fn  # noqa: E402

import tinygrad_edu as tg  # noqa: E402
from tinygrad_edu.models.gpt import GPT, GPTConfig  # noqa: E402


def replay(step, data):
    """A function running step(x, y) on the batches of data in turn; returns the loss."""
    state = {"i": 0}

    def run():
        x, y = data[state["i"] % len(data)]
        state["i"] += 1
        return step(x, y).item()

    return run


def tinygrad_step_fn(model: GPT, batches):
    """The same step in tinygrad, captured by TinyJit, on model's initial weights."""
    from tinygrad import Tensor, TinyJit
    from tinygrad.helpers import Context
    from tinygrad.nn.optim import AdamW, OptimizerGroup

    cfg = model.config
    C, nh = cfg.n_embd, cfg.n_head
    p = {k: Tensor(v.copy()) for k, v in model.state_dict().items()}  # float: gets a .grad
    p["lm_head.weight"] = p["transformer.wte.weight"]  # tied, as in ours
    params = list({id(t): t for t in p.values()}.values())
    decay = [t for t in params if t.ndim >= 2]
    no_decay = [t for t in params if t.ndim < 2]
    opt = OptimizerGroup(
        AdamW(decay, lr=1e-3, b1=0.9, b2=0.99, eps=1e-8, weight_decay=0.1),
        AdamW(no_decay, lr=1e-3, b1=0.9, b2=0.99, eps=1e-8, weight_decay=0.0),
    )

    def ln(x, name):
        return x.layernorm(eps=cfg.layer_norm_eps) * p[name + ".weight"]

    def loss_of(idx, targets):
        B, T = idx.shape
        pos = Tensor.arange(T)
        x = p["transformer.wte.weight"][idx] + p["transformer.wpe.weight"][pos]
        for i in range(cfg.n_layer):
            h = f"transformer.h.{i}."
            qkv = ln(x, h + "ln_1") @ p[h + "attn.c_attn.weight"].T
            q, k, v = (t.reshape(B, T, nh, C // nh).transpose(1, 2) for t in qkv.split(C, dim=2))
            y = q.scaled_dot_product_attention(k, v, is_causal=True)
            y = y.transpose(1, 2).reshape(B, T, C)
            x = x + y @ p[h + "attn.c_proj.weight"].T
            m = (ln(x, h + "ln_2") @ p[h + "mlp.c_fc.weight"].T).gelu()
            x = x + m @ p[h + "mlp.c_proj.weight"].T
        logits = ln(x, "transformer.ln_f") @ p["lm_head.weight"].T
        return logits.reshape(B * T, -1).sparse_categorical_crossentropy(targets.reshape(-1))

    @TinyJit
    def step(idx, targets):
        with Context(TRAINING=1):
            opt.zero_grad()
            loss = loss_of(idx, targets)
            loss.backward()
            loss.realize()  # before the update below changes the weights in place
            norm = Tensor.stack(*[t.grad.square().sum() for t in params]).sum().sqrt()
            scale = (1.0 / (norm + 1e-6)).minimum(1.0)
            for t in params:
                t.grad = t.grad * scale
            opt.step()
            return loss

    return replay(
        step, [(Tensor(x.astype(np.int32)), Tensor(y.astype(np.int32))) for x, y in batches]
    )


def mlp_weights() -> dict:
    """Lesson 4's 784-100-10 ReLU network, built by our library from seed 0."""
    from tinygrad_edu import nn

    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))
    return {k: v.copy() for k, v in model.state_dict().items()}


def mlp_batches(n: int, batch: int = 32):
    from tinygrad_edu.data import load_digits

    X, y = load_digits("train", seed=0)
    order = np.random.default_rng(0).permutation(len(X))
    picks = [order[i * batch : (i + 1) * batch] for i in range(n)]
    return [(X[idx], y[idx]) for idx in picks]


def ours_mlp_step_fn(weights: dict, batches):
    from tinygrad_edu import nn, optim
    from tinygrad_edu.nn import functional as F

    model = nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))
    model.load_state_dict(weights)
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def step(x, y):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return replay(step, [(tg.Tensor(x), tg.Tensor(y)) for x, y in batches])


def tinygrad_mlp_step_fn(weights: dict, batches):
    from tinygrad import Tensor, TinyJit
    from tinygrad.helpers import Context
    from tinygrad.nn.optim import Adam

    p = {k: Tensor(v.copy()) for k, v in weights.items()}
    opt = Adam(list(p.values()), lr=1e-3)

    @TinyJit
    def step(x, y):
        with Context(TRAINING=1):
            opt.zero_grad()
            h = (x @ p["0.weight"].T + p["0.bias"]).relu()
            loss = (h @ p["2.weight"].T + p["2.bias"]).sparse_categorical_crossentropy(y)
            loss.backward()
            loss.realize()  # (lazy) before the update changes the weights in place
            opt.step()
            return loss

    return replay(step, [(Tensor(x), Tensor(y.astype(np.int32))) for x, y in batches])


def mlp_anchor(quick: bool) -> list:
    """The MLP row: the same losses first, then the steps in turns."""
    weights, batches = mlp_weights(), mlp_batches(16)
    ours, theirs = ours_mlp_step_fn(weights, batches), tinygrad_mlp_step_fn(weights, batches)
    first = [(ours(), theirs()) for _ in range(8)]  # TinyJit captures within these
    worst = max(abs(a - b) for a, b in first)
    if worst > 1e-4:
        raise SystemExit(f"the MLP steps differ: losses {first}")
    t_ours, t_theirs, ratio = H.time_interleaved(ours, theirs, steps=20, rounds=4 if quick else 11)
    return [
        "MLP 784-100-10 ReLU, Adam, batch 32",
        t_ours * 1e3,
        f"{32 / t_ours:,.0f}",
        t_theirs * 1e3,
        f"{32 / t_theirs:,.0f}",
        f"{ratio:.1f}",
        f"{worst:.1e}",
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    try:
        import tinygrad  # noqa: F401
    except ImportError:
        print("tinygrad is not installed: nothing to compare with (pip install tinygrad==0.14.0)")
        return
    from importlib.metadata import version

    cfg = GPTConfig(
        block_size=64, vocab_size=65, n_layer=4, n_head=4, n_embd=128, bias=False,
        activation="gelu_tanh",
    )  # fmt: skip
    batch = 12
    tokens = batch * cfg.block_size
    with H.threads(THREADS):
        tg.manual_seed(0)
        model = GPT(cfg)
        batches = make_batches(8, cfg, batch)
        theirs = tinygrad_step_fn(model, batches)
        # TinyJit: the first calls run and capture, later ones replay
        their_losses = [theirs() for _ in range(3)]
        ours = ours_step_fn(model, batches)  # from the same initial weights
        our_losses = [float(ours().item()) for _ in range(3)]
        gpt_worst = max(abs(a - b) for a, b in zip(our_losses, their_losses))
        if gpt_worst > 1e-3:
            raise SystemExit(f"the GPT steps differ: ours {our_losses}, tinygrad {their_losses}")
        t_ours, t_theirs, ratio = H.time_interleaved(
            ours, theirs, steps=5, rounds=4 if args.quick else 11
        )
        mlp_row = mlp_anchor(args.quick)
    H.print_table(
        f"Training steps, {THREADS} threads; tinygrad {version('tinygrad')}, TinyJit, "
        f"NUM_CPU_THREADS={THREADS} (per step; items: tokens for the GPT, examples for the MLP)",
        [
            "step",
            "ours ms",
            "ours items/s",
            "tinygrad ms",
            "tinygrad items/s",
            "ours/tinygrad speed",
            "first losses differ by",
        ],
        [
            [
                f"GPT {cfg.n_layer}x{cfg.n_embd}, B={batch} T={cfg.block_size}",
                t_ours * 1e3,
                f"{tokens / t_ours:,.0f}",
                t_theirs * 1e3,
                f"{tokens / t_theirs:,.0f}",
                f"{ratio:.1f}",
                f"{gpt_worst:.1e}",
            ],
            mlp_row,
        ],  # fmt: skip
    )


if __name__ == "__main__":
    main()
