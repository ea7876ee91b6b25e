/*
 * voxgender — male/female speaker classification, as a C library.
 *
 * One public header; every symbol starts with vg_ / VG_.
 * Conventions:
 *   - Functions that can fail return an int status: VG_OK (0) or a negative
 *     VG_E* code; vg_strerror() turns it into a short English phrase.
 *     The library never prints and never exits.
 *   - Opaque handles come in create/destroy pairs. "Caller owns" in a comment
 *     means the caller must release the result with the named function.
 *   - Audio is mono float32 in [-1, 1] at the configured sample rate.
 *   - A spectrogram is a row-major float matrix [n_mels][n_frames], row 0 is
 *     the lowest mel band.
 */
#ifndef VOXGENDER_H
#define VOXGENDER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VG_VERSION_STRING "0.2.0"
/* The source revision (git commit, "+modified" for uncommitted changes,
 * "unknown" outside a git checkout) this library was built from. Static
 * string. */
const char *vg_build_revision(void);

/* ---------------------------------------------------------------- errors */

enum {
    VG_OK = 0,
    VG_ENOMEM = -1,         /* out of memory */
    VG_EARG = -2,           /* invalid argument */
    VG_ENOENT = -3,         /* file not found */
    VG_EIO = -4,            /* read or write error; when writing a file
                               (models, images, .npy), errno then holds the
                               system's reason, e.g. ENOSPC for a full disk */
    VG_EEMPTY = -5,         /* file is empty */
    VG_EFORMAT = -6,        /* not a recognised audio/image format, or corrupt */
    VG_ENOSTREAM = -7,      /* file has no audio stream */
    VG_ENOSAMPLES = -8,     /* audio stream holds no samples */
    VG_ENONFINITE = -9,     /* NaN or infinite samples */
    VG_ERATE = -10,         /* sample rate outside the supported range */
    VG_EOFFSET = -11,       /* offset is past the end of the recording */
    VG_EDECODE = -12,       /* decoder error in the middle of the stream */
    VG_EIMAGE = -13,        /* image cannot be read or has unsupported layout */
    VG_EUNSUPPORTED = -14,  /* valid, but not something voxgender handles */
    VG_EMODEL = -15,        /* model file is malformed or does not match its architecture */
    VG_ENOSPEECH = -16,     /* nothing to classify: silent, too quiet, or under 0.5 s of sound */
    VG_EINPUTKIND = -17,    /* an image given to a model that takes recordings */
};

/* A model (see "models" below). */
typedef struct vg_model vg_model;

/* Static string describing a status code; never NULL. */
const char *vg_strerror(int status);

/* Library version, e.g. "0.2.0". */
const char *vg_version(void);

/* The BLAS kernels in use: OpenBLAS's core name (e.g. "SkylakeX") and its
 * thread count. Debian's OpenBLAS 0.3.21 does not recognise recent AVX-512
 * CPUs (AMD Zen 4) and picks slower AVX2 "Haswell" kernels unless the
 * environment variable OPENBLAS_CORETYPE is set before the library loads;
 * vg_blas_recommended_core() names the core to set, or NULL when the
 * detected one is already the best. The voxgender CLI does this itself.
 * vg_blas_use_core(CORE) switches OpenBLAS to CORE's kernels (e.g.
 * "SkylakeX") in the running process, as OPENBLAS_CORETYPE=CORE would
 * have at load time, and sets that variable for child processes: VG_OK
 * when CORE's kernels are then in use, VG_EUNSUPPORTED (nothing changed)
 * when this BLAS cannot switch or does not know CORE, VG_EARG for an empty
 * name. Call it before any BLAS work, while no other thread uses BLAS. */
const char *vg_blas_core(void);
int vg_blas_threads(void);
const char *vg_blas_recommended_core(void);
int vg_blas_use_core(const char *core);

/* Threads. A model pass uses the calling thread's OpenMP thread count
 * (all cores by default) and OpenBLAS's process-wide one. A program that
 * runs one model per thread on N threads should, before starting them,
 * call vg_set_blas_threads(1), and in each thread vg_set_threads(cores / N),
 * so that the passes do not run more threads than there are cores.
 * vg_set_threads (N >= 1) applies to passes run by the calling thread from
 * then on; vg_set_blas_threads (N >= 1) to the whole process. Both return
 * VG_EARG for N < 1. */
int vg_set_threads(int n);
int vg_set_blas_threads(int n);

/* ------------------------------------------------------------ audio input */

/* Decoding accepts every container/codec that the linked FFmpeg reads.
 * Sample rates outside [VG_MIN_SOURCE_RATE, VG_MAX_SOURCE_RATE] are refused. */
#define VG_MIN_SOURCE_RATE 1000
#define VG_MAX_SOURCE_RATE 768000

typedef struct vg_clip_info {
    double source_seconds;   /* duration decoded up to the end of the window,
                                or the full duration when the file ended first */
    int source_rate;         /* sample rate of the file's audio stream */
    int source_channels;     /* channel count of the file's audio stream */
    size_t n_valid;          /* samples that came from the file (rest is padding) */
    int padded;              /* 1 when the recording ended inside the window */
} vg_clip_info;

