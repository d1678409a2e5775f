/*
 * cq.c: calendar queue (see cq.h for the contract).
 *
 * Brown's algorithm with integer time and every guard written out:
 * - zero gaps: equal times carry no information about the width, so the estimator ignores them;
 *   a burst of equal times lands in one bucket and appends at its tail in O(1);
 * - huge gaps: the width is clamped to CQ_WIDTH_MAX and an event more than a year ahead is
 *   found by a direct search of the bucket heads, after which the cursor is recomputed;
 * - no usable sample (all gaps zero, or fewer than two events): keep the previous width;
 * - hysteresis: grow at size > N, shrink at size < N/4 - 2, so one push or pop never undoes the
 *   resize just made;
 * - sampling pops events and pushes them back: resize is disabled meanwhile, and the scan cursor
 *   and last popped time are saved and restored around it;
 * - a push before the cursor's window (possible after a peek, or into an empty queue) moves the
 *   cursor back to that event's bucket.
 *
 * CQ_FAULT selects a deliberately planted bug; it exists only so that the test suite can show
 * that its differential and invariant checks fail when the queue is wrong (tests/meson.build).
 */
#include "cq.h"

#include <math.h>
#include <string.h>

#include "alloc.h"

#ifndef CQ_FAULT
#define CQ_FAULT 0
#endif

enum {
    CQ_NB_MIN = 2,         /* Brown: start with two buckets */
    CQ_NB_MAX = 1u << 20,  /* 16 MiB of bucket heads; beyond this buckets just get longer */
    CQ_SAMPLE_MAX = 25,    /* Brown: sample at most 25 events to estimate the width */
    CQ_SAMPLE_SCAN = 1024, /* samples kept on the stack; longer bursts spill to the heap */
    CQ_COST_WINDOW = 1024, /* operations between two looks at the cost counters (at least) */
    CQ_COST_MAX = 8,       /* list steps + buckets scanned per operation that call for a new
                               * width at the same size (Oh and Ahn's dynamic calendar queue) */
};
/* Width = CQ_WIDTH_MULT x the mean sampled gap, and grow/shrink at N and N/4 (set_thresholds):
 * about one event per bucket. Brown chose 3x and 2N/N/2 (three events per bucket) when walking a
 * list cost about what skipping an empty bucket did; today a list step is a cache miss while
 * skipping empty buckets is a sequential read. Measured with bench/bench_cq at 10^6 pending,
 * exponential increments: 3x with 2N: 200 ns/hold; 1x with N: 157 ns/hold (heap: 450). */
#define CQ_WIDTH_MULT 1.0
/* Initial width: 1 ms, a typical gap between serving events; the first resize corrects it. */
#define CQ_WIDTH_INIT SIM_NS_PER_MS
/* Width cap: 2^40 ns (about 18 minutes). Keeps top + N * width below 2^63 during a scan
 * (2^62 + 2^20 * 2^40 < 2^63); longer gaps are served by the direct search. */
#define CQ_WIDTH_MAX (INT64_C(1) << 40)

/* head_t and tail_t copy the head's and tail's times, and every event carries its successor's
 * time (ev->link.cq.next_t): scanning, the append and prepend tests and pops then read no event
 * but the one they return, which is what makes the queue fast once events outgrow the caches. */
struct cq_bucket {
    struct ev *head;
    struct ev *tail;
    struct ev *hint; /* the last event inserted inside the list, or NULL */
    simtime_t  head_t;
    simtime_t  tail_t;
};

struct cq {
    struct cq_bucket *b;
    size_t            nb;   /* bucket count, a power of two */
    size_t            mask; /* nb - 1 */
    size_t            nb_max;
    simtime_t         width; /* bucket width in ns, >= 1 */
    size_t            size;
    size_t            grow_at;   /* resize up when size > grow_at */
    size_t            shrink_at; /* resize down when size < shrink_at */
    int               resize_ok; /* 0 while sampling */
    /* Scan cursor: bucket `cur` covers the window [top - width, top) of the current year. */
    size_t    cur;
    simtime_t top;
    simtime_t last_t; /* time of the last popped event */
    uint64_t  next_seq;
    uint64_t  n_resize;
    uint64_t  n_direct;
    uint64_t  n_ops;   /* pushes and pops since the last look at the cost */
    uint64_t  n_steps; /* list steps and buckets scanned in those */
};

