/* The training loop: features once (cached), normalisation from the
 * training set, deterministic shuffling/augmentation from (seed, epoch,
 * batch), early stopping on validation loss, checkpoints for resuming. */
#include "../data/features.h"
#include "../nn/model.h"
#include "../util/sysmem.h"
#include "../util/errmsg.h"
#include "augment.h"
#include "checkpoint.h"
#include "epoch_order.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void nn_optimizer_step(vg_optimizer *o);
int nn_train_step(vg_model *m, vg_optimizer *o, const float *x, const int *labels, int n, int h, int w,
                  const float *class_weights, int start, float *loss, int *correct);

void vg_train_config_default(vg_train_config *c, const char *arch)
{
    memset(c, 0, sizeof *c);
    c->arch = arch;
    vg_optim_config_default(&c->optim);
    c->seed = 1;
    c->max_seconds = 12.0;
    c->cache_dir = vg_default_cache_dir();
    if (arch && !strcmp(arch, "lenet")) {
        c->epochs = 20;        /* the reference project's recipe */
        c->batch = 16;
    } else {
        c->optim.kind = VG_OPT_ADAMW;
        c->optim.lr = 1e-3f;
        c->optim.weight_decay = 1e-2f;
        c->optim.schedule = VG_LR_COSINE;
        c->optim.warmup = 1;
        c->epochs = 30;
        c->batch = 32;
        c->patience = 6;
        c->augment = VG_AUG_ALL;
    }
}

/* The waveform copies an example may carry, each made by one augmentation
 * (VG_AUG_CODEC: a lossy-codec round trip; VG_AUG_WAVENOISE: white noise
 * added; VG_AUG_WAVEPITCH: another pitch, formants kept). */
enum { COPY_CODEC, COPY_NOISE, COPY_PITCH, N_COPIES };
static const unsigned COPY_AUG[N_COPIES] = {VG_AUG_CODEC, VG_AUG_WAVENOISE, VG_AUG_WAVEPITCH};

typedef struct example {
    float *x;          /* [c][h][w] (log-mel: raw log2, normalised in place later) */
    float *copy[N_COPIES];   /* the same from each waveform copy, or NULL */
    int c, h, w;
    int label;
    const char *speaker;   /* the dataset item's (borrowed) */
    const char *path;      /* the dataset item's (borrowed): a streamed set reloads it */
    float *px;         /* output of a frozen backbone for this example, or NULL */
} example;

/* A set whose features do not fit in memory is STREAMED: its examples keep
 * their shapes but no features, and each batch reads its examples back
 * from the feature cache (example_load), normalised as the in-memory ones
 * are, so that the batches and the weights are the same bits. */
typedef struct feature_set {
    example *ex;
    size_t n;
    int streamed;
    const char *cache;        /* how the features were made, to make them again */
    vg_frontend fe;
    double max_seconds;
    unsigned copies;          /* the waveform copies each example has: VG_AUG_CODEC,
                                 VG_AUG_WAVENOISE and VG_AUG_WAVEPITCH bits */
    int normalise;            /* apply MEAN and STD on loading (once they are known) */
    float mean, std;
} feature_set;

static void example_free(example *e)   /* its features; the backbone's output is the set's */
{
    free(e->x);
    e->x = NULL;
    for (int k = 0; k < N_COPIES; k++) { free(e->copy[k]); e->copy[k] = NULL; }
}

static void free_set(feature_set *s)
{
    for (size_t i = 0; i < s->n; i++) { example_free(&s->ex[i]); free(s->ex[i].px); }
    free(s->ex);
    s->ex = NULL;
    s->n = 0;
}

/* The features of PATH's degraded copy SPEC into *DST, the shape of E's. */
static int load_copy(const char *cache, const vg_frontend *fe, const char *path, double max_seconds,
                     degrade_spec spec, const example *e, float **dst)
{
    int c, h, w;
    int rc = features_cached_degraded(cache, fe, path, max_seconds, &spec, dst, &c, &h, &w, NULL);
    if (!rc && (c != e->c || h != e->h || w != e->w)) rc = VG_EFORMAT;   /* cannot happen: same samples */
    return rc;
}

/* How much memory the loaded features may take (vg_train_config's
 * max_memory_gb), and how much they take so far. */
typedef struct feature_budget {
    double limit;        /* bytes; 0 = none */
    double used;
    size_t loaded;       /* recordings whose features are held */
    int over;            /* the limit was passed: load nothing more */
} feature_budget;

static feature_budget budget_for(double max_memory_gb)
{
    feature_budget b = {0};
    if (max_memory_gb > 0) b.limit = max_memory_gb * 1e9;
    else if (max_memory_gb == 0) {
        double avail = vg_memory_available();
        /* leave 1 GB for the network's activations, the batches and the rest */
        if (avail > 0) b.limit = avail - 1e9 > 0.25e9 ? avail - 1e9 : 0.25e9;
    }
    return b;
}

