/* The inputs of `predict`, `segment` and `spectrogram`: files as given, the
 * files under a folder, and '-' for paths read from standard input. */
#include "cli.h"
#include "../src/util/dir_chain.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
    l->v[l->n++] = (cli_input){p, rel};
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

long cli_inputs(char **args, int n, int allow_stdin, cli_input **out, int *empty)
{
    list l = {0};
    *empty = 0;
    for (int i = 0; i < n && !l.failed; i++) {
        struct stat st;
        if (allow_stdin && !strcmp(args[i], "-")) {
            char *line = NULL;
            size_t cap = 0;
            while (getline(&line, &cap, stdin) > 0) {
                line[strcspn(line, "\r\n")] = '\0';
                if (*line) add(&l, line, 0);
            }
            free(line);
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
    for (size_t i = 0; v && i < n; i++) free(v[i].path);
    free(v);
}
