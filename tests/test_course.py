"""The course as it ships: `tinygrad-edu lessons list | run | copy`, the course files a wheel
carries (setup.py's build_py), the book's folder for a wheel install, and the book's error
when a lesson fails."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinygrad_edu.cli import main as cli_main
from tinygrad_edu.lessons import course

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted(p.name for p in (ROOT / "tutorials").glob("[0-9][0-9]_*.py"))


def test_list_names_every_lesson_of_tutorials(capsys):
    assert course.course_dir() == ROOT / "tutorials"  # a source checkout reads tutorials/
    assert cli_main(["lessons", "list"]) == 0
    out = capsys.readouterr().out
    for name in LESSONS:
        assert f"{name[:2]}  {name[:-3]}" in out
    assert "Lesson 1: what a neural network is" in out  # the title, from its first heading


def test_find_by_number_or_name_and_refuse_others():
    assert course.find("1").path.name == LESSONS[0]
    assert course.find("01_neuron").number == "01"
    assert course.find("neuron").number == "01"
    with pytest.raises(ValueError, match="no lesson '99'; the lessons are 01"):
        course.find("99")


def test_run_a_lesson_from_any_folder_with_its_arguments(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    env.pop("TINYGRAD_EDU_OUT", None)
    cmd = [sys.executable, "-m", "tinygrad_edu", "lessons", "run", "01", "--quick", "--"]
    ok = subprocess.run([*cmd, "--seed", "3"], cwd=tmp_path, env=env, capture_output=True,
                        text=True, timeout=300)  # fmt: skip
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "the Neuron object says" in ok.stdout
    # what it writes lands in the folder it was run from, not beside the lesson
    assert (tmp_path / "tutorial_output" / "01_neuron_verdicts.json").is_file()
    # the arguments after -- reach the lesson: a bad value is the lesson's argparse error
    bad = subprocess.run([*cmd, "--seed", "x1"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert bad.returncode == 2 and "--seed: invalid int value: 'x1'" in bad.stderr


def test_copy_writes_every_lesson_and_never_replaces_a_file(tmp_path, capsys):
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / LESSONS[1]).write_text("# my edits\n")
    outside = tmp_path / "outside.py"
    (dest / LESSONS[2]).symlink_to(outside)  # a dangling link: not written through
    assert cli_main(["lessons", "copy", str(dest)]) == 0
    assert "kept 2 files" in capsys.readouterr().out
    assert (dest / LESSONS[1]).read_text() == "# my edits\n"
    assert not outside.exists()
    assert (dest / LESSONS[0]).read_text() == (ROOT / "tutorials" / LESSONS[0]).read_text()
    assert (dest / "_common.py").is_file()
    assert sorted(p.name for p in dest.glob("[0-9][0-9]_*.py")) == LESSONS
    # a file where the folder should be: one line, exit 2
    (tmp_path / "afile").write_text("x")
    assert cli_main(["lessons", "copy", str(tmp_path / "afile")]) == 2


def _setup_module():
    spec = importlib.util.spec_from_file_location("tg_setup", ROOT / "setup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_wheel_carries_every_lesson_the_readme_and_the_c_sources():
    files = dict((inside, src) for src, inside in _setup_module().course_files(str(ROOT)))
    for name in LESSONS + ["_common.py"]:
        assert name in files  # tinygrad_edu/course/NN_name.py
    assert "README.md" in files and "csrc/gemm_impl.h" in files
    assert not any(inside.startswith("tutorials/") for inside in files)


def test_book_root_of_a_wheel_links_into_the_package(tmp_path, monkeypatch):
    site = tmp_path / "site-packages"
    package = site / "tinygrad_edu"
    (package / "course" / "csrc").mkdir(parents=True)
    (package / "course" / "01_neuron.py").write_text("# # Lesson 1: x\n")
    (package / "course" / "README.md").write_text("# readme\n")
    monkeypatch.setattr(course, "PACKAGE", package)
    monkeypatch.setattr(course, "CHECKOUT", site)
    assert course.course_dir() == package / "course"
    with course.book_root() as root:
        assert (root / "tutorials" / "01_neuron.py").read_text() == "# # Lesson 1: x\n"
        assert (root / "README.md").read_text() == "# readme\n"
        assert (root / "tinygrad_edu").resolve() == package.resolve()
    assert not root.exists()  # the links went, their targets stayed
    assert (package / "course" / "01_neuron.py").is_file()


def test_the_book_names_the_lesson_that_failed_and_its_error(tmp_path):
    from tinygrad_edu.lessons.book import LessonFailed

    class CellError(Exception):  # what nbclient raises: the error's name and value
        ename, evalue = "ModuleNotFoundError", "No module named 'safetensors'"

    exc = LessonFailed("05_next_token.py", CellError("\nTraceback...\n"))
    assert str(exc) == (
        "lesson 05_next_token.py failed: ModuleNotFoundError: No module named 'safetensors'"
    )
    assert str(LessonFailed("01_neuron.py", TimeoutError("\n\ncell timed out\n"))) == (
        "lesson 01_neuron.py failed: TimeoutError: cell timed out"
    )


def test_the_book_command_ends_on_the_lessons_error(tmp_path, monkeypatch, capsys):
    for module in ("jupytext", "nbclient", "nbconvert", "ipykernel", "pygments"):
        pytest.importorskip(module)
    from tinygrad_edu.lessons import book

    fake = tmp_path / "checkout"
    (fake / "tutorials").mkdir(parents=True)
    (fake / "README.md").write_text("## Reading the source\n\n| open | to learn |\n")
    (fake / "tutorials" / "01_broken.py").write_text(
        "# %% [markdown]\n# # Broken\n\n# %%\nraise KeyError('no such column')\n"
    )
    (fake / "tutorials" / "_common.py").write_text("")
    (fake / "tinygrad_edu" / "lessons").mkdir(parents=True)
    for rel in ("tinygrad_edu/lessons/common.py",):
        (fake / rel).write_text((ROOT / rel).read_text())
    monkeypatch.setattr(course, "CHECKOUT", fake)
    assert book.main(str(tmp_path / "out"), quick=True) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == "the book: lesson 01_broken.py failed: KeyError: 'no such column'"
