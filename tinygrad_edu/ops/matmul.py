"""Matrix multiplication: where almost all of a network's arithmetic happens.

For C = A @ B with A (M, K) and B (K, N):
    dA = dC @ B^T     (M, N) @ (N, K) -> (M, K)
    dB = A^T @ dC     (K, M) @ (M, N) -> (K, N)
The transposes are views (no copy): the compiled GEMM reads any strides.
"""

from __future__ import annotations

import numpy as np

from .. import kernels
from ..autograd import Function
from .movement import sum_to


def _mT(x: np.ndarray) -> np.ndarray:
    return np.swapaxes(x, -1, -2)


class MatMul(Function):
    # NumPy/PyTorch matmul semantics: 1-D operands are promoted, leading (batch)
    # dimensions broadcast (and their gradients are summed back, sum_to). (B, T, C) @ (C, N) is one (B*T, C) @ (C, N) GEMM.
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return kernels.ops.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        if a.ndim == 1 and b.ndim == 1:  # dot product: g is a scalar
            return g * b, g * a
        # Work with >= 2-D operands: a vector is a (1, K) row or a (K, 1) column.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        da = db = None
        if ctx.needs_input_grad[0]:
            da = kernels.ops.matmul(g2, _mT(b2))  # (..., M, N) @ (..., N, K)
            if a.ndim == 1:
                da = da[..., 0, :]  # drop the promoted row axis again
            da = sum_to(da, a.shape)  # batch dims that a shared by broadcasting
        if ctx.needs_input_grad[1]:
            if b2.ndim == 2 and a2.ndim > 2:
                # Shared weight (K, N) used for every batch row: fold the batch into M
                # and make ONE GEMM: (K, B*M) @ (B*M, N), instead of B small ones summed.
                k = a2.shape[-1]
                db = kernels.ops.matmul(_mT(a2.reshape(-1, k)), g2.reshape(-1, g2.shape[-1]))
            else:
                db = kernels.ops.matmul(_mT(a2), g2)  # (..., K, M) @ (..., M, N)
            if b.ndim == 1:
                db = db[..., 0]
            db = sum_to(db, b.shape)
        return da, db


class Linear(Function):
    # y = x @ W^T + b  -- a layer of neurons (lecture 1): each output is the weighted
    # sum of the inputs plus a bias. x (..., in), W (out, in) as in PyTorch, b (out,).
    #   dx = dy @ W          (..., out) @ (out, in)
    #   dW = dy^T @ x        (out, N) @ (N, in), N = all leading dims flattened
    #   db = sum of dy over its rows
    fresh_grads = True  # dx, dW, db: each a new array from a kernel (see Function)

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        ctx.save_for_backward(x, weight)
        x2 = x.reshape(-1, x.shape[-1])  # (N, in)
        y = kernels.ops.gemm(x2, weight.T)  # (N, out); W.T is a view
        if bias is not None:
            y += bias
        return y.reshape(x.shape[:-1] + (weight.shape[0],))

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved
        g2 = g.reshape(-1, g.shape[-1])  # (N, out)
        need = ctx.needs_input_grad
        dx = kernels.ops.gemm(g2, weight).reshape(x.shape) if need[0] else None
        dw = kernels.ops.gemm(g2.T, x.reshape(-1, x.shape[-1])) if need[1] else None
        if len(need) > 2:
            db = kernels.ops.colsum(g2) if need[2] else None
            return dx, dw, db
        return dx, dw


def _linear_grads(need, g2, x, weight):
    """Linear's backward on g2 = dy (N, out): dx, dW and db as needed."""
    dx = kernels.ops.gemm(g2, weight).reshape(x.shape) if need[0] else None
    dw = kernels.ops.gemm(g2.T, x.reshape(-1, x.shape[-1])) if need[1] else None
    db = kernels.ops.colsum(g2) if len(need) > 2 and need[2] else None
    return dx, dw, db


