"""README.md is a user's guide: its Python example runs as printed and does what it says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_readme_has_a_python_example_on_its_first_screen():
    text = (ROOT / "README.md").read_text()
    assert python_blocks(), "README.md has no ```python example"
    assert text.index("```python") < text.index("## The lessons")


def test_readme_example_runs_and_learns(tmp_path):
    (code,) = python_blocks()
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    # the scalar engine's gradients: c = tanh(a*b + a) at a=2, b=-3
    match = re.search(r"dc/da = (-?[\d.]+), dc/db = (-?[\d.]+)", proc.stdout)
    assert match, proc.stdout
    import math

    t = math.tanh(2.0 * -3.0 + 2.0)
    assert abs(float(match[1]) - (1 - t * t) * (-3.0 + 1.0)) < 1e-4
    assert abs(float(match[2]) - (1 - t * t) * 2.0) < 1e-4
    # the tensor example learns XOR of the signs: its loss ends far below ln 2 (chance)
    loss = float(re.search(r"loss after 200 steps: ([\d.]+)", proc.stdout)[1])
    assert loss < 0.2, proc.stdout


def test_readme_names_no_commits_or_worklog():
    for path in [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *ROOT.glob("docs/*.md")]:
        if not path.exists():
            continue
        text = path.read_text()
        assert not re.search(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}\b", text), (
            f"{path.name} names a commit hash"
        )
        assert "this session" not in text.lower(), f"{path.name} has worklog words"
