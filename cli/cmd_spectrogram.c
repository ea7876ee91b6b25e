/* voxgender spectrogram: recordings -> log-mel spectrogram images (+ .npy). */
#include "cli.h"
#include "progress.h"
#include "voxgender.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: voxgender spectrogram [options] INPUT... -o OUTDIR\n"
        "\n"
        "Write the base-2 log-mel spectrogram of each recording as OUTDIR/<name>.png\n"
        "(8-bit grey, rows = 128 mel bands with low frequencies at the bottom,\n"
        "columns = frames, min-max scaled). Any audio or video file FFmpeg reads is\n"
        "accepted; it is downmixed to mono and resampled to 16 kHz. An INPUT folder\n"
        "stands for every file under it (recursively), written with its path inside\n"
        "the folder: DATA/Male/id1/00001.wav -> OUTDIR/Male/id1/00001.png. '-' reads\n"
        "a recording from standard input, written as OUTDIR/stdin.png.\n"
        "\n"
        "options:\n"
        "  -o, --output DIR   output folder, created if missing (required)\n"
        "      --seconds S    window length in seconds (default 6.0); shorter\n"
        "                     recordings are zero-padded and reported as padded\n"
        "      --offset S     start of the window in seconds (default 0); an offset\n"
        "                     past the end of a recording is an error\n"
        "      --seed-compat  reproduce the reference project's images exactly: first\n"
        "                     60000 samples (3.75 s), |log2 mel| rounded to 0..255,\n"
        "                     matplotlib grey map, lowest band on the top row (301x128)\n"
        "      --format F     png (default) or jpeg (RGB, quality 75, as the reference)\n"
        "      --raw          also write the log2-mel matrix [128 x frames] as <name>.npy\n"
        "                     (float32; zero power floored at 1e-10, i.e. -33.22)\n"
        "  -j, --jobs N       files processed in parallel (default: number of cores)\n"
        "  -q, --quiet        no progress bar, no notes, no summary\n"
        "  -h, --help         show this help\n"
        "\n"
        "Exit status: 0 all files written, 1 some files failed, 2 usage error or an\n"
        "output folder that cannot be made.\n");
}

typedef struct job_config {
    const char *outdir;
    double seconds, offset;
    int seed_compat, raw, jpeg, quiet;
} job_config;

typedef struct file_result {
    int status;          /* VG_OK or error code */
    const char *cause;   /* overrides vg_strerror(status) when set */
    char cause_buf[160]; /* a cause with the system's reason in it */
    int padded;
    double source_seconds;
} file_result;

typedef struct batch {
    const job_config *cfg;
    const cli_input *in;   /* the inputs' paths (cli_inputs) */
    char **names;        /* output base names */
    file_result *results;
    size_t n;
    size_t next;         /* next file index to claim */
    pthread_mutex_t lock;
    progress prog;
} batch;

/* "dir/clip.flac" -> "clip", "-" -> "stdin"; a file found in a folder the user named keeps
 * its path inside it: "data/" + "Male/id1/00001.wav" -> "Male/id1/00001"
 * (VoxCeleb's names repeat from folder to folder) */
static char *output_name(const cli_input *in)
{
    if (!strcmp(in->path, "-")) return strdup("stdin");   /* "-.png" would read as an option */
    char *copy = strdup(in->path);
    if (!copy) return NULL;
    char *base = strdup(in->rel ? in->path + in->rel : basename(copy));
    free(copy);
    if (!base) return NULL;
    char *last = strrchr(base, '/'), *dot = strrchr(base, '.');
    if (dot && dot != base && (!last || dot > last + 1)) *dot = '\0';
    return base;
}

/* the length of NAME's folder part ("Male/id1/00001" -> 8), 0 for none */
static size_t folder_len(const char *name)
{
    const char *slash = strrchr(name, '/');
    return slash ? (size_t)(slash - name) : 0;
}

/* OUTDIR/<name>'s folders, for names with a path */
static int make_name_dirs(const char *outdir, const char *name)
{
    const size_t len = folder_len(name);
    if (!len) return 0;
    size_t n = strlen(outdir) + len + 2;
    char *dir = malloc(n);
    if (!dir) return -1;
    snprintf(dir, n, "%s/%.*s", outdir, (int)len, name);
    int rc = cli_mkdirs(dir);
    free(dir);
    return rc;
}

static char *join(const char *dir, const char *name, const char *ext)
{
    size_t n = strlen(dir) + strlen(name) + strlen(ext) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s%s", dir, name, ext);
    return p;
}

