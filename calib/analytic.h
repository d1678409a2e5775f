/*
 * analytic.h: a roofline perf profile for a model on a GPU not at hand (no measurement).
 *
 * Per iteration on tp GPUs: the weight GEMMs take max(weight bytes / bandwidth,
 * 2 x params x tokens / peak FLOP/s), which is the two-piece linear form of profile.h with the
 * break at the ridge point; decode attention reads the KV cache (bytes / bandwidth per context
 * token); prefill attention costs 2 x layers x hidden FLOPs per squared prompt token (causal);
 * tensor parallelism adds two ring all-reduces per layer. Achievable fractions of the datasheet
 * bandwidth and FLOP/s, and a fixed launch overhead, are named constants in analytic.c.
 * KV capacity = tp x memory x mem_util - weights (vLLM's gpu_memory_utilization: the rest is
 * left to activations and workspace).
 */
#ifndef LENSIM_ANALYTIC_H
#define LENSIM_ANALYTIC_H

#include "presets.h"
#include "profile.h"

/* Fill *out. Returns 0, or SIM_ECONFIG with the reason in err when tp is 0, mem_util is not in
 * (0, 1], or the weights do not fit in the memory. */
int cal_analytic_profile(const struct cal_model *m, const struct cal_gpu *g, uint32_t tp,
                         double mem_util, struct cal_profile *out, struct sim_msg *err);

/* Tensor parallelism's cost per iteration on tp GPUs: two ring all-reduces per layer of the
 * n_tok x hidden activations, elem_bytes each (Megatron-LM), over a link of link_bps bytes/s one
 * way. const_s is the steps' latency per iteration, per_tok_s the transfer per token of the
 * batch. Both are 0 for tp 1. Pure. */
struct cal_allreduce {
    double const_s;   /* seconds per iteration */
    double per_tok_s; /* seconds per token (decode sequence or prompt token) */
};
struct cal_allreduce cal_allreduce_cost(const struct cal_model *m, uint32_t tp, double elem_bytes,
                                        double link_bps);

#endif
