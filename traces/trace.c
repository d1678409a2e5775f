/*
 * trace.c: the public trace API (see trace.h): opening a source, the request pipeline that
 * every source goes through, the synthetic generator, names and data paths.
 *
 * Pipeline of trace_next, for each row a source produces:
 *   1. the row's source time: its timestamp minus the first row's (replay formats), or the next
 *      arrival of the configured process (lengths-only files and the generator; the first
 *      arrival is at 0);
 *   2. order check: a timestamp earlier than the previous row's is an error (or skipped);
 *   3. window: rows before t_start_s are dropped; the first row at or after t_end_s ends the
 *      trace (arrivals are non-decreasing, so nothing later can be inside);
 *   4. caps on prompt and output tokens (clamped, counted);
 *   5. arrival_ns = (source time - t_start) / rate_scale;
 *   6. stop after max_requests.
 * Cost: O(line length) per row, no allocation per row (the line buffer and the hash-id buffer
 * are reused).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gsl/gsl_randist.h>

#include "alloc.h"
#include "trace_internal.h"

/* The embedded default workload, fitted to the Azure LLM inference trace 2023, conversation
 * service (AzureLLMInferenceTrace_conv.csv, Patel et al., "Splitwise", ISCA 2024; see
 * ../shared/data/traces/azure2023/README.md). Over its 19,366 rows: ln(ContextTokens) has mean
 * 6.6333 and standard deviation 0.9852, ln(GeneratedTokens) mean 5.0190 and sd 0.8590 (the
 * maximum-likelihood log-normal fit: population sd of the logs), and the mean arrival rate is
 * 5.53 req/s ((rows - 1) / span, span 3,502 s). tests/test_trace.c recomputes the four
 * log-normal figures from the file when the data directory is present. */
#define TRACE_DEFAULT_RATE         5.53
#define TRACE_DEFAULT_PROMPT_MU    6.6333
#define TRACE_DEFAULT_PROMPT_SIGMA 0.9852
#define TRACE_DEFAULT_OUTPUT_MU    5.0190
#define TRACE_DEFAULT_OUTPUT_SIGMA 0.8590

void trace_opts_default(struct trace_opts *o)
{
    memset(o, 0, sizeof *o);
    o->format = TRACE_FMT_SYNTH;
    o->rate_scale = 1.0;
    o->arrival = TRACE_ARR_POISSON;
    o->rate = TRACE_DEFAULT_RATE;
    o->cv = 1.0;
    o->seed = 0;
    o->lengths = TRACE_LEN_LOGNORMAL;
    o->prompt_mu = TRACE_DEFAULT_PROMPT_MU;
    o->prompt_sigma = TRACE_DEFAULT_PROMPT_SIGMA;
    o->output_mu = TRACE_DEFAULT_OUTPUT_MU;
    o->output_sigma = TRACE_DEFAULT_OUTPUT_SIGMA;
    o->lengths_format = TRACE_FMT_AUTO;
}

/* ---- names ---- */

/* In the schema's order: the generator first, detection last. */
const struct sim_choice trace_format_choices[] = {
    {"synthetic", TRACE_FMT_SYNTH, "the generator: arrival process and lengths below, no file"},
    {"azure", TRACE_FMT_AZURE,
     "Azure LLM inference 2023 or 2024 CSV: TIMESTAMP,ContextTokens,GeneratedTokens"},
    {"mooncake", TRACE_FMT_MOONCAKE, "Mooncake JSONL: timestamp (ms), input_length, output_length"},
    {"lengths", TRACE_FMT_LENGTHS, "lengths-only CSV; arrivals drawn from the arrival process"},
    {"csv", TRACE_FMT_CSV, "the interchange CSV: arrival_s,prompt_tokens,output_tokens[,id]"},
    {"vidur", TRACE_FMT_VIDUR,
     "Vidur's trace_replay CSV: arrived_at,num_prefill_tokens,num_decode_tokens (issue 10)"},
    {"burstgpt", TRACE_FMT_BURSTGPT,
     "BurstGPT CSV: Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type"},
    /* issue 14 */
    {"alpaca_eval", TRACE_FMT_ALPACA,
     "AlpacaEval's length matrix idx,<model>... (derived/output_llama2_tokens.csv) with "
     "instructions.jsonl beside it: one model's (workload.column) responses, arrivals drawn "
     "from the arrival process"},
    {"auto", TRACE_FMT_AUTO, "one of the file formats, told by the file's name and header"},
    {NULL, 0, NULL},
};

