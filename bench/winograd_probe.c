/* Would Winograd convolutions meet issue 3's cnn batch-1 latency target?
 * A measurement, not part of the library: cnn's four 3x3 stride-1 layers
 * (conv2..conv5 of a 6 s clip) at batch 1 on 2 threads, as Winograd
 * F(2x2,3x3) (16 GEMMs of OC x C x tiles per layer) against the library's
 * own convolution (im2col + GEMM by blocks of output rows). Prints each layer's time, the Winograd
 * phases (input transform, GEMMs, output transform) and the largest
 * difference between the two outputs.
 * Usage: OPENBLAS_CORETYPE=SkylakeX build/winograd_probe */
#include "../src/nn/layers.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct { int c, oc, h, w; } layer;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The library's own batch-1 convolution, as a model pass runs it on 2
 * threads: blocks of output rows, each lowered (im2col) and multiplied by
 * one GEMM (forward_conv2d_block); col holds conv_col_size_forward floats
 * per thread. */
static void conv_library(float *y, const float *x, const float *w, const conv_shape *s, float *col)
{
    int rows = (s->oh + 1) / 2;
    if (rows > conv_forward_block_rows(s)) rows = conv_forward_block_rows(s);
    const int blocks = (s->oh + rows - 1) / rows;
#pragma omp parallel for schedule(dynamic) num_threads(2)
    for (int j = 0; j < blocks; j++) {
        const int oy0 = j * rows, oy1 = oy0 + rows < s->oh ? oy0 + rows : s->oh;
        forward_conv2d_block(y, x, w, NULL, s,
                             col + (size_t)omp_get_thread_num() * conv_col_size_forward(s), oy0, oy1);
    }
}

/* U[16][OC][C] = G g G^T for every 3x3 filter g */
static void winograd_weights(float *U, const float *w, layer s)
{
    for (int o = 0; o < s.oc; o++)
        for (int c = 0; c < s.c; c++) {
            const float *g = w + ((size_t)o * s.c + c) * 9;
            float t[4][3];
            for (int j = 0; j < 3; j++) {
                t[0][j] = g[j];
                t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
                t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
                t[3][j] = g[6 + j];
            }
            for (int i = 0; i < 4; i++) {
                const float u[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]),
                                    0.5f * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
                for (int j = 0; j < 4; j++) U[((size_t)(i * 4 + j) * s.oc + o) * s.c + c] = u[j];
            }
        }
}

/* F(2x2,3x3): V = B^T d B per 4x4 input tile, M[e] = U[e] @ V[e] (16
 * GEMMs), y = A^T m A per 2x2 output tile. ph accumulates the phases. */
static void conv_winograd(float *y, const float *x, const float *U, layer s, float *V, float *M, double ph[3])
{
    const int th = (s.h + 1) / 2, tw = (s.w + 1) / 2, T = th * tw;
    double t0 = now();
#pragma omp parallel num_threads(2)
    {
#pragma omp for schedule(static)
        for (int c = 0; c < s.c; c++)
            for (int ty = 0; ty < th; ty++)
                for (int tx = 0; tx < tw; tx++) {
                    float d[4][4], r[4][4];
                    for (int i = 0; i < 4; i++)
                        for (int j = 0; j < 4; j++) {
                            const int iy = 2 * ty - 1 + i, ix = 2 * tx - 1 + j;
                            d[i][j] = iy < 0 || iy >= s.h || ix < 0 || ix >= s.w ? 0
                                      : x[((size_t)c * s.h + iy) * s.w + ix];
                        }
                    for (int j = 0; j < 4; j++) {
                        r[0][j] = d[0][j] - d[2][j];
                        r[1][j] = d[1][j] + d[2][j];
                        r[2][j] = d[2][j] - d[1][j];
                        r[3][j] = d[1][j] - d[3][j];
                    }
                    const size_t p = (size_t)ty * tw + tx;
                    for (int i = 0; i < 4; i++) {
                        const float v[4] = {r[i][0] - r[i][2], r[i][1] + r[i][2], r[i][2] - r[i][1], r[i][1] - r[i][3]};
                        for (int j = 0; j < 4; j++) V[((size_t)(i * 4 + j) * s.c + c) * T + p] = v[j];
                    }
                }
#pragma omp single
        { ph[0] += now() - t0; t0 = now(); }
#pragma omp for schedule(static)
        for (int e = 0; e < 16; e++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.oc, T, s.c, 1, U + (size_t)e * s.oc * s.c,
                        s.c, V + (size_t)e * s.c * T, T, 0, M + (size_t)e * s.oc * T, T);
#pragma omp single
        { ph[1] += now() - t0; t0 = now(); }
#pragma omp for schedule(static)
        for (int o = 0; o < s.oc; o++)
            for (int ty = 0; ty < th; ty++)
                for (int tx = 0; tx < tw; tx++) {
                    const size_t p = (size_t)ty * tw + tx;
                    float m[4][4], r[2][4];
                    for (int e = 0; e < 16; e++) m[e / 4][e % 4] = M[((size_t)e * s.oc + o) * T + p];
                    for (int j = 0; j < 4; j++) {
                        r[0][j] = m[0][j] + m[1][j] + m[2][j];
                        r[1][j] = m[1][j] - m[2][j] - m[3][j];
                    }
                    for (int i = 0; i < 2 && 2 * ty + i < s.h; i++) {
                        float *row = y + ((size_t)o * s.h + 2 * ty + i) * s.w;
                        row[2 * tx] = r[i][0] + r[i][1] + r[i][2];
                        if (2 * tx + 1 < s.w) row[2 * tx + 1] = r[i][1] - r[i][2] - r[i][3];
                    }
                }
    }
    ph[2] += now() - t0;
}

