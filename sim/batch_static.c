/*
 * batch_static.c: static batches (request-level scheduling, as in FasterTransformer; the SSJF
 * paper's "dynamic batching", Qiu et al. 2024): a batch forms when the engine is idle, once
 * max_batch requests wait or the oldest has waited max_wait_s, and runs until its longest member
 * finishes. Members that finish early keep their slot and memory, and keep decoding as padding.
 * `none` is the same rule with max_batch = 1.
 */
#include "replica_internal.h"

static void static_admit(struct replica *p, simtime_t now)
{
    if (p->n_run) /* a batch is running: admission opens when it ends */
        return;
    size_t want = p->cfg->max_batch;
    if (sched_len(p->q) < want && p->cfg->max_wait_s > 0) {
        simtime_t at = sched_front(p->q)->enq_ns + (simtime_t)(p->cfg->max_wait_s * SIM_NS_PER_S);
        if (now < at) {
            replica__timer_set(p, at);
            return;
        }
    }
    replica__timer_cancel(p);
    replica__form_batch(p, now);
    p->n_live = (uint32_t)p->n_run;
}

/* One member fewer is still generating; the batch ends with the last. */
static void member_gone(struct replica *p, simtime_t now)
{
    SIM_ASSERT(p->n_live > 0);
    if (--p->n_live == 0)
        while (p->n_run)
            replica__finish(p, p->run[p->n_run - 1], now);
}

/* Hold r's slot and memory until the batch's longest member is done. */
static void static_done(struct replica *p, struct req *r, simtime_t now)
{
    r->held = 1;
    if (r->decoding)
        p->n_pad++;
    member_gone(p, now);
}

const struct batch_ops batch_static_ops = {
    .name = "static",
    .admit = static_admit,
    .done = static_done,
    .left = member_gone, /* a preempted member waits for the next batch */
};
