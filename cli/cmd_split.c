/* voxgender split: build the Train/Validation/Test x Male/Female layout
 * (symbolic links) from manifests or VoxCeleb metadata. */
#include "cli.h"
#include "voxgender.h"
#include "../src/util/dir_chain.h"

#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st; (void)type;
    return ftw->level > 0 ? remove(path) : 0;
}

/* Deletes what is in the folder PATH (links are not followed), and PATH
 * itself unless KEEP_ROOT */
static void remove_tree(const char *path, int keep_root)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (!keep_root) rmdir(path);
}

/* Where the layout is built, in STAGE [N]. A missing OUT gets a new folder
 * beside it ("OUT.partial-XXXXXX"), renamed to OUT when the layout is
 * complete. An empty OUT (the checks before allow no other) is built in
 * place, since renaming over it would change a folder someone may stand in
 * ('--out .'); a failure then empties it again. Either way a split that
 * fails half-way leaves no half-built dataset. *IN_PLACE says which.
 * Returns 0, or -1 with errno set. */
static int make_stage(const char *out, char *stage, size_t n, int *in_place)
{
    struct stat st;
    *in_place = stat(out, &st) == 0 && S_ISDIR(st.st_mode);
    if (*in_place) {
        if ((size_t)snprintf(stage, n, "%s", out) >= n) { errno = ENAMETOOLONG; return -1; }
        return 0;
    }
    char trimmed[PATH_MAX], parent[PATH_MAX];
    snprintf(trimmed, sizeof trimmed, "%s", out);
    for (size_t k = strlen(trimmed); k > 1 && trimmed[k - 1] == '/';) trimmed[--k] = '\0';
    snprintf(parent, sizeof parent, "%s", trimmed);
    if (cli_mkdirs(dirname(parent))) return -1;
    if ((size_t)snprintf(stage, n, "%s.partial-XXXXXX", trimmed) >= n) { errno = ENAMETOOLONG; return -1; }
    if (!mkdtemp(stage)) return -1;
    mode_t mask = umask(0);   /* mkdtemp makes it 0700; give it a folder's usual mode */
    umask(mask);
    return chmod(stage, 0777 & ~mask);
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: voxgender split --manifest CSV [--manifest CSV...] --out DATA [options]\n"
        "       voxgender split --vox-meta vox1_meta.csv --audio-root DIR --out DATA [options]\n"
        "       voxgender split --from DIR --out DATA [options]\n"
        "\n"
        "Build DATA/{Train,Validation,Test}/{Male,Female}/<speaker>/<file> as symbolic\n"
        "links to the recordings, ready for 'voxgender train'.\n"
        "\n"
        "options:\n"
        "      --from DIR        recordings already sorted by sex: DIR/{Male,Female}/... (or\n"
        "                        1/0), or a layout that lacks a split, such as Train and Test\n"
        "                        without Validation; speakers as 'train' reads them (the\n"
        "                        first folder under Male/Female, else the file name up to\n"
        "                        its first '_' or '-'). A Test split DIR has is kept as it\n"
        "                        is, and the rest is shared between Train and Validation\n"
        "                        in the ratio of --ratios' first two\n"
        "      --manifest CSV    columns path,speaker,gender[,split] (gender male/female or\n"
        "                        m/f; split train/validation/test, when given, is kept);\n"
        "                        paths relative to the CSV's folder. Several manifests pool\n"
        "                        corpora; speaker ids are then prefixed with the corpus\n"
        "                        (the CSV's folder name), since ids are unique per corpus\n"
        "      --vox-meta CSV    VoxCeleb1 vox1_meta.csv or VoxCeleb2 vox2_meta.csv (tab\n"
        "                        or comma separated; id and gender m/f columns)\n"
        "      --audio-root DIR  with --vox-meta: the audio folder (.../<id>/.../*.wav|m4a)\n"
        "  -o, --out DATA        layout to create (must not exist or be empty)\n"
        "      --by B            speaker (default: speaker-disjoint splits, what an accuracy\n"
        "                        claim needs) or recording (the reference project's split:\n"
        "                        the same speakers in every split)\n"
        "      --ratios R        train,validation,test fractions of each sex's speakers\n"
        "                        (of its recordings with --by recording; default\n"
        "                        0.8,0.1,0.1)\n"
        "      --seed N          shuffling seed (default 1); same inputs and seed, same split\n"
        "  -h, --help            show this help\n");
}

