/* Batch normalisation (PyTorch BatchNorm1d/2d semantics). Per-channel sums
 * are accumulated in double: a channel can hold 30 000 values per batch. */
#include "layers.h"

#include <math.h>

/* Row sums in double over 8 independent lanes: the compiler can vectorise
 * them (one double chain cannot be, without reordering the sum), and the
 * order is fixed, so results stay the same from run to run. */
enum { LANES = 8 };

static double lanes_total(const double *a)
{
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

static void add_sum(double *a, const float *p, int n)
{
    int j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int k = 0; k < LANES; k++) a[k] += p[j + k];
    for (; j < n; j++) a[j % LANES] += p[j];
}

static void add_sq_dev(double *a, const float *p, int n, double mean)
{
    int j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int k = 0; k < LANES; k++) {
            double d = p[j + k] - mean;
            a[k] += d * d;
        }
    for (; j < n; j++) {
        double d = p[j] - mean;
        a[j % LANES] += d * d;
    }
}

void forward_batchnorm_train(float *y, float *stats, float *running_mean, float *running_var,
                             const float *x, const float *gamma, const float *beta,
                             int n, int c, int hw, float eps, float momentum)
{
    const double m = (double)n * hw;
    /* channels are independent: parallel without changing any sum's order */
#pragma omp parallel for schedule(static) if ((long)n * c * hw > 32768)
    for (int ch = 0; ch < c; ch++) {
        double acc[LANES] = {0};
        for (int i = 0; i < n; i++) add_sum(acc, x + ((size_t)i * c + ch) * hw, hw);
        const double mean = lanes_total(acc) / m;
        double accq[LANES] = {0};
        for (int i = 0; i < n; i++) add_sq_dev(accq, x + ((size_t)i * c + ch) * hw, hw, mean);
        const double sq = lanes_total(accq), var = sq / m;
        float is = (float)(1.0 / sqrt(var + eps));
        float g = gamma ? gamma[ch] : 1.0f, b = beta ? beta[ch] : 0.0f, mu = (float)mean;
        stats[ch] = mu;
        stats[c + ch] = is;
        for (int i = 0; i < n; i++) {
            size_t off = ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++) y[off + j] = g * ((x[off + j] - mu) * is) + b;
        }
        if (running_mean && running_var) {
            double unbiased = m > 1 ? sq / (m - 1) : var;
            running_mean[ch] = (float)((1.0 - momentum) * running_mean[ch] + momentum * mean);
            running_var[ch] = (float)((1.0 - momentum) * running_var[ch] + momentum * unbiased);
        }
    }
}

void batchnorm_eval_coefficients(float *scale, float *shift, const float *gamma, const float *beta,
                                 const float *running_mean, const float *running_var, int ch, float eps)
{
    float is = 1.0f / sqrtf(running_var[ch] + eps);
    *scale = (gamma ? gamma[ch] : 1.0f) * is;
    *shift = (beta ? beta[ch] : 0.0f) - running_mean[ch] * *scale;
}

void forward_batchnorm_eval(float *y, const float *x, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var,
                            int n, int c, int hw, float eps)
{
#pragma omp parallel for schedule(static) if ((long)n * c * hw > 32768)
    for (int ch = 0; ch < c; ch++) {
        float scale, shift;
        batchnorm_eval_coefficients(&scale, &shift, gamma, beta, running_mean, running_var, ch, eps);
        for (int i = 0; i < n; i++) {
            size_t off = ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++) y[off + j] = x[off + j] * scale + shift;
        }
    }
}

/* sum over j of p[j] * xhat[j], xhat = (x - mu) * is as the forward pass made it */
static void add_dot_xhat(double *a, const float *p, const float *x, float mu, float is, int n)
{
    int j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int k = 0; k < LANES; k++) a[k] += (double)p[j + k] * ((x[j + k] - mu) * is);
    for (; j < n; j++) a[j % LANES] += (double)p[j] * ((x[j] - mu) * is);
}

void backward_batchnorm(float *dx, float *dgamma, float *dbeta, const float *dy,
                        const float *x, const float *stats, const float *gamma,
                        int n, int c, int hw)
{
    const double m = (double)n * hw;
#pragma omp parallel for schedule(static) if ((long)n * c * hw > 32768)
    for (int ch = 0; ch < c; ch++) {
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
        if (!dx) continue;
        /* dx = gamma * invstd / m * (m*dy - sum(dy) - xhat * sum(dy*xhat)) */
        float k = (gamma ? gamma[ch] : 1.0f) * is;
        float mdy = (float)(sdy / m), mdyx = (float)(sdyx / m);
        for (int i = 0; i < n; i++) {
            size_t off = ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++)
                dx[off + j] = k * (dy[off + j] - mdy - ((x[off + j] - mu) * is) * mdyx);
        }
    }
}
