/* exec_model.c: the model clock, the executor whose time is the perf profile's (see exec.h).
 * The piecewise form reads the batch's aggregates; the table form (calib/table.h) reads them
 * too, plus the number of prefills (n_seqs - decode_seqs) and, only when some prefill has
 * tokens cached before its chunk (agg.prefill_kv > 0), each prefill's cached tokens from the
 * listing (O(batch)), because the tables key prefill attention by the sum of each one's count
 * rounded up (Vidur's _get_batch_prefill_attention_params).
 * Issue 13: the roundings on the per-iteration path are engine/round.h's sim_llround, equal to
 * llround for every double (tests/test_speed_round.c), without the call into libm. */
#include "exec.h"

#include <math.h>

#include "round.h"
#include "table.h"

struct kv_sum {
    uint32_t round;
    uint64_t raw, rounded;
};

/* A chunked prefill's ctx_tok is its context after the chunk (exec.h), so the tokens cached
 * before it are ctx_tok - new_tok. */
static void add_prefill_kv(void *ctx, const struct exec_seq *q)
{
    struct kv_sum *k = ctx;
    if (q->kind != EXEC_SEQ_PREFILL)
        return;
    SIM_ASSERT(q->ctx_tok >= q->new_tok);
    uint64_t kv = q->ctx_tok - q->new_tok;
    k->raw += kv;
    k->rounded += (kv + k->round - 1) / k->round * k->round;
}

static int table_latency(const struct cost *c, const struct exec_batch *b, double *lat,
                         struct sim_msg *why)
{
    const struct cal_batch *a = &b->agg;
    SIM_ASSERT(a->decode_seqs >= 0 && a->decode_seqs <= b->n_seqs);
    struct cal_table_batch t = {
        .decode_seqs = (uint32_t)a->decode_seqs,
        .decode_ctx = (uint64_t)sim_llround(a->decode_ctx),
        .prefills = b->n_seqs - (uint32_t)a->decode_seqs,
        .prefill_tok = (uint64_t)sim_llround(a->prefill_tok),
        .prefill_sq = (uint64_t)sim_llround(a->prefill_sq),
    };
    if (a->prefill_kv > 0) {
        struct kv_sum k = {.round = cal_table_kv_round(c->prof.table)};
        exec_batch_list(b, add_prefill_kv, &k);
        SIM_ASSERT((double)k.raw == a->prefill_kv);
        t.prefill_kv = k.rounded;
    }
    return cal_table_latency(c->prof.table, &t, lat, why);
}

static int model_iter_ns(void *self, const struct exec_batch *b, simtime_t *out,
                         struct sim_msg *why)
{
    const struct cost *c = self;
    double             lat;
    if (c->prof.table) {
        int rc = table_latency(c, b, &lat, why);
        if (rc)
            return rc;
    } else {
        lat = cal_profile_latency(&c->prof, &b->agg);
    }
    double      s = lat + b->extra_s;
    double      ns = s * (double)SIM_NS_PER_S;
    const char *cause = isfinite(b->extra_s) && b->extra_s * SIM_NS_PER_S <= SIM_T_MAX
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
    *out = ns < 1 ? 1 : (simtime_t)sim_llround(ns);
    return SIM_OK;
}

/* A recomputation is a prefill of tok tokens: the prefill terms of the profile's last piece,
 * without the fixed per-iteration cost that it shares with the rest of its batch. */
/* The table form's time of a batch of one sequence: one prefill of tok tokens, or one decode at
 * context tok. Past the tables' range it halves tok until the tables cover it and scales the
 * time linearly back (prefill), or takes the time at the largest context covered (decode):
 * these feed estimates (wasted work, service-time aging), never the clock. */
static double table_one(const struct cost *c, double tok, int decode)
{
    double x = tok < 1 ? 1 : tok, lat = 0;
    for (;;) {
        uint64_t               n = (uint64_t)llround(x);
        struct cal_table_batch t = decode
                                       ? (struct cal_table_batch){.decode_seqs = 1, .decode_ctx = n}
                                       : (struct cal_table_batch){.prefills = 1,
                                                                  .prefill_tok = n,
                                                                  .prefill_sq = n * n};
        struct sim_msg         why;
        if (!cal_table_latency(c->prof.table, &t, &lat, &why))
            return decode ? lat : lat * (tok / x);
        if (x <= 1)
            return 0;
        x = floor(x / 2);
    }
}

static double model_recompute_s(void *self, double tok)
{
    const struct cost *c = self;
    if (c->prof.table)
        return table_one(c, tok, 0);
    const double *k = c->prof.piece[c->prof.n_pieces - 1].coef;
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
    if (c->prof.table)
        return table_one(c, ctx_tok, 1);
    struct cal_batch one = {.decode_seqs = 1, .decode_ctx = ctx_tok};
    return cal_profile_latency(&c->prof, &one);
}

/* The model clock keeps nothing per sequence: a departure changes nothing (its costs are the
 * replica's recompute_s / swap_s charges). */
static void model_leave(void *self, uint64_t id, enum exec_leave why)
{
    (void)self, (void)id, (void)why;
}

static const struct exec_ops model_ops = {
    .name = "model",
    .iter_ns = model_iter_ns,
    .recompute_s = model_recompute_s,
    .swap_s = model_swap_s,
    .decode_s = model_decode_s,
    .leave = model_leave,
};

struct exec exec_model(const struct cost *c)
{
    return (struct exec){&model_ops, (void *)c}; /* the ops only read through self */
}

int exec_is_model(const struct exec *e) { return e->ops == &model_ops; } /* issue 13 */
