/* Model front ends: the seed-compatible image transform against torchvision,
 * metadata round trip, log-mel features of short clips. */
#include "../../src/dsp/music_cues.h"
#include "st_read.h"
#include "test.h"
#include "voxgender.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

TEST(seed_transform_matches_torchvision_exactly)
{
    st_file *f = st_open("seed/seed_transform.safetensors");
    REQUIRE(f);
    vg_frontend fe;
    vg_frontend_default(&fe, VG_FE_SEED_IMAGE);
    float *x = NULL;
    int c, h, w;
    char *seed = path_join(shared_dir(), "seed/test_image_male.jpg");
    REQUIRE(vg_features_from_image(&fe, seed, &x, &c, &h, &w) == VG_OK);
    CHECK(c == 3 && h == 32 && w == 32);
    /* Same 8-bit pixels give the same floats: the tolerance is float round-off. */
    allclose("test_image_male.jpg", x, st_get(f, "seed_image_input", NULL), 3072, 0, 1e-6f);
    double sum = 0;
    for (int i = 0; i < 3072; i++) sum += x[i];
    CHECKF(fabs(sum - -257.317573) < 1e-3, "sum %.6f (NOTES.md: -257.317573)", sum);
    free(x);
    free(seed);
    char *syn = path_join(fixture_dir(), "seed/synthetic.png");
    REQUIRE(vg_features_from_image(&fe, syn, &x, &c, &h, &w) == VG_OK);
    allclose("synthetic.png", x, st_get(f, "synthetic_input", NULL), 3072, 0, 1e-6f);
    free(x);
    free(syn);
    st_close(f);
}

TEST(frontend_metadata_round_trip)
{
    vg_model *m;
    REQUIRE(vg_model_create("cnn", 0, &m, NULL, 0) == VG_OK);
    vg_frontend a, b;
    vg_frontend_default(&a, VG_FE_LOGMEL);
    a.input_mean = -12.5f;
    a.input_std = 7.25f;
    a.seconds = 4.0;
    CHECK(vg_frontend_to_model(m, &a) == VG_OK);
    CHECK(vg_frontend_from_model(m, &b) == VG_OK);
    CHECK(b.kind == VG_FE_LOGMEL && b.input_mean == -12.5f && b.input_std == 7.25f && b.seconds == 4.0);
    CHECK(b.mel.n_mels == 128 && b.mel.hop_length == 200 && b.mel.sample_rate == 16000);
    CHECK(!strcmp(vg_model_meta(m, "labels"), "female,male"));
    CHECK(!strcmp(vg_model_meta(m, "label_codes"), "0,1"));
    CHECK(vg_model_set_meta(m, "frontend", "nonsense") == VG_OK);
    CHECK(vg_frontend_from_model(m, &b) == VG_EMODEL);
    vg_model_destroy(m);
}

/* A new model's front end comes from its input shape: what train uses, and
 * what `train --augment` checks before it starts. */
