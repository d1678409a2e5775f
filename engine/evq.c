/* evq.c: construction and naming of the queue dispatcher (see evq.h). */
#include "evq.h"

const struct sim_choice evq_kind_choices[] = {
    {"calendar", EVQ_CALENDAR, "calendar queue (Brown 1988): O(1) amortised per event"},
    {"heap", EVQ_HEAP, "binary heap: O(log n) per event, the reference implementation"},
    {NULL, 0, NULL},
};

const char *evq_kind_name(enum evq_kind kind)
{
    const char *n = sim_choice_name(evq_kind_choices, (int)kind);
    SIM_ASSERT(n);
    return n;
}

int evq_init(struct evq *q, enum evq_kind kind)
{
    q->kind = kind;
    q->in_cq = 0;
    q->cq = NULL;
    return (q->hq = hq_new()) ? SIM_OK : SIM_ENOMEM;
}

void evq_fini(struct evq *q)
{
    cq_free(q->cq);
    hq_free(q->hq);
    q->cq = NULL;
    q->hq = NULL;
}

void evq__to_cq(struct evq *q)
{
    if (!q->cq && !(q->cq = cq_new(NULL)))
        return;
    cq_restart(q->cq, hq_next_seq(q->hq), hq_last_t(q->hq));
    struct ev *e;
    while ((e = hq_pop(q->hq)))
        cq_push_stamped(q->cq, e); /* cannot fail */
    q->in_cq = 1;
}

void evq__to_hq(struct evq *q)
{
    if (hq_reserve(q->hq, cq_size(q->cq)))
        return;
    hq_restart(q->hq, cq_next_seq(q->cq), cq_last_t(q->cq));
    struct ev *e;
    while ((e = cq_pop(q->cq)))
        hq_push_stamped(q->hq, e); /* room reserved: cannot fail */
    q->in_cq = 0;
}
