#include "speech_cues.h"
#include "voxgender.h"

#include <math.h>
#include <stdlib.h>

int speech_cues_init(speech_cues *c, int n_mels)
{
    c->n_mels = n_mels;
    c->flux = 0;
    c->level_db = -300;
    c->flatness = 1;
    c->prev = malloc(sizeof(float) * (size_t)n_mels);
    if (!c->prev) return VG_ENOMEM;
    for (int b = 0; b < n_mels; b++) c->prev[b] = -1e30f;   /* no previous frame: no change counted */
    return VG_OK;
}

void speech_cues_free(speech_cues *c)
{
    free(c->prev);
    c->prev = NULL;
}

void speech_cues_update(speech_cues *c, const float *log2p)
{
    double sum = 0, sum_hi = 0, logsum = 0;
    float mx = -1e30f;
    const int lo = SPEECH_LOWEST_BAND < c->n_mels ? SPEECH_LOWEST_BAND : 0, n = c->n_mels - lo;
    for (int b = 0; b < c->n_mels; b++) {
        double p = exp2((double)log2p[b]);
        sum += p;
        if (b < lo) continue;
        sum_hi += p + 1e-12;
        logsum += log(p + 1e-12);
        if (log2p[b] > mx) mx = log2p[b];
    }
    c->level_db = 10.0 * log10(sum / c->n_mels + 1e-30);
    c->flatness = n > 0 ? exp(logsum / n) / (sum_hi / n) : 1.0;
    /* change where the energy is: bands within 30 dB (10 in log2) of the
     * frame's loudest, in both frames */
    double dsum = 0;
    int dn = 0;
    for (int b = lo; b < c->n_mels; b++) {
        if (log2p[b] > mx - 10.0f && c->prev[b] > mx - 10.0f) {
            dsum += fabs((double)log2p[b] - c->prev[b]);
            dn++;
        }
        c->prev[b] = log2p[b];
    }
    c->flux += ((dn ? dsum / dn : 0.0) - c->flux) / 16.0;
}

int speech_cues_voiced(const speech_cues *c)
{
    return c->level_db > VG_SOUND_FLOOR_DB && c->flatness < SPEECH_FLAT_MAX && c->flux > SPEECH_FLUX_MIN;
}
