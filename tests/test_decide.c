/*
 * test_decide.c: the decisions the serving model makes, one mechanism per test, on runs small
 * enough to work out by hand (issue 17). Each test writes a few requests as an interchange CSV
 * trace, replays chosen predictions, prices every iteration with a perf model that is a constant
 * (tau = 1 ms) plus, where a test says so, a cost per prefilled token, and asserts the exact order,
 * replica or time derived in the comment above it. Times are whole nanoseconds, so every expected
 * time is exact; requests.csv prints nanoseconds, and the tolerance is half of one.
 *
 * The facts a hand computation rests on (sim/serve.h, sim/replica.c): a request's prefill takes
 * one iteration and yields its first token; every later iteration yields one token; so with a
 * constant iteration time a request of L output tokens alone is served in L iterations. Arrivals
 * at one instant are all queued before the boundary at that instant forms a batch.
 *
 * The SSJF paper's simulator (compat: ssjf) gets the same treatment: its order by predicted class
 * and its throughput index on jobs worked by hand.
 *
 * requests.csv is read by column name (a leading '#' line is skipped when there is one), so
 * these tests keep working when columns are added.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cfg.h"
#include "compat_ssjf.h"
#include "rng.h"
#include "run.h"
#include "test.h"

static char tmpdir[256];

enum { MAX_REQ = 64 };

/* One row of requests.csv: what the tests look at. */
struct rec {
    int      seen;
    unsigned replica, preemptions;
    double   arrival, queue, ttft, e2el, finish;
};

struct out {
    struct rec        r[MAX_REQ];
    struct run_result res;
};

/* The perf model: tau seconds per iteration plus c_pf per prefilled token (recomputations are
 * priced by the same prefill term, sim/exec_model.c). */
static void set_cost(struct run *x, double tau, double c_pf)
{
    struct cal_profile *p = &x->cost.prof;
    p->n_pieces = 1;
    memset(p->piece, 0, sizeof p->piece);
    p->piece[0].max_tokens = INFINITY;
    p->piece[0].coef[CAL_T_CONST] = tau;
    p->piece[0].coef[CAL_T_PREFILL_TOK] = c_pf;
}

static void write_file(const char *name, const char *text, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f);
    fputs(text, f);
    fclose(f);
}

/* Index of column `name` in the header line h, or -1. */
static int col_of(const char *h, const char *name)
{
    size_t n = strlen(name);
    int    i = 0;
    for (const char *p = h;; i++) {
        const char *e = p + strcspn(p, ",\r\n");
        if ((size_t)(e - p) == n && !strncmp(p, name, n))
            return i;
        if (*e != ',')
            return -1;
        p = e + 1;
    }
}

static double field(const char *line, int col)
{
    const char *p = line;
    for (int i = 0; i < col && p; i++) {
        p = strchr(p, ',');
        p = p ? p + 1 : NULL;
    }
    return p ? strtod(p, NULL) : NAN;
}

static void read_requests(const char *dir, struct out *o)
{
    char path[600], line[1024], head[1024];
    snprintf(path, sizeof path, "%s/requests.csv", dir);
    FILE *f = fopen(path, "r");
    ASSERT_TRUE(f);
    do
        ASSERT_TRUE(fgets(head, sizeof head, f));
    while (head[0] == '#');
    int c_id = col_of(head, "id"), c_rep = col_of(head, "replica"),
        c_arr = col_of(head, "arrival_s"), c_q = col_of(head, "queue_s"),
        c_ttft = col_of(head, "ttft_s"), c_e2el = col_of(head, "e2el_s"),
        c_fin = col_of(head, "finish_s"), c_pre = col_of(head, "preemptions"),
        c_status = col_of(head, "status");
    ASSERT_TRUE(c_id >= 0 && c_rep >= 0 && c_arr >= 0 && c_q >= 0 && c_ttft >= 0 && c_e2el >= 0 &&
                c_fin >= 0 && c_pre >= 0);
    while (fgets(line, sizeof line, f)) {
        if (c_status >= 0) { /* rows of requests that did not complete carry no times */
            const char *p = line;
            for (int i = 0; i < c_status && p; i++)
                p = (p = strchr(p, ',')) ? p + 1 : NULL;
            if (p && (!strncmp(p, "fail", 4) || !strncmp(p, "reject", 6) ||
                      !strncmp(p, "drop", 4) || !strncmp(p, "error", 5)))
                continue;
        }
        double id = field(line, c_id);
        ASSERT_TRUE(id >= 0 && id < MAX_REQ);
        struct rec *r = &o->r[(int)id];
        ASSERT_TRUE(!r->seen);
        r->seen = 1;
        r->replica = (unsigned)field(line, c_rep);
        r->arrival = field(line, c_arr);
        r->queue = field(line, c_q);
        r->ttft = field(line, c_ttft);
        r->e2el = field(line, c_e2el);
        r->finish = field(line, c_fin);
        r->preemptions = (unsigned)field(line, c_pre);
    }
    fclose(f);
}

/*
 * Run one case. trace: CSV rows "arrival_s,prompt_tokens,output_tokens" (ids 0, 1, ... in
 * order); preds: "id,predicted_tokens" rows, or NULL for the oracle; engine and extra: YAML
 * fragments. capacity_tok, when nonzero, replaces the KV pool computed from the GPU.
 */
