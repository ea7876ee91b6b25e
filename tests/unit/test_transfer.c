/* Transfer learning: --init, --freeze features, the frozen-backbone cache,
 * output-layer replacement, --unfreeze-after. */
#include "../../src/nn/model.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int train(const vg_dataset *d, const vg_model *init, int freeze, int unfreeze, int no_cache,
                 vg_train_result *r)
{
    vg_train_config c;
    vg_train_config_default(&c, "cnn");
    c.epochs = 2;
    c.batch = 8;
    c.patience = 0;
    c.augment = 0;
    c.cache_dir = NULL;
    c.init = init;
    c.freeze_features = freeze;
    c.unfreeze_after = unfreeze;
    c.no_prefix_cache = no_cache;
    char err[256];
    int rc = vg_train(d, &c, NULL, r, err, sizeof err);
    if (rc) test_fail(__FILE__, __LINE__, "vg_train: %s", err);
    return rc;
}

/* Training again without the frozen-backbone cache (the backbone runs every
 * step) must give the same weights as R, up to float rounding. */
static void check_cache_changes_nothing(const vg_dataset *d, const vg_model *init, const vg_train_result *r)
{
    vg_train_result r2;
    if (train(d, init, 1, 0, 1, &r2) != VG_OK) return;
    CHECK(r2.prefix_cached == 0);
    float worst = 0;
    for (size_t k = 0; k < r->last->n_arena; k++)
        worst = fmaxf(worst, fabsf(r->last->arena[k] - r2.last->arena[k]));
    CHECKF(worst < 1e-4f, "cached and recomputed backbones disagree by %g", worst);
    vg_train_result_free(&r2);
}

static int is_feature_tensor(const vg_model *m, const nn_tensor *t)
{
    layer_kind k = m->layers[t->layer].kind;
    return k == L_CONV || k == L_BN;
}

TEST(transfer_freeze_keeps_features_bit_identical)
{
    const char *root = tts_corpus();
    REQUIRE(root);
    vg_dataset *d;
    REQUIRE(vg_dataset_scan(root, NULL, &d, NULL, 0) == VG_OK);
    vg_model *init;
    REQUIRE(vg_model_create("cnn", 3, &init, NULL, 0) == VG_OK);
    vg_frontend fe;
    vg_frontend_default(&fe, VG_FE_LOGMEL);
    fe.input_mean = -20.0f;
    fe.input_std = 8.0f;
    vg_frontend_to_model(init, &fe);
    vg_train_result r, r2;
    REQUIRE(train(d, init, 1, 0, 0, &r) == VG_OK);
    CHECK(r.prefix_cached == 1);
    int frozen_same = 1, head_changed = 0, n_frozen = 0;
    for (int i = 0; i < r.last->n_tensors; i++) {
        const nn_tensor *t = &r.last->tensors[i];
        const nn_tensor *u = nn_find_tensor(init, t->name);
        int same = !memcmp(r.last->arena + t->offset, init->arena + u->offset, sizeof(float) * t->count);
        if (is_feature_tensor(r.last, t)) { frozen_same &= same; n_frozen++; }
        else head_changed |= !same;
    }
    CHECKF(frozen_same && n_frozen == 25, "frozen tensors (incl. batch-norm running statistics) changed");
    CHECK(head_changed);
    /* the model keeps the initial model's normalisation */
    vg_frontend got;
    CHECK(vg_frontend_from_model(r.best, &got) == VG_OK && got.input_mean == -20.0f && got.input_std == 8.0f);
    /* without the cache, the frozen part runs every step: same training */
    check_cache_changes_nothing(d, init, &r);
    /* --unfreeze-after 1: the second epoch trains the features too */
    REQUIRE(train(d, init, 1, 1, 0, &r2) == VG_OK);
    const nn_tensor *c1 = nn_find_tensor(r2.last, "conv1.weight"), *c0 = nn_find_tensor(init, "conv1.weight");
    CHECK(memcmp(r2.last->arena + c1->offset, init->arena + c0->offset, sizeof(float) * c1->count) != 0);
    vg_train_result_free(&r2);
    vg_train_result_free(&r);
    vg_model_destroy(init);
    vg_dataset_free(d);
}

