"""The scalar engine (tinygrad_edu/scalar.py): gradients, graphs, neurons, bad input."""

from __future__ import annotations

import gc
import math
import random
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tinygrad_edu import scalar
from tinygrad_edu.scalar import MLP, Layer, Neuron, Value, draw, manual_seed, to_dot

# --- helpers ------------------------------------------------------------------------------


def engine_grads(f, xs):
    """f's value and its gradient with respect to each input, by backward()."""
    vs = [Value(x) for x in xs]
    out = f(*vs)
    out.backward()
    return out.data, [v.grad for v in vs]


def numeric_grads(f, xs, eps=1e-6):
    """Central finite differences: (f(x + eps) - f(x - eps)) / (2 eps), one input at a time."""
    grads = []
    for i in range(len(xs)):
        up, down = list(xs), list(xs)
        up[i] += eps
        down[i] -= eps
        grads.append((f(*map(Value, up)).data - f(*map(Value, down)).data) / (2 * eps))
    return grads


def away_from_zero(rng, low=0.2, high=3.0):
    return rng.choice([-1, 1]) * rng.uniform(low, high)


# --- every op against finite differences --------------------------------------------------

# name -> (function of Values, sampler of the inputs from a random.Random)
OPS = {
    "add": (lambda a, b: a + b, lambda r: [r.uniform(-3, 3), r.uniform(-3, 3)]),
    "sub": (lambda a, b: a - b, lambda r: [r.uniform(-3, 3), r.uniform(-3, 3)]),
    "mul": (lambda a, b: a * b, lambda r: [r.uniform(-3, 3), r.uniform(-3, 3)]),
    "div": (lambda a, b: a / b, lambda r: [r.uniform(-3, 3), away_from_zero(r)]),
    "neg": (lambda a: -a, lambda r: [r.uniform(-3, 3)]),
    "pow2": (lambda a: a**2, lambda r: [r.uniform(-3, 3)]),
    "pow3_negative_base": (lambda a: a**3, lambda r: [-r.uniform(0.2, 3)]),
    "pow_int_float_negative_base": (lambda a: a**2.0, lambda r: [-r.uniform(0.2, 3)]),
    "pow0.5": (lambda a: a**0.5, lambda r: [r.uniform(0.2, 4)]),
    "pow-1": (lambda a: a**-1, lambda r: [away_from_zero(r)]),
    "pow-2.5": (lambda a: a**-2.5, lambda r: [r.uniform(0.3, 3)]),
    "pow1": (lambda a: a**1, lambda r: [r.uniform(-3, 3)]),
    "pow0": (lambda a: a**0, lambda r: [r.uniform(-3, 3)]),
    "relu": (lambda a: a.relu(), lambda r: [away_from_zero(r, 0.01)]),
    "sigmoid": (lambda a: a.sigmoid(), lambda r: [r.uniform(-8, 8)]),
    "tanh": (lambda a: a.tanh(), lambda r: [r.uniform(-3, 3)]),
    "exp": (lambda a: a.exp(), lambda r: [r.uniform(-3, 3)]),
    "log": (lambda a: a.log(), lambda r: [r.uniform(0.1, 5)]),
    "radd": (lambda a: 2.5 + a, lambda r: [r.uniform(-3, 3)]),
    "rsub": (lambda a: 1 - a, lambda r: [r.uniform(-3, 3)]),
    "rmul": (lambda a: -3 * a, lambda r: [r.uniform(-3, 3)]),
    "rdiv": (lambda a: 1 / a, lambda r: [away_from_zero(r)]),
    "number_right": (lambda a: (a - 2) / 4 + a * 0.5, lambda r: [r.uniform(-3, 3)]),
    "same_input_twice_mul": (lambda a: a * a, lambda r: [r.uniform(-3, 3)]),
    "same_input_twice_div": (lambda a: a / a + a, lambda r: [away_from_zero(r)]),
    "composite": (
        lambda a, b: ((a * b).tanh() + (a - b).sigmoid() * a.exp()) / (b * b + 1.0),
        lambda r: [r.uniform(-2, 2), r.uniform(-2, 2)],
    ),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_gradient_matches_finite_differences(name):
    f, sample = OPS[name]
    rng = random.Random(sorted(OPS).index(name))  # seeded: the same numbers every run
    for _ in range(10):
        xs = sample(rng)
        _, grads = engine_grads(f, xs)
        for g, n in zip(grads, numeric_grads(f, xs)):
            assert g == pytest.approx(n, rel=1e-6, abs=1e-6), (name, xs)


def test_forward_values_are_the_math():
    assert (Value(2.0) + 3).data == 5.0
    assert (Value(2.0) - 3).data == -1.0
    assert (Value(2.0) * 3).data == 6.0
    assert (Value(3.0) / 2).data == 1.5
    assert (Value(-2.0) ** 3).data == -8.0
    assert (Value(9.0) ** 0.5).data == 3.0
    assert (-Value(2.0)).data == -2.0
    assert (1 - Value(0.25)).data == 0.75
    assert (1 / Value(4.0)).data == 0.25
    assert (2 * Value(4.0)).data == 8.0
    assert Value(-1.0).relu().data == 0.0 and Value(1.5).relu().data == 1.5
    assert Value(0.0).sigmoid().data == 0.5
    assert Value(0.3).tanh().data == pytest.approx(math.tanh(0.3))
    assert Value(1.0).exp().data == pytest.approx(math.e)
    assert Value(math.e).log().data == pytest.approx(1.0)
    v = Value(3)
    assert isinstance(v.data, float) and v.grad == 0.0


def test_relu_gradient_at_zero_is_zero_like_pytorch():
    x = Value(0.0)
    x.relu().backward()
    assert x.grad == 0.0


def test_pow_zero_exponent_has_zero_gradient_even_at_zero():
    x = Value(0.0)
    (x**0).backward()
    assert x.grad == 0.0


def test_graph_records_children_and_op():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    assert c._prev == (a, b) and c._op == "*"
    assert (a**2)._op == "**2" and a.relu()._op == "relu" and a._prev == ()


# --- random expression graphs against PyTorch ---------------------------------------------

UNARY = ["neg", "relu", "sigmoid", "tanh", "exp", "log", "pow2", "pow3", "sqrt", "inv"]
BINARY = ["add", "sub", "mul", "div"]
WITH_NUMBER = ["radd", "rsub", "rmul", "rdiv", "add_number", "mul_number"]


def apply(op, a, b=None, c=None):
    """One op, written so that it runs on Values and torch tensors alike."""
    return {
        "neg": lambda: -a,
        "relu": lambda: a.relu(),
        "sigmoid": lambda: a.sigmoid(),
        "tanh": lambda: a.tanh(),
        "exp": lambda: a.exp(),
        "log": lambda: a.log(),
        "pow2": lambda: a**2,
        "pow3": lambda: a**3,
        "sqrt": lambda: a**0.5,
        "inv": lambda: a**-1,
        "add": lambda: a + b,
        "sub": lambda: a - b,
        "mul": lambda: a * b,
        "div": lambda: a / b,
        "radd": lambda: c + a,
        "rsub": lambda: c - a,
        "rmul": lambda: c * a,
        "rdiv": lambda: c / a,
        "add_number": lambda: a + c,
        "mul_number": lambda: a * c,
    }[op]()


def in_domain(op, x, y, c):
    """Keep the random graph away from poles, kinks and overflow."""
    if op in ("log", "sqrt"):
        return x > 0.05
    if op in ("inv", "rdiv"):
        return abs(x) > 0.1
    if op == "div":
        return abs(y) > 0.1
    if op == "relu":
        return abs(x) > 1e-3
    if op == "exp":
        return x < 4
    return True


def random_program(rng, n_leaves, n_ops):
    """Leaf data and a random DAG over it: each op reads earlier nodes (mostly recent ones,
    so the graph gets deep), and nodes are read many times (shared subexpressions)."""
    leaf_data = [rng.uniform(-2, 2) for _ in range(n_leaves)]
    data = list(leaf_data)  # every node's value so far, to keep ops inside their domain
    program = []
    while len(program) < n_ops:
        op = rng.choice(UNARY + BINARY + WITH_NUMBER)
        pick = lambda: len(data) - 1 - min(int(rng.expovariate(0.25)), len(data) - 1)  # noqa: E731
        i, j, c = pick(), pick(), rng.choice([-1.5, 0.5, 2.0, 3.0])
        if not in_domain(op, data[i], data[j], c):
            continue
        result = apply(op, Value(data[i]), Value(data[j]), c).data
        if abs(result) > 50:  # keep numbers moderate
            continue
        program.append((op, i, j, c))
        data.append(result)
    return leaf_data, program


def run_program(program, leaves):
    nodes = list(leaves)
    for op, i, j, c in program:
        nodes.append(apply(op, nodes[i], nodes[j], c))
    out = nodes[-1]
    for node in nodes[-6:-1]:  # sum a few sinks so that more of the graph matters
        out = out + node
    return nodes, out


@pytest.mark.parametrize("seed", range(40))
def test_random_graphs_match_pytorch_autograd(seed):
    torch = pytest.importorskip("torch")
    rng = random.Random(seed)
    leaf_data, program = random_program(rng, rng.randint(1, 5), n_ops=rng.randint(5, 40))

    ours, our_out = run_program(program, [Value(x) for x in leaf_data])
    our_out.backward()

    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in leaf_data]
    theirs, their_out = run_program(program, leaves)
    for t in theirs:
        if not t.is_leaf:
            t.retain_grad()
    their_out.backward()

    assert our_out.data == pytest.approx(their_out.item(), rel=1e-12, abs=1e-12)
    for k, (v, t) in enumerate(zip(ours, theirs)):
        expected = 0.0 if t.grad is None else t.grad.item()  # unused by the output: no grad
        assert v.data == pytest.approx(t.item(), rel=1e-12, abs=1e-12), k
        assert v.grad == pytest.approx(expected, rel=1e-9, abs=1e-12), (k, program)


