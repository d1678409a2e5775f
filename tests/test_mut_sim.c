/*
 * test_mut_sim.c: what surviving mutants of sim/ and engine/ (the mutation samples of issue 17,
 * seeds 31 and 37) showed that no test watched. Each test asserts a value derived by hand in the
 * comment above it, or recomputed here independently of lensim's code, never a snapshot of
 * lensim's own output.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cfg.h"
#include "compat_ssjf.h"
#include "cq.h"
#include "kv.h"
#include "met.h"
#include "pred.h"
#include "run.h"
#include "test.h"

static char tmpdir[256];

/* ---- compat ssjf: the repetitions' averages ----
 *
 * compat ssjf reports the JCT mean and p99, the mean wait and both throughputs as the paper's
 * auto_eval.py:55-95 does: per repetition, then averaged over the repetitions. 3 repetitions of
 * 6 jobs drawn from 50 rows (so the repetitions differ), SJF without batching, every job at
 * t = 0. Recomputed from the rows file (rep, job, arrival, tokens, class, e, start, done, jct),
 * by the rules of compat_ssjf.h, from the tokens alone:
 *   - e = 0.1 + 0.02 L s (job.py:251); SJF without batching runs the jobs one at a time,
 *     shortest first, from t = 0, so the k-th completion (sorted e ascending) is at
 *     e(1) + ... + e(k), and a job's JCT is its completion (arrival 0), its wait its start;
 *   - p99: numpy.percentile(JCTs, 99), linear: position 0.99 x (6 - 1) = 4.95, so
 *     x(4) + 0.95 (x(5) - x(4)) on the sorted JCTs (0-based);
 *   - ssjf throughput: pos = int(percentile(range(6), 25)) = floor(0.25 x 5) = 1, pos / the
 *     completion of sorted index 1; request throughput 6 / the last completion.
 */
