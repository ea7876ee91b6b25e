/* voxgender predict [-m MODEL] INPUT...: male (1) or female (0) per input. */
#include "cli.h"
#include "progress.h"
#include "voxgender.h"

#include <cJSON.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: voxgender predict [-m MODEL] [options] INPUT...\n"
        "\n"
        "Classify each INPUT: a recording (any format FFmpeg reads) or, for lenet\n"
        "models, a spectrogram image (PNG/JPEG, like the reference project's test\n"
        "images). A folder stands for every file under it (recursively, in path\n"
        "order; files that are not recordings are reported and skipped). '-' reads\n"
        "input paths from standard input, one per line, or a recording piped in\n"
        "(ffmpeg -i talk.mp4 -f wav - | voxgender predict -), named '-'. One line per\n"
        "input on stdout, in the order they complete: path, label (male/female), code\n"
        "(1 male, 0 female, as in the reference project), probability of male.\n"
        "A recording with less than 0.5 s of speech (silence, a click, steady noise,\n"
        "instrumental music) gets label unknown, code -1, and the reason, instead of\n"
        "a guess.\n"
        "\n"
        "options:\n"
        "  -m, --model MODEL   model file (default: the installed voxgender model), or a\n"
        "                      PyTorch state_dict (.pth)\n"
        "      --arch A        architecture of a .pth model: lenet (the reference\n"
        "                      project's CNN_handmade_*.pth), cnn, vgg11, vgg13, vgg16,\n"
        "                      vgg19, resnet18, or a description (default: recognised\n"
        "                      from the checkpoint's tensor names and shapes)\n"
        "      --format F      text (default), csv, or json (one object per line with\n"
        "                      path, label, code, p_male, logits)\n"
        "      --window W      all (default: every window of a recording, up to its first\n"
        "                      10 minutes; 'voxgender segment' labels longer ones) or\n"
        "                      first (the reference's: its first window only)\n"
        "  -j, --jobs N        inputs classified in parallel (default: cores)\n"
        "  -q, --quiet         no progress bar or summary\n"
        "  -h, --help          show this help\n"
        "\n"
        "Exit status: 0 all inputs classified, 1 some failed (reported on stderr and\n"
        "skipped), 2 usage error or unusable model.\n");
}

enum { FMT_TEXT, FMT_CSV, FMT_JSON };

typedef struct job {
    const char *model_path;
    const char *arch;
    const cli_input *in;   /* the inputs' paths (cli_inputs) */
    size_t n, next, failed;
    int fmt, first;
    pthread_mutex_t lock;
    progress prog;
    int load_failed;
} job;

/* One result line. REASON set: no speech, so label "unknown", code -1, no
 * probability or logits. */
static void emit(job *j, const char *path, float p, const float *l, const char *reason)
{
    const char *label = reason ? "unknown" : p >= 0.5f ? "male" : "female";
    int code = reason ? -1 : p >= 0.5f;
    if (j->fmt == FMT_JSON) {
        cJSON *o = cJSON_CreateObject();
        cli_json_add_name(o, "path", path);
        cJSON_AddStringToObject(o, "label", label);
        cJSON_AddNumberToObject(o, "code", code);
        if (reason) {
            cJSON_AddNullToObject(o, "p_male");
            cJSON_AddNullToObject(o, "logits");
            cJSON_AddStringToObject(o, "reason", reason);
        } else {
            cJSON_AddNumberToObject(o, "p_male", p);
            const double lg[2] = {l[0], l[1]};
            cJSON_AddItemToObject(o, "logits", cJSON_CreateDoubleArray(lg, 2));
        }
        char *s = cJSON_PrintUnformatted(o);
        printf("%s\n", s);
        free(s);
        cJSON_Delete(o);
    } else if (j->fmt == FMT_CSV) {
        cli_put_csv(stdout, path, 1);   /* file names may hold commas */
        if (reason) printf(",%s,%d,,,\n", label, code);
        else printf(",%s,%d,%.6f,%.6f,%.6f\n", label, code, p, l[0], l[1]);
    } else {
        cli_put_escaped(stdout, path);   /* a tab or newline would break the line */
        if (reason) printf("\t%s\t%d\t-\t%s\n", label, code, reason);
        else printf("\t%s\t%d\t%.4f\n", label, code, p);
    }
    cli_flush_stdout();
}

/* A recording longer than predict reads was classified from its start
 * only: say so, as spectrogram says when it pads. */
