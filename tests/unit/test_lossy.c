/* Waveform copies in training. Lossy-codec augmentation (VG_AUG_CODEC): the round trip is a real codec
 * (aligned, same length, worse at a lower rate, narrowband Opus at 8 kbit/s
 * drops the upper band), each recording's copy is fixed by its file name
 * and cached under its own key, and training with it is deterministic and
 * actually uses it. */
#include "../../src/audio/lossy.h"
#include "../../src/data/features.h"
#include "../../src/dsp/melspec.h"
#include "../../src/nn/model.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { RATE = 16000 };

static float *speech(size_t *n)
{
    char *src = path_join(shared_dir(), "data/vctk/audio/p225/p225_004.flac");
    float *x = NULL;
    vg_clip_info info;
    int rc = vg_audio_load_window(src, 0, 2.0, RATE, &x, &info);
    free(src);
    *n = info.n_valid;
    return rc ? NULL : x;
}

/* the lag in [-MAXLAG, MAXLAG] at which Y best matches X */
static int best_lag(const float *x, const float *y, size_t n, int maxlag)
{
    int best = 0;
    double bv = -INFINITY;
    for (int lag = -maxlag; lag <= maxlag; lag++) {
        double s = 0;
        for (size_t i = (size_t)maxlag; i + (size_t)maxlag < n; i++) s += (double)x[i] * y[(long)i + lag];
        if (s > bv) { bv = s; best = lag; }
    }
    return best;
}

static double snr_db(const float *x, const float *y, size_t n)
{
    double e = 0, d = 0;
    for (size_t i = 0; i < n; i++) { e += (double)x[i] * x[i]; d += (double)(x[i] - y[i]) * (x[i] - y[i]); }
    return 10 * log10(e / d);
}

/* share of the power in mel bands centred above 4.5 kHz */
static double upper_band_share(const float *x, size_t n)
{
    vg_frontend fe;
    vg_frontend_default(&fe, VG_FE_LOGMEL);
    vg_melspec *m = vg_melspec_create(&fe.mel);
    int T = vg_melspec_frames(m, n), H = fe.mel.n_mels;
    float *p = malloc(sizeof(float) * (size_t)H * T);
    vg_melspec_power(m, x, n, p);
    double hi = 0, all = 0;
    for (int b = 0; b < H; b++)
        for (int t = 0; t < T; t++) {
            all += p[(size_t)b * T + t];
            if (mel_band_centre_hz(&fe.mel, b) > 4500) hi += p[(size_t)b * T + t];
        }
    free(p);
    vg_melspec_destroy(m);
    return hi / all;
}

TEST(lossy_roundtrip_is_a_real_codec_aligned_with_its_input)
{
    REQUIRE(audio_lossy_available());
    size_t n;
    float *x = speech(&n);
    REQUIRE(x && n > RATE);
    float *y = malloc(sizeof(float) * (n + 1));
    const struct { lossy_codec c; int lo, hi; } cases[] = {{LOSSY_OPUS, 8000, 24000}, {LOSSY_MP3, 16000, 32000}};
    for (int k = 0; k < 2; k++) {
        double snr[2];
        for (int r = 0; r < 2; r++) {
            int rate = r ? cases[k].hi : cases[k].lo;
            memcpy(y, x, sizeof(float) * n);
            y[n] = 12345.0f;   /* a sentinel: the output is exactly n samples */
            REQUIRE(audio_lossy_roundtrip(y, n, RATE, cases[k].c, rate) == VG_OK);
            CHECKF(y[n] == 12345.0f, "%s: wrote past the end", lossy_codec_name(cases[k].c));
            int lag = best_lag(x, y, n, 400);
            CHECKF(abs(lag) <= 2, "%s %d: output lags its input by %d samples", lossy_codec_name(cases[k].c), rate, lag);
            snr[r] = snr_db(x, y, n);
        }
        /* lossy (not a copy), recognisably the same signal, and worse at
         * the lower rate */
        CHECKF(snr[0] > 3 && snr[1] < 35 && snr[0] < snr[1], "%s: SNR %.1f dB at the low rate, %.1f at the high",
               lossy_codec_name(cases[k].c), snr[0], snr[1]);
    }
    /* Opus at 8 kbit/s codes narrowband speech: the band above 4.5 kHz is gone */
    memcpy(y, x, sizeof(float) * n);
    REQUIRE(audio_lossy_roundtrip(y, n, RATE, LOSSY_OPUS, 8000) == VG_OK);
    double before = upper_band_share(x, n), after = upper_band_share(y, n);
    CHECKF(before > 1e-3 && after < before / 30, "upper-band share %.2g before, %.2g after", before, after);
    CHECK(audio_lossy_roundtrip(y, n, RATE, LOSSY_OPUS, 0) == VG_EARG);
    free(x);
    free(y);
}

