/*
 * alloc.h: the one allocator every lensim module uses (R11).
 *
 * It counts calls and live bytes (reported in run manifests and by tests that look for leaks)
 * and can be told to fail the Nth allocation from now, so that tests walk every error path (R9).
 * Blocks carry a small header holding their size; they must be released with sim_free, never
 * with free(). Not thread-safe: the simulator is single-threaded by design.
 */
#ifndef LENSIM_ALLOC_H
#define LENSIM_ALLOC_H

#include <stddef.h>
#include <stdint.h>

/* Returns owned memory (free with sim_free), or NULL when out of memory or when an injected
 * failure is due. sim_malloc(0) returns a valid unique pointer. */
void *sim_malloc(size_t n);
/* As sim_malloc, zero-filled; NULL also when n * size overflows. */
void *sim_calloc(size_t n, size_t size);
/* Resize p (which may be NULL). On failure returns NULL and leaves p valid and unchanged. */
void *sim_realloc(void *p, size_t n);
/* Grow an array geometrically: ensures *cap >= need (elements of `size` bytes) reallocating *p.
 * Returns 0, or SIM_ENOMEM with *p and *cap unchanged. */
int sim_grow(void **p, size_t *cap, size_t need, size_t size);
/* Returns an owned copy of s (free with sim_free), or NULL. */
char *sim_strdup(const char *s);
/* Release p; NULL is a no-op. */
void sim_free(void *p);

struct sim_alloc_stats {
    uint64_t calls;      /* successful allocations since start */
    uint64_t live;       /* blocks not yet freed */
    size_t   live_bytes; /* bytes in those blocks */
    size_t   peak_bytes; /* maximum of live_bytes so far */
};
struct sim_alloc_stats sim_alloc_stats(void);

/* Fail the nth allocation from now (1 = the next one) and every one after it, until
 * sim_alloc_fail_after(0) turns injection off. */
void sim_alloc_fail_after(uint64_t n);

#endif