def test_mlp_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    model = MLP(3, [4, 5, 2], activation="relu", output_activation="sigmoid", seed=3)
    rng = random.Random(0)
    for layer in model.layers:  # nonzero biases, so that their gradients are tested too
        for neuron in layer.neurons:
            neuron.bias.data = rng.uniform(-0.5, 0.5)
    xs = [[0.5, -1.0, 2.0], [1.5, 0.3, -0.7], [-0.2, -0.4, 0.9]]
    targets = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]

    loss = Value(0.0)
    for x, t in zip(xs, targets):
        for o, ti in zip(model(x), t):
            loss = loss + (o - ti) ** 2
    loss.backward()

    weights = [
        torch.tensor([[w.data for w in n.weights] for n in layer.neurons], dtype=torch.float64)
        for layer in model.layers
    ]
    biases = [
        torch.tensor([n.bias.data for n in layer.neurons], dtype=torch.float64)
        for layer in model.layers
    ]
    for p in weights + biases:
        p.requires_grad_(True)
    h = torch.tensor(xs, dtype=torch.float64)
    for k, (W, b) in enumerate(zip(weights, biases)):
        h = h @ W.T + b
        h = h.relu() if k < len(weights) - 1 else h.sigmoid()
    their_loss = ((h - torch.tensor(targets, dtype=torch.float64)) ** 2).sum()
    their_loss.backward()

    assert loss.data == pytest.approx(their_loss.item(), rel=1e-12)
    for layer, W, b in zip(model.layers, weights, biases):
        for n, w_row, b_grad in zip(layer.neurons, W.grad, b.grad):
            assert [w.grad for w in n.weights] == pytest.approx(w_row.tolist(), rel=1e-9, abs=1e-12)
            assert n.bias.grad == pytest.approx(b_grad.item(), rel=1e-9, abs=1e-12)


