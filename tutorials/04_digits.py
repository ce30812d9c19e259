# %% [markdown]
# # Lesson 4: a network that reads handwritten digits
#
# Lectures 1-3 in one run. The input is a 28x28 grey image: **784 neurons**, each
# holding one pixel's brightness between 0 and 1. The output is **10 neurons**, one per
# digit; the brightest one is the network's answer. In between, the lecture's two hidden
# layers of 16 neurons with sigmoid activations: **784-16-16-10**, 13,002 weights and
# biases. At the start they are random and the network guesses. Learning means
# changing those 13,002 numbers to lower the **cost** on 4,000 labelled examples, by
# **stochastic gradient descent**: shuffle the examples, cut them into mini-batches of
# 32, and for each batch take one step down the gradient that backpropagation computes.
#
# We train it as the lecture does (sigmoid outputs, squared error) and with the
# cross-entropy cost, check both on 1,000 digits they have never seen, look at what the
# neurons learned and which digits fool them, see what happens if you forget to shuffle,
# and take the modern recipe (ReLU and Adam) apart one change at a time.
#
# Run: `python tutorials/04_digits.py` (under a minute), or with `--quick` (a few
# seconds). The code: `tinygrad_edu/nn/` (Linear, the layers), `tinygrad_edu/optim/`
# (SGD, Adam), `tinygrad_edu/data/` (the digits, DataLoader), `tinygrad_edu/checkpoint.py`.

# %%
from __future__ import annotations

import contextlib
import time

import numpy as np

with contextlib.suppress(ImportError):  # a source checkout: teach from *its* package
    import _common  # noqa: F401  (tutorials/_common.py; a notebook on its own has none)

import tinygrad_edu as tg
from tinygrad_edu import nn, optim
from tinygrad_edu.data import DataLoader, load_digits
from tinygrad_edu.lessons.common import Lesson  # --quick, output folder, figures
from tinygrad_edu.nn import functional as F

try:  # a progress bar over epochs, if tqdm is installed
    from tqdm.auto import tqdm
except ImportError:
    tqdm = None

lesson = Lesson(
    "04_digits",
    "Lesson 4: a network that reads handwritten digits",
    quick_help="a run of a few seconds (fewer epochs)",
    add_arguments=lambda parser: (
        parser.add_argument(
            "--epochs", type=int, default=None, help="epochs per network (default 10)"
        ),
    ),
)
args = lesson.args
EPOCHS = args.epochs or (3 if lesson.quick else 10)
SEED = lesson.seed  # every network below starts from this seed and sees the same batches
plt = lesson.plt
lesson_start = time.perf_counter()

# %% [markdown]
# ## What you may believe after the lectures, and how this lesson checks it
#
# Lessons 1-3 checked the learner's notes one idea at a time; this lesson trains a real
# network, so it can check three more. Each ends with an outcome (confirmed, partly or
# corrected) computed from the run:
#
# 1. *Backpropagation needs lots of data: shuffle it, cut it into mini-batches, and take
#    one step per batch* (section 7: shuffled mini-batches against sorted ones and against
#    the whole data set in every step).
# 2. *ReLU is the modern way, sigmoid the older way* (section 8: does ReLU train better,
#    with either optimizer?).
# 3. A common one: *a network that reads digits well knows what a digit looks like*
#    (section 8: show it random noise).
#
# The last cell lists the outcomes.

# %% [markdown]
# ## 1. The data
#
# 5,000 digits from MNIST ship with the package: 4,000 to learn from (400 of each
# digit), 1,000 kept apart to test on (100 of each). `load_digits` returns the images
# as rows of 784 numbers in [0, 1] and the labels as integers.

# %%
X_train, y_train = load_digits("train")
X_test, y_test = load_digits("test")
print(f"train: {X_train.shape} {X_train.dtype}, labels {y_train.shape} {y_train.dtype}")
print(f"test:  {X_test.shape}; digits per class in train: {np.bincount(y_train).tolist()}")


def show(image: np.ndarray) -> str:
    """A 28x28 image as text: darker characters for brighter pixels."""
    shades = " .:-=+*#%@"
    rows = image.reshape(28, 28)[::2]  # every other row: characters are tall
    return "\n".join("".join(shades[int(v * 9.99)] for v in row) for row in rows)


print(f"\nthe first training image, labelled {y_train[0]}:")
print(show(X_train[0]))

