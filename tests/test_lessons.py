"""The lessons, run as a learner runs them (`--quick`): every verdict they print holds,
every figure they save exists, and every source file and name they point to exists."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinygrad_edu.lessons.book import definitions, lessons, mentions, resolve_path

ROOT = Path(__file__).resolve().parents[1]

# lesson -> the verdicts that must hold in --quick mode (where the effect is robust).
# Timing verdicts (lesson 7's quadratic growth) are left out: a loaded machine can blur them.
EXPECTED = {
    "01_neuron": ["layer_is_sigmoid_of_W_a_plus_b"],
    "03_backpropagation": [
        "big_gradient_matters_most",
        "layer_delta_matches_backward",
        "gradcheck_tanh",
        "gradcheck_matmul",
    ],
    "06_attention": ["vowels_grouped", "case_direction"],
    "02_cost_and_gradient_descent": [
        "start_decides_valley",
        "learning_rate_too_small_good_too_big",
    ],
    "04_digits": ["shuffling_helps", "relu_adam_beats_sigmoid_sgd"],
    "05_next_token": [
        "gpt_beats_bigram",
        "temperature_sharpens_or_flattens",
        "gpt2_english_is_cheapest",
        "gpt2_vocab_is_denser",
    ],
    "07_queries_keys_values": [
        "adjectives_update_nouns",
        "value_map_is_low_rank",
        "fused_same_numbers_less_memory",
    ],
    "08_mlp_and_superposition": [
        "and_gate_neuron",
        "directions_grow_faster_than_dimensions",
        "neurons_are_shared",
        "gpt_mlp_fires_sparsely",  # held for 6 training seeds, 4 backends (base to AVX-512)
        "gpt_neurons_selective",
    ],
    "11_data_parallel": ["shard_average_is_full_gradient"],
}


def run_lesson(stem: str, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TINYGRAD_EDU_OUT": str(out), "MPLBACKEND": "Agg"}
    env.pop("TINYGRAD_EDU_QUICK", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "tutorials" / f"{stem}.py"), "--quick"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_lesson_verdicts_hold_in_quick_mode(stem, tmp_path):
    proc = run_lesson(stem, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads((tmp_path / f"{stem}_verdicts.json").read_text())
    assert record["quick"] is True
    for key in EXPECTED[stem]:
        assert record["verdicts"].get(key) is True, (
            f"{stem}: verdict {key} did not hold\n{proc.stdout[-3000:]}"
        )
    # every printed verdict is one of the recorded ones, and a verdict line was printed each
    assert proc.stdout.count("  -> ") >= len(record["verdicts"])
    if _has_matplotlib():
        prefix = stem[:2] + "_"
        pngs = list(tmp_path.glob(prefix + "*.png"))
        assert pngs, "the lesson saved no figure under its name"


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("lesson", lessons(ROOT), ids=lambda p: p.stem)
def test_every_pointer_resolves(lesson):
    paths, pairs = mentions(lesson.read_text(encoding="utf-8"))
    assert paths, "a lesson names the source it teaches from"
    for p in paths:
        assert resolve_path(p, ROOT) is not None, (
            f"{lesson.name} points at {p}, which does not exist"
        )
    for name, p in pairs:
        f = resolve_path(p, ROOT)
        assert f is not None, f"{lesson.name}: {p} does not exist"
        assert name in definitions(f), f"{lesson.name}: `{name}` is not defined in {p}"


def test_mentions_finds_names_and_paths():
    text = "# `CausalSelfAttention` in `tinygrad_edu/nn/transformer.py`; `models/gpt.py` (GPT.forward,\n# sample_next)"
    paths, pairs = mentions(text)
    assert paths == ["models/gpt.py", "tinygrad_edu/nn/transformer.py"]
    assert ("CausalSelfAttention", "tinygrad_edu/nn/transformer.py") in pairs
    assert ("GPT.forward", "models/gpt.py") in pairs and ("sample_next", "models/gpt.py") in pairs
    assert "GPT.forward" in definitions(resolve_path("models/gpt.py", ROOT))
    assert "NoSuchThing" not in definitions(resolve_path("models/gpt.py", ROOT))


def test_figures_need_titles_and_labels(tmp_path, monkeypatch):
    plt = pytest.importorskip("matplotlib.pyplot")
    monkeypatch.setenv("TINYGRAD_EDU_OUT", str(tmp_path))
    from tinygrad_edu.lessons.common import Lesson

    monkeypatch.setattr(sys, "argv", ["lesson"])
    lesson = Lesson("99_test", "a test lesson")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    with pytest.raises(ValueError, match="no title"):
        lesson.save(fig, "bare")
    ax.set_title("a line")
    with pytest.raises(ValueError, match="axis labels"):
        lesson.save(fig, "bare")
    ax.set(xlabel="x", ylabel="y")
    assert lesson.save(fig, "labelled") == tmp_path / "99_labelled.png"
    assert lesson.verdict("k", 1 > 0, "yes", "no") is None  # a notebook shows no Out[n]
    assert json.loads((tmp_path / "99_test_verdicts.json").read_text())["verdicts"] == {"k": True}
