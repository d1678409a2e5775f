/*
 * test_trace.c: the trace readers, the request pipeline and the generator, on small files
 * written under a mkdtemp directory (no data directory needed; test_trace_data.c covers the
 * real traces).
 *
 * - every reader on a small good file yields exactly the expected records;
 * - every class of bad input gives its "file:line: ..." message and SIM_EINPUT, and with
 *   skip_bad is skipped, counted, and the rows around it still come through;
 * - window, rate scale, max_requests, caps;
 * - generator statistics within 5 standard errors of the truth (a false alarm about once in
 *   1.7 million runs per check; the seeds are fixed, so a run that passes always passes);
 * - determinism and independence of the arrival and length streams;
 * - allocation-failure walk: every failing allocation gives SIM_ENOMEM and leaks nothing.
 */
#include <ctype.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "alloc.h"
#include "test.h"
#include "trace.h"
#include "trace_internal.h"

static char tmpdir[256];

/* Write content to tmpdir/name; the full path goes to path (size 512). */
static void put_file_n(const char *name, const void *content, size_t n, char *path)
{
    snprintf(path, 512, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    ASSERT_TRUE(f);
    ASSERT_EQ(fwrite(content, 1, n, f), n);
    ASSERT_EQ(fclose(f), 0);
}

static void put_file(const char *name, const char *content, char *path)
{
    put_file_n(name, content, strlen(content), path);
}

#define MAX_REQS 64

/* The outcome of opening a file and reading it to the end or to the first error. */
struct run {
    int                 open_rc, rc;
    size_t              n;
    struct trace_req    r[MAX_REQS];
    struct sim_msg      err;
    struct trace_counts c;
};

static void run_opts(const struct trace_opts *o, struct run *out)
{
    memset(out, 0, sizeof *out);
    trace_t *t = NULL;
    out->open_rc = trace_open(o, &t, &out->err);
    if (out->open_rc) {
        ASSERT_TRUE(t == NULL);
        out->rc = out->open_rc;
        return;
    }
    struct trace_req r;
    int              rc;
    while ((rc = trace_next(t, &r, &out->err)) == 1) {
        ASSERT_TRUE(out->n < MAX_REQS);
        out->r[out->n++] = r;
    }
    out->rc = rc;
    out->c = trace_counts(t);
    trace_close(t);
}

/* Write content as `name` and read it with format fmt (and skip_bad). */
static void run_file(const char *name, const char *content, enum trace_format fmt, int skip_bad,
                     struct run *out, char *path)
{
    put_file(name, content, path);
    struct trace_opts o;
    trace_opts_default(&o);
    o.format = fmt;
    o.path = path;
    o.skip_bad = skip_bad;
    o.arrival = TRACE_ARR_BATCH;
    run_opts(&o, out);
}

static void expect_req(const struct trace_req *r, int64_t arrival_ns, uint32_t prompt,
                       uint32_t output, uint64_t id)
{
    ASSERT_EQ(r->arrival_ns, arrival_ns);
    ASSERT_EQ(r->prompt_tok, prompt);
    ASSERT_EQ(r->output_tok, output);
    ASSERT_EQ(r->id, id);
}

/* ---- good files ---- */

#define AZ      "TIMESTAMP,ContextTokens,GeneratedTokens\n"
#define AZ_ROW1 "2023-11-16 18:15:46.6805900,374,44\n"
#define AZ_ROW3 "2023-11-16 18:15:52.0000000,5,6\n"
/* BurstGPT (issue 12): header, rows 2 and 4 good. */
#define BG      "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
#define BG_ROW1 "5,ChatGPT,472,18,490,Conversation log\n"
#define BG_ROW3 "45,GPT-4,1087,357,1444,API log\n"
#define LN      "num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio\n"
#define CS      "arrival_s,prompt_tokens,output_tokens\n"
#define MC1     "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 6}\n"
#define MC3     "{\"timestamp\": 9, \"input_length\": 5, \"output_length\": 6}\n"
#define VD      "arrived_at,num_prefill_tokens,num_decode_tokens\n" /* issue 10 (tables) */

TEST(test_azure_good)
{
    char       path[512];
    struct run r;
    /* The real files end without a newline after the last row; that row must count. */
    run_file("a.csv",
             "TIMESTAMP,ContextTokens,GeneratedTokens\n"
             "2023-11-16 18:15:46.6805900,374,44\n"
             "2023-11-16 18:15:50.9951690,396,109\n"
             "2023-11-16 18:15:50.9951690,7,1",
             TRACE_FMT_AZURE, 0, &r, path);
    ASSERT_EQ(r.rc, 0);
    ASSERT_EQ(r.n, 3);
    expect_req(&r.r[0], 0, 374, 44, 0);
    expect_req(&r.r[1], 4314579000, 396, 109, 1);
    expect_req(&r.r[2], 4314579000, 7, 1, 2);
    ASSERT_EQ(r.c.rows, 3);
    ASSERT_EQ(r.c.yielded, 3);

    /* CRLF line endings, a trailing newline, and AUTO detection. */
    run_file("b.csv",
             "TIMESTAMP,ContextTokens,GeneratedTokens\r\n"
             "2023-12-31 23:59:59.9999999,10,20\r\n"
             "2024-01-01 00:00:00.0000000,11,21\r\n"
             "2024-02-28 23:59:59.9999999,12,22\r\n"
             "2024-03-01 00:00:00,13,23\r\n",
             TRACE_FMT_AUTO, 0, &r, path);
    ASSERT_EQ(r.rc, 0);
    ASSERT_EQ(r.n, 4);
    expect_req(&r.r[0], 0, 10, 20, 0);
    expect_req(&r.r[1], 100, 11, 21, 1);
    /* 2024 is a leap year: from 2024-01-01 to 2024-02-29 is 31 + 28 days, to 03-01 60 days;
     * the first row is 100 ns before 2024-01-01. */
    expect_req(&r.r[2], INT64_C(59) * 86400 * SIM_NS_PER_S, 12, 22, 2);
    expect_req(&r.r[3], INT64_C(60) * 86400 * SIM_NS_PER_S + 100, 13, 23, 3);
}

TEST(test_datetime)
{
    static const struct {
        const char *s;
        int         rc;
        int64_t     ns; /* from Python: datetime(...,tzinfo=utc).timestamp() */
    } cases[] = {
        {"2023-11-16 18:15:46.6805900", 0, INT64_C(1700158546680590000)},
        {"1970-01-01 00:00:00", 0, 0},
        {"2000-02-29 23:59:59.999999999", 0, INT64_C(951868799999999999)},
        {"2200-12-31 23:59:59.9", 0, INT64_C(7289654399900000000)},
        {"2024-03-01 00:00:00.1", 0, INT64_C(1709251200100000000)},
        {"2023-02-29 00:00:00", -2, 0}, /* not a leap year */
        {"1900-02-29 00:00:00", -2, 0}, /* out of range (and not leap) */
        {"2023-13-01 00:00:00", -2, 0},
        {"2023-04-31 00:00:00", -2, 0},
        {"2023-11-16 24:00:00", -2, 0},
        {"2023-11-16 18:60:00", -2, 0},
        {"2201-01-01 00:00:00", -2, 0},
        {"2023-11-16 18:1", -1, 0},      /* cut short */
        {"2023-11-16 18:15:46.", -1, 0}, /* no fractional digits */
        {"2023-11-16 18:15:46.1234567890", -1, 0},
        /* Issue 12: the Azure 2024 trace's UTC offsets (ns from Python's
         * datetime.fromisoformat(s): seconds x 10^9 + microseconds x 1000), ISO's T and Z. */
        {"2024-05-10 00:00:00.009930+00:00", 0, INT64_C(1715299200009930000)},
        {"2024-05-10 02:00:00.5+02:00", 0, INT64_C(1715299200500000000)},
        {"2024-05-09 17:00:00-07:00", 0, INT64_C(1715299200000000000)},
        {"2024-05-10 05:30:00+0530", 0, INT64_C(1715299200000000000)},
        {"2024-05-10T00:00:00Z", 0, INT64_C(1715299200000000000)},
        {"2023-11-16T18:15:46", 0, INT64_C(1700158546000000000)},
        {"2024-05-10 00:00:00+24:00", -1, 0}, /* no such offset */
        {"2024-05-10 00:00:00+00", -1, 0},    /* cut short */
        {"2024-05-10 00:00:00+0x:00", -1, 0},
        {"2023-11-16x18:15:46", -1, 0},
        {"2023-11-16 18:15:4x", -1, 0},
        {"2023-11-16 18:15:46.68x5900", -1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int64_t ns = 0;
        int     rc = trace__parse_datetime(cases[i].s, strlen(cases[i].s), &ns);
        if (rc != cases[i].rc)
            TEST_FAIL_("%s: rc %d, want %d", cases[i].s, rc, cases[i].rc);
        if (rc == 0)
            ASSERT_EQ(ns, cases[i].ns);
    }
}

TEST(test_mooncake_good)
{
    char       path[512];
    struct run r;
    run_file("m.jsonl",
             "{\"timestamp\": 0, \"input_length\": 6758, \"output_length\": 500, "
             "\"hash_ids\": [0, 1, 2]}\n"
             /* other key order, no spaces, unknown keys of every JSON type, empty hash list */
             "{\"hash_ids\":[],\"note\":\"a \\\"quoted\\\" \\u00e9 string\",\"x\":{\"y\":[1,"
             "{\"z\":null}],\"w\":true},\"output_length\":3,\"input_length\":40160,"
             "\"timestamp\":3000,\"f\":-1.5e3,\"g\":false}\n"
             /* fractional milliseconds and no hash_ids; CRLF */
             "  { \"timestamp\" : 3000.25 , \"input_length\" : 1 , \"output_length\" : 2 }  \r\n",
             TRACE_FMT_AUTO, 0, &r, path);
    if (r.rc)
        TEST_FAIL_("%s", r.err.text);
    ASSERT_EQ(r.n, 3);
    expect_req(&r.r[0], 0, 6758, 500, 0);
    expect_req(&r.r[1], 3000 * SIM_NS_PER_MS, 40160, 3, 1);
    expect_req(&r.r[2], 3000 * SIM_NS_PER_MS + 250000, 1, 2, 2);

    /* hash ids are handed out with their row. */
    struct trace_opts o;
    trace_opts_default(&o);
    o.format = TRACE_FMT_MOONCAKE;
    o.path = path;
    trace_t         *t;
    struct sim_msg   err;
    struct trace_req q;
    size_t           n;
    ASSERT_EQ(trace_open(&o, &t, &err), 0);
    ASSERT_EQ(trace_format_of(t), TRACE_FMT_MOONCAKE);
    ASSERT_EQ(trace_next(t, &q, &err), 1);
    const int64_t *h = trace_hash_ids(t, &n);
    ASSERT_EQ(n, 3);
    ASSERT_EQ(h[0], 0);
    ASSERT_EQ(h[2], 2);
    ASSERT_EQ(trace_next(t, &q, &err), 1);
    ASSERT_TRUE(trace_hash_ids(t, &n) == NULL && n == 0);
    trace_close(t);
}

TEST(test_lengths_good)
{
    char       path[512];
    struct run r;
    /* The bwb file is documented to write counts as integral floats. */
    run_file("l.csv",
             "num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio\n"
             "3772,54,3826,69.85185185185185\n"
             "1037.0,1368.0,2405.0,0.7580409356725146\n"
             "1,2,3,5e-01",
             TRACE_FMT_AUTO, 0, &r, path);
    if (r.rc)
        TEST_FAIL_("%s", r.err.text);
    ASSERT_EQ(r.n, 3);
    expect_req(&r.r[0], 0, 3772, 54, 0); /* batch arrivals: all at 0 */
    expect_req(&r.r[1], 0, 1037, 1368, 1);
    expect_req(&r.r[2], 0, 1, 2, 2);

    /* With a Poisson process the first arrival is at 0 and the rest are increasing. */
    struct trace_opts o;
    trace_opts_default(&o);
    o.format = TRACE_FMT_LENGTHS;
    o.path = path;
    o.rate = 2.0;
    run_opts(&o, &r);
    ASSERT_EQ(r.rc, 0);
    ASSERT_EQ(r.n, 3);
    ASSERT_EQ(r.r[0].arrival_ns, 0);
    ASSERT_TRUE(r.r[1].arrival_ns > 0 && r.r[2].arrival_ns > r.r[1].arrival_ns);
    ASSERT_EQ(r.r[2].prompt_tok, 1);
}

TEST(test_csv_good)
{
    char       path[512];
    struct run r;
    /* Times are relative to the first row; exponent notation is what Python writes for small
     * floats. */
    run_file("g.csv",
             "arrival_s,prompt_tokens,output_tokens\n"
             "5,100,10\n"
             "5.000001,200,20\n"
             "7.5,300,30\n"
             "7.5,1,1\n",
             TRACE_FMT_AUTO, 0, &r, path);
    if (r.rc)
        TEST_FAIL_("%s", r.err.text);
    ASSERT_EQ(r.n, 4);
    expect_req(&r.r[0], 0, 100, 10, 0);
    expect_req(&r.r[1], 1000, 200, 20, 1);
    expect_req(&r.r[2], 2500000000, 300, 30, 2);
    expect_req(&r.r[3], 2500000000, 1, 1, 3);

    /* Issue 12: blanks after the commas, in the header and the rows. */
    run_file("sp.csv",
             "arrival_s, prompt_tokens, output_tokens\n"
             "5, 100, 10\n"
             "7.5 ,\t300 , 30\n",
             TRACE_FMT_AUTO, 0, &r, path);
    if (r.rc)
        TEST_FAIL_("%s", r.err.text);
    ASSERT_EQ(r.n, 2);
    expect_req(&r.r[0], 0, 100, 10, 0);
    expect_req(&r.r[1], 2500000000, 300, 30, 1);

    /* Issue 12: BurstGPT, told by its header; times are seconds, relative to the first row. */
    run_file("b.csv", BG BG_ROW1 BG_ROW3, TRACE_FMT_AUTO, 0, &r, path);
    if (r.rc)
        TEST_FAIL_("%s", r.err.text);
    ASSERT_EQ(r.n, 2);
    expect_req(&r.r[0], 0, 472, 18, 0);
    expect_req(&r.r[1], 40 * SIM_NS_PER_S, 1087, 357, 1);

    /* Issue 12: an Azure 2024 file, its times with a UTC offset and microseconds: the second
     * row is 1.5 s after the first, written in another offset. */
    run_file("a24.csv",
             "TIMESTAMP,ContextTokens,GeneratedTokens\n"
             "2024-05-10 00:00:00.009930+00:00,100,10\n"
             "2024-05-10 02:00:01.509930+02:00,200,20\n",
             TRACE_FMT_AUTO, 0, &r, path);
    if (r.rc)
        TEST_FAIL_("%s", r.err.text);
    ASSERT_EQ(r.n, 2);
    expect_req(&r.r[0], 0, 100, 10, 0);
    expect_req(&r.r[1], 1500000000, 200, 20, 1);

    run_file("gid.csv",
             "arrival_s,prompt_tokens,output_tokens,id\n"
             "0,100,10,42\n"
             "1e-05,200,20,7\n",
             TRACE_FMT_CSV, 0, &r, path);
    if (r.rc)
        TEST_FAIL_("%s", r.err.text);
    ASSERT_EQ(r.n, 2);
    expect_req(&r.r[0], 0, 100, 10, 42);
    expect_req(&r.r[1], 10000, 200, 20, 7);
}

/* issue 10 (tables): Vidur's workload files, told by their header; arrived_at is simulated time
 * itself (Vidur's trace_replay_request_generator.py subtracts nothing), so the first request
 * arrives at 1.601945 s, not at 0. */
TEST(test_vidur_good)
{
    char       path[512];
    struct run r;
    run_file("w.csv", VD "1.601945,2279,85\n2.862164,1182,401\n2.862164,1,1\n", TRACE_FMT_AUTO, 0,
             &r, path);
    if (r.rc)
        TEST_FAIL_("%s", r.err.text);
    ASSERT_EQ(r.n, 3);
    expect_req(&r.r[0], 1601945000, 2279, 85, 0);
    expect_req(&r.r[1], 2862164000, 1182, 401, 1);
    expect_req(&r.r[2], 2862164000, 1, 1, 2);
    /* The shipped workloads, when the data directory is here: the token totals the data's
     * README gives for the 1,000-request file (1,161,863 prompt, 215,781 output tokens). */
    struct trace_opts o;
    trace_opts_default(&o);
    o.format = TRACE_FMT_AUTO;
    o.path = LENSIM_SOURCE_ROOT "/../shared/data/vidur/workloads/conv_n1000_qps2.0_seed42.csv";
    trace_t *t;
    if (access(o.path, R_OK))
        return;
    struct sim_msg err;
    if (trace_open(&o, &t, &err))
        TEST_FAIL_("%s", err.text);
    struct trace_req q;
    uint64_t         n = 0, p = 0, d = 0;
    int              rc;
    while ((rc = trace_next(t, &q, &err)) == 1)
        n++, p += q.prompt_tok, d += q.output_tok;
    trace_close(t);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(n, 1000);
    ASSERT_EQ(p, 1161863);
    ASSERT_EQ(d, 215781);
}

TEST(test_header_only_and_bom)
{
    char       path[512];
    struct run r;
    run_file("h.csv", "TIMESTAMP,ContextTokens,GeneratedTokens", TRACE_FMT_AUTO, 0, &r, path);
    ASSERT_EQ(r.open_rc, 0);
    ASSERT_EQ(r.rc, 0);
    ASSERT_EQ(r.n, 0);
    run_file("bom.csv",
             "\xef\xbb\xbf"
             "arrival_s,prompt_tokens,output_tokens\n0,1,1\n",
             TRACE_FMT_AUTO, 0, &r, path);
    ASSERT_EQ(r.rc, 0);
    ASSERT_EQ(r.n, 1);
    run_file("bom.jsonl", "\xef\xbb\xbf" MC1, TRACE_FMT_AUTO, 0, &r, path);
    if (r.rc)
        TEST_FAIL_("%s", r.err.text);
    ASSERT_EQ(r.n, 1);
}

/* ---- bad input ---- */

struct bad_case {
    enum trace_format fmt;
    const char       *content;
    int               line;    /* 0: the message has no line number; -1: open fails */
    const char       *msg;     /* expected after "path:line: " */
    size_t            yielded; /* requests with skip_bad */
    uint64_t          skipped; /* rows skipped with skip_bad */
};

static const struct bad_case bad_cases[] = {
    /* columns */
    {TRACE_FMT_AZURE, AZ AZ_ROW1 "2023-11-16 18:15:47.0,374\n" AZ_ROW3, 3,
     "expected 3 fields (TIMESTAMP,ContextTokens,GeneratedTokens), got 2", 2, 1},
    {TRACE_FMT_AZURE, AZ AZ_ROW1 "2023-11-16 18:15:47.0,374,1,2\n" AZ_ROW3, 3,
     "expected 3 fields (TIMESTAMP,ContextTokens,GeneratedTokens), got 4", 2, 1},
    {TRACE_FMT_AZURE, AZ AZ_ROW1 "\n" AZ_ROW3, 3, "empty line", 2, 1},
    /* numbers */
    {TRACE_FMT_AZURE, AZ AZ_ROW1 "2023-11-16 18:15:47.0,abc,1\n" AZ_ROW3, 3,
     "ContextTokens: not a number: \"abc\"", 2, 1},
    {TRACE_FMT_AZURE, AZ AZ_ROW1 "2023-11-16 18:15:47.0,12,\n" AZ_ROW3, 3,
     "GeneratedTokens: empty field", 2, 1},
    /* Blanks around a field are dropped (issue 12), blanks inside one are not. */
    {TRACE_FMT_AZURE, AZ AZ_ROW1 "2023-11-16 18:15:47.0, 1 2,1\n" AZ_ROW3, 3,
     "ContextTokens: not a number: \"1 2\"", 2, 1},
    /* BurstGPT (issue 12): failed rows of the logged service, sums, columns, text fields. */
    {TRACE_FMT_BURSTGPT, BG BG_ROW1 "10,ChatGPT,300,0,300,API log\n" BG_ROW3, 3,
     "Response tokens: 0, a request that failed in the logged service", 2, 1},
    {TRACE_FMT_BURSTGPT, BG BG_ROW1 "10,ChatGPT,300,20,321,API log\n" BG_ROW3, 3,
     "Total tokens: 321 is not Request tokens + Response tokens (320)", 2, 1},
    {TRACE_FMT_BURSTGPT, BG BG_ROW1 "10,ChatGPT,300,20,320\n" BG_ROW3, 3,
     "expected 6 fields (Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type), "
     "got 5",
     2, 1},
    {TRACE_FMT_BURSTGPT, BG BG_ROW1 "10,,300,20,320,API log\n" BG_ROW3, 3, "Model: empty field", 2,
     1},
    /* The first and last fields empty: each named as empty, not as "not a number". */
    {TRACE_FMT_BURSTGPT, BG BG_ROW1 "10,ChatGPT,300,20,320,\n" BG_ROW3, 3, "Log Type: empty field",
     2, 1},
    {TRACE_FMT_BURSTGPT, BG BG_ROW1 ",ChatGPT,300,20,320,API log\n" BG_ROW3, 3,
     "Timestamp: empty field", 2, 1},
    {TRACE_FMT_BURSTGPT, BG BG_ROW1 "ten,GPT-4,300,20,320,API log\n" BG_ROW3, 3,
     "Timestamp: not a number: \"ten\"", 2, 1},
    {TRACE_FMT_BURSTGPT, BG BG_ROW1 "4,GPT-4,300,20,320,API log\n" BG_ROW3, 3,
     "timestamp goes backwards", 2, 1},
    {TRACE_FMT_BURSTGPT, "Timestamp,Model,Request tokens,Response tokens\n" BG_ROW1, -1,
     "1: expected the header", 0, 0},
    /* Azure 2024: an offset that is not one. */
    {TRACE_FMT_AZURE, AZ AZ_ROW1 "2023-11-16 18:15:47.0+25:00,12,1\n" AZ_ROW3, 3,
     "TIMESTAMP: bad timestamp", 2, 1},
    {TRACE_FMT_AZURE, AZ AZ_ROW1 "2023-11-16 18:15:47.0,12,-5\n" AZ_ROW3, 3,
     "GeneratedTokens: negative value: \"-5\"", 2, 1},
    {TRACE_FMT_AZURE, AZ AZ_ROW1 "2023-11-16 18:15:47.0,20000000,5\n" AZ_ROW3, 3,
     "ContextTokens: absurd value \"20000000\" (more than 10000000)", 2, 1},
    {TRACE_FMT_AZURE, AZ AZ_ROW1 "2023-11-16 18:15:47.0,99999999999999999999999,5\n" AZ_ROW3, 3,
     "ContextTokens: absurd value", 2, 1},
    {TRACE_FMT_AZURE, AZ AZ_ROW1 "2023-11-16 18:15:47.0,12,0\n" AZ_ROW3, 3,
     "GeneratedTokens: must be at least 1 token, got 0", 2, 1},
    {TRACE_FMT_AZURE, AZ AZ_ROW1 "2023-11-16 18:15:47.0,0,3\n" AZ_ROW3, 3,
     "ContextTokens: must be at least 1 token, got 0", 2, 1},
    {TRACE_FMT_AZURE, AZ AZ_ROW1 "2023-11-16 18:15:47.0,12.0,3\n" AZ_ROW3, 3,
     "ContextTokens: not an integer: \"12.0\"", 2, 1},
    /* timestamps */
    {TRACE_FMT_AZURE, AZ AZ_ROW1 "2023-11-16 18:15:45.5,12,3\n" AZ_ROW3, 3,
     "timestamp goes backwards (-1.18059 < 0)", 2, 1},
    {TRACE_FMT_AZURE, AZ AZ_ROW1 "2023-11-16 18:15:47.0,1,1\n2023-11-16 18:15:46.5,12,3\n" AZ_ROW3,
     4, "timestamp goes backwards (-0.18059 < 0.31941)", 3, 1},
    {TRACE_FMT_AZURE, AZ AZ_ROW1 "2023-02-29 18:15:47.0,12,3\n" AZ_ROW3, 3,
     "TIMESTAMP: no such date or time: \"2023-02-29 18:15:47.0\"", 2, 1},
    {TRACE_FMT_AZURE, AZ AZ_ROW1 "16/11/2023 18:15:47,12,3\n" AZ_ROW3, 3,
     "TIMESTAMP: bad timestamp \"16/11/2023 18:15:47\"", 2, 1},
    /* a last line cut mid-field (no newline) */
    {TRACE_FMT_AZURE, AZ AZ_ROW1 "2023-11-16 18:1", 3,
     "expected 3 fields (TIMESTAMP,ContextTokens,GeneratedTokens), got 1 (the last line has no "
     "newline: truncated file?)",
     1, 1},
    {TRACE_FMT_AZURE, AZ AZ_ROW1 "2023-11-16 18:15:47.0,12,", 3,
     "GeneratedTokens: empty field (the last line has no newline", 1, 1},
    {TRACE_FMT_CSV,
     CS "0,1,1\n"
        "1.5,12,",
     3, "output_tokens: empty field (the last line", 1, 1},
    /* headers and empty files: open fails whatever skip_bad says */
    {TRACE_FMT_AZURE, "", -1, "empty", 0, 0},
    {TRACE_FMT_AUTO, "", -1, "empty", 0, 0},
    {TRACE_FMT_AZURE, "TIMESTAMP,ContextTokens\n" AZ_ROW1, -1,
     "1: expected the header \"TIMESTAMP,ContextTokens,GeneratedTokens\", got "
     "\"TIMESTAMP,ContextTokens\"",
     0, 0},
    {TRACE_FMT_AUTO, "time,in,out\n1,2,3\n", -1, "1: cannot tell the trace format", 0, 0},
    {TRACE_FMT_CSV, "arrival_s,prompt_tokens,output_tokens,name\n", -1,
     "1: expected the header \"arrival_s,prompt_tokens,output_tokens\" (and optionally \",id\")", 0,
     0},
    /* generic CSV */
    {TRACE_FMT_CSV, CS "0,1,1\n-1,2,2\n2,3,3\n", 3, "arrival_s: negative value: \"-1\"", 2, 1},
    {TRACE_FMT_CSV, CS "0,1,1\nnan,2,2\n2,3,3\n", 3, "arrival_s: not a number: \"nan\"", 2, 1},
    {TRACE_FMT_CSV, CS "0,1,1\n1e300,2,2\n2,3,3\n", 3, "arrival_s: absurd value", 2, 1},
    {TRACE_FMT_CSV, CS "0,1,1\n0.5,2,2,9\n2,3,3\n", 3,
     "expected 3 fields (arrival_s,prompt_tokens,output_tokens), got 4", 2, 1},
    {TRACE_FMT_CSV, CS "1,1,1\n0.5,2,2\n2,3,3\n", 3, "timestamp goes backwards (-0.5 < 0)", 2, 1},
    {TRACE_FMT_CSV, "arrival_s,prompt_tokens,output_tokens,id\n0,1,1,1\n1,2,2,x\n2,3,3,3\n", 3,
     "id: not a number: \"x\"", 2, 1},
    /* lengths-only */
    {TRACE_FMT_LENGTHS, LN "3,4,7,0.75\n1037.5,1368,2405.5,0.75\n1,2,3,0.5\n", 3,
     "num_prefill_tokens: not an integer: \"1037.5\"", 2, 1},
    {TRACE_FMT_LENGTHS, LN "3,4,7,0.75\n10,20,31,0.5\n1,2,3,0.5\n", 3,
     "num_total_tokens: 31 is not num_prefill_tokens + num_decode_tokens = 30", 2, 1},
    {TRACE_FMT_LENGTHS, LN "3,4,7,0.75\n10,20,30,x\n1,2,3,0.5\n", 3,
     "pd_ratio: not a non-negative number: \"x\"", 2, 1},
    {TRACE_FMT_LENGTHS, LN "3,4,7,0.75\n10,0,10,inf\n1,2,3,0.5\n", 3,
     "num_decode_tokens: must be at least 1 token, got 0", 2, 1},
    /* Mooncake JSONL (no header: the first row is line 1) */
    {TRACE_FMT_MOONCAKE, MC1 "{\"timestamp\": 1, \"input_length\": 5}\n" MC3, 2,
     "missing key \"output_length\"", 2, 1},
    {TRACE_FMT_MOONCAKE, MC1 "{\"timestamp\": 1, \"input_length\": 5, \"input_length\": 5}\n" MC3,
     2, "duplicate key \"input_length\"", 2, 1},
    {TRACE_FMT_MOONCAKE,
     MC1 "{\"timestamp\": 1, \"input_length\": 5, \"output_length\": 6, "
         "\"hash_ids\": [1, 2.5]}\n" MC3,
     2, "hash_ids[1]: not an integer: \"2.5\"", 2, 1},
    {TRACE_FMT_MOONCAKE,
     MC1 "{\"timestamp\": 1, \"input_length\": 5, \"output_length\": 6, "
         "\"hash_ids\": [1, \"2\"]}\n" MC3,
     2, "hash_ids[1]: expected an integer", 2, 1},
    {TRACE_FMT_MOONCAKE,
     MC1 "{\"timestamp\": 1, \"input_length\": 5, \"output_length\": 6, "
         "\"hash_ids\": 7}\n" MC3,
     2, "hash_ids: expected a list of integers", 2, 1},
    {TRACE_FMT_MOONCAKE,
     MC1 "{\"timestamp\": 1, \"input_length\": 5.5, \"output_length\": 6}\n" MC3, 2,
     "input_length: not an integer: \"5.5\"", 2, 1},
    {TRACE_FMT_MOONCAKE,
     MC1 "{\"timestamp\": 1, \"input_length\": \"5\", \"output_length\": 6}\n" MC3, 2,
     "input_length: expected an integer", 2, 1},
    {TRACE_FMT_MOONCAKE, MC1 "{\"timestamp\": -1, \"input_length\": 5, \"output_length\": 6}\n" MC3,
     2, "timestamp: negative value", 2, 1},
    {TRACE_FMT_MOONCAKE, MC1 "{\"timestamp\": 1, \"input_length\": 5, \"output_length\": 0}\n" MC3,
     2, "output_length: must be at least 1 token, got 0", 2, 1},
    {TRACE_FMT_MOONCAKE,
     MC1 "{\"timestamp\": 1, \"input_length\": 5, \"output_length\": 6} x\n" MC3, 2,
     "JSON: unexpected text after the object at column", 2, 1},
    {TRACE_FMT_MOONCAKE, MC1 "{\"timestamp\": 1, \"input_length\": 5 \"output_length\": 6}\n" MC3,
     2, "JSON: expected ',' or '}' at column 36", 2, 1},
    {TRACE_FMT_MOONCAKE, MC1 "{\"timestamp\": 1, \"note\": \"open, \"input_length\": 5}\n" MC3, 2,
     "JSON: expected ',' or '}'", 2, 1},
    {TRACE_FMT_MOONCAKE, MC1 "{\"timestamp\": 1, \"note\": \"unterminated\n" MC3, 2,
     "JSON: unterminated string", 2, 1},
    {TRACE_FMT_MOONCAKE, MC1 "[1, 2]\n" MC3, 2, "JSON: expected '{' at column 1", 2, 1},
    {TRACE_FMT_MOONCAKE, MC1 "{\"timestamp\": 1, \"x\": tru, \"input_length\": 5}\n" MC3, 2,
     "JSON: expected a value", 2, 1},
    {TRACE_FMT_MOONCAKE,
     MC1 "{\"timestamp\": 1, \"x\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]"
         "]]]]]]]]]]]]]]]]]]], \"input_length\": 5, \"output_length\": 6}\n" MC3,
     2, "JSON: nested too deeply", 2, 1},
    {TRACE_FMT_MOONCAKE,
     "{\"timestamp\": 5, \"input_length\": 5, \"output_length\": 6}\n"
     "{\"timestamp\": 4, \"input_length\": 5, \"output_length\": 6}\n" MC3,
     2, "timestamp goes backwards (-0.001 < 0)", 2, 1},
    {TRACE_FMT_MOONCAKE, MC1 "\n" MC3, 2, "empty line", 2, 1},
    /* issue 10 (tables): Vidur's trace_replay CSV */
    {TRACE_FMT_VIDUR, VD "1.5,10,2\n1.25,3,3\n2,4,4\n", 3, "timestamp goes backwards (1.25 < 1.5)",
     2, 1},
    {TRACE_FMT_VIDUR, VD "1.5,10,2\n1.75,3\n2,4,4\n", 3,
     "expected 3 fields (arrived_at,num_prefill_tokens,num_decode_tokens), got 2", 2, 1},
    {TRACE_FMT_VIDUR, VD "1.5,10,2\n1.75,0,3\n2,4,4\n", 3,
     "num_prefill_tokens: must be at least 1 token, got 0", 2, 1},
    {TRACE_FMT_VIDUR, VD "1.5,10,2\n1.75,3,2.5\n2,4,4\n", 3,
     "num_decode_tokens: not an integer: \"2.5\"", 2, 1},
    {TRACE_FMT_VIDUR, VD "1.5,10,2\n-1,3,3\n2,4,4\n", 3, "arrived_at: negative value: \"-1\"", 2,
     1},
    {TRACE_FMT_VIDUR, VD "1.5,10,2\nx,3,3\n2,4,4\n", 3, "arrived_at: not a number: \"x\"", 2, 1},
    {TRACE_FMT_VIDUR, "arrived_at,num_prefill_tokens\n1,2\n", -1,
     "1: expected the header \"arrived_at,num_prefill_tokens,num_decode_tokens\"", 0, 0},
};

TEST(test_bad_input)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        const struct bad_case *b = &bad_cases[i];
        char                   name[32], path[512], want[1024];
        snprintf(name, sizeof name, "bad%zu.%s", i, b->fmt == TRACE_FMT_MOONCAKE ? "jsonl" : "csv");
        struct run r;
        run_file(name, b->content, b->fmt, 0, &r, path);
        if (b->line > 0)
            snprintf(want, sizeof want, "%s:%d: %s", path, b->line, b->msg);
        else
            snprintf(want, sizeof want, "%s:%s%s", path,
                     b->line < 0 && isdigit(b->msg[0]) ? "" : " ", b->msg);
        if (r.rc != SIM_EINPUT || !strstr(r.err.text, want))
            TEST_FAIL_("case %zu: rc %d, message \"%s\", want SIM_EINPUT and \"%s\"", i, r.rc,
                       r.err.text, want);
        if (b->line < 0)
            ASSERT_EQ(r.open_rc, SIM_EINPUT);

        /* skip_bad: the bad row is skipped and counted, the others come through. */
        run_file(name, b->content, b->fmt, 1, &r, path);
        if (b->line < 0) {
            ASSERT_EQ(r.open_rc, SIM_EINPUT);
            continue;
        }
        if (r.rc != 0 || r.n != b->yielded || r.c.skipped_bad != b->skipped)
            TEST_FAIL_("case %zu with skip_bad: rc %d (%s), %zu yielded (want %zu), %llu skipped "
                       "(want %llu)",
                       i, r.rc, r.rc ? r.err.text : "", r.n, b->yielded,
                       (unsigned long long)r.c.skipped_bad, (unsigned long long)b->skipped);
    }
}

