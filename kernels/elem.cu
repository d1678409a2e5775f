/*
 * elem.cu: the row-wise and element-wise ops on CUDA, all memory-bound, all v1:
 *   fill      grid-stride, counter-based random (kern_rand.h), same values as the CPU backend;
 *   rmsnorm   one block of 256 threads per row, fp32 sum of squares, optional row gather;
 *   rope      one thread per rotated pair, angle in fp32 (as the reference), sincosf;
 *   kv_append one thread per 8 elements (one 16-byte load and store, uint4) of K or V, both
 *             cache layouts; refuses (SIM_ECONFIG) sources or caches not 16-byte aligned;
 *   act       one thread per output element, SwiGLU or tanh-GELU in fp32;
 *   embed     one thread per element; embag: one block per request; bias_act: per element.
 * Grids use 64-bit indices where n x width can pass 2^31 (activations of 8192 x 28672 rows).
 */
#include "cuda_common.cuh"
#include "kern_cuda.h"
#include "kern_rand.h"

static __global__ void fill_kernel(bf16 *p, size_t n, uint64_t seed, float scale, float off)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        p[i] = __float2bfloat16_rn(off + scale * kern_rand_u(seed, i));
}

extern "C" int kern_cuda_fill_bf16(void *p, size_t n, uint64_t seed, float scale, float offset,
                                   void *stream)
{
    if (!n)
        return SIM_OK;
    unsigned blocks = kern_div_up(n, 256);
    if (blocks > 65535u * 4)
        blocks = 65535u * 4;
    fill_kernel<<<blocks, 256, 0, (cudaStream_t)stream>>>((bf16 *)p, n, seed, scale, offset);
    KERN_LAUNCH_CHECK();
    return SIM_OK;
}

/* Issue 18: the L2 flush by reading (a memset left the flush buffer's lines dirty in L2, to be
 * written back inside the next timed interval). Every 16 bytes of the buffer are read; the xor of
 * what was read goes to *sink only when it equals a value no run can rely on, so the loads are
 * kept and nothing is written in practice. Clean lines evict for free. */
static __global__ void l2_read_kernel(const uint4 *p, size_t n, uint32_t *sink)
{
    uint32_t x = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        uint4 v = p[i];
        x ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    if (x == 0x9e3779b9u)
        *sink = x;
}

extern "C" int kern_cuda_l2_flush(const void *buf, size_t bytes, void *stream)
{
    size_t n = bytes / 16;
    if (!n)
        return SIM_OK;
    unsigned blocks = kern_div_up(n, 256);
    if (blocks > 65535u * 4)
        blocks = 65535u * 4;
    /* the sink is the buffer's first word: a write there (never in practice) is harmless */
    l2_read_kernel<<<blocks, 256, 0, (cudaStream_t)stream>>>((const uint4 *)buf, n,
                                                             (uint32_t *)buf);
    KERN_LAUNCH_CHECK();
    return SIM_OK;
}

static __global__ void rmsnorm_kernel(struct kern_rmsnorm_args a)
{
    __shared__ float sh[33];
    uint32_t i = blockIdx.x;
    size_t r = a.rows ? (size_t)a.rows[i] : i;
    const bf16 *x = (const bf16 *)a.x + r * a.ldx;
    const bf16 *w = (const bf16 *)a.w;
    bf16 *y = (bf16 *)a.y + (size_t)i * a.ldy;
    float ss = 0;
    for (uint32_t j = threadIdx.x; j < a.dim; j += blockDim.x) {
        float v = __bfloat162float(x[j]);
        ss += v * v;
    }
    ss = block_sum(ss, sh);
    float inv = rsqrtf(ss / (float)a.dim + a.eps);
    for (uint32_t j = threadIdx.x; j < a.dim; j += blockDim.x)
        y[j] = __float2bfloat16_rn(__bfloat162float(x[j]) * inv * __bfloat162float(w[j]));
}

extern "C" int kern_cuda_rmsnorm_v1(const struct kern_ctx *c, const struct kern_rmsnorm_args *a)
{
    if (!a->n)
        return SIM_OK;
    rmsnorm_kernel<<<a->n, 256, 0, (cudaStream_t)c->stream>>>(*a);
    KERN_LAUNCH_CHECK();
    return SIM_OK;
}

