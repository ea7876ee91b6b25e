/* Classify one recording or image with a model, through the model's own
 * front end. */
#include "../data/features.h"
#include "../dsp/music_cues.h"
#include "../dsp/speech_cues.h"
#include "../nn/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_image(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static void log_softmax2(const float *l, double *out)
{
    double mx = l[0] > l[1] ? l[0] : l[1];
    double lse = mx + log(exp(l[0] - mx) + exp(l[1] - mx));
    out[0] = l[0] - lse;
    out[1] = l[1] - lse;
}

/* Frames of log-mel features X[h][w] (normalised with MU, SD) that hold
 * speech: the shared speech cues (speech_cues.h), within 40 dB of the
 * clip's loudest frame, and not in a stretch that sounds like music or
 * noise (music_cues.h: instrumental music and coloured noise pass the
 * frame-level cues). */
static unsigned char *sound_frames(const float *x, int h, int w, float mu, float sd, const vg_mel_config *mel,
                                   int *count)
{
    unsigned char *on = calloc((size_t)w + 1, 1);
    double *level = malloc(sizeof(double) * ((size_t)w + 1));
    float *log2p = malloc(sizeof(float) * (size_t)h);
    speech_cues cues = {0};
    *count = 0;
    if (!on || !level || !log2p || speech_cues_init(&cues, h)) {
        free(on); free(level); free(log2p); speech_cues_free(&cues);
        return NULL;
    }
    double loudest = -1e9;
    for (int t = 0; t < w; t++) {
        for (int b = 0; b < h; b++) log2p[b] = x[(size_t)b * w + t] * sd + mu;
        speech_cues_update(&cues, log2p);
        level[t] = cues.level_db;
        on[t] = (unsigned char)speech_cues_voiced(&cues);
        if (level[t] > loudest) loudest = level[t];
    }
    unsigned char *music = malloc((size_t)w + 1);
    if (!music || music_or_noise_frames(x, h, w, mu, sd, mel, music)) {
        free(on); free(level); free(log2p); free(music); speech_cues_free(&cues);
        return NULL;
    }
    for (int t = 0; t < w; t++) {
        on[t] = on[t] && level[t] > loudest - 40.0 && !music[t];
        *count += on[t];
    }
    free(music);
    free(level);
    free(log2p);
    speech_cues_free(&cues);
    return on;
}

static int classify(vg_model *m, const vg_frontend *fe, float *x, int h, int w, float *p_male,
                    float logits[2]);

/* How much of a recording to read: every window up to VG_PREDICT_MAX_SECONDS for a
 * log-mel model (0: the front end's own window) */
static double seconds_to_read(const vg_frontend *fe, int first_window_only)
{
    return fe->kind == VG_FE_LOGMEL && !first_window_only ? VG_PREDICT_MAX_SECONDS : 0;
}

int vg_predict_file(vg_model *m, const char *path, int first_window_only, float *p_male,
                    float logits[2])
{
    if (!m || !path || !p_male || !logits || m->n_classes != 2) return VG_EARG;
    vg_frontend fe;
    int rc = vg_frontend_from_model(m, &fe);
    if (rc) return rc;
    float *x = NULL;
    int c, h, w;
    if (is_image(path)) rc = vg_features_from_image(&fe, path, &x, &c, &h, &w);
    else rc = vg_features_from_audio(&fe, path, 0, seconds_to_read(&fe, first_window_only), &x, &c, &h, &w, NULL);
    if (rc) return rc;
    return classify(m, &fe, x, h, w, p_male, logits);
}

int vg_predict_samples(vg_model *m, const float *samples, size_t n, int sample_rate, int first_window_only,
                       float *p_male, float logits[2])
{
    if (!m || !samples || !p_male || !logits || m->n_classes != 2) return VG_EARG;
    vg_frontend fe;
    int rc = vg_frontend_from_model(m, &fe);
    if (rc) return rc;
    if (fe.kind == VG_FE_SEED_IMAGE) return VG_EUNSUPPORTED;   /* the reference's images come from files */
    if (sample_rate != fe.mel.sample_rate) return VG_ERATE;    /* vg_resample first */
    float *x = NULL;
    int c, h, w;
    rc = vg_features_from_samples(&fe, samples, n, seconds_to_read(&fe, first_window_only), &x, &c, &h, &w);
    if (rc) return rc;
    return classify(m, &fe, x, h, w, p_male, logits);
}

/* The answer for features X[h][w] (owned: freed here) of FE: log-mel
 * models first check that there is speech, then average the windows. */
static int classify(vg_model *m, const vg_frontend *fe, float *x, int h, int w, float *p_male,
                    float logits[2])
{
    int rc = VG_OK;
    int T = frontend_window_frames(fe);
    unsigned char *on = NULL;
    if (fe->kind == VG_FE_LOGMEL) {
        int active;
        on = sound_frames(x, h, w, fe->input_mean, fe->input_std, &fe->mel, &active);
        if (!on) { free(x); return VG_ENOMEM; }
        if (active * (double)fe->mel.hop_length / fe->mel.sample_rate < VG_MIN_SOUND_SECONDS) {
            free(on);
            free(x);
            return VG_ENOSPEECH;
        }
    }
    if (fe->kind != VG_FE_LOGMEL || w <= T) {
        rc = vg_model_forward(m, x, 1, h, w, logits);
    } else {
        /* Windows of T frames covering the recording (the tail gets its own
         * window when it holds at least a quarter of one); the mean of the
         * windows' log-probabilities decides. */
        double acc[2] = {0, 0};
        int n = 0;
        float *win = malloc(sizeof(float) * (size_t)h * T), l[2];
        if (!win) { free(x); return VG_ENOMEM; }
        for (int start = 0; start < w && !rc; start += T) {
            int len = w - start < T ? w - start : T;
            if (n > 0 && len < T / 4) break;
            int sound = 0;   /* skip windows without sound (pauses, silence) */
            for (int t = start; t < start + len; t++) sound += on[t];
            if (sound * (double)fe->mel.hop_length / fe->mel.sample_rate < VG_MIN_SOUND_SECONDS / 2) continue;
            for (int b = 0; b < h; b++)
                memcpy(win + (size_t)b * len, x + (size_t)b * w + start, sizeof(float) * (size_t)len);
            rc = vg_model_forward(m, win, 1, h, len, l);
            double lp[2];
            log_softmax2(l, lp);
            acc[0] += lp[0];
            acc[1] += lp[1];
            n++;
        }
        free(win);
        if (n == 0) rc = VG_ENOSPEECH;   /* sound scattered too thinly to fill a window */
        else {
            logits[0] = (float)(acc[0] / n);
            logits[1] = (float)(acc[1] / n);
        }
    }
    free(on);
    free(x);
    if (rc) return rc;
    double lp[2];
    log_softmax2(logits, lp);
    *p_male = (float)exp(lp[1]);
    return VG_OK;
}
