/*
 * test_trace_data.c: the readers on the real traces in the data directory
 * (../shared/data/traces, see their READMEs). Skipped (exit 77) when no data directory is
 * found by the same rule as the program: $LENSIM_DATA, else ../shared/data relative to the
 * working directory or to the source tree.
 *
 * - every file reads completely with the row count its README states and no bad row;
 * - the Azure conversation trace reads in well under a second (it should take a few ms);
 * - the generator's default parameters are the log-normal fit of that trace, recomputed here;
 * - a window read equals the matching slice of a full read.
 */
#include "alloc.h"
#include "test.h"
#include "trace.h"

static char data_dir[4096];

static const char azure_conv[] = "traces/azure2023/AzureLLMInferenceTrace_conv.csv";

static trace_t *open_path(const char *path, struct trace_opts *o)
{
    trace_t       *t;
    struct sim_msg err;
    o->path = path;
    o->data_dir = data_dir;
    int rc = trace_open(o, &t, &err);
    if (rc)
        TEST_FAIL_("%s: %s", path, err.text);
    return t;
}

TEST(test_real_files)
{
    static const struct {
        const char       *path;
        enum trace_format fmt;
        uint64_t          rows; /* from the README */
    } files[] = {
        {"traces/azure2023/AzureLLMInferenceTrace_conv.csv", TRACE_FMT_AZURE, 19366},
        {"traces/azure2023/AzureLLMInferenceTrace_code.csv", TRACE_FMT_AZURE, 8819},
        {"traces/mooncake/conversation_trace.jsonl", TRACE_FMT_MOONCAKE, 12031},
        {"traces/mooncake/synthetic_trace.jsonl", TRACE_FMT_MOONCAKE, 3993},
        {"traces/lengths_only/sharegpt_8k_filtered_stats_llama2_tokenizer.csv", TRACE_FMT_LENGTHS,
         30731},
        {"traces/lengths_only/arxiv_summarization_stats_llama2_tokenizer_filtered_v2.csv",
         TRACE_FMT_LENGTHS, 28257},
        {"traces/lengths_only/bwb_stats_llama2_tokenizer_filtered_v2.csv", TRACE_FMT_LENGTHS,
         33768},
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        struct trace_opts o;
        trace_opts_default(&o);
        o.format = TRACE_FMT_AUTO;
        uint64_t live = sim_alloc_stats().live;
        int64_t  t0 = sim_wall_ns();
        trace_t *t = open_path(files[i].path, &o);
        ASSERT_EQ(trace_format_of(t), files[i].fmt);
        struct trace_req r;
        struct sim_msg   err;
        int              rc;
        int64_t          prev = 0;
        size_t           hashes = 0, n;
        while ((rc = trace_next(t, &r, &err)) == 1) {
            ASSERT_TRUE(r.arrival_ns >= prev);
            prev = r.arrival_ns;
            trace_hash_ids(t, &n);
            hashes += n;
        }
        if (rc)
            TEST_FAIL_("%s", err.text);
        double              ms = (double)(sim_wall_ns() - t0) / 1e6;
        struct trace_counts c = trace_counts(t);
        trace_close(t);
        ASSERT_EQ(sim_alloc_stats().live, live);
        printf("  %-80s %6llu rows %7.2f ms\n", files[i].path, (unsigned long long)c.rows, ms);
        ASSERT_EQ(c.rows, files[i].rows);
        ASSERT_EQ(c.yielded, files[i].rows);
        ASSERT_EQ(c.skipped_bad, 0);
        if (files[i].fmt == TRACE_FMT_MOONCAKE)
            ASSERT_TRUE(hashes > c.rows); /* every row has prefix blocks */
        if (i == 0)
            ASSERT_TRUE(ms < 500); /* a few ms normally; 500 leaves room for sanitizers */
    }
}

