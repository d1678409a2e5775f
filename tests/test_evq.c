/*
 * test_evq.c (issue 13, item 4): the calendar kind of evq moves its events between a heap (few
 * pending) and a calendar queue (many) and must still pop exactly the (t, seq) order. Oracle:
 * a plain hq (engine/hq.c, the reference heap) fed the same operations. Random pushes, pops and
 * removes drive the size up and down across EVQ_TO_CALENDAR and EVQ_TO_HEAP many times, with
 * bursts of equal times (FIFO among them), far-future events and removals of arbitrary events;
 * every popped event and every seq must match the oracle's, and both queues' invariants
 * (evq_check) must hold after every operation.
 */
#include <stdlib.h>

#include <gsl/gsl_rng.h>

#include "evq.h"
#include "test.h"

enum { N_EV = 4096 };

struct pair {
    struct ev a, b; /* a in the evq under test, b in the oracle */
    int       in;
};

TEST(calendar_kind_matches_heap_across_moves)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 1313);
    struct pair *p = calloc(N_EV, sizeof *p);
    size_t      *live = calloc(N_EV, sizeof *live), n_live = 0;
    struct evq   q;
    hq_t        *o = hq_new();
    ASSERT_TRUE(p && live && o && !evq_init(&q, EVQ_CALENDAR));
    simtime_t now = 0;
    size_t    moves = 0, ops = 0;
    int       was_cq = 0;
    for (int phase = 0; phase < 60; phase++) {
        /* Alternate filling to a random target (up to 400) and draining to a small one. */
        size_t target = phase % 2 ? gsl_rng_uniform_int(r, 10) : 20 + gsl_rng_uniform_int(r, 400);
        while (n_live != target) {
            double u = gsl_rng_uniform(r);
            int    grow = n_live < target;
            if (grow && u < 0.9) {
                size_t i = 0;
                while (p[i].in)
                    i++;
                simtime_t d = gsl_rng_uniform(r) < 0.3 ? 0 /* ties */
                              : gsl_rng_uniform(r) < 0.05
                                  ? (simtime_t)1 << 40
                                  : (simtime_t)gsl_rng_uniform_int(r, 1000000);
                p[i].a.t_ns = p[i].b.t_ns = now + d;
                p[i].a.arg = p[i].b.arg = i;
                ASSERT_EQ(evq_push(&q, &p[i].a), 0);
                ASSERT_EQ(hq_push(o, &p[i].b), 0);
                ASSERT_EQ(p[i].a.seq, p[i].b.seq);
                p[i].in = 1;
                live[n_live++] = i;
            } else if (n_live && (u < 0.97 || !grow)) {
                if (gsl_rng_uniform(r) < 0.25) { /* remove an arbitrary event */
                    size_t k = gsl_rng_uniform_int(r, n_live), i = live[k];
                    evq_remove(&q, &p[i].a);
                    hq_remove(o, &p[i].b);
                    p[i].in = 0;
                    live[k] = live[--n_live];
                } else {
                    struct ev *x = evq_pop(&q), *y = hq_pop(o);
                    ASSERT_TRUE(x && y);
                    ASSERT_EQ(x->arg, y->arg);
                    ASSERT_EQ(x->seq, y->seq);
                    ASSERT_EQ(x->t_ns, y->t_ns);
                    now = x->t_ns;
                    p[x->arg].in = 0;
                    for (size_t k = 0; k < n_live; k++)
                        if (live[k] == x->arg) {
                            live[k] = live[--n_live];
                            break;
                        }
                }
            }
            ASSERT_EQ(evq_size(&q), hq_size(o));
            ASSERT_EQ(evq_size(&q), n_live);
            ASSERT_EQ(evq_check(&q, NULL), 0);
            moves += q.in_cq != was_cq;
            was_cq = q.in_cq;
            ops++;
        }
    }
    while (evq_size(&q)) { /* drain: the rest in order */
        struct ev *x = evq_pop(&q), *y = hq_pop(o);
        ASSERT_EQ(x->arg, y->arg);
        ASSERT_EQ(x->seq, y->seq);
    }
    ASSERT_TRUE(hq_pop(o) == NULL);
    printf("  %zu operations, %zu moves between heap and calendar queue\n", ops, moves);
    ASSERT_TRUE(moves >= 20); /* the test exercised the hand-over, both ways */
    evq_fini(&q);
    hq_free(o);
    free(p);
    free(live);
    gsl_rng_free(r);
}

int main(void)
{
    RUN(calendar_kind_matches_heap_across_moves);
    return test_main_end();
}
