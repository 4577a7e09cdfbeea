/*
 * Workspace of the calls (packed blocks, per-thread buffers), from a small
 * cache of blocks kept between calls.
 *
 * Why a cache: a threaded GEMM frees a few MB at once at its end; glibc
 * returns that top of the heap to the OS (trim), and the next call faults
 * the pages in again: about 40 page faults, 60 us of a 460 us product
 * (64x384 @ 384x1536 on 2 threads of a VM). The cache keeps up to
 * CACHE_SLOTS blocks, CACHE_MAX_BYTES in all; a block too large to fit
 * is freed. AddressSanitizer builds keep none, so that every use after
 * free is still seen (ThreadSanitizer builds keep them: it checks the lock).
 */
#include <stdint.h>
#include <stdlib.h>

#include "lmul_internal.h"

#if defined(__unix__) || defined(__APPLE__)
#  include <pthread.h>
#  define LMUL_WS_LOCKED 1
#else
#  define LMUL_WS_LOCKED 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#  define CACHE_SLOTS 0
#else
#  define CACHE_SLOTS 16
#endif
#define CACHE_MAX_BYTES ((size_t)64 << 20)
#define HEADER LMUL_WORKSPACE_ALIGN     /* the block's capacity, before it */

/* Test-only: LMUL_SIMD_TEST_FAIL_ALLOC=1 at load makes every workspace
 * allocation fail, so that the LMUL_ERR_NOMEM paths can be tested. */
static int fail_alloc;

static struct {
    char *block[CACHE_SLOTS > 0 ? CACHE_SLOTS : 1];
    int count;
    size_t bytes;                      /* their capacities, in all */
#if LMUL_WS_LOCKED
    pthread_mutex_t lock;
#endif
} cache = {
    .count = 0,
    .bytes = 0,
#if LMUL_WS_LOCKED
    .lock = PTHREAD_MUTEX_INITIALIZER,
#endif
};

static void cache_lock(void)
{
#if LMUL_WS_LOCKED
    pthread_mutex_lock(&cache.lock);
#endif
}

static void cache_unlock(void)
{
#if LMUL_WS_LOCKED
    pthread_mutex_unlock(&cache.lock);
#endif
}

#if CACHE_SLOTS > 0
static size_t capacity(const char *block) { return *(const size_t *)block; }

/* The smallest cached block of at least `bytes`, taken out of the cache. */
static char *cache_take(size_t bytes)
{
    int best = -1;
    cache_lock();
    for (int i = 0; i < cache.count; i++)
        if (capacity(cache.block[i]) >= bytes
            && (best < 0 || capacity(cache.block[i]) < capacity(cache.block[best])))
            best = i;
    char *block = NULL;
    if (best >= 0) {
        block = cache.block[best];
        cache.block[best] = cache.block[--cache.count];
        cache.bytes -= capacity(block);
    }
    cache_unlock();
    return block;
}

/* Keeps `block`; 0 when the cache is full (the caller frees it). */
static int cache_keep(char *block)
{
    int kept = 0;
    cache_lock();
    if (cache.count < CACHE_SLOTS && capacity(block) <= CACHE_MAX_BYTES - cache.bytes) {
        cache.block[cache.count++] = block;
        cache.bytes += capacity(block);
        kept = 1;
    }
    cache_unlock();
    return kept;
}
#else
static char *cache_take(size_t bytes)
{
    (void)bytes;
    return NULL;
}

static int cache_keep(char *block)
{
    (void)block;
    return 0;
}
#endif

void *lmul_workspace_alloc(size_t bytes)
{
    const size_t align = LMUL_WORKSPACE_ALIGN;
    if (fail_alloc || bytes > SIZE_MAX - 2 * align)
        return NULL;
    const size_t rounded = (bytes + align - 1) / align * align;
    char *block = cache_take(rounded);
    if (block == NULL) {
        block = aligned_alloc(align, rounded + HEADER);
        if (block == NULL)
            return NULL;
        *(size_t *)block = rounded;
    }
    return block + HEADER;
}

void lmul_workspace_free(void *mem)
{
    if (mem == NULL)
        return;
    char *block = (char *)mem - HEADER;
    if (!cache_keep(block))
        free(block);
}

/* The child of a fork() may have been forked while another thread held
 * the lock: it starts with a new one (the blocks stay valid). */
static void cache_after_fork_child(void)
{
#if LMUL_WS_LOCKED
    pthread_mutex_init(&cache.lock, NULL);
#endif
}

__attribute__((constructor)) static void lmul_workspace_init(void)
{
    const char *env = getenv("LMUL_SIMD_TEST_FAIL_ALLOC");
    fail_alloc = env != NULL && env[0] == '1';
#if LMUL_WS_LOCKED
    pthread_atfork(NULL, NULL, cache_after_fork_child);
#endif
}

__attribute__((destructor)) static void lmul_workspace_release(void)
{
    cache_lock();
    while (cache.count > 0)
        free(cache.block[--cache.count]);
    cache.bytes = 0;
    cache_unlock();
}
