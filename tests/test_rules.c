/*
 * test_rules.c: issue 10's scheduling rules (engine.scheduler: vllm_v0, sarathi; batch_vidur.c),
 * checked against hand-worked schedules and properties, never against their own output.
 *
 * Every run uses a stub executor that answers every iteration with the same time TAU, so that
 * a request's times are whole numbers of iterations, computed by hand in each test from the
 * rules of Vidur's schedulers (microsoft/vidur@01f216fe, vllm_replica_scheduler.py,
 * sarathi_replica_scheduler.py). The stub also checks every iteration: the listed sequences add
 * up to the aggregates (decode count and context, prefill tokens, squares and cached tokens, a
 * chunk's context = tokens cached before it + the chunk); vllm_v0 never mixes prefills and
 * decodes; sarathi and vllm_v1 never exceed their token budgets.
 * Conservation: every rule x policy with every invariant checked after every event
 * (engine.check: replica_check covers the KV pool, the decode aggregates, the chunk and
 * need lists and each decoder's memory against its tokens).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cfg.h"
#include "exec.h"
#include "run.h"
#include "test.h"

static char tmpdir[256];

#define TAU 1e-3 /* seconds per iteration, whatever the batch */

struct stub {
    int      rule; /* enum sched_rule */
    uint32_t budget;
    uint64_t n_iter, n_mixed, n_chunks, n_prefill_iters;
    double   pf_total; /* prefill tokens computed over the run */
    double   kv_total; /* tokens cached before each chunk (agg.prefill_kv), over the run */
    char     why[256];
    /* One listing. */
    uint32_t n, n_dec;
    double   ctx, pf_tok, pf_sq, pf_kv;
    int      bad;
};

static void disagree(struct stub *s, const char *what)
{
    if (!s->why[0])
        snprintf(s->why, sizeof s->why, "iteration %llu: %s", (unsigned long long)s->n_iter, what);
}

static void visit(void *ctx, const struct exec_seq *q)
{
    struct stub *s = ctx;
    s->n++;
    if (q->kv_blk == 0 || q->new_tok == 0 || q->ctx_tok < q->new_tok)
        s->bad = 1;
    if (q->kind == EXEC_SEQ_DECODE) {
        s->n_dec++;
        s->ctx += q->ctx_tok;
        if (q->new_tok != 1)
            s->bad = 1;
    } else {
        s->pf_tok += q->new_tok;
        s->pf_sq += (double)q->new_tok * q->new_tok;
        s->pf_kv += q->ctx_tok - q->new_tok;
        if (q->ctx_tok > q->new_tok)
            s->n_chunks++; /* a chunk after the first */
    }
}

static int stub_iter_ns(void *self, const struct exec_batch *b, simtime_t *ns, struct sim_msg *why)
{
    (void)why;
    struct stub *s = self;
    s->n_iter++;
    s->n = s->n_dec = 0;
    s->ctx = s->pf_tok = s->pf_sq = s->pf_kv = 0;
    s->bad = 0;
    exec_batch_list(b, visit, s);
    if (s->bad)
        disagree(s, "a sequence with no memory, context below its new tokens, or a multi-token "
                    "decode");
    if (s->n != b->n_seqs || s->n_dec != b->agg.decode_seqs || s->ctx != b->agg.decode_ctx)
        disagree(s, "decode count or context differs from the aggregates");
    if (s->pf_tok != b->agg.prefill_tok || s->pf_sq != b->agg.prefill_sq ||
        s->pf_kv != b->agg.prefill_kv)
        disagree(s, "prefill tokens, squares or cached tokens differ from the aggregates");
    if (s->n_dec && s->pf_tok > 0)
        s->n_mixed++;
    if (s->pf_tok > 0)
        s->n_prefill_iters++;
    s->pf_total += s->pf_tok;
    s->kv_total += b->agg.prefill_kv;
    if (s->rule == 1 && s->n_dec && s->pf_tok > 0)
        disagree(s, "vllm_v0 mixed prefills and decodes");
    if (s->rule == 2 && s->pf_tok > 0 && s->n_dec + s->pf_tok > s->budget)
        disagree(s, "sarathi went over its token budget");
    if (s->rule == 3 && s->n_dec + s->pf_tok > s->budget)
        disagree(s, "vllm_v1 went over its token budget");
    *ns = (simtime_t)llround(TAU * SIM_NS_PER_S);
    return 0;
}

static double stub_recompute_s(void *self, double tok)
{
    (void)self;
    return tok * 1e-6;
}

static double stub_swap_s(void *self, double tok)
{
    (void)self;
    return tok * 1e-6;
}

static double stub_decode_s(void *self, double ctx_tok)
{
    (void)self;
    (void)ctx_tok;
    return TAU;
}

