/*
 * exec.h: the executor of a replica, behind an ops table: how long one iteration of a described
 * batch takes, and what preemptions cost (recomputing a sequence's prefill, moving its KV cache
 * over the host link). The model clock (exec_model.c: the perf profile of cost.h) is the first
 * implementation; a live executor, which runs the batch on kernels and reports the time it took,
 * is the second.
 * The batch: the replica keeps aggregates, not a list, so that an iteration costs O(1) and not
 * O(batch) (req.h); the model clock needs only those. An executor that needs the sequences
 * themselves asks the batch to list them (exec_batch_list), which walks the replica's running
 * set in O(batch); the model clock never asks, so it pays nothing for the listing.
 * Ownership: an executor borrows the batch for the duration of one call; the listing is valid
 * only inside it. Errors: iter_ns returns a negative code with the reason when it cannot give a
 * time (the model clock: a latency that is not positive, or not a time the simulated clock can
 * hold); the other ops return seconds and cannot fail.
 */
#ifndef LENSIM_EXEC_H
#define LENSIM_EXEC_H

#include <stdint.h>

#include "cost.h"
#include "profile.h"
#include "sim.h"

enum exec_seq_kind {
    EXEC_SEQ_PREFILL = 0, /* computes new_tok tokens (its prompt and any tokens kept) */
    EXEC_SEQ_DECODE       /* computes one token over ctx_tok of context (a swap-in too) */
};

/* One sequence of the iteration. */
struct exec_seq {
    uint64_t           id; /* the request's id */
    enum exec_seq_kind kind;
    uint32_t           ctx_tok; /* context as the profile counts it: decode, the tokens its
                                   attention covers; prefill, the tokens it writes */
    uint32_t           new_tok; /* tokens computed in this iteration (1 for a decode) */
    uint32_t           kv_blk;  /* KV units it holds: blocks (paged) or tokens (reservations) */
    uint32_t prompt_tok; /* the request's prompt length: where a prefill's prompt ends and its
                            sampled tokens begin, so that an executor that runs a chunked
                            prefill knows which chunk is the last (issue 11) */
    /* issue 11, prefix caching (engine.prefix_caching; NULL and 0 otherwise): the KV manager's
     * blocks of this sequence in position order (kv_blk of them, ids of its replica's pool; a
     * cached prefix's blocks are the ones the requests with the same hashes hold), and the
     * request's trace block hashes (one per 512 tokens: kv_cfg.src_block_tok), which say which
     * prompts begin with the same tokens. Valid during the listing only. */
    const uint32_t *blk;
    const int64_t  *hash;
    uint32_t        n_hash;
};

/* Why a sequence leaves its replica's batch (exec_ops.leave). */
enum exec_leave {
    EXEC_LEAVE_FINISHED = 0, /* it made its last token */
    EXEC_LEAVE_RECOMPUTE,    /* preempted: its KV cache dropped, recomputed by a later prefill */
    EXEC_LEAVE_SWAP          /* preempted: its KV cache moved to host memory, back at swap-in */
};

/* Called once per sequence by exec_batch_list. */
typedef void (*exec_seq_fn)(void *ctx, const struct exec_seq *s);

/* One iteration, as the replica describes it. */
struct exec_batch {
    struct cal_batch agg;     /* decode seqs, summed decode context, prefill tokens and squares */
    double           extra_s; /* other work charged to this iteration (swap-ins), seconds */
    uint32_t         n_seqs;  /* sequences exec_batch_list visits */
    /* The replica's side of the listing (exec_batch_list calls it). */
    void (*list)(const void *owner, exec_seq_fn fn, void *ctx);
    const void *owner;
    simtime_t   now; /* issue 11: when the iteration starts on the simulated clock (the live
                        executor's realtime clock waits for the wall clock to reach it) */
};

/* Visit every sequence of the batch, in an unspecified order. O(batch). */
static inline void exec_batch_list(const struct exec_batch *b, exec_seq_fn fn, void *ctx)
{
    b->list(b->owner, fn, ctx);
}

struct exec_ops {
    const char *name;
    /* Time of one iteration of b into *ns: whole nanoseconds in [1, SIM_T_MAX] (a positive time
     * below 1 ns counts as 1, the clock's resolution). Returns 0, or a negative enum sim_err
     * with the reason in why (*ns unchanged): the model clock's SIM_ECONFIG for a time that is
     * not positive, not a number, or past SIM_T_MAX. */
    int (*iter_ns)(void *self, const struct exec_batch *b, simtime_t *ns, struct sim_msg *why);
    /* Seconds of prefill work that recomputing tok tokens of a preempted sequence repeats. */
    double (*recompute_s)(void *self, double tok);
    /* Seconds to move tok tokens of KV cache over the host link, one way. */
    double (*swap_s)(void *self, double tok);
    /* Seconds one sequence alone takes per token at context ctx_tok (service estimates). */
    double (*decode_s)(void *self, double ctx_tok);
    /* Request id left its replica's batch for the reason why, at an iteration boundary (the
     * replica calls it where the sequence leaves: finished, or preempted). A sequence missing
     * from a listing without it has not left (e.g. decoders paused by a prefill iteration).
     * Cannot fail: an executor that must act on it (copy a swapped cache) does so in its next
     * iteration, where the time is charged. NULL or a no-op when an executor keeps no state
     * per sequence (the model clock). */
    void (*leave)(void *self, uint64_t id, enum exec_leave why);
    /* issue 11: time of the length prediction of request id (a prompt of prompt_tok tokens),
     * which starts at now on the simulated clock, into *ns (>= 1), when the experiment charges
     * one (predictor.cost_s > 0). NULL: predictor.cost_s is charged (the model clock). Returns 0
     * or a negative enum sim_err with the reason in why. */
    int (*predict_ns)(void *self, uint64_t id, uint32_t prompt_tok, simtime_t now, simtime_t *ns,
                      struct sim_msg *why);
};

/* An executor: its ops and their state (borrowed). */
struct exec {
    const struct exec_ops *ops;
    void                  *self;
};

/* The model clock over c (borrowed for the executor's life). Cannot fail. */
struct exec exec_model(const struct cost *c);

/* Issue 13 (a replica's fast-forward, sim/ff.h): whether e is the model clock, whose iter_ns is
 * a pure function of the batch (aggregates, extra_s, n_seqs; the listing only when
 * agg.prefill_kv > 0), so that a replica may time iterations ahead of the simulated clock and
 * skip their events. Any other executor (live mode, a test's stub) never fast-forwards. */
int exec_is_model(const struct exec *e);

#endif