/* After an error trace_next keeps returning it, with the same message. */
TEST(test_error_is_sticky)
{
    char path[512];
    put_file("sticky.csv", CS "0,1,1\n1,x,1\n2,1,1\n", path);
    struct trace_opts o;
    trace_opts_default(&o);
    o.format = TRACE_FMT_AUTO;
    o.path = path;
    trace_t         *t;
    struct sim_msg   e1, e2;
    struct trace_req r;
    ASSERT_EQ(trace_open(&o, &t, &e1), 0);
    ASSERT_EQ(trace_next(t, &r, &e1), 1);
    ASSERT_EQ(trace_next(t, &r, &e1), SIM_EINPUT);
    memset(&e2, 0, sizeof e2);
    ASSERT_EQ(trace_next(t, &r, &e2), SIM_EINPUT);
    ASSERT_TRUE(!strcmp(e1.text, e2.text));
    ASSERT_EQ(trace_next(t, &r, NULL), SIM_EINPUT);
    trace_close(t);

    put_file("end.csv", CS "0,1,1\n", path);
    ASSERT_EQ(trace_open(&o, &t, &e1), 0);
    ASSERT_EQ(trace_next(t, &r, &e1), 1);
    ASSERT_EQ(trace_next(t, &r, &e1), 0);
    ASSERT_EQ(trace_next(t, &r, &e1), 0);
    trace_close(t);
}

