/* fit.c: weighted linear least squares (see fit.h). */
#include "fit.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit.h>

static const char *term_name(const struct fit_data *d, size_t j, char *buf, size_t n)
{
    if (d->names && d->names[j])
        return d->names[j];
    snprintf(buf, n, "x%zu", j);
    return buf;
}

static int fail(struct fit_result *out, struct sim_msg *err, int code, const char *msg)
{
    snprintf(out->status, sizeof out->status, "%.*s", (int)sizeof out->status - 1, msg);
    return sim_msg_set(err, code, "fit: %s", msg);
}

int fit_linear(const struct fit_data *d, struct fit_result *out, struct sim_msg *err)
{
    memset(out, 0, sizeof *out);
    out->n = d->n;
    out->p = d->p;
    char msg[512], nb[16];
    if (d->p == 0 || d->p > FIT_MAX_P)
        return fail(out, err, SIM_EFIT, "number of terms out of range");
    size_t idx[FIT_MAX_P], pa = 0;
    for (size_t j = 0; j < d->p; j++)
        if (!d->active || d->active[j])
            idx[pa++] = j;
    if (pa == 0)
        return fail(out, err, SIM_EFIT, "no active terms");
    if (d->n <= pa) {
        snprintf(msg, sizeof msg, "%zu points for %zu terms: no degrees of freedom", d->n, pa);
        return fail(out, err, SIM_EFIT, msg);
    }

    double scale[FIT_MAX_P];
    for (size_t a = 0; a < pa; a++) {
        double s = 0;
        for (size_t i = 0; i < d->n; i++) {
            double v = d->x[i * d->p + idx[a]];
            s += (d->w ? d->w[i] : 1.0) * v * v;
        }
        if (!(s > 0) || !isfinite(s)) {
            snprintf(msg, sizeof msg, "term '%s' is %s over the data (not excited by the grid)",
                     term_name(d, idx[a], nb, sizeof nb), isfinite(s) ? "zero" : "not finite");
            return fail(out, err, SIM_EFIT, msg);
        }
        scale[a] = sqrt(s);
    }

    gsl_matrix *X = gsl_matrix_alloc(d->n, pa), *cov = gsl_matrix_alloc(pa, pa);
    gsl_vector *y = gsl_vector_alloc(d->n), *w = gsl_vector_alloc(d->n), *c = gsl_vector_alloc(pa);
    gsl_multifit_linear_workspace *ws = gsl_multifit_linear_alloc(d->n, pa);
    int                            rc = SIM_OK;
    if (!X || !cov || !y || !w || !c || !ws) {
        rc = fail(out, err, SIM_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < d->n; i++) {
        if (!isfinite(d->y[i]) || (d->w && !(d->w[i] >= 0))) {
            snprintf(msg, sizeof msg, "observation %zu is not finite or has a negative weight", i);
            rc = fail(out, err, SIM_EFIT, msg);
            goto done;
        }
        gsl_vector_set(y, i, d->y[i]);
        gsl_vector_set(w, i, d->w ? d->w[i] : 1.0);
        for (size_t a = 0; a < pa; a++)
            gsl_matrix_set(X, i, a, d->x[i * d->p + idx[a]] / scale[a]);
    }
    double chi2 = 0;
    size_t rank = 0;
    /* Singular values below 1e-10 of the largest are treated as zero: with unit-norm columns
     * this only truncates directions that are collinear to rounding. */
    int st = gsl_multifit_wlinear_tsvd(X, w, y, 1e-10, c, cov, &chi2, &rank, ws);
    if (st) {
        snprintf(msg, sizeof msg, "gsl_multifit_wlinear_tsvd: %s", gsl_strerror(st));
        rc = fail(out, err, SIM_EFIT, msg);
        goto done;
    }
    out->rank = rank;
    double rcond = gsl_multifit_linear_rcond(ws);
    out->cond = rcond > 0 ? 1.0 / rcond : INFINITY;
    if (rank < pa) {
        int k = snprintf(msg, sizeof msg, "design is rank-deficient (rank %zu of %zu terms:", rank,
                         pa);
        for (size_t a = 0; a < pa && k > 0 && (size_t)k < sizeof msg; a++)
            k += snprintf(msg + k, sizeof msg - (size_t)k, " %s",
                          term_name(d, idx[a], nb, sizeof nb));
        if (k > 0 && (size_t)k < sizeof msg)
            snprintf(msg + k, sizeof msg - (size_t)k, "); some are collinear over the grid");
        rc = fail(out, err, SIM_EFIT, msg);
        goto done;
    }
    out->chi2 = chi2;
    out->dof = d->n - pa;
    out->chi2_dof = chi2 / (double)out->dof;
    double f = d->relative || out->chi2_dof > 1 ? sqrt(out->chi2_dof) : 1.0;
    for (size_t a = 0; a < pa; a++) {
        out->coef[idx[a]] = gsl_vector_get(c, a) / scale[a];
        for (size_t b = 0; b < pa; b++)
            out->cov[idx[a]][idx[b]] = gsl_matrix_get(cov, a, b) / (scale[a] * scale[b]);
        out->err[idx[a]] = sqrt(out->cov[idx[a]][idx[a]]) * f;
    }
    snprintf(out->status, sizeof out->status, "success");
done:
    gsl_matrix_free(X);
    gsl_matrix_free(cov);
    gsl_vector_free(y);
    gsl_vector_free(w);
    gsl_vector_free(c);
    if (ws)
        gsl_multifit_linear_free(ws);
    return rc;
}
