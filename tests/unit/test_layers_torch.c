/* Every layer against PyTorch (tests/ref/make_nn_ref.py): forward output,
 * input gradient and parameter gradients within 1e-4 relative + 1e-5 absolute. */
#include "../../src/nn/layers.h"
#include "st_read.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define X86_GCC 1   /* the direct kernels have SIMD variants (conv2d_direct.c) */
#else
#define X86_GCC 0
#endif

static float *zeros(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

static void conv_case(const char *file, int kh, int kw, int sh, int sw, int ph, int pw, int bias)
{
    st_file *f = st_open(file);
    REQUIRE(f);
    int xs[4], ws[4];
    st_shape(f, "x", xs, 4);
    st_shape(f, "weight", ws, 4);
    conv_shape s = {.n = xs[0], .c = xs[1], .h = xs[2], .w = xs[3], .oc = ws[0], .kh = kh,
                    .kw = kw, .sh = sh, .sw = sw, .ph = ph, .pw = pw};
    REQUIRE(conv_shape_init(&s) == 0);
    size_t ny, nx, nw;
    float *x = st_get(f, "x", &nx), *w = st_get(f, "weight", &nw), *b = bias ? st_get(f, "bias", NULL) : NULL;
    float *yref = st_get(f, "y", &ny), *dy = st_get(f, "dy", NULL);
    CHECK(ny == (size_t)s.n * s.oc * s.oh * s.ow);
    float *y = zeros(ny), *dx = zeros(nx), *dw = zeros(nw), *db = zeros((size_t)s.oc);
    float *col = zeros(conv_col_size(&s));
    forward_conv2d(y, x, w, b, &s, col);
    allclose(file, y, yref, ny, RTOL, ATOL);
    if (conv_direct_train_suits(&s)) {
        /* training's direct forward (conv2d_direct.c) takes these layers */
        memset(y, 0, sizeof(float) * ny);
        forward_conv2d_direct_train(y, x, w, b, &s, col);
        allclose("conv direct (training) y", y, yref, ny, RTOL, ATOL);
        /* inference's: a sample at a time, prepared once, by blocks of two
         * rows (the last one shorter where OH is odd), into the output and
         * into a block buffer: the same bits as the whole-sample call */
        conv_shape one = s;
        one.n = 1;
        const size_t sx = (size_t)s.c * s.h * s.w, sy = (size_t)s.oc * s.oh * s.ow;
        float *yb = zeros(ny), *blk = zeros((size_t)s.oc * 2 * s.ow);
        int same_blocks = 1;
        for (int i = 0; i < s.n; i++) {
            conv_direct_prepare(col, x + i * sx, w, &one);
            for (int oy0 = 0; oy0 < s.oh; oy0 += 2) {
                const int oy1 = oy0 + 2 < s.oh ? oy0 + 2 : s.oh, rows = oy1 - oy0;
                forward_conv2d_direct_rows(yb + i * sy + (size_t)oy0 * s.ow, sy / s.oc, col, b, &one, oy0, oy1);
                forward_conv2d_direct_rows(blk, (size_t)rows * s.ow, col, b, &one, oy0, oy1);
                for (int o = 0; o < s.oc; o++)
                    same_blocks &= !memcmp(blk + (size_t)o * rows * s.ow, y + i * sy + (size_t)o * (sy / s.oc) +
                                           (size_t)oy0 * s.ow, sizeof(float) * (size_t)rows * s.ow);
            }
        }
        CHECKF(s.oh > 2 && !memcmp(yb, y, sizeof(float) * ny), "%s: inference's direct rows differ from the whole sample",
               file);
        CHECKF(same_blocks, "%s: a direct block buffer differs from the whole sample", file);
        free(yb); free(blk);
    }
    backward_conv2d(dx, dw, bias ? db : NULL, dy, x, w, &s, col);
    allclose("conv dx", dx, st_get(f, "dx", NULL), nx, RTOL, ATOL);
    allclose("conv dw", dw, st_get(f, "weight.grad", NULL), nw, RTOL, ATOL);
    if (bias) allclose("conv db", db, st_get(f, "bias.grad", NULL), (size_t)s.oc, RTOL, ATOL);
    free(y); free(dx); free(dw); free(db); free(col);
    st_close(f);
}

TEST(torch_conv2d_all_variants)
{
    /* k3s1p1: training's direct forward and direct input gradient; the
     * strided ones are lowered (checked below, so that this stays true).
     * The direct cases run with every set of direct kernels this CPU has
     * (AVX-512, AVX2 + FMA, baseline), each against PyTorch. */
    int sets = 0;
    for (int isa = CONV_ISA_BASE; isa <= CONV_ISA_AVX512; isa++) {
        if (conv_direct_set_isa(isa) != 0) continue;
        sets++;
        conv_case("layer_conv_k3s1p1.safetensors", 3, 3, 1, 1, 1, 1, 1);
        conv_case("layer_conv_k5_direct.safetensors", 5, 5, 1, 1, 0, 0, 1);   /* direct path */
    }
    conv_direct_set_isa(CONV_ISA_AUTO);
    CHECKF(sets >= 2 || !X86_GCC, "only %d set(s) of direct kernels ran", sets);
    conv_case("layer_conv_k3x2s2x1p0x1_nobias.safetensors", 3, 2, 2, 1, 0, 1, 0);
    conv_case("layer_conv_k1.safetensors", 1, 1, 1, 1, 0, 0, 1);
    conv_case("layer_conv_k5s2p2.safetensors", 5, 5, 2, 2, 2, 2, 1);
    conv_shape direct = {.n = 2, .c = 3, .h = 7, .w = 9, .oc = 4, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1};
    conv_shape lowered = {.n = 3, .c = 2, .h = 11, .w = 10, .oc = 5, .kh = 5, .kw = 5, .sh = 2, .sw = 2, .ph = 2, .pw = 2};
    REQUIRE(conv_shape_init(&direct) == 0 && conv_shape_init(&lowered) == 0);
    CHECK(conv_direct_train_suits(&direct) && conv_direct_dx_suits(&direct));
    CHECK(!conv_direct_train_suits(&lowered) && !conv_direct_dx_suits(&lowered));
}

/* the largest |a[i]|, and the largest |a[i] - b[i]| */
static float max_abs(const float *a, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++) m = fabsf(a[i]) > m ? fabsf(a[i]) : m;
    return m;
}