/* leave: NULL, the stub keeps nothing per sequence; predict_ns: NULL, predictor.cost_s is
 * charged (issue 11) */
static const struct exec_ops stub_ops = {
    "stub", stub_iter_ns, stub_recompute_s, stub_swap_s, stub_decode_s, NULL, NULL};

static int build(const char *yaml, struct run *x, const char **sets, struct sim_msg *err)
{
    cfg_exp_t *e;
    int        rc = cfg_load_string(yaml, "test.yaml", &e, err);
    if (rc)
        return rc;
    for (; sets && *sets; sets++)
        if ((rc = cfg_add_set(e, *sets, err)))
            break;
    struct cfg c;
    if (!rc)
        rc = cfg_resolve(e, 0, &c, err);
    if (!rc)
        rc = run_build(&c, tmpdir, "", x, err);
    cfg_free(e);
    return rc;
}

/* Run yaml (+ sets) with the stub; kv_tok > 0 forces the KV pool's size in tokens. */
static struct stub run_case(const char *yaml, const char **sets, const char *sub, uint64_t kv_tok,
                            struct run_result *res)
{
    struct run    *x = sim_malloc(sizeof *x);
    struct sim_msg err = {{0}};
    struct stub    s = {0};
    if (build(yaml, x, sets, &err))
        TEST_FAIL_("build: %s", err.text);
    if (kv_tok)
        x->serve.kv.capacity_tok = kv_tok;
    s.rule = (int)x->serve.rule;
    s.budget = s.rule == RULE_VLLM_V1 ? x->serve.max_batched_tokens : x->serve.chunk_size;
    struct exec ex = {&stub_ops, &s};
    x->serve.exec = &ex;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, sub);
    if (run_exec(x, dir, NULL, NULL, res, &err))
        TEST_FAIL_("run_exec: %s", err.text);
    sim_free(x);
    if (s.why[0])
        TEST_FAIL_("%s: %s", sub, s.why);
    return s;
}

struct row {
    double ttft, e2el, finish, queue;
    int    preempt;
};

/* requests.csv of run `sub`, by id (at most n rows). */
static size_t read_rows(const char *sub, struct row *rows, size_t n)
{
    char path[512], line[512];
    snprintf(path, sizeof path, "%s/%s/requests.csv", tmpdir, sub);
    FILE *f = fopen(path, "r");
    if (!f)
        TEST_FAIL_("cannot open %s", path);
    size_t got = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long id;
        unsigned           rep, p, o, pr, pre, mis;
        double             arr, q, ttft, tpot, e2el, fin;
        if (sscanf(line, "%llu,%u,%lf,%u,%u,%u,%lf,%lf,%lf,%lf,%lf,%u,%u", &id, &rep, &arr, &p, &o,
                   &pr, &q, &ttft, &tpot, &e2el, &fin, &pre, &mis) != 13)
            continue;
        if (id < n) {
            rows[id] = (struct row){ttft, e2el, fin, q, (int)pre};
            got++;
        }
    }
    fclose(f);
    return got;
}

static void write_trace(const char *name, const char *csv)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(csv, f) < 0 || fclose(f))
        TEST_FAIL_("cannot write %s", path);
}

/* An experiment over trace file `name` in tmpdir, with `engine` settings. */
static void trace_yaml(char *buf, size_t n, const char *name, const char *engine)
{
    snprintf(buf, n,
             "name: rules\nseed: 1\nworkload: {source: csv, path: %s/%s}\n"
             "engine: {memory: paged, block_size: 16, check: true, %s}\n",
             tmpdir, name, engine);
}

#define T(k)           ((k)*TAU)
#define NEAR_T(got, k) ASSERT_NEAR((got), T(k), 1e-9)

static double json_number(const char *sub, const char *key)
{
    char path[512], line[512], want[128];
    snprintf(path, sizeof path, "%s/%s/summary.json", tmpdir, sub);
    snprintf(want, sizeof want, "\"%s\": ", key);
    FILE *f = fopen(path, "r");
    if (!f)
        TEST_FAIL_("cannot open %s", path);
    double v = NAN;
    while (fgets(line, sizeof line, f)) {
        char *p = strstr(line, want);
        if (p)
            v = strtod(p + strlen(want), NULL);
    }
    fclose(f);
    return v;
}

/* ---- vllm_v0 ---- */

/* Budget (Vidur's max_tokens_in_batch, a padded count: prefills x longest <= 1024): A 300 and B
 * 400 fit (2 x 400 = 800); C would make 3 x 400 = 1200. So iteration 0 prefills A and B;
 * iteration 1 prefills C and D (2 x 200 = 400) with A and B paused; iteration 2 decodes all.
 * Tokens (iteration k ends at (k + 1) TAU): A, B first at 1; C, D first at 2; A's second token
 * comes from iteration 2, at 3 (not 2: the decoders sat out iteration 1); outputs of 3 tokens
 * end at 4 for everyone (A, B: 1, 3, 4; C, D: 2, 3, 4). */
