/* Batch normalisation (PyTorch BatchNorm1d/2d semantics). Per-channel sums
 * are accumulated in double: a channel can hold 30 000 values per batch. */
#include "layers.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

/* Row sums in double over 8 independent lanes: the compiler can vectorise
 * them (one double chain cannot be, without reordering the sum), and the
 * order is fixed, so results stay the same from run to run. */
enum { LANES = 8 };

/* The lane loops below are built for AVX-512 and AVX2 as well, chosen at
 * load time (the library itself is built for any x86-64), with no
 * contraction, so every build gives the same bits; their accumulators are
 * copied to locals, which stay in registers (pointer arguments may alias,
 * which kept every addition a load and a store to memory). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LANE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LANE_CLONES
#endif

static double lanes_total(const double *a)
{
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

LANE_CLONES static void add_sum(double *a, const float *p, int n)
{
    double s1[LANES];
    for (int k = 0; k < LANES; k++) s1[k] = a[k];
    int j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int k = 0; k < LANES; k++) s1[k] += p[j + k];
    for (; j < n; j++) s1[j % LANES] += p[j];
    for (int k = 0; k < LANES; k++) a[k] = s1[k];
}

/* A[k] += x, Q[k] += x*x over the 8 lanes (see add_sum) */
LANE_CLONES static void add_sum_sq(double *a, double *q, const float *p, int n)
{
    double s1[LANES], s2[LANES];
    for (int k = 0; k < LANES; k++) { s1[k] = a[k]; s2[k] = q[k]; }
    int j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int k = 0; k < LANES; k++) {
            const double v = p[j + k];
            s1[k] += v;
            s2[k] += v * v;
        }
    for (; j < n; j++) {
        const double v = p[j];
        s1[j % LANES] += v;
        s2[j % LANES] += v * v;
    }
    for (int k = 0; k < LANES; k++) { a[k] = s1[k]; q[k] = s2[k]; }
}

/* One pass over the channel's planes: the sum and the sum of squares. The
 * variance is then the mean square less the squared mean, which in double
 * loses nothing a float result shows, and the activation (the largest
 * tensors of a training step) is read once here instead of twice. */
void batchnorm_channel_stats(float *stats, float *running_mean, float *running_var,
                             const float *x, int n, int c, int hw, int ch, float eps, float momentum)
{
    const double m = (double)n * hw;
    double acc[LANES] = {0}, accq[LANES] = {0};
    for (int i = 0; i < n; i++) add_sum_sq(acc, accq, x + ((size_t)i * c + ch) * hw, hw);
    const double s = lanes_total(acc), mean = s / m;
    double sq = lanes_total(accq) - s * mean;   /* the sum of squared deviations */
    if (sq < 0) sq = 0;
    const double var = sq / m;
    stats[ch] = (float)mean;
    stats[c + ch] = (float)(1.0 / sqrt(var + eps));
    if (running_mean && running_var) {
        double unbiased = m > 1 ? sq / (m - 1) : var;
        running_mean[ch] = (float)((1.0 - momentum) * running_mean[ch] + momentum * mean);
        running_var[ch] = (float)((1.0 - momentum) * running_var[ch] + momentum * unbiased);
    }
}

/* Layers of at most this many values run on the calling thread, outside
 * OpenMP: even a region whose if clause is false goes through libgomp,
 * which here made a futex system call each time (see activations.c). */
static int bn_parallel(int n, int c, int hw) { return (long)n * c * hw > 32768; }

static void bn_train_channel(float *y, float *stats, float *running_mean, float *running_var, const float *x,
                             const float *gamma, const float *beta, int n, int c, int hw, float eps,
                             float momentum, int ch)
{
    batchnorm_channel_stats(stats, running_mean, running_var, x, n, c, hw, ch, eps, momentum);
    const float g = gamma ? gamma[ch] : 1.0f, b = beta ? beta[ch] : 0.0f;
    const float mu = stats[ch], is = stats[c + ch];
    for (int i = 0; i < n; i++) {
        size_t off = ((size_t)i * c + ch) * hw;
        for (int j = 0; j < hw; j++) y[off + j] = g * ((x[off + j] - mu) * is) + b;
    }
}