typedef struct rec {
    char *path;      /* absolute */
    char *speaker;
    int label;
    int split;       /* from a manifest's split column, or -1 */
} rec;

typedef struct recs {
    rec *r;
    size_t n, cap;
    int oom;         /* a record could not be stored: the run stops */
} recs;

static void recs_free(recs *v)
{
    for (size_t i = 0; i < v->n; i++) { free(v->r[i].path); free(v->r[i].speaker); }
    free(v->r);
}

static void add(recs *v, const char *path, const char *speaker, int label, int split)
{
    if (v->oom) return;
    rec *r = cli_grow(v->r, v->n, &v->cap, sizeof *r, 256);
    if (!r) { v->oom = 1; return; }
    v->r = r;
    v->r[v->n].path = strdup(path);
    v->r[v->n].speaker = strdup(speaker);
    if (!v->r[v->n].path || !v->r[v->n].speaker) {
        free(v->r[v->n].path);
        free(v->r[v->n].speaker);
        v->oom = 1;
        return;
    }
    v->r[v->n].label = label;
    v->r[v->n].split = split;
    v->n++;
}

/* The speaker's folder under DATA/<split>/<label>/: the id with '/', '\\'
 * and control characters replaced by '_', and '_' before an empty id or one
 * that starts with '.'. An id such as "../../x" would otherwise put links
 * outside DATA, one with a '/' would become a different speaker when DATA
 * is read back, and a hidden folder would be skipped by the folder walk. */
static void speaker_folder(const char *speaker, char *out, size_t n)
{
    size_t k = 0;
    if (!*speaker || *speaker == '.') out[k++] = '_';
    for (const char *c = speaker; *c && k + 1 < n; c++)
        out[k++] = *c == '/' || *c == '\\' || (unsigned char)*c < 0x20 || *c == 0x7F ? '_' : *c;
    out[k] = '\0';
}

static int split_word(const char *s)
{
    if (!strcasecmp(s, "train")) return VG_SPLIT_TRAIN;
    if (!strcasecmp(s, "validation") || !strcasecmp(s, "val")) return VG_SPLIT_VALIDATION;
    if (!strcasecmp(s, "test")) return VG_SPLIT_TEST;
    return -1;
}

static int gender_of(const char *s)
{
    if (!strcasecmp(s, "male") || !strcasecmp(s, "m")) return 1;
    if (!strcasecmp(s, "female") || !strcasecmp(s, "f")) return 0;
    return -1;
}

/* Split a line on commas or tabs, trimming spaces. */
static int fields(char *line, char **f, int max)
{
    line[strcspn(line, "\r\n")] = '\0';
    int n = 0;
    char *s = line;
    while (n < max) {
        f[n++] = s;
        char *c = s + strcspn(s, ",\t");
        if (!*c) break;
        *c = '\0';
        s = c + 1;
    }
    for (int i = 0; i < n; i++) {
        while (*f[i] == ' ' || *f[i] == '"') f[i]++;
        size_t l = strlen(f[i]);
        while (l && (f[i][l - 1] == ' ' || f[i][l - 1] == '"')) f[i][--l] = '\0';
    }
    return n;
}

