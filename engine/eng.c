/* eng.c: the event loop (see eng.h). */
#include "eng.h"

#include "alloc.h"
#include "pool.h"

enum { ENG_EVENTS_PER_SLAB = 1024 };

struct eng {
    struct evq     q;
    pool_t        *pool;
    simtime_t      now;
    uint64_t       seed;
    uint64_t       dispatched;
    uint64_t       hash;
    int            stop;
    int            status;
    simtime_t      t_end; /* issue 13: the running eng_run's end (eng_horizon) */
    eng_handler_fn fn[ENG_MAX_TYPES];
    void          *ctx[ENG_MAX_TYPES];
    rng_t         *rng[ENG_MAX_STREAMS];
};

eng_t *eng_new(const struct eng_opts *opts)
{
    eng_t *eng = sim_calloc(1, sizeof *eng);
    if (!eng)
        return NULL;
    eng->seed = opts ? opts->seed : 0;
    eng->hash = UINT64_C(0xcbf29ce484222325);
    if (evq_init(&eng->q, opts ? opts->queue : EVQ_CALENDAR))
        goto fail;
    eng->pool = pool_new(sizeof(struct ev), ENG_EVENTS_PER_SLAB);
    if (!eng->pool)
        goto fail;
    return eng;
fail:
    eng_free(eng);
    return NULL;
}

void eng_free(eng_t *eng)
{
    if (!eng)
        return;
    evq_fini(&eng->q); /* pending events live in the pool's slabs, freed below */
    pool_free(eng->pool);
    for (int i = 0; i < ENG_MAX_STREAMS; i++)
        rng_free(eng->rng[i]);
    sim_free(eng);
}

void eng_on(eng_t *eng, uint32_t type, eng_handler_fn fn, void *ctx)
{
    SIM_ASSERT(type < ENG_MAX_TYPES);
    eng->fn[type] = fn;
    eng->ctx[type] = ctx;
}

int eng_schedule_at(eng_t *eng, simtime_t t, uint32_t type, void *data, uint64_t arg,
                    struct ev_handle *h)
{
    SIM_ASSERT(t >= eng->now && t <= SIM_T_MAX && type < ENG_MAX_TYPES);
    struct ev *e = pool_get(eng->pool);
    if (!e)
        return SIM_ENOMEM;
    e->t_ns = t;
    e->type = type;
    e->flags = EV_F_QUEUED;
    e->data = data;
    e->arg = arg;
    int rc = evq_push(&eng->q, e);
    if (rc) {
        e->flags = 0;
        pool_put(eng->pool, e);
        return rc;
    }
    if (h)
        *h = (struct ev_handle){e, e->seq};
    return SIM_OK;
}

int eng_cancel(eng_t *eng, struct ev_handle h)
{
    /* A fired or cancelled event is back in the pool with its flag cleared; if it was reused,
     * its seq was restamped. Either way the handle no longer matches. */
    if (!h.e || !(h.e->flags & EV_F_QUEUED) || h.e->seq != h.seq)
        return SIM_ENOENT;
    evq_remove(&eng->q, h.e);
    h.e->flags = 0;
    pool_put(eng->pool, h.e);
    return SIM_OK;
}

static uint64_t fold(uint64_t h, uint64_t x)
{
    /* Issue 13: one multiply per word (the golden-ratio constant) and a shift to fold the high
     * bits down, not FNV-1a's eight per byte: three chains of eight dependent multiplies were
     * 5 % of a one-replica run. The hash is only compared between runs (eng.h). */
    h = (h ^ x) * UINT64_C(0x9E3779B97F4A7C15);
    return h ^ (h >> 29);
}

int eng_run(eng_t *eng, simtime_t t_end)
{
    eng->stop = 0;
    eng->status = SIM_OK;
    eng->t_end = t_end;
    while (!eng->stop) {
        struct ev *e = evq_peek(&eng->q);
        if (!e || e->t_ns > t_end)
            break;
        evq_pop(&eng->q);
        e->flags = 0;
        eng->now = e->t_ns;
        eng->dispatched++;
        eng->hash = fold(fold(fold(eng->hash, (uint64_t)e->t_ns), e->type), e->arg);
        eng_handler_fn fn = eng->fn[e->type];
        SIM_ASSERT(fn);
        fn(eng, e, eng->ctx[e->type]);
        pool_put(eng->pool, e);
    }
    return eng->status;
}

void eng_stop(eng_t *eng, int status)
{
    eng->stop = 1;
    eng->status = status;
}

int eng_stopping(const eng_t *eng) { return eng->stop; }

simtime_t eng_now(const eng_t *eng) { return eng->now; }
size_t    eng_pending(const eng_t *eng) { return evq_size(&eng->q); }
uint64_t  eng_dispatched(const eng_t *eng) { return eng->dispatched; }
uint64_t  eng_hash(const eng_t *eng) { return eng->hash; }

/* Issue 13 (fast-forward). */
simtime_t eng_horizon(const eng_t *eng)
{
    if (eng->stop)
        return eng->now;
    const struct ev *e = evq_peek((struct evq *)&eng->q);
    if (e && e->t_ns <= eng->t_end)
        return e->t_ns;
    return eng->t_end < SIM_T_MAX ? eng->t_end + 1 : SIM_T_MAX;
}

rng_t *eng_rng(eng_t *eng, uint32_t stream)
{
    SIM_ASSERT(stream < ENG_MAX_STREAMS);
    if (!eng->rng[stream])
        eng->rng[stream] = rng_new(eng->seed, stream);
    return eng->rng[stream];
}
