"""Lesson 12, the capstone (tutorials/12_your_gpt.py): it runs on the shipped text and on a
text in another script, its verdicts hold there too, and it refuses what it cannot use (a
small, binary, non-UTF-8 or empty file, a preference it cannot measure) with one line and
a non-zero exit, never a traceback.

tests/test_lessons.py runs the lesson once with its defaults (Genesis, "shorter lines");
here it runs once more, on a second text with a "mention" preference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_lessons import EXPECTED, record_problems  # the lesson table of tests/test_lessons.py

from tinygrad_edu.data.genesis import load_genesis

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "tutorials" / "12_your_gpt.py"
STEM = "12_your_gpt"

# Letter by letter, Latin -> Cyrillic. The result is not Russian, nor any language: it is the
# same text in another script (two bytes per letter in UTF-8, a vocabulary of other
# characters), which is what "any script" asks the lesson to handle.
CYRILLIC = dict(zip("abcdefghijklmnopqrstuvwxyz", "абцдефгхийклмнопярстувшчыз"))


def to_cyrillic(text: str) -> str:
    table = {**CYRILLIC, **{k.upper(): v.upper() for k, v in CYRILLIC.items()}}
    return "".join(table.get(ch, ch) for ch in text)


def run(out: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "TINYGRAD_EDU_OUT": str(out), "MPLBACKEND": "Agg"}
    for name in ("TINYGRAD_EDU_QUICK", "TINYGRAD_EDU_SEED", "TINYGRAD_EDU_MINE"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, str(LESSON), "--quick", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def record(out: Path) -> dict:
    return json.loads((out / f"{STEM}_verdicts.json").read_text())


def test_the_transliteration_is_another_script():
    text = load_genesis()[:2000]
    other = to_cyrillic(text)
    assert len(set(CYRILLIC.values())) == 26
    assert not any("a" <= ch.lower() <= "z" for ch in other)
    assert len(other) == len(text) and len(other.encode()) > 1.5 * len(text.encode())


def test_on_a_text_in_another_script_with_a_mention_preference(tmp_path):
    """One run for two promises (the lesson takes about 35 s): it uses a text the learner
    gives, in another script, and a 'mention' preference (the default run in
    tests/test_lessons.py has Genesis and 'shorter lines')."""
    path = tmp_path / "genesis_cyrillic.txt"
    path.write_text(to_cyrillic(load_genesis()), encoding="utf-8")
    out = tmp_path / "out"
    god = to_cyrillic("God")
    proc = run(out, "--data", str(path), "--prefer", f"lines that mention {god}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "The Book of Genesis" not in proc.stdout  # it used the given text
    assert f"preference: lines that mention '{god}'" in proc.stdout
    block = proc.stdout[proc.stdout.index("--- sample 1:") : proc.stdout.index("greedy")]
    samples = "\n".join(ln for ln in block.splitlines() if not ln.startswith("--- sample "))
    assert sum("а" <= ch.lower() <= "я" for ch in samples) > 100  # it writes Cyrillic
    assert not any("a" <= ch.lower() <= "z" for ch in samples)  # and nothing else
    problems = record_problems(STEM, record(out), seed=0)
    assert not problems, "\n".join(problems) + "\n" + proc.stdout[-3000:]
    assert not (out / f"{STEM[:2]}_genesis_kjv.txt").exists()  # it wrote no other text


def _refused(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_refuses_a_small_file(tmp_path):
    path = tmp_path / "small.txt"
    path.write_text(load_genesis()[:10_000], encoding="utf-8")
    _refused(run(tmp_path, "--data", str(path)), "10,000 bytes", "50,000")


def test_refuses_a_binary_file(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(load_genesis()[:60_000].encode() + b"\0\1\2\3" * 100)  # NULs, else UTF-8
    _refused(run(tmp_path, "--data", str(path)), "NUL", "binary")


def test_refuses_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(("Grüße aus Köln. " * 5000).encode("latin-1"))
    _refused(run(tmp_path, "--data", str(path)), "not UTF-8")


def test_refuses_an_empty_or_missing_file(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    _refused(run(tmp_path, "--data", str(empty)), "empty")
    _refused(run(tmp_path, "--data", str(tmp_path / "nope.txt")), "cannot read")


def test_refuses_a_preference_it_cannot_measure(tmp_path):
    _refused(run(tmp_path, "--prefer", "funny lines"), "cannot measure", "funny lines")


def test_the_table_lists_the_capstone():
    assert STEM in EXPECTED and len(EXPECTED[STEM]["verdicts"]) >= 4


@pytest.mark.parametrize(
    "line, expected",
    [
        ("lines that end with a question mark", "lines that end with '?'"),
        ("prefer lines that mention God", "lines that mention 'God'"),
        ("Shorter lines", "shorter lines"),
        ("longer lines.", "longer lines"),
    ],
)
def test_the_preferences_it_understands(tmp_path, line, expected):
    # the preference is read first; a file too small then stops the lesson before training
    small = tmp_path / "small.txt"
    small.write_text("x" * 100)
    proc = run(tmp_path / "out", "--prefer", line, "--data", str(small))
    assert f"preference: {expected}\n" in proc.stdout
    _refused(proc, "100 bytes")
