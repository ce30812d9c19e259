"""Causal attention, forward + backward: our fused kernel vs PyTorch's SDPA vs the textbook.

    flock /tmp/tinygrad_edu.lock python benchmarks/attention.py            # the targets
    flock /tmp/tinygrad_edu.lock python benchmarks/attention.py --quick    # CI: small sizes

Three tables:
  1. speed: our fused kernel (csrc/attention_impl.h) against
     torch.nn.functional.scaled_dot_product_attention(is_causal=True) (PyTorch's CPU flash
     kernel), forward alone and forward + backward, at 1 and 2 threads. "kernel" times
     the two kernel calls on (B*H, T, D) arrays; "Tensor" times the autograd op
     (F.scaled_dot_product_attention + backward), which is what torch is doing too.
  2. the lesson: the same forward + backward through the textbook composition (five
     Tensor ops that build the (B, H, T, T) weights), and through the NumPy twin.
  3. memory at T = 1024: what forward + backward needs beyond its inputs, outputs and
     gradients -- NumPy arrays measured with tracemalloc, plus the C kernel's own
     scratch (it reports its size) -- against one (B, H, T, T) float32 score matrix.
GFLOP/s count useful work only: 4*D flops per visible (query, key) pair forward (two
products), 10*D backward (five), as FlashAttention's papers do. Ratios > 1: we are
faster. Quote ratios, not times: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import sys
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import _harness as H  # noqa: E402
import numpy as np  # noqa: E402

SIZES = [(8, 8, 256, 64), (1, 12, 1024, 64), (12, 4, 64, 32)]  # (B, H, T, D): a GPT-2 head
# is D = 64; the last is the nanoGPT CPU recipe's attention (benchmarks/gpt.py)
QUICK_SIZES = [(2, 4, 128, 64), (1, 4, 256, 64)]


def _pairs(T: int) -> int:
    """Visible (query, key) pairs of one causal head: 1 + 2 + ... + T."""
    return T * (T + 1) // 2


def _best(fn, args) -> float:
    """Best of two medians, to ride out a noisy neighbour."""
    return min(H.timeit(fn, min_time=args.min_time, repeats=args.repeats) for _ in range(2))


def _arrays(B, Hh, T, D, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((B, Hh, T, D)).astype(np.float32) for _ in range(4)]


def _time_one_size(B, Hh, T, D, args, rows: list, lesson: list) -> None:
    """Append one table row per thread count (and one lesson row) for (B, H, T, D)."""
    import tinygrad_edu as tg
    from tinygrad_edu.kernels import compiled as C
    from tinygrad_edu.nn import functional as F

    torch = H.torch_or_none()
    N, scale = B * Hh, 1.0 / np.sqrt(D)
    q4, k4, v4, do4 = _arrays(B, Hh, T, D)
    q, k, v, do = (a.reshape(N, T, D) for a in (q4, k4, v4, do4))  # (B*H, T, D) views
    fwd_flops, all_flops = 4 * N * D * _pairs(T), 14 * N * D * _pairs(T)

    def ours_fwd():
        C.attention_forward(q, k, v, True, scale)

    def ours_all():
        out, lse = C.attention_forward(q, k, v, True, scale)
        C.attention_backward(q, k, v, out, lse, do, True, scale)

    def twin_all():
        out, lse = C._reference.attention_forward(q, k, v, True, scale)
        C._reference.attention_backward(q, k, v, out, lse, do, True, scale)

    def tensor_all(fused: bool):
        qt, kt, vt = (tg.Tensor(a, requires_grad=True) for a in (q4, k4, v4))
        if fused:
            y = F.scaled_dot_product_attention(qt, kt, vt, is_causal=True)
        else:
            y = F.scaled_dot_product_attention_reference(qt, kt, vt, is_causal=True)
        y.backward(tg.Tensor(do4))

    if torch is not None:
        tq, tk, tv = (torch.from_numpy(a).requires_grad_() for a in (q4, k4, v4))
        tdo = torch.from_numpy(do4)
        sdpa = torch.nn.functional.scaled_dot_product_attention

        def torch_fwd():
            with torch.no_grad():
                sdpa(tq, tk, tv, is_causal=True)

        def torch_all():
            tq.grad = tk.grad = tv.grad = None
            sdpa(tq, tk, tv, is_causal=True).backward(tdo)

    for nt in args.threads:
        with H.threads(nt):
            t_fwd, t_all = _best(ours_fwd, args), _best(ours_all, args)
            t_tensor = _best(lambda: tensor_all(True), args)
            tt_fwd = _best(torch_fwd, args) if torch is not None else None
            tt_all = _best(torch_all, args) if torch is not None else None
            rows.append(
                [
                    f"{B}x{Hh}x{T}x{D}",
                    nt,
                    t_fwd * 1e3,
                    tt_fwd and tt_fwd / t_fwd,
                    t_all * 1e3,
                    t_tensor * 1e3,
                    tt_all and tt_all * 1e3,
                    tt_all and tt_all / t_all,
                    tt_all and tt_all / t_tensor,
                    all_flops / t_all / 1e9,
                    tt_all and all_flops / tt_all / 1e9,
                    fwd_flops / t_fwd / 1e9,
                ]  # fmt: skip
            )
            if nt == max(args.threads):
                t_text = _best(lambda: tensor_all(False), args)
                t_twin = _best(twin_all, args)
                lesson.append(
                    [
                        f"{B}x{Hh}x{T}x{D}",
                        nt,
                        t_tensor * 1e3,
                        t_text * 1e3,
                        t_text / t_tensor,
                        t_twin * 1e3,
                        t_twin / t_all,
                    ]  # fmt: skip
                )


def speed(args) -> None:
    rows: list = []
    lesson: list = []
    for B, Hh, T, D in args.sizes:
        _time_one_size(B, Hh, T, D, args, rows, lesson)
    H.print_table(
        "Causal attention, float32: fused kernel vs torch SDPA(is_causal=True)"
        "  (ratio = torch time / ours)",
        [
            "B x H x T x D",
            "thr",
            "fwd ms",
            "fwd ratio",
            "f+b ms",
            "f+b Tensor ms",
            "torch f+b ms",
            "f+b ratio",
            "Tensor ratio",
            "GFLOP/s",
            "torch GFLOP/s",
            "fwd GFLOP/s",
        ],  # fmt: skip
        rows,
    )
    H.print_table(
        "The lesson: forward + backward, fused op vs the textbook composition and the NumPy twin",
        [
            "B x H x T x D",
            "thr",
            "fused Tensor ms",
            "textbook ms",
            "textbook / fused",
            "NumPy twin ms",
            "twin / fused kernel",
        ],  # fmt: skip
        lesson,
    )


def _traced_peak(fn) -> int:
    """Peak bytes of NumPy (and Python) allocations while fn runs, above what existed."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    result = fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del result
    return peak