/* Grow when size > N, shrink when size < N/4 - 2: each resize leaves the size halfway between
 * the thresholds (N/2 buckets' worth of room either way), so no single push or pop can undo it. */
static void set_thresholds(cq_t *q)
{
    q->grow_at = q->nb < q->nb_max ? q->nb : SIZE_MAX;
    q->shrink_at = q->nb > CQ_NB_MIN && q->nb / 4 > 2 ? q->nb / 4 - 2 : 0;
}

/* Point the cursor at the window holding time t. */
static void cursor_at(cq_t *q, simtime_t t)
{
    simtime_t v = t / q->width;
    q->cur = (size_t)v & q->mask;
    q->top = (v + 1) * q->width;
}

cq_t *cq_new(const struct cq_opts *opts)
{
    cq_t *q = sim_calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->nb_max = opts && opts->nb_max ? opts->nb_max : CQ_NB_MAX;
    SIM_ASSERT(q->nb_max >= CQ_NB_MIN && (q->nb_max & (q->nb_max - 1)) == 0);
    q->width = opts && opts->width0 ? opts->width0 : CQ_WIDTH_INIT;
    SIM_ASSERT(q->width >= 1 && q->width <= CQ_WIDTH_MAX);
    q->nb = CQ_NB_MIN;
    q->mask = q->nb - 1;
    q->b = sim_calloc(q->nb, sizeof *q->b);
    if (!q->b) {
        sim_free(q);
        return NULL;
    }
    q->resize_ok = 1;
    set_thresholds(q);
    cursor_at(q, 0);
    return q;
}

void cq_free(cq_t *q)
{
    if (!q)
        return;
    sim_free(q->b);
    sim_free(q);
}

size_t cq_size(const cq_t *q) { return q->size; }

/* Does a belong before b in a bucket? FIFO among equal times. */
static inline int goes_before(const struct ev *a, const struct ev *b)
{
#if CQ_FAULT == 1
    /* Planted bug: equal times go before their equals (LIFO, as ROSS's port does). */
    return a->t_ns < b->t_ns || (a->t_ns == b->t_ns && a->seq > b->seq);
#else
    return ev_before(a, b);
#endif
}

/* Insert e into b in key order; returns the number of list steps taken. */
static size_t bucket_insert(struct cq_bucket *b, struct ev *e)
{
    simtime_t t = e->t_ns;
    if (!b->head) {
        e->link.cq.next = NULL;
        b->head = b->tail = e;
        b->head_t = b->tail_t = t;
        return 0;
    }
    if (t > b->tail_t || (t == b->tail_t && !goes_before(e, b->tail))) {
        /* After the tail: the common case for bursts and for later years. */
        e->link.cq.next = NULL;
        b->tail->link.cq.next = e;
        b->tail->link.cq.next_t = t;
        b->tail = e;
        b->tail_t = t;
        return 0;
    }
    if (t < b->head_t || (t == b->head_t && goes_before(e, b->head))) {
        e->link.cq.next = b->head;
        e->link.cq.next_t = b->head_t;
        b->head = e;
        b->head_t = t;
        return 0;
    }
    /* e goes after p and before the tail. Start from the hint when it is not after e: a burst of
     * equal times followed by a later year's events then costs O(1) per insert, not O(burst). */
    struct ev *p = b->hint && !goes_before(e, b->hint) ? b->hint : b->head;
    size_t     steps = 1;
    while (p->link.cq.next_t < t || (p->link.cq.next_t == t && !goes_before(e, p->link.cq.next))) {
        p = p->link.cq.next;
        steps++;
    }
    e->link.cq.next = p->link.cq.next;
    e->link.cq.next_t = p->link.cq.next_t;
    p->link.cq.next = e;
    p->link.cq.next_t = t;
    b->hint = e;
    return steps;
}

/* Insert without stamping or resizing: used by push, sampling and rebuild. */
static void insert(cq_t *q, struct ev *e)
{
    simtime_t v = e->t_ns / q->width;
    q->n_steps += bucket_insert(&q->b[(size_t)v & q->mask], e);
    q->size++;
    if (q->size == 1 || e->t_ns < q->top - q->width)
        cursor_at(q, e->t_ns); /* keep every event at or after the cursor's window */
}