TEST(lossy_copy_is_fixed_by_the_file_name)
{
    char *src = path_join(shared_dir(), "data/vctk/audio/p225/p225_004.flac");
    char *a = path_join(temp_dir(), "lossy-a"), *b = path_join(temp_dir(), "lossy-b");
    REQUIRE(run_cmd("mkdir -p '%s' '%s' && ln -sf \"$(realpath '%s')\" '%s/x.flac' && ln -sf \"$(realpath '%s')\" '%s/y.flac'",
                    a, b, src, a, src, b) == 0);
    char *la = path_join(a, "x.flac"), *lb = path_join(b, "y.flac");
    degrade_spec s0 = degrade_codec_for(src), s1 = degrade_codec_for(la), s2 = degrade_codec_for(lb);
    CHECK(s0.codec == s1.codec && s0.bitrate == s1.bitrate && s0.codec == s2.codec && s0.bitrate == s2.bitrate);
    /* over many names, every codec and rate is used */
    int seen[2][9] = {{0}};   /* [codec][kbit/s / 4] */
    char name[64];
    for (int i = 0; i < 400; i++) {
        snprintf(name, sizeof name, "/no/such/dir/clip%03d.flac", i);
        degrade_spec s = degrade_codec_for(name);
        REQUIRE(s.bitrate % 4000 == 0 && s.bitrate / 4000 < 9);
        seen[s.codec][s.bitrate / 4000]++;
    }
    int opus = 0, mp3 = 0;
    for (int k = 0; k < 9; k++) { opus += seen[LOSSY_OPUS][k]; mp3 += seen[LOSSY_MP3][k]; }
    CHECK(seen[LOSSY_OPUS][2] && seen[LOSSY_OPUS][3] && seen[LOSSY_OPUS][4] && seen[LOSSY_OPUS][6] &&
          seen[LOSSY_MP3][4] && seen[LOSSY_MP3][6] && seen[LOSSY_MP3][8]);
    CHECKF(opus > 160 && mp3 > 120, "codecs unevenly drawn: %d Opus, %d MP3", opus, mp3);
    free(src); free(a); free(b); free(la); free(lb);
}

TEST(lossy_features_are_cached_under_their_own_key)
{
    REQUIRE(audio_lossy_available());
    char *src = path_join(shared_dir(), "data/vctk/audio/p225/p225_004.flac");
    char *cache = path_join(temp_dir(), "lossy-cache");
    vg_frontend fe;
    vg_frontend_default(&fe, VG_FE_LOGMEL);
    degrade_spec spec = {.kind = DEGRADE_CODEC, .codec = LOSSY_MP3, .bitrate = 16000};
    float *a = NULL, *b = NULL, *clean = NULL;
    int c, h, w, w2, hit = -1;
    REQUIRE(features_cached_degraded(cache, &fe, src, 0, &spec, &a, &c, &h, &w, &hit) == VG_OK);
    CHECK(hit == 0);
    REQUIRE(features_cached_degraded(cache, &fe, src, 0, &spec, &b, &c, &h, &w2, &hit) == VG_OK);
    CHECK(hit == 1 && w == w2 && !memcmp(a, b, sizeof(float) * (size_t)h * w));
    free(b);
    /* the clean features are not served from the lossy entry, nor is another rate */
    REQUIRE(vg_features_cached(cache, &fe, src, 0, &clean, &c, &h, &w2, &hit) == VG_OK);
    CHECK(hit == 0 && w2 == w);
    CHECK(memcmp(a, clean, sizeof(float) * (size_t)h * w) != 0);
    spec.bitrate = 32000;
    REQUIRE(features_cached_degraded(cache, &fe, src, 0, &spec, &b, &c, &h, &w2, &hit) == VG_OK);
    CHECK(hit == 0);
    /* a lossy copy's key names its encoder library's version (LAME's here),
     * which Debian upgrades apart from FFmpeg */
    char want[96];
    snprintf(want, sizeof want, " lossy=mp3:32000:%s", lossy_encoder_version(LOSSY_MP3));
    int n, with = cache_keys_with(cache, want, &n);
    CHECKF(strcmp(lossy_encoder_version(LOSSY_MP3), "unknown") && strcmp(lossy_encoder_version(LOSSY_OPUS), "unknown"),
           "encoder versions: %s, %s", lossy_encoder_version(LOSSY_MP3), lossy_encoder_version(LOSSY_OPUS));
    CHECKF(n == 3 && with == 1, "%d entries, %d with '%s'", n, with, want);
    free(a); free(b); free(clean); free(src); free(cache);
}

