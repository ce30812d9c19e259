# %% [markdown]
# # Lesson 1: what a neural network is
#
# A **neuron** is a thing that holds a number, its *activation*. It computes that number
# from the activations of the previous layer:
#
#     activation = f(w1*a1 + w2*a2 + ... + wn*an + b)
#
# - each connection has a **weight** w: how much this neuron cares about that input,
#   and with which sign;
# - the **bias** b shifts the threshold: how big the weighted sum must be before the
#   neuron becomes active;
# - the **activation function** f squashes the result: ReLU (the modern way) or
#   sigmoid (the older way).
#
# A **network** is layers of neurons, each layer's activations feeding the next. The
# whole thing is just one (huge) function of its inputs, with many parameters.
#
# Run: `python tutorials/01_neuron.py` (everything here is quick; `--quick` changes nothing).
# The code is in `tinygrad_edu/scalar.py` (`Value`, `Neuron`, `Layer`, `MLP`).

# %%
from __future__ import annotations

import contextlib

import numpy as np

with contextlib.suppress(ImportError):  # a source checkout: teach from *its* package
    import _common  # noqa: F401  (tutorials/_common.py; a notebook on its own has none)

from tinygrad_edu.lessons.common import Lesson  # --quick, output folder, figures
from tinygrad_edu.scalar import MLP, Layer, Neuron, Value

lesson = Lesson(
    "01_neuron",
    "Lesson 1: what a neural network is",
    quick_help="a fast run (this lesson is always fast)",
)
args = lesson.args

# %% [markdown]
# ## What you may believe after the lecture, and how this lesson checks it
#
# A learner's notes on lecture 1 say four things. Each is checked below by an experiment on
# this lesson's neurons and network, and ends with an outcome (confirmed, partly or
# corrected) computed from the run:
#
# 1. *A neuron is a function that picks up one feature of its input* (section 2, on real
#    handwritten digits).
# 2. *Each connection is one weight* (section 5: count them).
# 3. *A neuron takes the weighted sum of its inputs, adds its bias, and then applies ReLU
#    (the modern way) or sigmoid (the older way)* (section 1: the order, measured; lesson 4
#    trains both activations).
# 4. *Deep learning is building one huge function* (section 5: is every one of the 13,002
#    numbers inside the network's output?).
#
# The last cell lists the outcomes.

# %% [markdown]
# ## 1. One neuron, computed by hand and by the code
#
# A neuron with three inputs. We set its weights ourselves so the arithmetic is easy to
# follow.

# %%
neuron = Neuron(3, activation="relu", seed=0)
for w, value in zip(neuron.weights, [0.5, -1.0, 2.0]):
    w.data = value
neuron.bias.data = -1.0

a = [1.0, 2.0, 1.5]  # the previous layer's activations
weighted_sum = sum(w.data * ai for w, ai in zip(neuron.weights, a)) + neuron.bias.data
print(f"weights {[w.data for w in neuron.weights]}, bias {neuron.bias.data}, inputs {a}")
print(f"weighted sum + bias = 0.5*1 + (-1)*2 + 2*1.5 + (-1) = {weighted_sum}")
print(f"ReLU of that        = max(0, {weighted_sum}) = {max(0.0, weighted_sum)}")
print(f"the Neuron object says: {neuron(a).data}   <- the same number")

# %% [markdown]
# **Belief 3: the order.** Weighted sum, plus bias, *then* the activation: or could the
# activation come first, on each product, as a quick reading of the lecture allows? Ask the
# `Neuron` class itself: random weights, bias and inputs, 100 times, for both activations,
# and compare its output with three orders of the same steps.

# %%
import random  # noqa: E402

from tinygrad_edu.scalar import ACTIVATIONS  # noqa: E402

gen = random.Random(lesson.seed)
orders = {
    "f(sum(w*a) + b)": lambda f, ws, xs, b: f(sum(w * x for w, x in zip(ws, xs)) + b),
    "sum(f(w*a)) + b": lambda f, ws, xs, b: sum(f(w * x) for w, x in zip(ws, xs)) + b,
    "f(sum(w*a)) + b": lambda f, ws, xs, b: f(sum(w * x for w, x in zip(ws, xs))) + b,
}
gap = dict.fromkeys(orders, 0.0)  # the largest |Neuron - this order| over all trials
for trial in range(100):
    kind = ("relu", "sigmoid")[trial % 2]
    probe = Neuron(4, activation=kind, seed=gen)
    probe.bias.data = gen.uniform(-1, 1)
    xs = [gen.uniform(-2, 2) for _ in range(4)]
    ws = [w.data for w in probe.weights]
    f = lambda v, kind=kind: ACTIVATIONS[kind](Value(v)).data  # noqa: E731
    for name, order in orders.items():
        gap[name] = max(gap[name], abs(probe(xs).data - order(f, ws, xs, probe.bias.data)))