TEST(vllm_v0_budget_pauses_decodes)
{
    write_trace("v0a.csv", "arrival_s,prompt_tokens,output_tokens\n"
                           "0,300,3\n0,400,3\n0,200,3\n0,100,3\n");
    char yaml[1024];
    trace_yaml(yaml, sizeof yaml, "v0a.csv",
               "scheduler: vllm_v0, max_seq_len: 1024, max_batched_tokens: 1024, watermark: 0");
    struct run_result res;
    struct stub       s = run_case(yaml, NULL, "v0a", 0, &res);
    struct row        r[4];
    ASSERT_EQ(read_rows("v0a", r, 4), 4);
    NEAR_T(r[0].ttft, 1);
    NEAR_T(r[1].ttft, 1);
    NEAR_T(r[2].ttft, 2);
    NEAR_T(r[3].ttft, 2);
    for (int i = 0; i < 4; i++)
        NEAR_T(r[i].finish, 4);
    ASSERT_EQ(s.n_iter, 4);
    ASSERT_EQ(s.n_mixed, 0);
    /* Inter-token gaps: A and B wait 2 iterations for their second token (1 -> 3), every other
     * gap is 1: (2 x 2 + 6 x 1) / 8 = 1.25 iterations on average. */
    ASSERT_NEAR(json_number("v0a", "mean_itl_ms"), 1.25 * TAU * 1e3, 1e-6);
    /* The mixed rule puts all four in iteration 0 (300 + 400 + 200 + 100 <= 1024 tokens). */
    const char *mixed[] = {"engine.scheduler=mixed", NULL};
    run_case(yaml, mixed, "v0a-mixed", 0, &res);
    ASSERT_EQ(read_rows("v0a-mixed", r, 4), 4);
    for (int i = 0; i < 4; i++)
        NEAR_T(r[i].ttft, 1);
}

/* Watermark, rounded down as Vidur's int(): 100 blocks (1600 tokens of 16), watermark 0.059 ->
 * 5 blocks (vLLM-style rounding up would keep 6). A 300 (19 blocks), B 400 (25), C 200 (13),
 * D 100 (7) take 64; E 496 (31 blocks) leaves 100 - 64 - 31 = 5 >= 5 free: admitted in the same
 * prefill iteration (budget 5 x 496 = 2480 <= 4096). F 16 (1 block) would leave 4 < 5: it waits
 * until blocks come back, at the end of the others (outputs 2: prefill at 1, decode at 2).
 * F: prefill iteration 2 ends at 3, its second token at 4. */
TEST(vllm_v0_watermark_rounds_down)
{
    write_trace("v0w.csv", "arrival_s,prompt_tokens,output_tokens\n"
                           "0,300,2\n0,400,2\n0,200,2\n0,100,2\n0,496,2\n0,16,2\n");
    char yaml[1024];
    trace_yaml(yaml, sizeof yaml, "v0w.csv",
               "scheduler: vllm_v0, max_seq_len: 1024, max_batched_tokens: 4096, "
               "watermark: 0.059");
    struct run_result res;
    run_case(yaml, NULL, "v0w", 1600, &res);
    struct row r[6];
    ASSERT_EQ(read_rows("v0w", r, 6), 6);
    for (int i = 0; i < 5; i++) {
        NEAR_T(r[i].ttft, 1);
        NEAR_T(r[i].finish, 2);
    }
    NEAR_T(r[5].queue, 2);
    NEAR_T(r[5].ttft, 3);
    NEAR_T(r[5].finish, 4);
}

/* Preemption, Vidur's way: 9 blocks of 16, watermark 0. A 63 tokens (4 blocks), B 79 (5) are
 * both admitted at 0 (9 blocks: none left). After their prefills (first tokens at 1) neither
 * needs a block (A holds 64 >= 63 + 1 tokens, B 80 >= 79 + 1), but Vidur checks for a free
 * block before each decoder: A finds none, so B (the latest arrival) is preempted; A decodes
 * alone (token 2 at 2). At 2 the prefill phase comes first: B, restarted with its kept token
 * (80 tokens, 5 blocks), fits exactly (9 - 4 - 5 = 0 >= 0): it prefills alone with A paused
 * (B's token 2 at 3). At 3 both need a block (A 63 + 2 > 64, B 79 + 2 > 80) and none is free:
 * A, first by arrival, finds none, so B is preempted again and A takes a block (4 free). A:
 * tokens 3..10 at 4..11. B (81 tokens: 6 blocks) waits until A ends at 11, prefills (token 3
 * at 12), tokens 4..10 at 13..19. TTFT stays its first prefill's. */
