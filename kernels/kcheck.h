/*
 * kcheck.h: every kernel variant of a backend against its plain-C reference (R18), and, on CUDA,
 * their timings against the device's measured ceilings (`lensim kcheck`, cli/cmd_kcheck.c);
 * then the end-to-end check: the backend's whole iteration (direct launches and, on CUDA,
 * graph-captured) against the CPU engine's logits (issue 18).
 *
 * Output: the report (one line per variant, every failing check with its first mismatches,
 * then "N checks, M failed" and the bench lines) goes to the caller's FILE.
 * Errors: SIM_ENODEV when a CUDA check has no GPU or no CUDA build; SIM_ECONFIG for an unknown
 * backend; SIM_ENOENT when no variant matches; the backend's own errors (SIM_ENOMEM, SIM_ECUDA).
 * A mismatch is not an error: it is counted in struct kc_result.
 */
#ifndef LENSIM_KCHECK_H
#define LENSIM_KCHECK_H

#include <stdint.h>
#include <stdio.h>

#include "kern.h"
#include "sim.h"

/* The default input seed: fixed, so that two runs print the same report (issue 18); the wall
 * clock only on request (`--seed time`). */
#define KC_SEED_DEFAULT 18u

struct kc_opts {
    const char *backend; /* a kern_backend_choices name */
    int         op;      /* enum kern_op to check, or -1 for every op */
    int         version; /* the variant's version, or 0 for every version */
    uint64_t    seed;    /* inputs */
    int         bench;   /* 1: time the CUDA kernels after a clean check */
    int         verbose; /* 1: a line for every check, not only the failing ones */
    /* 0: the ops o selects, then (op -1 and version 0: a whole run) the engine check;
     * 1: only the end-to-end engine check. */
    int   engine;
    FILE *out; /* the report */
};

struct kc_result {
    int checks, fails;
};

/* Check every variant o selects, writing the report to o->out. Returns 0 with the counts in
 * *res (fails > 0 is a mismatch), or an error above with the reason in err (res holds the counts
 * so far). Borrows o. */
int kc_check(const struct kc_opts *o, struct kc_result *res, struct sim_msg *err);

/* ---- host logic, exposed for tests/test_kcheck.c ---- */

/* One attention-decode case. Row 0 attends to max_len keys, the others to seeded lengths in
 * 1..max_len; rows use distinct slots out of rows + 3 (a seeded permutation). The cache's slot
 * stride is max_len + slot_pad tokens and the block table's stride ceil(max_len / 16) +
 * table_pad blocks, so a kernel deriving either from max_len fails when the pad is not 0. */
struct kc_dec_cfg {
    uint32_t rows, heads, kv_heads, head_dim, max_len;
    uint32_t layout; /* enum kern_kv_layout */
    uint32_t slot_pad, table_pad;
    uint32_t fused;   /* 1: q inside fused QKV rows, ldq = (heads + 2 kv_heads) head_dim */
    uint32_t ldo_pad; /* ldo = heads head_dim + ldo_pad; the pad must stay unwritten */
    /* > 0: ctx.work holds the split partials of this many rows only, so that a split kernel
     * needs several launches (rows r0 > 0); 0: all rows. */
    uint32_t work_rows;
};
/* The decode cases (the same list on every backend, but on the CPU backend max_len is capped
 * at KC_CPU_MAX_LEN to keep its run short); *n receives the count. */
#define KC_CPU_MAX_LEN 256u
const struct kc_dec_cfg *kc_dec_cfgs(size_t *n);

/* A paged block table: `slots` slots of `per` blocks in rows of `stride` (>= per) entries,
 * drawn without repetition from a pool of nb_pool (>= slots x per) blocks by a seeded
 * Fisher-Yates shuffle; entries past `per` hold -1 (no block, as in kern.c). table holds
 * slots x stride entries. */
void kc_block_table(uint64_t seed, uint32_t slots, uint32_t per, uint32_t stride, uint32_t nb_pool,
                    int32_t *table);
/* Blocks in the pool of a kcheck cache of `slots` slots of `per` blocks (some spare, so that a
 * kernel ignoring the table reads other blocks). */
uint32_t kc_pool_blocks(uint32_t slots, uint32_t per);

/* Test hooks: planted-bug variants (tests/test_kcheck.c) need their own scratch sizes, and the
 * engine check needs a candidate that must fail. NULL hooks: none. */
struct kc_hooks {
    /* The attn_decode variant's ctx.work needs for a call with args a: fixed bytes plus
     * per_row bytes for each row of one launch. NULL: the backend's own sizing. */
    void (*decode_work)(const struct kern_attn_decode_args *a, size_t *fixed, size_t *per_row);
    uint32_t max_len_cap;     /* != 0: decode cases capped at this many keys (run time) */
    uint64_t engine_seed_xor; /* != 0: the candidate engine's weights come from another seed */
    int      engine_skip;     /* > 0: the candidate skips this iteration (1-based) */
};

/* Check one variant v (which need not be registered) like kc_check does, or, with v NULL,
 * only the engine check; h may be NULL. Same returns as kc_check. */
int kc_check_variant(const struct kc_opts *o, const struct kern_variant *v,
                     const struct kc_hooks *h, struct kc_result *res, struct sim_msg *err);

#endif
