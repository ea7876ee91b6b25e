/* Which training examples an epoch visits, and in what order. */
#ifndef VG_TRAIN_EPOCH_ORDER_H
#define VG_TRAIN_EPOCH_ORDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct epoch_sampler {
    size_t n;                 /* examples */
    int by_speaker;
    /* by speaker: members[first[s] .. first[s+1]) are speaker s's examples */
    size_t *members, *first;
    size_t n_speakers;
    size_t per_class[2];      /* speakers of label 0 and of label 1 */
} epoch_sampler;

/* N examples with their SPEAKERS (names, borrowed for the call) and LABELS
 * (0 or 1). BY_SPEAKER: epochs draw a speaker, then one of their examples;
 * a name found in both classes is two speakers. Returns VG_OK or
 * VG_ENOMEM; free with epoch_sampler_free. */
int epoch_sampler_init(epoch_sampler *s, size_t n, const char *const *speakers, const int *labels,
                       int by_speaker);
void epoch_sampler_free(epoch_sampler *s);

/* ORDER[N]: a shuffle of all examples, or N draws of (speaker uniformly,
 * then one of their examples uniformly), from *RNG. */
void epoch_order(const epoch_sampler *s, uint64_t *rng, size_t *order);
#endif
