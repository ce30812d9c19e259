"""Issue 24, part 3 (model folders): hostile or broken files refused cheaply, in one line.

The config is checked against the weights file's header (dtypes and shapes) before
anything is allocated: before the arrays are read, before the model is built.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

pytest.importorskip("safetensors")

from tinygrad_edu import checkpoint  # noqa: E402
from tinygrad_edu.cli import main  # noqa: E402
from tinygrad_edu.models.gpt import GPT, GPTConfig  # noqa: E402


@pytest.fixture
def folder(tmp_path):
    """A small GPT model folder (n_embd 32) and a char tokenizer beside it."""
    from tinygrad_edu.tokenizer import CharTokenizer

    model = GPT(GPTConfig(block_size=16, vocab_size=12, n_layer=2, n_head=2, n_embd=32))
    model.save_pretrained(str(tmp_path / "m"))
    CharTokenizer.from_text("hello world").save(str(tmp_path / "m" / "tokenizer.json"))
    return tmp_path / "m"


def _set_config(folder, **changes):
    path = folder / "config.json"
    config = json.loads(path.read_text())
    path.write_text(json.dumps({**config, **changes}))


@pytest.fixture
def nothing_allocated(monkeypatch):
    """Fail if the arrays are read or a GPT is built: refusals come from the header."""

    def forbidden(*args, **kw):
        raise AssertionError("allocated before the config was checked against the header")

    monkeypatch.setattr(checkpoint, "load", forbidden)
    monkeypatch.setattr(GPT, "__init__", forbidden)


def _sample(folder, capsys) -> tuple[int, str]:
    code = main(["sample", "--ckpt", str(folder), "--max-new-tokens", "3"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "changes, said",
    [
        ({"n_embd": 4096}, "n_embd 4096"),  # 2.1 GB and 12 s, then a traceback
        ({"n_embd": 1e9}, "n_embd 1000000000.0"),  # a MemoryError traceback
        ({"vocab_size": 50257}, "vocab_size 50257"),
        ({"block_size": 1 << 20}, "block_size 1048576"),
        ({"n_layer": 48}, "n_layer 48"),
    ],
)
def test_a_config_that_does_not_describe_the_weights_is_refused_unallocated(
    folder, capsys, nothing_allocated, changes, said
):
    _set_config(folder, **changes)
    with pytest.raises(checkpoint.CheckpointError, match="does not describe these weights") as e:
        GPT.from_pretrained(str(folder))
    assert said in str(e.value) and str(folder / "config.json") in str(e.value)
    code, err = _sample(folder, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and said in err


@pytest.mark.parametrize(
    "dtype, name", [(np.int8, "I8"), (np.complex64, "C64"), (np.bool_, "BOOL")]
)
def test_non_float_weights_are_refused_naming_the_tensor(folder, capsys, dtype, name):
    weights = checkpoint.load(folder / "model.safetensors")
    key = "transformer.h.1.mlp.c_fc.weight"
    if dtype is np.complex64:  # safetensors' numpy writer has no complex: write it by hand
        header = {k: {"dtype": "F32", "shape": list(v.shape)} for k, v in weights.items()}
        header[key]["dtype"] = "C64"
        blob, offset = b"", 0
        for k, v in weights.items():
            data = v.astype(np.complex64).tobytes() if k == key else v.tobytes()
            header[k]["data_offsets"] = [offset, offset + len(data)]
            blob, offset = blob + data, offset + len(data)
        text = json.dumps(header).encode()
        (folder / "model.safetensors").write_bytes(len(text).to_bytes(8, "little") + text + blob)
    else:
        weights[key] = (weights[key] * 100).astype(dtype)
        checkpoint.save(weights, folder / "model.safetensors")
    with pytest.raises(checkpoint.CheckpointError, match=f"{key} holds {name} values"):
        GPT.from_pretrained(str(folder))
    code, err = _sample(folder, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and f"{key} holds {name}" in err


@pytest.mark.parametrize("changes", [{"bias": None}, {"layer_norm_eps": None}, {"n_head": [2]}])
def test_config_fields_of_the_wrong_kind_are_one_error_line(folder, capsys, changes):
    """Found by tests/test_fuzz_model_folder.py: a null bias built a model without biases
    (then a KeyError traceback), a null epsilon a TypeError traceback."""
    _set_config(folder, **changes)
    with pytest.raises(ValueError, match="config.json"):
        GPT.from_pretrained(str(folder))
    code, err = _sample(folder, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "config.json" in err, err


def test_half_precision_weights_still_load(folder):
    weights = checkpoint.load(folder / "model.safetensors")
    checkpoint.save(
        {k: v.astype(np.float16) for k, v in weights.items()}, folder / "model.safetensors"
    )
    model = GPT.from_pretrained(str(folder))
    assert model.transformer.wte.weight.data.dtype == np.float32


def test_a_damaged_header_is_one_error(folder, capsys):
    path = folder / "model.safetensors"
    data = path.read_bytes()
    for bad in (data[:5], (10**12).to_bytes(8, "little") + data[8:], data[:8] + b"[" + data[9:]):
        path.write_bytes(bad)
        with pytest.raises(checkpoint.CheckpointError, match="not a valid safetensors file"):
            GPT.from_pretrained(str(folder))
        code, err = _sample(folder, capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1, err


def test_the_header_is_read_not_the_arrays(folder):
    header = checkpoint.read_header(folder / "model.safetensors")
    assert header["transformer.wte.weight"] == ("F32", (12, 32))
    assert os.path.getsize(folder / "model.safetensors") > 4 * 12 * 32
