"""The first compiled kernels (dot, column sums, the elementwise add) against their NumPy twins."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import needs_compiled

from tinygrad_edu.kernels import compiled, reference
from tinygrad_edu.kernels.config import config

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


# --- add: exactly NumPy's a + b (one rounding per element, so bit for bit) ---------------


@pytest.mark.parametrize("shape", [(0,), (1,), (15,), (17,), (3, 5), (768, 128), (65536 * 3 + 5,)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("small_path", [False, True], ids=["kernel", "small-path"])
def test_add_is_numpys_sum_bit_for_bit(isa, nthreads, shape, dtype, rng, small_path, monkeypatch):
    # compiled.add takes arrays below _ADD_SMALL elements down its small path (add_small,
    # one thread; NumPy for out= and odd layouts); with the threshold at 0 every shape
    # here (tails of 15 and 17 included) goes through the threaded kernel call.
    monkeypatch.setattr(compiled, "_ADD_SMALL", 1 << 40 if small_path else 0)
    a = rng.standard_normal(shape).astype(dtype)
    b = rng.standard_normal(shape).astype(dtype)
    got = compiled.add(a, b)
    assert got.shape == shape and got.dtype == dtype
    np.testing.assert_array_equal(got, reference.add(a, b))
    # into a itself (how a gradient buffer is accumulated), and into b
    a2, b2 = a.copy(), b.copy()
    assert compiled.add(a2, b, out=a2) is a2
    assert compiled.add(a, b2, out=b2) is b2
    np.testing.assert_array_equal(a2, a + b)
    np.testing.assert_array_equal(b2, a + b)


def test_add_small_refuses_all_but_plain_arrays(rng):
    """_core.add_small (compiled.add's fast path) returns None for anything but two plain
    arrays of one shape and float dtype, so that the checked path raises or copies."""
    from tinygrad_edu.kernels import _core

    a = rng.standard_normal((4, 6)).astype(np.float32)
    ok = _core.add_small(a, a, 1 << 14, config.isa)
    np.testing.assert_array_equal(ok, a + a)
    unaligned = np.frombuffer(b"\0" + a.tobytes(), dtype=np.float32, offset=1).reshape(a.shape)
    refused = {
        "too large": (a, a, 24),
        "shapes differ": (a, a.reshape(6, 4), 1 << 14),
        "ndims differ": (a, a.reshape(-1), 1 << 14),
        "dtypes differ": (a, a.astype(np.float64), 1 << 14),
        "integers": (a.astype(np.int32), a.astype(np.int32), 1 << 14),
        "not C-contiguous": (a[:, ::2], a[:, ::2], 1 << 14),
        "byte-swapped": (a, a.astype(a.dtype.newbyteorder()), 1 << 14),
        "unaligned": (unaligned, a, 1 << 14),
        "a list": (a.tolist(), a, 1 << 14),
        "a subclass": (a.view(np.matrix), a, 1 << 14),
    }
    for why, (x, y, limit) in refused.items():
        assert _core.add_small(x, y, limit, config.isa) is None, why
    assert _core.add_small(a[:0], a[:0], 1 << 14, config.isa).shape == (0, 6)
    np.testing.assert_array_equal(compiled.add(unaligned, a), a + a)  # checked path


def test_add_keeps_nan_inf_and_signed_zero():
    a = np.array([np.nan, np.inf, -np.inf, -0.0, -0.0, 1e38] * 3, dtype=np.float32)
    b = np.array([1.0, 1.0, -1.0, -0.0, 0.0, 1e38] * 3, dtype=np.float32)
    with np.errstate(over="ignore"):
        want = a + b
    got = compiled.add(a, b)
    np.testing.assert_array_equal(got, want)  # NaN == NaN here, inf overflow kept
    assert np.array_equal(np.signbit(got), np.signbit(want))


def test_add_strided_inputs(rng):
    a = rng.standard_normal((40, 70)).T  # not C-contiguous: copied first
    b = rng.standard_normal((70, 40))
    np.testing.assert_array_equal(compiled.add(a, b), a + b)


def test_add_bad_inputs_raise_python_errors():
    with pytest.raises(ValueError, match="equal shapes"):
        compiled.add(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="equal shapes"):
        compiled.add(np.ones((3, 1)), np.ones((3, 4)))  # no broadcasting in the kernel
    with pytest.raises(TypeError, match="dtypes must match"):
        compiled.add(np.ones(3, dtype=np.float32), np.ones(3))
    with pytest.raises(TypeError, match="float32 or float64"):
        compiled.add(np.ones(3, dtype=np.int32), np.ones(3, dtype=np.int32))
    with pytest.raises(ValueError, match="out must have shape"):
        compiled.add(np.ones(3), np.ones(3), out=np.ones(4))
    with pytest.raises(ValueError, match="writeable C-contiguous"):
        compiled.add(np.ones(3), np.ones(3), out=np.ones(6)[::2])
    x = np.ones(10)
    with pytest.raises(ValueError, match="overlaps a"):
        compiled.add(x[1:], np.ones(9), out=x[:-1])  # shifted overlap: would race


# --- many arrays at once (gradient clipping): sum_squares and scale_ --------------------


def _ragged(rng, dtype, sizes=(0, 1, 17, 16384, 16385, 40000, 70001)):
    return [rng.standard_normal(n).astype(dtype) for n in sizes] + [
        rng.standard_normal((30, 7)).astype(dtype)
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sum_squares_matches_twin(isa, nthreads, dtype, rng):
    xs = _ragged(rng, dtype)
    got, want = compiled.sum_squares(xs), reference.sum_squares(xs)
    assert got.dtype == np.float64 and got.shape == (len(xs),)
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12)
    assert got[0] == 0.0  # an empty array


def test_sum_squares_does_not_depend_on_the_thread_count(rng):
    from tinygrad_edu.kernels.config import config

    xs = _ragged(rng, np.float32, sizes=(200_000, 50_000, 3))
    old = config.num_threads
    try:
        config.num_threads = 1
        one = compiled.sum_squares(xs)
        config.num_threads = 2
        two = compiled.sum_squares(xs)
    finally:
        config.num_threads = old
    np.testing.assert_array_equal(one, two)  # fixed chunks, summed in a fixed order


def test_sum_squares_mixed_dtypes_and_views(rng):
    xs = [rng.standard_normal(1000), rng.standard_normal((50, 40)).astype(np.float32).T]
    np.testing.assert_allclose(compiled.sum_squares(xs), reference.sum_squares(xs), rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scale_is_numpys_in_place_product_bit_for_bit(isa, nthreads, dtype, rng):
    xs = _ragged(rng, dtype)
    ys = [x.copy() for x in xs]
    compiled.scale_(xs, 0.3)
    reference.scale_(ys, 0.3)
    for x, y in zip(xs, ys):
        np.testing.assert_array_equal(x, y)


def test_scale_arrays_that_share_memory_are_scaled_like_numpy():
    a = np.ones(100_000, dtype=np.float32)
    b = np.ones(20, dtype=np.float32)[::2]  # not contiguous: NumPy scales it
    compiled.scale_([a, a[10:], b], 0.5)  # a's tail twice, one after the other
    assert a[0] == 0.5 and a[10] == 0.25 and a[-1] == 0.25
    np.testing.assert_array_equal(b, 0.5)


def test_many_array_kernels_reject_bad_input():
    with pytest.raises(TypeError, match="list"):
        compiled.sum_squares(np.ones(3))
    with pytest.raises(TypeError, match=r"arrays\[1\] must be float32 or float64"):
        compiled.sum_squares([np.ones(3), np.ones(3, dtype=np.int64)])
    with pytest.raises(TypeError, match=r"arrays\[0\] must be a numpy.ndarray"):
        compiled.scale_([[1.0, 2.0]], 0.5)
    ro = np.ones(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"arrays\[0\] is read-only"):
        compiled.scale_([ro], 0.5)