static void run_case(const char *sub, const char *trace, const char *preds, const char *engine,
                     const char *extra, const char **sets, double tau, double c_pf,
                     uint64_t capacity_tok, struct out *o)
{
    char tpath[400], ppath[400], name[128], yaml[2048], pred_yaml[600];
    snprintf(name, sizeof name, "%s-trace.csv", sub);
    char body[4096];
    snprintf(body, sizeof body, "arrival_s,prompt_tokens,output_tokens\n%s", trace);
    write_file(name, body, tpath, sizeof tpath);
    if (preds) {
        snprintf(name, sizeof name, "%s-pred.csv", sub);
        write_file(name, preds, ppath, sizeof ppath);
        snprintf(pred_yaml, sizeof pred_yaml,
                 "predictor: {name: replay, path: %s, edges: [10, 20, 40, 80, 128]}\n", ppath);
    } else {
        snprintf(pred_yaml, sizeof pred_yaml, "predictor: {edges: [10, 20, 40, 80, 128]}\n");
    }
    snprintf(yaml, sizeof yaml,
             "name: %s\nseed: 7\nworkload: {source: csv, path: %s}\n"
             "engine: {%scheck: true, %s}\n%s%s"
             "outputs: {timeline_rows: 0}\n",
             sub, tpath, strstr(engine, "max_seq_len") ? "" : "max_seq_len: 128, ", engine,
             pred_yaml, extra ? extra : "");

    cfg_exp_t     *e;
    struct sim_msg err = {{0}};
    if (cfg_load_string(yaml, "test.yaml", &e, &err))
        TEST_FAIL_("cfg_load_string: %s\n%s", err.text, yaml);
    for (; sets && *sets; sets++)
        if (cfg_add_set(e, *sets, &err))
            TEST_FAIL_("--set %s: %s", *sets, err.text);
    struct cfg  c;
    struct run *x = sim_malloc(sizeof *x);
    ASSERT_TRUE(x);
    if (cfg_resolve(e, 0, &c, &err) || run_build(&c, ".", "", x, &err))
        TEST_FAIL_("%s", err.text);
    cfg_free(e);
    set_cost(x, tau, c_pf);
    if (capacity_tok)
        x->serve.kv.capacity_tok = capacity_tok;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, sub);
    memset(o, 0, sizeof *o);
    if (run_exec(x, dir, NULL, NULL, &o->res, &err))
        TEST_FAIL_("run_exec: %s", err.text);
    sim_free(x);
    read_requests(dir, o);
}

#define TAU 1e-3
#define NS  0.5e-9 /* half a nanosecond: requests.csv prints whole nanoseconds */

/* Assert that requests first..first+n-1 finished at the given multiples of tau. */
static void expect_finish(const struct out *o, int first, int n, const double *ms)
{
    for (int i = 0; i < n; i++) {
        ASSERT_TRUE(o->r[first + i].seen);
        ASSERT_NEAR(o->r[first + i].finish, ms[i] * 1e-3, NS);
    }
}

/* ---- service order under each policy ---- */

/*
 * One request at a time (batching none). Request 0 (2 tokens) starts alone at t = 0 and runs
 * [0, 2 ms]; requests 1..4 arrive at 0.5 ms and wait. True output lengths 4, 2, 3, 1 and
 * predicted lengths 1, 4, 2, 3. At 2 ms the policy picks, each request running L x 1 ms:
 *   fcfs (arrival):   1, 2, 3, 4 -> finishes 2+4 = 6, 6+2 = 8, 8+3 = 11, 11+1 = 12 ms
 *   sjf  (truth):     4(1), 2(2), 3(3), 1(4) -> 4: 3, 2: 5, 3: 8, 1: 12 ms
 *   ssjf (predicted): 1(1), 3(2), 4(3), 2(4) -> 1: 6, 3: 9, 4: 10, 2: 12 ms
 */
static const char order_trace[] = "0,8,2\n0.0005,8,4\n0.0005,8,2\n0.0005,8,3\n0.0005,8,1\n";
static const char order_pred[] = "0,2\n1,1\n2,4\n3,2\n4,3\n";

TEST(fcfs_serves_in_arrival_order)
{
    struct out o;
    run_case("fcfs", order_trace, order_pred, "batching: none", "policy: fcfs\n", NULL, TAU, 0, 0,
             &o);
    expect_finish(&o, 0, 5, (const double[]){2, 6, 8, 11, 12});
}

TEST(sjf_serves_shortest_true_length_first)
{
    struct out o;
    run_case("sjf", order_trace, order_pred, "batching: none", "policy: sjf\n", NULL, TAU, 0, 0,
             &o);
    expect_finish(&o, 0, 5, (const double[]){2, 12, 5, 8, 3});
}

TEST(ssjf_serves_shortest_prediction_first)
{
    struct out o;
    run_case("ssjf", order_trace, order_pred, "batching: none", "policy: ssjf\n", NULL, TAU, 0, 0,
             &o);
    expect_finish(&o, 0, 5, (const double[]){2, 6, 12, 9, 10});
}

