"""Issue 12: atomic checkpoints, exact resume, divergence guard, run lock, CLI checks."""

from __future__ import annotations

import json
import os
import socket

import numpy as np
import pytest

pytest.importorskip("safetensors")

from tinygrad_edu import checkpoint  # noqa: E402
from tinygrad_edu.cli import main  # noqa: E402
from tinygrad_edu.models.train_gpt import (  # noqa: E402
    TrainConfig,
    TrainingDiverged,
    learning_rate,
    train,
)


def _cfg(tmp_path, **kw):
    text = tmp_path / "text.txt"
    text.write_text("hello world, hello tensors. " * 80, encoding="utf-8")
    base = dict(data=str(text), out=str(tmp_path / "run"), block_size=16, batch_size=4,
                n_layer=1, n_head=2, n_embd=16, max_iters=8, eval_interval=2, eval_iters=1,
                warmup_iters=2, lr_decay_iters=8, learning_rate=1e-2, dropout=0.1,
                progress=False)  # fmt: skip
    return TrainConfig(**{**base, **kw})


def _weights(out):
    return checkpoint.load(os.path.join(out, "model.safetensors"))


def test_resume_is_bitwise_equal_to_a_straight_run(tmp_path):
    straight = _cfg(tmp_path, out=str(tmp_path / "a"))
    m1 = train(straight, log=lambda *a: None)
    train(_cfg(tmp_path, out=str(tmp_path / "b"), max_iters=4), log=lambda *a: None)
    m2 = train(_cfg(tmp_path, out=str(tmp_path / "b")), log=lambda *a: None)
    wa, wb = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    assert [(r["iter"], r["val_loss"]) for r in m1] == [(r["iter"], r["val_loss"]) for r in m2]


def test_checkpoint_is_one_published_folder(tmp_path):
    cfg = _cfg(tmp_path)
    train(cfg, log=lambda *a: None)
    ckpt = checkpoint.published_checkpoint(cfg.out)
    manifest = checkpoint.verify_manifest(ckpt)
    assert manifest["iter"] == 8 and "optimizer.safetensors" in manifest["files"]
    assert [e for e in os.listdir(cfg.out) if e.startswith("ckpt-")] == [os.path.basename(ckpt)]
    with open(os.path.join(ckpt, "config.json"), "a") as f:
        f.write(" ")  # damaged after publishing: the manifest says so
    with pytest.raises(checkpoint.CheckpointError, match="sha256"):
        checkpoint.published_checkpoint(cfg.out)


def test_second_writer_is_refused_and_stale_lock_taken_over(tmp_path):
    cfg = _cfg(tmp_path)
    os.makedirs(cfg.out)
    host = socket.gethostname()
    _write_lock(cfg.out, pid=os.getppid(), host=host, started=_start_time(os.getppid()))
    with pytest.raises(checkpoint.CheckpointError, match="in use by another training run"):
        train(cfg, log=lambda *a: None)
    _write_lock(cfg.out, pid=999999999, host=host, started="1")  # no such process: stale
    train(cfg, log=lambda *a: None)
    assert not os.path.exists(os.path.join(cfg.out, ".lock"))


def test_divergence_stops_and_keeps_the_good_checkpoint(tmp_path):
    train(_cfg(tmp_path, max_iters=4), log=lambda *a: None)
    good = _weights(tmp_path / "run")
    with pytest.raises(TrainingDiverged, match="iteration"):
        train(_cfg(tmp_path, learning_rate=1e30, min_lr=1e30), log=lambda *a: None)
    after = _weights(tmp_path / "run")
    assert all(np.array_equal(good[k], after[k]) for k in good)
    for line in open(tmp_path / "run" / "metrics.jsonl"):
        json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in metrics.jsonl"))


def test_a_collapsed_but_finite_model_is_not_published(tmp_path):
    """lr 1e6 can blow the weights up into a flat predictor (val loss = ln vocab, finite)
    before any NaN: that model must not replace the good checkpoint."""
    cfg = _cfg(tmp_path, max_iters=6, eval_interval=2, lr_decay_iters=100, dropout=0.0)
    train(cfg, log=lambda *a: None)
    good = _weights(cfg.out)
    pointer = checkpoint.published_checkpoint(cfg.out)
    with pytest.raises(TrainingDiverged, match="guessing uniformly|NaN|nan"):
        train(_cfg(tmp_path, max_iters=20, eval_interval=2, lr_decay_iters=100, dropout=0.0,
                   learning_rate=1e6), log=lambda *a: None)  # fmt: skip
    assert checkpoint.published_checkpoint(cfg.out) == pointer
    after = _weights(cfg.out)
    assert all(np.array_equal(good[k], after[k]) for k in good)


