"""One check per exercise: the learner's function against the library's own code.

Every expected value below comes from the library (the function named in the
exercise's docstring), never from a copy of its formula here: if the library changes,
the exercises follow. A check runs the learner's function on several inputs, edge cases
included, and raises harness.Failed at the first mismatch (harness.NotStarted if the
function still raises NotImplementedError). Gradients are also compared with finite
differences of the library's forward, in float64.
"""

from __future__ import annotations

import math
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import rlhf, rng
from ..autograd import no_grad
from ..data.loader import DataLoader
from ..data.toy import make_moons
from ..distributed import World, shard
from ..kernels import reference
from ..nn import functional as F
from ..nn.transformer import MLP, CausalSelfAttention
from ..scalar import MLP as ScalarMLP
from ..scalar import Neuron, Value, _walk
from ..tensor import Tensor
from ..tokenizer import _learn_merges_naive, merge_pair
from .catalog import get
from .diagnoses import diagnose
from .harness import (
    Failed,
    NotStarted,
    against_differences,
    array,
    call,
    describe,
    expect_raise,
    explain_exception,
    function_of,
    gradient_by_differences,
    number,
    parts,
    show,
)
from .workspace import is_pristine

CHECKS: dict[str, Callable[[Any], None]] = {}


def check(name: str):
    """Register fn as the check of exercise `name`. When it fails, the exercise's known
    mistakes (diagnoses.py) are tried on the learner's code, and the first that matches
    is added to the message."""

    def register(fn):
        def checked(module) -> None:
            try:
                fn(module)
            except Failed as exc:
                found = diagnose(name, module)
                if found is None:
                    raise
                raise Failed(f"{exc}\n  -> {found}") from None

        checked.__doc__, checked.__name__ = fn.__doc__, fn.__name__
        CHECKS[name] = checked
        return fn

    return register


def _rng(seed: int = 17) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- lesson 1 -----------------------------------------------------------------------------------


@check("neuron_output")
def check_neuron_output(m) -> None:
    cases = [
        ([0.5, -1.0, 2.0], [1.0, 2.0, 3.0], 0.1, "relu"),
        ([0.5, -1.0, 2.0], [1.0, 2.0, -3.0], 0.1, "relu"),  # negative: ReLU gives 0
        ([0.3], [2.0], -0.6, "relu"),  # exactly 0
        ([1.5, -0.5], [0.2, 0.4], 0.25, "sigmoid"),
        ([-4.0, 2.0, 1.0, 0.5], [3.0, 1.0, 2.0, 4.0], -1.0, "sigmoid"),
        ([0.0, 0.0], [5.0, -5.0], 0.0, "sigmoid"),
    ]
    for weights, inputs, bias, activation in cases:
        neuron = Neuron(len(weights), activation, seed=0)
        for w, value in zip(neuron.weights, weights):
            w.data = value
        neuron.bias.data = bias
        expected = neuron(inputs).data
        got, desc = call(m, "neuron_output", list(weights), list(inputs), bias, activation)
        number(desc, expected, got)


@check("sigmoid")
def check_sigmoid(m) -> None:
    for x in [0.0, 1.0, -2.5, 30.0, -30.0, 800.0, -800.0]:
        got, desc = call(m, "sigmoid", x)
        number(desc, Value(x).sigmoid().data, got)
    for x in [0.0, 1.0, -2.5, 30.0, -30.0, 800.0, -800.0]:
        v = Value(x)
        v.sigmoid().backward()
        got, desc = call(m, "sigmoid_prime", x)
        number(desc, v.grad, got)
    for x in [0.3, -1.7]:
        got, desc = call(m, "sigmoid_prime", x)
        slope = gradient_by_differences(lambda a: Value(float(a[0])).sigmoid().data, np.array([x]))
        against_differences(desc, slope[0], got, "the slope", "Value.sigmoid")


# --- lesson 2 -----------------------------------------------------------------------------------


@check("mse_cost")
def check_mse_cost(m) -> None:
    r = _rng()
    cases = [
        (np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0])),  # a perfect fit costs 0
        (r.standard_normal(5), r.standard_normal(5)),
        (r.standard_normal((3, 4)), r.standard_normal((3, 4))),
        (np.array([2.5]), np.array([-1.0])),
    ]
    for prediction, target in cases:
        expected = F.mse_loss(Tensor(prediction), target).item()
        got, desc = call(m, "mse_cost", prediction.copy(), target.copy())
        number(desc, expected, got)