for name, g in gap.items():
    print(f"  Neuron vs {name:17s}: largest difference {g:.1e}")
right = min(gap, key=gap.get)
others = min(g for name, g in gap.items() if name != right)
lesson.belief(
    "order_sum_bias_then_activation",
    "A neuron takes the weighted sum of its inputs, adds its bias, then applies ReLU or sigmoid.",
    "confirmed"
    if right == "f(sum(w*a) + b)" and gap[right] < 1e-12 and others > 1e-3
    else "corrected",
    f"over 100 random neurons the Neuron matches {right} (largest difference {gap[right]:.0e}); "
    f"the closest other order is off by up to {others:.2f}",
    notes=(3,),
)

# %% [markdown]
# ## 2. A neuron responds to a feature
#
# Think of 9 pixels in a 3x3 grid (1 = bright, 0 = dark). Give a neuron positive weights
# on the middle column and negative weights on the two side columns: it responds to a
# *vertical line*. The bias of -2 says "only fire when the evidence is clearly there".

# %%
detector = Neuron(9, activation="relu", seed=0)
pattern = [-1, 1, -1, -1, 1, -1, -1, 1, -1]  # weights: + on the middle column, - elsewhere
for w, value in zip(detector.weights, pattern):
    w.data = float(value)
detector.bias.data = -2.0

images = {
    "vertical line": [0, 1, 0, 0, 1, 0, 0, 1, 0],
    "horizontal line": [0, 0, 0, 1, 1, 1, 0, 0, 0],
    "all bright": [1, 1, 1, 1, 1, 1, 1, 1, 1],
    "dark": [0, 0, 0, 0, 0, 0, 0, 0, 0],
}
print("image             activation   (the neuron 'lights up' only for its feature)")
for name, pixels in images.items():
    print(f"{name:16s}  {detector(pixels).data:6.2f}")

# %% [markdown]
# **Belief 1: a neuron picks up a feature.** The images above were made for the neuron.
# Real handwriting is messier: 1,000 handwritten digits (lesson 4's test set, 28x28
# pixels). The same idea at that size: a neuron with 784 weights, positive on the four
# middle columns and negative everywhere else, bias 0. A "1" is mostly a vertical stroke
# down the middle. Does this neuron light up on the 1s more than on the other digits?

# %%
from tinygrad_edu.data import load_digits  # noqa: E402

X_digits, y_digits = load_digits("test")  # (1000, 784) pixels in [0, 1], labels 0-9
stroke = Neuron(784, activation="relu", seed=0)
for k, w in enumerate(stroke.weights):
    w.data = (1.0 if 12 <= k % 28 < 16 else -1.0) / 28  # pixel k is in column k % 28
w_stroke = np.array([w.data for w in stroke.weights])  # the same neuron, for 1,000 images
acts = np.maximum(0.0, X_digits @ w_stroke + stroke.bias.data)
assert abs(acts[0] - stroke(X_digits[0].tolist()).data) < 1e-9  # the Neuron agrees
on_ones, on_others = acts[y_digits == 1].mean(), acts[y_digits != 1].mean()
top = y_digits[np.argsort(-acts)[:100]]  # the labels of the 100 images it likes most
print(f"mean activation on the 1s {on_ones:.3f}, on the other digits {on_others:.3f}")
print(f"of the 100 images it responds to most, {np.sum(top == 1)} are 1s (1s are 10% of all)")
lesson.verdict(
    "stroke_neuron_prefers_ones",
    on_ones > 5 * on_others and np.mean(top == 1) > 0.3,
    f"the stroke neuron responds {on_ones / max(on_others, 1e-12):.0f}x more to the 1s than to "
    "the other digits: a feature detector on real data",
    "on real handwriting this neuron does not single out the 1s",
)
lesson.belief(
    "neuron_detects_a_feature",
    "A neuron is a function that picks up one feature of its input.",
    "confirmed" if on_ones > 5 * on_others else "corrected",
    f"a vertical-stroke neuron's mean activation is {on_ones:.3f} on 1,000 real digits' 1s "
    f"and {on_others:.3f} on the others; {np.sum(top == 1)} of its top 100 are 1s",
    notes=(1,),
)