/*
 * Ties leave first in, first out. The same blocker; requests 1..4 with true lengths 3, 2, 2, 2
 * (sjf) and predicted lengths 3, 2, 2, 2 (ssjf). From 2 ms: 2 (2 ms), 3, 4, then 1 (3 ms):
 * finishes 2: 4, 3: 6, 4: 8, 1: 11 ms. Last in first out would serve 4, 3, 2 instead.
 */
TEST(ties_are_first_in_first_out)
{
    static const char trace[] = "0,8,2\n0.0005,8,3\n0.0005,8,2\n0.0005,8,2\n0.0005,8,2\n";
    static const char pred[] = "0,2\n1,3\n2,2\n3,2\n4,2\n";
    const char       *pol[] = {"policy: sjf\n", "policy: ssjf\n"};
    for (int k = 0; k < 2; k++) {
        struct out o;
        run_case(k ? "tie-ssjf" : "tie-sjf", trace, pred, "batching: none", pol[k], NULL, TAU, 0, 0,
                 &o);
        expect_finish(&o, 0, 5, (const double[]){2, 11, 4, 6, 8});
    }
}

/*
 * Aging (sjf). Request 0 (5 tokens) runs [0, 5 ms]. Request 1 (4 tokens, predicted 4) arrives at
 * 0.1 ms, requests 2 and 3 (1 token each, predicted 1) at 2 ms.
 *   No aging: at 5 ms sjf serves 2 (5-6), 3 (6-7), then 1 (7-11).
 *   aging_s = 4 ms: at 5 ms the front (request 1) has waited 4.9 ms > 4 ms, so the queue is served
 *   in arrival order: 1 (5-9); at 9 ms the front (2) has waited 7 ms: 2 (9-10); at 10 ms 3 has
 *   waited 8 ms: 3 (10-11). Three boundaries overridden.
 *   aging_factor = 1: the service estimate is predicted tokens x the batch-1 decode time (1 ms):
 *   request 1 may wait 4 ms, requests 2 and 3 1 ms: the same order and the same three overrides.
 */
TEST(aging_serves_the_oldest_once_it_waited_too_long)
{
    static const char trace[] = "0,8,5\n0.0001,8,4\n0.002,8,1\n0.002,8,1\n";
    static const char pred[] = "0,5\n1,4\n2,1\n3,1\n";
    struct out        o;
    run_case("age-off", trace, pred, "batching: none", "policy: sjf\n", NULL, TAU, 0, 0, &o);
    expect_finish(&o, 0, 4, (const double[]){5, 11, 6, 7});
    ASSERT_EQ(o.res.stats.aging_overrides, 0);
    run_case("age-s", trace, pred, "batching: none", "policy: {name: sjf, aging_s: 0.004}\n", NULL,
             TAU, 0, 0, &o);
    expect_finish(&o, 0, 4, (const double[]){5, 9, 10, 11});
    ASSERT_EQ(o.res.stats.aging_overrides, 3);
    run_case("age-factor", trace, pred, "batching: none", "policy: {name: sjf, aging_factor: 1}\n",
             NULL, TAU, 0, 0, &o);
    expect_finish(&o, 0, 4, (const double[]){5, 9, 10, 11});
    ASSERT_EQ(o.res.stats.aging_overrides, 3);
    /* Just under the wait: aging_s = 7 ms. At 5 ms request 1 has waited 4.9 ms, at 6 ms 5.9 ms,
     * at 7 ms 6.9 ms: never more than 7 ms, so the order is sjf's. */
    run_case("age-long", trace, pred, "batching: none", "policy: {name: sjf, aging_s: 0.007}\n",
             NULL, TAU, 0, 0, &o);
    expect_finish(&o, 0, 4, (const double[]){5, 11, 6, 7});
}

/* ---- admission ---- */

/*
 * Paged admission keeps the watermark free (vLLM's BlockSpaceManager.can_allocate: free blocks -
 * needed >= watermark blocks). 100 blocks of 16 tokens; 60 requests at t = 0 with 31-token
 * prompts need ceil((31 + 1) / 16) = 2 blocks each, output 1 token.
 *   watermark 0.1 -> 10 blocks kept: floor(90 / 2) = 45 admitted at t = 0, 15 at 1 ms.
 *   watermark 0.01 -> ceil(1.0) = 1 block kept: floor(99 / 2) = 49 admitted at t = 0.
 *   watermark 0 -> 50 admitted at t = 0.
 */
static unsigned admitted_at(const struct out *o, int n, double t)
{
    unsigned k = 0;
    for (int i = 0; i < n; i++)
        k += o->r[i].seen && fabs(o->r[i].arrival + o->r[i].queue - t) < NS;
    return k;
}

TEST(paged_admission_keeps_the_watermark_free)
{
    char trace[4096] = "";
    for (int i = 0; i < 60; i++)
        strcat(trace, "0,31,1\n");
    struct out o;
    run_case("wm10", trace, NULL, "memory: paged, block_size: 16, watermark: 0.1", NULL, NULL, TAU,
             0, 1600, &o);
    ASSERT_EQ(admitted_at(&o, 60, 0), 45);
    ASSERT_EQ(admitted_at(&o, 60, TAU), 15);
    run_case("wm01", trace, NULL, "memory: paged, block_size: 16, watermark: 0.01", NULL, NULL, TAU,
             0, 1600, &o);
    ASSERT_EQ(admitted_at(&o, 60, 0), 49);
    run_case("wm0", trace, NULL, "memory: paged, block_size: 16, watermark: 0", NULL, NULL, TAU, 0,
             1600, &o);
    ASSERT_EQ(admitted_at(&o, 60, 0), 50);
}

