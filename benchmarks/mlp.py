"""Lesson 4's two recipes, trained with tinygrad_edu and with PyTorch side by side.

    784-16-16-10 sigmoid, SGD lr 0.5        (the lecture's network)
    784-100-10 ReLU, Adam lr 1e-3           (the modern one)

Both libraries get the same fixed 4,000/1,000 split, the same initial weights (ours,
copied into PyTorch's layers), the same mini-batches of 32 in the same shuffled order
every epoch, and the same number of threads. We report the test accuracy after
training and the wall time of the training loop (data slicing included, evaluation
excluded), the median of a few runs. At batch 32 these networks are tiny, so the
time is mostly per-step overhead: Python, op dispatch, the optimizer step.

Targets (10 epochs): accuracy >= 0.87 (sigmoid/SGD) and >= 0.90 (ReLU/Adam), and
training no slower than PyTorch.

    flock /tmp/tinygrad_edu.lock python benchmarks/mlp.py [--quick] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import PAUSE, print_table, reexec_clean, threads, torch_or_none  # noqa: E402

reexec_clean()

import numpy as np  # noqa: E402

import tinygrad_edu as tg  # noqa: E402
from tinygrad_edu import nn, optim  # noqa: E402
from tinygrad_edu.data import DataLoader, load_digits  # noqa: E402
from tinygrad_edu.nn import functional as F  # noqa: E402

BATCH, SEED = 32, 0
RECIPES = {
    "784-16-16-10 sigmoid SGD(0.5)": dict(hidden=[16, 16], act="sigmoid", opt="sgd", lr=0.5),
    "784-100-10 ReLU Adam(1e-3)": dict(hidden=[100], act="relu", opt="adam", lr=1e-3),
}
TARGETS = {"784-16-16-10 sigmoid SGD(0.5)": 0.87, "784-100-10 ReLU Adam(1e-3)": 0.90}


def build_ours(recipe: dict) -> nn.Module:
    tg.manual_seed(SEED)
    act = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU}[recipe["act"]]
    sizes = [784, *recipe["hidden"], 10]
    layers: list = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def build_torch(torch, recipe: dict, weights: dict) -> object:
    act = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU}[recipe["act"]]
    sizes = [784, *recipe["hidden"], 10]
    layers: list = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    model = torch.nn.Sequential(*layers)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in weights.items()})
    return model


def train_ours(recipe, data, epochs):
    X, y, Xt, yt = data
    model = build_ours(recipe)
    params = model.parameters()
    opt = (
        optim.SGD(params, lr=recipe["lr"])
        if recipe["opt"] == "sgd"
        else optim.Adam(params, lr=recipe["lr"])
    )
    loader = DataLoader(X, y, batch_size=BATCH, shuffle=True, seed=SEED)
    time.sleep(PAUSE)
    t0 = time.perf_counter()
    for _ in range(epochs):
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - t0
    with tg.no_grad():
        acc = float((model(tg.Tensor(Xt)).argmax(1).numpy() == yt).mean())
    return acc, seconds, float(loss.item())


def train_torch(torch, recipe, data, epochs):
    X, y, Xt, yt = data
    model = build_torch(torch, recipe, build_ours(recipe).state_dict())  # the same start
    params = model.parameters()
    opt = (
        torch.optim.SGD(params, lr=recipe["lr"])
        if recipe["opt"] == "sgd"
        else torch.optim.Adam(params, lr=recipe["lr"])
    )
    gen = np.random.default_rng(SEED)  # DataLoader(seed=SEED) draws exactly these orders
    n = len(X)
    time.sleep(PAUSE)
    t0 = time.perf_counter()
    for _ in range(epochs):
        order = gen.permutation(n)
        for b in range(0, n, BATCH):
            idx = order[b : b + BATCH]
            xb, yb = torch.from_numpy(X[idx]), torch.from_numpy(y[idx])
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        acc = float((model(torch.from_numpy(Xt)).argmax(1).numpy() == yt).mean())
    return acc, seconds, float(loss.item())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs, 1 run (CI)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per entry (median)")
    parser.add_argument("--threads", type=int, default=None, help="default: all of ours")
    args = parser.parse_args()
    epochs = args.epochs or (2 if args.quick else 10)
    repeats = args.repeats or (1 if args.quick else 3)
    nthreads = args.threads or tg.get_num_threads()
    torch = torch_or_none()
    data = (*load_digits("train", seed=0), *load_digits("test", seed=0))
    steps = epochs * -(-len(data[0]) // BATCH)
    info = tg.info()
    print(f"tinygrad_edu {info['version']} ({info['backend']}, {info['simd']}), "
          f"torch {torch.__version__ if torch else 'not installed'}; {nthreads} threads; "
          f"{epochs} epochs x {steps // epochs} steps of batch {BATCH}; median of {repeats}")  # fmt: skip
    rows, ok = [], True
    with threads(nthreads):
        for name, recipe in RECIPES.items():
            results = {}
            runners = [("tinygrad_edu", lambda r=recipe: train_ours(r, data, epochs))]
            if torch is not None:
                runners.append(("torch", lambda r=recipe: train_torch(torch, r, data, epochs)))
            for lib, run in runners:
                runs = [run() for _ in range(repeats)]
                acc = runs[0][0]
                seconds = statistics.median(r[1] for r in runs)
                results[lib] = (acc, seconds)
            ours_acc, ours_s = results["tinygrad_edu"]
            for lib, (acc, seconds) in results.items():
                ratio = seconds / results["torch"][1] if "torch" in results else None
                rows.append([name, lib, f"{acc:.3f}", seconds, 1e3 * seconds / steps, ratio])
            if epochs >= 10 and ours_acc < TARGETS[name]:
                ok = False
                print(f"below target: {name} accuracy {ours_acc:.3f} < {TARGETS[name]}")
            if "torch" in results and ours_s > results["torch"][1]:
                print(f"slower than PyTorch: {name} {ours_s:.2f} s vs {results['torch'][1]:.2f} s")
    print_table(
        "Training on the digits (accuracy on the 1,000 test digits; time = training loop)",
        ["recipe", "library", "accuracy", "seconds", "ms/step", "time / torch"],
        rows,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
