/*
 * profile.h: a perf profile, the contract between calibration (calib/) and the serving model
 * (sim/). The file format is YAML, specified in calib/PROFILE.md.
 *
 * Latency model: the time of one serving iteration of one replica is
 *     T = c[0] + c[1] * decode_seqs + c[2] * decode_ctx + c[3] * prefill_tok + c[4] * prefill_sq
 * (seconds), where decode_seqs is the number of sequences decoding one token, decode_ctx the
 * sum of their context lengths (tokens of KV read), prefill_tok the prompt tokens processed and
 * prefill_sq the sum over prefilling sequences of their length squared (causal attention). The
 * coefficients are piecewise: the piece is chosen by the batch's token count
 * n_tok = decode_seqs + prefill_tok, the first piece whose max_tokens >= n_tok (the last piece
 * has max_tokens = +inf). Two pieces capture the roofline's memory-bound and compute-bound
 * regimes of the weight GEMMs.
 * Memory: kv_bytes_per_token and kv_capacity_bytes (usable KV memory of one replica).
 * A profile file may instead hold the table form (calib/table.h): cal_profile_load tells the two
 * apart by the file's first line and keeps the tables behind the `table` pointer.
 * Ownership: plain data, except `table` (owned; cal_profile_fini frees it).
 */
#ifndef LENSIM_PROFILE_H
#define LENSIM_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "sim.h"

struct cal_table; /* table.h */

enum cal_term {
    CAL_T_CONST = 0,   /* seconds per iteration */
    CAL_T_DECODE_SEQS, /* seconds per decoding sequence */
    CAL_T_DECODE_CTX,  /* seconds per token of context read by decode attention */
    CAL_T_PREFILL_TOK, /* seconds per prompt token prefilled */
    CAL_T_PREFILL_SQ,  /* seconds per squared prompt token (sum of len^2) */
    CAL_TERMS
};

/* Name of term j as profiles and messages spell it ("const", "decode_seqs", ...); "?" past
 * CAL_TERMS. Cannot fail. */
const char *cal_term_name(size_t j);

enum { CAL_MAX_PIECES = 4 };

struct cal_piece {
    double max_tokens; /* this piece covers n_tok <= max_tokens; +inf for the last */
    double coef[CAL_TERMS];
};

/* The features of one iteration's batch. */
struct cal_batch {
    double decode_seqs; /* sequences computing one token */
    double decode_ctx;  /* their context, summed */
    double prefill_tok; /* tokens computed by prefilling sequences (whole prompts or chunks) */
    double prefill_sq;  /* the square of each prefill's new tokens, summed */
    double prefill_kv;  /* tokens already in the KV cache before each prefill's new tokens,
                           summed: 0 unless a prompt is prefilled in chunks. Not a term of the
                           piecewise form (latency does not read it); table forms do. */
};

struct cal_profile {
    char             model[64];   /* preset name (presets.h) */
    char             source[16];  /* "measured" or "analytic" */
    char             backend[16]; /* "cuda", "cpu" or "analytic" */
    char             device[128]; /* device name as the driver reports it, or the GPU preset */
    char             driver[64];  /* driver version, or "" */
    char             cuda[32];    /* CUDA runtime version, or "" */
    char             date[32];    /* ISO 8601 date of the measurement */
    uint32_t         tp;          /* tensor-parallel degree (GPUs per replica) */
    size_t           n_pieces;
    struct cal_piece piece[CAL_MAX_PIECES];
    double           kv_bytes_per_token;
    double           kv_capacity_bytes;
    double           weight_bytes;
    double           predictor_cost_s; /* per request, on the scheduling path */
    double           mape_heldout;     /* held-out mean absolute percentage error, in percent */
    double           maxerr_heldout;   /* held-out maximum absolute percentage error, in percent */
    char             raw_csv[256];     /* raw measurements, relative to the profile's directory */
    char             raw_sha256[65];   /* hex SHA-256 of the raw measurements file */
    /* The table form (calib/table.h, `lensim-table/1`), owned, or NULL for the piecewise form.
     * A table profile has n_pieces 0: its latency is cal_table_latency's, not
     * cal_profile_latency's. Free with cal_profile_fini. */
    struct cal_table *table;
};

/* Iteration latency in seconds for batch b. Pure; requires n_pieces >= 1. */
static inline double cal_profile_latency(const struct cal_profile *p, const struct cal_batch *b)
{
    double n_tok = b->decode_seqs + b->prefill_tok;
    size_t i = 0;
    while (i + 1 < p->n_pieces && n_tok > p->piece[i].max_tokens)
        i++;
    const double *c = p->piece[i].coef;
    return c[CAL_T_CONST] + c[CAL_T_DECODE_SEQS] * b->decode_seqs +
           c[CAL_T_DECODE_CTX] * b->decode_ctx + c[CAL_T_PREFILL_TOK] * b->prefill_tok +
           c[CAL_T_PREFILL_SQ] * b->prefill_sq;
}

/* Read a profile, piecewise or table form (detected from its `format:` line). Returns 0, or SIM_ENOENT (no such file) / SIM_EIO / SIM_ECONFIG with
 * "file:line: what is wrong" in err; validates ranges (positive capacities, pieces in
 * increasing order, last piece unbounded, finite coefficients, latency positive over every
 * batch each piece covers: PROFILE.md). *out is
 * unspecified on error. */
int cal_profile_load(const char *path, struct cal_profile *out, struct sim_msg *err);
/* The loader's latency check on a profile in memory (every coefficient finite, latency positive
 * over every batch each piece covers); `what` names the profile in err. Returns 0 or
 * SIM_ECONFIG. `lensim calibrate` runs it before writing, so that it never writes a profile that
 * cal_profile_load refuses. */
int cal_profile_check_latency(const struct cal_profile *p, const char *what, struct sim_msg *err);
/* Frees what p owns (a table form's tables) and sets p->table to NULL. Cannot fail. */
void cal_profile_fini(struct cal_profile *p);
/* Write a piecewise profile atomically (temporary file, then rename). Returns 0, SIM_EIO, or
 * SIM_ECONFIG for a table profile (its form is written by tools/vidur_tables.py). */
int cal_profile_save(const char *path, const struct cal_profile *p, struct sim_msg *err);
/* As cal_profile_save, adding `info` (YAML lines indented by two spaces, or NULL) as the
 * free-form `info:` section that cal_profile_load skips (grid, timing, per-term errors). */
int cal_profile_save_info(const char *path, const struct cal_profile *p, const char *info,
                          struct sim_msg *err);

#endif