/* Find the earliest event and leave the cursor on its bucket. Requires size > 0. */
static struct ev *locate(cq_t *q)
{
    size_t    i = q->cur;
    simtime_t top = q->top;
    for (size_t n = 0; n < q->nb; n++) {
        const struct cq_bucket *b = &q->b[i];
        if (b->head && b->head_t < top) {
            q->cur = i;
            q->top = top;
            return b->head;
        }
        i = (i + 1) & q->mask;
        top += q->width;
        q->n_steps++;
    }
    /* A whole year without an event in its window: direct search of the bucket heads. The
     * earliest head is the earliest event because each bucket is sorted. */
    q->n_direct++;
    q->n_steps += q->nb;
    struct ev *best = NULL;
    for (size_t j = 0; j < q->nb; j++) {
        struct ev *e = q->b[j].head;
        if (e && (!best || q->b[j].head_t < best->t_ns ||
                  (q->b[j].head_t == best->t_ns && ev_before(e, best))))
            best = e;
    }
    SIM_ASSERT(best);
    cursor_at(q, best->t_ns); /* without this every later pop would repeat the search */
    return best;
}

static simtime_t estimate_width(cq_t *q);

/* Rebuild with nb_new buckets and a re-estimated width. On allocation failure the queue keeps
 * its current calendar, which is slower but correct. */
static void resize(cq_t *q, size_t nb_new)
{
    if (nb_new < CQ_NB_MIN || nb_new > q->nb_max)
        return;
    simtime_t         w = estimate_width(q);
    struct cq_bucket *nbk = sim_calloc(nb_new, sizeof *nbk);
    if (!nbk)
        return;
    struct cq_bucket *old = q->b;
    size_t            old_nb = q->nb;
    q->b = nbk;
    q->nb = nb_new;
    q->mask = nb_new - 1;
    q->width = w;
    q->size = 0;
    for (size_t j = 0; j < old_nb; j++) {
        struct ev *e = old[j].head;
        while (e) {
            struct ev *next = e->link.cq.next;
            insert(q, e);
            e = next;
        }
    }
    sim_free(old);
    /* Every event is >= last_t, so scanning forward from last_t's window meets them in key
     * order; the direct search covers any that lie more than a year ahead. */
    cursor_at(q, q->last_t);
    set_thresholds(q);
    q->n_resize++;
    q->n_ops = 0;
    q->n_steps = 0;
}

/* Brown's estimate: sample events from the front, average the gaps between neighbours after
 * dropping gaps above twice the mean, and use CQ_WIDTH_MULT times that. Guard for bursts: the
 * leading run of equal times says nothing about the width, so sampling goes on past it until it
 * has k nonzero gaps or has popped CQ_SAMPLE_SCAN events; later ties count as events. The samples are pushed back with
 * their original seq; resize is off and the cursor is saved and restored around it. */
static simtime_t estimate_width(cq_t *q)
{
    struct ev *stack[CQ_SAMPLE_SCAN], **s = stack;
    size_t     s_cap = CQ_SAMPLE_SCAN;
    simtime_t  gap[CQ_SAMPLE_MAX];
    size_t     k = q->size <= 5 ? q->size : 5 + q->size / 10; /* Brown's sample size */
    if (k > CQ_SAMPLE_MAX)
        k = CQ_SAMPLE_MAX;
    if (k < 2)
        return q->width;

    size_t    cur = q->cur;
    simtime_t top = q->top, last_t = q->last_t;
    size_t    n_popped = 0, n_gap = 0, n_tied = 0;
    q->resize_ok = 0;
    while (n_gap + 1 < k && q->size) {
        if (n_popped == s_cap) { /* a burst longer than the stack buffer: keep going on the heap */
            struct ev **ns = sim_malloc(2 * s_cap * sizeof *ns);
            if (!ns)
                break;
            memcpy(ns, s, s_cap * sizeof *s);
            if (s != stack)
                sim_free(s);
            s = ns;
            s_cap *= 2;
        }
        s[n_popped] = cq_pop(q);
        if (n_popped > 0 && s[n_popped]->t_ns > s[n_popped - 1]->t_ns)
            gap[n_gap++] = s[n_popped]->t_ns - s[n_popped - 1]->t_ns;
        else if (n_gap > 0)
            n_tied++; /* a tie after the leading burst: clusters make buckets fuller */
        n_popped++;
    }
    for (size_t i = 0; i < n_popped; i++) {
#if CQ_FAULT == 2 /* planted bug 2: restamp the samples, which breaks FIFO among equal times */
        s[i]->seq = q->next_seq++;
#endif
        insert(q, s[i]);
    }
    if (s != stack)
        sim_free(s);
    q->resize_ok = 1;
#if CQ_FAULT != 3 /* planted bug 3: leave the cursor where sampling moved it */
    q->cur = cur;
    q->top = top;
    q->last_t = last_t;
#else
    (void)cur, (void)top, (void)last_t;
#endif

    if (n_gap == 0)
        return q->width; /* only equal times: nothing to learn, keep the width */
    double sum = 0;
    for (size_t i = 0; i < n_gap; i++)
        sum += (double)gap[i];
    double mean = sum / (double)n_gap, kept = 0;
    size_t nk = 0;
    for (size_t i = 0; i < n_gap; i++) {
        if ((double)gap[i] <= 2 * mean) {
            kept += (double)gap[i];
            nk++;
        }
    }
    if (nk == 0)
        return q->width;
    /* Time per event rather than per distinct time: with clusters of equal times, a bucket per
     * distinct time would hold a whole cluster. The leading burst (the front's own cluster) is
     * not counted: it says nothing about the density behind it. */
    double w = CQ_WIDTH_MULT * kept / (double)(nk + n_tied);
    if (w < 1)
        return 1;
    if (w > (double)CQ_WIDTH_MAX)
        return CQ_WIDTH_MAX;
    return (simtime_t)llround(w);
}

