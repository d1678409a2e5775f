/*
 * attn_decode.cu: attention of single query rows over the KV cache (decode steps, and the rows
 * of chunked prefills), contiguous or paged layout.
 *
 * Variants:
 *   v1 split-context ("flash-decoding", Dao et al. 2023): the context of each (row, KV head) is
 *      cut into chunks of at most 256 keys, one 128-thread block per chunk, so that a few long
 *      sequences still fill every multiprocessor. A block loads the group's queries (GQA: all
 *      query heads of one KV head share each K/V load), then
 *        1. scores: lanes are grouped LPK per key, each lane holding 8 head dims (one 16-byte
 *           load), dot products reduced by warp shuffles, written to shared memory;
 *        2. softmax of the chunk (max, exp, sum) per query head;
 *        3. P.V: the same lane grouping over V, then a reduction over the key groups in shared
 *           memory.
 *      With one split the block normalises and writes bf16; otherwise it writes unnormalised
 *      fp32 partials with their (max, sum), and a second kernel combines the splits
 *      (log-sum-exp rescaling). K and V are each read once: the kernel is bound by HBM
 *      bandwidth (napkin: bytes = 2 x sum(len) x kv_heads x head_dim x 2).
 *      Instantiated for LPK in {8, 16, 32} (head_dim <= 64, 128, 256), group size class
 *      {1, 4, 8} and both layouts: 18 kernels.
 */
#include "cuda_common.cuh"
#include "kern_cuda.h"

enum { NT = 128, CHUNK_MAX = 256, MIN_CHUNK = 32 };

template <bool PAGED>
static __device__ __forceinline__ size_t kv_tok(const struct kern_kv &kv, int slot, int t)
{
    if (PAGED)
        return (size_t)kv.block_table[(size_t)slot * kv.table_stride + t / kv.block_tok] *
                   kv.block_tok + t % kv.block_tok;
    return (size_t)slot * kv.slot_stride_tok + t;
}

