/* PyTorch checkpoints (torch.save of a state_dict) in C: the legacy
 * sequence of pickles followed by raw storages, and the zip archive of
 * data.pkl + data/<key>. */
#include "../nn/model.h"
#include "../util/errmsg.h"
#include "pickle.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

typedef struct storage_blob {
    char *key;
    unsigned char *data;   /* owned */
    uint64_t bytes;
} storage_blob;

typedef struct checkpoint {
    pickle_ctx *ctx;
    pv *state;             /* the state_dict (PV_DICT) */
    storage_blob *blobs;
    size_t n_blobs;
} checkpoint;

static void checkpoint_free(checkpoint *c)
{
    pickle_ctx_destroy(c->ctx);
    for (size_t i = 0; i < c->n_blobs; i++) { free(c->blobs[i].key); free(c->blobs[i].data); }
    free(c->blobs);
}

static int add_blob(checkpoint *c, const char *key, unsigned char *data, uint64_t bytes)
{
    storage_blob *b = realloc(c->blobs, sizeof(storage_blob) * (c->n_blobs + 1));
    if (!b) return VG_ENOMEM;
    c->blobs = b;
    b[c->n_blobs].key = strdup(key);
    if (!b[c->n_blobs].key) return VG_ENOMEM;
    b[c->n_blobs].data = data;
    b[c->n_blobs].bytes = bytes;
    c->n_blobs++;
    return VG_OK;
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    unsigned char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    *len = buf ? (size_t)n : 0;
    return buf;
}

/* Legacy: magic, protocol version, sys_info, state_dict, storage keys, then
 * per key (in that order) an 8-byte element count and the raw elements. */
static int read_legacy(const unsigned char *buf, size_t len, checkpoint *c, char *err, size_t errlen)
{
    size_t pos = 0, used;
    pv *magic = pickle_load(c->ctx, buf, len, &used, err, errlen);
    if (!magic) return VG_EMODEL;
    pos += used;
    if (magic->kind != PV_INT || (uint64_t)magic->i != 0xa86a20f9469cfc6cull)
        return vg_errf(VG_EMODEL, err, errlen, "not a PyTorch checkpoint (bad magic number)");
    pv *proto = pickle_load(c->ctx, buf + pos, len - pos, &used, err, errlen);
    if (!proto) return VG_EMODEL;
    pos += used;
    if (proto->kind != PV_INT || proto->i != 1001)
        return vg_errf(VG_EMODEL, err, errlen, "unsupported legacy checkpoint version");
    if (!pickle_load(c->ctx, buf + pos, len - pos, &used, err, errlen)) return VG_EMODEL;   /* sys_info */
    pos += used;
    c->state = pickle_load(c->ctx, buf + pos, len - pos, &used, err, errlen);
    if (!c->state) return VG_EMODEL;
    pos += used;
    pv *keys = pickle_load(c->ctx, buf + pos, len - pos, &used, err, errlen);
    if (!keys) return VG_EMODEL;
    pos += used;
    if (keys->kind != PV_LIST) return vg_errf(VG_EMODEL, err, errlen, "damaged checkpoint: no storage key list");
    for (size_t k = 0; k < keys->n; k++) {
        if (keys->items[k]->kind != PV_STR) return vg_errf(VG_EMODEL, err, errlen, "damaged checkpoint: bad storage key");
        if (len - pos < 8) return vg_errf(VG_EMODEL, err, errlen, "file is truncated (storage %s missing)", keys->items[k]->s);
        uint64_t numel = 0;
        for (int i = 0; i < 8; i++) numel |= (uint64_t)buf[pos + (size_t)i] << (8 * i);
        pos += 8;
        /* the element size comes from the storage's type, found in the state dict */
        int esize = 0;
        for (size_t i = 0; i + 1 < c->state->n + 1 && c->state->kind == PV_DICT && i < c->state->n; i += 2) {
            pv *t = c->state->items[i + 1];
            if (t->kind == PV_TENSOR && !strcmp(t->storage->key, keys->items[k]->s)) esize = t->storage->dtype_size;
        }
        if (esize == 0) esize = 4;
        if (numel > (len - pos) / (uint64_t)esize)
            return vg_errf(VG_EMODEL, err, errlen, "file is truncated (storage %s needs %llu bytes)", keys->items[k]->s,
                        (unsigned long long)(numel * (uint64_t)esize));
        unsigned char *copy = malloc(numel * (uint64_t)esize + 1);
        if (!copy) return VG_ENOMEM;
        memcpy(copy, buf + pos, numel * (uint64_t)esize);
        if (add_blob(c, keys->items[k]->s, copy, numel * (uint64_t)esize)) { free(copy); return VG_ENOMEM; }
        pos += numel * (uint64_t)esize;
    }
    return VG_OK;
}

