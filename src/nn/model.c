/* Network construction from a declarative description, planning, and the
 * forward/backward passes over the layer list.
 *
 * Description grammar: items separated by ';', tokens by spaces.
 *   input C H W                 input shape; H or W 0 = any size
 *   [name:] conv OUT k=3[xK] [s=1[xS]] [p=0[xP]] [bias=1|0]
 *   [name:] bn [eps=1e-5] [momentum=0.1]     (BatchNorm over channels)
 *   [name:] linear OUT [bias=1|0]
 *   relu | flatten | logsoftmax
 *   maxpool k=2[xK] [s=k] [p=0[xP]] | avgpool k=2[xK] [s=k]
 *   gap        global average over H and W  -> [C, 1, 1]
 *   timepool   average over W (time) only   -> [C, H, 1]
 *   timestats  mean and standard deviation over W -> [C, H, 2]
 *   lifter n=K keep the K lowest DCT coefficients over H (the spectral
 *              envelope of a log-mel column) -> [C, H, W]
 *   dropout p=0.5
 *   [name:] add NAME            input + the output of the earlier layer NAME
 *   any layer: from=NAME        read the earlier layer NAME's output instead
 *                               of the previous layer's (a branch);
 *                               from=input reads the network input
 * Unnamed conv/bn/linear layers get "layerN" names (N = layer index); any
 * layer may be named so that add/from can refer to it. A residual block:
 *   b0: relu; c1: conv 8 k=3 p=1; n1: bn; relu; c2: conv 8 k=3 p=1; n2: bn;
 *   add b0; relu
 * and with a projection shortcut (n2's output is kept for the add):
 *   ...; n2: bn; d0: conv 16 k=1 s=2 from=b0; d1: bn; add n2; relu */
#include "model.h"

#include <cblas.h>
#include <ctype.h>
#include <math.h>
#include <omp.h>
#include <sys/mman.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_pair(const char *v, int *a, int *b)
{
    char *end;
    long x = strtol(v, &end, 10), y = x;
    if (end == v) return -1;
    if (*end == 'x') {
        const char *s = end + 1;
        y = strtol(s, &end, 10);
        if (end == s) return -1;
    }
    if (*end || x < 0 || y < 0 || x > 4096 || y > 4096) return -1;
    *a = (int)x;
    *b = (int)y;
    return 0;
}

/* Parse "key=value" options of one item into the layer. */
static int parse_option(nn_layer *L, const char *tok)
{
    const char *eq = strchr(tok, '=');
    if (!eq) return -1;
    size_t klen = (size_t)(eq - tok);
    const char *v = eq + 1;
    char *end;
    if (klen == 1 && tok[0] == 'k') return parse_pair(v, &L->kh, &L->kw);
    if (klen == 1 && tok[0] == 's') return parse_pair(v, &L->sh, &L->sw);
    if (klen == 1 && tok[0] == 'p' && L->kind != L_DROPOUT) return parse_pair(v, &L->ph, &L->pw);
    if (klen == 1 && tok[0] == 'p') {
        L->p = strtof(v, &end);
        return (*end || !(L->p >= 0 && L->p < 1)) ? -1 : 0;
    }
    if (klen == 4 && !strncmp(tok, "bias", 4)) {
        if (strcmp(v, "0") && strcmp(v, "1")) return -1;
        L->bias = v[0] == '1';
        return 0;
    }
    if (klen == 3 && !strncmp(tok, "eps", 3)) {
        L->eps = strtof(v, &end);
        return (*end || !(L->eps > 0)) ? -1 : 0;
    }
    if (klen == 1 && tok[0] == 'n' && L->kind == L_LIFTER) {
        long k = strtol(v, &end, 10);
        if (*end || k < 1 || k > 4096) return -1;
        L->out = (int)k;
        return 0;
    }
    if (klen == 8 && !strncmp(tok, "momentum", 8)) {
        L->momentum = strtof(v, &end);
        return (*end || !(L->momentum >= 0 && L->momentum <= 1)) ? -1 : 0;
    }
    return -1;
}

static const struct { const char *word; layer_kind kind; } KINDS[] = {
    {"conv", L_CONV},       {"bn", L_BN},           {"relu", L_RELU},
    {"maxpool", L_MAXPOOL}, {"avgpool", L_AVGPOOL}, {"gap", L_GAP},
    {"timepool", L_TIMEPOOL}, {"timestats", L_TIMESTATS},
    {"lifter", L_LIFTER},   {"flatten", L_FLATTEN}, {"dropout", L_DROPOUT},
    {"linear", L_LINEAR},   {"logsoftmax", L_LOGSOFTMAX}, {"add", L_ADD}};

/* Index of the earlier layer called NAME, or -1. */
static int find_layer(const vg_model *m, const char *name)
{
    for (int i = 0; i < m->n_layers; i++)
        if (!strcmp(m->layers[i].name, name)) return i;
    return -1;
}

static int parse_item(vg_model *m, char *item, char *err, size_t errlen)
{
    char *save = NULL, *tok = strtok_r(item, " \t\n", &save);
    if (!tok) return VG_OK;   /* empty item */
    if (!strcmp(tok, "input")) {
        int *dims[3] = {&m->in_c, &m->in_h, &m->in_w};
        for (int i = 0; i < 3; i++) {
            char *t = strtok_r(NULL, " \t\n", &save), *end;
            long v = t ? strtol(t, &end, 10) : -1;
            if (!t || *end || v < 0 || v > 100000 || (i == 0 && v == 0)) {
                snprintf(err, errlen, "input: expected C H W");
                return VG_EARG;
            }
            *dims[i] = (int)v;
        }
        return VG_OK;
    }
    nn_layer L = {.w = -1, .b = -1, .rmean = -1, .rvar = -1, .bias = 1, .kh = 1, .kw = 1,
                  .sh = 0, .sw = 0, .p = 0.5f, .eps = 1e-5f, .momentum = 0.1f,
                  .src = m->n_layers - 1, .other = -1};
    size_t tl = strlen(tok);
    if (tok[tl - 1] == ':') {
        if (tl - 1 >= sizeof L.name || tl == 1) {
            snprintf(err, errlen, "layer name '%s' too long", tok);
            return VG_EARG;
        }
        memcpy(L.name, tok, tl - 1);
        tok = strtok_r(NULL, " \t\n", &save);
        if (!tok) { snprintf(err, errlen, "layer name without a layer"); return VG_EARG; }
    }
    int found = 0;
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (!strcmp(tok, KINDS[i].word)) { L.kind = KINDS[i].kind; found = 1; }
    if (!found) {
        snprintf(err, errlen, "unknown layer '%s'", tok);
        return VG_EARG;
    }
    if (L.kind == L_MAXPOOL || L.kind == L_AVGPOOL) L.kh = L.kw = 2;
    if (L.kind == L_CONV || L.kind == L_LINEAR) {
        char *t = strtok_r(NULL, " \t\n", &save), *end;
        long v = t ? strtol(t, &end, 10) : 0;
        if (!t || *end || v < 1 || v > 1 << 20) {
            snprintf(err, errlen, "%s: expected an output size", tok);
            return VG_EARG;
        }
        L.out = (int)v;
    }
    if (L.kind == L_ADD) {
        char *t = strtok_r(NULL, " \t\n", &save);
        if (!t || (L.other = find_layer(m, t)) < 0) {
            snprintf(err, errlen, "add: expected the name of an earlier layer, got '%s'", t ? t : "");
            return VG_EARG;
        }
    }
    while ((tok = strtok_r(NULL, " \t\n", &save))) {
        if (!strncmp(tok, "from=", 5)) {
            if (!strcmp(tok + 5, "input") && find_layer(m, "input") < 0) {
                L.src = -1;   /* a second network side by side (an ensemble) */
                continue;
            }
            if ((L.src = find_layer(m, tok + 5)) < 0) {
                snprintf(err, errlen, "from=: no earlier layer called '%s'", tok + 5);
                return VG_EARG;
            }
            continue;
        }
        if (parse_option(&L, tok)) {
            snprintf(err, errlen, "bad option '%s'", tok);
            return VG_EARG;
        }
    }
    /* stride defaults: 1 for conv, the kernel for pooling */
    if (L.sh == 0) L.sh = (L.kind == L_MAXPOOL || L.kind == L_AVGPOOL) ? L.kh : 1;
    if (L.sw == 0) L.sw = (L.kind == L_MAXPOOL || L.kind == L_AVGPOOL) ? L.kw : 1;
    if (L.kind == L_AVGPOOL && (L.ph || L.pw)) {
        snprintf(err, errlen, "avgpool: padding is not supported");
        return VG_EARG;
    }
    if (L.kind == L_LIFTER && L.out < 1) {
        snprintf(err, errlen, "lifter: expected n=K, the number of coefficients kept");
        return VG_EARG;
    }
    if (!L.name[0] && (L.kind == L_CONV || L.kind == L_BN || L.kind == L_LINEAR))
        snprintf(L.name, sizeof L.name, "layer%d", m->n_layers);
    /* outputs read out of order must survive inference's buffer reuse */
    if (L.src >= 0 && L.src != m->n_layers - 1) m->layers[L.src].keep = 1;
    if (L.other >= 0) m->layers[L.other].keep = 1;
    nn_layer *grown = realloc(m->layers, sizeof(nn_layer) * (size_t)(m->n_layers + 1));
    if (!grown) return VG_ENOMEM;
    m->layers = grown;
    m->layers[m->n_layers++] = L;
    return VG_OK;
}

/* Shapes through the network for input [c, h, w]; fills ic..ow of every
 * layer. Returns -1 with a reason if a layer cannot take its input. */
