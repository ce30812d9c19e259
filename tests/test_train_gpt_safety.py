"""Issue 12: atomic checkpoints, exact resume, divergence guard, run lock, CLI checks."""

from __future__ import annotations

import json
import os

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
    with open(os.path.join(cfg.out, ".lock"), "w") as f:
        f.write(f"{os.getppid()}\n")  # a live process
    with pytest.raises(checkpoint.CheckpointError, match="in use by another training run"):
        train(cfg, log=lambda *a: None)
    with open(os.path.join(cfg.out, ".lock"), "w") as f:
        f.write("999999999\n")  # no such process: stale
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
    (tmp_path / "train_state.json").write_text("{")
    with pytest.raises(checkpoint.CheckpointError, match="train_state.json"):
        checkpoint.published_checkpoint(tmp_path) and checkpoint.read_json(
            tmp_path / "train_state.json"
        )


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
    from tinygrad_edu.models import train_gpt

    cfg = _cfg(tmp_path, max_iters=4)
    undo = _interrupt_when(
        monkeypatch, train_gpt, "write_text_atomic",
        lambda path, text: str(path).endswith("metrics.jsonl") and '"iter": 4' in text,
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
        monkeypatch, checkpoint, "link_top_level", lambda folder, ckpt: "ckpt-000004" in ckpt
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
