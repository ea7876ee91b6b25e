/* Public model API: creation, inference, metadata, one training step. */
#include "model.h"

#include <stdlib.h>
#include <string.h>

void nn_optimizer_step(vg_optimizer *o);   /* optim.c */

int vg_model_create(const char *arch, uint64_t seed, vg_model **out, char *err, size_t errlen)
{
    if (!arch || !out) return VG_EARG;
    const char *desc = vg_arch_builtin(arch);
    int rc = nn_build(desc ? desc : arch, out, err, errlen);
    if (rc) return rc;
    nn_init_params(*out, seed);
    if (desc) vg_model_set_meta(*out, "arch_name", arch);
    return VG_OK;
}

/* The accessors answer "nothing" for a NULL model rather than crash. */
const char *vg_model_arch(const vg_model *m) { return m ? m->arch : NULL; }

void vg_model_input_shape(const vg_model *m, int *c, int *h, int *w)
{
    if (c) *c = m->in_c;
    if (h) *h = m->in_h;
    if (w) *w = m->in_w;
}

int vg_model_num_classes(const vg_model *m) { return m ? m->n_classes : 0; }
size_t vg_model_num_params(const vg_model *m) { return m ? m->n_trainable : 0; }

double vg_model_macs(vg_model *m, int h, int w)
{
    double macs = 0;
    if (!m) return 0;
    pthread_mutex_lock(&m->lock);   /* the plan is the model's: see model.h */
    if (nn_plan(m, 1, h ? h : m->in_h, w ? w : m->in_w, 0) == VG_OK)
        for (int i = 0; i < m->n_layers; i++) {
            const nn_layer *L = &m->layers[i];
            if (L->kind == L_CONV)
                macs += (double)L->oc * L->oh * L->ow * L->ic * L->kh * L->kw;
            else if (L->kind == L_LINEAR)
                macs += (double)L->oc * L->ic;
        }
    pthread_mutex_unlock(&m->lock);
    return macs;
}

int vg_model_forward(vg_model *m, const float *x, int n, int h, int w, float *logits)
{
    if (!m || !x || !logits || n < 1) return VG_EARG;
    pthread_mutex_lock(&m->lock);   /* one pass at a time: see model.h */
    int rc = nn_plan(m, n, h, w, 0);
    if (rc == VG_OK) {
        const float *y = nn_forward(m, x, n, h, w, 0);
        if (y) memcpy(logits, y, sizeof(float) * (size_t)n * m->n_classes);
        else rc = VG_ENOMEM;
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* One step starting at layer START (X is that layer's input): see
 * vg_model_train_step. Used with cached outputs of a frozen backbone. */
int nn_train_step(vg_model *m, vg_optimizer *o, const float *x, const int *labels, int n, int h, int w,
                  const float *class_weights, int start, float *loss, int *correct)
{
    if (!m || !o || !x || !labels || n < 1) return VG_EARG;
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= m->n_classes) return VG_EARG;
    int rc = nn_plan(m, n, h, w, 1);
    if (rc) return rc;
    const float *logits = nn_forward_from(m, x, n, h, w, 1, start);
    if (!logits) return VG_ENOMEM;
    const int k = m->n_classes;
    float *dlogits = malloc(sizeof(float) * (size_t)n * k);
    if (!dlogits) return VG_ENOMEM;
    float l = softmax_cross_entropy(dlogits, NULL, logits, labels, class_weights, n, k);
    if (correct) {
        int c = 0;
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int j = 1; j < k; j++)
                if (logits[(size_t)i * k + j] > logits[(size_t)i * k + best]) best = j;
            c += best == labels[i];
        }
        *correct = c;
    }
    nn_zero_grad(m);
    nn_backward(m, x, dlogits, 0);
    free(dlogits);
    nn_optimizer_step(o);
    if (loss) *loss = l;
    return VG_OK;
}

int vg_model_train_step(vg_model *m, vg_optimizer *o, const float *x, const int *labels,
                        int n, int h, int w, const float *class_weights, float *loss,
                        int *correct)
{
    return nn_train_step(m, o, x, labels, n, h, w, class_weights, 0, loss, correct);
}

int vg_model_set_meta(vg_model *m, const char *key, const char *value)
{
    if (!m || !key || !value) return VG_EARG;
    char *v = strdup(value);
    if (!v) return VG_ENOMEM;
    for (int i = 0; i < m->n_meta; i++)
        if (!strcmp(m->meta[i].key, key)) {
            free(m->meta[i].value);
            m->meta[i].value = v;
            return VG_OK;
        }
    nn_meta *grown = realloc(m->meta, sizeof(nn_meta) * (size_t)(m->n_meta + 1));
    char *k = strdup(key);
    if (!grown || !k) {
        free(v);
        free(k);
        if (grown) m->meta = grown;
        return VG_ENOMEM;
    }
    m->meta = grown;
    m->meta[m->n_meta].key = k;
    m->meta[m->n_meta].value = v;
    m->n_meta++;
    return VG_OK;
}

const char *vg_model_meta(const vg_model *m, const char *key)
{
    for (int i = 0; m && key && i < m->n_meta; i++)
        if (!strcmp(m->meta[i].key, key)) return m->meta[i].value;
    return NULL;
}
