/* mempool.c -- a caching allocator for NumPy array data.
 *
 * WHY
 * One GPT training step (4 layers x 128 wide, batch 12 x 64) makes hundreds of
 * temporary arrays of 0.1-2 MB -- activations, their gradients, attention scores --
 * and frees them again a few milliseconds later. NumPy's default allocator hands
 * each one to glibc malloc, and glibc gives the memory back to the kernel:
 *   * a request of at least M_MMAP_THRESHOLD (128 KiB at start, raised at run time
 *     up to 32 MiB) gets its own mmap(), and free() munmap()s it;
 *   * a smaller one comes from the heap, and free() shrinks the heap (brk) again
 *     once more than M_TRIM_THRESHOLD is free at its top.
 * The next array of the same size then gets *fresh* pages, and the first write
 * to every 4 KiB page is a minor page fault: the kernel stops us, zero-fills a
 * page and maps it. A 1 MB array costs 256 of them, and a training step makes
 * thousands: a share of its time worth saving (benchmarks/). (MALLOC_MMAP_THRESHOLD_=... and
 * MALLOC_TRIM_THRESHOLD_=... in the environment switch that glibc behaviour off
 * for the whole process; this file fixes it for array data only, and says so
 * in its counters.)
 *
 * PyTorch has the same problem on the GPU, where cudaMalloc/cudaFree are slow
 * and synchronise the device. Its caching allocator (c10/cuda/CUDACachingAllocator)
 * rounds each request up to a size class, keeps freed blocks in pools instead of
 * returning them, hands a cached block to the next request that fits, and gives
 * everything back on torch.cuda.empty_cache(). We do the same for host memory.
 *
 * HOW
 *   * Small blocks (< MP_MIN_BLOCK = 64 KiB) and huge ones (> MP_MAX_BLOCK) go
 *     straight to malloc/free ("direct" blocks).
 *   * Every other request is rounded up to whole pages (head included): that is
 *     its size class. free() does not return the block; it pushes it on its
 *     class's free list. malloc() of the same class pops the most recently freed
 *     block (LIFO: its pages are the most likely to still be in cache) -- a hit.
 *     An empty list is a miss: we ask malloc for a new block.
 *   * The cache is capped (MP_DEFAULT_LIMIT = 256 MiB, mp_set_limit). When a
 *     freed block would push it over, the oldest cached blocks are evicted (really
 *     freed) first: every cached block is also on one list ordered by age.
 *   * realloc() must know how big the old block is (NumPy does not tell us), so
 *     each block carries a 16-byte header just before the pointer NumPy gets:
 *     its capacity and its kind (direct or pooled). A pooled block starts with a
 *     64-byte head (list links + header) and is itself 64-byte aligned, so the
 *     data NumPy sees is 64-byte aligned too (one cache line, one AVX-512 load).
 *     Direct blocks keep malloc's 16-byte alignment, like NumPy's own allocator.
 *   * NumPy may allocate and free from several threads at once, so the lists and
 *     counters are guarded by one mutex. malloc/free themselves, and memset, run
 *     outside it; the pool never calls into Python, so it cannot deadlock with
 *     the GIL.
 *
 * Layout of a pooled block (P pages):
 *
 *   base (64-aligned)                          base + 64 = what NumPy gets
 *   | links (32) | unused (16) | header (16) | data ... capacity = P*4096 - 64 |
 *
 * A direct block:   base | header (16) | data ... capacity = requested size |
 */
#define _POSIX_C_SOURCE 200809L /* posix_memalign under -std=c11 */
#include "mempool.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- block layout */

/* Two odd numbers: a pointer whose header holds neither was not allocated here. */
enum { MP_DIRECT = 0x6d70d1ec, MP_POOLED = 0x6d70b001 };

typedef struct {
    size_t capacity; /* usable bytes from the data pointer on */
    size_t kind;     /* MP_DIRECT or MP_POOLED */
} mp_header;

typedef struct mp_block {
    /* used only while the block waits in the cache: */
    struct mp_block *newer_same, *older_same; /* its size class's free list */
    struct mp_block *newer, *older;           /* all cached blocks, by age */
    char unused[16];
    mp_header header; /* right before the data, like a direct block's */
} mp_block;

_Static_assert(sizeof(mp_header) == 16, "the header keeps malloc's 16-byte alignment");
_Static_assert(sizeof(mp_block) == 64, "the head keeps the data 64-byte aligned");

#define MP_NCLASSES (MP_MAX_BLOCK / MP_PAGE + 1) /* size class = number of pages */

static int is_pooled_size(size_t size) {
    return size >= MP_MIN_BLOCK && size <= MP_MAX_BLOCK - sizeof(mp_block);
}