static int process_file(const job_config *cfg, vg_melspec *mel, const char *input,
                        const char *name, file_result *res)
{
    double seconds = cfg->seed_compat ? VG_SEED_SAMPLES / 16000.0 : cfg->seconds;
    double offset = cfg->seed_compat ? 0.0 : cfg->offset;
    float *x = NULL, *spec = NULL;
    char *img_path = NULL, *npy_path = NULL;
    vg_image img = {0};
    vg_clip_info info;

    int rc = vg_audio_load_window(input, offset, seconds, 16000, &x, &info);
    if (rc) goto done;
    res->padded = info.padded;
    res->source_seconds = info.source_seconds;

    size_t n = (size_t)(seconds * 16000 + 0.5);
    int frames = vg_melspec_frames(mel, n);
    spec = malloc(sizeof(float) * 128 * (size_t)frames);
    if (!spec) { rc = VG_ENOMEM; goto done; }
    if ((rc = vg_melspec_power(mel, x, n, spec))) goto done;
    if (cfg->seed_compat) rc = vg_seed_image_from_power(spec, 128, frames, &img);
    vg_power_to_log2(spec, (size_t)128 * frames);
    if (!cfg->seed_compat) rc = vg_spectrogram_to_image(spec, 128, frames, &img);
    if (rc) goto done;

    img_path = join(cfg->outdir, name, cfg->jpeg ? ".jpg" : ".png");
    npy_path = cfg->raw ? join(cfg->outdir, name, ".npy") : NULL;
    if (!img_path || (cfg->raw && !npy_path)) { rc = VG_ENOMEM; goto done; }
    if (cfg->raw) {
        size_t shape[2] = {128, (size_t)frames};
        if ((rc = vg_npy_write_f32(npy_path, spec, shape, 2))) {
            snprintf(res->cause_buf, sizeof res->cause_buf, "cannot write the .npy output (%s)",
                     cli_write_reason(rc));
            res->cause = res->cause_buf;
            goto done;
        }
    }
    rc = cfg->jpeg ? vg_image_write_jpeg(img_path, &img, 75) : vg_image_write_png(img_path, &img);
    if (rc) {
        snprintf(res->cause_buf, sizeof res->cause_buf, "cannot write the image output (%s)",
                 cli_write_reason(rc));
        res->cause = res->cause_buf;
        if (npy_path) remove(npy_path);   /* all outputs of a file, or none */
    }
done:
    free(x);
    free(spec);
    free(img_path);
    free(npy_path);
    vg_image_free(&img);
    return rc;
}

static void *worker(void *arg)
{
    batch *b = arg;
    vg_mel_config mc;
    vg_mel_config_default(&mc);
    vg_melspec *mel = vg_melspec_create(&mc);   /* one FFT plan per thread */
    for (;;) {
        pthread_mutex_lock(&b->lock);
        size_t i = b->next++;
        pthread_mutex_unlock(&b->lock);
        if (i >= b->n) break;
        file_result *r = &b->results[i];
        if (r->status == VG_OK)   /* not already failed (name clash) */
            r->status = mel ? process_file(b->cfg, mel, b->in[i].path, b->names[i], r) : VG_ENOMEM;
        if (r->status)
            progress_message(&b->prog, "voxgender: %s: %s", b->in[i].path,
                             r->cause ? r->cause : vg_strerror(r->status));
        else if (r->padded && !b->cfg->quiet)
            progress_message(&b->prog, "voxgender: %s: note: %.2f s long, zero-padded to %.2f s",
                             b->in[i].path, r->source_seconds,
                             b->cfg->seed_compat ? VG_SEED_SAMPLES / 16000.0 : b->cfg->seconds);
        progress_step(&b->prog);
    }
    vg_melspec_destroy(mel);
    return NULL;
}

static int cmp_name_idx(const void *a, const void *b, void *names)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = strcmp(((char **)names)[i], ((char **)names)[j]);
    return c ? c : (i > j) - (i < j);
}

/* Two inputs with the same base name would write the same output: the later
 * one fails instead of silently overwriting the first. */
static void mark_name_clashes(batch *b)
{
    size_t *idx = malloc(sizeof(size_t) * b->n);
    if (!idx) return;
    for (size_t i = 0; i < b->n; i++) idx[i] = i;
    qsort_r(idx, b->n, sizeof(size_t), cmp_name_idx, b->names);
    for (size_t k = 1; k < b->n; k++) {
        if (strcmp(b->names[idx[k]], b->names[idx[k - 1]]) == 0) {
            b->results[idx[k]].status = VG_EARG;
            b->results[idx[k]].cause = "output name already used by another input";
        }
    }
    free(idx);
}

