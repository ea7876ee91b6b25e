/* Pitch augmentation in the waveform (VG_AUG_WAVEPITCH): the shifter moves
 * a voice's pitch by its factor and keeps its formants, its timing and its
 * silence; each recording's factor is fixed by its file name and moves its
 * class towards the other's. */
#include "../../src/audio/pitch.h"
#include "../../src/data/features.h"
#include "test.h"

#include <rubberband/rubberband-c.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RATE = 16000, ONSET = RATE / 2, N = 3 * RATE / 2 };

/* spectral envelope of the synthetic vowel: formants at 700 and 2200 Hz */
static double envelope(double f)
{
    double a = (f - 700) / 150, b = (f - 2200) / 250;
    return 1 / (1 + a * a) + 0.5 / (1 + b * b) + 0.02;
}

/* 0.5 s of silence, then 1 s of a vowel at F0 Hz: every harmonic under
 * 7.8 kHz at the envelope's amplitude */
static float *vowel(double f0)
{
    float *x = calloc(N, sizeof(float));
    for (int k = 1; k * f0 < 7800; k++) {
        double amp = 0.05 * envelope(k * f0), ph = 0.7 * k * k;   /* spread phases: no single pulse */
        for (int i = ONSET; i < N; i++) x[i] += (float)(amp * sin(2 * M_PI * k * f0 * (i - ONSET) / RATE + ph));
    }
    return x;
}

/* the pitch of X's steady part (0.8-1.3 s) by autocorrelation, 80-400 Hz */
static double pitch_hz(const float *x)
{
    const int a = RATE * 8 / 10, len = RATE / 2;
    double r[RATE / 80 + 2];
    double bv = -INFINITY;
    for (int lag = RATE / 400 - 1; lag <= RATE / 80 + 1; lag++) {
        r[lag] = 0;
        for (int i = a; i < a + len; i++) r[lag] += (double)x[i] * x[i + lag];
        if (r[lag] > bv) bv = r[lag];
    }
    /* the shortest lag whose peak nearly matches the highest: a period's
     * multiples correlate as well (octave errors) */
    int best = RATE / 400;
    while (best < RATE / 80 && !(r[best] >= 0.9 * bv && r[best] >= r[best - 1] && r[best] >= r[best + 1])) best++;
    /* parabolic refinement around the peak */
    const double *v = r + best - 1;
    double den = v[0] - 2 * v[1] + v[2], off = den != 0 ? 0.5 * (v[0] - v[2]) / den : 0;
    return RATE / (best + off);
}

/* power-weighted mean frequency of X's steady part over LO..HI Hz (a DFT of
 * 0.5 s, 2 Hz bins): where the first formant's energy sits */
static double centroid_hz(const float *x, double lo, double hi)
{
    const int a = RATE * 8 / 10, len = RATE / 2;
    double num = 0, den = 0;
    for (double f = lo; f <= hi; f += 2) {
        double re = 0, im = 0;
        for (int i = 0; i < len; i++) {
            double w = 0.5 - 0.5 * cos(2 * M_PI * i / len);
            re += w * x[a + i] * cos(2 * M_PI * f * i / RATE);
            im -= w * x[a + i] * sin(2 * M_PI * f * i / RATE);
        }
        double p = re * re + im * im;
        num += f * p;
        den += p;
    }
    return num / den;
}

/* where X's 10 ms frames first reach 1% of their loudest's power */
static int onset(const float *x)
{
    double e[N / 160], mx = 0;
    for (int t = 0; t < N / 160; t++) {
        e[t] = 0;
        for (int i = 0; i < 160; i++) e[t] += (double)x[t * 160 + i] * x[t * 160 + i];
        if (e[t] > mx) mx = e[t];
    }
    for (int t = 0; t < N / 160; t++)
        if (e[t] > 0.01 * mx) return t * 160;
    return -1;
}

TEST(pitch_shift_moves_the_pitch_and_keeps_the_formants_and_timing)
{
    float *x = vowel(200);
    double c0 = centroid_hz(x, 400, 1100);
    CHECKF(fabs(pitch_hz(x) - 200) < 2, "synthetic vowel's pitch measured at %.1f Hz", pitch_hz(x));
    const float factors[] = {0.75f, 1.3f};
    for (int k = 0; k < 2; k++) {
        float *y = vowel(200);
        REQUIRE(audio_pitch_shift(y, N, RATE, factors[k]) == VG_OK);
        double f = pitch_hz(y), want = 200 * factors[k];
        CHECKF(fabs(f - want) < 0.03 * want, "x%.2f: pitch %.1f Hz, want %.1f", factors[k], f, want);
        /* the first formant stays at 700 Hz: moved with the pitch (Rubber
         * Band without formant preservation) the centroid measures 22%
         * under / 27% over; kept, 8% under / 1% over */
        double c = centroid_hz(y, 400, 1100);
        CHECKF(fabs(c / c0 - 1) < 0.12, "x%.2f: first formant's centroid %.0f Hz, was %.0f", factors[k], c, c0);
        /* the same timing, and the silence before the vowel stays silent */
        int on = onset(y);
        CHECKF(abs(on - ONSET) <= RATE / 100, "x%.2f: onset at %d, the input's at %d", factors[k], on, ONSET);
        double pre = 0;
        for (int i = 0; i < ONSET - RATE / 10; i++) pre += (double)y[i] * y[i];
        CHECKF(pre < 1e-6, "x%.2f: %.3g of power in the silence", factors[k], pre);
        /* deterministic */
        float *z = vowel(200);
        REQUIRE(audio_pitch_shift(z, N, RATE, factors[k]) == VG_OK);
        CHECK(!memcmp(y, z, sizeof(float) * N));
        free(y); free(z);
    }
    free(x);
}