void forward_batchnorm_train(float *y, float *stats, float *running_mean, float *running_var,
                             const float *x, const float *gamma, const float *beta,
                             int n, int c, int hw, float eps, float momentum)
{
    if (!bn_parallel(n, c, hw)) {
        for (int ch = 0; ch < c; ch++)
            bn_train_channel(y, stats, running_mean, running_var, x, gamma, beta, n, c, hw, eps, momentum, ch);
        return;
    }
    /* channels are independent: parallel without changing any sum's order */
#pragma omp parallel for schedule(dynamic)
    for (int ch = 0; ch < c; ch++)
        bn_train_channel(y, stats, running_mean, running_var, x, gamma, beta, n, c, hw, eps, momentum, ch);
}

void batchnorm_eval_coefficients(float *scale, float *shift, const float *gamma, const float *beta,
                                 const float *running_mean, const float *running_var, int ch, float eps)
{
    float is = 1.0f / sqrtf(running_var[ch] + eps);
    *scale = (gamma ? gamma[ch] : 1.0f) * is;
    *shift = (beta ? beta[ch] : 0.0f) - running_mean[ch] * *scale;
}

static void bn_eval_channel(float *y, const float *x, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var, int n, int c, int hw, float eps,
                            int ch)
{
    float scale, shift;
    batchnorm_eval_coefficients(&scale, &shift, gamma, beta, running_mean, running_var, ch, eps);
    for (int i = 0; i < n; i++) {
        size_t off = ((size_t)i * c + ch) * hw;
        for (int j = 0; j < hw; j++) y[off + j] = x[off + j] * scale + shift;
    }
}

void forward_batchnorm_eval(float *y, const float *x, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var,
                            int n, int c, int hw, float eps)
{
    if (!bn_parallel(n, c, hw)) {
        for (int ch = 0; ch < c; ch++) bn_eval_channel(y, x, gamma, beta, running_mean, running_var, n, c, hw, eps, ch);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < c; ch++) bn_eval_channel(y, x, gamma, beta, running_mean, running_var, n, c, hw, eps, ch);
}

/* sum over j of p[j] * xhat[j], xhat = (x - mu) * is as the forward pass made it */
LANE_CLONES static void add_dot_xhat(double *a, const float *p, const float *x, float mu, float is, int n)
{
    double s1[LANES];
    for (int k = 0; k < LANES; k++) s1[k] = a[k];
    int j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int k = 0; k < LANES; k++) s1[k] += (double)p[j + k] * ((x[j + k] - mu) * is);
    for (; j < n; j++) s1[j % LANES] += (double)p[j] * ((x[j] - mu) * is);
    for (int k = 0; k < LANES; k++) a[k] = s1[k];
}

static void bn_grad_channel(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                            const float *stats, const float *gamma, int n, int c, int hw, int ch)
{
    const double m = (double)n * hw;
    const float mu = stats[ch], is = stats[c + ch];
    double a1[LANES] = {0}, a2[LANES] = {0};
    for (int i = 0; i < n; i++) {
        size_t off = ((size_t)i * c + ch) * hw;
        add_sum(a1, dy + off, hw);
        add_dot_xhat(a2, dy + off, x + off, mu, is, hw);
    }
    const double sdy = lanes_total(a1), sdyx = lanes_total(a2);
    if (dgamma) dgamma[ch] += (float)sdyx;
    if (dbeta) dbeta[ch] += (float)sdy;
    if (!dx) return;
    /* dx = gamma * invstd / m * (m*dy - sum(dy) - xhat * sum(dy*xhat)) */
    float k = (gamma ? gamma[ch] : 1.0f) * is;
    float mdy = (float)(sdy / m), mdyx = (float)(sdyx / m);
    for (int i = 0; i < n; i++) {
        size_t off = ((size_t)i * c + ch) * hw;
        for (int j = 0; j < hw; j++) dx[off + j] = k * (dy[off + j] - mdy - ((x[off + j] - mu) * is) * mdyx);
    }
}

void backward_batchnorm(float *dx, float *dgamma, float *dbeta, const float *dy,
                        const float *x, const float *stats, const float *gamma,
                        int n, int c, int hw)
{
    if (!bn_parallel(n, c, hw)) {
        for (int ch = 0; ch < c; ch++) bn_grad_channel(dx, dgamma, dbeta, dy, x, stats, gamma, n, c, hw, ch);
        return;
    }
#pragma omp parallel for schedule(dynamic)
    for (int ch = 0; ch < c; ch++) bn_grad_channel(dx, dgamma, dbeta, dy, x, stats, gamma, n, c, hw, ch);
}

/* ---- batch norm -> ReLU [-> 2x2/2 max-pool] in training, fused (layers.h).
 * The separate layers stream the whole activation through memory about
 * sixteen times per step (the normalised and the rectified copies written,
 * read back, their gradients written and read); fused, a channel's planes
 * are read three times and its input gradient written once. */

