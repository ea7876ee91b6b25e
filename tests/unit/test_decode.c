/* Audio decoding: formats, downmix, resampling, windows, and bad input. */
#include "test.h"
#include "voxgender.h"

#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SRC_RATE 44100
#define SRC_SECONDS 3
#define TONE_HZ 440.0

/* Stereo 44.1 kHz tone: left = 0.5 sin, right = 0.25 sin, so the mono
 * average is 0.375 sin. Written as WAV of the given sample format. */
static char *make_tone_wav(const char *name, int format, int bits)
{
    int n = SRC_RATE * SRC_SECONDS, bps = bits / 8;
    uint8_t *buf = malloc((size_t)n * 2 * bps);
    for (int i = 0; i < n; i++) {
        double s = sin(2 * M_PI * TONE_HZ * i / SRC_RATE);
        for (int ch = 0; ch < 2; ch++) {
            double v = (ch == 0 ? 0.5 : 0.25) * s;
            uint8_t *p = buf + ((size_t)i * 2 + ch) * bps;
            if (format == 3) { float f = (float)v; memcpy(p, &f, 4); continue; }
            if (bits == 8) { p[0] = (uint8_t)lrint(128 + v * 127); continue; }
            int64_t q = llround(v * ((1LL << (bits - 1)) - 1));
            for (int b = 0; b < bps; b++) p[b] = (uint8_t)((uint64_t)q >> (8 * b));
        }
    }
    char *path = path_join(temp_dir(), name);
    write_wav(path, format, 2, SRC_RATE, bits, buf, (size_t)n * 2 * bps, (size_t)n * 2 * bps);
    free(buf);
    return path;
}

/* Fraction of the signal's energy at the tone frequency, and its RMS. */
static double tone_purity(const float *x, size_t n, double *rms)
{
    double c = 0, s = 0, e = 0;
    for (size_t i = 0; i < n; i++) {
        double ph = 2 * M_PI * TONE_HZ * (double)i / 16000;
        c += x[i] * cos(ph);
        s += x[i] * sin(ph);
        e += (double)x[i] * x[i];
    }
    *rms = sqrt(e / (double)n);
    return e > 0 ? 2 * (c * c + s * s) / ((double)n * e) : 0;
}

static void check_tone_file(const char *path, double tol)
{
    float *x = NULL;
    vg_clip_info info;
    /* 2 s from 0.5 s: away from codec start-up and the file's end. */
    int rc = vg_audio_load_window(path, 0.5, 2.0, 16000, &x, &info);
    CHECKF(rc == VG_OK, "%s: %s", path, vg_strerror(rc));
    if (rc) return;
    double rms, purity = tone_purity(x, 32000, &rms);
    double want = 0.375 / sqrt(2.0);
    CHECKF(fabs(rms - want) < tol * want, "%s: rms %.4f, expected %.4f", path, rms, want);
    CHECKF(purity > 0.97, "%s: tone purity %.3f", path, purity);
    CHECKF(info.padded == 0 && info.n_valid == 32000, "%s: padded %d valid %zu", path,
           info.padded, info.n_valid);
    free(x);
}

TEST(decode_wav_sample_formats_downmix_and_resample)
{
    struct { const char *name; int format, bits; } f[] = {
        {"u8.wav", 1, 8}, {"s16.wav", 1, 16}, {"s24.wav", 1, 24},
        {"s32.wav", 1, 32}, {"f32.wav", 3, 32}};
    for (int i = 0; i < 5; i++) {
        char *p = make_tone_wav(f[i].name, f[i].format, f[i].bits);
        check_tone_file(p, f[i].bits == 8 ? 0.03 : 0.01);
        free(p);
    }
}

TEST(decode_compressed_formats_and_video)
{
    char *src = make_tone_wav("src.wav", 1, 16);
    struct { const char *out, *args; double tol; } f[] = {
        {"tone.flac", "-c:a flac", 0.01},
        {"tone.mp3", "-c:a libmp3lame -b:a 128k", 0.05},
        {"tone.ogg", "-c:a libvorbis -q:a 4", 0.05},
        {"tone.opus", "-c:a libopus -b:a 64k", 0.05},
        {"tone.m4a", "-c:a aac -b:a 128k", 0.05},
        /* the audio track of a video file */
        {"tone.mp4", "-f lavfi -i testsrc=size=64x48:rate=10 -shortest -c:v mpeg4 -c:a aac", 0.05},
        {"tone.mkv", "-f lavfi -i testsrc=size=64x48:rate=10 -shortest -c:v mpeg4 -c:a libvorbis", 0.05},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        char *out = path_join(temp_dir(), f[i].out);
        int rc = run_cmd("ffmpeg -nostdin -loglevel error -y -i %s %s %s", src, f[i].args, out);
        CHECKF(rc == 0, "ffmpeg could not make %s", f[i].out);
        if (rc == 0) check_tone_file(out, f[i].tol);
        free(out);
    }
    free(src);
}

