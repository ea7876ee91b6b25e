/* Segmentation speed and memory: a one-hour recording (WAV, made from
 * ../shared/data clips) decoded and segmented; then three hours fed from
 * memory, to show that memory does not grow with the length.
 * usage: bench_segment MODEL WAV HOURS_TO_FEED */
#include "voxgender.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

static size_t n_segments;
static void count(void *ctx, const vg_segment *s) { (void)ctx; (void)s; n_segments++; }

int main(int argc, char **argv)
{
    if (argc < 4) { fprintf(stderr, "usage: bench_segment MODEL WAV HOURS\n"); return 2; }
    vg_model *m;
    char err[256];
    if (vg_model_load(argv[1], &m, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 1; }
    /* 1: the file, decoded as a stream and segmented */
    vg_audio_reader *r;
    if (vg_audio_reader_open(argv[2], 16000, &r)) { fprintf(stderr, "cannot open %s\n", argv[2]); return 1; }
    vg_segmenter *s;
    vg_segmenter_create(m, NULL, count, NULL, &s);
    float *block = malloc(sizeof(float) * 16000);
    double t0 = now(), samples = 0;
    long got;
    while ((got = vg_audio_reader_read(r, block, 16000)) > 0) {
        vg_segmenter_feed(s, block, (size_t)got);
        samples += got;
    }
    vg_segmenter_finish(s);
    double el = now() - t0;
    vg_audio_reader_close(r);
    vg_segmenter_destroy(s);
    printf("audio_seconds %.1f\nsegment_seconds %.3f\nrealtime_factor %.1f\nsegments %zu\nrss_after_file_mb %ld\n",
           samples / 16000, el, samples / 16000 / el, n_segments, rss_mb());
    /* 2: hours of audio fed from memory: the 1-hour file's first minute, looped */
    int hours = atoi(argv[3]);
    if (hours > 0) {
        vg_audio_reader_open(argv[2], 16000, &r);
        float *minute = malloc(sizeof(float) * 16000 * 60);
        size_t have = 0;
        while (have < 16000 * 60 && (got = vg_audio_reader_read(r, minute + have, 16000 * 60 - have)) > 0) have += (size_t)got;
        vg_audio_reader_close(r);
        vg_segmenter_create(m, NULL, count, NULL, &s);
        long rss1 = 0;
        for (int k = 0; k < hours * 60; k++) {
            vg_segmenter_feed(s, minute, have);
            if (k == 59) rss1 = rss_mb();
        }
        vg_segmenter_finish(s);
        vg_segmenter_destroy(s);
        printf("rss_after_1h_fed_mb %ld\nrss_after_%dh_fed_mb %ld\n", rss1, hours, rss_mb());
        free(minute);
    }
    /* 3: the CNN alone, on the segmenter's 4 s windows in batches of 16 (last:
     * its batch buffers must not count in the segmenter's peak memory) */
    float *x = calloc((size_t)16 * 128 * 320, sizeof(float)), logits[32];
    for (size_t i = 0; i < (size_t)16 * 128 * 320; i++) x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    vg_model_forward(m, x, 16, 128, 320, logits);
    int reps = 0;
    t0 = now();
    while (now() - t0 < 2.0) { vg_model_forward(m, x, 16, 128, 320, logits); reps++; }
    printf("cnn_frames_per_s %.0f\n", 16.0 * 320 * reps / (now() - t0));
    vg_model_destroy(m);
    free(block);
    free(x);
    return 0;
}
