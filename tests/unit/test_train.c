/* Training: resuming an interrupted run gives the uninterrupted result. */
#include "../../src/nn/model.h"
#include "../../src/train/epoch_order.h"
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile int stop_now;
static int batches_seen, stop_after;
static void count_batch(void *ctx, int epoch, size_t done, size_t total, float loss)
{
    (void)ctx; (void)epoch; (void)done; (void)total; (void)loss;
    if (++batches_seen == stop_after) stop_now = 1;
}

static int run(const vg_dataset *d, const char *ckpt, int resume, int stop_at, vg_train_result *r)
{
    vg_train_config c;
    vg_train_config_default(&c, "cnn");
    c.epochs = 3;
    c.batch = 8;
    c.patience = 0;
    c.cache_dir = path_join(temp_dir(), "train-cache");
    c.checkpoint = ckpt;
    c.resume = resume;
    c.stop = &stop_now;
    stop_now = 0;
    batches_seen = 0;
    stop_after = stop_at;
    vg_train_callbacks cb = {.batch = count_batch};
    char err[256];
    int rc = vg_train(d, &c, &cb, r, err, sizeof err);
    if (rc) test_fail(__FILE__, __LINE__, "vg_train: %s", err);
    free((char *)c.cache_dir);
    return rc;
}

/* Copy checkpoint SRC to DST with the first FROM in its JSON header
 * replaced by TO (the header's length updated). */
