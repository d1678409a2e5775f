/*
 * test_alpaca.c: issue 14, the alpaca_eval source (AlpacaEval's derived length matrix with the
 * prompt lengths of instructions.jsonl beside it), on small files written under a mkdtemp
 * directory (tests/s3_alpaca_check.py compares the real files with an independent reading).
 *
 * - a good matrix yields, per row, (instr_llama2_tokens of its idx, the column's count + 1),
 *   values written by hand below; unread columns may hold anything; JSON keys in any order,
 *   unknown keys (nested values too) skipped;
 * - the header "idx," is detected by auto; arrivals come from the arrival process;
 * - each class of bad input gives its "file:line: ..." message: header, missing or repeated
 *   column, field count, empty cell (skipped and counted with skip_bad), unknown idx, bad and
 *   negative counts, instructions.jsonl missing, malformed, with a repeated idx, a missing key
 *   or a 0-token prompt;
 * - a column is refused for a non-alpaca_eval file and for log-normal lengths, and required for
 *   an alpaca_eval file;
 * - empirical lengths resampled from an alpaca_eval file draw only its pairs, each about equally
 *   often (within 5 standard errors of 1/3).
 */
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "trace.h"

static char tmpdir[256];
static int  n_dirs;

/* A fresh folder under tmpdir holding instructions.jsonl (unless instr is NULL) and m.csv
 * (unless matrix is NULL); the matrix path goes to path (size 512). */
static void put_case(const char *instr, const char *matrix, char *path)
{
    char dir[400], p[512];
    snprintf(dir, sizeof dir, "%s/c%d", tmpdir, n_dirs++);
    ASSERT_EQ(mkdir(dir, 0700), 0);
    if (instr) {
        snprintf(p, sizeof p, "%s/instructions.jsonl", dir);
        FILE *f = fopen(p, "wb");
        ASSERT_TRUE(f);
        ASSERT_EQ(fputs(instr, f) >= 0, 1);
        ASSERT_EQ(fclose(f), 0);
    }
    snprintf(path, 512, "%s/m.csv", dir);
    if (matrix) {
        FILE *f = fopen(path, "wb");
        ASSERT_TRUE(f);
        ASSERT_EQ(fputs(matrix, f) >= 0, 1);
        ASSERT_EQ(fclose(f), 0);
    }
}

#define MAX_REQS 16

struct run {
    int                 rc;
    size_t              n;
    struct trace_req    r[MAX_REQS];
    struct sim_msg      err;
    struct trace_counts c;
};

