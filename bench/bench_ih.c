/*
 * bench_ih.c: the generic intrusive index heap (engine/ih.h: pointers, positions at an offset,
 * the caller's comparator) against the specialised heaps it could replace, side by side in one
 * run. Two columns for ih: "new", the comparator a constant at the call site (inlined, as
 * sched.c and replica.c call it), and "indirect", the same comparator read from a volatile
 * pointer, so that every comparison is an indirect call (what an out-of-line generic heap pays).
 *   - events: engine/hq.c (keys (t, seq) inline in the array) vs ih over the same struct ev;
 *     the hold model of bench_cq.c (pop the earliest, push it back later), exponential
 *     increments with mean 1 s;
 *   - policy keys: the specialised heap sched.c had (typed, comparator inlined) vs ih, on
 *     elements ordered by (key, entry order) as sched.c's are; each op pops the least and pushes
 *     a fresh key, and every fourth op also removes a random element and pushes it back (a
 *     request leaving the queue out of order), so push, pop and remove are all timed.
 * Every side sees the same random draws, made before timing. R repeats interleaved; the table
 * prints median ns per op and the ratios new / old and indirect / old (> 1: ih is slower).
 * Usage: bench_ih [max_N]   (default 1e6)
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_sort.h>

#include "alloc.h"
#include "hq.h"
#include "ih.h"
#include "rng.h"

enum { REPS = 7 };

static double median(double *v)
{
    gsl_sort(v, 1, REPS);
    return v[REPS / 2];
}

/* ---- events: hq vs ih ---- */

static bool ev_less(const void *a, const void *b) { return ev_before(a, b); }

/* The comparators as opaque pointers, for the "indirect" column. */
static ih_less_fn volatile ev_less_indirect = ev_less;

enum side { OLD = 0, NEW, INDIRECT };

/* Fill with n events, then time h holds through hq. Returns ns per hold. */
static double ev_run_hq(struct ev *evs, size_t n, const simtime_t *incr, size_t h)
{
    hq_t *hq = hq_new();
    for (size_t i = 0; i < n; i++) {
        evs[i] = (struct ev){.t_ns = incr[i]};
        hq_push(hq, &evs[i]);
    }
    int64_t t0 = sim_wall_ns();
    for (size_t i = 0; i < h; i++) {
        struct ev *e = hq_pop(hq);
        e->t_ns += incr[(n + i) % (n + h)];
        hq_push(hq, e);
    }
    double ns = (double)(sim_wall_ns() - t0) / (double)h;
    hq_free(hq);
    return ns;
}

/* The same through ih (inlined into each caller, so that a constant less stays constant). */
IH_INLINE double ev_run_ih(struct ev *evs, size_t n, const simtime_t *incr, size_t h,
                           ih_less_fn less)
{
    struct ih ih;
    uint64_t  seq = 0;
    ih_init(&ih, offsetof(struct ev, link.pos));
    for (size_t i = 0; i < n; i++) {
        evs[i] = (struct ev){.t_ns = incr[i], .seq = seq++};
        ih_push(&ih, &evs[i], less);
    }
    int64_t t0 = sim_wall_ns();
    for (size_t i = 0; i < h; i++) {
        struct ev *e = ih_pop(&ih, less);
        e->t_ns += incr[(n + i) % (n + h)];
        e->seq = seq++; /* hq stamps its own */
        ih_push(&ih, e, less);
    }
    double ns = (double)(sim_wall_ns() - t0) / (double)h;
    ih_fini(&ih);
    return ns;
}

static double ev_run(enum side side, struct ev *evs, size_t n, const simtime_t *incr, size_t h)
{
    switch (side) {
    case OLD: return ev_run_hq(evs, n, incr, h);
    case NEW: return ev_run_ih(evs, n, incr, h, ev_less);
    default: return ev_run_ih(evs, n, incr, h, ev_less_indirect);
    }
}

/* ---- policy keys: the specialised heap vs ih ---- */

struct item {
    double   key;
    uint64_t seq;
    size_t   pos;
};

static inline bool item_before(const struct item *a, const struct item *b)
{
    return a->key < b->key || (a->key == b->key && a->seq < b->seq);
}

static bool item_less(const void *a, const void *b) { return item_before(a, b); }

static ih_less_fn volatile item_less_indirect = item_less;

/* The specialised heap: what sched.c and the replica's iteration heap were before ih. */
struct spec {
    struct item **a;
    size_t        n;
};

static void spec_place(struct spec *s, size_t i, struct item *x)
{
    s->a[i] = x;
    x->pos = i;
}

static void spec_up(struct spec *s, size_t i)
{
    struct item *x = s->a[i];
    for (; i > 0 && item_before(x, s->a[(i - 1) / 2]); i = (i - 1) / 2)
        spec_place(s, i, s->a[(i - 1) / 2]);
    spec_place(s, i, x);
}

static void spec_down(struct spec *s, size_t i)
{
    struct item *x = s->a[i];
    for (size_t c; (c = 2 * i + 1) < s->n; i = c) {
        c += c + 1 < s->n && item_before(s->a[c + 1], s->a[c]);
        if (!item_before(s->a[c], x))
            break;
        spec_place(s, i, s->a[c]);
    }
    spec_place(s, i, x);
}

