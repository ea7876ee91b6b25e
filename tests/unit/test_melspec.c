/* Log-mel front end against torchaudio reference values
 * (tests/ref/make_frontend_ref.py -> tests/fixtures/frontend). */
#include "test.h"
#include "voxgender.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Tolerance from the spec: max |log2 difference| <= 1e-3 where power > 1e-10. */
#define LOG2_TOL 1e-3f
static const float LOG2_FLOOR = -33.219281f; /* log2(1e-10) */

static char *frontend_path(const char *name, const char *suffix)
{
    char file[256];
    snprintf(file, sizeof file, "frontend/%.100s%.100s", name, suffix);
    return path_join(fixture_dir(), file);
}

/* Compare our log2-mel of X with the reference; returns max difference. */
static float compare_mel(const char *name, const float *x, size_t n)
{
    char *p = frontend_path(name, ".mel.npy");
    size_t shape[2];
    int nd;
    float *ref = npy_read_f32(p, shape, &nd);
    free(p);
    if (!ref) { test_fail(__FILE__, __LINE__, "%s: missing reference", name); return INFINITY; }
    vg_mel_config cfg;
    vg_mel_config_default(&cfg);
    vg_melspec *m = vg_melspec_create(&cfg);
    int frames = vg_melspec_frames(m, n);
    CHECKF(nd == 2 && shape[0] == 128 && (int)shape[1] == frames,
           "%s: shape %zux%zu vs 128x%d", name, shape[0], shape[1], frames);
    float *out = malloc(sizeof(float) * 128 * (size_t)frames);
    CHECK(vg_melspec_log2(m, x, n, out) == VG_OK);
    float worst = 0;
    size_t compared = 0;
    for (size_t i = 0; i < 128 * (size_t)frames; i++) {
        if (ref[i] > LOG2_FLOOR) {
            worst = fmaxf(worst, fabsf(out[i] - ref[i]));
            compared++;
        } else if (isinf(ref[i])) {
            /* Exactly zero power in torchaudio: ours must sit at the floor. */
            CHECKF(out[i] <= LOG2_FLOOR + 1e-3f, "%s[%zu]: zero power gave %g", name, i, out[i]);
        }
    }
    CHECKF(worst <= LOG2_TOL, "%s: max |diff| %g over %zu values", name, worst, compared);
    free(out);
    free(ref);
    vg_melspec_destroy(m);
    return worst;
}

/* The cases of tests/fixtures/frontend/cases.txt of one KIND ("real",
 * "seed"): name, recording (under ../shared/data), offset, seconds. */
typedef struct frontend_case {
    char name[64];
    char path[1024];
    double offset, seconds;
} frontend_case;

static int read_cases(const char *kind, frontend_case *out, int max)
{
    char *cases_path = path_join(fixture_dir(), "frontend/cases.txt");
    FILE *f = fopen(cases_path, "r");
    free(cases_path);
    if (!f) return 0;
    char name[64], k[32], rel[512];
    double off, sec;
    int n = 0;
    while (n < max && fscanf(f, "%63s %31s %511s %lf %lf", name, k, rel, &off, &sec) == 5) {
        if (strcmp(k, kind)) continue;
        frontend_case *c = &out[n++];
        snprintf(c->name, sizeof c->name, "%s", name);
        snprintf(c->path, sizeof c->path, "%s/data/%s", shared_dir(), rel);
        c->offset = off;
        c->seconds = sec;
    }
    fclose(f);
    return n;
}

TEST(melspec_synthetic_signals_match_torchaudio)
{
    const char *names[] = {"silence", "sine440", "noise", "short"};
    for (int k = 0; k < 4; k++) {
        char *p = frontend_path(names[k], ".in.npy");
        size_t shape[2];
        int nd;
        float *x = npy_read_f32(p, shape, &nd);
        free(p);
        REQUIRE(x && nd == 1);
        compare_mel(names[k], x, shape[0]);
        free(x);
    }
}