# %% [markdown]
# ## 3. ReLU versus sigmoid
#
# Both turn the weighted sum z into an activation. Sigmoid, 1 / (1 + e^-z), squashes
# every z into (0, 1), like a neuron being "more or less on"; it was the first choice.
# ReLU, max(0, z), is simply off below zero and linear above; it is the modern default,
# and lesson 4 measures whether it trains better. Notice how flat sigmoid gets for large
# |z| (its slope is almost 0 there, so a gradient passing through it shrinks), while ReLU
# keeps a slope of 1 for every positive z.

# %%
print("    z     ReLU(z)   sigmoid(z)")
zs = [-6.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0]
for z in zs:
    print(f"{z:5.1f}   {Value(z).relu().data:7.3f}   {Value(z).sigmoid().data:9.4f}")

plt = lesson.plt
if plt is not None:
    grid = [i / 10 for i in range(-60, 61)]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(grid, [Value(z).relu().data for z in grid], label="ReLU(z) = max(0, z)")
    ax.plot(grid, [Value(z).sigmoid().data for z in grid], label="sigmoid(z) = 1/(1+e^-z)")
    ax.set(
        xlabel="weighted sum z", ylabel="activation", ylim=(-0.5, 3), title="Activation functions"
    )
    ax.legend()
    ax.grid(alpha=0.3)
    lesson.save(fig, "01_activations")

# %% [markdown]
# ## 4. A layer: many neurons looking at the same inputs
#
# Each neuron has its own weights, so each responds to a different feature. A layer
# with 3 inputs and 4 neurons has 4 * 3 weights and 4 biases.

# %%
layer = Layer(3, 4, activation="relu", seed=1)
print(layer, "with", len(layer.parameters()), "parameters (4*3 weights + 4 biases)")
print("its 4 activations for the inputs", a, ":", [round(o.data, 3) for o in layer(a)])

# %% [markdown]
# Written with matrices, a whole layer is one line. Stack the neurons' weights as the rows
# of a matrix W (4 x 3) and their biases as a vector b (4): the layer's activations are
#
#     a' = sigmoid(W a + b)          (4,) = sigmoid((4, 3) @ (3,) + (4,))
#
# Row j of W a is neuron j's weighted sum. The same numbers, computed both ways (a
# demonstration, not a finding: both lines do the same arithmetic, in another order):

# %%
sig_layer = Layer(3, 4, activation="sigmoid", seed=1)
W = np.array([[w.data for w in n.weights] for n in sig_layer.neurons])  # (4, 3)
b = np.array([n.bias.data for n in sig_layer.neurons])  # (4,)
by_matrix = 1 / (1 + np.exp(-(W @ np.array(a) + b)))  # sigmoid(W a + b)
by_neurons = np.array([o.data for o in sig_layer(a)])
print("sigmoid(W a + b)     :", np.round(by_matrix, 6))
print("the Layer of Neurons :", np.round(by_neurons, 6))
print(f"largest difference {np.abs(by_matrix - by_neurons).max():.1e} (rounding only)")

# %% [markdown]
# ## 5. A network is one huge function
#
# The classic digit recogniser from the lecture: 784 inputs (28x28 pixels), two hidden
# layers of 16 neurons, 10 outputs (one per digit). Every weight and bias is a knob that
# learning can turn. Count them layer by layer: every neuron has one weight per input
# plus one bias.

# %%
model = MLP(784, [16, 16, 10], activation="relu", output_activation="linear", seed=lesson.seed)
print(model)
sizes = [784, 16, 16, 10]
total = 0
for n_in, n_out in zip(sizes, sizes[1:]):
    count = n_in * n_out + n_out
    total += count
    print(f"  layer {n_in:3d} -> {n_out:2d}: {n_in}*{n_out} weights + {n_out} biases = {count:6,}")
print(f"  total: {total:,} parameters; the model counts {model.num_parameters():,}")
assert total == model.num_parameters() == 13_002

# %% [markdown]
# **Belief 2: each connection is one weight.** A connection joins a neuron to one neuron
# of the layer before. Count the connections from the layer sizes, and count the weights
# the model's neurons actually hold:

# %%
connections = sum(n_in * n_out for n_in, n_out in zip(sizes, sizes[1:]))
n_weights = sum(len(n.weights) for layer in model.layers for n in layer.neurons)
n_biases = sum(1 for layer in model.layers for n in layer.neurons)
print(f"{connections:,} connections, {n_weights:,} weights, {n_biases} biases")
lesson.belief(
    "one_weight_per_connection",
    "Each connection between two neurons is one weight.",
    "confirmed" if n_weights == connections else "corrected",
    f"{connections:,} connections and {n_weights:,} weights; the other "
    f"{model.num_parameters() - n_weights} parameters are biases, one per neuron, on no connection",
    notes=(2,),
)

