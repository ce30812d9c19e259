"""Lessons 1-3: a number that remembers how it was made, and backpropagation.

Read this file top to bottom; it needs nothing but the Python standard library.

1. `Value` holds one number (`.data`) and, after `backward()`, the derivative of some
   final output with respect to it (`.grad`). Every operation on Values returns a new
   Value that remembers its inputs (`_prev`), its operation (`_op`) and how to pass a
   gradient back to its inputs (`_backward`). Each op's forward and backward sit side by
   side, with the local derivative written in a comment.
2. `backward()` is backpropagation: visit the graph from the output back to the inputs,
   each node handing its gradient to its children by the chain rule.
3. `Neuron`, `Layer`, `MLP` are lecture 1 in code: a neuron is the weighted sum of the
   previous layer's activations plus a bias, squashed by an activation function; a
   network is one huge function of its weights and biases.
   `descend_line` is lecture 2's gradient descent on a line's mean squared error.
4. `to_dot` / `draw` show the graph that produced a Value.

The Tensor engine (tensor.py) does the same thing for whole arrays at once.
"""

from __future__ import annotations

import math
import numbers
import random
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Sequence, Union

Number = Union[int, float]


def _no_backward(grad: float) -> None:
    """A leaf (an input or a parameter) has no children to pass its gradient to."""


def _check_number(x: object, what: str) -> float:
    """Return x as a float, or raise TypeError saying what was wrong.

    bool is refused although Python counts it as an int: `Value(True)` silently becoming
    1.0 is almost always a bug (a comparison passed where a number was meant). Write
    `float(flag)` if you really mean it.
    """
    if type(x) is float:  # the common case, checked first because it is fast
        return x
    if getattr(x, "shape", None) == () and hasattr(x, "item"):
        x = x.item()  # a NumPy 0-d array, e.g. np.array(1.5) or a row's sum: its number
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        hint = " (write float(flag) if you mean 0.0/1.0)" if isinstance(x, bool) else ""
        raise TypeError(
            f"{what} must be a real number (int or float), got {type(x).__name__} {x!r}{hint}"
        )
    return float(x)


