/* ff.c: exact fast-forward of a replica (see ff.h). */
#include "ff.h"

#include "replica_internal.h"

const struct sim_choice ff_mode_choices[] = {
    {"auto", FF_AUTO,
     "run a replica's iterations that cannot change its batch without their events (same "
     "outputs, byte for byte)"},
    {"off", FF_OFF, "one event per iteration (to compare)"},
    {NULL, 0, NULL},
};

int replica__ff_allowed(const struct replica *p)
{
    return p->cfg->fast_forward == FF_AUTO && exec_is_model(p->env->exec) && !p->cfg->check;
}

uint64_t replica_ff_iters(const struct replica *p) { return p->n_ff; }
uint64_t replica_ff_jumps(const struct replica *p) { return p->n_ff_jumps; }

/* Whether the rule's admission at a skipped boundary, with requests waiting, admits nothing and
 * changes nothing. The boundary just passed ran the same admission on the same queue and the
 * same replica state (nothing changes between a rule's admission and the start of the
 * iteration, and a skipped boundary changes neither), and admitted nothing (n_pf == 0: every
 * rule's admission puts what it admits into the iteration); the admission reads neither the
 * clock nor the iteration index, and leaves nothing changed when it admits nothing (kv_fits,
 * kv_admit, the policies' order and s3's first fit are functions of that state), except:
 *   - aging (sched.c): reads the clock and counts the boundaries it overrides: never;
 *   - static batches: with a batch running, static_admit returns at once: always inert;
 *   - vllm_v0: its step offers the queue before the decode pass, which may then have taken
 *     blocks or preempted: the state it offered is not the one a skipped boundary would: never;
 *   - vllm_v1: offers the queue only when its step preempted nothing; one that did (at the
 *     boundary just passed) did not offer it, a skipped one would: then never; prefix caching
 *     (kv_prefix_hits reads the cache): never;
 *   - mixed and sarathi (decode pass first, then the queue): inert. */
static int queue_inert(const struct replica *p)
{
    if (p->bat == &batch_static_ops)
        return 1;
    if (p->cfg->sched.aging_s > 0 || p->cfg->sched.aging_factor > 0)
        return 0;
    if (p->bat == &batch_vllm_v0_ops)
        return 0;
    if (p->bat == &batch_vllm_v1_ops)
        return !p->step_preempted && !p->cfg->kv.prefix_caching;
    return p->bat == &batch_continuous_ops || p->bat == &batch_sarathi_ops;
}

/* The model clock never lists a batch without cached prefill tokens (exec.h, exec_is_model). */
static void no_listing(const void *owner, exec_seq_fn fn, void *ctx)
{
    (void)owner, (void)fn, (void)ctx;
    SIM_ASSERT(!"the model clock listed a fast-forwarded batch");
}

/* Back-off: on a replica among busy others, the next pending event is nearly always another
 * replica's boundary before this iteration's end, and a try costs as much as the step it would
 * save. After a try that the horizon stopped, the next ff_backoff (1, 3, 7, ..., 255) boundaries
 * are not tried (the caller counts ff_wait down); a jump resets it. Which boundaries are tried
 * never changes an output. */
uint32_t ff_backoff_max = 255;

simtime_t replica__ff(struct replica *p, simtime_t end)
{
    /* The iteration running (p->iter) and its boundary are plain decode: no prefill, chunk or
     * swap-in in it (end_prefills has nothing to do), it does not pause the decoders and no
     * earlier one did (paused_gaps), no chunked prefill or decoder waits on a list. */
    if (!p->ff_ok || p->n_pf || p->pause || p->gapped || p->n_need || p->n_part ||
        !ihk_size(&p->ih))
        return end;
    if (sched_len(p->q) && !queue_inert(p))
        return end;
    /* vllm_v0 and sarathi run their decode pass at every boundary: with no block free it walks
     * the running set and preempts (batch_vidur.c, decode_pass); with one free and no decoder
     * waiting it does nothing. */
    if ((p->bat == &batch_vllm_v0_ops || p->bat == &batch_sarathi_ops) && !kv_free_units(p->kv))
        return end;
    /* The first boundary at which a running request has an event (end_iteration pops the heap
     * up to the boundary): the ones before it see none. */
    uint64_t  first = ihk_top_key(&p->ih) / 2; /* the top's next_iter (iter_key) */
    simtime_t horizon = eng_horizon(p->env->eng);
    /* Iteration p->iter + 1 onwards, as start_iteration describes them once end_prefills has
     * reset the iteration's prefill and swap aggregates to 0 (sw_n, sw_ctx, pf_*, extra_s). */
    uint32_t           decoded = p->n_decode - p->n_pad;
    const struct exec *ex = p->env->exec;
    struct exec_batch  b = {
         .agg = {.decode_seqs = (double)p->n_decode + 0u},
         .extra_s = 0.0,
         .n_seqs = p->n_decode,
         .list = no_listing,
         .owner = p,
    };
    struct sim_msg scratch; /* a failure is left to the boundary's own event to report */
    uint64_t       k = 0;
    while (p->iter + 1 < first && end < horizon) {
        uint64_t  i = p->iter + 1;
        simtime_t dur = 0;
        b.agg.decode_ctx = (double)(p->ctx_base_sum + (int64_t)p->n_decode * (int64_t)i) + 0.0;
        b.now = end;
        if (ex->ops->iter_ns(ex->self, &b, &dur, &scratch) || dur > SIM_T_MAX - end)
            break;
        /* The boundary at end: end_iteration's record of iteration i - 1 (every decoder's token
         * follows its previous one; no prefill yields one), then start_iteration's of i. */
        if (met_iter(p->env->met, p->idx, p->iter_start, end - p->iter_start, p->cur_batch, decoded,
                     decoded, p->cur_kv) ||
            met_sample(p->env->met, p->idx, end, p->cur_batch, kv_used_tok(p->kv), p->cur_kv,
                       (uint32_t)sched_len(p->q))) {
            eng_stop(p->env->eng, SIM_ENOMEM);
            break;
        }
        p->dec_end = end;
        p->iter = i;
        p->iter_start = end;
        end += dur;
        k++;
    }
    if (!k && end >= horizon) { /* stopped by the next event */
        p->ff_backoff = 2 * p->ff_backoff + 1 < ff_backoff_max ? 2 * p->ff_backoff + 1
                                                               : ff_backoff_max;
        p->ff_wait = p->ff_backoff;
    }
    if (k) { /* what the skipped boundaries leave behind them */
        p->ff_backoff = 0;
        p->extra_s = 0;
        p->n_ff += k;
        p->n_ff_jumps++;
        if (p->bat == &batch_vllm_v1_ops)
            p->step_preempted = 0;
        if (p->bat == &batch_vllm_v1_ops || p->bat == &batch_sarathi_ops)
            p->step_tok = p->n_decode;
        if (p->bat == &batch_vllm_v0_ops)
            p->step_max = 0;
    }
    return end;
}
