/*
 * attn_decode.cu: attention of single query rows over the KV cache (decode steps, and the rows
 * of chunked prefills), contiguous or paged layout.
 *
 * Variants:
 *   v1 split-context ("flash-decoding", Dao et al. 2023): the context of each (row, KV head) is
 *      cut into chunks of 64 to 256 keys, one 128-thread block per chunk, with as many chunks as
 *      one full wave of resident blocks needs (kernels/decode_plan.c). A block first stages the
 *      chunk's token rows in shared memory (paged: one block-table lookup and division per key
 *      per block, none in the loops), then
 *        1. scores on tensor cores: each warp takes 16 keys at a time and computes the scores of
 *           all G query heads of the KV head at once with mma.m16n8k16 (bf16 in, fp32
 *           accumulate): A = the 16 keys (rows) x 16 head dims, B = 16 head dims x the G heads
 *           (n = 8, heads >= G are zeros). Each lane loads 16 bytes of a key row per 32-dim
 *           slice; the dot product does not depend on the order of the head dims, so the
 *           fragment's k positions are assigned to the dims each lane loaded (the same
 *           assignment for A and B: lane t%4 of every group holds dims 8(t%4) .. 8(t%4)+7 of the
 *           slice, as k = 2(t%4), 2(t%4)+1, 2(t%4)+8, 2(t%4)+9 of two MMAs). Layouts: PTX ISA,
 *           "Matrix Fragments for mma.m16n8k16 with floating point type". K is read once for all
 *           G heads, and no shuffle reduction is left;
 *        2. softmax of the chunk (max, exp, sum) per query head, one warp per head;
 *        3. P.V on CUDA cores: LPK lanes per key, 8 head dims (one 16-byte load) per lane, four
 *           keys per lane group per trip (loads issued before use), the G probabilities of a key
 *           read as one vector from shared memory; then a reduction over the key groups in
 *           shared memory (reusing the scores' space).
 *      With one split the block normalises and writes bf16; otherwise it writes unnormalised
 *      fp32 partials with their (max, sum), and a second kernel combines the splits
 *      (log-sum-exp rescaling). K and V are each read once: the kernel is bound by HBM
 *      bandwidth (napkin: bytes = 2 x sum(len) x kv_heads x head_dim x 2).
 *      Instantiated for LPK in {8, 16, 32} (head_dim <= 64, 128, 256), group class {1, 4, 8}
 *      (groups 1..8, any size) and both layouts: 18 kernels. Needs sm_80 or newer (mma.bf16).
 *      `make sass` prints their registers, occupancy and instructions per KB.
 */
#include "cuda_common.cuh"
#include "decode_plan.h"
#include "kern_cuda.h"

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#error "attn_decode.cu needs sm_80 or newer (mma.sync m16n8k16 with bf16); set -Dsm_arch"
#endif

enum { NT = KERN_DECODE_NT, TILE = 16, U = 4 };

