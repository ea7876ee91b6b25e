/* Spectrogram <-> 8-bit image conversions, including an exact reproduction
 * of the reference project's OpenCV + matplotlib image pipeline. */
#include "voxgender.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void vg_image_free(vg_image *img)
{
    if (!img) return;
    free(img->pixels);
    img->pixels = NULL;
}

static int alloc_image(vg_image *img, int w, int h, int c)
{
    img->width = w;
    img->height = h;
    img->channels = c;
    img->pixels = malloc((size_t)w * (size_t)h * (size_t)c);
    return img->pixels ? VG_OK : VG_ENOMEM;
}

int vg_spectrogram_to_image(const float *spec, int n_mels, int frames, vg_image *img)
{
    if (!spec || !img || n_mels < 1 || frames < 1) return VG_EARG;
    size_t n = (size_t)n_mels * (size_t)frames;
    float lo = spec[0], hi = spec[0];
    for (size_t i = 1; i < n; i++) {
        lo = fminf(lo, spec[i]);
        hi = fmaxf(hi, spec[i]);
    }
    if (alloc_image(img, frames, n_mels, 1)) return VG_ENOMEM;
    float scale = hi > lo ? 255.0f / (hi - lo) : 0.0f;
    for (int b = 0; b < n_mels; b++) {
        uint8_t *row = img->pixels + (size_t)(n_mels - 1 - b) * frames; /* low band at bottom */
        const float *src = spec + (size_t)b * frames;
        for (int t = 0; t < frames; t++) row[t] = (uint8_t)lrintf((src[t] - lo) * scale);
    }
    return VG_OK;
}

/* OpenCV convertScaleAbs(alpha=1, beta=0) of one float: saturate_cast<uchar>
 * of |x| rounded half-to-even; cvRound(inf/NaN) gives INT_MIN, which
 * saturates to 0 — that is why the reference's -inf rows are black. */
static uint8_t convert_scale_abs(float x)
{
    if (!isfinite(x)) return 0;
    float r = rintf(fabsf(x));
    return r > 255.0f ? 255 : (uint8_t)r;
}

/* matplotlib's 'gray' colormap as bytes: lut[i] = uint8(i * (1/255) * 255),
 * in double, truncated — 24 entries come out as i - 1. */
static uint8_t mpl_gray(int i)
{
    double v = (double)i * (1.0 / 255.0) * 255.0;
    return (uint8_t)v;
}

int vg_seed_image_from_power(const float *power, int n_mels, int frames, vg_image *img)
{
    if (!power || !img || n_mels < 1 || frames < 1) return VG_EARG;
    size_t n = (size_t)n_mels * (size_t)frames;
    uint8_t *abs8 = malloc(n);
    if (!abs8) return VG_ENOMEM;
    uint8_t lo = 255, hi = 0;
    for (size_t i = 0; i < n; i++) {
        /* log2(0) = -inf, as torch.log2 gives; convert_scale_abs maps it to 0. */
        abs8[i] = convert_scale_abs(power[i] > 0 ? log2f(power[i]) : -INFINITY);
        if (abs8[i] < lo) lo = abs8[i];
        if (abs8[i] > hi) hi = abs8[i];
    }
    if (alloc_image(img, frames, n_mels, 1)) {
        free(abs8);
        return VG_ENOMEM;
    }
    /* matplotlib Normalize works in float32 for uint8 input, then the
     * colormap takes floor(x * 256) with x == 1 mapped to 255. */
    float range = (float)hi - (float)lo;
    for (size_t i = 0; i < n; i++) {
        int idx = 0;
        if (hi != lo) {
            float x = ((float)abs8[i] - (float)lo) / range;
            x *= 256.0f;
            idx = x >= 256.0f ? 255 : (int)x;
        }
        img->pixels[i] = mpl_gray(idx);   /* row 0 = lowest band (origin 'upper') */
    }
    free(abs8);
    return VG_OK;
}

int vg_image_to_spectrogram(const vg_image *img, int low_at_top, float **out)
{
    if (!img || !img->pixels || !out || img->width < 1 || img->height < 1 ||
        (img->channels != 1 && img->channels != 3))
        return VG_EARG;
    int w = img->width, h = img->height, c = img->channels;
    float *s = malloc(sizeof(float) * (size_t)w * (size_t)h);
    if (!s) return VG_ENOMEM;
    for (int b = 0; b < h; b++) {
        int row = low_at_top ? b : h - 1 - b;
        const uint8_t *p = img->pixels + (size_t)row * w * c;
        for (int t = 0; t < w; t++) {
            float acc = 0;
            for (int k = 0; k < c; k++) acc += p[(size_t)t * c + k];
            s[(size_t)b * w + t] = acc / (float)c;
        }
    }
    *out = s;
    return VG_OK;
}
