/*
 * evq.h: one queue API over the two implementations (calendar queue, binary heap), chosen at
 * run time with `--queue calendar|heap`. The calls are the cq_/hq_ contracts, dispatched by a
 * switch the compiler can inline; both stamp seq identically, so the same pushes give the same
 * pop order whichever queue is used.
 */
#ifndef LENSIM_EVQ_H
#define LENSIM_EVQ_H

#include "choice.h"
#include "cq.h"
#include "hq.h"

enum evq_kind { EVQ_CALENDAR = 0, EVQ_HEAP = 1 };

/* Issue 13: the calendar kind holds its events in a binary heap while few are pending (with one
 * replica the engine has 2 or 3, where the calendar queue was 5 % slower than the heap) and moves
 * them into the calendar queue above EVQ_TO_CALENDAR pending, back below EVQ_TO_HEAP (the gap
 * between the two makes each O(n) move pay for itself over at least n operations). Both queues
 * order by (t, seq) and a move keeps every seq and continues the same stamp counter, so the pop
 * order is the calendar queue's, and the heap's, exactly. */
enum { EVQ_TO_CALENDAR = 64, EVQ_TO_HEAP = 16 };

struct evq {
    enum evq_kind kind;
    int           in_cq; /* calendar kind: the events are in cq (else in hq) */
    cq_t         *cq;    /* calendar kind, made at the first move */
    hq_t         *hq;
};

/* The queues' names and help (the schema's engine.queue), values enum evq_kind. */
extern const struct sim_choice evq_kind_choices[];
/* "calendar" or "heap". Cannot fail. */
const char *evq_kind_name(enum evq_kind kind);

/* Initialise q as an empty queue of the given kind. Returns 0 or SIM_ENOMEM. */
int evq_init(struct evq *q, enum evq_kind kind);
/* Free the queue (not its events). Safe on a zeroed or finished struct. */
void evq_fini(struct evq *q);
/* Move every event heap -> calendar queue / calendar queue -> heap (calendar kind). On failure
 * to allocate they stay where they are, which is as correct, only slower. */
void evq__to_cq(struct evq *q);
void evq__to_hq(struct evq *q);

static inline int evq_push(struct evq *q, struct ev *e)
{
    if (q->in_cq)
        return cq_push(q->cq, e);
    int rc = hq_push(q->hq, e);
    if (q->kind == EVQ_CALENDAR && hq_size(q->hq) > EVQ_TO_CALENDAR)
        evq__to_cq(q);
    return rc;
}
static inline struct ev *evq_pop(struct evq *q)
{
    if (!q->in_cq)
        return hq_pop(q->hq);
    struct ev *e = cq_pop(q->cq);
    if (cq_size(q->cq) < EVQ_TO_HEAP)
        evq__to_hq(q);
    return e;
}
static inline struct ev *evq_peek(struct evq *q)
{
    return q->in_cq ? cq_peek(q->cq) : hq_peek(q->hq);
}
static inline void evq_remove(struct evq *q, struct ev *e)
{
    if (!q->in_cq) {
        hq_remove(q->hq, e);
        return;
    }
    cq_remove(q->cq, e);
    if (cq_size(q->cq) < EVQ_TO_HEAP)
        evq__to_hq(q);
}
static inline size_t evq_size(const struct evq *q)
{
    return q->in_cq ? cq_size(q->cq) : hq_size(q->hq);
}
static inline int evq_check(const struct evq *q, struct sim_msg *why)
{
    return q->in_cq ? cq_check(q->cq, why) : hq_check(q->hq, why);
}

#endif
