/* Training augmentation: the vocal-tract-length warp moves spectral energy
 * by the right number of mel bands, and augmentation is a pure function of
 * the random stream. */
#include "../../src/train/augment.h"
#include "test.h"

#include <math.h>
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
        augment_logmel(a, H, 100, VG_AUG_ALL | VG_AUG_WARP, &r1, &fe);
        augment_logmel(b, H, 100, VG_AUG_ALL | VG_AUG_WARP, &r2, &fe);
        CHECK(r1 == r2);
        CHECK(!memcmp(a, b, sizeof a));
        differs_from_input += memcmp(a, x, sizeof x) != 0;
    }
    CHECKF(differs_from_input >= 6, "only %d of 8 streams augmented anything", differs_from_input);
}
