"""Training steps on a busy machine: OpenMP's waiting policy under CPU contention.

    python benchmarks/contention.py

Starts one busy-looping process per core, then times the GPT recipe step (4x128, B 12,
T 64) in fresh processes: 1 thread, 2 threads with our default (a short spin, then sleep:
GOMP_SPINCOUNT=10000, KMP_BLOCKTIME=1, see tinygrad_edu/kernels/__init__.py), 2 threads
with libgomp's own default spin (GOMP_SPINCOUNT=300000), and 2 threads with
OMP_WAIT_POLICY=passive. Each line is the median of 15 steps (min and max beside it).
With spinning threads, a core's share goes to waiting instead of working; the issue that
asked for this saw 2 threads run 10-25x slower than 1.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _harness as H  # noqa: E402

H.reexec_clean()  # the children inherit the clean environment (and its flag)

STEP = r"""
import sys, time
sys.path.insert(0, {here!r}); sys.path.insert(1, {tests!r})
import tinygrad_edu as tg
from tinygrad_edu.models.gpt import GPT, GPTConfig
import gpt as B
tg.set_num_threads({nt})
cfg = GPTConfig(vocab_size=65, bias=False, block_size=64, n_layer=4, n_head=4, n_embd=128)
tg.manual_seed(0)
step = B.ours_step_fn(GPT(cfg), B.make_batches(4, cfg, 12))
for _ in range(3):
    step()
ts = []
for _ in range(15):
    t = time.perf_counter(); step(); ts.append(time.perf_counter() - t)
ts.sort()
print(f"{{ts[7] * 1e3:.0f}} ms (min {{ts[0] * 1e3:.0f}}, max {{ts[-1] * 1e3:.0f}})")
"""

CASES = [
    ("1 thread", 1, {}),
    ("2 threads, our default (short spin)", 2, {}),
    ("2 threads, GOMP_SPINCOUNT=300000", 2, {"GOMP_SPINCOUNT": "300000"}),
    ("2 threads, OMP_WAIT_POLICY=passive", 2, {"OMP_WAIT_POLICY": "passive"}),
]


def main() -> None:
    code = lambda nt: STEP.format(here=HERE, tests=os.path.join(HERE, "..", "tests"), nt=nt)  # noqa: E731
    base = {k: v for k, v in os.environ.items()
            if k not in ("GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_WAIT_POLICY")}  # fmt: skip
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(os.cpu_count() or 2)]  # fmt: skip
    try:
        time.sleep(1)
        print(f"{len(hogs)} busy processes, one per core; GPT recipe step, median of 15:")
        for name, nt, env in CASES:
            out = subprocess.run([sys.executable, "-c", code(nt)], env={**base, **env},
                                 capture_output=True, text=True, check=True)  # fmt: skip
            print(f"  {name:<38} {out.stdout.strip()}")
    finally:
        for h in hogs:
            h.kill()


if __name__ == "__main__":
    main()