# %% [markdown]
# Feed it one (random) image: 784 numbers in, 10 numbers out. With random weights the
# 10 scores mean nothing yet; lessons 2 and 3 are about turning the 13,002 knobs until
# they do. Every multiplication and addition along the way is a `Value` that remembers
# how it was made: the function really is one big expression.

# %%
image = [((i * 37) % 100) / 100 for i in range(784)]  # a made-up "image", pixels in [0, 1)
scores = model(image)
print("10 output scores:", [round(s.data, 3) for s in scores])
print("the network's guess (largest score): digit", max(range(10), key=lambda d: scores[d].data))


def count_nodes(root: Value) -> int:
    """How many Values the expression for root contains (an explicit stack, no recursion)."""
    seen, stack = {id(root)}, [root]
    while stack:
        for child in stack.pop()._prev:
            if id(child) not in seen:
                seen.add(id(child))
                stack.append(child)
    return len(seen)


print(f"the expression behind score 0 has {count_nodes(scores[0]):,} Values in it")


def leaves_of(roots: list[Value]) -> set[int]:
    """The ids of every Value the roots were computed from (an explicit stack)."""
    seen, stack = set(), list(roots)
    while stack:
        v = stack.pop()
        if id(v) not in seen:
            seen.add(id(v))
            stack.extend(v._prev)
    return seen


inside = leaves_of(scores)
n_inside = sum(id(p) in inside for p in model.parameters())
print(f"of the model's {model.num_parameters():,} parameters, {n_inside:,} are inside the")
print("expression for the 10 scores")
lesson.belief(
    "network_is_one_function",
    "Deep learning is building one huge function: the network is a single function of its parameters.",
    "confirmed" if n_inside == model.num_parameters() == 13_002 else "partly",
    f"all {n_inside:,} of the {model.num_parameters():,} weights and biases are leaves of the one "
    f"expression ({count_nodes(scores[0]):,} Values behind one score) that maps 784 pixels to 10 scores",
    notes=(4,),
)
one = Neuron(784, seed=0)(image)
print(f"a single 784-input neuron alone is {count_nodes(one):,} Values: 784 inputs, 784")
print("  weights, 1 bias, 784 products, 784 sums and 1 ReLU")

# %% [markdown]
# The function has every one of its 13,002 numbers, but it is not yet a digit reader:
# nothing has set those numbers. Its answers on the 1,000 real digits of belief 1 (run in
# the matrix form of section 4, one layer after another, which is much faster than
# building 1,000 expressions of `Value`s):

# %%
a_rows = X_digits  # (1000, 784): one image per row
for layer in model.layers:
    W = np.array([[w.data for w in n.weights] for n in layer.neurons])  # (n_out, n_in)
    b = np.array([n.bias.data for n in layer.neurons])  # (n_out,)
    z = a_rows @ W.T + b  # (1000, n_out): every neuron's weighted sum + bias, every image
    a_rows = np.maximum(z, 0.0) if layer.activation == "relu" else z
assert np.allclose(a_rows[0], [s.data for s in model(X_digits[0].tolist())])  # the same net
guesses = a_rows.argmax(1)
untrained_accuracy = float(np.mean(guesses == y_digits))
print(f"right on {100 * untrained_accuracy:.1f}% of the digits (guessing at random: 10%)")
print("how often it answers each digit:", np.bincount(guesses, minlength=10).tolist())
lesson.verdict(
    "untrained_network_guesses",
    untrained_accuracy < 0.2,
    f"with random weights it is right on {100 * untrained_accuracy:.1f}% of the digits, "
    "about chance: the function exists, the learning (lessons 2-4) is still to do",
    f"with random weights it is right on {100 * untrained_accuracy:.1f}% of the digits, "
    "more than chance: a lucky start",
)

# %% [markdown]
# ## What the run said about the beliefs

# %%
lesson.summary()

# %% [markdown]
# ## Exercises
#
# Write these steps of the lesson yourself, and let the library check them against its own code:
#
#     tinygrad-edu exercises init ex        # one file per exercise, in the folder ex
#     tinygrad-edu exercises check ex neuron_output sigmoid
#
# - `neuron_output`: a neuron's output: activation(w . a + b)
# - `sigmoid`: sigmoid and its derivative, without overflow
#
# Each file's docstring gives the idea, the math, the shapes and a hint; `check` says
# passed, not started, or the first input where your answer differs from the library's.