static size_t read_rows(const char *path, int *rep, double *tokens, double *start, double *done,
                        size_t cap)
{
    FILE *f = fopen(path, "r");
    ASSERT_TRUE(f != NULL);
    char   line[512];
    size_t n = 0;
    while (fgets(line, sizeof line, f) && n < cap) {
        unsigned rp, i, tok, cls;
        double   a, e, st, dn, jct;
        if (sscanf(line, "%u,%u,%lf,%u,%u,%lf,%lf,%lf,%lf", &rp, &i, &a, &tok, &cls, &e, &st, &dn,
                   &jct) != 9)
            continue;
        rep[n] = (int)rp;
        tokens[n] = tok;
        start[n] = st;
        done[n] = dn;
        n++;
    }
    fclose(f);
    return n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

TEST(compat_ssjf_averages_each_repetition)
{
    enum { R = 3, N = 6 };
    char pred[300], rows[300];
    snprintf(pred, sizeof pred, "%s/pred.csv", tmpdir);
    snprintf(rows, sizeof rows, "%s/rows.csv", tmpdir);
    FILE *f = fopen(pred, "w");
    ASSERT_TRUE(f != NULL);
    fprintf(f, ",output_token_length,predicted_length,latency,model\n");
    for (int i = 0; i < 50; i++) /* lengths 5..495, classes 0..4 */
        fprintf(f, "%d,%d,%d,0.008,vicuna-13b\n", i, 5 + (i * 37 % 50) * 10, i % 5);
    fclose(f);

    struct cfg     c;
    cfg_exp_t     *e;
    struct sim_msg err = {{0}};
    ASSERT_EQ(cfg_load_string("name: c\ncompat: ssjf\nssjf: {jobs: 6, repeats: 3}\n"
                              "workload: {arrival: batch}\nengine: {batching: none}\n"
                              "policy: sjf\n",
                              "c.yaml", &e, &err),
              0);
    ASSERT_EQ(cfg_resolve(e, 0, &c, &err), 0);
    cfg_free(e);
    FILE *rf = fopen(rows, "w");
    ASSERT_TRUE(rf != NULL);
    struct met_summary s;
    int                rc = compat_ssjf_run(&c, pred, rf, NULL, NULL, &s, &err);
    fclose(rf);
    if (rc)
        TEST_FAIL_("%s", err.text);

    int    rep[R * N];
    double tok[R * N], st[R * N], dn[R * N];
    ASSERT_EQ(read_rows(rows, rep, tok, st, dn, R * N), R * N);
    ASSERT_EQ(s.completed, R * N);
    double mean = 0, p99 = 0, wait = 0, thr = 0, req_thr = 0, p99_0 = 0, p99_spread = 0;
    for (int k = 0; k < R; k++) {
        double ex[N], jct[N];
        int    m = 0;
        for (int i = 0; i < R * N; i++)
            if (rep[i] == k)
                ex[m++] = 0.1 + 0.02 * tok[i];
        ASSERT_EQ(m, N);
        qsort(ex, N, sizeof *ex, cmp_double);
        double t = 0, sum_jct = 0, sum_wait = 0;
        for (int i = 0; i < N; i++) {
            sum_wait += t;
            t += ex[i];
            jct[i] = t;
            sum_jct += t;
        }
        /* The rows agree: each job's completion is one of these, start = completion - e. */
        for (int i = 0; i < R * N; i++)
            if (rep[i] == k) {
                int hit = 0;
                for (int j = 0; j < N; j++)
                    hit |= fabs(dn[i] - jct[j]) < 1e-9;
                ASSERT_TRUE(hit);
                ASSERT_NEAR(dn[i] - st[i], 0.1 + 0.02 * tok[i], 1e-9);
            }
        double q = jct[4] + 0.95 * (jct[5] - jct[4]);
        if (k == 0)
            p99_0 = q;
        p99_spread = fmax(p99_spread, fabs(q - p99_0));
        mean += sum_jct / N / R;
        p99 += q / R;
        wait += sum_wait / N / R;
        thr += 1 / jct[1] / R;
        req_thr += N / jct[N - 1] / R;
    }
    /* The repetitions must differ, or a mean over one of them would pass. */
    ASSERT_TRUE(p99_spread > 0.1);
    ASSERT_NEAR(s.e2el.mean, mean, 1e-9);
    ASSERT_NEAR(s.e2el.p99, p99, 1e-9);
    ASSERT_NEAR(s.queue.mean, wait, 1e-9);
    ASSERT_NEAR(s.ssjf_throughput, thr, 1e-12);
    ASSERT_NEAR(s.request_throughput, req_thr, 1e-12);
    remove(pred);
    remove(rows);
}

/* ---- kv_check: the invariant's messages ----
 *
 * kv_check compares the pool with the running set the replica passes; its message is what a
 * user reads when a policy breaks the books (replica_check logs "replica N: <message>" before it
 * aborts, under engine.check).
 *   - max policy, capacity 1,000 tokens, max_seq_len 100: every request reserves 100 tokens
 *     (the whole sequence, kv.h). Two admitted: used 200. Checked against only the first:
 *     "KV used 200 but running requests hold 100".
 *   - paged with prefix caching, 1,024 blocks of 16 tokens, no watermark: a request admitted with
 *     0 hits and 10 new blocks holds 10 (ref_sum 10, 10 blocks with a reference, used 10, the
 *     other 1,014 on the free list). Checked against an empty running set: "prefix cache:
 *     requests hold 0 blocks, references 10; 10 in use, used 10; 1014 on the free list of 1014".
 */
TEST(kv_check_names_what_disagrees)
{
    struct kv_cfg  cfg = {.policy = KV_MAX,
                          .capacity_tok = 1000,
                          .block_tok = 16,
                          .max_seq_len = 100};
    kv_t          *kv;
    struct sim_msg err = {{0}};
    ASSERT_EQ(kv_new(&cfg, &kv, &err), 0);
    struct req  a = {.prompt_tok = 10, .output_tok = 20}, b = {.prompt_tok = 30, .output_tok = 5};
    struct req *run[2] = {&a, &b};
    int         trunc;
    ASSERT_EQ(kv_admissible(kv, &a, &trunc), 1);
    ASSERT_EQ(kv_admissible(kv, &b, &trunc), 1);
    kv_queue(kv, &a, NULL);
    kv_queue(kv, &b, NULL);
    ASSERT_EQ(kv_admit(kv, &a), 0);
    ASSERT_EQ(kv_admit(kv, &b), 0);
    ASSERT_EQ(kv_check(kv, run, 2, &err), 0);
    ASSERT_EQ(kv_check(kv, run, 1, &err), SIM_EINVARIANT);
    ASSERT_TRUE(!strcmp(err.text, "KV used 200 but running requests hold 100"));
    kv_free(kv);

    struct kv_cfg pc = {.policy = KV_PAGED,
                        .capacity_tok = 1024 * 16,
                        .block_tok = 16,
                        .watermark = 0,
                        .max_seq_len = 8192,
                        .prefix_caching = 1,
                        .src_block_tok = 512};
    ASSERT_EQ(kv_new(&pc, &kv, &err), 0);
    int64_t          ids[1] = {7};
    struct kv_hashes h = {ids, 1, 1};
    kv_set_hashes(kv, &h);
    struct req  r = {.prompt_tok = 150, .output_tok = 8, .n_hash = 1};
    struct req *one[1] = {&r};
    ASSERT_EQ(kv_prefix_admit(kv, &r, 0, 10), 0);
    ASSERT_EQ(kv_check(kv, one, 1, &err), 0);
    ASSERT_EQ(kv_check(kv, one, 0, &err), SIM_EINVARIANT);
    ASSERT_TRUE(!strcmp(err.text, "prefix cache: requests hold 0 blocks, references 10; 10 in "
                                  "use, used 10; 1014 on the free list of 1014"));
    kv_release(kv, &r);
    ASSERT_EQ(kv_check(kv, one, 0, &err), 0);
    kv_free(kv);
}

/* ---- choice sets end where their entries end ----
 *
 * engine.batching takes one of three modes (README, sim/batch.c); a value that is none of them
 * is refused with the list of the three, written here by hand. The set is NULL-terminated
 * (choice.h): without its terminator the lookup walks into whatever lies after the array.
 * Whether that shows depends on the memory after it (a zero row hides it; ASan always sees it),
 * so the lists of both sets of batch.c are checked: the rules' set follows the modes' in the
 * source.
 */
TEST(batching_choices_are_the_three_modes)
{
    static const struct {
        const char *yaml, *msg;
    } cases[] = {
        {"name: c\nengine: {batching: bogus}\n",
         "c.yaml:2:20: engine.batching: 'bogus' is not one of continuous|dynamic|none"},
        {"name: c\nengine: {batching: mixed}\n",
         "c.yaml:2:20: engine.batching: 'mixed' is not one of continuous|dynamic|none"},
        {"name: c\nengine: {scheduler: bogus}\n",
         "c.yaml:2:21: engine.scheduler: 'bogus' is not one of mixed|vllm_v0|sarathi|vllm_v1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cfg_exp_t     *e = NULL;
        struct sim_msg err = {{0}};
        struct cfg     c;
        int            rc = cfg_load_string(cases[i].yaml, "c.yaml", &e, &err);
        if (!rc)
            rc = cfg_resolve(e, 0, &c, &err);
        cfg_free(e);
        ASSERT_EQ(rc, SIM_ECONFIG);
        if (strcmp(err.text, cases[i].msg))
            TEST_FAIL_("got \"%s\"", err.text);
    }
}

/* ---- summary.json: the wasted time, and what --resume reads back ----
 *
 * wasted_s is in seconds, as its key says (summary.json's millisecond keys end in _ms): a
 * summary whose preemptions wasted 2.5 s and 7 tokens prints "wasted_s": 2.500000 and
 * "wasted_tokens": 7.
 * Read back (--resume, met_read_json), the values return, and the fields summary.json does not
 * hold stay 0 (met.h: "Fields without a JSON key stay 0"): tokens_generated, the prefix-cache
 * fields (so that a resumed run without prefix caching does not print them) and the sample
 * counts of the statistics. Written again, the read-back summary prints the same text.
 */
static char *json_of(const struct met_summary *s)
{
    FILE *f = tmpfile();
    ASSERT_TRUE(f != NULL);
    ASSERT_EQ(met_write_json(s, f), 0);
    long n = ftell(f);
    rewind(f);
    char *buf = calloc(1, (size_t)n + 1);
    ASSERT_TRUE(buf && fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    return buf;
}

TEST(summary_wasted_time_and_resume)
{
    struct met_summary s, back;
    memset(&s, 0, sizeof s);
    s.wasted_s = 2.5;
    s.wasted_tokens = 7;
    s.preemptions = 3;
    char *text = json_of(&s);
    ASSERT_STR_CONTAINS(text, "\"wasted_tokens\": 7,\n  \"wasted_s\": 2.500000,\n");
    FILE *f = tmpfile();
    ASSERT_TRUE(f != NULL);
    fputs(text, f);
    rewind(f);
    ASSERT_EQ(met_read_json(f, &back), 0);
    fclose(f);
    ASSERT_EQ(back.wasted_s, 2.5);
    ASSERT_EQ(back.wasted_tokens, 7);
    ASSERT_EQ(back.preemptions, 3);
    ASSERT_EQ(back.tokens_generated, 0);
    ASSERT_EQ(back.prefix_on, 0);
    ASSERT_EQ(back.prefix_query_tokens, 0);
    ASSERT_EQ(back.prefix_hit_tokens, 0);
    ASSERT_EQ(back.prefix_hit_rate, 0);
    ASSERT_EQ(back.e2el.n, 0);
    ASSERT_EQ(back.ttft.n, 0);
    char *again = json_of(&back);
    ASSERT_TRUE(!strcmp(again, text));
    free(again);
    free(text);
}

/* ---- the calendar queue's width (engine/cq.c, Brown 1988) ----
 *
 * cq_new starts with 2 buckets of 1 ms; the push that makes the size exceed the bucket count
 * doubles it and re-estimates the width from the front of the queue: the mean gap between
 * neighbours after dropping gaps above twice the mean, times CQ_WIDTH_MULT = 1 (cq.c). The
 * leading run of equal times is not counted. By hand:
 *   - times 10, 10, 50 ns: the third push grows to 4 buckets; the sample is all three events,
 *     one gap (40 ns, kept: 40 <= 2 x 40), no tie after it: width 40 ns;
 *   - times 10, 20, 50 ns: gaps 10 and 30, mean 20, both <= 40: width (10 + 30) / 2 = 20 ns.
 */
TEST(calendar_width_from_one_gap)
{
    static const simtime_t times[2][3] = {{10, 10, 50}, {10, 20, 50}};
    static const simtime_t want[2] = {40, 20};
    for (int c = 0; c < 2; c++) {
        cq_t     *q = cq_new(NULL);
        struct ev e[3];
        ASSERT_TRUE(q != NULL);
        ASSERT_EQ(cq_stats(q).width_ns, SIM_NS_PER_MS);
        for (int i = 0; i < 3; i++) {
            e[i] = (struct ev){.t_ns = times[c][i]};
            cq_push(q, &e[i]);
        }
        struct cq_stats st = cq_stats(q);
        ASSERT_EQ(st.n_buckets, 4);
        ASSERT_EQ(st.width_ns, want[c]);
        ASSERT_EQ(cq_check(q, NULL), 0);
        for (int i = 0; i < 3; i++)
            ASSERT_TRUE(cq_pop(q) == &e[i]);
        cq_free(q);
    }
}

/* ---- engine.kv_blocks beyond the GPU's memory: the numbers of the refusal ----
 *
 * llama-2-7b on one a100-80gb (test_coef's hand values): KV bytes per token 2 x 32 x 32 x 128 x
 * 2 = 524,288; weights 6.738e9 x 2 = 13.476e9 B; memory 81,920 MiB = 85,899,345,920 B, of which
 * run.c lets the KV cache have tp x memory - weights = 72,423,345,920 B (the forced block count
 * is checked against the whole device, mem_util aside). 1,000,000 blocks of 16 tokens need
 * 16e6 x 524,288 = 8.388608e12 B. In GB to 4 significant digits: 8389, 72.42, 85.9, 13.48.
 */
TEST(kv_blocks_refusal_names_the_sizes)
{
    cfg_exp_t     *e;
    struct sim_msg err = {{0}};
    struct cfg     c;
    ASSERT_EQ(cfg_load_string("name: c\nworkload: {requests: 1}\nmodel: {name: "
                              "llama-2-7b}\nhardware: {gpu: a100-80gb}\n"
                              "engine: {memory: paged, kv_blocks: 1000000}\n",
                              "c.yaml", &e, &err),
              0);
    ASSERT_EQ(cfg_resolve(e, 0, &c, &err), 0);
    cfg_free(e);
    struct run *x = calloc(1, sizeof *x);
    ASSERT_TRUE(x != NULL);
    ASSERT_EQ(run_build(&c, ".", "", x, &err), SIM_ECONFIG);
    run_fini(x);
    free(x);
    if (strcmp(err.text, "c.yaml:5:36: engine.kv_blocks: 1000000 blocks of 16 tokens take 8389 GB "
                         "of KV cache, more than the 72.42 GB that 1 x a100-80gb (85.9 GB each) "
                         "hold beside 13.48 GB of weights"))
        TEST_FAIL_("got \"%s\"", err.text);
}

/* ---- cq_check names the count it finds ----
 *
 * Three events at t = 5 ns share one bucket (a list e0 -> e1 -> e2, tail e2). The caller owns
 * the events, so a stray write can unlink e1: e0's successor set to e2 (with e2's time, the
 * cached successor time). Every per-bucket check still holds (sorted, tail e2, hint, if any, on
 * the list), but the queue's size (3) is one more than the buckets hold (2): cq_check must say
 * "size 3 but buckets hold 2". Linked back, the queue checks clean.
 */
TEST(calendar_check_counts_the_buckets)
{
    cq_t     *q = cq_new(NULL);
    struct ev e[3];
    ASSERT_TRUE(q != NULL);
    for (int i = 0; i < 3; i++) {
        e[i] = (struct ev){.t_ns = 5};
        cq_push(q, &e[i]);
    }
    struct sim_msg m = {{0}};
    ASSERT_EQ(cq_check(q, &m), 0);
    ASSERT_TRUE(e[0].link.cq.next == &e[1] && e[1].link.cq.next == &e[2]);
    e[0].link.cq.next = &e[2];
    ASSERT_EQ(cq_check(q, &m), SIM_EINVARIANT);
    if (strcmp(m.text, "size 3 but buckets hold 2"))
        TEST_FAIL_("got \"%s\"", m.text);
    e[0].link.cq.next = &e[1];
    ASSERT_EQ(cq_check(q, &m), 0);
    cq_free(q);
}

/* ---- whole runs on a few requests ---- */

/* Run the experiment `yaml` (a CSV trace `trace` of "arrival_s,prompt_tokens,output_tokens" rows
 * is written as trace.csv first and named by %s in yaml, when given) with tau = 1 ms per
 * iteration, plus c_pf per prefilled token and c_dec per decoding sequence; capacity_tok, when
 * not 0, replaces the KV pool; write its files to tmpdir/sub when sub is not NULL. */
static void run_yaml_cost(const char *yaml_fmt, const char *trace, const char *sub, double c_pf,
                          double c_dec, uint64_t capacity_tok, struct run_result *res)
{
    char tpath[400], yaml[2048];
    snprintf(tpath, sizeof tpath, "%s/trace.csv", tmpdir);
    if (trace) {
        FILE *f = fopen(tpath, "w");
        ASSERT_TRUE(f != NULL);
        fprintf(f, "arrival_s,prompt_tokens,output_tokens\n%s", trace);
        fclose(f);
    }
    snprintf(yaml, sizeof yaml, yaml_fmt, tpath);
    cfg_exp_t     *e;
    struct sim_msg err = {{0}};
    struct cfg     c;
    if (cfg_load_string(yaml, "t.yaml", &e, &err) || cfg_resolve(e, 0, &c, &err))
        TEST_FAIL_("%s\n%s", err.text, yaml);
    cfg_free(e);
    struct run *x = calloc(1, sizeof *x);
    ASSERT_TRUE(x != NULL);
    if (run_build(&c, ".", "", x, &err))
        TEST_FAIL_("%s", err.text);
    struct cal_profile *p = &x->cost.prof; /* a constant 1 ms per iteration */
    p->n_pieces = 1;
    memset(p->piece, 0, sizeof p->piece);
    p->piece[0].max_tokens = INFINITY;
    p->piece[0].coef[CAL_T_CONST] = 1e-3;
    p->piece[0].coef[CAL_T_PREFILL_TOK] = c_pf;
    p->piece[0].coef[CAL_T_DECODE_SEQS] = c_dec;
    if (capacity_tok)
        x->serve.kv.capacity_tok = capacity_tok;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, sub ? sub : "");
    memset(res, 0, sizeof *res);
    if (run_exec(x, sub ? dir : NULL, NULL, NULL, res, &err))
        TEST_FAIL_("run_exec: %s", err.text);
    run_fini(x);
    free(x);
}

static void run_yaml(const char *yaml_fmt, const char *trace, const char *sub,
                     struct run_result *res)
{
    run_yaml_cost(yaml_fmt, trace, sub, 0, 0, 0, res);
}

/*
 * A replayed trace keeps its prompts: one of max_seq_len tokens or more fails
 * (failed_prompt_too_long, issue 12), and only the synthetic generator's prompts are clamped to
 * max_seq_len - 1 (sim/run.c; README: "its prompts are clamped"). max_seq_len 128: of the
 * prompts 200, 10 and 128, two fail (200 and 128 >= 128), none is clamped, one completes.
 */
TEST(trace_prompts_are_not_clamped)
{
    struct run_result res;
    run_yaml("name: t\nworkload: {source: csv, path: %s}\nengine: {max_seq_len: 128}\n",
             "0,200,5\n0,10,5\n0,128,5\n", NULL, &res);
    ASSERT_EQ(res.sum.completed, 1);
    ASSERT_EQ(res.sum.failed_why[MET_FAIL_PROMPT], 2);
    ASSERT_EQ(res.sum.clamped_prompt, 0);
}

#define ASSERT_STR_EQ(a, b)                                      \
    do {                                                         \
        if (strcmp((a), (b)))                                    \
            TEST_FAIL_("got \"%s\", expected \"%s\"", (a), (b)); \
    } while (0)

/* The whole line of path that starts with prefix, without its newline, in out; 0 if none. */
static int line_of(const char *path, const char *prefix, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    ASSERT_TRUE(f != NULL);
    char line[512];
    int  found = 0;
    while (!found && fgets(line, sizeof line, f))
        if (!strncmp(line, prefix, strlen(prefix))) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(out, cap, "%s", line);
            found = 1;
        }
    fclose(f);
    return found;
}

/*
 * manifest.yaml names the experiment, the run and the seed on lines of their own, and its memory
 * block reports the run's own peak bytes and allocation count (run.h, struct run_result), each
 * on its own line: an experiment "mani" of one run (its name is "run", cfg.c) with seed 4242.
 */
TEST(manifest_names_the_run_and_its_memory)
{
    struct run_result res;
    run_yaml("name: mani\nseed: 4242\nworkload: {source: csv, path: %s}\n"
             "engine: {max_seq_len: 128}\n",
             "0,10,5\n0,20,3\n", "mani", &res);
    char path[600], got[512], want[128];
    snprintf(path, sizeof path, "%s/mani/manifest.yaml", tmpdir);
    ASSERT_TRUE(line_of(path, "experiment:", got, sizeof got));
    ASSERT_STR_EQ(got, "experiment: \"mani\"");
    ASSERT_TRUE(line_of(path, "run:", got, sizeof got));
    ASSERT_STR_EQ(got, "run: \"run\"");
    ASSERT_TRUE(line_of(path, "seed:", got, sizeof got));
    ASSERT_STR_EQ(got, "seed: 4242");
    ASSERT_TRUE(line_of(path, "memory:", got, sizeof got));
    ASSERT_STR_EQ(got, "memory:");
    ASSERT_TRUE(res.peak_bytes > 0 && res.allocations > 0);
    snprintf(want, sizeof want, "  peak_bytes: %zu", res.peak_bytes);
    ASSERT_TRUE(line_of(path, "  peak_bytes:", got, sizeof got));
    ASSERT_STR_EQ(got, want);
    snprintf(want, sizeof want, "  allocations: %llu", (unsigned long long)res.allocations);
    ASSERT_TRUE(line_of(path, "  allocations:", got, sizeof got));
    ASSERT_STR_EQ(got, want);
}

/*
 * timeline.csv's kv_used_tokens is memory in tokens: paged blocks x block size. One request of
 * 10 prompt and 5 output tokens on paged memory with blocks of 16 tokens: its prefill holds
 * ceil((10 + 1) / 16) = 1 block and it never outgrows it (10 + 5 <= 16), so every busy row says
 * 16 tokens, and kv_cache_usage_perc is 16 over the pool's tokens. The run's folder is written
 * two levels below folders that do not exist yet (run_exec creates the parents, run.h).
 */
TEST(timeline_kv_tokens_are_blocks_times_block_size)
{
    struct run_result res;
    run_yaml("name: t\nworkload: {source: csv, path: %s}\n"
             "engine: {memory: paged, block_size: 16, max_seq_len: 128}\n",
             "0,10,5\n", "new/deeper/run", &res);
    ASSERT_EQ(res.sum.completed, 1);
    char path[700], line[512], head[512];
    snprintf(path, sizeof path, "%s/new/deeper/run/timeline.csv", tmpdir);
    FILE *f = fopen(path, "r");
    ASSERT_TRUE(f != NULL);
    ASSERT_TRUE(fgets(head, sizeof head, f) != NULL);
    ASSERT_TRUE(!strcmp(head, "replica,time_s,batch_size,kv_used_tokens,kv_cache_usage_perc,"
                              "num_requests_waiting\n"));
    int busy = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned rep, batch, used, waiting;
        double   t, perc;
        ASSERT_EQ(sscanf(line, "%u,%lf,%u,%u,%lf,%u", &rep, &t, &batch, &used, &perc, &waiting), 6);
        if (!batch)
            continue;
        busy++;
        ASSERT_EQ(used, 16);
        ASSERT_TRUE(perc > 0);
    }
    fclose(f);
    ASSERT_EQ(busy, 5); /* prefill + 4 decode iterations */
}

