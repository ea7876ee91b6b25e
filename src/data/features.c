/* Front ends: recording or image -> model input, as the model's metadata
 * says. The same code makes training and inference features. */
#include "voxgender.h"
#include "features.h"
#include "../audio/pitch.h"
#include "../util/errmsg.h"
#include "../util/rng.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_FRAMES 15   /* the cnn needs 15 frames; shorter clips are padded */

static const char *NAMES[] = {"logmel", "seed_image", "raw", "mel_flat"};

const char *vg_frontend_name(vg_frontend_kind k)
{
    return (unsigned)k < 4 ? NAMES[k] : "unknown";
}

void vg_frontend_default(vg_frontend *fe, vg_frontend_kind kind)
{
    memset(fe, 0, sizeof *fe);
    fe->kind = kind;
    vg_mel_config_default(&fe->mel);
    fe->seconds = kind == VG_FE_SEED_IMAGE || kind == VG_FE_RAW ? VG_SEED_SAMPLES / 16000.0 : 6.0;
    fe->input_mean = 0.0f;
    fe->input_std = 1.0f;
    fe->image_size = 32;
    for (int c = 0; c < 3; c++) fe->image_mean[c] = fe->image_std[c] = 0.5f;
}

int vg_frontend_to_model(vg_model *m, const vg_frontend *fe)
{
    char v[64];
    int rc = vg_model_set_meta(m, "frontend", vg_frontend_name(fe->kind));
#define PUT(key, fmt, val) do { snprintf(v, sizeof v, fmt, val); rc |= vg_model_set_meta(m, key, v); } while (0)
    PUT("sample_rate", "%d", fe->mel.sample_rate);
    PUT("seconds", "%.6g", fe->seconds);
    PUT("n_fft", "%d", fe->mel.n_fft);
    PUT("win_length", "%d", fe->mel.win_length);
    PUT("hop_length", "%d", fe->mel.hop_length);
    PUT("n_mels", "%d", fe->mel.n_mels);
    PUT("f_min", "%.6g", fe->mel.f_min);
    PUT("f_max", "%.6g", fe->mel.f_max > 0 ? fe->mel.f_max : fe->mel.sample_rate / 2.0f);
    PUT("input_mean", "%.9g", fe->input_mean);
    PUT("input_std", "%.9g", fe->input_std);
    if (fe->kind == VG_FE_SEED_IMAGE) {
        PUT("image_size", "%d", fe->image_size);
        snprintf(v, sizeof v, "%.9g,%.9g,%.9g", fe->image_mean[0], fe->image_mean[1], fe->image_mean[2]);
        rc |= vg_model_set_meta(m, "image_mean", v);
        snprintf(v, sizeof v, "%.9g,%.9g,%.9g", fe->image_std[0], fe->image_std[1], fe->image_std[2]);
        rc |= vg_model_set_meta(m, "image_std", v);
    }
#undef PUT
    rc |= vg_model_set_meta(m, "log_base", "2");
    rc |= vg_model_set_meta(m, "power_floor", "1e-10");
    rc |= vg_model_set_meta(m, "seed_compat", fe->kind == VG_FE_SEED_IMAGE ? "1" : "0");
    rc |= vg_model_set_meta(m, "input_norm",
                            fe->kind == VG_FE_SEED_IMAGE ? "x/255, (x - image_mean) / image_std per channel"
                            : fe->kind == VG_FE_RAW      ? "none"
                                                         : "(log2mel - input_mean) / input_std");
    rc |= vg_model_set_meta(m, "labels", "female,male");
    rc |= vg_model_set_meta(m, "label_codes", "0,1");
    return rc ? VG_ENOMEM : VG_OK;
}

int vg_frontend_for_input(const vg_model *m, vg_frontend *fe)
{
    int c, h, w;
    vg_model_input_shape(m, &c, &h, &w);
    if (c == 3 && h == w && h > 0) {
        vg_frontend_default(fe, VG_FE_SEED_IMAGE);
        fe->image_size = h;
    }
    else if (c == 1 && h == 128) vg_frontend_default(fe, VG_FE_LOGMEL);
    else return VG_EUNSUPPORTED;
    return VG_OK;
}

