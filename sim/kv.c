/* kv.c: KV memory policies (see kv.h). */
#include "kv.h"

#include <math.h>
#include <string.h>

#include "alloc.h"

const struct sim_choice kv_policy_choices[] = {
    {"max", KV_MAX, "reserve prompt + the rest of max_seq_len at admission (ORCA)"},
    {"predicted", KV_PREDICTED, "reserve prompt + the predicted bucket's upper edge (S3)"},
    {"oracle", KV_ORACLE, "reserve prompt + the true output length (an upper bound on prediction)"},
    {"paged", KV_PAGED, "blocks of block_size tokens allocated as the sequence grows (vLLM)"},
    {NULL, 0, NULL},
};

const struct sim_choice kv_overflow_choices[] = {
    {"next_bucket", OVERFLOW_NEXT_BUCKET, "reserve up to the next bucket's upper edge (S3)"},
    {"max", OVERFLOW_MAX, "reserve up to max_seq_len"},
    {NULL, 0, NULL},
};

struct kv {
    struct kv_cfg cfg;
    uint64_t      total;     /* units */
    uint64_t      used;      /* units */
    uint64_t      watermark; /* paged: units that admission leaves free */
};

static int configure(kv_t *kv, const struct kv_cfg *cfg, struct sim_msg *err)
{
    kv->cfg = *cfg;
    if (cfg->policy == KV_PAGED) {
        if (cfg->block_tok == 0)
            return sim_msg_set(err, SIM_ECONFIG, "engine.block_size must be at least 1");
        kv->total = cfg->capacity_tok / cfg->block_tok;
        double wm = cfg->watermark * (double)kv->total;
        kv->watermark = (uint64_t)(cfg->vidur_blocks ? floor(wm) : ceil(wm));
    } else {
        kv->total = cfg->capacity_tok;
    }
    if (kv->total == 0)
        return sim_msg_set(err, SIM_ECONFIG, "no KV-cache memory left for %s blocks",
                           sim_choice_name(kv_policy_choices, (int)cfg->policy));
    if (cfg->policy == KV_MAX && kv->total < cfg->max_seq_len)
        return sim_msg_set(err, SIM_ECONFIG,
                           "KV capacity (%llu tokens) holds no max-length sequence (%u tokens)",
                           (unsigned long long)kv->total, cfg->max_seq_len);
    return SIM_OK;
}

int kv_new(const struct kv_cfg *cfg, kv_t **out, struct sim_msg *err)
{
    kv_t *kv = sim_calloc(1, sizeof *kv);
    int   rc = kv ? configure(kv, cfg, err) : sim_msg_set(err, SIM_ENOMEM, "out of memory");
    if (rc) {
        kv_free(kv);
        kv = NULL;
    }
    *out = kv;
    return rc;
}

void kv_free(kv_t *kv) { sim_free(kv); }

static int paged(const kv_t *kv) { return kv->cfg.policy == KV_PAGED; }

static uint64_t blocks_for(const kv_t *kv, uint64_t tok)
{
    return (tok + kv->cfg.block_tok - 1) / kv->cfg.block_tok;
}

/* Tokens one request can ever hold, alone on the pool: all of it for the reservation policies;
 * for paged, the blocks admission may take (the watermark stays free). */
static uint64_t alone_tok(const kv_t *kv)
{
    return paged(kv) ? (kv->total - kv->watermark) * kv->cfg.block_tok : kv->total;
}

/* Output tokens a reservation for r may cover: what max_seq_len leaves, within the pool. For a
 * request kv_admissible accepted, at least its output length. */
static uint32_t room_tok(const kv_t *kv, const struct req *r)
{
    uint64_t most = alone_tok(kv) < kv->cfg.max_seq_len ? alone_tok(kv) : kv->cfg.max_seq_len;
    return most > r->prompt_tok ? (uint32_t)(most - r->prompt_tok) : 0;
}

int kv_admissible(const kv_t *kv, struct req *r, int *truncated)
{
    uint32_t L = kv->cfg.max_seq_len;
    *truncated = 0;
    if (r->prompt_tok >= L)
        return 0;
    if (r->prompt_tok + r->output_tok > L) {
        r->output_tok = L - r->prompt_tok;
        *truncated = 1;
    }
    uint64_t need_tok = kv->cfg.policy == KV_MAX ? L : (uint64_t)r->prompt_tok + r->output_tok;
    return need_tok <= alone_tok(kv);
}

uint64_t kv_queue_units(const kv_t *kv)
{
    return paged(kv) ? blocks_for(kv, kv->cfg.max_seq_len) : kv->cfg.max_seq_len;
}

/* Units r needs when (re)admitted with output budget `out_budget` (the predicted or next bucket
 * edge; ignored by max, oracle and paged). For paged, the units needed now: the prompt and the
 * tokens generated so far. */
