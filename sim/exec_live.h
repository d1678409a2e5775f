/*
 * exec_live.h: the live executor (issue 11), the second implementation of exec.h: every
 * iteration the replica describes runs for real on a kernel backend (kernels/kern.h): a decoder
 * forward pass of the experiment's model shape with deterministic random weights, over a paged
 * KV cache whose block tables hold, for every sequence, exactly as many blocks as lensim's KV
 * manager gave it (exec_seq.kv_blk), then greedy sampling of one token per sequence that reached
 * the end of its known tokens. Output lengths stay the workload's (no EOS), so a live run and a
 * simulated run do the same work.
 * Sequences are followed by request id. The replica says when one leaves the batch and why
 * (exec_ops.leave): at its replica's next iteration its blocks and slot are freed, and only a
 * sequence preempted by swap has its KV cache copied to host memory first (timed in that
 * iteration, as a real engine's swap-out delays its next step). A sequence the listing leaves
 * out without having left (decoders paused by vllm_v0's prefill iterations) keeps its cache. A
 * sequence listed as a prefill from position 0 is (re)computed from its prompt and the tokens it
 * sampled before; one listed as a decode that holds no slot is a swap-in, copied back from host.
 * Chunked prefills (engine.scheduler sarathi, vllm_v1): a prefill listed from a later position
 * appends its chunk to the sequence's KV cache; exec_seq.prompt_tok says where the prompt ends,
 * so a token is sampled only when the chunk reaching the end of the known tokens completes.
 * Prefix caching (issue 11; engine.prefix_caching, vllm_v1): the block tables are the KV
 * manager's own block ids (exec_seq.blk), so a cached prefix's blocks are shared, computed once by
 * the request that filled them; a sequence whose first chunk starts after its cached prefix
 * starts on them. Prompt tokens under the trace's block hashes follow the hashes, so requests
 * with the same hashes begin with the same tokens and the shared KV is theirs too; after each
 * pass the executor checks, by a chain hash of the tokens each block's KV was computed from,
 * that every cached prefix a sequence started on holds its own tokens' KV (SIM_EINVARIANT
 * otherwise).
 * Clocks: measured (the iteration's time is the wall time of the executor's whole call: batch
 * set-up, kernels, sampling, swap copies), profile (the kernels run but the time charged is the
 * model clock's, so the run is byte-identical to a simulated one: the equivalence test), and
 * realtime (one replica: the simulated clock is the wall clock since live_new returned; an
 * iteration that starts at t waits until the wall clock reads t, so no request is served before
 * its arrival time on the wall clock, and it ends when the wall clock says it ended: the time
 * the engine spent between iterations, predictions included, is charged to the next one, and a
 * request waits in the queue for as long as it really waits. Not deterministic.)
 * Predictions (issue 11): when the experiment charges a prediction cost (predictor.cost_s > 0),
 * every request's length prediction runs the predictor kernel (kern_pred_run) with the shape
 * lensim calibrate times (calib/calib.c time_predictor: 2^18 hashed-feature buckets, width 256,
 * two hidden ReLU layers, 10 classes, 256 features per request) on a backend of its own, one
 * request at a time as cluster.c serves them. measured: the call's wall (or CPU) time is
 * charged; realtime: it waits for the wall clock to reach the prediction's start, as an
 * iteration does; profile: predictor.cost_s is charged (what engine.mode sim charges), the
 * kernel's time only reported.
 * Other ops (recompute_s, swap_s, decode_s: preemption accounting and aging estimates) are the
 * model clock's in every mode.
 * Memory: sequences' sampled tokens are kept for the run (4 bytes per generated token) so that a
 * recomputation feeds the same tokens again.
 * Errors: live_new returns SIM_ECONFIG (shape, or weights + KV + workspace above max_bytes: the
 * message names live.max_bytes), SIM_ENODEV (cuda not built or no GPU), SIM_ENOMEM; iter_ns
 * returns SIM_EINVARIANT when the listing contradicts what the executor saw before (a decode
 * whose context is not the tokens in its cache, blocks fewer than its tokens need), or the
 * backend's error.
 */
