/* The HTML evaluation report of `voxgender eval --report DIR`. */
#ifndef VG_CLI_REPORT_H
#define VG_CLI_REPORT_H
#include "voxgender.h"

/* DIR/index.html from metrics M of MODEL on the N recordings ITEMS with
 * LABELS and predictions P. Returns 0 or -1. */
int write_report(const char *dir, const char *model_path, const vg_model *model, const char *data,
                 const vg_metrics *m, vg_item *const *items, const int *labels, const float *p,
                 size_t n, size_t n_failed);
#endif