static uint64_t need_units(const kv_t *kv, const struct req *r, uint32_t out_budget)
{
    uint64_t cap = kv->cfg.max_seq_len;
    switch (kv->cfg.policy) {
    case KV_MAX: return cap; /* the whole sequence, whatever its length */
    case KV_ORACLE: return (uint64_t)r->prompt_tok + r->output_tok;
    case KV_PREDICTED: /* kv_queue and kv_overflow keep the budget within the pool */
        SIM_ASSERT((uint64_t)r->prompt_tok + out_budget <= kv->total &&
                   (uint64_t)r->prompt_tok + out_budget <= cap);
        return (uint64_t)r->prompt_tok + out_budget;
    case KV_PAGED: break;
    }
    /* Paged: what the prefill of this run writes (prompt and the tokens kept), plus the first
     * generated token (Vidur's accounting: without it). */
    return blocks_for(kv, (uint64_t)r->prompt_tok + r->generated + (kv->cfg.vidur_blocks ? 0 : 1));
}

/* Set r's output budget to `want` tokens, within what a reservation may cover (room_tok).
 * Returns 1 when the pool's capacity, not max_seq_len, cut it. */
static int set_budget(const kv_t *kv, struct req *r, uint32_t want)
{
    uint32_t room = room_tok(kv, r), room_seq = kv->cfg.max_seq_len - r->prompt_tok;
    uint32_t seq = want < room_seq ? want : room_seq; /* what max_seq_len alone allows */
    r->out_budget = seq < room ? seq : room;
    return seq > room;
}

int kv_queue(const kv_t *kv, struct req *r, const pred_t *pred)
{
    int clamped = 0;
    r->out_budget = r->pred_tok;
    if (kv->cfg.policy == KV_PREDICTED)
        clamped = set_budget(kv, r, pred_bucket_upper(pred, r->pred_bucket));
    kv_requeue(kv, r);
    return clamped;
}

void kv_requeue(const kv_t *kv, struct req *r)
{
    r->need_units = (uint32_t)need_units(kv, r, r->out_budget);
}

int kv_overflow(const kv_t *kv, struct req *r, uint32_t gen, const pred_t *pred,
                enum overflow_mode mode)
{
    SIM_ASSERT(kv->cfg.policy == KV_PREDICTED);
    uint32_t room_seq = kv->cfg.max_seq_len - r->prompt_tok;
    uint32_t nb = mode == OVERFLOW_MAX ? room_seq : pred_next_edge(pred, gen);
    int      clamped = set_budget(kv, r, nb > gen ? nb : room_seq);
    SIM_ASSERT(r->out_budget > gen); /* room_tok covers the whole output, and gen is short of it */
    return clamped;
}

uint32_t kv_out_limit(const kv_t *kv, const struct req *r)
{
    if (paged(kv)) /* Vidur's accounting: a block for the tokens computed, one token later */
        return (uint32_t)(r->blocks * (uint64_t)kv->cfg.block_tok - r->prompt_tok +
                          (kv->cfg.vidur_blocks ? 1 : 0));
    return r->resv_tok - r->prompt_tok;
}

int kv_grows(const kv_t *kv) { return paged(kv); }

uint32_t kv_held(const kv_t *kv, const struct req *r)
{
    return paged(kv) ? r->blocks : r->resv_tok;
}

int kv_fits(const kv_t *kv, const struct req *r)
{
    uint64_t room = kv->total - kv->used;
    if (paged(kv))
        room = room > kv->watermark ? room - kv->watermark : 0;
    return r->need_units <= room;
}

int kv_admit(kv_t *kv, struct req *r)
{
    uint64_t units = r->need_units;
    if (!kv_fits(kv, r))
        return SIM_ENOSPC;
    kv->used += units;
    if (paged(kv))
        r->blocks = (uint32_t)units;
    else
        r->resv_tok = (uint32_t)units;
    return SIM_OK;
}

int kv_take(kv_t *kv, struct req *r, uint32_t units)
{
    SIM_ASSERT(paged(kv));
    if (units > kv->total - kv->used)
        return SIM_ENOSPC;
    kv->used += units;
    r->blocks += units;
    return SIM_OK;
}

uint32_t kv_blocks_for(const kv_t *kv, uint64_t tok) { return (uint32_t)blocks_for(kv, tok); }

int kv_grow(kv_t *kv, struct req *r)
{
    SIM_ASSERT(paged(kv));
    if (kv->used == kv->total)
        return SIM_ENOSPC;
    kv->used++;
    r->blocks++;
    return SIM_OK;
}

void kv_release(kv_t *kv, struct req *r)
{
    uint64_t u = kv_held(kv, r);
    SIM_ASSERT(u <= kv->used);
    kv->used -= u;
    r->blocks = 0;
    r->resv_tok = 0;
}

uint64_t kv_free_units(const kv_t *kv) { return kv->total - kv->used; }

double kv_util(const kv_t *kv) { return kv->total ? (double)kv->used / (double)kv->total : 0.0; }

uint64_t kv_used_tok(const kv_t *kv) { return kv->used * (paged(kv) ? kv->cfg.block_tok : 1); }

int kv_check(const kv_t *kv, struct req *const *running, size_t n, struct sim_msg *why)
{
    if (kv->used > kv->total)
        return sim_msg_set(why, SIM_EINVARIANT, "KV over-committed: %llu of %llu units",
                           (unsigned long long)kv->used, (unsigned long long)kv->total);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += kv_held(kv, running[i]);
    if (sum != kv->used)
        return sim_msg_set(why, SIM_EINVARIANT, "KV used %llu but running requests hold %llu",
                           (unsigned long long)kv->used, (unsigned long long)sum);
    return SIM_OK;
}