/*
 * Decode the window [offset, offset + seconds) of the first audio stream of
 * PATH, downmixed to mono and resampled to SAMPLE_RATE. Only the part of the
 * file up to the end of the window is decoded, so memory stays bounded
 * whatever the file's length. A recording that ends inside the window is
 * zero-padded to the full length and info->padded is set.
 *
 * On success *out is a malloc'd array of round(seconds * sample_rate) samples
 * (caller owns, free()). INFO may be NULL. Fails with VG_EOFFSET when offset
 * is at or past the end of the recording.
 */
int vg_audio_load_window(const char *path, double offset, double seconds,
                         int sample_rate, float **out, vg_clip_info *info);


/* Streaming decoding: a whole file (or "-" for standard input) in blocks,
 * mono at SAMPLE_RATE, in bounded memory. Caller owns the reader
 * (vg_audio_reader_close). */
typedef struct vg_audio_reader vg_audio_reader;
int vg_audio_reader_open(const char *path, int sample_rate, vg_audio_reader **out);
/* Up to MAX samples into BUF; returns the count, 0 at the end, or a negative
 * VG_E* error. */
long vg_audio_reader_read(vg_audio_reader *r, float *buf, size_t max);
void vg_audio_reader_close(vg_audio_reader *r);

/* Mono samples IN[N] at IN_RATE -> *OUT[*N_OUT] at OUT_RATE, by the
 * resampler (libswresample) that decoding uses; for recordings already in
 * memory (vg_predict_samples wants the model's rate). Rates in
 * [VG_MIN_SOURCE_RATE, VG_MAX_SOURCE_RATE]. Caller owns *OUT (free()). */
int vg_resample(const float *in, size_t n, int in_rate, int out_rate, float **out, size_t *n_out);

/* ---------------------------------------------------- log-mel spectrogram */

/* Front-end settings. vg_mel_config_default() gives torchaudio's
 * MelSpectrogram() defaults: 16 kHz, n_fft 400, periodic Hann window of 400,
 * hop 200, 128 HTK mel bands from 0 Hz to Nyquist without normalisation,
 * power 2, centred frames with reflect padding. */
typedef struct vg_mel_config {
    int sample_rate;
    int n_fft;
    int win_length;
    int hop_length;
    int n_mels;
    float f_min;
    float f_max;            /* <= 0 means sample_rate / 2 */
} vg_mel_config;

void vg_mel_config_default(vg_mel_config *cfg);

/* log2 of zero power would be -inf; power is floored at this value before the
 * logarithm, so the smallest log2 value is log2(1e-10) ≈ -33.22. */
#define VG_POWER_FLOOR 1e-10f

typedef struct vg_melspec vg_melspec;

/* Build filterbank, window and FFT plan once; reuse for any number of clips.
 * Returns NULL on invalid settings or out of memory. Caller owns the handle:
 * vg_melspec_destroy(). A handle must not be used by two threads at once;
 * create one per thread. */
vg_melspec *vg_melspec_create(const vg_mel_config *cfg);
void vg_melspec_destroy(vg_melspec *m);

/* Number of frames for N samples: 1 + N / hop (centred frames); VG_EARG
 * without a handle. */
int vg_melspec_frames(const vg_melspec *m, size_t n_samples);

/* Mel power spectrogram of X[N] into OUT[n_mels * frames] (caller's buffer,
 * row-major, row 0 = lowest band). */
int vg_melspec_power(vg_melspec *m, const float *x, size_t n, float *out);

/* Mel power of one frame: WIN[n_fft] samples (the frame's span, unwindowed)
 * -> OUT[n_mels]. */
int vg_melspec_frame(vg_melspec *m, const float *win, float *out);

/* In place: x = log2(max(x, VG_POWER_FLOOR)), the step from mel power to
 * the log-mel values. */
void vg_power_to_log2(float *x, size_t n);

/* Same, then out = log2(max(power, VG_POWER_FLOOR)). */
int vg_melspec_log2(vg_melspec *m, const float *x, size_t n, float *out);

/* ------------------------------------------------------------- images */

/* An 8-bit image, row-major, interleaved channels (1 = grey, 3 = RGB). */
typedef struct vg_image {
    int width, height, channels;
    uint8_t *pixels;        /* width * height * channels bytes */
} vg_image;

/* Release pixels (not the struct itself); safe on a zeroed image. */
void vg_image_free(vg_image *img);

/* Min–max scale a [n_mels][frames] spectrogram into a 1-channel image:
 * rows = mel bands with the lowest band at the bottom, columns = frames,
 * grey = round(255 * (v - min) / (max - min)); a constant input gives 0.
 * IMG->pixels is malloc'd (caller owns, vg_image_free()). */
int vg_spectrogram_to_image(const float *spec, int n_mels, int frames,
                            vg_image *img);

/* The reference project's image, exactly: from mel POWER (not log), take
 * log2, apply OpenCV convertScaleAbs (|x| rounded half-to-even and saturated
 * to 0..255; -inf and NaN become 0), then matplotlib's imsave with the 'gray'
 * colour map (min–max to an index 0..255 looked up in matplotlib's table).
 * Orientation as matplotlib's origin='upper': lowest band on the TOP row.
 * 1 channel (the reference JPEG is RGB with R = G = B). Caller owns pixels. */
