/* 2-D convolution lowered to sgemm through im2col, one sample at a time
 * (the column buffer of a whole batch would not fit in cache anyway). */
#include "layers.h"

#include <cblas.h>
#include <string.h>

int conv_shape_init(conv_shape *s)
{
    if (s->kh < 1 || s->kw < 1 || s->sh < 1 || s->sw < 1 || s->ph < 0 || s->pw < 0) return -1;
    int hh = s->h + 2 * s->ph - s->kh, ww = s->w + 2 * s->pw - s->kw;
    if (hh < 0 || ww < 0) return -1;
    s->oh = hh / s->sh + 1;
    s->ow = ww / s->sw + 1;
    return 0;
}

size_t conv_col_size(const conv_shape *s)
{
    const size_t lowered = (size_t)s->c * s->kh * s->kw * (size_t)s->oh * s->ow;
    const size_t direct = conv_direct_train_scratch(s);   /* training's padded copies */
    return lowered > direct ? lowered : direct;
}

/* Inference lowers a few output rows at a time: the column buffer stays a
 * few MB (it would be C*KH*KW*OH*OW floats, 12 MB for the cnn's second
 * layer on 8 s) and in cache, with GEMMs still thousands of columns wide. */
enum { FWD_BLOCK_POSITIONS = 4096 };

static int fwd_rows(const conv_shape *s)
{
    int r = FWD_BLOCK_POSITIONS / (s->ow > 0 ? s->ow : 1);
    return r < 1 ? 1 : r > s->oh ? s->oh : r;
}

size_t conv_col_size_forward(const conv_shape *s)
{
    return (size_t)s->c * s->kh * s->kw * (size_t)fwd_rows(s) * s->ow;
}

/* x[C,H,W] rows [OY0, OY1) of the output -> col[C*KH*KW, (OY1-OY0)*OW]; zero
 * where the kernel overlaps padding. */
static void im2col_rows(float *col, const float *x, const conv_shape *s, int oy0, int oy1)
{
    const int P = (oy1 - oy0) * s->ow;
    for (int c = 0; c < s->c; c++)
        for (int ki = 0; ki < s->kh; ki++)
            for (int kj = 0; kj < s->kw; kj++) {
                float *dst = col + ((size_t)(c * s->kh + ki) * s->kw + kj) * P;
                const float *src = x + (size_t)c * s->h * s->w;
                for (int oy = oy0; oy < oy1; oy++) {
                    int iy = oy * s->sh - s->ph + ki;
                    float *d = dst + (size_t)(oy - oy0) * s->ow;
                    if (iy < 0 || iy >= s->h) {
                        memset(d, 0, sizeof(float) * (size_t)s->ow);
                        continue;
                    }
                    const float *row = src + (size_t)iy * s->w;
                    if (s->sw == 1) {
                        /* contiguous run: [ox_lo, ox_hi) maps to valid input columns */
                        int off = kj - s->pw;
                        int lo = off < 0 ? -off : 0;
                        int hi = s->w - off < s->ow ? s->w - off : s->ow;
                        if (hi < lo) hi = lo;
                        for (int ox = 0; ox < lo; ox++) d[ox] = 0;
                        memcpy(d + lo, row + lo + off, sizeof(float) * (size_t)(hi - lo));
                        for (int ox = hi; ox < s->ow; ox++) d[ox] = 0;
                    } else {
                        for (int ox = 0; ox < s->ow; ox++) {
                            int ix = ox * s->sw - s->pw + kj;
                            d[ox] = (ix >= 0 && ix < s->w) ? row[ix] : 0.0f;
                        }
                    }
                }
            }
}

/* col[C*KH*KW, (OY1-OY0)*OW], the lowering of output rows [OY0, OY1), added
 * into dx[C,H,W] (overlaps accumulate) */