@check("gradient_descent_step")
def check_gradient_descent_step(m) -> None:
    xs = [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0]  # lesson 2's points
    ys = [-3.2, -0.8, 1.1, 2.9, 5.2, 6.8]
    cases = [
        (0.0, 0.0, xs, ys, 0.05),
        (2.5, -1.0, xs, ys, 0.1),
        (1.0, 1.0, [2.0], [3.0], 0.2),  # one point, already on the line: no move
        (0.5, 0.5, [1.0, -1.0], [0.0, 4.0], 0.3),
        (3.0, -2.0, xs, ys, 0.0),  # learning rate 0: no move
    ]
    for w0, b0, px, py, lr in cases:
        w, b = Value(w0), Value(b0)
        total = Value(0.0)
        for x, y in zip(px, py):
            total = total + (w * x + b - y) ** 2
        cost = total / len(px)  # the mean squared error, as the lesson builds it
        cost.backward()
        expected = (w.data - lr * w.grad, b.data - lr * b.grad)
        got, desc = call(m, "gradient_descent_step", w0, b0, list(px), list(py), lr)
        got = parts(desc, got, ("w", "b"))
        number(desc, expected[0], got[0], "the new w")
        number(desc, expected[1], got[1], "the new b")


# --- lesson 3 -----------------------------------------------------------------------------------


def _grads_after(op: Callable, data: list, grads: list, out_grad: float, learner=None):
    """Fresh leaves with these data and grads, out = op(*leaves), out.grad = out_grad;
    then out's backward (the library's, or the learner's function). -> (leaves, out)."""
    leaves = [Value(d) for d in data]
    for leaf, g in zip(leaves, grads):
        leaf.grad = g
    out = op(*leaves)
    out.grad = out_grad
    if learner is None:
        out._backward(out.grad)
    else:
        learner(leaves, out)
    return leaves, out


@check("mul_backward")
def check_mul_backward(m) -> None:
    cases = [  # (a, b, a.grad before, b.grad before, out.grad, the same Value twice?)
        (2.0, -3.0, 0.0, 0.0, 1.0, False),
        (0.5, 4.0, 0.0, 0.0, -2.0, False),
        (2.0, -3.0, 0.5, -1.0, 2.0, False),  # grads accumulate: +=, never =
        (3.0, 3.0, 0.0, 0.0, 1.5, True),  # x * x: both shares land on x
        (0.0, 7.0, 0.0, 0.0, 1.0, False),
    ]
    for a, b, ga, gb, g, same in cases:
        if same:
            op, data, grads = (lambda x: x * x), [a], [ga]
        else:
            op, data, grads = (lambda x, y: x * y), [a, b], [ga, gb]
        want, _ = _grads_after(op, data, grads, g)
        result = {}

        def learner(leaves, out, same=same, result=result):
            args = (leaves[0], leaves[0], out) if same else (leaves[0], leaves[1], out)
            result["desc"] = describe("mul_backward", *args)
            call(m, "mul_backward", *args, shown=result["desc"])

        got, _ = _grads_after(op, data, grads, g, learner)
        for name, w, h in zip(("a.grad", "b.grad"), want, got):
            number(result["desc"], w.grad, h.grad, f"afterwards {name}")


@check("tanh_backward")
def check_tanh_backward(m) -> None:
    cases = [(0.5, 0.0, 1.0), (0.0, 0.0, 2.0), (-3.0, 0.25, -1.0), (20.0, 0.0, 1.0)]
    for x, gx, g in cases:
        (want,), _ = _grads_after(Value.tanh, [x], [gx], g)
        shown = {}

        def learner(leaves, out, shown=shown):
            shown["desc"] = describe("tanh_backward", leaves[0], out)
            call(m, "tanh_backward", leaves[0], out, shown=shown["desc"])

        (got,), _ = _grads_after(Value.tanh, [x], [gx], g, learner)
        number(shown["desc"], want.grad, got.grad, "afterwards x.grad")
    x = 0.7  # the slope the learner's rule gives, against finite differences
    (got,), _ = _grads_after(
        Value.tanh, [x], [0.0], 1.0, lambda leaves, out: call(m, "tanh_backward", leaves[0], out)
    )
    slope = gradient_by_differences(lambda a: Value(float(a[0])).tanh().data, np.array([x]))
    against_differences(
        f"tanh_backward at x = {x} with out.grad = 1", slope[0], got.grad, "x.grad", "Value.tanh"
    )


