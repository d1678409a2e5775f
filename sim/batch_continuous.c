/*
 * batch_continuous.c: continuous batching: iteration-level scheduling (ORCA, Yu et al.,
 * OSDI '22): at every iteration boundary finished requests leave and waiting ones join, as far
 * as batch slots, the token budget and KV memory allow.
 */
#include "replica_internal.h"

static void cont_done(struct replica *p, struct req *r, simtime_t now)
{
    replica__finish(p, r, now);
}

const struct batch_ops batch_continuous_ops = {
    .name = "continuous",
    .admit = replica__form_batch,
    .done = cont_done,
};