static int infer_shapes(vg_model *m, int in_c, int in_h, int in_w, char *err, size_t errlen)
{
    for (int i = 0; i < m->n_layers; i++) {
        nn_layer *L = &m->layers[i];
        const nn_layer *S = L->src >= 0 ? &m->layers[L->src] : NULL;
        int c = S ? S->oc : in_c, h = S ? S->oh : in_h, w = S ? S->ow : in_w;
        L->ic = c; L->ih = h; L->iw = w;
        switch (L->kind) {
        case L_ADD: {
            const nn_layer *O = &m->layers[L->other];
            if (O->oc != c || O->oh != h || O->ow != w) {
                snprintf(err, errlen, "layer %d: add %s: its %dx%dx%d output differs from the %dx%dx%d input",
                         i, O->name, O->oc, O->oh, O->ow, c, h, w);
                return -1;
            }
            break;
        }
        case L_CONV: {
            conv_shape s = {.n = 1, .c = c, .h = h, .w = w, .oc = L->out, .kh = L->kh,
                            .kw = L->kw, .sh = L->sh, .sw = L->sw, .ph = L->ph, .pw = L->pw};
            if (conv_shape_init(&s)) goto too_small;
            c = L->out; h = s.oh; w = s.ow;
            break;
        }
        case L_MAXPOOL: case L_AVGPOOL: {
            pool_shape s = {.n = 1, .c = c, .h = h, .w = w, .kh = L->kh, .kw = L->kw,
                            .sh = L->sh, .sw = L->sw, .ph = L->ph, .pw = L->pw};
            if (pool_shape_init(&s)) goto too_small;
            h = s.oh; w = s.ow;
            break;
        }
        case L_GAP: h = w = 1; break;
        case L_TIMEPOOL: w = 1; break;
        case L_TIMESTATS: w = 2; break;
        case L_LIFTER:
            if (L->out > h) {
                snprintf(err, errlen, "layer %d: lifter n=%d keeps more coefficients than the %d rows", i, L->out, h);
                return -1;
            }
            break;
        case L_FLATTEN: c = c * h * w; h = w = 1; break;
        case L_LINEAR:
            if (h != 1 || w != 1) {
                snprintf(err, errlen, "%s: linear layer needs a flat input (add flatten)", L->name);
                return -1;
            }
            c = L->out;
            break;
        default: break;
        }
        L->oc = c; L->oh = h; L->ow = w;
        continue;
too_small:
        snprintf(err, errlen, "layer %d: input %dx%d is smaller than the kernel", i, h, w);
        return -1;
    }
    return 0;
}

static int add_tensor(vg_model *m, int layer, const char *suffix, int ndim, const int *shape,
                      int is_buffer, long *offset_out)
{
    nn_tensor *t = realloc(m->tensors, sizeof(nn_tensor) * (size_t)(m->n_tensors + 1));
    if (!t) return VG_ENOMEM;
    m->tensors = t;
    nn_tensor *T = &t[m->n_tensors++];
    memset(T, 0, sizeof *T);
    snprintf(T->name, sizeof T->name, "%s.%s", m->layers[layer].name, suffix);
    T->ndim = ndim;
    T->count = 1;
    for (int d = 0; d < ndim; d++) {
        T->shape[d] = shape[d];
        T->count *= (size_t)shape[d];
    }
    T->is_buffer = is_buffer;
    T->layer = layer;
    T->offset = (long)m->n_arena;
    m->n_arena += T->count;
    if (!is_buffer) m->n_trainable += T->count;
    *offset_out = T->offset;
    return VG_OK;
}

static int register_params(vg_model *m)
{
    int rc = VG_OK;
    for (int i = 0; i < m->n_layers && !rc; i++) {
        nn_layer *L = &m->layers[i];
        if (L->kind == L_CONV) {
            int ws[4] = {L->out, L->ic, L->kh, L->kw}, bs[1] = {L->out};
            rc = add_tensor(m, i, "weight", 4, ws, 0, &L->w);
            if (!rc && L->bias) rc = add_tensor(m, i, "bias", 1, bs, 0, &L->b);
        } else if (L->kind == L_LINEAR) {
            int ws[2] = {L->out, L->ic}, bs[1] = {L->out};
            rc = add_tensor(m, i, "weight", 2, ws, 0, &L->w);
            if (!rc && L->bias) rc = add_tensor(m, i, "bias", 1, bs, 0, &L->b);
        } else if (L->kind == L_BN) {
            int cs[1] = {L->ic};
            rc = add_tensor(m, i, "weight", 1, cs, 0, &L->w);
            if (!rc) rc = add_tensor(m, i, "bias", 1, cs, 0, &L->b);
            if (!rc) rc = add_tensor(m, i, "running_mean", 1, cs, 1, &L->rmean);
            if (!rc) rc = add_tensor(m, i, "running_var", 1, cs, 1, &L->rvar);
        }
    }
    return rc;
}

int nn_build(const char *arch, vg_model **out, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) { err = dummy; errlen = sizeof dummy; }
    err[0] = '\0';
    *out = NULL;
    if (!arch) return VG_EARG;
    vg_model *m = calloc(1, sizeof *m);
    if (m) pthread_mutex_init(&m->lock, NULL);
    char *copy = strdup(arch);
    if (!m || !copy || !(m->arch = strdup(arch))) {
        free(copy);
        vg_model_destroy(m);
        return VG_ENOMEM;
    }
    int rc = VG_OK;
    char *save = NULL;
    for (char *item = strtok_r(copy, ";", &save); item && !rc; item = strtok_r(NULL, ";", &save))
        rc = parse_item(m, item, err, errlen);
    free(copy);
    if (!rc && (m->in_c == 0 || m->n_layers == 0)) {
        snprintf(err, errlen, "description needs 'input C H W' and at least one layer");
        rc = VG_EARG;
    }
    /* Parameter shapes depend only on channel counts; flattening needs H
     * and W, which must then be declared (or are 1 after global pooling). */
    if (!rc && infer_shapes(m, m->in_c, m->in_h ? m->in_h : 64, m->in_w ? m->in_w : 64, err, errlen))
        rc = VG_EARG;
    if (!rc) {
        nn_layer *last = &m->layers[m->n_layers - 1];
        m->n_classes = last->oc;
        if (last->oh != 1 || last->ow != 1) {
            snprintf(err, errlen, "the last layer must output a flat vector of class scores");
            rc = VG_EARG;
        }
    }
    /* Parameter shapes must not depend on a variable input size: compare the
     * linear layers' input sizes at a second trial size. */
    if (!rc && (!m->in_h || !m->in_w)) {
        int *fan = malloc(sizeof(int) * (size_t)m->n_layers);
        if (!fan) rc = VG_ENOMEM;
        for (int i = 0; !rc && i < m->n_layers; i++) fan[i] = m->layers[i].ic;
        if (!rc && infer_shapes(m, m->in_c, m->in_h ? m->in_h : 96, m->in_w ? m->in_w : 96,
                                err, errlen))
            rc = VG_EARG;
        for (int i = 0; !rc && i < m->n_layers; i++)
            if (m->layers[i].kind == L_LINEAR && m->layers[i].ic != fan[i]) {
                snprintf(err, errlen, "%s: input size depends on the input length; pool first "
                         "(gap/timepool/timestats)", m->layers[i].name);
                rc = VG_EARG;
            }
        free(fan);
    }
    for (int i = 0; !rc && i < m->n_layers; i++) {
        nn_layer *L = &m->layers[i];
        for (int j = 0; j < i && !rc; j++)
            if (L->name[0] && !strcmp(L->name, m->layers[j].name)) {
                snprintf(err, errlen, "duplicate layer name '%s'", L->name);
                rc = VG_EARG;
            }
    }
    if (!rc) rc = register_params(m);
    if (!rc) {
        m->arena = calloc(2 * m->n_arena + 1, sizeof(float));
        if (!m->arena) rc = VG_ENOMEM;
        else m->grads = m->arena + m->n_arena;
    }
    if (rc) {
        vg_model_destroy(m);
        return rc;
    }
    m->rng = 0x5eed;
    m->end = m->n_layers;
    *out = m;
    return VG_OK;
}

