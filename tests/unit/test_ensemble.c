/* Ensembles: one network whose output is the mean of its members'
 * log-probabilities, built from trained models; and what it refuses. */
#include "../../src/nn/model.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* log-softmax of one row of K logits */
static void log_softmax(const float *z, int k, double *out)
{
    double mx = z[0], s = 0;
    for (int j = 1; j < k; j++) mx = z[j] > mx ? z[j] : mx;
    for (int j = 0; j < k; j++) s += exp(z[j] - mx);
    for (int j = 0; j < k; j++) out[j] = z[j] - mx - log(s);
}

/* Members built from ARCH with different seeds; the ensemble's output for two
 * inputs must be the mean of the members' log-probabilities, before and after
 * a save/load round trip. RENORM: each member has a front end with its own
 * input normalisation (models trained on different data): input_mean/std for
 * a log-mel network, image_mean/std per channel for the reference's 3-channel
 * images. Member K must then see the ensemble's input (member 0's
 * normalisation) mapped onto its own. */
static void check_ensemble_with(const char *arch, int n_members, int h, int w, int renorm)
{
    double mean[4][3], std[4][3];
    vg_model *mem[4], *e = NULL, *back = NULL;
    for (int k = 0; k < n_members; k++) {
        REQUIRE(vg_model_create(arch, 11 + k, &mem[k], NULL, 0) == VG_OK);
        CHECK(vg_model_set_meta(mem[k], "labels", "female,male") == VG_OK);
        for (int c = 0; c < 3; c++) {
            mean[k][c] = renorm ? -20.0 + 3.5 * k + c : 0.0;
            std[k][c] = renorm ? 4.0 - 0.75 * k + 0.5 * c : 1.0;
        }
        if (renorm) {
            vg_frontend fe;
            vg_frontend_default(&fe, mem[k]->in_c == 3 ? VG_FE_SEED_IMAGE : VG_FE_LOGMEL);
            fe.input_mean = (float)mean[k][0];
            fe.input_std = (float)std[k][0];
            for (int c = 0; c < 3; c++) fe.image_mean[c] = (float)mean[k][c], fe.image_std[c] = (float)std[k][c];
            CHECK(vg_frontend_to_model(mem[k], &fe) == VG_OK);
        }
        /* non-trivial running statistics, so that buffers must be copied too */
        for (int t = 0; t < mem[k]->n_tensors; t++)
            if (mem[k]->tensors[t].is_buffer)
                for (size_t i = 0; i < mem[k]->tensors[t].count; i++)
                    mem[k]->arena[mem[k]->tensors[t].offset + i] = 0.5f + 0.1f * (float)((i + k) % 7);
    }
    char err[256];
    REQUIRE(vg_model_ensemble(mem, n_members, &e, err, sizeof err) == VG_OK);
    const int K = vg_model_num_classes(mem[0]), c = mem[0]->in_c;
    /* the members' parameters, the K x K averaging layer and, with RENORM,
     * a C x C rescaling layer with bias in front of every member but the first */
    CHECK(vg_model_num_params(e) == n_members * vg_model_num_params(mem[0]) + (size_t)K * K +
                                        (renorm ? (size_t)(n_members - 1) * (c * c + c) : 0));
    if (renorm) CHECK(!strcmp(vg_model_meta(e, "input_mean"), vg_model_meta(mem[0], "input_mean")));
    CHECK(!strcmp(vg_model_meta(e, "labels"), "female,male"));
    CHECK(vg_model_num_classes(e) == K);

    size_t per = (size_t)c * h * w;
    float *x = malloc(sizeof(float) * per * 2), z[2 * 8], ze[2 * 8], zb[2 * 8];
    for (size_t i = 0; i < per * 2; i++) x[i] = sinf(0.13f * (float)i) + 0.3f * cosf(0.71f * (float)i);
    float *xk = malloc(sizeof(float) * per * 2);
    double want[2 * 8] = {0}, lp[8];
    for (int k = 0; k < n_members; k++) {
        /* the log-mel member 0 normalised, normalised as member K does it */
        for (size_t i = 0; i < per * 2; i++) {
            const int ch = (int)(i / ((size_t)h * w) % (size_t)c);
            xk[i] = (float)(((x[i] * std[0][ch] + mean[0][ch]) - mean[k][ch]) / std[k][ch]);
        }
        REQUIRE(vg_model_forward(mem[k], xk, 2, h, w, z) == VG_OK);
        for (int s = 0; s < 2; s++) {
            log_softmax(z + s * K, K, lp);
            for (int j = 0; j < K; j++) want[s * K + j] += lp[j] / n_members;
        }
    }
    REQUIRE(vg_model_forward(e, x, 2, h, w, ze) == VG_OK);
    double worst = 0;
    for (int i = 0; i < 2 * K; i++) worst = fmax(worst, fabs(ze[i] - want[i]));
    CHECKF(worst < (renorm ? 1e-4 : 1e-5), "%s x%d%s: ensemble output differs from the mean log-probability by %g",
           arch, n_members, renorm ? " (own normalisations)" : "", worst);

    char *p = path_join(temp_dir(), "ensemble.safetensors");
    CHECK(vg_model_save(e, p) == VG_OK);
    REQUIRE(vg_model_load(p, &back, err, sizeof err) == VG_OK);
    REQUIRE(vg_model_forward(back, x, 2, h, w, zb) == VG_OK);
    CHECK(!memcmp(ze, zb, sizeof(float) * 2 * K));
    free(p);
    free(x);
    free(xk);
    vg_model_destroy(back);
    vg_model_destroy(e);
    for (int k = 0; k < n_members; k++) vg_model_destroy(mem[k]);
}

