/* voxgender segment: who speaks when (male / female / nonspeech) in long
 * recordings, streamed in bounded memory. */
#include "cli.h"
#include "voxgender.h"

#include <cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: voxgender segment [-m MODEL] [options] INPUT...\n"
        "\n"
        "Split long recordings (broadcasts, podcasts, meetings) into male, female and\n"
        "nonspeech segments: start, end, label, mean probability. Decoding streams, so\n"
        "memory stays bounded for any length. A folder stands for every file under it\n"
        "(recursively, in path order); '-' reads a recording from standard input.\n"
        "Speech: frames louder than about -60 dBFS, within 40 dB of the recent maximum,\n"
        "not spectrally flat (steady noise) and changing (not held tones); the CNN\n"
        "classifies consecutive 8 s windows; a three-state Viterbi (nonspeech, female,\n"
        "male) with a switch penalty smooths the decisions.\n"
        "\n"
        "options:\n"
        "  -m, --model MODEL       log-mel model (default: the shipped model)\n"
        "      --format F          csv (default: file,start,end,label,p), json, rttm (speech\n"
        "                          only), textgrid (Praat), audacity (label track)\n"
        "  -o, --output FILE       write there (atomically) instead of standard output\n"
        "      --min-segment S     segments shorter than S seconds merge into the one\n"
        "                          before: pauses within a turn (default 1.0); speech of\n"
        "                          at least 0.5 s after a pause stays (a short utterance)\n"
        "      --switch-penalty X  cost of a change of state, in nats (default 6): higher\n"
        "                          gives fewer, longer segments\n"
        "      --live              read raw 16 kHz mono signed 16-bit little-endian PCM from\n"
        "                          standard input and print each segment as it closes\n"
        "  -q, --quiet             no summary on standard error\n"
        "  -h, --help              show this help\n");
}

enum { F_CSV, F_JSON, F_RTTM, F_TEXTGRID, F_AUDACITY };

typedef struct collect {
    vg_segment *seg;
    size_t n, cap;
    int live, fmt;
    const char *file;
    FILE *out;
} collect;

static const char *segment_label(const vg_segment *s)
{
    return s->label < 0 ? "nonspeech" : vg_label_name(s->label);
}

static void print_segment(FILE *o, int fmt, const char *file, const vg_segment *s)
{
    const char *label = segment_label(s);
    if (fmt == F_AUDACITY) fprintf(o, "%.3f\t%.3f\t%s\n", s->start, s->end, label);
    else if (fmt == F_RTTM) {
        if (s->label >= 0)
            fprintf(o, "SPEAKER %s 1 %.3f %.3f <NA> <NA> %s <NA> <NA>\n", file, s->start, s->end - s->start, label);
    } else {
        cli_put_csv(o, file, 0);   /* file names may hold commas */
        fprintf(o, ",%.3f,%.3f,%s,%.4f\n", s->start, s->end, label, s->p_male);
    }
}

static void on_segment(void *ctx, const vg_segment *s)
{
    collect *c = ctx;
    if (c->live) {
        print_segment(c->out, c->fmt == F_JSON || c->fmt == F_TEXTGRID ? F_CSV : c->fmt, c->file, s);
        fflush(c->out);
    }
    if (c->n == c->cap) {
        vg_segment *a = realloc(c->seg, sizeof(vg_segment) * (c->cap = c->cap ? 2 * c->cap : 256));
        if (!a) return;
        c->seg = a;
    }
    c->seg[c->n++] = *s;
}

/* "file.wav" -> "file" for RTTM/TextGrid ids: one token, so blanks and
 * control characters become '_' (RTTM's fields are separated by blanks) */
static const char *file_id(const char *path, char *buf, size_t n)
{
    const char *b = strrchr(path, '/');
    snprintf(buf, n, "%s", b ? b + 1 : path);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf) *dot = '\0';
    for (unsigned char *c = (unsigned char *)buf; *c; c++)
        if (*c <= ' ' || *c == 0x7f) *c = '_';
    return buf;
}

static void write_textgrid(FILE *o, const collect *c, double dur)
{
    fprintf(o, "File type = \"ooTextFile\"\nObject class = \"TextGrid\"\n\nxmin = 0\nxmax = %.3f\ntiers? <exists>\n"
               "size = 1\nitem []:\n    item [1]:\n        class = \"IntervalTier\"\n        name = \"gender\"\n"
               "        xmin = 0\n        xmax = %.3f\n        intervals: size = %zu\n", dur, dur, c->n);
    for (size_t i = 0; i < c->n; i++) {
        const vg_segment *s = &c->seg[i];
        fprintf(o, "        intervals [%zu]:\n            xmin = %.3f\n            xmax = %.3f\n            text = \"%s\"\n",
                i + 1, s->start, s->end, s->label < 0 ? "" : segment_label(s));
    }
}

