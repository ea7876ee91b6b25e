/* Model files (safetensors): round trip, metadata, every refusal; training
 * determinism and memorisation. */
#include "../../src/nn/model.h"
#include "../../src/util/errmsg.h"
#include "test.h"

#include <cblas.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

TEST(model_save_load_round_trip)
{
    vg_model *a, *b = NULL;
    REQUIRE(vg_model_create("cnn", 7, &a, NULL, 0) == VG_OK);
    CHECK(vg_model_set_meta(a, "labels", "female,male") == VG_OK);
    CHECK(vg_model_set_meta(a, "sample_rate", "16000") == VG_OK);
    char *p = path_join(temp_dir(), "rt.safetensors");
    CHECK(vg_model_save(a, p) == VG_OK);
    char err[256];
    CHECK(vg_model_load(p, &b, err, sizeof err) == VG_OK);
    REQUIRE(b);
    CHECK(b->n_arena == a->n_arena && !memcmp(a->arena, b->arena, sizeof(float) * a->n_arena));
    CHECK(!strcmp(vg_model_meta(b, "labels"), "female,male"));
    CHECK(!strcmp(vg_model_arch(b), vg_model_arch(a)));
    float x[128 * 60], la[2], lb[2];
    for (int i = 0; i < 128 * 60; i++) x[i] = cosf(i * 0.37f);
    CHECK(vg_model_forward(a, x, 1, 128, 60, la) == VG_OK);
    CHECK(vg_model_forward(b, x, 1, 128, 60, lb) == VG_OK);
    CHECK(!memcmp(la, lb, sizeof la));
    /* Python's safetensors layout: 8-byte aligned data start. */
    FILE *f = fopen(p, "rb");
    unsigned char hl[8];
    CHECK(fread(hl, 1, 8, f) == 8);
    fclose(f);
    CHECK(hl[0] % 8 == 0);
    vg_model_destroy(a);
    vg_model_destroy(b);
    free(p);
}

