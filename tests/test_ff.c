/*
 * test_ff.c: exact fast-forward (issue 13, item 5; sim/ff.h, engine.fast_forward).
 *
 * - Differential: random experiments over every batching mode and scheduling rule (mixed,
 *   dynamic, none, vllm_v0, sarathi, vllm_v1), memory policy (max, predicted, oracle, paged),
 *   scheduling policy (fcfs, sjf, ssjf, s3) with and without aging, preemption by recompute and
 *   swap, KV pools small enough to preempt often, predictors with a cost (READY events), one to
 *   three replicas, Poisson, bursty and all-at-once arrivals, small timelines (their halving),
 *   both event queues: each run twice, engine.fast_forward auto and off (half the cases with
 *   no back-off: every boundary tried). requests.csv, timeline.csv and summary.json must be
 *   byte-identical, and so must the in-memory summary (every bit) and every counter of the
 *   run (the skipped events are counted). The reference is the step-by-step run (off), which
 *   is what lensim did before fast-forward existed (tools/same_outputs.sh checks that too).
 *   The test also requires that fast-forward engaged in most cases, on several replicas in
 *   some, and that a quarter preempted, so that it cannot pass by never skipping anything.
 * - A boundary at the very time of a pending arrival (1-ms iterations, arrival at 20 ms): the
 *   arrival goes first, as step by step; request 2's times checked by hand.
 * - An iteration past the clock's limit in the middle of a decode run: the same error, code
 *   and message.
 * - Engagement, by hand: one request of N output tokens alone on a replica with max-length
 *   reservations: a prefill iteration, then N - 1 decode iterations during which nothing can
 *   happen until the last token: the boundaries of decode iterations 1 .. N - 2 (N - 2 of them)
 *   are skipped, in one jump, and the run still counts 1 arrival + N iteration events.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cfg.h"
#include "ff.h"
#include "run.h"
#include "test.h"

static char tmpdir[256];

static int build(const char *yaml, struct run *x, const char **sets, struct sim_msg *err)
{
    cfg_exp_t *e;
    int        rc = cfg_load_string(yaml, "test.yaml", &e, err);
    if (rc)
        return rc;
    for (; sets && *sets && !rc; sets++)
        rc = cfg_add_set(e, *sets, err);
    struct cfg c;
    if (!rc)
        rc = cfg_resolve(e, 0, &c, err);
    cfg_free(e);
    if (rc)
        return rc;
    rc = run_build(&c, ".", "", x, err);
    if (rc)
        run_fini(x);
    return rc;
}

static void run_to(struct run *x, const char *sub, struct run_result *res)
{
    struct sim_msg err = {{0}};
    char           dir[512];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, sub);
    int rc = run_exec(x, dir, NULL, NULL, res, &err);
    run_fini(x);
    if (rc)
        TEST_FAIL_("run_exec: %s", err.text);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        fclose(f);
        return NULL;
    }
    b[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void same_files(const char *a, const char *b, const char *what)
{
    static const char *files[] = {"requests.csv", "timeline.csv", "summary.json"};
    for (int i = 0; i < 3; i++) {
        char   pa[512], pb[512];
        size_t na = 0, nb = 0;
        snprintf(pa, sizeof pa, "%s/%s/%s", tmpdir, a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s/%s", tmpdir, b, files[i]);
        char *x = slurp(pa, &na), *y = slurp(pb, &nb);
        if (!x || !y)
            TEST_FAIL_("%s: %s missing", what, files[i]);
        int differ = na != nb || memcmp(x, y, na);
        free(x);
        free(y);
        if (differ)
            TEST_FAIL_("%s: %s differs with fast-forward (%s vs %s)", what, files[i], pa, pb);
    }
}

/* splitmix64: the cases' own generator (independent of the simulator's streams). */
static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

#define PICK(s, arr) (arr)[rnd(s) % (sizeof(arr) / sizeof *(arr))]

enum { N_CASES = 72 };