/* D (16 x 8 fp32) += A (16 x 16 bf16, row) . B (16 x 8 bf16, col). */
static __device__ __forceinline__ void mma_bf16(float c[4], uint32_t a0, uint32_t a1, uint32_t a2,
                                                uint32_t a3, uint32_t b0, uint32_t b1)
{
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

template <int LPK, int GMAX, bool PAGED>
static __global__ void __launch_bounds__(NT)
    attn_split_kernel(struct kern_attn_decode_args a, int chunk, int n_split, uint32_t row0,
                      float *part_o, float *part_ml)
{
    constexpr int KPI = NT / LPK; /* keys per block-wide step of the P.V pass */
    constexpr int NSL = LPK / 4;  /* 32-dim slices of the score pass (head_dim <= 8 LPK) */
    extern __shared__ float4 smem4[];
    float *smem = reinterpret_cast<float *>(smem4);
    const int G = (int)(a.n_heads / a.kv.kv_heads), d = (int)a.kv.head_dim;
    const int big = max(chunk * GMAX, KPI * GMAX * d);
    float *sc = smem;  /* [chunk][GMAX] scores, then probabilities */
    float *red = smem; /* after the P.V pass: [KPI][GMAX][d] partial outputs */
    float *ml = smem + big;                           /* [GMAX][2] max and sum */
    int32_t *tok = reinterpret_cast<int32_t *>(ml + 2 * GMAX); /* [chunk] token rows (paged) */
    const int split = blockIdx.x, kvh = blockIdx.y;
    const uint32_t row = row0 + blockIdx.z;
    const int len = a.len[row], slot = a.slot[row];
    const int begin = split * chunk, nk = max(min(len, begin + chunk) - begin, 0);
    const int tid = threadIdx.x;
    const size_t hstride = (size_t)a.kv.kv_heads * d; /* elements per token row */
    const size_t cbase = (size_t)slot * a.kv.slot_stride_tok + begin; /* contiguous */

    if (PAGED) {
        const int32_t *bt = a.kv.block_table + (size_t)slot * a.kv.table_stride;
        const int btok = (int)a.kv.block_tok;
        for (int j = tid; j < nk; j += NT) {
            const int t = begin + j;
            tok[j] = bt[t / btok] * btok + t % btok;
        }
        __syncthreads();
    }
    /* element offset of key j of the chunk (j < nk) in K or V, head kvh, dim 0 */
    auto key_off = [&](int j) -> size_t {
        return (PAGED ? (size_t)tok[j] : cbase + (size_t)j) * hstride + (size_t)kvh * d;
    };

    /* 1. scores on tensor cores */
    const int lane = tid & 31, warp = tid >> 5, grp = lane >> 2, tq = lane & 3;
    uint32_t qf[NSL][4];
    {
        const bf16 *qp = (const bf16 *)a.q + (size_t)row * a.ldq + (size_t)(kvh * G + grp) * d;
#pragma unroll
        for (int s = 0; s < NSL; s++) {
            const int dim = 32 * s + 8 * tq;
            uint4 v = make_uint4(0, 0, 0, 0);
            if (grp < G && dim < d)
                v = ld16(qp + dim);
            qf[s][0] = v.x;
            qf[s][1] = v.y;
            qf[s][2] = v.z;
            qf[s][3] = v.w;
        }
    }
    const bf16 *K = (const bf16 *)a.kv.k + 8 * tq;
    for (int j0 = warp * TILE + grp; j0 < nk + grp; j0 += (NT / 32) * TILE) {
        const int j1 = j0 + 8;
        const bool v0 = j0 < nk, v1 = j1 < nk;
        const bf16 *k0p = K + key_off(v0 ? j0 : 0), *k1p = K + key_off(v1 ? j1 : 0);
        uint4 k0[NSL], k1[NSL];
#pragma unroll
        for (int s = 0; s < NSL; s++) {
            const bool dv = 32 * s + 8 * tq < d;
            k0[s] = v0 && dv ? ld16(k0p + 32 * s) : make_uint4(0, 0, 0, 0);
            k1[s] = v1 && dv ? ld16(k1p + 32 * s) : make_uint4(0, 0, 0, 0);
        }
        float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int s = 0; s < NSL; s++) {
            mma_bf16(c, k0[s].x, k1[s].x, k0[s].y, k1[s].y, qf[s][0], qf[s][1]);
            mma_bf16(c, k0[s].z, k1[s].z, k0[s].w, k1[s].w, qf[s][2], qf[s][3]);
        }
        /* c[0], c[1]: key j0, heads 2 tq, 2 tq + 1; c[2], c[3]: key j1 */
        if (GMAX == 1) {
            if (tq == 0 && v0)
                sc[j0] = c[0] * a.scale;
            if (tq == 0 && v1)
                sc[j1] = c[2] * a.scale;
        } else if (2 * tq < GMAX) {
            if (v0)
                *reinterpret_cast<float2 *>(sc + j0 * GMAX + 2 * tq) =
                    make_float2(c[0] * a.scale, c[1] * a.scale);
            if (v1)
                *reinterpret_cast<float2 *>(sc + j1 * GMAX + 2 * tq) =
                    make_float2(c[2] * a.scale, c[3] * a.scale);
        }
    }
    __syncthreads();

    /* 2. softmax of the chunk, one warp per query head */
    for (int g = warp; g < G; g += NT / 32) {
        float m = -INFINITY;
        for (int j = lane; j < nk; j += 32)
            m = fmaxf(m, sc[j * GMAX + g]);
        m = warp_max(m);
        float l = 0;
        for (int j = lane; j < nk; j += 32) {
            float p = __expf(sc[j * GMAX + g] - m);
            sc[j * GMAX + g] = p;
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
    const int lk = tid % LPK, ks = tid / LPK, dim0 = lk * 8;
    const bool act = dim0 < d;
    const bf16 *V = (const bf16 *)a.kv.v + dim0;
    float acc[GMAX][8];
#pragma unroll
    for (int g = 0; g < GMAX; g++)
#pragma unroll
        for (int i = 0; i < 8; i++)
            acc[g][i] = 0.0f;
    for (int jb = ks; jb < nk; jb += U * KPI) {
        uint4 vv[U];
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int j = jb + u * KPI;
            vv[u] = act && j < nk ? ld16(V + key_off(j)) : make_uint4(0, 0, 0, 0);
        }
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int j = jb + u * KPI;
            if (j >= nk)
                break;
            float p[GMAX], f[8];
            if (GMAX == 1) {
                p[0] = sc[j];
            } else {
#pragma unroll
                for (int g = 0; g < GMAX; g += 4) {
                    float4 t = *reinterpret_cast<const float4 *>(sc + j * GMAX + g);
                    p[g] = t.x;
                    p[g + 1] = t.y;
                    p[g + 2] = t.z;
                    p[g + 3] = t.w;
                }
            }
            unpack8(vv[u], f);
#pragma unroll
            for (int g = 0; g < GMAX; g++)
#pragma unroll
                for (int i = 0; i < 8; i++)
                    acc[g][i] += p[g] * f[i];
        }
    }
    __syncthreads(); /* every lane is done with sc: red reuses its space */
    if (act) {
#pragma unroll
        for (int g = 0; g < GMAX; g++) {
            if (g >= G)
                break;
#pragma unroll
            for (int i = 0; i < 8; i++)
                red[((size_t)ks * GMAX + g) * d + dim0 + i] = acc[g][i];
        }
    }
    __syncthreads();

    for (int idx = tid; idx < G * d; idx += NT) {
        int g = idx / d, e = idx % d;
        float s = 0;
        for (int j = 0; j < KPI; j++)
            s += red[((size_t)j * GMAX + g) * d + e];
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

static split_fn pick(int lpk, int gmax, bool paged)
{
    return lpk == 8 ? pick_group<8>(gmax, paged)
           : lpk == 16 ? pick_group<16>(gmax, paged)
                       : pick_group<32>(gmax, paged);
}

/* Resident blocks per SM of a kernel at the largest shared memory of its class (chunk 256,
 * head_dim 8 LPK), so that the plan never counts on more blocks than fit; queried once per kernel
 * (a benign race: every thread stores the same value); 4 if the query fails. */
static int occupancy_of(int lpk, int gmax, bool paged)
{
    static int cache[3][3][2];
    int *c = &cache[lpk == 8 ? 0 : lpk == 16 ? 1 : 2][gmax == 1 ? 0 : gmax == 4 ? 1 : 2][paged];
    if (!*c) {
        struct kern_decode_plan p = {lpk, gmax, KERN_DECODE_MAX_CHUNK, 2};
        int n = 0;
        if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, pick(lpk, gmax, paged), NT,
                                                          kern_decode_smem(&p, 8u * lpk)) !=
                cudaSuccess ||
            n <= 0) {
            cudaGetLastError();
            n = 4;
        }
        *c = n;
    }
    return *c;
}

