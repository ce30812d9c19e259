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
# Then we check on 1,000 digits the network has never seen, look at what the neurons
# learned, see what happens if you forget to shuffle, and train the modern version
# (ReLU and Adam).
#
# Run: `python tutorials/04_digits.py` (about half a minute), or with `--quick` (a few
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
EPOCHS = args.epochs or (3 if args.quick else 10)
plt = lesson.plt
lesson_start = time.perf_counter()

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
# batch of images at once. `nn.Sigmoid()` squashes each weighted sum into (0, 1).

# %%
tg.manual_seed(0)  # the same random start every run


def lecture_network() -> nn.Module:
    return nn.Sequential(
        nn.Linear(784, 16), nn.Sigmoid(),  # hidden layer 1: 16 neurons
        nn.Linear(16, 16), nn.Sigmoid(),   # hidden layer 2: 16 neurons
        nn.Linear(16, 10),                 # output: one score per digit
    )  # fmt: skip


model = lecture_network()
print(model)
print(f"parameters: {model.num_parameters():,}  (784*16 + 16 + 16*16 + 16 + 16*10 + 10)")

# %% [markdown]
# ## 3. The cost
#
# The lecture's first cost is the **mean squared error**: the squared differences
# between the 10 output activations and the desired ones (1 for the right digit, 0 for
# the others), added up. It works, but it learns slowly exactly when the network is
# most wrong: a sigmoid output stuck near 0 when it should be 1 is on the flat part of
# the sigmoid, its derivative is tiny, and so is the gradient.
#
# We use **cross-entropy** instead: softmax turns the 10 scores into probabilities,
# and the cost is -log(probability of the right digit). Its gradient with respect to
# the scores is simply `probabilities - one_hot(label)`: large when the network is
# confidently wrong, small when it is right. (It is also the log-likelihood of the
# data, the cost a GPT is trained with in lecture 5.)

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
print(f"  -> cross-entropy pushes {ce_grad / mse_grad:.0f}x harder where it matters")

# %% [markdown]
# ## 4. Learning: stochastic gradient descent on shuffled mini-batches
#
# One **epoch** is one pass over the 4,000 training images, in 125 mini-batches of 32,
# in a fresh random order each epoch. For every batch:
#
# 1. forward: the network's scores for 32 images, and the cost;
# 2. `zero_grad()`: forget the last batch's gradients (backward adds to them);
# 3. `backward()`: backpropagation fills every weight's `.grad`;
# 4. `step()`: every weight moves against its gradient, `w -= lr * grad` (lr = 0.5).