/* A line over the cap is an error that names the cap, and reading it costs no more memory
 * than the reader's fixed buffer (runs first, so that the allocator's peak is still low). */
TEST(test_long_line)
{
    size_t big = 8u << 20;
    char  *content = malloc(big + 200);
    ASSERT_TRUE(content);
    size_t k = (size_t)sprintf(content, CS "0,1,1\n"), nines = k;
    memset(content + k, '9', big);
    k += big;
    k += (size_t)sprintf(content + k, ",1,1\n2,3,3\n");
    char path[512];
    put_file_n("long.csv", content, k, path);

    struct sim_alloc_stats before = sim_alloc_stats();
    ASSERT_TRUE(before.peak_bytes < (1u << 20)); /* otherwise the check below proves nothing */
    struct trace_opts o;
    trace_opts_default(&o);
    o.format = TRACE_FMT_CSV;
    o.path = path;
    struct run r;
    run_opts(&o, &r);
    char want[600];
    snprintf(want, sizeof want, "%s:3: line longer than 262144 bytes", path);
    ASSERT_EQ(r.rc, SIM_EINPUT);
    ASSERT_STR_CONTAINS(r.err.text, want);
    ASSERT_TRUE(sim_alloc_stats().peak_bytes < before.live_bytes + (1u << 20));

    o.skip_bad = 1;
    run_opts(&o, &r);
    ASSERT_EQ(r.rc, 0);
    ASSERT_EQ(r.n, 2);
    ASSERT_EQ(r.c.skipped_bad, 1);
    ASSERT_EQ(r.r[1].arrival_ns, 2 * SIM_NS_PER_S);

    /* A file with no newline at all: the "header" is too long. */
    put_file_n("nonl.csv", content + nines, big, path);
    o.skip_bad = 0;
    o.format = TRACE_FMT_AUTO;
    run_opts(&o, &r);
    snprintf(want, sizeof want, "%s:1: line longer than 262144 bytes", path);
    ASSERT_EQ(r.open_rc, SIM_EINPUT);
    ASSERT_STR_CONTAINS(r.err.text, want);
    ASSERT_TRUE(sim_alloc_stats().peak_bytes < before.live_bytes + (1u << 20));
    free(content);

    /* A line that never ends (/dev/zero) is reported at once, not read to an end that never
     * comes; the alarm turns a hang into a failure. */
    alarm(30);
    o.path = "/dev/zero";
    run_opts(&o, &r);
    ASSERT_EQ(r.open_rc, SIM_EINPUT);
    ASSERT_STR_CONTAINS(r.err.text, "/dev/zero:1: line longer than 262144 bytes");
    o.format = TRACE_FMT_MOONCAKE; /* no header: the first line is a data row */
    run_opts(&o, &r);
    ASSERT_EQ(r.rc, SIM_EINPUT);
    ASSERT_STR_CONTAINS(r.err.text, "/dev/zero:1: line longer than 262144 bytes");
    alarm(0);
    o.format = TRACE_FMT_AUTO;
    o.path = path;

    /* 262144 bytes exactly is still accepted. */
    size_t edge = 262144;
    content = malloc(edge + 100);
    ASSERT_TRUE(content);
    k = (size_t)sprintf(content, CS);
    size_t line0 = k;
    k += (size_t)sprintf(content + k, "0,1,");
    memset(content + k, '0', edge - (k - line0) - 1);
    k = line0 + edge - 1;
    content[k++] = '7';
    content[k++] = '\n';
    put_file_n("edge.csv", content, k, path);
    run_opts(&o, &r);
    if (r.rc)
        TEST_FAIL_("%s", r.err.text);
    ASSERT_EQ(r.n, 1);
    ASSERT_EQ(r.r[0].output_tok, 7);
    content[k - 1] = '7'; /* one more byte: rejected */
    content[k++] = '\n';
    put_file_n("edge2.csv", content, k, path);
    run_opts(&o, &r);
    ASSERT_EQ(r.rc, SIM_EINPUT);
    free(content);
}

