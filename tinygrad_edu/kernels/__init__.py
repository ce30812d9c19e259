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

If one extension module failed to build or import, only its kernels run on their
twins (``compiled.kernel_table()`` and ``tinygrad-edu info`` show which), with one
warning naming the module and its real error.

OpenMP waiting policy (set here, before the extension loads the OpenMP runtime, and
only for variables the user has not set): a thread that reaches the end of a parallel
loop first spins, waiting for the next one. GCC's libgomp spins up to 300000 times
by default, so on a busy machine (more threads than free cores) the spinning threads
take the CPU from the ones still working, and two threads can run many times slower
than one. We default to a short spin, then sleep: ``GOMP_SPINCOUNT=10000`` (libgomp,
GCC builds) and ``KMP_BLOCKTIME=1`` (milliseconds; LLVM's libomp, clang builds). On a quiet
machine this costs at most a few microseconds per parallel loop; under contention
it degrades gracefully. Setting ``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT`` or
``KMP_BLOCKTIME`` yourself overrides it. (A runtime that another library, e.g.
torch, loaded first keeps the policy it started with.)
"""

from __future__ import annotations

import os
import warnings
from types import ModuleType

from . import reference
from .config import config

if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")
    os.environ.setdefault("KMP_BLOCKTIME", "1")
OMP_WAIT_POLICY = {
    k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
}

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


# The memory pool (mempool.py, csrc/mempool.c): a caching allocator for NumPy array data.
# It is installed PROCESS-WIDE, not only for tinygrad_edu: after `import tinygrad_edu`,
# every NumPy array the importing context makes (also other libraries' arrays) gets its
# data from the pool, because NumPy keeps one data allocator per context (NEP 49).
# It is on whenever the compiled extension loaded: it
# keeps freed blocks for reuse, which saves the page faults of fresh large allocations
# in every training step. TINYGRAD_EDU_MEMPOOL=0 (before import) opts out;
# tinygrad_edu.info()["mempool"] says whether it is on.
from . import mempool  # noqa: E402 - after the backend choice, which it follows

if compiled is not None:
    mempool.enable_unless_opted_out()


def backend_name() -> str:
    """'compiled' or 'reference': which implementation `ops` is now."""
    base = getattr(ops, "base", ops)  # under `--mine`, ops is mine.Overlay over the backend
    return "compiled" if base is compiled else "reference"


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
