"""Fused attention: the compiled kernel vs its NumPy twin, the Function vs the textbook
composition and PyTorch, finite differences, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import needs_compiled

from tinygrad_edu import Tensor, kernels
from tinygrad_edu.gradcheck import gradcheck
from tinygrad_edu.kernels import compiled, reference
from tinygrad_edu.kernels.config import config
from tinygrad_edu.nn import functional as F

TOL = {np.float32: 2e-5, np.float64: 1e-12}

# (N, T, S, D): odd T and S, D around the vector widths, one query, more keys than
# queries and fewer, N = 1 (two threads share a head's key blocks), N = 5 (2 threads:
# whole heads do not divide evenly, so the key blocks are shared too) and N = 4.
SHAPES = [
    (2, 1, 1, 1),
    (1, 1, 130, 64),
    (3, 3, 3, 8),
    (2, 17, 17, 63),
    (1, 65, 65, 64),
    (2, 130, 130, 80),
    (1, 17, 130, 8),
    (2, 130, 65, 64),
    (1, 65, 3, 63),
    (1, 130, 130, 64),
    (5, 130, 130, 64),
    (4, 130, 130, 64),
]


def _inputs(rng, N, T, S, D, dtype, spread=1.0):
    q = (rng.standard_normal((N, T, D)) * spread).astype(dtype)
    k = (rng.standard_normal((N, S, D)) * spread).astype(dtype)
    v = rng.standard_normal((N, S, D)).astype(dtype)
    return q, k, v


def _offsets(T, S, causal):
    """0 (PyTorch's is_causal), S - T (bottom right: the KV cache), and a negative one
    (the first queries see no key at all)."""
    if not causal:
        return [0]
    return sorted({0, S - T, max(-T, -2)})


def _assert_close(a, b, tol, what):
    scale = max(1.0, float(np.max(np.abs(b)))) if b.size else 1.0
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale, err_msg=what)


def _module(name):
    if name == "compiled" and kernels.compiled is None:
        pytest.skip("compiled kernels not built")
    return compiled if name == "compiled" else reference


def _check_against_twin(q, k, v, causal, offset, rng):
    scale = 1.0 / math.sqrt(max(q.shape[2], 1))
    tol = TOL[q.dtype.type]
    out, lse = compiled.attention_forward(q, k, v, causal, scale, offset)
    out_r, lse_r = reference.attention_forward(q, k, v, causal, scale, offset)
    assert out.shape == out_r.shape and out.dtype == q.dtype
    assert lse.shape == q.shape[:2] and lse.dtype == q.dtype
    _assert_close(out, out_r, tol, "out")
    # lse is -inf exactly where the twin's is (queries that see no key), close elsewhere
    np.testing.assert_array_equal(np.isneginf(lse), np.isneginf(lse_r))
    finite = np.isfinite(lse_r)
    _assert_close(lse[finite], lse_r[finite], tol, "lse")
    dout = rng.standard_normal(out.shape).astype(q.dtype)
    grads = compiled.attention_backward(q, k, v, out_r, lse_r, dout, causal, scale, offset)
    grads_r = reference.attention_backward(q, k, v, out_r, lse_r, dout, causal, scale, offset)
    for name, g, g_r, x in zip(("dq", "dk", "dv"), grads, grads_r, (q, k, v)):
        assert g.shape == x.shape and g.dtype == x.dtype
        _assert_close(g, g_r, tol, name)
    return out, lse, grads


@needs_compiled
def test_extension_is_built():
    """Otherwise compiled.attention_* quietly falls back to the twin and proves nothing."""
    assert compiled._attention is not None


@needs_compiled
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_matches_twin(isa, nthreads, shape, causal, dtype, rng):
    N, T, S, D = shape
    q, k, v = _inputs(rng, N, T, S, D, dtype)
    for offset in _offsets(T, S, causal):
        out, lse, (dq, dk, dv) = _check_against_twin(q, k, v, causal, offset, rng)
        blind = np.arange(T) + offset < 0  # queries that may look at no key
        if causal and blind.any():
            assert np.all(out[:, blind] == 0) and np.all(np.isneginf(lse[:, blind]))
            assert np.all(dq[:, blind] == 0)


@needs_compiled
@pytest.mark.parametrize("offset", [-20, -40, 5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_skipping_the_future_with_shifted_masks(isa, nthreads, offset, dtype, rng):
    """The causal products leave out what is in the future (attention_impl.h, section 2b).
    With the diagonal shifted by more than a vector of queries, whole vectors of a block
    see no key of that block after seeing keys of earlier blocks (their rescale is
    skipped, alpha = 1); T = 100 gives two query blocks, a partial one among them."""
    q, k, v = _inputs(rng, 2, 100, 100, 24, dtype)
    _check_against_twin(q, k, v, True, offset, rng)


@needs_compiled
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_scores_do_not_overflow(isa, dtype, rng):
    """Scores of +-1000 (e^1000 overflows even float64): the running max keeps every
    exponent <= 0, exactly as the twin's softmax does."""
    q, k, v = _inputs(rng, 2, 70, 90, 16, dtype, spread=8.0)
    out, lse, grads = _check_against_twin(q, k, v, True, 20, rng)
    assert np.isfinite(out).all() and np.isfinite(lse).all()
    assert all(np.isfinite(g).all() for g in grads)


@needs_compiled
def test_two_threads_are_deterministic(rng):
    """The dQ partial sums of the threads are added in a fixed order: two runs give the
    same bits, whichever thread finished first."""
    old = config.num_threads
    config.num_threads = 2
    try:
        for N in (1, 4):  # shared key blocks / whole heads
            q, k, v = _inputs(rng, N, 300, 300, 64, np.float32)
            dout = rng.standard_normal(q.shape).astype(np.float32)
            runs = []
            for _ in range(2):
                out, lse = compiled.attention_forward(q, k, v, True, 0.125)
                runs.append(
                    (out, lse) + compiled.attention_backward(q, k, v, out, lse, dout, True, 0.125)
                )
            for a, b in zip(*runs):
                np.testing.assert_array_equal(a, b)
    finally:
        config.num_threads = old


@needs_compiled
def test_one_and_two_threads_agree(rng):
    q, k, v = _inputs(rng, 3, 200, 200, 64, np.float64)
    dout = rng.standard_normal(q.shape)
    old = config.num_threads
    results = []
    try:
        for nt in (1, 2):
            config.num_threads = nt
            out, lse = compiled.attention_forward(q, k, v, True, 0.125)
            results.append(
                (out, lse) + compiled.attention_backward(q, k, v, out, lse, dout, True, 0.125)
            )
    finally:
        config.num_threads = old
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)