class Value:
    """One number in a computation graph, with the gradient of the output with respect to it.

    >>> a, b = Value(2.0), Value(-3.0)
    >>> c = a * b + a          # c = a*b + a = -4
    >>> c.backward()           # dc/da = b + 1 = -2, dc/db = a = 2
    >>> a.grad, b.grad
    (-2.0, 2.0)

    `label` is an optional name that to_dot() shows. Values have no `==`: two Values are
    the same only if they are the same node, which is what lets backward() keep them in a
    set of visited nodes.
    """

    # A network makes hundreds of thousands of Values: __slots__ makes each one smaller.
    __slots__ = ("data", "grad", "label", "_prev", "_op", "_backward")

    def __init__(
        self,
        data: Number,
        label: str = "",
        *,
        _children: tuple[Value, ...] = (),
        _op: str = "",
    ) -> None:
        data = _check_number(data, "Value data")
        if not math.isfinite(data):
            if _children:
                # Every op checks its own domain, so a non-finite result can only be a
                # float overflowing (e.g. 1e200 * 1e200): stop here, before inf turns into
                # NaN gradients (inf * 0) further down the line.
                raise OverflowError(
                    f"'{_op}' overflowed: the result {data} is too large for a float"
                )
            # inf and NaN are refused as inputs: NaN poisons every number it touches, and
            # inf turns into NaN in the chain rule (inf * 0), silently.
            raise ValueError(f"Value data must be finite, got {data}")
        self.data = data
        self.grad = 0.0  # d(output)/d(self), filled in by output.backward()
        self.label = label  # a name for drawings, e.g. "w1"
        self._prev = _children  # the Values this one was computed from
        self._op = _op  # which operation made it, e.g. "+", "*", "relu"
        self._backward: Callable[[float], None] = _no_backward

    def __repr__(self) -> str:
        name = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g}{name})"

    # --- the operations: forward and backward side by side --------------------------------
    # Each op's _backward(grad) is the chain rule for one node. `grad` is the gradient that
    # arrived at the op's output, d(final)/d(out); the op multiplies it by its local
    # derivative d(out)/d(input) and ADDS (+=) the product into each input's .grad,
    # because an input used in several places receives gradient from every use.
    # (grad is passed in rather than read from out.grad so that the closure does not refer
    # to out: no reference cycle, so a graph is freed the moment nobody holds it.)

    def __add__(self, other: Value | Number) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, _children=(self, other), _op="+")

        def _backward(grad: float) -> None:
            # d(a + b)/da = 1, d(a + b)/db = 1: addition passes the gradient through unchanged.
            self.grad += grad
            other.grad += grad

        out._backward = _backward
        return out

    def __mul__(self, other: Value | Number) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, _children=(self, other), _op="*")

        def _backward(grad: float) -> None:
            # d(a * b)/da = b, d(a * b)/db = a: each input's gradient is scaled by the other.
            self.grad += other.data * grad
            other.grad += self.data * grad

        out._backward = _backward
        return out

    def __sub__(self, other: Value | Number) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data - other.data, _children=(self, other), _op="-")

        def _backward(grad: float) -> None:
            # d(a - b)/da = 1, d(a - b)/db = -1
            self.grad += grad
            other.grad -= grad

        out._backward = _backward
        return out

    def __truediv__(self, other: Value | Number) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        if other.data == 0.0:
            raise ZeroDivisionError(f"division by zero: {self.data} / {other.data}")
        q = self.data / other.data
        out = Value(q, _children=(self, other), _op="/")

        def _backward(grad: float) -> None:
            # d(a / b)/da = 1/b, d(a / b)/db = -a/b**2, computed as -(a/b)/b so that a tiny
            # b does not underflow b**2 to zero
            self.grad += grad / other.data
            other.grad -= q / other.data * grad

        out._backward = _backward
        return out

    def __pow__(self, p: Number) -> Value:
        if isinstance(p, Value):
            raise TypeError(
                "the exponent of ** must be a plain number, not a Value: this engine only "
                "differentiates x**p with respect to x. For a learnable exponent write "
                "(p * x.log()).exp()"
            )
        p = _check_number(p, "the exponent of **")
        x = self.data
        if x < 0 and not p.is_integer():
            raise ValueError(
                f"({x}) ** {p}: a negative number to a non-integer power is not a real number"
            )
        if x == 0 and p < 0:
            raise ZeroDivisionError(f"({x}) ** {p}: zero cannot be raised to a negative power")
        try:
            y = x**p
        except OverflowError:
            raise OverflowError(f"({x}) ** {p} overflows a float") from None
        out = Value(y, _children=(self,), _op=f"**{p:g}")

        def _backward(grad: float) -> None:
            # d(x**p)/dx = p * x**(p-1). Two special cases keep Python's pow from failing:
            if p == 0:  # x**0 is the constant 1, its derivative is 0 (even at x = 0)
                return
            if x == 0 and p < 1:  # e.g. sqrt at 0: the slope is vertical
                raise ZeroDivisionError(f"the derivative of x**{p:g} is infinite at x = 0")
            self.grad += p * x ** (p - 1) * grad

        out._backward = _backward
        return out

    def __neg__(self) -> Value:
        out = Value(-self.data, _children=(self,), _op="neg")

        def _backward(grad: float) -> None:
            # d(-x)/dx = -1
            self.grad -= grad

        out._backward = _backward
        return out

    # Plain numbers on the left: 2 * v calls v.__rmul__(2), 1 - v calls v.__rsub__(1), ...
    def __radd__(self, other: Number) -> Value:
        return Value(other) + self

    def __rmul__(self, other: Number) -> Value:
        return Value(other) * self

    def __rsub__(self, other: Number) -> Value:
        return Value(other) - self

    def __rtruediv__(self, other: Number) -> Value:
        return Value(other) / self

    def __rpow__(self, base: Number) -> Value:
        raise TypeError(
            f"{base!r} ** Value: the exponent of ** must be a plain number; for base**x "
            "write (x * math.log(base)).exp()"
        )

    # --- activation functions and friends --------------------------------------------------

    def relu(self) -> Value:
        """ReLU(x) = max(0, x): the modern activation, 'off' below zero, linear above."""
        out = Value(self.data if self.data > 0 else 0.0, _children=(self,), _op="relu")

        def _backward(grad: float) -> None:
            # d relu(x)/dx = 1 if x > 0 else 0 (at exactly 0 we pick 0, as PyTorch does)
            if self.data > 0:
                self.grad += grad

        out._backward = _backward
        return out

    def sigmoid(self) -> Value:
        """sigmoid(x) = 1 / (1 + exp(-x)): the older activation, squashes any x into (0, 1)."""
        # Numerically stable: exp is only ever called on a non-positive number, so it
        # can't overflow. For x < 0 we use the equal form exp(x) / (1 + exp(x)).
        if self.data >= 0:
            s = 1.0 / (1.0 + math.exp(-self.data))
        else:
            e = math.exp(self.data)
            s = e / (1.0 + e)
        out = Value(s, _children=(self,), _op="sigmoid")

        def _backward(grad: float) -> None:
            # d sigmoid(x)/dx = s * (1 - s): largest (1/4) at x = 0, tiny for large |x|
            self.grad += s * (1.0 - s) * grad

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        """tanh(x): like sigmoid but centred on 0, squashes x into (-1, 1)."""
        t = math.tanh(self.data)
        out = Value(t, _children=(self,), _op="tanh")

        def _backward(grad: float) -> None:
            # d tanh(x)/dx = 1 - tanh(x)**2
            self.grad += (1.0 - t * t) * grad

        out._backward = _backward
        return out

    def exp(self) -> Value:
        """e**x."""
        try:
            y = math.exp(self.data)
        except OverflowError:
            raise OverflowError(
                f"exp({self.data}) overflows a float (exp(x) > 1.8e308 for x > 709.78); "
                "scale your inputs down or use a stable formula (see sigmoid)"
            ) from None
        out = Value(y, _children=(self,), _op="exp")

        def _backward(grad: float) -> None:
            # d exp(x)/dx = exp(x): the output itself
            self.grad += y * grad

        out._backward = _backward
        return out

    def log(self) -> Value:
        """The natural logarithm, defined for x > 0."""
        if self.data <= 0:
            raise ValueError(f"log({self.data}) is undefined: log needs a positive number")
        out = Value(math.log(self.data), _children=(self,), _op="log")

        def _backward(grad: float) -> None:
            # d log(x)/dx = 1/x
            self.grad += grad / self.data

        out._backward = _backward
        return out

    # --- backpropagation -------------------------------------------------------------------

    def backward(self) -> None:
        """Fill in `.grad` of every Value this one depends on: d(self)/d(that Value).

        1. Sort the graph topologically: every node comes after the nodes it was made
           from (`topological_sort` below).
        2. Walk that order backwards, from self to the leaves: when a node is reached, every
           use of it has already added its share to node.grad (chain rule, summed over
           paths), so the node can hand its gradient on to its own children.

        Gradients ACCUMULATE, as in PyTorch: the leaves' grads (parameters and inputs) are
        added to, never overwritten. Calling backward() twice without zero_grad() adds the
        same gradient again, so the leaf grads double. That is a feature: the gradient of a
        sum of losses is the sum of their gradients, so you may call loss.backward() on
        several examples and then take one step. It is also the classic bug of forgetting
        zero_grad() before the next step.

        The grads of intermediate nodes are scratch space for one pass: each backward()
        resets them to 0 before starting (without that reset a second pass would push the
        first pass's leftovers through the graph again). The output's grad is set to 1.0:
        d(self)/d(self) = 1.
        """
        topo = _topological_sort(self)
        for node in topo:
            if node._prev:  # an intermediate node: forget the previous pass
                node.grad = 0.0
        self.grad = 1.0 if self._prev else self.grad + 1.0  # a leaf output accumulates too
        for node in reversed(topo):
            if not math.isfinite(node.grad):  # never hand a NaN on silently
                where = f"the output of '{node._op}'" if node._op else "a leaf"
                raise OverflowError(f"the gradient reaching {where} ({node!r}) overflowed")
            node._backward(node.grad)


