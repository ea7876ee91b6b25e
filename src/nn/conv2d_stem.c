/* Inference of a network's stem: a 3x3, stride-2, padding-1 convolution of
 * a few input channels (cnn's conv1: the log-mel image, 1 -> 16 channels).
 * Lowered, its 9-deep GEMM spends more time in im2col and in BLAS's
 * packing than in arithmetic; here each output row reads its three input
 * rows split into even and odd columns, so that the stride-2 taps become
 * contiguous vector loads:
 *   column 2*ox - 1 = odd[ox],  2*ox = even[ox],  2*ox + 1 = odd[ox + 1]
 * (odd[0] is the left border's zero). Inference's batch norm + ReLU is
 * applied to each vector before it is stored.
 *
 * AVX2 with FMA (also run on AVX-512 CPUs); other CPUs keep the lowered
 * path (conv_stem_suits says which). */
#include "layers.h"

#include <stdint.h>
#include <string.h>

/* output channels per block: 4 accumulators, 9 input vectors, broadcasts */
enum { SV = 8, SOB = 4, STEM_MAX_C = 4 };

/* a split row's length: a vector past OW + 1, so that odd[ox + 1] of the
 * last vector stays inside */
static int split_len(const conv_shape *s) { return (s->ow + 1 + SV - 1) / SV * SV + SV; }

int conv_stem_suits(const conv_shape *s)
{
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    const int isa = conv_direct_isa();
    return s->kh == 3 && s->kw == 3 && s->sh == 2 && s->sw == 2 && s->ph == 1 && s->pw == 1 && s->c <= STEM_MAX_C &&
           s->oc % SOB == 0 && (isa == CONV_ISA_AVX2 || isa == CONV_ISA_AVX512);
#else
    (void)s;
    return 0;
#endif
}

size_t conv_stem_scratch_size(const conv_shape *s) { return (size_t)s->c * 3 * 2 * split_len(s); }

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#pragma GCC optimize("fp-contract=fast")
#include "vec8.h"
_Static_assert(SV == 8, "a stem vector is one vec8.h vector");

/* input row IY of channel plane X (H x W), zero outside, as its even and
 * odd columns: even[i] = x[2i], odd[i] = x[2i - 1]; 16 columns at a time
 * by two shuffles, the row's end by scalars */
static void split_row(float *even, float *odd, const float *x, const conv_shape *s, int iy)
{
    typedef int32_t ivec __attribute__((vector_size(SV * sizeof(int32_t))));
    const int L = split_len(s), W = s->w;   /* in a local: see stem_rows_avx2 */
    if (iy < 0 || iy >= s->h) {
        memset(even, 0, sizeof(float) * L);
        memset(odd, 0, sizeof(float) * L);
        return;
    }
    const float *r = x + (size_t)iy * W;
    const ivec ev = {0, 2, 4, 6, 8, 10, 12, 14}, od = {1, 3, 5, 7, 9, 11, 13, 15};
    odd[0] = 0.0f;
    int i = 0;
    for (; 2 * i + 2 * SV <= W; i += SV) {
        const vec a = ld(r + 2 * i), b = ld(r + 2 * i + SV);
        const vec e = __builtin_shuffle(a, b, ev), o = __builtin_shuffle(a, b, od);   /* x[2i], x[2i + 1] */
        st(even + i, e);
        st(odd + i + 1, o);
    }
    for (; i < L; i++) {
        even[i] = 2 * i < W ? r[2 * i] : 0.0f;
        if (i + 1 < L) odd[i + 1] = 2 * i + 1 < W ? r[2 * i + 1] : 0.0f;
    }
}

/* y[OC][OH][OW] rows [OY0, OY1) of one sample x[C][H][W]; SPLIT: the
 * three split rows of every channel, [C][3][even, odd][L] (each input row
 * is split again for each of the two output rows that read it; keeping
 * split rows across a block would save that, not measured) */
static void stem_rows_avx2(float *y, const float *x, const float *w, const float *b, const float *epi,
                           const conv_shape *s, int oy0, int oy1, float *split)
{
    /* the shape's fields, and below each block's weights and epilogue
     * constants, in locals: the vector stores may alias anything (vec8.h),
     * so whatever is read through a pointer is read again after each
     * store. Read through S, W and EPI, cnn's conv1 took 160 µs on one
     * core instead of 111. */
    const int L = split_len(s), C = s->c, OW = s->ow, OC = s->oc, H = s->h, W = s->w;
    const size_t P = (size_t)s->oh * OW;
    for (int oy = oy0; oy < oy1; oy++) {
        for (int c = 0; c < C; c++)
            for (int k = 0; k < 3; k++) {
                float *e = split + ((size_t)c * 3 + k) * 2 * L;
                split_row(e, e + L, x + (size_t)c * H * W, s, 2 * oy - 1 + k);
            }
        for (int o0 = 0; o0 < OC; o0 += SOB) {
            float bias[SOB], scale[SOB], shift[SOB], g[SOB][STEM_MAX_C][9];
            for (int j = 0; j < SOB; j++) {
                bias[j] = b ? b[o0 + j] : 0.0f;
                scale[j] = epi ? epi[o0 + j] : 1.0f;
                shift[j] = epi ? epi[OC + o0 + j] : 0.0f;
                for (int c = 0; c < C; c++)
                    for (int t = 0; t < 9; t++) g[j][c][t] = w[((size_t)(o0 + j) * C + c) * 9 + t];
            }
            float *row = y + (size_t)o0 * P + (size_t)oy * OW;
            for (int ox = 0; ox < OW; ox += SV) {
                vec acc[SOB];
                for (int j = 0; j < SOB; j++) acc[j] = (vec){0};
                for (int c = 0; c < C; c++)
                    for (int k = 0; k < 3; k++) {
                        const float *e = split + ((size_t)c * 3 + k) * 2 * L, *od = e + L;
                        const vec left = ld(od + ox), mid = ld(e + ox), right = ld(od + ox + 1);
                        for (int j = 0; j < SOB; j++)
                            acc[j] += g[j][c][3 * k] * left + g[j][c][3 * k + 1] * mid + g[j][c][3 * k + 2] * right;
                    }
                const int n = OW - ox < SV ? OW - ox : SV;
                for (int j = 0; j < SOB; j++) {
                    vec v = acc[j] + bias[j];
                    if (epi) v = __builtin_ia32_maxps256(v * scale[j] + shift[j], (vec){0});
                    if (n == SV) st(row + j * P + ox, v);
                    else memcpy(row + j * P + ox, &v, sizeof(float) * n);
                }
            }
        }
    }
}
#pragma GCC pop_options
#endif

void forward_conv2d_stem_rows(float *y, const float *x, const float *w, const float *b, const float *epi,
                              const conv_shape *s, int oy0, int oy1, float *scratch)
{
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    stem_rows_avx2(y, x, w, b, epi, s, oy0, oy1, scratch);
#else
    (void)y, (void)x, (void)w, (void)b, (void)epi, (void)s, (void)oy0, (void)oy1, (void)scratch;
#endif
}
