/*
 * afile.h: files that appear complete or not at all. Output goes to a temporary file beside the
 * target (same directory, so rename is atomic), which replaces the target only on commit; a
 * failed or interrupted writer discards it. Every result file lensim writes goes through here.
 * Ownership: struct sim_afile is caller storage; open fills it, commit or discard empties it.
 * Errors: SIM_EIO / SIM_ENOMEM with "path: what" in err.
 */
#ifndef LENSIM_AFILE_H
#define LENSIM_AFILE_H

#include <stdio.h>

#include "sim.h"

struct sim_afile {
    FILE *f;    /* write here */
    char *path; /* the target */
    char *tmp;  /* the temporary file */
};

/* Create a temporary file for `path`. Returns 0, or an error with *a left empty. */
int sim_afile_open(struct sim_afile *a, const char *path, struct sim_msg *err);
/* Flush, fsync, close and rename onto the target. Returns 0, or SIM_EIO with "path: cannot
 * write: <the first failure's cause>" in err (a write, flush, sync, close or rename failed; the
 * temporary file is removed). Empties *a either way. */
int sim_afile_commit(struct sim_afile *a, struct sim_msg *err);
/* Close and remove the temporary file. Safe on an empty or zeroed struct. Cannot fail. */
void sim_afile_discard(struct sim_afile *a);

#endif
