/* Direct convolution for small stride-1, unpadded layers (the reference
 * project's LeNet: 3->6 and 6->16 channels, 5x5). There, im2col copies more
 * memory than the tiny GEMMs multiply, and a batch-1 call spends most of its
 * time lowering. Instead each output row is computed "full width": with
 * p = oy*W + ox over the input's width W, input element (c, oy+ki, ox+kj) is
 * x[c*H*W + ki*W + kj + p], so every kernel tap is a contiguous run of the
 * input, and columns ox >= OW are computed and dropped. */
#include "layers.h"

#include <string.h>

enum { OB = 8, PB = 32 };   /* output channels x flat positions per block */
/* the layers it takes, and the stack copies of input and weights they fit */
enum { MAX_OC = 32, MAX_K = 256, MAX_IN = 8192 };
/* Training's padded layers (conv_direct_train_suits) take their copies in a
 * caller's scratch instead. Measured on cnn training at batch 32: the direct
 * path beats im2col + GEMM for conv2's forward (16 -> 32 channels) and the
 * input gradients of conv2, conv3 and conv4 (a 32-, 64- and 128-deep GEMM
 * lowered), by 8% of a step in all; conv3's forward (32 -> 64) is even. The
 * wider layers' GEMMs run near the machine's peak. */
enum { TRAIN_MAX_K = 1152, TRAIN_MAX_OC = 64 };
typedef float v16 __attribute__((vector_size(64)));

int conv_direct_suits(const conv_shape *s)
{
    return s->sh == 1 && s->sw == 1 && s->ph == 0 && s->pw == 0 && (s->kh > 1 || s->kw > 1) &&
           s->oc <= MAX_OC && s->c * s->kh * s->kw <= MAX_K && s->c * s->h * s->w <= MAX_IN;
}

/* x[C,H,W] * w (packed: [OC/OB][C*KH*KW][OB], zero rows past OC) (+ b[OC])
 * -> y[OC,OH,OW], one sample; X is readable PB floats past its end. Compiled
 * for AVX-512 and AVX2 as well, chosen at load time (the library itself is
 * built for any x86-64); multiply-adds may fuse. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VG_CLONES __attribute__((target_clones("avx512f", "avx2", "default"), optimize("fp-contract=fast")))
#else
#define VG_CLONES
#endif
VG_CLONES
static void direct_rows(float *y, size_t ldy, const float *x, const float *wp, const float *b, const conv_shape *s,
                        int oy0, int oy1)
{
    const int W = s->w, HW = s->h * s->w, K = s->c * s->kh * s->kw, OW = s->ow;
    /* flat positions from the first row's start to the last row's last output */
    const int P0 = oy0 * W, PN = (oy1 - 1) * W + OW;
    for (int o0 = 0; o0 < s->oc; o0 += OB) {
        const int ob = s->oc - o0 < OB ? s->oc - o0 : OB;
        const float *wb = wp + (size_t)(o0 / OB) * K * OB;
        for (int p0 = P0; p0 < PN; p0 += PB) {
            v16 a[OB][2];
            for (int o = 0; o < OB; o++) {
                float bias = b && o < ob ? b[o0 + o] : 0.0f;
                a[o][0] = a[o][1] = (v16){0} + bias;
            }
            int k = 0;
            for (int c = 0; c < s->c; c++)
                for (int ki = 0; ki < s->kh; ki++) {
                    const float *xr = x + (size_t)c * HW + ki * W + p0;
                    for (int kj = 0; kj < s->kw; kj++, k++) {
                        v16 x0, x1;
                        memcpy(&x0, xr + kj, sizeof x0);
                        memcpy(&x1, xr + kj + 16, sizeof x1);
                        const float *wk = wb + (size_t)k * OB;
                        for (int o = 0; o < OB; o++) {
                            a[o][0] += wk[o] * x0;
                            a[o][1] += wk[o] * x1;
                        }
                    }
                }
            /* keep the columns that are real outputs */
            float t[OB][PB];
            memcpy(t, a, sizeof t);
            const int pb = PN - p0 < PB ? PN - p0 : PB;
            int oy = p0 / W, ox = p0 % W;
            for (int q = 0; q < pb;) {
                int run = W - ox < pb - q ? W - ox : pb - q;   /* to the row's end */
                int keep = ox < OW ? (OW - ox < run ? OW - ox : run) : 0;
                for (int o = 0; o < ob; o++)
                    memcpy(y + (size_t)(o0 + o) * ldy + (size_t)(oy - oy0) * OW + ox, &t[o][q],
                           sizeof(float) * (size_t)keep);
                q += run;
                ox += run;
                if (ox == W) { ox = 0; oy++; }
            }
        }
    }
}