# %%
def accuracy(net: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    net.eval()
    with tg.no_grad():  # no graph needed: we only look
        predictions = net(tg.Tensor(X)).argmax(1).numpy()
    net.train()
    return float((predictions == y).mean())


def train(net: nn.Module, opt: optim.Optimizer, loader: DataLoader, epochs: int, name: str):
    """The training loop. Returns the cost of every step and the test accuracy per epoch."""
    losses, accuracies = [], []
    epochs_iter = range(epochs)
    if tqdm is not None:
        epochs_iter = tqdm(epochs_iter, desc=name, unit="epoch", leave=False, disable=None)
    for _ in epochs_iter:
        for xb, yb in loader:  # xb (32, 784) float32, yb (32,) int64
            cost = F.cross_entropy(net(xb), yb)
            opt.zero_grad()
            cost.backward()
            opt.step()
            losses.append(cost.item())
        accuracies.append(accuracy(net, X_test, y_test))
        if tqdm is not None:
            epochs_iter.set_postfix(cost=f"{np.mean(losses[-len(loader) :]):.3f}")
    return losses, accuracies


loader = DataLoader(X_train, y_train, batch_size=32, shuffle=True, seed=0)
print(
    f"{len(loader)} mini-batches per epoch; before training: accuracy {accuracy(model, X_test, y_test):.3f}"
)
start = time.perf_counter()
sgd_losses, sgd_acc = train(
    model, optim.SGD(model.parameters(), lr=0.5), loader, EPOCHS, "784-16-16-10 SGD"
)
sgd_time = time.perf_counter() - start
print("epoch   mean cost   test accuracy")
for e in range(EPOCHS):
    print(
        f"{e + 1:5d}   {np.mean(sgd_losses[e * len(loader) : (e + 1) * len(loader)]):9.3f}   {sgd_acc[e]:13.3f}"
    )
print(f"{EPOCHS} epochs ({EPOCHS * len(loader)} steps) in {sgd_time:.1f} s")

# %% [markdown]
# ## 5. How good is it? Accuracy and the confusion matrix
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
print(f"test accuracy {np.trace(cm) / cm.sum():.3f} (the lecture's network, {EPOCHS} epochs)\n")
print("true\\pred " + " ".join(f"{d:4d}" for d in range(10)))
for d in range(10):
    print(f"{d:9d} " + " ".join(f"{n:4d}" for n in cm[d]))
off = cm.copy()
np.fill_diagonal(off, 0)
worst = np.dstack(np.unravel_index(np.argsort(off.ravel())[::-1][:3], off.shape))[0]
print("most confused: " + ", ".join(f"{t} taken for {p} ({off[t, p]}x)" for t, p in worst))

# %% [markdown]
# ## 6. What did the first layer learn?
#
# Neuron j of the first layer has 784 weights, one per pixel: row j of the weight
# matrix. Seen as a 28x28 image, it shows which pixels excite the neuron (positive)
# and which inhibit it (negative). The lecture hoped for neat edges and loops; what
# we get looks mostly like noise with some structure: the network found *a* valley of
# the cost, not the one we imagined.

# %%
W1 = model[0].weight.numpy()  # (16, 784)
print("first-layer weights of neuron 0 (@ = most positive, space = most negative):")
w = W1[0]
print(show((w - w.min()) / (w.max() - w.min())))
if plt is not None:
    fig, axes = plt.subplots(2, 8, figsize=(10, 3))
    for j, ax in enumerate(axes.ravel()):
        lim = np.abs(W1[j]).max()
        ax.imshow(W1[j].reshape(28, 28), cmap="RdBu", vmin=-lim, vmax=lim)
        ax.set(xticks=[], yticks=[], title=f"neuron {j}")
    fig.suptitle("First-layer weights (red: negative, blue: positive)")
    lesson.save(fig, "04_first_layer_weights")

# %% [markdown]
# ## 7. Why shuffle? Train on the data in the order it is stored
#
# The digits are stored sorted: all the 0s, then all the 1s, ..., then the 9s. Train
# the same network, for as many epochs as in section 4, on that order, and again on
# the same images shuffled. In sorted order every batch holds one digit only: for 12
# steps every answer is "0", so the network learns to say 0; then only 1s... and every
# epoch ends with 400 nines. We compare what the two networks answer, digit by digit.

# %%
X_sorted, y_sorted = load_digits("train", shuffle=False)
print("labels in stored order:", y_sorted[:5], "...", y_sorted[-5:])
answers = {}
for shuffle in (False, True):
    tg.manual_seed(0)
    net = lecture_network()
    sgd = optim.SGD(net.parameters(), lr=0.5)
    order = DataLoader(X_sorted, y_sorted, batch_size=32, shuffle=shuffle, seed=0)
    train(net, sgd, order, EPOCHS, "shuffled" if shuffle else "sorted")
    with tg.no_grad():
        answers[shuffle] = net(tg.Tensor(X_test)).argmax(1).numpy()
print("digit                 " + " ".join(f"{d:4d}" for d in range(10)) + "   all")
for shuffle, name in ((False, "sorted"), (True, "shuffled")):
    per_digit = [np.mean(answers[shuffle][y_test == d] == d) for d in range(10)]
    print(
        f"{name:<9} right       "
        + " ".join(f"{a:4.2f}" for a in per_digit)
        + f"  {np.mean(answers[shuffle] == y_test):.3f}"
    )
    print(
        f"{name:<9} answered  "
        + " ".join(f"{n:4d}" for n in np.bincount(answers[shuffle], minlength=10))
    )
acc_sorted, acc_shuffled = (float(np.mean(answers[s] == y_test)) for s in (False, True))
said_9 = float(np.mean(answers[False] == 9))  # the digit the sorted run saw last
digits_learned = {
    s: int(sum(np.mean(answers[s][y_test == d] == d) > 0.5 for d in range(10)))
    for s in (False, True)
}
lesson.verdict(
    "shuffling_helps",
    acc_shuffled > acc_sorted + 0.2 and said_9 > 0.5,
    f"in sorted order the network answers '9' to {100 * said_9:.0f}% of the test images: each "
    "one-digit stretch of batches undid what the stretches before it taught, and it ends "
    f"knowing only what it saw last ({digits_learned[False]} of 10 digits mostly right). Shuffled, every "
    f"batch is a fair sample of all ten digits: {digits_learned[True]} of 10 digits mostly right, "
    f"accuracy {acc_shuffled:.3f} against {acc_sorted:.3f}.",
    f"this time the difference is not the textbook one: accuracy {acc_sorted:.3f} sorted, "
    f"{acc_shuffled:.3f} shuffled, and the sorted network says '9' to {100 * said_9:.0f}% of the images",
)

# %% [markdown]
# ## 8. The modern recipe: ReLU and Adam
#
# One hidden layer of 100 ReLU neurons (ReLU does not saturate the way sigmoid does),
# and the Adam optimizer, which gives each weight its own step size from running
# averages of its gradient. Same data, same batches.

# %%
tg.manual_seed(0)
modern = nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))
start = time.perf_counter()
adam_losses, adam_acc = train(
    modern, optim.Adam(modern.parameters(), lr=1e-3), loader, EPOCHS, "784-100-10 Adam"
)
adam_time = time.perf_counter() - start
print(
    f"{modern.num_parameters():,} parameters; test accuracy per epoch:",
    " ".join(f"{a:.3f}" for a in adam_acc),
)
print(f"final test accuracy {adam_acc[-1]:.3f} in {adam_time:.1f} s ({EPOCHS} epochs)")
lesson.verdict(
    "relu_adam_beats_sigmoid_sgd",
    adam_acc[-1] > sgd_acc[-1],
    f"ReLU + Adam reached {adam_acc[-1]:.3f}, the lecture's sigmoid network {sgd_acc[-1]:.3f}: "
    "same data, same batches, a better recipe",
    f"the lecture's network ({sgd_acc[-1]:.3f}) did as well as ReLU + Adam ({adam_acc[-1]:.3f}) "
    "in this run",
)

