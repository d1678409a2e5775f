/*
 * test_kv.c: the KV memory manager never asks for more than the pool can ever hold.
 *
 * - The reported case (issue 15, defect 2): predicted reservations on a pool smaller than
 *   max_seq_len (A100-40GB at mem_util 0.34: about 2,149 tokens of KV, max_seq_len 4096), one
 *   request of 1,900 + 50 tokens. Its bucket's upper edge takes its reservation past the pool;
 *   it used to wait forever and the replica aborted. It must complete, its reservation clamped
 *   to the pool, and the clamp counted.
 * - A property over random small runs (capacity, max_seq_len, memory policy, batching,
 *   scheduling policy, preemption, overflow, lengths and bucket edges), every invariant checked
 *   after every event: no run aborts, every request completes or fails (completed + failed =
 *   arrived), and every request that completes could have run alone (prompt + output within
 *   max_seq_len and within what its policy can ever reserve on the pool).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cfg.h"
#include "rng.h"
#include "run.h"
#include "test.h"

static char tmpdir[256];

/* Resolve an experiment into x. Returns 0 or the error (with its reason in err). */
static int build(const char *yaml, struct run *x, struct sim_msg *err)
{
    cfg_exp_t *e;
    int        rc = cfg_load_string(yaml, "test.yaml", &e, err);
    if (rc)
        return rc;
    struct cfg c;
    rc = cfg_resolve(e, 0, &c, err);
    if (!rc)
        rc = run_build(&c, ".", "", x, err);
    cfg_free(e);
    return rc;
}

static void write_trace(const char *path, const uint32_t (*rows)[3], size_t n)
{
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f);
    fprintf(f, "arrival_s,prompt_tokens,output_tokens\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%.3f,%u,%u\n", rows[i][0] / 1000.0, rows[i][1], rows[i][2]);
    ASSERT_EQ(fclose(f), 0);
}

TEST(predicted_reservation_beyond_capacity)
{
    char trace[300], yaml[1024];
    snprintf(trace, sizeof trace, "%s/one.csv", tmpdir);
    const uint32_t rows[][3] = {{0, 1900, 50}};
    write_trace(trace, rows, 1);
    snprintf(yaml, sizeof yaml,
             "name: d2\nhardware: {gpu: a100-40gb, mem_util: 0.34}\n"
             "engine: {memory: predicted, max_seq_len: 4096, check: true}\n"
             "workload: {source: csv, path: '%s'}\noutputs: {timeline_rows: 0}\n",
             trace);
    struct run    *x = sim_malloc(sizeof *x);
    struct sim_msg err = {{0}};
    if (build(yaml, x, &err))
        TEST_FAIL_("build: %s", err.text);
    ASSERT_TRUE(x->serve.kv.capacity_tok < 1900 + 410); /* the bucket edge (410) overshoots */
    ASSERT_TRUE(x->serve.kv.capacity_tok >= 1950);      /* but the request fits */
    struct run_result res;
    if (run_exec(x, NULL, NULL, NULL, &res, &err))
        TEST_FAIL_("run_exec: %s", err.text);
    ASSERT_EQ(res.sum.completed, 1);
    ASSERT_EQ(res.sum.failed, 0);
    ASSERT_EQ(res.stats.clamped, 1);
    ASSERT_EQ(res.sum.kv_clamped, 1); /* issue 12: and the summary reports it */
    sim_free(x);
}

/* ---- the property ---- */

static const char *const memory[] = {"max", "predicted", "oracle", "paged"};
static const char *const batching[] = {"continuous", "dynamic", "none"};
static const char *const policy[] = {"fcfs", "sjf", "ssjf", "s3"};

struct prop_case {
    uint32_t    max_seq, cap_tok, block, n;
    int         mem;
    double      watermark;
    uint32_t    rows[64][3];
    char        yaml[2048];
    const char *why;
};

static uint32_t uniform(rng_t *g, uint32_t lo, uint32_t hi)
{
    return lo + (uint32_t)gsl_rng_uniform_int(g, hi - lo + 1);
}