# %% [markdown]
# ## 2. The network
#
# `nn.Linear(784, 16)` is a layer of 16 neurons, each with 784 weights and a bias: its
# weight matrix is (16, 784), and the layer computes `x @ weight.T + bias` for a whole
# batch of images at once. `nn.Sigmoid()` squashes each weighted sum into (0, 1). The
# lecture squashes the 10 outputs too, so that each is an activation between 0 and 1.


# %%
def lecture_network(sigmoid_outputs: bool = False, activation=nn.Sigmoid) -> nn.Module:
    """784-16-16-10. sigmoid_outputs: the lecture's output activations in (0, 1);
    without, the outputs are raw scores for the cross-entropy cost."""
    tg.manual_seed(SEED)  # the same random start for every network of this lesson
    layers = [
        nn.Linear(784, 16), activation(),  # hidden layer 1: 16 neurons
        nn.Linear(16, 16), activation(),   # hidden layer 2: 16 neurons
        nn.Linear(16, 10),                 # output: one per digit
    ]  # fmt: skip
    return nn.Sequential(*layers, nn.Sigmoid()) if sigmoid_outputs else nn.Sequential(*layers)


model = lecture_network(sigmoid_outputs=True)
print(model)
print(f"parameters: {model.num_parameters():,}  (784*16 + 16 + 16*16 + 16 + 16*10 + 10)")

# %% [markdown]
# ## 3. Two costs
#
# The lecture's cost is the **squared error**: the squared differences between the 10
# output activations and the desired ones (1 for the right digit, 0 for the others),
# added up, averaged over the examples.
#
# The usual cost today is **cross-entropy**: softmax turns the 10 raw scores into
# probabilities, and the cost is -log(probability of the right digit). (It is also the
# cost a GPT is trained with, lesson 5.)
#
# Why might it matter? A sigmoid output stuck near 0 that should be 1 sits on the flat
# part of the sigmoid, where its slope is tiny, and the squared error's gradient is
# multiplied by that slope. Cross-entropy's gradient with respect to the scores is
# `probabilities - one_hot(label)`, with no such factor. One hand-made output shows the
# difference (an illustration, not a finding: section 4 trains both and lets the run
# decide):

# %%
scores = tg.Tensor(
    np.array([[-4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 4.0]]), requires_grad=True
)
label = np.array([0])  # the right answer is 0, but the network is sure it is 9
ce = F.cross_entropy(scores, label)
ce.backward()
ce_grad = abs(scores.grad.numpy()[0, 0])
scores2 = tg.Tensor(scores.numpy().copy(), requires_grad=True)
mse = F.mse_loss(scores2.sigmoid(), np.eye(10)[label]) * 10  # summed over the 10 outputs
mse.backward()
mse_grad = abs(scores2.grad.numpy()[0, 0])
print("a confidently wrong output (score -4 for the right digit, +4 for a wrong one):")
print(f"  cross-entropy {ce.item():.2f}, gradient on the right digit's score {ce_grad:.3f}")
print(f"  squared error {mse.item():.2f}, gradient on the right digit's score {mse_grad:.3f}")

# %% [markdown]
# ## 4. Learning: stochastic gradient descent on shuffled mini-batches
#
# One **epoch** is one pass over the 4,000 training images, in 125 mini-batches of 32,
# in a fresh random order each epoch. For every batch:
#
# 1. forward: the network's outputs for 32 images, and the cost;
# 2. `zero_grad()`: forget the last batch's gradients (backward adds to them);
# 3. `backward()`: backpropagation fills every weight's `.grad`;
# 4. `step()`: every weight moves against its gradient, `w -= lr * grad` (lr = 0.5).
#
# Two networks from the same random start, on the same batches in the same order, with the
# same learning rate: the lecture's (sigmoid outputs, squared error) and the same network
# with raw outputs and cross-entropy.


