"""`--mine DIR`: the learner's exercise functions in place of the library's.

The seam (kernels/mine.py) and its loader (exercises/mine.py): with the reference
solutions plugged in, the library computes what it computes without them; a wrong
function is used only when forced, and then changes the results; every lesson with
exercises takes `--mine`. The slow tests run lessons: with the reference solutions their
verdicts hold, and with one sabotaged function the lesson's own verdicts catch it and
name the learner's function.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu import kernels, optim, rng, scalar
from tinygrad_edu.autograd import no_grad
from tinygrad_edu.exercises import get, mine, solution_text, template_text
from tinygrad_edu.kernels import mine as registry
from tinygrad_edu.kernels import reference
from tinygrad_edu.lessons.book import lessons
from tinygrad_edu.models.gpt import GPT, GPTConfig, sample_next
from tinygrad_edu.nn import functional as F
from tinygrad_edu.tensor import Tensor

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _library_again():
    yield
    mine.unplug()


def _folder(tmp_path: Path, replace: dict | None = None, names=mine.PLUGGABLE) -> Path:
    """A learner's folder with the reference solutions, some of them changed:
    replace = {name: (text, its wrong version)} or {name: [(text, wrong), ...]}."""
    folder = tmp_path / "mine"
    folder.mkdir(exist_ok=True)
    for name in names:
        text = solution_text(get(name))
        changes = (replace or {}).get(name, [])
        for old, new in [changes] if isinstance(changes, tuple) else changes:
            assert text.count(old) == 1, (name, old)
            text = text.replace(old, new)
        (folder / get(name).filename).write_text(text, encoding="utf-8")
    return folder


def _gpt_run(steps: int = 3) -> tuple[list, np.ndarray]:
    """A tiny GPT trained a few steps with AdamW, then one cached generation."""
    rng.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=16))
    opt = optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    idx = np.random.default_rng(0).integers(0, 20, (2, 8))
    losses = []
    for _ in range(steps):
        _, loss = model(idx, idx)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    rng.manual_seed(1)
    return losses, model.generate(idx[:, :3], 4, temperature=1.0, top_p=0.9)


# --- the seam ---------------------------------------------------------------------------------


def test_reference_solutions_plugged_in_compute_what_the_library_computes(tmp_path):
    want_losses, want_tokens = _gpt_run()
    plugged = mine.plug_in(_folder(tmp_path))
    assert [p.name for p in plugged if p.used] == list(mine.PLUGGABLE)
    assert isinstance(kernels.ops, registry.Overlay) and kernels.backend_name() in (
        "compiled", "reference")  # fmt: skip
    got_losses, got_tokens = _gpt_run()
    np.testing.assert_allclose(got_losses, want_losses, rtol=1e-5)
    assert np.array_equal(got_tokens, want_tokens)
    called = mine.calls()
    for name in (
        "causal_attention",
        "cross_entropy_grad",
        "adam_step",
        "layer_norm_backward",
        "softmax",
        "mlp_block",
        "top_p_filter",
    ):  # fmt: skip  (generation's cached attention: the textbook softmax)
        assert called.get(name, 0) > 0, (name, called)
    # T new queries after S - T cached keys, through the fused attention: kv_cache_step
    r = np.random.default_rng(1)
    q, k, v = (Tensor(r.standard_normal((2, 2, n, 4))) for n in (2, 5, 5))
    got = F.scaled_dot_product_attention(q, k, v, is_causal=True, causal_offset=3).data
    assert mine.calls()["kv_cache_step"] == 1
    want = F.scaled_dot_product_attention(q, k, v, is_causal=True, causal_offset=3, fused=False)
    np.testing.assert_allclose(got, want.data, rtol=1e-9, atol=1e-12)
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    np.testing.assert_allclose(kernels.ops.softmax(x), reference.softmax(x), rtol=1e-6)
    assert kernels.ops.softmax(x).dtype == np.float32
    a, b = [[1.0, 2.0], [3.0, 4.0]], [[0.5], [-1.0]]
    assert kernels.ops.matmul_naive(a, b) == reference.matmul_naive(a, b)
    v = scalar.Value(2.0)
    (v * v + v).backward()
    assert v.grad == 5.0 and mine.calls()["topological_sort"] == 1
    assert mine.calls()["matmul_loops"] == 1
    # lesson 2's line fit: scalar.descend_line, one learner step per step
    xs, ys = [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0], [-3.2, -0.8, 1.1, 2.9, 5.2, 6.8]
    got = scalar.descend_line(xs, ys, lr=0.1, steps=5)
    assert mine.calls()["gradient_descent_step"] == 5
    mine.unplug()
    assert not isinstance(kernels.ops, registry.Overlay) and mine.calls() == {}
    want = scalar.descend_line(xs, ys, lr=0.1, steps=5)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
    assert mine.calls() == {}  # the library's own step again


def test_a_wrong_function_is_used_only_when_forced(tmp_path):
    wrong = {"adam_step": ("m_hat = m / (1 - beta1**step)", "m_hat = m")}
    folder = _folder(tmp_path, wrong, names=("adam_step", "softmax"))
    want_losses, _ = _gpt_run()
    plugged = {p.name: p for p in mine.plug_in(folder)}
    assert plugged["softmax"].used and plugged["softmax"].why == "passed"
    assert not plugged["adam_step"].used and plugged["adam_step"].why.startswith("failed: ")
    text = mine.describe(list(plugged.values()), folder)
    assert "uses YOUR softmax" in text and "adam_step: failed: " in text and "--mine-force" in text
    assert _gpt_run()[0] == pytest.approx(want_losses, rel=1e-5)
    plugged = {p.name: p for p in mine.plug_in(folder, force=True)}
    assert plugged["adam_step"].used and plugged["adam_step"].why.startswith("forced (failed: ")
    got_losses, _ = _gpt_run()
    assert got_losses[0] == pytest.approx(want_losses[0], rel=1e-6)  # before any step
    assert abs(got_losses[-1] - want_losses[-1]) > 1e-3  # the steps were the learner's
    assert mine.calls()["adam_step"] > 0


def _forced(tmp_path, name: str, change) -> None:
    """Plug in the learner's `name`, changed by (text, wrong version) pairs, forced."""
    plugged = mine.plug_in(_folder(tmp_path, {name: change}, names=(name,)), force=True)
    assert [(p.name, p.used) for p in plugged] == [(name, True)]
    assert plugged[0].why.startswith("forced (failed: "), plugged[0].why


