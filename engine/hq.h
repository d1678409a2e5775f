/*
 * hq.h: binary min-heap of pending events, the calendar queue's twin (same contract as cq.h).
 *
 * It is the test oracle for the calendar queue and the `--queue heap` fallback.
 * Order: strictly by (t_ns, seq); seq is stamped by hq_push, so equal times pop FIFO.
 * Cost: O(log n) push, pop and remove; O(1) peek. Keys are kept inline in the array for locality;
 * each event's ev->link.pos is its index, so removal needs no search.
 * Ownership: never allocates or frees events; the array grows geometrically.
 * Errors: hq_push returns SIM_ENOMEM, with the heap unchanged, when the array cannot grow.
 * Pushing t < the last popped time, or t > SIM_T_MAX, is a programmer error (SIM_ASSERT).
 */
#ifndef LENSIM_HQ_H
#define LENSIM_HQ_H

#include <stddef.h>

#include "ev.h"
#include "sim.h"

typedef struct hq hq_t;

/* Returns an owned empty heap (free with hq_free), or NULL when out of memory. */
hq_t *hq_new(void);
/* Frees the heap, not the events still inside it. NULL is a no-op. */
void hq_free(hq_t *q);

/* Insert e, stamping e->seq. Returns 0 or SIM_ENOMEM (e not inserted, seq not consumed). */
int hq_push(hq_t *q, struct ev *e);
/* Remove and return the earliest event, or NULL when empty. */
struct ev *hq_pop(hq_t *q);
/* Hand-over between queues (issue 13), as in cq.h: insert keeping e->seq (below the next stamp;
 * 0 or SIM_ENOMEM); room for n events without growing (0 or SIM_ENOMEM); on an empty heap only,
 * continue another queue's clock. */
int       hq_push_stamped(hq_t *q, struct ev *e);
int       hq_reserve(hq_t *q, size_t n);
void      hq_restart(hq_t *q, uint64_t next_seq, simtime_t last_t);
uint64_t  hq_next_seq(const hq_t *q);
simtime_t hq_last_t(const hq_t *q);
/* Return the earliest event without removing it, or NULL when empty. */
struct ev *hq_peek(hq_t *q);
/* Remove e, which must be inside q (asserted). */
void   hq_remove(hq_t *q, struct ev *e);
size_t hq_size(const hq_t *q);

/* Validate the heap order, the inline keys, the back-pointers and the last-popped bound.
 * Returns 0, or SIM_EINVARIANT with the first violation in why (may be NULL). O(n). */
int hq_check(const hq_t *q, struct sim_msg *why);

#endif
