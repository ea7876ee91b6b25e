#include "evaluate.h"
#include "cli.h"
#include "progress.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct job {
    const char *model_path, *arch;
    vg_item *const *items;
    size_t n, next;
    int first_window;
    eval_run *out;
    pthread_mutex_t lock;
    progress prog;
    int load_error;
    size_t n_cut;   /* recordings longer than predict reads */
} job;

static void *worker(void *arg)
{
    job *j = arg;
    vg_model *m = NULL;
    char err[256];
    if (cli_load_model(j->model_path, j->arch, &m, err, sizeof err)) {
        j->load_error = 1;
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&j->lock);
        size_t i = j->next++;
        pthread_mutex_unlock(&j->lock);
        if (i >= j->n) break;
        float logits[2];
        j->out->status[i] = vg_predict_file(m, j->items[i]->path, j->first_window, &j->out->p_male[i], logits);
        double seconds;
        if (j->out->status[i])
            progress_message(&j->prog, "voxgender: %s: %s (skipped)", j->items[i]->path,
                             vg_strerror(j->out->status[i]));
        else if (cli_read_only_its_start(m, j->items[i]->path, j->first_window, &seconds)) {
            pthread_mutex_lock(&j->lock);
            j->n_cut++;
            pthread_mutex_unlock(&j->lock);
        }
        progress_step(&j->prog);
    }
    vg_model_destroy(m);
    return NULL;
}

int evaluate_items(const char *model_path, const char *arch, vg_item *const *items, size_t n, int jobs,
                   int first_window, int quiet, eval_run *out)
{
    memset(out, 0, sizeof *out);
    out->p_male = calloc(n + 1, sizeof(float));
    out->status = calloc(n + 1, sizeof(int));
    if (!out->p_male || !out->status) return VG_ENOMEM;
    job j = {.model_path = model_path, .arch = arch, .items = items, .n = n, .first_window = first_window, .out = out};
    pthread_mutex_init(&j.lock, NULL);
    progress_init(&j.prog, "classify", n, quiet);
    if ((size_t)jobs > n) jobs = n ? (int)n : 1;
    cli_run_model_workers(jobs, worker, &j);
    progress_finish(&j.prog);
    if (j.load_error) return VG_EMODEL;
    if (j.n_cut)   /* one line for the run: a dataset of long recordings would flood a line per file */
        cli_error("note: %zu recording%s longer than %.0f s: each was classified from its first %.0f s",
                  j.n_cut, j.n_cut == 1 ? " is" : "s are", VG_PREDICT_MAX_SECONDS, VG_PREDICT_MAX_SECONDS);
    for (size_t i = 0; i < n; i++) out->n_failed += out->status[i] != 0;
    return VG_OK;
}

void eval_run_free(eval_run *r)
{
    free(r->p_male);
    free(r->status);
    memset(r, 0, sizeof *r);
}

vg_item **split_items(const vg_dataset *d, int split, size_t *n)
{
    vg_item **items = malloc(sizeof(vg_item *) * (d->n + 1));
    *n = 0;
    if (!items) return NULL;
    for (size_t i = 0; i < d->n; i++)
        if (d->items[i].split == split) items[(*n)++] = &d->items[i];
    return items;
}

void scored_free(scored_set *s)
{
    free(s->items);
    free(s->labels);
    free(s->p_male);
    free(s->speakers);
    memset(s, 0, sizeof *s);
}

int scored_of_run(vg_item *const *items, size_t n, const eval_run *r, scored_set *s)
{
    s->n = 0;
    s->items = malloc(sizeof(vg_item *) * (n + 1));
    s->labels = malloc(sizeof(int) * (n + 1));
    s->p_male = malloc(sizeof(float) * (n + 1));
    s->speakers = malloc(sizeof(char *) * (n + 1));
    if (!s->items || !s->labels || !s->p_male || !s->speakers) {
        scored_free(s);
        return VG_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (r->status[i]) continue;
        s->items[s->n] = items[i];
        s->labels[s->n] = items[i]->label;
        s->p_male[s->n] = r->p_male[i];
        s->speakers[s->n++] = items[i]->speaker;
    }
    return VG_OK;
}

void print_metrics(const vg_metrics *m, const char *in)
{
    printf("%saccuracy                    %.2f%%  (%zu recordings)\n", in, 100 * m->accuracy, m->n);
    printf("%sspeaker-balanced accuracy   %.2f%%  (%zu speakers; per class: female %.2f%%, male %.2f%%)\n", in,
           100 * m->speaker_balanced_accuracy, m->n_speakers, 100 * m->speaker_recall[0], 100 * m->speaker_recall[1]);
    printf("%sROC AUC                     %.4f\n", in, m->auc);
    printf("%sconfusion (rows true, columns predicted):\n", in);
    printf("%s              female     male\n", in);
    printf("%s  female    %8ld %8ld\n", in, m->confusion[0][0], m->confusion[0][1]);
    printf("%s  male      %8ld %8ld\n", in, m->confusion[1][0], m->confusion[1][1]);
    printf("%s          precision   recall       F1\n", in);
    for (int c = 0; c < 2; c++)
        printf("%s  %-6s    %8.3f %8.3f %8.3f\n", in, c ? "male" : "female", m->precision[c], m->recall[c], m->f1[c]);
}
