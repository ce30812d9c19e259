"""Looking inside a GPT (lessons 6-8): the residual stream, the attention weights, and
the MLP's neurons.

Each reads what GPT.forward computes on its way: the same forward, run once, in eval
mode and without a graph.

- `hidden_states(model, idx)`: the vector of every token entering each block, and
  leaving the last one (the "residual stream");
- `attention_weights(model, idx, layer)`: for every head of one block, how much each
  query position attends to each key position, as the block's textbook lines compute it

      weights = softmax(q k^T / sqrt(head_size) + causal mask)       (B, n_head, T, T)

  Row i is a probability distribution over the positions 0..i that token i may look
  at; the entries right of the diagonal (the future) are exactly 0;
- `mlp_activations(model, idx, layer)`: what each hidden neuron of one block's MLP
  outputs for every token, after GELU: the numbers `MLP.forward` hands to c_proj.

Everything runs without building an autograd graph and in eval mode (no dropout);
the arrays come back as copies (the weights in float64).
"""

from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from .gpt import GPT

__all__ = ["hidden_states", "attention_weights", "mlp_activations"]


def _batch_of_ids(model: GPT, idx) -> tuple[np.ndarray, bool]:
    """idx (T,) or (B, T) token ids -> ((B, T) int64 array, whether it was 1-D)."""
    ids = np.asarray(idx.data if isinstance(idx, Tensor) else idx)
    single = ids.ndim == 1
    if single:
        ids = ids[None, :]
    if ids.ndim != 2 or ids.shape[1] == 0:
        raise ValueError(f"idx must be (T,) or (B, T) token ids with T >= 1, got {ids.shape}")
    if ids.dtype.kind not in "iu":
        raise TypeError(f"idx must hold integer token ids, got {ids.dtype}")
    if ids.shape[1] > model.config.block_size:
        raise ValueError(
            f"{ids.shape[1]} tokens is longer than block_size {model.config.block_size}"
        )
    if ids.min() < 0 or ids.max() >= model.config.vocab_size:
        bad = int(ids.min()) if ids.min() < 0 else int(ids.max())
        raise IndexError(f"token id {bad} is outside [0, {model.config.vocab_size})")
    return ids.astype(np.int64), single


def _inside(model: GPT, ids: np.ndarray, need_weights: bool) -> dict:
    """GPT.forward's `inside` dict, in eval mode and without a graph."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            _, _, inside = model(ids, return_hidden=True, return_attention=need_weights)
    finally:
        model.train(was_training)
    return inside


def hidden_states(model: GPT, idx) -> list[np.ndarray]:
    """n_layer + 1 arrays (B, T, C) (or (T, C) for a 1-D idx): the input of each block,
    then the output of the last block (before the final layer norm).

    The model's logits are `ln_f(hidden_states(...)[-1]) @ wte.T`.
    """
    ids, single = _batch_of_ids(model, idx)
    states = [h.data.copy() for h in _inside(model, ids, False)["hidden"]]
    return [s[0] for s in states] if single else states


def _layer_index(model: GPT, layer) -> int:
    """layer (an int, negative counts from the top) -> 0 .. n_layer - 1."""
    n_layer = model.config.n_layer
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
        raise TypeError(f"layer must be an int, got {type(layer).__name__}")
    if not -n_layer <= layer < n_layer:
        raise IndexError(f"layer {layer} is outside the model's {n_layer} blocks")
    return int(layer) % n_layer


def attention_weights(model: GPT, idx, layer: int) -> np.ndarray:
    """(B, n_head, T, T) attention weights of block `layer` (or (n_head, T, T) for a
    1-D idx): entry [b, h, i, j] is how much query position i attends to key position j.
    """
    layer = _layer_index(model, layer)
    ids, single = _batch_of_ids(model, idx)
    weights = _inside(model, ids, True)["attention"][layer].data.astype(np.float64)
    return weights[0] if single else weights  # (B, n_head, T, T): each row sums to 1


def mlp_activations(model: GPT, idx, layer: int) -> np.ndarray:
    """(B, T, hidden) activations of block `layer`'s MLP neurons (or (T, hidden) for a
    1-D idx): GELU(c_fc(x)), the numbers `MLP.forward` hands to c_proj.

    Caught with a hook: for one forward, the block's `mlp.c_proj` gets an instance
    `forward` that keeps a copy of its input and then does its usual work, so what
    comes back is exactly what the model computed (not a recomputation beside it).
    """
    layer = _layer_index(model, layer)
    ids, single = _batch_of_ids(model, idx)
    c_proj = model.transformer.h[layer].mlp.c_proj
    seen: list[np.ndarray] = []

    def hook(h: Tensor) -> Tensor:  # stands in for c_proj.forward during one forward
        seen.append(h.data.astype(np.float64))
        return type(c_proj).forward(c_proj, h)

    c_proj.forward = hook  # an instance attribute: Module.__call__ finds it first
    try:
        _inside(model, ids, False)
    finally:
        del c_proj.forward  # the class's forward again
    return seen[0][0] if single else seen[0]  # (B, T, hidden)
