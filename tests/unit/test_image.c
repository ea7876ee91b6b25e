/* Images and .npy files: round trips, orientation, reading the seed JPEG. */
#include "test.h"
#include "voxgender.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static vg_image gradient(int w, int h, int c)
{
    vg_image img = {w, h, c, malloc((size_t)w * h * c)};
    for (int i = 0; i < w * h * c; i++) img.pixels[i] = (uint8_t)((i * 37) ^ (i >> 3));
    return img;
}

TEST(image_png_round_trip_is_exact)
{
    for (int c = 1; c <= 3; c += 2) {
        vg_image a = gradient(301, 128, c), b = {0};
        char *p = path_join(temp_dir(), c == 1 ? "g1.png" : "g3.png");
        CHECK(vg_image_write_png(p, &a) == VG_OK);
        CHECK(vg_image_read(p, &b) == VG_OK);
        CHECK(b.width == 301 && b.height == 128 && b.channels == c);
        CHECK(b.pixels && memcmp(a.pixels, b.pixels, (size_t)301 * 128 * c) == 0);
        vg_image_free(&a);
        vg_image_free(&b);
        free(p);
    }
}

TEST(image_jpeg_round_trip_is_close)
{
    vg_image a = {64, 32, 1, malloc(64 * 32)}, b = {0};
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 64; x++) a.pixels[y * 64 + x] = (uint8_t)(x * 4);
    char *p = path_join(temp_dir(), "g.jpg");
    CHECK(vg_image_write_jpeg(p, &a, 90) == VG_OK);
    CHECK(vg_image_read(p, &b) == VG_OK);
    CHECK(b.width == 64 && b.height == 32 && b.channels == 3);   /* written as RGB */
    double err = 0;
    for (int i = 0; b.pixels && i < 64 * 32; i++) err += abs(b.pixels[i * 3] - a.pixels[i]);
    CHECKF(err / (64 * 32) < 2.0, "mean abs error %.2f", err / (64 * 32));
    vg_image_free(&a);
    vg_image_free(&b);
    free(p);
}

TEST(image_reads_seed_jpeg_like_pillow)
{
    char *fx = path_join(fixture_dir(), "frontend/seed_jpeg.txt");
    FILE *f = fopen(fx, "r");
    free(fx);
    REQUIRE(f);
    int w, h, c;
    long long sum;
    REQUIRE(fscanf(f, "%d %d %d %lld", &w, &h, &c, &sum) == 4);
    char *seed = path_join(shared_dir(), "seed/test_image_male.jpg");
    vg_image img;
    REQUIRE(vg_image_read(seed, &img) == VG_OK);
    CHECK(img.width == w && img.height == h && img.channels == c);
    long long ours = 0;
    for (size_t i = 0; i < (size_t)w * h * c; i++) ours += img.pixels[i];
    CHECKF(ours == sum, "pixel sum %lld, Pillow %lld", ours, sum);
    int v;
    for (size_t i = 0; fscanf(f, "%d", &v) == 1; i += 997)
        CHECKF(img.pixels[i] == v, "pixel %zu: %d vs %d", i, img.pixels[i], v);
    fclose(f);
    vg_image_free(&img);
    free(seed);
}

TEST(image_spectrogram_orientation_and_inverse)
{
    /* 4 bands x 3 frames; band 3 (highest) loudest. */
    float spec[12] = {0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3};
    vg_image img;
    REQUIRE(vg_spectrogram_to_image(spec, 4, 3, &img) == VG_OK);
    CHECK(img.width == 3 && img.height == 4 && img.channels == 1);
    CHECK(img.pixels[0] == 255);          /* top row = highest band */
    CHECK(img.pixels[3 * 3] == 0);        /* bottom row = lowest band */
    CHECK(img.pixels[2 * 3] == 85);       /* band 1: round(255/3) */
    float *back = NULL;
    CHECK(vg_image_to_spectrogram(&img, 0, &back) == VG_OK);
    CHECK(back && back[0] == 0.0f && back[11] == 255.0f);
    free(back);
    vg_image_free(&img);
    float flat[6] = {5, 5, 5, 5, 5, 5};
    REQUIRE(vg_spectrogram_to_image(flat, 2, 3, &img) == VG_OK);
    CHECK(img.pixels[0] == 0 && img.pixels[5] == 0);
    vg_image_free(&img);
}

TEST(image_bad_files_are_refused)
{
    vg_image img;
    char *p = path_join(temp_dir(), "not_image.png");
    FILE *f = fopen(p, "w");
    fputs("hello", f);
    fclose(f);
    CHECK(vg_image_read(p, &img) == VG_EIMAGE);
    CHECK(img.pixels == NULL);
    free(p);
    p = path_join(temp_dir(), "empty.jpg");
    fclose(fopen(p, "w"));
    CHECK(vg_image_read(p, &img) == VG_EEMPTY);
    free(p);
    /* A PNG cut in half. */
    vg_image a = gradient(100, 100, 3);
    p = path_join(temp_dir(), "cut.png");
    REQUIRE(vg_image_write_png(p, &a) == VG_OK);
    CHECK(run_cmd("truncate -s %ld %s", file_size(p) / 2, p) == 0);
    CHECK(vg_image_read(p, &img) == VG_EIMAGE);
    vg_image_free(&a);
    free(p);
    p = path_join(temp_dir(), "cut.jpg");
    a = gradient(100, 100, 3);
    REQUIRE(vg_image_write_jpeg(p, &a, 75) == VG_OK);
    CHECK(run_cmd("truncate -s 300 %s", p) == 0);
    CHECK(vg_image_read(p, &img) == VG_EIMAGE);
    vg_image_free(&a);
    free(p);
    CHECK(vg_image_read("/nonexistent.png", &img) == VG_ENOENT);
}

TEST(npy_write_reads_back)
{
    float m[6] = {1, 2, 3, 4, 5, -6.5f};
    size_t shape[2] = {2, 3};
    char *p = path_join(temp_dir(), "m.npy");
    CHECK(vg_npy_write_f32(p, m, shape, 2) == VG_OK);
    size_t got[2];
    int nd;
    float *r = npy_read_f32(p, got, &nd);
    CHECK(r && nd == 2 && got[0] == 2 && got[1] == 3 && memcmp(r, m, sizeof m) == 0);
    CHECK(file_size(p) == 128 + (long)sizeof m);   /* 64-aligned header + data */
    free(r);
    free(p);
}