/* Metadata values are strings; a value that is present must parse whole
 * and lie in range, or the file is refused with the reason: a setting
 * silently replaced by its default would make a model read other features
 * than it was trained on, and an unchecked one could make the front end
 * allocate without bound (a fuzzed n_mels of 65536 took minutes). */
static int meta_double(const vg_model *m, const char *key, double lo, double hi, double *out,
                       char *err, size_t errlen)
{
    const char *s = vg_model_meta(m, key);
    if (!s) return VG_OK;   /* absent: the kind's default stands */
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v))
        return vg_errf(VG_EMODEL, err, errlen, "front-end setting %s '%s' is not a number", key, s);
    if (v < lo || v > hi)
        return vg_errf(VG_EMODEL, err, errlen, "front-end setting %s %s is out of range (%g to %g)", key, s,
                       lo, hi);
    *out = v;
    return VG_OK;
}

static int meta_int(const vg_model *m, const char *key, int lo, int hi, int *out, char *err,
                    size_t errlen)
{
    double v = *out;
    int rc = meta_double(m, key, lo, hi, &v, err, errlen);
    if (rc) return rc;
    if (v != floor(v))
        return vg_errf(VG_EMODEL, err, errlen, "front-end setting %s '%s' is not a whole number", key,
                       vg_model_meta(m, key));
    *out = (int)v;
    return VG_OK;
}

static int meta_float(const vg_model *m, const char *key, double lo, double hi, float *out,
                      char *err, size_t errlen)
{
    double v = *out;
    int rc = meta_double(m, key, lo, hi, &v, err, errlen);
    if (!rc) *out = (float)v;
    return rc;
}

/* "a,b,c": three numbers, each in [lo, hi] */
static int meta_triple(const vg_model *m, const char *key, double lo, double hi, float out[3],
                       char *err, size_t errlen)
{
    const char *s = vg_model_meta(m, key);
    if (!s) return VG_OK;
    const char *p = s;
    for (int c = 0; c < 3; c++) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || v < lo || v > hi || *end != (c < 2 ? ',' : '\0'))
            return vg_errf(VG_EMODEL, err, errlen, "front-end setting %s '%s' is not three numbers in %g to %g",
                           key, s, lo, hi);
        out[c] = (float)v;
        p = end + 1;
    }
    return VG_OK;
}

/* A setting this voxgender fixes (log base, power floor, labels): a file
 * that states it must state the value the code uses. */
static int meta_fixed(const vg_model *m, const char *key, const char *want, char *err, size_t errlen)
{
    const char *s = vg_model_meta(m, key);
    if (s && strcmp(s, want))
        return vg_errf(VG_EMODEL, err, errlen, "%s '%s' is not supported (this voxgender uses '%s')", key, s,
                       want);
    return VG_OK;
}

