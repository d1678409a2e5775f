/* analytic.c: kernel cost curves and the profile built from them (see analytic.h). */
#include "analytic.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The efficiency curves fitted to Vidur's measured A100 kernel timings (median columns), with
 * the a100-80gb preset's datasheet peaks (2,039 GB/s, 312 TFLOP/s, NVLink 300 GB/s one way):
 *
 *   build/calib/effit fit ../shared/data/vidur      (calib/effit_main.c; gsl_multifit_nlinear,
 *                                                    relative residuals, log parameters)
 *
 * over these files of ../shared/data/vidur/profiling (microsoft/vidur at 7d47513, the
 * attention table at acb95f6; ../shared/data/vidur/README.md), sha256:
 *   compute/a100/codellama/CodeLlama-34b-Instruct-hf/mlp.csv  9ba6058c55b7c291ccdf9cd445655de9
 *                                                             3d3a3dfc0fdd8b08f654170413906dce
 *   compute/a100/meta-llama/Llama-2-7b-hf/mlp.csv             2cfacca979f32e83257753cf6fd815a7
 *                                                             1af8ba9a7a9d0643b18d9f54e8a37688
 *   compute/a100/meta-llama/Llama-2-70b-hf/mlp.csv            d690ce601f94ab80586e1d5a6a92ea0d
 *                                                             64114dc3e0895bf32b3bee270f3d9b7f
 *   compute/a100/meta-llama/Meta-Llama-3-8B/mlp.csv           98c26488298e324e89db7349e213f75c
 *                                                             856ae83dc6b17548a68636d2cb5efff0
 *   compute/a100/meta-llama/Meta-Llama-3-70B/mlp.csv          6929c6f4afae67f7d91a7938ebdb350a
 *                                                             47923b077a1b1c2a4e1911f5ec9e601f
 *   compute/a100/internlm/internlm-20b/mlp.csv                efdad580da6ecb50e3716543439a31fc
 *                                                             71484de365e0f8cfe9430c5e4d5487c3
 *   compute/a100/Qwen/Qwen-72B/mlp.csv                        81a4a7b16a99e256f1f47cc25c3d098e
 *                                                             cf4ff7ab2260e921759dd7c06e93cce9
 *   compute/a100/microsoft/phi-2/mlp.csv                      98a16c552786c8dd3d935d1d8c06434d
 *                                                             0ae7c628b9c23ac26fbde551b272bde6
 *   compute/a100/attention_n8192_q64_kv8_tp2_acb95f6.csv      83f4bb3ac779878b98457d1e596b3242
 *                                                             06c6c39d8bf4b25f35a1f14ccbd8af24
 *   network/a100_pairwise_nvlink/all_reduce.csv               27428d884ae095800e81366c7517af93
 *                                                             fd7476633cfe5e55bdd155e004485dab
 *
 * Residuals (mean / max |relative|): GEMMs (4 per row, TP 1-8, 8 models, 36,516 points)
 * 6.4 / 50.7 %; elementwise (45,384) 11.9 / 98.6 %; all-reduce (TP2, 36 size-bin medians)
 * 5.2 / 21.8 %; decode attention (10,240) 11.0 / 72.4 %; prefill attention (84 whole-prompt rows)
 * 3.5 / 19.0 %. calib/PROFILE.md discusses each. The residual add's 103 % of the datasheet
 * bandwidth is probably the L2 cache: its inputs were written just before (40 MB L2). */
const struct cal_eff cal_eff_a100 = {
    .gemm_tau_s = 6.49e-6,
    .gemm_bw_eff = 0.8688,
    .gemm_fl_eff = 0.7356,
    .gemm_m0 = 58.81,
    .gemm_knee = 3.014,
    .elt_tau_s = 1.892e-6,
    .norm_bw_eff = 0.383,
    .rope_bw_eff = 0.4424,
    .act_bw_eff = 0.5017,
    .add_bw_eff = 1.03,
    .ar_alpha_s = 57.22e-6,
    .ar_bw_eff = 0.6136,
    .ar_knee = 1.619,
    .dec_tau_s = 13.42e-6,
    .dec_bw_eff = 0.7656,
    .pre_tau_s = 6.725e-6,
    .pre_fl_eff = 0.2153,
    .pre_c0 = 631,
};

