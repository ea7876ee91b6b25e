/* Whether stretches of a recording sound like music (held notes, a steady
 * timbre, a level without syllables' dips) or like noise (a spectral balance
 * that does not move at a syllable's pace) rather than speech: statistics
 * of each 2 s window of log-mel frames, a logistic score for music and a
 * threshold for noise. The speech cues (speech_cues.h) look at one frame
 * and its neighbour, and instrumental music and coloured noise pass them;
 * this looks at a window. Used by vg_predict_file's "no speech" gate and
 * by the segmenter (as a stream). */
#ifndef VG_MUSIC_CUES_H
#define VG_MUSIC_CUES_H

#include "voxgender.h"

enum {
    MUSIC_WINDOW = 160,     /* frames in a window (2 s at hop 200, 16 kHz) */
    MUSIC_HOP = 80,         /* windows overlap by half */
    MUSIC_SCORED = 5,       /* statistics the music score weighs */
    MUSIC_FEATURES = 8,     /* ... the modulation ratio that tells noise, the high-only shares */
    MUSIC_BANDS = 4         /* the modulation ratio's broad bands */
};

/* A window whose modulation ratio (below) is under this is noise. Between
 * the 99th percentile of generated noise (0.66) and the 1st of the training
 * speakers' clean speech (1.35); see the README. */
#define NOISE_MODULATION_MAX 0.8

/* Sounds that are not music and not noise, and that every test above
 * passed: sirens, alarms, bird calls (session 17; see the README's
 * "Sirens, alarms, bird calls"). A window is not speech when its loud
 * frames' level hardly moves (standard deviation under STEADY_LEVEL_SD_MAX
 * dB: a generated tone's or alarm's; speech's syllables and pauses move it
 * 1.4 dB or more in every window of the training speakers' clean
 * recordings, 0.9 through the telephone band) or when most of them are
 * high-only (HIGH_ONLY_SHARE_MIN: a frame whose every band within 20 dB of
 * its strongest lies above 500 Hz; a voice's partials start at its pitch,
 * under 500 Hz, and at most 79% of a speech window's loud frames were
 * high-only there). */
#define STEADY_LEVEL_SD_MAX 0.5
#define HIGH_ONLY_SHARE_MIN 0.9
/* The same over the window's background: in noise, the noise's own low
 * bands are within 20 dB of a siren's or a bird's partials, so no frame is
 * high-only above. Each band less its 20th percentile over the window (the
 * background); a frame that rises 15 dB above it somewhere is active, and
 * high-only when every band within 20 dB of its highest rise (and 6 dB
 * above the background) lies above 500 Hz. A window is not speech when more
 * than HIGH_ONLY_ABOVE_BG_MIN of its active frames are (the training
 * speakers' windows: at most 58%; see the README). */
#define HIGH_ONLY_ABOVE_BG_MIN 0.8

/* Windows of MUSIC_WINDOW frames every MUSIC_HOP, the last one ending at
 * the last frame: how many a recording of W frames has (0 when it is
 * shorter than one window), and where window I starts. */
int music_window_count(int w);
int music_window_start(int i, int w);

/* The statistics of every window of log-mel features X[h][w] stored
 * normalised (log2 power = x * SD + MU), FEAT[music_window_count(w)]
 * [MUSIC_FEATURES]: the share of loud frames 10 dB under their median
 * level, the level's standard deviation (dB), the median change of the
 * spectrum's shape over two frames, how often the strongest band is the
 * same three frames later, the median correlation of consecutive spectral
 * shapes, the modulation ratio: how much the spectral balance (the
 * level of four broad bands, each less their mean, floored 30 dB under the
 * band's loudest) moves at 2-8 Hz, a syllable's pace, over how much it
 * moves faster than 8 Hz, in the band where that ratio is highest (speech's
 * vowels and consonants move it at a syllable's pace; in stationary noise
 * it only jitters, and swells move all bands together), the share of
 * loud frames that are high-only and the share of active frames that are
 * high-only over the window's background (above). Loud frames are
 * above VG_SOUND_FLOOR_DB and within 40 dB of the window's loudest;
 * SCORED[i] is 0 for a window with fewer than 10 (its FEAT row unset), else
 * 1. Returns VG_OK or VG_ENOMEM. */