int frontend_from_model(const vg_model *m, vg_frontend *fe, char *err, size_t errlen)
{
    const char *name = vg_model_meta(m, "frontend");
    int kind = -1;
    for (int i = 0; name && i < 4; i++)
        if (!strcmp(name, NAMES[i])) kind = i;
    if (!name) return vg_errf(VG_EMODEL, err, errlen, "the model does not say which front end it needs");
    if (kind < 0) return vg_errf(VG_EMODEL, err, errlen, "unknown front end '%s'", name);
    vg_frontend_default(fe, (vg_frontend_kind)kind);
    vg_mel_config *mc = &fe->mel;
    int rc;
    /* ranges: what the decoder reads (1-768 kHz), `spectrogram --seconds`,
     * generous bounds on the FFT, and a hop of at least 1 ms (at most 1000
     * frames a second: a hop of 1 sample made 600 s of audio 5 GB of
     * features); n_mels is tied to the network's input below */
    if ((rc = meta_int(m, "sample_rate", 1000, 768000, &mc->sample_rate, err, errlen)) ||
        (rc = meta_double(m, "seconds", 0.01, 3600, &fe->seconds, err, errlen)) ||
        (rc = meta_int(m, "n_fft", 16, 65536, &mc->n_fft, err, errlen)) ||
        (rc = meta_int(m, "win_length", 1, mc->n_fft, &mc->win_length, err, errlen)) ||
        (rc = meta_int(m, "hop_length", (mc->sample_rate + 999) / 1000, 65536, &mc->hop_length, err, errlen)) ||
        (rc = meta_int(m, "n_mels", 1, 4096, &mc->n_mels, err, errlen)) ||
        (rc = meta_float(m, "f_min", 0, mc->sample_rate / 2.0, &mc->f_min, err, errlen)) ||
        (rc = meta_float(m, "f_max", 0, mc->sample_rate / 2.0, &mc->f_max, err, errlen)) ||
        (rc = meta_float(m, "input_mean", -1e6, 1e6, &fe->input_mean, err, errlen)) ||
        (rc = meta_float(m, "input_std", 1e-6, 1e6, &fe->input_std, err, errlen)) ||
        (rc = meta_int(m, "image_size", 1, 4096, &fe->image_size, err, errlen)) ||
        (rc = meta_triple(m, "image_mean", -1e6, 1e6, fe->image_mean, err, errlen)) ||
        (rc = meta_triple(m, "image_std", 1e-6, 1e6, fe->image_std, err, errlen)) ||
        (rc = meta_fixed(m, "log_base", "2", err, errlen)) ||
        (rc = meta_fixed(m, "seed_compat", kind == VG_FE_SEED_IMAGE ? "1" : "0", err, errlen)) ||
        (rc = meta_fixed(m, "labels", "female,male", err, errlen)) ||
        (rc = meta_fixed(m, "label_codes", "0,1", err, errlen)))
        return rc;
    if (mc->win_length > mc->n_fft)
        return vg_errf(VG_EMODEL, err, errlen, "front-end setting win_length %d is longer than n_fft %d",
                       mc->win_length, mc->n_fft);
    const double f_top = mc->f_max > 0 ? mc->f_max : mc->sample_rate / 2.0;
    if (f_top <= mc->f_min || f_top > mc->sample_rate / 2.0)
        return vg_errf(VG_EMODEL, err, errlen, "front-end band %g to %g Hz does not fit a %d Hz sample rate",
                       mc->f_min, f_top, mc->sample_rate);
    double floor_v = VG_POWER_FLOOR;
    if ((rc = meta_double(m, "power_floor", 0, 1, &floor_v, err, errlen))) return rc;
    if (fabs(floor_v - VG_POWER_FLOOR) > 1e-6 * VG_POWER_FLOOR)
        return vg_errf(VG_EMODEL, err, errlen, "power_floor %s is not supported (this voxgender uses 1e-10)",
                       vg_model_meta(m, "power_floor"));
    /* the front end must make what the network reads */
    int c, h, w;
    vg_model_input_shape(m, &c, &h, &w);
    if (kind == VG_FE_LOGMEL && (c != 1 || (h > 0 && h != mc->n_mels)))
        return vg_errf(VG_EMODEL, err, errlen, "front end makes %d mel bands, the network reads %d x %d", mc->n_mels,
                       c, h);
    if (kind == VG_FE_SEED_IMAGE && (c != 3 || (h > 0 && h != fe->image_size) || (w > 0 && w != fe->image_size)))
        return vg_errf(VG_EMODEL, err, errlen, "front end makes 3 x %d x %d images, the network reads %d x %d x %d",
                       fe->image_size, fe->image_size, c, h, w);
    /* the SVM's flat inputs: the window's samples, or its log-mel frames */
    const long samples = lround(fe->seconds * mc->sample_rate);
    const long flat = kind == VG_FE_RAW ? samples : (long)mc->n_mels * (1 + samples / mc->hop_length);
    if ((kind == VG_FE_RAW || kind == VG_FE_MEL_FLAT) && (c != 1 || h != 1 || (w > 0 && w != flat)))
        return vg_errf(VG_EMODEL, err, errlen, "front end makes %ld values, the network reads %d x %d x %d", flat, c,
                       h, w);
    return VG_OK;
}

