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
#include <string.h>

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

/* Eight bf16 in one 16-byte access (issue 18): a uint4 load or store, which compiles to one
 * LDG.E.128 / STG.E.128 (a struct of __nv_bfloat162 is copied member by member, in four 4-byte
 * accesses, because __nv_bfloat162 has a user-provided copy constructor). p must be 16-byte
 * aligned: callers' supports() check the base pointers and leading dimensions. */
static __device__ __forceinline__ uint4 ld16(const void *p)
{
    return *reinterpret_cast<const uint4 *>(p);
}

static __device__ __forceinline__ void st16(void *p, uint4 v) { *reinterpret_cast<uint4 *>(p) = v; }

/* bf16 -> fp32 is exact: the bf16 bits are the fp32's upper half. Word w holds elements 2i (low
 * half) and 2i + 1 (high half). */
static __device__ __forceinline__ void unpack8(uint4 v, float f[8])
{
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
        f[2 * i] = __uint_as_float(w[i] << 16);
        f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    }
}

static __device__ __forceinline__ void load8(const bf16 *p, float f[8]) { unpack8(ld16(p), f); }

static __device__ __forceinline__ uint32_t pack2(float lo, float hi)
{
    __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi); /* .x (low half) = lo */
    uint32_t u;
    memcpy(&u, &h, sizeof u);
    return u;
}

static __device__ __forceinline__ void store8(bf16 *p, const float f[8])
{
    st16(p, make_uint4(pack2(f[0], f[1]), pack2(f[2], f[3]), pack2(f[4], f[5]), pack2(f[6], f[7])));
}

/* 16-byte alignment of a device pointer (host or device). */
static __host__ __device__ __forceinline__ bool kern_aligned16(const void *p)
{
    return ((uintptr_t)p & 15u) == 0;
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
