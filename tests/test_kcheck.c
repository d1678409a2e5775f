/*
 * test_kcheck.c: kcheck's host logic and its power to fail (issue 18).
 *
 * 1. The block tables kcheck builds are permutations (every block id at most once, none outside
 *    the pool, -1 past each slot's blocks) for every table size it uses; the map it replaced,
 *    (i * 40503 + 17) % nb, is not one at nb = 42 (hand: 40503 mod 42 = 15, gcd(15, 42) = 3, so
 *    it takes 42 / 3 = 14 values).
 * 2. The decode cases cover what issue 18 lists: G in {1, 2, 4, 8} and a group that is not a
 *    power of two, more than 16 rows, padded slot and table strides, fused QKV rows, padded
 *    output rows, short contexts with several rows and heads, several launches.
 * 3. Planted bugs: a CPU transcription of the CUDA split-context decode kernel (chunks, partials
 *    in ctx.work, rows per launch from ctx.work_bytes, a combine step) passes kcheck; each copy
 *    with one bug that the old kcheck let through must fail it. Likewise a GEMM with lda and ldb
 *    swapped, and engine candidates with other weights or a skipped iteration.
 */
#include "kcheck.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kern_internal.h"
#include "test.h"

/* ---- 1. block tables ---- */

static void assert_permutation(uint32_t slots, uint32_t per, uint32_t stride)
{
    uint32_t nb = kc_pool_blocks(slots, per);
    int32_t *t = malloc(sizeof *t * slots * stride);
    char    *seen = calloc(nb, 1);
    ASSERT_TRUE(t && seen);
    for (uint64_t seed = 1; seed < 4; seed++) {
        memset(seen, 0, nb);
        kc_block_table(seed, slots, per, stride, nb, t);
        for (uint32_t s = 0; s < slots; s++)
            for (uint32_t j = 0; j < stride; j++) {
                int32_t b = t[(size_t)s * stride + j];
                if (j >= per) {
                    ASSERT_EQ(b, -1);
                    continue;
                }
                ASSERT_TRUE(b >= 0 && (uint32_t)b < nb);
                ASSERT_EQ(seen[b], 0); /* no block twice */
                seen[b] = 1;
            }
    }
    free(t), free(seen);
}

TEST(block_tables_are_permutations)
{
    size_t                   nc;
    const struct kc_dec_cfg *c = kc_dec_cfgs(&nc);
    for (size_t i = 0; i < nc; i++)
        for (int cpu = 0; cpu < 2; cpu++) { /* the lengths on each backend */
            uint32_t L = cpu && c[i].max_len > KC_CPU_MAX_LEN ? KC_CPU_MAX_LEN : c[i].max_len;
            uint32_t per = (L + 15) / 16;
            assert_permutation(c[i].rows + 3, per, per + c[i].table_pad);
        }
    assert_permutation(6, 7, 9); /* kv_append: 6 slots of 100 tokens */
    /* The old map at kv_append's 42 blocks: 14 distinct values (see the header). */
    char seen[42] = {0};
    int  distinct = 0;
    for (uint64_t i = 0; i < 42; i++) {
        uint64_t b = (i * 40503u + 17u) % 42;
        distinct += !seen[b];
        seen[b] = 1;
    }
    ASSERT_EQ(distinct, 14);
}

/* ---- 2. the decode cases ---- */

TEST(decode_cases_cover_issue_18)
{
    size_t                   nc;
    const struct kc_dec_cfg *c = kc_dec_cfgs(&nc);
    int g_seen[9] = {0}, odd_group = 0, many_rows = 0, slot_pad = 0, table_pad = 0, fused = 0;
    int ldo_pad = 0, short_multi = 0, multi = 0;
    for (size_t i = 0; i < nc; i++) {
        uint32_t G = c[i].heads / c[i].kv_heads;
        ASSERT_EQ(c[i].heads % c[i].kv_heads, 0);
        ASSERT_TRUE(G <= 8 && c[i].head_dim % 8 == 0 && c[i].max_len >= 1);
        g_seen[G] = 1;
        odd_group |= (G & (G - 1)) != 0;
        many_rows |= c[i].rows > 16;
        slot_pad |= c[i].layout == KERN_KV_CONTIGUOUS && c[i].slot_pad > 0;
        table_pad |= c[i].layout == KERN_KV_PAGED && c[i].table_pad > 0;
        fused |= c[i].fused;
        ldo_pad |= c[i].ldo_pad > 0;
        /* one chunk of the CUDA kernel (at least 32 keys) covers these: the single-split path
         * with several rows, heads and lengths, in both layouts */
        short_multi |= (c[i].max_len <= 32 && c[i].rows > 1 && G > 1) << c[i].layout;
        multi |= c[i].work_rows > 0 && c[i].work_rows < c[i].rows && c[i].max_len > 256;
    }
    ASSERT_TRUE(g_seen[1] && g_seen[2] && g_seen[4] && g_seen[8]);
    ASSERT_TRUE(odd_group && many_rows && slot_pad && table_pad && fused && ldo_pad && multi);
    ASSERT_EQ(short_multi, 3);
}

