"""Running the checks: each learner file in a child process, with a time limit.

`check_file` checks one file in this process: it compiles and runs the learner's file
as a fresh module (no bytecode cache, so an edit is always seen), then runs the
exercise's check (checks.py) and turns whatever happens into a Result.

The expected values come from the library, so the library must be the one a fresh
Python would import. A learner's file may rebind a library name (say
`reference.softmax = softmax`, hoping to plug their function in): `check_file` notes
every function, class and module of the library (and of NumPy) before it runs the
learner's file, puts back whatever the file replaced before the check computes a
single expected value, and looks again after the check: a library changed while the
check ran means the check cannot be trusted, and the exercise fails, naming what was
changed (which is then put back too). This is no sandbox -- a learner who wants to
cheat can -- but a wrong answer is never passed because of what the file did to the
library by accident.

`run_checks` is what `tinygrad-edu exercises check` uses. A learner's code may loop
forever, so the checks run in a child process that reports each exercise as it starts
and as it ends (one JSON line each, on its stdout). The parent waits at most `timeout`
seconds per exercise; if no answer comes, it stops the child, records the exercise as
failed ("no answer after 5 s"), and starts a new child for the exercises left. One
child checks all the exercises in a row, so the library is imported once, not once per
exercise. The learner's own prints go to stderr.

The child runs in a process group of its own. Whatever the learner's code started (a
background `subprocess.Popen`, an `os.fork()`) is in that group and is killed with it
when the child finishes or times out, so `check` always ends; the parent reads the
child's pipe with `select`, never blocking on a pipe that a leftover process holds
open. A forked copy of the child never reports (only the process that started the
exercise does), so every exercise is reported exactly once.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
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


# --- the library as imported: noted before the learner's file runs, put back after ---------------

# the packages the expected values come from, and the builtins (sum, max, ...) they call
_WATCHED = ("tinygrad_edu", "numpy", "math", "builtins")


def _watched(module_name: str) -> bool:
    return any(module_name == p or module_name.startswith(p + ".") for p in _WATCHED)


def _is_code(value) -> bool:
    """A function, class, module or anything else callable: what computes a result."""
    return callable(value) or isinstance(
        value, (types.ModuleType, staticmethod, classmethod, property)
    )


def _snapshot() -> dict:
    """Every code name of the watched modules and of the library's classes, and every
    library function's code and defaults: (id(owner), name) -> (owner, the object bound now)."""
    noted: dict = {}
    for module_name, module in list(sys.modules.items()):
        if module is None or not _watched(module_name):
            continue
        noted[(id(sys.modules), module_name)] = (sys.modules, module)
        for attr, value in list(vars(module).items()):
            if not _is_code(value):
                continue
            noted[(id(module), attr)] = (module, value)
            mine = getattr(value, "__module__", None) == module_name
            if mine and isinstance(value, type) and module_name.startswith("tinygrad_edu"):
                for key, member in list(vars(value).items()):
                    if _is_code(member):
                        noted[(id(value), key)] = (value, member)
                        _note_function(noted, getattr(member, "__func__", member))
            elif mine and module_name.startswith("tinygrad_edu"):
                _note_function(noted, value)
    return noted


def _note_function(noted: dict, fn) -> None:
    if isinstance(fn, types.FunctionType):
        for field in ("__code__", "__defaults__", "__kwdefaults__"):
            noted[(id(fn), field)] = (fn, getattr(fn, field))


def _name(owner, attr: str) -> str:
    if owner is sys.modules:
        return f"sys.modules[{attr!r}]"
    if isinstance(owner, types.ModuleType):
        return f"{owner.__name__}.{attr}"
    return f"{getattr(owner, '__module__', '?')}.{getattr(owner, '__qualname__', '?')}.{attr}"


_MISSING = object()


def _restore(noted: dict) -> list:
    """Put back whatever differs from the snapshot; -> the names that were changed."""
    changed = []
    for (_, attr), (owner, value) in noted.items():
        if owner is sys.modules:
            now = sys.modules.get(attr, _MISSING)
        elif isinstance(owner, types.FunctionType):
            now = getattr(owner, attr)
        else:
            now = vars(owner).get(attr, _MISSING)
        if now is value:
            continue
        changed.append(_name(owner, attr))
        if owner is sys.modules:
            sys.modules[attr] = value
        else:
            setattr(owner, attr, value)
    return changed


