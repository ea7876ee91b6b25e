#include "test.h"
#include <dirent.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

typedef struct { const char *name; test_fn fn; } entry;
static entry tests[512];
static int n_tests;
static int current_failed;

void test_register(const char *name, test_fn fn)
{
    if (n_tests < 512) tests[n_tests++] = (entry){name, fn};
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stdout, "    %s:%d: ", file, line);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    current_failed = 1;
}

const char *fixture_dir(void)
{
    const char *e = getenv("VG_FIXTURES");
    return e ? e : "tests/fixtures";
}

const char *shared_dir(void)
{
    const char *e = getenv("VG_SHARED");
    return e ? e : "../shared";
}

const char *temp_dir(void)
{
    static char dir[64];
    if (!dir[0]) {
        strcpy(dir, "/tmp/vg-unit-XXXXXX");
        if (!mkdtemp(dir)) { perror("mkdtemp"); exit(2); }
    }
    return dir;
}

char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

float *npy_read_f32(const char *path, size_t shape[2], int *ndim)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char pre[10];
    float *data = NULL;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) || pre[6] != 1) goto out;
    size_t hlen = pre[8] | (size_t)pre[9] << 8;
    char header[4096] = {0};
    if (hlen >= sizeof header || fread(header, 1, hlen, f) != hlen) goto out;
    if (!strstr(header, "'<f4'") || strstr(header, "'fortran_order': True")) goto out;
    char *s = strstr(header, "'shape': (");
    if (!s) goto out;
    s += 10;
    *ndim = 0;
    size_t count = 1;
    shape[0] = shape[1] = 1;
    while (*s && *s != ')' && *ndim < 2) {
        shape[(*ndim)++] = strtoul(s, &s, 10);
        count *= shape[*ndim - 1];
        while (*s == ',' || *s == ' ') s++;
    }
    data = malloc(count * sizeof(float) + 1);
    if (fread(data, sizeof(float), count, f) != count) { free(data); data = NULL; }
out:
    fclose(f);
    return data;
}

static void put_u32(FILE *f, uint32_t v) { for (int i = 0; i < 4; i++) fputc((v >> (8 * i)) & 255, f); }
static void put_u16(FILE *f, uint16_t v) { fputc(v & 255, f); fputc(v >> 8, f); }

int write_wav(const char *path, int format, int channels, int rate, int bits,
              const void *data, size_t data_bytes, size_t claimed)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fwrite("RIFF", 1, 4, f);
    put_u32(f, (uint32_t)(36 + claimed));
    fwrite("WAVEfmt ", 1, 8, f);
    put_u32(f, 16);
    put_u16(f, (uint16_t)format);
    put_u16(f, (uint16_t)channels);
    put_u32(f, (uint32_t)rate);
    put_u32(f, (uint32_t)((uint64_t)rate * channels * bits / 8));
    put_u16(f, (uint16_t)(channels * bits / 8 ? channels * bits / 8 : 1));
    put_u16(f, (uint16_t)bits);
    fwrite("data", 1, 4, f);
    put_u32(f, (uint32_t)claimed);
    if (data_bytes) fwrite(data, 1, data_bytes, f);
    return fclose(f);
}

int run_cmd(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

const char *tts_corpus(void)
{
    static char *root;
    static int failed;
    if (!root && !failed) {
        root = path_join(temp_dir(), "tts");
        if (run_cmd("scripts/make_tts_corpus.sh '%s' 2 >/dev/null", root)) {
            free(root);
            root = NULL;
            failed = 1;
        }
    }
    return root;
}

long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    const char *only = argc > 1 ? argv[1] : NULL;
    for (int i = 0; i < n_tests; i++) {
        if (only && !strstr(tests[i].name, only)) continue;
        current_failed = 0;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        tests[i].fn();
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) * 1e-6;
        printf("%s %s (%.0f ms)\n", current_failed ? "FAIL" : "ok  ", tests[i].name, ms);
        fflush(stdout);
        if (current_failed) failed++; else passed++;
    }
    run_cmd("rm -rf %s", temp_dir());
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

/* How many of the cache files in DIR store a key containing NEEDLE, and
 * (*N) how many files there are: after the 8-byte magic, the key's length
 * (uint32) and the key. */
int cache_keys_with(const char *dir, const char *needle, int *n)
{
    int with = 0;
    *n = 0;
    DIR *dp = opendir(dir);
    for (struct dirent *e; dp && (e = readdir(dp));) {
        if (e->d_name[0] == '.') continue;
        char *f = path_join(dir, e->d_name), key[8192] = {0};
        FILE *fp = fopen(f, "rb");
        uint32_t klen = 0;
        if (fp && fseek(fp, 8, SEEK_SET) == 0 && fread(&klen, 4, 1, fp) == 1 && klen < sizeof key &&
            fread(key, 1, klen, fp) == klen) {
            (*n)++;
            with += strstr(key, needle) != NULL;
        }
        if (fp) fclose(fp);
        free(f);
    }
    if (dp) closedir(dp);
    return with;
}
