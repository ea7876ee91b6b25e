/* The statistics music_cues.c scores, for scripts/fit_music_cues.py: one
 * line per scored 2 s window of each recording, "path start f0 .. f7",
 * the windows music_or_noise_frames scores. */
#include "../src/dsp/music_cues.h"
#include "voxgender.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: music_features AUDIO...\n");
        return 2;
    }
    vg_frontend fe;
    vg_frontend_default(&fe, VG_FE_LOGMEL);
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        float *x = NULL;
        int c, h, w;
        int rc = vg_features_from_audio(&fe, argv[i], 0, 600, &x, &c, &h, &w, NULL);
        const int n = rc ? 0 : music_window_count(w);
        double *feat = malloc(sizeof(double) * MUSIC_FEATURES * (size_t)(n + 1));
        unsigned char *scored = malloc((size_t)n + 1);
        if (!rc && (!feat || !scored)) rc = VG_ENOMEM;
        if (!rc) rc = music_windows(x, h, w, fe.input_mean, fe.input_std, feat, scored);
        if (rc) {
            fprintf(stderr, "music_features: %s: %s\n", argv[i], vg_strerror(rc));
            failed = 1;
        }
        for (int k = 0; !rc && k < n; k++) {
            const double *f = feat + (size_t)k * MUSIC_FEATURES;
            if (scored[k])
                printf("%s %d %.6f %.6f %.6f %.6f %.6f %.6f %.6f %.6f\n", argv[i], music_window_start(k, w), f[0],
                       f[1], f[2], f[3], f[4], f[5], f[6], f[7]);
        }
        free(feat);
        free(scored);
        free(x);
    }
    return failed;
}
