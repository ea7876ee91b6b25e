#include "cli.h"
#include "voxgender.h"

#include <cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The length (2 to 4) of the UTF-8 character at C, NUL-terminated, with
 * its code point in *CP, or 0 for a byte that does not start one */
static int utf8_decode(const unsigned char *c, unsigned *cp)
{
    if (c[0] < 0xc2 || c[0] > 0xf4) return 0;   /* ASCII, a continuation byte, an overlong lead, past U+10FFFF */
    const int n = c[0] >= 0xf0 ? 4 : c[0] >= 0xe0 ? 3 : 2;
    unsigned v = c[0] & (0x7f >> n);
    for (int i = 1; i < n; i++) {
        if ((c[i] & 0xc0) != 0x80) return 0;   /* the terminating NUL stops it too */
        v = v << 6 | (c[i] & 0x3f);
    }
    if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || (v >= 0xd800 && v < 0xe000) || v > 0x10ffff)
        return 0;   /* overlong, a surrogate, past U+10FFFF */
    *cp = v;
    return n;
}

int cli_utf8_length(const unsigned char *c)
{
    unsigned cp;
    const int n = utf8_decode(c, &cp);
    return n && cp >= 0xa0 ? n : 0;   /* not the C1 controls, U+0080..U+009F */
}

char *cli_json_quote(const char *s)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) return NULL;
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        unsigned cp;
        const int n = *c >= 0x80 ? utf8_decode(c, &cp) : 0;
        if (n && cp >= 0xa0) {
            fwrite(c, 1, (size_t)n, f);
            c += n - 1;
        } else if (n) {
            fprintf(f, "\\u%04x", cp);   /* a C1 control */
            c += n - 1;
        } else if (*c >= 0x80) {
            fprintf(f, "\\udc%02x", *c);   /* not UTF-8: Python's surrogateescape */
        } else if (*c == '"' || *c == '\\') {
            fputc('\\', f);
            fputc(*c, f);
        } else if (*c < 0x20 || *c == 0x7f) {
            fprintf(f, "\\u%04x", *c);
        } else {
            fputc(*c, f);
        }
    }
    fputc('"', f);
    if (fclose(f)) { free(out); return NULL; }
    return out;
}

int cli_json_add_name(struct cJSON *o, const char *key, const char *s)
{
    char *q = cli_json_quote(s);
    const int ok = q && cJSON_AddRawToObject(o, key, q);
    free(q);
    return ok ? 0 : -1;
}

const char *cli_put_escaped_char(FILE *f, const char *s)
{
    const unsigned char *c = (const unsigned char *)s;
    const int n = *c >= 0x80 ? cli_utf8_length(c) : 0;
    if (n) {
        fwrite(c, 1, (size_t)n, f);
        return s + n;
    }
    if (*c >= 0x20 && *c < 0x7f) fputc(*c, f);
    else if (*c == '\n') fputs("\\n", f);
    else if (*c == '\t') fputs("\\t", f);
    else if (*c == '\r') fputs("\\r", f);
    else fprintf(f, "\\x%02x", *c);
    return s + 1;
}

void cli_put_escaped(FILE *f, const char *s)
{
    while (*s) s = cli_put_escaped_char(f, s);
}

char *cli_escape(char *buf, size_t n, const char *s)
{
    FILE *f = n ? fmemopen(buf, n, "w") : NULL;
    if (!f) { if (n) buf[0] = '\0'; return buf; }
    setvbuf(f, NULL, _IONBF, 0);
    cli_put_escaped(f, s);
    fclose(f);   /* fmemopen terminates what fits */
    buf[n - 1] = '\0';
    return buf;
}

void cli_put_csv(FILE *f, const char *s, int always_quote)
{
    if (!always_quote && !s[strcspn(s, ",\"\r\n")]) { fputs(s, f); return; }
    fputc('"', f);
    for (const char *c = s; *c; c++) {
        if (*c == '"') fputc('"', f);
        fputc(*c, f);
    }
    fputc('"', f);
}

void cli_vmessage(FILE *f, const char *prefix, const char *fmt, va_list ap)
{
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
    fputs(prefix, f);
    cli_put_escaped(f, msg ? msg : fmt);   /* file names may hold anything */
    fputc('\n', f);
    free(msg);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_vmessage(stderr, "voxgender: ", fmt, ap);
    va_end(ap);
}

