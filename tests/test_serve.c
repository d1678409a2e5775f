/*
 * test_serve.c: the serving model against queueing theory, conservation laws and itself.
 *
 * - M/G/1: one replica, max batch 1, a perf model whose iteration takes exactly tau, so a request
 *   with L output tokens is served in S = L tau, and its TTFT, TPOT and E2EL follow exactly from
 *   its queueing delay. Poisson arrivals: the mean queueing delay must
 *   match Pollaczek-Khinchine, Wq = lambda E[S^2] / (2 (1 - rho)), with E[S], E[S^2] taken from the
 *   requests actually generated. Bound: 4 standard errors of the simulated mean (batch means over
 *   40 batches, which absorbs the autocorrelation of waiting times) plus 3 % for the error of the
 *   moment estimates.
 * - Conservation, under every batching mode, memory policy and scheduling policy, with every
 *   invariant checked after every event: each request finishes exactly once (ids in
 *   requests.csv), tokens generated per iteration sum to the requests' output lengths, KV use
 *   never exceeds capacity.
 * - Determinism: the same experiment and seed give byte-identical files; so do the calendar queue
 *   and the heap.
 * - The executor seam (exec.h): a stub executor that records its calls and answers with the model
 *   clock's figures gives the model clock's run, file for file; on every iteration the sequences
 *   the batch lists add up to the aggregates the model clock prices (count, summed decode
 *   context, prefill tokens and their squares), each listed once and holding KV memory. Cases:
 *   paged memory under recompute and swap preemption, predicted reservations that overflow,
 *   static batches with aging by service estimates, on a KV pool small enough that every
 *   preemption path runs.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cfg.h"
#include "exec.h"
#include "run.h"
#include "test.h"

static char tmpdir[256];

static void build(const char *yaml, struct run *x, const char **sets)
{
    cfg_exp_t     *e;
    struct sim_msg err = {{0}};
    int            rc = cfg_load_string(yaml, "test.yaml", &e, &err);
    if (rc)
        TEST_FAIL_("cfg_load_string: %s", err.text);
    for (; sets && *sets; sets++)
        if (cfg_add_set(e, *sets, &err))
            TEST_FAIL_("--set %s: %s", *sets, err.text);
    struct cfg c;
    if (cfg_resolve(e, 0, &c, &err))
        TEST_FAIL_("cfg_resolve: %s", err.text);
    if (run_build(&c, ".", "", x, &err))
        TEST_FAIL_("run_build: %s", err.text);
    cfg_free(e);
}

static void run(struct run *x, const char *sub, struct run_result *res)
{
    struct sim_msg err = {{0}};
    char           dir[512];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, sub);
    if (run_exec(x, sub ? dir : NULL, NULL, NULL, res, &err))
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

/* ---- M/G/1 ---- */

