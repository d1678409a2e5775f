/*
 * runjobs.h (issue 13): what cmd_run.c lends cmd_search.c: the output directory's lock and the
 * batch runner behind `lensim run -j N`.
 */
#ifndef LENSIM_RUNJOBS_H
#define LENSIM_RUNJOBS_H

#include <stddef.h>

#include "cfg.h"
#include "met.h"

/* Make the output directory and take its lock (DIR/.lock, see cmd_run.c), then refuse the
 * results of an earlier run or search in it (SIM_ECONFIG, "DIR: holds the results of an earlier
 * run; --force replaces them ...") or, with force, remove them. 0 with *fd the lock, or the
 * reason in err with nothing held. */
int  cli_lock_dir(const char *dir, int force, char *path, size_t n, int *fd, struct sim_msg *err);
void cli_unlock_dir(int fd, const char *path);
/* Run cfgs[0..n) of e into dir/<run_name>, `jobs` at a time in worker processes (<= 1: here),
 * catching SIGINT/SIGTERM/SIGHUP for the duration; on success sums[i] and wall_s[i] hold each
 * run's summary and wall time. Returns 0, SIM_EINTR (cli_interrupted() gives the signal), or the
 * lowest-numbered failed run's code with "run NAME: reason" in err. Issue 14: a cfg with
 * seeds > 1 is refused (SIM_ECONFIG, placed at the `seeds` key): the batch runs single runs. */
int cli_run_batch(const cfg_exp_t *e, const struct cfg *cfgs, size_t n, int jobs, const char *dir,
                  const char *data_dir, struct met_summary *sums, double *wall_s,
                  struct sim_msg *err);
int cli_interrupted(void);

#endif
