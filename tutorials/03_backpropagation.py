# %% [markdown]
# # Lesson 3: backpropagation
#
# Gradient descent (lesson 2) needs the gradient of the cost with respect to every
# weight and bias. **Backpropagation** computes all of them in one backward sweep: start
# at the cost, and go back through the network one step at a time, from the output layer
# towards the input. Each step uses the **chain rule**: how the cost changes with some
# number = how the cost changes with the thing that number feeds into, times how that
# thing changes with the number. So each layer relies on the gradient already computed
# for the layer after it.
#
# We do it by hand on a tiny expression, then let the engine do it, check it against
# finite differences, and finally train a small network with **stochastic gradient
# descent**: shuffled mini-batches, one step per mini-batch.
#
# Run: `python tutorials/03_backpropagation.py [--quick]`. The engine is
# `tinygrad_edu/scalar.py`; read `Value.backward()` alongside this lesson.

# %%
from __future__ import annotations

import contextlib
import math
import random
import time

import numpy as np

with contextlib.suppress(ImportError):  # a source checkout: teach from *its* package
    import _common  # noqa: F401  (tutorials/_common.py; a notebook on its own has none)

from tinygrad_edu.data import make_moons
from tinygrad_edu.lessons.common import Lesson  # --quick, output folder, figures
from tinygrad_edu.scalar import MLP, Value, draw, to_dot

lesson = Lesson(
    "03_backpropagation", "Lesson 3: backpropagation", quick_help="fewer training epochs (for CI)"
)
args = lesson.args
EPOCHS = 4 if lesson.quick else 20
plt = lesson.plt

# %% [markdown]
# ## What you may believe after the lecture, and how this lesson checks it
#
# A learner's notes on lecture 3 say three things. Each is checked below by an experiment
# on this lesson's network, with an outcome (confirmed, partly or corrected) computed from
# the run:
#
# 1. *Backpropagation finds which changes of the weights and biases lower the cost
#    fastest* (section 4: nudge the weights and measure).
# 2. *Every step of the calculation relies on the previous layer of the network*
#    (section 4: in which order does `backward()` finish the layers?).
# 3. *It is good to shuffle the data randomly and cut it into mini-batches* (section 5:
#    how well does a batch's gradient point where the full gradient points?). Lesson 4
#    trains with and without shuffling.
#
# The last cell lists the outcomes.

# %% [markdown]
# ## 1. Backpropagation by hand
#
# One sigmoid neuron with one input, and its squared error against a target:
#
#     z = w * x + b        y = sigmoid(z)        L = (y - t)^2
#
# Going backwards, each step multiplies in one local derivative:
#
#     dL/dy = 2 (y - t)
#     dL/dz = dL/dy * dy/dz       with dy/dz = y (1 - y)    (sigmoid's derivative)
#     dL/dw = dL/dz * dz/dw       with dz/dw = x
#     dL/db = dL/dz * dz/db       with dz/db = 1
#     dL/dx = dL/dz * dz/dx       with dz/dx = w

# %%
x_, w_, b_, t_ = 1.5, 0.8, -0.5, 1.0
z_ = w_ * x_ + b_
y_ = 1 / (1 + math.exp(-z_))
L_ = (y_ - t_) ** 2
print(f"forward:  z = {z_:.4f}   y = {y_:.4f}   L = {L_:.6f}")
dL_dy = 2 * (y_ - t_)
dL_dz = dL_dy * y_ * (1 - y_)
by_hand = {"w": dL_dz * x_, "b": dL_dz * 1, "x": dL_dz * w_}
print(f"backward: dL/dy = {dL_dy:.6f}   dL/dz = {dL_dy:.6f} * {y_ * (1 - y_):.6f} = {dL_dz:.6f}")
print(
    f"          dL/dw = {by_hand['w']:.6f}   dL/db = {by_hand['b']:.6f}   dL/dx = {by_hand['x']:.6f}"
)

# %% [markdown]
# ## 2. The same with the engine
#
# Every `Value` remembers the Values it was made from and how to pass a gradient back
# to them. `L.backward()` visits the graph from L back to the leaves and applies exactly
# the steps above.

# %%
x, w, b = Value(x_, "x"), Value(w_, "w"), Value(b_, "b")
z = w * x + b
z.label = "z"
y = z.sigmoid()
y.label = "y"
L = (y - t_) ** 2
L.label = "L"
L.backward()
print("       by hand      engine")
for name, v in [("w", w), ("b", b), ("x", x)]:
    print(f"dL/d{name}  {by_hand[name]:10.6f}  {v.grad:10.6f}")