/* the whole output: rows [0, OH) into y[OC,OH,OW] */
static void direct_one(float *y, const float *x, const float *wp, const float *b, const conv_shape *s)
{
    direct_rows(y, (size_t)s->oh * s->ow, x, wp, b, s, 0, s->oh);
}

/* w[OC][K] -> wp[ceil(OC/OB)][K][OB] as direct_one reads it: the OB
 * weights of one tap adjacent, zero past OC */
static void pack_weights(float *wp, const float *w, int oc, int K)
{
    for (int o0 = 0; o0 < oc; o0 += OB)
        for (int k = 0; k < K; k++)
            for (int o = 0; o < OB; o++)
                wp[((size_t)(o0 / OB) * K + k) * OB + o] = o0 + o < oc ? w[(size_t)(o0 + o) * K + k] : 0.0f;
}

void forward_conv2d_direct(float *y, const float *x, const float *w, const float *b, const conv_shape *s)
{
    /* a copy with PB floats of slack: the last block reads past the input */
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->oc * s->oh * s->ow;
    const int K = s->c * s->kh * s->kw;
    float xp[MAX_IN + PB], wp[(MAX_OC / OB) * MAX_K * OB];
    memset(xp + xs, 0, sizeof(float) * PB);
    pack_weights(wp, w, s->oc, K);
    for (int n = 0; n < s->n; n++) {
        memcpy(xp, x + n * xs, sizeof(float) * xs);
        direct_one(y + n * ys, xp, wp, b, s);
    }
}

/* ---- Training's padded stride-1 layers with few output channels (cnn's
 * conv2: 16 -> 32 channels, 3x3, padding 1, on a 64x241 grid). Lowered,
 * such a layer does little arithmetic per value that im2col and BLAS's
 * packing copy (32 multiply-adds per column element), and its input
 * gradient is a GEMM only 32 deep followed by a scatter (col2im): both ran
 * at about half the speed of the wider layers. Here the input is copied
 * once with its zero border, and direct_one runs on the copy. The input
 * gradient of a stride-1 convolution is itself one (of the output gradient,
 * padded by KH-1-PH, with the kernel flipped and its channel axes swapped),
 * so it takes the same kernel. */

int conv_direct_train_suits(const conv_shape *s)
{
    return s->sh == 1 && s->sw == 1 && (s->kh > 1 || s->kw > 1) && s->ph < s->kh && s->pw < s->kw &&
           s->oc <= TRAIN_MAX_OC && s->c * s->kh * s->kw <= TRAIN_MAX_K;
}

/* the convolution whose output is S's input gradient */
static conv_shape transposed(const conv_shape *s)
{
    conv_shape t = {.n = 1, .c = s->oc, .h = s->oh, .w = s->ow, .oc = s->c, .kh = s->kh, .kw = s->kw,
                    .sh = 1, .sw = 1, .ph = s->kh - 1 - s->ph, .pw = s->kw - 1 - s->pw};
    conv_shape_init(&t);
    return t;
}

int conv_direct_dx_suits(const conv_shape *s)
{
    if (s->sh != 1 || s->sw != 1) return 0;
    conv_shape t = transposed(s);
    return conv_direct_train_suits(&t) && t.oh == s->h && t.ow == s->w;
}

/* scratch of one padded sample: [C, H+2PH, W+2PW] + PB slack, then the
 * packed weights [ceil(OC/OB)][K][OB] */
static size_t packed_size(const conv_shape *s)
{
    return (size_t)((s->oc + OB - 1) / OB) * OB * s->c * s->kh * s->kw;
}

static size_t padded_scratch(const conv_shape *s)
{
    return (size_t)s->c * (s->h + 2 * s->ph) * (s->w + 2 * s->pw) + PB + packed_size(s);
}

/* where padded_scratch keeps the packed weights */
static float *packed_slot(float *scratch, const conv_shape *s)
{
    return scratch + padded_scratch(s) - packed_size(s);
}

static size_t dw_scratch(const conv_shape *s);

