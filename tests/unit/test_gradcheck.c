/* Finite-difference gradient checks: for every layer, L = sum(y * r) with a
 * random r; the analytic input and parameter gradients from backward_* must
 * match central differences. float32 with eps 1e-2: tolerance 1e-2 relative
 * + 2e-3 absolute (round-off of a float32 loss divided by 2 eps). */
#include "../../src/nn/layers.h"
#include "../../src/nn/model.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAXP 3
typedef struct gc_case {
    const char *name;
    size_t nx, ny;
    float *params[MAXP];
    size_t np[MAXP];
    void *ctx;
    void (*fwd)(struct gc_case *c, const float *x, float *y);
    /* dx and dparams[] (accumulate) from dy */
    void (*bwd)(struct gc_case *c, const float *x, const float *dy, float *dx, float **dparams);
} gc_case;

static uint64_t seed = 42;

static void fill(float *a, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++) a[i] = scale * rng_normal(&seed);
}

/* Values spaced 0.05 apart in random order, away from 0: no ties in max
 * pooling and no ReLU kinks within eps. */
static void fill_separated(float *a, size_t n)
{
    for (size_t i = 0; i < n; i++) a[i] = (float)((long)i - (long)n / 2) * 0.05f + 0.025f;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = rng_next(&seed) % (i + 1);
        float t = a[i]; a[i] = a[j]; a[j] = t;
    }
}

static double loss_of(gc_case *c, const float *x, const float *r, float *y)
{
    c->fwd(c, x, y);
    double l = 0;
    for (size_t i = 0; i < c->ny; i++) l += (double)y[i] * r[i];
    return l;
}

static void gradcheck(gc_case *c, float *x)
{
    const float eps = 1e-2f;
    float *y = calloc(c->ny, sizeof(float)), *r = malloc(sizeof(float) * c->ny);
    float *dx = calloc(c->nx, sizeof(float)), *dp[MAXP] = {0};
    fill(r, c->ny, 1.0f);
    for (int p = 0; p < MAXP; p++) if (c->params[p]) dp[p] = calloc(c->np[p], sizeof(float));
    c->fwd(c, x, y);
    c->bwd(c, x, r, dx, dp);
    int bad = 0;
    /* up to 24 coordinates of the input and of each parameter */
    for (int p = -1; p < MAXP; p++) {
        float *v = p < 0 ? x : c->params[p];
        float *g = p < 0 ? dx : dp[p];
        size_t n = p < 0 ? c->nx : c->np[p];
        if (!v) continue;
        for (int k = 0; k < 24 && k < (int)n; k++) {
            size_t i = n <= 24 ? (size_t)k : rng_next(&seed) % n;
            float keep = v[i];
            v[i] = keep + eps;
            double lp = loss_of(c, x, r, y);
            v[i] = keep - eps;
            double lm = loss_of(c, x, r, y);
            v[i] = keep;
            double num = (lp - lm) / (2 * eps);
            if (fabs(num - g[i]) > 2e-3 + 1e-2 * fabs(num)) {
                if (bad++ < 3)
                    test_fail(__FILE__, __LINE__, "%s: d/d%s[%zu] analytic %.6g numeric %.6g",
                              c->name, p < 0 ? "x" : "param", i, g[i], num);
            }
        }
    }
    free(y); free(r); free(dx);
    for (int p = 0; p < MAXP; p++) free(dp[p]);
}

/* ---- conv2d */
static void conv_f(gc_case *c, const float *x, float *y)
{
    conv_shape *s = c->ctx;
    float *col = malloc(sizeof(float) * conv_col_size(s));
    forward_conv2d(y, x, c->params[0], c->params[1], s, col);
    free(col);
}
static void conv_b(gc_case *c, const float *x, const float *dy, float *dx, float **dp)
{
    conv_shape *s = c->ctx;
    float *col = malloc(sizeof(float) * conv_col_size(s));
    backward_conv2d(dx, dp[0], dp[1], dy, x, c->params[0], s, col);
    free(col);
}