def _mlp_output(model: GPT, idx) -> np.ndarray:
    with no_grad():
        return model(idx)[0].data


def test_mlp_block_runs_the_gpts_mlp_with_the_exact_gelu_only(tmp_path):
    idx = np.random.default_rng(0).integers(0, 20, (2, 8))
    models = {}
    for activation in ("gelu", "gelu_tanh"):
        rng.manual_seed(0)
        sizes = dict(vocab_size=20, block_size=8, n_layer=2, n_head=2, n_embd=16)
        cfg = GPTConfig(**sizes, bias=False, activation=activation)  # train_gpt's: no biases
        models[activation] = GPT(cfg).eval()
    want = {a: _mlp_output(m, idx) for a, m in models.items()}
    mine.plug_in(_folder(tmp_path, names=("mlp_block",)))
    np.testing.assert_allclose(_mlp_output(models["gelu"], idx), want["gelu"], rtol=1e-5,
                               atol=1e-6)  # fmt: skip
    assert mine.calls() == {"mlp_block": 2}  # one call per block
    np.testing.assert_array_equal(_mlp_output(models["gelu_tanh"], idx), want["gelu_tanh"])
    assert mine.calls() == {"mlp_block": 2}  # GPT-2's tanh GELU is not the exercise's


def test_a_wrong_mlp_block_changes_the_gpts_output(tmp_path):
    rng.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=16)).eval()
    idx = np.random.default_rng(0).integers(0, 20, (2, 8))
    want = _mlp_output(model, idx)
    relu = ("0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))", "np.maximum(h, 0.0)")  # for GELU
    _forced(tmp_path, "mlp_block", relu)
    assert np.abs(_mlp_output(model, idx) - want).max() > 1e-3
    assert mine.calls() == {"mlp_block": 1}  # the only learner function that ran


