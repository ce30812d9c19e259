"""Shared fixtures: the two kernel backends, every SIMD level, and optional PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_edu import kernels
from tinygrad_edu.kernels.config import ISA_NAMES, config

needs_compiled = pytest.mark.skipif(
    kernels.compiled is None, reason=f"compiled kernels not built: {kernels.COMPILED_ERROR}"
)


def supported_isas() -> list[str]:
    return list(ISA_NAMES[: config.best_isa + 1]) if kernels.compiled is not None else []


@pytest.fixture(autouse=True)
def _kernels_at_every_size(request, monkeypatch):
    """compiled.py takes small adds and softmaxes down C fast paths, and tiny batched
    matmuls to NumPy (the same numbers as the twins); the kernel tests run every size
    through the checked, threaded kernel calls (the fast paths have tests of their own)."""
    if kernels.compiled is not None and request.module.__name__.startswith("test_kernels"):
        monkeypatch.setattr(kernels.compiled, "_ADD_SMALL", 0)
        monkeypatch.setattr(kernels.compiled, "_SOFTMAX_SMALL", 0)
        monkeypatch.setattr(kernels.compiled, "_MATMUL_SMALL_FLOPS", 0)


@pytest.fixture(params=supported_isas() or ["none"])
def isa(request):
    """Run a test once per SIMD variant this CPU supports (base, avx2, avx512)."""
    if request.param == "none":
        pytest.skip("compiled kernels not built")
    old = config.isa
    config.set_isa(request.param)
    yield request.param
    config.isa = old


@pytest.fixture(params=[1, 2])
def nthreads(request):
    old = config.num_threads
    config.num_threads = request.param
    yield request.param
    config.num_threads = old


@pytest.fixture(params=["reference", "compiled"])
def backend(request):
    """Run a test on each backend (the compiled one is skipped when not built)."""
    if request.param == "compiled" and kernels.compiled is None:
        pytest.skip("compiled kernels not built")
    old = kernels.backend_name()
    kernels.use_backend(request.param)
    yield request.param
    kernels.use_backend(old)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