static inline float bn_relu(float x, float mu, float is, float g, float b)
{
    /* the batch norm's and the ReLU's own expressions, so the bits match */
    const float v = g * ((x - mu) * is) + b;
    return v > 0.0f ? v : 0.0f;
}

/* One plane: rows 2oy, 2oy+1 of relu(bn(x)) go through ROWS[2W], then
 * forward_maxpool's own 2x2 maximum and argmax. */
static void bn_relu_pool_plane(float *yp, int32_t *ap, float *pxp, const float *xp, float *rows, int h, int w,
                               float mu, float is, float g, float b)
{
    const int oh = h / 2, ow = w / 2;
    float *r0 = rows, *r1 = rows + w;
    for (int oy = 0; oy < oh; oy++) {
        const float *x0 = xp + (size_t)(2 * oy) * w, *x1 = x0 + w;
        for (int j = 0; j < w; j++) r0[j] = bn_relu(x0[j], mu, is, g, b);
        for (int j = 0; j < w; j++) r1[j] = bn_relu(x1[j], mu, is, g, b);
        maxpool_2x2_argmax_row(yp + oy * ow, ap + oy * ow, r0, r1, ow, w, 2 * oy * w);
        /* the input at each argmax, while its rows are in cache */
        for (int ox = 0; ox < ow; ox++) pxp[oy * ow + ox] = xp[ap[oy * ow + ox]];
    }
}

void forward_bn_relu_pool_train(float *relu_y, float *pool_y, int32_t *argmax, float *pool_x, float *stats,
                                float *running_mean, float *running_var, const float *x,
                                const float *gamma, const float *beta, int n, int c, int h, int w,
                                float eps, float momentum, const bn_work *work)
{
    const int hw = h * w, phw = (h / 2) * (w / 2);
    /* channels are independent, and each is one thread's: any schedule
     * gives the same bits, and a dynamic one evens out unequal cores */
#pragma omp parallel for schedule(dynamic) num_threads(work->threads)
    for (int ch = 0; ch < c; ch++) {
        batchnorm_channel_stats(stats, running_mean, running_var, x, n, c, hw, ch, eps, momentum);
        const float g = gamma ? gamma[ch] : 1.0f, b = beta ? beta[ch] : 0.0f;
        const float mu = stats[ch], is = stats[c + ch];
        float *rows = work->buf + (size_t)omp_get_thread_num() * work->stride;
        for (int i = 0; i < n; i++) {
            const size_t plane = (size_t)i * c + ch;
            const float *xp = x + plane * hw;
            if (pool_y) {
                bn_relu_pool_plane(pool_y + plane * phw, argmax + plane * phw, pool_x + plane * phw, xp, rows, h,
                                   w, mu, is, g, b);
            } else {
                float *yp = relu_y + plane * hw;
                for (int j = 0; j < hw; j++) yp[j] = bn_relu(xp[j], mu, is, g, b);
            }
        }
    }
}

/* The gradient that reaches the batch norm's output through the ReLU
 * (mask Y > 0) and, with a pool, the argmax: d, or +0 through a bit mask
 * (the compiler made "?:" a branch, mispredicted at every sign change). */
static inline float relu_passed(float d, float y)
{
    uint32_t bits;
    memcpy(&bits, &d, sizeof bits);
    bits &= -(uint32_t)(y > 0.0f);
    memcpy(&d, &bits, sizeof bits);
    return d;
}

/* The sums over one plane's pooled grid: A1 += the gradient passed through
 * the ReLU, A2 += that times xhat at the window's argmax (PXP: the input
 * there, kept by the forward pass, so that this pass reads the pooled grid
 * only and not the whole input), lane o % LANES as everywhere here. */
LANE_CLONES static void add_pooled_sums(double *a1, double *a2, const float *dyp, const float *yp,
                            const float *pxp, float mu, float is, int n)
{
    double s1[LANES], s2[LANES];
    for (int k = 0; k < LANES; k++) { s1[k] = a1[k]; s2[k] = a2[k]; }
    int o = 0;
    for (; o + LANES <= n; o += LANES)
        for (int k = 0; k < LANES; k++) {
            const float d = relu_passed(dyp[o + k], yp[o + k]);
            s1[k] += d;
            s2[k] += (double)d * ((pxp[o + k] - mu) * is);
        }
    for (; o < n; o++) {
        const float d = relu_passed(dyp[o], yp[o]);
        s1[o % LANES] += d;
        s2[o % LANES] += (double)d * ((pxp[o] - mu) * is);
    }
    for (int k = 0; k < LANES; k++) { a1[k] = s1[k]; a2[k] = s2[k]; }
}

