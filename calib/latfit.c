/* latfit.c: the piecewise latency fit (see latfit.h). */
#include "latfit.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_sort.h>

#include "alloc.h"

void cal_batch_terms(const struct cal_batch *b, double x[CAL_TERMS])
{
    x[CAL_T_CONST] = 1;
    x[CAL_T_DECODE_SEQS] = b->decode_seqs;
    x[CAL_T_DECODE_CTX] = b->decode_ctx;
    x[CAL_T_PREFILL_TOK] = b->prefill_tok;
    x[CAL_T_PREFILL_SQ] = b->prefill_sq;
}

static double n_tok(const struct cal_batch *b) { return b->decode_seqs + b->prefill_tok; }

/* Work arrays shared by every fit of one cal_latfit call. */
struct ws {
    double *x, *y, *w;
    size_t *sel;
};

/* A term the loader requires non-negative in this piece (profile.c, check_positive): decode_ctx
 * everywhere (latency grows with the context), prefill_sq in the last, unbounded piece (else long
 * prompts take negative time). */
static int must_be_nonneg(int j, int unbounded)
{
    return j == CAL_T_DECODE_CTX || (unbounded && j == CAL_T_PREFILL_SQ);
}

/* Fit the points sel[0..m) of obs as one piece, holding at 0 the negative terms the loader
 * refuses (forced[j] = 1 when such a term was significantly negative) and the insignificant
 * negative ones. */
static int fit_piece(const struct cal_obs *obs, const size_t *sel, size_t m, size_t min_pts,
                     int unbounded, struct ws *ws, struct fit_result *fr,
                     unsigned char held[CAL_TERMS], unsigned char forced[CAL_TERMS])
{
    if (m < min_pts)
        return SIM_EFIT;
    for (size_t i = 0; i < m; i++) {
        const struct cal_obs *o = &obs[sel[i]];
        cal_batch_terms(&o->b, ws->x + i * CAL_TERMS);
        ws->y[i] = o->t_s;
        ws->w[i] = 1.0 / (o->t_s * o->t_s);
    }
    unsigned char active[CAL_TERMS];
    memset(active, 1, sizeof active);
    memset(forced, 0, CAL_TERMS);
    const char *names[CAL_TERMS];
    for (size_t j = 0; j < CAL_TERMS; j++)
        names[j] = cal_term_name(j);
    for (int round = 0; round < CAL_TERMS; round++) {
        struct fit_data d = {.n = m,
                             .p = CAL_TERMS,
                             .x = ws->x,
                             .y = ws->y,
                             .w = ws->w,
                             .names = names,
                             .active = active,
                             .relative = 1};
        int             rc = fit_linear(&d, fr, NULL);
        if (rc)
            return rc;
        /* Hold at 0 the most negative term the loader refuses, else the most negative
         * insignificant term, then refit. */
        int    worst = -1, must = 0;
        double wz = 0;
        for (int j = 1; j < CAL_TERMS; j++) {
            if (!active[j] || fr->coef[j] >= 0)
                continue;
            double z = fr->coef[j] / (fr->err[j] > 0 ? fr->err[j] : 1e-300);
            int    mj = must_be_nonneg(j, unbounded);
            if ((mj && !must) || ((mj || z > -2.0) && mj == must && z < wz)) {
                wz = z;
                worst = j;
                must = mj;
            }
        }
        if (worst < 0)
            break;
        active[worst] = 0;
        if (must && wz <= -2.0)
            forced[worst] = 1;
    }
    for (int j = 0; j < CAL_TERMS; j++)
        held[j] = !active[j];
    return SIM_OK;
}

static double predict(const struct cal_piece *pc, size_t k, const struct cal_batch *b)
{
    struct cal_profile p;
    p.n_pieces = k;
    memcpy(p.piece, pc, sizeof *pc * k);
    return cal_profile_latency(&p, b);
}

/* Fit a K-piece form with breakpoints bp[0..K-1) on the points with mask[i] (train set),
 * into pc. Returns 0 or SIM_EFIT. */
static int fit_form(const struct cal_obs *obs, size_t n, const unsigned char *mask,
                    const double *bp, size_t K, size_t min_pts, struct ws *ws, struct cal_piece *pc,
                    struct fit_result *fr, size_t *cnt, unsigned char held[][CAL_TERMS],
                    unsigned char forced[][CAL_TERMS])
{
    for (size_t k = 0; k < K; k++) {
        double lo = k ? bp[k - 1] : -INFINITY, hi = k + 1 < K ? bp[k] : INFINITY;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            double t = n_tok(&obs[i].b);
            if (mask[i] && t > lo && t <= hi)
                ws->sel[m++] = i;
        }
        struct fit_result tmp;
        unsigned char     h[CAL_TERMS], fo[CAL_TERMS];
        int rc = fit_piece(obs, ws->sel, m, min_pts, k + 1 == K, ws, fr ? &fr[k] : &tmp,
                           held ? held[k] : h, forced ? forced[k] : fo);
        if (rc)
            return rc;
        pc[k].max_tokens = hi;
        memcpy(pc[k].coef, (fr ? &fr[k] : &tmp)->coef, sizeof pc[k].coef);
        if (cnt)
            cnt[k] = m;
    }
    return SIM_OK;
}

