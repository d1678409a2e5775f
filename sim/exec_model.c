/* exec_model.c: the model clock, the executor whose time is the perf profile's (see exec.h). */
#include "exec.h"

#include <math.h>

static simtime_t model_iter_ns(void *self, const struct exec_batch *b)
{
    const struct cost *c = self;
    double             s = cal_profile_latency(&c->prof, &b->agg) + b->extra_s;
    double             ns = s * (double)SIM_NS_PER_S;
    return ns < 1 ? 1 : (simtime_t)llround(ns);
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