# --- backward(): deep graphs and accumulation ---------------------------------------------


def test_chain_of_100000_ops_needs_no_recursion():
    assert sys.getrecursionlimit() < 100_000  # a recursive topological sort would fail
    x = Value(0.5)
    v = x
    for _ in range(100_000):
        v = v + 0.001
    v.backward()
    assert x.grad == 1.0
    assert v.data == pytest.approx(100.5, rel=1e-9)
    text = to_dot(v)  # the drawing walks the graph without recursion too
    assert text.count("shape=record") == 200_001  # x, 100,000 constants, 100,000 sums
    del v, text
    gc.collect()  # freeing a long chain must not crash either


def test_chain_of_100000_unary_ops():
    x = Value(0.3)
    v = x
    for _ in range(100_000):
        v = -v  # exactly one new node per step
    v.backward()
    assert v.data == 0.3 and x.grad == 1.0  # an even number of negations


def test_ops_make_no_reference_cycles():
    """A closure never refers to its own output, so graphs are freed by reference counting."""
    a, b = Value(1.0), Value(2.0)
    for out in [
        a + b,
        a * b,
        a - b,
        a / b,
        a**2,
        -a,
        a.relu(),
        a.sigmoid(),
        a.tanh(),
        a.exp(),
        a.log(),
    ]:
        captured = [cell.cell_contents for cell in out._backward.__closure__ or ()]
        assert all(c is not out for c in captured), out._op