def test_a_new_learning_rate_after_the_schedule_ended_is_said_to_do_nothing(tmp_path):
    train(_cfg(tmp_path, max_iters=4, lr_decay_iters=None), log=lambda *a: None)
    said = []
    train(_cfg(tmp_path, max_iters=6, lr_decay_iters=None, learning_rate=5e-2), log=said.append)
    assert any("--learning-rate 0.05 has no effect from iteration 4" in x for x in said), said


def test_collapse_check_needs_a_model_that_had_learned():
    import math

    from tinygrad_edu.models.train_gpt import _check_not_collapsed

    cfg = TrainConfig(out="x")
    flat = math.log(65)
    both = lambda x: {"train": x, "val": x}  # noqa: E731
    _check_not_collapsed(0, both(flat + 0.05), [], 65, cfg)  # the first evaluation: fine
    _check_not_collapsed(2, both(flat), [{"val_loss": flat + 0.02}], 65, cfg)  # never learned
    _check_not_collapsed(4, both(2.6), [{"val_loss": 2.5}], 65, cfg)  # worse, but not flat
    # overfitting a small text: val above ln(vocab), train still low -- not a collapse
    _check_not_collapsed(6, {"train": 1.2, "val": flat + 0.3}, [{"val_loss": 2.5}], 65, cfg)
    with pytest.raises(TrainingDiverged, match="collapsed"):
        _check_not_collapsed(8, both(flat), [{"val_loss": 2.5}], 65, cfg)


def test_changed_architecture_on_resume_is_named(tmp_path):
    train(_cfg(tmp_path, max_iters=2), log=lambda *a: None)
    with pytest.raises(ValueError, match="--n-layer 1 -> 2"):
        train(_cfg(tmp_path, n_layer=2), log=lambda *a: None)


def test_no_resume_keeps_the_old_run_until_the_first_publish(tmp_path):
    train(_cfg(tmp_path, max_iters=2), log=lambda *a: None)
    train(_cfg(tmp_path, max_iters=2, n_layer=2, resume=False), log=lambda *a: None)
    rows = checkpoint.read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert [r["iter"] for r in rows] == [0, 2]
    from tinygrad_edu.models.gpt import GPT

    assert GPT.from_pretrained(str(tmp_path / "run")).config.n_layer == 2


def test_learning_rate_matches_the_old_inline_formula():
    """train_gpt now calls optim.warmup_cosine: the numbers are those of its former copy."""
    import math

    def old(it, cfg):  # train_gpt's own formula before it used optim
        decay = cfg.lr_decay_iters or cfg.max_iters
        if it < cfg.warmup_iters:
            return cfg.learning_rate * (it + 1) / (cfg.warmup_iters + 1)
        if it > decay:
            return cfg.min_lr
        ratio = (it - cfg.warmup_iters) / max(1, decay - cfg.warmup_iters)
        return cfg.min_lr + 0.5 * (1 + math.cos(math.pi * ratio)) * (cfg.learning_rate - cfg.min_lr)

    for kw in (dict(), dict(warmup_iters=0), dict(lr_decay_iters=50, max_iters=80)):
        cfg = TrainConfig(**{"max_iters": 100, "warmup_iters": 10, **kw})
        for it in range(0, 120, 3):
            assert learning_rate(it, cfg) == pytest.approx(old(it, cfg), rel=1e-15, abs=0)


