/*
 * trace_stats.c: the figures of a whole workload (see trace_stats in trace.h), which
 * `lensim trace stats` prints (cli/cmd_trace.c).
 *
 * Reads a whole workload through the same pipeline a simulation uses (so windows, rate scaling
 * and caps show their effect) and prints one `key: value` line per figure, with `#` lines that
 * say how the less obvious figures are defined, so that both people and scripts can read it.
 * Memory: it keeps every request's lengths and arrival time (24 bytes a request) for exact
 * percentiles; the readers themselves stream.
 */
#include <math.h>
#include <string.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "alloc.h"
#include "trace.h"

static void put_num(FILE *f, const char *key, double v, int decimals)
{
    if (isnan(v))
        fprintf(f, "%s: nan\n", key);
    else if (isinf(v))
        fprintf(f, "%s: %s\n", key, v > 0 ? "inf" : "-inf");
    else
        fprintf(f, "%s: %.*f\n", key, decimals, v);
}

/* mean, p50, p90, p99, max of n values (sorted in place); nan when n == 0. */
static void put_lengths(FILE *f, const char *what, double *v, size_t n)
{
    static const struct {
        const char *name;
        double      f;
    } qs[] = {{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}};
    char key[64];
    snprintf(key, sizeof key, "%s_mean", what);
    put_num(f, key, n ? gsl_stats_mean(v, 1, n) : NAN, 4);
    if (n)
        gsl_sort(v, 1, n);
    for (size_t i = 0; i < sizeof qs / sizeof *qs; i++) {
        snprintf(key, sizeof key, "%s_%s", what, qs[i].name);
        put_num(f, key, n ? gsl_stats_quantile_from_sorted_data(v, 1, n, qs[i].f) : NAN, 4);
    }
    snprintf(key, sizeof key, "%s_max", what);
    put_num(f, key, n ? v[n - 1] : NAN, 0);
}

struct collected {
    int64_t *arr;
    double  *prompt, *output;
    size_t   n, cap_arr, cap_prompt, cap_output;
};

static int collect(trace_t *t, struct collected *c, struct sim_msg *err)
{
    struct trace_req r;
    int              rc;
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

static void report(FILE *f, const trace_t *t, const struct trace_opts *o, struct collected *c)
{
    struct trace_counts k = trace_counts(t);
    size_t              n = c->n;
    if (trace_path(t))
        fprintf(f, "source: %s\n", trace_path(t));
    else
        fprintf(f, "source: synthetic\n");
    fprintf(f, "format: %s\n", trace_format_name(trace_format_of(t)));
    if (o->format == TRACE_FMT_SYNTH || trace_format_of(t) == TRACE_FMT_LENGTHS ||
        trace_format_of(t) == TRACE_FMT_ALPACA) { /* issue 14 */
        fprintf(f, "arrival: %s\n", trace_arrival_name(o->arrival));
        if (o->arrival != TRACE_ARR_BATCH)
            fprintf(f, "arrival_rate_rps: %g\n", o->rate);
        if (o->arrival == TRACE_ARR_GAMMA)
            fprintf(f, "arrival_cv: %g\n", o->cv);
        fprintf(f, "seed: %llu\n", (unsigned long long)o->seed);
    }
    if (o->format == TRACE_FMT_SYNTH)
        fprintf(f, "lengths: %s\n",
                o->lengths == TRACE_LEN_EMPIRICAL ? o->lengths_path : "log-normal");
    fprintf(f, "requests: %zu\n", n);
    fprintf(f, "rows_read: %llu\n", (unsigned long long)k.rows);
    fprintf(f, "skipped_bad: %llu\n", (unsigned long long)k.skipped_bad);
    fprintf(f, "clamped_prompt: %llu\n", (unsigned long long)k.clamped_prompt);
    fprintf(f, "clamped_output: %llu\n", (unsigned long long)k.clamped_output);

    double dur = n ? (double)(c->arr[n - 1] - c->arr[0]) / 1e9 : NAN;
    put_num(f, "duration_s", dur, 9);
    fprintf(f, "# rate_rps = (requests - 1) / duration_s: the mean rate between the first and the "
               "last arrival\n");
    put_num(f, "rate_rps", n < 2 ? NAN : dur > 0 ? (double)(n - 1) / dur : INFINITY, 6);
    put_lengths(f, "prompt", c->prompt, n);
    put_lengths(f, "output", c->output, n);

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
    fprintf(f, "# interarrival_cv = population standard deviation / mean of the requests - 1 "
               "gaps\n");
    put_num(f, "interarrival_cv", cv, 6);
}

int trace_stats(const struct trace_opts *o, FILE *out, struct sim_msg *err)
{
    trace_t         *t = NULL;
    struct collected c = {0};
    int              rc = trace_open(o, &t, err);
    if (rc)
        goto out;
    if ((rc = collect(t, &c, err)))
        goto out;
    report(out, t, o, &c);
out:
    sim_free(c.arr);
    sim_free(c.prompt);
    sim_free(c.output);
    trace_close(t);
    return rc;
}
