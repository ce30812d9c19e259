"""The plain-C rung (csrc/naive_impl.h, compiled.*_naive): every kernel family as scalar
loops on one thread, tested equal to its NumPy twin in float32 and float64, odd shapes,
edge values and bad input. (Attention's rung is tested in test_attention.py.)"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import needs_compiled

from tinygrad_edu.kernels import compiled, reference

pytestmark = needs_compiled

DTYPES = [np.float32, np.float64]
SHAPES = [(0, 5), (5, 0), (1, 1), (3, 7), (17, 65), (31, 1031)]


def tol(dtype, loose=1.0):
    """(rtol, atol): the same formula summed in another order."""
    return (loose * 2e-5, loose * 2e-6) if dtype == np.float32 else (loose * 1e-12, loose * 1e-13)


def close(got, want, dtype, loose=1.0, what=""):
    assert got.dtype == want.dtype == dtype and got.shape == want.shape, what
    rtol, atol = tol(dtype, loose)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)


def test_extension_is_built():
    """Otherwise compiled.*_naive quietly falls back to the twins and proves nothing."""
    assert compiled._naive is not None
    assert compiled.softmax_naive is not reference.softmax


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_matches_twin(shape, dtype, fn, rng):
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    close(getattr(compiled, fn + "_naive")(x), getattr(reference, fn)(x), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_edges_and_leading_axes(dtype, fn, rng):
    """-inf masks, logits of +-1e4, an all -inf row (NaN, as in the twin), 3-D input."""
    x = (3 * rng.standard_normal((4, 9))).astype(dtype)
    x[0, ::2] = -np.inf
    x[1] = 1e4 * np.sign(x[1])
    x[2] = -np.inf
    got, want = getattr(compiled, fn + "_naive")(x), getattr(reference, fn)(x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=tol(dtype)[0], atol=tol(dtype)[1])
    x3 = rng.standard_normal((2, 3, 5)).astype(dtype)
    close(getattr(compiled, fn + "_naive")(x3), getattr(reference, fn)(x3), dtype)


@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (33, 101), (0, 4)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_matches_twin(shape, dtype, rng):
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    t = rng.integers(0, shape[1], shape[0])
    if shape[0] > 2:
        t[1] = -100  # an ignored row
    loss, saved = compiled.cross_entropy_naive(x, t)
    loss_r, saved_r = reference.cross_entropy(x, t)
    if np.isnan(loss_r):
        assert np.isnan(loss)
    else:
        assert loss == pytest.approx(loss_r, rel=tol(dtype)[0])
    close(saved.row_max, saved_r.row_max, dtype)
    close(saved.row_log_sum, saved_r.row_log_sum, dtype)
    close(compiled.cross_entropy_backward_naive(saved, 0.7),
          reference.cross_entropy_backward(saved_r, 0.7), dtype)  # fmt: skip


@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (17, 65), (4, 1031), (0, 8)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_matches_twin(shape, dtype, affine, rng):
    n, c = shape
    x = (2 * rng.standard_normal(shape) + 1).astype(dtype)
    w = rng.standard_normal(c).astype(dtype) if affine else None
    b = rng.standard_normal(c).astype(dtype) if affine else None
    got, want = compiled.layer_norm_naive(x, w, b, 1e-5), reference.layer_norm(x, w, b, 1e-5)
    for name, g, r in zip(("y", "mean", "rstd"), got, want):
        close(g, r, dtype, 5, name)
    _, mean, rstd = want
    dy = rng.standard_normal(shape).astype(dtype)
    got = compiled.layer_norm_backward_naive(x, w, mean, rstd, dy)
    want = reference.layer_norm_backward(x, w, mean, rstd, dy)
    for name, g, r in zip(("dx", "dw", "db"), got, want):
        if r is None:
            assert g is None, name
        else:
            close(g, r, dtype, 20, name)


@pytest.mark.parametrize("n", [0, 1, 7, 1000])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_twin(n, dtype, approximate, rng):
    x = (4 * rng.standard_normal(n)).astype(dtype)
    if n >= 7:
        x[:6] = [-np.inf, np.inf, -40.0, 40.0, 0.0, np.nan]
    dy = rng.standard_normal(n).astype(dtype)
    for got, want in (
        (compiled.gelu_naive(x, approximate), reference.gelu(x, approximate)),
        (
            compiled.gelu_backward_naive(x, dy, approximate),
            reference.gelu_backward(x, dy, approximate),
        ),
    ):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        ok = ~np.isnan(want)
        close(got[ok], want[ok], dtype)
    x2 = x.reshape(1, -1)[:, ::-1]  # 2-D, a reversed view
    close(compiled.gelu_naive(x2, approximate), reference.gelu(x2, approximate), dtype)


OPTIM_CASES = [
    ("adam", dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, step=1)),
    ("adam", dict(lr=3e-3, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1, step=7)),
    ("adamw", dict(lr=3e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, step=3)),
    ("sgd", dict(lr=0.1)),
    ("sgd", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=1e-2, first=True)),
    ("sgd", dict(lr=0.1, momentum=0.9, weight_decay=1e-2, nesterov=True)),
]


@pytest.mark.parametrize("case", range(len(OPTIM_CASES)))
@pytest.mark.parametrize("shape", [(0,), (1,), (13, 7), (1031,)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_optimizer_updates_match_twin(case, shape, dtype, rng):
    """The same operations in the same order as the twin: equal to the last bit or two."""
    name, kw = OPTIM_CASES[case]
    p, g = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    state = [np.abs(rng.standard_normal(shape)).astype(dtype) for _ in range(2)]
    p2, state2 = p.copy(), [s.copy() for s in state]
    if name == "sgd":
        buf = state[0] if kw.get("momentum") else None
        buf2 = state2[0] if kw.get("momentum") else None
        compiled.sgd_update_naive(p, g, buf, **kw)
        reference.sgd_update(p2, g, buf2, **kw)
    else:
        getattr(compiled, f"{name}_update_naive")(p, g, *state, **kw)
        getattr(reference, f"{name}_update")(p2, g, *state2, **kw)
    close(p, p2, dtype, 0.1, "p")
    for s, s2 in zip(state, state2):
        close(s, s2, dtype, 0.1, "state")


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: compiled.softmax_naive(np.ones(3, np.int64)), TypeError, "float"),
        (lambda: compiled.softmax_naive(np.array(1.0)), ValueError, "last axis"),
        (
            lambda: compiled.layer_norm_naive(np.ones((2, 3)), np.ones(4), None, 1e-5),
            ValueError,
            "shape",
        ),
        (
            lambda: compiled.layer_norm_naive(np.ones((2, 3)), np.ones(3, np.float32), None, 1e-5),
            TypeError,
            "dtypes must match",
        ),
        (lambda: compiled.gelu_naive(np.ones(3), "erf"), ValueError, "approximate"),
        (lambda: compiled.gelu_backward_naive(np.ones(3), np.ones(4)), ValueError, "same shape"),
        (
            lambda: compiled.cross_entropy_naive(np.ones((2, 3)), np.array([0, 3])),
            IndexError,
            "outside",
        ),
        (
            lambda: compiled.adam_update_naive(*[np.ones(3)] * 4, 0.1, 0.9, 0.9, 1e-8, 0, 0),
            ValueError,
            "step",
        ),
        (
            lambda: compiled.sgd_update_naive(np.ones(3), np.ones(3), None, 0.1, momentum=0.9),
            ValueError,
            "buf",
        ),
        (
            lambda: compiled.sgd_update_naive(np.ones((3, 2))[:, 0], np.ones(3), None, 0.1),
            ValueError,
            "in place",
        ),
    ],
)
def test_bad_input_raises(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_every_naive_kernel_has_a_twin_to_fall_back_on():
    """If _naive does not load, compiled.X_naive becomes reference.X: it must exist."""
    from tinygrad_edu.kernels.interface import KERNELS

    naive = [k for k, module in KERNELS.items() if module == "_naive"]
    assert len(naive) >= 13
    for name in naive:
        assert name.endswith("_naive") and callable(getattr(compiled, name)), name
        assert callable(getattr(reference, name[: -len("_naive")])), name
