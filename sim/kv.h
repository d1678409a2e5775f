/*
 * kv.h: KV-cache memory of one replica, behind one interface with four policies:
 *   max       reserve prompt + the rest of max_seq_len at admission (ORCA / FasterTransformer);
 *   predicted reserve prompt + the predicted bucket's upper edge (S3); outgrowing it is an
 *             overflow the replica's supervisor must handle;
 *   oracle    reserve prompt + the true output length (the upper bound on what prediction gains);
 *   paged     blocks of block_tok tokens allocated as the sequence grows (vLLM), admission keeps a
 *             watermark of free blocks, and a full pool forces preemption.
 * Units: the pool counts "units" of block_tok tokens (1 for the reservation policies). A request
 * holds r->resv_tok tokens (reservation policies) or r->blocks units (paged).
 * Invariant (kv_check): 0 <= used <= total, and used equals the sum over live requests of what
 * each holds (the replica passes its running set).
 * Cost: every call O(1).
 */
#ifndef LENSIM_KV_H
#define LENSIM_KV_H

#include <stddef.h>
#include <stdint.h>

#include "choice.h"
#include "req.h"
#include "sim.h"

enum kv_policy { KV_MAX = 0, KV_PREDICTED, KV_ORACLE, KV_PAGED };

struct kv_cfg {
    enum kv_policy policy;
    uint64_t       capacity_tok; /* usable KV tokens of the replica */
    uint32_t       block_tok;    /* paged: tokens per block */
    double         watermark;    /* paged: fraction of blocks kept free at admission */
    uint32_t       max_seq_len;  /* prompt + output limit */
};

struct kv {
    struct kv_cfg cfg;
    uint64_t      total;     /* units */
    uint64_t      used;      /* units */
    uint64_t      watermark; /* paged: units that admission leaves free */
    uint64_t      peak;      /* highest `used` seen */
};

/* The policies' names and help, values enum kv_policy (the schema's engine.memory). */
extern const struct sim_choice kv_policy_choices[];

/* Initialise. Returns 0, or SIM_ECONFIG with the reason in err (no capacity, block size 0). */
int kv_init(struct kv *kv, const struct kv_cfg *cfg, struct sim_msg *err);

/* Tokens the reservation covers when r is (re)admitted with output budget `out_budget` (the
 * predicted or next bucket edge; ignored by max, oracle and paged). For paged, the units needed
 * now: the prompt and the tokens generated so far. */
uint64_t kv_need_units(const struct kv *kv, const struct req *r, uint32_t out_budget);
/* Output tokens r may generate (in total, counting r->generated) before it needs more memory:
 * its reservation for the reservation policies, the end of its last block for paged. */
uint32_t kv_out_limit(const struct kv *kv, const struct req *r);

/* Admit: take `units` for r. Returns 0, or SIM_ENOSPC (nothing changed) when they are not free
 * (paged: when admission would dip into the watermark). */
int kv_admit(struct kv *kv, struct req *r, uint64_t units);
/* Grow a running paged request by one block. Returns 0 or SIM_ENOSPC (nothing changed). */
int kv_grow(struct kv *kv, struct req *r);
/* Give back everything r holds. Cannot fail. */
void kv_release(struct kv *kv, struct req *r);

/* Fraction of the pool in use, in [0, 1]. */
static inline double kv_util(const struct kv *kv)
{
    return kv->total ? (double)kv->used / (double)kv->total : 0.0;
}
/* Tokens of memory in use (units x block size). */
static inline uint64_t kv_used_tok(const struct kv *kv)
{
    return kv->used * (kv->cfg.policy == KV_PAGED ? kv->cfg.block_tok : 1);
}

/* Check the pool against the running set (n requests). Returns 0 or SIM_EINVARIANT with why. */
int kv_check(const struct kv *kv, struct req *const *running, size_t n, struct sim_msg *why);

#endif
