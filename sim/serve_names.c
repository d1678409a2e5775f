/* serve_names.c: the serving model's choice sets (serve.h), each value with its one-line help. */
#include "serve.h"

const struct sim_choice serve_batching_choices[] = {
    {"continuous", BATCH_CONTINUOUS,
     "iteration-level: requests join and leave at every iteration (ORCA, vLLM)"},
    {"dynamic", BATCH_DYNAMIC,
     "static batches: formed when the engine is idle, run until the longest finishes"},
    {"none", BATCH_NONE, "one request at a time"},
    {NULL, 0, NULL},
};

const struct sim_choice serve_preempt_choices[] = {
    {"recompute", PREEMPT_RECOMPUTE, "drop the KV cache and recompute the tokens on readmission"},
    {"swap", PREEMPT_SWAP, "copy the KV cache to host memory and back over the host link"},
    {NULL, 0, NULL},
};

const struct sim_choice serve_overflow_choices[] = {
    {"next_bucket", OVERFLOW_NEXT_BUCKET, "reserve up to the next bucket's upper edge (S3)"},
    {"max", OVERFLOW_MAX, "reserve up to max_seq_len"},
    {NULL, 0, NULL},
};

const struct sim_choice serve_router_choices[] = {
    {"round_robin", ROUTER_ROUND_ROBIN, "replicas in turn"},
    {"least_outstanding", ROUTER_LEAST_OUTSTANDING,
     "the replica with the fewest waiting plus running requests (lowest index on ties)"},
    {"random", ROUTER_RANDOM, "a uniformly random replica (seeded)"},
    {NULL, 0, NULL},
};
