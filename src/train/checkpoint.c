/* Checkpoint file: "VGCKPT1\n", u64 JSON length, JSON (settings fingerprint,
 * loop state, history), then float32 arrays: weights, best weights, first
 * and (Adam) second moments. Written atomically. */
#include "checkpoint.h"
#include "../nn/model.h"
#include "../util/atomic_file.h"
#include "../util/errmsg.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nn_optimizer_state(vg_optimizer *o, float **m1, float **m2, long **t);

static void fingerprint(char *buf, size_t n, const vg_train_config *c, const vg_model *m)
{
    const vg_optim_config *o = &c->optim;
    snprintf(buf, n,
             "arch=%s seed=%llu epochs=%d batch=%d opt=%d lr=%.9g mom=%.9g wd=%.9g clip=%.9g "
             "sched=%d step=%d gamma=%.9g warmup=%d aug=%u balance=%d spk=%d max=%.6g params=%zu "
             "init=%d freeze=%d unfreeze=%d nfft=%d win=%d",
             m->arch, (unsigned long long)c->seed, c->epochs, c->batch, (int)o->kind, o->lr,
             o->momentum, o->weight_decay, o->clip_norm, (int)o->schedule, o->step_size, o->gamma,
             o->warmup, c->augment, c->balance, c->balance_speakers, c->max_seconds, m->n_arena, c->init != NULL,
             c->freeze_features, c->unfreeze_after, c->n_fft, c->win_length);
}

int checkpoint_save(const char *path, const vg_train_config *cfg, vg_model *m, vg_optimizer *o,
                    const float *best, const train_state *st, const vg_epoch_stats *history,
                    const vg_frontend *fe)
{
    float *m1, *m2;
    long *t;
    nn_optimizer_state(o, &m1, &m2, &t);
    char fp[1024], num[64];
    fingerprint(fp, sizeof fp, cfg, m);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "fingerprint", fp);
    cJSON_AddNumberToObject(j, "epoch", st->epoch);
    cJSON_AddNumberToObject(j, "batch", (double)st->batch);
    cJSON_AddNumberToObject(j, "loss_sum", st->loss_sum);
    cJSON_AddNumberToObject(j, "correct", (double)st->correct);
    cJSON_AddNumberToObject(j, "seen", (double)st->seen);
    cJSON_AddNumberToObject(j, "best_loss", st->best_loss);
    cJSON_AddNumberToObject(j, "best_epoch", st->best_epoch);
    cJSON_AddNumberToObject(j, "elapsed", st->elapsed);
    cJSON_AddNumberToObject(j, "opt_t", (double)*t);
    snprintf(num, sizeof num, "%llu", (unsigned long long)m->rng);   /* exact, not a double */
    cJSON_AddStringToObject(j, "rng", num);
    snprintf(num, sizeof num, "%.9g %.9g", fe->input_mean, fe->input_std);
    cJSON_AddStringToObject(j, "norm", num);
    cJSON *h = cJSON_AddArrayToObject(j, "history");
    for (int e = 0; e < st->epoch && e < cfg->epochs; e++) {
        const float v[6] = {history[e].lr, history[e].train_loss, history[e].train_acc,
                            history[e].val_loss, history[e].val_acc, (float)history[e].seconds};
        cJSON_AddItemToArray(h, cJSON_CreateFloatArray(v, 6));
    }
    char *json = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!json) return VG_ENOMEM;
    vg_atomic_file af;
    int rc = vg_atomic_open(&af, path);
    if (rc) { free(json); return rc; }
    uint64_t len = strlen(json);
    fwrite("VGCKPT1\n", 1, 8, af.fp);
    fwrite(&len, 8, 1, af.fp);
    fwrite(json, 1, len, af.fp);
    free(json);
    fwrite(m->arena, sizeof(float), m->n_arena, af.fp);
    fwrite(best, sizeof(float), m->n_arena, af.fp);
    fwrite(m1, sizeof(float), m->n_arena, af.fp);
    if (m2) fwrite(m2, sizeof(float), m->n_arena, af.fp);
    return vg_atomic_commit(&af);
}

/* Number K of J, or 0 (a diverged run's NaN loss is written as null) */
static double num(const cJSON *j, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* A count K of J, which must lie in [0, HI]: a damaged checkpoint clears
 * *OK instead of handing the trainer an epoch of 1e30 (or a float cast to
 * int out of range, which is undefined behaviour). */
static double count(const cJSON *j, const char *k, double hi, int *ok)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= hi)) {
        *ok = 0;
        return 0;
    }
    return v->valuedouble;
}