static int edit_checkpoint(const char *src, const char *dst, const char *from, const char *to)
{
    FILE *f = fopen(src, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    char *b = malloc((size_t)size + 1);
    uint64_t len = 0;
    int ok = b && fread(b, 1, (size_t)size, f) == (size_t)size;
    fclose(f);
    if (ok) memcpy(&len, b + 8, 8);
    char *json = ok ? strndup(b + 16, len) : NULL, *at = json ? strstr(json, from) : NULL;
    if (!at) { free(b); free(json); return -1; }
    f = fopen(dst, "wb");
    uint64_t new_len = len - strlen(from) + strlen(to);
    fwrite(b, 1, 8, f);
    fwrite(&new_len, 8, 1, f);
    fwrite(json, 1, (size_t)(at - json), f);
    fputs(to, f);
    fputs(at + strlen(from), f);
    fwrite(b + 16 + len, 1, (size_t)size - 16 - len, f);
    fclose(f);
    free(b);
    free(json);
    return 0;
}

TEST(train_resume_after_interrupt_is_identical)
{
    const char *root = tts_corpus();
    REQUIRE(root);
    vg_dataset *d;
    REQUIRE(vg_dataset_scan(root, NULL, &d, NULL, 0) == VG_OK);
    char *ckpt = path_join(temp_dir(), "run.ckpt");
    vg_train_result full, part, rest;
    REQUIRE(run(d, NULL, 0, -1, &full) == VG_OK);
    CHECK(full.n_epochs == 3 && !full.interrupted);
    /* stop in the middle of epoch 2 (5 batches per epoch: 40 clips / 8) */
    REQUIRE(run(d, ckpt, 0, 7, &part) == VG_OK);
    CHECK(part.interrupted);
    CHECK(file_size(ckpt) > 0);
    REQUIRE(run(d, ckpt, 1, -1, &rest) == VG_OK);
    CHECK(!rest.interrupted && rest.n_epochs == 3);
    CHECKF(!memcmp(full.last->arena, rest.last->arena, sizeof(float) * full.last->n_arena),
           "resumed weights differ from the uninterrupted run");
    CHECK(!memcmp(full.best->arena, rest.best->arena, sizeof(float) * full.best->n_arena));
    for (int e = 0; e < 3; e++)
        CHECKF(full.history[e].val_loss == rest.history[e].val_loss, "epoch %d val loss %g vs %g", e + 1,
               full.history[e].val_loss, rest.history[e].val_loss);
    /* resuming with other settings is refused */
    vg_train_config c;
    vg_train_config_default(&c, "cnn");
    c.epochs = 3; c.batch = 16; c.checkpoint = ckpt; c.resume = 1; c.cache_dir = NULL;
    vg_train_result bad;
    char err[512];
    CHECK(vg_train(d, &c, NULL, &bad, err, sizeof err) != VG_OK);
    CHECKF(strstr(err, "other settings") != NULL, "%s", err);
    /* a damaged checkpoint is refused, not trusted: an epoch count out of
     * range, a history row cut short (it was read through a null item) */
    static const char *DAMAGE[][2] = {{"\"epoch\":", "\"epoch\":1e30,\"was\":"}, {"\"history\":[[", "\"history\":[[0],["}};
    char *broken = path_join(temp_dir(), "broken.ckpt");
    for (int k = 0; k < 2; k++) {
        REQUIRE(edit_checkpoint(ckpt, broken, DAMAGE[k][0], DAMAGE[k][1]) == 0);
        vg_train_config_default(&c, "cnn");
        c.epochs = 3; c.batch = 8; c.patience = 0; c.checkpoint = broken; c.resume = 1; c.cache_dir = NULL;
        CHECK(vg_train(d, &c, NULL, &bad, err, sizeof err) != VG_OK);
        CHECKF(strstr(err, "damaged") != NULL, "%s: %s", DAMAGE[k][1], err);
    }
    free(broken);
    vg_train_result_free(&full);
    vg_train_result_free(&part);
    vg_train_result_free(&rest);
    vg_dataset_free(d);
    free(ckpt);
}

TEST(train_refuses_unusable_datasets)
{
    const char *root = tts_corpus();
    REQUIRE(root);
    char *one = path_join(temp_dir(), "oneclass");
    REQUIRE(run_cmd("mkdir -p '%s/Train' '%s/Validation/Male' && cp -r '%s/Train/Male' '%s/Train/' && "
                    "cp -r '%s/Validation/Male' '%s/Validation/'", one, one, root, one, root, one) == 0);
    vg_dataset *d;
    REQUIRE(vg_dataset_scan(one, NULL, &d, NULL, 0) == VG_OK);
    vg_train_config c;
    vg_train_config_default(&c, "cnn");
    c.cache_dir = NULL;
    vg_train_result r;
    char err[256];
    CHECK(vg_train(d, &c, NULL, &r, err, sizeof err) == VG_EARG);
    CHECKF(strstr(err, "only male") != NULL, "%s", err);
    vg_model *m;
    CHECK(vg_train_svm(d, VG_FE_RAW, 1.0, NULL, NULL, NULL, &m, err, sizeof err) == VG_EARG);
    vg_dataset_free(d);
    char *noval = path_join(temp_dir(), "noval");
    REQUIRE(run_cmd("mkdir -p '%s' && cp -r '%s/Train' '%s/'", noval, root, noval) == 0);
    REQUIRE(vg_dataset_scan(noval, NULL, &d, NULL, 0) == VG_OK);
    CHECK(vg_train(d, &c, NULL, &r, err, sizeof err) == VG_EARG);
    CHECKF(strstr(err, "Validation split is empty") != NULL, "%s", err);
    vg_dataset_free(d);
    free(one);
    free(noval);
}

/* Epoch order: without speaker balance a shuffle of every example; with it,
 * draws in which each speaker (a name in both classes is two) comes up
 * equally often whatever their number of recordings, and within a speaker
 * each recording too. */
TEST(epoch_order_balances_speakers)
{
    /* speaker "a" (label 1) has 20 recordings, "b" and "c" one each, and a
     * female "a" (label 0) has 2 */
    enum { N = 24 };
    const char *names[N];
    int labels[N];
    for (int i = 0; i < N; i++) { names[i] = "a"; labels[i] = 1; }
    names[20] = "b"; names[21] = "c";
    labels[22] = labels[23] = 0;
    epoch_sampler s;
    size_t order[N];
    REQUIRE(epoch_sampler_init(&s, N, names, labels, 0) == VG_OK);
    uint64_t r = 7;
    epoch_order(&s, &r, order);
    int seen[N] = {0};
    for (int i = 0; i < N; i++) seen[order[i]]++;
    for (int i = 0; i < N; i++) CHECKF(seen[i] == 1, "example %d visited %d times", i, seen[i]);
    epoch_sampler_free(&s);

    REQUIRE(epoch_sampler_init(&s, N, names, labels, 1) == VG_OK);
    CHECK(s.n_speakers == 4 && s.per_class[0] == 1 && s.per_class[1] == 3);
    long per_speaker[4] = {0}, a_first = 0, draws = 0;
    for (int epoch = 0; epoch < 2000; epoch++) {
        epoch_order(&s, &r, order);
        for (int i = 0; i < N; i++, draws++) {
            const size_t k = order[i];
            per_speaker[k < 20 ? 0 : k == 20 ? 1 : k == 21 ? 2 : 3]++;
            a_first += k == 0;
        }
    }
    for (int sp = 0; sp < 4; sp++)
        CHECKF(fabs((double)per_speaker[sp] / draws - 0.25) < 0.01, "speaker %d drawn %.3f of the time", sp,
               (double)per_speaker[sp] / draws);
    /* one of "a"'s 20 recordings: a twentieth of that speaker's draws */
    CHECKF(fabs((double)a_first / per_speaker[0] - 0.05) < 0.01, "recording 0 of a: %.3f", (double)a_first / per_speaker[0]);
    epoch_sampler_free(&s);
}