# %% [markdown]
# The graph that computed L. Each box is a `Value` (name | data | grad); each oval is
# the operation that produced the box it points to. Read the grads from right to left:
# that is the order backpropagation fills them in.

# %%
print(to_dot(L))
picture = draw(L, lesson.out / "03_graph.svg")
if picture is not None:
    print(f"  [graph drawn to {picture}]")
else:
    print("  (to see it as a picture, install Graphviz: `apt install graphviz`,")
    print("   `brew install graphviz` or `conda install graphviz`; or paste the text above")
    print("   into an online Graphviz viewer)")

# %% [markdown]
# ## 3. Checking gradients with finite differences
#
# A derivative is a slope: nudge one input by a tiny h both ways and see how much the
# output moves, (f(w + h) - f(w - h)) / 2h. This is far too slow for training (two
# forward passes *per parameter*), but it is the standard way to test a backward pass.


# %%
def loss_at(w: float, b: float, x: float) -> float:
    return ((Value(w) * x + b).sigmoid() - t_).data ** 2


h = 1e-6
numeric = {
    "w": (loss_at(w_ + h, b_, x_) - loss_at(w_ - h, b_, x_)) / (2 * h),
    "b": (loss_at(w_, b_ + h, x_) - loss_at(w_, b_ - h, x_)) / (2 * h),
    "x": (loss_at(w_, b_, x_ + h) - loss_at(w_, b_, x_ - h)) / (2 * h),
}
print("       backprop     finite differences   difference")
for name, v in [("w", w), ("b", b), ("x", x)]:
    print(
        f"dL/d{name}  {v.grad:11.8f}  {numeric[name]:11.8f}          {abs(v.grad - numeric[name]):.1e}"
    )

# %% [markdown]
# ## 4. A network on two moons
#
# Two interleaving half-moons of points in the plane: no straight line separates them,
# so we need hidden layers. The network is 2 -> 16 -> 16 -> 1 with ReLU; its single
# output is a score, positive for one moon and negative for the other.
#
# The loss is the **hinge loss**, max(0, 1 - label * score) with labels -1 and +1: zero
# when the score has the right sign with a margin of at least 1, and growing linearly
# the more wrong it is.

# %%
n_points = 200
X, labels = make_moons(n_points, noise=0.1, seed=lesson.seed)
points = X.tolist()
targets = [1.0 if k == 1 else -1.0 for k in labels.tolist()]  # classes 0/1 -> -1/+1
model = MLP(2, [16, 16, 1], activation="relu", output_activation="linear", seed=lesson.seed + 1)
print(model)


def batch_loss(indices: list[int]) -> Value:
    """Mean hinge loss over some points: a Value, ready for backward()."""
    total = Value(0.0)
    for i in indices:
        score = model(points[i])  # one output: the Value itself
        total = total + (1 - targets[i] * score).relu()
    return total / len(indices)


def accuracy() -> float:
    return sum((model(p).data > 0) == (t > 0) for p, t in zip(points, targets)) / n_points


# %% [markdown]
# Before training: the gradient of the loss with respect to a few parameters, one in
# each layer, by backprop and by finite differences. Backprop got all 337 of them in one
# backward pass; the finite differences needed two forward passes each.

# %%
check = list(range(20))
loss = batch_loss(check)
model.zero_grad()
loss.backward()
print("layer  parameter      backprop   finite differences")
for k, layer in enumerate(model.layers):
    p = layer.neurons[0].weights[0]
    old = p.data
    p.data = old + h
    up = batch_loss(check).data
    p.data = old - h
    down = batch_loss(check).data
    p.data = old
    print(f"  {k + 1}    weight 0,0  {p.grad:11.7f}  {(up - down) / (2 * h):11.7f}")

# %% [markdown]
# The gradient flows backwards layer by layer: the output layer's gradient is computed
# first, and each earlier layer's comes from the one after it, through the weights that
# connect them. The average size of the gradient in each layer:

# %%
layer_grads = []
for k, layer in enumerate(model.layers):
    grads = [abs(p.grad) for p in layer.parameters()]
    layer_grads.append(grads)
    print(f"layer {k + 1} ({layer}): mean |grad| = {sum(grads) / len(grads):.4f}")

if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.boxplot([[g + 1e-12 for g in gs] for gs in layer_grads])
    ax.set(
        yscale="log",
        xlabel="layer (1 = first hidden layer, 3 = output)",
        ylabel="|dLoss/dparameter| (log scale)",
        title="Gradient sizes, layer by layer",
    )
    lesson.save(fig, "layer_gradients")

