#!/usr/bin/env python
"""Issue 12's probes, run again: what a careless or unlucky user tries, and what happens.

Each probe of the issue is re-run here on tiny real training runs (the command line, as
a subprocess, wherever the issue used it) in a temporary folder, and the script prints a
Markdown table `| probe | what happens now |`. The second column is computed from what
the run did (exit codes, the error line it printed, whether rows or weights match,
numbers); nothing in it is written in advance. A probe that itself breaks says so in
its row (`PROBE BROKE: ...`), and the script goes on.

Not collected by pytest (no test_ prefix); well under a minute on two cores:
    python tests/reliability_probes.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # this checkout's tinygrad_edu, not an installed copy

import numpy as np  # noqa: E402

from tinygrad_edu import checkpoint, kernels  # noqa: E402

# A tiny GPT, on the first 20,000 characters of the shipped tiny Shakespeare.
TINY = ["--n-layer", "1", "--n-head", "2", "--n-embd", "32", "--block-size", "16",
        "--batch-size", "4", "--eval-iters", "1", "--warmup-iters", "2", "--no-progress"]  # fmt: skip
PROBES: list[tuple[str, object]] = []


def probe(name: str):
    def register(fn):
        PROBES.append((name, fn))
        return fn

    return register


# ---- helpers ---------------------------------------------------------------------------


def env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")


def cli(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m tinygrad_edu ARGV`, to its end."""
    return subprocess.run(
        [sys.executable, "-m", "tinygrad_edu", *argv], cwd=ROOT, env=env(),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def start(*argv: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tinygrad_edu", *argv], cwd=ROOT, env=env(),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for(path: str, proc: subprocess.Popen, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def error_line(stderr: str) -> str:
    """The line that says what went wrong: the first naming an error, else the last."""
    lines = [x for x in stderr.splitlines() if x.strip()]
    for x in lines:
        if "error" in x.lower() or "interrupted" in x or "diverged" in x:
            return x.strip()
    return lines[-1].strip() if lines else "(nothing)"


def said(res) -> str:
    """`exit N`, the error line in backquotes, and whether a traceback was printed."""
    stderr = res.stderr if isinstance(res.stderr, str) else ""
    text = f"exit {res.returncode}"
    if res.returncode != 0 or stderr.strip():
        text += f": `{short(error_line(stderr))}`"
    if "Traceback" in stderr:
        text += " (with a traceback)"
    return text


def short(text: str, n: int = 230) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def tiny_run(out: str, text: str, *more: str) -> subprocess.CompletedProcess:
    return cli("train-gpt", "--data", text, "--out", out, *TINY, *more)


def weights(out: str) -> dict[str, np.ndarray]:
    return checkpoint.load(os.path.join(checkpoint.resolve_model_folder(out), "model.safetensors"))


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def rows(out: str) -> list[dict]:
    return checkpoint.read_jsonl(os.path.join(out, "metrics.jsonl"))


def iters(out: str) -> list[int]:
    return [r["iter"] for r in rows(out)]


def pointer_iter(out: str):
    now = checkpoint.current_checkpoint(out)
    return None if now is None else now[0]


def yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def unaligned(shape, dtype, offset: int, seed: int) -> np.ndarray:
    """C-contiguous, but at `offset` bytes into a buffer: not aligned to its item size."""
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return np.frombuffer(b"\0" * offset + x.tobytes(), dtype, offset=offset).reshape(shape)


def backends() -> list[str]:
    return ["reference"] + (["compiled"] if kernels.compiled is not None else [])


@contextlib.contextmanager
def backend(name: str):
    old = kernels.backend_name()
    kernels.use_backend(name)
    try:
        yield
    finally:
        kernels.use_backend(old)


def in_process(argv: list[str]) -> tuple[int, str]:
    """cli.main(argv) in this process: (exit code, stderr). For argparse's refusals."""
    from tinygrad_edu.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    return code, err.getvalue()


# ---- the probes, in the order ----------------------------------------------------


@probe("unaligned float32 / float64 matmul vs NumPy (max abs error)")
def p_matmul(work, text):
    from tinygrad_edu import Tensor

    parts = []
    for dtype, offset in ((np.float32, 1), (np.float64, 4)):
        a = unaligned((64, 48), dtype, offset, 0)
        b = unaligned((48, 40), dtype, offset, 1)
        exact = a.astype(np.float64) @ b.astype(np.float64)
        errs = []
        for name in backends():
            with backend(name):
                got = (Tensor(a) @ Tensor(b)).numpy()
            errs.append(f"{name} {np.max(np.abs(got - exact)):.1e}")
        aligned = a.ctypes.data % a.itemsize == 0
        parts.append(
            f"{np.dtype(dtype).name} (offset {offset}, aligned: {aligned}): " + ", ".join(errs)
        )
    return "; ".join(parts)


@probe("nn.Linear on unaligned input")
def p_linear(work, text):
    from tinygrad_edu import Tensor, manual_seed, nn

    x = unaligned((64, 48), np.float32, 1, 2)
    parts = []
    for name in backends():
        with backend(name):
            manual_seed(0)
            lin = nn.Linear(48, 32)
            got = lin(Tensor(x)).numpy()
        exact = x.astype(np.float64) @ lin.weight.data.T.astype(np.float64) + lin.bias.data
        parts.append(
            f"{name}: max abs error {np.max(np.abs(got - exact)):.1e}, "
            f"non-finite outputs {int((~np.isfinite(got)).sum())}"
        )
    return "; ".join(parts)


@probe("kill -9 during a run with --eval-interval 1, then sample + resume (3 trials)")
def p_kill9(work, text):
    import random

    rnd = random.Random(12)
    max_iters = 30
    flags = ["--eval-interval", "1", "--max-iters", str(max_iters), "--lr-decay-iters", "30"]
    results = []
    for trial in range(3):
        out = os.path.join(work, f"kill{trial}")
        proc = start("train-gpt", "--data", text, "--out", out, *TINY, *flags)
        wait_for(os.path.join(out, checkpoint.POINTER), proc)
        time.sleep(rnd.uniform(0.0, 0.4))
        killed = proc.poll() is None
        proc.kill()
        proc.communicate()
        r = {"killed": killed, "at": pointer_iter(out)}
        try:
            checkpoint.verify_manifest(checkpoint.published_checkpoint(out))
            r["verifies"] = True
        except Exception as exc:
            r["verifies"] = f"{type(exc).__name__}: {exc}"
        r["temporaries"] = sum(
            e.startswith(".tmp-ckpt-") or e.endswith(".tmp") for e in os.listdir(out)
        )
        its = iters(out) if os.path.exists(os.path.join(out, "metrics.jsonl")) else []
        r["metrics_ahead"] = bool(its) and max(its) > (-1 if r["at"] is None else r["at"])
        r["sample"] = cli("sample", "--ckpt", out, "--max-new-tokens", "20").returncode
        resumed = tiny_run(out, text, *flags)
        r["resume"] = resumed.returncode
        r["rows_once"] = iters(out) == list(range(max_iters + 1))
        r["left"] = sorted(e for e in os.listdir(out) if e.startswith(".") or e.endswith(".tmp"))
        results.append(r)
    n = len(results)

    def count(key, value=True):
        return sum(r[key] == value for r in results)

    return (
        f"killed at checkpoints {[r['at'] for r in results]} (killed while running: "
        f"{count('killed')}/{n}); checkpoint verifies {count('verifies')}/{n}; metrics rows "
        f"ahead of it {count('metrics_ahead')}/{n}; temporaries left by the kill "
        f"{sum(r['temporaries'] for r in results)}; sample exit 0 {count('sample', 0)}/{n}; "
        f"resume exit 0 {count('resume', 0)}/{n}; rows 0..{max_iters} once each after resume "
        f"{count('rows_once')}/{n}; dot-files left after resume: "
        f"{sorted({e for r in results for e in r['left']}) or 'none'}"
    )


@probe("Ctrl-C then resume")
def p_ctrl_c(work, text):
    out = os.path.join(work, "ctrlc")
    flags = ["--eval-interval", "3", "--lr-decay-iters", "60"]
    proc = start("train-gpt", "--data", text, "--out", out, *TINY, *flags, "--max-iters", "100000")
    wait_for(os.path.join(out, checkpoint.POINTER), proc)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    kept = pointer_iter(out)
    lock_left = os.path.exists(os.path.join(out, checkpoint.LOCK))
    resumed = tiny_run(out, text, *flags, "--max-iters", str(kept + 3))
    first = next((x for x in resumed.stdout.splitlines() if x.startswith("resuming")), "(none)")
    return (
        f"{said(subprocess.CompletedProcess([], proc.returncode, stdout, stderr))}; "
        f"stderr lines: {len(stderr.strip().splitlines())}; .lock left: {lock_left}; "
        f"resume: exit {resumed.returncode}, `{first}`"
    )


@probe("20+20 resumed vs 40 straight (the issue: 200+200 vs 400), bitwise")
def p_exact(work, text):
    parts = []
    for label, horizon in (("--lr-decay-iters 40 both times", ["--lr-decay-iters", "40"]),
                           ("default horizon (--max-iters 20, then 40)", [])):  # fmt: skip
        a, b = (
            os.path.join(work, f"straight{len(horizon)}"),
            os.path.join(work, f"res{len(horizon)}"),
        )
        flags = ["--eval-interval", "10", "--dropout", "0.1", *horizon]
        runs = [tiny_run(a, text, *flags, "--max-iters", "40"),
                tiny_run(b, text, *flags, "--max-iters", "20"),
                tiny_run(b, text, *flags, "--max-iters", "40")]  # fmt: skip
        if any(r.returncode for r in runs):
            parts.append(f"{label}: exits {[r.returncode for r in runs]}")
            continue
        ra, rb = rows(a), rows(b)
        equal = same_weights(weights(a), weights(b))
        parts.append(
            f"{label}: weights bitwise equal: {yes(equal)}; val loss at 40: "
            f"{ra[-1]['val_loss']} vs {rb[-1]['val_loss']}; lr at 30: {ra[-2]['lr']:.3g} vs "
            f"{rb[-2]['lr']:.3g}"
        )
    return "; ".join(parts)


@probe("raising --max-iters on resume (lr continuity)")
def p_max_iters(work, text):
    out = os.path.join(work, "extend")
    flags = ["--eval-interval", "5", "--learning-rate", "1e-3", "--min-lr", "1e-4"]
    first = tiny_run(out, text, *flags, "--max-iters", "20")
    before = {r["iter"]: r["lr"] for r in rows(out)}
    second = tiny_run(out, text, *flags, "--max-iters", "40")
    after = {r["iter"]: r["lr"] for r in rows(out)}
    note = next((x for x in second.stdout.splitlines() if x.startswith("max_iters")), "(none)")
    return (
        f"exits {first.returncode}, {second.returncode}; lr at 15, 20 (first run): "
        f"{before.get(15, float('nan')):.3g}, {before.get(20, float('nan')):.3g}; at 25, 30, 40 "
        f"(resumed): {after.get(25, float('nan')):.3g}, {after.get(30, float('nan')):.3g}, "
        f"{after.get(40, float('nan')):.3g}; the run says: `{short(note, 170)}`"
    )


@probe("changed --n-layer on resume")
def p_arch(work, text):
    out = os.path.join(work, "arch")
    tiny_run(out, text, "--max-iters", "2", "--eval-interval", "1")
    before = weights(out)
    res = cli(
        "train-gpt", "--data", text, "--out", out, *TINY, "--n-layer", "2", "--max-iters", "4"
    )
    return f"{said(res)}; checkpoint unchanged: {yes(same_weights(before, weights(out)))}"


@probe("missing tokenizer.json")
def p_tokenizer(work, text):
    out = os.path.join(work, "tok")
    tiny_run(out, text, "--max-iters", "2", "--eval-interval", "1")
    os.remove(os.path.join(out, "tokenizer.json"))  # the top-level link
    s1 = cli("sample", "--ckpt", out, "--max-new-tokens", "5")
    r1 = tiny_run(out, text, "--max-iters", "4", "--eval-interval", "1")
    link_back = os.path.isfile(os.path.join(out, "tokenizer.json"))
    # the same inside the checkpoint (manifest lists it)
    ckpt = checkpoint.published_checkpoint(out)
    os.remove(os.path.join(ckpt, "tokenizer.json"))
    s2 = cli("sample", "--ckpt", out, "--max-new-tokens", "5")
    # the older flat layout (no checkpoint.json), never given a tokenizer.json
    flat = os.path.join(work, "tokflat")
    shutil.copytree(out, flat, symlinks=False, ignore=lambda d, n: [
        e for e in n if e.startswith(("ckpt-", ".")) or e in ("checkpoint.json", "tokenizer.json")
    ])  # fmt: skip
    for name in ("config.json", "model.safetensors", "optimizer.safetensors", "train_state.json"):
        shutil.copy(os.path.join(ckpt, name), os.path.join(flat, name))
    r3 = tiny_run(flat, text, "--max-iters", "6", "--eval-interval", "1")
    s3 = cli("sample", "--ckpt", flat, "--max-new-tokens", "5")
    return (
        f"top-level link removed: sample {said(s1)}, resume exit {r1.returncode}, link restored: "
        f"{yes(link_back)}; removed from the checkpoint itself: sample {said(s2)}; older flat "
        f"folder without one: resume exit {r3.returncode}, tokenizer.json written: "
        f"{yes(os.path.isfile(os.path.join(flat, 'tokenizer.json')))}, sample exit {s3.returncode}"
    )


@probe("resume with --learning-rate 1e6")
def p_diverge(work, text):
    parts = []
    # the first run's cosine still going (--lr-decay-iters 100): the step takes lr ~1e6
    out = os.path.join(work, "diverge")
    tiny_run(out, text, "--max-iters", "6", "--eval-interval", "2", "--lr-decay-iters", "100")
    before, at = weights(out), pointer_iter(out)
    res = tiny_run(out, text, "--max-iters", "20", "--eval-interval", "2", "--learning-rate", "1e6")
    now, after = pointer_iter(out), weights(out)
    val = {r["iter"]: r["val_loss"] for r in rows(out)}
    vocab = checkpoint.read_json(os.path.join(out, "config.json"))["vocab_size"]
    parts.append(
        f"{said(res)}; the checkpoint of iteration {at} kept bitwise: "
        f"{yes(same_weights(before, after))}; checkpoint.json now names iteration {now}, its "
        f"weights finite: {yes(all(np.isfinite(w).all() for w in after.values()))}, val loss "
        f"{val.get(now)} (at {at}: {val.get(at)}; ln(vocab {vocab}) = {np.log(vocab):.4f} is "
        "uniform guessing)"
    )
    # the default horizon: the first run's schedule ended at its --max-iters
    out = os.path.join(work, "diverge2")
    tiny_run(out, text, "--max-iters", "6", "--eval-interval", "2")
    res = tiny_run(out, text, "--max-iters", "12", "--eval-interval", "2", "--learning-rate", "1e6")
    lrs = sorted({r["lr"] for r in rows(out) if r["iter"] > 6})
    note = next((x for x in res.stdout.splitlines() if x.startswith("max_iters")), "(none)")
    parts.append(
        f"with the first run's schedule already ended (default --lr-decay-iters): "
        f"exit {res.returncode}, lr of the new rows {lrs}, the run says `{short(note, 150)}`"
    )
    return "; ".join(parts)


@probe("metrics.jsonl is strict JSON")
def p_metrics_json(work, text):
    out = os.path.join(work, "strict")
    # --skip-nonfinite: NaN steps are logged and skipped, and the run goes on
    res = tiny_run(out, text, "--max-iters", "8", "--eval-interval", "2", "--learning-rate",
                   "1e6", "--min-lr", "1e6", "--skip-nonfinite")  # fmt: skip
    skipped = res.stdout.count("step skipped")
    files, lines, bad, nulls = 0, 0, [], 0
    for folder, _, names in os.walk(work):  # every metrics.jsonl the probes have written
        if "metrics.jsonl" in names:
            files += 1
            for line in open(os.path.join(folder, "metrics.jsonl")):
                lines += 1
                row = json.loads(line, parse_constant=bad.append)
                nulls += sum(v is None for k, v in row.items() if k != "step_loss" or row["iter"])
    return (
        f"a run with --learning-rate 1e6 --skip-nonfinite: {said(res)}, {skipped} steps "
        f"skipped; the {files} metrics.jsonl files written so far ({lines} rows, the diverged "
        f"runs' included): NaN/Infinity tokens {len(bad)}, null values {nulls}"
    )


@probe("NaN weights: load / sample")
def p_nan_weights(work, text):
    from tinygrad_edu.models.gpt import GPT, GPTConfig
    from tinygrad_edu.tokenizer import CharTokenizer

    folder = os.path.join(work, "nan")
    model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8))
    model.transformer.h[0].mlp.c_fc.weight.data[0, :3] = np.nan
    model.save_pretrained(folder)
    CharTokenizer.from_text("abcdefghij\n").save(os.path.join(folder, "tokenizer.json"))
    try:
        GPT.from_pretrained(folder)
        loaded = "loads without complaint"
    except Exception as exc:
        loaded = f"{type(exc).__name__}: `{short(str(exc), 150)}`"
    res = cli("sample", "--ckpt", folder, "--max-new-tokens", "5")
    return f"GPT.from_pretrained: {loaded}; sample: {said(res)}"