size_t conv_direct_train_scratch(const conv_shape *s)
{
    size_t a = conv_direct_train_suits(s) ? padded_scratch(s) : 0;
    if (dw_scratch(s) > a) a = dw_scratch(s);
    if (conv_direct_dx_suits(s)) {
        conv_shape t = transposed(s);
        size_t b = padded_scratch(&t);
        if (b > a) a = b;
    }
    return a;
}

/* x[C,H,W] -> xp[C, H+2PH, W+2PW] with a zero border (and PB zeros after) */
static void pad_copy(float *xp, const float *x, const conv_shape *s)
{
    const int W = s->w + 2 * s->pw, H = s->h + 2 * s->ph;
    /* each row is written once: the border's zeros, then the row */
    for (int c = 0; c < s->c; c++) {
        float *plane = xp + (size_t)c * H * W;
        memset(plane, 0, sizeof(float) * (size_t)s->ph * W);
        for (int y = 0; y < s->h; y++) {
            float *row = plane + (size_t)(y + s->ph) * W;
            memset(row, 0, sizeof(float) * (size_t)s->pw);
            memcpy(row + s->pw, x + ((size_t)c * s->h + y) * s->w, sizeof(float) * (size_t)s->w);
            memset(row + s->pw + s->w, 0, sizeof(float) * (size_t)s->pw);
        }
        memset(plane + (size_t)(s->ph + s->h) * W, 0, sizeof(float) * (size_t)s->ph * W);
    }
    memset(xp + (size_t)s->c * H * W, 0, sizeof(float) * PB);
}

/* S as an unpadded convolution of one sample's bordered copy */
static conv_shape padded_shape(const conv_shape *s)
{
    conv_shape p = *s;
    p.n = 1;
    p.h += 2 * s->ph;
    p.w += 2 * s->pw;
    p.ph = p.pw = 0;
    conv_shape_init(&p);
    return p;
}

/* S's convolution of one padded sample, weights already packed in WP */
static void direct_padded_one(float *y, const float *x, const float *wp, const float *b, const conv_shape *s,
                              float *xp)
{
    const conv_shape p = padded_shape(s);
    pad_copy(xp, x, s);
    direct_one(y, xp, wp, b, &p);
}

void forward_conv2d_direct_train(float *y, const float *x, const float *w, const float *b, const conv_shape *s,
                                 float *scratch)
{
    float *xp = scratch, *wp = packed_slot(scratch, s);
    pack_weights(wp, w, s->oc, s->c * s->kh * s->kw);
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->oc * s->oh * s->ow;
    for (int n = 0; n < s->n; n++) direct_padded_one(y + n * ys, x + n * xs, wp, b, s, xp);
}

void conv_direct_prepare(float *scratch, const float *x, const float *w, const conv_shape *s)
{
    pack_weights(packed_slot(scratch, s), w, s->oc, s->c * s->kh * s->kw);
    pad_copy(scratch, x, s);
}

void forward_conv2d_direct_rows(float *yb, size_t ldy, const float *scratch, const float *b, const conv_shape *s,
                                int oy0, int oy1)
{
    const conv_shape p = padded_shape(s);
    direct_rows(yb, ldy, scratch, packed_slot((float *)scratch, s), b, &p, oy0, oy1);
}

void backward_conv2d_direct_dx(float *dx, const float *dy, const float *w, const conv_shape *s, float *scratch)
{
    const conv_shape t = transposed(s);
    const int K = t.c * t.kh * t.kw;   /* OC*KH*KW */
    float *dyp = scratch, *wp = packed_slot(scratch, &t);
    /* w'[c][o][ki][kj] = w[o][c][KH-1-ki][KW-1-kj], packed as direct_one reads it */
    for (int c0 = 0; c0 < t.oc; c0 += OB)
        for (int o = 0; o < t.c; o++)
            for (int ki = 0; ki < t.kh; ki++)
                for (int kj = 0; kj < t.kw; kj++) {
                    const int k = (o * t.kh + ki) * t.kw + kj;
                    for (int c = 0; c < OB; c++)
                        wp[((size_t)(c0 / OB) * K + k) * OB + c] =
                            c0 + c < t.oc ? w[(((size_t)o * s->c + c0 + c) * s->kh + (s->kh - 1 - ki)) * s->kw +
                                              (s->kw - 1 - kj)]
                                          : 0.0f;
                }
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->oc * s->oh * s->ow;
    for (int n = 0; n < s->n; n++) direct_padded_one(dx + n * xs, dy + n * ys, wp, NULL, &t, dyp);
}