const struct sim_choice trace_arrival_choices[] = {
    {"poisson", TRACE_ARR_POISSON, "exponential gaps at `rate`"},
    {"gamma", TRACE_ARR_GAMMA, "Gamma gaps with mean 1/rate and coefficient of variation `cv`"},
    {"batch", TRACE_ARR_BATCH, "every request at t = 0 (offline throughput)"},
    {NULL, 0, NULL},
};

const struct sim_choice trace_lengths_choices[] = {
    {"lognormal", TRACE_LEN_LOGNORMAL, "ln(tokens) ~ N(mu, sigma), rounded, at least 1"},
    {"empirical", TRACE_LEN_EMPIRICAL, "resampled with replacement from lengths_path"},
    {NULL, 0, NULL},
};

static int parse(const struct sim_choice *set, const char *name, int *out)
{
    const struct sim_choice *c = sim_choice_find(set, name);
    if (!c)
        return SIM_ECONFIG;
    *out = c->value;
    return SIM_OK;
}

const char *trace_format_name(enum trace_format f)
{
    const char *n = sim_choice_name(trace_format_choices, (int)f);
    return n ? n : "?";
}

int trace_format_parse(const char *name, enum trace_format *out)
{
    int v, rc = parse(trace_format_choices, name, &v);
    if (!rc)
        *out = (enum trace_format)v;
    return rc;
}

const char *trace_arrival_name(enum trace_arrival a)
{
    const char *n = sim_choice_name(trace_arrival_choices, (int)a);
    return n ? n : "?";
}

int trace_arrival_parse(const char *name, enum trace_arrival *out)
{
    int v, rc = parse(trace_arrival_choices, name, &v);
    if (!rc)
        *out = (enum trace_arrival)v;
    return rc;
}

/* ---- paths ---- */

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int copy_out(const char *s, char *out, size_t n)
{
    if (strlen(s) >= n)
        return SIM_ENOENT;
    memcpy(out, s, strlen(s) + 1);
    return SIM_OK;
}

int trace_data_dir(const char *flag, char *out, size_t n)
{
    if (n)
        out[0] = '\0';
    /* An explicit choice that does not exist is reported, not replaced by a default. */
    const char *env = getenv("LENSIM_DATA");
    const char *pick = flag && *flag ? flag : env && *env ? env : NULL;
    if (pick)
        return is_dir(pick) ? copy_out(pick, out, n) : SIM_ENOENT;
    static const char *const defaults[] = {"../shared/data", LENSIM_SOURCE_ROOT "/../shared/data"};
    for (int i = 0; i < 2; i++)
        if (is_dir(defaults[i]))
            return copy_out(defaults[i], out, n);
    return SIM_ENOENT;
}

int trace_resolve_path(const char *path, const char *data_dir, char *out, size_t n)
{
    struct stat st;
    if (n)
        out[0] = '\0';
    if (!path || !*path)
        return SIM_ENOENT;
    if (stat(path, &st) == 0)
        return copy_out(path, out, n);
    if (path[0] == '/')
        return SIM_ENOENT;
    char dir[4096];
    if (data_dir ? copy_out(data_dir, dir, sizeof dir) : trace_data_dir(NULL, dir, sizeof dir))
        return SIM_ENOENT; /* none, or too long to be a directory */
    int k = snprintf(out, n, "%s/%s", dir, path);
    if (k < 0 || (size_t)k >= n || stat(out, &st) != 0) {
        if (n)
            out[0] = '\0';
        return SIM_ENOENT;
    }
    return SIM_OK;
}

/* ---- opening ---- */

static int has_arrival_process(enum trace_format f)
{
    return f == TRACE_FMT_LENGTHS || f == TRACE_FMT_SYNTH || f == TRACE_FMT_ALPACA;
}