static size_t example_bytes(const example *e)
{
    size_t one = sizeof(float) * (size_t)e->c * e->h * e->w;
    size_t n = 1;
    for (int k = 0; k < N_COPIES; k++) n += e->copy[k] != NULL;
    return one * n;
}

/* E's features as set S makes them (from E's path, through the cache):
 * E->x with E's shape, and the codec and noise copies when S has them. On
 * failure what was read stays in E for the caller to free. */
static int example_read(const feature_set *s, example *e)
{
    int rc = vg_features_cached(s->cache, &s->fe, e->path, s->max_seconds, &e->x, &e->c, &e->h, &e->w, NULL);
    for (int k = 0; !rc && k < N_COPIES; k++) {
        if (!(s->copies & COPY_AUG[k])) continue;
        degrade_spec spec = k == COPY_CODEC ? degrade_codec_for(e->path)
                            : k == COPY_NOISE ? degrade_noise_for(e->path) : degrade_pitch_for(e->path, e->label);
        rc = load_copy(s->cache, &s->fe, e->path, s->max_seconds, spec, e, &e->copy[k]);
    }
    return rc;
}

/* (x - MEAN) / STD over E's features and copies: the one normalisation of
 * the in-memory and the streamed sets, so both give the same bits. */
static void example_normalise(example *e, float mean, float std)
{
    for (size_t k = 0; k < (size_t)e->h * e->w; k++) {
        e->x[k] = (e->x[k] - mean) / std;
        for (int c = 0; c < N_COPIES; c++)
            if (e->copy[c]) e->copy[c][k] = (e->copy[c][k] - mean) / std;
    }
}

/* A streamed example read back: *DST is E with its features (normalised
 * when the set says so); caller frees them (example_free). */
static int example_load(const feature_set *s, const example *e, example *dst)
{
    *dst = *e;
    dst->x = NULL;
    memset(dst->copy, 0, sizeof dst->copy);
    int rc = example_read(s, dst);
    if (!rc && (dst->c != e->c || dst->h != e->h || dst->w != e->w)) rc = VG_EFORMAT;   /* changed since */
    if (rc) example_free(dst);
    else if (s->normalise) example_normalise(dst, s->mean, s->std);
    return rc;
}

/* Features of every item of SPLIT, in parallel, skipping unreadable files;
 * with each one's waveform COPIES (VG_AUG_CODEC: its lossy-codec copy,
 * degrade_codec_for its path; VG_AUG_WAVENOISE: its white-noise copy,
 * degrade_noise_for; VG_AUG_WAVEPITCH: its pitch-shifted copy,
 * degrade_pitch_for its path and label). Past BUDGET's limit:
 * with MAY_STREAM, the set becomes streamed (what is loaded is let go, the
 * rest only made and cached) and BUDGET forgets it; otherwise nothing more
 * is loaded and BUDGET->over is set. */
static int load_split(const vg_dataset *d, int split, const vg_frontend *fe, double max_seconds,
                      unsigned copies, const char *cache, const vg_train_callbacks *cb, size_t *done,
                      size_t total, feature_set *out, size_t *skipped, feature_budget *budget, int may_stream)
{
    int streaming = 0;
    *out = (feature_set){.cache = cache, .fe = *fe, .max_seconds = max_seconds, .copies = copies};
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++) n += d->items[i].split == split;
    example *ex = calloc(n ? n : 1, sizeof(example));
    size_t *idx = malloc(sizeof(size_t) * (n ? n : 1));
    if (!ex || !idx) { free(ex); free(idx); return VG_ENOMEM; }
    n = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->items[i].split == split) idx[n++] = i;
    int *status = calloc(n ? n : 1, sizeof(int));
#pragma omp parallel for schedule(dynamic, 4)
    for (size_t k = 0; k < n; k++) {
        const vg_item *it = &d->items[idx[k]];
        example *e = &ex[k];
        int over;
#pragma omp atomic read
        over = budget->over;
        if (over) { status[k] = VG_ENOMEM; continue; }
        e->label = it->label;
        e->speaker = it->speaker;
        e->path = it->path;
        status[k] = example_read(out, e);
#pragma omp critical
        {
            ++*done;
            if (!status[k] && streaming) {   /* made and cached: read back per batch */
                example_free(e);
            } else if (!status[k]) {
                budget->used += (double)example_bytes(e);
                budget->loaded++;
                if (budget->limit > 0 && budget->used > budget->limit) {
                    if (may_stream) streaming = 1;
                    else {
#pragma omp atomic write
                        budget->over = 1;
                    }
                }
            }
            if (cb && cb->features) cb->features(cb->ctx, *done, total);
            if (status[k] && cb && cb->file_error) cb->file_error(cb->ctx, it->path, status[k]);
        }
    }
    size_t kept = 0;
    for (size_t k = 0; k < n; k++) {
        if (status[k] || budget->over || streaming) {   /* a streamed set holds no features */
            if (status[k] && !budget->over) (*skipped)++;
            example_free(&ex[k]);
            if (status[k] || budget->over) continue;
        }
        ex[kept++] = ex[k];
    }
    free(status);
    free(idx);
    out->ex = ex;
    out->n = kept;
    out->streamed = streaming;
    if (streaming) { budget->used = 0; budget->loaded = 0; }   /* what it held is let go */
    return VG_OK;
}

