/*
 * pool.h: fixed-size object pool (a free list over slabs), so the event loop does not call
 * malloc per event in steady state (R11).
 *
 * Cost: O(1) get and put; a slab of `per_slab` objects is allocated when the free list is empty,
 * so allocations grow with the peak number of live objects, not with the number of gets.
 * Ownership: the pool owns its slabs; pool_free releases every object, live or not.
 */
#ifndef LENSIM_POOL_H
#define LENSIM_POOL_H

#include <stddef.h>

typedef struct pool pool_t;

/* Returns an owned pool of objects of obj_size bytes (free with pool_free), or NULL. */
pool_t *pool_new(size_t obj_size, size_t per_slab);
void    pool_free(pool_t *p);
/* Returns an uninitialised object, or NULL when a new slab cannot be allocated. */
void *pool_get(pool_t *p);
/* Returns obj (from this pool) to the free list. Cannot fail. */
void pool_put(pool_t *p, void *obj);
/* Objects handed out and not yet returned. */
size_t pool_in_use(const pool_t *p);
/* Slabs allocated so far. */
size_t pool_slabs(const pool_t *p);

#endif
