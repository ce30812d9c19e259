"""The learner's folder: `init` writes the exercise files, `solve` the teacher's solutions.

A learner's work is never overwritten by accident. A file is rewritten only if it is
still the pristine template (or, for `solve`, already a solution), or if the learner
asks for it by name (`init --force NAME`, `solve --force`). Every write goes to a
temporary file in the same folder first and then replaces the old file in one step
(os.replace), so an interrupted write never leaves half a file behind.
"""

from __future__ import annotations

import ast
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable

from .catalog import DEFAULT_TIMEOUT, EXERCISES, Exercise, get

README = "README.md"


def _package_file(folder: str, filename: str) -> str:
    return (resources.files(__package__) / folder / filename).read_text(encoding="utf-8")


def template_text(ex: Exercise) -> str:
    """The file a learner starts from: docstring, signature, `raise NotImplementedError`."""
    return _package_file("templates", ex.filename)


def solution_text(ex: Exercise) -> str:
    """The template's docstring above the reference solution (solutions/NAME.py)."""
    template = template_text(ex)
    doc = ast.parse(template).body[0]  # the module docstring
    head = "".join(template.splitlines(keepends=True)[: doc.end_lineno])
    return head + "\n" + _package_file("solutions", ex.filename)


def readme_text() -> str:
    """The folder's README.md: how to check, and the exercises in lesson order."""
    lines = [
        "# Exercises",
        "",
        "Each `.py` file here is one exercise: a function (or two) to write. Its docstring",
        "gives the idea, the math, the shapes, a hint, the lesson it belongs to and the",
        "library file where the answer lives (read it after trying).",
        "",
        "    tinygrad-edu exercises check .            check every exercise",
        "    tinygrad-edu exercises check . softmax    check one",
        "",
        "`check` runs your function on several inputs, edge cases included, and compares",
        "it with the library's own implementation (gradients also with finite differences).",
        "It prints `passed`, `not started` or `failed:` with the first mismatch: the input,",
        "the expected value and yours. Each exercise runs in a separate process with a time",
        f"limit (`--timeout`, default {DEFAULT_TIMEOUT:g} s), so an infinite loop just fails.",
        "The exit code is 0 only when every exercise checked has passed (one not started",
        "counts as not passed), so `check` also works in a script or CI job.",
        "",
        "`tinygrad-edu exercises init .` again never overwrites a file you edited;",
        "`init . --force NAME` resets one to the blank template.",
        "",
        "| | exercise | lesson | what you write | the answer, in the library |",
        "|---|---|---|---|---|",
    ]
    for i, ex in enumerate(EXERCISES, 1):
        answer = ", ".join(f"`{a}`" for a in ex.answer.split(", "))
        lines.append(
            f"| {i} | [`{ex.filename}`]({ex.filename}) | `{ex.lesson_path}` | {ex.title} "
            f"| {answer} in `{ex.source}` |"
        )
    return "\n".join(lines) + "\n"


def _same(text: str, other: str) -> bool:
    """Equal up to line endings and trailing blank space (what editors change on save)."""
    return text.replace("\r\n", "\n").rstrip() == other.replace("\r\n", "\n").rstrip()


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return ""  # not the template, whatever it is
    except FileNotFoundError:
        return None


def is_pristine(path: Path, ex: Exercise) -> bool:
    """Is the file at path still the untouched template (or missing)?"""
    text = _read(path)
    return text is None or _same(text, template_text(ex))


def write_atomic(path: Path, text: str) -> None:
    """Write text to path in one step: a temporary file beside it, then os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _write_readme(directory: Path, log: Callable[[str], None]) -> None:
    path = directory / README
    old, new = _read(path), readme_text()
    if old is not None and _same(old, new):
        return
    if old is None:
        write_atomic(path, new)
    else:
        log(f"kept your edited {README}")


def _selected(names: Iterable[str] | None) -> list:
    if not names:
        return list(EXERCISES)
    wanted = {get(n).name for n in names}  # ValueError for an unknown name
    return [ex for ex in EXERCISES if ex.name in wanted]


def init(directory: str | os.PathLike, force: Iterable[str] = (), log=print) -> int:
    """Write every exercise's template into directory; returns how many files were written.

    An existing file is left alone if the learner edited it ("kept your edited X"),
    unless its exercise is named in `force`, which resets it to the template.
    """
    directory = Path(directory)
    force = {ex.name for ex in _selected(force)} if force else set()
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{directory} exists and is not a folder")
    written, kept = 0, []
    for ex in EXERCISES:
        path = directory / ex.filename
        text = template_text(ex)
        old = _read(path)
        if old is not None and _same(old, text):
            continue  # already the template
        if old is not None and ex.name not in force:
            log(f"kept your edited {ex.filename}")
            kept.append(ex.name)
            continue
        write_atomic(path, text)
        written += 1
        log(f"{'reset' if old is not None else 'wrote'} {ex.filename}")
    _write_readme(directory, log)
    if kept:
        log(
            f"(`tinygrad-edu exercises init {directory} --force {kept[0]}` resets one to the template)"
        )
    log(
        f"{len(EXERCISES)} exercises in {directory}; next: `tinygrad-edu exercises check {directory}`"
    )
    return written


def solve(
    directory: str | os.PathLike, names: Iterable[str] | None = None, force: bool = False, log=print
) -> int:
    """For teachers: write the reference solutions; returns how many files were written.

    A file the learner edited is kept unless `force`; the template or a missing file is
    replaced by the solution.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{directory} exists and is not a folder")
    written = 0
    for ex in _selected(names):
        path = directory / ex.filename
        text = solution_text(ex)
        old = _read(path)
        if old is not None and _same(old, text):
            continue  # already the solution
        if old is not None and not force and not _same(old, template_text(ex)):
            log(f"kept your edited {ex.filename} (--force replaces it with the solution)")
            continue
        write_atomic(path, text)
        written += 1
        log(f"wrote the solution of {ex.name} to {path}")
    _write_readme(directory, log)
    return written
