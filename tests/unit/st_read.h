/* Reads the reference dumps of tests/ref/make_nn_ref.py (safetensors). */
#ifndef VG_TEST_ST_READ_H
#define VG_TEST_ST_READ_H
#include <stddef.h>

typedef struct st_file st_file;
st_file *st_open(const char *fixture_name);          /* tests/fixtures/nn/<name> */
void st_close(st_file *f);
/* Pointer into the file's data (valid until st_close); NULL if absent. */
float *st_get(st_file *f, const char *name, size_t *count);
int st_shape(st_file *f, const char *name, int *shape, int max);
const char *st_meta(st_file *f, const char *key);
/* |a - b| <= atol + rtol |b| everywhere; reports the worst element. */
int allclose(const char *what, const float *a, const float *b, size_t n, float rtol, float atol);
#define RTOL 1e-4f
#define ATOL 1e-5f
#endif
