"""train_state.json is read back on resume as untrusted input: a damaged one is one error
naming the file and the field, never a traceback from deep inside the training loop."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import subprocess
import sys

import pytest

from tinygrad_edu.checkpoint import CheckpointError
from tinygrad_edu.models.run_folder import read_train_state

TINY = ["--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block-size", "16",
        "--batch-size", "2", "--eval-interval", "2", "--eval-iters", "1", "--no-progress"]  # fmt: skip


def good_state() -> dict:
    config = {"block_size": 16, "n_layer": 1, "n_head": 2, "n_embd": 16, "bias": False,
              "tokenizer": "char", "bpe_vocab_size": 512, "data": None, "dropout": 0.0,
              "grad_clip": 1.0, "beta2": 0.99, "lr_decay_iters": None, "max_iters": 4,
              "learning_rate": 1e-3}  # fmt: skip
    return {"iter": 4, "train_config": config, "rng": {}, "metrics": [{"iter": 4}]}


MUTATIONS = {
    "config a list": lambda d: d.update(train_config=[1, 2]),
    "grad_clip a string": lambda d: d["train_config"].update(grad_clip="x"),
    "beta2 a string": lambda d: d["train_config"].update(beta2="x"),
    "dropout a numeral string": lambda d: d["train_config"].update(dropout="0.1"),
    "bias a number": lambda d: d["train_config"].update(bias=1),
    "n_embd a bool": lambda d: d["train_config"].update(n_embd=True),
    "data a number": lambda d: d["train_config"].update(data=3),
    "iter a string": lambda d: d.update(iter="x"),
    "iter negative": lambda d: d.update(iter=-1),
    "metrics a number": lambda d: d.update(metrics=5),
    "metrics of numbers": lambda d: d.update(metrics=[1, 2]),
    "no rng": lambda d: d.pop("rng"),
    "a list": lambda d: (d.clear(), d.update({"x": []})),
}


def test_a_good_state_reads(tmp_path):
    path = tmp_path / "train_state.json"
    path.write_text(json.dumps(good_state()))
    assert read_train_state(str(path))["iter"] == 4


@pytest.mark.parametrize("what", sorted(MUTATIONS))
def test_a_damaged_state_is_one_error_naming_the_file(tmp_path, what):
    state = good_state()
    MUTATIONS[what](state)
    path = tmp_path / "train_state.json"
    path.write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match="train_state.json"):
        read_train_state(str(path))


def test_resume_of_a_damaged_state_is_one_line(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "tinygrad_edu", "train-gpt", "--out", str(run), *TINY]
    first = subprocess.run([*cmd, "--max-iters", "4"], capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    (state_path,) = glob.glob(str(run / "ckpt-*" / "train_state.json"))
    state = json.loads(open(state_path).read())
    state["train_config"]["grad_clip"] = "x"
    with open(state_path, "w") as f:
        f.write(json.dumps(state))
    # keep the manifest's hash true, so that the check reached is the state's own
    (manifest_path,) = glob.glob(str(run / "ckpt-*" / "manifest.json"))
    manifest = json.loads(open(manifest_path).read())
    digest = hashlib.sha256(open(state_path, "rb").read()).hexdigest()

    def fix(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "train_state.json" and isinstance(value, str):
                    node[key] = digest
                else:
                    fix(value)

    fix(manifest)
    with open(manifest_path, "w") as f:
        f.write(json.dumps(manifest))
    second = subprocess.run([*cmd, "--max-iters", "6"], capture_output=True, text=True, timeout=300)
    assert second.returncode == 2, (second.returncode, second.stderr)
    lines = [line for line in second.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("train-gpt: error:") and "grad_clip" in lines[-1], second.stderr
    assert "Traceback" not in second.stderr
    assert os.path.isdir(os.path.dirname(state_path))  # the checkpoint is still there