static void spec_push(struct spec *s, struct item *x)
{
    s->a[s->n] = x;
    spec_up(s, s->n++);
}

static void spec_remove(struct spec *s, struct item *x)
{
    size_t       i = x->pos;
    struct item *last = s->a[--s->n];
    if (i < s->n) {
        spec_place(s, i, last);
        spec_up(s, i);
        spec_down(s, last->pos);
    }
}

/* Fill with n items, then time h ops through the specialised heap. Returns ns per op. */
static double key_run_spec(struct item *it, size_t n, const double *keys, const size_t *victims,
                           size_t h)
{
    struct spec sp = {malloc(n * sizeof *sp.a), 0};
    uint64_t    seq = 0;
    for (size_t i = 0; i < n; i++) {
        it[i] = (struct item){.key = keys[i], .seq = seq++};
        spec_push(&sp, &it[i]);
    }
    int64_t t0 = sim_wall_ns();
    for (size_t i = 0; i < h; i++) {
        struct item *x = sp.a[0];
        spec_remove(&sp, x);
        x->key = keys[(n + i) % (n + h)];
        x->seq = seq++;
        spec_push(&sp, x);
        if (i % 4 == 0) { /* one out of order: remove and push back */
            spec_remove(&sp, &it[victims[i]]);
            spec_push(&sp, &it[victims[i]]);
        }
    }
    double ns = (double)(sim_wall_ns() - t0) / (double)h;
    free(sp.a);
    return ns;
}

/* The same through ih. */
IH_INLINE double key_run_ih(struct item *it, size_t n, const double *keys, const size_t *victims,
                            size_t h, ih_less_fn less)
{
    struct ih ih;
    uint64_t  seq = 0;
    ih_init(&ih, offsetof(struct item, pos));
    for (size_t i = 0; i < n; i++) {
        it[i] = (struct item){.key = keys[i], .seq = seq++};
        ih_push(&ih, &it[i], less);
    }
    int64_t t0 = sim_wall_ns();
    for (size_t i = 0; i < h; i++) {
        struct item *x = ih_pop(&ih, less);
        x->key = keys[(n + i) % (n + h)];
        x->seq = seq++;
        ih_push(&ih, x, less);
        if (i % 4 == 0) {
            ih_remove(&ih, &it[victims[i]], less);
            ih_push(&ih, &it[victims[i]], less);
        }
    }
    double ns = (double)(sim_wall_ns() - t0) / (double)h;
    ih_fini(&ih);
    return ns;
}

static double key_run(enum side side, struct item *it, size_t n, const double *keys,
                      const size_t *victims, size_t h)
{
    switch (side) {
    case OLD: return key_run_spec(it, n, keys, victims, h);
    case NEW: return key_run_ih(it, n, keys, victims, h, item_less);
    default: return key_run_ih(it, n, keys, victims, h, item_less_indirect);
    }
}

static void row(const char *name, size_t n, double t[3][REPS])
{
    double o = median(t[OLD]), w = median(t[NEW]), d = median(t[INDIRECT]);
    printf("%-12s %10zu %10.1f %10.1f %10.1f %9.2f %9.2f\n", name, n, o, w, d, w / o, d / o);
}

int main(int argc, char **argv)
{
    size_t   max_n = argc > 1 ? (size_t)atof(argv[1]) : 1000000;
    gsl_rng *r = rng_new(2025, 0);
    printf("median of %d repeats, ns per op; old = specialised heap, new = ih (comparator "
           "inlined), indirect = ih (comparator called through a pointer)\n",
           REPS);
    printf("%-12s %10s %10s %10s %10s %9s %9s\n", "heap", "pending", "old", "new", "indirect",
           "new/old", "ind/old");
    for (size_t n = 16; n <= max_n; n *= 16) {
        size_t       h = n * 4 > 2000000 ? n * 4 : 2000000;
        struct ev   *evs = malloc(n * sizeof *evs);
        struct item *it = malloc(n * sizeof *it);
        simtime_t   *incr = malloc((n + h) * sizeof *incr);
        double      *keys = malloc((n + h) * sizeof *keys);
        size_t      *victims = malloc(h * sizeof *victims);
        if (!evs || !it || !incr || !keys || !victims)
            return 1;
        for (size_t i = 0; i < n + h; i++) {
            incr[i] = (simtime_t)gsl_ran_exponential(r, 1e9);
            keys[i] = (double)gsl_rng_uniform_int(r, 1000); /* ties, as predicted lengths have */
        }
        for (size_t i = 0; i < h; i++)
            victims[i] = gsl_rng_uniform_int(r, n);
        double t[3][REPS];
        for (int k = 0; k < REPS; k++) /* interleaved so drift hits every side alike */
            for (int d = OLD; d <= INDIRECT; d++)
                t[d][k] = ev_run((enum side)d, evs, n, incr, h);
        row("events", n, t);
        for (int k = 0; k < REPS; k++)
            for (int d = OLD; d <= INDIRECT; d++)
                t[d][k] = key_run((enum side)d, it, n, keys, victims, h);
        row("policy keys", n, t);
        fflush(stdout);
        free(evs);
        free(it);
        free(incr);
        free(keys);
        free(victims);
    }
    rng_free(r);
    return 0;
}
