/* Whole networks and optimizers against PyTorch (tests/ref/make_nn_ref.py). */
#include "../../src/nn/model.h"
#include "st_read.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void nn_optimizer_step(vg_optimizer *o);

/* Copy every tensor of the model from the fixture (same names as PyTorch). */
static int load_state(vg_model *m, st_file *f)
{
    for (int i = 0; i < m->n_tensors; i++) {
        size_t n;
        float *src = st_get(f, m->tensors[i].name, &n);
        if (!src || n != m->tensors[i].count) {
            test_fail(__FILE__, __LINE__, "fixture lacks %s", m->tensors[i].name);
            return -1;
        }
        memcpy(m->arena + m->tensors[i].offset, src, sizeof(float) * n);
    }
    return 0;
}

static void arch_case(const char *arch, const char *file)
{
    st_file *f = st_open(file);
    REQUIRE(f);
    vg_model *m = NULL;
    REQUIRE(vg_model_create(arch, 1, &m, NULL, 0) == VG_OK);
    REQUIRE(load_state(m, f) == 0);
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].kind == L_DROPOUT) m->layers[i].p = 0;   /* PyTorch side has none */
    int xs[4];
    st_shape(f, "x", xs, 4);
    float *x = st_get(f, "x", NULL), *lab = st_get(f, "labels", NULL);
    int labels[16];
    for (int i = 0; i < xs[0]; i++) labels[i] = (int)lab[i];

    const float *logits = nn_forward(m, x, xs[0], xs[2], xs[3], 1);
    REQUIRE(logits);
    allclose("train-mode logits", logits, st_get(f, "logits", NULL), (size_t)xs[0] * 2, RTOL, ATOL);
    float dlogits[32];
    float loss = softmax_cross_entropy(dlogits, NULL, logits, labels, NULL, xs[0], 2);
    allclose("loss", &loss, st_get(f, "loss", NULL), 1, RTOL, ATOL);
    nn_zero_grad(m);
    nn_backward(m, x, dlogits, 0);
    int compared = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const nn_tensor *t = &m->tensors[i];
        char key[96];
        snprintf(key, sizeof key, "%s.%s", t->name, t->is_buffer ? "after" : "grad");
        char what[128];
        snprintf(what, sizeof what, "%s %s", arch, key);
        float *ours = t->is_buffer ? m->arena + t->offset : m->grads + t->offset;
        allclose(what, ours, st_get(f, key, NULL), t->count, RTOL, ATOL);
        compared++;
    }
    CHECK(compared == m->n_tensors && compared > 0);
    float eval_logits[32];
    CHECK(vg_model_forward(m, x, xs[0], xs[2], xs[3], eval_logits) == VG_OK);
    allclose("eval-mode logits", eval_logits, st_get(f, "logits_eval", NULL), (size_t)xs[0] * 2,
             RTOL, ATOL);
    vg_model_destroy(m);
    st_close(f);
}

TEST(torch_arch_lenet_forward_loss_gradients)
{
    arch_case("lenet", "arch_lenet.safetensors");
}

TEST(torch_arch_cnn_forward_loss_gradients)
{
    arch_case("cnn", "arch_cnn.safetensors");
}

/* torchvision's layout and BasicBlock with few channels (TinyResNet in
 * tests/ref/torch_models.py): residual adds, a projection shortcut, the
 * padded stem max-pool. */
static char *tiny_resnet(void)
{
    static char d[4096];
    const int widths[2] = {8, 16}, blocks[2] = {2, 1};
    return nn_resnet_description(d, sizeof d, 2, widths, blocks, 32, 2) ? NULL : d;
}

TEST(torch_arch_resnet_forward_loss_gradients)
{
    arch_case(tiny_resnet(), "arch_resnet_tiny.safetensors");
}