@pytest.mark.parametrize(
    "argv, option",
    [
        (["train-gpt", "--val-fraction", "1.5"], "--val-fraction"),
        (["train-gpt", "--lr-decay-iters", "0"], "--lr-decay-iters"),
        (["train-gpt", "--warmup-iters", "-10"], "--warmup-iters"),
        (["train-gpt", "--grad-clip", "nan"], "--grad-clip"),
        (["train-gpt", "--seed", "-1"], "--seed"),
        (["sample", "--ckpt", "x", "--max-new-tokens", "-5"], "--max-new-tokens"),
        (["sample", "--ckpt", "x", "--temperature", "nan"], "--temperature"),
        (["sample", "--ckpt", "x", "--temperature", "-1"], "--temperature"),
        (["train-mnist", "--epochs", "-1"], "--epochs"),
        (["train-mnist", "--hidden", "0"], "--hidden"),
    ],
)
def test_bad_flags_are_refused_by_name(argv, option, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and option in capsys.readouterr().err


def test_parse_errors_name_the_file(tmp_path):
    bad = tmp_path / "metrics.jsonl"
    bad.write_text('{"iter": 0}\n{"iter": \n')
    with pytest.raises(checkpoint.CheckpointError, match="metrics.jsonl, line 2"):
        checkpoint.read_jsonl(bad)
    (tmp_path / "checkpoint.json").write_text("{")
    with pytest.raises(checkpoint.CheckpointError, match="checkpoint.json is not valid JSON"):
        checkpoint.published_checkpoint(tmp_path)


def test_gpt2_config_without_n_positions(tmp_path):
    from tinygrad_edu.models.gpt import GPT

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_layer": 1}))
    with pytest.raises(ValueError, match="n_positions"):
        GPT.from_pretrained(str(tmp_path))


# ---- bugs found by tests/crash_kill.py's review of the checkpoint code ------------------


def _interrupt_when(monkeypatch, module, name, when):
    """Make module.name raise KeyboardInterrupt (a Ctrl-C, or the moment of a kill) when
    when(*args) is true; returns a function that undoes it."""
    original = getattr(module, name)

    def wrapped(*args, **kw):
        if when(*args):
            raise KeyboardInterrupt
        return original(*args, **kw)

    monkeypatch.setattr(module, name, wrapped)
    return lambda: monkeypatch.setattr(module, name, original)


def test_resume_rewrites_metrics_a_kill_left_behind(tmp_path, monkeypatch):
    """Killed after publishing the LAST checkpoint but before metrics.jsonl: the resumed
    run has nothing left to train, and metrics.jsonl used to stay one row short forever."""
    from tinygrad_edu.models import run_folder

    cfg = _cfg(tmp_path, max_iters=4)
    undo = _interrupt_when(
        monkeypatch, run_folder, "write_text_atomic",
        lambda path, text, *tmp: str(path).endswith("metrics.jsonl") and '"iter": 4' in text,
    )  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        train(cfg, log=lambda *a: None)
    assert checkpoint.read_json(os.path.join(cfg.out, "checkpoint.json"))["iter"] == 4
    assert [r["iter"] for r in checkpoint.read_jsonl(tmp_path / "run" / "metrics.jsonl")] == [0, 2]
    undo()
    metrics = train(cfg, log=lambda *a: None)
    rows = checkpoint.read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert [r["iter"] for r in rows] == [r["iter"] for r in metrics] == [0, 2, 4]


def test_top_level_links_never_dangle_after_a_second_kill(tmp_path, monkeypatch):
    """Killed between the commit and the links (they still lead into checkpoint 2), then
    killed again just after the resumed run's clean-up: that clean-up deleted checkpoint 2
    before anything re-linked, leaving out/model.safetensors etc. dangling."""
    from tinygrad_edu.models import train_gpt

    cfg = _cfg(tmp_path, max_iters=4)
    undo = _interrupt_when(
        monkeypatch, checkpoint, "link_top_level", lambda folder, ckpt, *a: "ckpt-000004" in ckpt
    )
    with pytest.raises(KeyboardInterrupt):
        train(cfg, log=lambda *a: None)
    undo()
    assert "ckpt-000002" in os.readlink(tmp_path / "run" / "model.safetensors")
    _interrupt_when(monkeypatch, train_gpt, "_train", lambda *a: True)  # the second kill
    with pytest.raises(KeyboardInterrupt):
        train(cfg, log=lambda *a: None)
    for name in checkpoint.RUN_FILES:
        assert "ckpt-000004" in os.readlink(tmp_path / "run" / name)
        assert os.path.isfile(tmp_path / "run" / name), f"{name} dangles"


def test_load_tokenizer_reads_the_published_checkpoint(tmp_path, monkeypatch):
    """GPT.from_pretrained(run folder) follows checkpoint.json; load_tokenizer(run folder)
    read the top-level tokenizer.json, absent if a kill came between the first commit and
    its links (and another checkpoint's while they lag)."""
    from tinygrad_edu.models.gpt import GPT
    from tinygrad_edu.tokenizer import load_tokenizer

    cfg = _cfg(tmp_path, max_iters=0)
    _interrupt_when(monkeypatch, checkpoint, "link_top_level", lambda *a: True)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, log=lambda *a: None)
    assert not os.path.exists(tmp_path / "run" / "tokenizer.json")
    model = GPT.from_pretrained(cfg.out)
    assert load_tokenizer(cfg.out).vocab_size == model.config.vocab_size


