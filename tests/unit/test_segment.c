/* Segmentation of a long recording built from held-out clips (known sex,
 * known boundaries) with silence, noise and tones between them. */
#include "test.h"
#include "voxgender.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct truth { double start, end; int label; } truth;
typedef struct segs { vg_segment s[4096]; int n; } segs;

static void collect(void *ctx, const vg_segment *s)
{
    segs *g = ctx;
    if (g->n < 4096) g->s[g->n++] = *s;
}

static float *decode_all(const char *path, size_t *n)
{
    vg_audio_reader *r;
    if (vg_audio_reader_open(path, 16000, &r)) return NULL;
    size_t cap = 16000 * 30;
    float *x = malloc(sizeof(float) * cap);
    *n = 0;
    long got;
    while ((got = vg_audio_reader_read(r, x + *n, cap - *n)) > 0) {
        *n += (size_t)got;
        if (*n == cap) x = realloc(x, sizeof(float) * (cap *= 2));
    }
    vg_audio_reader_close(r);
    return x;
}

/* Read speech has pauses of seconds between sentences (LibriSpeech 1926:
 * 2.7 s at -70 dBFS), which a clip-level label would count as speech. So
 * that the known boundaries are those of speech, every run of 100 ms
 * windows below -45 dBFS longer than 0.3 s is shortened to 0.15 s, in place
 * (natural short pauses stay). Returns the new length. */
static size_t compress_pauses(float *x, size_t n)
{
    const size_t win = 1600, keep = 2400, min_run = 4800;
    size_t out = 0, i = 0;
    while (i < n) {
        /* the quiet run starting at i, in whole windows */
        size_t j = i;
        while (j + win <= n) {
            double e = 0;
            for (size_t k = j; k < j + win; k++) e += (double)x[k] * x[k];
            if (10 * log10(e / win + 1e-20) >= -45) break;
            j += win;
        }
        if (j - i >= min_run) {
            memmove(x + out, x + i, sizeof(float) * keep);
            out += keep;
            i = j;
        } else {
            size_t step = j > i ? j - i : (i + win <= n ? win : n - i);
            memmove(x + out, x + i, sizeof(float) * step);
            out += step;
            i += step;
        }
    }
    return out;
}

/* Segment X[LEN] fed whole into WHOLE, and fed in blocks of random sizes
 * (1 sample to MAX_BLOCK, drawn from *SEED) into BLOCKS; CHECKs that both
 * give the same segments. */
static void segment_whole_and_in_blocks(vg_model *m, const float *x, size_t len, uint64_t *seed, size_t max_block,
                                        segs *whole, segs *blocks)
{
    whole->n = blocks->n = 0;
    vg_segmenter *s;
    REQUIRE(vg_segmenter_create(m, NULL, collect, whole, &s) == VG_OK);
    CHECK(vg_segmenter_feed(s, x, len) == VG_OK);
    CHECK(vg_segmenter_finish(s) == VG_OK);
    vg_segmenter_destroy(s);
    REQUIRE(vg_segmenter_create(m, NULL, collect, blocks, &s) == VG_OK);
    for (size_t at = 0; at < len;) {
        *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t b = 1 + (*seed >> 33) % max_block;
        if (b > len - at) b = len - at;
        CHECK(vg_segmenter_feed(s, x + at, b) == VG_OK);
        at += b;
    }
    CHECK(vg_segmenter_finish(s) == VG_OK);
    vg_segmenter_destroy(s);
    CHECKF(whole->n == blocks->n && !memcmp(whole->s, blocks->s, sizeof(vg_segment) * (size_t)whole->n),
           "streamed in blocks: %d segments, whole: %d", blocks->n, whole->n);
}

