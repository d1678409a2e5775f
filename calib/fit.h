/*
 * fit.h: weighted linear least squares over GSL (R22), with covariance, scaled errors and an
 * explicit verdict on degenerate designs.
 *
 * Model: y_i = sum_j x_ij c_j + e_i, minimising sum_i w_i (y_i - x_i.c)^2 over the active
 * terms (inactive terms are held at 0). Columns are scaled to unit weighted norm before the
 * SVD so that terms of very different magnitude (seconds per token vs per squared token) do not
 * look degenerate; a zero column or a rank below the number of active terms is SIM_EFIT with
 * the terms named, never an abort. Cost: O(n p^2) (SVD of the n x p design).
 * Ownership: plain data in and out; nothing is retained. Every GSL status is checked (R8).
 */
#ifndef LENSIM_FIT_H
#define LENSIM_FIT_H

#include <stddef.h>

#include "sim.h"

enum { FIT_MAX_P = 8 };

struct fit_data {
    size_t               n, p;
    const double        *x;        /* n x p design, row-major */
    const double        *y;        /* n observations */
    const double        *w;        /* n weights (1 / sigma^2), or NULL for all 1 */
    const char *const   *names;    /* p term names for messages, or NULL */
    const unsigned char *active;   /* p flags, 0 holds the coefficient at 0; NULL: all active */
    int                  relative; /* 1: weights known only up to a common factor (e.g. 1/y^2
                                     * for relative errors): err scales by sqrt(chi2_dof) even
                                     * below 1 */
};

struct fit_result {
    size_t n, p, dof, rank;
    double coef[FIT_MAX_P];
    double cov[FIT_MAX_P][FIT_MAX_P]; /* (X^T W X)^-1, in the units of the weights */
    double err[FIT_MAX_P];            /* sqrt(cov_jj) * max(1, sqrt(chi2_dof)); with relative
                                       * weights sqrt(cov_jj * chi2_dof) */
    double chi2, chi2_dof;
    double cond;       /* condition number of the column-scaled design */
    char   status[96]; /* "success", or what went wrong */
};

/* Fit d into *out. Returns 0; SIM_EFIT (zero column, rank deficiency, no degrees of freedom,
 * a GSL failure) or SIM_ENOMEM, with the reason in err and out->status. */
int fit_linear(const struct fit_data *d, struct fit_result *out, struct sim_msg *err);

#endif
