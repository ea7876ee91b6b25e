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

typedef struct member {
    const char *name;
    int label;
    size_t i;   /* the recording */
} member;

static int cmp_member(const void *a, const void *b)   /* speaker, then label */
{
    const member *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : x->label - y->label;
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

    /* per speaker (speaker + label identifies a speaker): grouped by sorting,
     * not by searching the speakers seen so far for every recording (n x
     * speakers: 15 s for a million), then listed in order of first
     * appearance, which the class sums below add in */
    vg_speaker_stat *grp = calloc(n ? n : 1, sizeof(vg_speaker_stat)), *sp = NULL;
    member *mb = malloc(sizeof(member) * (n ? n : 1));
    size_t *group_of = malloc(sizeof(size_t) * (n ? n : 1)), ng = 0, ns = 0;
    int rc = grp && mb && group_of ? VG_OK : VG_ENOMEM;
    if (!rc) {
        for (size_t i = 0; i < n; i++) mb[i] = (member){speakers ? speakers[i] : NULL, labels[i], i};
        if (speakers) qsort(mb, n, sizeof(member), cmp_member);
    }
    for (size_t a = 0, b; !rc && a < n; a = b, ng++) {
        for (b = a + 1; speakers && b < n && !cmp_member(&mb[a], &mb[b]);) b++;
        char buf[32];
        if (!speakers) snprintf(buf, sizeof buf, "#%zu", mb[a].i);
        if (!(grp[ng].speaker = strdup(speakers ? mb[a].name : buf))) { rc = VG_ENOMEM; break; }
        grp[ng].label = mb[a].label;
        for (size_t k = a; k < b; k++) {
            grp[ng].n++;
            grp[ng].correct += (p_male[mb[k].i] >= 0.5f) == mb[k].label;
            group_of[mb[k].i] = ng;
        }
    }
    if (!rc && !(sp = malloc(sizeof(vg_speaker_stat) * (ng ? ng : 1)))) rc = VG_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        vg_speaker_stat *g = &grp[group_of[i]];
        if (g->speaker) { sp[ns++] = *g; g->speaker = NULL; }   /* moved */
    }
    for (size_t k = 0; k < ng; k++) free(grp[k].speaker);   /* the unmoved, after a failure */
    free(grp);
    free(mb);
    free(group_of);
    if (rc) { free(sp); return VG_ENOMEM; }
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
