"""Issue 24, part 4: Ctrl-C at any moment gives one line; SIGTERM is handled like SIGINT.

In-process tests for the moments that are hard to hit with a real signal (argument
parsing, a step of training), then trials that send SIGINT or SIGTERM to a real
`tinygrad-edu train-gpt` process after a random delay, from its first instant (the
imports) to the middle of training.

What Python itself does before the package's first line runs (the interpreter starting,
`site` and an editable install's import hook, the console script's own first lines) is
outside the package: a signal there gets Python's behaviour. So does one during the
package's first line itself, `from . import _startup`, while Python finds and runs that
page (a millisecond or two): the handlers are not in place before it has run. Those
trials are counted apart, recognised by a traceback with no other frame in tinygrad_edu
(or no output at all); a traceback through any other line of the package fails the test.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("safetensors")

from tinygrad_edu import checkpoint  # noqa: E402
from tinygrad_edu.cli import main  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXT = "hello world, hello tensors. " * 60


def _flags(tmp_path, out, max_iters=2, eval_interval=2):
    text = tmp_path / "text.txt"
    if not text.exists():
        text.write_text(TEXT, encoding="utf-8")
    return ["train-gpt", "--data", str(text), "--out", str(out), "--block-size", "8",
            "--batch-size", "2", "--n-layer", "1", "--n-head", "1", "--n-embd", "8",
            "--max-iters", str(max_iters), "--eval-interval", str(eval_interval),
            "--eval-iters", "1", "--warmup-iters", "0", "--no-progress"]  # fmt: skip


# ---- in process: parsing, and SIGTERM during training ---------------------------------


def test_ctrl_c_while_the_arguments_are_parsed_gives_one_line(monkeypatch, capsys):
    from tinygrad_edu import cli

    def parser():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", parser)
    assert main(["info"]) == 130
    assert capsys.readouterr().err == "tinygrad-edu: interrupted\n"


def test_a_real_sigint_while_parsing_is_caught_by_main(monkeypatch, capsys):
    """The signal handler main() installs turns the signal itself into the one line."""
    from tinygrad_edu import cli

    real = cli.build_parser

    def parser():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)  # the handler runs here
        return real()

    monkeypatch.setattr(cli, "build_parser", parser)
    assert main(["info"]) == 130
    assert capsys.readouterr().err == "tinygrad-edu: interrupted\n"


def test_sigterm_during_training_names_the_checkpoint_and_releases_the_lock(
    tmp_path, monkeypatch, capsys
):
    from tinygrad_edu.models.gpt import GPT

    original, calls = GPT.forward, []

    def forward(self, *args, **kw):
        if self.training:
            calls.append(1)
            if len(calls) == 5:  # after the checkpoints of iterations 0, 2 and 4
                os.kill(os.getpid(), signal.SIGTERM)
        return original(self, *args, **kw)

    monkeypatch.setattr(GPT, "forward", forward)

    def not_handled(signum, frame):  # (without it, SIGTERM would end pytest itself)
        raise AssertionError("SIGTERM reached the previous handler: main() has none")

    before = signal.signal(signal.SIGTERM, not_handled)
    out = tmp_path / "run"
    try:
        assert main(_flags(tmp_path, out, max_iters=50)) == 143
        assert signal.getsignal(signal.SIGTERM) is not_handled  # main() put it back
    finally:
        signal.signal(signal.SIGTERM, before)
    err = capsys.readouterr().err
    ckpt = checkpoint.published_checkpoint(out)
    assert err == (
        f"train-gpt: terminated (SIGTERM) at iteration 4; the last checkpoint (iteration 4, "
        f"{ckpt}) is kept; run the same command to resume\n"
    )
    assert not os.path.exists(out / checkpoint.LOCK)


def test_only_the_command_line_gets_the_start_up_handlers(monkeypatch):
    from tinygrad_edu import _startup

    cases = [
        (["/venv/bin/tinygrad-edu", "info"], None, True),
        (["-m"], ["python3", "-m", "tinygrad_edu", "info"], True),
        (["-m"], ["python3", "-m", "pytest", "tests"], False),
        (["-m"], ["python3", "-m", "tinygrad_edu.exercises"], False),
        (["/venv/bin/pytest"], None, False),
        (["-c"], ["python3", "-c", "import tinygrad_edu"], False),
    ]
    for argv, orig, expected in cases:
        monkeypatch.setattr(sys, "argv", argv)
        monkeypatch.setattr(sys, "orig_argv", orig or [sys.executable, *argv], raising=False)
        assert _startup.launched_as_cli() is expected, (argv, orig)
    code = "import signal, tinygrad_edu; print(signal.getsignal(signal.SIGINT).__name__)"
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "default_int_handler", out.stderr  # a library: untouched


# ---- real signals to a real process ----------------------------------------------------


def _command():
    script = shutil.which("tinygrad-edu", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "tinygrad_edu"]


def _first_line() -> int:
    with open(os.path.join(ROOT, "tinygrad_edu", "__init__.py")) as f:
        return next(i for i, line in enumerate(f, 1) if "import _startup" in line)


def _classify(proc_rc: int, err: str, sig: int, out_dir) -> str:
    """'ours' (one line, 128 + sig, no lock left), 'before the package' (Python's own
    behaviour: no frame of the package), 'during its first line' (the traceback's only
    frames in the package: __init__.py's import of _startup, and _startup.py), or fails
    the test."""
    lines = err.strip().splitlines()
    frames = re.findall(r'File "([^"]+)", line (\d+)', err)
    package = os.path.join(ROOT, "tinygrad_edu")
    ours = [(f, int(n)) for f, n in frames if f.startswith(package)]
    first = [(os.path.join(package, "__init__.py"), _first_line())]
    if ours and all(f == os.path.join(package, "_startup.py") or (f, n) in first for f, n in ours):
        assert proc_rc in (-sig, 128 + sig), (proc_rc, err)
        return "during its first line"
    assert not ours, f"a traceback in the package:\n{err}"
    if len(lines) == 1 and re.match(r"(tinygrad-edu|train-gpt): ", lines[0]):
        assert proc_rc == 128 + sig, (proc_rc, err)
        assert not os.path.lexists(os.path.join(out_dir, checkpoint.LOCK)), "lock left"
        if os.path.exists(os.path.join(out_dir, checkpoint.POINTER)):
            checkpoint.published_checkpoint(str(out_dir))  # whole, verified
        return "ours"
    # Python's start: no output (killed before its handler existed), or a traceback /
    # "Fatal Python error" through site, importlib and the console script only
    assert proc_rc in (-sig, 128 + sig, 1), (proc_rc, err)
    return "before the package"


TRIALS: dict = {}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_at_a_random_moment_gives_one_line(tmp_path, sig):
    n = 16 if sig == signal.SIGINT else 8
    rand = random.Random(24 + sig)
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    outcomes = []
    for trial in range(n):
        out = tmp_path / f"run{trial}"
        if trial % 2:  # half of them resume an existing run
            assert main(_flags(tmp_path, out)) == 0
        start = time.monotonic()
        proc = subprocess.Popen(
            [*_command(), *_flags(tmp_path, out, max_iters=5000, eval_interval=20)],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        delay = rand.uniform(0.0, 1.5)  # imports (~0.2-0.5 s), parsing, reading, training
        time.sleep(delay)
        if proc.poll() is not None:
            proc.communicate()
            outcomes.append("finished first")
            continue
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        outcomes.append(_classify(proc.returncode, err, sig, out))
        assert time.monotonic() - start < 60
    TRIALS[signal.Signals(sig).name] = {k: outcomes.count(k) for k in set(outcomes)}
    print(f"\n{signal.Signals(sig).name}: {json.dumps(TRIALS[signal.Signals(sig).name])}")
    assert outcomes.count("ours") >= n // 2  # most land where the package answers
