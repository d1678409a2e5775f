/* sim.c: error strings, the abort path and logging (see sim.h). */
#include "sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

int sim_msg_set(struct sim_msg *m, int err, const char *fmt, ...)
{
    if (m) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m->text, sizeof m->text, fmt, ap);
        va_end(ap);
    }
    return err;
}

static int log_quiet;

void sim_log_quiet(int quiet) { log_quiet = quiet; }

static void log_v(const char *level, const char *fmt, va_list ap)
{
    fflush(stdout);
    fprintf(stderr, "lensim: %s", level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
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
