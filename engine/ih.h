/*
 * ih.h: intrusive binary min-heap of pointers: each element stores its own index in the heap
 * (a size_t at pos_off inside it), so that remove and update need no search.
 *
 * Order: by the caller's strict `less`, passed to every call (always the same one for a heap).
 * Elements that compare equal leave in an order fixed by the sequence of operations alone (the
 * sift rules are part of the contract: callers whose keys tie, such as the replica's iteration
 * heap, get the same results run after run):
 *   push: append, sift up while strictly less than the parent;
 *   remove (pop is remove of the top): the last element fills the hole, sifts up, then down;
 *   down: take the right child only when strictly less than the left; stop unless the child is
 *         strictly less.
 * The operations are inline so that a constant `less` is inlined at each call site: through an
 * indirect call the heap was 15-40 % slower per op than the specialised heaps it replaces
 * (bench/bench_ih.c), inlined it is level with them.
 * Cost: O(log n) push, pop, remove, update; O(1) top.
 * Ownership: caller storage (ih_init / ih_fini); the heap borrows its elements, never frees them;
 * its array grows geometrically.
 * Errors: ih_push returns SIM_ENOMEM, heap unchanged, when the array cannot grow.
 */
#ifndef LENSIM_IH_H
#define LENSIM_IH_H

#include <stdbool.h>
#include <stddef.h>

#include "sim.h"

/* The sifts are forced inline where the compiler allows it: a constant `less` then becomes a
 * direct, inlined comparison (left to itself, GCC keeps ih_remove out of line and calls the
 * comparator through the pointer). */
#if defined(__GNUC__)
#define IH_INLINE static inline __attribute__((always_inline))
#else
#define IH_INLINE static inline
#endif

/* Does a come strictly before b? */
typedef bool (*ih_less_fn)(const void *a, const void *b);

struct ih {
    void **a;
    size_t n, cap;
    size_t pos_off; /* offsetof(element, its size_t position field) */
};

/* An empty heap over elements whose position lives at pos_off. Cannot fail. */
static inline void ih_init(struct ih *h, size_t pos_off) { *h = (struct ih){.pos_off = pos_off}; }
/* Frees the array, not the elements; h is empty after. */
void ih_fini(struct ih *h);

static inline size_t ih_size(const struct ih *h) { return h->n; }
/* The least element, or NULL when empty. */
static inline void *ih_top(const struct ih *h) { return h->n ? h->a[0] : NULL; }

/* Room for one more element. Returns 0 or SIM_ENOMEM (heap unchanged). */
int ih__reserve(struct ih *h);

IH_INLINE size_t *ih__pos(void *x, size_t pos_off)
{
    return (size_t *)(void *)((char *)x + pos_off);
}

/* The sifts work on locals: a store through the size_t position pointer may alias the heap's
 * own size_t fields, and re-reading them after every store costs about 20 % (bench_ih). */
IH_INLINE void ih__up(struct ih *h, size_t i, ih_less_fn less)
{
    void **a = h->a, *x = a[i];
    size_t off = h->pos_off;
    while (i > 0 && less(x, a[(i - 1) / 2])) {
        a[i] = a[(i - 1) / 2];
        *ih__pos(a[i], off) = i;
        i = (i - 1) / 2;
    }
    a[i] = x;
    *ih__pos(x, off) = i;
}

IH_INLINE void ih__down(struct ih *h, size_t i, ih_less_fn less)
{
    void **a = h->a, *x = a[i];
    size_t n = h->n, off = h->pos_off;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && less(a[c + 1], a[c]))
            c++;
        if (!less(a[c], x))
            break;
        a[i] = a[c];
        *ih__pos(a[i], off) = i;
        i = c;
    }
    a[i] = x;
    *ih__pos(x, off) = i;
}

IH_INLINE size_t ih__index(const struct ih *h, void *x)
{
    size_t i = *ih__pos(x, h->pos_off);
    SIM_ASSERT(i < h->n && h->a[i] == x);
    return i;
}

/* Insert x (not already inside). Returns 0 or SIM_ENOMEM (heap unchanged). */
IH_INLINE int ih_push(struct ih *h, void *x, ih_less_fn less)
{
    if (h->n == h->cap && ih__reserve(h))
        return SIM_ENOMEM;
    h->a[h->n] = x;
    ih__up(h, h->n++, less);
    return SIM_OK;
}

/* Remove x, which must be inside h (asserted). */
IH_INLINE void ih_remove(struct ih *h, void *x, ih_less_fn less)
{
    size_t i = ih__index(h, x);
    void  *last = h->a[--h->n];
    if (i < h->n) {
        h->a[i] = last;
        ih__up(h, i, less); /* it places last, whose position the down sift starts from */
        ih__down(h, *ih__pos(last, h->pos_off), less);
    }
}

/* Remove and return the least element, or NULL when empty. */
IH_INLINE void *ih_pop(struct ih *h, ih_less_fn less)
{
    void *x = ih_top(h);
    if (x)
        ih_remove(h, x, less);
    return x;
}

/* x's key changed: restore the order. x must be inside h (asserted). */
IH_INLINE void ih_update(struct ih *h, void *x, ih_less_fn less)
{
    ih__up(h, ih__index(h, x), less);
    ih__down(h, *ih__pos(x, h->pos_off), less);
}

/* Validate the order and every element's position field. Returns 0, or SIM_EINVARIANT with
 * the first violation in why (may be NULL). O(n). */
int ih_check(const struct ih *h, ih_less_fn less, struct sim_msg *why);

#endif
