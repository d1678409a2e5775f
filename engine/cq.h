/*
 * cq.h: calendar queue of pending events (R. Brown, CACM 31(10), 1988).
 *
 * Order: strictly by (t_ns, seq); seq is stamped by cq_push, so equal times pop FIFO.
 * Structure: 2^k buckets of integer width w ns; an event at t lives in bucket (t / w) mod 2^k,
 * each bucket a list sorted by key with a tail pointer (so bursts of equal times append in O(1)).
 * Cost: O(1) amortised push/pop when gaps are smooth; O(n) per resize (doubling when size > N,
 * halving when size < N/4 - 2); O(N) direct search when the next event lies more than one
 * "year" (N * w) ahead of the scan cursor; cq_remove is O(bucket length).
 * Ownership: links events through ev->link.cq; never allocates or frees events.
 * Errors: cq_push cannot fail (a failed resize keeps the current calendar, which stays correct).
 * Pushing t < the last popped time, or t > SIM_T_MAX, is a programmer error (SIM_ASSERT).
 */
#ifndef LENSIM_CQ_H
#define LENSIM_CQ_H

#include <stddef.h>

#include "ev.h"
#include "sim.h"

typedef struct cq cq_t;

struct cq_opts {
    size_t    nb_max; /* cap on the bucket count, a power of two >= 2; 0 = CQ_NB_MAX */
    simtime_t width0; /* initial bucket width in ns; 0 = CQ_WIDTH_INIT */
};

/* Returns an owned empty queue (free with cq_free), or NULL when out of memory. opts may be NULL. */
cq_t *cq_new(const struct cq_opts *opts);
/* Frees the queue, not the events still inside it. NULL is a no-op. */
void cq_free(cq_t *q);

/* Insert e, stamping e->seq. Borrows e until it is popped or removed. Returns 0. */
int cq_push(cq_t *q, struct ev *e);
/* Remove and return the earliest event, or NULL when empty. */
struct ev *cq_pop(cq_t *q);
/* Return the earliest event without removing it, or NULL when empty. */
struct ev *cq_peek(cq_t *q);
/* Remove e, which must be inside q (asserted). */
void   cq_remove(cq_t *q, struct ev *e);
size_t cq_size(const cq_t *q);

/* Validate every invariant: size equals the sum of bucket lengths; each bucket is sorted by key
 * and holds only events that hash to it; tails are right; no event precedes the last popped time
 * or the scan cursor's window; seqs are below the next stamp. Returns 0, or SIM_EINVARIANT with the
 * first violation described in why (may be NULL). O(size + buckets). */
int cq_check(const cq_t *q, struct sim_msg *why);

/* Hand-over between queues (issue 13: evq keeps few events in a heap, many in a calendar).
 * cq_push_stamped inserts e keeping its seq (which must be below the next stamp). cq_restart,
 * on an empty queue only (asserted), sets the next stamp and the last popped time, so that the
 * queue continues another queue's clock; the learnt width and bucket count are kept. */
int       cq_push_stamped(cq_t *q, struct ev *e);
void      cq_restart(cq_t *q, uint64_t next_seq, simtime_t last_t);
uint64_t  cq_next_seq(const cq_t *q);
simtime_t cq_last_t(const cq_t *q);

struct cq_stats {
    size_t    n_buckets;
    simtime_t width_ns;
    uint64_t  n_resize;
    uint64_t  n_direct_search;
};
struct cq_stats cq_stats(const cq_t *q);

#endif
