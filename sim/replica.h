/*
 * replica.h: one serving engine of the cluster (ORCA / vLLM style): admission, iterations,
 * preemption. The cluster (cluster.c) routes requests to it and dispatches its events.
 *
 * Parts, each behind its own interface: a waiting queue ordered by a policy (sched.h), a KV
 * memory manager (kv.h), a batching rule (batch.h: continuous, or static batches), and an
 * executor whose time one iteration takes (exec.h). A request's prefill takes one iteration and
 * yields its first token (the chunking rules of batch.h: one iteration per chunk, the first
 * token with the last); each later iteration yields one token.
 * Events: at most one REPLICA_EV_ITER per iteration and one REPLICA_EV_TIMER (a static batch's
 * wait), each carrying the replica as data. Work per iteration is O(1) plus O(log n) per request
 * that starts, finishes, outgrows its memory or needs a block at that iteration.
 * Misprediction (predicted reservations): a request that outgrows its reservation is preempted
 * and re-queued at the front with the next bucket's reservation (or the maximum), its generated
 * tokens kept and recomputed (or swapped out and in).
 * Errors: out of memory inside an event stops the engine (eng_stop) with SIM_ENOMEM; so does,
 * with SIM_ECONFIG and the reason in env->err, a time the simulated clock cannot hold (an
 * iteration that the executor cannot time or that would end past SIM_T_MAX, a batch deadline
 * past it).
 */
#ifndef LENSIM_REPLICA_H
#define LENSIM_REPLICA_H

#include <stdint.h>

#include "eng.h"
#include "exec.h"
#include "kv.h"
#include "met.h"
#include "pool.h"
#include "pred.h"
#include "req.h"
#include "sched.h"

struct serve_cfg;

/* The serving model's event types; the cluster's dispatcher is the only switch over them. */
enum serve_ev { SERVE_EV_ARRIVAL = 0, SERVE_EV_READY, SERVE_EV_ITER, SERVE_EV_TIMER };

/* What every replica of a cluster shares, borrowed for the replica's life. */
struct replica_env {
    const struct serve_cfg *cfg;
    const struct exec      *exec;
    eng_t                  *eng;
    met_t                  *met;
    pred_t                 *pred;
    pool_t                 *reqs;   /* where finished requests go back */
    struct sim_msg         *err;    /* why, when a replica stops the run with an error */
    const struct kv_hashes *hashes; /* prefix caching: the requests' block hashes (kv.h) */
};

typedef struct replica replica_t;

/* The preemption modes' names and help, values enum preempt_mode (the schema's
 * engine.preemption). */
extern const struct sim_choice replica_preempt_choices[];

/* Make replica number idx in *out (owned: free with replica_free). Returns 0, or SIM_ENOMEM /
 * SIM_ECONFIG with the reason in err and *out NULL. */
int replica_new(const struct replica_env *env, uint32_t idx, replica_t **out, struct sim_msg *err);
/* Frees the replica (not the requests it still holds). NULL is a no-op. */
void replica_free(replica_t *p);

/* Queue r (routed here) with its memory budget. Returns 0 or SIM_ENOMEM (r not queued). */
int replica_enqueue(replica_t *p, struct req *r, simtime_t now);
/* If idle (no iteration running), admit what fits and start an iteration now. */
void replica_wake(replica_t *p, simtime_t now);
/* Event handlers: an iteration ended; the batch timer fired. */
void replica_on_iter(replica_t *p, simtime_t now);
void replica_on_timer(replica_t *p, simtime_t now);

/* The pool that decides whether a request can ever run here (every replica has the same). */
const kv_t *replica_kv(const replica_t *p);
/* Requests waiting and running (the least-outstanding router's measure). */
size_t replica_outstanding(const replica_t *p);
size_t replica_waiting(const replica_t *p);
int    replica_busy(const replica_t *p);
/* Requests finished so far; boundaries at which aging overrode the policy. */
uint64_t replica_finished(const replica_t *p);
uint64_t replica_aging_count(const replica_t *p);
/* Prefix caching: tokens looked up in the cache and found there so far (kv.h). */
void replica_prefix_stats(const replica_t *p, uint64_t *query_tok, uint64_t *hit_tok);
/* Reservations clamped to the KV pool's capacity so far (kv_queue, kv_overflow). */
uint64_t replica_clamped(const replica_t *p);

/* Check the replica's invariants (KV pool against the running set, decode aggregates, batch
 * size, heap order); aborts with the reason on a violation. O(running + heap). */
void replica_check(const replica_t *p);

#endif
