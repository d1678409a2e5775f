/*
 * sched_s3.c: S3's length-aware admission (Jin et al., NeurIPS'23): "batches requests based on
 * predicted output lengths and available HBM, utilizing a decreasing first fit algorithm".
 *
 * Each boundary packs the waiting requests, largest predicted reservation first, into the free
 * KV memory: take the largest request that still fits, admit it, repeat, until none fits or the
 * batch is full. Requests are kept in size classes (one FIFO list per reservation size in KV
 * units, sizes above max_units share the top class) with a bitmap of non-empty classes, so
 * "the largest that fits" is a scan of bitmap words, not of the queue.
 */
#include <string.h>

#include "alloc.h"
#include "sched.h"

void sched__set_priv(sched_t *s, void *p);

struct s3 {
    size_t       n_class;
    struct req **first, **last; /* per class FIFO */
    uint64_t    *bits;          /* non-empty classes */
};

static size_t class_of(const struct s3 *p, const struct req *r)
{
    return r->need_units < p->n_class ? r->need_units : p->n_class - 1;
}

static int s3_init(sched_t *s)
{
    struct s3 *p = sim_calloc(1, sizeof *p);
    if (!p)
        return SIM_ENOMEM;
    p->n_class = (size_t)sched__cfg(s)->max_units + 1;
    p->first = sim_calloc(p->n_class, sizeof *p->first);
    p->last = sim_calloc(p->n_class, sizeof *p->last);
    p->bits = sim_calloc((p->n_class + 63) / 64, sizeof *p->bits);
    sched__set_priv(s, p);
    if (!p->first || !p->last || !p->bits)
        return SIM_ENOMEM; /* sched_new calls fini on failure paths through sched_free */
    return SIM_OK;
}

static void s3_fini(sched_t *s)
{
    struct s3 *p = sched__priv(s);
    if (!p)
        return;
    sim_free(p->first);
    sim_free(p->last);
    sim_free(p->bits);
    sim_free(p);
}

static void s3_insert(sched_t *s, struct req *r)
{
    struct s3 *p = sched__priv(s);
    size_t     c = class_of(p, r);
    r->p_next = NULL;
    r->p_prev = p->last[c];
    if (p->last[c])
        p->last[c]->p_next = r;
    else
        p->first[c] = r;
    p->last[c] = r;
    p->bits[c / 64] |= UINT64_C(1) << (c % 64);
}

static void s3_remove(sched_t *s, struct req *r)
{
    struct s3 *p = sched__priv(s);
    size_t     c = class_of(p, r);
    if (r->p_prev)
        r->p_prev->p_next = r->p_next;
    else
        p->first[c] = r->p_next;
    if (r->p_next)
        r->p_next->p_prev = r->p_prev;
    else
        p->last[c] = r->p_prev;
    if (!p->first[c])
        p->bits[c / 64] &= ~(UINT64_C(1) << (c % 64));
    r->p_prev = r->p_next = NULL;
}

/* The largest non-empty class <= c, or SIZE_MAX. */
static size_t largest_at_most(const struct s3 *p, size_t c)
{
    if (c >= p->n_class)
        c = p->n_class - 1;
    size_t   w = c / 64;
    uint64_t word = p->bits[w] & (c % 64 == 63 ? ~UINT64_C(0) : (UINT64_C(1) << (c % 64 + 1)) - 1);
    for (;;) {
        if (word)
            return w * 64 + 63 - (size_t)__builtin_clzll(word);
        if (w == 0)
            return SIZE_MAX;
        word = p->bits[--w];
    }
}

static void s3_form_batch(sched_t *s, const struct sched_admit *a)
{
    struct s3 *p = sched__priv(s);
    uint64_t   room = a->free_units(a->ctx);
    while (sched_len(s)) {
        size_t c = largest_at_most(p, room < p->n_class ? (size_t)room : p->n_class - 1);
        if (c == SIZE_MAX)
            return;
        struct req   *r = p->first[c];
        enum admit_rc rc = a->try_admit(a->ctx, r);
        if (rc == ADMIT_FULL)
            return;
        if (rc == ADMIT_NO_MEMORY) { /* e.g. a watermark: try the smaller classes */
            if (c == 0)
                return;
            room = c - 1;
            continue;
        }
        sched_remove(s, r);
        room = a->free_units(a->ctx);
    }
}

const struct sched_ops sched_s3_ops = {
    .form_batch = s3_form_batch,
    .init = s3_init,
    .fini = s3_fini,
    .insert = s3_insert,
    .remove = s3_remove,
};
