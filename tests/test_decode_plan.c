/*
 * test_decode_plan.c: the CUDA decode kernel's split planner and the backend's scratch sizing
 * (kernels/decode_plan.c, issue 18, item 5), on the CPU with the very planner the kernel uses.
 *
 * The defect: kern.c sized the decode scratch with the plan at (max_seqs, max_ctx), but a step
 * plans at (decode rows, longest length), which can need more splits; then kern_run returned
 * SIM_ECONFIG. The checker below walks every reachable (rows, length, occupancy) of a
 * configuration and asks the planner's own launch arithmetic whether the scratch suffices. It
 * is run against a transcription of the old planner and sizing (it must find the issue's
 * examples), against the old sizing with the new planner (it must still find example 2), and
 * against the new sizing over a grid (it must find nothing).
 */
#include "decode_plan.h"
#include "test.h"

/* ---- the pre-issue-18 planner and sizing (attn_decode.cu at 4950329), transcribed ---- */

struct old_plan {
    int lpk, chunk, n_split;
};

static int old_make_plan(uint32_t n, uint32_t kv_heads, uint32_t d, uint32_t max_len, int n_sm,
                         struct old_plan *p)
{
    enum { NT = 128, CHUNK_MAX = 256, MIN_CHUNK = 32 };
    p->lpk = d <= 64 ? 8 : d <= 128 ? 16 : 32;
    int    kpi = NT / p->lpk;
    size_t base = (size_t)(n ? n : 1) * kv_heads;
    size_t want = (4 * (size_t)(n_sm > 0 ? n_sm : 132) + base - 1) / base;
    size_t lo = (max_len + CHUNK_MAX - 1) / CHUNK_MAX, hi = (max_len + MIN_CHUNK - 1) / MIN_CHUNK;
    size_t s = want < lo ? lo : want > hi ? (hi > lo ? hi : lo) : want;
    int    chunk = (int)((max_len + s - 1) / s);
    chunk = (chunk + kpi - 1) / kpi * kpi;
    if (chunk > CHUNK_MAX)
        chunk = CHUNK_MAX;
    p->chunk = chunk;
    p->n_split = (int)((max_len + chunk - 1) / chunk);
    return 0;
}

static size_t old_row_bytes(int n_split, uint32_t H, uint32_t d)
{
    return n_split == 1 ? 0 : sizeof(float) * (size_t)H * n_split * (d + 2);
}

static size_t old_work(uint32_t n, uint32_t H, uint32_t KV, uint32_t d, uint32_t max_len, int n_sm)
{
    struct old_plan p;
    old_make_plan(n, KV, d, max_len, n_sm, &p);
    return (size_t)n * old_row_bytes(p.n_split, H, d);
}

TEST(old_sizing_fails_on_the_issues_examples)
{
    /* Example 1: H = KV = 32, d = 128, max_seqs 1, max_ctx 1000, max_prompt 0 (so no prefill
     * scratch): one sequence at length 513 needs 17 splits x 282,880 B against 266,240 B.
     * Hand check: want = ceil(4 x 132 / 32) = 17, chunk = ceil(513 / 17) = 31 -> 32 (a multiple
     * of 128 / 16), 17 splits; 4 x 32 x 17 x 130 = 282,880. At (1, 1000): chunk ceil(1000/17)
     * = 59 -> 64, 16 splits; 4 x 32 x 16 x 130 = 266,240. */
    struct old_plan p;
    old_make_plan(1, 32, 128, 513, 132, &p);
    ASSERT_EQ(p.n_split, 17);
    ASSERT_EQ(old_row_bytes(p.n_split, 32, 128), 282880);
    ASSERT_EQ(old_work(1, 32, 32, 128, 1000, 132), 266240);
    /* Example 2: max_seqs 64, max_ctx 256: the sizing plan has one split (no scratch at all), a
     * single sequence at length 33 has two. */
    ASSERT_EQ(old_work(64, 32, 32, 128, 256, 132), 0);
    old_make_plan(1, 32, 128, 33, 132, &p);
    ASSERT_TRUE(p.n_split > 1);
    old_make_plan(1, 32, 128, 32, 132, &p);
    ASSERT_EQ(p.n_split, 1);
}

/* ---- the checker ---- */

struct cfg {
    uint32_t H, KV, d, max_seqs, max_ctx, max_prompt;
    int      n_sm;
};

/* The new scratch, or the old sizing applied to the new planner (plan at (max_seqs, max_ctx)
 * with a typical occupancy of 4), plus the prefill part either way. */
