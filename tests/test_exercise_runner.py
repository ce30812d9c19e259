"""The exercise runner against a learner's file that harms the check by accident.

Each test is a reproduction: a file that used to make `exercises check` report a wrong
answer as passed, hang, or crash, and must now be reported (failed, or as its answer
deserves) with the check ending in time.
"""

from __future__ import annotations

import time
from pathlib import Path

from tinygrad_edu import exercises as E
from tinygrad_edu.exercises.runner import FAILED, PASSED, check_file, run_checks
from tinygrad_edu.kernels import reference

WRONG_SOFTMAX = """
import numpy as np
from tinygrad_edu.kernels import reference


def softmax(x):
    return np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)  # no max subtracted: NaN at 1000
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _starting_with(code: str, name: str) -> str:
    """The reference solution of exercise `name`, with `code` as its first lines."""
    solution = E.solution_text(E.get(name)).replace("from __future__ import annotations\n", "")
    return code + solution


def test_a_wrong_answer_that_replaces_the_library_at_import_fails(tmp_path):
    path = _write(tmp_path / "softmax.py", WRONG_SOFTMAX + "\n\nreference.softmax = softmax\n")
    original = reference.softmax
    r = check_file(path, "softmax")
    assert r.status == FAILED and "nan" in r.detail, r
    assert reference.softmax is original  # put back: the next check computes from the library
    (child,) = run_checks(tmp_path, ["softmax"], timeout=20.0)
    assert child.status == FAILED and "nan" in child.detail, child


def test_a_library_changed_while_the_check_runs_fails_the_check(tmp_path):
    # The wrong function plugs itself in on its first call: every expected value after that
    # one would be its own. The check cannot be trusted, so it fails, naming the change.
    code = WRONG_SOFTMAX.replace(
        "def softmax(x):\n", "def softmax(x):\n    reference.softmax = softmax\n"
    )
    original = reference.softmax
    r = check_file(_write(tmp_path / "softmax.py", code), "softmax")
    assert r.status == FAILED, r
    assert (
        "changed the library" in r.detail and "tinygrad_edu.kernels.reference.softmax" in r.detail
    )
    assert reference.softmax is original
    # the same file with the right formula: replaced at call time all the same, so failed
    right = E.solution_text(E.get("softmax")).replace(
        "def softmax(x", "from tinygrad_edu.kernels import reference\n\n\ndef softmax(x", 1
    )
    body = '    """softmax over the last axis."""\n'
    assert body in right
    right = right.replace(body, body + "    reference.softmax = softmax\n", 1)
    assert check_file(_write(tmp_path / "softmax.py", right), "softmax").status == FAILED


def test_a_solution_after_a_replacing_file_is_checked_against_the_library(tmp_path):
    _write(tmp_path / "softmax.py", WRONG_SOFTMAX + "\n\nreference.softmax = softmax\n")
    for name in ("sigmoid", "causal_attention"):  # the latter also uses reference.softmax
        ex = E.get(name)
        _write(tmp_path / ex.filename, E.solution_text(ex))
    results = run_checks(tmp_path, ["softmax", "causal_attention", "sigmoid"], timeout=20.0)
    assert [r.status for r in results] == [FAILED, PASSED, PASSED], results


def test_a_background_process_does_not_hold_the_check(tmp_path):
    pid_file = tmp_path / "sleeper.pid"
    code = (
        "import subprocess\n"
        f"_p = subprocess.Popen(['sleep', '45'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(_p.pid))\n"
    )
    _write(tmp_path / "softmax.py", _starting_with(code, "softmax"))
    start = time.monotonic()
    (r,) = run_checks(tmp_path, ["softmax"], timeout=20.0)
    assert r.status == PASSED, r
    assert time.monotonic() - start < 30  # the sleep would hold a pipe reader for 45 s
    sleeper = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(sleeper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(sleeper), "the learner's background process outlived the check"


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, killed but not yet reaped by its parent, is not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_fork_is_tolerated_and_every_exercise_reported_once(tmp_path):
    E.solve(tmp_path, log=lambda line: None)
    _write(tmp_path / "softmax.py", _starting_with("import os\n_child = os.fork()\n", "softmax"))
    mse = tmp_path / "mse_cost.py"  # a fork during the check, inside the learner's function
    _write(mse, mse.read_text(encoding="utf-8").replace("def mse_cost(", "def _mse(", 1)
           + "\n\ndef mse_cost(*args):\n    import os\n    os.fork()\n    return _mse(*args)\n")  # fmt: skip
    seen = []
    results = run_checks(tmp_path, timeout=20.0, on_result=seen.append)
    assert [r.name for r in results] == E.names()
    assert sorted(r.name for r in seen) == sorted(E.names())  # each once
    assert all(r.passed for r in results), [r for r in results if not r.passed]


def test_a_builtin_replaced_by_the_file_is_put_back(tmp_path):
    # `sum = ...` in a file is the file's own name; builtins.sum = ... would change the
    # library's sums too (reference.softmax divides by a sum)
    code = "import builtins\n\nbuiltins.max = lambda *a, **k: 0\n"
    path = _write(tmp_path / "softmax.py", _starting_with(code, "softmax"))
    original = max
    assert check_file(path, "softmax").status == PASSED
    import builtins

    assert builtins.max is original


def test_a_timed_out_exercise_takes_its_background_process_with_it(tmp_path):
    pid_file = tmp_path / "sleeper.pid"
    code = (
        "import subprocess\n"
        "_p = subprocess.Popen(['sleep', '45'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(_p.pid))\n"
        "while True:\n"
        "    pass\n"
    )
    _write(tmp_path / "softmax.py", code)
    E.init(tmp_path, log=lambda line: None)  # the other files: not started
    start = time.monotonic()
    results = run_checks(tmp_path, ["softmax", "sigmoid"], timeout=2.0)
    assert [r.status for r in results] == [FAILED, "not started"], results
    assert "no answer after 2 s" in results[0].detail
    assert time.monotonic() - start < 30
    sleeper = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(sleeper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(sleeper), "the learner's background process outlived its time-out"
