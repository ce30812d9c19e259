"""Data for the lessons: small synthetic sets you can see in one plot, handwritten
digits (mnist.py), and shuffled mini-batches (loader.py)."""

from .loader import DataLoader, TensorDataset
from .mnist import load_digits, load_mnist_idx, read_idx
from .toy import make_blobs, make_moons

__all__ = [
    "make_moons",
    "make_blobs",
    "DataLoader",
    "TensorDataset",
    "load_digits",
    "load_mnist_idx",
    "read_idx",
]