@probe("sample --temperature nan")
def p_temperature(work, text):
    out = os.path.join(work, "temp")
    tiny_run(out, text, "--max-iters", "0")
    res = cli("sample", "--ckpt", out, "--temperature", "nan")
    return said(res)


@probe("two runs into one --out at once (4 pairs)")
def p_two_runs(work, text):
    outcomes, refusals, dupes, verified = [], set(), 0, 0
    for pair in range(4):
        out = os.path.join(work, f"two{pair}")
        flags = ["--data", text, "--out", out, *TINY, "--max-iters", "30", "--eval-interval", "1"]
        procs = [start("train-gpt", *flags), start("train-gpt", *flags)]
        done = [(p.returncode, *p.communicate(timeout=120)) for p in procs]
        codes = sorted(p.returncode for p in procs)
        outcomes.append(codes)
        for _, _, err in done:
            if err.strip():  # one message per kind: PIDs and folders vary
                said_ = re.sub(r"PID \d+", "PID <n>", error_line(err)).replace(work, "<work>")
                refusals.add(re.sub(r"two\d", "two<k>", said_))
        if os.path.exists(os.path.join(out, "metrics.jsonl")):
            its = iters(out)
            dupes += len(its) - len(set(its))
            try:
                checkpoint.verify_manifest(checkpoint.published_checkpoint(out))
                verified += 1
            except Exception:
                pass
    one_each = sum(c == [0, 2] for c in outcomes)
    return (
        f"exit codes per pair {outcomes}: one ran and one was refused in {one_each}/4; "
        f"the refusals say: {' / '.join(f'`{short(x)}`' for x in sorted(refusals)) or '(none)'}; "
        f"duplicated metrics rows {dupes}; final checkpoint verifies {verified}/4"
    )