int vg_seed_image_from_power(const float *power, int n_mels, int frames,
                             vg_image *img);

/* Number of samples the reference project used: its first 60000 (3.75 s). */
#define VG_SEED_SAMPLES 60000

/* Write IMG as PNG / JPEG (quality 1..100, 4:2:0). Atomic: written to a
 * temporary name in the same folder and renamed over PATH. */
int vg_image_write_png(const char *path, const vg_image *img);
int vg_image_write_jpeg(const char *path, const vg_image *img, int quality);

/* Read a PNG or JPEG (detected from its content) with 1 or 3 channels
 * (grey+alpha and RGBA lose their alpha; 16-bit PNG is reduced to 8-bit).
 * Caller owns img->pixels (vg_image_free()). */
int vg_image_read(const char *path, vg_image *img);

/* Turn a spectrogram image back into the float layout [rows][cols] with row 0
 * = lowest band, values = grey level (mean of the channels) in 0..255.
 * LOW_AT_TOP says where the image has its lowest band (1 for seed-compat /
 * reference images, 0 for vg_spectrogram_to_image's). OUT is malloc'd
 * (caller owns, free()). */
int vg_image_to_spectrogram(const vg_image *img, int low_at_top, float **out);

/* ------------------------------------------------------------- arrays */

/* Write a float32 C-order array as NumPy .npy (version 1.0, '<f4'), atomically. */
int vg_npy_write_f32(const char *path, const float *data, const size_t *shape,
                     int ndim);




/* ------------------------------------------------------------ front ends */

/* What a model is fed; stored in its metadata, so a model file alone says
 * how to turn a recording (or an image) into its input. */
typedef enum {
    VG_FE_LOGMEL = 0,     /* [1, n_mels, frames] base-2 log-mel, normalised
                             (x - input_mean) / input_std */
    VG_FE_SEED_IMAGE = 1, /* [3, S, S]: the reference project's image of the
                             first 60000 samples, resized as torchvision's
                             Resize((S,S)) on a PIL image, /255, then
                             (x - image_mean) / image_std per channel
                             (lenet: S 32, 0.5/0.5; vgg: S 224, ImageNet's) */
    VG_FE_RAW = 2,        /* [1, 1, samples]: the waveform window itself */
    VG_FE_MEL_FLAT = 3,   /* [1, 1, n_mels*frames]: flattened log-mel (SVM) */
} vg_frontend_kind;

typedef struct vg_frontend {
    vg_frontend_kind kind;
    vg_mel_config mel;    /* sample rate and mel settings */
    double seconds;       /* window length */
    float input_mean, input_std;   /* VG_FE_LOGMEL normalisation */
    int image_size;                /* VG_FE_SEED_IMAGE side S */
    float image_mean[3], image_std[3];
} vg_frontend;

/* Defaults for a kind: 16 kHz, 6 s (3.75 s = 60000 samples for the seed
 * image), torchaudio mel settings, mean 0 / std 1, 32x32 images normalised
 * with 0.5 / 0.5 (set image_size 224 and ImageNet statistics for VGG). */
void vg_frontend_default(vg_frontend *fe, vg_frontend_kind kind);
const char *vg_frontend_name(vg_frontend_kind kind);  /* "logmel", "seed_image", ... */
/* Write / read the front end as model metadata. */
int vg_frontend_to_model(vg_model *m, const vg_frontend *fe);
int vg_frontend_from_model(const vg_model *m, vg_frontend *fe);
/* The front end a new (untrained) model of M's architecture reads, from its
 * input shape alone: VG_FE_LOGMEL defaults for 1x128xT, VG_FE_SEED_IMAGE
 * defaults with image_size S for 3xSxS; VG_EUNSUPPORTED for any other. */
int vg_frontend_for_input(const vg_model *m, vg_frontend *fe);

/* Model input for a recording: the window [offset, offset + seconds) (for
 * VG_FE_LOGMEL, MAX_SECONDS > seconds keeps up to that much, for random
 * crops in training; 0 = the window). A recording shorter than the window
 * gives VG_FE_LOGMEL features of its own length (at least 15 frames; the
 * network averages over time) and zero-padded windows otherwise.
 * *out is [c][h][w] floats (caller owns, free()). INFO may be NULL. */
int vg_features_from_audio(const vg_frontend *fe, const char *path, double offset,
                           double max_seconds, float **out, int *c, int *h, int *w,
                           vg_clip_info *info);
/* Model input from a spectrogram image (PNG/JPEG): only VG_FE_SEED_IMAGE
 * models take images (the reference project's test images); any other
 * model gives VG_EINPUTKIND. */
int vg_features_from_image(const vg_frontend *fe, const char *path, float **out, int *c,
                           int *h, int *w);
/* As vg_features_from_audio (offset 0, INFO omitted) for a recording already
 * in memory: SAMPLES[N_SAMPLES], mono floats at FE's sample rate, give the
 * same features as a file holding them. NaN or infinite samples:
 * VG_ENONFINITE; none: VG_ENOSAMPLES. */
