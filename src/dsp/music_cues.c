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
#define MOD_GROUPS MUSIC_BANDS
static const int GROUP_FIRST[MOD_GROUPS + 1] = {20, 50, 80, 105, 128};
enum { SYLLABLE_BIN_LOW = 4, SYLLABLE_BIN_HIGH = 16 };   /* 2-8 Hz; faster is 8-40 Hz */
#define MOD_FLOOR_DB 30.0   /* a band's level floored this far under its loudest in the window */

/* A high-only frame: its lowest band within HIGH_ONLY_DROP (20 dB, in log2
 * power) of its strongest is band HIGH_ONLY_BAND (centre 512 Hz) or above. */
#define HIGH_ONLY_DROP 6.643856
enum { HIGH_ONLY_BAND = 27 };
/* over the background (HIGH_ONLY_ABOVE_BG_MIN): its percentile, and an
 * active frame's rise and a band's least rise, in log2 power (15 and 6 dB) */
#define BG_PERCENTILE 0.2
#define ACTIVE_RISE 4.982892
#define BAND_RISE 1.993157

/* Whether frame X[h] is high-only over background BG[h] (NULL: none): every
 * band that rises within HIGH_ONLY_DROP of its highest rise, and more than
 * MIN_RISE above the background, is band HIGH_ONLY_BAND or above. *TOP gets
 * the highest rise. */
static int high_only_frame(const float *x, const double *bg, int h, double min_rise, double *top)
{
    double hi = -1e300;
    for (int b = 0; b < h; b++) {
        const double r = x[b] - (bg ? bg[b] : 0.0);
        hi = r > hi ? r : hi;
    }
    int lowest = 0;   /* stops at the highest rise at the latest (the last band if all are -inf) */
    while (lowest < h - 1) {
        const double r = x[lowest] - (bg ? bg[lowest] : 0.0);
        if (r > hi - HIGH_ONLY_DROP && r > min_rise) break;
        lowest++;
    }
    *top = hi;
    return lowest >= HIGH_ONLY_BAND;
}

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

/* The median of V[n] (reordered): Hoare's selection, not a sort, since
 * the segmenter takes three per second of audio. After select_kth, V[k] is
 * the k-th smallest and nothing before it is larger. */
static void select_kth(double *v, int n, int k)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        const double pivot = v[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot) i++;
            while (v[j] > pivot) j--;
            if (i <= j) {
                const double t = v[i];
                v[i++] = v[j];
                v[j--] = t;
            }
        }
        if (k <= j) hi = j;          /* [lo, j] <= pivot <= [i, hi] */
        else if (k >= i) lo = i;
        else return;                 /* between them: equal to the pivot */
    }
}