static void note_if_cut(job *j, const vg_model *m, const cli_input *in)
{
    double seconds;
    if (!cli_read_only_its_start(m, in->path, j->first, &seconds)) return;
    progress_message(&j->prog,
                     "voxgender: %s: note: %.0f s long, classified from its first %.0f s ('voxgender segment' "
                     "labels all of it)", in->name, seconds, VG_PREDICT_MAX_SECONDS);
}

static void *worker(void *arg)
{
    job *j = arg;
    vg_model *m = NULL;
    char err[256];
    if (cli_load_model(j->model_path, j->arch, &m, err, sizeof err)) { j->load_failed = 1; return NULL; }
    for (;;) {
        pthread_mutex_lock(&j->lock);
        size_t i = j->next++;
        pthread_mutex_unlock(&j->lock);
        if (i >= j->n) break;
        float p, l[2];
        int rc = vg_predict_file(m, j->in[i].path, j->first, &p, l);
        pthread_mutex_lock(&j->lock);
        if (rc == VG_ENOSPEECH) {
            emit(j, j->in[i].name, 0, NULL, vg_strerror(rc));
            pthread_mutex_unlock(&j->lock);
        } else if (rc) {
            j->failed++;
            pthread_mutex_unlock(&j->lock);
            progress_message(&j->prog, "voxgender: %s: %s", j->in[i].name, vg_strerror(rc));
        } else {
            emit(j, j->in[i].name, p, l, NULL);
            pthread_mutex_unlock(&j->lock);
            note_if_cut(j, m, &j->in[i]);
        }
        progress_step(&j->prog);
    }
    vg_model_destroy(m);
    return NULL;
}

int cmd_predict(int argc, char **argv)
{
    const char *model = NULL, *arch = NULL;
    int fmt = FMT_TEXT, first = 0, quiet = 0, jobs = cli_ncpus();
    enum { O_FORMAT = 256, O_WINDOW, O_ARCH };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"format", required_argument, 0, O_FORMAT},
        {"window", required_argument, 0, O_WINDOW}, {"jobs", required_argument, 0, 'j'},
        {"arch", required_argument, 0, O_ARCH},
        {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "m:j:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case O_FORMAT:
            if (!strcmp(optarg, "json")) fmt = FMT_JSON;
            else if (!strcmp(optarg, "csv")) fmt = FMT_CSV;
            else if (strcmp(optarg, "text")) { cli_error("--format: expected text, csv or json, got '%s'", optarg); return 2; }
            break;
        case O_WINDOW: if (cli_parse_window(optarg, &first)) return 2; break;
        case 'j': if (cli_parse_int("--jobs", optarg, 1, 1024, &jobs)) return 2; break;
        case O_ARCH: arch = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: cli_error("predict: unknown or incomplete option '%s' (see --help)", argv[optind - 1]); return 2;
        }
    }
    if (!model && !(model = cli_default_model())) {
        cli_error("predict: no model given and no installed default model (use -m MODEL)");
        return 2;
    }
    char err[512];
    vg_model *probe;
    if (cli_load_model(model, arch, &probe, err, sizeof err)) { cli_error("%s: %s", model, err); return 2; }
    vg_frontend fe;
    if (vg_frontend_from_model(probe, &fe) || vg_model_num_classes(probe) != 2) {
        cli_error("%s: the model does not say which front end it needs (not a classifier file?)", model);
        vg_model_destroy(probe);
        return 2;
    }
    vg_model_destroy(probe);

    /* inputs: files, folders' files, '-' = paths from stdin */
    cli_input *in;
    int empty;
    const long got = cli_inputs(argv + optind, argc - optind, 1, &in, &empty);
    if (got < 0) return 1;
    size_t n = (size_t)got;
    if (!n) { cli_error("predict: no inputs (see --help)"); cli_inputs_free(in, n); return 2; }
    if (fmt == FMT_CSV) printf("path,label,code,p_male,logit_female,logit_male\n");
    job j = {.model_path = model, .arch = arch, .in = in, .n = n, .fmt = fmt, .first = first};
    pthread_mutex_init(&j.lock, NULL);
    progress_init(&j.prog, "predict", n, quiet);
    if ((size_t)jobs > n) jobs = (int)n;
    cli_run_model_workers(jobs, worker, &j);
    progress_finish(&j.prog);
    if (!quiet && n > 1)
        fprintf(stderr, "predict: %zu inputs, %zu classified, %zu failed\n", n, n - j.failed, j.failed);
    cli_inputs_free(in, n);
    return j.load_failed ? 2 : j.failed || empty ? 1 : 0;
}
