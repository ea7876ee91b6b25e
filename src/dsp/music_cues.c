#include "music_cues.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* With 128 HTK bands over 0-8 kHz: the shape is taken over bands 20.. (from
 * about 355 Hz; the lowest hold few FFT bins, four of them none), the
 * strongest band is looked for in bands 5-89 (about 90 Hz to 3.4 kHz, where
 * a voice's or an instrument's strongest partials lie). The lags are in
 * frames of 12.5 ms. */
enum { SHAPE_LOWEST_BAND = 20, PEAK_LOW = 5, PEAK_HIGH = 90, PEAK_LAG = 3, SHAPE_LAG = 2 };

/* The logistic model over standardised statistics: p = 1 / (1 + exp(-(sum
 * W[k] (f[k] - MEAN[k]) / SD[k] + BIAS))). Fitted by
 * scripts/fit_music_cues.py on 2 s windows of speech from the training and
 * validation speakers of models/default/splits.csv (clean, telephone, white
 * noise at 10 dB, and with music 5 and 10 dB under it) against music that
 * FluidSynth rendered from generated MIDI; see the README. */
static const double MEAN[MUSIC_FEATURES] = {0.0970191, 6.89913, 1.5819, 0.355613, 0.847107};
static const double SD[MUSIC_FEATURES] = {0.114654, 2.96835, 0.270355, 0.178589, 0.159382};
static const double W[MUSIC_FEATURES] = {1.34952, -2.01312, -2.86337, 1.21077, 1.04345};
static const double BIAS = -2.68084;

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

size_t music_work_size(int h, int frames)
{
    const size_t n = frames > 0 ? (size_t)frames : 1, nb = h > SHAPE_LOWEST_BAND ? (size_t)(h - SHAPE_LOWEST_BAND) : 1;
    return n * (3 * sizeof(double) + sizeof(int) + 1 + nb * sizeof(float)) + 64;
}

int music_cues_suit(const vg_mel_config *mel)
{
    return mel->sample_rate == 16000 && mel->n_fft == 400 && mel->hop_length == 200 && mel->n_mels == 128;
}

int music_window_features(const float *x, int h, int w, float mu, float sd, int t0, int t1, double *feat,
                          void *work)
{
    const int n = t1 - t0;
    if (n < 10 || h < PEAK_HIGH || h <= SHAPE_LOWEST_BAND) return 0;
    /* per frame: level (dB), loudness, peak band, and the shape (log2 power
     * less its mean over bands SHAPE_LOWEST_BAND..) */
    const int nb = h - SHAPE_LOWEST_BAND;
    double *lev = work, *tmp = lev + n, *tmp2 = tmp + n;
    float *shape = (float *)(tmp2 + n);
    int *peak = (int *)(shape + (size_t)n * nb);
    unsigned char *loud = (unsigned char *)(peak + n);
    double loudest = -1e300;
    for (int t = 0; t < n; t++) {
        double sum = 0, shape_mean = 0;
        float best = -1e30f;
        int arg = 0;
        for (int b = 0; b < h; b++) {
            const float v = x[(size_t)b * w + t0 + t] * sd + mu;
            sum += exp2((double)v);
            if (b >= PEAK_LOW && b < PEAK_HIGH && v > best) { best = v; arg = b; }
            if (b >= SHAPE_LOWEST_BAND) shape_mean += v;
        }
        shape_mean /= nb;
        for (int b = 0; b < nb; b++)
            shape[(size_t)t * nb + b] = (float)(x[(size_t)(b + SHAPE_LOWEST_BAND) * w + t0 + t] * sd + mu - shape_mean);
        lev[t] = 10.0 * log10(sum / h + 1e-30);
        peak[t] = arg;
        if (lev[t] > loudest) loudest = lev[t];
    }
    int nl = 0;
    for (int t = 0; t < n; t++) {
        loud[t] = lev[t] > loudest - 40.0 && lev[t] > VG_SOUND_FLOOR_DB;
        if (loud[t]) tmp[nl++] = lev[t];
    }
    if (nl < 10) return 0;
    /* level: the share 10 dB under the median, and the spread */
    double mean = 0, var = 0;
    for (int k = 0; k < nl; k++) mean += tmp[k];
    mean /= nl;
    for (int k = 0; k < nl; k++) var += (tmp[k] - mean) * (tmp[k] - mean);
    const double med = median(tmp, nl);
    int low = 0;
    for (int t = 0; t < n; t++) low += loud[t] && lev[t] < med - 10.0;
    feat[0] = (double)low / nl;
    feat[1] = sqrt(var / nl);
    /* the shape's change over SHAPE_LAG frames and its lag-1 correlation,
     * over pairs of loud frames; the peak band's persistence over PEAK_LAG */
    int nf = 0, nc = 0, np = 0, same = 0;
    for (int t = 1; t < n; t++) {
        const float *s1 = shape + (size_t)t * nb;
        if (t >= SHAPE_LAG && loud[t] && loud[t - SHAPE_LAG]) {
            const float *s0 = shape + (size_t)(t - SHAPE_LAG) * nb;
            double d = 0;
            for (int b = 0; b < nb; b++) d += fabs((double)s1[b] - s0[b]);
            tmp[nf++] = d / nb;
        }
        if (loud[t] && loud[t - 1]) {
            const float *s0 = shape + (size_t)(t - 1) * nb;
            double xy = 0, xx = 0, yy = 0;
            for (int b = 0; b < nb; b++) {
                xy += (double)s1[b] * s0[b];
                xx += (double)s1[b] * s1[b];
                yy += (double)s0[b] * s0[b];
            }
            tmp2[nc++] = xy / sqrt(xx * yy + 1e-9);
        }
        if (t >= PEAK_LAG && loud[t] && loud[t - PEAK_LAG]) {
            np++;
            same += peak[t] == peak[t - PEAK_LAG];
        }
    }
    feat[2] = nf ? median(tmp, nf) : 0;
    feat[3] = np ? (double)same / np : 0;
    feat[4] = nc ? median(tmp2, nc) : 0;
    return 1;
}

