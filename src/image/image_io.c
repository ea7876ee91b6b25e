/* PNG (libpng simplified API) and JPEG (libjpeg-turbo) reading and writing. */
#include "voxgender.h"
#include "../util/atomic_file.h"

#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vg_image_write_png(const char *path, const vg_image *img)
{
    if (!path || !img || !img->pixels || (img->channels != 1 && img->channels != 3))
        return VG_EARG;
    vg_atomic_file af;
    int rc = vg_atomic_open(&af, path);
    if (rc) return rc;
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = (png_uint_32)img->width;
    pi.height = (png_uint_32)img->height;
    pi.format = img->channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    if (!png_image_write_to_stdio(&pi, af.fp, 0, img->pixels, 0, NULL)) {
        png_image_free(&pi);
        vg_atomic_abort(&af);
        return VG_EIO;
    }
    return vg_atomic_commit(&af);
}

/* libjpeg reports fatal errors through error_exit, which must not return:
 * jump back to the caller instead of letting libjpeg call exit(). */
typedef struct jpeg_error {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
} jpeg_error;

static void jpeg_error_exit(j_common_ptr cinfo)
{
    jpeg_error *e = (jpeg_error *)cinfo->err;
    longjmp(e->jump, 1);
}

static void jpeg_silent(j_common_ptr cinfo, int level) { (void)cinfo; (void)level; }

int vg_image_write_jpeg(const char *path, const vg_image *img, int quality)
{
    if (!path || !img || !img->pixels || (img->channels != 1 && img->channels != 3) ||
        quality < 1 || quality > 100)
        return VG_EARG;
    vg_atomic_file af;
    int rc = vg_atomic_open(&af, path);
    if (rc) return rc;

    struct jpeg_compress_struct c;
    jpeg_error err;
    /* volatile: modified between setjmp and longjmp */
    uint8_t *volatile rgb_row = malloc((size_t)img->width * 3);
    c.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_error_exit;
    err.mgr.emit_message = jpeg_silent;
    if (!rgb_row || setjmp(err.jump)) {
        jpeg_destroy_compress(&c);
        free(rgb_row);
        vg_atomic_abort(&af);
        return rgb_row ? VG_EIO : VG_ENOMEM;
    }
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, af.fp);
    /* Always RGB, as matplotlib/Pillow write it: JPEG viewers and the
     * reference project expect 3 channels; defaults give 4:2:0 subsampling. */
    c.image_width = (JDIMENSION)img->width;
    c.image_height = (JDIMENSION)img->height;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        const uint8_t *src = img->pixels + (size_t)c.next_scanline * img->width * img->channels;
        for (int x = 0; x < img->width; x++)
            for (int k = 0; k < 3; k++)
                rgb_row[x * 3 + k] = src[x * img->channels + (img->channels == 3 ? k : 0)];
        JSAMPROW row = rgb_row;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(rgb_row);
    return vg_atomic_commit(&af);
}

static int read_png(FILE *fp, vg_image *img)
{
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_stdio(&pi, fp)) return VG_EIMAGE;
    /* Colour images stay RGB, grey images stay grey; alpha is dropped. */
    int colour = (pi.format & PNG_FORMAT_FLAG_COLOR) != 0;
    pi.format = colour ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    if (pi.width == 0 || pi.height == 0 || pi.width > 65535 || pi.height > 65535) {
        png_image_free(&pi);
        return VG_EIMAGE;
    }
    img->width = (int)pi.width;
    img->height = (int)pi.height;
    img->channels = colour ? 3 : 1;
    img->pixels = malloc(PNG_IMAGE_SIZE(pi));
    if (!img->pixels) {
        png_image_free(&pi);
        return VG_ENOMEM;
    }
    if (!png_image_finish_read(&pi, NULL, img->pixels, 0, NULL)) {
        vg_image_free(img);
        return VG_EIMAGE;
    }
    return VG_OK;
}

static int read_jpeg(FILE *fp, vg_image *img)
{
    struct jpeg_decompress_struct d;
    jpeg_error err;
    d.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_error_exit;
    err.mgr.emit_message = jpeg_silent;
    img->pixels = NULL;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&d);
        vg_image_free(img);
        return VG_EIMAGE;
    }
    jpeg_create_decompress(&d);
    jpeg_stdio_src(&d, fp);
    jpeg_read_header(&d, TRUE);
    d.out_color_space = d.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    /* Exact DCT, like Pillow's default decoder: pixel values then agree. */
    d.dct_method = JDCT_ISLOW;
    jpeg_start_decompress(&d);
    if (d.output_width > 65535 || d.output_height > 65535) longjmp(err.jump, 1);
    img->width = (int)d.output_width;
    img->height = (int)d.output_height;
    img->channels = d.output_components;
    img->pixels = malloc((size_t)img->width * img->height * img->channels);
    if (!img->pixels) longjmp(err.jump, 1);
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = img->pixels + (size_t)d.output_scanline * img->width * img->channels;
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    return VG_OK;
}

int vg_image_read(const char *path, vg_image *img)
{
    if (!path || !img) return VG_EARG;
    memset(img, 0, sizeof *img);
    FILE *fp = fopen(path, "rb");
    if (!fp) return VG_ENOENT;
    unsigned char magic[8] = {0};
    size_t got = fread(magic, 1, sizeof magic, fp);
    rewind(fp);
    int rc;
    if (got == 0)
        rc = VG_EEMPTY;
    else if (got == 8 && !png_sig_cmp(magic, 0, 8))
        rc = read_png(fp, img);
    else if (got >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF)
        rc = read_jpeg(fp, img);
    else
        rc = VG_EIMAGE;
    fclose(fp);
    return rc;
}
