/* PyTorch checkpoints in C: the reference project's models reproduce
 * PyTorch's logits; both formats of every supported architecture match
 * PyTorch and round-trip to safetensors; hostile files are refused. */
#include "../../src/nn/model.h"
#include "st_read.h"
#include "test.h"
#include "voxgender.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TEST(pth_seed_checkpoints_reproduce_pytorch_logits)
{
    st_file *f = st_open("seed/seed_transform.safetensors");
    REQUIRE(f);
    const char *names[2] = {"CNN_handmade_1", "CNN_handmade_2"};
    char *img = path_join(shared_dir(), "seed/test_image_male.jpg");
    for (int k = 0; k < 2; k++) {
        char rel[64], key[64];
        snprintf(rel, sizeof rel, "seed/%s.pth", names[k]);
        snprintf(key, sizeof key, "%s.logits", names[k]);
        char *pth = path_join(shared_dir(), rel);
        vg_model *m;
        char err[256];
        REQUIRE(vg_model_import_pth(pth, "lenet", &m, err, sizeof err) == VG_OK);
        float p, l[2];
        CHECK(vg_predict_file(m, img, 1, &p, l) == VG_OK);
        /* the tolerance is 1e-3; we hold 1e-4 */
        allclose(names[k], l, st_get(f, key, NULL), 2, 0, 1e-4f);
        CHECKF(p > 0.5f, "%s says female", names[k]);
        vg_model_destroy(m);
        free(pth);
    }
    free(img);
    st_close(f);
}

/* Without an architecture, the one whose tensors the checkpoint holds: the
 * reference project's lenet, recognised, gives the named import's logits
 * bit for bit; a network of no built-in architecture is refused. */
TEST(pth_architecture_recognised_from_the_tensors)
{
    char *pth = path_join(shared_dir(), "seed/CNN_handmade_2.pth");
    char *img = path_join(shared_dir(), "seed/test_image_male.jpg");
    vg_model *named, *found;
    char err[256];
    REQUIRE(vg_model_import_pth(pth, "lenet", &named, err, sizeof err) == VG_OK);
    int rc = vg_model_import_pth(pth, NULL, &found, err, sizeof err);
    CHECKF(rc == VG_OK, "%s", err);
    if (!rc) {
        const char *name = vg_model_meta(found, "arch_name");
        CHECKF(name && !strcmp(name, "lenet"), "recognised as %s", name ? name : "(none)");
        float p1, p2, l1[2], l2[2];
        CHECK(vg_predict_file(named, img, 1, &p1, l1) == VG_OK && vg_predict_file(found, img, 1, &p2, l2) == VG_OK);
        CHECK(!memcmp(l1, l2, sizeof l1));
        vg_model_destroy(found);
    }
    vg_model_destroy(named);
    free(pth);
    free(img);
    char *zip = path_join(fixture_dir(), "pth/lenet_zip.pth");
    rc = vg_model_import_pth(zip, NULL, &found, err, sizeof err);   /* a 2-class fc3 */
    CHECKF(rc == VG_OK, "%s", err);
    if (!rc) vg_model_destroy(found);
    free(zip);
}

static const char *VGG_SMALL =
    "input 3 56 56; features.0: conv 8 k=3 p=1; relu; maxpool k=2; features.3: conv 16 k=3 p=1; relu; "
    "maxpool k=2; avgpool k=2; flatten; classifier.0: linear 32; relu; dropout p=0.5; "
    "classifier.3: linear 32; relu; dropout p=0.5; classifier.6: linear 3";

static void format_case_in(const char *expected, const char *file, const char *arch, const char *prefix,
                           int classes)
{
    st_file *f = st_open(expected);
    REQUIRE(f);
    char *p = path_join(fixture_dir(), file);
    vg_model *m, *back;
    char err[256], key[64];
    int rc = vg_model_import_pth(p, arch, &m, err, sizeof err);
    CHECKF(rc == VG_OK, "%s: %s", file, err);
    if (rc) { free(p); st_close(f); return; }
    int xs[4];
    snprintf(key, sizeof key, "%s.x", prefix);
    st_shape(f, key, xs, 4);
    float out[16], out2[16];
    CHECK(vg_model_forward(m, st_get(f, key, NULL), xs[0], xs[2], xs[3], out) == VG_OK);
    snprintf(key, sizeof key, "%s.logits", prefix);
    allclose(file, out, st_get(f, key, NULL), (size_t)xs[0] * classes, RTOL, ATOL);
    /* safetensors round trip: identical outputs */
    char *st = path_join(temp_dir(), "imported.safetensors");
    CHECK(vg_model_save(m, st) == VG_OK);
    REQUIRE(vg_model_load(st, &back, err, sizeof err) == VG_OK);
    snprintf(key, sizeof key, "%s.x", prefix);
    CHECK(vg_model_forward(back, st_get(f, key, NULL), xs[0], xs[2], xs[3], out2) == VG_OK);
    CHECK(!memcmp(out, out2, sizeof(float) * (size_t)xs[0] * classes));
    vg_model_destroy(back);
    vg_model_destroy(m);
    free(st);
    free(p);
    st_close(f);
}

