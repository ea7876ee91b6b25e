/* Max, average and global average pooling. */
#include "layers.h"

#include <math.h>
#include <string.h>

int pool_shape_init(pool_shape *s)
{
    if (s->kh < 1 || s->kw < 1 || s->sh < 1 || s->sw < 1 || s->ph < 0 || s->pw < 0 ||
        2 * s->ph > s->kh || 2 * s->pw > s->kw || s->h + 2 * s->ph < s->kh || s->w + 2 * s->pw < s->kw)
        return -1;
    s->oh = (s->h + 2 * s->ph - s->kh) / s->sh + 1;
    s->ow = (s->w + 2 * s->pw - s->kw) / s->sw + 1;
    return 0;
}

/* Pools of at most this many input values run on the calling thread,
 * outside OpenMP: even a region whose if clause is false goes through
 * libgomp, which here made a futex system call each time (see
 * activations.c). */
enum { POOL_PARALLEL_MIN = 32768 };

/* The common 2x2 / stride 2 case, unrolled (same first-maximum rule).
 * In place (y == x) it runs in order on one thread: output i is written
 * after every input it reads and before any input at an index below i is
 * needed again, since each plane's output is smaller than its input. */
static void maxpool_2x2_plane(float *y, int32_t *argmax, const float *x, const pool_shape *s, long p)
{
    const int W = s->w, OW = s->ow, OH = s->oh;
    const float *xp = x + p * s->h * W;
    float *yp = y + p * OH * OW;
    if (!argmax) {
        maxpool_2x2_rows(yp, xp, W, OW, OH);
        return;
    }
    int32_t *ap = argmax + p * OH * OW;
    for (int oy = 0; oy < OH; oy++)
        maxpool_2x2_argmax_row(yp + oy * OW, ap + oy * OW, xp + (size_t)(2 * oy) * W,
                               xp + (size_t)(2 * oy + 1) * W, OW, W, 2 * oy * W);
}

static void maxpool_2x2(float *y, int32_t *argmax, const float *x, const pool_shape *s)
{
    const long planes = (long)s->n * s->c;
    /* small ones on the calling thread, outside OpenMP (POOL_PARALLEL_MIN) */
    if (y == x || planes * s->h * s->w <= POOL_PARALLEL_MIN) {
        for (long p = 0; p < planes; p++) maxpool_2x2_plane(y, argmax, x, s, p);
        return;
    }
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) maxpool_2x2_plane(y, argmax, x, s, p);
}

void maxpool_2x2_argmax_row(float *y, int32_t *argmax, const float *r0, const float *r1, int ow,
                            int w, int i0)
{
    for (int ox = 0; ox < ow; ox++) {
        /* selects, not branches: which of four values wins is data, and a
         * mispredicted branch per output cost more than the rest */
        const int i = i0 + 2 * ox;
        float m = r0[2 * ox];
        int best = i;
        best = r0[2 * ox + 1] > m ? i + 1 : best;
        m = r0[2 * ox + 1] > m ? r0[2 * ox + 1] : m;
        best = r1[2 * ox] > m ? i + w : best;
        m = r1[2 * ox] > m ? r1[2 * ox] : m;
        best = r1[2 * ox + 1] > m ? i + w + 1 : best;
        m = r1[2 * ox + 1] > m ? r1[2 * ox + 1] : m;
        y[ox] = m;
        argmax[ox] = best;
    }
}

void maxpool_2x2_rows(float *y, const float *x, int w, int ow, int oh)
{
    for (int oy = 0; oy < oh; oy++) {
        const float *r0 = x + (size_t)(2 * oy) * w, *r1 = r0 + w;
        float *yr = y + (size_t)oy * ow;
        for (int ox = 0; ox < ow; ox++) {
            /* the first maximum's value, as with argmax (the maximum of four
             * numbers does not depend on the order compared) */
            float a = r0[2 * ox + 1] > r0[2 * ox] ? r0[2 * ox + 1] : r0[2 * ox];
            float b = r1[2 * ox + 1] > r1[2 * ox] ? r1[2 * ox + 1] : r1[2 * ox];
            yr[ox] = b > a ? b : a;
        }
    }
}

static void maxpool_plane(float *y, int32_t *argmax, const float *x, const pool_shape *s, long p)
{
    const float *xp = x + p * s->h * s->w;
    float *yp = y + p * s->oh * s->ow;
    int32_t *ap = argmax ? argmax + p * s->oh * s->ow : NULL;
    for (int oy = 0; oy < s->oh; oy++)
        for (int ox = 0; ox < s->ow; ox++) {
            /* the window clipped to the image; PH <= KH/2 keeps it non-empty */
            const int y0 = oy * s->sh - s->ph, x0 = ox * s->sw - s->pw;
            const int i0 = y0 < 0 ? -y0 : 0, j0 = x0 < 0 ? -x0 : 0;
            const int i1 = y0 + s->kh > s->h ? s->h - y0 : s->kh;
            const int j1 = x0 + s->kw > s->w ? s->w - x0 : s->kw;
            int best = (y0 + i0) * s->w + x0 + j0;
            float m = xp[best];
            for (int i = i0; i < i1; i++)
                for (int j = j0; j < j1; j++) {
                    int idx = (y0 + i) * s->w + x0 + j;
                    if (xp[idx] > m) { m = xp[idx]; best = idx; }
                }
            yp[oy * s->ow + ox] = m;
            if (ap) ap[oy * s->ow + ox] = best;
        }
}