static double median(double *v, int n)
{
    const int k = n / 2;
    select_kth(v, n, k);
    if (n % 2) return v[k];
    double below = v[0];   /* the largest of the lower half */
    for (int i = 1; i < k; i++) below = v[i] > below ? v[i] : below;
    return 0.5 * (below + v[k]);
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

/* Take frame MS->n, LOG2P[h] (POWER[h] its powers, or NULL): what it
 * contributes to every window that holds it, written at its place in the
 * doubled rings (music_cues.h): its level (dB), the level (dB) of each broad band, its strongest band, the
 * mean change of its shape (log2 power less its mean over bands
 * SHAPE_LOWEST_BAND..) since frame n - SHAPE_LAG, and the correlation of
 * its shape with frame n - 1's (0 where those frames do not exist). */
static void take_frame(music_stream *ms, const float *log2p, const float *power)
{
    const long long t = ms->n;
    const int h = ms->h, nb = h - SHAPE_LOWEST_BAND;
    double sum = 0, shape_mean = 0, gsum[MOD_GROUPS] = {0};
    float best = -1e30f;
    int arg = 0, g = 0;   /* the broad band that band b is in */
    for (int b = 0; b < h; b++) {
        const float v = log2p[b];
        const double p = power ? (double)power[b] : exp2((double)v);
        sum += p;
        if (b >= GROUP_FIRST[0] && b < GROUP_FIRST[MOD_GROUPS]) gsum[g] += p;
        if (b + 1 == GROUP_FIRST[g + 1] && g + 1 < MOD_GROUPS) g++;
        if (b >= PEAK_LOW && b < PEAK_HIGH && v > best) { best = v; arg = b; }
        if (b >= SHAPE_LOWEST_BAND) shape_mean += v;
    }
    double top;
    const int high = high_only_frame(log2p, NULL, h, -1e300, &top);
    shape_mean /= nb;
    float *s1 = ms->shapes + (size_t)(t % (SHAPE_LAG + 1)) * nb;
    for (int b = 0; b < nb; b++) s1[b] = (float)(log2p[b + SHAPE_LOWEST_BAND] - shape_mean);
    double flux = 0, corr = 0;
    if (t >= SHAPE_LAG) {
        const float *s0 = ms->shapes + (size_t)((t - SHAPE_LAG) % (SHAPE_LAG + 1)) * nb;
        double d = 0;
        for (int b = 0; b < nb; b++) d += fabs((double)s1[b] - s0[b]);
        flux = d / nb;
    }
    if (t >= 1) {
        const float *s0 = ms->shapes + (size_t)((t - 1) % (SHAPE_LAG + 1)) * nb;
        double xy = 0, xx = 0, yy = 0;
        for (int b = 0; b < nb; b++) {
            xy += (double)s1[b] * s0[b];
            xx += (double)s1[b] * s1[b];
            yy += (double)s0[b] * s0[b];
        }
        corr = xy / sqrt(xx * yy + 1e-9);
    }
    const double lev = 10.0 * log10(sum / h + 1e-30);
    for (int q = 0; q < MOD_GROUPS; q++)   /* the bands' mean power, in dB */
        gsum[q] = 10.0 * log10(gsum[q] / (GROUP_FIRST[q + 1] - GROUP_FIRST[q]) + 1e-30);
    for (int k = (int)(t % MUSIC_WINDOW); k < 2 * MUSIC_WINDOW; k += MUSIC_WINDOW) {
        ms->lev[k] = lev;
        for (int q = 0; q < MOD_GROUPS; q++) ms->group[q][k] = gsum[q];
        ms->peak[k] = arg;
        ms->high[k] = (unsigned char)high;
        memcpy(ms->spec + (size_t)k * h, log2p, sizeof(float) * (size_t)h);
        ms->flux[k] = flux;
        ms->corr[k] = corr;
    }
}

/* The modulation ratio of a window whose broad-band levels are
 * BAND[g][t], ENV being MOD_GROUPS * MUSIC_WINDOW scratch. A plain DFT of
 * the 17 bins up to 8 Hz and Parseval for the rest: a window a second, it
 * costs less than a second of mel spectrum. */
static double modulation_ratio(const double *const *band, double *env)
{
    const int n = MUSIC_WINDOW;
    for (int g = 0; g < MOD_GROUPS; g++) {   /* floored so that silence's -300 dB does not swamp it */
        const double *lev = band[g];
        double mx = -1e300;
        for (int t = 0; t < n; t++) mx = lev[t] > mx ? lev[t] : mx;
        for (int t = 0; t < n; t++) env[g * n + t] = lev[t] > mx - MOD_FLOOR_DB ? lev[t] : mx - MOD_FLOOR_DB;
    }
    for (int t = 0; t < n; t++) {   /* the balance: each band less the bands' mean */
        double m = 0;
        for (int g = 0; g < MOD_GROUPS; g++) m += env[g * n + t];
        for (int g = 0; g < MOD_GROUPS; g++) env[g * n + t] -= m / MOD_GROUPS;
    }
    /* the DFT's twiddles (index k t mod n) and a symmetric Hann window */
    double cs[MUSIC_WINDOW], sn[MUSIC_WINDOW], hann[MUSIC_WINDOW];
    for (int j = 0; j < n; j++) {
        cs[j] = cos(2.0 * M_PI * j / n);
        sn[j] = sin(2.0 * M_PI * j / n);
        hann[j] = 0.5 - 0.5 * cos(2.0 * M_PI * j / (n - 1));
    }
    double best = 0;
    for (int g = 0; g < MOD_GROUPS; g++) {
        double *e = env + g * n, m = 0, energy = 0, nyquist = 0;
        for (int t = 0; t < n; t++) m += e[t];
        for (int t = 0; t < n; t++) {   /* mean removed, windowed */
            e[t] = (e[t] - m / n) * hann[t];
            energy += e[t] * e[t];
            nyquist += t % 2 ? -e[t] : e[t];
        }
        /* bins 0..SYLLABLE_BIN_HIGH directly; the fast ones (up to n/2)
         * from Parseval: n * energy = |E0|^2 + 2 sum_{k=1}^{n/2-1} |Ek|^2
         * + |E(n/2)|^2 */
        double low = 0, syllable = 0, dc = 0;
        for (int k = 0; k <= SYLLABLE_BIN_HIGH; k++) {
            double re = 0, im = 0;
            for (int t = 0, j = 0; t < n; t++) {
                re += e[t] * cs[j];
                im -= e[t] * sn[j];
                if ((j += k) >= n) j -= n;
            }
            const double pw = re * re + im * im;
            if (k == 0) dc = pw;
            else low += pw;
            if (k >= SYLLABLE_BIN_LOW) syllable += pw;
        }
        double fast = 0.5 * (n * energy - dc - nyquist * nyquist) - low + nyquist * nyquist;
        if (fast < 0) fast = 0;   /* round-off, when the balance does not move at all */
        const double r = syllable / (fast + 1e-9);
        if (r > best) best = r;
    }
    return best;
}

/* The share of a window's active frames that are high-only over its
 * background (music_cues.h), SPEC[MUSIC_WINDOW][h] its frames' log2 band
 * powers, TMP (MUSIC_WINDOW) and BG (h) scratch; 0 when fewer than 10 frames
 * are active. */
static double high_only_above_background(const float *spec, int h, double *tmp, double *bg)
{
    const int n = MUSIC_WINDOW, k = (int)(BG_PERCENTILE * (n - 1));
    for (int b = 0; b < h; b++) {
        for (int t = 0; t < n; t++) tmp[t] = spec[(size_t)t * h + b];
        select_kth(tmp, n, k);
        bg[b] = tmp[k];
    }
    int active = 0, high = 0;
    for (int t = 0; t < n; t++) {
        double top;
        const int h_only = high_only_frame(spec + (size_t)t * h, bg, h, BAND_RISE, &top);
        if (!(top > ACTIVE_RISE)) continue;
        active++;
        high += h_only;
    }
    return active >= 10 ? (double)high / active : 0.0;
}

/* One window's statistics from its frames' terms (each array from the
 * window's first frame; BAND one per broad band), LOUD, TMP (MOD_GROUPS
 * windows) and TMP2 being scratch; 0 when fewer than 10 frames are loud. */
static int window_features(const double *lev, const double *const *band, const int *peak,
                           const unsigned char *high, const float *spec, int h, double *bg, const double *flux,
                           const double *corr, double *feat, unsigned char *loud, double *tmp, double *tmp2)
{
    const int n = MUSIC_WINDOW;
    double loudest = -1e300;
    for (int t = 0; t < n; t++)
        if (lev[t] > loudest) loudest = lev[t];
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
    int low = 0, high_only = 0;
    for (int t = 0; t < n; t++) {
        low += loud[t] && lev[t] < med - 10.0;
        high_only += loud[t] && high[t];
    }
    feat[0] = (double)low / nl;
    feat[6] = (double)high_only / nl;
    feat[1] = sqrt(var / nl);
    /* the shape's change over SHAPE_LAG frames and its lag-1 correlation,
     * over pairs of loud frames in the window; the peak band's persistence
     * over PEAK_LAG */
    int nf = 0, nc = 0, np = 0, same = 0;
    for (int t = 1; t < n; t++) {
        if (t >= SHAPE_LAG && loud[t] && loud[t - SHAPE_LAG]) tmp[nf++] = flux[t];
        if (loud[t] && loud[t - 1]) tmp2[nc++] = corr[t];
        if (t >= PEAK_LAG && loud[t] && loud[t - PEAK_LAG]) {
            np++;
            same += peak[t] == peak[t - PEAK_LAG];
        }
    }
    feat[2] = nf ? median(tmp, nf) : 0;
    feat[3] = np ? (double)same / np : 0;
    feat[4] = nc ? median(tmp2, nc) : 0;
    feat[5] = modulation_ratio(band, tmp);
    feat[7] = high_only_above_background(spec, h, tmp, bg);
    return 1;
}

double music_window_score(const double *feat)
{
    double z = BIAS;
    for (int k = 0; k < MUSIC_SCORED; k++) z += W[k] * (feat[k] - MEAN[k]) / SD[k];
    return 1.0 / (1.0 + exp(-z));
}

int music_window_not_speech(const double *feat)
{
    return music_window_score(feat) > 0.5 || feat[5] < NOISE_MODULATION_MAX || feat[1] < STEADY_LEVEL_SD_MAX ||
           feat[6] > HIGH_ONLY_SHARE_MIN || feat[7] > HIGH_ONLY_ABOVE_BG_MIN;
}

int music_stream_init(music_stream *ms, int h, int judge)
{
    memset(ms, 0, sizeof *ms);
    ms->h = h;
    ms->judge = judge;
    if (h < GROUP_FIRST[MOD_GROUPS]) return VG_OK;   /* too few bands for the statistics: nothing scored */
    ms->shapes = malloc(sizeof(float) * (SHAPE_LAG + 1) * (size_t)(h - SHAPE_LOWEST_BAND));
    ms->spec = malloc(sizeof(float) * 2 * MUSIC_WINDOW * (size_t)h);
    ms->bg = malloc(sizeof(double) * (size_t)h);
    if (ms->shapes && ms->spec && ms->bg) return VG_OK;
    music_stream_free(ms);
    return VG_ENOMEM;
}

void music_stream_free(music_stream *ms)
{
    free(ms->shapes);
    free(ms->spec);
    free(ms->bg);
    ms->shapes = NULL;
    ms->spec = NULL;
    ms->bg = NULL;
}

/* Window CUR's verdict is final (a lone speech-like window between two
 * music windows is music: a song's quieter bar, not two seconds of speech
 * in it; NEXT_OWN is the next window's own verdict, 0 when there is none):
 * its frames count it, and the frames before NEXT_START are final. */
static void settle(music_stream *ms, int next_own, long long next_start)
{
    int v = ms->cur_own;
    if (v == 1 && ms->before == 2 && next_own == 2) v = 2;
    if (v)
        for (long long t = ms->cur_start; t < ms->cur_start + MUSIC_WINDOW; t++) {
            ms->cover[t % MUSIC_RING]++;
            ms->music[t % MUSIC_RING] += (unsigned char)(v == 2);
        }
    ms->before = ms->cur_own;
    ms->final = next_start;
}

/* The window of the last MUSIC_WINDOW frames pushed: its statistics into
 * FEAT, its own verdict (0 not scored, 1 speech-like, 2 music or noise)
 * queued; the window before it settles. */
static int close_window(music_stream *ms, double *feat)
{
    const long long start = ms->n - MUSIC_WINDOW;
    const int k = (int)(ms->n % MUSIC_WINDOW);   /* the window's first frame in the doubled rings */
    double f[MUSIC_FEATURES];
    const double *band[MOD_GROUPS];
    for (int g = 0; g < MOD_GROUPS; g++) band[g] = ms->group[g] + k;
    int own = ms->shapes && window_features(ms->lev + k, band, ms->peak + k, ms->high + k,
                                            ms->spec + (size_t)k * ms->h, ms->h, ms->bg, ms->flux + k, ms->corr + k, f,
                                            ms->loud, ms->tmp, ms->tmp2);
    if (own) {
        if (feat) memcpy(feat, f, sizeof f);
        own = ms->judge && music_window_not_speech(f) ? 2 : 1;
    }
    if (start > 0) settle(ms, own, start);   /* the window before this one */
    ms->cur_own = own;
    ms->cur_start = start;
    return own ? 2 : 1;
}

int music_stream_push(music_stream *ms, const float *log2p, const float *power, double *feat)
{
    ms->cover[ms->n % MUSIC_RING] = ms->music[ms->n % MUSIC_RING] = 0;
    if (ms->shapes) take_frame(ms, log2p, power);
    ms->n++;
    if (ms->n < MUSIC_WINDOW || (ms->n - MUSIC_WINDOW) % MUSIC_HOP) return 0;
    return close_window(ms, feat);
}

int music_stream_finish(music_stream *ms, double *feat)
{
    int r = 0;
    if (ms->n >= MUSIC_WINDOW && (ms->n - MUSIC_WINDOW) % MUSIC_HOP)   /* the last window ends at the last frame */
        r = close_window(ms, feat);
    if (ms->n >= MUSIC_WINDOW) settle(ms, 0, ms->n);   /* the last window */
    ms->final = ms->n;
    return r;
}

int music_stream_music(const music_stream *ms, long long t)
{
    const int k = (int)(t % MUSIC_RING);
    return ms->cover[k] && ms->music[k] == ms->cover[k];
}

int music_windows(const float *x, int h, int w, float mu, float sd, double *feat, unsigned char *scored)
{
    music_stream ms;
    float *log2p = malloc(sizeof(float) * (size_t)h);
    if (!log2p || music_stream_init(&ms, h, 0)) {
        free(log2p);
        return VG_ENOMEM;
    }
    int i = 0;
    for (int t = 0; t < w; t++) {
        for (int b = 0; b < h; b++) log2p[b] = x[(size_t)b * w + t] * sd + mu;
        const int r = music_stream_push(&ms, log2p, NULL, feat + (size_t)i * MUSIC_FEATURES);
        if (r) scored[i++] = r == 2;
    }
    const int r = music_stream_finish(&ms, feat + (size_t)i * MUSIC_FEATURES);
    if (r) scored[i] = r == 2;
    music_stream_free(&ms);
    free(log2p);
    return VG_OK;
}

int music_or_noise_frames(const float *x, int h, int w, float mu, float sd, const vg_mel_config *mel,
                          unsigned char *music)
{
    music_stream ms;
    float *log2p = malloc(sizeof(float) * (size_t)h);
    if (!log2p || music_stream_init(&ms, h, music_cues_suit(mel))) {
        free(log2p);
        return VG_ENOMEM;
    }
    long long done = 0;
    for (int t = 0; t < w; t++) {
        for (int b = 0; b < h; b++) log2p[b] = x[(size_t)b * w + t] * sd + mu;
        music_stream_push(&ms, log2p, NULL, NULL);
        for (; done < ms.final; done++) music[done] = (unsigned char)music_stream_music(&ms, done);
    }
    music_stream_finish(&ms, NULL);
    for (; done < ms.final; done++) music[done] = (unsigned char)music_stream_music(&ms, done);
    music_stream_free(&ms);
    free(log2p);
    return VG_OK;
}
