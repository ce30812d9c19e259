/* A caching allocator for NumPy array data: the interface (design: mempool.c).
 *
 * The four allocation functions have exactly the signatures of NumPy's
 * PyDataMemAllocator (numpy/ndarraytypes.h, NEP 49), so the Cython wrapper
 * (tinygrad_edu/kernels/_mempool.pyx) can put them straight into a
 * PyDataMem_Handler. `ctx` is unused: there is one pool per process.
 * This file needs no NumPy or Python header.
 */
#ifndef TG_MEMPOOL_H
#define TG_MEMPOOL_H

#include <stddef.h>

/* Blocks smaller than this go straight to malloc/free: glibc serves them from its
   heap without a system call, and caching them would only waste memory. */
#define MP_MIN_BLOCK ((size_t)64 * 1024)
/* Blocks larger than this go straight to malloc/free too (one such block would
   fill a quarter of the default cache). */
#define MP_MAX_BLOCK ((size_t)64 * 1024 * 1024)
/* Pooled sizes are rounded up to whole pages: a 100,000-byte and a 101,000-byte
   array share one size class and can reuse each other's blocks. */
#define MP_PAGE ((size_t)4096)
/* What the cache may hold, in bytes, unless mp_set_limit says otherwise. */
#define MP_DEFAULT_LIMIT ((size_t)256 * 1024 * 1024)

typedef struct {
    size_t hits;          /* pooled-size requests served from the cache */
    size_t misses;        /* pooled-size requests that had to ask malloc */
    size_t evictions;     /* cached blocks given back to malloc to honour the limit */
    size_t cached_bytes;  /* bytes held in the free lists, waiting for reuse */
    size_t cached_blocks; /* how many blocks that is */
    size_t in_use_bytes;  /* bytes of pooled blocks now owned by arrays */
    size_t limit_bytes;   /* the cap on cached_bytes */
    int caching;          /* 1: freed pooled blocks are kept; 0: they go back to malloc */
} mp_stats_t;

/* The NumPy allocator interface (PyDataMemAllocator). */
void *mp_malloc(void *ctx, size_t size);
void *mp_calloc(void *ctx, size_t nelem, size_t elsize);
void *mp_realloc(void *ctx, void *ptr, size_t new_size);
void mp_free(void *ctx, void *ptr, size_t size);

/* Control, called from Python (with the GIL held; the pool has its own lock). */
void mp_init(void);                   /* once, at import: fork safety */
void mp_set_caching(int on);          /* off: free every pooled block at once */
void mp_set_limit(size_t limit_bytes); /* evicts at once if the cache is over it */
void mp_trim(void);                   /* give every cached block back to malloc */
void mp_get_stats(mp_stats_t *out);
void mp_reset_counters(void);         /* hits, misses, evictions back to zero */

#endif