TEST(mg1_pollaczek_khinchine)
{
    const double tau = 1e-3; /* seconds per iteration, whatever the batch */
    const size_t n = 200000;
    /* E[L] for ln L ~ N(4, 0.5^2): about exp(4.125) = 61.9 tokens, so E[S] is about 62 ms. */
    double lambda = 0.7 / (tau * 61.9);
    char   yaml[1024];
    snprintf(yaml, sizeof yaml,
             "name: mg1\nseed: 7\nworkload: {requests: %zu, rate: %.9g, prompt_mu: 3, "
             "prompt_sigma: 0.2, output_mu: 4, output_sigma: 0.5, max_output_tokens: 400}\n"
             "engine: {max_batch: 1, max_seq_len: 4096, memory: oracle}\n"
             "outputs: {timeline_rows: 0}\n",
             n, lambda);
    struct run *x = sim_malloc(sizeof *x);
    build(yaml, x, NULL);
    struct cal_profile *p = &x->cost.prof; /* every iteration costs exactly tau */
    p->n_pieces = 1;
    memset(p->piece, 0, sizeof p->piece);
    p->piece[0].max_tokens = INFINITY;
    p->piece[0].coef[CAL_T_CONST] = tau;
    struct run_result res;
    run(x, "mg1", &res);
    ASSERT_EQ(res.sum.completed, n);

    /* Moments of S and the waiting times, in arrival order, from requests.csv. */
    char path[512];
    snprintf(path, sizeof path, "%s/mg1/requests.csv", tmpdir);
    FILE *f = fopen(path, "r");
    ASSERT_TRUE(f);
    char    line[512];
    double *w = calloc(n, sizeof *w), s1 = 0, s2 = 0;
    size_t  k = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long id;
        unsigned           rep, prompt, out, pred;
        double             arr, queue, ttft, tpot, e2el;
        if (sscanf(line, "%llu,%u,%lf,%u,%u,%u,%lf,%lf,%lf,%lf", &id, &rep, &arr, &prompt, &out,
                   &pred, &queue, &ttft, &tpot, &e2el) != 10)
            continue;
        ASSERT_TRUE(id < n);
        /* One request at a time, each iteration tau: the prefill iteration yields the first
         * token, each later one a token, so these hold exactly (to the 1 ns rounding). */
        ASSERT_NEAR(ttft, queue + tau, 1e-8);
        ASSERT_NEAR(e2el, queue + out * tau, 1e-8 * out);
        if (out > 1)
            ASSERT_NEAR(tpot, tau, 1e-8);
        w[id] = queue; /* ids are arrival order */
        double s = out * tau;
        s1 += s;
        s2 += s * s;
        k++;
    }
    fclose(f);
    ASSERT_EQ(k, n);
    double es = s1 / n, es2 = s2 / n, lam = lambda, rho = lam * es;
    double pk = lam * es2 / (2 * (1 - rho));
    /* Batch means: 40 batches after dropping the first 2 % (warm-up from an empty system). */
    size_t skip = n / 50, nb = 40, bs = (n - skip) / nb;
    double bm[40], mean = 0, var = 0;
    for (size_t b = 0; b < nb; b++) {
        double sum = 0;
        for (size_t i = 0; i < bs; i++)
            sum += w[skip + b * bs + i];
        bm[b] = sum / bs;
        mean += bm[b] / nb;
    }
    for (size_t b = 0; b < nb; b++)
        var += (bm[b] - mean) * (bm[b] - mean) / (nb - 1);
    double se = sqrt(var / nb);
    printf("    rho %.3f  E[S] %.4f s  PK Wq %.5f s  simulated %.5f s  SE %.5f s\n", rho, es, pk,
           mean, se);
    ASSERT_NEAR(mean, pk, 4 * se + 0.03 * pk);
    free(w);
    sim_free(x);
}

/* ---- conservation ---- */

static void conservation_case(const char **sets)
{
    static const char yaml[] = "name: cons\nseed: 3\n"
                               "workload: {requests: 600, rate: 30, max_prompt_tokens: 1500}\n"
                               "engine: {max_seq_len: 2048, check: true}\n"
                               "predictor: {name: noisy, sigma: 0.8}\n"
                               "outputs: {timeline_rows: 50}\n";
    struct run       *x = sim_malloc(sizeof *x);
    build(yaml, x, sets);
    /* A small KV pool, so that memory binds and preemption and overflow paths run. */
    x->serve.kv.capacity_tok = 60000;
    struct run_result res;
    run(x, "cons", &res);
    const struct met_summary *s = &res.sum;
    ASSERT_EQ(s->completed + s->failed, 600);
    ASSERT_EQ(res.stats.finished, s->completed);
    ASSERT_EQ(s->tokens_generated, s->total_output_tokens);
    ASSERT_TRUE(s->peak_kv_util <= 1.0);
    /* Each id exactly once. */
    char path[512], line[512];
    snprintf(path, sizeof path, "%s/cons/requests.csv", tmpdir);
    FILE *f = fopen(path, "r");
    ASSERT_TRUE(f);
    unsigned char seen[600] = {0};
    size_t        rows = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long id;
        if (line[0] == '#' || sscanf(line, "%llu,", &id) != 1)
            continue;
        ASSERT_TRUE(id < 600);
        ASSERT_EQ(seen[id], 0);
        seen[id] = 1;
        rows++;
    }
    fclose(f);
    ASSERT_EQ(rows, s->completed);
    sim_free(x);
}

