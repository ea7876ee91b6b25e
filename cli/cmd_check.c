/* voxgender check DATA: what is in a dataset, and whether its splits can
 * support an accuracy claim. */
#include "cli.h"
#include "progress.h"
#include "voxgender.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: voxgender check [options] DATA\n"
        "\n"
        "Count recordings, speakers and hours per split and class of a dataset laid out\n"
        "as DATA/{Train,Validation,Test}/{Male,Female}/... (also lower case, 'val',\n"
        "label folders 1/0, per-speaker sub-folders), list unreadable files, and report\n"
        "speakers shared between splits.\n"
        "\n"
        "options:\n"
        "      --manifest CSV  speaker (and gender) per file: columns path,speaker[,gender]\n"
        "  -j, --jobs N        files probed in parallel (default: number of cores)\n"
        "  -q, --quiet         no progress bar\n"
        "  -h, --help          show this help\n"
        "\n"
        "Exit status: 0 usable for training, 1 problems found (unreadable files, an empty\n"
        "split or class, no split folders; each said after the table, with the command\n"
        "that mends a layout), 2 usage error or unreadable layout.\n");
}

typedef struct probe_job {
    const vg_dataset *d;
    double *secs;
    int *status;
    size_t next;
    pthread_mutex_t lock;
    progress prog;
} probe_job;