def memory(args) -> None:
    import tinygrad_edu as tg
    from tinygrad_edu.kernels import compiled as C
    from tinygrad_edu.nn import functional as F

    B, Hh, T, D = args.memory_size
    N, scale, MB = B * Hh, 1.0 / np.sqrt(D), 2**20
    q4, k4, v4, do4 = _arrays(B, Hh, T, D)
    q, k, v, do = (a.reshape(N, T, D) for a in (q4, k4, v4, do4))
    nd = N * T * D * 4  # one (B, H, T, D) float32 array
    scores = N * T * T * 4  # one (B, H, T, T) float32 matrix
    nt = max(args.threads)

    def kernel(mod):
        def run():
            out, lse = mod.attention_forward(q, k, v, True, scale)
            return out, lse, mod.attention_backward(q, k, v, out, lse, do, True, scale)

        return run

    def tensor(fused: bool):
        def run():
            qt, kt, vt = (tg.Tensor(a, requires_grad=True) for a in (q4, k4, v4))
            f = (
                F.scaled_dot_product_attention
                if fused
                else F.scaled_dot_product_attention_reference
            )
            y = f(qt, kt, vt, is_causal=True)
            y.backward(tg.Tensor(do4))
            return y, qt.grad, kt.grad, vt.grad

        return run

    rows = []
    with H.threads(nt):
        scratch = C.attention_scratch_bytes(N, T, T, D)  # max(forward, backward), all threads
        fwd_scratch = C.attention_scratch_bytes(N, T, T, D, backward=False)
        outputs = 4 * nd  # out, dq, dk, dv (the inputs q, k, v, dout exist before)
        for name, fn, c_scratch in (
            ("fused kernel", kernel(C), scratch),
            ("fused Tensor op", tensor(True), scratch),
            ("textbook Tensor ops", tensor(False), 0),
            ("NumPy twin", kernel(C._reference), 0),
        ):
            numpy_extra = _traced_peak(fn) - outputs
            total = numpy_extra + c_scratch
            rows.append([name, numpy_extra / MB, c_scratch / MB, total / MB, total / scores])
    H.print_table(
        f"Extra memory of forward + backward at B x H x T x D = {B}x{Hh}x{T}x{D}, {nt} threads "
        f"(beyond q, k, v, dout, out, dq, dk, dv); one T x T float32 score matrix = "
        f"{scores / MB:.0f} MB, budget a third = {scores / 3 / MB:.0f} MB",
        ["version", "NumPy MB", "C scratch MB", "total MB", "x score matrix"],
        rows,
    )
    print(f"  C scratch: forward {fwd_scratch / MB:.2f} MB, backward {scratch / MB:.2f} MB "
          f"(per thread: O(T * D), whatever B * H)")  # fmt: skip


def main() -> None:
    H.reexec_clean()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, short timings (CI)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--min-time", type=float, default=0.2)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    args.sizes = QUICK_SIZES if args.quick else SIZES
    args.memory_size = (1, 4, 256, 64) if args.quick else (1, 12, 1024, 64)
    if args.quick:
        args.min_time, args.repeats = 0.02, 3

    from tinygrad_edu import kernels
    from tinygrad_edu.kernels.config import config

    if kernels.compiled is None or kernels.compiled._attention is None:
        sys.exit(f"the compiled attention kernel is not built ({kernels.COMPILED_ERROR})")
    torch = H.torch_or_none()
    blocks = kernels.compiled.attention_blocking()
    print(
        f"tinygrad_edu attention: isa {config.isa_name}, blocks {blocks}; "
        f"torch {torch.__version__ if torch else 'not installed'}; "
        f"NumPy BLAS {H.openblas_kernel()}"
    )
    speed(args)
    memory(args)


if __name__ == "__main__":
    main()