TEST(segment_long_recording_boundaries_accuracy_and_streaming)
{
    char *mp = path_join(".", "models/voxgender-default.safetensors");
    vg_model *m;
    char err[256];
    REQUIRE(vg_model_load(mp, &m, err, sizeof err) == VG_OK);
    free(mp);
    /* pick held-out clips from the committed list: PER_SEX of each sex */
    FILE *f = fopen("models/default/splits.csv", "r");
    REQUIRE(f);
    enum { PER_SEX = 10, N = 2 * PER_SEX };
    char line[1024], paths[N][512];
    int labels[N], nm = 0, nf = 0, n = 0;
    char used[N][64];
    /* VG_SEGMENT_SPLIT=validation builds the same test from validation
     * speakers: the segmenter's settings are tuned there, never on "test" */
    const char *split = getenv("VG_SEGMENT_SPLIT") ? getenv("VG_SEGMENT_SPLIT") : "test";
    while (fgets(line, sizeof line, f) && n < N) {
        char *p = strtok(line, ","), *spk = strtok(NULL, ","), *g = strtok(NULL, ","), *sp = strtok(NULL, ",\n");
        if (!p || !spk || !g || !sp || strcmp(sp, split) || !strstr(p, "librispeech")) continue;
        /* reader 1688 is labelled male but speaks at a female pitch
         * (../shared/data/README.md): a label we cannot score against */
        if (!strcmp(spk, "librispeech-1688")) continue;
        int seen = 0;   /* one clip per speaker */
        for (int k = 0; k < n; k++) seen |= !strcmp(used[k], spk);
        if (seen) continue;
        snprintf(used[n], sizeof used[n], "%s", spk);
        int male = !strcmp(g, "male");
        if ((male && nm >= PER_SEX) || (!male && nf >= PER_SEX)) continue;
        snprintf(paths[n], sizeof paths[n], "models/default/%s", p);
        labels[n++] = male;
        if (male) nm++; else nf++;
    }
    fclose(f);
    REQUIRE(n == N);
    /* speech clips alternating with 2 s gaps: silence, white noise at
     * -40 dBFS, a chord, a stepping melody */
    size_t cap = 16000 * 400, len = 0;
    float *x = calloc(cap, sizeof(float));
    truth t[64];
    int nt = 0;
    uint64_t seed = 99;
    for (int i = 0; i < n; i++) {
        size_t cn;
        float *clip = decode_all(paths[i], &cn);
        REQUIRE(clip);
        /* the known boundaries are those of the speech: trim the clip's
         * leading and trailing silence (below -40 dBFS) */
        size_t a = 0, b = cn;
        while (a < cn && fabsf(clip[a]) < 0.01f) a++;
        while (b > a && fabsf(clip[b - 1]) < 0.01f) b--;
        cn = compress_pauses(clip + a, b - a);
        if (cn > 16000 * 8) cn = 16000 * 8;
        t[nt++] = (truth){len / 16000.0, (len + cn) / 16000.0, labels[i]};
        memcpy(x + len, clip + a, sizeof(float) * cn);
        len += cn;
        free(clip);
        for (int k = 0; k < 32000; k++) {
            double tt = k / 16000.0, v = 0;
            switch (i % 4) {
            case 1: seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                    v = 0.01 * (((seed >> 33) & 0xffff) / 32768.0 - 1.0); break;
            case 2: v = 0.1 * (sin(2 * M_PI * 220 * tt) + sin(2 * M_PI * 277 * tt) + sin(2 * M_PI * 330 * tt)); break;
            case 3: { double f0 = 220 + 110 * floor(2 * tt); v = 0.3 * sin(2 * M_PI * f0 * tt) + 0.15 * sin(4 * M_PI * f0 * tt); break; }
            default: break;
            }
            x[len + (size_t)k] = (float)v;
        }
        len += 32000;
    }
    /* whole, and in blocks of 1 sample to 3 s */
    static segs whole, blocks;
    segment_whole_and_in_blocks(m, x, len, &seed, 48000, &whole, &blocks);
    /* frame-level scores at 10 ms */
    long speech_ok = 0, speech_n = 0, gender_ok = 0, gender_n = 0;
    for (double tt = 0.005; tt < len / 16000.0; tt += 0.01) {
        int truth_label = -1, hyp = -2;
        for (int i = 0; i < nt; i++) if (tt >= t[i].start && tt < t[i].end) truth_label = t[i].label;
        for (int i = 0; i < whole.n; i++) if (tt >= whole.s[i].start && tt < whole.s[i].end) hyp = whole.s[i].label;
        speech_n++;
        speech_ok += (truth_label >= 0) == (hyp >= 0);
        if (truth_label >= 0 && hyp >= 0) { gender_n++; gender_ok += truth_label == hyp; }
    }
    if (getenv("VG_SEGMENT_DEBUG")) {
        for (int i = 0; i < nt; i++) {
            double male = 0, female = 0, non = 0;
            for (int j = 0; j < whole.n; j++) {
                double a = fmax(whole.s[j].start, t[i].start), b = fmin(whole.s[j].end, t[i].end);
                if (b <= a) continue;
                if (whole.s[j].label == 1) male += b - a; else if (whole.s[j].label == 0) female += b - a; else non += b - a;
            }
            printf("    clip %d (%s, %.1f-%.1f): male %.1f female %.1f nonspeech %.1f\n", i, t[i].label ? "M" : "F",
                   t[i].start, t[i].end, male, female, non);
        }
        for (int j = 0; j < whole.n; j++)
            printf("    seg %.2f-%.2f %d p %.2f\n", whole.s[j].start, whole.s[j].end, whole.s[j].label, whole.s[j].p_male);
    }
    double sp_acc = (double)speech_ok / speech_n, g_acc = gender_n ? (double)gender_ok / gender_n : 0;
    /* boundary error: each true boundary to the nearest hypothesised one */
    double errs[128];
    int ne = 0;
    for (int i = 0; i < nt; i++) {
        double b[2] = {t[i].start, t[i].end};
        for (int k = 0; k < 2; k++) {
            double best = 1e9;
            for (int j = 0; j + 1 < whole.n; j++) best = fmin(best, fabs(whole.s[j].end - b[k]));
            errs[ne++] = best;
        }
    }
    for (int i = 1; i < ne; i++)
        for (int j = i; j > 0 && errs[j] < errs[j - 1]; j--) { double tmp = errs[j]; errs[j] = errs[j - 1]; errs[j - 1] = tmp; }
    double median = (errs[ne / 2] + errs[(ne - 1) / 2]) / 2;
    printf("    segmentation: %d segments, speech/nonspeech %.1f%%, gender on speech %.1f%%, median boundary error %.2f s\n",
           whole.n, 100 * sp_acc, 100 * g_acc, median);
    /* the targets: 95% and 95% */
    CHECKF(sp_acc >= 0.95, "speech/nonspeech frame accuracy %.3f", sp_acc);
    CHECKF(g_acc >= 0.95, "gender frame accuracy on speech %.3f", g_acc);
    CHECKF(median <= 0.5, "median boundary error %.2f s", median);
    free(x);
    vg_model_destroy(m);
}

