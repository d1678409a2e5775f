/*
 * analytic.h: a perf profile for a model on a GPU not at hand, from per-kernel cost curves
 * whose efficiencies were fitted to measured A100 kernels (issue 10, item 3).
 *
 * One GPU of the tensor-parallel group runs its shard of every layer (Megatron-LM split: heads,
 * KV heads and the MLP width divided by tp). Per layer and iteration of n tokens:
 *  - four weight GEMMs (QKV, attention output, gate+up, down), each
 *        tau_g + softmax_k(N K e / (B eta_b),  2 N K (n + m0) / (F eta_f))
 *    where softmax_k(a, b) = (a^k + b^k)^(1/k) (k -> inf is the roofline's max; a finite k
 *    rounds its knee, where neither weight traffic nor tensor cores are saturated): the
 *    roofline of a GEMM whose compute efficiency saturates with its token count:
 *    eta_f(n) = eta_f n / (n + m0) (tile padding and partial waves cost as if m0 more tokens);
 *  - elementwise kernels (two RMSNorms, RoPE, SwiGLU, residual add): tau_e + n x bytes per token
 *    / (B eta_kind), one bandwidth efficiency per kind;
 *  - two all-reduces of the n x hidden activations (tp > 1): the soft maximum (k = knee) of a
 *    latency alpha and ring bytes / (link eta_ar), plus the host's NCCL launch;
 *  - decode attention: tau_d + (context tokens read) x KV bytes / (B eta_d), x (1 + ragged) when
 *    more than one sequence decodes;
 *  - prefill attention: tau_p + 2 head_dim heads (c^2 + c0 c) / (F eta_p) summed over prompts
 *    (causal FLOPs, efficiency saturating with the prompt length c);
 *  - once per iteration the LM head reads its weights (memory-bound for the batch sizes served).
 * B, F, link: the GPU preset's datasheet bandwidth, dense FLOP/s and NVLink bandwidth. The
 * efficiencies (struct cal_eff) are GPU-independent by assumption; calib/PROFILE.md says what
 * carrying the A100 fit to H100/H200 costs. The fitted constants and their source are in
 * analytic.c; calib/effit_main.c refits them.
 *
 * cal_analytic_iter_s gives these curves' time for a batch; cal_analytic_profile turns them
 * into the piecewise-linear profile form (profile.h): the weight-GEMM rooflines are convex
 * piecewise linear in n, the pieces break at their ridge points (merged to CAL_MAX_PIECES).
 * KV capacity = tp x memory x mem_util - weights (vLLM's gpu_memory_utilization).
 */
#ifndef LENSIM_ANALYTIC_H
#define LENSIM_ANALYTIC_H

#include "presets.h"
#include "profile.h"

/* Efficiencies (fractions of datasheet peaks) and floors (seconds) of the kernel curves. */
struct cal_eff {
    double gemm_tau_s;  /* launch floor of one GEMM */
    double gemm_bw_eff; /* weight streaming: fraction of HBM bandwidth */
    double gemm_fl_eff; /* asymptotic fraction of dense FLOP/s */
    double gemm_m0;     /* tokens: compute efficiency is half its asymptote at n = m0 */
    double gemm_knee;   /* k of the soft roofline (mem^k + compute^k)^(1/k): +inf is max() */
    double elt_tau_s;   /* launch floor of one elementwise kernel */
    double norm_bw_eff; /* RMSNorm: reads and writes hidden values per token */
    double rope_bw_eff; /* rotary embedding of q and k */
    double act_bw_eff;  /* SwiGLU: reads 2 ffn, writes ffn values per token */
    double add_bw_eff;  /* residual add: reads 2, writes 1 hidden values per token */
    double ar_alpha_s;  /* all-reduce latency (GPU side) */
    double ar_bw_eff;   /* fraction of the one-way NVLink bandwidth the ring reaches */
    double ar_knee;     /* k of the soft max of latency and transfer time */
    double dec_tau_s;   /* decode attention floor */
    double dec_bw_eff;  /* decode attention: fraction of HBM bandwidth reading the KV cache */
    double pre_tau_s;   /* prefill attention floor */
    double pre_fl_eff;  /* prefill attention: asymptotic fraction of dense FLOP/s */
    double pre_c0;      /* tokens: prefill attention efficiency is half its asymptote at c0 */
};

