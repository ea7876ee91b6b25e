/* Library-internal variants of the feature functions of voxgender.h: the
 * features of a degraded copy of a recording, made in the waveform before
 * the front end (training augmentation): a lossy-codec round trip
 * (VG_AUG_CODEC), added white noise (VG_AUG_WAVENOISE) or a pitch shift
 * that keeps the formants (VG_AUG_WAVEPITCH). */
#ifndef VG_DATA_FEATURES_H
#define VG_DATA_FEATURES_H

#include "voxgender.h"
#include "../audio/lossy.h"

#include <stdint.h>

typedef enum { DEGRADE_CODEC, DEGRADE_WHITE_NOISE, DEGRADE_PITCH } degrade_kind;

typedef struct degrade_spec {
    degrade_kind kind;
    lossy_codec codec;    /* DEGRADE_CODEC: the codec ... */
    int bitrate;          /* ... and its bit/s */
    float snr_db;         /* DEGRADE_WHITE_NOISE: Gaussian noise this many dB
                             below the mean power of the recording's samples */
    uint64_t seed;        /* DEGRADE_WHITE_NOISE: the noise's random stream */
    float pitch;          /* DEGRADE_PITCH: the pitch factor (formants kept) */
} degrade_spec;

/* vg_frontend_from_model with the reason for a refusal in ERR (may be
 * NULL): an unknown front end, a setting that does not parse or is out of
 * range, one this code fixes (log base, power floor, labels) stated
 * otherwise, or a front end whose output the network does not read. The
 * model loader runs it on every file that names a front end. */
int frontend_from_model(const vg_model *m, vg_frontend *fe, char *err, size_t errlen);

/* Frames of the log-mel of FE's window (its seconds at its sample rate):
 * the width a log-mel model is trained and classifies on. */
int frontend_window_frames(const vg_frontend *fe);

/* 64-bit FNV-1a hash of a string (the cache's file names; cache.c) */
uint64_t fnv1a(const char *s);

/* The codec and bitrate of PATH's lossy copy, fixed by the file's name (so
 * that the cache serves every training run and fold): Opus at 8, 12, 16 or 24 kbit/s or MP3 at
 * 16, 24 or 32 kbit/s, each about equally often. */
degrade_spec degrade_codec_for(const char *path);

/* The SNR and noise stream of PATH's noisy copy, fixed by the file's name
 * like degrade_codec_for's: white noise at an SNR uniform in 5-20 dB. */
degrade_spec degrade_noise_for(const char *path);

/* The pitch factor of PATH's pitch-shifted copy, fixed by the file's name
 * like degrade_codec_for's and moved towards the other class's voices:
 * 2^-(0.2..0.5) (0.71-0.87) for LABEL 0 (female), 2^(0.2..0.5) (1.15-1.41)
 * for LABEL 1 (male). A typical woman's 200 Hz comes down to 140-175 Hz,
 * a typical man's 120 Hz goes up to 140-170 Hz: the voices, rare in the
 * data, whose pitch says the other class while their formants do not. */
degrade_spec degrade_pitch_for(const char *path, int label);

/* vg_features_from_audio, with the decoded window degraded by DEG first
 * (NULL = none). Same ownership. */
int features_from_audio_degraded(const vg_frontend *fe, const char *path, double offset,
                                 double max_seconds, const degrade_spec *deg, float **out, int *c,
                                 int *h, int *w, vg_clip_info *info);

/* vg_features_cached for features_from_audio_degraded (the degradation and
 * its settings are part of the cache key). */
int features_cached_degraded(const char *cache_dir, const vg_frontend *fe, const char *path,
                             double max_seconds, const degrade_spec *deg, float **out, int *c,
                             int *h, int *w, int *hit);

#endif