/*
 * engine.max_batched_tokens 0 means max(8192, max_seq_len) (its schema text in
 * experiments/SCHEMA.md): 8192 at max_seq_len 4096 and at 8192, 16384 at 16384.
 */
TEST(default_token_budget)
{
    static const struct {
        unsigned seq, want;
    } cases[] = {{4096, 8192}, {16384, 16384}, {8192, 8192}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char yaml[200];
        snprintf(yaml, sizeof yaml,
                 "name: c\nworkload: {requests: 1}\nmodel: {name: llama-3-8b}\n"
                 "engine: {max_seq_len: %u}\n",
                 cases[i].seq);
        cfg_exp_t     *e;
        struct sim_msg err = {{0}};
        struct cfg     c;
        if (cfg_load_string(yaml, "c.yaml", &e, &err) || cfg_resolve(e, 0, &c, &err))
            TEST_FAIL_("%s", err.text);
        cfg_free(e);
        struct run *x = calloc(1, sizeof *x);
        ASSERT_TRUE(x != NULL);
        if (run_build(&c, ".", "", x, &err))
            TEST_FAIL_("%s", err.text);
        ASSERT_EQ(x->serve.max_batched_tokens, cases[i].want);
        run_fini(x);
        free(x);
    }
}

/* run_mkdirs names the folder it could not make and why: below a regular file, mkdir fails
 * with ENOTDIR ("Not a directory", strerror). */