void nn_init_params(vg_model *m, uint64_t seed)
{
    uint64_t st = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int i = 0; i < m->n_layers; i++) {
        nn_layer *L = &m->layers[i];
        float *w = L->w >= 0 ? m->arena + L->w : NULL, *b = L->b >= 0 ? m->arena + L->b : NULL;
        if (L->kind == L_CONV) {
            int fan_in = L->ic * L->kh * L->kw;
            float std = sqrtf(2.0f / (float)fan_in);   /* He, for ReLU networks */
            for (size_t k = 0; k < (size_t)L->out * fan_in; k++) w[k] = std * rng_normal(&st);
            float bound = 1.0f / sqrtf((float)fan_in);
            if (b) for (int k = 0; k < L->out; k++) b[k] = bound * (2 * rng_uniform(&st) - 1);
        } else if (L->kind == L_LINEAR) {
            /* PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
            float bound = 1.0f / sqrtf((float)L->ic);
            for (size_t k = 0; k < (size_t)L->out * L->ic; k++) w[k] = bound * (2 * rng_uniform(&st) - 1);
            if (b) for (int k = 0; k < L->out; k++) b[k] = bound * (2 * rng_uniform(&st) - 1);
        } else if (L->kind == L_BN) {
            for (int k = 0; k < L->ic; k++) {
                w[k] = 1; b[k] = 0;
                m->arena[L->rmean + k] = 0;
                m->arena[L->rvar + k] = 1;
            }
        }
    }
    m->rng = st ^ 0xD1B54A32D192ED03ull;
}

/* Work buffers start on a cache line, as the vector loops and OpenBLAS's
 * packing routines prefer; plain malloc gives 16 bytes. Training buffers of
 * 8 MB and more (a batch's activations run to hundreds) ask for transparent
 * huge pages: the layers stream through them, and with 4 KB pages TLB misses
 * and first-touch faults cost a few percent of a training step. Inference
 * does not: a huge page is resident as soon as one byte of it is touched,
 * which added 25 MB to the segmenter's peak memory. */
static void *alloc_aligned(size_t bytes, int huge_pages)
{
    const size_t huge = (size_t)2 << 20;
    if (huge_pages && bytes >= 4 * huge) {
        size_t rounded = (bytes + huge - 1) / huge * huge;
        void *p = aligned_alloc(huge, rounded);
        if (p) madvise(p, rounded, MADV_HUGEPAGE);   /* advice only: failure is harmless */
        return p;
    }
    size_t rounded = (bytes + 63) / 64 * 64;
    return aligned_alloc(64, rounded ? rounded : 64);
}

/* Makes R hold at least BYTES. A plan keeps the buffers of earlier plans
 * when they are large enough: a training run alternates between batches of
 * its batch size, its last smaller batch and validation in inference, and
 * each new allocation faulted its memory in again (about 140 ms an epoch
 * for cnn, the first training step after validation taking 260 ms instead
 * of 175). So a model holds the largest plan it has run until destroyed.
 * 1 on success; on failure 0, with R emptied. */
static int reserve(plan_room *r, size_t bytes, int huge_pages)
{
    if (r->p && bytes <= r->size) return 1;
    free(r->p);
    r->p = alloc_aligned(bytes, huge_pages);
    r->size = r->p ? bytes : 0;
    return r->p != NULL;
}

static void release_rooms(vg_model *m)
{
    for (int k = 0; k < ROOMS; k++) {
        free(m->room[k].p);
        m->room[k] = (plan_room){0};
    }
    m->act = m->dact = m->col = m->dinput = m->wtmp = m->gtmp = m->scratch = NULL;
    m->iact = NULL;
    m->gdone = NULL;
}

/* Whether inference runs S on the direct kernel by blocks of rows
 * (conv_forward_prepared): training's thin padded layers; lenet's small
 * unpadded ones keep forward_conv2d_direct, whose stack copies cost less */
static int infers_direct(const conv_shape *s)
{
    return conv_direct_train_suits(s) && !conv_direct_suits(s);
}

/* Whether S runs by Winograd F(4x4,3x3), in inference and in training
 * (conv_forward_prepared; conv_backward's input gradient): cnn's
 * conv2..conv5, on CPUs where that path is measured to win. Training's
 * gradients stay those of the convolution: the transform is exact but for
 * rounding (within the PyTorch fixtures' 1e-4 of the direct sums). */
static int runs_winograd(const conv_shape *s)
{
    return conv_winograd_shape(s) && conv_winograd_available();
}

/* The work of the input gradient's Winograd pass (conv_backward, the
 * transposed shape T): by whole samples where the forward pass takes them
 * (conv_winograd_by_sample; conv5: 1 ms a cnn training step), else by rows */
static size_t dx_work_size(const conv_shape *t)
{
    const size_t rows = conv_winograd_work_size(t), whole = conv_winograd_sample_work_size(t);
    return conv_winograd_by_sample(t) && whole > rows ? whole : rows;
}

/* Raises *COL and *SCRATCH to what conv_forward_prepared's Winograd path
 * needs per thread for S: the sample's copy, and the transformed input of
 * a row of tiles or, for a layer done by whole samples, of the sample */
static void winograd_forward_sizes(const conv_shape *s, size_t *col, size_t *scratch)
{
    size_t work = conv_winograd_work_size(s);
    if (conv_winograd_by_sample(s) && conv_winograd_sample_work_size(s) > work)
        work = conv_winograd_sample_work_size(s);
    if (conv_winograd_prep_size(s) > *col) *col = conv_winograd_prep_size(s);
    if (work > *scratch) *scratch = work;
}

/* a Winograd block: one row of 4x4 tiles, an even number of rows for a
 * fused pool */
enum { WINO_ROWS = 4 };

/* Inference fuses batch norm (and what follows) into convolutions of at
 * most this many channels: their scale and shift live on the stack. */
enum { FUSED_MAX_OC = 1024 };

/* Whether conv I starts conv -> bn -> relu -> 2x2/2 max-pool with nothing
 * else reading the three intermediate outputs (what fuses_bn_relu needs,
 * plus a pool that only its next layer reads), in an inference plan. */
static int pool_fusable(const vg_model *m, int i, const conv_shape *cs)
{
    if (i + 3 >= m->n_layers || conv_direct_suits(cs) || m->layers[i].oc > FUSED_MAX_OC) return 0;
    const nn_layer *c = &m->layers[i], *bn = c + 1, *relu = c + 2, *pool = c + 3;
    return bn->kind == L_BN && bn->src == i && relu->kind == L_RELU && relu->src == i + 1 &&
           pool->kind == L_MAXPOOL && pool->src == i + 2 && pool->kh == 2 && pool->kw == 2 &&
           pool->sh == 2 && pool->sw == 2 && !pool->ph && !pool->pw && cs->oh >= 2 && cs->ow >= 2 &&
           !c->keep && !bn->keep && !relu->keep && !pool->keep;
}

/* Rows of a fused block: the forward block rounded up to even, so that
 * blocks hold whole pooling windows. */
static int pooled_block_rows(const conv_shape *s)
{
    int r = conv_forward_block_rows(s);
    return r + (r & 1);
}

/* Weight gradients of a batch-parallel pass go to one accumulator per chunk
 * of consecutive samples, summed in chunk order: the bits do not depend on
 * which thread ran which chunk, so the chunks can be handed out as threads
 * come free (a shared VM's cores are not equally fast), nor on how many
 * threads share them. */
enum { CONV_GRAD_CHUNKS = 8 };

static int conv_grad_chunks(int n) { return n < CONV_GRAD_CHUNKS ? n : CONV_GRAD_CHUNKS; }

int nn_plan(vg_model *m, int n, int h, int w, int training)
{
    if (n < 1 || h < 1 || w < 1) return VG_EARG;
    if ((m->in_h && h != m->in_h) || (m->in_w && w != m->in_w)) return VG_EARG;
    if (m->act && n == m->plan_n && h == m->plan_h && w == m->plan_w && training == m->plan_training)
        return VG_OK;
    char err[128];
    if (infer_shapes(m, m->in_c, h, w, err, sizeof err)) return VG_EARG;
    /* Batch-parallel mode needs a sample per thread and enough work per
     * sample to pay for thread hand-offs (lenet's 0.65 M MACs do not). */
    double macs = 0;
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].kind == L_CONV)
            macs += (double)m->layers[i].oc * m->layers[i].oh * m->layers[i].ow *
                    m->layers[i].ic * m->layers[i].kh * m->layers[i].kw;
    /* Training splits the batch over threads; inference on fewer samples
     * than threads splits each sample's output rows instead (conv_forward),
     * which beats OpenBLAS's own threads on these mid-sized GEMMs. */
    const int T = omp_get_max_threads(), suits_batch_parallel = macs >= 20e6;
    const int n_threads = !suits_batch_parallel ? 1 : training ? (T < n ? T : n) : T;
    size_t act = 0, iact = 0, col = 1, wtmp = 1, scratch = 0;
    int parity = 0;
    /* Inference keeps no activations for a backward pass: layers write
     * alternately into two buffers, each sized for the largest output. */
    size_t largest = 0;
    for (int i = 0; !training && i < m->n_layers; i++) {
        size_t out = (size_t)n * m->layers[i].oc * m->layers[i].oh * m->layers[i].ow;
        if (out > largest) largest = out;
    }
    if (!training) act = 2 * largest;
    for (int i = 0; i < m->n_layers; i++) {
        nn_layer *L = &m->layers[i];
        size_t out = (size_t)n * L->oc * L->oh * L->ow;
        L->pool_fused = 0;
        /* the lifter's basis and coefficients, in the lowering workspace */
        if (L->kind == L_LIFTER && LIFTER_WORK(L->ih, L->iw, L->out) > col) col = LIFTER_WORK(L->ih, L->iw, L->out);
        if (!training) {
            /* consecutive layers alternate between the two buffers, but a
             * fused pool (below) writes where its conv and ReLU do, the
             * buffer that its conv's input is not in (the conv's own
             * full-resolution output only lives in per-thread scratch) */
            const int pool_of_fused = L->kind == L_MAXPOOL && i >= 3 && m->layers[i - 3].pool_fused;
            if (L->keep) { L->y = act; act += out; }
            else L->y = (size_t)(pool_of_fused ? parity ^ 1 : parity) * largest;
            if (!pool_of_fused) parity ^= 1;
            L->save = L->bn_stats = 2 * largest;   /* unused in inference */
            /* max-pooling keeps no argmax in inference (no backward pass) */
            if (L->kind == L_CONV) {
                conv_shape cs = {.n = n, .c = L->ic, .h = L->ih, .w = L->iw, .oc = L->oc, .kh = L->kh,
                                 .kw = L->kw, .sh = L->sh, .sw = L->sw, .ph = L->ph, .pw = L->pw};
                conv_shape_init(&cs);
                /* one sample on BLAS threads: one wide GEMM per layer (see conv_forward) */
                size_t c1 = n_threads < 2 ? conv_col_size(&cs) : conv_col_size_forward(&cs);
                if (infers_direct(&cs) && conv_direct_train_scratch(&cs) > c1)
                    c1 = conv_direct_train_scratch(&cs);   /* conv_forward_prepared's copy */
                if (runs_winograd(&cs)) winograd_forward_sizes(&cs, &c1, &scratch);
                if (conv_stem_suits(&cs) && conv_stem_scratch_size(&cs) > c1) c1 = conv_stem_scratch_size(&cs);
                if (c1 > col) col = c1;
                L->pool_fused = pool_fusable(m, i, &cs);
                if (L->pool_fused) {
                    /* blocks of an even number of rows, one more than the
                     * forward block at most */
                    const size_t r = (size_t)pooled_block_rows(&cs);
                    if ((size_t)cs.c * cs.kh * cs.kw * r * cs.ow > col) col = (size_t)cs.c * cs.kh * cs.kw * r * cs.ow;
                    if ((size_t)cs.oc * r * cs.ow > scratch) scratch = (size_t)cs.oc * r * cs.ow;
                }
            }
            continue;
        }
        L->y = act;
        act += out;
        if (L->kind == L_DROPOUT) {
            L->save = act;              /* mask */
            act += training ? out : 0;
        }
        if (L->kind == L_BN) {
            L->bn_stats = act;         /* batch mean[C], invstd[C], then the backward's coef[3C] */
            act += 5 * (size_t)L->ic;
        }
        if (L->kind == L_MAXPOOL) {
            L->argmax = iact;
            iact += out;
            L->save = act;              /* a fused group's input at each argmax */
            act += out;
        }
        if (L->kind == L_CONV) {
            conv_shape s = {.n = n, .c = L->ic, .h = L->ih, .w = L->iw, .oc = L->oc, .kh = L->kh,
                            .kw = L->kw, .sh = L->sh, .sw = L->sw, .ph = L->ph, .pw = L->pw};
            conv_shape_init(&s);
            size_t cs = conv_col_size(&s);
            if (cs > col) col = cs;
            size_t ws = (size_t)L->oc * L->ic * L->kh * L->kw + (size_t)L->oc;
            /* and the Winograd weight gradient's sums (conv_backward) */
            if (runs_winograd(&s)) ws += conv_winograd_dw_sums_size(&s);
            if (ws > wtmp) wtmp = ws;
            /* a sample's output gradient, made inside conv_backward */
            if ((size_t)L->oc * L->oh * L->ow > scratch) scratch = (size_t)L->oc * L->oh * L->ow;
            if (runs_winograd(&s)) {
                /* the forward pass's; the input gradient's copy and
                 * transformed input, together (conv_backward) */
                winograd_forward_sizes(&s, &col, &scratch);
                const conv_shape t = conv_transposed(&s);
                const size_t dxw = conv_winograd_prep_size(&t) + dx_work_size(&t) + conv_winograd_dw_work_size(&s);
                if (dxw > col) col = dxw;
            }
        }
    }
    /* a branch's input gradient is summed through GTMP, as large as any layer input */
    size_t gtmp = 0;
    for (int i = 0; training && i < m->n_layers; i++) {
        size_t in = (size_t)n * m->layers[i].ic * m->layers[i].ih * m->layers[i].iw;
        if (in > gtmp) gtmp = in;
    }
    m->n_threads = n_threads < 1 ? 1 : n_threads;
    /* training stays batch-parallel on one thread too (model.h) */
    m->batch_parallel = m->n_threads > 1 || (suits_batch_parallel && training);
    const size_t F = sizeof(float);
    int ok = reserve(&m->room[ROOM_ACT], F * act, training) &&
             reserve(&m->room[ROOM_IACT], sizeof(int32_t) * (iact + 1), 0) &&
             reserve(&m->room[ROOM_COL], F * col * (size_t)m->n_threads, training) &&
             (!scratch || reserve(&m->room[ROOM_SCRATCH], F * scratch * (size_t)m->n_threads, 0));
    if (ok && training)
        ok = reserve(&m->room[ROOM_DACT], F * act, 1) &&
             reserve(&m->room[ROOM_WTMP], F * wtmp * (size_t)conv_grad_chunks(n), 1) &&
             reserve(&m->room[ROOM_DINPUT], F * (size_t)n * m->in_c * h * w, 1) &&
             reserve(&m->room[ROOM_GTMP], F * (gtmp ? gtmp : 1), 1) &&
             reserve(&m->room[ROOM_GDONE], sizeof(int) * (size_t)(m->n_layers + 1), 0);
    if (!ok) {
        release_rooms(m);
        m->plan_n = 0;
        return VG_ENOMEM;
    }
    m->act = m->room[ROOM_ACT].p;
    m->iact = m->room[ROOM_IACT].p;
    m->col = m->room[ROOM_COL].p;
    m->scratch = scratch ? m->room[ROOM_SCRATCH].p : NULL;
    m->dact = training ? m->room[ROOM_DACT].p : NULL;
    m->wtmp = training ? m->room[ROOM_WTMP].p : NULL;
    m->dinput = training ? m->room[ROOM_DINPUT].p : NULL;
    m->gtmp = training ? m->room[ROOM_GTMP].p : NULL;
    m->gdone = training ? m->room[ROOM_GDONE].p : NULL;
    m->n_act = act; m->n_iact = iact; m->n_col = col; m->n_wtmp = wtmp; m->n_scratch = scratch;
    m->plan_n = n; m->plan_h = h; m->plan_w = w; m->plan_training = training;
    return VG_OK;
}

