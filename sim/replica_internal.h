/*
 * replica_internal.h: the replica's state, shared by replica.c and the batching rules
 * (batch_*.c). Not a public header: the cluster sees only replica.h.
 */
#ifndef LENSIM_REPLICA_INTERNAL_H
#define LENSIM_REPLICA_INTERNAL_H

#include "batch.h"
#include "ih.h"
#include "replica.h"
#include "serve.h"

struct replica {
    const struct replica_env *env;
    const struct serve_cfg   *cfg;
    const struct batch_ops   *bat;
    uint32_t                  idx;
    sched_t                  *q;
    kv_t                     *kv;
    struct req              **run; /* running set (admitted, not finished), unordered */
    size_t                    n_run, cap_run;
    struct ih                 ih; /* running requests by next_iter */
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
};

/* r leaves the replica finished at now: metrics, memory and slot released. */
void replica__finish(struct replica *p, struct req *r, simtime_t now);
/* Offer the waiting queue to admission in the policy's order. */
void replica__form_batch(struct replica *p, simtime_t now);
/* Arm the batch timer for `at` (no-op when armed); disarm it. */
void replica__timer_set(struct replica *p, simtime_t at);
void replica__timer_cancel(struct replica *p);

#endif
