"""Fused scaled-dot-product attention: the whole of softmax(q k^T * scale) v as ONE op.

The textbook composition (nn.functional.scaled_dot_product_attention_reference) is
five ops -- matmul, scale, mask, softmax, matmul -- and keeps the (B, H, T, S) matrix
of attention weights alive from forward to backward. This Function calls one kernel
(kernels.ops.attention_forward: FlashAttention's online softmax, csrc/attention_impl.h)
that never builds that matrix; forward saves only q, k, v, out and the per-query
log-sum-exp lse (B*H, T), from which backward recomputes the weights block by block.
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from ..autograd import Function


def _heads(x: np.ndarray) -> np.ndarray:
    """(..., T, D) -> (N, T, D) with N the product of the leading dims (B * n_head)."""
    return x.reshape(-1, x.shape[-2], x.shape[-1])


class Attention(Function):
    # out = softmax(scale * q k^T, masked) v over the last two dims; q (..., T, D),
    # k and v (..., S, D) with the same leading dims (B, n_head). With causal, query i
    # may look at key j iff j <= i + causal_offset.
    # Backward (kernels.ops.attention_backward), with P the attention weights:
    #   dv = P^T dout,  dS = P * (dout v^T - rowsum(dout * out)),
    #   dq = scale * dS k,  dk = scale * dS^T q
    @staticmethod
    def forward(ctx, q, k, v, *, causal=False, scale=1.0, causal_offset=0):
        q3, k3, v3 = _heads(q), _heads(k), _heads(v)  # (B*H, T, D): heads are the batch
        out, lse = kernels.ops.attention_forward(q3, k3, v3, causal, scale, causal_offset)
        ctx.save_for_backward(q3, k3, v3, out, lse)
        return out.reshape(q.shape[:-1] + (v.shape[-1],))

    @staticmethod
    def backward(ctx, g):
        q3, k3, v3, out, lse = ctx.saved
        o = ctx.options
        dq, dk, dv = kernels.ops.attention_backward(
            q3, k3, v3, out, lse, _heads(g), o["causal"], o["scale"], o["causal_offset"]
        )
        shape_q = g.shape[:-2] + q3.shape[1:]
        shape_k = g.shape[:-2] + k3.shape[1:]
        return dq.reshape(shape_q), dk.reshape(shape_k), dv.reshape(shape_k)


class MultiHeadAttention(Function):
    # The whole middle of a causal self-attention layer as ONE op:
    #   qkv (B, T, 3C)  -- c_attn's output: every token's query, key and value side by side
    #   ->  y (B, T, C) -- every head's output side by side, ready for c_proj
    # Step by step (nn.CausalSelfAttention with fused=False) this is eleven ops: split
    # into q, k, v; three reshapes to (B, T, H, D) and transposes to (B, H, T, D); the
    # attention; a transpose and reshape back. Each is cheap, but each is a Python call in
    # forward and another in backward, and backward's split sends three (B, T, 3C) arrays
    # of mostly zeros to be summed. The twin (reference.multi_head_attention_forward) does
    # that layout work with copies; the compiled kernel reads q, k, v where c_attn wrote
    # them and writes y and dqkv in place (csrc/attention.h: tg_att_view).
    @staticmethod
    def forward(ctx, qkv, *, n_head, causal=True, scale=1.0):
        y, lse = kernels.ops.multi_head_attention_forward(qkv, n_head, causal, scale)
        ctx.save_for_backward(qkv, y, lse)  # lse (B*H, T): all backward needs besides
        return y

    @staticmethod
    def backward(ctx, g):
        qkv, y, lse = ctx.saved
        o = ctx.options
        return kernels.ops.multi_head_attention_backward(
            qkv, y, lse, g, o["n_head"], o["causal"], o["scale"]
        )