static conv_shape conv_of(const nn_layer *L, int n)
{
    conv_shape s = {.n = n, .c = L->ic, .h = L->ih, .w = L->iw, .oc = L->oc, .kh = L->kh,
                    .kw = L->kw, .sh = L->sh, .sw = L->sw, .ph = L->ph, .pw = L->pw};
    conv_shape_init(&s);
    return s;
}

static pool_shape pool_of(const nn_layer *L, int n)
{
    pool_shape s = {.n = n, .c = L->ic, .h = L->ih, .w = L->iw, .kh = L->kh, .kw = L->kw,
                    .sh = L->sh, .sw = L->sw, .ph = L->ph, .pw = L->pw};
    pool_shape_init(&s);
    return s;
}

/* Inference's batch norm + ReLU after a convolution, applied to output rows
 * [OY0, OY1) of one sample y[OC,OH,OW] while they are still in cache:
 * y = max(0, y * scale[o] + shift[o]), the same arithmetic as
 * forward_batchnorm_eval then forward_relu, so the logits do not change. */
static void epilogue_bn_relu(float *y, const float *ss, const conv_shape *s, int oy0, int oy1)
{
    const size_t P = (size_t)s->oh * s->ow, Pb = (size_t)(oy1 - oy0) * s->ow;
    for (int o = 0; o < s->oc; o++) {
        float *r = y + o * P + (size_t)oy0 * s->ow;
        const float scale = ss[o], shift = ss[s->oc + o];
        for (size_t p = 0; p < Pb; p++) {
            float v = r[p] * scale + shift;
            r[p] = v > 0.0f ? v : 0.0f;
        }
    }
}

/* A block of conv rows [OY0, OY1) (OY0 even) of one sample, made in
 * SCRATCH[OC][rows][OW], gets batch norm + ReLU (epilogue_bn_relu's
 * arithmetic) and the 2x2 max of its whole row pairs into
 * YP[OC][OH/2][OW/2]: the full-resolution block never leaves the cache, and
 * the logits are the unfused ones. */
static void pool_block(float *yp, float *scratch, const conv_shape *s, const float *ss, int oy0, int oy1)
{
    const int rows = oy1 - oy0, ow = s->ow, poh = s->oh / 2, pow_ = s->ow / 2;
    const size_t Pb = (size_t)rows * ow;
    conv_shape blk = *s;
    blk.oh = rows;
    epilogue_bn_relu(scratch, ss, &blk, 0, rows);
    /* rows / 2 whole pairs: OY0 is even, so they end at or before pooled row
     * OH / 2, and an odd last row is dropped as the pool drops it */
    for (int o = 0; o < s->oc; o++)
        maxpool_2x2_rows(yp + (size_t)o * poh * pow_ + (size_t)(oy0 / 2) * pow_, scratch + o * Pb, ow,
                         pow_, rows / 2);
}

/* Whether A and B hold the same N floats, compared in THREADS parts at
 * once: at batch 1, cnn's compares were 2-3% of a pass on one thread while
 * the other waited */
static int same_floats(const float *a, const float *b, size_t n, int threads)
{
    int differ = 0;
#pragma omp parallel for num_threads(threads) reduction(| : differ) if (threads > 1 && n >= 65536)
    for (int k = 0; k < threads; k++) {
        const size_t i0 = n * k / threads, i1 = n * (k + 1) / threads;
        differ |= memcmp(a + i0, b + i0, sizeof(float) * (i1 - i0)) != 0;
    }
    return !differ;
}

/* *CACHE: a copy of W, then the Winograd transform of the weights of S (DX:
 * of its transpose, conv_transposed, then room for the flipped weights),
 * made again whenever W differ from the copy (every training step,
 * loading); NULL if out of memory. Comparing 1 MB of cnn's weights costs
 * far less than the transform. */
static const float *winograd_cached(float **cache, const float *W, const conv_shape *s, int dx, int threads)
{
    const size_t nw = (size_t)s->oc * s->c * s->kh * s->kw;
    if (*cache && same_floats(*cache, W, nw, threads)) return *cache + nw;
    const conv_shape t = dx ? conv_transposed(s) : *s;
    if (!*cache) *cache = malloc(sizeof(float) * ((dx ? 2 : 1) * nw + conv_winograd_weights_size(&t)));
    if (!*cache) return NULL;
    memcpy(*cache, W, sizeof(float) * nw);
    if (!dx) {
        conv_winograd_weights(*cache + nw, W, s);
        return *cache + nw;
    }
    /* wt[c][o][ky][kx] = w[o][c][2-ky][2-kx], made past the transform's end */
    float *wt = *cache + nw + conv_winograd_weights_size(&t);
    for (int o = 0; o < s->oc; o++)
        for (int c = 0; c < s->c; c++)
            for (int k = 0; k < 9; k++) wt[((size_t)c * s->oc + o) * 9 + k] = W[((size_t)o * s->c + c) * 9 + 8 - k];
    conv_winograd_weights(*cache + nw, wt, &t);
    return *cache + nw;
}