/* The fits to Vidur's A100 and H100 profiles (analytic.c names the files and their checksums),
 * and the one a GPU preset uses: cal_eff_h100 for the h100 and h200 presets (Hopper: H200 is an
 * H100 with HBM3e, its datasheet bandwidth carries the difference), cal_eff_a100 otherwise. */
extern const struct cal_eff cal_eff_a100, cal_eff_h100;
const struct cal_eff       *cal_eff_for(const struct cal_gpu *g);

/* Host-side launch of one NCCL call (seconds) that a GPU-side timing does not see; and the
 * extra cost of a ragged batch over a profiled uniform one (fraction), both Vidur's defaults. */
#define CAL_NCCL_LAUNCH_S 20e-6
#define CAL_RAGGED_FRAC   0.1

/* Kernel curves (seconds on one GPU). Pure. e: bytes per element. */
double cal_gemm_s(const struct cal_eff *f, const struct cal_gpu *g, double n_tok, double n,
                  double k, double e);
/* An elementwise kernel moving bytes_per_tok per token at bandwidth efficiency eff. */
double cal_elt_s(const struct cal_eff *f, const struct cal_gpu *g, double n_tok,
                 double bytes_per_tok, double eff);
/* One all-reduce of bytes on tp GPUs (0 at tp 1), without the host launch. */
double cal_allreduce_s(const struct cal_eff *f, const struct cal_gpu *g, uint32_t tp, double bytes);
/* Decode attention of one layer reading ctx_tok tokens of context at kv_bytes each (one GPU's
 * share of one layer), uniform batch (no ragged surcharge); 0 when ctx_tok is 0. */
double cal_dec_attn_s(const struct cal_eff *f, const struct cal_gpu *g, double ctx_tok,
                      double kv_bytes);
/* Causal prefill attention of one layer: sum_sq = sum of prompt lengths squared, sum_c their
 * sum, heads x head_dim of one GPU; 0 when sum_c is 0. */
double cal_pre_attn_s(const struct cal_eff *f, const struct cal_gpu *g, double sum_sq, double sum_c,
                      double heads, double head_dim);

/* Counts of one layer on one GPU of a tp group (hand-checkable, tests compare them). */
struct cal_layer_shape {
    double gemm_n[4], gemm_k[4]; /* QKV, attention output, gate+up, down */
    double flops_per_tok;        /* 2 x sum of N K: weight-GEMM FLOPs per token */
    double weight_bytes;         /* the four GEMMs' weights */
    double kv_bytes_per_tok;     /* K and V of one token */
    double heads;                /* query heads on this GPU */
};
void cal_layer_shape(const struct cal_model *m, uint32_t tp, struct cal_layer_shape *out);

/* The curves' time of one iteration of batch b (seconds), for n_dec decodes (b->decode_seqs),
 * their context and prompts b->prefill_tok long in total with squares b->prefill_sq. Pure. */
double cal_analytic_iter_s(const struct cal_model *m, const struct cal_gpu *g, uint32_t tp,
                           const struct cal_eff *f, const struct cal_batch *b);

/* Fill *out with the piecewise form of the curves under cal_eff_for(g). Returns 0, or
 * SIM_ECONFIG with the reason in err when tp is 0, mem_util is not in (0, 1], or the weights
 * do not fit in the memory. */
int cal_analytic_profile(const struct cal_model *m, const struct cal_gpu *g, uint32_t tp,
                         double mem_util, struct cal_profile *out, struct sim_msg *err);
/* As cal_analytic_profile with the efficiencies f. */
int cal_analytic_profile_eff(const struct cal_model *m, const struct cal_gpu *g, uint32_t tp,
                             const struct cal_eff *f, double mem_util, struct cal_profile *out,
                             struct sim_msg *err);

/* Tensor parallelism's cost per iteration on tp GPUs: two all-reduces per layer of the
 * n_tok x hidden activations, elem_bytes each (Megatron-LM), over a link of link_bps bytes/s one
 * way, with cal_eff_a100's latency and efficiency and the host launch. const_s is the
 * per-iteration part, per_tok_s the transfer per token of the batch. Both are 0 for tp 1. Pure. */
struct cal_allreduce {
    double const_s;   /* seconds per iteration */
    double per_tok_s; /* seconds per token (decode sequence or prompt token) */
};
struct cal_allreduce cal_allreduce_cost(const struct cal_model *m, uint32_t tp, double elem_bytes,
                                        double link_bps);

#endif
