/* Training augmentation: the vocal-tract-length warp moves spectral energy
 * by the right number of mel bands, the pitch shift moves the harmonics and
 * not the formant, and augmentation is a pure function of
 * the random stream; the hard cut empties the bands above the band. */
#include "../../src/dsp/melspec.h"
#include "../../src/train/augment.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { H = 128, T = 4 };

/* band whose value is largest (in frame 0) */
static int peak_band(const float *x)
{
    int best = 0;
    for (int b = 1; b < H; b++)
        if (x[(size_t)b * T] > x[(size_t)best * T]) best = b;
    return best;
}

/* Where a peak at band B must land when frequencies are scaled by ALPHA:
 * HTK mel bands between 0 and 8 kHz, centres at (b+1)/(H+1) of the mel
 * range (torchaudio's mel_scale="htk" filterbank). */
static double expected_band(int b, double alpha)
{
    double m_hi = 2595.0 * log10(1.0 + 8000.0 / 700.0);
    double f = 700.0 * (pow(10.0, m_hi * (b + 1) / (H + 1) / 2595.0) - 1.0);
    return 2595.0 * log10(1.0 + alpha * f / 700.0) / m_hi * (H + 1) - 1;
}

TEST(warp_moves_a_formant_by_the_mel_distance_of_its_frequency_change)
{
    vg_frontend fe;
    vg_frontend_default(&fe, VG_FE_LOGMEL);
    float x[H * T], y[H * T];
    for (int i = 0; i < H * T; i++) x[i] = -3;
    for (int t = 0; t < T; t++) x[40 * T + t] = 3;   /* 860 Hz: 10% is 3 bands */

    memcpy(y, x, sizeof x);
    augment_warp_frequency(y, H, T, 1.0f, &fe);
    float worst = 0;
    for (int i = 0; i < H * T; i++) worst = fmaxf(worst, fabsf(y[i] - x[i]));
    CHECKF(worst < 1e-5f, "alpha 1 changed the input by %g", worst);

    const double alphas[] = {1.1, 0.9};
    for (int a = 0; a < 2; a++) {
        memcpy(y, x, sizeof x);
        augment_warp_frequency(y, H, T, (float)alphas[a], &fe);
        double want = expected_band(40, alphas[a]);
        int got = peak_band(y);
        CHECKF(fabs(got - want) <= 0.5 + 1e-9, "alpha %g: peak at band %d, expected %.2f", alphas[a], got, want);
        CHECKF(alphas[a] > 1 ? got >= 42 : got <= 38, "alpha %g: peak moved only to band %d", alphas[a], got);
        for (int t = 1; t < T; t++) CHECK(y[(size_t)got * T + t] == y[(size_t)got * T]);
    }
}

static double band_hz(int b)
{
    double m_hi = 2595.0 * log10(1.0 + 8000.0 / 700.0);
    return 700.0 * (pow(10.0, m_hi * (b + 1) / (H + 1) / 2595.0) - 1.0);
}

/* harmonic ripple of a voice at F0 Hz, tapered to 300-1500 Hz */
static double ripple(double f, double f0)
{
    if (f < 300 || f > 1500) return 0;
    return 0.8 * sin(M_PI * (f - 300) / 1200) * cos(2 * M_PI * f / f0);
}

/* correlation of rows 0 of A and B over the bands of 450-1300 Hz */
static double corr(const float *a, const double *b)
{
    double ab = 0, aa = 0, bb = 0;
    for (int k = 0; k < H; k++) {
        if (band_hz(k) < 450 || band_hz(k) > 1300) continue;
        ab += a[(size_t)k * T] * b[k]; aa += (double)a[(size_t)k * T] * a[(size_t)k * T]; bb += b[k] * b[k];
    }
    return ab / sqrt(aa * bb);
}

