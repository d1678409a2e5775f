/*
 * test_cq.c: the calendar queue against its heap twin.
 *
 * The differential test runs long random programs of push / pop / peek / remove, with ties,
 * bursts of equal times, far-future jumps and resize storms, on both queues at once, and
 * requires identical results at every step; the invariant checkers of both queues run after
 * every operation (every few thousand operations in the long programs). Built with CQ_FAULT=N
 * (a planted bug in cq.c), this same file must fail: tests/meson.build registers those builds
 * with should_fail.
 */
#include <gsl/gsl_randist.h>

#include "alloc.h"
#include "cq.h"
#include "hq.h"
#include "rng.h"
#include "test.h"

struct prog {
    uint64_t seed;
    size_t   n_ops;
    size_t   nb_max;      /* calendar cap; small values force direct searches */
    double   mean_gap_ns; /* scale of the ordinary increments */
    size_t   check_every; /* run both checkers every this many operations */
    size_t   max_pending; /* pushes beyond this many pending events are skipped */
};

struct world {
    cq_t              *cq;
    hq_t              *hq;
    struct ev         *ec, *eh; /* event id i lives at ec[i] (calendar) and eh[i] (heap) */
    size_t            *pending; /* ids inside the queues */
    size_t            *where;   /* where[id] = index in pending */
    size_t            *free_ids;
    size_t             n_pending, n_free, cap;
    simtime_t          now; /* last popped time */
    gsl_rng           *r;
    const struct prog *p;
    size_t             op;
};

static void fail_at(struct world *w, const char *what)
{
    TEST_FAIL_("program seed %llu, op %zu: %s", (unsigned long long)w->p->seed, w->op, what);
}

static void world_init(struct world *w, const struct prog *p, size_t cap)
{
    memset(w, 0, sizeof *w);
    w->p = p;
    w->cap = cap;
    struct cq_opts o = {.nb_max = p->nb_max};
    w->cq = cq_new(&o);
    w->hq = hq_new();
    w->ec = calloc(cap, sizeof *w->ec);
    w->eh = calloc(cap, sizeof *w->eh);
    w->pending = calloc(cap, sizeof *w->pending);
    w->where = calloc(cap, sizeof *w->where);
    w->free_ids = calloc(cap, sizeof *w->free_ids);
    ASSERT_TRUE(w->cq && w->hq && w->ec && w->eh && w->pending && w->where && w->free_ids);
    for (size_t i = 0; i < cap; i++)
        w->free_ids[w->n_free++] = cap - 1 - i;
    w->r = rng_new(p->seed, 0);
}

static void world_fini(struct world *w)
{
    cq_free(w->cq);
    hq_free(w->hq);
    free(w->ec);
    free(w->eh);
    free(w->pending);
    free(w->where);
    free(w->free_ids);
    rng_free(w->r);
}

static void push_at(struct world *w, simtime_t t)
{
    if (!w->n_free)
        return;
    if (t > SIM_T_MAX)
        t = SIM_T_MAX;
    size_t id = w->free_ids[--w->n_free];
    w->ec[id] = (struct ev){.t_ns = t, .arg = id};
    w->eh[id] = (struct ev){.t_ns = t, .arg = id};
    ASSERT_EQ(cq_push(w->cq, &w->ec[id]), 0);
    ASSERT_EQ(hq_push(w->hq, &w->eh[id]), 0);
    if (w->ec[id].seq != w->eh[id].seq)
        fail_at(w, "seq stamps differ");
    w->where[id] = w->n_pending;
    w->pending[w->n_pending++] = id;
}

static void forget(struct world *w, size_t id)
{
    size_t i = w->where[id], last = w->pending[--w->n_pending];
    w->pending[i] = last;
    w->where[last] = i;
    w->free_ids[w->n_free++] = id;
}