static void run_opts(const struct trace_opts *o, struct run *out)
{
    memset(out, 0, sizeof *out);
    trace_t *t = NULL;
    out->rc = trace_open(o, &t, &out->err);
    if (out->rc) {
        ASSERT_TRUE(t == NULL);
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

/* Read matrix (with instr beside it) as format fmt, column col, batch arrivals. */
static void run_case(const char *instr, const char *matrix, enum trace_format fmt, const char *col,
                     int skip_bad, struct run *out)
{
    char path[512];
    put_case(instr, matrix, path);
    struct trace_opts o;
    trace_opts_default(&o);
    o.format = fmt;
    o.path = path;
    o.column = col;
    o.skip_bad = skip_bad;
    o.arrival = TRACE_ARR_BATCH;
    run_opts(&o, out);
}

static const char good_instr[] =
    "{\"idx\":0,\"dataset\":\"x\",\"instruction\":\"a, \\\"b\\\"\",\"instr_llama2_tokens\":16}\n"
    "{\"idx\":2,\"instr_llama2_tokens\":7,\"extra\":[1,{\"a\":null}]}\n"
    "{\"instr_llama2_tokens\":3, \"idx\":1}\n";
/* Columns m1, text_davinci_003, m3; m1 and m3 are not read (an empty cell, a word). */
static const char good_matrix[] = "idx,m1,text_davinci_003,m3\n"
                                  "0,5,10,7\n"
                                  "1,,0,9\n"
                                  "2,4,1808,x\n";

TEST(test_good)
{
    struct run r;
    run_case(good_instr, good_matrix, TRACE_FMT_ALPACA, "text_davinci_003", 0, &r);
    ASSERT_EQ(r.rc, 0);
    ASSERT_EQ(r.n, 3);
    /* (prompt of idx, count + 1 for the end-of-sequence token), all at t = 0 */
    static const uint32_t want[3][2] = {{16, 11}, {3, 1}, {7, 1809}};
    for (size_t i = 0; i < 3; i++) {
        ASSERT_EQ(r.r[i].arrival_ns, 0);
        ASSERT_EQ(r.r[i].prompt_tok, want[i][0]);
        ASSERT_EQ(r.r[i].output_tok, want[i][1]);
        ASSERT_EQ(r.r[i].id, i);
    }
    ASSERT_EQ(r.c.rows, 3);
    /* Another column of the same file: m3 has a word in row 3. */
    run_case(good_instr, good_matrix, TRACE_FMT_ALPACA, "m3", 0, &r);
    ASSERT_EQ(r.rc, SIM_EINPUT);
    ASSERT_EQ(r.n, 2);
    ASSERT_STR_CONTAINS(r.err.text, "m.csv:4: m3: not a number: \"x\"");
}

TEST(test_auto_and_arrivals)
{
    char path[512];
    put_case(good_instr, good_matrix, path);
    struct trace_opts o;
    trace_opts_default(&o);
    o.format = TRACE_FMT_AUTO;
    o.path = path;
    o.column = "m1";
    o.arrival = TRACE_ARR_POISSON;
    o.rate = 2;
    o.skip_bad = 1; /* m1's cell for idx 1 is empty */
    struct run r;
    run_opts(&o, &r);
    ASSERT_EQ(r.rc, 0);
    ASSERT_EQ(r.n, 2);
    ASSERT_EQ(r.c.skipped_bad, 1);
    ASSERT_EQ(r.r[0].arrival_ns, 0);
    ASSERT_TRUE(r.r[1].arrival_ns > 0); /* a drawn Poisson gap */
    ASSERT_EQ(r.r[0].prompt_tok, 16);
    ASSERT_EQ(r.r[0].output_tok, 6);
    ASSERT_EQ(r.r[1].prompt_tok, 7);
    ASSERT_EQ(r.r[1].output_tok, 5);
    trace_t       *t;
    struct sim_msg err;
    ASSERT_EQ(trace_open(&o, &t, &err), 0);
    ASSERT_EQ(trace_format_of(t), TRACE_FMT_ALPACA);
    trace_close(t);
}

struct bad {
    const char *instr, *matrix, *col;
    int         rc;
    const char *msg;
};

static const char ok_instr[] = "{\"idx\":0,\"instr_llama2_tokens\":4}\n"
                               "{\"idx\":1,\"instr_llama2_tokens\":5}\n";

static const struct bad bad_cases[] = {
    {ok_instr, "idx,a\n0,1\n", NULL, SIM_ECONFIG, "name one (workload.column"},
    {ok_instr, "idx,a,b\n0,1,2\n", "c", SIM_EINPUT, "m.csv:1: no column \"c\" among its 2 models"},
    {ok_instr, "idx,a,a\n0,1,2\n", "a", SIM_EINPUT, "m.csv:1: column \"a\" given twice"},
    {ok_instr, "id,a\n0,1\n", "a", SIM_EINPUT, "m.csv:1: expected the header \"idx,<model>,...\""},
    {ok_instr, "idx,a,b\n0,1,2\n1,2\n", "a", SIM_EINPUT,
     "m.csv:3: expected 3 fields (idx and 2 models), got 2"},
    {ok_instr, "idx,a\n0,1\n1,\n", "a", SIM_EINPUT, "m.csv:3: a: empty cell: no response to idx 1"},
    {ok_instr, "idx,a\n5,1\n", "a", SIM_EINPUT, "m.csv:2: idx 5: no such instruction"},
    {ok_instr, "idx,a\nx,1\n", "a", SIM_EINPUT, "m.csv:2: idx: not a number: \"x\""},
    {ok_instr, "idx,a\n0,-3\n", "a", SIM_EINPUT, "m.csv:2: a: negative value: \"-3\""},
    {ok_instr, "idx,a\n0,2.5\n", "a", SIM_EINPUT, "m.csv:2: a: not an integer: \"2.5\""},
    {NULL, "idx,a\n0,1\n", "a", SIM_ENOENT, "instructions.jsonl: no such file"},
    {"{\"idx\":0,\"instr_llama2_tokens\":4}\n{\"idx\":1 \"instr_llama2_tokens\":4}\n",
     "idx,a\n0,1\n", "a", SIM_EINPUT, "instructions.jsonl:2: JSON: expected ',' or '}'"},
    {"{\"idx\":0,\"instr_llama2_tokens\":4}\n{\"idx\":0,\"instr_llama2_tokens\":4}\n",
     "idx,a\n0,1\n", "a", SIM_EINPUT, "instructions.jsonl:2: idx 0 given twice"},
    {"{\"idx\":0}\n", "idx,a\n0,1\n", "a", SIM_EINPUT,
     "instructions.jsonl:1: missing key \"instr_llama2_tokens\""},
    {"{\"idx\":0,\"instr_llama2_tokens\":0}\n", "idx,a\n0,1\n", "a", SIM_EINPUT,
     "instructions.jsonl:1: instr_llama2_tokens: must be at least 1 token"},
    {"{\"idx\":-1,\"instr_llama2_tokens\":3}\n", "idx,a\n0,1\n", "a", SIM_EINPUT,
     "instructions.jsonl:1: idx: out of range: -1"},
    {"", "idx,a\n0,1\n", "a", SIM_EINPUT, "instructions.jsonl: no instructions"},
};

TEST(test_bad)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad *b = &bad_cases[i];
        struct run        r;
        run_case(b->instr, b->matrix, TRACE_FMT_ALPACA, b->col, 0, &r);
        if (r.rc != b->rc || !strstr(r.err.text, b->msg))
            TEST_FAIL_("case %zu: rc %d (want %d), message '%s' (want '%s')", i, r.rc, b->rc,
                       r.err.text, b->msg);
    }
    /* skip_bad skips the empty cell, counts it, and keeps the rows around it. */
    struct run r;
    run_case(ok_instr, "idx,a\n0,1\n1,\n0,2\n", TRACE_FMT_ALPACA, "a", 1, &r);
    ASSERT_EQ(r.rc, 0);
    ASSERT_EQ(r.n, 2);
    ASSERT_EQ(r.c.skipped_bad, 1);
    ASSERT_EQ(r.r[1].output_tok, 3);
}

