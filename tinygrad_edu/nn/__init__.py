"""tinygrad_edu.nn: layers built on Tensor (see functional.py for the functions).

module.py      Module and Parameter: how a network keeps track of its weights
layers.py      Linear, Embedding, LayerNorm, Dropout, activations, containers
init.py        where the weights start
utils.py       clip_grad_norm_
transformer.py CausalSelfAttention and MLP: the two halves of a GPT block
functional.py  the same operations as plain functions (import as F)
"""

from . import functional, init, utils
from .layers import (
    GELU,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    LayerNorm,
    Linear,
    ModuleDict,
    ModuleList,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)
from .module import Module, Parameter
from .transformer import MLP, CausalSelfAttention

__all__ = [
    "functional",
    "init",
    "utils",
    "Module",
    "Parameter",
    "Linear",
    "Embedding",
    "LayerNorm",
    "Dropout",
    "ReLU",
    "GELU",
    "Sigmoid",
    "Tanh",
    "Identity",
    "Flatten",
    "Sequential",
    "ModuleList",
    "ModuleDict",
    "CausalSelfAttention",
    "MLP",
]
