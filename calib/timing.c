/* timing.c: warm-up, flushed repeats, robust statistics (see timing.h). */
#include "timing.h"

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "sim.h"

double cal_quantile(double *x, size_t n, double q)
{
    SIM_ASSERT(n >= 1);
    gsl_sort(x, 1, n);
    return gsl_stats_quantile_from_sorted_data(x, 1, n, q);
}

int cal_time(kern_backend_t *b, int (*fn)(void *ctx), void *ctx, const struct cal_time_opts *o,
             struct cal_time_stats *st)
{
    double  *t = st->sample_s;
    unsigned reps = o->repeats ? o->repeats : 1;
    if (reps > CAL_TIME_MAX_REPEATS)
        reps = CAL_TIME_MAX_REPEATS;
    unsigned min_reps = o->min_repeats ? o->min_repeats : 1;
    int      rc;
    for (unsigned i = 0; i < o->warmup; i++)
        if ((rc = fn(ctx)) != 0)
            return rc;
    if ((rc = kern_sync(b)) != 0)
        return rc;
    double   sum = 0;
    unsigned n = 0;
    while (n < reps) {
        if (!o->warm && (rc = kern_flush_cache(b)) != 0)
            return rc;
        if ((rc = kern_timer_start(b)) != 0 || (rc = fn(ctx)) != 0 ||
            (rc = kern_timer_stop(b, &t[n])) != 0)
            return rc;
        sum += t[n++];
        if (o->budget_s > 0 && sum > o->budget_s && n >= min_reps)
            break;
    }
    st->n = n;
    cal_time_summarise(st);
    return SIM_OK;
}

void cal_time_summarise(struct cal_time_stats *st)
{
    SIM_ASSERT(st->n >= 1 && st->n <= CAL_TIME_MAX_REPEATS);
    double *t = st->sample_s, sum = 0;
    for (unsigned i = 0; i < st->n; i++)
        sum += t[i];
    st->mean_s = sum / st->n;
    st->median_s = cal_quantile(t, st->n, 0.5);
    st->p10_s = gsl_stats_quantile_from_sorted_data(t, 1, st->n, 0.1);
    st->p90_s = gsl_stats_quantile_from_sorted_data(t, 1, st->n, 0.9);
    st->min_s = t[0];
}
