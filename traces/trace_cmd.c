/*
 * trace_cmd.c: `lensim trace stats FILE|synthetic [options]`.
 *
 * Reads a whole workload through the same pipeline a simulation uses (so windows, rate scaling
 * and caps show their effect) and prints one `key: value` line per figure, with `#` lines that
 * say how the less obvious figures are defined, so that both people and scripts can read it.
 * Memory: it keeps every request's lengths and arrival time (24 bytes a request) for exact
 * percentiles; the readers themselves stream.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "alloc.h"
#include "trace_internal.h"

#define STATS_DEFAULT_REQUESTS 10000

static void stats_usage(FILE *f)
{
    fprintf(f,
            "usage: lensim trace stats FILE|synthetic [options]\n"
            "\n"
            "Read a workload and print its figures as `key: value` lines: requests, duration_s\n"
            "(first to last arrival), rate_rps ((requests - 1) / duration_s), prompt_* and\n"
            "output_* token mean, p50, p90, p99 (linear interpolation, as numpy's default) and\n"
            "max, and interarrival_cv (population sd / mean of the requests - 1 gaps).\n"
            "FILE is a trace (formats: traces/FORMAT.md); a relative FILE that does not exist\n"
            "is looked up under the data directory. `synthetic` is the embedded default workload.\n"
            "\n"
            "options (every source):\n"
            "  --format F          auto (default), azure, mooncake, lengths, csv\n"
            "  --data-dir D        data directory (default: $LENSIM_DATA, else ../shared/data)\n"
            "  --rate-scale X      divide arrival times by X (X > 1 speeds the trace up)\n"
            "  --max-requests N    read at most N requests\n"
            "  --t-start S         window start, seconds after the first row\n"
            "  --t-end S           window end (exclusive), seconds after the first row\n"
            "  --max-prompt N      clamp prompts to N tokens (counted)\n"
            "  --max-output N      clamp outputs to N tokens (counted)\n"
            "  --skip-bad          skip malformed rows (counted) instead of failing\n"
            "options (synthetic, and arrivals for lengths-only files):\n"
            "  --requests N        synthetic: number of requests (default %d)\n"
            "  --arrival A         poisson (default), gamma, batch\n"
            "  --rate R            requests per second (default 5.53)\n"
            "  --cv C              gamma: coefficient of variation of the gaps (default 1)\n"
            "  --seed S            random seed (default 0)\n"
            "  --lengths-file F    synthetic: resample lengths from this trace file\n"
            "  --lengths-format F  its format (default auto)\n"
            "\n"
            "exit status: 0 success, 2 bad usage or malformed input (file:line on stderr),\n"
            "3 the file cannot be found or read, 1 out of memory\n",
            STATS_DEFAULT_REQUESTS);
}

static int exit_status(int rc)
{
    switch (rc) {
    case SIM_OK:
        return 0;
    case SIM_EINPUT:
    case SIM_ECONFIG:
        return 2;
    case SIM_EIO:
    case SIM_ENOENT:
        return 3;
    }
    return 1;
}

static int bad_value(const char *opt, const char *v)
{
    sim_log_err("trace stats: %s: bad value '%s'", opt, v);
    return 2;
}

static int opt_double(const char *opt, const char *v, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno || !isfinite(x))
        return bad_value(opt, v);
    *out = x;
    return 0;
}

static int opt_u64(const char *opt, const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*v || *end || errno || v[0] == '-')
        return bad_value(opt, v);
    *out = x;
    return 0;
}

static int opt_u32(const char *opt, const char *v, uint32_t *out)
{
    uint64_t x;
    if (opt_u64(opt, v, &x) || x > UINT32_MAX)
        return bad_value(opt, v);
    *out = (uint32_t)x;
    return 0;
}

static void put_num(const char *key, double v, int decimals)
{
    if (isnan(v))
        printf("%s: nan\n", key);
    else if (isinf(v))
        printf("%s: %s\n", key, v > 0 ? "inf" : "-inf");
    else
        printf("%s: %.*f\n", key, decimals, v);
}

/* mean, p50, p90, p99, max of n values (sorted in place); nan when n == 0. */
static void put_lengths(const char *what, double *v, size_t n)
{
    static const struct {
        const char *name;
        double f;
    } qs[] = {{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}};
    char key[64];
    snprintf(key, sizeof key, "%s_mean", what);
    put_num(key, n ? gsl_stats_mean(v, 1, n) : NAN, 4);
    if (n)
        gsl_sort(v, 1, n);
    for (size_t i = 0; i < sizeof qs / sizeof *qs; i++) {
        snprintf(key, sizeof key, "%s_%s", what, qs[i].name);
        put_num(key, n ? gsl_stats_quantile_from_sorted_data(v, 1, n, qs[i].f) : NAN, 4);
    }
    snprintf(key, sizeof key, "%s_max", what);
    put_num(key, n ? v[n - 1] : NAN, 0);
}

