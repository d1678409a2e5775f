/*
 * kern_rand.h: counter-based random numbers shared by host C and CUDA device code, so that the
 * CPU and CUDA backends generate the same weights from the same seed (up to bf16 rounding).
 * kern_rand_u(seed, i) is uniform in [-1, 1) with 24 random bits; pure and O(1).
 */
#ifndef LENSIM_KERN_RAND_H
#define LENSIM_KERN_RAND_H

#include <stdint.h>

#ifdef __CUDACC__
#define KERN_HD static __host__ __device__ __forceinline__
#else
#define KERN_HD static inline
#endif

/* SplitMix64 finaliser (Steele, Lea, Flood 2014). */
KERN_HD uint64_t kern_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

KERN_HD float kern_rand_u(uint64_t seed, uint64_t i)
{
    uint64_t h = kern_mix64(seed ^ kern_mix64(i));
    return (float)(int32_t)((uint32_t)(h >> 40) - (1u << 23)) * (1.0f / (float)(1u << 23));
}

#endif