int vg_features_from_samples(const vg_frontend *fe, const float *samples, size_t n_samples,
                             double max_seconds, float **out, int *c, int *h, int *w);


/* Features through an on-disk cache: CACHE_DIR/<hash>.f32, keyed by the
 * recording's real path, size and modification time and by every front-end
 * setting, so a changed file or setting never returns stale features; the
 * key is stored in the file and checked on reading. CACHE_DIR NULL = no
 * cache. *hit (may be NULL) says whether the cache answered. Same ownership
 * as vg_features_from_audio. */
int vg_features_cached(const char *cache_dir, const vg_frontend *fe, const char *path,
                       double max_seconds, float **out, int *c, int *h, int *w, int *hit);
/* The default cache folder: $XDG_CACHE_HOME/voxgender or ~/.cache/voxgender
 * (static string). */
const char *vg_default_cache_dir(void);

/* Resize an 8-bit image exactly as Pillow's Image.resize(BILINEAR) with its
 * antialiasing (support scaled by the reduction factor; two 8-bit passes,
 * horizontal first). OUT->pixels is malloc'd (caller owns). */
int vg_image_resize_bilinear(const vg_image *in, int width, int height, vg_image *out);

/* ------------------------------------------------------------- datasets */

enum { VG_SPLIT_TRAIN = 0, VG_SPLIT_VALIDATION = 1, VG_SPLIT_TEST = 2, VG_SPLIT_NONE = 3 };
enum { VG_LABEL_FEMALE = 0, VG_LABEL_MALE = 1 };   /* the reference project's codes */

typedef struct vg_item {
    char *path;          /* as found (root joined with the relative path) */
    char *relpath;       /* relative to the dataset root */
    char *speaker;       /* speaker identity (see vg_dataset_scan) */
    int label;           /* VG_LABEL_* */
    int split;           /* VG_SPLIT_* */
} vg_item;

typedef struct vg_dataset {
    vg_item *items;
    size_t n;
    int has_splits;      /* 0: a folder with Male/Female directly inside */
} vg_dataset;

/*
 * Scan ROOT laid out as ROOT/{Train,Validation,Test}/{Male,Female}/... (the
 * reference project's layout) or ROOT/{Male,Female}/... (split-less, every
 * item VG_SPLIT_NONE). Names are matched without case; "val", "valid" and
 * "dev" mean Validation; class folders "1"/"m" mean male and "0"/"f" female.
 * Recordings may sit in sub-folders. Speaker identity: the first sub-folder
 * under the class folder if there is one (VoxCeleb's Male/id10001/x.wav),
 * else the file name up to its first '_' or '-'. MANIFEST (CSV with columns
 * path,speaker[,gender], paths relative to ROOT; may be NULL) overrides the
 * speaker, and the gender when given. Hidden files are skipped. Items are
 * sorted by relative path. ERR receives a one-line reason on failure
 * (missing root, no class folders, ...). Caller owns *out:
 * vg_dataset_free(). */
int vg_dataset_scan(const char *root, const char *manifest, vg_dataset **out, char *err,
                    size_t errlen);
void vg_dataset_free(vg_dataset *d);
/* Keep at most N recordings of each speaker (and label) in each split whose
 * bit (1 << VG_SPLIT_*) is in SPLITS, dropping the rest from D: which N is
 * drawn from SEED (a hash of each relative path), the same for the same
 * files and seed, and spread over a speaker's folders rather than the first
 * N in path order (VoxCeleb's id/video/utterance: the first N would be one
 * video). Items stay sorted. Returns how many were dropped, or VG_EARG /
 * VG_ENOMEM (D unchanged). A large dataset's training features then fit in
 * memory: gender needs many speakers more than many recordings of each. */
long vg_dataset_keep_per_speaker(vg_dataset *d, int n, unsigned splits, uint64_t seed);
const char *vg_split_name(int split);      /* "train", "validation", "test", "none" */
const char *vg_label_name(int label);      /* "female", "male", "unknown" */

/* Speaker from a path relative to a class folder ("id10001/x.wav" ->
 * "id10001", "p225_003.wav" -> "p225"). Caller owns the result (free()). */
char *vg_speaker_from_path(const char *rel_to_class);


/* Assign recordings to Train/Validation/Test. BY_SPEAKER: whole speakers go
 * to one split (speaker-disjoint; what an accuracy claim needs); else
 * recordings are assigned independently (the reference project's
 * same-speakers-everywhere split). Done per gender so both classes follow
 * RATIOS (train, validation, test; summing to 1). The same inputs and SEED
 * give the same assignment. SPLIT_OUT[n] receives VG_SPLIT_*. */
int vg_split_assign(const char *const *speakers, const int *labels, size_t n,
                    const double ratios[3], int by_speaker, uint64_t seed, int *split_out);

/* Open a recording and read its duration without decoding it all; returns
 * VG_OK or the same errors as vg_audio_load_window. */
int vg_audio_probe(const char *path, double *seconds);


/* ------------------------------------------------------------- metrics */

