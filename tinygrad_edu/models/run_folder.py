"""train-gpt's run folder: what a checkpoint holds, and how a run picks up from one.

The training loop (train_gpt.py) calls four things here, and nothing else of the files:

    with opened(out) as ckpt:      the folder locked, checked, cleaned; its checkpoint (or None)
    save_checkpoint(...)           one iteration's files, published as one unit
    resume(cfg, ckpt, log)         the model, settings and metrics a checkpoint holds
    saved_settings(out)            the settings of the run saved there (the CLI resumes with them)

A checkpoint folder (checkpoint.py says how it is published, atomically) holds:

    model.safetensors + config.json   the GPT (GPT.save_pretrained)
    optimizer.safetensors             AdamW's moments and step counts
    tokenizer.json                    the tokenizer, so that ids mean the same characters
    train_state.json                  the iteration, the settings, the random generator's
                                      state (the next batches) and the metrics rows so far
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import asdict, replace
from typing import Any, Iterator

from .. import rng
from ..checkpoint import (
    CheckpointError,
    RunLock,
    check_run_folder,
    json_safe,
    publish_checkpoint,
    published_checkpoint,
    read_json,
    record_names,
    recorded_names,
    recorded_temp_name,
    remove_stale,
    save_optimizer_state,
    write_json_atomic,
    write_text_atomic,
)
from .gpt import GPT

# What a checkpoint's model is: resuming with other values would silently train another net.
ARCHITECTURE = ("block_size", "n_layer", "n_head", "n_embd", "bias", "tokenizer", "bpe_vocab_size")


@contextmanager
def opened(out: str) -> Iterator[str | None]:
    """Hold out/.lock while the body runs; yields the folder's checkpoint (None if none).

    Refused before anything is touched: a folder of another kind of run, a damaged
    checkpoint.json or manifest (checkpoint.check_run_folder). Then what a killed run left
    half-written is removed (only the tool's own names, checkpoint.remove_stale)."""
    os.makedirs(out, exist_ok=True)
    check_run_folder(out, verify=False)  # (before the lock: a foreign folder gets no .lock)
    with RunLock(out):  # one writer per folder
        ckpt = check_run_folder(out)  # again, verified: the folder is ours to read now
        if ckpt is not None and os.path.basename(ckpt) not in recorded_names(out):
            record_names(out, [os.path.basename(ckpt)])  # verified: the run's own
        remove_stale(out)
        yield ckpt


def save_checkpoint(cfg, model, optimizer, tok, it: int, metrics: list[dict]) -> str:
    """All the files of iteration `it`, published as one unit; then metrics.jsonl."""

    def write(folder: str) -> None:
        model.save_pretrained(folder)
        save_optimizer_state(optimizer.state_dict(), os.path.join(folder, "optimizer.safetensors"))
        tok.save(os.path.join(folder, "tokenizer.json"))
        state = {
            "iter": it,
            "train_config": asdict(cfg),
            "rng": rng.get_state(),  # the next batches and dropout masks
            "metrics": metrics,  # the rows up to `it`: metrics.jsonl is rebuilt from them
        }
        write_json_atomic(os.path.join(folder, "train_state.json"), state)

    ckpt = publish_checkpoint(cfg.out, it, write)
    write_metrics(cfg.out, metrics)
    return ckpt


def write_metrics(out: str, metrics: list[dict]) -> None:
    """metrics.jsonl: the rows saved with the published checkpoint, no more (written after
    each publish, and again on resume: a kill between the two leaves it one save behind).
    Its temporary name is recorded first, as every name the run makes in its folder."""
    write_text_atomic(
        os.path.join(out, "metrics.jsonl"),
        "".join(json.dumps(json_safe(r), allow_nan=False) + "\n" for r in metrics),
        recorded_temp_name(out, "metrics.jsonl"),
    )


# What each saved setting must be (train_state.json is read back as untrusted input).
_FLAGS = ("bias", "resume", "skip_nonfinite", "progress")
_TEXTS = ("data", "tokenizer", "out")


def read_train_state(path: str) -> dict:
    """train_state.json, checked: the iteration, the metrics and every saved setting of
    the kind TrainConfig holds, else one CheckpointError naming the file and the field."""
    state = read_json(path)
    saved = state.get("train_config") if isinstance(state, dict) else None
    if not isinstance(saved, dict) or any(k not in state for k in ("iter", "rng", "metrics")):
        raise CheckpointError(f"{path}: not the training state this version writes")
    it = state["iter"]
    if not isinstance(it, int) or isinstance(it, bool) or it < 0:
        raise CheckpointError(f"{path}: iter is {it!r}, not an iteration number")
    if not isinstance(state["metrics"], list) or not all(
        isinstance(m, dict) for m in state["metrics"]
    ):
        raise CheckpointError(f"{path}: metrics is not a list of evaluations")
    for key, value in saved.items():
        if key in _FLAGS:
            ok = isinstance(value, bool)
        elif key in _TEXTS:
            ok = value is None or isinstance(value, str)
        else:  # a number (lr_decay_iters may be None)
            is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
            ok = is_number or (key == "lr_decay_iters" and value is None)
        if not ok:
            raise CheckpointError(f"{path}: train_config.{key} is {value!r}, not a valid value")
    return state


def resume(cfg, ckpt: str, log) -> tuple[Any, dict, GPT, list[dict]]:
    """(cfg, train_state, model, metrics) from a published checkpoint; refuses one of
    another network than cfg asks for. cfg keeps the saved run's learning-rate schedule."""
    path = os.path.join(ckpt, "train_state.json")
    state = read_train_state(path)
    saved = state["train_config"]
    needed = (*ARCHITECTURE, "max_iters", "lr_decay_iters", "learning_rate")
    if any(k not in saved for k in needed):
        missing = ", ".join(k for k in needed if k not in saved)
        raise CheckpointError(f"{path}: the saved settings lack {missing}")
    changed = [
        f"--{k.replace('_', '-')} {saved[k]} -> {getattr(cfg, k)}"
        for k in ARCHITECTURE
        if saved[k] != getattr(cfg, k) and not (k == "bpe_vocab_size" and cfg.tokenizer == "char")
    ]
    if changed:
        raise ValueError(
            f"{cfg.out} holds a run of another network ({', '.join(changed)}): resume with "
            "the saved values, or start afresh with --no-resume or another --out"
        )
    if cfg.lr_decay_iters is None:  # keep the saved run's schedule, not a new horizon
        horizon = saved["lr_decay_iters"] or saved["max_iters"]
        cfg = replace(cfg, lr_decay_iters=max(horizon, cfg.warmup_iters))
    if cfg.max_iters != saved["max_iters"]:
        log(
            f"max_iters {saved['max_iters']} -> {cfg.max_iters}; the learning rate keeps "
            f"its schedule: cosine decay to {cfg.min_lr:g} by iteration {cfg.lr_decay_iters} "
            "(--lr-decay-iters sets another)"
        )
    start = state["iter"]
    if cfg.learning_rate != saved["learning_rate"] and start >= cfg.lr_decay_iters:
        log(
            f"note: --learning-rate {cfg.learning_rate:g} has no effect from iteration {start}: "
            f"the schedule reached its floor, --min-lr {cfg.min_lr:g}, at iteration "
            f"{cfg.lr_decay_iters} (a later --lr-decay-iters extends it)"
        )
    return cfg, state, GPT.from_pretrained(ckpt), state["metrics"]


def saved_settings(out: str) -> dict:
    """The train_config saved with the run in `out` ({} if it has no checkpoint)."""
    ckpt = published_checkpoint(out, verify=False)
    if ckpt is None:
        return {}
    return read_train_state(os.path.join(ckpt, "train_state.json"))["train_config"]
