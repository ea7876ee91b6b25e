/* Element-wise and row-wise layers: ReLU, dropout, log-softmax, and the
 * softmax cross-entropy loss. */
#include "layers.h"

#include <math.h>
#include <string.h>

/* Loops this small run on the calling thread, outside OpenMP: even a
 * region whose if clause is false goes through libgomp, which here made a
 * futex system call each time (12% of lenet's batch-1 latency went to its
 * ReLU's and pool's regions). */
enum { ELEMENTWISE_PARALLEL_MIN = 65536, ELEMENTWISE_CHUNK = 16384 };

static void relu_range(float *y, const float *x, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void forward_relu(float *y, const float *x, size_t count)
{
    if (count <= ELEMENTWISE_PARALLEL_MIN) {
        relu_range(y, x, 0, count);
        return;
    }
    const size_t chunk = ELEMENTWISE_CHUNK;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < count; i += chunk) relu_range(y, x, i, i + chunk < count ? i + chunk : count);
}

static void relu_grad_range(float *dx, const float *dy, const float *y, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++) {
        /* dy is loaded unconditionally: a load inside the ?: kept the compiler
         * from vectorising, and the branch mispredicts on every sign change */
        const float g = dy[i];
        dx[i] = y[i] > 0.0f ? g : 0.0f;
    }
}

void backward_relu(float *dx, const float *dy, const float *y, size_t count)
{
    if (count <= ELEMENTWISE_PARALLEL_MIN) {
        relu_grad_range(dx, dy, y, 0, count);
        return;
    }
    const size_t chunk = ELEMENTWISE_CHUNK;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < count; i += chunk) relu_grad_range(dx, dy, y, i, i + chunk < count ? i + chunk : count);
}

void forward_dropout(float *y, float *mask, const float *x, size_t count, float p,
                     uint64_t *rng_state)
{
    const float keep = 1.0f / (1.0f - p);
    for (size_t i = 0; i < count; i++) {
        mask[i] = rng_uniform(rng_state) < p ? 0.0f : keep;
        y[i] = x[i] * mask[i];
    }
}

void backward_dropout(float *dx, const float *dy, const float *mask, size_t count)
{
    for (size_t i = 0; i < count; i++) dx[i] = dy[i] * mask[i];
}

void forward_logsoftmax(float *y, const float *x, int n, int k)
{
    for (int i = 0; i < n; i++) {
        const float *r = x + (size_t)i * k;
        float mx = r[0];
        for (int j = 1; j < k; j++) mx = fmaxf(mx, r[j]);
        double s = 0;
        for (int j = 0; j < k; j++) s += exp((double)r[j] - mx);
        float lse = mx + (float)log(s);
        for (int j = 0; j < k; j++) y[(size_t)i * k + j] = r[j] - lse;
    }
}

void backward_logsoftmax(float *dx, const float *dy, const float *y, int n, int k)
{
    for (int i = 0; i < n; i++) {
        const float *g = dy + (size_t)i * k, *o = y + (size_t)i * k;
        double s = 0;
        for (int j = 0; j < k; j++) s += g[j];
        for (int j = 0; j < k; j++) dx[(size_t)i * k + j] = g[j] - expf(o[j]) * (float)s;
    }
}

float softmax_cross_entropy(float *dlogits, float *probs, const float *logits,
                            const int *labels, const float *class_weights, int n, int k)
{
    double loss = 0, wsum = 0;
    for (int i = 0; i < n; i++) {
        const float *r = logits + (size_t)i * k;
        float mx = r[0];
        for (int j = 1; j < k; j++) mx = fmaxf(mx, r[j]);
        double s = 0;
        for (int j = 0; j < k; j++) s += exp((double)r[j] - mx);
        double lse = mx + log(s);
        double w = class_weights ? class_weights[labels[i]] : 1.0;
        loss += w * (lse - r[labels[i]]);
        wsum += w;
        for (int j = 0; j < k; j++) {
            float p = (float)exp(r[j] - lse);
            if (probs) probs[(size_t)i * k + j] = p;
            if (dlogits) dlogits[(size_t)i * k + j] = (float)w * (p - (j == labels[i]));
        }
    }
    if (wsum <= 0) wsum = 1;
    if (dlogits)
        for (size_t i = 0; i < (size_t)n * k; i++) dlogits[i] = (float)(dlogits[i] / wsum);
    return (float)(loss / wsum);
}