def test_backward_twice_doubles_leaf_grads_like_pytorch():
    x, w = Value(3.0), Value(-2.0)
    h = x * w
    out = h.tanh() + x
    out.backward()
    gx, gw, gh = x.grad, w.grad, h.grad
    assert gx == pytest.approx(1.0 + (1.0 - math.tanh(-6.0) ** 2) * -2.0)
    assert gw == pytest.approx((1.0 - math.tanh(-6.0) ** 2) * 3.0)

    out.backward()  # no zero_grad: the leaves accumulate
    assert x.grad == pytest.approx(2 * gx) and w.grad == pytest.approx(2 * gw)
    assert h.grad == gh  # an intermediate grad is recomputed, not doubled
    assert out.grad == 1.0  # the output is seeded with d(out)/d(out) = 1

    x.grad = w.grad = 0.0  # what zero_grad() does
    out.backward()
    assert (x.grad, w.grad) == (gx, gw)


def test_backward_of_two_losses_adds_their_gradients():
    def losses():
        a, b = Value(0.7), Value(-1.3)
        return a, b, (a * b).sigmoid(), (a - b) ** 2

    a, b, l1, l2 = losses()
    l1.backward()
    l2.backward()
    a2, b2, m1, m2 = losses()
    (m1 + m2).backward()
    assert a.grad == pytest.approx(a2.grad) and b.grad == pytest.approx(b2.grad)


def test_backward_on_a_leaf_accumulates_one():
    x = Value(5.0)
    x.backward()
    x.backward()
    assert x.grad == 2.0


def test_gradient_overflow_raises_instead_of_spreading_inf():
    x = Value(1e-200)
    y = x.log() * 1e200  # d y/d x = 1e200 / 1e-200 = 1e400: too large for a float
    with pytest.raises(OverflowError, match="gradient"):
        y.backward()


# --- neurons, layers, networks ------------------------------------------------------------


def test_neuron_is_activation_of_weighted_sum_plus_bias():
    for activation, f in [
        ("relu", lambda z: max(0.0, z)),
        ("sigmoid", lambda z: 1 / (1 + math.exp(-z))),
        ("linear", lambda z: z),
        ("tanh", math.tanh),
    ]:
        n = Neuron(3, activation, seed=1)
        for w, d in zip(n.weights, [0.5, -1.0, 2.0]):
            w.data = d
        n.bias.data = -0.25
        x = [1.0, 2.0, 0.5]
        z = 0.5 * 1.0 - 1.0 * 2.0 + 2.0 * 0.5 - 0.25  # = -0.75
        assert n(x).data == pytest.approx(f(z)), activation
        assert repr(n) == f"Neuron(3 inputs, {activation})"


def test_neuron_gradients_reach_weights_bias_and_inputs():
    n = Neuron(2, "linear", seed=0)
    x = [Value(3.0), Value(-4.0)]
    n(x).backward()
    assert [w.grad for w in n.weights] == [3.0, -4.0]  # d(w.x + b)/dw = x
    assert n.bias.grad == 1.0
    assert [xi.grad for xi in x] == [w.data for w in n.weights]  # d/dx = w


def test_default_init_is_the_one_lesson_3_measured_faster():
    assert scalar.DEFAULT_INIT == "unit"  # tutorials/03_backpropagation.py, "starting scale"
    ws = [w.data for w in Neuron(400, seed=0).weights]
    assert ws == [w.data for w in Neuron(400, seed=0, init="unit").weights]
    assert max(ws) > 0.8 and min(ws) < -0.8


def test_weight_init_is_scaled_uniform_and_bias_zero():
    n = Neuron(400, seed=0, init="scaled")
    bound = 1 / math.sqrt(400)
    ws = [w.data for w in n.weights]
    assert all(-bound <= w <= bound for w in ws)
    assert max(ws) > 0.8 * bound and min(ws) < -0.8 * bound  # spread over the range
    assert n.bias.data == 0.0
    assert len(n.parameters()) == 401


