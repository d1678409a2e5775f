/*
 * rows.h: one line of requests.csv or timeline.csv, formatted without stdio (issue 13, item 3).
 * Byte-identical to the fprintf formats they replace (met.c before issue 13):
 *   requests.csv: "%llu,%u,%.9f,%u,%u,%u,%.9f,%.9f,%.9f,%.9f,%.9f,%u,%u,%s\n" (the last field
 *                 the request's status, issue 12: at most MET_STATUS_MAX characters)
 *   timeline.csv: "%u,%.6f,%u,%llu,%.4f,%u\n"
 * through base/fmtbuf.h (exact rounding, snprintf fallback outside its range). Each writes into
 * buf, which must hold MET_ROW_MAX bytes, and returns the line's length (no NUL). Pure.
 */
#ifndef LENSIM_ROWS_H
#define LENSIM_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "met.h"
#include "req.h"

enum { MET_STATUS_MAX = 64 };
enum { MET_ROW_MAX = 8 * 330 + 128 + MET_STATUS_MAX }; /* floats through the fallback: never */

size_t met_request_row(char *buf, const struct req *r, double arrival_s, double queue_s,
                       double ttft_s, double tpot_s, double e2el_s, double finish_s,
                       const char *status);
size_t met_timeline_row(char *buf, uint32_t replica, double time_s, uint32_t batch,
                        uint64_t kv_used_tok, double kv_perc, uint32_t waiting);

/* ---- issue 14: seeds and confidence (the numbers behind results.csv's m and m_ci95) ----
 * A run of N seeds is summarised per metric column of results.csv by the mean over seeds and the
 * half-width of the 95 % Student-t confidence interval of that mean,
 *     t(0.975, N - 1) * s / sqrt(N),  s the sample standard deviation (divisor N - 1).
 * The per-seed values are those results.csv shows for each seed (6 decimals, in the columns'
 * units: ms, req/s, ...), so that a mean can be recomputed from results_seeds.csv exactly. */
enum { MET_CSV_MAX_COLS = 128 };

/* The names of results.csv's metric columns (met_csv_header), in order: names[k] points into
 * buf (n bytes). Returns their count (at most max), 0 when buf is too small or out of memory. */
size_t met_csv_names(char *buf, size_t n, const char **names, size_t max);
/* One run's metric values as results.csv writes them (met_csv_row), NaN for an empty field, in
 * the order of met_csv_names. Returns the count (at most max), 0 when out of memory. */
size_t met_csv_values(const struct met_summary *s, double *v, size_t max);
/* The 0.975 quantile of Student's t distribution with df >= 1 degrees of freedom
 * (gsl_cdf_tdist_Pinv): 12.706205 for df 1, 2.262157 for df 9. Pure. */
double met_t975(unsigned df);
/* Mean and 95 % half-width (above) of x[0..n). Both NaN when n is 0 or any value is not finite
 * (a metric missing for one seed has no mean over the others); the half-width is NaN for n 1. */
void met_seed_ci(const double *x, size_t n, double *mean, double *ci95);

#endif