TEST(mkdirs_names_the_folder_it_cannot_make)
{
    char file[400], sub[500];
    snprintf(file, sizeof file, "%s/plain", tmpdir);
    FILE *f = fopen(file, "w");
    ASSERT_TRUE(f != NULL);
    fclose(f);
    snprintf(sub, sizeof sub, "%s/x/y", file);
    struct sim_msg err = {{0}};
    ASSERT_EQ(run_mkdirs(sub, &err), SIM_EIO);
    char want[600];
    snprintf(want, sizeof want, "%s/x: Not a directory", file);
    if (strcmp(err.text, want))
        TEST_FAIL_("got \"%s\", want \"%s\"", err.text, want);
    remove(file);
}

/*
 * The noisy predictor's lengths are "the true length times exp(N(0, sigma^2)), rounded into
 * [1, max_len]" (pred.h). A true length of 50 with sigma 3 and max_len 100: a draw falls below
 * 0.5 tokens when z < ln(0.01) / 3 = -1.54 (6 % of draws) and above 100 when z > ln(2) / 3 =
 * 0.23 (41 %), so among 2,000 draws both ends are reached; every prediction must still be a
 * length in [1, 100], and its bucket the one of that length.
 */
TEST(noisy_predictions_stay_in_range)
{
    struct pred_cfg cfg = {.kind = PRED_NOISY, .sigma = 3, .max_len = 100, .seed = 9};
    pred_t         *p;
    struct sim_msg  err = {{0}};
    ASSERT_EQ(pred_new(&cfg, &p, &err), 0);
    int lo = 0, hi = 0;
    for (int i = 0; i < 2000; i++) {
        struct req r = {.id = (uint64_t)i, .output_tok = 50};
        pred_predict(p, &r);
        ASSERT_TRUE(r.pred_tok >= 1 && r.pred_tok <= 100);
        ASSERT_EQ(r.pred_bucket, pred_bucket_of(p, r.pred_tok));
        lo += r.pred_tok == 1;
        hi += r.pred_tok == 100;
    }
    ASSERT_TRUE(lo > 40 && hi > 400);
    pred_free(p);
}

