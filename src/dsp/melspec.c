/* Mel power spectrogram with the definition of torchaudio's MelSpectrogram():
 * centred frames (reflect padding), periodic Hann window, |rfft|^2, HTK mel
 * triangles without normalisation. FFTW plans are made once per handle.
 *
 * Framing, FFT and the mel sums run in double precision. A float32 FFT
 * (torchaudio's default, or FFTW's single-precision API) is off by up to
 * 0.003 in log2 on quiet high bands of loud frames of real speech — its
 * round-off is relative to the frame's loudest bin — which misses the 1e-3
 * tolerance against the float64 result. The double FFT costs ~1 ms per 6 s. */
#include "melspec.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* FFTW's planner is not thread-safe; plan creation/destruction is serialised. */
static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct mel_band {
    int first_bin;      /* first FFT bin with a non-zero weight */
    int n_bins;         /* number of consecutive non-zero weights */
    int weight_offset;  /* index into vg_melspec.weights */
} mel_band;

struct vg_melspec {
    vg_mel_config cfg;
    int n_freqs;            /* n_fft / 2 + 1 */
    double *window;         /* [n_fft], zero outside the centred win_length */
    double *frame;          /* [n_fft] FFT input (fftw_malloc) */
    fftw_complex *spectrum; /* [n_freqs] FFT output (fftw_malloc) */
    double *power;          /* [n_freqs] |X|^2 of one frame */
    fftw_plan plan;
    mel_band *bands;        /* [n_mels] */
    double *weights;        /* packed non-zero triangle weights */
};

void vg_mel_config_default(vg_mel_config *cfg)
{
    cfg->sample_rate = 16000;
    cfg->n_fft = 400;
    cfg->win_length = 400;
    cfg->hop_length = 200;
    cfg->n_mels = 128;
    cfg->f_min = 0.0f;
    cfg->f_max = 0.0f;
}

static double hz_to_mel_htk(double f) { return 2595.0 * log10(1.0 + f / 700.0); }
static double mel_to_hz_htk(double m) { return 700.0 * (pow(10.0, m / 2595.0) - 1.0); }

/* the mel range the bands span: f_min to f_max (0 = Nyquist) */
static void mel_range(const vg_mel_config *c, double *m_min, double *m_max)
{
    double f_max = c->f_max > 0 ? c->f_max : c->sample_rate / 2.0;
    *m_min = hz_to_mel_htk(c->f_min);
    *m_max = hz_to_mel_htk(f_max);
}

/* n_mels + 2 equally spaced mel points: band b rises from point b, peaks at
 * b + 1 and falls to b + 2 */
static double mel_point_hz(const vg_mel_config *c, int i)
{
    double m_min, m_max;
    mel_range(c, &m_min, &m_max);
    return mel_to_hz_htk(m_min + (m_max - m_min) * i / (c->n_mels + 1));
}

double mel_band_centre_hz(const vg_mel_config *c, int b) { return mel_point_hz(c, b + 1); }

/* Frequency of FFT bin K of NF: torchaudio's all_freqs =
 * linspace(0, sample_rate // 2, n_freqs). */
static double bin_hz(const vg_mel_config *c, int k, int nf) { return (double)(c->sample_rate / 2) * k / (nf - 1); }

/* Weight of frequency F in the triangle rising from LO to MID and falling to HI. */
static double triangle(double f, double lo, double mid, double hi)
{
    return fmax(0.0, fmin((f - lo) / (mid - lo), (hi - f) / (hi - mid)));
}

double mel_band_noise_power(const vg_mel_config *c, int b, double beta)
{
    const int nf = c->n_fft / 2 + 1;
    const double lo = mel_point_hz(c, b), mid = mel_point_hz(c, b + 1), hi = mel_point_hz(c, b + 2);
    double s = 0;
    /* only the bins inside the triangle; the DC bin has no power per Hz to scale */
    int k = (int)(lo / bin_hz(c, 1, nf));
    for (k = k > 1 ? k : 1; k < nf && bin_hz(c, k, nf) < hi; k++) {
        double w = triangle(bin_hz(c, k, nf), lo, mid, hi);
        if (w > 0) s += w * pow(bin_hz(c, k, nf), -beta);
    }
    return s;
}

