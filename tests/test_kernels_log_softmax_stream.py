"""log_softmax with streaming stores (csrc/softmax_impl.h, log_softmax_row_stream): the
path compiled.log_softmax takes for outputs of compiled._STREAM_MIN_BYTES and more. The
threshold is lowered here so that small and odd shapes run through it, on every ISA and
thread count, against the cached-store path (the same arithmetic: equal to the bit) and
the twin."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import needs_compiled

from tinygrad_edu.kernels import _activations, compiled, reference

pytestmark = needs_compiled

# rows x cols: one number, shorter than a vector, odd (rows start off a vector
# boundary, so each row has a scalar head before its streamed vectors), long rows
SHAPES = [(1, 1), (3, 5), (7, 17), (5, 33), (16, 64), (9, 1000), (33, 257), (2, 4099)]


@pytest.fixture
def streaming(monkeypatch):
    monkeypatch.setattr(compiled, "_STREAM_MIN_BYTES", 0)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_streamed_equals_cached_and_the_twin(isa, nthreads, rng, monkeypatch, shape, dtype):
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    x.flat[:: max(1, x.size // 7)] = -np.inf  # masked positions
    monkeypatch.setattr(compiled, "_STREAM_MIN_BYTES", 1 << 62)
    cached = compiled.log_softmax(x)
    monkeypatch.setattr(compiled, "_STREAM_MIN_BYTES", 0)
    streamed = compiled.log_softmax(x)
    np.testing.assert_array_equal(streamed, cached)
    tol = 2e-6 if dtype == np.float32 else 1e-14
    want = reference.log_softmax(x)
    np.testing.assert_allclose(streamed, want, rtol=tol, atol=tol * np.log(shape[1] + 1))


def test_unaligned_output_rows(isa, rng, streaming):
    """A (rows, 3) output: no row starts on a vector boundary but the first."""
    x = rng.standard_normal((50, 3)).astype(np.float32)
    np.testing.assert_allclose(compiled.log_softmax(x), reference.log_softmax(x), rtol=2e-6)


def test_large_outputs_take_the_streaming_path(monkeypatch):
    calls = []
    real = _activations.log_softmax_stream_f32

    def spy(*args):
        calls.append(args[0].shape)
        return real(*args)

    monkeypatch.setattr(_activations, "log_softmax_stream_f32", spy)
    monkeypatch.setattr(compiled, "_STREAM_MIN_BYTES", 4096)
    compiled.log_softmax(np.zeros((32, 32), np.float32))  # 4096 bytes: streamed
    compiled.log_softmax(np.zeros((31, 32), np.float32))  # below: cached stores
    compiled.softmax(np.zeros((64, 64), np.float32))  # softmax re-reads y: never streamed
    assert calls == [(32, 32)]