/*
 * A swapped-in request decodes in the iteration that swaps it in: it is one decoding sequence
 * of that iteration (replica.c: sw_n joins decode_seqs). test_decide's swap case (request 1's 31
 * tokens out at boundary 17, in at 40, S = 31 x 524,288 B / 1 GB/s each way; finishes 40.30 ms
 * + S and 64.30 ms + 2 S, worked by hand there), here with a cost of 1e-12 s per decoding
 * sequence as well: at most 2 sequences x 100 iterations add 2e-10 s, below the nanosecond
 * requests.csv prints, so the same finishes hold to 1 ns; a decode count that went wrong by a
 * sequence per swap-in would stay invisible, but not one that lost track of them.
 */
TEST(swap_in_decodes_as_one_sequence)
{
    const double      S = 31 * 524288.0 / 1e9;
    struct run_result res;
    run_yaml_cost("name: t\nworkload: {source: csv, path: %s}\n"
                  "engine: {memory: paged, block_size: 16, watermark: 0, max_seq_len: 64, "
                  "preemption: swap}\nhardware: {host_bw_gbps: 1}\n",
                  "0,15,40\n0.0005,15,40\n", NULL, 1e-5, 1e-12, 64, &res);
    ASSERT_EQ(res.sum.completed, 2);
    ASSERT_EQ(res.sum.preemptions, 1);
    /* The last finish is the run's end; the first arrival is at 0. */
    ASSERT_NEAR(res.sum.duration_s, 64.30e-3 + 2 * S, 1e-9);
    ASSERT_NEAR(res.sum.wasted_s, 2 * S, 1e-12);
}