typedef struct vg_speaker_stat {
    char *speaker;
    int label;
    int n, correct;
} vg_speaker_stat;

typedef struct vg_metrics {
    size_t n;
    double accuracy;
    double speaker_balanced_accuracy;  /* mean over the two classes of the mean
                                          per-speaker accuracy */
    long confusion[2][2];              /* [true][predicted], 0 female, 1 male */
    double precision[2], recall[2], f1[2];   /* per recording */
    double speaker_recall[2];          /* per class, the mean per-speaker accuracy:
                                          every speaker weighs the same, however
                                          many recordings they have (their mean is
                                          speaker_balanced_accuracy) */
    double auc;                        /* ROC AUC of p_male (ties count half) */
    vg_speaker_stat *speakers;         /* sorted by accuracy, worst first */
    size_t n_speakers;
} vg_metrics;

/* Metrics of predictions P_MALE (male when >= 0.5) against LABELS; SPEAKERS
 * may be NULL (then every item is its own speaker). Caller frees with
 * vg_metrics_free(). */
int vg_metrics_compute(const int *labels, const float *p_male, const char *const *speakers,
                       size_t n, vg_metrics *out);
void vg_metrics_free(vg_metrics *m);

/* ------------------------------------------------------------- models */

/* A convolutional network with its parameters and metadata (declared at the
 * top of this header). Built from an architecture description (see
 * src/nn/model.c for the grammar) or a built-in name ("lenet", "cnn"), or
 * loaded from a safetensors file. */

/* The description of a built-in architecture, or NULL if unknown. */
const char *vg_arch_builtin(const char *name);

/* Build a model from a built-in name or a description, with parameters
 * initialised from SEED. ERR (may be NULL) receives a one-line reason on
 * failure. Caller owns *out: vg_model_destroy(). */
int vg_model_create(const char *arch, uint64_t seed, vg_model **out, char *err, size_t errlen);
void vg_model_destroy(vg_model *m);

/* The description the model was built from (owned by the model). */
const char *vg_model_arch(const vg_model *m);
/* Declared input shape; 0 for a dimension of any size. */
void vg_model_input_shape(const vg_model *m, int *c, int *h, int *w);
int vg_model_num_classes(const vg_model *m);
size_t vg_model_num_params(const vg_model *m);   /* trainable parameters */
/* Multiply-accumulate operations of one forward pass on a [1,C,H,W] input. */
double vg_model_macs(vg_model *m, int h, int w);

/* Inference (batch norm with running statistics, no dropout):
 * x[n, C, h, w] -> logits[n, classes] (caller's buffer).
 * Threads: a model may be shared. Its passes (vg_model_forward,
 * vg_model_macs, vg_predict_file, segmenters) take turns on it, since the
 * buffers of a pass are the model's; for passes in parallel, give each
 * thread its own model (vg_model_load again). Training a model
 * (vg_model_train_step, vg_frontend_to_model, vg_model_set_meta) must not
 * overlap any other use of it.
 * Memory: the buffers of a pass are kept for the next, and reused while
 * large enough, so a model holds those of the largest batch (and of
 * training, once it has trained) until vg_model_release_buffers or
 * vg_model_destroy. */
int vg_model_forward(vg_model *m, const float *x, int n, int h, int w, float *logits);
/* Frees the buffers that passes keep (activations, workspaces, transformed
 * weights), e.g. after one large batch; the weights stay, and the next pass
 * makes what it needs again, with the same results. Waits for a pass on
 * another thread; must not overlap training (as vg_model_forward). */
void vg_model_release_buffers(vg_model *m);

/* Metadata: string key/value pairs saved in the model file's __metadata__.
 * Values are copied; vg_model_meta returns NULL for a missing key. */
int vg_model_set_meta(vg_model *m, const char *key, const char *value);
const char *vg_model_meta(const vg_model *m, const char *key);

/* An ensemble of 2..VG_MAX_ENSEMBLE trained models with the same input,
 * classes, front end and labels, as one model whose output is the mean of
 * the members' log-probabilities (their parameters are copied; the members
 * stay the caller's). Metadata comes from the first member; the input is
 * normalised as the first member's, and a member whose normalisation
 * differs (input_mean/std, or image_mean/std for the reference's images)
 * gets a 1x1 convolution that maps it onto its own. On success
 * *out is new and the caller owns it (vg_model_destroy); ERR (may be NULL)
 * gets a reason on failure. */
#define VG_MAX_ENSEMBLE 16
int vg_model_ensemble(vg_model *const *members, int n, vg_model **out, char *err, size_t errlen);

/* Save as safetensors (atomically: temporary file + rename). */
int vg_model_save(const vg_model *m, const char *path);
/* Load a safetensors model file written by voxgender. ERR (may be NULL)
 * receives a one-line reason when the file is refused. Caller owns *out. */
int vg_model_load(const char *path, vg_model **out, char *err, size_t errlen);
/* The same from the bytes of a model file in memory (a model built into a
 * program: `xxd -i model.safetensors`, or `ld -r -b binary`). DATA stays the
 * caller's: the model copies what it needs. Refusals as vg_model_load's. */