int checkpoint_load(const char *path, const vg_train_config *cfg, vg_model *m, vg_optimizer *o,
                    float *best, train_state *st, vg_epoch_stats *history, vg_frontend *fe,
                    char *err, size_t errlen)
{
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) return vg_errf(VG_ENOENT, err, errlen, "%s: no checkpoint to resume from", path ? path : "(none)");
    char magic[8];
    uint64_t len = 0;
    char *json = NULL;
    cJSON *j = NULL;
    int rc = VG_EMODEL;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "VGCKPT1\n", 8) || fread(&len, 8, 1, f) != 1 ||
        len > (1u << 24) || !(json = calloc(len + 1, 1)) || fread(json, 1, len, f) != len ||
        !(j = cJSON_Parse(json))) {
        vg_errf(rc, err, errlen, "%s: not a voxgender checkpoint, or damaged", path);
        goto out;
    }
    char fp[1024];
    fingerprint(fp, sizeof fp, cfg, m);
    const cJSON *sfp = cJSON_GetObjectItemCaseSensitive(j, "fingerprint");
    if (!cJSON_IsString(sfp) || strcmp(sfp->valuestring, fp)) {
        vg_errf(rc, err, errlen, "%s: the checkpoint was made with other settings; resume with the same "
                 "options (it has: %s)", path, cJSON_IsString(sfp) ? sfp->valuestring : "?");
        goto out;
    }
    float *m1, *m2;
    long *t;
    nn_optimizer_state(o, &m1, &m2, &t);
    size_t n = m->n_arena;
    if (fread(m->arena, sizeof(float), n, f) != n || fread(best, sizeof(float), n, f) != n ||
        fread(m1, sizeof(float), n, f) != n || (m2 && fread(m2, sizeof(float), n, f) != n)) {
        vg_errf(rc, err, errlen, "%s: checkpoint is truncated", path);
        goto out;
    }
    int ok = 1;
    const double BIG = 9007199254740992.0;   /* 2^53: counts stay exact */
    st->epoch = (int)count(j, "epoch", cfg->epochs, &ok);
    st->batch = (size_t)count(j, "batch", BIG, &ok);
    st->loss_sum = num(j, "loss_sum");
    st->correct = (size_t)count(j, "correct", BIG, &ok);
    st->seen = (size_t)count(j, "seen", BIG, &ok);
    st->best_loss = (float)num(j, "best_loss");
    st->best_epoch = (int)count(j, "best_epoch", cfg->epochs, &ok);
    st->elapsed = count(j, "elapsed", HUGE_VAL, &ok);
    *t = (long)count(j, "opt_t", BIG, &ok);
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "rng");
    if (cJSON_IsString(r)) m->rng = strtoull(r->valuestring, NULL, 10);
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(j, "norm");
    if (cJSON_IsString(nm)) sscanf(nm->valuestring, "%f %f", &fe->input_mean, &fe->input_std);
    if (st->best_epoch == 0) st->best_loss = 1e30f;
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "history"), *e;
    int k = 0;
    cJSON_ArrayForEach(e, h) {
        if (k >= cfg->epochs) break;
        double v[6];   /* lr, train loss and accuracy, validation loss and accuracy, seconds */
        for (int c = 0; c < 6; c++) {
            const cJSON *x = cJSON_GetArrayItem(e, c);
            if (!x) ok = 0;   /* a short row; null (a NaN loss) reads 0 */
            v[c] = cJSON_IsNumber(x) ? x->valuedouble : 0;
        }
        history[k].epoch = k + 1;
        history[k].lr = (float)v[0];
        history[k].train_loss = (float)v[1];
        history[k].train_acc = (float)v[2];
        history[k].val_loss = (float)v[3];
        history[k].val_acc = (float)v[4];
        history[k].seconds = v[5];
        k++;
    }
    if (!ok || !cJSON_IsArray(h) || k < st->epoch) {
        vg_errf(rc, err, errlen, "%s: not a voxgender checkpoint, or damaged", path);
        goto out;
    }
    rc = VG_OK;
out:
    fclose(f);
    free(json);
    cJSON_Delete(j);
    return rc;
}
