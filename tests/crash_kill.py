#!/usr/bin/env python
"""Crash test for train-gpt's checkpoints (issue 12): kill runs at random moments, check
the folder they leave, resume, and compare with a run that was never interrupted.

Each trial starts a tiny `python -m tinygrad_edu train-gpt` (a checkpoint every
iteration, so a good share of the run is spent writing checkpoints) as a subprocess,
sends it SIGKILL (three trials in four) or SIGINT (Ctrl-C, every fourth trial: once
training has begun, it must end with exit 130 and one line, no traceback) at a random
moment, and checks the folder it leaves. The moment is drawn uniformly over the
measured training time (from the moment the run takes out/.lock, its imports done, to its
end; the shortest seen: two reference runs and any trial that ended before its kill), or,
for one trial in five, over the start-up before that. The checks, BEFORE resuming:

  * checkpoint.json (if any) names a complete folder: every file matches the sha256 in
    its manifest; GPT.from_pretrained(folder) and the tokenizer load;
  * model, optimizer, train_state and manifest are all of ONE iteration N: their bytes
    are those of the uninterrupted reference run's checkpoint N (the optimizer's step
    count is N, the saved random generator state is the reference's at N);
  * metrics.jsonl has no row beyond N (it is rewritten after each publish, from the rows
    saved in train_state.json, so it may lag by one save, never lead) and its rows are
    the reference's;
  * no top-level link dangles;

then resumes (running train-gpt again on the folder resumes it) to max-iters and checks:
exit 0; the "done:" line is the reference's; one checkpoint folder, no temporary files,
no .lock left; metrics.jsonl equals the reference's row for row; model and optimizer are
bitwise the reference's (max |weight difference| is measured and must be 0).

The kill's moment is classified from what the folder holds when the process is gone:
temporary files or folders (.tmp-ckpt-*, .NAME.xxx.tmp) = killed mid-write; a
checkpoint folder that checkpoint.json does not name = killed between the rename and
the commit (a newer folder) or between the commit and the clean-up (an older one);
top-level links or metrics.jsonl one save behind = killed just after the commit. Any
of these counts as "mid-checkpoint".

Not part of the package and not collected by pytest (no test_ prefix):
    python tests/crash_kill.py                  # 50 trials
    python tests/crash_kill.py --quick --trials 8    # CI (.ci/crash.sh)
Exit status 0 only if every invariant held in every trial.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # this checkout's tinygrad_edu, not an installed copy

import numpy as np  # noqa: E402

from tinygrad_edu import checkpoint  # noqa: E402
from tinygrad_edu.cli import build_parser  # noqa: E402
from tinygrad_edu.models import run_folder, train_gpt  # noqa: E402
from tinygrad_edu.models.gpt import GPT  # noqa: E402
from tinygrad_edu.tokenizer import load_tokenizer  # noqa: E402

ROW_KEYS = ("iter", "train_loss", "val_loss", "lr")  # elapsed_s, tokens_per_s vary by run
# A checkpoint's files that are the same bytes in every run (train_state.json holds times)
MODEL_FILES = ("config.json", "model.safetensors", "optimizer.safetensors", "tokenizer.json")


def run_flags(quick: bool) -> list[str]:
    """The tiny run (on the shipped tiny Shakespeare): a checkpoint at every iteration.

    --quick: 20 iterations (about 1 s on a free core) instead of 40."""
    return [
        "--n-layer", "1", "--n-head", "2", "--n-embd", "32", "--block-size", "16",
        "--batch-size", "4", "--eval-interval", "1", "--eval-iters", "1",
        "--max-iters", "20" if quick else "40", "--warmup-iters", "5",
        "--seed", "1337", "--no-progress",
    ]  # fmt: skip


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def command(out: str, flags: list[str]) -> list[str]:
    return [sys.executable, "-m", "tinygrad_edu", "train-gpt", "--out", out, *flags]


def rows_of(metrics: list[dict]) -> list[tuple]:
    return [tuple(r.get(k) for k in ROW_KEYS) for r in metrics]


def watched_run(out: str, flags: list[str], sig=None, delay=0.0, after_lock=True) -> dict:
    """Run train-gpt into out, noting when it takes out/.lock (its start-up is over:
    imports done, training about to begin) and when it ends. With sig: send it `delay`
    seconds after the lock was taken (after_lock) or after the start."""
    lock = os.path.join(out, checkpoint.LOCK)
    proc = subprocess.Popen(
        command(out, flags), cwd=ROOT, env=child_env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    t0 = time.perf_counter()
    t_lock, sent = None, False
    while proc.poll() is None:  # poll every 2 ms (the child writes little: pipes won't fill)
        now = time.perf_counter() - t0
        if t_lock is None and os.path.exists(lock):
            t_lock = now
        if sig is not None and not sent:
            start = t_lock if after_lock else 0.0
            if start is not None and now - start >= delay:
                proc.send_signal(sig)
                sent = True
        time.sleep(0.002)
    t_end = time.perf_counter() - t0
    stdout, stderr = proc.communicate()
    return {
        "returncode": proc.returncode, "stdout": stdout, "stderr": stderr, "sent": sent,
        "t_lock": t_end if t_lock is None else t_lock, "t_end": t_end,
    }  # fmt: skip


# ---- the uninterrupted reference ---------------------------------------------------


class Reference:
    """What checkpoint N of a run that never stopped holds, for every N; and its end."""

    def __init__(self, workdir: str, flags: list[str]) -> None:
        self.flags = flags
        self.max_iters = int(flags[flags.index("--max-iters") + 1])
        # 1. in this process, recording every published checkpoint
        self.per_iter: dict[int, dict] = {}
        ref_a = os.path.join(workdir, "ref-a")
        args = build_parser().parse_args(["train-gpt", "--out", ref_a, *flags])
        given = {k: v for k, v in vars(args).items() if k in train_gpt.TrainConfig.field_names()}
        cfg = train_gpt.TrainConfig(**{k: v for k, v in given.items() if v is not None})
        original = run_folder.publish_checkpoint

        def recording(folder, iteration, write):
            ckpt = original(folder, iteration, write)
            state = checkpoint.read_json(os.path.join(ckpt, "train_state.json"))
            self.per_iter[iteration] = {
                "files": checkpoint.read_json(os.path.join(ckpt, checkpoint.MANIFEST))["files"],
                "rng": state["rng"],
                "rows": rows_of(state["metrics"]),
            }
            return ckpt

        run_folder.publish_checkpoint = recording
        try:
            train_gpt.train(cfg, log=lambda *a: None)
        finally:
            run_folder.publish_checkpoint = original
        # 2. the command line, timed (the shorter of two runs, on a shared machine): the
        #    start-up (until the run takes out/.lock) and the training (the rest)
        startups, spans = [], []
        for name in ("ref-b", "ref-c"):
            self.out = os.path.join(workdir, name)
            run = watched_run(self.out, flags)
            if run["returncode"] != 0:
                sys.exit(f"the reference run failed ({run['returncode']}):\n{run['stderr']}")
            startups.append(run["t_lock"])
            spans.append(run["t_end"] - run["t_lock"])
        self.startup, self.span = min(startups), min(spans)
        self.done_line = run["stdout"].strip().splitlines()[-1]
        ckpt = checkpoint.published_checkpoint(self.out)
        self.final_files = checkpoint.verify_manifest(ckpt)["files"]
        self.rows = rows_of(checkpoint.read_jsonl(os.path.join(self.out, "metrics.jsonl")))
        self.weights = checkpoint.load(os.path.join(ckpt, "model.safetensors"))
        last = self.per_iter[self.max_iters]
        same = [last["files"][k] == v for k, v in self.final_files.items() if k in MODEL_FILES]
        if not all(same) or len(same) != len(MODEL_FILES) or self.rows != last["rows"]:
            sys.exit("the in-process reference and the command-line one differ: not deterministic")
        self.done_line = self.done_line.replace(self.out, "{out}")


# ---- one trial -------------------------------------------------------------------------


def snapshot(out: str) -> dict:
    """What the folder holds right after the kill (before anything cleans it)."""
    if not os.path.isdir(out):
        return {"entries": []}
    entries = sorted(e for e in os.listdir(out) if e != checkpoint.RECORD)  # (the run's record)
    pointer = None
    if checkpoint.POINTER in entries:
        try:
            pointer = checkpoint.read_json(os.path.join(out, checkpoint.POINTER))
        except checkpoint.CheckpointError:
            pointer = "unreadable"
    return {"entries": entries, "pointer": pointer}


def classify(out: str, snap: dict, saved_iter: int | None, metrics_iter: int | None) -> str:
    entries = snap["entries"]
    if not entries or entries == [checkpoint.LOCK]:
        return "before the first checkpoint"
    if any(e.startswith(".tmp-ckpt-") for e in entries):
        return "mid-write (temporary checkpoint folder)"
    if any(e.startswith(".") and e.endswith(".tmp") for e in entries):
        return "mid-write (temporary file)"
    current = snap["pointer"].get("dir") if isinstance(snap.get("pointer"), dict) else None
    others = [e for e in entries if e.startswith("ckpt-") and e != current]
    if others and (current is None or max(others) > current):  # ckpt-NNNNNN: sorts by iter
        return "mid-publish (renamed into place, checkpoint.json not yet switched)"
    if others:
        return "mid-publish (committed; the previous folder not yet removed)"
    for name in checkpoint.RUN_FILES:
        top = os.path.join(out, name)
        if current and (not os.path.islink(top) or not os.readlink(top).startswith(current)):
            return "mid-publish (top-level links one save behind)"
    if saved_iter is not None and metrics_iter != saved_iter:
        return "mid-publish (metrics.jsonl not at the saved iteration)"
    return "between checkpoints"


def check_killed_folder(out: str, ref: Reference, problems: list[str]) -> tuple:
    """The invariants of the folder as the kill left it. Returns (saved iter, metrics iter)."""
    saved_iter = None
    try:
        ckpt = checkpoint.published_checkpoint(out)  # verifies every file's sha256
    except Exception as exc:
        problems.append(f"published checkpoint unusable: {exc}")
        return None, None
    if ckpt is not None:
        manifest = checkpoint.read_json(os.path.join(ckpt, checkpoint.MANIFEST))
        pointer = checkpoint.read_json(os.path.join(out, checkpoint.POINTER))
        state = checkpoint.read_json(os.path.join(ckpt, "train_state.json"))
        saved_iter = manifest["iter"]
        if not (pointer["iter"] == saved_iter == state["iter"]):
            problems.append(
                f"iterations disagree: pointer {pointer['iter']}, manifest {saved_iter}, "
                f"train_state {state['iter']}"
            )
        expected = ref.per_iter.get(saved_iter)
        if expected is None:
            problems.append(f"iteration {saved_iter} is not one the reference saved")
        else:
            for name in MODEL_FILES:  # train_state.json: compared field by field below
                if manifest["files"].get(name) != expected["files"][name]:
                    problems.append(f"{name} is not the reference's at iteration {saved_iter}")
            if state["rng"] != expected["rng"]:
                problems.append(f"saved generator state is not the reference's at {saved_iter}")
            if rows_of(state["metrics"]) != expected["rows"]:
                problems.append("train_state.json's metrics are not the reference's")
        opt = checkpoint.load_optimizer_state(os.path.join(ckpt, "optimizer.safetensors"))
        steps = {s["step"] for s in opt["state"].values()}
        if steps and steps != {saved_iter}:
            problems.append(f"optimizer step counts {sorted(steps)} at iteration {saved_iter}")
        try:
            GPT.from_pretrained(out)
            load_tokenizer(out)  # both follow checkpoint.json, whatever the links say
        except Exception as exc:
            problems.append(f"published checkpoint does not load: {exc}")
    elif os.path.isfile(os.path.join(out, "train_state.json")):
        problems.append("a top-level train_state.json without checkpoint.json")
    for name in checkpoint.RUN_FILES:
        top = os.path.join(out, name)
        if os.path.islink(top) and not os.path.exists(top):
            problems.append(f"{name} is a dangling link")
    metrics_iter = None
    path = os.path.join(out, "metrics.jsonl")
    if os.path.exists(path):
        try:
            rows = rows_of(checkpoint.read_jsonl(path))
        except Exception as exc:
            problems.append(f"metrics.jsonl unreadable: {exc}")
            rows = []
        if rows:
            metrics_iter = rows[-1][0]
            if saved_iter is None or metrics_iter > saved_iter:
                problems.append(f"metrics.jsonl has rows up to {metrics_iter}, saved: {saved_iter}")
            if rows != ref.rows[: len(rows)]:
                problems.append("metrics.jsonl rows are not the reference's")
    return saved_iter, metrics_iter


def check_resumed_folder(out: str, ref: Reference, stdout: str, problems: list[str]) -> float:
    """After the resumed run: everything is the reference's. Returns max |weight diff|."""
    done = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    if done != ref.done_line.format(out=out):
        problems.append(f"final line {done!r}, reference {ref.done_line.format(out=out)!r}")
    entries = os.listdir(out)
    leftovers = [e for e in entries if e.startswith(".") and e != checkpoint.RECORD]
    if leftovers:
        problems.append(f"left after the resumed run: {leftovers}")
    ckpts = [e for e in entries if e.startswith("ckpt-")]
    try:
        ckpt = checkpoint.published_checkpoint(out)
    except Exception as exc:
        problems.append(f"final checkpoint unusable: {exc}")
        return float("nan")
    if ckpt is None or ckpts != [os.path.basename(ckpt)]:
        problems.append(f"checkpoint folders {ckpts}, published {ckpt}")
        return float("nan")
    files = checkpoint.read_json(os.path.join(ckpt, checkpoint.MANIFEST))["files"]
    for name in MODEL_FILES:
        if files.get(name) != ref.final_files[name]:
            problems.append(f"final {name} differs from the uninterrupted run's")
    for name in checkpoint.RUN_FILES:
        top = os.path.join(out, name)
        if not (os.path.islink(top) and os.path.realpath(top).startswith(os.path.realpath(ckpt))):
            problems.append(f"top-level {name} does not lead into {os.path.basename(ckpt)}")
    rows = rows_of(checkpoint.read_jsonl(os.path.join(out, "metrics.jsonl")))
    if rows != ref.rows:
        problems.append(f"metrics.jsonl ({len(rows)} rows) differs from the reference's")
    try:
        model = GPT.from_pretrained(out)
        load_tokenizer(out)
    except Exception as exc:
        problems.append(f"final checkpoint does not load: {exc}")
        return float("nan")
    weights = model.state_dict()
    return max(
        float(np.max(np.abs(weights[k].data - v))) if v.size else 0.0
        for k, v in ref.weights.items()
    )