static int train_once(const vg_dataset *d, unsigned aug, vg_train_result *r)
{
    vg_train_config c;
    vg_train_config_default(&c, "cnn");
    c.epochs = 1;
    c.batch = 8;
    c.patience = 0;
    c.augment = aug;
    c.cache_dir = path_join(temp_dir(), "lossy-train-cache");
    char err[256];
    int rc = vg_train(d, &c, NULL, r, err, sizeof err);
    if (rc) test_fail(__FILE__, __LINE__, "vg_train: %s", err);
    free((char *)c.cache_dir);
    return rc;
}

/* training with EXTRA on top of all is the same twice (the second time from
 * the cache) and differs from training without it */
static void check_training_uses(unsigned extra, const char *what)
{
    const char *root = tts_corpus();
    REQUIRE(root);
    vg_dataset *d;
    REQUIRE(vg_dataset_scan(root, NULL, &d, NULL, 0) == VG_OK);
    vg_train_result plain, with1, with2;
    REQUIRE(train_once(d, VG_AUG_ALL, &plain) == VG_OK);
    REQUIRE(train_once(d, VG_AUG_ALL | extra, &with1) == VG_OK);
    REQUIRE(train_once(d, VG_AUG_ALL | extra, &with2) == VG_OK);   /* from the cache */
    size_t bytes = sizeof(float) * plain.last->n_arena;
    CHECK(!memcmp(with1.last->arena, with2.last->arena, bytes));
    CHECKF(memcmp(plain.last->arena, with1.last->arena, bytes) != 0, "the %s changed nothing", what);
    vg_train_result_free(&plain);
    vg_train_result_free(&with1);
    vg_train_result_free(&with2);
    vg_dataset_free(d);
}

TEST(training_with_codec_augmentation_is_deterministic_and_uses_it)
{
    REQUIRE(audio_lossy_available());
    check_training_uses(VG_AUG_CODEC, "codec copies");
}

/* White-noise augmentation (VG_AUG_WAVENOISE): the copy's noise is white
 * and sits at its SNR below the recording's power, as the evaluation's
 * noise10 copies (scripts/degrade.sh) do. */
TEST(noisy_copy_is_fixed_by_the_file_name_and_spans_5_to_20_db)
{
    char *src = path_join(shared_dir(), "data/vctk/audio/p225/p225_004.flac");
    char *a = path_join(temp_dir(), "noise-a");
    REQUIRE(run_cmd("mkdir -p '%s' && ln -sf \"$(realpath '%s')\" '%s/x.flac'", a, src, a) == 0);
    char *la = path_join(a, "x.flac");
    degrade_spec s0 = degrade_noise_for(src), s1 = degrade_noise_for(la);
    CHECK(s0.kind == DEGRADE_WHITE_NOISE && s0.snr_db == s1.snr_db && s0.seed == s1.seed);
    float lo = 99, hi = 0;
    char name[64];
    for (int i = 0; i < 400; i++) {
        snprintf(name, sizeof name, "/no/such/dir/clip%03d.flac", i);
        degrade_spec s = degrade_noise_for(name);
        REQUIRE(s.snr_db >= 5.0f && s.snr_db <= 20.0f);
        if (s.snr_db < lo) lo = s.snr_db;
        if (s.snr_db > hi) hi = s.snr_db;
    }
    CHECKF(lo < 5.5f && hi > 19.5f, "SNRs drawn only from %.2f-%.2f dB", lo, hi);
    free(src); free(a); free(la);
}

/* mean mel power of bands LO..H-1 over frames T0..T1-1, per band, of raw log2 X [H][W] */
static void band_power(const float *x, int H, int W, int lo, int t0, int t1, double *out)
{
    for (int b = lo; b < H; b++) {
        double s = 0;
        for (int t = t0; t < t1; t++) s += exp2(x[(size_t)b * W + t]);
        out[b - lo] = s / (t1 - t0);
    }
}

