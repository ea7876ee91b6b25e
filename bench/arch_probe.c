/* A measurement behind the README's "Missed, and why" (not run by make
 * bench): batch-1 latency and batch-64 inference throughput of any
 * architecture description on a 1x128xW log-mel, for comparing candidate
 * designs of `cnn` with PyTorch (bench/arch_probe.sh runs both sides).
 * Usage: arch_probe DESCRIPTION|NAME [W]   (W frames, default 481 = 6 s)
 *        arch_probe -d NAME                  print a built-in's description
 * Prints "key value" lines. */
#include "voxgender.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { LATENCY_RUNS = 400 };

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

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: arch_probe DESCRIPTION|NAME [W] | arch_probe -d NAME\n");
        return 2;
    }
    if (!strcmp(argv[1], "-d")) {
        const char *d = argc > 2 ? vg_arch_builtin(argv[2]) : NULL;
        if (!d) { fprintf(stderr, "arch_probe: no built-in architecture '%s'\n", argc > 2 ? argv[2] : ""); return 1; }
        printf("%s\n", d);
        return 0;
    }
    const int h = 128, w = argc > 2 ? atoi(argv[2]) : 481;
    vg_model *m;
    char err[256];
    if (w < 1 || vg_model_create(argv[1], 1, &m, err, sizeof err)) {
        fprintf(stderr, "arch_probe: %s\n", w < 1 ? "bad width" : err);
        return 1;
    }
    const size_t per = (size_t)h * w;
    float *x = malloc(sizeof(float) * per * 64), logits[64 * 16];
    if (!x) return 1;
    for (size_t i = 0; i < per * 64; i++) x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;

    double lat[LATENCY_RUNS];
    for (int i = 0; i < 20; i++) vg_model_forward(m, x, 1, h, w, logits);   /* warm-up */
    for (int i = 0; i < LATENCY_RUNS; i++) {
        double t = now();
        vg_model_forward(m, x, 1, h, w, logits);
        lat[i] = now() - t;
    }
    qsort(lat, LATENCY_RUNS, sizeof(double), cmp_double);
    vg_model_forward(m, x, 64, h, w, logits);
    int reps = 0;
    double t0 = now();
    while (now() - t0 < 2.0 || reps < 3) { vg_model_forward(m, x, 64, h, w, logits); reps++; }
    printf("params %zu\nmacs %.0f\nlatency_ms %.4f\ninfer64_per_s %.1f\n", vg_model_num_params(m),
           vg_model_macs(m, h, w), lat[LATENCY_RUNS / 2] * 1e3, 64.0 * reps / (now() - t0));
    vg_model_destroy(m);
    free(x);
    return 0;
}