int cq_push(cq_t *q, struct ev *e)
{
    SIM_ASSERT(e->t_ns >= q->last_t && e->t_ns <= SIM_T_MAX);
    e->seq = q->next_seq++;
    insert(q, e);
    if (q->size > q->grow_at && q->resize_ok)
        resize(q, q->nb * 2);
    return SIM_OK;
}

int cq_push_stamped(cq_t *q, struct ev *e)
{
    SIM_ASSERT(e->t_ns >= q->last_t && e->t_ns <= SIM_T_MAX && e->seq < q->next_seq);
    insert(q, e);
    if (q->size > q->grow_at && q->resize_ok)
        resize(q, q->nb * 2);
    return SIM_OK;
}

void cq_restart(cq_t *q, uint64_t next_seq, simtime_t last_t)
{
    SIM_ASSERT(!q->size && next_seq >= q->next_seq);
    q->next_seq = next_seq;
    q->last_t = last_t;
    cursor_at(q, last_t);
}

uint64_t  cq_next_seq(const cq_t *q) { return q->next_seq; }
simtime_t cq_last_t(const cq_t *q) { return q->last_t; }

struct ev *cq_peek(cq_t *q) { return q->size ? locate(q) : NULL; }

static void maybe_shrink(cq_t *q)
{
    if (q->size < q->shrink_at && q->resize_ok)
        resize(q, q->nb / 2);
}

/* Brown re-estimates the width only when the bucket count changes, so a queue whose size holds
 * steady keeps a width learnt from an older distribution (a burst, say) forever. Oh and Ahn's
 * remedy: watch the work per operation and re-estimate at the same size when it is high. The
 * window is at least 2 x size operations, so the O(n) rebuild stays O(1) amortised. */
static void watch_cost(cq_t *q)
{
    if (++q->n_ops < CQ_COST_WINDOW || q->n_ops < 2 * (uint64_t)q->size || !q->resize_ok)
        return;
    if (q->n_steps > CQ_COST_MAX * q->n_ops)
        resize(q, q->nb);
    q->n_ops = 0;
    q->n_steps = 0;
}

struct ev *cq_pop(cq_t *q)
{
    if (!q->size)
        return NULL;
    struct ev        *e = locate(q);
    struct cq_bucket *b = &q->b[q->cur]; /* locate left the cursor on e's bucket */
    SIM_ASSERT(b->head == e);
    if (b->hint == e)
        b->hint = NULL;
    b->head = e->link.cq.next;
    if (b->head) {
        b->head_t = e->link.cq.next_t;
        __builtin_prefetch(b->head); /* likely the next pop: overlap its cache miss */
    } else {
        b->tail = NULL;
    }
    __builtin_prefetch(q->b[(q->cur + 1) & q->mask].head); /* or the one after */
    q->size--;
    q->last_t = e->t_ns;
    maybe_shrink(q);
    watch_cost(q);
    return e;
}