static int read_manifest(const char *csv, int prefix, recs *out)
{
    FILE *f = fopen(csv, "r");
    if (!f) { cli_error("%s: cannot open", csv); return -1; }
    char dir[PATH_MAX], tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", csv);
    if (!realpath(dirname(tmp), dir)) { fclose(f); cli_error("%s: bad path", csv); return -1; }
    char corpus[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", dir);
    snprintf(corpus, sizeof corpus, "%s", basename(tmp));
    char *line = NULL;   /* any length: a fixed buffer would cut a long line in two records */
    size_t cap = 0;
    int cp = -1, cs = -1, cg = -1, csp = -1, lineno = 0, bad = 0;
    while (getline(&line, &cap, f) > 0) {
        char *fl[64];
        int n = fields(line, fl, 64);
        if (++lineno == 1) {
            for (int i = 0; i < n; i++) {
                if (!strcasecmp(fl[i], "path")) cp = i;
                else if (!strcasecmp(fl[i], "speaker")) cs = i;
                else if (!strcasecmp(fl[i], "gender")) cg = i;
                else if (!strcasecmp(fl[i], "split")) csp = i;
            }
            if (cp < 0 || cs < 0 || cg < 0) {
                fclose(f);
                free(line);
                cli_error("%s: header needs columns path,speaker,gender", csv);
                return -1;
            }
            continue;
        }
        if (n <= cp || n <= cs || n <= cg || !*fl[cp]) continue;
        int g = gender_of(fl[cg]);
        if (g < 0) {
            if (bad++ < 3) cli_error("%s:%d: gender '%s' is not male/female (line skipped)", csv, lineno, fl[cg]);
            continue;
        }
        char path[PATH_MAX * 2], spk[PATH_MAX + 512];
        if (fl[cp][0] == '/') snprintf(path, sizeof path, "%s", fl[cp]);
        else snprintf(path, sizeof path, "%s/%s", dir, fl[cp]);
        if (prefix) snprintf(spk, sizeof spk, "%s-%s", corpus, fl[cs]);
        else snprintf(spk, sizeof spk, "%s", fl[cs]);
        int sp = -1;
        if (csp >= 0 && (n <= csp || (sp = split_word(fl[csp])) < 0)) {
            if (bad++ < 3) cli_error("%s:%d: split must be train, validation or test (line skipped)", csv, lineno);
            continue;
        }
        add(out, path, spk, g, sp);
    }
    free(line);
    fclose(f);
    return 0;
}

/* VoxCeleb metadata: id -> gender, then every file under AUDIO_ROOT whose
 * path has an id folder. */
typedef struct { char id[64]; int g; } vox_spk;

/* CURRENT: the speaker (index into SPK) whose folder DIR is in, -1 above
 * the speakers' folders. An index, not the id: a file then costs no search
 * of the id list (VoxCeleb2: a million files, 6,000 ids). */
static void walk_audio(const char *dir, vox_spk *spk, size_t ns, long current, recs *out, int depth,
                       const vg_dir_chain *chain)   /* DIR and the folders above it */
{
    if (depth > 6) return;
    DIR *dp = opendir(dir);
    if (!dp) return;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (e->d_name[0] == '.') continue;
        char p[PATH_MAX + 256];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st)) continue;
        if (S_ISDIR(st.st_mode)) {
            if (vg_dir_chain_has(chain, &st)) continue;   /* a link back up: a loop */
            long id = current;
            for (size_t k = 0; k < ns && id < 0; k++)   /* the first entry for an id gives its gender */
                if (!strcmp(spk[k].id, e->d_name)) id = (long)k;
            vg_dir_chain down = vg_dir_chain_into(chain, &st);
            walk_audio(p, spk, ns, id, out, depth + 1, &down);
        } else if (S_ISREG(st.st_mode) && current >= 0) {
            add(out, p, spk[current].id, spk[current].g, -1);
        }
    }
    closedir(dp);
}

static int read_vox_meta(const char *csv, const char *root, recs *out)
{
    FILE *f = fopen(csv, "r");
    if (!f) { cli_error("%s: cannot open", csv); return -1; }
    char *line = NULL;
    size_t line_cap = 0;
    int cid = -1, cg = -1, lineno = 0;
    size_t ns = 0, cap = 0;
    vox_spk *spk = NULL;
    while (getline(&line, &line_cap, f) > 0) {
        char *fl[16];
        int n = fields(line, fl, 16);
        if (++lineno == 1) {
            for (int i = 0; i < n; i++) {
                if (strcasestr(fl[i], "gender")) cg = i;
                else if (cid < 0 && (strcasestr(fl[i], "VoxCeleb") || !strcasecmp(fl[i], "ID"))) cid = i;
            }
            if (cid < 0 || cg < 0) { fclose(f); free(spk); free(line); cli_error("%s: no id/gender columns", csv); return -1; }
            continue;
        }
        if (n <= cid || n <= cg) continue;
        int g = gender_of(fl[cg]);
        if (g < 0) continue;
        vox_spk *more = cli_grow(spk, ns, &cap, sizeof *spk, 256);
        if (!more) { fclose(f); free(spk); free(line); cli_error("split: out of memory"); return -1; }
        spk = more;
        snprintf(spk[ns].id, sizeof spk[ns].id, "%s", fl[cid]);
        spk[ns++].g = g;
    }
    free(line);
    fclose(f);
    char real[PATH_MAX];
    if (!realpath(root, real)) { free(spk); cli_error("%s: no such folder", root); return -1; }
    struct stat st;
    if (stat(real, &st) != 0) { free(spk); cli_error("%s: no such folder", root); return -1; }
    const vg_dir_chain top = vg_dir_chain_into(NULL, &st);
    walk_audio(real, spk, ns, -1, out, 0, &top);
    free(spk);
    return 0;
}

