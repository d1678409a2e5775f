/*
 * kern_cuda_plugin.c: the one symbol of the CUDA plugin (lensim-cuda.so, issue 13). The plugin
 * holds the CUDA device (kern_cuda.c), the kernels (*.cu) and their registry rows; kern.c opens
 * it with dlopen only when a command asks for the cuda backend, so that a simulation never maps
 * libcudart or cuBLAS. kern.c checks abi and backend_size before using anything else.
 */
#include "kern_cuda.h"
#include "kern_internal.h"

static const struct kern_variant cuda_variants[] = {
    {KERN_OP_GEMM,
     1,
     KERN_BACKEND_CUDA,
     "cuBLAS GemmEx bf16, fp32 accumulate",
     {.gemm = kern_cuda_gemm_v1},
     NULL},
    {KERN_OP_RMSNORM,
     1,
     KERN_BACKEND_CUDA,
     "block of 256 per row",
     {.rmsnorm = kern_cuda_rmsnorm_v1},
     NULL},
    {KERN_OP_ROPE,
     1,
     KERN_BACKEND_CUDA,
     "thread per pair",
     {.rope = kern_cuda_rope_v1},
     kern_cuda_rope_supports},
    {KERN_OP_KV_APPEND,
     1,
     KERN_BACKEND_CUDA,
     "16-byte copies, both layouts",
     {.kv_append = kern_cuda_kv_append_v1},
     kern_cuda_kv_append_supports},
    {KERN_OP_ATTN_DECODE,
     1,
     KERN_BACKEND_CUDA,
     "split-context (flash-decoding), both layouts",
     {.attn_decode = kern_cuda_attn_decode_v1},
     kern_cuda_attn_decode_supports},
    {KERN_OP_ATTN_PREFILL,
     1,
     KERN_BACKEND_CUDA,
     "cuBLAS S and PV, causal softmax kernel",
     {.attn_prefill = kern_cuda_attn_prefill_v1},
     NULL},
    {KERN_OP_ACT,
     1,
     KERN_BACKEND_CUDA,
     "element-wise SwiGLU / GELU",
     {.act = kern_cuda_act_v1},
     NULL},
    {KERN_OP_EMBED, 1, KERN_BACKEND_CUDA, "row gather", {.embed = kern_cuda_embed_v1}, NULL},
    {KERN_OP_EMBAG, 1, KERN_BACKEND_CUDA, "block per request", {.embag = kern_cuda_embag_v1}, NULL},
    {KERN_OP_BIAS_ACT,
     1,
     KERN_BACKEND_CUDA,
     "element-wise",
     {.bias_act = kern_cuda_bias_act_v1},
     NULL},
};

const struct kern__plugin kern__cuda_plugin = {
    .abi = KERN__PLUGIN_ABI,
    .backend_size = sizeof(struct kern_backend),
    .dev = &kern__dev_cuda,
    .variants = cuda_variants,
    .n_variants = sizeof cuda_variants / sizeof cuda_variants[0],
    .device_count = kern__cuda_device_count,
    .mem = kern__cuda_mem,
    .attn_decode_work = kern_cuda_attn_decode_work,
};
