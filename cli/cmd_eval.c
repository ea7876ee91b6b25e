/* voxgender eval -m MODEL DIR: metrics of a model on a dataset's Test split
 * (or on a folder with Male/Female inside). */
#include "cli.h"
#include "evaluate.h"
#include "report.h"
#include "voxgender.h"

#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: voxgender eval [-m MODEL] DIR [options]\n"
        "\n"
        "Classify DIR's Test split (DIR laid out as for training) or every recording of\n"
        "a folder with Male/Female (or 1/0) inside, and print accuracy, speaker-balanced\n"
        "accuracy (mean over the two classes of the mean per-speaker accuracy), the\n"
        "confusion matrix (rows true female/male, columns predicted), per-class\n"
        "precision/recall/F1, ROC AUC and per-speaker accuracy, worst speakers first.\n"
        "\n"
        "options:\n"
        "  -m, --model MODEL     model file (default: the installed voxgender model, or\n"
        "                        $VOXGENDER_MODEL), or a PyTorch .pth\n"
        "      --arch A          architecture of a .pth model (lenet, cnn, vgg11..vgg19,\n"
        "                        resnet18, or a description; default: recognised from\n"
        "                        its tensors)\n"
        "      --format F        text (default) or json (keys n, accuracy,\n"
        "                        speaker_balanced_accuracy, confusion, auc, per_speaker,\n"
        "                        per_recording with p_male, ...)\n"
        "      --window W        all (default: every window of a long recording) or first\n"
        "                        (the first window only, as the reference project)\n"
        "      --worst N         speakers listed in text output (default 10; 0 = all)\n"
        "      --report DIR      also write DIR/index.html: confusion matrix, ROC curve,\n"
        "                        per-speaker accuracy, training curves, spectrograms of\n"
        "                        the worst-classified recordings (self-contained)\n"
        "      --manifest CSV    speaker (and gender) per file: path,speaker[,gender]\n"
        "  -j, --jobs N          recordings classified in parallel (default: cores)\n"
        "  -q, --quiet           no progress bar\n"
        "  -h, --help            show this help\n"
        "\n"
        "Exit status: 0 metrics printed (unreadable recordings are reported on stderr,\n"
        "skipped and counted), 1 none could be classified or the report failed, 2 usage\n"
        "error or unusable model.\n");
}

