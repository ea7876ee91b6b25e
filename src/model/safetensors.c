/* Model files in the safetensors format: 8-byte little-endian header length,
 * a JSON header {"__metadata__": {str: str}, name: {dtype, shape,
 * data_offsets}}, then raw little-endian tensors. The metadata carries the
 * architecture description, so a file alone rebuilds its model. */
#include "../data/features.h"
#include "../nn/model.h"
#include "../util/atomic_file.h"
#include "../util/errmsg.h"

#include <cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_HEADER (64u << 20)

static char *build_header(const vg_model *m)
{
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_CreateObject();
    if (!root || !meta) { cJSON_Delete(root); cJSON_Delete(meta); return NULL; }
    cJSON_AddItemToObject(root, "__metadata__", meta);
    cJSON_AddStringToObject(meta, "format", "voxgender");
    cJSON_AddStringToObject(meta, "format_version", VG_MODEL_FORMAT_VERSION);
    cJSON_AddStringToObject(meta, "arch", m->arch);
    for (int i = 0; i < m->n_meta; i++)
        if (strcmp(m->meta[i].key, "format") && strcmp(m->meta[i].key, "format_version") &&
            strcmp(m->meta[i].key, "arch"))
            cJSON_AddStringToObject(meta, m->meta[i].key, m->meta[i].value);
    size_t off = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const nn_tensor *t = &m->tensors[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "dtype", "F32");
        cJSON_AddItemToObject(e, "shape", cJSON_CreateIntArray(t->shape, t->ndim));
        double offs[2] = {(double)off, (double)(off + t->count * 4)};
        cJSON_AddItemToObject(e, "data_offsets", cJSON_CreateDoubleArray(offs, 2));
        cJSON_AddItemToObject(root, t->name, e);
        off += t->count * 4;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return json;
}

int vg_model_save(const vg_model *m, const char *path)
{
    if (!m || !path) return VG_EARG;
    char *json = build_header(m);
    if (!json) return VG_ENOMEM;
    /* Pad the header with spaces so tensor data starts 8-byte aligned. */
    size_t len = strlen(json), padded = (len + 7) & ~(size_t)7;
    vg_atomic_file af;
    int rc = vg_atomic_open(&af, path);
    if (rc) { free(json); return rc; }
    unsigned char hl[8];
    for (int i = 0; i < 8; i++) hl[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    fwrite(hl, 1, 8, af.fp);
    fwrite(json, 1, len, af.fp);
    for (size_t i = len; i < padded; i++) fputc(' ', af.fp);
    free(json);
    /* little-endian hosts: the arena is written as is */
    for (int i = 0; i < m->n_tensors; i++)
        fwrite(m->arena + m->tensors[i].offset, sizeof(float), m->tensors[i].count, af.fp);
    return vg_atomic_commit(&af);
}

static void shape_str(char *buf, size_t n, const int *shape, int ndim)
{
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < ndim && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, "%s%d", d ? ", " : "", shape[d]);
    if (used < n) snprintf(buf + used, n - used, "]");
}

/* Check one header entry against the model's tensor T. */
static int check_entry(const cJSON *e, const nn_tensor *t, uint64_t data_size, uint64_t *begin,
                       char *err, size_t errlen)
{
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dtype) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs) ||
        cJSON_GetArraySize(offs) != 2)
        return vg_errf(VG_EMODEL, err, errlen, "tensor %s: header entry lacks dtype, shape or data_offsets", t->name);
    if (strcmp(dtype->valuestring, "F32"))
        return vg_errf(VG_EMODEL, err, errlen, "tensor %s: unsupported dtype %s (only F32)", t->name,
                    dtype->valuestring);
    int ndim = cJSON_GetArraySize(shape), dims[8] = {0};
    int same = ndim == t->ndim;
    for (int d = 0; d < ndim && d < 8; d++) {
        const cJSON *v = cJSON_GetArrayItem(shape, d);
        /* range first: converting 1e30 to int is undefined behaviour */
        dims[d] = cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= INT_MAX ? (int)v->valuedouble : -1;
        if (same && dims[d] != t->shape[d]) same = 0;
    }
    if (!same) {
        char a[96], b[96];
        shape_str(a, sizeof a, dims, ndim < 8 ? ndim : 8);
        shape_str(b, sizeof b, t->shape, t->ndim);
        return vg_errf(VG_EMODEL, err, errlen, "tensor %s has shape %s, the architecture expects %s", t->name, a, b);
    }
    double o0 = cJSON_GetArrayItem(offs, 0)->valuedouble, o1 = cJSON_GetArrayItem(offs, 1)->valuedouble;
    if (!(o0 >= 0 && o1 >= o0 && o1 <= (double)data_size))
        return vg_errf(VG_EMODEL, err, errlen, "tensor %s: data offsets [%.0f, %.0f] outside the %llu data bytes%s",
                    t->name, o0, o1, (unsigned long long)data_size,
                    o0 >= 0 && o1 >= o0 ? " (file truncated?)" : "");
    if ((uint64_t)(o1 - o0) != t->count * 4)
        return vg_errf(VG_EMODEL, err, errlen, "tensor %s: %.0f data bytes for %zu float32 values", t->name,
                    o1 - o0, t->count);
    *begin = (uint64_t)o0;
    return VG_OK;
}

static int load_stream(FILE *f, uint64_t size, vg_model **out, char *err, size_t errlen);