static void *probe_worker(void *arg)
{
    probe_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        size_t i = j->next++;
        pthread_mutex_unlock(&j->lock);
        if (i >= j->d->n) return NULL;
        j->status[i] = vg_audio_probe(j->d->items[i].path, &j->secs[i]);
        progress_step(&j->prog);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether S is in the sorted LIST[N] */
static int in_sorted(char **list, size_t n, const char *s)
{
    return n && bsearch(&s, list, n, sizeof *list, cmp_str) != NULL;
}

int cmd_check(int argc, char **argv)
{
    const char *manifest = NULL;
    int jobs = cli_ncpus(), quiet = 0;
    static const struct option opts[] = {{"manifest", required_argument, 0, 'm'},
                                         {"jobs", required_argument, 0, 'j'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "j:qh", opts, NULL)) != -1) {
        if (c == 'm') manifest = optarg;
        else if (c == 'j') { if (cli_parse_int("--jobs", optarg, 1, 1024, &jobs)) return 2; }
        else if (c == 'q') quiet = 1;
        else if (c == 'h') { usage(stdout); return 0; }
        else { cli_error("check: unknown or incomplete option '%s' (see --help)", argv[optind - 1]); return 2; }
    }
    if (argc - optind != 1) { cli_error("check: expected one dataset folder (see --help)"); return 2; }
    const char *root = argv[optind];
    vg_dataset *d;
    char err[512];
    int rc = vg_dataset_scan(root, manifest, &d, err, sizeof err);
    if (rc) { cli_error("%s", err); return 2; }

    probe_job j = {.d = d, .secs = calloc(d->n + 1, sizeof(double)), .status = calloc(d->n + 1, sizeof(int))};
    /* speakers of one split and class, and of each split (sorted, distinct), for overlaps */
    char **seen = calloc(d->n + 1, sizeof(char *)), **spk[4] = {0};
    size_t nspk[4] = {0};
    for (int si = 0; si < 4; si++) spk[si] = calloc(d->n + 1, sizeof(char *));
    if (!j.secs || !j.status || !seen || !spk[0] || !spk[1] || !spk[2] || !spk[3]) {
        cli_error("check: %s: %s", root, vg_strerror(VG_ENOMEM));
        for (int si = 0; si < 4; si++) free(spk[si]);
        free(seen);
        free(j.secs);
        free(j.status);
        vg_dataset_free(d);
        return 2;
    }
    pthread_mutex_init(&j.lock, NULL);
    progress_init(&j.prog, "check", d->n, quiet);
    cli_run_threads(jobs, probe_worker, &j);
    progress_finish(&j.prog);

    int splits[4] = {VG_SPLIT_TRAIN, VG_SPLIT_VALIDATION, VG_SPLIT_TEST, VG_SPLIT_NONE};
    int problems = 0, empty[4][2] = {{0}};   /* no readable recording in a split and class */
    char shown[4096];   /* the folder's name, escaped as in messages */
    printf("dataset %s: %zu files%s\n\n", cli_escape(shown, sizeof shown, root), d->n,
           d->has_splits ? "" : " (no Train/Validation/Test split folders)");
    printf("%-11s %-7s %10s %9s %8s %11s\n", "split", "class", "recordings", "speakers", "hours", "unreadable");
    for (int si = 0; si < 4; si++) {
        for (int label = 0; label < 2; label++) {
            size_t recs = 0, bad = 0, speakers = 0;
            double hours = 0;
            for (size_t i = 0; i < d->n; i++) {
                const vg_item *it = &d->items[i];
                if (it->split != splits[si] || it->label != label) continue;
                recs++;
                if (j.status[i]) { bad++; continue; }
                hours += j.secs[i] / 3600.0;
                seen[speakers++] = it->speaker;
                spk[si][nspk[si]++] = it->speaker;
            }
            speakers = cli_sort_unique(seen, speakers);
            if (splits[si] == VG_SPLIT_NONE && !recs) continue;
            if (splits[si] != VG_SPLIT_NONE && !d->has_splits) continue;
            printf("%-11s %-7s %10zu %9zu %8.3f %11zu\n", vg_split_name(splits[si]), vg_label_name(label),
                   recs, speakers, hours, bad);
            if (recs == bad) { problems++; empty[si][label] = 1; }
        }
        nspk[si] = cli_sort_unique(spk[si], nspk[si]);
    }
    free(seen);
    size_t unreadable = 0;
    for (size_t i = 0; i < d->n; i++) unreadable += j.status[i] != 0;
    if (unreadable) {
        problems++;
        printf("\nunreadable files (%zu):\n", unreadable);
        for (size_t i = 0; i < d->n; i++)
            if (j.status[i]) {
                fputs("  ", stdout);
                cli_put_escaped(stdout, d->items[i].path);
                printf(": %s\n", vg_strerror(j.status[i]));
            }
    }
    if (d->has_splits) {
        printf("\nspeakers shared between splits:\n");
        size_t shared_total = 0;
        for (int a = 0; a < 3; a++)
            for (int b = a + 1; b < 3; b++) {
                size_t shared = 0;
                for (size_t k = 0; k < nspk[a]; k++) shared += in_sorted(spk[b], nspk[b], spk[a][k]);
                shared_total += shared;
                printf("  %s/%s: %zu\n", vg_split_name(splits[a]), vg_split_name(splits[b]), shared);
            }
        int same_everywhere = nspk[0] && nspk[0] == nspk[1] && nspk[1] == nspk[2];
        for (size_t k = 0; same_everywhere && k < nspk[0]; k++)
            same_everywhere = in_sorted(spk[1], nspk[1], spk[0][k]) && in_sorted(spk[2], nspk[2], spk[0][k]);
        if (same_everywhere)
            printf("every split holds the same speakers (the reference project's requirement).\n");
        else
            printf("the splits do not all hold the same speakers (the reference project required it).\n");
        if (shared_total)
            printf("warning: speakers shared between splits inflate accuracy: the model can recognise\n"
                   "         the speaker rather than the sex. An accuracy claim needs speaker-disjoint\n"
                   "         splits (voxgender split --by speaker).\n");
        else
            printf("speaker-disjoint: accuracy on Test measures voices the model has never heard.\n");
    }
    /* what the table's zeros mean for training, and the command that mends a layout */
    if (!d->has_splits) {
        problems++;
        printf("\nno Train/Validation/Test folders: train needs them ('voxgender split --from %s --out NEW'\n"
               "makes them, speaker-disjoint); eval reads this folder as it is.\n", root);
    } else {
        static const char *why[3] = {"training needs both classes",
                                     "the validation loss, which picks the epoch, then measures one class",
                                     "no test accuracy for that class"};
        const int no_validation = empty[VG_SPLIT_VALIDATION][0] && empty[VG_SPLIT_VALIDATION][1];
        int any = 0;
        for (int si = 0; si < 3; si++)
            for (int label = 0; label < 2; label++) {
                if (!empty[si][label] || (si == VG_SPLIT_VALIDATION && no_validation)) continue;
                if (!any++) printf("\nproblems:\n");
                printf("  %s holds no readable %s recording (%s)\n", vg_split_name(splits[si]),
                       vg_label_name(label), why[si]);
            }
        if (no_validation) {
            if (!any++) printf("\nproblems:\n");
            printf("  validation holds no readable recording (train picks its epoch by the validation loss)%s\n",
                   empty[VG_SPLIT_TRAIN][0] || empty[VG_SPLIT_TRAIN][1] ? "" : ":");
            if (!empty[VG_SPLIT_TRAIN][0] && !empty[VG_SPLIT_TRAIN][1])
                printf("  'voxgender split --from %s --out NEW' moves some Train speakers there, Test kept\n", root);
        }
    }
    for (int si = 0; si < 4; si++) free(spk[si]);
    free(j.secs);
    free(j.status);
    vg_dataset_free(d);
    return problems ? 1 : 0;
}