# %%
def accuracy(net: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    net.eval()
    with tg.no_grad():  # no graph needed: we only look
        predictions = net(tg.Tensor(X)).argmax(1).numpy()
    net.train()
    return float((predictions == y).mean())


def batches(X: np.ndarray = X_train, y: np.ndarray = y_train, **kw) -> DataLoader:
    """Mini-batches of 32 in the lesson's random order: the same order for every network."""
    kw = {"batch_size": 32, "shuffle": True, **kw}
    return DataLoader(X, y, seed=SEED, **kw)


ONE_HOT = np.eye(10, dtype=np.float32)


def cost_of(out: tg.Tensor, yb: tg.Tensor, cost: str) -> tg.Tensor:
    if cost == "squared error":  # summed over the 10 outputs, averaged over the batch
        return F.mse_loss(out, ONE_HOT[yb.numpy()]) * 10
    return F.cross_entropy(out, yb)


def train(net: nn.Module, opt: optim.Optimizer, loader: DataLoader, epochs: int, name: str,
          cost: str = "cross-entropy"):  # fmt: skip
    """The training loop. Returns the cost of every step and the test accuracy per epoch."""
    losses, accuracies = [], []
    epochs_iter = range(epochs)
    if tqdm is not None:
        epochs_iter = tqdm(epochs_iter, desc=name, unit="epoch", leave=False, disable=None)
    for _ in epochs_iter:
        for xb, yb in loader:  # xb (32, 784) float32, yb (32,) int64
            loss = cost_of(net(xb), yb, cost)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        accuracies.append(accuracy(net, X_test, y_test))
        if tqdm is not None:
            epochs_iter.set_postfix(cost=f"{np.mean(losses[-len(loader) :]):.3f}")
    return losses, accuracies


print(f"{len(batches())} mini-batches per epoch; before training: accuracy "
      f"{accuracy(model, X_test, y_test):.3f}")  # fmt: skip
start = time.perf_counter()
mse_losses, mse_acc = train(model, optim.SGD(model.parameters(), lr=0.5), batches(), EPOCHS,
                            "squared error", cost="squared error")  # fmt: skip
ce_model = lecture_network()
first_layer_start = ce_model[0].weight.numpy().copy()  # for section 6
ce_losses, ce_acc = train(ce_model, optim.SGD(ce_model.parameters(), lr=0.5), batches(), EPOCHS,
                          "cross-entropy")  # fmt: skip
print(f"2 x {EPOCHS} epochs ({EPOCHS * len(batches())} steps each) in "
      f"{time.perf_counter() - start:.1f} s")  # fmt: skip
print("epoch   test accuracy: squared error   cross-entropy")
for e in range(EPOCHS):
    print(f"{e + 1:5d}   {mse_acc[e]:29.3f}   {ce_acc[e]:13.3f}")
ahead = sum(c > m for c, m in zip(ce_acc, mse_acc))
lesson.verdict(
    "cross_entropy_learns_faster",
    ahead == EPOCHS and ce_acc[-1] > mse_acc[-1] + 0.05,
    f"cross-entropy was ahead after every epoch ({ce_acc[-1]:.3f} against {mse_acc[-1]:.3f} at "
    "the end): the lecture's squared error on sigmoid outputs learns more slowly",
    f"cross-entropy was ahead after {ahead} of {EPOCHS} epochs ({ce_acc[-1]:.3f} against "
    f"{mse_acc[-1]:.3f} at the end): no clear winner in this run",
)
model = ce_model  # the rest of the lesson looks at the cross-entropy network

# %% [markdown]
# ## 5. How good is it? Accuracy, the confusion matrix and the digits it gets wrong
#
# Row = the true digit, column = the network's answer; the diagonal is what it got
# right. The largest numbers off the diagonal are the digits it mixes up.


# %%
def confusion_matrix(net: nn.Module, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    with tg.no_grad():
        predicted = net(tg.Tensor(X)).argmax(1).numpy()
    counts = np.zeros((10, 10), dtype=np.int64)
    np.add.at(counts, (y, predicted), 1)
    return counts


cm = confusion_matrix(model, X_test, y_test)
print(f"test accuracy {np.trace(cm) / cm.sum():.3f} (cross-entropy, {EPOCHS} epochs)\n")
print("true\\pred " + " ".join(f"{d:4d}" for d in range(10)))
for d in range(10):
    print(f"{d:9d} " + " ".join(f"{n:4d}" for n in cm[d]))
off = cm.copy()
np.fill_diagonal(off, 0)
worst = np.dstack(np.unravel_index(np.argsort(off.ravel())[::-1][:3], off.shape))[0]
print("most confused: " + ", ".join(f"{t} taken for {p} ({off[t, p]}x)" for t, p in worst))

# %% [markdown]
# The digits behind those numbers: the test images the network got wrong, most confident
# first, with what it answered.

# %%
with tg.no_grad():
    probs = F.softmax(model(tg.Tensor(X_test)), -1).numpy()  # (1000, 10)
answer = probs.argmax(1)
wrong = np.flatnonzero(answer != y_test)
wrong = wrong[np.argsort(-probs[wrong, answer[wrong]])]  # most confident mistakes first
print(f"{len(wrong)} of {len(y_test)} test digits are wrong; the two it was surest about:")
for i in wrong[:2]:
    print(
        f"\nlabelled {y_test[i]}, answered {answer[i]} with probability {probs[i, answer[i]]:.2f}:"
    )
    print(show(X_test[i]))
if plt is not None and len(wrong):
    fig, axes = plt.subplots(2, 8, figsize=(10, 3.2))
    for ax, i in zip(axes.ravel(), wrong[:16]):
        ax.imshow(X_test[i].reshape(28, 28), cmap="gray_r")
        ax.set_title(f"{y_test[i]} -> {answer[i]} ({probs[i, answer[i]]:.2f})", fontsize=8)
    for ax in axes.ravel():
        ax.set(xticks=[], yticks=[])
    fig.suptitle("Misclassified test digits: label -> answer (probability)")
    lesson.save(fig, "04_misclassified")

# %% [markdown]
# ## 6. What did the first layer learn?
#
# Neuron j of the first layer has 784 weights, one per pixel: row j of the weight
# matrix. Seen as a 28x28 image, it shows which pixels excite the neuron (positive)
# and which inhibit it (negative). The lecture hoped for neat edges and loops. A trained
# weight is its random start plus what learning added; we kept the start, so we can look
# at the two parts apart, and measure how smooth each is: the correlation between the
# weights of neighbouring pixels (0 for noise, near 1 for smooth strokes).

# %%
W1 = model[0].weight.numpy()  # (16, 784)
learned = W1 - first_layer_start  # what training added


def neighbour_correlation(W: np.ndarray) -> float:
    """Mean correlation between each pixel's weight and its right-hand neighbour's."""
    img = W.reshape(-1, 28, 28)
    left, right = img[:, :, :-1].ravel(), img[:, :, 1:].ravel()
    return float(np.corrcoef(left, right)[0, 1])


r_start, r_learned, r_final = (neighbour_correlation(W) for W in (first_layer_start, learned, W1))
size_start, size_learned = np.abs(first_layer_start).mean(), np.abs(learned).mean()
print(f"neighbour correlation: random start {r_start:.2f}, learned part {r_learned:.2f}, "
      f"trained weights {r_final:.2f}")  # fmt: skip
print(f"mean |weight|: random start {size_start:.4f}, learned part {size_learned:.4f}")
lesson.verdict(
    "learned_part_is_smooth",
    r_learned > r_start + 0.3,
    f"what training added is smooth (neighbour correlation {r_learned:.2f}, the random start "
    f"{r_start:.2f}): the speckle in the trained weights is mostly the random start, "
    "the strokes are what was learned",
    f"what training added is not much smoother than the random start ({r_learned:.2f} "
    f"against {r_start:.2f})",
)
print(
    "first-layer weights of neuron 0, the learned part (@ = most positive, space = most negative):"
)
w = learned[0]
print(show((w - w.min()) / (w.max() - w.min())))
if plt is not None:
    fig, axes = plt.subplots(2, 8, figsize=(10, 3))
    for j, ax in enumerate(axes.ravel()):
        lim = np.abs(W1[j]).max()
        ax.imshow(W1[j].reshape(28, 28), cmap="RdBu", vmin=-lim, vmax=lim)
        ax.set(xticks=[], yticks=[], title=f"neuron {j}")
    fig.suptitle("First-layer weights after training (red: negative, blue: positive)")
    lesson.save(fig, "04_first_layer_weights")
    fig, axes = plt.subplots(2, 8, figsize=(10, 3))
    for j, ax in enumerate(axes.ravel()):
        lim = np.abs(learned[j]).max()
        ax.imshow(learned[j].reshape(28, 28), cmap="RdBu", vmin=-lim, vmax=lim)
        ax.set(xticks=[], yticks=[], title=f"neuron {j}")
    fig.suptitle("What training added to the first-layer weights (trained minus start)")
    lesson.save(fig, "04_first_layer_learned")

# %% [markdown]
# ## 7. Why shuffle, and why mini-batches?
#
# The digits are stored sorted: all the 0s, then all the 1s, ..., then the 9s. Train
# the same network, for as many epochs as in section 4, on that order (every batch then
# holds one digit only), on the same images shuffled, and on all 4,000 images in every
# step (the *full batch*: the exact gradient, but one step per epoch). We compare what
# the networks answer, digit by digit.

# %%
X_sorted, y_sorted = load_digits("train", shuffle=False)
print("labels in stored order:", y_sorted[:5], "...", y_sorted[-5:])
answers, runs = (
    {},
    {
        "sorted": dict(shuffle=False),
        "shuffled": dict(shuffle=True),
        "full batch": dict(shuffle=True, batch_size=len(y_sorted)),
    },
)
for name, kw in runs.items():
    net = lecture_network()
    order = batches(X_sorted, y_sorted, **kw)
    train(net, optim.SGD(net.parameters(), lr=0.5), order, EPOCHS, name)
    with tg.no_grad():
        answers[name] = net(tg.Tensor(X_test)).argmax(1).numpy()
    print(f"{name}: {EPOCHS * len(order)} steps")
print("digit                 " + " ".join(f"{d:4d}" for d in range(10)) + "   all")
for name in runs:
    per_digit = [np.mean(answers[name][y_test == d] == d) for d in range(10)]
    print(f"{name:<10} right      " + " ".join(f"{a:4.2f}" for a in per_digit)
          + f"  {np.mean(answers[name] == y_test):.3f}")  # fmt: skip
    print(
        f"{name:<10} answered  "
        + " ".join(f"{n:4d}" for n in np.bincount(answers[name], minlength=10))
    )
acc_run = {name: float(np.mean(answers[name] == y_test)) for name in runs}
acc_sorted, acc_shuffled, acc_full = acc_run["sorted"], acc_run["shuffled"], acc_run["full batch"]
said_9 = float(np.mean(answers["sorted"] == 9))  # the digit the sorted run saw last
digits_learned = {
    name: int(sum(np.mean(answers[name][y_test == d] == d) > 0.5 for d in range(10)))
    for name in runs
}
lesson.verdict(
    "shuffling_helps",
    acc_shuffled > acc_sorted + 0.2 and said_9 > 0.5,
    f"in sorted order the network answers '9' to {100 * said_9:.0f}% of the test images: each "
    "one-digit stretch of batches undid what the stretches before it taught, and it ends "
    f"knowing only what it saw last ({digits_learned['sorted']} of 10 digits mostly right). "
    f"Shuffled, every batch is a fair sample of all ten digits: {digits_learned['shuffled']} of "
    f"10 digits mostly right, accuracy {acc_shuffled:.3f} against {acc_sorted:.3f}.",
    f"this time the difference is not the textbook one: accuracy {acc_sorted:.3f} sorted, "
    f"{acc_shuffled:.3f} shuffled, and the sorted network says '9' to {100 * said_9:.0f}% of the images",
)
lesson.verdict(
    "mini_batches_beat_full_batch",
    acc_shuffled > acc_full + 0.1,
    f"in the same {EPOCHS} epochs, {EPOCHS * len(batches())} rough steps on mini-batches reached "
    f"{acc_shuffled:.3f}, {EPOCHS} exact full-batch steps {acc_full:.3f}: many rough steps beat a few exact ones",
    f"in the same {EPOCHS} epochs the full batch ({acc_full:.3f}) kept up with the mini-batches "
    f"({acc_shuffled:.3f})",
)
best = max(acc_run, key=acc_run.get)
n_better = sum(acc_run["shuffled"] > acc_run[n] for n in runs if n != "shuffled")
lesson.belief(
    "shuffled_mini_batches",
    "Learning needs lots of data, shuffled and cut into mini-batches, one gradient step per batch.",
    "confirmed" if n_better == 2 else ("partly" if n_better == 1 else "corrected"),
    f"same network, same {EPOCHS} epochs: shuffled mini-batches {acc_shuffled:.3f}, sorted "
    f"{acc_sorted:.3f}, the whole data set in each step {acc_full:.3f} (test accuracy)",
    notes=(9,),
)

# %% [markdown]
# ## 8. The modern recipe, one change at a time: ReLU and Adam
#
# Today's default swaps two things: the activation (ReLU, which does not saturate the way
# sigmoid does) and the optimizer (Adam, which gives each weight its own step size from
# running averages of its gradient). Changing both at once, and the width too, would not
# say which change did what. So we keep the width (784-16-16-10), the cost
# (cross-entropy), the random start and the batches, and train all four combinations.

# %%
combos = {}
for act_name, act in (("sigmoid", nn.Sigmoid), ("ReLU", nn.ReLU)):
    for opt_name in ("SGD 0.5", "Adam 1e-3"):
        net = lecture_network(activation=act)
        opt = (optim.SGD(net.parameters(), lr=0.5) if opt_name == "SGD 0.5"
               else optim.Adam(net.parameters(), lr=1e-3))  # fmt: skip
        losses, accs = train(net, opt, batches(), EPOCHS, f"{act_name}, {opt_name}")
        combos[act_name, opt_name] = (net, losses, accs)
print("final test accuracy   SGD 0.5   Adam 1e-3")
for act_name in ("sigmoid", "ReLU"):
    print(f"{act_name:>19}   {combos[act_name, 'SGD 0.5'][2][-1]:7.3f}   "
          f"{combos[act_name, 'Adam 1e-3'][2][-1]:9.3f}")  # fmt: skip
final = {k: v[2][-1] for k, v in combos.items()}
relu_gain = [final["ReLU", o] - final["sigmoid", o] for o in ("SGD 0.5", "Adam 1e-3")]
adam_gain = [final[a, "Adam 1e-3"] - final[a, "SGD 0.5"] for a in ("sigmoid", "ReLU")]
lesson.verdict(
    "relu_beats_sigmoid",
    min(relu_gain) > 0,
    f"the activation: ReLU beat sigmoid with both optimizers (by {relu_gain[0]:+.3f} with SGD, "
    f"{relu_gain[1]:+.3f} with Adam)",
    f"the activation: ReLU did not beat sigmoid with both optimizers ({relu_gain[0]:+.3f} with "
    f"SGD, {relu_gain[1]:+.3f} with Adam)",
)
lesson.verdict(
    "activation_matters_more_than_optimizer",
    np.mean(relu_gain) > np.mean(adam_gain),
    f"the optimizer: Adam changed the accuracy by {adam_gain[0]:+.3f} (sigmoid) and "
    f"{adam_gain[1]:+.3f} (ReLU), on average less than ReLU did: in this network and run, "
    "most of the modern recipe's gain is the activation",
    f"the optimizer: Adam changed the accuracy by {adam_gain[0]:+.3f} (sigmoid) and "
    f"{adam_gain[1]:+.3f} (ReLU), on average more than ReLU did",
)
n_relu_wins = sum(g > 0 for g in relu_gain)
lesson.belief(
    "relu_modern_sigmoid_older",
    "ReLU is the modern way and sigmoid the older one: ReLU trains better.",
    ("confirmed", "partly", "corrected")[2 - n_relu_wins],
    f"same 784-16-16-10, start and batches, {EPOCHS} epochs: ReLU {final['ReLU', 'SGD 0.5']:.3f} "
    f"vs sigmoid {final['sigmoid', 'SGD 0.5']:.3f} with SGD, {final['ReLU', 'Adam 1e-3']:.3f} "
    f"vs {final['sigmoid', 'Adam 1e-3']:.3f} with Adam",
    notes=(3,),
)

if plt is not None:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    k = len(batches())  # smooth over one epoch of steps
    for (act_name, opt_name), (_, losses, _) in combos.items():
        smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
        ax.plot(np.arange(len(smooth)) + k, smooth, label=f"{act_name}, {opt_name}")
    ax.set(
        xlabel="step (mini-batch)",
        ylabel="cost (cross-entropy, mean over an epoch)",
        yscale="log",
        title="Learning curves: activation x optimizer, 784-16-16-10",
    )
    ax.legend()
    lesson.save(fig, "04_loss_curves")

# %% [markdown]
# **Does it know what a digit is?** The best of the four networks answers 1,000 test
# digits. Now give it 1,000 images of random pixels, which look like no digit at all. It
# has no way to say "none of these": it must spread its probability over the ten digits.
# How sure is it?

# %%
best_combo = max(final, key=final.get)
modern = combos[best_combo][0]
noise = np.random.default_rng(SEED).random((1000, 784)).astype(np.float32)  # pixels in [0, 1)
with tg.no_grad():
    p_noise = F.softmax(modern(tg.Tensor(noise)), -1).numpy()
    p_real = F.softmax(modern(tg.Tensor(X_test)), -1).numpy()
sure_noise, sure_real = p_noise.max(1).mean(), p_real.max(1).mean()
print(f"the {best_combo[0]} + {best_combo[1]} network (test accuracy {final[best_combo]:.3f}):")
print(f"  mean probability of its answer: {sure_real:.2f} on real digits, {sure_noise:.2f} on noise "
      "(0.10 would be 'no idea')")  # fmt: skip
print(
    "  its answers to the noise, per digit:", np.bincount(p_noise.argmax(1), minlength=10).tolist()
)
lesson.verdict(
    "noise_answered_with_confidence",
    sure_noise > 0.3,
    f"it answers random noise with {sure_noise:.2f} probability on average, over 3x 'no idea': "
    "it was never taught what is *not* a digit",
    f"on noise its answers are close to 'no idea' ({sure_noise:.2f})",
)
lesson.belief(
    "knows_what_a_digit_is",
    "A network that reads digits well knows what a digit looks like.",
    "corrected" if sure_noise > 0.3 else "partly",
    f"right on {100 * final[best_combo]:.0f}% of real digits, it still gives random noise a digit "
    f"with mean probability {sure_noise:.2f} (real digits {sure_real:.2f}; 'no idea' is 0.10)",
)

# %% [markdown]
# ## 9. Keep what was learned: a checkpoint
#
# What is learned are the weights. `tg.save` writes the state dict (name -> array) as a
# safetensors file; a fresh network loads it and answers exactly the same.

# %%
try:
    path = tg.save(
        modern.state_dict(), lesson.out / "04_digits.safetensors",
        metadata={"activation": best_combo[0], "optimizer": best_combo[1]},
    )  # fmt: skip
    tg.manual_seed(SEED + 1)  # another random start than the trained network's
    act = nn.ReLU if best_combo[0] == "ReLU" else nn.Sigmoid
    fresh = nn.Sequential(nn.Linear(784, 16), act(), nn.Linear(16, 16), act(), nn.Linear(16, 10))
    print(f"fresh network: accuracy {accuracy(fresh, X_test, y_test):.3f}")
    fresh.load_state_dict(tg.load(path))
    print(f"after load_state_dict({path.name}): accuracy {accuracy(fresh, X_test, y_test):.3f}")
except ImportError as exc:  # safetensors is optional
    print(f"(skipped: {exc})")

# %% [markdown]
# ## What to look at
#
# The lines this run printed: the cost each network reached, the accuracy of each
# recipe, and what the ablation credits to each change. This is 4,000 training images;
# MNIST has 60,000 (`tinygrad_edu.data.load_mnist_idx` reads them, and
# `tinygrad-edu train-mnist` trains on them), so try whether more data changes the ranking.

# %%
per_epoch = [
    np.mean(ce_losses[e * len(batches()) : (e + 1) * len(batches())]) for e in range(EPOCHS)
]
print("mean cost per epoch (cross-entropy network):", " ".join(f"{c:.3f}" for c in per_epoch))
print(f"test accuracy after {EPOCHS} epochs: squared error {mse_acc[-1]:.3f}, "
      f"cross-entropy {ce_acc[-1]:.3f}; " + ", ".join(f"{a} + {o} {v:.3f}" for (a, o), v in final.items()))  # fmt: skip
print(f"the digits mixed up most: {', '.join(f'{t} for {p}' for t, p in worst)}")
lesson.summary()
print(f"\nlesson done in {time.perf_counter() - lesson_start:.1f} s")

# %% [markdown]
# Try: `--epochs 30`; lr 0.05 or 5 for SGD; 32 hidden neurons; `nn.Tanh()`; from the
# command line: `tinygrad-edu train-mnist --hidden 16 16 --activation sigmoid --optimizer sgd --lr 0.5`.

# %% [markdown]
# ## Exercises
#
# Write these steps of the lesson yourself, and let the library check them against its own code:
#
#     tinygrad-edu exercises init ex        # one file per exercise, in the folder ex
#     tinygrad-edu exercises check ex minibatches cross_entropy_grad adam_step
#
# - `minibatches`: shuffled mini-batches of example indices
# - `cross_entropy_grad`: softmax + cross-entropy: the cost and its gradient
# - `adam_step`: one Adam update
#
# Each file's docstring gives the idea, the math, the shapes and a hint; `check` says
# passed, not started, or the first input where your answer differs from the library's.
