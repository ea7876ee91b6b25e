/* Dataset folders in the reference project's layout, with the naming
 * variants people actually use. */
#include "voxgender.h"
#include "../util/dir_chain.h"
#include "../util/errmsg.h"
#include "../util/rng.h"
#include "features.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

const char *vg_split_name(int split)
{
    static const char *n[] = {"train", "validation", "test", "none"};
    return split >= 0 && split <= 3 ? n[split] : "none";
}

const char *vg_label_name(int label)
{
    return label == VG_LABEL_MALE ? "male" : label == VG_LABEL_FEMALE ? "female" : "unknown";
}

static int split_of(const char *name)
{
    static const struct { const char *n; int s; } m[] = {
        {"train", 0}, {"training", 0}, {"validation", 1}, {"val", 1}, {"valid", 1},
        {"dev", 1}, {"test", 2}, {"testing", 2}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (!strcasecmp(name, m[i].n)) return m[i].s;
    return -1;
}

static int label_of(const char *name)
{
    if (!strcasecmp(name, "male") || !strcasecmp(name, "m") || !strcmp(name, "1")) return 1;
    if (!strcasecmp(name, "female") || !strcasecmp(name, "f") || !strcmp(name, "0")) return 0;
    return -1;
}

char *vg_speaker_from_path(const char *rel)
{
    if (!rel) return NULL;
    const char *slash = strchr(rel, '/');
    if (slash) return strndup(rel, (size_t)(slash - rel));
    size_t n = strcspn(rel, "_-.");
    if (n == 0) n = strcspn(rel, ".");     /* "_x.wav": use the whole stem */
    return strndup(rel, n ? n : strlen(rel));
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

typedef struct builder {
    vg_dataset *d;
    size_t cap;
    const char *root;
    int failed;
} builder;

static void add_item(builder *b, const char *path, const char *rel, const char *rel_to_class,
                     int label, int split)
{
    if (b->d->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        vg_item *it = realloc(b->d->items, cap * sizeof(vg_item));
        if (!it) { b->failed = 1; return; }
        b->d->items = it;
        b->cap = cap;
    }
    vg_item *it = &b->d->items[b->d->n];
    it->path = strdup(path);
    it->relpath = strdup(rel);
    it->speaker = vg_speaker_from_path(rel_to_class);
    it->label = label;
    it->split = split;
    if (!it->path || !it->relpath || !it->speaker) {
        free(it->path); free(it->relpath); free(it->speaker);
        b->failed = 1;
        return;
    }
    b->d->n++;
}

/* Walk a class folder recursively (symbolic links followed: `split` builds
 * its layout from links; none back to a folder the walk is in, which would
 * loop: dir_chain.h). CHAIN: DIR and the folders above it, up to the root. */
static void walk(builder *b, const char *dir, const char *rel, const char *rel_to_class,
                 int label, int split, int depth, const vg_dir_chain *chain)
{
    if (depth > 8) return;
    DIR *dp = opendir(dir);
    if (!dp) return;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.') continue;
        char *p = join(dir, e->d_name), *r = join(rel, e->d_name);
        char *rc = rel_to_class[0] ? join(rel_to_class, e->d_name) : strdup(e->d_name);
        struct stat st;
        if (p && r && rc && stat(p, &st) == 0) {
            if (S_ISDIR(st.st_mode) && !vg_dir_chain_has(chain, &st)) {
                vg_dir_chain down = vg_dir_chain_into(chain, &st);
                walk(b, p, r, rc, label, split, depth + 1, &down);
            } else if (S_ISREG(st.st_mode)) {
                add_item(b, p, r, rc, label, split);
            }
        }
        free(p); free(r); free(rc);
    }
    closedir(dp);
}

/* Class folders inside DIR (CHAIN: DIR and the folders above it); returns
 * how many were found. */
static int scan_classes(builder *b, const char *dir, const char *rel, int split, const vg_dir_chain *chain)
{
    DIR *dp = opendir(dir);
    if (!dp) return 0;
    int found = 0;
    struct dirent *e;
    while ((e = readdir(dp))) {
        int label = label_of(e->d_name);
        if (label < 0) continue;
        char *p = join(dir, e->d_name), *r = rel[0] ? join(rel, e->d_name) : strdup(e->d_name);
        struct stat st;
        if (p && r && stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (!vg_dir_chain_has(chain, &st)) {
                vg_dir_chain down = vg_dir_chain_into(chain, &st);
                walk(b, p, r, "", label, split, 0, &down);
            }
            found++;
        }
        free(p); free(r);
    }
    closedir(dp);
    return found;
}

static int cmp_items(const void *a, const void *b)
{
    return strcmp(((const vg_item *)a)->relpath, ((const vg_item *)b)->relpath);
}

/* Split one CSV line in place (no quoted commas in these manifests). */
static int csv_fields(char *line, char **f, int max)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    char *s = line;
    while (n < max) {
        f[n++] = s;
        char *c = strchr(s, ',');
        if (!c) break;
        *c = '\0';
        s = c + 1;
    }
    for (int i = 0; i < n; i++) {   /* trim spaces and quotes */
        while (*f[i] == ' ' || *f[i] == '"') f[i]++;
        size_t l = strlen(f[i]);
        while (l && (f[i][l - 1] == ' ' || f[i][l - 1] == '"')) f[i][--l] = '\0';
    }
    return n;
}

