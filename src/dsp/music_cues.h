/* Whether stretches of a recording sound like music (held notes, a steady
 * timbre, a level without syllables' dips) rather than speech: five
 * statistics of each 2 s window of log-mel frames and a logistic score.
 * The speech cues (speech_cues.h) look at one frame and its neighbour, and
 * instrumental music passes them; this looks at a window. Used by
 * vg_predict_file's "no speech" gate. */
#ifndef VG_MUSIC_CUES_H
#define VG_MUSIC_CUES_H

#include "voxgender.h"

#include <stddef.h>

enum {
    MUSIC_WINDOW = 160,     /* frames in a window (2 s at hop 200, 16 kHz) */
    MUSIC_HOP = 80,         /* windows overlap by half */
    MUSIC_FEATURES = 5
};

/* The statistics of frames [T0, T1) of log-mel features X[h][w] stored
 * normalised (log2 power = x * SD + MU), in FEAT[MUSIC_FEATURES]: the share
 * of loud frames 10 dB under their median level, the level's standard
 * deviation (dB), the median change of the spectrum's shape over two
 * frames, how often the strongest band is the same three frames later, and
 * the median correlation of consecutive spectral shapes. Loud frames are
 * above VG_SOUND_FLOOR_DB and within 40 dB of the window's loudest. WORK
 * holds music_work_size(h, T1 - T0) bytes. Returns 0 when fewer than 10
 * frames are loud (FEAT not set), else 1. */
int music_window_features(const float *x, int h, int w, float mu, float sd, int t0, int t1, double *feat,
                          void *work);
size_t music_work_size(int h, int frames);

/* Whether the cues apply to features of this mel front end: the one they
 * were fitted on (16 kHz, n_fft 400, hop 200, 128 bands); others are never
 * called music. */
int music_cues_suit(const vg_mel_config *mel);

/* The probability that a window with statistics FEAT is music. */
double music_window_score(const double *feat);

/* MUSIC[w]: 1 for the frames that every scored window covering them calls
 * music (score > 0.5), else 0. Windows of MUSIC_WINDOW frames every
 * MUSIC_HOP, the last one ending at the last frame; a window between two
 * music windows counts as music. A recording shorter than one window is not
 * scored: on training speakers' 1 s cuts, shorter windows called 5% of them
 * music. Nothing is music when the front end MEL does not suit the cues.
 * Returns VG_OK or VG_ENOMEM. */
int music_frames(const float *x, int h, int w, float mu, float sd, const vg_mel_config *mel,
                 unsigned char *music);
#endif
