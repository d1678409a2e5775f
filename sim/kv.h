/*
 * kv.h: KV-cache memory of one replica, behind one interface with four policies:
 *   max       reserve prompt + the rest of max_seq_len at admission (ORCA / FasterTransformer);
 *   predicted reserve prompt + the predicted bucket's upper edge (S3); outgrowing it is an
 *             overflow the replica's supervisor must handle;
 *   oracle    reserve prompt + the true output length (the upper bound on what prediction gains);
 *   paged     blocks of block_tok tokens allocated as the sequence grows (vLLM), admission keeps a
 *             watermark of free blocks, and a full pool forces preemption.
 * Every memory decision of the replica is made here: whether a request can ever run (and its
 * truncation to max_seq_len), the output budget a queued or overflowed request is reserved for,
 * the units it needs to be admitted, and the largest such need (the policies' bitmap size).
 * Units: the pool counts "units" of block_tok tokens (1 for the reservation policies). A request
 * holds r->resv_tok tokens (reservation policies) or r->blocks units (paged).
 * Capacity: no reservation asks for more than the pool holds. A predicted reservation (prompt +
 * bucket edge, or the budget after an overflow) is clamped to max_seq_len and to the pool's
 * capacity. Admission (kv_admissible) accepts only requests whose prompt + output fit in both, so
 * a clamped reservation covers its request's whole output: a request alone on the pool always
 * runs to its end, and overflows below the clamp are handled as before. kv_queue and kv_overflow
 * report each clamp, so that the run can count them.
 * Invariant (kv_check): 0 <= used <= total, and used equals the sum over live requests of what
 * each holds (the replica passes its running set).
 * Cost: every call O(1), except kv_check O(n) and kv_overflow O(buckets).
 */
#ifndef LENSIM_KV_H
#define LENSIM_KV_H

#include <stddef.h>
#include <stdint.h>

#include "choice.h"
#include "pred.h"
#include "req.h"
#include "sim.h"

enum kv_policy { KV_MAX = 0, KV_PREDICTED, KV_ORACLE, KV_PAGED };
/* What a predicted reservation grows to when outgrown (S3: the next bucket's edge). */
enum overflow_mode { OVERFLOW_NEXT_BUCKET = 0, OVERFLOW_MAX };

struct kv_cfg {
    enum kv_policy policy;
    uint64_t       capacity_tok; /* usable KV tokens of the replica */
    uint32_t       block_tok;    /* paged: tokens per block */
    double         watermark;    /* paged: fraction of blocks kept free at admission */
    uint32_t       max_seq_len;  /* prompt + output limit */
    /* paged, issue 10's vllm_v0 and sarathi rules: Vidur's block accounting
     * (microsoft/vidur@01f216f, vidur/scheduler/replica_scheduler/vllm_replica_scheduler.py,
     * _can_allocate_request / _allocate_request): a request holds blocks for the tokens
     * computed so far, not for the token being generated (a prompt of P tokens is admitted with
     * ceil(P / block) blocks), and the watermark is int(fraction x blocks), rounded down. */
    int vidur_blocks;
    /* paged, vllm_v1 (issue 10): automatic prefix caching as vLLM v1 does it
     * (vllm/v1/core/kv_cache_manager.py get_computed_blocks / allocate_slots, block_pool.py):
     * full prompt blocks are keyed by a hash chained over the request's block hashes; a block
     * whose key is cached is shared (reference-counted, counted once in `used`); a block no
     * request holds goes to a free list in LRU order and keeps its key until it is taken for
     * another (evicted). The trace's hashes are Mooncake's hash_ids, one per src_block_tok
     * (512) tokens: block j of block_tok tokens (block_tok must divide src_block_tok) is keyed by
     * the chain of (hash_ids[j * block_tok / src_block_tok], its index inside that block). */
    int      prefix_caching;
    uint32_t src_block_tok;
};

/* The block hashes of every request of a run, appended as they arrive (req.hash_off). */
struct kv_hashes {
    int64_t *v;
    size_t   n, cap;
};

typedef struct kv kv_t;

/* The policies' names and help, values enum kv_policy (the schema's engine.memory). */
extern const struct sim_choice kv_policy_choices[];
/* What a reservation becomes after a misprediction (kv_overflow), values enum overflow_mode (the
 * schema's engine.overflow). */
extern const struct sim_choice kv_overflow_choices[];

/* Make an empty pool in *out (owned: free with kv_free). Returns 0, SIM_ENOMEM, or SIM_ECONFIG
 * with the reason in err (no capacity, block size 0, a max policy that holds no max-length
 * sequence); *out is NULL on failure. */
int kv_new(const struct kv_cfg *cfg, kv_t **out, struct sim_msg *err);
/* NULL is a no-op. */
void kv_free(kv_t *kv);

