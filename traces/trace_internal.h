/*
 * trace_internal.h: what the files of traces/ share and nothing outside may use (R5).
 *
 * trace_lr.c     the buffered line reader (bounded line length, CRLF, a last line without
 *                newline);
 * trace_parse.c  one row parser per file format, and the number and timestamp parsers;
 * trace.c        the public API: open, the request pipeline (time base, order check, window,
 *                rate scale, caps, max_requests), the generator, names and paths;
 * trace_stats.c  the figures of a whole workload (trace_stats in trace.h; public API only).
 */
#ifndef LENSIM_TRACE_INTERNAL_H
#define LENSIM_TRACE_INTERNAL_H

#include <stdio.h>

#include "rng.h"
#include "trace.h"

/* Longest accepted line in bytes, without its newline. Longer lines are errors; the reader
 * discards them in chunks, so memory stays bounded whatever the file holds. */
#define TRACE__LINE_MAX (256 * 1024)
/* Read size: the reader's buffer holds one longest line plus one chunk. */
#define TRACE__CHUNK (64 * 1024)
/* Token counts above this are rejected as absurd (no model has a 10M-token context). */
#define TRACE__TOK_MAX 10000000u

/* ---- line reader (trace_lr.c) ---- */

struct trace__lr {
    FILE    *f;        /* borrowed; closed by the trace */
    char    *buf;      /* cap + 1 bytes (room for a terminating NUL) */
    size_t   cap;      /* max_line + TRACE__CHUNK */
    size_t   max_line; /* longest line accepted */
    size_t   pos, len; /* unread bytes are buf[pos, len) */
    uint64_t lineno;   /* 1-based number of the line last returned */
    int      eof;      /* the file has been read to its end */
    int      skipping; /* the next call first discards the rest of an over-long line */
    int      io_errno; /* errno of a failed read, else 0 */
    /* The last line returned, so that trace__lr_unread can hand it out again. */
    char  *last;
    size_t last_n;
    int    last_nl, again;
};

/* Set up a reader over f with a buffer for lines of up to max_line bytes. Returns 0 or
 * SIM_ENOMEM. Borrows f. */
int  trace__lr_init(struct trace__lr *lr, FILE *f, size_t max_line);
void trace__lr_fini(struct trace__lr *lr);
/* The next line, NUL-terminated in the reader's buffer, without its "\n" or "\r\n".
 * Returns 1 with *line, *n and *nl (1 when the line ended with a newline, 0 for a last line cut
 * short); 0 at the end of the file; SIM_EINPUT when the line is longer than max_line (counted,
 * reported after max_line bytes, and its rest discarded by the next call, so that reading can go
 * on and an endless line is reported at once); SIM_EIO on a read error (errno in io_errno).
 * *line stays valid until the next call. */
int trace__lr_next(struct trace__lr *lr, char **line, size_t *n, int *nl);
/* Make the next trace__lr_next return the line it returned last (one line of lookahead). */
void trace__lr_unread(struct trace__lr *lr);

/* ---- rows (trace_parse.c) ---- */

/* One data row as a file states it, before the pipeline in trace.c applies windows and caps. */
struct trace__row {
    int64_t  t_ns;   /* source timestamp (absolute; only differences matter) */
    uint64_t prompt; /* in [1, TRACE__TOK_MAX] */
    uint64_t output; /* in [1, TRACE__TOK_MAX] */
    uint64_t id;     /* the csv id column, when has_id */
    int      has_id;
};

/* Parse one data line of format fmt (AZURE, MOONCAKE, LENGTHS or CSV) in place (the line is
 * modified). Returns 0 and *row, SIM_EINPUT with "file:line: ..." in t's message, or SIM_ENOMEM
 * (hash ids). Mooncake hash ids are stored in t (see trace_hash_ids). */
int trace__parse_row(trace_t *t, char *line, size_t n, int nl, struct trace__row *row);

/* issue 14: one line of AlpacaEval's derived/instructions.jsonl: a JSON object with the integers
 * "idx" (>= 0) and "instr_llama2_tokens" (a token count), other keys skipped. t is a trace
 * over that file (its path and line number prefix the messages). Returns 0, or SIM_EINPUT with
 * "file:line: ..." in t's message. */
int trace__parse_alpaca_instr(trace_t *t, char *line, size_t n, uint64_t *idx, uint64_t *tok);

/* Parse "YYYY-MM-DD HH:MM:SS[.fffffffff]" (1 to 9 fractional digits, years 1970 to 2200) to
 * nanoseconds since 1970-01-01 00:00:00 of the same (unnamed) timezone, with integer civil-date
 * arithmetic. Returns 0, or -1 for bad syntax and -2 for an impossible date or time. */
int trace__parse_datetime(const char *s, size_t n, int64_t *out_ns);
/* Issue 13: s[0..n) written as digits with at most one "." inside, 15 digits at most: *x is
 * its value (exactly strtod's), returns 1; anything else returns 0, *x untouched. */
int trace__plain_decimal(const char *s, size_t n, double *x);

/* ---- the trace object (fields private to traces/) ---- */

struct trace {
    struct trace_opts o;            /* copy; its strings point to the owned copies below */
    char             *path;         /* resolved file path (owned), or NULL for the generator */
    char             *data_dir;     /* owned copy of o.data_dir, or NULL */
    char             *lengths_path; /* owned copy of o.lengths_path, or NULL */
    enum trace_format fmt;
    int               csv_has_id; /* CSV: the header has the id column */
    int               timed;      /* rows carry timestamps (azure, mooncake, csv) */

    FILE            *f;
    struct trace__lr lr;

    /* The pipeline: times relative to the first row, window, order check. */
    int64_t  t_start_ns, t_end_ns; /* window in source ns from the first row; end 0 = none */
    int64_t  first_ns, prev_ns;    /* first row's and last accepted row's source time */
    int      have_first;
    double   arr_t_s;    /* generated arrivals: source time of the last one */
    uint64_t n_arrivals; /* arrivals drawn so far */

    rng_t    *rng_arr, *rng_len; /* generator streams, or NULL */
    uint32_t *pairs;             /* empirical lengths: n_pairs (prompt, output) pairs */
    size_t    n_pairs;

    /* issue 14: alpaca_eval: the column read, the header's field count, and the prompt length
     * of each idx from instructions.jsonl (0 = no such idx). */
    char     *column;
    size_t    col, n_cols;
    uint32_t *prompts;
    size_t    n_prompts;

    int64_t *hash; /* Mooncake hash_ids of the last row */
    size_t   n_hash, cap_hash;

    int                 done;   /* the end or an error was reached */
    int                 status; /* what trace_next keeps returning once done */
    struct sim_msg      msg;    /* the reason of the last error */
    struct trace_counts c;
};

/* Write "file:line: " + the formatted reason into t->msg. Returns err. */
int trace__row_err(trace_t *t, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Write s[0, n) into out (size >= 8) as a C-like quoted string, escaping control bytes and
 * cutting long fields with "...". Returns out. */
const char *trace__quote(const char *s, size_t n, char *out, size_t size);

#endif
