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
    if (kind == EVQ_CALENDAR)
        return (q->u.cq = cq_new(NULL)) ? SIM_OK : SIM_ENOMEM;
    return (q->u.hq = hq_new()) ? SIM_OK : SIM_ENOMEM;
}

void evq_fini(struct evq *q)
{
    if (q->kind == EVQ_CALENDAR)
        cq_free(q->u.cq);
    else
        hq_free(q->u.hq);
    q->u.cq = NULL;
}
