/*
 * trace.h: workload sources that yield one request at a time (never loading a whole file).
 *
 * Sources: Azure LLM inference 2023 and 2024 CSV, Mooncake JSONL, BurstGPT CSV, lengths-only CSV
 * (arrivals drawn from a process), the generic interchange CSV (traces/FORMAT.md), and a
 * synthetic generator (Poisson or
 * Gamma arrivals; log-normal or empirical lengths), which is the embedded default workload.
 * Issue 14: AlpacaEval's length matrix (alpaca_eval), its arrivals drawn from a process too.
 * Order: arrivals are non-decreasing. A replayed row whose timestamp goes backwards is an error
 * (or, with skip_bad, skipped and counted); see FORMAT.md.
 * Options every source honours: rate scaling, the first N requests, a time window, caps on
 * prompt and output length (longer values are clamped and counted).
 * Errors: trace_open and trace_next return negative sim_err codes and write
 * "file:line: what is wrong" into the caller's sim_msg.
 * Randomness: synthetic arrivals and lengths come from their own RNG streams derived from
 * (seed, RNG_ARRIVALS or RNG_LENGTHS in rng.h), so they do not change when anything else in an
 * experiment changes.
 * Ownership: trace_open returns an owned trace_t (free with trace_close); option strings are
 * copied.
 */
#ifndef LENSIM_TRACE_H
#define LENSIM_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "choice.h"
#include "sim.h"

typedef struct trace trace_t;

struct trace_req {
    simtime_t arrival_ns; /* after windowing and rate scaling; the first window starts at 0 */
    uint32_t  prompt_tok; /* >= 1 */
    uint32_t  output_tok; /* >= 1 */
    uint64_t  id;         /* 0-based index of the yielded request, or the file's id column */
};

enum trace_format {
    TRACE_FMT_AUTO = 0, /* from the file name and header */
    TRACE_FMT_AZURE,    /* TIMESTAMP,ContextTokens,GeneratedTokens */
    TRACE_FMT_MOONCAKE, /* JSONL: timestamp (ms), input_length, output_length, hash_ids */
    TRACE_FMT_LENGTHS,  /* num_prefill_tokens,num_decode_tokens,... (no arrivals) */
    TRACE_FMT_CSV,      /* arrival_s,prompt_tokens,output_tokens[,id] */
    TRACE_FMT_VIDUR,    /* arrived_at,num_prefill_tokens,num_decode_tokens (absolute seconds) */
    TRACE_FMT_BURSTGPT, /* issue 12: Timestamp,Model,Request tokens,Response tokens,... */
    TRACE_FMT_ALPACA,   /* issue 14: AlpacaEval's idx,<model>... length matrix (no arrivals) */
    TRACE_FMT_SYNTH     /* generator, no file */
};

enum trace_arrival {
    TRACE_ARR_POISSON = 0, /* exponential gaps at `rate` */
    TRACE_ARR_GAMMA,       /* Gamma gaps with mean 1/rate and coefficient of variation `cv` */
    TRACE_ARR_BATCH        /* everything at t = 0 (offline throughput runs) */
};

enum trace_lengths {
    TRACE_LEN_LOGNORMAL = 0, /* ln(tokens) ~ N(mu, sigma), rounded, at least 1 */
    TRACE_LEN_EMPIRICAL      /* resampled (with replacement) from lengths_path */
};

struct trace_opts {
    enum trace_format format;
    const char       *path;     /* the trace file (relative paths are tried under data_dir too) */
    const char       *data_dir; /* NULL = resolve with trace_data_dir(NULL, ...) */

    /* Every source. */
    double   rate_scale;     /* arrivals times divided by this; 0 means 1 */
    uint64_t max_requests;   /* yield at most this many; 0 = no limit */
    double   t_start_s;      /* window start in the source's own seconds from its first row */
    double   t_end_s;        /* window end (exclusive); 0 = no end */
    uint32_t max_prompt_tok; /* clamp longer prompts to this; 0 = no cap */
    uint32_t max_output_tok; /* clamp longer outputs to this; 0 = no cap */
    int      skip_bad;       /* skip malformed rows (counted) instead of failing */

    /* Arrivals for sources without timestamps (lengths-only and synthetic). */
    enum trace_arrival arrival;
    double             rate; /* requests per second, > 0 unless arrival is BATCH */
    double             cv;   /* Gamma coefficient of variation, > 0 */
    uint64_t           seed;