TEST(resnet18_has_torchvisions_size_and_names)
{
    vg_model *m;
    REQUIRE(vg_model_create("resnet18", 0, &m, NULL, 0) == VG_OK);
    CHECKF(vg_model_num_params(m) == 11689512, "%zu parameters", vg_model_num_params(m));
    CHECKF(fabs(vg_model_macs(m, 224, 224) - 1.814e9) < 0.01e9, "%.4g MACs", vg_model_macs(m, 224, 224));
    const char *names[] = {"conv1.weight", "bn1.running_var", "layer1.1.bn2.bias", "layer2.0.downsample.0.weight",
                           "layer4.1.conv2.weight", "fc.weight"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) CHECKF(nn_find_tensor(m, names[i]), "no %s", names[i]);
    CHECK(nn_find_tensor(m, "layer1.0.downsample.0.weight") == NULL);   /* 64 -> 64, stride 1 */
    vg_model_destroy(m);
}

TEST(branch_descriptions_are_checked)
{
    vg_model *m = NULL;
    char err[256];
    CHECK(vg_model_create("input 1 4 4; a: relu; add nowhere", 0, &m, err, sizeof err) != VG_OK);
    CHECKF(strstr(err, "add: expected the name of an earlier layer"), "%s", err);
    CHECK(vg_model_create("input 1 4 4; a: relu; c: conv 2 k=1 from=later; later: relu", 0, &m, err, sizeof err) != VG_OK);
    CHECKF(strstr(err, "no earlier layer called 'later'"), "%s", err);
    CHECK(vg_model_create("input 1 4 4; a: relu; conv 2 k=1; add a; gap; flatten; linear 2", 0, &m, err, sizeof err) != VG_OK);
    CHECKF(strstr(err, "differs from the"), "%s", err);
    CHECK(vg_model_create("input 1 4 4; avgpool k=3 s=2 p=1; gap; flatten; linear 2", 0, &m, err, sizeof err) != VG_OK);
    CHECKF(strstr(err, "avgpool: padding"), "%s", err);
    CHECK(m == NULL);
}

TEST(lenet_has_the_reference_parameter_names_and_shapes)
{
    vg_model *m;
    REQUIRE(vg_model_create("lenet", 0, &m, NULL, 0) == VG_OK);
    const char *names[] = {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight",
                           "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"};
    int shapes[][4] = {{6, 3, 5, 5}, {6}, {16, 6, 5, 5}, {16}, {120, 400}, {120}, {84, 120}, {84},
                       {2, 84}, {2}};
    CHECK(m->n_tensors == 10);
    for (int i = 0; i < 10; i++) {
        nn_tensor *t = nn_find_tensor(m, names[i]);
        CHECKF(t != NULL, "missing %s", names[i]);
        if (t) CHECKF(!memcmp(t->shape, shapes[i], sizeof(int) * (size_t)t->ndim), "%s shape", names[i]);
    }
    CHECK(vg_model_num_params(m) == 61326);   /* as NOTES.md counts */
    vg_model_destroy(m);
}

TEST(cnn_size_and_any_length_input)
{
    vg_model *m;
    REQUIRE(vg_model_create("cnn", 0, &m, NULL, 0) == VG_OK);
    size_t np = vg_model_num_params(m);
    CHECKF(np > 100000 && np < 500000, "cnn has %zu parameters", np);
    float *x = calloc(128 * 700, sizeof(float)), logits[2];
    for (int w = 20; w <= 700; w += 340) {
        for (int i = 0; i < 128 * w; i++) x[i] = sinf(i * 0.01f);
        CHECKF(vg_model_forward(m, x, 1, 128, w, logits) == VG_OK, "width %d", w);
        CHECK(isfinite(logits[0]) && isfinite(logits[1]));
    }
    CHECK(vg_model_forward(m, x, 1, 64, 100, logits) == VG_EARG);   /* wrong band count */
    free(x);
    vg_model_destroy(m);
}

/* Inference keeps the Winograd transform of each layer's weights
 * (conv2d_winograd.c) and must make it again when the weights change, as
 * training and loading change them in place. After conv3's weights are
 * halved, the logits follow them: they equal (within 1e-4) those of the
 * baseline kernels, which take no Winograd path, and differ from before. */