double music_window_score(const double *feat)
{
    double z = BIAS;
    for (int k = 0; k < MUSIC_FEATURES; k++) z += W[k] * (feat[k] - MEAN[k]) / SD[k];
    return 1.0 / (1.0 + exp(-z));
}

/* The windows of a recording of W frames: the start of window I */
static int window_start(int i, int w)
{
    const int start = i * MUSIC_HOP;
    return start + MUSIC_WINDOW > w ? w - MUSIC_WINDOW : start;
}

int music_frames(const float *x, int h, int w, float mu, float sd, const vg_mel_config *mel,
                 unsigned char *music)
{
    memset(music, 0, (size_t)w);
    if (w < MUSIC_WINDOW || !music_cues_suit(mel)) return VG_OK;
    const int len = MUSIC_WINDOW, n = 1 + (w - len + MUSIC_HOP - 1) / MUSIC_HOP;
    /* per window: -1 not scored, 0 speech-like, 1 music */
    signed char *verdict = malloc((size_t)n);
    unsigned char *scored = calloc((size_t)w, 1);
    void *work = malloc(music_work_size(h, len));
    if (!verdict || !scored || !work) {
        free(verdict); free(scored); free(work);
        return VG_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        const int start = window_start(i, w);
        double f[MUSIC_FEATURES];
        verdict[i] = music_window_features(x, h, w, mu, sd, start, start + len, f, work)
                         ? (signed char)(music_window_score(f) > 0.5) : -1;
    }
    /* a lone window between two music windows is music too: a song's
     * quieter bar, not two seconds of speech in it */
    for (int i = 1; i + 1 < n; i++)
        if (verdict[i] == 0 && verdict[i - 1] == 1 && verdict[i + 1] == 1) verdict[i] = 2;
    for (int i = 0; i < n; i++) {
        if (verdict[i] < 0) continue;
        const int start = window_start(i, w);
        for (int t = start; t < start + len; t++) {
            scored[t]++;
            music[t] += (unsigned char)(verdict[i] > 0);
        }
    }
    /* frames that every scored window covering them calls music */
    for (int t = 0; t < w; t++) music[t] = scored[t] && music[t] == scored[t];
    free(verdict);
    free(scored);
    free(work);
    return VG_OK;
}
