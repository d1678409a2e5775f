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
    /* Prefix caching (issue 10): every block's holders and key, the free list (LRU: taken
     * from the head, freed to the tail), and a table from key to block (linear probing). */
    const struct kv_hashes *hashes;
    uint32_t               *ref, *prev, *next, *slot; /* slot: block + 1, 0 = empty */
    uint64_t               *key;
    uint8_t                *keyed;
    uint32_t                head, tail;
    size_t                  n_slot;
    uint64_t                ref_sum; /* sum of ref = sum of the blocks requests hold */
    uint64_t                q_tok, hit_tok;
};

#define NIL UINT32_MAX /* no block; a macro: ISO C enumerators are ints */

static int setup_cache(kv_t *kv)
{
    size_t n = (size_t)kv->total;
    kv->n_slot = 16;
    while (kv->n_slot < 2 * n)
        kv->n_slot *= 2;
    kv->ref = sim_calloc(n, sizeof *kv->ref);
    kv->prev = sim_calloc(n, sizeof *kv->prev);
    kv->next = sim_calloc(n, sizeof *kv->next);
    kv->key = sim_calloc(n, sizeof *kv->key);
    kv->keyed = sim_calloc(n, 1);
    kv->slot = sim_calloc(kv->n_slot, sizeof *kv->slot);
    if (!kv->ref || !kv->prev || !kv->next || !kv->key || !kv->keyed || !kv->slot)
        return SIM_ENOMEM;
    for (size_t b = 0; b < n; b++) { /* every block free, in order */
        kv->prev[b] = b ? (uint32_t)b - 1 : NIL;
        kv->next[b] = b + 1 < n ? (uint32_t)b + 1 : NIL;
    }
    kv->head = 0;
    kv->tail = (uint32_t)n - 1;
    return SIM_OK;
}

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
    if (cfg->prefix_caching) {
        SIM_ASSERT(cfg->policy == KV_PAGED && cfg->src_block_tok % cfg->block_tok == 0);
        if (kv->total >= NIL)
            return sim_msg_set(err, SIM_ECONFIG, "prefix caching: too many KV blocks (%llu)",
                               (unsigned long long)kv->total);
        if (setup_cache(kv))
            return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    }
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

void kv_free(kv_t *kv)
{
    if (!kv)
        return;
    sim_free(kv->ref);
    sim_free(kv->prev);
    sim_free(kv->next);
    sim_free(kv->key);
    sim_free(kv->keyed);
    sim_free(kv->slot);
    sim_free(kv);
}

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

/* ---- prefix caching ---- */

static uint64_t mix64(uint64_t x) /* splitmix64's finaliser */
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

/* Full prompt blocks of r that carry a trace hash. */
static uint32_t keyable(const kv_t *kv, const struct req *r)
{
    uint64_t full = r->prompt_tok / kv->cfg.block_tok;
    uint64_t per = kv->cfg.src_block_tok / kv->cfg.block_tok;
    uint64_t covered = (uint64_t)r->n_hash * per;
    return (uint32_t)(full < covered ? full : covered);
}

/* Key of block j given the key of block j - 1 (vLLM chains each block's hash to its parent's). */
static uint64_t key_next(const kv_t *kv, const struct req *r, uint64_t parent, uint32_t j)
{
    uint32_t per = kv->cfg.src_block_tok / kv->cfg.block_tok;
    int64_t  id = kv->hashes->v[r->hash_off + j / per];
    return mix64(parent ^ mix64((uint64_t)id) ^ ((uint64_t)(j % per) << 1));
}

static size_t slot_of(const kv_t *kv, uint64_t key)
{
    return (size_t)(mix64(key) & (kv->n_slot - 1));
}

/* The block keyed `key`, or NIL. */
static uint32_t table_find(const kv_t *kv, uint64_t key)
{
    for (size_t i = slot_of(kv, key);; i = (i + 1) & (kv->n_slot - 1)) {
        uint32_t s = kv->slot[i];
        if (!s)
            return NIL;
        if (kv->key[s - 1] == key)
            return s - 1;
    }
}

static void table_add(kv_t *kv, uint32_t b, uint64_t key)
{
    size_t i = slot_of(kv, key);
    while (kv->slot[i])
        i = (i + 1) & (kv->n_slot - 1);
    kv->slot[i] = b + 1;
    kv->key[b] = key;
    kv->keyed[b] = 1;
}

/* Take b's key out (backward-shift deletion keeps every probe chain whole). */
static void table_drop(kv_t *kv, uint32_t b)
{
    size_t mask = kv->n_slot - 1, i = slot_of(kv, kv->key[b]);
    while (kv->slot[i] != b + 1)
        i = (i + 1) & mask;
    for (size_t j = (i + 1) & mask; kv->slot[j]; j = (j + 1) & mask) {
        size_t home = slot_of(kv, kv->key[kv->slot[j] - 1]);
        /* Move j's entry into the hole at i when its home is not in (i, j]. */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            kv->slot[i] = kv->slot[j];
            i = j;
        }
    }
    kv->slot[i] = 0;
    kv->keyed[b] = 0;
}

static void list_remove(kv_t *kv, uint32_t b)
{
    if (kv->prev[b] != NIL)
        kv->next[kv->prev[b]] = kv->next[b];
    else
        kv->head = kv->next[b];
    if (kv->next[b] != NIL)
        kv->prev[kv->next[b]] = kv->prev[b];
    else
        kv->tail = kv->prev[b];
}

static void list_push_tail(kv_t *kv, uint32_t b)
{
    kv->prev[b] = kv->tail;
    kv->next[b] = NIL;
    if (kv->tail != NIL)
        kv->next[kv->tail] = b;
    else
        kv->head = b;
    kv->tail = b;
}

