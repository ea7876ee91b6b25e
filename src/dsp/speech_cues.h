/* Per-frame evidence that a log-mel frame holds speech, shared by
 * vg_predict_file's "no speech" gate and the segmenter. */
#ifndef VG_SPEECH_CUES_H
#define VG_SPEECH_CUES_H

#define SPEECH_FLAT_MAX 0.45   /* flatter spectra are noise (white noise is flat) */
#define SPEECH_FLUX_MIN 0.5    /* steadier spectra are held tones or music notes */
#define SPEECH_LOWEST_BAND 20  /* flatness and flux over bands 20.. (the lowest are empty) */

typedef struct speech_cues {
    int n_mels;
    float *prev;       /* [n_mels] log2 power of the previous frame */
    double flux;       /* running mean (over ~16 frames) of the spectral change */
    double level_db;   /* of the last frame: 10 log10(mean band power) */
    double flatness;   /* of the last frame */
} speech_cues;

int speech_cues_init(speech_cues *c, int n_mels);   /* VG_OK or VG_ENOMEM */
void speech_cues_free(speech_cues *c);
/* Take the next frame, LOG2P[n_mels] = log2 of its mel band powers. */
void speech_cues_update(speech_cues *c, const float *log2p);
/* The last frame is loud enough in absolute terms (VG_SOUND_FLOOR_DB), not
 * flat and changing. Callers add their own test against a loudness
 * reference (the loudest frame of a clip, or a decaying recent maximum). */
int speech_cues_voiced(const speech_cues *c);
#endif
