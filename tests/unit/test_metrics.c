/* Metrics against hand-computed values. */
#include "test.h"
#include "voxgender.h"

#include <math.h>
#include <string.h>

TEST(metrics_hand_computed)
{
    /* 4 female (0), 6 male (1); p >= 0.5 means male */
    int y[10] = {0, 0, 0, 0, 1, 1, 1, 1, 1, 1};
    float p[10] = {0.1f, 0.2f, 0.7f, 0.4f, 0.9f, 0.8f, 0.3f, 0.6f, 0.55f, 0.95f};
    const char *spk[10] = {"a", "a", "b", "b", "c", "c", "c", "d", "d", "d"};
    vg_metrics m;
    REQUIRE(vg_metrics_compute(y, p, spk, 10, &m) == VG_OK);
    /* predictions: F F M F | M M F M M M -> TN 3, FP 1, FN 1, TP 5 */
    CHECK(m.confusion[0][0] == 3 && m.confusion[0][1] == 1 && m.confusion[1][0] == 1 && m.confusion[1][1] == 5);
    CHECK(fabs(m.accuracy - 0.8) < 1e-12);
    CHECK(fabs(m.precision[1] - 5.0 / 6) < 1e-12 && fabs(m.recall[1] - 5.0 / 6) < 1e-12);
    CHECK(fabs(m.precision[0] - 0.75) < 1e-12 && fabs(m.recall[0] - 0.75) < 1e-12);
    CHECK(fabs(m.f1[0] - 0.75) < 1e-12);
    /* AUC: pairs (male > female) out of 24. Female scores .1 .2 .7 .4; male
     * .9 .8 .3 .6 .55 .95: .9,.8,.95 beat all 4 (12); .6 and .55 beat 3 (6);
     * .3 beats 2 (2) -> 20/24 */
    CHECKF(fabs(m.auc - 20.0 / 24) < 1e-12, "auc %.6f", m.auc);
    /* per speaker: a 2/2, b 1/2 (female); c 2/3, d 3/3 (male)
     * speaker-balanced = mean(mean(1, .5), mean(2/3, 1)) */
    double sba = 0.5 * (0.75 + (2.0 / 3 + 1) / 2);
    CHECKF(fabs(m.speaker_balanced_accuracy - sba) < 1e-12, "sba %.6f vs %.6f", m.speaker_balanced_accuracy, sba);
    CHECK(fabs(m.speaker_recall[0] - 0.75) < 1e-12 && fabs(m.speaker_recall[1] - 5.0 / 6) < 1e-12);
    CHECK(m.n_speakers == 4 && !strcmp(m.speakers[0].speaker, "b"));   /* worst first */
    vg_metrics_free(&m);

    /* ties count half */
    int y2[4] = {0, 1, 0, 1};
    float p2[4] = {0.5f, 0.5f, 0.2f, 0.9f};
    REQUIRE(vg_metrics_compute(y2, p2, NULL, 4, &m) == VG_OK);
    /* pairs: (.5 vs .5) 0.5, (.5 vs .2) 1, (.9 vs .5) 1, (.9 vs .2) 1 -> 3.5/4 */
    CHECKF(fabs(m.auc - 3.5 / 4) < 1e-12, "auc with ties %.6f", m.auc);
    vg_metrics_free(&m);
    /* speakers interleaved, and one name under both labels (two speakers) */
    int y3[6] = {0, 1, 0, 0, 1, 0};
    float p3[6] = {0.1f, 0.9f, 0.8f, 0.2f, 0.3f, 0.1f};
    const char *spk3[6] = {"x", "y", "x", "y", "z", "x"};
    REQUIRE(vg_metrics_compute(y3, p3, spk3, 6, &m) == VG_OK);
    /* x (female) 2/3, y (female) 1/1; y (male) 1/1, z (male) 0/1 */
    CHECKF(fabs(m.speaker_balanced_accuracy - 0.5 * ((2.0 / 3 + 1) / 2 + 0.5)) < 1e-12, "sba %.6f",
           m.speaker_balanced_accuracy);
    CHECK(m.n_speakers == 4 && !strcmp(m.speakers[0].speaker, "z") && m.speakers[0].label == 1);
    int ys = 0;
    for (size_t k = 0; k < m.n_speakers; k++)
        if (!strcmp(m.speakers[k].speaker, "y")) ys += m.speakers[k].n == 1 ? 1 << m.speakers[k].label : 8;
    CHECKF(ys == 3, "the two y speakers: %d", ys);
    CHECK(!strcmp(m.speakers[1].speaker, "x") && m.speakers[1].n == 3 && m.speakers[1].correct == 2);
    vg_metrics_free(&m);
    int bad[1] = {2};
    CHECK(vg_metrics_compute(bad, p2, NULL, 1, &m) == VG_EARG);
}
