/*
 * pred.h: output-length predictors behind one interface.
 *
 *   oracle     the true length (and its bucket);
 *   noisy      the true length times exp(N(0, sigma^2)), rounded into [1, max_len];
 *   confusion  a bucket classifier: the predicted bucket is drawn from the confusion-matrix row
 *              of the true bucket (a matrix file, one row per true bucket);
 *   replay     predictions recorded per request, in a file of `id,predicted_tokens` rows.
 * Buckets: n_buckets with upper edges (inclusive); bucket i holds lengths in (edge[i-1], edge[i]].
 * By default equal width up to max_len (S3: 10 buckets of max_seq_len / 10). A bucket predictor's
 * point estimate is its bucket's upper edge, which is also what S3 reserves.
 * Cost: every prediction is charged cost_s seconds on the scheduling path (cluster.c serves
 * predictions one at a time, in arrival order).
 * Randomness: the RNG stream RNG_PREDICTOR (rng.h) of the experiment seed, so predictions do not
 * change when the policy does.
 */
#ifndef LENSIM_PRED_H
#define LENSIM_PRED_H

#include <stdint.h>

#include "choice.h"
#include "req.h"
#include "sim.h"

enum { PRED_MAX_BUCKETS = 64 };

enum pred_kind { PRED_ORACLE = 0, PRED_NOISY, PRED_CONFUSION, PRED_REPLAY };

/* The predictors' names and help (the schema's predictor.name), values enum pred_kind. */
extern const struct sim_choice pred_kind_choices[];

struct pred_cfg {
    enum pred_kind kind;
    double         cost_s;    /* per-request prediction cost */
    double         sigma;     /* noisy: log-normal error sigma */
    uint32_t       n_buckets; /* 0 = from the matrix file, else 10; with edges: their count */
    uint32_t       edges[PRED_MAX_BUCKETS]; /* upper edges from pred_edges_parse; all 0 = equal
                                          * width to max_len */
    const char    *path;                    /* confusion matrix or replay file */
    uint32_t       max_len;                 /* largest output length (max_seq_len) */
    uint64_t       seed;
};

typedef struct pred pred_t;

/* Returns 0 and an owned predictor (free with pred_free), or SIM_ECONFIG / SIM_EIO / SIM_EINPUT
 * with the reason (file:line for files) in err. */
int  pred_new(const struct pred_cfg *cfg, pred_t **out, struct sim_msg *err);
void pred_free(pred_t *p);

/* Fill r->pred_tok and r->pred_bucket. */
void pred_predict(pred_t *p, struct req *r);
/* Seconds one prediction takes (0 = free). */
double pred_cost_s(const pred_t *p);

/* Bucket of a length (the first whose upper edge is >= tokens; the last for longer ones). */
int      pred_bucket_of(const pred_t *p, uint32_t tokens);
uint32_t pred_bucket_upper(const pred_t *p, int bucket);
/* The upper edge of the first bucket whose edge is above `tokens`, or max_len: what S3 reserves
 * after a request outgrew `tokens`. */
uint32_t pred_next_edge(const pred_t *p, uint32_t tokens);

/* Parse explicit bucket upper edges, "e1,e2,...,en" (the schema's predictor.edges; "" = none):
 * positive, strictly increasing token counts, at most PRED_MAX_BUCKETS. Returns 0 with the edges
 * in edges[0..*n) (*n = 0 for ""), or SIM_ECONFIG with the reason (no key, no place: the caller
 * knows them) in err (edges and *n then unspecified). Borrows s. */
int pred_edges_parse(const char *s, uint32_t edges[PRED_MAX_BUCKETS], uint32_t *n,
                     struct sim_msg *err);

#endif
