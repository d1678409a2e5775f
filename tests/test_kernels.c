/*
 * test_kernels.c: the CPU kernels against the naive references, and properties of the whole
 * iteration on the CPU backend.
 *
 * - every CPU GEMM variant (blocked C, cblas) equals the triple loop on odd shapes, with beta;
 * - CPU decode attention equals the reference; paged and contiguous caches holding the same
 *   tokens give the same output; CPU prefill attention (GEMM form) equals the naive causal loop;
 * - a decode step at position t gives the logits of the last row of a prefill over t+1 tokens
 *   (different code paths: cache attention vs GEMM attention over the prompt), for both layouts
 *   and with grouped-query attention;
 * - kern_prepare reports limits and an exhausted pool as errors; the predictor runs.
 */
#include "alloc.h"
#include "kern.h"
#include "kern_internal.h"
#include "kern_rand.h"
#include "ref.h"
#include "test.h"

static float *rnd(size_t n, uint64_t seed)
{
    float *p = malloc(n * sizeof *p);
    ASSERT_TRUE(p);
    for (size_t i = 0; i < n; i++)
        p[i] = kern_rand_u(seed, i);
    return p;
}

static double max_rel(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        num = d > num ? d : num;
        den = fabs(b[i]) > den ? fabs(b[i]) : den;
    }
    return num / (den > 0 ? den : 1);
}

TEST(gemm_variants_match_naive)
{
    static const uint32_t      shapes[][3] = {{1, 1, 1}, {3, 70, 33}, {17, 5, 300}, {64, 129, 257}};
    size_t                     nv;
    const struct kern_variant *v = kern_variants(&nv);
    int                        checked = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        uint32_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        size_t   lda = k + 3, ldb = k + 1, ldc = n + 2;
        float   *A = rnd(m * lda, 1 + s), *B = rnd(n * ldb, 2 + s), *C0 = rnd(m * ldc, 3 + s);
        float   *Cr = malloc(m * ldc * sizeof *Cr), *Cv = malloc(m * ldc * sizeof *Cv);
        for (float beta = 0; beta <= 1; beta += 1) {
            memcpy(Cr, C0, m * ldc * sizeof *Cr);
            struct kern_gemm_args g = {m, n, k, A, lda, B, ldb, Cr, ldc, 0.5f, beta};
            kern_ref_gemm(&g);
            for (size_t i = 0; i < nv; i++) {
                if (v[i].op != KERN_OP_GEMM || v[i].backend != KERN_BACKEND_CPU ||
                    (v[i].supports && !v[i].supports(&g)))
                    continue;
                memcpy(Cv, C0, m * ldc * sizeof *Cv);
                g.c = Cv;
                struct kern_ctx ctx = {.backend = KERN_BACKEND_CPU};
                ASSERT_EQ(v[i].fn.gemm(&ctx, &g), 0);
                g.c = Cr;
                ASSERT_TRUE(max_rel(Cv, Cr, m * ldc) < 1e-5);
                checked++;
            }
        }
        free(A), free(B), free(C0), free(Cr), free(Cv);
    }
    ASSERT_TRUE(checked >= 8); /* at least the blocked variant on every shape and beta */
}

/* A cache of n_slots sequences of len tokens, filled from the same random keys in both
 * layouts; paged blocks are handed out in a scrambled order. */
struct caches {
    struct kern_kv c, p;
    float         *ck, *cv, *pk, *pv;
    int32_t       *table;
};

