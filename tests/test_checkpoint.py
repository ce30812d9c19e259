"""Checkpoints: safetensors round trips, bad files named, atomic writes."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import checkpoint, nn

pytest.importorskip("safetensors")


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(f"u{a.dtype.itemsize}") if a.dtype.kind == "f" else a


def test_round_trip_is_bit_exact(tmp_path):
    rng = np.random.default_rng(0)
    special = np.array([np.nan, np.inf, -np.inf, -0.0, 1e-45, 3.4e38], dtype=np.float32)
    state = {
        "w32": rng.standard_normal((17, 5)).astype(np.float32),
        "w64": rng.standard_normal((3, 4, 2)),
        "special32": special,
        "special64": np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324, 1.7e308]),
        "step": np.array(7, dtype=np.int64),  # 0-d stays 0-d
        "empty": np.zeros((0, 4), dtype=np.float32),
        "transposed": rng.standard_normal((4, 6)).astype(np.float32).T,  # not contiguous
        "tensor": tg.Tensor(np.arange(5, dtype=np.float64)),
    }
    path = checkpoint.save(state, tmp_path / "ckpt.safetensors", metadata={"epoch": "3"})
    loaded = checkpoint.load(path)
    assert set(loaded) == set(state)
    for k, v in state.items():
        v = v.numpy() if isinstance(v, tg.Tensor) else v
        assert loaded[k].dtype == v.dtype and loaded[k].shape == v.shape, k
        np.testing.assert_array_equal(_bits(loaded[k]), _bits(np.ascontiguousarray(v)), err_msg=k)
    assert checkpoint.load_metadata(path) == {"epoch": "3"}


def test_model_round_trip_with_tied_weights(tmp_path):
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(6, 4)
            self.head = nn.Linear(4, 6, bias=False)
            self.head.weight = self.wte.weight

        def forward(self, idx):
            return self.head(self.wte(idx))

    tg.manual_seed(0)
    a = Tied()
    tg.save(a, tmp_path / "m.safetensors")  # a Module is saved through its state_dict
    tg.manual_seed(1)
    b = Tied()
    sd = tg.load(tmp_path / "m.safetensors")
    assert set(sd) == {"wte.weight", "head.weight"}
    b.load_state_dict(sd)
    idx = np.array([[0, 3, 5]])
    np.testing.assert_array_equal(a(idx).numpy(), b(idx).numpy())
    assert b.head.weight is b.wte.weight


def test_truncated_and_foreign_files_are_named(tmp_path):
    path = tmp_path / "good.safetensors"
    checkpoint.save({"w": np.ones((10, 10), dtype=np.float32)}, path)
    raw = path.read_bytes()
    for n in (len(raw) - 1, len(raw) // 2, 12, 3, 0):
        bad = tmp_path / "cut.safetensors"
        bad.write_bytes(raw[:n])
        with pytest.raises(ValueError, match="cut.safetensors: not a valid safetensors file"):
            checkpoint.load(bad)
    foreign = tmp_path / "weights.pt"
    foreign.write_bytes(b"PK\x03\x04" + os.urandom(200))  # a zip, as torch.save writes
    with pytest.raises(ValueError, match="weights.pt: not a valid safetensors file"):
        checkpoint.load(foreign)
    with pytest.raises(ValueError, match="weights.pt"):
        checkpoint.load_metadata(foreign)
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        checkpoint.load(tmp_path / "missing.safetensors")


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    checkpoint.save({"w": np.zeros(3, dtype=np.float32)}, path)
    checkpoint.save({"w": np.ones(3, dtype=np.float32)}, path)  # overwrite
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]  # no temporary file left
    np.testing.assert_array_equal(checkpoint.load(path)["w"], np.ones(3, dtype=np.float32))
    assert (path.stat().st_mode & 0o777) == 0o644

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save({"w": np.full(3, 2.0, dtype=np.float32)}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]  # the temporary file was removed
    np.testing.assert_array_equal(checkpoint.load(path)["w"], np.ones(3, dtype=np.float32))


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="metadata must map str to str"):
        checkpoint.save({"w": np.zeros(2)}, tmp_path / "x.safetensors", metadata={"epoch": 3})
    with pytest.raises(TypeError, match="keys must be strings"):
        checkpoint.save({1: np.zeros(2)}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="a state dict"):
        checkpoint.save([np.zeros(2)], tmp_path / "x.safetensors")
    assert os.listdir(tmp_path) == []


def test_missing_safetensors_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(ImportError, match="pip install safetensors"):
        checkpoint.save({"w": np.zeros(2)}, tmp_path / "x.safetensors")
    with pytest.raises(ImportError, match="pip install safetensors"):
        checkpoint.load(tmp_path / "x.safetensors")


def test_no_pickle_in_the_checkpoint_code():
    source = open(checkpoint.__file__).read()
    assert "import pickle" not in source and "np.load(" not in source
