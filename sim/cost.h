/*
 * cost.h: the data of the model clock (exec_model.c): the perf profile (calib/profile.h), measured
 * or analytic, piecewise or table form (prof.table, calib/table.h), and the host link that swapped
 * KV cache crosses. Plain data, filled by run.c; a table profile's tables are owned by prof and
 * freed by run_fini.
 */
#ifndef LENSIM_COST_H
#define LENSIM_COST_H

#include "profile.h"

struct cost {
    struct cal_profile prof;
    double             swap_bw; /* host link bytes/s, for swapping KV out and in */
};

#endif