/* Rows [OY0, OY1) of one sample from its prepared copy PREP, by the direct
 * kernel (U NULL) or by Winograd (U: the layer's transformed weights), with
 * the fused epilogue (and pool) of conv_forward. SCRATCH: the direct
 * block before its pool, or Winograd's work. */
static void prepared_block(float *y, const float *prep, const float *u, const float *B, const conv_shape *s,
                           float *scratch, const float *epi, int pooled, int oy0, int oy1)
{
    if (u) {
        /* the epilogue and pool in the output transform, in registers */
        const winograd_epilogue ep = {epi, pooled};
        const size_t at = pooled ? (size_t)(oy0 / 2) * (s->ow / 2) : (size_t)oy0 * s->ow;
        const size_t ldy = pooled ? (size_t)(s->oh / 2) * (s->ow / 2) : (size_t)s->oh * s->ow;
        forward_conv2d_winograd_rows(y + at, ldy, prep, u, B, epi ? &ep : NULL, s, oy0, oy1, scratch);
        return;
    }
    float *yb = pooled ? scratch : y + (size_t)oy0 * s->ow;
    const size_t ldy = pooled ? (size_t)(oy1 - oy0) * s->ow : (size_t)s->oh * s->ow;
    forward_conv2d_direct_rows(yb, ldy, prep, B, s, oy0, oy1);
    if (pooled) pool_block(y, scratch, s, epi, oy0, oy1);
    else if (epi) epilogue_bn_relu(y, epi, s, oy0, oy1);
}

/* Output channels [OC0, OC1) of one sample by Winograd from its prepared
 * copy PREP, all rows at once (conv_winograd_by_sample), with the fused
 * epilogue (and pool) of conv_forward */
static void sample_part(float *y, const float *prep, const float *u, const float *B, const conv_shape *s,
                        float *scratch, const float *epi, int pooled, int oc0, int oc1)
{
    const winograd_epilogue ep = {epi, pooled};
    const size_t ldy = pooled ? (size_t)(s->oh / 2) * (s->ow / 2) : (size_t)s->oh * s->ow;
    forward_conv2d_winograd_sample(y, ldy, prep, u, B, epi ? &ep : NULL, s, oc0, oc1, scratch);
}

/* Part PART of PARTS of one sample's prepared copy: bordered with packed
 * weights for the direct kernel (U NULL; made whole by part 0), bordered
 * and split into column phases for Winograd (by channels, so that the
 * threads of a batch-1 pass share the copy) */
static void prepare_part(float *prep, const float *x, const float *W, const float *u, const conv_shape *s, int part,
                         int parts)
{
    if (u) conv_winograd_prepare_channels(prep, x, s, part * s->c / parts, (part + 1) * s->c / parts);
    else if (part == 0) conv_direct_prepare(prep, x, W, s);
}

/* Rows shared by a team of threads with an owner each: thread t takes its
 * own contiguous rows [front, back) from the front and, when they are
 * done, the other threads' from the back. Nearly every row stays with the
 * core that prepared its input, and a thread on a slower core (the VM's
 * cores are not equally fast for seconds at a time) does not hold the
 * other up. Front and back in one atomic word, a cache line each. */
enum { MAX_SHARES = 16 };
typedef struct {
    _Atomic uint64_t fb;   /* front | back << 32 */
    char pad[64 - sizeof(uint64_t)];
} row_share;

static void row_share_init(row_share *r, int front, int back)
{
    atomic_store(&r->fb, (uint64_t)(uint32_t)front | (uint64_t)(uint32_t)back << 32);
}

/* the next row for thread T of NTH, or -1 when every row is taken */
static int row_share_next(row_share *sh, int t, int nth)
{
    for (int k = 0; k < nth; k++) {
        row_share *r = &sh[(t + k) % nth];
        uint64_t v = atomic_load(&r->fb);
        for (;;) {
            const int f = (int)(uint32_t)v, b = (int)(uint32_t)(v >> 32);
            if (f >= b) break;
            const uint64_t next = k == 0 ? v + 1 : (uint64_t)(uint32_t)f | (uint64_t)(uint32_t)(b - 1) << 32;
            if (atomic_compare_exchange_weak(&r->fb, &v, next)) return k == 0 ? f : b - 1;
        }
    }
    return -1;
}

/* conv_forward_prepared's blocks of one sample shared by a team of NTH
 * threads (this one T), called by each of them: the copy made by parts,
 * then the blocks (of ROWS output rows, or PER parts of the output
 * channels BY_SAMPLE) taken in turn */
static void shared_sample(vg_model *m, float *y, const float *x, const float *W, const float *u, const float *B,
                          const conv_shape *s, const float *epi, int pooled, int rows, int per, int by_sample, int t,
                          int nth)
{
    const int ocb = (s->oc + 7) / 8;
    float *scratch = m->scratch + (size_t)t * m->n_scratch;
    prepare_part(m->col, x, W, u, s, t, nth);
#pragma omp barrier
#pragma omp for schedule(dynamic)
    for (int j = 0; j < per; j++) {
        if (by_sample) {
            const int oc1 = 8 * ((j + 1) * ocb / per);
            sample_part(y, m->col, u, B, s, scratch, epi, pooled, 8 * (j * ocb / per), oc1 < s->oc ? oc1 : s->oc);
            continue;
        }
        const int oy0 = j * rows, oy1 = oy0 + rows < s->oh ? oy0 + rows : s->oh;
        prepared_block(y, m->col, u, B, s, scratch, epi, pooled, oy0, oy1);
    }
}

/* Inference of the thin padded layers that training runs direct
 * (infers_direct: cnn's conv2 and conv3) and, with U, inference and
 * training of the 3x3 layers Winograd takes (runs_winograd: conv2..conv5;
 * U their transformed weights). Lowered, they spend as long in im2col and BLAS's packing as in
 * arithmetic; here each sample is prepared once and its output made by
 * blocks of rows (Winograd's: one row of tiles), the fused epilogue
 * applied to each block while it is in cache. A sample per thread in a
 * batch; the blocks of one sample shared by the threads below that. Each
 * output's arithmetic is the same either way: batch size and thread count
 * do not change the bits. */
static void conv_forward_prepared(vg_model *m, const float *in, float *y, const float *W, const float *u,
                                  const float *B, const conv_shape *s, int n, const float *epi, int pooled)
{
    const size_t xs = (size_t)s->c * s->h * s->w;
    const size_t ys = pooled ? (size_t)s->oc * (s->oh / 2) * (s->ow / 2) : (size_t)s->oc * s->oh * s->ow;
    const int T = m->n_threads;
    int rows = WINO_ROWS;
    if (!u) {
        rows = pooled ? pooled_block_rows(s) : conv_forward_block_rows(s);
        if (n < T) {
            /* at least two blocks per thread: the blocks are not equally fast */
            const int r = (s->oh + 2 * T - 1) / (2 * T);
            if (r < rows) rows = r;
        }
        if (pooled) rows += rows & 1;
        if (rows < 1) rows = 1;
    }
    /* Winograd by whole samples (conv_winograd_by_sample): a sample's
     * output channels in T parts below T samples */
    const int by_sample = u && conv_winograd_by_sample(s);
    const int per = by_sample ? (n < T ? T : 1) : (s->oh + rows - 1) / rows;
    if (n >= T) {
#pragma omp parallel for schedule(dynamic) num_threads(T) if (T > 1)
        for (int i = 0; i < n; i++) {
            const int t = omp_get_thread_num();
            float *prep = m->col + (size_t)t * m->n_col;
            prepare_part(prep, in + i * xs, W, u, s, 0, 1);
            if (by_sample) {
                sample_part(y + i * ys, prep, u, B, s, m->scratch + (size_t)t * m->n_scratch, epi, pooled, 0, s->oc);
                continue;
            }
            for (int j = 0; j < per; j++) {
                const int oy0 = j * rows, oy1 = oy0 + rows < s->oh ? oy0 + rows : s->oh;
                prepared_block(y + i * ys, prep, u, B, s, m->scratch + (size_t)t * m->n_scratch, epi, pooled, oy0,
                               oy1);
            }
        }
        return;
    }
    row_share shares[MAX_SHARES];
    for (int i = 0; i < n; i++) {
#pragma omp parallel num_threads(T)
        {
            const int t = omp_get_thread_num(), nth = omp_get_num_threads();
            if (u && !by_sample && T <= MAX_SHARES) {
                /* Winograd by rows (ROWS = WINO_ROWS, one row of tiles;
                 * bordered row 4k starts tile row k): each thread a
                 * contiguous share of the tile rows, and it prepares those
                 * rows itself, so that
                 * what it reads was written by its own core (two border
                 * rows apart), in this layer and, as every layer shares
                 * the image the same way, in the one before; a thread
                 * done early takes the others' last rows (row_share) */
                const int ty0 = t * per / nth, ty1 = (t + 1) * per / nth;
                conv_winograd_prepare_rows(m->col, in + i * xs, s, rows * ty0, t == nth - 1 ? INT_MAX : rows * ty1);
                row_share_init(&shares[t], ty0, ty1);
#pragma omp barrier
                float *scratch = m->scratch + (size_t)t * m->n_scratch;
                for (int j; (j = row_share_next(shares, t, nth)) >= 0;)
                    prepared_block(y + i * ys, m->col, u, B, s, scratch, epi, pooled, rows * j,
                                   rows * (j + 1) < s->oh ? rows * (j + 1) : s->oh);
            } else
                shared_sample(m, y + i * ys, in + i * xs, W, u, B, s, epi, pooled, rows, per, by_sample, t, nth);
        }
    }
}

/* Inference of a stem convolution (conv_stem_suits: cnn's conv1) with its
 * fused epilogue: a sample per thread in a batch, blocks of output rows
 * shared by the threads below that. */
