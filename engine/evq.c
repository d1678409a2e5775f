/* evq.c: construction and naming of the queue dispatcher (see evq.h). */
#include "evq.h"

#include <string.h>

int evq_kind_parse(const char *name, enum evq_kind *out)
{
    if (!strcmp(name, "calendar")) {
        *out = EVQ_CALENDAR;
        return SIM_OK;
    }
    if (!strcmp(name, "heap")) {
        *out = EVQ_HEAP;
        return SIM_OK;
    }
    return SIM_ECONFIG;
}

const char *evq_kind_name(enum evq_kind kind) { return kind == EVQ_HEAP ? "heap" : "calendar"; }

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