template <int LPK, int GMAX, bool PAGED>
static __global__ void __launch_bounds__(NT)
    attn_split_kernel(struct kern_attn_decode_args a, int chunk, int n_split, uint32_t row0,
                      float *part_o, float *part_ml)
{
    constexpr int KPI = NT / LPK; /* keys per iteration of the block */
    extern __shared__ float smem[];
    const int G = (int)(a.n_heads / a.kv.kv_heads), d = (int)a.kv.head_dim;
    float *sc = smem;                       /* [G][chunk] scores, then probabilities */
    float *red = smem + GMAX * chunk;       /* [KPI][G][d] partial outputs */
    float *ml = red + KPI * GMAX * d;       /* [G][2] max and sum */
    const int split = blockIdx.x, kvh = blockIdx.y;
    const uint32_t row = row0 + blockIdx.z;
    const int len = a.len[row], slot = a.slot[row];
    const int begin = split * chunk, end = min(len, begin + chunk), nk = max(end - begin, 0);
    const int tid = threadIdx.x, lk = tid % LPK, ks = tid / LPK;
    const int dim0 = lk * 8;
    const bool act = dim0 < d;
    const size_t hstride = (size_t)a.kv.kv_heads * d;
    const bf16 *K = (const bf16 *)a.kv.k + (size_t)kvh * d + dim0;
    const bf16 *V = (const bf16 *)a.kv.v + (size_t)kvh * d + dim0;

    float q[GMAX][8];
    const bf16 *qp = (const bf16 *)a.q + (size_t)row * a.ldq + (size_t)kvh * G * d + dim0;
#pragma unroll
    for (int g = 0; g < GMAX; g++) {
        if (g < G && act) {
            load8(qp + (size_t)g * d, q[g]);
#pragma unroll
            for (int i = 0; i < 8; i++)
                q[g][i] *= a.scale;
        } else {
#pragma unroll
            for (int i = 0; i < 8; i++)
                q[g][i] = 0.0f;
        }
    }

    /* 1. scores. Two keys per lane group per step, both loads issued before either is used
     * (more bytes in flight per thread). Every lane runs the same trip count (the shuffles need
     * the whole warp); lanes past the chunk's end compute on zeros and store nothing. */
    for (int tb = begin; tb < end; tb += 2 * KPI) {
        float k[2][8];
        bool valid[2];
#pragma unroll
        for (int u = 0; u < 2; u++) {
            const int t = tb + u * KPI + ks;
            valid[u] = t < end;
#pragma unroll
            for (int i = 0; i < 8; i++)
                k[u][i] = 0.0f;
            if (act && valid[u])
                load8(K + kv_tok<PAGED>(a.kv, slot, t) * hstride, k[u]);
        }
#pragma unroll
        for (int u = 0; u < 2; u++) {
            const int t = tb + u * KPI + ks;
#pragma unroll
            for (int g = 0; g < GMAX; g++) {
                if (g >= G)
                    break;
                float s = 0;
#pragma unroll
                for (int i = 0; i < 8; i++)
                    s += q[g][i] * k[u][i];
#pragma unroll
                for (int o = LPK / 2; o > 0; o >>= 1)
                    s += __shfl_xor_sync(0xffffffffu, s, o);
                if (lk == 0 && valid[u])
                    sc[g * chunk + (t - begin)] = s;
            }
        }
    }
    __syncthreads();

    /* 2. softmax of the chunk, one warp per query head */
    const int lane = tid & 31, warp = tid >> 5;
    for (int g = warp; g < G; g += NT / 32) {
        float m = -INFINITY;
        for (int j = lane; j < nk; j += 32)
            m = fmaxf(m, sc[g * chunk + j]);
        m = warp_max(m);
        float l = 0;
        for (int j = lane; j < nk; j += 32) {
            float p = __expf(sc[g * chunk + j] - m);
            sc[g * chunk + j] = p;
            l += p;
        }
        l = warp_sum(l);
        if (lane == 0) {
            ml[2 * g] = m;
            ml[2 * g + 1] = l;
        }
    }
    __syncthreads();

    /* 3. P.V */
    float acc[GMAX][8];
#pragma unroll
    for (int g = 0; g < GMAX; g++)
#pragma unroll
        for (int i = 0; i < 8; i++)
            acc[g][i] = 0.0f;
    for (int tb = begin; tb < end; tb += 2 * KPI) {
        float v[2][8];
        bool valid[2];
#pragma unroll
        for (int u = 0; u < 2; u++) {
            const int t = tb + u * KPI + ks;
            valid[u] = t < end;
#pragma unroll
            for (int i = 0; i < 8; i++)
                v[u][i] = 0.0f;
            if (act && valid[u])
                load8(V + kv_tok<PAGED>(a.kv, slot, t) * hstride, v[u]);
        }
#pragma unroll
        for (int u = 0; u < 2; u++) {
            if (!valid[u])
                continue;
            const int t = tb + u * KPI + ks;
#pragma unroll
            for (int g = 0; g < GMAX; g++) {
                if (g >= G)
                    break;
                float p = sc[g * chunk + (t - begin)];
#pragma unroll
                for (int i = 0; i < 8; i++)
                    acc[g][i] += p * v[u][i];
            }
        }
    }
    if (act) {
#pragma unroll
        for (int g = 0; g < GMAX; g++) {
            if (g >= G)
                break;
#pragma unroll
            for (int i = 0; i < 8; i++)
                red[((size_t)ks * G + g) * d + dim0 + i] = acc[g][i];
        }
    }
    __syncthreads();

    for (int idx = tid; idx < G * d; idx += NT) {
        int g = idx / d, e = idx % d;
        float s = 0;
        for (int j = 0; j < KPI; j++)
            s += red[((size_t)j * G + g) * d + e];
        int h = kvh * G + g;
        if (n_split == 1) {
            bf16 *o = (bf16 *)a.o + (size_t)row * a.ldo + (size_t)h * d;
            o[e] = __float2bfloat16_rn(s / ml[2 * g + 1]);
        } else {
            size_t base = ((size_t)blockIdx.z * a.n_heads + h) * n_split + split;
            part_o[base * d + e] = s;
            if (e == 0) {
                part_ml[2 * base] = ml[2 * g];
                part_ml[2 * base + 1] = ml[2 * g + 1];
            }
        }
    }
}

static __global__ void attn_combine_kernel(struct kern_attn_decode_args a, int n_split,
                                           uint32_t row0, const float *part_o,
                                           const float *part_ml)
{
    const uint32_t r = blockIdx.x, h = blockIdx.y, d = a.kv.head_dim;
    const size_t base = ((size_t)r * a.n_heads + h) * n_split;
    float M = -INFINITY;
    for (int s = 0; s < n_split; s++)
        M = fmaxf(M, part_ml[2 * (base + s)]);
    float L = 0;
    for (int s = 0; s < n_split; s++) {
        float m = part_ml[2 * (base + s)];
        L += m == -INFINITY ? 0.0f : part_ml[2 * (base + s) + 1] * __expf(m - M);
    }
    bf16 *o = (bf16 *)a.o + (size_t)(row0 + r) * a.ldo + (size_t)h * d;
    for (uint32_t e = threadIdx.x; e < d; e += blockDim.x) {
        float acc = 0;
        for (int s = 0; s < n_split; s++) {
            float m = part_ml[2 * (base + s)];
            if (m != -INFINITY)
                acc += part_o[(base + s) * d + e] * __expf(m - M);
        }
        o[e] = __float2bfloat16_rn(acc / L);
    }
}

struct plan {
    int lpk, gmax, chunk, n_split;
};

