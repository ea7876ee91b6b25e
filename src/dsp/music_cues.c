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

/* The modulation ratio's four broad bands (bands 20-49, 50-79, 80-104,
 * 105..: about 355-1120 Hz, 1.1-2.5 kHz, 2.5-4.4 kHz, 4.4-8 kHz), and its
 * modulation frequencies as bins of a window's DFT: the frame rate is 80 Hz
 * and a window 160 frames, so bin k is k / 2 Hz. */
#define MOD_GROUPS 4
static const int GROUP_FIRST[MOD_GROUPS + 1] = {20, 50, 80, 105, 128};
enum { SYLLABLE_BIN_LOW = 4, SYLLABLE_BIN_HIGH = 16, FAST_BIN_HIGH = MUSIC_WINDOW / 2 };
#define MOD_FLOOR_DB 30.0   /* a band's level floored this far under its loudest in the window */

/* The logistic model over standardised statistics: p = 1 / (1 + exp(-(sum
 * W[k] (f[k] - MEAN[k]) / SD[k] + BIAS))). Fitted by
 * scripts/fit_music_cues.py on 2 s windows of speech from the training and
 * validation speakers of models/default/splits.csv (clean, telephone, white
 * noise at 10 dB, and with music 5 and 10 dB under it) against music that
 * FluidSynth rendered from generated MIDI; see the README. */
static const double MEAN[MUSIC_SCORED] = {0.0970191, 6.89913, 1.5819, 0.355613, 0.847107};
static const double SD[MUSIC_SCORED] = {0.114654, 2.96835, 0.270355, 0.178589, 0.159382};
static const double W[MUSIC_SCORED] = {1.34952, -2.01312, -2.86337, 1.21077, 1.04345};
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

int music_window_count(int w) { return w < MUSIC_WINDOW ? 0 : 1 + (w - MUSIC_WINDOW + MUSIC_HOP - 1) / MUSIC_HOP; }

int music_window_start(int i, int w)
{
    const int start = i * MUSIC_HOP;
    return start + MUSIC_WINDOW > w ? w - MUSIC_WINDOW : start;
}

int music_cues_suit(const vg_mel_config *mel)
{
    return mel->sample_rate == 16000 && mel->n_fft == 400 && mel->hop_length == 200 && mel->n_mels == 128;
}

/* What each frame T contributes, whatever window holds it: LEV its level
 * (dB), GROUP[g * w + t] the level (dB) of broad band g, PEAK its strongest band, FLUX the mean change of its shape (log2
 * power less its mean over bands SHAPE_LOWEST_BAND..) since frame
 * T - SHAPE_LAG, CORR the correlation of its shape with frame T - 1's (both
 * unset where those frames do not exist). SHAPES holds the last
 * SHAPE_LAG + 1 frames' shapes, NB floats each. */
static void frame_terms(const float *x, int h, int w, float mu, float sd, double *lev, double *group, int *peak,
                        double *flux, double *corr, float *shapes)
{
    const int nb = h - SHAPE_LOWEST_BAND;
    for (int t = 0; t < w; t++) {
        double sum = 0, shape_mean = 0, gsum[MOD_GROUPS] = {0};
        float best = -1e30f;
        int arg = 0;
        for (int b = 0; b < h; b++) {
            const float v = x[(size_t)b * w + t] * sd + mu;
            const double p = exp2((double)v);
            sum += p;
            for (int g = 0; g < MOD_GROUPS; g++)
                if (b >= GROUP_FIRST[g] && b < GROUP_FIRST[g + 1]) gsum[g] += p;
            if (b >= PEAK_LOW && b < PEAK_HIGH && v > best) { best = v; arg = b; }
            if (b >= SHAPE_LOWEST_BAND) shape_mean += v;
        }
        shape_mean /= nb;
        float *s1 = shapes + (size_t)(t % (SHAPE_LAG + 1)) * nb;
        for (int b = 0; b < nb; b++) s1[b] = (float)(x[(size_t)(b + SHAPE_LOWEST_BAND) * w + t] * sd + mu - shape_mean);
        lev[t] = 10.0 * log10(sum / h + 1e-30);
        for (int g = 0; g < MOD_GROUPS; g++)
            group[(size_t)g * w + t] = 10.0 * log10(gsum[g] / (GROUP_FIRST[g + 1] - GROUP_FIRST[g]) + 1e-30);
        peak[t] = arg;
        if (t >= SHAPE_LAG) {
            const float *s0 = shapes + (size_t)((t - SHAPE_LAG) % (SHAPE_LAG + 1)) * nb;
            double d = 0;
            for (int b = 0; b < nb; b++) d += fabs((double)s1[b] - s0[b]);
            flux[t] = d / nb;
        }
        if (t >= 1) {
            const float *s0 = shapes + (size_t)((t - 1) % (SHAPE_LAG + 1)) * nb;
            double xy = 0, xx = 0, yy = 0;
            for (int b = 0; b < nb; b++) {
                xy += (double)s1[b] * s0[b];
                xx += (double)s1[b] * s1[b];
                yy += (double)s0[b] * s0[b];
            }
            corr[t] = xy / sqrt(xx * yy + 1e-9);
        }
    }
}