def topological_sort(root: Value) -> list[Value]:
    """Every Value that root depends on, root included, each after the Values it was made
    from: the order backward() walks in reverse.

    A depth-first search with an explicit stack, not recursion, so that a chain of a
    million ops works as well as a short one.
    """
    topo: list[Value] = []
    visited: set[Value] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:  # all of node's children are already in topo
            topo.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))  # come back to node once its children are done
        for child in node._prev:
            if child not in visited:
                stack.append((child, False))
    return topo


# The sort backward() uses. A learner's own `topological_sort` exercise can take its place
# (`--mine DIR`, put in place by tinygrad_edu/exercises/mine.py): the engine imports nothing
# else of the package, so it has hooks of its own (this one, and descend_line's step below).
_topological_sort: Callable[[Value], list[Value]] = topological_sort


def use_topological_sort(fn: Callable[[Value], list[Value]] | None) -> None:
    """Make backward() sort the graph with fn (None: the engine's own topological_sort)."""
    global _topological_sort
    if fn is not None and not callable(fn):
        raise TypeError(f"use_topological_sort needs a function or None, got {fn!r}")
    _topological_sort = topological_sort if fn is None else fn


# --- lecture 1: neurons, layers, networks ---------------------------------------------------

ACTIVATIONS: dict[str, Callable[[Value], Value]] = {
    "relu": Value.relu,  # max(0, z): the modern choice
    "sigmoid": Value.sigmoid,  # 1 / (1 + e^-z): the older choice
    "tanh": Value.tanh,
    "linear": lambda z: z,  # no squashing: for the output of a regression or a score
}