static void caches_init(struct caches *cs, uint32_t n_slots, uint32_t len, uint32_t kvh, uint32_t d,
                        uint32_t bt)
{
    uint32_t per = (len + bt - 1) / bt, nb = n_slots * per;
    size_t   w = (size_t)kvh * d;
    cs->ck = rnd(n_slots * len * w, 11), cs->cv = rnd(n_slots * len * w, 12);
    cs->pk = calloc((size_t)nb * bt * w, sizeof(float));
    cs->pv = calloc((size_t)nb * bt * w, sizeof(float));
    cs->table = malloc(sizeof *cs->table * nb);
    for (uint32_t i = 0; i < nb; i++)
        cs->table[i] = (int32_t)((i * 7919u) %
                                 nb); /* 7919 is prime: a permutation unless nb%7919==0 */
    cs->c = (struct kern_kv){KERN_KV_CONTIGUOUS, kvh, d, cs->ck, cs->cv, len, 0, NULL, 0};
    cs->p = (struct kern_kv){KERN_KV_PAGED, kvh, d, cs->pk, cs->pv, 0, bt, cs->table, per};
    for (uint32_t s = 0; s < n_slots; s++)
        for (uint32_t t = 0; t < len; t++)
            for (uint32_t h = 0; h < kvh; h++) {
                size_t a = kern_ref_kv_offset(&cs->c, s, t, h),
                       b = kern_ref_kv_offset(&cs->p, s, t, h);
                memcpy(cs->pk + b, cs->ck + a, d * sizeof(float));
                memcpy(cs->pv + b, cs->cv + a, d * sizeof(float));
            }
}

static void caches_fini(struct caches *cs)
{
    free(cs->ck), free(cs->cv), free(cs->pk), free(cs->pv), free(cs->table);
}

TEST(decode_attention_cpu_matches_reference_and_layouts_agree)
{
    const uint32_t n = 5, H = 8, KV = 2, d = 64, len = 300, bt = 16;
    struct caches  cs;
    caches_init(&cs, n, len, KV, d, bt);
    float  *q = rnd(n * H * d, 5);
    int32_t slot[5] = {3, 0, 4, 1, 2}, lens[5] = {1, 17, 300, 129, 64};
    float  *o_ref = malloc(sizeof(float) * n * H * d), *o_c = malloc(sizeof(float) * n * H * d),
          *o_p = malloc(sizeof(float) * n * H * d);
    struct kern_attn_decode_args a = {cs.c, n, H, q, H * d, slot, lens, len, o_ref, H * d, 0.125f};
    kern_ref_attn_decode(&a);
    size_t          wb = kern__cpu_scratch_bytes(len, H / KV, 0);
    struct kern_ctx ctx = {.backend = KERN_BACKEND_CPU, .work = malloc(wb), .work_bytes = wb};
    a.o = o_c;
    ASSERT_EQ(kern__cpu_attn_decode(&ctx, &a), 0);
    a.kv = cs.p;
    a.o = o_p;
    ASSERT_EQ(kern__cpu_attn_decode(&ctx, &a), 0);
    ASSERT_TRUE(max_rel(o_c, o_ref, n * H * d) < 1e-5);
    ASSERT_TRUE(max_rel(o_p, o_c, n * H * d) == 0); /* same arithmetic, same order */
    /* and the reference itself over the paged layout */
    a.o = o_ref;
    kern_ref_attn_decode(&a);
    ASSERT_TRUE(max_rel(o_p, o_ref, n * H * d) < 1e-5);
    free(ctx.work), free(q), free(o_ref), free(o_c), free(o_p);
    caches_fini(&cs);
}

TEST(prefill_attention_cpu_matches_reference)
{
    const uint32_t H = 4, KV = 2, d = 32, ld = (H + 2 * KV) * d + 5;
    uint32_t       row0[3] = {0, 2, 41}, len[3] = {2, 39, 60};
    uint32_t       rows = 101;
    float         *x = rnd(rows * ld, 21);
    float         *o_ref = calloc(rows * H * d, sizeof(float)),
          *o_cpu = calloc(rows * H * d, sizeof(float));
    struct kern_attn_prefill_args a = {3, row0, len, H, KV, d, x, ld, o_ref, H * d, 0.17f};
    kern_ref_attn_prefill(&a);
    size_t          wb = kern__cpu_scratch_bytes(0, 1, 60);
    struct kern_ctx ctx = {.backend = KERN_BACKEND_CPU, .work = malloc(wb), .work_bytes = wb};
    a.o = o_cpu;
    ASSERT_EQ(kern__cpu_attn_prefill(&ctx, &a), 0);
    ASSERT_TRUE(max_rel(o_cpu, o_ref, rows * H * d) < 1e-5);
    free(ctx.work), free(x), free(o_ref), free(o_cpu);
}