TEST(vllm_v0_preempts_latest_arrival_when_no_block_is_free)
{
    write_trace("v0p.csv", "arrival_s,prompt_tokens,output_tokens\n"
                           "0,63,10\n0,79,10\n");
    char yaml[1024];
    trace_yaml(yaml, sizeof yaml, "v0p.csv",
               "scheduler: vllm_v0, max_seq_len: 144, max_batched_tokens: 1024, watermark: 0");
    struct run_result res;
    run_case(yaml, NULL, "v0p", 144, &res);
    struct row r[2];
    ASSERT_EQ(read_rows("v0p", r, 2), 2);
    NEAR_T(r[0].ttft, 1);
    NEAR_T(r[0].finish, 11);
    ASSERT_EQ(r[0].preempt, 0);
    NEAR_T(r[1].ttft, 1);
    ASSERT_EQ(r[1].preempt, 2);
    NEAR_T(r[1].finish, 19);
    ASSERT_EQ(res.sum.preemptions, 2);
}

/* A lone request that fills the pool exactly (9 blocks of 16: prompt 100 + output 44 = 144
 * tokens, watermark 0): from its 30th token on, Vidur's check finds no free block before it and
 * it preempts itself at every decode step; it must still finish (each readmission's prefill
 * gives one token), with every invariant held. Blocks cover the tokens computed: 7 at
 * admission, the 8th at token 13 (113 > 112), the 9th at token 29 (129 > 128), leaving none
 * free; tokens 1..30 at 1..30. From the boundary at 30 on, the check before it fails with no
 * one else to preempt: it preempts itself and is readmitted at once (its 100 + gen tokens fit the
 * 9 blocks): each prefill gives the next token, tokens 31..44 at 31..44, 14 preemptions. */
TEST(vllm_v0_lone_request_filling_the_pool_finishes)
{
    write_trace("v0l.csv", "arrival_s,prompt_tokens,output_tokens\n0,100,44\n");
    char yaml[1024];
    trace_yaml(yaml, sizeof yaml, "v0l.csv",
               "scheduler: vllm_v0, max_seq_len: 144, max_batched_tokens: 1024, watermark: 0");
    struct run_result res;
    run_case(yaml, NULL, "v0l", 144, &res);
    struct row r[1];
    ASSERT_EQ(read_rows("v0l", r, 1), 1);
    NEAR_T(r[0].finish, 44);
    ASSERT_EQ(r[0].preempt, 14);
}

/* ---- sarathi ---- */

/* Alone, a prompt of P tokens with chunks of C takes ceil(P / C) iterations to its first token;
 * each later token one more. */
TEST(sarathi_chunks_alone)
{
    static const unsigned prompts[] = {1, 255, 256, 257, 1000, 1024, 1500};
    for (size_t i = 0; i < sizeof prompts / sizeof *prompts; i++) {
        char csv[128], name[32], yaml[1024];
        snprintf(csv, sizeof csv, "arrival_s,prompt_tokens,output_tokens\n0,%u,3\n", prompts[i]);
        snprintf(name, sizeof name, "sa%zu.csv", i);
        write_trace(name, csv);
        trace_yaml(yaml, sizeof yaml, name,
                   "scheduler: sarathi, chunk_size: 256, max_seq_len: 2048");
        struct run_result res;
        struct stub       s = run_case(yaml, NULL, "sa", 0, &res);
        struct row        r[1];
        ASSERT_EQ(read_rows("sa", r, 1), 1);
        unsigned k = (prompts[i] + 255) / 256;
        NEAR_T(r[0].ttft, k);
        NEAR_T(r[0].finish, k + 2);
        ASSERT_EQ(s.n_chunks, k - 1);
        ASSERT_EQ(s.n_iter, k + 2);
        /* chunk i (from 0) has 256 i tokens cached before it: 256 (0 + 1 + ... + k - 1) */
        ASSERT_EQ(s.kv_total, 256.0 * k * (k - 1) / 2);
    }
}

/* Two requests, chunk 256: A 1000 takes 256, 256, 256, then its last 232, which leaves 24: B
 * (100) joins with a chunk of 24 in iteration 3. Iteration 4: A decodes (1 token), B's last 76.
 * A first at 4, B first at 5; outputs 2: A ends at 5, B at 6. */