TEST(pitch_shift_moves_the_harmonics_and_keeps_the_formant)
{
    vg_frontend fe;
    vg_frontend_default(&fe, VG_FE_LOGMEL);
    /* a formant (a broad bump at band 50, ~1.2 kHz) under the ripple of a
     * 120 Hz voice */
    float x[H * T], y[H * T];
    double env[H], old_ripple[H], new_ripple[H];
    const double alpha = 1.35;
    for (int b = 0; b < H; b++) {
        env[b] = 2.0 * exp(-0.5 * pow((b - 50) / 12.0, 2)) - 1.0;
        old_ripple[b] = ripple(band_hz(b), 120);
        new_ripple[b] = ripple(band_hz(b), 120 * alpha);
        for (int t = 0; t < T; t++) x[(size_t)b * T + t] = (float)(env[b] + old_ripple[b]);
    }

    memcpy(y, x, sizeof x);
    augment_shift_pitch(y, H, T, 1.0f, &fe);
    float worst = 0;
    for (int i = 0; i < H * T; i++) worst = fmaxf(worst, fabsf(y[i] - x[i]));
    CHECKF(worst < 1e-4f, "alpha 1 changed the input by %g", worst);

    augment_shift_pitch(y, H, T, (float)alpha, &fe);
    float d[H * T];   /* what is left after the formant: the new harmonics */
    for (int b = 0; b < H; b++)
        for (int t = 0; t < T; t++) d[(size_t)b * T + t] = y[(size_t)b * T + t] - (float)env[b];
    double c_new = corr(d, new_ripple), c_old = corr(d, old_ripple);
    CHECKF(c_new > 0.9, "ripple after the shift correlates %.3f with a %g Hz voice", c_new, 120 * alpha);
    CHECKF(c_old < 0.3, "ripple after the shift still correlates %.3f with the 120 Hz voice", c_old);
    /* the formant stays: bands far from the ripple are unchanged, and the
     * smoothed spectrum still peaks at band 50 */
    for (int b = 0; b < H; b++)
        if (band_hz(b) > 2500) CHECKF(fabsf(d[(size_t)b * T]) < 0.05f, "band %d moved by %g", b, d[(size_t)b * T]);
    int peak = 0;
    double best = -1e9;
    for (int b = 2; b < H - 2; b++) {
        double s = 0;
        for (int k = -12; k <= 12; k++) s += b + k >= 0 && b + k < H ? y[(size_t)(b + k) * T] : 0;
        if (s > best) best = s, peak = b;
    }
    CHECKF(abs(peak - 50) <= 1, "smoothed spectrum peaks at band %d, not 50", peak);
}

TEST(augmentation_is_a_function_of_the_random_stream)
{
    vg_frontend fe;
    vg_frontend_default(&fe, VG_FE_LOGMEL);
    static float x[H * 100], a[H * 100], b[H * 100];
    for (int i = 0; i < H * 100; i++) x[i] = sinf(0.37f * (float)i) + 0.01f * (float)(i % 13);
    int differs_from_input = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        uint64_t r1 = seed, r2 = seed;
        memcpy(a, x, sizeof x);
        memcpy(b, x, sizeof x);
        augment_logmel(a, H, 100, VG_AUG_ALL | VG_AUG_WARP | VG_AUG_PITCH, &r1, &fe);
        augment_logmel(b, H, 100, VG_AUG_ALL | VG_AUG_WARP | VG_AUG_PITCH, &r2, &fe);
        CHECK(r1 == r2);
        CHECK(!memcmp(a, b, sizeof a));
        differs_from_input += memcmp(a, x, sizeof x) != 0;
    }
    CHECKF(differs_from_input >= 6, "only %d of 8 streams augmented anything", differs_from_input);
}

/* A and C: X augmented with flags FA and FC from the same random stream;
 * whether both streams advanced alike. */
static int augment_both(float *a, float *c, const float *x, int frames, uint64_t seed, unsigned fa, unsigned fc,
                        const vg_frontend *fe)
{
    uint64_t r1 = seed, r2 = seed;
    memcpy(a, x, sizeof(float) * H * frames);
    memcpy(c, x, sizeof(float) * H * frames);
    augment_logmel(a, H, frames, fa, &r1, fe);
    augment_logmel(c, H, frames, fc, &r2, fe);
    return r1 == r2;
}

/* Coloured noise: white noise gathers power in proportion to the FFT bins a
 * band covers (the top bands about 300 Hz wide, the bottom ones about 30),
 * so it is much stronger in the high bands; brown noise (1/f^2) the reverse.
 * The shape has mean 1, so the SNR is the plain noise's. With the flag the
 * noisy examples change; without NOISE the flag does nothing. */