# %% [markdown]
# **In which order are the layers finished?** A neuron's error, dLoss/d(its activation),
# is complete when `backward()` hands it on to what made it. We run one training point
# forward, keep every neuron's activation (a `Value`), let each note the moment it hands
# its gradient on, and run backward:

# %%
visits: list[int] = []  # the layer of each neuron, in the order backward() finishes it
acts, layer_in = [], points[0]
for k, layer in enumerate(model.layers):
    layer_in = layer(layer_in)  # this layer's activations: the next layer's inputs
    layer_in = layer_in if isinstance(layer_in, list) else [layer_in]  # one neuron: a Value
    for v in layer_in:
        v._backward = lambda grad, k=k, hand_on=v._backward: (visits.append(k + 1), hand_on(grad))
    acts.append(layer_in)
model.zero_grad()
(1 - targets[0] * layer_in[0]).relu().backward()  # the hinge loss of point 0
spans = {k: (visits.index(k), len(visits) - 1 - visits[::-1].index(k)) for k in sorted(set(visits))}
for k, (first, last) in sorted(spans.items(), reverse=True):
    print(f"layer {k}: its {len(acts[k - 1])} neurons are finished at moments {first}..{last} "
          f"of {len(visits)}")  # fmt: skip
backwards = all(spans[k + 1][1] < spans[k][0] for k in range(1, len(model.layers)))
lesson.belief(
    "backprop_runs_from_the_output",
    "Every step of backpropagation relies on the previous layer of the network.",
    "partly" if backwards else "confirmed",
    f"backward() finished the neurons of layer 3 (moments {spans[3][0]}-{spans[3][1]}), then "
    f"layer 2 ({spans[2][0]}-{spans[2][1]}), then layer 1 ({spans[1][0]}-{spans[1][1]}): each "
    "layer's error comes from the layer after it; only the forward activations come from the one before",
    notes=(8,),
)

# %% [markdown]
# **Does the gradient say which changes lower the cost fastest?** Two measurements.
# First, nudge 40 weights with a nonzero gradient by the same small amount, each in its
# downhill direction, and see whether the larger |gradient| gives the larger drop of the
# cost. Second, move *all* the parameters a step of the same small length, once along the
# negative gradient and 20 times along random directions (each pointed downhill):

# %%
params = model.parameters()
eps = 1e-3
loss = batch_loss(check)
model.zero_grad()
loss.backward()  # the gradient of the 20 points' cost again (the cell above used one point)
before = loss.data
pick = random.Random(lesson.seed)
nonzero = [q for q in params if abs(q.grad) > 1e-9]
sample = pick.sample(nonzero, min(40, len(nonzero)))
drops = []
for q in sample:
    old = q.data
    q.data = old - eps * (1 if q.grad > 0 else -1)  # one step of size eps, downhill
    drops.append(before - batch_loss(check).data)
    q.data = old
ranks = lambda xs: np.argsort(np.argsort(xs))  # noqa: E731
rank_corr = float(np.corrcoef(ranks([abs(q.grad) for q in sample]), ranks(drops))[0, 1])
print(f"{len(sample)} weights: rank correlation of |gradient| with the drop {rank_corr:.2f}")
print(f"  (and {len(params) - len(nonzero)} of the {len(params)} parameters have gradient 0 "
      "here: a dead ReLU or a point already past its margin)")  # fmt: skip


def drop_along(direction: list[float]) -> float:
    """How much the cost drops when every parameter moves eps * direction (unit length)."""
    norm = math.sqrt(sum(d * d for d in direction))
    olds = [q.data for q in params]
    for q, d in zip(params, direction):
        q.data += eps * d / norm
    dropped = before - batch_loss(check).data
    for q, old in zip(params, olds):
        q.data = old
    return dropped


grad_drop = drop_along([-q.grad for q in params])
random_drops = []
for _ in range(20):
    d = [pick.gauss(0, 1) for _ in params]
    if sum(di * q.grad for di, q in zip(d, params)) > 0:  # point it downhill
        d = [-di for di in d]
    random_drops.append(drop_along(d))
print(f"a step of length {eps} drops the cost by {grad_drop:.2e} along -gradient, "
      f"by at most {max(random_drops):.2e} along 20 random downhill directions")  # fmt: skip
