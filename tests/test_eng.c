/*
 * test_eng.c: the event loop, the event pool and the RNG streams.
 */
#include "alloc.h"
#include "eng.h"
#include "pool.h"
#include "rng.h"
#include "test.h"

enum { T_REC = 0, T_CHAIN = 1, T_STOP = 2, T_HOLD = 3 };

struct rec {
    uint64_t  arg[256];
    simtime_t t[256];
    size_t    n;
};

static void on_rec(eng_t *eng, struct ev *e, void *ctx)
{
    struct rec *r = ctx;
    SIM_ASSERT(r->n < 256);
    r->arg[r->n] = e->arg;
    r->t[r->n++] = eng_now(eng);
}

/* Schedules one T_REC at now, which must run after this handler and after T_RECs already
 * scheduled at now. */
static void on_chain(eng_t *eng, struct ev *e, void *ctx)
{
    (void)ctx;
    ASSERT_EQ(eng_schedule_at(eng, eng_now(eng), T_REC, NULL, 1000 + e->arg, NULL), 0);
}

static void on_stop(eng_t *eng, struct ev *e, void *ctx)
{
    (void)ctx;
    eng_stop(eng, (int)e->arg);
}

TEST(order_and_same_time_fifo)
{
    for (int k = 0; k < 2; k++) {
        eng_t     *eng = eng_new(&(struct eng_opts){.queue = k ? EVQ_HEAP : EVQ_CALENDAR});
        struct rec r = {0};
        eng_on(eng, T_REC, on_rec, &r);
        eng_on(eng, T_CHAIN, on_chain, NULL);
        ASSERT_EQ(eng_schedule_at(eng, 50, T_REC, NULL, 3, NULL), 0);
        ASSERT_EQ(eng_schedule_at(eng, 10, T_REC, NULL, 1, NULL), 0);
        ASSERT_EQ(eng_schedule_at(eng, 10, T_CHAIN, NULL, 7, NULL), 0);
        ASSERT_EQ(eng_schedule_at(eng, 10, T_REC, NULL, 2, NULL), 0);
        ASSERT_EQ(eng_run(eng, SIM_T_MAX), 0);
        /* At t=10: 1, then the chain (no record), then 2, then the chained 1007. */
        ASSERT_EQ(r.n, 4);
        ASSERT_EQ(r.arg[0], 1);
        ASSERT_EQ(r.arg[1], 2);
        ASSERT_EQ(r.arg[2], 1007);
        ASSERT_EQ(r.t[2], 10);
        ASSERT_EQ(r.arg[3], 3);
        ASSERT_EQ(eng_now(eng), 50);
        eng_free(eng);
    }
}

TEST(cancel_and_stale_handles)
{
    eng_t     *eng = eng_new(NULL);
    struct rec r = {0};
    eng_on(eng, T_REC, on_rec, &r);
    struct ev_handle a, b, c;
    eng_schedule_at(eng, 5, T_REC, NULL, 1, &a);
    eng_schedule_at(eng, 6, T_REC, NULL, 2, &b);
    eng_schedule_at(eng, 7, T_REC, NULL, 3, &c);
    ASSERT_EQ(eng_cancel(eng, b), 0);
    ASSERT_EQ(eng_cancel(eng, b), SIM_ENOENT); /* twice */
    ASSERT_EQ(eng_pending(eng), 2);
    ASSERT_EQ(eng_run(eng, 5), 0); /* stops before t=7 */
    ASSERT_EQ(r.n, 1);
    ASSERT_EQ(eng_cancel(eng, a), SIM_ENOENT); /* already fired */
    /* a's storage is reused by the next schedule: the old handle must stay stale. */
    struct ev_handle d;
    eng_schedule_at(eng, 8, T_REC, NULL, 4, &d);
    ASSERT_EQ(eng_cancel(eng, a), SIM_ENOENT);
    ASSERT_EQ(eng_run(eng, SIM_T_MAX), 0);
    ASSERT_EQ(r.n, 3);
    ASSERT_EQ(r.arg[1], 3);
    ASSERT_EQ(r.arg[2], 4);
    eng_free(eng);
}

TEST(stop_returns_status)
{
    eng_t     *eng = eng_new(NULL);
    struct rec r = {0};
    eng_on(eng, T_REC, on_rec, &r);
    eng_on(eng, T_STOP, on_stop, NULL);
    eng_schedule_at(eng, 1, T_STOP, NULL, (uint64_t)(int64_t)SIM_EINPUT, NULL);
    eng_schedule_at(eng, 2, T_REC, NULL, 9, NULL);
    ASSERT_EQ(eng_run(eng, SIM_T_MAX), SIM_EINPUT);
    ASSERT_EQ(r.n, 0);
    ASSERT_EQ(eng_run(eng, SIM_T_MAX), 0); /* resumes */
    ASSERT_EQ(r.n, 1);
    eng_free(eng); /* with nothing pending */
}

/* A hold model: each event reschedules itself at now + a random gap. */
struct hold {
    rng_t   *r;
    uint64_t left;
};

static void on_hold(eng_t *eng, struct ev *e, void *ctx)
{
    struct hold *h = ctx;
    if (h->left == 0)
        return;
    h->left--;
    simtime_t gap = (simtime_t)(gsl_rng_uniform(h->r) * 1000);
    ASSERT_EQ(eng_schedule_at(eng, eng_now(eng) + gap, T_HOLD, NULL, e->arg, NULL), 0);
}

