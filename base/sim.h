/*
 * sim.h: the vocabulary every lensim module shares: simulated time, error codes, assertions and
 * logging.
 *
 * Time: int64_t nanoseconds (`*_ns`). SIM_T_MAX bounds every scheduled time so that bucket
 * arithmetic in the calendar queue cannot overflow (see cq.h).
 * Errors (R7): programmer errors and broken invariants stop the program through SIM_ASSERT with
 * file:line; environment and user errors are negative `enum sim_err` codes returned upward, and
 * only main() turns them into a message and an exit status.
 * Messages: library code that fails with a user-facing reason writes it into a caller-provided
 * `struct sim_msg` (file:line: what is wrong), never to stderr, so that tests can read it.
 */
#ifndef LENSIM_SIM_H
#define LENSIM_SIM_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef int64_t simtime_t;

#define SIM_NS_PER_S  INT64_C(1000000000)
#define SIM_NS_PER_MS INT64_C(1000000)
/* Latest time any event may carry: about 146 years, far beyond any trace, and small enough that
 * t + bucket width never overflows int64_t. */
#define SIM_T_MAX (INT64_C(1) << 62)

enum sim_err {
    SIM_OK = 0,
    SIM_ENOMEM = -1,     /* allocation failed */
    SIM_EIO = -2,        /* file could not be read or written */
    SIM_ECONFIG = -3,    /* bad experiment, option or profile */
    SIM_ECUDA = -4,      /* CUDA or cuBLAS call failed */
    SIM_ENOSPC = -5,     /* no room (KV memory, queue capacity) */
    SIM_EFIT = -6,       /* model fit failed or degenerate */
    SIM_EINPUT = -7,     /* malformed input data (trace row, JSON, CSV) */
    SIM_ENOENT = -8,     /* no such thing (file, preset, stale event handle) */
    SIM_ENODEV = -9,     /* no GPU or backend not built */
    SIM_EINTR = -10,     /* interrupted by a signal */
    SIM_EINVARIANT = -11 /* a module's invariant check (x_check) found its state broken */
};

/* Human text of an error code. Never NULL. */
const char *sim_strerror(int err);

/* The error for a failed open of an input file, from its errno: SIM_ENOENT when the file does
 * not exist (invalid input, like any name that names nothing), SIM_ENOMEM, else SIM_EIO. Pure. */
int sim_err_of_errno(int errnum);

/* Print "file:line func: cond" to stderr, call the clean-up hook if one is set, and abort.
 * Never returns. */
_Noreturn void sim_abort(const char *file, int line, const char *func, const char *cond);
/* Set the function sim_abort calls before it aborts (NULL: none), e.g. afile's removal of its
 * temporary files. It must be async-signal-safe and must not assert. Cannot fail. */
void sim_abort_cleanup(void (*fn)(void));

/* Always compiled in: invariants are cheap next to the cost of a silently wrong result. */
#define SIM_ASSERT(c) ((c) ? (void)0 : sim_abort(__FILE__, __LINE__, __func__, #c))

/* A user-facing error message, filled by library code and printed by main(). */
struct sim_msg {
    char text[512];
};

/* printf into m->text, then escape it (sim_escape: a message quotes user input, whose bytes must
 * not reach a terminal raw), truncating. Borrows m; NULL m is allowed and ignored. Returns `err`
 * so that callers can write `return sim_msg_set(m, SIM_EINPUT, "%s:%zu: ...", ...)`. */
int sim_msg_set(struct sim_msg *m, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Open `path` to read it as a file. Returns 0 with *f (close with fclose), or with *f NULL and
 * "path: why" in err: SIM_ENOENT (no such file), SIM_EINPUT (a directory, not a file: input as
 * invalid as a missing file, where reading it would fail later as an I/O error), SIM_ENOMEM or
 * SIM_EIO. */
int sim_open_input(const char *path, FILE **f, struct sim_msg *err);

/* Copy s into out (size >= 1 bytes, always NUL-terminated) with every byte below 0x20, 0x7f and
 * every byte from 0x80 written as \xNN, so that text echoed from input can neither move a
 * terminal's cursor nor break its encoding; other bytes (quotes and backslashes too) are kept, so
 * escaping twice changes nothing. Cut with "..." (never inside an escape) when it does not fit.
 * Returns out. Borrows both. */
char *sim_escape(const char *s, char *out, size_t size);

/* Parse s as a decimal integer in [0, max]: one or more digits and nothing else (no sign, no
 * space, no base prefix; strtoul would wrap "-1" to its largest value). Returns 0 with *out, or
 * -1 with *out unchanged (s NULL, empty, not digits, or above max). Pure. */
int sim_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* Logging to stderr with a "lensim: " prefix, escaped as by sim_escape. sim_log_quiet(1)
 * silences info messages. */
void sim_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sim_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sim_log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sim_log_quiet(int quiet);

/* Monotonic wall clock in nanoseconds, for progress bars and benchmarks (never for sim time). */
int64_t sim_wall_ns(void);

#endif
