/*
 * calib.h: calibration: time whole serving iterations of a model over a grid of batches, fit
 * the piecewise latency model, and write a perf profile (calib/PROFILE.md) with the raw
 * measurements beside it. `lensim calibrate` (cli/cmd_calibrate.c) is its command.
 *
 * Output: PROFILE.yaml and PROFILE.csv through temporary files, both checked before the sweep
 * (paths that fit, not directories, writable, two different files); a failed run leaves no
 * profile, and the CSV stays when only the fit fails, so that the measurements can be studied; a
 * summary of the fit on the caller's FILE; one info line at the start and the fit's warnings
 * through sim_log (sim_log_quiet silences the info line).
 * Errors: SIM_ECONFIG (unknown model, a shape that does not split tp ways, limits that do not
 * fit the device, tp > 1 without a link bandwidth, outputs that are directories, one file or too
 * long: the message names the option), SIM_ENODEV (no GPU, CUDA not built),
 * SIM_EFIT, SIM_EIO, SIM_ENOMEM, SIM_ECUDA, each with the reason in the caller's sim_msg.
 */
#ifndef LENSIM_CALIB_H
#define LENSIM_CALIB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kern.h"
#include "sim.h"

struct cal_calibrate_opts {
    const char         *backend; /* a kern_backend_choices name */
    const char         *model;   /* model preset (calib/presets.c) */
    const char         *out;     /* PROFILE.yaml to write */
    const char         *csv;     /* raw measurements; NULL: out with .csv */
    const char         *grid;    /* "full", "small" or "quick": grid size and repeats */
    const char         *gpu;     /* GPU preset for the tp > 1 link; NULL: from the device name */
    uint32_t            tp;      /* tensor-parallel degree: time one GPU's shard */
    uint32_t            max_seqs, max_ctx, max_prompt, max_batch_tok; /* grid limits; 0: default */
    size_t              points; /* grid points; 0: the grid's */
    uint64_t            seed;   /* grid, weights and held-out split */
    enum kern_kv_layout layout;
    int                 graphs;    /* CUDA graphs */
    int                 device;    /* CUDA device ordinal */
    int                 threads;   /* CPU: BLAS threads (0: one) */
    int                 cpu_time;  /* issue 11: CPU: time the thread's CPU time, not wall time */
    double              mem_util;  /* fraction of device memory a server may use */
    double              link_gbps; /* GPU-GPU link GB/s one way; 0: from the GPU preset */
    /* Called after every timed point; NULL for none. */
    void (*progress)(size_t done, size_t total, void *ctx);
    void *progress_ctx;
};

/* The defaults of `lensim calibrate`: cpu, full grid, tp 1, seed 1, paged, graphs, mem_util
 * 0.90; model and out NULL (the caller must set them). Cannot fail. */
void cal_calibrate_opts_default(struct cal_calibrate_opts *o);

/* Calibrate as o says: write o->out and its CSV, and the fit's summary to summary (NULL: none).
 * Returns 0, or an error above with the reason in err. Borrows o and summary. */
int cal_calibrate(const struct cal_calibrate_opts *o, FILE *summary, struct sim_msg *err);

/* issue 17 (mut-io): the grid limits cal_calibrate uses for o and model m on a GPU (gpu 1) or
 * the CPU (gpu 0): o's where set, else the defaults calib/PROFILE.md lists; max_ctx at most the
 * model's, max_prompt at most max_ctx and max_batch_tok; 20 % held out, o's seed. Leaves
 * g->max_kv_tok alone (it depends on the device's free memory). A seam for tests: the GPU
 * defaults are otherwise only seen with a GPU. Cannot fail. */
struct cal_model;
struct cal_grid_opts;
void cal_calibrate_limits(const struct cal_calibrate_opts *o, const struct cal_model *m, int gpu,
                          struct cal_grid_opts *g);

#endif
