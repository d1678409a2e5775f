/*
 * test_coef.c: the magnitudes of derived and fitted coefficients, against hand values (issue 17).
 *
 * - KV bytes per token = 2 (K and V) x layers x kv_heads x head_dim x dtype_bytes (the usual
 *   count: vLLM's CacheEngine.get_cache_block_size, key and value caches per layer), for a
 *   model with as many KV heads as query heads and for grouped-query ones;
 * - weight bytes = parameters x dtype_bytes; the analytic profile's usable KV memory = tp x GPU
 *   memory x mem_util - weight bytes (vLLM's gpu_memory_utilization budget less the weights);
 * - FLOPs per token are 2 x the weights (one multiply and one add each): the analytic model's
 *   own counts are checked by hand in test_analytic (issue 10); here every preset's shape is
 *   checked to imply its parameter count, from which those FLOPs follow;
 * - every preset's shape implies its parameter count (embeddings, attention, MLP);
 * - the calibration fit (calib/latfit.c) recovers every term of a synthetic latency surface,
 *   the prefill^2 term included, within 3 standard errors and within 5 % of the truth.
 */
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>

#include "analytic.h"
#include "latfit.h"
#include "presets.h"
#include "rng.h"
#include "test.h"

#define MIB 1048576.0

TEST(kv_bytes_per_token_by_hand)
{
    /* llama-2-7b: 2 x 32 layers x 32 KV heads x 128 x 2 bytes = 524,288 bytes (512 KiB). */
    ASSERT_EQ(cal_model_kv_bytes_per_token(cal_model_find("llama-2-7b")), 524288);
    /* llama-2-70b (GQA, 8 KV heads): 2 x 80 x 8 x 128 x 2 = 327,680. */
    ASSERT_EQ(cal_model_kv_bytes_per_token(cal_model_find("llama-2-70b")), 327680);
    /* llama-3-8b (GQA, 8 KV heads): 2 x 32 x 8 x 128 x 2 = 131,072. */
    ASSERT_EQ(cal_model_kv_bytes_per_token(cal_model_find("llama-3-8b")), 131072);
    /* tiny: 2 x 4 x 4 x 64 x 2 = 4,096. */
    ASSERT_EQ(cal_model_kv_bytes_per_token(cal_model_find("tiny")), 4096);
}

TEST(weight_bytes_and_kv_capacity_by_hand)
{
    const struct cal_model *m7 = cal_model_find("llama-2-7b"), *m70 = cal_model_find("llama-2-70b");
    const struct cal_gpu   *a80 = cal_gpu_find("a100-80gb");
    ASSERT_TRUE(m7 && m70 && a80);
    /* 6.738e9 parameters x 2 bytes; 68.977e9 x 2. */
    ASSERT_NEAR(cal_model_weight_bytes(m7), 13.476e9, 1);
    ASSERT_NEAR(cal_model_weight_bytes(m70), 137.954e9, 1);

    struct cal_profile p7, p70;
    struct sim_msg     err = {{0}};
    ASSERT_EQ(cal_analytic_profile(m7, a80, 1, 0.9, &p7, &err), 0);
    ASSERT_EQ(cal_analytic_profile(m70, a80, 4, 0.9, &p70, &err), 0);
    /* 81,920 MiB x 0.9 = 77,309,411,328 bytes, less 13,476,000,000 of weights = 63,833,411,328
     * bytes: 121,752 tokens of 524,288 bytes (the figure lensim's manifest reports). */
    ASSERT_NEAR(p7.kv_capacity_bytes, 63833411328.0, 1);
    ASSERT_NEAR(p7.weight_bytes, 13.476e9, 1);
    ASSERT_EQ((long long)(p7.kv_capacity_bytes / p7.kv_bytes_per_token), 121752);
    /* Four GPUs: 4 x 77,309,411,328 - 137,954,000,000 = 171,283,645,312 bytes. */
    ASSERT_NEAR(p70.kv_capacity_bytes, 171283645312.0, 1);
    ASSERT_EQ(p70.kv_bytes_per_token, 327680);
}

TEST(batch_terms_in_profile_order)
{
    struct cal_batch b = {.decode_seqs = 3,
                          .decode_ctx = 700,
                          .prefill_tok = 50,
                          .prefill_sq = 2500};
    double           x[CAL_TERMS];
    cal_batch_terms(&b, x);
    ASSERT_EQ(x[CAL_T_CONST], 1);
    ASSERT_EQ(x[CAL_T_DECODE_SEQS], 3);
    ASSERT_EQ(x[CAL_T_DECODE_CTX], 700);
    ASSERT_EQ(x[CAL_T_PREFILL_TOK], 50);
    ASSERT_EQ(x[CAL_T_PREFILL_SQ], 2500);
}