/* finish_s of request `id` in tmpdir/sub/requests.csv (columns by name), or NAN. */
static double finish_of(const char *sub, unsigned id)
{
    char path[700], line[1024];
    snprintf(path, sizeof path, "%s/%s/requests.csv", tmpdir, sub);
    FILE *f = fopen(path, "r");
    ASSERT_TRUE(f != NULL);
    ASSERT_TRUE(fgets(line, sizeof line, f) != NULL);
    int c_id = -1, c_fin = -1, i = 0;
    for (char *t = strtok(line, ",\n"); t; t = strtok(NULL, ",\n"), i++) {
        if (!strcmp(t, "id"))
            c_id = i;
        if (!strcmp(t, "finish_s"))
            c_fin = i;
    }
    ASSERT_TRUE(c_id >= 0 && c_fin >= 0);
    double v = NAN;
    while (fgets(line, sizeof line, f)) {
        double x[32] = {0};
        int    k = 0;
        for (char *p = line; k < 32; k++) {
            x[k] = strtod(p, NULL);
            if (!(p = strchr(p, ',')))
                break;
            p++;
        }
        if ((unsigned)x[c_id] == id)
            v = x[c_fin];
    }
    fclose(f);
    return v;
}

/*
 * S3 packs the largest reservation first (decreasing first fit), and a reservation of exactly
 * max_units (the largest a queued request can need: max_seq_len tokens) is a size of its own.
 * max_seq_len 128, oracle predictions with bucket edges 10, 20, 40, 80, 100, 128, a pool of 200
 * tokens, 1 ms per iteration. Request 0: prompt 27, 90 output tokens: bucket (80, 100], edge 100,
 * reserves 27 + 100 = 127. Request 1: prompt 28, 90 tokens: reserves 28 + min(100, 128 - 28) =
 * 128. Both arrive at 0; 127 + 128 > 200, so one waits. Largest first: request 1 runs from 0 to
 * 90 ms (a prefill and 89 decodes), then request 0 to 180 ms. (Sharing a class with 127, 128
 * would be served first in, first out: request 0 first.)
 */