static float max_abs_diff(const float *a, const float *b, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++) m = fabsf(a[i] - b[i]) > m ? fabsf(a[i] - b[i]) : m;
    return m;
}

static float *random_floats(size_t n, unsigned *seed)
{
    float *v = zeros(n);
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        v[i] = (float)((*seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    return v;
}

/* The direct kernels' blocks at cnn's sizes, where the fixtures above are
 * too small to reach them: output channels that are and are not multiples
 * of a block (8, 4, 3), rows longer than a block, a 5x5 kernel. Each set of
 * kernels this CPU has gives the forward pass of the lowered path (im2col +
 * GEMM) within 1e-4 relative, and the input gradient of the baseline
 * kernels within the same, the weight gradient (long sums, in another
 * order) within 1e-5 of its largest value; a second weight gradient gives the same
 * bits (its lanes add up in one order). */
TEST(direct_kernels_every_instruction_set_at_cnn_sizes)
{
    const conv_shape shapes[] = {
        {.n = 2, .c = 16, .h = 32, .w = 61, .oc = 32, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1},
        {.n = 1, .c = 32, .h = 17, .w = 30, .oc = 64, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1},
        {.n = 2, .c = 5, .h = 13, .w = 41, .oc = 20, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1},
        {.n = 1, .c = 3, .h = 12, .w = 37, .oc = 13, .kh = 5, .kw = 5, .sh = 1, .sw = 1, .ph = 2, .pw = 2},
    };
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        conv_shape s = shapes[k];
        REQUIRE(conv_shape_init(&s) == 0);
        CHECKF(conv_direct_train_suits(&s) && conv_direct_dx_suits(&s), "shape %zu: not the direct path", k);
        unsigned seed = 7 + (unsigned)k;
        const size_t nx = (size_t)s.n * s.c * s.h * s.w, ny = (size_t)s.n * s.oc * s.oh * s.ow,
                     nw = (size_t)s.oc * s.c * s.kh * s.kw;
        float *x = random_floats(nx, &seed), *w = random_floats(nw, &seed), *b = random_floats((size_t)s.oc, &seed);
        float *dy = random_floats(ny, &seed), *yref = zeros(ny);
        size_t ncol = conv_col_size(&s), nscr = conv_direct_train_scratch(&s);
        float *col = zeros(ncol > nscr ? ncol : nscr);
        forward_conv2d(yref, x, w, b, &s, col);   /* lowered: padded layers never take the direct kernels here */
        float *dx_ref = NULL, *dw_ref = NULL;
        for (int isa = CONV_ISA_BASE; isa <= CONV_ISA_AVX512; isa++) {
            if (conv_direct_set_isa(isa) != 0) continue;
            float *y = zeros(ny), *dx = zeros(nx), *dw = zeros(nw);
            forward_conv2d_direct_train(y, x, w, b, &s, col);
            allclose("direct forward against lowered", y, yref, ny, 1e-4f, 1e-5f);
            backward_conv2d_direct_dx(dx, dy, w, &s, col);
            backward_conv2d_direct_dw(dw, dy, x, &s, col);
            if (isa == CONV_ISA_BASE) {
                dx_ref = dx, dw_ref = dw;
            } else {
                allclose("direct dx against the baseline kernels", dx, dx_ref, nx, 1e-4f, 1e-5f);
                /* each dw is a sum of thousands of terms in another order than
                 * the baseline's: absolute error against the largest value */
                const float big = max_abs(dw_ref, nw);
                allclose("direct dw against the baseline kernels", dw, dw_ref, nw, 1e-4f, 1e-5f * big);
                float *again = zeros(nw);
                backward_conv2d_direct_dw(again, dy, x, &s, col);
                CHECKF(!memcmp(dw, again, sizeof(float) * nw), "shape %zu, set %d: dw differs on a second run", k, isa);
                free(again); free(dw); free(dx);
            }
            free(y);
        }
        conv_direct_set_isa(CONV_ISA_AUTO);
        free(x); free(w); free(b); free(dy); free(yref); free(col); free(dx_ref); free(dw_ref);
    }
}

/* Inference's Winograd F(4x4,3x3) path (conv2d_winograd.c) at cnn's four
 * 3x3 layers, and at odd sizes: output channels not a multiple of 8, a
 * height and width that leave partial tiles, a row of tiles shorter than a
 * vector. Against the lowered sum (im2col + GEMM, checked against PyTorch
 * above): within 5e-5 of the largest output (Winograd's transforms round
 * more than a direct sum: 1e-5 of it at cnn's sizes). Blocks of rows give
 * the same bits as the whole sample. Taken by default on CPUs with AVX2
 * and FMA (AVX-512 ones included, since session 27), never with
 * VOXGENDER_WINOGRAD=0 or with the baseline kernels forced; the kernels
 * are checked wherever they can run. On AVX-512 CPUs the products run 16
 * tiles wide, and must give the same bits as the AVX2 ones (the shapes
 * between them take rows of 8 to 64 tiles, so every block width and
 * remainder). */
static const conv_shape winograd_shapes[] = {
    {.n = 1, .c = 16, .h = 64, .w = 241, .oc = 32, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1},
    {.n = 1, .c = 32, .h = 32, .w = 120, .oc = 64, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1},
    {.n = 1, .c = 64, .h = 16, .w = 60, .oc = 128, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1},
    {.n = 1, .c = 128, .h = 8, .w = 30, .oc = 128, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1},
    {.n = 1, .c = 8, .h = 9, .w = 13, .oc = 12, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1},
    {.n = 1, .c = 24, .h = 7, .w = 101, .oc = 20, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1},
    {.n = 1, .c = 16, .h = 6, .w = 150, .oc = 16, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1},
};

TEST(winograd_matches_the_lowered_sum_at_cnn_sizes)
{
    const int can = X86_GCC && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const char *setting = getenv("VOXGENDER_WINOGRAD");
    const int expected = setting && !strcmp(setting, "0") ? 0 : can;
    CHECKF(conv_winograd_available() == expected, "Winograd available: %d, expected %d (VOXGENDER_WINOGRAD %s)",
           conv_winograd_available(), expected, setting ? setting : "unset");
    if (X86_GCC) {
        REQUIRE(conv_direct_set_isa(CONV_ISA_BASE) == 0);
        CHECK(!conv_winograd_available());
        conv_direct_set_isa(CONV_ISA_AUTO);
    }
    if (!can) return;
    for (size_t k = 0; k < sizeof winograd_shapes / sizeof winograd_shapes[0]; k++) {
        conv_shape s = winograd_shapes[k];
        REQUIRE(conv_shape_init(&s) == 0);
        CHECKF(conv_winograd_shape(&s), "shape %zu: not a Winograd layer", k);
        unsigned seed = 11 + (unsigned)k;
        const size_t nx = (size_t)s.c * s.h * s.w, ny = (size_t)s.oc * s.oh * s.ow, nw = (size_t)s.oc * s.c * 9;
        float *x = random_floats(nx, &seed), *w = random_floats(nw, &seed), *b = random_floats((size_t)s.oc, &seed);
        float *yref = zeros(ny), *y = zeros(ny), *col = zeros(conv_col_size(&s));
        forward_conv2d(yref, x, w, b, &s, col);
        float *u = zeros(conv_winograd_weights_size(&s)), *prep = zeros(conv_winograd_prep_size(&s)),
              *work = zeros(conv_winograd_work_size(&s));
        conv_winograd_weights(u, w, &s);
        conv_winograd_prepare(prep, x, &s);
        forward_conv2d_winograd_rows(y, (size_t)s.oh * s.ow, prep, u, b, NULL, &s, 0, s.oh, work);
        const float big = max_abs(yref, ny);
        float err = max_abs_diff(y, yref, ny);
        CHECKF(big > 0 && err <= 5e-5f * big, "shape %zu: Winograd differs by %g of %g", k, err, big);
        if (X86_GCC && __builtin_cpu_supports("avx512f")) {
            float *y2 = zeros(ny);
            REQUIRE(conv_direct_set_isa(CONV_ISA_AVX2) == 0);
            forward_conv2d_winograd_rows(y2, (size_t)s.oh * s.ow, prep, u, b, NULL, &s, 0, s.oh, work);
            conv_direct_set_isa(CONV_ISA_AUTO);
            CHECKF(!memcmp(y2, y, sizeof(float) * ny), "shape %zu: AVX-512 products differ from AVX2's", k);
            free(y2);
        }
        /* blocks of 4 rows, each in a buffer of its own rows */
        float *blk = zeros((size_t)s.oc * 4 * s.ow);
        int same = 1;
        for (int oy0 = 0; oy0 < s.oh; oy0 += 4) {
            const int oy1 = oy0 + 4 < s.oh ? oy0 + 4 : s.oh;
            forward_conv2d_winograd_rows(blk, (size_t)(oy1 - oy0) * s.ow, prep, u, b, NULL, &s, oy0, oy1, work);
            for (int o = 0; o < s.oc; o++)
                same &= !memcmp(blk + (size_t)o * (oy1 - oy0) * s.ow, y + ((size_t)o * s.oh + oy0) * s.ow,
                                sizeof(float) * (size_t)(oy1 - oy0) * s.ow);
        }
        CHECKF(same, "shape %zu: a block of rows differs from the whole sample", k);
        /* inference's batch norm + ReLU (scales of both signs), then the
         * 2x2 max-pool, fused into the output transform: against the
         * lowered sum followed by them, by blocks of 4 rows */
        float *ss = random_floats(2 * (size_t)s.oc, &seed);
        for (int o = 0; o < s.oc; o++) ss[o] *= 2;
        const winograd_epilogue plain = {ss, 0}, pooled = {ss, 1};
        for (size_t i = 0; i < ny; i++) {
            const float v = yref[i] * ss[i / ((size_t)s.oh * s.ow)] + ss[s.oc + i / ((size_t)s.oh * s.ow)];
            yref[i] = v > 0 ? v : 0;
        }
        for (int oy0 = 0; oy0 < s.oh; oy0 += 4)
            forward_conv2d_winograd_rows(y + (size_t)oy0 * s.ow, (size_t)s.oh * s.ow, prep, u, b, &plain, &s, oy0,
                                         oy0 + 4 < s.oh ? oy0 + 4 : s.oh, work);
        err = max_abs_diff(y, yref, ny);
        CHECKF(err <= 5e-5f * 2 * big, "shape %zu: Winograd's batch norm + ReLU differ by %g", k, err);
        pool_shape ps = {.n = 1, .c = s.oc, .h = s.oh, .w = s.ow, .kh = 2, .kw = 2, .sh = 2, .sw = 2};
        REQUIRE(pool_shape_init(&ps) == 0);
        const size_t np = (size_t)s.oc * ps.oh * ps.ow;
        float *pref = zeros(np), *pool = zeros(np + 1);
        int32_t *am = calloc(np, sizeof(int32_t));
        forward_maxpool(pref, am, yref, &ps);
        pool[np] = 12345;   /* nothing written past the pooled output */
        for (int oy0 = 0; oy0 < s.oh; oy0 += 4)
            forward_conv2d_winograd_rows(pool + (size_t)(oy0 / 2) * ps.ow, (size_t)ps.oh * ps.ow, prep, u, b, &pooled,
                                         &s, oy0, oy0 + 4 < s.oh ? oy0 + 4 : s.oh, work);
        err = max_abs_diff(pool, pref, np);
        CHECKF(err <= 5e-5f * 2 * big && pool[np] == 12345, "shape %zu: Winograd's fused pool differs by %g", k, err);
        if (X86_GCC && __builtin_cpu_supports("avx512f")) {
            /* the epilogue and pool too: the same bits on AVX2 */
            float *y2 = zeros(ny), *pool2 = zeros(np);
            REQUIRE(conv_direct_set_isa(CONV_ISA_AVX2) == 0);
            for (int oy0 = 0; oy0 < s.oh; oy0 += 4) {
                const int oy1 = oy0 + 4 < s.oh ? oy0 + 4 : s.oh;
                forward_conv2d_winograd_rows(y2 + (size_t)oy0 * s.ow, (size_t)s.oh * s.ow, prep, u, b, &plain, &s,
                                             oy0, oy1, work);
                forward_conv2d_winograd_rows(pool2 + (size_t)(oy0 / 2) * ps.ow, (size_t)ps.oh * ps.ow, prep, u, b,
                                             &pooled, &s, oy0, oy1, work);
            }
            conv_direct_set_isa(CONV_ISA_AUTO);
            CHECKF(!memcmp(y2, y, sizeof(float) * ny) && !memcmp(pool2, pool, sizeof(float) * np),
                   "shape %zu: AVX-512's batch norm + ReLU or pool differ from AVX2's", k);
            free(y2); free(pool2);
        }
        /* a whole sample at once, in two parts of the output channels
         * (split at a multiple of 8): the same bits as by rows */
        float *swork = zeros(conv_winograd_sample_work_size(&s)), *sy = zeros(ny), *spool = zeros(np);
        const int split = 8 * (((s.oc + 7) / 8) / 2);
        for (int part = 0; part < 2; part++) {
            const int oc0 = part ? split : 0, oc1 = part ? s.oc : split;
            forward_conv2d_winograd_sample(sy, (size_t)s.oh * s.ow, prep, u, b, NULL, &s, oc0, oc1, swork);
            forward_conv2d_winograd_sample(spool, (size_t)ps.oh * ps.ow, prep, u, b, &pooled, &s, oc0, oc1, swork);
        }
        forward_conv2d_winograd_rows(y, (size_t)s.oh * s.ow, prep, u, b, NULL, &s, 0, s.oh, work);
        CHECKF(!memcmp(sy, y, sizeof(float) * ny) && !memcmp(spool, pool, sizeof(float) * np),
               "shape %zu: a whole sample differs from its rows", k);
        free(swork); free(sy); free(spool);
        free(ss); free(pref); free(pool); free(am);
        free(x); free(w); free(b); free(yref); free(y); free(col); free(u); free(prep); free(work); free(blk);
    }
}

/* Training's weight gradient of the same layers by Winograd's transforms
 * (conv2d_winograd_dw.c), over three samples, against backward_conv2d's
 * (the direct or lowered sum, checked against PyTorch above): within 5e-5
 * of the largest weight gradient, as the forward pass. Partial tiles (the
 * shapes' odd sizes) must add nothing: the output gradient is zero past
 * the output. The final transform split in two runs of channel pairs gives
 * the same bits as one; the AVX-512 transforms the same bits as AVX2's. */
static void winograd_dw_of(float *dw, const float *x, const float *dy, const conv_shape *s, int split)
{
    const conv_shape t = conv_transposed(s);
    const size_t nx = (size_t)s->c * s->h * s->w, ny = (size_t)s->oc * s->oh * s->ow;
    float *sums = zeros(conv_winograd_dw_sums_size(s)), *work = zeros(conv_winograd_dw_work_size(s)),
          *prep = zeros(conv_winograd_prep_size(&t));
    winograd_dw wd;
    conv_winograd_dw_begin(&wd, sums, work, s);
    for (int i = 0; i < s->n; i++) {
        conv_winograd_prepare(prep, dy + i * ny, &t);
        conv_winograd_dw_add(&wd, x + i * nx, prep);
    }
    conv_winograd_dw_finish(&wd);
    const size_t pairs = (size_t)s->oc * s->c, cut = split ? pairs / 3 : pairs;
    conv_winograd_dw_gradient(dw, sums, s, 0, cut);
    conv_winograd_dw_gradient(dw, sums, s, cut, pairs);
    free(sums); free(work); free(prep);
}

TEST(winograd_weight_gradient_matches_the_direct_sum)
{
    if (!conv_winograd_available()) return;
    for (size_t k = 0; k < sizeof winograd_shapes / sizeof winograd_shapes[0]; k++) {
        conv_shape s = winograd_shapes[k];
        s.n = 3;
        REQUIRE(conv_shape_init(&s) == 0);
        unsigned seed = 31 + (unsigned)k;
        const size_t nx = (size_t)s.n * s.c * s.h * s.w, ny = (size_t)s.n * s.oc * s.oh * s.ow,
                     nw = (size_t)s.oc * s.c * 9;
        float *x = random_floats(nx, &seed), *dy = random_floats(ny, &seed), *w = random_floats(nw, &seed);
        float *ref = zeros(nw), *dw = zeros(nw), *dw2 = zeros(nw),
              *col = zeros(conv_col_size(&s) + conv_direct_train_scratch(&s));
        backward_conv2d(NULL, ref, NULL, dy, x, w, &s, col);
        winograd_dw_of(dw, x, dy, &s, 0);
        const float big = max_abs(ref, nw), err = max_abs_diff(dw, ref, nw);
        CHECKF(big > 0 && err <= 5e-5f * big, "shape %zu: Winograd's weight gradient differs by %g of %g", k, err, big);
        winograd_dw_of(dw2, x, dy, &s, 1);
        CHECKF(!memcmp(dw, dw2, sizeof(float) * nw), "shape %zu: the final transform in two runs differs", k);
        if (conv_direct_isa() == CONV_ISA_AVX512) {
            memset(dw2, 0, sizeof(float) * nw);
            REQUIRE(conv_direct_set_isa(CONV_ISA_AVX2) == 0);
            winograd_dw_of(dw2, x, dy, &s, 0);
            conv_direct_set_isa(CONV_ISA_AUTO);
            CHECKF(!memcmp(dw, dw2, sizeof(float) * nw), "shape %zu: AVX-512's weight gradient differs from AVX2's", k);
        }
        free(x); free(dy); free(w); free(ref); free(dw); free(dw2); free(col);
    }
}

/* Inference's stem kernel (conv2d_stem.c: 3x3, stride 2, padding 1, a few
 * input channels) at cnn's conv1 and at odd sizes, with and without the
 * fused batch norm + ReLU, by blocks of rows: against the lowered sum
 * (checked against PyTorch above) followed by them, within 1e-5 of the
 * largest output. Taken exactly on CPUs with AVX2 and FMA; on AVX-512 CPUs
 * its AVX-512 kernel gives the AVX2 kernel's bits. */
TEST(stem_kernel_matches_the_lowered_sum)
{
    const conv_shape cnn_conv1 = {.n = 1, .c = 1, .h = 128, .w = 481, .oc = 16, .kh = 3, .kw = 3, .sh = 2, .sw = 2,
                                  .ph = 1, .pw = 1};
    const int expected = X86_GCC && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    conv_shape probe = cnn_conv1;
    REQUIRE(conv_shape_init(&probe) == 0);
    CHECKF(conv_stem_suits(&probe) == expected, "stem kernel taken: %d, expected %d", conv_stem_suits(&probe),
           expected);
    if (!expected) return;
    const conv_shape shapes[] = {
        cnn_conv1,
        {.n = 1, .c = 3, .h = 7, .w = 13, .oc = 8, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1},
        {.n = 1, .c = 2, .h = 10, .w = 38, .oc = 12, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1},
        {.n = 1, .c = 4, .h = 9, .w = 77, .oc = 24, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1},
    };
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        conv_shape s = shapes[k];
        REQUIRE(conv_shape_init(&s) == 0);
        CHECKF(conv_stem_suits(&s), "shape %zu: not a stem", k);
        unsigned seed = 31 + (unsigned)k;
        const size_t nx = (size_t)s.c * s.h * s.w, ny = (size_t)s.oc * s.oh * s.ow, nw = (size_t)s.oc * s.c * 9;
        float *x = random_floats(nx, &seed), *w = random_floats(nw, &seed), *b = random_floats((size_t)s.oc, &seed);
        float *ss = random_floats(2 * (size_t)s.oc, &seed);
        float *yref = zeros(ny), *yfused = zeros(ny), *y = zeros(ny + 1), *col = zeros(conv_col_size(&s)),
              *scratch = zeros(conv_stem_scratch_size(&s));
        forward_conv2d(yref, x, w, b, &s, col);
        for (size_t i = 0; i < ny; i++) {
            const size_t o = i / ((size_t)s.oh * s.ow);
            const float v = yref[i] * ss[o] + ss[s.oc + o];
            yfused[i] = v > 0 ? v : 0;
        }
        const float big = max_abs(yref, ny);
        for (int fused = 0; fused < 2; fused++) {
            y[ny] = 12345;   /* nothing written past the output */
            for (int oy0 = 0; oy0 < s.oh; oy0 += 3)
                forward_conv2d_stem_rows(y, x, w, b, fused ? ss : NULL, &s, oy0, oy0 + 3 < s.oh ? oy0 + 3 : s.oh,
                                         scratch);
            const float err = max_abs_diff(y, fused ? yfused : yref, ny);
            CHECKF(big > 0 && err <= 1e-5f * big && y[ny] == 12345, "shape %zu (epilogue %d): differs by %g of %g", k,
                   fused, err, big);
            /* AVX-512's kernel (wider vectors, blocks of 8 channels) gives
             * AVX2's bits */
            if (conv_direct_isa() == CONV_ISA_AVX512) {
                float *y2 = zeros(ny + 1);
                y2[ny] = 12345;
                REQUIRE(conv_direct_set_isa(CONV_ISA_AVX2) == 0);
                forward_conv2d_stem_rows(y2, x, w, b, fused ? ss : NULL, &s, 0, s.oh, scratch);
                conv_direct_set_isa(CONV_ISA_AUTO);
                CHECKF(!memcmp(y, y2, sizeof(float) * ny) && y2[ny] == 12345,
                       "shape %zu (epilogue %d): AVX2 and AVX-512 differ", k, fused);
                free(y2);
            }
        }
        free(x); free(w); free(b); free(ss); free(yref); free(yfused); free(y); free(col); free(scratch);
    }
}