/* training's direct forward (conv2d_direct.c); backward_conv2d takes the
 * direct weight and input gradients by itself for these shapes */
static void conv_direct_f(gc_case *c, const float *x, float *y)
{
    conv_shape *s = c->ctx;
    float *col = malloc(sizeof(float) * conv_col_size(s));
    forward_conv2d_direct_train(y, x, c->params[0], c->params[1], s, col);
    free(col);
}

/* One convolution shape through FWD and backward_conv2d; with the direct
 * forward, also the lowered forward's outputs within 1e-4 relative + 1e-5
 * absolute (the tolerance against PyTorch). */
static void conv_gradcheck(conv_shape *s, int bias, void (*fwd)(gc_case *, const float *, float *), int k)
{
    gc_case c = {.name = fwd == conv_f ? "conv2d" : "conv2d direct", .nx = (size_t)s->n * s->c * s->h * s->w,
                 .ny = (size_t)s->n * s->oc * s->oh * s->ow, .ctx = s, .fwd = fwd, .bwd = conv_b};
    c.np[0] = (size_t)s->oc * s->c * s->kh * s->kw;
    c.np[1] = (size_t)s->oc;
    c.params[0] = malloc(sizeof(float) * c.np[0]);
    c.params[1] = bias ? malloc(sizeof(float) * c.np[1]) : NULL;
    fill(c.params[0], c.np[0], 0.5f);
    if (c.params[1]) fill(c.params[1], c.np[1], 0.5f);
    float *x = malloc(sizeof(float) * c.nx), *y1 = malloc(sizeof(float) * c.ny),
          *y2 = malloc(sizeof(float) * c.ny);
    fill(x, c.nx, 1.0f);
    gradcheck(&c, x);
    if (fwd != conv_f) {
        conv_f(&c, x, y1);
        fwd(&c, x, y2);
        float worst = 0;
        for (size_t i = 0; i < c.ny; i++) worst = fmaxf(worst, fabsf(y1[i] - y2[i]) / (1e-5f + 1e-4f * fabsf(y1[i])));
        CHECKF(worst <= 1.0f, "shape %d: direct and lowered forward differ by %g of the tolerance", k, worst);
    }
    free(x); free(y1); free(y2); free(c.params[0]); free(c.params[1]);
}

TEST(gradcheck_conv2d_direct_training_path)
{
    conv_shape shapes[] = {
        {.n = 2, .c = 3, .h = 6, .w = 7, .oc = 4, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1},
        /* a wide kernel, uneven padding, more channels than one block of 8 */
        {.n = 1, .c = 2, .h = 5, .w = 9, .oc = 11, .kh = 3, .kw = 2, .sh = 1, .sw = 1, .ph = 1, .pw = 0},
        {.n = 2, .c = 9, .h = 4, .w = 6, .oc = 3, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 2, .pw = 1},
        /* more input channels than the direct input gradient takes: direct
         * forward and weight gradient, lowered input gradient */
        {.n = 1, .c = 70, .h = 3, .w = 4, .oc = 3, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1},
    };
    for (int k = 0; k < 4; k++) {
        conv_shape s = shapes[k];
        REQUIRE(conv_shape_init(&s) == 0);
        CHECKF(conv_direct_train_suits(&s) && conv_direct_dx_suits(&s) == (k < 3), "shape %d: the expected paths", k);
        conv_gradcheck(&s, k != 1, conv_direct_f, k);   /* case 1: no bias */
    }
}

TEST(gradcheck_conv2d)
{
    conv_shape shapes[] = {
        {.n = 2, .c = 3, .h = 6, .w = 7, .oc = 4, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1},
        {.n = 2, .c = 2, .h = 7, .w = 5, .oc = 3, .kh = 2, .kw = 3, .sh = 2, .sw = 1, .ph = 0, .pw = 2},
        {.n = 1, .c = 4, .h = 3, .w = 3, .oc = 2, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .ph = 0, .pw = 0},
    };
    for (int k = 0; k < 3; k++) {
        conv_shape s = shapes[k];
        REQUIRE(conv_shape_init(&s) == 0);
        conv_gradcheck(&s, k != 1, conv_f, k);   /* case 1: no bias */
    }
}

