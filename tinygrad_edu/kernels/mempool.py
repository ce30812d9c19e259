"""The memory pool: a caching allocator for NumPy array data (lesson: how frameworks manage memory).

A training step makes the same big temporary arrays again and again. Without a pool,
each one's memory goes back to the operating system when the array dies, and the next
array gets fresh pages -- one page fault per 4 KiB on first touch. The pool
(csrc/mempool.c, installed through NumPy's NEP 49 handler API by _mempool.pyx) keeps
freed blocks of 64 KiB and more and hands them to the next array of the same size,
as PyTorch's caching allocator does for GPU memory.

    enable() / disable()   install / remove the pool as NumPy's data allocator
    is_enabled()           is it installed (in the current context)?
    stats()                hits, misses, evictions, cached/in-use/limit bytes
    trim()                 give every cached block back (torch.cuda.empty_cache())
    set_limit(nbytes)      cap the cached bytes (256 MiB by default)

The package turns it on when the compiled kernels load; ``TINYGRAD_EDU_MEMPOOL=0``
in the environment leaves NumPy's allocator alone. Without the compiled extension
every function here is a no-op (stats() says the pool is unavailable).

NumPy keeps the installed handler in a context variable, so enable() acts on the
current context: threads started before Python 3.14 begin with a fresh context and
use NumPy's default allocator unless they call enable() themselves.
"""

from __future__ import annotations

import os

try:
    from . import _mempool
except ImportError:  # not built (e.g. no C compiler): NumPy's allocator stays
    _mempool = None

OFF_VALUES = ("0", "false", "off", "no")


def available() -> bool:
    """True if the compiled pool was built."""
    return _mempool is not None


def enable() -> None:
    """Make NumPy allocate array data from the pool (in the current context)."""
    if _mempool is not None:
        _mempool.enable()


def disable() -> None:
    """Back to the allocator NumPy had before; cached blocks are freed.

    Arrays allocated from the pool stay valid, and free through it when they die.
    """
    if _mempool is not None:
        _mempool.disable()


def is_enabled() -> bool:
    return _mempool is not None and _mempool.is_enabled()


def stats() -> dict:
    """{'enabled', 'caching', 'hits', 'misses', 'evictions', 'cached_bytes', ...}."""
    if _mempool is None:
        return {"available": False, "enabled": False}
    return {"available": True, **_mempool.stats()}


def trim() -> None:
    """Free every cached block (the arrays alive now keep theirs)."""
    if _mempool is not None:
        _mempool.trim()


def set_limit(nbytes: int) -> None:
    """Cap the bytes the pool keeps cached; 0 caches nothing."""
    if isinstance(nbytes, bool) or not isinstance(nbytes, int):
        raise TypeError(f"the pool limit must be an int (bytes), got {type(nbytes).__name__}")
    if nbytes < 0:
        raise ValueError(f"the pool limit must be >= 0 bytes, got {nbytes}")
    if _mempool is not None:
        _mempool.set_limit(nbytes)


def enable_unless_opted_out() -> bool:
    """Enable the pool unless TINYGRAD_EDU_MEMPOOL is 0/false/off/no; True if now on."""
    if os.environ.get("TINYGRAD_EDU_MEMPOOL", "").strip().lower() in OFF_VALUES:
        return False
    enable()
    return is_enabled()
