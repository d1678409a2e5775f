/*
 * sched.h: scheduling policies of one replica's waiting queue, as ops tables in a registry (R15).
 *
 * The generic part (sched.c) keeps every waiting request on an intrusive list in queue order
 * (arrival order, preempted requests at the front) and, for ordering policies, a binary heap
 * keyed by (ops->key(r), entry order). At each iteration boundary the replica calls
 * sched_form_batch, which offers requests to the replica's admission callback in the policy's
 * order until the callback says the batch is full:
 *   fcfs  queue order, stop at the first request that does not fit (head-of-line, as vLLM);
 *   sjf   shortest true output first (an oracle);
 *   ssjf  shortest predicted output first;
 *   s3    decreasing first fit of the predicted reservations into free KV memory.
 * Aging, an option of every policy (SSJF's rule): when the request at the front of the queue has
 * waited more than aging_s seconds, or more than aging_factor x its estimated service time, this
 * boundary serves the queue in queue order instead.
 * Cost: enqueue/remove O(log n) (O(1) for fcfs); form_batch O(k log n) for k offers, s3 O(k log n)
 * through a bitmap over reservation sizes.
 */
#ifndef LENSIM_SCHED_H
#define LENSIM_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "choice.h"
#include "req.h"
#include "sim.h"

typedef struct sched sched_t;

enum admit_rc {
    ADMIT_OK = 0,    /* admitted: the policy removes it from its queue */
    ADMIT_NO_MEMORY, /* not enough free KV memory for this request */
    ADMIT_FULL       /* no room for any request: batch slots or token budget exhausted */
};

/* The replica side of admission. */
struct sched_admit {
    void *ctx;
    /* Try to admit r now; on ADMIT_OK the replica has reserved its memory. */
    enum admit_rc (*try_admit)(void *ctx, struct req *r);
    /* KV units r needs to be admitted now (s3 packing). */
    uint64_t (*need)(void *ctx, const struct req *r);
    /* Free KV units now (s3 packing). */
    uint64_t (*free_units)(void *ctx);
    /* Estimated service time of r in seconds, for aging by factor. */
    double (*service_s)(void *ctx, const struct req *r);
    simtime_t now;
};

struct sched_cfg {
    double   aging_s;      /* serve queue order once the front waited this long; 0 = off */
    double   aging_factor; /* ... or this many times its service estimate; 0 = off */
    uint64_t max_units;    /* s3: largest reservation, in KV units (bitmap size) */
};

struct sched_ops {
    /* Ordering key, smaller first; NULL = queue order only (fcfs). */
    double (*key)(const struct req *r); /* optional */
    /* Offer requests in the policy's order; NULL = offer by key (or queue order), stop at the first
     * that does not fit. */
    void (*form_batch)(sched_t *s, const struct sched_admit *a); /* optional */
    int (*init)(sched_t *s);                                     /* optional */
    void (*fini)(sched_t *s);                                    /* optional */
    void (*insert)(sched_t *s, struct req *r);                   /* optional */
    void (*remove)(sched_t *s, struct req *r);                   /* optional */
};

enum sched_policy { SCHED_FCFS = 0, SCHED_SJF, SCHED_SSJF, SCHED_S3 };

/* The policies' names and help (the schema's policy.name), values enum sched_policy. */
extern const struct sim_choice sched_policy_choices[];
/* The ops table of policy p. Cannot fail (p must be an enum sched_policy value). */
const struct sched_ops *sched_ops_of(enum sched_policy p);

/* Returns an owned empty queue for the policy (free with sched_free), or NULL (out of memory). */
sched_t *sched_new(const struct sched_ops *ops, const struct sched_cfg *cfg);
void     sched_free(sched_t *s);

/* Add r at the back (arrival) or the front (a preempted request). Returns 0 or SIM_ENOMEM. */
int sched_push(sched_t *s, struct req *r, simtime_t now);
int sched_push_front(sched_t *s, struct req *r, simtime_t now);
/* Take r out of the queue (it must be in it). */
void   sched_remove(sched_t *s, struct req *r);
size_t sched_len(const sched_t *s);
/* The request at the front of the queue order, or NULL. */
struct req *sched_front(const sched_t *s);

/* Offer waiting requests to a->try_admit in the policy's order (or queue order when aging
 * applies); admitted requests leave the queue. Returns the number admitted. */
size_t sched_form_batch(sched_t *s, const struct sched_admit *a);

/* Number of boundaries at which aging overrode the policy. */
uint64_t sched_aging_count(const sched_t *s);

/* Internals shared with the policy files. */
struct req             *sched__heap_top(const sched_t *s);
void                   *sched__priv(sched_t *s);
const struct sched_cfg *sched__cfg(const sched_t *s);

#endif