TEST(sarathi_fills_the_budget)
{
    write_trace("sb.csv", "arrival_s,prompt_tokens,output_tokens\n0,1000,2\n0,100,2\n");
    char yaml[1024];
    trace_yaml(yaml, sizeof yaml, "sb.csv",
               "scheduler: sarathi, chunk_size: 256, max_seq_len: 2048");
    struct run_result res;
    struct stub       s = run_case(yaml, NULL, "sb", 0, &res);
    struct row        r[2];
    ASSERT_EQ(read_rows("sb", r, 2), 2);
    NEAR_T(r[0].ttft, 4);
    NEAR_T(r[1].ttft, 5);
    NEAR_T(r[0].finish, 5);
    NEAR_T(r[1].finish, 6);
    ASSERT_EQ(s.n_mixed, 1); /* iteration 4: A's decode with B's chunk */
}

/* ---- vllm_v1 ---- */

/* Alone, with a budget of 256 tokens per step: ceil(P / 256) steps to the first token. */
TEST(vllm_v1_chunks_alone)
{
    static const unsigned prompts[] = {1, 256, 257, 1000};
    for (size_t i = 0; i < sizeof prompts / sizeof *prompts; i++) {
        char csv[128], name[32], yaml[1024];
        snprintf(csv, sizeof csv, "arrival_s,prompt_tokens,output_tokens\n0,%u,3\n", prompts[i]);
        snprintf(name, sizeof name, "v1a%zu.csv", i);
        write_trace(name, csv);
        trace_yaml(yaml, sizeof yaml, name,
                   "scheduler: vllm_v1, max_batched_tokens: 256, max_batch: 64, max_seq_len: 2048");
        struct run_result res;
        struct stub       s = run_case(yaml, NULL, "v1a", 0, &res);
        struct row        r[1];
        ASSERT_EQ(read_rows("v1a", r, 1), 1);
        unsigned k = (prompts[i] + 255) / 256;
        NEAR_T(r[0].ttft, k);
        NEAR_T(r[0].finish, k + 2);
        ASSERT_EQ(s.n_chunks, k - 1);
    }
}

/* Budget 1024: A 1000 takes 1000, B (100) the 24 left; step 1: A's decode, B's last 76. A
 * first at 1, ends at 2 (2 tokens); B first at 2, ends at 3. */
TEST(vllm_v1_running_first_then_waiting)
{
    write_trace("v1b.csv", "arrival_s,prompt_tokens,output_tokens\n0,1000,2\n0,100,2\n");
    char yaml[1024];
    trace_yaml(yaml, sizeof yaml, "v1b.csv",
               "scheduler: vllm_v1, max_batched_tokens: 1024, max_seq_len: 1024, max_batch: 8");
    struct run_result res;
    struct stub       s = run_case(yaml, NULL, "v1b", 0, &res);
    struct row        r[2];
    ASSERT_EQ(read_rows("v1b", r, 2), 2);
    NEAR_T(r[0].ttft, 1);
    NEAR_T(r[0].finish, 2);
    NEAR_T(r[1].ttft, 2);
    NEAR_T(r[1].finish, 3);
    ASSERT_EQ(s.n_chunks, 1);
}

/* Preemption, vLLM v1's way (no watermark, no free-block check): 9 blocks of 16. A 63 (4
 * blocks), B 79 (5) both start at 0 and both decode at step 1 (tokens 2 at 2: neither needs a
 * block yet). At 2 both need one (63 + 2 > 64, 79 + 2 > 80), none is free: A, first in the
 * running list, preempts the list's last, B; A takes a block (4 free). Nothing waiting is
 * admitted in a step that preempted. A: tokens 3..10 at 3..10. B (81 tokens: 6 blocks) waits
 * until A ends at 10: prefill (token 3 at 11), tokens 4..10 at 12..18. */
TEST(vllm_v1_preempts_last_admitted)
{
    write_trace("v1p.csv", "arrival_s,prompt_tokens,output_tokens\n0,63,10\n0,79,10\n");
    char yaml[1024];
    trace_yaml(yaml, sizeof yaml, "v1p.csv",
               "scheduler: vllm_v1, max_seq_len: 144, max_batched_tokens: 1024");
    struct run_result res;
    run_case(yaml, NULL, "v1p", 144, &res);
    struct row r[2];
    ASSERT_EQ(read_rows("v1p", r, 2), 2);
    NEAR_T(r[0].ttft, 1);
    NEAR_T(r[0].finish, 10);
    ASSERT_EQ(r[0].preempt, 0);
    NEAR_T(r[1].ttft, 1);
    ASSERT_EQ(r[1].preempt, 1);
    NEAR_T(r[1].finish, 18);
}

/* ---- prefix caching ---- */