static void write_raw(const char *path, const char *json, const void *data, size_t n, long claim)
{
    FILE *f = fopen(path, "wb");
    uint64_t len = claim >= 0 ? (uint64_t)claim : strlen(json);
    for (int i = 0; i < 8; i++) fputc((int)((len >> (8 * i)) & 255), f);
    fputs(json, f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

#define META "{\"__metadata__\":{\"format_version\":\"%s\",\"arch\":\"input 2 1 1; fc: linear 2\"},"
#define W(shape, dtype, a, b) "\"fc.weight\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" a "," b "]},"
#define B(a, b) "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" a "," b "]}}"

static void expect_refusal(const char *name, const char *json, const float *data, size_t n,
                           long claim, const char *reason)
{
    char *p = path_join(temp_dir(), name);
    write_raw(p, json, data, n, claim);
    vg_model *m = (vg_model *)0x1;
    char err[256] = "";
    int rc = vg_model_load(p, &m, err, sizeof err);
    CHECKF(rc == VG_EMODEL, "%s: status %d (%s)", name, rc, err);
    CHECKF(m == NULL, "%s: output set on failure", name);
    CHECKF(strstr(err, reason) != NULL, "%s: reason '%s' lacks '%s'", name, err, reason);
    CHECKF(strchr(err, '\n') == NULL, "%s: reason is not one line", name);
    free(p);
}

TEST(model_load_refuses_malformed_files)
{
    float d[6] = {1, 2, 3, 4, 5, 6};
    char json[1024];
    /* the valid file first, so the cases below fail for their own reason */
    snprintf(json, sizeof json, META W("[2,2]", "F32", "0", "16") B("16", "24"), "1");
    char *p = path_join(temp_dir(), "ok.safetensors");
    write_raw(p, json, d, sizeof d, -1);
    vg_model *m = NULL;
    char err[256];
    CHECKF(vg_model_load(p, &m, err, sizeof err) == VG_OK, "valid file refused: %s", err);
    vg_model_destroy(m);
    free(p);

    expect_refusal("trunc.st", json, d, 12, -1, "truncated");
    expect_refusal("short.st", "", NULL, 0, -1, "");
    expect_refusal("hdrlong.st", json, d, sizeof d, 100000, "longer than the file");
    snprintf(json, sizeof json, META W("[2,2]", "F32", "0", "16") B("16", "32"), "1");
    expect_refusal("offsets.st", json, d, sizeof d, -1, "outside");
    snprintf(json, sizeof json, META W("[3,2]", "F32", "0", "16") B("16", "24"), "1");
    expect_refusal("shape.st", json, d, sizeof d, -1, "architecture expects [2, 2]");
    snprintf(json, sizeof json, META W("[2,2]", "F16", "0", "8") B("8", "16"), "1");
    expect_refusal("dtype.st", json, d, sizeof d, -1, "dtype F16");
    snprintf(json, sizeof json, META W("[2,2]", "F32", "0", "16") B("16", "24"), "99");
    expect_refusal("version.st", json, d, sizeof d, -1, "unknown format version '99'");
    snprintf(json, sizeof json, META B("16", "24"), "1");
    expect_refusal("missing.st", json, d, sizeof d, -1, "missing tensor fc.weight");
    snprintf(json, sizeof json, META W("[2,2]", "F32", "0", "16") "\"extra\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}," B("16", "24"), "1");
    expect_refusal("extra.st", json, d, sizeof d, -1, "unexpected tensor extra");
    expect_refusal("notjson.st", "{\"__metadata__\": [1, 2", d, sizeof d, -1, "not valid JSON");
    expect_refusal("noarch.st", "{\"__metadata__\":{\"format_version\":\"1\"}}", d, sizeof d, -1, "not a voxgender model");
    snprintf(json, sizeof json, META W("[2,2]", "F32", "0", "16") B("16", "24"), "1");
    float nan_d[6] = {1, 2, NAN, 4, 5, 6};
    expect_refusal("nan.st", json, nan_d, sizeof nan_d, -1, "NaN");
    expect_refusal("badarch.st", "{\"__metadata__\":{\"format_version\":\"1\",\"arch\":\"input 2 1 1; fc: frob 2\"}}",
                   d, sizeof d, -1, "unknown layer 'frob'");
    m = (vg_model *)0x1;
    CHECK(vg_model_load("/nonexistent.safetensors", &m, err, sizeof err) == VG_ENOENT && m == NULL);
}

/* REQUIRE for a helper that returns a status */
#define SETUP(cond)                                                                     \
    do { if (!(cond)) { test_fail(__FILE__, __LINE__, "%s", #cond); return -100; } } while (0)

/* A tiny log-mel classifier (8 mel bands) with its front end written by
 * vg_frontend_to_model, then KEY set to VALUE (NULL: as written); saved and
 * loaded again. Returns the load's status (the reason in ERR) and, when it
 * loads, the front end read back in GOT. */
static int load_with_front_end(const char *key, const char *value, vg_frontend *got, char *err,
                               size_t errlen)
{
    vg_model *m = NULL, *back = (vg_model *)0x1;
    SETUP(vg_model_create("input 1 8 0; timepool; flatten; fc: linear 2", 1, &m, err, errlen) == VG_OK);
    vg_frontend fe;
    vg_frontend_default(&fe, VG_FE_LOGMEL);
    fe.mel.n_mels = 8;
    fe.input_mean = -10.0f;
    fe.input_std = 8.0f;
    SETUP(vg_frontend_to_model(m, &fe) == VG_OK);
    if (key) SETUP(vg_model_set_meta(m, key, value) == VG_OK);
    char *p = path_join(temp_dir(), "fe.safetensors");
    SETUP(vg_model_save(m, p) == VG_OK);
    int rc = vg_model_load(p, &back, err, errlen);
    if (rc) CHECKF(back == NULL, "%s=%s: output set on failure", key, value);
    else CHECKF(vg_frontend_from_model(back, got) == VG_OK, "%s=%s: loaded, front end unreadable", key, value);
    if (!rc) vg_model_destroy(back);
    vg_model_destroy(m);
    free(p);
    return rc;
}

TEST(model_load_refuses_front_ends_it_cannot_run)
{
    char err[256] = "";
    vg_frontend got;
    CHECKF(load_with_front_end(NULL, NULL, &got, err, sizeof err) == VG_OK, "valid front end refused: %s", err);
    CHECK(got.kind == VG_FE_LOGMEL && got.mel.n_mels == 8 && got.mel.n_fft == 400 && got.mel.hop_length == 200 &&
          got.mel.f_max == 8000.0f && got.input_mean == -10.0f && got.input_std == 8.0f);
    /* settings in range are read as they are */
    CHECKF(load_with_front_end("n_fft", "1024", &got, err, sizeof err) == VG_OK && got.mel.n_fft == 1024,
           "n_fft 1024: %s", err);
    CHECKF(load_with_front_end("f_max", "7600", &got, err, sizeof err) == VG_OK && got.mel.f_max == 7600.0f,
           "f_max 7600: %s", err);
    static const struct { const char *key, *value, *reason; } BAD[] = {
        {"frontend", "spectrum", "unknown front end 'spectrum'"},
        {"n_fft", "2", "n_fft 2 is out of range (16 to 65536)"},
        {"n_fft", "400.5", "n_fft '400.5' is not a whole number"},
        {"n_fft", "1e30", "n_fft 1e30 is out of range"},
        {"sample_rate", " ", "sample_rate ' ' is not a number"},
        {"sample_rate", "nan", "sample_rate 'nan' is not a number"},
        {"sample_rate", "16000Hz", "sample_rate '16000Hz' is not a number"},
        {"seconds", "0", "seconds 0 is out of range"},
        {"hop_length", "1", "hop_length 1 is out of range (16 to 65536)"},
        {"win_length", "401", "win_length 401 is out of range (1 to 400)"},
        {"n_mels", "65536", "n_mels 65536 is out of range"},
        {"n_mels", "16", "front end makes 16 mel bands, the network reads 1 x 8"},
        {"f_max", "9000", "f_max 9000 is out of range (0 to 8000)"},
        {"f_min", "8000", "band 8000 to 8000 Hz does not fit a 16000 Hz sample rate"},
        {"input_std", "0", "input_std 0 is out of range"},
        {"input_mean", "inf", "input_mean 'inf' is not a number"},
        {"log_base", "10", "log_base '10' is not supported (this voxgender uses '2')"},
        {"power_floor", "1e-8", "power_floor 1e-8 is not supported"},
        {"seed_compat", "1", "seed_compat '1' is not supported"},
        {"labels", "male,female", "labels 'male,female' is not supported"},
        {"label_codes", "1,0", "label_codes '1,0' is not supported"},
        {"frontend", "raw", "front end makes 96000 values, the network reads 1 x 8 x 0"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        err[0] = '\0';
        int rc = load_with_front_end(BAD[i].key, BAD[i].value, &got, err, sizeof err);
        CHECKF(rc == VG_EMODEL, "%s=%s: status %d (%s)", BAD[i].key, BAD[i].value, rc, err);
        CHECKF(strstr(err, BAD[i].reason) != NULL, "%s=%s: reason '%s' lacks '%s'", BAD[i].key, BAD[i].value,
               err, BAD[i].reason);
    }
}

TEST(refusal_reasons_quote_file_strings_safely)
{
    static const struct { const char *in, *out; } CASES[] = {
        {"plain ascii, caf\xc3\xa9, \xe6\x97\xa5\xe6\x9c\xac, \xf0\x9f\x8e\xa4", NULL},   /* unchanged */
        {"a\x1b[31mred\x1b[0m", "a?[31mred?[0m"},   /* ESC */
        {"two\nlines\r\t", "two?lines??"},
        {"del\x7f", "del?"},
        {"csi\xc2\x9b" "2J", "csi??2J"},             /* C1 control in UTF-8 */
        {"lone \xf2 byte", "lone ? byte"},
        {"cut \xe6\x97", "cut ??"},                   /* sequence cut short */
        {"bad \xe6" "ab", "bad ?ab"},                 /* no continuation */
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", CASES[i].in);
        vg_err_sanitize(buf);
        const char *want = CASES[i].out ? CASES[i].out : CASES[i].in;
        CHECKF(!strcmp(buf, want), "case %zu: '%s', want '%s'", i, buf, want);
    }
    /* end to end: a tensor name with a newline and an escape sequence */
    float d[6] = {1, 2, 3, 4, 5, 6};
    char *p = path_join(temp_dir(), "evil.safetensors");
    write_raw(p,
              "{\"__metadata__\":{\"format_version\":\"1\",\"arch\":\"input 2 1 1; fc: linear 2\"},"
              "\"fc.weight\\n\\u001b[2J\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
              B("16", "24"),
              d, sizeof d, -1);
    vg_model *m = NULL;
    char err[256] = "";
    CHECK(vg_model_load(p, &m, err, sizeof err) == VG_EMODEL && m == NULL);
    CHECKF(strstr(err, "unexpected tensor fc.weight??[2J") != NULL, "reason '%s'", err);
    free(p);
}

TEST(model_descriptions_are_validated)
{
    vg_model *m;
    char err[160];
    CHECK(vg_model_create("input 1 8 8; conv 4 k=3; gap; flatten; linear 2", 0, &m, err, sizeof err) == VG_OK);
    vg_model_destroy(m);
    CHECK(vg_model_create("input 1 8 0; conv 4 k=3; flatten; linear 2", 0, &m, err, sizeof err) == VG_EARG);
    CHECKF(strstr(err, "depends on the input length") != NULL, "%s", err);
    CHECK(vg_model_create("input 1 8 8; conv 4 k=9; gap; flatten; linear 2", 0, &m, err, sizeof err) == VG_EARG);
    CHECK(vg_model_create("input 1 8 8; conv 4 k=3 q=1; linear 2", 0, &m, err, sizeof err) == VG_EARG);
    CHECKF(strstr(err, "bad option 'q=1'") != NULL, "%s", err);
    CHECK(vg_model_create("input 1 8 8; a: conv 4 k=3; a: conv 4 k=3; gap; flatten; linear 2", 0, &m, err, sizeof err) == VG_EARG);
    CHECK(vg_model_create("input 1 8 8; conv 4 k=3", 0, &m, err, sizeof err) == VG_EARG);
    CHECK(vg_model_create("input 1 8 0; lifter n=8; timepool; flatten; linear 2", 0, &m, err, sizeof err) == VG_OK);
    vg_model_destroy(m);
    CHECK(vg_model_create("input 1 8 0; lifter n=9; timepool; flatten; linear 2", 0, &m, err, sizeof err) == VG_EARG);
    CHECKF(strstr(err, "keeps more coefficients than the 8 rows") != NULL, "%s", err);
    CHECK(vg_model_create("input 1 8 0; lifter; timepool; flatten; linear 2", 0, &m, err, sizeof err) == VG_EARG);
    CHECKF(strstr(err, "lifter: expected n=K") != NULL, "%s", err);
    CHECK(vg_model_create("input 1 8 0; lifter n=0; timepool; flatten; linear 2", 0, &m, err, sizeof err) == VG_EARG);
    CHECK(vg_model_create("input 1 8 8; conv 4 k=3 n=2; gap; flatten; linear 2", 0, &m, err, sizeof err) == VG_EARG);
    CHECKF(strstr(err, "bad option 'n=2'") != NULL, "%s", err);
    CHECK(vg_arch_builtin("lenet") && vg_arch_builtin("cnn") && !vg_arch_builtin("nope"));
}

static void random_batch(float *x, int *labels, int n, size_t per, uint64_t s)
{
    for (size_t i = 0; i < (size_t)n * per; i++) x[i] = rng_normal(&s);
    for (int i = 0; i < n; i++) labels[i] = (int)(rng_next(&s) & 1);
}

/* One sample on two threads is split by output rows (conv_forward); a batch
 * of three runs one sample per thread. Both must give the same logits. */
TEST(single_sample_row_split_matches_batch_inference)
{
    const int saved = omp_get_max_threads();
    omp_set_num_threads(2);
    vg_model *m;
    REQUIRE(vg_model_create("cnn", 5, &m, NULL, 0) == VG_OK);
    const int h = 128, w = 97, per = h * w;
    float *x = malloc(sizeof(float) * per * 3), batch[6], one[2];
    for (int i = 0; i < per * 3; i++) x[i] = sinf(0.011f * (float)i) + 0.2f * cosf(0.37f * (float)i);
    REQUIRE(vg_model_forward(m, x, 3, h, w, batch) == VG_OK);
    double worst = 0;
    for (int i = 0; i < 3; i++) {
        REQUIRE(vg_model_forward(m, x + (size_t)i * per, 1, h, w, one) == VG_OK);
        CHECK(m->n_threads == 2);   /* the row-split path ran */
        for (int k = 0; k < 2; k++)
            worst = fmax(worst, fabs(one[k] - batch[2 * i + k]) / (1e-3 + fabs(batch[2 * i + k])));
    }
    CHECKF(worst < 1e-5, "row-split and batched logits differ by %g (relative)", worst);
    free(x);
    vg_model_destroy(m);
    omp_set_num_threads(saved);
}

/* Thin padded layers run the direct kernel in inference too
 * (conv_forward_direct): a sample per thread in a batch, a sample's row
 * blocks shared by the threads when there are fewer samples. Each output
 * sums in one order either way, so the activations are the same bits
 * whatever the batch size and thread count; here the pooled group's
 * (odd height: the pool drops a row) and the unpooled group's. */
TEST(direct_inference_same_bits_any_batch_or_thread_count)
{
    const int saved = omp_get_max_threads();
    /* 21 M multiply-adds per sample: enough for a plan of two threads */
    const char *arch = "input 4 21 0; conv 32 k=3 p=1 bias=0; bn; relu; maxpool k=2; conv 64 k=3 p=1; bn; relu; "
                       "timepool; flatten; linear 2";
    vg_model *m;
    REQUIRE(vg_model_create(arch, 7, &m, NULL, 0) == VG_OK);
    const int h = 21, w = 181, per = 4 * h * w, end = 7;   /* through the second ReLU */
    for (int i = 0; i < 2; i++) {
        const nn_layer *L = &m->layers[4 * i];
        conv_shape cs = {.n = 1, .c = L->ic, .h = L->ih, .w = L->iw, .oc = L->oc, .kh = 3, .kw = 3, .sh = 1,
                         .sw = 1, .ph = 1, .pw = 1};
        REQUIRE(L->kind == L_CONV && conv_shape_init(&cs) == 0);
        CHECKF(conv_direct_train_suits(&cs), "conv %d does not take the direct path", i);
    }
    float *x = malloc(sizeof(float) * per * 3);
    for (int i = 0; i < per * 3; i++) x[i] = sinf(0.021f * (float)i) + 0.3f * cosf(0.43f * (float)i);
    omp_set_num_threads(1);
    const float *y = nn_forward_prefix(m, x, 3, h, w, end);
    REQUIRE(y && m->layers[0].pool_fused);
    /* the second ReLU's output per sample [64, 10, 90] (the plan sized the layers) */
    const size_t out = (size_t)m->layers[end - 1].oc * m->layers[end - 1].oh * m->layers[end - 1].ow;
    REQUIRE(out == (size_t)64 * 10 * 90);
    float *ref = malloc(sizeof(float) * out * 3);
    memcpy(ref, y, sizeof(float) * out * 3);
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        REQUIRE((y = nn_forward_prefix(m, x, 3, h, w, end)) != NULL);
        CHECKF(!memcmp(y, ref, sizeof(float) * out * 3), "%d thread(s), batch 3: other bits", threads);
        for (int i = 0; i < 3; i++) {
            REQUIRE((y = nn_forward_prefix(m, x + (size_t)i * per, 1, h, w, end)) != NULL);
            CHECK(m->n_threads == threads);   /* two threads share the sample's blocks */
            CHECKF(!memcmp(y, ref + i * out, sizeof(float) * out), "%d thread(s), sample %d alone: other bits",
                   threads, i);
        }
    }
    free(x); free(ref);
    vg_model_destroy(m);
    omp_set_num_threads(saved);
}

/* Inference runs conv -> bn -> relu -> 2x2 max-pool as one layer (blocks of
 * row pairs through per-thread scratch). A pass that starts inside such a
 * group runs its batch norm, ReLU and pool one by one, the pool in place.
 * Both must give the logits of the other, in every threading mode, also
 * where the conv's output has an odd number of rows and columns (the pool
 * drops the last one). */
static double max_rel_diff(const float *a, const float *b, int n)
{
    double worst = 0;
    for (int i = 0; i < n; i++) worst = fmax(worst, fabs(a[i] - b[i]) / (1e-3 + fabs(b[i])));
    return worst;
}

TEST(fused_conv_pool_matches_layer_by_layer_inference)
{
    const int saved = omp_get_max_threads();
    const char *arch = "input 1 30 0; conv 8 k=3 s=2 p=1; bn; relu; maxpool k=2; conv 16 k=3 p=1 bias=0; "
                       "bn; relu; maxpool k=2; conv 16 k=3 p=1; bn; relu; timepool; flatten; linear 3";
    vg_model *m;
    REQUIRE(vg_model_create(arch, 3, &m, NULL, 0) == VG_OK);
    /* random batch-norm statistics, so that the epilogue's arithmetic matters */
    uint64_t s = 99;
    for (int t = 0; t < m->n_tensors; t++) {
        nn_tensor *T = &m->tensors[t];
        const int is_var = strstr(T->name, "running_var") != NULL;
        if (m->layers[T->layer].kind != L_BN) continue;
        for (size_t k = 0; k < T->count; k++)
            m->arena[T->offset + k] = is_var ? 0.5f + (float)(rng_next(&s) % 1000) / 1000.0f
                                             : 0.3f * rng_normal(&s) + (strstr(T->name, "weight") ? 1.0f : 0.0f);
    }
    const int h = 30, w = 59, per = h * w, start = 5;   /* layer 5: the second group's bn */
    REQUIRE(m->layers[4].kind == L_CONV && m->layers[5].kind == L_BN);
    float *x = malloc(sizeof(float) * per * 3), fused[9], split[9];
    for (int i = 0; i < per * 3; i++) x[i] = sinf(0.013f * (float)i) + 0.3f * cosf(0.29f * (float)i);
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        for (int n = 1; n <= 3; n += 2) {
            REQUIRE(vg_model_forward(m, x, n, h, w, fused) == VG_OK);
            CHECK(m->layers[0].pool_fused && m->layers[4].pool_fused);
            const float *conv = nn_forward_prefix(m, x, n, h, w, start);
            REQUIRE(conv != NULL);
            const size_t count = (size_t)n * m->layers[4].oc * m->layers[4].oh * m->layers[4].ow;
            CHECK(m->layers[4].oh % 2 == 1 && m->layers[4].ow % 2 == 1);
            float *copy = malloc(sizeof(float) * count);
            memcpy(copy, conv, sizeof(float) * count);
            const float *out = nn_forward_from(m, copy, n, h, w, 0, start);
            REQUIRE(out != NULL);
            memcpy(split, out, sizeof(float) * (size_t)n * 3);
            CHECKF(max_rel_diff(split, fused, n * 3) < 1e-5, "%d thread(s), batch %d: fused and layer-by-layer differ by %g",
                   threads, n, max_rel_diff(split, fused, n * 3));
            free(copy);
        }
    }
    free(x);
    vg_model_destroy(m);
    omp_set_num_threads(saved);
}

/* Training's fused batch norm -> ReLU [-> 2x2 max-pool] (forward_bn_relu_pool_train
 * and its backward) against the layers one by one: the same logits and
 * running statistics bit for bit, and the same parameter and input
 * gradients within 1e-5 (the pooled backward sums in another order), on
 * odd sizes (the pool drops a row and a column), with a group that ends at
 * a ReLU, on 1 and 2 threads, batch 1 and 3; a network too small for
 * batch-parallel passes, and one large enough (BATCH_PARALLEL). */
static void fused_vs_layer_by_layer(const char *arch, int h, int w, int batch_parallel)
{
    const int saved = omp_get_max_threads();
    const int per = h * w;
    float *x = malloc(sizeof(float) * per * 3), dlogits[9];
    for (int i = 0; i < per * 3; i++) x[i] = sinf(0.017f * (float)i) + 0.4f * cosf(0.31f * (float)i);
    for (int k = 0; k < 9; k++) dlogits[k] = 0.1f * (float)(k % 4) - 0.13f;
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        for (int n = 1; n <= 3; n += 2) {
            vg_model *m[2];
            for (int v = 0; v < 2; v++) {
                REQUIRE(vg_model_create(arch, 3, &m[v], NULL, 0) == VG_OK);
                /* batch-norm scales and shifts that make the ReLU cut */
                uint64_t s = 5;
                for (int t = 0; t < m[v]->n_tensors; t++) {
                    nn_tensor *T = &m[v]->tensors[t];
                    if (m[v]->layers[T->layer].kind != L_BN || T->is_buffer) continue;
                    for (size_t k = 0; k < T->count; k++)
                        m[v]->arena[T->offset + k] = 0.4f * rng_normal(&s) + (strstr(T->name, "weight") ? 1.0f : 0.0f);
                }
                m[v]->unfused_training = v;
                nn_zero_grad(m[v]);
            }
            const float *out[2];
            for (int v = 0; v < 2; v++) {
                out[v] = nn_forward(m[v], x, n, h, w, 1);
                REQUIRE(out[v] != NULL);
                nn_backward(m[v], x, dlogits, 1);
            }
            CHECK(m[0]->layers[0].train_fused == 3 && m[0]->layers[4].train_fused == 3 &&
                  m[0]->layers[8].train_fused == 2 && !m[1]->layers[0].train_fused);
            CHECK(m[0]->layers[0].oh % 2 == 1 && m[0]->layers[4].ow % 2 == 1);
            CHECK(m[0]->batch_parallel == batch_parallel);
            CHECKF(!memcmp(out[0], out[1], sizeof(float) * (size_t)n * 3), "%d thread(s), batch %d: logits differ",
                   threads, n);
            CHECKF(!memcmp(m[0]->arena, m[1]->arena, sizeof(float) * m[0]->n_arena),
                   "%d thread(s), batch %d: parameters or running statistics differ", threads, n);
            const double dg = max_rel_diff(m[0]->grads, m[1]->grads, (int)m[0]->n_arena),
                         di = max_rel_diff(m[0]->dinput, m[1]->dinput, n * per);
            CHECKF(dg < 1e-5 && di < 1e-5, "%d thread(s), batch %d: gradients differ by %g, input gradients by %g",
                   threads, n, dg, di);
            /* and not by nothing: a gradient that is all zeros would pass */
            double norm = 0;
            for (int k = 0; k < n * per; k++) norm += fabs(m[0]->dinput[k]);
            CHECK(norm > 1e-3);
            vg_model_destroy(m[0]);
            vg_model_destroy(m[1]);
        }
    }
    free(x);
    omp_set_num_threads(saved);
}

TEST(fused_training_groups_match_layer_by_layer)
{
    /* 0.2 M multiply-adds: one pass on one thread, the groups' input
     * gradients written whole */
    fused_vs_layer_by_layer("input 1 21 0; conv 8 k=3 s=2 p=1 bias=0; bn; relu; maxpool k=2; "
                            "conv 12 k=3 p=1; bn; relu; maxpool k=2; conv 16 k=3 p=1 bias=0; bn; relu; "
                            "timepool; flatten; linear 3",
                            21, 43, 0);
    /* 22 M: batch-parallel, so each convolution's backward makes its
     * group's input gradient sample by sample (pending_bn_grad) */
    fused_vs_layer_by_layer("input 1 41 0; conv 32 k=3 s=2 p=1 bias=0; bn; relu; maxpool k=2; "
                            "conv 48 k=3 p=1; bn; relu; maxpool k=2; conv 64 k=3 p=1 bias=0; bn; relu; "
                            "timepool; flatten; linear 3",
                            41, 405, 1);
}

typedef struct { const float *x; int h, w; float logits[2]; int n_threads, rc; } thread_job;

static void *classify_on_one_thread(void *arg)
{
    thread_job *j = arg;
    vg_model *m;
    j->rc = vg_set_threads(1);
    if (j->rc || (j->rc = vg_model_create("cnn", 5, &m, NULL, 0))) return NULL;
    j->rc = vg_model_forward(m, j->x, 1, j->h, j->w, j->logits);
    j->n_threads = m->n_threads;
    vg_model_destroy(m);
    return NULL;
}

/* vg_blas_use_core switches OpenBLAS's kernels in the running process (the
 * CLI's way to fast kernels without starting again): to Haswell's and back
 * on any x86-64 CPU with AVX2, with a GEMM right on each; an unknown name
 * changes nothing. Elsewhere (another BLAS, another CPU) it must refuse. */
static int gemm_is_right(void)
{
    enum { N = 67 };
    static float a[N * N], b[N * N], c[N * N];
    for (int i = 0; i < N * N; i++) a[i] = (float)(i % 7) - 3, b[i] = (float)(i % 5) - 2;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1, a, N, b, N, 0, c, N);
    for (int i = 0; i < N; i += 11)
        for (int j = 0; j < N; j += 13) {
            float ref = 0;
            for (int k = 0; k < N; k++) ref += a[i * N + k] * b[k * N + j];
            if (c[i * N + j] != ref) return 0;   /* small integers: exact */
        }
    return 1;
}

TEST(vg_blas_use_core_switches_kernels_in_process)
{
    CHECK(vg_blas_use_core(NULL) == VG_EARG && vg_blas_use_core("") == VG_EARG);
    char saved[64];
    snprintf(saved, sizeof saved, "%s", vg_blas_core());
#if defined(__x86_64__) && defined(__GNUC__)
    const int can = __builtin_cpu_supports("avx2") && dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
#else
    const int can = 0;
#endif
    if (!can) {
        CHECK(vg_blas_use_core("Haswell") == VG_EUNSUPPORTED || !strcasecmp(saved, "Haswell"));
        return;
    }
    CHECK(vg_blas_use_core("Haswell") == VG_OK);
    CHECKF(!strcasecmp(vg_blas_core(), "Haswell"), "kernels now %s", vg_blas_core());
    CHECK(getenv("OPENBLAS_CORETYPE") && !strcmp(getenv("OPENBLAS_CORETYPE"), "Haswell"));
    CHECK(gemm_is_right());
    CHECK(vg_blas_use_core("NoSuchCore") == VG_EUNSUPPORTED);
    CHECKF(!strcasecmp(vg_blas_core(), "Haswell"), "an unknown core left %s kernels", vg_blas_core());
    CHECK(!strcmp(getenv("OPENBLAS_CORETYPE"), "Haswell"));
    CHECK(vg_blas_use_core(saved) == VG_OK);
    CHECKF(!strcasecmp(vg_blas_core(), saved), "kernels %s, not %s again", vg_blas_core(), saved);
    CHECK(gemm_is_right());
}

/* The CLI's workers: one model per thread, each pass on one thread, BLAS on
 * one thread, and the same logits as a pass on all threads. */
TEST(vg_set_threads_gives_each_thread_its_own_pass_width)
{
    CHECK(vg_set_threads(0) == VG_EARG);
    CHECK(vg_set_blas_threads(0) == VG_EARG);
    const int saved = omp_get_max_threads(), saved_blas = vg_blas_threads();
    omp_set_num_threads(2);
    vg_model *m;
    REQUIRE(vg_model_create("cnn", 5, &m, NULL, 0) == VG_OK);
    const int h = 128, w = 97;
    float *x = malloc(sizeof(float) * h * w), ref[2];
    for (int i = 0; i < h * w; i++) x[i] = sinf(0.013f * (float)i);
    REQUIRE(vg_model_forward(m, x, 1, h, w, ref) == VG_OK);
    CHECK(m->n_threads == 2);
    vg_model_destroy(m);

    REQUIRE(vg_set_blas_threads(1) == VG_OK);
    CHECK(vg_blas_threads() == 1);
    thread_job j[2] = {{x, h, w, {0}, 0, 0}, {x, h, w, {0}, 0, 0}};
    pthread_t th[2];
    for (int t = 0; t < 2; t++) REQUIRE(pthread_create(&th[t], NULL, classify_on_one_thread, &j[t]) == 0);
    for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < 2; t++) {
        CHECK(j[t].rc == VG_OK);
        CHECKF(j[t].n_threads == 1, "worker %d planned %d threads", t, j[t].n_threads);
        for (int k = 0; k < 2; k++)
            CHECKF(fabsf(j[t].logits[k] - ref[k]) <= 1e-5f + 1e-4f * fabsf(ref[k]), "logit %d: %g vs %g", k,
                   j[t].logits[k], ref[k]);
    }
    CHECK(omp_get_max_threads() == 2);   /* the workers' setting stayed theirs */
    vg_set_blas_threads(saved_blas);
    omp_set_num_threads(saved);
    free(x);
}

/* The same seed gives the same weights, bit for bit, on 2, 3 or 1 threads:
 * a network large enough for a sample per thread trains on the
 * batch-parallel path even on one thread (model.h: batch_parallel), and its
 * weight gradients sum per chunk of samples in chunk order. */
TEST(training_is_deterministic_for_a_seed)
{
    const int n = 8, w = 64, saved = omp_get_max_threads();
    float *x = malloc(sizeof(float) * n * 128 * w);
    int labels[8];
    random_batch(x, labels, n, 128 * w, 3);
    vg_optim_config c;
    vg_optim_config_default(&c);
    c.kind = VG_OPT_ADAMW; c.lr = 1e-3f; c.weight_decay = 0.01f;
    const int threads[4] = {2, 2, 3, 1};
    vg_model *m[4];
    for (int v = 0; v < 4; v++) {
        omp_set_num_threads(threads[v]);
        REQUIRE(vg_model_create("cnn", 11, &m[v], NULL, 0) == VG_OK);
        vg_optimizer *o = vg_optimizer_create(m[v], &c);
        for (int s = 0; s < 3; s++)
            CHECK(vg_model_train_step(m[v], o, x, labels, n, 128, w, NULL, NULL, NULL) == VG_OK);
        CHECKF(m[v]->n_threads == threads[v] && m[v]->batch_parallel, "plan: %d threads, batch-parallel %d",
               m[v]->n_threads, m[v]->batch_parallel);
        vg_optimizer_destroy(o);
        if (v) CHECKF(!memcmp(m[0]->arena, m[v]->arena, sizeof(float) * m[0]->n_arena),
                      "%d threads train other weights than 2", threads[v]);
    }
    omp_set_num_threads(saved);
    vg_model *c2;
    REQUIRE(vg_model_create("cnn", 12, &c2, NULL, 0) == VG_OK);
    CHECK(memcmp(m[0]->arena, c2->arena, sizeof(float) * m[0]->n_arena) != 0);   /* seed matters */
    for (int v = 0; v < 4; v++) vg_model_destroy(m[v]);
    vg_model_destroy(c2);
    free(x);
}

/* A plan keeps the buffers of a larger earlier one (nn_plan): a training
 * run's last smaller batch and its validation in inference reuse the
 * training batch's memory instead of faulting new memory in each epoch.
 * Reused buffers hold the earlier passes' data, which must not matter:
 * each training pass (gradients, running statistics) and each inference
 * pass gives the same bits as on a fresh model with the same weights. */
static void one_training_pass(vg_model *m, const float *x, const int *labels, int n, int w)
{
    float dlogits[2 * 8];
    nn_zero_grad(m);
    const float *logits = nn_forward(m, x, n, 128, w, 1);
    REQUIRE(logits);
    softmax_cross_entropy(dlogits, NULL, logits, labels, NULL, n, 2);
    nn_backward(m, x, dlogits, 1);
}

TEST(plans_reuse_larger_buffers_without_changing_results)
{
    const int n = 6, w = 40, per = 128 * w;
    float *x = malloc(sizeof(float) * n * per);
    int labels[6];
    random_batch(x, labels, n, per, 9);
    vg_model *m;
    REQUIRE(vg_model_create("cnn", 4, &m, NULL, 0) == VG_OK);
    const int batches[4] = {6, 3, 6, 2};
    void *act = NULL;
    for (int k = 0; k < 4; k++) {
        vg_model *f;
        REQUIRE(vg_model_create("cnn", 4, &f, NULL, 0) == VG_OK);
        memcpy(f->arena, m->arena, sizeof(float) * m->n_arena);
        f->rng = m->rng;   /* dropout's stream */
        one_training_pass(m, x, labels, batches[k], w);
        one_training_pass(f, x, labels, batches[k], w);
        if (k == 0) act = m->room[ROOM_ACT].p;
        CHECKF(m->room[ROOM_ACT].p == act, "pass %d (batch %d) reallocated the activations", k, batches[k]);
        CHECKF(!memcmp(m->arena, f->arena, sizeof(float) * 2 * m->n_arena),
               "pass %d (batch %d): reused buffers change the gradients or running statistics", k, batches[k]);
        float logits[2 * 5], fresh[2 * 5];
        CHECK(vg_model_forward(m, x, 5, 128, w, logits) == VG_OK);
        CHECK(vg_model_forward(f, x, 5, 128, w, fresh) == VG_OK);
        CHECKF(m->room[ROOM_ACT].p == act, "inference after pass %d reallocated the activations", k);
        CHECKF(!memcmp(logits, fresh, sizeof logits), "after pass %d, reused buffers change the logits", k);
        vg_model_destroy(f);
        /* the next pass starts from other weights */
        for (size_t j = 0; j < m->n_arena; j++) m->arena[j] -= 0.01f * m->grads[j];
    }
    vg_model_destroy(m);
    free(x);
}

/* vg_model_release_buffers frees what passes keep, and the passes after it
 * plan again with the same results: a training pass and inference give the
 * bits of a model that never released anything. */
TEST(released_buffers_are_remade_with_the_same_results)
{
    const int n = 6, w = 40, per = 128 * w;
    float *x = malloc(sizeof(float) * n * per);
    int labels[6];
    random_batch(x, labels, n, per, 11);
    vg_model *m, *f;
    REQUIRE(vg_model_create("cnn", 5, &m, NULL, 0) == VG_OK);
    REQUIRE(vg_model_create("cnn", 5, &f, NULL, 0) == VG_OK);
    float logits[2 * 6], kept[2 * 6];
    for (int round = 0; round < 2; round++) {
        one_training_pass(m, x, labels, n, w);
        one_training_pass(f, x, labels, n, w);
        CHECK(vg_model_forward(m, x, n, 128, w, logits) == VG_OK);
        CHECK(vg_model_forward(f, x, n, 128, w, kept) == VG_OK);
        CHECKF(!memcmp(logits, kept, sizeof logits), "round %d: released buffers change the logits", round);
        CHECKF(!memcmp(m->arena, f->arena, sizeof(float) * 2 * m->n_arena),
               "round %d: released buffers change the gradients or running statistics", round);
        vg_model_release_buffers(m);
        int held = 0;
        for (int k = 0; k < ROOMS; k++) held += m->room[k].p != NULL;
        for (int i = 0; i < m->n_layers; i++) held += m->layers[i].wino != NULL || m->layers[i].wino_dx != NULL;
        CHECKF(held == 0, "round %d: %d buffers still held after release", round, held);
        CHECK(m->act == NULL && m->col == NULL);
    }
    vg_model_release_buffers(m);   /* twice in a row, and on NULL: nothing to do */
    vg_model_release_buffers(NULL);
    CHECK(vg_model_forward(m, x, 1, 128, w, logits) == VG_OK);
    CHECK(vg_model_forward(f, x, 1, 128, w, kept) == VG_OK);
    CHECK(!memcmp(logits, kept, sizeof(float) * 2));
    vg_model_destroy(m);
    vg_model_destroy(f);
    free(x);
}

TEST(cnn_memorises_32_examples)
{
    const int n = 32, w = 32;
    float *x = malloc(sizeof(float) * n * 128 * w);
    int labels[32];
    random_batch(x, labels, n, 128 * w, 5);
    vg_model *m;
    REQUIRE(vg_model_create("cnn", 1, &m, NULL, 0) == VG_OK);
    vg_optim_config c;
    vg_optim_config_default(&c);
    c.kind = VG_OPT_ADAM; c.lr = 2e-3f;
    vg_optimizer *o = vg_optimizer_create(m, &c);
    float loss = 0, first = 0;
    int correct = 0;
    for (int s = 0; s < 80; s++) {
        CHECK(vg_model_train_step(m, o, x, labels, n, 128, w, NULL, &loss, &correct) == VG_OK);
        if (s == 0) first = loss;
    }
    CHECKF(loss < 0.05f && correct == 32, "loss %.4f -> %.4f, %d/32 correct", first, loss, correct);
    /* and in inference mode too */
    float *logits = malloc(sizeof(float) * n * 2);
    CHECK(vg_model_forward(m, x, n, 128, w, logits) == VG_OK);
    int ok = 0;
    for (int i = 0; i < n; i++) ok += (logits[2 * i + 1] > logits[2 * i]) == labels[i];
    CHECKF(ok >= 30, "inference: %d/32", ok);
    vg_optimizer_destroy(o);
    vg_model_destroy(m);
    free(logits);
    free(x);
}

/* A write that runs out of room (here a file-size limit, EFBIG; a full disk
 * gives ENOSPC the same way) returns VG_EIO with the system's reason in
 * errno, and leaves neither the file nor its temporary copy behind. */
TEST(failed_model_write_says_why_and_leaves_nothing)
{
    vg_model *m;
    REQUIRE(vg_model_create("cnn", 1, &m, NULL, 0) == VG_OK);
    char *dir = path_join(temp_dir(), "fsize");
    REQUIRE(run_cmd("mkdir -p '%s'", dir) == 0);
    char *path = path_join(dir, "m.safetensors");
    struct rlimit old, small;
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);   /* EFBIG, not a signal */
    small = old;
    small.rlim_cur = 64 * 1024;   /* the model is about 1 MB */
    REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
    errno = 0;
    int rc = vg_model_save(m, path);
    int why = errno;
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
    CHECKF(rc == VG_EIO, "rc %d", rc);
    CHECKF(why == EFBIG, "errno %d (%s)", why, strerror(why));
    CHECK(file_size(path) < 0);
    CHECK(run_cmd("[ -z \"$(ls -A '%s')\" ]", dir) == 0);   /* no temporary copy either */
    CHECK(vg_model_save(m, path) == VG_OK);                  /* and room again: written */
    free(path);
    free(dir);
    vg_model_destroy(m);
}