/* The first Mooncake rows carry the hash ids the file shows. */
TEST(test_mooncake_hash_ids)
{
    struct trace_opts o;
    trace_opts_default(&o);
    o.format = TRACE_FMT_MOONCAKE;
    trace_t         *t = open_path("traces/mooncake/conversation_trace.jsonl", &o);
    struct trace_req r;
    struct sim_msg   err;
    size_t           n;
    ASSERT_EQ(trace_next(t, &r, &err), 1);
    ASSERT_EQ(r.prompt_tok, 6758);
    ASSERT_EQ(r.output_tok, 500);
    const int64_t *h = trace_hash_ids(t, &n);
    ASSERT_EQ(n, 14); /* ceil(6758 / 512) */
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ(h[i], (int64_t)i);
    ASSERT_EQ(trace_next(t, &r, &err), 1);
    h = trace_hash_ids(t, &n);
    ASSERT_EQ(n, 15);
    ASSERT_EQ(h[0], 0);
    ASSERT_EQ(h[1], 14);
    trace_close(t);
}

/* trace_opts_default's log-normal parameters and rate are the Azure conv trace's, to the
 * 4 decimals they are written with. */
TEST(test_default_fit)
{
    struct trace_opts d, o;
    trace_opts_default(&d);
    trace_opts_default(&o);
    o.format = TRACE_FMT_AZURE;
    trace_t         *t = open_path(azure_conv, &o);
    struct trace_req r;
    struct sim_msg   err;
    double           s[4] = {0}, s2[4] = {0};
    int64_t          last = 0;
    size_t           n = 0;
    while (trace_next(t, &r, &err) == 1) {
        double lp = log(r.prompt_tok), lo = log(r.output_tok);
        s[0] += lp;
        s2[0] += lp * lp;
        s[1] += lo;
        s2[1] += lo * lo;
        last = r.arrival_ns;
        n++;
    }
    trace_close(t);
    ASSERT_EQ(n, 19366);
    double mp = s[0] / n, mo = s[1] / n;
    double sp = sqrt(s2[0] / n - mp * mp), so = sqrt(s2[1] / n - mo * mo);
    printf("  fit: ln prompt mean %.6f sd %.6f, ln output mean %.6f sd %.6f, rate %.6f\n", mp, sp,
           mo, so, (double)(n - 1) / ((double)last / 1e9));
    ASSERT_NEAR(d.prompt_mu, mp, 5e-5);
    ASSERT_NEAR(d.prompt_sigma, sp, 5e-5);
    ASSERT_NEAR(d.output_mu, mo, 5e-5);
    ASSERT_NEAR(d.output_sigma, so, 5e-5);
    ASSERT_NEAR(d.rate, (double)(n - 1) / ((double)last / 1e9), 0.005);
}

/* A window [600, 1200) s at rate_scale 3 yields exactly the rows of a full read whose arrival
 * lies in the window, shifted by 600 s and divided by 3. */
TEST(test_real_window)
{
    struct trace_opts o;
    trace_opts_default(&o);
    o.format = TRACE_FMT_AUTO;
    trace_t *full = open_path(azure_conv, &o);
    o.t_start_s = 600;
    o.t_end_s = 1200;
    o.rate_scale = 3;
    trace_t         *win = open_path(azure_conv, &o);
    struct trace_req a, b;
    struct sim_msg   err;
    size_t           k = 0;
    while (trace_next(full, &a, &err) == 1) {
        if (a.arrival_ns < 600 * SIM_NS_PER_S || a.arrival_ns >= 1200 * SIM_NS_PER_S)
            continue;
        ASSERT_EQ(trace_next(win, &b, &err), 1);
        ASSERT_NEAR(b.arrival_ns, (a.arrival_ns - 600 * SIM_NS_PER_S) / 3.0, 0.5);
        ASSERT_EQ(b.prompt_tok, a.prompt_tok);
        ASSERT_EQ(b.output_tok, a.output_tok);
        ASSERT_EQ(b.id, k);
        k++;
    }
    ASSERT_EQ(trace_next(win, &b, &err), 0);
    ASSERT_TRUE(k > 3000);
    trace_close(full);
    trace_close(win);
}

int main(void)
{
    if (trace_data_dir(NULL, data_dir, sizeof data_dir))
        SKIP("no data directory: set LENSIM_DATA or provide %s/../shared/data (real-trace tests "
             "not run)",
             LENSIM_SOURCE_ROOT);
    printf("data directory: %s\n", data_dir);
    RUN(test_real_files);
    RUN(test_mooncake_hash_ids);
    RUN(test_default_fit);
    RUN(test_real_window);
    return test_main_end();
}
