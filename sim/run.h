/*
 * run.h: one run of an experiment, from a resolved configuration to files on disk.
 *
 * run_build turns a struct cfg into the pieces the serving model takes (model shape, GPU, perf
 * profile, KV capacity, workload options, predictor, cluster settings), resolving relative paths
 * against the experiment's directory, the working directory and the data directory, in that
 * order. run_exec runs it and writes the run's directory, requests.csv, timeline.csv,
 * summary.json and manifest.yaml, as one set: the files go into a temporary directory beside it
 * that takes the run's name only when all four are on disk (base/afile.h), so an interrupted or
 * failed run leaves no file, and no directory, that looks finished, and a run done again
 * replaces the earlier one whole.
 */
#ifndef LENSIM_RUN_H
#define LENSIM_RUN_H

#include "cfg.h"
#include "met.h"
#include "presets.h"
#include "serve.h"

struct run {
    struct cfg            cfg;
    struct cal_model      model;
    const struct cal_gpu *gpu;
    struct cost           cost;
    uint64_t              profile_hash;
    char                  profile_path[CFG_STR_MAX]; /* "" for analytic */
    struct serve_cfg      serve;
    struct trace_opts     trace;
    char                  trace_path[1024];
    char                  lengths_path[1024];
    char                  data_dir[1024];
    struct pred_cfg       pred;
    char                  pred_path[1024];
    char                  compat_path[1024]; /* compat ssjf: the predictions file */
    int infeasible; /* run_build failed on a combination of settings (weights do not fit, tp and
                       heads): a sweep records the point and goes on (issue 12) */
    /* issue 11: a live run's executor statistics (manifest `live:`), set by run_exec */
    struct live_stats live;
    int               have_live;
};

/* Build a run. data_dir may be "" (none). Returns 0, or SIM_ECONFIG / SIM_EIO / SIM_ENOENT with
 * the reason in err, which starts with the key at fault ("hardware.gpu: ...") so that
 * cfg_place_msg can say where it was written; x->infeasible tells a combination of valid
 * settings that cannot run from a setting that is wrong on its own. */
int run_build(const struct cfg *c, const char *cfg_dir, const char *data_dir, struct run *x,
              struct sim_msg *err);

struct run_result {
    struct met_summary sum;
    struct serve_stats stats;
    double             wall_s;
    /* The memory the run itself took: its allocator high-water mark above what was live when it
     * started, and its allocations (not the process's: a sweep's earlier runs and the output
     * path's length do not show). */
    size_t   peak_bytes;
    uint64_t allocations;
};

/* Progress hook for long runs (may be NULL): called every so many events with the counts so
 * far, and once with s == NULL when the simulation has finished and the summary and the files
 * are about to be written. A non-zero return stops the run (SIM_EINTR), except from the last
 * call. */
typedef int (*run_progress_fn)(void *ctx, const struct serve_stats *s, uint64_t total);

/* Run x and write its files as the directory dir (its parent is created if missing; an earlier
 * dir is replaced; NULL = write nothing). Returns 0, SIM_EINTR when interrupted, or a negative
 * code with the reason in err (a failed write names its file and its cause); on failure dir is
 * as it was. */
int run_exec(struct run *x, const char *dir, run_progress_fn progress, void *pctx,
             struct run_result *res, struct sim_msg *err);

/* Frees what a built run owns (a table profile's tables; issue 10). Call it once after
 * run_build, whether it succeeded or not, before freeing x. Cannot fail. */
void run_fini(struct run *x);

/* mkdir -p. Returns 0 or SIM_EIO. */
int run_mkdirs(const char *path, struct sim_msg *err);

#endif
