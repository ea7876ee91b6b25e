/* Dataset layout reader, speaker identity, split assignment, feature cache. */
#include "test.h"
#include "voxgender.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

static void touch_file(const char *root, const char *rel)
{
    char *p = path_join(root, rel);
    run_cmd("mkdir -p \"$(dirname '%s')\" && printf x > '%s'", p, p);
    free(p);
}

static const vg_item *find(const vg_dataset *d, const char *rel)
{
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->items[i].relpath, rel)) return &d->items[i];
    return NULL;
}

TEST(dataset_layout_naming_variants)
{
    char *root = path_join(temp_dir(), "ds1");
    touch_file(root, "Train/Male/id10001/vid/00001.wav");   /* VoxCeleb style */
    touch_file(root, "Train/Female/p225_001.flac");          /* name up to '_' */
    touch_file(root, "Train/Female/.hidden.wav");            /* skipped */
    touch_file(root, "val/1/103-1240-0000.flac");            /* 'val', label '1', name up to '-' */
    touch_file(root, "val/0/f_x.wav");
    touch_file(root, "TEST/male/spk9.wav");                  /* upper case, no separator */
    touch_file(root, "TEST/FEMALE/ab-cd_ef.mp3");
    touch_file(root, "Train/notes.txt/readme");              /* not a class folder: ignored */
    vg_dataset *d;
    char err[256];
    REQUIRE(vg_dataset_scan(root, NULL, &d, err, sizeof err) == VG_OK);
    CHECKF(d->n == 6, "%zu items", d->n);
    CHECK(d->has_splits);
    const vg_item *it;
    CHECK((it = find(d, "Train/Male/id10001/vid/00001.wav")) && it->label == 1 && it->split == 0 &&
          !strcmp(it->speaker, "id10001"));
    CHECK((it = find(d, "Train/Female/p225_001.flac")) && it->label == 0 && !strcmp(it->speaker, "p225"));
    CHECK((it = find(d, "val/1/103-1240-0000.flac")) && it->split == 1 && it->label == 1 &&
          !strcmp(it->speaker, "103"));
    CHECK((it = find(d, "val/0/f_x.wav")) && it->label == 0 && !strcmp(it->speaker, "f"));
    CHECK((it = find(d, "TEST/male/spk9.wav")) && it->split == 2 && !strcmp(it->speaker, "spk9"));
    CHECK((it = find(d, "TEST/FEMALE/ab-cd_ef.mp3")) && !strcmp(it->speaker, "ab"));
    vg_dataset_free(d);

    /* a manifest overrides speaker (and gender) */
    char *man = path_join(temp_dir(), "man.csv");
    FILE *f = fopen(man, "w");
    fprintf(f, "path,speaker,gender\nTrain/Female/p225_001.flac,alice,female\nTEST/male/spk9.wav,bob,female\n");
    fclose(f);
    REQUIRE(vg_dataset_scan(root, man, &d, err, sizeof err) == VG_OK);
    CHECK((it = find(d, "Train/Female/p225_001.flac")) && !strcmp(it->speaker, "alice"));
    CHECK((it = find(d, "TEST/male/spk9.wav")) && !strcmp(it->speaker, "bob") && it->label == 0);
    vg_dataset_free(d);
    /* rows name a recording by its path under the root or as found (root
     * joined); a row longer than any buffer stays one row: its tail, which
     * names a real recording, must not be read as a row of its own */
    f = fopen(man, "w");
    fprintf(f, "path,speaker,gender\n%s/val/0/f_x.wav,carol,female\nTrain/Female/p225_001.flac,alice,female\n",
            root);
    for (int i = 0; i < 4095; i++) fputc('x', f);
    fprintf(f, "Train/Female/p225_001.flac,eve,male\n");
    fclose(f);
    REQUIRE(vg_dataset_scan(root, man, &d, err, sizeof err) == VG_OK);
    CHECK((it = find(d, "val/0/f_x.wav")) && !strcmp(it->speaker, "carol"));
    CHECK((it = find(d, "Train/Female/p225_001.flac")) && !strcmp(it->speaker, "alice") && it->label == 0);
    CHECK((it = find(d, "TEST/male/spk9.wav")) && !strcmp(it->speaker, "spk9"));   /* not in this manifest */
    vg_dataset_free(d);
    free(man);
    free(root);
}

