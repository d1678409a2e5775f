/*
 * kcheck.h: every kernel variant of a backend against its plain-C reference (R18), and, on CUDA,
 * their timings against the device's measured ceilings (`lensim kcheck`, cli/cmd_kcheck.c).
 *
 * Output: the report (one line per variant, every failing check with its first mismatches,
 * then "N checks, M failed" and the bench lines) goes to the caller's FILE.
 * Errors: SIM_ENODEV when a CUDA check has no GPU or no CUDA build; SIM_ECONFIG for an unknown
 * backend; SIM_ENOENT when no variant matches; the backend's own errors (SIM_ENOMEM, SIM_ECUDA).
 * A mismatch is not an error: it is counted in struct kc_result.
 */
#ifndef LENSIM_KCHECK_H
#define LENSIM_KCHECK_H

#include <stdint.h>
#include <stdio.h>

#include "sim.h"

struct kc_opts {
    const char *backend; /* a kern_backend_choices name */
    int         op;      /* enum kern_op to check, or -1 for every op */
    int         version; /* the variant's version, or 0 for every version */
    uint64_t    seed;    /* inputs */
    int         bench;   /* 1: time the CUDA kernels after a clean check */
    int         verbose; /* 1: a line for every check, not only the failing ones */
    FILE       *out;     /* the report */
};

struct kc_result {
    int checks, fails;
};

/* Check every variant o selects, writing the report to o->out. Returns 0 with the counts in
 * *res (fails > 0 is a mismatch), or an error above with the reason in err (res holds the counts
 * so far). Borrows o. */
int kc_check(const struct kc_opts *o, struct kc_result *res, struct sim_msg *err);

#endif
