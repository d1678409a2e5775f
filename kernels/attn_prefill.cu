/*
 * attn_prefill.cu: causal self-attention of prompts starting at position 0, straight from the
 * QKV projection's output (the prompt's own keys and values), on CUDA.
 *
 * Variants:
 *   v1 unfused, cuBLAS for both products: per prompt and per chunk of heads,
 *      S = scale Q K^T (strided-batched GemmEx, bf16 in, fp32 scores), a causal softmax kernel
 *      (one block per query row, fp32, writing bf16 probabilities and zeros above the diagonal),
 *      O = P V (strided-batched GemmEx, bf16). Grouped-query heads are batched per group member
 *      so that every batch has constant strides. Cost: the full L x L products (twice the causal
 *      FLOPs) and 12 bytes of scores and probabilities per (head, query, key) through HBM, so it
 *      is slower than a fused FlashAttention kernel at long prompts; a fused v2 is future work
 *      and the calibration records whichever variant ran.
 * Scratch: ctx->work holds the scores and probabilities of as many heads as fit (at least one).
 */
#include <cublas_v2.h>

#include "cuda_common.cuh"
#include "kern_cuda.h"

static __global__ void causal_softmax_kernel(const float *S, bf16 *P, uint32_t L)
{
    __shared__ float sh[33];
    const uint32_t i = blockIdx.x;
    const size_t off = ((size_t)blockIdx.y * L + i) * L;
    const float *s = S + off;
    bf16 *p = P + off;
    float m = -INFINITY;
    for (uint32_t t = threadIdx.x; t <= i; t += blockDim.x)
        m = fmaxf(m, s[t]);
    m = block_max(m, sh);
    float l = 0;
    for (uint32_t t = threadIdx.x; t <= i; t += blockDim.x)
        l += __expf(s[t] - m);
    l = block_sum(l, sh);
    float inv = 1.0f / l;
    for (uint32_t t = threadIdx.x; t < L; t += blockDim.x)
        p[t] = __float2bfloat16_rn(t <= i ? __expf(s[t] - m) * inv : 0.0f);
}

static int check(cublasStatus_t s, const char *what)
{
    if (s == CUBLAS_STATUS_SUCCESS)
        return SIM_OK;
    fprintf(stderr, "lensim: attn_prefill: %s: cuBLAS status %d\n", what, (int)s);
    return SIM_ECUDA;
}

extern "C" int kern_cuda_attn_prefill_v1(const struct kern_ctx *c,
                                         const struct kern_attn_prefill_args *a)
{
    cublasHandle_t h = (cublasHandle_t)c->blas;
    cudaStream_t st = (cudaStream_t)c->stream;
    const uint32_t H = a->n_heads, KV = a->kv_heads, d = a->head_dim, G = H / KV;
    const float one = 1.0f, zero = 0.0f;
    for (uint32_t s = 0; s < a->n_seqs; s++) {
        const uint32_t L = a->len[s];
        if (L == 0)
            continue; /* issue 18: an empty prompt has no rows (and per_head would be 0) */
        const size_t per_head = (size_t)L * L * (sizeof(float) + sizeof(bf16));
        size_t nh = c->work_bytes / per_head;
        if (nh == 0)
            return SIM_ECONFIG;
        if (nh > KV)
            nh = KV;
        float *S = (float *)c->work;
        bf16 *P = (bf16 *)(S + nh * (size_t)L * L);
        const bf16 *base = (const bf16 *)a->qkv + (size_t)a->row0[s] * a->ldqkv;
        bf16 *obase = (bf16 *)a->o + (size_t)a->row0[s] * a->ldo;
        for (uint32_t j = 0; j < G; j++)
            for (uint32_t kv0 = 0; kv0 < KV; kv0 += (uint32_t)nh) {
                const int nb = (int)(KV - kv0 < nh ? KV - kv0 : nh);
                const bf16 *Q = base + (size_t)(kv0 * G + j) * d;
                const bf16 *K = base + (size_t)(H + kv0) * d;
                const bf16 *V = base + (size_t)(H + KV + kv0) * d;
                bf16 *O = obase + (size_t)(kv0 * G + j) * d;
                /* S^T (column-major) = K Q^T, i.e. row-major S = Q K^T. */
                int rc = check(cublasGemmStridedBatchedEx(
                                   h, CUBLAS_OP_T, CUBLAS_OP_N, (int)L, (int)L, (int)d, &a->scale,
                                   K, CUDA_R_16BF, (int)a->ldqkv, (long long)d, Q, CUDA_R_16BF,
                                   (int)a->ldqkv, (long long)G * d, &zero, S, CUDA_R_32F, (int)L,
                                   (long long)L * L, nb, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                               "Q K^T");
                if (rc)
                    return rc;
                causal_softmax_kernel<<<dim3(L, (unsigned)nb), 256, 0, st>>>(S, P, L);
                KERN_LAUNCH_CHECK();
                /* O^T (column-major) = V^T P^T, i.e. row-major O = P V. */
                rc = check(cublasGemmStridedBatchedEx(
                               h, CUBLAS_OP_N, CUBLAS_OP_N, (int)d, (int)L, (int)L, &one, V,
                               CUDA_R_16BF, (int)a->ldqkv, (long long)d, P, CUDA_R_16BF, (int)L,
                               (long long)L * L, &zero, O, CUDA_R_16BF, (int)a->ldo,
                               (long long)G * d, nb, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                           "P V");
                if (rc)
                    return rc;
            }
    }
    return SIM_OK;
}