static void pool_case_p(const char *file, int is_max, int kh, int kw, int sh, int sw, int pad)
{
    st_file *f = st_open(file);
    REQUIRE(f);
    int xs[4];
    st_shape(f, "x", xs, 4);
    pool_shape s = {.n = xs[0], .c = xs[1], .h = xs[2], .w = xs[3], .kh = kh, .kw = kw, .sh = sh, .sw = sw,
                    .ph = pad, .pw = pad};
    REQUIRE(pool_shape_init(&s) == 0);
    size_t nx, ny;
    float *x = st_get(f, "x", &nx), *yref = st_get(f, "y", &ny);
    CHECK(ny == (size_t)s.n * s.c * s.oh * s.ow);
    float *y = zeros(ny), *dx = zeros(nx);
    int32_t *am = calloc(ny, sizeof(int32_t));
    if (is_max) forward_maxpool(y, am, x, &s); else forward_avgpool(y, x, &s);
    allclose(file, y, yref, ny, RTOL, ATOL);
    if (is_max) backward_maxpool(dx, st_get(f, "dy", NULL), am, &s);
    else backward_avgpool(dx, st_get(f, "dy", NULL), &s);
    allclose("pool dx", dx, st_get(f, "dx", NULL), nx, RTOL, ATOL);
    free(y); free(dx); free(am);
    st_close(f);
}