/* ---- 3. planted bugs ---- */

enum bug {
    BUG_NONE,
    BUG_SLOT_STRIDE,   /* contiguous slot stride taken from max_len */
    BUG_TABLE_STRIDE,  /* block-table stride taken from max_len */
    BUG_SINGLE_HEAD0,  /* one split: every head normalised by its group's first head's sum */
    BUG_R0,            /* the combine of launch r0 > 0 writes rows from 0 */
    BUG_LDQ,           /* q rows stepped by heads x head_dim */
    BUG_LDO,           /* o rows stepped by heads x head_dim */
    BUG_GROUP_CLASS,   /* q/o heads of a group offset by the group's class (1, 4, 8), not G */
    BUG_ROWS16,        /* rows past 16 never computed */
    BUG_EMPTY_SPLIT,   /* a split past a row's length writes no partials */
    BUG_GEMM_SWAP_LDS, /* gemm: B stepped by lda (the half of an lda/ldb swap that stays inside
                        * the buffers: A stepped by the larger ldb would read past A) */
    BUG_COUNT
};
static const char *bug_names[BUG_COUNT] = {
    "none",
    "slot stride = max_len",
    "table stride = ceil(max_len/16)",
    "head 0's sum",
    "combine ignores r0",
    "ldq = H d",
    "ldo = H d",
    "group class for G",
    "rows > 16 dropped",
    "empty splits unwritten",
    "gemm B by lda",
};
static enum bug bug;

enum { EMU_CHUNK = 64 };

static size_t emu_splits(uint32_t max_len) { return (max_len + EMU_CHUNK - 1) / EMU_CHUNK; }

static void emu_work(const struct kern_attn_decode_args *a, size_t *fixed, size_t *per_row)
{
    size_t ns = emu_splits(a->max_len);
    *fixed = 0;
    *per_row = ns == 1 ? 0 : sizeof(float) * a->n_heads * ns * (a->kv.head_dim + 2);
}

static const float *emu_tok(const struct kern_kv *kv, const float *base, uint32_t slot, uint32_t t,
                            uint32_t kvh, uint32_t max_len)
{
    size_t tok;
    if (kv->layout == KERN_KV_PAGED) {
        uint32_t stride = bug == BUG_TABLE_STRIDE ? (max_len + kv->block_tok - 1) / kv->block_tok
                                                  : kv->table_stride;
        int32_t  blk = kv->block_table[(size_t)slot * stride + t / kv->block_tok];
        if (blk < 0) { /* no block (a planted bug): read zeros rather than outside the pool */
            static const float zeros[256];
            return zeros;
        }
        tok = (size_t)blk * kv->block_tok + t % kv->block_tok;
    } else {
        tok = (size_t)slot * (bug == BUG_SLOT_STRIDE ? max_len : kv->slot_stride_tok) + t;
    }
    return base + (tok * kv->kv_heads + kvh) * kv->head_dim;
}

/* The CUDA v1 kernel's structure (kernels/attn_decode.cu at 4950329): blocks (split, KV head,
 * row of the launch), chunk softmax, unnormalised partials (o, max, sum) per split in ctx.work,
 * then a log-sum-exp combine; rows per launch = work_bytes / per-row partials. */
