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

struct evq {
    enum evq_kind kind;
    union {
        cq_t *cq;
        hq_t *hq;
    } u;
};

/* The queues' names and help (the schema's engine.queue), values enum evq_kind. */
extern const struct sim_choice evq_kind_choices[];
/* "calendar" or "heap". Cannot fail. */
const char *evq_kind_name(enum evq_kind kind);

/* Initialise q as an empty queue of the given kind. Returns 0 or SIM_ENOMEM. */
int evq_init(struct evq *q, enum evq_kind kind);
/* Free the queue (not its events). Safe on a zeroed or finished struct. */
void evq_fini(struct evq *q);

static inline int evq_push(struct evq *q, struct ev *e)
{
    return q->kind == EVQ_CALENDAR ? cq_push(q->u.cq, e) : hq_push(q->u.hq, e);
}
static inline struct ev *evq_pop(struct evq *q)
{
    return q->kind == EVQ_CALENDAR ? cq_pop(q->u.cq) : hq_pop(q->u.hq);
}
static inline struct ev *evq_peek(struct evq *q)
{
    return q->kind == EVQ_CALENDAR ? cq_peek(q->u.cq) : hq_peek(q->u.hq);
}
static inline void evq_remove(struct evq *q, struct ev *e)
{
    if (q->kind == EVQ_CALENDAR)
        cq_remove(q->u.cq, e);
    else
        hq_remove(q->u.hq, e);
}
static inline size_t evq_size(const struct evq *q)
{
    return q->kind == EVQ_CALENDAR ? cq_size(q->u.cq) : hq_size(q->u.hq);
}
static inline int evq_check(const struct evq *q, struct sim_msg *why)
{
    return q->kind == EVQ_CALENDAR ? cq_check(q->u.cq, why) : hq_check(q->u.hq, why);
}

#endif
