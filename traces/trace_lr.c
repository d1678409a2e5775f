/*
 * trace_lr.c: the line reader (see trace_internal.h).
 *
 * One buffer of max_line + TRACE__CHUNK bytes is allocated at open and reused for every line, so
 * reading costs no allocation per row. Lines are found with memchr; the unread tail is moved to
 * the front of the buffer once per chunk, never per line. A line longer than max_line is
 * reported as soon as max_line bytes without a newline are seen; the next call (if the caller
 * reads on, to skip it) discards its rest chunk by chunk without storing it. So neither a huge
 * line nor a file without any newline (/dev/zero) can make the reader hold more than its buffer,
 * or read on before it reports.
 */
#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "trace_internal.h"

int trace__lr_init(struct trace__lr *lr, FILE *f, size_t max_line)
{
    memset(lr, 0, sizeof *lr);
    lr->f = f;
    lr->max_line = max_line;
    lr->cap = max_line + TRACE__CHUNK;
    lr->buf = sim_malloc(lr->cap + 1);
    return lr->buf ? SIM_OK : SIM_ENOMEM;
}

void trace__lr_fini(struct trace__lr *lr)
{
    sim_free(lr->buf);
    lr->buf = NULL;
}

void trace__lr_unread(struct trace__lr *lr)
{
    SIM_ASSERT(lr->last);
    lr->again = 1;
}

/* Read more bytes after buf[len). Returns 0 (eof set when the file ended) or SIM_EIO. */
static int fill(struct trace__lr *lr)
{
    size_t want = lr->cap - lr->len;
    size_t got = fread(lr->buf + lr->len, 1, want, lr->f);
    lr->len += got;
    if (got < want) {
        if (ferror(lr->f)) {
            lr->io_errno = errno ? errno : EIO;
            return SIM_EIO;
        }
        lr->eof = 1;
    }
    return SIM_OK;
}

/* Skip the rest of an over-long line: bytes are dropped until a newline or the end of the
 * file. Returns 0 or SIM_EIO. */
static int discard_line(struct trace__lr *lr)
{
    for (;;) {
        char *nl = memchr(lr->buf + lr->pos, '\n', lr->len - lr->pos);
        if (nl) {
            lr->pos = (size_t)(nl - lr->buf) + 1;
            return SIM_OK;
        }
        lr->pos = lr->len = 0;
        if (lr->eof)
            return SIM_OK;
        int rc = fill(lr);
        if (rc)
            return rc;
    }
}

static int give(struct trace__lr *lr, char *start, size_t n, int nl, char **line, size_t *pn,
                int *pnl)
{
    start[n] = '\0';
    if (n && start[n - 1] == '\r')
        start[--n] = '\0';
    lr->last = start;
    lr->last_n = n;
    lr->last_nl = nl;
    *line = start;
    *pn = n;
    *pnl = nl;
    return 1;
}

int trace__lr_next(struct trace__lr *lr, char **line, size_t *n, int *nl)
{
    if (lr->again) {
        lr->again = 0;
        *line = lr->last;
        *n = lr->last_n;
        *nl = lr->last_nl;
        return 1;
    }
    lr->last = NULL;
    if (lr->skipping) { /* the rest of the over-long line reported last */
        lr->skipping = 0;
        int rc = discard_line(lr);
        if (rc)
            return rc;
    }
    for (;;) {
        char  *start = lr->buf + lr->pos;
        size_t avail = lr->len - lr->pos;
        char  *end = memchr(start, '\n', avail);
        if (end) {
            size_t len = (size_t)(end - start);
            lr->pos += len + 1;
            lr->lineno++;
            if (len > lr->max_line)
                return SIM_EINPUT;
            return give(lr, start, len, 1, line, n, nl);
        }
        if (avail > lr->max_line) {
            /* No newline within max_line bytes: this line is too long whatever follows. */
            lr->lineno++;
            lr->pos = lr->len;
            lr->skipping = 1;
            return SIM_EINPUT;
        }
        if (lr->eof) {
            if (avail == 0)
                return 0;
            lr->pos = lr->len;
            lr->lineno++;
            return give(lr, start, avail, 0, line, n, nl);
        }
        /* Move the partial line to the front; cap - avail >= TRACE__CHUNK bytes stay free. */
        memmove(lr->buf, start, avail);
        lr->pos = 0;
        lr->len = avail;
        int rc = fill(lr);
        if (rc)
            return rc;
    }
}