def test_layer_shapes_and_repr():
    layer = Layer(3, 4, activation="sigmoid", seed=0)
    out = layer([1.0, -2.0, 0.5])
    assert len(out) == 4 and all(isinstance(o, Value) and 0 < o.data < 1 for o in out)
    assert len(layer.parameters()) == 4 * (3 + 1)
    assert repr(layer) == "Layer(3 -> 4, sigmoid)"


def test_relu_layer_outputs_are_nonnegative():
    layer = Layer(5, 20, seed=2)
    rng = random.Random(0)
    for _ in range(20):
        assert all(o.data >= 0 for o in layer([rng.uniform(-3, 3) for _ in range(5)]))


def test_mlp_784_16_16_10_has_13002_parameters():
    model = MLP(784, [16, 16, 10], seed=0)
    assert model.num_parameters() == 13_002
    assert model.num_parameters() == (784 * 16 + 16) + (16 * 16 + 16) + (16 * 10 + 10)
    assert len(set(map(id, model.parameters()))) == 13_002  # all distinct Values
    assert [layer.activation for layer in model.layers] == ["relu", "relu", "linear"]
    assert repr(model) == "MLP(784 -> 16 -> 16 -> 10; relu, relu, linear; 13,002 parameters)"


def test_mlp_forward_accepts_numbers_and_values():
    model = MLP(2, [3, 1], seed=4)
    a = model([0.5, -1.0])
    b = model([Value(0.5), Value(-1.0)])
    assert isinstance(a, Value) and a.data == b.data


def test_one_output_is_the_value_itself_as_in_micrograd():
    assert isinstance(Layer(3, 1, seed=0)([1.0, 2.0, 3.0]), Value)
    assert isinstance(MLP(2, [4, 1], seed=0)([0.5, -1.0]), Value)
    two = MLP(2, [4, 2], seed=0)([0.5, -1.0])
    assert isinstance(two, list) and len(two) == 2
    # a hidden layer of one neuron hands its Value on as the next layer's one input
    narrow = MLP(2, [1, 3], activation="tanh", seed=0)
    out = narrow([0.5, -1.0])
    assert len(out) == 3 and all(isinstance(o, Value) for o in out)
    assert isinstance(MLP(1, [2, 1], seed=0)(Value(0.5)), Value)  # one input, no list
    score = MLP(2, [3, 1], seed=1)([1.0, 2.0])
    (1 + -1 * score).relu().backward()  # micrograd's hinge loss, no [0]


def test_start_scales_unit_and_scaled():
    unit = [w.data for w in Neuron(400, seed=0, init="unit").weights]
    assert max(unit) > 0.8 and min(unit) < -0.8 and all(-1 <= w <= 1 for w in unit)
    scaled = [w.data for w in Neuron(400, seed=0, init="scaled").weights]
    assert scaled == pytest.approx([w / 20 for w in unit], rel=1e-12)  # 1/sqrt(400)
    unit_last, scaled_last = (  # MLP passes init on to every layer
        [w.data for w in MLP(2, [3, 1], seed=0, init=init).layers[1].neurons[0].weights]
        for init in ("unit", "scaled")
    )
    assert unit_last == pytest.approx([w * math.sqrt(3) for w in scaled_last], rel=1e-12)
    with pytest.raises(ValueError, match="unknown init 'xavier'"):
        Neuron(3, init="xavier")


def test_zero_grad_resets_every_parameter():
    for module in [Neuron(3, seed=0), Layer(3, 2, seed=0), MLP(3, [4, 2], seed=0)]:
        out = module([1.0, 2.0, 3.0])
        total = out if isinstance(out, Value) else sum(out, Value(0.0))
        (total * total + total).backward()
        assert any(p.grad != 0.0 for p in module.parameters())
        module.zero_grad()
        assert all(p.grad == 0.0 for p in module.parameters())


def test_seeds_make_weights_reproducible():
    weights = lambda m: [p.data for p in m.parameters()]  # noqa: E731
    assert weights(MLP(2, [3, 1], seed=5)) == weights(MLP(2, [3, 1], seed=5))
    assert weights(MLP(2, [3, 1], seed=5)) != weights(MLP(2, [3, 1], seed=6))
    manual_seed(7)
    first = weights(MLP(2, [3, 1]))
    second = weights(MLP(2, [3, 1]))
    manual_seed(7)
    assert weights(MLP(2, [3, 1])) == first != second
    assert weights(Neuron(4, seed=random.Random(1))) == weights(Neuron(4, seed=1))