@probe("--no-resume killed before its first save")
def p_no_resume(work, text):
    from tinygrad_edu.models.gpt import GPT
    from tinygrad_edu.tokenizer import load_tokenizer

    out = os.path.join(work, "noresume")
    tiny_run(out, text, "--max-iters", "2", "--eval-interval", "1")
    before = checkpoint.current_checkpoint(out)
    small = os.path.join(work, "small.txt")  # another text: 14 distinct characters
    with open(small, "w") as f:
        f.write("abc def ghij klm\n" * 2000)
    proc = start(
        "train-gpt",
        "--data",
        small,
        "--out",
        out,
        *TINY,
        "--no-resume",
        "--max-iters",
        "10",
        "--eval-iters",
        "2000",
    )  # fmt: skip  (a long first eval)
    seen = ""
    for line in proc.stdout:  # killed once the model is built, in its first evaluation
        seen = line
        if "parameters" in line:
            break
    proc.kill()
    proc.communicate()
    now = checkpoint.current_checkpoint(out)
    vocab_model = GPT.from_pretrained(out).config.vocab_size
    vocab_tok = load_tokenizer(out).vocab_size
    s = cli("sample", "--ckpt", out, "--max-new-tokens", "5")
    r = tiny_run(out, text, "--max-iters", "4", "--eval-interval", "1")
    return (
        f"killed after `{seen.strip()}`; checkpoint.json unchanged: {yes(now == before)}; model "
        f"vocab {vocab_model}, tokenizer vocab {vocab_tok}; sample exit {s.returncode}; resume of "
        f"the old run exit {r.returncode}"
    )


