/* afile.c: write to a temporary file or directory, rename when complete (see afile.h). */
#include "afile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"

/* ---- the registry of what an abort must remove ----
 * Fixed slots, so that sim_afile_remove_all needs no allocation and no lock. lensim has at most
 * six temporaries open at once (results.csv, a run's directory and its four files); a temporary
 * that finds no free slot is only left out of the clean-up on abort. */
enum { REG_MAX = 32 };
static const char                 *reg_file[REG_MAX];
static const struct sim_afile_dir *reg_dir[REG_MAX];

static void track(const void **slot, const void *p)
{
    sim_abort_cleanup(sim_afile_remove_all);
    for (int i = 0; i < REG_MAX; i++)
        if (!slot[i]) {
            slot[i] = p;
            return;
        }
}

static void untrack(const void **slot, const void *p)
{
    for (int i = 0; i < REG_MAX; i++)
        if (slot[i] == p)
            slot[i] = NULL;
}

void sim_afile_remove_all(void)
{
    for (int i = 0; i < REG_MAX; i++)
        if (reg_file[i])
            unlink(reg_file[i]);
    for (int i = 0; i < REG_MAX; i++) {
        const struct sim_afile_dir *d = reg_dir[i];
        if (!d)
            continue;
        for (size_t k = 0; k < d->n_files; k++)
            unlink(d->file[k]);
        rmdir(d->tmp);
    }
}

static void empty(struct sim_afile *a)
{
    untrack((const void **)reg_file, a->tmp);
    sim_free(a->path);
    sim_free(a->tmp);
    sim_free(a->name);
    a->f = NULL;
    a->path = a->tmp = a->name = NULL;
    a->cause = 0;
}

/* The process's umask: mkstemp and mkdtemp create 0600 and 0700, but a finished file or directory
 * must have the mode an ordinary creation would (0666 or 0777 less the umask; issue 12). umask()
 * can only be read by setting it, so it is read once, on the first call, and set back at once. */
static mode_t umask_of_process(void)
{
    static int    known;
    static mode_t mask;
    if (!known) {
        mask = umask(022);
        umask(mask);
        known = 1;
    }
    return mask;
}

int sim_afile_open(struct sim_afile *a, const char *path, struct sim_msg *err)
{
    size_t n = strlen(path) + 16;
    a->f = NULL;
    a->path = sim_strdup(path);
    a->tmp = sim_malloc(n);
    a->name = NULL;
    a->cause = 0;
    if (!a->path || !a->tmp) {
        empty(a);
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    }
    snprintf(a->tmp, n, "%s.tmpXXXXXX", path);
    int fd = mkstemp(a->tmp);
    if (fd >= 0)
        (void)fchmod(fd, 0666 & ~umask_of_process()); /* as an ordinary creation: see above */
    a->f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!a->f) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(a->tmp);
        }
        int rc = sim_msg_set(err, SIM_EIO, "%s: cannot create a temporary file: %s", path,
                             strerror(e));
        empty(a);
        return rc;
    }
    track((const void **)reg_file, a->tmp);
    return SIM_OK;
}

/* Record the first failure's errno (the cause): later calls on a failed stream fail too, often
 * with another errno (fsync on a device gives EINVAL after a write gave ENOSPC). */
static void first_errno(int failed, int *e)
{
    if (failed && !*e)
        *e = errno ? errno : EIO;
}

int sim_afile_write(struct sim_afile *a, const void *p, size_t n)
{
    errno = 0;
    if (fwrite(p, 1, n, a->f) == n)
        return SIM_OK;
    if (!a->cause)
        a->cause = errno ? errno : EIO;
    return SIM_EIO;
}

int sim_afile_commit(struct sim_afile *a, struct sim_msg *err)
{
    int e = a->cause;
    errno = 0;
    /* ferror: a write failed earlier; fflush has the errno when the failed write is buffered. */
    int bad = ferror(a->f), flushed = fflush(a->f) == 0;
    if (bad && flushed && !e)
        e = EIO; /* the failed write's errno is long gone (not one of sim_afile_write's) */
    first_errno(!flushed, &e);
    first_errno(fsync(fileno(a->f)) != 0, &e); /* on disk before it takes the target's name */
    first_errno(fclose(a->f) != 0, &e);
    a->f = NULL;
    if (!e)
        first_errno(rename(a->tmp, a->path) != 0, &e);
    int rc = SIM_OK;
    if (e) {
        unlink(a->tmp);
        rc = sim_msg_set(err, SIM_EIO, "%s: cannot write: %s", a->name ? a->name : a->path,
                         strerror(e));
    }
    empty(a);
    return rc;
}

void sim_afile_discard(struct sim_afile *a)
{
    if (a->f)
        fclose(a->f);
    if (a->tmp)
        unlink(a->tmp);
    empty(a);
}

/* ---- sets of files: a temporary directory renamed into place ---- */

static void dir_empty(struct sim_afile_dir *d)
{
    untrack((const void **)reg_dir, d);
    for (size_t k = 0; k < d->n_files; k++)
        sim_free(d->file[k]);
    sim_free(d->path);
    sim_free(d->tmp);
    memset(d, 0, sizeof *d);
}