int vg_model_load_memory(const void *data, size_t size, vg_model **out, char *err, size_t errlen);


/* Read a PyTorch state_dict saved by torch.save — the legacy format
 * (PyTorch <= 1.5, as the reference project's CNN_handmade_*.pth) or the zip
 * format (>= 1.6) — into a model of architecture ARCH ("lenet", "vgg11",
 * "vgg13", "vgg16", "vgg19", "resnet18", or a description whose parameter names match the
 * state_dict's), or, with ARCH NULL, the built-in one (those and "cnn")
 * whose tensor names and shapes the state_dict holds exactly. Float32 tensors, contiguous or not. The pickle inside is
 * read as data only: a fixed whitelist of opcodes and globals (OrderedDict,
 * the tensor rebuild functions, storage types); anything else is refused, so
 * a malicious .pth cannot run code. The last linear layer takes the
 * checkpoint's number of outputs. The model gets the architecture's default
 * front end. ERR receives a one-line reason. Caller owns *out. */
int vg_model_import_pth(const char *path, const char *arch, vg_model **out, char *err,
                        size_t errlen);

/* Model file format version written into __metadata__["format_version"]. */
#define VG_MODEL_FORMAT_VERSION "1"

/* ---------------------------------------------------------- optimizers */

typedef enum { VG_OPT_SGD, VG_OPT_ADAM, VG_OPT_ADAMW } vg_opt_kind;
typedef enum { VG_LR_CONSTANT, VG_LR_STEP, VG_LR_COSINE } vg_lr_schedule;

typedef struct vg_optim_config {
    vg_opt_kind kind;
    float lr;
    float momentum;         /* SGD (PyTorch semantics, dampening 0) */
    float beta1, beta2, eps;/* Adam/AdamW */
    float weight_decay;     /* L2 for SGD/Adam, decoupled for AdamW */
    float clip_norm;        /* clip the global gradient norm; 0 = off */
    vg_lr_schedule schedule;
    int step_size;          /* VG_LR_STEP: multiply by gamma every step_size periods */
    float gamma;
    int warmup;             /* VG_LR_COSINE: linear warm-up periods */
    int total;              /* VG_LR_COSINE: periods until the rate reaches 0 */
} vg_optim_config;

/* lr 0.01, SGD, momentum 0.9 (the reference project's recipe), Adam betas
 * 0.9/0.999, eps 1e-8, no decay, no clipping, constant rate. */
void vg_optim_config_default(vg_optim_config *cfg);
/* Learning rate of the schedule at period T (epoch or step, as the caller counts). */
float vg_lr_at(const vg_optim_config *cfg, int t);

typedef struct vg_optimizer vg_optimizer;
/* Caller owns the optimizer (vg_optimizer_destroy); it refers to M, which
 * must outlive it. */
vg_optimizer *vg_optimizer_create(vg_model *m, const vg_optim_config *cfg);
void vg_optimizer_destroy(vg_optimizer *o);
/* Rate used by the next step (set from vg_lr_at by the training loop). */
void vg_optimizer_set_lr(vg_optimizer *o, float lr);

/* One training step on a batch: forward (training mode), softmax
 * cross-entropy (CLASS_WEIGHTS[classes] or NULL), backward, clip, update.
 * LOSS and CORRECT (may be NULL) receive the batch loss and the number of
 * correct arg-max predictions. */
int vg_model_train_step(vg_model *m, vg_optimizer *o, const float *x, const int *labels,
                        int n, int h, int w, const float *class_weights, float *loss,
                        int *correct);


/* ------------------------------------------------------------- training */

enum {   /* training-time augmentation of log-mel inputs (cnn) */
    VG_AUG_CROP = 1,      /* random window offset within longer recordings */
    VG_AUG_GAIN = 2,      /* level change, -12..+12 dB */
    VG_AUG_NOISE = 4,     /* additive noise at 5..30 dB SNR (in the power domain) */
    VG_AUG_TIME_MASK = 8, /* two masks of up to 40 frames */
    VG_AUG_FREQ_MASK = 16,/* two masks of up to 12 mel bands */
    VG_AUG_BAND = 32,     /* telephone band (300-3400 Hz) or a low-pass at
                             3.5-7.5 kHz, as lossy codecs cut: 40 dB down */
    VG_AUG_REVERB = 64,   /* reverberation: power smeared over time, RT60
                             0.2-0.8 s */
    VG_AUG_LENGTH = 128,  /* half of the batches are 1..6 s long instead of 6 s */
    VG_AUG_ALL = 255,     /* all of the above */
    VG_AUG_WARP = 256,    /* vocal-tract-length perturbation: frequency axis
                             scaled by 0.9..1.1 (not in ALL: it moves pitch
                             and formants, the cues themselves) */
    VG_AUG_PITCH = 512,   /* pitch shifted by 0.71..1.41 with the formants
                             kept (not in ALL): pitch alone must not decide */
    VG_AUG_CODEC = 1024,  /* half of the examples come from a real lossy-codec
                             round trip of the recording (Opus at 8-24 kbit/s
                             or MP3 at 16-32 kbit/s, one per recording, made
                             once with the features and cached; not in ALL) */
    VG_AUG_COLOUR = 2048, /* the noise (with NOISE) of half of the examples
                             is white to brown (1/f^0..2 per Hz, so that white
                             noise fills the wide high mel bands as a
                             microphone's does) instead of the same power in
                             every mel band; not in ALL */
    VG_AUG_WHITE = 4096,  /* all of the noise (with NOISE) is white, as
                             COLOUR's with slope 0 (overrides COLOUR); not
                             in ALL */
    VG_AUG_WAVENOISE = 8192, /* half of the examples come from a copy of the
                             recording with white noise added to its samples
                             (SNR 5-20 dB against their mean power, one copy
                             per recording, made once with the features and
                             cached), and get no other noise; not in ALL */
    VG_AUG_WAVEPITCH = 16384, /* half of the examples come from a copy of the
                             recording whose pitch is moved towards the other
                             class's (women's x0.71-0.87, men's x1.15-1.41)
                             with its formants kept (Rubber Band's pitch
                             shifter, one copy per recording, made once with
                             the features and cached); not in ALL */
    VG_AUG_HARDCUT = 32768 /* with BAND: the bands above a telephone line's
                             4 kHz or the low-pass's cut hold the power
                             floor, as a real 8 kHz line or a codec leaves
                             them, instead of 40 dB less; not in ALL */
};

