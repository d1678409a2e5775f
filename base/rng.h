/*
 * rng.h: named random streams over GSL (R14).
 *
 * Each stream is a gsl_rng (MT19937) seeded from (experiment seed, stream id) through SplitMix64,
 * so each purpose (arrivals, lengths, predictor noise, ...) draws from its own stream and keeps
 * drawing the same numbers when another purpose changes (common random numbers across policies).
 * Stream ids are handed out here, in one enum, so that no two purposes share a stream by accident;
 * a new purpose takes the next free value. The values are part of every result (changing one
 * changes the numbers drawn), so they never move.
 */
#ifndef LENSIM_RNG_H
#define LENSIM_RNG_H

#include <stdint.h>

#include <gsl/gsl_rng.h>

typedef gsl_rng rng_t;

/* The stream ids, one per purpose, with their owners. */
enum rng_stream {
    RNG_ARRIVALS = 1,       /* traces/: synthetic inter-arrival times */
    RNG_LENGTHS = 2,        /* traces/: synthetic prompt and output lengths */
    RNG_PREDICTOR = 3,      /* sim/pred.c: predictor noise */
    RNG_ROUTER = 4,         /* sim/cluster.c: the random router */
    RNG_COMPAT = 5,         /* sim/compat_ssjf.c: the SSJF reference simulator */
    RNG_CALIB_GRID = 0xca1b /* calib/sweep.c: the calibration grid's shuffle */
};

/* Returns an owned generator (free with rng_free), or NULL when out of memory. */
rng_t *rng_new(uint64_t seed, uint64_t stream);
void   rng_free(rng_t *r);
/* The 32-bit MT19937 seed derived from (seed, stream); exposed for manifests and tests. */
uint32_t rng_derive_seed(uint64_t seed, uint64_t stream);
/* SplitMix64 finaliser: a good 64-bit mixer for hashing and seed derivation. */
uint64_t rng_mix64(uint64_t x);

#endif
