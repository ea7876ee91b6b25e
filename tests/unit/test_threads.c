/* One model shared by several threads of a program: passes take turns (the
 * plan's buffers are the model's), so every thread gets the logits a pass
 * alone gives, bit for bit, while the input width changes from pass to pass
 * (each change re-plans the buffers another thread may be using). */
#include "test.h"
#include "voxgender.h"

#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { N_WIDTHS = 3, N_THREADS = 4, PASSES = 24 };
static const int widths[N_WIDTHS] = {40, 97, 64};

typedef struct {
    vg_model *m;
    float *x[N_WIDTHS];
    float want[N_WIDTHS][2];
    double want_macs[N_WIDTHS];
    int first, wrong;
} shared_run;

typedef struct { shared_run *run; int id; } worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    shared_run *r = a->run;
    int wrong = 0;
    vg_set_threads(1);   /* as the reference passes ran */
    for (int i = 0; i < PASSES; i++) {
        int k = (i + a->id) % N_WIDTHS;
        float got[2];
        if (vg_model_forward(r->m, r->x[k], 1, 128, widths[k], got) != VG_OK ||
            memcmp(got, r->want[k], sizeof got))
            wrong++;
        if (i % 8 == a->id && vg_model_macs(r->m, 128, widths[k]) != r->want_macs[k]) wrong++;
    }
    __atomic_add_fetch(&r->wrong, wrong, __ATOMIC_RELAXED);
    return NULL;
}

TEST(one_model_shared_by_threads_gives_each_the_same_logits)
{
    shared_run r = {0};
    REQUIRE(vg_model_create("cnn", 7, &r.m, NULL, 0) == VG_OK);
    int threads_before = omp_get_max_threads();
    vg_set_threads(1);   /* the reference passes; the workers do the same */
    uint64_t s = 12345;
    for (int k = 0; k < N_WIDTHS; k++) {
        size_t n = (size_t)128 * widths[k];
        r.x[k] = malloc(sizeof(float) * n);
        REQUIRE(r.x[k]);
        for (size_t i = 0; i < n; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            r.x[k][i] = (float)((s >> 40) & 0xffff) / 32768.0f - 1.0f;
        }
        REQUIRE(vg_model_forward(r.m, r.x[k], 1, 128, widths[k], r.want[k]) == VG_OK);
        r.want_macs[k] = vg_model_macs(r.m, 128, widths[k]);
    }
    CHECK(memcmp(r.want[0], r.want[1], sizeof r.want[0]) != 0);   /* inputs tell apart */

    pthread_t th[N_THREADS];
    worker_arg args[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        args[t] = (worker_arg){&r, t};
        REQUIRE(pthread_create(&th[t], NULL, worker, &args[t]) == 0);
    }
    for (int t = 0; t < N_THREADS; t++) pthread_join(th[t], NULL);
    CHECKF(r.wrong == 0, "%d of %d shared passes differ from a pass alone", r.wrong,
           N_THREADS * PASSES);
    for (int k = 0; k < N_WIDTHS; k++) free(r.x[k]);
    vg_model_destroy(r.m);
    vg_set_threads(threads_before);
}