TEST(coloured_noise_follows_the_band_widths)
{
    vg_frontend fe;
    vg_frontend_default(&fe, VG_FE_LOGMEL);
    float white[H], brown[H];
    augment_noise_colour(white, H, 0.0f, &fe);
    augment_noise_colour(brown, H, 2.0f, &fe);
    double mw = 0, mb = 0;
    for (int b = 0; b < H; b++) mw += white[b] / H, mb += brown[b] / H;
    CHECKF(fabs(mw - 1) < 1e-4 && fabs(mb - 1) < 1e-4, "means %g %g", mw, mb);
    CHECKF(white[120] > 5 * white[10], "white: band 120 %g, band 10 %g", white[120], white[10]);
    double quarter[4] = {0};   /* bands are whole FFT bins: rising by quarters, not band by band */
    for (int b = 0; b < H; b++) quarter[b / 32] += white[b];
    for (int q = 1; q < 4; q++) CHECKF(quarter[q] > 1.5 * quarter[q - 1], "white: quarter %d %g, %d %g", q, quarter[q], q - 1, quarter[q - 1]);
    /* band 0 spans 0-28 Hz and no 40 Hz FFT bin: real noise never reaches it */
    CHECKF(white[0] == 0 && brown[0] == 0 && white[10] > 0, "band 0: %g %g", white[0], brown[0]);
    CHECKF(brown[10] > 50 * brown[120], "brown: band 10 %g, band 120 %g", brown[10], brown[120]);

    static float x[H * 50], a[H * 50], c[H * 50];
    for (int i = 0; i < H * 50; i++) x[i] = sinf(0.37f * (float)i);
    int changed = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        augment_both(a, c, x, 50, seed, VG_AUG_NOISE, VG_AUG_NOISE | VG_AUG_COLOUR, &fe);
        changed += memcmp(a, c, sizeof a) != 0;
        int same_stream = augment_both(a, c, x, 50, seed, VG_AUG_GAIN, VG_AUG_GAIN | VG_AUG_COLOUR, &fe);
        CHECK(!memcmp(a, c, sizeof a) && same_stream);
    }
    CHECKF(changed >= 1 && changed <= 4, "colour changed %d of 8 noisy streams (about a quarter expected)", changed);
    /* white: every noisy example's noise is white, so the high bands of a
     * flat input get more noise than the low ones whenever noise was drawn */
    int noisy = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        augment_both(a, c, x, 50, seed, VG_AUG_NOISE, VG_AUG_NOISE | VG_AUG_WHITE, &fe);
        if (!memcmp(a, x, sizeof x)) continue;   /* no noise drawn: nothing to compare */
        noisy++;
        double lo = 0, hi = 0;
        for (int t = 0; t < 50; t++) lo += c[10 * 50 + t] - x[10 * 50 + t], hi += c[120 * 50 + t] - x[120 * 50 + t];
        CHECKF(hi > 2 * lo, "white noise: band 120 rose by %g, band 10 by %g", hi / 50, lo / 50);
    }
    CHECKF(noisy >= 2, "noise drawn on %d of 8 streams", noisy);
}

/* Hard cut: with BAND, the same examples and random stream as without it,
 * but the bands above the line's 4 kHz or the low-pass's cut hold the power
 * floor (as a real 8 kHz line leaves them) instead of 40 dB less; bands
 * under the cut are untouched by it; without BAND it does nothing. */
TEST(hard_cut_leaves_the_power_floor_above_the_band)
{
    vg_frontend fe;
    vg_frontend_default(&fe, VG_FE_LOGMEL);
    enum { F = 50 };
    static float x[H * F], a[H * F], c[H * F];
    for (int i = 0; i < H * F; i++) x[i] = sinf(0.37f * (float)i) + 0.01f * (float)(i % 13);
    const float empty = (log2f(VG_POWER_FLOOR) - fe.input_mean) / fe.input_std;
    int cut_seen = 0;
    for (uint64_t seed = 1; seed <= 16; seed++) {
        REQUIRE(augment_both(a, c, x, F, seed, VG_AUG_BAND, VG_AUG_BAND | VG_AUG_HARDCUT, &fe));
        int floored = 0, other_differs = 0;
        for (int b = 0; b < H; b++) {
            int row_floored = 1;
            for (int t = 0; t < F; t++) row_floored &= c[b * F + t] == empty;
            if (row_floored) {
                floored++;
                /* only above what any band leaves: 3.5 kHz at the lowest cut */
                CHECKF(mel_band_centre_hz(&fe.mel, b) > 3500, "band %d (%.0f Hz) floored", b, mel_band_centre_hz(&fe.mel, b));
                /* ... and only where BAND alone had attenuated it */
                CHECK(a[b * F] != x[b * F]);
            } else {
                other_differs |= memcmp(a + b * F, c + b * F, sizeof(float) * F) != 0;
            }
        }
        CHECK(!other_differs);
        if (floored) {
            cut_seen++;
            /* the floor runs from some band to the top */
            int b = H - 1;
            while (b >= 0 && c[b * F] == empty) b--;
            CHECKF(H - 1 - b == floored, "%d floored bands, not all at the top", floored);
        }
    }
    CHECKF(cut_seen >= 4, "the cut applied in %d of 16 streams", cut_seen);
    /* without BAND the flag changes nothing */
    REQUIRE(augment_both(a, c, x, F, 3, VG_AUG_NOISE, VG_AUG_NOISE | VG_AUG_HARDCUT, &fe));
    CHECK(!memcmp(a, c, sizeof a));
}