def _graphs() -> list:
    """(description, root) pairs: from a single leaf to a chain of 5,000 operations."""
    a, b, c, f = Value(2.0, "a"), Value(-3.0, "b"), Value(10.0, "c"), Value(-2.0, "f")
    shared = Value(1.5, "x")
    chain = Value(0.5, "start")
    for _ in range(5000):
        chain = chain * 1.0001 + 0.0001
    return [
        ("a single Value(2.0)", Value(2.0)),
        ("the graph of x * 2 + x (x used twice)", shared * 2 + shared),
        ("the graph of tanh((a * b + c) * f)", ((a * b + c) * f).tanh()),
        ("the graph of a 3-input Neuron", Neuron(3, "sigmoid", seed=0)([1.0, -2.0, 0.5])),
        ("a chain of 10,000 operations", chain),
    ]


def _node(v: Value) -> str:
    op = f" made by '{v._op}'" if v._op else " (a leaf)"
    return f"Value(data={v.data:.6g}){op}"


@check("topological_sort")
def check_topological_sort(m) -> None:
    for what, root in _graphs():
        desc = f"topological_sort on {what}"
        got, _ = call(m, "topological_sort", root, shown=desc)
        if not isinstance(got, (list, tuple)):
            raise Failed(f"{desc}: expected a list of Values, got {type(got).__name__} {show(got)}")
        nodes = _walk(root)  # the library's: every Value root depends on, root included
        in_graph = {id(v) for v in nodes}
        position: dict[int, int] = {}
        for i, v in enumerate(got):
            if not isinstance(v, Value):
                raise Failed(f"{desc}: item {i} is {type(v).__name__} {show(v)}, not a Value")
            if id(v) not in in_graph:
                raise Failed(f"{desc}: item {i}, {_node(v)}, is not part of the graph")
            if id(v) in position:
                raise Failed(
                    f"{desc}: {_node(v)} appears twice (items {position[id(v)]} and {i}); "
                    "a node shared by two paths must be listed once"
                )
            position[id(v)] = i
        if len(position) != len(nodes):
            missing = next(v for v in nodes if id(v) not in position)
            raise Failed(
                f"{desc}: expected all {len(nodes)} Values, got {len(position)}; "
                f"missing for example {_node(missing)}"
            )
        for v in got:
            for child in v._prev:
                if position[id(child)] > position[id(v)]:
                    raise Failed(
                        f"{desc}: {_node(v)} (item {position[id(v)]}) comes before its child "
                        f"{_node(child)} (item {position[id(child)]}); every node must come "
                        "after the nodes it was made from"
                    )


def _engine_call(module: Any, desc: str, fn: Callable[[], Any]) -> Any:
    """fn() on the learner's Value class: NotStarted for a method still to write, Failed
    (naming the method and line) for an exception."""
    try:
        return fn()
    except NotImplementedError as exc:
        method = "Value"
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename == str(module.__file__):
                method = f"Value.{frame.name}"
        if is_pristine(Path(module.__file__), get("micro_engine")):
            raise NotStarted(method) from None
        raise Failed(f"{desc}: `{method}` still raises NotImplementedError") from None
    except (Exception, SystemExit) as exc:
        raise Failed(f"{desc} raised {explain_exception(exc, module.__file__)}") from None


_EXPRESSIONS = [  # (the expression, as a function of the leaves a, b, c)
    ("a + b", lambda a, b, c: a + b),
    ("a * b", lambda a, b, c: a * b),
    ("2 * a + 1 (plain numbers on either side)", lambda a, b, c: 2 * a + 1),
    ("a * b + c", lambda a, b, c: a * b + c),
    ("(a * b + c).tanh()", lambda a, b, c: (a * b + c).tanh()),
    ("(a * b + c).relu()", lambda a, b, c: (a * b + c).relu()),
    ("(a * b).relu() * c", lambda a, b, c: (a * b).relu() * c),
    ("a * a + a (a used twice)", lambda a, b, c: a * a + a),
    ("(a - b).tanh() * (1 - c)", lambda a, b, c: (a - b).tanh() * (1 - c)),
]


