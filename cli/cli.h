/* Shared helpers of the voxgender command-line tool. */
#ifndef VG_CLI_H
#define VG_CLI_H
#include <stddef.h>

/* Each subcommand: argc/argv start at the subcommand name; returns the
 * process exit status (0 ok, 1 some inputs failed, 2 usage error). */
int cmd_spectrogram(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_split(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_ensemble(int argc, char **argv);
int cmd_segment(int argc, char **argv);
/* The shipped model's path, or NULL (static string). */
const char *cli_default_model(void);

/* Load a model file: a voxgender .safetensors, or with ARCH a PyTorch
 * checkpoint (.pth/.pt). ERR gets a one-line reason. */
struct vg_model;
int cli_load_model(const char *path, const char *arch, struct vg_model **out, char *err, size_t errlen);

/* Where `make install` puts the shipped model. */
#ifndef VG_MODEL_DIR
#define VG_MODEL_DIR "/usr/local/share/voxgender"
#endif

/* Print "voxgender: MSG" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parse a number option; on failure print a one-line error and return -1. */
int cli_parse_double(const char *opt, const char *s, double lo, double hi, double *out);
/* --window all|first: *FIRST = 1 for first; -1 (message printed) otherwise. */
int cli_parse_window(const char *s, int *first);
int cli_parse_int(const char *opt, const char *s, long lo, long hi, int *out);
/* Number of online CPUs (at least 1). */
int cli_ncpus(void);
/* mkdir -p; returns 0 or -1 with errno set. */
int cli_mkdirs(const char *path);
#endif
