/* Training checkpoints: everything needed to continue a run and end with
 * the same weights as an uninterrupted one. */
#ifndef VG_TRAIN_CHECKPOINT_H
#define VG_TRAIN_CHECKPOINT_H
#include "voxgender.h"

typedef struct train_state {
    int epoch;            /* 0-based epoch to run (or running) */
    size_t batch;         /* next batch of that epoch */
    double loss_sum;      /* partial-epoch accumulators */
    size_t correct, seen;
    float best_loss;
    int best_epoch;
    double elapsed;       /* seconds already spent in the current epoch */
} train_state;

int checkpoint_save(const char *path, const vg_train_config *cfg, vg_model *m, vg_optimizer *o,
                    const float *best, const train_state *st, const vg_epoch_stats *history,
                    const vg_frontend *fe);
int checkpoint_load(const char *path, const vg_train_config *cfg, vg_model *m, vg_optimizer *o,
                    float *best, train_state *st, vg_epoch_stats *history, vg_frontend *fe,
                    char *err, size_t errlen);
#endif
