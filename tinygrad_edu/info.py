"""What this installation is running on: `tg.info()` and `tinygrad-edu info`."""

from __future__ import annotations

import platform

import numpy as np

from . import kernels
from ._version import __version__
from .kernels.config import ISA_NAMES, config


def info() -> dict:
    """version, backend ('compiled' or 'reference'), num_threads, simd, openmp, ..."""
    compiled = kernels.compiled
    return {
        "version": __version__,
        "backend": kernels.backend_name(),
        "num_threads": config.num_threads,
        "simd": config.isa_name if compiled is not None else "none",
        "simd_supported": list(ISA_NAMES[: config.best_isa + 1]) if compiled is not None else [],
        "openmp": bool(compiled is not None and compiled.HAS_OPENMP),
        "compiled_available": compiled is not None,
        "compiled_error": kernels.COMPILED_ERROR,
        "mempool": kernels.mempool.is_enabled(),  # caching allocator for array data (this context)
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
