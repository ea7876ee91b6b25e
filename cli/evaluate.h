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
/* Confusion matrix, accuracies, per-class P/R/F1 and AUC as text. */
void print_metrics(const vg_metrics *m, const char *indent);
#endif