typedef struct vg_train_config {
    const char *arch;         /* "cnn", "lenet" or a description */
    vg_optim_config optim;    /* schedule periods are epochs */
    int epochs, batch;
    int patience;             /* stop after this many epochs without a better
                                 validation loss; 0 = never */
    uint64_t seed;
    unsigned augment;         /* VG_AUG_* bits (log-mel models only) */
    double max_seconds;       /* per training recording, for random crops */
    int balance;              /* class weights inverse to class frequency */
    int balance_speakers;     /* each epoch draws its examples speaker by speaker:
                                 every Train speaker equally often, a random
                                 recording of theirs each time (a speaker with
                                 20 recordings weighs what one with 1 does) */
    int n_fft, win_length;    /* log-mel front end of a new model: FFT size and
                                 window (samples); 0 = the defaults (400, 400) */
    const char *cache_dir;    /* feature cache; NULL = none */
    const char *data_name;    /* provenance written into the model */
    const char *checkpoint;   /* written every epoch and when stopped; NULL = none */
    int resume;               /* continue from CHECKPOINT */
    volatile int *stop;       /* set asynchronously (signal) to stop after the
                                 current batch, writing the checkpoint */
    /* transfer learning */
    const vg_model *init;     /* start from this model's weights (borrowed; NULL =
                                 random). Its architecture is used (ARCH is
                                 ignored), its output layer replaced by a 2-way
                                 one when it has another number of classes, and
                                 its front end (and normalisation) kept. */
    int freeze_features;      /* freeze convolution and batch-norm layers */
    int unfreeze_after;       /* after this many epochs, train everything at a
                                 tenth of the learning rate; 0 = never */
    int no_prefix_cache;      /* recompute a frozen backbone every epoch (for tests) */
    double max_memory_gb;     /* training holds every Train and Validation
                                 recording's features in memory (up to
                                 MAX_SECONDS each, twice or three times with
                                 the codec and wavenoise copies); past this
                                 many GB (1e9 bytes), a log-mel model trained
                                 from scratch with a CACHE_DIR reads the
                                 features of the split that passed it (Train,
                                 then Validation) back from the cache batch by
                                 batch (vg_train_result.streamed); otherwise
                                 loading stops with VG_ENOMEM and a reason,
                                 instead of exhausting the machine. 0 = the memory
                                 available when loading starts, less 1 GB
                                 (Linux's MemAvailable); < 0 = no limit */
} vg_train_config;

/* Defaults for an architecture: cnn — AdamW lr 1e-3, weight decay 1e-2,
 * cosine schedule with 1 warm-up epoch, 30 epochs, batch 32, patience 6, all
 * augmentations; lenet — the reference recipe: SGD lr 0.01 momentum 0.9,
 * 20 epochs, batch 16, no augmentation. */
void vg_train_config_default(vg_train_config *cfg, const char *arch);

typedef struct vg_epoch_stats {
    int epoch;                /* 1-based */
    float lr, train_loss, train_acc, val_loss, val_acc;
    double seconds;
} vg_epoch_stats;

typedef struct vg_train_callbacks {
    void *ctx;
    void (*features)(void *ctx, size_t done, size_t total);
    void (*file_error)(void *ctx, const char *path, int status);
    void (*batch)(void *ctx, int epoch, size_t done, size_t total, float loss);
    void (*epoch)(void *ctx, const vg_epoch_stats *s, int improved);
} vg_train_callbacks;

typedef struct vg_train_result {
    vg_model *best, *last;    /* caller owns both (vg_model_destroy) */
    vg_epoch_stats *history;  /* caller owns (free) */
    int n_epochs, best_epoch;
    int interrupted;          /* stopped by cfg->stop; checkpoint written */
    size_t n_train, n_val, n_skipped;
    int prefix_cached;        /* a frozen backbone ran once per recording */
    int streamed;             /* the features passed max_memory_gb: each batch
                                 read its examples back from the feature cache
                                 (the same weights, bit for bit, as in memory) */
} vg_train_result;

