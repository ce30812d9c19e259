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
# ## 3. ReLU versus sigmoid
#
# Both turn the weighted sum z into an activation. Sigmoid, 1 / (1 + e^-z), squashes
# every z into (0, 1), like a neuron being "more or less on"; it was the first choice.
# ReLU, max(0, z), is simply off below zero and linear above; deep networks train more
# easily with it, so it is the modern default. Notice how flat sigmoid gets for large
# |z| (its slope is almost 0 there, which makes learning slow), while ReLU keeps a slope
# of 1 for every positive z.

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
# Row j of W a is neuron j's weighted sum. The same numbers, computed both ways:

# %%
import numpy as np  # noqa: E402

sig_layer = Layer(3, 4, activation="sigmoid", seed=1)
W = np.array([[w.data for w in n.weights] for n in sig_layer.neurons])  # (4, 3)
b = np.array([n.bias.data for n in sig_layer.neurons])  # (4,)
by_matrix = 1 / (1 + np.exp(-(W @ np.array(a) + b)))  # sigmoid(W a + b)
by_neurons = np.array([o.data for o in sig_layer(a)])
print("sigmoid(W a + b)     :", np.round(by_matrix, 6))
print("the Layer of Neurons :", np.round(by_neurons, 6))
lesson.verdict(
    "layer_is_sigmoid_of_W_a_plus_b",
    np.allclose(by_matrix, by_neurons, atol=1e-12),
    f"the same activations (largest difference {np.abs(by_matrix - by_neurons).max():.1e}): "
    "a layer is sigmoid(W a + b)",
    "the matrix form and the Layer disagree: something is off",
)

# %% [markdown]
# ## 5. A network is one huge function
#
# The classic digit recogniser from the lecture: 784 inputs (28x28 pixels), two hidden
# layers of 16 neurons, 10 outputs (one per digit). Every weight and bias is a knob that
# learning can turn. Count them layer by layer: every neuron has one weight per input
# plus one bias.

# %%
model = MLP(784, [16, 16, 10], activation="relu", output_activation="linear", seed=0)
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
one = Neuron(784, seed=0)(image)
print(f"a single 784-input neuron alone is {count_nodes(one):,} Values: 784 inputs, 784")
print("  weights, 1 bias, 784 products, 784 sums and 1 ReLU")

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
