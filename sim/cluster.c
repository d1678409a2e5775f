/* cluster.c: arrivals, the predictor queue, the router and the run loop (see serve.h); each
 * replica's admission, iterations and preemption are in replica.c. */
#include "serve.h"

#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "ff.h"
#include "pool.h"
#include "replica.h"
#include "rng.h"

const struct sim_choice serve_router_choices[] = {
    {"round_robin", ROUTER_ROUND_ROBIN, "replicas in turn"},
    {"least_outstanding", ROUTER_LEAST_OUTSTANDING,
     "the replica with the fewest waiting plus running requests (lowest index on ties)"},
    {"random", ROUTER_RANDOM, "a uniformly random replica (seeded)"},
    {NULL, 0, NULL},
};

enum { PROGRESS_EVERY = 1 << 16 };

struct clu {
    const struct serve_cfg *cfg;
    struct replica_env      env; /* what the replicas share */
    struct exec             model;
    eng_t                  *eng;
    replica_t             **rep;
    trace_t                *src;
    struct trace_req        next;
    pred_t                 *pred;
    simtime_t               pred_free;
    met_t                  *met;
    pool_t                 *reqs;
    uint32_t                rr;
    rng_t                  *rng_router;
    struct serve_stats      st;
    struct sim_msg         *msg;
    serve_progress_fn       progress;
    void                   *pctx;
    uint64_t                next_progress;
    struct kv_hashes        hashes; /* issue 10: prefix caching's block hashes (kv.h) */
};

static void fail(struct clu *c, int rc) { eng_stop(c->eng, rc); }

/* The run's counters as of now (the replicas count what they finish). */
static void take_stats(struct clu *c)
{
    c->st.finished = c->st.clamped = 0;
    for (uint32_t i = 0; i < c->cfg->replicas; i++) {
        c->st.finished += replica_finished(c->rep[i]);
        c->st.clamped += replica_clamped(c->rep[i]);
    }
    if (c->cfg->kv.prefix_caching) { /* issue 10 */
        uint64_t q = 0, h = 0;
        for (uint32_t i = 0; i < c->cfg->replicas; i++) {
            uint64_t qi, hi;
            replica_prefix_stats(c->rep[i], &qi, &hi);
            q += qi;
            h += hi;
        }
        met_prefix(c->met, q, h);
    }
    c->st.ff_iters = c->st.ff_jumps = 0; /* issue 13: the events fast-forward skipped count */
    for (uint32_t i = 0; i < c->cfg->replicas; i++) {
        c->st.ff_iters += replica_ff_iters(c->rep[i]);
        c->st.ff_jumps += replica_ff_jumps(c->rep[i]);
    }
    c->st.events = eng_dispatched(c->eng) + c->st.ff_iters;
    c->st.last_event_ns = eng_now(c->eng);
}

/* ---- events ---- */

static void after_event(struct clu *c)
{
    /* A failed run (out of memory half-way through an admission, ...) stops with its state
     * half-updated on purpose: the invariants hold only for runs that go on. */
    if (c->cfg->check && !eng_stopping(c->eng))
        for (uint32_t i = 0; i < c->cfg->replicas; i++)
            replica_check(c->rep[i]);
    uint64_t n = eng_dispatched(c->eng);
    if (n >= c->next_progress) {
        c->next_progress = n + PROGRESS_EVERY;
        take_stats(c);
        if (c->progress && c->progress(c->pctx, &c->st))
            fail(c, SIM_EINTR);
    }
}

static void on_iter(eng_t *eng, struct ev *e, void *ctx)
{
    replica_on_iter(e->data, eng_now(eng));
    after_event(ctx);
}

static void on_timer(eng_t *eng, struct ev *e, void *ctx)
{
    replica_on_timer(e->data, eng_now(eng));
    after_event(ctx);
}

static replica_t *route(struct clu *c)
{
    uint32_t n = c->cfg->replicas, best = 0;
    switch (c->cfg->router) {
    case ROUTER_ROUND_ROBIN: best = c->rr++ % n; break;
    case ROUTER_RANDOM: best = (uint32_t)gsl_rng_uniform_int(c->rng_router, n); break;
    case ROUTER_LEAST_OUTSTANDING: {
        size_t lo = SIZE_MAX;
        for (uint32_t i = 0; i < n; i++) {
            size_t o = replica_outstanding(c->rep[i]);
            if (o < lo) {
                lo = o;
                best = i;
            }
        }
        break;
    }
    }
    return c->rep[best];
}