lesson.verdict(
    "gradient_beats_random_directions",
    grad_drop > max(random_drops) and rank_corr > 0.8,
    f"the negative gradient lowers the cost {grad_drop / max(max(random_drops), 1e-12):.0f}x "
    "more than the best of 20 random directions, and the weights with the larger |gradient| "
    f"lower it more (rank correlation {rank_corr:.2f}): the gradient ranks the changes",
    f"the gradient did not clearly beat random directions here ({grad_drop:.2e} against "
    f"{max(random_drops):.2e}, rank correlation {rank_corr:.2f})",
)
lesson.belief(
    "gradient_ranks_the_changes",
    "Backpropagation finds which changes of the weights and biases lower the cost fastest.",
    "confirmed" if grad_drop > max(random_drops) and rank_corr > 0.8 else "partly",
    f"a step along the gradient backprop computed dropped the cost {grad_drop:.1e}, the best of "
    f"20 random directions {max(random_drops):.1e}; |gradient| and the drop of 40 single-weight "
    f"nudges: rank correlation {rank_corr:.2f}",
    notes=(8,),
)

# %% [markdown]
# ## The same, layer by layer, in matrices
#
# Write layer l's weights as a matrix W^l and its pre-activations as z^l = W^l a^(l-1) + b^l.
# The error of a layer, delta^l = dLoss/dz^l, comes from the error of the layer after it:
#
#     delta^l = (W^(l+1))^T delta^(l+1)  *  sigma'(z^l)          (* = element by element)
#     dLoss/dW^l = delta^l (a^(l-1))^T,      dLoss/db^l = delta^l
#
# That is backpropagation for a whole layer at once. We compute it by hand with NumPy for
# one point and compare with what `backward()` put into every weight's `.grad`:

# %%
Ws = [np.array([[w.data for w in n.weights] for n in layer.neurons]) for layer in model.layers]
bs = [np.array([n.bias.data for n in layer.neurons]) for layer in model.layers]
i = 0  # one training point
a_list, z_list = [np.array(points[i])], []
for k, (W, b) in enumerate(zip(Ws, bs)):
    z = W @ a_list[-1] + b  # (n_out,)
    z_list.append(z)
    a_list.append(np.maximum(z, 0) if k < len(Ws) - 1 else z)  # ReLU, linear output
score = z_list[-1][0]
deltas = [None] * len(Ws)
# hinge loss max(0, 1 - t * score): dLoss/dscore = -t where the margin is violated, else 0
deltas[-1] = np.array([-targets[i] if 1 - targets[i] * score > 0 else 0.0])
for k in range(len(Ws) - 2, -1, -1):
    deltas[k] = (Ws[k + 1].T @ deltas[k + 1]) * (z_list[k] > 0)  # sigma' of ReLU: 0 or 1
model.zero_grad()
batch_loss([i]).backward()
worst = 0.0
for k, layer in enumerate(model.layers):
    engine = np.array([[w.grad for w in n.weights] for n in layer.neurons])
    by_hand = np.outer(deltas[k], a_list[k])  # dLoss/dW^l = delta^l a^(l-1)^T
    worst = max(worst, float(np.abs(engine - by_hand).max()))
    print(
        f"layer {k + 1}: |delta| = {np.linalg.norm(deltas[k]):.4f}, dW by hand vs backward(): "
        f"max difference {np.abs(engine - by_hand).max():.1e}"
    )
lesson.verdict(
    "layer_delta_matches_backward",
    worst < 1e-9,
    "the matrix formula and the engine's node-by-node chain rule give the same gradients",
    f"the matrix formula and backward() differ by up to {worst:.1e}: something is off",
)

# %% [markdown]
# The Tensor engine's ops get the same check: `tinygrad_edu/gradcheck.py` compares an op's
# backward with finite differences in float64. Here on `tanh` and on a matrix product:

# %%
from tinygrad_edu.gradcheck import gradcheck  # noqa: E402

rng = np.random.default_rng(0)
for name, f, xs in (
    ("tanh", lambda x: x.tanh(), [rng.standard_normal((3, 4))]),
    ("matmul", lambda x, y: x @ y, [rng.standard_normal((3, 4)), rng.standard_normal((4, 2))]),
):
    try:
        gradcheck(f, *xs)
        ok, detail = True, "agrees"
    except AssertionError as exc:
        ok, detail = False, str(exc)
    lesson.verdict(
        f"gradcheck_{name}",
        ok,
        f"gradcheck({name}): backward {detail} with finite differences",
        f"gradcheck({name}) failed: {detail}",
    )