/* Mooncake hash_ids, 512 tokens each, on blocks of 16 (32 per id), one request at a time:
 *   R0 1024 tokens [1, 2]     nothing cached; its 64 full blocks are keyed.
 *   R1 1100 tokens [1, 2, 3]  blocks 0..63 hit (1024 tokens); block 64 (id 3) misses: 76 computed.
 *   R2  600 tokens [1, 4]     blocks 0..31 hit (512); block 32 (id 4) misses: 88 computed.
 *   R3 1024 tokens [5, 2]     id 5 first: the chain differs from the start, nothing hits.
 *   R4 1024 tokens [1, 2]     all 64 blocks cached, but vLLM computes at least the last token
 *                             and keeps hits block-aligned: 63 blocks hit (1008), 16 computed.
 * Looked up 1024 + 1100 + 600 + 1024 + 1024 = 4772 tokens, found 1024 + 512 + 1008 = 2544;
 * prefill computed 4772 - 2544 = 2228 tokens (without caching: all 4772). */
static const char mooncake_case[] =
    "{\"timestamp\": 0, \"input_length\": 1024, \"output_length\": 2, \"hash_ids\": [1, 2]}\n"
    "{\"timestamp\": 1000, \"input_length\": 1100, \"output_length\": 2, \"hash_ids\": [1, 2, "
    "3]}\n"
    "{\"timestamp\": 2000, \"input_length\": 600, \"output_length\": 2, \"hash_ids\": [1, 4]}\n"
    "{\"timestamp\": 3000, \"input_length\": 1024, \"output_length\": 2, \"hash_ids\": [5, 2]}\n"
    "{\"timestamp\": 4000, \"input_length\": 1024, \"output_length\": 2, \"hash_ids\": [1, "
    "2]}\n";

static void mooncake_yaml(char *buf, size_t n, const char *file, const char *engine)
{
    snprintf(buf, n,
             "name: apc\nseed: 1\nworkload: {source: mooncake, path: %s/%s}\n"
             "engine: {scheduler: vllm_v1, block_size: 16, max_seq_len: 4096, check: true, %s}\n",
             tmpdir, file, engine);
}

TEST(prefix_caching_computes_a_shared_prefix_once)
{
    write_trace("apc.jsonl", mooncake_case);
    char yaml[1024];
    mooncake_yaml(yaml, sizeof yaml, "apc.jsonl", "prefix_caching: true");
    struct run_result res;
    struct stub       s = run_case(yaml, NULL, "apc", 0, &res);
    ASSERT_EQ(res.sum.completed, 5);
    ASSERT_EQ(s.pf_total, 2228);
    ASSERT_EQ(s.kv_total, 2544); /* each hit prefix is the cached context of its request's chunk */
    ASSERT_EQ(json_number("apc", "prefix_cache_query_tokens"), 4772);
    ASSERT_EQ(json_number("apc", "prefix_cache_hit_tokens"), 2544);
    ASSERT_NEAR(json_number("apc", "prefix_cache_hit_rate"), 2544.0 / 4772.0, 1e-6);
    /* Without it: every prompt token is computed, and the summary has no prefix keys. */
    mooncake_yaml(yaml, sizeof yaml, "apc.jsonl", "prefix_caching: false");
    s = run_case(yaml, NULL, "apc-off", 0, &res);
    ASSERT_EQ(s.pf_total, 4772);
    ASSERT_TRUE(isnan(json_number("apc-off", "prefix_cache_hit_tokens")));
}

/* Many requests over a small tree of shared prefixes, a KV pool small enough that cached blocks
 * are evicted and running ones preempted: every invariant after every event (the pool's
 * reference counts against the requests' block lists, the free list's length), every request
 * finished once, hits found. */
TEST(prefix_caching_conservation_under_pressure)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tree.jsonl", tmpdir);
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f);
    uint64_t x = 12345;
    for (int i = 0; i < 400; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int      n_ids = 1 + (int)((x >> 33) % 4);
        unsigned extra = (unsigned)((x >> 20) % 511) + 1;
        fprintf(f,
                "{\"timestamp\": %d, \"input_length\": %u, \"output_length\": %u, "
                "\"hash_ids\": [",
                i * 2, (unsigned)(n_ids - 1) * 512 + extra, 1 + (unsigned)((x >> 40) % 200));
        /* a tree: id k of a request is (its branch at depth k) */
        for (int k = 0; k < n_ids; k++)
            fprintf(f, "%s%d", k ? ", " : "", k * 10 + (int)((x >> (8 + 2 * k)) % 3));
        fputs("]}\n", f);
    }
    fclose(f);
    char yaml[1024];
    mooncake_yaml(yaml, sizeof yaml, "tree.jsonl",
                  "prefix_caching: true, max_batched_tokens: 1024, max_batch: 32");
    static const char *policy[] = {"policy=fcfs", "policy=sjf", "policy=ssjf", "policy=s3"};
    for (int p = 0; p < 4; p++) {
        const char       *sets[] = {policy[p], NULL};
        struct run_result res;
        run_case(yaml, sets, "tree", 6000, &res);
        ASSERT_EQ(res.sum.completed, 400);
        ASSERT_EQ(res.sum.tokens_generated, res.sum.total_output_tokens);
        ASSERT_TRUE(res.sum.preemptions > 0);
        ASSERT_TRUE(json_number("tree", "prefix_cache_hit_tokens") > 0);
    }
}