@needs_compiled
def test_strided_inputs(isa, rng):
    """Views (the GPT's (B, T, H, D) -> (B, H, T, D) transposes) are copied to
    contiguous first; the result is the same as for contiguous arrays."""
    x = rng.standard_normal((3, 40, 2, 16))  # (B, T, H, D)
    q = x.transpose(0, 2, 1, 3).reshape(6, 40, 16)[:, :, ::-1]  # non-contiguous
    k = rng.standard_normal((6, 16, 40)).transpose(0, 2, 1)
    v = rng.standard_normal((6, 40, 16))[:, ::-1]
    out, lse = compiled.attention_forward(q, k, v, True, 0.25)
    out_c, lse_c = compiled.attention_forward(
        *(np.ascontiguousarray(a) for a in (q, k, v)), True, 0.25
    )
    np.testing.assert_array_equal(out, out_c)
    np.testing.assert_array_equal(lse, lse_c)
    dout = rng.standard_normal(out.shape)[:, ::-1]
    g = compiled.attention_backward(q, k, v, out, lse, dout, True, 0.25)
    g_r = reference.attention_backward(q, k, v, out, lse, dout, True, 0.25)
    for a, b in zip(g, g_r):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("module", ["reference", "compiled"])
@pytest.mark.parametrize(
    "shape", [(0, 4, 4, 8), (2, 0, 4, 8), (2, 4, 0, 8), (2, 4, 5, 0), (0, 0, 0, 0)]
)
def test_zero_sizes(module, shape, rng):
    K = _module(module)
    N, T, S, D = shape
    q, k, v = _inputs(rng, N, T, S, D, np.float32)
    out, lse = K.attention_forward(q, k, v, True, 1.0, 0)
    assert out.shape == (N, T, D) and lse.shape == (N, T)
    if S == 0:  # no key to look at
        assert np.all(out == 0) and np.all(np.isneginf(lse))
    if D == 0 and S and T and N:  # every score is 0: query i sees i + 1 keys equally
        np.testing.assert_allclose(
            lse, np.broadcast_to(np.log(np.minimum(np.arange(T) + 1, S)), (N, T))
        )
    grads = K.attention_backward(q, k, v, out, lse, np.ones_like(out), True, 1.0, 0)
    assert [g.shape for g in grads] == [q.shape, k.shape, v.shape]
    assert not any(np.any(g) for g in grads)  # nothing flows through an empty sum


@needs_compiled
def test_nan_propagates(isa, rng):
    """A NaN in one query spoils that query only; a NaN in a key spoils every query
    that looks at it (and only those)."""
    q, k, v = _inputs(rng, 1, 70, 70, 16, np.float32)
    q[0, 5, 3] = np.nan
    out, lse = compiled.attention_forward(q, k, v, True, 0.25)
    assert np.isnan(out[0, 5]).all() and np.isnan(lse[0, 5])
    assert np.isfinite(np.delete(out[0], 5, axis=0)).all()
    q[0, 5, 3] = 0
    k[0, 66, 0] = np.nan  # seen by queries 66.. only
    out, lse = compiled.attention_forward(q, k, v, True, 0.25)
    assert np.isfinite(out[0, :66]).all() and np.isnan(out[0, 66:]).all()