@pytest.mark.parametrize(
    "module, n", [(Neuron(3, seed=0), 3), (Layer(3, 2, seed=0), 3), (MLP(3, [2], seed=0), 3)]
)
def test_wrong_input_length_names_both_lengths(module, n):
    with pytest.raises(ValueError, match=rf"expects {n} inputs, got 2"):
        module([1.0, 2.0])


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        Neuron(3, "gelu")
    with pytest.raises(ValueError, match="n_inputs must be a positive int, got 0"):
        Neuron(0)
    with pytest.raises(ValueError, match="n_outputs must be a positive int"):
        Layer(3, 0)
    with pytest.raises(ValueError, match="at least one layer"):
        MLP(3, [])


# --- bad input raises, with a message that says what was wrong ----------------------------

BAD = [
    (lambda: Value("1.0"), TypeError, r"real number .* got str '1.0'"),
    (lambda: Value(None), TypeError, r"got NoneType None"),
    (lambda: Value([1.0]), TypeError, r"got list \[1.0\]"),
    (lambda: Value(True), TypeError, r"got bool True.*float\(flag\)"),
    (lambda: Value(1 + 2j), TypeError, r"got complex"),
    (lambda: Value(float("nan")), ValueError, r"finite, got nan"),
    (lambda: Value(float("inf")), ValueError, r"finite, got inf"),
    (lambda: Value(1.0) + "a", TypeError, r"got str 'a'"),
    (lambda: "a" * Value(1.0), TypeError, r"can't multiply sequence|got str"),
    (lambda: Value(0.0).log(), ValueError, r"log\(0.0\) is undefined"),
    (lambda: Value(-2.5).log(), ValueError, r"log\(-2.5\) is undefined"),
    (lambda: Value(1.0) / 0, ZeroDivisionError, r"1.0 / 0.0"),
    (lambda: Value(1.0) / Value(0.0), ZeroDivisionError, r"division by zero"),
    (lambda: 3 / Value(0.0), ZeroDivisionError, r"3.0 / 0.0"),
    (lambda: Value(-8.0) ** (1 / 3), ValueError, r"negative number to a non-integer power"),
    (lambda: Value(0.0) ** -1, ZeroDivisionError, r"zero cannot be raised to a negative"),
    (lambda: Value(2.0) ** Value(3.0), TypeError, r"exponent .* plain number, not a Value"),
    (lambda: 2 ** Value(3.0), TypeError, r"exponent of \*\* must be a plain number"),
    (lambda: Value(2.0) ** True, TypeError, r"exponent .* got bool"),
    (lambda: Value(10.0) ** 400, OverflowError, r"overflows a float"),
    (lambda: Value(1000.0).exp(), OverflowError, r"exp\(1000.0\) overflows a float"),
    (lambda: Value(1e200) * 1e200, OverflowError, r"'\*' overflowed"),
    (lambda: Value(1e308) + Value(1e308), OverflowError, r"'\+' overflowed"),
]