/* ---- conv2d by Winograd, as training runs it: the forward pass, the input
 * gradient as the transposed convolution by the flipped weights
 * (model.c's winograd_cached), the weight gradient by the transposed
 * transforms (conv2d_winograd_dw.c), the bias gradient summed. Partial
 * tiles at the bottom and right. */
static void wino_f(gc_case *c, const float *x, float *y)
{
    const conv_shape *s = c->ctx;
    conv_shape one = *s;
    one.n = 1;
    float *u = malloc(sizeof(float) * conv_winograd_weights_size(&one)),
          *prep = malloc(sizeof(float) * conv_winograd_prep_size(&one)),
          *work = malloc(sizeof(float) * conv_winograd_work_size(&one));
    conv_winograd_weights(u, c->params[0], &one);
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->oc * s->oh * s->ow;
    for (int i = 0; i < s->n; i++) {
        conv_winograd_prepare(prep, x + i * xs, &one);
        forward_conv2d_winograd_rows(y + i * ys, (size_t)s->oh * s->ow, prep, u, c->params[1], NULL, &one, 0, s->oh,
                                     work);
    }
    free(u); free(prep); free(work);
}

static void wino_b(gc_case *c, const float *x, const float *dy, float *dx, float **dp)
{
    const conv_shape *s = c->ctx;
    conv_shape one = *s;
    one.n = 1;
    const conv_shape t = conv_transposed(&one);
    const size_t xs = (size_t)s->c * s->h * s->w, ys = (size_t)s->oc * s->oh * s->ow;
    /* the transposed convolution's weights: wt[c][o] = w[o][c] flipped */
    float *wt = malloc(sizeof(float) * (size_t)s->oc * s->c * 9),
          *ut = malloc(sizeof(float) * conv_winograd_weights_size(&t));
    for (int o = 0; o < s->oc; o++)
        for (int ch = 0; ch < s->c; ch++)
            for (int k = 0; k < 9; k++)
                wt[((size_t)ch * s->oc + o) * 9 + 8 - k] = c->params[0][((size_t)o * s->c + ch) * 9 + k];
    conv_winograd_weights(ut, wt, &t);
    float *prep = malloc(sizeof(float) * conv_winograd_prep_size(&t)),
          *work = malloc(sizeof(float) * conv_winograd_work_size(&t)),
          *sums = malloc(sizeof(float) * conv_winograd_dw_sums_size(&one)),
          *dwork = malloc(sizeof(float) * conv_winograd_dw_work_size(&one));
    winograd_dw wd;
    conv_winograd_dw_begin(&wd, sums, dwork, &one);
    for (int i = 0; i < s->n; i++) {
        conv_winograd_prepare(prep, dy + i * ys, &t);
        forward_conv2d_winograd_rows(dx + i * xs, (size_t)s->h * s->w, prep, ut, NULL, NULL, &t, 0, t.oh, work);
        conv_winograd_dw_add(&wd, x + i * xs, prep);
        for (int o = 0; dp[1] && o < s->oc; o++)
            for (int j = 0; j < s->oh * s->ow; j++) dp[1][o] += dy[i * ys + (size_t)o * s->oh * s->ow + j];
    }
    conv_winograd_dw_finish(&wd);
    conv_winograd_dw_gradient(dp[0], sums, &one, 0, (size_t)s->oc * s->c);
    free(wt); free(ut); free(prep); free(work); free(sums); free(dwork);
}

