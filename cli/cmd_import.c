/* voxgender import FILE.pth [--arch A] -o MODEL.safetensors */
#include "cli.h"
#include "voxgender.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: voxgender import FILE.pth [--arch A] -o MODEL.safetensors\n"
        "\n"
        "Convert a PyTorch state_dict saved by torch.save (legacy format of PyTorch\n"
        "<= 1.5, like the reference project's CNN_handmade_1.pth, or the zip format of\n"
        ">= 1.6) into a voxgender model file. The pickle inside is read as data only:\n"
        "unlike Python's torch.load, a malicious .pth cannot run code here.\n"
        "\n"
        "options:\n"
        "      --arch A        lenet (the reference project's CNN), cnn, vgg11, vgg13,\n"
        "                      vgg16, vgg19, resnet18 (torchvision names), or a\n"
        "                      description (default: the one of these whose tensor names\n"
        "                      and shapes the checkpoint holds). The output layer takes\n"
        "                      the checkpoint's class count (a fine-tuned resnet18 with a\n"
        "                      2-way fc imports as is)\n"
        "  -o, --output MODEL  safetensors file to write (required)\n"
        "  -h, --help          show this help\n");
}

int cmd_import(int argc, char **argv)
{
    const char *arch = NULL, *out = NULL;
    static const struct option opts[] = {{"arch", required_argument, 0, 'a'},
                                         {"output", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (c == 'a') arch = optarg;
        else if (c == 'o') out = optarg;
        else if (c == 'h') { usage(stdout); return 0; }
        else { cli_error("import: unknown or incomplete option '%s' (see --help)", argv[optind - 1]); return 2; }
    }
    if (argc - optind != 1) { cli_error("import: expected one .pth file (see --help)"); return 2; }
    if (!out) { cli_error("import: no output (use -o MODEL.safetensors)"); return 2; }
    if (cli_require_writable(out, 0, "the model")) return 2;
    vg_model *m;
    char err[512];
    int rc = vg_model_import_pth(argv[optind], arch, &m, err, sizeof err);
    if (rc) { cli_error("%s: %s", argv[optind], err); return 1; }
    rc = vg_model_save(m, out);
    if (rc) cli_error("%s: cannot write (%s)", out, cli_write_reason(rc));
    else {
        char from[4096], to[4096];   /* escaped as in messages */
        printf("imported %s (%s%s, %zu parameters) -> %s\n", cli_escape(from, sizeof from, argv[optind]),
               arch ? arch : vg_model_meta(m, "arch_name"), arch ? "" : ", recognised from its tensors",
               vg_model_num_params(m), cli_escape(to, sizeof to, out));
    }
    vg_model_destroy(m);
    return rc ? 1 : 0;
}