def _mlp_layers(make: Callable, model) -> list:
    """A scalar MLP's weights as Values of class `make`: [(rows of weights, biases, act)]."""
    return [
        ([[make(w.data) for w in n.weights] for n in layer.neurons],
         [make(n.bias.data) for n in layer.neurons], layer.activation)
        for layer in model.layers
    ]  # fmt: skip


def _train(layers: list, points: list, labels: list, steps: int) -> list:
    """micrograd's loop (scalar.train_max_margin) on Values of any class with +, *,
    relu and backward; the same expressions in the same order. -> the loss per step."""
    params = [p for rows, biases, _ in layers for row, b in zip(rows, biases) for p in row + [b]]
    losses = []
    for k in range(steps):
        scores = []
        for x in points:
            acts = x
            for rows, biases, activation in layers:
                out = []
                for row, bias in zip(rows, biases):
                    z = bias
                    for w, a in zip(row, acts):
                        z = z + w * a
                    out.append(z.relu() if activation == "relu" else z)
                acts = out
            scores.append(acts[0])
        hinge = [(1 + -y * s).relu() for y, s in zip(labels, scores)]
        loss = sum(hinge) * (1.0 / len(hinge)) + 1e-4 * sum(p * p for p in params)
        for p in params:
            p.grad = 0.0
        loss.backward()
        for p in params:
            p.data -= (1.0 - 0.9 * k / steps) * p.grad
        losses.append(loss.data)
    return losses


@check("micro_engine")
def check_micro_engine(m) -> None:
    V = function_of(m, "Value")
    for a0, b0, c0 in [(2.0, -3.0, 10.0), (0.5, 1.5, -0.25), (-1.0, 0.5, 0.2)]:
        for text, expression in _EXPRESSIONS:
            desc = f"your Value: {text} with a, b, c = {a0:g}, {b0:g}, {c0:g}"
            want_leaves = [Value(a0), Value(b0), Value(c0)]
            want = expression(*want_leaves)
            want.backward()
            leaves = _engine_call(m, desc, lambda a0=a0, b0=b0, c0=c0: [V(a0), V(b0), V(c0)])
            got = _engine_call(m, desc, lambda e=expression, xs=leaves: e(*xs))
            number(desc, want.data, getattr(got, "data", got), "its .data")
            _engine_call(m, f"{desc}, then backward()", lambda out=got: out.backward())
            for name, w, g in zip("abc", want_leaves, leaves):
                number(f"{desc}, then backward()", w.grad, g.grad, f"{name}.grad")
    # a network of your Values, trained beside the library's: the same loss at every step
    X, y = make_moons(30, noise=0.1, seed=0)
    points, labels = X.tolist(), [2.0 * int(k) - 1.0 for k in y]
    start = ScalarMLP(2, [8, 1], seed=3)
    steps = 15
    want = _train(_mlp_layers(Value, start), points, labels, steps)
    desc = f"training a 2-8-1 network of your Values on the two moons ({len(points)} points)"
    got = _engine_call(m, desc, lambda: _train(_mlp_layers(V, start), points, labels, steps))
    for k, (w, g) in enumerate(zip(want, got)):
        number(f"{desc}: at step {k}", w, g, "the loss", rtol=1e-6, atol=1e-9)


# --- lesson 4 -----------------------------------------------------------------------------------