int cmd_eval(int argc, char **argv)
{
    const char *model = NULL, *manifest = NULL, *arch = NULL, *report = NULL;
    int json = 0, first = 0, quiet = 0, jobs = cli_ncpus(), worst = 10;
    char shown[4096];   /* a path for a summary line, escaped as in messages */
    enum { O_FORMAT = 256, O_WINDOW, O_MANIFEST, O_WORST, O_ARCH, O_REPORT };
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"format", required_argument, 0, O_FORMAT},
        {"window", required_argument, 0, O_WINDOW}, {"manifest", required_argument, 0, O_MANIFEST},
        {"worst", required_argument, 0, O_WORST}, {"jobs", required_argument, 0, 'j'},
        {"arch", required_argument, 0, O_ARCH}, {"report", required_argument, 0, O_REPORT},
        {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "m:j:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case O_FORMAT:
            if (!strcmp(optarg, "json")) json = 1;
            else if (strcmp(optarg, "text")) { cli_error("--format: expected text or json, got '%s'", optarg); return 2; }
            break;
        case O_WINDOW: if (cli_parse_window(optarg, &first)) return 2; break;
        case O_MANIFEST: manifest = optarg; break;
        case O_ARCH: arch = optarg; break;
        case O_REPORT: report = optarg; break;
        case O_WORST: if (cli_parse_int("--worst", optarg, 0, 1000000, &worst)) return 2; break;
        case 'j': if (cli_parse_int("--jobs", optarg, 1, 1024, &jobs)) return 2; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: cli_error("eval: unknown or incomplete option '%s' (see --help)", argv[optind - 1]); return 2;
        }
    }
    if (!model && !(model = cli_default_model())) {
        cli_error("eval: no model given and no installed default model (use -m MODEL)");
        return 2;
    }
    if (argc - optind != 1) { cli_error("eval: expected one folder (see --help)"); return 2; }
    if (report && cli_require_writable(report, 1, "the report")) return 2;   /* before the evaluation */
    char err[512];
    vg_model *probe;
    if (cli_load_model(model, arch, &probe, err, sizeof err)) { cli_error("%s: %s", model, err); return 2; }
    vg_dataset *d;
    if (vg_dataset_scan(argv[optind], manifest, &d, err, sizeof err)) {
        cli_error("%s", err);
        vg_model_destroy(probe);
        return 2;
    }
    int want = d->has_splits ? VG_SPLIT_TEST : VG_SPLIT_NONE;
    size_t n;
    vg_item **items = split_items(d, want, &n);
    if (!items) {
        cli_error("%s: %s", argv[optind], vg_strerror(VG_ENOMEM));
        vg_model_destroy(probe);
        vg_dataset_free(d);
        return 1;
    }
    if (!n) {
        cli_error("%s: no recordings to evaluate (%s)", argv[optind], d->has_splits ? "empty Test split" : "empty class folders");
        free(items);
        vg_model_destroy(probe);
        vg_dataset_free(d);
        return 1;
    }
    eval_run r;
    const int erc = evaluate_items(model, arch, items, n, jobs, first, quiet, &r);
    if (erc) {
        /* the probe above loaded it: a worker's copy failed (memory, or the file changed since) */
        cli_error("%s: %s", erc == VG_EMODEL ? model : argv[optind],
                  erc == VG_EMODEL ? "cannot load it again for the workers" : vg_strerror(erc));
        eval_run_free(&r);
        free(items);
        vg_model_destroy(probe);
        vg_dataset_free(d);
        return 1;
    }
    scored_set sc = {0};
    vg_metrics m;
    int rc = scored_of_run(items, n, &r, &sc);
    if (rc) cli_error("%s: %s", argv[optind], vg_strerror(rc));
    else if (!sc.n) {
        /* metrics of nothing would read as a 0% model */
        cli_error("%s: none of its %zu recordings could be classified (each reported above)", argv[optind], n);
        rc = 1;
    } else if ((rc = vg_metrics_compute(sc.labels, sc.p_male, sc.speakers, sc.n, &m)))
        cli_error("%s: %s", argv[optind], vg_strerror(rc));
    if (!rc && report) {
        if (write_report(report, model, probe, argv[optind], &m, sc.items, sc.labels, sc.p_male, sc.n, r.n_failed)) {
            cli_error("%s: cannot write the report", report);
            rc = 1;
        } else if (!json)
            fprintf(stderr, "report: %s/index.html\n", cli_escape(shown, sizeof shown, report));
    }
    vg_model_destroy(probe);
    if (!rc && json) {
        cJSON *o = cJSON_CreateObject();
        cli_json_add_name(o, "model", model);
        cJSON_AddNumberToObject(o, "n", (double)m.n);
        cJSON_AddNumberToObject(o, "failed", (double)r.n_failed);
        cJSON_AddNumberToObject(o, "accuracy", m.accuracy);
        cJSON_AddNumberToObject(o, "speaker_balanced_accuracy", m.speaker_balanced_accuracy);
        cJSON_AddItemToObject(o, "speaker_recall", cJSON_CreateDoubleArray(m.speaker_recall, 2));
        cJSON *conf = cJSON_AddArrayToObject(o, "confusion");
        for (int t = 0; t < 2; t++) {
            double row[2] = {(double)m.confusion[t][0], (double)m.confusion[t][1]};
            cJSON_AddItemToArray(conf, cJSON_CreateDoubleArray(row, 2));
        }
        cJSON_AddStringToObject(o, "confusion_layout", "rows true [female, male], columns predicted [female, male]");
        cJSON_AddNumberToObject(o, "auc", m.auc);
        cJSON_AddItemToObject(o, "precision", cJSON_CreateDoubleArray(m.precision, 2));
        cJSON_AddItemToObject(o, "recall", cJSON_CreateDoubleArray(m.recall, 2));
        cJSON_AddItemToObject(o, "f1", cJSON_CreateDoubleArray(m.f1, 2));
        cJSON *ps = cJSON_AddArrayToObject(o, "per_speaker");
        for (size_t s = 0; s < m.n_speakers; s++) {
            cJSON *e = cJSON_CreateObject();
            cli_json_add_name(e, "speaker", m.speakers[s].speaker);
            cJSON_AddStringToObject(e, "gender", vg_label_name(m.speakers[s].label));
            cJSON_AddNumberToObject(e, "n", m.speakers[s].n);
            cJSON_AddNumberToObject(e, "accuracy", (double)m.speakers[s].correct / m.speakers[s].n);
            cJSON_AddItemToArray(ps, e);
        }
        /* every classified recording with its probability, for the user's
         * own analysis (log-loss, thresholds, cross-validation pooling) */
        cJSON *pr = cJSON_AddArrayToObject(o, "per_recording");
        for (size_t i = 0; i < sc.n; i++) {
            cJSON *e = cJSON_CreateObject();
            cli_json_add_name(e, "path", sc.items[i]->relpath);
            cli_json_add_name(e, "speaker", sc.items[i]->speaker);
            cJSON_AddStringToObject(e, "gender", vg_label_name(sc.labels[i]));
            cJSON_AddNumberToObject(e, "p_male", sc.p_male[i]);
            cJSON_AddItemToArray(pr, e);
        }
        char *txt = cJSON_Print(o);
        printf("%s\n", txt);
        free(txt);
        cJSON_Delete(o);
    } else if (!rc) {
        char data[4096];
        printf("model %s on %s (%s)\n", cli_escape(shown, sizeof shown, model), cli_escape(data, sizeof data, argv[optind]),
               d->has_splits ? "Test split" : "all recordings");
        print_metrics(&m, "");
        if (r.n_failed) printf("unreadable recordings skipped: %zu\n", r.n_failed);
        size_t show = worst == 0 || (size_t)worst > m.n_speakers ? m.n_speakers : (size_t)worst;
        printf("per-speaker accuracy (%s%zu of %zu, worst first):\n", worst ? "" : "all ", show, m.n_speakers);
        char name[256];   /* a speaker is a folder name: it may hold anything */
        for (size_t s = 0; s < show; s++)
            printf("  %-24s %-6s %4d/%-4d %6.1f%%\n", cli_escape(name, sizeof name, m.speakers[s].speaker),
                   vg_label_name(m.speakers[s].label), m.speakers[s].correct, m.speakers[s].n,
                   100.0 * m.speakers[s].correct / m.speakers[s].n);
    }
    if (!rc) vg_metrics_free(&m);
    scored_free(&sc);
    free(items);
    eval_run_free(&r);
    vg_dataset_free(d);
    return rc ? 1 : 0;
}
