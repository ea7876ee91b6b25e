/* Optimizers with torch.optim's exact update formulas (SGD with momentum,
 * Adam, AdamW), global-norm gradient clipping and learning-rate schedules.
 * Only trainable, unfrozen tensors are updated; batch-norm running
 * statistics live in the same arena but are buffers. */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct vg_optimizer {
    vg_model *m;
    vg_optim_config cfg;
    float lr;
    long t;                 /* steps taken */
    float *m1, *m2;         /* momentum / Adam moments, arena-shaped */
};

void vg_optim_config_default(vg_optim_config *c)
{
    memset(c, 0, sizeof *c);
    c->kind = VG_OPT_SGD;
    c->lr = 0.01f;
    c->momentum = 0.9f;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->eps = 1e-8f;
    c->schedule = VG_LR_CONSTANT;
    c->step_size = 10;
    c->gamma = 0.1f;
}

float vg_lr_at(const vg_optim_config *c, int t)
{
    switch (c->schedule) {
    case VG_LR_STEP:
        return c->lr * powf(c->gamma, (float)(t / (c->step_size > 0 ? c->step_size : 1)));
    case VG_LR_COSINE:
        if (t < c->warmup) return c->lr * (float)(t + 1) / (float)c->warmup;
        if (c->total <= c->warmup) return c->lr;
        {
            double f = (double)(t - c->warmup) / (double)(c->total - c->warmup);
            if (f > 1) f = 1;
            return (float)(c->lr * 0.5 * (1.0 + cos(M_PI * f)));
        }
    default:
        return c->lr;
    }
}

vg_optimizer *vg_optimizer_create(vg_model *m, const vg_optim_config *cfg)
{
    if (!m || !cfg || !(cfg->lr >= 0)) return NULL;
    vg_optimizer *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->m = m;
    o->cfg = *cfg;
    o->lr = vg_lr_at(cfg, 0);
    o->m1 = calloc(m->n_arena + 1, sizeof(float));
    o->m2 = cfg->kind == VG_OPT_SGD ? NULL : calloc(m->n_arena + 1, sizeof(float));
    if (!o->m1 || (cfg->kind != VG_OPT_SGD && !o->m2)) {
        vg_optimizer_destroy(o);
        return NULL;
    }
    return o;
}

void vg_optimizer_destroy(vg_optimizer *o)
{
    if (!o) return;
    free(o->m1);
    free(o->m2);
    free(o);
}

void vg_optimizer_set_lr(vg_optimizer *o, float lr) { o->lr = lr; }

/* torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when < 1. */
static void clip_gradients(vg_model *m, float max_norm)
{
    double sq = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const nn_tensor *t = &m->tensors[i];
        if (t->is_buffer || t->frozen) continue;
        const float *g = m->grads + t->offset;
        for (size_t k = 0; k < t->count; k++) sq += (double)g[k] * g[k];
    }
    float coef = (float)(max_norm / (sqrt(sq) + 1e-6));
    if (coef >= 1.0f) return;
    for (int i = 0; i < m->n_tensors; i++) {
        const nn_tensor *t = &m->tensors[i];
        if (t->is_buffer || t->frozen) continue;
        float *g = m->grads + t->offset;
        for (size_t k = 0; k < t->count; k++) g[k] *= coef;
    }
}

/* Apply one update from m->grads. */
void nn_optimizer_step(vg_optimizer *o)
{
    vg_model *m = o->m;
    const vg_optim_config *c = &o->cfg;
    if (c->clip_norm > 0) clip_gradients(m, c->clip_norm);
    o->t++;
    const float lr = o->lr, wd = c->weight_decay;
    const double bc1 = 1.0 - pow(c->beta1, (double)o->t);
    const double bc2 = 1.0 - pow(c->beta2, (double)o->t);
    const float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    for (int i = 0; i < m->n_tensors; i++) {
        const nn_tensor *t = &m->tensors[i];
        if (t->is_buffer || t->frozen) continue;
        float *p = m->arena + t->offset, *g = m->grads + t->offset;
        float *m1 = o->m1 + t->offset, *m2 = o->m2 ? o->m2 + t->offset : NULL;
        for (size_t k = 0; k < t->count; k++) {
            float gk = g[k];
            switch (c->kind) {
            case VG_OPT_SGD:
                if (wd != 0) gk += wd * p[k];
                if (c->momentum != 0) {
                    m1[k] = o->t == 1 ? gk : c->momentum * m1[k] + gk;
                    gk = m1[k];
                }
                p[k] -= lr * gk;
                break;
            case VG_OPT_ADAM:
            case VG_OPT_ADAMW:
                if (c->kind == VG_OPT_ADAMW) p[k] *= 1.0f - lr * wd;
                else if (wd != 0) gk += wd * p[k];
                m1[k] = c->beta1 * m1[k] + (1.0f - c->beta1) * gk;
                m2[k] = c->beta2 * m2[k] + (1.0f - c->beta2) * gk * gk;
                p[k] -= step_size * m1[k] / (sqrtf(m2[k]) / bc2_sqrt + c->eps);
                break;
            }
        }
    }
}

/* Optimizer state for checkpoints: moment buffers (arena-shaped; m2 NULL for
 * SGD) and the step counter. */
void nn_optimizer_state(vg_optimizer *o, float **m1, float **m2, long **t)
{
    *m1 = o->m1;
    *m2 = o->m2;
    *t = &o->t;
}
