"""The book builds (two lessons, --quick) and passes the browser check in headless Chromium;
a lesson runs on its own, as a script or a notebook, with only the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_quick_book_builds_and_passes_the_browser_check(tmp_path):
    for module in ("jupytext", "nbclient", "nbconvert", "ipykernel", "pygments", "websocket"):
        pytest.importorskip(module)
    if not any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")):
        pytest.skip("no chromium")
    from tinygrad_edu.lessons.book import build

    index = build(tmp_path, quick=True, only=["01", "02"])
    assert (tmp_path / "notebooks" / "02_cost_and_gradient_descent.ipynb").is_file()
    page = (tmp_path / "02_cost_and_gradient_descent.html").read_text()
    assert page.count("<img") >= 3  # the figures are inline, not only PNG files
    assert 'href="src/tinygrad_edu-scalar.py.html#L-' in (tmp_path / "01_neuron.html").read_text()
    assert "01_neuron.html" in index.read_text()
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        import browser_check
    finally:
        sys.path.remove(str(ROOT / "tests"))
    pages, problems = browser_check.check(tmp_path, browser_check.find_chromium())
    assert pages > 10 and problems == []


# --- a lesson on its own: only the package, no tutorials/ beside it -------------------------


def test_a_lesson_script_runs_alone_with_only_the_package(tmp_path):
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(ROOT / "tutorials" / "01_neuron.py", alone)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TINYGRAD_EDU_OUT": str(tmp_path / "out")}
    env["MPLBACKEND"] = "Agg"  # PYTHONPATH: the package, standing in for an installed one
    proc = subprocess.run(
        [sys.executable, "01_neuron.py", "--quick"],
        cwd=alone, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "out" / "01_neuron_verdicts.json").is_file()


def test_a_lesson_notebook_runs_alone_with_only_the_package(tmp_path, monkeypatch):
    for module in ("jupytext", "nbclient", "nbformat", "ipykernel"):
        pytest.importorskip(module)
    import nbformat
    from nbclient import NotebookClient

    from tinygrad_edu.lessons.book import lesson_notebook

    lesson = ROOT / "tutorials" / "08_mlp_and_superposition.py"
    nb = lesson_notebook(lesson.read_text(encoding="utf-8"))
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "import os, sys, tinygrad_edu\n"
            "print('_common' in sys.modules, os.getcwd(), tinygrad_edu.__file__)"
        )
    )
    alone = tmp_path / "alone"  # an empty folder: the notebook, downloaded from the book
    alone.mkdir()
    nbformat.write(nb, alone / "08.ipynb")
    nb = nbformat.read(alone / "08.ipynb", as_version=4)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the package, standing in for an installed one
    monkeypatch.setenv("TINYGRAD_EDU_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("TINYGRAD_EDU_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(alone)}}
    )
    client.execute()
    last = "".join(o.get("text", "") for o in nb.cells[-1].outputs).split()
    assert last[0] == "False"  # no tutorials/_common.py was found, none was needed
    assert Path(last[1]).resolve() == alone.resolve()
    assert Path(last[2]).resolve() == (ROOT / "tinygrad_edu" / "__init__.py").resolve()
    assert (tmp_path / "out" / "08_mlp_and_superposition_verdicts.json").is_file()