int main(void)
{
    openblas_set_num_threads(1);   /* the threads are OpenMP's, as in the library */
    const layer L[4] = {{16, 32, 64, 241}, {32, 64, 32, 120}, {64, 128, 16, 60}, {128, 128, 8, 30}};
    const int runs = 300;
    double total_ref = 0, total_win = 0, total_gemm = 0;
    for (int l = 0; l < 4; l++) {
        const layer s = L[l];
        const size_t nx = (size_t)s.c * s.h * s.w, ny = (size_t)s.oc * s.h * s.w, nw = (size_t)s.oc * s.c * 9;
        const size_t T = (size_t)((s.h + 1) / 2) * ((s.w + 1) / 2);
        float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * nw);
        float *y1 = malloc(sizeof(float) * ny), *y2 = malloc(sizeof(float) * ny);
        conv_shape cs = {.n = 1, .c = s.c, .h = s.h, .w = s.w, .oc = s.oc, .kh = 3, .kw = 3,
                         .sh = 1, .sw = 1, .ph = 1, .pw = 1};
        conv_shape_init(&cs);
        float *col = malloc(sizeof(float) * 2 * conv_col_size_forward(&cs));
        float *U = malloc(sizeof(float) * 16 * s.oc * s.c), *V = malloc(sizeof(float) * 16 * s.c * T),
              *M = malloc(sizeof(float) * 16 * s.oc * T);
        if (!x || !w || !y1 || !y2 || !col || !U || !V || !M) return 1;
        for (size_t i = 0; i < nx; i++) x[i] = sinf(0.01f * (float)i);
        for (size_t i = 0; i < nw; i++) w[i] = 0.1f * cosf(0.7f * (float)i);
        winograd_weights(U, w, s);
        double best_ref = 1e9, best_win = 1e9, ph[3] = {0, 0, 0};
        for (int r = 0; r < runs; r++) {
            double t = now();
            conv_library(y1, x, w, &cs, col);
            if ((t = now() - t) < best_ref) best_ref = t;
            t = now();
            conv_winograd(y2, x, U, s, V, M, ph);
            if ((t = now() - t) < best_win) best_win = t;
        }
        double err = 0, big = 0;
        for (size_t i = 0; i < ny; i++) { err = fmax(err, fabs(y1[i] - y2[i])); big = fmax(big, fabs(y1[i])); }
        printf("conv%d %3d->%3d on %3dx%3d: library %.3f ms, winograd %.3f ms (transform in %.3f, "
               "GEMMs %.3f, transform out %.3f; mean), max |diff| %.1e of %.2g\n",
               l + 2, s.c, s.oc, s.h, s.w, best_ref * 1e3, best_win * 1e3, ph[0] / runs * 1e3,
               ph[1] / runs * 1e3, ph[2] / runs * 1e3, err, big);
        total_ref += best_ref; total_win += best_win; total_gemm += ph[1] / runs;
        free(x); free(w); free(y1); free(y2); free(col); free(U); free(V); free(M);
    }
    printf("conv2..conv5: library %.3f ms, winograd %.3f ms, of which its GEMMs alone %.3f ms\n",
           total_ref * 1e3, total_win * 1e3, total_gemm * 1e3);
    return 0;
}