/* r is ready to be scheduled: queue it on a replica, and (wake) start that replica if idle. */
static void enqueue(struct clu *c, struct req *r, simtime_t now, int wake)
{
    replica_t *p = route(c);
    if (replica_enqueue(p, r, now)) {
        fail(c, SIM_ENOMEM);
        return;
    }
    if (wake)
        replica_wake(p, now);
}

static void on_ready(eng_t *eng, struct ev *e, void *ctx)
{
    struct clu *c = ctx;
    enqueue(c, e->data, eng_now(eng), 1);
    after_event(c);
}

/* Seconds as the simulated clock's limit reads in messages. */
static double limit_s(void) { return (double)SIM_T_MAX / SIM_NS_PER_S; }

/* Schedule the arrival of c->next. Returns 0, SIM_ENOMEM, or SIM_EINPUT with the reason in
 * c->msg when it arrives past the simulated clock's limit. */
static int schedule_arrival(struct clu *c)
{
    if (c->next.arrival_ns > SIM_T_MAX)
        return sim_msg_set(c->msg, SIM_EINPUT,
                           "workload: request %llu arrives at %.1f s, past the simulator's time "
                           "limit of %.0f s (2^62 ns, about 146 years)",
                           (unsigned long long)c->next.id,
                           (double)c->next.arrival_ns / SIM_NS_PER_S, limit_s());
    return eng_schedule_at(c->eng, c->next.arrival_ns, SERVE_EV_ARRIVAL, NULL, 0, NULL);
}

/* A request that cannot run at all (its prompt fills the sequence, or it needs more KV memory
 * than a replica has) fails at once; the others are predicted, then queued. Returns 0,
 * SIM_ENOMEM, or SIM_ECONFIG with the reason in c->msg when predictions push the request past
 * the simulated clock's limit. */
static int take_arrival(struct clu *c, struct req *r, simtime_t now)
{
    int      truncated;
    uint32_t asked = r->output_tok;
    int      ok = kv_admissible(replica_kv(c->rep[0]), r, &truncated);
    c->st.truncated += (uint64_t)truncated;
    if (truncated) /* counted, and shown in its requests.csv row (issue 12) */
        r->asked_tok = asked;
    if (!ok) {
        /* Why (kv_admissible): the prompt alone fills max_seq_len, else the pool is too small. */
        enum met_fail_reason why = r->prompt_tok >= c->cfg->kv.max_seq_len ? MET_FAIL_PROMPT
                                                                           : MET_FAIL_KV;
        r->state = REQ_STATE_FAILED;
        int rc = met_fail(c->met, r, why);
        c->st.failed++;
        pool_put(c->reqs, r);
        return rc;
    }
    pred_predict(c->pred, r);
    double pc = pred_cost_s(c->pred);
    if (pc <= 0) {
        enqueue(c, r, now, 0);
        return SIM_OK;
    }
    /* One predictor, serving in arrival order. */
    simtime_t start = c->pred_free > now ? c->pred_free : now;
    double    d_ns = pc * SIM_NS_PER_S;
    if (c->env.exec->ops->predict_ns) { /* issue 11: a live executor runs the predictor */
        simtime_t m = 0;
        int rc = c->env.exec->ops->predict_ns(c->env.exec->self, r->id, r->prompt_tok, start, &m,
                                              c->msg);
        if (rc)
            return rc;
        d_ns = (double)m;
    }
    if (!(d_ns <= (double)SIM_T_MAX) || (simtime_t)d_ns > SIM_T_MAX - start)
        return sim_msg_set(c->msg, SIM_ECONFIG,
                           "predictor.cost_s: predictions of %g s each, served one at a time, "
                           "would make request %llu ready at %.1f s, past the simulator's "
                           "time limit of %.0f s (2^62 ns): lower predictor.cost_s or the "
                           "number of requests",
                           pc, (unsigned long long)r->id, (double)start / SIM_NS_PER_S + pc,
                           limit_s());
    c->pred_free = start + (simtime_t)d_ns;
    return eng_schedule_at(c->eng, c->pred_free, SERVE_EV_READY, r, 0, NULL);
}

