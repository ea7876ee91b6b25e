/* Pitch shift with the formants kept, through Rubber Band (librubberband),
 * the phase-vocoder library Debian's audio editors use. Shifting a voice in
 * the waveform keeps what a spectrogram-domain shift cannot: resolved
 * harmonics moving as a whole, their phases, the envelope re-imposed on each
 * frame. The offline mode studies the whole signal first and returns an
 * output aligned with the input, so nothing needs trimming. */
#include "pitch.h"
#include "voxgender.h"

#include <rubberband/rubberband-c.h>

#include <stdlib.h>
#include <string.h>

enum { BLOCK = 4096 };

/* what RB has ready, appended to Y [N] after its first *GOT samples */
static void drain(RubberBandState rb, float *y, size_t n, size_t *got)
{
    for (int a; *got < n && (a = rubberband_available(rb)) > 0;) {
        float *out = y + *got;
        size_t want = (size_t)a < n - *got ? (size_t)a : n - *got;
        *got += rubberband_retrieve(rb, &out, (unsigned)want);
    }
}

int audio_pitch_shift(float *x, size_t n, int sample_rate, double factor)
{
    if (!x || sample_rate <= 0 || !(factor >= 0.5 && factor <= 2.0) || n > 0x7fffffff) return VG_EARG;
    if (n == 0 || factor == 1.0) return VG_OK;
    /* R3 ("finer") engine: its formant preservation follows the envelope
     * more closely than R2's; no threads of its own (training runs one
     * recording per core) */
    RubberBandState rb = rubberband_new((unsigned)sample_rate, 1,
                                       RubberBandOptionProcessOffline | RubberBandOptionEngineFiner |
                                       RubberBandOptionFormantPreserved | RubberBandOptionPitchHighQuality |
                                       RubberBandOptionThreadingNever,
                                       1.0, factor);
    if (!rb) return VG_ENOMEM;
    float *y = calloc(n, sizeof(float));
    if (!y) { rubberband_delete(rb); return VG_ENOMEM; }
    rubberband_set_expected_input_duration(rb, (unsigned)n);
    rubberband_set_max_process_size(rb, BLOCK);
    for (size_t i = 0; i < n; i += BLOCK) {
        const float *in = x + i;
        size_t k = n - i < BLOCK ? n - i : BLOCK;
        rubberband_study(rb, &in, (unsigned)k, i + k == n);
    }
    size_t got = 0;
    for (size_t i = 0; i < n; i += BLOCK) {
        const float *in = x + i;
        size_t k = n - i < BLOCK ? n - i : BLOCK;
        rubberband_process(rb, &in, (unsigned)k, i + k == n);
        drain(rb, y, n, &got);
    }
    /* a time ratio of 1 gives N samples; a shortfall (the stretcher's
     * latency eats inputs of a few ms) stays silent */
    rubberband_delete(rb);
    memcpy(x, y, sizeof(float) * n);
    free(y);
    return VG_OK;
}

const char *audio_pitch_version(void) { return "rubberband-" RUBBERBAND_VERSION; }
