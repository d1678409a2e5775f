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

#endif
