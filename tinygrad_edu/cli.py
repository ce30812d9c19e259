"""The command line: `tinygrad-edu <command>` (also `python -m tinygrad_edu`)."""

from __future__ import annotations

import argparse
import sys


def _cmd_info(args: argparse.Namespace) -> int:
    from .info import info

    for key, value in info().items():
        print(f"{key:>18}: {value}")
    return 0


def _cmd_train_gpt(args: argparse.Namespace) -> int:
    from .models.train_gpt import TrainConfig, train

    values = {
        k: v for k, v in vars(args).items() if k in TrainConfig.field_names() and v is not None
    }
    cfg = TrainConfig(**values)
    metrics = train(cfg)
    last = metrics[-1]
    print(f"done: iter {last['iter']}, val loss {last['val_loss']:.4f}; checkpoint in {cfg.out}")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from . import rng
    from .models.gpt import GPT
    from .models.hf import generate_until
    from .tokenizer import load_tokenizer

    model = GPT.from_pretrained(args.ckpt)
    tok = load_tokenizer(args.ckpt)  # ours, or GPT-2's in any of its published forms
    eot = getattr(tok, "eot_id", None)  # GPT-2's <|endoftext|>; None for ours
    if args.stop_at_eot and eot is None:
        raise ValueError(f"--stop-at-eot: the tokenizer in {args.ckpt!r} has no <|endoftext|>")
    rng.manual_seed(args.seed)
    # No prompt: GPT-2 starts a fresh document after <|endoftext|>; ours after a newline.
    if args.prompt:
        ids = tok.encode(args.prompt)
    else:
        ids = [eot] if eot is not None else tok.encode("\n")
    if not ids:
        raise ValueError("the prompt encodes to no tokens")
    out = generate_until(
        model, ids, args.max_new_tokens, stop_id=eot if args.stop_at_eot else None,
        temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
    )  # fmt: skip
    if out[0] == eot and not args.prompt:
        out = out[1:]
    if args.stop_at_eot and out and out[-1] == eot:
        out = out[:-1]
    print(tok.decode(out))
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from .bench import report

    report(quick=args.quick)
    return 0


