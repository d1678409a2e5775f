/* kv.c: KV memory policies (see kv.h). */
#include "kv.h"

#include <math.h>
#include <string.h>

const struct sim_choice kv_policy_choices[] = {
    {"max", KV_MAX, "reserve prompt + the rest of max_seq_len at admission (ORCA)"},
    {"predicted", KV_PREDICTED, "reserve prompt + the predicted bucket's upper edge (S3)"},
    {"oracle", KV_ORACLE, "reserve prompt + the true output length (an upper bound on prediction)"},
    {"paged", KV_PAGED, "blocks of block_size tokens allocated as the sequence grows (vLLM)"},
    {NULL, 0, NULL},
};

int kv_init(struct kv *kv, const struct kv_cfg *cfg, struct sim_msg *err)
{
    memset(kv, 0, sizeof *kv);
    kv->cfg = *cfg;
    if (cfg->policy == KV_PAGED) {
        if (cfg->block_tok == 0)
            return sim_msg_set(err, SIM_ECONFIG, "engine.block_size must be at least 1");
        kv->total = cfg->capacity_tok / cfg->block_tok;
        kv->watermark = (uint64_t)ceil(cfg->watermark * (double)kv->total);
    } else {
        kv->total = cfg->capacity_tok;
    }
    if (kv->total == 0)
        return sim_msg_set(err, SIM_ECONFIG, "no KV-cache memory left for %s blocks",
                           sim_choice_name(kv_policy_choices, (int)cfg->policy));
    return SIM_OK;
}

static uint64_t blocks_for(const struct kv *kv, uint64_t tok)
{
    return (tok + kv->cfg.block_tok - 1) / kv->cfg.block_tok;
}

uint64_t kv_need_units(const struct kv *kv, const struct req *r, uint32_t out_budget)
{
    uint64_t cap = kv->cfg.max_seq_len;
    switch (kv->cfg.policy) {
    case KV_MAX: return cap; /* the whole sequence, whatever its length */
    case KV_ORACLE: return (uint64_t)r->prompt_tok + r->output_tok;
    case KV_PREDICTED: {
        uint64_t t = (uint64_t)r->prompt_tok + out_budget;
        return t < cap ? t : cap;
    }
    case KV_PAGED: break;
    }
    /* Paged: what the prefill of this run writes (prompt and the tokens kept), plus the first
     * generated token. */
    return blocks_for(kv, (uint64_t)r->prompt_tok + r->generated + 1);
}

uint32_t kv_out_limit(const struct kv *kv, const struct req *r)
{
    if (kv->cfg.policy == KV_PAGED)
        return (uint32_t)(r->blocks * (uint64_t)kv->cfg.block_tok - r->prompt_tok);
    return r->resv_tok - r->prompt_tok;
}

int kv_admit(struct kv *kv, struct req *r, uint64_t units)
{
    uint64_t room = kv->total - kv->used;
    if (kv->cfg.policy == KV_PAGED)
        room = room > kv->watermark ? room - kv->watermark : 0;
    if (units > room)
        return SIM_ENOSPC;
    kv->used += units;
    if (kv->cfg.policy == KV_PAGED)
        r->blocks = (uint32_t)units;
    else
        r->resv_tok = (uint32_t)units;
    if (kv->used > kv->peak)
        kv->peak = kv->used;
    return SIM_OK;
}

int kv_grow(struct kv *kv, struct req *r)
{
    SIM_ASSERT(kv->cfg.policy == KV_PAGED);
    if (kv->used == kv->total)
        return SIM_ENOSPC;
    kv->used++;
    r->blocks++;
    if (kv->used > kv->peak)
        kv->peak = kv->used;
    return SIM_OK;
}

void kv_release(struct kv *kv, struct req *r)
{
    uint64_t u = kv->cfg.policy == KV_PAGED ? r->blocks : r->resv_tok;
    SIM_ASSERT(u <= kv->used);
    kv->used -= u;
    r->blocks = 0;
    r->resv_tok = 0;
}

int kv_check(const struct kv *kv, struct req *const *running, size_t n, struct sim_msg *why)
{
    if (kv->used > kv->total)
        return sim_msg_set(why, SIM_EINVARIANT, "KV over-committed: %llu of %llu units",
                           (unsigned long long)kv->used, (unsigned long long)kv->total);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += kv->cfg.policy == KV_PAGED ? running[i]->blocks : running[i]->resv_tok;
    if (sum != kv->used)
        return sim_msg_set(why, SIM_EINVARIANT, "KV used %llu but running requests hold %llu",
                           (unsigned long long)kv->used, (unsigned long long)sum);
    return SIM_OK;
}