# %% [markdown]
# ## 5. Stochastic gradient descent
#
# The true gradient is an average over *all* the training data; with lots of data that
# is too slow for one step. Instead: **shuffle** the data randomly, cut it into
# **mini-batches** (here 16 points), and take one step per mini-batch using that batch's
# gradient. Each step is cheap and only roughly right; the bet is that many rough steps
# beat a few perfect ones, like a drunk man stumbling quickly downhill rather than a
# careful one computing each exact step (lesson 4 measures that bet).
#
# Why shuffle? A mini-batch's gradient is only a good estimate of the full gradient if
# the batch is a fair sample of the data. If the data were sorted, a batch might hold
# one class only, and its gradient could point elsewhere. We can measure
# that: the cosine between a batch's gradient and the full gradient (1 = same direction).


# %%
def gradient_vector(indices: list[int]) -> list[float]:
    model.zero_grad()
    batch_loss(indices).backward()
    return [p.grad for p in model.parameters()]


def cosine(u: list[float], v: list[float]) -> float:
    dot = sum(a * b for a, b in zip(u, v))
    return dot / math.sqrt(sum(a * a for a in u) * sum(b * b for b in v))


full = gradient_vector(list(range(n_points)))
rng = random.Random(lesson.seed)
one_class = [i for i in range(n_points) if targets[i] > 0]
shuffled_cos = [cosine(full, gradient_vector(rng.sample(range(n_points), 16))) for _ in range(6)]
sorted_cos = [cosine(full, gradient_vector(one_class[16 * k : 16 * (k + 1)])) for k in range(6)]
print("cosine(batch gradient, full gradient), six batches each:")
print("  shuffled batches of 16:", " ".join(f"{c:5.2f}" for c in shuffled_cos))
print("  batches of one class:  ", " ".join(f"{c:5.2f}" for c in sorted_cos))
fair = np.mean(shuffled_cos) > np.mean(sorted_cos) + 0.1
lesson.belief(
    "shuffle_into_mini_batches",
    "It is good to shuffle the data randomly and cut it into mini-batches.",
    "confirmed" if fair else "partly",
    f"the gradient of a shuffled batch of 16 points points nearer the full gradient (mean "
    f"cosine {np.mean(shuffled_cos):.2f} over 6 batches) than a one-class batch's "
    f"({np.mean(sorted_cos):.2f}); lesson 4 trains both ways",
    notes=(9,),
)

# %% [markdown]
# Now train. Each epoch is one pass over the shuffled data; the learning rate shrinks
# a little every epoch, so that the last steps settle instead of jumping around.

# %%
batch_size, lr_start, lr_end = 16, 0.5, 0.05
order = list(range(n_points))
start = time.perf_counter()
print(f"before training: accuracy {accuracy():.3f}")
print("epoch   learning rate   mean loss   accuracy")
for epoch in range(EPOCHS):
    lr = lr_start + (lr_end - lr_start) * epoch / max(EPOCHS - 1, 1)
    rng.shuffle(order)  # a new random order every epoch
    losses = []
    for k in range(0, n_points, batch_size):
        loss = batch_loss(order[k : k + batch_size])
        model.zero_grad()  # gradients accumulate, so clear the previous step's first
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad  # the gradient descent step
        losses.append(loss.data)
    print(
        f"{epoch + 1:4d}      {lr:.3f}         {sum(losses) / len(losses):.4f}     {accuracy():.3f}"
    )
print(f"trained {EPOCHS} epochs in {time.perf_counter() - start:.1f} s; ", end="")
print(f"final accuracy {accuracy():.3f}")

# %% [markdown]
# What the network learned: the plane, coloured by the sign of its score ('+' and '.'),
# with the training points on top ('A' for one moon, 'B' for the other). The border
# between '+' and '.' is the decision boundary, bent around the moons.

# %%
cols, rows = 48, 14
x_lo, x_hi, y_lo, y_hi = -1.5, 2.5, -1.0, 1.5
canvas = [
    ["+" if model([x_lo + (x_hi - x_lo) * c / (cols - 1), y_hi - (y_hi - y_lo) * r / (rows - 1)]).data > 0 else "."
     for c in range(cols)]
    for r in range(rows)
]  # fmt: skip
for (px, py), t in zip(points, targets):
    c = round((px - x_lo) / (x_hi - x_lo) * (cols - 1))
    r = round((y_hi - py) / (y_hi - y_lo) * (rows - 1))
    if 0 <= r < rows and 0 <= c < cols:
        canvas[r][c] = "B" if t > 0 else "A"
