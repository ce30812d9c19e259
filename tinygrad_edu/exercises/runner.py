"""Running the checks: each learner file in a child process, with a time limit.

`check_file` checks one file in this process: it compiles and runs the learner's file
as a fresh module (no bytecode cache, so an edit is always seen), then runs the
exercise's check (checks.py) and turns whatever happens into a Result.

`run_checks` is what `tinygrad-edu exercises check` uses. A learner's code may loop
forever, so the checks run in a child process that reports each exercise as it starts
and as it ends (one JSON line each, on its stdout). The parent waits at most `timeout`
seconds per exercise; if no answer comes, it stops the child, records the exercise as
failed ("no answer after 5 s"), and starts a new child for the exercises left. One
child checks all the exercises in a row, so the library is imported once, not once per
exercise. The learner's own prints go to stderr.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import types
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .catalog import DEFAULT_TIMEOUT, EXERCISES, get

STARTUP_TIMEOUT = 120.0  # seconds for a child to import the library (a busy machine)
_PREFIX = "@@tinygrad-edu-exercise@@ "

PASSED, FAILED, NOT_STARTED = "passed", "failed", "not started"


@dataclass(frozen=True)
class Result:
    name: str
    status: str  # PASSED, FAILED or NOT_STARTED
    detail: str = ""  # for FAILED: the first mismatch; for NOT_STARTED: what is missing

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def line(self) -> str:
        """`passed`, `not started`, `not started (...)` or `failed: ...`."""
        if self.status == FAILED:
            return f"failed: {self.detail}"
        return f"{self.status} ({self.detail})" if self.detail else self.status


_loaded = 0


def _load(path: Path) -> types.ModuleType:
    """Run the learner's file as a fresh module (compiled from its text: no stale .pyc)."""
    global _loaded
    _loaded += 1
    source = path.read_text(encoding="utf-8")
    name = f"_tinygrad_edu_exercise_{_loaded}_{path.stem}"
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module  # dataclasses and friends look their module up here
    try:
        exec(compile(source, str(path), "exec"), module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def check_file(path: str | os.PathLike, name: str) -> Result:
    """Check one learner file against exercise `name`, in this process."""
    from . import checks
    from .harness import Failed, NotStarted, explain_exception
    from .workspace import is_pristine

    ex = get(name)
    path = Path(path)
    if not path.is_file():
        return Result(
            name, NOT_STARTED, f"{path.name} is missing: `tinygrad-edu exercises init` writes it"
        )
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # overflow warnings and the like: the check says it
        try:
            module = _load(path)
        except NotImplementedError:
            return Result(name, NOT_STARTED)
        except SyntaxError as exc:
            return Result(name, FAILED, f"{path.name} line {exc.lineno}: SyntaxError: {exc.msg}")
        except (Exception, SystemExit) as exc:
            return Result(
                name, FAILED, f"importing {path.name} raised {explain_exception(exc, str(path))}"
            )
        try:
            checks.CHECKS[ex.name](module)
        except NotStarted as exc:
            untouched = is_pristine(path, ex) or len(ex.functions) == 1
            return Result(name, NOT_STARTED, "" if untouched else str(exc))
        except Failed as exc:
            return Result(name, FAILED, str(exc))
        except (Exception, SystemExit) as exc:  # e.g. a result the comparison cannot read
            return Result(
                name, FAILED, f"could not check the result: {explain_exception(exc, str(path))}"
            )
    return Result(name, PASSED)


# --- the child process and its parent ----------------------------------------------------------


def _send(stream, message: dict) -> None:
    stream.write(_PREFIX + json.dumps(message) + "\n")
    stream.flush()


def _child(argv: list) -> None:
    """In the child: check the named exercises of one folder in a row, reporting each."""
    directory, names = Path(argv[0]), argv[1:]
    report = sys.stdout
    sys.stdout = sys.stderr  # the learner's prints must not mix with the reports
    for name in names:
        _send(report, {"start": name})
        r = check_file(directory / get(name).filename, name)
        _send(report, {"name": r.name, "status": r.status, "detail": r.detail})
    sys.stderr.flush()
    os._exit(0)  # do not wait for threads a learner's code may have left running


_CHILD_CODE = "import sys; from tinygrad_edu.exercises.runner import _child; _child(sys.argv[1:])"


def _start_child(directory: Path, names: list) -> subprocess.Popen:
    root = str(Path(__file__).resolve().parents[2])  # the folder holding this tinygrad_edu
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD_CODE, str(directory), *names],
        stdin=subprocess.DEVNULL,  # input() in a learner's code fails instead of waiting
        stdout=subprocess.PIPE,
        env=env,
        text=True,
        encoding="utf-8",
    )


def _reader(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)  # the child closed its stdout: it ended


def run_checks(
    directory: str | os.PathLike,
    names: Iterable[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    on_result: Callable[[Result], None] | None = None,
) -> list:
    """Check the named exercises (all by default) of a folder, each with a time limit.

    Returns one Result per exercise, in the order asked; `on_result` is called with
    each as soon as it is known.
    """
    directory = Path(directory)
    names = [get(n).name for n in names] if names else [ex.name for ex in EXERCISES]
    results: dict = {}

    def record(r: Result) -> None:
        results[r.name] = r
        pending.remove(r.name)
        if on_result is not None:
            on_result(r)

    pending = list(dict.fromkeys(names))
    while pending:
        proc = _start_child(directory, pending)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
        current, deadline = None, time.monotonic() + STARTUP_TIMEOUT
        try:
            while pending:
                try:
                    line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    if current is None:  # the child never got going
                        for n in list(pending):
                            record(Result(n, FAILED, "the checker did not start in time"))
                        break
                    record(Result(current, FAILED,
                                  f"no answer after {timeout:g} s: an infinite loop, or very slow "
                                  "code? (stopped; `--timeout` gives it longer)"))  # fmt: skip
                    break  # a fresh child for the rest
                if line is None:  # the child died
                    code = proc.wait()
                    if current is None:
                        for n in list(pending):
                            record(Result(n, FAILED, f"the checker stopped (exit code {code})"))
                    else:
                        record(Result(current, FAILED,
                                      f"the Python process running it stopped (exit code {code}): "
                                      "sys.exit, os._exit, or a crash in your code?"))  # fmt: skip
                    break
                if _PREFIX not in line:  # a learner's os.write(1, ...) may precede it
                    continue
                message = json.loads(line[line.index(_PREFIX) + len(_PREFIX) :])
                if "start" in message:
                    current, deadline = message["start"], time.monotonic() + timeout
                else:
                    record(Result(message["name"], message["status"], message["detail"]))
                    current, deadline = None, time.monotonic() + STARTUP_TIMEOUT
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
    return [results[n] for n in dict.fromkeys(names)]


def summary(results: list) -> str:
    """`3/21 passed, 1 failed, 17 not started`."""
    counts = {s: sum(r.status == s for r in results) for s in (PASSED, FAILED, NOT_STARTED)}
    text = f"{counts[PASSED]}/{len(results)} passed"
    for status in (FAILED, NOT_STARTED):
        if counts[status]:
            text += f", {counts[status]} {status}"
    return text