/* ---- The weight gradient of the same layers: dw[o][k] is the dot product
 * of output-gradient plane o with the input run of tap k, over all
 * positions. Both are contiguous over the padded input's width, as in
 * direct_one, once the output gradient is copied to that width with zeros
 * in the extra columns. Blocks of DO output channels x DK taps keep
 * DO*DK vector accumulators (24 of AVX-512's 32 registers), and each
 * accumulator's lanes add up in a fixed order: the same bits from any
 * thread. */
enum { DO = 4, DK = 6, VL = 16 };

/* dw[OC,K] += DYF[OC][LD] (positions of a padded row width, zero where
 * ox >= OW) x XP (the padded sample), the first QN positions (a multiple of
 * VL; both are readable and zero that far) */
VG_CLONES
static void direct_dw_one(float *dw, const float *dyf, size_t ld, const float *xp, const conv_shape *p, int qn)
{
    const int K = p->c * p->kh * p->kw, HW = p->h * p->w;
    for (int o0 = 0; o0 < p->oc; o0 += DO)
        for (int k0 = 0; k0 < K; k0 += DK) {
            const float *dr[DO], *xr[DK];
            for (int i = 0; i < DO; i++) dr[i] = dyf + (size_t)(o0 + i < p->oc ? o0 + i : o0) * ld;
            for (int j = 0; j < DK; j++) {
                const int k = k0 + j < K ? k0 + j : k0, c = k / (p->kh * p->kw), r = k % (p->kh * p->kw);
                xr[j] = xp + (size_t)c * HW + (r / p->kw) * p->w + r % p->kw;
            }
            v16 acc[DO][DK];
            for (int i = 0; i < DO; i++)
                for (int j = 0; j < DK; j++) acc[i][j] = (v16){0};
            for (int q = 0; q < qn; q += VL) {
                v16 d[DO];
                for (int i = 0; i < DO; i++) memcpy(&d[i], dr[i] + q, sizeof d[i]);
                for (int j = 0; j < DK; j++) {
                    v16 xv;
                    memcpy(&xv, xr[j] + q, sizeof xv);
                    for (int i = 0; i < DO; i++) acc[i][j] += d[i] * xv;
                }
            }
            for (int i = 0; i < DO && o0 + i < p->oc; i++)
                for (int j = 0; j < DK && k0 + j < K; j++) {
                    float l[VL];
                    memcpy(l, &acc[i][j], sizeof l);
                    float t = 0;
                    for (int v = 0; v < VL; v++) t += l[v];
                    dw[(size_t)(o0 + i) * K + k0 + j] += t;
                }
        }
}

/* the flat positions of a padded shape rounded up to whole vectors, and the
 * scratch of direct_dw: the padded sample, then the widened gradient */
static int dw_positions(const conv_shape *p)
{
    const int pn = (p->oh - 1) * p->w + p->ow;
    return (pn + VL - 1) / VL * VL;
}

static size_t dw_scratch(const conv_shape *s)
{
    if (!conv_direct_train_suits(s)) return 0;
    const conv_shape p = padded_shape(s);
    return (size_t)p.c * p.h * p.w + PB + (size_t)p.oc * ((size_t)p.oh * p.w + VL);
}

void backward_conv2d_direct_dw(float *dw, const float *dy, const float *x, const conv_shape *s, float *scratch)
{
    const conv_shape p = padded_shape(s);
    float *xp = scratch, *dyf = scratch + (size_t)p.c * p.h * p.w + PB;
    /* each plane VL zeros longer: the last vector of positions reads them */
    const size_t ld = (size_t)p.oh * p.w + VL;
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->oc * s->oh * s->ow;
    for (int n = 0; n < s->n; n++) {
        pad_copy(xp, x + n * xs, s);
        /* the gradient over the padded width: zeros in the extra columns
         * and past the last position, each value written once */
        for (int o = 0; o < s->oc; o++) {
            float *plane = dyf + o * ld;
            for (int y = 0; y < s->oh; y++) {
                memcpy(plane + (size_t)y * p.w, dy + n * ys + ((size_t)o * s->oh + y) * s->ow,
                       sizeof(float) * (size_t)s->ow);
                memset(plane + (size_t)y * p.w + s->ow, 0, sizeof(float) * (size_t)(p.w - s->ow));
            }
            memset(plane + (size_t)s->oh * p.w, 0, sizeof(float) * VL);
        }
        direct_dw_one(dw, dyf, ld, xp, &p, dw_positions(&p));
    }
}
