"""Issue 24, part 3: random mutations of a real model folder's config.json and
model.safetensors. `sample` must end each one in exit 0 or one error line (exit 2),
quickly and without a large allocation: never a traceback, never a minute of work.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
import time
import tracemalloc

import pytest

pytest.importorskip("safetensors")
hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tinygrad_edu.cli import main  # noqa: E402
from tinygrad_edu.models.gpt import GPT, GPTConfig  # noqa: E402
from tinygrad_edu.tokenizer import CharTokenizer  # noqa: E402

SECONDS = 3.0  # per mutation, at most (a small model folder loads in well under 0.1 s)
GROWTH_MB = 64  # what a mutation may allocate beyond sampling from the intact folder

VALUES = st.one_of(
    st.integers(-(2**63), 2**63),
    st.sampled_from([0, 1, 2, 7, 8, 16, 32, 4096, 10**9, 2**31, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.none(),
    st.booleans(),
    st.lists(st.integers(0, 64), max_size=3),
)
CONFIG_KEYS = ["block_size", "vocab_size", "n_layer", "n_head", "n_embd", "bias", "dropout",
               "activation", "layer_norm_eps", "model_type", "n_positions"]  # fmt: skip
DTYPES = ["F32", "F16", "BF16", "F64", "I8", "U8", "I64", "BOOL", "C64", "F8_E4M3", "X", ""]


@functools.cache
def original() -> dict[str, bytes]:
    """The files of a real model folder (a small GPT and its tokenizer), as bytes."""
    with tempfile.TemporaryDirectory() as folder:
        model = GPT(GPTConfig(block_size=8, vocab_size=9, n_layer=2, n_head=2, n_embd=8))
        model.save_pretrained(folder)
        CharTokenizer.from_text("abcdefghi").save(os.path.join(folder, "tokenizer.json"))
        names = ("config.json", "model.safetensors", "tokenizer.json")
        return {n: open(os.path.join(folder, n), "rb").read() for n in names}


@st.composite
def mutation(draw):
    kind = draw(st.sampled_from(["config key", "config bytes", "header field", "header bytes",
                                 "header length", "truncate weights"]))  # fmt: skip
    return kind, draw(st.data())


def _mutate(files: dict, kind: str, data) -> dict:
    files = dict(files)
    if kind == "config key":
        config = json.loads(files["config.json"])
        key = data.draw(st.sampled_from(CONFIG_KEYS))
        if data.draw(st.booleans()):
            config[key] = data.draw(VALUES)
        else:
            config.pop(key, None)
        files["config.json"] = json.dumps(config).encode()
    elif kind == "config bytes":
        raw = bytearray(files["config.json"])
        for _ in range(data.draw(st.integers(1, 4))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        files["config.json"] = bytes(raw)
    else:
        raw = files["model.safetensors"]
        n = int.from_bytes(raw[:8], "little")
        header, body = json.loads(raw[8 : 8 + n]), raw[8 + n :]
        if kind == "header field":
            name = data.draw(st.sampled_from(sorted(k for k in header if k != "__metadata__")))
            field = data.draw(st.sampled_from(["dtype", "shape", "data_offsets"]))
            if field == "dtype":
                header[name]["dtype"] = data.draw(st.sampled_from(DTYPES))
            elif field == "shape":
                header[name]["shape"] = data.draw(st.lists(st.integers(0, 2**40), max_size=4))
            else:
                header[name]["data_offsets"] = data.draw(
                    st.lists(st.integers(-5, 2**40), max_size=3)
                )
            text = json.dumps(header).encode()
            raw = len(text).to_bytes(8, "little") + text + body
        elif kind == "header bytes":
            raw = bytearray(raw)
            for _ in range(data.draw(st.integers(1, 4))):
                raw[data.draw(st.integers(8, 8 + n - 1))] = data.draw(st.integers(0, 255))
            raw = bytes(raw)
        elif kind == "header length":
            raw = data.draw(st.integers(0, 2**64 - 1)).to_bytes(8, "little") + raw[8:]
        else:
            raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
        files["model.safetensors"] = raw
    return files


RUNS = {"exit 0": 0, "one error line": 0}


def sample_peak_mb(folder) -> tuple[int, float]:
    """(exit code, peak MB that Python and NumPy allocated) of `sample` on the folder."""
    tracemalloc.start()  # NumPy's array buffers are traced too
    try:
        code = main(["sample", "--ckpt", str(folder), "--max-new-tokens", "2", "--prompt", "ab"])
        return code, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


@functools.cache
def intact_peak_mb() -> float:
    """The peak of sampling from the intact folder (the buffers sampling always takes)."""
    with tempfile.TemporaryDirectory() as folder:
        for name, content in original().items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(content)
        code, peak = sample_peak_mb(folder)
        assert code == 0
        return peak


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(m=mutation())
def test_every_mutation_ends_in_one_line_or_a_sample(tmp_path_factory, capsys, m):
    kind, data = m
    folder = tmp_path_factory.mktemp("mutated")
    for name, content in _mutate(original(), kind, data).items():
        (folder / name).write_bytes(content)
    baseline = intact_peak_mb()
    start = time.monotonic()
    code, peak_mb = sample_peak_mb(folder)
    seconds = time.monotonic() - start
    err = capsys.readouterr().err
    assert code in (0, 2), (kind, code, err)
    assert len(err.strip().splitlines()) == (0 if code == 0 else 1), (kind, err)
    assert seconds < SECONDS, (kind, seconds, err)
    assert peak_mb < baseline + GROWTH_MB, (kind, peak_mb, baseline, err)
    RUNS["exit 0" if code == 0 else "one error line"] += 1


def test_the_fuzzing_reached_the_refusals():
    """(after the fuzz test, in file order) the mutations reached the loaders' checks."""
    if not sum(RUNS.values()):
        pytest.skip("the fuzz test did not run")
    print(f"\nfuzz: {RUNS}")
    assert RUNS["one error line"] > 0