static void conv_forward_stem(vg_model *m, const float *in, float *y, const float *W, const float *B,
                              const conv_shape *s, int n, const float *epi)
{
    enum { STEM_ROWS = 8 };
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->oc * s->oh * s->ow;
    const int T = m->n_threads;
    if (n >= T) {
#pragma omp parallel for schedule(dynamic) num_threads(T) if (T > 1)
        for (int i = 0; i < n; i++)
            forward_conv2d_stem_rows(y + i * ys, in + i * xs, W, B, epi, s, 0, s->oh,
                                     m->col + (size_t)omp_get_thread_num() * m->n_col);
        return;
    }
    /* below T samples, each thread a contiguous share of the rows (static
     * chunks), as the Winograd layers after it share theirs: the next
     * layer then reads what its own core wrote */
    const int per = (s->oh + STEM_ROWS - 1) / STEM_ROWS;
#pragma omp parallel for schedule(static) num_threads(T) if (T > 1)
    for (int j = 0; j < n * per; j++) {
        const int i = j / per, oy0 = (j % per) * STEM_ROWS, oy1 = oy0 + STEM_ROWS < s->oh ? oy0 + STEM_ROWS : s->oh;
        forward_conv2d_stem_rows(y + i * ys, in + i * xs, W, B, epi, s, oy0, oy1,
                                 m->col + (size_t)omp_get_thread_num() * m->n_col);
    }
}

/* Convolutions of a batch run one sample per thread with single-threaded
 * BLAS: many mid-sized GEMMs parallelise better over samples than inside
 * OpenBLAS, whose threads would otherwise spin between calls, and the two
 * never compete for the cores. Fewer samples than threads are split by
 * blocks of output rows over the same threads; a plan of one thread (a
 * small network) leaves the threads to BLAS.
 * EPI: NULL, or scale[OC] then shift[OC] of a fused batch norm + ReLU.
 * POOLED: the 2x2 max-pool after them too (pool_fusable; needs EPI), y is
 * then the pooled output, always made in blocks of whole row pairs. */
static void conv_forward(vg_model *m, nn_layer *L, const float *in, float *y, int n, const float *epi,
                         int pooled)
{
    const float *W = m->arena + L->w, *B = L->b >= 0 ? m->arena + L->b : NULL;
    conv_shape s = conv_of(L, 1);
    const size_t xs = (size_t)L->ic * L->ih * L->iw;
    const size_t ys = pooled ? (size_t)L->oc * (L->oh / 2) * (L->ow / 2) : (size_t)L->oc * L->oh * L->ow;
    const int T = m->n_threads;
    if (runs_winograd(&s)) {
        const float *u = winograd_cached(&L->wino, W, &s, 0, T);
        if (u) {
            conv_forward_prepared(m, in, y, W, u, B, &s, n, epi, pooled);
            return;
        }   /* out of memory for the transform: the other paths need none */
    }
    if (!m->plan_training && infers_direct(&s)) {
        conv_forward_prepared(m, in, y, W, NULL, B, &s, n, epi, pooled);
        return;
    }
    if (!m->plan_training && !pooled && conv_stem_suits(&s)) {
        conv_forward_stem(m, in, y, W, B, &s, n, epi);
        return;
    }
    if (!pooled && !m->batch_parallel) {
        /* BLAS threads split each GEMM: one per layer, as wide as possible
         * (the plan sized the column buffer for whole samples) */
        s.n = n;
        forward_conv2d_rows(y, in, W, B, &s, m->col, s.oh);
        for (int i = 0; epi && i < n; i++) epilogue_bn_relu(y + i * ys, epi, &s, 0, s.oh);
        return;
    }
    const int direct_train = m->plan_training && conv_direct_train_suits(&s);
    if (!pooled && (n >= T || conv_direct_suits(&s) || direct_train)) {
        /* dynamic: samples are independent, and the cores of a shared VM
         * are not equally fast (one ran 15% slower here for minutes) */
#pragma omp parallel for schedule(dynamic) num_threads(T)
        for (int i = 0; i < n; i++) {
            float *col = m->col + (size_t)omp_get_thread_num() * m->n_col;
            if (direct_train) forward_conv2d_direct_train(y + i * ys, in + i * xs, W, B, &s, col);
            else forward_conv2d(y + i * ys, in + i * xs, W, B, &s, col);
            if (epi) epilogue_bn_relu(y + i * ys, epi, &s, 0, s.oh);
        }
        return;
    }
    /* blocks of output rows: at least one per thread when there are fewer
     * samples than threads, no larger than the column buffer allows, and
     * whole row pairs for a fused pool */
    const int max_rows = pooled ? pooled_block_rows(&s) : conv_forward_block_rows(&s);
    int rows = n >= T ? max_rows : (s.oh * n + T - 1) / T;
    if (pooled) rows += rows & 1;
    if (rows > max_rows) rows = max_rows;
    if (rows < 1) rows = 1;
    const int per = (s.oh + rows - 1) / rows;
#pragma omp parallel for schedule(dynamic) num_threads(T) if (T > 1)
    for (int j = 0; j < n * per; j++) {
        const int i = j / per, oy0 = (j % per) * rows, oy1 = oy0 + rows < s.oh ? oy0 + rows : s.oh;
        const int t = omp_get_thread_num();
        float *col = m->col + (size_t)t * m->n_col;
        if (pooled) {
            float *scratch = m->scratch + (size_t)t * m->n_scratch;
            forward_conv2d_block_to(scratch, (size_t)(oy1 - oy0) * s.ow, in + i * xs, W, B, &s, col, oy0, oy1);
            pool_block(y + i * ys, scratch, &s, epi, oy0, oy1);
            continue;
        }
        forward_conv2d_block(y + i * ys, in + i * xs, W, B, &s, col, oy0, oy1);
        if (epi) epilogue_bn_relu(y + i * ys, epi, &s, oy0, oy1);
    }
}

/* Inference runs conv -> bn -> relu as one layer when nothing else reads the
 * conv's or the batch norm's output: the three then share one buffer (the
 * plan alternates two by layer parity), and the batch norm and ReLU passes
 * over the whole activation disappear. Fills SS with scale[OC], shift[OC]. */
static int fuses_bn_relu(const vg_model *m, int i, float *ss, int max_oc)
{
    const nn_layer *c = &m->layers[i];
    if (i + 2 >= m->end || c->oc > max_oc) return 0;
    const nn_layer *bn = &m->layers[i + 1], *relu = &m->layers[i + 2];
    if (bn->kind != L_BN || bn->src != i || relu->kind != L_RELU || relu->src != i + 1) return 0;
    /* one buffer for the three: only an inference plan shares it */
    if (c->keep || bn->keep || relu->y != c->y) return 0;
    const float *P = m->arena;
    for (int ch = 0; ch < c->oc; ch++)
        batchnorm_eval_coefficients(&ss[ch], &ss[c->oc + ch], P + bn->w, P + bn->b, P + bn->rmean,
                                    P + bn->rvar, ch, bn->eps);
    return 1;
}

/* A fused training group's batch-norm input gradient, left for its
 * convolution's backward pass to make sample by sample just before using
 * it (bn_relu_pool_grad_sample), in a per-thread buffer that stays in
 * cache: written whole and read back twice, that gradient streamed about
 * 440 MB per cnn step through memory. */
typedef struct {
    int conv;                            /* the convolution's layer, or -1 */
    const float *dy, *y, *x, *stats, *coef;
    const int32_t *argmax;               /* NULL for a group without a pool */
} pending_bn_grad;

static void conv_backward(vg_model *m, nn_layer *L, const float *in, const float *dy,
                          float *dx, int n, const pending_bn_grad *bg)
{
    const float *W = m->arena + L->w;
    float *dW = m->grads + L->w, *dB = L->b >= 0 ? m->grads + L->b : NULL;
    conv_shape s = conv_of(L, 1);
    if (!m->batch_parallel) {
        /* BG is set for batch-parallel passes only (backward_pass) */
        s.n = n;
        backward_conv2d(dx, dW, dB, dy, in, W, &s, m->col);
        return;
    }
    const size_t xs = (size_t)L->ic * L->ih * L->iw, ys = (size_t)L->oc * L->oh * L->ow;
    const size_t nw = (size_t)L->oc * L->ic * L->kh * L->kw, nb = dB ? (size_t)L->oc : 0;
    const int T = m->n_threads, chunks = conv_grad_chunks(n);
    /* where the forward pass takes Winograd's path (runs_winograd), the
     * input gradient takes it as a convolution of dy, and the weight
     * gradient by the transposed transforms, from the same copy of dy */
    const int wino = runs_winograd(&s);
    const float *ut = dx && wino ? winograd_cached(&L->wino_dx, W, &s, 1, T) : NULL;
    const conv_shape t = wino ? conv_transposed(&s) : s;
    const size_t dy_prep = wino ? conv_winograd_prep_size(&t) : 0, ns = wino ? conv_winograd_dw_sums_size(&s) : 0;
    const int dx_by_sample = wino && conv_winograd_by_sample(&t);
    /* a chunk's accumulators: the weights' (not for Winograd, whose sums
     * follow them), the bias's, the Winograd sums */
    const size_t j0 = wino ? nw : 0;
#pragma omp parallel num_threads(T)
    {
        float *col = m->col + (size_t)omp_get_thread_num() * m->n_col;
#pragma omp for schedule(dynamic)
        for (int k = 0; k < chunks; k++) {
            float *acc = m->wtmp + (size_t)k * m->n_wtmp;
            memset(acc + j0, 0, sizeof(float) * (nw + nb - j0));
            winograd_dw wd;
            if (wino) conv_winograd_dw_begin(&wd, acc + nw + nb, col + dy_prep + dx_work_size(&t), &s);
            for (int i = k * n / chunks; i < (k + 1) * n / chunks; i++) {
                const float *dyi = dy + i * ys;
                if (bg) {
                    float *buf = m->scratch + (size_t)omp_get_thread_num() * m->n_scratch;
                    bn_relu_pool_grad_sample(buf, bg->coef, bg->dy, bg->x, bg->y, bg->argmax, bg->stats, i, L->oc,
                                             L->oh, L->ow);
                    dyi = buf;
                }
                if (!wino) {
                    backward_conv2d(dx ? dx + i * xs : NULL, acc, dB ? acc + nw : NULL, dyi, in + i * xs, W, &s,
                                    col);
                    continue;
                }
                if (dB) backward_conv2d_bias(acc + nw, dyi, L->oc, L->oh * L->ow);
                conv_winograd_prepare(col, dyi, &t);
                if (ut && dx_by_sample)
                    forward_conv2d_winograd_sample(dx + i * xs, (size_t)L->ih * L->iw, col, ut, NULL, NULL, &t, 0,
                                                   t.oc, col + dy_prep);
                else if (ut)
                    forward_conv2d_winograd_rows(dx + i * xs, (size_t)L->ih * L->iw, col, ut, NULL, NULL, &t, 0,
                                                 t.oh, col + dy_prep);
                conv_winograd_dw_add(&wd, in + i * xs, col);
            }
            if (wino) conv_winograd_dw_finish(&wd);
        }
        /* each weight (or Winograd sum) sums the chunks in chunk order,
         * whichever thread: the sums into the first chunk's */
#pragma omp for schedule(static)
        for (size_t j = j0; j < nw + nb + ns; j++) {
            float sum = 0;
            for (int k = 0; k < chunks; k++) sum += m->wtmp[(size_t)k * m->n_wtmp + j];
            if (j < nw) dW[j] += sum;
            else if (j < nw + nb) dB[j - nw] += sum;
            else m->wtmp[j] = sum;
        }
        /* then their weight gradient, by runs of channel pairs */
        const size_t pairs = (size_t)L->oc * L->ic;
#pragma omp for schedule(static)
        for (int part = 0; part < (wino ? T : 0); part++)
            conv_winograd_dw_gradient(dW, m->wtmp + nw + nb, &s, pairs * part / T, pairs * (part + 1) / T);
    }
}

