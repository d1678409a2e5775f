/*
 * effit.h: nonlinear least-squares fits of efficiency curves (issue 10, item 3), over GSL's
 * trust-region solver (gsl_multifit_nlinear, Levenberg-Marquardt).
 *
 * A model maps p positive parameters and one point's features x[0..CAL_EFFIT_MAX_X) to a
 * predicted time. The fit minimises the sum of squared RELATIVE residuals (pred - y) / y, so a
 * 10 us kernel counts as much as a 10 ms one: the error it reports and issue 10 states goals in.
 * (Log residuals, tried on the Vidur profiles, raised the mean relative residual of the GEMM and
 * elementwise fits and the batch-time error against Vidur; under 3 % log-normal noise both are
 * unbiased to well within the parameters' spread, test_analytic.c.) Parameters are fitted as logarithms, so each stays
 * positive (every constant of the analytic model is a time, a rate or a fraction); the Jacobian
 * is GSL's finite differences. Cost: O(iterations x n x p) model calls.
 * Ownership: plain data in and out; nothing is retained. Every GSL status is checked.
 */
#ifndef LENSIM_EFFIT_H
#define LENSIM_EFFIT_H

#include <stddef.h>

#include "sim.h"

enum { CAL_EFFIT_MAX_X = 6, CAL_EFFIT_MAX_P = 8 };

struct cal_effit_point {
    double x[CAL_EFFIT_MAX_X]; /* features, as the model reads them */
    double y;                  /* measured time (any unit, > 0) */
};

/* Predicted time of point x under parameters par (all > 0). Pure. */
typedef double (*cal_effit_fn)(const double *par, const double *x, const void *ctx);

struct cal_effit_result {
    double par[CAL_EFFIT_MAX_P];
    double mean_rel; /* mean |pred - y| / y over the points */
    double max_rel;  /* the largest of them */
    size_t worst;    /* index of the point with max_rel */
    size_t iters;    /* solver iterations */
    char   status[96];
};

/* Fit the p parameters of fn to the n points, starting from par0 (all > 0). Returns 0, or
 * SIM_EFIT (fewer points than parameters, p out of range, a start that is not positive, the
 * solver failing or not converging, a prediction that is not a positive number) or SIM_ENOMEM,
 * with the reason in err and out->status. */
int cal_effit(cal_effit_fn fn, const void *ctx, size_t p, const double *par0,
              const struct cal_effit_point *pts, size_t n, struct cal_effit_result *out,
              struct sim_msg *err);

/* The relative residual statistics of fn at par over the points, into out (mean_rel, max_rel,
 * worst; par copied). Pure but for out. */
void cal_effit_residuals(cal_effit_fn fn, const void *ctx, size_t p, const double *par,
                         const struct cal_effit_point *pts, size_t n, struct cal_effit_result *out);

#endif