# --- the Function and nn.functional ---------------------------------------------------


def _tensors(arrays):
    return [Tensor(a.copy(), requires_grad=True) for a in arrays]


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_matches_textbook_composition(backend, causal, dtype, rng):
    B, H, T, S, D = 2, 3, 33, 33, 16
    arrays = [rng.standard_normal((B, H, n, D)).astype(dtype) for n in (T, S, S)]
    dout = rng.standard_normal((B, H, T, D)).astype(dtype)
    results = []
    for fused in (True, False):
        q, k, v = _tensors(arrays)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal, fused=fused)
        y.backward(Tensor(dout))
        results.append([y.data, q.grad.data, k.grad.data, v.grad.data])
    tol = TOL[dtype] * 10
    for a, b, name in zip(*results, ("out", "dq", "dk", "dv")):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=name)


def test_fused_path_is_taken_and_keeps_no_score_matrix(rng):
    """The fused op records ONE node, and what it saves is O(T), not O(T * S)."""
    B, H, T, D = 1, 2, 64, 8
    q, k, v = _tensors([rng.standard_normal((B, H, T, D)) for _ in range(3)])
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    fn, ctx, inputs = y._node
    assert fn.__name__ == "Attention" and all(a is b for a, b in zip(inputs, (q, k, v)))
    saved = sum(a.size for a in ctx.saved)
    assert saved == 4 * B * H * T * D + B * H * T  # q, k, v, out and lse: no (T, T) array
    y_ref = F.scaled_dot_product_attention(q, k, v, is_causal=True, fused=False)
    assert y_ref._node[0].__name__ != "Attention"
    np.testing.assert_allclose(y.data, y_ref.data, rtol=1e-12, atol=1e-12)


def test_masks_and_dropout_use_the_textbook_path(rng):
    q, k, v = _tensors([rng.standard_normal((1, 2, 5, 4)) for _ in range(3)])
    mask = np.tril(np.ones((5, 5), dtype=bool))
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert y._node[0].__name__ == "MatMul"  # weights @ v: the textbook's last op
    y_drop = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5, is_causal=True)
    assert y_drop._node[0].__name__ == "MatMul"
    np.testing.assert_allclose(
        y.data, F.scaled_dot_product_attention(q, k, v, is_causal=True).data, rtol=1e-12
    )


@pytest.mark.parametrize("T", [1, 3, 7])
def test_kv_cache_offset_matches_the_mask(backend, T, rng):
    """T new queries after S - T cached keys: is_causal with causal_offset = S - T is
    the bottom-right mask the GPT's KV cache builds today (models/gpt.py)."""
    S, D = 12, 8
    q = Tensor(rng.standard_normal((2, 3, T, D)))
    k, v = (Tensor(rng.standard_normal((2, 3, S, D))) for _ in range(2))
    may_look = np.tril(np.ones((T, S), dtype=bool), k=S - T)
    want = F.scaled_dot_product_attention_reference(q, k, v, attn_mask=may_look).data
    got = F.scaled_dot_product_attention(q, k, v, is_causal=True, causal_offset=S - T).data
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    textbook = F.scaled_dot_product_attention_reference(
        q, k, v, is_causal=True, causal_offset=S - T
    ).data
    np.testing.assert_allclose(textbook, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("causal,offset", [(False, 0), (True, 0), (True, 3), (True, -1)])
def test_gradients_match_finite_differences(backend, causal, offset, rng):
    arrays = [rng.standard_normal((1, 2, n, 3)) for n in (4, 5, 5)]

    def attend(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, causal_offset=offset)

    gradcheck(attend, *arrays, atol=1e-8, rtol=1e-6)


@needs_compiled
def test_gradients_match_finite_differences_every_isa(isa, rng):
    arrays = [rng.standard_normal((1, 3, n, 5)) for n in (6, 9, 9)]

    def attend(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, causal_offset=2)

    old = kernels.backend_name()
    kernels.use_backend("compiled")
    try:
        gradcheck(attend, *arrays, atol=1e-8, rtol=1e-6)
    finally:
        kernels.use_backend(old)


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T,S", [(37, 37), (1, 29), (29, 40)])
def test_values_and_gradients_match_pytorch(backend, causal, dtype, T, S, rng):
    torch = pytest.importorskip("torch")
    B, H, D = 2, 3, 24
    arrays = [rng.standard_normal((B, H, n, D)).astype(dtype) for n in (T, S, S)]
    dout = rng.standard_normal((B, H, T, D)).astype(dtype)
    offset = S - T if causal else 0  # torch's is_causal aligns top-left: give it the mask
    q, k, v = _tensors(arrays)
    y = F.scaled_dot_product_attention(q, k, v, is_causal=causal, causal_offset=offset, scale=0.3)
    y.backward(Tensor(dout))
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in arrays)
    mask = torch.ones(T, S, dtype=torch.bool).tril(diagonal=offset) if causal else None
    ty = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=mask, scale=0.3)
    ty.backward(torch.tensor(dout))
    tol = 1e-5 if dtype == np.float32 else 1e-11
    for ours, theirs, name in (
        (y.data, ty, "out"),
        (q.grad.data, tq.grad, "dq"),
        (k.grad.data, tk.grad, "dk"),
        (v.grad.data, tv.grad, "dv"),
    ):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=tol, atol=tol, err_msg=name)


