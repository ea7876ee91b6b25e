/* Lossy-codec round trip of a mono signal (training augmentation: what an
 * MP3 download or an Opus voice message does to a recording). */
#ifndef VG_AUDIO_LOSSY_H
#define VG_AUDIO_LOSSY_H

#include <stddef.h>

typedef enum { LOSSY_OPUS, LOSSY_MP3 } lossy_codec;

/* Encode X [N] (mono float at SAMPLE_RATE, 8000-48000 Hz) with CODEC at
 * BITRATE bit/s through FFmpeg's libopus / libmp3lame encoders, decode it
 * again and write the result back into X, aligned with the input (the
 * codec's delay removed) and N samples long. Returns VG_OK, VG_EUNSUPPORTED
 * when this FFmpeg has no such encoder, VG_ENOMEM or VG_EFORMAT. */
int audio_lossy_roundtrip(float *x, size_t n, int sample_rate, lossy_codec codec, int bitrate);

/* 1 when this FFmpeg has both encoders (libopus and libmp3lame) */
int audio_lossy_available(void);

/* The version of the library behind CODEC's encoder ("libopus 1.3.1",
 * "3.100"), as FFmpeg loaded it, or "unknown": the feature cache keys a
 * lossy copy with it, since that library, not FFmpeg, makes the artefacts
 * and is upgraded on its own. */
const char *lossy_encoder_version(lossy_codec c);

/* "opus" / "mp3" */
const char *lossy_codec_name(lossy_codec c);

#endif
