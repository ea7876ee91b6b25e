/* Classify many recordings in parallel and report metrics (train, eval). */
#ifndef VG_CLI_EVALUATE_H
#define VG_CLI_EVALUATE_H
#include "voxgender.h"

typedef struct eval_run {
    float *p_male;        /* [n] */
    int *status;          /* [n] VG_OK or error */
    size_t n_failed;
} eval_run;

/* Predict every item (any split) with the model file at MODEL_PATH (each
 * thread loads its own copy). ITEMS[i] are pointers into a dataset. */
int evaluate_items(const char *model_path, const char *arch, vg_item *const *items, size_t n, int jobs,
                   int first_window, int quiet, eval_run *out);
void eval_run_free(eval_run *r);
/* The recordings of D in SPLIT (VG_SPLIT_*), in order: a new array
 * (free()) of *N pointers into D, or NULL when out of memory. */
vg_item **split_items(const vg_dataset *d, int split, size_t *n);
/* The recordings a run classified (status VG_OK), compacted: their items,
 * labels, P(male) and speakers, as vg_metrics_compute takes them. */
typedef struct scored_set {
    vg_item **items;
    int *labels;
    float *p_male;
    const char **speakers;
    size_t n;
} scored_set;
/* Fills S from ITEMS[N] and the run R over them; 0, or VG_ENOMEM (S then
 * empty). Free with scored_free. */
int scored_of_run(vg_item *const *items, size_t n, const eval_run *r, scored_set *s);
void scored_free(scored_set *s);
/* Confusion matrix, accuracies, per-class P/R/F1 and AUC as text. */
void print_metrics(const vg_metrics *m, const char *indent);
#endif
