/* Fully connected layer through sgemm. */
#include "layers.h"

#include <cblas.h>

void forward_linear(float *y, const float *x, const float *w, const float *b,
                    int n, int in, int out)
{
    /* y[N,OUT] = x[N,IN] @ w[OUT,IN]^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, w, in,
                0.0f, y, out);
    if (b)
        for (int i = 0; i < n; i++)
            for (int o = 0; o < out; o++) y[(size_t)i * out + o] += b[o];
}

void backward_linear(float *dx, float *dw, float *db, const float *dy, const float *x,
                     const float *w, int n, int in, int out)
{
    /* dw[OUT,IN] += dy[N,OUT]^T @ x[N,IN] */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, dy, out, x, in,
                1.0f, dw, in);
    if (db)
        for (int i = 0; i < n; i++)
            for (int o = 0; o < out; o++) db[o] += dy[(size_t)i * out + o];
    /* dx[N,IN] = dy[N,OUT] @ w[OUT,IN] */
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, dy, out, w, in,
                    0.0f, dx, in);
}