@probe("grad mode across threads")
def p_threads(work, text):
    from tinygrad_edu import is_grad_enabled, manual_seed, no_grad
    from tinygrad_edu.models.gpt import GPT, GPTConfig

    manual_seed(0)
    cfg = GPTConfig(block_size=16, vocab_size=20, n_layer=1, n_head=2, n_embd=16)
    trained, sampler = GPT(cfg), GPT(cfg)
    stop, missing, errors, samples = threading.Event(), [0], [], [0]

    def sample_loop():
        while not stop.is_set():
            try:
                sampler.generate([[1, 2, 3]], 8, temperature=1.0)
                samples[0] += 1
            except Exception as exc:
                errors.append(f"generate: {exc}")

    thread = threading.Thread(target=sample_loop)
    thread.start()
    x = np.random.default_rng(0).integers(0, 20, (4, 16))
    steps = 40
    try:
        for _ in range(steps):
            for p in trained.parameters():
                p.grad = None
            try:
                _, loss = trained(x, x)
                loss.backward()
            except Exception as exc:
                errors.append(f"train: {exc}")
                continue
            missing[0] += any(p.grad is None for p in trained.parameters())
    finally:
        stop.set()
        thread.join()

    # two threads each doing `with no_grad(): m(x)`, over and over
    def forward_no_grad():
        for _ in range(20):
            with no_grad():
                trained(x)

    pair = [threading.Thread(target=forward_no_grad) for _ in range(2)]
    for t in pair:
        t.start()
    for t in pair:
        t.join()
    seen_in_thread = []
    checker = threading.Thread(target=lambda: seen_in_thread.append(is_grad_enabled()))
    checker.start()
    checker.join()
    return (
        f"{steps} training steps beside {samples[0]} generate() calls: steps missing a "
        f"gradient {missing[0]}, errors {len(errors)}{': ' + errors[0] if errors else ''}; "
        f"after 2 threads x 20 `with no_grad(): m(x)`: grad mode on in the main thread: "
        f"{is_grad_enabled()}, in a new thread: {seen_in_thread[0]}"
    )