/* Symbolic links are followed (split's layouts are links), but not back to a
 * folder the walk is inside: a link to the root used to put the Male
 * folder's recordings under Female/ (and every file was listed again at each
 * level down to the depth limit). A link elsewhere still counts. */
TEST(dataset_walk_does_not_follow_links_back_up)
{
    char *root = path_join(temp_dir(), "loops");
    touch_file(root, "Train/Male/m1/a.wav");
    touch_file(root, "Train/Female/f1/b.wav");
    touch_file(root, "Test/Male/m2/c.wav");
    touch_file(root, "elsewhere/f3/d.wav");
    REQUIRE(run_cmd("cd '%s' && ln -s .. Train/Male/m1/up && ln -s '%s' Train/Female/root && "
                    "ln -s ../.. Test/Male/m2/top && ln -s ../../elsewhere/f3 Test/Male/m3",
                    root, root) == 0);
    vg_dataset *d;
    char err[256];
    REQUIRE(vg_dataset_scan(root, NULL, &d, err, sizeof err) == VG_OK);
    CHECKF(d->n == 4, "%zu items", d->n);
    const vg_item *it;
    CHECK((it = find(d, "Train/Male/m1/a.wav")) && it->label == 1);
    CHECK((it = find(d, "Train/Female/f1/b.wav")) && it->label == 0);
    CHECK((it = find(d, "Test/Male/m2/c.wav")) && it->label == 1);
    CHECK((it = find(d, "Test/Male/m3/d.wav")) && it->label == 1 && it->split == 2);   /* a link down */
    for (size_t i = 0; i < d->n; i++) CHECKF(!strstr(d->items[i].relpath, "root/"), "%s", d->items[i].relpath);
    vg_dataset_free(d);
    free(root);
}

TEST(dataset_splitless_folder_and_errors)
{
    char *root = path_join(temp_dir(), "ds2");
    touch_file(root, "Male/a_1.wav");
    touch_file(root, "f/b_1.wav");
    vg_dataset *d;
    char err[256];
    REQUIRE(vg_dataset_scan(root, NULL, &d, err, sizeof err) == VG_OK);
    CHECK(!d->has_splits && d->n == 2 && d->items[0].split == VG_SPLIT_NONE);
    vg_dataset_free(d);
    free(root);

    CHECK(vg_dataset_scan("/nonexistent-folder", NULL, &d, err, sizeof err) == VG_ENOENT);
    root = path_join(temp_dir(), "ds3");
    touch_file(root, "Train/stuff/x.wav");
    CHECK(vg_dataset_scan(root, NULL, &d, err, sizeof err) == VG_EARG);
    CHECKF(strstr(err, "no Male/Female") != NULL, "%s", err);
    free(root);
    root = path_join(temp_dir(), "ds4");
    touch_file(root, "other/x.wav");
    CHECK(vg_dataset_scan(root, NULL, &d, err, sizeof err) == VG_EARG);
    CHECKF(strstr(err, "neither") != NULL, "%s", err);
    free(root);
    root = path_join(temp_dir(), "ds5");
    touch_file(root, "val/Male/x.wav");
    touch_file(root, "Validation/Male/y.wav");
    CHECK(vg_dataset_scan(root, NULL, &d, err, sizeof err) == VG_EARG);
    CHECKF(strstr(err, "two folders") != NULL, "%s", err);
    free(root);
}

TEST(speaker_from_path_rules)
{
    struct { const char *in, *out; } c[] = {{"id10001/abc/1.wav", "id10001"}, {"p225_003.wav", "p225"},
        {"103-1240-0000.flac", "103"}, {"plain.wav", "plain"}, {"_x.wav", "_x"}, {"a_b-c.wav", "a"}};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char *s = vg_speaker_from_path(c[i].in);
        CHECKF(s && !strcmp(s, c[i].out), "%s -> %s (want %s)", c[i].in, s, c[i].out);
        free(s);
    }
}

