/* Cepstral lifter along the frequency axis: every column x[:, t] of a
 * [H, W] map keeps only its K lowest DCT-II coefficients (the cepstrum's
 * low quefrencies) and goes back to H rows. On a log-mel spectrogram that
 * is the spectral envelope (formants, tilt) with the ripple of the pitch
 * harmonics smoothed away: a network behind it has to tell voices apart
 * without reading the pitch off the harmonics. With B the orthonormal
 * DCT-II basis [K, H], y = B^T B x: a symmetric projection, so the
 * backward pass is the same operation on dy. The pitch-shift augmentation
 * (src/train/augment.c) splits frames into envelope and harmonics with it. */
#include "layers.h"

#include <math.h>
#include <stddef.h>

/* y[N,C,H,W] = B^T B x over H, one [H, W] plane at a time: a[K, W] = B x,
 * then y = B^T a. Loops run along W so that they vectorise. WORK holds
 * LIFTER_WORK(h, w, k) floats: the basis, then a. */
static void project(float *y, const float *x, float *work, int n, int c, int h, int w, int k)
{
    float *b = work, *a = work + (size_t)k * h;
    /* b[q, r] = s_q cos(pi (r + 1/2) q / H), s_0 = sqrt(1/H), s_q = sqrt(2/H) */
    for (int q = 0; q < k; q++)
        for (int r = 0; r < h; r++)
            b[(size_t)q * h + r] = (float)(sqrt((q ? 2.0 : 1.0) / h) * cos(M_PI * q * (r + 0.5) / h));
    for (size_t p = 0; p < (size_t)n * c; p++) {
        const float *xp = x + p * h * w;
        float *yp = y + p * h * w;
        for (int q = 0; q < k; q++) {
            float *aq = a + (size_t)q * w;
            for (int t = 0; t < w; t++) aq[t] = 0;
            for (int r = 0; r < h; r++) {
                const float br = b[(size_t)q * h + r], *xr = xp + (size_t)r * w;
                for (int t = 0; t < w; t++) aq[t] += br * xr[t];
            }
        }
        for (int r = 0; r < h; r++) {
            float *yr = yp + (size_t)r * w;
            for (int t = 0; t < w; t++) yr[t] = 0;
            for (int q = 0; q < k; q++) {
                const float br = b[(size_t)q * h + r], *aq = a + (size_t)q * w;
                for (int t = 0; t < w; t++) yr[t] += br * aq[t];
            }
        }
    }
}

void forward_lifter(float *y, const float *x, float *work, int n, int c, int h, int w, int k)
{
    project(y, x, work, n, c, h, w, k);
}

void backward_lifter(float *dx, const float *dy, float *work, int n, int c, int h, int w, int k)
{
    project(dx, dy, work, n, c, h, w, k);
}
