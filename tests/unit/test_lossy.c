/* Lossy-codec augmentation (VG_AUG_CODEC): the round trip is a real codec
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
    lossy_spec s0 = lossy_spec_for(src), s1 = lossy_spec_for(la), s2 = lossy_spec_for(lb);
    CHECK(s0.codec == s1.codec && s0.bitrate == s1.bitrate && s0.codec == s2.codec && s0.bitrate == s2.bitrate);
    /* over many names, every codec and rate is used */
    int seen[2][9] = {{0}};   /* [codec][kbit/s / 4] */
    char name[64];
    for (int i = 0; i < 400; i++) {
        snprintf(name, sizeof name, "/no/such/dir/clip%03d.flac", i);
        lossy_spec s = lossy_spec_for(name);
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
    lossy_spec spec = {LOSSY_MP3, 16000};
    float *a = NULL, *b = NULL, *clean = NULL;
    int c, h, w, w2, hit = -1;
    REQUIRE(features_cached_lossy(cache, &fe, src, 0, &spec, &a, &c, &h, &w, &hit) == VG_OK);
    CHECK(hit == 0);
    REQUIRE(features_cached_lossy(cache, &fe, src, 0, &spec, &b, &c, &h, &w2, &hit) == VG_OK);
    CHECK(hit == 1 && w == w2 && !memcmp(a, b, sizeof(float) * (size_t)h * w));
    free(b);
    /* the clean features are not served from the lossy entry, nor is another rate */
    REQUIRE(vg_features_cached(cache, &fe, src, 0, &clean, &c, &h, &w2, &hit) == VG_OK);
    CHECK(hit == 0 && w2 == w);
    CHECK(memcmp(a, clean, sizeof(float) * (size_t)h * w) != 0);
    spec.bitrate = 32000;
    REQUIRE(features_cached_lossy(cache, &fe, src, 0, &spec, &b, &c, &h, &w2, &hit) == VG_OK);
    CHECK(hit == 0);
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

TEST(training_with_codec_augmentation_is_deterministic_and_uses_it)
{
    const char *root = tts_corpus();
    REQUIRE(root && audio_lossy_available());
    vg_dataset *d;
    REQUIRE(vg_dataset_scan(root, NULL, &d, NULL, 0) == VG_OK);
    vg_train_result plain, codec1, codec2;
    REQUIRE(train_once(d, VG_AUG_ALL, &plain) == VG_OK);
    REQUIRE(train_once(d, VG_AUG_ALL | VG_AUG_CODEC, &codec1) == VG_OK);
    REQUIRE(train_once(d, VG_AUG_ALL | VG_AUG_CODEC, &codec2) == VG_OK);   /* from the cache */
    size_t bytes = sizeof(float) * plain.last->n_arena;
    CHECK(!memcmp(codec1.last->arena, codec2.last->arena, bytes));
    CHECKF(memcmp(plain.last->arena, codec1.last->arena, bytes) != 0, "the codec copies changed nothing");
    vg_train_result_free(&plain);
    vg_train_result_free(&codec1);
    vg_train_result_free(&codec2);
    vg_dataset_free(d);
}
