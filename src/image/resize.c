/* Pillow's resampling (libImaging/Resample.c) for the bilinear filter, so
 * that the seed-compatible front end gives torchvision's Resize((32, 32))
 * pixels exactly: float coefficients with antialiasing, converted to 22-bit
 * fixed point, a horizontal pass to 8 bits, then a vertical pass. */
#include "voxgender.h"

#include <stdlib.h>
#include <string.h>

#define PRECISION_BITS (32 - 8 - 2)

static double bilinear(double x)
{
    if (x < 0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Per output pixel: first input index, count, and fixed-point weights. */
static int precompute(int in_size, int out_size, int **bounds_out, int **kk_out, int *ksize_out)
{
    double scale = (double)in_size / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    int ksize = (int)support * 2 + 1 + 1;
    int *bounds = malloc(sizeof(int) * 2 * (size_t)out_size);
    double *k = malloc(sizeof(double) * (size_t)ksize);
    int *kk = calloc((size_t)out_size * ksize, sizeof(int));
    if (!bounds || !k || !kk) { free(bounds); free(k); free(kk); return VG_ENOMEM; }
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            double w = bilinear((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0.0 ? k[x] / ww : k[x];
            kk[xx * ksize + x] = v < 0 ? (int)(-0.5 + v * (1 << PRECISION_BITS))
                                       : (int)(0.5 + v * (1 << PRECISION_BITS));
        }
        bounds[2 * xx] = xmin;
        bounds[2 * xx + 1] = xmax;
    }
    free(k);
    *bounds_out = bounds;
    *kk_out = kk;
    *ksize_out = ksize;
    return VG_OK;
}

static uint8_t clip8(int v)
{
    v >>= PRECISION_BITS;
    return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

int vg_image_resize_bilinear(const vg_image *in, int width, int height, vg_image *out)
{
    if (!in || !in->pixels || !out || width < 1 || height < 1) return VG_EARG;
    const int C = in->channels;
    int *hb = NULL, *hk = NULL, *vb = NULL, *vk = NULL, hks, vks;
    uint8_t *tmp = malloc((size_t)width * in->height * C);
    out->pixels = malloc((size_t)width * height * C);
    if (!tmp || !out->pixels || precompute(in->width, width, &hb, &hk, &hks) ||
        precompute(in->height, height, &vb, &vk, &vks)) {
        free(tmp); free(out->pixels); free(hb); free(hk); free(vb); free(vk);
        out->pixels = NULL;
        return VG_ENOMEM;
    }
    /* horizontal pass: in (W x H) -> tmp (width x H) */
    for (int y = 0; y < in->height; y++)
        for (int xx = 0; xx < width; xx++)
            for (int c = 0; c < C; c++) {
                int ss = 1 << (PRECISION_BITS - 1);
                const int *k = hk + xx * hks;
                for (int x = 0; x < hb[2 * xx + 1]; x++)
                    ss += in->pixels[((size_t)y * in->width + x + hb[2 * xx]) * C + c] * k[x];
                tmp[((size_t)y * width + xx) * C + c] = clip8(ss);
            }
    /* vertical pass: tmp (width x H) -> out (width x height) */
    for (int yy = 0; yy < height; yy++)
        for (int xx = 0; xx < width; xx++)
            for (int c = 0; c < C; c++) {
                int ss = 1 << (PRECISION_BITS - 1);
                const int *k = vk + yy * vks;
                for (int y = 0; y < vb[2 * yy + 1]; y++)
                    ss += tmp[((size_t)(y + vb[2 * yy]) * width + xx) * C + c] * k[y];
                out->pixels[((size_t)yy * width + xx) * C + c] = clip8(ss);
            }
    out->width = width;
    out->height = height;
    out->channels = C;
    free(tmp); free(hb); free(hk); free(vb); free(vk);
    return VG_OK;
}
