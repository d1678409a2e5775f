/*
 * req.h: one request's record as it moves through a replica:
 *     arrive -> QUEUED -> (admitted) RUNNING: prefill, then decode -> DONE
 * with RUNNING -> QUEUED again on preemption, and FAILED for requests that can never run
 * (prompt alone longer than the maximum sequence length).
 *
 * Progress is kept lazily so that an iteration costs O(1), not O(batch): while a request decodes,
 * its context length at iteration j is ctx_base + j, and the iteration at which it next needs
 * attention (its last token, its reservation running out, its next KV block) is precomputed in
 * next_iter. Times are nanoseconds; token counts are tokens.
 * Plain data: the replica, the policy and the KV manager own the fields their comments name.
 */
#ifndef LENSIM_REQ_H
#define LENSIM_REQ_H

#include <stddef.h>
#include <stdint.h>

#include "sim.h"

enum req_state { REQ_STATE_QUEUED, REQ_STATE_RUNNING, REQ_STATE_DONE, REQ_STATE_FAILED };

struct req {
    /* From the workload. */
    uint64_t  id;
    simtime_t arrival_ns;
    uint32_t  prompt_tok;
    uint32_t  output_tok; /* true output length, after the sequence-length cap */
    uint32_t  asked_tok;  /* output length asked for when that cap cut it; 0 = not cut */

    enum req_state state;
    uint32_t       replica;

    /* Prediction (pred.h). */
    uint32_t pred_tok;    /* predicted output tokens */
    int32_t  pred_bucket; /* predicted bucket, -1 when the predictor has none */

    /* Progress (replica). */
    uint32_t generated; /* tokens generated and kept before the current run */
    uint64_t run_iter;  /* iteration of the current run's prefill */
    int64_t  ctx_base;  /* decode context at iteration j is ctx_base + j */
    uint64_t next_iter; /* iteration after which the replica must look at it again */
    uint32_t run_pos;   /* index in the replica's running array */
    size_t   heap_pos;  /* index in the replica's iteration heap (ih.h) */
    int      decoding;  /* 1 once its prefill is done in the current run */
    int      swapped;   /* its KV cache waits in host memory (swap preemption) */
    int      held;      /* dynamic batching: done, but its slot is held until the batch ends */
    int      in_heap;   /* inside the replica's iteration heap */
    /* Chunked prefill and deferred block growth (issue 10's rules, batch_*.c). */
    uint32_t pf_done;  /* prefill tokens computed in the current run, before this iteration */
    uint32_t chunk;    /* prefill tokens it computes in the current iteration */
    int      partial;  /* admitted, its prefill not yet complete (the replica's part list) */
    int      need_blk; /* decoding, waits for a KV block at the next decode step */
    uint64_t adm_seq;  /* order of admission (vllm_v1's running list) */
    /* Prefix caching (kv.h, issue 10): the trace's block hashes, and the blocks it holds. */
    uint64_t  hash_off; /* its Mooncake hash_ids: kv's hash vector [hash_off, + n_hash) */
    uint32_t  n_hash;
    uint32_t *blk; /* the pool's blocks it holds, in order (r->blocks of them) */
    size_t    cap_blk;

    /* Memory (kv.h). */
    uint32_t resv_tok;   /* tokens reserved for it (prompt + output budget) */
    uint32_t out_budget; /* output tokens its next reservation covers (predicted policy) */
    uint32_t need_units; /* KV units it needs to be admitted now (set when queued) */
    uint32_t blocks;     /* blocks held (paged) */

    /* Waiting queue (sched.h). */
    struct req *q_prev, *q_next; /* arrival-order list of waiting requests */
    struct req *p_prev, *p_next; /* the policy's own lists (s3 size classes) */
    size_t      pq_pos;          /* index in the policy's heap (ih.h) */
    double      key;             /* the policy's ordering key */
    uint64_t    enq_seq;         /* tie-breaker: order of entry into the queue */
    simtime_t   enq_ns;          /* when it last entered the waiting queue */

    /* Metrics. */
    simtime_t sched_ns; /* first admission: queueing delay = sched_ns - arrival_ns */
    simtime_t first_token_ns;
    simtime_t last_token_ns;
    simtime_t finish_ns;
    uint32_t  n_preempt;    /* times preempted (memory pressure or misprediction) */
    uint32_t  n_mispredict; /* times it outgrew its reservation */
    uint64_t  wasted_tok;   /* tokens recomputed or moved because of preemptions */
};

static inline uint32_t req_remaining(const struct req *r) { return r->output_tok - r->generated; }

#endif