@probe("SDPA with T, S or D = 0")
def p_sdpa(work, text):
    from tinygrad_edu import Tensor
    from tinygrad_edu.nn import functional as F

    parts = []
    for t, s, d in ((0, 4, 8), (4, 0, 8), (4, 4, 0)):
        q = Tensor(np.ones((1, 2, t, d), np.float32), requires_grad=True)
        k = Tensor(np.ones((1, 2, s, d), np.float32), requires_grad=True)
        v = Tensor(np.ones((1, 2, s, d), np.float32), requires_grad=True)
        try:
            out = F.scaled_dot_product_attention(q, k, v)
            out.sum().backward()
            parts.append(f"T={t} S={s} D={d}: output {tuple(out.shape)}, backward ok")
        except Exception as exc:
            parts.append(f"T={t} S={s} D={d}: {type(exc).__name__}: {short(str(exc), 80)}")
    return "; ".join(parts)


@probe("set_num_threads(2**31)")
def p_threads_limit(work, text):
    from tinygrad_edu import Tensor, get_num_threads, set_num_threads

    before = get_num_threads()
    try:
        set_num_threads(2**31)
        said_ = "accepted"
    except Exception as exc:
        said_ = f"{type(exc).__name__}: `{exc}`"
    try:
        (Tensor(np.ones((8, 8), np.float32)) @ Tensor(np.ones((8, 8), np.float32))).numpy()
        after = "a matmul afterwards works"
    except Exception as exc:
        after = f"a matmul afterwards raises {type(exc).__name__}"
    return f"{said_}; threads still {get_num_threads()} (was {before}); {after}"