static int cmp_relpath_key(const void *key, const void *item)
{
    return strcmp(key, ((const vg_item *)item)->relpath);
}

static int cmp_path_key(const void *key, const void *item)
{
    return strcmp(key, ((const vg_item *)item)->path);
}

/* Items are sorted by relative path, and every path is the root joined with
 * it, so the same order serves both lookups: a manifest row costs a binary
 * search, not a pass over the dataset (VoxCeleb2 has a million files). */
static int apply_manifest(vg_dataset *d, const char *manifest, char *err, size_t errlen)
{
    FILE *f = fopen(manifest, "r");
    if (!f) return vg_errf(VG_EARG, err, errlen, "%s: cannot open manifest", manifest);
    char *line = NULL;   /* any length: a fixed buffer would cut a long row in two */
    size_t cap = 0;
    int col_path = -1, col_spk = -1, col_gender = -1, lineno = 0;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        char *fld[32];
        int n = csv_fields(line, fld, 32);
        if (lineno == 1) {
            for (int i = 0; i < n; i++) {
                if (!strcasecmp(fld[i], "path")) col_path = i;
                else if (!strcasecmp(fld[i], "speaker")) col_spk = i;
                else if (!strcasecmp(fld[i], "gender")) col_gender = i;
            }
            if (col_path < 0 || col_spk < 0) {
                free(line);
                fclose(f);
                return vg_errf(VG_EARG, err, errlen, "%s: header needs columns path,speaker[,gender]", manifest);
            }
            continue;
        }
        if (n <= col_path || n <= col_spk || !d->n) continue;   /* bsearch wants a real array */
        vg_item *hit[2] = {bsearch(fld[col_path], d->items, d->n, sizeof(vg_item), cmp_relpath_key),
                           bsearch(fld[col_path], d->items, d->n, sizeof(vg_item), cmp_path_key)};
        for (int k = 0; k < 2; k++) {
            vg_item *it = hit[k];
            if (!it || (k == 1 && it == hit[0])) continue;
            char *sp = strdup(fld[col_spk]);
            if (sp) { free(it->speaker); it->speaker = sp; }
            if (col_gender >= 0 && n > col_gender) {
                int g = label_of(fld[col_gender]);
                if (g < 0 && !strcasecmp(fld[col_gender], "male")) g = 1;
                if (g >= 0) it->label = g;
            }
        }
    }
    free(line);
    fclose(f);
    return VG_OK;
}