/* ---- conservation, every rule x policy, invariants after every event ---- */

TEST(conservation_every_rule_and_policy)
{
    static const char  yaml[] = "name: cons\nseed: 3\n"
                                "workload: {requests: 500, rate: 30, max_prompt_tokens: 1500}\n"
                                "engine: {max_seq_len: 2048, check: true, memory: paged, "
                                "max_batch: 32}\n"
                                "predictor: {name: noisy, sigma: 0.8}\n"
                                "outputs: {timeline_rows: 50}\n";
    static const char *rule[] = {"engine.scheduler=vllm_v0", "engine.scheduler=sarathi",
                                 "engine.scheduler=vllm_v1"};
    static const char *policy[] = {"policy=fcfs", "policy=sjf", "policy=ssjf", "policy=s3"};
    for (int k = 0; k < 3; k++)
        for (int p = 0; p < 4; p++) {
            const char *sets[] = {rule[k], policy[p],
                                  k == 1   ? "engine.chunk_size=300"
                                  : k == 2 ? "engine.max_batched_tokens=700"
                                           : "seed=3",
                                  NULL};
            printf("    %s %s\n", rule[k], policy[p]);
            struct run_result res;
            /* A small pool: memory binds, and preemption runs. */
            struct stub               s = run_case(yaml, sets, "cons", 12000, &res);
            const struct met_summary *m = &res.sum;
            ASSERT_EQ(m->completed + m->failed, 500);
            ASSERT_EQ(res.stats.finished, m->completed);
            ASSERT_EQ(m->tokens_generated, m->total_output_tokens);
            ASSERT_TRUE(m->peak_kv_util <= 1.0);
            ASSERT_TRUE(m->preemptions > 0);
            if (k == 0)
                ASSERT_EQ(s.n_mixed, 0);
            else
                ASSERT_TRUE(s.n_chunks > 0 && s.n_mixed > 0);
            struct row *rows = calloc(500, sizeof *rows);
            ASSERT_EQ(read_rows("cons", rows, 500), m->completed);
            free(rows);
        }
}

/* Same experiment, same seed: the same files. */
TEST(rules_are_deterministic)
{
    static const char yaml[] = "name: det\nseed: 9\n"
                               "workload: {requests: 300, rate: 30}\n"
                               "engine: {max_seq_len: 2048, memory: paged, scheduler: sarathi, "
                               "chunk_size: 512}\n";
    struct run_result res;
    run_case(yaml, NULL, "det1", 20000, &res);
    run_case(yaml, NULL, "det2", 20000, &res);
    char a[512], b[512], cmd[1200];
    snprintf(a, sizeof a, "%s/det1/requests.csv", tmpdir);
    snprintf(b, sizeof b, "%s/det2/requests.csv", tmpdir);
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    ASSERT_EQ(system(cmd), 0);
}

/* ---- refusals, with file:line:col ---- */

static void refused(const char *yaml, const char *want)
{
    struct run    *x = sim_malloc(sizeof *x);
    struct sim_msg err = {{0}};
    int            rc = build(yaml, x, NULL, &err);
    sim_free(x);
    if (rc != SIM_ECONFIG || !strstr(err.text, want))
        TEST_FAIL_("wanted \"%s\", got %d \"%s\"", want, rc, err.text);
}

/* Prefix caching needs Mooncake's block hashes (cfg.c, check_rule): a trace whose format is told
 * by its name and header (workload.source auto, the default when a path is given) may be one,
 * so the configuration is accepted there, as for source mooncake; the file decides when it is
 * opened. Other named formats are refused above. */
TEST(prefix_caching_accepts_a_trace_of_either_mooncake_source)
{
    static const char *const src[] = {"{source: auto, path: x.jsonl}", "{path: x.jsonl}",
                                      "{source: mooncake, path: x.jsonl}"};
    for (size_t i = 0; i < 3; i++) {
        char yaml[300];
        snprintf(yaml, sizeof yaml,
                 "name: r\nworkload: %s\nengine:\n  scheduler: vllm_v1\n  prefix_caching: true\n",
                 src[i]);
        cfg_exp_t     *e = NULL;
        struct cfg     c;
        struct sim_msg err = {{0}};
        if (cfg_load_string(yaml, "test.yaml", &e, &err) || cfg_resolve(e, 0, &c, &err))
            TEST_FAIL_("%s: %s", src[i], err.text);
        cfg_free(e);
    }
}