TEST(s3_largest_reservation_is_a_class_of_its_own)
{
    struct run_result res;
    run_yaml_cost("name: t\nworkload: {source: csv, path: %s}\npolicy: s3\n"
                  "engine: {memory: predicted, max_seq_len: 128}\n"
                  "predictor: {edges: [10, 20, 40, 80, 100, 128]}\n",
                  "0,27,90\n0,28,90\n", "s3max", 0, 0, 200, &res);
    ASSERT_EQ(res.sum.completed, 2);
    ASSERT_NEAR(finish_of("s3max", 1), 90e-3, 0.5e-9);
    ASSERT_NEAR(finish_of("s3max", 0), 180e-3, 0.5e-9);
}

/*
 * A replay file may start with the header `id,predicted_tokens`, the column names pred.h gives
 * its rows (load_replay skips a first line that starts with "id,"): the rows after it are read,
 * request 0 predicted 7 tokens and request 1 3; a request the file does not list gets max_len
 * ("unknown: assume the worst", pred.c).
 */
TEST(replay_file_with_a_header)
{
    char path[400];
    snprintf(path, sizeof path, "%s/replay.csv", tmpdir);
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f != NULL);
    fputs("id,predicted_tokens\n0,7\n1,3\n", f);
    fclose(f);
    struct pred_cfg cfg = {.kind = PRED_REPLAY, .path = path, .max_len = 100, .seed = 1};
    pred_t         *p;
    struct sim_msg  err = {{0}};
    if (pred_new(&cfg, &p, &err))
        TEST_FAIL_("%s", err.text);
    static const uint32_t want[3] = {7, 3, 100};
    for (unsigned i = 0; i < 3; i++) {
        struct req r = {.id = i, .output_tok = 50};
        pred_predict(p, &r);
        ASSERT_EQ(r.pred_tok, want[i]);
    }
    pred_free(p);
    remove(path);
}

/*
 * vLLM v0 as Vidur models it admits a request only when its blocks are free: a request that does
 * not fit waits. Paged memory of 3 blocks of 16 tokens (48 tokens), no watermark, 1 ms per
 * iteration. Requests 0 and 1 arrive at 0 with 30-token prompts and 3 output tokens; Vidur's
 * accounting holds ceil(30 / 16) = 2 blocks each at admission, so only request 0 fits: its
 * prefill runs 0-1 ms (first token), two decodes to 3 ms (31 and 32 tokens computed: still 2
 * blocks). Its blocks freed at 3 ms, request 1 runs 3-4 ms (prefill) and decodes to 6 ms.
 */
TEST(vllm_v0_waits_for_blocks)
{
    struct run_result res;
    run_yaml_cost("name: t\nworkload: {source: csv, path: %s}\n"
                  "engine: {memory: paged, block_size: 16, watermark: 0, max_seq_len: 64, "
                  "scheduler: vllm_v0}\n",
                  "0,30,3\n0,30,3\n", "v0mem", 0, 0, 48, &res);
    ASSERT_EQ(res.sum.completed, 2);
    ASSERT_EQ(res.sum.preemptions, 0);
    ASSERT_NEAR(finish_of("v0mem", 0), 3e-3, 0.5e-9);
    ASSERT_NEAR(finish_of("v0mem", 1), 6e-3, 0.5e-9);
}