int vg_dataset_scan(const char *root, const char *manifest, vg_dataset **out, char *err,
                    size_t errlen)
{
    if (!root || !out) return VG_EARG;
    *out = NULL;
    struct stat root_st, st;
    if (stat(root, &root_st) != 0 || !S_ISDIR(root_st.st_mode))
        return vg_errf(VG_ENOENT, err, errlen, "%s: not a folder", root);
    vg_dataset *d = calloc(1, sizeof *d);
    if (!d) return VG_ENOMEM;
    builder b = {.d = d, .root = root};
    int splits_found = 0, seen[3] = {0};
    const vg_dir_chain top = vg_dir_chain_into(NULL, &root_st);
    DIR *dp = opendir(root);
    struct dirent *e;
    while (dp && (e = readdir(dp))) {
        int s = split_of(e->d_name);
        if (s < 0) continue;
        char *p = join(root, e->d_name);
        int rc = VG_OK;
        if (p && stat(p, &st) == 0 && S_ISDIR(st.st_mode) && !vg_dir_chain_has(&top, &st)) {
            const vg_dir_chain in_split = vg_dir_chain_into(&top, &st);
            if (seen[s]++)
                rc = vg_errf(VG_EARG, err, errlen, "%s: two folders name the %s split", root, vg_split_name(s));
            else if (splits_found++, !scan_classes(&b, p, e->d_name, s, &in_split))
                rc = vg_errf(VG_EARG, err, errlen, "%s/%s: no Male/Female (or 1/0) folders inside", root, e->d_name);
        }
        free(p);
        if (rc) {   /* e points into DP: report before closing it */
            closedir(dp);
            vg_dataset_free(d);
            return rc;
        }
    }
    if (dp) closedir(dp);
    d->has_splits = splits_found > 0;
    if (!splits_found && !scan_classes(&b, root, "", VG_SPLIT_NONE, &top)) {
        vg_dataset_free(d);
        return vg_errf(VG_EARG, err, errlen, "%s: neither Train/Validation/Test nor Male/Female folders inside", root);
    }
    if (b.failed) { vg_dataset_free(d); return VG_ENOMEM; }
    if (d->n) qsort(d->items, d->n, sizeof(vg_item), cmp_items);
    if (manifest) {
        int rc = apply_manifest(d, manifest, err, errlen);
        if (rc) { vg_dataset_free(d); return rc; }
    }
    *out = d;
    return VG_OK;
}

typedef struct { const vg_item *it; uint64_t key; size_t index; } draw;

/* Group by split, label and speaker; within a group, by the seeded hash
 * (ties by path, so the order is total). */
static int cmp_draw(const void *a, const void *b)
{
    const draw *x = a, *y = b;
    if (x->it->split != y->it->split) return x->it->split < y->it->split ? -1 : 1;
    if (x->it->label != y->it->label) return x->it->label < y->it->label ? -1 : 1;
    int c = strcmp(x->it->speaker, y->it->speaker);
    if (c) return c;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return strcmp(x->it->relpath, y->it->relpath);
}

long vg_dataset_keep_per_speaker(vg_dataset *d, int n, unsigned splits, uint64_t seed)
{
    if (!d || n < 1) return VG_EARG;
    draw *v = malloc(sizeof(draw) * (d->n ? d->n : 1));
    unsigned char *drop = calloc(d->n ? d->n : 1, 1);
    if (!v || !drop) { free(v); free(drop); return VG_ENOMEM; }
    size_t m = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->items[i].split >= 0 && d->items[i].split < 32 && (splits >> d->items[i].split & 1u)) {
            uint64_t state = fnv1a(d->items[i].relpath) ^ seed;   /* one splitmix64 step mixes it */
            v[m++] = (draw){&d->items[i], rng_next(&state), i};
        }
    qsort(v, m, sizeof(draw), cmp_draw);
    long dropped = 0;
    for (size_t i = 0, in_group = 0; i < m; i++) {
        const vg_item *a = v[i].it, *prev = i ? v[i - 1].it : NULL;
        int same = prev && prev->split == a->split && prev->label == a->label && !strcmp(prev->speaker, a->speaker);
        in_group = same ? in_group + 1 : 0;
        if (in_group >= (size_t)n) { drop[v[i].index] = 1; dropped++; }
    }
    free(v);
    size_t kept = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (drop[i]) {
            free(d->items[i].path); free(d->items[i].relpath); free(d->items[i].speaker);
            continue;
        }
        d->items[kept++] = d->items[i];
    }
    d->n = kept;
    free(drop);
    return dropped;
}

void vg_dataset_free(vg_dataset *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].path);
        free(d->items[i].relpath);
        free(d->items[i].speaker);
    }
    free(d->items);
    free(d);
}