static simtime_t next_time(struct world *w)
{
    double    u = gsl_rng_uniform(w->r);
    simtime_t d;
    if (u < 0.45)
        d = (simtime_t)gsl_ran_exponential(w->r, w->p->mean_gap_ns);
    else if (u < 0.60)
        d = 0;                         /* tie with the current time */
    else if (u < 0.70 && w->n_pending) /* tie with an event already inside */
        return w->ec[w->pending[gsl_rng_uniform_int(w->r, w->n_pending)]].t_ns;
    else if (u < 0.80)
        d = (simtime_t)gsl_rng_uniform_int(w->r, 4);
    else if (u < 0.81) /* far future: 2^30 .. 2^60 ns ahead */
        d = INT64_C(1) << (30 + gsl_rng_uniform_int(w->r, 31));
    else
        d = (simtime_t)(gsl_rng_uniform(w->r) * 10 * w->p->mean_gap_ns);
    return w->now > SIM_T_MAX - d ? SIM_T_MAX : w->now + d;
}

static void pop_one(struct world *w)
{
    struct ev *c = cq_pop(w->cq), *h = hq_pop(w->hq);
    if (!c || !h) {
        if (c || h)
            fail_at(w, "one queue empty, the other not");
        return;
    }
    if (c->arg != h->arg || c->t_ns != h->t_ns) {
        char msg[160];
        snprintf(msg, sizeof msg, "pop differs: calendar (t=%lld id=%llu) heap (t=%lld id=%llu)",
                 (long long)c->t_ns, (unsigned long long)c->arg, (long long)h->t_ns,
                 (unsigned long long)h->arg);
        fail_at(w, msg);
    }
    if (c->t_ns < w->now)
        fail_at(w, "time went backwards");
    w->now = c->t_ns;
    forget(w, c->arg);
}

static void check_both(struct world *w)
{
    struct sim_msg m = {{0}};
    if (cq_size(w->cq) != hq_size(w->hq) || cq_size(w->cq) != w->n_pending)
        fail_at(w, "sizes differ");
    if (cq_check(w->cq, &m))
        fail_at(w, m.text);
    if (hq_check(w->hq, &m))
        fail_at(w, m.text);
}

static void run_program(const struct prog *p)
{
    struct world w;
    world_init(&w, p, p->max_pending);
    double p_push = 0.5;
    for (w.op = 0; w.op < p->n_ops; w.op++) {
        if (w.op % (p->n_ops / 16 + 1) == 0) /* phases: grow, shrink, hover */
            p_push = 0.3 + 0.4 * gsl_rng_uniform(w.r);
        double u = gsl_rng_uniform(w.r);
        if (u < 0.002) { /* resize storm: fill fast, then drain as much and a little more */
            size_t k = 500 + gsl_rng_uniform_int(w.r, 3000);
            for (size_t i = 0; i < k; i++)
                push_at(&w, next_time(&w));
            for (size_t i = 0; i < k + 20; i++)
                pop_one(&w);
        } else if (u < 0.005) { /* burst of equal times */
            simtime_t t = next_time(&w);
            size_t    k = 10 + gsl_rng_uniform_int(w.r, 200);
            for (size_t i = 0; i < k; i++)
                push_at(&w, t);
        } else if (u < 0.05) {
            struct ev *c = cq_peek(w.cq), *h = hq_peek(w.hq);
            if ((c == NULL) != (h == NULL) || (c && c->arg != h->arg))
                fail_at(&w, "peek differs");
        } else if (u < 0.10) {
            if (w.n_pending) {
                size_t id = w.pending[gsl_rng_uniform_int(w.r, w.n_pending)];
                cq_remove(w.cq, &w.ec[id]);
                hq_remove(w.hq, &w.eh[id]);
                forget(&w, id);
            }
        } else if (u < 0.10 + 0.90 * p_push) {
            push_at(&w, next_time(&w));
        } else {
            pop_one(&w);
        }
        if (w.op % p->check_every == 0)
            check_both(&w);
    }
    while (w.n_pending) { /* drain: the whole tail must agree too */
        pop_one(&w);
        if (w.n_pending % 97 == 0)
            check_both(&w);
    }
    check_both(&w);
    world_fini(&w);
}

TEST(differential_short_programs)
{
    static const size_t caps[] = {2, 4, 64, 0};
    static const double gaps[] = {1, 10, 1e3, 1e6, 1e9};
    for (uint64_t s = 1; s <= 120; s++) {
        struct prog p = {.seed = s,
                         .n_ops = 3000,
                         .nb_max = caps[s % 4],
                         .mean_gap_ns = gaps[s % 5],
                         .check_every = 1,
                         .max_pending = 1024};
        run_program(&p);
    }
}