int vg_frontend_from_model(const vg_model *m, vg_frontend *fe)
{
    return frontend_from_model(m, fe, NULL, 0);
}

/* The seed image (1 channel, 128 x 301) -> [3, S, S] normalised. */
static int seed_tensor(const vg_frontend *fe, const vg_image *img, float **out)
{
    vg_image small = {0};
    const int S = fe->image_size, P = S * S;
    int rc = vg_image_resize_bilinear(img, S, S, &small);
    if (rc) return rc;
    float *t = malloc(sizeof(float) * 3 * (size_t)P);
    if (!t) { vg_image_free(&small); return VG_ENOMEM; }
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < P; i++) {
            int src = small.channels == 3 ? c : 0;
            float v = small.pixels[(size_t)i * small.channels + src] / 255.0f;
            t[(size_t)c * P + i] = (v - fe->image_mean[c]) / fe->image_std[c];
        }
    vg_image_free(&small);
    *out = t;
    return VG_OK;
}

/* A mel handle (filterbank + FFT plan, ~130 us to build, under FFTW's
 * planner lock) kept per thread and reused for every file with the same
 * settings; freed when the thread ends. */
typedef struct thread_mel {
    vg_mel_config cfg;
    vg_melspec *mel;
} thread_mel;

static pthread_key_t mel_key;
static pthread_once_t mel_once = PTHREAD_ONCE_INIT;

static void thread_mel_free(void *p)
{
    thread_mel *t = p;
    vg_melspec_destroy(t->mel);
    free(t);
}

static void make_mel_key(void) { pthread_key_create(&mel_key, thread_mel_free); }

static vg_melspec *thread_melspec(const vg_mel_config *cfg)
{
    pthread_once(&mel_once, make_mel_key);
    thread_mel *t = pthread_getspecific(mel_key);
    if (t && !memcmp(&t->cfg, cfg, sizeof *cfg)) return t->mel;
    vg_melspec *mel = vg_melspec_create(cfg);
    if (!mel) return NULL;
    if (!t && !(t = calloc(1, sizeof *t))) { vg_melspec_destroy(mel); return NULL; }
    vg_melspec_destroy(t->mel);
    t->cfg = *cfg;
    t->mel = mel;
    pthread_setspecific(mel_key, t);
    return mel;
}

/* FNV-1a of the file's own name (links resolved), so that a recording gets
 * the same copy through any link, folder or machine */
static uint64_t file_name_hash(const char *path)
{
    char real[PATH_MAX];
    const char *name = realpath(path, real) ? real : path, *slash = strrchr(name, '/');
    if (slash) name = slash + 1;
    return fnv1a(name);
}

int frontend_window_frames(const vg_frontend *fe)
{
    return 1 + (int)(llround(fe->seconds * fe->mel.sample_rate) / fe->mel.hop_length);
}

degrade_spec degrade_codec_for(const char *path)
{
    static const struct { lossy_codec codec; int bitrate; } SPECS[] = {
        {LOSSY_OPUS, 8000}, {LOSSY_OPUS, 12000}, {LOSSY_OPUS, 16000}, {LOSSY_OPUS, 24000},
        {LOSSY_MP3, 16000}, {LOSSY_MP3, 24000},  {LOSSY_MP3, 32000}};
    uint64_t k = file_name_hash(path) % (sizeof SPECS / sizeof SPECS[0]);
    return (degrade_spec){.kind = DEGRADE_CODEC, .codec = SPECS[k].codec, .bitrate = SPECS[k].bitrate};
}

degrade_spec degrade_noise_for(const char *path)
{
    /* a stream of its own (not the codec's hash): its first draw is the
     * SNR, the rest is the noise */
    uint64_t r = file_name_hash(path) ^ 0x6E6F697365ull;   /* "noise" */
    float snr = 5.0f + 15.0f * rng_uniform(&r);
    return (degrade_spec){.kind = DEGRADE_WHITE_NOISE, .snr_db = snr, .seed = r};
}

