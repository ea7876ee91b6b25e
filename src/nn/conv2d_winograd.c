/* 3x3, stride-1, padding-1 convolutions by Winograd's minimal
 * filtering F(4x4, 3x3) (Lavin & Gray 2016): each 4x4 block of outputs
 * ("tile") is made from a 6x6 block of input with 36 multiplications per
 * input channel instead of 144, so cnn's conv2..conv5 need 3.9x fewer
 * multiply-adds. Per tile and channel:
 *   V = B^T d B   (input, 6x6)      U = G g G^T   (weights, 6x6, once)
 *   M[xi] = sum over channels of U[xi] V[xi], for each of the 36 points xi
 *   Y = A^T M A   (output, 4x4)
 * The 36 sums over channels are 36 small matrix products, done here by a
 * register-blocked kernel like conv2d_direct's (output channels x vectors
 * of tiles, a broadcast weight times a vector of tiles per channel).
 *
 * Inference runs every such layer this way, with its batch norm, ReLU and
 * 2x2 max-pool applied in the output transform (winograd_epilogue); training
 * runs the forward pass and, as the convolution of the output gradient by
 * the flipped, transposed weights, the input gradient (model.c). Results
 * differ from the direct sum by rounding only (in a test, 1e-5 of the
 * largest output at cnn's sizes against 2e-7 for the direct sum). Each
 * output's arithmetic is the same whatever the blocking, batch size or
 * thread count, so those still do not change the bits.
 *
 * Compiled for AVX2 with FMA, with the products and both transforms also
 * for AVX-512 (16 tiles a vector, the same bits; the arithmetic of each
 * width comes from conv2d_winograd_width.inc), and taken on every CPU with
 * AVX2 and FMA (conv_winograd_available). Measured faster than the direct
 * kernels on AMD Zen 3 (AVX2 only; session 19) and on an Intel Xeon with
 * AVX-512 (session 27: cnn batch 1 1.07 ms against 2.15 ms with the 16-wide
 * products alone, batch 64 2.2x); VOXGENDER_WINOGRAD=0 turns it off (make
 * bench compares). */