/* One plane's input gradient, from the gradient at the group's top (pooled
 * when AP is set) and the channel's coefficients KC: k = gamma * invstd,
 * the mean gradient and the mean of gradient x xhat.
 * dx = k * (dy - mean(dy) - xhat * mean(dy * xhat)) */
static void bn_grad_plane(float *dxp, const float *dyp, const float *yp, const int32_t *ap, const float *xp,
                          float mu, float is, const float *kc, int hw, int dyhw)
{
    const float k = kc[0], mdy = kc[1], mdyx = kc[2];
    if (ap) {
        for (int j = 0; j < hw; j++) dxp[j] = k * (0.0f - mdy - ((xp[j] - mu) * is) * mdyx);
        for (int o = 0; o < dyhw; o++) {
            const int a = ap[o];
            dxp[a] = k * (relu_passed(dyp[o], yp[o]) - mdy - ((xp[a] - mu) * is) * mdyx);
        }
    } else {
        for (int j = 0; j < hw; j++)
            dxp[j] = k * (relu_passed(dyp[j], yp[j]) - mdy - ((xp[j] - mu) * is) * mdyx);
    }
}

/* With a pool, only the argmax of each window carries a gradient, and the
 * pooled value Y there is the ReLU's output: the sums and the scatter run
 * over the pooled grid, a quarter of the plane, and the rest of dx is the
 * batch norm's zero-gradient term. Without one, backward_batchnorm's sums
 * over the masked gradient, in its order (the same bits). */
void backward_bn_relu_pool(float *dx, float *dgamma, float *dbeta, float *coef, const float *dy,
                           const float *x, const float *y, const int32_t *argmax, const float *pool_x, const float *stats,
                           const float *gamma, int n, int c, int h, int w, const bn_work *work)
{
    const int hw = h * w, dyhw = argmax ? (h / 2) * (w / 2) : hw;
    const double m = (double)n * hw;
#pragma omp parallel for schedule(dynamic) num_threads(work->threads)
    for (int ch = 0; ch < c; ch++) {
        const float mu = stats[ch], is = stats[c + ch];
        const float g = gamma ? gamma[ch] : 1.0f;
        float *gp = work->buf + (size_t)omp_get_thread_num() * work->stride;
        double a1[LANES] = {0}, a2[LANES] = {0};
        for (int i = 0; i < n; i++) {
            const size_t plane = (size_t)i * c + ch;
            const float *dyp = dy + plane * dyhw, *yp = y + plane * dyhw, *xp = x + plane * hw;
            if (argmax) {
                add_pooled_sums(a1, a2, dyp, yp, pool_x + plane * dyhw, mu, is, dyhw);
            } else {
                for (int j = 0; j < hw; j++) gp[j] = relu_passed(dyp[j], yp[j]);
                add_sum(a1, gp, hw);
                add_dot_xhat(a2, gp, xp, mu, is, hw);
            }
        }
        const double sdy = lanes_total(a1), sdyx = lanes_total(a2);
        if (dgamma) dgamma[ch] += (float)sdyx;
        if (dbeta) dbeta[ch] += (float)sdy;
        const float kc[3] = {g * is, (float)(sdy / m), (float)(sdyx / m)};
        if (coef) memcpy(coef + 3 * ch, kc, sizeof kc);
        for (int i = 0; dx && i < n; i++) {
            const size_t plane = (size_t)i * c + ch;
            bn_grad_plane(dx + plane * hw, dy + plane * dyhw, y + plane * dyhw, argmax ? argmax + plane * dyhw : NULL,
                          x + plane * hw, mu, is, kc, hw, dyhw);
        }
    }
}

void bn_relu_pool_grad_sample(float *dx, const float *coef, const float *dy, const float *x, const float *y,
                              const int32_t *argmax, const float *stats, int i, int c, int h, int w)
{
    const int hw = h * w, dyhw = argmax ? (h / 2) * (w / 2) : hw;
    for (int ch = 0; ch < c; ch++) {
        const size_t plane = (size_t)i * c + ch;
        bn_grad_plane(dx + (size_t)ch * hw, dy + plane * dyhw, y + plane * dyhw,
                      argmax ? argmax + plane * dyhw : NULL, x + plane * hw, stats[ch], stats[c + ch], coef + 3 * ch,
                      hw, dyhw);
    }
}
