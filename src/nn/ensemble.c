/* An ensemble as one network: the members side by side, each reading the
 * input, their log-probabilities averaged. Built from trained models by
 * rewriting their descriptions with a per-member name prefix, so the result
 * is an ordinary model: one file, one forward pass, the same predict, eval
 * and segment code. Averaging log-probabilities (a normalised geometric mean
 * of the members' probabilities) is what predict already does across the
 * windows of a long recording. */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append to a growing string; returns -1 when out of memory. */
typedef struct { char *s; size_t len, cap; } strbuf;

static int sb_add(strbuf *b, const char *text)
{
    size_t n = strlen(text);
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->s, cap);
        if (!p) return -1;
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, text, n + 1);
    b->len += n;
    return 0;
}

/* Member K's description with every layer name, from= and add reference
 * prefixed by "mK."; its first layer reads the network input. */
static int add_member(strbuf *b, const char *desc, int k)
{
    char prefix[16], tok_out[160];
    snprintf(prefix, sizeof prefix, "m%d.", k);
    char *copy = strdup(desc), *save = NULL;
    if (!copy) return -1;
    int first = 1, rc = 0, index = 0;
    for (char *item = strtok_r(copy, ";", &save); item && !rc; item = strtok_r(NULL, ";", &save)) {
        char *s2 = NULL, *tok = strtok_r(item, " \t\n", &s2);
        if (!tok || !strcmp(tok, "input")) continue;
        int after_add = 0, has_from = 0;
        strbuf line = {0};
        /* an unnamed conv/bn/linear layer was called "layerN" (N = its index
         * in the member): keep that name, under the prefix */
        if (!strcmp(tok, "conv") || !strcmp(tok, "bn") || !strcmp(tok, "linear")) {
            snprintf(tok_out, sizeof tok_out, "%slayer%d:", prefix, index);
            rc = sb_add(&line, tok_out);
        }
        index++;
        for (; tok && !rc; tok = strtok_r(NULL, " \t\n", &s2)) {
            size_t tl = strlen(tok);
            if (tok[tl - 1] == ':' || after_add)
                snprintf(tok_out, sizeof tok_out, "%s%s", prefix, tok);
            else if (!strncmp(tok, "from=", 5)) {
                has_from = 1;
                if (!strcmp(tok + 5, "input")) snprintf(tok_out, sizeof tok_out, "%s", tok);
                else snprintf(tok_out, sizeof tok_out, "from=%s%s", prefix, tok + 5);
            } else
                snprintf(tok_out, sizeof tok_out, "%s", tok);
            after_add = !strcmp(tok, "add");
            rc = (line.len && sb_add(&line, " ")) || sb_add(&line, tok_out);
        }
        if (!rc && first && !has_from) rc = sb_add(&line, " from=input");
        first = 0;
        if (!rc) rc = sb_add(b, "; ") || sb_add(b, line.s ? line.s : "");
        free(line.s);
    }
    free(copy);
    return rc ? -1 : 0;
}

static nn_tensor *find_tensor(vg_model *m, const char *name)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name)) return &m->tensors[i];
    return NULL;
}

/* Front-end and label metadata the members must agree on. */
static const char *const SAME_META[] = {
    "frontend", "sample_rate", "seconds", "n_fft", "win_length", "hop_length", "n_mels",
    "f_min", "f_max", "input_mean", "input_std", "log_base", "power_floor", "seed_compat",
    "image_size", "labels", "label_codes"};

int vg_model_ensemble(vg_model *const *members, int n, vg_model **out, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) { err = dummy; errlen = sizeof dummy; }
    err[0] = '\0';
    if (!out) return VG_EARG;
    *out = NULL;
    if (!members || n < 2 || n > VG_MAX_ENSEMBLE) {
        snprintf(err, errlen, "an ensemble needs 2 to %d models", VG_MAX_ENSEMBLE);
        return VG_EARG;
    }
    const vg_model *m0 = members[0];
    for (int k = 0; k < n; k++) {
        const vg_model *m = members[k];
        if (!m) return VG_EARG;
        if (m->in_c != m0->in_c || m->in_h != m0->in_h || m->in_w != m0->in_w ||
            m->n_classes != m0->n_classes) {
            snprintf(err, errlen, "model %d: its input shape or class count differs from model 1's", k + 1);
            return VG_EARG;
        }
        for (size_t i = 0; i < sizeof SAME_META / sizeof SAME_META[0]; i++) {
            const char *a = vg_model_meta(m0, SAME_META[i]), *b = vg_model_meta(m, SAME_META[i]);
            if ((a || b) && (!a || !b || strcmp(a, b))) {
                snprintf(err, errlen, "model %d: its %s differs from model 1's (%s vs %s)", k + 1,
                         SAME_META[i], b ? b : "none", a ? a : "none");
                return VG_EARG;
            }
        }
    }

    /* input; m0...; m0.lsm: logsoftmax; m1... from=input; m1.lsm: logsoftmax;
     * add m0.lsm ...; ensemble.mean: linear K (weights I/n, no bias) */
    strbuf d = {0};
    char item[96];
    snprintf(item, sizeof item, "input %d %d %d", m0->in_c, m0->in_h, m0->in_w);
    int rc = sb_add(&d, item);
    for (int k = 0; k < n && !rc; k++) {
        rc = add_member(&d, members[k]->arch, k);
        snprintf(item, sizeof item, "; m%d.lsm: logsoftmax", k);
        rc = rc || sb_add(&d, item);
        if (k > 0) {
            snprintf(item, sizeof item, k == 1 ? "; m%d.sum: add m0.lsm" : "; m%d.sum: add m%d.sum", k, k - 1);
            rc = rc || sb_add(&d, item);
        }
    }
    snprintf(item, sizeof item, "; ensemble.mean: linear %d bias=0", m0->n_classes);
    rc = rc || sb_add(&d, item);
    if (rc) { free(d.s); return VG_ENOMEM; }

    vg_model *e = NULL;
    rc = nn_build(d.s, &e, err, errlen);
    free(d.s);
    if (rc) return rc;

    /* every member tensor to its prefixed place, running statistics included */
    for (int k = 0; k < n && !rc; k++) {
        const vg_model *m = members[k];
        for (int t = 0; t < m->n_tensors && !rc; t++) {
            char name[96];
            snprintf(name, sizeof name, "m%d.%s", k, m->tensors[t].name);
            nn_tensor *T = find_tensor(e, name);
            if (!T || T->count != m->tensors[t].count) {
                snprintf(err, errlen, "model %d: tensor %s has no place in the ensemble", k + 1,
                         m->tensors[t].name);
                rc = VG_EARG;
                break;
            }
            memcpy(e->arena + T->offset, m->arena + m->tensors[t].offset,
                   sizeof(float) * T->count);
        }
    }
    nn_tensor *W = rc ? NULL : find_tensor(e, "ensemble.mean.weight");
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
    if (rc) { vg_model_destroy(e); return rc; }
    *out = e;
    return VG_OK;
}
