/*
 * batch_vidur.c: issue 10's rules as Vidur's replica schedulers implement them
 * (microsoft/vidur at commit 01f216fe8559c0eac076b157b19125a9c370d100):
 *   vllm_v0  vidur/scheduler/replica_scheduler/vllm_replica_scheduler.py, _get_next_batch;
 *   sarathi  vidur/scheduler/replica_scheduler/sarathi_replica_scheduler.py, _get_next_batch;
 * both over base_replica_scheduler.py (block pool, batch size cap) and entities/request.py
 * (restart: a preempted request prefills its prompt and every token it generated again).
 * Memory is paged with Vidur's accounting (kv.h, vidur_blocks): a request is admitted with the
 * blocks of the tokens it prefills, only when that leaves int(watermark x blocks) free; a
 * running request takes its next block when the token that needs it is scheduled.
 *
 * vllm_v0, at every iteration boundary:
 *   1. Prefill phase: offer the waiting queue in the policy's order (Vidur: FIFO, preempted
 *      requests at the front); stop at the first request that does not fit the memory (with
 *      the watermark), whose admission would make (prefills in the batch) x (longest prefill)
 *      exceed engine.max_batched_tokens (Vidur's max_tokens_in_batch: a padded count, prefill
 *      tokens only), or when the running set holds engine.max_batch requests. If any prefill
 *      was admitted, the iteration runs those prefills alone: the decoders are paused.
 *   2. Otherwise a decode iteration: the running requests in arrival order; before each, at
 *      least one block must be free (Vidur checks it for every request, whether it needs a
 *      block or not), else the latest-arriving running request not yet visited is preempted
 *      (recompute), or the request itself when none is left; a request that needs a block
 *      takes it.
 * sarathi, at every iteration boundary, with engine.chunk_size as the iteration's token budget:
 *   1. the decoders, as vllm_v0's step 2 (partial prefills are passed over, but may be victims),
 *      one token each;
 *   2. the partial prefills by arrival, each a chunk of min(left, budget - tokens so far);
 *   3. new requests in the policy's order, with the same memory and batch-size stops, each a
 *      chunk as above; stop when no token is left.
 * The first token comes when a prefill's last chunk completes.
 */
#include "replica_internal.h"

#include <stdlib.h>

#include "alloc.h"

/* Vidur sorts its running requests by arrival (a stable sort: ties keep their order; ours: id). */
static int by_arrival(const void *a, const void *b)
{
    const struct req *x = *(struct req *const *)a, *y = *(struct req *const *)b;
    if (x->arrival_ns != y->arrival_ns)
        return x->arrival_ns < y->arrival_ns ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Vidur's decode pass over the running requests (step 2 above): the blocks the decoders need,
 * and the preemptions when the pool runs dry. When more blocks are free than decoders need one,
 * no check can fail (each check sees at least one free block): they all grow, O(need). Else the
 * exact walk, O(running log running). */
static void decode_pass(struct replica *p, simtime_t now)
{
    if (kv_free_units(p->kv) > p->n_need) {
        for (size_t k = 0; k < p->n_need; k++)
            replica__grow(p, p->need[k]);
        p->n_need = 0;
        return;
    }
    if (SIM_GROW(p->scan, p->cap_scan, p->n_run)) {
        eng_stop(p->env->eng, SIM_ENOMEM);
        return;
    }
    size_t n = 0;
    for (size_t k = 0; k < p->n_run; k++)
        p->scan[n++] = p->run[k];
    qsort(p->scan, n, sizeof *p->scan, by_arrival);
    size_t i = 0, e = n;
    while (i < e) {
        struct req *r = p->scan[i++];
        if (!r->decoding)
            continue; /* a partial prefill (sarathi): its blocks were taken at admission */
        int gone = 0;
        while (kv_free_units(p->kv) == 0) {
            if (i < e) {
                replica__preempt(p, p->scan[--e], now);
            } else {
                replica__preempt(p, r, now);
                gone = 1;
                break;
            }
        }
        if (!gone && r->need_blk)
            replica__grow(p, r);
    }
    p->n_need = 0;
}

/* ---- vllm_v0 ---- */

static enum admit_rc v0_try(void *ctx, struct req *r)
{
    struct replica *p = ctx;
    if (!kv_fits(p->kv, r))
        return ADMIT_NO_MEMORY;
    uint32_t tok = replica__pf_left(r);
    uint32_t mx = tok > p->step_max ? tok : p->step_max;
    if ((uint64_t)(p->n_pf + 1) * mx > p->cfg->max_batched_tokens)
        return ADMIT_FULL;
    if (p->n_run >= p->cfg->max_batch)
        return ADMIT_FULL;
    enum admit_rc rc = replica__join(p, r);
    if (rc != ADMIT_OK)
        return rc;
    if (replica__chunk(p, r, tok))
        return ADMIT_FULL;
    p->step_max = mx;
    return ADMIT_OK;
}

static void v0_step(struct replica *p, simtime_t now)
{
    p->step_max = 0;
    if (sched_len(p->q))
        replica__sched(p, v0_try, now);
    if (!p->n_pf) {
        decode_pass(p, now);
        /* A lone request that holds every block preempts itself (Vidur's free-block check);
         * Vidur would then wait for the next arrival to schedule again. Here it is offered
         * the prefill phase at once, so that an idle engine never leaves a request waiting. */
        if (!p->n_run && sched_len(p->q))
            replica__sched(p, v0_try, now);
    }
    if (p->n_pf)
        p->pause = 1; /* a prefill iteration: the decoders wait */
}

/* ---- sarathi ---- */

/* The chunk r may take of what is left of the budget. */
static uint32_t chunk_of(const struct replica *p, const struct req *r)
{
    uint32_t budget = p->cfg->chunk_size, left = replica__pf_left(r);
    uint32_t room = p->step_tok < budget ? budget - p->step_tok : 0;
    return left < room ? left : room;
}

static enum admit_rc sarathi_try(void *ctx, struct req *r)
{
    struct replica *p = ctx;
    if (p->n_run >= p->cfg->max_batch)
        return ADMIT_FULL;
    if (!kv_fits(p->kv, r))
        return ADMIT_NO_MEMORY;
    uint32_t tok = chunk_of(p, r);
    if (tok == 0)
        return ADMIT_FULL;
    enum admit_rc rc = replica__join(p, r);
    if (rc != ADMIT_OK)
        return rc;
    if (replica__chunk(p, r, tok))
        return ADMIT_FULL;
    p->step_tok += tok;
    return ADMIT_OK;
}

static void sarathi_step(struct replica *p, simtime_t now)
{
    decode_pass(p, now);
    p->step_tok = p->n_decode;
    for (size_t k = 0; k < p->n_part;) {
        struct req *r = p->part[k];
        uint32_t    tok = chunk_of(p, r);
        if (tok == 0) {
            k++;
            continue;
        }
        if (replica__chunk(p, r, tok)) /* takes r off the part list */
            return;
        p->step_tok += tok;
    }
    if (sched_len(p->q))
        replica__sched(p, sarathi_try, now);
}

static void vidur_done(struct replica *p, struct req *r, simtime_t now)
{
    replica__finish(p, r, now);
}

const struct batch_ops batch_vllm_v0_ops = {
    .name = "vllm_v0",
    .done = vidur_done,
    .step = v0_step,
    .defer_growth = 1,
};

const struct batch_ops batch_sarathi_ops = {
    .name = "sarathi",
    .done = vidur_done,
    .step = sarathi_step,
    .defer_growth = 1,
};
