/*
 * ref.h: the plain-C11 references of every kernel op (R18): slow, obvious, fp32 storage with
 * double accumulation. kcheck and the tests compare every variant with them; the CPU backend
 * uses them directly for the cheap element-wise ops.
 * Arguments are those of kern_ops.h with float elements on the host. Preconditions (non-NULL
 * pointers, leading dimensions at least the row width, indices in range) are asserted.
 * None can fail; none allocates except kern_ref_attn_prefill (one row of scores).
 */
#ifndef LENSIM_KERN_REF_H
#define LENSIM_KERN_REF_H

#include "kern_ops.h"

void kern_ref_gemm(const struct kern_gemm_args *a);
void kern_ref_rmsnorm(const struct kern_rmsnorm_args *a);
void kern_ref_rope(const struct kern_rope_args *a);
void kern_ref_kv_append(const struct kern_kv_append_args *a);
void kern_ref_attn_decode(const struct kern_attn_decode_args *a);
void kern_ref_attn_prefill(const struct kern_attn_prefill_args *a);
void kern_ref_act(const struct kern_act_args *a);
void kern_ref_embed(const struct kern_embed_args *a);
void kern_ref_embag(const struct kern_embag_args *a);
void kern_ref_bias_act(const struct kern_bias_act_args *a);

/* Address (in elements from kv->k or kv->v) of token t, KV head h of slot s. */
size_t kern_ref_kv_offset(const struct kern_kv *kv, uint32_t s, uint32_t t, uint32_t h);

#endif