static void make_case(rng_t *g, int k, struct prop_case *c)
{
    c->max_seq = uniform(g, 16, 3000);
    c->mem = (int)uniform(g, 0, 3);
    /* Often below max_seq_len, sometimes far below a request. */
    c->cap_tok = uniform(g, 8, 2 * c->max_seq);
    c->block = (uint32_t[]){1, 4, 16, 64}[uniform(g, 0, 3)];
    c->watermark = (double[]){0, 0.01, 0.2}[uniform(g, 0, 2)];
    c->n = uniform(g, 1, 64);
    uint32_t t = 0, top = c->max_seq + c->max_seq / 4;
    for (uint32_t i = 0; i < c->n; i++) {
        t += uniform(g, 0, 300);
        c->rows[i][0] = t;
        c->rows[i][1] = uniform(g, 1, uniform(g, 1, top));
        c->rows[i][2] = uniform(g, 1, uniform(g, 1, top));
    }
    char edges[400] = "";
    if (uniform(g, 0, 1)) { /* explicit edges, some past max_seq_len */
        uint32_t e = 0, m = uniform(g, 1, 8);
        size_t   len = 0;
        for (uint32_t i = 0; i < m; i++) {
            e += uniform(g, 1, c->max_seq / 2 + 1);
            len += (size_t)snprintf(edges + len, sizeof edges - len, "%s%u", i ? "," : "", e);
        }
    }
    char trace[300];
    snprintf(trace, sizeof trace, "%s/prop%d.csv", tmpdir, k);
    write_trace(trace, (const uint32_t(*)[3])c->rows, c->n);
    int noisy = (int)uniform(g, 0, 1);
    snprintf(c->yaml, sizeof c->yaml,
             "name: prop\nseed: %d\n"
             "workload: {source: csv, path: '%s'}\n"
             "engine: {memory: %s, max_seq_len: %u, batching: %s, max_batch: %u, "
             "max_wait_s: %g, block_size: %u, watermark: %g, preemption: %s, overflow: %s, "
             "check: true}\n"
             "policy: {name: %s}\n"
             "predictor: {name: %s, sigma: 1.0, buckets: %u%s%s%s}\n"
             "outputs: {timeline_rows: 10}\n",
             k, trace, memory[c->mem], c->max_seq, batching[uniform(g, 0, 2)], uniform(g, 1, 16),
             uniform(g, 0, 1) * 0.05, c->block, c->watermark,
             uniform(g, 0, 1) ? "swap" : "recompute", uniform(g, 0, 1) ? "max" : "next_bucket",
             policy[uniform(g, 0, 3)], noisy ? "noisy" : "oracle", uniform(g, 1, 12),
             edges[0] ? ", edges: [" : "", edges, edges[0] ? "]" : "");
}

/* The tokens one request may hold alone under the case's policy. */
static uint64_t alone_tok(const struct prop_case *c)
{
    if (strcmp(memory[c->mem], "paged"))
        return c->cap_tok;
    uint64_t total = c->cap_tok / c->block;
    uint64_t wm = (uint64_t)ceil(c->watermark * (double)total);
    return (total - wm) * c->block;
}

static void check_requests(const struct prop_case *c, const char *dir, uint64_t completed)
{
    char path[600], line[512];
    snprintf(path, sizeof path, "%s/requests.csv", dir);
    FILE *f = fopen(path, "r");
    ASSERT_TRUE(f);
    uint64_t rows = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long id;
        unsigned           rep, prompt, out;
        double             arr;
        if (line[0] == '#' ||
            sscanf(line, "%llu,%u,%lf,%u,%u", &id, &rep, &arr, &prompt, &out) != 5)
            continue;
        rows++;
        if (prompt + out > c->max_seq || prompt + out > alone_tok(c))
            TEST_FAIL_("request %llu (%u + %u tokens) completed but could not run alone "
                       "(max_seq_len %u, pool %llu tokens)\n%s",
                       id, prompt, out, c->max_seq, (unsigned long long)alone_tok(c), c->yaml);
    }
    fclose(f);
    ASSERT_EQ(rows, completed);
}

TEST(random_runs_conserve_and_never_abort)
{
    rng_t *g = rng_new(20261130, 0);
    ASSERT_TRUE(g);
    struct run       *x = sim_malloc(sizeof *x);
    struct prop_case *c = sim_malloc(sizeof *c);
    int               n_ran = 0, n_clamped = 0;
    for (int k = 0; k < 400; k++) {
        make_case(g, k, c);
        struct sim_msg err = {{0}};
        if (build(c->yaml, x, &err))
            TEST_FAIL_("case %d: build: %s\n%s", k, err.text, c->yaml);
        x->serve.kv.capacity_tok = c->cap_tok;
        char dir[300];
        snprintf(dir, sizeof dir, "%s/prop%d", tmpdir, k);
        struct run_result res;
        int               rc = run_exec(x, dir, NULL, NULL, &res, &err);
        if (rc == SIM_ECONFIG) { /* a pool the policy cannot use at all */
            int max_short = !strcmp(memory[c->mem], "max") && c->cap_tok < c->max_seq;
            int no_blocks = !strcmp(memory[c->mem], "paged") && c->cap_tok < c->block;
            if (!max_short && !no_blocks)
                TEST_FAIL_("case %d: %s\n%s", k, err.text, c->yaml);
            continue;
        }
        if (rc)
            TEST_FAIL_("case %d: run_exec: %s\n%s", k, err.text, c->yaml);
        n_ran++;
        n_clamped += res.stats.clamped > 0;
        if (res.sum.completed + res.sum.failed != res.stats.arrived || res.stats.arrived != c->n)
            TEST_FAIL_(
                "case %d: %llu completed + %llu failed of %llu arrived (%u in the trace)\n%s", k,
                (unsigned long long)res.sum.completed, (unsigned long long)res.sum.failed,
                (unsigned long long)res.stats.arrived, c->n, c->yaml);
        check_requests(c, dir, res.sum.completed);
    }
    printf("    %d runs, %d with clamped reservations\n", n_ran, n_clamped);
    ASSERT_TRUE(n_ran > 200 && n_clamped > 10); /* the cases reach the clamp */
    sim_free(c);
    sim_free(x);
    rng_free(g);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lensim-test-kv-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(predicted_reservation_beyond_capacity);
    RUN(random_runs_conserve_and_never_abort);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd))
        return 1;
    return test_main_end();
}