/* Choose lanes per key, group class, chunk and split count. Returns 0, or -1 if unsupported. */
static int make_plan(uint32_t n, uint32_t n_heads, uint32_t kv_heads, uint32_t d,
                     uint32_t max_len, int n_sm, struct plan *p)
{
    if (!kv_heads || n_heads % kv_heads || d % 8 || d > 256 || !max_len)
        return -1;
    uint32_t G = n_heads / kv_heads;
    if (G > 8)
        return -1;
    p->lpk = d <= 64 ? 8 : d <= 128 ? 16 : 32;
    p->gmax = G == 1 ? 1 : G <= 4 ? 4 : 8;
    int kpi = NT / p->lpk;
    /* At least four blocks per multiprocessor when the rows allow, without chunks under
     * MIN_CHUNK keys; never a chunk over CHUNK_MAX (its scores live in shared memory). */
    size_t base = (size_t)(n ? n : 1) * kv_heads;
    size_t want = (4 * (size_t)(n_sm > 0 ? n_sm : 132) + base - 1) / base;
    size_t lo = (max_len + CHUNK_MAX - 1) / CHUNK_MAX, hi = (max_len + MIN_CHUNK - 1) / MIN_CHUNK;
    size_t s = want < lo ? lo : want > hi ? (hi > lo ? hi : lo) : want;
    int chunk = (int)((max_len + s - 1) / s);
    chunk = (chunk + kpi - 1) / kpi * kpi;
    if (chunk > CHUNK_MAX)
        chunk = CHUNK_MAX;
    p->chunk = chunk;
    p->n_split = (int)((max_len + chunk - 1) / chunk);
    return 0;
}

static size_t smem_bytes(const struct plan *p, uint32_t G, uint32_t d)
{
    (void)G;
    return sizeof(float) * ((size_t)p->gmax * p->chunk + (size_t)(NT / p->lpk) * p->gmax * d +
                            2 * (size_t)p->gmax);
}

extern "C" size_t kern_cuda_attn_decode_work(uint32_t n, uint32_t n_heads, uint32_t kv_heads,
                                             uint32_t head_dim, uint32_t max_len, int n_sm)
{
    struct plan p;
    if (make_plan(n, n_heads, kv_heads, head_dim, max_len, n_sm, &p) || p.n_split == 1)
        return 0;
    return sizeof(float) * (size_t)n * n_heads * p.n_split * (head_dim + 2);
}

extern "C" int kern_cuda_attn_decode_supports(const void *args)
{
    const struct kern_attn_decode_args *a = (const struct kern_attn_decode_args *)args;
    if (!a)
        return 1; /* the variant in general */
    struct plan p;
    return !make_plan(a->n, a->n_heads, a->kv.kv_heads, a->kv.head_dim, a->max_len ? a->max_len : 1,
                      132, &p);
}

typedef void (*split_fn)(struct kern_attn_decode_args, int, int, uint32_t, float *, float *);

template <int LPK, int GMAX>
static split_fn pick_layout(bool paged)
{
    return paged ? attn_split_kernel<LPK, GMAX, true> : attn_split_kernel<LPK, GMAX, false>;
}

template <int LPK>
static split_fn pick_group(int gmax, bool paged)
{
    return gmax == 1 ? pick_layout<LPK, 1>(paged)
           : gmax == 4 ? pick_layout<LPK, 4>(paged)
                       : pick_layout<LPK, 8>(paged);
}

extern "C" int kern_cuda_attn_decode_v1(const struct kern_ctx *c,
                                        const struct kern_attn_decode_args *a)
{
    if (!a->n)
        return SIM_OK;
    struct plan p;
    if (make_plan(a->n, a->n_heads, a->kv.kv_heads, a->kv.head_dim, a->max_len, c->n_sm, &p))
        return SIM_ECONFIG;
    bool paged = a->kv.layout == KERN_KV_PAGED;
    split_fn fn = p.lpk == 8    ? pick_group<8>(p.gmax, paged)
                  : p.lpk == 16 ? pick_group<16>(p.gmax, paged)
                                : pick_group<32>(p.gmax, paged);
    uint32_t G = a->n_heads / a->kv.kv_heads, d = a->kv.head_dim;
    size_t sm = smem_bytes(&p, G, d);
    cudaStream_t st = (cudaStream_t)c->stream;
    /* Rows per launch: what the scratch holds for the partials (all of them with one split),
     * and the grid's z limit. */
    size_t per_row = sizeof(float) * (size_t)a->n_heads * p.n_split * (d + 2);
    size_t rows = p.n_split == 1 ? a->n : (c->work_bytes / per_row);
    if (rows == 0)
        return SIM_ECONFIG;
    if (rows > 65535)
        rows = 65535;
    float *part_o = (float *)c->work;
    float *part_ml = part_o + (p.n_split == 1 ? 0 : rows * a->n_heads * p.n_split * d);
    for (uint32_t r0 = 0; r0 < a->n; r0 += (uint32_t)rows) {
        uint32_t nr = a->n - r0 < rows ? a->n - r0 : (uint32_t)rows;
        dim3 grid((unsigned)p.n_split, a->kv.kv_heads, nr);
        fn<<<grid, NT, sm, st>>>(*a, p.chunk, p.n_split, r0, part_o, part_ml);
        KERN_LAUNCH_CHECK();
        if (p.n_split > 1) {
            attn_combine_kernel<<<dim3(nr, a->n_heads), 128, 0, st>>>(*a, p.n_split, r0, part_o,
                                                                      part_ml);
            KERN_LAUNCH_CHECK();
        }
    }
    return SIM_OK;
}