def test_checkpoint_folders_are_readable_by_others(tmp_path):
    """mkdtemp makes 0o700 folders: the published checkpoint (files 0o644) was unreadable
    for anyone but its owner, e.g. `sample` run by another user of a shared machine."""
    cfg = _cfg(tmp_path, max_iters=0)
    train(cfg, log=lambda *a: None)
    ckpt = checkpoint.published_checkpoint(cfg.out)
    assert os.stat(ckpt).st_mode & 0o777 == 0o755


# ---- NaN weights on load, --skip-nonfinite, the final line ---------------------------


def _cli_flags(cfg):
    """train-gpt flags for the _cfg run (the CLI builds the same TrainConfig)."""
    flags = ["--data", cfg.data, "--out", cfg.out, "--no-progress"]
    for name in ("block_size", "batch_size", "n_layer", "n_head", "n_embd", "max_iters",
                 "eval_interval", "eval_iters", "warmup_iters", "lr_decay_iters",
                 "learning_rate", "dropout"):  # fmt: skip
        flags += ["--" + name.replace("_", "-"), str(getattr(cfg, name))]
    return flags


def test_nan_weights_are_refused_on_load_naming_the_file(tmp_path, capsys):
    from tinygrad_edu.models.gpt import GPT, GPTConfig

    # a plain model folder (config.json + model.safetensors)
    model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8))
    model.transformer.h[0].mlp.c_fc.weight.data[0, :3] = np.nan
    model.save_pretrained(str(tmp_path / "plain"))
    path = os.path.join(tmp_path / "plain", "model.safetensors")
    with pytest.raises(checkpoint.CheckpointError) as exc:
        GPT.from_pretrained(str(tmp_path / "plain"))
    msg = str(exc.value)
    assert path in msg and "transformer.h.0.mlp.c_fc.weight" in msg and "3 non-finite" in msg

    # a training run's published checkpoint, NaN written in with a consistent manifest:
    # the manifest passes, the finiteness check does not; resuming says which file
    cfg = _cfg(tmp_path, max_iters=2)
    train(cfg, log=lambda *a: None)
    ckpt = checkpoint.published_checkpoint(cfg.out)
    weights = checkpoint.load(os.path.join(ckpt, "model.safetensors"))
    weights["transformer.wte.weight"][1, 1] = np.inf
    checkpoint.save(weights, os.path.join(ckpt, "model.safetensors"))
    manifest = checkpoint.read_json(os.path.join(ckpt, "manifest.json"))
    manifest["files"]["model.safetensors"] = checkpoint.sha256_file(
        os.path.join(ckpt, "model.safetensors")
    )
    checkpoint.write_json_atomic(os.path.join(ckpt, "manifest.json"), manifest)
    path = os.path.join(ckpt, "model.safetensors")
    with pytest.raises(checkpoint.CheckpointError, match="transformer.wte.weight holds 1 non"):
        GPT.from_pretrained(cfg.out)
    assert main(["train-gpt", *_cli_flags(_cfg(tmp_path, max_iters=4))]) == 2
    err = capsys.readouterr().err
    assert f"train-gpt: error: {path}: transformer.wte.weight" in err and "diverged run" in err


def _nan_loss_at(monkeypatch, step):
    """The loss of the `step`-th training forward pass (0-based) becomes NaN, as with a
    real blow-up: its backward gives NaN gradients, so the gradient norm is NaN too."""
    from tinygrad_edu.models.gpt import GPT

    original, calls = GPT.forward, []

    def forward(self, idx, targets=None, *args, **kw):
        out = original(self, idx, targets, *args, **kw)
        if targets is None or not self.training:  # estimate_loss runs in eval mode
            return out
        calls.append(1)
        return (out[0], out[1] * float("nan")) if len(calls) == step + 1 else out

    monkeypatch.setattr(GPT, "forward", forward)