TEST(decode_window_offset_padding)
{
    char *p = make_tone_wav("win.wav", 1, 16);   /* 3 s */
    float *x = NULL;
    vg_clip_info info;
    CHECK(vg_audio_load_window(p, 0, 6.0, 16000, &x, &info) == VG_OK);
    CHECK(info.padded == 1);
    CHECK(fabs(info.source_seconds - 3.0) < 0.01);
    CHECKF(labs((long)info.n_valid - 48000) <= 2, "n_valid %zu", info.n_valid);
    int zeros_ok = 1;
    for (int i = 48010; x && i < 96000; i++) zeros_ok &= x[i] == 0.0f;
    CHECK(zeros_ok);
    free(x);
    x = NULL;
    /* 2.5 s in: 0.5 s of audio, then padding. */
    CHECK(vg_audio_load_window(p, 2.5, 1.0, 16000, &x, &info) == VG_OK);
    CHECK(info.padded == 1 && labs((long)info.n_valid - 8000) <= 2);
    free(x);
    x = NULL;
    /* The offset selects the right samples: same tone phase as decoding from 0. */
    float *a = NULL, *b = NULL;
    CHECK(vg_audio_load_window(p, 0, 2.0, 16000, &a, NULL) == VG_OK);
    CHECK(vg_audio_load_window(p, 1.0, 1.0, 16000, &b, NULL) == VG_OK);
    double d = 0;
    for (int i = 0; a && b && i < 16000; i++) d = fmax(d, fabs(a[16000 + i] - b[i]));
    CHECKF(d < 1e-4, "offset window differs by %g", d);
    free(a);
    free(b);
    CHECK(vg_audio_load_window(p, 3.5, 1.0, 16000, &x, NULL) == VG_EOFFSET);
    CHECK(x == NULL);
    CHECK(vg_audio_load_window(p, 0, 0, 16000, &x, NULL) == VG_EARG);
    free(p);
}

static int load_status(const char *path)
{
    float *x = NULL;
    int rc = vg_audio_load_window(path, 0, 6.0, 16000, &x, NULL);
    if (rc != VG_OK && x != NULL) return 12345; /* must not return output on error */
    free(x);
    return rc;
}

TEST(decode_bad_inputs_give_specific_errors)
{
    const char *t = temp_dir();
    char *p;
    CHECK(load_status("/nonexistent/file.wav") == VG_ENOENT);

    p = path_join(t, "empty.wav");
    fclose(fopen(p, "wb"));
    CHECK(load_status(p) == VG_EEMPTY);
    free(p);

    p = path_join(t, "text.wav");
    FILE *f = fopen(p, "w");
    fputs("this is a text file, not a recording\n", f);
    fclose(f);
    int rc = load_status(p);
    CHECKF(rc == VG_EFORMAT || rc == VG_ENOSTREAM, "text.wav: %d", rc);
    free(p);

    /* Zero-length audio: a valid header with no samples. */
    p = path_join(t, "zero.wav");
    write_wav(p, 1, 1, 16000, 16, NULL, 0, 0);
    rc = load_status(p);
    CHECKF(rc == VG_ENOSAMPLES, "zero.wav: %d", rc);
    free(p);

    /* NaN and Inf in a float WAV. */
    float s[16000];
    for (int i = 0; i < 16000; i++) s[i] = 0.1f * sinf(i * 0.1f);
    s[5000] = NAN;
    p = path_join(t, "nan.wav");
    write_wav(p, 3, 1, 16000, 32, s, sizeof s, sizeof s);
    CHECK(load_status(p) == VG_ENONFINITE);
    free(p);
    s[5000] = INFINITY;
    p = path_join(t, "inf.wav");
    write_wav(p, 3, 1, 16000, 32, s, sizeof s, sizeof s);
    CHECK(load_status(p) == VG_ENONFINITE);
    free(p);

    /* Absurd sample rates. */
    int16_t pcm[8000] = {0};
    p = path_join(t, "rate1.wav");
    write_wav(p, 1, 1, 1, 16, pcm, sizeof pcm, sizeof pcm);
    rc = load_status(p);
    CHECKF(rc == VG_ERATE || rc == VG_EFORMAT, "rate 1 Hz: %d", rc);
    free(p);
    p = path_join(t, "rate_huge.wav");
    write_wav(p, 1, 1, 50000000, 16, pcm, sizeof pcm, sizeof pcm);
    rc = load_status(p);
    CHECKF(rc == VG_ERATE || rc == VG_EFORMAT, "rate 50 MHz: %d", rc);
    free(p);
    /* 1-bit samples. */
    p = path_join(t, "onebit.wav");
    write_wav(p, 1, 1, 16000, 1, pcm, sizeof pcm, sizeof pcm);
    rc = load_status(p);
    CHECKF(rc == VG_EFORMAT || rc == VG_EUNSUPPORTED, "1-bit: %d", rc);
    free(p);

    /* Truncated: the header claims 10 s, the file holds 1 s. */
    int16_t *one_s = calloc(16000, 2);
    for (int i = 0; i < 16000; i++) one_s[i] = (int16_t)(3000 * sin(i * 0.1));
    p = path_join(t, "truncated.wav");
    write_wav(p, 1, 1, 16000, 16, one_s, 32000, 320000);
    CHECK(load_status(p) == VG_EDECODE);
    free(p);
    free(one_s);

    /* No audio stream: a video without sound, and an image. */
    p = path_join(t, "silent_video.mp4");
    CHECK(run_cmd("ffmpeg -nostdin -loglevel error -y -f lavfi -i testsrc=size=64x48:rate=10 "
                  "-t 1 -c:v mpeg4 %s", p) == 0);
    CHECK(load_status(p) == VG_ENOSTREAM);
    free(p);
}