TEST(test_missing_file)
{
    struct trace_opts o;
    trace_opts_default(&o);
    o.format = TRACE_FMT_AUTO;
    char path[512];
    snprintf(path, sizeof path, "%s/nope.csv", tmpdir);
    o.path = path;
    struct run r;
    run_opts(&o, &r);
    ASSERT_EQ(r.open_rc, SIM_ENOENT);
    ASSERT_STR_CONTAINS(r.err.text, "nope.csv: no such file");

    /* A directory: invalid input like a missing file (exit status 2), no longer a read error
     * (3): issue 15 asks one status per situation across commands. */
    o.path = tmpdir;
    run_opts(&o, &r);
    ASSERT_EQ(r.open_rc, SIM_EINPUT);
    ASSERT_STR_CONTAINS(r.err.text, tmpdir);
    ASSERT_STR_CONTAINS(r.err.text, ": is a directory, not a file");
}

/* ---- options every source honours ---- */

static const char ten_rows[] = CS "10,1,10\n11,2,9\n12,3,8\n13,4,7\n14,5,6\n15,6,5\n16,7,4\n"
                                  "17,8,3\n18,9,2\n19,10,1\n";

TEST(test_window_scale_caps)
{
    char path[512];
    put_file("ten.csv", ten_rows, path);
    struct trace_opts o;
    trace_opts_default(&o);
    o.format = TRACE_FMT_CSV;
    o.path = path;
    struct run r;

    /* Window [2.5, 6) s after the first row: rows at 3, 4, 5, shifted to start at 0. */
    o.t_start_s = 2.5;
    o.t_end_s = 6;
    run_opts(&o, &r);
    ASSERT_EQ(r.rc, 0);
    ASSERT_EQ(r.n, 3);
    expect_req(&r.r[0], 500000000, 4, 7, 0);
    expect_req(&r.r[2], 2500000000, 6, 5, 2);
    ASSERT_EQ(r.c.rows, 7); /* reading stops at the first row past the window */

    /* ... and twice as fast. */
    o.rate_scale = 2;
    run_opts(&o, &r);
    ASSERT_EQ(r.n, 3);
    ASSERT_EQ(r.r[0].arrival_ns, 250000000);
    ASSERT_EQ(r.r[2].arrival_ns, 1250000000);

    /* The end is exclusive; the start inclusive. */
    o.rate_scale = 0; /* 0 means 1 */
    o.t_start_s = 3;
    o.t_end_s = 5;
    run_opts(&o, &r);
    ASSERT_EQ(r.n, 2);
    expect_req(&r.r[0], 0, 4, 7, 0);
    expect_req(&r.r[1], SIM_NS_PER_S, 5, 6, 1);

    /* max_requests, and caps (clamped and counted). */
    o.t_start_s = o.t_end_s = 0;
    o.max_requests = 4;
    o.max_prompt_tok = 2;
    o.max_output_tok = 8;
    run_opts(&o, &r);
    ASSERT_EQ(r.n, 4);
    ASSERT_EQ(r.c.rows, 4);
    expect_req(&r.r[0], 0, 1, 8, 0);
    expect_req(&r.r[3], 3 * SIM_NS_PER_S, 2, 7, 3);
    ASSERT_EQ(r.c.clamped_prompt, 2);
    ASSERT_EQ(r.c.clamped_output, 2);

    /* Bad options. */
    o.max_requests = 0;
    o.t_start_s = 5;
    o.t_end_s = 5;
    run_opts(&o, &r);
    ASSERT_EQ(r.open_rc, SIM_ECONFIG);
    ASSERT_STR_CONTAINS(r.err.text, "t_end_s");
    o.t_start_s = -1;
    o.t_end_s = 0;
    run_opts(&o, &r);
    ASSERT_EQ(r.open_rc, SIM_ECONFIG);
    o.t_start_s = 0;
    o.rate_scale = -2;
    run_opts(&o, &r);
    ASSERT_EQ(r.open_rc, SIM_ECONFIG);
    ASSERT_STR_CONTAINS(r.err.text, "rate_scale");
}

