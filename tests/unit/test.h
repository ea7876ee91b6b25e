/* Minimal test harness: TEST(name) { CHECK(...); } registers itself; every
 * test is one pass or one fail in the final count. */
#ifndef VG_TEST_H
#define VG_TEST_H
#include <stddef.h>
#include <stdio.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define TEST(name)                                                              \
    static void name(void);                                                     \
    __attribute__((constructor)) static void register_##name(void)             \
    { test_register(#name, name); }                                             \
    static void name(void)

/* Records a failure and carries on with the test. */
#define CHECK(cond)                                                             \
    do { if (!(cond)) test_fail(__FILE__, __LINE__, "%s", #cond); } while (0)
#define CHECKF(cond, ...)                                                       \
    do { if (!(cond)) test_fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)
/* Records a failure and leaves the test (for preconditions). */
#define REQUIRE(cond)                                                           \
    do { if (!(cond)) { test_fail(__FILE__, __LINE__, "%s", #cond); return; } } while (0)

/* Helpers (test_util.c). Paths are relative to the repository root. */
const char *fixture_dir(void);     /* $VG_FIXTURES or tests/fixtures */
const char *shared_dir(void);      /* $VG_SHARED or ../shared */
const char *temp_dir(void);        /* a fresh folder for this run */
char *path_join(const char *a, const char *b);   /* malloc'd; caller frees */
/* Reads a little-endian float32 .npy; returns malloc'd data and its shape. */
float *npy_read_f32(const char *path, size_t shape[2], int *ndim);
/* Writes a WAV file: FORMAT 1 = PCM int, 3 = IEEE float; DATA is raw
 * interleaved little-endian samples of BITS bits. DATA_BYTES_CLAIMED is
 * what the header says (pass the real size normally). */
int write_wav(const char *path, int format, int channels, int rate, int bits,
              const void *data, size_t data_bytes, size_t data_bytes_claimed);
int run_cmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A small speaker-disjoint TTS corpus (2 clips per voice), made once per
 * run by scripts/make_tts_corpus.sh; NULL if that failed. Read-only. */
const char *tts_corpus(void);
long file_size(const char *path);
/* How many of the feature cache's files in DIR store a key containing
 * NEEDLE, and (*N) how many files there are. */
int cache_keys_with(const char *dir, const char *needle, int *n);
#endif
