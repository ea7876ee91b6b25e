/* An ensemble as one network: the members side by side, each reading the
 * input, their log-probabilities averaged. Built from trained models by
 * rewriting their descriptions with a per-member name prefix, so the result
 * is an ordinary model: one file, one forward pass, the same predict, eval
 * and segment code. Averaging log-probabilities (a normalised geometric mean
 * of the members' probabilities) is what predict already does across the
 * windows of a long recording.
 * Members trained on different data normalise their input differently
 * (input_mean/std: each model's own training statistics; image_mean/std
 * per channel for the reference's images). The ensemble reads the first
 * member's normalised input, and a member whose normalisation differs first
 * maps it onto its own with a 1x1 convolution, per channel
 * x * (std0 / std) + (mean0 - mean) / std, as if it had normalised the
 * log-mel or image itself. */
#include "model.h"
#include "../util/errmsg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Member K's description, written to F item by item after "; ", with every
 * layer name, from= and add reference prefixed by "mK."; its first layer,
 * and any that reads "input", reads SRC: "input" or the member's own
 * normalisation layer. */
static int write_member(FILE *f, const char *desc, int k, const char *src)
{
    char *copy = strdup(desc), *save = NULL;
    if (!copy) return -1;
    int first = 1, index = 0;
    for (char *item = strtok_r(copy, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
        char *s2 = NULL, *tok = strtok_r(item, " \t\n", &s2);
        if (!tok || !strcmp(tok, "input")) continue;
        fputs("; ", f);
        /* an unnamed conv/bn/linear layer was called "layerN" (N = its index
         * in the member): keep that name, under the prefix */
        if (!strcmp(tok, "conv") || !strcmp(tok, "bn") || !strcmp(tok, "linear"))
            fprintf(f, "m%d.layer%d: ", k, index);
        index++;
        int after_add = 0, has_from = 0;
        for (const char *sep = ""; tok; tok = strtok_r(NULL, " \t\n", &s2), sep = " ") {
            fputs(sep, f);
            if (tok[strlen(tok) - 1] == ':' || after_add)
                fprintf(f, "m%d.%s", k, tok);
            else if (!strncmp(tok, "from=", 5) && strcmp(tok + 5, "input"))
                fprintf(f, "from=m%d.%s", k, tok + 5);
            else if (!strcmp(tok, "from=input"))
                fprintf(f, "from=%s", src);
            else
                fputs(tok, f);
            has_from |= !strncmp(tok, "from=", 5);
            after_add = !strcmp(tok, "add");
        }
        if (first && !has_from) fprintf(f, " from=%s", src);
        first = 0;
    }
    free(copy);
    return 0;
}

/* Front-end and label metadata the members must agree on. Their input
 * normalisation (input_mean/std, image_mean/std) may differ: channel_map. */
static const char *const SAME_META[] = {
    "frontend", "sample_rate", "seconds", "n_fft", "win_length", "hop_length", "n_mels",
    "f_min", "f_max", "log_base", "power_floor", "seed_compat",
    "image_size", "labels", "label_codes"};

/* Channel C's normalisation by M's front end, x -> (x - mean) / std: its
 * input_mean/std for log-mel inputs, its image_mean/std for the reference's
 * images; none (0, 1) for raw samples or a model without front-end
 * settings. */
static void channel_normalisation(const vg_model *m, int c, double *mean, double *std)
{
    vg_frontend fe;
    *mean = 0.0;
    *std = 1.0;
    if (vg_frontend_from_model(m, &fe)) return;
    if (fe.kind == VG_FE_SEED_IMAGE && c < 3) *mean = fe.image_mean[c], *std = fe.image_std[c];
    if (fe.kind == VG_FE_LOGMEL || fe.kind == VG_FE_MEL_FLAT) *mean = fe.input_mean, *std = fe.input_std;
}

/* The map of channel C from M0's normalised input to M's, y = x * scale +
 * shift; returns whether it is not the identity. */
static int channel_map(const vg_model *m0, const vg_model *m, int c, float *scale, float *shift)
{
    double mean0, std0, mean, std;
    channel_normalisation(m0, c, &mean0, &std0);
    channel_normalisation(m, c, &mean, &std);
    *scale = (float)(std0 / std);
    *shift = (float)((mean0 - mean) / std);
    return *scale != 1.0f || *shift != 0.0f;
}

/* Whether M needs a rescaling layer in front of it in an ensemble led by M0. */
static int needs_rescaling(const vg_model *m0, const vg_model *m)
{
    float scale, shift;
    int any = 0;
    for (int c = 0; c < m0->in_c; c++) any |= channel_map(m0, m, c, &scale, &shift);
    return any;
}

/* Training metadata kept for members after the first (member 1's is the
 * ensemble's own). */
static const char *const PROVENANCE[] = {
    "arch_name", "trained_on", "trained_date", "epochs", "training_examples", "training_recipe",
    "trained_by", "trained_by_revision", "selected_epoch", "selected_by", "history", "history_columns"};

int vg_model_ensemble(vg_model *const *members, int n, vg_model **out, char *err, size_t errlen)
{
    if (!out) return VG_EARG;
    *out = NULL;
    if (!members || n < 2 || n > VG_MAX_ENSEMBLE)
        return vg_errf(VG_EARG, err, errlen, "an ensemble needs 2 to %d models", VG_MAX_ENSEMBLE);
    const vg_model *m0 = members[0];
    int rescaled[VG_MAX_ENSEMBLE];
    for (int k = 0; k < n; k++) {
        const vg_model *m = members[k];
        if (!m) return VG_EARG;
        if (m->in_c != m0->in_c || m->in_h != m0->in_h || m->in_w != m0->in_w ||
            m->n_classes != m0->n_classes)
            return vg_errf(VG_EARG, err, errlen,
                           "model %d: its input shape or class count differs from model 1's", k + 1);
        for (size_t i = 0; i < sizeof SAME_META / sizeof SAME_META[0]; i++) {
            const char *a = vg_model_meta(m0, SAME_META[i]), *b = vg_model_meta(m, SAME_META[i]);
            if ((a || b) && (!a || !b || strcmp(a, b)))
                return vg_errf(VG_EARG, err, errlen, "model %d: its %s differs from model 1's (%s vs %s)",
                               k + 1, SAME_META[i], b ? b : "none", a ? a : "none");
        }
        rescaled[k] = needs_rescaling(m0, m);
    }

    /* input; m0...; m0.lsm: logsoftmax; [m1.norm: conv C k=1 from=input;]
     * m1... from=input (or m1.norm); m1.lsm: logsoftmax; m1.sum: add m0.lsm
     * ...; ensemble.mean: linear K (weights I/n, no bias) */
    char *d = NULL;
    size_t d_len = 0;
    FILE *f = open_memstream(&d, &d_len);
    if (!f) return VG_ENOMEM;
    fprintf(f, "input %d %d %d", m0->in_c, m0->in_h, m0->in_w);
    int rc = 0;
    for (int k = 0; k < n && !rc; k++) {
        char src[32] = "input";
        if (rescaled[k]) {
            snprintf(src, sizeof src, "m%d.norm", k);
            fprintf(f, "; %s: conv %d k=1 from=input", src, m0->in_c);
        }
        rc = write_member(f, members[k]->arch, k, src);
        fprintf(f, "; m%d.lsm: logsoftmax", k);
        if (k == 1) fputs("; m1.sum: add m0.lsm", f);
        if (k > 1) fprintf(f, "; m%d.sum: add m%d.sum", k, k - 1);
    }
    fprintf(f, "; ensemble.mean: linear %d bias=0", m0->n_classes);
    if (fclose(f) || rc) {
        free(d);
        return VG_ENOMEM;
    }

    vg_model *e = NULL;
    rc = nn_build(d, &e, err, errlen);
    free(d);
    if (rc) return rc;

    /* every member tensor to its prefixed place, running statistics included */
    for (int k = 0; k < n && !rc; k++) {
        const vg_model *m = members[k];
        for (int t = 0; t < m->n_tensors && !rc; t++) {
            char name[96];
            snprintf(name, sizeof name, "m%d.%s", k, m->tensors[t].name);
            nn_tensor *T = nn_find_tensor(e, name);
            if (!T || T->count != m->tensors[t].count) {
                rc = vg_errf(VG_EARG, err, errlen, "model %d: tensor %s has no place in the ensemble", k + 1,
                             m->tensors[t].name);
                break;
            }
            memcpy(e->arena + T->offset, m->arena + m->tensors[t].offset,
                   sizeof(float) * T->count);
        }
    }
    /* each rescaling layer: channel c's scale on the diagonal, its shift as
     * the bias */
    for (int k = 0; k < n && !rc; k++) {
        if (!rescaled[k]) continue;
        char name[32];
        snprintf(name, sizeof name, "m%d.norm.weight", k);
        nn_tensor *Wn = nn_find_tensor(e, name);
        snprintf(name, sizeof name, "m%d.norm.bias", k);
        nn_tensor *Bn = nn_find_tensor(e, name);
        const int C = m0->in_c;
        if (!Wn || !Bn || Wn->count != (size_t)C * C || Bn->count != (size_t)C) { rc = VG_EARG; break; }
        for (int i = 0; i < C; i++) {
            float scale, shift;
            channel_map(m0, members[k], i, &scale, &shift);
            for (int j = 0; j < C; j++) e->arena[Wn->offset + (size_t)i * C + j] = i == j ? scale : 0.0f;
            e->arena[Bn->offset + i] = shift;
        }
    }
    nn_tensor *W = rc ? NULL : nn_find_tensor(e, "ensemble.mean.weight");
    if (!rc && !W) rc = VG_EARG;
    if (rc) { vg_model_destroy(e); return rc; }
    const int K = m0->n_classes;
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) e->arena[W->offset + i * K + j] = i == j ? 1.0f / n : 0.0f;

    /* metadata: member 1's (front end, labels, training history), then what
     * the ensemble is */
    for (int i = 0; i < m0->n_meta && !rc; i++)
        if (strcmp(m0->meta[i].key, "arch")) rc = vg_model_set_meta(e, m0->meta[i].key, m0->meta[i].value);
    const char *base = vg_model_meta(m0, "arch_name");
    char value[160];
    snprintf(value, sizeof value, "%s x%d ensemble", base ? base : "model", n);
    if (!rc) rc = vg_model_set_meta(e, "arch_name", value);
    snprintf(value, sizeof value, "%d", n);
    if (!rc) rc = vg_model_set_meta(e, "ensemble_members", value);
    if (!rc && vg_model_meta(m0, "history"))
        rc = vg_model_set_meta(e, "history_of", "ensemble member 1 (m0)");
    /* the other members' provenance, under their tensors' prefix, so that
     * the file still says what each member was trained on and by what */
    for (int k = 1; k < n && !rc; k++)
        for (size_t i = 0; i < sizeof PROVENANCE / sizeof PROVENANCE[0] && !rc; i++) {
            const char *v = vg_model_meta(members[k], PROVENANCE[i]);
            char key[64];
            snprintf(key, sizeof key, "m%d.%s", k, PROVENANCE[i]);
            if (v) rc = vg_model_set_meta(e, key, v);
        }
    if (rc) { vg_model_destroy(e); return rc; }
    *out = e;
    return VG_OK;
}