/*
 * The token budget counts decodes and prefills (max_batched_tokens = 128, fcfs, memory ample).
 * Requests 0..5 have 40-token prompts, request 6 a 6-token prompt, all 10 output tokens, all at
 * t = 0.
 *   t = 0: 40 + 40 + 40 = 120; request 3 would make 160 > 128: 0, 1, 2 admitted.
 *   1 ms: 3 decodes + 40 + 40 + 40 = 123; request 6 would make 129 > 128: 3, 4, 5 admitted.
 *   2 ms: 6 decodes + 6 = 12: request 6 admitted.
 * Leaving the decodes out of the count would admit request 6 at 1 ms (120 + 6 = 126).
 */
TEST(token_budget_counts_decodes_and_prefills)
{
    static const char trace[] = "0,40,10\n0,40,10\n0,40,10\n0,40,10\n0,40,10\n0,40,10\n0,6,10\n";
    struct out        o;
    run_case("budget", trace, NULL, "memory: oracle, max_batched_tokens: 128", NULL, NULL, TAU, 0,
             0, &o);
    const double q[] = {0, 0, 0, 1, 1, 1, 2};
    for (int i = 0; i < 7; i++)
        ASSERT_NEAR(o.r[i].queue, q[i] * TAU, NS);
}

/* ---- preemption ---- */

/*
 * Paged memory of 4 blocks of 16 tokens, watermark 0, max_seq_len 64. Request 0 (prompt 15,
 * output 40) arrives at 0, request 1 (the same) at 0.5 ms. Per iteration: 1 ms + 0.01 ms per
 * prefilled token.
 *   iteration 0 [0, 1.15]: prefill 0 (15 tokens, 1 block); token 1 of request 0.
 *   boundary 1: request 0's block is full (16 tokens): it grows to 2 blocks; request 1 admitted
 *     (1 block, 3 used). Iteration 1 [1.15, 2.30]: decode 0, prefill 1.
 *   boundary 2: request 1 grows to 2 blocks (4 used). Iterations 2..16: 1 ms each.
 *   boundary 17: request 0 has 32 tokens (15 + 17) and needs a third block; none is free. The
 *     victim is the most recently admitted request, 1 (vLLM), with 16 tokens generated; it goes
 *     back to the queue (recompute) and request 0 takes its block. Request 1 needs
 *     ceil((15 + 16 + 1) / 16) = 2 blocks, 1 is free: it waits.
 *   Request 0 grows to 4 blocks at boundary 33 and finishes its 40th token at boundary 40:
 *     1.15 + 1.15 + 38 x 1 = 40.30 ms.
 *   Iteration 40: request 1's prefill recomputes 15 + 16 = 31 tokens: 1.31 ms, token 17.
 *   Iterations 41..63: tokens 18..40, 1 ms each: request 1 finishes at 40.30 + 1.31 + 23 = 64.61
 *   ms; its E2E latency is 64.61 - 0.5 = 64.11 ms; it was preempted once, request 0 never.
 *   Wasted: 31 tokens recomputed, priced at 31 x 0.01 ms = 0.31 ms.
 * Preempting the oldest would take request 0 itself; re-entering without the prefill would end
 * request 1 0.31 ms earlier.
 */
TEST(preemption_takes_the_newest_and_recomputes_its_tokens)
{
    static const char trace[] = "0,15,40\n0.0005,15,40\n";
    struct out        o;
    run_case("victim", trace, NULL, "memory: paged, block_size: 16, watermark: 0, max_seq_len: 64",
             NULL, NULL, TAU, 1e-5, 64, &o);
    ASSERT_EQ(o.r[0].preemptions, 0);
    ASSERT_EQ(o.r[1].preemptions, 1);
    ASSERT_NEAR(o.r[0].finish, 40.30e-3, NS);
    ASSERT_NEAR(o.r[1].ttft, 2.30e-3 - 0.5e-3, NS);
    ASSERT_NEAR(o.r[1].finish, 64.61e-3, NS);
    ASSERT_NEAR(o.r[1].e2el, 64.11e-3, NS);
    ASSERT_EQ(o.res.sum.preemptions, 1);
    ASSERT_EQ(o.res.sum.wasted_tokens, 31);
    ASSERT_NEAR(o.res.sum.wasted_s, 0.31e-3, 1e-12);
}

/*
 * A chunked prefill preempted part way loses only the chunks it computed (sim/replica.c). vllm_v1
 * with a budget of 16 tokens per step (max_batch 2), paged memory of 4 blocks of 16 tokens.
 * Request A (prompt 16, output 4) at 0, request B (prompt 40, output 1) at 0.5 ms.
 *   step 0: A's prefill, 16 tokens, 1 block.
 *   step 1: A decodes: 16 computed + 1 new need 2 blocks (2 used); B gets the 15 tokens left of
 *     the budget: 1 block (3 used).
 *   step 2: A decodes (18 tokens, 2 blocks); B's next chunk of 15: 30 tokens, 2 blocks (4 used).
 *   step 3: A decodes (19 tokens); B's last chunk of 10 would make 40 tokens, 3 blocks: none is
 *     free, and the latest admitted running request, B itself, is preempted. It computed 30
 *     prompt tokens: 30 wasted tokens, priced at 30 x 0.01 ms = 0.3 ms. (Counting its whole
 *     prompt would say 40.) A's token 4 ends it at step 3; B then runs alone, once.
 */
