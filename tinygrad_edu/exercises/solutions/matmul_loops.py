from __future__ import annotations


def matmul_loops(a: list, b: list) -> list:
    """a @ b with three loops, for lists of lists."""
    M, K = len(a), len(b)
    N = len(b[0]) if K else 0
    if any(len(row) != K for row in a):
        raise ValueError(f"the rows of a must have len(b) = {K} entries")
    c = [[0.0] * N for _ in range(M)]
    for i in range(M):
        for j in range(N):
            s = 0.0
            for k in range(K):
                s += a[i][k] * b[k][j]
            c[i][j] = s
    return c