TEST(cnn_inference_follows_changed_weights)
{
    vg_model *m;
    REQUIRE(vg_model_create("cnn", 3, &m, NULL, 0) == VG_OK);
    float *x = calloc(128 * 96, sizeof(float)), before[2], after[2], base[2];
    for (int i = 0; i < 128 * 96; i++) x[i] = sinf(i * 0.013f) + 0.5f * cosf(i * 0.0071f);
    REQUIRE(vg_model_forward(m, x, 1, 128, 96, before) == VG_OK);
    const nn_tensor *t = nn_find_tensor(m, "conv3.weight");
    REQUIRE(t);
    for (size_t i = 0; i < t->count; i++) m->arena[t->offset + i] *= 0.5f;
    REQUIRE(vg_model_forward(m, x, 1, 128, 96, after) == VG_OK);
    int forced = conv_direct_set_isa(CONV_ISA_BASE) == 0;
    REQUIRE(vg_model_forward(m, x, 1, 128, 96, base) == VG_OK);
    conv_direct_set_isa(CONV_ISA_AUTO);
    CHECK(forced || !conv_winograd_available());
    allclose("logits after a weight change", after, base, 2, 1e-4f, 1e-5f);
    CHECKF(fabsf(after[0] - before[0]) + fabsf(after[1] - before[1]) > 1e-3f,
           "the weight change did not reach the logits (%g %g -> %g %g)", before[0], before[1], after[0], after[1]);
    /* one filter, the last of the widest layer (the compare runs by parts
     * on several threads): the logits follow it too */
    const nn_tensor *t5 = nn_find_tensor(m, "conv5.weight");
    REQUIRE(t5);
    for (int k = 1; k <= 9; k++) m->arena[t5->offset + t5->count - k] += 3.0f;
    float last[2];
    REQUIRE(vg_model_forward(m, x, 1, 128, 96, last) == VG_OK);
    forced = conv_direct_set_isa(CONV_ISA_BASE) == 0;
    REQUIRE(vg_model_forward(m, x, 1, 128, 96, base) == VG_OK);
    conv_direct_set_isa(CONV_ISA_AUTO);
    allclose("logits after changing conv5's last filter", last, base, 2, 1e-4f, 1e-5f);
    CHECKF(fabsf(last[0] - after[0]) + fabsf(last[1] - after[1]) > 1e-4f,
           "conv5's last filter did not reach the logits (%g %g -> %g %g)", after[0], after[1], last[0], last[1]);
    free(x);
    vg_model_destroy(m);
}

/* One training pass of M on X (batch 2): the gradients of every tensor,
 * then the input's, into G. */
static void training_gradients(vg_model *m, const float *x, int w, float *g)
{
    const int labels[2] = {0, 1};
    float dlogits[4];
    const float *logits = nn_forward(m, x, 2, 128, w, 1);
    REQUIRE(logits);
    softmax_cross_entropy(dlogits, NULL, logits, labels, NULL, 2, 2);
    nn_zero_grad(m);
    nn_backward(m, x, dlogits, 1);
    memcpy(g, m->grads, sizeof(float) * m->n_arena);
    memcpy(g + m->n_arena, m->dinput, sizeof(float) * 2 * 128 * w);
}

/* The gradients of the same pass with the baseline kernels (no Winograd,
 * no direct kernels) into BASE, and every parameter's within the PyTorch
 * fixtures' tolerance of OURS */
static void match_the_baseline(vg_model *m, const float *x, int w, const float *ours, float *base)
{
    const int forced = conv_direct_set_isa(CONV_ISA_BASE) == 0;
    training_gradients(m, x, w, base);
    conv_direct_set_isa(CONV_ISA_AUTO);
    CHECK(forced || !conv_winograd_available());
    for (int i = 0; i < m->n_tensors; i++) {
        const nn_tensor *t = &m->tensors[i];
        if (!t->is_buffer) allclose(t->name, ours + t->offset, base + t->offset, t->count, RTOL, ATOL);
    }
}