TEST(chunked_prefill_preempted_part_way_wastes_its_chunks)
{
    static const char trace[] = "0,16,4\n0.0005,40,1\n";
    struct out        o;
    run_case("chunk-victim", trace, NULL,
             "scheduler: vllm_v1, memory: paged, block_size: 16, max_seq_len: 64, "
             "max_batched_tokens: 16, max_batch: 2",
             NULL, NULL, TAU, 1e-5, 64, &o);
    ASSERT_EQ(o.r[0].preemptions, 0);
    ASSERT_EQ(o.r[1].preemptions, 1);
    ASSERT_EQ(o.res.sum.preemptions, 1);
    ASSERT_EQ(o.res.sum.wasted_tokens, 30);
    ASSERT_NEAR(o.res.sum.wasted_s, 0.30e-3, 1e-12);
}

/*
 * vllm_v1 keeps no watermark of free blocks (vLLM v1's KVCacheManager.allocate_slots has none; cfg.c
 * refuses engine.watermark there), so a request may take every block of the pool. 100 blocks of
 * 16 tokens (capacity 1,600 tokens), max_seq_len 2,048: one request of prompt 1,590 and output 5
 * needs at most 1,595 + 1 tokens, ceil(1,596 / 16) = 100 blocks: it runs and finishes. Under the
 * other schedulers the default watermark 0.01 keeps floor(0.01 x 100) = 1 block free (Vidur's
 * count), so 99 x 16 = 1,584 < 1,595 tokens: it fails for KV capacity.
 */
TEST(vllm_v1_request_may_fill_the_whole_pool)
{
    static const char trace[] = "0,1590,5\n";
    struct out        o;
    run_case("v1-nowm", trace, NULL,
             "scheduler: vllm_v1, memory: paged, block_size: 16, max_seq_len: 2048, "
             "max_batched_tokens: 2048",
             NULL, NULL, TAU, 0, 1600, &o);
    ASSERT_EQ(o.res.stats.finished, 1);
    ASSERT_EQ(o.res.stats.failed, 0);
    ASSERT_EQ(o.res.sum.failed_why[MET_FAIL_KV], 0);
    run_case("vidur-wm", trace, NULL,
             "scheduler: vllm_v0, memory: paged, block_size: 16, max_seq_len: 2048", NULL, NULL,
             TAU, 0, 1600, &o);
    ASSERT_EQ(o.res.stats.finished, 0);
    ASSERT_EQ(o.res.sum.failed_why[MET_FAIL_KV], 1);
}

/* ---- routers ---- */

/* Round robin: replicas in turn, in arrival order: 0, 1, 2, 0, 1, 2. */
TEST(round_robin_takes_replicas_in_turn)
{
    static const char trace[] =
        "0,8,3\n0.0001,8,3\n0.0002,8,3\n0.0003,8,3\n0.0004,8,3\n0.0005,8,3\n";
    struct out o;
    run_case("rr", trace, NULL, "batching: none", "cluster: {replicas: 3, router: round_robin}\n",
             NULL, TAU, 0, 0, &o);
    for (int i = 0; i < 6; i++)
        ASSERT_EQ(o.r[i].replica, (unsigned)(i % 3));
}

/*
 * Least outstanding (waiting + running), lowest index on ties; two replicas, one request at a
 * time each.
 *   0 at 0 (100 tokens): 0 vs 0 outstanding -> replica 0.
 *   1 at 0.1 ms (1 token): 1 vs 0 -> replica 1; it finishes at 1.1 ms.
 *   2 at 5 ms (10 tokens): 1 vs 0 -> replica 1 (runs to 15 ms).
 *   3 at 5.1 ms: 1 vs 1 -> replica 0 (it waits behind request 0).
 *   4 at 5.2 ms: 2 vs 1 -> replica 1.
 *   5 at 5.3 ms: 2 vs 2 -> replica 0.
 */
TEST(least_outstanding_takes_the_least_loaded_replica)
{
    static const char trace[] =
        "0,8,100\n0.0001,8,1\n0.005,8,10\n0.0051,8,1\n0.0052,8,1\n0.0053,8,1\n";
    struct out o;
    run_case("lo", trace, NULL, "batching: none",
             "cluster: {replicas: 2, router: least_outstanding}\n", NULL, TAU, 0, 0, &o);
    const unsigned want[] = {0, 1, 1, 0, 1, 0};
    for (int i = 0; i < 6; i++)
        ASSERT_EQ(o.r[i].replica, want[i]);
}

/*
 * Random: each arrival draws its replica uniformly from the router's own stream (seed 7, stream
 * RNG_ROUTER): the same draws, made here with GSL's uniform_int, give each request's replica.
 */
