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

#include "sim.h"

/* Returns owned memory (free with sim_free), or NULL when out of memory or when an injected
 * failure is due. sim_malloc(0) returns a valid unique pointer. */
void *sim_malloc(size_t n);
/* As sim_malloc, zero-filled; NULL also when n * size overflows. */
void *sim_calloc(size_t n, size_t size);
/* Resize p (which may be NULL). On failure returns NULL and leaves p valid and unchanged. */
void *sim_realloc(void *p, size_t n);
/* Grow an array geometrically: returns p reallocated to hold at least `need` elements of `size`
 * bytes and sets *cap, or returns p itself with *cap unchanged (< need) when out of memory.
 * Use it through SIM_GROW, which keeps the array's element type. */
void *sim_grow_array(void *p, size_t *cap, size_t need, size_t size);
/* Ensure the array `p` (an lvalue of type T *, with `cap` its capacity in elements, a size_t
 * lvalue) holds at least `need` elements. Evaluates to 0, or SIM_ENOMEM with p and cap unchanged.
 * The pointer is assigned as a value (void * to T *), never written through a `void **`, which
 * C11 6.5p7 forbids for a T * object. p and cap are evaluated more than once: no side effects. */
#define SIM_GROW(p, cap, need)                               \
    ((p) = sim_grow_array((p), &(cap), (need), sizeof *(p)), \
     (cap) >= (size_t)(need) ? SIM_OK : SIM_ENOMEM)
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
/* Start a new high-water mark: peak_bytes = live_bytes (a run measures its own peak from here,
 * whatever ran before it). Cannot fail. */
void sim_alloc_peak_reset(void);

/* Fail the nth allocation from now (1 = the next one) and every one after it, until
 * sim_alloc_fail_after(0) turns injection off. */
void sim_alloc_fail_after(uint64_t n);

#endif
