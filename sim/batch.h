/*
 * batch.h: batching rules of a replica, as ops tables, one rule per file:
 *   continuous (batch_continuous.c)  requests join and leave at every iteration (ORCA);
 *   static     (batch_static.c)      a batch forms when the engine is idle and runs until its
 *                                     longest member finishes, memory held (dynamic batching;
 *                                     `none` is a static batch of one).
 * Issue 10's scheduling rules (engine.scheduler, continuous batching only):
 *   vllm_v0 (batch_vidur.c)  an iteration admits prefills with the decodes paused, or runs the
 *                             decodes (Vidur's vllm replica scheduler);
 *   sarathi (batch_vidur.c)  decodes first, then prefill chunks fill engine.chunk_size tokens
 *                             (Vidur's sarathi replica scheduler; Sarathi-Serve, OSDI '24);
 *   vllm_v1 (batch_v1.c)     vLLM v1: running requests first, then waiting ones, chunked
 *                             prefills within engine.max_batched_tokens;
 * mixed is the continuous rule above. A new rule is a new file and a new row in batch_rule(),
 * not a branch in the replica.
 * The rules work on the replica's internals (replica_internal.h).
 */
#ifndef LENSIM_BATCH_H
#define LENSIM_BATCH_H

#include "serve.h"

struct replica;

struct batch_ops {
    const char *name;
    /* At an iteration boundary with requests waiting: let in those the rule allows now. */
    void (*admit)(struct replica *p, simtime_t now);
    /* r produced its last token. */
    void (*done)(struct replica *p, struct req *r, simtime_t now);
    /* A member was preempted out of the batch. */
    void (*left)(struct replica *p, simtime_t now); /* optional */
    /* Issue 10's rules: at every iteration boundary (queue empty or not), compose the next
     * iteration: admit, schedule chunks (replica__chunk), pause the decoders (p->pause),
     * settle deferred block growth. Replaces admit when set. */
    void (*step)(struct replica *p, simtime_t now); /* optional */
    /* 1: a decoder that reaches its KV limit waits on the replica's need list for the rule's
     * step instead of growing (or preempting) at once. */
    int defer_growth;
};

extern const struct batch_ops batch_continuous_ops, batch_static_ops;
extern const struct batch_ops batch_vllm_v0_ops, batch_sarathi_ops; /* issue 10 */
extern const struct batch_ops batch_vllm_v1_ops;                    /* issue 10 */

/* Issue 10: the rules' names and help, values enum sched_rule (the schema's engine.scheduler). */
extern const struct sim_choice batch_rule_choices[];

/* The modes' names and help, values enum batching (serve.h; the schema's engine.batching). */
extern const struct sim_choice batch_choices[];

/* The rule for a configured batching mode and scheduling rule. Never NULL. */
const struct batch_ops *batch_rule(enum batching b, enum sched_rule rule);

#endif