static __global__ void rope_kernel(struct kern_rope_args a)
{
    uint32_t half = a.head_dim / 2;
    size_t per_row = (size_t)a.n_heads * half;
    size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (t >= per_row * a.n)
        return;
    size_t i = t / per_row, rem = t % per_row;
    uint32_t h = (uint32_t)(rem / half), j = (uint32_t)(rem % half);
    bf16 *x = (bf16 *)a.x + i * a.ldx + (size_t)h * a.head_dim;
    float inv = powf(a.theta, -2.0f * (float)j / (float)a.head_dim);
    float ang = (float)a.pos[i] * inv, s, co;
    sincosf(ang, &s, &co);
    float x0 = __bfloat162float(x[j]), x1 = __bfloat162float(x[j + half]);
    x[j] = __float2bfloat16_rn(x0 * co - x1 * s);
    x[j + half] = __float2bfloat16_rn(x0 * s + x1 * co);
}

extern "C" int kern_cuda_rope_supports(const void *args)
{
    const struct kern_rope_args *a = (const struct kern_rope_args *)args;
    return !a || a->head_dim % 2 == 0;
}

extern "C" int kern_cuda_rope_v1(const struct kern_ctx *c, const struct kern_rope_args *a)
{
    size_t n = (size_t)a->n * a->n_heads * (a->head_dim / 2);
    if (!n)
        return SIM_OK;
    rope_kernel<<<kern_div_up(n, 256), 256, 0, (cudaStream_t)c->stream>>>(*a);
    KERN_LAUNCH_CHECK();
    return SIM_OK;
}

/* Element offset of token t, KV head h of slot s (as kern_ref_kv_offset). */
static __device__ __forceinline__ size_t kv_off(const struct kern_kv &kv, uint32_t s, uint32_t t,
                                                uint32_t h)
{
    size_t tok;
    if (kv.layout == KERN_KV_CONTIGUOUS)
        tok = (size_t)s * kv.slot_stride_tok + t;
    else
        tok = (size_t)kv.block_table[(size_t)s * kv.table_stride + t / kv.block_tok] *
                  kv.block_tok + t % kv.block_tok;
    return (tok * kv.kv_heads + h) * kv.head_dim;
}

static __global__ void kv_append_kernel(struct kern_kv_append_args a)
{
    uint32_t d8 = a.kv.head_dim / 8, per_row = a.kv.kv_heads * d8;
    size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (t >= (size_t)per_row * a.n * 2)
        return;
    int is_v = t >= (size_t)per_row * a.n;
    size_t u = is_v ? t - (size_t)per_row * a.n : t;
    size_t i = u / per_row;
    uint32_t rem = (uint32_t)(u % per_row), h = rem / d8, c = rem % d8;
    const bf16 *src = (const bf16 *)a.src + i * a.ld_src + (is_v ? a.v_off : a.k_off) +
                      (size_t)h * a.kv.head_dim + 8 * c;
    bf16 *dst = (bf16 *)(is_v ? a.kv.v : a.kv.k) +
                kv_off(a.kv, (uint32_t)a.slot[i], (uint32_t)a.pos[i], h) + 8 * c;
    st16(dst, ld16(src)); /* one LDG.E.128 and one STG.E.128 (issue 18) */
}

/* 16-byte copies: every source row, head and cache token row starts on 16 bytes. */
extern "C" int kern_cuda_kv_append_supports(const void *args)
{
    const struct kern_kv_append_args *a = (const struct kern_kv_append_args *)args;
    return !a || !(a->kv.head_dim % 8 || a->ld_src % 8 || a->k_off % 8 || a->v_off % 8 ||
                   !kern_aligned16(a->src) || !kern_aligned16(a->kv.k) || !kern_aligned16(a->kv.v));
}

extern "C" int kern_cuda_kv_append_v1(const struct kern_ctx *c,
                                      const struct kern_kv_append_args *a)
{
    size_t n = (size_t)a->n * a->kv.kv_heads * (a->kv.head_dim / 8) * 2;
    if (!n)
        return SIM_OK;
    if (!kern_cuda_kv_append_supports(a))
        return SIM_ECONFIG;
    kv_append_kernel<<<kern_div_up(n, 256), 256, 0, (cudaStream_t)c->stream>>>(*a);
    KERN_LAUNCH_CHECK();
    return SIM_OK;
}

