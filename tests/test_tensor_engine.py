"""The Tensor engine's rules: dtypes, accumulation, graph freeing, no_grad, bad input."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.nn import functional as F

# --- dtypes and construction ------------------------------------------------------------------


def test_dtype_rules_follow_pytorch():
    assert tg.Tensor(1.5).dtype == np.float32
    assert tg.Tensor([[1.0, 2.0]]).dtype == np.float32
    assert tg.Tensor([1, 2]).dtype == np.int64
    assert tg.Tensor([True, False]).dtype == np.bool_
    assert tg.Tensor(np.ones(3)).dtype == np.float64  # an ndarray keeps its dtype
    assert tg.Tensor(np.arange(3, dtype=np.int32)).dtype == np.int32
    assert tg.Tensor([1.0], dtype="float64").dtype == np.float64
    assert tg.Tensor([1, 2], dtype=tg.float32).dtype == np.float32
    x = tg.Tensor(np.ones(3, dtype=np.float32))
    assert (x * 2.5).dtype == np.float32  # a Python scalar does not upcast
    assert (x + np.float64(1)).dtype == np.float32


def test_ndarray_is_shared_not_copied():
    a = np.zeros(3)
    t = tg.Tensor(a)
    a[0] = 7
    assert t.data[0] == 7 and np.shares_memory(np.asarray(t), a)


def test_accessors():
    t = tg.Tensor(np.arange(6.0).reshape(2, 3))
    assert t.shape == (2, 3) and t.size() == (2, 3) and t.size(1) == 3 and t.size(-2) == 2
    assert t.ndim == 2 and t.numel() == 6 and len(t) == 2
    assert t[1, 2].item() == 5.0 and isinstance(t.numpy(), np.ndarray)
    assert t.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert "grad_fn=Mul" in repr(tg.Tensor([1.0], requires_grad=True) * 2)


def test_constructors():
    tg.manual_seed(0)
    a = tg.Tensor.randn(2, 3)
    tg.manual_seed(0)
    b = tg.Tensor.randn((2, 3))
    np.testing.assert_array_equal(a.data, b.data)
    assert a.dtype == np.float32
    assert tg.Tensor.zeros(2, 3).shape == (2, 3) and tg.Tensor.ones(4).data.sum() == 4
    assert tg.Tensor.full((2, 2), 3.0).data.tolist() == [[3.0, 3.0], [3.0, 3.0]]
    assert (
        tg.Tensor.arange(5).dtype == np.int64
        and tg.Tensor.arange(0.0, 1.0, 0.5).dtype == np.float32
    )
    assert tg.Tensor.eye(3).data.trace() == 3
    r = tg.Tensor.rand(1000)
    assert 0 <= r.data.min() and r.data.max() < 1 and abs(r.data.mean() - 0.5) < 0.05


def test_comparisons_give_bool_tensors_without_grad():
    x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    m = x > 1.5
    assert m.dtype == np.bool_ and not m.requires_grad and m.data.tolist() == [False, True, True]
    assert (x == 2.0).data.tolist() == [False, True, False]


# --- autograd semantics ------------------------------------------------------------------------


def test_gradients_accumulate_on_leaves_like_pytorch():
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    (w * 3).sum().backward()
    (w * 3).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [6.0, 6.0])
    w.zero_grad()
    assert w.grad is None


def test_shared_subexpression_gets_both_contributions():
    x = tg.Tensor(3.0, requires_grad=True)
    y = x * x  # used twice below
    z = y + y * 2.0
    z.backward()
    assert x.grad.item() == pytest.approx(3 * 2 * 3.0)  # dz/dx = 3 * 2x


# --- who owns a gradient array (Function.fresh_grads) ------------------------------------


def test_a_weight_keeps_its_fresh_gradient_and_nothing_else_sees_it(backend):
    """Linear declares fresh_grads: its dW becomes weight.grad without a copy. Scaling
    that .grad in place (as clipping does) must then change nothing else."""
    w = tg.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    x = tg.Tensor(np.ones((4, 3)), requires_grad=True)
    y = F.linear(x, w)
    y.retain_grad()
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.data, np.full((2, 3), 4.0))
    w.grad.data *= 0.5
    np.testing.assert_array_equal(y.grad.data, np.ones((4, 2)))
    np.testing.assert_array_equal(x.grad.data, np.tile(np.arange(6.0).reshape(2, 3).sum(0), (4, 1)))
    assert not np.shares_memory(w.grad.data, x.grad.data)


def test_an_op_that_does_not_promise_fresh_gradients_has_them_copied():
    held = np.ones(3)  # an array the op keeps, and returns as a gradient

    class Hold(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return held

    a = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    Hold.apply(a).sum().backward()
    a.grad.data *= 10  # in place, as clip_grad_norm_ does
    np.testing.assert_array_equal(held, np.ones(3))  # the op's own array is untouched
    assert not np.shares_memory(a.grad.data, held)


def test_two_weights_fed_the_same_gradient_array_get_separate_grads():
    a = tg.Tensor([1.0, 2.0], requires_grad=True)
    b = tg.Tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()  # Add hands the very same array to both
    a.grad.data *= 3
    np.testing.assert_array_equal(b.grad.data, [1.0, 1.0])


def test_tied_weight_sums_both_uses_and_owns_the_sum(backend):
    w = tg.Tensor(np.ones((3, 2)), requires_grad=True)  # used by two layers, like wte
    x = tg.Tensor(np.ones((5, 2)))
    h = F.linear(x, w)  # (5, 3)
    out = F.linear(h, w.transpose(0, 1))  # (5, 2): w again
    out.sum().backward()
    W, X, G = np.ones((3, 2)), np.ones((5, 2)), np.ones((5, 2))  # G = dCost/dout
    H = X @ W.T
    dH = G @ W.T  # back through out = H @ W
    want = dH.T @ X + (H.T @ G)  # first use (dW = dH^T X), second use (dW = H^T G)
    np.testing.assert_allclose(w.grad.data, want)


def test_second_backward_through_freed_graph_raises_and_retain_graph_allows_it():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    x.zero_grad()
    y2 = (x.exp() * x).sum()
    y2.backward(retain_graph=True)
    y2.backward()
    np.testing.assert_allclose(
        x.grad.data, 2 * (np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0]))), rtol=1e-6
    )


def test_backward_frees_saved_activations():
    x = tg.Tensor(np.ones((100, 100)), requires_grad=True)
    h = x.exp()
    probe = weakref.ref(h.data)
    loss = (h * 2.0).sum()
    del h
    loss.backward()
    gc.collect()
    assert probe() is None, "exp's saved output should be freed after backward"


def test_deep_chain_has_no_recursion_limit():
    x = tg.Tensor(1.0, requires_grad=True, dtype=np.float64)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    y.backward()
    assert x.grad.item() == 1.0 and y.item() == 100_001.0


def test_no_grad_and_detach():
    w = tg.Tensor([1.0], requires_grad=True)
    with tg.no_grad():
        y = w * 2
    assert not y.requires_grad and y.is_leaf

    @tg.no_grad()
    def f(t):
        return t * 3

    assert not f(w).requires_grad and tg.is_grad_enabled()
    d = (w * 2).detach()
    assert not d.requires_grad
    z = (d * w).sum()
    z.backward()
    assert w.grad.item() == 2.0  # d is a constant


def test_retain_grad_on_intermediate():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.data, 2 * h.data)
    plain = x * 2
    (plain * 1.0).sum().backward()
    assert plain.grad is None  # intermediates do not keep .grad unless asked


def test_non_scalar_backward_needs_grad():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    y.backward(tg.Tensor([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad.data, [2.0, 20.0])
    with pytest.raises(ValueError, match="shape"):
        (x * 2).backward(np.ones(3, dtype=np.float32))


def test_float64_gradients_stay_float64_and_mixed_dtypes():
    x = tg.Tensor(np.ones(3), requires_grad=True)  # float64
    w = tg.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    (x * w).sum().backward()
    assert x.grad.dtype == np.float64 and w.grad.dtype == np.float32


def test_broadcast_gradient_is_summed_to_input_shape():
    x = tg.Tensor(np.ones((4, 3)), requires_grad=True)
    b = tg.Tensor(np.zeros((1, 3)), requires_grad=True)
    c = tg.Tensor(2.0, requires_grad=True, dtype=np.float64)
    ((x + b) * c).sum().backward()
    assert b.grad.shape == (1, 3) and np.all(b.grad.data == 8.0)
    assert c.grad.shape == () and c.grad.item() == 12.0


def test_zero_size_tensors():
    x = tg.Tensor(np.zeros((0, 3)), requires_grad=True)
    y = (x * 2).sum()
    y.backward()
    assert y.item() == 0.0 and x.grad.shape == (0, 3)
    z = tg.Tensor(np.zeros((2, 0))) @ tg.Tensor(np.zeros((0, 4)))
    assert z.shape == (2, 4) and np.all(z.data == 0)


def test_max_returns_values_and_indices():
    x = tg.Tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    v, i = x.max(1)
    assert v.data.tolist() == [5.0, 7.0] and i.data.tolist() == [1, 0] and i.dtype == np.int64
    assert x.max().item() == 7.0 and x.max(dim=0).indices.data.tolist() == [1, 0, 1]
    assert x.argmax().item() == 3


def test_max_gradient_splits_ties():
    x = tg.Tensor([2.0, 2.0, 1.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.data, [0.5, 0.5, 0.0])


def test_dropout_scaling_and_eval_identity():
    tg.manual_seed(0)
    x = tg.Tensor(np.ones((200, 200)), requires_grad=True)
    y = F.dropout(x, p=0.25)
    kept = y.data != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y.data[kept], 1 / 0.75)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, kept / 0.75)
    assert F.dropout(x, p=0.25, training=False) is x


# --- bad input -------------------------------------------------------------------------------


def test_bad_input_raises_named_python_errors():
    with pytest.raises(TypeError, match="numbers"):
        tg.Tensor("hello")
    with pytest.raises(TypeError):
        tg.Tensor([[1.0], [2.0, 3.0]])  # ragged
    with pytest.raises(TypeError, match="floating-point"):
        tg.Tensor([1, 2], requires_grad=True)
    a, b = tg.Tensor(np.ones((2, 3))), tg.Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        a @ b
    with pytest.raises(ValueError):
        a + b
    with pytest.raises(ValueError, match="reshape"):
        a.reshape(4, 2)
    with pytest.raises(IndexError):
        a[5]
    with pytest.raises(IndexError, match="out of range"):
        a.sum(dim=2)
    with pytest.raises(TypeError, match="boolean"):
        a.masked_fill(tg.Tensor([1, 0, 1]), 0.0)
    with pytest.raises(ValueError, match="broadcast"):
        a.masked_fill(np.ones(4, dtype=bool), 0.0)
    with pytest.raises(ValueError, match="item"):
        a.item()
    with pytest.raises(TypeError, match="exponent"):
        a ** "2"


def test_functional_bad_input():
    logits = tg.Tensor(np.zeros((3, 4)))
    with pytest.raises(IndexError, match="outside|out of"):
        F.cross_entropy(logits, np.array([0, 4, 1]))
    with pytest.raises(TypeError, match="integers"):
        F.cross_entropy(logits, np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="targets shape"):
        F.cross_entropy(logits, np.array([0, 1]))
    w = tg.Tensor(np.zeros((5, 2)))
    with pytest.raises(IndexError, match="5"):
        F.embedding(np.array([0, 5]), w)
    with pytest.raises(IndexError, match="-1"):
        F.embedding(np.array([-1]), w)
    with pytest.raises(ValueError, match="weight"):
        F.linear(tg.Tensor(np.zeros((2, 3))), tg.Tensor(np.zeros((4, 5))))
    with pytest.raises(ValueError, match="layer_norm"):
        F.layer_norm(tg.Tensor(np.zeros((2, 3))), (4,))
    with pytest.raises(ValueError, match="attention shapes"):
        F.scaled_dot_product_attention(
            *(tg.Tensor(np.zeros(s)) for s in [(1, 1, 2, 3), (1, 1, 2, 4), (1, 1, 2, 4)])
        )
    with pytest.raises(ValueError, match="dropout"):
        F.dropout(logits, p=1.5)


def test_expand_backward_sums_over_the_broadcast_axes_itself():
    # The op, not the engine, sums: Expand.backward alone gives the input's shape.
    from tinygrad_edu.autograd import Context
    from tinygrad_edu.ops.movement import Expand

    ctx = Context()
    Expand.forward(ctx, np.ones((3, 1)), shape=(4, 3, 5))
    g = np.arange(60, dtype=np.float64).reshape(4, 3, 5)
    (da,) = Expand.backward(ctx, g)
    np.testing.assert_array_equal(da, g.sum(axis=(0, 2)).reshape(3, 1))


def test_ops_keep_shapes_apart_from_their_options():
    # ctx.options is what apply was given; what forward notes for backward goes to
    # ctx.shapes (or ctx.saved), so an op's options read the same before and after.
    a = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    b = tg.Tensor(np.ones(3), requires_grad=True)
    w = tg.Tensor(np.ones((5, 4)), requires_grad=True)
    cases = [
        (a + b, {}, ((2, 3), (3,))),
        (a.sum(1), {"axis": (1,), "keepdims": False}, ((2, 3),)),
        (a.mean(), {"axis": None, "keepdims": False}, ((2, 3),)),
        (a.reshape(3, 2), {"shape": (3, 2)}, ((2, 3),)),
        (tg.cat([a, a], dim=0), {"axis": 0}, ((2, 3), (2, 3))),
        (F.embedding(np.array([1, 4]), w), None, ((5, 4),)),
    ]
    for out, options, shapes in cases:
        fn, ctx, _ = out._node
        if options is not None:
            assert ctx.options == options, fn.__name__
        else:
            assert set(ctx.options) == {"idx"}
        assert ctx.shapes == shapes, fn.__name__
    (a.sum(1).sum() + a.mean() + tg.cat([a, a], dim=0).sum()).backward()
    np.testing.assert_allclose(a.grad.data, np.full((2, 3), 1 + 1 / 6 + 2))


def test_an_op_whose_backward_returns_the_wrong_shape_is_named():
    class Bad(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a.sum(axis=0)

        @staticmethod
        def backward(ctx, g):
            return g  # forgot to broadcast back to (2, 3)

    a = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match="Bad.backward.*shape"):
        Bad.apply(a).sum().backward()


def test_grad_mode_is_per_thread_no_grad_in_two_threads_leaves_it_on():
    # The interleaving that broke a process-wide flag, forced with events:
    # A enters no_grad, B enters, A leaves, B leaves (B had saved A's "off").
    import threading

    model = tg.nn.Linear(4, 3)
    x = tg.Tensor(np.ones((2, 4), dtype=np.float32))
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def thread_a():
        with tg.no_grad():
            a_in.set()
            b_in.wait(5)
            seen["a_inside"] = model(x).requires_grad
        a_out.set()
        seen["a"] = tg.is_grad_enabled()

    def thread_b():
        a_in.wait(5)
        with tg.no_grad():
            b_in.set()
            a_out.wait(5)
        seen["b"] = tg.is_grad_enabled() and model(x).requires_grad

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a_inside": False, "a": True, "b": True}
    assert tg.is_grad_enabled() and model(x).requires_grad


def test_training_in_one_thread_while_another_samples_under_no_grad():
    import threading

    from tinygrad_edu.models.gpt import GPT, GPTConfig

    tg.manual_seed(0)
    cfg = GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8)
    trained, sampler = GPT(cfg), GPT(cfg)
    idx = np.arange(16, dtype=np.int64).reshape(2, 8) % 11
    stop, errors = threading.Event(), []

    def sample():
        try:
            while not stop.is_set():
                sampler.generate(idx[:, :2], max_new_tokens=3)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=sample)
    t.start()
    try:
        for _ in range(30):
            trained.zero_grad()
            _, loss = trained(tg.Tensor(idx), tg.Tensor(idx))
            assert loss.requires_grad
            loss.backward()
            assert all(p.grad is not None for p in trained.parameters())
    finally:
        stop.set()
        t.join()
    assert not errors


def test_ops_on_a_parameter_give_plain_tensors_and_apply_takes_tensors_only():
    w = tg.nn.Parameter(np.ones((4, 3), dtype=np.float32))
    assert type(F.embedding(np.array([1, 2]), w)) is tg.Tensor  # the Parameter is input 0
    assert type(w * 2) is tg.Tensor
    from tinygrad_edu.ops.elementwise import Exp

    with pytest.raises(TypeError, match="Exp.apply takes Tensors"):
        Exp.apply(np.ones(2))


def test_a_float_dimension_is_named():
    x = tg.Tensor(np.ones((2, 3), np.float32))
    for call in (lambda: x.softmax(-1.0), lambda: x.sum(1.0), lambda: x.transpose(0.0, 1)):
        with pytest.raises(TypeError, match="dimensions must be ints"):
            call()