TEST(gradcheck_conv2d_winograd_training_path)
{
    if (!conv_winograd_available()) return;
    conv_shape s = {.n = 2, .c = 8, .h = 7, .w = 10, .oc = 9, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1};
    REQUIRE(conv_shape_init(&s) == 0 && conv_winograd_shape(&s));
    gc_case c = {.name = "conv2d Winograd", .nx = (size_t)s.n * s.c * s.h * s.w,
                 .ny = (size_t)s.n * s.oc * s.oh * s.ow, .ctx = &s, .fwd = wino_f, .bwd = wino_b};
    c.np[0] = (size_t)s.oc * s.c * 9;
    c.np[1] = (size_t)s.oc;
    c.params[0] = malloc(sizeof(float) * c.np[0]);
    c.params[1] = malloc(sizeof(float) * c.np[1]);
    fill(c.params[0], c.np[0], 0.5f);
    fill(c.params[1], c.np[1], 0.5f);
    float *x = malloc(sizeof(float) * c.nx);
    fill(x, c.nx, 1.0f);
    gradcheck(&c, x);
    free(x); free(c.params[0]); free(c.params[1]);
}

/* ---- linear */
static int lin_dims[3] = {3, 5, 4};   /* n, in, out */
static void lin_f(gc_case *c, const float *x, float *y)
{ forward_linear(y, x, c->params[0], c->params[1], lin_dims[0], lin_dims[1], lin_dims[2]); }
static void lin_b(gc_case *c, const float *x, const float *dy, float *dx, float **dp)
{ backward_linear(dx, dp[0], dp[1], dy, x, c->params[0], lin_dims[0], lin_dims[1], lin_dims[2]); }

TEST(gradcheck_linear)
{
    gc_case c = {.name = "linear", .nx = 15, .ny = 12, .fwd = lin_f, .bwd = lin_b};
    c.np[0] = 20; c.np[1] = 4;
    float w[20], b[4], x[15];
    c.params[0] = w; c.params[1] = b;
    fill(w, 20, 0.5f); fill(b, 4, 0.5f); fill(x, 15, 1.0f);
    gradcheck(&c, x);
}

/* ---- pooling */
static void maxp_f(gc_case *c, const float *x, float *y)
{
    pool_shape *s = c->ctx;
    int32_t *am = malloc(sizeof(int32_t) * c->ny);
    forward_maxpool(y, am, x, s);
    free(am);
}
static void maxp_b(gc_case *c, const float *x, const float *dy, float *dx, float **dp)
{
    pool_shape *s = c->ctx;
    int32_t *am = malloc(sizeof(int32_t) * c->ny);
    float *y = malloc(sizeof(float) * c->ny);
    forward_maxpool(y, am, x, s);
    backward_maxpool(dx, dy, am, s);
    free(am); free(y);
}
static void avgp_f(gc_case *c, const float *x, float *y) { forward_avgpool(y, x, c->ctx); }
static void avgp_b(gc_case *c, const float *x, const float *dy, float *dx, float **dp)
{ backward_avgpool(dx, dy, c->ctx); }

TEST(gradcheck_max_and_avg_pool)
{
    pool_shape s = {.n = 2, .c = 2, .h = 5, .w = 7, .kh = 2, .kw = 3, .sh = 2, .sw = 2};
    REQUIRE(pool_shape_init(&s) == 0);
    size_t nx = 2 * 2 * 5 * 7, ny = (size_t)2 * 2 * s.oh * s.ow;
    float *x = malloc(sizeof(float) * nx);
    fill_separated(x, nx);
    gc_case c = {.name = "maxpool", .nx = nx, .ny = ny, .ctx = &s, .fwd = maxp_f, .bwd = maxp_b};
    gradcheck(&c, x);
    gc_case a = {.name = "avgpool", .nx = nx, .ny = ny, .ctx = &s, .fwd = avgp_f, .bwd = avgp_b};
    gradcheck(&a, x);
    free(x);
    /* ResNet's stem: 3x3, stride 2, padding 1 (windows clipped at the edges) */
    pool_shape sp = {.n = 2, .c = 2, .h = 6, .w = 7, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1};
    REQUIRE(pool_shape_init(&sp) == 0 && sp.oh == 3 && sp.ow == 4);
    nx = 2 * 2 * 6 * 7;
    x = malloc(sizeof(float) * nx);
    fill_separated(x, nx);
    gc_case cp = {.name = "maxpool padded", .nx = nx, .ny = (size_t)2 * 2 * 3 * 4, .ctx = &sp,
                  .fwd = maxp_f, .bwd = maxp_b};
    gradcheck(&cp, x);
    free(x);
}

