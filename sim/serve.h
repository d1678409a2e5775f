/*
 * serve.h: the serving model: a cluster of replicas behind a router, fed by one workload source.
 *
 * The cluster (cluster.c) reads arrivals from the source, fails the requests that can never run,
 * charges predictions on one predictor that serves them in arrival order, and routes each request
 * to a replica (replica.h). A replica is one serving engine (ORCA / vLLM style): a waiting queue
 * ordered by a policy (sched.h), a KV memory manager (kv.h), a batching rule (batch.h:
 * continuous: requests join and leave at every iteration; dynamic: a batch forms when the engine
 * is idle and runs until its longest member finishes, memory held; none: one request at a time),
 * and an executor whose iteration time comes from the perf model (exec.h, cost.h). A request's
 * prefill takes one iteration and yields its first token; each later iteration yields one token.
 * Events (enum serve_ev, replica.h): at most one per iteration per replica (SERVE_EV_ITER), one
 * pending arrival for the source (SERVE_EV_ARRIVAL), a batch-wait timer per replica (dynamic
 * batching, SERVE_EV_TIMER) and, when predictions cost time, one SERVE_EV_READY per request.
 * Work per iteration is O(1) plus O(log n) per request that starts, finishes, outgrows its
 * memory or needs a block at that iteration.
 * Misprediction (predicted reservations): a request that outgrows its reservation is preempted
 * and re-queued at the front with the next bucket's reservation (or the maximum), its generated
 * tokens kept and recomputed (or swapped out and in).
 * Errors: serve_run returns negative codes with the reason in err.
 */
#ifndef LENSIM_SERVE_H
#define LENSIM_SERVE_H

#include <stdint.h>

#include "choice.h"
#include "cost.h"
#include "eng.h"
#include "exec.h"
#include "kv.h"
#include "met.h"
#include "pred.h"
#include "sched.h"
#include "trace.h"

enum batching { BATCH_CONTINUOUS = 0, BATCH_DYNAMIC, BATCH_NONE };
enum preempt_mode { PREEMPT_RECOMPUTE = 0, PREEMPT_SWAP };
enum router_kind { ROUTER_ROUND_ROBIN = 0, ROUTER_LEAST_OUTSTANDING, ROUTER_RANDOM };
/* Issue 10: the scheduling rule of a continuous-batching replica (batch.h). */
enum sched_rule { RULE_MIXED = 0, RULE_VLLM_V0, RULE_SARATHI, RULE_VLLM_V1 };

struct serve_cfg {
    uint32_t                replicas;
    enum router_kind        router;
    enum batching           batching;
    uint32_t                max_batch;          /* sequences per iteration */
    uint32_t                max_batched_tokens; /* tokens per iteration (prefill + decode) */
    double                  max_wait_s; /* dynamic batching: longest wait for a full batch */
    struct kv_cfg           kv;         /* per replica */
    enum preempt_mode       preempt;
    enum overflow_mode      overflow; /* kv.h */
    const struct sched_ops *policy;
    struct sched_cfg        sched;
    uint64_t                seed;
    enum evq_kind           queue;
    int                     check; /* run invariant checks after every event */
    const struct exec      *exec;  /* the executor; NULL = the model clock over cost */
    /* Issue 10: the scheduling rule (continuous batching) and sarathi's token budget. */
    enum sched_rule rule;
    uint32_t        chunk_size;
    int             fast_forward; /* issue 13: enum ff_mode (ff.h), engine.fast_forward */
};

struct serve_stats {
    uint64_t  arrived, finished, failed, truncated;
    simtime_t first_arrival_ns, last_event_ns;
    uint64_t  events;
    uint64_t  aging_overrides;
    uint64_t  clamped; /* predicted reservations clamped to the KV pool's capacity (kv.h) */
    /* Issue 13: iterations the replicas ran without their events (ff.h; counted in events
     * too), and the jumps that skipped them. Not written to any output. */
    uint64_t ff_iters, ff_jumps;
};

/* Progress callback, called about every 2^16 events; returns nonzero to stop (interrupt). */
typedef int (*serve_progress_fn)(void *ctx, const struct serve_stats *s);

/* Run the workload `src` through the cluster to completion, timed by cfg->exec or, when it is
 * NULL, by the model clock over cost (exec_model). Borrows everything. Returns 0,
 * SIM_EINTR when progress asked to stop, or another negative code with the reason in err:
 * SIM_ECONFIG before anything runs when the timeline at full size (met_timeline_max_bytes) would
 * not fit in the machine's memory, or when simulated time would pass SIM_T_MAX (an iteration,
 * a batch deadline, the predictor queue); SIM_EINPUT for an arrival past SIM_T_MAX. */
int serve_run(const struct serve_cfg *cfg, const struct cost *cost, trace_t *src, pred_t *pred,
              met_t *met, serve_progress_fn progress, void *progress_ctx, struct serve_stats *stats,
              struct sim_msg *err);

/* The routers' names and help (cluster.c), values enum router_kind (the schema's
 * cluster.router). The other choice sets of serve_cfg belong to their modules: batch_choices
 * (batch.h), replica_preempt_choices (replica.h), kv_policy_choices and kv_overflow_choices
 * (kv.h). */
extern const struct sim_choice serve_router_choices[];

#endif