int music_windows(const float *x, int h, int w, float mu, float sd, double *feat, unsigned char *scored);

/* The cues as a stream of frames, for the segmenter: frames go in one at a
 * time, and each frame's verdict is final at most 240 frames (3 s) later,
 * when every window covering it and the window after those (the lone-window
 * rule, below) are in. Each frame's terms (level, broad-band levels,
 * strongest band, shape changes) are made once, whichever windows share it,
 * and kept for the last MUSIC_WINDOW frames twice over (at t mod W and
 * t mod W + W) so that any window is one contiguous run. */
enum { MUSIC_RING = 512 };   /* frames whose verdict a stream keeps */
typedef struct music_stream {
    int h;                      /* mel bands */
    int judge;                  /* give verdicts (the front end suits the cues) */
    long long n;                /* frames pushed */
    long long final;            /* frames [0, final) have their verdict */
    float *shapes;              /* the last SHAPE_LAG + 1 frames' shapes; NULL under 128 bands: nothing scored */
    float *spec;                /* log2 band powers [2 * MUSIC_WINDOW][h], a doubled ring as the terms' */
    double *bg;                 /* [h] scratch: a window's background */
    /* the terms, doubled rings */
    double lev[2 * MUSIC_WINDOW], group[MUSIC_BANDS][2 * MUSIC_WINDOW], flux[2 * MUSIC_WINDOW],
        corr[2 * MUSIC_WINDOW];
    int peak[2 * MUSIC_WINDOW];
    unsigned char high[2 * MUSIC_WINDOW];   /* the frame is high-only */
    /* scratch for a window */
    unsigned char loud[MUSIC_WINDOW];
    double tmp[MUSIC_BANDS * MUSIC_WINDOW], tmp2[MUSIC_WINDOW];
    int before, cur_own;        /* own verdicts of the window before the waiting one, and of it */
    long long cur_start;        /* the waiting window's first frame */
    unsigned char cover[MUSIC_RING], music[MUSIC_RING];   /* per frame: windows covering it, how many music */
} music_stream;

/* JUDGE 0: statistics only, no frame is ever music (another front end).
 * Returns VG_OK or VG_ENOMEM. */
int music_stream_init(music_stream *ms, int h, int judge);
void music_stream_free(music_stream *ms);
/* Take the next frame, LOG2P[h] = log2 of its mel band powers, and the
 * powers themselves if the caller has them (POWER[h], else NULL: exp2 of
 * LOG2P, the dearest part of a frame). Returns 0,
 * or when it completes a window (every MUSIC_HOP frames from the
 * MUSIC_WINDOW-th), 1 for a window not scored and 2 for a scored one, whose
 * statistics go to FEAT[MUSIC_FEATURES] (may be NULL). */
int music_stream_push(music_stream *ms, const float *log2p, const float *power, double *feat);
/* The stream has ended: a last window ending at the last frame if the
 * regular ones do not (returned as by music_stream_push), and every frame
 * final. */
int music_stream_finish(music_stream *ms, double *feat);
/* Whether final frame T (one of the last MUSIC_RING pushed) is music or
 * noise: every scored window covering it said so. */
int music_stream_music(const music_stream *ms, long long t);

/* Whether the cues apply to features of this mel front end: the one they
 * were fitted on (16 kHz, n_fft 400, hop 200, 128 bands); others are never
 * called music. */
int music_cues_suit(const vg_mel_config *mel);

/* The probability that a window with statistics FEAT is music (from the
 * first MUSIC_SCORED). */
double music_window_score(const double *feat);

/* Whether a window with statistics FEAT is not speech: music (score >
 * 0.5), noise (modulation ratio < NOISE_MODULATION_MAX), a steady level or
 * mostly high-only frames (above). */
int music_window_not_speech(const double *feat);

/* MUSIC[w]: 1 for the frames that every scored window covering them calls
 * not speech (music_window_not_speech), else 0; a window between two such
 * windows counts as one. A recording
 * shorter than one window is not scored: on training speakers' 1 s cuts,
 * shorter windows called 5% of them music. Nothing is music when the front
 * end MEL does not suit the cues. The stream above, fed X's frames.
 * Returns VG_OK or VG_ENOMEM. */
int music_or_noise_frames(const float *x, int h, int w, float mu, float sd, const vg_mel_config *mel,
                          unsigned char *music);
#endif
