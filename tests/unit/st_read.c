#include "st_read.h"
#include "test.h"

#include <cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct st_file {
    cJSON *root;
    unsigned char *buf;
    size_t data_start, size;
};

st_file *st_open(const char *fixture_name)
{
    char rel[256];
    /* a bare name is in tests/fixtures/nn/, else relative to tests/fixtures/ */
    snprintf(rel, sizeof rel, strchr(fixture_name, '/') ? "%s" : "nn/%s", fixture_name);
    char *path = path_join(fixture_dir(), rel);
    FILE *fp = fopen(path, "rb");
    free(path);
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    rewind(fp);
    st_file *f = calloc(1, sizeof *f);
    f->buf = malloc((size_t)size + 1);
    f->size = (size_t)size;
    if (fread(f->buf, 1, (size_t)size, fp) != (size_t)size) { fclose(fp); st_close(f); return NULL; }
    fclose(fp);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)f->buf[i] << (8 * i);
    f->root = cJSON_ParseWithLength((char *)f->buf + 8, n);
    f->data_start = 8 + n;
    return f;
}

void st_close(st_file *f)
{
    if (!f) return;
    cJSON_Delete(f->root);
    free(f->buf);
    free(f);
}

float *st_get(st_file *f, const char *name, size_t *count)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(f->root, name);
    if (!e) return NULL;
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    size_t a = (size_t)cJSON_GetArrayItem(o, 0)->valuedouble;
    size_t b = (size_t)cJSON_GetArrayItem(o, 1)->valuedouble;
    if (count) *count = (b - a) / 4;
    return (float *)(f->buf + f->data_start + a);
}

int st_shape(st_file *f, const char *name, int *shape, int max)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(f->root, name);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(e, "shape");
    int n = cJSON_GetArraySize(s);
    for (int i = 0; i < n && i < max; i++) shape[i] = (int)cJSON_GetArrayItem(s, i)->valuedouble;
    return n;
}

const char *st_meta(st_file *f, const char *key)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(f->root, "__metadata__");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int allclose(const char *what, const float *a, const float *b, size_t n, float rtol, float atol)
{
    if (!a || !b) {
        test_fail(__FILE__, __LINE__, "%s: missing data", what);
        return 0;
    }
    size_t worst = 0, bad = 0;
    double worst_excess = -1;
    for (size_t i = 0; i < n; i++) {
        double lim = atol + rtol * fabs(b[i]), d = fabs((double)a[i] - b[i]);
        if (!(d <= lim)) bad++;
        if (d - lim > worst_excess) { worst_excess = d - lim; worst = i; }
    }
    if (bad) {
        test_fail(__FILE__, __LINE__, "%s: %zu of %zu values differ; worst [%zu] %.7g vs %.7g",
                  what, bad, n, worst, a[worst], b[worst]);
        return 0;
    }
    return 1;
}
