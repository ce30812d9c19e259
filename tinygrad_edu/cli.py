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
    import os

    from . import rng
    from .models.gpt import GPT
    from .tokenizer import load_tokenizer

    model = GPT.from_pretrained(args.ckpt)
    tok_path = os.path.join(args.ckpt, "tokenizer.json")
    if not os.path.isfile(tok_path):
        raise FileNotFoundError(f"checkpoint folder {args.ckpt!r} has no tokenizer.json")
    tok = load_tokenizer(tok_path)
    rng.manual_seed(args.seed)
    prompt = args.prompt if args.prompt else "\n"
    ids = tok.encode(prompt)
    if not ids:
        raise ValueError("the prompt encodes to no tokens")
    out = model.generate(
        [ids], args.max_new_tokens, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p
    )
    print(tok.decode(out[0].tolist()))
    return 0


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


def _add_sample(sub) -> None:
    p = sub.add_parser("sample", help="generate text from a trained GPT checkpoint")
    p.add_argument("--ckpt", required=True, help="folder written by train-gpt")
    p.add_argument("--prompt", default="", help="text to continue (default: a newline)")
    p.add_argument("--max-new-tokens", type=int, default=500)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--seed", type=int, default=1337)
    p.set_defaults(func=_cmd_sample)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tinygrad-edu", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, backend, threads and SIMD level").set_defaults(
        func=_cmd_info
    )
    _add_train_gpt(sub)
    _add_sample(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
