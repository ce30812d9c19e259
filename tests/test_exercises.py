"""The exercises (tinygrad_edu/exercises/): init, check, solve, as a learner and a teacher meet them.

For every exercise: a fresh folder says "not started", the reference solution passes,
and a deliberately wrong solution (one mutation each: a sign flipped, a term left out)
fails with a message naming the call and the mismatch. A learner's file that raises,
returns the wrong thing, hangs or kills its process gives a message, never a traceback.
`init` never overwrites an edited file; `--force` resets it; writes are atomic.

Checks run in this process (runner.check_file) where that is safe, and through the
child process (runner.run_checks, the CLI) a few times, once with a hanging exercise.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu import exercises as E
from tinygrad_edu import rng, scalar
from tinygrad_edu.cli import main
from tinygrad_edu.exercises import workspace
from tinygrad_edu.exercises.runner import FAILED, NOT_STARTED, PASSED, check_file, run_checks
from tinygrad_edu.lessons.book import definitions, lessons

ROOT = Path(__file__).resolve().parents[1]
NAMES = E.names()

# One wrong solution per exercise: (text in the solution, what it becomes).
MUTATIONS = {
    "neuron_output": ("    z = bias\n", "    z = 0.0  # the bias forgotten\n"),
    "sigmoid": ("return s * (1.0 - s)", "return s * (1.0 + s)"),
    "mse_cost": ("(diff * diff).mean()", "(diff * diff).sum()"),
    "gradient_descent_step": ("return w - lr * dw, b - lr * db", "return w + lr * dw, b + lr * db"),
    "mul_backward": ("a.grad += b.data * out.grad", "a.grad = b.data * out.grad"),
    "tanh_backward": ("(1.0 - t * t)", "(1.0 - t)"),
    "topological_sort": (  # pre-order: a node before its children
        "        visited.add(node)\n        stack.append((node, True))",
        "        visited.add(node)\n        topo.append(node)",
    ),
    "micro_engine": (
        "            self.grad += (1.0 - out.data**2) * out.grad",
        "            self.grad += (1.0 - out.data) * out.grad",
    ),
    "minibatches": ("n // batch_size if drop_last else -(-n // batch_size)", "n // batch_size"),
    "cross_entropy_grad": ("return loss, p / N", "return loss, p"),
    "adam_step": ("m_hat = m / (1 - beta1**step)", "m_hat = m"),
    "bpe_merge_step": ("key=lambda p: (-counts[p], p))  #", "key=lambda p: -counts[p])  #"),
    "top_p_filter": (
        "np.cumsum(sorted_p, axis=-1) - sorted_p < top_p",
        "np.cumsum(sorted_p, axis=-1) < top_p",
    ),
    "softmax": ("np.exp(x - x.max(axis=-1, keepdims=True))", "np.exp(x)"),
    "layer_norm_backward": ("        - xhat * (dxhat * xhat).mean(axis=1, keepdims=True)\n", ""),
    "causal_attention": (
        "future = np.triu(np.ones((T, T), dtype=bool), k=1)",
        "future = np.triu(np.ones((T, T), dtype=bool), k=2)",
    ),
    "split_merge_heads": (
        "x.reshape(B, T, n_head, C // n_head).transpose(0, 2, 1, 3)",
        "x.reshape(B, n_head, T, C // n_head)",
    ),
    "kv_cache_step": ("k=1 + S - T)  #", "k=1)  #"),
    "mlp_block": (
        "0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))",
        "0.5 * h * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * h**3)))",
    ),
    "dpo_loss": ("margin = beta * (chosen - rejected)", "margin = beta * (rejected - chosen)"),
    "matmul_loops": ("s += a[i][k] * b[k][j]", "s += a[i][k] * b[j][k]"),
    "shard_batch": ("return batch[rank * b : (rank + 1) * b]", "return batch[rank::size]"),
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _replace_bodies(ex, body: str) -> str:
    """The template with every `raise NotImplementedError` replaced by `body`."""
    return E.template_text(ex).replace("raise NotImplementedError", body)


# --- the catalogue ---------------------------------------------------------------------------


def test_catalogue_covers_the_lessons_in_order():
    assert len(NAMES) >= 15 and len(set(NAMES)) == len(NAMES)
    stems = [p.stem for p in lessons(ROOT)]
    assert [ex.lesson for ex in E.EXERCISES] == sorted(ex.lesson for ex in E.EXERCISES)
    # every lesson has exercises of its own but the capstone, which runs on the learner's
    # functions from the lessons before it (`--mine`) and assigns no new ones
    capstone = stems[-1]
    assert (
        capstone == "12_your_gpt"
        and "--mine DIR" in (ROOT / "tutorials" / f"{capstone}.py").read_text()
    )
    assert {ex.lesson for ex in E.EXERCISES} == set(stems) - {capstone}, (
        "every lesson has exercises"
    )
    from tinygrad_edu.exercises.checks import CHECKS

    assert set(CHECKS) == set(NAMES)
    assert set(MUTATIONS) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_template_names_its_lesson_source_and_functions(name):
    ex = E.get(name)
    text = E.template_text(ex)
    tree = ast.parse(text)
    doc = ast.get_docstring(tree)
    assert doc.startswith(f"Exercise `{name}`")
    for needed in (ex.lesson_path, ex.source, "Idea:", "Math:", "Shapes:", "Hint:", "Answer:"):
        assert needed in doc, f"{ex.filename}: the docstring does not mention {needed}"
    assert (ROOT / ex.lesson_path).is_file() and (ROOT / ex.source).is_file()
    defined = definitions(ROOT / ex.source)
    for answer in ex.answer.split(", "):  # the names the answer points at exist there
        assert answer in defined, f"{answer} is not defined in {ex.source}"
    functions = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert set(functions) == set(ex.functions)
    for fn in functions.values():  # a docstring line, then raise NotImplementedError
        if isinstance(fn, ast.ClassDef):  # a class: the methods left to write
            todo = [f for f in fn.body if isinstance(f, ast.FunctionDef)
                    and ast.unparse(f.body[-1]) == "raise NotImplementedError"]  # fmt: skip
            assert len(todo) >= 2, f"{ex.filename}: the class leaves nothing to write"
        else:
            assert ast.unparse(fn.body[-1]) == "raise NotImplementedError"
    assert ast.parse(E.solution_text(ex))  # the solution below the same docstring parses
    assert E.solution_text(ex).startswith(text[: text.index('"""', 3) + 3])