TEST(random_router_draws_from_its_own_stream)
{
    char trace[4096] = "";
    for (int i = 0; i < 40; i++) {
        char row[64];
        snprintf(row, sizeof row, "%.4f,8,1\n", i * 1e-4);
        strcat(trace, row);
    }
    struct out o;
    run_case("random", trace, NULL, "batching: none", "cluster: {replicas: 3, router: random}\n",
             NULL, TAU, 0, 0, &o);
    rng_t   *g = rng_new(7, RNG_ROUTER);
    unsigned count[3] = {0};
    ASSERT_TRUE(g);
    for (int i = 0; i < 40; i++) {
        unsigned want = (unsigned)gsl_rng_uniform_int(g, 3);
        ASSERT_EQ(o.r[i].replica, want);
        count[want]++;
    }
    rng_free(g);
    ASSERT_TRUE(count[0] && count[1] && count[2]); /* not a constant */
}

/* ---- S3 packing ---- */

/*
 * S3 admits by decreasing first fit of predicted reservations (prompt + the predicted bucket's
 * upper edge; edges 10, 20, 40, 80, 128) into 150 free tokens (memory: predicted). Prompts are
 * 10 tokens; predictions equal the true lengths.
 *   request: 0    1    2    3    4
 *   output:  5    30   15   70   35
 *   bucket:  10   40   20   80   40
 *   needs:   20   50   30   90   50
 * t = 0: largest that fits 150 is 3 (90), room 60; then 1 (50, the first of its class), room
 *   10; nothing fits: {1, 3}. (fcfs would take 0, 1, 2.)
 * Request 1 finishes at boundary 30: room 60 -> 4 (50), room 10. Request 4 (35 tokens) finishes
 *   at boundary 65: room 60 -> 2 (30), room 30 -> 0 (20). Queueing: 0 and 2 wait 65 ms, 4 waits
 *   30 ms.
 */
TEST(s3_packs_largest_reservation_first)
{
    static const char trace[] = "0,10,5\n0,10,30\n0,10,15\n0,10,70\n0,10,35\n";
    static const char pred[] = "0,5\n1,30\n2,15\n3,70\n4,35\n";
    struct out        o;
    run_case("s3", trace, pred, "memory: predicted", "policy: s3\n", NULL, TAU, 0, 150, &o);
    const double q[] = {65, 0, 65, 0, 30};
    for (int i = 0; i < 5; i++)
        ASSERT_NEAR(o.r[i].queue, q[i] * TAU, NS);
    ASSERT_EQ(o.res.sum.mispredictions, 0);
}

/*
 * S3 on paged memory with a watermark: a class that fits the free blocks but would break the
 * watermark is passed over for smaller ones (sim/sched_s3.c). 12 blocks of 16 tokens, watermark
 * 0.1 -> ceil(1.2) = 2 blocks kept free. Request 0 (prompt 8, output 20) runs from t = 0 in 1
 * block; requests A (prompt 150: 10 blocks) and B (prompt 40: 3 blocks) arrive at 0.5 ms.
 * Boundary 1 ms: 11 blocks free; A's class (10) is the largest that fits 11, but 11 - 10 = 1 < 2:
 * refused; the next class down holding a request is B's (3): 11 - 3 = 8 >= 2, admitted. So B
 * waits 0.5 ms; A waits for blocks (request 0 finishes at 20 ms).
 */
TEST(s3_passes_over_a_class_the_watermark_refuses)
{
    static const char trace[] = "0,8,20\n0.0005,150,2\n0.0005,40,2\n";
    struct out        o;
    run_case("s3-wm", trace, NULL,
             "memory: paged, block_size: 16, watermark: 0.1, max_seq_len: 192", "policy: s3\n",
             NULL, TAU, 0, 192, &o);
    ASSERT_NEAR(o.r[2].queue, 0.5e-3, NS);
    ASSERT_TRUE(o.r[1].queue > 19e-3);
}

/* ---- the SSJF paper's simulator (compat: ssjf) ---- */

/* Run compat ssjf on jobs of the given true lengths and predicted classes, all at t = 0; one job
 * is served in e = 0.1 + 0.02 L seconds (simulator.py), one at a time. */
static void compat_case_b(const char *policy, unsigned jobs, const char *rows, const char *batching,
                          unsigned B, struct met_summary *s)
{
    char path[400], text[2048], yaml[512];
    snprintf(text, sizeof text, ",output_token_length,predicted_length,latency,model\n%s", rows);
    write_file("compat-pred.csv", text, path, sizeof path);
    snprintf(yaml, sizeof yaml,
             "name: c\ncompat: ssjf\nssjf: {jobs: %u, repeats: 3, starvation_s: 1000, "
             "starvation_factor: 1000}\nworkload: {arrival: batch}\n"
             "engine: {batching: %s, max_batch: %u}\npolicy: %s\n",
             jobs, batching, B, policy);
    struct cfg     c;
    cfg_exp_t     *e;
    struct sim_msg err = {{0}};
    if (cfg_load_string(yaml, "c.yaml", &e, &err) || cfg_resolve(e, 0, &c, &err))
        TEST_FAIL_("%s", err.text);
    cfg_free(e);
    if (compat_ssjf_run(&c, path, NULL, NULL, NULL, s, &err))
        TEST_FAIL_("%s", err.text);
}

static void compat_case(const char *policy, unsigned jobs, const char *rows, struct met_summary *s)
{
    compat_case_b(policy, jobs, rows, "none", 1, s);
}