#include "layers.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Tiles come in vectors of TV. The product kernel's block is 4 output
 * channels x 3 vectors of tiles (12 accumulators of AVX2's 16 registers),
 * 4 x 2 or 8 x 1 where fewer than 3 vectors are left (4 x 1 would leave
 * the adder's pipeline half empty); output channels are padded to TOB. */
enum { TV = 8, TOB = 8, TRV = 3 };

/* 3x3, stride 1, padding 1, at least 8 channels in and out: narrower layers
 * (lenet's, the tests' small fixtures) stay on the paths they had; whether
 * Winograd would win there was not measured */
int conv_winograd_shape(const conv_shape *s)
{
    return s->kh == 3 && s->kw == 3 && s->sh == 1 && s->sw == 1 && s->ph == 1 && s->pw == 1 && s->c >= 8 &&
           s->oc >= 8;
}

/* tiles across (rounded up to whole vectors) and down */
static int tiles_w(const conv_shape *s) { return ((s->ow + 3) / 4 + TV - 1) / TV * TV; }
static int tiles_h(const conv_shape *s) { return (s->oh + 3) / 4; }
static int oc_padded(const conv_shape *s) { return (s->oc + TOB - 1) / TOB * TOB; }
/* a phase row: tiles_w + 1 tiles' worth (the 6x6 input of tile t reaches
 * phase 0 and 1 of tile t+1), rounded to whole vectors */
static int phase_len(const conv_shape *s) { return tiles_w(s) + TV; }
static int prep_rows(const conv_shape *s) { return 4 * tiles_h(s) + 2; }

size_t conv_winograd_weights_size(const conv_shape *s) { return (size_t)36 * s->c * oc_padded(s); }

size_t conv_winograd_prep_size(const conv_shape *s)
{
    return (size_t)s->c * prep_rows(s) * 4 * phase_len(s);
}

/* floats between two of V's 36 planes [C][TW] (input_transform): one cache
 * line more than a plane, so that the planes do not start a multiple of
 * 4 KB apart. For cnn's layers C x TW is 1024 floats (channels double as
 * the width halves), and the 36 stores of each transformed vector then all
 * fell into one set of the 8-way L1 cache: the transform ran 3x slower. */
static size_t plane_stride(const conv_shape *s) { return (size_t)s->c * tiles_w(s) + 16; }

size_t conv_winograd_work_size(const conv_shape *s) { return 36 * plane_stride(s); }

/* the same for a whole sample's rows of tiles, one after the other */
static size_t sample_plane_stride(const conv_shape *s) { return (size_t)s->c * tiles_w(s) * tiles_h(s) + 16; }

size_t conv_winograd_sample_work_size(const conv_shape *s) { return 36 * sample_plane_stride(s); }

int conv_winograd_by_sample(const conv_shape *s) { return tiles_w(s) == TV; }

/* u[OCp/4][36][C][4] = G g G^T for every (o, c), zero for o >= OC: what
 * one block of 4 output channels reads (tile_block) is one contiguous run,
 * which the prefetchers stream from L3 for the wide layers (conv4's and
 * conv5's transforms, 1.2 and 2.4 MB, do not fit L2); strided by OCp, it
 * took 1.7x as long there. G is 6x3:
 * rows (1/4, 0, 0), (-1/6, -1/6, -1/6), (-1/6, 1/6, -1/6),
 * (1/24, 1/12, 1/6), (1/24, -1/12, 1/6), (0, 0, 1). */
static void g_times(float out[6], const float in[3])
{
    out[0] = in[0] / 4;
    out[1] = -(in[0] + in[1] + in[2]) / 6;
    out[2] = -(in[0] - in[1] + in[2]) / 6;
    out[3] = in[0] / 24 + in[1] / 12 + in[2] / 6;
    out[4] = in[0] / 24 - in[1] / 12 + in[2] / 6;
    out[5] = in[2];
}

void conv_winograd_weights(float *u, const float *w, const conv_shape *s)
{
    const int C = s->c;
    memset(u, 0, sizeof(float) * conv_winograd_weights_size(s));
    for (int o = 0; o < s->oc; o++)
        for (int c = 0; c < C; c++) {
            const float *g = w + ((size_t)o * C + c) * 9;
            float gg[3][6], col[3], t[6];
            for (int i = 0; i < 3; i++) g_times(gg[i], g + 3 * i);   /* (g G^T) rows: gg[i][b] */
            for (int b = 0; b < 6; b++) {
                for (int i = 0; i < 3; i++) col[i] = gg[i][b];
                g_times(t, col);
                for (int a = 0; a < 6; a++) u[((size_t)(o / 4 * 36 + a * 6 + b) * C + c) * 4 + o % 4] = t[a];
            }
        }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VG_WINOGRAD 1
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#pragma GCC optimize("fp-contract=fast")

#include "vec8.h"
_Static_assert(TV == 8, "a vector of tiles is one vec8.h vector");

/* the inverse of interleave4: 32 columns in order, in[k] holding columns
 * 8k..8k+7, as their four phases p[q][t] (column 4t+q) */
static inline void deinterleave4(vec p[4], const vec in[4])
{
    typedef int32_t ivec __attribute__((vector_size(TV * sizeof(int32_t))));
    const ivec ev = {0, 4, 8, 12, 1, 5, 9, 13}, od = {2, 6, 10, 14, 3, 7, 11, 15};
    const ivec lo = {0, 1, 2, 3, 8, 9, 10, 11}, hi = {4, 5, 6, 7, 12, 13, 14, 15};
    const vec a = __builtin_shuffle(in[0], in[1], ev), b = __builtin_shuffle(in[0], in[1], od);
    const vec c = __builtin_shuffle(in[2], in[3], ev), d = __builtin_shuffle(in[2], in[3], od);
    p[0] = __builtin_shuffle(a, c, lo);
    p[1] = __builtin_shuffle(a, c, hi);
    p[2] = __builtin_shuffle(b, d, lo);
    p[3] = __builtin_shuffle(b, d, hi);
}

/* x[C,H,W] -> prep[C][4*TH+2][4][PL]: the input with its one-pixel zero
 * border, each row split into its four phases (bordered column 4t+q at
 * [q][t]), so that column j of every tile is a contiguous run of tiles.
 * Zero past the input. By 8 tiles (32 columns) at a time; the chunks that
 * reach the border go through a zeroed copy. */
static void prepare_avx2(float *prep, const float *x, const conv_shape *s, int c0, int c1, int y0, int y1)
{
    const int HP = prep_rows(s), PL = phase_len(s), W = s->w;
    for (int c = c0; c < c1; c++)
        for (int y = y0; y < y1; y++) {
            float *row = prep + ((size_t)c * HP + y) * 4 * PL;
            if (y == 0 || y > s->h) {
                memset(row, 0, sizeof(float) * 4 * (size_t)PL);
                continue;
            }
            const float *xr = x + ((size_t)c * s->h + y - 1) * W;
            for (int t = 0; t < PL; t += TV) {
                /* bordered columns 4t .. 4t+31 are x columns 4t-1 .. 4t+30 */
                const int x0 = 4 * t - 1;
                vec in[4], p[4];
                if (x0 >= 0 && x0 + 4 * TV <= W) {
                    for (int k = 0; k < 4; k++) in[k] = ld(xr + x0 + k * TV);
                } else {
                    /* masked loads: the columns inside [0, W), zero around
                     * them (a masked-out lane is not read; the address is
                     * made as an integer, since it may lie before x) */
                    typedef int32_t ivec __attribute__((vector_size(TV * sizeof(int32_t))));
                    const ivec lane = {0, 1, 2, 3, 4, 5, 6, 7};
                    for (int k = 0; k < 4; k++) {
                        const ivec col = lane + (x0 + k * TV);
                        const ivec inside = (col >= 0) & (col < W);
                        const uintptr_t at = (uintptr_t)xr + sizeof(float) * (uintptr_t)(intptr_t)(x0 + k * TV);
                        in[k] = __builtin_ia32_maskloadps256((const vec *)at, inside);
                    }
                }
                deinterleave4(p, in);
                for (int q = 0; q < 4; q++) st(row + q * PL + t, p[q]);
            }
        }
}

/* Where the transformed input of a block lies: V's 36 planes XS floats
 * apart, each holding the channels' rows of tiles CS floats apart; a row
 * holds tile rows TY0, TY0 + 1, ... one after the other, TW tiles each
 * (so that a vector of tiles never spans two tile rows). */
typedef struct {
    const float *V;
    size_t xs, cs;
    int ty0;
} tiles_in;

#define VEC vec
#define VLD ld
#define VST st
#define WSUF 8
#define WINO_MAXO TOB
#define WINO_MAXR TRV
#include "conv2d_winograd_width.inc"

/* V[36][C][TW] of tile row TY, every channel: V[a*6+b] = (B^T d B)[a][b],
 * the 36 planes XS floats apart, the channels' rows CS apart */
static void input_transform(float *V, size_t xs, size_t cs, const float *prep, const conv_shape *s, int ty)
{
    const int HP = prep_rows(s), PL = phase_len(s), TW = tiles_w(s), C = s->c;
    for (int c = 0; c < C; c++)
        for (int t = 0; t < TW; t += TV) input_vector_8(V, xs, cs, prep, HP, PL, c, ty, t);
}

/* D[36][OC][TW] of tile row TY, every channel of the output gradient
 * whose copy PREP was made with the transposed shape T (grad_vector) */
static void grad_transform(float *D, size_t xs, size_t cs, const float *prep, const conv_shape *t, int ty)
{
    const int HP = prep_rows(t), PL = phase_len(t), TW = tiles_w(t);
    for (int o = 0; o < t->c; o++)
        for (int k = 0; k < TW; k += TV) grad_vector_8(D, xs, cs, prep, HP, PL, o, ty, k);
}

/* the four phases of 8 tiles, p[q][t] (column 4t+q), as 32 columns in
 * order: out[k] holds columns 8k..8k+7 */
static inline void interleave4(vec out[4], const vec p[4])
{
    typedef int32_t ivec __attribute__((vector_size(TV * sizeof(int32_t))));
    const ivec lo = {0, 8, 1, 9, 2, 10, 3, 11}, hi = {4, 12, 5, 13, 6, 14, 7, 15};
    const ivec lo2 = {0, 1, 8, 9, 2, 3, 10, 11}, hi2 = {4, 5, 12, 13, 6, 7, 14, 15};
    const vec a = __builtin_shuffle(p[0], p[1], lo), b = __builtin_shuffle(p[0], p[1], hi);
    const vec c = __builtin_shuffle(p[2], p[3], lo), d = __builtin_shuffle(p[2], p[3], hi);
    out[0] = __builtin_shuffle(a, c, lo2);
    out[1] = __builtin_shuffle(a, c, hi2);
    out[2] = __builtin_shuffle(b, d, lo2);
    out[3] = __builtin_shuffle(b, d, hi2);
}

static inline vec vmax(vec a, vec b) { return __builtin_ia32_maxps256(a, b); }

/* The 2x2 stride-2 max of one channel's 4 output rows of 8 tiles from
 * column X0, Y[a][q][t] (row 4*TY+a, column 4t+q), into its pooled rows
 * 2*TY, 2*TY+1 at yc (pooled row OY0/2 at yc): the pairs that lie inside
 * the block's rows [OY0, OY1) and the pooled size (OH/2 x OW/2: an odd
 * last row or column is dropped, as max-pooling drops it). */
static inline void pool_store(float *yc, vec Y[4][4], const conv_shape *s, int x0, int ty, int oy0, int oy1)
{
    typedef int32_t ivec __attribute__((vector_size(TV * sizeof(int32_t))));
    const ivec lo = {0, 8, 1, 9, 2, 10, 3, 11}, hi = {4, 12, 5, 13, 6, 14, 7, 15};
    const int poh = s->oh / 2, pw = s->ow / 2, px0 = x0 / 2;
    const int cols = pw - px0 < 2 * TV ? pw - px0 : 2 * TV;
    if (cols <= 0) return;
    for (int k = 0; k < 2; k++) {
        const int py = 2 * ty + k;
        if (py >= poh || 2 * py >= oy1) break;
        vec p[4];
        for (int q = 0; q < 4; q++) p[q] = vmax(Y[2 * k][q], Y[2 * k + 1][q]);
        /* pooled column 2t from columns 4t, 4t+1; 2t+1 from 4t+2, 4t+3 */
        const vec even = vmax(p[0], p[1]), odd = vmax(p[2], p[3]);
        const vec row[2] = {__builtin_shuffle(even, odd, lo), __builtin_shuffle(even, odd, hi)};
        float *dst = yc + (size_t)(py - oy0 / 2) * pw + px0;
        if (cols == 2 * TV) {
            st(dst, row[0]);
            st(dst + TV, row[1]);
        } else
            memcpy(dst, row, sizeof(float) * cols);
    }
}

/* Output channel OC's tiles from TILE (one vector of TV; Y[a][q][t]: output
 * row 4*TY+a, column 4t+q of the tile vector's), written to output rows
 * 4*TY.. (clipped to OY1 and OH) of yb (row OY0 at yb, channel rows LDY
 * apart), columns clipped to OW, or max-pooled into them (EP->pooled) */
static inline __attribute__((always_inline)) void store_tiles(float *yb, size_t ldy, const tiles_in *in, vec Y[4][4],
                                                              const winograd_epilogue *ep, const conv_shape *s,
                                                              int oc, int tile, int oy0, int oy1)
{
    const int TW = tiles_w(s), ty = in->ty0 + tile / TW, x0 = 4 * (tile % TW);
    if (x0 >= s->ow) return;   /* tiles of the rounding only */
    if (ep && ep->pooled) {
        pool_store(yb + (size_t)oc * ldy, Y, s, x0, ty, oy0, oy1);
        return;
    }
    const int cols = s->ow - x0 < 4 * TV ? s->ow - x0 : 4 * TV;
    for (int a = 0; a < 4; a++) {
        const int oy = 4 * ty + a;
        if (oy >= oy1) break;
        /* interleave: output column 4t+q is Y[a][q][t] */
        vec row[4];
        interleave4(row, Y[a]);
        float *dst = yb + (size_t)oc * ldy + (size_t)(oy - oy0) * s->ow + x0;
        if (cols == 4 * TV)
            for (int q = 0; q < 4; q++) st(dst + q * TV, row[q]);
        else
            memcpy(dst, row, sizeof(float) * cols);
    }
}

/* Y = A^T M A + bias for OBK output channels x NV vectors of TV tiles from
 * tile column T0, and the epilogue EP (rows_avx2), stored by store_tiles.
 * M[xi][o][r], the 36 sums over channels of channel O0 + o's tile vector
 * r, is a vector of TV floats at M + xi * MXI + o * MO + r * TV. */
static inline __attribute__((always_inline)) void block_output(float *yb, size_t ldy, const tiles_in *in,
                                                               const float *M, size_t mxi, size_t mo,
                                                               const float *b, const winograd_epilogue *ep,
                                                               const conv_shape *s, int o0, int t0, int oy0, int oy1,
                                                               const int OBK, const int NV)
{
    for (int o = 0; o < OBK && o0 + o < s->oc; o++) {
        const int oc = o0 + o;
        const float bias = b ? b[oc] : 0.0f, scale = ep ? ep->ss[oc] : 1.0f, shift = ep ? ep->ss[s->oc + oc] : 0.0f;
        for (int r = 0; r < NV; r++) {
            if (4 * ((t0 + r * TV) % tiles_w(s)) >= s->ow) continue;   /* tiles of the rounding only */
            vec Y[4][4];
            output_vector_8(Y, M + o * mo + r * TV, mxi, bias, ep != NULL, scale, shift);
            store_tiles(yb, ldy, in, Y, ep, s, oc, t0 + r * TV, oy0, oy1);
        }
    }
}

/* OBK output channels x RV vectors of tiles from tile column T0: the 36
 * products over channels, then block_output */
static inline __attribute__((always_inline)) void tile_block(float *yb, size_t ldy, const tiles_in *in,
                                                             const float *u, const float *b,
                                                             const winograd_epilogue *ep, const conv_shape *s, int o0,
                                                             int t0, int oy0, int oy1, const int OBK, const int RV)
{
    enum { MB = TOB * TRV * TV };   /* the largest block */
    float M[36][MB];
    products_8(&M[0][0], MB, in, u, s->c, o0, t0, OBK, RV);
    block_output(yb, ldy, in, &M[0][0], MB, RV * TV, b, ep, s, o0, t0, oy0, oy1, OBK, RV);
}

/* Output channels [OC0, OC1) (OC0 a multiple of TOB; OC1 too, or OC) of
 * the NT tiles of IN, block by block */
static void product_blocks(float *yb, size_t ldy, const tiles_in *in, int nt, const float *u, const float *b,
                           const winograd_epilogue *ep, const conv_shape *s, int oc0, int oc1, int oy0, int oy1)
{
    for (int o0 = oc0; o0 < oc1; o0 += TOB) {
        const int second = o0 + 4 < s->oc;   /* the block's last 4 channels are not all padding */
        int t0 = 0;
        for (; t0 + TRV * TV <= nt; t0 += TRV * TV) {
            tile_block(yb, ldy, in, u, b, ep, s, o0, t0, oy0, oy1, 4, 3);
            if (second) tile_block(yb, ldy, in, u, b, ep, s, o0 + 4, t0, oy0, oy1, 4, 3);
        }
        if (nt - t0 == 2 * TV) {
            tile_block(yb, ldy, in, u, b, ep, s, o0, t0, oy0, oy1, 4, 2);
            if (second) tile_block(yb, ldy, in, u, b, ep, s, o0 + 4, t0, oy0, oy1, 4, 2);
        } else if (nt - t0 == TV)
            tile_block(yb, ldy, in, u, b, ep, s, o0, t0, oy0, oy1, 8, 1);
    }
}

/* The products on AVX-512: vectors of 16 tiles (two of TV), 8 output
 * channels x 2 such vectors (16 accumulators), or 16 channels x 1 vector
 * on a row's last 16 tiles; the last 8 take the AVX2 block. Each of the
 * 36 sums is the same chain of FMAs over the channels, in the same order,
 * as tile_block's, and the output transform the same arithmetic, so the
 * two give the same bits; only the stores (store_tiles) stay 8 tiles
 * wide. Two vectors, not three,
 * although 32 registers would hold 8 x 3 accumulators: the block's
 * 36 products (M) then take 36 KB, not 55, and stay in the 48 KB L1 cache
 * until the output transform reads them (cnn batch 1: 0.905 against 0.942
 * ms on session 27's Xeon). */
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx2,fma")
enum { TV16 = 2 * TV, RV16 = 2 };
#include "vec16.h"
_Static_assert(TV16 == 16, "a vector of 16 tiles is one vec16.h vector");

#define VEC vec16
#define VLD ld16
#define VST st16
#define WSUF 16
#define WINO_MAXO (2 * TOB)
#define WINO_MAXR RV16
#include "conv2d_winograd_width.inc"

/* block_output by vectors of 16 tiles: the transform at twice the width,
 * then each half stored as block_output stores it (its two halves may lie
 * in two rows of tiles) */
static inline __attribute__((always_inline)) void block_output16(float *yb, size_t ldy, const tiles_in *in,
                                                                 const float *M, size_t mxi, size_t mo,
                                                                 const float *b, const winograd_epilogue *ep,
                                                                 const conv_shape *s, int o0, int t0, int oy0,
                                                                 int oy1, const int OBK, const int NV16)
{
    for (int o = 0; o < OBK && o0 + o < s->oc; o++) {
        const int oc = o0 + o;
        const float bias = b ? b[oc] : 0.0f, scale = ep ? ep->ss[oc] : 1.0f, shift = ep ? ep->ss[s->oc + oc] : 0.0f;
        for (int r = 0; r < NV16; r++) {
            vec16 Y16[4][4];
            output_vector_16(Y16, M + o * mo + r * TV16, mxi, bias, ep != NULL, scale, shift);
            for (int h = 0; h < 2; h++) {
                vec Y[4][4];
                for (int a = 0; a < 4; a++)
                    for (int q = 0; q < 4; q++)
                        Y[a][q] = h ? __builtin_shufflevector(Y16[a][q], Y16[a][q], 8, 9, 10, 11, 12, 13, 14, 15)
                                    : __builtin_shufflevector(Y16[a][q], Y16[a][q], 0, 1, 2, 3, 4, 5, 6, 7);
                store_tiles(yb, ldy, in, Y, ep, s, oc, t0 + r * TV16 + h * TV, oy0, oy1);
            }
        }
    }
}

/* OBK output channels (8, or 16 with a single vector: 16 accumulators
 * instead of 8, which alone leave the FMA units waiting on each other and
 * the loads) x RV vectors of 16 tiles */
static inline __attribute__((always_inline)) void tile_block16(float *yb, size_t ldy, const tiles_in *in,
                                                               const float *u, const float *b,
                                                               const winograd_epilogue *ep, const conv_shape *s,
                                                               int o0, int t0, int oy0, int oy1, const int OBK,
                                                               const int RV)
{
    enum { MB = TOB * RV16 * TV16 };   /* the largest block: 8 x 2 or 16 x 1 vectors */
    float M[36][MB];
    products_16(&M[0][0], MB, in, u, s->c, o0, t0, OBK, RV);
    block_output16(yb, ldy, in, &M[0][0], MB, RV * TV16, b, ep, s, o0, t0, oy0, oy1, OBK, RV);
}

/* input_transform by vectors of 16 tiles (and one of 8 where TW is an odd
 * number of 8s) */
static void input_transform_avx512(float *V, size_t xs, size_t cs, const float *prep, const conv_shape *s, int ty)
{
    const int HP = prep_rows(s), PL = phase_len(s), TW = tiles_w(s), C = s->c;
    for (int c = 0; c < C; c++) {
        int t = 0;
        for (; t + TV16 <= TW; t += TV16) input_vector_16(V, xs, cs, prep, HP, PL, c, ty, t);
        if (t < TW) input_vector_8(V, xs, cs, prep, HP, PL, c, ty, t);
    }
}

static void grad_transform_avx512(float *D, size_t xs, size_t cs, const float *prep, const conv_shape *t, int ty)
{
    const int HP = prep_rows(t), PL = phase_len(t), TW = tiles_w(t);
    for (int o = 0; o < t->c; o++) {
        int k = 0;
        for (; k + TV16 <= TW; k += TV16) grad_vector_16(D, xs, cs, prep, HP, PL, o, ty, k);
        if (k < TW) grad_vector_8(D, xs, cs, prep, HP, PL, o, ty, k);
    }
}

static void product_blocks_avx512(float *yb, size_t ldy, const tiles_in *in, int nt, const float *u,
                                  const float *b, const winograd_epilogue *ep, const conv_shape *s, int oc0,
                                  int oc1, int oy0, int oy1)
{
    for (int o0 = oc0; o0 < oc1; o0 += 2 * TOB) {
        const int pair = o0 + TOB < oc1;   /* two blocks of 8 channels here */
        int t0 = 0;
        for (; t0 + RV16 * TV16 <= nt; t0 += RV16 * TV16)
            for (int k = 0; k <= pair; k++)
                tile_block16(yb, ldy, in, u, b, ep, s, o0 + k * TOB, t0, oy0, oy1, TOB, RV16);
        if (nt - t0 >= TV16) {
            if (pair)
                tile_block16(yb, ldy, in, u, b, ep, s, o0, t0, oy0, oy1, 2 * TOB, 1);
            else
                tile_block16(yb, ldy, in, u, b, ep, s, o0, t0, oy0, oy1, TOB, 1);
            t0 += TV16;
        }
        if (nt - t0 == TV)
            for (int k = 0; k <= pair; k++) tile_block(yb, ldy, in, u, b, ep, s, o0 + k * TOB, t0, oy0, oy1, 8, 1);
    }
}
#pragma GCC pop_options

/* the input transform and the products by the widest kernels this CPU
 * runs (conv_direct_isa, so that conv_direct_set_isa can choose them in a
 * test) */
static void transform_input(float *V, size_t xs, size_t cs, const float *prep, const conv_shape *s, int ty)
{
    if (conv_direct_isa() == CONV_ISA_AVX512)
        input_transform_avx512(V, xs, cs, prep, s, ty);
    else
        input_transform(V, xs, cs, prep, s, ty);
}

static void products(float *yb, size_t ldy, const tiles_in *in, int nt, const float *u, const float *b,
                     const winograd_epilogue *ep, const conv_shape *s, int oc0, int oc1, int oy0, int oy1)
{
    if (conv_direct_isa() == CONV_ISA_AVX512)
        product_blocks_avx512(yb, ldy, in, nt, u, b, ep, s, oc0, oc1, oy0, oy1);
    else
        product_blocks(yb, ldy, in, nt, u, b, ep, s, oc0, oc1, oy0, oy1);
}

static void rows_avx2(float *yb, size_t ldy, const float *prep, const float *u, const float *b,
                      const winograd_epilogue *ep, const conv_shape *s, int oy0, int oy1, float *work)
{
    const int TW = tiles_w(s);
    for (int ty = oy0 / 4; 4 * ty < oy1; ty++) {
        const tiles_in in = {work, plane_stride(s), (size_t)TW, ty};
        transform_input(work, in.xs, in.cs, prep, s, ty);
        products(yb, ldy, &in, TW, u, b, ep, s, 0, s->oc, oy0, oy1);
    }
}

static void sample_avx2(float *y, size_t ldy, const float *prep, const float *u, const float *b,
                        const winograd_epilogue *ep, const conv_shape *s, int oc0, int oc1, float *work)
{
    const int TW = tiles_w(s), TH = tiles_h(s);
    const tiles_in in = {work, sample_plane_stride(s), (size_t)TW * TH, 0};
    for (int ty = 0; ty < TH; ty++) transform_input(work + (size_t)ty * TW, in.xs, in.cs, prep, s, ty);
    products(y, ldy, &in, TW * TH, u, b, ep, s, oc0, oc1, 0, s->oh);
}
#pragma GCC pop_options
#endif

void conv_winograd_prepare_channels(float *prep, const float *x, const conv_shape *s, int c0, int c1)
{
#ifdef VG_WINOGRAD
    prepare_avx2(prep, x, s, c0, c1, 0, prep_rows(s));
#else
    (void)prep, (void)x, (void)s, (void)c0, (void)c1;
#endif
}

void conv_winograd_prepare_rows(float *prep, const float *x, const conv_shape *s, int y0, int y1)
{
    if (y1 > prep_rows(s)) y1 = prep_rows(s);
#ifdef VG_WINOGRAD
    prepare_avx2(prep, x, s, 0, s->c, y0, y1);
#else
    (void)prep, (void)x, (void)s, (void)y0, (void)y1;
#endif
}

void conv_winograd_prepare(float *prep, const float *x, const conv_shape *s)
{
    conv_winograd_prepare_channels(prep, x, s, 0, s->c);
}

/* VOXGENDER_WINOGRAD=0, read once, turns the path off; anything else
 * (1 included) leaves the default, wherever the kernels can run */
static int winograd_off;
static pthread_once_t winograd_setting_once = PTHREAD_ONCE_INIT;

static void read_winograd_setting(void)
{
    const char *v = getenv("VOXGENDER_WINOGRAD");
    winograd_off = v && !strcmp(v, "0");
}

int conv_winograd_available(void)
{
#ifdef VG_WINOGRAD
    pthread_once(&winograd_setting_once, read_winograd_setting);
    return !winograd_off && conv_direct_isa() >= CONV_ISA_AVX2;
#else
    return 0;
#endif
}

void forward_conv2d_winograd_sample(float *y, size_t ldy, const float *prep, const float *u, const float *b,
                                    const winograd_epilogue *ep, const conv_shape *s, int oc0, int oc1, float *work)
{
#ifdef VG_WINOGRAD
    sample_avx2(y, ldy, prep, u, b, ep, s, oc0, oc1, work);
#else
    (void)y, (void)ldy, (void)prep, (void)u, (void)b, (void)ep, (void)s, (void)oc0, (void)oc1, (void)work;
#endif
}

void forward_conv2d_winograd_rows(float *yb, size_t ldy, const float *prep, const float *u, const float *b,
                                  const winograd_epilogue *ep, const conv_shape *s, int oy0, int oy1, float *work)
{
#ifdef VG_WINOGRAD
    rows_avx2(yb, ldy, prep, u, b, ep, s, oy0, oy1, work);
#else
    (void)yb, (void)ldy, (void)prep, (void)u, (void)b, (void)ep, (void)s, (void)oy0, (void)oy1, (void)work;
#endif
}

void conv_winograd_tiles(const conv_shape *s, int *tw, int *th)
{
    *tw = tiles_w(s);
    *th = tiles_h(s);
}

void conv_winograd_input_tiles(float *V, size_t xs, size_t cs, const float *prep, const conv_shape *s, int ty)
{
#ifdef VG_WINOGRAD
    transform_input(V, xs, cs, prep, s, ty);
#else
    (void)V, (void)xs, (void)cs, (void)prep, (void)s, (void)ty;
#endif
}

void conv_winograd_grad_tiles(float *D, size_t xs, size_t cs, const float *prep, const conv_shape *t, int ty)
{
#ifdef VG_WINOGRAD
    if (conv_direct_isa() == CONV_ISA_AVX512)
        grad_transform_avx512(D, xs, cs, prep, t, ty);
    else
        grad_transform(D, xs, cs, prep, t, ty);
#else
    (void)D, (void)xs, (void)cs, (void)prep, (void)t, (void)ty;
#endif
}