    /* Synthetic lengths. */
    enum trace_lengths lengths;
    double             prompt_mu, prompt_sigma; /* log-normal parameters of prompt tokens */
    double             output_mu, output_sigma; /* log-normal parameters of output tokens */
    const char        *lengths_path;            /* empirical lengths: any trace file with lengths */
    enum trace_format  lengths_format;

    /* issue 14: alpaca_eval files (the source's or the lengths file): the model (column) whose
     * responses give the output lengths; required there, refused for every other format. */
    const char *column;
};

/* Defaults: the embedded synthetic workload (log-normal lengths fitted to the Azure 2023
 * conversation trace, Poisson arrivals), no caps, no window, rate_scale 1. */
void trace_opts_default(struct trace_opts *o);

/* Open a source. Returns 0 and an owned *out, or a negative code with *out NULL and the reason
 * in err. A source with no bound (synthetic without max_requests or t_end_s) is SIM_ECONFIG. */
int trace_open(const struct trace_opts *o, trace_t **out, struct sim_msg *err);
/* Next request: returns 1 and fills *r, 0 at the end, or a negative code with the reason
 * ("file:line: what is wrong") in err; after an error or the end, keeps returning the same. */
int trace_next(trace_t *t, struct trace_req *r, struct sim_msg *err);
/* Close and free. NULL is a no-op. */
void trace_close(trace_t *t);

struct trace_counts {
    uint64_t rows;           /* data rows read (replay formats) */
    uint64_t yielded;        /* requests returned */
    uint64_t skipped_bad;    /* malformed rows skipped under skip_bad */
    uint64_t clamped_prompt; /* prompts clamped to max_prompt_tok */
    uint64_t clamped_output; /* outputs clamped to max_output_tok */
};
/* Counters so far. Cannot fail. */
struct trace_counts trace_counts(const trace_t *t);

/* The Mooncake hash_ids (prefix-cache block hashes, one per 512 prompt tokens) of the request
 * trace_next returned last: a borrowed array of *n ids, valid until the next trace_next or
 * trace_close; NULL with *n = 0 for other formats, rows without hash_ids and after the end. */
const int64_t *trace_hash_ids(const trace_t *t, size_t *n);
/* The format actually read (AUTO resolved). Cannot fail. */
enum trace_format trace_format_of(const trace_t *t);
/* The resolved path of the file read (borrowed, valid until trace_close), or NULL for the
 * generator. */
const char *trace_path(const trace_t *t);

/* The choice sets (names and help; values the enums above): formats (the schema's
 * workload.source), arrival processes and generator lengths. */
extern const struct sim_choice trace_format_choices[], trace_arrival_choices[],
    trace_lengths_choices[];
/* Names through the sets above: a name, or "?" for a value outside its enum (cannot fail); parse
 * returns 0, or SIM_ECONFIG with *out unchanged (name may be NULL). */
const char *trace_format_name(enum trace_format f);
int         trace_format_parse(const char *name, enum trace_format *out);
const char *trace_arrival_name(enum trace_arrival a);
int         trace_arrival_parse(const char *name, enum trace_arrival *out);

/* The data directory: `flag` if not NULL, else $LENSIM_DATA, else ../shared/data relative to the
 * working directory or to the source tree, when it exists. Writes it to out and returns 0, or
 * SIM_ENOENT (out empty) when none is found. */
int trace_data_dir(const char *flag, char *out, size_t n);
/* Resolve a trace path: as given if it exists, else under data_dir. Returns 0 or SIM_ENOENT. */
int trace_resolve_path(const char *path, const char *data_dir, char *out, size_t n);

/* The figures of the whole workload o describes (what `lensim trace stats` prints): read every
 * request through the same pipeline a simulation uses and write one `key: value` line per
 * figure to out, with `#` lines defining the less obvious ones. Returns 0; or trace_open's and
 * trace_next's errors (SIM_ENOENT, SIM_EIO, SIM_EINPUT, SIM_ECONFIG) or SIM_ENOMEM with the
 * reason in err, and nothing written. Borrows o and out. */
int trace_stats(const struct trace_opts *o, FILE *out, struct sim_msg *err);

#endif
