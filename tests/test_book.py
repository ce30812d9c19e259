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
    # the beliefs: on their own page, linked to the lesson's experiment; each page opens with them
    assert 'href="beliefs.html"' in index.read_text()
    gathered = (tmp_path / "beliefs.html").read_text()
    assert 'href="01_neuron.html#belief-' in gathered and 'href="02_cost' in gathered
    lesson1 = (tmp_path / "01_neuron.html").read_text()
    assert '<a id="belief-' in lesson1 and lesson1.count('<details class="setup">') == 1
    assert lesson1.index('<section class="beliefs') < lesson1.index('<details class="setup">')
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


# --- the beliefs and the folded set-up cell, on a page shaped like nbconvert's lab template ----


def _cell(kind: str, inner: str) -> str:
    return f'<div class="jp-Cell jp-{kind}Cell jp-Notebook-cell" id="cell-id={abs(hash(inner))}">{inner}</div>\n'


PAGE = (
    "<html><head><title>t</title></head><body><main>\n"
    + _cell("Markdown", "<h1>Lesson 9: a test</h1>")
    + _cell("Code", "<pre>from tinygrad_edu.lessons.common import Lesson</pre>")
    + _cell("Markdown", "<p>the beliefs</p>")
    + _cell(
        "Code",
        "<pre>x = 1</pre><pre>  belief: Ships can&#x27;t fly.\n    -> CORRECTED: 0 of 3 flew</pre>",
    )
    + _cell("Code", "<pre>  belief: Water is wet.\n    -> CONFIRMED: 3 of 3</pre>")
    + "</main></body></html>"
)
BELIEFS = {
    "ships_fly": {
        "claim": "Ships can't fly.",
        "outcome": "corrected",
        "evidence": "0 of 3 flew",
        "notes": [6],
    },
    "wet": {"claim": "Water is wet.", "outcome": "confirmed", "evidence": "3 of 3", "notes": []},
}


def test_a_lesson_page_opens_with_its_beliefs_and_folds_its_setup_cell():
    from tinygrad_edu.lessons.book import add_beliefs, fold_setup_cell

    page = fold_setup_cell(add_beliefs(PAGE, BELIEFS))
    title, box = page.index("Lesson 9: a test"), page.index('<section class="beliefs')
    folded, setup = page.index('<details class="setup">'), page.index("lessons.common import")
    assert title < box < folded < setup < page.index("</details>") < page.index("the beliefs")
    assert page.count("<details") == 1  # only the set-up cell is folded
    # each belief links to the cell that printed it, and that cell carries the anchor
    for key, printed in (("ships_fly", "Ships can&#x27;t fly."), ("wet", "Water is wet.")):
        anchor = page.index(f'<a id="belief-{key}"></a>')
        assert anchor < page.index(f"belief: {printed}") and f'href="#belief-{key}"' in page
        assert page.index('<div class="jp-Cell', anchor) < page.index(f"belief: {printed}")
    box_text = page[box : page.index("</section>", box)]
    assert "corrected" in box_text and "0 of 3 flew" in box_text and "(note 6)" in box_text
    assert add_beliefs(PAGE, {}) == PAGE  # a lesson without beliefs: the page as it was


def test_checked_beliefs_page_gathers_every_lesson(tmp_path):
    import json

    from tinygrad_edu.lessons.book import beliefs_page, read_beliefs

    record = tmp_path / "09_test_verdicts.json"
    record.write_text(json.dumps({"quick": True, "verdicts": {}, "beliefs": BELIEFS}))
    assert read_beliefs(record) == BELIEFS
    assert read_beliefs(tmp_path / "missing.json") == {}
    page = beliefs_page(
        [("09_test", "Lesson 9: a test", read_beliefs(record)), ("10_x", "L10", {})]
    )
    assert "<h1>Checked beliefs</h1>" in page
    assert "2 beliefs: 1 confirmed, 0 partly, 1 corrected" in page
    assert (
        'href="09_test.html#belief-ships_fly"' in page and 'href="09_test.html#belief-wet"' in page
    )
    assert "Ships can&#x27;t fly." in page and "10_x.html" not in page  # no beliefs, no section
