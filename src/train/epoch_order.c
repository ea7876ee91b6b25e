/* Epoch order: a shuffle of the training set, or speaker-balanced draws.
 * A recording-level shuffle lets a speaker with 20 recordings weigh twenty
 * times one with a single recording (VCTK's readers against LibriSpeech's
 * in ../shared/data); drawing speakers first gives every speaker the same
 * weight, the way accuracy is counted per speaker. */
#include "epoch_order.h"

#include "../nn/layers.h"   /* rng_next */
#include "voxgender.h"

#include <stdlib.h>
#include <string.h>

typedef struct { const char *const *speakers; const int *labels; } sort_ctx;

static int by_speaker(const void *a, const void *b, void *arg)
{
    const sort_ctx *c = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int d = strcmp(c->speakers[i], c->speakers[j]);
    if (!d) d = c->labels[i] - c->labels[j];
    return d ? d : (i > j) - (i < j);   /* a speaker's examples stay in order */
}

int epoch_sampler_init(epoch_sampler *s, size_t n, const char *const *speakers, const int *labels,
                       int by_speaker_)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->by_speaker = by_speaker_;
    if (!by_speaker_) return VG_OK;
    s->members = malloc(sizeof(size_t) * (n ? n : 1));
    s->first = malloc(sizeof(size_t) * (n + 1));
    if (!s->members || !s->first) { epoch_sampler_free(s); return VG_ENOMEM; }
    for (size_t i = 0; i < n; i++) s->members[i] = i;
    sort_ctx c = {speakers, labels};
    qsort_r(s->members, n, sizeof(size_t), by_speaker, &c);
    for (size_t k = 0; k < n; k++) {
        const size_t i = s->members[k], p = k ? s->members[k - 1] : 0;
        if (!k || strcmp(speakers[p], speakers[i]) || labels[p] != labels[i]) {
            s->first[s->n_speakers++] = k;
            s->per_class[labels[i] != 0]++;
        }
    }
    s->first[s->n_speakers] = n;
    return VG_OK;
}

void epoch_sampler_free(epoch_sampler *s)
{
    free(s->members);
    free(s->first);
    memset(s, 0, sizeof *s);
}

void epoch_order(const epoch_sampler *s, uint64_t *rng, size_t *order)
{
    if (s->by_speaker && s->n_speakers) {
        for (size_t i = 0; i < s->n; i++) {
            const size_t sp = rng_next(rng) % s->n_speakers;
            const size_t nrec = s->first[sp + 1] - s->first[sp];
            order[i] = s->members[s->first[sp] + rng_next(rng) % nrec];
        }
        return;
    }
    /* Fisher-Yates */
    for (size_t i = 0; i < s->n; i++) order[i] = i;
    for (size_t i = s->n ? s->n - 1 : 0; i > 0; i--) {
        size_t j = rng_next(rng) % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}