static size_t scratch(const struct cfg *c, int old)
{
    if (!old)
        return kern_decode_cuda_scratch(c->max_seqs, c->max_ctx, c->max_prompt, c->H, c->KV, c->d,
                                        c->n_sm);
    struct kern_decode_plan p;
    if (kern_decode_plan_make(c->max_seqs, c->H, c->KV, c->d, c->max_ctx, c->n_sm, 4, &p))
        return 0;
    size_t dec = (size_t)c->max_seqs * kern_decode_row_bytes(&p, c->H, c->d);
    size_t pre = kern_decode_cuda_scratch(1, 1, c->max_prompt, c->H, c->KV, c->d, c->n_sm);
    return dec > pre ? dec : pre;
}

static const int occs[] = {1, 2, 3, 4, 5, 8, 12, 16};

/* Failures over rows 1 .. 2 x max_seqs (decode rows of chunked prefills can pass max_seqs),
 * every length 1 .. max_ctx and the occupancies above: a launch that cannot hold one row, or
 * (rows <= max_seqs) needs more than one launch. With `strict`, also the plan's own invariants. */
static long check(const struct cfg *c, int old, int strict)
{
    size_t work = scratch(c, old);
    long   bad = 0;
    for (uint32_t n = 1; n <= 2 * c->max_seqs; n++)
        for (uint32_t len = 1; len <= c->max_ctx; len++)
            for (size_t k = 0; k < sizeof occs / sizeof occs[0]; k++) {
                struct kern_decode_plan p;
                if (kern_decode_plan_make(n, c->H, c->KV, c->d, len, c->n_sm, occs[k], &p))
                    TEST_FAIL_("plan refused H %u KV %u d %u", c->H, c->KV, c->d);
                uint32_t r = kern_decode_rows_per_launch(&p, n, c->H, c->d, work);
                if (r == 0 || (n <= c->max_seqs && r < n))
                    bad++;
                if (!strict)
                    continue;
                /* chunks: multiples of 64, at most 256, covering len, none empty */
                if (p.chunk % KERN_DECODE_MIN_CHUNK || p.chunk > KERN_DECODE_MAX_CHUNK ||
                    (uint32_t)p.chunk * (uint32_t)p.n_split < len ||
                    (uint32_t)p.chunk * (uint32_t)(p.n_split - 1) >= len)
                    TEST_FAIL_("n %u len %u occ %d: chunk %d x %d splits", n, len, occs[k], p.chunk,
                               p.n_split);
                if ((uint32_t)p.n_split > kern_decode_split_bound(n, c->KV, c->max_ctx, c->n_sm))
                    TEST_FAIL_("n %u len %u occ %d: %d splits over the bound", n, len, occs[k],
                               p.n_split);
                if (kern_decode_smem(&p, c->d) > 227 * 1024)
                    TEST_FAIL_("shared memory %zu", kern_decode_smem(&p, c->d));
            }
    return bad;
}

TEST(old_sizing_with_new_planner_still_fails_example_2)
{
    /* max_seqs 64, max_ctx 256: the plan at (64, 256) has one split, so the old sizing gives no
     * decode scratch; one sequence of 65 keys or more gets two splits (MIN_CHUNK is 64 now). */
    struct cfg c = {32, 32, 128, 64, 256, 0, 132};
    ASSERT_TRUE(check(&c, 1, 0) > 0);
    struct kern_decode_plan p;
    ASSERT_EQ(kern_decode_plan_make(1, 32, 32, 128, 65, 132, 4, &p), 0);
    ASSERT_EQ(p.n_split, 2);
    ASSERT_EQ(scratch(&c, 1), 0);
    ASSERT_EQ(kern_decode_rows_per_launch(&p, 1, 32, 128, scratch(&c, 1)), 0);
}

TEST(new_sizing_holds_the_issues_examples)
{
    struct cfg ex1 = {32, 32, 128, 1, 1000, 0, 132}, ex2 = {32, 32, 128, 64, 256, 0, 132};
    ASSERT_EQ(check(&ex1, 0, 1), 0);
    ASSERT_EQ(check(&ex2, 0, 1), 0);
    /* and the length of example 1 itself at every occupancy */
    size_t work = scratch(&ex1, 0);
    for (size_t k = 0; k < sizeof occs / sizeof occs[0]; k++) {
        struct kern_decode_plan p;
        ASSERT_EQ(kern_decode_plan_make(1, 32, 32, 128, 513, 132, occs[k], &p), 0);
        ASSERT_EQ(kern_decode_rows_per_launch(&p, 1, 32, 128, work), 1);
    }
}

