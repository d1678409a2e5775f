/* serve.c: cluster, router and replica engines (see serve.h for the model). */
#include "serve.h"

#include <string.h>

#include "alloc.h"
#include "pool.h"

enum { EV_ARRIVAL = 0, EV_READY = 1, EV_ITER = 2, EV_TIMER = 3 };
enum { RNG_ROUTER = 4 };
enum { PROGRESS_EVERY = 1 << 16 };

struct clu;

struct replica {
    struct clu  *clu;
    uint32_t     idx;
    sched_t     *q;
    struct kv    kv;
    struct req **run; /* running set (admitted, not finished), unordered */
    size_t       n_run, cap_run;
    struct req **ih;  /* min-heap of running requests by next_iter */
    size_t       ih_n, ih_cap;
    struct req **pf;  /* admitted for the current iteration: prefills and swap-ins */
    size_t       n_pf, cap_pf;
    uint64_t     iter; /* index of the iteration running, or of the next one when idle */
    int          busy;
    simtime_t    iter_start;
    /* Decode aggregates: context of decoding request r at iteration i is r->ctx_base + i. */
    uint32_t     n_decode;
    int64_t      ctx_base_sum;
    uint32_t     n_pad;  /* dynamic batching: held (finished) members still decoding */
    uint32_t     n_live; /* dynamic batching: members not yet finished */
    /* The iteration being formed or run. */
    double       pf_tok, pf_sq;
    uint32_t     sw_n;   /* swap-ins: decode sequences that are not in the aggregates yet */
    double       sw_ctx;
    double       extra_s; /* swap traffic charged to this iteration */
    uint32_t     cur_batch;
    double       cur_kv;
    struct ev_handle timer;
    int          timer_set;
};

struct clu {
    const struct serve_cfg *cfg;
    const struct cost      *cost;
    eng_t                  *eng;
    struct replica         *rep;
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
};

/* ---- names ---- */

static int parse_name(const char *s, const char *const *names, int n, int *out)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return SIM_OK;
        }
    return SIM_ECONFIG;
}

#define PARSER(fn, type, ...)                                                              \
    int fn(const char *s, type *out)                                                       \
    {                                                                                      \
        static const char *const names[] = {__VA_ARGS__};                                  \
        int v, rc = parse_name(s, names, (int)(sizeof names / sizeof *names), &v);         \
        if (!rc)                                                                           \
            *out = (type)v;                                                                \
        return rc;                                                                         \
    }
PARSER(batching_parse, enum batching, "continuous", "dynamic", "none")
PARSER(preempt_parse, enum preempt_mode, "recompute", "swap")
PARSER(overflow_parse, enum overflow_mode, "next_bucket", "max")
PARSER(router_parse, enum router_kind, "round_robin", "least_outstanding", "random")

/* ---- failure path ---- */

static void fail(struct clu *c, int rc)
{
    eng_stop(c->eng, rc);
}

/* ---- the iteration heap (by next_iter) ---- */

static void ih_place(struct replica *p, size_t i, struct req *r)
{
    p->ih[i] = r;
    r->heap_pos = (uint32_t)i;
}