/* splitmix-based stream for (seed, a, b) */
static uint64_t stream(uint64_t seed, uint64_t a, uint64_t b)
{
    uint64_t s = seed ^ (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full);
    rng_next(&s);
    return s;
}

/* Copy example E into a [h][T] slot: random crop of longer recordings,
 * tiling of shorter ones, then augmentation (all in normalised units). */
static void fill_logmel(float *dst, const example *e, int T, unsigned aug, uint64_t *r,
                        const vg_frontend *fe)
{
    const int H = e->h, W = e->w;
    /* the pitch-shifted copy for half of the examples; of the rest, the
     * noisy copy for half, which then get no other noise; of the rest, the
     * lossy copy for half. Each draw is made only with its bit, so other
     * recipes keep their random streams */
    const float *src = e->x;
    if ((aug & VG_AUG_WAVEPITCH) && e->copy[COPY_PITCH] && (rng_next(r) & 1)) {
        src = e->copy[COPY_PITCH];
    } else if ((aug & VG_AUG_WAVENOISE) && e->copy[COPY_NOISE] && (rng_next(r) & 1)) {
        src = e->copy[COPY_NOISE];
        aug &= ~(unsigned)VG_AUG_NOISE;
    } else if ((aug & VG_AUG_CODEC) && e->copy[COPY_CODEC] && (rng_next(r) & 1)) {
        src = e->copy[COPY_CODEC];
    }
    int off = 0;
    if (W > T && (aug & VG_AUG_CROP)) off = (int)(rng_next(r) % (uint64_t)(W - T + 1));
    for (int b = 0; b < H; b++)
        for (int t = 0; t < T; t++)
            dst[(size_t)b * T + t] = src[(size_t)b * W + (W >= T ? off + t : t % W)];
    augment_logmel(dst, H, T, aug, r, fe);
}

/* Loss and accuracy of the model (inference mode) on a set; items of equal
 * shape are batched (a streamed set's read back from the cache, batch by
 * batch). VG_OK, or the error that kept a batch from being read. */
static int evaluate(vg_model *m, const feature_set *s, int start, float *loss, float *acc)
{
    int rc = VG_OK;
    double l = 0;
    size_t correct = 0;
    float logits[2 * 64];
    size_t i = 0;
    while (i < s->n) {
        size_t j = i;
        while (j < s->n && j - i < 64 && s->ex[j].w == s->ex[i].w && s->ex[j].h == s->ex[i].h) j++;
        int n = (int)(j - i);
        size_t per = start ? (size_t)m->layers[start].ic * m->layers[start].ih * m->layers[start].iw
                           : (size_t)s->ex[i].c * s->ex[i].h * s->ex[i].w;
        if (start && nn_plan(m, n, s->ex[i].h, s->ex[i].w, 0) == VG_OK)   /* shapes for this width */
            per = (size_t)m->layers[start].ic * m->layers[start].ih * m->layers[start].iw;
        float *x = malloc(sizeof(float) * per * n);
        int labels[64], bad = 0;
        if (x && s->streamed) {
#pragma omp parallel for schedule(dynamic, 1) reduction(| : bad)
            for (int k = 0; k < n; k++) {
                example e;
                if (example_load(s, &s->ex[i + k], &e)) { bad = 1; continue; }
                memcpy(x + per * k, e.x, sizeof(float) * per);
                example_free(&e);
            }
            if (bad) { free(x); rc = VG_EIO; break; }
        }
        for (int k = 0; k < n; k++) {
            if (x && !s->streamed) memcpy(x + per * k, start ? s->ex[i + k].px : s->ex[i + k].x, sizeof(float) * per);
            labels[k] = s->ex[i + k].label;
        }
        const float *out = x ? nn_forward_from(m, x, n, s->ex[i].h, s->ex[i].w, 0, start) : NULL;
        if (out) memcpy(logits, out, sizeof(float) * 2 * (size_t)n);
        if (out) {
            l += softmax_cross_entropy(NULL, NULL, logits, labels, NULL, n, 2) * n;
            for (int k = 0; k < n; k++) correct += (logits[2 * k + 1] > logits[2 * k]) == labels[k];
        }
        free(x);
        i = j;
    }
    *loss = s->n ? (float)(l / s->n) : 0;
    *acc = s->n ? (float)correct / s->n : 0;
    return rc;
}