double mel_band_position(const vg_mel_config *c, double hz)
{
    double m_min, m_max;
    mel_range(c, &m_min, &m_max);
    return (hz_to_mel_htk(hz) - m_min) / (m_max - m_min) * (c->n_mels + 1) - 1;
}

/* Triangular filterbank exactly as torchaudio.functional.melscale_fbanks
 * (htk, norm=None): weight(f, m) = max(0, min(down, up)) with
 * down = (f - f_pts[m]) / (f_pts[m+1] - f_pts[m]),
 * up   = (f_pts[m+2] - f) / (f_pts[m+2] - f_pts[m+1]). Kept sparse, since each
 * band covers only a few bins. Some low bands cover no bin at all (n_fft 400,
 * 128 bands): they stay all-zero, as in torchaudio. */
static int build_filterbank(vg_melspec *m)
{
    const vg_mel_config *c = &m->cfg;
    int nf = m->n_freqs, nm = c->n_mels;
    double *f_pts = malloc(sizeof(double) * (size_t)(nm + 2));
    double *dense = malloc(sizeof(double) * (size_t)nf);
    m->bands = calloc((size_t)nm, sizeof(mel_band));
    m->weights = malloc(sizeof(double) * (size_t)nm * (size_t)nf); /* upper bound */
    if (!f_pts || !dense || !m->bands || !m->weights) {
        free(f_pts);
        free(dense);
        return VG_ENOMEM;
    }
    for (int i = 0; i < nm + 2; i++) f_pts[i] = mel_point_hz(c, i);

    int used = 0;
    for (int b = 0; b < nm; b++) {
        double lo = f_pts[b], mid = f_pts[b + 1], hi = f_pts[b + 2];
        int first = -1, last = -1;
        for (int k = 0; k < nf; k++) {
            double w = triangle(bin_hz(c, k, nf), lo, mid, hi);
            dense[k] = w;
            if (w > 0) {
                if (first < 0) first = k;
                last = k;
            }
        }
        m->bands[b].weight_offset = used;
        if (first < 0) continue;
        m->bands[b].first_bin = first;
        m->bands[b].n_bins = last - first + 1;
        memcpy(m->weights + used, dense + first, sizeof(double) * (size_t)(last - first + 1));
        used += last - first + 1;
    }
    free(f_pts);
    free(dense);
    return VG_OK;
}

vg_melspec *vg_melspec_create(const vg_mel_config *cfg)
{
    if (!cfg || cfg->n_fft < 2 || cfg->win_length < 1 || cfg->win_length > cfg->n_fft ||
        cfg->hop_length < 1 || cfg->n_mels < 1 || cfg->sample_rate < 1000 ||
        cfg->f_min < 0 || (cfg->f_max > 0 && cfg->f_max <= cfg->f_min))
        return NULL;
    vg_melspec *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->cfg = *cfg;
    m->n_freqs = cfg->n_fft / 2 + 1;
    m->window = calloc((size_t)cfg->n_fft, sizeof(double));
    m->power = malloc(sizeof(double) * (size_t)m->n_freqs);
    m->frame = fftw_malloc(sizeof(double) * (size_t)cfg->n_fft);
    m->spectrum = fftw_malloc(sizeof(fftw_complex) * (size_t)m->n_freqs);
    if (!m->window || !m->power || !m->frame || !m->spectrum || build_filterbank(m)) {
        vg_melspec_destroy(m);
        return NULL;
    }
    /* torch.hann_window(win_length, periodic=True), centred in n_fft. */
    int left = (cfg->n_fft - cfg->win_length) / 2;
    for (int i = 0; i < cfg->win_length; i++)
        m->window[left + i] = 0.5 - 0.5 * cos(2.0 * M_PI * i / cfg->win_length);

    pthread_mutex_lock(&planner_lock);
    m->plan = fftw_plan_dft_r2c_1d(cfg->n_fft, m->frame, m->spectrum, FFTW_ESTIMATE);
    pthread_mutex_unlock(&planner_lock);
    if (!m->plan) {
        vg_melspec_destroy(m);
        return NULL;
    }
    return m;
}

