/* The reference project's baseline: a linear SVM on raw waveform samples
 * (or flattened log-mel), trained by LIBLINEAR and saved as a one-layer
 * voxgender model, so predict/eval treat it like any other model. */
#include "../data/features.h"
#include "../nn/model.h"
#include "../util/errmsg.h"
#include "../util/sysmem.h"

#include <linear.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void quiet(const char *s) { (void)s; }

int vg_train_svm(const vg_dataset *d, vg_frontend_kind input, double C, const char *cache_dir,
                 const char *data_name, const vg_train_callbacks *cb, vg_model **out,
                 char *err, size_t errlen)
{
    *out = NULL;
    if (input != VG_FE_RAW && input != VG_FE_MEL_FLAT) return vg_errf(VG_EARG, err, errlen, "svm input must be raw or mel");
    if (!(C > 0)) return vg_errf(VG_EARG, err, errlen, "svm cost C must be positive");
    vg_frontend fe;
    vg_frontend_default(&fe, input);
    size_t n = 0, cls[2] = {0, 0};
    for (size_t i = 0; i < d->n; i++)
        if (d->items[i].split == VG_SPLIT_TRAIN) { n++; cls[d->items[i].label]++; }
    if (!cls[0] || !cls[1])
        return vg_errf(VG_EARG, err, errlen, n ? "the Train split holds one class only" : "the Train split is empty");

    /* LIBLINEAR's rows take 16 bytes a value on top of the features' 4, all
     * at once: refuse before decoding what cannot fit (VoxCeleb1's 148,642
     * raw-sample rows would take 178 GB) */
    const double dims = input == VG_FE_RAW ? (double)VG_SEED_SAMPLES
                        : (double)fe.mel.n_mels * frontend_window_frames(&fe);
    const double need = (double)n * (dims * 4 + (dims + 2) * 16), avail = vg_memory_available();
    if (avail > 0 && need > avail - 1e9)
        return vg_errf(VG_ENOMEM, err, errlen,
                       "the SVM's %zu training rows of %.0f values would take %.3g GB in memory, more than the "
                       "%.3g GB available (less 1 GB); train on fewer recordings (train --per-speaker N)",
                       n, dims, need / 1e9, avail / 1e9 - 1 > 0 ? avail / 1e9 - 1 : 0);

    size_t *idx = malloc(sizeof(size_t) * n);
    float **feat = calloc(n, sizeof(float *));
    int *dim = calloc(n, sizeof(int)), *status = calloc(n, sizeof(int));
    if (!idx || !feat || !dim || !status) { free(idx); free(feat); free(dim); free(status); return VG_ENOMEM; }
    n = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->items[i].split == VG_SPLIT_TRAIN) idx[n++] = i;
    size_t done = 0;
#pragma omp parallel for schedule(dynamic, 4)
    for (size_t k = 0; k < n; k++) {
        int c, h;
        status[k] = vg_features_cached(cache_dir, &fe, d->items[idx[k]].path, 0, &feat[k], &c, &h, &dim[k], NULL);
#pragma omp critical
        {
            done++;
            if (cb && cb->features) cb->features(cb->ctx, done, n);
            if (status[k] && cb && cb->file_error) cb->file_error(cb->ctx, d->items[idx[k]].path, status[k]);
        }
    }
    int D = 0;
    for (size_t k = 0; k < n; k++)
        if (!status[k]) { D = dim[k]; break; }
    /* LIBLINEAR takes sparse rows: index 1..D, terminated by index -1; bias
     * is an extra feature of value 1. */
    struct problem prob = {0};
    prob.y = malloc(sizeof(double) * n);
    prob.x = malloc(sizeof(struct feature_node *) * n);
    prob.bias = 1.0;
    prob.n = D + 1;
    struct feature_node *nodes = malloc(sizeof(struct feature_node) * (size_t)(D + 2) * n);
    int rc = (!prob.y || !prob.x || !nodes) ? VG_ENOMEM : VG_OK;
    for (size_t k = 0; !rc && k < n; k++) {
        if (status[k] || dim[k] != D) continue;
        struct feature_node *row = nodes + (size_t)(D + 2) * prob.l;
        for (int j = 0; j < D; j++) { row[j].index = j + 1; row[j].value = feat[k][j]; }
        row[D].index = D + 1;
        row[D].value = prob.bias;
        row[D + 1].index = -1;
        prob.x[prob.l] = row;
        prob.y[prob.l] = d->items[idx[k]].label;
        prob.l++;
    }
    vg_model *m = NULL;
    if (!rc && prob.l < 2) rc = vg_errf(VG_EARG, err, errlen, "too few readable training recordings");
    if (!rc) {
        struct parameter par = {.solver_type = L2R_L2LOSS_SVC_DUAL, .eps = 0.1, .C = C, .p = 0.1};
        set_print_string_function(quiet);
        const char *why = check_parameter(&prob, &par);
        struct model *sv = why ? NULL : train(&prob, &par);
        if (!sv) rc = vg_errf(VG_EARG, err, errlen, "liblinear: %s", why ? why : "training failed");
        else {
            char arch[96];
            snprintf(arch, sizeof arch, "input 1 1 %d; flatten; svm: linear 2", D);
            rc = vg_model_create(arch, 0, &m, NULL, 0);
            if (!rc) {
                /* decision d = w.x + b favours sv->label[0]; logits (-d/2, d/2)
                 * for male = label[0] give P(male) = sigmoid(d). */
                float sign = sv->label[0] == 1 ? 1.0f : -1.0f;
                nn_tensor *W = nn_find_tensor(m, "svm.weight"), *B = nn_find_tensor(m, "svm.bias");
                float *w = m->arena + W->offset, *b = m->arena + B->offset;
                for (int j = 0; j < D; j++) {
                    float c = (float)get_decfun_coef(sv, j + 1, 0) * sign * 0.5f;
                    w[j] = -c;          /* female logit */
                    w[D + j] = c;       /* male logit */
                }
                float bias = (float)get_decfun_coef(sv, D + 1, 0) * sign * 0.5f;
                b[0] = -bias;
                b[1] = bias;
                vg_frontend_to_model(m, &fe);
                char v[96];
                vg_model_set_meta(m, "arch_name", "svm");
                vg_model_set_meta(m, "trained_on", data_name ? data_name : "(unnamed dataset)");
                snprintf(v, sizeof v, "liblinear %d, L2-regularised L2-loss SVC (dual), C=%g", LIBLINEAR_VERSION, C);
                vg_model_set_meta(m, "training_recipe", v);
                snprintf(v, sizeof v, "%d train recordings", prob.l);
                vg_model_set_meta(m, "training_examples", v);
                vg_model_set_meta(m, "trained_by", "voxgender " VG_VERSION_STRING);
            }
            free_and_destroy_model(&sv);
        }
    }
    for (size_t k = 0; k < n; k++) free(feat[k]);
    free(feat); free(dim); free(status); free(idx); free(nodes); free(prob.y); free(prob.x);
    if (!rc) *out = m;
    else vg_model_destroy(m);
    return rc;
}
