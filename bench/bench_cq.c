/*
 * bench_cq.c: the classic hold model (Jones, CACM 1986; Brown 1988), calendar queue vs binary
 * heap side by side in one run.
 *
 * A queue holds N pending events; each hold pops the earliest and pushes it back at its time
 * plus a random increment. Increments are drawn before timing (both queues see the same ones),
 * so the table times queue operations only. For each (N, distribution): R repeats of H holds
 * per queue, interleaved, median ns per hold reported, and the heap/calendar ratio (> 1 means
 * the calendar queue is faster).
 * Distributions (mean 1 s, so that 10^6 pending events are still about 1 us apart in integer
 * nanoseconds): exponential; uniform [0, 2 s]; bimodal (90 % U[0, 0.1 s], 10 % U[0, 9.1 s]);
 * burst (80 % zero, i.e. equal times, 20 % exponential with mean 5 s).
 * Usage: bench_cq [max_N]   (default 1e6)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_statistics_double.h>
#include <gsl/gsl_sort.h>

#include "cq.h"
#include "hq.h"
#include "rng.h"

enum { REPS = 5 };

static const char *dist_name[] = {"exponential", "uniform", "bimodal", "burst"};

static simtime_t draw(gsl_rng *r, int dist)
{
    double u;
    switch (dist) {
    case 0: return (simtime_t)gsl_ran_exponential(r, 1e9);
    case 1: return (simtime_t)(gsl_rng_uniform(r) * 2e9);
    case 2:
        u = gsl_rng_uniform(r);
        return (simtime_t)(u < 0.9 ? gsl_rng_uniform(r) * 1e8 : gsl_rng_uniform(r) * 9.1e9);
    default: u = gsl_rng_uniform(r); return u < 0.8 ? 0 : (simtime_t)gsl_ran_exponential(r, 5e9);
    }
}

/* Fill the queue with n events, then time h holds. Returns ns per hold. */
static double run(int use_heap, struct ev *evs, size_t n, const simtime_t *incr, size_t h)
{
    cq_t *cq = use_heap ? NULL : cq_new(NULL);
    hq_t *hq = use_heap ? hq_new() : NULL;
    for (size_t i = 0; i < n; i++) {
        evs[i] = (struct ev){.t_ns = incr[i]};
        if (use_heap)
            hq_push(hq, &evs[i]);
        else
            cq_push(cq, &evs[i]);
    }
    /* Warm-up holds let the calendar settle its width before timing. */
    size_t  warm = n < 100000 ? n : 100000;
    int64_t t0 = 0;
    for (size_t i = 0; i < warm + h; i++) {
        if (i == warm)
            t0 = sim_wall_ns();
        struct ev *e = use_heap ? hq_pop(hq) : cq_pop(cq);
        e->t_ns += incr[(n + i) % (n + h)];
        if (use_heap)
            hq_push(hq, e);
        else
            cq_push(cq, e);
    }
    double ns = (double)(sim_wall_ns() - t0) / (double)h;
    cq_free(cq);
    hq_free(hq);
    return ns;
}

int main(int argc, char **argv)
{
    size_t   max_n = argc > 1 ? (size_t)atof(argv[1]) : 1000000;
    gsl_rng *r = rng_new(2024, 0);
    printf("hold model: median of %d repeats, ns per hold (pop + push); ratio = heap / calendar\n",
           REPS);
    printf("%10s  %-12s %12s %12s %8s\n", "pending", "increments", "calendar", "heap", "ratio");
    double worst = 1e9;
    for (size_t n = 100; n <= max_n; n *= 10) {
        size_t     h = n * 4 > 2000000 ? n * 4 : 2000000;
        struct ev *evs = malloc(n * sizeof *evs);
        simtime_t *incr = malloc((n + h) * sizeof *incr);
        if (!evs || !incr)
            return 1;
        for (int d = 0; d < 4; d++) {
            for (size_t i = 0; i < n + h; i++)
                incr[i] = draw(r, d);
            double c[REPS], hp[REPS];
            for (int k = 0; k < REPS; k++) { /* interleaved so drift hits both alike */
                c[k] = run(0, evs, n, incr, h);
                hp[k] = run(1, evs, n, incr, h);
            }
            gsl_sort(c, 1, REPS);
            gsl_sort(hp, 1, REPS);
            double mc = gsl_stats_median_from_sorted_data(c, 1, REPS);
            double mh = gsl_stats_median_from_sorted_data(hp, 1, REPS);
            double ratio = mh / mc;
            if (ratio < worst)
                worst = ratio;
            printf("%10zu  %-12s %12.1f %12.1f %7.2fx\n", n, dist_name[d], mc, mh, ratio);
            fflush(stdout);
        }
        free(evs);
        free(incr);
    }
    printf("worst ratio %.2fx (goal: >= 0.67x everywhere; >= 3x at 1e6 exponential)\n", worst);
    rng_free(r);
    return 0;
}
