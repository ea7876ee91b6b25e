/* voxgender command-line tool: dispatches to one subcommand per file. */
#include "cli.h"
#include "voxgender.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: voxgender COMMAND [options]\n"
            "\n"
            "Tell whether the speaker in a recording is male or female.\n"
            "\n"
            "commands:\n"
            "  spectrogram   write log-mel spectrogram images (and .npy matrices) of recordings\n"
            "\n"
            "options:\n"
            "  -h, --help     show this help; 'voxgender COMMAND --help' for a command\n"
            "  -V, --version  print the version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        printf("voxgender %s\n", vg_version());
        return 0;
    }
    if (!strcmp(cmd, "spectrogram")) return cmd_spectrogram(argc - 1, argv + 1);
    cli_error("unknown command '%s' (see 'voxgender --help')", cmd);
    return 2;
}
