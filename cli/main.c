/* voxgender command-line tool: dispatches to one subcommand per file. */
#include "cli.h"
#include "voxgender.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* OpenBLAS picks its kernels when it loads, from OPENBLAS_CORETYPE. If this
 * CPU has AVX-512 but the kernels chosen do not use it (Debian's 0.3.21 does
 * not know AMD Zen 4, and some environments preset OPENBLAS_CORETYPE=Haswell),
 * switch to the recommended core in this process (vg_blas_use_core), or,
 * where this BLAS cannot, set the variable and start again, once: loading
 * FFmpeg's libraries a second time cost 30 ms a run.
 * VOXGENDER_BLAS_CORETYPE, when set, is used as given instead. */
static void ensure_fast_blas(char **argv)
{
    if (getenv("VOXGENDER_BLAS_REEXEC")) return;          /* already restarted */
    const char *forced = getenv("VOXGENDER_BLAS_CORETYPE");
    const char *want = forced ? forced : vg_blas_recommended_core();
    const char *have = getenv("OPENBLAS_CORETYPE");
    if (!want || (have && !strcmp(have, want))) return;
    if (vg_blas_use_core(want) == VG_OK) return;
    setenv("OPENBLAS_CORETYPE", want, 1);
    setenv("VOXGENDER_BLAS_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the slower kernels, but say so */
    fprintf(stderr, "voxgender: warning: BLAS runs %s kernels; set OPENBLAS_CORETYPE=%s for speed\n",
            vg_blas_core(), want);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: voxgender COMMAND [options]\n"
            "\n"
            "Tell whether the speaker in a recording is male or female.\n"
            "\n"
            "commands:\n"
            "  spectrogram   write log-mel spectrogram images (and .npy matrices) of recordings\n"
            "  check         count a dataset's recordings, speakers and hours; find problems\n"
            "  split         build a Train/Validation/Test layout from a manifest, VoxCeleb metadata\n"
            "                or a folder of Male/Female recordings\n"
            "  train         train a classifier (cnn, lenet, svm) on a dataset\n"
            "  eval          accuracy, confusion matrix, ROC AUC of a model on a dataset\n"
            "  segment       male / female / nonspeech segments of long recordings\n"
            "  import        convert a PyTorch .pth state_dict into a voxgender model file\n"
            "  ensemble      combine trained models into one that averages their answers\n"
            "  predict       classify recordings or spectrogram images: male (1) / female (0)\n"
            "\n"
            "options:\n"
            "  -h, --help     show this help; 'voxgender COMMAND --help' for a command\n"
            "  -V, --version  print the version\n"
            "\n"
            "environment:\n"
            "  VOXGENDER_MODEL          the model predict, eval and segment use without -m\n"
            "  VOXGENDER_BLAS_CORETYPE  OpenBLAS kernels to use (default: the best this CPU has;\n"
            "                           --version names the ones in use)\n"
            "  VOXGENDER_WINOGRAD       1: run the CNN's 3x3 convolutions by Winograd F(4x4,3x3) on\n"
            "                           every CPU with AVX2 and FMA (the default, measured faster on\n"
            "                           AVX2 and on AVX-512 CPUs); 0: never (the direct kernels)\n"
            "  OMP_WAIT_POLICY          passive: threads that wait sleep at once instead of spinning\n"
            "                           (OpenMP's default, fastest on an idle machine); on a machine\n"
            "                           other programs keep busy, passive is much faster\n");
}

static int run(int argc, char **argv);

/* Results go to standard output: if they could not all be written (a full
 * disk behind a redirection), say so and fail, as coreutils do, instead of
 * exiting 0 with results lost. */
static int finish_stdout(int status)
{
    int why = cli_stdout_failure();
    if (!why) return status;
    cli_error("standard output: %s", strerror(why));
    return status ? status : 1;
}

int main(int argc, char **argv)
{
    return finish_stdout(run(argc, argv));
}

static int run(int argc, char **argv)
{
    ensure_fast_blas(argv);
    cli_set_program_path(argv[0]);
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
        printf("voxgender %s (revision %s; BLAS: OpenBLAS %s kernels, %d threads)\n", vg_version(),
               vg_build_revision(), vg_blas_core(), vg_blas_threads());
        return 0;
    }
    if (!strcmp(cmd, "spectrogram")) return cmd_spectrogram(argc - 1, argv + 1);
    if (!strcmp(cmd, "check")) return cmd_check(argc - 1, argv + 1);
    if (!strcmp(cmd, "train")) return cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "split")) return cmd_split(argc - 1, argv + 1);
    if (!strcmp(cmd, "import")) return cmd_import(argc - 1, argv + 1);
    if (!strcmp(cmd, "ensemble")) return cmd_ensemble(argc - 1, argv + 1);
    if (!strcmp(cmd, "segment")) return cmd_segment(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "predict")) return cmd_predict(argc - 1, argv + 1);
    cli_error("unknown command '%s' (see 'voxgender --help')", cmd);
    return 2;
}