TEST(decode_corrupt_flac_is_refused)
{
    char *src = make_tone_wav("c_src.wav", 1, 16);
    char *flac = path_join(temp_dir(), "corrupt.flac");
    CHECK(run_cmd("ffmpeg -nostdin -loglevel error -y -i %s -c:a flac %s", src, flac) == 0);
    /* Overwrite a stretch of frame data in the middle with garbage. */
    FILE *f = fopen(flac, "r+b");
    REQUIRE(f);
    fseek(f, file_size(flac) / 3, SEEK_SET);
    for (int i = 0; i < 4000; i++) fputc((i * 7919) & 255, f);
    fclose(f);
    int rc = load_status(flac);
    CHECKF(rc == VG_EDECODE, "corrupt flac: %d (%s)", rc, vg_strerror(rc));
    /* Truncated FLAC (cut in the middle of a frame). */
    char *cut = path_join(temp_dir(), "cut.flac");
    CHECK(run_cmd("ffmpeg -nostdin -loglevel error -y -i %s -c:a flac %s && "
                  "truncate -s %ld %s", src, cut, 20000L, cut) == 0);
    rc = load_status(cut);
    CHECKF(rc == VG_EDECODE, "truncated flac: %d (%s)", rc, vg_strerror(rc));
    free(cut);
    free(flac);
    free(src);
}

/* kB from a /proc/self/status line ("VmRSS:", "VmHWM:"), or -1 */
static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, strlen(key))) v = strtol(line + strlen(key), NULL, 10);
    if (f) fclose(f);
    return v;
}

/* Reset the peak RSS (VmHWM) to the current RSS, so that a later VmHWM is
 * this test's own peak, not one left by an earlier test of the run. */
static int reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    int ok = fputs("5", f) >= 0;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

TEST(decode_two_hour_file_in_bounded_memory)
{
    /* A real 2-hour 16-bit mono WAV (230 MB), written sparse so it costs no
     * disk: the header, a tone at 1 h, silence elsewhere. */
    const size_t rate = 16000, n = rate * 7200;
    char *p = path_join(temp_dir(), "two_hours.wav");
    write_wav(p, 1, 1, (int)rate, 16, NULL, 0, n * 2);
    int fd = open(p, O_WRONLY);
    REQUIRE(fd >= 0);
    CHECK(ftruncate(fd, 44 + (off_t)(n * 2)) == 0);
    int16_t tone[16000];
    for (int i = 0; i < 16000; i++) tone[i] = (int16_t)(8000 * sin(2 * M_PI * 440 * i / 16000.0));
    CHECK(pwrite(fd, tone, sizeof tone, 44 + (off_t)(3600 * rate * 2)) == (ssize_t)sizeof tone);
    close(fd);

    REQUIRE(reset_peak_rss() == 0);
    long before = status_kb("VmRSS:");
    REQUIRE(before > 0 && status_kb("VmHWM:") - before < 1024);   /* the reset took */
    float *x = NULL;
    vg_clip_info info;
    CHECK(vg_audio_load_window(p, 0, 6.0, 16000, &x, &info) == VG_OK);
    free(x);
    x = NULL;
    CHECK(vg_audio_load_window(p, 3600, 1.0, 16000, &x, &info) == VG_OK);
    double rms;
    if (x) CHECKF(tone_purity(x, 16000, &rms) > 0.97, "window at 1 h is not the tone");
    free(x);
    long grew_mb = (status_kb("VmHWM:") - before) / 1024;
    CHECKF(grew_mb < 50, "memory grew by %ld MB", grew_mb);
    unlink(p);
    free(p);
}
