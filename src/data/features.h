/* Library-internal variants of the feature functions of voxgender.h: the
 * features of a recording after a lossy-codec round trip (VG_AUG_CODEC). */
#ifndef VG_DATA_FEATURES_H
#define VG_DATA_FEATURES_H

#include "voxgender.h"
#include "../audio/lossy.h"

typedef struct lossy_spec {
    lossy_codec codec;
    int bitrate;          /* bit/s */
} lossy_spec;

/* 64-bit FNV-1a hash of a string (the cache's file names; cache.c) */
uint64_t fnv1a(const char *s);

/* The codec and bitrate of PATH's lossy copy, fixed by the file's name (so
 * that the cache serves every training run and fold): Opus at 8, 12, 16 or 24 kbit/s or MP3 at
 * 16, 24 or 32 kbit/s, each about equally often. */
lossy_spec lossy_spec_for(const char *path);

/* vg_features_from_audio, with the decoded window put through LOSSY first
 * (NULL = none). Same ownership. */
int features_from_audio_lossy(const vg_frontend *fe, const char *path, double offset,
                              double max_seconds, const lossy_spec *lossy, float **out, int *c,
                              int *h, int *w, vg_clip_info *info);

/* vg_features_cached for features_from_audio_lossy (the codec and bitrate
 * are part of the cache key). */
int features_cached_lossy(const char *cache_dir, const vg_frontend *fe, const char *path,
                          double max_seconds, const lossy_spec *lossy, float **out, int *c,
                          int *h, int *w, int *hit);

#endif