/* The same fit to Vidur's H100 profiles (H100 SXM: the h100-80gb preset, 3.35 TB/s,
 * 989 TFLOP/s, NVLink 450 GB/s one way), used for the h100 and h200 presets:
 *
 *   build/calib/effit fit ../shared/data/vidur h100-80gb h100
 *
 * over these files of ../shared/data/vidur/profiling (microsoft/vidur at 7d47513), sha256:
 *   compute/h100/Qwen/Qwen-72B/mlp.csv                       8056ad93e8dec592de1cc253edb228d1
 *                                                            c475646d98db0d113f96b4693f91bb22
 *   compute/h100/codellama/CodeLlama-34b-Instruct-hf/mlp.csv f5ddfd2ab5a8342c34866f53214a4a4f
 *                                                            8f535369c29159da0be2d524bcaf00a5
 *   compute/h100/internlm/internlm-20b/mlp.csv               8d2d37e685652600a4dfc2d91be74a1f
 *                                                            197c01f0b41c532443479507446039aa
 *   compute/h100/meta-llama/Llama-2-70b-hf/mlp.csv           fb3581ade7c02caab8a0f7d1ca1ad06a
 *                                                            7b0fbac3d9f32a9ed46ae55d95fd6bb3
 *   compute/h100/meta-llama/Llama-2-7b-hf/mlp.csv            b1a2def08857d10e5f66c3b5b2d046b6
 *                                                            e8caed5c30b2bc920a0462598e3b2a59
 *   compute/h100/microsoft/phi-2/mlp.csv                     dfbf4965acfdd01a5f32f8326873df29
 *                                                            9a226e95bdd496dac99e766f952430fc
 *   network/h100_pairwise_nvlink/all_reduce.csv              8d68ee6979682726cd7c1d06b8a3656d
 *                                                            ea5bf53d074d62b3e080ed306b03c155
 *
 * Residuals: GEMMs (21,924 points) 8.8 / 90.9 %; elementwise (27,144) 12.7 / 110.0 %;
 * all-reduce (TP2, 27 size-bin medians) 16.8 / 86.3 %. Attention was profiled on the A100 only:
 * its efficiencies are the A100's, carried by the datasheet peaks (calib/PROFILE.md says what
 * that costs). */
const struct cal_eff cal_eff_h100 = {
    .gemm_tau_s = 6.32e-6,
    .gemm_bw_eff = 0.9948,
    .gemm_fl_eff = 0.7554,
    .gemm_m0 = 147.3,
    .gemm_knee = 5.591,
    .elt_tau_s = 1.601e-6,
    .norm_bw_eff = 0.4077,
    .rope_bw_eff = 0.5018,
    .act_bw_eff = 0.5881,
    .add_bw_eff = 1.201,
    .ar_alpha_s = 14.01e-6,
    .ar_bw_eff = 0.4114,
    .ar_knee = 1,
    .dec_tau_s = 13.42e-6,
    .dec_bw_eff = 0.7656,
    .pre_tau_s = 6.725e-6,
    .pre_fl_eff = 0.2153,
    .pre_c0 = 631,
};

const struct cal_eff *cal_eff_for(const struct cal_gpu *g)
{
    return !strncasecmp(g->name, "h100", 4) || !strncasecmp(g->name, "h200", 4) ? &cal_eff_h100
                                                                                : &cal_eff_a100;
}

/* (a^k + b^k)^(1/k), computed without overflow for large k. */
static double soft_max(double a, double b, double k)
{
    double hi = fmax(a, b), lo = fmin(a, b);
    return hi > 0 ? hi * pow(1 + pow(lo / hi, k), 1 / k) : 0;
}

double cal_gemm_s(const struct cal_eff *f, const struct cal_gpu *g, double n_tok, double n,
                  double k, double e)
{
    double mem = n * k * e / (g->hbm_bw * f->gemm_bw_eff);
    double cmp = 2.0 * n * k * (n_tok + f->gemm_m0) / (g->peak_flops * f->gemm_fl_eff);
    return f->gemm_tau_s + soft_max(mem, cmp, f->gemm_knee);
}

double cal_elt_s(const struct cal_eff *f, const struct cal_gpu *g, double n_tok,
                 double bytes_per_tok, double eff)
{
    return f->elt_tau_s + n_tok * bytes_per_tok / (g->hbm_bw * eff);
}

double cal_allreduce_s(const struct cal_eff *f, const struct cal_gpu *g, uint32_t tp, double bytes)
{
    if (tp <= 1)
        return 0;
    return soft_max(f->ar_alpha_s, 2.0 * (tp - 1) / tp * bytes / (g->link_bw * f->ar_bw_eff),
                    f->ar_knee);
}

double cal_dec_attn_s(const struct cal_eff *f, const struct cal_gpu *g, double ctx_tok,
                      double kv_bytes)
{
    if (!(ctx_tok > 0))
        return 0;
    return f->dec_tau_s + ctx_tok * kv_bytes / (g->hbm_bw * f->dec_bw_eff);
}

