"""Looking inside a GPT (lessons 6-8): the residual stream, the attention weights, and
the MLP's neurons.

GPT.forward computes logits and a loss, nothing else. What it computes on the way is
read with forward hooks (nn.Module.register_forward_hook, as in PyTorch): a function
the model calls after a layer's forward, handed the layer's input and output. It keeps
a copy and changes nothing, so what comes back is exactly what the model computed.

    with inspect(model) as probe:
        model(idx)
    probe.hidden[l]     (B, T, C)            the residual stream entering block l;
                                             hidden[n_layer] leaves the last block
    probe.final         (B, T, C)            after the final layer norm: what lm_head reads
    probe.attention[l]  (B, n_head, T, T)    block l's attention weights
    probe.mlp_act[l]    (B, T, 4C)           block l's MLP neurons after GELU: what the
                                             MLP's c_proj reads

The attention weights are

    weights = softmax(q k^T / sqrt(head_size) + causal mask)       (B, n_head, T, T)

from the queries and keys the block computed (its c_attn's output), by the textbook
attention's own function (F.attention_weights): the fused kernel the model runs never
writes them down. Row i is a probability distribution over the positions 0..i that
token i may look at; the entries right of the diagonal (the future) are exactly 0.

Three functions run one forward this way, in eval mode (no dropout) and without an
autograd graph, and hand back copies (the weights and the neurons in float64):
`hidden_states(model, idx)`, `attention_weights(model, idx, layer)`,
`mlp_activations(model, idx, layer)`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

from ..autograd import no_grad
from ..nn import functional as F
from ..tensor import Tensor
from .gpt import GPT

__all__ = ["Probe", "inspect", "hidden_states", "attention_weights", "mlp_activations"]


class Probe:
    """What the last forward of a GPT computed on its way (filled by `inspect`'s hooks).

    Each forward overwrites what the one before left; a block not run yet is None.
    """

    def __init__(self, n_layer: int, n_head: int) -> None:
        self.n_head = n_head
        self.hidden: list[np.ndarray | None] = [None] * (n_layer + 1)  # (B, T, C) each
        self.final: np.ndarray | None = None  # (B, T, C)
        self.mlp_act: list[np.ndarray | None] = [None] * n_layer  # (B, T, 4C) each
        self.qkv: list[np.ndarray | None] = [None] * n_layer  # c_attn's output (B, T, 3C)
        self._attention: list[np.ndarray | None] | None = None  # computed on first use

    @property
    def attention(self) -> list[np.ndarray | None]:
        """Each block's attention weights (B, n_head, T, T), from its queries and keys."""
        if self._attention is None:
            self._attention = [None if qkv is None else self._weights(qkv) for qkv in self.qkv]
        return self._attention

    def _weights(self, qkv: np.ndarray) -> np.ndarray:
        B, T, C3 = qkv.shape
        C = C3 // 3
        hs = C // self.n_head
        # (B, T, C) -> (B, n_head, T, hs): the same split CausalSelfAttention makes
        q = qkv[..., :C].reshape(B, T, self.n_head, hs).transpose(0, 2, 1, 3)
        k = qkv[..., C : 2 * C].reshape(B, T, self.n_head, hs).transpose(0, 2, 1, 3)
        with no_grad():
            return F.attention_weights(Tensor(q), Tensor(k), is_causal=True).data


@contextmanager
def inspect(model: GPT) -> Iterator[Probe]:
    """Hooks on every block of `model` for the duration of the `with`; yields their Probe.

    The forwards inside the `with` run as always (train or eval mode, with or without a
    graph: that is the caller's choice), but without generation's KV cache: with one,
    a block sees only the new tokens, and the probe raises ValueError rather than
    report them as the whole text.
    """
    tr = model.transformer
    probe = Probe(model.config.n_layer, model.config.n_head)

    def keep_final(ln_f: Any, args: tuple, out: Tensor) -> None:
        probe.final = out.data.copy()

    handles = [tr.ln_f.register_forward_hook(keep_final)]
    for layer, block in enumerate(tr.h):
        handles += [
            block.register_forward_hook(_keep_stream(probe, layer)),
            block.attn.register_forward_hook(_refuse_cache),
            block.attn.c_attn.register_forward_hook(_keep_qkv(probe, layer)),
            block.mlp.c_proj.register_forward_hook(_keep_mlp_input(probe, layer)),
        ]
    try:
        yield probe
    finally:
        for handle in handles:
            handle.remove()


def _keep_stream(probe: Probe, layer: int):
    def hook(block: Any, args: tuple, out: Tensor) -> None:
        probe.hidden[layer] = args[0].data.copy()  # x entering block `layer`
        probe.hidden[layer + 1] = out.data.copy()  # and leaving it

    return hook


def _keep_qkv(probe: Probe, layer: int):
    def hook(c_attn: Any, args: tuple, qkv: Tensor) -> None:
        probe.qkv[layer] = qkv.data.copy()  # (B, T, 3C): queries | keys | values
        probe._attention = None  # a new forward: the weights are computed again

    return hook


def _keep_mlp_input(probe: Probe, layer: int):
    def hook(c_proj: Any, args: tuple, out: Tensor) -> None:
        probe.mlp_act[layer] = args[0].data.copy()  # GELU(c_fc(x)): (B, T, 4C)

    return hook


def _refuse_cache(attn: Any, args: tuple, out: Tensor) -> None:
    if len(args) > 1 and args[1] is not None:
        raise ValueError(
            "gpt_inspect.inspect reads forwards without a KV cache "
            "(generate with use_cache=False, or call the model on the whole text)"
        )


# --- one forward, one answer ------------------------------------------------------------------


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


def _layer_index(model: GPT, layer) -> int:
    """layer (an int, negative counts from the top) -> 0 .. n_layer - 1."""
    n_layer = model.config.n_layer
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
        raise TypeError(f"layer must be an int, got {type(layer).__name__}")
    if not -n_layer <= layer < n_layer:
        raise IndexError(f"layer {layer} is outside the model's {n_layer} blocks")
    return int(layer) % n_layer


def _probe(model: GPT, ids: np.ndarray) -> Probe:
    """One forward of ids (B, T) in eval mode and without a graph, read by `inspect`."""
    was_training = model.training
    model.eval()
    try:
        with no_grad(), inspect(model) as probe:
            model(ids)
    finally:
        model.train(was_training)
    return probe


def hidden_states(model: GPT, idx) -> list[np.ndarray]:
    """n_layer + 1 arrays (B, T, C) (or (T, C) for a 1-D idx): the input of each block,
    then the output of the last block (before the final layer norm).

    The model's logits are `ln_f(hidden_states(...)[-1]) @ wte.T`.
    """
    ids, single = _batch_of_ids(model, idx)
    states = _probe(model, ids).hidden
    return [s[0] for s in states] if single else states


def attention_weights(model: GPT, idx, layer: int) -> np.ndarray:
    """(B, n_head, T, T) attention weights of block `layer` (or (n_head, T, T) for a
    1-D idx): entry [b, h, i, j] is how much query position i attends to key position j.
    """
    layer = _layer_index(model, layer)
    ids, single = _batch_of_ids(model, idx)
    weights = _probe(model, ids).attention[layer].astype(np.float64)
    return weights[0] if single else weights  # (B, n_head, T, T): each row sums to 1


def mlp_activations(model: GPT, idx, layer: int) -> np.ndarray:
    """(B, T, hidden) activations of block `layer`'s MLP neurons (or (T, hidden) for a
    1-D idx): GELU(c_fc(x)), the numbers `MLP.forward` hands to c_proj.
    """
    layer = _layer_index(model, layer)
    ids, single = _batch_of_ids(model, idx)
    act = _probe(model, ids).mlp_act[layer].astype(np.float64)
    return act[0] if single else act  # (B, T, hidden)