static void format_case(const char *file, const char *arch, const char *prefix, int classes)
{
    format_case_in("pth/expected.safetensors", file, arch, prefix, classes);
}

TEST(pth_legacy_and_zip_formats_match_pytorch)
{
    format_case("pth/lenet_legacy.pth", "lenet", "lenet", 2);   /* fc1.weight is non-contiguous */
    format_case("pth/lenet_zip.pth", "lenet", "lenet", 2);
    format_case("pth/vgg_small_legacy.pth", VGG_SMALL, "vgg", 3);
    format_case("pth/vgg_small_zip.pth", VGG_SMALL, "vgg", 3);
}

static void refused(const char *file, const char *arch, const char *reason)
{
    char *p = path_join(fixture_dir(), file);
    vg_model *m = (vg_model *)0x1;
    char err[512] = "";
    int rc = vg_model_import_pth(p, arch, &m, err, sizeof err);
    CHECKF(rc != VG_OK && m == NULL, "%s: accepted", file);
    CHECKF(strstr(err, reason) != NULL, "%s: reason '%s' lacks '%s'", file, err, reason);
    free(p);
}

TEST(pth_resnet_with_its_own_class_count_matches_pytorch)
{
    /* TinyResNet (tests/ref/torch_models.py): the description says 2 classes,
     * the checkpoint's fc has 3, and the import follows the checkpoint */
    char d[4096];
    const int widths[2] = {8, 16}, blocks[2] = {2, 1};
    REQUIRE(nn_resnet_description(d, sizeof d, 2, widths, blocks, 32, 2) == 0);
    format_case_in("pth/expected_resnet.safetensors", "pth/resnet_tiny_legacy.pth", d, "resnet", 3);
    format_case_in("pth/expected_resnet.safetensors", "pth/resnet_tiny_zip.pth", d, "resnet", 3);
    refused("pth/resnet_tiny_zip.pth", "resnet18", "conv1.weight has shape [8, 3, 7, 7], the architecture expects [64, 3, 7, 7]");
}

TEST(pth_hostile_and_broken_files_are_refused)
{
    unlink("/tmp/voxgender-pwned");
    refused("pth/hostile_os_system_legacy.pth", "lenet", "refused: the pickle references posix.system");
    refused("pth/hostile_os_system_zip.pth", "lenet", "refused: the pickle references posix.system");
    refused("pth/hostile_reduce_legacy.pth", "lenet", "refused: REDUCE on torch.FloatStorage");
    refused("pth/hostile_inst_legacy.pth", "lenet", "refused: pickle opcode 0x69");
    CHECK(access("/tmp/voxgender-pwned", F_OK) != 0);    /* nothing ran */
    refused("pth/wrong_dtype_legacy.pth", "lenet", "float64; only float32");
    refused("pth/truncated_legacy.pth", "lenet", "truncated");
    refused("pth/truncated_pickle_legacy.pth", "lenet", "truncated");
    refused("pth/truncated_zip.pth", "lenet", "zip");
    refused("pth/offset_out_of_range_legacy.pth", "lenet", "storage offset/strides reach element 4 of a 4-element storage");
    refused("pth/vgg_small_zip.pth", "lenet", "unexpected tensor features.0.weight");
    refused("pth/lenet_zip.pth", VGG_SMALL, "unexpected tensor conv1.weight");
    refused("pth/vgg_small_zip.pth", NULL, "its tensors are those of none of lenet, cnn, vgg11");
    refused("pth/resnet_tiny_zip.pth", NULL, "its tensors are those of none of");
    char *seed = path_join(shared_dir(), "seed/test_image_male.jpg");
    vg_model *m;
    char err[256];
    CHECK(vg_model_import_pth(seed, "lenet", &m, err, sizeof err) != VG_OK);
    CHECKF(strstr(err, "not a PyTorch checkpoint") != NULL, "%s", err);
    free(seed);
}