/* Noise and music between the frame cues' reach: coloured noise and a
 * melody of swelling tones, 10 s each, are nonspeech from end to end (the
 * frame cues alone let through most of both), and a block-fed stream gives
 * the same segments as a whole one. */
TEST(segment_leaves_coloured_noise_and_music_nonspeech)
{
    char *mp = path_join(".", "models/voxgender-default.safetensors");
    vg_model *m;
    char err[256];
    REQUIRE(vg_model_load(mp, &m, err, sizeof err) == VG_OK);
    free(mp);
    const size_t part = 16000 * 10, len = 3 * part;
    float *x = malloc(sizeof(float) * len);
    uint64_t st = 7;
    double y = 0, prev = 0;
    for (size_t i = 0; i < len; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        const double white = ((double)((st >> 33) % 2001) - 1000) / 32768.0, t = i / 16000.0;
        double v;
        if (i < part) v = 3 * (white - prev) * (1 + 0.9 * sin(2 * M_PI * 0.95 * t));   /* blue, swelling */
        else if (i < 2 * part) v = (y = 0.995 * y + white) * 0.5;                      /* brown */
        else {                                                                         /* a melody */
            const double f = 110 + 50 * floor(fmod(t * 4, 8));
            v = 0.3 * sin(2 * M_PI * f * t) * (0.5 + 0.5 * sin(2 * M_PI * 2 * t));
        }
        prev = white;
        x[i] = (float)v;
    }
    static segs whole, blocks;
    segment_whole_and_in_blocks(m, x, len, &st, 9000, &whole, &blocks);
    double speech[3] = {0, 0, 0};
    for (int i = 0; i < whole.n; i++)
        for (int k = 0; k < 3; k++) {   /* the labelled time in each part */
            const double a = fmax(whole.s[i].start, k * 10.0), b = fmin(whole.s[i].end, (k + 1) * 10.0);
            if (whole.s[i].label >= 0 && b > a) speech[k] += b - a;
        }
    for (int k = 0; k < 3; k++)
        CHECKF(speech[k] <= 0.5, "part %d: %.1f s of 10 labelled male or female", k, speech[k]);
    free(x);
    vg_model_destroy(m);
}
