/* The inputs of `predict`, `segment` and `spectrogram`: files as given, the
 * files under a folder, and '-' for paths read from standard input. */
#include "cli.h"
#include "../src/util/dir_chain.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    cli_input *v;
    size_t n, cap;
    int failed;   /* out of memory */
} list;

static void add(list *l, const char *path, size_t rel)
{
    if (l->failed) return;
    cli_input *v = cli_grow(l->v, l->n, &l->cap, sizeof *v, 64);
    if (!v) { l->failed = 1; return; }
    l->v = v;
    char *p = strdup(path);
    if (!p) { l->failed = 1; return; }
    l->v[l->n++] = (cli_input){p, rel, p, -1};
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(((const cli_input *)a)->path, ((const cli_input *)b)->path);
}

/* every regular file under DIR (links followed, as `split` makes them, but
 * none back to a folder the walk is in, CHAIN: dir_chain.h; hidden entries
 * skipped, 16 levels at most), REL bytes of each path being the folder the
 * user named and its slash */
static void walk(list *l, const char *dir, size_t rel, int depth, const vg_dir_chain *chain)
{
    DIR *dp = depth < 16 ? opendir(dir) : NULL;
    if (!dp) return;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.') continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(len);
        if (!p) { l->failed = 1; break; }
        snprintf(p, len, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode) && !vg_dir_chain_has(chain, &st)) {
                vg_dir_chain down = vg_dir_chain_into(chain, &st);
                walk(l, p, rel, depth + 1, &down);
            } else if (S_ISREG(st.st_mode)) {
                add(l, p, rel);
            }
        }
        free(p);
    }
    closedir(dp);
}

/* Whether the start of standard input is a recording rather than a list of
 * paths: a list has no NUL and no control characters but tab and line
 * ends, and every audio container's header has some (RIFF's and FLAC's
 * sizes, Ogg's version byte, ID3's flags); its bytes above ASCII are
 * UTF-8, where a recording's soon are not (a header cut after 6 bytes,
 * "RIFF$\xfa", has only the latter). A list whose file names hold other
 * control characters, or other encodings, is told apart by its first line,
 * which names a file (first_line_exists). Unless the bytes read are ALL
 * the input, their last three are not judged: a character may be cut there. */
static int looks_binary(const unsigned char *b, size_t n, int all)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i] < 0x20 && b[i] != '\t' && b[i] != '\n' && b[i] != '\r') return 1;
        if (b[i] < 0x80) continue;
        if (!all && n - i < 4) break;   /* a character the read may have cut short */
        unsigned char ch[5] = {0};      /* NUL-terminated for cli_utf8_length */
        memcpy(ch, b + i, n - i < 4 ? n - i : 4);
        const int len = cli_utf8_length(ch);
        if (!len) return 1;
        i += (size_t)len - 1;
    }
    return 0;
}

/* Whether the first line of B (N bytes, ALL the whole input) names a file
 * or folder that exists: then B is a list whose file names hold other
 * control characters, which no recording's header would name */
static int first_line_exists(const unsigned char *b, size_t n, int all)
{
    const unsigned char *nl = memchr(b, '\n', n);
    size_t len = nl ? (size_t)(nl - b) : all ? n : 0;
    if (len && b[len - 1] == '\r') len--;
    if (!len || memchr(b, 0, len)) return 0;
    char path[4097];
    memcpy(path, b, len);
    path[len] = '\0';
    struct stat st;
    return stat(path, &st) == 0;
}

/* The recording on standard input, START (N bytes, already read) and the
 * rest, copied to a temporary file that is unlinked at once, so that nothing
 * is left behind whatever ends the program; it is opened again by its
 * /proc/self/fd name, as many times as the decoder needs (a pipe can be
 * read only once). Returns 0, or -1 (message printed). The buffer is static:
 * standard input is read once, by the main thread. */
