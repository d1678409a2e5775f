/* sched.c: the waiting queue shared by every policy, the key heap, aging, the registry. */
#include "sched.h"

#include <string.h>

#include "alloc.h"
#include "ih.h"

extern const struct sched_ops sched_fcfs_ops, sched_sjf_ops, sched_ssjf_ops, sched_s3_ops;

const struct sim_choice sched_policy_choices[] = {
    {"fcfs", SCHED_FCFS, "first come, first served: queue order, preempted requests first"},
    {"sjf", SCHED_SJF, "shortest TRUE remaining output first: an oracle that knows each length"},
    {"ssjf", SCHED_SSJF, "shortest PREDICTED remaining output first (the predictor's length)"},
    {"s3", SCHED_S3, "S3: decreasing first fit of predicted reservations into free KV memory"},
    {NULL, 0, NULL},
};

const struct sched_ops *sched_ops_of(enum sched_policy p)
{
    static const struct sched_ops *const ops[] = {
        [SCHED_FCFS] = &sched_fcfs_ops,
        [SCHED_SJF] = &sched_sjf_ops,
        [SCHED_SSJF] = &sched_ssjf_ops,
        [SCHED_S3] = &sched_s3_ops,
    };
    SIM_ASSERT((unsigned)p < sizeof ops / sizeof *ops);
    return ops[p];
}

struct sched {
    const struct sched_ops *ops;
    struct sched_cfg        cfg;
    struct req             *head, *tail; /* queue order */
    size_t                  n;
    uint64_t                next_seq;
    struct ih               heap; /* ordering policies: min-heap by (key, enq_seq) */
    uint64_t                n_aging;
    void                   *priv; /* the policy's own state */
};

/* The key heap's order: key, then entry order (a preempted request, enq_seq 0, first). */
static bool heap_less(const void *a, const void *b)
{
    const struct req *x = a, *y = b;
    return x->key < y->key || (x->key == y->key && x->enq_seq < y->enq_seq);
}

sched_t *sched_new(const struct sched_ops *ops, const struct sched_cfg *cfg)
{
    sched_t *s = sim_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->ops = ops;
    s->cfg = *cfg;
    ih_init(&s->heap, offsetof(struct req, pq_pos));
    if (ops->init && ops->init(s)) {
        sched_free(s); /* fini copes with a half-built state */
        return NULL;
    }
    return s;
}

void sched_free(sched_t *s)
{
    if (!s)
        return;
    if (s->ops->fini)
        s->ops->fini(s);
    ih_fini(&s->heap);
    sim_free(s);
}

size_t                  sched_len(const sched_t *s) { return s->n; }
struct req             *sched_front(const sched_t *s) { return s->head; }
uint64_t                sched_aging_count(const sched_t *s) { return s->n_aging; }
void                   *sched__priv(sched_t *s) { return s->priv; }
const struct sched_cfg *sched__cfg(const sched_t *s) { return &s->cfg; }

/* The policy's private pointer is set through this back door by init. */
void sched__set_priv(sched_t *s, void *p) { s->priv = p; }

struct req *sched__heap_top(const sched_t *s) { return ih_top(&s->heap); }

static int enqueue(sched_t *s, struct req *r, simtime_t now, int front)
{
    /* Entry order breaks key ties; a preempted request goes first among its equals. */
    r->enq_seq = front ? 0 : s->next_seq + 1;
    if (s->ops->key) {
        r->key = s->ops->key(r);
        if (ih_push(&s->heap, r, heap_less))
            return SIM_ENOMEM;
    }
    s->next_seq += !front;
    r->enq_ns = now;
    r->state = REQ_STATE_QUEUED;
    r->q_prev = r->q_next = NULL;
    if (front) {
        r->q_next = s->head;
        if (s->head)
            s->head->q_prev = r;
        else
            s->tail = r;
        s->head = r;
    } else {
        r->q_prev = s->tail;
        if (s->tail)
            s->tail->q_next = r;
        else
            s->head = r;
        s->tail = r;
    }
    s->n++;
    if (s->ops->insert)
        s->ops->insert(s, r);
    return SIM_OK;
}

int sched_push(sched_t *s, struct req *r, simtime_t now) { return enqueue(s, r, now, 0); }
int sched_push_front(sched_t *s, struct req *r, simtime_t now) { return enqueue(s, r, now, 1); }

void sched_remove(sched_t *s, struct req *r)
{
    SIM_ASSERT(s->n > 0);
    if (r->q_prev)
        r->q_prev->q_next = r->q_next;
    else
        s->head = r->q_next;
    if (r->q_next)
        r->q_next->q_prev = r->q_prev;
    else
        s->tail = r->q_prev;
    r->q_prev = r->q_next = NULL;
    s->n--;
    if (s->ops->key)
        ih_remove(&s->heap, r, heap_less);
    if (s->ops->remove)
        s->ops->remove(s, r);
}

static int aged(const sched_t *s, const struct sched_admit *a, const struct req *r)
{
    double waited = (double)(a->now - r->enq_ns) / SIM_NS_PER_S;
    if (s->cfg.aging_s > 0 && waited > s->cfg.aging_s)
        return 1;
    return s->cfg.aging_factor > 0 && waited > s->cfg.aging_factor * a->service_s(a->ctx, r);
}

/* SSJF's starvation rule: has the oldest waiting request waited too long? Requests enter the
 * queue in order, so the oldest is the first one that was not pushed back to the front by a
 * preemption (those carry enq_seq 0 and are checked too). */
static int aging_due(const sched_t *s, const struct sched_admit *a)
{
    if (s->cfg.aging_s <= 0 && s->cfg.aging_factor <= 0)
        return 0;
    for (const struct req *r = s->head; r; r = r->q_next) {
        if (aged(s, a, r))
            return 1;
        if (r->enq_seq != 0)
            return 0;
    }
    return 0;
}

size_t sched_form_batch(sched_t *s, const struct sched_admit *a)
{
    size_t admitted = 0;
    if (aging_due(s, a)) {
        s->n_aging++;
        for (struct req *r = s->head; r;) {
            struct req *next = r->q_next;
            if (a->try_admit(a->ctx, r) != ADMIT_OK)
                return admitted;
            sched_remove(s, r);
            admitted++;
            r = next;
        }
        return admitted;
    }
    if (s->ops->form_batch) {
        size_t before = s->n;
        s->ops->form_batch(s, a);
        return before - s->n;
    }
    for (;;) {
        struct req *r = s->ops->key ? sched__heap_top(s) : s->head;
        if (!r || a->try_admit(a->ctx, r) != ADMIT_OK)
            return admitted;
        sched_remove(s, r);
        admitted++;
    }
}
