/* exec_model.c: the model clock, the executor whose time is the perf profile's (see exec.h). */
#include "exec.h"

#include <math.h>

static int model_iter_ns(void *self, const struct exec_batch *b, simtime_t *out,
                         struct sim_msg *why)
{
    const struct cost *c = self;
    double             lat = cal_profile_latency(&c->prof, &b->agg), s = lat + b->extra_s;
    double             ns = s * (double)SIM_NS_PER_S;
    const char        *cause = isfinite(b->extra_s) && b->extra_s * SIM_NS_PER_S <= SIM_T_MAX
                                   ? "check the perf profile's latency coefficients"
                                   : "the swap traffic crosses hardware.host_bw_gbps";
    if (isnan(lat) || isnan(b->extra_s))
        return sim_msg_set(why, SIM_ECONFIG,
                           "an iteration's time is not a number (perf profile latency %g s, "
                           "swap traffic %g s): %s",
                           lat, b->extra_s, cause);
    if (!(lat > 0)) /* then s > 0 too: swap traffic is never negative */
        return sim_msg_set(why, SIM_ECONFIG,
                           "the perf profile's latency is not positive (%g s) for a batch of %g "
                           "decodes over %g tokens of context and %g prompt tokens: check its "
                           "coefficients",
                           lat, b->agg.decode_seqs, b->agg.decode_ctx, b->agg.prefill_tok);
    if (!(ns <= (double)SIM_T_MAX))
        return sim_msg_set(why, SIM_ECONFIG,
                           "an iteration of %g s (perf profile latency %g s + swap traffic %g s) "
                           "is past the simulator's time limit of %.0f s (2^62 ns): %s",
                           s, lat, b->extra_s, (double)SIM_T_MAX / SIM_NS_PER_S, cause);
    *out = ns < 1 ? 1 : (simtime_t)llround(ns);
    return SIM_OK;
}

/* A recomputation is a prefill of tok tokens: the prefill terms of the profile's last piece,
 * without the fixed per-iteration cost that it shares with the rest of its batch. */
static double model_recompute_s(void *self, double tok)
{
    const struct cost *c = self;
    const double      *k = c->prof.piece[c->prof.n_pieces - 1].coef;
    return k[CAL_T_PREFILL_TOK] * tok + k[CAL_T_PREFILL_SQ] * tok * tok;
}

static double model_swap_s(void *self, double tok)
{
    const struct cost *c = self;
    return c->swap_bw > 0 ? tok * c->prof.kv_bytes_per_token / c->swap_bw : 0.0;
}

static double model_decode_s(void *self, double ctx_tok)
{
    const struct cost *c = self;
    struct cal_batch   one = {.decode_seqs = 1, .decode_ctx = ctx_tok};
    return cal_profile_latency(&c->prof, &one);
}

static const struct exec_ops model_ops = {
    .name = "model",
    .iter_ns = model_iter_ns,
    .recompute_s = model_recompute_s,
    .swap_s = model_swap_s,
    .decode_s = model_decode_s,
};

struct exec exec_model(const struct cost *c)
{
    return (struct exec){&model_ops, (void *)c}; /* the ops only read through self */
}
