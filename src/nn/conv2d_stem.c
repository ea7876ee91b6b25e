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
 * AVX2 with FMA, and AVX-512 with vectors twice as wide and the same bits
 * (conv2d_stem_width.inc); other CPUs keep the lowered path
 * (conv_stem_suits says which). */
#include "layers.h"

#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#endif

/* output channels per block: SOB on AVX2, SOB512 on AVX-512, whose 32
 * registers hold them (5 µs faster on cnn's conv1 than 4, and 30 than 16):
 * accumulators, 9 input vectors, broadcasts; the widest vector, in floats */
enum { SOB = 4, SOB512 = 8, STEM_MAX_C = 4, STEM_MAX_SV = 16 };

/* a split row's length for vectors of SV floats: a vector past OW + 1, so
 * that odd[ox + 1] of the last vector stays inside */
static int split_len(const conv_shape *s, int sv) { return (s->ow + 1 + sv - 1) / sv * sv + sv; }

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

size_t conv_stem_scratch_size(const conv_shape *s) { return (size_t)s->c * 3 * 2 * split_len(s, STEM_MAX_SV); }

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#pragma GCC optimize("fp-contract=fast")
#include "vec8.h"
#define SV 8
#define VEC vec
#define VLD ld
#define VST st
#define VMAX0(v) __builtin_ia32_maxps256((v), (vec){0})
#define SSUF avx2
#define SOBW SOB
#define STEM_EVEN {0, 2, 4, 6, 8, 10, 12, 14}
#define STEM_ODD {1, 3, 5, 7, 9, 11, 13, 15}
#include "conv2d_stem_width.inc"
#pragma GCC pop_options

/* AVX-512: 16 floats a vector, the same arithmetic */
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512vl,avx2,fma")
#pragma GCC optimize("fp-contract=fast")
#include "vec16.h"
#define SV 16
#define VEC vec16
#define VLD ld16
#define VST st16
#define VMAX0(v) ((vec16)_mm512_max_ps((__m512)(v), _mm512_setzero_ps()))
#define SSUF avx512
#define SOBW SOB512
#define STEM_EVEN {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30}
#define STEM_ODD {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31}
#include "conv2d_stem_width.inc"
#pragma GCC pop_options
#endif

void forward_conv2d_stem_rows(float *y, const float *x, const float *w, const float *b, const float *epi,
                              const conv_shape *s, int oy0, int oy1, float *scratch)
{
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    /* AVX-512's kernel where its blocks fit; the same bits either way */
    if (conv_direct_isa() == CONV_ISA_AVX512 && s->oc % SOB512 == 0)
        stem_rows_avx512(y, x, w, b, epi, s, oy0, oy1, scratch);
    else stem_rows_avx2(y, x, w, b, epi, s, oy0, oy1, scratch);
#else
    (void)y, (void)x, (void)w, (void)b, (void)epi, (void)s, (void)oy0, (void)oy1, (void)scratch;
#endif
}
