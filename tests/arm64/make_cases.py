"""Write test cases for tests/arm64/driver.c: inputs and the NumPy twins' outputs.

    python tests/arm64/make_cases.py OUTDIR

OUTDIR/cases.txt has one line per case:

    kernel dtype nthreads tol  nparams p...  nin in-files...  nout expected-files...

and each file is the raw little-endian array (float32/float64, int64 for indices).
The driver (built for arm64, run under qemu) calls the C kernel on the inputs and
compares every output with the twin's within `tol` (relative to 1 + |expected|, the
tolerances of the x86 tests). Shapes include odd sizes that leave vector tails.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from tinygrad_edu.kernels import reference as R

rng = np.random.default_rng(0)
out_dir = Path(sys.argv[1])
out_dir.mkdir(parents=True, exist_ok=True)
lines: list[str] = []
counter = [0]


def save(a: np.ndarray) -> str:
    counter[0] += 1
    name = f"a{counter[0]}.bin"
    np.ascontiguousarray(a).tofile(out_dir / name)
    return name


def case(kernel, dt, params, ins, outs):
    tol = 2e-4 if dt == np.float32 else 1e-9
    tname = "f32" if dt == np.float32 else "f64"
    for nt in (1, 2):
        lines.append(
            " ".join(
                [
                    kernel,
                    tname,
                    str(nt),
                    repr(tol),
                    str(len(params)),
                    *map(repr, map(float, params)),
                    str(len(ins)),
                    *map(save, ins),
                    str(len(outs)),
                    *map(save, outs),
                ]
            )  # fmt: skip
        )


for dt in (np.float32, np.float64):
    r = lambda *s, dt=dt: rng.standard_normal(s).astype(dt)  # noqa: E731
    for n in (1, 7, 33, 1000):
        x, y = r(n), r(n)
        case("dot", dt, [n], [x, y], [np.array([R.dot(x, y)], dt)])
        case("add", dt, [n], [x, y], [x + y])
        case("gelu", dt, [n, 0], [x], [R.gelu(x)])
        case("gelu_tanh", dt, [n, 1], [x], [R.gelu(x, "tanh")])
        case("gelu_backward", dt, [n, 0], [x, y], [R.gelu_backward(x, y)])
        p, g, m, v = r(n), r(n), r(n), np.abs(r(n))
        p2, m2, v2 = p.copy(), m.copy(), v.copy()
        R.adam_update(p2, g, m2, v2, 1e-3, 0.9, 0.999, 1e-8, 0.01, 3, True)
        case("adamw", dt, [n, 1e-3, 0.9, 0.999, 1e-8, 0.01, 3], [p, g, m, v], [p2, m2, v2])
        b = r(n)
        p3, b3 = p.copy(), b.copy()
        R.sgd_update(p3, g, b3, 0.1, 0.9, 0.0, 0.01, True, False)
        case("sgd", dt, [n, 0.1, 0.9, 0.0, 0.01, 1], [p, g, b], [p3, b3])
    for rows, cols in ((1, 1), (3, 5), (17, 33), (64, 130)):
        x, y = r(rows, cols), r(rows, cols)
        case("colsum", dt, [rows, cols], [x], [R.colsum(x)])
        s = R.softmax(x)
        case("softmax", dt, [rows, cols], [x], [s])
        case("log_softmax", dt, [rows, cols], [x], [R.log_softmax(x)])
        case("softmax_backward", dt, [rows, cols], [s, y], [R.softmax_backward(s, y)])
        w, bias = r(cols), r(cols)
        yy, mean, rstd = R.layer_norm(x, w, bias, 1e-5)
        case("layernorm_fwd", dt, [rows, cols, 1e-5], [x, w, bias], [yy, mean, rstd])
        dx, dw, db = R.layer_norm_backward(x, w, mean, rstd, y)
        case("layernorm_bwd", dt, [rows, cols], [x, w, mean, rstd, y], [dx, dw, db])
        idx = rng.integers(0, 5, rows).astype(np.int64)
        case("embedding_bwd", dt, [rows, cols, 5], [idx, x], [R.embedding_backward(idx, x, 5)])
    # (2, 40, 67) and (4, 300, 768): few rows of A, B row-major (p @ V, section 6)
    for M, N, K in ((1, 1, 1), (2, 40, 67), (4, 300, 768), (5, 7, 3), (33, 17, 65), (128, 96, 80)):
        a, b = r(M, K), r(K, N)
        case("gemm", dt, [M, N, K], [a, b], [a @ b])
    for M, N, K in ((1, 1, 1), (1, 9, 13), (3, 40, 67), (4, 300, 768)):  # x @ W.T: few rows
        x, w = r(M, K), r(N, K)
        case("gemm_wt", dt, [M, N, K], [x, w], [x @ w.T])
    for N, T, S, D, causal in (
        (1, 1, 1, 4, 0),
        (2, 5, 7, 8, 0),
        (3, 17, 17, 16, 1),
        (2, 33, 33, 64, 1),
    ):
        q, k, v = r(N, T, D), r(N, S, D), r(N, S, D)
        scale = 1 / np.sqrt(D)
        o, lse = R.attention_forward(q, k, v, bool(causal), scale, 0)
        case("attention_fwd", dt, [N, T, S, D, causal, scale], [q, k, v], [o, lse])
        do = r(N, T, D)
        dq, dk, dv = R.attention_backward(q, k, v, o, lse, do, bool(causal), scale, 0)
        case("attention_bwd", dt, [N, T, S, D, causal, scale], [q, k, v, o, lse, do], [dq, dk, dv])

(out_dir / "cases.txt").write_text("\n".join(lines) + "\n")
print(f"{len(lines)} cases in {out_dir}")