/* Blanks around a cell are dropped, as split() drops them for the other formats: spaces and tabs
 * before and after idx and the column's count (idx 0 -> prompt 4, count 1 -> output 2; idx 1 ->
 * prompt 5, count 2 -> output 3). */
TEST(test_blanks_around_cells)
{
    struct run r;
    run_case(ok_instr, "idx,a\n0 ,1 \n 1\t, \t2\t \n", TRACE_FMT_ALPACA, "a", 0, &r);
    if (r.rc)
        TEST_FAIL_("rc %d: %s", r.rc, r.err.text);
    ASSERT_EQ(r.n, 2);
    ASSERT_EQ(r.r[0].prompt_tok, 4);
    ASSERT_EQ(r.r[0].output_tok, 2);
    ASSERT_EQ(r.r[1].prompt_tok, 5);
    ASSERT_EQ(r.r[1].output_tok, 3);
}

TEST(test_column_elsewhere)
{
    char path[512];
    put_case(NULL, NULL, path);
    FILE *f = fopen(path, "wb");
    ASSERT_TRUE(f);
    fputs("arrival_s,prompt_tokens,output_tokens\n0,1,1\n", f);
    ASSERT_EQ(fclose(f), 0);
    struct trace_opts o;
    trace_opts_default(&o);
    o.format = TRACE_FMT_AUTO;
    o.path = path;
    o.column = "a";
    struct run r;
    run_opts(&o, &r);
    ASSERT_EQ(r.rc, SIM_ECONFIG);
    ASSERT_STR_CONTAINS(r.err.text, "column 'a' names a model of an alpaca_eval file; this file "
                                    "is csv");
    trace_opts_default(&o); /* the generator's log-normal lengths read no file */
    o.max_requests = 3;
    o.column = "a";
    run_opts(&o, &r);
    ASSERT_EQ(r.rc, SIM_ECONFIG);
    ASSERT_STR_CONTAINS(r.err.text, "log-normal lengths read none");
}

TEST(test_empirical)
{
    char path[512];
    put_case(good_instr, good_matrix, path);
    struct trace_opts o;
    trace_opts_default(&o);
    o.arrival = TRACE_ARR_BATCH;
    o.lengths = TRACE_LEN_EMPIRICAL;
    o.lengths_path = path;
    o.column = "text_davinci_003";
    o.max_requests = 3000;
    o.seed = 7;
    trace_t       *t;
    struct sim_msg err;
    ASSERT_EQ(trace_open(&o, &t, &err), 0);
    size_t           count[3] = {0};
    struct trace_req r;
    int              rc;
    while ((rc = trace_next(t, &r, &err)) == 1) {
        int k = r.prompt_tok == 16 && r.output_tok == 11    ? 0
                : r.prompt_tok == 3 && r.output_tok == 1    ? 1
                : r.prompt_tok == 7 && r.output_tok == 1809 ? 2
                                                            : -1;
        if (k < 0)
            TEST_FAIL_("drew (%u, %u), not a pair of the file", r.prompt_tok, r.output_tok);
        count[k]++;
    }
    ASSERT_EQ(rc, 0);
    trace_close(t);
    /* Binomial(3000, 1/3): sd = sqrt(3000 * 1/3 * 2/3) = 25.8; 5 sd = 129. */
    for (int k = 0; k < 3; k++)
        if (count[k] < 1000 - 129 || count[k] > 1000 + 129)
            TEST_FAIL_("pair %d drawn %zu times of 3000", k, count[k]);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/lensim_alpaca_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_good);
    RUN(test_auto_and_arrivals);
    RUN(test_bad);
    RUN(test_blanks_around_cells);
    RUN(test_column_elsewhere);
    RUN(test_empirical);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_main_end();
}