TEST(melspec_real_clips_decode_and_match_torchaudio)
{
    frontend_case cases[16];
    int n_real = read_cases("real", cases, 16);
    for (int k = 0; k < n_real; k++) {
        const frontend_case *c = &cases[k];
        float *x = NULL;
        vg_clip_info info;
        int rc = vg_audio_load_window(c->path, c->offset, c->seconds, 16000, &x, &info);
        CHECKF(rc == VG_OK, "%s: %s", c->path, vg_strerror(rc));
        if (rc == VG_OK) {
            /* FLAC is lossless: the decoded head must equal torchaudio.load's. */
            char *hp = frontend_path(c->name, ".head.npy");
            size_t shape[2];
            int nd;
            float *head = npy_read_f32(hp, shape, &nd);
            free(hp);
            REQUIRE(head);
            float hd = 0;
            for (size_t i = 0; i < shape[0]; i++) hd = fmaxf(hd, fabsf(head[i] - x[i]));
            CHECKF(hd < 1e-6f, "%s: decoded samples differ from torchaudio.load by %g", c->name, hd);
            free(head);
            compare_mel(c->name, x, (size_t)llround(c->seconds * 16000));
            if (!strcmp(c->name, "mnist")) CHECK(info.padded == 1);
            else CHECK(info.padded == 0);
        }
        free(x);
    }
    CHECK(n_real >= 5);
}

TEST(melspec_frames_and_plan_reuse)
{
    vg_mel_config cfg;
    vg_mel_config_default(&cfg);
    vg_melspec *m = vg_melspec_create(&cfg);
    REQUIRE(m);
    CHECK(vg_melspec_frames(m, 96000) == 481);
    CHECK(vg_melspec_frames(m, 60000) == 301);
    float *x = malloc(sizeof(float) * 16000);
    for (int i = 0; i < 16000; i++) x[i] = sinf(i * 0.05f) * 0.3f;
    float *a = malloc(sizeof(float) * 128 * 81), *b = malloc(sizeof(float) * 128 * 81);
    CHECK(vg_melspec_log2(m, x, 16000, a) == VG_OK);
    CHECK(vg_melspec_log2(m, x, 16000, b) == VG_OK);
    CHECK(memcmp(a, b, sizeof(float) * 128 * 81) == 0);
    /* A single sample still works (reflect padding degenerates). */
    CHECK(vg_melspec_log2(m, x, 1, a) == VG_OK);
    free(x); free(a); free(b);
    vg_melspec_destroy(m);
    vg_mel_config bad = cfg;
    bad.win_length = 500;
    CHECK(vg_melspec_create(&bad) == NULL);
}

TEST(seed_compat_image_matches_matplotlib_pipeline)
{
    frontend_case cases[16];
    int n = read_cases("seed", cases, 16);
    vg_mel_config cfg;
    vg_mel_config_default(&cfg);
    vg_melspec *m = vg_melspec_create(&cfg);
    for (int k = 0; k < n; k++) {
        float *x = NULL;
        REQUIRE(vg_audio_load_window(cases[k].path, 0, VG_SEED_SAMPLES / 16000.0, 16000, &x, NULL) == VG_OK);
        float *power = malloc(sizeof(float) * 128 * 301);
        CHECK(vg_melspec_power(m, x, VG_SEED_SAMPLES, power) == VG_OK);
        vg_image ours = {0}, ref = {0};
        CHECK(vg_seed_image_from_power(power, 128, 301, &ours) == VG_OK);
        char *rp = frontend_path(cases[k].name, ".png");
        CHECK(vg_image_read(rp, &ref) == VG_OK);
        CHECK(ref.width == 301 && ref.height == 128 && ours.width == 301 && ours.height == 128);
        int diff = 0, maxd = 0;
        for (int i = 0; ref.pixels && i < 301 * 128; i++) {
            int d = abs((int)ours.pixels[i] - (int)ref.pixels[(size_t)i * ref.channels]);
            diff += d != 0;
            if (d > maxd) maxd = d;
        }
        CHECKF(diff == 0, "%s: %d of %d pixels differ (max %d)", cases[k].name, diff, 301 * 128, maxd);
        vg_image_free(&ours);
        vg_image_free(&ref);
        free(rp); free(power); free(x);
    }
    vg_melspec_destroy(m);
    CHECK(n == 2);
}
