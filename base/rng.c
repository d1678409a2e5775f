/* rng.c: seeded GSL streams (see rng.h). */
#include "rng.h"

uint64_t rng_mix64(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

uint32_t rng_derive_seed(uint64_t seed, uint64_t stream)
{
    uint64_t h = rng_mix64(rng_mix64(seed) ^ rng_mix64(stream + UINT64_C(0x632be59bd9b4e019)));
    uint32_t s = (uint32_t)(h ^ (h >> 32));
    return s ? s : 4357; /* gsl maps seed 0 to 4357 anyway; make it explicit */
}

rng_t *rng_new(uint64_t seed, uint64_t stream)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (r)
        gsl_rng_set(r, rng_derive_seed(seed, stream));
    return r;
}

void rng_free(rng_t *r)
{
    if (r)
        gsl_rng_free(r);
}