static void summary(const char *file, const collect *c, double dur, cJSON *json)
{
    double sp = 0, male = 0, female = 0;
    for (size_t i = 0; i < c->n; i++) {
        double d = c->seg[i].end - c->seg[i].start;
        if (c->seg[i].label == VG_LABEL_MALE) male += d;
        else if (c->seg[i].label == VG_LABEL_FEMALE) female += d;
    }
    sp = male + female;
    if (json) {
        cJSON *s = cJSON_AddObjectToObject(json, "summary");
        cJSON_AddNumberToObject(s, "duration", dur);
        cJSON_AddNumberToObject(s, "speech", sp);
        cJSON_AddNumberToObject(s, "male", male);
        cJSON_AddNumberToObject(s, "female", female);
        cJSON_AddNumberToObject(s, "male_share", sp > 0 ? male / sp : 0);
        cJSON_AddNumberToObject(s, "female_share", sp > 0 ? female / sp : 0);
        return;
    }
    cli_put_escaped(stderr, file);
    fprintf(stderr, ": %.1f s, speech %.1f s (%.0f%%): male %.1f s (%.0f%%), female %.1f s (%.0f%%), %zu segments\n",
            dur, sp, dur > 0 ? 100 * sp / dur : 0, male, sp > 0 ? 100 * male / sp : 0, female,
            sp > 0 ? 100 * female / sp : 0, c->n);
}

