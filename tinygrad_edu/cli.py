"""The command line: `tinygrad-edu <command>` (also `python -m tinygrad_edu`)."""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys


# argparse `type=` checks: a bad value is refused with the option named ("argument
# --val-fraction: ..."), before any work starts.
def _int_at_least(low: int):
    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    check.__name__ = f"integer >= {low}"
    return check


def _float_in(low: float, high: float = math.inf, low_open: bool = False, high_open: bool = False):
    def check(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if not math.isfinite(value) or too_low or too_high:
            lo, hi = "(" if low_open else "[", ")" if high_open or high == math.inf else "]"
            raise argparse.ArgumentTypeError(
                f"must be a number in {lo}{low:g}, {high:g}{hi}, got {text}"
            )
        return value

    check.__name__ = "number"
    return check


def _cmd_info(args: argparse.Namespace) -> int:
    from .info import info

    for key, value in info().items():
        print(f"{key:>18}: {value}")
    return 0


# Ctrl-C (SIGINT) ends a command with one line on stderr, not a traceback, and exit status
# 130: what a shell shows for a command stopped by Ctrl-C (128 + SIGINT's number, 2).
# SIGTERM (`kill PID`, a job scheduler's time limit) is handled the same way, status 143.
# Nothing is lost to either: train-gpt's checkpoints are published whole (checkpoint.py),
# and its lock is released on the way out.
INTERRUPTED = 130


class _Signals:
    """While main() runs: SIGINT and SIGTERM raise KeyboardInterrupt where the program is,
    so that `finally` blocks run (the lock is released) and the command says what is kept.
    The first signal counts; a second one while stopping is ignored (one line, always).
    Before main() runs, _startup.py handles them; after it, at the command line, they are
    ignored: the exit status is decided by then."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.previous: dict = {}
        self.closing = False

    def __enter__(self) -> _Signals:
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.getsignal(sig)
                if self.previous[sig] is not signal.SIG_IGN:  # (ignored on purpose: stays)
                    signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame) -> None:
        if self.received is None and not self.closing:  # (closing: the command is done)
            self.received = signum
            raise KeyboardInterrupt

    def __exit__(self, *exc) -> None:
        self.closing = True
        for sig, handler in self.previous.items():
            if getattr(handler, "__module__", None) == "tinygrad_edu._startup":
                handler = signal.SIG_IGN  # the command line is ending: no second message
            if handler is not None:  # (None: set outside Python, cannot be put back)
                signal.signal(sig, handler)

    def how(self) -> tuple[str, int]:
        """("interrupted", 130) after SIGINT (or a KeyboardInterrupt of the program's own),
        ("terminated (SIGTERM)", 143) after SIGTERM."""
        if self.received == signal.SIGTERM:
            return "terminated (SIGTERM)", 128 + signal.SIGTERM
        return "interrupted", INTERRUPTED


_signals = _Signals()  # the one main() is using (train-gpt's message asks it)

# What a command reads (a checkpoint, a text, a tokenizer, a folder) may be missing or
# damaged: the loaders then raise one of these with a message naming the file (and the
# tensor, for NaN weights). Commands marked report_errors=True print it as one line,
# `COMMAND: error: ...`, exit status 2, like argparse's own errors; a traceback is for
# bugs in the code, not in the files.
USER_ERRORS = (ValueError, OSError, ImportError)


def _interrupted_message(exc: BaseException, no_resume: bool, how: str = "interrupted") -> str:
    """What a Ctrl-C (or SIGTERM: how="terminated (SIGTERM)") during train-gpt leaves,
    and how to go on."""
    from .models.train_gpt import TrainingInterrupted

    if not isinstance(exc, TrainingInterrupted):  # came before train() started
        return f"{how} before training began; nothing was changed"
    it, kept = exc.iteration, exc.checkpoint
    at = "before training began" if it is None else f"at iteration {it}"
    if kept is None:
        return (
            f"{how} {at}, before the first checkpoint: nothing is saved; "
            "run the same command to start again"
        )
    where = f"(iteration {kept[0]}, {kept[1]})"
    if not exc.ours:  # --no-resume stopped before its first save
        return (
            f"{how} {at}, before this run's first checkpoint; "
            f"the earlier run's checkpoint {where} is kept, unchanged"
        )
    again = "the same command without --no-resume" if no_resume else "the same command"
    return f"{how} {at}; the last checkpoint {where} is kept; run {again} to resume"


def _cmd_train_gpt(args: argparse.Namespace) -> int:
    from . import distributed as dist
    from .checkpoint import CheckpointError
    from .models.train_gpt import TrainConfig, TrainingDiverged, saved_train_config, train

    given = {
        k: v for k, v in vars(args).items() if k in TrainConfig.field_names() and v is not None
    }
    main = dist.world().is_main  # under mpiexec: rank 0 reads the folder, and prints
    if not main:
        # DP: mpiexec passes a Ctrl-C on to every rank. A rank that stopped at once could
        # leave another waiting inside an all-reduce, where no signal reaches Python: so
        # the others ignore it; rank 0 stops after its current step, says what is kept,
        # and stops every rank (abort_all).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        # resuming: the flags not given keep the saved run's values, not the defaults
        saved = (
            saved_train_config(given.get("out", TrainConfig.out))
            if args.resume is not False and main
            else {}
        )
        cfg = TrainConfig(**{**dist.broadcast(saved), **given})
        metrics = train(cfg)
    except KeyboardInterrupt as exc:  # TrainingInterrupted, or a Ctrl-C before train()
        how, status = _signals.how()
        if main:
            message = _interrupted_message(exc, args.resume is False, how)
            print(f"train-gpt: {message}", file=sys.stderr)
        dist.abort_all(status, why=how)
        return status
    except TrainingDiverged as exc:
        print(f"train-gpt: diverged: {exc}", file=sys.stderr)
        dist.abort_all(3)  # under mpiexec: the other ranks must not wait for this one
        return 3
    except (CheckpointError, *USER_ERRORS) as exc:
        print(f"train-gpt: error: {exc}", file=sys.stderr)
        dist.abort_all(2)
        return 2
    last = metrics[-1]
    if main:
        print(
            f"done: iter {last['iter']}, val loss {last['val_loss']:.4f}; checkpoint in {cfg.out}"
        )
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from . import rng
    from .checkpoint import resolve_model_folder
    from .models.gpt import GPT
    from .models.hf import generate_until
    from .tokenizer import load_tokenizer

    folder = resolve_model_folder(args.ckpt)  # once: model and tokenizer of one checkpoint
    model = GPT.from_pretrained(folder)
    tok = load_tokenizer(folder)  # ours, or GPT-2's in any of its published forms
    eot = getattr(tok, "eot_id", None)  # GPT-2's <|endoftext|>; None for ours
    if args.stop_at_eot and eot is None:
        raise ValueError(f"--stop-at-eot: the tokenizer in {args.ckpt!r} has no <|endoftext|>")
    rng.manual_seed(args.seed)
    # No prompt: GPT-2 starts a fresh document after <|endoftext|>; ours after a newline.
    if args.prompt:
        ids = tok.encode(args.prompt)
    elif eot is not None:
        ids = [eot]
    else:
        try:
            ids = tok.encode("\n")
        except ValueError:  # a character tokenizer of a text without line breaks
            raise ValueError(
                f"the tokenizer in {args.ckpt} has no newline to start from: give a --prompt"
            ) from None
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
    from .lessons.bench import report

    report(quick=args.quick)
    return 0


def _cmd_train_mnist(args: argparse.Namespace) -> int:
    """Train an MLP on the digits (lesson 4) and print test accuracy per epoch."""
    import math

    from .models.train_mnist import train_mnist

    accuracy = train_mnist(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        hidden=args.hidden,
        activation=args.activation,
        optimizer=args.optimizer,
        momentum=args.momentum,
        seed=args.seed,
        data=args.data,
        out=args.out,
    )
    return 0 if math.isfinite(accuracy) else 1


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
    at_least_1 = ("block_size", "batch_size", "n_layer", "n_head", "n_embd", "eval_interval")
    ints = at_least_1 + ("eval_iters", "bpe_vocab_size", "lr_decay_iters")
    for name in ints + ("max_iters", "warmup_iters", "seed"):
        p.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            type=_int_at_least(1 if name in ints else 0),
            help=f"default {getattr(d, name)}",
        )
    floats = {
        "dropout": _float_in(0.0, 1.0, high_open=True),
        "learning_rate": _float_in(0.0, low_open=True),
        "min_lr": _float_in(0.0),
        "beta1": _float_in(0.0, 1.0, high_open=True),
        "beta2": _float_in(0.0, 1.0, high_open=True),
        "weight_decay": _float_in(0.0),
        "grad_clip": _float_in(0.0),
        "val_fraction": _float_in(0.0, 1.0, low_open=True, high_open=True),
    }
    for name, check in floats.items():
        p.add_argument(
            "--" + name.replace("_", "-"), dest=name, type=check, help=f"default {getattr(d, name)}"
        )
    p.add_argument(
        "--skip-nonfinite",
        dest="skip_nonfinite",
        action="store_true",
        default=None,
        help="skip a step whose loss or gradient norm is NaN/inf (default: stop training)",
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
    p.add_argument("--epochs", type=_int_at_least(1), default=10)
    p.add_argument("--batch-size", type=_int_at_least(1), default=32)
    p.add_argument(
        "--lr", type=_float_in(0.0, low_open=True), help="default 1e-3 (Adam) or 0.5 (SGD)"
    )
    p.add_argument(
        "--hidden", type=_int_at_least(1), nargs="+", default=[100], help="hidden layer sizes"
    )
    p.add_argument("--activation", choices=["relu", "sigmoid", "tanh", "gelu"], default="relu")
    p.add_argument("--optimizer", choices=["adam", "adamw", "sgd"], default="adam")
    p.add_argument("--momentum", type=_float_in(0.0, 1.0, high_open=True), default=0.0)
    p.add_argument("--seed", type=_int_at_least(0), default=0)
    p.add_argument("--data", help="a folder with the MNIST IDX files (default: embedded digits)")
    p.add_argument("--out", help="folder to save model.safetensors and config.json in")
    p.set_defaults(func=_cmd_train_mnist, report_errors=True)


def _add_sample(sub) -> None:
    p = sub.add_parser("sample", help="generate text from a trained GPT checkpoint")
    p.add_argument(
        "--ckpt", required=True, help="folder written by train-gpt, or a Hugging Face GPT-2 folder"
    )
    p.add_argument(
        "--prompt", default="", help="text to continue (default: a newline; GPT-2: <|endoftext|>)"
    )
    p.add_argument("--max-new-tokens", type=_int_at_least(0), default=500)
    p.add_argument(
        "--temperature", type=_float_in(0.0), default=0.8, help="0: always the likeliest token"
    )
    p.add_argument("--top-k", type=_int_at_least(1), default=None)
    p.add_argument("--top-p", type=_float_in(0.0, 1.0, low_open=True), default=None)
    p.add_argument("--seed", type=_int_at_least(0), default=1337)
    p.add_argument(
        "--stop-at-eot",
        action="store_true",
        help="stop at <|endoftext|> (GPT-2's end of a document), not printed",
    )
    p.set_defaults(func=_cmd_sample, report_errors=True)


def _cmd_book(args: argparse.Namespace) -> int:
    from .lessons.book import main as build_book

    return build_book(args.out, quick=args.quick, only=args.only)


def _add_book(sub) -> None:
    p = sub.add_parser(
        "book", help="the lessons, run, as a static web site (needs the [book] extra)"
    )
    p.add_argument("--out", default="book", help="the folder to write (default ./book)")
    p.add_argument("--quick", action="store_true", help="run each lesson in its --quick form")
    p.add_argument("--only", nargs="*", default=None, help="lesson numbers, e.g. 01 05")
    p.set_defaults(func=_cmd_book)


def _cmd_lessons_list(args: argparse.Namespace) -> int:
    from .lessons.course import course_dir, lessons

    for ls in lessons():
        print(f"{ls.number}  {ls.name:<32}  {ls.title}")
    print(f"(in {course_dir()}; run one: tinygrad-edu lessons run 01 --quick)")
    return 0


def _cmd_lessons_run(args: argparse.Namespace) -> int:
    from .lessons.course import run

    # everything after NN is the lesson's (argparse.REMAINDER), --quick included: every
    # lesson takes --quick itself; the "--" that may separate them is ours
    extra = list(args.args)
    if "--" in extra:
        extra.remove("--")
    return run(args.lesson, extra, quick=args.quick)


def _cmd_lessons_copy(args: argparse.Namespace) -> int:
    from .lessons.course import copy

    written, kept = copy(args.dir)
    if kept:
        names = " ".join(p.name for p in kept)
        print(f"kept {len(kept)} files already in {args.dir} (yours: not replaced): {names}")
    print(f"wrote {len(written)} files into {args.dir}; run one: python {args.dir}/01_neuron.py")
    return 0


def _add_lessons(sub) -> None:
    p = sub.add_parser(
        "lessons",
        help="the course's lessons: list, run one, or copy them to edit (list, run, copy)",
        description="The lessons, as installed (tutorials/ in a source checkout, "
        "tinygrad_edu/course/ in a wheel).",
    )
    ls = p.add_subparsers(dest="lessons_command", required=True)
    ls.add_parser("list", help="number, name and title of every lesson").set_defaults(
        func=_cmd_lessons_list, report_errors=True
    )
    q = ls.add_parser(
        "run",
        help="run one lesson from the current folder: lessons run 05 --quick [-- ARGS]",
    )
    q.add_argument("lesson", metavar="NN", help="the lesson's number (01) or name (01_neuron)")
    q.add_argument("--quick", action="store_true", help="the lesson's short run")
    q.add_argument("args", nargs=argparse.REMAINDER, metavar="-- ARGS", help="passed to the lesson")
    q.set_defaults(func=_cmd_lessons_run, report_errors=True)
    q = ls.add_parser(
        "copy", help="write editable copies of the lessons into DIR (never replaces a file)"
    )
    q.add_argument("dir", metavar="DIR")
    q.set_defaults(func=_cmd_lessons_copy, report_errors=True)


def _cmd_export(args: argparse.Namespace) -> int:
    from .models.export_hf import export_hf

    files = export_hf(args.ckpt, args.out)
    print(f"wrote {', '.join(os.path.basename(f) for f in files)} into {args.out}")
    print(f"load it: transformers.GPT2LMHeadModel.from_pretrained({args.out!r})")
    return 0


def _add_export(sub) -> None:
    p = sub.add_parser(
        "export",
        help="a trained GPT and its tokenizer in another format: --format hf (transformers)",
    )
    p.add_argument("--format", choices=["hf"], required=True, help="hf: Hugging Face GPT-2")
    p.add_argument("--ckpt", required=True, metavar="RUN", help="a train-gpt run folder")
    p.add_argument(
        "--out", required=True, metavar="DIR", help="a new or empty folder (or an earlier export)"
    )
    p.set_defaults(func=_cmd_export, report_errors=True)


def _cmd_exercises_init(args: argparse.Namespace) -> int:
    from .exercises import init

    try:
        init(args.dir, force=args.force or ())
    except (ValueError, OSError) as exc:
        print(f"exercises init: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_exercises_check(args: argparse.Namespace) -> int:
    """One line per exercise; exit code 0 only when every exercise checked has passed
    (one that is not started counts as not passed: 1)."""
    import os

    from .exercises import EXERCISES, get, run_checks, summary

    if not os.path.isdir(args.dir):
        print(
            f"exercises check: error: no folder {args.dir!r}; "
            f"`tinygrad-edu exercises init {args.dir}` writes one",
            file=sys.stderr,
        )
        return 2
    try:
        names = [get(n).name for n in args.names]
    except ValueError as exc:
        print(f"exercises check: error: {exc}", file=sys.stderr)
        return 2
    width = max(len(n) for n in names or [ex.name for ex in EXERCISES])

    def show(result) -> None:
        print(f"{result.name:<{width}}  {result.line()}", flush=True)

    results = run_checks(args.dir, names or None, timeout=args.timeout, on_result=show)
    print(summary(results))
    return 0 if all(r.passed for r in results) else 1


def _cmd_exercises_solve(args: argparse.Namespace) -> int:
    from .exercises import solve

    try:
        solve(args.dir, args.names or None, force=args.force)
    except (ValueError, OSError) as exc:
        print(f"exercises solve: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_exercises_hint(args: argparse.Namespace) -> int:
    from .exercises.hints import hint

    try:
        print(hint(args.name, args.level))
    except ValueError as exc:
        print(f"exercises hint: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_exercises_list(args: argparse.Namespace) -> int:
    from .exercises import EXERCISES

    for ex in EXERCISES:
        print(f"{ex.name:<22}  {ex.lesson_path:<42}  {ex.source}")
    return 0


def _add_exercises(sub) -> None:
    from .exercises.runner import DEFAULT_TIMEOUT

    p = sub.add_parser(
        "exercises",
        help="exercises to complete, checked against the library (init, check, hint, solve, list)",
        description="Small functions from the lessons, written by you and checked against "
        "the library's own code: `init DIR`, edit a file, `check DIR`.",
    )
    ex = p.add_subparsers(dest="exercises_command", required=True)
    q = ex.add_parser("init", help="write one file per exercise and a README into DIR")
    q.add_argument("dir", metavar="DIR")
    q.add_argument(
        "--force",
        nargs="+",
        metavar="NAME",
        help="reset these exercises to the blank template, even if you edited them",
    )
    q.set_defaults(func=_cmd_exercises_init)
    q = ex.add_parser(
        "check",
        help="check your exercises: passed / not started / failed (exit code 1 unless all pass)",
    )
    q.add_argument("dir", metavar="DIR")
    q.add_argument("names", nargs="*", metavar="NAME", help="only these (default: all)")
    q.add_argument(
        "--timeout",
        type=_float_in(0.0, low_open=True),
        default=DEFAULT_TIMEOUT,
        help=f"seconds each exercise may take (default {DEFAULT_TIMEOUT:g})",
    )
    q.set_defaults(func=_cmd_exercises_check)
    q = ex.add_parser("solve", help="(teachers) write the reference solutions into DIR")
    q.add_argument("dir", metavar="DIR")
    q.add_argument("names", nargs="*", metavar="NAME", help="only these (default: all)")
    q.add_argument("--force", action="store_true", help="also replace files you edited")
    q.set_defaults(func=_cmd_exercises_solve)
    q = ex.add_parser("hint", help="a hint: 1 the concept, 2 the shapes, 3 near-code")
    q.add_argument("name", metavar="NAME")
    q.add_argument("--level", type=int, choices=(1, 2, 3), default=1, help="how much (default 1)")
    q.set_defaults(func=_cmd_exercises_hint)
    ex.add_parser("list", help="the exercises: name, lesson, library file").set_defaults(
        func=_cmd_exercises_list
    )


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
    _add_book(sub)
    _add_exercises(sub)
    _add_lessons(sub)
    _add_export(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    global _signals
    _signals = _Signals()
    args = None
    try:
        with _signals:  # SIGINT, SIGTERM -> KeyboardInterrupt from here on, parsing included
            args = build_parser().parse_args(argv)
            return _run(args)
    except KeyboardInterrupt:  # the commands without a message of their own
        how, status = _signals.how()
        name, note = "tinygrad-edu", ""
        if args is not None:
            name = _command_name(args)
            if args.command == "train-mnist" and args.out:
                note = f"; {args.out} is written only after the last epoch"
        print(f"{name}: {how}{note}", file=sys.stderr)
        return status


def _command_name(args: argparse.Namespace) -> str:
    sub_command = getattr(args, "exercises_command", None) or getattr(args, "lessons_command", None)
    return " ".join(filter(None, (args.command, sub_command)))


def _run(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except USER_ERRORS as exc:
        if not getattr(args, "report_errors", False):
            raise
        print(f"{_command_name(args)}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