def _changed_text(changed: list) -> str:
    shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    return shown


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
    from . import checks  # the library, imported before the learner's file runs

    ex = get(name)
    path = Path(path)
    if not path.is_file():
        return Result(
            name, NOT_STARTED, f"{path.name} is missing: `tinygrad-edu exercises init` writes it"
        )
    library = _snapshot()
    try:
        result = _load_and_check(path, ex, checks, library)
    finally:
        changed = _restore(library)  # the next check starts from the library as imported
    if changed and result.status == PASSED:
        # (a change made while loading was put back before the check; this one came later)
        return Result(
            name,
            FAILED,
            f"your code changed the library while the check ran ({_changed_text(changed)}): "
            "the expected values come from the library, so this check cannot be trusted; "
            "leave the library's names alone",
        )
    return result


def _load_and_check(path: Path, ex, checks, library: dict) -> Result:
    from .harness import Failed, NotStarted, explain_exception
    from .workspace import is_pristine

    name = ex.name
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # overflow warnings and the like: the check says it
        try:
            module = _load(path)
            _restore(library)  # what the file replaced, put back before any expected value
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
    me = os.getpid()
    for name in names:
        _send(report, {"start": name})
        r = check_file(directory / get(name).filename, name)
        if os.getpid() != me:  # a copy made by the learner's os.fork(): only the original reports
            os._exit(0)
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
        start_new_session=True,  # a process group of its own: whatever it starts dies with it
    )


def _stop(proc: subprocess.Popen) -> None:
    """Kill the child's whole process group (the child, and anything its learner code
    started and left running), then reap the child and close our end of its pipe."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone already
    proc.wait()
    proc.stdout.close()


class _Lines:
    """The child's stdout, line by line, never blocking past a deadline.

    A process the learner's code started may hold the pipe open after the child has
    ended, so the end of the child is read from the child itself (poll), not from the
    end of the pipe."""

    TICK = 0.05  # seconds between looks at whether the child still runs

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc, self.fd, self.buffer, self.ended = proc, proc.stdout.fileno(), b"", False

    def _read(self, wait: float) -> bool:
        """Read what is there (waiting at most `wait` s); False at the end of the pipe."""
        ready, _, _ = select.select([self.fd], [], [], max(0.0, wait))
        if not ready:
            return True
        data = os.read(self.fd, 65536)
        self.buffer += data
        return bool(data)

    def next(self, deadline: float):
        """The next line (str); None if the child ended; TIMEOUT if the deadline passed."""
        while True:
            if b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                return line.decode("utf-8", "replace")
            if self.ended:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return TIMEOUT
            if not self._read(min(left, self.TICK)):
                self.ended = True
            elif self.proc.poll() is not None:  # ended: take what it wrote, then stop
                while self._read(0.0) and select.select([self.fd], [], [], 0.0)[0]:
                    pass
                self.ended = True


TIMEOUT = "timeout"


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
        if r.name not in pending:  # reported already (or not asked for): keep the first
            return
        results[r.name] = r
        pending.remove(r.name)
        if on_result is not None:
            on_result(r)

    pending = list(dict.fromkeys(names))
    while pending:
        proc = _start_child(directory, pending)
        lines = _Lines(proc)
        current, deadline = None, time.monotonic() + STARTUP_TIMEOUT
        try:
            while pending:
                line = lines.next(deadline)
                if line is TIMEOUT:
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
                try:
                    message = json.loads(line[line.index(_PREFIX) + len(_PREFIX) :])
                    if "start" in message:
                        started = get(message["start"]).name
                    else:
                        r = Result(message["name"], message["status"], str(message["detail"]))
                except (ValueError, KeyError, TypeError):
                    continue  # a line garbled by a learner's own writes to stdout
                if "start" in message:
                    current, deadline = started, time.monotonic() + timeout
                else:
                    record(r)
                    current, deadline = None, time.monotonic() + STARTUP_TIMEOUT
        finally:
            _stop(proc)
    return [results[n] for n in dict.fromkeys(names)]


def summary(results: list) -> str:
    """`3/21 passed, 1 failed, 17 not started`."""
    counts = {s: sum(r.status == s for r in results) for s in (PASSED, FAILED, NOT_STARTED)}
    text = f"{counts[PASSED]}/{len(results)} passed"
    for status in (FAILED, NOT_STARTED):
        if counts[status]:
            text += f", {counts[status]} {status}"
    return text