static int emu_decode(const struct kern_ctx *c, const struct kern_attn_decode_args *a)
{
    uint32_t H = a->n_heads, KV = a->kv.kv_heads, d = a->kv.head_dim, G = H / KV;
    uint32_t Gq = bug == BUG_GROUP_CLASS ? (G == 1 ? 1 : G <= 4 ? 4 : 8) : G;
    size_t   ns = emu_splits(a->max_len), fixed, per_row;
    emu_work(a, &fixed, &per_row);
    size_t rows = ns == 1 ? a->n : c->work_bytes / per_row;
    if (!rows)
        return SIM_ECONFIG;
    uint32_t     n = bug == BUG_ROWS16 && a->n > 16 ? 16 : a->n;
    size_t       ldq = bug == BUG_LDQ ? (size_t)H * d : a->ldq;
    size_t       ldo = bug == BUG_LDO ? (size_t)H * d : a->ldo;
    float       *po = c->work, *pml = po + rows * H * ns * d, sc[EMU_CHUNK], acc[256];
    const float *K = a->kv.k, *V = a->kv.v;
    for (uint32_t r0 = 0; r0 < n; r0 += (uint32_t)rows) {
        uint32_t nr = n - r0 < rows ? n - r0 : (uint32_t)rows;
        for (uint32_t z = 0; z < nr; z++) {
            uint32_t row = r0 + z, len = (uint32_t)a->len[row], slot = (uint32_t)a->slot[row];
            for (uint32_t kvh = 0; kvh < KV; kvh++)
                for (size_t s = 0; s < ns; s++) {
                    uint32_t b0 = (uint32_t)s * EMU_CHUNK, e0 = b0 + EMU_CHUNK;
                    uint32_t end = len < e0 ? len : e0, nk = end > b0 ? end - b0 : 0;
                    if (!nk && bug == BUG_EMPTY_SPLIT)
                        continue;
                    float l0 = 0;
                    for (uint32_t g = 0; g < G; g++) {
                        if ((size_t)kvh * Gq + g >= H)
                            continue; /* the planted group bug would leave the row here */
                        const float *q = (const float *)a->q + row * ldq +
                                         ((size_t)kvh * Gq + g) * d;
                        float m = -INFINITY, l = 0;
                        for (uint32_t j = 0; j < nk; j++) {
                            const float *k = emu_tok(&a->kv, K, slot, b0 + j, kvh, a->max_len);
                            float        x = 0;
                            for (uint32_t e = 0; e < d; e++)
                                x += q[e] * k[e];
                            sc[j] = x * a->scale;
                            m = sc[j] > m ? sc[j] : m;
                        }
                        for (uint32_t e = 0; e < d; e++)
                            acc[e] = 0;
                        for (uint32_t j = 0; j < nk; j++) {
                            float        p = expf(sc[j] - m);
                            const float *v = emu_tok(&a->kv, V, slot, b0 + j, kvh, a->max_len);
                            l += p;
                            for (uint32_t e = 0; e < d; e++)
                                acc[e] += p * v[e];
                        }
                        if (g == 0)
                            l0 = l;
                        uint32_t h = kvh * Gq + g;
                        if (ns == 1) {
                            float *o = (float *)a->o + row * ldo + (size_t)h * d;
                            float  den = bug == BUG_SINGLE_HEAD0 ? l0 : l;
                            for (uint32_t e = 0; e < d; e++)
                                o[e] = acc[e] / den;
                        } else {
                            size_t base = ((size_t)z * H + h) * ns + s;
                            memcpy(po + base * d, acc, sizeof(float) * d);
                            pml[2 * base] = m;
                            pml[2 * base + 1] = l;
                        }
                    }
                }
        }
        if (ns == 1)
            continue;
        for (uint32_t z = 0; z < nr; z++) /* the combine kernel */
            for (uint32_t h = 0; h < H; h++) {
                size_t base = ((size_t)z * H + h) * ns;
                float  M = -INFINITY, L = 0;
                for (size_t s = 0; s < ns; s++)
                    M = fmaxf(M, pml[2 * (base + s)]);
                for (size_t s = 0; s < ns; s++) {
                    float m = pml[2 * (base + s)];
                    L += m == -INFINITY ? 0.0f : pml[2 * (base + s) + 1] * expf(m - M);
                }
                uint32_t orow = bug == BUG_R0 ? z : r0 + z;
                float   *o = (float *)a->o + orow * ldo + (size_t)h * d;
                for (uint32_t e = 0; e < d; e++) {
                    float x = 0;
                    for (size_t s = 0; s < ns; s++) {
                        float m = pml[2 * (base + s)];
                        if (m != -INFINITY)
                            x += po[(base + s) * d + e] * expf(m - M);
                    }
                    o[e] = x / L;
                }
            }
    }
    return SIM_OK;
}