static void history_meta(vg_model *m, const vg_epoch_stats *h, int n)
{
    size_t cap = 64 + (size_t)n * 96, used = 0;
    char *buf = malloc(cap);
    if (!buf) return;
    used += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s[%d,%.6g,%.6g,%.6g,%.6g,%.6g]",
                                 i ? "," : "", h[i].epoch, h[i].train_loss, h[i].train_acc,
                                 h[i].val_loss, h[i].val_acc, h[i].lr);
    snprintf(buf + used, cap - used, "]");
    vg_model_set_meta(m, "history", buf);
    vg_model_set_meta(m, "history_columns", "epoch,train_loss,train_acc,val_loss,val_acc,lr");
    free(buf);
}

static void provenance(vg_model *m, const vg_train_config *cfg, int epochs, size_t ntr, size_t nva)
{
    char v[128];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(v, sizeof v, "%Y-%m-%dT%H:%M:%SZ", &tm);
    vg_model_set_meta(m, "trained_date", v);
    vg_model_set_meta(m, "trained_on", cfg->data_name ? cfg->data_name : "(unnamed dataset)");
    snprintf(v, sizeof v, "%d", epochs);
    vg_model_set_meta(m, "epochs", v);
    snprintf(v, sizeof v, "%zu train / %zu validation recordings", ntr, nva);
    vg_model_set_meta(m, "training_examples", v);
    snprintf(v, sizeof v, "seed %llu, batch %d, %s lr %g%s", (unsigned long long)cfg->seed, cfg->batch,
             cfg->optim.kind == VG_OPT_SGD ? "sgd" : cfg->optim.kind == VG_OPT_ADAM ? "adam" : "adamw",
             cfg->optim.lr, cfg->balance_speakers ? ", speaker-balanced epochs" : "");
    vg_model_set_meta(m, "training_recipe", v);
    vg_model_set_meta(m, "trained_by", "voxgender " VG_VERSION_STRING);
    /* float rounding in training depends on the code: this names the code */
    vg_model_set_meta(m, "trained_by_revision", vg_build_revision());
}

/* A copy of INIT's architecture with a 2-way output layer (replacing the
 * last linear layer when INIT has another number of classes), holding INIT's
 * weights wherever names and shapes agree. */
static int model_from_init(const vg_model *init, uint64_t seed, vg_model **out, char *why, size_t n)
{
    char *arch = nn_arch_with_classes(init->arch, 2);
    if (!arch) { snprintf(why, n, "the initial model has no linear output layer"); return VG_EARG; }
    int rc = nn_build(arch, out, why, n);
    free(arch);
    if (rc) return rc;
    vg_model *m = *out;
    nn_init_params(m, seed);
    for (int i = 0; i < m->n_tensors; i++) {
        const nn_tensor *t = &m->tensors[i];
        for (int j = 0; j < init->n_tensors; j++) {
            const nn_tensor *u = &init->tensors[j];
            if (strcmp(t->name, u->name) || t->count != u->count || memcmp(t->shape, u->shape, sizeof t->shape))
                continue;
            memcpy(m->arena + t->offset, init->arena + u->offset, sizeof(float) * t->count);
        }
    }
    for (int i = 0; i < init->n_meta; i++)
        if (!strcmp(init->meta[i].key, "arch_name")) vg_model_set_meta(m, "arch_name", init->meta[i].value);
    return VG_OK;
}

/* Replace each example's prefix input by the frozen backbone's output (layers
 * 0..START-1, inference mode). T > 0: log-mel examples are first cut/tiled to
 * T frames, as training batches are. */
static int cache_prefix(vg_model *m, feature_set *s, int T, int start, const vg_frontend *fe, int logmel)
{
    for (size_t i = 0; i < s->n; i++) {
        example *e = &s->ex[i];
        float *x = e->x;
        int w = e->w;
        if (logmel && T > 0) {
            x = malloc(sizeof(float) * (size_t)e->h * T);
            if (!x) return VG_ENOMEM;
            uint64_t r = 0;
            fill_logmel(x, e, T, 0, &r, fe);
            w = T;
        }
        const float *y = nn_forward_prefix(m, x, 1, e->h, w, start);
        if (!y) { if (x != e->x) free(x); return VG_ENOMEM; }
        size_t per = (size_t)m->layers[start].ic * m->layers[start].ih * m->layers[start].iw;
        e->px = malloc(sizeof(float) * per);
        if (!e->px) { if (x != e->x) free(x); return VG_ENOMEM; }
        memcpy(e->px, y, sizeof(float) * per);
        if (x != e->x) {   /* the cut example is what training uses from now on */
            free(e->x);
            e->x = x;
            e->w = T;
        }
    }
    return VG_OK;
}

static int train_run(const vg_dataset *d, const vg_train_config *cfg, const vg_train_callbacks *cb,
                     vg_train_result *res, char *err, size_t errlen);