TEST(frontend_for_input_follows_the_input_shape)
{
    static const struct { const char *arch; int rc, kind, size; } cases[] = {
        {"cnn", VG_OK, VG_FE_LOGMEL, 0},
        {"lenet", VG_OK, VG_FE_SEED_IMAGE, 32},
        {"input 3 64 64; flatten; linear 2", VG_OK, VG_FE_SEED_IMAGE, 64},
        {"input 1 64 0; conv 4 k=3; timepool; flatten; linear 2", VG_EUNSUPPORTED, 0, 0},
        {"input 3 32 48; flatten; linear 2", VG_EUNSUPPORTED, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vg_model *m;
        char err[128];
        if (vg_model_create(cases[i].arch, 1, &m, err, sizeof err)) {
            CHECKF(0, "%s: %s", cases[i].arch, err);
            continue;
        }
        vg_frontend fe;
        int rc = vg_frontend_for_input(m, &fe);
        CHECKF(rc == cases[i].rc, "%s: rc %d", cases[i].arch, rc);
        if (rc == VG_OK) CHECKF(fe.kind == (vg_frontend_kind)cases[i].kind, "%s: kind %d", cases[i].arch, fe.kind);
        if (rc == VG_OK && cases[i].size) CHECKF(fe.image_size == cases[i].size, "%s: size %d", cases[i].arch, fe.image_size);
        vg_model_destroy(m);
    }
}

TEST(logmel_features_of_short_clips_keep_their_length)
{
    vg_frontend fe;
    vg_frontend_default(&fe, VG_FE_LOGMEL);
    char *p = path_join(shared_dir(), "data/audiomnist/audio/01/0_01_0.flac");   /* 0.75 s */
    float *x = NULL;
    int c, h, w;
    vg_clip_info info;
    REQUIRE(vg_features_from_audio(&fe, p, 0, 0, &x, &c, &h, &w, &info) == VG_OK);
    CHECK(c == 1 && h == 128);
    CHECKF(abs(w - (1 + (int)info.n_valid / 200)) <= 0 && w < 481, "frames %d", w);
    free(x);
    /* A long recording gives the full window, or up to max_seconds. */
    char *q = path_join(shared_dir(), "data/librispeech/audio/103/103-1240-0000.flac");   /* 14 s */
    REQUIRE(vg_features_from_audio(&fe, q, 0, 0, &x, &c, &h, &w, NULL) == VG_OK);
    CHECK(w == 481);
    free(x);
    REQUIRE(vg_features_from_audio(&fe, q, 0, 10.0, &x, &c, &h, &w, NULL) == VG_OK);
    CHECK(w == 801);
    free(x);
    vg_frontend_default(&fe, VG_FE_RAW);
    REQUIRE(vg_features_from_audio(&fe, q, 0, 0, &x, &c, &h, &w, NULL) == VG_OK);
    CHECK(c == 1 && h == 1 && w == 60000);
    free(x);
    vg_frontend_default(&fe, VG_FE_LOGMEL);
    CHECK(vg_features_from_image(&fe, "whatever.png", &x, &c, &h, &w) == VG_EINPUTKIND);
    free(p);
    free(q);
}

/* A recording shorter than a long window (predict reads up to 600 s) keeps
 * the frames over it: the spectrogram of the recording padded with zeros to
 * the whole window, cut there. The features are now computed over the
 * recording and n_fft samples of the padding only (100 times less work for
 * a 6 s clip); these must be the same bits as the definition's. */
TEST(logmel_of_a_padded_window_equals_the_full_padded_spectrogram_cut)
{
    vg_frontend fe;
    vg_frontend_default(&fe, VG_FE_LOGMEL);
    const double window = 60.0;   /* enough padding to tell; predict's 600 s alike */
    char *clip = path_join(temp_dir(), "tiny.wav");   /* 0.1 s: under the 15-frame minimum */
    int16_t pcm[1600];
    for (int i = 0; i < 1600; i++) pcm[i] = (int16_t)(8000 * sin(i * 0.07) + 3000 * sin(i * 0.31));
    REQUIRE(write_wav(clip, 1, 1, 16000, 16, pcm, sizeof pcm, sizeof pcm) == 0);
    char *real = path_join(shared_dir(), "data/audiomnist/audio/01/0_01_0.flac");    /* 0.75 s */
    char *longer = path_join(shared_dir(), "data/vctk/audio/p225/p225_003.flac");   /* 7.8 s */
    const char *paths[] = {clip, real, longer};
    vg_melspec *mel = vg_melspec_create(&fe.mel);
    REQUIRE(mel);
    for (int k = 0; k < 3; k++) {
        float *x = NULL, *pad = NULL;
        int c, h, w;
        vg_clip_info info;
        REQUIRE(vg_features_from_audio(&fe, paths[k], 0, window, &x, &c, &h, &w, &info) == VG_OK);
        REQUIRE(info.padded);
        REQUIRE(vg_audio_load_window(paths[k], 0, window, 16000, &pad, NULL) == VG_OK);
        size_t n = (size_t)(window * 16000);
        int frames = vg_melspec_frames(mel, n);
        float *full = malloc(sizeof(float) * 128 * (size_t)frames);
        REQUIRE(full && vg_melspec_log2(mel, pad, n, full) == VG_OK);
        int keep = 1 + (int)(info.n_valid / 200);
        if (keep < 15) keep = 15;
        CHECKF(w == keep, "%s: %d frames, want %d", paths[k], w, keep);
        size_t differ = 0;
        for (int b = 0; b < 128 && w == keep; b++)
            for (int t = 0; t < keep; t++) {
                float want = (full[(size_t)b * frames + t] - fe.input_mean) * (1.0f / fe.input_std);
                differ += memcmp(&want, &x[(size_t)b * w + t], sizeof want) != 0;
            }
        CHECKF(differ == 0, "%s: %zu values differ", paths[k], differ);
        free(full); free(pad); free(x);
    }
    vg_melspec_destroy(mel);
    free(clip); free(real); free(longer);
}

/* The music cues judge windows of the front end they were fitted on, and
 * leave speech alone: none of a real recording's frames is music, and no
 * frame at all under another front end (the features are the same here,
 * only the settings differ). */
TEST(music_cues_leave_speech_and_other_front_ends_alone)
{
    vg_frontend fe;
    vg_frontend_default(&fe, VG_FE_LOGMEL);
    char *speech = path_join(shared_dir(), "data/vctk/audio/p225/p225_003.flac");
    float *x;
    int c, h, w;
    REQUIRE(vg_features_from_audio(&fe, speech, 0, 600, &x, &c, &h, &w, NULL) == VG_OK);
    REQUIRE(w > 2 * MUSIC_WINDOW);
    unsigned char *music = malloc((size_t)w);
    CHECK(music_or_noise_frames(x, h, w, fe.input_mean, fe.input_std, &fe.mel, music) == VG_OK);
    int n = 0;
    for (int t = 0; t < w; t++) n += music[t];
    CHECKF(n == 0, "%d of %d speech frames called music", n, w);
    /* a held 12-band "chord" in the features themselves: music */
    for (int b = 0; b < h; b++)
        for (int t = 0; t < w; t++) x[(size_t)b * w + t] = (b % 10 == 3 && b < 120) ? 8.0f : -6.0f;
    CHECK(music_or_noise_frames(x, h, w, fe.input_mean, fe.input_std, &fe.mel, music) == VG_OK);
    n = 0;
    for (int t = 0; t < w; t++) n += music[t];
    CHECKF(n == w, "%d of %d frames of a held chord called music", n, w);
    /* another front end: the cues do not apply */
    vg_mel_config other = fe.mel;
    other.n_fft = 1024;
    CHECK(music_or_noise_frames(x, h, w, fe.input_mean, fe.input_std, &other, music) == VG_OK);
    n = 0;
    for (int t = 0; t < w; t++) n += music[t];
    CHECK(n == 0);
    free(music);
    free(x);
    free(speech);
}

/* Sirens, alarms and bird calls passed the music and noise cues (a
 * warbling siren was a man with p = 0.91 with the shipped model, a wailing
 * one a woman with 0.001): a pitch that glides keeps the spectrum's shape
 * changing and moves the spectral balance at a syllable's pace. Two window
 * statistics catch them (music_cues.h): a level that hardly moves, and
 * frames whose every strong band lies above 500 Hz. Each sound here is
 * passed by the older cues in some window, and caught by the new ones: the
 * wail (its pitch dips to 200 Hz) in some windows only by its steady level,
 * the chirps (each one swells and fades) by their high-only frames, and in
 * brown noise (which fills the low bands) in some windows only by their
 * frames' rise over the window's background. */
TEST(alarm_cues_catch_sirens_and_chirps_the_other_cues_pass)
{
    enum { SR = 16000, N = SR * 6 };
    vg_frontend fe;
    vg_frontend_default(&fe, VG_FE_LOGMEL);
    vg_model *m;
    REQUIRE(vg_model_create("cnn", 1, &m, NULL, 0) == VG_OK);
    vg_frontend_to_model(m, &fe);
    int16_t *pcm = malloc(sizeof(int16_t) * N);
    char *path = path_join(temp_dir(), "alarm.wav");
    const char *names[] = {"warbling siren", "wailing siren", "chirps", "chirps in brown noise"};
    uint64_t st = 9;
    for (int kind = 0; kind < 4; kind++) {
        double phase = 0, brown = 0;
        for (int i = 0; i < N; i++) {
            const double t = (double)i / SR;
            double v = 0;
            if (kind < 2) {   /* a glide of harmonics k = 1.., amplitude 1/k */
                const double f = kind == 0 ? 900 + 300 * sin(2 * M_PI * 6 * t) : 700 + 500 * sin(2 * M_PI * 0.25 * t);
                phase += 2 * M_PI * f / SR;
                for (int k = 1; k <= (kind == 0 ? 3 : 5); k++) v += sin(k * phase) / k;
                v *= 6000;
            } else {   /* a 2-4 kHz chirp of 0.125 s, three a second, Hann-shaped */
                const double u = fmod(t, 1.0 / 3), len = 0.125;
                if (u < len) v = 12000 * sin(2 * M_PI * (2000 * u + 8000 * u * u)) * (0.5 - 0.5 * cos(2 * M_PI * u / len));
                if (kind == 3) {   /* and brown noise (integrated white) under them */
                    st = st * 6364136223846793005ull + 1442695040888963407ull;
                    brown = 0.995 * brown + (double)((st >> 33) % 2001) - 1000;
                    v += 0.12 * brown;
                }
            }
            pcm[i] = (int16_t)v;
        }
        write_wav(path, 1, 1, SR, 16, pcm, N * 2, N * 2);
        float *x;
        int c, h, w;
        REQUIRE(vg_features_from_audio(&fe, path, 0, 600, &x, &c, &h, &w, NULL) == VG_OK);
        const int nw = music_window_count(w);
        double *feat = malloc(sizeof(double) * MUSIC_FEATURES * (size_t)(nw + 1));
        unsigned char *scored = malloc((size_t)nw + 1);
        REQUIRE(nw > 0 && music_windows(x, h, w, fe.input_mean, fe.input_std, feat, scored) == VG_OK);
        int passed_before = 0, caught = 0, steady = 0, high = 0, above_bg = 0, n = 0;
        for (int k = 0; k < nw; k++) {
            const double *f = feat + (size_t)k * MUSIC_FEATURES;
            if (!scored[k]) continue;
            n++;
            passed_before += music_window_score(f) <= 0.5 && f[5] >= NOISE_MODULATION_MAX;
            caught += music_window_not_speech(f);
            steady += f[1] < STEADY_LEVEL_SD_MAX;
            high += f[6] > HIGH_ONLY_SHARE_MIN;
            above_bg += f[7] > HIGH_ONLY_ABOVE_BG_MIN;
        }
        CHECKF(n == nw && passed_before > 0 && caught == n, "%s: %d windows, %d scored, %d passed before, %d caught",
               names[kind], nw, n, passed_before, caught);
        if (kind == 1) CHECKF(steady == n && high < n, "wail: steady %d, high-only %d of %d", steady, high, n);
        if (kind == 2) CHECKF(steady == 0 && high == n, "chirps: steady %d, high-only %d of %d", steady, high, n);
        if (kind == 3)
            CHECKF(steady == 0 && high < n && above_bg == n, "chirps in noise: steady %d, high-only %d, above bg %d of %d",
                   steady, high, above_bg, n);
        float p, l[2];
        const int rc = vg_predict_file(m, path, 0, &p, l);
        CHECKF(rc == VG_ENOSPEECH, "%s: %s", names[kind], vg_strerror(rc));
        free(feat);
        free(scored);
        free(x);
    }
    vg_model_destroy(m);
    free(pcm);
    free(path);
}

TEST(predict_answers_no_speech_for_silence_and_clicks)
{
    vg_model *m;
    REQUIRE(vg_model_create("cnn", 1, &m, NULL, 0) == VG_OK);
    vg_frontend fe;
    vg_frontend_default(&fe, VG_FE_LOGMEL);
    fe.input_mean = -20.0f;
    fe.input_std = 8.0f;
    vg_frontend_to_model(m, &fe);
    float p, l[2];
    /* digital silence */
    int16_t *pcm = calloc(16000 * 3, 2);
    char *sil = path_join(temp_dir(), "silence3s.wav");
    write_wav(sil, 1, 1, 16000, 16, pcm, 16000 * 3 * 2, 16000 * 3 * 2);
    CHECK(vg_predict_file(m, sil, 0, &p, l) == VG_ENOSPEECH);
    /* a 0.2 s burst in 3 s of silence: under 0.5 s of sound */
    for (int i = 16000; i < 16000 + 3200; i++) pcm[i] = (int16_t)(8000 * sin(i * 0.07));
    char *click = path_join(temp_dir(), "burst.wav");
    write_wav(click, 1, 1, 16000, 16, pcm, 16000 * 3 * 2, 16000 * 3 * 2);
    CHECK(vg_predict_file(m, click, 0, &p, l) == VG_ENOSPEECH);
    /* steady white noise at -30 dBFS and a held chord: not speech */
    uint64_t st = 5;
    for (int i = 0; i < 16000 * 3; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        pcm[i] = (int16_t)((int)((st >> 33) % 2001) - 1000);
    }
    char *noise = path_join(temp_dir(), "noise.wav");
    write_wav(noise, 1, 1, 16000, 16, pcm, 16000 * 3 * 2, 16000 * 3 * 2);
    CHECK(vg_predict_file(m, noise, 0, &p, l) == VG_ENOSPEECH);
    for (int i = 0; i < 16000 * 3; i++)
        pcm[i] = (int16_t)(3000 * (sin(2 * M_PI * 220 * i / 16000.0) + sin(2 * M_PI * 277 * i / 16000.0) +
                                   sin(2 * M_PI * 330 * i / 16000.0)));
    char *chord = path_join(temp_dir(), "chord.wav");
    write_wav(chord, 1, 1, 16000, 16, pcm, 16000 * 3 * 2, 16000 * 3 * 2);
    CHECK(vg_predict_file(m, chord, 0, &p, l) == VG_ENOSPEECH);
    free(noise);
    free(chord);
    /* a melody of plain tones stepping every 0.25 s, its level swelling
     * twice a second: the frame-level cues took it for speech (a man,
     * p = 0.93 with the shipped model); the music cues do not */
    for (int i = 0; i < 16000 * 3; i++) {
        const double t = i / 16000.0, f = 110 + 50 * floor(fmod(t * 4, 8));
        pcm[i] = (int16_t)(10000 * sin(2 * M_PI * f * t) * (0.5 + 0.5 * sin(2 * M_PI * 2 * t)));
    }
    char *melody = path_join(temp_dir(), "melody.wav");
    write_wav(melody, 1, 1, 16000, 16, pcm, 16000 * 3 * 2, 16000 * 3 * 2);
    CHECK(vg_predict_file(m, melody, 0, &p, l) == VG_ENOSPEECH);
    free(melody);
    /* coloured noise: its slope makes the spectrum far from flat and its
     * bands jitter from frame to frame, so the frame-level cues passed 53%
     * of generated noises (a man or a woman, p 0.4-0.6); the modulation
     * ratio does not. Brown (integrated white) steady, blue (differenced
     * white) swelling 90% once a second, low-passed white swelling 70%
     * every 1.5 s. */
    char *colour = path_join(temp_dir(), "colour.wav");
    for (int kind = 0; kind < 3; kind++) {
        double y = 0, prev = 0;
        for (int i = 0; i < 16000 * 3; i++) {
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            const double white = (double)((st >> 33) % 2001) - 1000, t = i / 16000.0;
            double v;
            if (kind == 1) v = 3 * (white - prev) * (1 + 0.9 * sin(2 * M_PI * 0.95 * t));
            else if (kind == 0) v = (y = 0.995 * y + white) * 0.5;
            else v = (y = 0.9 * y + white) * (1 + 0.7 * sin(2 * M_PI * 0.67 * t));
            prev = white;
            pcm[i] = (int16_t)(v > 32767 ? 32767 : v < -32767 ? -32767 : v);
        }
        write_wav(colour, 1, 1, 16000, 16, pcm, 16000 * 3 * 2, 16000 * 3 * 2);
        int rc = vg_predict_file(m, colour, 0, &p, l);
        CHECKF(rc == VG_ENOSPEECH, "noise %d: %s, p(male) %.2f", kind, vg_strerror(rc), rc ? 0.0 : p);
    }
    free(colour);
    /* real speech is classified */
    char *speech = path_join(shared_dir(), "data/vctk/audio/p225/p225_003.flac");
    CHECK(vg_predict_file(m, speech, 0, &p, l) == VG_OK && p >= 0 && p <= 1);
    /* the reference models keep the reference behaviour: no gate */
    vg_model *lenet;
    REQUIRE(vg_model_create("lenet", 1, &lenet, NULL, 0) == VG_OK);
    vg_frontend_default(&fe, VG_FE_SEED_IMAGE);
    vg_frontend_to_model(lenet, &fe);
    CHECK(vg_predict_file(lenet, sil, 0, &p, l) == VG_OK);
    vg_model_destroy(lenet);
    vg_model_destroy(m);
    free(pcm); free(sil); free(click); free(speech);
}
