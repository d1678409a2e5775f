/*
 * ihk.h: binary min-heap of pointers with their keys (issue 13): ih.h's heap, but each slot holds
 * the element's 64-bit key beside its pointer, so that a sift compares integers in the heap's own
 * array and never touches the elements: no comparator loads, and no position field written back
 * at each move (the replica's iteration heap spent 14 % of a conv_n50000 run in ih_remove).
 * Removing an element other than the top finds its slot by a scan instead (O(n): for heaps that
 * mostly pop, such as the replica's, where only a preemption removes from inside).
 * Order: by key, smaller first; the sift rules are ih.h's, so that elements of equal keys leave
 * in the same order as from an ih heap whose `less` is `key(a) < key(b)` given the same
 * operations (tests/test_ih.c runs both on one program and compares every pop):
 *   push: append, sift up while strictly less than the parent;
 *   remove (pop is remove of the top): the last element fills the hole, sifts up, then down;
 *   down: take the right child only when strictly less than the left; stop unless the child is
 *         strictly less.
 * An element's key is fixed while it is inside (ihk_update changes it).
 * Cost: O(log n) push and pop; O(n) remove and update of any element; O(1) top.
 * Ownership: caller storage (ihk_init / ihk_fini); borrows its elements; its array grows
 * geometrically. Errors: ihk_push returns SIM_ENOMEM, heap unchanged, when the array cannot grow.
 */
#ifndef LENSIM_IHK_H
#define LENSIM_IHK_H

#include <stddef.h>
#include <stdint.h>

#include "sim.h"

struct ihk_slot {
    uint64_t key;
    void    *x;
};

struct ihk {
    struct ihk_slot *a;
    size_t           n, cap;
};

/* An empty heap. Cannot fail. */
static inline void ihk_init(struct ihk *h) { *h = (struct ihk){0}; }
/* Frees the array, not the elements; h is empty after. */
void ihk_fini(struct ihk *h);

static inline size_t ihk_size(const struct ihk *h) { return h->n; }
/* The least element, or NULL when empty. */
static inline void *ihk_top(const struct ihk *h) { return h->n ? h->a[0].x : NULL; }
/* The least element's key; the heap must not be empty. */
static inline uint64_t ihk_top_key(const struct ihk *h) { return h->a[0].key; }

/* Room for one more element. Returns 0 or SIM_ENOMEM (heap unchanged). */
int ihk__reserve(struct ihk *h);

/* Both sifts return where the moving slot came to rest. */
static inline size_t ihk__up(struct ihk *h, size_t i)
{
    struct ihk_slot *a = h->a, s = a[i];
    while (i > 0 && s.key < a[(i - 1) / 2].key) {
        a[i] = a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    a[i] = s;
    return i;
}

static inline size_t ihk__down(struct ihk *h, size_t i)
{
    struct ihk_slot *a = h->a, s = a[i];
    size_t           n = h->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        /* The right child only when strictly less; written so the compiler may select without
         * a branch (which child is smaller is a coin toss a predictor cannot learn). */
        c += c + 1 < n && a[c + 1].key < a[c].key;
        if (!(a[c].key < s.key))
            break;
        a[i] = a[c];
        i = c;
    }
    a[i] = s;
    return i;
}

static inline size_t ihk__index(const struct ihk *h, const void *x)
{
    size_t i = 0;
    while (i < h->n && h->a[i].x != x)
        i++;
    SIM_ASSERT(i < h->n);
    return i;
}

/* Insert x (not already inside) with key. Returns 0 or SIM_ENOMEM (heap unchanged). */
static inline int ihk_push(struct ihk *h, void *x, uint64_t key)
{
    if (h->n == h->cap && ihk__reserve(h))
        return SIM_ENOMEM;
    h->a[h->n] = (struct ihk_slot){key, x};
    ihk__up(h, h->n++);
    return SIM_OK;
}

/* Remove the element in slot i < n: the last fills the hole, sifts up, then down. */
static inline void ihk__remove_at(struct ihk *h, size_t i)
{
    struct ihk_slot last = h->a[--h->n];
    if (i < h->n) {
        h->a[i] = last;
        ihk__down(h, ihk__up(h, i));
    }
}

/* Remove x, which must be inside h (asserted). O(n): a scan finds it. */
static inline void ihk_remove(struct ihk *h, const void *x) { ihk__remove_at(h, ihk__index(h, x)); }

/* Remove and return the least element, or NULL when empty. */
static inline void *ihk_pop(struct ihk *h)
{
    void *x = ihk_top(h);
    if (x)
        ihk__remove_at(h, 0);
    return x;
}

/* x's key becomes key: restore the order. x must be inside h (asserted). O(n). */
static inline void ihk_update(struct ihk *h, const void *x, uint64_t key)
{
    size_t i = ihk__index(h, x);
    h->a[i].key = key;
    ihk__down(h, ihk__up(h, i));
}

/* The key stored with x, which must be inside h (asserted). O(n). */
static inline uint64_t ihk_key(const struct ihk *h, const void *x)
{
    return h->a[ihk__index(h, x)].key;
}

/* Validate the order. Returns 0, or SIM_EINVARIANT with the first violation in why (may be
 * NULL). O(n). */
int ihk_check(const struct ihk *h, struct sim_msg *why);

#endif