# sample_next's probabilities: the nucleus of top_p = 0.6 is tokens 1 and 2 (0.4 + 0.3);
# the last token, 4, is outside it
NUCLEUS_LOGITS = np.log(np.tile([0.05, 0.4, 0.3, 0.15, 0.1], (4000, 1)))


def test_top_p_filter_draws_the_tokens_of_generation(tmp_path):
    rng.manual_seed(0)
    want = sample_next(NUCLEUS_LOGITS, top_p=0.6)
    assert set(np.unique(want)) == {1, 2}
    mine.plug_in(_folder(tmp_path, names=("top_p_filter",)))
    rng.manual_seed(0)
    assert np.array_equal(sample_next(NUCLEUS_LOGITS, top_p=0.6), want)
    assert mine.calls() == {"top_p_filter": 1}


def test_a_top_p_filter_that_does_not_rescale_draws_outside_the_nucleus(tmp_path):
    _forced(tmp_path, "top_p_filter", ("    return kept / kept.sum(axis=-1, keepdims=True)",
                                       "    return kept"))  # fmt: skip
    rng.manual_seed(0)
    drawn = sample_next(NUCLEUS_LOGITS, top_p=0.6)
    outside = np.isin(drawn, [1, 2], invert=True).mean()
    assert outside > 0.2, outside  # the 30% the kept tokens do not hold fall off the end
    assert mine.calls() == {"top_p_filter": 1}  # the only learner function that ran


def test_not_started_files_are_never_used_and_bad_input_is_named(tmp_path):
    folder = tmp_path / "ex"
    folder.mkdir()
    (folder / "softmax.py").write_text(template_text(get("softmax")), encoding="utf-8")
    plugged = mine.plug_in(folder, force=True)
    assert [(p.name, p.used, p.why) for p in plugged] == [("softmax", False, "not started")]
    assert not isinstance(kernels.ops, registry.Overlay)
    with pytest.raises(ValueError, match="no folder"):
        mine.plug_in(tmp_path / "nope")
    with pytest.raises(ValueError, match="no kernel takes the exercise"):
        registry.use({"dpo_loss": lambda *a: 0.0})
    with pytest.raises(TypeError, match="must be a function"):
        registry.use({"softmax": 3})


def test_every_lesson_with_exercises_takes_mine():
    text = (ROOT / "tinygrad_edu" / "lessons" / "common.py").read_text()
    assert '"--mine"' in text and '"--mine-force"' in text and "TINYGRAD_EDU_MINE" in text
    for path in lessons(ROOT):  # each builds its Lesson, which parses --mine
        source = path.read_text(encoding="utf-8")
        assert "Lesson(" in source or "lesson_gpt" in source, path.name