extern "C" void kern_cuda_attn_decode_warm(void)
{
    static const int lpks[] = {8, 16, 32}, gs[] = {1, 4, 8};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            for (int p = 0; p < 2; p++)
                occupancy_of(lpks[i], gs[j], p != 0);
}

extern "C" size_t kern_cuda_attn_decode_work(uint32_t n, uint32_t n_heads, uint32_t kv_heads,
                                             uint32_t head_dim, uint32_t max_len, int n_sm)
{
    return kern_decode_work(n, n_heads, kv_heads, head_dim, max_len, n_sm);
}

extern "C" int kern_cuda_attn_decode_supports(const void *args)
{
    const struct kern_attn_decode_args *a = (const struct kern_attn_decode_args *)args;
    if (!a)
        return 1; /* the variant in general */
    struct kern_decode_plan p;
    /* 16-byte loads of q rows and K/V token rows (head_dim % 8 makes the rows' offsets
     * multiples of 16 bytes once the bases are aligned). */
    if (a->ldq % 8 || !kern_aligned16(a->q) || !kern_aligned16(a->kv.k) ||
        !kern_aligned16(a->kv.v))
        return 0;
    return !kern_decode_plan_make(a->n, a->n_heads, a->kv.kv_heads, a->kv.head_dim,
                                  a->max_len ? a->max_len : 1, 132, 4, &p);
}

extern "C" int kern_cuda_attn_decode_v1(const struct kern_ctx *c,
                                        const struct kern_attn_decode_args *a)
{
    if (!a->n)
        return SIM_OK;
    if (!kern_cuda_attn_decode_supports(a))
        return SIM_ECONFIG;
    struct kern_decode_plan p;
    if (kern_decode_plan_make(a->n, a->n_heads, a->kv.kv_heads, a->kv.head_dim, 1, c->n_sm, 1,
                              &p))
        return SIM_ECONFIG;
    bool paged = a->kv.layout == KERN_KV_PAGED;
    int occ = occupancy_of(p.lpk, p.gmax, paged);
    if (kern_decode_plan_make(a->n, a->n_heads, a->kv.kv_heads, a->kv.head_dim, a->max_len,
                              c->n_sm, occ, &p))
        return SIM_ECONFIG;
    split_fn fn = pick(p.lpk, p.gmax, paged);
    uint32_t d = a->kv.head_dim;
    size_t sm = kern_decode_smem(&p, d);
    cudaStream_t st = (cudaStream_t)c->stream;
    /* Rows per launch: what the scratch holds for the partials (all of them with one split),
     * and the grid's z limit. The scratch is sized so that at least one row fits in every plan
     * (kern_decode_work; tests/test_decode_plan.c). */
    uint32_t rows = kern_decode_rows_per_launch(&p, a->n, a->n_heads, d, c->work_bytes);
    if (rows == 0)
        return SIM_ECONFIG;
    float *part_o = (float *)c->work;
    float *part_ml = part_o + (p.n_split == 1 ? 0 : (size_t)rows * a->n_heads * p.n_split * d);
    for (uint32_t r0 = 0; r0 < a->n; r0 += rows) {
        uint32_t nr = a->n - r0 < rows ? a->n - r0 : rows;
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