/* The modulation ratio of the window of broad-band levels GROUP from frame
 * T0 (see music_windows), ENV being MOD_GROUPS * MUSIC_WINDOW scratch. A
 * plain DFT of the bins needed: four bands of 160 frames a second of audio
 * cost less than its mel spectrum. */
static double modulation_ratio(const double *group, int w, int t0, double *env)
{
    const int n = MUSIC_WINDOW;
    for (int g = 0; g < MOD_GROUPS; g++) {   /* floored so that silence's -300 dB does not swamp it */
        const double *lev = group + (size_t)g * w + t0;
        double mx = -1e300;
        for (int t = 0; t < n; t++) mx = lev[t] > mx ? lev[t] : mx;
        for (int t = 0; t < n; t++) env[g * n + t] = lev[t] > mx - MOD_FLOOR_DB ? lev[t] : mx - MOD_FLOOR_DB;
    }
    for (int t = 0; t < n; t++) {   /* the balance: each band less the bands' mean */
        double m = 0;
        for (int g = 0; g < MOD_GROUPS; g++) m += env[g * n + t];
        for (int g = 0; g < MOD_GROUPS; g++) env[g * n + t] -= m / MOD_GROUPS;
    }
    double cs[MUSIC_WINDOW], sn[MUSIC_WINDOW];   /* the DFT's twiddles: index (k t) mod n */
    for (int j = 0; j < n; j++) {
        cs[j] = cos(2.0 * M_PI * j / n);
        sn[j] = sin(2.0 * M_PI * j / n);
    }
    double best = 0;
    for (int g = 0; g < MOD_GROUPS; g++) {
        double *e = env + g * n, m = 0;
        for (int t = 0; t < n; t++) m += e[t];
        for (int t = 0; t < n; t++)   /* mean removed, symmetric Hann window */
            e[t] = (e[t] - m / n) * (0.5 - 0.5 * cos(2.0 * M_PI * t / (n - 1)));
        double syllable = 0, fast = 0;
        for (int k = SYLLABLE_BIN_LOW; k <= FAST_BIN_HIGH; k++) {
            double re = 0, im = 0;
            for (int t = 0, j = 0; t < n; t++, j = (j + k) % n) {
                re += e[t] * cs[j];
                im -= e[t] * sn[j];
            }
            if (k <= SYLLABLE_BIN_HIGH) syllable += re * re + im * im;
            else fast += re * re + im * im;
        }
        const double r = syllable / (fast + 1e-9);
        if (r > best) best = r;
    }
    return best;
}

/* One window's statistics from its frames' terms, LOUD and TMP/TMP2 being
 * MUSIC_WINDOW-sized scratch; 0 when fewer than 10 frames are loud. */
static int window_features(const double *lev, const double *group, int w, const int *peak, const double *flux,
                           const double *corr, int t0, double *feat, unsigned char *loud, double *tmp, double *tmp2)
{
    const int n = MUSIC_WINDOW;
    double loudest = -1e300;
    for (int t = 0; t < n; t++)
        if (lev[t0 + t] > loudest) loudest = lev[t0 + t];
    int nl = 0;
    for (int t = 0; t < n; t++) {
        loud[t] = lev[t0 + t] > loudest - 40.0 && lev[t0 + t] > VG_SOUND_FLOOR_DB;
        if (loud[t]) tmp[nl++] = lev[t0 + t];
    }
    if (nl < 10) return 0;
    /* level: the share 10 dB under the median, and the spread */
    double mean = 0, var = 0;
    for (int k = 0; k < nl; k++) mean += tmp[k];
    mean /= nl;
    for (int k = 0; k < nl; k++) var += (tmp[k] - mean) * (tmp[k] - mean);
    const double med = median(tmp, nl);
    int low = 0;
    for (int t = 0; t < n; t++) low += loud[t] && lev[t0 + t] < med - 10.0;
    feat[0] = (double)low / nl;
    feat[1] = sqrt(var / nl);
    /* the shape's change over SHAPE_LAG frames and its lag-1 correlation,
     * over pairs of loud frames in the window; the peak band's persistence
     * over PEAK_LAG */
    int nf = 0, nc = 0, np = 0, same = 0;
    for (int t = 1; t < n; t++) {
        if (t >= SHAPE_LAG && loud[t] && loud[t - SHAPE_LAG]) tmp[nf++] = flux[t0 + t];
        if (loud[t] && loud[t - 1]) tmp2[nc++] = corr[t0 + t];
        if (t >= PEAK_LAG && loud[t] && loud[t - PEAK_LAG]) {
            np++;
            same += peak[t0 + t] == peak[t0 + t - PEAK_LAG];
        }
    }
    feat[2] = nf ? median(tmp, nf) : 0;
    feat[3] = np ? (double)same / np : 0;
    feat[4] = nc ? median(tmp2, nc) : 0;
    feat[5] = modulation_ratio(group, w, t0, tmp);
    return 1;
}

