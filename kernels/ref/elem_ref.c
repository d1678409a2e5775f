/* elem_ref.c: references of the row-wise and element-wise ops (see ref.h). */
#include <math.h>

#include "ref.h"
#include "sim.h"

void kern_ref_rmsnorm(const struct kern_rmsnorm_args *a)
{
    SIM_ASSERT(a->x && a->w && a->y && a->ldx >= a->dim && a->ldy >= a->dim);
    const float *w = a->w;
    for (uint32_t i = 0; i < a->n; i++) {
        const float *x = (const float *)a->x + (size_t)(a->rows ? a->rows[i] : (int32_t)i) * a->ldx;
        float       *y = (float *)a->y + i * a->ldy;
        double       ss = 0;
        for (uint32_t j = 0; j < a->dim; j++)
            ss += (double)x[j] * x[j];
        double r = 1.0 / sqrt(ss / a->dim + a->eps);
        for (uint32_t j = 0; j < a->dim; j++)
            y[j] = (float)(x[j] * r * w[j]);
    }
}

void kern_ref_rope(const struct kern_rope_args *a)
{
    SIM_ASSERT(a->x && a->pos && a->head_dim % 2 == 0 && a->ldx >= a->n_heads * a->head_dim);
    uint32_t half = a->head_dim / 2;
    for (uint32_t i = 0; i < a->n; i++)
        for (uint32_t h = 0; h < a->n_heads; h++) {
            float *x = (float *)a->x + i * a->ldx + h * a->head_dim;
            for (uint32_t j = 0; j < half; j++) {
                /* The angle is computed in float exactly as the CUDA kernel does, so that both
                 * see the same rounding of pos * inv_freq; sin and cos are then taken in double. */
                float  inv = powf(a->theta, -2.0f * (float)j / (float)a->head_dim);
                float  ang = (float)a->pos[i] * inv;
                double c = cos(ang), s = sin(ang);
                double x0 = x[j], x1 = x[j + half];
                x[j] = (float)(x0 * c - x1 * s);
                x[j + half] = (float)(x0 * s + x1 * c);
            }
        }
}

static double gelu_tanh(double x)
{
    return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

void kern_ref_act(const struct kern_act_args *a)
{
    SIM_ASSERT(a->x && a->y && a->ldx >= (a->gated ? 2u : 1u) * a->ffn && a->ldy >= a->ffn);
    for (uint32_t i = 0; i < a->n; i++) {
        const float *x = (const float *)a->x + i * a->ldx;
        float       *y = (float *)a->y + i * a->ldy;
        for (uint32_t j = 0; j < a->ffn; j++) {
            double g = x[j];
            y[j] = a->gated ? (float)(g / (1.0 + exp(-g)) * x[a->ffn + j]) : (float)gelu_tanh(g);
        }
    }
}

void kern_ref_embed(const struct kern_embed_args *a)
{
    SIM_ASSERT(a->ids && a->table && a->y && a->ldy >= a->dim);
    for (uint32_t i = 0; i < a->n; i++) {
        SIM_ASSERT(a->ids[i] >= 0);
        const float *t = (const float *)a->table + (size_t)a->ids[i] * a->dim;
        float       *y = (float *)a->y + i * a->ldy;
        for (uint32_t j = 0; j < a->dim; j++)
            y[j] = t[j];
    }
}

void kern_ref_embag(const struct kern_embag_args *a)
{
    SIM_ASSERT(a->offs && a->idx && a->table && a->bias && a->y && a->ldy >= a->dim);
    const float *bias = a->bias;
    for (uint32_t r = 0; r < a->n; r++) {
        int32_t b = a->offs[r], e = a->offs[r + 1];
        SIM_ASSERT(b <= e);
        float *y = (float *)a->y + r * a->ldy;
        for (uint32_t j = 0; j < a->dim; j++) {
            double s = 0;
            for (int32_t q = b; q < e; q++)
                s += ((const float *)a->table)[(size_t)a->idx[q] * a->dim + j];
            double v = (e > b ? s / (e - b) : 0.0) + bias[j];
            y[j] = (float)(v > 0 ? v : 0);
        }
    }
}

void kern_ref_bias_act(const struct kern_bias_act_args *a)
{
    SIM_ASSERT(a->x && a->bias && a->ldx >= a->dim);
    const float *bias = a->bias;
    for (uint32_t i = 0; i < a->n; i++) {
        float *x = (float *)a->x + i * a->ldx;
        for (uint32_t j = 0; j < a->dim; j++) {
            float v = x[j] + bias[j];
            x[j] = a->relu && v < 0 ? 0.0f : v;
        }
    }
}
