/* The mel axis of a vg_mel_config (HTK scale, as the filterbank), for code
 * that works on log-mel bands rather than on audio: training augmentation. */
#ifndef VG_MELSPEC_H
#define VG_MELSPEC_H

#include "voxgender.h"

/* Centre frequency (Hz) of band B: the peak of its triangular filter. */
double mel_band_centre_hz(const vg_mel_config *c, int b);

/* Fractional band index of frequency HZ on the same axis (band b's centre
 * is at b; below band 0 or above the last band it extrapolates). */
double mel_band_position(const vg_mel_config *c, double hz);

#endif