degrade_spec degrade_pitch_for(const char *path, int label)
{
    uint64_t r = file_name_hash(path) ^ 0x7069746368ull;   /* "pitch" */
    float octaves = 0.2f + 0.3f * rng_uniform(&r);
    return (degrade_spec){.kind = DEGRADE_PITCH, .pitch = exp2f(label == 1 ? octaves : -octaves)};
}

/* X [N] += Gaussian noise SNR_DB below X's mean power (as scripts/degrade.sh's
 * noise10 makes the evaluation's noisy copies); digital silence stays silent */
static void add_white_noise(float *x, size_t n, float snr_db, uint64_t seed)
{
    double p = 0;
    for (size_t i = 0; i < n; i++) p += (double)x[i] * x[i];
    if (!n || p == 0) return;
    float sd = (float)sqrt(p / (double)n * pow(10.0, -snr_db / 10.0));
    for (size_t i = 0; i < n; i++) x[i] += sd * rng_normal(&seed);
}

int vg_features_from_audio(const vg_frontend *fe, const char *path, double offset,
                           double max_seconds, float **out, int *c, int *h, int *w,
                           vg_clip_info *info)
{
    return features_from_audio_degraded(fe, path, offset, max_seconds, NULL, out, c, h, w, info);
}

static int features_from_window(const vg_frontend *fe, float *x, size_t n, const vg_clip_info *info,
                                const degrade_spec *deg, float **out, int *c, int *h, int *w);

/* The window a front end reads: its own, or up to MAX_SECONDS for log-mel. */
static double window_seconds(const vg_frontend *fe, double max_seconds)
{
    return fe->kind == VG_FE_LOGMEL && max_seconds > fe->seconds ? max_seconds : fe->seconds;
}

int features_from_audio_degraded(const vg_frontend *fe, const char *path, double offset,
                                 double max_seconds, const degrade_spec *deg, float **out, int *c,
                                 int *h, int *w, vg_clip_info *info)
{
    if (!fe || !path || !out || !c || !h || !w) return VG_EARG;
    *out = NULL;
    vg_clip_info local;
    if (!info) info = &local;
    double seconds = window_seconds(fe, max_seconds);
    float *x = NULL;
    int rc = vg_audio_load_window(path, offset, seconds, fe->mel.sample_rate, &x, info);
    if (rc) return rc;
    return features_from_window(fe, x, (size_t)llround(seconds * fe->mel.sample_rate), info, deg, out, c, h, w);
}

int vg_features_from_samples(const vg_frontend *fe, const float *samples, size_t n_samples,
                             double max_seconds, float **out, int *c, int *h, int *w)
{
    if (!fe || !samples || !out || !c || !h || !w || fe->mel.sample_rate <= 0) return VG_EARG;
    *out = NULL;
    if (n_samples == 0) return VG_ENOSAMPLES;
    for (size_t i = 0; i < n_samples; i++)
        if (!isfinite(samples[i])) return VG_ENONFINITE;
    /* the window a file holding these samples gives (vg_audio_load_window):
     * its start, zero-padded when the recording ends first */
    double seconds = window_seconds(fe, max_seconds);
    size_t n = (size_t)llround(seconds * fe->mel.sample_rate);
    float *x = calloc(n ? n : 1, sizeof(float));
    if (!x) return VG_ENOMEM;
    vg_clip_info info = {.n_valid = n_samples < n ? n_samples : n, .padded = n_samples < n};
    memcpy(x, samples, sizeof(float) * info.n_valid);
    return features_from_window(fe, x, n, &info, NULL, out, c, h, w);
}

/* Features of the window X[N] (owned: freed or returned) that INFO
 * describes, after DEG (may be NULL) degrades its recorded samples. */