@probe("corrupt train_state.json / metrics.jsonl")
def p_corrupt(work, text):
    parts = []
    # 1. train_state.json damaged after publishing: the manifest's sha256 says so
    out = os.path.join(work, "corrupt1")
    tiny_run(out, text, "--max-iters", "2", "--eval-interval", "1")
    ckpt = checkpoint.published_checkpoint(out)
    with open(os.path.join(ckpt, "train_state.json"), "w") as f:
        f.write('{"iter": ')
    r = tiny_run(out, text, "--max-iters", "4")
    parts.append(f"train_state.json cut short: resume {said(r)}")
    # 2. the same, with the manifest made to match (bad JSON written as if whole)
    manifest = checkpoint.read_json(os.path.join(ckpt, "manifest.json"))
    manifest["files"]["train_state.json"] = checkpoint.sha256_file(
        os.path.join(ckpt, "train_state.json")
    )
    checkpoint.write_json_atomic(os.path.join(ckpt, "manifest.json"), manifest)
    r = tiny_run(out, text, "--max-iters", "4")
    parts.append(f"the same with a matching manifest: resume {said(r)}")
    # 3. metrics.jsonl damaged (it is rebuilt from the checkpoint on resume)
    out = os.path.join(work, "corrupt3")
    tiny_run(out, text, "--max-iters", "2", "--eval-interval", "1")
    with open(os.path.join(out, "metrics.jsonl"), "a") as f:
        f.write('{"iter": 3, "val_loss": \n')
    r = tiny_run(out, text, "--max-iters", "4", "--eval-interval", "1")
    try:
        ok = iters(out) == [0, 1, 2, 3, 4]
    except Exception:
        ok = False
    parts.append(f"metrics.jsonl damaged: resume exit {r.returncode}, rebuilt valid: {yes(ok)}")
    # 4. a folder of the older flat layout (no checkpoint.json): no longer read, refused
    flat = os.path.join(work, "corrupt4")
    os.makedirs(flat)
    ckpt = checkpoint.published_checkpoint(out)
    for name in checkpoint.RUN_FILES:
        shutil.copy(os.path.join(ckpt, name), os.path.join(flat, name))
    state = checkpoint.read_json(os.path.join(flat, "train_state.json"))
    del state["metrics"]  # as the older versions wrote it
    checkpoint.write_json_atomic(os.path.join(flat, "train_state.json"), state)
    with open(os.path.join(flat, "metrics.jsonl"), "w") as f:
        f.write('{"iter": 0}\n{"iter": \n')
    r = tiny_run(flat, text, "--max-iters", "6")
    parts.append(f"older flat folder, metrics.jsonl damaged: resume {said(r)}")
    return "; ".join(parts)