def test_is_causal_matches_pytorch_is_causal(backend, rng):
    torch = pytest.importorskip("torch")
    arrays = [rng.standard_normal((1, 2, 70, 16)).astype(np.float32) for _ in range(3)]
    y = F.scaled_dot_product_attention(*(Tensor(a) for a in arrays), is_causal=True)
    ty = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(a) for a in arrays), is_causal=True
    )
    np.testing.assert_allclose(y.data, ty.numpy(), rtol=1e-5, atol=1e-6)


# --- bad input ------------------------------------------------------------------------


F8 = np.ones((2, 3, 4))  # (N, T, D) = (2, 3, 4); k and v the same: S = 3
F4 = F8.astype(np.float32)
L8 = np.ones((2, 3))  # lse (N, T)

# (q, k, v, causal, scale, causal_offset), the error, what its message must name
BAD_FORWARD = [
    ((np.ones((3, 4)), F8, F8, True, 1.0, 0), ValueError, r"q \(3, 4\)"),
    ((F8, np.ones((3, 3, 4)), np.ones((3, 3, 4)), True, 1.0, 0), ValueError, r"k \(3, 3, 4\)"),
    ((F8, np.ones((2, 5, 3)), np.ones((2, 5, 3)), True, 1.0, 0), ValueError, r"k \(2, 5, 3\)"),
    ((F8, F8, np.ones((2, 4, 4)), True, 1.0, 0), ValueError, r"v \(2, 4, 4\)"),
    ((F4, F8, F8, True, 1.0, 0), TypeError, "dtypes must match: q is float32"),
    ((F8.astype(np.int64), F8, F8, True, 1.0, 0), TypeError, "float32 or float64"),
    ((F8.tolist(), F8, F8, True, 1.0, 0), TypeError, "numpy.ndarray"),
    ((F8, F8, F8, 1, 1.0, 0), TypeError, "causal must be a bool"),
    ((F8, F8, F8, True, "1", 0), TypeError, "scale must be a real number"),
    ((F8, F8, F8, True, float("nan"), 0), ValueError, "scale must be finite"),
    ((F8, F8, F8, True, 1.0, 1.5), TypeError, "causal_offset must be an int"),
    ((F8, F8, F8, True, 1.0, 4), ValueError, r"\[-3, 3\]"),
    ((F8, F8, F8, True, 1.0, -4), ValueError, r"\[-3, 3\]"),
    ((F8, F8, F8, False, 1.0, 1), ValueError, "needs causal=True"),
]
# (out, lse, dout) with good q, k, v
BAD_BACKWARD = [
    ((F8, np.ones((2, 4)), F8), ValueError, r"lse \(2, 4\)"),
    ((np.ones((2, 3, 5)), L8, F8), ValueError, r"out \(2, 3, 5\)"),
    ((F8, L8, np.ones((2, 2, 4))), ValueError, r"dout \(2, 2, 4\)"),
    ((F8, L8, F4), TypeError, "dtypes must match"),
]


@pytest.mark.parametrize("module", ["reference", "compiled"])
@pytest.mark.parametrize("args,error,message", BAD_FORWARD)
def test_bad_forward_inputs_raise(module, args, error, message):
    with pytest.raises(error, match=message):
        _module(module).attention_forward(*args)


@pytest.mark.parametrize("module", ["reference", "compiled"])
@pytest.mark.parametrize("args,error,message", BAD_BACKWARD)
def test_bad_backward_inputs_raise(module, args, error, message):
    with pytest.raises(error, match=message):
        _module(module).attention_backward(F8, F8, F8, *args, True, 1.0)


