"""The cost of one op on a tiny tensor: ours vs PyTorch eager (time per call).

    python benchmarks/dispatch.py           # (1, 1, 64) inputs, 1 thread
    python benchmarks/dispatch.py --quick   # fewer rounds (CI)

On a (1, 1, 64) tensor the arithmetic is nothing: what is timed is everything around
it, Tensor creation, Function.apply, the autograd record, argument checks, the kernel
call. "with grad": the input requires a gradient, so the op records its backward;
"no grad": inside no_grad(). Ours and PyTorch take turns (H.time_interleaved); the
ratio is our time / PyTorch's (below 1: we are faster).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as H  # noqa: E402

H.reexec_clean()

import tinygrad_edu as tg  # noqa: E402
from tinygrad_edu import Tensor, nn  # noqa: E402
from tinygrad_edu.autograd import no_grad  # noqa: E402


def cases(torch, grad: bool):
    """name -> (ours, theirs): zero-argument callables doing one op each."""
    x_np = np.random.default_rng(0).standard_normal((1, 1, 64)).astype(np.float32)
    x, y = Tensor(x_np, requires_grad=grad), Tensor(x_np + 1, requires_grad=grad)
    tx = torch.tensor(x_np, requires_grad=grad)
    ty = torch.tensor(x_np + 1, requires_grad=grad)
    lin, tlin = nn.Linear(64, 64), torch.nn.Linear(64, 64)
    ln, tln = nn.LayerNorm(64), torch.nn.LayerNorm(64)
    F, tF = nn.functional, torch.nn.functional
    return {
        "Linear": (lambda: lin(x), lambda: tlin(tx)),
        "+": (lambda: x + y, lambda: tx + ty),
        "*": (lambda: x * y, lambda: tx * ty),
        "gelu": (lambda: F.gelu(x), lambda: tF.gelu(tx)),
        "layer_norm": (lambda: ln(x), lambda: tln(tx)),
        "softmax": (lambda: F.softmax(x, -1), lambda: tF.softmax(tx, -1)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch = H.torch_or_none()
    if torch is None:
        print("PyTorch is not installed: nothing to compare with (pip install torch==2.13.0)")
        return
    print(f"tinygrad_edu {tg.info()['backend']}, torch {torch.__version__}, 1 thread")
    rounds, steps = (5, 200) if args.quick else (15, 2000)
    rows = []
    with H.threads(1):
        for grad in (False, True):
            for name, (ours, theirs) in cases(torch, grad).items():
                if grad:
                    t_ours, t_torch, ratio = H.time_interleaved(ours, theirs, steps, rounds)
                else:
                    with no_grad(), torch.no_grad():
                        t_ours, t_torch, ratio = H.time_interleaved(ours, theirs, steps, rounds)
                rows.append([name, "with grad" if grad else "no grad", t_ours * 1e6,
                             t_torch * 1e6, 1 / ratio])  # fmt: skip
    H.print_table(
        "one op on a (1, 1, 64) float32 tensor (time per call; ratio = ours / torch, target <= 2)",
        ["op", "mode", "ours us", "torch us", "time ratio"],
        rows,
    )


if __name__ == "__main__":
    main()