def test_skip_nonfinite_skips_the_step_and_training_goes_on(tmp_path, monkeypatch, capsys):
    from tinygrad_edu.models import run_folder

    cfg = _cfg(tmp_path, max_iters=5, eval_interval=1, lr_decay_iters=5)
    saved = {}  # iteration -> the published weights
    original = run_folder.publish_checkpoint

    def recording(folder, it, write):
        ckpt = original(folder, it, write)
        saved[it] = checkpoint.load(os.path.join(ckpt, "model.safetensors"))
        return ckpt

    monkeypatch.setattr(run_folder, "publish_checkpoint", recording)
    _nan_loss_at(monkeypatch, step=2)  # iteration 2 -> 3
    assert main(["train-gpt", *_cli_flags(cfg), "--skip-nonfinite"]) == 0
    out = capsys.readouterr().out
    assert "iteration 2: loss nan, gradient norm nan: step skipped" in out
    assert out.strip().splitlines()[-1].startswith("done: iter 5, val loss ")
    same = [all(np.array_equal(saved[a][k], saved[b][k]) for k in saved[a]) for a, b in
            ((1, 2), (2, 3), (3, 4))]  # fmt: skip
    assert same == [False, True, False]  # the skipped step changed nothing; the next did
    assert all(np.isfinite(w).all() for w in saved[5].values())
    opt = checkpoint.load_optimizer_state(os.path.join(cfg.out, "optimizer.safetensors"))
    assert {s["step"] for s in opt["state"].values()} == {4}  # 5 iterations, 1 skipped
    rows = checkpoint.read_jsonl(os.path.join(cfg.out, "metrics.jsonl"))
    assert [r["iter"] for r in rows] == [0, 1, 2, 3, 4, 5]

    # without the flag: the same NaN stops training, exit 3, the last checkpoint kept
    _nan_loss_at(monkeypatch, step=0)
    cfg2 = _cfg(tmp_path, max_iters=5, eval_interval=1, lr_decay_iters=5, out=str(tmp_path / "b"))
    assert main(["train-gpt", *_cli_flags(cfg2)]) == 3
    assert "diverged: iteration 0: loss nan, gradient norm nan" in capsys.readouterr().err
    assert checkpoint.read_json(os.path.join(cfg2.out, "checkpoint.json"))["iter"] == 0