static void col2im_rows(float *dx, const float *col, const conv_shape *s, int oy0, int oy1)
{
    const int P = (oy1 - oy0) * s->ow;
    for (int c = 0; c < s->c; c++)
        for (int ki = 0; ki < s->kh; ki++)
            for (int kj = 0; kj < s->kw; kj++) {
                const float *src = col + ((size_t)(c * s->kh + ki) * s->kw + kj) * P;
                float *dst = dx + (size_t)c * s->h * s->w;
                for (int oy = oy0; oy < oy1; oy++) {
                    int iy = oy * s->sh - s->ph + ki;
                    if (iy < 0 || iy >= s->h) continue;
                    float *row = dst + (size_t)iy * s->w;
                    const float *d = src + (size_t)(oy - oy0) * s->ow;
                    /* valid output columns: 0 <= ox*sw - pw + kj < w, a range
                     * computed once so the inner loop has no test and
                     * vectorises for stride 1 */
                    const int off = kj - s->pw;
                    const int lo = off < 0 ? (-off + s->sw - 1) / s->sw : 0;
                    int hi = (s->w - 1 - off) / s->sw + 1;
                    if (s->w - 1 - off < 0) hi = 0;
                    if (hi > s->ow) hi = s->ow;
                    if (s->sw == 1) {
                        for (int ox = lo; ox < hi; ox++) row[ox + off] += d[ox];
                    } else {
                        for (int ox = lo; ox < hi; ox++) row[ox * s->sw + off] += d[ox];
                    }
                }
            }
}

/* A 1x1 convolution with stride 1 and no padding needs no lowering. */
static int is_pointwise(const conv_shape *s)
{
    return s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && s->ph == 0 && s->pw == 0;
}

void forward_conv2d(float *y, const float *x, const float *w, const float *b,
                    const conv_shape *s, float *col)
{
    forward_conv2d_rows(y, x, w, b, s, col, fwd_rows(s));
}

int conv_forward_block_rows(const conv_shape *s) { return fwd_rows(s); }

void forward_conv2d_block(float *y, const float *x, const float *w, const float *b,
                          const conv_shape *s, float *col, int oy0, int oy1)
{
    forward_conv2d_block_to(y + (size_t)oy0 * s->ow, (size_t)s->oh * s->ow, x, w, b, s, col, oy0, oy1);
}

