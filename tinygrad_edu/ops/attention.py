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
    # Step by step (nn.CausalSelfAttention._attend_step_by_step) this is eleven ops: split
    # into q, k, v; three reshapes to (B, T, H, D) and transposes to (B, H, T, D); the
    # attention; a transpose and reshape back. Each is cheap, but each is a Python call in
    # forward and another in backward, and backward's split sends three (B, T, 3C) arrays
    # of mostly zeros to be summed. Here the layout work is two copies in forward and two
    # in backward, around the same fused kernel Attention uses.
    @staticmethod
    def forward(ctx, qkv, *, n_head, causal=True, scale=1.0):
        B, T, C3 = qkv.shape
        H, D = n_head, C3 // (3 * n_head)
        # (B, T, 3, H, D) -> (3, B, H, T, D): one copy lays out q, k, v head by head
        heads = np.ascontiguousarray(qkv.reshape(B, T, 3, H, D).transpose(2, 0, 3, 1, 4))
        q, k, v = (heads[i].reshape(B * H, T, D) for i in range(3))  # views, (B*H, T, D)
        out, lse = kernels.ops.attention_forward(q, k, v, causal, scale)
        ctx.save_for_backward(q, k, v, out, lse)
        # (B*H, T, D) -> (B, H, T, D) -> (B, T, H, D) -> (B, T, C): heads side by side
        return out.reshape(B, H, T, D).transpose(0, 2, 1, 3).reshape(B, T, H * D)

    @staticmethod
    def backward(ctx, g):
        q, k, v, out, lse = ctx.saved
        o = ctx.options
        B, T, C = g.shape
        H = o["n_head"]
        D = C // H
        # (B, T, C) -> (B, H, T, D) -> (B*H, T, D): the kernel's layout
        dout = np.ascontiguousarray(g.reshape(B, T, H, D).transpose(0, 2, 1, 3))
        dout = dout.reshape(B * H, T, D)
        dq, dk, dv = kernels.ops.attention_backward(
            q, k, v, out, lse, dout, o["causal"], o["scale"]
        )
        # and back into c_attn's layout: dqkv (B, T, 3, H, D) = (B, T, 3C)
        dqkv = np.empty((B, T, 3, H, D), dtype=g.dtype)
        as_heads = dqkv.transpose(2, 0, 3, 1, 4)  # a (3, B, H, T, D) view of it
        for i, d in enumerate((dq, dk, dv)):
            as_heads[i] = d.reshape(B, H, T, D)
        return dqkv.reshape(B, T, 3 * C)