@check("minibatches")
def check_minibatches(m) -> None:
    """Many answers are right (any shuffle will do), so this checks properties: every
    index exactly once (all but the remainder with drop_last), the sizes, not the sorted
    order, the same batches for the same seed, other batches for another seed."""
    cases = [(10, 3, 0, False), (10, 3, 0, True), (8, 4, 1, False), (5, 10, 2, False),
             (5, 10, 2, True), (0, 4, 0, False), (7, 1, 3, False), (64, 16, 4, False)]  # fmt: skip
    for n, batch_size, seed, drop_last in cases:
        sizes = [len(b) for b in DataLoader(np.arange(n), batch_size=batch_size,
                 drop_last=drop_last, as_tensors=False)]  # fmt: skip
        got, desc = call(m, "minibatches", n, batch_size, seed, drop_last)
        batches = _index_batches(desc, got)
        if [len(b) for b in batches] != sizes:
            raise Failed(
                f"{desc}: expected {len(sizes)} batches of sizes {sizes}, got "
                f"{len(batches)} of sizes {[len(b) for b in batches]}"
            )
        order = [int(i) for b in batches for i in b]
        seen: dict = {}
        for position, i in enumerate(order):
            if not 0 <= i < n:
                raise Failed(
                    f"{desc}: index {i} (batch {position // batch_size}) is not in 0..{n - 1}"
                )
            if i in seen:
                raise Failed(
                    f"{desc}: index {i} appears twice (batches {seen[i] // batch_size} and "
                    f"{position // batch_size}); each example is used once per epoch"
                )
            seen[i] = position
        if n >= 8 and order == sorted(order):
            raise Failed(
                f"{desc}: the indices come in sorted order {show(np.array(order))}: shuffle "
                "them first, or sorted data teaches the network one class at a time"
            )
        again, _ = call(m, "minibatches", n, batch_size, seed, drop_last)
        if [[int(i) for i in b] for b in _index_batches(desc, again)] != [
            [int(i) for i in b] for b in batches
        ]:
            raise Failed(f"{desc}: called twice with seed {seed}, it gave other batches: "
                         "use the seed, so that a run can be repeated")  # fmt: skip
    first, desc = call(m, "minibatches", 64, 64, 0, False)
    other, desc_other = call(m, "minibatches", 64, 64, 1, False)
    a, b = _index_batches(desc, first), _index_batches(desc_other, other)
    if [int(i) for i in a[0]] == [int(i) for i in b[0]]:
        raise Failed(
            f"{desc} and {desc_other} gave the same order: the seed must choose the shuffle"
        )


def _index_batches(desc: str, got: Any) -> list:
    """got as a list of 1-D integer sequences, or Failed saying what it is instead."""
    try:
        batches = [np.asarray(b) for b in got]
    except TypeError:
        raise Failed(f"{desc}: expected a list of index arrays, got {show(got)}") from None
    for i, b in enumerate(batches):
        if b.ndim != 1 or not (np.issubdtype(b.dtype, np.integer) or b.size == 0):
            raise Failed(
                f"{desc}: batch {i} should be a 1-D array of integer indices, got {show(b)}"
            )
    return batches


@check("cross_entropy_grad")
def check_cross_entropy_grad(m) -> None:
    r = _rng()
    cases = [
        (r.standard_normal((4, 5)), np.array([0, 3, 4, 3])),
        (np.array([[2.0, -1.0, 0.5]]), np.array([0])),
        (np.array([[3.0], [-3.0]]), np.array([0, 0])),  # one class: certain, cost 0
        (np.array([[1000.0, -1000.0, 0.0], [0.0, 0.0, 1000.0]]), np.array([1, 2])),  # huge logits
    ]
    for logits, targets in cases:
        loss, saved = reference.cross_entropy(logits, targets)
        dlogits = reference.cross_entropy_backward(saved, 1.0)
        got, desc = call(m, "cross_entropy_grad", logits.copy(), targets.copy())
        got = parts(desc, got, ("loss", "dlogits"))
        number(desc, loss, got[0], "the loss")
        array(desc, dlogits, got[1], "dlogits")
    logits, targets = cases[0]
    numeric = gradient_by_differences(lambda x: reference.cross_entropy(x, targets)[0], logits)
    got, desc = call(m, "cross_entropy_grad", logits.copy(), targets.copy())
    against_differences(desc, numeric, parts(desc, got, ("loss", "dlogits"))[1], "dlogits",
                        "reference.cross_entropy")  # fmt: skip


@check("adam_step")
def check_adam_step(m) -> None:
    r = _rng()
    shape = (3, 4)
    cases = [  # p, g, m, v, lr, beta1, beta2, eps, step
        (r.standard_normal(shape), r.standard_normal(shape), np.zeros(shape), np.zeros(shape),
         1e-3, 0.9, 0.999, 1e-8, 1),  # the first step: each weight moves by about lr
        (r.standard_normal(shape), r.standard_normal(shape), 0.1 * r.standard_normal(shape),
         0.01 * np.abs(r.standard_normal(shape)), 1e-2, 0.9, 0.999, 1e-8, 5),
        (np.array([1.0, -2.0]), np.zeros(2), np.zeros(2), np.zeros(2), 0.1, 0.9, 0.999, 1e-8, 1),
        (np.array([0.5, 0.25]), np.array([1e-3, -4.0]), np.array([0.2, -0.1]),
         np.array([0.5, 1.0]), 0.05, 0.5, 0.9, 1e-6, 3),
    ]  # fmt: skip
    for p, g, mom, vel, lr, beta1, beta2, eps, step in cases:
        want_p, want_m, want_v = p.copy(), mom.copy(), vel.copy()
        reference.adam_update(want_p, g.copy(), want_m, want_v, lr, beta1, beta2, eps, 0.0, step)
        got, desc = call(m, "adam_step", p.copy(), g.copy(), mom.copy(), vel.copy(), lr, beta1,
                         beta2, eps, step)  # fmt: skip
        got = parts(desc, got, ("p", "m", "v"))
        array(desc, want_m, got[1], "m")
        array(desc, want_v, got[2], "v")
        array(desc, want_p, got[0], "p")


