/* Pitch shift of a mono signal with its formants kept (training
 * augmentation: a voice at another pitch with the same vocal tract). */
#ifndef VG_AUDIO_PITCH_H
#define VG_AUDIO_PITCH_H

#include <stddef.h>

/* Shift the pitch of X [N] (mono float at SAMPLE_RATE) by FACTOR (0.5-2;
 * 0.75 takes a 200 Hz voice to 150 Hz) in place, keeping its spectral
 * envelope (the formants) and its length and timing: Rubber Band's offline
 * pitch shifter with formant preservation. Deterministic. Returns VG_OK,
 * VG_EARG or VG_ENOMEM. */
int audio_pitch_shift(float *x, size_t n, int sample_rate, double factor);

/* "rubberband-3.1.2": the shifter's version, for cache keys */
const char *audio_pitch_version(void);

#endif