/* The same options on the generator: the window is in generated seconds. */
TEST(test_window_synthetic)
{
    struct trace_opts o;
    trace_opts_default(&o);
    o.seed = 3;
    o.t_end_s = 100;
    trace_t         *t;
    struct sim_msg   err;
    struct trace_req r;
    ASSERT_EQ(trace_open(&o, &t, &err), 0);
    int64_t all[2000];
    size_t  n = 0;
    while (trace_next(t, &r, &err) == 1) {
        ASSERT_TRUE(n < 2000);
        all[n++] = r.arrival_ns;
    }
    trace_close(t);
    ASSERT_TRUE(n > 400 && all[n - 1] < 100 * SIM_NS_PER_S);

    o.t_start_s = 40;
    o.t_end_s = 60;
    o.rate_scale = 4;
    ASSERT_EQ(trace_open(&o, &t, &err), 0);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (all[i] < 40 * SIM_NS_PER_S || all[i] >= 60 * SIM_NS_PER_S)
            continue;
        ASSERT_EQ(trace_next(t, &r, &err), 1);
        ASSERT_NEAR(r.arrival_ns, (all[i] - 40 * SIM_NS_PER_S) / 4.0, 0.5);
        k++;
    }
    ASSERT_EQ(trace_next(t, &r, &err), 0);
    ASSERT_TRUE(k > 50);
    trace_close(t);
}