double cal_pre_attn_s(const struct cal_eff *f, const struct cal_gpu *g, double sum_sq, double sum_c,
                      double heads, double head_dim)
{
    if (!(sum_c > 0))
        return 0;
    /* QK^T and PV: 2 x 2 x head_dim FLOPs per (query, key) pair, c^2 / 2 pairs (causal). */
    double fl = 2.0 * head_dim * heads * (sum_sq + f->pre_c0 * sum_c);
    return f->pre_tau_s + fl / (g->peak_flops * f->pre_fl_eff);
}

void cal_layer_shape(const struct cal_model *m, uint32_t tp, struct cal_layer_shape *out)
{
    double h = m->hidden, hd = m->head_dim, t = tp;
    out->heads = m->heads / t;
    out->gemm_n[0] = (m->heads + 2.0 * m->kv_heads) * hd / t; /* Q, K, V */
    out->gemm_k[0] = h;
    out->gemm_n[1] = h; /* attention output */
    out->gemm_k[1] = m->heads * hd / t;
    out->gemm_n[2] = (m->gated_mlp ? 2.0 : 1.0) * m->ffn / t; /* gate and up, or up */
    out->gemm_k[2] = h;
    out->gemm_n[3] = h; /* down */
    out->gemm_k[3] = m->ffn / t;
    double nk = 0;
    for (int i = 0; i < 4; i++)
        nk += out->gemm_n[i] * out->gemm_k[i];
    out->flops_per_tok = 2.0 * nk;
    out->weight_bytes = nk * m->dtype_bytes;
    out->kv_bytes_per_tok = 2.0 * m->kv_heads / t * hd * m->dtype_bytes;
}

/* Bytes per token of the elementwise kernels of one layer on one GPU. */
struct elt_bytes {
    double norm, rope, act, add;
};
static struct elt_bytes elt_bytes(const struct cal_model *m, uint32_t tp)
{
    double e = m->dtype_bytes, h = m->hidden;
    return (struct elt_bytes){
        .norm = 2.0 * h * e,
        .rope = 2.0 * (m->heads + (double)m->kv_heads) / tp * m->head_dim * e,
        .act = (m->gated_mlp ? 3.0 : 2.0) * m->ffn / tp * e,
        .add = 3.0 * h * e,
    };
}

/* The per-token part of one layer (GEMMs, elementwise kernels, all-reduces) at n tokens. */
static double layer_tok_s(const struct cal_model *m, const struct cal_gpu *g, uint32_t tp,
                          const struct cal_eff *f, const struct cal_layer_shape *s, double n)
{
    struct elt_bytes eb = elt_bytes(m, tp);
    double           t = 0;
    for (int i = 0; i < 4; i++)
        t += cal_gemm_s(f, g, n, s->gemm_n[i], s->gemm_k[i], m->dtype_bytes);
    t += 2 * cal_elt_s(f, g, n, eb.norm, f->norm_bw_eff) +
         cal_elt_s(f, g, n, eb.rope, f->rope_bw_eff) + cal_elt_s(f, g, n, eb.act, f->act_bw_eff) +
         cal_elt_s(f, g, n, eb.add, f->add_bw_eff);
    if (tp > 1)
        t += 2 * (cal_allreduce_s(f, g, tp, n * m->hidden * m->dtype_bytes) + CAL_NCCL_LAUNCH_S);
    return t;
}

/* The LM head once per iteration: its weight read (memory-bound at serving batch sizes). */
static double lm_head_s(const struct cal_model *m, const struct cal_gpu *g, uint32_t tp,
                        const struct cal_eff *f)
{
    return cal_gemm_s(f, g, 1, (double)m->vocab / tp, m->hidden, m->dtype_bytes);
}

double cal_analytic_iter_s(const struct cal_model *m, const struct cal_gpu *g, uint32_t tp,
                           const struct cal_eff *f, const struct cal_batch *b)
{
    struct cal_layer_shape s;
    cal_layer_shape(m, tp, &s);
    double n = b->decode_seqs + b->prefill_tok;
    double layer = layer_tok_s(m, g, tp, f, &s, n);
    if (b->decode_seqs > 0)
        layer += cal_dec_attn_s(f, g, b->decode_ctx, s.kv_bytes_per_tok) *
                 (b->decode_seqs > 1 ? 1 + CAL_RAGGED_FRAC : 1);
    layer += cal_pre_attn_s(f, g, b->prefill_sq, b->prefill_tok, s.heads, m->head_dim);
    return m->layers * layer + lm_head_s(m, g, tp, f);
}

struct cal_allreduce cal_allreduce_cost(const struct cal_model *m, uint32_t tp, double elem_bytes,
                                        double link_bps)
{
    struct cal_allreduce c = {.const_s = 0, .per_tok_s = 0};
    if (tp > 1) {
        const struct cal_eff *f = &cal_eff_a100;
        double ring = 2.0 * (tp - 1) / tp * m->hidden * elem_bytes; /* bytes per token */
        c.const_s = 2.0 * m->layers * (f->ar_alpha_s + CAL_NCCL_LAUNCH_S);
        c.per_tok_s = 2.0 * m->layers * ring / (link_bps * f->ar_bw_eff);
    }
    return c;
}

