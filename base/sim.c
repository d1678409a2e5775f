/* sim.c: error strings, the abort path and logging (see sim.h). */
#include "sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

const char *sim_strerror(int err)
{
    switch (err) {
    case SIM_OK: return "success";
    case SIM_ENOMEM: return "out of memory";
    case SIM_EIO: return "input/output error";
    case SIM_ECONFIG: return "invalid configuration";
    case SIM_ECUDA: return "CUDA error";
    case SIM_ENOSPC: return "no space left";
    case SIM_EFIT: return "fit failed";
    case SIM_EINPUT: return "malformed input";
    case SIM_ENOENT: return "not found";
    case SIM_ENODEV: return "no such device or backend";
    case SIM_EINTR: return "interrupted";
    case SIM_EINVARIANT: return "invariant broken";
    }
    return "unknown error";
}

int sim_err_of_errno(int errnum)
{
    return errnum == ENOENT ? SIM_ENOENT : errnum == ENOMEM ? SIM_ENOMEM : SIM_EIO;
}

int sim_open_input(const char *path, FILE **f, struct sim_msg *err)
{
    struct stat st;
    *f = fopen(path, "rb");
    if (!*f)
        return sim_msg_set(err, sim_err_of_errno(errno), "%s: %s", path, strerror(errno));
    if (fstat(fileno(*f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(*f);
        *f = NULL;
        return sim_msg_set(err, SIM_EINPUT, "%s: is a directory, not a file", path);
    }
    return SIM_OK;
}

static void (*abort_cleanup)(void);

void sim_abort_cleanup(void (*fn)(void)) { abort_cleanup = fn; }

void sim_abort(const char *file, int line, const char *func, const char *cond)
{
    fflush(stdout);
    fprintf(stderr, "%s:%d %s: assertion failed: %s\n", file, line, func, cond);
    void (*fn)(void) = abort_cleanup;
    abort_cleanup = NULL; /* once, even if it were to assert */
    if (fn)
        fn();
    abort();
}

/* Bytes sim_escape writes for byte c. */
static size_t escaped_len(unsigned char c) { return c >= 0x20 && c < 0x7f ? 1 : 4; }

char *sim_escape(const char *s, char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    SIM_ASSERT(size >= 1);
    const unsigned char *c = (const unsigned char *)s;
    size_t               total = 0, room = size - 1, o = 0;
    for (const unsigned char *p = c; *p; p++)
        total += escaped_len(*p);
    int    cut = total > room;
    size_t limit = !cut ? room : room >= 3 ? room - 3 : 0; /* whole escapes only, then "..." */
    for (; *c && o + escaped_len(*c) <= limit; c++) {
        if (escaped_len(*c) == 1) {
            out[o++] = (char)*c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[*c >> 4];
            out[o++] = hex[*c & 15];
        }
    }
    if (cut) {
        size_t dots = room - o < 3 ? room - o : 3;
        memcpy(out + o, "...", dots);
        o += dots;
    }
    out[o] = 0;
    return out;
}

int sim_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s)
        return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10) /* v * 10 + d > max, without overflow */
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int sim_msg_set(struct sim_msg *m, int err, const char *fmt, ...)
{
    if (m) {
        char    raw[2 * sizeof m->text];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(raw, sizeof raw, fmt, ap);
        va_end(ap);
        sim_escape(raw, m->text, sizeof m->text);
    }
    return err;
}

static int log_quiet;

void sim_log_quiet(int quiet) { log_quiet = quiet; }

static void log_v(const char *level, const char *fmt, va_list ap)
{
    char raw[2048], safe[4 * sizeof raw];
    vsnprintf(raw, sizeof raw, fmt, ap);
    fflush(stdout);
    fprintf(stderr, "lensim: %s%s\n", level, sim_escape(raw, safe, sizeof safe));
}

void sim_log_info(const char *fmt, ...)
{
    if (log_quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_v("", fmt, ap);
    va_end(ap);
}

void sim_log_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_v("warning: ", fmt, ap);
    va_end(ap);
}

void sim_log_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_v("error: ", fmt, ap);
    va_end(ap);
}

int64_t sim_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * SIM_NS_PER_S + ts.tv_nsec;
}
