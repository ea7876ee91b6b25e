/* Deterministic train/validation/test assignment, by speaker or by recording. */
#include "voxgender.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Units (speakers or recordings) shuffled, then cut at the cumulative
 * ratios; each non-empty ratio gets at least one unit when there are enough. */
static void cut(size_t n_units, const double r[3], size_t bounds[2])
{
    size_t a = (size_t)llround(r[0] * n_units), b = (size_t)llround((r[0] + r[1]) * n_units);
    if (n_units >= 3) {
        if (r[2] > 0 && b >= n_units) b = n_units - 1;
        if (r[1] > 0 && a >= b) a = b - 1;
        if (r[0] > 0 && a == 0) a = 1;
        if (r[1] > 0 && b <= a) b = a + 1;
    }
    if (b > n_units) b = n_units;
    if (a > b) a = b;
    bounds[0] = a;
    bounds[1] = b;
}

int vg_split_assign(const char *const *speakers, const int *labels, size_t n,
                    const double ratios[3], int by_speaker, uint64_t seed, int *split_out)
{
    if (!speakers || !labels || !ratios || !split_out) return VG_EARG;
    double sum = ratios[0] + ratios[1] + ratios[2];
    if (ratios[0] < 0 || ratios[1] < 0 || ratios[2] < 0 || fabs(sum - 1.0) > 1e-6) return VG_EARG;
    for (int label = 0; label < 2; label++) {
        /* units of this gender, in a canonical (sorted) order first */
        const char **units = malloc(sizeof(char *) * (n + 1));
        size_t *idx = malloc(sizeof(size_t) * (n + 1));
        if (!units || !idx) { free(units); free(idx); return VG_ENOMEM; }
        size_t nu = 0, ni = 0;
        for (size_t i = 0; i < n; i++) {
            if (labels[i] != label) continue;
            idx[ni++] = i;
            if (by_speaker) units[nu++] = speakers[i];
        }
        if (by_speaker) {   /* sorted, then each speaker once: n log n, not n x speakers */
            qsort(units, nu, sizeof(char *), cmp_str);
            size_t u = 0;
            for (size_t k = 0; k < nu; k++)
                if (!u || strcmp(units[u - 1], units[k])) units[u++] = units[k];
            nu = u;
        }
        size_t count = by_speaker ? nu : ni;
        size_t *perm = malloc(sizeof(size_t) * (count + 1));
        if (!perm) { free(units); free(idx); return VG_ENOMEM; }
        for (size_t k = 0; k < count; k++) perm[k] = k;
        uint64_t st = seed * 2 + (uint64_t)label + 1;
        for (size_t k = count; k > 1; k--) {
            size_t j = mix(&st) % k, t = perm[k - 1];
            perm[k - 1] = perm[j];
            perm[j] = t;
        }
        size_t bounds[2];
        cut(count, ratios, bounds);
        /* position of each unit in the shuffled order decides its split */
        int *unit_split = malloc(sizeof(int) * (count + 1));
        if (!unit_split) { free(perm); free(units); free(idx); return VG_ENOMEM; }
        for (size_t k = 0; k < count; k++)
            unit_split[perm[k]] = k < bounds[0] ? VG_SPLIT_TRAIN : k < bounds[1] ? VG_SPLIT_VALIDATION : VG_SPLIT_TEST;
        for (size_t k = 0; k < ni; k++) {
            size_t i = idx[k];
            if (!by_speaker) { split_out[i] = unit_split[k]; continue; }
            const char **u = bsearch(&speakers[i], units, nu, sizeof(char *), cmp_str);
            split_out[i] = unit_split[u - units];   /* every speaker is a unit */
        }
        free(unit_split);
        free(perm);
        free(units);
        free(idx);
    }
    return VG_OK;
}