static void on_arrival(eng_t *eng, struct ev *e, void *ctx)
{
    (void)e;
    struct clu *c = ctx;
    simtime_t   now = eng_now(eng);
    for (;;) {
        struct req *r = pool_get(c->reqs);
        if (!r) {
            fail(c, SIM_ENOMEM);
            return;
        }
        memset(r, 0, sizeof *r);
        r->id = c->next.id;
        r->arrival_ns = now;
        r->prompt_tok = c->next.prompt_tok;
        r->output_tok = c->next.output_tok;
        r->sched_ns = r->first_token_ns = r->last_token_ns = -1;
        r->pred_bucket = -1;
        if (c->cfg->kv.prefix_caching) { /* issue 10: keep its block hashes */
            size_t         n;
            const int64_t *h = trace_hash_ids(c->src, &n);
            if (n && SIM_GROW(c->hashes.v, c->hashes.cap, c->hashes.n + n)) {
                fail(c, SIM_ENOMEM);
                return;
            }
            for (size_t k = 0; k < n; k++)
                c->hashes.v[c->hashes.n + k] = h[k];
            r->hash_off = c->hashes.n;
            r->n_hash = (uint32_t)n;
            c->hashes.n += n;
        }
        c->st.arrived++;
        int rc = take_arrival(c, r, now);
        if (rc) {
            fail(c, rc);
            return;
        }
        rc = trace_next(c->src, &c->next, c->msg);
        if (rc < 0) {
            fail(c, rc);
            return;
        }
        if (rc == 0)
            break;
        if (c->next.arrival_ns > now) {
            if ((rc = schedule_arrival(c)))
                fail(c, rc);
            break;
        }
        /* The same instant: take it now, so that simultaneous arrivals meet in one queue. A
         * whole trace can arrive at once (workload.arrival: batch): poll the caller meanwhile. */
        if (c->st.arrived % PROGRESS_EVERY == 0 && c->progress) {
            take_stats(c);
            if (c->progress(c->pctx, &c->st)) {
                fail(c, SIM_EINTR);
                return;
            }
        }
    }
    for (uint32_t i = 0; i < c->cfg->replicas; i++) /* then start the idle replicas */
        if (replica_waiting(c->rep[i]))
            replica_wake(c->rep[i], now);
    after_event(c);
}

/* ---- set-up ---- */

/* Bytes as a person reads them. */
static void fmt_bytes(char *out, size_t n, double b)
{
    if (b >= 1e12)
        snprintf(out, n, "%.1f TB", b / 1e12);
    else if (b >= 1e9)
        snprintf(out, n, "%.1f GB", b / 1e9);
    else
        snprintf(out, n, "%.1f MB", b / 1e6);
}

/* Refuse settings whose memory, known before any request, could outgrow the machine: the
 * timeline at full size (met.h), timeline_rows x replicas rows. (A replica's own state is a few
 * hundred bytes; per-request memory grows with the workload, not with the settings.) Returns 0
 * or SIM_ECONFIG with the figure and the setting to lower in err. */
static int check_memory(const struct serve_cfg *cfg, const met_t *met, struct sim_msg *err)
{
    long   pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    double need = met ? (double)met_timeline_max_bytes(met) : 0;
    if (pages <= 0 || page <= 0 || need <= (double)pages * (double)page)
        return SIM_OK; /* fits, or the machine's memory is unknown */
    char need_s[32], have_s[32];
    fmt_bytes(need_s, sizeof need_s, need);
    fmt_bytes(have_s, sizeof have_s, (double)pages * (double)page);
    return sim_msg_set(err, SIM_ECONFIG,
                       "outputs.timeline_rows x cluster.replicas (%u x %u rows) could take %s of "
                       "timeline, more than this machine's %s of memory: lower "
                       "outputs.timeline_rows",
                       met_timeline_rows(met), cfg->replicas, need_s, have_s);
}

