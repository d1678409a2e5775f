/*
 * met.h: metrics of one run, named and defined as vLLM's serving benchmark does (METRICS.md):
 *   ttft   arrival to first token;
 *   tpot   (e2el - ttft) / (output tokens - 1), per request, over requests with > 1 token;
 *   itl    every gap between consecutive tokens of a request, pooled over all requests;
 *   e2el   arrival to last token (= JCT); queue: arrival to first admission;
 *   norm   normalized latency, e2el / output tokens (the ORCA and vLLM papers' metric).
 * Statistics are exact: every per-request value is kept (32 bytes per request, so 10^7 requests
 * take 320 MB) and ITL is kept per iteration as (duration, tokens) pairs, since every decoding
 * request of an iteration sees the same gap; irregular gaps (after a preemption) are kept one by
 * one. Percentiles interpolate linearly (numpy's default).
 * Duration (the throughput denominator) is first arrival to last completion.
 * Timeline: per replica, rows of (time, batch size, KV used, waiting, running), decimated to at
 * most timeline_rows rows by doubling the sampling interval whenever the buffer fills; of two
 * samples at one instant the later is kept; with timeline_rows = 1 the one row is the first sample.
 * Its rows are allocated as samples come (doubling, up to timeline_rows per replica), so that a
 * large timeline_rows costs only what a run fills; met_timeline_max_bytes bounds the total.
 * Errors: SIM_ENOMEM or SIM_EIO (requests.csv write); the object stays usable for freeing.
 */
#ifndef LENSIM_MET_H
#define LENSIM_MET_H

#include <stdint.h>
#include <stdio.h>

#include "req.h"
#include "sim.h"

struct met_cfg {
    double   slo_ttft_s, slo_tpot_s, slo_e2el_s; /* 0 = not set */
    double   slo_norm_s; /* normalized latency (e2el / output tokens), ORCA's and vLLM's papers */
    uint32_t n_replicas;
    uint32_t timeline_rows; /* per replica; 0 = no timeline */
    FILE    *requests_csv;  /* borrowed; NULL = do not write per-request rows */

    /* For a failed row of requests_csv: its path, and where the reason goes (both borrowed). */
    const char     *requests_name;
    struct sim_msg *err; /* may be NULL */
};

typedef struct met met_t;

/* Returns an owned metrics object (free with met_free), or NULL when out of memory. Copies cfg;
 * borrows cfg->requests_csv. */
met_t *met_new(const struct met_cfg *cfg);
/* NULL is a no-op. */
void met_free(met_t *m);

/* Why a request never ran (issue 12: every one is counted and reported, none dropped quietly). */
enum met_fail_reason {
    MET_FAIL_PROMPT = 0, /* its prompt alone fills engine.max_seq_len */
    MET_FAIL_KV,         /* it needs more KV memory than a replica holds */
    MET_N_FAIL
};
/* The reasons' names, as requests.csv's status column and summary.json write them. */
extern const char *const met_fail_names[MET_N_FAIL];

/* A request finished (state DONE) or failed (never ran). Both write the request's row of
 * requests.csv (a failed one with empty latencies and status failed_<reason>; a finished one
 * whose output max_seq_len cut, r->asked_tok != 0, with status truncated). Each returns 0,
 * SIM_ENOMEM, or SIM_EIO with "requests_name: cannot write: cause" in cfg->err when its row
 * fails. */
int met_finish(met_t *m, const struct req *r);
int met_fail(met_t *m, const struct req *r, enum met_fail_reason why);
/* An iteration of replica `rep` ran [t, t + dur): `batch` sequences, `itl_tokens` of its tokens
 * followed a token of the previous iteration (gap = dur), `tokens` tokens produced in all. */
int met_iter(met_t *m, uint32_t rep, simtime_t t, simtime_t dur, uint32_t batch,
             uint32_t itl_tokens, uint32_t tokens, double kv_util);
/* The most memory the timeline can take, all replicas full (n_replicas x timeline_rows rows),
 * in bytes: what a run must be able to afford. Pure. */
uint64_t met_timeline_max_bytes(const met_t *m);
/* The timeline's rows per replica (0 = none). Pure. */
uint32_t met_timeline_rows(const met_t *m);
/* A timeline sample (decimated inside). Returns 0, or SIM_ENOMEM when its row cannot be
 * allocated (the timeline unchanged). */
int met_sample(met_t *m, uint32_t rep, simtime_t t, uint32_t batch, uint64_t kv_used_tok,
               double kv_util, uint32_t waiting);
/* An irregular inter-token gap (after a preemption or a pause). */
int met_gap(met_t *m, simtime_t gap_ns);
/* Issue 10, prefix caching: the run's prompt tokens looked up in the cache and found there so
 * far (set, not added); the summary reports them only once this was called. */