static void check_ensemble(const char *arch, int n_members, int h, int w)
{
    check_ensemble_with(arch, n_members, h, w, 0);
}

TEST(ensemble_is_the_mean_of_member_log_probabilities)
{
    check_ensemble("cnn", 3, 128, 70);
    check_ensemble("lenet", 2, 32, 32);
    /* unnamed layers ("layerN" tensors), a residual branch, three classes */
    check_ensemble("input 2 12 0; conv 4 k=3 p=1; bn; b: relu; conv 4 k=3 p=1; bn; add b; relu; "
                   "timepool; flatten; linear 3", 4, 12, 9);
}

TEST(ensemble_maps_the_input_onto_each_members_normalisation)
{
    check_ensemble_with("cnn", 3, 128, 70, 1);
    /* the reference's images: a 3x3 diagonal map, channel by channel */
    check_ensemble_with("lenet", 2, 32, 32, 1);
    /* raw samples are not normalised whatever input_mean says: no map */
    vg_model *m[2], *e = NULL;
    for (int k = 0; k < 2; k++) {
        REQUIRE(vg_model_create("input 1 1 60000; flatten; linear 2", 1 + k, &m[k], NULL, 0) == VG_OK);
        vg_frontend fe;
        vg_frontend_default(&fe, VG_FE_RAW);
        fe.input_mean = (float)k;
        CHECK(vg_frontend_to_model(m[k], &fe) == VG_OK);
    }
    char err[256];
    REQUIRE(vg_model_ensemble(m, 2, &e, err, sizeof err) == VG_OK);
    CHECKF(vg_model_num_params(e) == 2 * vg_model_num_params(m[0]) + 4, "raw members got a rescaling layer (%zu parameters)",
           vg_model_num_params(e));
    vg_model_destroy(e);
    for (int k = 0; k < 2; k++) vg_model_destroy(m[k]);
}

TEST(ensemble_refuses_mismatched_members)
{
    vg_model *m[3], *e = NULL;
    REQUIRE(vg_model_create("cnn", 1, &m[0], NULL, 0) == VG_OK);
    REQUIRE(vg_model_create("cnn", 2, &m[1], NULL, 0) == VG_OK);
    REQUIRE(vg_model_create("input 1 128 0; conv 4 k=3; timepool; flatten; linear 3", 3, &m[2], NULL, 0) == VG_OK);
    char err[256];
    CHECK(vg_model_ensemble(m, 1, &e, err, sizeof err) == VG_EARG && strstr(err, "2 to"));
    CHECK(vg_model_ensemble(m, 3, &e, err, sizeof err) == VG_EARG && strstr(err, "class count"));
    CHECK(vg_model_set_meta(m[0], "sample_rate", "16000") == VG_OK);
    CHECK(vg_model_set_meta(m[1], "sample_rate", "8000") == VG_OK);
    CHECK(vg_model_ensemble(m, 2, &e, err, sizeof err) == VG_EARG && strstr(err, "sample_rate"));
    CHECK(!e);
    CHECK(vg_model_set_meta(m[1], "sample_rate", "16000") == VG_OK);
    CHECK(vg_model_set_meta(m[1], "trained_by_revision", "abc123") == VG_OK);
    CHECK(vg_model_ensemble(m, 2, &e, err, sizeof err) == VG_OK && e);
    CHECK(!strcmp(vg_model_meta(e, "ensemble_members"), "2"));
    CHECK(vg_model_meta(e, "m1.trained_by_revision") && !strcmp(vg_model_meta(e, "m1.trained_by_revision"), "abc123"));
    CHECK(!vg_model_meta(e, "m0.trained_by_revision") && !vg_model_meta(e, "m1.sample_rate"));
    vg_model_destroy(e);
    for (int k = 0; k < 3; k++) vg_model_destroy(m[k]);
}