def test_the_environment_variable_plugs_in_and_a_failing_verdict_names_the_function(
    tmp_path, monkeypatch, capsys
):
    from tinygrad_edu.lessons.common import Lesson

    folder = _folder(tmp_path, names=("softmax", "matmul_loops"))
    monkeypatch.setenv("TINYGRAD_EDU_MINE", str(folder))  # how a notebook or the book asks
    monkeypatch.setenv("TINYGRAD_EDU_OUT", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["lesson"])
    lesson = Lesson("99_mine", "a lesson")
    assert [p.name for p in lesson.mine if p.used] == ["softmax", "matmul_loops"]
    assert "this run uses YOUR softmax, matmul_loops" in capsys.readouterr().out
    lesson.verdict("before", False, "held", "did not hold")
    assert "none of your functions was called so far" in capsys.readouterr().out
    kernels.ops.softmax(np.zeros((2, 3)))
    lesson.verdict("holds", True, "held", "did not hold")
    assert "YOUR" not in capsys.readouterr().out  # a verdict that holds needs no note
    lesson.verdict("fails", False, "held", "did not hold")
    out = capsys.readouterr().out
    assert "did not hold" in out and "this ran on YOUR softmax (1 call)" in out
    record = json.loads((tmp_path / "99_mine_verdicts.json").read_text())
    assert record["mine"] == {"used": ["softmax", "matmul_loops"], "calls": {"softmax": 1}}
    kernels.ops.softmax(np.zeros((2, 3)))  # after the last verdict: the summary records it
    lesson.summary()
    record = json.loads((tmp_path / "99_mine_verdicts.json").read_text())
    assert record["mine"]["calls"] == {"softmax": 2}


def test_a_lesson_names_a_missing_folder_in_one_line(tmp_path):
    env = dict(os.environ, TINYGRAD_EDU_OUT=str(tmp_path), MPLBACKEND="Agg")
    args = [sys.executable, str(ROOT / "tutorials" / "01_neuron.py"), "--quick", "--mine",
            str(tmp_path / "nope")]  # fmt: skip
    result = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--mine: no folder" in result.stderr.strip().splitlines()[-1]


# --- lessons run on the learner's functions (slow: each runs a lesson with --quick) -------------


