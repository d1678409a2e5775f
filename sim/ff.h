/*
 * ff.h: exact fast-forward of a replica (issue 13, item 5; engine.fast_forward).
 *
 * When the iterations a replica is about to run cannot change its batch (no request reaches
 * its last token or its memory limit, nothing is admitted, no prefill, chunk, swap or
 * preemption, no other event of the run in between), the replica runs them without their
 * events: at the boundary that starts the first, it times each one with the executor in turn
 * and records it (met_iter, met_sample) with the very arguments, and in the very order, the
 * step-by-step boundaries would have used, and schedules one event, at the end of the last.
 * Outputs are byte-identical; only the event queue's traffic and the per-boundary bookkeeping
 * are saved, and the skipped events are still counted (serve_stats.events). What pays: long
 * decode runs between memory events, i.e. reservations (max, predicted, oracle) and static
 * batches; paged memory has a block boundary every block_size tokens per request, so a batch
 * of B decoders rarely goes B / block_size iterations without one. Among several busy replicas
 * another one's boundary nearly always comes first: a replica then backs off (ff.c).
 *
 * Proof obligations (sim/ff.c states each where it is checked):
 *   - the executor is the model clock (exec_is_model: a pure function of the batch; never live
 *     mode), and no invariant
 *     check runs after every event (engine.check, or a checking build);
 *   - only from the replica's own iteration event, whose handler does nothing else (a wake-up
 *     from an arrival may be followed by other replicas' wake-ups in the same handler);
 *   - every skipped boundary is earlier than every event pending in the engine (eng_horizon),
 *     so no other replica's records, and no arrival, come between;
 *   - the boundaries skipped are before the first one at which a running request has an event
 *     (the keyed heap's top: last token, or the memory its blocks or reservation cover);
 *   - the iteration running has no prefill, chunk or swap-in (n_pf == 0), does not pause the
 *     decoders and follows none that did; no chunked prefill waits, no decoder waits for a
 *     block;
 *   - the rule's admission at such a boundary admits nothing and changes nothing: the waiting
 *     queue is empty, or the rule at the boundary just passed offered it, in the very state the
 *     skipped boundaries would offer it in, and admitted nothing (see ff.c, queue_inert).
 */
#ifndef LENSIM_FF_H
#define LENSIM_FF_H

#include <stdint.h>

#include "choice.h"
#include "sim.h"

enum ff_mode { FF_AUTO = 0, FF_OFF };

/* The schema's engine.fast_forward, values enum ff_mode. */
extern const struct sim_choice ff_mode_choices[];

struct replica;

/* The longest back-off, in boundaries not tried after a jump stopped by the next event (ff.c):
 * 255. Tests set 0 (every boundary tried) to compare the most jumps; outputs never depend on
 * it. */
extern uint32_t ff_backoff_max;

/* Whether the replica may fast-forward at all (engine.fast_forward auto, a pure executor, no
 * invariant checks). Set once at set-up. */
int replica__ff_allowed(const struct replica *p);

/* Called by the replica at the boundary of its own iteration event, once iteration p->iter has
 * been timed to end at `end` and its sample taken: runs the iterations after it that provably
 * change nothing (see above) and returns the end of the last one, where the replica schedules
 * its event (`end` when it skips none). */
simtime_t replica__ff(struct replica *p, simtime_t end);

/* Iterations whose boundary event a replica skipped, and the jumps that skipped them. */
uint64_t replica_ff_iters(const struct replica *p);
uint64_t replica_ff_jumps(const struct replica *p);

#endif