static void pool_case(const char *file, int is_max, int kh, int kw, int sh, int sw)
{
    pool_case_p(file, is_max, kh, kw, sh, sw, 0);
}

TEST(torch_pooling)
{
    pool_case_p("layer_maxpool_k3s2p1.safetensors", 1, 3, 3, 2, 2, 1);   /* ResNet's stem */
    pool_case("layer_maxpool_k2.safetensors", 1, 2, 2, 2, 2);
    pool_case("layer_maxpool_k3s2.safetensors", 1, 3, 3, 2, 2);
    pool_case("layer_avgpool_k2.safetensors", 0, 2, 2, 2, 2);
    pool_case("layer_avgpool_k2x3s1x2.safetensors", 0, 2, 3, 1, 2);
}

static void global_case(const char *file, int over_h)
{
    st_file *f = st_open(file);
    REQUIRE(f);
    int xs[4];
    st_shape(f, "x", xs, 4);
    size_t nx, ny;
    float *x = st_get(f, "x", &nx), *yref = st_get(f, "y", &ny);
    float *y = zeros(ny), *dx = zeros(nx);
    forward_global_avgpool(y, x, xs[0], xs[1], xs[2], xs[3], over_h);
    allclose(file, y, yref, ny, RTOL, ATOL);
    backward_global_avgpool(dx, st_get(f, "dy", NULL), xs[0], xs[1], xs[2], xs[3], over_h);
    allclose("global pool dx", dx, st_get(f, "dx", NULL), nx, RTOL, ATOL);
    free(y); free(dx);
    st_close(f);
}