/* Train on D's Train split, selecting by validation loss on its Validation
 * split. ERR gets a one-line reason on failure (no training data, one class
 * only, no validation split, ...). */
int vg_train(const vg_dataset *d, const vg_train_config *cfg, const vg_train_callbacks *cb,
             vg_train_result *res, char *err, size_t errlen);
void vg_train_result_free(vg_train_result *r);

/* Linear SVM baseline (LIBLINEAR, L2-regularised L2-loss, dual) on the raw
 * waveform window (VG_FE_RAW: the reference project's 60000 samples) or on
 * the flattened log-mel (VG_FE_MEL_FLAT). C is LIBLINEAR's cost. The result
 * is a model file like the others (a linear layer). */
int vg_train_svm(const vg_dataset *d, vg_frontend_kind input, double C, const char *cache_dir,
                 const char *data_name, const vg_train_callbacks *cb, vg_model **out,
                 char *err, size_t errlen);

/* The longest stretch of a recording that vg_predict_file and
 * vg_predict_samples read (from its start): 10 minutes. A longer recording is
 * classified from its first VG_PREDICT_MAX_SECONDS; vg_segmenter_* labels
 * all of it, turn by turn, in constant memory. */
#define VG_PREDICT_MAX_SECONDS 600.0

/* Probability of male and the logits of one recording or image (images only
 * for seed-image models). For log-mel models a recording longer than the
 * window is classified from every window of it up to VG_PREDICT_MAX_SECONDS
 * (mean of log-probabilities), unless FIRST_WINDOW_ONLY; windows without
 * sound are skipped. A log-mel
 * model answers VG_ENOSPEECH (the CLI's "unknown", code -1) when the
 * recording holds less than VG_MIN_SOUND_SECONDS of speech frames: frames
 * louder than VG_SOUND_FLOOR_DB (mean mel-band power, dB; about -60 dBFS),
 * within 40 dB of its loudest frame, not spectrally flat, changing, and not
 * in a 2 s stretch that sounds like music (README: "Music"): silence, hum
 * at the noise floor, a click, steady noise, instrumental music. */
int vg_predict_file(vg_model *m, const char *path, int first_window_only, float *p_male,
                    float logits[2]);
/* vg_predict_file for a recording already in memory (a program's own audio
 * pipeline, a microphone): SAMPLES[N] mono floats (full scale 1.0) at
 * SAMPLE_RATE, which must be the model's (vg_frontend_from_model; 16000 for
 * voxgender's models), else VG_ERATE: vg_resample first. The same answer,
 * bit for bit, as vg_predict_file on a file holding these samples. Recording
 * models only (VG_EUNSUPPORTED for the reference's image models). */
int vg_predict_samples(vg_model *m, const float *samples, size_t n, int sample_rate,
                       int first_window_only, float *p_male, float logits[2]);
#define VG_SOUND_FLOOR_DB (-45.0)
#define VG_MIN_SOUND_SECONDS 0.5


/* ---------------------------------------------------------- segmentation */

/* A stretch of a long recording: nonspeech, or speech of one sex. */
typedef struct vg_segment {
    double start, end;        /* seconds from the start of the stream */
    int label;                /* -1 nonspeech, VG_LABEL_FEMALE, VG_LABEL_MALE */
    float p_male;             /* mean probability of male over the segment
                                 (speech), or the mean speech evidence (nonspeech) */
} vg_segment;

typedef struct vg_segment_config {
    double switch_penalty;    /* Viterbi cost (nats) of changing state; default 6 */
    double min_segment;       /* segments shorter than this merge into the one
                                 before (seconds): pauses within a turn; default 1.
                                 Speech of at least 0.5 s after nonspeech stays
                                 speech (a short utterance), joining the next
                                 turn if one of the other sex follows at once */
} vg_segment_config;

void vg_segment_config_default(vg_segment_config *c);

/* Called once per finished segment, in order. */
typedef void (*vg_segment_cb)(void *ctx, const vg_segment *seg);

/* Streaming segmentation with a log-mel model M (borrowed; must outlive the
 * segmenter): feed 16 kHz mono samples in blocks of any size; segments are
 * reported as they are decided, at most about 76 s after their end (a 60 s
 * decoding chunk plus 16 s of window context). The
 * result does not depend on how the stream is cut into blocks. Memory is
 * bounded whatever the length of the stream. Caller owns the segmenter. */
typedef struct vg_segmenter vg_segmenter;
int vg_segmenter_create(vg_model *m, const vg_segment_config *cfg, vg_segment_cb cb, void *ctx,
                        vg_segmenter **out);
int vg_segmenter_feed(vg_segmenter *s, const float *x, size_t n);
/* End of stream: decide and report everything that is left. */
int vg_segmenter_finish(vg_segmenter *s);
void vg_segmenter_destroy(vg_segmenter *s);

#ifdef __cplusplus
}
#endif
#endif /* VOXGENDER_H */
