/*
 * cuda_common.cuh: what every kernels/<op>.cu file shares: the launch check (R8), bf16 vector
 * loads, and warp/block reductions. Device-only helpers are static inline; nothing here has
 * linkage.
 */
#ifndef LENSIM_CUDA_COMMON_CUH
#define LENSIM_CUDA_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <stdint.h>
#include <stdio.h>

/* sim.h is C11; its one C11-only word has a C++ spelling. */
#ifndef _Noreturn
#define _Noreturn [[noreturn]]
#endif
#include "sim.h"

typedef __nv_bfloat16 bf16;

/* After a launch: a bad configuration shows up here; report it and return SIM_ECUDA. */
#define KERN_LAUNCH_CHECK()                                                                 \
    do {                                                                                    \
        cudaError_t e_ = cudaGetLastError();                                                \
        if (e_ != cudaSuccess) {                                                            \
            fprintf(stderr, "lensim: %s:%d: launch failed: %s\n", __FILE__, __LINE__,       \
                    cudaGetErrorString(e_));                                                \
            return SIM_ECUDA;                                                               \
        }                                                                                   \
    } while (0)

/* Eight bf16 in one 16-byte access. */
struct __align__(16) bf16x8 {
    __nv_bfloat162 h[4];
};

static __device__ __forceinline__ void load8(const bf16 *p, float f[8])
{
    bf16x8 v = *reinterpret_cast<const bf16x8 *>(p);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        float2 t = __bfloat1622float2(v.h[i]);
        f[2 * i] = t.x;
        f[2 * i + 1] = t.y;
    }
}

static __device__ __forceinline__ void store8(bf16 *p, const float f[8])
{
    bf16x8 v;
#pragma unroll
    for (int i = 0; i < 4; i++)
        v.h[i] = __floats2bfloat162_rn(f[2 * i], f[2 * i + 1]);
    *reinterpret_cast<bf16x8 *>(p) = v;
}

static __device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static __device__ __forceinline__ float warp_max(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets it.
 * Uses 33 floats of shared memory passed in; synchronises. */
static __device__ __forceinline__ float block_sum(float v, float *sh)
{
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    if (lane == 0)
        sh[w] = v;
    __syncthreads();
    float t = lane < nw ? sh[lane] : 0.0f;
    t = warp_sum(t);
    __syncthreads();
    return t;
}

static __device__ __forceinline__ float block_max(float v, float *sh)
{
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_max(v);
    if (lane == 0)
        sh[w] = v;
    __syncthreads();
    float t = lane < nw ? sh[lane] : -INFINITY;
    t = warp_max(t);
    __syncthreads();
    return t;
}

static inline unsigned kern_div_up(size_t a, size_t b) { return (unsigned)((a + b - 1) / b); }

#endif