static int read_zip(const char *path, checkpoint *c, char *err, size_t errlen)
{
    int zerr;
    zip_t *z = zip_open(path, ZIP_RDONLY, &zerr);
    if (!z) return vg_errf(VG_EMODEL, err, errlen, "damaged zip archive");
    int rc = VG_OK;
    zip_int64_t n = zip_get_num_entries(z, 0), pkl = -1;
    char prefix[512] = "";
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(z, (zip_uint64_t)i, 0);
        size_t l = name ? strlen(name) : 0;
        if (l >= 8 && !strcmp(name + l - 8, "data.pkl") && l - 8 < sizeof prefix) {
            pkl = i;
            snprintf(prefix, sizeof prefix, "%.*s", (int)(l - 8), name);
        }
    }
    unsigned char *buf = NULL;
    if (pkl < 0) { rc = vg_errf(VG_EMODEL, err, errlen, "zip archive without data.pkl (not a torch.save file)"); goto out; }
    zip_stat_t st;
    if (zip_stat_index(z, (zip_uint64_t)pkl, 0, &st) || st.size > (1u << 30)) { rc = vg_errf(VG_EMODEL, err, errlen, "bad data.pkl"); goto out; }
    buf = malloc(st.size + 1);
    zip_file_t *zf = buf ? zip_fopen_index(z, (zip_uint64_t)pkl, 0) : NULL;
    if (!zf || zip_fread(zf, buf, st.size) != (zip_int64_t)st.size) {
        if (zf) zip_fclose(zf);
        rc = vg_errf(VG_EMODEL, err, errlen, "cannot read data.pkl (damaged archive)");
        goto out;
    }
    zip_fclose(zf);
    c->state = pickle_load(c->ctx, buf, st.size, NULL, err, errlen);
    if (!c->state) { rc = VG_EMODEL; goto out; }
    /* each tensor's storage is the entry <prefix>data/<key> */
    for (size_t i = 0; c->state->kind == PV_DICT && i + 1 < c->state->n; i += 2) {
        pv *t = c->state->items[i + 1];
        if (t->kind != PV_TENSOR) continue;
        int have = 0;
        for (size_t b = 0; b < c->n_blobs; b++) have |= !strcmp(c->blobs[b].key, t->storage->key);
        if (have) continue;
        char name[1024];
        snprintf(name, sizeof name, "%sdata/%s", prefix, t->storage->key);
        zip_int64_t idx = zip_name_locate(z, name, 0);
        if (idx < 0 || zip_stat_index(z, (zip_uint64_t)idx, 0, &st)) { rc = vg_errf(VG_EMODEL, err, errlen, "storage %s missing from the archive", t->storage->key); goto out; }
        unsigned char *data = malloc(st.size + 1);
        zf = data ? zip_fopen_index(z, (zip_uint64_t)idx, 0) : NULL;
        if (!zf || zip_fread(zf, data, st.size) != (zip_int64_t)st.size) {
            if (zf) zip_fclose(zf);
            free(data);
            rc = vg_errf(VG_EMODEL, err, errlen, "cannot read storage %s (damaged archive)", t->storage->key);
            goto out;
        }
        zip_fclose(zf);
        if (add_blob(c, t->storage->key, data, st.size)) { free(data); rc = VG_ENOMEM; goto out; }
    }
out:
    free(buf);
    zip_discard(z);
    return rc;
}

static const storage_blob *blob_of(const checkpoint *c, const char *key)
{
    for (size_t i = 0; i < c->n_blobs; i++)
        if (!strcmp(c->blobs[i].key, key)) return &c->blobs[i];
    return NULL;
}

/* Copy tensor T (any strides) into DST[count], with every index checked
 * against its storage. */