int cli_parse_window(const char *s, int *first)
{
    if (!strcmp(s, "first") || !strcmp(s, "all")) {
        *first = !strcmp(s, "first");
        return 0;
    }
    cli_error("--window: expected all or first, got '%s'", s);
    return -1;
}

void *cli_grow(void *p, size_t n, size_t *cap, size_t size, size_t first)
{
    if (n < *cap) return p;
    size_t c = *cap ? 2 * *cap : first;
    void *q = realloc(p, size * c);
    if (q) *cap = c;
    return q;
}

int cli_parse_double(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || end == s || *end || errno || !(v >= lo && v <= hi)) {
        cli_error("%s: expected a number in [%g, %g], got '%s'", opt, lo, hi, s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_int(const char *opt, const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || end == s || *end || errno || v < lo || v > hi) {
        cli_error("%s: expected an integer in [%ld, %ld], got '%s'", opt, lo, hi, s ? s : "");
        return -1;
    }
    *out = (int)v;
    return 0;
}

typedef struct {
    void *(*fn)(void *);
    void *arg;
    int threads_per_pass;
    pthread_t caller;
} model_worker;

static void *run_model_worker(void *arg)
{
    const model_worker *w = arg;
    /* this thread's passes only; when no thread could start and the caller
     * runs FN itself, it is the only worker, and its own count (all cores)
     * is left as it was */
    if (!pthread_equal(pthread_self(), w->caller)) vg_set_threads(w->threads_per_pass);
    return w->fn(w->arg);
}

void cli_run_threads(int n, void *(*fn)(void *), void *arg)
{
    pthread_t th[64];
    if (n > 64) n = 64;
    int started = 0;
    for (int t = 0; t < n; t++)
        if (pthread_create(&th[started], NULL, fn, arg) == 0) started++;
    if (!started) fn(arg);
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
}

void cli_run_model_workers(int n, void *(*fn)(void *), void *arg)
{
    if (n > 64) n = 64;
    if (n < 1) n = 1;
    const int per = cli_ncpus() / n, blas_threads = vg_blas_threads();
    model_worker w = {fn, arg, per > 0 ? per : 1, pthread_self()};
    if (n > 1) vg_set_blas_threads(1);
    cli_run_threads(n, run_model_worker, &w);
    vg_set_blas_threads(blas_threads);
}

int cli_read_only_its_start(const vg_model *m, const char *path, int first_window_only, double *seconds)
{
    /* 600 s at 6 kbit/s, about the least any codec spends on speech: a
     * smaller file is shorter, and most clips are, so most are not probed */
    const double least_bytes = VG_PREDICT_MAX_SECONDS * 6000 / 8;
    vg_frontend fe;
    struct stat st;
    return !first_window_only && !vg_frontend_from_model(m, &fe) && fe.kind == VG_FE_LOGMEL &&
           stat(path, &st) == 0 && st.st_size >= least_bytes && vg_audio_probe(path, seconds) == VG_OK &&
           *seconds > VG_PREDICT_MAX_SECONDS;
}

int cli_ncpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int cli_mkdirs(const char *path)
{
    char *p = strdup(path);
    if (!p) return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) { free(p); return -1; }
        *s = '/';
    }
    int rc = mkdir(p, 0755);
    free(p);
    if (rc != 0 && errno != EEXIST) return -1;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) { errno = ENOTDIR; return -1; }
    return 0;
}

int cli_can_write(const char *path, int as_dir)
{
    struct stat st;
    if (!*path) { errno = ENOENT; return -1; }
    if (stat(path, &st) == 0 && (S_ISDIR(st.st_mode) != 0) != (as_dir != 0)) {
        errno = as_dir ? ENOTDIR : EISDIR;
        return -1;
    }
    /* the folder the file or the new folder goes in: for a folder that does
     * not exist yet, its nearest ancestor that does (cli_mkdirs makes the rest) */
    char *dir = malloc(strlen(path) + 32);
    if (!dir) return -1;
    strcpy(dir, path);
    int exists = as_dir && stat(dir, &st) == 0;
    while (!exists) {
        char *slash = strrchr(dir, '/');
        if (!slash) { strcpy(dir, "."); break; }
        if (slash == dir) slash[1] = '\0'; else *slash = '\0';
        if (stat(dir, &st) == 0) {
            if (!S_ISDIR(st.st_mode)) { free(dir); errno = ENOTDIR; return -1; }
            break;
        }
        if (!as_dir) break;   /* a file's own folder must exist: -o does not make it */
        if (slash == dir) break;
    }
    strcat(dir, "/.voxgender-write-XXXXXX");
    int fd = mkstemp(dir);
    int saved = errno;
    if (fd >= 0) { close(fd); unlink(dir); }
    free(dir);
    errno = saved;
    return fd >= 0 ? 0 : -1;
}