void forward_maxpool(float *y, int32_t *argmax, const float *x, const pool_shape *s)
{
    if (s->kh == 2 && s->kw == 2 && s->sh == 2 && s->sw == 2 && !s->ph && !s->pw) {
        maxpool_2x2(y, argmax, x, s);
        return;
    }
    const long planes = (long)s->n * s->c;
    if (planes * s->h * s->w <= POOL_PARALLEL_MIN) {
        for (long p = 0; p < planes; p++) maxpool_plane(y, argmax, x, s, p);
        return;
    }
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) maxpool_plane(y, argmax, x, s, p);
}

static void maxpool_grad_plane(float *dx, const float *dy, const int32_t *argmax, const pool_shape *s, long p)
{
    float *dxp = dx + p * s->h * s->w;
    const float *dyp = dy + p * s->oh * s->ow;
    const int32_t *ap = argmax + p * s->oh * s->ow;
    for (int i = 0; i < s->oh * s->ow; i++) dxp[ap[i]] += dyp[i];
}

void backward_maxpool(float *dx, const float *dy, const int32_t *argmax, const pool_shape *s)
{
    const long planes = (long)s->n * s->c;
    memset(dx, 0, sizeof(float) * (size_t)planes * s->h * s->w);
    if (planes * s->h * s->w <= POOL_PARALLEL_MIN) {
        for (long p = 0; p < planes; p++) maxpool_grad_plane(dx, dy, argmax, s, p);
        return;
    }
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) maxpool_grad_plane(dx, dy, argmax, s, p);
}

void forward_avgpool(float *y, const float *x, const pool_shape *s)
{
    const size_t planes = (size_t)s->n * s->c;
    const float inv = 1.0f / (float)(s->kh * s->kw);
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + p * s->h * s->w;
        float *yp = y + p * s->oh * s->ow;
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                float acc = 0;
                for (int i = 0; i < s->kh; i++)
                    for (int j = 0; j < s->kw; j++)
                        acc += xp[(oy * s->sh + i) * s->w + ox * s->sw + j];
                yp[oy * s->ow + ox] = acc * inv;
            }
    }
}

void backward_avgpool(float *dx, const float *dy, const pool_shape *s)
{
    const size_t planes = (size_t)s->n * s->c;
    const float inv = 1.0f / (float)(s->kh * s->kw);
    memset(dx, 0, sizeof(float) * planes * s->h * s->w);
    for (size_t p = 0; p < planes; p++) {
        float *dxp = dx + p * s->h * s->w;
        const float *dyp = dy + p * s->oh * s->ow;
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                float g = dyp[oy * s->ow + ox] * inv;
                for (int i = 0; i < s->kh; i++)
                    for (int j = 0; j < s->kw; j++)
                        dxp[(oy * s->sh + i) * s->w + ox * s->sw + j] += g;
            }
    }
}

void forward_global_avgpool(float *y, const float *x, int n, int c, int h, int w, int over_h)
{
    if (over_h) {
        const size_t planes = (size_t)n * c, hw = (size_t)h * w;
        for (size_t p = 0; p < planes; p++) {
            double acc = 0;
            for (size_t i = 0; i < hw; i++) acc += x[p * hw + i];
            y[p] = (float)(acc / (double)hw);
        }
    } else {
        const size_t rows = (size_t)n * c * h;
        for (size_t r = 0; r < rows; r++) {
            double acc = 0;
            for (int i = 0; i < w; i++) acc += x[r * w + i];
            y[r] = (float)(acc / w);
        }
    }
}

void backward_global_avgpool(float *dx, const float *dy, int n, int c, int h, int w, int over_h)
{
    const size_t len = over_h ? (size_t)h * w : (size_t)w;
    const size_t groups = (size_t)n * c * (over_h ? 1 : h);
    const float inv = 1.0f / (float)len;
    for (size_t g = 0; g < groups; g++) {
        float v = dy[g] * inv;
        for (size_t i = 0; i < len; i++) dx[g * len + i] = v;
    }
}

void forward_time_stats(float *y, const float *x, int n, int c, int h, int w)
{
    const size_t rows = (size_t)n * c * h;
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * w;
        double sum = 0, sq = 0;
        for (int i = 0; i < w; i++) sum += row[i];
        const double mean = sum / w;
        for (int i = 0; i < w; i++) sq += (row[i] - mean) * (row[i] - mean);   /* two passes: no cancellation */
        y[2 * r] = (float)mean;
        y[2 * r + 1] = (float)sqrt(sq / w + TIME_STATS_EPS);
    }
}

void backward_time_stats(float *dx, const float *dy, const float *x, const float *y, int n, int c,
                         int h, int w)
{
    const size_t rows = (size_t)n * c * h;
    for (size_t r = 0; r < rows; r++) {
        const float mean = y[2 * r], dm = dy[2 * r] / (float)w;
        const float ds = dy[2 * r + 1] / ((float)w * y[2 * r + 1]);
        for (int i = 0; i < w; i++) dx[r * w + i] = dm + ds * (x[r * w + i] - mean);
    }
}