/*
 * A one-piece latency surface with every term present, of magnitudes like those calibration
 * measures (a prefill^2 term of 2.9e-7 s per squared token, as in the report):
 *   T = 2e-3 + 4e-5 decode_seqs + 2e-8 decode_ctx + 3e-5 prefill_tok + 2.9e-7 prefill_sq,
 * 1 % multiplicative noise, 400 batches mixing decodes (1..256 sequences, contexts 16..2000) and
 * prefills (2..2048 tokens). Each estimate must lie within 3 standard errors of the truth and
 * within 5 % of it (the noise allows about 1 % on the smallest term).
 */
TEST(latency_fit_recovers_every_term)
{
    static const double truth[CAL_TERMS] = {2e-3, 4e-5, 2e-8, 3e-5, 2.9e-7};
    const size_t        n = 400;
    struct cal_obs     *obs = calloc(n, sizeof *obs);
    rng_t              *r = rng_new(17, 2);
    ASSERT_TRUE(obs && r);
    for (size_t i = 0; i < n; i++) {
        struct cal_batch b = {0};
        int              kind = (int)(i % 3); /* 0 decode only, 1 prefill only, 2 both */
        if (kind != 1) {
            b.decode_seqs = floor(exp(gsl_rng_uniform(r) * log(256))) + 1;
            b.decode_ctx = b.decode_seqs * (16 + floor(gsl_rng_uniform(r) * 1984));
        }
        if (kind != 0) {
            double p = floor(exp(gsl_rng_uniform(r) * log(2047))) + 2;
            b.prefill_tok = p;
            b.prefill_sq = p * p;
        }
        double x[CAL_TERMS], t = 0;
        cal_batch_terms(&b, x);
        for (int k = 0; k < CAL_TERMS; k++)
            t += truth[k] * x[k];
        obs[i].b = b;
        obs[i].t_s = t * (1 + gsl_ran_gaussian(r, 0.01));
        obs[i].heldout = i % 10 == 9;
    }
    rng_free(r);
    struct cal_latfit_report rep;
    struct cal_latfit_opts   o = {.max_pieces = 1, .seed = 1};
    struct sim_msg           err = {{0}};
    if (cal_latfit(obs, n, &o, &rep, &err))
        TEST_FAIL_("cal_latfit: %s", err.text);
    ASSERT_EQ(rep.n_pieces, 1);
    for (int k = 0; k < CAL_TERMS; k++) {
        double est = rep.piece[0].coef[k], se = rep.fit[0].err[k];
        ASSERT_TRUE(!rep.held0[0][k]);
        ASSERT_NEAR(est, truth[k], 3 * se);
        ASSERT_NEAR(est, truth[k], 0.05 * truth[k]);
    }
    ASSERT_TRUE(rep.mape_heldout < 2.0);
    free(obs);
}

/*
 * Every preset's shape implies its parameter count: embeddings (vocab x hidden; twice when the
 * output projection is not tied to them, once for OPT, which ties them) plus, per layer, the
 * attention projections (Q and O: hidden x heads x head_dim each; K and V: hidden x kv_heads x
 * head_dim each) and the MLP (3 hidden x ffn matrices gated, 2 otherwise). Biases, norms and
 * OPT's learned positions add under 0.2 %. By hand, llama-2-7b: 2 x 32000 x 4096 + 32 x (4 x
 * 4096^2 + 3 x 4096 x 11008) = 6,738,149,376 against 6.738e9; tiny: 4,718,592 exactly.
 */
TEST(preset_shapes_imply_their_parameter_counts)
{
    size_t n = 0;
    for (const struct cal_model *m = cal_models; m->name; m++, n++) {
        int    tied = !strncmp(m->name, "opt-", 4);
        double h = m->hidden,
               attn = 2 * h * m->heads * m->head_dim + 2 * h * m->kv_heads * m->head_dim;
        double mlp = (m->gated_mlp ? 3 : 2) * h * m->ffn;
        double p = (tied ? 1 : 2) * (double)m->vocab * h + m->layers * (attn + mlp);
        if (!(fabs(p - m->n_params) <= 0.002 * m->n_params))
            TEST_FAIL_("%s: the shape implies %.6g parameters, the preset says %.6g", m->name, p,
                       m->n_params);
        ASSERT_TRUE(m->dtype_bytes == 2 && m->max_ctx >= 2048);
    }
    ASSERT_TRUE(n >= 11);
    const struct cal_model *t = cal_model_find("tiny");
    ASSERT_EQ(2.0 * 1024 * 256 + 4 * (4.0 * 256 * 256 + 3.0 * 256 * 1024), t->n_params);
    const struct cal_model *l = cal_model_find("llama-2-7b");
    ASSERT_NEAR(2.0 * 32000 * 4096 + 32 * (4.0 * 4096 * 4096 + 3.0 * 4096 * 11008), 6738149376.0,
                0);
    ASSERT_NEAR(l->n_params, 6.738e9, 0);
}

int main(void)
{
    gsl_set_error_handler_off();
    RUN(kv_bytes_per_token_by_hand);
    RUN(weight_bytes_and_kv_capacity_by_hand);
    RUN(batch_terms_in_profile_order);
    RUN(preset_shapes_imply_their_parameter_counts);
    RUN(latency_fit_recovers_every_term);
    return test_main_end();
}