/* ---- branches: residual add and from= through a whole (smooth) network,
 * where outputs read twice must receive the sum of both gradients */
static const char *BRANCHY =
    "input 2 5 5; a: conv 3 k=3 p=1; b: bn; c: conv 3 k=3 p=1 bias=0; add a; "
    "t: conv 4 k=1 s=2; d: conv 4 k=1 s=2 from=b; add t; gap; flatten; fc: linear 2";
static void net_f(gc_case *c, const float *x, float *y)
{
    vg_model *m = c->ctx;
    memcpy(y, nn_forward(m, x, 2, 5, 5, 1), sizeof(float) * c->ny);
}
static void net_b(gc_case *c, const float *x, const float *dy, float *dx, float **dp)
{
    vg_model *m = c->ctx;
    nn_forward(m, x, 2, 5, 5, 1);
    nn_zero_grad(m);
    nn_backward(m, x, dy, 1);
    memcpy(dx, m->dinput, sizeof(float) * c->nx);
    for (size_t k = 0; k < c->np[0]; k++) dp[0][k] += m->grads[k];
}

/* a whole network on a batch of 2 inputs of 2x5x5, input and parameter
 * gradients (the description's input must be 2 channels, 5 rows) */
static void gradcheck_network(const char *name, const char *desc)
{
    vg_model *m;
    REQUIRE(vg_model_create(desc, 3, &m, NULL, 0) == VG_OK);
    float x[2 * 2 * 5 * 5];
    fill(x, sizeof x / sizeof x[0], 1.0f);
    gc_case c = {.name = name, .nx = sizeof x / sizeof x[0], .ny = 4, .ctx = m,
                 .fwd = net_f, .bwd = net_b, .params = {m->arena}, .np = {m->n_arena}};
    gradcheck(&c, x);
    vg_model_destroy(m);
}

TEST(gradcheck_residual_branches) { gradcheck_network("residual network", BRANCHY); }

/* statistics pooling inside a network: a conv and a training-mode batch
 * norm before it, a linear classifier on the [C, H, 2] statistics after */
TEST(gradcheck_time_stats_in_a_network)
{
    gradcheck_network("timestats network", "input 2 5 0; conv 3 k=3 p=1; bn; timestats; flatten; fc: linear 2");
}

static int gdims[5];  /* n c h w over_h */
static void gap_f(gc_case *c, const float *x, float *y)
{ forward_global_avgpool(y, x, gdims[0], gdims[1], gdims[2], gdims[3], gdims[4]); }
static void gap_b(gc_case *c, const float *x, const float *dy, float *dx, float **dp)
{ backward_global_avgpool(dx, dy, gdims[0], gdims[1], gdims[2], gdims[3], gdims[4]); }

TEST(gradcheck_global_and_time_pool)
{
    for (int over_h = 0; over_h <= 1; over_h++) {
        int d[5] = {2, 3, 4, 5, over_h};
        memcpy(gdims, d, sizeof d);
        float x[120];
        fill(x, 120, 1.0f);
        gc_case c = {.name = over_h ? "gap" : "timepool", .nx = 120,
                     .ny = over_h ? 6 : 24, .fwd = gap_f, .bwd = gap_b};
        gradcheck(&c, x);
    }
}

