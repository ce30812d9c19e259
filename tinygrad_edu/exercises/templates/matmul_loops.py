"""Exercise `matmul_loops` -- lesson 10, tutorials/10_engine_room.py

Idea: nearly all of a network's time goes into matrix multiplication. Its definition
is three nested loops; the engine room's fast kernels compute exactly this, in a
cleverer order.

Math: C[i][j] = sum over k of A[i][k] * B[k][j],   A (M, K), B (K, N) -> C (M, N)

Shapes: a and b are lists of lists of floats (rows); returns a list of M rows of N
floats. If the rows of a do not have len(b) entries, raise ValueError.

Hint: M, K, N = len(a), len(b), len(b[0]). Start each C[i][j] at 0.0 and add the K
products.

Answer: `matmul_naive` in tinygrad_edu/kernels/reference.py (read it after trying).
Check: tinygrad-edu exercises check . matmul_loops   (from this folder)
"""

from __future__ import annotations


def matmul_loops(a: list, b: list) -> list:
    """a @ b with three loops, for lists of lists."""
    raise NotImplementedError
