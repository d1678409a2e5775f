/*
 * test_met.c: the timeline's decimation (met_sample, sim/met.h).
 *
 * With timeline_rows = K, each replica keeps at most K rows however long the run; times are
 * strictly increasing; the first row is the first sample (the first arrival) and the last row is
 * within a few sampling intervals of the end of the run; no gap between rows is much more than a
 * sampling interval (the rows cover the whole run evenly).
 * - Directly on met_sample: K = 1, 2, 3, 7, 64 against 10^5 samples, some at equal times (an
 *   idle replica that starts an iteration at the same instant samples twice).
 * - End to end: a 2-replica run of 20,000 requests with K = 37 (many more iterations than K),
 *   reading timeline.csv back.
 */
#include <unistd.h>

#include "alloc.h"
#include "cfg.h"
#include "run.h"
#include "met.h"
#include "test.h"

static char tmpdir[256];

struct row {
    unsigned rep;
    double t, kv_pct;
    unsigned batch, waiting;
    unsigned long long kv_tok;
};

/* Parse timeline.csv text (comment and header lines skipped). Returns an array (free()). */
static struct row *parse(const char *text, size_t *n)
{
    size_t cap = 64;
    struct row *r = malloc(cap * sizeof *r);
    *n = 0;
    for (const char *line = text; line && *line;) {
        struct row x;
        if (sscanf(line, "%u,%lf,%u,%llu,%lf,%u", &x.rep, &x.t, &x.batch, &x.kv_tok, &x.kv_pct,
                   &x.waiting) == 6) {
            if (*n == cap)
                r = realloc(r, (cap *= 2) * sizeof *r);
            r[(*n)++] = x;
        }
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return r;
}

/* The rows of replica `rep` obey the contract for a run whose samples span [t0, t1] seconds. */
static void check_rows(const struct row *r, size_t n, unsigned rep, size_t k, double t0, double t1,
                       size_t min_rows)
{
    size_t m = 0;
    double prev = -1, first = 0, last = 0, max_gap = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i].rep != rep)
            continue;
        if (m == 0)
            first = r[i].t;
        else if (!(r[i].t > prev))
            TEST_FAIL_("replica %u, K=%zu: row %zu at %.9f s is not after %.9f s", rep, k, m,
                       r[i].t, prev);
        else if (r[i].t - prev > max_gap)
            max_gap = r[i].t - prev;
        prev = last = r[i].t;
        m++;
    }
    if (m > k)
        TEST_FAIL_("replica %u: %zu rows, more than K=%zu", rep, m, k);
    if (m < min_rows)
        TEST_FAIL_("replica %u: %zu rows, want at least %zu (K=%zu)", rep, m, min_rows, k);
    if (!m)
        return;
    /* A sampling interval is span/K just before the buffer fills, 2 span/K just after. */
    double span = t1 - t0, interval = 2 * span / (double)k, tol = 3 * interval + 1e-9;
    if (fabs(first - t0) > tol)
        TEST_FAIL_("replica %u, K=%zu: first row at %.6f s, first sample at %.6f s", rep, k, first,
                   t0);
    if (k > 1 && fabs(t1 - last) > tol)
        TEST_FAIL_("replica %u, K=%zu: last row at %.6f s, run ends at %.6f s (tolerance %.6f s)",
                   rep, k, last, t1, tol);
    if (k > 1 && max_gap > tol)
        TEST_FAIL_("replica %u, K=%zu: a gap of %.6f s between rows (interval about %.6f s)", rep,
                   k, max_gap, interval);
}

static char *timeline_text(met_t *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ASSERT_TRUE(f);
    ASSERT_EQ(met_write_timeline(m, f), 0);
    fclose(f);
    return buf;
}