int vg_model_load(const char *path, vg_model **out, char *err, size_t errlen)
{
    if (!path || !out) return VG_EARG;
    *out = NULL;
    if (err && errlen) err[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) return vg_errf(VG_ENOENT, err, errlen, "cannot open the file");
    struct stat st;
    if (fstat(fileno(f), &st) != 0) { fclose(f); return vg_errf(VG_EIO, err, errlen, "cannot read the file"); }
    int rc = load_stream(f, (uint64_t)st.st_size, out, err, errlen);
    fclose(f);
    return rc;
}

int vg_model_load_memory(const void *data, size_t size, vg_model **out, char *err, size_t errlen)
{
    if (!data || !out) return VG_EARG;
    *out = NULL;
    if (err && errlen) err[0] = '\0';
    if (size == 0) return vg_errf(VG_EMODEL, err, errlen, "file is truncated (no header length)");
    /* one reader for both: the bytes as a read-only stream */
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f) return VG_ENOMEM;
    int rc = load_stream(f, (uint64_t)size, out, err, errlen);
    fclose(f);
    return rc;
}

/* The model in the safetensors bytes F holds (SIZE of them). */
static int load_stream(FILE *f, uint64_t size, vg_model **out, char *err, size_t errlen)
{
    unsigned char hl[8];
    char *json = NULL;
    cJSON *root = NULL;
    vg_model *m = NULL;
    int rc;
    if (size < 8 || fread(hl, 1, 8, f) != 8) {
        rc = vg_errf(VG_EMODEL, err, errlen, "file is truncated (no header length)");
        goto done;
    }
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)hl[i] << (8 * i);
    if (n > size - 8) {
        rc = vg_errf(VG_EMODEL, err, errlen, "header length %llu is longer than the file", (unsigned long long)n);
        goto done;
    }
    if (n > MAX_HEADER || n < 2) {
        rc = vg_errf(VG_EMODEL, err, errlen, "implausible header length %llu", (unsigned long long)n);
        goto done;
    }
    json = malloc(n + 1);
    if (!json) { rc = VG_ENOMEM; goto done; }
    if (fread(json, 1, n, f) != n) { rc = vg_errf(VG_EMODEL, err, errlen, "file is truncated"); goto done; }
    json[n] = '\0';
    root = cJSON_ParseWithLength(json, n);
    if (!cJSON_IsObject(root)) { rc = vg_errf(VG_EMODEL, err, errlen, "header is not valid JSON"); goto done; }
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(meta, "format_version");
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(meta, "arch");
    if (!cJSON_IsString(ver) || !cJSON_IsString(arch)) {
        rc = vg_errf(VG_EMODEL, err, errlen, "not a voxgender model (no format_version/arch metadata)");
        goto done;
    }
    if (strcmp(ver->valuestring, VG_MODEL_FORMAT_VERSION)) {
        rc = vg_errf(VG_EMODEL, err, errlen, "unknown format version '%s' (this voxgender reads %s)",
                  ver->valuestring, VG_MODEL_FORMAT_VERSION);
        goto done;
    }
    char why[160];
    if ((rc = nn_build(arch->valuestring, &m, why, sizeof why))) {
        rc = vg_errf(VG_EMODEL, err, errlen, "architecture in the file is invalid: %s", why);
        goto done;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, meta) {
        if (!cJSON_IsString(item)) { rc = vg_errf(VG_EMODEL, err, errlen, "metadata value %s is not a string", item->string); goto done; }
        if (strcmp(item->string, "arch") && strcmp(item->string, "format") &&
            strcmp(item->string, "format_version"))
            vg_model_set_meta(m, item->string, item->valuestring);
    }
    /* a file that names a front end must describe one this code can run
     * and the network reads (features.c says what is checked) */
    vg_frontend fe;
    if (vg_model_meta(m, "frontend") && frontend_from_model(m, &fe, why, sizeof why)) {
        rc = vg_errf(VG_EMODEL, err, errlen, "%s", why);
        goto done;
    }
    int entries = 0;
    cJSON_ArrayForEach(item, root) {
        if (strcmp(item->string, "__metadata__") == 0) continue;
        entries++;
        if (!nn_find_tensor(m, item->string)) {
            rc = vg_errf(VG_EMODEL, err, errlen, "unexpected tensor %s for this architecture", item->string);
            goto done;
        }
    }
    const uint64_t data_size = size - 8 - n, data_start = 8 + n;
    for (int i = 0; i < m->n_tensors; i++) {
        nn_tensor *t = &m->tensors[i];
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, t->name);
        if (!e) { rc = vg_errf(VG_EMODEL, err, errlen, "missing tensor %s", t->name); goto done; }
        uint64_t begin = 0;
        if ((rc = check_entry(e, t, data_size, &begin, err, errlen))) goto done;
        float *dst = m->arena + t->offset;
        if (fseek(f, (long)(data_start + begin), SEEK_SET) ||
            fread(dst, sizeof(float), t->count, f) != t->count) {
            rc = vg_errf(VG_EMODEL, err, errlen, "file is truncated in tensor %s", t->name);
            goto done;
        }
        for (size_t k = 0; k < t->count; k++)
            if (!isfinite(dst[k])) {
                rc = vg_errf(VG_EMODEL, err, errlen, "tensor %s contains NaN or infinite values", t->name);
                goto done;
            }
    }
    (void)entries;
    rc = VG_OK;
done:
    free(json);
    cJSON_Delete(root);
    if (rc) vg_model_destroy(m);
    else *out = m;
    return rc;
}