TEST(differential_long_programs)
{
    for (uint64_t s = 1000; s < 1004; s++) {
        struct prog p = {.seed = s,
                         .n_ops = 200000,
                         .nb_max = 0,
                         .mean_gap_ns = s % 2 ? 1e4 : 7,
                         .check_every = 4999,
                         .max_pending = 1u << 17};
        run_program(&p);
    }
}

/* Equal times pop in push order, through resizes. */
TEST(fifo_ties)
{
    cq_t            *q = cq_new(NULL);
    static struct ev e[5000];
    for (int i = 0; i < 5000; i++) {
        e[i] = (struct ev){.t_ns = 42, .arg = (uint64_t)i};
        cq_push(q, &e[i]);
    }
    ASSERT_EQ(cq_check(q, NULL), 0);
    for (int i = 0; i < 5000; i++) {
        struct ev *x = cq_pop(q);
        ASSERT_TRUE(x);
        ASSERT_EQ(x->arg, i);
    }
    ASSERT_TRUE(cq_pop(q) == NULL && cq_peek(q) == NULL);
    cq_free(q);
}

/* Only equal times: the width estimator has nothing to learn and must keep its width. */
TEST(zero_gaps_keep_width)
{
    cq_t            *q = cq_new(NULL);
    static struct ev e[4096];
    simtime_t        w0 = cq_stats(q).width_ns;
    for (int i = 0; i < 4096; i++) {
        e[i] = (struct ev){.t_ns = 7};
        cq_push(q, &e[i]);
    }
    struct cq_stats s = cq_stats(q);
    ASSERT_TRUE(s.n_resize > 0);
    ASSERT_EQ(s.width_ns, w0);
    ASSERT_EQ(cq_check(q, NULL), 0);
    cq_free(q);
}

/* A width learnt from a dense start must not stick once the queue's size holds steady: the cost
 * watch re-estimates it at the same bucket count. */
TEST(stale_width_is_reestimated)
{
    cq_t            *q = cq_new(NULL);
    static struct ev e[4000];
    gsl_rng         *r = rng_new(5, 0);
    for (int i = 0; i < 4000; i++) { /* 1 ns apart: the width learnt is about 1 ns */
        e[i] = (struct ev){.t_ns = i};
        cq_push(q, &e[i]);
    }
    struct cq_stats s0 = cq_stats(q);
    for (int i = 0; i < 200000; i++) { /* hold model: the distribution spreads out */
        struct ev *x = cq_pop(q);
        x->t_ns += (simtime_t)gsl_ran_exponential(r, 1e9);
        cq_push(q, x);
    }
    struct cq_stats s1 = cq_stats(q);
    ASSERT_EQ(s1.n_buckets, s0.n_buckets);
    ASSERT_TRUE(s1.n_resize > s0.n_resize);
    ASSERT_TRUE(s1.width_ns != s0.width_ns);
    ASSERT_EQ(cq_check(q, NULL), 0);
    rng_free(r);
    cq_free(q);
}

/* A lone far-future event is found by direct search, and the cursor lands on it. */
TEST(far_future)
{
    cq_t     *q = cq_new(NULL);
    struct ev a = {.t_ns = SIM_T_MAX, .arg = 1}, b = {.t_ns = 5, .arg = 2};
    struct ev c = {.t_ns = INT64_C(1) << 50, .arg = 3};
    cq_push(q, &a);
    cq_push(q, &b);
    cq_push(q, &c);
    ASSERT_EQ(cq_pop(q)->arg, 2);
    ASSERT_EQ(cq_pop(q)->arg, 3);
    ASSERT_EQ(cq_check(q, NULL), 0);
    ASSERT_EQ(cq_pop(q)->arg, 1);
    ASSERT_TRUE(cq_stats(q).n_direct_search > 0);
    cq_free(q);
}

/* A push earlier than the window a peek moved the cursor to must still pop first. */
TEST(push_before_cursor_after_peek)
{
    cq_t     *q = cq_new(NULL);
    struct ev a = {.t_ns = 1000000000, .arg = 1}, b = {.t_ns = 3, .arg = 2};
    cq_push(q, &a);
    ASSERT_EQ(cq_peek(q)->arg, 1);
    cq_push(q, &b);
    ASSERT_EQ(cq_check(q, NULL), 0);
    ASSERT_EQ(cq_pop(q)->arg, 2);
    ASSERT_EQ(cq_pop(q)->arg, 1);
    cq_free(q);
}

