/* Classifying a recording already in memory (vg_predict_samples) gives what
 * classifying the file gives, bit for bit; resampling (vg_resample) keeps
 * the answer. */
#include "test.h"
#include "voxgender.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *MODEL = "models/voxgender-default.safetensors";

TEST(predict_samples_equals_predict_file)
{
    vg_model *m;
    char err[256];
    REQUIRE(vg_model_load(MODEL, &m, err, sizeof err) == VG_OK);
    const char *rel[] = {"data/vctk/audio/p225/p225_003.flac",            /* 7.8 s: two windows */
                         "data/librispeech/audio/103/103-1240-0000.flac", /* 14 s */
                         "data/audiomnist/audio/01/0_01_0.flac"};         /* 0.75 s */
    for (int k = 0; k < 3; k++) {
        char *path = path_join(shared_dir(), rel[k]);
        float *x = NULL;
        vg_clip_info info;
        REQUIRE(vg_audio_load_window(path, 0, 600, 16000, &x, &info) == VG_OK);
        for (int first = 0; first <= 1; first++) {
            float pf = -1, ps = -2, lf[2], ls[2];
            int rf = vg_predict_file(m, path, first, &pf, lf);
            int rs = vg_predict_samples(m, x, info.n_valid, 16000, first, &ps, ls);
            CHECKF(rf == rs, "%s first=%d: %d vs %d", rel[k], first, rf, rs);
            if (rf == VG_OK)
                CHECKF(!memcmp(&pf, &ps, sizeof pf) && !memcmp(lf, ls, sizeof lf),
                       "%s first=%d: %.9g vs %.9g", rel[k], first, pf, ps);
        }
        free(x);
        free(path);
    }
    vg_model_destroy(m);
}

TEST(predict_samples_refuses_what_it_cannot_classify)
{
    vg_model *m;
    char err[256];
    REQUIRE(vg_model_load(MODEL, &m, err, sizeof err) == VG_OK);
    float *x = calloc(32000, sizeof(float)), p, l[2];
    REQUIRE(x);
    CHECK(vg_predict_samples(m, x, 32000, 16000, 0, &p, l) == VG_ENOSPEECH);   /* silence */
    CHECK(vg_predict_samples(m, x, 32000, 44100, 0, &p, l) == VG_ERATE);       /* not the model's rate */
    CHECK(vg_predict_samples(m, x, 0, 16000, 0, &p, l) == VG_ENOSAMPLES);
    x[100] = NAN;
    CHECK(vg_predict_samples(m, x, 32000, 16000, 0, &p, l) == VG_ENONFINITE);
    CHECK(vg_predict_samples(NULL, x, 32000, 16000, 0, &p, l) == VG_EARG);
    CHECK(vg_predict_samples(m, NULL, 32000, 16000, 0, &p, l) == VG_EARG);
    free(x);
    vg_model_destroy(m);
}

TEST(resample_round_trip_keeps_length_and_answer)
{
    char *path = path_join(shared_dir(), "data/vctk/audio/p225/p225_003.flac");
    float *x = NULL, *up = NULL, *back = NULL;
    vg_clip_info info;
    REQUIRE(vg_audio_load_window(path, 0, 600, 16000, &x, &info) == VG_OK);
    size_t n = info.n_valid, n_up = 0, n_back = 0;
    REQUIRE(vg_resample(x, n, 16000, 48000, &up, &n_up) == VG_OK);
    CHECKF(labs((long)n_up - 3 * (long)n) <= 3, "%zu -> %zu", n, n_up);
    REQUIRE(vg_resample(up, n_up, 48000, 16000, &back, &n_back) == VG_OK);
    CHECKF(labs((long)n_back - (long)n) <= 2, "%zu -> %zu", n, n_back);
    /* the same sound: the difference is far below the signal (band-limited
     * speech survives the round trip but for the filters' edges) */
    double sig = 0, diff = 0;
    for (size_t i = 1000; i + 1000 < n && i < n_back; i++) {
        sig += (double)x[i] * x[i];
        diff += ((double)x[i] - back[i]) * ((double)x[i] - back[i]);
    }
    CHECKF(diff < sig * 1e-3, "round trip error %.3g of the signal's power", diff / sig);
    vg_model *m;
    char err[256];
    REQUIRE(vg_model_load(MODEL, &m, err, sizeof err) == VG_OK);
    float p0, p1, l[2];
    REQUIRE(vg_predict_samples(m, x, n, 16000, 0, &p0, l) == VG_OK);
    REQUIRE(vg_predict_samples(m, back, n_back, 16000, 0, &p1, l) == VG_OK);
    CHECKF(fabsf(p0 - p1) < 0.02f, "P(male) %.4f -> %.4f", p0, p1);
    free(up);
    CHECK(vg_resample(x, n, 500, 16000, &up, &n_up) == VG_ERATE && up == NULL);
    free(x); free(back); free(path);
    vg_model_destroy(m);
}
