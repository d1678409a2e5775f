/*
 * replica_internal.h: the replica's state, shared by replica.c and the batching rules
 * (batch_*.c). Not a public header: the cluster sees only replica.h.
 */
#ifndef LENSIM_REPLICA_INTERNAL_H
#define LENSIM_REPLICA_INTERNAL_H

#include "batch.h"
#include "ihk.h"
#include "replica.h"
#include "serve.h"

struct replica {
    int                       failed; /* fail() called: the run is stopping with an error */
    const struct replica_env *env;
    const struct serve_cfg   *cfg;
    const struct batch_ops   *bat;
    uint32_t                  idx;
    sched_t                  *q;
    kv_t                     *kv;
    struct req              **run; /* running set (admitted, not finished), unordered */
    size_t                    n_run, cap_run;
    struct ihk                ih; /* running requests by next_iter (issue 13: keyed) */
    struct req              **pf; /* admitted for the current iteration: prefills, swap-ins */
    size_t                    n_pf, cap_pf;
    uint64_t                  iter; /* index of the iteration running, or of the next one */
    int                       busy;
    simtime_t                 iter_start;
    /* Decode aggregates: context of decoding request r at iteration i is r->ctx_base + i. */
    uint32_t n_decode;
    int64_t  ctx_base_sum;
    uint32_t n_pad;  /* static batches: held (finished) members still decoding */
    uint32_t n_live; /* static batches: members not yet finished */
    /* The iteration being formed or run. */
    double           pf_tok, pf_sq;
    uint32_t         sw_n; /* swap-ins: decoders not in the aggregates yet */
    double           sw_ctx;
    double           extra_s; /* swap traffic charged to this iteration */
    uint32_t         cur_batch;
    double           cur_kv;
    struct ev_handle timer;
    int              timer_set;
    uint64_t         n_finished;
    uint64_t         n_clamped; /* reservations the KV pool's capacity clamped (kv.h) */
    /* Issue 10's rules (batch_vidur.c). p->iter is the decode clock: it advances only at the
     * end of an iteration in which the decoders ran (every iteration, except vllm_v0's paused
     * ones). */
    int          pause;   /* the decoders sit out the iteration being formed or run */
    double       pf_kv;   /* this iteration's prefill chunks: tokens cached before them */
    simtime_t    dec_end; /* end of the last iteration in which the decoders ran */
    int          gapped;  /* an iteration paused the decoders since they last ran */
    struct req **part;    /* admitted, prefill incomplete, not in this iteration: by arrival */
    size_t       n_part, cap_part;
    struct req **need; /* decoders waiting for a KV block (batch_ops.defer_growth) */
    size_t       n_need, cap_need;
    struct req **scan; /* scratch: the running set sorted by arrival (batch_vidur.c) */
    size_t       cap_scan;
    uint32_t     step_tok, step_max; /* the iteration being formed: tokens, longest prefill */
    uint64_t     adm_seq;            /* admissions so far (req.adm_seq) */
    int          step_preempted;     /* vllm_v1: this boundary preempted a request */
    /* Issue 13: exact fast-forward (ff.h): allowed at all; iterations skipped, jumps; after
     * jumps that the next event stopped short, boundaries left untried (ff_wait) and the next
     * such pause (ff_backoff). */
    int      ff_ok;
    uint64_t n_ff, n_ff_jumps;
    uint32_t ff_wait, ff_backoff;
};

/* r leaves the replica finished at now: metrics, memory and slot released. */
void replica__finish(struct replica *p, struct req *r, simtime_t now);
/* Offer the waiting queue to admission in the policy's order. */
void replica__form_batch(struct replica *p, simtime_t now);
/* Arm the batch timer for `at` (no-op when armed); disarm it. */
void replica__timer_set(struct replica *p, simtime_t at);
void replica__timer_cancel(struct replica *p);

/* ---- issue 10's rules ---- */
/* Admission for the rules with a step: take r's memory (paged) and make it a running request
 * whose prefill starts now; its first chunk is not scheduled (replica__chunk). Returns ADMIT_OK,
 * ADMIT_NO_MEMORY (nothing changed), or ADMIT_FULL after an allocation failure (run stopped). */
enum admit_rc replica__join(struct replica *p, struct req *r);
/* vllm_v1 with prefix caching: admit r with its `hits` cached prompt blocks (kv_prefix_hits)
 * and `units` new ones; its prefill starts after the cached tokens. */
enum admit_rc replica__join_cached(struct replica *p, struct req *r, uint32_t hits, uint32_t units);
/* The same with exactly `units` KV blocks taken (vllm_v1: the blocks of the first chunk), no
 * watermark. */
enum admit_rc replica__join_units(struct replica *p, struct req *r, uint32_t units);
/* Schedule `tok` prefill tokens of running request r (its prefill incomplete) in the iteration
 * being formed; r leaves the part list if it was on it. Returns 0 or SIM_ENOMEM (run stopped). */
int replica__chunk(struct replica *p, struct req *r, uint32_t tok);
/* Tokens of r's prefill still to compute in this run (prompt and kept tokens, less the chunks
 * done). */
uint32_t replica__pf_left(const struct req *r);
/* Offer the waiting queue, in the policy's order, to the rule's own admission test. */
void replica__sched(struct replica *p, enum admit_rc (*try_fn)(void *ctx, struct req *r),
                    simtime_t       now);
/* Preempt running request r now (recompute, or swap), back to the queue's front. */
void replica__preempt(struct replica *p, struct req *r, simtime_t now);
/* r (on the need list, or not) takes its next block and rejoins the heap. The block must be
 * free. */
void replica__grow(struct replica *p, struct req *r);

#endif