def test_functional_bad_inputs_raise(rng):
    q = Tensor(rng.standard_normal((1, 2, 4, 8)))
    with pytest.raises(ValueError, match="needs is_causal=True"):
        F.scaled_dot_product_attention(q, q, q, causal_offset=1)
    with pytest.raises(ValueError, match=r"\[-4, 4\]"):
        F.scaled_dot_product_attention(q, q, q, is_causal=True, causal_offset=5)
    with pytest.raises(TypeError, match="causal_offset must be an int"):
        F.scaled_dot_product_attention(q, q, q, is_causal=True, causal_offset=None)
    with pytest.raises(ValueError, match="attention shapes do not fit"):
        F.scaled_dot_product_attention(q, Tensor(rng.standard_normal((1, 2, 4, 7))), q)
    with pytest.raises(TypeError, match="must be a Tensor"):
        F.scaled_dot_product_attention(q.data, q, q)


@needs_compiled
def test_scratch_memory_is_small():
    """At T = 1024 (GPT-2's 12 heads) the kernel's scratch for forward + backward is a
    small fraction of ONE (12, T, T) float32 score matrix (48 MB), and does not grow
    with the number of heads."""
    scores = 12 * 1024 * 1024 * 4
    for nt in (1, 2, 4):
        used = compiled.attention_scratch_bytes(12, 1024, 1024, 64, nthreads=nt)
        assert used < scores / 12
    assert compiled.attention_scratch_bytes(96, 1024, 1024, 64, nthreads=2) == (
        compiled.attention_scratch_bytes(12, 1024, 1024, 64, nthreads=2)
    )


# --- F.multi_head_attention: split + heads + attention + merge as one op ----------------


def _step_by_step(qkv, n_head, causal=True, scale=None):
    """The textbook route from packed (B, T, 3C) to (B, T, C), op by op."""
    B, T, C3 = qkv.shape
    C, D = C3 // 3, C3 // 3 // n_head
    q, k, v = (
        t.reshape(B, T, n_head, D).transpose(1, 2) for t in qkv.split(C, dim=2)
    )  # each (B, n_head, T, D)
    y = F.scaled_dot_product_attention_reference(q, k, v, is_causal=causal, scale=scale)
    return y.transpose(1, 2).reshape(B, T, C)


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("B,T,n_head,D", [(2, 9, 3, 4), (1, 1, 1, 5), (3, 33, 2, 16)])
def test_multi_head_matches_step_by_step(backend, causal, dtype, B, T, n_head, D, rng):
    C = n_head * D
    packed = rng.standard_normal((B, T, 3 * C)).astype(dtype)
    dout = rng.standard_normal((B, T, C)).astype(dtype)
    results = []
    for fused in (True, False):
        qkv = Tensor(packed.copy(), requires_grad=True)
        if fused:
            y = F.multi_head_attention(qkv, n_head, is_causal=causal)
            assert y._node[0].__name__ == "MultiHeadAttention"  # one node
        else:
            y = _step_by_step(qkv, n_head, causal)
        y.backward(Tensor(dout))
        results.append([y.data, qkv.grad.data])
    tol = TOL[dtype] * 10
    for a, b, name in zip(*results, ("y", "dqkv")):
        assert a.dtype == dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=name)


@pytest.mark.parametrize("causal", [True, False])
def test_multi_head_gradients_match_finite_differences(backend, causal, rng):
    packed = rng.standard_normal((2, 5, 3 * 6))  # B=2, T=5, n_head=2, D=3

    def attend(qkv):
        return F.multi_head_attention(qkv, 2, is_causal=causal, scale=0.7)

    gradcheck(attend, packed, atol=1e-8, rtol=1e-6)


