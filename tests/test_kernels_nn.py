"""Compiled LayerNorm and embedding scatter-add against their NumPy twins."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import needs_compiled
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu.kernels import compiled, reference

pytestmark = needs_compiled
SHAPES = [(0, 5), (1, 1), (3, 7), (33, 65), (64, 128), (257, 1031)]


def _tol(dtype):
    return 2e-5 if dtype == np.float32 else 1e-11


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_layer_norm_matches_twin(isa, nthreads, shape, dtype, affine, rng):
    n, c = shape
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    w = rng.standard_normal(c).astype(dtype) if affine != "none" else None
    b = rng.standard_normal(c).astype(dtype) if affine == "both" else None
    dy = rng.standard_normal(shape).astype(dtype)
    got, want = compiled.layer_norm(x, w, b, 1e-5), reference.layer_norm(x, w, b, 1e-5)
    tol = _tol(dtype)
    for g, r in zip(got, want):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, r, rtol=tol, atol=tol)
    _, mean, rstd = want
    got_b = compiled.layer_norm_backward(x, w, mean, rstd, dy)
    want_b = reference.layer_norm_backward(x, w, mean, rstd, dy)
    for g, r in zip(got_b, want_b):
        if r is None:
            assert g is None
        else:
            np.testing.assert_allclose(g, r, rtol=tol * 10, atol=tol * 10 * max(1, n) ** 0.5)


def test_layer_norm_strided_input(rng):
    x = rng.standard_normal((40, 30)).T  # (30, 40), not contiguous
    w = rng.standard_normal(40)
    for g, r in zip(compiled.layer_norm(x, w, None, 1e-5), reference.layer_norm(x, w, None, 1e-5)):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_backward_accumulates_repeats(isa, nthreads, dtype, rng):
    idx = rng.integers(0, 50, size=(8, 300))
    idx[0, :5] = 7  # many repeats of one id
    g = rng.standard_normal((8, 300, 33)).astype(dtype)
    got = compiled.embedding_backward(idx, g, 50)
    np.testing.assert_allclose(
        got, reference.embedding_backward(idx, g, 50), rtol=_tol(dtype) * 10, atol=_tol(dtype) * 10
    )
    assert got.dtype == dtype and got.shape == (50, 33)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 40), vocab=st.integers(1, 30), d=st.integers(0, 20), seed=st.integers(0, 99)
)
def test_embedding_backward_property(n, vocab, d, seed):
    r = np.random.default_rng(seed)
    idx = r.integers(0, vocab, size=n)
    g = r.standard_normal((n, d))
    np.testing.assert_allclose(
        compiled.embedding_backward(idx, g, vocab),
        reference.embedding_backward(idx, g, vocab),
        rtol=1e-12,
        atol=1e-12,
    )


def test_bad_inputs():
    with pytest.raises(IndexError, match="outside"):
        compiled.embedding_backward(np.array([0, 5]), np.ones((2, 3)), 5)
    with pytest.raises(IndexError, match="-1"):
        compiled.embedding_backward(np.array([-1]), np.ones((1, 3)), 5)
    with pytest.raises(TypeError, match="integers"):
        compiled.embedding_backward(np.array([0.0]), np.ones((1, 3)), 5)
    with pytest.raises(ValueError, match="idx shape"):
        compiled.embedding_backward(np.array([0, 1]), np.ones((3, 3)), 5)
    with pytest.raises(ValueError, match="weight must have shape"):
        compiled.layer_norm(np.ones((2, 3)), np.ones(4), None, 1e-5)
    with pytest.raises(TypeError, match="dtypes must match"):
        compiled.layer_norm(np.ones((2, 3)), np.ones(3, dtype=np.float32), None, 1e-5)
    with pytest.raises(TypeError, match="float32 or float64"):
        compiled.layer_norm(np.ones((2, 3), dtype=np.int32), None, None, 1e-5)