static void clu_fini(struct clu *c)
{
    if (c->rep)
        for (uint32_t i = 0; i < c->cfg->replicas; i++)
            replica_free(c->rep[i]);
    sim_free(c->rep);
    sim_free(c->hashes.v); /* issue 10 */
    pool_free(c->reqs);
    rng_free(c->rng_router);
    eng_free(c->eng);
}

/* Make the engine, the pools and the replicas. Returns 0 or a negative code with err set. */
static int clu_init(struct clu *c, const struct cost *cost, struct sim_msg *err)
{
    const struct serve_cfg *cfg = c->cfg;
    c->eng = eng_new(&(struct eng_opts){.queue = cfg->queue, .seed = cfg->seed});
    c->reqs = pool_new(sizeof(struct req), 4096);
    c->rng_router = rng_new(cfg->seed, RNG_ROUTER);
    c->rep = sim_calloc(cfg->replicas, sizeof *c->rep);
    if (!c->eng || !c->reqs || !c->rng_router || !c->rep)
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    c->model = exec_model(cost);
    c->env = (struct replica_env){.cfg = cfg,
                                  .exec = cfg->exec ? cfg->exec : &c->model,
                                  .eng = c->eng,
                                  .met = c->met,
                                  .pred = c->pred,
                                  .reqs = c->reqs,
                                  .err = c->msg,
                                  .hashes = cfg->kv.prefix_caching ? &c->hashes : NULL};
    for (uint32_t i = 0; i < cfg->replicas; i++) {
        int rc = replica_new(&c->env, i, &c->rep[i], err);
        if (rc)
            return rc;
    }
    /* issue 10: vllm_v1 chunks long prompts, as vLLM v1 does with max_num_batched_tokens below
     * max_model_len */
    if (cfg->rule != RULE_VLLM_V1 && cfg->max_batched_tokens < cfg->kv.max_seq_len)
        return sim_msg_set(err, SIM_ECONFIG,
                           "engine.max_batched_tokens (%u) is below engine.max_seq_len (%u): "
                           "long prompts could never be scheduled",
                           cfg->max_batched_tokens, cfg->kv.max_seq_len);
    eng_on(c->eng, SERVE_EV_ARRIVAL, on_arrival, c);
    eng_on(c->eng, SERVE_EV_READY, on_ready, c);
    eng_on(c->eng, SERVE_EV_ITER, on_iter, c);
    eng_on(c->eng, SERVE_EV_TIMER, on_timer, c);
    return SIM_OK;
}

int serve_run(const struct serve_cfg *cfg, const struct cost *cost, trace_t *src, pred_t *pred,
              met_t *met, serve_progress_fn progress, void *progress_ctx, struct serve_stats *stats,
              struct sim_msg *err)
{
    struct clu c = {.cfg = cfg,
                    .src = src,
                    .pred = pred,
                    .met = met,
                    .msg = err,
                    .progress = progress,
                    .pctx = progress_ctx,
                    .next_progress = PROGRESS_EVERY};
    SIM_ASSERT(cfg->replicas > 0 && cfg->max_batch > 0 && cfg->policy);
    int rc = check_memory(cfg, met, err);
    if (!rc)
        rc = clu_init(&c, cost, err);
    if (rc)
        goto out;
    rc = trace_next(src, &c.next, err);
    if (rc < 0)
        goto out;
    if (rc == 1) {
        c.st.first_arrival_ns = c.next.arrival_ns;
        if ((rc = schedule_arrival(&c)))
            goto out;
    }
    rc = eng_run(c.eng, SIM_T_MAX);
    if (rc == SIM_ENOMEM)
        sim_msg_set(err, rc, "out of memory");
    else if (rc == SIM_EINTR)
        sim_msg_set(err, rc, "interrupted");
    for (uint32_t i = 0; i < cfg->replicas; i++) {
        if (!rc) /* everything served */
            SIM_ASSERT(!replica_outstanding(c.rep[i]) && !replica_busy(c.rep[i]));
        c.st.aging_overrides += replica_aging_count(c.rep[i]);
    }
    take_stats(&c);
out:
    if (stats)
        *stats = c.st;
    clu_fini(&c);
    return rc;
}