/*
 * Continuous batches of 3 (the SSJF simulator: every job of a batch progresses at full speed,
 * and the shortest waiting jobs fill the freed slots). Services 2.1, 0.3, 1.1, 4.1 s (sjf):
 * {0.3, 1.1, 2.1} -> 0.3 done at 0.3; 4.1 joins at 0.3: {0.8, 1.8, 4.1 left} -> 1.1 done at
 * 1.1; {1.0, 3.3 left}, fewer jobs than slots -> 2.1 done at 2.1; {2.3 left} -> done at 4.4.
 * Mean JCT (0.3 + 1.1 + 2.1 + 4.4) / 4 = 1.975 s.
 */
TEST(compat_continuous_batch_with_fewer_jobs_than_slots)
{
    struct met_summary s;
    compat_case_b("sjf", 4, "0,100,1,0.008,m\n1,10,0,0.008,m\n2,50,0,0.008,m\n3,200,2,0.008,m\n",
                  "continuous", 3, &s);
    ASSERT_NEAR(s.e2el.mean, 1.975, 1e-9);
}

/*
 * SSJF orders by the predicted class, not by the true service. True lengths 100, 10, 50, 200
 * (services 2.1, 0.3, 1.1, 4.1 s) with inverted predicted classes 1, 3, 2, 0: ssjf serves 200,
 * 100, 50, 10: JCTs 4.1, 6.2, 7.3, 7.6, mean 25.2 / 4 = 6.3 s (sjf: 0.3, 1.4, 3.5, 7.6, mean 3.2).
 */
TEST(compat_ssjf_orders_by_predicted_class)
{
    static const char rows[] = "0,100,1,0.008,m\n1,10,3,0.008,m\n2,50,2,0.008,m\n3,200,0,0.008,m\n";
    struct met_summary s;
    compat_case("ssjf", 4, rows, &s);
    ASSERT_NEAR(s.e2el.mean, 6.3, 1e-9);
    compat_case("sjf", 4, rows, &s);
    ASSERT_NEAR(s.e2el.mean, 3.2, 1e-9);
}

/*
 * SSJF's throughput (simulator.py): pos = int(np.percentile(range(n), 25)) = floor(0.25 (n - 1)),
 * throughput = pos / (finish time of the pos-th job, 0-based, sorted).
 *   4 jobs (sjf, services 0.3, 1.1, 2.1, 4.1): pos = floor(0.75) = 0: throughput 0.
 *   8 jobs (lengths 100, 10, 50, 200, 30, 70, 150, 20: services 2.1, 0.3, 1.1, 4.1, 0.7, 1.5,
 *   3.1, 0.5), sjf finishes 0.3, 0.8, 1.5, 2.6, ...: pos = floor(1.75) = 1: 1 / 0.8 = 1.25.
 *   (floor(0.25 n) would give 1 / 1.4 and 2 / 1.5.)
 */
TEST(compat_ssjf_throughput_index)
{
    static const char  rows[] = "0,100,1,0.008,m\n1,10,0,0.008,m\n2,50,0,0.008,m\n3,200,2,0.008,m\n"
                                "4,30,0,0.008,m\n5,70,1,0.008,m\n6,150,1,0.008,m\n7,20,0,0.008,m\n";
    struct met_summary s;
    compat_case("sjf", 4, "0,100,1,0.008,m\n1,10,0,0.008,m\n2,50,0,0.008,m\n3,200,2,0.008,m\n", &s);
    ASSERT_NEAR(s.ssjf_throughput, 0, 1e-12);
    compat_case("sjf", 8, rows, &s);
    ASSERT_NEAR(s.e2el.mean, 38.2 / 8, 1e-9);
    ASSERT_NEAR(s.ssjf_throughput, 1.25, 1e-9);
}

/*
 * Swap preemption: the case above with engine.preemption = swap over a 1 GB/s host link. Request
 * 1's 31 tokens of KV (15 + 16) move out at boundary 17 and back in at boundary 40, each move
 * S = 31 x 524,288 bytes (llama-2-7b: 2 x 32 x 32 x 128 x 2) / 1e9 B/s = 16.252928 ms, added to
 * the iteration that starts there. Swapped back in, it decodes at once (no prefill):
 *   request 0 finishes at 40.30 + S = 56.552928 ms;
 *   request 1 at 40.30 + S + (1 + S) + 23 = 64.30 + 2 S = 96.805856 ms.
 * Nothing is recomputed (0 wasted tokens); the wasted time is the two moves, 2 S.
 */
TEST(swap_preemption_moves_the_victims_kv_twice)
{
    static const char trace[] = "0,15,40\n0.0005,15,40\n";
    const double      S = 31 * 524288.0 / 1e9;
    struct out        o;
    run_case("swap", trace, NULL,
             "memory: paged, block_size: 16, watermark: 0, max_seq_len: 64, preemption: swap",
             "hardware: {host_bw_gbps: 1}\n", NULL, TAU, 1e-5, 64, &o);
    ASSERT_EQ(o.r[0].preemptions, 0);
    ASSERT_EQ(o.r[1].preemptions, 1);
    ASSERT_NEAR(o.r[0].finish, 40.30e-3 + S, NS);
    ASSERT_NEAR(o.r[1].finish, 64.30e-3 + 2 * S, NS);
    ASSERT_EQ(o.res.sum.wasted_tokens, 0);
    ASSERT_NEAR(o.res.sum.wasted_s, 2 * S, 1e-12);
}

