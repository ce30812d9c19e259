"""The matrix multiply (gemm, matmul) against its NumPy twin, on every ISA and thread count.

The shapes are chosen to land on and around every block edge of the kernel: the
register tile MR x NR (8 x 32 floats for AVX-512), the cache blocks MC and KC, the
column panel, and the thread split (dynamic rows, or columns when M is short).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import needs_compiled, supported_isas

from tinygrad_edu.kernels import compiled, reference
from tinygrad_edu.kernels.config import config

pytestmark = needs_compiled

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

EPS = {np.float32: 1.2e-7, np.float64: 2.3e-16}


def assert_gemm_close(got, want, k, dtype, msg=""):
    """Summation order differs (blocks of KC, FMA), so the error may grow with K:
    each entry is a sum of K products of O(1) numbers."""
    tol = 8 * EPS[dtype] * (k + 4)
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale, err_msg=msg)


def operands(rng, m, k, n, dtype):
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    return a, b


# (M, K, N): empty, tiny, odd, prime, and both sides of MR (4/6/8), NR (8/16/32),
# MC (192), KC (256); short-and-wide products take the column split with 2 threads.
SHAPES = [
    (0, 5, 3), (5, 0, 3), (5, 3, 0), (0, 0, 0), (1, 1, 1), (1, 7, 1), (3, 1, 5),
    (7, 13, 5), (8, 32, 32), (9, 33, 31), (6, 16, 16), (5, 17, 15), (17, 31, 97),
    (61, 67, 71), (191, 255, 33), (193, 257, 65), (192, 256, 64), (100, 513, 47),
    (20, 300, 500), (8, 1000, 300), (300, 300, 100),
]  # fmt: skip


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_matches_twin(isa, nthreads, shape, dtype, rng):
    m, k, n = shape
    a, b = operands(rng, m, k, n, dtype)
    got = compiled.gemm(a, b)
    assert got.shape == (m, n) and got.dtype == dtype
    assert_gemm_close(got, reference.gemm(a, b), k, dtype)


# Generation's path (gemm_impl.h, section 6): M <= 4 rows times a weight read transposed,
# x @ W.T with W (N, K) row-major. K around the vector widths (tails) and the 4-vector
# unroll; N*K past the per-thread threshold (256 KB) so that 2 threads split the rows of W.
GEMV_SHAPES = [(1, 1, 1), (1, 3, 5), (2, 15, 7), (3, 16, 9), (4, 17, 33), (1, 63, 64),
               (4, 129, 100), (1, 768, 2304), (3, 1000, 300), (5, 64, 64)]  # fmt: skip


@pytest.mark.parametrize("shape", GEMV_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_few_rows_times_transposed_weight(isa, nthreads, shape, dtype, rng):
    m, k, n = shape
    x = rng.standard_normal((m, k)).astype(dtype)
    w = rng.standard_normal((n, k)).astype(dtype)
    assert_gemm_close(compiled.gemm(x, w.T), reference.gemm(x, w.T), k, dtype)
    # rows of W apart by more than K (a slice of a wider matrix), rows of x likewise
    wide_w = rng.standard_normal((n, k + 5)).astype(dtype)
    wide_x = rng.standard_normal((m, k + 3)).astype(dtype)
    w2, x2 = wide_w[:, 2 : 2 + k], wide_x[:, 1 : 1 + k]
    assert_gemm_close(compiled.gemm(x2, w2.T), reference.gemm(x2, w2.T), k, dtype)
    # accumulate adds to out; without it, out's old values (NaN) are overwritten
    out = rng.standard_normal((m, n)).astype(dtype)
    want = out + reference.gemm(x, w.T)
    compiled.gemm(x, w.T, out=out, accumulate=True)
    assert_gemm_close(out, want, k, dtype)
    out[...] = np.nan
    compiled.gemm(x, w.T, out=out)
    assert_gemm_close(out, reference.gemm(x, w.T), k, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_accumulate(isa, nthreads, dtype, rng):
    for m, k, n in [(1, 1, 1), (9, 33, 31), (193, 300, 70), (5, 0, 4)]:
        a, b = operands(rng, m, k, n, dtype)
        out = rng.standard_normal((m, n)).astype(dtype)
        want = out + reference.gemm(a, b)
        assert compiled.gemm(a, b, out=out, accumulate=True) is out
        assert_gemm_close(out, want, k, dtype)
        # accumulate=False overwrites whatever out held (NaN included)
        out[...] = np.nan
        compiled.gemm(a, b, out=out)
        assert_gemm_close(out, reference.gemm(a, b), k, dtype)


def test_gemm_column_panels(isa, nthreads, rng):
    """K x N large enough that the B panel (all of K) is cut into several column panels,
    and that two threads share one packed panel (splitting rows, or columns)."""
    cases = [(np.float32, (20, 4096, 530)), (np.float64, (70, 4100, 300)),
             (np.float32, (100, 2100, 1100))]  # fmt: skip
    for dtype, (m, k, n) in cases:
        a, b = operands(rng, m, k, n, dtype)
        assert_gemm_close(compiled.gemm(a, b), reference.gemm(a, b), k, dtype)


def views(x):
    """Views of the same 2-D array that are not C-contiguous."""
    yield "transposed", np.ascontiguousarray(x.T).T  # column-major
    yield "reversed", x[::-1, ::-1].copy()[::-1, ::-1]  # negative strides
    yield "flipped rows", x[::-1].copy()[::-1]
    yield "sliced", np.repeat(np.repeat(x, 2, axis=0), 3, axis=1)[::2, 1::3]
    yield "fortran slice", np.asfortranarray(np.pad(x, 2))[2:-2, 2:-2]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_strided_views(isa, nthreads, dtype, rng):
    for m, k, n in [(1, 1, 1), (9, 33, 31), (70, 260, 45), (200, 40, 100)]:
        a, b = operands(rng, m, k, n, dtype)
        want = reference.gemm(a, b)
        for (na, va), (nb, vb) in itertools.product(views(a), list(views(b))):
            assert np.array_equal(va, a) and np.array_equal(vb, b)
            assert_gemm_close(compiled.gemm(va, vb), want, k, dtype, f"{na} @ {nb}")
        # x @ W.T, dy.T @ x: the transposes of the Linear layer's backward
        assert_gemm_close(compiled.gemm(a, np.ascontiguousarray(b.T).T), want, k, dtype)
        assert_gemm_close(compiled.gemm(np.ascontiguousarray(a.T).T, b), want, k, dtype)


def test_gemm_broadcast_and_odd_strides(isa, rng):
    a = rng.standard_normal((13, 7)).astype(np.float32)
    row = rng.standard_normal(9).astype(np.float32)
    b = np.broadcast_to(row, (7, 9))  # a zero row stride, read-only
    assert_gemm_close(compiled.gemm(a, b), a @ b, 7, np.float32)
    # strides that are not a whole number of floats: copied before the kernel
    raw = np.zeros(13 * 30 + 8, dtype=np.uint8)
    odd = np.ndarray((13, 7), dtype=np.float32, buffer=raw, offset=2, strides=(30, 4))
    odd[...] = a
    assert_gemm_close(compiled.gemm(odd, b), a @ b, 7, np.float32)
    # whole-element strides but a misaligned address: copied too
    shifted = np.ndarray((13, 7), dtype=np.float32, buffer=raw, offset=2, strides=(28, 4))
    shifted[...] = a
    assert not shifted.flags.aligned
    assert_gemm_close(compiled.gemm(shifted, b), a @ b, 7, np.float32)
    batch = np.ndarray((2, 13, 7), dtype=np.float32, buffer=np.zeros(1000, np.uint8), offset=1,
                       strides=(13 * 28, 28, 4))  # fmt: skip
    batch[...] = a
    assert_gemm_close(compiled.matmul(batch, b), np.matmul(batch, b), 7, np.float32)


def test_gemm_out_overlapping_input(isa, rng):
    a = rng.standard_normal((40, 40))
    b = rng.standard_normal((40, 40))
    want = a @ b
    compiled.gemm(a, b, out=a)  # out is a: a is copied first
    np.testing.assert_allclose(a, want, rtol=1e-12, atol=1e-12)


# --- matmul: NumPy's semantics ---------------------------------------------------------

MATMUL_SHAPES = [
    ((5,), (5,)), ((4,), (4, 3)), ((3, 4), (4,)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3)),
    ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 6)),
    ((6, 7, 9, 8), (6, 7, 8, 9)), ((0, 3, 4), (4, 5)), ((2, 0, 4), (4, 5)),
    ((2, 3, 0), (0, 5)), ((1, 1), (1, 1)), ((3, 65, 70), (3, 70, 33)), ((5, 200, 64), (64, 300)),
    ((12, 64, 16), (12, 16, 64)), ((3, 300, 300), (3, 300, 300)),
]  # fmt: skip


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_matches_numpy(isa, nthreads, shapes, dtype, rng):
    a = rng.standard_normal(shapes[0]).astype(dtype)
    b = rng.standard_normal(shapes[1]).astype(dtype)
    want = reference.matmul(a, b)
    got = compiled.matmul(a, b)
    assert np.shape(got) == np.shape(want) and got.dtype == want.dtype
    assert_gemm_close(got, want, shapes[0][-1], dtype)


def test_matmul_strided_batches(isa, nthreads, rng):
    x = rng.standard_normal((4, 6, 10, 8)).astype(np.float32)  # (B, n_head, T, hs)
    q, k = x, x[..., ::-1, :]
    att = compiled.matmul(q, k.swapaxes(-1, -2))  # (B, n_head, T, T)
    assert_gemm_close(att, np.matmul(q, k.swapaxes(-1, -2)), 8, np.float32)
    w = rng.standard_normal((8, 10)).astype(np.float32)
    y = x[::-1, ::2]  # reversed and strided batch dims
    assert_gemm_close(compiled.matmul(y, w), np.matmul(y, w), 8, np.float32)
    assert_gemm_close(compiled.matmul(w.T, y.swapaxes(-1, -2)),
                      np.matmul(w.T, y.swapaxes(-1, -2)), 8, np.float32)  # fmt: skip


@pytest.mark.parametrize("m", [1, 2, 4, 5])  # section 6 takes up to GEMV_MAX_M = 4 rows
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_few_rows_both_layouts(isa, nthreads, m, dtype, rng):
    """csrc/gemm_impl.h section 6: B read by columns (x @ W.T, W stored (N, K)) and by
    rows (p @ V, V stored (K, N)); 2-D, accumulating, and batched one product per head."""
    for k, n in [(32, 200), (77, 33), (768, 1100), (1, 17), (300, 1), (5, 3)]:
        a = rng.standard_normal((m, k)).astype(dtype)
        w = rng.standard_normal((n, k)).astype(dtype)
        v = rng.standard_normal((k, n)).astype(dtype)
        for name, b in (("x @ W.T", w.T), ("p @ V", v)):
            want = a.astype(np.float64) @ b.astype(np.float64)
            assert_gemm_close(compiled.gemm(a, b), want, k, dtype, f"{name} {m, k, n}")
            out = np.ones((m, n), dtype)
            compiled.gemm(a, b, out=out, accumulate=True)
            assert_gemm_close(out, want + 1, k, dtype, f"{name} += {m, k, n}")
        q = rng.standard_normal((2, 3, m, k)).astype(dtype)  # (B, n_head, rows, hs)
        keys = rng.standard_normal((2, 3, n, k)).astype(dtype)
        vals = rng.standard_normal((2, 3, k, n)).astype(dtype)
        for name, b in (("q @ k^T", keys.swapaxes(-1, -2)), ("p @ v", vals)):
            want = q.astype(np.float64) @ b.astype(np.float64)
            assert_gemm_close(compiled.matmul(q, b), want, k, dtype, f"{name} {m, k, n}")


def test_tiny_batched_matmul_is_numpys(monkeypatch, rng):
    """Below _MATMUL_SMALL_FLOPS compiled.matmul hands a batch to NumPy: the twin's numbers."""
    monkeypatch.setattr(compiled, "_MATMUL_SMALL_FLOPS", 1 << 18)
    q = rng.standard_normal((1, 4, 1, 32)).astype(np.float32)
    k = rng.standard_normal((1, 4, 200, 32)).astype(np.float32)
    np.testing.assert_array_equal(compiled.matmul(q, k.swapaxes(-1, -2)),
                                  reference.matmul(q, k.swapaxes(-1, -2)))  # fmt: skip