int vg_train(const vg_dataset *d, const vg_train_config *cfg, const vg_train_callbacks *cb,
             vg_train_result *res, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    int rc = train_run(d, cfg, cb, res, err, errlen);
    /* every failure comes with a reason, if only the code's */
    if (rc && err && errlen && !err[0]) snprintf(err, errlen, "%s", vg_strerror(rc));
    return rc;
}

static int train_run(const vg_dataset *d, const vg_train_config *cfg, const vg_train_callbacks *cb,
                     vg_train_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (!d || !cfg || cfg->epochs < 1 || cfg->batch < 1) return vg_errf(VG_EARG, err, errlen, "bad training settings");
    size_t count[3][2] = {{0}};
    for (size_t i = 0; i < d->n; i++)
        if (d->items[i].split < 3) count[d->items[i].split][d->items[i].label]++;
    if (!d->has_splits) return vg_errf(VG_EARG, err, errlen, "the dataset has no Train/Validation/Test folders");
    if (!count[0][0] && !count[0][1]) return vg_errf(VG_EARG, err, errlen, "the Train split is empty");
    if (!count[0][0] || !count[0][1])
        return vg_errf(VG_EARG, err, errlen, "the Train split holds only %s recordings: both classes are needed",
                    count[0][0] ? "female" : "male");
    if (!count[1][0] && !count[1][1])
        return vg_errf(VG_EARG, err, errlen, "the Validation split is empty (model selection needs it)");

    vg_model *m = NULL;
    char why[160];
    int rc = cfg->init ? model_from_init(cfg->init, cfg->seed, &m, why, sizeof why)
                       : vg_model_create(cfg->arch, cfg->seed, &m, why, sizeof why);
    if (rc) return vg_errf(VG_EARG, err, errlen, "architecture: %s", why);
    vg_frontend fe;
    int keep_norm = 0;
    if (cfg->init && vg_frontend_from_model(cfg->init, &fe) == VG_OK) {
        keep_norm = fe.kind == VG_FE_LOGMEL;   /* the backbone learnt with these statistics */
    } else if (vg_frontend_for_input(m, &fe)) {
        vg_model_destroy(m);
        return vg_errf(VG_EARG, err, errlen, "architecture input must be 1x128xT (log-mel) or 3xSxS (seed image)");
    }
    if (fe.kind != VG_FE_LOGMEL && fe.kind != VG_FE_SEED_IMAGE) {
        vg_model_destroy(m);
        return vg_errf(VG_EARG, err, errlen, "the initial model's front end (%s) cannot be fine-tuned", vg_frontend_name(fe.kind));
    }
    if (cfg->freeze_features) nn_freeze_features(m, 1);
    int logmel = fe.kind == VG_FE_LOGMEL;
    if (cfg->n_fft || cfg->win_length) {
        /* a longer window resolves the harmonics of low voices; the frame
         * count (hop) and the bands, hence the network, stay the same */
        int n_fft = cfg->n_fft ? cfg->n_fft : fe.mel.n_fft;
        int win = cfg->win_length ? cfg->win_length : n_fft;
        if (!logmel || cfg->init) {
            vg_model_destroy(m);
            return vg_errf(VG_EARG, err, errlen, "the FFT size and window apply to a new log-mel model only");
        }
        if (n_fft < 64 || n_fft > 8192 || win < 16 || win > n_fft) {
            vg_model_destroy(m);
            return vg_errf(VG_EARG, err, errlen, "FFT size %d / window %d: need 64 <= FFT size <= 8192 and 16 <= window <= FFT size", n_fft, win);
        }
        fe.mel.n_fft = n_fft;
        fe.mel.win_length = win;
    }

    /* features (raw log2 for log-mel: normalised below) */
    feature_set tr = {0}, va = {0};
    epoch_sampler sampler = {0};
    size_t done = 0, total = 0;
    for (size_t i = 0; i < d->n; i++) total += d->items[i].split <= 1;
    /* log-mel features are read un-normalised (one cache entry whatever the
     * statistics) and normalised below */
    vg_frontend raw = fe;
    raw.input_mean = 0.0f;
    raw.input_std = 1.0f;
    /* the waveform copies Train's examples carry (log-mel models only) */
    const unsigned copies = logmel ? cfg->augment & (VG_AUG_CODEC | VG_AUG_WAVENOISE | VG_AUG_WAVEPITCH) : 0;
    if ((copies & VG_AUG_CODEC) && !audio_lossy_available()) {
        rc = vg_errf(VG_EUNSUPPORTED, err, errlen, "--augment codec needs FFmpeg's libopus and libmp3lame encoders, which this FFmpeg lacks");
        goto out;
    }
    feature_budget budget = budget_for(cfg->max_memory_gb);
    /* Train may be streamed from the feature cache when it does not fit: a
     * log-mel model trained from scratch (a frozen backbone's outputs are
     * held instead), with a cache to stream from */
    const int may_stream = logmel && cfg->cache_dir && !cfg->init;
    rc = load_split(d, 0, &raw, logmel ? cfg->max_seconds : 0, copies, cfg->cache_dir, cb, &done, total, &tr,
                    &res->n_skipped, &budget, may_stream);
    if (!rc && !budget.over)
        rc = load_split(d, 1, &raw, 0, 0, cfg->cache_dir, cb, &done, total, &va, &res->n_skipped, &budget,
                        may_stream);
    if (!rc && budget.over) {   /* (a set that may stream never is) */
        rc = vg_errf(VG_ENOMEM, err, errlen,
                     "the training features do not fit in memory: %zu of the %zu Train and Validation "
                     "recordings already take %.3g GB, over the limit of %.3g GB (%s); train on fewer "
                     "recordings (train --per-speaker N) or allow more (--max-memory GB)%s",
                     budget.loaded, total, budget.used / 1e9, budget.limit / 1e9,
                     cfg->max_memory_gb > 0 ? "as asked" : "the memory available, less 1 GB",
                     !logmel || cfg->init ? ""
                     : "; with the feature cache on, they would be read from it batch by batch");
        goto out;
    }
    res->n_train = tr.n;
    res->n_val = va.n;
    res->streamed = tr.streamed || va.streamed;
    if (!rc && (tr.n == 0 || va.n == 0))
        rc = vg_errf(VG_EARG, err, errlen, "no readable recordings in the %s split", tr.n ? "Validation" : "Train");
    if (rc) goto out;

    if (logmel) {
        if (!keep_norm) {   /* statistics of the training features */
            double sum = 0, sq = 0, cnt = 0;
            size_t i;
            for (i = 0; i < tr.n; i++) {
                example loaded, *e = &tr.ex[i];
                if (tr.streamed && (rc = example_load(&tr, e, &loaded))) break;
                if (tr.streamed) e = &loaded;
                for (size_t k = 0; k < (size_t)e->h * e->w; k++) {
                    sum += e->x[k];
                    sq += (double)e->x[k] * e->x[k];
                    cnt++;
                }
                if (tr.streamed) example_free(&loaded);
            }
            if (rc) { vg_errf(rc, err, errlen, "%s: cannot be read again: %s", tr.ex[i].path, vg_strerror(rc)); goto out; }
            fe.input_mean = (float)(sum / cnt);
            fe.input_std = (float)sqrt(fmax(sq / cnt - (sum / cnt) * (sum / cnt), 1e-6));
        }
        /* (the statistics are the clean features' only: a lossy or noisy
         * copy is an augmentation, not more data) */
        feature_set *sets[2] = {&tr, &va};
        for (int s = 0; s < 2; s++) {   /* a streamed set, as it is read back */
            sets[s]->normalise = 1;
            sets[s]->mean = fe.input_mean;
            sets[s]->std = fe.input_std;
        }
        for (int s = 0; s < 2; s++)
            for (size_t i = 0; i < sets[s]->n && !sets[s]->streamed; i++)
                example_normalise(&sets[s]->ex[i], fe.input_mean, fe.input_std);
    }
    vg_frontend_to_model(m, &fe);

    if (cfg->balance_speakers) {
        const char **names = malloc(sizeof(char *) * (tr.n ? tr.n : 1));
        int *labels = malloc(sizeof(int) * (tr.n ? tr.n : 1));
        rc = names && labels ? VG_OK : VG_ENOMEM;
        for (size_t i = 0; !rc && i < tr.n; i++) { names[i] = tr.ex[i].speaker; labels[i] = tr.ex[i].label; }
        if (!rc) rc = epoch_sampler_init(&sampler, tr.n, names, labels, 1);
        free(names);
        free(labels);
        if (rc) goto out;
    } else {
        epoch_sampler_init(&sampler, tr.n, NULL, NULL, 0);   /* a shuffle: allocates nothing */
    }
    float weights[2] = {1, 1};
    if (cfg->balance) {
        /* the classes' shares of what an epoch draws: of the recordings, or
         * of the speakers when epochs go speaker by speaker */
        double n = (double)tr.n, c1 = 0;
        for (size_t i = 0; i < tr.n; i++) c1 += tr.ex[i].label;
        if (cfg->balance_speakers) { n = (double)sampler.n_speakers; c1 = (double)sampler.per_class[1]; }
        weights[0] = (float)(n / (2.0 * (n - c1)));
        weights[1] = (float)(n / (2.0 * c1));
    }

    vg_optim_config oc = cfg->optim;
    if (oc.schedule == VG_LR_COSINE && oc.total <= 0) oc.total = cfg->epochs;
    vg_optimizer *opt = vg_optimizer_create(m, &oc);
    float *best = malloc(sizeof(float) * m->n_arena);
    res->history = calloc((size_t)cfg->epochs, sizeof(vg_epoch_stats));
    const int c = tr.ex[0].c, H = tr.ex[0].h;
    const int T = logmel ? frontend_window_frames(&fe) : tr.ex[0].w;
    const size_t per = (size_t)c * H * T;
    float *xb = malloc(sizeof(float) * per * (size_t)cfg->batch);
    int *lb = malloc(sizeof(int) * (size_t)cfg->batch);
    size_t *perm = malloc(sizeof(size_t) * tr.n);
    example *streamed = tr.streamed ? calloc((size_t)cfg->batch, sizeof(example)) : NULL;   /* a batch's, read back */
    if (!opt || !best || !res->history || !xb || !lb || !perm || (tr.streamed && !streamed)) { rc = VG_ENOMEM; goto done_train; }

    /* A frozen backbone without augmentation: its outputs are fixed, so run it
     * once per recording and train only the layers after it. */
    int start = 0, stop_at = nn_first_trainable(m);
    /* the cached part must also behave the same in training: stop before dropout */
    for (int i = 0; i < stop_at; i++)
        if (m->layers[i].kind == L_DROPOUT) { stop_at = i; break; }
    if (cfg->freeze_features && !cfg->no_prefix_cache && (!logmel || cfg->augment == 0) &&
        stop_at > 0 && stop_at < m->n_layers && nn_can_start_at(m, stop_at)) {
        start = stop_at;
        if ((rc = cache_prefix(m, &tr, T, start, &fe, logmel)) || (rc = cache_prefix(m, &va, 0, start, &fe, logmel)))
            goto done_train;
        res->prefix_cached = 1;
    }
    size_t per_start = per;
    if (start) {
        nn_plan(m, 1, H, T, 0);
        per_start = (size_t)m->layers[start].ic * m->layers[start].ih * m->layers[start].iw;
        float *grown = realloc(xb, sizeof(float) * (per > per_start ? per : per_start) * (size_t)cfg->batch);
        if (!grown) { rc = VG_ENOMEM; goto done_train; }
        xb = grown;
    }

    train_state st = {.epoch = 0, .batch = 0, .best_loss = INFINITY, .best_epoch = 0};
    memcpy(best, m->arena, sizeof(float) * m->n_arena);
    if (cfg->resume) {
        rc = checkpoint_load(cfg->checkpoint, cfg, m, opt, best, &st, res->history, &fe, err, errlen);
        if (rc) goto done_train;
    }
    const size_t nb = (tr.n + (size_t)cfg->batch - 1) / (size_t)cfg->batch;
    for (; st.epoch < cfg->epochs; st.epoch++, st.batch = 0) {
        double t0 = omp_get_wtime() - st.elapsed;
        float lr = vg_lr_at(&oc, st.epoch);
        if (cfg->unfreeze_after > 0 && st.epoch >= cfg->unfreeze_after) {
            /* the whole network now learns, gently */
            if (cfg->freeze_features) nn_freeze_features(m, 0);
            start = 0;
            lr *= 0.1f;
        }
        vg_optimizer_set_lr(opt, lr);
        /* this epoch's order: a function of (seed, epoch) only */
        uint64_t r = stream(cfg->seed, 1000 + (uint64_t)st.epoch, 0);
        epoch_order(&sampler, &r, perm);
        if (st.batch == 0) { st.loss_sum = 0; st.correct = 0; st.seen = 0; }
        for (; st.batch < nb; st.batch++) {
            if (cfg->stop && *cfg->stop) {
                st.elapsed = omp_get_wtime() - t0;
                if (cfg->checkpoint)
                    checkpoint_save(cfg->checkpoint, cfg, m, opt, best, &st, res->history, &fe);
                res->interrupted = 1;
                goto finish;
            }
            size_t from = st.batch * (size_t)cfg->batch;
            int n = (int)((tr.n - from) < (size_t)cfg->batch ? tr.n - from : (size_t)cfg->batch);
            uint64_t ar = stream(cfg->seed, 2000 + (uint64_t)st.epoch, st.batch);
            int Tb = T;   /* this batch's length */
            if (logmel && !start && (cfg->augment & VG_AUG_LENGTH) && (rng_next(&ar) & 1)) {
                int min_t = 1 + (int)(fe.mel.sample_rate / fe.mel.hop_length);   /* 1 s */
                if (min_t < T) Tb = min_t + (int)(rng_next(&ar) % (uint64_t)(T - min_t + 1));
            }
            const size_t per_b = (size_t)c * H * Tb;
            if (tr.streamed) {   /* this batch's examples, read back in parallel */
                long bad = -1;   /* one that could not be */
#pragma omp parallel for schedule(dynamic, 1)
                for (int k = 0; k < n; k++)
                    if (example_load(&tr, &tr.ex[perm[from + k]], &streamed[k])) {
#pragma omp atomic write
                        bad = k;
                    }
                if (bad >= 0) {
                    for (int k = 0; k < n; k++) example_free(&streamed[k]);
                    rc = vg_errf(VG_EIO, err, errlen, "%s: cannot be read again (changed or removed during training)",
                                 tr.ex[perm[from + bad]].path);
                    goto done_train;
                }
            }
            for (int k = 0; k < n; k++) {
                const example *e = tr.streamed ? &streamed[k] : &tr.ex[perm[from + k]];
                if (start) memcpy(xb + per_start * k, e->px, sizeof(float) * per_start);
                else if (logmel) fill_logmel(xb + per_b * k, e, Tb, cfg->augment, &ar, &fe);
                else memcpy(xb + per * k, e->x, sizeof(float) * per);
                lb[k] = e->label;
            }
            if (tr.streamed)
                for (int k = 0; k < n; k++) example_free(&streamed[k]);
            float loss;
            int correct;
            rc = nn_train_step(m, opt, xb, lb, n, H, Tb, cfg->balance ? weights : NULL, start, &loss, &correct);
            if (rc) goto done_train;
            st.loss_sum += (double)loss * n;
            st.correct += correct;
            st.seen += n;
            if (cb && cb->batch) cb->batch(cb->ctx, st.epoch + 1, st.batch + 1, nb, loss);
        }
        vg_epoch_stats *h = &res->history[st.epoch];
        h->epoch = st.epoch + 1;
        h->lr = lr;
        h->train_loss = (float)(st.loss_sum / (double)st.seen);
        h->train_acc = (float)st.correct / (float)st.seen;
        if (evaluate(m, &va, start, &h->val_loss, &h->val_acc)) {
            rc = vg_errf(VG_EIO, err, errlen, "a validation recording cannot be read again (changed or removed during training)");
            goto done_train;
        }
        h->seconds = omp_get_wtime() - t0;
        st.elapsed = 0;
        int improved = h->val_loss < st.best_loss;
        if (improved) {
            st.best_loss = h->val_loss;
            st.best_epoch = st.epoch + 1;
            memcpy(best, m->arena, sizeof(float) * m->n_arena);
        }
        if (cb && cb->epoch) cb->epoch(cb->ctx, h, improved);
        res->n_epochs = st.epoch + 1;
        if (cfg->checkpoint) {
            train_state next = st;
            next.epoch++;
            next.batch = 0;
            checkpoint_save(cfg->checkpoint, cfg, m, opt, best, &next, res->history, &fe);
        }
        if (cfg->patience > 0 && st.epoch + 1 - st.best_epoch >= cfg->patience) {
            st.epoch++;
            break;
        }
    }
finish:
    res->n_epochs = st.epoch < cfg->epochs ? st.epoch : cfg->epochs;
    if (res->interrupted) res->n_epochs = st.epoch;
    res->best_epoch = st.best_epoch;
    /* the last model, and a copy holding the best weights */
    history_meta(m, res->history, res->n_epochs);
    provenance(m, cfg, res->n_epochs, tr.n, va.n);
    if (cfg->init) {
        vg_model_set_meta(m, "fine_tuned_from", vg_model_meta(cfg->init, "trained_on") ?
                          vg_model_meta(cfg->init, "trained_on") : "(initial model)");
        vg_model_set_meta(m, "frozen", cfg->freeze_features ? "features (conv, batch norm)" : "none");
    }
    res->last = m;
    rc = nn_build(m->arch, &res->best, NULL, 0);
    if (!rc) {
        memcpy(res->best->arena, best, sizeof(float) * m->n_arena);
        for (int i = 0; i < m->n_meta; i++) vg_model_set_meta(res->best, m->meta[i].key, m->meta[i].value);
        char v[32];
        snprintf(v, sizeof v, "%d", st.best_epoch);
        vg_model_set_meta(res->best, "selected_epoch", v);
        vg_model_set_meta(res->best, "selected_by", "lowest validation loss");
    }
    {   /* the last model says so too: a file alone tells which one it is */
        char v[32];
        snprintf(v, sizeof v, "%d", res->n_epochs);
        vg_model_set_meta(m, "selected_epoch", v);
        vg_model_set_meta(m, "selected_by", "last epoch");
    }
    m = NULL;
done_train:
    vg_optimizer_destroy(opt);
    free(best); free(xb); free(lb); free(perm); free(streamed);
out:
    free_set(&tr);
    free_set(&va);
    epoch_sampler_free(&sampler);
    vg_model_destroy(m);
    if (rc) vg_train_result_free(res);
    return rc;
}

void vg_train_result_free(vg_train_result *r)
{
    if (!r) return;
    vg_model_destroy(r->best);
    vg_model_destroy(r->last);
    free(r->history);
    memset(r, 0, sizeof *r);
}
