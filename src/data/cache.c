/* On-disk feature cache, so a second training run on the same data spends
 * no time decoding. One file per (recording, front end): a header with the
 * full key, the shape, then float32 data. Written atomically. */
#include "voxgender.h"
#include "features.h"
#include "../util/atomic_file.h"
#include "../audio/decode.h"
#include "../audio/pitch.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAGIC "VGFEAT1\n"

const char *vg_default_cache_dir(void)
{
    static char dir[PATH_MAX];
    if (!dir[0]) {
        const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        if (x && *x) snprintf(dir, sizeof dir, "%s/voxgender", x);
        else snprintf(dir, sizeof dir, "%s/.cache/voxgender", home && *home ? home : "/tmp");
    }
    return dir;
}

uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

static int make_key(char *key, size_t n, const vg_frontend *fe, const char *path, double max_seconds)
{
    char real[PATH_MAX];
    struct stat st;
    if (!realpath(path, real) || stat(real, &st)) return -1;
    snprintf(key, n,
             "%s|%lld|%lld.%09ld|fe=%s sr=%d sec=%.6g max=%.6g nfft=%d win=%d hop=%d mels=%d "
             "fmin=%.6g fmax=%.6g mean=%.9g std=%.9g img=%d %.9g,%.9g,%.9g/%.9g,%.9g,%.9g",
             real, (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
             vg_frontend_name(fe->kind), fe->mel.sample_rate, fe->seconds, max_seconds,
             fe->mel.n_fft, fe->mel.win_length, fe->mel.hop_length, fe->mel.n_mels,
             fe->mel.f_min, fe->mel.f_max, fe->input_mean, fe->input_std,
             /* image front ends: 32x32 for lenet and 224x224 for an ImageNet net
              * are different features of the same file */
             fe->kind == VG_FE_SEED_IMAGE ? fe->image_size : 0, fe->image_mean[0], fe->image_mean[1],
             fe->image_mean[2], fe->image_std[0], fe->image_std[1], fe->image_std[2]);
    return 0;
}

static int cache_read(const char *file, const char *key, float **out, int *c, int *h, int *w)
{
    FILE *f = fopen(file, "rb");
    if (!f) return -1;
    char magic[8];
    uint32_t klen, dims[3];
    int ok = fread(magic, 1, 8, f) == 8 && !memcmp(magic, MAGIC, 8) && fread(&klen, 4, 1, f) == 1 &&
             klen == strlen(key) && klen < 8192;
    char stored[8192];
    ok = ok && fread(stored, 1, klen, f) == klen && !memcmp(stored, key, klen) &&
         fread(dims, 4, 3, f) == 3 && dims[0] * (uint64_t)dims[1] * dims[2] < (1u << 28);
    float *data = NULL;
    if (ok) {
        size_t n = (size_t)dims[0] * dims[1] * dims[2];
        data = malloc(sizeof(float) * (n ? n : 1));
        ok = data && fread(data, sizeof(float), n, f) == n;
    }
    fclose(f);
    if (!ok) { free(data); return -1; }
    *out = data;
    *c = (int)dims[0]; *h = (int)dims[1]; *w = (int)dims[2];
    return 0;
}

static void cache_write(const char *dir, const char *file, const char *key, const float *x, int c,
                        int h, int w)
{
    if (mkdir_p(dir)) return;   /* a cache that cannot be written is not an error */
    vg_atomic_file af;
    if (vg_atomic_open(&af, file)) return;
    uint32_t klen = (uint32_t)strlen(key), dims[3] = {(uint32_t)c, (uint32_t)h, (uint32_t)w};
    fwrite(MAGIC, 1, 8, af.fp);
    fwrite(&klen, 4, 1, af.fp);
    fwrite(key, 1, klen, af.fp);
    fwrite(dims, 4, 3, af.fp);
    fwrite(x, sizeof(float), (size_t)c * h * w, af.fp);
    vg_atomic_commit(&af);
}

int features_cached_degraded(const char *cache_dir, const vg_frontend *fe, const char *path,
                             double max_seconds, const degrade_spec *deg, float **out, int *c,
                             int *h, int *w, int *hit)
{
    if (hit) *hit = 0;
    char key[PATH_MAX + 900], file[PATH_MAX + 64];
    if (!cache_dir || make_key(key, sizeof key - 320, fe, path, max_seconds))
        return features_from_audio_degraded(fe, path, 0, max_seconds, deg, out, c, h, w, NULL);
    /* the code and libraries that made the features: an upgrade of either
     * makes them again rather than serve the old ones */
    char libs[160];
    audio_decoder_versions(libs, sizeof libs);
    char *end = key + strlen(key);
    const size_t room = sizeof key - strlen(key);
    int k = snprintf(end, room, " voxgender=%s@%s %s", vg_version(), vg_build_revision(), libs);
    end += k > 0 && (size_t)k < room ? k : 0;
    const size_t left = sizeof key - (size_t)(end - key);
    /* a lossy copy is the encoder library's work, upgraded apart from FFmpeg */
    if (deg && deg->kind == DEGRADE_CODEC)
        snprintf(end, left, " lossy=%s:%d:%.40s", lossy_codec_name(deg->codec), deg->bitrate,
                 lossy_encoder_version(deg->codec));
    else if (deg && deg->kind == DEGRADE_PITCH)
        snprintf(end, left, " pitch=%s-r3-formants:%.9g", audio_pitch_version(), deg->pitch);
    else if (deg)
        snprintf(end, left, " noise=white:%.9g:%016llx", deg->snr_db, (unsigned long long)deg->seed);
    snprintf(file, sizeof file, "%s/%016llx.f32", cache_dir, (unsigned long long)fnv1a(key));
    if (!cache_read(file, key, out, c, h, w)) {
        if (hit) *hit = 1;
        return VG_OK;
    }
    int rc = features_from_audio_degraded(fe, path, 0, max_seconds, deg, out, c, h, w, NULL);
    if (rc == VG_OK) cache_write(cache_dir, file, key, *out, *c, *h, *w);
    return rc;
}

int vg_features_cached(const char *cache_dir, const vg_frontend *fe, const char *path,
                       double max_seconds, float **out, int *c, int *h, int *w, int *hit)
{
    return features_cached_degraded(cache_dir, fe, path, max_seconds, NULL, out, c, h, w, hit);
}