void cq_remove(cq_t *q, struct ev *e)
{
    struct cq_bucket *b = &q->b[(size_t)(e->t_ns / q->width) & q->mask];
    struct ev        *prev = NULL, *p = b->head;
    while (p && p != e) {
        prev = p;
        p = p->link.cq.next;
    }
    SIM_ASSERT(p == e);
    if (b->hint == e)
        b->hint = prev;
    if (prev) {
        prev->link.cq.next = e->link.cq.next;
        prev->link.cq.next_t = e->link.cq.next_t;
    } else {
        b->head = e->link.cq.next;
        b->head_t = e->link.cq.next_t;
    }
    if (b->tail == e) {
        b->tail = prev;
        if (prev)
            b->tail_t = prev->t_ns;
    }
    q->size--;
    maybe_shrink(q);
}

int cq_check(const cq_t *q, struct sim_msg *why)
{
    size_t total = 0;
    if (q->nb < CQ_NB_MIN || (q->nb & q->mask) != 0 || q->mask != q->nb - 1)
        return sim_msg_set(why, SIM_EINVARIANT, "bucket count %zu is not a power of two", q->nb);
    if (q->width < 1 || q->width > CQ_WIDTH_MAX)
        return sim_msg_set(why, SIM_EINVARIANT, "width %lld out of range", (long long)q->width);
    if (q->cur >= q->nb || q->top % q->width != 0 ||
        (size_t)(q->top / q->width - 1) % q->nb != q->cur)
        return sim_msg_set(why, SIM_EINVARIANT, "cursor (bucket %zu, top %lld) inconsistent",
                           q->cur, (long long)q->top);
    for (size_t j = 0; j < q->nb; j++) {
        const struct cq_bucket *b = &q->b[j];
        const struct ev        *prev = NULL;
        if (b->head && (b->head_t != b->head->t_ns || b->tail_t != b->tail->t_ns))
            return sim_msg_set(why, SIM_EINVARIANT, "bucket %zu cached head/tail times are stale",
                               j);
        for (const struct ev *e = b->head; e; e = e->link.cq.next) {
            if ((size_t)(e->t_ns / q->width) % q->nb != j)
                return sim_msg_set(why, SIM_EINVARIANT, "event t=%lld in bucket %zu, hashes to %zu",
                                   (long long)e->t_ns, j, (size_t)(e->t_ns / q->width) % q->nb);
            if (prev && !ev_before(prev, e))
                return sim_msg_set(why, SIM_EINVARIANT, "bucket %zu unsorted at t=%lld seq=%llu", j,
                                   (long long)e->t_ns, (unsigned long long)e->seq);
            if (prev && prev->link.cq.next_t != e->t_ns)
                return sim_msg_set(why, SIM_EINVARIANT, "bucket %zu: cached successor time stale",
                                   j);
            if (e->t_ns < q->last_t)
                return sim_msg_set(why, SIM_EINVARIANT, "event t=%lld before last popped t=%lld",
                                   (long long)e->t_ns, (long long)q->last_t);
            if (e->t_ns < q->top - q->width)
                return sim_msg_set(why, SIM_EINVARIANT, "event t=%lld before cursor window %lld",
                                   (long long)e->t_ns, (long long)(q->top - q->width));
            if (e->seq >= q->next_seq)
                return sim_msg_set(why, SIM_EINVARIANT, "event seq %llu not yet stamped",
                                   (unsigned long long)e->seq);
            if (!e->link.cq.next && b->tail != e)
                return sim_msg_set(why, SIM_EINVARIANT, "bucket %zu tail is wrong", j);
            prev = e;
            total++;
        }
        if (!b->head && (b->tail || b->hint))
            return sim_msg_set(why, SIM_EINVARIANT, "empty bucket %zu has a tail or hint", j);
        if (b->hint) {
            const struct ev *e = b->head;
            while (e && e != b->hint)
                e = e->link.cq.next;
            if (!e)
                return sim_msg_set(why, SIM_EINVARIANT, "bucket %zu hint not in the bucket", j);
        }
    }
    if (total != q->size)
        return sim_msg_set(why, SIM_EINVARIANT, "size %zu but buckets hold %zu", q->size, total);
    return SIM_OK;
}

struct cq_stats cq_stats(const cq_t *q)
{
    return (struct cq_stats){q->nb, q->width, q->n_resize, q->n_direct};
}