int music_windows(const float *x, int h, int w, float mu, float sd, double *feat, unsigned char *scored)
{
    const int n = music_window_count(w);
    if (n == 0) return VG_OK;
    if (h < GROUP_FIRST[MOD_GROUPS]) {   /* too few bands for the statistics */
        memset(scored, 0, (size_t)n);
        return VG_OK;
    }
    double *lev = malloc(sizeof(double) * ((size_t)(3 + MOD_GROUPS) * w + (MOD_GROUPS + 1) * MUSIC_WINDOW));
    int *peak = malloc(sizeof(int) * (size_t)w);
    float *shapes = malloc(sizeof(float) * (SHAPE_LAG + 1) * (size_t)(h - SHAPE_LOWEST_BAND));
    unsigned char *loud = malloc(MUSIC_WINDOW);
    if (!lev || !peak || !shapes || !loud) {
        free(lev); free(peak); free(shapes); free(loud);
        return VG_ENOMEM;
    }
    /* tmp holds a window's levels, then its four broad bands' */
    double *group = lev + w, *flux = group + (size_t)MOD_GROUPS * w, *corr = flux + w, *tmp = corr + w,
           *tmp2 = tmp + MOD_GROUPS * MUSIC_WINDOW;
    frame_terms(x, h, w, mu, sd, lev, group, peak, flux, corr, shapes);
    for (int i = 0; i < n; i++)
        scored[i] = (unsigned char)window_features(lev, group, w, peak, flux, corr, music_window_start(i, w),
                                                   feat + (size_t)i * MUSIC_FEATURES, loud, tmp, tmp2);
    free(lev); free(peak); free(shapes); free(loud);
    return VG_OK;
}

double music_window_score(const double *feat)
{
    double z = BIAS;
    for (int k = 0; k < MUSIC_SCORED; k++) z += W[k] * (feat[k] - MEAN[k]) / SD[k];
    return 1.0 / (1.0 + exp(-z));
}

int music_or_noise_frames(const float *x, int h, int w, float mu, float sd, const vg_mel_config *mel,
                          unsigned char *music)
{
    memset(music, 0, (size_t)w);
    const int n = music_window_count(w);
    if (n == 0 || !music_cues_suit(mel)) return VG_OK;
    /* per window: 0 not scored, 1 speech-like, 2 music or noise */
    unsigned char *verdict = malloc((size_t)n), *scored = calloc((size_t)w, 1);
    double *feat = malloc(sizeof(double) * MUSIC_FEATURES * (size_t)n);
    if (!verdict || !scored || !feat || music_windows(x, h, w, mu, sd, feat, verdict)) {
        free(verdict); free(scored); free(feat);
        return VG_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        const double *f = feat + (size_t)i * MUSIC_FEATURES;
        if (verdict[i]) verdict[i] = music_window_score(f) > 0.5 || f[5] < NOISE_MODULATION_MAX ? 2 : 1;
    }
    /* a lone window between two music windows is music too: a song's
     * quieter bar, not two seconds of speech in it (the neighbours' own
     * verdicts, not ones this loop has just changed) */
    for (int i = 1, before = verdict[0]; i + 1 < n; i++) {
        const int own = verdict[i];
        if (own == 1 && before == 2 && verdict[i + 1] == 2) verdict[i] = 2;
        before = own;
    }
    /* frames that every scored window covering them calls music; a frame
     * is in at most three windows */
    for (int i = 0; i < n; i++) {
        if (!verdict[i]) continue;
        const int start = music_window_start(i, w);
        for (int t = start; t < start + MUSIC_WINDOW; t++) {
            scored[t]++;
            music[t] += (unsigned char)(verdict[i] == 2);
        }
    }
    for (int t = 0; t < w; t++) music[t] = scored[t] && music[t] == scored[t];
    free(verdict); free(scored); free(feat);
    return VG_OK;
}