print("\n".join("".join(row) for row in canvas))

if plt is not None:
    n = 25 if lesson.quick else 50
    gx = [x_lo + (x_hi - x_lo) * i / (n - 1) for i in range(n)]
    gy = [y_lo + (y_hi - y_lo) * j / (n - 1) for j in range(n)]
    scores = [[model([x, y]).data for x in gx] for y in gy]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.contourf(gx, gy, scores, levels=[-1e9, 0, 1e9], colors=["#a8c8f0", "#f4b6a1"], alpha=0.8)
    ax.scatter(X[:, 0], X[:, 1], c=labels, cmap="coolwarm", edgecolors="k", s=18)
    ax.set(
        title=f"Decision boundary after {EPOCHS} epochs (accuracy {accuracy():.2f})",
        xlabel="x1",
        ylabel="x2",
    )
    lesson.save(fig, "03_moons")

# %% [markdown]
# ## How big should the starting weights be?
#
# This engine runs micrograd's own two-moons loop with only its imports changed
# (tests/test_scalar.py): every point in every step, the max-margin loss plus 1e-4 times
# the squared weights, and a learning rate falling from 1.0 to 0.1. micrograd starts
# every weight uniformly in +-1 (`init="unit"`); the other choice scales them by
# 1/sqrt(n_inputs) (`init="scaled"`), so that a sum of many inputs stays the size of one.
# Which start learns that loop faster, and why? The same points and seeds for both; for
# each layer, also the mean |gradient| at the start against the mean |weight|: how far one
# step moves that layer, compared with its own size.

# %%
from tinygrad_edu import scalar

n_scale, steps_scale = (30, 15) if lesson.quick else (100, 100)
seeds_scale = [lesson.seed + s for s in ((0, 1) if lesson.quick else (0, 1, 2))]
X_scale, y_scale = make_moons(n_scale, noise=0.1, seed=lesson.seed)
starts = scalar.compare_start_scales(
    X_scale.tolist(), [2.0 * int(k) - 1.0 for k in y_scale], steps=steps_scale, seeds=seeds_scale
)
print(f"{n_scale} points, {steps_scale} steps, seeds {seeds_scale}")
print("start    mean accuracy  final   |grad| / |weight| per layer at the start")
for init in scalar.INITS:
    r = starts[init]
    ratios = "  ".join(f"layer {i + 1}: {g / w:.3f}" for i, (w, g) in enumerate(r["layers"]))
    print(f"{init:8} {r['mean_accuracy']:13.3f}  {r['final']:.3f}   {ratios}")
other = next(i for i in scalar.INITS if i != scalar.DEFAULT_INIT)
first_layer = {i: starts[i]["layers"][0][1] / starts[i]["layers"][0][0] for i in scalar.INITS}
ratio = first_layer["unit"] / first_layer["scaled"] if first_layer["scaled"] > 0 else float("inf")
lesson.verdict(
    "default_start_learns_faster",
    starts["faster"] == scalar.DEFAULT_INIT,
    f"the default start ({scalar.DEFAULT_INIT!r}) learned faster: mean accuracy "
    f"{starts[scalar.DEFAULT_INIT]['mean_accuracy']:.3f} against {starts[other]['mean_accuracy']:.3f}",
    f"the other start ({other!r}) learned faster in this run: mean accuracy "
    f"{starts[other]['mean_accuracy']:.3f} against {starts[scalar.DEFAULT_INIT]['mean_accuracy']:.3f}",
)
lesson.verdict(
    "small_start_starves_the_first_layer",
    ratio > 3,
    f"why: the first layer's gradient, compared with its weights, is {ratio:.1f}x larger "
    "with the +-1 start. With "
    "1/sqrt(n) weights, the gradient that reaches layer 1 has passed through two layers of "
    "small weights, so at the same learning rate layer 1 hardly moves",
    f"the first layer's gradient-to-weight ratio differs only {ratio:.1f}x between the two "
    "starts: the "
    "difference in speed is not explained by it",
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
#     tinygrad-edu exercises check ex mul_backward tanh_backward topological_sort micro_engine
#
# - `mul_backward`: the chain rule for a * b: each input's gradient
# - `tanh_backward`: the chain rule for tanh
# - `topological_sort`: the order backpropagation visits the graph in
# - `micro_engine`: a micrograd-sized engine (+, *, tanh, relu, backward) that trains a network
#
# Each file's docstring gives the idea, the math, the shapes and a hint; `check` says
# passed, not started, or the first input where your answer differs from the library's.