/* Accessors given no handle answer "nothing" (a program's mistake should
 * not crash inside the library); they dereferenced NULL before session 22. */
TEST(accessors_tolerate_a_null_handle)
{
    CHECK(vg_model_arch(NULL) == NULL);
    CHECK(vg_model_num_classes(NULL) == 0);
    CHECK(vg_model_num_params(NULL) == 0);
    CHECK(vg_model_macs(NULL, 128, 481) == 0);
    CHECK(vg_model_meta(NULL, "arch_name") == NULL);
    CHECK(vg_melspec_frames(NULL, 96000) == VG_EARG);
    CHECK(vg_speaker_from_path(NULL) == NULL);
    float l[2];
    CHECK(vg_model_forward(NULL, l, 1, 128, 481, l) == VG_EARG);
    vg_model_destroy(NULL);
    vg_melspec_destroy(NULL);
}

/* A model built into a program loads from memory as from its file: the
 * same parameters and metadata, and the same refusals for the same bytes. */
TEST(model_loads_from_memory_as_from_its_file)
{
    const char *path = "models/voxgender-default.safetensors";
    FILE *f = fopen(path, "rb");
    REQUIRE(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *bytes = malloc((size_t)size);
    REQUIRE(bytes && fread(bytes, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    vg_model *a, *b;
    char err[256], err2[256];
    REQUIRE(vg_model_load(path, &a, err, sizeof err) == VG_OK);
    REQUIRE(vg_model_load_memory(bytes, (size_t)size, &b, err, sizeof err) == VG_OK);
    CHECK(a->n_arena == b->n_arena && !memcmp(a->arena, b->arena, sizeof(float) * a->n_arena));
    CHECK(a->n_meta == b->n_meta && !strcmp(vg_model_meta(a, "frontend"), vg_model_meta(b, "frontend")));
    vg_model_destroy(b);
    /* cut or damaged bytes: the reason a file of them gets */
    char *cut = path_join(temp_dir(), "cut.safetensors");
    const long cuts[] = {0, 5, 8, 200, size / 2, size - 1};
    for (int k = 0; k < 6; k++) {
        FILE *g = fopen(cut, "wb");
        REQUIRE(g);
        fwrite(bytes, 1, (size_t)cuts[k], g);
        fclose(g);
        int rf = vg_model_load(cut, &b, err, sizeof err);
        int rm = vg_model_load_memory(bytes, (size_t)cuts[k], &b, err2, sizeof err2);
        CHECKF(rf == VG_EMODEL && rm == rf && !strcmp(err, err2), "cut at %ld: '%s' / '%s'", cuts[k], err, err2);
    }
    bytes[size - 3] = 0xff, bytes[size - 2] = 0xff, bytes[size - 1] = 0xff;   /* a NaN in the last tensor */
    bytes[size - 4] = 0xff;
    CHECK(vg_model_load_memory(bytes, (size_t)size, &b, err, sizeof err) == VG_EMODEL && strstr(err, "NaN"));
    CHECK(vg_model_load_memory(NULL, 10, &b, err, sizeof err) == VG_EARG);
    free(cut);
    free(bytes);
    vg_model_destroy(a);
}
