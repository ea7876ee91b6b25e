/* Deterministic random numbers: the same sequence for a seed on every
 * platform and thread count (training, augmentation, weight init, the
 * noisy copies of recordings all draw from it). */
#ifndef VG_UTIL_RNG_H
#define VG_UTIL_RNG_H

#include <stdint.h>

/* splitmix64: the next 64 random bits; STATE is the whole generator */
uint64_t rng_next(uint64_t *state);
float rng_uniform(uint64_t *state);          /* [0, 1) */
float rng_normal(uint64_t *state);           /* N(0, 1) */

#endif