def test_matmul_errors():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        compiled.matmul(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"\(2, 3, 4\).*\(3, 4, 5\)"):
        compiled.matmul(np.ones((2, 3, 4)), np.ones((3, 4, 5)))
    with pytest.raises(ValueError):
        compiled.matmul(np.ones(()), np.ones(3))
    with pytest.raises(TypeError, match="dtypes must match"):
        compiled.matmul(np.ones((2, 2), np.float32), np.ones((2, 2)))
    with pytest.raises(TypeError, match="float32 or float64"):
        compiled.matmul(np.ones((2, 2), np.int64), np.ones((2, 2), np.int64))


# --- random shapes and views (hypothesis) -----------------------------------------------


@st.composite
def strided(draw, rows, cols, dtype):
    """A (rows, cols) array drawn as a view: maybe transposed, stepped, reversed."""
    step_r, step_c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    transpose = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    shape = (cols * step_c, rows * step_r) if transpose else (rows * step_r, cols * step_c)
    base = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    x = base.T if transpose else base
    x = x[::step_r, ::step_c]
    if draw(st.booleans()):
        x = x[::-1]
    if draw(st.booleans()):
        x = x[:, ::-1]
    assert x.shape == (rows, cols)
    return x


@st.composite
def gemm_case(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    m, k, n = (draw(st.integers(0, 70)) for _ in range(3))
    return draw(strided(m, k, dtype)), draw(strided(k, n, dtype)), dtype


@needs_compiled
@settings(max_examples=150, deadline=None)
@given(case=gemm_case(), isa=st.sampled_from(supported_isas() or ["base"]),
       nthreads=st.sampled_from([1, 2]), accumulate=st.booleans())  # fmt: skip
def test_gemm_property(case, isa, nthreads, accumulate):
    a, b, dtype = case
    old = config.isa, config.num_threads
    try:
        config.set_isa(isa)
        config.num_threads = nthreads
        out = np.full((a.shape[0], b.shape[1]), 0.5, dtype=dtype)
        want = reference.gemm(a, b, out.copy(), accumulate)
        got = compiled.gemm(a, b, out, accumulate)
    finally:
        config.isa, config.num_threads = old
    assert_gemm_close(got, want, a.shape[1], dtype)


@needs_compiled
@settings(max_examples=60, deadline=None)
@given(batch_a=st.lists(st.integers(1, 3), max_size=2), batch_b=st.lists(st.integers(1, 3), max_size=2),
       m=st.integers(0, 20), k=st.integers(0, 20), n=st.integers(0, 20),
       one_d=st.sampled_from(["", "a", "b"]), nthreads=st.sampled_from([1, 2]))  # fmt: skip
def test_matmul_property(batch_a, batch_b, m, k, n, one_d, nthreads):
    rng = np.random.default_rng(m * 441 + k * 21 + n)
    # make the batch dims broadcastable: where they differ, one of them becomes 1
    la, lb = len(batch_a), len(batch_b)
    for i in range(1, min(la, lb) + 1):
        if batch_a[-i] != batch_b[-i]:
            batch_b[-i] = 1
    a = rng.standard_normal((k,) if one_d == "a" else (*batch_a, m, k)).astype(np.float32)
    b = rng.standard_normal((k,) if one_d == "b" else (*batch_b, k, n)).astype(np.float32)
    old = config.num_threads
    try:
        config.num_threads = nthreads
        got = compiled.matmul(a, b)
    finally:
        config.num_threads = old
    want = np.matmul(a, b)
    assert np.shape(got) == np.shape(want)
    assert_gemm_close(got, want, k, np.float32)


# --- the ladder's other rungs, and the lesson helpers ---------------------------------------


def test_naive_rungs(rng):
    a, b = operands(rng, 9, 13, 7, np.float32)
    assert_gemm_close(compiled.gemm_naive(a, b), a @ b, 13, np.float32)
    assert_gemm_close(compiled.gemm_naive(a.T.copy().T, b[::-1][::-1]), a @ b, 13, np.float32)
    assert compiled.gemm_naive(a[:, :0], b[:0]).shape == (9, 7)
    np.testing.assert_allclose(reference.matmul_naive(a, b), a @ b, rtol=1e-5, atol=1e-5)
    lists = reference.matmul_naive([[1.0, 2.0], [3.0, 4.0]], [[5.0], [6.0]])
    assert lists == [[17.0], [39.0]]
    assert reference.matmul_naive(np.ones((2, 0)), np.ones((0, 3))).shape == (2, 3)
    with pytest.raises(TypeError, match="float32"):
        compiled.gemm_naive(np.ones((2, 2)), np.ones((2, 2)))


def test_peak_and_blocking():
    assert compiled.peak_gflops(seconds=0.02) > 0.1
    blk = compiled.gemm_blocking(np.float32, "base")
    assert blk["MR"] == 4 and blk["NR"] == 8
    assert set(compiled.gemm_blocking(np.float64)) == {"MR", "NR", "MC", "KC", "PANEL_BYTES"}
    with pytest.raises(ValueError):
        compiled.gemm_blocking(isa="sse9")


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize("gemm", [compiled.gemm, reference.gemm], ids=["compiled", "reference"])
def test_gemm_bad_inputs(gemm):
    a, b = np.ones((3, 4)), np.ones((4, 5))
    with pytest.raises(ValueError, match=r"\(3, 4\) and \(5, 4\)"):
        gemm(a, np.ones((5, 4)))
    with pytest.raises(ValueError, match=r"\(3, 4\) and \(4,\)"):
        gemm(a, np.ones(4))
    with pytest.raises(TypeError, match="dtypes must match"):
        gemm(a.astype(np.float32), b)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        gemm([[1.0]], np.ones((1, 1)))
    with pytest.raises(TypeError, match="float32 or float64"):
        gemm(np.ones((3, 4), np.int32), np.ones((4, 5), np.int32))
    with pytest.raises(ValueError, match="out must have shape"):
        gemm(a, b, out=np.zeros((3, 4)))
    with pytest.raises(ValueError, match="C-contiguous"):
        gemm(a, b, out=np.zeros((5, 3)).T)
    with pytest.raises(ValueError, match="dtype"):
        gemm(a, b, out=np.zeros((3, 5), np.float32))
    with pytest.raises(TypeError, match="out must be a numpy.ndarray"):
        gemm(a, b, out=[[0.0] * 5] * 3)
    frozen = np.zeros((3, 5))
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        gemm(a, b, out=frozen)
