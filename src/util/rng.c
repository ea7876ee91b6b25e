#include "rng.h"

#include <math.h>

/* splitmix64: small, fast, and the same sequence on every platform. */
uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float rng_uniform(uint64_t *state) { return (float)(rng_next(state) >> 40) * (1.0f / 16777216.0f); }

float rng_normal(uint64_t *state)
{
    /* Box–Muller; u1 in (0, 1] so the log is finite. */
    double u1 = ((rng_next(state) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}