/* --from: the recordings of DIR as vg_dataset_scan reads it (what `train`
 * sees), their Test split kept (*HAS_TEST) and the rest left for the
 * ratios. Paths are made absolute, as the links need. */
static int read_from_dir(const char *dir, recs *out, int *has_test)
{
    vg_dataset *d;
    char err[512], real[PATH_MAX];
    if (vg_dataset_scan(dir, NULL, &d, err, sizeof err)) { cli_error("%s", err); return -1; }
    *has_test = 0;
    for (size_t i = 0; i < d->n; i++) {
        const vg_item *it = &d->items[i];
        const int test = d->has_splits && it->split == VG_SPLIT_TEST;
        *has_test |= test;
        add(out, realpath(it->path, real) ? real : it->path, it->speaker, it->label, test ? VG_SPLIT_TEST : -1);
    }
    vg_dataset_free(d);
    return 0;
}

/* "a,b,c": three finite fractions in [0, 1], nothing after them (sscanf
 * took "nan,0.5,0.5", which put every recording in Train) */
static int parse_ratios(const char *s, double r[3])
{
    for (int k = 0; k < 3; k++) {
        char *end;
        r[k] = strtod(s, &end);
        if (end == s || !(r[k] >= 0 && r[k] <= 1) || *end != (k < 2 ? ',' : '\0')) return 0;
        s = end + 1;
    }
    return 1;
}

static int empty_or_missing(const char *dir)
{
    DIR *dp = opendir(dir);
    if (!dp) return errno == ENOENT;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(dp)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) { empty = 0; break; }
    closedir(dp);
    return empty;
}

/* Speakers per split and class among the records linked (LINKED[i]):
 * with a few speakers holding most of the recordings, speaker shares and
 * recording shares differ widely, and the summary shows both. */
static int count_speakers(const recs *v, const int *split, const char *linked, size_t out[3][2])
{
    char **names = malloc(sizeof(char *) * (v->n + 1));
    if (!names) return -1;
    for (int sp = 0; sp < 3; sp++)
        for (int label = 0; label < 2; label++) {
            size_t m = 0;
            for (size_t i = 0; i < v->n; i++)
                if (linked[i] && split[i] == sp && v->r[i].label == label) names[m++] = v->r[i].speaker;
            out[sp][label] = cli_sort_unique(names, m);
        }
    free(names);
    return 0;
}