void met_prefix(met_t *m, uint64_t query_tok, uint64_t hit_tok);
/* Count a preemption / misprediction event and the tokens it wasted. */
void met_preempt(met_t *m, int misprediction, uint64_t wasted_tok, double wasted_s);

struct met_stat {
    double mean, median, p90, p99, std;
    size_t n;
};

struct met_summary {
    uint64_t completed, failed;
    uint64_t failed_why[MET_N_FAIL]; /* failed, by reason */
    uint64_t truncated;              /* completed with their output cut at max_seq_len */
    uint64_t longest_cut;            /* largest prompt + asked output of a failed or cut request */
    uint64_t clamped_prompt;         /* workload prompts clamped (max_prompt_tokens; run.c sets) */
    uint64_t kv_clamped;             /* predicted reservations clamped to the KV pool (run.c) */
    uint64_t total_input_tokens, total_output_tokens;
    double   duration_s;
    double   arrival_rate; /* requests (completed or failed) - 1 over first to last arrival */
    double   request_throughput, output_throughput, total_token_throughput;
    double   request_goodput; /* requests that met every SLO per second; NAN: no SLO */
    /* The share of requests that met every SLO, NAN when no SLO is set: of all requests (a
     * failed one is a miss), and of the completed ones only. */
    double          slo_attainment, slo_attainment_completed;
    struct met_stat ttft, tpot, itl, e2el, queue; /* seconds */
    struct met_stat norm;                         /* e2el / output tokens, seconds per token */
    double          mean_kv_util, peak_kv_util;
    double          mean_batch_size;
    uint64_t        iterations;
    uint64_t        preemptions, mispredictions, wasted_tokens;
    double          wasted_s;
    double          ssjf_throughput;  /* SSJF paper's definition: 25th-percentile completion rate */
    uint64_t        tokens_generated; /* counted per iteration; equals total_output_tokens */
    /* Issue 10, prefix caching (summary.json only, and only when on): prompt tokens looked up,
     * found (prefill tokens saved), and their ratio. */
    int      prefix_on;
    uint64_t prefix_query_tokens, prefix_hit_tokens;
    double   prefix_hit_rate;
};

/* Mean, sd (population), median, p90 and p99 (linear interpolation) of x[0..n), which is
 * reordered in place (not sorted: quantiles by selection, O(n)). All NaN when n is 0. */
void met_stat_of(double *x, size_t n, struct met_stat *s);
/* Issue 13: met_stat_of of four arrays of the same length n > 1 at once (the same results, bit
 * for bit: their mean and sd chains run side by side). Each array is reordered. */
void met__stat_of4(double *const x[4], size_t n, struct met_stat *s[4]);

/* Compute the summary. first_arrival_ns: the run's first arrival. Returns 0 or SIM_ENOMEM. */
int met_summarize(met_t *m, simtime_t first_arrival_ns, struct met_summary *out);
/* The summary's outputs, all driven by one column table in met.c (a new metric is one row).
 * Write summary JSON (vLLM key names, times in ms) to f. Returns 0 or SIM_EIO. */
int met_write_json(const struct met_summary *s, FILE *f);
/* Issue 13 (`lensim run --resume`): read back what met_write_json wrote. Every value prints the
 * same in every output afterwards (the files hold 6 decimals; scaling back and forth stays far
 * from a rounding boundary). Fields without a JSON key stay 0. Returns 0, or SIM_ECONFIG when a
 * key is missing or a value unreadable. */
int met_read_json(FILE *f, struct met_summary *s);
/* Issue 13 (`lensim search`): the value summary.json shows under `key` (ms, fractions, ...), in
 * *v. Returns 0, or SIM_ECONFIG for a key summary.json does not have. */
int met_value(const struct met_summary *s, const char *key, double *v);
/* results.csv: the metric columns' names, then one run's values, each preceded by a comma
 * (the caller writes the leading columns and the line end). NaN is an empty field. Borrow s
 * and f; stdio errors are the caller's to check on f. */
void met_csv_header(FILE *f);
void met_csv_row(const struct met_summary *s, FILE *f); /* s NULL: every field empty */
/* results.json: the same columns as `, "name": value` pairs (NaN and s NULL: null). */
void met_json_row(const struct met_summary *s, FILE *f);
/* The terminal table's metric columns, each preceded by a space: titles, then one run's values
 * in the table's own units (ms, s, %), each fitted to its title's width (at least 4): fewer
 * decimals, then a k/M/G suffix; NaN is "-". slo != 0 adds goodput and SLO attainment (set it
 * when any run has an SLO). Same contract as the CSV pair. met_table_width: the characters
 * either writes per line. Pure. */
int  met_table_width(int slo);
void met_table_header(FILE *f, int slo);
void met_table_row(const struct met_summary *s, FILE *f, int slo);
/* Write the timeline CSV body (header included). Returns 0 or SIM_EIO. */
int met_write_timeline(const met_t *m, FILE *f);
/* The header line of requests.csv. */
extern const char met_requests_header[];

#endif