/*
 * Every allocation failure during a run ends it with SIM_ENOMEM and "out of memory", leaking
 * nothing (sim_alloc's live count is back where it was), and the run that gets all its memory
 * completes every request (an allocation-failure walk, as test_paths does for compat ssjf).
 * One small experiment per batching rule and policy, 6 requests that queue, with a pool small
 * enough that some wait for memory: each allocation of run_exec is failed in turn.
 * Run by `test_mut_sim --alloc-walk` (suite test mut_sim_alloc_walk). It found two aborts:
 * when run_add failed at admission (allocation 17 of the vllm_v0 case) the replica stopped by
 * fail() sat idle with requests queued and sim/replica.c's start_iteration assertion
 * (!sched_len(p->q) || p->timer_set) fired; and with engine.check, cluster.c checked the
 * half-updated replica's invariants after the failing event. lensim aborted instead of
 * reporting "out of memory".
 */
TEST(runs_survive_every_allocation_failure)
{
    static const char *engines[] = {
        "memory: paged, block_size: 16, watermark: 0, max_seq_len: 64, scheduler: vllm_v0",
        "memory: paged, block_size: 16, watermark: 0, max_seq_len: 64, scheduler: sarathi, "
        "chunk_size: 16",
        "memory: paged, block_size: 16, max_seq_len: 64, scheduler: vllm_v1, "
        "max_batched_tokens: 32, max_batch: 8",
        "memory: paged, block_size: 16, watermark: 0, max_seq_len: 64, preemption: swap",
        "memory: predicted, max_seq_len: 64",
    };
    static const char *policies[] = {"fcfs", "fcfs", "fcfs", "sjf", "s3"};
    char               tpath[400];
    snprintf(tpath, sizeof tpath, "%s/walk.csv", tmpdir);
    FILE *f = fopen(tpath, "w");
    ASSERT_TRUE(f != NULL);
    fputs("arrival_s,prompt_tokens,output_tokens\n0,30,20\n0,20,25\n0.001,10,30\n"
          "0.002,25,10\n0.002,5,40\n0.01,12,12\n",
          f);
    fclose(f);
    /* Each case twice: plain, and with engine.check (the invariants after every event, which
     * must not be checked on a replica that a failure has stopped half-way). */
    for (size_t kk = 0; kk < 2 * sizeof engines / sizeof *engines; kk++) {
        size_t k = kk / 2;
        char   yaml[1024];
        snprintf(yaml, sizeof yaml,
                 "name: w\nworkload: {source: csv, path: %s}\nengine: {%s%s}\n"
                 "policy: %s\npredictor: {edges: [8, 16, 32, 64]}\n",
                 tpath, engines[k], kk % 2 ? ", check: true" : "", policies[k]);
        cfg_exp_t     *e;
        struct sim_msg err = {{0}};
        struct cfg     c;
        if (cfg_load_string(yaml, "w.yaml", &e, &err) || cfg_resolve(e, 0, &c, &err))
            TEST_FAIL_("%s\n%s", err.text, yaml);
        cfg_free(e);
        struct run *x = calloc(1, sizeof *x);
        ASSERT_TRUE(x != NULL);
        if (run_build(&c, ".", "", x, &err))
            TEST_FAIL_("%s", err.text);
        x->serve.kv.capacity_tok = 96;
        struct run_result res;
        int               rc = -1;
        uint64_t          n;
        for (n = 1; n < 100000 && rc; n++) {
            uint64_t live = sim_alloc_stats().live;
            sim_alloc_fail_after(n);
            rc = run_exec(x, NULL, NULL, NULL, &res, &err);
            sim_alloc_fail_after(0);
            if (sim_alloc_stats().live != live)
                TEST_FAIL_("engine %zu, allocation %llu: %llu allocations leaked", k,
                           (unsigned long long)n,
                           (unsigned long long)(sim_alloc_stats().live - live));
            if (rc && (rc != SIM_ENOMEM || !strstr(err.text, "out of memory")))
                TEST_FAIL_("engine %zu, allocation %llu failed: rc %d (%s), want SIM_ENOMEM", k,
                           (unsigned long long)n, rc, err.text);
        }
        ASSERT_EQ(rc, 0);
        ASSERT_TRUE(n > 10);
        ASSERT_EQ(res.sum.completed, 6);
        run_fini(x);
        free(x);
    }
}

int main(int argc, char **argv)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lensim-mut-sim-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    if (argc > 1 && !strcmp(argv[1], "--alloc-walk")) {
        RUN(runs_survive_every_allocation_failure);
    } else {
        RUN(compat_ssjf_averages_each_repetition);
        RUN(kv_check_names_what_disagrees);
        RUN(batching_choices_are_the_three_modes);
        RUN(summary_wasted_time_and_resume);
        RUN(calendar_width_from_one_gap);
        RUN(kv_blocks_refusal_names_the_sizes);
        RUN(calendar_check_counts_the_buckets);
        RUN(trace_prompts_are_not_clamped);
        RUN(timeline_kv_tokens_are_blocks_times_block_size);
        RUN(default_token_budget);
        RUN(mkdirs_names_the_folder_it_cannot_make);
        RUN(noisy_predictions_stay_in_range);
        RUN(swap_in_decodes_as_one_sequence);
        RUN(s3_largest_reservation_is_a_class_of_its_own);
        RUN(replay_file_with_a_header);
        RUN(vllm_v0_waits_for_blocks);
        RUN(manifest_names_the_run_and_its_memory);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) {
    }
    return test_main_end();
}