def test_multi_head_matches_pytorch(backend, rng):
    torch = pytest.importorskip("torch")
    B, T, n_head, D = 2, 17, 4, 8
    C = n_head * D
    packed = rng.standard_normal((B, T, 3 * C)).astype(np.float32)
    dout = rng.standard_normal((B, T, C)).astype(np.float32)
    qkv = Tensor(packed, requires_grad=True)
    y = F.multi_head_attention(qkv, n_head)
    y.backward(Tensor(dout))
    tqkv = torch.tensor(packed, requires_grad=True)
    q, k, v = (t.view(B, T, n_head, D).transpose(1, 2) for t in tqkv.split(C, dim=2))
    ty = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    ty = ty.transpose(1, 2).reshape(B, T, C)
    ty.backward(torch.tensor(dout))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(qkv.grad.data, tqkv.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_causal_self_attention_fused_and_step_by_step_agree(rng):
    """nn.CausalSelfAttention takes the one-op route in training and the step-by-step
    route with fused=False: the same numbers and gradients."""
    from tinygrad_edu import nn

    x = rng.standard_normal((2, 7, 12)).astype(np.float32)
    layer = nn.CausalSelfAttention(12, 3)
    results = []
    for fused in (True, False):
        layer.fused = fused
        layer.zero_grad()
        xt = Tensor(x, requires_grad=True)
        y = layer(xt)
        y.backward(Tensor(np.cos(np.arange(y.data.size)).reshape(y.shape).astype(np.float32)))
        results.append([y.data, xt.grad.data, layer.c_attn.weight.grad.data.copy()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "make,n_head,error,message",
    [
        (lambda: np.zeros((2, 3, 12)), 2, TypeError, "must be a Tensor"),
        (lambda: Tensor(np.zeros((2, 3, 12), dtype=np.int64)), 2, TypeError, "floating"),
        (lambda: Tensor(np.zeros((2, 3, 12), dtype=np.float16)), 2, TypeError, "float32"),
        (lambda: Tensor(np.zeros((3, 12))), 2, ValueError, r"\(B, T, 3 \* C\)"),
        (lambda: Tensor(np.zeros((2, 3, 12))), 3, ValueError, "n_head=3"),
        (lambda: Tensor(np.zeros((2, 3, 13))), 1, ValueError, "divisible"),
        (lambda: Tensor(np.zeros((2, 3, 12))), 0, ValueError, "positive int"),
        (lambda: Tensor(np.zeros((2, 3, 12))), 2.0, ValueError, "positive int"),
    ],
)
def test_multi_head_bad_inputs_raise(make, n_head, error, message):
    with pytest.raises(error, match=message):
        F.multi_head_attention(make(), n_head)


# --- the packed multi-head kernel: q, k, v read in place from (B, T, 3C) ----------------

# (B, T, n_head, D): one head; D not a whole vector (padded copies in backward); several
# query/key blocks (T > 64); B * n_head = 1 and 3 (two threads share key blocks); 48 heads
# of the GPT recipe's shape.
PACKED = [
    (1, 1, 1, 1),
    (2, 5, 3, 7),
    (1, 130, 1, 16),
    (3, 70, 1, 32),
    (2, 67, 2, 20),
    (12, 64, 4, 32),
]


@needs_compiled
@pytest.mark.parametrize("shape", PACKED, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_packed_kernel_matches_twin(isa, nthreads, shape, causal, dtype, rng):
    B, T, H, D = shape
    C = H * D
    qkv = rng.standard_normal((B, T, 3 * C)).astype(dtype)
    dy = rng.standard_normal((B, T, C)).astype(dtype)
    scale = 1 / math.sqrt(D)
    y, lse = compiled.multi_head_attention_forward(qkv, H, causal, scale)
    y_ref, lse_ref = reference.multi_head_attention_forward(qkv, H, causal, scale)
    tol = TOL[dtype]
    _assert_close(y, y_ref, tol, "y")
    _assert_close(lse, lse_ref, tol, "lse")
    dqkv = compiled.multi_head_attention_backward(qkv, y, lse, dy, H, causal, scale)
    dqkv_ref = reference.multi_head_attention_backward(qkv, y, lse, dy, H, causal, scale)
    assert dqkv.shape == qkv.shape and dqkv.dtype == dtype
    _assert_close(dqkv, dqkv_ref, tol * 10, "dqkv")


@needs_compiled
def test_packed_kernel_equals_the_dense_kernel_bit_for_bit(rng):
    """Reading q, k, v in place changes where the numbers come from, not the arithmetic:
    the packed kernel gives exactly the dense kernel's result on copied-out heads."""
    B, T, H, D = 3, 40, 2, 16
    qkv = rng.standard_normal((B, T, 3 * H * D)).astype(np.float32)
    dy = rng.standard_normal((B, T, H * D)).astype(np.float32)
    heads = [reference._heads(x, H) for x in np.split(qkv, 3, axis=2)]
    out, lse = compiled.attention_forward(*heads, True, 0.25)
    y, lse_p = compiled.multi_head_attention_forward(qkv, H, True, 0.25)
    assert np.array_equal(reference._merge_heads(out, B, H), y) and np.array_equal(lse, lse_p)
    grads = compiled.attention_backward(*heads, out, lse, reference._heads(dy, H), True, 0.25)
    dqkv = compiled.multi_head_attention_backward(qkv, y, lse, dy, H, True, 0.25)
    want = np.concatenate([reference._merge_heads(g, B, H) for g in grads], axis=2)
    assert np.array_equal(dqkv, want)


@pytest.mark.parametrize("module", ["reference", "compiled"])
def test_packed_kernel_bad_inputs_raise(module, rng):
    m = _module(module)
    qkv = rng.standard_normal((2, 3, 12))
    with pytest.raises(TypeError, match="qkv"):
        m.multi_head_attention_forward(qkv.astype(np.int64), 2, True, 0.5)
    with pytest.raises(ValueError, match="n_head=3"):
        m.multi_head_attention_forward(qkv, 3, True, 0.5)
    with pytest.raises(ValueError, match=r"\(B, T, 3C\)"):
        m.multi_head_attention_forward(qkv[0], 2, True, 0.5)
    with pytest.raises(TypeError, match="n_head"):
        m.multi_head_attention_forward(qkv, 2.0, True, 0.5)
    with pytest.raises(ValueError, match="n_head"):
        m.multi_head_attention_forward(qkv, 0, True, 0.5)
    with pytest.raises(ValueError, match="finite"):
        m.multi_head_attention_forward(qkv, 2, True, float("nan"))
    y, lse = m.multi_head_attention_forward(qkv, 2, True, 0.5)
    with pytest.raises(ValueError, match="dy"):
        m.multi_head_attention_backward(qkv, y, lse, y[:, :2], 2, True, 0.5)
    with pytest.raises(ValueError, match="lse"):
        m.multi_head_attention_backward(qkv, y, lse[:1], y, 2, True, 0.5)
    with pytest.raises(TypeError, match="dtype|float"):
        m.multi_head_attention_backward(qkv, y.astype(np.float32), lse, y, 2, True, 0.5)


def test_gpt_fused_and_textbook_attention_agree_values_and_grads(rng):
    """The whole GPT with every layer's switch flipped: same loss, same gradients."""
    from tinygrad_edu.models.gpt import GPT, GPTConfig

    model = GPT(GPTConfig(block_size=16, vocab_size=13, n_layer=2, n_head=2, n_embd=8))
    idx = rng.integers(0, 13, (3, 11))
    results = []
    for fused in (True, False):
        for block in model.transformer.h:
            block.attn.fused = fused
        model.zero_grad()
        logits, loss = model(idx, idx)
        loss.backward()
        grads = {n: p.grad.data.copy() for n, p in model.named_parameters()}
        final = model.last_hidden_state(idx).data
        results.append((logits.data, loss.item(), final, grads))
    (l1, c1, f1, g1), (l2, c2, f2, g2) = results
    np.testing.assert_allclose(l2, l1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(f2, f1, rtol=1e-5, atol=1e-6)
    assert abs(c1 - c2) < 1e-5
    for n in g1:
        np.testing.assert_allclose(g2[n], g1[n], rtol=1e-4, atol=1e-6, err_msg=n)


@pytest.mark.parametrize("fused", [True, False])
def test_kv_cache_goes_through_the_same_module_and_matches_the_full_forward(fused, rng):
    from tinygrad_edu import nn
    from tinygrad_edu.autograd import no_grad

    layer = nn.CausalSelfAttention(12, 3, fused=fused)
    x = rng.standard_normal((2, 9, 12)).astype(np.float32)
    with no_grad():
        full = layer(Tensor(x)).data  # (B, 9, C) in one go
        cache: dict = {}
        pieces = [layer(Tensor(x[:, :4]), cache).data]  # a prompt of 4 tokens
        for t in range(4, 9):  # then one token at a time, keys and values from the cache
            pieces.append(layer(Tensor(x[:, t : t + 1]), cache).data)
    assert cache["k"].shape == (2, 3, 9, 4)  # (B, n_head, S, D): every token's key kept
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), full, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "T, S, D, Dv",
    [(0, 3, 4, 4), (3, 0, 4, 4), (3, 3, 0, 4), (3, 3, 4, 0), (0, 0, 0, 0)],
    ids=["T=0", "S=0", "D=0", "Dv=0", "all0"],
)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("fused", [True, False])
def test_empty_attention_matches_pytorch(backend, T, S, D, Dv, causal, fused, rng):
    """No query, no key, or no feature: empty tensors (S = 0: zeros; D = 0: every score
    is 0, so the values are averaged), with PyTorch's shapes, values and gradients."""
    torch = pytest.importorskip("torch")
    arrays = [rng.standard_normal(s) for s in [(2, 2, T, D), (2, 2, S, D), (2, 2, S, Dv)]]
    q, k, v = (Tensor(a.astype(np.float32), requires_grad=True) for a in arrays)
    y = F.scaled_dot_product_attention(q, k, v, is_causal=causal, fused=fused)
    (y * 1.5).sum().backward()
    tq, tk, tv = (torch.tensor(a.astype(np.float32), requires_grad=True) for a in arrays)
    ty = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=causal)
    (ty * 1.5).sum().backward()
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    for ours, theirs in ((q, tq), (k, tk), (v, tv)):
        assert ours.grad.shape == tuple(theirs.grad.shape)
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-5, atol=1e-6)