/* Options that do not depend on the file's contents. */
static int check_opts(const struct trace_opts *o, struct sim_msg *err)
{
    double t_max_s = (double)SIM_T_MAX / 1e9;
    if ((unsigned)o->format > TRACE_FMT_SYNTH)
        return sim_msg_set(err, SIM_ECONFIG, "trace: unknown format %d", (int)o->format);
    if (o->format != TRACE_FMT_SYNTH && (!o->path || !*o->path))
        return sim_msg_set(err, SIM_ECONFIG, "trace: no trace file given");
    if (!(o->rate_scale >= 0 && o->rate_scale < INFINITY))
        return sim_msg_set(err, SIM_ECONFIG, "trace: rate_scale must be a positive number, got %g",
                           o->rate_scale);
    if (!(o->t_start_s >= 0 && o->t_start_s < t_max_s))
        return sim_msg_set(err, SIM_ECONFIG, "trace: t_start_s must be >= 0 s, got %g",
                           o->t_start_s);
    if (!(o->t_end_s == 0 || (o->t_end_s > o->t_start_s && o->t_end_s < t_max_s)))
        return sim_msg_set(err, SIM_ECONFIG,
                           "trace: t_end_s must be 0 (no end) or after t_start_s = %g s, got %g",
                           o->t_start_s, o->t_end_s);
    /* issue 14: a column names a model of an alpaca_eval file, the source's or the lengths'. */
    if (o->column && *o->column && o->format == TRACE_FMT_SYNTH &&
        o->lengths != TRACE_LEN_EMPIRICAL)
        return sim_msg_set(err, SIM_ECONFIG,
                           "trace: column '%s' names a model of an alpaca_eval file, and the "
                           "generator's log-normal lengths read none",
                           o->column);
    if (o->format == TRACE_FMT_SYNTH) {
        if (!o->max_requests && !o->t_end_s)
            return sim_msg_set(err, SIM_ECONFIG,
                               "trace: the synthetic workload never ends: set max_requests or "
                               "t_end_s");
        if (o->arrival == TRACE_ARR_BATCH && !o->max_requests)
            return sim_msg_set(err, SIM_ECONFIG,
                               "trace: batch arrivals are all at t = 0, so t_end_s cannot end "
                               "them: set max_requests");
        if (o->lengths == TRACE_LEN_LOGNORMAL) {
            if (!(isfinite(o->prompt_mu) && o->prompt_sigma >= 0 && isfinite(o->prompt_sigma) &&
                  isfinite(o->output_mu) && o->output_sigma >= 0 && isfinite(o->output_sigma)))
                return sim_msg_set(err, SIM_ECONFIG,
                                   "trace: log-normal lengths need finite mu and sigma >= 0");
        } else if (o->lengths == TRACE_LEN_EMPIRICAL) {
            if (!o->lengths_path || !*o->lengths_path)
                return sim_msg_set(err, SIM_ECONFIG,
                                   "trace: empirical lengths need a lengths file (lengths_path)");
            if (o->lengths_format == TRACE_FMT_SYNTH)
                return sim_msg_set(err, SIM_ECONFIG,
                                   "trace: the lengths file must be a file format, not synthetic");
        } else {
            return sim_msg_set(err, SIM_ECONFIG, "trace: unknown lengths model %d",
                               (int)o->lengths);
        }
    }
    return SIM_OK;
}

