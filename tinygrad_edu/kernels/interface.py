"""The kernel interface: which kernels a backend provides, and how the extension was built.

Both backends (reference.py, compiled.py) provide every name in KERNELS with the same
signature. The compiled backend runs each on the extension module named here; the
kernels of a module that did not load run on their NumPy twins instead.
(Kept apart from compiled.py so that `tinygrad-edu info` can show the table even
when no compiled module loads at all.)
"""

from __future__ import annotations

import json
from pathlib import Path

# kernel name -> extension module that implements it; None: the reference twin is the
# implementation here too (nothing to gain from C, or it only dispatches to a kernel).
KERNELS: dict[str, str | None] = {
    "dot": "_core",
    "colsum": "_core",
    "sum_squares": "_core",
    "scale_": "_core",
    "add": "_core",
    "sum_to_shape": "_core",  # (N, C) -> (C,) on colsum; other shapes in NumPy
    "gemm": "_gemm",
    "matmul": "_gemm",
    "gemm_naive": "_gemm",
    "linear_gelu": "_gemm",  # gemm + bias + GELU, the epilogue on each tile of C
    "linear_residual": "_gemm",  # gemm + bias + the residual add, likewise
    "mlp_forward": "_gemm",  # the MLP block: linear_gelu, then linear_residual (or gemm)
    "matmul_naive": None,  # the pure-Python rung of the ladder, on purpose
    "top_p_filter": None,  # a sort per generated token: nothing to gain from C
    "sgd_update": "_optim",
    "adam_update": "_optim",
    "adamw_update": "_optim",
    "layer_norm": "_nn",
    "layer_norm_backward": "_nn",
    "embedding_backward": "_nn",
    "softmax": "_activations",
    "log_softmax": "_activations",
    "softmax_backward": "_activations",
    "log_softmax_backward": "_activations",
    "cross_entropy": "_activations",
    "cross_entropy_backward": "_activations",
    "gelu": "_activations",
    "gelu_backward": "_activations",
    "attention_forward": "_attention",
    "attention_backward": "_attention",
    "multi_head_attention_forward": "_attention",
    "multi_head_attention_backward": "_attention",
    # the plain-C rung (csrc/naive_impl.h): one thread, scalar loops, the twin's signature
    "softmax_naive": "_naive",
    "log_softmax_naive": "_naive",
    "cross_entropy_naive": "_naive",
    "cross_entropy_backward_naive": "_naive",
    "layer_norm_naive": "_naive",
    "layer_norm_backward_naive": "_naive",
    "gelu_naive": "_naive",
    "gelu_backward_naive": "_naive",
    "linear_gelu_naive": "_naive",
    "linear_residual_naive": "_naive",
    "attention_forward_naive": "_naive",
    "attention_backward_naive": "_naive",
    "sgd_update_naive": "_naive",
    "adam_update_naive": "_naive",
    "adamw_update_naive": "_naive",
}
MODULES = ("_core", "_gemm", "_nn", "_optim", "_activations", "_attention", "_naive")


def build_report() -> dict:
    """What setup.py recorded when it built the extension (compiler, flags, OpenMP, and
    per module 'built' or the compiler's first error line); {} if it left no report."""
    try:
        return json.loads((Path(__file__).with_name("_build_report.json")).read_text())
    except (OSError, ValueError):
        return {}