/* Training runs the 3x3 layers' forward pass and input gradient by
 * Winograd where inference does (conv_winograd_available), each from a
 * transform of the weights kept between steps. After a step has changed
 * the weights (conv3's and conv5's halved here), every gradient must
 * follow them: equal, within the PyTorch fixtures' tolerance, the baseline
 * kernels' gradients (no Winograd), and differ from the step before. */
TEST(cnn_training_gradients_follow_changed_weights)
{
    vg_model *m;
    const int w = 75;   /* partial tiles at every layer */
    REQUIRE(vg_model_create("cnn", 5, &m, NULL, 0) == VG_OK);
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].kind == L_DROPOUT) m->layers[i].p = 0;
    const size_t ng = m->n_arena + 2 * 128 * (size_t)w;
    float *x = malloc(sizeof(float) * 2 * 128 * w), *before = malloc(sizeof(float) * ng),
          *after = malloc(sizeof(float) * ng), *base = malloc(sizeof(float) * ng);
    REQUIRE(x && before && after && base);
    for (int i = 0; i < 2 * 128 * w; i++) x[i] = sinf(i * 0.013f) + 0.5f * cosf(i * 0.0071f);
    float *saved = malloc(sizeof(float) * m->n_arena);
    REQUIRE(saved);
    memcpy(saved, m->arena, sizeof(float) * m->n_arena);
    training_gradients(m, x, w, before);
    const char *changed[] = {"conv3.weight", "conv5.weight"};
    for (int k = 0; k < 2; k++) {
        const nn_tensor *t = nn_find_tensor(m, changed[k]);
        REQUIRE(t);
        for (size_t i = 0; i < t->count; i++) saved[t->offset + i] *= 0.5f;
    }
    /* each pass starts from the same weights and running statistics */
    memcpy(m->arena, saved, sizeof(float) * m->n_arena);
    training_gradients(m, x, w, after);
    memcpy(m->arena, saved, sizeof(float) * m->n_arena);
    match_the_baseline(m, x, w, after, base);
    allclose("input gradient", after + m->n_arena, base + m->n_arena, 2 * 128 * (size_t)w, RTOL, ATOL);
    const nn_tensor *c2 = nn_find_tensor(m, "conv2.weight");
    double moved = 0;
    for (size_t i = 0; i < c2->count; i++) moved += fabsf(after[c2->offset + i] - before[c2->offset + i]);
    CHECKF(moved > 1e-3, "conv2's gradient did not follow conv3's and conv5's weights (moved %g)", moved);
    free(x); free(before); free(after); free(base); free(saved);
    vg_model_destroy(m);
}

/* A 3x3 layer with a bias takes the Winograd training path too: its weight
 * gradient by the transforms (conv2d_winograd_dw.c), its bias gradient
 * summed beside them. Against the baseline kernels at the fixtures'
 * tolerance, on a network large enough for batch-parallel passes (the
 * path that runs it). */
TEST(winograd_training_of_a_biased_layer_matches_the_baseline)
{
    const char *arch = "input 1 128 0; c1: conv 16 k=3 p=1; relu; c2: conv 16 k=3 p=1 bias=1; relu; timepool; "
                       "flatten; fc: linear 2";
    const int w = 70;
    vg_model *m;
    REQUIRE(vg_model_create(arch, 7, &m, NULL, 0) == VG_OK);
    const size_t ng = m->n_arena + 2 * 128 * (size_t)w;
    float *x = malloc(sizeof(float) * 2 * 128 * w), *wino = malloc(sizeof(float) * ng),
          *base = malloc(sizeof(float) * ng);
    REQUIRE(x && wino && base);
    for (int i = 0; i < 2 * 128 * w; i++) x[i] = sinf(i * 0.021f) + 0.3f * cosf(i * 0.0037f);
    training_gradients(m, x, w, wino);
    CHECK(m->batch_parallel);
    match_the_baseline(m, x, w, wino, base);
    const nn_tensor *b = nn_find_tensor(m, "c2.bias");
    REQUIRE(b);
    double norm = 0;
    for (size_t i = 0; i < b->count; i++) norm += fabsf(wino[b->offset + i]);
    CHECKF(norm > 1e-4, "c2's bias gradient is %g", norm);
    free(x); free(wino); free(base);
    vg_model_destroy(m);
}

