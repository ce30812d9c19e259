"""Every Tensor op, three ways: finite differences (float64), PyTorch, and both backends.

Each spec is written once against a small `lib` namespace, so the very same
lambda runs on tinygrad_edu and on torch: `lambda L, a, b: L.F.softmax(a @ b, dim=0)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Callable

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.gradcheck import gradcheck
from tinygrad_edu.nn import functional as TF

OURS = SimpleNamespace(
    F=TF, cat=tg.cat, stack=tg.stack, where=tg.where, const=lambda a: tg.Tensor(a)
)


def _torch_lib():
    torch = pytest.importorskip("torch")
    return torch, SimpleNamespace(
        F=torch.nn.functional,
        cat=torch.cat,
        stack=torch.stack,
        where=torch.where,
        const=lambda a: torch.from_numpy(np.asarray(a)),
    )


@dataclass
class Spec:
    name: str
    fn: Callable
    shapes: list
    positive: bool = False  # inputs drawn in [0.5, 2] (log, sqrt, fractional powers)
    kwargs: dict = field(default_factory=dict)

    def inputs(self, seed: int = 0) -> list[np.ndarray]:
        r = np.random.default_rng(seed)
        if self.positive:
            return [r.uniform(0.5, 2.0, s) for s in self.shapes]
        return [r.standard_normal(s) for s in self.shapes]


IDX = np.array([[0, 3, 3], [1, 0, 4]])  # embedding ids, with a repeat (3)
TARGETS = np.array([1, 0, 4, -100, 2])  # class ids, one ignored row
CAUSAL = np.tril(np.ones((4, 4), dtype=bool))

SPECS = [
    Spec("add_broadcast", lambda L, a, b: a + b, [(3, 4), (4,)]),
    Spec("add", lambda L, a, b: a + b, [(3, 4), (3, 4)]),  # same shapes: the compiled add
    Spec("residual", lambda L, a: a + (a * a).tanh(), [(3, 4)]),  # two gradients meet in a
    Spec("sub_broadcast", lambda L, a, b: a - b, [(3, 1), (1, 4)]),
    Spec("mul_broadcast", lambda L, a, b: a * b, [(2, 3, 4), (3, 1)]),
    Spec("div", lambda L, a, b: a / b, [(3, 4), (3, 4)], positive=True),
    Spec("scalar_ops", lambda L, a: 2.0 - a * 3.0 + 1.0 / (a + 4.0), [(5,)], positive=True),
    Spec("pow", lambda L, a: a**2.5, [(3, 4)], positive=True),
    Spec("neg", lambda L, a: -a, [(3, 4)]),
    Spec("exp", lambda L, a: a.exp(), [(3, 4)]),
    Spec("log", lambda L, a: a.log(), [(3, 4)], positive=True),
    Spec("sqrt", lambda L, a: a.sqrt(), [(3, 4)], positive=True),
    Spec("relu", lambda L, a: a.relu(), [(3, 4)]),
    Spec("sigmoid", lambda L, a: a.sigmoid(), [(3, 4)]),
    Spec("tanh", lambda L, a: a.tanh(), [(3, 4)]),
    Spec("gelu", lambda L, a: L.F.gelu(a), [(3, 5)]),
    Spec("gelu_tanh", lambda L, a: L.F.gelu(a, approximate="tanh"), [(3, 5)]),
    Spec("abs", lambda L, a: a.abs(), [(3, 4)]),
    Spec("clamp", lambda L, a: a.clamp(-0.5, 0.7), [(4, 5)]),
    Spec("maximum", lambda L, a, b: a.maximum(b), [(3, 4), (3, 4)]),
    Spec(
        "where",
        lambda L, a, b: L.where(L.const(np.arange(12).reshape(3, 4) % 3 == 0), a, b),
        [(3, 4), (3, 4)],
    ),
    Spec("sum_all", lambda L, a: a.sum(), [(3, 4)]),
    Spec("sum_dim", lambda L, a: a.sum(1), [(3, 4, 2)]),
    Spec("sum_dims_keep", lambda L, a: a.sum((0, 2), keepdim=True), [(3, 4, 2)]),
    Spec("mean_dim", lambda L, a: a.mean(-1), [(3, 4)]),
    Spec("mean_all", lambda L, a: a.mean(), [(3, 4)]),
    Spec("var", lambda L, a: a.var(1), [(3, 5)]),
    Spec("max_all", lambda L, a: a.max(), [(3, 4)]),
    Spec("max_dim", lambda L, a: a.max(1)[0], [(3, 4)]),
    Spec("max_dim_keep", lambda L, a: a.max(0, keepdim=True)[0], [(3, 4)]),
    Spec(
        "reshape",
        lambda L, a: a.reshape(4, 3) * L.const(np.arange(12, dtype=np.float32).reshape(4, 3)),
        [(3, 4)],
    ),
    Spec(
        "view_infer", lambda L, a: a.view(-1) * L.const(np.arange(12, dtype=np.float32)), [(3, 4)]
    ),
    Spec("permute", lambda L, a: a.permute(2, 0, 1), [(2, 3, 4)]),
    Spec("transpose", lambda L, a: a.transpose(0, 2), [(2, 3, 4)]),
    Spec("T", lambda L, a: a.T @ a, [(3, 4)]),
    Spec("unsqueeze_expand", lambda L, a: a.unsqueeze(0).expand(3, 2, 4), [(2, 4)]),
    Spec("flatten", lambda L, a: a.flatten(1), [(2, 3, 4)]),
    Spec("getitem_slice", lambda L, a: a[1:, ::2], [(4, 5)]),
    Spec("getitem_int_array_repeats", lambda L, a: a[L.const(np.array([0, 2, 0]))], [(4, 3)]),
    Spec("getitem_int_and_slice", lambda L, a: a[1:3, -1], [(4, 3)]),
    Spec("cat", lambda L, a, b: L.cat([a, b, a], dim=1), [(2, 3), (2, 2)]),
    Spec("stack", lambda L, a, b: L.stack([a, b], dim=1), [(2, 3), (2, 3)]),
    Spec("split", lambda L, a: a.split(2, dim=1)[1] * 2.0, [(3, 5)]),
    Spec("matmul_2d", lambda L, a, b: a @ b, [(3, 4), (4, 5)]),
    Spec("matmul_vec_mat", lambda L, a, b: a @ b, [(4,), (4, 5)]),
    Spec("matmul_mat_vec", lambda L, a, b: a @ b, [(3, 4), (4,)]),
    Spec("matmul_dot", lambda L, a, b: a @ b, [(4,), (4,)]),
    Spec("matmul_batched", lambda L, a, b: a @ b, [(2, 3, 4), (2, 4, 5)]),
    Spec("matmul_broadcast_weight", lambda L, a, b: a @ b, [(2, 3, 4), (4, 5)]),
    Spec("matmul_broadcast_batch", lambda L, a, b: a @ b, [(2, 1, 3, 4), (3, 4, 2)]),
    Spec("linear", lambda L, x, w, b: L.F.linear(x, w, b), [(2, 3, 4), (5, 4), (5,)]),
    Spec("linear_nobias", lambda L, x, w: L.F.linear(x, w), [(3, 4), (5, 4)]),
    Spec("softmax_last", lambda L, a: L.F.softmax(a, dim=-1), [(3, 5)]),
    Spec("softmax_dim0", lambda L, a: L.F.softmax(a, dim=0), [(3, 5)]),
    Spec("log_softmax", lambda L, a: L.F.log_softmax(a, dim=-1), [(2, 3, 5)]),
    Spec("cross_entropy", lambda L, a: L.F.cross_entropy(a, L.const(TARGETS)), [(5, 6)]),
    Spec(
        "masked_fill", lambda L, a: a.masked_fill(L.const(~CAUSAL), -1e9).softmax(-1), [(2, 4, 4)]
    ),
    Spec("embedding", lambda L, w: L.F.embedding(L.const(IDX), w), [(5, 3)]),
    Spec("layer_norm", lambda L, x, w, b: L.F.layer_norm(x, (6,), w, b), [(2, 3, 6), (6,), (6,)]),
    Spec("layer_norm_nobias", lambda L, x, w: L.F.layer_norm(x, (6,), w, None), [(4, 6), (6,)]),
    Spec("mse_loss", lambda L, a, b: L.F.mse_loss(a, b), [(3, 4), (3, 4)]),
    Spec("sdpa", lambda L, q, k, v: L.F.scaled_dot_product_attention(q, k, v), [(1, 2, 3, 4)] * 3),
    Spec(
        "sdpa_causal",
        lambda L, q, k, v: L.F.scaled_dot_product_attention(q, k, v, is_causal=True),
        [(2, 2, 4, 3)] * 3,
    ),
    Spec(
        "sdpa_mask",
        lambda L, q, k, v: L.F.scaled_dot_product_attention(q, k, v, attn_mask=L.const(CAUSAL)),
        [(1, 1, 4, 3)] * 3,
    ),
]
IDS = [s.name for s in SPECS]


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_gradient_matches_finite_differences(spec, backend):
    gradcheck(lambda *xs: spec.fn(OURS, *xs), *spec.inputs())


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_values_and_gradients_match_pytorch(spec, dtype, backend):
    torch, TL = _torch_lib()
    xs = [x.astype(dtype) for x in spec.inputs(seed=1)]
    ours = [tg.Tensor(x.copy(), requires_grad=True) for x in xs]
    theirs = [torch.tensor(x.copy(), requires_grad=True) for x in xs]
    out, ref = spec.fn(OURS, *ours), spec.fn(TL, *theirs)
    tol = 1e-10 if dtype == np.float64 else 2e-5
    assert out.dtype == np.dtype(dtype), f"{spec.name}: {dtype} in, {out.dtype} out"
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=tol, atol=tol)
    w = np.random.default_rng(2).standard_normal(out.shape).astype(dtype)
    (out * tg.Tensor(w)).sum().backward()
    (ref * torch.from_numpy(w)).sum().backward()
    for k, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(
            a.grad.data,
            b.grad.numpy(),
            rtol=tol * 10,
            atol=tol * 10,
            err_msg=f"{spec.name}: gradient of input {k}",
        )


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_backends_agree(spec):
    from tinygrad_edu import kernels

    if kernels.compiled is None:
        pytest.skip("compiled kernels not built")
    results = {}
    for name in ("reference", "compiled"):
        kernels.use_backend(name)
        try:
            ts = [tg.Tensor(x.astype(np.float32), requires_grad=True) for x in spec.inputs(seed=3)]
            out = spec.fn(OURS, *ts)
            out.sum().backward()
            results[name] = [out.data] + [t.grad.data for t in ts]
        finally:
            kernels.use_backend("compiled")
    for a, b in zip(results["reference"], results["compiled"]):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5)


def test_negative_strides_and_boolean_masks():
    """Torch has no negative slice steps, so these are checked by finite differences only."""
    gradcheck(
        lambda a: a[::-1, 1] * a[1:, ::-2].sum(), np.random.default_rng(0).standard_normal((4, 3))
    )
    gradcheck(lambda a: a[a.data > 0] ** 2, np.random.default_rng(1).standard_normal((3, 4)))


def test_add_of_float16_tensors_is_numpys():
    """The kernels take float32/float64 only; a float16 sum is NumPy's, not their TypeError."""
    a = tg.Tensor(np.array([1.5, -2.25, 3.0], dtype=np.float16), requires_grad=True)
    b = tg.Tensor(np.array([0.25, 2.25, 4.0], dtype=np.float16))
    y = a + b
    assert y.dtype == np.float16
    np.testing.assert_array_equal(y.data, a.data + b.data)
    y.sum().backward()
    np.testing.assert_array_equal(a.grad.data, np.ones(3, dtype=np.float16))
