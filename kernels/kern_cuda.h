/*
 * kern_cuda.h: the C-callable entries of the CUDA kernels (kernels/<op>.cu, R17). Each takes the
 * backend's context (stream, cuBLAS handle, scratch) and the op's args with bf16 elements on the
 * device, enqueues its work on the stream and returns 0, SIM_ECUDA (launch or cuBLAS error) or
 * SIM_ECONFIG (args the variant does not support: see its supports function). Variants are
 * numbered in each .cu file's header comment and registered in kern.c.
 */
#ifndef LENSIM_KERN_CUDA_H
#define LENSIM_KERN_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "kern_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

int kern_cuda_gemm_v1(const struct kern_ctx *c, const struct kern_gemm_args *a);
int kern_cuda_rmsnorm_v1(const struct kern_ctx *c, const struct kern_rmsnorm_args *a);
int kern_cuda_rope_v1(const struct kern_ctx *c, const struct kern_rope_args *a);
int kern_cuda_kv_append_v1(const struct kern_ctx *c, const struct kern_kv_append_args *a);
/* Issue 18: head_dim, ld_src, k_off, v_off multiples of 8 and src, k, v 16-byte aligned. */
int kern_cuda_kv_append_supports(const void *args);
int kern_cuda_attn_decode_v1(const struct kern_ctx *c, const struct kern_attn_decode_args *a);
int kern_cuda_attn_decode_supports(const void *args);
int kern_cuda_attn_prefill_v1(const struct kern_ctx *c, const struct kern_attn_prefill_args *a);
int kern_cuda_act_v1(const struct kern_ctx *c, const struct kern_act_args *a);
int kern_cuda_embed_v1(const struct kern_ctx *c, const struct kern_embed_args *a);
int kern_cuda_embag_v1(const struct kern_ctx *c, const struct kern_embag_args *a);
int kern_cuda_bias_act_v1(const struct kern_ctx *c, const struct kern_bias_act_args *a);
/* Also used by the elementwise ops: 1 when head_dim is even, etc. */
int kern_cuda_rope_supports(const void *args);

/* n bf16 elements = offset + scale * kern_rand_u(seed, i), on stream. 0 or SIM_ECUDA. */
int kern_cuda_fill_bf16(void *p, size_t n, uint64_t seed, float scale, float offset, void *stream);
/* Issue 18: evict L2 by reading `bytes` of buf (16-byte aligned; twice the L2 or more), on
 * stream; no dirty line is left for a later interval to write back. 0 or SIM_ECUDA. */
int kern_cuda_l2_flush(const void *buf, size_t bytes, void *stream);
/* Scratch bytes attn_decode needs for n rows of n_heads x head_dim at most max_len keys, with the
 * split count it would choose on n_sm multiprocessors. */
size_t kern_cuda_attn_decode_work(uint32_t n, uint32_t n_heads, uint32_t kv_heads,
                                  uint32_t head_dim, uint32_t max_len, int n_sm);

/* Issue 18: query (and cache) the decode kernels' occupancy now, on the current device, so that
 * no occupancy query runs later inside a graph capture. */
void kern_cuda_attn_decode_warm(void);

#ifdef __cplusplus
}
#endif

#endif