/*
 * S3's misprediction recovery (memory: predicted, overflow next_bucket, memory ample). Request 0
 * has a 10-token prompt, 15 true output tokens and a prediction of 5 (bucket edge 10): it
 * reserves 10 + 10 tokens. Iterations 0..9 give tokens 1..10 (iteration 0 costs 1 + 10 x 0.01
 * ms); at boundary 10 its reservation is exhausted: it is preempted, re-queued with the next
 * edge (20) and readmitted at once; iteration 10 recomputes 10 + 10 tokens (1.20 ms) and gives
 * token 11; iterations 11..14 give 12..15. Finish: 15 x 1 + 0.10 + 0.20 = 15.30 ms; one
 * misprediction, one preemption, 20 wasted tokens.
 */
TEST(s3_misprediction_reserves_the_next_bucket_and_recomputes)
{
    struct out o;
    run_case("mispredict", "0,10,15\n", "0,5\n", "memory: predicted", "policy: s3\n", NULL, TAU,
             1e-5, 0, &o);
    ASSERT_NEAR(o.r[0].finish, 15.30e-3, NS);
    ASSERT_EQ(o.r[0].preemptions, 1);
    ASSERT_EQ(o.res.sum.mispredictions, 1);
    ASSERT_EQ(o.res.sum.wasted_tokens, 20);
}

/*
 * Predictions cost time, served one at a time in arrival order (predictor.cost_s = 2 ms): three
 * requests at t = 0 of 1 token each are ready at 2, 4 and 6 ms, and each runs at once (1 ms):
 * finishes 3, 5, 7 ms.
 */
TEST(prediction_cost_delays_scheduling_in_arrival_order)
{
    struct out o;
    run_case("pcost", "0,8,1\n0,8,1\n0,8,1\n", NULL, "batching: none", "", NULL, TAU, 0, 0, &o);
    expect_finish(&o, 0, 3, (const double[]){1, 2, 3});
    run_case("pcost2", "0,8,1\n0,8,1\n0,8,1\n", NULL, "batching: none", "",
             (const char *[]){"predictor.cost_s=0.002", NULL}, TAU, 0, 0, &o);
    expect_finish(&o, 0, 3, (const double[]){3, 5, 7});
}

/*
 * Dynamic (static) batches: formed when the engine is idle, once max_batch requests wait or the
 * oldest has waited max_wait_s; run until the longest member finishes. max_batch 2, max_wait 5
 * ms. Request 0 (3 tokens) arrives at 0 and waits; request 1 (1 token) at 1 ms fills the batch:
 * {0, 1} runs from 1 ms; 1 has its token at 2 ms but, as in a static batch, returns with the
 * batch at 4 ms (TTFT 1 ms); 0 finishes at 4 ms. Request 2 (2 tokens) arrives at 2 ms;
 * at 4 ms it is alone and has waited 2 ms, so the batch waits until 2 + 5 = 7 ms and runs
 * [7, 9 ms].
 */
TEST(dynamic_batches_wait_to_fill_then_run_to_their_longest)
{
    struct out o;
    run_case("dynamic", "0,8,3\n0.001,8,1\n0.002,8,2\n", NULL,
             "batching: dynamic, max_batch: 2, max_wait_s: 0.005", "", NULL, TAU, 0, 0, &o);
    expect_finish(&o, 0, 3, (const double[]){4, 4, 9});
    ASSERT_NEAR(o.r[1].ttft, 1e-3, NS);
    ASSERT_NEAR(o.r[2].queue, 5e-3, NS);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lensim-test-decide-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(fcfs_serves_in_arrival_order);
    RUN(sjf_serves_shortest_true_length_first);
    RUN(ssjf_serves_shortest_prediction_first);
    RUN(ties_are_first_in_first_out);
    RUN(aging_serves_the_oldest_once_it_waited_too_long);
    RUN(paged_admission_keeps_the_watermark_free);
    RUN(token_budget_counts_decodes_and_prefills);
    RUN(preemption_takes_the_newest_and_recomputes_its_tokens);
    RUN(chunked_prefill_preempted_part_way_wastes_its_chunks);
    RUN(vllm_v1_request_may_fill_the_whole_pool);
    RUN(swap_preemption_moves_the_victims_kv_twice);
    RUN(s3_misprediction_reserves_the_next_bucket_and_recomputes);
    RUN(prediction_cost_delays_scheduling_in_arrival_order);
    RUN(dynamic_batches_wait_to_fill_then_run_to_their_longest);
    RUN(round_robin_takes_replicas_in_turn);
    RUN(least_outstanding_takes_the_least_loaded_replica);
    RUN(random_router_draws_from_its_own_stream);
    RUN(s3_packs_largest_reservation_first);
    RUN(s3_passes_over_a_class_the_watermark_refuses);
    RUN(compat_ssjf_orders_by_predicted_class);
    RUN(compat_ssjf_throughput_index);
    RUN(compat_continuous_batch_with_fewer_jobs_than_slots);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) {
    }
    return test_main_end();
}
