/*
 * cmd_trace.c: `lensim trace stats FILE|synthetic [options]`: argv to trace options, then
 * trace_stats (traces/) prints the figures on stdout.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "trace.h"

#define STATS_DEFAULT_REQUESTS 10000

static void stats_usage(FILE *f)
{
    char arrivals[64];
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
            "  --arrival A         %s (default poisson)\n"
            "  --rate R            requests per second (default 5.53)\n"
            "  --cv C              gamma: coefficient of variation of the gaps (default 1)\n"
            "  --seed S            random seed (default 0)\n"
            "  --lengths-file F    synthetic: resample lengths from this trace file\n"
            "  --lengths-format F  its format (default auto)\n"
            "  --column M          alpaca_eval files: the model whose responses give the outputs\n"
            "\n"
            "exit status: 0 success, 2 bad usage, malformed input (file:line on stderr) or no\n"
            "such file, 3 the file cannot be read, 1 out of memory\n",
            STATS_DEFAULT_REQUESTS,
            sim_choice_list(trace_arrival_choices, arrivals, sizeof arrivals));
}

static int bad_value(const char *opt, const char *v)
{
    sim_log_err("trace stats: %s: bad value '%s'", opt, v);
    return CLI_EXIT_USAGE;
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

/* Digits only: strtoull would skip a space and wrap " -1" to 2^64 - 1 requests. */
static int opt_u64(const char *opt, const char *v, uint64_t *out)
{
    return sim_parse_u64(v, UINT64_MAX, out) ? bad_value(opt, v) : 0;
}

static int opt_u32(const char *opt, const char *v, uint32_t *out)
{
    uint64_t x;
    if (sim_parse_u64(v, UINT32_MAX, &x))
        return bad_value(opt, v);
    *out = (uint32_t)x;
    return 0;
}

static int cmd_stats(int argc, char **argv)
{
    struct trace_opts o;
    trace_opts_default(&o);
    const char       *file = NULL;
    uint64_t          requests = STATS_DEFAULT_REQUESTS, max_requests = 0;
    int               have_max = 0;
    enum trace_format fmt = TRACE_FMT_AUTO;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            stats_usage(stdout);
            return CLI_EXIT_OK;
        }
        if (!strcmp(a, "--skip-bad")) {
            o.skip_bad = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (file) {
                sim_log_err("trace stats: one FILE only (got '%s' and '%s')", file, a);
                return CLI_EXIT_USAGE;
            }
            file = a;
            continue;
        }
        /* --name VALUE or --name=VALUE */
        char        name[32];
        const char *eq = strchr(a, '='), *v;
        size_t      len = eq ? (size_t)(eq - a) : strlen(a);
        if (len >= sizeof name) {
            sim_log_err("trace stats: unknown option '%s' (see --help)", a);
            return CLI_EXIT_USAGE;
        }
        memcpy(name, a, len);
        name[len] = '\0';
        if (eq) {
            v = eq + 1;
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            sim_log_err("trace stats: %s needs a value", name);
            return CLI_EXIT_USAGE;
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
        else if (!strcmp(name, "--column")) /* issue 14 */
            o.column = v;
        else {
            sim_log_err("trace stats: unknown option '%s' (see --help)", name);
            return CLI_EXIT_USAGE;
        }
        if (bad)
            return CLI_EXIT_USAGE;
    }
    if (!file) {
        stats_usage(stderr);
        return CLI_EXIT_USAGE;
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
    int            rc = trace_stats(&o, stdout, &err);
    if (rc)
        sim_log_err("%s", err.text[0] ? err.text : sim_strerror(rc));
    return cli_exit_status(rc);
}

int trace_cmd(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        FILE *f = argc < 2 ? stderr : stdout;
        fprintf(f, "usage: lensim trace stats FILE|synthetic [options]   (--help for options)\n");
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "stats"))
        return cmd_stats(argc - 1, argv + 1);
    sim_log_err("trace: unknown subcommand '%s' (try: lensim trace stats --help)", argv[1]);
    return CLI_EXIT_USAGE;
}