@pytest.mark.parametrize("make, error, message", BAD)
def test_bad_input_raises_a_helpful_error(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_derivative_of_sqrt_at_zero_raises_in_backward():
    x = Value(0.0)
    y = x**0.5
    assert y.data == 0.0  # the forward value is fine
    with pytest.raises(ZeroDivisionError, match=r"derivative of x\*\*0.5 is infinite at x = 0"):
        y.backward()


def test_sigmoid_is_stable_for_large_inputs():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for x, expected in [(1000.0, 1.0), (-1000.0, 0.0), (800.0, 1.0), (-800.0, 0.0)]:
            v = Value(x)
            s = v.sigmoid()
            s.backward()
            assert s.data == expected and v.grad == 0.0
        assert Value(-30.0).sigmoid().data == pytest.approx(math.exp(-30.0), rel=1e-12)


def test_numbers_from_other_libraries_are_accepted():
    np = pytest.importorskip("numpy")
    assert Value(np.float32(1.5)).data == 1.5 and Value(np.int64(3)).data == 3.0
    assert (np.float64(2.0) * Value(3.0)).data == 6.0
    assert Value(np.array(2.5)).data == 2.5 and type(Value(np.array(2.5)).data) is float
    assert (Value(1.0) + np.array(-4.0)).data == -3.0  # a 0-d array, e.g. a row's sum
    assert (np.int64(-1) * Value(3.0)).data == -3.0  # a label from a NumPy array
    with pytest.raises(TypeError, match="real number"):
        Value(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="finite"):
        Value(np.float64("nan"))


# micrograd's demo (its README's two-moons notebook), written in its style: only the
# imports differ. Sizes are small so that the test is quick; the loop is the same.
MICROGRAD_DEMO = """
import random
import numpy as np
from tinygrad_edu.scalar import Value, Neuron, Layer, MLP
from tinygrad_edu.data.toy import make_moons

np.random.seed(1337)
random.seed(1337)
X, y = make_moons(n_samples=N, noise=0.1)
y = y*2 - 1

model = MLP(2, [16, 16, 1])

def loss(batch_size=None):
    if batch_size is None:
        Xb, yb = X, y
    else:
        ri = np.random.permutation(X.shape[0])[:batch_size]
        Xb, yb = X[ri], y[ri]
    inputs = [list(map(Value, xrow)) for xrow in Xb]
    scores = list(map(model, inputs))
    losses = [(1 + -yi*scorei).relu() for yi, scorei in zip(yb, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    alpha = 1e-4
    reg_loss = alpha * sum((p*p for p in model.parameters()))
    total_loss = data_loss + reg_loss
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(yb, scores)]
    return total_loss, sum(accuracy) / len(accuracy)

history = []
for k in range(STEPS):
    total_loss, acc = loss()
    model.zero_grad()
    total_loss.backward()
    learning_rate = 1.0 - 0.9*k/100
    for p in model.parameters():
        p.data -= learning_rate * p.grad
    history.append((total_loss.data, acc))
"""


def test_micrograd_demo_runs_unchanged_apart_from_its_imports():
    pytest.importorskip("numpy")
    scope = {"N": 40, "STEPS": 12}
    exec(compile(MICROGRAD_DEMO, "micrograd_demo", "exec"), scope)
    (first_loss, first_acc), (last_loss, last_acc) = scope["history"][0], scope["history"][-1]
    assert last_loss < 0.8 * first_loss and last_acc > max(first_acc, 0.75)
    assert all(
        type(p.data) is float or hasattr(p.data, "dtype") for p in scope["model"].parameters()
    )
    scope["loss"](batch_size=10)  # the minibatch branch too


def test_train_max_margin_and_compare_start_scales():
    from tinygrad_edu.data.toy import make_moons

    X, y = make_moons(24, noise=0.1, seed=0)
    points, labels = X.tolist(), [2 * int(k) - 1 for k in y]
    history = scalar.train_max_margin(MLP(2, [8, 1], seed=0), points, labels, 6)
    assert len(history) == 7 and history[-1] > history[0]
    result = scalar.compare_start_scales(points, labels, sizes=(8, 1), steps=4, seeds=(0, 1))
    assert set(result) == {"scaled", "unit", "faster"}
    means = {init: result[init]["mean_accuracy"] for init in scalar.INITS}
    assert result["faster"] == max(means, key=means.get)
    for init in scalar.INITS:
        assert (
            len(result[init]["curve"]) == 5 and result[init]["final"] == result[init]["curve"][-1]
        )
        assert len(result[init]["layers"]) == 2
    # the unit start's weights are larger, layer by layer
    for (w_scaled, _), (w_unit, _) in zip(result["scaled"]["layers"], result["unit"]["layers"]):
        assert w_unit > w_scaled


def test_backward_uses_the_topological_sort_hook():
    calls = []

    def my_sort(root):
        calls.append(root)
        return scalar.topological_sort(root)

    x = Value(3.0)
    y = x * x + x
    try:
        scalar.use_topological_sort(my_sort)
        y.backward()
        assert calls == [y] and x.grad == 7.0
        scalar.use_topological_sort(lambda root: [])  # a wrong sort: nothing reaches x
        x.grad = 0.0
        (x * x + x).backward()
        assert x.grad == 0.0
    finally:
        scalar.use_topological_sort(None)
    x.grad = 0.0
    (x * x + x).backward()
    assert x.grad == 7.0 and len(calls) == 1
    with pytest.raises(TypeError, match="function or None"):
        scalar.use_topological_sort(3)


# --- drawing the graph --------------------------------------------------------------------


def test_to_dot_contains_every_value_op_and_edge():
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    c = a * b
    c.label = "c"
    d = c + a
    d.label = "d"
    e = d.tanh()
    e.label = "e"
    e.backward()
    text = to_dot(e)
    assert text.startswith("digraph {") and text.rstrip().endswith("}")
    assert text.count("shape=record") == 5
    for v in [a, b, c, d, e]:
        assert f"{{ {v.label} | data {v.data:.4f} | grad {v.grad:.4f} }}" in text
    ops = re.findall(r'(n\d+)_op \[label="([^"]*)"\]', text)
    assert sorted(op for _, op in ops) == ["*", "+", "tanh"]
    edges = re.findall(r"^  (n\d+(?:_op)?) -> (n\d+(?:_op)?);$", text, re.M)
    assert len(edges) == 3 + 5  # op -> result, and inputs -> op (2 for *, 2 for +, 1 for tanh)
    name = {
        label: re.search(rf'(n\d+) \[shape=record, label="{{ {label} ', text).group(1)
        for label in "abcde"
    }
    for child, parent in ["ac", "bc", "ad", "cd", "de"]:
        assert (name[child], f"{name[parent]}_op") in edges, (child, parent)
    for parent in "cde":
        assert (f"{name[parent]}_op", name[parent]) in edges


def test_to_dot_escapes_record_characters():
    x = Value(1.0, "x|{y}")
    text = to_dot(x**2)
    assert r"x\|\{y\}" in text and "**2" in text


def test_draw_returns_none_without_graphviz(monkeypatch, tmp_path):
    monkeypatch.setattr(scalar.shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "graphviz", None)  # `import graphviz` now fails
    assert draw(Value(1.0) * 2, tmp_path / "g.svg") is None
    assert not (tmp_path / "g.svg").exists()


def test_draw_renders_svg_with_graphviz(tmp_path):
    if scalar.shutil.which("dot") is None:
        pytest.skip("Graphviz `dot` is not installed")
    path = draw(Value(1.0) * 2, tmp_path / "g.svg")
    assert path == tmp_path / "g.svg" and "<svg" in path.read_text()


# --- the file stands alone ----------------------------------------------------------------


def test_scalar_module_imports_only_the_standard_library():
    """Lesson 1 needs nothing else: load scalar.py on its own with numpy made unimportable."""
    path = Path(scalar.__file__)
    code = (
        "import sys, importlib.util\n"
        "sys.modules['numpy'] = None\n"
        f"spec = importlib.util.spec_from_file_location('scalar_alone', {str(path)!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "x = m.Value(2.0); (x * x).backward(); print(x.grad)\n"
        "print(sorted(k for k in sys.modules if k.startswith('tinygrad_edu')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split("\n")[:2] == ["4.0", "[]"]


# --- the helpers the lessons use: toy data and plots --------------------------------------


def test_make_moons_shapes_dtypes_and_seed():
    from tinygrad_edu.data import make_blobs, make_moons

    X, y = make_moons(101, noise=0.1, seed=3)
    assert X.shape == (101, 2) and X.dtype.name == "float64"
    assert y.shape == (101,) and y.dtype.name == "int64"
    assert sorted(set(y.tolist())) == [0, 1] and int(y.sum()) == 51  # 50 upper, 51 lower
    X2, y2 = make_moons(101, noise=0.1, seed=3)
    assert (X == X2).all() and (y == y2).all()
    assert not (X == make_moons(101, noise=0.1, seed=4)[0]).all()
    clean, labels = make_moons(50, noise=0.0)
    upper = clean[labels == 0]  # the upper moon lies on the unit circle
    assert ((upper**2).sum(axis=1) == pytest.approx(1.0)) and (upper[:, 1] >= -1e-12).all()
    Xb, yb = make_blobs(30, centers=[[0.0, 0.0], [5.0, 5.0]], cluster_std=0.1, seed=0)
    assert Xb.shape == (30, 2) and sorted(set(yb.tolist())) == [0, 1]
    assert abs(Xb[yb == 1].mean(axis=0) - 5.0).max() < 0.1
    with pytest.raises(ValueError, match="n_samples"):
        make_moons(0)


def test_plotting_helpers(monkeypatch, tmp_path):
    from tinygrad_edu import plotting

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert plotting.maybe_plt() is None  # no matplotlib: the lessons only print
    monkeypatch.undo()
    plt = plotting.maybe_plt()
    if plt is None:
        pytest.skip("matplotlib is not installed")
    monkeypatch.setenv("TINYGRAD_EDU_OUT", str(tmp_path / "out"))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = plotting.savefig(fig, "line")
    assert path == tmp_path / "out" / "line.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