/* Case i: an experiment drawn from the settings above. Returns the YAML in buf. */
static void draw_case(uint64_t *s, int i, char *buf, size_t n)
{
    static const char *rules[] = {"mixed", "dynamic", "none", "vllm_v0", "sarathi", "vllm_v1"};
    static const char *mems[] = {"max", "predicted", "oracle", "paged"};
    static const char *pols[] = {"fcfs", "sjf", "ssjf", "s3"};
    static const char *arrs[] = {"poisson", "gamma", "batch"};
    static const char *utils[] = {"0.19", "0.2", "0.22", "0.3", "0.9"};
    static const char *batches[] = {"4", "16", "64", "256"};
    static const char *rows[] = {"0", "7", "50", "2000"};
    const char        *rule = rules[i % 6]; /* every rule as often */
    int                step = i % 6 >= 3;
    const char        *mem = step ? "paged" : PICK(s, mems);
    const char        *pol = PICK(s, pols);
    const char        *arr = PICK(s, arrs);
    int                replicas = rnd(s) % 4 == 0 ? 2 + (int)(rnd(s) % 2) : 1;
    double             rate = 0.5 + (double)(rnd(s) % 200) / 10;
    double             out_mu = 4.5 + (double)(rnd(s) % 20) / 10; /* median 90 .. 600 tokens */
    int                aging = rnd(s) % 4 == 0;
    int                swap = !step && rnd(s) % 3 == 0;
    int                noisy = rnd(s) % 2;
    int                cost = rnd(s) % 4 == 0;
    int                requests = 100 + (int)(rnd(s) % 200);
    int                blocks = step && rnd(s) % 2 ? 60 + (int)(rnd(s) % 400) : 0;
    char               eng[512];
    int                k = snprintf(eng, sizeof eng,
                                    "engine: {memory: %s, max_seq_len: 2048, "
                                                   "max_batch: %s, preemption: %s",
                                    mem, PICK(s, batches), swap ? "swap" : "recompute");
    if (step)
        k += snprintf(eng + k, sizeof eng - (size_t)k, ", scheduler: %s", rule);
    else
        k += snprintf(eng + k, sizeof eng - (size_t)k, ", batching: %s",
                      !strcmp(rule, "mixed") ? "continuous" : rule);
    if (!strcmp(rule, "dynamic") && rnd(s) % 2)
        k += snprintf(eng + k, sizeof eng - (size_t)k, ", max_wait_s: 0.5");
    if (blocks)
        k += snprintf(eng + k, sizeof eng - (size_t)k, ", kv_blocks: %d", blocks);
    if (rnd(s) % 4 == 0) /* the horizon read from either event queue */
        k += snprintf(eng + k, sizeof eng - (size_t)k, ", queue: heap");
    snprintf(eng + k, sizeof eng - (size_t)k, "}");
    snprintf(buf, n,
             "name: ff%d\nseed: %llu\nmodel: llama-2-7b\n"
             "hardware: {gpu: a100-80gb, mem_util: %s}\n"
             "cluster: {replicas: %d, router: %s}\n"
             "workload: {requests: %d, rate: %g, arrival: %s, cv: 3, output_mu: %g, "
             "max_prompt_tokens: 1500, max_output_tokens: 2000}\n"
             "%s\npolicy: {name: %s, aging_s: %s}\n"
             "predictor: {name: %s, cost_s: %s}\n"
             "outputs: {timeline_rows: %s}\n",
             i, (unsigned long long)(rnd(s) % 1000), blocks ? "0.9" : PICK(s, utils), replicas,
             rnd(s) % 2 ? "random" : "least_outstanding", requests, rate, arr, out_mu, eng, pol,
             aging ? "3" : "0", noisy ? "noisy" : "oracle", cost ? "0.02" : "0", PICK(s, rows));
}