static int spool_stdin(list *l, const unsigned char *start, size_t n)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    char *tmp = malloc(strlen(dir) + 32);
    if (!tmp) { l->failed = 1; return -1; }
    sprintf(tmp, "%s/voxgender-stdin-XXXXXX", dir);
    const int fd = mkstemp(tmp);
    if (fd < 0) {
        cli_error("-: cannot keep standard input's recording in %s: %s", dir, strerror(errno));
        free(tmp);
        return -1;
    }
    /* without /proc (some containers), the named file is opened instead and
     * removed by cli_inputs_free */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    const int by_fd = access(path, R_OK) == 0;
    if (by_fd) unlink(tmp);
    static unsigned char buf[1 << 16];
    const unsigned char *p = start;
    size_t k = n;
    int werr = 0;
    do {
        for (size_t off = 0; off < k && !werr;) {
            const ssize_t w = write(fd, p + off, k - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) werr = w < 0 ? errno : EIO;
            else off += (size_t)w;
        }
        p = buf;
    } while (!werr && (k = fread(buf, 1, sizeof buf, stdin)) > 0);
    if (!werr && ferror(stdin)) werr = errno ? errno : EIO;
    if (!werr) add(l, by_fd ? path : tmp, 0);
    if (werr || l->failed) {
        if (werr) cli_error("-: cannot keep standard input's recording in %s: %s", dir, strerror(werr));
        if (!by_fd) unlink(tmp);
        free(tmp);
        close(fd);
        return -1;
    }
    free(tmp);
    l->v[l->n - 1].name = "-";
    l->v[l->n - 1].fd = fd;
    return 0;
}

/* '-': the paths on standard input, one per line, or the recording that
 * standard input holds (looks_binary). Returns 0, or -1 when a recording
 * could not be kept (message printed). */
static int read_stdin(list *l)
{
    /* typed at a terminal, '-' would otherwise wait in silence */
    if (isatty(STDIN_FILENO) && isatty(STDERR_FILENO))
        cli_error("-: reading paths from the terminal, one per line; Ctrl-D ends them");
    unsigned char head[4096];
    const size_t n = fread(head, 1, sizeof head, stdin);
    const int all = n < sizeof head;
    if (looks_binary(head, n, all) && !first_line_exists(head, n, all)) return spool_stdin(l, head, n);
    /* a list: the lines already read, then the rest */
    char *text = NULL;
    size_t len = 0, cap = 0;
    int c = 0;
    for (size_t i = 0; c != EOF && !l->failed; i++) {
        c = i < n ? head[i] : getc(stdin);
        char *t = cli_grow(text, len, &cap, 1, 256);
        if (!t) { l->failed = 1; break; }
        text = t;
        if (c == EOF || c == '\n') {
            text[len] = '\0';
            len = strcspn(text, "\r");
            text[len] = '\0';
            if (len) add(l, text, 0);
            len = 0;
        } else {
            text[len++] = (char)c;
        }
    }
    free(text);
    return 0;
}

long cli_inputs(char **args, int n, int allow_stdin, cli_input **out, int *empty)
{
    list l = {0};
    *empty = 0;
    for (int i = 0; i < n && !l.failed; i++) {
        struct stat st;
        if (allow_stdin && !strcmp(args[i], "-")) {
            if (read_stdin(&l)) ++*empty;
        } else if (stat(args[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            /* "data/" and "data" both give "data/<rel>" */
            char *dir = strdup(args[i]);
            if (!dir) { l.failed = 1; break; }
            size_t len = strlen(dir);
            while (len > 1 && dir[len - 1] == '/') dir[--len] = '\0';
            const size_t first = l.n;
            const vg_dir_chain top = vg_dir_chain_into(NULL, &st);
            walk(&l, dir, len + 1, 0, &top);
            if (l.n == first && !l.failed) {
                cli_error("%s: the folder holds no files", args[i]);
                ++*empty;
            }
            else if (l.n > first) qsort(l.v + first, l.n - first, sizeof(cli_input), cmp_path);
            free(dir);
        } else {
            add(&l, args[i], 0);   /* a missing file is the command's to report */
        }
    }
    if (l.failed) {
        cli_error("out of memory");
        cli_inputs_free(l.v, l.n);
        return -1;
    }
    *out = l.v;
    return (long)l.n;
}

void cli_inputs_free(cli_input *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        if (v[i].fd >= 0) {
            if (strncmp(v[i].path, "/proc/self/fd/", 14)) unlink(v[i].path);   /* spool_stdin's named copy */
            close(v[i].fd);
        }
        free(v[i].path);
    }
    free(v);
}