# The module's generator, used when no seed is given; manual_seed() resets it.
_rng = random.Random(0)


def manual_seed(seed: int) -> None:
    """Make every Neuron/Layer/MLP created from now on reproducible (like torch.manual_seed)."""
    _rng.seed(seed)


def _generator(seed: int | random.Random | None) -> random.Random:
    """seed: None -> the module generator; an int -> a fresh one; a Random -> itself."""
    if seed is None:
        return _rng
    if isinstance(seed, random.Random):
        return seed
    return random.Random(seed)


def _as_values(x: Sequence[Value | Number] | Value | Number, n: int, who: str) -> list[Value]:
    """Check that x has n entries and turn plain numbers into (leaf) Values.

    A lone Value or number is one input: what a layer of one neuron hands on."""
    if isinstance(x, Value) or not hasattr(x, "__len__"):
        x = [x]
    if len(x) != n:
        raise ValueError(f"{who} expects {n} inputs, got {len(x)}")
    return [xi if isinstance(xi, Value) else Value(xi) for xi in x]


# How big the starting weights are (every weight is drawn uniformly from [-bound, bound]):
#   "scaled": bound = 1/sqrt(n_inputs), so that the weighted sum of n inputs stays about
#             the size of one input, however many inputs there are;
#   "unit":   bound = 1, micrograd's choice.
# Lesson 3 measures which of the two learns micrograd's two-moons loop faster
# (`compare_start_scales` below), and why, and DEFAULT_INIT follows that measurement:
# "unit". With "scaled", the gradient that reaches the first layer has passed through
# two layers of small weights, so at the same learning rate that layer barely moves
# compared with its own size. (The Tensor engine's nn.Linear, for wide layers, keeps the
# 1/sqrt(n_inputs) scale: there a sum of hundreds of inputs would be far too big.)
INITS = ("scaled", "unit")
DEFAULT_INIT = "unit"


def _init_bound(init: str, n_inputs: int) -> float:
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {list(INITS)}")
    return 1.0 / math.sqrt(n_inputs) if init == "scaled" else 1.0


