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

const struct sim_choice batch_rule_choices[] = {
    {"mixed", RULE_MIXED,
     "prefills and decodes in one iteration, decode tokens counted against max_batched_tokens"},
    {"vllm_v0", RULE_VLLM_V0,
     "vLLM v0 as Vidur models it: prefill-only iterations pause the decodes (paged memory)"},
    {"sarathi", RULE_SARATHI,
     "chunked prefill: decodes first, then prefill chunks up to engine.chunk_size tokens"},
    {"vllm_v1", RULE_VLLM_V1,
     "vLLM v1: running requests first, then waiting ones, prefills chunked to the token budget"},
    {NULL, 0, NULL},
};

const struct batch_ops *batch_rule(enum batching b, enum sched_rule rule)
{
    if (b != BATCH_CONTINUOUS)
        return &batch_static_ops;
    switch (rule) {
    case RULE_VLLM_V0: return &batch_vllm_v0_ops;
    case RULE_SARATHI: return &batch_sarathi_ops;
    case RULE_VLLM_V1: return &batch_vllm_v1_ops;
    case RULE_MIXED: break;
    }
    return &batch_continuous_ops;
}
