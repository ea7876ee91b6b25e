/* Training-time augmentation of normalised log-mel inputs. Every draw comes
 * from the caller's random stream, in a fixed order, so that the same seed
 * gives the same batches (and a resumed run the same model). */
#include "augment.h"

#include "../dsp/melspec.h"
#include "../nn/layers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Where band B of H takes its value when frequencies are scaled by ALPHA:
 * the fractional band at f_b / ALPHA, clamped to the bands that exist. */
static double scaled_source_band(const vg_frontend *fe, int b, int H, double alpha)
{
    double pos = mel_band_position(&fe->mel, mel_band_centre_hz(&fe->mel, b) / alpha);
    return pos < 0 ? 0 : pos > H - 1 ? H - 1 : pos;
}

/* Vocal-tract-length perturbation (Jaitly & Hinton 2013) on a log-mel
 * [H][T]: the spectrum is scaled in frequency by ALPHA, so band b takes the
 * value found at frequency f_b / ALPHA (linear interpolation between bands,
 * clamped at the edges). */
void augment_warp_frequency(float *x, int H, int T, float alpha, const vg_frontend *fe)
{
    float *src = malloc(sizeof(float) * (size_t)H * T);
    if (!src) return;   /* an unwarped example: training goes on */
    memcpy(src, x, sizeof(float) * (size_t)H * T);
    for (int b = 0; b < H; b++) {
        double pos = scaled_source_band(fe, b, H, alpha);
        int b0 = (int)pos, b1 = b0 + 1 < H ? b0 + 1 : b0;
        float w = (float)(pos - b0);
        for (int t = 0; t < T; t++)
            x[(size_t)b * T + t] = (1 - w) * src[(size_t)b0 * T + t] + w * src[(size_t)b1 * T + t];
    }
    free(src);
}

/* Pitch shift that keeps the formants, on a log-mel [H][T]. Each frame is
 * split into a smooth spectral envelope (the vocal tract: its first
 * PITCH_LIFTER cosine coefficients over the bands) and the fine structure
 * left over (the harmonics of the voice's pitch, a few bands apart at low
 * frequencies); only the fine structure is scaled in frequency by ALPHA.
 * The two cues a network can learn gender from, pitch and formants, are
 * then seen in combinations real speakers rarely have (a man's vocal tract
 * with a high voice), so that pitch alone cannot decide. The cut at 20
 * coefficients (a period of 256/20 ~ 13 bands) sits between a formant's
 * width (tens of bands) and the harmonic spacing of a low voice (5-9 bands
 * below 500 Hz with the default 128 bands). */
enum { PITCH_LIFTER = 20 };

void augment_shift_pitch(float *x, int H, int T, float alpha, const vg_frontend *fe)
{
    float *pos = malloc(sizeof(float) * (size_t)H);
    float *env = malloc(sizeof(float) * (size_t)H * T);
    float *work = malloc(sizeof(float) * LIFTER_WORK(H, T, PITCH_LIFTER));
    float *fine = malloc(sizeof(float) * (size_t)H);
    if (!pos || !env || !work || !fine) goto out;   /* an unshifted example */
    /* the envelope of every frame at once: the engine's lifter layer */
    forward_lifter(env, x, work, 1, 1, H, T, PITCH_LIFTER);
    for (int b = 0; b < H; b++) pos[b] = (float)scaled_source_band(fe, b, H, alpha);
    for (int t = 0; t < T; t++) {
        for (int b = 0; b < H; b++) fine[b] = x[(size_t)b * T + t] - env[(size_t)b * T + t];
        for (int b = 0; b < H; b++) {
            int b0 = (int)pos[b], b1 = b0 + 1 < H ? b0 + 1 : b0;
            float w = pos[b] - (float)b0;
            x[(size_t)b * T + t] = env[(size_t)b * T + t] + (1 - w) * fine[b0] + w * fine[b1];
        }
    }
out:
    free(pos); free(env); free(work); free(fine);
}

/* The noise's share of each band is what the front end's filterbank
 * gathers from a 1/f^BETA spectrum (mel_band_noise_power): white noise is
 * much stronger in the wide high bands than in the narrow low ones, and
 * none reaches a band that covers no FFT bin. The default noise, the same
 * power in every mel band, gives those empty bands power that no real
 * recording can put there. */
void augment_noise_colour(float *shape, int H, float beta, const vg_frontend *fe)
{
    double sum = 0;
    for (int b = 0; b < H; b++) sum += shape[b] = (float)mel_band_noise_power(&fe->mel, b, beta);
    for (int b = 0; b < H; b++) shape[b] = (float)(shape[b] * H / sum);
}

