/* Classification metrics for two classes (female 0, male 1). */
#include "voxgender.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { float p; int label; } scored;

static int cmp_scored(const void *a, const void *b)
{
    float x = ((const scored *)a)->p, y = ((const scored *)b)->p;
    return (x > y) - (x < y);
}

/* Mann–Whitney U / (n_pos * n_neg), with average ranks for ties. */
static double roc_auc(const int *labels, const float *p, size_t n)
{
    scored *s = malloc(sizeof(scored) * (n ? n : 1));
    if (!s) return 0.0;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        s[i].p = p[i];
        s[i].label = labels[i];
        pos += labels[i] == 1;
    }
    size_t neg = n - pos;
    if (!pos || !neg) { free(s); return 0.5; }
    qsort(s, n, sizeof(scored), cmp_scored);
    double rank_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[j].p == s[i].p) j++;
        double avg = (i + 1 + j) / 2.0;   /* ranks i+1 .. j */
        for (size_t k = i; k < j; k++)
            if (s[k].label == 1) rank_sum += avg;
        i = j;
    }
    free(s);
    return (rank_sum - pos * (pos + 1) / 2.0) / ((double)pos * neg);
}

static int cmp_speaker(const void *a, const void *b)
{
    const vg_speaker_stat *x = a, *y = b;
    double ax = (double)x->correct / x->n, ay = (double)y->correct / y->n;
    if (ax != ay) return ax < ay ? -1 : 1;
    if (x->n != y->n) return y->n - x->n;
    return strcmp(x->speaker, y->speaker);
}

int vg_metrics_compute(const int *labels, const float *p_male, const char *const *speakers,
                       size_t n, vg_metrics *out)
{
    if (!labels || !p_male || !out) return VG_EARG;
    memset(out, 0, sizeof *out);
    out->n = n;
    size_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        if (labels[i] != 0 && labels[i] != 1) return VG_EARG;
        int pred = p_male[i] >= 0.5f;
        out->confusion[labels[i]][pred]++;
        correct += pred == labels[i];
    }
    out->accuracy = n ? (double)correct / n : 0;
    for (int c = 0; c < 2; c++) {
        long tp = out->confusion[c][c];
        long pred_c = out->confusion[0][c] + out->confusion[1][c];
        long true_c = out->confusion[c][0] + out->confusion[c][1];
        out->precision[c] = pred_c ? (double)tp / pred_c : 0;
        out->recall[c] = true_c ? (double)tp / true_c : 0;
        double pr = out->precision[c] + out->recall[c];
        out->f1[c] = pr > 0 ? 2 * out->precision[c] * out->recall[c] / pr : 0;
    }
    out->auc = roc_auc(labels, p_male, n);

    /* per speaker (speaker + label identifies a speaker) */
    vg_speaker_stat *sp = calloc(n ? n : 1, sizeof(vg_speaker_stat));
    if (!sp) return VG_ENOMEM;
    size_t ns = 0;
    for (size_t i = 0; i < n; i++) {
        char buf[32];
        const char *name = speakers ? speakers[i] : buf;
        if (!speakers) snprintf(buf, sizeof buf, "#%zu", i);
        size_t k = 0;
        while (k < ns && (strcmp(sp[k].speaker, name) || sp[k].label != labels[i])) k++;
        if (k == ns) {
            sp[ns].speaker = strdup(name);
            if (!sp[ns].speaker) { out->speakers = sp; out->n_speakers = ns; vg_metrics_free(out); return VG_ENOMEM; }
            sp[ns++].label = labels[i];
        }
        sp[k].n++;
        sp[k].correct += (p_male[i] >= 0.5f) == labels[i];
    }
    double cls_sum[2] = {0, 0};
    int cls_n[2] = {0, 0};
    for (size_t k = 0; k < ns; k++) {
        cls_sum[sp[k].label] += (double)sp[k].correct / sp[k].n;
        cls_n[sp[k].label]++;
    }
    int classes = 0;
    double sba = 0;
    for (int c = 0; c < 2; c++)
        if (cls_n[c]) {
            out->speaker_recall[c] = cls_sum[c] / cls_n[c];
            sba += out->speaker_recall[c];
            classes++;
        }
    out->speaker_balanced_accuracy = classes ? sba / classes : 0;
    qsort(sp, ns, sizeof(vg_speaker_stat), cmp_speaker);
    out->speakers = sp;
    out->n_speakers = ns;
    return VG_OK;
}

void vg_metrics_free(vg_metrics *m)
{
    if (!m) return;
    for (size_t k = 0; k < m->n_speakers; k++) free(m->speakers[k].speaker);
    free(m->speakers);
    m->speakers = NULL;
    m->n_speakers = 0;
}