# --- lesson 5 -----------------------------------------------------------------------------------


@check("bpe_merge_step")
def check_bpe_merge_step(m) -> None:
    cases = [
        (list(b"the cat the hat"), 256),  # four pairs tie at 2: the smallest pair wins
        (list(b"aaa"), 256),  # overlapping: the leftmost pair merges
        ([5, 3, 5, 3, 1, 2, 1, 2], 300),
        (list(b"hello hello world"), 256),
        ([42], 256),  # one token: no pair
        ([], 256),
    ]
    for ids, new_id in cases:
        merges = _learn_merges_naive({bytes(ids): 1}, 1)  # the tokenizer's own rule
        pair = merges[0][0] if merges else None
        merged = merge_pair(ids, pair, new_id) if pair else list(ids)
        shown = f"bpe_merge_step(list({bytes(ids)!r}), {new_id})" if len(ids) > 8 else None
        got, desc = call(m, "bpe_merge_step", list(ids), new_id, shown=shown)
        got = parts(desc, got, ("pair", "new_ids"))
        got_pair = got[0]
        if got_pair is not None:
            try:
                got_pair = tuple(int(i) for i in got_pair)
            except (TypeError, ValueError):
                raise Failed(f"{desc}: expected the pair {pair}, got {show(got_pair)}") from None
        if got_pair != pair:
            raise Failed(f"{desc}: expected the pair {pair}, got {show(got[0])}")
        try:
            got_ids = [int(i) for i in got[1]]
        except (TypeError, ValueError):
            raise Failed(f"{desc}: expected new_ids = {merged}, got {show(got[1])}") from None
        if got_ids != merged:
            raise Failed(f"{desc}: expected new_ids = {merged}, got {got_ids}")