# --- the online-softmax twin: the kernel's algorithm, in NumPy ---------------------------


@pytest.mark.parametrize("N,T,S,D", [(1, 1, 1, 1), (2, 17, 17, 63), (1, 17, 130, 8), (2, 65, 3, 5)])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("block", [1, 7, 64, 1000])
def test_online_softmax_twin_equals_full_p_twin(N, T, S, D, causal, dtype, block, rng):
    """The same out and lse whether P is built whole or the keys stream by in blocks,
    for every block size (1: key by key; 1000: one block, the full-P form), every mask
    offset (a negative one leaves the first queries with no key at all)."""
    q, k, v = _inputs(rng, N, T, S, D, dtype, spread=3.0)
    scale = 1.0 / math.sqrt(D)
    for offset in _offsets(T, S, causal):
        out, lse = reference.attention_forward_online(q, k, v, causal, scale, offset, block)
        out_p, lse_p = reference.attention_forward(q, k, v, causal, scale, offset)
        assert out.dtype == lse.dtype == dtype and out.shape == out_p.shape
        _assert_close(out, out_p, TOL[dtype], f"out, offset {offset}")
        np.testing.assert_array_equal(np.isneginf(lse), np.isneginf(lse_p))
        finite = np.isfinite(lse_p)
        _assert_close(lse[finite], lse_p[finite], TOL[dtype], f"lse, offset {offset}")