TEST(unsupported_combinations_are_refused_where_set)
{
    refused("name: r\nworkload: {requests: 5}\nengine:\n  memory: max\n  scheduler: vllm_v0\n",
            "test.yaml:5:14: engine.scheduler: 'vllm_v0' allocates KV blocks");
    refused("name: r\nworkload: {requests: 5}\nengine:\n  scheduler: sarathi\n  chunk_size: 0\n",
            "test.yaml:5:15: engine.chunk_size: sarathi's token budget must be at least 1");
    refused("name: r\nworkload: {requests: 5}\nengine:\n  memory: paged\n  chunk_size: 64\n",
            "test.yaml:5:15: engine.chunk_size: only the sarathi scheduler chunks");
    refused("name: r\nworkload: {requests: 5}\nengine:\n  memory: paged\n  scheduler: sarathi\n"
            "  chunk_size: 64\n  max_batched_tokens: 4096\n",
            "test.yaml:7:23: engine.max_batched_tokens: sarathi's token budget");
    refused("name: r\nworkload: {requests: 5}\nengine:\n  memory: paged\n  scheduler: vllm_v0\n"
            "  batching: dynamic\n",
            "test.yaml:5:14: engine.scheduler: 'vllm_v0' needs engine.batching: continuous");
    refused("name: r\nworkload: {requests: 5}\nengine:\n  scheduler: vllm_v1\n  max_batch: 64\n"
            "  max_batched_tokens: 32\n",
            "test.yaml:6:23: engine.max_batched_tokens: vllm_v1 needs at least engine.max_batch");
    refused("name: r\nworkload: {requests: 5}\nengine:\n  scheduler: sarathi\n"
            "  prefix_caching: true\n",
            "test.yaml:5:19: engine.prefix_caching: only the vllm_v1 scheduler caches prefixes");
    refused("name: r\nworkload: {requests: 5}\nengine:\n  scheduler: vllm_v1\n"
            "  prefix_caching: true\n  block_size: 48\n",
            "test.yaml:5:19: engine.prefix_caching: Mooncake's hash_ids cover 512 tokens");
    refused("name: r\nworkload: {source: csv, path: x.csv}\nengine:\n  scheduler: vllm_v1\n"
            "  prefix_caching: true\n",
            "test.yaml:5:19: engine.prefix_caching: needs block hashes");
    refused("name: r\nworkload: {requests: 5}\nengine:\n  scheduler: vllm_v1\n  watermark: 0.01\n",
            "test.yaml:5:14: engine.watermark: vllm_v1 keeps no watermark");
    refused("name: r\nworkload: {requests: 5}\nengine:\n  memory: paged\n  scheduler: vllm_v0\n"
            "  preemption: swap\n",
            "test.yaml:5:14: engine.scheduler: 'vllm_v0' preempts by recompute");
}

/* Under the rules, engine.memory left unset is paged and sarathi's chunk_size 512 (Vidur's). */
TEST(rule_defaults)
{
    cfg_exp_t     *e;
    struct sim_msg err = {{0}};
    ASSERT_EQ(cfg_load_string("name: d\nworkload: {requests: 5}\nengine: {scheduler: sarathi}\n",
                              "test.yaml", &e, &err),
              0);
    struct cfg c;
    ASSERT_EQ(cfg_resolve(e, 0, &c, &err), 0);
    ASSERT_EQ(c.memory, KV_PAGED);
    ASSERT_EQ(c.chunk_size, 512);
    cfg_free(e);
    ASSERT_EQ(cfg_load_string("name: d\nworkload: {requests: 5}\n", "test.yaml", &e, &err), 0);
    ASSERT_EQ(cfg_resolve(e, 0, &c, &err), 0);
    ASSERT_EQ(c.memory, KV_MAX); /* mixed: as before */
    ASSERT_EQ(c.chunk_size, 0);
    cfg_free(e);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lensim-test-rules-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(vllm_v0_budget_pauses_decodes);
    RUN(vllm_v0_watermark_rounds_down);
    RUN(vllm_v0_preempts_latest_arrival_when_no_block_is_free);
    RUN(vllm_v0_lone_request_filling_the_pool_finishes);
    RUN(sarathi_chunks_alone);
    RUN(sarathi_fills_the_budget);
    RUN(vllm_v1_chunks_alone);
    RUN(vllm_v1_running_first_then_waiting);
    RUN(vllm_v1_preempts_last_admitted);
    RUN(prefix_caching_computes_a_shared_prefix_once);
    RUN(prefix_caching_conservation_under_pressure);
    RUN(conservation_every_rule_and_policy);
    RUN(rules_are_deterministic);
    RUN(unsupported_combinations_are_refused_where_set);
    RUN(prefix_caching_accepts_a_trace_of_either_mooncake_source);
    RUN(rule_defaults);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd))
        return 1;
    return test_main_end();
}
