/* voxgender train DATA --arch cnn|lenet|svm -o MODEL: train, select by
 * validation loss, report the kept model's Test accuracy. */
#include "cli.h"
#include "evaluate.h"
#include "progress.h"
#include "voxgender.h"

#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: voxgender train DATA --arch cnn|lenet|svm -o MODEL [options]\n"
        "\n"
        "Train a classifier on DATA/Train, keep the model with the lowest validation loss\n"
        "on DATA/Validation (written to MODEL; the last epoch's to MODEL.last.safetensors),\n"
        "then report its accuracy on DATA/Test. Features are cached, so a second run on\n"
        "the same data does not decode again.\n"
        "\n"
        "architectures:\n"
        "  cnn     voxgender's CNN on the full 128 x 481 log-mel (default)\n"
        "  lenet   the reference project's CNN on its 3x32x32 spectrogram image, with its\n"
        "          recipe by default (SGD lr 0.01 momentum 0.9, 20 epochs)\n"
        "  svm     the reference baseline: linear SVM (LIBLINEAR) on 60000 raw samples\n"
        "\n"
        "options:\n"
        "  -o, --output MODEL      model file to write (required)\n"
        "      --arch A            cnn, lenet, svm, or an architecture description\n"
        "      --epochs N          epochs (cnn 30, lenet 20)\n"
        "      --batch N           batch size (cnn 32, lenet 16)\n"
        "      --lr X              learning rate (cnn 0.001, lenet 0.01)\n"
        "      --optimizer O       sgd, adam or adamw (cnn adamw, lenet sgd)\n"
        "      --momentum X        SGD momentum (0.9)\n"
        "      --weight-decay X    weight decay (cnn 0.01, lenet 0)\n"
        "      --schedule S        constant, step or cosine (cnn cosine, lenet constant)\n"
        "      --clip X            clip the gradient norm at X (off)\n"
        "      --patience N        stop after N epochs without a better validation loss\n"
        "                          (cnn 6, lenet off; 0 = off)\n"
        "      --augment LIST      log-mel augmentation: all, none, or a comma list of\n"
        "                          crop (random window offset), gain (+-12 dB), noise\n"
        "                          (5-30 dB SNR), time and freq (masks), band (telephone\n"
        "                          band or 3.5-7.5 kHz low-pass), reverb (RT60 0.2-0.8 s),\n"
        "                          length (1-6 s batches), warp (frequency axis scaled by\n"
        "                          0.9-1.1, not in all), pitch (pitch x0.71-1.41 with the\n"
        "                          formants kept, not in all), codec (a real Opus 8-24\n"
        "                          kbit/s or MP3 16-32 kbit/s round trip of each recording,\n"
        "                          made once and cached; not in all), colour (the noise\n"
        "                          white to brown, 1/f^0-2, instead of the same power in\n"
        "                          every mel band; not in all), white (all of the noise\n"
        "                          white; not in all), wavenoise (white noise added to\n"
        "                          each recording's samples at 5-20 dB SNR, made once and\n"
        "                          cached, instead of the other noise; not in all),\n"
        "                          wavepitch (each recording's pitch moved towards the\n"
        "                          other class's, women x0.71-0.87, men x1.15-1.41, with\n"
        "                          its formants kept, by Rubber Band; made once and\n"
        "                          cached; not in all), hardcut (with band: nothing left\n"
        "                          above a telephone line's 4 kHz or the low-pass's cut,\n"
        "                          as a real line or codec leaves it, instead of 40 dB\n"
        "                          less; not in all); each on half of the examples;\n"
        "                          e.g. all,codec (cnn: all; log-mel models only: an\n"
        "                          error with lenet or svm)\n"
        "      --balance           weight the loss by inverse class frequency\n"
        "      --balance-speakers  draw each epoch speaker by speaker: every Train speaker\n"
        "                          (the folder under Male/Female, or --manifest's column)\n"
        "                          equally often, one of their recordings at random\n"
        "      --n-fft N           log-mel FFT size in samples (400 = 25 ms); a longer\n"
        "                          one resolves the harmonics of low voices (cnn)\n"
        "      --win-length N      analysis window in samples (default: the FFT size)\n"
        "      --seed N            random seed (1); same seed, same model (lenet: and threads)\n"
        "      --svm-input I       raw (default) or mel\n"
        "      --svm-c X           SVM cost C (1.0)\n"
        "      --sweep SPEC        train every combination, e.g.\n"
        "                          \"lr=0.01,0.001;batch=16,64;optimizer=sgd,adam\"\n"
        "                          keys: lr batch optimizer momentum weight-decay epochs seed\n"
        "                          svm-c; prints a table ranked by final validation loss\n"
        "                          and keeps the best model\n"
        "      --resume            continue an interrupted run from MODEL.ckpt\n"
        "      --init MODEL        transfer learning: start from MODEL (a voxgender model, or a\n"
        "                          PyTorch .pth, its architecture recognised or named by\n"
        "                          --arch), keep its\n"
        "                          front end, replace its output layer if it has another\n"
        "                          number of classes (an ImageNet VGG's or ResNet's\n"
        "                          1000 -> 2); vgg* and resnet18 get the reference recipe\n"
        "                          (Adam lr 0.001, batch 16, 10 epochs, no augmentation)\n"
        "      --freeze F          with --init: features (default: convolution and batch-norm\n"
        "                          layers stay fixed; without augmentation they run once per\n"
        "                          recording, not once per epoch) or none\n"
        "      --unfreeze-after N  with --init: after N epochs train everything at a tenth\n"
        "                          of the learning rate\n"
        "      --data-name TEXT    what the model was trained on, as its trained_on\n"
        "                          metadata says (default: the DATA path)\n"
        "      --manifest CSV      speaker (and gender) per file: path,speaker[,gender]\n"
        "      --per-speaker N     at most N recordings of each speaker in Train and\n"
        "                          Validation, drawn by --seed and spread over the speaker's\n"
        "                          folders (a large dataset's features then fit in memory)\n"
        "      --max-memory GB     features held in memory at most (default: the memory\n"
        "                          available, less 1 GB; off: no limit). Past it, cnn reads\n"
        "                          them back from the feature cache batch by batch (the same\n"
        "                          model); without the cache, training stops with an error.\n"
        "                          Not for svm: it refuses what the memory available cannot\n"
        "                          hold\n"
        "      --cache DIR         feature cache (default ~/.cache/voxgender)\n"
        "      --no-cache          do not read or write cached features\n"
        "  -q, --quiet             no progress bars\n"
        "  -h, --help              show this help\n"
        "\n"
        "Ctrl-C or SIGTERM stops after the current batch and writes MODEL.ckpt;\n"
        "--resume with the same options then gives the same model as an uninterrupted run.\n");
}

