/* afile.c: write to a temporary file, rename when complete (see afile.h). */
#include "afile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"

static void empty(struct sim_afile *a)
{
    sim_free(a->path);
    sim_free(a->tmp);
    a->f = NULL;
    a->path = a->tmp = NULL;
}

int sim_afile_open(struct sim_afile *a, const char *path, struct sim_msg *err)
{
    size_t n = strlen(path) + 16;
    a->f = NULL;
    a->path = sim_strdup(path);
    a->tmp = sim_malloc(n);
    if (!a->path || !a->tmp) {
        empty(a);
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    }
    snprintf(a->tmp, n, "%s.tmpXXXXXX", path);
    int fd = mkstemp(a->tmp);
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
    return SIM_OK;
}

/* Record the first failure's errno (the cause): later calls on a failed stream fail too, often
 * with another errno (fsync on a device gives EINVAL after a write gave ENOSPC). */
static void first_errno(int failed, int *e)
{
    if (failed && !*e)
        *e = errno ? errno : EIO;
}

int sim_afile_commit(struct sim_afile *a, struct sim_msg *err)
{
    int e = 0;
    errno = 0;
    /* ferror: a write failed earlier; fflush has the errno when the failed write is buffered. */
    int bad = ferror(a->f), flushed = fflush(a->f) == 0;
    if (bad && flushed)
        e = EIO; /* the failed write's errno is long gone */
    first_errno(!flushed, &e);
    first_errno(fsync(fileno(a->f)) != 0, &e); /* on disk before it takes the target's name */
    first_errno(fclose(a->f) != 0, &e);
    a->f = NULL;
    if (!e)
        first_errno(rename(a->tmp, a->path) != 0, &e);
    int rc = SIM_OK;
    if (e) {
        unlink(a->tmp);
        rc = sim_msg_set(err, SIM_EIO, "%s: cannot write: %s", a->path, strerror(e));
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