TEST(noisy_copy_adds_white_noise_at_its_snr)
{
    /* a 500 Hz tone of power 0.125: above 2 kHz its copy holds only noise */
    enum { N = 3 * RATE };
    float *tone = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) tone[i] = 0.5f * sinf(2 * (float)M_PI * 500 * i / RATE);
    char *wav = path_join(temp_dir(), "tone500.wav");
    REQUIRE(write_wav(wav, 3, 1, RATE, 32, tone, sizeof(float) * N, sizeof(float) * N) == 0);
    vg_frontend fe;
    vg_frontend_default(&fe, VG_FE_LOGMEL);
    fe.input_mean = 0.0f;   /* raw log2 mel power */
    fe.input_std = 1.0f;
    degrade_spec spec = {.kind = DEGRADE_WHITE_NOISE, .snr_db = 10.0f, .seed = 42};
    float *x = NULL, *clean = NULL;
    int c, h, w, w2;
    REQUIRE(features_from_audio_degraded(&fe, wav, 0, 0, &spec, &x, &c, &h, &w, NULL) == VG_OK);
    REQUIRE(vg_features_from_audio(&fe, wav, 0, 0, &clean, &c, &h, &w2, NULL) == VG_OK);
    REQUIRE(w == w2 && h == fe.mel.n_mels);
    /* reference: the same front end on unit-variance white noise */
    uint64_t r = 7;
    for (int i = 0; i < N; i++) tone[i] = rng_normal(&r);
    vg_melspec *mel = vg_melspec_create(&fe.mel);
    REQUIRE(mel);
    int frames = vg_melspec_frames(mel, N);
    float *unit = malloc(sizeof(float) * (size_t)h * frames);
    REQUIRE(vg_melspec_log2(mel, tone, N, unit) == VG_OK);
    int lo = 0;
    while (mel_band_centre_hz(&fe.mel, lo) < 2000) lo++;
    int t1 = (w < frames ? w : frames) - 3;
    double *pn = malloc(sizeof(double) * h), *pu = malloc(sizeof(double) * h), *pc = malloc(sizeof(double) * h);
    band_power(x, h, w, lo, 3, t1, pn);
    band_power(unit, h, frames, lo, 3, t1, pu);
    band_power(clean, h, w, lo, 3, t1, pc);
    /* noise power = the tone's 0.125 / 10^(10/10), the same in every band
     * relative to white noise's, and far above what the tone leaks */
    double sum = 0, worst = 0;
    for (int b = 0; b < h - lo; b++) {
        double ratio = pn[b] / pu[b] / 0.0125;
        sum += ratio;
        if (fabs(ratio - 1) > worst) worst = fabs(ratio - 1);
        CHECKF(pc[b] < pn[b] * 1e-3, "band %d: the clean tone has %g of the noisy copy's %g", lo + b, pc[b], pn[b]);
    }
    double mean = sum / (h - lo);
    CHECKF(fabs(mean - 1) < 0.03, "noise power %.4f x the SNR's (want 1 +- 0.03)", mean);
    CHECKF(worst < 0.25, "a band's noise is %.2f off white", worst);
    /* the copy is fixed by the spec: the same again, another seed differs */
    float *y = NULL;
    REQUIRE(features_from_audio_degraded(&fe, wav, 0, 0, &spec, &y, &c, &h, &w2, NULL) == VG_OK);
    CHECK(!memcmp(x, y, sizeof(float) * (size_t)h * w));
    free(y);
    spec.seed = 43;
    REQUIRE(features_from_audio_degraded(&fe, wav, 0, 0, &spec, &y, &c, &h, &w2, NULL) == VG_OK);
    CHECK(memcmp(x, y, sizeof(float) * (size_t)h * w) != 0);
    vg_melspec_destroy(mel);
    free(y); free(x); free(clean); free(unit); free(tone); free(wav); free(pn); free(pu); free(pc);
}

TEST(training_with_white_noise_copies_is_deterministic_and_uses_them)
{
    check_training_uses(VG_AUG_WAVENOISE, "noisy copies");
}

TEST(training_with_pitch_shifted_copies_is_deterministic_and_uses_them)
{
    check_training_uses(VG_AUG_WAVEPITCH, "pitch-shifted copies");
}