struct collected {
    int64_t *arr;
    double *prompt, *output;
    size_t n, cap_arr, cap_prompt, cap_output;
};

static int collect(trace_t *t, struct collected *c, struct sim_msg *err)
{
    struct trace_req r;
    int rc;
    while ((rc = trace_next(t, &r, err)) == 1) {
        if (SIM_GROW(c->arr, c->cap_arr, c->n + 1) ||
            SIM_GROW(c->prompt, c->cap_prompt, c->n + 1) ||
            SIM_GROW(c->output, c->cap_output, c->n + 1))
            return sim_msg_set(err, SIM_ENOMEM, "trace stats: out of memory");
        c->arr[c->n] = r.arrival_ns;
        c->prompt[c->n] = r.prompt_tok;
        c->output[c->n] = r.output_tok;
        c->n++;
    }
    return rc;
}

static void report(const trace_t *t, const struct trace_opts *o, struct collected *c)
{
    struct trace_counts k = trace_counts(t);
    size_t n = c->n;
    if (trace_path(t))
        printf("source: %s\n", trace_path(t));
    else
        printf("source: synthetic\n");
    printf("format: %s\n", trace_format_name(trace_format_of(t)));
    if (o->format == TRACE_FMT_SYNTH || trace_format_of(t) == TRACE_FMT_LENGTHS) {
        printf("arrival: %s\n", trace_arrival_name(o->arrival));
        if (o->arrival != TRACE_ARR_BATCH)
            printf("arrival_rate_rps: %g\n", o->rate);
        if (o->arrival == TRACE_ARR_GAMMA)
            printf("arrival_cv: %g\n", o->cv);
        printf("seed: %llu\n", (unsigned long long)o->seed);
    }
    if (o->format == TRACE_FMT_SYNTH)
        printf("lengths: %s\n", o->lengths == TRACE_LEN_EMPIRICAL ? o->lengths_path : "log-normal");
    printf("requests: %zu\n", n);
    printf("rows_read: %llu\n", (unsigned long long)k.rows);
    printf("skipped_bad: %llu\n", (unsigned long long)k.skipped_bad);
    printf("clamped_prompt: %llu\n", (unsigned long long)k.clamped_prompt);
    printf("clamped_output: %llu\n", (unsigned long long)k.clamped_output);

    double dur = n ? (double)(c->arr[n - 1] - c->arr[0]) / 1e9 : NAN;
    put_num("duration_s", dur, 9);
    printf("# rate_rps = (requests - 1) / duration_s: the mean rate between the first and the "
           "last arrival\n");
    put_num("rate_rps", n < 2 ? NAN : dur > 0 ? (double)(n - 1) / dur : INFINITY, 6);
    put_lengths("prompt", c->prompt, n);
    put_lengths("output", c->output, n);

    /* The n - 1 gaps, written over the prompt array, which is no longer needed. */
    double cv = NAN;
    if (n >= 2) {
        double *gap = c->prompt;
        for (size_t i = 1; i < n; i++)
            gap[i - 1] = (double)(c->arr[i] - c->arr[i - 1]) / 1e9;
        double mean = gsl_stats_mean(gap, 1, n - 1);
        if (mean > 0)
            cv = gsl_stats_sd_with_fixed_mean(gap, 1, n - 1, mean) / mean;
    }
    printf("# interarrival_cv = population standard deviation / mean of the requests - 1 "
           "gaps\n");
    put_num("interarrival_cv", cv, 6);
}