static size_t pages_for(size_t size) { /* head + data, rounded up to pages */
    return (size + sizeof(mp_block) + MP_PAGE - 1) / MP_PAGE;
}

static mp_header *header_of(void *data) {
    mp_header *h = (mp_header *)((char *)data - sizeof(mp_header));
    if (h->kind != MP_DIRECT && h->kind != MP_POOLED) {
        fprintf(stderr, "tinygrad_edu mempool: %p was not allocated by the pool\n", data);
        abort(); /* a wild pointer or a corrupted heap: stop before it spreads */
    }
    return h;
}

static mp_block *block_of(void *data) { return (mp_block *)((char *)data - sizeof(mp_block)); }
static void *data_of(mp_block *b) { return (char *)b + sizeof(mp_block); }
static size_t block_bytes(const mp_block *b) { return b->header.capacity + sizeof(mp_block); }

/* ---------------------------------------------------------------- the pool */

typedef struct {
    mp_block *newest, *oldest;
} mp_list;

static struct {
    pthread_mutex_t lock; /* guards everything below */
    mp_list by_size[MP_NCLASSES];
    mp_block *newest, *oldest; /* every cached block, by age */
    size_t limit, cached_bytes, cached_blocks, in_use_bytes;
    size_t hits, misses, evictions;
    int caching;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .limit = MP_DEFAULT_LIMIT, .caching = 1};

/* Put a freed block at the newest end of its class list and of the age list. */
static void cache_push(mp_block *b) {
    mp_list *cls = &pool.by_size[block_bytes(b) / MP_PAGE];
    b->newer_same = NULL;
    b->older_same = cls->newest;
    if (cls->newest) cls->newest->newer_same = b; else cls->oldest = b;
    cls->newest = b;
    b->newer = NULL;
    b->older = pool.newest;
    if (pool.newest) pool.newest->newer = b; else pool.oldest = b;
    pool.newest = b;
    pool.cached_bytes += block_bytes(b);
    pool.cached_blocks += 1;
}

/* Unlink a cached block from both lists (it is about to be reused or freed). */
static void cache_remove(mp_block *b) {
    mp_list *cls = &pool.by_size[block_bytes(b) / MP_PAGE];
    if (b->newer_same) b->newer_same->older_same = b->older_same; else cls->newest = b->older_same;
    if (b->older_same) b->older_same->newer_same = b->newer_same; else cls->oldest = b->newer_same;
    if (b->newer) b->newer->older = b->older; else pool.newest = b->older;
    if (b->older) b->older->newer = b->newer; else pool.oldest = b->newer;
    pool.cached_bytes -= block_bytes(b);
    pool.cached_blocks -= 1;
}

/* Take the oldest cached blocks out until at most `target` bytes stay cached.
   Returns them chained through `older`: the caller frees them after unlocking
   (free of a big block is a munmap system call; no need to hold the lock for it). */
static mp_block *take_oldest_until(size_t target, size_t *count) {
    mp_block *out = NULL;
    *count = 0;
    while (pool.cached_bytes > target && pool.oldest) {
        mp_block *b = pool.oldest;
        cache_remove(b);
        b->older = out;
        out = b;
        *count += 1;
    }
    return out;
}

static void free_chain(mp_block *b) {
    while (b) {
        mp_block *next = b->older;
        free(b);
        b = next;
    }
}

/* ---------------------------------------------------------------- direct blocks */

static void *direct_alloc(size_t size, int zeroed) {
    if (size > SIZE_MAX - sizeof(mp_header)) return NULL;
    size_t total = sizeof(mp_header) + size;
    mp_header *h = zeroed ? calloc(1, total) : malloc(total);
    if (!h) return NULL;
    h->capacity = size;
    h->kind = MP_DIRECT;
    return (char *)h + sizeof(mp_header);
}

/* ---------------------------------------------------------------- the NumPy interface */

void *mp_malloc(void *ctx, size_t size) {
    (void)ctx;
    if (!is_pooled_size(size)) return direct_alloc(size, 0);
    size_t pages = pages_for(size);

    pthread_mutex_lock(&pool.lock);
    mp_block *b = pool.by_size[pages].newest; /* LIFO: the most recently freed */
    if (b) {
        cache_remove(b);
        pool.hits += 1;
        pool.in_use_bytes += block_bytes(b);
    }
    pthread_mutex_unlock(&pool.lock);
    if (b) return data_of(b);

    /* A miss: a new block from malloc, 64-byte aligned. */
    void *base = NULL;
    if (posix_memalign(&base, 64, pages * MP_PAGE) != 0) return NULL;
    b = base;
    b->header.capacity = pages * MP_PAGE - sizeof(mp_block);
    b->header.kind = MP_POOLED;
    pthread_mutex_lock(&pool.lock);
    pool.misses += 1;
    pool.in_use_bytes += block_bytes(b);
    pthread_mutex_unlock(&pool.lock);
    return data_of(b);
}

