/* effit.c: relative-error nonlinear least squares over GSL (see effit.h). */
#include "effit.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

struct job {
    cal_effit_fn                  fn;
    const void                   *ctx;
    size_t                        p;
    const struct cal_effit_point *pts;
    int                           bad; /* a prediction was not a positive number */
};

static int resid(const gsl_vector *q, void *data, gsl_vector *f)
{
    struct job *j = data;
    double      par[CAL_EFFIT_MAX_P];
    for (size_t k = 0; k < j->p; k++)
        par[k] = exp(gsl_vector_get(q, k));
    for (size_t i = 0; i < f->size; i++) {
        double pred = j->fn(par, j->pts[i].x, j->ctx);
        if (!(pred > 0) || !isfinite(pred)) {
            j->bad = 1;
            pred = j->pts[i].y * 1e6; /* a large residual steers the solver away */
        }
        gsl_vector_set(f, i, (pred - j->pts[i].y) / j->pts[i].y);
    }
    return GSL_SUCCESS;
}

void cal_effit_residuals(cal_effit_fn fn, const void *ctx, size_t p, const double *par,
                         const struct cal_effit_point *pts, size_t n, struct cal_effit_result *out)
{
    double sum = 0, mx = 0;
    size_t worst = 0;
    for (size_t k = 0; k < p && k < CAL_EFFIT_MAX_P; k++)
        out->par[k] = par[k];
    for (size_t i = 0; i < n; i++) {
        double r = fabs(fn(par, pts[i].x, ctx) - pts[i].y) / pts[i].y;
        sum += r;
        if (r > mx) {
            mx = r;
            worst = i;
        }
    }
    out->mean_rel = n ? sum / (double)n : 0;
    out->max_rel = mx;
    out->worst = worst;
}

int cal_effit(cal_effit_fn fn, const void *ctx, size_t p, const double *par0,
              const struct cal_effit_point *pts, size_t n, struct cal_effit_result *out,
              struct sim_msg *err)
{
    memset(out, 0, sizeof *out);
    if (p == 0 || p > CAL_EFFIT_MAX_P || n < p) {
        snprintf(out->status, sizeof out->status, "%zu points for %zu parameters", n, p);
        return sim_msg_set(err, SIM_EFIT, "efficiency fit: %s", out->status);
    }
    for (size_t k = 0; k < p; k++)
        if (!(par0[k] > 0) || !isfinite(par0[k])) {
            snprintf(out->status, sizeof out->status, "start value %zu is %g, not > 0", k, par0[k]);
            return sim_msg_set(err, SIM_EFIT, "efficiency fit: %s", out->status);
        }
    for (size_t i = 0; i < n; i++)
        if (!(pts[i].y > 0) || !isfinite(pts[i].y)) {
            snprintf(out->status, sizeof out->status, "point %zu has time %g, not > 0", i,
                     pts[i].y);
            return sim_msg_set(err, SIM_EFIT, "efficiency fit: %s", out->status);
        }

    struct job                      j = {fn, ctx, p, pts, 0};
    gsl_multifit_nlinear_parameters prm = gsl_multifit_nlinear_default_parameters();
    gsl_multifit_nlinear_fdf        fdf = {0};
    gsl_error_handler_t            *old = gsl_set_error_handler_off();
    gsl_multifit_nlinear_workspace *w = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &prm,
                                                                   n, p);
    gsl_vector                     *q0 = gsl_vector_alloc(p);
    int                             rc = SIM_OK, info = 0;
    if (!w || !q0) {
        snprintf(out->status, sizeof out->status, "out of memory");
        rc = sim_msg_set(err, SIM_ENOMEM, "efficiency fit: %s", out->status);
        goto done;
    }
    fdf.f = resid;
    fdf.df = NULL; /* finite differences */
    fdf.n = n;
    fdf.p = p;
    fdf.params = &j;
    for (size_t k = 0; k < p; k++)
        gsl_vector_set(q0, k, log(par0[k]));
    int st = gsl_multifit_nlinear_init(q0, &fdf, w);
    if (st == GSL_SUCCESS)
        st = gsl_multifit_nlinear_driver(500, 1e-10, 1e-10, 1e-12, NULL, NULL, &info, w);
    out->iters = gsl_multifit_nlinear_niter(w);
    if (st != GSL_SUCCESS && st != GSL_EMAXITER) {
        snprintf(out->status, sizeof out->status, "GSL: %s", gsl_strerror(st));
        rc = sim_msg_set(err, SIM_EFIT, "efficiency fit: %s", out->status);
        goto done;
    }
    double            par[CAL_EFFIT_MAX_P];
    const gsl_vector *q = gsl_multifit_nlinear_position(w);
    for (size_t k = 0; k < p; k++)
        par[k] = exp(gsl_vector_get(q, k));
    j.bad = 0;
    cal_effit_residuals(fn, ctx, p, par, pts, n, out);
    for (size_t i = 0; i < n && !j.bad; i++) {
        double pred = fn(par, pts[i].x, ctx);
        j.bad = !(pred > 0) || !isfinite(pred);
    }
    if (j.bad || !isfinite(out->mean_rel)) {
        snprintf(out->status, sizeof out->status, "a prediction is not a positive number");
        rc = sim_msg_set(err, SIM_EFIT, "efficiency fit: %s", out->status);
        goto done;
    }
    snprintf(out->status, sizeof out->status, "%s",
             st == GSL_EMAXITER ? "stopped at 500 iterations" : "success");
done:
    gsl_vector_free(q0);
    if (w)
        gsl_multifit_nlinear_free(w);
    gsl_set_error_handler(old);
    return rc;
}
