"""The kernel layer: the same functions, implemented twice.

* ``reference`` (reference.py) -- readable NumPy: the math as a textbook writes it.
* ``compiled`` (compiled.py) -- the same signatures over Cython/C kernels
  (``_core.pyx``, ``_gemm.pyx``, ...): SIMD, cache blocking, OpenMP threads.

Everything above this layer (the Tensor engine, nn, the GPT) calls kernels through
``kernels.ops``, the active backend, so one switch changes the engine under the
whole library. Tests call ``reference`` and ``compiled`` side by side.

Choosing the backend: the compiled one when its extension imports, else the
reference one with a single warning. ``TINYGRAD_EDU_BACKEND=reference|compiled``
forces one at import; ``use_backend(name)`` switches at run time.
"""

from __future__ import annotations

import os
import warnings
from types import ModuleType

from . import reference
from .config import config

compiled: ModuleType | None
try:
    from . import compiled

    COMPILED_ERROR: str | None = None
except ImportError as exc:  # the extension was not built, or failed to load
    compiled = None
    COMPILED_ERROR = str(exc)

BUILD_HINT = (
    "build it with `pip install -e .` (needs a C compiler, Cython and NumPy) "
    "from the project folder"
)

_requested = os.environ.get("TINYGRAD_EDU_BACKEND", "").strip().lower()
if _requested not in ("", "reference", "compiled"):
    raise ValueError(f"TINYGRAD_EDU_BACKEND must be 'reference' or 'compiled', got {_requested!r}")
if _requested == "compiled" and compiled is None:
    raise ImportError(
        f"TINYGRAD_EDU_BACKEND=compiled, but the compiled kernels did not import "
        f"({COMPILED_ERROR}); {BUILD_HINT}"
    )
if _requested == "" and compiled is None:
    warnings.warn(
        f"tinygrad_edu: compiled kernels unavailable ({COMPILED_ERROR}); running on the "
        f"slower NumPy reference path. To get them, {BUILD_HINT}.",
        RuntimeWarning,
        stacklevel=2,
    )

ops: ModuleType = reference if (_requested == "reference" or compiled is None) else compiled


# The memory pool (mempool.py, csrc/mempool.c): a caching allocator for NumPy array data,
# on whenever the compiled extension loaded; TINYGRAD_EDU_MEMPOOL=0 opts out.
from . import mempool  # noqa: E402 - after the backend choice, which it follows

if compiled is not None:
    mempool.enable_unless_opted_out()


def backend_name() -> str:
    """'compiled' or 'reference': which implementation `ops` is now."""
    return "compiled" if ops is compiled else "reference"


def use_backend(name: str) -> None:
    """Switch every kernel call to the 'reference' or the 'compiled' backend."""
    global ops
    if name == "reference":
        ops = reference
    elif name == "compiled":
        if compiled is None:
            raise ImportError(f"compiled kernels unavailable ({COMPILED_ERROR}); {BUILD_HINT}")
        ops = compiled
    else:
        raise ValueError(f"backend must be 'reference' or 'compiled', got {name!r}")


__all__ = ["ops", "reference", "compiled", "config", "mempool", "backend_name", "use_backend"]