TEST(fast_forward_changes_no_output)
{
    static const char *off[] = {"engine.fast_forward=off", NULL};
    struct run        *x = sim_malloc(sizeof *x);
    uint64_t           seed = 13, ff_iters = 0, iters = 0, jumps = 0;
    int                engaged = 0, ran = 0, preempted = 0, multi = 0;
    char               yaml[2048];
    for (int i = 0; i < N_CASES; i++) {
        struct run_result a, b;
        struct sim_msg    err = {{0}};
        char              sa[32], sb[32];
        draw_case(&seed, i, yaml, sizeof yaml);
        if (build(yaml, x, NULL, &err)) { /* a combination the settings refuse */
            if (!strstr(err.text, "engine.") && !strstr(err.text, "hardware."))
                TEST_FAIL_("case %d refused for an unexpected reason: %s\n%s", i, err.text, yaml);
            continue;
        }
        snprintf(sa, sizeof sa, "ff%d-on", i);
        snprintf(sb, sizeof sb, "ff%d-off", i);
        /* Odd cases try every boundary (no back-off: the most jumps, between other replicas'
         * events too), even ones back off as lensim does. */
        ff_backoff_max = i % 2 ? 0 : 255;
        run_to(x, sa, &a);
        ff_backoff_max = 255;
        if (build(yaml, x, off, &err))
            TEST_FAIL_("case %d with fast_forward off: %s", i, err.text);
        run_to(x, sb, &b);
        same_files(sa, sb, yaml);
        /* The in-memory summary at full precision (it holds more than summary.json prints,
         * e.g. tokens_generated, counted per iteration), and every counter of the run, the
         * events skipped included. */
        if (memcmp(&a.sum, &b.sum, sizeof a.sum))
            TEST_FAIL_("the summaries differ in memory:\n%s", yaml);
        ASSERT_EQ(a.stats.events, b.stats.events);
        ASSERT_EQ(a.stats.finished, b.stats.finished);
        ASSERT_EQ(a.stats.failed, b.stats.failed);
        ASSERT_EQ(a.stats.last_event_ns, b.stats.last_event_ns);
        ASSERT_EQ(a.stats.aging_overrides, b.stats.aging_overrides);
        ASSERT_EQ(b.stats.ff_iters, 0);
        ASSERT_TRUE(a.stats.ff_iters < a.stats.events);
        ran++;
        engaged += a.stats.ff_iters > 0;
        preempted += a.sum.preemptions > 0;
        multi += a.stats.ff_iters > 0 && strstr(yaml, "replicas: 1,") == NULL;
        ff_iters += a.stats.ff_iters;
        jumps += a.stats.ff_jumps;
        iters += a.stats.events;
    }
    sim_free(x);
    printf("     %d cases run (%d with preemptions), fast-forward engaged in %d (%d of them on "
           "several replicas); %llu of %llu events skipped in %llu jumps (mean %.1f iterations "
           "per jump)\n",
           ran, preempted, engaged, multi, (unsigned long long)ff_iters, (unsigned long long)iters,
           (unsigned long long)jumps, jumps ? (double)ff_iters / (double)jumps : 0.0);
    ASSERT_TRUE(ran >= N_CASES * 3 / 4);
    ASSERT_TRUE(engaged >= ran / 2); /* the comparison is not vacuous */
    ASSERT_TRUE(preempted >= ran / 4 && multi >= 3);
}

TEST(lone_request_skips_its_decode_boundaries)
{
    static const char yaml[] =
        "name: lone\nmodel: llama-2-7b\nhardware: {gpu: a100-80gb}\n"
        "workload: {requests: 1, arrival: batch, max_prompt_tokens: 100, "
        "output_mu: 6, output_sigma: 0}\n"
        "engine: {memory: max, max_seq_len: 2048}\noutputs: {timeline_rows: 0}\n";
    /* output_sigma 0: ln(out) = 6 exactly, out = round(e^6) = 403 tokens. */
    const uint64_t     n_out = 403;
    static const char *off[] = {"engine.fast_forward=off", NULL};
    struct run        *x = sim_malloc(sizeof *x);
    struct run_result  a, b;
    struct sim_msg     err = {{0}};
    if (build(yaml, x, NULL, &err))
        TEST_FAIL_("%s", err.text);
    uint64_t h_on = cfg_hash(&x->cfg);
    run_to(x, "lone-on", &a);
    if (build(yaml, x, off, &err))
        TEST_FAIL_("%s", err.text);
    uint64_t h_off = cfg_hash(&x->cfg);
    run_to(x, "lone-off", &b);
    ASSERT_TRUE(h_on == h_off); /* the key is not a result: both runs are the same experiment */
    sim_free(x);
    same_files("lone-on", "lone-off", yaml);
    ASSERT_EQ(b.stats.events, 1 + n_out); /* the arrival, one event per iteration */
    ASSERT_EQ(a.stats.events, 1 + n_out);
    ASSERT_EQ(a.stats.ff_iters, n_out - 2);
    ASSERT_EQ(a.stats.ff_jumps, 1);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f);
    fputs(text, f);
    ASSERT_EQ(fclose(f), 0);
}

/* One piece: every iteration costs const_s plus ctx_s per token of decode context. */
static void flat_profile(struct run *x, double const_s, double ctx_s)
{
    struct cal_profile *p = &x->cost.prof;
    p->n_pieces = 1;
    memset(p->piece, 0, sizeof p->piece);
    p->piece[0].max_tokens = INFINITY;
    p->piece[0].coef[CAL_T_CONST] = const_s;
    p->piece[0].coef[CAL_T_DECODE_CTX] = ctx_s;
}

