/*
 * batch_v1.c: vllm_v1, vLLM v1's default scheduler (vllm-project/vllm at commit
 * 00024d314514900f361ad072af6931e403b7f589, vllm/v1/core/sched/scheduler.py, Scheduler.schedule
 * and _preempt_request), with chunked prefill always on and one token budget per step,
 * engine.max_batched_tokens (max_num_batched_tokens). At every iteration boundary:
 *   1. The running requests, in the order they were admitted: each asks for its new tokens
 *      (a decoder 1, a partial prefill min(what is left, the budget left)) and the KV blocks
 *      that the tokens computed after the step need (allocate_slots: blocks for computed + new
 *      tokens, no watermark). When the blocks are not free, the last request of the running
 *      list (the latest admitted) is preempted by recompute and goes back to the front of the
 *      waiting queue, until the blocks are free or the request itself was preempted.
 *   2. Only if nothing was preempted in this step: the waiting queue in the policy's order
 *      (vLLM: FCFS), while tokens are left and fewer than engine.max_batch requests run; each
 *      gets a chunk of min(prompt and kept tokens, the budget left) and the blocks for it; the
 *      first that does not get them stops the step.
 * The budget is never below max_batch (vLLM's SchedulerConfig refuses max_num_batched_tokens <
 * max_num_seqs; so does cfg.c), and a prefill in progress is always the last admitted (a
 * request only gets budget left by those before it), so every decoder runs at every step: the
 * replica's decode clock holds. Decoders take their next block as Vidur's accounting does
 * (kv.h, vidur_blocks): vLLM computes the slots of computed + new tokens, the same count.
 */
#include "replica_internal.h"

#include <stdlib.h>

#include "alloc.h"

static int by_admission(const void *a, const void *b)
{
    const struct req *x = *(struct req *const *)a, *y = *(struct req *const *)b;
    return (x->adm_seq > y->adm_seq) - (x->adm_seq < y->adm_seq);
}

/* The last of vLLM's running list: the latest admitted running request. O(running). */
static struct req *last_running(const struct replica *p)
{
    struct req *v = NULL;
    for (size_t k = 0; k < p->n_run; k++)
        if (!v || p->run[k]->adm_seq > v->adm_seq)
            v = p->run[k];
    return v;
}

/* Free `units` blocks for r by preempting from the end of the running list. Returns 1 when
 * they are free, 0 when r itself was preempted. */
static int make_room(struct replica *p, struct req *r, uint32_t units, simtime_t now)
{
    while (kv_free_units(p->kv) < units) {
        struct req *v = last_running(p);
        replica__preempt(p, v, now);
        if (v == r)
            return 0;
    }
    return 1;
}

static uint32_t budget_left(const struct replica *p)
{
    return p->step_tok < p->cfg->max_batched_tokens ? p->cfg->max_batched_tokens - p->step_tok : 0;
}

static enum admit_rc v1_try(void *ctx, struct req *r)
{
    struct replica *p = ctx;
    if (p->n_run >= p->cfg->max_batch)
        return ADMIT_FULL;
    uint32_t left = replica__pf_left(r), room = budget_left(p);
    if (room == 0)
        return ADMIT_FULL;
    enum admit_rc rc;
    uint32_t      tok;
    if (p->cfg->kv.prefix_caching) { /* the cached prefix is not computed again */
        uint32_t ev, hits = kv_prefix_hits(p->kv, r, &ev);
        uint64_t cached = (uint64_t)hits * p->cfg->kv.block_tok;
        left = (uint32_t)(left - cached);
        tok = left < room ? left : room;
        rc = replica__join_cached(p, r, hits, kv_blocks_for(p->kv, cached + tok) - hits);
    } else {
        tok = left < room ? left : room;
        rc = replica__join_units(p, r, kv_blocks_for(p->kv, tok));
    }
    if (rc != ADMIT_OK)
        return rc;
    if (replica__chunk(p, r, tok))
        return ADMIT_FULL;
    kv_prefix_register(p->kv, r, (uint64_t)r->pf_done + tok);
    p->step_tok += tok;
    return ADMIT_OK;
}

static void v1_step(struct replica *p, simtime_t now)
{
    p->step_preempted = 0;
    /* 1. Running requests. Decoders that need no block always get their token; those that do,
     * in admission order, then the partial prefills (at most one: the latest admitted). */
    if (p->n_need) {
        qsort(p->need, p->n_need, sizeof *p->need, by_admission);
        for (size_t k = 0; k < p->n_need; k++) {
            struct req *r = p->need[k];
            if (!r->need_blk)
                continue; /* preempted on behalf of an earlier one */
            if (make_room(p, r, 1, now))
                replica__grow(p, r);
        }
        p->n_need = 0;
    }
    p->step_tok = p->n_decode;
    while (p->n_part) {
        struct req *r = p->part[0];
        uint32_t    left = replica__pf_left(r), room = budget_left(p);
        uint32_t    tok = left < room ? left : room;
        if (tok == 0)
            break;
        uint32_t want = kv_blocks_for(p->kv, (uint64_t)r->pf_done + tok);
        uint32_t more = want > r->blocks ? want - r->blocks : 0;
        if (!make_room(p, r, more, now))
            break;
        int rc = kv_take(p->kv, r, more);
        if (rc) { /* make_room freed the blocks: only an allocation can fail */
            eng_stop(p->env->eng, rc);
            return;
        }
        if (replica__chunk(p, r, tok))
            return;
        kv_prefix_register(p->kv, r, (uint64_t)r->pf_done + tok);
        p->step_tok += tok;
    }
    /* 2. Waiting requests, unless this step preempted. */
    if (!p->step_preempted && sched_len(p->q))
        replica__sched(p, v1_try, now);
}

static void v1_done(struct replica *p, struct req *r, simtime_t now) { replica__finish(p, r, now); }

const struct batch_ops batch_vllm_v1_ops = {
    .name = "vllm_v1",
    .done = v1_done,
    .step = v1_step,
    .defer_growth = 1,
};
