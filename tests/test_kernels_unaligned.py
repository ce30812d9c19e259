"""Arrays whose address is not a whole number of elements (issue 12, item 1).

np.frombuffer(b"\\0" + x.tobytes(), offset=1) is C-contiguous but unaligned. The
compiled matmul used to return uninitialised memory for it; every kernel entry point
must now give the twin's numbers (or, for an output it cannot write, a clear error).
"""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_edu import Tensor, nn
from tinygrad_edu.kernels import reference

compiled = pytest.importorskip("tinygrad_edu.kernels.compiled")

DTYPES = [np.float32, np.float64]


def unaligned(x: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of x whose data starts one byte past an element boundary."""
    raw = b"\0" + np.ascontiguousarray(x).tobytes()
    y = np.frombuffer(raw, x.dtype, offset=1, count=x.size).reshape(x.shape)
    assert y.flags.c_contiguous and not y.flags.aligned
    return y


def unaligned_writable(x: np.ndarray) -> np.ndarray:
    buf = bytearray(b"\0" + np.ascontiguousarray(x).tobytes())
    y = np.frombuffer(buf, x.dtype, offset=1, count=x.size).reshape(x.shape)
    assert y.flags.writeable and not y.flags.aligned
    return y


def rand(*shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def tol(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_of_unaligned_operands_is_right(dtype):
    # the reproduction from the issue: (64, 48) @ (48, 32)
    x, w = rand(64, 48, dtype=dtype), rand(48, 32, dtype=dtype, seed=1)
    want = x @ w
    for a, b in ((unaligned(x), w), (x, unaligned(w)), (unaligned(x), unaligned(w))):
        np.testing.assert_allclose(compiled.gemm(a, b), want, **tol(dtype))
        np.testing.assert_allclose(compiled.matmul(a, b), want, **tol(dtype))
        np.testing.assert_allclose((Tensor(a) @ Tensor(b)).numpy(), want, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_batched_matmul_of_unaligned_operands_is_right(dtype):
    x, w = rand(3, 5, 7, dtype=dtype), rand(3, 7, 4, dtype=dtype, seed=1)
    np.testing.assert_allclose(compiled.matmul(unaligned(x), unaligned(w)), x @ w, **tol(dtype))


def test_linear_layer_on_unaligned_input_has_no_nans():
    layer = nn.Linear(48, 16)
    x = rand(64, 48)
    want = layer(Tensor(x)).numpy()
    got = layer(Tensor(unaligned(x))).numpy()
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_kernel_reading_unaligned_input_matches_its_twin(dtype):
    x, y = rand(6, 10, dtype=dtype), rand(6, 10, dtype=dtype, seed=1)
    u, v = unaligned(x), unaligned(y)
    t = tol(dtype)
    np.testing.assert_allclose(compiled.softmax(u), reference.softmax(x), **t)
    np.testing.assert_allclose(compiled.log_softmax(u), reference.log_softmax(x), **t)
    sm = reference.softmax(x)
    np.testing.assert_allclose(
        compiled.softmax_backward(unaligned(sm), v), reference.softmax_backward(sm, y), **t
    )
    np.testing.assert_allclose(compiled.gelu(u), reference.gelu(x), **t)
    np.testing.assert_allclose(compiled.gelu_backward(u, v), reference.gelu_backward(x, y), **t)
    np.testing.assert_allclose(compiled.add(u, v), x + y, **t)
    np.testing.assert_allclose(compiled.colsum(u), x.sum(0), **t)
    np.testing.assert_allclose(compiled.dot(u[0], v[0]), float(x[0] @ y[0]), **t)
    np.testing.assert_allclose(
        compiled.sum_squares([u, v]), [float((x * x).sum()), float((y * y).sum())], **t
    )
    w, b = rand(10, dtype=dtype, seed=2), rand(10, dtype=dtype, seed=3)
    got, want = compiled.layer_norm(u, unaligned(w), b, 1e-5), reference.layer_norm(x, w, b, 1e-5)
    for g_, w_ in zip(got, want):
        np.testing.assert_allclose(g_, w_, **t)
    targets = np.arange(6, dtype=np.int64) % 10
    loss_c, _ = compiled.cross_entropy(u, unaligned(targets))
    loss_r, _ = reference.cross_entropy(x, targets)
    np.testing.assert_allclose(loss_c, loss_r, **t)
    g = rand(6, 4, dtype=dtype, seed=4)
    np.testing.assert_allclose(
        compiled.embedding_backward(unaligned(targets), unaligned(g), 12),
        reference.embedding_backward(targets, g, 12),
        **t,
    )
    q, k, vv = (rand(2, 5, 8, dtype=dtype, seed=s) for s in (5, 6, 7))
    oc, lc = compiled.attention_forward(unaligned(q), unaligned(k), unaligned(vv), True, 0.3)
    orf, lr = reference.attention_forward(q, k, vv, True, 0.3)
    np.testing.assert_allclose(oc, orf, **t)
    np.testing.assert_allclose(lc, lr, **t)


@pytest.mark.parametrize("dtype", DTYPES)
def test_in_place_updates_of_unaligned_arrays(dtype):
    p0, g = rand(33, dtype=dtype), rand(33, dtype=dtype, seed=1)
    # SGD with momentum, every array unaligned and writable
    p, buf = unaligned_writable(p0), unaligned_writable(np.zeros(33, dtype))
    pr, bufr = p0.copy(), np.zeros(33, dtype)
    compiled.sgd_update(p, unaligned(g), buf, 0.1, momentum=0.9, first=True)
    reference.sgd_update(pr, g, bufr, 0.1, momentum=0.9, first=True)
    np.testing.assert_array_equal(p, pr)
    np.testing.assert_array_equal(buf, bufr)
    # Adam
    p, m, v = (unaligned_writable(a) for a in (p0, np.zeros(33, dtype), np.zeros(33, dtype)))
    pr, mr, vr = p0.copy(), np.zeros(33, dtype), np.zeros(33, dtype)
    compiled.adam_update(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 0.01, 1, decoupled=True)
    reference.adam_update(pr, g, mr, vr, 1e-3, 0.9, 0.999, 1e-8, 0.01, 1, decoupled=True)
    np.testing.assert_allclose(p, pr, **tol(dtype))
    # scale_ and outputs written in place
    x = unaligned_writable(p0)
    compiled.scale_([x], 0.5)
    np.testing.assert_array_equal(x, p0 * dtype(0.5))
    a, b = rand(4, 5, dtype=dtype), rand(4, 5, dtype=dtype, seed=1)
    out = unaligned_writable(np.zeros((4, 5), dtype))
    compiled.add(a, b, out=out)
    np.testing.assert_allclose(out, a + b, **tol(dtype))
    out = unaligned_writable(np.zeros(5, dtype))
    compiled.colsum(a, out=out)
    np.testing.assert_allclose(out, a.sum(0), **tol(dtype))


@pytest.mark.parametrize("gemm", [compiled.gemm, reference.gemm], ids=["compiled", "reference"])
def test_gemm_into_an_unaligned_out_is_refused_by_both_backends(gemm):
    a, b = rand(4, 3), rand(3, 5)
    out = unaligned_writable(np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match="not aligned"):
        gemm(a, b, out)