/* ---- the generator ---- */

/* Gaps of n requests from the given process. */
static double *gaps_of(enum trace_arrival a, double rate, double cv, size_t n, uint64_t seed)
{
    struct trace_opts o;
    trace_opts_default(&o);
    o.arrival = a;
    o.rate = rate;
    o.cv = cv;
    o.seed = seed;
    o.max_requests = n + 1;
    trace_t         *t;
    struct sim_msg   err;
    struct trace_req r;
    ASSERT_EQ(trace_open(&o, &t, &err), 0);
    double *g = malloc(n * sizeof *g);
    ASSERT_TRUE(g);
    int64_t prev = 0;
    ASSERT_EQ(trace_next(t, &r, &err), 1);
    ASSERT_EQ(r.arrival_ns, 0);
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(trace_next(t, &r, &err), 1);
        ASSERT_TRUE(r.arrival_ns >= prev);
        g[i] = (double)(r.arrival_ns - prev) / 1e9;
        prev = r.arrival_ns;
    }
    ASSERT_EQ(trace_next(t, &r, &err), 0);
    trace_close(t);
    return g;
}

/* Gamma(k, theta) gaps: the sample mean is within 5 standard errors (theta sqrt(k/n)) of
 * k theta, and the sample variance within 5 standard errors of k theta^2; the variance of the
 * sample variance is (mu4 - sigma^4) / n with mu4 = 3 k (k + 2) theta^4, i.e.
 * (2 k^2 + 6 k) theta^4 / n. Poisson is k = 1. */
static void check_gamma_gaps(enum trace_arrival a, double rate, double cv, size_t n, uint64_t seed)
{
    double *g = gaps_of(a, rate, cv, n, seed);
    double  k = 1.0 / (cv * cv), theta = cv * cv / rate;
    double  mean = gsl_stats_mean(g, 1, n), var = gsl_stats_variance(g, 1, n);
    double  se_mean = theta * sqrt(k / (double)n);
    double  se_var = theta * theta * sqrt((2 * k * k + 6 * k) / (double)n);
    free(g);
    ASSERT_NEAR(mean, 1.0 / rate, 5 * se_mean);
    ASSERT_NEAR(var, k * theta * theta, 5 * se_var);
    ASSERT_NEAR(sqrt(var) / mean, cv, 0.05 * cv); /* implied by the two above; readable */
}

TEST(test_poisson_rate)
{
    check_gamma_gaps(TRACE_ARR_POISSON, 5.53, 1.0, 200000, 1);
    check_gamma_gaps(TRACE_ARR_POISSON, 1000.0, 1.0, 200000, 2);
}

TEST(test_gamma_cv)
{
    check_gamma_gaps(TRACE_ARR_GAMMA, 5.53, 2.0, 400000, 3);
    check_gamma_gaps(TRACE_ARR_GAMMA, 20.0, 0.5, 200000, 4);
    check_gamma_gaps(TRACE_ARR_GAMMA, 20.0, 1.0, 200000, 5);
}

TEST(test_batch_arrivals)
{
    struct trace_opts o;
    trace_opts_default(&o);
    o.arrival = TRACE_ARR_BATCH;
    o.max_requests = 50;
    struct run r;
    run_opts(&o, &r);
    ASSERT_EQ(r.rc, 0);
    ASSERT_EQ(r.n, 50);
    for (size_t i = 0; i < r.n; i++) {
        ASSERT_EQ(r.r[i].arrival_ns, 0);
        ASSERT_EQ(r.r[i].id, i);
    }
}

/* n log-normal lengths; which = 0 for prompts, 1 for outputs. */
static double *lengths_of(const struct trace_opts *base, size_t n, int which)
{
    struct trace_opts o = *base;
    o.max_requests = n;
    trace_t         *t;
    struct sim_msg   err;
    struct trace_req r;
    ASSERT_EQ(trace_open(&o, &t, &err), 0);
    double *v = malloc(n * sizeof *v);
    ASSERT_TRUE(v);
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(trace_next(t, &r, &err), 1);
        ASSERT_TRUE(r.prompt_tok >= 1 && r.output_tok >= 1);
        v[i] = which ? r.output_tok : r.prompt_tok;
    }
    trace_close(t);
    return v;
}

/* ln(tokens) has mean mu within 5 SE (sigma / sqrt(n)) and sd sigma within 5 SE
 * (sigma / sqrt(2 n)). Large mu, so that rounding to whole tokens is negligible. */
TEST(test_lognormal_params)
{
    struct trace_opts o;
    trace_opts_default(&o);
    o.prompt_mu = 10.0;
    o.prompt_sigma = 0.5;
    o.output_mu = 9.0;
    o.output_sigma = 1.2;
    o.seed = 11;
    size_t n = 100000;
    for (int which = 0; which < 2; which++) {
        double  mu = which ? o.output_mu : o.prompt_mu;
        double  sigma = which ? o.output_sigma : o.prompt_sigma;
        double *v = lengths_of(&o, n, which);
        for (size_t i = 0; i < n; i++)
            v[i] = log(v[i]);
        double m = gsl_stats_mean(v, 1, n), sd = gsl_stats_sd(v, 1, n);
        free(v);
        ASSERT_NEAR(m, mu, 5 * sigma / sqrt((double)n));
        ASSERT_NEAR(sd, sigma, 5 * sigma / sqrt(2.0 * n));
    }
}