/* The kept model to OUT and the last epoch's (LAST may be NULL) to
 * LAST_PATH; 0, or -1 with the error printed, naming the file that failed. */
static int save_models(const vg_model *best, const char *out, const vg_model *last, const char *last_path)
{
    const char *failed = out;
    int rc = vg_model_save(best, out);
    if (!rc && last && (rc = vg_model_save(last, last_path))) failed = last_path;
    if (rc) cli_error("%s: cannot write the model (%s)", failed, cli_write_reason(rc));
    return rc ? -1 : 0;
}

static volatile int stop_flag;
static void on_signal(int sig) { (void)sig; stop_flag = 1; }

typedef struct train_ui {
    progress prog;
    int quiet, epochs, started;
    double t0;
} train_ui;

static void cb_features(void *ctx, size_t done, size_t total)
{
    train_ui *u = ctx;
    if (!u->started) {
        progress_init(&u->prog, "features", total, u->quiet);
        u->started = 1;
    }
    progress_step(&u->prog);
    if (done == total) { progress_finish(&u->prog); u->started = 0; }
}

static void cb_file_error(void *ctx, const char *path, int status)
{
    train_ui *u = ctx;
    progress_message(&u->prog, "voxgender: %s: %s (skipped)", path, vg_strerror(status));
}

static void cb_batch(void *ctx, int epoch, size_t done, size_t total, float loss)
{
    train_ui *u = ctx;
    (void)loss;
    if (done == 1) {
        static char label[32];
        snprintf(label, sizeof label, "epoch %d/%d", epoch, u->epochs);
        progress_init(&u->prog, label, total, u->quiet);
    }
    progress_step(&u->prog);
    if (done == total) progress_finish(&u->prog);
}

static void cb_epoch(void *ctx, const vg_epoch_stats *s, int improved)
{
    train_ui *u = ctx;
    progress_finish(&u->prog);
    fprintf(stderr, "epoch %3d/%d  train loss %.4f acc %5.1f%%  val loss %.4f acc %5.1f%%  lr %.2g  %5.1f s%s\n",
            s->epoch, u->epochs, s->train_loss, 100 * s->train_acc, s->val_loss, 100 * s->val_acc, s->lr,
            s->seconds, improved ? "  *best" : "");
}

/* ---- options that a sweep can vary */
typedef struct run_opts {
    vg_train_config cfg;
    double svm_c;
    int svm_mel;
} run_opts;

static int parse_optimizer(const char *s, vg_opt_kind *k)
{
    if (!strcmp(s, "sgd")) *k = VG_OPT_SGD;
    else if (!strcmp(s, "adam")) *k = VG_OPT_ADAM;
    else if (!strcmp(s, "adamw")) *k = VG_OPT_ADAMW;
    else return -1;
    return 0;
}

