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
 * And the summary's column table: a two-request run computed by hand gives, byte for byte, the
 * summary.json, results.csv columns and terminal row written below.
 */
#include <unistd.h>

#include "alloc.h"
#include "cfg.h"
#include "run.h"
#include "met.h"
#include "test.h"

static char tmpdir[256];

struct row {
    unsigned           rep;
    double             t, kv_pct;
    unsigned           batch, waiting;
    unsigned long long kv_tok;
};

/* Parse timeline.csv text (comment and header lines skipped). Returns an array (free()). */
static struct row *parse(const char *text, size_t *n)
{
    size_t      cap = 64;
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
    char  *buf = NULL;
    size_t len = 0;
    FILE  *f = open_memstream(&buf, &len);
    ASSERT_TRUE(f);
    ASSERT_EQ(met_write_timeline(m, f), 0);
    fclose(f);
    return buf;
}

TEST(decimation_direct)
{
    static const size_t ks[] = {1, 2, 3, 7, 64};
    for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) {
        size_t         k = ks[ki];
        uint64_t       live = sim_alloc_stats().live;
        struct met_cfg mc = {.n_replicas = 2, .timeline_rows = (uint32_t)k};
        met_t         *m = met_new(&mc);
        ASSERT_TRUE(m);
        /* Replica 0: one sample per ms from 5 ms, every 10th twice at the same instant.
         * Replica 1: a short run (fewer samples than K for the larger K). */
        const simtime_t ms = SIM_NS_PER_MS;
        simtime_t       t = 5 * ms, end0 = 0;
        for (int i = 0; i < 100000; i++, t += ms) {
            ASSERT_EQ(met_sample(m, 0, t, (uint32_t)(i % 9), 100, 0.5, 1), 0);
            if (i % 10 == 0)
                ASSERT_EQ(met_sample(m, 0, t, (uint32_t)(i % 9) + 1, 100, 0.5, 0), 0);
            end0 = t;
        }
        for (int i = 0; i < 40; i++)
            ASSERT_EQ(met_sample(m, 1, 7 * ms + i * 3 * ms, 1, 10, 0.1, 0), 0);
        char       *text = timeline_text(m);
        size_t      n;
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

/* The first run of an experiment text, built (owned: sim_free). Fails the test on an error. */
static struct run *build_run(const char *yaml, const char *name)
{
    cfg_exp_t     *e;
    struct sim_msg err = {{0}};
    struct cfg     c;
    if (cfg_load_string(yaml, name, &e, &err) || cfg_resolve(e, 0, &c, &err))
        TEST_FAIL_("%s: %s", name, err.text);
    cfg_free(e);
    struct run *x = sim_malloc(sizeof *x);
    if (!x || run_build(&c, ".", "", x, &err))
        TEST_FAIL_("run_build: %s", x ? err.text : "out of memory");
    return x;
}

TEST(timeline_of_a_long_run)
{
    static const char yaml[] = "name: tl\nseed: 5\ncluster: {replicas: 2}\n"
                               "workload: {requests: 20000, rate: 11, max_prompt_tokens: 3072}\n"
                               "engine: {memory: paged, max_seq_len: 4096}\n"
                               "outputs: {timeline_rows: 37, requests_csv: false}\n";
    struct sim_msg    err = {{0}};
    struct run       *x = build_run(yaml, "tl.yaml");
    char              dir[512];
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
    size_t      n;
    struct row *r = parse(text, &n);
    double      t0 = (double)res.stats.first_arrival_ns / 1e9, t1 = t0 + res.sum.duration_s;
    printf("    %llu iterations, %zu timeline rows, run %.1f s .. %.1f s\n",
           (unsigned long long)res.sum.iterations, n, t0, t1);
    for (unsigned rep = 0; rep < 2; rep++)
        check_rows(r, n, rep, 37, t0, t1, 37 / 2);
    free(r);
    free(text);
}

/* The timeline is allocated as samples come, not rows x replicas up front (issue 15, defect 11),
 * and a run whose settings could make it outgrow the machine's memory is refused before it
 * starts, with the figure and the setting to lower. */
TEST(timeline_grows_lazily)
{
    size_t         before = sim_alloc_stats().live_bytes;
    struct met_cfg mc = {.n_replicas = 100, .timeline_rows = 1000000};
    met_t         *m = met_new(&mc);
    ASSERT_TRUE(m);
    size_t after = sim_alloc_stats().live_bytes;
    ASSERT_TRUE(after - before < 64 * 1024); /* no rows yet (it used to be 3.2 GB) */
    for (int i = 0; i < 10; i++)
        ASSERT_EQ(met_sample(m, 3, (simtime_t)i * SIM_NS_PER_MS, 1, 1, 0.1, 0), 0);
    ASSERT_TRUE(sim_alloc_stats().live_bytes - before < 64 * 1024);
    /* The bound the run checks: every replica's rows, all of them. */
    ASSERT_TRUE(met_timeline_max_bytes(m) >= (uint64_t)100 * 1000000 * 24);
    met_free(m);
    ASSERT_EQ(sim_alloc_stats().live_bytes, before);
}

TEST(settings_that_outgrow_memory_are_refused)
{
    static const char yaml[] = "name: big\nworkload: {requests: 10, rate: 1}\n"
                               "cluster: {replicas: 100000}\n"
                               "outputs: {timeline_rows: 10000000}\n";
    struct sim_msg    err = {{0}};
    struct run       *x = build_run(yaml, "big.yaml");
    char              dir[512];
    snprintf(dir, sizeof dir, "%s/big", tmpdir);
    struct run_result res;
    int               rc = run_exec(x, dir, NULL, NULL, &res, &err);
    sim_free(x);
    printf("    %s\n", err.text);
    ASSERT_EQ(rc, SIM_ECONFIG);
    ASSERT_STR_CONTAINS(err.text, "outputs.timeline_rows");
    ASSERT_STR_CONTAINS(err.text, "TB");
}

/* Text written to a memory stream by fn(s, f); free() it. */
static char *written(void (*fn)(const struct met_summary *, FILE *), const struct met_summary *s)
{
    char  *buf = NULL;
    size_t len = 0;
    FILE  *f = open_memstream(&buf, &len);
    fn(s, f);
    fclose(f);
    return buf;
}

static void write_json(const struct met_summary *s, FILE *f) { met_write_json(s, f); }
static void csv_header(const struct met_summary *s, FILE *f) { (void)s, met_csv_header(f); }
static void table_header(const struct met_summary *s, FILE *f) { (void)s, met_table_header(f, 0); }
static void table_row(const struct met_summary *s, FILE *f) { met_table_row(s, f, 0); }
static void table_header_slo(const struct met_summary *s, FILE *f)
{
    (void)s, met_table_header(f, 1);
}
static void table_row_slo(const struct met_summary *s, FILE *f) { met_table_row(s, f, 1); }

/* One replica, 1-second iterations, no SLO (goodput and attainment are null):
 *   A arrives at 0, admitted at 0, tokens at 1, 2, 3 s (prompt 10, output 3);
 *   B arrives at 1, admitted at 2, its only token at 3 s (prompt 20, output 1).
 * Iterations [0,1) A's prefill, KV 25%; [1,2) A decodes, 50%; [2,3) A decodes and B's prefill,
 * 75%: 4 tokens, two of them 1 s after the previous one (ITL).
 * ttft {1, 2} s, tpot {1} (B has one token), e2el {3, 2}, queue {0, 1}, norm {1, 2} s/token;
 * quantiles interpolate ({1, 2}: p90 1.9). Duration 3 s; mean KV 1.5/3; batch 4/3; SSJF
 * throughput: position int(0.25 x 1) = 0 over 3 s. */
TEST(summary_columns_by_hand)
{
    met_t *m = met_new(&(struct met_cfg){.n_replicas = 1});
    ASSERT_TRUE(m != NULL);
    const simtime_t S = 1000000000;
    struct req      a = {.id = 0,
                         .arrival_ns = 0,
                         .prompt_tok = 10,
                         .output_tok = 3,
                         .sched_ns = 0,
                         .first_token_ns = S,
                         .finish_ns = 3 * S};
    struct req      b = {.id = 1,
                         .arrival_ns = S,
                         .prompt_tok = 20,
                         .output_tok = 1,
                         .sched_ns = 2 * S,
                         .first_token_ns = 3 * S,
                         .finish_ns = 3 * S};
    ASSERT_EQ(met_iter(m, 0, 0, S, 1, 0, 1, 0.25), 0);
    ASSERT_EQ(met_iter(m, 0, S, S, 1, 1, 1, 0.5), 0);
    ASSERT_EQ(met_iter(m, 0, 2 * S, S, 2, 1, 2, 0.75), 0);
    ASSERT_EQ(met_finish(m, &b), 0);
    ASSERT_EQ(met_finish(m, &a), 0);
    struct met_summary s;
    ASSERT_EQ(met_summarize(m, 0, &s), 0);
    met_free(m);

    static const char json[] = "{\n"
                               "  \"completed\": 2,\n"
                               "  \"failed\": 0,\n"
                               "  \"failed_prompt_too_long\": 0,\n"
                               "  \"failed_kv_capacity\": 0,\n"
                               "  \"truncated\": 0,\n"
                               "  \"longest_cut_request_tokens\": 0,\n"
                               "  \"clamped_prompts\": 0,\n"
                               "  \"kv_reservations_clamped\": 0,\n"
                               "  \"total_input_tokens\": 30,\n"
                               "  \"total_output_tokens\": 4,\n"
                               "  \"duration\": 3.000000,\n"
                               "  \"arrival_rate\": 1.000000,\n"
                               "  \"request_throughput\": 0.666667,\n"
                               "  \"output_throughput\": 1.333333,\n"
                               "  \"total_token_throughput\": 11.333333,\n"
                               "  \"request_goodput\": null,\n"
                               "  \"slo_attainment\": null,\n"
                               "  \"slo_attainment_completed\": null,\n"
                               "  \"mean_ttft_ms\": 1500.000000,\n"
                               "  \"median_ttft_ms\": 1500.000000,\n"
                               "  \"std_ttft_ms\": 500.000000,\n"
                               "  \"p90_ttft_ms\": 1900.000000,\n"
                               "  \"p99_ttft_ms\": 1990.000000,\n"
                               "  \"mean_tpot_ms\": 1000.000000,\n"
                               "  \"median_tpot_ms\": 1000.000000,\n"
                               "  \"std_tpot_ms\": 0.000000,\n"
                               "  \"p90_tpot_ms\": 1000.000000,\n"
                               "  \"p99_tpot_ms\": 1000.000000,\n"
                               "  \"mean_itl_ms\": 1000.000000,\n"
                               "  \"median_itl_ms\": 1000.000000,\n"
                               "  \"std_itl_ms\": 0.000000,\n"
                               "  \"p90_itl_ms\": 1000.000000,\n"
                               "  \"p99_itl_ms\": 1000.000000,\n"
                               "  \"mean_e2el_ms\": 2500.000000,\n"
                               "  \"median_e2el_ms\": 2500.000000,\n"
                               "  \"std_e2el_ms\": 500.000000,\n"
                               "  \"p90_e2el_ms\": 2900.000000,\n"
                               "  \"p99_e2el_ms\": 2990.000000,\n"
                               "  \"mean_jct_ms\": 2500.000000,\n"
                               "  \"mean_queue_ms\": 500.000000,\n"
                               "  \"median_queue_ms\": 500.000000,\n"
                               "  \"std_queue_ms\": 500.000000,\n"
                               "  \"p90_queue_ms\": 900.000000,\n"
                               "  \"p99_queue_ms\": 990.000000,\n"
                               "  \"mean_norm_latency_ms\": 1500.000000,\n"
                               "  \"median_norm_latency_ms\": 1500.000000,\n"
                               "  \"std_norm_latency_ms\": 500.000000,\n"
                               "  \"p90_norm_latency_ms\": 1900.000000,\n"
                               "  \"p99_norm_latency_ms\": 1990.000000,\n"
                               "  \"mean_kv_cache_usage\": 0.500000,\n"
                               "  \"peak_kv_cache_usage\": 0.750000,\n"
                               "  \"mean_batch_size\": 1.333333,\n"
                               "  \"iterations\": 3,\n"
                               "  \"preemptions\": 0,\n"
                               "  \"mispredictions\": 0,\n"
                               "  \"wasted_tokens\": 0,\n"
                               "  \"wasted_s\": 0.000000,\n"
                               "  \"ssjf_throughput\": 0.000000\n"
                               "}\n";
    static const char csv_head[] =
        ",completed,failed,failed_prompt_too_long,failed_kv_capacity,truncated,"
        "longest_cut_request_tokens,clamped_prompts,kv_reservations_clamped,duration_s,"
        "arrival_rate,request_throughput,output_throughput,ssjf_throughput,"
        "request_goodput,slo_attainment,slo_attainment_completed,mean_ttft_ms,p99_ttft_ms,mean_"
        "tpot_ms,p99_tpot_ms,"
        "mean_itl_ms,mean_e2el_ms,median_e2el_ms,p99_e2el_ms,mean_queue_ms,mean_kv_cache_usage,"
        "peak_kv_cache_usage,mean_batch_size,preemptions,mispredictions";
    static const char csv_row[] =
        ",2,0,0,0,0,0,0,0,3.000000,1.000000,0.666667,1.333333,0.000000,,,,1500.000000,1990.000000,"
        "1000.000000,"
        "1000.000000,1000.000000,2500.000000,2500.000000,2990.000000,500.000000,0.500000,"
        "0.750000,1.333333,0,0";
    /* Each column as wide as its title (at least 4), values fitted to it (issue 12 item 6). */
    static const char table_head[] =
        " done fail trunc req/s tok/s TTFT ms p99 TTFT TPOT ms E2E s p99 E2E  KV% batch";
    static const char table_row_want[] =
        "    2    0     0 0.667   1.3  1500.0   1990.0 1000.00 2.500   2.990 50.0   1.3";
    struct {
        void (*fn)(const struct met_summary *, FILE *);
        const char *want;
    } outs[] = {{write_json, json},
                {csv_header, csv_head},
                {met_csv_row, csv_row},
                {table_header, table_head},
                {table_row, table_row_want}};
    for (size_t i = 0; i < sizeof outs / sizeof *outs; i++) {
        char *got = written(outs[i].fn, &s);
        if (strcmp(got, outs[i].want))
            TEST_FAIL_("output %zu:\n%s\nwanted:\n%s", i, got, outs[i].want);
        free(got);
    }
}

/* The terminal table with SLOs and large values: goodput and SLO attainment appear after tok/s
 * (the column table's order); values wider than their title lose decimals, then take k/M;
 * every line is met_table_width characters. By hand: 18950 in 4 -> "19k" (18.95k); 1139330.8
 * tok/s in 5 -> "1139k"; 4915.6 ms TTFT in 7 -> " 4915.6"; 27136.6 in 8 -> " 27136.6"; goodput
 * 5.405947 in 6 at 2 decimals -> "  5.41"; attainment 0.97 -> "97.0"; 416 failed -> " 416";
 * 0.6241 KV -> "62.4"; E2E 321.82 s in 5 at 3 decimals -> "321.8" (1 decimal fits). */
TEST(table_fits_its_titles)
{
    struct met_summary s = {
        .completed = 18950,
        .failed = 416,
        .request_throughput = 5.405947,
        .output_throughput = 1139330.8,
        .request_goodput = 5.405947,
        .slo_attainment = 0.97,
        .ttft = {.mean = 4.9156, .p99 = 27.1366},
        .tpot = {.mean = 0.06334},
        .e2el = {.mean = 321.82, .p99 = 482.5},
        .mean_kv_util = 0.6241,
        .mean_batch_size = 47.57,
    };
    static const char head[] = " done fail trunc req/s tok/s good/s SLO% TTFT ms p99 TTFT TPOT ms "
                               "E2E s p99 E2E  KV% batch";
    static const char row[] = "  19k  416     0 5.406 1139k   5.41 97.0  4915.6  27136.6   63.34 "
                              "321.8 482.500 62.4  47.6";
    char             *h = NULL, *r = NULL;
    ASSERT_TRUE((h = written(table_header_slo, &s)) && (r = written(table_row_slo, &s)));
    if (strcmp(h, head) || strcmp(r, row))
        TEST_FAIL_("table with SLOs:\n%s\n%s\nwanted:\n%s\n%s", h, r, head, row);
    ASSERT_TRUE((int)strlen(h) == met_table_width(1) && (int)strlen(r) == met_table_width(1));
    free(h);
    free(r);
    /* Without SLOs the two columns are gone, and NaN prints as "-". */
    s.ttft.mean = NAN;
    ASSERT_TRUE((h = written(table_header, &s)) && (r = written(table_row, &s)));
    ASSERT_TRUE(!strstr(h, "good/s") && !strstr(h, "SLO%"));
    ASSERT_TRUE(strstr(r, " 1139k       -  27136.6") != NULL);
    ASSERT_TRUE((int)strlen(h) == met_table_width(0) && (int)strlen(r) == met_table_width(0));
    free(h);
    free(r);
}

/* Issue 12: failed and cut requests are counted and listed, and a failed request is an SLO miss.
 * SLO TTFT 1.5 s. A (as above: TTFT 1 s, meets it) and B (TTFT 2 s, misses; its output was cut
 * from 5 tokens to 1 by max_seq_len) complete; C (arrives at 2 s, prompt 5000, output 10) fails
 * on its prompt, D (arrives at 4 s, prompt 100, output 200) on KV memory. By hand:
 *   completed 2, failed 2 (1 + 1), truncated 1; longest cut request 5000 + 10 = 5010 tokens;
 *   attainment of all 1/4 = 0.25, of the completed 1/2; goodput 1 good over 3 s = 0.333333;
 *   arrival rate: 4 arrivals at 0, 1, 2, 4 s: 3 gaps over 4 s = 0.75 req/s.
 * requests.csv lists all four, in the order they ended, with their status. */
TEST(failed_and_truncated_by_hand)
{
    char path[300];
    snprintf(path, sizeof path, "%s/req.csv", tmpdir);
    FILE *f = fopen(path, "w+");
    ASSERT_TRUE(f != NULL);
    met_t *m = met_new(&(struct met_cfg){.n_replicas = 1, .slo_ttft_s = 1.5, .requests_csv = f});
    ASSERT_TRUE(m != NULL);
    const simtime_t S = 1000000000;
    struct req      a = {.id = 0,
                         .arrival_ns = 0,
                         .prompt_tok = 10,
                         .output_tok = 3,
                         .sched_ns = 0,
                         .first_token_ns = S,
                         .finish_ns = 3 * S};
    struct req      b = {.id = 1,
                         .arrival_ns = S,
                         .prompt_tok = 20,
                         .output_tok = 1,
                         .asked_tok = 5,
                         .sched_ns = 2 * S,
                         .first_token_ns = 3 * S,
                         .finish_ns = 3 * S};
    struct req      c = {.id = 2, .arrival_ns = 2 * S, .prompt_tok = 5000, .output_tok = 10};
    struct req      d = {.id = 3, .arrival_ns = 4 * S, .prompt_tok = 100, .output_tok = 200};
    ASSERT_EQ(met_fail(m, &c, MET_FAIL_PROMPT), 0);
    ASSERT_EQ(met_finish(m, &b), 0);
    ASSERT_EQ(met_finish(m, &a), 0);
    ASSERT_EQ(met_fail(m, &d, MET_FAIL_KV), 0);
    struct met_summary s;
    ASSERT_EQ(met_summarize(m, 0, &s), 0);
    met_free(m);
    ASSERT_EQ(s.completed, 2);
    ASSERT_EQ(s.failed, 2);
    ASSERT_EQ(s.failed_why[MET_FAIL_PROMPT], 1);
    ASSERT_EQ(s.failed_why[MET_FAIL_KV], 1);
    ASSERT_EQ(s.truncated, 1);
    ASSERT_EQ(s.longest_cut, 5010);
    ASSERT_NEAR(s.slo_attainment, 0.25, 1e-12);
    ASSERT_NEAR(s.slo_attainment_completed, 0.5, 1e-12);
    ASSERT_NEAR(s.request_goodput, 1.0 / 3, 1e-12);
    ASSERT_NEAR(s.arrival_rate, 0.75, 1e-12);
    char text[2048] = "";
    rewind(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    static const char want[] = "2,,2.000000000,5000,10,,,,,,,0,0,failed_prompt_too_long\n"
                               "1,0,1.000000000,20,1,0,1.000000000,2.000000000,0.000000000,2."
                               "000000000,3.000000000,0,0,"
                               "truncated\n"
                               "0,0,0.000000000,10,3,0,0.000000000,1.000000000,1.000000000,3."
                               "000000000,3.000000000,0,0,"
                               "done\n"
                               "3,,4.000000000,100,200,,,,,,,0,0,failed_kv_capacity\n";
    if (strcmp(text, want))
        TEST_FAIL_("requests.csv:\n%s\nwanted:\n%s", text, want);
    /* The header names the same 14 columns. */
    size_t commas = 0;
    for (const char *p = met_requests_header; *p; p++)
        commas += *p == ',';
    ASSERT_EQ(commas, 13);
    ASSERT_TRUE(strstr(met_requests_header, ",status") != NULL);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lensim-test-met-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(decimation_direct);
    RUN(timeline_of_a_long_run);
    RUN(summary_columns_by_hand);
    RUN(table_fits_its_titles);
    RUN(failed_and_truncated_by_hand);
    RUN(timeline_grows_lazily);
    RUN(settings_that_outgrow_memory_are_refused);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd))
        return 1;
    return test_main_end();
}