class LinearGELU(Function):
    # y = gelu(x @ W^T + b): linear then GELU, in one pass (the MLP's first half). The
    # same numbers, bit for bit, as the two ops written out:
    #     h = Linear(x, W, b)      (..., hidden)
    #     y = GELU(h)              (..., hidden)
    # but the kernel applies the bias and GELU to each tile of h as the GEMM writes it,
    # while the tile is in the cache, instead of writing h to memory and reading it back
    # (csrc/gemm_impl.h, the fused epilogue; lesson 10 counts the bytes).
    #   dh = dy * GELU'(h), then Linear's backward on dh (dx, dW, db).
    # GELU' is taken at h, the value before the activation. We keep h from the forward
    # (one more (N, hidden) array written) rather than recompute it in the backward:
    # recomputing h is another x @ W^T, as many flops as the forward GEMM itself.
    fresh_grads = True

    @staticmethod
    def forward(ctx, x, weight, bias=None, *, approximate: str = "none"):
        h, y = kernels.ops.linear_gelu(x.reshape(-1, x.shape[-1]), weight, bias, approximate)
        ctx.save_for_backward(x, weight, h)
        return y.reshape(x.shape[:-1] + (weight.shape[0],))

    @staticmethod
    def backward(ctx, g):
        x, weight, h = ctx.saved
        dh = kernels.ops.gelu_backward(h, g.reshape(h.shape), ctx.options["approximate"])
        dx, dw, db = _linear_grads(ctx.needs_input_grad, dh, x, weight)
        return (dx, dw, db) if len(ctx.needs_input_grad) > 2 else (dx, dw)


class LinearResidual(Function):
    # out = residual + (x @ W^T + b): a projection that adds onto the residual stream, in
    # one pass. The same numbers as
    #     y = Linear(x, W, b)
    #     out = residual + y
    # with the add done to each tile of y as the GEMM writes it (csrc/gemm_impl.h).
    #   d residual = dout (the straight path of the residual stream); dx, dW, db: Linear's.
    @staticmethod
    def forward(ctx, x, weight, residual, bias=None):
        ctx.save_for_backward(x, weight)
        x2 = x.reshape(-1, x.shape[-1])
        r2 = residual.reshape(x2.shape[0], weight.shape[0])
        return kernels.ops.linear_residual(x2, weight, bias, r2).reshape(residual.shape)

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved
        need = ctx.needs_input_grad
        g2 = g.reshape(-1, g.shape[-1])
        dx, dw, db = _linear_grads((need[0], need[1]) + need[3:], g2, x, weight)
        dres = g if need[2] else None
        return (dx, dw, dres, db) if len(need) > 3 else (dx, dw, dres)


class MLPBlock(Function):
    # y = c_proj(gelu(c_fc(x))) (+ residual): the transformer's MLP block (lecture 8) as one
    # op, x (..., C) -> (..., out). The same numbers as LinearGELU, then Linear (or
    # LinearResidual): kernels.ops.mlp_forward runs those two fused GEMMs. The whole block
    # is one kernel call, so that `--mine` can hand it to a learner's mlp_block.
    #   dg = dy @ W_proj,  dW_proj = dy^T g,  db_proj = sum of dy's rows   (c_proj)
    #   dh = dg * GELU'(h)                                                (GELU, at h)
    #   dx = dh @ W_fc,    dW_fc = dh^T x,    db_fc = sum of dh's rows     (c_fc)
    #   d residual = dy
    # The inputs: x, W_fc, W_proj, then b_fc and b_proj (`bias`), then the residual.
    @staticmethod
    def forward(ctx, x, w_fc, w_proj, *rest, bias: bool, residual: bool, approximate: str):
        b_fc, b_proj = rest[:2] if bias else (None, None)
        x2 = x.reshape(-1, x.shape[-1])  # (N, C)
        r2 = rest[-1].reshape(x2.shape[0], w_proj.shape[0]) if residual else None
        h, g, y = kernels.ops.mlp_forward(x2, w_fc, b_fc, w_proj, b_proj, r2, approximate)
        ctx.save_for_backward(x, w_fc, w_proj, h, g)  # h: for GELU', g: for dW_proj
        return y.reshape(x.shape[:-1] + (w_proj.shape[0],))

    @staticmethod
    def backward(ctx, dy):
        x, w_fc, w_proj, h, g = ctx.saved
        need, bias = ctx.needs_input_grad, ctx.options["bias"]
        dy2 = dy.reshape(-1, dy.shape[-1])  # (N, out)
        dg, dw_proj, db_proj = _linear_grads((True, need[2], bias and need[4]), dy2, g, w_proj)
        dh = kernels.ops.gelu_backward(h, dg, ctx.options["approximate"])
        dx, dw_fc, db_fc = _linear_grads((need[0], need[1], bias and need[3]), dh, x, w_fc)
        grads = (dx, dw_fc, dw_proj) + ((db_fc, db_proj) if bias else ())
        return grads + ((dy if need[-1] else None,) if ctx.options["residual"] else ())
