"""The two halves of a transformer block (lectures 6-8), as reusable layers.

    CausalSelfAttention   tokens talk to each other: each looks back at the tokens
                          before it and takes a weighted average of their values
    MLP                   each token thinks alone: Linear -> GELU -> Linear

Attribute names (c_attn, c_proj, c_fc) are nanoGPT's, so a GPT built from these
loads nanoGPT and GPT-2 weights by name (models/gpt.py).
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from . import functional as F
from .layers import AddsResidual, Dropout, Linear


class CausalSelfAttention(AddsResidual):
    """Multi-head causal self-attention (lecture 7): tokens look back and mix values.

    Each token's vector makes a query (what am I looking for?), a key (what do I
    offer?) and a value (what do I pass on?). A token's output is the average of
    the values of the tokens before it, weighted by softmax(query . key / sqrt(D)).
    n_head heads do this in parallel on D = n_embd // n_head features each.

    One switch, as in nanoGPT: `fused=True` (training's default) runs the whole
    middle -- split, heads, attention, merge -- as ONE op around FlashAttention's
    kernel (F.multi_head_attention); `fused=False` runs the textbook lines of
    `forward` below, which compute the same numbers and gradients
    (tests/test_attention.py). The textbook lines also serve what the one op cannot:
    attention dropout and generation with a KV cache.
    """

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        bias: bool = True,
        dropout: float = 0.0,
        fused: bool = True,
    ) -> None:
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_embd ({n_embd}) must be divisible by n_head ({n_head})")
        self.n_head = n_head
        self.c_attn = Linear(n_embd, 3 * n_embd, bias=bias)  # query, key, value in one GEMM
        self.c_proj = Linear(n_embd, n_embd, bias=bias)  # mixes the heads' outputs
        self.attn_dropout = dropout
        self.resid_dropout = Dropout(dropout)
        self.fused = fused

    def forward(
        self, x: Tensor, cache: dict | None = None, residual: Tensor | None = None
    ) -> Tensor:
        """x (B, T, C) -> y (B, T, C); with `residual`, residual + y (the block's x = x + attn(...)).

        cache: generation's KV cache for this layer (a dict, filled here): the keys
        and values of the S - T earlier tokens, so only the T new ones are computed.
        """
        B, T, C = x.shape
        nh, hs = self.n_head, C // self.n_head  # heads, head size D
        p = self.attn_dropout if self.training else 0.0
        qkv = self.c_attn(x)  # (B, T, 3C): every token's query, key and value
        if self.fused and cache is None and p == 0.0:
            y = F.multi_head_attention(qkv, nh, is_causal=True)  # the lines below, as one op
            return self._project(y, residual)
        q, k, v = qkv.split(C, dim=2)  # each (B, T, C)
        # (B, T, C) -> (B, T, nh, hs) -> (B, nh, T, hs): the heads become a batch dim
        q = q.reshape(B, T, nh, hs).transpose(1, 2)
        k = k.reshape(B, T, nh, hs).transpose(1, 2)
        v = v.reshape(B, T, nh, hs).transpose(1, 2)
        if cache is not None:  # generation: earlier tokens' keys and values, kept
            if "k" in cache:
                k = Tensor(np.concatenate([cache["k"], k.data], axis=2))  # (B, nh, S, hs)
                v = Tensor(np.concatenate([cache["v"], v.data], axis=2))
            cache["k"], cache["v"] = k.data, v.data
        S = k.shape[2]  # the T queries are the last T of S positions
        # softmax(q k^T / sqrt(hs), the future masked) @ v: (B, nh, T, hs), a weighted
        # average of the values (nn/functional.py writes it out)
        y = F.scaled_dot_product_attention(
            q, k, v, dropout_p=p, is_causal=True, causal_offset=S - T, fused=False
        )
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, nh, hs) -> (B, T, C): heads side by side
        return self._project(y, residual)

    def _project(self, y: Tensor, residual: Tensor | None) -> Tensor:
        """c_proj mixes the heads; the residual, if given, is added as c_proj's GEMM
        writes (one pass), unless dropout must come between them."""
        return _project(self.c_proj, self.resid_dropout, y, residual)


def _project(c_proj: Linear, dropout: Dropout, h: Tensor, residual: Tensor | None) -> Tensor:
    """residual + dropout(c_proj(h)), or dropout(c_proj(h)) without a residual. When
    dropout does nothing (p = 0, or eval), the add is fused into c_proj's GEMM."""
    if residual is None:
        return dropout(c_proj(h))
    if dropout.p == 0.0 or not dropout.training:
        return c_proj(h, residual=residual)  # residual + c_proj(h), in one pass
    return residual + dropout(c_proj(h))


class MLP(AddsResidual):
    """The MLP block (lecture 8): Linear -> GELU -> Linear, `hidden` wide in the middle.

    Each token passes through it alone; this is where facts seem to be stored.
    """

    def __init__(
        self,
        n_embd: int,
        hidden: int | None = None,
        bias: bool = True,
        dropout: float = 0.0,
        approximate: str = "none",
    ) -> None:
        super().__init__()
        hidden = 4 * n_embd if hidden is None else hidden
        self.c_fc = Linear(n_embd, hidden, bias=bias)
        self.c_proj = Linear(hidden, n_embd, bias=bias)
        self.dropout = Dropout(dropout)
        self.approximate = approximate

    def forward(self, x: Tensor, residual: Tensor | None = None) -> Tensor:
        """x (..., C) -> (..., C); with `residual`, residual + that (the block's x = x + mlp(...)).

        Read it as a memory: row i of c_fc.weight is the pattern neuron i looks for, and
        column i of c_proj.weight is what the neuron adds to the output when it fires.
        The neurons' activations h are what c_proj reads (a forward hook on c_proj sees
        them: models/gpt_inspect.py).

        Linear -> GELU -> Linear, as written out:
            h = F.gelu(self.c_fc(x), approximate=self.approximate)
            return self.dropout(self.c_proj(h))
        Below, the whole block is one op, F.mlp: two GEMMs, GELU applied as the first
        writes each tile of c_fc's output, the residual added as the second writes. The
        same numbers, fewer trips through memory (lesson 10 measures the difference).
        The layers run one by one when something must come between them: a hook on
        c_fc or c_proj (it sees that layer's own output), or dropout.
        """
        fc, proj, dropout = self.c_fc, self.c_proj, self.dropout
        between = fc._forward_hooks or proj._forward_hooks or (dropout.p and dropout.training)
        if not between:
            return F.mlp(x, fc.weight, fc.bias, proj.weight, proj.bias, residual, self.approximate)
        if fc._forward_hooks:  # a hook on c_fc sees c_fc's own output: the two ops apart
            h = F.gelu(fc(x), approximate=self.approximate)
        else:
            h = F.linear_gelu(
                x, fc.weight, fc.bias, self.approximate
            )  # gelu(c_fc(x)) (..., hidden)
        return _project(self.c_proj, self.dropout, h, residual)  # (..., C)