/* One threading mode per pass: batch-parallel (OpenMP over samples and
 * planes, BLAS single-threaded) or BLAS-parallel (OpenMP off). Mixing them
 * per layer makes the two thread pools spin against each other. */
typedef struct { int omp, blas; } thread_ctx;

static thread_ctx threads_enter(const vg_model *m)
{
    thread_ctx c = {omp_get_max_threads(), openblas_get_num_threads()};
    if (m->batch_parallel) openblas_set_num_threads(1);
    else omp_set_num_threads(1);
    return c;
}

static void threads_leave(const vg_model *m, thread_ctx c)
{
    if (m->batch_parallel) openblas_set_num_threads(c.blas);
    else omp_set_num_threads(c.omp);
}

static const float *forward_pass(vg_model *m, const float *x, int n, int h, int w, int training);

int nn_can_start_at(const vg_model *m, int start)
{
    if (start < 0 || start >= m->n_layers) return 0;
    for (int i = start; i < m->n_layers; i++) {
        const nn_layer *L = &m->layers[i];
        if (L->src < start - 1 || (L->src < 0 && start > 0)) return 0;
        if (L->kind == L_ADD && L->other < start) return 0;
    }
    return 1;
}

/* The output of layer J for the current pass: X itself for the layer before
 * the pass's first (or the network input, J = -1). */
static const float *output_of(const vg_model *m, int j, const float *x)
{
    return j < m->start ? x : m->act + m->layers[j].y;
}

const float *nn_forward_from(vg_model *m, const float *x, int n, int h, int w, int training, int start)
{
    if (!nn_can_start_at(m, start) || nn_plan(m, n, h, w, training)) return NULL;
    m->start = start;
    m->end = m->n_layers;
    thread_ctx c = threads_enter(m);
    const float *y = forward_pass(m, x, n, h, w, training);
    threads_leave(m, c);
    return y;
}

const float *nn_forward(vg_model *m, const float *x, int n, int h, int w, int training)
{
    return nn_forward_from(m, x, n, h, w, training, 0);
}

const float *nn_forward_prefix(vg_model *m, const float *x, int n, int h, int w, int end)
{
    if (end < 1 || end > m->n_layers || nn_plan(m, n, h, w, 0)) return NULL;
    m->start = 0;
    m->end = end;
    thread_ctx c = threads_enter(m);
    const float *y = forward_pass(m, x, n, h, w, 0);
    threads_leave(m, c);
    m->end = m->n_layers;
    return y;
}

void nn_freeze_features(vg_model *m, int frozen)
{
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].kind == L_CONV || m->layers[i].kind == L_BN) m->layers[i].frozen = frozen;
    for (int t = 0; t < m->n_tensors; t++) {
        layer_kind k = m->layers[m->tensors[t].layer].kind;
        if (k == L_CONV || k == L_BN) m->tensors[t].frozen = frozen;
    }
}

int nn_first_trainable(const vg_model *m)
{
    for (int i = 0; i < m->n_layers; i++) {
        const nn_layer *L = &m->layers[i];
        if ((L->kind == L_CONV || L->kind == L_LINEAR || L->kind == L_BN) && !L->frozen) return i;
    }
    return m->n_layers;
}

/* Training runs conv -> bn -> relu [-> 2x2/2 max-pool] with the batch
 * norm, ReLU and pool as one pass (forward_bn_relu_pool_train) when the
 * batch norm trains and nothing else reads the outputs that pass does not
 * write. Returns how many layers after conv I it covers (0: none). */
static int train_group(const vg_model *m, int i)
{
    if (m->unfused_training || i + 2 >= m->end) return 0;
    const nn_layer *c = &m->layers[i], *bn = c + 1, *relu = c + 2, *pool = c + 3;
    if (bn->kind != L_BN || bn->src != i || bn->frozen || relu->kind != L_RELU ||
        relu->src != i + 1 || c->keep || bn->keep)
        return 0;
    if (i + 3 < m->end && pool->kind == L_MAXPOOL && pool->src == i + 2 && pool->kh == 2 &&
        pool->kw == 2 && pool->sh == 2 && pool->sw == 2 && !pool->ph && !pool->pw && !relu->keep &&
        c->oh >= 2 && c->ow >= 2)
        return 3;
    return 2;
}

/* The per-thread scratch of the fused passes: the convolutions' column
 * buffers, free once the convolution has run (at least OH*OW floats). */
static bn_work fused_work(const vg_model *m)
{
    return (bn_work){m->col, m->n_col, m->n_threads};
}

static void forward_train_group(vg_model *m, const nn_layer *c, int group, int n)
{
    const nn_layer *bn = c + 1, *relu = c + 2, *pool = group == 3 ? c + 3 : NULL;
    const float *P = m->arena;
    bn_work wk = fused_work(m);
    forward_bn_relu_pool_train(pool ? NULL : m->act + relu->y, pool ? m->act + pool->y : NULL,
                               pool ? m->iact + pool->argmax : NULL, pool ? m->act + pool->save : NULL,
                               m->act + bn->bn_stats,
                               m->arena + bn->rmean, m->arena + bn->rvar, m->act + c->y, P + bn->w,
                               P + bn->b, n, c->oc, c->oh, c->ow, bn->eps, bn->momentum, &wk);
}

static const float *forward_pass(vg_model *m, const float *x, int n, int h, int w, int training)
{
    (void)h; (void)w;
    float *P = m->arena;
    for (int i = 0; i < m->n_layers; i++) m->layers[i].train_fused = 0;
    for (int i = m->start; i < m->end; i++) {
        nn_layer *L = &m->layers[i];
        const float *in = output_of(m, L->src, x);
        float *y = m->act + L->y;
        size_t count = (size_t)n * L->oc * L->oh * L->ow;
        switch (L->kind) {
        case L_ADD: {
            const float *o = output_of(m, L->other, x);
            for (size_t k = 0; k < count; k++) y[k] = in[k] + o[k];
            break;
        }
        case L_CONV: {
            float ss[2 * FUSED_MAX_OC];
            const int fused = !training && fuses_bn_relu(m, i, ss, FUSED_MAX_OC);
            /* the pool too, when this pass runs it (the plan put its output
             * in this layer's buffer) */
            const int pooled = fused && L->pool_fused && i + 3 < m->end;
            conv_forward(m, L, in, y, n, fused ? ss : NULL, pooled);
            i += pooled ? 3 : fused ? 2 : 0;   /* the batch norm, ReLU (and pool) are done */
            if (training && (L->train_fused = train_group(m, i))) {
                forward_train_group(m, L, L->train_fused, n);
                i += L->train_fused;
            }
            break;
        }
        case L_LINEAR:
            forward_linear(y, in, P + L->w, L->b >= 0 ? P + L->b : NULL, n, L->ic, L->oc);
            break;
        case L_BN:
            if (training && !L->frozen)
                forward_batchnorm_train(y, m->act + L->bn_stats, P + L->rmean, P + L->rvar, in,
                                        P + L->w, P + L->b, n, L->ic, L->ih * L->iw, L->eps,
                                        L->momentum);
            else
                forward_batchnorm_eval(y, in, P + L->w, P + L->b, P + L->rmean, P + L->rvar, n,
                                       L->ic, L->ih * L->iw, L->eps);
            break;
        case L_RELU: forward_relu(y, in, count); break;
        case L_MAXPOOL: {
            pool_shape s = pool_of(L, n);
            /* y is in itself when a pass starts inside a fused group */
            forward_maxpool(y, training ? m->iact + L->argmax : NULL, in, &s);
            break;
        }
        case L_AVGPOOL: {
            pool_shape s = pool_of(L, n);
            forward_avgpool(y, in, &s);
            break;
        }
        case L_GAP: forward_global_avgpool(y, in, n, L->ic, L->ih, L->iw, 1); break;
        case L_TIMEPOOL: forward_global_avgpool(y, in, n, L->ic, L->ih, L->iw, 0); break;
        case L_TIMESTATS: forward_time_stats(y, in, n, L->ic, L->ih, L->iw); break;
        case L_LIFTER: forward_lifter(y, in, m->col, n, L->ic, L->ih, L->iw, L->out); break;
        case L_FLATTEN: memcpy(y, in, sizeof(float) * count); break;
        case L_DROPOUT:
            if (training) forward_dropout(y, m->act + L->save, in, count, L->p, &m->rng);
            else memcpy(y, in, sizeof(float) * count);
            break;
        case L_LOGSOFTMAX: forward_logsoftmax(y, in, n, L->ic); break;
        }
    }
    return m->act + m->layers[m->end - 1].y;
}

