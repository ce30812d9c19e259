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
from .layers import Dropout, Linear
from .module import Module


class CausalSelfAttention(Module):
    """Multi-head causal self-attention (lecture 7): tokens look back and mix values.

    Each token's vector makes a query (what am I looking for?), a key (what do I
    offer?) and a value (what do I pass on?). A token's output is the average of
    the values of the tokens before it, weighted by softmax(query . key / sqrt(D)).
    n_head heads do this in parallel on n_embd // n_head features each.
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
        # fused: training runs the middle (split, heads, attention, merge) as one op,
        # F.multi_head_attention; False always runs it step by step as written below.
        self.fused = fused

    def forward(self, x: Tensor, cache: dict | None = None) -> Tensor:
        qkv = self.c_attn(x)  # (B, T, 3C): every token's query, key and value
        p = self.attn_dropout if self.training else 0.0
        if self.fused and cache is None and p == 0.0:
            y = F.multi_head_attention(qkv, self.n_head, is_causal=True)  # the same, one op
        else:
            y = self._attend_step_by_step(qkv, cache, p)
        return self.resid_dropout(self.c_proj(y))  # (B, T, C)

    def _attend_step_by_step(self, qkv: Tensor, cache: dict | None, p: float) -> Tensor:
        """The textbook route from qkv (B, T, 3C) to y (B, T, C), op by op: what
        F.multi_head_attention computes in one op. Also the route for attention dropout
        and for generation with a KV cache."""
        B, T, C3 = qkv.shape
        C = C3 // 3
        hs = C // self.n_head  # head size D
        q, k, v = qkv.split(C, dim=2)  # each (B, T, C)
        # (B, T, C) -> (B, T, n_head, hs) -> (B, n_head, T, hs): heads become a batch dim
        q = q.reshape(B, T, self.n_head, hs).transpose(1, 2)
        k = k.reshape(B, T, self.n_head, hs).transpose(1, 2)
        v = v.reshape(B, T, self.n_head, hs).transpose(1, 2)
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=p)
        else:
            y = self._attend_with_cache(q, k, v, cache)
        # (B, n_head, T, hs) -> (B, T, n_head, hs) -> (B, T, C): heads side by side
        return y.transpose(1, 2).reshape(B, T, C)

    @staticmethod
    def _attend_with_cache(q: Tensor, k: Tensor, v: Tensor, cache: dict) -> Tensor:
        """Generation: keep the keys and values of earlier tokens instead of recomputing them.

        The new tokens' queries attend to every cached key plus the new keys; new
        token i (at absolute position past + i) may look at positions <= past + i.
        """
        if "k" in cache:
            k = Tensor(np.concatenate([cache["k"], k.data], axis=2))  # (B, nh, past + T, hs)
            v = Tensor(np.concatenate([cache["v"], v.data], axis=2))
        cache["k"], cache["v"] = k.data, v.data
        T, S = q.shape[2], k.shape[2]
        # bottom-right causal mask: the T new queries are the last T of the S positions
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, causal_offset=S - T)


class MLP(Module):
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

    def forward(self, x: Tensor) -> Tensor:
        h = F.gelu(self.c_fc(x), approximate=self.approximate)  # (B, T, hidden)
        return self.dropout(self.c_proj(h))  # (B, T, C)
