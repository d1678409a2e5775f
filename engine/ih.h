/*
 * ih.h: intrusive binary min-heap of pointers: each element stores its own index in the heap
 * (a size_t at pos_off inside it), so that remove and update need no search.
 *
 * Order: by the caller's strict `less`. Elements that compare equal leave in an order fixed by
 * the operations' sequence alone (the sift rules below are part of the contract: callers whose
 * keys tie, such as the replica's iteration heap, get the same results run after run):
 *   push: append, sift up while strictly less than the parent;
 *   pop/remove: the last element fills the hole, sifts up, then down;
 *   down: take the right child only when strictly less than the left; stop unless the child is
 *         strictly less.
 * Cost: O(log n) push, pop, remove, update; O(1) top. One indirect call per comparison.
 * Ownership: caller storage (ih_init / ih_fini); the heap borrows its elements, never frees them;
 * its array grows geometrically.
 * Errors: ih_push returns SIM_ENOMEM, heap unchanged, when the array cannot grow.
 */
#ifndef LENSIM_IH_H
#define LENSIM_IH_H

#include <stdbool.h>
#include <stddef.h>

#include "sim.h"

/* Does a come strictly before b? */
typedef bool (*ih_less_fn)(const void *a, const void *b);

struct ih {
    void     **a;
    size_t     n, cap;
    ih_less_fn less;
    size_t     pos_off; /* offsetof(element, its size_t position field) */
};

/* An empty heap ordered by less over elements whose position lives at pos_off. Cannot fail. */
void ih_init(struct ih *h, ih_less_fn less, size_t pos_off);
/* Frees the array, not the elements. */
void ih_fini(struct ih *h);

/* Insert x (not already inside). Returns 0 or SIM_ENOMEM (heap unchanged). */
int   ih_push(struct ih *h, void *x);
/* The least element, or NULL when empty. */
void *ih_top(const struct ih *h);
/* Remove and return the least element, or NULL when empty. */
void *ih_pop(struct ih *h);
/* Remove x, which must be inside h (asserted). */
void  ih_remove(struct ih *h, void *x);
/* x's key changed: restore the order. x must be inside h (asserted). */
void  ih_update(struct ih *h, void *x);

static inline size_t ih_size(const struct ih *h) { return h->n; }

/* Validate the order and every element's position field. Returns 0, or SIM_EINVARIANT with
 * the first violation in why (may be NULL). O(n). */
int ih_check(const struct ih *h, struct sim_msg *why);

#endif