def _run_lesson(stem: str, folder: Path, out: Path, force: bool = False):
    env = dict(os.environ, TINYGRAD_EDU_OUT=str(out), MPLBACKEND="Agg")
    args = [sys.executable, str(ROOT / "tutorials" / f"{stem}.py"), "--quick", "--mine",
            str(folder)] + (["--mine-force"] if force else [])  # fmt: skip
    result = subprocess.run(args, capture_output=True, text=True, env=env, cwd=out, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((out / f"{stem}_verdicts.json").read_text())
    return result.stdout, record


# (lesson, exercise, the sabotage: text in the solution -> its wrong version, the verdicts
# of the lesson that must come out False with it)
SABOTAGES = {
    "topological_sort_reversed_preorder": (
        "03_backpropagation", "topological_sort",
        # each node listed on the way down (preorder), then the list reversed: right for a
        # tree, wrong where a Value is used twice (it is handed on before all uses added)
        [("        stack.append((node, True))  # come back once the children are done\n",
          "        topo.append(node)  # on the way down\n"),
         ("    return topo\n", "    return topo[::-1]\n")],
    ),
    "cross_entropy_grad_unnormalised_softmax": (
        "04_digits", "cross_entropy_grad",
        ("    p = np.exp(shifted - log_sum[:, None])  # softmax",
         "    p = np.exp(shifted)  # softmax, not normalised"),
    ),
    "adam_without_bias_correction": (
        "04_digits", "adam_step",
        ("    m_hat = m / (1 - beta1**step)\n    v_hat = v / (1 - beta2**step)",
         "    m_hat = m\n    v_hat = v * 0 + 1e-12"),
    ),
    "attention_without_mask": (
        "07_queries_keys_values", "causal_attention",
        ("    scores = np.where(future, -np.inf, scores)\n", ""),
    ),
    "softmax_without_normalising": (
        "07_queries_keys_values", "softmax",
        ("    return e / e.sum(axis=-1, keepdims=True)", "    return e"),
    ),
    "cross_entropy_grad_unnormalised_in_gpt_training": (
        "05_next_token", "cross_entropy_grad",
        ("    p = np.exp(shifted - log_sum[:, None])  # softmax",
         "    p = np.exp(shifted)  # softmax, not normalised"),
    ),
    "gradient_descent_step_sum_not_mean": (
        "02_cost_and_gradient_descent", "gradient_descent_step",
        # the gradient of the summed squared error: n = 6 times too big a step
        [("        dw += 2.0 * error * x / n\n", "        dw += 2.0 * error * x\n"),
         ("        db += 2.0 * error / n\n", "        db += 2.0 * error\n")],
    ),
    "mlp_block_with_relu": (
        "08_mlp_and_superposition", "mlp_block",
        ("0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))", "np.maximum(h, 0.0)"),
    ),
}  # fmt: skip

# The learner functions each lesson must call when the reference solutions are plugged in:
# those its sabotages above change, and top-p sampling (lesson 5's last section).
CALLED = {stem: {name for s, name, _ in SABOTAGES.values() if s == stem}
          for stem in {s[0] for s in SABOTAGES.values()}}  # fmt: skip
CALLED["05_next_token"].add("top_p_filter")


# Verdicts that measure the compiled kernels themselves, not the numbers: lesson 7's fused
# attention must use less memory than the textbook's, and under --mine the "fused" call runs
# the learner's one-head function, which builds the whole T x T weights as the textbook does.
# That half fails by design; the numbers half is read from the lesson's printed table.
KERNEL_VERDICTS = {"07_queries_keys_values": {"fused_same_numbers_less_memory"}}


def _fused_differences(stdout: str) -> list:
    """Lesson 7's table: the max |diff| between the textbook and the fused attention."""
    lines = stdout.split("textbook ms   fused ms")[1].splitlines()[1:]
    rows = [line.split() for line in lines if line.strip()[:1].isdigit()]
    return [float(row[-1]) for row in rows if len(row) == 7]


def _mismatches(stem: str, stdout: str, record: dict) -> list:
    """What this run concluded differently from tests/test_lessons.py's table: verdicts
    (those about the kernels themselves left out), belief outcomes, lesson 7's numbers."""
    from test_lessons import EXPECTED

    expected = EXPECTED[stem]
    exempt = KERNEL_VERDICTS.get(stem, set())
    found = [k for k, v in record["verdicts"].items()
             if k not in exempt and expected["verdicts"].get(k) not in (None, v)]  # fmt: skip
    found += [k for k, b in record["beliefs"].items() if expected["beliefs"][k][0] != b["outcome"]]
    if stem == "07_queries_keys_values" and max(_fused_differences(stdout)) > 1e-4:
        found.append("fused attention's numbers differ from the textbook's")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("stem", sorted({s[0] for s in SABOTAGES.values()}))
def test_lessons_hold_with_the_reference_solutions_plugged_in(stem, tmp_path):
    stdout, record = _run_lesson(stem, _folder(tmp_path), tmp_path)
    assert "this run uses YOUR" in stdout
    assert _mismatches(stem, stdout, record) == [], stdout[-3000:]
    assert record["mine"]["used"] and sum(record["mine"]["calls"].values()) > 0
    assert CALLED[stem] <= set(record["mine"]["calls"]), record["mine"]["calls"]


@pytest.mark.slow
@pytest.mark.parametrize("sabotage", sorted(SABOTAGES))
def test_a_sabotaged_function_is_caught_by_the_lessons_own_verdicts(sabotage, tmp_path):
    stem, name, change = SABOTAGES[sabotage]
    folder = _folder(tmp_path, {name: change}, names=(name,))
    stdout, record = _run_lesson(stem, folder, tmp_path, force=True)
    assert f"uses YOUR {name}" in stdout and "forced (failed: " in stdout
    assert record["mine"]["calls"].get(name, 0) > 0
    flipped = _mismatches(stem, stdout, record)
    assert flipped, f"nothing in {stem} caught the sabotage {sabotage}:\n{stdout[-3000:]}"
    assert f"this ran on YOUR {name}" in stdout  # the failing verdict names the function