static void ih_up(struct replica *p, size_t i)
{
    struct req *r = p->ih[i];
    while (i > 0 && r->next_iter < p->ih[(i - 1) / 2]->next_iter) {
        ih_place(p, i, p->ih[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    ih_place(p, i, r);
}

static void ih_down(struct replica *p, size_t i)
{
    struct req *r = p->ih[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= p->ih_n)
            break;
        if (c + 1 < p->ih_n && p->ih[c + 1]->next_iter < p->ih[c]->next_iter)
            c++;
        if (p->ih[c]->next_iter >= r->next_iter)
            break;
        ih_place(p, i, p->ih[c]);
        i = c;
    }
    ih_place(p, i, r);
}

static int ih_push(struct replica *p, struct req *r)
{
    if (SIM_GROW(p->ih, p->ih_cap, p->ih_n + 1))
        return SIM_ENOMEM;
    p->ih[p->ih_n] = r;
    r->in_heap = 1;
    ih_up(p, p->ih_n++);
    return SIM_OK;
}

static void ih_remove(struct replica *p, struct req *r)
{
    size_t i = r->heap_pos;
    SIM_ASSERT(r->in_heap && i < p->ih_n && p->ih[i] == r);
    r->in_heap = 0;
    struct req *last = p->ih[--p->ih_n];
    if (i < p->ih_n) {
        ih_place(p, i, last);
        ih_up(p, i);
        ih_down(p, last->heap_pos);
    }
}

/* ---- running set ---- */

static int run_add(struct replica *p, struct req *r)
{
    if (SIM_GROW(p->run, p->cap_run, p->n_run + 1))
        return SIM_ENOMEM;
    r->run_pos = (uint32_t)p->n_run;
    p->run[p->n_run++] = r;
    return SIM_OK;
}

static void run_remove(struct replica *p, struct req *r)
{
    size_t i = r->run_pos;
    SIM_ASSERT(i < p->n_run && p->run[i] == r);
    p->run[i] = p->run[--p->n_run];
    p->run[i]->run_pos = (uint32_t)i;
}

/* ---- per-request progress ---- */

/* Tokens r has generated by boundary b (the end of iteration b - 1). */
static uint32_t gen_at(const struct req *r, uint64_t b)
{
    return r->decoding ? r->generated + (uint32_t)(b - r->run_iter) : r->generated;
}

/* The boundary at which r needs attention: after its last token, or when it has generated all
 * the tokens its memory covers. */
static void set_next(struct replica *p, struct req *r)
{
    uint64_t nx = r->run_iter + (r->output_tok - r->generated);
    uint32_t limit = kv_out_limit(&p->kv, r);
    if (r->output_tok > limit) {
        uint64_t b_mem = r->run_iter + (limit - r->generated);
        if (b_mem < nx)
            nx = b_mem;
    }
    r->next_iter = nx;
}

static void leave_decode(struct replica *p, struct req *r)
{
    if (!r->decoding)
        return;
    p->n_decode--;
    p->ctx_base_sum -= r->ctx_base;
    if (r->held)
        p->n_pad--;
}

/* ---- finishing ---- */

static void finish(struct replica *p, struct req *r, simtime_t now)
{
    struct clu *c = p->clu;
    r->finish_ns = now;
    r->state = REQ_STATE_DONE;
    run_remove(p, r);
    if (r->in_heap)
        ih_remove(p, r);
    leave_decode(p, r);
    kv_release(&p->kv, r);
    int rc = met_finish(c->met, r);
    if (rc)
        fail(c, rc);
    c->st.finished++;
    pool_put(c->reqs, r);
}

/* Dynamic batching: one member fewer is still generating; the batch ends with the last. */
static void member_gone(struct replica *p, simtime_t now)
{
    SIM_ASSERT(p->n_live > 0);
    if (--p->n_live == 0)
        while (p->n_run)
            finish(p, p->run[p->n_run - 1], now);
}

/* A request produced its last token: finish it, or (dynamic batching) hold its slot and memory
 * until the batch's longest member is done. */
static void done(struct replica *p, struct req *r, simtime_t now)
{
    if (p->clu->cfg->batching == BATCH_CONTINUOUS) {
        finish(p, r, now);
        return;
    }
    r->held = 1;
    if (r->decoding)
        p->n_pad++;
    member_gone(p, now);
}

/* ---- preemption ---- */

/* Take r out of the batch at boundary b and put it back at the front of the queue, its generated
 * tokens kept: recomputed by its next prefill, or swapped out now and in at readmission. */
static void preempt(struct replica *p, struct req *r, uint64_t b, simtime_t now, int mispredict)
{
    struct clu *c = p->clu;
    uint32_t gen = gen_at(r, b);
    run_remove(p, r);
    if (r->in_heap)
        ih_remove(p, r);
    leave_decode(p, r);
    kv_release(&p->kv, r);
    if (r->decoding)
        r->last_token_ns = now; /* it made a token at this boundary: the next gap starts here */
    r->generated = gen;
    r->decoding = 0;
    r->n_preempt++;
    double tok = (double)r->prompt_tok + gen, wasted_s;
    if (c->cfg->preempt == PREEMPT_SWAP) {
        r->swapped = 1;
        wasted_s = 2 * cost_swap_s(c->cost, tok); /* out now, in later */
        p->extra_s += wasted_s / 2;
        met_preempt(c->met, mispredict, 0, wasted_s);
    } else {
        const double *k = c->cost->prof.piece[c->cost->prof.n_pieces - 1].coef;
        wasted_s = k[CAL_T_PREFILL_TOK] * tok + k[CAL_T_PREFILL_SQ] * tok * tok;
        met_preempt(c->met, mispredict, (uint64_t)tok, wasted_s);
    }
    r->need_units = (uint32_t)kv_need_units(&p->kv, r, r->out_budget);
    if (sched_push_front(p->q, r, now))
        fail(c, SIM_ENOMEM);
    if (c->cfg->batching != BATCH_CONTINUOUS) /* it leaves its static batch for the next one */
        member_gone(p, now);
}

/* vLLM's victim: the most recently admitted running request (ties: the latest in the array). */
static struct req *victim(struct replica *p)
{
    struct req *v = NULL;
    for (size_t i = 0; i < p->n_run; i++)
        if (!p->run[i]->held && (!v || p->run[i]->run_iter >= v->run_iter))
            v = p->run[i];
    return v;
}

/* r generated every token its memory covers and needs more. */
static void on_limit(struct replica *p, struct req *r, uint64_t b, simtime_t now)
{
    struct clu *c = p->clu;
    if (p->kv.cfg.policy == KV_PAGED) {
        while (kv_grow(&p->kv, r)) {
            struct req *v = victim(p);
            preempt(p, v, b, now, 0);
            if (v == r)
                return;
        }
        set_next(p, r);
        if (ih_push(p, r))
            fail(c, SIM_ENOMEM);
        return;
    }
    /* A reservation outgrown: S3's supervisor preempts it and re-queues it with the next
     * bucket's reservation (or the maximum). */
    SIM_ASSERT(p->kv.cfg.policy == KV_PREDICTED);
    r->n_mispredict++;
    uint32_t gen = gen_at(r, b);
    uint32_t room = p->kv.cfg.max_seq_len - r->prompt_tok;
    uint32_t nb = c->cfg->overflow == OVERFLOW_MAX ? room : pred_next_edge(c->pred, gen);
    r->out_budget = nb > gen && nb < room ? nb : room;
    preempt(p, r, b, now, 1);
}

/* ---- admission ---- */

static enum admit_rc try_admit(void *ctx, struct req *r)
{
    struct replica *p = ctx;
    struct clu *c = p->clu;
    if (p->n_run >= c->cfg->max_batch)
        return ADMIT_FULL;
    double pf = r->swapped ? 0.0 : (double)r->prompt_tok + r->generated;
    double tokens = p->n_decode + p->sw_n + p->pf_tok + (r->swapped ? 1.0 : pf);
    if (tokens > c->cfg->max_batched_tokens)
        return ADMIT_FULL;
    if (kv_admit(&p->kv, r, r->need_units))
        return ADMIT_NO_MEMORY;
    if (run_add(p, r) || SIM_GROW(p->pf, p->cap_pf, p->n_pf + 1)) {
        fail(c, SIM_ENOMEM);
        return ADMIT_FULL;
    }
    simtime_t now = eng_now(c->eng);
    r->state = REQ_STATE_RUNNING;
    r->replica = p->idx;
    if (r->sched_ns < 0)
        r->sched_ns = now;
    r->run_iter = p->iter;
    r->held = 0;
    if (r->swapped) { /* swap in: no prefill, it decodes in this iteration */
        p->extra_s += cost_swap_s(c->cost, (double)r->prompt_tok + r->generated);
        p->sw_n++;
        p->sw_ctx += (double)r->prompt_tok + r->generated;
    } else {
        p->pf_tok += pf;
        p->pf_sq += pf * pf;
    }
    p->pf[p->n_pf++] = r;
    return ADMIT_OK;
}

static uint64_t need_of(void *ctx, const struct req *r)
{
    (void)ctx;
    return r->need_units;
}

static uint64_t free_units(void *ctx)
{
    const struct replica *p = ctx;
    return p->kv.total - p->kv.used;
}

/* Service-time estimate for aging: its predicted output at the batch-1 decode speed. */
static double service_s(void *ctx, const struct req *r)
{
    const struct replica *p = ctx;
    struct cal_batch one = {.decode_seqs = 1, .decode_ctx = r->prompt_tok};
    return (double)r->pred_tok * cal_profile_latency(&p->clu->cost->prof, &one);
}

static void on_timer_set(struct replica *p, simtime_t at)
{
    if (p->timer_set)
        return;
    if (eng_schedule_at(p->clu->eng, at, EV_TIMER, p, p->idx, &p->timer))
        fail(p->clu, SIM_ENOMEM);
    else
        p->timer_set = 1;
}

static void admit(struct replica *p, simtime_t now)
{
    struct clu *c = p->clu;
    if (!sched_len(p->q))
        return;
    struct sched_admit a = {p, try_admit, need_of, free_units, service_s, now};
    if (c->cfg->batching == BATCH_CONTINUOUS) {
        sched_form_batch(p->q, &a);
        return;
    }
    if (p->n_run) /* a static batch is running: admission opens when it ends */
        return;
    size_t want = c->cfg->max_batch;
    if (sched_len(p->q) < want && c->cfg->max_wait_s > 0) {
        simtime_t at = sched_front(p->q)->enq_ns + (simtime_t)(c->cfg->max_wait_s * SIM_NS_PER_S);
        if (now < at) {
            on_timer_set(p, at);
            return;
        }
    }
    if (p->timer_set) {
        eng_cancel(c->eng, p->timer);
        p->timer_set = 0;
    }
    sched_form_batch(p->q, &a);
    p->n_live = (uint32_t)p->n_run;
}

/* ---- iterations ---- */

static void start_iteration(struct replica *p, simtime_t now)
{
    struct clu *c = p->clu;
    if (!p->n_run) {
        p->busy = 0;
        if (met_sample(c->met, p->idx, now, 0, kv_used_tok(&p->kv), kv_util(&p->kv),
                       (uint32_t)sched_len(p->q)))
            fail(c, SIM_ENOMEM);
        /* Idle with requests waiting happens only while a batch timer runs: with nothing
         * running, the front request always fits (arrivals that could not are failed). */
        SIM_ASSERT(!sched_len(p->q) || p->timer_set);
        return;
    }
    uint64_t i = p->iter;
    struct cal_batch b = {
        .decode_seqs = (double)p->n_decode + p->sw_n,
        .decode_ctx = (double)(p->ctx_base_sum + (int64_t)p->n_decode * (int64_t)i) + p->sw_ctx,
        .prefill_tok = p->pf_tok,
        .prefill_sq = p->pf_sq,
    };
    simtime_t dur = cost_iter_ns(c->cost, &b, p->extra_s);
    p->busy = 1;
    p->iter_start = now;
    p->cur_batch = (uint32_t)p->n_run;
    p->cur_kv = kv_util(&p->kv);
    if (eng_schedule_at(c->eng, now + dur, EV_ITER, p, p->idx, NULL))
        fail(c, SIM_ENOMEM);
    if (met_sample(c->met, p->idx, now, p->cur_batch, kv_used_tok(&p->kv), p->cur_kv,
                   (uint32_t)sched_len(p->q)))
        fail(c, SIM_ENOMEM);
}

/* Iteration p->iter ended at now: hand out its tokens, then look at every request whose
 * boundary this is. */
static void end_iteration(struct replica *p, simtime_t now)
{
    struct clu *c = p->clu;
    uint64_t j = p->iter, b = j + 1;
    uint32_t fresh = 0, resumed = 0;
    for (size_t k = 0; k < p->n_pf; k++)
        if (p->pf[k]->generated == 0 && !p->pf[k]->swapped)
            fresh++;
    resumed = (uint32_t)p->n_pf - fresh;
    uint32_t contiguous = p->n_decode - p->n_pad;
    if (met_iter(c->met, p->idx, p->iter_start, now - p->iter_start, p->cur_batch, contiguous,
                 contiguous + fresh + resumed, p->cur_kv))
        fail(c, SIM_ENOMEM);

    /* Prefills (and swap-ins) yielded a token: each joins the decoders, or is done. */
    for (size_t k = 0; k < p->n_pf; k++) {
        struct req *r = p->pf[k];
        if (r->generated == 0 && !r->swapped) {
            r->first_token_ns = now;
        } else if (met_gap(c->met, now - r->last_token_ns)) {
            fail(c, SIM_ENOMEM);
        }
        r->swapped = 0;
        r->last_token_ns = now;
        if (r->generated + 1 >= r->output_tok) {
            r->generated = r->output_tok;
            done(p, r, now);
            continue;
        }
        r->decoding = 1;
        r->ctx_base = (int64_t)r->prompt_tok + r->generated - (int64_t)j;
        p->n_decode++;
        p->ctx_base_sum += r->ctx_base;
        set_next(p, r);
        if (ih_push(p, r))
            fail(c, SIM_ENOMEM);
    }
    p->n_pf = 0;
    p->pf_tok = p->pf_sq = p->sw_ctx = p->extra_s = 0;
    p->sw_n = 0;

    /* Decoders whose boundary this is: last token, or memory exhausted. */
    while (p->ih_n && p->ih[0]->next_iter <= b) {
        struct req *r = p->ih[0];
        SIM_ASSERT(r->next_iter == b);
        ih_remove(p, r);
        uint32_t gen = gen_at(r, b);
        if (gen >= r->output_tok)
            done(p, r, now);
        else
            on_limit(p, r, b, now);
    }
    p->iter = b;
}

static void boundary(struct replica *p, simtime_t now)
{
    if (p->busy)
        end_iteration(p, now);
    admit(p, now);
    start_iteration(p, now);
}

/* ---- checks ---- */

static void check_replica(struct replica *p)
{
    struct sim_msg m;
    if (kv_check(&p->kv, p->run, p->n_run, &m)) {
        sim_log_err("replica %u: %s", p->idx, m.text);
        SIM_ASSERT(!"KV invariant");
    }
    uint32_t dec = 0;
    int64_t base = 0;
    for (size_t i = 0; i < p->n_run; i++) {
        const struct req *r = p->run[i];
        SIM_ASSERT(r->state == REQ_STATE_RUNNING && r->run_pos == i);
        if (r->decoding) {
            dec++;
            base += r->ctx_base;
        }
    }
    SIM_ASSERT(dec == p->n_decode && base == p->ctx_base_sum);
    SIM_ASSERT(p->n_run <= p->clu->cfg->max_batch);
    SIM_ASSERT(p->kv.used <= p->kv.total);
}

/* ---- events ---- */

static void after_event(struct clu *c)
{
    if (c->cfg->check)
        for (uint32_t i = 0; i < c->cfg->replicas; i++)
            check_replica(&c->rep[i]);
    uint64_t n = eng_dispatched(c->eng);
    if (n >= c->next_progress) {
        c->next_progress = n + PROGRESS_EVERY;
        c->st.events = n;
        c->st.last_event_ns = eng_now(c->eng);
        if (c->progress && c->progress(c->pctx, &c->st))
            fail(c, SIM_EINTR);
    }
}

static void on_iter(eng_t *eng, struct ev *e, void *ctx)
{
    (void)ctx;
    struct replica *p = e->data;
    boundary(p, eng_now(eng));
    after_event(p->clu);
}

static void on_timer(eng_t *eng, struct ev *e, void *ctx)
{
    (void)ctx;
    struct replica *p = e->data;
    p->timer_set = 0;
    if (!p->busy)
        boundary(p, eng_now(eng));
    after_event(p->clu);
}

static struct replica *route(struct clu *c)
{
    uint32_t n = c->cfg->replicas, best = 0;
    switch (c->cfg->router) {
    case ROUTER_ROUND_ROBIN: best = c->rr++ % n; break;
    case ROUTER_RANDOM: best = (uint32_t)gsl_rng_uniform_int(c->rng_router, n); break;
    case ROUTER_LEAST_OUTSTANDING: {
        size_t lo = SIZE_MAX;
        for (uint32_t i = 0; i < n; i++) {
            size_t o = sched_len(c->rep[i].q) + c->rep[i].n_run;
            if (o < lo) {
                lo = o;
                best = i;
            }
        }
        break;
    }
    }
    return &c->rep[best];
}

/* r is ready to be scheduled: queue it on a replica, and (wake) start that replica if idle. */
static void enqueue(struct clu *c, struct req *r, simtime_t now, int wake)
{
    struct replica *p = route(c);
    r->replica = p->idx;
    r->out_budget = r->pred_tok;
    if (p->kv.cfg.policy == KV_PREDICTED) {
        uint32_t room = p->kv.cfg.max_seq_len - r->prompt_tok;
        uint32_t up = pred_bucket_upper(c->pred, r->pred_bucket);
        r->out_budget = up < room ? up : room;
    }
    r->need_units = (uint32_t)kv_need_units(&p->kv, r, r->out_budget);
    if (sched_push(p->q, r, now)) {
        fail(c, SIM_ENOMEM);
        return;
    }
    if (wake && !p->busy)
        boundary(p, now);
}

static void on_ready(eng_t *eng, struct ev *e, void *ctx)
{
    struct clu *c = ctx;
    enqueue(c, e->data, eng_now(eng), 1);
    after_event(c);
}

/* A request that cannot run at all: its prompt fills the sequence, or it needs more KV memory
 * than a replica has. */
static int admissible(struct clu *c, struct req *r)
{
    const struct kv *kv = &c->rep[0].kv;
    uint32_t L = kv->cfg.max_seq_len;
    if (r->prompt_tok >= L)
        return 0;
    if (r->prompt_tok + r->output_tok > L) {
        r->output_tok = L - r->prompt_tok;
        c->st.truncated++;
    }
    uint64_t need_tok = kv->cfg.policy == KV_MAX ? L : (uint64_t)r->prompt_tok + r->output_tok;
    uint64_t cap = kv->cfg.policy == KV_PAGED ? (kv->total - kv->watermark) * kv->cfg.block_tok
                                              : kv->total;
    return need_tok <= cap;
}

static void on_arrival(eng_t *eng, struct ev *e, void *ctx)
{
    (void)e;
    struct clu *c = ctx;
    simtime_t now = eng_now(eng);
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
        c->st.arrived++;
        if (!admissible(c, r)) {
            r->state = REQ_STATE_FAILED;
            met_fail(c->met, r);
            c->st.failed++;
            pool_put(c->reqs, r);
        } else {
            pred_predict(c->pred, r);
            double pc = pred_cost_s(c->pred);
            if (pc > 0) { /* one predictor, serving in arrival order */
                simtime_t start = c->pred_free > now ? c->pred_free : now;
                c->pred_free = start + (simtime_t)(pc * SIM_NS_PER_S);
                if (eng_schedule_at(eng, c->pred_free, EV_READY, r, 0, NULL)) {
                    fail(c, SIM_ENOMEM);
                    return;
                }
            } else {
                enqueue(c, r, now, 0);
            }
        }
        int rc = trace_next(c->src, &c->next, c->msg);
        if (rc < 0) {
            fail(c, rc);
            return;
        }
        if (rc == 0)
            break;
        if (c->next.arrival_ns > now) {
            if (eng_schedule_at(eng, c->next.arrival_ns, EV_ARRIVAL, NULL, 0, NULL))
                fail(c, SIM_ENOMEM);
            break;
        }
        /* The same instant: take it now, so that simultaneous arrivals meet in one queue. */
    }
    for (uint32_t i = 0; i < c->cfg->replicas; i++) /* then start the idle replicas */
        if (!c->rep[i].busy && sched_len(c->rep[i].q))
            boundary(&c->rep[i], now);
    after_event(c);
}

/* ---- set-up ---- */

static void clu_fini(struct clu *c)
{
    if (c->rep)
        for (uint32_t i = 0; i < c->cfg->replicas; i++) {
            sched_free(c->rep[i].q);
            sim_free(c->rep[i].run);
            sim_free(c->rep[i].ih);
            sim_free(c->rep[i].pf);
        }
    sim_free(c->rep);
    pool_free(c->reqs);
    rng_free(c->rng_router);
    eng_free(c->eng);
}

int serve_run(const struct serve_cfg *cfg, const struct cost *cost, trace_t *src, pred_t *pred,
              met_t *met, serve_progress_fn progress, void *progress_ctx,
              struct serve_stats *stats, struct sim_msg *err)
{
    struct clu c = {.cfg = cfg, .cost = cost, .src = src, .pred = pred, .met = met,
                    .msg = err, .progress = progress, .pctx = progress_ctx,
                    .next_progress = PROGRESS_EVERY};
    int rc = SIM_ENOMEM;
    SIM_ASSERT(cfg->replicas > 0 && cfg->max_batch > 0 && cfg->policy);
    c.eng = eng_new(&(struct eng_opts){.queue = cfg->queue, .seed = cfg->seed});
    c.reqs = pool_new(sizeof(struct req), 4096);
    c.rng_router = rng_new(cfg->seed, RNG_ROUTER);
    c.rep = sim_calloc(cfg->replicas, sizeof *c.rep);
    if (!c.eng || !c.reqs || !c.rng_router || !c.rep) {
        sim_msg_set(err, rc, "out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < cfg->replicas; i++) {
        struct replica *p = &c.rep[i];
        p->clu = &c;
        p->idx = i;
        if ((rc = kv_init(&p->kv, &cfg->kv, err)))
            goto out;
        struct sched_cfg sc = cfg->sched;
        sc.max_units = p->kv.cfg.policy == KV_PAGED
                           ? (cfg->kv.max_seq_len + cfg->kv.block_tok - 1) / cfg->kv.block_tok
                           : cfg->kv.max_seq_len;
        if (!(p->q = sched_new(cfg->policy, &sc))) {
            rc = sim_msg_set(err, SIM_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (cfg->kv.policy == KV_MAX && c.rep[0].kv.total < cfg->kv.max_seq_len) {
        rc = sim_msg_set(err, SIM_ECONFIG,
                         "KV capacity (%llu tokens) holds no max-length sequence (%u tokens)",
                         (unsigned long long)c.rep[0].kv.total, cfg->kv.max_seq_len);
        goto out;
    }
    if (cfg->max_batched_tokens < cfg->kv.max_seq_len) {
        rc = sim_msg_set(err, SIM_ECONFIG,
                         "engine.max_batched_tokens (%u) is below engine.max_seq_len (%u): "
                         "long prompts could never be scheduled",
                         cfg->max_batched_tokens, cfg->kv.max_seq_len);
        goto out;
    }
    eng_on(c.eng, EV_ARRIVAL, on_arrival, &c);
    eng_on(c.eng, EV_READY, on_ready, &c);
    eng_on(c.eng, EV_ITER, on_iter, &c);
    eng_on(c.eng, EV_TIMER, on_timer, &c);

    rc = trace_next(src, &c.next, err);
    if (rc < 0)
        goto out;
    if (rc == 1) {
        c.st.first_arrival_ns = c.next.arrival_ns;
        if ((rc = eng_schedule_at(c.eng, c.next.arrival_ns, EV_ARRIVAL, NULL, 0, NULL)))
            goto out;
    }
    rc = eng_run(c.eng, SIM_T_MAX);
    if (rc == SIM_ENOMEM)
        sim_msg_set(err, rc, "out of memory");
    else if (rc == SIM_EINTR)
        sim_msg_set(err, rc, "interrupted");
    if (!rc)
        for (uint32_t i = 0; i < cfg->replicas; i++) /* everything served */
            SIM_ASSERT(!c.rep[i].n_run && !sched_len(c.rep[i].q) && !c.rep[i].busy);
    for (uint32_t i = 0; i < cfg->replicas; i++)
        c.st.aging_overrides += sched_aging_count(c.rep[i].q);
    c.st.events = eng_dispatched(c.eng);
    c.st.last_event_ns = eng_now(c.eng);
out:
    if (stats)
        *stats = c.st;
    clu_fini(&c);
    return rc;
}
