/* Direct convolution for small stride-1, unpadded layers (the reference
 * project's LeNet: 3->6 and 6->16 channels, 5x5). There, im2col copies more
 * memory than the tiny GEMMs multiply, and a batch-1 call spends most of its
 * time lowering. Instead each output row is computed "full width": with
 * p = oy*W + ox over the input's width W, input element (c, oy+ki, ox+kj) is
 * x[c*H*W + ki*W + kj + p], so every kernel tap is a contiguous run of the
 * input, and columns ox >= OW are computed and dropped. */
#include "layers.h"

#include <string.h>

/* OB output channels per block (the packed weights' group); PB: the most
 * flat positions a block spans, so the slack every input copy keeps */
enum { OB = 8, PB = 32 };
/* the layers it takes, and the stack copies of input and weights they fit */
enum { MAX_OC = 32, MAX_K = 256, MAX_IN = 8192 };
/* Training's padded layers (conv_direct_train_suits) take their copies in a
 * caller's scratch instead. Measured on cnn training at batch 32: the direct
 * path beats im2col + GEMM for conv2's forward (16 -> 32 channels) and the
 * input gradients of conv2, conv3 and conv4 (a 32-, 64- and 128-deep GEMM
 * lowered), by 8% of a step in all; conv3's forward (32 -> 64) is even. The
 * wider layers' GEMMs run near the machine's peak. */
enum { TRAIN_MAX_K = 1152, TRAIN_MAX_OC = 64 };
enum { VL = 16 };   /* direct_dw_one's positions come in multiples of this (its widest DWL) */

int conv_direct_suits(const conv_shape *s)
{
    return s->sh == 1 && s->sw == 1 && s->ph == 0 && s->pw == 0 && (s->kh > 1 || s->kw > 1) &&
           s->oc <= MAX_OC && s->c * s->kh * s->kw <= MAX_K && s->c * s->h * s->w <= MAX_IN;
}

/* The kernels (conv2d_direct_kernels.inc), compiled for AVX-512, for AVX2
 * with FMA and for the baseline, each with blocks that fit its registers,
 * and chosen per call from the CPU's features (the library itself is built
 * for any x86-64). Multiply-adds may fuse: -std=c17 turns contraction off,
 * so it is turned back on here. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VG_DISPATCH 1
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#pragma GCC optimize("fp-contract=fast")
/* 32 registers: 16 accumulators forward, 24 in the weight gradient */
#define KSUF avx512
#define VLEN 16
#define OBK 8
#define RV 2
#define DO_ 4
#define DK_ 6
#define DWL 16
#include "conv2d_direct_kernels.inc"
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#pragma GCC optimize("fp-contract=fast")
/* 16 registers: 12 accumulators forward (4 x 3), 9 in the weight gradient
 * (3 x 3 of 8 lanes: 16-lane sums, two vectors each, reloaded operands
 * and ran at half the speed) */
#define KSUF avx2
#define VLEN 8
#define OBK 4
#define RV 3
#define DO_ 3
#define DK_ 3
#define DWL 8
#include "conv2d_direct_kernels.inc"
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC optimize("fp-contract=fast")
#endif

/* SSE2, 16 registers, no FMA: 8 accumulators each */
#define KSUF base
#define VLEN 4
#define OBK 4
#define RV 2
#define DO_ 2
#define DK_ 1
#define DWL 16
#include "conv2d_direct_kernels.inc"
#ifdef VG_DISPATCH
#pragma GCC pop_options
#endif

/* the kernels every call takes: the best this CPU has, or one a test forced */
static int forced_isa = CONV_ISA_AUTO;

static int cpu_has(int isa)
{
    switch (isa) {
    case CONV_ISA_BASE: return 1;
#ifdef VG_DISPATCH
    case CONV_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case CONV_ISA_AVX512: return __builtin_cpu_supports("avx512f");
#endif
    default: return 0;
    }
}

int conv_direct_set_isa(int isa)
{
    if (isa != CONV_ISA_AUTO && !cpu_has(isa)) return -1;
    forced_isa = isa;
    return 0;
}

static int call_isa(void)
{
    if (forced_isa != CONV_ISA_AUTO) return forced_isa;
    return cpu_has(CONV_ISA_AVX512) ? CONV_ISA_AVX512 : cpu_has(CONV_ISA_AVX2) ? CONV_ISA_AVX2 : CONV_ISA_BASE;
}

int conv_direct_isa(void) { return call_isa(); }

static void direct_rows(float *y, size_t ldy, const float *x, const float *wp, const float *b, const conv_shape *s,
                        int oy0, int oy1)
{
    switch (call_isa()) {
#ifdef VG_DISPATCH
    case CONV_ISA_AVX512: direct_rows_avx512(y, ldy, x, wp, b, s, oy0, oy1); return;
    case CONV_ISA_AVX2: direct_rows_avx2(y, ldy, x, wp, b, s, oy0, oy1); return;
#endif
    default: direct_rows_base(y, ldy, x, wp, b, s, oy0, oy1);
    }
}

static void direct_dw_one(float *dw, const float *dyf, size_t ld, const float *xp, const conv_shape *p, int qn)
{
    switch (call_isa()) {
#ifdef VG_DISPATCH
    case CONV_ISA_AVX512: direct_dw_one_avx512(dw, dyf, ld, xp, p, qn); return;
    case CONV_ISA_AVX2: direct_dw_one_avx2(dw, dyf, ld, xp, p, qn); return;
#endif
    default: direct_dw_one_base(dw, dyf, ld, xp, p, qn);
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

conv_shape conv_transposed(const conv_shape *s)
{
    conv_shape t = {.n = 1, .c = s->oc, .h = s->oh, .w = s->ow, .oc = s->c, .kh = s->kh, .kw = s->kw,
                    .sh = 1, .sw = 1, .ph = s->kh - 1 - s->ph, .pw = s->kw - 1 - s->pw};
    conv_shape_init(&t);
    return t;
}

int conv_direct_dx_suits(const conv_shape *s)
{
    if (s->sh != 1 || s->sw != 1) return 0;
    conv_shape t = conv_transposed(s);
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
        conv_shape t = conv_transposed(s);
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
    const conv_shape t = conv_transposed(s);
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
 * in the extra columns (direct_dw_one: blocks of output channels x taps,
 * each accumulator DWL lanes wide whose lanes add up in a fixed order, so
 * the same bits from any thread). */

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
