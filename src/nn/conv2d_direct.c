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
static void direct_one(float *y, const float *x, const float *wp, const float *b, const conv_shape *s)
{
    const int W = s->w, HW = s->h * s->w, K = s->c * s->kh * s->kw, OW = s->ow, OHW = s->oh * s->ow;
    const int PN = (s->oh - 1) * W + OW;   /* flat positions up to the last output */
    for (int o0 = 0; o0 < s->oc; o0 += OB) {
        const int ob = s->oc - o0 < OB ? s->oc - o0 : OB;
        const float *wb = wp + (size_t)(o0 / OB) * K * OB;
        for (int p0 = 0; p0 < PN; p0 += PB) {
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
                    memcpy(y + (size_t)(o0 + o) * OHW + oy * OW + ox, &t[o][q], sizeof(float) * (size_t)keep);
                q += run;
                ox += run;
                if (ox == W) { ox = 0; oy++; }
            }
        }
    }
}

void forward_conv2d_direct(float *y, const float *x, const float *w, const float *b, const conv_shape *s)
{
    /* a copy with PB floats of slack: the last block reads past the input */
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->oc * s->oh * s->ow;
    const int K = s->c * s->kh * s->kw;
    float xp[MAX_IN + PB], wp[(MAX_OC / OB) * MAX_K * OB];
    memset(xp + xs, 0, sizeof(float) * PB);
    /* weights as [OC/OB][K][OB]: the OB weights of one tap are adjacent */
    for (int o0 = 0; o0 < s->oc; o0 += OB)
        for (int k = 0; k < K; k++)
            for (int o = 0; o < OB; o++)
                wp[((size_t)(o0 / OB) * K + k) * OB + o] = o0 + o < s->oc ? w[(size_t)(o0 + o) * K + k] : 0.0f;
    for (int n = 0; n < s->n; n++) {
        memcpy(xp, x + n * xs, sizeof(float) * xs);
        direct_one(y + n * ys, xp, wp, b, s);
    }
}