TEST(torch_global_and_time_pooling)
{
    global_case("layer_gap.safetensors", 1);
    global_case("layer_timepool.safetensors", 0);
}

TEST(torch_lifter)
{
    st_file *f = st_open("layer_lifter.safetensors");
    REQUIRE(f);
    int xs[4];
    st_shape(f, "x", xs, 4);
    size_t nx;
    float *x = st_get(f, "x", &nx);
    const int k = 5;   /* the fixture's n=5 */
    float *y = zeros(nx), *dx = zeros(nx), *work = zeros(LIFTER_WORK(xs[2], xs[3], k));
    forward_lifter(y, x, work, xs[0], xs[1], xs[2], xs[3], k);
    allclose("lifter y", y, st_get(f, "y", NULL), nx, RTOL, ATOL);
    backward_lifter(dx, st_get(f, "dy", NULL), work, xs[0], xs[1], xs[2], xs[3], k);
    allclose("lifter dx", dx, st_get(f, "dx", NULL), nx, RTOL, ATOL);
    free(y); free(dx); free(work);
    st_close(f);
}

TEST(torch_time_stats)
{
    st_file *f = st_open("layer_timestats.safetensors");
    REQUIRE(f);
    int xs[4];
    st_shape(f, "x", xs, 4);
    size_t nx, ny;
    float *x = st_get(f, "x", &nx), *yref = st_get(f, "y", &ny);
    REQUIRE(ny == (size_t)xs[0] * xs[1] * xs[2] * 2);
    float *y = zeros(ny), *dx = zeros(nx);
    forward_time_stats(y, x, xs[0], xs[1], xs[2], xs[3]);
    allclose("timestats y", y, yref, ny, RTOL, ATOL);
    backward_time_stats(dx, st_get(f, "dy", NULL), x, y, xs[0], xs[1], xs[2], xs[3]);
    allclose("timestats dx", dx, st_get(f, "dx", NULL), nx, RTOL, ATOL);
    free(y); free(dx);
    st_close(f);
}

