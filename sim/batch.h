/*
 * batch.h: batching rules of a replica, as ops tables, one rule per file:
 *   continuous (batch_continuous.c)  requests join and leave at every iteration (ORCA);
 *   static     (batch_static.c)      a batch forms when the engine is idle and runs until its
 *                                     longest member finishes, memory held (dynamic batching;
 *                                     `none` is a static batch of one).
 * A new rule (vLLM v0's prefill-first iterations, chunked prefill) is a new file and a new row
 * in batch_rule(), not a branch in the replica.
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
};

extern const struct batch_ops batch_continuous_ops, batch_static_ops;

/* The modes' names and help, values enum batching (serve.h; the schema's engine.batching). */
extern const struct sim_choice batch_choices[];

/* The rule for a configured batching mode. Never NULL. */
const struct batch_ops *batch_rule(enum batching b);

#endif