static int set_key(run_opts *r, const char *key, const char *val)
{
    char opt[64];
    snprintf(opt, sizeof opt, "--%s", key);
    double d;
    int i;
    if (!strcmp(key, "lr")) { if (cli_parse_double(opt, val, 1e-8, 10, &d)) return -1; r->cfg.optim.lr = (float)d; }
    else if (!strcmp(key, "batch")) { if (cli_parse_int(opt, val, 1, 4096, &r->cfg.batch)) return -1; }
    else if (!strcmp(key, "epochs")) { if (cli_parse_int(opt, val, 1, 100000, &r->cfg.epochs)) return -1; }
    else if (!strcmp(key, "seed")) { if (cli_parse_int(opt, val, 0, 2147483647, &i)) return -1; r->cfg.seed = (uint64_t)i; }
    else if (!strcmp(key, "momentum")) { if (cli_parse_double(opt, val, 0, 0.999, &d)) return -1; r->cfg.optim.momentum = (float)d; }
    else if (!strcmp(key, "weight-decay")) { if (cli_parse_double(opt, val, 0, 10, &d)) return -1; r->cfg.optim.weight_decay = (float)d; }
    else if (!strcmp(key, "svm-c")) { if (cli_parse_double(opt, val, 1e-9, 1e9, &r->svm_c)) return -1; }
    else if (!strcmp(key, "optimizer")) {
        if (parse_optimizer(val, &r->cfg.optim.kind)) { cli_error("--optimizer: expected sgd, adam or adamw, got '%s'", val); return -1; }
    } else {
        cli_error("--sweep: unknown key '%s' (lr batch optimizer momentum weight-decay epochs seed svm-c)", key);
        return -1;
    }
    return 0;
}

#define MAX_KEYS 8
#define MAX_VALS 16
typedef struct sweep {
    int n_keys;
    char *key[MAX_KEYS];
    char *val[MAX_KEYS][MAX_VALS];
    int n_val[MAX_KEYS];
} sweep;

/* "k=v1,v2;k2=v3" -> keys and values; every value checked up front. */
static int parse_sweep(char *spec, sweep *s, const run_opts *base)
{
    memset(s, 0, sizeof *s);
    char *save = NULL;
    for (char *part = strtok_r(spec, ";", &save); part; part = strtok_r(NULL, ";", &save)) {
        while (*part == ' ') part++;
        if (!*part) continue;
        char *eq = strchr(part, '=');
        if (!eq || eq == part || !eq[1]) { cli_error("--sweep: expected key=v1,v2 in '%s'", part); return -1; }
        if (s->n_keys == MAX_KEYS) { cli_error("--sweep: at most %d keys", MAX_KEYS); return -1; }
        *eq = '\0';
        int k = s->n_keys++;
        s->key[k] = part;
        char *vs = NULL;
        for (char *v = strtok_r(eq + 1, ",", &vs); v; v = strtok_r(NULL, ",", &vs)) {
            if (s->n_val[k] == MAX_VALS) { cli_error("--sweep: at most %d values per key", MAX_VALS); return -1; }
            run_opts probe = *base;
            if (set_key(&probe, part, v)) return -1;
            s->val[k][s->n_val[k]++] = v;
        }
        if (!s->n_val[k]) { cli_error("--sweep: no values for '%s'", part); return -1; }
        for (int j = 0; j < k; j++)
            if (!strcmp(s->key[j], part)) { cli_error("--sweep: key '%s' given twice", part); return -1; }
    }
    if (!s->n_keys) { cli_error("--sweep: empty specification"); return -1; }
    return 0;
}

static int parse_augment(const char *s, unsigned *out)
{
    unsigned a = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "all")) a |= VG_AUG_ALL;
        else if (!strcmp(t, "none")) continue;   /* adds nothing: "none" alone is no augmentation */
        else if (!strcmp(t, "crop")) a |= VG_AUG_CROP;
        else if (!strcmp(t, "gain")) a |= VG_AUG_GAIN;
        else if (!strcmp(t, "noise")) a |= VG_AUG_NOISE;
        else if (!strcmp(t, "time")) a |= VG_AUG_TIME_MASK;
        else if (!strcmp(t, "freq")) a |= VG_AUG_FREQ_MASK;
        else if (!strcmp(t, "band")) a |= VG_AUG_BAND;
        else if (!strcmp(t, "reverb")) a |= VG_AUG_REVERB;
        else if (!strcmp(t, "length")) a |= VG_AUG_LENGTH;
        else if (!strcmp(t, "warp")) a |= VG_AUG_WARP;
        else if (!strcmp(t, "pitch")) a |= VG_AUG_PITCH;
        else if (!strcmp(t, "codec")) a |= VG_AUG_CODEC;
        else if (!strcmp(t, "colour")) a |= VG_AUG_COLOUR;
        else if (!strcmp(t, "white")) a |= VG_AUG_WHITE;
        else if (!strcmp(t, "wavenoise")) a |= VG_AUG_WAVENOISE;
        else if (!strcmp(t, "wavepitch")) a |= VG_AUG_WAVEPITCH;
        else if (!strcmp(t, "hardcut")) a |= VG_AUG_HARDCUT;
        else { cli_error("--augment: unknown '%s' (all, none, crop, gain, noise, time, freq, band, reverb, length, warp, pitch, codec, colour, white, wavenoise, wavepitch, hardcut)", t); return -1; }
    }
    *out = a;
    return 0;
}