TEST(split_assign_disjoint_ratios_deterministic)
{
    enum { N = 400 };
    const char *spk[N];
    int labels[N], a[N], b[N], c2[N];
    char names[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], 16, "s%d", i % 40);         /* 40 speakers x 10 recordings */
        spk[i] = names[i];
        labels[i] = (i % 40) < 20;
    }
    double r[3] = {0.6, 0.2, 0.2};
    REQUIRE(vg_split_assign(spk, labels, N, r, 1, 7, a) == VG_OK);
    REQUIRE(vg_split_assign(spk, labels, N, r, 1, 7, b) == VG_OK);
    CHECK(!memcmp(a, b, sizeof a));                      /* deterministic */
    REQUIRE(vg_split_assign(spk, labels, N, r, 1, 8, c2) == VG_OK);
    CHECK(memcmp(a, c2, sizeof a) != 0);                 /* the seed matters */
    int per_split[3][2] = {{0}};
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++)                      /* speaker-disjoint */
            if (!strcmp(spk[i], spk[j]) && a[i] != a[j]) { CHECKF(0, "speaker %s in two splits", spk[i]); i = N; break; }
        if (i < N) per_split[a[i]][labels[i]]++;
    }
    for (int g = 0; g < 2; g++) {
        CHECKF(per_split[0][g] == 120 && per_split[1][g] == 40 && per_split[2][g] == 40,
               "gender %d: %d/%d/%d", g, per_split[0][g], per_split[1][g], per_split[2][g]);
    }
    /* by recording: every speaker may be everywhere, ratios per recording */
    REQUIRE(vg_split_assign(spk, labels, N, r, 0, 7, a) == VG_OK);
    int cnt[3] = {0}, shared = 0;
    for (int i = 0; i < N; i++) cnt[a[i]]++;
    CHECK(cnt[0] == 240 && cnt[1] == 80 && cnt[2] == 80);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) shared |= !strcmp(spk[i], spk[j]) && a[i] != a[j];
    CHECK(shared);
    double bad[3] = {0.5, 0.5, 0.5};
    CHECK(vg_split_assign(spk, labels, N, bad, 1, 7, a) == VG_EARG);
}

TEST(feature_cache_hits_and_invalidates)
{
    char *cache = path_join(temp_dir(), "cache");
    char *src = path_join(shared_dir(), "data/vctk/audio/p225/p225_003.flac");
    char *wav = path_join(temp_dir(), "cached.flac");
    REQUIRE(run_cmd("cp '%s' '%s'", src, wav) == 0);
    vg_frontend fe;
    vg_frontend_default(&fe, VG_FE_LOGMEL);
    float *a = NULL, *b = NULL;
    int c, h, w, w2, hit = -1;
    REQUIRE(vg_features_cached(cache, &fe, wav, 0, &a, &c, &h, &w, &hit) == VG_OK);
    CHECK(hit == 0);
    REQUIRE(vg_features_cached(cache, &fe, wav, 0, &b, &c, &h, &w2, &hit) == VG_OK);
    CHECK(hit == 1 && w == w2 && !memcmp(a, b, sizeof(float) * (size_t)h * w));
    free(b);
    /* a changed setting is a different entry */
    vg_frontend other = fe;
    other.mel.n_mels = 64;
    REQUIRE(vg_features_cached(cache, &other, wav, 0, &b, &c, &h, &w2, &hit) == VG_OK);
    CHECK(hit == 0 && h == 64);
    free(b);
    /* image front ends: a 224x224 ImageNet input is not lenet's 32x32 one */
    vg_frontend img;
    vg_frontend_default(&img, VG_FE_SEED_IMAGE);
    REQUIRE(vg_features_cached(cache, &img, wav, 0, &b, &c, &h, &w2, &hit) == VG_OK);
    CHECK(hit == 0 && h == 32);
    free(b);
    img.image_size = 224;
    REQUIRE(vg_features_cached(cache, &img, wav, 0, &b, &c, &h, &w2, &hit) == VG_OK);
    CHECK(hit == 0 && c == 3 && h == 224 && w2 == 224);
    free(b);
    img.image_mean[0] = 0.485f;
    REQUIRE(vg_features_cached(cache, &img, wav, 0, &b, &c, &h, &w2, &hit) == VG_OK);
    CHECK(hit == 0);
    free(b);
    /* a changed file (new content and modification time) is recomputed */
    char *other_src = path_join(shared_dir(), "data/vctk/audio/p225/p225_004.flac");
    REQUIRE(run_cmd("cp '%s' '%s'", other_src, wav) == 0);
    struct utimbuf t = {.actime = 1000000000, .modtime = 1000000000};
    utime(wav, &t);
    REQUIRE(vg_features_cached(cache, &fe, wav, 0, &b, &c, &h, &w2, &hit) == VG_OK);
    CHECK(hit == 0);
    CHECK(w2 != w || memcmp(a, b, sizeof(float) * 128 * (size_t)w) != 0);
    free(a); free(b);
    /* an unusable cache folder is not an error */
    REQUIRE(vg_features_cached("/proc/no-cache-here", &fe, wav, 0, &a, &c, &h, &w, &hit) == VG_OK);
    free(a);
    free(cache); free(src); free(wav); free(other_src);
}