/* Options of the arrival process, checked once the source is known to need one. */
static int check_arrivals(const struct trace_opts *o, struct sim_msg *err)
{
    switch (o->arrival) {
    case TRACE_ARR_GAMMA:
        if (!(o->cv > 0 && isfinite(o->cv)))
            return sim_msg_set(err, SIM_ECONFIG, "trace: gamma arrivals need cv > 0, got %g",
                               o->cv);
        /* fall through */
    case TRACE_ARR_POISSON:
        if (!(o->rate > 0 && isfinite(o->rate)))
            return sim_msg_set(err, SIM_ECONFIG, "trace: %s arrivals need a rate > 0 req/s, got %g",
                               trace_arrival_name(o->arrival), o->rate);
        return SIM_OK;
    case TRACE_ARR_BATCH:
        if (o->t_start_s > 0)
            return sim_msg_set(err, SIM_ECONFIG,
                               "trace: batch arrivals are all at t = 0, before the window start "
                               "t_start_s = %g",
                               o->t_start_s);
        return SIM_OK;
    }
    return sim_msg_set(err, SIM_ECONFIG, "trace: unknown arrival process %d", (int)o->arrival);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static int starts_with(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

static const char hdr_azure[] = "TIMESTAMP,ContextTokens,GeneratedTokens";
static const char hdr_lengths[] = "num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio";
static const char hdr_csv[] = "arrival_s,prompt_tokens,output_tokens";
static const char hdr_csv_id[] = "arrival_s,prompt_tokens,output_tokens,id";
static const char hdr_vidur[] = "arrived_at,num_prefill_tokens,num_decode_tokens";
/* BurstGPT's CSV (HPMLL/BurstGPT README.md, "Schema"; data/BurstGPT_*.csv). */
static const char hdr_burstgpt[] =
    "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type";

/* A header as compared: blanks after a comma dropped (issue 12: "a, b" reads as "a,b"), in place.
 * Returns the new length. */
static size_t header_squeeze(char *line, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if ((line[i] == ' ' || line[i] == '\t') && o && line[o - 1] == ',')
            continue;
        line[o++] = line[i];
    }
    while (o && (line[o - 1] == ' ' || line[o - 1] == '\t'))
        o--;
    line[o] = 0;
    return o;
}

/* issue 14: AlpacaEval's prompt lengths: every line of instructions.jsonl in the matrix's folder
 * (../shared/data/prompts/alpaca_eval/derived/), idx -> instr_llama2_tokens. 805 lines, 4 bytes
 * each. Errors are "instructions.jsonl:line: ...". */
static int alpaca_prompts(trace_t *t, struct sim_msg *err)
{
    const char *slash = strrchr(t->path, '/');
    size_t      dir = slash ? (size_t)(slash - t->path) + 1 : 0;
    trace_t    *j = sim_calloc(1, sizeof *j);
    if (!j)
        return sim_msg_set(err, SIM_ENOMEM, "%s: out of memory", t->path);
    int rc = SIM_OK;
    if (!(j->path = sim_malloc(dir + sizeof "instructions.jsonl"))) {
        rc = sim_msg_set(err, SIM_ENOMEM, "%s: out of memory", t->path);
        goto out;
    }
    memcpy(j->path, t->path, dir);
    memcpy(j->path + dir, "instructions.jsonl", sizeof "instructions.jsonl");
    struct stat st;
    if (stat(j->path, &st) != 0) {
        rc = sim_msg_set(err, SIM_ENOENT,
                         "%s: no such file (an alpaca_eval length matrix reads its prompt "
                         "lengths from instructions.jsonl beside it)",
                         j->path);
        goto out;
    }
    if ((rc = sim_open_input(j->path, &j->f, err)))
        goto out;
    if (trace__lr_init(&j->lr, j->f, TRACE__LINE_MAX)) {
        rc = sim_msg_set(err, SIM_ENOMEM, "%s: out of memory", j->path);
        goto out;
    }
    size_t cap = 0;
    for (;;) {
        char    *line;
        size_t   n;
        int      nl;
        uint64_t idx = 0, tok = 0;
        rc = trace__lr_next(&j->lr, &line, &n, &nl);
        if (rc == 0)
            break;
        if (rc == SIM_EIO) {
            rc = sim_msg_set(err, SIM_EIO, "%s: read error: %s", j->path, strerror(j->lr.io_errno));
            goto out;
        }
        if (rc == SIM_EINPUT)
            rc = trace__row_err(j, SIM_EINPUT, "line longer than %d bytes", TRACE__LINE_MAX);
        else
            rc = trace__parse_alpaca_instr(j, line, n, &idx, &tok);
        if (!rc && idx < t->n_prompts && t->prompts[idx])
            rc = trace__row_err(j, SIM_EINPUT, "idx %llu given twice", (unsigned long long)idx);
        if (rc) {
            *err = j->msg;
            goto out;
        }
        if (idx >= t->n_prompts) {
            if (SIM_GROW(t->prompts, cap, idx + 1)) {
                rc = sim_msg_set(err, SIM_ENOMEM, "%s: out of memory", j->path);
                goto out;
            }
            memset(t->prompts + t->n_prompts, 0, (idx + 1 - t->n_prompts) * sizeof *t->prompts);
            t->n_prompts = idx + 1;
        }
        t->prompts[idx] = (uint32_t)tok;
    }
    if (!t->n_prompts)
        rc = sim_msg_set(err, SIM_EINPUT, "%s: no instructions", j->path);
out:
    trace_close(j);
    return rc;
}

/* issue 14: the header idx,<model>,...: find the column, then read the prompt lengths. */
static int alpaca_header(trace_t *t, char *line, size_t n, struct sim_msg *err)
{
    char q[96];
    if (!t->column)
        return sim_msg_set(err, SIM_ECONFIG,
                           "%s: an alpaca_eval file holds one column of lengths per model: name "
                           "one (workload.column, e.g. text_davinci_003)",
                           t->path);
    size_t k = 0, start = 0, found = 0, cl = strlen(t->column);
    for (size_t i = 0; i <= n; i++) {
        if (i < n && line[i] != ',')
            continue;
        if (k == 0 && !(i == 3 && !memcmp(line, "idx", 3)))
            return sim_msg_set(err, SIM_EINPUT,
                               "%s:1: expected the header \"idx,<model>,...\", "
                               "got %s",
                               t->path, trace__quote(line, n, q, sizeof q));
        if (k > 0 && i - start == cl && !memcmp(line + start, t->column, cl)) {
            if (found)
                return sim_msg_set(err, SIM_EINPUT, "%s:1: column %s given twice", t->path,
                                   trace__quote(t->column, cl, q, sizeof q));
            found = 1;
            t->col = k;
        }
        k++;
        start = i + 1;
    }
    if (!found)
        return sim_msg_set(err, SIM_EINPUT, "%s:1: no column %s among its %zu models", t->path,
                           trace__quote(t->column, cl, q, sizeof q), k - 1);
    t->n_cols = k;
    return alpaca_prompts(t, err);
}

/* Read the first line, settle the format and check the header. */
static int read_header(trace_t *t, struct sim_msg *err)
{
    char  *line, q[96];
    size_t n;
    int    nl;
    int    rc = trace__lr_next(&t->lr, &line, &n, &nl);
    if (rc == 0)
        return sim_msg_set(err, SIM_EINPUT, "%s: empty", t->path);
    if (rc == SIM_EIO)
        return sim_msg_set(err, SIM_EIO, "%s: read error: %s", t->path, strerror(t->lr.io_errno));
    if (rc == SIM_EINPUT)
        return sim_msg_set(err, SIM_EINPUT, "%s:1: line longer than %d bytes", t->path,
                           TRACE__LINE_MAX);
    if (n >= 3 && !memcmp(line, "\xef\xbb\xbf", 3)) { /* a UTF-8 byte-order mark */
        line += 3;
        n -= 3;
        t->lr.last = line; /* a Mooncake first row is handed out again without it */
        t->lr.last_n = n;
    }
    enum trace_format f = t->o.format;
    if (f != TRACE_FMT_MOONCAKE && !(n && line[0] == '{')) /* a CSV header */
        n = header_squeeze(line, n);
    if (f == TRACE_FMT_AUTO) {
        if (ends_with(t->path, ".jsonl") || (n && line[0] == '{'))
            f = TRACE_FMT_MOONCAKE;
        else if (starts_with(line, "TIMESTAMP,"))
            f = TRACE_FMT_AZURE;
        else if (starts_with(line, "num_prefill_tokens,"))
            f = TRACE_FMT_LENGTHS;
        else if (starts_with(line, "arrival_s,"))
            f = TRACE_FMT_CSV;
        else if (starts_with(line, "arrived_at,"))
            f = TRACE_FMT_VIDUR;
        else if (starts_with(line, "Timestamp,Model,"))
            f = TRACE_FMT_BURSTGPT;
        else if (starts_with(line, "idx,")) /* issue 14 */
            f = TRACE_FMT_ALPACA;
        else
            return sim_msg_set(err, SIM_EINPUT,
                               "%s:1: cannot tell the trace format from the first line %s; name "
                               "it (azure, mooncake, lengths, csv, vidur, burstgpt, "
                               "alpaca_eval)",
                               t->path, trace__quote(line, n, q, sizeof q));
    }
    t->fmt = f;
    t->timed = f != TRACE_FMT_LENGTHS && f != TRACE_FMT_ALPACA;
    if (t->column && f != TRACE_FMT_ALPACA) /* issue 14 */
        return sim_msg_set(err, SIM_ECONFIG,
                           "%s: column '%s' names a model of an alpaca_eval file; this file is "
                           "%s",
                           t->path, t->column, trace_format_name(f));
    const char *want = NULL;
    switch (f) {
    case TRACE_FMT_MOONCAKE: trace__lr_unread(&t->lr); return SIM_OK; /* no header */
    case TRACE_FMT_ALPACA: return alpaca_header(t, line, n, err);
    case TRACE_FMT_AZURE: want = hdr_azure; break;
    case TRACE_FMT_LENGTHS: want = hdr_lengths; break;
    case TRACE_FMT_VIDUR: want = hdr_vidur; break;
    case TRACE_FMT_BURSTGPT: want = hdr_burstgpt; break;
    default:
        want = hdr_csv;
        t->csv_has_id = !strcmp(line, hdr_csv_id);
        if (t->csv_has_id)
            return SIM_OK;
        break;
    }
    if (strcmp(line, want))
        return sim_msg_set(err, SIM_EINPUT, "%s:1: expected the header \"%s\"%s, got %s", t->path,
                           want, f == TRACE_FMT_CSV ? " (and optionally \",id\")" : "",
                           trace__quote(line, n, q, sizeof q));
    return SIM_OK;
}

static int open_file(trace_t *t, struct sim_msg *err)
{
    char path[4096];
    if (trace_resolve_path(t->o.path, t->data_dir, path, sizeof path)) {
        char dir[4096];
        int  have_dir = t->data_dir || !trace_data_dir(NULL, dir, sizeof dir);
        if (t->o.path[0] != '/' && have_dir)
            return sim_msg_set(err, SIM_ENOENT, "%s: no such file (looked here and under %s)",
                               t->o.path, t->data_dir ? t->data_dir : dir);
        return sim_msg_set(err, SIM_ENOENT, "%s: no such file", t->o.path);
    }
    if (!(t->path = sim_strdup(path)))
        return sim_msg_set(err, SIM_ENOMEM, "%s: out of memory", t->o.path);
    int rc = sim_open_input(path, &t->f, err);
    if (rc)
        return rc;
    if (trace__lr_init(&t->lr, t->f, TRACE__LINE_MAX))
        return sim_msg_set(err, SIM_ENOMEM, "%s: out of memory", path);
    return read_header(t, err);
}

static int open_rngs(trace_t *t, int lengths, struct sim_msg *err)
{
    t->rng_arr = rng_new(t->o.seed, RNG_ARRIVALS);
    if (lengths)
        t->rng_len = rng_new(t->o.seed, RNG_LENGTHS);
    if (!t->rng_arr || (lengths && !t->rng_len))
        return sim_msg_set(err, SIM_ENOMEM, "trace: out of memory for random streams");
    return SIM_OK;
}

/* Empirical lengths: read every (prompt, output) pair of the lengths file. Memory: 8 bytes a
 * row (270 KB for the largest lengths file here). */
static int load_pairs(trace_t *t, struct sim_msg *err)
{
    struct trace_opts io;
    trace_opts_default(&io);
    io.format = t->o.lengths_format;
    io.path = t->lengths_path;
    io.data_dir = t->data_dir;
    io.skip_bad = t->o.skip_bad;
    io.arrival = TRACE_ARR_BATCH;
    io.column = t->column; /* issue 14: an alpaca_eval lengths file's model */
    trace_t *in;
    int      rc = trace_open(&io, &in, err);
    if (rc)
        return rc;
    size_t           cap = 0;
    struct trace_req r = {0};
    while ((rc = trace_next(in, &r, err)) == 1) {
        if (SIM_GROW(t->pairs, cap, 2 * (t->n_pairs + 1))) {
            rc = sim_msg_set(err, SIM_ENOMEM, "%s: out of memory for the lengths", in->path);
            break;
        }
        t->pairs[2 * t->n_pairs] = r.prompt_tok;
        t->pairs[2 * t->n_pairs + 1] = r.output_tok;
        t->n_pairs++;
    }
    if (rc == 0 && t->n_pairs == 0)
        rc = sim_msg_set(err, SIM_EINPUT, "%s: no lengths to resample (no data rows)", in->path);
    trace_close(in);
    return rc;
}

static char *dup_opt(const char *s, int *fail)
{
    if (!s)
        return NULL;
    char *d = sim_strdup(s);
    if (!d)
        *fail = 1;
    return d;
}

int trace_open(const struct trace_opts *o, trace_t **out, struct sim_msg *err)
{
    *out = NULL;
    int rc = check_opts(o, err);
    if (rc)
        return rc;
    trace_t *t = sim_calloc(1, sizeof *t);
    if (!t)
        return sim_msg_set(err, SIM_ENOMEM, "trace: out of memory");
    t->o = *o;
    int fail = 0;
    t->data_dir = dup_opt(o->data_dir, &fail);
    t->lengths_path = dup_opt(o->lengths_path, &fail);
    t->column = o->column && *o->column ? dup_opt(o->column, &fail) : NULL; /* issue 14 */
    t->o.data_dir = t->data_dir;
    t->o.lengths_path = t->lengths_path;
    t->o.column = t->column;
    if (!t->o.rate_scale)
        t->o.rate_scale = 1.0;
    t->t_start_ns = llround(o->t_start_s * 1e9);
    t->t_end_ns = llround(o->t_end_s * 1e9);
    if (fail) {
        rc = sim_msg_set(err, SIM_ENOMEM, "trace: out of memory");
    } else if (o->format == TRACE_FMT_SYNTH) {
        t->fmt = TRACE_FMT_SYNTH;
        if (!(rc = check_arrivals(o, err)) && !(rc = open_rngs(t, 1, err)) &&
            o->lengths == TRACE_LEN_EMPIRICAL)
            rc = load_pairs(t, err);
    } else if (!(rc = open_file(t, err)) && has_arrival_process(t->fmt)) {
        if (!(rc = check_arrivals(o, err)))
            rc = open_rngs(t, 0, err);
    }
    if (rc) {
        trace_close(t);
        return rc;
    }
    t->o.path = t->path;
    *out = t;
    return SIM_OK;
}

void trace_close(trace_t *t)
{
    if (!t)
        return;
    if (t->f)
        fclose(t->f);
    trace__lr_fini(&t->lr);
    rng_free(t->rng_arr);
    rng_free(t->rng_len);
    sim_free(t->pairs);
    sim_free(t->hash);
    sim_free(t->path);
    sim_free(t->data_dir);
    sim_free(t->lengths_path);
    sim_free(t->column);  /* issue 14 */
    sim_free(t->prompts); /* issue 14 */
    sim_free(t);
}

/* ---- the sources ---- */

/* A log-normal token count, rounded to the nearest integer and kept in [1, TRACE__TOK_MAX]. */
static uint64_t draw_lognormal(rng_t *r, double mu, double sigma)
{
    double x = gsl_ran_lognormal(r, mu, sigma);
    if (!(x < TRACE__TOK_MAX))
        return TRACE__TOK_MAX;
    uint64_t v = (uint64_t)llround(x);
    return v ? v : 1;
}

/* The next row of the source: 1 and *row, 0 at the end, or a negative code (message in t). */
static int source_row(trace_t *t, struct trace__row *row)
{
    if (t->fmt == TRACE_FMT_SYNTH) {
        memset(row, 0, sizeof *row);
        t->c.rows++;
        if (t->o.lengths == TRACE_LEN_EMPIRICAL) {
            size_t i = gsl_rng_uniform_int(t->rng_len, t->n_pairs);
            row->prompt = t->pairs[2 * i];
            row->output = t->pairs[2 * i + 1];
        } else {
            row->prompt = draw_lognormal(t->rng_len, t->o.prompt_mu, t->o.prompt_sigma);
            row->output = draw_lognormal(t->rng_len, t->o.output_mu, t->o.output_sigma);
        }
        return 1;
    }
    char  *line;
    size_t n;
    int    nl;
    int    rc = trace__lr_next(&t->lr, &line, &n, &nl);
    if (rc == 0)
        return 0;
    if (rc == SIM_EIO)
        return sim_msg_set(&t->msg, SIM_EIO, "%s:%llu: read error: %s", t->path,
                           (unsigned long long)t->lr.lineno + 1, strerror(t->lr.io_errno));
    t->c.rows++;
    if (rc == SIM_EINPUT)
        return trace__row_err(t, SIM_EINPUT, "line longer than %d bytes", TRACE__LINE_MAX);
    rc = trace__parse_row(t, line, n, nl, row);
    return rc ? rc : 1;
}

/* Source time of the next generated arrival, in ns from the first one. */
static int next_arrival(trace_t *t, int64_t *rel)
{
    const struct trace_opts *o = &t->o;
    if (o->arrival == TRACE_ARR_BATCH) {
        *rel = 0;
        return SIM_OK;
    }
    if (t->n_arrivals++ > 0) {
        if (o->arrival == TRACE_ARR_POISSON) {
            t->arr_t_s += gsl_ran_exponential(t->rng_arr, 1.0 / o->rate);
        } else { /* Gamma with mean 1/rate and CV cv: shape 1/cv^2, scale cv^2/rate */
            double cv2 = o->cv * o->cv;
            t->arr_t_s += gsl_ran_gamma(t->rng_arr, 1.0 / cv2, cv2 / o->rate);
        }
    }
    if (!(t->arr_t_s * 1e9 < (double)SIM_T_MAX))
        return sim_msg_set(&t->msg, SIM_ECONFIG,
                           "trace: generated arrival at %g s is beyond simulated time (146 "
                           "years); lower max_requests or raise the rate",
                           t->arr_t_s);
    *rel = llround(t->arr_t_s * 1e9);
    return SIM_OK;
}

/* "12.5" for 12,500,000,000 ns: exact seconds without trailing zeros. */
static void fmt_secs(int64_t ns, char *out, size_t n)
{
    const char *sign = ns < 0 ? "-" : "";
    uint64_t    a = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    int         k = snprintf(out, n, "%s%llu.%09llu", sign, (unsigned long long)(a / 1000000000u),
                             (unsigned long long)(a % 1000000000u));
    while (k > 0 && (size_t)k < n && out[k - 1] == '0')
        out[--k] = '\0';
    if (k > 0 && (size_t)k < n && out[k - 1] == '.')
        out[--k] = '\0';
}

static int finish(trace_t *t, int status, struct sim_msg *err)
{
    t->done = 1;
    t->status = status;
    t->n_hash = 0;
    if (status < 0 && err)
        *err = t->msg;
    return status;
}

int trace_next(trace_t *t, struct trace_req *r, struct sim_msg *err)
{
    if (t->done) {
        if (t->status < 0 && err)
            *err = t->msg;
        return t->status;
    }
    if (t->o.max_requests && t->c.yielded >= t->o.max_requests)
        return finish(t, 0, err);
    for (;;) {
        struct trace__row row;
        int               rc = source_row(t, &row);
        int64_t           rel = 0;
        if (rc == 1) {
            if (!t->timed) {
                int ra = next_arrival(t, &rel);
                rc = ra ? ra : 1;
            } else if (!t->have_first) {
                /* Vidur replays arrived_at as simulated time itself (its
                 * trace_replay_request_generator.py subtracts nothing): time 0 is the origin. */
                t->have_first = 1;
                t->first_ns = t->fmt == TRACE_FMT_VIDUR ? 0 : row.t_ns;
                t->prev_ns = row.t_ns;
                rel = row.t_ns - t->first_ns;
            } else if (row.t_ns < t->prev_ns) {
                char a[40], b[40];
                fmt_secs(row.t_ns - t->first_ns, a, sizeof a);
                fmt_secs(t->prev_ns - t->first_ns, b, sizeof b);
                rc = trace__row_err(t, SIM_EINPUT, "timestamp goes backwards (%s < %s)", a, b);
            } else if (row.t_ns - t->first_ns > SIM_T_MAX) {
                rc = trace__row_err(t, SIM_EINPUT,
                                    "timestamp more than 146 years after the first row's");
            } else {
                t->prev_ns = row.t_ns;
                rel = row.t_ns - t->first_ns;
            }
        }
        if (rc == SIM_EINPUT && t->o.skip_bad) {
            t->c.skipped_bad++;
            continue;
        }
        if (rc <= 0)
            return finish(t, rc, err);
        if (rel < t->t_start_ns)
            continue;
        if (t->t_end_ns && rel >= t->t_end_ns)
            return finish(t, 0, err);

        uint64_t p = row.prompt, q = row.output;
        if (t->o.max_prompt_tok && p > t->o.max_prompt_tok) {
            p = t->o.max_prompt_tok;
            t->c.clamped_prompt++;
        }
        if (t->o.max_output_tok && q > t->o.max_output_tok) {
            q = t->o.max_output_tok;
            t->c.clamped_output++;
        }
        int64_t d = rel - t->t_start_ns;
        if (t->o.rate_scale != 1.0) {
            double x = (double)d / t->o.rate_scale;
            if (!(x < (double)SIM_T_MAX))
                return finish(t,
                              sim_msg_set(&t->msg, SIM_ECONFIG,
                                          "trace: rate_scale %g puts arrivals beyond simulated "
                                          "time (146 years)",
                                          t->o.rate_scale),
                              err);
            d = llround(x);
        }
        r->arrival_ns = d;
        r->prompt_tok = (uint32_t)p;
        r->output_tok = (uint32_t)q;
        r->id = row.has_id ? row.id : t->c.yielded;
        t->c.yielded++;
        return 1;
    }
}

struct trace_counts trace_counts(const trace_t *t) { return t->c; }

const int64_t *trace_hash_ids(const trace_t *t, size_t *n)
{
    *n = t->n_hash;
    return t->n_hash ? t->hash : NULL;
}

enum trace_format trace_format_of(const trace_t *t) { return t->fmt; }

const char *trace_path(const trace_t *t) { return t->path; }
