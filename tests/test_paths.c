/*
 * test_paths.c: paths that mutants of issue 17's mutation run walked through unnoticed, each
 * checked against what its contract says.
 *
 * - compat ssjf under allocation failure: every failed allocation of compat_ssjf_run is
 *   SIM_ENOMEM with "out of memory", nothing leaks, and the first run that gets all its memory
 *   succeeds (R9: tests walk every error path);
 * - profile strings are written as YAML double-quoted scalars: printable characters as they are,
 *   '"' and '\' escaped with a backslash, control characters as \xNN; the file loads back to the
 *   same string;
 * - an Azure trace row with an empty TIMESTAMP says so, with its line;
 * - `trace stats` of the generator starts with its source and format;
 * - a lengths-only row with too few fields is an error that counts them.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cfg.h"
#include "compat_ssjf.h"
#include "profile.h"
#include "test.h"
#include "trace.h"

static char tmpdir[256];

static void put(const char *name, const char *text, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[1 << 16];
    size_t      n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

TEST(compat_ssjf_allocation_failure_walk)
{
    char path[400];
    put("pred.csv",
        ",output_token_length,predicted_length,latency,model\n0,100,1,0.008,m\n1,10,0,0.008,m\n"
        "2,50,0,0.008,m\n3,200,2,0.008,m\n",
        path, sizeof path);
    struct cfg     c;
    cfg_exp_t     *e;
    struct sim_msg err = {{0}};
    ASSERT_EQ(cfg_load_string("name: c\ncompat: ssjf\nssjf: {jobs: 4, repeats: 2}\n"
                              "workload: {arrival: batch}\npolicy: ssjf\n",
                              "c.yaml", &e, &err),
              0);
    ASSERT_EQ(cfg_resolve(e, 0, &c, &err), 0);
    cfg_free(e);
    struct met_summary s;
    int                rc = -1;
    uint64_t           n;
    for (n = 1; n < 10000 && rc; n++) {
        uint64_t live = sim_alloc_stats().live;
        sim_alloc_fail_after(n);
        rc = compat_ssjf_run(&c, path, NULL, NULL, NULL, &s, &err);
        sim_alloc_fail_after(0);
        ASSERT_EQ(sim_alloc_stats().live, live); /* nothing leaked, on success or failure */
        if (rc) {
            if (rc != SIM_ENOMEM)
                TEST_FAIL_("allocation %llu failed: rc %d (%s), want SIM_ENOMEM",
                           (unsigned long long)n, rc, err.text);
            ASSERT_STR_CONTAINS(err.text, "out of memory");
        }
    }
    ASSERT_EQ(rc, 0);
    ASSERT_TRUE(n > 5); /* several allocations were failed and walked */
    ASSERT_EQ(s.completed, 8);
}

TEST(profile_strings_are_escaped_yaml)
{
    struct cal_profile p;
    memset(&p, 0, sizeof p);
    snprintf(p.model, sizeof p.model, "a\tb\"c\\d e");
    snprintf(p.source, sizeof p.source, "measured");
    snprintf(p.backend, sizeof p.backend, "cpu");
    snprintf(p.device, sizeof p.device, "Plain Device-1 (x86_64)");
    p.tp = 1;
    p.n_pieces = 1;
    p.piece[0].max_tokens = INFINITY;
    p.piece[0].coef[CAL_T_CONST] = 1e-3;
    p.piece[0].coef[CAL_T_PREFILL_TOK] = 1e-5;
    p.piece[0].coef[CAL_T_DECODE_SEQS] = 1e-5;
    p.kv_bytes_per_token = 4096;
    p.kv_capacity_bytes = 1e9;
    p.weight_bytes = 1e7;
    char           path[400];
    struct sim_msg err = {{0}};
    snprintf(path, sizeof path, "%s/p.yaml", tmpdir);
    if (cal_profile_save(path, &p, &err))
        TEST_FAIL_("cal_profile_save: %s", err.text);
    const char *text = slurp(path);
    ASSERT_STR_CONTAINS(text, "model: \"a\\x09b\\\"c\\\\d e\"\n");
    ASSERT_STR_CONTAINS(text, "device: \"Plain Device-1 (x86_64)\"\n");
    struct cal_profile q;
    if (cal_profile_load(path, &q, &err))
        TEST_FAIL_("cal_profile_load: %s", err.text);
    ASSERT_TRUE(!strcmp(q.model, p.model));
    ASSERT_TRUE(!strcmp(q.device, p.device));
}