/* Iterations of exactly 1 ms; request 1 arrives at 0 (50 output tokens), request 2 at exactly
 * 20 ms, the end of iteration 19 (iteration 0 is the prefill). The arrival was scheduled first,
 * so step by step it is dispatched before that boundary's event, and the boundary admits it:
 * fast-forward must stop short of a boundary at the very time of a pending event (a jump past
 * it would admit request 2 one iteration late). */
TEST(boundary_at_the_time_of_an_arrival)
{
    char csv[512], yaml[1024];
    snprintf(csv, sizeof csv, "%s/tie.csv", tmpdir);
    write_text(csv, "arrival_s,prompt_tokens,output_tokens\n0,100,50\n0.020,100,10\n");
    snprintf(yaml, sizeof yaml,
             "name: tie\nworkload: {source: csv, path: '%s'}\n"
             "engine: {memory: max, max_seq_len: 2048}\n",
             csv);
    static const char *off[] = {"engine.fast_forward=off", NULL};
    struct run        *x = sim_malloc(sizeof *x);
    struct run_result  a, b;
    struct sim_msg     err = {{0}};
    if (build(yaml, x, NULL, &err))
        TEST_FAIL_("%s", err.text);
    flat_profile(x, 1e-3, 0);
    run_to(x, "tie-on", &a);
    if (build(yaml, x, off, &err))
        TEST_FAIL_("%s", err.text);
    flat_profile(x, 1e-3, 0);
    run_to(x, "tie-off", &b);
    sim_free(x);
    same_files("tie-on", "tie-off", yaml);
    /* By hand: request 2 is admitted at 20 ms, its first token at 21 ms. */
    char   path[512];
    size_t n;
    snprintf(path, sizeof path, "%s/tie-off/requests.csv", tmpdir);
    char *t = slurp(path, &n);
    ASSERT_TRUE(t);
    int on_time = strstr(t, "\n1,0,0.020000000,100,10,10,0.000000000,0.001000000,") != NULL;
    free(t);
    ASSERT_TRUE(on_time); /* no queueing, first token one 1-ms iteration later */
    ASSERT_TRUE(a.stats.ff_iters > 0);
    ASSERT_EQ(a.stats.events, b.stats.events);
}

/* An iteration that cannot be timed (past the clock's limit) fails the run with the same code
 * and message, fast-forward or not (the jump stops; the boundary's own event reports it). */
TEST(errors_are_the_same)
{
    /* One request of 400 output tokens; iterations of 1e9, 1e8 and 2e7 s reach the limit
     * (2^62 ns, 4.6e9 s) after about 4, 46 and 230 iterations: all in
     * the middle of a decode run that fast-forward would jump. */
    static const char *off[] = {"engine.fast_forward=off", NULL};
    const double       slow[] = {1e9, 1e8, 2e7};
    char               csv[512], yaml[1024];
    snprintf(csv, sizeof csv, "%s/one.csv", tmpdir);
    write_text(csv, "arrival_s,prompt_tokens,output_tokens\n0,100,400\n");
    snprintf(yaml, sizeof yaml, "name: t\nworkload: {source: csv, path: '%s'}\n", csv);
    for (int i = 0; i < 3; i++) {
        struct run       *x = sim_malloc(sizeof *x);
        struct run_result r;
        struct sim_msg    e1 = {{0}}, e2 = {{0}};
        char              d1[512], d2[512];
        snprintf(d1, sizeof d1, "%s/slow-on-%d", tmpdir, i);
        snprintf(d2, sizeof d2, "%s/slow-off-%d", tmpdir, i);
        if (build(yaml, x, NULL, &e1))
            TEST_FAIL_("%s", e1.text);
        flat_profile(x, slow[i], 0);
        int rc1 = run_exec(x, d1, NULL, NULL, &r, &e1);
        run_fini(x);
        if (build(yaml, x, off, &e2))
            TEST_FAIL_("%s", e2.text);
        flat_profile(x, slow[i], 0);
        int rc2 = run_exec(x, d2, NULL, NULL, &r, &e2);
        run_fini(x);
        sim_free(x);
        ASSERT_EQ(rc1, SIM_ECONFIG);
        ASSERT_EQ(rc1, rc2);
        ASSERT_STR_CONTAINS(e1.text, "time limit");
        if (strcmp(e1.text, e2.text))
            TEST_FAIL_("messages differ:\n  %s\n  %s", e1.text, e2.text);
    }
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lensim-test-ff-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(lone_request_skips_its_decode_boundaries);
    RUN(boundary_at_the_time_of_an_arrival);
    RUN(errors_are_the_same);
    RUN(fast_forward_changes_no_output);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd))
        return 1;
    return test_main_end();
}