/* The defaults (the Azure conv fit): the median of the generated lengths is exp(mu) within
 * 5 SE of a sample median, 1 / (2 f(m) sqrt(n)) with the log-normal density at its median
 * f(m) = 1 / (m sigma sqrt(2 pi)), plus 0.5 for rounding to whole tokens. */
TEST(test_default_lengths)
{
    struct trace_opts o;
    trace_opts_default(&o);
    ASSERT_EQ(o.format, TRACE_FMT_SYNTH);
    ASSERT_EQ(o.arrival, TRACE_ARR_POISSON);
    ASSERT_NEAR(o.rate, 5.53, 0);
    ASSERT_NEAR(o.prompt_mu, 6.6333, 0);
    ASSERT_NEAR(o.prompt_sigma, 0.9852, 0);
    ASSERT_NEAR(o.output_mu, 5.0190, 0);
    ASSERT_NEAR(o.output_sigma, 0.8590, 0);
    size_t n = 100001;
    for (int which = 0; which < 2; which++) {
        double  mu = which ? o.output_mu : o.prompt_mu;
        double  sigma = which ? o.output_sigma : o.prompt_sigma;
        double *v = lengths_of(&o, n, which);
        gsl_sort(v, 1, n);
        double med = gsl_stats_median_from_sorted_data(v, 1, n), m = exp(mu);
        free(v);
        ASSERT_NEAR(med, m,
                    5 * m * sigma * sqrt(2 * 3.14159265358979323846) / (2 * sqrt((double)n)) + 0.5);
    }
}

TEST(test_synth_needs_bound)
{
    struct trace_opts o;
    trace_opts_default(&o);
    struct run r;
    run_opts(&o, &r);
    ASSERT_EQ(r.open_rc, SIM_ECONFIG);
    ASSERT_STR_CONTAINS(r.err.text, "set max_requests or t_end_s");
    o.arrival = TRACE_ARR_BATCH;
    o.t_end_s = 10;
    run_opts(&o, &r);
    ASSERT_EQ(r.open_rc, SIM_ECONFIG);
    ASSERT_STR_CONTAINS(r.err.text, "set max_requests");
    o.arrival = TRACE_ARR_POISSON;
    o.rate = 0;
    run_opts(&o, &r);
    ASSERT_EQ(r.open_rc, SIM_ECONFIG);
    ASSERT_STR_CONTAINS(r.err.text, "rate > 0");
    o.rate = 1;
    o.arrival = TRACE_ARR_GAMMA;
    o.cv = 0;
    run_opts(&o, &r);
    ASSERT_EQ(r.open_rc, SIM_ECONFIG);
    ASSERT_STR_CONTAINS(r.err.text, "cv > 0");
    o.arrival = TRACE_ARR_POISSON;
    o.lengths = TRACE_LEN_EMPIRICAL;
    run_opts(&o, &r);
    ASSERT_EQ(r.open_rc, SIM_ECONFIG);
    ASSERT_STR_CONTAINS(r.err.text, "lengths file");
    o.lengths = TRACE_LEN_LOGNORMAL;
    o.t_end_s = 1; /* fine now */
    run_opts(&o, &r);
    ASSERT_EQ(r.open_rc, 0);
}

static uint64_t hash_reqs(const struct trace_opts *o, size_t n, int what)
{
    trace_t         *t;
    struct sim_msg   err;
    struct trace_req r;
    ASSERT_EQ(trace_open(o, &t, &err), 0);
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(trace_next(t, &r, &err), 1);
        uint64_t x = what == 0   ? (uint64_t)r.arrival_ns
                     : what == 1 ? ((uint64_t)r.prompt_tok << 32 | r.output_tok)
                                 : (uint64_t)r.arrival_ns ^ ((uint64_t)r.prompt_tok << 40) ^
                                       ((uint64_t)r.output_tok << 20);
        h = (h ^ x) * 1099511628211u;
    }
    trace_close(t);
    return h;
}

TEST(test_determinism)
{
    struct trace_opts o;
    trace_opts_default(&o);
    o.max_requests = 5000;
    o.seed = 42;
    uint64_t a = hash_reqs(&o, 5000, 2), b = hash_reqs(&o, 5000, 2);
    ASSERT_TRUE(a == b);
    o.seed = 43;
    ASSERT_TRUE(hash_reqs(&o, 5000, 2) != a);
    uint64_t arr43 = hash_reqs(&o, 5000, 0);
    o.seed = 42;
    ASSERT_TRUE(hash_reqs(&o, 5000, 0) != arr43);

    /* Arrivals and lengths come from separate streams: changing one leaves the other alone. */
    o.seed = 42;
    uint64_t arr = hash_reqs(&o, 5000, 0), len = hash_reqs(&o, 5000, 1);
    o.rate = 50;
    ASSERT_TRUE(hash_reqs(&o, 5000, 1) == len);
    ASSERT_TRUE(hash_reqs(&o, 5000, 0) != arr);
    o.rate = 5.53;
    o.prompt_mu = 7;
    o.output_sigma = 0.1;
    ASSERT_TRUE(hash_reqs(&o, 5000, 0) == arr);
    ASSERT_TRUE(hash_reqs(&o, 5000, 1) != len);
    o.arrival = TRACE_ARR_GAMMA;
    o.cv = 3;
    ASSERT_TRUE(hash_reqs(&o, 5000, 0) != arr);

    /* Processes that draw different amounts of randomness leave the lengths alone, and
     * length models that do leave the arrivals alone. */
    trace_opts_default(&o);
    o.max_requests = 5000;
    len = hash_reqs(&o, 5000, 1);
    arr = hash_reqs(&o, 5000, 0);
    o.arrival = TRACE_ARR_GAMMA;
    o.cv = 0.3;
    ASSERT_TRUE(hash_reqs(&o, 5000, 1) == len);
    o.arrival = TRACE_ARR_BATCH;
    ASSERT_TRUE(hash_reqs(&o, 5000, 1) == len);
    char path[512];
    put_file("det_len.csv",
             "num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio\n"
             "3,4,7,0.75\n5,6,11,0.8\n",
             path);
    o.arrival = TRACE_ARR_POISSON;
    o.lengths = TRACE_LEN_EMPIRICAL;
    o.lengths_path = path;
    ASSERT_TRUE(hash_reqs(&o, 5000, 0) == arr);
    ASSERT_TRUE(hash_reqs(&o, 5000, 1) != len);
}

/* Empirical lengths: every draw is one of the file's pairs, each pair drawn with frequency
 * 1/3 within 5 binomial standard errors. */
TEST(test_empirical_lengths)
{
    char path[512];
    put_file("emp.csv", LN "10,1,11,10\n20,2,22,10\n30,3,33,10\n", path);
    struct trace_opts o;
    trace_opts_default(&o);
    o.lengths = TRACE_LEN_EMPIRICAL;
    o.lengths_path = path;
    o.max_requests = 30000;
    o.seed = 9;
    trace_t         *t;
    struct sim_msg   err;
    struct trace_req r;
    ASSERT_EQ(trace_open(&o, &t, &err), 0);
    size_t count[3] = {0};
    while (trace_next(t, &r, &err) == 1) {
        ASSERT_TRUE(r.prompt_tok == 10 * r.output_tok);
        ASSERT_TRUE(r.output_tok >= 1 && r.output_tok <= 3);
        count[r.output_tok - 1]++;
    }
    trace_close(t);
    double n = 30000, p = 1.0 / 3, se = sqrt(p * (1 - p) / n);
    for (int i = 0; i < 3; i++)
        ASSERT_NEAR(count[i] / n, p, 5 * se);

    /* Any file format works as a lengths file; a bad one reports its own file:line. */
    put_file("emp.jsonl", MC1 MC3, path);
    o.lengths_format = TRACE_FMT_AUTO;
    ASSERT_EQ(trace_open(&o, &t, &err), 0);
    ASSERT_EQ(trace_next(t, &r, &err), 1);
    ASSERT_EQ(r.prompt_tok, 5);
    trace_close(t);
    put_file("emp_bad.csv", LN "10,1,11,10\n20,x,22,10\n", path);
    ASSERT_EQ(trace_open(&o, &t, &err), SIM_EINPUT);
    ASSERT_STR_CONTAINS(err.text, "emp_bad.csv:3: num_decode_tokens: not a number");
    put_file("emp_empty.csv", LN, path);
    ASSERT_EQ(trace_open(&o, &t, &err), SIM_EINPUT);
    ASSERT_STR_CONTAINS(err.text, "no lengths to resample");
}

