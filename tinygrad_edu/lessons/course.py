"""The course as it ships: `tinygrad-edu lessons list | run NN | copy DIR`.

The lessons are the scripts in tutorials/ at the top of a source checkout. A wheel carries
the same files as package data, in tinygrad_edu/course/ (setup.py's build_py copies
tutorials/, the README and csrc/ there), so the course and the book work from `pip install
tinygrad_edu` alone. `course_dir()` finds them in either place.

Each lesson runs as its own script (`python NN_name.py`), with the files it writes in
./tutorial_output/ of the folder it is run from (or $TINYGRAD_EDU_OUT), never beside the
installed package.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

PACKAGE = Path(__file__).resolve().parents[1]  # .../tinygrad_edu
CHECKOUT = PACKAGE.parent  # a source checkout's top folder (site-packages in a wheel)


def course_dir() -> Path:
    """The folder of the lesson scripts: tutorials/ of a source checkout, else the
    copy a wheel carries (tinygrad_edu/course/)."""
    for candidate in (CHECKOUT / "tutorials", PACKAGE / "course"):
        if candidate.is_dir() and any(candidate.glob("[0-9][0-9]_*.py")):
            return candidate
    raise FileNotFoundError(
        "no lessons found: neither tutorials/ beside the package (a source checkout) nor "
        "tinygrad_edu/course/ (a wheel); reinstall tinygrad_edu"
    )


@dataclass(frozen=True)
class LessonFile:
    number: str  # "01"
    path: Path
    title: str  # the first line of its first markdown cell

    @property
    def name(self) -> str:  # "01_neuron"
        return self.path.stem


def _title(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# # "):  # the notebook's first heading
            return line[4:].strip()
    return path.stem


def lessons(folder: Optional[Path] = None) -> list[LessonFile]:
    """Every lesson, in lecture order."""
    folder = folder or course_dir()
    return [LessonFile(p.name[:2], p, _title(p)) for p in sorted(folder.glob("[0-9][0-9]_*.py"))]


def find(key: str, folder: Optional[Path] = None) -> LessonFile:
    """A lesson by number ("1", "01") or name ("01_neuron", "neuron")."""
    every = lessons(folder)
    key = key.strip()
    for ls in every:
        if key.isdigit() and int(key) == int(ls.number):
            return ls
        if key in (ls.name, ls.path.name, ls.name[3:]):
            return ls
    numbers = ", ".join(ls.number for ls in every)
    raise ValueError(f"no lesson {key!r}; the lessons are {numbers}")


def run(key: str, args: list[str], quick: bool = False) -> int:
    """Run one lesson as a script in this Python, from the current folder; its exit code."""
    lesson = find(key)
    cmd = [sys.executable, str(lesson.path), *(["--quick"] if quick else []), *args]
    return subprocess.call(cmd)


def copy(dest: str) -> tuple[list[Path], list[Path]]:
    """Write editable copies of the lessons (and tutorials/_common.py, which they import
    when it is beside them) into dest. A file that is already there is the learner's and
    is left as it is: (written, kept)."""
    folder = course_dir()
    target = Path(dest)
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"{dest} exists and is not a folder")
    target.mkdir(parents=True, exist_ok=True)
    written, kept = [], []
    sources = [ls.path for ls in lessons(folder)] + [folder / "_common.py"]
    for src in sources:
        out = target / src.name
        try:
            # "x": create only; an existing file (or a link, even a dangling one) is kept
            with open(out, "x", encoding="utf-8") as f:
                f.write(src.read_text(encoding="utf-8"))
        except FileExistsError:
            kept.append(out)
            continue
        written.append(out)
    return written, kept


@contextlib.contextmanager
def book_root() -> Iterator[Path]:
    """A folder laid out as a source checkout, for the book: the checkout itself, or for a
    wheel a temporary folder whose tutorials/, csrc/, README.md and tinygrad_edu/ are links
    into the installed package (removed afterwards: only the links, never their targets)."""
    if (CHECKOUT / "tutorials").is_dir() and (CHECKOUT / "README.md").is_file():
        yield CHECKOUT
        return
    course = PACKAGE / "course"
    if not course.is_dir():
        raise FileNotFoundError(
            "no lessons in this install: tinygrad_edu/course/ is missing; reinstall tinygrad_edu"
        )
    with tempfile.TemporaryDirectory(prefix="tinygrad_edu_book_") as tmp:
        root = Path(tmp)
        links = {
            "tutorials": course,
            "tinygrad_edu": PACKAGE,
            "README.md": course / "README.md",
            "csrc": course / "csrc",
        }
        for name, target in links.items():
            if target.exists():
                os.symlink(target, root / name, target_is_directory=target.is_dir())
        yield root