int cmd_spectrogram(int argc, char **argv)
{
    job_config cfg = {.seconds = 6.0, .offset = 0.0};
    int jobs = cli_ncpus();
    enum { OPT_SECONDS = 256, OPT_OFFSET, OPT_SEED, OPT_RAW, OPT_FORMAT };
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},  {"seconds", required_argument, 0, OPT_SECONDS},
        {"offset", required_argument, 0, OPT_OFFSET}, {"seed-compat", no_argument, 0, OPT_SEED},
        {"raw", no_argument, 0, OPT_RAW},        {"format", required_argument, 0, OPT_FORMAT},
        {"jobs", required_argument, 0, 'j'},     {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:j:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'o': cfg.outdir = optarg; break;
        case OPT_SECONDS:
            if (cli_parse_double("--seconds", optarg, 0.01, 3600, &cfg.seconds)) return 2;
            break;
        case OPT_OFFSET:
            if (cli_parse_double("--offset", optarg, 0, 1e7, &cfg.offset)) return 2;
            break;
        case OPT_SEED: cfg.seed_compat = 1; break;
        case OPT_RAW: cfg.raw = 1; break;
        case OPT_FORMAT:
            if (!strcmp(optarg, "jpeg") || !strcmp(optarg, "jpg")) cfg.jpeg = 1;
            else if (strcmp(optarg, "png")) {
                cli_error("--format: expected png or jpeg, got '%s'", optarg);
                return 2;
            }
            break;
        case 'j':
            if (cli_parse_int("--jobs", optarg, 1, 1024, &jobs)) return 2;
            break;
        case 'q': cfg.quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default:
            cli_error("spectrogram: unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
            return 2;
        }
    }
    if (!cfg.outdir) {
        cli_error("spectrogram: no output folder (use -o OUTDIR)");
        return 2;
    }
    if (argc == optind) {
        cli_error("spectrogram: no input files (see --help)");
        return 2;
    }
    if (cli_mkdirs(cfg.outdir) != 0) {
        cli_error("%s: cannot create output folder (%s)", cfg.outdir, strerror(errno));
        return 2;
    }
    /* files and folders' files */
    cli_input *in;
    int empty;
    const long got = cli_inputs(argv + optind, argc - optind, 0, &in, &empty);
    if (got <= 0) return 1;   /* out of memory, or only empty folders (reported) */
    const size_t n = (size_t)got;

    batch b = {.cfg = &cfg, .in = in, .n = n};
    b.names = calloc(n, sizeof(char *));
    b.results = calloc(n, sizeof(file_result));
    if (!b.names || !b.results) { cli_error("out of memory"); return 1; }
    int dir_rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(b.names[i] = output_name(&in[i]))) { cli_error("out of memory"); return 1; }
        /* a folder's files come in path order: its subfolders are made once */
        const size_t len = folder_len(b.names[i]);
        if (i == 0 || len != folder_len(b.names[i - 1]) || strncmp(b.names[i], b.names[i - 1], len))
            dir_rc = make_name_dirs(cfg.outdir, b.names[i]);
        if (dir_rc) {
            b.results[i].status = VG_EIO;
            b.results[i].cause = "cannot create its folder in the output folder";
        }
    }
    mark_name_clashes(&b);
    pthread_mutex_init(&b.lock, NULL);
    progress_init(&b.prog, "spectrogram", n, cfg.quiet);

    if ((size_t)jobs > n) jobs = (int)n;
    cli_run_threads(jobs, worker, &b);
    progress_finish(&b.prog);

    size_t ok = 0, padded = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (b.results[i].status) failed++;
        else { ok++; padded += b.results[i].padded != 0; }
    }
    if (!cfg.quiet) {
        fprintf(stderr, "spectrogram: %zu file%s: %zu written (%zu padded), %zu failed, %.2f s\n",
                n, n == 1 ? "" : "s", ok, padded, failed, now_seconds() - b.prog.start);
        if (failed) {
            fprintf(stderr, "failed:\n");
            for (size_t i = 0; i < n; i++)
                if (b.results[i].status) {
                    fputs("  ", stderr);
                    cli_put_escaped(stderr, b.in[i].path);
                    fprintf(stderr, ": %s\n",
                            b.results[i].cause ? b.results[i].cause : vg_strerror(b.results[i].status));
                }
        }
    }
    for (size_t i = 0; i < n; i++) free(b.names[i]);
    free(b.names);
    free(b.results);
    cli_inputs_free(in, n);
    return failed || empty ? 1 : 0;
}
