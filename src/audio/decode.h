/* Internal to the library: what the decoder is built from. */
#ifndef VG_AUDIO_DECODE_H
#define VG_AUDIO_DECODE_H

#include <stddef.h>

/* Writes the run-time versions of the FFmpeg libraries that decode and
 * resample (and, for the codec augmentation, encode) into BUF [N], e.g.
 * "avformat-3877220 avcodec-3876196 swresample-262500": cached features
 * name them, so that an upgrade does not serve features the old ones made. */
void audio_decoder_versions(char *buf, size_t n);

#endif