static void tstats_f(gc_case *c, const float *x, float *y)
{ forward_time_stats(y, x, gdims[0], gdims[1], gdims[2], gdims[3]); }
static void tstats_b(gc_case *c, const float *x, const float *dy, float *dx, float **dp)
{
    float *y = malloc(sizeof(float) * c->ny);
    forward_time_stats(y, x, gdims[0], gdims[1], gdims[2], gdims[3]);
    backward_time_stats(dx, dy, x, y, gdims[0], gdims[1], gdims[2], gdims[3]);
    free(y);
}

TEST(gradcheck_time_stats)
{
    int d[5] = {2, 3, 4, 5, 0};
    memcpy(gdims, d, sizeof d);
    float x[120];
    fill(x, 120, 1.0f);
    gc_case c = {.name = "timestats", .nx = 120, .ny = 48, .fwd = tstats_f, .bwd = tstats_b};
    gradcheck(&c, x);
}

static void lifter_f(gc_case *c, const float *x, float *y)
{
    float work[LIFTER_WORK(6, 5, 3)];
    forward_lifter(y, x, work, gdims[0], gdims[1], gdims[2], gdims[3], 3);
}
static void lifter_b(gc_case *c, const float *x, const float *dy, float *dx, float **dp)
{
    float work[LIFTER_WORK(6, 5, 3)];
    backward_lifter(dx, dy, work, gdims[0], gdims[1], gdims[2], gdims[3], 3);
}

TEST(gradcheck_lifter)
{
    int d[5] = {2, 2, 6, 5, 0};
    memcpy(gdims, d, sizeof d);
    float x[120];
    fill(x, 120, 1.0f);
    gc_case c = {.name = "lifter", .nx = 120, .ny = 120, .fwd = lifter_f, .bwd = lifter_b};
    gradcheck(&c, x);
}

/* What the lifter is for: a column made of a slow cosine over H (the
 * envelope, DCT index 2) and a fast one (harmonic ripple, index 11) comes
 * out as the slow one alone when 4 coefficients are kept; applying it again
 * changes nothing (a projection). */
TEST(lifter_keeps_the_envelope_and_drops_the_ripple)
{
    enum { H = 16, W = 3, K = 4 };
    float x[H * W], y[H * W], y2[H * W], want[H * W], work[LIFTER_WORK(H, W, K)];
    for (int r = 0; r < H; r++)
        for (int t = 0; t < W; t++) {
            want[r * W + t] = (1.0f + t) * cosf((float)M_PI * (r + 0.5f) * 2 / H);
            x[r * W + t] = want[r * W + t] + 0.7f * cosf((float)M_PI * (r + 0.5f) * 11 / H);
        }
    forward_lifter(y, x, work, 1, 1, H, W, K);
    forward_lifter(y2, y, work, 1, 1, H, W, K);
    for (int i = 0; i < H * W; i++) {
        CHECKF(fabsf(y[i] - want[i]) < 1e-5f, "y[%d] = %g, want %g", i, y[i], want[i]);
        CHECKF(fabsf(y2[i] - y[i]) < 1e-5f, "y2[%d] = %g, y %g", i, y2[i], y[i]);
    }
}

/* the lifter as a network's first layer, before a training-mode conv and
 * batch norm (no ReLU: its kinks would break the finite differences) */
TEST(gradcheck_lifter_in_a_network)
{
    gradcheck_network("lifter network", "input 2 5 0; lifter n=3; conv 3 k=3 p=1; bn; timestats; flatten; fc: linear 2");
}