static __global__ void act_kernel(struct kern_act_args a)
{
    size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (t >= (size_t)a.n * a.ffn)
        return;
    size_t i = t / a.ffn, j = t % a.ffn;
    const bf16 *x = (const bf16 *)a.x + i * a.ldx;
    float g = __bfloat162float(x[j]), y;
    if (a.gated) {
        y = g / (1.0f + expf(-g)) * __bfloat162float(x[a.ffn + j]);
    } else {
        y = 0.5f * g * (1.0f + tanhf(0.7978845608f * (g + 0.044715f * g * g * g)));
    }
    ((bf16 *)a.y)[i * a.ldy + j] = __float2bfloat16_rn(y);
}

extern "C" int kern_cuda_act_v1(const struct kern_ctx *c, const struct kern_act_args *a)
{
    size_t n = (size_t)a->n * a->ffn;
    if (!n)
        return SIM_OK;
    act_kernel<<<kern_div_up(n, 256), 256, 0, (cudaStream_t)c->stream>>>(*a);
    KERN_LAUNCH_CHECK();
    return SIM_OK;
}

static __global__ void embed_kernel(struct kern_embed_args a)
{
    size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (t >= (size_t)a.n * a.dim)
        return;
    size_t i = t / a.dim, j = t % a.dim;
    ((bf16 *)a.y)[i * a.ldy + j] = ((const bf16 *)a.table)[(size_t)a.ids[i] * a.dim + j];
}

extern "C" int kern_cuda_embed_v1(const struct kern_ctx *c, const struct kern_embed_args *a)
{
    size_t n = (size_t)a->n * a->dim;
    if (!n)
        return SIM_OK;
    embed_kernel<<<kern_div_up(n, 256), 256, 0, (cudaStream_t)c->stream>>>(*a);
    KERN_LAUNCH_CHECK();
    return SIM_OK;
}

static __global__ void embag_kernel(struct kern_embag_args a)
{
    uint32_t r = blockIdx.x;
    int32_t b = a.offs[r], e = a.offs[r + 1];
    const bf16 *tab = (const bf16 *)a.table;
    for (uint32_t j = threadIdx.x; j < a.dim; j += blockDim.x) {
        float s = 0;
        for (int32_t q = b; q < e; q++)
            s += __bfloat162float(tab[(size_t)a.idx[q] * a.dim + j]);
        float v = (e > b ? s / (float)(e - b) : 0.0f) + __bfloat162float(((const bf16 *)a.bias)[j]);
        ((bf16 *)a.y)[(size_t)r * a.ldy + j] = __float2bfloat16_rn(v > 0 ? v : 0.0f);
    }
}

extern "C" int kern_cuda_embag_v1(const struct kern_ctx *c, const struct kern_embag_args *a)
{
    if (!a->n)
        return SIM_OK;
    embag_kernel<<<a->n, 256, 0, (cudaStream_t)c->stream>>>(*a);
    KERN_LAUNCH_CHECK();
    return SIM_OK;
}

static __global__ void bias_act_kernel(struct kern_bias_act_args a)
{
    size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (t >= (size_t)a.n * a.dim)
        return;
    size_t i = t / a.dim, j = t % a.dim;
    bf16 *x = (bf16 *)a.x + i * a.ldx + j;
    float v = __bfloat162float(*x) + __bfloat162float(((const bf16 *)a.bias)[j]);
    *x = __float2bfloat16_rn(a.relu && v < 0 ? 0.0f : v);
}

extern "C" int kern_cuda_bias_act_v1(const struct kern_ctx *c, const struct kern_bias_act_args *a)
{
    size_t n = (size_t)a->n * a->dim;
    if (!n)
        return SIM_OK;
    bias_act_kernel<<<kern_div_up(n, 256), 256, 0, (cudaStream_t)c->stream>>>(*a);
    KERN_LAUNCH_CHECK();
    return SIM_OK;
}