def test_online_softmax_rescales_when_the_maximum_grows():
    """Scores that rise key after key: every block raises the running maximum, so a
    version that forgot to rescale the old sums by exp(m - m_new) would be far off."""
    T, S, D = 1, 6, 2
    q = np.ones((1, T, D))
    k = np.arange(S, dtype=np.float64)[None, :, None] * np.ones((1, S, D)) * 10.0
    v = np.arange(S * D, dtype=np.float64).reshape(1, S, D)
    out, lse = reference.attention_forward_online(q, k, v, False, 1.0, block=1)
    out_p, lse_p = reference.attention_forward(q, k, v, False, 1.0)
    np.testing.assert_allclose(out, out_p, rtol=1e-12)
    np.testing.assert_allclose(lse, lse_p, rtol=1e-12)


@pytest.mark.parametrize("block", [0, -1, 2.0])
def test_online_softmax_twin_rejects_bad_block(block, rng):
    q, k, v = _inputs(rng, 1, 2, 2, 2, np.float64)
    with pytest.raises(ValueError, match="block"):
        reference.attention_forward_online(q, k, v, False, 1.0, 0, block)


# --- the plain-C rung (csrc/naive_impl.h): key by key, one thread ------------------------


@needs_compiled
@pytest.mark.parametrize("N,T,S,D", [(1, 1, 1, 1), (2, 17, 17, 63), (1, 17, 130, 8), (3, 65, 3, 5)])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_naive_attention_matches_twin(N, T, S, D, causal, dtype, rng):
    q, k, v = _inputs(rng, N, T, S, D, dtype, spread=2.0)
    scale = 1.0 / math.sqrt(D)
    tol = TOL[dtype]
    for offset in _offsets(T, S, causal):
        out, lse = compiled.attention_forward_naive(q, k, v, causal, scale, offset)
        out_r, lse_r = reference.attention_forward(q, k, v, causal, scale, offset)
        assert out.dtype == lse.dtype == dtype
        _assert_close(out, out_r, tol, "out")
        np.testing.assert_array_equal(np.isneginf(lse), np.isneginf(lse_r))
        finite = np.isfinite(lse_r)
        _assert_close(lse[finite], lse_r[finite], tol, "lse")
        dout = rng.standard_normal(out.shape).astype(dtype)
        grads = compiled.attention_backward_naive(
            q, k, v, out_r, lse_r, dout, causal, scale, offset
        )
        grads_r = reference.attention_backward(q, k, v, out_r, lse_r, dout, causal, scale, offset)
        for name, g, g_r in zip(("dq", "dk", "dv"), grads, grads_r):
            assert g.shape == g_r.shape and g.dtype == dtype
            _assert_close(g, g_r, 5 * tol, f"{name}, offset {offset}")


@needs_compiled
def test_naive_attention_zero_sizes_and_views(rng):
    q, k, v = _inputs(rng, 2, 5, 7, 4, np.float64)
    out, lse = compiled.attention_forward_naive(q[:, :0], k, v, True, 0.5)
    assert out.shape == (2, 0, 4) and lse.shape == (2, 0)
    out, lse = compiled.attention_forward_naive(q, k[:, :0], v[:, :0], False, 0.5)
    assert np.all(out == 0) and np.all(np.isneginf(lse))
    qs = np.ascontiguousarray(q.transpose(0, 2, 1)).transpose(0, 2, 1)  # a strided view
    got = compiled.attention_forward_naive(qs, k, v, True, 0.5, 2)[0]
    _assert_close(got, reference.attention_forward(q, k, v, True, 0.5, 2)[0], 1e-12, "view")


@needs_compiled
def test_naive_attention_bad_inputs_raise(rng):
    q, k, v = _inputs(rng, 1, 3, 3, 2, np.float32)
    with pytest.raises((TypeError, ValueError)):
        compiled.attention_forward_naive(q, k.astype(np.float64), v, False, 1.0)
    with pytest.raises((TypeError, ValueError)):
        compiled.attention_forward_naive(q, k[:, :, :1], v, False, 1.0)