void forward_conv2d_block_to(float *yb, size_t ldy, const float *x, const float *w, const float *b,
                             const conv_shape *s, float *col, int oy0, int oy1)
{
    const int K = s->c * s->kh * s->kw, P = s->oh * s->ow, Pb = (oy1 - oy0) * s->ow;
    if (is_pointwise(s)) {
        /* yb[OC, block] = w[OC,C] @ x[C, block] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->oc, Pb, K, 1.0f, w, K,
                    x + (size_t)oy0 * s->ow, P, 0.0f, yb, (int)ldy);
    } else {
        im2col_rows(col, x, s, oy0, oy1);
        /* yb[OC, block] = w[OC,K] @ col[K, block] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->oc, Pb, K, 1.0f, w, K, col, Pb,
                    0.0f, yb, (int)ldy);
    }
    if (b)
        for (int o = 0; o < s->oc; o++) {
            float *r = yb + (size_t)o * ldy;
            for (int p = 0; p < Pb; p++) r[p] += b[o];
        }
}

void forward_conv2d_rows(float *y, const float *x, const float *w, const float *b,
                         const conv_shape *s, float *col, int rows)
{
    if (conv_direct_suits(s)) {
        forward_conv2d_direct(y, x, w, b, s);
        return;
    }
    /* a pointwise convolution lowers nothing: one GEMM per sample */
    const int R = is_pointwise(s) ? s->oh : rows < 1 ? 1 : rows;
    for (int n = 0; n < s->n; n++) {
        const float *xn = x + (size_t)n * s->c * s->h * s->w;
        float *yn = y + (size_t)n * s->oc * s->oh * s->ow;
        for (int oy0 = 0; oy0 < s->oh; oy0 += R)
            forward_conv2d_block(yn, xn, w, b, s, col, oy0, oy0 + R < s->oh ? oy0 + R : s->oh);
    }
}

/* The backward pass goes by blocks of about this many output positions:
 * the lowering, its gradient and the scatter back then stay in the 1 MB
 * L2 cache instead of streaming a sample's whole lowering (9 MB for cnn's
 * second layer) through memory twice. Measured on cnn training at batch
 * 32: blocks of 512 positions beat whole samples by about 7%, and 1024,
 * 2048 or a budget scaled by the lowering's height no better than 512. */
enum { BWD_BLOCK_POSITIONS = 512 };

static int bwd_rows(const conv_shape *s)
{
    int r = BWD_BLOCK_POSITIONS / (s->ow > 0 ? s->ow : 1);
    return r < 1 ? 1 : r > s->oh ? s->oh : r;
}

void backward_conv2d_bias(float *db, const float *dy, int oc, int p)
{
    for (int o = 0; o < oc; o++) {
        const float *r = dy + (size_t)o * p;
        float acc = 0;
        for (int j = 0; j < p; j++) acc += r[j];
        db[o] += acc;
    }
}

void backward_conv2d(float *dx, float *dw, float *db, const float *dy, const float *x,
                     const float *w, const conv_shape *s, float *col)
{
    const int K = s->c * s->kh * s->kw, P = s->oh * s->ow;
    const int R = is_pointwise(s) ? s->oh : bwd_rows(s);
    /* training's direct kernels where they suit (conv2d_direct.c) */
    const int direct_dx = dx && !is_pointwise(s) && conv_direct_dx_suits(s);
    const int direct_dw = !is_pointwise(s) && conv_direct_train_suits(s);
    for (int n = 0; n < s->n; n++) {
        const float *xn = x + (size_t)n * s->c * s->h * s->w;
        const float *dyn = dy + (size_t)n * s->oc * P;
        float *dxn = dx ? dx + (size_t)n * s->c * s->h * s->w : NULL;
        if (db) backward_conv2d_bias(db, dyn, s->oc, P);
        if (is_pointwise(s)) {
            /* dw[OC,C] += dy[OC,P] @ x[C,P]^T; dx[C,P] = w[OC,C]^T @ dy[OC,P] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->oc, K, P, 1.0f, dyn, P, xn, P,
                        1.0f, dw, K);
            if (dxn)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, P, s->oc, 1.0f, w, K, dyn, P,
                            0.0f, dxn, P);
            continue;
        }
        /* by blocks, what is lowered: the weight gradient (unless direct)
         * and the input gradient (unless direct or not wanted) */
        const int lowered_dx = dxn && !direct_dx;
        if (lowered_dx) memset(dxn, 0, sizeof(float) * (size_t)s->c * s->h * s->w);
        for (int oy0 = 0; (!direct_dw || lowered_dx) && oy0 < s->oh; oy0 += R) {
            const int oy1 = oy0 + R < s->oh ? oy0 + R : s->oh, Pb = (oy1 - oy0) * s->ow;
            const float *dyb = dyn + (size_t)oy0 * s->ow;
            if (!direct_dw) {
                im2col_rows(col, xn, s, oy0, oy1);
                /* dw[OC,K] += dy[OC,block] @ col[K,block]^T */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->oc, K, Pb, 1.0f, dyb, P, col, Pb,
                            1.0f, dw, K);
            }
            if (!lowered_dx) continue;
            /* dcol[K,block] = w[OC,K]^T @ dy[OC,block], then scatter back */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, Pb, s->oc, 1.0f, w, K, dyb, P,
                        0.0f, col, Pb);
            col2im_rows(dxn, col, s, oy0, oy1);
        }
        /* then the direct ones, on the sample (they use COL too) */
        conv_shape one = *s;
        one.n = 1;
        if (direct_dw) backward_conv2d_direct_dw(dw, dyn, xn, &one, col);
        if (direct_dx) backward_conv2d_direct_dx(dxn, dyn, w, &one, col);
    }
}