/* Can r ever run on this pool? Borrows r and caps r->output_tok at what max_seq_len leaves,
 * setting *truncated when it did. Returns 0 when the prompt fills the sequence (r unchanged) or
 * the request needs more memory than the pool can ever give it, 1 otherwise: then r, alone on
 * the pool, can always run to its end (every reservation below covers its output in the end). */
int kv_admissible(const kv_t *kv, struct req *r, int *truncated);
/* The largest kv_need a queued request can have, in units (the policies' bitmap size). */
uint64_t kv_queue_units(const kv_t *kv);
/* r (admissible) enters the waiting queue: set r->out_budget (predicted: its bucket's upper edge
 * from pred, else its predicted length) and r->need_units. Borrows pred. Returns 1 when the
 * reservation was clamped to the pool's capacity (see "Capacity" above), else 0. */
int kv_queue(const kv_t *kv, struct req *r, const pred_t *pred);
/* r goes back to the queue after a preemption (r->generated updated): recompute
 * r->need_units for its current r->out_budget. Cannot fail. */
void kv_requeue(const kv_t *kv, struct req *r);
/* Predicted policy: r (admissible) outgrew its reservation after generating `gen` tokens. Sets
 * r->out_budget to the next bucket edge above gen (or, with OVERFLOW_MAX or past the last edge,
 * to all the room max_seq_len leaves), within the pool's capacity; the new budget is always
 * above gen. Borrows pred. Returns 1 when the capacity clamped it, else 0. */
int kv_overflow(const kv_t *kv, struct req *r, uint32_t gen, const pred_t *pred,
                enum overflow_mode mode);

/* Output tokens r may generate (in total, counting r->generated) before it needs more memory:
 * its reservation for the reservation policies, the end of its last block for paged. */
uint32_t kv_out_limit(const kv_t *kv, const struct req *r);
/* 1 when a running request that reaches kv_out_limit grows block by block (paged), 0 when it
 * has outgrown a reservation (kv_overflow). */
int kv_grows(const kv_t *kv);
/* Units r holds now. */
uint32_t kv_held(const kv_t *kv, const struct req *r);

/* Admit: take r->need_units for r. Returns 0, or SIM_ENOSPC (nothing changed) when they are not
 * free (paged: when admission would dip into the watermark). */
int kv_admit(kv_t *kv, struct req *r);
/* Would kv_admit(r) succeed now? Changes nothing. */
int kv_fits(const kv_t *kv, const struct req *r);
/* Paged, vllm_v1's incremental allocation: take `units` blocks for r now (admitted with them:
 * r->blocks = units; or, when r already holds blocks, `units` more), without a watermark.
 * Returns 0 or SIM_ENOSPC (nothing changed). */
int kv_take(kv_t *kv, struct req *r, uint32_t units);
/* Blocks that hold tok tokens (paged). */
uint32_t kv_blocks_for(const kv_t *kv, uint64_t tok);
/* Grow a running paged request by one block. Returns 0 or SIM_ENOSPC (nothing changed); with
 * prefix caching also SIM_ENOMEM. */
int kv_grow(kv_t *kv, struct req *r);
/* Give back everything r holds. Cannot fail. */
void kv_release(kv_t *kv, struct req *r);

/* ---- prefix caching (kv_cfg.prefix_caching) ---- */
/* Borrow the run's hash vector (read at admission). */
void kv_set_hashes(kv_t *kv, const struct kv_hashes *h);
/* Blocks of r's prompt found in the cache, a prefix of them, so that at least one token of r
 * (prompt + kept tokens) is left to compute; and how many of those are on the free list
 * (taking them takes free blocks). 0 without prefix caching. O(blocks looked up). */
uint32_t kv_prefix_hits(const kv_t *kv, const struct req *r, uint32_t *evictable);
/* Admit r with its `hits` cached blocks (kv_prefix_hits) and `units` new ones. Returns 0 or
 * SIM_ENOSPC (nothing changed) when hits' evictable blocks + units are not free, or SIM_ENOMEM. */
int kv_prefix_admit(kv_t *kv, struct req *r, uint32_t hits, uint32_t units);
/* r's first `tok` tokens are computed (or scheduled to be): key its full prompt blocks among
 * them, so that later requests find them. */
void kv_prefix_register(kv_t *kv, struct req *r, uint64_t tok);
/* Tokens looked up and found in the cache so far (vLLM's prefix cache queries and hits). */
void kv_prefix_stats(const kv_t *kv, uint64_t *query_tok, uint64_t *hit_tok);

/* Units not in use (watermark included). */
uint64_t kv_free_units(const kv_t *kv);
/* Fraction of the pool in use, in [0, 1]. */
double kv_util(const kv_t *kv);
/* Tokens of memory in use (units x block size). */
uint64_t kv_used_tok(const kv_t *kv);

/* Check the pool against the running set (n requests). Returns 0 or SIM_EINVARIANT with why. */
int kv_check(const kv_t *kv, struct req *const *running, size_t n, struct sim_msg *why);

#endif
