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
