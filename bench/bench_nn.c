/* CNN engine speed: batch-1 latency, batch-64 inference throughput and
 * batch-32 training throughput for lenet (3x32x32) and cnn (1x128x481), plus
 * the machine's sgemm GFLOP/s. Prints "key value" lines for bench/run.sh.
 *   bench_nn --probe ARCH   latency and batch-64 throughput of any built-in
 *                           or description on 1x128x481 (bench/arch_probe.sh)
 *   bench_nn -d NAME        print a built-in architecture's description
 *   bench_nn --serve ARCH C H W
 *                           batch-1 passes on request, for bench/latency_duel.py:
 *                           prints "ready", then for each line "N" on stdin
 *                           runs N passes and prints their times (ms) on one
 *                           line, after a pause that lets its OpenMP threads
 *                           stop spinning (they would take the peer's cores) */
#include "voxgender.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double sgemm_gflops(void)
{
    const int n = 2048;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
          *c = malloc(sizeof(float) * n * n);
    for (int i = 0; i < n * n; i++) { a[i] = (float)(i % 7) * 0.1f; b[i] = (float)(i % 5) * 0.1f; }
    double best = 1e9;
    for (int r = 0; r < 4; r++) {
        double t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        t = now() - t;
        if (t < best) best = t;
    }
    free(a); free(b); free(c);
    return 2.0 * n * n * (double)n / best / 1e9;
}

/* batch-32 training steps per second (forward, backward, update) */
static void bench_training(vg_model *m, const char *key, const float *x, int h, int w)
{
    vg_optim_config oc;
    vg_optim_config_default(&oc);
    vg_optimizer *o = vg_optimizer_create(m, &oc);
    int labels[32];
    for (int i = 0; i < 32; i++) labels[i] = i & 1;
    vg_model_train_step(m, o, x, labels, 32, h, w, NULL, NULL, NULL);
    int reps = 0;
    double t0 = now();
    while (now() - t0 < 2.0 || reps < 3) { vg_model_train_step(m, o, x, labels, 32, h, w, NULL, NULL, NULL); reps++; }
    printf("%strain32_per_s %.1f\n", key, 32.0 * reps / (now() - t0));
    vg_optimizer_destroy(o);
}

/* ARCH built with seed 1, *X BATCH fixed inputs of C x H x W (caller frees),
 * checked to fit and warmed up with 20 batch-1 passes; exits on failure. */
static vg_model *warm_model(const char *arch, int c, int h, int w, int batch, float **x)
{
    vg_model *m;
    char err[256];
    float logits[128];
    if (vg_model_create(arch, 1, &m, err, sizeof err)) { fprintf(stderr, "bench_nn: %s\n", err); exit(1); }
    const size_t n = (size_t)c * h * w * batch;
    if (!(*x = malloc(sizeof(float) * n))) exit(1);
    for (size_t i = 0; i < n; i++) (*x)[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    if (vg_model_forward(m, *x, 1, h, w, logits)) {
        fprintf(stderr, "bench_nn: %s does not take a %dx%dx%d input\n", arch, c, h, w);
        exit(1);
    }
    for (int i = 0; i < 20; i++) vg_model_forward(m, *x, 1, h, w, logits);
    return m;
}

/* KEY: the keys' prefix ("cnn_latency_ms"), "" for none; TRAIN: also time
 * batch-32 training steps. */
static void bench_arch(const char *arch, const char *key, int c, int h, int w, int lat_runs, int train)
{
    float *x, logits[128];
    vg_model *m = warm_model(arch, c, h, w, 64, &x);
    double *lat = malloc(sizeof(double) * (size_t)lat_runs);
    for (int i = 0; i < lat_runs; i++) {
        double t = now();
        vg_model_forward(m, x, 1, h, w, logits);
        lat[i] = now() - t;
    }
    qsort(lat, (size_t)lat_runs, sizeof(double), cmp_double);
    printf("%slatency_ms %.4f\n", key, lat[lat_runs / 2] * 1e3);

    vg_model_forward(m, x, 64, h, w, logits);
    int reps = 0;
    double t0 = now();
    while (now() - t0 < 2.0 || reps < 3) { vg_model_forward(m, x, 64, h, w, logits); reps++; }
    double thr = 64.0 * reps / (now() - t0);
    printf("%sinfer64_per_s %.1f\n", key, thr);
    printf("%sforward_gflops %.1f\n", key, thr * 2 * vg_model_macs(m, h, w) / 1e9);
    printf("%sparams %zu\n%smacs %.0f\n", key, vg_model_num_params(m), key, vg_model_macs(m, h, w));
    if (train) bench_training(m, key, x, h, w);
    vg_model_destroy(m);
    free(x); free(lat);
}

/* Requests from bench/latency_duel.py, which alternates blocks of passes
 * with PyTorch's so that both sides are timed in the same stretches of this
 * shared VM's changing speed. */
static int serve(const char *arch, int c, int h, int w)
{
    char line[64];
    float *x, logits[128];
    vg_model *m = warm_model(arch, c, h, w, 1, &x);
    double *lat = malloc(sizeof(double) * 100000);
    if (!lat) return 1;
    printf("ready\n");
    fflush(stdout);
    while (fgets(line, sizeof line, stdin)) {
        int n = atoi(line);
        if (n < 1 || n > 100000) break;
        for (int i = 0; i < n; i++) {
            double t = now();
            vg_model_forward(m, x, 1, h, w, logits);
            lat[i] = now() - t;
        }
        usleep(10000);   /* libgomp's waiting threads spin a few ms, then sleep */
        for (int i = 0; i < n; i++) printf("%s%.5f", i ? " " : "", lat[i] * 1e3);
        printf("\n");
        fflush(stdout);
    }
    vg_model_destroy(m);
    free(x); free(lat);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "--serve"))
        return serve(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    if (argc == 3 && !strcmp(argv[1], "-d")) {
        const char *d = vg_arch_builtin(argv[2]);
        if (!d) { fprintf(stderr, "bench_nn: no built-in architecture '%s'\n", argv[2]); return 1; }
        printf("%s\n", d);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "--probe")) {
        bench_arch(argv[2], "", 1, 128, 481, 400, 0);
        return 0;
    }
    if (argc != 1) {
        fprintf(stderr, "usage: bench_nn [--probe ARCH | -d NAME | --serve ARCH C H W]\n");
        return 2;
    }
    printf("blas_core %s\nblas_threads %d\n", vg_blas_core(), vg_blas_threads());
    printf("sgemm_gflops %.1f\n", sgemm_gflops());
    bench_arch("lenet", "lenet_", 3, 32, 32, 1000, 1);
    bench_arch("cnn", "cnn_", 1, 128, 481, 200, 1);
    return 0;
}