/* --per-speaker: at most N recordings of each speaker in the chosen splits,
 * drawn by the seed, spread over the speaker's folders, items still sorted. */
TEST(dataset_keep_per_speaker)
{
    char *root = path_join(temp_dir(), "perspk");
    char rel[128];
    for (int v = 0; v < 10; v++)            /* a VoxCeleb-like speaker: 10 videos x 10 clips */
        for (int u = 0; u < 10; u++) {
            snprintf(rel, sizeof rel, "Train/Male/id1/vid%d/%05d.wav", v, u);
            touch_file(root, rel);
        }
    for (int u = 0; u < 3; u++) {           /* fewer than N: all kept */
        snprintf(rel, sizeof rel, "Train/Female/id2/v/%05d.wav", u);
        touch_file(root, rel);
    }
    for (int u = 0; u < 15; u++) {          /* Validation limited too; Test not */
        snprintf(rel, sizeof rel, "Validation/Female/id3/v/%05d.wav", u);
        touch_file(root, rel);
        snprintf(rel, sizeof rel, "Test/Female/id4/v/%05d.wav", u);
        touch_file(root, rel);
    }
    vg_dataset *d, *e;
    char err[256];
    REQUIRE(vg_dataset_scan(root, NULL, &d, err, sizeof err) == VG_OK);
    REQUIRE(d->n == 133);
    const unsigned tv = 1u << VG_SPLIT_TRAIN | 1u << VG_SPLIT_VALIDATION;
    CHECK(vg_dataset_keep_per_speaker(d, 0, tv, 1) == VG_EARG);
    CHECKF(vg_dataset_keep_per_speaker(d, 10, tv, 1) == 90 + 5, "dropped");
    CHECKF(d->n == 38, "%zu left", d->n);
    int per[5] = {0}, videos[10] = {0}, n_videos = 0, sorted = 1;
    for (size_t i = 0; i < d->n; i++) {
        per[d->items[i].speaker[2] - '0']++;
        if (!strcmp(d->items[i].speaker, "id1")) {
            int v = d->items[i].relpath[strlen("Train/Male/id1/vid")] - '0';
            n_videos += !videos[v]++;
        }
        if (i && strcmp(d->items[i - 1].relpath, d->items[i].relpath) >= 0) sorted = 0;
    }
    CHECK(per[1] == 10 && per[2] == 3 && per[3] == 10 && per[4] == 15);
    CHECKF(n_videos >= 4, "%d of 10 videos", n_videos);   /* the first 10 in path order: 1 */
    CHECK(sorted);
    /* the same seed, the same recordings; another seed, others */
    REQUIRE(vg_dataset_scan(root, NULL, &e, err, sizeof err) == VG_OK);
    vg_dataset_keep_per_speaker(e, 10, tv, 1);
    int same = e->n == d->n;
    for (size_t i = 0; same && i < d->n; i++) same = !strcmp(d->items[i].relpath, e->items[i].relpath);
    CHECK(same);
    vg_dataset_free(e);
    REQUIRE(vg_dataset_scan(root, NULL, &e, err, sizeof err) == VG_OK);
    vg_dataset_keep_per_speaker(e, 10, tv, 2);
    same = e->n == d->n;
    for (size_t i = 0; same && i < d->n; i++) same = !strcmp(d->items[i].relpath, e->items[i].relpath);
    CHECK(!same);
    vg_dataset_free(e);
    vg_dataset_free(d);
    free(root);
}