TEST(pitch_shift_refuses_bad_arguments_and_leaves_factor_1_alone)
{
    float *x = vowel(200), *y = vowel(200);
    CHECK(audio_pitch_shift(NULL, N, RATE, 0.8) == VG_EARG);
    CHECK(audio_pitch_shift(x, N, 0, 0.8) == VG_EARG);
    CHECK(audio_pitch_shift(x, N, RATE, 0.4) == VG_EARG);
    CHECK(audio_pitch_shift(x, N, RATE, 2.5) == VG_EARG);
    CHECK(audio_pitch_shift(x, N, RATE, NAN) == VG_EARG);
    CHECK(audio_pitch_shift(x, 0, RATE, 0.8) == VG_OK);
    CHECK(audio_pitch_shift(x, N, RATE, 1.0) == VG_OK);
    CHECK(!memcmp(x, y, sizeof(float) * N));
    free(x); free(y);
}

TEST(pitch_copy_is_fixed_by_the_file_name_and_moves_towards_the_other_class)
{
    char *src = path_join(shared_dir(), "data/vctk/audio/p225/p225_004.flac");
    char *a = path_join(temp_dir(), "pitch-a");
    REQUIRE(run_cmd("mkdir -p '%s' && ln -sf \"$(realpath '%s')\" '%s/x.flac'", a, src, a) == 0);
    char *la = path_join(a, "x.flac");
    degrade_spec s0 = degrade_pitch_for(src, 0), s1 = degrade_pitch_for(la, 0);
    CHECK(s0.kind == DEGRADE_PITCH && s0.pitch == s1.pitch);
    /* women down by 0.2-0.5 octave, men up by as much */
    float lo[2] = {9, 9}, hi[2] = {0, 0};
    char name[64];
    for (int i = 0; i < 400; i++) {
        snprintf(name, sizeof name, "/no/such/dir/clip%03d.flac", i);
        for (int label = 0; label < 2; label++) {
            float o = log2f(degrade_pitch_for(name, label).pitch);
            if (label == 0) o = -o;
            REQUIRE(o >= 0.2f - 1e-6f && o <= 0.5f + 1e-6f);
            if (o < lo[label]) lo[label] = o;
            if (o > hi[label]) hi[label] = o;
        }
    }
    for (int label = 0; label < 2; label++)
        CHECKF(lo[label] < 0.22f && hi[label] > 0.48f, "label %d: %.3f-%.3f octaves", label, lo[label], hi[label]);
    free(src); free(a); free(la);
}

TEST(pitch_features_are_cached_under_their_own_key)
{
    char *src = path_join(shared_dir(), "data/vctk/audio/p225/p225_004.flac");
    char *cache = path_join(temp_dir(), "pitch-cache");
    vg_frontend fe;
    vg_frontend_default(&fe, VG_FE_LOGMEL);
    degrade_spec spec = degrade_pitch_for(src, 0);
    float *p = NULL, *again = NULL, *clean = NULL, *other = NULL;
    int c, h, w, w2, hit = -1;
    REQUIRE(features_cached_degraded(cache, &fe, src, 0, &spec, &p, &c, &h, &w, &hit) == VG_OK);
    CHECK(hit == 0);
    REQUIRE(features_cached_degraded(cache, &fe, src, 0, &spec, &again, &c, &h, &w2, &hit) == VG_OK);
    CHECK(hit == 1 && w2 == w && !memcmp(p, again, sizeof(float) * (size_t)h * w));
    REQUIRE(vg_features_cached(cache, &fe, src, 0, &clean, &c, &h, &w2, &hit) == VG_OK);
    CHECK(hit == 0 && w2 == w && memcmp(p, clean, sizeof(float) * (size_t)h * w) != 0);
    spec.pitch = 1.25f;   /* another factor is another entry */
    REQUIRE(features_cached_degraded(cache, &fe, src, 0, &spec, &other, &c, &h, &w2, &hit) == VG_OK);
    CHECK(hit == 0 && memcmp(p, other, sizeof(float) * (size_t)h * w) != 0);
    /* every entry names the code and the libraries that made it, the pitch
     * copies the shifter's version too: an upgrade makes them again */
    char rev[128];
    snprintf(rev, sizeof rev, "voxgender=%s@%s ", vg_version(), vg_build_revision());
    int n, with_rev = cache_keys_with(cache, rev, &n), with_ffmpeg = cache_keys_with(cache, " avcodec-", &n);
    int with_rb = cache_keys_with(cache, "pitch=rubberband-" RUBBERBAND_VERSION, &n);
    CHECKF(n == 3 && with_rev == 3 && with_ffmpeg == 3 && with_rb == 2, "%d entries: %d %d %d", n, with_rev,
           with_ffmpeg, with_rb);
    free(p); free(again); free(clean); free(other); free(src); free(cache);
}
