/* attn_ref.c: references of KV append and attention (see ref.h). */
#include <math.h>

#include "alloc.h"
#include "ref.h"
#include "sim.h"

size_t kern_ref_kv_offset(const struct kern_kv *kv, uint32_t s, uint32_t t, uint32_t h)
{
    size_t tok;
    if (kv->layout == KERN_KV_CONTIGUOUS) {
        SIM_ASSERT(t < kv->slot_stride_tok);
        tok = (size_t)s * kv->slot_stride_tok + t;
    } else {
        SIM_ASSERT(kv->block_table && kv->block_tok > 0 && t / kv->block_tok < kv->table_stride);
        int32_t blk = kv->block_table[(size_t)s * kv->table_stride + t / kv->block_tok];
        SIM_ASSERT(blk >= 0);
        tok = (size_t)blk * kv->block_tok + t % kv->block_tok;
    }
    return (tok * kv->kv_heads + h) * kv->head_dim;
}

void kern_ref_kv_append(const struct kern_kv_append_args *a)
{
    SIM_ASSERT(a->src && a->slot && a->pos && a->kv.k && a->kv.v);
    for (uint32_t i = 0; i < a->n; i++) {
        const float *k = (const float *)a->src + i * a->ld_src + a->k_off;
        const float *v = (const float *)a->src + i * a->ld_src + a->v_off;
        for (uint32_t h = 0; h < a->kv.kv_heads; h++) {
            size_t off = kern_ref_kv_offset(&a->kv, (uint32_t)a->slot[i], (uint32_t)a->pos[i], h);
            for (uint32_t j = 0; j < a->kv.head_dim; j++) {
                ((float *)a->kv.k)[off + j] = k[h * a->kv.head_dim + j];
                ((float *)a->kv.v)[off + j] = v[h * a->kv.head_dim + j];
            }
        }
    }
}

void kern_ref_attn_decode(const struct kern_attn_decode_args *a)
{
    const struct kern_kv *kv = &a->kv;
    SIM_ASSERT(a->q && a->o && a->slot && a->len && kv->kv_heads > 0);
    SIM_ASSERT(a->n_heads % kv->kv_heads == 0);
    uint32_t     d = kv->head_dim, group = a->n_heads / kv->kv_heads;
    const float *K = kv->k, *V = kv->v;
    for (uint32_t i = 0; i < a->n; i++) {
        uint32_t len = (uint32_t)a->len[i];
        SIM_ASSERT(len >= 1 && len <= a->max_len);
        for (uint32_t h = 0; h < a->n_heads; h++) {
            const float *q = (const float *)a->q + i * a->ldq + h * d;
            float       *o = (float *)a->o + i * a->ldo + h * d;
            uint32_t     kh = h / group;
            double       m = -INFINITY, l = 0;
            double       acc[512];
            SIM_ASSERT(d <= 512);
            for (uint32_t j = 0; j < d; j++)
                acc[j] = 0;
            /* One pass with the online softmax (Milakov & Gimelshein 2018). */
            for (uint32_t t = 0; t < len; t++) {
                size_t off = kern_ref_kv_offset(kv, (uint32_t)a->slot[i], t, kh);
                double s = 0;
                for (uint32_t j = 0; j < d; j++)
                    s += (double)q[j] * K[off + j];
                s *= a->scale;
                double mn = s > m ? s : m;
                double c = exp(m - mn), p = exp(s - mn);
                l = l * c + p;
                for (uint32_t j = 0; j < d; j++)
                    acc[j] = acc[j] * c + p * V[off + j];
                m = mn;
            }
            for (uint32_t j = 0; j < d; j++)
                o[j] = (float)(acc[j] / l);
        }
    }
}

void kern_ref_attn_prefill(const struct kern_attn_prefill_args *a)
{
    SIM_ASSERT(a->qkv && a->o && a->row0 && a->len && a->kv_heads > 0);
    SIM_ASSERT(a->n_heads % a->kv_heads == 0);
    uint32_t     d = a->head_dim, group = a->n_heads / a->kv_heads;
    const float *X = a->qkv;
    for (uint32_t s = 0; s < a->n_seqs; s++) {
        uint32_t r0 = a->row0[s], L = a->len[s];
        double  *p = sim_malloc(sizeof *p * (L ? L : 1));
        SIM_ASSERT(p);
        for (uint32_t h = 0; h < a->n_heads; h++) {
            size_t qo = (size_t)h * d, ko = (size_t)(a->n_heads + h / group) * d,
                   vo = (size_t)(a->n_heads + a->kv_heads + h / group) * d;
            for (uint32_t i = 0; i < L; i++) {
                const float *q = X + (r0 + i) * a->ldqkv + qo;
                double       m = -INFINITY, l = 0;
                for (uint32_t t = 0; t <= i; t++) {
                    const float *k = X + (r0 + t) * a->ldqkv + ko;
                    double       sc = 0;
                    for (uint32_t j = 0; j < d; j++)
                        sc += (double)q[j] * k[j];
                    p[t] = sc * a->scale;
                    if (p[t] > m)
                        m = p[t];
                }
                for (uint32_t t = 0; t <= i; t++)
                    l += (p[t] = exp(p[t] - m));
                float *o = (float *)a->o + (r0 + i) * a->ldo + (size_t)h * d;
                for (uint32_t j = 0; j < d; j++) {
                    double acc = 0;
                    for (uint32_t t = 0; t <= i; t++)
                        acc += p[t] * X[(r0 + t) * a->ldqkv + vo + j];
                    o[j] = (float)(acc / l);
                }
            }
        }
        sim_free(p);
    }
}