def _cmd_train_mnist(args: argparse.Namespace) -> int:
    """Train an MLP on the digits (lesson 4) and print test accuracy per epoch."""
    import json
    import os
    import time

    import numpy as np

    from . import nn, optim
    from .autograd import no_grad
    from .checkpoint import save
    from .data import DataLoader, load_digits, load_mnist_idx
    from .nn import functional as F
    from .rng import manual_seed
    from .tensor import Tensor

    if args.data:  # the full MNIST from its IDX files
        (X, y), (Xt, yt) = load_mnist_idx(args.data)
    else:
        (X, y), (Xt, yt) = load_digits("train", seed=0), load_digits("test", seed=0)
    manual_seed(args.seed)
    activations = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU}
    sizes = [X.shape[1], *args.hidden, 10]
    layers: list = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(activations[args.activation]())
    model = nn.Sequential(*layers)
    lr = args.lr if args.lr is not None else (0.5 if args.optimizer == "sgd" else 1e-3)
    if args.optimizer == "sgd":
        opt = optim.SGD(model.parameters(), lr=lr, momentum=args.momentum)
    else:
        opt = {"adam": optim.Adam, "adamw": optim.AdamW}[args.optimizer](model.parameters(), lr=lr)
    loader = DataLoader(X, y, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    print(f"{'-'.join(map(str, sizes))} {args.activation}, {args.optimizer} lr {lr}, "
          f"{len(X)} train / {len(Xt)} test digits, {model.num_parameters():,} parameters")  # fmt: skip
    print("epoch   train cost   test accuracy   seconds")
    start, accuracy = time.perf_counter(), 0.0
    for epoch in range(1, args.epochs + 1):
        total = 0.0
        for xb, yb in loader:
            cost = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            cost.backward()
            opt.step()
            total += cost.item()
        with no_grad():
            accuracy = float((model(Tensor(Xt)).argmax(1).numpy() == yt).mean())
        elapsed = time.perf_counter() - start
        print(f"{epoch:5d}   {total / len(loader):10.4f}   {accuracy:13.4f}   {elapsed:7.1f}")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        config = {"sizes": sizes, "activation": args.activation, "test_accuracy": accuracy}
        save(model.state_dict(), os.path.join(args.out, "model.safetensors"),
             metadata={"config": json.dumps(config)})  # fmt: skip
        with open(os.path.join(args.out, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
        print(f"checkpoint: {os.path.join(args.out, 'model.safetensors')} (+ config.json)")
    return 0 if np.isfinite(accuracy) else 1


def _add_train_gpt(sub) -> None:
    from .models.train_gpt import TrainConfig

    d = TrainConfig()
    p = sub.add_parser(
        "train-gpt",
        help="train a GPT on text (default: the embedded tiny Shakespeare)",
        description="Defaults are nanoGPT's CPU recipe for tiny Shakespeare.",
    )
    p.add_argument("--data", help="a UTF-8 text file (default: embedded tiny Shakespeare)")
    p.add_argument("--out", default=d.out, help=f"output folder (default {d.out})")
    p.add_argument("--tokenizer", choices=["char", "bpe"], help="default char")
    for name in (
        "block_size",
        "batch_size",
        "n_layer",
        "n_head",
        "n_embd",
        "max_iters",
        "warmup_iters",
        "lr_decay_iters",
        "eval_interval",
        "eval_iters",
        "seed",
        "bpe_vocab_size",
    ):
        p.add_argument(
            "--" + name.replace("_", "-"), dest=name, type=int, help=f"default {getattr(d, name)}"
        )
    for name in (
        "dropout",
        "learning_rate",
        "min_lr",
        "beta1",
        "beta2",
        "weight_decay",
        "grad_clip",
        "val_fraction",
    ):
        p.add_argument(
            "--" + name.replace("_", "-"), dest=name, type=float, help=f"default {getattr(d, name)}"
        )
    p.add_argument(
        "--bias",
        dest="bias",
        action="store_true",
        default=None,
        help="biases in Linear and LayerNorm (default off)",
    )
    p.add_argument(
        "--no-resume",
        dest="resume",
        action="store_false",
        default=None,
        help="start afresh even if --out holds a run",
    )
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None)
    p.set_defaults(func=_cmd_train_gpt)


def _add_train_mnist(sub) -> None:
    p = sub.add_parser(
        "train-mnist",
        help="train an MLP on handwritten digits (lesson 4)",
        description="Default: 784-100-10 ReLU with Adam on the embedded 5,000 digits. "
        "The lecture's network: --hidden 16 16 --activation sigmoid --optimizer sgd --lr 0.5",
    )
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=None, help="default 1e-3 (Adam) or 0.5 (SGD)")
    p.add_argument("--hidden", type=int, nargs="+", default=[100], help="hidden layer sizes")
    p.add_argument("--activation", choices=["relu", "sigmoid", "tanh", "gelu"], default="relu")
    p.add_argument("--optimizer", choices=["adam", "adamw", "sgd"], default="adam")
    p.add_argument("--momentum", type=float, default=0.0, help="SGD momentum")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", help="a folder with the MNIST IDX files (default: embedded digits)")
    p.add_argument("--out", help="folder to save model.safetensors and config.json in")
    p.set_defaults(func=_cmd_train_mnist)


def _add_sample(sub) -> None:
    p = sub.add_parser("sample", help="generate text from a trained GPT checkpoint")
    p.add_argument(
        "--ckpt", required=True, help="folder written by train-gpt, or a Hugging Face GPT-2 folder"
    )
    p.add_argument(
        "--prompt", default="", help="text to continue (default: a newline; GPT-2: <|endoftext|>)"
    )
    p.add_argument("--max-new-tokens", type=int, default=500)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument(
        "--stop-at-eot",
        action="store_true",
        help="stop at <|endoftext|> (GPT-2's end of a document), not printed",
    )
    p.set_defaults(func=_cmd_sample)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tinygrad-edu", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, backend, threads and SIMD level").set_defaults(
        func=_cmd_info
    )
    _add_train_mnist(sub)
    _add_train_gpt(sub)
    _add_sample(sub)
    b = sub.add_parser("bench", help="the engine room: matmul ladder, fused kernels, GPT tokens/s")
    b.add_argument("--quick", action="store_true", help="smaller sizes, shorter timings")
    b.set_defaults(func=_cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