TEST(decimation_direct)
{
    static const size_t ks[] = {1, 2, 3, 7, 64};
    for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) {
        size_t k = ks[ki];
        uint64_t live = sim_alloc_stats().live;
        struct met_cfg mc = {.n_replicas = 2, .timeline_rows = (uint32_t)k};
        met_t *m = met_new(&mc);
        ASSERT_TRUE(m);
        /* Replica 0: one sample per ms from 5 ms, every 10th twice at the same instant.
         * Replica 1: a short run (fewer samples than K for the larger K). */
        const simtime_t ms = SIM_NS_PER_MS;
        simtime_t t = 5 * ms, end0 = 0;
        for (int i = 0; i < 100000; i++, t += ms) {
            ASSERT_EQ(met_sample(m, 0, t, (uint32_t)(i % 9), 100, 0.5, 1), 0);
            if (i % 10 == 0)
                ASSERT_EQ(met_sample(m, 0, t, (uint32_t)(i % 9) + 1, 100, 0.5, 0), 0);
            end0 = t;
        }
        for (int i = 0; i < 40; i++)
            ASSERT_EQ(met_sample(m, 1, 7 * ms + i * 3 * ms, 1, 10, 0.1, 0), 0);
        char *text = timeline_text(m);
        size_t n;
        struct row *r = parse(text, &n);
        check_rows(r, n, 0, k, 0.005, (double)end0 / 1e9, k > 1 ? k / 2 : 1);
        check_rows(r, n, 1, k, 0.007, 0.007 + 39 * 0.003, k < 40 ? (k > 1 ? k / 2 : 1) : 40);
        /* Equal instants: the later sample's state is the one kept. */
        for (size_t i = 0; i < n; i++)
            if (r[i].rep == 0 && r[i].t == 0.005)
                ASSERT_EQ(r[i].batch, 1);
        free(r);
        free(text);
        met_free(m);
        ASSERT_EQ(sim_alloc_stats().live, live);
    }
}

TEST(timeline_of_a_long_run)
{
    static const char yaml[] = "name: tl\nseed: 5\ncluster: {replicas: 2}\n"
                               "workload: {requests: 20000, rate: 11, max_prompt_tokens: 3072}\n"
                               "engine: {memory: paged, max_seq_len: 4096}\n"
                               "outputs: {timeline_rows: 37, requests_csv: false}\n";
    cfg_exp_t *e;
    struct sim_msg err = {{0}};
    ASSERT_EQ(cfg_load_string(yaml, "tl.yaml", &e, &err), 0);
    struct cfg c;
    ASSERT_EQ(cfg_resolve(e, 0, &c, &err), 0);
    cfg_free(e);
    struct run *x = sim_malloc(sizeof *x);
    ASSERT_TRUE(x);
    if (run_build(&c, ".", "", x, &err))
        TEST_FAIL_("run_build: %s", err.text);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/tl", tmpdir);
    struct run_result res;
    if (run_exec(x, dir, NULL, NULL, &res, &err))
        TEST_FAIL_("run_exec: %s", err.text);
    sim_free(x);
    ASSERT_EQ(res.sum.completed, 20000);
    ASSERT_TRUE(res.sum.iterations > 100 * 37); /* many more iterations than rows */

    char path[600];
    snprintf(path, sizeof path, "%s/timeline.csv", dir);
    FILE *f = fopen(path, "r");
    ASSERT_TRUE(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)len + 1);
    ASSERT_EQ(fread(text, 1, (size_t)len, f), len);
    text[len] = 0;
    fclose(f);
    size_t n;
    struct row *r = parse(text, &n);
    double t0 = (double)res.stats.first_arrival_ns / 1e9, t1 = t0 + res.sum.duration_s;
    printf("    %llu iterations, %zu timeline rows, run %.1f s .. %.1f s\n",
           (unsigned long long)res.sum.iterations, n, t0, t1);
    for (unsigned rep = 0; rep < 2; rep++)
        check_rows(r, n, rep, 37, t0, t1, 37 / 2);
    free(r);
    free(text);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lensim-test-met-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(decimation_direct);
    RUN(timeline_of_a_long_run);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd))
        return 1;
    return test_main_end();
}