TEST(transfer_replaces_the_output_layer_of_an_imported_vgg)
{
    const char *root = tts_corpus();
    REQUIRE(root);
    vg_dataset *d;
    REQUIRE(vg_dataset_scan(root, NULL, &d, NULL, 0) == VG_OK);
    /* torchvision's VGG class, small, 3 classes, saved by torch.save */
    const char *desc =
        "input 3 56 56; features.0: conv 8 k=3 p=1; relu; maxpool k=2; features.3: conv 16 k=3 p=1; relu; "
        "maxpool k=2; avgpool k=2; flatten; classifier.0: linear 32; relu; dropout p=0.5; "
        "classifier.3: linear 32; relu; dropout p=0.5; classifier.6: linear 3";
    char *pth = path_join(fixture_dir(), "pth/vgg_small_zip.pth");
    vg_model *init;
    char err[256];
    REQUIRE(vg_model_import_pth(pth, desc, &init, err, sizeof err) == VG_OK);
    vg_train_result r;
    REQUIRE(train(d, init, 1, 0, 0, &r) == VG_OK);
    CHECK(vg_model_num_classes(r.best) == 2);
    const nn_tensor *out = nn_find_tensor(r.best, "classifier.6.weight");
    CHECK(out && out->shape[0] == 2 && out->shape[1] == 32);
    const nn_tensor *a = nn_find_tensor(r.best, "features.3.weight"), *b = nn_find_tensor(init, "features.3.weight");
    CHECK(!memcmp(r.best->arena + a->offset, init->arena + b->offset, sizeof(float) * a->count));
    CHECK(r.prefix_cached == 1);
    /* the fine-tuned model predicts through its image front end */
    float p, l[2];
    CHECK(vg_predict_file(r.best, d->items[0].path, 1, &p, l) == VG_OK);
    vg_train_result_free(&r);
    vg_model_destroy(init);
    vg_dataset_free(d);
    free(pth);
}

TEST(transfer_fine_tunes_an_imported_resnet_with_frozen_features)
{
    const char *root = tts_corpus();
    REQUIRE(root);
    vg_dataset *d;
    REQUIRE(vg_dataset_scan(root, NULL, &d, NULL, 0) == VG_OK);
    /* torchvision's ResNet layout and BasicBlock, small, 3 classes (torch.save) */
    char desc[4096];
    const int widths[2] = {8, 16}, blocks[2] = {2, 1};
    REQUIRE(nn_resnet_description(desc, sizeof desc, 2, widths, blocks, 32, 3) == 0);
    char *pth = path_join(fixture_dir(), "pth/resnet_tiny_legacy.pth");
    vg_model *init;
    char err[256];
    REQUIRE(vg_model_import_pth(pth, desc, &init, err, sizeof err) == VG_OK);
    vg_train_result r, r2;
    REQUIRE(train(d, init, 1, 0, 0, &r) == VG_OK);
    CHECK(vg_model_num_classes(r.best) == 2);
    const nn_tensor *fc = nn_find_tensor(r.best, "fc.weight");
    CHECK(fc && fc->shape[0] == 2 && fc->shape[1] == 16);
    /* every convolution and batch norm (running statistics too) is untouched:
     * stem 1 + 4, three blocks of 2 x (1 + 4), the shortcut 1 + 4 */
    int frozen_same = 1, n_frozen = 0;
    for (int i = 0; i < r.last->n_tensors; i++) {
        const nn_tensor *t = &r.last->tensors[i];
        if (!is_feature_tensor(r.last, t)) continue;
        const nn_tensor *u = nn_find_tensor(init, t->name);
        frozen_same &= u && !memcmp(r.last->arena + t->offset, init->arena + u->offset, sizeof(float) * t->count);
        n_frozen++;
    }
    CHECKF(frozen_same && n_frozen == 5 + 3 * 10 + 5, "%d frozen tensors, changed: %d", n_frozen, !frozen_same);
    /* the backbone (residual branches included) ran once per recording */
    CHECK(r.prefix_cached == 1);
    check_cache_changes_nothing(d, init, &r);
    /* --unfreeze-after 1 trains through the residual branches */
    REQUIRE(train(d, init, 1, 1, 0, &r2) == VG_OK);
    const nn_tensor *a = nn_find_tensor(r2.last, "layer2.0.downsample.0.weight"),
                    *b = nn_find_tensor(init, "layer2.0.downsample.0.weight");
    CHECK(a && b && memcmp(r2.last->arena + a->offset, init->arena + b->offset, sizeof(float) * a->count) != 0);
    vg_train_result_free(&r2);
    vg_train_result_free(&r);
    vg_model_destroy(init);
    vg_dataset_free(d);
    free(pth);
}
