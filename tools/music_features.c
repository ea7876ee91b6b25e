/* The statistics music_cues.c scores, for scripts/fit_music_cues.py: one
 * line per scored 2 s window of each recording, "path start f0 .. f4",
 * windows placed as music_frames places them. */
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
        float *x;
        int c, h, w;
        int rc = vg_features_from_audio(&fe, argv[i], 0, 600, &x, &c, &h, &w, NULL);
        if (rc) {
            fprintf(stderr, "music_features: %s: %s\n", argv[i], vg_strerror(rc));
            failed = 1;
            continue;
        }
        if (w >= MUSIC_WINDOW) {
            const int len = MUSIC_WINDOW;
            void *work = malloc(music_work_size(h, len));
            if (!work) return 1;
            for (int start = 0;; start += MUSIC_HOP) {
                if (start + len > w) start = w - len;
                double f[MUSIC_FEATURES];
                if (music_window_features(x, h, w, fe.input_mean, fe.input_std, start, start + len, f, work))
                    printf("%s %d %.6f %.6f %.6f %.6f %.6f\n", argv[i], start, f[0], f[1], f[2], f[3], f[4]);
                if (start + len >= w) break;
            }
            free(work);
        }
        free(x);
    }
    return failed;
}