static double ape(const struct cal_piece *pc, size_t K, const struct cal_obs *o)
{
    return fabs(predict(pc, K, &o->b) - o->t_s) / o->t_s * 100.0;
}

/* k-fold cross-validated MAPE (%) of the form; INFINITY when a fold cannot be fitted. */
static double cv_mape(const struct cal_obs *obs, size_t n, const unsigned char *train,
                      const size_t *fold, size_t folds, const double *bp, size_t K, size_t min_pts,
                      struct ws *ws, unsigned char *mask)
{
    double sum = 0;
    size_t cnt = 0;
    for (size_t f = 0; f < folds; f++) {
        for (size_t i = 0; i < n; i++)
            mask[i] = train[i] && fold[i] != f;
        struct cal_piece pc[CAL_MAX_PIECES];
        if (fit_form(obs, n, mask, bp, K, min_pts, ws, pc, NULL, NULL, NULL, NULL))
            return INFINITY;
        for (size_t i = 0; i < n; i++)
            if (train[i] && fold[i] == f) {
                sum += ape(pc, K, &obs[i]);
                cnt++;
            }
    }
    return cnt ? sum / (double)cnt : INFINITY;
}

static void add_warn(struct cal_latfit_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add_warn(struct cal_latfit_report *r, const char *fmt, ...)
{
    size_t k = strlen(r->warn);
    if (k + 4 >= sizeof r->warn)
        return;
    if (k)
        k += (size_t)snprintf(r->warn + k, sizeof r->warn - k, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->warn + k, sizeof r->warn - k, fmt, ap);
    va_end(ap);
}

int cal_latfit(const struct cal_obs *obs, size_t n, const struct cal_latfit_opts *o,
               struct cal_latfit_report *out, struct sim_msg *err)
{
    memset(out, 0, sizeof *out);
    size_t maxk = o->max_pieces ? o->max_pieces : CAL_MAX_PIECES;
    if (maxk > CAL_MAX_PIECES)
        maxk = CAL_MAX_PIECES;
    size_t min_pts = o->min_points ? o->min_points : 3 * CAL_TERMS + 2;
    size_t folds = o->folds ? o->folds : 5;
    for (size_t i = 0; i < n; i++)
        if (!(obs[i].t_s > 0) || !isfinite(obs[i].t_s))
            return sim_msg_set(err, SIM_EFIT, "measurement %zu is not a positive time", i);

    struct ws      ws = {0};
    unsigned char *train = sim_malloc(n + 1), *mask = sim_malloc(n + 1);
    size_t        *fold = sim_malloc(sizeof *fold * (n + 1));
    double        *nt = sim_malloc(sizeof *nt * (n + 1));
    ws.x = sim_malloc(sizeof *ws.x * CAL_TERMS * (n + 1));
    ws.y = sim_malloc(sizeof *ws.y * (n + 1));
    ws.w = sim_malloc(sizeof *ws.w * (n + 1));
    ws.sel = sim_malloc(sizeof *ws.sel * (n + 1));
    int rc = SIM_OK;
    if (!train || !mask || !fold || !nt || !ws.x || !ws.y || !ws.w || !ws.sel) {
        rc = sim_msg_set(err, SIM_ENOMEM, "out of memory");
        goto done;
    }
    size_t n_tr = 0;
    for (size_t i = 0; i < n; i++) {
        train[i] = !obs[i].heldout;
        if (train[i]) {
            /* Folds by a hash of the index: deterministic and spread over the grid's order. */
            fold[i] = (size_t)((i * 2654435761u + o->seed) % 1000003u) % folds;
            nt[n_tr++] = n_tok(&obs[i].b);
        }
    }
    out->n_train = n_tr;
    out->n_heldout = n - n_tr;
    if (n_tr < min_pts) {
        rc = sim_msg_set(err, SIM_EFIT, "%zu training points, need at least %zu", n_tr, min_pts);
        goto done;
    }

    /* Candidate breakpoints: small powers of two (small-batch GEMM paths change at a few
     * rows) and twelve quantiles of n_tok, distinct and increasing. */
    gsl_sort(nt, 1, n_tr);
    double cand[24];
    size_t nc = 0;
    for (double v = 1; v < nt[n_tr / 10]; v *= 2)
        cand[nc++] = v;
    for (int q = 1; q <= 12; q++) {
        double v = nt[(size_t)((double)q / 13.0 * (double)(n_tr - 1))];
        if (!nc || v > cand[nc - 1])
            cand[nc++] = v;
    }
    double best_bp[CAL_MAX_PIECES] = {0}, best_cv = INFINITY;
    size_t best_k = 0;
    for (size_t K = 1; K <= maxk; K++) {
        /* Enumerate the increasing (K-1)-subsets of the candidates. */
        int r = (int)K - 1, ix[CAL_MAX_PIECES] = {0};
        if (r > (int)nc)
            break;
        for (int j = 0; j < r; j++)
            ix[j] = j;
        double k_best = INFINITY, k_bp[CAL_MAX_PIECES] = {0};
        for (;;) {
            double bp[CAL_MAX_PIECES] = {0};
            for (int j = 0; j < r; j++)
                bp[j] = cand[ix[j]];
            double cv = cv_mape(obs, n, train, fold, folds, bp, K, min_pts, &ws, mask);
            if (cv < k_best) {
                k_best = cv;
                memcpy(k_bp, bp, sizeof bp);
            }
            int j = r - 1;
            while (j >= 0 && ix[j] == (int)nc - r + j)
                j--;
            if (j < 0)
                break;
            ix[j]++;
            for (int t = j + 1; t < r; t++)
                ix[t] = ix[t - 1] + 1;
        }
        if (K == 1)
            out->cv_mape_1 = k_best;
        if (k_best < (best_k ? 0.9 * best_cv : INFINITY)) {
            best_cv = k_best;
            best_k = K;
            memcpy(best_bp, k_bp, sizeof best_bp);
        }
    }
    if (!best_k || !isfinite(best_cv)) {
        /* Say why: the single line's own error, on all the training points. */
        struct fit_result fr;
        unsigned char     h[CAL_TERMS], fo[CAL_TERMS];
        size_t            m = 0;
        for (size_t i = 0; i < n; i++)
            if (train[i])
                ws.sel[m++] = i;
        rc = fit_piece(obs, ws.sel, m, min_pts, 1, &ws, &fr, h, fo);
        rc = sim_msg_set(err, SIM_EFIT, "no piecewise form could be fitted: %s",
                         rc ? fr.status : "cross-validation failed in every fold");
        goto done;
    }

    out->n_pieces = best_k;
    out->cv_mape = best_cv;
    unsigned char forced[CAL_MAX_PIECES][CAL_TERMS];
    rc = fit_form(obs, n, train, best_bp, best_k, min_pts, &ws, out->piece, out->fit,
                  out->n_in_piece, out->held0, forced);
    if (rc) {
        rc = sim_msg_set(err, SIM_EFIT, "final fit failed: %s", out->fit[0].status);
        goto done;
    }
    double s_tr = 0, s_ho = 0;
    for (size_t i = 0; i < n; i++) {
        double e = ape(out->piece, best_k, &obs[i]);
        if (train[i]) {
            s_tr += e;
        } else {
            s_ho += e;
            if (e >= out->maxerr_heldout) {
                out->maxerr_heldout = e;
                out->worst_heldout = i;
            }
        }
    }
    out->mape_train = s_tr / (double)n_tr;
    out->mape_heldout = out->n_heldout ? s_ho / (double)out->n_heldout : NAN;

    for (size_t k = 0; k < best_k; k++)
        for (int j = 1; j < CAL_TERMS; j++)
            if (forced[k][j])
                add_warn(out,
                         "piece %zu: %s came out significantly negative and is held at 0 (a "
                         "negative value makes latency negative for %s): the form does not fit "
                         "this region well",
                         k + 1, cal_term_name((size_t)j),
                         j == CAL_T_DECODE_CTX ? "long contexts" : "long prompts");
    for (size_t k = 0; k < best_k; k++)
        for (int j = 1; j < CAL_TERMS; j++)
            if (out->piece[k].coef[j] < 0)
                add_warn(out,
                         "piece %zu: %s coefficient %.3g is significantly negative: the "
                         "form does not fit this region well",
                         k + 1, cal_term_name((size_t)j), out->piece[k].coef[j]);
    if (out->n_heldout && out->mape_heldout > 5.0)
        add_warn(out,
                 "held-out MAPE %.2f %% exceeds 5 %% (max %.1f %%): the linear form does "
                 "not fit these timings",
                 out->mape_heldout, out->maxerr_heldout);
    if (out->n_heldout && out->maxerr_heldout > 20.0 && out->mape_heldout <= 5.0)
        add_warn(out,
                 "one held-out point is off by %.1f %% (MAPE %.2f %%): timing noise or a "
                 "regime the form misses",
                 out->maxerr_heldout, out->mape_heldout);
done:
    sim_free(train);
    sim_free(mask);
    sim_free(fold);
    sim_free(nt);
    sim_free(ws.x);
    sim_free(ws.y);
    sim_free(ws.w);
    sim_free(ws.sel);
    return rc;
}
