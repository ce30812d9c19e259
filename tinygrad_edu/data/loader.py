"""DataLoader: shuffled mini-batches (lecture 3: stochastic gradient descent).

The true gradient of the cost is an average over ALL training examples, and
computing it for every single step is slow. Stochastic gradient descent instead
shuffles the data, cuts it into mini-batches, and takes one step per batch: each
step follows a noisy but cheap estimate of the gradient, like a drunk man
stumbling quickly downhill rather than a careful one computing every step.

The shuffling matters. Data often arrive sorted (our digits come 0, 0, ..., 1, 1,
..., 9); without shuffling, the network would spend hundreds of steps seeing only
zeros, learn "always say 0", then only ones, ... and end the epoch believing
everything is a 9 (tutorials/04_digits.py shows it happen).

    loader = DataLoader(X, y, batch_size=32, shuffle=True, seed=0)
    for epoch in range(10):
        for xb, yb in loader:        # Tensors: xb (32, 784) float32, yb (32,) int64
            ...

Batches are tuples of Tensors (one per array; `as_tensors=False` gives the NumPy
arrays). Every epoch is a fresh permutation drawn from one seeded
`numpy.random.Generator`: the order differs between epochs, and the same seed
repeats the whole sequence of epochs. With seed=None the permutations come from
`tinygrad_edu.rng.generator()`, so `tg.manual_seed(n)` fixes them too.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from .. import rng
from ..tensor import Tensor


def _as_array(a: Any) -> np.ndarray:
    if isinstance(a, Tensor):
        return a.data
    arr = np.asarray(a)
    if arr.ndim == 0:
        raise ValueError("DataLoader needs arrays with a first (sample) dimension, got a scalar")
    return arr


class DataLoader:
    """Iterate over mini-batches of one or more equally long arrays (or a dataset).

    DataLoader(X, y, batch_size=32, shuffle=True, drop_last=False, seed=0)
      * arrays: ndarrays, Tensors or lists, all with the same first dimension
        (samples); a batch takes the same rows of each.
      * or one dataset: an object with __len__ and __getitem__(i) returning a tuple of
        arrays (one sample); a batch stacks the samples' fields.
      * drop_last: leave out the last, smaller batch.
    len(loader) is the number of batches per epoch.
    """

    def __init__(
        self,
        *data: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        as_tensors: bool = True,
    ) -> None:
        if not data:
            raise ValueError("DataLoader needs at least one array (or a dataset)")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"batch_size must be an int, got {type(batch_size).__name__}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.dataset = None
        self.arrays: tuple[np.ndarray, ...] = ()
        if len(data) == 1 and _is_dataset(data[0]):
            self.dataset = data[0]
            self.n = len(self.dataset)
        else:
            self.arrays = tuple(_as_array(a) for a in data)
            lengths = [len(a) for a in self.arrays]
            if len(set(lengths)) != 1:
                raise ValueError(f"the arrays must have the same length, got lengths {lengths}")
            self.n = lengths[0]
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.as_tensors = bool(as_tensors)
        self.seed = seed
        self._generator = np.random.default_rng(seed) if seed is not None else None

    def __len__(self) -> int:
        if self.drop_last:
            return self.n // self.batch_size
        return -(-self.n // self.batch_size)  # ceil

    def _order(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.n)
        gen = self._generator if self._generator is not None else rng.generator()
        return gen.permutation(self.n)

    def __iter__(self) -> Iterator[tuple]:
        order = self._order()
        for b in range(len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            if self.dataset is not None:
                batch = _collate([self.dataset[int(i)] for i in idx])
            else:
                batch = tuple(a[idx] for a in self.arrays)  # the same rows of each array
            if self.as_tensors:
                batch = tuple(Tensor(part) for part in batch)
            yield batch if len(batch) > 1 else batch[0]


def _is_dataset(obj: Any) -> bool:
    """A dataset object (not an array-like): has __len__ and __getitem__, is no ndarray/list."""
    if isinstance(obj, (np.ndarray, Tensor, list, tuple)):
        return False
    return hasattr(obj, "__len__") and hasattr(obj, "__getitem__")


def _collate(samples: list[Any]) -> tuple[np.ndarray, ...]:
    """[(x0, y0), (x1, y1), ...] -> (stack of x, stack of y)."""
    if not samples:
        return ()
    if not isinstance(samples[0], tuple):
        samples = [(s,) for s in samples]
    return tuple(
        np.stack([s.data if isinstance(s, Tensor) else np.asarray(s) for s in field])
        for field in zip(*samples)
    )


class TensorDataset:
    """Arrays of equal length as a dataset: dataset[i] is the tuple of their i-th rows."""

    def __init__(self, *arrays: Any) -> None:
        self.arrays = tuple(_as_array(a) for a in arrays)
        lengths = [len(a) for a in self.arrays]
        if not lengths or len(set(lengths)) != 1:
            raise ValueError(f"the arrays must have the same length, got lengths {lengths}")

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, i: int) -> tuple:
        return tuple(a[i] for a in self.arrays)