static char *with_suffix(const char *path, const char *suffix)
{
    size_t n = strlen(path);
    const char *ext = ".safetensors";
    size_t e = strlen(ext);
    size_t stem = n > e && !strcmp(path + n - e, ext) ? n - e : n;
    char *p = malloc(stem + strlen(suffix) + 1);
    if (p) { memcpy(p, path, stem); strcpy(p + stem, suffix); }
    return p;
}

typedef struct run_result {
    float val_loss, val_acc;     /* final epoch */
    float best_loss;
    int epochs, interrupted, best_epoch;
    vg_model *best, *last;
    vg_epoch_stats *history;     /* [epochs] (cnn/lenet) */
} run_result;

/* The closing table: every epoch, the kept one marked. */
static void print_history(const run_result *r)
{
    printf("%5s %11s %10s %10s %9s %9s %7s\n", "epoch", "train loss", "train acc", "val loss", "val acc", "lr", "time");
    for (int e = 0; e < r->epochs; e++) {
        const vg_epoch_stats *h = &r->history[e];
        printf("%5d %11.4f %9.1f%% %10.4f %8.1f%% %9.2g %6.1fs%s\n", h->epoch, h->train_loss, 100 * h->train_acc,
               h->val_loss, 100 * h->val_acc, h->lr, h->seconds, h->epoch == r->best_epoch ? "  <- kept" : "");
    }
}

/* 1 when the network (INIT's, else a new ARCH) reads log-mel input, as
 * vg_train decides it: INIT's stored front end, else the input shape. A
 * description that does not build counts as log-mel, so that training
 * reports its error. */
static int reads_logmel(const char *arch, const vg_model *init)
{
    vg_frontend fe;
    if (init && vg_frontend_from_model(init, &fe) == VG_OK) return fe.kind == VG_FE_LOGMEL;
    vg_model *m = NULL;
    if (!init && vg_model_create(arch, 1, &m, NULL, 0)) return 1;
    int rc = vg_frontend_for_input(init ? init : m, &fe);
    vg_model_destroy(m);
    return rc != VG_OK || fe.kind == VG_FE_LOGMEL;
}

/* Validation loss and accuracy of a model given as a file (svm). */
static int val_metrics(const char *model_path, const vg_dataset *d, int jobs, float *loss, float *acc)
{
    size_t n;
    vg_item **items = split_items(d, VG_SPLIT_VALIDATION, &n);
    if (!items) return VG_ENOMEM;
    eval_run r;
    int rc = evaluate_items(model_path, NULL, items, n, jobs, 1, 1, &r);
    double l = 0;
    size_t ok = 0, good = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        if (r.status[i]) continue;
        float p = fminf(fmaxf(r.p_male[i], 1e-7f), 1 - 1e-7f);
        l -= items[i]->label ? log(p) : log(1 - p);
        good += (p >= 0.5f) == items[i]->label;
        ok++;
    }
    *loss = ok ? (float)(l / ok) : NAN;
    *acc = ok ? (float)good / ok : 0;
    eval_run_free(&r);
    free(items);
    return rc;
}

static int run_one(const vg_dataset *d, run_opts *r, int is_svm, const char *out_path, int quiet,
                   int jobs, run_result *res)
{
    memset(res, 0, sizeof *res);
    char err[512];
    train_ui ui = {.quiet = quiet, .epochs = r->cfg.epochs};
    vg_train_callbacks cb = {&ui, cb_features, cb_file_error, cb_batch, cb_epoch};
    if (is_svm) {
        int rc = vg_train_svm(d, r->svm_mel ? VG_FE_MEL_FLAT : VG_FE_RAW, r->svm_c, r->cfg.cache_dir,
                              r->cfg.data_name, &cb, &res->best, err, sizeof err);
        if (rc) { cli_error("train: %s", err); return rc; }
        /* validation numbers through the saved file, as for any model */
        char *tmp = with_suffix(out_path, ".val-tmp.safetensors");
        rc = vg_model_save(res->best, tmp);
        if (!rc) rc = val_metrics(tmp, d, jobs, &res->val_loss, &res->val_acc);
        remove(tmp);
        free(tmp);
        res->best_loss = res->val_loss;
        res->epochs = 1;
        fprintf(stderr, "svm  val loss %.4f acc %5.1f%%\n", res->val_loss, 100 * res->val_acc);
        return rc;
    }
    vg_train_result tr;
    int rc = vg_train(d, &r->cfg, &cb, &tr, err, sizeof err);
    if (rc) { cli_error("train: %s", err); return rc; }
    res->best = tr.best;
    res->last = tr.last;
    res->epochs = tr.n_epochs;
    res->best_epoch = tr.best_epoch;
    res->interrupted = tr.interrupted;
    if (tr.n_epochs > 0) {
        res->val_loss = tr.history[tr.n_epochs - 1].val_loss;
        res->val_acc = tr.history[tr.n_epochs - 1].val_acc;
        res->best_loss = tr.history[tr.best_epoch > 0 ? tr.best_epoch - 1 : 0].val_loss;
    }
    if (tr.n_skipped) fprintf(stderr, "train: %zu unreadable recordings skipped\n", tr.n_skipped);
    if (tr.streamed)
        fprintf(stderr, "train: the features did not fit in memory (%s): each batch read them back from "
                "the feature cache\n", r->cfg.max_memory_gb > 0 ? "--max-memory" : "the memory available");
    res->history = tr.history;
    return VG_OK;
}