static const struct kern_shape small = {3, 64, 4, 2, 16, 96, 200, 1};

static kern_backend_t *new_backend(enum kern_kv_layout layout, const struct kern_shape *m)
{
    struct kern_opts o = {.backend = "cpu",
                          .seed = 7,
                          .kv_layout = layout,
                          .block_tok = 4,
                          .max_slots = 4,
                          .max_ctx = 64,
                          .max_batch_tok = 64,
                          .max_seqs = 4,
                          .max_prompt = 48};
    kern_backend_t  *b;
    struct sim_msg   err = {{0}};
    int              rc = kern_backend_new(m, &o, &b, &err);
    if (rc)
        TEST_FAIL_("kern_backend_new: %s", err.text);
    return b;
}

/* Decode of token t after a prefill of t tokens equals the last row of a prefill of t+1. */
static void decode_equals_prefill(enum kern_kv_layout layout, const struct kern_shape *m)
{
    kern_backend_t *b = new_backend(layout, m);
    int32_t         toks[40];
    for (int i = 0; i < 40; i++)
        toks[i] = (i * 37 + 11) % (int32_t)m->vocab;
    const uint32_t t = 33;
    float *la = malloc(sizeof(float) * m->vocab * 2), *lb = malloc(sizeof(float) * m->vocab * 2);
    struct sim_msg err;
    /* slot 0: prefill t tokens, then decode token t; slot 1 (other sequence in the same batch
     * as the decode, so that mixed batches are covered): prefill t+1 tokens. */
    struct kern_seq   p0 = {0, 0, t, toks};
    struct kern_batch b0 = {1, &p0};
    ASSERT_EQ(kern_prepare(b, &b0, &err), 0);
    ASSERT_EQ(kern_run(b), 0);
    struct kern_seq   mix[2] = {{0, t, 1, toks + t}, {1, 0, t + 1, toks}};
    struct kern_batch b1 = {2, mix};
    ASSERT_EQ(kern_prepare(b, &b1, &err), 0);
    ASSERT_EQ(kern_run(b), 0);
    ASSERT_EQ(kern_logits(b, la, m->vocab * 2), 0);
    double rel = max_rel(la, la + m->vocab, m->vocab);
    if (!(rel < 2e-5))
        TEST_FAIL_("layout %d: decode vs prefill logits differ by %.3g (relative)", layout, rel);
    /* A chunked prefill (positions 20..t of slot 2 after a prompt of 20) agrees too. */
    struct kern_seq   c0 = {2, 0, 20, toks};
    struct kern_batch bc0 = {1, &c0};
    ASSERT_EQ(kern_prepare(b, &bc0, &err), 0);
    ASSERT_EQ(kern_run(b), 0);
    struct kern_seq   c1 = {2, 20, t + 1 - 20, toks + 20};
    struct kern_batch bc1 = {1, &c1};
    ASSERT_EQ(kern_prepare(b, &bc1, &err), 0);
    ASSERT_EQ(kern_run(b), 0);
    ASSERT_EQ(kern_logits(b, lb, m->vocab), 0);
    rel = max_rel(lb, la + m->vocab, m->vocab);
    if (!(rel < 2e-5))
        TEST_FAIL_("layout %d: chunked prefill logits differ by %.3g", layout, rel);
    free(la), free(lb);
    kern_backend_free(b);
}

TEST(decode_step_equals_last_row_of_prefill)
{
    decode_equals_prefill(KERN_KV_CONTIGUOUS, &small);
    decode_equals_prefill(KERN_KV_PAGED, &small);
    struct kern_shape gelu = small;
    gelu.gated_mlp = 0;
    gelu.kv_heads = 4; /* multi-head, GELU MLP (GPT-J style) */
    decode_equals_prefill(KERN_KV_PAGED, &gelu);
}