#ifndef LENSIM_EXEC_LIVE_H
#define LENSIM_EXEC_LIVE_H

#include <stdint.h>
#include <stdio.h>

#include "choice.h"
#include "cost.h"
#include "exec.h"
#include "kern.h"

enum exec_mode { EXEC_MODE_SIM = 0, EXEC_MODE_LIVE };
enum live_clock { LIVE_CLOCK_MEASURED = 0, LIVE_CLOCK_PROFILE, LIVE_CLOCK_REALTIME };
/* What `measured` measures: wall time, or the calling thread's CPU time (a shared machine's
 * other processes then do not count; meaningful on the CPU backend with one thread only). */
enum live_timer { LIVE_TIMER_WALL = 0, LIVE_TIMER_CPU };
extern const struct sim_choice exec_mode_choices[];  /* engine.mode */
extern const struct sim_choice live_clock_choices[]; /* live.clock */
extern const struct sim_choice live_timer_choices[]; /* live.timer */

struct live_cfg {
    const char     *backend; /* kern_backend_choices name */
    enum live_clock clock;
    enum live_timer timer;
    double          max_bytes; /* device bytes the backend may take; 0 = half of what is free */
    uint32_t        threads;   /* cpu: BLAS threads (0 = 1) */
    uint64_t        seed;      /* weights and prompt token ids */
    uint32_t        replicas, max_batch, max_batched_tokens, max_seq_len, block_tok;
    uint64_t        capacity_tok;  /* one replica's KV pool, tokens */
    int             paged;         /* exec_seq.kv_blk counts blocks (else tokens) */
    int             swap;          /* engine.preemption swap: departing sequences go to host */
    double          pred_cost_s;   /* predictor.cost_s: > 0 runs the predictor kernel (above) */
    int             prefix;        /* issue 11: engine.prefix_caching (exec_seq.blk, .hash) */
    uint32_t        src_block_tok; /* tokens per trace hash (kv_cfg.src_block_tok) */
    FILE           *iters;         /* iterations.csv rows (header included), or NULL */
};

struct live_stats {
    uint64_t iters, prefills, reprefills, swap_out, swap_in;
    double   wall_s;   /* the executor's calls, whole */
    double   cpu_s;    /* the same, the thread's CPU time */
    double   kernel_s; /* kern_run + sync */
    double   copy_s;   /* swap copies */
    double   pred_s;   /* the profile's predictions of the same iterations */
    /* issue 11: length predictions run on the predictor kernel (predictor.cost_s > 0) */
    uint64_t predictions;
    double   predict_s;         /* their calls' measured time (the live.timer's) */
    double   predict_charged_s; /* what the clock charged for them */
    /* issue 11: realtime clock: time slept until an iteration's or prediction's start, and time
     * the wall clock was past it when the call began (charged to the call) */
    double   wait_s, lag_s;
    uint64_t prefix_hit_tok; /* issue 11: tokens sequences started on from cached blocks */
    size_t   device_bytes;
    char     device[128], backend[16];
};

typedef struct live live_t;

/* A live executor for shape m (one device's shard) with the profile c for predictions (both
 * borrowed for its life). Returns 0 and *out, or an error with the reason in err. */
int  live_new(const struct live_cfg *lc, const struct kern_shape *m, const struct cost *c,
              live_t **out, struct sim_msg *err);
void live_free(live_t *lv);
/* Its ops over lv (borrowed). */
struct exec live_exec(live_t *lv);
void        live_get_stats(const live_t *lv, struct live_stats *out);
/* The tokens request id has sampled so far (*tok borrowed until the next iter_ns): returns 1,
 * or 0 when the executor never saw it. */
int live_tokens(const live_t *lv, uint64_t id, const int32_t **tok, uint32_t *n);

/* Greedy sampling's choice among x[0..n-1] (n >= 1): the index of the largest value, the lowest
 * such index on ties. Comparisons with a NaN are false: a NaN after index 0 is never chosen, a
 * NaN at index 0 is kept. O(n). */
size_t live_argmax(const float *x, size_t n);

#endif
