/* analytic.c: roofline profile (see analytic.h). */
#include "analytic.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Fractions of datasheet peaks that tuned serving kernels reach: about 80 % of HBM bandwidth for
 * streaming reads and 70 % of dense tensor FLOP/s for large GEMMs (typical of cuBLAS and
 * FlashAttention on A100/H100). These are estimates; calibration replaces them. */
#define BW_EFF    0.80
#define FLOPS_EFF 0.70
/* Fixed cost per iteration (scheduling, sampling, launches): 0.5 ms plus 10 us per layer. */
#define OVERHEAD_S         0.5e-3
#define OVERHEAD_S_PER_LAY 10e-6
/* Latency of one all-reduce step across GPUs (NVLink), seconds. */
#define ALLREDUCE_ALPHA_S 8e-6

struct cal_allreduce cal_allreduce_cost(const struct cal_model *m, uint32_t tp, double elem_bytes,
                                        double link_bps)
{
    struct cal_allreduce c = {.const_s = 0, .per_tok_s = 0};
    if (tp > 1) {
        double ar_bytes = 2.0 * (tp - 1) / tp * m->hidden * elem_bytes; /* one ring all-reduce */
        c.const_s = 2.0 * m->layers * ALLREDUCE_ALPHA_S;
        c.per_tok_s = 2.0 * m->layers * ar_bytes / link_bps;
    }
    return c;
}

int cal_analytic_profile(const struct cal_model *m, const struct cal_gpu *g, uint32_t tp,
                         double mem_util, struct cal_profile *out, struct sim_msg *err)
{
    if (tp == 0)
        return sim_msg_set(err, SIM_ECONFIG, "tensor-parallel degree must be at least 1");
    if (!(mem_util > 0 && mem_util <= 1))
        return sim_msg_set(err, SIM_ECONFIG, "mem_util %g not in (0, 1]", mem_util);
    double wbytes = cal_model_weight_bytes(m);
    double cap = tp * g->mem_bytes * mem_util - wbytes;
    if (cap <= 0)
        return sim_msg_set(err, SIM_ECONFIG,
                           "%s weights (%.1f GB) do not fit in %u x %s at mem_util %.2f", m->name,
                           wbytes / 1e9, tp, g->name, mem_util);

    double bw = g->hbm_bw * BW_EFF * tp; /* aggregate over the replica's GPUs */
    double flops = g->peak_flops * FLOPS_EFF * tp;
    double kvb = cal_model_kv_bytes_per_token(m);

    double t_weights = wbytes / bw;                    /* memory-bound GEMM time */
    double s_per_tok_gemm = 2.0 * m->n_params / flops; /* compute-bound GEMM time per token */
    double ridge = t_weights / s_per_tok_gemm;         /* tokens where the two meet */

    double               overhead = OVERHEAD_S + OVERHEAD_S_PER_LAY * m->layers;
    double               per_tok = kvb / bw; /* writing each new token's K and V */
    struct cal_allreduce ar = cal_allreduce_cost(m, tp, m->dtype_bytes, g->link_bw);
    per_tok += ar.per_tok_s; /* + 0 at tp 1 */
    overhead += ar.const_s;
    double per_ctx = kvb / bw;                                   /* decode attention reads */
    double per_sq = 2.0 * m->layers * (double)m->hidden / flops; /* causal prefill attention */

    memset(out, 0, sizeof *out);
    snprintf(out->model, sizeof out->model, "%s", m->name);
    snprintf(out->source, sizeof out->source, "analytic");
    snprintf(out->backend, sizeof out->backend, "analytic");
    snprintf(out->device, sizeof out->device, "%s", g->name);
    out->tp = tp;
    out->n_pieces = 2;
    struct cal_piece *lo = &out->piece[0], *hi = &out->piece[1];
    lo->max_tokens = floor(ridge);
    lo->coef[CAL_T_CONST] = overhead + t_weights;
    lo->coef[CAL_T_DECODE_SEQS] = per_tok;
    lo->coef[CAL_T_PREFILL_TOK] = per_tok;
    hi->max_tokens = INFINITY;
    hi->coef[CAL_T_CONST] = overhead;
    hi->coef[CAL_T_DECODE_SEQS] = per_tok + s_per_tok_gemm;
    hi->coef[CAL_T_PREFILL_TOK] = per_tok + s_per_tok_gemm;
    for (int i = 0; i < 2; i++) {
        out->piece[i].coef[CAL_T_DECODE_CTX] = per_ctx;
        out->piece[i].coef[CAL_T_PREFILL_SQ] = per_sq;
    }
    out->kv_bytes_per_token = kvb;
    out->kv_capacity_bytes = cap;
    out->weight_bytes = wbytes;
    return SIM_OK;
}
