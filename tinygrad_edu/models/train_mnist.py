"""Training an MLP on handwritten digits (lesson 4): the `train-mnist` command's loop.

784 pixels -> hidden layers -> 10 scores; cross-entropy cost; SGD or Adam, one epoch
= one pass over the shuffled training digits; after each epoch, the accuracy on the
test digits (never trained on) is printed.
"""

from __future__ import annotations

import json
import os
import time
from typing import Sequence

from .. import nn, optim
from ..autograd import no_grad
from ..checkpoint import save_model_folder
from ..data import DataLoader, load_digits, load_mnist_idx
from ..nn import functional as F
from ..rng import manual_seed
from ..tensor import Tensor

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU}


def train_mnist(
    epochs: int = 10,
    batch_size: int = 32,
    lr: float | None = None,
    hidden: Sequence[int] = (100,),
    activation: str = "relu",
    optimizer: str = "adam",
    momentum: float = 0.0,
    seed: int = 0,
    data: str | None = None,
    out: str | None = None,
    log=print,
) -> float:
    """Train, print one line per epoch, save to `out` if given; returns the test accuracy."""
    if data:  # the full MNIST from its IDX files
        (X, y), (Xt, yt) = load_mnist_idx(data)
    else:
        (X, y), (Xt, yt) = load_digits("train", seed=0), load_digits("test", seed=0)
    manual_seed(seed)
    sizes = [X.shape[1], *hidden, 10]
    layers: list = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    model = nn.Sequential(*layers)
    lr = lr if lr is not None else (0.5 if optimizer == "sgd" else 1e-3)
    if optimizer == "sgd":
        opt = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    else:
        opt = {"adam": optim.Adam, "adamw": optim.AdamW}[optimizer](model.parameters(), lr=lr)
    loader = DataLoader(X, y, batch_size=batch_size, shuffle=True, seed=seed)
    log(f"{'-'.join(map(str, sizes))} {activation}, {optimizer} lr {lr}, "
        f"{len(X)} train / {len(Xt)} test digits, {model.num_parameters():,} parameters")  # fmt: skip
    log("epoch   train cost   test accuracy   seconds")
    start, accuracy = time.perf_counter(), 0.0
    for epoch in range(1, epochs + 1):
        total = 0.0
        for xb, yb in loader:
            cost = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            cost.backward()
            opt.step()
            total += cost.item()
        with no_grad():
            accuracy = float((model(Tensor(Xt)).argmax(1).numpy() == yt).mean())
        elapsed = time.perf_counter() - start
        log(f"{epoch:5d}   {total / len(loader):10.4f}   {accuracy:13.4f}   {elapsed:7.1f}")
    if out:  # refused if `out` holds another kind of run's files (a train-gpt run, a GPT)
        config = {"sizes": sizes, "activation": activation, "test_accuracy": accuracy}
        save_model_folder(out, config, model.state_dict(), "a train-mnist model",
                          metadata={"config": json.dumps(config)})  # fmt: skip
        log(f"checkpoint: {os.path.join(out, 'model.safetensors')} (+ config.json)")
    return accuracy
