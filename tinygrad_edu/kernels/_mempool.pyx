# distutils: sources = csrc/mempool.c
"""Compiled memory pool: NumPy array data through the caching allocator of csrc/mempool.c.

NumPy (>= 1.22, NEP 49) lets a program replace the allocator for array *data*: a
PyDataMem_Handler struct (a name, a version and four functions: malloc, calloc,
realloc, free) wrapped in a capsule named "mem_handler" and installed with
PyDataMem_SetHandler. The Python-facing wrapper is tinygrad_edu/kernels/mempool.py.

Two facts about handlers shape this module:
  * The installed handler lives in a *context variable*: PyDataMem_SetHandler sets it
    for the current contextvars.Context only. Code that runs in another context (a
    new thread starts with an empty one before Python 3.14; an asyncio task copies
    the one it was created in) keeps NumPy's default handler unless it enables the
    pool itself.
  * Every array keeps a reference to the handler capsule that allocated its data and
    frees through it, whatever is installed by then. So the handler struct below is
    static (it lives as long as the process: extension modules are never unloaded)
    and mp_free keeps working after disable(): it then hands blocks straight back to
    malloc instead of caching them.
"""

from cpython.pycapsule cimport PyCapsule_New
from cpython.ref cimport PyObject
from libc.stdint cimport uint8_t
from libc.string cimport strncpy

cdef extern from "numpy/arrayobject.h":
    ctypedef struct PyDataMemAllocator:
        void *ctx
        void *(*malloc)(void *ctx, size_t size) noexcept nogil
        void *(*calloc)(void *ctx, size_t nelem, size_t elsize) noexcept nogil
        void *(*realloc)(void *ctx, void *ptr, size_t new_size) noexcept nogil
        void (*free)(void *ctx, void *ptr, size_t size) noexcept nogil
    ctypedef struct PyDataMem_Handler:
        char name[127]
        uint8_t version
        PyDataMemAllocator allocator
    int _import_array() except -1
    object PyDataMem_SetHandler(PyObject *handler)  # NULL: NumPy's default; returns the old one
    object PyDataMem_GetHandler()

cdef extern from "mempool.h":
    ctypedef struct mp_stats_t:
        size_t hits, misses, evictions, cached_bytes, cached_blocks, in_use_bytes, limit_bytes
        int caching
    size_t MP_MIN_BLOCK, MP_MAX_BLOCK, MP_PAGE, MP_DEFAULT_LIMIT
    void *mp_malloc(void *ctx, size_t size) noexcept nogil
    void *mp_calloc(void *ctx, size_t nelem, size_t elsize) noexcept nogil
    void *mp_realloc(void *ctx, void *ptr, size_t new_size) noexcept nogil
    void mp_free(void *ctx, void *ptr, size_t size) noexcept nogil
    void mp_init()
    void mp_set_caching(int on)
    void mp_set_limit(size_t limit_bytes)
    void mp_trim()
    void mp_get_stats(mp_stats_t *out)
    void mp_reset_counters()

_import_array()
mp_init()

HANDLER_NAME = "tinygrad_edu_mempool"  # what np._core.multiarray.get_handler_name() reports
MIN_BLOCK = MP_MIN_BLOCK
MAX_BLOCK = MP_MAX_BLOCK
PAGE = MP_PAGE
DEFAULT_LIMIT = MP_DEFAULT_LIMIT

cdef PyDataMem_Handler _handler  # static: arrays point at it for as long as they live
strncpy(_handler.name, b"tinygrad_edu_mempool", 127)
_handler.version = 1
_handler.allocator.ctx = NULL
_handler.allocator.malloc = mp_malloc
_handler.allocator.calloc = mp_calloc
_handler.allocator.realloc = mp_realloc
_handler.allocator.free = mp_free

_capsule = PyCapsule_New(&_handler, "mem_handler", NULL)  # kept here for ever, too
_previous = None  # the handler that was installed when enable() replaced it


def enable():
    """Install the pool as NumPy's data allocator (in the current context)."""
    global _previous
    old = PyDataMem_SetHandler(<PyObject *>_capsule)
    if old is not _capsule:
        _previous = old
    mp_set_caching(1)


def disable():
    """Give NumPy back the handler enable() replaced, and every cached block to malloc.

    Arrays made while the pool was on still free through it; from now on their
    blocks go straight back to malloc.
    """
    global _previous
    if PyDataMem_GetHandler() is _capsule:
        if _previous is None:
            PyDataMem_SetHandler(NULL)
        else:
            PyDataMem_SetHandler(<PyObject *>_previous)
        _previous = None
    mp_set_caching(0)


def is_enabled():
    """True if new arrays in the current context get their data from the pool."""
    return PyDataMem_GetHandler() is _capsule


def stats():
    """Counters (hits, misses, evictions) and sizes in bytes (cached, in use, limit)."""
    cdef mp_stats_t s
    mp_get_stats(&s)
    return {
        "enabled": is_enabled(),
        "caching": bool(s.caching),
        "hits": s.hits,
        "misses": s.misses,
        "evictions": s.evictions,
        "cached_bytes": s.cached_bytes,
        "cached_blocks": s.cached_blocks,
        "in_use_bytes": s.in_use_bytes,
        "limit_bytes": s.limit_bytes,
    }


def reset_counters():
    mp_reset_counters()


def trim():
    """Free every cached block (like torch.cuda.empty_cache())."""
    mp_trim()


def set_limit(size_t nbytes):
    """Cap the cached bytes; blocks over the new cap are freed now."""
    mp_set_limit(nbytes)
