"""The GEMM's fused epilogues (csrc/gemm_impl.h): linear + bias + GELU, linear + bias +
residual add, on every ISA and thread count, against the unfused path, the twins
(reference.py) and the plain-C rung; and the ops that use them (ops/matmul.py
LinearGELU, LinearResidual, MLPBlock), forward and backward, against the unfused ops and
finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import needs_compiled

from tinygrad_edu import kernels
from tinygrad_edu.gradcheck import gradcheck
from tinygrad_edu.kernels import compiled, reference
from tinygrad_edu.nn import functional as F
from tinygrad_edu.tensor import Tensor

pytestmark = needs_compiled

# (N rows, in, out): empty, one, odd, the few-rows path (N <= 4), tile edges (MR, NR),
# more than one k-block (in > KC = 256), and enough work for two threads
SHAPES = [(0, 3, 4), (3, 0, 5), (1, 1, 1), (3, 5, 7), (4, 33, 17), (37, 29, 61), (97, 300, 70)]
BIG = (200, 130, 260)
DTYPES = [np.float32, np.float64]


def operands(rng, n, k, m, dtype, bias=True):
    x = rng.standard_normal((n, k)).astype(dtype)
    w = (rng.standard_normal((m, k)) / np.sqrt(max(k, 1))).astype(dtype)
    b = rng.standard_normal(m).astype(dtype) if bias else None
    return x, w, b


def unfused_gelu(x, w, b, approximate):
    """The compiled kernels one after another: gemm, the bias, gelu."""
    h = compiled.gemm(x, w.T)
    if b is not None:
        h += b
    return h, compiled.gelu(h, approximate)


@pytest.mark.parametrize("shape", SHAPES + [BIG])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_linear_gelu_equals_the_unfused_kernels(isa, nthreads, rng, shape, dtype, approximate):
    for bias in (True, False):
        x, w, b = operands(rng, *shape, dtype, bias)
        h, y = compiled.linear_gelu(x, w, b, approximate)
        h0, y0 = unfused_gelu(x, w, b, approximate)
        assert h.dtype == y.dtype == dtype and y.shape == (shape[0], shape[2])
        # the same arithmetic in the same order: equal to the last bit
        np.testing.assert_array_equal(h, h0)
        np.testing.assert_array_equal(y, y0)


@pytest.mark.parametrize("shape", SHAPES + [BIG])
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_residual_equals_the_unfused_kernels(isa, nthreads, rng, shape, dtype):
    for bias in (True, False):
        x, w, b = operands(rng, *shape, dtype, bias)
        r = rng.standard_normal((shape[0], shape[2])).astype(dtype)
        h = compiled.gemm(x, w.T)
        if b is not None:
            h += b
        np.testing.assert_array_equal(compiled.linear_residual(x, w, b, r), r + h)


def close(got, want, dtype, k):
    tol = (1e-5 if dtype == np.float32 else 1e-12) * np.sqrt(k + 1)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_linear_gelu_twin_and_plain_c(isa, rng, shape, dtype, approximate):
    x, w, b = operands(rng, *shape, dtype)
    h1, y1 = reference.linear_gelu(x, w, b, approximate)
    for fn in (compiled.linear_gelu, compiled.linear_gelu_naive):
        h, y = fn(x, w, b, approximate)
        close(h, h1, dtype, shape[1])
        close(y, y1, dtype, shape[1])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_residual_twin_and_plain_c(isa, rng, shape, dtype):
    x, w, b = operands(rng, *shape, dtype)
    r = rng.standard_normal((shape[0], shape[2])).astype(dtype)
    want = reference.linear_residual(x, w, b, r)
    for fn in (compiled.linear_residual, compiled.linear_residual_naive):
        close(fn(x, w, b, r), want, dtype, shape[1])
        close(fn(x, w, None, r), reference.linear_residual(x, w, None, r), dtype, shape[1])


def test_views_and_odd_strides(rng):
    """x a transposed view, w a reversed one: the GEMM reads them where they lie."""
    x = rng.standard_normal((40, 23)).astype(np.float32).T  # (23, 40), column-major
    w = rng.standard_normal((31, 40)).astype(np.float32)[::-1]
    b = rng.standard_normal(31).astype(np.float32)
    h, y = compiled.linear_gelu(x, w, b)
    h0, y0 = unfused_gelu(x, w, b, "none")
    np.testing.assert_array_equal(y, y0)
    r = rng.standard_normal((46, 31)).astype(np.float32)[::2]  # a strided residual
    np.testing.assert_array_equal(compiled.linear_residual(x, w, b, r), r + h0)


def test_the_plain_c_rung_is_compiled():
    """Otherwise compiled.*_naive quietly falls back to the twins and proves nothing."""
    assert compiled._naive is not None and compiled._gemm is not None
    assert compiled.linear_gelu_naive is not reference.linear_gelu
    assert compiled.linear_residual is not reference.linear_residual


@pytest.mark.parametrize("backend_fn", ["reference", "compiled", "naive"])
def test_bad_input_raises(backend_fn):
    mod = reference if backend_fn == "reference" else compiled
    sfx = "_naive" if backend_fn == "naive" else ""
    lg, lr = getattr(mod, "linear_gelu" + sfx), getattr(mod, "linear_residual" + sfx)
    x, w = np.ones((2, 3), np.float32), np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match="weight"):
        lg(x, np.ones((4, 2), np.float32))
    with pytest.raises(ValueError, match="bias"):
        lg(x, w, np.ones(3, np.float32))
    with pytest.raises(TypeError, match="dtype|float"):
        lg(x, w.astype(np.float64))
    with pytest.raises(TypeError, match="float"):
        lg(x.astype(np.int64), w)
    with pytest.raises(ValueError, match="approximate"):
        lg(x, w, None, "erf")
    with pytest.raises(ValueError, match="residual"):
        lr(x, w, None, np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match="residual"):
        lr(x, w, None, [[1.0] * 4] * 2)


@pytest.mark.parametrize("backend_fn", ["reference", "compiled"])
def test_mlp_forward_bad_input_raises(backend_fn):
    """c_proj's operands are checked on both paths, with the residual and without (where the
    block ends in a plain GEMM and a bias add that NumPy would broadcast or cast)."""
    mlp = (reference if backend_fn == "reference" else compiled).mlp_forward
    x, w_fc = np.ones((2, 3), np.float32), np.ones((4, 3), np.float32)
    w_proj = np.ones((5, 4), np.float32)
    with pytest.raises(ValueError, match="weight"):
        mlp(x, w_fc, None, np.ones((5, 3), np.float32), None)
    for r in (None, np.ones((2, 5), np.float32)):
        with pytest.raises(ValueError, match="bias"):
            mlp(x, w_fc, None, w_proj, np.ones(4, np.float32), r)
        with pytest.raises(TypeError, match="bias"):
            mlp(x, w_fc, None, w_proj, np.ones(5), r)  # float64 beside float32
    with pytest.raises(ValueError, match="residual"):
        mlp(x, w_fc, None, w_proj, None, np.ones((2, 4), np.float32))


# --- the ops: forward and backward against the unfused ops ---------------------------------


def grads_of(f, *arrays, seed=0):
    ts = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = f(*ts)
    wgt = np.random.default_rng(seed).standard_normal(out.shape).astype(out.data.dtype)
    (out * Tensor(wgt)).sum().backward()
    return out.data, [t.grad for t in ts]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_linear_gelu_op_equals_linear_then_gelu(backend, isa, nthreads, rng, dtype, approximate):
    x = rng.standard_normal((2, 7, 19)).astype(dtype)
    _, w, b = operands(rng, 1, 19, 45, dtype)

    def fused(x, w, b):
        return F.linear_gelu(x, w, b, approximate)

    def unfused(x, w, b):
        return F.gelu(F.linear(x, w, b), approximate)

    y1, g1 = grads_of(fused, x, w, b)
    y0, g0 = grads_of(unfused, x, w, b)
    np.testing.assert_array_equal(y1, y0)
    for a, e in zip(g1, g0):
        np.testing.assert_array_equal(a, e)
    y1, g1 = grads_of(lambda x, w: F.linear_gelu(x, w, None, approximate), x, w)
    y0, g0 = grads_of(lambda x, w: F.gelu(F.linear(x, w), approximate), x, w)
    np.testing.assert_array_equal(y1, y0)
    for a, e in zip(g1, g0):
        np.testing.assert_array_equal(a, e)


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_residual_op_equals_linear_then_add(backend, isa, nthreads, rng, dtype):
    x = rng.standard_normal((3, 5, 24)).astype(dtype)
    _, w, b = operands(rng, 1, 24, 11, dtype)
    r = rng.standard_normal((3, 5, 11)).astype(dtype)
    y1, g1 = grads_of(lambda x, w, b, r: F.linear(x, w, b, residual=r), x, w, b, r)
    y0, g0 = grads_of(lambda x, w, b, r: r + F.linear(x, w, b), x, w, b, r)
    np.testing.assert_array_equal(y1, y0)
    for a, e in zip(g1, g0):
        np.testing.assert_array_equal(a, e)
    y1, g1 = grads_of(lambda x, w, r: F.linear(x, w, residual=r), x, w, r)
    y0, g0 = grads_of(lambda x, w, r: r + F.linear(x, w), x, w, r)
    np.testing.assert_array_equal(y1, y0)
    for a, e in zip(g1, g0):
        np.testing.assert_array_equal(a, e)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_mlp_op_equals_linear_gelu_then_linear(backend, isa, nthreads, rng, dtype, approximate):
    """F.mlp (one op, kernels' mlp_forward): the same numbers and gradients, bit for bit, as
    F.linear_gelu then F.linear, with and without biases and the residual."""
    x = rng.standard_normal((2, 5, 12)).astype(dtype)
    _, w_fc, b_fc = operands(rng, 1, 12, 40, dtype)
    _, w_proj, b_proj = operands(rng, 1, 40, 9, dtype)
    r = rng.standard_normal((2, 5, 9)).astype(dtype)

    def fused(x, w_fc, w_proj, b_fc=None, b_proj=None, r=None):
        return F.mlp(x, w_fc, b_fc, w_proj, b_proj, r, approximate)

    def unfused(x, w_fc, w_proj, b_fc=None, b_proj=None, r=None):
        return F.linear(F.linear_gelu(x, w_fc, b_fc, approximate), w_proj, b_proj, r)

    for arrays in ([x, w_fc, w_proj, b_fc, b_proj, r], [x, w_fc, w_proj, b_fc, b_proj],
                   [x, w_fc, w_proj]):  # fmt: skip
        y1, g1 = grads_of(fused, *arrays)
        y0, g0 = grads_of(unfused, *arrays)
        np.testing.assert_array_equal(y1, y0)
        for a, e in zip(g1, g0):
            np.testing.assert_array_equal(a, e)
    y1, g1 = grads_of(lambda x, w_fc, w_proj, r: fused(x, w_fc, w_proj, r=r), x, w_fc, w_proj, r)
    y0, g0 = grads_of(lambda x, w_fc, w_proj, r: unfused(x, w_fc, w_proj, r=r), x, w_fc, w_proj, r)
    np.testing.assert_array_equal(y1, y0)
    for a, e in zip(g1, g0):
        np.testing.assert_array_equal(a, e)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_fused_ops_against_finite_differences(backend, isa, rng, approximate):
    x = rng.standard_normal((2, 3, 5))
    w = rng.standard_normal((6, 5)) * 0.5
    b = rng.standard_normal(6)
    r = rng.standard_normal((2, 3, 6))
    gradcheck(lambda x, w, b: F.linear_gelu(x, w, b, approximate), x, w, b)
    gradcheck(lambda x, w, b, r: F.linear(x, w, b, residual=r), x, w, b, r)
    w_proj, b_proj = rng.standard_normal((4, 6)) * 0.5, rng.standard_normal(4)
    r = rng.standard_normal((2, 3, 4))
    gradcheck(lambda *a: F.mlp(*a, approximate=approximate), x, w, b, w_proj, b_proj, r)


def test_functional_checks():
    x = Tensor(np.ones((2, 3), np.float32))
    w = Tensor(np.ones((4, 3), np.float32))
    with pytest.raises(ValueError, match="residual"):
        F.linear(x, w, residual=Tensor(np.ones((2, 3), np.float32)))
    with pytest.raises(ValueError, match="approximate"):
        F.linear_gelu(x, w, approximate="erf")
    with pytest.raises(ValueError, match="does not fit"):
        F.linear_gelu(x, Tensor(np.ones((4, 2), np.float32)))
    w_proj = Tensor(np.ones((3, 4), np.float32))
    with pytest.raises(ValueError, match="does not fit"):
        F.mlp(x, w, None, Tensor(np.ones((3, 5), np.float32)), None)
    with pytest.raises(ValueError, match="both biases or neither"):
        F.mlp(x, w, Tensor(np.ones(4, np.float32)), w_proj, None)
    with pytest.raises(ValueError, match="residual"):
        F.mlp(x, w, None, w_proj, None, residual=Tensor(np.ones((2, 4), np.float32)))


# --- the GPT runs through them, and computes what the textbook lines compute ---------------


def test_gpt_uses_the_fused_kernels_and_matches_the_textbook_block(monkeypatch, rng):
    from tinygrad_edu.models.gpt import GPT, GPTConfig

    kernels.use_backend("compiled")
    calls = {"linear_gelu": 0, "linear_residual": 0}
    for name in calls:
        real = getattr(compiled, name)

        def spy(*a, _real=real, _name=name, **k):
            calls[_name] += 1
            return _real(*a, **k)

        monkeypatch.setattr(compiled, name, spy)
    model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=16))
    idx = rng.integers(0, 11, (2, 8))
    logits, loss = model(idx, idx)
    loss.backward()
    assert calls == {"linear_gelu": 2, "linear_residual": 4}

    # the block as the lecture writes it: x = x + attn(ln_1(x)); x = x + mlp(ln_2(x)),
    # with the MLP's textbook lines
    def textbook_block(block, x):
        x = x + block.attn(block.ln_1(x))
        m = block.mlp
        h = F.gelu(m.c_fc(block.ln_2(x)), approximate=m.approximate)
        return x + m.dropout(m.c_proj(h))

    x = Tensor(rng.standard_normal((2, 8, 16)).astype(np.float32))
    for block in model.transformer.h:
        np.testing.assert_array_equal(block(x).data, textbook_block(block, x).data)


def test_dropout_between_projection_and_residual_is_kept():
    """With dropout active the add cannot be fused: residual + dropout(c_proj(h))."""
    from tinygrad_edu.nn import MLP

    mlp = MLP(8, 16, dropout=0.5)
    x = Tensor(np.ones((4, 8), np.float32))
    r = Tensor(np.full((4, 8), 100.0, np.float32))
    out = mlp(x, residual=r).data
    # dropout zeroes some of c_proj's outputs: there the output is exactly the residual
    assert (out == 100.0).any() and (out != 100.0).any()
    mlp.eval()
    np.testing.assert_allclose(mlp(x, residual=r).data, (r + mlp(x)).data, rtol=1e-6)


def test_a_hook_sees_the_layers_own_output_and_the_residual_is_still_added(rng):
    """Forward hooks on the MLP (or a Linear) see and may replace the layer's own output;
    the residual the block hands it is added after them (lesson 8 replaces the MLP's
    output with a ReLU variant this way)."""
    from tinygrad_edu.nn import MLP

    mlp = MLP(8, 16)
    x = Tensor(rng.standard_normal((3, 8)).astype(np.float32))
    r = Tensor(rng.standard_normal((3, 8)).astype(np.float32))
    plain = mlp(x).data
    seen = []
    handle = mlp.register_forward_hook(lambda m, args, out: seen.append(out.data))
    np.testing.assert_array_equal(mlp(x, residual=r).data, (r + mlp(x)).data)
    np.testing.assert_array_equal(seen[0], plain)  # its own output, without the residual
    handle.remove()
    handle = mlp.register_forward_hook(lambda m, args, out: out * 0.0)
    np.testing.assert_array_equal(mlp(x, residual=r).data, r.data)  # replaced, then + r
    handle.remove()
    seen.clear()
    handle = mlp.c_proj.register_forward_hook(lambda m, args, out: seen.append(out.data))
    out = mlp(x, residual=r).data
    handle.remove()
    np.testing.assert_array_equal(out, (r + mlp(x)).data)
    np.testing.assert_array_equal(seen[0], plain)  # c_proj's own output too


def test_a_hook_on_c_fc_still_sees_its_output(rng):
    from tinygrad_edu.nn import MLP

    mlp = MLP(8, 16)
    x = Tensor(rng.standard_normal((3, 8)).astype(np.float32))
    fused = mlp(x).data
    seen = []
    handle = mlp.c_fc.register_forward_hook(lambda m, args, out: seen.append(out.data))
    np.testing.assert_array_equal(mlp(x).data, fused)
    handle.remove()
    np.testing.assert_array_equal(seen[0], mlp.c_fc(x).data)