int cmd_segment(int argc, char **argv)
{
    const char *model = NULL, *out_path = NULL;
    int fmt = F_CSV, live = 0, quiet = 0;
    vg_segment_config cfg;
    vg_segment_config_default(&cfg);
    enum { O_FORMAT = 256, O_MIN, O_PEN, O_LIVE };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"format", required_argument, 0, O_FORMAT},
        {"output", required_argument, 0, 'o'}, {"min-segment", required_argument, 0, O_MIN},
        {"switch-penalty", required_argument, 0, O_PEN}, {"live", no_argument, 0, O_LIVE},
        {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "m:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'o': out_path = optarg; break;
        case O_FORMAT: {
            const char *names[] = {"csv", "json", "rttm", "textgrid", "audacity"};
            fmt = -1;
            for (int i = 0; i < 5; i++) if (!strcmp(optarg, names[i])) fmt = i;
            if (fmt < 0) { cli_error("--format: expected csv, json, rttm, textgrid or audacity, got '%s'", optarg); return 2; }
            break;
        }
        case O_MIN: if (cli_parse_double("--min-segment", optarg, 0, 3600, &cfg.min_segment)) return 2; break;
        case O_PEN: if (cli_parse_double("--switch-penalty", optarg, 0, 1000, &cfg.switch_penalty)) return 2; break;
        case O_LIVE: live = 1; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: cli_error("segment: unknown or incomplete option '%s' (see --help)", argv[optind - 1]); return 2;
        }
    }
    if (live && argc > optind) { cli_error("segment: --live reads standard input; no INPUT"); return 2; }
    if (!live && argc == optind) { cli_error("segment: no inputs (see --help)"); return 2; }
    if (!model && !(model = cli_default_model())) { cli_error("segment: no model given and no shipped model (use -m)"); return 2; }
    char err[512];
    vg_model *m;
    if (vg_model_load(model, &m, err, sizeof err)) { cli_error("%s: %s", model, err); return 2; }
    /* files and folders' files ('-' is a recording on standard input), found
     * before any output: empty folders alone print no header, as predict */
    cli_input *in = NULL;
    int empty = 0;
    const long found = live ? 1 : cli_inputs(argv + optind, argc - optind, 0, &in, &empty);
    if (found == 0) {
        cli_error("segment: no inputs (see --help)");
        vg_model_destroy(m);
        return 2;
    }
    int failed = found < 1 || empty;   /* out of memory, or empty folders (reported) */
    const int n_inputs = found > 0 ? (int)found : 0;
    const size_t n_listed = live ? 0 : (size_t)n_inputs;   /* --live has no list to free */

    const size_t BLOCK = 16000;
    float *block = malloc(sizeof(float) * BLOCK);
    int16_t *pcm = malloc(sizeof(int16_t) * BLOCK);
    if (!block || !pcm) {
        cli_error("segment: out of memory");
        free(block); free(pcm); vg_model_destroy(m);
        cli_inputs_free(in, n_listed);
        return 1;
    }
    FILE *out = stdout;
    char tmp[4200];
    if (out_path) {
        snprintf(tmp, sizeof tmp, "%s.tmp-%d", out_path, (int)getpid());
        if (!(out = fopen(tmp, "w"))) {
            cli_error("%s: cannot write the segments there (%s)", out_path, strerror(errno));
            free(block); free(pcm); vg_model_destroy(m);
            cli_inputs_free(in, n_listed);
            return 2;
        }
    }
    if (fmt == F_CSV) fprintf(out, "file,start,end,label,p\n");
    cJSON *all = fmt == F_JSON ? cJSON_CreateArray() : NULL;
    for (int k = 0; k < n_inputs; k++) {
        const char *path = live ? "-" : in[k].path;
        collect col = {.live = live, .fmt = fmt, .out = out};
        char id[512];
        col.file = fmt == F_RTTM || fmt == F_TEXTGRID ? file_id(path, id, sizeof id) : path;
        vg_segmenter *seg;
        int rc = vg_segmenter_create(m, &cfg, on_segment, &col, &seg);
        if (rc) {
            cli_error("%s: %s", model, rc == VG_EUNSUPPORTED ? "segmentation needs a log-mel (cnn) model" : vg_strerror(rc));
            failed = 1;
            break;
        }
        vg_audio_reader *r = NULL;
        if (!live && (rc = vg_audio_reader_open(path, 16000, &r))) {
            cli_error("%s: %s", path, vg_strerror(rc));
            failed = 1;
            vg_segmenter_destroy(seg);
            continue;
        }
        long got;
        double samples = 0;
        for (;;) {
            if (live) {
                size_t nread = fread(pcm, sizeof(int16_t), BLOCK, stdin);
                for (size_t i = 0; i < nread; i++) block[i] = pcm[i] / 32768.0f;
                got = (long)nread;
            } else got = vg_audio_reader_read(r, block, BLOCK);
            if (got <= 0) break;
            samples += (double)got;
            if ((rc = vg_segmenter_feed(seg, block, (size_t)got))) break;
        }
        if (got < 0) rc = (int)got;
        if (!rc) rc = vg_segmenter_finish(seg);
        vg_audio_reader_close(r);
        vg_segmenter_destroy(seg);
        if (rc) {
            cli_error("%s: %s", path, vg_strerror(rc));
            failed = 1;
            free(col.seg);
            continue;
        }
        double dur = samples / 16000.0;
        if (all) {
            cJSON *o = cJSON_CreateObject();
            cli_json_add_name(o, "file", path);
            cJSON_AddNumberToObject(o, "duration", dur);
            cJSON *arr = cJSON_AddArrayToObject(o, "segments");
            for (size_t i = 0; i < col.n; i++) {
                cJSON *e = cJSON_CreateObject();
                cJSON_AddNumberToObject(e, "start", col.seg[i].start);
                cJSON_AddNumberToObject(e, "end", col.seg[i].end);
                cJSON_AddStringToObject(e, "label", segment_label(&col.seg[i]));
                cJSON_AddNumberToObject(e, "p", col.seg[i].p_male);
                cJSON_AddItemToArray(arr, e);
            }
            summary(path, &col, dur, o);
            cJSON_AddItemToArray(all, o);
        } else if (!live) {
            if (fmt == F_TEXTGRID) write_textgrid(out, &col, dur);
            else for (size_t i = 0; i < col.n; i++) print_segment(out, fmt, col.file, &col.seg[i]);
        }
        if (!quiet) summary(path, &col, dur, NULL);
        free(col.seg);
    }
    if (all) {
        char *txt = cJSON_Print(all);
        fprintf(out, "%s\n", txt);
        free(txt);
        cJSON_Delete(all);
    }
    free(block);
    free(pcm);
    vg_model_destroy(m);
    cli_inputs_free(in, n_listed);
    if (out_path) {
        /* a write that failed on the way (a full disk) leaves the stream's
         * error flag and errno set; fclose alone may not see it */
        int bad = ferror(out) != 0;
        if (fclose(out) != 0) bad = 1;
        if (bad || rename(tmp, out_path)) {
            cli_error("%s: cannot write (%s)", out_path, errno ? strerror(errno) : "write error");
            unlink(tmp);
            return 1;
        }
    }
    return failed ? 1 : 0;
}