def trial(number: int, workdir: str, ref: Reference, rnd: random.Random) -> dict:
    out = os.path.join(workdir, f"trial-{number:03d}")
    sig = signal.SIGINT if number % 4 == 3 else signal.SIGKILL  # one trial in four: Ctrl-C
    # one trial in five is killed during start-up (imports, before the lock), the others
    # uniformly over the training (a checkpoint every iteration: writes take much of it)
    during_startup = number % 5 == 1
    delay = rnd.uniform(0.0, ref.startup if during_startup else ref.span)
    run = watched_run(out, ref.flags, sig, delay, after_lock=not during_startup)
    finished_first = not run["sent"]
    if finished_first and not during_startup:  # the training, timed: draw over the shortest
        ref.span = min(ref.span, run["t_end"] - run["t_lock"])
    when = f"{delay:.3f} s after " + ("the start" if during_startup else "taking the lock")
    problems: list[str] = []
    if run["returncode"] not in (0, -signal.SIGKILL, -signal.SIGINT, 1, 130):
        problems.append(f"killed run exited {run['returncode']}: {run['stderr'][-300:]}")
    finished = "done: " in run["stdout"]  # (a Ctrl-C after that can come during Python's exit)
    if sig == signal.SIGINT and run["sent"] and not during_startup and not finished:
        # Ctrl-C once training has begun: one line, exit 130 (a Ctrl-C during the imports
        # still ends in a traceback: the package is imported before cli.main runs)
        if run["returncode"] != 130 or "Traceback" in run["stderr"]:
            problems.append(f"Ctrl-C: exit {run['returncode']}: {run['stderr'][-300:]}")
    snap = snapshot(out)
    # Ctrl-C should release the lock (a stale one is taken over; the resume checks that)
    lock_left = checkpoint.LOCK in snap["entries"]
    saved_iter, metrics_iter = check_killed_folder(out, ref, problems)
    if finished_first:
        phase = "after the run had finished"
    elif run["returncode"] == 0:  # SIGINT between fork and exec: lost, the run went on
        phase = "signal lost (exit 0)"
    else:
        phase = classify(out, snap, saved_iter, metrics_iter)
    resumed = subprocess.run(
        command(out, ref.flags), cwd=ROOT, env=child_env(), stdin=subprocess.DEVNULL,
        capture_output=True, text=True,
    )  # fmt: skip
    max_diff = float("nan")
    if resumed.returncode != 0:
        problems.append(f"resume exited {resumed.returncode}: {resumed.stderr.strip()[-300:]}")
    else:
        said = [line for line in resumed.stdout.splitlines() if line.startswith("resuming from")]
        expected_start = f"at iteration {saved_iter}" if saved_iter is not None else None
        if (expected_start is None) != (not said) or (said and expected_start not in said[0]):
            problems.append(f"resume started from {said}, saved iteration {saved_iter}")
        max_diff = check_resumed_folder(out, ref, resumed.stdout, problems)
        if max_diff != 0.0:
            problems.append(f"final weights differ from the reference by {max_diff:g}")
    return {
        "number": number, "signal": sig.name, "when": when, "phase": phase,
        "saved_iter": saved_iter, "snapshot": snap["entries"], "returncode": run["returncode"],
        "problems": problems, "max_diff": max_diff, "out": out, "lock_left": lock_left,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=50)
    p.add_argument("--seed", type=int, default=0, help="draws the kills' moments")
    p.add_argument("--out", help="keep the trial folders here (default: a temporary folder)")
    p.add_argument("--quick", action="store_true", help="a shorter run (20 iterations)")
    args = p.parse_args(argv)
    if args.trials < 1:
        p.error("--trials must be >= 1")
    workdir = args.out or tempfile.mkdtemp(prefix="tg_crash.")
    os.makedirs(workdir, exist_ok=True)
    if any(e.startswith(("trial-", "ref-")) for e in os.listdir(workdir)):
        p.error(f"--out {workdir} holds an earlier crash test's folders: use an empty one")
    t0 = time.perf_counter()
    ref = Reference(workdir, run_flags(args.quick))
    print(
        f"reference: {ref.max_iters} iterations, a checkpoint each: start-up "
        f"{ref.startup:.2f} s, training {ref.span:.2f} s; "
        f"{ref.done_line.format(out='...')}",
        flush=True,
    )
    rnd = random.Random(args.seed)
    results = []
    for number in range(args.trials):
        r = trial(number, workdir, ref, rnd)
        results.append(r)
        verdict = "ok" if not r["problems"] else "FAILED: " + "; ".join(r["problems"])
        saved = "no checkpoint" if r["saved_iter"] is None else f"checkpoint {r['saved_iter']}"
        print(
            f"trial {number:3d}: {r['signal']:7s} {r['when']}, {r['phase']}; "
            f"{saved}, resumed to {ref.max_iters}; {verdict}",
            flush=True,
        )
    kills = sum(r["signal"] == "SIGKILL" for r in results)
    ints = sum(r["signal"] == "SIGINT" for r in results)
    failed = [r for r in results if r["problems"]]
    mid = sum(r["phase"].startswith(("mid-write", "mid-publish")) for r in results)
    mid_write = sum(r["phase"].startswith("mid-write") for r in results)
    early = sum(r["phase"] == "before the first checkpoint" for r in results)
    late = sum(r["phase"] == "after the run had finished" for r in results)
    int_locks = sum(r["signal"] == "SIGINT" and r["lock_left"] for r in results)
    diffs = [r["max_diff"] for r in results if r["max_diff"] == r["max_diff"]]  # not NaN
    held = "all invariants held" if not failed else f"{len(failed)} trials violated invariants"
    print(f"{len(results)} trials: {kills} SIGKILL, {ints} SIGINT, {held}")
    print(
        f"kills mid-checkpoint: {mid} ({mid_write} with temporary files present); before the "
        f"first checkpoint: {early}; after the run had finished: {late}; "
        f"SIGINT runs that left a .lock: {int_locks}; max |final weight - reference| "
        f"over {len(diffs)} resumed runs: {max(diffs) if diffs else float('nan'):g}; "
        f"wall time {time.perf_counter() - t0:.1f} s"
    )
    if not failed and not args.out:
        shutil.rmtree(workdir, ignore_errors=True)
    elif failed:
        print(f"trial folders kept in {workdir}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
