/*
 * latfit.h: fit profile.h's piecewise latency model to timed iterations.
 *
 * Each piece is a weighted linear least-squares fit (fit.h) of
 *   T = c0 + c1 decode_seqs + c2 decode_ctx + c3 prefill_tok + c4 prefill_sq
 * with weights 1/T^2 (relative errors, the scale of MAPE). Breakpoints in n_tok = decode_seqs +
 * prefill_tok are chosen among quantiles of the training points' n_tok by k-fold
 * cross-validated MAPE; a piece with fewer than min_points points, or whose design is
 * degenerate, rules its candidate out (the neighbours merge). One more piece is kept only when it
 * lowers the validation MAPE by at least 10 %. A non-constant coefficient that comes out negative
 * but within 2 sigma of 0 is held at 0 and the piece refitted (a latency term cannot be
 * negative); a significantly negative one stays, with a warning, unless the loader would refuse
 * it (decode_ctx in any piece, prefill_sq in the last, unbounded piece: profile.c's latency
 * check), in which case it is held at 0 too and the warning says so. The held-out points are never
 * used to fit or to choose: they give the reported MAPE and maximum error.
 * Cost: O(C(q, K-1) x folds x n) fits of 5 terms for q quantiles and K pieces; well under a
 * second for a few hundred points. Errors: SIM_EFIT when no form fits (reason in err),
 * SIM_ENOMEM.
 */
#ifndef LENSIM_LATFIT_H
#define LENSIM_LATFIT_H

#include <stddef.h>

#include "fit.h"
#include "profile.h"

struct cal_obs {
    struct cal_batch b;
    double           t_s;     /* measured iteration time, seconds (median of repeats) */
    int              heldout; /* 1: never fitted, only scored */
};

struct cal_latfit_opts {
    size_t   max_pieces; /* 1 .. CAL_MAX_PIECES (0: CAL_MAX_PIECES) */
    size_t   min_points; /* per piece (0: 3 x terms + 2) */
    size_t   folds;      /* cross-validation folds (0: 5) */
    unsigned seed;       /* fold assignment */
};

struct cal_latfit_report {
    size_t            n_pieces;
    struct cal_piece  piece[CAL_MAX_PIECES];
    struct fit_result fit[CAL_MAX_PIECES];
    size_t            n_in_piece[CAL_MAX_PIECES];
    unsigned char     held0[CAL_MAX_PIECES][CAL_TERMS];         /* terms held at 0 */
    double            cv_mape;                                  /* %, of the chosen form */
    double            cv_mape_1;                                /* %, of the best single line */
    double            mape_train, mape_heldout, maxerr_heldout; /* % */
    size_t            worst_heldout;                            /* index into the obs array */
    size_t            n_train, n_heldout;
    char              warn[1024]; /* "; "-separated, or "" */
};

/* Fit obs (n points). Returns 0 and *out, or SIM_EFIT / SIM_ENOMEM with the reason in err. */
int cal_latfit(const struct cal_obs *obs, size_t n, const struct cal_latfit_opts *o,
               struct cal_latfit_report *out, struct sim_msg *err);

/* Features of b in profile.h's term order (1, decode_seqs, ...). */
void cal_batch_terms(const struct cal_batch *b, double x[CAL_TERMS]);

#endif