/* ---- names and paths ---- */

TEST(test_names)
{
    for (int f = TRACE_FMT_AUTO; f <= TRACE_FMT_SYNTH; f++) {
        enum trace_format g;
        ASSERT_EQ(trace_format_parse(trace_format_name((enum trace_format)f), &g), 0);
        ASSERT_EQ(g, f);
    }
    for (int a = TRACE_ARR_POISSON; a <= TRACE_ARR_BATCH; a++) {
        enum trace_arrival b;
        ASSERT_EQ(trace_arrival_parse(trace_arrival_name((enum trace_arrival)a), &b), 0);
        ASSERT_EQ(b, a);
    }
    enum trace_format g;
    ASSERT_EQ(trace_format_parse("json", &g), SIM_ECONFIG);
    ASSERT_EQ(trace_format_parse(NULL, &g), SIM_ECONFIG);
    enum trace_arrival b;
    ASSERT_EQ(trace_arrival_parse("uniform", &b), SIM_ECONFIG);
}

TEST(test_data_dir_and_paths)
{
    char out[600], sub[300], path[512];
    snprintf(sub, sizeof sub, "%s/data", tmpdir);
    ASSERT_TRUE(mkdir(sub, 0700) == 0 || errno == EEXIST);
    snprintf(path, sizeof path, "%s/data/traces", tmpdir);
    ASSERT_TRUE(mkdir(path, 0700) == 0 || errno == EEXIST);
    put_file("data/traces/t.csv", CS "0,1,2\n", path);

    /* The flag wins; an explicit directory that does not exist is an error. */
    ASSERT_EQ(trace_data_dir(sub, out, sizeof out), 0);
    ASSERT_TRUE(!strcmp(out, sub));
    ASSERT_EQ(trace_data_dir("/no/such/dir", out, sizeof out), SIM_ENOENT);
    ASSERT_TRUE(out[0] == '\0');
    ASSERT_EQ(trace_data_dir(sub, out, 4), SIM_ENOENT); /* does not fit */

    /* Then $LENSIM_DATA. */
    const char *old = getenv("LENSIM_DATA");
    char        saved[600] = "";
    if (old)
        snprintf(saved, sizeof saved, "%s", old);
    setenv("LENSIM_DATA", sub, 1);
    ASSERT_EQ(trace_data_dir(NULL, out, sizeof out), 0);
    ASSERT_TRUE(!strcmp(out, sub));
    ASSERT_EQ(trace_data_dir("/", out, sizeof out), 0); /* the flag still wins */
    ASSERT_TRUE(!strcmp(out, "/"));
    setenv("LENSIM_DATA", "/no/such/dir", 1);
    ASSERT_EQ(trace_data_dir(NULL, out, sizeof out), SIM_ENOENT);

    /* Paths: as given when they exist, else under the data directory. */
    ASSERT_EQ(trace_resolve_path(path, "/no/such/dir", out, sizeof out), 0);
    ASSERT_TRUE(!strcmp(out, path));
    ASSERT_EQ(trace_resolve_path("traces/t.csv", sub, out, sizeof out), 0);
    snprintf(path, sizeof path, "%s/traces/t.csv", sub);
    ASSERT_TRUE(!strcmp(out, path));
    ASSERT_EQ(trace_resolve_path("traces/none.csv", sub, out, sizeof out), SIM_ENOENT);
    ASSERT_EQ(trace_resolve_path("/abs/none.csv", sub, out, sizeof out), SIM_ENOENT);
    setenv("LENSIM_DATA", sub, 1);
    ASSERT_EQ(trace_resolve_path("traces/t.csv", NULL, out, sizeof out), 0);
    ASSERT_TRUE(!strcmp(out, path));

    /* trace_open looks under data_dir too. */
    struct trace_opts o;
    trace_opts_default(&o);
    o.format = TRACE_FMT_AUTO;
    o.path = "traces/t.csv";
    o.data_dir = sub;
    struct run r;
    run_opts(&o, &r);
    ASSERT_EQ(r.rc, 0);
    ASSERT_EQ(r.n, 1);
    o.path = "traces/none.csv";
    run_opts(&o, &r);
    ASSERT_EQ(r.open_rc, SIM_ENOENT);
    ASSERT_STR_CONTAINS(r.err.text, "traces/none.csv: no such file (looked here and under ");

    if (old)
        setenv("LENSIM_DATA", saved, 1);
    else
        unsetenv("LENSIM_DATA");
}

/* ---- allocation failures ---- */

/* For n = 1, 2, ...: fail the nth allocation from now on, open and read everything; each
 * attempt must end in SIM_ENOMEM (with a message) and leave no block allocated, until an
 * attempt needs fewer than n allocations and succeeds. */
static void alloc_walk(const struct trace_opts *o, size_t expect_n)
{
    int failures = 0;
    for (uint64_t n = 1; n < 1000; n++) {
        uint64_t       live = sim_alloc_stats().live;
        struct sim_msg err = {{0}};
        trace_t       *t = NULL;
        size_t         got = 0;
        sim_alloc_fail_after(n);
        int rc = trace_open(o, &t, &err);
        if (rc == 0) {
            struct trace_req r;
            while ((rc = trace_next(t, &r, &err)) == 1)
                got++;
            trace_close(t);
        }
        sim_alloc_fail_after(0);
        ASSERT_EQ(sim_alloc_stats().live, live);
        if (rc == 0) {
            ASSERT_EQ(got, expect_n);
            ASSERT_TRUE(failures > 0);
            return;
        }
        if (rc != SIM_ENOMEM)
            TEST_FAIL_("fail after %llu: rc %d (%s)", (unsigned long long)n, rc, err.text);
        ASSERT_STR_CONTAINS(err.text, "out of memory");
        failures++;
    }
    TEST_FAIL_("never succeeded");
}

TEST(test_alloc_failures)
{
    char              path[512], lpath[512];
    struct trace_opts o;
    trace_opts_default(&o);
    o.format = TRACE_FMT_AUTO;
    o.path = path;

    put_file("af.csv", AZ AZ_ROW1 AZ_ROW3, path);
    alloc_walk(&o, 2);
    /* Many hash ids, so that the hash buffer grows several times while reading. */
    char   json[4096];
    size_t k = (size_t)sprintf(json, "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": "
                                     "6, \"hash_ids\": [0");
    for (int i = 1; i < 200; i++)
        k += (size_t)sprintf(json + k, ", %d", i);
    sprintf(json + k, "]}\n" MC3);
    put_file("af.jsonl", json, path);
    alloc_walk(&o, 2);
    put_file("af_len.csv", LN "3,4,7,0.75\n1,2,3,0.5\n", path);
    o.arrival = TRACE_ARR_GAMMA;
    o.cv = 2;
    alloc_walk(&o, 2);
    put_file("af_gen.csv", "arrival_s,prompt_tokens,output_tokens,id\n0,1,1,5\n", path);
    alloc_walk(&o, 1);

    trace_opts_default(&o);
    o.max_requests = 100;
    o.data_dir = "/tmp";
    alloc_walk(&o, 100);
    put_file("af_emp.csv", LN "3,4,7,0.75\n1,2,3,0.5\n", lpath);
    o.lengths = TRACE_LEN_EMPIRICAL;
    o.lengths_path = lpath;
    alloc_walk(&o, 100);
}

static void rm_tree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/lensim_trace_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_long_line); /* first: it checks the allocator's peak */
    RUN(test_azure_good);
    RUN(test_datetime);
    RUN(test_mooncake_good);
    RUN(test_lengths_good);
    RUN(test_csv_good);
    RUN(test_header_only_and_bom);
    RUN(test_bad_input);
    RUN(test_error_is_sticky);
    RUN(test_missing_file);
    RUN(test_window_scale_caps);
    RUN(test_window_synthetic);
    RUN(test_poisson_rate);
    RUN(test_gamma_cv);
    RUN(test_batch_arrivals);
    RUN(test_lognormal_params);
    RUN(test_default_lengths);
    RUN(test_synth_needs_bound);
    RUN(test_determinism);
    RUN(test_empirical_lengths);
    RUN(test_names);
    RUN(test_data_dir_and_paths);
    RUN(test_alloc_failures);
    RUN(test_vidur_good); /* issue 10 (tables) */
    rm_tree(tmpdir);
    return test_main_end();
}
