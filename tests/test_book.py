"""The book builds (two lessons, --quick) and passes the browser check in headless Chromium."""

from __future__ import annotations

import shutil
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