void augment_logmel(float *dst, int H, int T, unsigned aug, uint64_t *r, const vg_frontend *fe)
{
    const float mu = fe->input_mean, sd = fe->input_std;
    /* WHITE qualifies every noisy example, so it is read before the draw */
    const int white = (aug & VG_AUG_WHITE) != 0;
    const int hardcut = (aug & VG_AUG_HARDCUT) != 0;   /* qualifies BAND likewise */
    /* each augmentation applies to half of the examples, so that the model
     * also sees clean input (digital silence stays in the training data) */
    aug &= (unsigned)rng_next(r);
    if (aug & VG_AUG_WARP) augment_warp_frequency(dst, H, T, 0.9f + 0.2f * rng_uniform(r), fe);
    /* pitch factor 2^(-0.5..0.5), i.e. 0.71-1.41: a typical man's 120 Hz
     * reaches 170 Hz, a typical woman's 210 Hz comes down to 150 Hz */
    if (aug & VG_AUG_PITCH) augment_shift_pitch(dst, H, T, exp2f(rng_uniform(r) - 0.5f), fe);
    if (aug & VG_AUG_NOISE) {
        /* noise power relative to the clip's mean power, 5..30 dB below it */
        double mean_pow = 0;
        for (size_t i = 0; i < (size_t)H * T; i++) mean_pow += exp2(dst[i] * sd + mu);
        mean_pow /= (double)H * T;
        float snr_db = 5.0f + 25.0f * rng_uniform(r);
        float noise = (float)(mean_pow * pow(10.0, -snr_db / 10.0));
        float *shape = white || (aug & VG_AUG_COLOUR) ? malloc(sizeof(float) * (size_t)H) : NULL;
        if (shape) augment_noise_colour(shape, H, white ? 0.0f : 2.0f * rng_uniform(r), fe);
        for (size_t i = 0; i < (size_t)H * T; i++) {
            float p = exp2f(dst[i] * sd + mu) + noise * (shape ? shape[i / T] : 1.0f) * (0.5f + rng_uniform(r));
            dst[i] = (log2f(p) - mu) / sd;
        }
        free(shape);
    }
    if (aug & VG_AUG_GAIN) {
        float db = -12.0f + 24.0f * rng_uniform(r);
        float shift = db / (10.0f * log10f(2.0f)) / sd;    /* power gain in log2 units */
        for (size_t i = 0; i < (size_t)H * T; i++) dst[i] += shift;
    }
    if (aug & VG_AUG_BAND) {
        /* attenuate the bands outside [lo, hi] by 40 dB. With HARDCUT the
         * bands above what a telephone line carries (its 8 kHz sampling:
         * 4 kHz) or above a codec's low-pass hold nothing, the power floor,
         * as a real line or codec leaves them: 40 dB down keeps their shape
         * in the log-mel, which a network can still read */
        double lo = 0, hi;
        if (rng_uniform(r) < 0.5f) { lo = 300; hi = 3400; }
        else hi = 3500 + 4000 * rng_uniform(r);
        const double top = lo > 0 ? 4000 : hi;
        const float drop = 40.0f / (10.0f * log10f(2.0f)) / sd, empty = (log2f(VG_POWER_FLOOR) - mu) / sd;
        for (int b = 0; b < H; b++) {
            double centre = mel_band_centre_hz(&fe->mel, b);
            if (centre >= lo && centre <= hi) continue;
            int cut = hardcut && centre > top;
            for (int t = 0; t < T; t++) dst[(size_t)b * T + t] = cut ? empty : dst[(size_t)b * T + t] - drop;
        }
    }
    if (aug & VG_AUG_REVERB) {
        /* p'[t] = p[t] + g (1-a) sum_k a^k p[t-1-k]: an exponential tail */
        double frame_s = (double)fe->mel.hop_length / fe->mel.sample_rate;
        float rt60 = 0.2f + 0.6f * rng_uniform(r), g = 0.2f + 0.6f * rng_uniform(r);
        float a = (float)pow(10.0, -6.0 * frame_s / rt60);
        for (int b = 0; b < H; b++) {
            float *row = dst + (size_t)b * T, tail = 0;
            for (int t = 0; t < T; t++) {
                float p = exp2f(row[t] * sd + mu);
                float wet = p + g * (1 - a) * tail;
                tail = a * tail + p;
                row[t] = (log2f(wet) - mu) / sd;
            }
        }
    }
    for (int k = 0; (aug & VG_AUG_TIME_MASK) && k < 2; k++) {
        int len = (int)(rng_next(r) % 41), start = (int)(rng_next(r) % (uint64_t)(T > len ? T - len : 1));
        for (int b = 0; b < H; b++)
            for (int t = start; t < start + len && t < T; t++) dst[(size_t)b * T + t] = 0;
    }
    for (int k = 0; (aug & VG_AUG_FREQ_MASK) && k < 2; k++) {
        int len = (int)(rng_next(r) % 13), start = (int)(rng_next(r) % (uint64_t)(H > len ? H - len : 1));
        for (int b = start; b < start + len && b < H; b++)
            memset(dst + (size_t)b * T, 0, sizeof(float) * (size_t)T);
    }
}

