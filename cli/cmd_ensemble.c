/* voxgender ensemble MODEL MODEL... -o OUT.safetensors */
#include "cli.h"
#include "voxgender.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: voxgender ensemble MODEL MODEL... -o OUT.safetensors\n"
        "\n"
        "Combine 2 to %d trained models (typically the same recipe trained with\n"
        "different --seed values) into one model file whose answer is the mean of\n"
        "the members' log-probabilities. Averaging independently trained networks\n"
        "lowers the variance of their mistakes; it costs one forward pass per\n"
        "member. The members must share the input, classes, front end and labels;\n"
        "their input normalisation may differ (models trained on different data):\n"
        "each member's input is rescaled from the first member's. The output keeps\n"
        "the first member's metadata (front end, training history) and works with\n"
        "predict, eval and segment like any model.\n"
        "\n"
        "options:\n"
        "  -o, --output OUT    safetensors file to write (required)\n"
        "  -h, --help          show this help\n", VG_MAX_ENSEMBLE);
}

int cmd_ensemble(int argc, char **argv)
{
    const char *out = NULL;
    static const struct option opts[] = {{"output", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (c == 'o') out = optarg;
        else if (c == 'h') { usage(stdout); return 0; }
        else { cli_error("ensemble: unknown or incomplete option '%s' (see --help)", argv[optind - 1]); return 2; }
    }
    int n = argc - optind;
    if (n < 2 || n > VG_MAX_ENSEMBLE) {
        cli_error("ensemble: expected 2 to %d model files, got %d (see --help)", VG_MAX_ENSEMBLE, n);
        return 2;
    }
    if (!out) { cli_error("ensemble: no output (use -o OUT.safetensors)"); return 2; }
    if (cli_require_writable(out, 0, "the model")) return 2;
    vg_model *members[VG_MAX_ENSEMBLE] = {0}, *e = NULL;
    char err[512];
    int rc = 0;
    for (int i = 0; i < n && !rc; i++)
        if ((rc = vg_model_load(argv[optind + i], &members[i], err, sizeof err)))
            cli_error("%s: %s", argv[optind + i], err);
    if (!rc && (rc = vg_model_ensemble(members, n, &e, err, sizeof err)))
        cli_error("ensemble: %s", err);
    if (!rc && (rc = vg_model_save(e, out))) cli_error("%s: cannot write (%s)", out, cli_write_reason(rc));
    if (!rc) {
        char shown[4096];   /* escaped as in messages */
        printf("ensemble of %d models (%zu parameters) -> %s\n", n, vg_model_num_params(e),
               cli_escape(shown, sizeof shown, out));
    }
    vg_model_destroy(e);
    for (int i = 0; i < n; i++) vg_model_destroy(members[i]);
    return rc ? 1 : 0;
}
