"""Softmax, log-softmax, cross-entropy and GELU: compiled kernels vs their NumPy twins,
vs finite differences, vs PyTorch; the vector exp's accuracy; the edge cases
(-inf masks, logits of +-1e4, empty shapes, ignored rows) and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import needs_compiled

from tinygrad_edu import kernels
from tinygrad_edu.kernels import compiled, reference
from tinygrad_edu.kernels.config import config

SHAPES = [(0, 5), (5, 0), (1, 1), (3, 7), (33, 65), (257, 1031)]
DTYPES = [np.float32, np.float64]
ROW_FNS = ["softmax", "log_softmax"]


def tol(dtype):
    """(rtol, atol) for comparing two implementations of the same formula."""
    return (2e-6, 1e-6) if dtype == np.float32 else (1e-13, 1e-13)


def logits(rng, shape, dtype, scale=3.0):
    return (scale * rng.standard_normal(shape)).astype(dtype)


def ulp_error(got: np.ndarray, exact: np.ndarray, dtype) -> np.ndarray:
    """|got - exact| in units of the spacing of `exact` rounded to dtype."""
    rounded = exact.astype(dtype)
    return np.abs(got.astype(exact.dtype) - exact) / np.spacing(np.abs(rounded)).astype(exact.dtype)


# --- compiled vs twin, every ISA, 1 and 2 threads ---------------------------------------


@needs_compiled
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", ROW_FNS)
def test_forward_matches_twin(isa, nthreads, shape, dtype, fn, rng):
    x = logits(rng, shape, dtype)
    got, want = getattr(compiled, fn)(x), getattr(reference, fn)(x)
    assert got.shape == shape and got.dtype == dtype and got.flags.c_contiguous
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    if fn == "softmax" and shape[1]:
        np.testing.assert_allclose(got.sum(axis=-1), 1.0, rtol=0, atol=5 * rtol)


@needs_compiled
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("log", [False, True])
def test_small_fast_path_is_the_checked_path(isa, dtype, log, rng):
    """compiled.softmax hands small plain arrays to _activations.softmax_small (checks and
    allocation in C); its numbers must be the checked path's, bit for bit, and anything
    unusual must be refused (None) so that the checked path raises or copies."""
    from tinygrad_edu.kernels import _activations

    checked = compiled._softmax_forward
    for shape in [(1,), (64,), (1, 1, 64), (3, 5, 7), (2, 3, 1), (127, 128)]:
        x = logits(rng, shape, dtype)
        fast = _activations.softmax_small(x, log, 1 << 14, config.isa)
        assert fast is not None and fast.shape == shape and fast.dtype == dtype
        np.testing.assert_array_equal(fast, checked(x, log=log))
    x = logits(rng, (4, 6), dtype)
    refused = {
        "too large": logits(rng, (128, 128), dtype),
        "not C-contiguous": x[:, ::2],
        "0-D": x[0, 0].reshape(()),
        "empty": x[:0],
        "byte-swapped": x.astype(x.dtype.newbyteorder()),
        "integers": x.astype(np.int32),
        "float16": x.astype(np.float16),
        "a list": x.tolist(),
        "a subclass": x.view(np.matrix),
    }
    unaligned = np.frombuffer(b"\0" + x.tobytes(), dtype=dtype, offset=1).reshape(x.shape)
    assert not unaligned.flags.aligned
    refused["unaligned"] = unaligned
    for why, bad in refused.items():
        assert _activations.softmax_small(bad, log, 1 << 14, config.isa) is None, why
    np.testing.assert_array_equal(
        getattr(compiled, "log_softmax" if log else "softmax")(unaligned), checked(x, log=log)
    )


@needs_compiled
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", ROW_FNS)
def test_backward_matches_twin(isa, nthreads, shape, dtype, fn, rng):
    y = getattr(reference, fn)(logits(rng, shape, dtype))
    dy = rng.standard_normal(shape).astype(dtype)
    got = getattr(compiled, fn + "_backward")(y, dy)
    want = getattr(reference, fn + "_backward")(y, dy)
    assert got.shape == shape and got.dtype == dtype
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * 4)


@needs_compiled
@pytest.mark.parametrize("shape", [(0, 5), (1, 1), (3, 7), (33, 65), (257, 1031)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_matches_twin(isa, nthreads, shape, dtype, rng):
    x = logits(rng, shape, dtype)
    t = rng.integers(0, shape[1], shape[0])
    t[::4] = -100  # every 4th row is padding
    loss, saved = compiled.cross_entropy(x, t)
    loss_ref, saved_ref = reference.cross_entropy(x, t)
    rtol, atol = tol(dtype)
    if not (t != -100).any():  # no row counts: 0/0
        assert math.isnan(loss) and math.isnan(loss_ref)
    else:
        assert loss == pytest.approx(loss_ref, rel=rtol, abs=atol)
    np.testing.assert_allclose(saved.row_max, saved_ref.row_max, rtol=0, atol=0)
    np.testing.assert_allclose(saved.row_log_sum, saved_ref.row_log_sum, rtol=rtol, atol=atol)
    got = compiled.cross_entropy_backward(saved, 0.7)
    want = reference.cross_entropy_backward(saved_ref, 0.7)
    assert got.shape == shape and got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol / max(1, shape[0]))
    assert not got[::4].any(), "ignored rows must get exactly zero gradient"


@needs_compiled
@pytest.mark.parametrize("shape", [(), (0,), (1,), (7,), (33, 65), (3, 5, 1031)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_twin(isa, nthreads, shape, dtype, approximate, rng):
    x = np.asarray(4 * rng.standard_normal(shape), dtype=dtype)
    dy = np.asarray(rng.standard_normal(shape), dtype=dtype)
    got, want = compiled.gelu(x, approximate), reference.gelu(x, approximate)
    assert got.shape == x.shape and got.dtype == dtype
    rtol, atol = (2e-6, 1e-30) if dtype == np.float32 else (1e-12, 1e-300)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    g, g_ref = (
        compiled.gelu_backward(x, dy, approximate),
        reference.gelu_backward(x, dy, approximate),
    )
    np.testing.assert_allclose(g, g_ref, rtol=rtol, atol=1e-6 if dtype == np.float32 else 1e-14)


@needs_compiled
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_accuracy_sweep(isa, dtype, approximate):
    """A dense sweep of x against the twin (float64, math.erfc): a few ulp wherever
    GELU(x) is a normal number, the sign and the zeros right.

    float32: <= 6 ulp down to |GELU| = 1e-30 (4.5 measured on every ISA); in the last decades
    before underflow the tail Q(|x|) is itself subnormal, and it grows to ~9 ulp.
    float64 (libm erfc): erfc(-x/sqrt2) inherits the rounding of x/sqrt2 magnified by
    2 z^2 -- about x^2 ulp, 1e-13 relative at x = -30 where GELU(x) is 1e-197 -- and the
    twin has the same, so we allow 8 + 8 x^2 ulp there."""
    x = np.linspace(-40, 40, 160_001).astype(dtype)
    got = compiled.gelu(x, approximate)
    exact = reference.gelu(x.astype(np.float64), approximate)
    if dtype == np.float32:
        normal = np.abs(exact) >= np.finfo(dtype).tiny
        limit = np.where(np.abs(exact[normal]) >= 1e-30, 6.0, 12.0)
        step = np.finfo(dtype).smallest_subnormal  # subnormal results: absolutely
        assert np.all(np.abs(got[~normal].astype(np.float64) - exact[~normal]) <= 12 * step)
    else:
        normal = np.isfinite(exact)  # np.spacing is subnormal-aware
        limit = 8.0 + 8.0 * x[normal] ** 2
    err = ulp_error(got[normal], exact[normal], dtype)
    worst = np.argmax(err - limit)
    assert np.all(err <= limit), (
        f"{err[worst]:.1f} ulp at x = {x[normal][worst]} (limit {limit[worst]:.0f})"
    )
    assert np.all(got[x > 10] == x[x > 10]), "GELU(x) = x for large x"
    assert np.all(got[x < -15] == 0) if dtype == np.float32 else np.all(got[x < -39] == 0)


@needs_compiled
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", ROW_FNS)
def test_threads_do_not_change_rows(isa, dtype, fn, rng):
    """Rows are independent and each is computed by one thread: bit-identical results."""
    x = logits(rng, (300, 517), dtype)
    config.num_threads = 1
    one = getattr(compiled, fn)(x)
    config.num_threads = 2
    try:
        two = getattr(compiled, fn)(x)
    finally:
        config.num_threads = 1
    np.testing.assert_array_equal(one, two)


@needs_compiled
@pytest.mark.parametrize("fn", ROW_FNS)
def test_views_and_leading_axes(fn, rng):
    x = logits(rng, (40, 70), np.float64)
    f = getattr(compiled, fn)
    np.testing.assert_allclose(f(x.T), f(np.ascontiguousarray(x.T)), rtol=0, atol=0)
    np.testing.assert_allclose(f(x[::2, ::3]), f(x[::2, ::3].copy()), rtol=0, atol=0)
    x3 = logits(rng, (2, 3, 9), np.float32)  # (..., C): the leading axes are rows
    np.testing.assert_array_equal(f(x3), f(x3.reshape(6, 9)).reshape(2, 3, 9))
    assert f(np.float64([1.0, 2.0, 3.0])).shape == (3,)
    g = compiled.gelu(x.T)
    np.testing.assert_array_equal(g, compiled.gelu(np.ascontiguousarray(x.T)))


# --- edge cases: big logits, masks, empty rows (both backends) -------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_extreme_logits_are_stable(backend, dtype):
    ops = kernels.ops
    x = np.array(
        [[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4], [1e4, 1e4 - 1.0, -1e4], [3e4, -3e4, 0.0]],
        dtype=dtype,
    )
    p = ops.softmax(x)
    assert np.all(np.isfinite(p))
    np.testing.assert_array_equal(p[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(p[1], [1 / 3] * 3, rtol=1e-6)
    e = math.exp(-1.0)
    np.testing.assert_allclose(p[2], [1 / (1 + e), e / (1 + e), 0.0], rtol=1e-6, atol=0)
    lp = ops.log_softmax(x)
    np.testing.assert_allclose(lp[0], [0.0, -1e4, -2e4], rtol=1e-6, atol=0)
    np.testing.assert_allclose(lp[3], [0.0, -6e4, -3e4], rtol=1e-6, atol=0)
    loss, saved = ops.cross_entropy(x, np.array([1, 2, 0, 1]))
    # -log p_t for rows 0..3: 1e4, log 3, log(1 + e^-1), 6e4
    want = (1e4 + math.log(3) + math.log1p(e) + 6e4) / 4
    assert loss == pytest.approx(want, rel=1e-6)
    d = ops.cross_entropy_backward(saved, 1.0)
    assert np.all(np.isfinite(d))
    np.testing.assert_allclose(d[0], [0.25, -0.25, 0.0], atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
def test_minus_inf_masks(backend, dtype, rng):
    ops = kernels.ops
    n = 37
    x = logits(rng, (n, n), dtype)
    masked = np.triu(np.ones((n, n), dtype=bool), k=1)  # a causal mask
    x[masked] = -np.inf
    p = ops.softmax(x)
    assert np.all(p[masked] == 0.0), "masked positions must get exactly 0"
    for r in (0, 5, n - 1):  # the rest is the softmax of the unmasked logits alone
        keep = ~masked[r]
        np.testing.assert_allclose(p[r, keep], reference.softmax(x[r, keep]), rtol=2e-6)
    lp = ops.log_softmax(x)
    assert np.all(lp[masked] == -np.inf) and np.all(np.isfinite(lp[~masked]))
    # backward: no gradient flows into a masked logit, and nothing is NaN
    # backward: no gradient reaches a masked logit through softmax; through log-softmax
    # y_i = x_i - logsumexp(x), so dy_i/dx_i = 1 - p_i = 1 there (as in PyTorch)
    dy = rng.standard_normal((n, n)).astype(dtype)
    dx = ops.softmax_backward(ops.softmax(x), dy)
    assert np.all(dx[masked] == 0.0) and np.all(np.isfinite(dx))
    dx = ops.log_softmax_backward(ops.log_softmax(x), dy)
    assert np.all(dx[masked] == dy[masked]) and np.all(np.isfinite(dx))
    loss, saved = ops.cross_entropy(x, np.zeros(n, dtype=np.int64))
    d = ops.cross_entropy_backward(saved, 1.0)
    assert np.isfinite(loss) and np.all(d[masked] == 0.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_all_minus_inf_row_gives_nan_like_torch(backend, dtype):
    ops = kernels.ops
    x = np.array([[-np.inf] * 5, [0.0, 1.0, 2.0, -np.inf, 4.0]], dtype=dtype)
    p = ops.softmax(x)
    assert np.all(np.isnan(p[0])) and np.all(np.isfinite(p[1]))
    lp = ops.log_softmax(x)
    assert np.all(np.isnan(lp[0])) and np.isfinite(lp[1, 0])
    loss, _ = ops.cross_entropy(x, np.array([1, 2]))
    assert math.isnan(loss)
    loss, _ = ops.cross_entropy(x, np.array([-100, 2]))  # ignoring that row rescues the loss
    assert math.isfinite(loss)


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_logit_poisons_only_its_row(backend, dtype):
    x = np.array([[0.0, np.nan, 1.0], [0.0, 1.0, 2.0]], dtype=dtype)
    p = kernels.ops.softmax(x)
    assert np.all(np.isnan(p[0])) and np.all(np.isfinite(p[1]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_shapes(backend, dtype):
    ops = kernels.ops
    for shape in [(0, 5), (5, 0), (0, 0)]:
        x = np.zeros(shape, dtype=dtype)
        for fn in ROW_FNS:
            y = getattr(ops, fn)(x)
            assert y.shape == shape and y.dtype == dtype
            assert getattr(ops, fn + "_backward")(y, x).shape == shape
    loss, saved = ops.cross_entropy(np.zeros((0, 4), dtype=dtype), np.zeros(0, dtype=np.int64))
    assert math.isnan(loss)
    assert ops.cross_entropy_backward(saved, 1.0).shape == (0, 4)
    # C = 0 works only if every row is ignored (no class could be the target)
    loss, saved = ops.cross_entropy(np.zeros((3, 0), dtype=dtype), np.full(3, -100))
    assert math.isnan(loss) and ops.cross_entropy_backward(saved, 1.0).shape == (3, 0)
    for approximate in ("none", "tanh"):
        assert ops.gelu(np.zeros((0, 3), dtype=dtype), approximate).shape == (0, 3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gelu_special_values(backend, dtype):
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30, 50.0, -50.0], dtype=dtype)
    for approximate in ("none", "tanh"):
        y = kernels.ops.gelu(x, approximate)
        assert y[0] == 0 and y[1] == 0
        assert y[2] == np.inf and np.isnan(y[3]) and np.isnan(y[4])  # -inf * Phi(-inf) = -inf * 0
        assert y[5] == dtype(1e30) and y[6] == 0 and y[7] == 50 and y[8] == 0
        g = kernels.ops.gelu_backward(x, np.ones_like(x), approximate)
        assert g[0] == 0.5 and g[5] == 1 and g[6] == 0 and g[7] == 1 and g[8] == 0


# --- the vector exp itself ----------------------------------------------------------------


def _exp_inputs(dtype, rng):
    if dtype == np.float32:
        sweep = np.linspace(-110, 95, 400_001, dtype=np.float32)
        edges = [-103.972, -103.973, -104.0, -87.3365, -87.3366, -86.5, 88.7228, 88.72284, 88.7229]
    else:
        sweep = np.linspace(-760, 720, 400_001)
        edges = [-745.1332191019411, -745.14, -708.3964, -707.0, 709.782712893384, 709.7828]
    random = rng.uniform(-1, 1, 100_000) * rng.choice([1e-30, 1e-3, 1, 30, 700], 100_000)
    special = [0.0, -0.0, 1e-40, -1e-40, np.inf, -np.inf, np.nan]
    return np.concatenate([sweep, random.astype(dtype), np.array(edges + special, dtype=dtype)])


@needs_compiled
@pytest.mark.parametrize("dtype", DTYPES)
def test_vector_exp_accuracy(isa, dtype, rng):
    from tinygrad_edu.kernels import _activations

    if dtype == np.float64 and np.finfo(np.longdouble).nmant <= 52:
        pytest.skip("needs an extended-precision long double for the float64 reference")
    x = _exp_inputs(dtype, rng)
    got = np.empty_like(x)
    f = _activations.vexp_f32 if dtype == np.float32 else _activations.vexp_f64
    f(x, got, config.isa, 1)
    wide = np.float64 if dtype == np.float32 else np.longdouble
    with np.errstate(over="ignore"):
        exact = np.exp(x.astype(wide))
        rounded = exact.astype(dtype)
    # NaN in, NaN out; -inf and deep negatives exactly 0; overflow exactly inf
    np.testing.assert_array_equal(np.isnan(got), np.isnan(x))
    ok = ~np.isnan(x)
    zero_or_inf = (rounded == 0) | np.isinf(rounded)
    np.testing.assert_array_equal(got[ok & zero_or_inf], rounded[ok & zero_or_inf])
    normal = ok & ~zero_or_inf & (rounded >= np.finfo(dtype).tiny)
    err = ulp_error(got[normal], exact[normal], dtype)
    worst = x[normal][np.argmax(err)]
    limit = 2.0  # a faithful exp is within 1 ulp; ours is 1.06 with FMA, 1.36 without
    assert err.max() <= limit, f"{isa}: max error {float(err.max()):.3f} ulp at x = {worst!r}"
    subnormal = ok & ~zero_or_inf & ~normal  # computed, not flushed to zero
    step = np.finfo(dtype).smallest_subnormal
    sub_err = np.abs(got[subnormal].astype(wide) - exact[subnormal]) / step
    assert subnormal.sum() > 100 and sub_err.max() <= 1.0, f"subnormal error {sub_err.max()}"
    assert got[x == 0].tolist() == [1.0] * int((x == 0).sum()), "e^0 must be exactly 1"


@needs_compiled
@pytest.mark.parametrize("dtype", DTYPES)
def test_vector_exp_avx512_is_bitwise_avx2(dtype, rng):
    """AVX-512 scales by 2^n with one vscalefps; AVX2 builds 2^(n-1) from exponent bits
    and takes a careful path for subnormal results. tg_exp.h says both round p * 2^(n-1)
    once, so they must agree bit for bit, edges, subnormals, infinities and NaN included."""
    from tinygrad_edu.kernels import _activations

    if config.best_isa < 2:
        pytest.skip("this CPU has no AVX-512")
    x = _exp_inputs(dtype, rng)
    f = _activations.vexp_f32 if dtype == np.float32 else _activations.vexp_f64
    by_isa = {}
    for isa in (1, 2):
        by_isa[isa] = np.empty_like(x)
        f(x, by_isa[isa], isa, 1)
    assert np.isfinite(by_isa[2]).sum() > 0.9 * x.size  # the sweep is mostly finite
    np.testing.assert_array_equal(by_isa[2].view(np.uint8), by_isa[1].view(np.uint8))


# --- gradients: finite differences (float64), reference AND compiled ------------------


def _backends():
    return [reference] + ([compiled] if compiled is not None else [])


def _numeric_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        up = f(x)
        x[idx] = old - h
        down = f(x)
        x[idx] = old
        g[idx] = (up - down) / (2 * h)
    return g


@pytest.mark.parametrize("ops", _backends(), ids=lambda m: m.NAME)
@pytest.mark.parametrize("fn", ROW_FNS)
def test_row_gradients_vs_finite_differences(ops, fn, rng):
    x = rng.standard_normal((4, 9))
    x[1, 3] = -np.inf  # a masked logit: gradient exactly 0, not NaN
    w = rng.standard_normal((4, 9))
    f = getattr(ops, fn)

    def loss(z):
        y = f(z)
        return float(np.sum(np.where(np.isfinite(y), w * y, 0.0)))

    y = f(x)
    analytic = getattr(ops, fn + "_backward")(y, np.where(np.isfinite(y), w, 0.0))
    finite = np.isfinite(x)
    numeric = _numeric_grad(loss, x.copy())
    np.testing.assert_allclose(analytic[finite], numeric[finite], rtol=1e-6, atol=1e-8)
    assert analytic[1, 3] == 0.0


@pytest.mark.parametrize("ops", _backends(), ids=lambda m: m.NAME)
@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_cross_entropy_gradient_vs_finite_differences(ops, ignore_index, rng):
    x = 2 * rng.standard_normal((6, 5))
    t = np.array([0, 2, 4, ignore_index, 1, 2])
    g = 1.7
    loss, saved = ops.cross_entropy(x, t, ignore_index)
    analytic = ops.cross_entropy_backward(saved, g)
    numeric = _numeric_grad(lambda z: g * ops.cross_entropy(z, t, ignore_index)[0], x.copy())
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)
    assert not analytic[t == ignore_index].any()


@pytest.mark.parametrize("ops", _backends(), ids=lambda m: m.NAME)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_gradient_vs_finite_differences(ops, approximate, rng):
    x = np.concatenate([3 * rng.standard_normal(40), [0.0, -0.7518, -5.0, 5.0, -12.0]])
    w = rng.standard_normal(x.shape)
    analytic = ops.gelu_backward(x, w, approximate)
    numeric = _numeric_grad(lambda z: float(np.sum(w * ops.gelu(z, approximate))), x.copy())
    # the numeric derivative of a sum of ~10 carries ~1e-16 * 10 / h = 1e-9 of noise
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


# --- properties (hypothesis) ----------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

_finite_logits = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40),
    elements=st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False),
)


@needs_compiled
@settings(max_examples=60, deadline=None)
@given(x=_finite_logits, shift=st.floats(-1e3, 1e3), use_f32=st.booleans())
def test_softmax_properties(x, shift, use_f32):
    dtype = np.float32 if use_f32 else np.float64
    x = x.astype(dtype)
    p = compiled.softmax(x)
    rtol = 1e-5 if use_f32 else 1e-12
    assert np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=0, atol=x.shape[1] * rtol)
    # the largest logit keeps the largest probability
    assert np.all(p[np.arange(len(x)), x.argmax(axis=-1)] == p.max(axis=-1))
    # compiled == twin on arbitrary inputs
    np.testing.assert_allclose(p, reference.softmax(x), rtol=10 * rtol, atol=10 * rtol * 1e-3)
    lp = compiled.log_softmax(x)
    np.testing.assert_allclose(lp, reference.log_softmax(x), rtol=10 * rtol, atol=rtol * 1e-2 * 1e4)
    # shifting a row by a constant changes nothing (float64: exact up to rounding of x + c)
    if not use_f32:
        np.testing.assert_allclose(compiled.softmax(x + shift), p, rtol=1e-9, atol=1e-12)


@needs_compiled
@settings(max_examples=60, deadline=None)
@given(
    x=hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=1, max_dims=3, max_side=20),
        elements=st.floats(-100, 100, width=32),
    ),
    approximate=st.sampled_from(["none", "tanh"]),
)
def test_gelu_properties(x, approximate):
    y = compiled.gelu(x, approximate)
    np.testing.assert_allclose(y, reference.gelu(x, approximate), rtol=2e-6, atol=1e-30)
    # x * Phi(x) with 0 <= Phi <= 1: between min(x, 0) and max(x, 0)
    assert np.all((y <= np.maximum(x, 0)) & (y >= np.minimum(x, 0)))


# --- PyTorch --------------------------------------------------------------------------


def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", ROW_FNS)
def test_values_and_gradients_vs_torch(backend, dtype, fn, rng):
    torch = _torch()
    ops = kernels.ops
    x = logits(rng, (33, 65), dtype)
    x[3, :20] = -np.inf
    dy = rng.standard_normal(x.shape).astype(dtype)
    xt = torch.tensor(x, requires_grad=True)
    yt = getattr(torch, fn)(xt, dim=-1)
    yt.backward(torch.tensor(dy))
    y = getattr(ops, fn)(x)
    dx = getattr(ops, fn + "_backward")(y, dy)
    rtol, atol = (2e-6, 1e-6) if dtype == np.float32 else (1e-12, 1e-12)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=rtol, atol=4 * atol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ignore_index", [-100, 0, 3, -1])
def test_cross_entropy_vs_torch(backend, dtype, ignore_index, rng):
    torch = _torch()
    F = torch.nn.functional
    ops = kernels.ops
    x = logits(rng, (50, 7), dtype)
    t = rng.integers(0, 7, 50)
    t[rng.random(50) < 0.3] = ignore_index
    for targets in (t, np.full(50, ignore_index)):  # some rows ignored; all ignored
        xt = torch.tensor(x, requires_grad=True)
        lt = F.cross_entropy(xt, torch.tensor(targets), ignore_index=ignore_index)
        lt.backward(torch.tensor(2.5, dtype=xt.dtype))
        loss, saved = ops.cross_entropy(x, targets, ignore_index)
        d = ops.cross_entropy_backward(saved, 2.5)
        if math.isnan(lt.item()):
            assert math.isnan(loss)  # 0/0, like torch
        else:
            assert loss == pytest.approx(lt.item(), rel=1e-6 if dtype == np.float32 else 1e-12)
        rtol, atol = (2e-6, 1e-7) if dtype == np.float32 else (1e-12, 1e-14)
        np.testing.assert_allclose(d, xt.grad.numpy(), rtol=rtol, atol=atol)


def test_cross_entropy_extreme_logits_vs_torch(backend):
    torch = _torch()
    x = np.array([[1e4, 0, -1e4, -np.inf], [5, 5, 5, 5], [-np.inf, 1, 2, 3]], dtype=np.float32)
    t = np.array([1, 3, 0])  # row 2 targets a masked logit: infinite loss, as in torch
    xt = torch.tensor(x, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(xt, torch.tensor(t))
    lt.backward()
    loss, saved = kernels.ops.cross_entropy(x, t)
    assert loss == lt.item() == np.inf
    np.testing.assert_allclose(
        kernels.ops.cross_entropy_backward(saved, 1.0), xt.grad.numpy(), rtol=2e-6, atol=1e-7
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_vs_torch(backend, dtype, approximate, rng):
    torch = _torch()
    x = (3 * rng.standard_normal((17, 33))).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    y, dx = kernels.ops.gelu(x, approximate), kernels.ops.gelu_backward(x, dy, approximate)
    # Against torch in float64: the true values, tightly -- except that torch also
    # computes 1 + erf(x/sqrt2) (or 1 + tanh u) there: ~1e-16 |x| absolute off for x << 0.
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    yt = torch.nn.functional.gelu(xt, approximate=approximate)
    yt.backward(torch.tensor(dy, dtype=torch.float64))
    rtol, atol = (2e-6, 4e-15) if dtype == np.float32 else (1e-12, 4e-15)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(
        dx, xt.grad.numpy(), rtol=rtol, atol=1e-7 if dtype == np.float32 else 1e-14
    )
    if dtype == np.float32:
        # Against torch in float32: its GELU computes 1 + erf(x/sqrt2), which cancels for
        # x << 0 (an absolute error of ~1e-6 near x = -3.5), so only absolutely.
        xt = torch.tensor(x, requires_grad=True)
        yt = torch.nn.functional.gelu(xt, approximate=approximate)
        yt.backward(torch.tensor(dy))
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-6, atol=2e-6)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-6, atol=4e-6)


# --- bad input raises, naming what was wrong -----------------------------------------


def test_bad_inputs_raise_python_errors(backend):
    ops = kernels.ops
    x = np.zeros((4, 3), dtype=np.float32)
    with pytest.raises(IndexError, match=r"target 3 is outside \[0, 3\)"):
        ops.cross_entropy(x, np.array([0, 1, 3, 2]))
    with pytest.raises(IndexError, match="target -1 is outside"):
        ops.cross_entropy(x, np.array([0, -1, 2, 2]))
    with pytest.raises(IndexError, match="target -100 is outside"):
        ops.cross_entropy(x, np.array([0, -100, 2, 2]), ignore_index=-1)
    with pytest.raises(TypeError, match="integers"):
        ops.cross_entropy(x, np.array([0.0, 1.0, 2.0, 0.0]))
    with pytest.raises(TypeError, match="integers"):
        ops.cross_entropy(x, np.array([True, False, True, True]))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        ops.cross_entropy(x, [0, 1, 2, 0])
    with pytest.raises(TypeError, match="ignore_index"):
        ops.cross_entropy(x, np.array([0, 1, 2, 0]), ignore_index=1.5)
    with pytest.raises(ValueError, match=r"\(4,\).*\(4, 3\).*\(3,\)"):
        ops.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"2-D.*\(12,\)"):
        ops.cross_entropy(x.reshape(-1), np.zeros(12, dtype=np.int64))
    with pytest.raises(TypeError, match="float32 or float64"):
        ops.cross_entropy(x.astype(np.int32), np.array([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="approximate"):
        ops.gelu(x, "erf")
    with pytest.raises(ValueError, match="approximate"):
        ops.gelu_backward(x, x, approximate="sigmoid")


@needs_compiled
def test_compiled_bad_inputs_raise_python_errors():
    x = np.zeros((4, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=r"\(4, 3\) and \(3, 4\)"):
        compiled.softmax_backward(x, x.T)
    with pytest.raises(ValueError, match=r"\(4, 3\) and \(4, 2\)"):
        compiled.gelu_backward(x, x[:, :2])
    with pytest.raises(TypeError, match="dtypes must match"):
        compiled.log_softmax_backward(x, x.astype(np.float64))
    with pytest.raises(TypeError, match="float32 or float64"):
        compiled.softmax(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        compiled.softmax([[1.0, 2.0]])
    with pytest.raises(ValueError, match="last axis"):
        compiled.softmax(np.array(1.0, dtype=np.float32))
    _, saved = compiled.cross_entropy(x, np.array([0, 1, 2, 0]))
    with pytest.raises(ValueError, match=r"row_max must have shape \(4,\)"):
        compiled.cross_entropy_backward(saved._replace(row_max=saved.row_max[:2]), 1.0)
    with pytest.raises(IndexError, match="target 7"):
        compiled.cross_entropy_backward(saved._replace(targets=np.array([0, 7, 0, 0])), 1.0)
    with pytest.raises(TypeError, match="grad_loss"):
        compiled.cross_entropy_backward(saved, "1.0")