if plt is not None:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    k = len(loader)  # smooth over one epoch of steps
    for name, losses in (
        ("784-16-16-10 sigmoid, SGD 0.5", sgd_losses),
        ("784-100-10 ReLU, Adam 1e-3", adam_losses),
    ):
        smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
        ax.plot(np.arange(len(smooth)) + k, smooth, label=name)
    ax.set(
        xlabel="step (mini-batch)",
        ylabel="cost (cross-entropy, mean over an epoch)",
        yscale="log",
        title="Learning curves: the lecture's network vs the modern recipe",
    )
    ax.legend()
    lesson.save(fig, "04_loss_curves")

# %% [markdown]
# ## 9. Keep what was learned: a checkpoint
#
# What is learned are the weights. `tg.save` writes the state dict (name -> array) as a
# safetensors file; a fresh network loads it and answers exactly the same.

# %%
try:
    path = tg.save(
        modern.state_dict(), lesson.out / "04_digits.safetensors", metadata={"hidden": "100"}
    )
    fresh = nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))
    print(f"fresh network: accuracy {accuracy(fresh, X_test, y_test):.3f}")
    fresh.load_state_dict(tg.load(path))
    print(f"after load_state_dict({path.name}): accuracy {accuracy(fresh, X_test, y_test):.3f}")
except ImportError as exc:  # safetensors is optional
    print(f"(skipped: {exc})")

# %% [markdown]
# ## What to look at
#
# - The cost falls fast in the first epoch, then slowly: most steps are refinements.
# - In 10 epochs, about 90% with 13,002 parameters and plain SGD, about 93% with ReLU
#   and Adam (the README's table: 0.898 and 0.931, the same as PyTorch's). The full
#   60,000-image MNIST (see `tinygrad_edu.data.load_mnist_idx`) gets these networks to
#   about 95-98%: more data beats cleverness.
# - The confusion matrix shows *which* digits are hard (4 vs 9, 3 vs 5, 7 vs 9).
# - Without shuffling the network forgets: it answers whatever class it saw last.
#
# Try: `--epochs 30`; lr 0.05 or 5 for SGD; 32 hidden neurons; `nn.Tanh()`; from the
# command line: `tinygrad-edu train-mnist --hidden 16 16 --activation sigmoid --optimizer sgd --lr 0.5`.

# %%
print(f"\nlesson done in {time.perf_counter() - lesson_start:.1f} s")

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