/* The checker itself must see corruption: the deliberate-fault operations of R23. */
TEST(checker_detects_corruption)
{
    cq_t            *q = cq_new(NULL);
    hq_t            *h = hq_new();
    static struct ev e[300], f[300];
    for (int i = 0; i < 300; i++) {
        e[i] = (struct ev){.t_ns = 1000 * (i % 37) + i};
        f[i] = e[i];
        cq_push(q, &e[i]);
        hq_push(h, &f[i]);
    }
    ASSERT_EQ(cq_check(q, NULL), 0);
    ASSERT_EQ(hq_check(h, NULL), 0);
    struct sim_msg m;
    for (int i = 0; i < 300; i += 7) {
        simtime_t t = e[i].t_ns;
        e[i].t_ns = t + 1000003; /* now in the wrong bucket or out of order */
        ASSERT_TRUE(cq_check(q, &m) != 0);
        e[i].t_ns = t;
        uint64_t s = e[i].seq;
        e[i].seq = UINT64_MAX; /* a stamp from the future */
        ASSERT_TRUE(cq_check(q, &m) != 0);
        e[i].seq = s;
        t = f[i].t_ns;
        f[i].t_ns = t + 1; /* heap key and event disagree */
        ASSERT_TRUE(hq_check(h, &m) != 0);
        f[i].t_ns = t;
    }
    ASSERT_EQ(cq_check(q, NULL), 0);
    ASSERT_EQ(hq_check(h, NULL), 0);
    cq_free(q);
    hq_free(h);
}

/* Every allocation failure in cq_new/hq_new returns NULL and leaks nothing; a failed heap push
 * leaves the heap unchanged; a failed calendar resize keeps a working queue. */
TEST(allocation_failures)
{
    for (uint64_t n = 1; n <= 3; n++) {
        struct sim_alloc_stats before = sim_alloc_stats();
        sim_alloc_fail_after(n);
        cq_t *q = cq_new(NULL);
        sim_alloc_fail_after(0);
        if (q)
            cq_free(q);
        else
            ASSERT_EQ(sim_alloc_stats().live, before.live);
    }
    hq_t            *h = hq_new();
    static struct ev e[100];
    for (int i = 0; i < 16; i++) {
        e[i] = (struct ev){.t_ns = i};
        ASSERT_EQ(hq_push(h, &e[i]), 0);
    }
    sim_alloc_fail_after(1);
    e[16] = (struct ev){.t_ns = 99};
    ASSERT_EQ(hq_push(h, &e[16]), SIM_ENOMEM);
    sim_alloc_fail_after(0);
    ASSERT_EQ(hq_size(h), 16);
    ASSERT_EQ(hq_check(h, NULL), 0);
    hq_free(h);

    cq_t *q = cq_new(NULL);
    sim_alloc_fail_after(1);
    for (int i = 0; i < 100; i++) {
        e[i] = (struct ev){.t_ns = 100 - i};
        cq_push(q, &e[i]);
    }
    sim_alloc_fail_after(0);
    ASSERT_EQ(cq_check(q, NULL), 0);
    for (int i = 99; i >= 0; i--)
        ASSERT_EQ(cq_pop(q)->t_ns, 100 - i);
    cq_free(q);
}

int main(void)
{
#if defined(CQ_FAULT) && CQ_FAULT
    /* A planted bug: the differential test alone must catch it. */
    RUN(differential_short_programs);
    RUN(differential_long_programs);
    (void)fifo_ties, (void)zero_gaps_keep_width, (void)far_future, (void)stale_width_is_reestimated;
    (void)push_before_cursor_after_peek, (void)checker_detects_corruption;
    (void)allocation_failures;
#else
    RUN(differential_short_programs);
    RUN(differential_long_programs);
    RUN(fifo_ties);
    RUN(zero_gaps_keep_width);
    RUN(stale_width_is_reestimated);
    RUN(far_future);
    RUN(push_before_cursor_after_peek);
    RUN(checker_detects_corruption);
    RUN(allocation_failures);
#endif
    return test_main_end();
}
