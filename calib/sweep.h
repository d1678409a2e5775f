/*
 * sweep.h: the calibration grid: which batches to time, and timing them.
 *
 * A grid mixes decode-only, prefill-only and mixed batches so that every term of the latency
 * model is excited (a decode-only grid leaves the prefill terms undetermined). Points are drawn
 * log-uniformly (seeded) in decode sequences, mean context, prompt length and prompt count,
 * within the limits, plus fixed anchors at the corners; each decode sequence's context is drawn
 * around the point's mean, so decode_ctx is a sum of unequal contexts as in serving. A fraction
 * of the random points is held out (never fitted). The timed unit of a point is one whole
 * iteration (all layers, LM head included) of kern_run on a backend whose KV pool was reset
 * and then prepared for the point (block allocation and metadata upload are not timed).
 * Ownership: cal_grid_make fills caller storage; cal_grid_free releases it (a zeroed grid is
 * fine). Errors: SIM_ENOMEM, SIM_ECONFIG (limits leave no room), and the backend's errors.
 */
#ifndef LENSIM_SWEEP_H
#define LENSIM_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "kern.h"
#include "profile.h"
#include "timing.h"

struct cal_grid_opts {
    uint32_t max_seqs;      /* sequences per batch */
    uint32_t max_ctx;       /* context of one decoding sequence, tokens */
    uint32_t max_prompt;    /* prompt length */
    uint32_t max_batch_tok; /* tokens per iteration */
    size_t   max_kv_tok;    /* KV tokens one batch may touch */
    size_t   n_points;      /* including anchors */
    double   heldout_frac;
    uint64_t seed;
};

enum cal_point_kind { CAL_PT_DECODE = 0, CAL_PT_PREFILL, CAL_PT_MIXED };

struct cal_point {
    enum cal_point_kind   kind;
    uint32_t              n_dec, n_pre;
    uint32_t             *ctx;  /* n_dec contexts (tokens before the step) */
    uint32_t             *plen; /* n_pre prompt lengths */
    struct cal_batch      feat;
    int                   heldout;
    struct cal_time_stats t;
};

struct cal_grid {
    size_t            n;
    struct cal_point *pt;
    uint32_t         *lens; /* storage of every point's ctx and plen */
};

int  cal_grid_make(const struct cal_grid_opts *o, struct cal_grid *g, struct sim_msg *err);
void cal_grid_free(struct cal_grid *g);

/* KV tokens the largest point touches (sum of contexts + 1 per decode, plus prompts). */
size_t cal_grid_kv_need(const struct cal_grid *g);

/* Time every point on b, filling pt[i].t. The grid is swept `rounds` times (each with t's
 * repeats), and each point's statistics pool the samples of every round: on a shared machine a
 * burst of load from elsewhere then spoils a few samples of many points rather than all samples
 * of a few. progress (may be NULL) is called after each point of each round. Returns 0 or the
 * first error, with the reason in err. */
int cal_grid_run(kern_backend_t *b, struct cal_grid *g, const struct cal_time_opts *t,
                 unsigned rounds, void (*progress)(size_t done, size_t total, void *ctx),
                 void *pctx, struct sim_msg *err);

#endif