class Neuron:
    """activation(w1*a1 + w2*a2 + ... + wn*an + b): one weight per input, one bias.

    seed: an int for reproducible weights, a random.Random to share one generator, or None
    for the module generator (see manual_seed). init: the starting weights' size, "unit"
    (uniform in +-1, the default) or "scaled" (uniform in +-1/sqrt(n_inputs)); see INITS.
    """

    def __init__(
        self,
        n_inputs: int,
        activation: str = "relu",
        seed: int | random.Random | None = None,
        init: str | None = None,
    ) -> None:
        if isinstance(n_inputs, bool) or not isinstance(n_inputs, int) or n_inputs < 1:
            raise ValueError(f"n_inputs must be a positive int, got {n_inputs!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}"
            )
        scale = _init_bound(DEFAULT_INIT if init is None else init, n_inputs)
        rng = _generator(seed)
        # Weights start random so that neurons differ from each other, and of the size
        # `init` asks for (see INITS).
        self.weights = [Value(rng.uniform(-1.0, 1.0) * scale, "w") for _ in range(n_inputs)]
        self.bias = Value(0.0, "b")  # the threshold; learned like the weights
        self.activation = activation

    def __call__(self, x: Sequence[Value | Number]) -> Value:
        x = _as_values(x, len(self.weights), "Neuron")
        # The weighted sum of the previous layer's activations, plus the bias ...
        z = self.bias
        for w, a in zip(self.weights, x):
            z = z + w * a
        # ... squashed by the activation function.
        return ACTIVATIONS[self.activation](z)

    def parameters(self) -> list[Value]:
        return self.weights + [self.bias]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0

    def __repr__(self) -> str:
        return f"Neuron({len(self.weights)} inputs, {self.activation})"


