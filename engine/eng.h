/*
 * eng.h: the discrete-event loop: clock, handler table, event pool, cancellation, RNG streams.
 *
 * Same time: events scheduled at now() run after the current handler returns, in scheduling
 * order; ties are always first-in first-out, whichever queue (calendar or heap) is used.
 * Handlers: one per event type (a small integer chosen by the layer above), registered with
 * eng_on. A handler may schedule and cancel events and may stop the run with an error code.
 * Events: taken from a pool (no malloc per event in steady state) and returned to it after their
 * handler runs or when cancelled; handles detect staleness, so cancelling an event that already
 * fired is a reported no-op rather than a use-after-free.
 * Hash: every dispatched event folds (t, type, arg) into a running hash, so that determinism
 * tests can compare whole runs cheaply.
 */
#ifndef LENSIM_ENG_H
#define LENSIM_ENG_H

#include <stddef.h>
#include <stdint.h>

#include "ev.h"
#include "evq.h"
#include "rng.h"
#include "sim.h"

typedef struct eng eng_t;

enum { ENG_MAX_TYPES = 32, ENG_MAX_STREAMS = 16 };

typedef void (*eng_handler_fn)(eng_t *eng, struct ev *e, void *ctx);

struct eng_opts {
    enum evq_kind queue; /* EVQ_CALENDAR (default) or EVQ_HEAP */
    uint64_t      seed;  /* experiment seed for the RNG streams */
};

/* A reference to a scheduled event, valid until it fires or is cancelled. */
struct ev_handle {
    struct ev *e;
    uint64_t   seq;
};

/* Returns an owned engine at time 0 (free with eng_free), or NULL when out of memory. */
eng_t *eng_new(const struct eng_opts *opts);
/* Frees the engine, its pending events and its RNG streams. NULL is a no-op. */
void eng_free(eng_t *eng);

/* Register fn (with ctx, borrowed) for events of `type` < ENG_MAX_TYPES. Replaces any earlier. */
void eng_on(eng_t *eng, uint32_t type, eng_handler_fn fn, void *ctx);

/* Schedule an event at t >= now (asserted). h may be NULL. Returns 0 or SIM_ENOMEM. */
int eng_schedule_at(eng_t *eng, simtime_t t, uint32_t type, void *data, uint64_t arg,
                    struct ev_handle *h);
/* Cancel a pending event. Returns 0, or SIM_ENOENT when it already fired or was cancelled. */
int eng_cancel(eng_t *eng, struct ev_handle h);

/* Dispatch events in key order until none is left, the next one is later than t_end, or a
 * handler calls eng_stop. Returns 0 or the code passed to eng_stop. The clock stays at the last
 * dispatched event's time. */
int eng_run(eng_t *eng, simtime_t t_end);
/* Ask eng_run to return `status` after the current handler. */
void eng_stop(eng_t *eng, int status);
/* Whether a handler has called eng_stop during this eng_run (the run is ending). */
int eng_stopping(const eng_t *eng);

simtime_t eng_now(const eng_t *eng);
size_t    eng_pending(const eng_t *eng);
uint64_t  eng_dispatched(const eng_t *eng);
uint64_t  eng_hash(const eng_t *eng);
/* Issue 13 (a replica's fast-forward): the earliest time at which eng_run could dispatch an
 * event that is pending now: the next pending event's time, or just past the running eng_run's
 * t_end when none is pending or the next is later (SIM_T_MAX at most); now when a handler asked
 * the run to stop. A handler that sees horizon > t knows that nothing scheduled before it runs
 * before t. O(1). */
simtime_t eng_horizon(const eng_t *eng);
/* The RNG stream `stream` (< ENG_MAX_STREAMS), created on first use from the seed; NULL only
 * when out of memory. Borrowed: the engine frees it. */
rng_t *eng_rng(eng_t *eng, uint32_t stream);

#endif