int sim_afile_dir_open(struct sim_afile_dir *d, const char *path, struct sim_msg *err)
{
    size_t n = strlen(path) + 16;
    memset(d, 0, sizeof *d);
    d->path = sim_strdup(path);
    d->tmp = sim_malloc(n);
    if (!d->path || !d->tmp) {
        dir_empty(d);
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    }
    snprintf(d->tmp, n, "%s.tmpXXXXXX", path);
    if (!mkdtemp(d->tmp)) {
        int rc = sim_msg_set(err, SIM_EIO, "%s: cannot create a temporary directory: %s", path,
                             strerror(errno));
        dir_empty(d); /* mkdtemp failed: there is nothing to remove */
        return rc;
    }
    (void)chmod(d->tmp, 0777 & ~umask_of_process()); /* as an ordinary mkdir: see above */
    track((const void **)reg_dir, d);
    return SIM_OK;
}

int sim_afile_open_in(struct sim_afile *a, struct sim_afile_dir *d, const char *name,
                      struct sim_msg *err)
{
    SIM_ASSERT(d->tmp && d->n_files < SIM_AFILE_DIR_MAX);
    size_t n = strlen(d->tmp) + strlen(name) + 2;
    size_t shown_n = strlen(d->path) + strlen(name) + 2;
    char  *path = sim_malloc(n), *shown = sim_malloc(shown_n);
    if (!path || !shown) {
        sim_free(path);
        sim_free(shown);
        a->f = NULL;
        a->path = a->tmp = a->name = NULL;
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    }
    snprintf(path, n, "%s/%s", d->tmp, name);
    snprintf(shown, shown_n, "%s/%s", d->path, name);
    d->file[d->n_files++] = path; /* removed with the set unless the set takes its name */
    int rc = sim_afile_open(a, path, err);
    if (rc)
        sim_free(shown);
    else
        a->name = shown;
    return rc;
}

/* Remove the files of a directory (not its subdirectories, which lensim never writes) and the
 * directory. Returns 0 or the errno of the first failure. */
static int remove_dir(const char *path)
{
    DIR *dir = opendir(path);
    if (!dir)
        return errno;
    int e = 0;
    for (struct dirent *ent; (ent = readdir(dir));) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
            continue;
        if (unlinkat(dirfd(dir), ent->d_name, 0) && !e)
            e = errno;
    }
    closedir(dir);
    if (rmdir(path) && !e)
        e = errno;
    return e;
}

size_t sim_afile_remove_stale(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t      nb = strlen(base);
    char        parent[4096], entry[4096 + 256];
    if (!slash)
        snprintf(parent, sizeof parent, ".");
    else if (slash == path)
        snprintf(parent, sizeof parent, "/");
    else if ((size_t)(slash - path) < sizeof parent)
        snprintf(parent, sizeof parent, "%.*s", (int)(slash - path), path);
    else
        return 0;
    DIR *dir = opendir(parent);
    if (!dir)
        return 0;
    size_t removed = 0;
    for (struct dirent *ent; (ent = readdir(dir));) {
        const char *n = ent->d_name;
        if (strlen(n) != nb + 10 || strncmp(n, base, nb) || strncmp(n + nb, ".tmp", 4))
            continue;
        snprintf(entry, sizeof entry, "%s/%s", parent, n);
        if (!unlink(entry) || ((errno == EISDIR || errno == EPERM) && !remove_dir(entry)))
            removed++;
    }
    closedir(dir);
    return removed;
}

/* The set's directory entries on disk before it takes the target's name. Returns 0 or errno. */
static int sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return errno;
    int e = fsync(fd) ? errno : 0;
    close(fd);
    return e;
}

/* Rename tmp onto path, which holds an earlier set: move that aside (onto an empty temporary
 * directory, which rename may replace), rename, then remove it. Returns 0 or errno. */
static int replace_dir(const char *tmp, const char *path)
{
    size_t n = strlen(path) + 16;
    char  *old = sim_malloc(n);
    if (!old)
        return ENOMEM;
    snprintf(old, n, "%s.tmpXXXXXX", path);
    int e = 0;
    if (!mkdtemp(old)) {
        e = errno;
    } else if (rename(path, old)) {
        e = errno;
        rmdir(old);
    } else if (rename(tmp, path)) {
        e = errno;
        rename(old, path); /* put the earlier set back */
    } else if ((e = remove_dir(old))) {
        sim_log_warn("%s: the previous %s is kept there: %s", old, path, strerror(e));
        e = 0;
    }
    sim_free(old);
    return e;
}

int sim_afile_dir_commit(struct sim_afile_dir *d, struct sim_msg *err)
{
    int e = sync_dir(d->tmp);
    if (!e && rename(d->tmp, d->path)) {
        e = errno;
        if (e == ENOTEMPTY || e == EEXIST)
            e = replace_dir(d->tmp, d->path);
    }
    if (!e) {
        dir_empty(d);
        return SIM_OK;
    }
    int rc = sim_msg_set(err, SIM_EIO, "%s: cannot write: %s", d->path, strerror(e));
    sim_afile_dir_discard(d);
    return rc;
}

void sim_afile_dir_discard(struct sim_afile_dir *d)
{
    if (d->tmp) {
        for (size_t k = 0; k < d->n_files; k++)
            unlink(d->file[k]);
        rmdir(d->tmp);
    }
    dir_empty(d);
}
