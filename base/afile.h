/*
 * afile.h: files, and sets of files, that appear complete or not at all. Output goes to a
 * temporary file beside the target (same directory, so rename is atomic), which replaces the
 * target only on commit; a failed or interrupted writer discards it. A set (a run's directory) is
 * a temporary directory beside the target directory whose files are committed inside it, and
 * which then takes the target's name, replacing an earlier one whole. Every result file lensim
 * writes goes through here.
 * Abort: every temporary file and directory open now is in a fixed registry, which
 * sim_afile_remove_all empties from the disk; the first open sets it as sim_abort's clean-up, so
 * that a failed assertion leaves no *.tmpXXXXXX behind. Open, commit and discard from one thread
 * (the registry has no lock).
 * Ownership: struct sim_afile and struct sim_afile_dir are caller storage; open fills them, commit
 * or discard empties them.
 * Errors: SIM_EIO / SIM_ENOMEM with "path: what" in err.
 */
#ifndef LENSIM_AFILE_H
#define LENSIM_AFILE_H

#include <stdio.h>

#include "sim.h"

struct sim_afile {
    FILE *f;     /* write here */
    char *path;  /* the target */
    char *tmp;   /* the temporary file */
    char *name;  /* the path messages give (a set's file: its path once the set is committed) */
    int   cause; /* errno of the first failed sim_afile_write, 0 if none */
};

/* Create a temporary file for `path`. Returns 0, or an error with *a left empty. */
int sim_afile_open(struct sim_afile *a, const char *path, struct sim_msg *err);
/* fwrite n bytes of p to a->f, keeping the errno of the first failure for commit's message
 * (a failed large write leaves nothing for fflush to retry, so its cause is otherwise lost).
 * Returns 0 or SIM_EIO. */
int sim_afile_write(struct sim_afile *a, const void *p, size_t n);
/* Flush, fsync, close and rename onto the target. Returns 0, or SIM_EIO with "path: cannot
 * write: <the first failure's cause>" in err (a write, flush, sync, close or rename failed; the
 * temporary file is removed). Empties *a either way. */
int sim_afile_commit(struct sim_afile *a, struct sim_msg *err);
/* Close and remove the temporary file. Safe on an empty or zeroed struct. Cannot fail. */
void sim_afile_discard(struct sim_afile *a);

/* Files a set may hold: a run writes four. */
enum { SIM_AFILE_DIR_MAX = 8 };

struct sim_afile_dir {
    char  *path;                    /* the target directory */
    char  *tmp;                     /* the temporary directory the files go into */
    char  *file[SIM_AFILE_DIR_MAX]; /* the files opened in it (paths inside tmp) */
    size_t n_files;
};

/* Create a temporary directory for the set `path` (its parent must exist). Returns 0, or an
 * error with *d left empty. */
int sim_afile_dir_open(struct sim_afile_dir *d, const char *path, struct sim_msg *err);
/* Open file `name` of the set d: sim_afile_open on d's temporary directory; commit it there with
 * sim_afile_commit as usual (it becomes visible with the set). At most SIM_AFILE_DIR_MAX per set
 * (more is a programmer error). Returns 0, or an error with *a left empty. */
int sim_afile_open_in(struct sim_afile *a, struct sim_afile_dir *d, const char *name,
                      struct sim_msg *err);
/* Give the set its target's name: an earlier directory of that name is moved aside and its
 * files removed (a warning names what could not be removed). Commit or discard every file of the
 * set first. Returns 0, or SIM_EIO with "path: cannot write: cause" in err and the set removed.
 * Empties *d either way. */
int sim_afile_dir_commit(struct sim_afile_dir *d, struct sim_msg *err);
/* Remove the temporary directory and the files committed in it. Safe on an empty or zeroed
 * struct. Cannot fail. */
void sim_afile_dir_discard(struct sim_afile_dir *d);

/* Remove what a process that was killed left of path's temporary versions: every entry of
 * path's directory named <path's last component>.tmpXXXXXX (six characters), a file
 * (sim_afile_open's) or a set directory of files (sim_afile_dir_open's). For a parent whose
 * worker died before it could remove its own (lensim run -j). Returns how many were removed. */
size_t sim_afile_remove_stale(const char *path);

/* Remove every temporary file and directory open now (files first, then directories). Uses only
 * unlink and rmdir over a fixed registry: async-signal-safe. For sim_abort; the structs stay
 * as they are (the process is about to end). */
void sim_afile_remove_all(void);

#endif