static void report_test(const char *model_path, const vg_dataset *d, int jobs, int quiet)
{
    size_t n;
    vg_item **items = split_items(d, VG_SPLIT_TEST, &n);
    if (!items) { cli_error("test split: %s", vg_strerror(VG_ENOMEM)); return; }
    if (!n) {
        printf("no Test split: no test accuracy\n");
        free(items);
        return;
    }
    eval_run r;
    scored_set s = {0};
    vg_metrics m;
    int rc = evaluate_items(model_path, NULL, items, n, jobs, 0, quiet, &r);
    if (!rc) rc = scored_of_run(items, n, &r, &s);
    if (!rc && !s.n)
        printf("test split: none of its %zu recordings could be classified\n", n);
    else if (!rc && (rc = vg_metrics_compute(s.labels, s.p_male, s.speakers, s.n, &m)) == VG_OK) {
        printf("test split (%s):\n", model_path);
        print_metrics(&m, "  ");
        vg_metrics_free(&m);
    }
    if (rc) cli_error("test split: %s", vg_strerror(rc));
    scored_free(&s);
    eval_run_free(&r);
    free(items);
}

/* A layout train cannot use, said with the command that makes one: a
 * folder of Male/Female recordings without splits, or (except for the SVM,
 * which selects nothing) no Validation split. Returns 1 when reported. */
static int missing_split_hint(const vg_dataset *d, int is_svm, const char *data)
{
    size_t train = 0, validation = 0;
    for (size_t i = 0; i < d->n; i++) {
        train += d->items[i].split == VG_SPLIT_TRAIN;
        validation += d->items[i].split == VG_SPLIT_VALIDATION;
    }
    if (!d->has_splits)
        cli_error("%s: no Train/Validation/Test folders ('voxgender split --from %s --out NEW' makes them, "
                  "speaker-disjoint)", data, data);
    else if (train && !validation && !is_svm)   /* an empty Train is vg_train's to report */
        cli_error("%s: the Validation split is empty, and train keeps the epoch with the lowest validation loss "
                  "('voxgender split --from %s --out NEW' moves some Train speakers there, Test kept)", data, data);
    else
        return 0;
    return 1;
}