/* A 12-parameter "model" for the optimizer fixtures. */
static vg_model *vector_model(void)
{
    vg_model *m;
    if (vg_model_create("input 12 1 1; v: linear 1 bias=0", 0, &m, NULL, 0)) return NULL;
    return m;
}

static void optim_case(st_file *f, const char *name, vg_optim_config cfg)
{
    vg_model *m = vector_model();
    REQUIRE(m && m->n_arena == 12);
    memcpy(m->arena, st_get(f, "p0", NULL), sizeof(float) * 12);
    vg_optimizer *o = vg_optimizer_create(m, &cfg);
    REQUIRE(o);
    float *grads = st_get(f, "grads", NULL), *hist = st_get(f, name, NULL);
    REQUIRE(hist);
    for (int s = 0; s < 10; s++) {
        memcpy(m->grads, grads + 12 * s, sizeof(float) * 12);
        nn_optimizer_step(o);
        char what[64];
        snprintf(what, sizeof what, "%s step %d", name, s + 1);
        allclose(what, m->arena, hist + 12 * s, 12, 0, 1e-5f);
    }
    vg_optimizer_destroy(o);
    vg_model_destroy(m);
}

TEST(torch_optimizers_ten_steps)
{
    st_file *f = st_open("optim.safetensors");
    REQUIRE(f);
    vg_optim_config c;
    vg_optim_config_default(&c);
    c.kind = VG_OPT_SGD; c.lr = 0.1f; c.momentum = 0;
    optim_case(f, "sgd", c);
    c.lr = 0.01f; c.momentum = 0.9f;
    optim_case(f, "sgd_momentum", c);
    c.lr = 0.05f; c.weight_decay = 0.01f;
    optim_case(f, "sgd_momentum_wd", c);
    c.weight_decay = 0; c.lr = 0.1f; c.clip_norm = 0.5f;
    optim_case(f, "sgd_clip", c);
    vg_optim_config_default(&c);
    c.kind = VG_OPT_ADAM; c.lr = 0.001f;
    optim_case(f, "adam", c);
    c.lr = 0.01f; c.weight_decay = 0.1f;
    optim_case(f, "adam_wd", c);
    c.kind = VG_OPT_ADAMW;
    optim_case(f, "adamw", c);
    st_close(f);
}

TEST(torch_lr_schedules)
{
    st_file *f = st_open("schedules.safetensors");
    REQUIRE(f);
    vg_optim_config c;
    vg_optim_config_default(&c);
    c.lr = 0.1f;
    float got[12];
    c.schedule = VG_LR_STEP; c.step_size = 3; c.gamma = 0.5f;
    for (int t = 0; t < 10; t++) got[t] = vg_lr_at(&c, t);
    allclose("step", got, st_get(f, "step", NULL), 10, 1e-5f, 1e-7f);
    c.schedule = VG_LR_COSINE; c.warmup = 0; c.total = 10;
    for (int t = 0; t < 12; t++) got[t] = vg_lr_at(&c, t);
    allclose("cosine", got, st_get(f, "cosine", NULL), 11, 1e-5f, 1e-7f);
    c.warmup = 3; c.total = 10;
    for (int t = 0; t < 12; t++) got[t] = vg_lr_at(&c, t);
    allclose("cosine_warmup", got, st_get(f, "cosine_warmup", NULL), 11, 1e-5f, 1e-7f);
    st_close(f);
}