int cal_analytic_profile(const struct cal_model *m, const struct cal_gpu *g, uint32_t tp,
                         double mem_util, struct cal_profile *out, struct sim_msg *err)
{
    return cal_analytic_profile_eff(m, g, tp, cal_eff_for(g), mem_util, out, err);
}

int cal_analytic_profile_eff(const struct cal_model *m, const struct cal_gpu *g, uint32_t tp,
                             const struct cal_eff *f, double mem_util, struct cal_profile *out,
                             struct sim_msg *err)
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

    struct cal_layer_shape s;
    cal_layer_shape(m, tp, &s);
    double L = m->layers, head = lm_head_s(m, g, tp, f);
    double ragged = 1 + CAL_RAGGED_FRAC;
    double fixed = L * (ragged * f->dec_tau_s + f->pre_tau_s);
    double per_ctx = L * ragged * s.kv_bytes_per_tok / (g->hbm_bw * f->dec_bw_eff);
    double pre_fl = L * 2.0 * m->head_dim * s.heads / (g->peak_flops * f->pre_fl_eff);

    /* The per-token part (weight GEMMs, elementwise kernels, all-reduces) is convex in the
     * batch's token count n: chords between breakpoints bound it from above. The breakpoints
     * are the three of the candidates that minimise the largest relative gap over n = 1..8192. */
    enum { NC = 22, NS = 96 };
    double xc[NC], yc[NC], xs[NS], ys[NS];
    for (int j = 0; j < NC; j++) { /* 8, 12, 16, 24, ..., 8192 */
        xc[j] = (j % 2 ? 12.0 : 8.0) * (double)(1u << (j / 2));
        yc[j] = L * layer_tok_s(m, g, tp, f, &s, xc[j]);
    }
    for (int i = 0; i < NS; i++) { /* geometric, 1 to 8192 */
        xs[i] = round(exp(log(8192.0) * i / (NS - 1)));
        ys[i] = L * layer_tok_s(m, g, tp, f, &s, xs[i]) + head;
    }
    double y1 = L * layer_tok_s(m, g, tp, f, &s, 1);
    int    best[3] = {0, 1, 2};
    double best_err = INFINITY;
    for (int a = 0; a < NC - 3; a++)
        for (int b = a + 1; b < NC - 2; b++)
            for (int c = b + 1; c < NC - 1; c++) {
                double bx[5] = {1, xc[a], xc[b], xc[c], xc[NC - 1]};
                double by[5] = {y1, yc[a], yc[b], yc[c], yc[NC - 1]};
                double worst = 0;
                for (int i = 0, k = 0; i < NS; i++) {
                    while (k < 3 && xs[i] > bx[k + 1])
                        k++;
                    double y = by[k] + (by[k + 1] - by[k]) * (xs[i] - bx[k]) / (bx[k + 1] - bx[k]);
                    worst = fmax(worst, fabs((y + head) / ys[i] - 1));
                }
                if (worst < best_err) {
                    best_err = worst;
                    best[0] = a, best[1] = b, best[2] = c;
                }
            }
    double bx[5] = {1, xc[best[0]], xc[best[1]], xc[best[2]], xc[NC - 1]};
    double by[5] = {y1, yc[best[0]], yc[best[1]], yc[best[2]], yc[NC - 1]};

    memset(out, 0, sizeof *out);
    snprintf(out->model, sizeof out->model, "%s", m->name);
    snprintf(out->source, sizeof out->source, "analytic");
    snprintf(out->backend, sizeof out->backend, "analytic");
    snprintf(out->device, sizeof out->device, "%s", g->name);
    out->tp = tp;
    out->n_pieces = 4;
    for (size_t i = 0; i < 4; i++) {
        struct cal_piece *pc = &out->piece[i];
        double            slope = (by[i + 1] - by[i]) / (bx[i + 1] - bx[i]);
        pc->max_tokens = i < 3 ? bx[i + 1] : INFINITY;
        pc->coef[CAL_T_CONST] = by[i] - slope * bx[i] + head + fixed;
        pc->coef[CAL_T_DECODE_SEQS] = slope;
        pc->coef[CAL_T_PREFILL_TOK] = slope + pre_fl * f->pre_c0;
        pc->coef[CAL_T_DECODE_CTX] = per_ctx;
        pc->coef[CAL_T_PREFILL_SQ] = pre_fl;
    }
    out->kv_bytes_per_token = cal_model_kv_bytes_per_token(m);
    out->kv_capacity_bytes = cap;
    out->weight_bytes = wbytes;
    return SIM_OK;
}
