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

/* Expected power of band B for a noise of power f^-BETA per FFT bin (0
 * white, 1 pink, 2 brown): the sum of the band's filter weights times
 * that, exactly as the filterbank gathers it. Bands that cover no FFT bin
 * (the lowest few at n_fft 400) get 0, as real noise leaves them. */
double mel_band_noise_power(const vg_mel_config *c, int b, double beta);

#endif
