/*
 * cost.h: the executor's clock: how long one iteration of a replica takes, from the perf profile
 * (calib/profile.h), plus the memory facts the replica needs. A thin layer so that the replica
 * does not care whether the profile was measured or analytic.
 */
#ifndef LENSIM_COST_H
#define LENSIM_COST_H

#include <math.h>

#include "profile.h"
#include "sim.h"

struct cost {
    struct cal_profile prof;
    double             swap_bw; /* host link bytes/s, for swapping KV out and in */
};

/* Iteration time in ns (at least 1) for a batch, plus `extra_s` seconds of other work. */
static inline simtime_t cost_iter_ns(const struct cost *c, const struct cal_batch *b,
                                     double extra_s)
{
    double s = cal_profile_latency(&c->prof, b) + extra_s;
    double ns = s * (double)SIM_NS_PER_S;
    return ns < 1 ? 1 : (simtime_t)llround(ns);
}

/* Seconds to move `tokens` of KV cache over the host link (one way). */
static inline double cost_swap_s(const struct cost *c, double tokens)
{
    return c->swap_bw > 0 ? tokens * c->prof.kv_bytes_per_token / c->swap_bw : 0.0;
}

#endif
