/* pool.c: slab free-list allocator (see pool.h). */
#include "pool.h"

#include <stdalign.h>

#include "alloc.h"
#include "sim.h"

struct slab {
    struct slab *next;
    alignas(max_align_t) unsigned char mem[];
};

union free_obj {
    union free_obj *next;
    max_align_t     align;
};

struct pool {
    size_t          obj_size; /* rounded up to keep objects aligned */
    size_t          per_slab;
    struct slab    *slabs;
    union free_obj *free;
    size_t          in_use, n_slabs;
};

pool_t *pool_new(size_t obj_size, size_t per_slab)
{
    SIM_ASSERT(per_slab > 0);
    pool_t *p = sim_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    size_t a = alignof(max_align_t);
    p->obj_size = (obj_size < sizeof(union free_obj) ? sizeof(union free_obj) : obj_size);
    p->obj_size = (p->obj_size + a - 1) / a * a;
    p->per_slab = per_slab;
    return p;
}

void pool_free(pool_t *p)
{
    if (!p)
        return;
    while (p->slabs) {
        struct slab *s = p->slabs;
        p->slabs = s->next;
        sim_free(s);
    }
    sim_free(p);
}

void *pool_get(pool_t *p)
{
    if (!p->free) {
        struct slab *s = sim_malloc(sizeof *s + p->obj_size * p->per_slab);
        if (!s)
            return NULL;
        s->next = p->slabs;
        p->slabs = s;
        p->n_slabs++;
        for (size_t i = p->per_slab; i-- > 0;) {
            union free_obj *o = (union free_obj *)(s->mem + i * p->obj_size);
            o->next = p->free;
            p->free = o;
        }
    }
    union free_obj *o = p->free;
    p->free = o->next;
    p->in_use++;
    return o;
}

void pool_put(pool_t *p, void *obj)
{
    SIM_ASSERT(p->in_use > 0);
    union free_obj *o = obj;
    o->next = p->free;
    p->free = o;
    p->in_use--;
}

size_t pool_in_use(const pool_t *p) { return p->in_use; }
size_t pool_slabs(const pool_t *p) { return p->n_slabs; }