def test_final_line_reports_the_saved_checkpoint(tmp_path, monkeypatch, capsys):
    """`done: iter N, val loss X; checkpoint in OUT`: N = max-iters (evaluated there even
    when eval-interval does not divide it), X = the loss estimated on the saved model."""
    from tinygrad_edu import rng
    from tinygrad_edu.models import train_gpt
    from tinygrad_edu.models.gpt import GPT

    cfg = _cfg(tmp_path, max_iters=8, eval_interval=3)
    calls = []  # (generator state before, data, the estimate)
    original = train_gpt.estimate_loss

    def recording(model, data, c):
        state = rng.get_state()
        calls.append((state, data, original(model, data, c)))
        return calls[-1][2]

    monkeypatch.setattr(train_gpt, "estimate_loss", recording)
    assert main(["train-gpt", *_cli_flags(cfg)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    state, data, losses = calls[-1]
    assert last == f"done: iter 8, val loss {losses['val']:.4f}; checkpoint in {cfg.out}"
    assert len(calls) == 4  # iterations 0, 3, 6 and 8
    assert checkpoint.read_json(os.path.join(cfg.out, "checkpoint.json"))["iter"] == 8
    saved = GPT.from_pretrained(cfg.out)  # (its initialisation draws random numbers)
    rng.set_state(state)  # the same batches, on the model loaded from the checkpoint
    again = original(saved, data, cfg)
    assert again == losses
    rows = checkpoint.read_jsonl(os.path.join(cfg.out, "metrics.jsonl"))
    assert [r["iter"] for r in rows] == [0, 3, 6, 8] and rows[-1]["val_loss"] == round(
        losses["val"], 4
    )
    # run again: the run is finished; it resumes at 8 and says the same
    assert main(["train-gpt", *_cli_flags(cfg)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0] == f"resuming from {cfg.out} at iteration 8" and out[-1] == last


def test_clean_up_keeps_checkpoints_when_the_pointer_names_none(tmp_path):
    """checkpoint.json naming a folder that is not there: remove_stale used to delete every
    other checkpoint folder (the only good copies); it now leaves the run folder alone."""
    cfg = _cfg(tmp_path, max_iters=0)
    train(cfg, log=lambda *a: None)
    ckpt = os.path.basename(checkpoint.published_checkpoint(cfg.out))
    for pointer in (
        {"dir": "ckpt-000009-abcdef", "iter": 9},
        {"dir": "ckpt-000009-gone", "iter": 9},
    ):
        checkpoint.write_json_atomic(os.path.join(cfg.out, "checkpoint.json"), pointer)
        try:
            checkpoint.remove_stale(cfg.out)  # well-formed and missing: left alone
        except checkpoint.CheckpointError as exc:
            assert "ckpt-000009-gone" in str(exc)  # malformed: refused
        assert os.path.isdir(os.path.join(cfg.out, ckpt))
        with pytest.raises(checkpoint.CheckpointError, match=pointer["dir"]):
            checkpoint.published_checkpoint(cfg.out)


# ---- Ctrl-C: one line, exit 130, the checkpoint kept -----------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cli_run(argv, **kw):
    """`python -m tinygrad_edu ARGV` in a subprocess, with this checkout's package."""
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    return subprocess.Popen(
        [sys.executable, "-m", "tinygrad_edu", *argv], cwd=ROOT, env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw,
    )  # fmt: skip


def test_ctrl_c_during_train_gpt_says_one_line_and_keeps_the_checkpoint(tmp_path):
    """SIGINT to a real run, once its first checkpoint exists: exit 130, no traceback, one
    line naming the iteration kept; no lock left; the folder resumes."""
    import signal
    import time

    cfg = _cfg(tmp_path, max_iters=100000, lr_decay_iters=50, eval_interval=3, dropout=0.0)
    proc = _cli_run(["train-gpt", *_cli_flags(cfg)])
    pointer = os.path.join(cfg.out, checkpoint.POINTER)
    deadline = time.monotonic() + 60
    while not os.path.exists(pointer) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # into the training (a few more checkpoints, maybe one being written)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert len(err.strip().splitlines()) == 1, err
    kept = checkpoint.read_json(pointer)
    ckpt = os.path.join(cfg.out, kept["dir"])
    assert err.startswith("train-gpt: interrupted at iteration ")
    assert f"the last checkpoint (iteration {kept['iter']}, {ckpt}) is kept" in err
    assert "run the same command to resume" in err
    assert not os.path.exists(os.path.join(cfg.out, checkpoint.LOCK))
    checkpoint.verify_manifest(checkpoint.published_checkpoint(cfg.out))
    rows = checkpoint.read_jsonl(os.path.join(cfg.out, "metrics.jsonl"))
    assert rows[-1]["iter"] <= kept["iter"]
    # the same command resumes (with a nearer end)
    resumed = _cli_run(["train-gpt", *_cli_flags(cfg), "--max-iters", str(kept["iter"] + 3)])
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert f"resuming from {cfg.out} at iteration {kept['iter']}" in out
    assert out.strip().splitlines()[-1].startswith(f"done: iter {kept['iter'] + 3}, ")


def _interrupt_at_step(monkeypatch, step):
    """Ctrl-C during the `step`-th training forward pass (0-based)."""
    from tinygrad_edu.models.gpt import GPT

    original, calls = GPT.forward, []

    def forward(self, *args, **kw):
        if self.training:
            calls.append(1)
            if len(calls) == step + 1:
                raise KeyboardInterrupt
        return original(self, *args, **kw)

    monkeypatch.setattr(GPT, "forward", forward)


def test_ctrl_c_messages_before_any_checkpoint_and_with_no_resume(tmp_path, monkeypatch, capsys):
    cfg = _cfg(tmp_path, max_iters=6, eval_interval=4)
    # before the first checkpoint is published (in its evaluation at iteration 0)
    from tinygrad_edu.models import train_gpt

    undo = _interrupt_when(monkeypatch, train_gpt, "estimate_loss", lambda *a: True)
    assert main(["train-gpt", *_cli_flags(cfg)]) == 130
    err = capsys.readouterr().err
    assert err == (
        "train-gpt: interrupted at iteration 0, before the first checkpoint: nothing is "
        "saved; run the same command to start again\n"
    )
    assert not os.path.exists(os.path.join(cfg.out, checkpoint.LOCK))
    undo()
    # after checkpoint 4: it is named
    _interrupt_at_step(monkeypatch, 5)
    assert main(["train-gpt", *_cli_flags(cfg)]) == 130
    ckpt = checkpoint.published_checkpoint(cfg.out)
    assert capsys.readouterr().err == (
        f"train-gpt: interrupted at iteration 5; the last checkpoint (iteration 4, {ckpt}) "
        "is kept; run the same command to resume\n"
    )
    # --no-resume, before its first checkpoint: the earlier run's is untouched
    undo = _interrupt_when(monkeypatch, train_gpt, "estimate_loss", lambda *a: True)
    assert main(["train-gpt", *_cli_flags(cfg), "--no-resume"]) == 130
    assert capsys.readouterr().err == (
        "train-gpt: interrupted at iteration 0, before this run's first checkpoint; "
        f"the earlier run's checkpoint (iteration 4, {ckpt}) is kept, unchanged\n"
    )
    assert checkpoint.published_checkpoint(cfg.out) == ckpt


def test_ctrl_c_in_sample_and_train_mnist(tmp_path, monkeypatch, capsys):
    cfg = _cfg(tmp_path, max_iters=0)
    train(cfg, log=lambda *a: None)
    from tinygrad_edu.models import hf

    _interrupt_when(monkeypatch, hf, "generate_until", lambda *a: True)
    assert main(["sample", "--ckpt", cfg.out, "--prompt", "hello", "--max-new-tokens", "3"]) == 130
    assert capsys.readouterr().err == "sample: interrupted\n"
    from tinygrad_edu import optim

    _interrupt_when(monkeypatch, optim.Adam, "step", lambda *a: True)
    out = str(tmp_path / "mnist")
    assert main(["train-mnist", "--epochs", "1", "--out", out]) == 130
    assert capsys.readouterr().err == (
        f"train-mnist: interrupted; {out} is written only after the last epoch\n"
    )


# ---- a file the CLI cannot use: `COMMAND: error: ...` naming it, exit 2, no traceback ----


def test_sample_of_nan_weights_is_an_error_naming_file_and_tensor(tmp_path, capsys):
    from tinygrad_edu.models.gpt import GPT, GPTConfig
    from tinygrad_edu.tokenizer import CharTokenizer

    folder = str(tmp_path / "diverged")
    model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8))
    model.transformer.h[0].mlp.c_fc.weight.data[0, :3] = np.nan
    model.save_pretrained(folder)
    CharTokenizer.from_text("abcdefghij\n").save(os.path.join(folder, "tokenizer.json"))
    assert main(["sample", "--ckpt", folder, "--max-new-tokens", "3"]) == 2
    captured = capsys.readouterr()
    path = os.path.join(folder, "model.safetensors")
    assert captured.out == ""
    assert captured.err == (
        f"sample: error: {path}: transformer.h.0.mlp.c_fc.weight holds 3 non-finite values "
        "(NaN or inf): the weights of a diverged run; use an earlier checkpoint\n"
    )


def test_cli_loaders_say_error_naming_the_file(tmp_path, capsys):
    """Every file a command reads, missing or damaged: one line naming it, exit 2."""
    cfg = _cfg(tmp_path, max_iters=0)
    train(cfg, log=lambda *a: None)
    ckpt = checkpoint.published_checkpoint(cfg.out)

    def error_of(argv) -> str:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"{argv[0]}: error: "), err
        return err

    missing = str(tmp_path / "nowhere")
    assert missing in error_of(["sample", "--ckpt", missing])
    # no --prompt: sampling starts from a newline, which this text's tokenizer lacks
    assert "--prompt" in error_of(["sample", "--ckpt", cfg.out])
    tok = os.path.join(ckpt, "tokenizer.json")
    os.unlink(os.path.join(cfg.out, "tokenizer.json"))  # the top-level link, then the file
    os.replace(tok, tok + ".away")
    err = error_of(["sample", "--ckpt", cfg.out, "--prompt", "he"])
    assert f"{tok} is missing from the checkpoint" in err  # (the manifest lists it)
    assert "holds no tokenizer" in error_of(["sample", "--ckpt", ckpt, "--prompt", "he"])
    with open(tok, "w") as f:
        f.write("{")
    assert tok in error_of(["sample", "--ckpt", ckpt, "--prompt", "he"])
    assert missing in error_of(["train-gpt", "--data", missing, "--out", str(tmp_path / "x")])
    assert missing in error_of(["train-mnist", "--data", missing, "--epochs", "1"])
    idx = tmp_path / "idx"
    idx.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (idx / name).write_bytes(b"\0\0\x08")  # cut short
    assert str(idx / "train-images-idx3-ubyte") in error_of(["train-mnist", "--data", str(idx)])


