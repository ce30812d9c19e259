"""What this installation is running on: `tg.info()` and `tinygrad-edu info`."""

from __future__ import annotations

import platform

import numpy as np

from . import kernels
from ._version import __version__
from .kernels.config import ISA_NAMES, config
from .kernels.interface import KERNELS, build_report


def _build() -> dict:
    report = build_report()
    keys = ("compiler", "compile_args", "link_args", "openmp", "openmp_note", "modules")
    return {k: report[k] for k in keys if k in report}


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
        # caching allocator for array data, installed process-wide at import (this context)
        "mempool": kernels.mempool.is_enabled(),
        "omp_wait_policy": dict(kernels.OMP_WAIT_POLICY),
        # how the extension was built (setup.py's _build_report.json): compiler, flags, ...
        "build": _build(),
        # kernel -> "compiled (_module)" / "reference (...)": which path each one runs on
        "kernels": compiled.kernel_table()
        if compiled is not None
        else {k: "reference (no compiled extension)" for k in KERNELS},
        "module_errors": dict(compiled.MODULE_ERRORS) if compiled is not None else {},
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
