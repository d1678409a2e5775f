/* rows.c: the per-request and timeline CSV lines (see rows.h). */
#include "rows.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "fmtbuf.h"

size_t met_request_row(char *buf, const struct req *r, double arrival_s, double queue_s,
                       double ttft_s, double tpot_s, double e2el_s, double finish_s,
                       const char *status)
{
    char *p = buf;
    p = sim_fmt_u64(p, r->id);
    *p++ = ',';
    p = sim_fmt_u64(p, r->replica);
    *p++ = ',';
    p = sim_fmt_fixed(p, arrival_s, 9);
    *p++ = ',';
    p = sim_fmt_u64(p, r->prompt_tok);
    *p++ = ',';
    p = sim_fmt_u64(p, r->output_tok);
    *p++ = ',';
    p = sim_fmt_u64(p, r->pred_tok);
    const double t[5] = {queue_s, ttft_s, tpot_s, e2el_s, finish_s};
    for (int i = 0; i < 5; i++) {
        *p++ = ',';
        p = sim_fmt_fixed(p, t[i], 9);
    }
    *p++ = ',';
    p = sim_fmt_u64(p, r->n_preempt);
    *p++ = ',';
    p = sim_fmt_u64(p, r->n_mispredict);
    *p++ = ',';
    size_t n = strlen(status);
    memcpy(p, status, n);
    p += n;
    *p++ = '\n';
    return (size_t)(p - buf);
}

size_t met_timeline_row(char *buf, uint32_t replica, double time_s, uint32_t batch,
                        uint64_t kv_used_tok, double kv_perc, uint32_t waiting)
{
    char *p = buf;
    p = sim_fmt_u64(p, replica);
    *p++ = ',';
    p = sim_fmt_fixed(p, time_s, 6);
    *p++ = ',';
    p = sim_fmt_u64(p, batch);
    *p++ = ',';
    p = sim_fmt_u64(p, kv_used_tok);
    *p++ = ',';
    p = sim_fmt_fixed(p, kv_perc, 4);
    *p++ = ',';
    p = sim_fmt_u64(p, waiting);
    *p++ = '\n';
    return (size_t)(p - buf);
}

/* ---- issue 14: seeds and confidence ---- */

/* results.csv's metric header (s NULL) or s's metric fields, as met.c writes them, in an owned
 * string (free()); NULL when out of memory. */
static char *capture(const struct met_summary *s)
{
    char  *buf = NULL;
    size_t len = 0;
    FILE  *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    if (s)
        met_csv_row(s, f);
    else
        met_csv_header(f);
    if (fclose(f)) {
        free(buf);
        return NULL;
    }
    return buf;
}

size_t met_csv_names(char *buf, size_t n, const char **names, size_t max)
{
    char  *text = capture(NULL);
    size_t k = 0;
    if (!text)
        return 0;
    if (strlen(text) + 1 > n || text[0] != ',') {
        free(text);
        return 0;
    }
    memcpy(buf, text, strlen(text) + 1);
    free(text);
    for (char *p = buf; *p == ',' && k < max;) {
        *p++ = 0;
        names[k++] = p;
        p += strcspn(p, ",");
    }
    return k;
}

size_t met_csv_values(const struct met_summary *s, double *v, size_t max)
{
    char  *text = capture(s);
    size_t k = 0;
    if (!text)
        return 0;
    for (char *p = text; *p == ',' && k < max;) {
        p++;
        char *end;
        v[k] = p[0] == ',' || !p[0] ? NAN : strtod(p, &end);
        if (!isnan(v[k]))
            p = end;
        k++;
    }
    free(text);
    return k;
}

double met_t975(unsigned df) { return gsl_cdf_tdist_Pinv(0.975, (double)df); }

void met_seed_ci(const double *x, size_t n, double *mean, double *ci95)
{
    double sum = 0, ss = 0;
    *mean = *ci95 = NAN;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            return;
        sum += x[i];
    }
    if (!n)
        return;
    *mean = sum / (double)n;
    if (n < 2)
        return;
    for (size_t i = 0; i < n; i++) /* two passes: no cancellation when the spread is small */
        ss += (x[i] - *mean) * (x[i] - *mean);
    *ci95 = met_t975((unsigned)(n - 1)) * sqrt(ss / (double)(n - 1)) / sqrt((double)n);
}