void vg_melspec_destroy(vg_melspec *m)
{
    if (!m) return;
    pthread_mutex_lock(&planner_lock);
    if (m->plan) fftw_destroy_plan(m->plan);
    pthread_mutex_unlock(&planner_lock);
    fftw_free(m->frame);
    fftw_free(m->spectrum);
    free(m->window);
    free(m->power);
    free(m->bands);
    free(m->weights);
    free(m);
}

int vg_melspec_frames(const vg_melspec *m, size_t n_samples)
{
    if (!m) return VG_EARG;
    return 1 + (int)(n_samples / (size_t)m->cfg.hop_length);
}

/* Index into x[0..n) of position i of the reflect-padded signal. torch's
 * reflect pad requires pad < n; for shorter signals we keep bouncing, which
 * is the natural extension (and what a zero-padded window never needs). */
static inline long reflect_index(long i, long n)
{
    if (n == 1) return 0;
    long period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

/* m->frame (windowed) -> FFT -> power -> mel bands, out[b * stride] */
static void frame_to_mel(vg_melspec *m, float *out, size_t stride)
{
    fftw_execute(m->plan);
    for (int k = 0; k < m->n_freqs; k++) {
        double re = m->spectrum[k][0], im = m->spectrum[k][1];
        m->power[k] = re * re + im * im;
    }
    for (int b = 0; b < m->cfg.n_mels; b++) {
        const mel_band *band = &m->bands[b];
        const double *w = m->weights + band->weight_offset, *p = m->power + band->first_bin;
        double acc = 0.0;
        for (int j = 0; j < band->n_bins; j++) acc += w[j] * p[j];
        out[(size_t)b * stride] = (float)acc;
    }
}

int vg_melspec_power(vg_melspec *m, const float *x, size_t n, float *out)
{
    if (!m || !x || !out || n == 0) return VG_EARG;
    const int n_fft = m->cfg.n_fft, hop = m->cfg.hop_length, pad = n_fft / 2;
    const int frames = vg_melspec_frames(m, n);

    for (int t = 0; t < frames; t++) {
        long start = (long)t * hop - pad;   /* in unpadded coordinates */
        if (start >= 0 && start + n_fft <= (long)n) {
            for (int i = 0; i < n_fft; i++) m->frame[i] = x[start + i] * m->window[i];
        } else {
            for (int i = 0; i < n_fft; i++)
                m->frame[i] = x[reflect_index(start + i, (long)n)] * m->window[i];
        }
        frame_to_mel(m, out + t, (size_t)frames);
    }
    return VG_OK;
}

int vg_melspec_frame(vg_melspec *m, const float *win, float *out)
{
    if (!m || !win || !out) return VG_EARG;
    for (int i = 0; i < m->cfg.n_fft; i++) m->frame[i] = win[i] * m->window[i];
    frame_to_mel(m, out, 1);
    return VG_OK;
}

int vg_melspec_log2(vg_melspec *m, const float *x, size_t n, float *out)
{
    int rc = vg_melspec_power(m, x, n, out);
    if (rc) return rc;
    vg_power_to_log2(out, (size_t)m->cfg.n_mels * (size_t)vg_melspec_frames(m, n));
    return VG_OK;
}

void vg_power_to_log2(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = log2f(x[i] > VG_POWER_FLOOR ? x[i] : VG_POWER_FLOOR);
}