@check("top_p_filter")
def check_top_p_filter(m) -> None:
    r = _rng()
    logits = r.standard_normal((3, 6)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    cases = [
        (probs, 0.9),
        (probs, 0.5),
        (probs, 1e-9),  # only the most likely token
        (probs, 1.0),  # everything
        (np.array([[0.5, 0.3, 0.2]]), 0.3),  # the first token alone already passes top_p
        (np.array([[0.1, 0.2, 0.3, 0.4]]), 0.65),
        (np.array([[0.5, 0.25, 0.15, 0.1]]), 0.75),  # a tie: 0.5 + 0.25 is top_p exactly
    ]
    for p, top_p in cases:
        expected = reference.top_p_filter(p.copy(), top_p)
        got, desc = call(m, "top_p_filter", p.copy(), top_p)
        array(desc, expected, got)


# --- lesson 6 -----------------------------------------------------------------------------------


@check("softmax")
def check_softmax(m) -> None:
    r = _rng()
    cases = [
        np.array([1.0, 2.0, 3.0]),
        r.standard_normal((2, 4)),
        np.array([[1000.0, 0.0, -1000.0]]),  # e^1000 overflows: subtract the maximum first
        np.array([[-np.inf, 0.0, 1.0], [2.0, -np.inf, -np.inf]]),  # masked logits get 0
        r.standard_normal((2, 2, 3)),
        np.array([[5.0]]),
    ]
    for x in cases:
        got, desc = call(m, "softmax", x.copy())
        array(desc, reference.softmax(x), got)


@check("layer_norm_backward")
def check_layer_norm_backward(m) -> None:
    r = _rng()
    eps = 1e-5
    cases = [
        (r.standard_normal((3, 5)), r.standard_normal(5), r.standard_normal((3, 5))),
        (r.standard_normal((1, 4)), r.standard_normal(4), r.standard_normal((1, 4))),
        (r.standard_normal((2, 1)), r.standard_normal(1), r.standard_normal((2, 1))),  # C = 1
        (np.full((1, 4), 2.0), r.standard_normal(4), r.standard_normal((1, 4))),  # variance 0
    ]
    for x, weight, dy in cases:
        _, mean, rstd = reference.layer_norm(x, weight, None, eps)
        want = reference.layer_norm_backward(x, weight, mean, rstd, dy)
        got, desc = call(m, "layer_norm_backward", x.copy(), weight.copy(), dy.copy(), eps)
        got = parts(desc, got, ("dx", "dweight", "dbias"))
        for name, w, g in zip(("dx", "dweight", "dbias"), want, got):
            array(desc, w, g, name)
    x, weight, dy = cases[0]
    numeric = gradient_by_differences(
        lambda a: float(np.sum(reference.layer_norm(a, weight, None, eps)[0] * dy)), x
    )
    got, desc = call(m, "layer_norm_backward", x.copy(), weight.copy(), dy.copy(), eps)
    got = parts(desc, got, ("dx", "dweight", "dbias"))
    against_differences(desc, numeric, got[0], "dx", "reference.layer_norm")


# --- lesson 7 -----------------------------------------------------------------------------------


@check("causal_attention")
def check_causal_attention(m) -> None:
    r = _rng()
    cases = [
        tuple(r.standard_normal((3, 4, 2))),  # T = 4 tokens, head size D = 2
        tuple(r.standard_normal((3, 1, 3))),  # one token: it sees only itself
        (30 * r.standard_normal((5, 8)), r.standard_normal((5, 8)), r.standard_normal((5, 8))),
        tuple(r.standard_normal((3, 3, 1))),
    ]
    # keys = queries, 40 times the usual size: each token's score with itself is in the
    # thousands, and exp overflows unless each row's maximum is subtracted first
    big = 40 * r.standard_normal((4, 4))
    cases.append((big, big.copy(), r.standard_normal((4, 4))))
    for q, k, v in cases:
        scale = 1.0 / math.sqrt(q.shape[1])
        out, _ = reference.attention_forward(q[None], k[None], v[None], causal=True, scale=scale)
        got, desc = call(m, "causal_attention", q.copy(), k.copy(), v.copy())
        array(desc, out[0], got)


@check("split_merge_heads")
def check_split_merge_heads(m) -> None:
    r = _rng()
    for B, T, C, H in [(2, 3, 8, 2), (1, 4, 6, 3), (2, 2, 4, 1), (1, 2, 4, 4)]:
        D = C // H
        x = r.standard_normal((B, T, C))
        expected = reference._heads(x, H).reshape(B, H, T, D)  # the fused kernel's layout
        got, desc = call(m, "split_heads", x.copy(), H)
        array(desc, expected, got)
        y = r.standard_normal((B, H, T, D))
        expected = reference._merge_heads(y.reshape(B * H, T, D), B, H)
        got, desc = call(m, "merge_heads", y.copy())
        array(desc, expected, got)


@check("kv_cache_step")
def check_kv_cache_step(m) -> None:
    r = _rng()
    B, H, D = 2, 2, 3
    C = H * D
    # The library's own layer, generating with its cache: its query/key/value weights are
    # random, its output projection the identity, so its output is the heads' output.
    state = rng.get_state()
    layer = CausalSelfAttention(C, H, bias=False)
    rng.set_state(state)
    w_qkv = r.standard_normal((3 * C, C))
    layer.c_attn.weight.data, layer.c_proj.weight.data = w_qkv, np.eye(C)
    layer.eval()
    library_cache: dict = {}
    cache: dict = {}
    for step, T in enumerate([3, 1, 1, 2]):  # a prompt of 3 tokens, then new tokens
        x = r.standard_normal((B, T, C))
        with no_grad():
            y = layer(Tensor(x), cache=library_cache).data  # (B, T, C)
        expected = y.reshape(B, T, H, D).transpose(0, 2, 1, 3)  # (B, H, T, D)
        q, k, v = ((x @ w.T).reshape(B, T, H, D).transpose(0, 2, 1, 3) for w in np.split(w_qkv, 3))
        S = library_cache["k"].shape[2]
        shown = (f"kv_cache_step at step {step} ({S - T} tokens cached, {T} new; "
                 f"q, k, v of shape {q.shape})")  # fmt: skip
        got, desc = call(m, "kv_cache_step", cache, q.copy(), k.copy(), v.copy(), shown=shown)
        if not isinstance(cache, dict) or "k" not in cache or "v" not in cache:
            raise Failed(
                f"{desc}: expected cache['k'] and cache['v'] afterwards, got {show(cache)}"
            )
        array(desc, library_cache["k"], cache["k"], "cache['k']")
        array(desc, library_cache["v"], cache["v"], "cache['v']")
        array(desc, expected, got)


# --- lesson 8 -----------------------------------------------------------------------------------


@check("mlp_block")
def check_mlp_block(m) -> None:
    r = _rng()
    for B, T, C, hidden, scale in [(2, 3, 4, 8, 1.0), (1, 1, 2, 3, 1.0), (1, 2, 3, 5, 4.0)]:
        x = scale * r.standard_normal((B, T, C))
        w_fc, b_fc = r.standard_normal((hidden, C)), r.standard_normal(hidden)
        w_proj, b_proj = r.standard_normal((C, hidden)), r.standard_normal(C)
        state = rng.get_state()  # building a layer draws initial weights: leave no trace
        block = MLP(C, hidden, bias=True)  # the GPT's block, with these weights
        rng.set_state(state)
        block.c_fc.weight.data, block.c_fc.bias.data = w_fc.copy(), b_fc.copy()
        block.c_proj.weight.data, block.c_proj.bias.data = w_proj.copy(), b_proj.copy()
        block.eval()
        with no_grad():
            expected = block(Tensor(x)).data
        got, desc = call(m, "mlp_block", x.copy(), w_fc.copy(), b_fc.copy(), w_proj.copy(),
                         b_proj.copy())  # fmt: skip
        array(desc, expected, got)


# --- lesson 9 -----------------------------------------------------------------------------------


@check("dpo_loss")
def check_dpo_loss(m) -> None:
    r = _rng()
    cases = [
        (*(r.standard_normal(4) * 3 - 20 for _ in range(4)), 0.1),
        (*(np.full(3, -12.0) for _ in range(4)), 0.1),  # no change from the reference: log 2
        (np.array([-5.0]), np.array([-2005.0]), np.array([-5.0]), np.array([-5.0]), 1.0),
        (np.array([-2005.0]), np.array([-5.0]), np.array([-5.0]), np.array([-5.0]), 1.0),
        (*(r.standard_normal(2) * 3 - 20 for _ in range(4)), 0.5),
    ]
    for pc, pr, rc, rr, beta in cases:
        expected = rlhf.dpo_loss(Tensor(pc), Tensor(pr), Tensor(rc), Tensor(rr), beta).item()
        got, desc = call(m, "dpo_loss", pc.copy(), pr.copy(), rc.copy(), rr.copy(), beta)
        number(desc, expected, got)


# --- lesson 10 ----------------------------------------------------------------------------------


@check("matmul_loops")
def check_matmul_loops(m) -> None:
    cases = [
        ([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [[1.0, -1.0], [0.5, 2.0], [-2.0, 0.0]]),
        ([[3.0]], [[-2.0]]),
        ([[1.0], [2.0], [3.0]], [[1.0, 0.0, -1.0, 2.0]]),  # (3, 1) @ (1, 4): an outer product
        ([[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [1.0, 0.0]]),
    ]
    for a, b in cases:
        expected = np.array(reference.matmul_naive(a, b))
        got, desc = call(m, "matmul_loops", [row[:] for row in a], [row[:] for row in b])
        array(desc, expected, got)
    a, b = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [[1.0, 2.0], [3.0, 4.0]]
    try:
        reference.matmul_naive(a, b)
    except ValueError:
        expect_raise(m, "matmul_loops", ValueError, "the rows of a have 3 entries, b has 2 rows",
                     a, b)  # fmt: skip


# --- lesson 11 ----------------------------------------------------------------------------------


@check("shard_batch")
def check_shard_batch(m) -> None:
    batch = np.arange(16).reshape(8, 2)
    cases = [(batch, r, 4) for r in range(4)] + [(batch, 0, 1), (np.arange(6), 2, 3)]
    for x, rank, size in cases:
        expected = shard(x, World(rank=rank, size=size))
        got, desc = call(m, "shard_batch", x.copy(), rank, size)
        array(desc, expected, got)
    x = np.arange(10)
    try:
        shard(x, World(rank=1, size=4))
    except ValueError:
        expect_raise(m, "shard_batch", ValueError, "10 examples do not divide among 4 workers",
                     x, 1, 4)  # fmt: skip