TEST(torch_relu_and_logsoftmax)
{
    st_file *f = st_open("layer_relu.safetensors");
    REQUIRE(f);
    size_t n;
    float *x = st_get(f, "x", &n), *y = zeros(n), *dx = zeros(n);
    forward_relu(y, x, n);
    allclose("relu y", y, st_get(f, "y", NULL), n, RTOL, ATOL);
    backward_relu(dx, st_get(f, "dy", NULL), y, n);
    allclose("relu dx", dx, st_get(f, "dx", NULL), n, RTOL, ATOL);
    free(y); free(dx);
    st_close(f);

    f = st_open("layer_logsoftmax.safetensors");
    REQUIRE(f);
    int xs[2];
    st_shape(f, "x", xs, 2);
    x = st_get(f, "x", &n);
    y = zeros(n);
    dx = zeros(n);
    forward_logsoftmax(y, x, xs[0], xs[1]);
    allclose("logsoftmax y", y, st_get(f, "y", NULL), n, RTOL, ATOL);
    backward_logsoftmax(dx, st_get(f, "dy", NULL), y, xs[0], xs[1]);
    allclose("logsoftmax dx", dx, st_get(f, "dx", NULL), n, RTOL, ATOL);
    free(y); free(dx);
    st_close(f);
}

static void linear_case(const char *file, int bias)
{
    st_file *f = st_open(file);
    REQUIRE(f);
    int xs[2], ws[2];
    st_shape(f, "x", xs, 2);
    st_shape(f, "weight", ws, 2);
    size_t nx, ny, nw;
    float *x = st_get(f, "x", &nx), *w = st_get(f, "weight", &nw), *yref = st_get(f, "y", &ny);
    float *y = zeros(ny), *dx = zeros(nx), *dw = zeros(nw), *db = zeros((size_t)ws[0]);
    forward_linear(y, x, w, bias ? st_get(f, "bias", NULL) : NULL, xs[0], xs[1], ws[0]);
    allclose(file, y, yref, ny, RTOL, ATOL);
    backward_linear(dx, dw, bias ? db : NULL, st_get(f, "dy", NULL), x, w, xs[0], xs[1], ws[0]);
    allclose("linear dx", dx, st_get(f, "dx", NULL), nx, RTOL, ATOL);
    allclose("linear dw", dw, st_get(f, "weight.grad", NULL), nw, RTOL, ATOL);
    if (bias) allclose("linear db", db, st_get(f, "bias.grad", NULL), (size_t)ws[0], RTOL, ATOL);
    free(y); free(dx); free(dw); free(db);
    st_close(f);
}

