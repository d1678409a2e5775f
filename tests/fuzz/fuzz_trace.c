/*
 * fuzz_trace.c: the trace readers (traces/trace.h) through trace_open and trace_next to the end,
 * then trace_stats over the same options.
 *
 * Input: the first line chooses the reader's options, one byte each (a missing byte is 0; the
 * seeds use digits, and '0' is 48, a multiple of 6):
 *   [0] format: % 6 -> auto, azure, mooncake, lengths, csv, or 5 = the generator resampling its
 *       lengths from the file (empirical); (/ 6) % 2 -> the file is named .csv or .jsonl
 *   [1] % 2 -> skip_bad
 *   [2] max_requests: 0 below '1', else byte - '0' (the generator: at least 1)
 *   [3] t_start_s: (byte % 8) / 2;  [4] t_end_s: 0 below '1', else t_start_s + (byte % 16)
 *   [5] max_prompt_tok, [6] max_output_tok: 0 below '1', else (byte - '0') * 8
 *   [7] rate_scale: 0 below '1', else (byte % 32) / 4
 *   [8] arrival process: % 3;  [9] rate: (byte % 64) / 8;  [10] cv: (byte % 16) / 4
 * The rest is the file. Checks, besides fuzz.h's (sanitizers, messages, leaks), what trace.h
 * promises of each request (arrivals non-decreasing within [0, SIM_T_MAX], lengths >= 1 and
 * within the caps, at most max_requests, counters that match), that the end repeats, and that
 * trace_stats fails exactly when reading does.
 */
#include <string.h>

#include "fuzz.h"
#include "trace.h"

enum { OPT_BYTES = 11 };

/* The options byte k, or 0 past the first line. */
static unsigned opt(const char *line, size_t n, size_t k)
{
    return k < n ? (unsigned char)line[k] : 0;
}

static unsigned above(unsigned b) { return b > '0' ? b - '0' : 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *line = (const char *)data;
    const char *nl = memchr(data, '\n', size);
    size_t      n = nl ? (size_t)(nl - line) : size;
    const char *body = nl ? nl + 1 : line + size;
    size_t      body_n = size - (size_t)(body - line);

    struct trace_opts o;
    trace_opts_default(&o);
    unsigned f = opt(line, n, 0) % 6;
    char     path[512];
    fuzz_write_file((opt(line, n, 0) / 6) % 2 ? "trace.jsonl" : "trace.csv", body, body_n, path,
                    sizeof path);
    static const enum trace_format formats[] = {TRACE_FMT_AUTO, TRACE_FMT_AZURE, TRACE_FMT_MOONCAKE,
                                                TRACE_FMT_LENGTHS, TRACE_FMT_CSV};
    if (f < 5) {
        o.format = formats[f];
        o.path = path;
    } else {
        o.format = TRACE_FMT_SYNTH;
        o.lengths = TRACE_LEN_EMPIRICAL;
        o.lengths_path = path;
    }
    o.skip_bad = opt(line, n, 1) % 2;
    o.max_requests = above(opt(line, n, 2));
    if (o.format == TRACE_FMT_SYNTH && !o.max_requests)
        o.max_requests = 1;
    o.t_start_s = (opt(line, n, 3) % 8) / 2.0;
    o.t_end_s = above(opt(line, n, 4)) ? o.t_start_s + opt(line, n, 4) % 16 : 0;
    o.max_prompt_tok = above(opt(line, n, 5)) * 8;
    o.max_output_tok = above(opt(line, n, 6)) * 8;
    o.rate_scale = above(opt(line, n, 7)) ? (opt(line, n, 7) % 32) / 4.0 : 0;
    o.arrival = (enum trace_arrival)(opt(line, n, 8) % 3);
    o.rate = (opt(line, n, 9) % 64) / 8.0;
    o.cv = (opt(line, n, 10) % 16) / 4.0;

    uint64_t       live = fuzz_live();
    struct sim_msg err = {{0}};
    trace_t       *t = NULL;
    int            rc = trace_open(&o, &t, &err);
    fuzz_expect_msg(rc, &err, "trace_open");
    FUZZ_CHECK(!rc == !!t, "trace_open returned %d and %p", rc, (void *)t);
    int read_rc = rc;
    if (!rc) {
        struct trace_req r;
        uint64_t         got = 0;
        simtime_t        prev = 0;
        while ((rc = trace_next(t, &r, &err)) == 1) {
            FUZZ_CHECK(r.arrival_ns >= prev && r.arrival_ns <= SIM_T_MAX,
                       "request %llu arrives at %lld ns, after %lld", (unsigned long long)got,
                       (long long)r.arrival_ns, (long long)prev);
            FUZZ_CHECK(r.prompt_tok >= 1 && r.output_tok >= 1, "request %llu: %u, %u tokens",
                       (unsigned long long)got, r.prompt_tok, r.output_tok);
            FUZZ_CHECK(!o.max_prompt_tok || r.prompt_tok <= o.max_prompt_tok, "prompt %u > cap",
                       r.prompt_tok);
            FUZZ_CHECK(!o.max_output_tok || r.output_tok <= o.max_output_tok, "output %u > cap",
                       r.output_tok);
            size_t         nh;
            const int64_t *h = trace_hash_ids(t, &nh);
            FUZZ_CHECK(!nh == !h, "hash ids: %zu at %p", nh, (const void *)h);
            prev = r.arrival_ns;
            got++;
        }
        fuzz_expect_msg(rc, &err, "trace_next");
        FUZZ_CHECK(!o.max_requests || got <= o.max_requests, "%llu requests, max %llu",
                   (unsigned long long)got, (unsigned long long)o.max_requests);
        struct trace_counts c = trace_counts(t);
        FUZZ_CHECK(c.yielded == got, "yielded %llu, counted %llu", (unsigned long long)got,
                   (unsigned long long)c.yielded);
        struct sim_msg again = {{0}};
        FUZZ_CHECK(trace_next(t, &r, &again) == rc, "the end does not repeat");
        FUZZ_CHECK(rc == 0 || !strcmp(err.text, again.text), "the error changes: %s / %s", err.text,
                   again.text);
        read_rc = rc;
        trace_close(t);
    }
    FILE *sink = fopen("/dev/null", "w");
    FUZZ_CHECK(sink, "cannot open /dev/null");
    err.text[0] = 0;
    rc = trace_stats(&o, sink, &err);
    fclose(sink);
    fuzz_expect_msg(rc, &err, "trace_stats");
    FUZZ_CHECK(!rc == !read_rc, "trace_stats returned %d, reading %d (%s)", rc, read_rc, err.text);
    fuzz_expect_no_leak(live, "trace");
    return 0;
}
