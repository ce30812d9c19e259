"""The fused optimizer updates (csrc/optim_impl.h) against their NumPy twins.

The kernels perform the twin's operations in the twin's order with no fused
multiply-add, so they agree bit for bit, on every ISA and thread count.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import needs_compiled

from tinygrad_edu.kernels import compiled, reference

pytestmark = needs_compiled

SIZES = [0, 1, 7, 16, 17, 1000, 300_007]  # 300,007 > the threading threshold (2^18)


def _adam_run(mod, p0, grads, decoupled, weight_decay=0.1, lr=1e-2, betas=(0.9, 0.999)):
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for t, g in enumerate(grads, start=1):
        mod.adam_update(p, g, m, v, lr, betas[0], betas[1], 1e-8, weight_decay, t, decoupled)
    return p, m, v


def _sgd_run(mod, p0, grads, momentum, dampening, weight_decay, nesterov, lr=0.1):
    p, buf = p0.copy(), np.zeros_like(p0)
    for t, g in enumerate(grads):
        mod.sgd_update(p, g, buf if momentum else None, lr, momentum, dampening, weight_decay,
                       nesterov, first=(t == 0))  # fmt: skip
    return p, buf


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_matches_twin_bit_for_bit(isa, nthreads, n, dtype, decoupled, rng):
    p0 = rng.standard_normal(n).astype(dtype)
    grads = [rng.standard_normal(n).astype(dtype) for _ in range(4)]
    got = _adam_run(compiled, p0, grads, decoupled)
    want = _adam_run(reference, p0, grads, decoupled)
    for name, a, b in zip("pmv", got, want):
        np.testing.assert_array_equal(a, b, err_msg=name)
    if n:
        assert not np.array_equal(got[0], p0)  # it did move


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "momentum, dampening, weight_decay, nesterov",
    [(0.0, 0.0, 0.0, False), (0.0, 0.0, 0.01, False), (0.9, 0.0, 0.0, False),
     (0.9, 0.2, 0.05, False), (0.9, 0.0, 0.01, True)],
)  # fmt: skip
def test_sgd_matches_twin_bit_for_bit(
    isa, nthreads, n, dtype, momentum, dampening, weight_decay, nesterov, rng
):
    p0 = rng.standard_normal(n).astype(dtype)
    grads = [rng.standard_normal(n).astype(dtype) for _ in range(3)]
    args = (momentum, dampening, weight_decay, nesterov)
    got, want = _sgd_run(compiled, p0, grads, *args), _sgd_run(reference, p0, grads, *args)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_plain_sgd_is_one_line_of_lecture_2(rng):
    p = rng.standard_normal((3, 4)).astype(np.float32)
    g = rng.standard_normal((3, 4)).astype(np.float32)
    want = p - np.float32(0.5) * g
    compiled.sgd_update(p, g, None, 0.5)
    np.testing.assert_array_equal(p, want)


def test_adam_first_step_moves_each_weight_by_lr(rng):
    # After one step the bias-corrected m / sqrt(v) is g / (|g| + eps), about +-1:
    # every weight moves by about lr, however large or small its gradient.
    p0 = rng.standard_normal(100)
    g = rng.standard_normal(100) * 10.0 ** rng.integers(-3, 3, 100)
    p, _, _ = _adam_run(compiled, p0, [g], decoupled=False, weight_decay=0.0, lr=0.01)
    np.testing.assert_allclose(p, p0 - 0.01 * g / (np.abs(g) + 1e-8), rtol=0, atol=1e-14)
    np.testing.assert_allclose(np.abs(p - p0), 0.01, rtol=1e-3)


def test_multidimensional_and_strided_arrays(rng):
    # 2-D parameter: updated in place, same numbers as the flat update.
    p0 = rng.standard_normal((33, 65)).astype(np.float32)
    g = rng.standard_normal((33, 65)).astype(np.float32)
    flat = _adam_run(compiled, p0.ravel(), [g.ravel()], True)
    p2, m2, v2 = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    compiled.adamw_update(p2, g, m2, v2, 1e-2, 0.9, 0.999, 1e-8, 0.1, 1)
    np.testing.assert_array_equal(p2.ravel(), flat[0])
    # A strided gradient is copied; a strided parameter is updated through the twin.
    big = rng.standard_normal((66, 65)).astype(np.float32)
    p3, m3, v3 = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    compiled.adamw_update(
        p3, np.ascontiguousarray(big[::2]), m3, v3, 1e-2, 0.9, 0.999, 1e-8, 0.1, 1
    )
    p4, m4, v4 = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    compiled.adamw_update(p4, big[::2], m4, v4, 1e-2, 0.9, 0.999, 1e-8, 0.1, 1)
    np.testing.assert_array_equal(p3, p4)
    holder = np.zeros((65, 33), dtype=np.float32)
    pT = holder.T  # a transposed view: not C-contiguous
    pT[...] = p0
    mT, vT = np.zeros_like(p0), np.zeros_like(p0)
    compiled.adamw_update(pT, big[::2], mT, vT, 1e-2, 0.9, 0.999, 1e-8, 0.1, 1)
    np.testing.assert_array_equal(holder.T, p3)  # the view's storage was updated
    bufT = np.zeros((65, 33), dtype=np.float32).T
    q = p0.copy()
    compiled.sgd_update(q, g, bufT, 0.1, momentum=0.9, first=True)
    np.testing.assert_array_equal(bufT, g)


def test_bad_inputs_raise_python_errors():
    p = np.zeros(4, dtype=np.float32)
    z = np.zeros(4, dtype=np.float32)
    with pytest.raises(ValueError, match=r"g has shape \(5,\), but p has shape \(4,\)"):
        compiled.adam_update(p, np.zeros(5, np.float32), z, z.copy(), 1e-3, 0.9, 0.999, 1e-8, 0, 1)
    with pytest.raises(TypeError, match="p is float32, m is float64"):
        compiled.adam_update(p, z, np.zeros(4), z.copy(), 1e-3, 0.9, 0.999, 1e-8, 0, 1)
    with pytest.raises(TypeError, match="float32 or float64"):
        compiled.sgd_update(np.zeros(4, dtype=np.int64), z, None, 0.1)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        compiled.sgd_update(p, [0.0] * 4, None, 0.1)
    with pytest.raises(ValueError, match="step counts from 1"):
        compiled.adam_update(p, z, z.copy(), z.copy(), 1e-3, 0.9, 0.999, 1e-8, 0, 0)
    with pytest.raises(ValueError, match="momentum needs a buffer"):
        compiled.sgd_update(p, z, None, 0.1, momentum=0.9)
    frozen = np.zeros(4, dtype=np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="p is read-only"):
        compiled.sgd_update(frozen, z, None, 0.1)
    with pytest.raises(ValueError, match="v is read-only"):
        compiled.adam_update(p, z, z.copy(), frozen, 1e-3, 0.9, 0.999, 1e-8, 0, 1)


@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_matches_torch(decoupled, rng):
    torch = pytest.importorskip("torch")
    p0 = rng.standard_normal(1000).astype(np.float32)
    grads = [rng.standard_normal(1000).astype(np.float32) for _ in range(5)]
    p, _, _ = _adam_run(compiled, p0, grads, decoupled)
    tp = torch.tensor(p0.copy(), requires_grad=True)
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    opt = cls([tp], lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
    for g in grads:
        tp.grad = torch.from_numpy(g)
        opt.step()
    # PyTorch's vectorised add uses a fused multiply-add: a few float32 ulps apart.
    np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-6, atol=1e-6)