int cmd_train(int argc, char **argv)
{
    const char *out = NULL, *arch = "cnn", *manifest = NULL, *cache = vg_default_cache_dir();
    char *sweep_spec = NULL;
    int quiet = 0, resume = 0, jobs = cli_ncpus();
    run_opts base;
    /* options are applied after the architecture's defaults: remember them */
    const char *given[32][2];
    int n_given = 0;
    unsigned augment = 0;
    int augment_set = 0, patience = -1, balance = 0, balance_speakers = 0, svm_mel = 0;
    double svm_c = 1.0, clip = 0;
    const char *schedule = NULL, *init_path = NULL;
    int freeze = -1, unfreeze_after = 0, arch_given = 0, n_fft = 0, win_length = 0;
    const char *data_name = NULL;
    int per_speaker = 0;
    double max_memory_gb = 0;   /* 0: the library's default, the memory available */
    enum { O_ARCH = 256, O_EPOCHS, O_BATCH, O_LR, O_OPT, O_MOM, O_WD, O_SEED, O_AUG, O_PAT, O_BAL, O_BALSPK,
           O_SVMIN, O_SVMC, O_SWEEP, O_RESUME, O_MANIFEST, O_CACHE, O_NOCACHE, O_SCHED, O_CLIP,
           O_INIT, O_FREEZE, O_UNFREEZE, O_NFFT, O_WIN, O_DATANAME, O_PERSPK, O_MAXMEM };
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"arch", required_argument, 0, O_ARCH},
        {"epochs", required_argument, 0, O_EPOCHS}, {"batch", required_argument, 0, O_BATCH},
        {"lr", required_argument, 0, O_LR}, {"optimizer", required_argument, 0, O_OPT},
        {"momentum", required_argument, 0, O_MOM}, {"weight-decay", required_argument, 0, O_WD},
        {"seed", required_argument, 0, O_SEED}, {"augment", required_argument, 0, O_AUG},
        {"patience", required_argument, 0, O_PAT}, {"balance", no_argument, 0, O_BAL},
        {"balance-speakers", no_argument, 0, O_BALSPK},
        {"svm-input", required_argument, 0, O_SVMIN}, {"svm-c", required_argument, 0, O_SVMC},
        {"sweep", required_argument, 0, O_SWEEP}, {"resume", no_argument, 0, O_RESUME},
        {"manifest", required_argument, 0, O_MANIFEST}, {"cache", required_argument, 0, O_CACHE},
        {"no-cache", no_argument, 0, O_NOCACHE}, {"schedule", required_argument, 0, O_SCHED},
        {"clip", required_argument, 0, O_CLIP}, {"quiet", no_argument, 0, 'q'},
        {"init", required_argument, 0, O_INIT}, {"freeze", required_argument, 0, O_FREEZE},
        {"unfreeze-after", required_argument, 0, O_UNFREEZE},
        {"n-fft", required_argument, 0, O_NFFT}, {"win-length", required_argument, 0, O_WIN},
        {"data-name", required_argument, 0, O_DATANAME},
        {"per-speaker", required_argument, 0, O_PERSPK}, {"max-memory", required_argument, 0, O_MAXMEM},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case O_ARCH: arch = optarg; arch_given = 1; break;
        case O_INIT: init_path = optarg; break;
        case O_FREEZE:
            if (!strcmp(optarg, "features")) freeze = 1;
            else if (!strcmp(optarg, "none")) freeze = 0;
            else { cli_error("--freeze: expected features or none, got '%s'", optarg); return 2; }
            break;
        case O_UNFREEZE: if (cli_parse_int("--unfreeze-after", optarg, 1, 100000, &unfreeze_after)) return 2; break;
        case O_EPOCHS: given[n_given][0] = "epochs"; given[n_given++][1] = optarg; break;
        case O_BATCH: given[n_given][0] = "batch"; given[n_given++][1] = optarg; break;
        case O_LR: given[n_given][0] = "lr"; given[n_given++][1] = optarg; break;
        case O_OPT: given[n_given][0] = "optimizer"; given[n_given++][1] = optarg; break;
        case O_MOM: given[n_given][0] = "momentum"; given[n_given++][1] = optarg; break;
        case O_WD: given[n_given][0] = "weight-decay"; given[n_given++][1] = optarg; break;
        case O_SEED: given[n_given][0] = "seed"; given[n_given++][1] = optarg; break;
        case O_AUG: if (parse_augment(optarg, &augment)) return 2; augment_set = 1; break;
        case O_PAT: if (cli_parse_int("--patience", optarg, 0, 100000, &patience)) return 2; break;
        case O_BAL: balance = 1; break;
        case O_BALSPK: balance_speakers = 1; break;
        case O_SVMIN:
            if (!strcmp(optarg, "mel")) svm_mel = 1;
            else if (strcmp(optarg, "raw")) { cli_error("--svm-input: expected raw or mel, got '%s'", optarg); return 2; }
            break;
        case O_SVMC: if (cli_parse_double("--svm-c", optarg, 1e-9, 1e9, &svm_c)) return 2; break;
        case O_SWEEP: sweep_spec = optarg; break;
        case O_RESUME: resume = 1; break;
        case O_MANIFEST: manifest = optarg; break;
        case O_CACHE: cache = optarg; break;
        case O_NOCACHE: cache = NULL; break;
        case O_SCHED: schedule = optarg; break;
        case O_CLIP: if (cli_parse_double("--clip", optarg, 0, 1e6, &clip)) return 2; break;
        case O_NFFT: if (cli_parse_int("--n-fft", optarg, 64, 8192, &n_fft)) return 2; break;
        case O_DATANAME: data_name = optarg; break;
        case O_PERSPK: if (cli_parse_int("--per-speaker", optarg, 1, 1000000000, &per_speaker)) return 2; break;
        case O_MAXMEM:
            if (!strcmp(optarg, "off")) max_memory_gb = -1;
            else if (cli_parse_double("--max-memory", optarg, 0.001, 1e6, &max_memory_gb)) return 2;
            break;
        case O_WIN: if (cli_parse_int("--win-length", optarg, 16, 8192, &win_length)) return 2; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: cli_error("train: unknown or incomplete option '%s' (see --help)", argv[optind - 1]); return 2;
        }
        if (n_given >= 32) { cli_error("train: too many options"); return 2; }
    }
    if (argc - optind != 1) { cli_error("train: expected one dataset folder (see --help)"); return 2; }
    if (!out) { cli_error("train: no output model (use -o MODEL)"); return 2; }
    if (cli_require_writable(out, 0, "the model")) return 2;   /* before the training, not after it */
    vg_model *init = NULL;
    if (init_path) {
        char ierr[512];
        if (cli_load_model(init_path, arch_given ? arch : NULL, &init, ierr, sizeof ierr)) {
            cli_error("%s: %s", init_path, ierr);
            return 2;
        }
        /* the recipe follows the initial model's family */
        const char *name = vg_model_meta(init, "arch_name");
        arch = name && (!strncmp(name, "vgg", 3) || !strncmp(name, "resnet", 6)) ? "imagenet"
               : name && !strcmp(name, "lenet") ? "lenet" : "cnn";
    } else if (freeze >= 0 || unfreeze_after) {
        cli_error("train: --freeze and --unfreeze-after need --init MODEL");
        return 2;
    }
    int is_svm = !strcmp(arch, "svm");
    if (is_svm && init) { cli_error("train: --init does not apply to svm"); vg_model_destroy(init); return 2; }
    if (is_svm && augment_set && augment) { cli_error("train: --augment does not apply to svm (it trains on the recordings as they are)"); vg_model_destroy(init); return 2; }
    if (!init && !is_svm && strcmp(arch, "cnn") && strcmp(arch, "lenet") && !vg_arch_builtin(arch) && !strchr(arch, ';')) {
        cli_error("train: unknown architecture '%s' (cnn, lenet, svm, or a description)", arch);
        vg_model_destroy(init);
        return 2;
    }
    if (is_svm && resume) { cli_error("train: --resume does not apply to svm"); vg_model_destroy(init); return 2; }
    if (is_svm && max_memory_gb != 0) {
        /* LIBLINEAR needs every row at once: nothing to stream, so the SVM
         * checks the memory available itself and refuses what cannot fit */
        cli_error("train: --max-memory does not apply to svm (it holds every training row at once, and refuses "
                  "before decoding when they would not fit in the memory available)");
        vg_model_destroy(init);
        return 2;
    }
    if (!is_svm && augment_set && augment && !reads_logmel(arch, init)) {
        /* the library trains image-input models without augmentation */
        cli_error("train: --augment applies to log-mel models only (cnn or a 1x128xT description); %s reads images", init ? "the --init model" : arch);
        vg_model_destroy(init);
        return 2;
    }

    vg_train_config_default(&base.cfg, is_svm ? "cnn" : arch);
    if (init && !strcmp(arch, "imagenet")) {
        /* the reference project's transfer recipe for a torchvision ImageNet
         * network (VGG, ResNet): Adam lr 0.001 on the classifier */
        base.cfg.optim.kind = VG_OPT_ADAM;
        base.cfg.optim.lr = 1e-3f;
        base.cfg.optim.weight_decay = 0;
        base.cfg.optim.schedule = VG_LR_CONSTANT;
        base.cfg.epochs = 10;
        base.cfg.batch = 16;
        base.cfg.patience = 3;
        base.cfg.augment = 0;
    }
    base.cfg.init = init;
    base.cfg.freeze_features = init ? (freeze < 0 ? 1 : freeze) : 0;
    base.cfg.unfreeze_after = unfreeze_after;
    base.svm_c = svm_c;
    base.svm_mel = svm_mel;
    for (int i = 0; i < n_given; i++)
        if (set_key(&base, given[i][0], given[i][1])) { vg_model_destroy(init); return 2; }
    if (augment_set) base.cfg.augment = augment;
    base.cfg.n_fft = n_fft;
    base.cfg.win_length = win_length;
    if (patience >= 0) base.cfg.patience = patience;
    if (schedule) {
        if (!strcmp(schedule, "constant")) base.cfg.optim.schedule = VG_LR_CONSTANT;
        else if (!strcmp(schedule, "step")) { base.cfg.optim.schedule = VG_LR_STEP; base.cfg.optim.step_size = 10; }
        else if (!strcmp(schedule, "cosine")) base.cfg.optim.schedule = VG_LR_COSINE;
        else { cli_error("--schedule: expected constant, step or cosine, got '%s'", schedule); vg_model_destroy(init); return 2; }
    }
    base.cfg.optim.clip_norm = (float)clip;
    base.cfg.balance = balance;
    base.cfg.balance_speakers = balance_speakers;
    base.cfg.cache_dir = cache;
    base.cfg.data_name = data_name ? data_name : argv[optind];
    base.cfg.stop = &stop_flag;
    sweep sw;
    char sweep_buf[4096];   /* the sweep's keys and values point into it */
    if (sweep_spec) {
        if (strlen(sweep_spec) >= sizeof sweep_buf) { cli_error("--sweep: specification too long"); vg_model_destroy(init); return 2; }
        snprintf(sweep_buf, sizeof sweep_buf, "%s", sweep_spec);
        if (parse_sweep(sweep_buf, &sw, &base)) { vg_model_destroy(init); return 2; }
        if (resume) { cli_error("train: --resume cannot be combined with --sweep"); vg_model_destroy(init); return 2; }
    }

    vg_dataset *d;
    char err[512];
    if (vg_dataset_scan(argv[optind], manifest, &d, err, sizeof err)) { cli_error("%s", err); vg_model_destroy(init); return 2; }
    if (missing_split_hint(d, is_svm, argv[optind])) { vg_dataset_free(d); vg_model_destroy(init); return 2; }
    base.cfg.max_memory_gb = max_memory_gb;
    if (per_speaker) {
        size_t before = d->n;
        long dropped = vg_dataset_keep_per_speaker(d, per_speaker, 1u << VG_SPLIT_TRAIN | 1u << VG_SPLIT_VALIDATION,
                                                   base.cfg.seed);
        if (dropped < 0) { cli_error("train: %s", vg_strerror((int)dropped)); vg_dataset_free(d); vg_model_destroy(init); return 1; }
        if (!quiet)
            fprintf(stderr, "train: --per-speaker %d: %ld of %zu recordings left out of Train and Validation\n",
                    per_speaker, dropped, before);
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    char *ckpt = with_suffix(out, ".ckpt");
    char *last_path = with_suffix(out, ".last.safetensors");
    int status = 0;
    if (!sweep_spec) {
        base.cfg.checkpoint = is_svm ? NULL : ckpt;
        base.cfg.resume = resume;
        run_result r;
        if (run_one(d, &base, is_svm, out, quiet, jobs, &r)) { status = 1; goto done; }
        if (r.interrupted) {
            fprintf(stderr, "train: interrupted after %d epochs; checkpoint %s (continue with --resume)\n",
                    r.epochs, ckpt);
            free(r.history);
            vg_model_destroy(r.best);
            vg_model_destroy(r.last);
            status = 130;
            goto done;
        }
        if (save_models(r.best, out, r.last, last_path)) status = 1;
        else {
            remove(ckpt);
            if (!is_svm && r.history) print_history(&r);
            if (!is_svm)
                printf("kept epoch %s of %d (lowest validation loss %.4f): %s; last epoch: %s\n",
                       vg_model_meta(r.best, "selected_epoch"), r.epochs, r.best_loss, out, last_path);
            else
                printf("svm model: %s\n", out);
        }
        vg_model_destroy(r.best);
        vg_model_destroy(r.last);
        free(r.history);
        if (!status) report_test(out, d, jobs, quiet);
        goto done;
    }

    /* ---- sweep: every combination, ranked by final validation loss */
    int total = 1;
    for (int k = 0; k < sw.n_keys; k++) total *= sw.n_val[k];
    typedef struct { char desc[256]; float final_loss, final_acc, best_loss; int epochs; } row;
    row *rows = calloc((size_t)total, sizeof(row));
    int *order = malloc(sizeof(int) * (size_t)total);
    if (!rows || !order) {
        cli_error("train: --sweep: %s", vg_strerror(VG_ENOMEM));
        free(rows);
        free(order);
        status = 1;
        goto done;
    }
    int best_run = -1;
    vg_model *best_model = NULL, *best_last = NULL;
    for (int run = 0; run < total && !stop_flag; run++) {
        run_opts r = base;
        r.cfg.checkpoint = NULL;
        size_t used = 0;
        for (int k = 0, rest = run; k < sw.n_keys; k++) {
            const char *v = sw.val[k][rest % sw.n_val[k]];
            rest /= sw.n_val[k];
            set_key(&r, sw.key[k], v);
            used += (size_t)snprintf(rows[run].desc + used, sizeof rows[run].desc - used, "%s%s=%s",
                                     k ? " " : "", sw.key[k], v);
        }
        fprintf(stderr, "== run %d/%d: %s\n", run + 1, total, rows[run].desc);
        r.cfg.cache_dir = cache;
        run_result rr;
        if (run_one(d, &r, is_svm, out, quiet, jobs, &rr)) { status = 1; break; }
        rows[run].final_loss = rr.val_loss;
        rows[run].final_acc = rr.val_acc;
        rows[run].best_loss = rr.best_loss;
        rows[run].epochs = rr.epochs;
        free(rr.history);
        if (best_run < 0 || rr.val_loss < rows[best_run].final_loss) {
            best_run = run;
            vg_model_destroy(best_model);
            vg_model_destroy(best_last);
            best_model = rr.best;
            best_last = rr.last;
            char v[400];
            snprintf(v, sizeof v, "%s (best of %d by final validation loss)", rows[run].desc, total);
            vg_model_set_meta(best_model, "sweep", v);
        } else {
            vg_model_destroy(rr.best);
            vg_model_destroy(rr.last);
        }
    }
    int done_runs = 0;
    for (int i = 0; i < total; i++) if (rows[i].epochs) order[done_runs++] = i;
    for (int i = 1; i < done_runs; i++)
        for (int j = i; j > 0 && rows[order[j]].final_loss < rows[order[j - 1]].final_loss; j--) {
            int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
        }
    printf("\n%-4s %-44s %10s %9s %10s %6s\n", "rank", "settings", "val loss", "val acc", "best loss", "epochs");
    for (int i = 0; i < done_runs; i++) {
        const row *w = &rows[order[i]];
        printf("%-4d %-44s %10.4f %8.1f%% %10.4f %6d\n", i + 1, w->desc, w->final_loss, 100 * w->final_acc,
               w->best_loss, w->epochs);
    }
    if (best_model) {
        if (save_models(best_model, out, best_last, last_path)) status = 1;
        else {
            printf("\nkept: %s -> %s\n", rows[best_run].desc, out);
            report_test(out, d, jobs, quiet);
        }
    }
    if (stop_flag) { fprintf(stderr, "train: sweep interrupted\n"); status = 130; }
    vg_model_destroy(best_model);
    vg_model_destroy(best_last);
    free(rows);
    free(order);
done:
    free(ckpt);
    free(last_path);
    vg_dataset_free(d);
    vg_model_destroy(init);
    return status;
}