TEST(prepare_checks_limits_and_pool)
{
    struct kern_opts o = {.backend = "cpu",
                          .seed = 1,
                          .kv_layout = KERN_KV_PAGED,
                          .block_tok = 8,
                          .max_slots = 4,
                          .max_ctx = 64,
                          .kv_tokens = 64,
                          .max_batch_tok = 64,
                          .max_seqs = 4,
                          .max_prompt = 32};
    kern_backend_t  *b;
    struct sim_msg   err = {{0}};
    ASSERT_EQ(kern_backend_new(&small, &o, &b, &err), 0);
    struct kern_seq   s[3] = {{0, 40, 1, NULL}, {1, 0, 33, NULL}, {0, 3, 1, NULL}};
    struct kern_batch bt = {1, &s[1]};
    ASSERT_EQ(kern_prepare(b, &bt, &err), SIM_ECONFIG); /* prompt over max_prompt */
    ASSERT_STR_CONTAINS(err.text, "prompt");
    struct kern_batch dup = {2, (struct kern_seq[]){s[0], s[2]}};
    ASSERT_EQ(kern_prepare(b, &dup, &err), SIM_ECONFIG);
    ASSERT_STR_CONTAINS(err.text, "twice");
    struct kern_batch one = {1, &s[0]}; /* 41 tokens = 6 blocks of 8 */
    ASSERT_EQ(kern_prepare(b, &one, &err), 0);
    struct kern_seq   big = {2, 20, 1, NULL}; /* 3 more blocks: 9 > 8 */
    struct kern_batch two = {1, &big};
    ASSERT_EQ(kern_prepare(b, &two, &err), SIM_ENOSPC);
    kern_kv_reset(b);
    ASSERT_EQ(kern_prepare(b, &two, &err), 0);
    ASSERT_EQ(kern_run(b), 0);
    struct kern_opts bad = o;
    bad.backend = "tpu";
    kern_backend_t *nb;
    ASSERT_EQ(kern_backend_new(&small, &bad, &nb, &err), SIM_ECONFIG);
    kern_backend_free(b);
}

TEST(predictor_runs_and_is_finite)
{
    struct kern_pred_shape ps = {1 << 12, 32, 2, 10};
    struct kern_opts       o = {.backend = "cpu",
                                .seed = 3,
                                .pred = &ps,
                                .pred_max_req = 8,
                                .pred_max_feat = 64};
    kern_backend_t        *b;
    struct sim_msg         err = {{0}};
    int                    rc = kern_backend_new(NULL, &o, &b, &err);
    if (rc)
        TEST_FAIL_("%s", err.text);
    uint32_t nf[3] = {64, 1, 0};
    ASSERT_EQ(kern_pred_prepare(b, 3, nf, &err), 0);
    ASSERT_EQ(kern_pred_run(b), 0);
    const float *out = b->p_out;
    for (int i = 0; i < 3 * 10; i++)
        ASSERT_TRUE(isfinite(out[i]));
    nf[0] = 65;
    ASSERT_EQ(kern_pred_prepare(b, 3, nf, &err), SIM_ECONFIG);
    kern_backend_free(b);
}

TEST(bf16_rounding)
{
    ASSERT_EQ(kern_f32_to_bf16(1.0f), 0x3f80);
    ASSERT_NEAR(kern_bf16_to_f32(kern_f32_to_bf16(3.14159f)), 3.140625, 0);
    ASSERT_EQ(kern_f32_to_bf16(1.0f + 1.0f / 256), 0x3f80); /* tie goes to even */
    ASSERT_EQ(kern_f32_to_bf16(1.0f + 3.0f / 256), 0x3f82);
    ASSERT_TRUE(isnan(kern_bf16_to_f32(kern_f32_to_bf16(NAN))));
}

int main(void)
{
    RUN(gemm_variants_match_naive);
    RUN(decode_attention_cpu_matches_reference_and_layouts_agree);
    RUN(prefill_attention_cpu_matches_reference);
    RUN(decode_step_equals_last_row_of_prefill);
    RUN(prepare_checks_limits_and_pool);
    RUN(predictor_runs_and_is_finite);
    RUN(bf16_rounding);
    if (sim_alloc_stats().live != 0) {
        printf("FAIL leak: %llu blocks live\n", (unsigned long long)sim_alloc_stats().live);
        return 1;
    }
    return test_main_end();
}