# ---- the lock: PID, host and the process's start time (a reused PID is not a live run) --


def _start_time(pid: int) -> str:
    """Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot.
    (Field 2, the command name in parentheses, may hold spaces: count after its ')'.)"""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[19]


def _write_lock(out, **holder):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, checkpoint.LOCK), "w") as f:
        f.write(json.dumps(holder) + "\n")


@pytest.mark.skipif(not os.path.isfile("/proc/self/stat"), reason="Linux: /proc/PID/stat")
def test_lock_of_a_reused_pid_is_taken_over(tmp_path):
    """A run killed long ago, its PID since given to an unrelated process (a `sleep`): the
    start time in the lock is not that process's, so the lock is stale."""
    import socket
    import subprocess

    cfg = _cfg(tmp_path, max_iters=0)
    lock = os.path.join(cfg.out, checkpoint.LOCK)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        host, started = socket.gethostname(), _start_time(sleeper.pid)
        # the same PID and start time: the run is alive, the lock is refused
        _write_lock(cfg.out, pid=sleeper.pid, host=host, started=started)
        with pytest.raises(checkpoint.CheckpointError, match=f"in use by .*PID {sleeper.pid}"):
            train(cfg, log=lambda *a: None)
        # the same PID, another start time: a reused PID, taken over
        _write_lock(cfg.out, pid=sleeper.pid, host=host, started=str(int(started) - 1))
        train(cfg, log=lambda *a: None)
        assert not os.path.exists(lock)
        assert sleeper.poll() is None  # (left alone, of course)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_lock_records_pid_host_and_start_time(tmp_path):
    import socket

    with checkpoint.RunLock(tmp_path) as held:
        with open(held.path) as f:
            holder = json.loads(f.read())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        if os.path.isfile("/proc/self/stat"):
            assert holder["started"] == _start_time(os.getpid())
        # no temporary left; the record lists the one it used
        assert sorted(os.listdir(tmp_path)) == [checkpoint.LOCK, checkpoint.RECORD]
    assert os.listdir(tmp_path) == [checkpoint.RECORD]