static int features_from_window(const vg_frontend *fe, float *x, size_t n, const vg_clip_info *info,
                                const degrade_spec *deg, float **out, int *c, int *h, int *w)
{
    int rc = VG_OK;
    if (deg) {
        /* the recording's samples only: neither the codec's artefacts nor
         * the noise may reach the zero padding, which later code trims */
        size_t valid = info->padded && info->n_valid < n ? info->n_valid : n;
        if (deg->kind == DEGRADE_WHITE_NOISE) {
            add_white_noise(x, valid, deg->snr_db, deg->seed);
        } else if (deg->kind == DEGRADE_PITCH) {
            if ((rc = audio_pitch_shift(x, valid, fe->mel.sample_rate, deg->pitch))) { free(x); return rc; }
        } else if ((rc = audio_lossy_roundtrip(x, valid, fe->mel.sample_rate, deg->codec, deg->bitrate))) {
            free(x);
            return rc;
        }
    }

    if (fe->kind == VG_FE_RAW) {
        *out = x;
        *c = 1; *h = 1; *w = (int)n;
        return VG_OK;
    }
    vg_melspec *mel = thread_melspec(&fe->mel);
    if (!mel) { free(x); return VG_EARG; }
    if (fe->kind == VG_FE_LOGMEL && info->padded) {
        /* Only the frames over the recording are kept (below), so the
         * spectrogram need not run over the rest of the zero padding: a 3 s
         * clip read with predict's 600 s window cost 100 clips' worth. The
         * kept frames' windows reach n_fft/2 samples past the recording
         * (into zeros, as before); stopping n_fft past it leaves the end's
         * reflect padding to frames that are dropped, so the kept ones are
         * the same bits. */
        size_t hop = (size_t)fe->mel.hop_length, valid = info->n_valid;
        if (valid < (MIN_FRAMES - 1) * hop) valid = (MIN_FRAMES - 1) * hop;
        if (valid + (size_t)fe->mel.n_fft < n) n = valid + (size_t)fe->mel.n_fft;
    }
    int frames = vg_melspec_frames(mel, n), nm = fe->mel.n_mels;
    float *spec = malloc(sizeof(float) * (size_t)nm * frames);
    if (!spec) { rc = VG_ENOMEM; goto done; }
    if (fe->kind == VG_FE_SEED_IMAGE) {
        vg_image img = {0};
        if (!(rc = vg_melspec_power(mel, x, n, spec)) &&
            !(rc = vg_seed_image_from_power(spec, nm, frames, &img)))
            rc = seed_tensor(fe, &img, out);
        vg_image_free(&img);
        free(spec);
        if (!rc) { *c = 3; *h = fe->image_size; *w = fe->image_size; }
        goto done;
    }
    if ((rc = vg_melspec_log2(mel, x, n, spec))) { free(spec); goto done; }
    int keep = frames;
    if (fe->kind == VG_FE_LOGMEL && info->padded) {
        /* only the frames that hold the recording (the network pools over time) */
        keep = 1 + (int)(info->n_valid / (size_t)fe->mel.hop_length);
        if (keep < MIN_FRAMES) keep = MIN_FRAMES;
        if (keep > frames) keep = frames;
        for (int b = 1; b < nm; b++)
            memmove(spec + (size_t)b * keep, spec + (size_t)b * frames, sizeof(float) * (size_t)keep);
    }
    const float mu = fe->input_mean, inv = 1.0f / fe->input_std;
    for (size_t i = 0; i < (size_t)nm * keep; i++) spec[i] = (spec[i] - mu) * inv;
    *out = spec;
    if (fe->kind == VG_FE_MEL_FLAT) { *c = 1; *h = 1; *w = nm * keep; }
    else { *c = 1; *h = nm; *w = keep; }
done:
    free(x);
    return rc;
}

int vg_features_from_image(const vg_frontend *fe, const char *path, float **out, int *c,
                           int *h, int *w)
{
    if (!fe || !path || !out) return VG_EARG;
    *out = NULL;
    if (fe->kind != VG_FE_SEED_IMAGE) return VG_EINPUTKIND;
    vg_image img;
    int rc = vg_image_read(path, &img);
    if (rc) return rc;
    rc = seed_tensor(fe, &img, out);
    vg_image_free(&img);
    if (!rc) { *c = 3; *h = fe->image_size; *w = fe->image_size; }
    return rc;
}