int cmd_split(int argc, char **argv)
{
    const char *manifests[64], *vox_meta = NULL, *audio_root = NULL, *out = NULL, *from = NULL;
    int n_manifests = 0, by_speaker = 1, seed = 1;
    double ratios[3] = {0.8, 0.1, 0.1};
    enum { O_MANIFEST = 256, O_VOX, O_ROOT, O_BY, O_RATIOS, O_SEED, O_FROM };
    static const struct option opts[] = {
        {"manifest", required_argument, 0, O_MANIFEST}, {"vox-meta", required_argument, 0, O_VOX},
        {"from", required_argument, 0, O_FROM},
        {"audio-root", required_argument, 0, O_ROOT}, {"out", required_argument, 0, 'o'},
        {"by", required_argument, 0, O_BY}, {"ratios", required_argument, 0, O_RATIOS},
        {"seed", required_argument, 0, O_SEED}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case O_MANIFEST:
            if (n_manifests == 64) { cli_error("split: at most 64 manifests"); return 2; }
            manifests[n_manifests++] = optarg;
            break;
        case O_VOX: vox_meta = optarg; break;
        case O_FROM: from = optarg; break;
        case O_ROOT: audio_root = optarg; break;
        case 'o': out = optarg; break;
        case O_BY:
            if (!strcmp(optarg, "recording")) by_speaker = 0;
            else if (strcmp(optarg, "speaker")) { cli_error("--by: expected speaker or recording, got '%s'", optarg); return 2; }
            break;
        case O_RATIOS:
            if (!parse_ratios(optarg, ratios) ||
                ratios[0] + ratios[1] + ratios[2] < 0.999 || ratios[0] + ratios[1] + ratios[2] > 1.001) {
                cli_error("--ratios: expected three fractions summing to 1, like 0.8,0.1,0.1; got '%s'", optarg);
                return 2;
            }
            break;
        case O_SEED: if (cli_parse_int("--seed", optarg, 0, 2147483647, &seed)) return 2; break;
        case 'h': usage(stdout); return 0;
        default: cli_error("split: unknown or incomplete option '%s' (see --help)", argv[optind - 1]); return 2;
        }
    }
    if (!out) { cli_error("split: no output folder (use --out DATA)"); return 2; }
    if (!n_manifests && !vox_meta && !from) {
        cli_error("split: give --manifest CSV, --vox-meta CSV --audio-root DIR, or --from DIR");
        return 2;
    }
    if (from && (n_manifests || vox_meta)) { cli_error("split: --from cannot be combined with --manifest or --vox-meta"); return 2; }
    if (vox_meta && !audio_root) { cli_error("split: --vox-meta needs --audio-root DIR"); return 2; }
    if (optind != argc) { cli_error("split: unexpected argument '%s'", argv[optind]); return 2; }
    if (!empty_or_missing(out)) { cli_error("%s: exists and is not empty (choose a new folder)", out); return 2; }
    /* normalise ratios exactly */
    double s = ratios[0] + ratios[1] + ratios[2];
    for (int i = 0; i < 3; i++) ratios[i] /= s;

    recs v = {0};
    int bad = 0;
    for (int i = 0; i < n_manifests && !bad; i++) bad = read_manifest(manifests[i], n_manifests > 1, &v) != 0;
    if (!bad && vox_meta) bad = read_vox_meta(vox_meta, audio_root, &v) != 0;
    int from_test = 0;
    if (!bad && from) bad = read_from_dir(from, &v, &from_test) != 0;
    if (from_test) {
        /* DIR's Test stays what it is; the rest goes to Train and Validation */
        if (ratios[0] + ratios[1] <= 0) {
            cli_error("split: --from %s keeps its Test split, so --ratios needs a train or validation share", from);
            bad = 1;
        } else {
            const double tv = ratios[0] + ratios[1];
            ratios[0] /= tv;
            ratios[1] /= tv;
            ratios[2] = 0;
        }
    }
    if (!bad && v.oom) { cli_error("split: out of memory"); bad = 1; }
    if (!bad && !v.n) { cli_error("split: no recordings found"); bad = 1; }
    if (bad) { recs_free(&v); return 2; }

    /* the ratios share out only the recordings without a split of their own
     * (a manifest's split column, --from's Test), which keep it */
    const char **spk = malloc(sizeof(char *) * v.n);
    int *labels = malloc(sizeof(int) * v.n), *split = malloc(sizeof(int) * v.n), *open_split = malloc(sizeof(int) * v.n);
    size_t given = 0, n_open = 0;
    if (spk && labels && split && open_split)
        for (size_t i = 0; i < v.n; i++) {
            if (v.r[i].split >= 0) { given++; continue; }
            spk[n_open] = v.r[i].speaker;
            labels[n_open++] = v.r[i].label;
        }
    if (!spk || !labels || !split || !open_split ||
        (n_open && vg_split_assign(spk, labels, n_open, ratios, by_speaker, (uint64_t)seed, open_split))) {
        cli_error("split: cannot assign splits (out of memory)");
        free(spk); free(labels); free(split); free(open_split); recs_free(&v);
        return 2;
    }
    for (size_t i = 0, k = 0; i < v.n; i++) split[i] = v.r[i].split >= 0 ? v.r[i].split : open_split[k++];
    free(open_split);
    static const char *SPLIT_DIR[3] = {"Train", "Validation", "Test"};
    size_t counts[3][2] = {{0}}, speakers[3][2] = {{0}}, missing = 0;
    char *linked = calloc(v.n, 1);
    if (!linked) {
        cli_error("split: out of memory");
        free(spk); free(labels); free(split); recs_free(&v);
        return 2;
    }
    char stage[PATH_MAX];
    int in_place = 0;
    const int staged = make_stage(out, stage, sizeof stage, &in_place) == 0;
    int failed = !staged;
    if (failed) cli_error("%s: cannot create a folder beside it (%s)", out, strerror(errno));
    for (size_t i = 0; i < v.n && !failed; i++) {
        char dir[2 * PATH_MAX], link[3 * PATH_MAX], tmp[PATH_MAX], folder[NAME_MAX + 1];
        struct stat st;
        if (stat(v.r[i].path, &st)) {
            if (missing++ < 5) cli_error("%s: missing (skipped)", v.r[i].path);
            continue;
        }
        speaker_folder(v.r[i].speaker, folder, sizeof folder);
        snprintf(dir, sizeof dir, "%s/%s/%s/%s", stage, SPLIT_DIR[split[i]], v.r[i].label ? "Male" : "Female",
                 folder);
        if (cli_mkdirs(dir)) {
            cli_error("%s: cannot create a folder for it (%s)", v.r[i].path, strerror(errno));
            failed = 1;
            break;
        }
        snprintf(tmp, sizeof tmp, "%s", v.r[i].path);
        const char *base = basename(tmp);
        snprintf(link, sizeof link, "%s/%s", dir, base);
        for (int k = 2; access(link, F_OK) == 0; k++)   /* same file name twice: number it */
            snprintf(link, sizeof link, "%s/%d_%s", dir, k, base);
        if (strlen(link) >= PATH_MAX) errno = ENAMETOOLONG;
        if (strlen(link) >= PATH_MAX || symlink(v.r[i].path, link)) {
            cli_error("%s: cannot create its link (%s)", v.r[i].path, strerror(errno));
            failed = 1;
            break;
        }
        counts[split[i]][v.r[i].label]++;
        linked[i] = 1;
    }
    if (!failed && !in_place && rename(stage, out)) {
        cli_error("%s: cannot create (%s)", out, strerror(errno));
        failed = 1;
    }
    if (failed) {
        if (staged) remove_tree(stage, in_place);
        recs_free(&v);
        free(spk); free(labels); free(split); free(linked);
        return 1;
    }
    /* the layout is complete: without memory for the count, the table shows recordings only */
    const int have_speakers = count_speakers(&v, split, linked, speakers) == 0;
    free(linked);
    if (given == v.n)
        printf("split %zu recordings into %s as the manifests' split column says:\n", v.n - missing, out);
    else
        printf("split %zu recordings %s into %s (seed %d):\n", v.n - missing,
               by_speaker ? "by speaker (speaker-disjoint)" : "by recording (speakers shared)", out, seed);
    if (have_speakers) printf("  %-10s %7s %9s %7s %9s\n", "", "female", "speakers", "male", "speakers");
    else printf("  %-10s %7s %7s\n", "", "female", "male");
    for (int sp = 0; sp < 3; sp++)
        if (have_speakers)
            printf("  %-10s %7zu %9zu %7zu %9zu\n", SPLIT_DIR[sp], counts[sp][0], speakers[sp][0], counts[sp][1],
                   speakers[sp][1]);
        else
            printf("  %-10s %7zu %7zu\n", SPLIT_DIR[sp], counts[sp][0], counts[sp][1]);
    if (from_test) printf("  Test is %s's own; the rest was shared between Train and Validation\n", from);
    if (missing) printf("  %zu manifest entries point to missing files (skipped)\n", missing);
    recs_free(&v);
    free(spk); free(labels); free(split);
    return missing ? 1 : 0;
}
