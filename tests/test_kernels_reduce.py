"""The first compiled kernels (dot, column sums) against their NumPy twins."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import needs_compiled

from tinygrad_edu.kernels import compiled, reference

pytestmark = needs_compiled


@pytest.mark.parametrize("n", [0, 1, 3, 15, 16, 17, 64, 1000, 4099])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dot_matches_twin(isa, n, dtype, rng):
    x = rng.standard_normal(n).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    tol = (1e-5 if dtype == np.float32 else 1e-12) * max(1.0, float(np.abs(x * y).sum()))
    assert abs(compiled.dot(x, y) - reference.dot(x, y)) <= tol


def test_dot_strided_input(isa, rng):
    x = rng.standard_normal(200)
    y = rng.standard_normal(400)[::-2]  # negative stride: copied to contiguous first
    assert compiled.dot(x, y) == pytest.approx(float(x @ y), rel=1e-12)


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (1, 1), (7, 33), (300, 257), (1000, 100)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_colsum_matches_twin(isa, nthreads, shape, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(compiled.colsum(x), reference.colsum(x), rtol=tol, atol=tol)
    # accumulate=True adds into an existing gradient buffer
    out = np.ones(shape[1], dtype=dtype)
    compiled.colsum(x, out, accumulate=True)
    np.testing.assert_allclose(out, 1 + x.sum(axis=0), rtol=tol, atol=tol)


def test_colsum_transposed_view(rng):
    x = rng.standard_normal((40, 70)).T  # not C-contiguous
    np.testing.assert_allclose(compiled.colsum(x), x.sum(axis=0), rtol=1e-12)


def test_bad_inputs_raise_python_errors():
    with pytest.raises(ValueError, match=r"\(3,\) and \(4,\)"):
        compiled.dot(np.ones(3), np.ones(4))
    with pytest.raises(TypeError, match="float32 or float64"):
        compiled.dot(np.ones(3, dtype=np.int64), np.ones(3, dtype=np.int64))
    with pytest.raises(TypeError, match="dtypes must match"):
        compiled.dot(np.ones(3, dtype=np.float32), np.ones(3))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        compiled.dot([1.0, 2.0], np.ones(2))
    with pytest.raises(ValueError, match="out must have shape"):
        compiled.colsum(np.ones((3, 4)), np.zeros(3))
    with pytest.raises(ValueError, match="2-D"):
        compiled.colsum(np.ones(3))