void *mp_calloc(void *ctx, size_t nelem, size_t elsize) {
    if (elsize != 0 && nelem > SIZE_MAX / elsize) return NULL; /* nelem * elsize overflows */
    size_t size = nelem * elsize;
    if (!is_pooled_size(size)) return direct_alloc(size, 1); /* calloc's zero pages stay lazy */
    void *data = mp_malloc(ctx, size);
    if (data) memset(data, 0, size); /* a reused block holds an old array's numbers */
    return data;
}

void mp_free(void *ctx, void *data, size_t size) {
    (void)ctx;
    (void)size; /* NumPy's idea of the size; the header knows the capacity */
    if (!data) return;
    if (header_of(data)->kind == MP_DIRECT) {
        free((char *)data - sizeof(mp_header));
        return;
    }
    mp_block *b = block_of(data);
    size_t bytes = block_bytes(b), nevicted = 0;
    mp_block *evicted = NULL;

    pthread_mutex_lock(&pool.lock);
    pool.in_use_bytes -= bytes;
    if (pool.caching && bytes <= pool.limit) {
        evicted = take_oldest_until(pool.limit - bytes, &nevicted); /* make room */
        pool.evictions += nevicted;
        cache_push(b);
        b = NULL;
    }
    pthread_mutex_unlock(&pool.lock);

    free_chain(evicted);
    free(b); /* not cached (caching off, or bigger than the whole cache): NULL if cached */
}

void *mp_realloc(void *ctx, void *data, size_t new_size) {
    if (!data) return mp_malloc(ctx, new_size);
    mp_header *h = header_of(data);

    /* Direct to direct: libc's realloc can often grow or shrink in place. */
    if (h->kind == MP_DIRECT && !is_pooled_size(new_size)) {
        if (new_size > SIZE_MAX - sizeof(mp_header)) return NULL;
        mp_header *moved = realloc(h, sizeof(mp_header) + new_size); /* copies the header */
        if (!moved) return NULL;
        moved->capacity = new_size;
        return (char *)moved + sizeof(mp_header);
    }
    /* Pooled, and the new size is in the same size class: the block already fits. */
    if (h->kind == MP_POOLED && is_pooled_size(new_size) &&
        pages_for(new_size) * MP_PAGE == block_bytes(block_of(data)))
        return data;

    /* Otherwise move: new block, copy what both hold, free the old one. */
    void *fresh = mp_malloc(ctx, new_size);
    if (!fresh) return NULL; /* like realloc: the old block is still valid */
    memcpy(fresh, data, h->capacity < new_size ? h->capacity : new_size);
    mp_free(ctx, data, h->capacity);
    return fresh;
}

/* ---------------------------------------------------------------- control */

/* fork() copies only the calling thread: if another thread held the lock at that
   moment, the child would wait for it forever. So hold it across fork(). */
static void lock_pool(void) { pthread_mutex_lock(&pool.lock); }
static void unlock_pool(void) { pthread_mutex_unlock(&pool.lock); }
static void register_fork_handlers(void) { pthread_atfork(lock_pool, unlock_pool, unlock_pool); }

void mp_init(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_fork_handlers);
}

void mp_set_limit(size_t limit_bytes) {
    size_t nevicted;
    pthread_mutex_lock(&pool.lock);
    pool.limit = limit_bytes;
    mp_block *evicted = take_oldest_until(limit_bytes, &nevicted);
    pool.evictions += nevicted;
    pthread_mutex_unlock(&pool.lock);
    free_chain(evicted);
}

void mp_trim(void) {
    size_t n;
    pthread_mutex_lock(&pool.lock);
    mp_block *all = take_oldest_until(0, &n);
    pthread_mutex_unlock(&pool.lock);
    free_chain(all);
}

void mp_set_caching(int on) {
    pthread_mutex_lock(&pool.lock);
    pool.caching = on != 0;
    pthread_mutex_unlock(&pool.lock);
    if (!on) mp_trim();
}

void mp_get_stats(mp_stats_t *out) {
    pthread_mutex_lock(&pool.lock);
    out->hits = pool.hits;
    out->misses = pool.misses;
    out->evictions = pool.evictions;
    out->cached_bytes = pool.cached_bytes;
    out->cached_blocks = pool.cached_blocks;
    out->in_use_bytes = pool.in_use_bytes;
    out->limit_bytes = pool.limit;
    out->caching = pool.caching;
    pthread_mutex_unlock(&pool.lock);
}

void mp_reset_counters(void) {
    pthread_mutex_lock(&pool.lock);
    pool.hits = pool.misses = pool.evictions = 0;
    pthread_mutex_unlock(&pool.lock);
}
