/* hq.c: binary min-heap with inline keys (see hq.h for the contract).
 *
 * Not built on engine/ih.h, the heap that sched.c and the replicas use: the keys (t, seq) sit in
 * the array beside the event pointers, so a sift compares without touching the events. Through
 * ih (pointers only, each comparison loading two events) the hold model ran 1.15-1.19x slower
 * with 16 to 4096 events pending and 1.47x with 65536 (bench/bench_ih.c, the "events" rows),
 * and this heap is the event loop's hot path under --queue heap. */
#include "hq.h"

#include "alloc.h"

struct hq_ent {
    simtime_t  t;
    uint64_t   seq;
    struct ev *e;
};

struct hq {
    struct hq_ent *a;
    size_t         n, cap;
    uint64_t       next_seq;
    simtime_t      last_t;
};

hq_t *hq_new(void) { return sim_calloc(1, sizeof(hq_t)); }

void hq_free(hq_t *q)
{
    if (!q)
        return;
    sim_free(q->a);
    sim_free(q);
}

size_t hq_size(const hq_t *q) { return q->n; }

static inline int ent_less(const struct hq_ent *x, const struct hq_ent *y)
{
    return x->t < y->t || (x->t == y->t && x->seq < y->seq);
}

static inline void place(hq_t *q, size_t i, struct hq_ent x)
{
    q->a[i] = x;
    x.e->link.pos = i;
}

static void sift_up(hq_t *q, size_t i)
{
    struct hq_ent x = q->a[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ent_less(&x, &q->a[p]))
            break;
        place(q, i, q->a[p]);
        i = p;
    }
    place(q, i, x);
}

static void sift_down(hq_t *q, size_t i)
{
    struct hq_ent x = q->a[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->n)
            break;
        if (c + 1 < q->n && ent_less(&q->a[c + 1], &q->a[c]))
            c++;
        if (!ent_less(&q->a[c], &x))
            break;
        place(q, i, q->a[c]);
        i = c;
    }
    place(q, i, x);
}

int hq_push(hq_t *q, struct ev *e)
{
    SIM_ASSERT(e->t_ns >= q->last_t && e->t_ns <= SIM_T_MAX);
    int rc = SIM_GROW(q->a, q->cap, q->n + 1);
    if (rc)
        return rc;
    e->seq = q->next_seq++;
    q->a[q->n] = (struct hq_ent){e->t_ns, e->seq, e};
    sift_up(q, q->n++);
    return SIM_OK;
}

int hq_push_stamped(hq_t *q, struct ev *e)
{
    SIM_ASSERT(e->t_ns >= q->last_t && e->t_ns <= SIM_T_MAX && e->seq < q->next_seq);
    int rc = SIM_GROW(q->a, q->cap, q->n + 1);
    if (rc)
        return rc;
    q->a[q->n] = (struct hq_ent){e->t_ns, e->seq, e};
    sift_up(q, q->n++);
    return SIM_OK;
}

int hq_reserve(hq_t *q, size_t n) { return SIM_GROW(q->a, q->cap, n); }

void hq_restart(hq_t *q, uint64_t next_seq, simtime_t last_t)
{
    SIM_ASSERT(!q->n && next_seq >= q->next_seq);
    q->next_seq = next_seq;
    q->last_t = last_t;
}

uint64_t  hq_next_seq(const hq_t *q) { return q->next_seq; }
simtime_t hq_last_t(const hq_t *q) { return q->last_t; }

struct ev *hq_peek(hq_t *q) { return q->n ? q->a[0].e : NULL; }

/* Take out the entry at i, filling the hole with the last entry. */
static void take(hq_t *q, size_t i)
{
    q->n--;
    if (i == q->n)
        return;
    q->a[i] = q->a[q->n];
    if (i > 0 && ent_less(&q->a[i], &q->a[(i - 1) / 2]))
        sift_up(q, i);
    else
        sift_down(q, i);
}

struct ev *hq_pop(hq_t *q)
{
    if (!q->n)
        return NULL;
    struct ev *e = q->a[0].e;
    take(q, 0);
    q->last_t = e->t_ns;
    return e;
}

void hq_remove(hq_t *q, struct ev *e)
{
    size_t i = e->link.pos;
    SIM_ASSERT(i < q->n && q->a[i].e == e);
    take(q, i);
}

int hq_check(const hq_t *q, struct sim_msg *why)
{
    for (size_t i = 0; i < q->n; i++) {
        const struct hq_ent *x = &q->a[i];
        if (x->e->link.pos != i)
            return sim_msg_set(why, SIM_EINVARIANT, "entry %zu has back-pointer %zu", i,
                               x->e->link.pos);
        if (x->t != x->e->t_ns || x->seq != x->e->seq)
            return sim_msg_set(why, SIM_EINVARIANT, "entry %zu key differs from its event", i);
        if (i > 0 && ent_less(x, &q->a[(i - 1) / 2]))
            return sim_msg_set(why, SIM_EINVARIANT, "entry %zu smaller than its parent", i);
        if (x->t < q->last_t)
            return sim_msg_set(why, SIM_EINVARIANT, "entry %zu before last popped time", i);
        if (x->seq >= q->next_seq)
            return sim_msg_set(why, SIM_EINVARIANT, "entry %zu seq not yet stamped", i);
    }
    return SIM_OK;
}