/* ---- relu, dropout, log-softmax */
static void relu_f(gc_case *c, const float *x, float *y) { forward_relu(y, x, c->nx); }
static void relu_b(gc_case *c, const float *x, const float *dy, float *dx, float **dp)
{
    float *y = malloc(sizeof(float) * c->nx);
    forward_relu(y, x, c->nx);
    backward_relu(dx, dy, y, c->nx);
    free(y);
}
static uint64_t drop_state;
static void drop_f(gc_case *c, const float *x, float *y)
{
    uint64_t st = drop_state;            /* same mask on every evaluation */
    float *mask = malloc(sizeof(float) * c->nx);
    forward_dropout(y, mask, x, c->nx, 0.4f, &st);
    free(mask);
}
static void drop_b(gc_case *c, const float *x, const float *dy, float *dx, float **dp)
{
    uint64_t st = drop_state;
    float *mask = malloc(sizeof(float) * c->nx), *y = malloc(sizeof(float) * c->nx);
    forward_dropout(y, mask, x, c->nx, 0.4f, &st);
    backward_dropout(dx, dy, mask, c->nx);
    free(mask); free(y);
}
static void lsm_f(gc_case *c, const float *x, float *y) { forward_logsoftmax(y, x, 4, 3); }
static void lsm_b(gc_case *c, const float *x, const float *dy, float *dx, float **dp)
{
    float y[12];
    forward_logsoftmax(y, x, 4, 3);
    backward_logsoftmax(dx, dy, y, 4, 3);
}

TEST(gradcheck_relu_dropout_logsoftmax)
{
    float x[60];
    fill_separated(x, 60);
    gc_case r = {.name = "relu", .nx = 60, .ny = 60, .fwd = relu_f, .bwd = relu_b};
    gradcheck(&r, x);
    drop_state = 7;
    gc_case d = {.name = "dropout", .nx = 60, .ny = 60, .fwd = drop_f, .bwd = drop_b};
    gradcheck(&d, x);
    fill(x, 12, 1.0f);
    gc_case l = {.name = "logsoftmax", .nx = 12, .ny = 12, .fwd = lsm_f, .bwd = lsm_b};
    gradcheck(&l, x);
}

/* ---- batch norm (training mode: gradients flow through the batch statistics) */
static int bn_dims[3] = {3, 2, 5};
static void bn_f(gc_case *c, const float *x, float *y)
{
    float stats[4];
    forward_batchnorm_train(y, stats, NULL, NULL, x, c->params[0], c->params[1],
                            bn_dims[0], bn_dims[1], bn_dims[2], 1e-5f, 0.1f);
}
static void bn_b(gc_case *c, const float *x, const float *dy, float *dx, float **dp)
{
    float y[30], stats[4];
    forward_batchnorm_train(y, stats, NULL, NULL, x, c->params[0], c->params[1],
                            bn_dims[0], bn_dims[1], bn_dims[2], 1e-5f, 0.1f);
    backward_batchnorm(dx, dp[0], dp[1], dy, x, stats, c->params[0], bn_dims[0], bn_dims[1],
                       bn_dims[2]);
}

TEST(gradcheck_batchnorm)
{
    float x[30], g[2] = {1.3f, 0.7f}, b[2] = {0.1f, -0.2f};
    fill(x, 30, 1.0f);
    gc_case c = {.name = "batchnorm", .nx = 30, .ny = 30, .fwd = bn_f, .bwd = bn_b};
    c.params[0] = g; c.params[1] = b; c.np[0] = c.np[1] = 2;
    gradcheck(&c, x);
}

/* ---- softmax cross-entropy (weighted): y is the scalar loss */
static int ce_labels[5] = {0, 1, 1, 0, 1};
static float ce_w[2] = {1.5f, 0.5f};
static void ce_f(gc_case *c, const float *x, float *y)
{ y[0] = softmax_cross_entropy(NULL, NULL, x, ce_labels, ce_w, 5, 2); }
static void ce_b(gc_case *c, const float *x, const float *dy, float *dx, float **dp)
{
    softmax_cross_entropy(dx, NULL, x, ce_labels, ce_w, 5, 2);
    for (int i = 0; i < 10; i++) dx[i] *= dy[0];
}

TEST(gradcheck_cross_entropy)
{
    float x[10];
    fill(x, 10, 1.0f);
    gc_case c = {.name = "cross_entropy", .nx = 10, .ny = 1, .fwd = ce_f, .bwd = ce_b};
    gradcheck(&c, x);
}