static int gather(const checkpoint *c, const char *name, const pv *t, const nn_tensor *want, float *dst,
                  char *err, size_t errlen)
{
    if (strcmp(t->storage->dtype, "float32"))
        return vg_errf(VG_EMODEL, err, errlen, "tensor %s is %s; only float32 checkpoints are supported", name, t->storage->dtype);
    int same = t->ndim == want->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = t->size[d] == want->shape[d];
    if (!same) {
        char a[128] = "", b[128] = "";
        for (int d = 0; d < t->ndim; d++) snprintf(a + strlen(a), sizeof a - strlen(a), "%s%lld", d ? ", " : "", (long long)t->size[d]);
        for (int d = 0; d < want->ndim; d++) snprintf(b + strlen(b), sizeof b - strlen(b), "%s%d", d ? ", " : "", want->shape[d]);
        return vg_errf(VG_EMODEL, err, errlen, "tensor %s has shape [%s], the architecture expects [%s]", name, a, b);
    }
    const storage_blob *blob = blob_of(c, t->storage->key);
    if (!blob) return vg_errf(VG_EMODEL, err, errlen, "tensor %s: storage %s missing", name, t->storage->key);
    uint64_t numel = blob->bytes / 4;
    if (t->storage->numel >= 0 && (uint64_t)t->storage->numel < numel) numel = (uint64_t)t->storage->numel;
    uint64_t last = (uint64_t)t->offset;
    for (int d = 0; d < t->ndim; d++) {
        if (t->size[d] == 0) return VG_OK;
        last += (uint64_t)(t->size[d] - 1) * (uint64_t)t->stride[d];
    }
    if (last >= numel)
        return vg_errf(VG_EMODEL, err, errlen, "tensor %s: storage offset/strides reach element %llu of a %llu-element storage",
                    name, (unsigned long long)last, (unsigned long long)numel);
    const float *src = (const float *)blob->data;
    int64_t idx[8] = {0};
    for (size_t k = 0; k < want->count; k++) {
        uint64_t off = (uint64_t)t->offset;
        for (int d = 0; d < t->ndim; d++) off += (uint64_t)idx[d] * (uint64_t)t->stride[d];
        float v;
        memcpy(&v, src + off, 4);
        if (!isfinite(v)) return vg_errf(VG_EMODEL, err, errlen, "tensor %s contains NaN or infinite values", name);
        dst[k] = v;
        for (int d = t->ndim - 1; d >= 0; d--) {   /* next index, row-major */
            if (++idx[d] < t->size[d]) break;
            idx[d] = 0;
        }
    }
    return VG_OK;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* A fine-tuned network has its own number of classes (2 for male/female,
 * where the ImageNet architecture says 1000): size the last linear layer
 * after the checkpoint's weight for it. */
static int match_output_layer(vg_model **m, const pv *state, char *err, size_t errlen)
{
    const nn_layer *L = NULL;
    for (int i = 0; i < (*m)->n_layers; i++)
        if ((*m)->layers[i].kind == L_LINEAR) L = &(*m)->layers[i];
    if (!L) return VG_OK;
    char key[64];
    snprintf(key, sizeof key, "%s.weight", L->name);
    for (size_t i = 0; i + 1 < state->n; i += 2) {
        const pv *k = state->items[i], *t = state->items[i + 1];
        if (k->kind != PV_STR || strcmp(k->s, key) || t->kind != PV_TENSOR || t->ndim != 2) continue;
        if (t->size[0] == L->out || t->size[0] < 1 || t->size[0] > 100000) return VG_OK;
        char *arch = nn_arch_with_classes((*m)->arch, (int)t->size[0]), why[160];
        if (!arch) return VG_ENOMEM;
        vg_model *resized;
        int rc = nn_build(arch, &resized, why, sizeof why);
        free(arch);
        if (rc) return vg_errf(VG_EMODEL, err, errlen, "%s with %lld outputs: %s", key, (long long)t->size[0], why);
        vg_model_destroy(*m);
        *m = resized;
        return VG_OK;
    }
    return VG_OK;
}

/* Whether the state_dict STATE holds exactly M's tensors, by name and shape
 * (BN's num_batches_tracked aside): how an architecture is recognised. */
static int state_fits(const vg_model *m, const pv *state)
{
    size_t n = 0;
    for (size_t i = 0; i + 1 < state->n; i += 2) {
        const pv *k = state->items[i], *t = state->items[i + 1];
        if (k->kind != PV_STR || t->kind != PV_TENSOR) return 0;
        if (ends_with(k->s, "num_batches_tracked")) continue;
        const nn_tensor *T = nn_find_tensor((vg_model *)m, k->s);
        if (!T || T->ndim != t->ndim) return 0;
        for (int d = 0; d < t->ndim; d++)
            if (T->shape[d] != t->size[d]) return 0;
        n++;
    }
    return n == (size_t)m->n_tensors;   /* names are unique in both: every tensor found */
}

/* The built-in architecture whose tensors STATE holds (state_fits), its
 * last linear layer sized after the checkpoint's, in *FIT for the import to
 * fill; NULL if none does. The candidates are built with zero parameters,
 * which costs no memory until written. */
static const char *detect_arch(const pv *state, vg_model **fit)
{
    static const char *const names[] = {"lenet", "cnn", "vgg11", "vgg13", "vgg16", "vgg19", "resnet18"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        vg_model *m;
        if (nn_build(vg_arch_builtin(names[i]), &m, NULL, 0)) continue;
        if (match_output_layer(&m, state, NULL, 0) == VG_OK && state_fits(m, state)) {
            *fit = m;
            return names[i];
        }
        vg_model_destroy(m);
    }
    return NULL;
}

int vg_model_import_pth(const char *path, const char *arch, vg_model **out, char *err, size_t errlen)
{
    if (!path || !out) return VG_EARG;
    *out = NULL;
    size_t len;
    unsigned char *buf = read_all(path, &len);
    if (!buf) return vg_errf(VG_ENOENT, err, errlen, "cannot open the file");
    checkpoint c = {.ctx = pickle_ctx_create()};
    int rc;
    if (len == 0) rc = vg_errf(VG_EMODEL, err, errlen, "file is empty");
    else if (len >= 4 && !memcmp(buf, "PK\x03\x04", 4)) rc = read_zip(path, &c, err, errlen);
    else if (len >= 2 && buf[0] == 0x80) rc = read_legacy(buf, len, &c, err, errlen);
    else rc = vg_errf(VG_EMODEL, err, errlen, "not a PyTorch checkpoint (neither zip nor pickle)");
    free(buf);
    vg_model *m = NULL;
    if (!rc && c.state->kind != PV_DICT)
        rc = vg_errf(VG_EMODEL, err, errlen, "the checkpoint holds no state_dict (save model.state_dict(), not the model)");
    const int named = arch != NULL;
    if (!rc && !named && !(arch = detect_arch(c.state, &m)))   /* m: the fitting model, sized already */
        rc = vg_errf(VG_EMODEL, err, errlen,
                     "its tensors are those of none of lenet, cnn, vgg11, vgg13, vgg16, vgg19, resnet18 (name the "
                     "architecture)");
    char why[160];
    if (!rc && named) {
        if ((rc = vg_model_create(arch, 0, &m, why, sizeof why)))
            rc = vg_errf(VG_EMODEL, err, errlen, "architecture %s: %s", arch, why);
        else
            rc = match_output_layer(&m, c.state, err, errlen);
    }
    unsigned char *found = m ? calloc((size_t)m->n_tensors + 1, 1) : NULL;
    if (!rc && !found) rc = VG_ENOMEM;
    for (size_t i = 0; !rc && i + 1 < c.state->n; i += 2) {
        pv *k = c.state->items[i], *t = c.state->items[i + 1];
        if (k->kind != PV_STR) { rc = vg_errf(VG_EMODEL, err, errlen, "state_dict key is not a string"); break; }
        if (ends_with(k->s, "num_batches_tracked")) continue;   /* BN bookkeeping, not weights */
        if (t->kind != PV_TENSOR) { rc = vg_errf(VG_EMODEL, err, errlen, "state_dict entry %s is not a tensor", k->s); break; }
        nn_tensor *T = nn_find_tensor(m, k->s);
        if (!T) { rc = vg_errf(VG_EMODEL, err, errlen, "unexpected tensor %s for architecture %s", k->s, arch); break; }
        rc = gather(&c, k->s, t, T, m->arena + T->offset, err, errlen);
        found[T - m->tensors] = 1;
    }
    for (int i = 0; !rc && i < m->n_tensors; i++)
        if (!found[i]) rc = vg_errf(VG_EMODEL, err, errlen, "missing tensor %s for architecture %s", m->tensors[i].name, arch);
    free(found);
    if (!rc) {
        vg_frontend fe;
        int ch, h, w;
        vg_model_input_shape(m, &ch, &h, &w);
        vg_frontend_default(&fe, ch == 3 ? VG_FE_SEED_IMAGE : VG_FE_LOGMEL);
        if (ch == 3 && h > 0) fe.image_size = h;
        if (ch == 3 && h == 224) {   /* torchvision's ImageNet models expect ImageNet statistics */
            const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
            memcpy(fe.image_mean, mean, sizeof mean);
            memcpy(fe.image_std, sd, sizeof sd);
        }
        vg_frontend_to_model(m, &fe);
        char v[600];
        snprintf(v, sizeof v, "imported from PyTorch checkpoint %s", path);
        vg_model_set_meta(m, "trained_on", v);
        vg_model_set_meta(m, "arch_name", arch);
    }
    checkpoint_free(&c);
    if (rc) vg_model_destroy(m);
    else *out = m;
    return rc;
}