static int emu_gemm(const struct kern_ctx *c, const struct kern_gemm_args *a)
{
    struct kern_gemm_args b = *a;
    if (bug == BUG_GEMM_SWAP_LDS)
        b.ldb = a->lda;
    return kern__cpu_gemm_blocked(c, &b);
}

static const struct kern_variant emu_dec_v = {.op = KERN_OP_ATTN_DECODE,
                                              .version = 9,
                                              .backend = KERN_BACKEND_CPU,
                                              .desc = "test: CUDA v1 split structure on the CPU",
                                              .fn.attn_decode = emu_decode};
static const struct kern_variant emu_gemm_v = {.op = KERN_OP_GEMM,
                                               .version = 9,
                                               .backend = KERN_BACKEND_CPU,
                                               .desc = "test: blocked GEMM",
                                               .fn.gemm = emu_gemm};

/* Run kcheck on v (NULL: the engine check) with bug b planted; print the failing lines. */
static struct kc_result run_kcheck(const struct kern_variant *v, enum bug b,
                                   const struct kc_hooks *h)
{
    FILE *f = tmpfile();
    ASSERT_TRUE(f != NULL);
    struct kc_opts   o = {.backend = "cpu", .op = -1, .seed = KC_SEED_DEFAULT, .out = f};
    struct kc_result r;
    struct sim_msg   err = {{0}};
    bug = b;
    int rc = kc_check_variant(&o, v, h, &r, &err);
    bug = BUG_NONE;
    ASSERT_EQ(rc, 0);
    rewind(f);
    char line[512];
    int  shown = 0;
    printf("  planted: %s: %d of %d checks failed\n", bug_names[b], r.fails, r.checks);
    while (fgets(line, sizeof line, f))
        if (strstr(line, "FAIL") && shown++ < 40)
            printf("    %s", line);
    fclose(f);
    return r;
}

/* 160 keys: still three chunks of the transcription (several splits) where max_len > 128. */
static const struct kc_hooks emu_hooks = {.decode_work = emu_work, .max_len_cap = 160};

TEST(split_transcription_passes)
{
    struct kc_result r = run_kcheck(&emu_dec_v, BUG_NONE, &emu_hooks);
    ASSERT_EQ(r.fails, 0);
    size_t nc;
    kc_dec_cfgs(&nc);
    ASSERT_EQ(r.checks, (int)nc + 1); /* every case, and the paths-covered verdict */
    r = run_kcheck(&emu_gemm_v, BUG_NONE, NULL);
    ASSERT_EQ(r.fails, 0);
    ASSERT_EQ(r.checks, 12);
}

TEST(planted_decode_bugs_fail)
{
    for (int b = BUG_SLOT_STRIDE; b <= BUG_EMPTY_SPLIT; b++) {
        struct kc_result r = run_kcheck(&emu_dec_v, (enum bug)b, &emu_hooks);
        if (r.fails == 0)
            TEST_FAIL_("kcheck let the planted bug '%s' pass", bug_names[b]);
    }
}

TEST(planted_gemm_bug_fails)
{
    struct kc_result r = run_kcheck(&emu_gemm_v, BUG_GEMM_SWAP_LDS, NULL);
    ASSERT_TRUE(r.fails > 0);
}

TEST(engine_check_runs_and_can_fail)
{
    struct kc_result r = run_kcheck(NULL, BUG_NONE, NULL);
    ASSERT_EQ(r.fails, 0);
    ASSERT_EQ(r.checks, 10); /* 5 steps, contiguous and paged, direct (the CPU has no graphs) */
    struct kc_hooks other = {.engine_seed_xor = 1};
    r = run_kcheck(NULL, BUG_NONE, &other);
    ASSERT_EQ(r.fails, 10);
    /* Steps 3, 4 and 5 read positions step 2 writes (slot 2 at 64..113, slot 0 at 37, slot 3
     * at 0..4); step 1 does not depend on it. */
    struct kc_hooks skip = {.engine_skip = 2};
    r = run_kcheck(NULL, BUG_NONE, &skip);
    ASSERT_EQ(r.fails, 8);
}

int main(void)
{
    RUN(block_tables_are_permutations);
    RUN(decode_cases_cover_issue_18);
    RUN(split_transcription_passes);
    RUN(planted_decode_bugs_fail);
    RUN(planted_gemm_bug_fails);
    RUN(engine_check_runs_and_can_fail);
    return test_main_end();
}