def test_every_lesson_ends_with_its_exercises():
    for path in lessons(ROOT):
        cells = path.read_text(encoding="utf-8").split("# %%")
        last = cells[-1]
        assert last.startswith(" [markdown]"), f"{path.name} does not end with a markdown cell"
        assert "tinygrad-edu exercises init" in last and "tinygrad-edu exercises check" in last
        for ex in E.for_lesson(path.stem):
            assert f"`{ex.name}`" in last, f"{path.name} does not point to {ex.name}"


def test_nothing_below_the_top_floor_imports_the_exercises():
    from test_layers import floor, imports_of, modules  # the floors of the package

    known = modules()
    importers = {
        m
        for m, path in known.items()
        if not m.startswith("tinygrad_edu.exercises")
        and any(d.startswith("tinygrad_edu.exercises") for d in imports_of(m, path, known))
    }
    # the command line, and the lessons' `--mine` (which runs the learner's functions)
    assert importers == {"tinygrad_edu.cli", "tinygrad_edu.lessons.common"}
    assert floor("tinygrad_edu.exercises.checks") == floor("tinygrad_edu.cli")


# --- init, check, solve: the whole round ---------------------------------------------------------


def test_init_check_solve_check(tmp_path, capsys):
    folder = tmp_path / "ex"
    assert main(["exercises", "init", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {NAMES[0]}.py" in out and f"exercises check {folder}" in out
    assert sorted(p.stem for p in folder.glob("*.py")) == sorted(NAMES)
    readme = (folder / "README.md").read_text()
    assert all(f"`{n}.py`" in readme for n in NAMES)
    rows = [line for line in readme.splitlines() if line.startswith("| ") and ".py`](" in line]
    assert [re.search(r"`(\w+)\.py`", row).group(1) for row in rows] == NAMES  # lesson order

    assert main(["exercises", "check", str(folder)]) == 1  # not started is not passed
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"0/{len(NAMES)} passed, {len(NAMES)} not started"
    for name, line in zip(NAMES, lines):
        assert line.split() == [name, "not", "started"], line

    assert main(["exercises", "solve", str(folder)]) == 0
    capsys.readouterr()
    assert main(["exercises", "check", str(folder)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"{len(NAMES)}/{len(NAMES)} passed"
    for name, line in zip(NAMES, lines):
        assert line.split() == [name, "passed"], line
    assert not list(folder.glob("**/*.pyc")), "checking leaves no bytecode in the learner's folder"


@pytest.mark.parametrize("name", NAMES)
def test_pristine_file_is_not_started_and_the_solution_passes(name, tmp_path):
    ex = E.get(name)
    path = _write(tmp_path / ex.filename, E.template_text(ex))
    assert check_file(path, name) == E.Result(name, NOT_STARTED)
    _write(path, E.solution_text(ex))
    assert check_file(path, name).status == PASSED, check_file(path, name).detail


@pytest.mark.parametrize("name", NAMES)
def test_a_wrong_solution_fails_naming_the_mismatch(name, tmp_path):
    ex = E.get(name)
    old, new = MUTATIONS[name]
    solution = E.solution_text(ex)
    assert solution.count(old) == 1, f"the mutation of {name} no longer applies"
    r = check_file(_write(tmp_path / ex.filename, solution.replace(old, new)), name)
    assert r.status == FAILED, r
    assert any(fn in r.detail for fn in ex.functions), r.detail  # names the call
    if "raised" not in r.detail:
        # what was expected, and what came instead (for a graph order: which node is misplaced)
        assert re.search(r"expected .+, got |comes before its child", r.detail), r.detail
    assert "Traceback" not in r.detail
    first, *more = r.detail.split("\n")  # the mismatch on one line; a diff or diagnosis below
    assert all(line.startswith("  ") for line in more), r.detail


@pytest.mark.parametrize("name", NAMES)
def test_a_learner_exception_or_wrong_result_is_a_message(name, tmp_path):
    ex = E.get(name)
    path = tmp_path / ex.filename
    _write(path, _replace_bodies(ex, 'raise RuntimeError("boom")'))
    r = check_file(path, name)
    assert r.status == FAILED and "raised RuntimeError: boom (line " in r.detail, r
    assert f"of {ex.filename})" in r.detail
    _write(path, _replace_bodies(ex, "return None"))
    r = check_file(path, name)
    assert r.status == FAILED and "expected" in r.detail, r


def test_wrong_shape_and_type_are_named(tmp_path):
    ex = E.get("softmax")
    path = _write(tmp_path / ex.filename, _replace_bodies(ex, "return x.sum(axis=-1)"))
    r = check_file(path, "softmax")
    assert (
        r.detail
        == "softmax([1, 2, 3]): expected the result to be an array of shape (3,), got the number 6"
    )
    path = _write(tmp_path / ex.filename, _replace_bodies(ex, "return x[..., :-1]"))
    r = check_file(path, "softmax")
    assert "expected the result of shape (3,), got shape (2,)" in r.detail
    ex = E.get("cross_entropy_grad")
    path = _write(tmp_path / ex.filename, _replace_bodies(ex, "return 1.0"))
    r = check_file(path, ex.name)
    assert "expected a tuple (loss, dlogits), got 1" in r.detail
    ex = E.get("dpo_loss")
    path = _write(tmp_path / ex.filename, _replace_bodies(ex, "return 'low'"))
    assert "expected a number, got str 'low'" in check_file(path, ex.name).detail


def test_half_done_and_missing_and_broken_files(tmp_path):
    ex = E.get("sigmoid")
    half = E.solution_text(ex).replace("    s = sigmoid(x)\n", "    raise NotImplementedError\n")
    r = check_file(_write(tmp_path / ex.filename, half), "sigmoid")
    assert r.line() == "not started (`sigmoid_prime` still raises NotImplementedError)"
    r = check_file(tmp_path / "softmax.py", "softmax")
    assert r.status == NOT_STARTED and "missing" in r.detail
    r = check_file(_write(tmp_path / "softmax.py", "def softmax(x):\n    return x +\n"), "softmax")
    assert r.line() == "failed: softmax.py line 2: SyntaxError: invalid syntax"
    r = check_file(_write(tmp_path / "softmax.py", "import numpy as np\n"), "softmax")
    assert r.line() == "failed: softmax.py defines no function `softmax`"
    r = check_file(_write(tmp_path / "softmax.py", "1 / 0\n"), "softmax")
    assert (
        r.line()
        == "failed: importing softmax.py raised ZeroDivisionError: division by zero (line 1 of softmax.py)"
    )


def test_an_edit_is_seen_at_once(tmp_path):
    # the learner's file is compiled from its text each time: no stale bytecode, even for
    # an edit of the same length within the same second
    path = _write(tmp_path / "mse_cost.py", "def mse_cost(p, t):\n    return 1.0\n")
    assert check_file(path, "mse_cost").status == FAILED
    _write(path, "def mse_cost(p, t):\n    return ((p - t) ** 2).mean()\n")
    assert check_file(path, "mse_cost").status == PASSED


def test_recursion_gets_a_hint(tmp_path):
    code = (
        "def topological_sort(root):\n"
        "    out, seen = [], set()\n"
        "    def visit(v):\n"
        "        if v not in seen:\n"
        "            seen.add(v)\n"
        "            for c in v._prev:\n"
        "                visit(c)\n"
        "            out.append(v)\n"
        "    visit(root)\n"
        "    return out\n"
    )
    r = check_file(_write(tmp_path / "topological_sort.py", code), "topological_sort")
    assert "a chain of 10,000 operations raised RecursionError" in r.detail
    assert "keep your own stack" in r.detail


def test_checks_leave_the_random_generators_alone(tmp_path):
    before = (rng.get_state(), scalar._rng.getstate())
    for name in ("neuron_output", "topological_sort", "mlp_block", "kv_cache_step", "minibatches"):
        ex = E.get(name)
        assert check_file(_write(tmp_path / ex.filename, E.solution_text(ex)), name).passed
    assert (rng.get_state(), scalar._rng.getstate()) == before


# --- the child process: hangs, crashes, prints --------------------------------------------------


def test_hangs_and_crashes_in_a_child_process(tmp_path, capfd):
    E.solve(tmp_path, log=lambda line: None)

    def learner(name: str, body: str) -> None:
        _write(tmp_path / f"{name}.py", _replace_bodies(E.get(name), body))

    learner("mse_cost", "while True:\n        pass")  # an infinite loop
    learner(
        "softmax",
        "print('debugging softmax')\n    return np.exp(x) / np.exp(x).sum(-1, keepdims=True)",
    )
    learner("dpo_loss", "import os\n    os._exit(3)")  # the process dies
    learner("shard_batch", "import sys\n    sys.exit(0)")
    names = ["mse_cost", "sigmoid", "softmax", "dpo_loss", "matmul_loops", "shard_batch"]
    seen = []
    results = run_checks(tmp_path, names, timeout=2.0, on_result=seen.append)
    assert [r.name for r in results] == names and sorted(
        seen, key=lambda r: names.index(r.name)
    ) == results
    by = {r.name: r for r in results}
    assert by["mse_cost"].status == FAILED and "no answer after 2 s" in by["mse_cost"].detail
    assert by["sigmoid"].passed and by["matmul_loops"].passed  # the checks after go on
    assert by["softmax"].status == FAILED and "nan" in by["softmax"].detail
    assert "stopped (exit code 3)" in by["dpo_loss"].detail
    assert "raised SystemExit: 0" in by["shard_batch"].detail
    err = capfd.readouterr().err
    assert "debugging softmax" in err and "Traceback" not in err  # prints reach the learner


def test_cli_check_one_with_a_timeout_and_bad_names(tmp_path, capsys):
    E.init(tmp_path, log=lambda line: None)
    _write(tmp_path / "softmax.py", _replace_bodies(E.get("softmax"), "while True:\n        pass"))
    assert main(["exercises", "check", str(tmp_path), "softmax", "--timeout", "1"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert (
        out[0].startswith("softmax  failed: no answer after 1 s")
        and out[1] == "0/1 passed, 1 failed"
    )
    assert main(["exercises", "check", str(tmp_path), "nonesuch"]) == 2
    assert "no exercise 'nonesuch'" in capsys.readouterr().err
    assert main(["exercises", "check", str(tmp_path / "nowhere")]) == 2
    assert "exercises init" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["exercises", "check", str(tmp_path), "--timeout", "0"])


def test_python_dash_m_exercises_list():
    res = subprocess.run(
        [sys.executable, "-m", "tinygrad_edu", "exercises", "list"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert [line.split()[0] for line in res.stdout.splitlines()] == NAMES


# --- the learner's folder is theirs ------------------------------------------------------------


def test_init_keeps_edits_and_force_resets(tmp_path, capsys):
    assert main(["exercises", "init", str(tmp_path)]) == 0
    edited = "def softmax(x):\n    return x  # my attempt\n"
    _write(tmp_path / "softmax.py", edited)
    _write(tmp_path / "README.md", "my notes\n")
    # an editor's line endings and a final newline are no edit
    sigmoid = E.template_text(E.get("sigmoid")).replace("\n", "\r\n") + "\r\n"
    (tmp_path / "sigmoid.py").write_bytes(sigmoid.encode())
    capsys.readouterr()
    assert main(["exercises", "init", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "kept your edited softmax.py" in out and "kept your edited README.md" in out
    assert "sigmoid" not in out and "wrote" not in out
    assert (tmp_path / "softmax.py").read_text() == edited
    assert (tmp_path / "README.md").read_text() == "my notes\n"

    assert main(["exercises", "init", str(tmp_path), "--force", "softmax"]) == 0
    assert "reset softmax.py" in capsys.readouterr().out
    assert (tmp_path / "softmax.py").read_text() == E.template_text(E.get("softmax"))
    assert main(["exercises", "init", str(tmp_path), "--force", "softmaxx"]) == 2
    assert "no exercise 'softmaxx'" in capsys.readouterr().err


def test_solve_keeps_edits_unless_forced(tmp_path, capsys):
    E.init(tmp_path, log=lambda line: None)
    _write(tmp_path / "dpo_loss.py", "def dpo_loss(*args):\n    return 0.0\n")
    assert main(["exercises", "solve", str(tmp_path), "dpo_loss", "softmax"]) == 0
    out = capsys.readouterr().out
    assert "kept your edited dpo_loss.py" in out and "wrote the solution of softmax" in out
    assert (tmp_path / "dpo_loss.py").read_text().startswith("def dpo_loss(*args)")
    assert main(["exercises", "solve", str(tmp_path), "dpo_loss", "--force"]) == 0
    assert (tmp_path / "dpo_loss.py").read_text() == E.solution_text(E.get("dpo_loss"))
    assert (tmp_path / "mse_cost.py").read_text() == E.template_text(E.get("mse_cost"))


def test_writes_are_atomic(tmp_path, monkeypatch):
    path = _write(tmp_path / "softmax.py", "old\n")

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(workspace.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        workspace.write_atomic(path, "new\n")
    assert path.read_text() == "old\n"  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["softmax.py"]  # no temporary file left


def test_results_line_and_summary():
    r = [E.Result("a", PASSED), E.Result("b", FAILED, "x"), E.Result("c", NOT_STARTED)]
    assert [x.line() for x in r] == ["passed", "failed: x", "not started"]
    assert E.summary(r) == "1/3 passed, 1 failed, 1 not started"
    assert np.isfinite(E.DEFAULT_TIMEOUT) and E.DEFAULT_TIMEOUT <= 10


# --- diagnoses: each common mistake, fed in exactly, is named ------------------------------------

# (exercise, the wrong solution's body, a phrase its diagnosis must contain)
MISTAKES = {
    "forgot_sqrt_d": ("causal_attention", """
    T, D = q.shape
    scores = q @ k.T
    scores = np.where(np.triu(np.ones((T, T), dtype=bool), k=1), -np.inf, scores)
    w = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return w / w.sum(axis=-1, keepdims=True) @ v
""", "not divided by sqrt(D)"),
    "masked_after_softmax": ("causal_attention", """
    T, D = q.shape
    scores = q @ k.T / np.sqrt(D)
    w = np.exp(scores - scores.max(axis=-1, keepdims=True))
    w = w / w.sum(axis=-1, keepdims=True)
    w[np.triu(np.ones((T, T), dtype=bool), k=1)] = 0.0
    return w @ v
""", "masked AFTER the softmax"),
    "mask_off_by_one": ("causal_attention", """
    T, D = q.shape
    scores = q @ k.T / np.sqrt(D)
    scores = np.where(np.triu(np.ones((T, T), dtype=bool), k=2), -np.inf, scores)
    w = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return w / w.sum(axis=-1, keepdims=True) @ v
""", "off by one: each token also sees the NEXT"),
    "mask_off_by_one_diagonal": ("causal_attention", """
    T, D = q.shape
    scores = q @ k.T / np.sqrt(D)
    scores = np.where(np.triu(np.ones((T, T), dtype=bool), k=0), -np.inf, scores)
    w = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return w / w.sum(axis=-1, keepdims=True) @ v
""", "does not see ITSELF"),
    "attention_softmax_wrong_axis": ("causal_attention", """
    T, D = q.shape
    scores = q @ k.T / np.sqrt(D)
    scores = np.where(np.triu(np.ones((T, T), dtype=bool), k=1), -np.inf, scores)
    w = np.exp(scores - scores.max(axis=0, keepdims=True))
    return w / w.sum(axis=0, keepdims=True) @ v
""", "wrong axis"),
    "attention_no_max": ("causal_attention", """
    T, D = q.shape
    scores = q @ k.T / np.sqrt(D)
    scores = np.where(np.triu(np.ones((T, T), dtype=bool), k=1), -np.inf, scores)
    w = np.exp(scores)
    return w / w.sum(axis=-1, keepdims=True) @ v
""", "maximum was not subtracted"),
    "softmax_wrong_axis": ("softmax", """
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)
""", "wrong axis"),
    "softmax_no_max": ("softmax", """
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)
""", "maximum was not subtracted"),
    "mse_sum": ("mse_cost", """
    diff = np.asarray(predictions) - np.asarray(targets)
    return float((diff * diff).sum())
""", "sum instead of a mean"),
    "cross_entropy_sum": ("cross_entropy_grad", """
    N = logits.shape[0]
    rows = np.arange(N)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1))
    loss = float(np.sum(log_sum - shifted[rows, targets]))
    p = np.exp(shifted - log_sum[:, None])
    p[rows, targets] -= 1.0
    return loss, p
""", "sum instead of a mean"),
    "sequential_update": ("gradient_descent_step", """
    n = len(xs)
    dw = sum(2.0 * (w * x + b - y) * x / n for x, y in zip(xs, ys))
    w = w - lr * dw
    db = sum(2.0 * (w * x + b - y) / n for x, y in zip(xs, ys))
    return w, b - lr * db
""", "sequential update"),
    "adam_no_bias_correction": ("adam_step", """
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    return p - lr * m / (np.sqrt(v) + eps), m, v
""", "without bias correction"),
    "top_p_tie": ("top_p_filter", """
    order = np.argsort(-probs, axis=-1)
    sorted_p = np.take_along_axis(probs, order, axis=-1)
    keep_sorted = np.cumsum(sorted_p, axis=-1) - sorted_p <= top_p
    keep = np.zeros_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    kept = np.where(keep, probs, 0.0)
    return kept / kept.sum(axis=-1, keepdims=True)
""", "<= where the rule needs <"),
}  # fmt: skip


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_each_common_mistake_is_diagnosed(mistake, tmp_path):
    name, body, phrase = MISTAKES[mistake]
    ex = E.get(name)
    text = E.template_text(ex).replace("    raise NotImplementedError\n", body.lstrip("\n"), 1)
    r = check_file(_write(tmp_path / ex.filename, text), name)
    assert r.status == FAILED, r
    assert "\n  -> looks like" in r.detail and phrase in r.detail, r.detail


def test_micro_engine_trains_beside_the_library(tmp_path):
    ex = E.get("micro_engine")
    solution = E.solution_text(ex)
    path = tmp_path / ex.filename
    # += forgotten: right on every expression with a Value used once; the shared weights
    # of the training (and a * a + a) show it
    wrong = solution.replace("self.grad += out.grad\n            other.grad += out.grad",
                             "self.grad = out.grad\n            other.grad = out.grad")  # fmt: skip
    assert wrong != solution
    r = check_file(_write(path, wrong), "micro_engine")
    assert r.status == FAILED and "a.grad" in r.detail or "training a 2-8-1" in r.detail, r
    # the parameters moved in the wrong direction: only the training shows it
    wrong = solution.replace("self.grad = 1.0\n", "self.grad = -1.0\n")
    r = check_file(_write(path, wrong), "micro_engine")
    assert r.status == FAILED and "then backward()" in r.detail, r
    # half written: names the method still to write (untouched: not started)
    half = solution.replace(
        "        out = Value(math.tanh(self.data), (self,))", "        raise NotImplementedError", 1
    )
    r = check_file(_write(path, half), "micro_engine")
    assert r.status == FAILED and "`Value.tanh` still raises NotImplementedError" in r.detail, r


def test_hints_come_in_three_levels(capsys):
    from tinygrad_edu.exercises.hints import NEAR_CODE, hint

    assert set(NEAR_CODE) == set(NAMES)
    for name in NAMES:
        texts = [hint(name, level) for level in (1, 2, 3)]
        assert len(set(texts)) == 3 and all(t.startswith(f"{name}, hint ") for t in texts)
        assert "Shapes:" in texts[1] and "___" in texts[2]
        assert NEAR_CODE[name].splitlines()[0] in texts[2]
    assert main(["exercises", "hint", "softmax"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("softmax, hint 1 of 3 (the concept)") and "--level 2" in out
    assert main(["exercises", "hint", "causal_attention", "--level", "3"]) == 0
    out = capsys.readouterr().out
    assert "near-code" in out and "np.triu" in out and "--level" not in out
    assert main(["exercises", "hint", "nope"]) == 2
    assert "no exercise 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["exercises", "hint", "softmax", "--level", "4"])
    with pytest.raises(ValueError, match="1, 2 or 3"):
        hint("softmax", 0)


def test_right_answers_and_other_mistakes_get_no_diagnosis(tmp_path):
    from tinygrad_edu.exercises.diagnoses import DIAGNOSES, diagnose
    from tinygrad_edu.exercises.runner import _load

    for name in DIAGNOSES:  # the reference solution matches no known mistake
        ex = E.get(name)
        assert diagnose(name, _load(_write(tmp_path / ex.filename, E.solution_text(ex)))) is None
    ex = E.get("causal_attention")  # a mistake that is none of the known ones
    path = _write(tmp_path / ex.filename, _replace_bodies(ex, "return v * 2.0"))
    r = check_file(path, "causal_attention")
    assert r.status == FAILED and "looks like" not in r.detail


def test_a_failing_array_is_shown_as_a_compact_diff(tmp_path):
    ex = E.get("causal_attention")
    name, body, _ = MISTAKES["masked_after_softmax"]
    text = E.template_text(ex).replace("    raise NotImplementedError\n", body.lstrip("\n"), 1)
    r = check_file(_write(tmp_path / ex.filename, text), name)
    lines = r.detail.split("\n")
    assert re.search(r"\d+ of 8 entries differ; the largest difference is [\d.e-]+ at \[", lines[1])
    assert lines[2].startswith("  where they differ (x)")
    picture = [line.split() for line in lines[3:] if not line.startswith("  ->")]
    assert picture and all(set(row) <= {".", "x"} for row in picture)
    assert any("x" in row for row in picture) and any("." in row for row in picture)


@pytest.mark.parametrize(
    "body, phrase",
    [
        ("return [np.random.default_rng(seed + 1).permutation(n)[i : i + batch_size]"
         " for i in range(0, n - (n % batch_size if drop_last else 0), batch_size)]", None),
        ("order = list(range(n)); random.Random(seed).shuffle(order)\n"
         "    stop = n - (n % batch_size if drop_last else 0)\n"
         "    return [order[i : i + batch_size] for i in range(0, stop, batch_size)]", None),
        ("stop = n - (n % batch_size if drop_last else 0)\n"
         "    return [np.arange(i, min(i + batch_size, stop)) for i in range(0, stop, batch_size)]",
         "sorted order"),
        ("order = np.random.default_rng(seed).integers(0, max(n, 1), n)\n"
         "    return [order[i : i + batch_size] for i in range(0, n, batch_size)]", "appears twice"),
        ("order = np.random.default_rng().permutation(n)\n"
         "    return [order[i : i + batch_size] for i in range(0, n, batch_size)]", "seed"),
    ],
)  # fmt: skip
def test_minibatches_accepts_any_valid_shuffle(body, phrase, tmp_path):
    ex = E.get("minibatches")
    text = _replace_bodies(ex, body).replace(
        "import numpy as np", "import random\n\nimport numpy as np"
    )
    r = check_file(_write(tmp_path / ex.filename, text), "minibatches")
    if phrase is None:
        assert r.status == PASSED, r.detail
    else:
        assert r.status == FAILED and phrase in r.detail, r
