/* batch.c: the batching modes' names (the schema's engine.batching) and their rules (batch.h). */
#include "batch.h"

const struct sim_choice batch_choices[] = {
    {"continuous", BATCH_CONTINUOUS,
     "iteration-level: requests join and leave at every iteration (ORCA, vLLM)"},
    {"dynamic", BATCH_DYNAMIC,
     "static batches: formed when the engine is idle, run until the longest finishes"},
    {"none", BATCH_NONE, "one request at a time"},
    {NULL, 0, NULL},
};

const struct batch_ops *batch_rule(enum batching b)
{
    return b == BATCH_CONTINUOUS ? &batch_continuous_ops : &batch_static_ops;
}
