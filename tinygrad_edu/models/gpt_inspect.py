"""Looking inside a GPT (lessons 6-8): the residual stream and the attention weights.

The model's forward pass (gpt.py) returns only logits; these functions rerun its pieces
to show what happens in between, without changing the model:

- `hidden_states(model, idx)`: the vector of every token entering each block, and
  leaving the last one (the "residual stream");
- `attention_weights(model, idx, layer)`: for every head of one block, how much each
  query position attends to each key position, recomputed from the block's parameters
  with the textbook formula

      weights = softmax(q k^T / sqrt(head_size) + causal mask)       (B, n_head, T, T)

  Row i is a probability distribution over the positions 0..i that token i may look
  at; the entries right of the diagonal (the future) are exactly 0.

Everything runs without building an autograd graph and in eval mode (no dropout).
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from .gpt import GPT

__all__ = ["hidden_states", "attention_weights"]


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


def _residual_stream(model: GPT, ids: np.ndarray, n_blocks: int) -> list[np.ndarray]:
    """x before block 0, after block 0, ..., after block n_blocks - 1: each (B, T, C)."""
    tr = model.transformer
    T = ids.shape[1]
    x = tr.wte(ids) + tr.wpe(np.arange(T))  # (B, T, C): what the token is + where it is
    states = [x.data.copy()]
    for block in list(tr.h)[:n_blocks]:
        x = block(x)
        states.append(x.data.copy())
    return states


def hidden_states(model: GPT, idx) -> list[np.ndarray]:
    """n_layer + 1 arrays (B, T, C) (or (T, C) for a 1-D idx): the input of each block,
    then the output of the last block (before the final layer norm).

    The model's logits are `ln_f(hidden_states(...)[-1]) @ wte.T`.
    """
    ids, single = _batch_of_ids(model, idx)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            states = _residual_stream(model, ids, model.config.n_layer)
    finally:
        model.train(was_training)
    return [s[0] for s in states] if single else states


def attention_weights(model: GPT, idx, layer: int) -> np.ndarray:
    """(B, n_head, T, T) attention weights of block `layer` (or (n_head, T, T) for a
    1-D idx): entry [b, h, i, j] is how much query position i attends to key position j.
    """
    n_layer = model.config.n_layer
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
        raise TypeError(f"layer must be an int, got {type(layer).__name__}")
    if not -n_layer <= layer < n_layer:
        raise IndexError(f"layer {layer} is outside the model's {n_layer} blocks")
    layer = int(layer) % n_layer
    ids, single = _batch_of_ids(model, idx)
    block = model.transformer.h[layer]
    n_head = model.config.n_head
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            x = _residual_stream(model, ids, layer)[-1]  # (B, T, C): what enters the block
            qkv = block.attn.c_attn(block.ln_1(Tensor(x))).data  # (B, T, 3C), as the model does
    finally:
        model.train(was_training)
    B, T, C3 = qkv.shape
    C = C3 // 3
    hs = C // n_head  # head size
    q, k = qkv[..., :C], qkv[..., C : 2 * C]  # the values (last third) are not needed here
    # (B, T, C) -> (B, T, n_head, hs) -> (B, n_head, T, hs): one matrix per head
    q = q.reshape(B, T, n_head, hs).transpose(0, 2, 1, 3).astype(np.float64)
    k = k.reshape(B, T, n_head, hs).transpose(0, 2, 1, 3).astype(np.float64)
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hs)  # (B, n_head, T, T): query . key
    future = np.triu(np.ones((T, T), dtype=bool), k=1)  # key j > query i: may not look
    scores[..., future] = -np.inf
    scores -= scores.max(axis=-1, keepdims=True)  # softmax is unchanged by a shift; exp stays <= 1
    weights = np.exp(scores)  # exp(-inf) = 0: the future gets exactly 0
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights[0] if single else weights