static void backward_pass(vg_model *m, const float *x, const float *dlogits, int want_dinput);

void nn_backward(vg_model *m, const float *x, const float *dlogits, int want_dinput)
{
    thread_ctx c = threads_enter(m);
    backward_pass(m, x, dlogits, want_dinput);
    threads_leave(m, c);
}

/* Gradient routing: a layer's backward writes the gradient of its input
 * into the output-gradient buffer of its source layer. Layers run in reverse
 * order, so every reader of an output has run before the output's own layer;
 * the first reader writes, later ones (branches) add through m->gtmp. */
static float *grad_target(vg_model *m, int j, int stop, int want_dinput)
{
    if (j >= stop) return m->dact + m->layers[j].y;
    return j < 0 && want_dinput ? m->dinput : NULL;
}

static void grad_commit(vg_model *m, int j, float *target, const float *written, size_t count)
{
    if (!target) return;
    if (written != target)
        for (size_t k = 0; k < count; k++) target[k] += written[k];
    m->gdone[j + 1] = 1;
}

static void backward_pass(vg_model *m, const float *x, const float *dlogits, int want_dinput)
{
    const int n = m->plan_n;
    float *P = m->arena, *G = m->grads;
    nn_layer *last = &m->layers[m->n_layers - 1];
    memcpy(m->dact + last->y, dlogits, sizeof(float) * (size_t)n * m->n_classes);
    memset(m->gdone, 0, sizeof(int) * (size_t)(m->n_layers + 1));
    /* Layers before the first trainable one need no gradient at all. */
    const int stop = want_dinput ? m->start : (nn_first_trainable(m) > m->start ? nn_first_trainable(m) : m->start);
    pending_bn_grad pending = {.conv = -1};
    for (int i = m->n_layers - 1; i >= stop; i--) {
        nn_layer *L = &m->layers[i];
        const float *in = output_of(m, L->src, x);
        float *target = grad_target(m, L->src, stop, want_dinput);
        /* the first reader of an output overwrites its gradient; others add */
        float *dx = target && m->gdone[L->src + 1] ? m->gtmp : target;
        const float *dy = m->dact + L->y, *y = m->act + L->y;
        size_t in_count = (size_t)n * L->ic * L->ih * L->iw;
        if (L != last && !m->gdone[i + 1]) continue;   /* an output nothing reads */
        /* the top of a fused group (forward_train_group): straight to the
         * conv's output gradient; the batch norm and ReLU between have no
         * gradient written, so the loop passes over them */
        const int group = i >= 3 && m->layers[i - 3].train_fused == 3 ? 3
                        : i >= 2 && m->layers[i - 2].train_fused == 2 ? 2 : 0;
        if (group) {
            const int ci = i - group;
            const nn_layer *c = &m->layers[ci], *bn = c + 1;
            float *ctarget = grad_target(m, ci, stop, want_dinput);
            float *cdx = ctarget && m->gdone[ci + 1] ? m->gtmp : ctarget;
            bn_work wk = fused_work(m);
            const float *stats = m->act + bn->bn_stats;
            const int32_t *argmax = group == 3 ? m->iact + L->argmax : NULL;
            /* the convolution's batch-parallel backward makes the input
             * gradient itself when it is the only reader (no branch adds) */
            const int defer = cdx && cdx == ctarget && c->kind == L_CONV && m->batch_parallel;
            float *coef = m->act + bn->bn_stats + 2 * (size_t)c->oc;
            backward_bn_relu_pool(defer ? NULL : cdx, G + bn->w, G + bn->b, coef, dy, m->act + c->y, y, argmax,
                                  argmax ? m->act + L->save : NULL, stats, P + bn->w, n, c->oc, c->oh, c->ow, &wk);
            if (defer) pending = (pending_bn_grad){ci, dy, y, m->act + c->y, stats, coef, argmax};
            grad_commit(m, ci, ctarget, cdx, (size_t)n * c->oc * c->oh * c->ow);
            continue;
        }
        if (L->kind == L_ADD) {
            float *other = grad_target(m, L->other, stop, want_dinput);
            float *dother = other && m->gdone[L->other + 1] ? m->gtmp : other;
            if (dother) {
                memcpy(dother, dy, sizeof(float) * in_count);
                grad_commit(m, L->other, other, dother, in_count);
            }
            if (dx) memcpy(dx, dy, sizeof(float) * in_count);
            grad_commit(m, L->src, target, dx, in_count);
            continue;
        }
        /* Layers without parameters have nothing to do if no one needs dx. */
        if (!dx && L->kind != L_CONV && L->kind != L_LINEAR && L->kind != L_BN) continue;
        switch (L->kind) {
        case L_ADD: break;
        case L_CONV: conv_backward(m, L, in, dy, dx, n, pending.conv == i ? &pending : NULL); break;
        case L_LINEAR:
            backward_linear(dx, G + L->w, L->b >= 0 ? G + L->b : NULL, dy, in, P + L->w, n,
                            L->ic, L->oc);
            break;
        case L_BN:
            if (L->frozen) {
                /* inference-mode batch norm: a per-channel scale */
                if (!dx) break;
                const int hw = L->ih * L->iw;
                for (int ch = 0; ch < L->ic; ch++) {
                    float k = P[L->w + ch] / sqrtf(P[L->rvar + ch] + L->eps);
                    for (int s = 0; s < n; s++) {
                        size_t off = ((size_t)s * L->ic + ch) * hw;
                        for (int j = 0; j < hw; j++) dx[off + j] = dy[off + j] * k;
                    }
                }
                break;
            }
            backward_batchnorm(dx, G + L->w, G + L->b, dy, in, m->act + L->bn_stats, P + L->w, n,
                               L->ic, L->ih * L->iw);
            break;
        case L_RELU: backward_relu(dx, dy, y, in_count); break;
        case L_MAXPOOL: {
            pool_shape s = pool_of(L, n);
            backward_maxpool(dx, dy, m->iact + L->argmax, &s);
            break;
        }
        case L_AVGPOOL: {
            pool_shape s = pool_of(L, n);
            backward_avgpool(dx, dy, &s);
            break;
        }
        case L_GAP: backward_global_avgpool(dx, dy, n, L->ic, L->ih, L->iw, 1); break;
        case L_TIMEPOOL: backward_global_avgpool(dx, dy, n, L->ic, L->ih, L->iw, 0); break;
        case L_TIMESTATS: backward_time_stats(dx, dy, in, y, n, L->ic, L->ih, L->iw); break;
        case L_LIFTER: backward_lifter(dx, dy, m->col, n, L->ic, L->ih, L->iw, L->out); break;
        case L_FLATTEN: memcpy(dx, dy, sizeof(float) * in_count); break;
        case L_DROPOUT: backward_dropout(dx, dy, m->act + L->save, in_count); break;
        case L_LOGSOFTMAX: backward_logsoftmax(dx, dy, y, n, L->ic); break;
        }
        grad_commit(m, L->src, target, dx, in_count);
    }
}

char *nn_arch_with_classes(const char *arch, int k)
{
    const char *last = NULL;
    for (const char *p = strstr(arch, "linear "); p; p = strstr(p + 1, "linear ")) last = p;
    if (!last || k < 1) return NULL;
    const char *num = last + 7, *end = num;
    while (*end >= '0' && *end <= '9') end++;
    size_t len = strlen(arch) + 16;
    char *out = malloc(len);
    if (out) snprintf(out, len, "%.*s%d%s", (int)(num - arch), arch, k, end);
    return out;
}

void nn_zero_grad(vg_model *m) { memset(m->grads, 0, sizeof(float) * m->n_arena); }

nn_tensor *nn_find_tensor(vg_model *m, const char *name)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name)) return &m->tensors[i];
    return NULL;
}

/* the lazily made Winograd weights of every layer: made again when needed */
static void release_winograd_weights(vg_model *m)
{
    for (int i = 0; i < m->n_layers; i++) {
        free(m->layers[i].wino), free(m->layers[i].wino_dx);
        m->layers[i].wino = m->layers[i].wino_dx = NULL;
    }
}

void vg_model_release_buffers(vg_model *m)
{
    if (!m) return;
    pthread_mutex_lock(&m->lock);   /* not under another thread's pass */
    release_rooms(m);
    release_winograd_weights(m);
    m->plan_n = 0;                  /* the next pass plans again */
    pthread_mutex_unlock(&m->lock);
}

void vg_model_destroy(vg_model *m)
{
    if (!m) return;
    free(m->arch);
    release_winograd_weights(m);
    free(m->layers);
    free(m->tensors);
    free(m->arena);
    for (int i = 0; i < m->n_meta; i++) {
        free(m->meta[i].key);
        free(m->meta[i].value);
    }
    free(m->meta);
    release_rooms(m);
    pthread_mutex_destroy(&m->lock);
    free(m);
}
