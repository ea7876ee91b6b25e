/* Front-end throughput: decode + resample + log2-mel of 6 s windows.
 * usage: bench_frontend [-d] THREADS REPEATS FILE...   prints "files_per_s X"
 * -d: decode + resample only (what FFmpeg's part alone allows) */
#include "voxgender.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char **files;
static int n_files, repeats, next_job;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int failures, decode_only;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *worker(void *arg)
{
    (void)arg;
    vg_mel_config cfg;
    vg_mel_config_default(&cfg);
    vg_melspec *m = vg_melspec_create(&cfg);
    float *spec = malloc(sizeof(float) * 128 * 481);
    for (;;) {
        pthread_mutex_lock(&lock);
        int j = next_job++;
        pthread_mutex_unlock(&lock);
        if (j >= n_files * repeats) break;
        float *x = NULL;
        if (vg_audio_load_window(files[j % n_files], 0, 6.0, 16000, &x, NULL) ||
            (!decode_only && vg_melspec_log2(m, x, 96000, spec))) {
            pthread_mutex_lock(&lock);
            failures++;
            pthread_mutex_unlock(&lock);
        }
        free(x);
    }
    free(spec);
    vg_melspec_destroy(m);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "-d")) {
        decode_only = 1;
        argv++;
        argc--;
    }
    if (argc < 4) {
        fprintf(stderr, "usage: bench_frontend [-d] THREADS REPEATS FILE...\n");
        return 2;
    }
    int threads = atoi(argv[1]);
    repeats = atoi(argv[2]);
    files = argv + 3;
    n_files = argc - 3;
    /* warm-up: page cache and FFmpeg's one-time initialisation */
    next_job = n_files * repeats - n_files;
    worker(NULL);
    next_job = 0;
    double t0 = now();
    pthread_t tid[64];
    for (int t = 0; t < threads && t < 64; t++) pthread_create(&tid[t], NULL, worker, NULL);
    for (int t = 0; t < threads && t < 64; t++) pthread_join(tid[t], NULL);
    double el = now() - t0;
    if (failures) fprintf(stderr, "bench_frontend: %d failures\n", failures);
    printf("files_per_s %.1f\n", n_files * repeats / el);
    return failures != 0;
}