static int cmd_stats(int argc, char **argv)
{
    struct trace_opts o;
    trace_opts_default(&o);
    const char *file = NULL;
    uint64_t requests = STATS_DEFAULT_REQUESTS, max_requests = 0;
    int have_max = 0;
    enum trace_format fmt = TRACE_FMT_AUTO;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            stats_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--skip-bad")) {
            o.skip_bad = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (file) {
                sim_log_err("trace stats: one FILE only (got '%s' and '%s')", file, a);
                return 2;
            }
            file = a;
            continue;
        }
        /* --name VALUE or --name=VALUE */
        char name[32];
        const char *eq = strchr(a, '='), *v;
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        if (len >= sizeof name) {
            sim_log_err("trace stats: unknown option '%s' (see --help)", a);
            return 2;
        }
        memcpy(name, a, len);
        name[len] = '\0';
        if (eq) {
            v = eq + 1;
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            sim_log_err("trace stats: %s needs a value", name);
            return 2;
        }
        int bad = 0;
        if (!strcmp(name, "--format"))
            bad = trace_format_parse(v, &fmt) || fmt == TRACE_FMT_SYNTH ? bad_value(name, v) : 0;
        else if (!strcmp(name, "--data-dir"))
            o.data_dir = v;
        else if (!strcmp(name, "--rate-scale"))
            bad = opt_double(name, v, &o.rate_scale);
        else if (!strcmp(name, "--max-requests")) {
            bad = opt_u64(name, v, &max_requests);
            have_max = 1;
        } else if (!strcmp(name, "--t-start"))
            bad = opt_double(name, v, &o.t_start_s);
        else if (!strcmp(name, "--t-end"))
            bad = opt_double(name, v, &o.t_end_s);
        else if (!strcmp(name, "--max-prompt"))
            bad = opt_u32(name, v, &o.max_prompt_tok);
        else if (!strcmp(name, "--max-output"))
            bad = opt_u32(name, v, &o.max_output_tok);
        else if (!strcmp(name, "--requests"))
            bad = opt_u64(name, v, &requests);
        else if (!strcmp(name, "--arrival"))
            bad = trace_arrival_parse(v, &o.arrival) ? bad_value(name, v) : 0;
        else if (!strcmp(name, "--rate"))
            bad = opt_double(name, v, &o.rate);
        else if (!strcmp(name, "--cv"))
            bad = opt_double(name, v, &o.cv);
        else if (!strcmp(name, "--seed"))
            bad = opt_u64(name, v, &o.seed);
        else if (!strcmp(name, "--lengths-file")) {
            o.lengths_path = v;
            o.lengths = TRACE_LEN_EMPIRICAL;
        } else if (!strcmp(name, "--lengths-format"))
            bad = trace_format_parse(v, &o.lengths_format) ? bad_value(name, v) : 0;
        else {
            sim_log_err("trace stats: unknown option '%s' (see --help)", name);
            return 2;
        }
        if (bad)
            return 2;
    }
    if (!file) {
        stats_usage(stderr);
        return 2;
    }
    if (!strcmp(file, "synthetic")) {
        o.format = TRACE_FMT_SYNTH;
        o.max_requests = have_max ? max_requests : requests;
    } else {
        o.format = fmt;
        o.path = file;
        o.max_requests = max_requests;
    }

    struct sim_msg err = {{0}};
    trace_t *t;
    int rc = trace_open(&o, &t, &err);
    if (rc) {
        sim_log_err("%s", err.text);
        return exit_status(rc);
    }
    struct collected c = {0};
    rc = collect(t, &c, &err);
    if (rc)
        sim_log_err("%s", err.text);
    else
        report(t, &o, &c);
    sim_free(c.arr);
    sim_free(c.prompt);
    sim_free(c.output);
    trace_close(t);
    return exit_status(rc);
}

int trace_cmd(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        FILE *f = argc < 2 ? stderr : stdout;
        fprintf(f, "usage: lensim trace stats FILE|synthetic [options]   (--help for options)\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "stats"))
        return cmd_stats(argc - 1, argv + 1);
    sim_log_err("trace: unknown subcommand '%s' (try: lensim trace stats --help)", argv[1]);
    return 2;
}