static int hold(kv_t *kv, struct req *r, uint32_t b)
{
    if (SIM_GROW(r->blk, r->cap_blk, r->blocks + 1))
        return SIM_ENOMEM;
    r->blk[r->blocks++] = b;
    kv->ref_sum++;
    if (kv->ref[b]++ == 0) { /* from the free list */
        list_remove(kv, b);
        kv->used++;
    }
    return SIM_OK;
}

/* A fresh block for r: the free list's head, its old key evicted. */
static int take_new(kv_t *kv, struct req *r)
{
    uint32_t b = kv->head;
    SIM_ASSERT(b != NIL);
    if (kv->keyed[b])
        table_drop(kv, b);
    return hold(kv, r, b);
}

void kv_set_hashes(kv_t *kv, const struct kv_hashes *h) { kv->hashes = h; }

uint32_t kv_prefix_hits(const kv_t *kv, const struct req *r, uint32_t *evictable)
{
    *evictable = 0;
    if (!kv->cfg.prefix_caching)
        return 0;
    /* vLLM: at most num_tokens - 1 tokens from the cache (the last is computed for logits) */
    uint64_t most = ((uint64_t)r->prompt_tok + r->generated - 1) / kv->cfg.block_tok;
    uint32_t n = keyable(kv, r), hits = 0;
    if (n > most)
        n = (uint32_t)most;
    uint64_t k = 0;
    for (uint32_t j = 0; j < n; j++) {
        k = key_next(kv, r, k, j);
        uint32_t b = table_find(kv, k);
        if (b == NIL)
            break;
        hits++;
        *evictable += kv->ref[b] == 0;
    }
    return hits;
}

int kv_prefix_admit(kv_t *kv, struct req *r, uint32_t hits, uint32_t units)
{
    uint32_t ev, h = kv_prefix_hits(kv, r, &ev);
    SIM_ASSERT(h == hits && r->blocks == 0);
    if ((uint64_t)ev + units > kv->total - kv->used)
        return SIM_ENOSPC;
    uint64_t k = 0;
    for (uint32_t j = 0; j < hits; j++) {
        k = key_next(kv, r, k, j);
        if (hold(kv, r, table_find(kv, k)))
            return SIM_ENOMEM;
    }
    for (uint32_t j = 0; j < units; j++)
        if (take_new(kv, r))
            return SIM_ENOMEM;
    kv->q_tok += (uint64_t)r->prompt_tok + r->generated;
    kv->hit_tok += (uint64_t)hits * kv->cfg.block_tok;
    return SIM_OK;
}

void kv_prefix_register(kv_t *kv, struct req *r, uint64_t tok)
{
    if (!kv->cfg.prefix_caching)
        return;
    uint64_t full = tok / kv->cfg.block_tok;
    uint32_t n = keyable(kv, r);
    if (n > full)
        n = (uint32_t)full;
    if (n > r->blocks)
        n = r->blocks;
    uint64_t k = 0;
    for (uint32_t j = 0; j < n; j++) {
        k = key_next(kv, r, k, j);
        uint32_t b = r->blk[j];
        if (!kv->keyed[b] && table_find(kv, k) == NIL)
            table_add(kv, b, k); /* a key cached already (a twin computed at once) stays one */
    }
}

void kv_prefix_stats(const kv_t *kv, uint64_t *query_tok, uint64_t *hit_tok)
{
    *query_tok = kv->q_tok;
    *hit_tok = kv->hit_tok;
}

int kv_take(kv_t *kv, struct req *r, uint32_t units)
{
    SIM_ASSERT(paged(kv));
    if (units > kv->total - kv->used)
        return SIM_ENOSPC;
    if (kv->cfg.prefix_caching) {
        for (uint32_t j = 0; j < units; j++)
            if (take_new(kv, r))
                return SIM_ENOMEM;
        return SIM_OK;
    }
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
    if (kv->cfg.prefix_caching)
        return kv_take(kv, r, 1);
    kv->used++;
    r->blocks++;
    return SIM_OK;
}

void kv_release(kv_t *kv, struct req *r)
{
    if (kv->cfg.prefix_caching) { /* last block first: the prompt's head is evicted last */
        for (uint32_t j = r->blocks; j-- > 0;) {
            uint32_t b = r->blk[j];
            SIM_ASSERT(kv->ref[b] > 0);
            kv->ref_sum--;
            if (--kv->ref[b] == 0) {
                kv->used--;
                list_push_tail(kv, b);
            }
        }
        sim_free(r->blk);
        r->blk = NULL;
        r->cap_blk = 0;
        r->blocks = 0;
        return;
    }
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
    if (kv->cfg.prefix_caching) { /* shared blocks count once in used, each holder in ref */
        uint64_t in_use = 0, on_list = 0;
        for (uint64_t b = 0; b < kv->total; b++)
            in_use += kv->ref[b] > 0;
        for (uint32_t b = kv->head; b != NIL; b = kv->next[b])
            on_list++;
        if (sum != kv->ref_sum || in_use != kv->used || on_list != kv->total - kv->used)
            return sim_msg_set(why, SIM_EINVARIANT,
                               "prefix cache: requests hold %llu blocks, references %llu; %llu "
                               "in use, used %llu; %llu on the free list of %llu",
                               (unsigned long long)sum, (unsigned long long)kv->ref_sum,
                               (unsigned long long)in_use, (unsigned long long)kv->used,
                               (unsigned long long)on_list,
                               (unsigned long long)(kv->total - kv->used));
        return SIM_OK;
    }
    if (sum != kv->used)
        return sim_msg_set(why, SIM_EINVARIANT, "KV used %llu but running requests hold %llu",
                           (unsigned long long)kv->used, (unsigned long long)sum);
    return SIM_OK;
}
