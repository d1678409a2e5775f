/*
 * timing.h: the one timing loop of lensim (R19), over the kernel backend's timing hooks.
 *
 * warmup untimed runs, then repeats timed runs, each preceded by a last-level-cache flush
 * (a memset of twice the L2 on a GPU; nothing on the CPU, whose timings are warm) unless
 * opts->warm; each run is bracketed by device events (CUDA) or the wall clock (CPU), which
 * time the device work only, not the host's launch latency before the first kernel.
 * Reports median, p10, p90 and min. A time budget stops the repeats early (at least min_repeats
 * are always taken) so that slow points do not dominate a sweep.
 * Why not calib/timing.cu (as R19 first sketched): the events live in the backend
 * (kern_timer_*), so this loop is plain C and serves both backends.
 * Errors: whatever fn or the hooks return (SIM_ECUDA), passed up unchanged.
 */
#ifndef LENSIM_TIMING_H
#define LENSIM_TIMING_H

#include <stddef.h>

#include "kern.h"

struct cal_time_opts {
    unsigned warmup;      /* untimed runs first (0: none) */
    unsigned repeats;     /* timed runs, at most (1..CAL_TIME_MAX_REPEATS) */
    unsigned min_repeats; /* timed runs, at least */
    double   budget_s;    /* stop repeating once the timed runs sum past this (0: none) */
    int      warm;        /* 1: no cache flush between repeats */
};

enum { CAL_TIME_MAX_REPEATS = 256 };

struct cal_time_stats {
    unsigned n;
    double   median_s, p10_s, p90_s, min_s, mean_s;
    double   sample_s[CAL_TIME_MAX_REPEATS]; /* the n timed runs, sorted */
};

/* Recompute the statistics of st->sample_s[0..n) (after merging samples). n >= 1. */
void cal_time_summarise(struct cal_time_stats *st);

/* Time fn(ctx) on backend b. Returns 0 or fn's / the hooks' error. */
int cal_time(kern_backend_t *b, int (*fn)(void *ctx), void *ctx, const struct cal_time_opts *o,
             struct cal_time_stats *st);

/* Quantile q in [0, 1] of x[0..n) (sorts x in place; linear interpolation). n >= 1. */
double cal_quantile(double *x, size_t n, double q);

#endif
