/* Training-time augmentation of log-mel inputs (VG_AUG_* in voxgender.h). */
#ifndef VG_TRAIN_AUGMENT_H
#define VG_TRAIN_AUGMENT_H

#include "voxgender.h"

#include <stdint.h>

/* Augment one normalised log-mel X [H][T] in place with the VG_AUG_* bits of
 * AUG (crop is the caller's), each applied to about half of the examples;
 * random draws from *R. FE gives the normalisation and the mel scale. */
void augment_logmel(float *x, int H, int T, unsigned aug, uint64_t *r, const vg_frontend *fe);

/* Scale the spectrum of X [H][T] in frequency by ALPHA (> 1 moves energy to
 * higher bands): band b takes the value at f_b / ALPHA, interpolated. */
void augment_warp_frequency(float *x, int H, int T, float alpha, const vg_frontend *fe);

/* Scale the pitch (the harmonics' fine structure) of each frame of X [H][T]
 * by ALPHA, keeping its smooth spectral envelope (the formants) in place. */
void augment_shift_pitch(float *x, int H, int T, float alpha, const vg_frontend *fe);

/* SHAPE[H], mean 1: the mel-band power of noise whose spectrum falls as
 * 1/f^BETA per Hz (0 white, 1 pink, 2 brown); VG_AUG_COLOUR's noise. */
void augment_noise_colour(float *shape, int H, float beta, const vg_frontend *fe);

#endif