@probe("GPT-2 config.json without n_positions")
def p_gpt2_config(work, text):
    folder = os.path.join(work, "gpt2")
    os.makedirs(folder)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"model_type": "gpt2", "n_layer": 1, "n_head": 1, "n_embd": 8}, f)
    return "sample: " + said(cli("sample", "--ckpt", folder))


VALIDATORS = [
    ["train-gpt", "--val-fraction", "1.5"],
    ["train-gpt", "--lr-decay-iters", "0"],
    ["train-gpt", "--warmup-iters", "-10"],
    ["train-gpt", "--grad-clip", "nan"],
    ["sample", "--ckpt", "x", "--max-new-tokens", "-5"],
    ["train-mnist", "--epochs", "-1"],
    ["train-mnist", "--hidden", "0"],
    ["train-gpt", "--seed", "-1"],
]


@probe("the validators")
def p_validators(work, text):
    parts = []
    for argv in VALIDATORS:
        # were a value accepted, these keep the command short (they come first: argparse
        # takes the last value of an option, the one probed)
        safe = {
            "train-gpt": ["--data", text, "--out", os.path.join(work, "v"), *TINY,
                          "--max-iters", "0"],
            "train-mnist": ["--epochs", "1"],
            "sample": [],
        }[argv[0]]  # fmt: skip
        code, err = in_process([argv[0], *safe, *argv[1:]])
        last = err.strip().splitlines()[-1] if err.strip() else "(nothing)"
        last = last.split(": error: ", 1)[-1]
        parts.append(f"`{' '.join(argv)}`: exit {code}, `{last}`")
    return "; ".join(parts)