static uint64_t run_hold(enum evq_kind kind, uint64_t *calls_in_steady_state)
{
    eng_t      *eng = eng_new(&(struct eng_opts){.queue = kind, .seed = 11});
    struct hold h = {.r = eng_rng(eng, 3), .left = 200000};
    eng_on(eng, T_HOLD, on_hold, &h);
    for (uint64_t i = 0; i < 5000; i++)
        eng_schedule_at(eng, (simtime_t)i, T_HOLD, NULL, i, NULL);
    ASSERT_EQ(eng_run(eng, 2000000), 0); /* warm up: pool and queue reach their size */
    uint64_t before = sim_alloc_stats().calls;
    ASSERT_EQ(eng_run(eng, SIM_T_MAX), 0);
    *calls_in_steady_state = sim_alloc_stats().calls - before;
    ASSERT_EQ(eng_pending(eng), 0);
    uint64_t hash = eng_hash(eng);
    ASSERT_EQ(eng_dispatched(eng), 205000);
    eng_free(eng);
    return hash;
}

/* Same hash on both queues; no allocation once warm. */
TEST(hold_model_hash_and_no_malloc)
{
    uint64_t calls_c, calls_h;
    uint64_t hc = run_hold(EVQ_CALENDAR, &calls_c);
    uint64_t hh = run_hold(EVQ_HEAP, &calls_h);
    ASSERT_TRUE(hc == hh);
    ASSERT_EQ(calls_c, 0);
    ASSERT_EQ(calls_h, 0);
}

TEST(engine_frees_everything)
{
    struct sim_alloc_stats s0 = sim_alloc_stats();
    eng_t                 *eng = eng_new(NULL);
    for (int i = 0; i < 3000; i++)
        eng_schedule_at(eng, i * 7, T_REC, NULL, 0, NULL);
    eng_rng(eng, 1);
    eng_free(eng); /* pending events and all */
    ASSERT_EQ(sim_alloc_stats().live, s0.live);
    ASSERT_EQ(sim_alloc_stats().live_bytes, s0.live_bytes);
    eng_free(NULL);
}

TEST(allocation_failure_walk)
{
    for (uint64_t n = 1; n < 10; n++) {
        struct sim_alloc_stats s0 = sim_alloc_stats();
        sim_alloc_fail_after(n);
        eng_t *eng = eng_new(NULL);
        int    rc = eng ? eng_schedule_at(eng, 1, T_REC, NULL, 0, NULL) : SIM_ENOMEM;
        sim_alloc_fail_after(0);
        ASSERT_TRUE(rc == 0 || rc == SIM_ENOMEM);
        eng_free(eng);
        ASSERT_EQ(sim_alloc_stats().live, s0.live);
    }
}

TEST(pool_reuses_objects)
{
    pool_t *p = pool_new(40, 8);
    void   *a[20];
    for (int i = 0; i < 20; i++)
        a[i] = pool_get(p);
    ASSERT_EQ(pool_in_use(p), 20);
    ASSERT_EQ(pool_slabs(p), 3);
    for (int i = 0; i < 20; i++)
        pool_put(p, a[i]);
    for (int i = 0; i < 20; i++)
        a[i] = pool_get(p);
    ASSERT_EQ(pool_slabs(p), 3); /* nothing new */
    for (int i = 0; i < 20; i++)
        for (int j = i + 1; j < 20; j++)
            ASSERT_TRUE(a[i] != a[j]);
    pool_free(p);
}

TEST(rng_streams)
{
    rng_t *a = rng_new(42, 1), *b = rng_new(42, 1), *c = rng_new(42, 2), *d = rng_new(43, 1);
    int    same_c = 0, same_d = 0;
    for (int i = 0; i < 1000; i++) {
        unsigned long x = gsl_rng_get(a);
        ASSERT_EQ(x, gsl_rng_get(b));
        same_c += x == gsl_rng_get(c);
        same_d += x == gsl_rng_get(d);
    }
    ASSERT_TRUE(same_c < 3 && same_d < 3);
    ASSERT_TRUE(rng_derive_seed(42, 1) != rng_derive_seed(42, 2));
    eng_t *eng = eng_new(&(struct eng_opts){.seed = 42});
    ASSERT_TRUE(eng_rng(eng, 1) == eng_rng(eng, 1));
    rng_t *fresh = rng_new(42, 1); /* the engine's stream 1 is exactly (seed 42, stream 1) */
    for (int i = 0; i < 100; i++)
        ASSERT_EQ(gsl_rng_get(eng_rng(eng, 1)), gsl_rng_get(fresh));
    rng_free(fresh);
    eng_free(eng);
    rng_free(a);
    rng_free(b);
    rng_free(c);
    rng_free(d);
}

int main(void)
{
    RUN(order_and_same_time_fifo);
    RUN(cancel_and_stale_handles);
    RUN(stop_returns_status);
    RUN(hold_model_hash_and_no_malloc);
    RUN(engine_frees_everything);
    RUN(allocation_failure_walk);
    RUN(pool_reuses_objects);
    RUN(rng_streams);
    return test_main_end();
}