TEST(azure_empty_timestamp_is_named)
{
    char path[400];
    put("az.csv",
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n,5,6\n", path,
        sizeof path);
    struct trace_opts o;
    trace_opts_default(&o);
    o.format = TRACE_FMT_AZURE;
    o.path = path;
    trace_t         *t;
    struct sim_msg   err = {{0}};
    struct trace_req r;
    ASSERT_EQ(trace_open(&o, &t, &err), 0);
    ASSERT_EQ(trace_next(t, &r, &err), 1);
    ASSERT_EQ(trace_next(t, &r, &err), SIM_EINPUT);
    char want[512];
    snprintf(want, sizeof want, "%s:3: TIMESTAMP: empty field", path);
    ASSERT_STR_CONTAINS(err.text, want);
    trace_close(t);
}

/* `trace stats` of the generator names its source and format before its figures. */
TEST(trace_stats_of_the_generator_names_its_source)
{
    struct trace_opts o;
    trace_opts_default(&o);
    o.format = TRACE_FMT_SYNTH;
    o.max_requests = 50;
    o.seed = 7;
    char path[400];
    snprintf(path, sizeof path, "%s/stats.txt", tmpdir);
    FILE          *f = fopen(path, "w");
    struct sim_msg err = {{0}};
    ASSERT_TRUE(f);
    int rc = trace_stats(&o, f, &err);
    fclose(f);
    if (rc)
        TEST_FAIL_("trace_stats: %s", err.text);
    const char *text = slurp(path);
    ASSERT_TRUE(!strncmp(text, "source: synthetic\nformat: ", 26));
    ASSERT_STR_CONTAINS(text, "\nrequests: 50\n");
    /* Lengths: mean and percentiles printed with 4 decimals, maxima as integers (the format
     * `lensim trace stats` prints and scripts read). */
    static const char *const keys[] = {"prompt_mean", "prompt_p50", "prompt_p90", "prompt_p99",
                                       "output_mean", "output_p50", "output_p90", "output_p99"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char want[64];
        snprintf(want, sizeof want, "\n%s: ", keys[i]);
        const char *v = strstr(text, want);
        ASSERT_TRUE(v);
        v += strlen(want);
        const char *dot = strchr(v, '.'), *end = strchr(v, '\n');
        ASSERT_TRUE(dot && end && dot < end);
        ASSERT_EQ(end - dot - 1, 4);
    }
    const char *mx = strstr(text, "\nprompt_max: ");
    ASSERT_TRUE(mx && strcspn(mx + 1, ".\n") == strcspn(mx + 1, "\n"));
}

/* A lengths-only row with three fields of four is an error that counts them. */
TEST(lengths_row_with_three_fields_is_counted)
{
    char path[400];
    put("len.csv",
        "num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio\n10,5,15,2.0\n12,6,18\n",
        path, sizeof path);
    struct trace_opts o;
    trace_opts_default(&o);
    o.format = TRACE_FMT_LENGTHS;
    o.path = path;
    o.max_requests = 10;
    trace_t         *t;
    struct sim_msg   err = {{0}};
    struct trace_req r;
    ASSERT_EQ(trace_open(&o, &t, &err), 0);
    ASSERT_EQ(trace_next(t, &r, &err), 1);
    ASSERT_EQ(trace_next(t, &r, &err), SIM_EINPUT);
    char want[512];
    snprintf(want, sizeof want,
             "%s:3: expected 4 fields "
             "(num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio), got 3",
             path);
    ASSERT_STR_CONTAINS(err.text, want);
    trace_close(t);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lensim-test-paths-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(compat_ssjf_allocation_failure_walk);
    RUN(profile_strings_are_escaped_yaml);
    RUN(azure_empty_timestamp_is_named);
    RUN(trace_stats_of_the_generator_names_its_source);
    RUN(lengths_row_with_three_fields_is_counted);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) {
    }
    return test_main_end();
}
