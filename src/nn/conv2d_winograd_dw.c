/* The weight gradient of the Winograd layers (conv2d_winograd.c) by the
 * same F(4x4, 3x3) transforms, transposed. The forward pass computes each
 * 4x4 output tile as Y = A^T (U (.) V) A with U = G g G^T, V = B^T d B, so
 * the gradient of the 3x3 weights g over all tiles is
 *   dg = G^T [ sum over tiles of (A dY A^T) (.) V ] G
 * (dY the tile's 4x4 output gradient, zero past the output). The sum is 36
 * matrix products, one per point xi of the 6x6 tile:
 *   M[xi][OC][C] += D[xi][OC][tiles] . V[xi][C][tiles]^T
 * with 36 x OC x C x tiles multiply-adds, 4x fewer than the direct sum's
 * 9 x OC x C x 16 x tiles. They run through sgemm on a buffer of the
 * transformed tiles, filled row of tiles by row of tiles and emptied when
 * full. The sums of every (output, input) channel pair are turned into its
 * 3x3 gradient once, after the caller has added up its chunks' sums, in
 * double.
 *
 * The sums' order is fixed by the samples' order (the buffer is emptied
 * at the same tiles whichever thread runs the chunk), so a chunk's sums
 * are the same bits on any thread count. They differ from the direct
 * sum's by rounding only (a test compares them at cnn's sizes). */
#include "layers.h"

#include <cblas.h>
#include <string.h>

/* Tiles buffered before the products, at least a row of them: for cnn
 * one row (conv2's 64 tiles) to four (conv5's, two samples). On cnn
 * training at batch 32, up to 128 measured alike, 256 and 512 5% slower
 * and 1024 10% (docs/engine-performance.md: "The weight gradient by Winograd too"). */
enum { DW_TILES = 32 };

/* (output, input) channel pairs the final transform takes at a time */
enum { DW_PAIRS = 32 };

static int buffer_tiles(const conv_shape *s)
{
    int tw, th;
    conv_winograd_tiles(s, &tw, &th);
    const int rows = DW_TILES / tw;
    return (rows < 1 ? 1 : rows) * tw;
}

/* floats between two of the buffers' 36 planes of ROWS rows: a cache line
 * more than the plane, so that the planes do not start a multiple of 4 KB
 * apart (see conv2d_winograd.c's plane_stride) */
static size_t plane(const conv_shape *s, int rows) { return (size_t)rows * buffer_tiles(s) + 16; }

size_t conv_winograd_dw_sums_size(const conv_shape *s) { return (size_t)36 * s->oc * s->c; }

size_t conv_winograd_dw_work_size(const conv_shape *s)
{
    return conv_winograd_prep_size(s) + 36 * (plane(s, s->c) + plane(s, s->oc));
}

void conv_winograd_dw_begin(winograd_dw *w, float *sums, float *work, const conv_shape *s)
{
    w->s = *s;
    w->t = conv_transposed(s);
    w->M = sums;
    w->prep = work;
    w->V = work + conv_winograd_prep_size(s);
    w->vxs = plane(s, s->c);
    w->dxs = plane(s, s->oc);
    w->D = w->V + 36 * w->vxs;
    w->cap = buffer_tiles(s);
    w->k = 0;
    memset(sums, 0, sizeof(float) * conv_winograd_dw_sums_size(s));
}

/* M[xi] += D[xi][OC][k] V[xi][C][k]^T for the K buffered tiles */
static void empty_buffer(winograd_dw *w)
{
    const conv_shape *s = &w->s;
    if (!w->k) return;
    const size_t mxs = (size_t)s->oc * s->c;
    for (int xi = 0; xi < 36; xi++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->oc, s->c, w->k, 1.0f, w->D + xi * w->dxs, w->cap,
                    w->V + xi * w->vxs, w->cap, 1.0f, w->M + xi * mxs, s->c);
    w->k = 0;
}

void conv_winograd_dw_add(winograd_dw *w, const float *x, const float *dy_prep)
{
    const conv_shape *s = &w->s;
    int tw, th;
    conv_winograd_tiles(s, &tw, &th);
    conv_winograd_prepare(w->prep, x, s);
    for (int ty = 0; ty < th; ty++) {
        if (w->k + tw > w->cap) empty_buffer(w);
        conv_winograd_input_tiles(w->V + w->k, w->vxs, (size_t)w->cap, w->prep, s, ty);
        conv_winograd_grad_tiles(w->D + w->k, w->dxs, (size_t)w->cap, dy_prep, &w->t, ty);
        w->k += tw;
    }
}

void conv_winograd_dw_finish(winograd_dw *w) { empty_buffer(w); }

/* out[k] = sum over a of G[a][k] in[a], G^T times a 6-vector (G's rows in
 * conv2d_winograd.c's g_times), for N (o, c) pairs at once */
static void gt_times(double out[3][DW_PAIRS], double in[6][DW_PAIRS], int n)
{
    for (int j = 0; j < n; j++) {
        out[0][j] = in[0][j] * 0.25 - (in[1][j] + in[2][j]) * (1.0 / 6) + (in[3][j] + in[4][j]) * (1.0 / 24);
        out[1][j] = (in[2][j] - in[1][j]) * (1.0 / 6) + (in[3][j] - in[4][j]) * (1.0 / 12);
        out[2][j] = -(in[1][j] + in[2][j]) * (1.0 / 6) + (in[3][j] + in[4][j]) * (1.0 / 6) + in[5][j];
    }
}

void conv_winograd_dw_gradient(float *dw, const float *sums, const conv_shape *s, size_t p0, size_t p1)
{
    const size_t mxs = (size_t)s->oc * s->c;
    for (size_t p = p0; p < p1; p += DW_PAIRS) {
        const int n = p1 - p < DW_PAIRS ? (int)(p1 - p) : DW_PAIRS;
        /* dg[ky][kx] = sum over a, b of G[a][ky] M[a][b] G[b][kx], for the
         * pairs p.. side by side: each plane of M is read in runs */
        double r[6][3][DW_PAIRS];   /* r[a][kx] = (M G)[a][kx] */
        for (int a = 0; a < 6; a++) {
            double m[6][DW_PAIRS];
            for (int b = 0; b < 6; b++)
                for (int j = 0; j < n; j++) m[b][j] = sums[(size_t)(a * 6 + b) * mxs + p + j];
            gt_times(r[a], m, n);
        }
        for (int kx = 0; kx < 3; kx++) {
            double col[6][DW_PAIRS], g[3][DW_PAIRS];
            for (int a = 0; a < 6; a++) memcpy(col[a], r[a][kx], sizeof(double) * (size_t)n);
            gt_times(g, col, n);
            for (int j = 0; j < n; j++)
                for (int ky = 0; ky < 3; ky++) dw[(p + j) * 9 + ky * 3 + kx] += (float)g[ky][j];
        }
    }
}
