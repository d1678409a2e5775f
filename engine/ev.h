/*
 * ev.h: the event record shared by the queues (cq, hq) and the event loop (eng).
 *
 * Order: events are totally ordered by the key (t_ns, seq); seq is stamped by the queue's push,
 * so equal times pop first-in first-out. A queue owns `link` while the event is inside it and
 * never allocates or frees events; the event loop takes them from a pool (pool.h).
 */
#ifndef LENSIM_EV_H
#define LENSIM_EV_H

#include <stdbool.h>
#include <stdint.h>

#include "sim.h"

struct ev {
    simtime_t t_ns; /* when it fires */
    uint64_t  seq;  /* tie-breaker, stamped at push */
    union {
        struct {
            struct ev *next;   /* successor in the bucket */
            simtime_t  next_t; /* its time, so that pops and inserts need not load it */
        } cq;                  /* calendar queue */
        size_t pos;            /* heap: index in the array */
    } link;
    uint32_t type;  /* meaning chosen by the layer above; indexes the engine's handler table */
    uint32_t flags; /* EV_F_* */
    void    *data;  /* payload, borrowed */
    uint64_t arg;   /* payload, by value */
};

enum ev_flag {
    EV_F_QUEUED = 1u << 0 /* inside a queue (set and cleared by the engine) */
};

/* The key order: does a come strictly before b? */
static inline bool ev_before(const struct ev *a, const struct ev *b)
{
    return a->t_ns < b->t_ns || (a->t_ns == b->t_ns && a->seq < b->seq);
}

#endif