TEST(torch_linear)
{
    linear_case("layer_linear.safetensors", 1);
    linear_case("layer_linear_nobias.safetensors", 0);
}

static void bn_case(const char *file, int train)
{
    st_file *f = st_open(file);
    REQUIRE(f);
    int xs[4];
    st_shape(f, "x", xs, 4);
    int n = xs[0], c = xs[1], hw = xs[2] * xs[3];
    size_t nx;
    float *x = st_get(f, "x", &nx);
    float *y = zeros(nx), *xhat = zeros(nx), *dx = zeros(nx), *invstd = zeros((size_t)c);
    float *stats = zeros(2 * (size_t)c);
    float *rm = zeros((size_t)c), *rv = zeros((size_t)c), *dg = zeros((size_t)c), *dbt = zeros((size_t)c);
    memcpy(rm, st_get(f, "running_mean.before", NULL), sizeof(float) * (size_t)c);
    memcpy(rv, st_get(f, "running_var.before", NULL), sizeof(float) * (size_t)c);
    float *g = st_get(f, "weight", NULL), *b = st_get(f, "bias", NULL);
    if (train) {
        forward_batchnorm_train(y, stats, rm, rv, x, g, b, n, c, hw, 1e-5f, 0.1f);
        allclose("bn running_mean", rm, st_get(f, "running_mean", NULL), (size_t)c, RTOL, ATOL);
        allclose("bn running_var", rv, st_get(f, "running_var", NULL), (size_t)c, RTOL, ATOL);
        backward_batchnorm(dx, dg, dbt, st_get(f, "dy", NULL), x, stats, g, n, c, hw);
        allclose("bn dx", dx, st_get(f, "dx", NULL), nx, RTOL, ATOL);
    } else {
        forward_batchnorm_eval(y, x, g, b, rm, rv, n, c, hw, 1e-5f);
        /* eval: dx = dy * gamma / sqrt(var + eps); dgamma/dbeta from xhat */
        for (int ch = 0; ch < c; ch++) {
            invstd[ch] = 1.0f / sqrtf(rv[ch] + 1e-5f);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < hw; j++) {
                    size_t o = ((size_t)i * c + ch) * hw + j;
                    xhat[o] = (x[o] - rm[ch]) * invstd[ch];
                }
        }
        const float *dy = st_get(f, "dy", NULL);
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < n; i++)
                for (int j = 0; j < hw; j++) {
                    size_t o = ((size_t)i * c + ch) * hw + j;
                    dx[o] = dy[o] * g[ch] * invstd[ch];
                    dg[ch] += dy[o] * xhat[o];
                    dbt[ch] += dy[o];
                }
        allclose("bn eval dx", dx, st_get(f, "dx", NULL), nx, RTOL, ATOL);
    }
    allclose(file, y, st_get(f, "y", NULL), nx, RTOL, ATOL);
    allclose("bn dgamma", dg, st_get(f, "weight.grad", NULL), (size_t)c, RTOL, ATOL);
    allclose("bn dbeta", dbt, st_get(f, "bias.grad", NULL), (size_t)c, RTOL, ATOL);
    free(y); free(xhat); free(dx); free(invstd); free(stats); free(rm); free(rv); free(dg); free(dbt);
    st_close(f);
}

TEST(torch_batchnorm_train_and_eval)
{
    bn_case("layer_bn_train.safetensors", 1);
    bn_case("layer_bn_train_1d.safetensors", 1);
    bn_case("layer_bn_eval.safetensors", 0);
}

TEST(torch_cross_entropy_plain_and_weighted)
{
    const char *files[2] = {"layer_ce.safetensors", "layer_ce_weighted.safetensors"};
    for (int k = 0; k < 2; k++) {
        st_file *f = st_open(files[k]);
        REQUIRE(f);
        size_t n;
        float *logits = st_get(f, "logits", &n), *lab = st_get(f, "labels", NULL);
        int labels[64];
        for (size_t i = 0; i < n / 2; i++) labels[i] = (int)lab[i];
        float d[128];
        float loss = softmax_cross_entropy(d, NULL, logits, labels, st_get(f, "weights", NULL),
                                           (int)(n / 2), 2);
        allclose(files[k], &loss, st_get(f, "loss", NULL), 1, RTOL, ATOL);
        allclose("ce dlogits", d, st_get(f, "dlogits", NULL), n, RTOL, ATOL);
        st_close(f);
    }
}