TEST(conservation_everywhere)
{
    static const char *batching[] = {"continuous", "dynamic", "none"};
    static const char *memory[] = {"max", "predicted", "oracle", "paged"};
    static const char *policy[] = {"fcfs", "sjf", "ssjf", "s3"};
    for (int b = 0; b < 3; b++)
        for (int m = 0; m < 4; m++)
            for (int p = 0; p < 4; p++) {
                char sb[64], sm[64], sp[64];
                snprintf(sb, sizeof sb, "engine.batching=%s", batching[b]);
                snprintf(sm, sizeof sm, "engine.memory=%s", memory[m]);
                snprintf(sp, sizeof sp, "policy=%s", policy[p]);
                const char *sets[] = {sb,
                                      sm,
                                      sp,
                                      "engine.max_batch=32",
                                      m == 3 && p == 1 ? "engine.preemption=swap" : "seed=3",
                                      b == 1 ? "engine.max_wait_s=0.5" : "seed=3",
                                      NULL};
                printf("    %s %s %s\n", batching[b], memory[m], policy[p]);
                conservation_case(sets);
            }
}

/* ---- determinism ---- */

static void same_files(const char *a, const char *b)
{
    static const char *files[] = {"requests.csv", "timeline.csv", "summary.json"};
    for (int i = 0; i < 3; i++) {
        char   pa[512], pb[512];
        size_t na, nb;
        snprintf(pa, sizeof pa, "%s/%s/%s", tmpdir, a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s/%s", tmpdir, b, files[i]);
        char *x = slurp(pa, &na), *y = slurp(pb, &nb);
        ASSERT_TRUE(x && y);
        if (na != nb || memcmp(x, y, na))
            TEST_FAIL_("%s differs between %s and %s", files[i], a, b);
        free(x);
        free(y);
    }
}

TEST(determinism_same_seed_and_both_queues)
{
    static const char yaml[] =
        "name: det\nseed: 11\ncluster: {replicas: 3, router: least_outstanding}\n"
        "workload: {requests: 3000, rate: 12, arrival: gamma, cv: 3}\n"
        "engine: {memory: paged, max_seq_len: 4096}\npolicy: {name: ssjf, aging_s: 20}\n"
        "predictor: {name: noisy}\n";
    const char       *heap[] = {"engine.queue=heap", NULL};
    struct run       *x = sim_malloc(sizeof *x);
    struct run_result r1, r2, r3;
    build(yaml, x, NULL);
    run(x, "det1", &r1);
    build(yaml, x, NULL);
    run(x, "det2", &r2);
    build(yaml, x, heap);
    run(x, "det3", &r3);
    same_files("det1", "det2");
    same_files("det1", "det3");
    /* And a different seed really is different. */
    const char *seed[] = {"seed=12", NULL};
    build(yaml, x, seed);
    run(x, "det4", &r3);
    size_t na, nb;
    char   pa[512], pb[512];
    snprintf(pa, sizeof pa, "%s/det1/summary.json", tmpdir);
    snprintf(pb, sizeof pb, "%s/det4/summary.json", tmpdir);
    char *a = slurp(pa, &na), *b = slurp(pb, &nb);
    ASSERT_TRUE(a && b && (na != nb || memcmp(a, b, na)));
    free(a);
    free(b);
    sim_free(x);
}

/* ---- the executor seam ---- */

enum { MAX_SEQS = 4096 };

struct stub {
    struct exec model;
    uint64_t    n_iter, n_recompute, n_swap, n_decode;
    uint64_t    n_listed;
    char        why[256]; /* first disagreement, or empty */
    /* One listing. */
    uint64_t ids[MAX_SEQS];
    uint32_t n, n_decode_seqs;
    double   ctx_sum, pf_tok, pf_sq;
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
    if (s->n == MAX_SEQS) {
        s->bad = 1;
        return;
    }
    s->ids[s->n++] = q->id;
    if (q->kv_blk == 0 || q->new_tok == 0 || q->ctx_tok == 0)
        s->bad = 1;
    if (q->kind == EXEC_SEQ_DECODE) {
        s->n_decode_seqs++;
        s->ctx_sum += q->ctx_tok;
        if (q->new_tok != 1)
            s->bad = 1;
    } else {
        s->pf_tok += q->new_tok;
        s->pf_sq += (double)q->new_tok * q->new_tok;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int stub_iter_ns(void *self, const struct exec_batch *b, simtime_t *ns, struct sim_msg *why)
{
    struct stub *s = self;
    s->n_iter++;
    s->n = s->n_decode_seqs = 0;
    s->ctx_sum = s->pf_tok = s->pf_sq = 0;
    s->bad = 0;
    exec_batch_list(b, visit, s);
    s->n_listed += s->n;
    qsort(s->ids, s->n, sizeof *s->ids, cmp_u64);
    for (uint32_t i = 1; i < s->n; i++)
        if (s->ids[i] == s->ids[i - 1])
            disagree(s, "a sequence listed twice");
    if (s->bad)
        disagree(s, "a sequence with no memory, no context or a multi-token decode");
    if (s->n != b->n_seqs)
        disagree(s, "listed count differs from n_seqs");
    if (s->n_decode_seqs != b->agg.decode_seqs)
        disagree(s, "decode count differs");
    if (s->ctx_sum != b->agg.decode_ctx)
        disagree(s, "summed decode context differs");
    if (s->pf_tok != b->agg.prefill_tok || s->pf_sq != b->agg.prefill_sq)
        disagree(s, "prefill tokens or squares differ");
    return s->model.ops->iter_ns(s->model.self, b, ns, why);
}

static double stub_recompute_s(void *self, double tok)
{
    struct stub *s = self;
    s->n_recompute++;
    return s->model.ops->recompute_s(s->model.self, tok);
}

static double stub_swap_s(void *self, double tok)
{
    struct stub *s = self;
    s->n_swap++;
    return s->model.ops->swap_s(s->model.self, tok);
}

static double stub_decode_s(void *self, double ctx_tok)
{
    struct stub *s = self;
    s->n_decode++;
    return s->model.ops->decode_s(s->model.self, ctx_tok);
}

/* leave: NULL, the stub keeps nothing per sequence; predict_ns: NULL, predictor.cost_s is
 * charged (issue 11) */
static const struct exec_ops stub_ops = {
    "stub", stub_iter_ns, stub_recompute_s, stub_swap_s, stub_decode_s, NULL, NULL};

/* Run the case with the model clock, then with the stub; return the stub's record. */
static struct stub *model_vs_stub(const char *name, const char **sets)
{
    static const char yaml[] = "name: seam\nseed: 5\n"
                               "workload: {requests: 800, rate: 40, max_prompt_tokens: 1500}\n"
                               "engine: {max_seq_len: 2048, max_batch: 48, check: true}\n"
                               "predictor: {name: noisy, sigma: 0.8}\n"
                               "outputs: {timeline_rows: 100}\n";
    char              model_dir[128], stub_dir[128];
    snprintf(model_dir, sizeof model_dir, "%s-model", name);
    snprintf(stub_dir, sizeof stub_dir, "%s-stub", name);
    struct run       *x = sim_malloc(sizeof *x);
    struct run_result res;
    build(yaml, x, sets);
    x->serve.kv.capacity_tok = 40000; /* memory binds: preemption and overflow paths run */
    run(x, model_dir, &res);
    build(yaml, x, sets);
    x->serve.kv.capacity_tok = 40000;
    struct stub *s = sim_calloc(1, sizeof *s);
    s->model = exec_model(&x->cost);
    struct exec ex = {&stub_ops, s};
    x->serve.exec = &ex;
    run(x, stub_dir, &res);
    sim_free(x);
    if (s->why[0])
        TEST_FAIL_("%s: %s", name, s->why);
    ASSERT_TRUE(s->n_iter > 0 && s->n_listed >= s->n_iter);
    same_files(model_dir, stub_dir);
    return s;
}

TEST(exec_seam_paged_recompute)
{
    const char  *sets[] = {"engine.memory=paged", NULL};
    struct stub *s = model_vs_stub("paged-recompute", sets);
    ASSERT_TRUE(s->n_recompute > 0); /* memory pressure preempted someone */
    sim_free(s);
}

TEST(exec_seam_paged_swap)
{
    const char  *sets[] = {"engine.memory=paged", "engine.preemption=swap", NULL};
    struct stub *s = model_vs_stub("paged-swap", sets);
    ASSERT_TRUE(s->n_swap > 0);
    sim_free(s);
}

TEST(exec_seam_predicted_overflow)
{
    const char  *sets[] = {"engine.memory=predicted", "policy=s3", NULL};
    struct stub *s = model_vs_stub("predicted", sets);
    ASSERT_TRUE(s->n_recompute > 0); /* a reservation was outgrown */
    sim_free(s);
}

TEST(exec_seam_static_batches_with_aging)
{
    const char  *sets[] = {"engine.batching=dynamic", "engine.max_wait_s=0.5", "policy=ssjf",
                           "policy.aging_factor=3", NULL};
    struct stub *s = model_vs_stub("static", sets);
    ASSERT_TRUE(s->n_decode > 0); /* aging asked for service estimates */
    sim_free(s);
}

/* Throughput and latency respond to load the right way: more replicas, lower queueing delay. */
TEST(more_replicas_less_queueing)
{
    static const char yaml[] = "name: scale\nworkload: {requests: 2000, rate: 8}\n"
                               "engine: {memory: paged, max_seq_len: 4096}\n";
    const char       *two[] = {"cluster.replicas=2", NULL};
    struct run       *x = sim_malloc(sizeof *x);
    struct run_result one, dual;
    build(yaml, x, NULL);
    run(x, NULL, &one);
    build(yaml, x, two);
    run(x, NULL, &dual);
    ASSERT_TRUE(dual.sum.queue.mean < one.sum.queue.mean);
    ASSERT_TRUE(dual.sum.e2el.mean < one.sum.e2el.mean);
    sim_free(x);
}

/* ---- simulated time has a limit (SIM_T_MAX): passing it is an error, never an abort ---- */

/* Run x with outputs, expecting error `code` whose message contains `what`. */
static void run_fails(struct run *x, const char *sub, int code, const char *what)
{
    struct sim_msg    err = {{0}};
    struct run_result res;
    char              dir[512];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, sub);
    int rc = run_exec(x, dir, NULL, NULL, &res, &err);
    if (rc != code)
        TEST_FAIL_("%s: expected %d, got %d (%s)", sub, code, rc, err.text);
    ASSERT_STR_CONTAINS(err.text, what);
    printf("    %s: %s\n", sub, err.text);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f);
    fputs(text, f);
    ASSERT_EQ(fclose(f), 0);
}

/* One piece, every iteration costs `const_s` plus `ctx_s` per token of decode context. */
static void flat_profile(struct run *x, double const_s, double ctx_s)
{
    struct cal_profile *p = &x->cost.prof;
    p->n_pieces = 1;
    memset(p->piece, 0, sizeof p->piece);
    p->piece[0].max_tokens = INFINITY;
    p->piece[0].coef[CAL_T_CONST] = const_s;
    p->piece[0].coef[CAL_T_DECODE_CTX] = ctx_s;
}

TEST(time_past_the_limit_is_an_error)
{
    char late[512], yaml[1024];
    snprintf(late, sizeof late, "%s/late.csv", tmpdir);
    write_text(late, "arrival_s,prompt_tokens,output_tokens\n0,100,10\n4611686018.4,100,10\n");
    snprintf(yaml, sizeof yaml, "name: t\nworkload: {source: csv, path: '%s'}\n", late);
    struct run *x = sim_malloc(sizeof *x);
    build(yaml, x, NULL); /* the case: it arrives in time, its prefill ends too late */
    run_fails(x, "late-iteration", SIM_ECONFIG, "time limit");
    write_text(late, "arrival_s,prompt_tokens,output_tokens\n0,100,10\n4611686020,100,10\n");
    build(yaml, x, NULL);
    run_fails(x, "late-arrival", SIM_EINPUT, "146 years"); /* the reader refuses it */

    /* Predictions served one at a time push the last one past the limit. */
    char edge[512];
    snprintf(edge, sizeof edge, "%s/edge.csv", tmpdir);
    write_text(edge, "arrival_s,prompt_tokens,output_tokens\n0,100,10\n4611685000,100,10\n"
                     "4611685000,100,10\n");
    snprintf(yaml, sizeof yaml, "name: t\nworkload: {source: csv, path: '%s'}\n", edge);
    const char *cost[] = {"predictor.cost_s=1000", NULL};
    build(yaml, x, cost);
    run_fails(x, "predictor-cost", SIM_ECONFIG, "predictor.cost_s");

    /* Swapping over a link of 1e-300 GB/s takes forever. */
    static const char swap[] = "name: t\nseed: 3\nworkload: {requests: 200, rate: 50}\n"
                               "engine: {memory: paged, preemption: swap, max_seq_len: 2048}\n"
                               "hardware: {host_bw_gbps: 1e-300}\n";
    build(swap, x, NULL);
    x->serve.kv.capacity_tok = 6000;
    run_fails(x, "swap-forever", SIM_ECONFIG, "host_bw_gbps");

    /* Iterations of 1e9 s (the clock passes the limit after a few), 1e10 s (one does not fit
     * in the clock) and forever. */
    static const char small[] = "name: t\nworkload: {requests: 20, rate: 1}\n";
    const double      huge[] = {1e9, 1e10, INFINITY};
    for (int i = 0; i < 3; i++) {
        char sub[64];
        snprintf(sub, sizeof sub, "const-%g", huge[i]);
        build(small, x, NULL);
        flat_profile(x, huge[i], 0);
        run_fails(x, sub, SIM_ECONFIG, "time limit");
    }
    build(small, x, NULL);
    flat_profile(x, NAN, 0);
    run_fails(x, "const-nan", SIM_ECONFIG, "not a number");
    sim_free(x);
}

/* A latency that goes negative is an error of the run, never clamped to 1 ns. */
TEST(negative_iteration_time_is_an_error)
{
    static const char small[] = "name: t\nworkload: {requests: 200, rate: 5}\n";
    struct run       *x = sim_malloc(sizeof *x);
    build(small, x, NULL);
    flat_profile(x, 1e-3, -2e-6); /* negative past 500 tokens of decode context */
    run_fails(x, "negative", SIM_ECONFIG, "not positive");
    build(small, x, NULL);
    flat_profile(x, 0, 0);
    run_fails(x, "zero", SIM_ECONFIG, "not positive");
    sim_free(x);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lensim-test-serve-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(mg1_pollaczek_khinchine);
    RUN(conservation_everywhere);
    RUN(determinism_same_seed_and_both_queues);
    RUN(more_replicas_less_queueing);
    RUN(exec_seam_paged_recompute);
    RUN(exec_seam_paged_swap);
    RUN(exec_seam_predicted_overflow);
    RUN(exec_seam_static_batches_with_aging);
    RUN(time_past_the_limit_is_an_error);
    RUN(negative_iteration_time_is_an_error);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd))
        return 1;
    return test_main_end();
}