TEST(new_sizing_holds_every_reachable_plan_over_a_grid)
{
    static const uint32_t hk[][2] = {{32, 32}, {32, 8}, {32, 4}, {64, 8}, {12, 4}, {6, 1}};
    static const uint32_t ds[] = {64, 80, 128, 256};
    static const uint32_t seqs[] = {1, 3, 16};
    static const uint32_t ctx[] = {300, 1000};
    static const uint32_t pr[] = {0, 16};
    static const int      sms[] = {132, 20};
    long                  n_cfg = 0, old_bad = 0;
    for (size_t a = 0; a < 6; a++)
        for (size_t b = 0; b < 4; b++)
            for (size_t s = 0; s < 3; s++)
                for (size_t x = 0; x < 2; x++)
                    for (size_t q = 0; q < 2; q++)
                        for (size_t m = 0; m < 2; m++) {
                            struct cfg c = {hk[a][0], hk[a][1], ds[b], seqs[s],
                                            ctx[x],   pr[q],    sms[m]};
                            long       bad = check(&c, 0, a == 0 && m == 0);
                            if (bad)
                                TEST_FAIL_("H %u KV %u d %u seqs %u ctx %u prompt %u sms %d: %ld "
                                           "unplannable steps",
                                           c.H, c.KV, c.d, c.max_seqs, c.max_ctx, c.max_prompt,
                                           c.n_sm, bad);
                            old_bad += check(&c, 1, 0) > 0;
                            n_cfg++;
                        }
    /* the same grid under the old sizing fails somewhere (the checker can fail) */
    printf("     %ld configurations, %ld fail under the old sizing\n", n_cfg, old_bad);
    ASSERT_TRUE(old_bad > 0);
}

TEST(plan_refuses_unsupported_shapes_and_bound_is_monotone)
{
    struct kern_decode_plan p;
    ASSERT_EQ(kern_decode_plan_make(1, 32, 0, 128, 10, 132, 4, &p), -1);
    ASSERT_EQ(kern_decode_plan_make(1, 32, 5, 128, 10, 132, 4, &p), -1);  /* 32 % 5 */
    ASSERT_EQ(kern_decode_plan_make(1, 32, 2, 128, 10, 132, 4, &p), -1);  /* group 16 */
    ASSERT_EQ(kern_decode_plan_make(1, 32, 32, 12, 10, 132, 4, &p), -1);  /* d % 8 */
    ASSERT_EQ(kern_decode_plan_make(1, 32, 32, 264, 10, 132, 4, &p), -1); /* d > 256 */
    ASSERT_EQ(kern_decode_plan_make(1, 32, 32, 128, 0, 132, 4, &p), -1);
    ASSERT_EQ(kern_decode_plan_make(1, 24, 8, 128, 10, 132, 4, &p), 0); /* group 3 */
    ASSERT_EQ(p.gmax, 4);
    ASSERT_EQ(kern_decode_plan_make(1, 48, 8, 96, 10, 132, 4, &p), 0); /* group 6 */
    ASSERT_EQ(p.gmax, 8);
    ASSERT_EQ(p.lpk, 16);
    for (uint32_t n = 1; n < 300; n++)
        for (uint32_t L = 1; L < 3000; L += 7) {
            uint32_t b = kern_decode_split_bound(n, 8, L, 132);
            ASSERT_TRUE(b >= kern_decode_split_bound(n + 1, 8, L, 132));
            ASSERT_TRUE(b <= kern_decode_split_bound(n, 8, L + 7, 132));
        }
    /* one full wave: B = 1, H = KV = 32, ctx 4096 at 4 blocks per SM: 17 splits wanted, 16
     * chunks of 256 (the chunk cap) */
    ASSERT_EQ(kern_decode_plan_make(1, 32, 32, 128, 4096, 132, 4, &p), 0);
    ASSERT_EQ(p.chunk, 256);
    ASSERT_EQ(p.n_split, 16);
    /* B = 64, ctx 1024: 64 x 32 = 2048 blocks already fill 132 x 4, chunks as long as allowed */
    ASSERT_EQ(kern_decode_plan_make(64, 32, 32, 128, 1024, 132, 4, &p), 0);
    ASSERT_EQ(p.n_split, 4);
}

int main(void)
{
    RUN(old_sizing_fails_on_the_issues_examples);
    RUN(old_sizing_with_new_planner_still_fails_example_2);
    RUN(new_sizing_holds_the_issues_examples);
    RUN(new_sizing_holds_every_reachable_plan_over_a_grid);
    RUN(plan_refuses_unsupported_shapes_and_bound_is_monotone);
    return test_main_end();
}