def test_lock_of_another_host_is_refused_saying_how_to_remove_it(tmp_path):
    """On a shared filesystem another machine's process cannot be checked from here."""
    cfg = _cfg(tmp_path, max_iters=0)
    _write_lock(cfg.out, pid=999999999, host="elsewhere.example", started="1")
    lock = os.path.join(cfg.out, checkpoint.LOCK)
    with pytest.raises(checkpoint.CheckpointError) as exc:
        train(cfg, log=lambda *a: None)
    msg = str(exc.value)
    assert "elsewhere.example" in msg and "PID 999999999" in msg
    assert f"if that run is gone, delete {lock}" in msg
    assert os.path.exists(lock)


def test_lock_files_not_of_this_tool_are_refused_and_left(tmp_path):
    """Only the tool's own lock format ({"pid", "host", "started"}) is judged stale and
    taken over; an empty file (a run killed as it made it) too. Anything else, such as a
    bare PID (the format of older versions, or someone's file named .lock), is left."""
    cfg = _cfg(tmp_path, max_iters=0)
    os.makedirs(cfg.out)
    lock = os.path.join(cfg.out, checkpoint.LOCK)
    with open(lock, "w") as f:
        f.write("")
    train(cfg, log=lambda *a: None)
    assert not os.path.exists(lock)
    for text in ("999999999\n", "-5", "{not json", '{"pid": 0, "host": "h", "started": "1"}'):
        with open(lock, "w") as f:
            f.write(text)
        with pytest.raises(checkpoint.CheckpointError, match="not a lock file of this tool"):
            train(cfg, log=lambda *a: None)
        with open(lock) as f:
            assert f.read() == text


def test_clean_up_survives_a_temporary_that_vanishes(tmp_path, monkeypatch):
    """A second run, refused the lock, removes its own lock temporary while the lock
    holder's remove_stale is about to delete it: the holder died of that FileNotFoundError
    (seen by tests/reliability_probes.py: both runs into one --out exited 2)."""
    from tinygrad_edu import fileio

    name = fileio.temp_name(checkpoint.LOCK)
    checkpoint.record_names(str(tmp_path), [name])
    (tmp_path / name).write_text("{}")
    exists = os.path.lexists

    def vanishing(path):
        there = exists(path)
        if path == os.path.join(str(tmp_path), name) and there:
            os.remove(path)  # the other run, just after our look
        return there

    monkeypatch.setattr(checkpoint.os.path, "lexists", vanishing)
    checkpoint.remove_stale(str(tmp_path))
    assert os.listdir(tmp_path) == [checkpoint.RECORD]


def test_ctrl_c_before_train_starts_claims_nothing(tmp_path, monkeypatch, capsys):
    """Reading the saved run's settings (before train()): the checkpoint there is not
    described as missing."""
    from tinygrad_edu.models import train_gpt

    cfg = _cfg(tmp_path, max_iters=2)
    train(cfg, log=lambda *a: None)
    _interrupt_when(monkeypatch, train_gpt, "saved_train_config", lambda *a: True)
    assert main(["train-gpt", *_cli_flags(cfg)]) == 130
    assert capsys.readouterr().err == (
        "train-gpt: interrupted before training began; nothing was changed\n"
    )