@probe("float16 input: reference vs compiled backend")
def p_float16(work, text):
    from tinygrad_edu import Tensor

    h = np.ones((4, 4), np.float16)
    said_ = {}
    for name in backends():
        with backend(name):
            try:
                (Tensor(h) @ Tensor(h)).numpy()
                said_[name] = "accepted"
            except Exception as exc:
                said_[name] = f"{type(exc).__name__}: {exc}"
    kernel = {}
    for name in backends():
        try:
            getattr(kernels, name).gemm(h, h)
            kernel[name] = "accepted"
        except Exception as exc:
            kernel[name] = f"{type(exc).__name__}: {exc}"
    same = len(set(said_.values())) == 1 and len(set(kernel.values())) == 1
    return (
        "Tensor(float16) @ Tensor(float16): "
        + "; ".join(f"{k}: `{short(v, 90)}`" for k, v in said_.items())
        + "; gemm kernel: "
        + "; ".join(f"{k}: `{short(v, 90)}`" for k, v in kernel.items())
        + f"; the same on both: {yes(same)}"
    )


@probe("a lock whose PID was reused by an unrelated process")
def p_lock(work, text):
    out = os.path.join(work, "lock")
    tiny_run(out, text, "--max-iters", "2", "--eval-interval", "1")
    lock = os.path.join(out, checkpoint.LOCK)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        started = checkpoint._process_start_time(sleeper.pid)

        def run_with(holder):
            with open(lock, "w") as f:
                f.write(json.dumps(holder) + "\n")
            return tiny_run(out, text, "--max-iters", "2")

        host = socket.gethostname()
        reused = run_with({"pid": sleeper.pid, "host": host, "started": f"{started}0"})
        live = run_with({"pid": sleeper.pid, "host": host, "started": started})
        other = run_with({"pid": sleeper.pid, "host": "elsewhere.example", "started": started})
        old = run_with(sleeper.pid)
        if os.path.exists(lock):
            os.remove(lock)
    finally:
        sleeper.kill()
        sleeper.wait()
    return (
        f"PID of a live `sleep`, another start time: {said(reused)}; its own start time: "
        f"{said(live)}; another host: {said(other)}; the older PID-only file: {said(old)}"
        + ("" if started else " (no /proc here: start times unknown)")
    )


# ---- the table -------------------------------------------------------------------------


def cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--keep", help="run in this folder and keep it (default: a temporary one)")
    p.add_argument("--only", nargs="*", help="only the probes whose name holds one of these")
    args = p.parse_args(argv)
    work = args.keep or tempfile.mkdtemp(prefix="tg_probes.")
    os.makedirs(work, exist_ok=True)
    from tinygrad_edu.data.shakespeare import load_shakespeare

    text = os.path.join(work, "text.txt")
    with open(text, "w", encoding="utf-8") as f:
        f.write(load_shakespeare()[:20000])
    t0 = time.perf_counter()
    print("| probe | what happens now |")
    print("|---|---|")
    broken = 0
    for name, fn in PROBES:
        if args.only and not any(s in name for s in args.only):
            continue
        t = time.perf_counter()
        try:
            result = fn(work, text)
        except Exception as exc:
            broken += 1
            result = f"PROBE BROKE: {type(exc).__name__}: {exc}"
        print(f"| {cell(name)} | {cell(result)} ({time.perf_counter() - t:.1f} s) |", flush=True)
    print(f"\n{len(PROBES)} probes in {time.perf_counter() - t0:.0f} s; folder: "
          f"{work if args.keep else '(temporary, removed)'}")  # fmt: skip
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