int cli_require_writable(const char *path, int as_dir, const char *what)
{
    if (cli_can_write(path, as_dir) == 0) return 0;
    cli_error("%s: cannot write %s there (%s)", path, what, strerror(errno));
    return -1;
}

const char *cli_write_reason(int rc)
{
    return rc == VG_EIO && errno ? strerror(errno) : vg_strerror(rc);
}

static int stdout_why;   /* errno of the first failed flush of stdout */

void cli_flush_stdout(void)
{
    if (fflush(stdout) != 0 && !stdout_why) stdout_why = errno ? errno : EIO;
}

int cli_stdout_failure(void)
{
    cli_flush_stdout();
    return stdout_why ? stdout_why : ferror(stdout) ? EIO : 0;
}

static int is_pth(const char *path)
{
    size_t n = strlen(path);
    return (n > 4 && !strcmp(path + n - 4, ".pth")) || (n > 3 && !strcmp(path + n - 3, ".pt"));
}

int cli_load_model(const char *path, const char *arch, vg_model **out, char *err, size_t errlen)
{
    if (is_pth(path) || arch) return vg_model_import_pth(path, arch, out, err, errlen);   /* NULL: recognised */
    return vg_model_load(path, out, err, errlen);
}

static const char *program_path;

/* EXE[4096] <- the real path of the program started as ARGV0: a path, or a
 * name looked up in $PATH as the shell did; "" when not found. */
static void program_location(const char *argv0, char *exe)
{
    exe[0] = '\0';
    if (strchr(argv0, '/')) {
        if (!realpath(argv0, exe)) exe[0] = '\0';
        return;
    }
    const char *dirs = getenv("PATH");
    while (dirs && *dirs) {
        const char *end = strchr(dirs, ':');
        const size_t len = end ? (size_t)(end - dirs) : strlen(dirs);
        char candidate[4096];
        /* an empty entry is the current folder */
        if (snprintf(candidate, sizeof candidate, "%.*s/%s", len ? (int)len : 1, len ? dirs : ".", argv0) <
                (int)sizeof candidate &&
            access(candidate, X_OK) == 0 && realpath(candidate, exe))
            return;
        exe[0] = '\0';
        dirs = end ? end + 1 : NULL;
    }
}

void cli_set_program_path(const char *argv0)
{
    program_path = argv0;
}

/* The model used without -m: $VOXGENDER_MODEL, then the installed one
 * (PREFIX/share/voxgender), then one beside the executable (a build tree:
 * build/voxgender -> models/, or an installed bin/ -> share/voxgender/). */
const char *cli_default_model(void)
{
    static char path[4096];
    const char *env = getenv("VOXGENDER_MODEL");
    if (env && *env) return env;
    /* the executable's folder: from /proc, or (where /proc is not mounted,
     * as in some containers) from the path it was started by */
    char exe[4096] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    if (n <= 0 && program_path) program_location(program_path, exe);
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    const char *candidates[3][2] = {{vg_cli_model_dir, ""}, {exe, "/../models"}, {exe, "/../share/voxgender"}};
    for (int i = 0; i < (exe[0] ? 3 : 1); i++) {
        char found[4096];
        snprintf(found, sizeof found, "%s%s/voxgender-default.safetensors", candidates[i][0], candidates[i][1]);
        if (access(found, R_OK) != 0) continue;
        /* named without "bin/../" in what eval and the reports print */
        if (!realpath(found, path)) snprintf(path, sizeof path, "%s", found);
        return path;
    }
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t cli_sort_unique(char **list, size_t n)
{
    if (!n) return 0;
    qsort(list, n, sizeof *list, cmp_str);
    size_t u = 1;
    for (size_t i = 1; i < n; i++)
        if (strcmp(list[i], list[u - 1])) list[u++] = list[i];
    return u;
}