class Layer:
    """n_outputs neurons, each looking at the same n_inputs activations.

    Calling it gives the list of the neurons' outputs; a layer of ONE neuron gives that
    Value itself (as micrograd does), so that a network's single score is a Value:
    `(1 - label * model(x)).relu()` works without `[0]`.
    """

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        activation: str = "relu",
        seed: int | random.Random | None = None,
        init: str | None = None,
    ) -> None:
        if isinstance(n_outputs, bool) or not isinstance(n_outputs, int) or n_outputs < 1:
            raise ValueError(f"n_outputs must be a positive int, got {n_outputs!r}")
        rng = _generator(seed)
        self.neurons = [Neuron(n_inputs, activation, seed=rng, init=init) for _ in range(n_outputs)]
        self.n_inputs, self.activation = n_inputs, activation

    def __call__(self, x: Sequence[Value | Number] | Value | Number) -> list[Value] | Value:
        x = _as_values(x, self.n_inputs, "Layer")  # converted once, shared by all neurons
        out = [neuron(x) for neuron in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        return [p for neuron in self.neurons for p in neuron.parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0

    def __repr__(self) -> str:
        return f"Layer({self.n_inputs} -> {len(self.neurons)}, {self.activation})"


class MLP:
    """A multi-layer perceptron: layers applied one after another.

    MLP(784, [16, 16, 10]) is lecture 1's digit recogniser: 784 pixels in, two hidden
    layers of 16 neurons, 10 outputs (one score per digit). Hidden layers use
    `activation`; the last layer uses `output_activation` ("linear" gives raw scores).
    """

    def __init__(
        self,
        n_inputs: int,
        sizes: Sequence[int],
        activation: str = "relu",
        output_activation: str = "linear",
        seed: int | random.Random | None = None,
        init: str | None = None,
    ) -> None:
        if len(sizes) == 0:
            raise ValueError("sizes must list at least one layer size, e.g. [16, 16, 10]")
        rng = _generator(seed)
        dims = [n_inputs, *sizes]
        self.layers = [
            Layer(
                dims[i],
                dims[i + 1],
                activation if i < len(sizes) - 1 else output_activation,
                seed=rng,
                init=init,
            )
            for i in range(len(sizes))
        ]
        self.n_inputs = n_inputs

    def __call__(self, x: Sequence[Value | Number] | Value | Number) -> list[Value] | Value:
        """The last layer's outputs: a list, or the Value itself if there is one output."""
        x = _as_values(x, self.n_inputs, "MLP")
        for layer in self.layers:
            x = layer(x)  # each layer's activations are the next layer's inputs
        return x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def num_parameters(self) -> int:
        """How many numbers learning can turn: every weight and every bias."""
        return len(self.parameters())

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0

    def __repr__(self) -> str:
        shape = " -> ".join(str(d) for d in [self.n_inputs, *(len(l.neurons) for l in self.layers)])
        acts = ", ".join(layer.activation for layer in self.layers)
        return f"MLP({shape}; {acts}; {self.num_parameters():,} parameters)"


# --- lesson 2: a line fitted by gradient descent ---------------------------------------------


def line_cost(w: Value, b: Value, xs: Sequence[float], ys: Sequence[float]) -> Value:
    """The mean squared error of the line w * x + b on the points (xs, ys)."""
    total = Value(0.0)
    for x, y in zip(xs, ys):
        prediction = w * x + b
        total = total + (prediction - y) ** 2
    return total / len(xs)


def gradient_descent_step(
    w: float, b: float, xs: Sequence[float], ys: Sequence[float], lr: float
) -> tuple[float, float]:
    """One step downhill on the line's cost from (w, b): (w_new, b_new).

    backward() gives both slopes at the old point; then each parameter moves against its
    own slope, lr times it."""
    wv, bv = Value(w), Value(b)
    line_cost(wv, bv, xs, ys).backward()
    return w - lr * wv.grad, b - lr * bv.grad


def descend_line(
    xs: Sequence[float], ys: Sequence[float], lr: float, steps: int, start=(0.0, 0.0)
) -> tuple[list[float], list[float]]:
    """Gradient descent on the line's cost from start: ([w, b] at the end, the cost before
    every step)."""
    (w, b), costs = start, []
    for _ in range(steps):
        costs.append(line_cost(Value(w), Value(b), xs, ys).data)
        w, b = _gradient_descent_step(w, b, xs, ys, lr)
    return [w, b], costs


# The step descend_line takes; a learner's `gradient_descent_step` can take its place
# (`--mine DIR`), as a learner's topological_sort can take backward()'s.
_gradient_descent_step: Callable[..., tuple[float, float]] = gradient_descent_step


def use_gradient_descent_step(fn: Callable[..., tuple[float, float]] | None) -> None:
    """Make descend_line step with fn (None: the engine's own gradient_descent_step)."""
    global _gradient_descent_step
    if fn is not None and not callable(fn):
        raise TypeError(f"use_gradient_descent_step needs a function or None, got {fn!r}")
    _gradient_descent_step = gradient_descent_step if fn is None else fn


# --- lesson 3: micrograd's loop, and how big the starting weights should be -----------------


def train_max_margin(
    model: MLP,
    points: Sequence[Sequence[Number]],
    labels: Sequence[Number],
    steps: int,
    alpha: float = 1e-4,
) -> list[float]:
    """micrograd's two-moons loop, on any model with one output.

    Every step uses all the points: the max-margin (SVM) loss mean(relu(1 - label * score))
    with labels -1/+1, plus alpha * (sum of squared parameters), then plain gradient
    descent with a learning rate falling from 1.0 to 0.1. Returns the accuracy (the share
    of points whose score has the label's sign) before each step, and after the last.
    """
    params = model.parameters()
    history = []
    for k in range(steps + 1):
        scores = [model(p) for p in points]
        history.append(sum((y > 0) == (s.data > 0) for y, s in zip(labels, scores)) / len(labels))
        if k == steps:
            break
        losses = [(1 + -y * s).relu() for y, s in zip(labels, scores)]
        loss = sum(losses) * (1.0 / len(losses)) + alpha * sum(p * p for p in params)
        model.zero_grad()
        loss.backward()
        learning_rate = 1.0 - 0.9 * k / steps
        for p in params:
            p.data -= learning_rate * p.grad
    return history


def layer_gradient_sizes(model: MLP, points, labels) -> list[tuple[float, float]]:
    """(mean |weight|, mean |dLoss/dweight|) of each layer for the max-margin loss (no
    regularisation) at the model's present weights: how far one step moves each layer,
    compared with the weights' own size."""
    scores = [model(p) for p in points]
    loss = sum((1 + -y * s).relu() for y, s in zip(labels, scores)) * (1.0 / len(scores))
    model.zero_grad()
    loss.backward()
    sizes = []
    for layer in model.layers:
        weights = [w for n in layer.neurons for w in n.weights]
        sizes.append((
            sum(abs(w.data) for w in weights) / len(weights),
            sum(abs(w.grad) for w in weights) / len(weights),
        ))  # fmt: skip
    model.zero_grad()
    return sizes


def compare_start_scales(
    points,
    labels,
    sizes: Sequence[int] = (16, 16, 1),
    steps: int = 100,
    seeds: Sequence[int] = (0, 1, 2),
) -> dict:
    """Train MLP(len(points[0]), sizes) with each starting scale of INITS on the same
    points, for each seed, with micrograd's loop (train_max_margin).

    Returns {init: {"curve": mean accuracy per step over the seeds, "mean_accuracy": its
    average over the run (higher = learned faster), "final": the mean final accuracy,
    "layers": per layer (mean |weight|, mean |gradient|) at the start, averaged over the
    seeds}, ..., "faster": the init with the higher mean_accuracy}.
    """
    result: dict = {}
    for init in INITS:
        curves, layers = [], []
        for seed in seeds:
            model = MLP(len(points[0]), sizes, seed=seed, init=init)
            layers.append(layer_gradient_sizes(model, points, labels))
            curves.append(train_max_margin(model, points, labels, steps))
        curve = [sum(c[k] for c in curves) / len(curves) for k in range(steps + 1)]
        result[init] = {
            "curve": curve,
            "mean_accuracy": sum(curve) / len(curve),
            "final": curve[-1],
            "layers": [
                tuple(sum(run[i][j] for run in layers) / len(layers) for j in range(2))
                for i in range(len(sizes))
            ],
        }
    result["faster"] = max(INITS, key=lambda init: result[init]["mean_accuracy"])
    return result


# --- seeing the graph -----------------------------------------------------------------------


def _walk(root: Value) -> list[Value]:
    """Every Value that root depends on (root first), found without recursion."""
    seen, order, stack = {root}, [], [root]
    while stack:
        node = stack.pop()
        order.append(node)
        for child in node._prev:
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return order


def _dot_escape(text: str) -> str:
    """Escape the characters that mean something inside a Graphviz record label."""
    for ch in '\\{}|<>"':
        text = text.replace(ch, "\\" + ch)
    return text


def to_dot(value: Value) -> str:
    """The graph that produced `value`, as Graphviz DOT text.

    Each Value is a box `label | data | grad`; each operation is an oval feeding the
    Value it produced. Paste the text into any Graphviz viewer, or call draw().
    """
    nodes = _walk(value)
    name = {id(v): f"n{i}" for i, v in enumerate(nodes)}
    lines = ["digraph {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for v in nodes:
        box = f"{_dot_escape(v.label) or ' '} | data {v.data:.4f} | grad {v.grad:.4f}"
        lines.append(f'  {name[id(v)]} [shape=record, label="{{ {box} }}"];')
        if v._op:
            lines.append(f'  {name[id(v)]}_op [label="{_dot_escape(v._op)}"];')
            lines.append(f"  {name[id(v)]}_op -> {name[id(v)]};")
            for child in v._prev:
                lines.append(f"  {name[id(child)]} -> {name[id(v)]}_op;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw(value: Value, path: str | Path) -> Path | None:
    """Render the graph to an image (format from the suffix: .svg, .png, ...).

    Needs Graphviz's `dot` program. Returns the path written, or None when Graphviz is
    missing (install it with `apt install graphviz`, `brew install graphviz` or
    `conda install graphviz`; the DOT text from to_dot() still works without it).
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".") or "svg"
    if shutil.which("dot") is not None:
        subprocess.run(
            ["dot", f"-T{fmt}", "-o", str(path)], input=to_dot(value), text=True, check=True
        )
        return path
    try:  # the `graphviz` Python package may know where Graphviz lives
        import graphviz
    except ImportError:
        return None
    try:
        graphviz.Source(to_dot(value)).render(outfile=str(path), format=fmt, cleanup=True)
    except graphviz.ExecutableNotFound:
        return None
    return path
