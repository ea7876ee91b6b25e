/* Streaming male/female/nonspeech segmentation.
 *
 * Samples -> log-mel frames (12.5 ms hop; frame t spans samples
 * [t*hop - n_fft/2, t*hop + n_fft/2), zeros before the stream) -> per frame a
 * sound level, a spectral flatness and flux (speech evidence), and whether
 * the 2 s windows around it sound like music or noise (music_cues.h; known
 * up to 3 s later, so frames settle that much behind the stream) -> units
 * of 8 frames (0.1 s). The CNN classifies consecutive 8 s windows (windows with too
 * little speech are skipped); each unit sums the log-odds of the windows
 * that contain it. A three-state Viterbi (nonspeech, female, male) with a
 * switch penalty decodes chunks of 60 s of units, each chunk starting from
 * the state the previous one ended in. Everything is scheduled by sample
 * position, so the result does not depend on the block sizes fed. */
#include "../dsp/music_cues.h"
#include "../dsp/speech_cues.h"
#include "../nn/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define UNIT 8                 /* frames per decision unit (0.1 s) */
#define CTX 640                /* frames per CNN window (8 s) */
#define STEP 640               /* frames between windows (8 s) */
#define RING (CTX + 256)       /* frames kept: a window's, and the up to 240
                                  that wait for the music cues' verdict */
#define BATCH 4                /* windows per CNN call (memory: activations of 4 x 8 s) */
#define CHUNK 600              /* units per Viterbi chunk (60 s) */
#define GENDER_WEIGHT 0.25     /* a unit's windows overlap its neighbours': its
                                  gender evidence is not independent */

void vg_segment_config_default(vg_segment_config *c)
{
    c->switch_penalty = 6.0;
    c->min_segment = 1.0;
}

typedef struct unit {
    int speech_frames;         /* of UNIT */
    double logodds;            /* sum over windows containing the unit */
    int n_win;
} unit;

struct vg_segmenter {
    vg_model *m;
    vg_frontend fe;
    vg_melspec *mel;
    vg_segment_config cfg;
    vg_segment_cb cb;
    void *ctx;
    int n_fft, hop, nm;
    double frame_s;            /* seconds per frame */
    /* samples of the stream, preceded by n_fft/2 virtual zeros: frame t is
     * buf[t*hop - base .. + n_fft) */
    float *buf;
    size_t len, cap;
    long long base;            /* stream index (with the zero prefix) of buf[0] */
    long long n_samples;       /* real samples fed so far */
    double end_s;              /* stream length (set by finish) */
    long long n_frames;        /* computed so far */
    long long n_settled;       /* frames whose speech flag is final */
    /* frames: the last RING normalised log-mel frames, circular [RING][nm] */
    float *frames;
    unsigned char *voiced;     /* [RING] the frame cues' verdict on those frames */
    unsigned char *speech;     /* [RING] and the final one, music and noise out */
    music_stream music;        /* 2 s windows that sound like music or noise */
    double run_max;            /* decaying maximum of the frame level (dB) */
    speech_cues cues;          /* level, flatness, flux of the frames */
    float *log2p;              /* [nm] scratch: one frame's log2 mel power */
    float *power;              /* [nm] scratch: the same frame's power, floored as the log is */
    float *win;                /* [n_fft] scratch */
    /* windows waiting for the CNN */
    float *batch;              /* [BATCH][nm][CTX] */
    long long batch_end[BATCH];
    int n_batch;
    long long windows_done_to; /* every window ending at or before this frame is counted */
    /* units: a deque from unit index first_unit */
    unit *units;
    size_t cap_units, n_units;
    long long first_unit;
    long long final_units;     /* units before this index are complete */
    /* Viterbi state carried across chunks, and the open segments */
    int last_state;            /* -1 none yet; 0 nonspeech, 1 female, 2 male */
    vg_segment open, held;     /* open: growing; held: waiting for min_segment */
    int has_open, has_held;
    int held_short;            /* held is a short utterance after a pause */
    double open_p_sum;
    long long open_units;
};

static unit *unit_at(vg_segmenter *s, long long u)
{
    long long need = u - s->first_unit + 1;
    if (need > (long long)s->n_units) {
        if ((size_t)need > s->cap_units) {
            size_t cap = s->cap_units ? s->cap_units * 2 : 1024;
            while (cap < (size_t)need) cap *= 2;
            unit *a = realloc(s->units, sizeof(unit) * cap);
            if (!a) return NULL;
            s->units = a;
            s->cap_units = cap;
        }
        memset(s->units + s->n_units, 0, sizeof(unit) * ((size_t)need - s->n_units));
        s->n_units = (size_t)need;
    }
    return &s->units[u - s->first_unit];
}

int vg_segmenter_create(vg_model *m, const vg_segment_config *cfg, vg_segment_cb cb, void *ctx,
                        vg_segmenter **out)
{
    if (!m || !cb || !out) return VG_EARG;
    *out = NULL;
    vg_segmenter *s = calloc(1, sizeof *s);
    if (!s) return VG_ENOMEM;
    if (vg_frontend_from_model(m, &s->fe) || s->fe.kind != VG_FE_LOGMEL || m->n_classes != 2) {
        free(s);
        return VG_EUNSUPPORTED;   /* segmentation needs a log-mel classifier */
    }
    s->m = m;
    if (cfg) s->cfg = *cfg;
    else vg_segment_config_default(&s->cfg);
    s->cb = cb;
    s->ctx = ctx;
    s->n_fft = s->fe.mel.n_fft;
    s->hop = s->fe.mel.hop_length;
    s->nm = s->fe.mel.n_mels;
    s->frame_s = (double)s->hop / s->fe.mel.sample_rate;
    s->mel = vg_melspec_create(&s->fe.mel);
    s->cap = (size_t)s->n_fft * 64;
    s->buf = calloc(s->cap, sizeof(float));
    s->len = (size_t)s->n_fft / 2;   /* the zero prefix (centred first frame) */
    s->win = malloc(sizeof(float) * (size_t)s->n_fft);
    s->frames = calloc((size_t)RING * s->nm, sizeof(float));
    s->voiced = calloc(RING, 1);
    s->speech = calloc(RING, 1);
    s->log2p = malloc(sizeof(float) * (size_t)s->nm);
    s->power = malloc(sizeof(float) * (size_t)s->nm);
    s->batch = malloc(sizeof(float) * (size_t)BATCH * s->nm * CTX);
    s->last_state = -1;
    s->run_max = -200;
    if (!s->mel || !s->buf || !s->win || !s->frames || !s->voiced || !s->speech || !s->log2p || !s->power ||
        !s->batch || speech_cues_init(&s->cues, s->nm) || music_stream_init(&s->music, s->nm, music_cues_suit(&s->fe.mel))) {
        vg_segmenter_destroy(s);
        return VG_ENOMEM;
    }
    *out = s;
    return VG_OK;
}

void vg_segmenter_destroy(vg_segmenter *s)
{
    if (!s) return;
    vg_melspec_destroy(s->mel);
    free(s->buf); free(s->win); free(s->frames); free(s->voiced); free(s->speech);
    free(s->batch); free(s->units); free(s->log2p); free(s->power);
    speech_cues_free(&s->cues);
    music_stream_free(&s->music);
    free(s);
}

/* ---- output: segments, with short ones merged into the one before.
 * Except: a short utterance (at least MIN_UTTERANCE, as predict's rule for
 * very short speech) after a pause is speech, not part of the pause; if a
 * turn of the other sex follows at once, it is that turn's start. */
#define MIN_UTTERANCE 0.5
static void join_into(vg_segment *a, const vg_segment *b)
{
    double la = a->end - a->start, lb = b->end - b->start;
    if (la + lb > 0) a->p_male = (float)((a->p_male * la + b->p_male * lb) / (la + lb));
    if (b->start < a->start) a->start = b->start;
    if (b->end > a->end) a->end = b->end;
}

static void emit(vg_segmenter *s, const vg_segment *seg)
{
    const double len = seg->end - seg->start;
    const int utterance = s->has_held && s->held.label < 0 && seg->label >= 0 && len >= MIN_UTTERANCE;
    if (s->has_held && len < s->cfg.min_segment && !utterance) {
        s->held.end = seg->end;            /* absorbed */
        return;
    }
    if (s->has_held) {
        if (seg->label == s->held.label) { /* same label after an absorbed bit: join */
            join_into(&s->held, seg);
            s->held_short = s->held.end - s->held.start < s->cfg.min_segment;
            return;
        }
        if (s->held_short && s->held.label >= 0 && seg->label >= 0) {
            vg_segment turn = *seg;        /* the short bit opens this turn */
            join_into(&turn, &s->held);
            s->held = turn;
            s->held_short = 0;
            return;
        }
        s->cb(s->ctx, &s->held);
    }
    s->held = *seg;
    s->has_held = 1;
    s->held_short = len < s->cfg.min_segment;
}

static void close_open(vg_segmenter *s)
{
    if (!s->has_open) return;
    if (s->end_s > 0 && s->open.end > s->end_s) s->open.end = s->end_s;   /* last unit is partial */
    s->open.p_male = (float)(s->open_p_sum / (double)s->open_units);
    emit(s, &s->open);
    s->has_open = 0;
}

/* log P(male)/P(female) of a unit: the mean over the windows containing it */
static double unit_logodds(const unit *u) { return u->n_win ? u->logodds / u->n_win : 0.0; }

/* Decode units [first_unit, first_unit + n) with Viterbi and report them. */
static int decode_chunk(vg_segmenter *s, size_t n)
{
    if (n == 0) return VG_OK;
    unsigned char *back = malloc(3 * n);
    if (!back) return VG_ENOMEM;
    double score[3], lam = s->cfg.switch_penalty;
    for (size_t i = 0; i < n; i++) {
        const unit *u = &s->units[i];
        double f = (u->speech_frames + 0.5) / (UNIT + 1.0);          /* speech evidence */
        double lo = unit_logodds(u);
        double lpm = -GENDER_WEIGHT * log1p(exp(-lo)), lpf = -GENDER_WEIGHT * log1p(exp(lo));
        double e[3] = {3.0 * log(1 - f), 3.0 * log(f) + lpf, 3.0 * log(f) + lpm};
        double next[3];
        for (int k = 0; k < 3; k++) {
            if (i == 0) {
                next[k] = e[k] - (s->last_state >= 0 && s->last_state != k ? lam : 0);
                back[k] = (unsigned char)k;
                continue;
            }
            int best = 0;
            double bv = -1e300;
            for (int j = 0; j < 3; j++) {
                double v = score[j] - (j != k ? lam : 0);
                if (v > bv) { bv = v; best = j; }
            }
            next[k] = bv + e[k];
            back[3 * i + k] = (unsigned char)best;
        }
        memcpy(score, next, sizeof score);
    }
    int state = 0;
    for (int k = 1; k < 3; k++) if (score[k] > score[state]) state = k;
    unsigned char *path = malloc(n);
    if (!path) { free(back); return VG_ENOMEM; }
    for (size_t i = n; i-- > 0;) {
        path[i] = (unsigned char)state;
        if (i) state = back[3 * i + state];
    }
    const double unit_s = UNIT * s->frame_s;
    for (size_t i = 0; i < n; i++) {
        int label = path[i] == 0 ? -1 : path[i] == 1 ? VG_LABEL_FEMALE : VG_LABEL_MALE;
        double t0 = (double)(s->first_unit + (long long)i) * unit_s;
        const unit *u = &s->units[i];
        double pm = label < 0 ? (u->speech_frames / (double)UNIT) : 1.0 / (1.0 + exp(-unit_logodds(u)));
        if (s->has_open && s->open.label != label) close_open(s);
        if (!s->has_open) {
            s->open = (vg_segment){.start = t0, .end = t0, .label = label};
            s->has_open = 1;
            s->open_p_sum = 0;
            s->open_units = 0;
        }
        s->open.end = t0 + unit_s;
        s->open_p_sum += pm;
        s->open_units++;
    }
    s->last_state = path[n - 1];
    free(path);
    free(back);
    /* drop the decoded units */
    memmove(s->units, s->units + n, sizeof(unit) * (s->n_units - n));
    s->n_units -= n;
    s->first_unit += (long long)n;
    return VG_OK;
}

/* ---- the CNN over queued windows */
/* Every whole unit inside frames [END - LEN, END) gets the window's log-odds. */
static int credit_window(vg_segmenter *s, long long end, int len, double lo)
{
    for (long long u = (end - len + UNIT - 1) / UNIT; (u + 1) * UNIT <= end; u++) {
        if (u < s->first_unit) continue;
        unit *x = unit_at(s, u);
        if (!x) return VG_ENOMEM;
        x->logodds += lo;
        x->n_win++;
    }
    return VG_OK;
}

static int flush_batch(vg_segmenter *s)
{
    if (s->n_batch == 0) return VG_OK;
    float logits[2 * BATCH];
    int rc = vg_model_forward(s->m, s->batch, s->n_batch, s->nm, CTX, logits);
    if (rc) return rc;
    for (int b = 0; b < s->n_batch; b++)
        if ((rc = credit_window(s, s->batch_end[b], CTX, logits[2 * b + 1] - logits[2 * b]))) return rc;
    s->n_batch = 0;
    return VG_OK;
}

/* A window of the last LEN (<= CTX) frames, ending at frame END. */
static int add_window(vg_segmenter *s, long long end, int len)
{
    int sp = 0;
    for (int k = 0; k < len; k++) sp += s->speech[(end - len + k) % RING];
    if (sp * s->frame_s < 0.25) return VG_OK;     /* too little speech to say anything */
    float *dst;
    float *own = NULL;
    if (len == CTX) dst = s->batch + (size_t)s->n_batch * s->nm * CTX;
    else if (!(dst = own = malloc(sizeof(float) * (size_t)s->nm * len))) return VG_ENOMEM;
    for (int k = 0; k < len; k++) {
        const float *f = s->frames + (size_t)((end - len + k) % RING) * s->nm;
        for (int b = 0; b < s->nm; b++) dst[(size_t)b * len + k] = f[b];
    }
    if (len == CTX) {
        s->batch_end[s->n_batch++] = end;
        return s->n_batch == BATCH ? flush_batch(s) : VG_OK;
    }
    /* a short window (the first 2 s, or the end of the stream): on its own */
    float logits[2];
    int rc = flush_batch(s);
    if (!rc) rc = vg_model_forward(s->m, dst, 1, s->nm, len, logits);
    free(own);
    return rc ? rc : credit_window(s, end, len, logits[1] - logits[0]);
}

/* Frames the music cues have judged: their speech flag is final, their
 * units count them, and every STEP of them a window goes to the CNN. */
static int settle_frames(vg_segmenter *s)
{
    for (; s->n_settled < s->music.final; s->n_settled++) {
        const long long t = s->n_settled;
        const int sp = s->voiced[t % RING] && !music_stream_music(&s->music, t);
        s->speech[t % RING] = (unsigned char)sp;
        unit *u = unit_at(s, t / UNIT);
        if (!u) return VG_ENOMEM;
        u->speech_frames += sp;
        if ((t + 1) % STEP == 0) {
            int rc = add_window(s, t + 1, t + 1 < CTX ? (int)(t + 1) : CTX);
            if (rc) return rc;
        }
    }
    return VG_OK;
}

/* Frame n_frames, from buf. */
static int compute_frame(vg_segmenter *s)
{
    long long t = s->n_frames;
    vg_melspec_frame(s->mel, s->buf + (t * s->hop - s->base), s->power);
    for (int b = 0; b < s->nm; b++) s->power[b] = s->power[b] > VG_POWER_FLOOR ? s->power[b] : VG_POWER_FLOOR;
    memcpy(s->log2p, s->power, sizeof(float) * (size_t)s->nm);
    vg_power_to_log2(s->log2p, (size_t)s->nm);
    float *dst = s->frames + (size_t)(t % RING) * s->nm;
    for (int b = 0; b < s->nm; b++) dst[b] = (s->log2p[b] - s->fe.input_mean) / s->fe.input_std;
    speech_cues_update(&s->cues, s->log2p);
    /* within 50 dB of the loudest recent level, which decays by 40 dB over
     * 3 s: a quiet speaker after a loud one still counts */
    s->run_max = fmax(s->cues.level_db, s->run_max - 40.0 * s->frame_s / 3.0);
    s->voiced[t % RING] = (unsigned char)(speech_cues_voiced(&s->cues) && s->cues.level_db > s->run_max - 50.0);
    music_stream_push(&s->music, s->log2p, s->power, NULL);
    s->n_frames++;
    return settle_frames(s);
}

/* Units whose windows are all counted can be decoded, a chunk at a time. */
static int decode_ready(vg_segmenter *s, int at_end)
{
    int rc = VG_OK;
    if (!at_end) {
        /* every window that can contain a unit before this frame has been
         * queued; flush the queue, then those units are complete */
        long long complete_frames = s->n_settled - CTX - STEP;
        long long ready = complete_frames > 0 ? complete_frames / UNIT : 0;
        if (ready - s->first_unit < CHUNK) return VG_OK;
        rc = flush_batch(s);
        return rc ? rc : decode_chunk(s, CHUNK);
    }
    rc = flush_batch(s);
    while (!rc && s->n_units > 0) rc = decode_chunk(s, s->n_units < CHUNK ? s->n_units : CHUNK);
    return rc;
}

/* Append samples and compute every frame they complete. */
static int push(vg_segmenter *s, const float *x, size_t n)
{
    while (n > 0) {
        size_t room = s->cap - s->len, take = n < room ? n : room;
        if (x) memcpy(s->buf + s->len, x, sizeof(float) * take);
        else memset(s->buf + s->len, 0, sizeof(float) * take);
        s->len += take;
        if (x) x += take;
        n -= take;
        while ((long long)s->n_frames * s->hop + s->n_fft <= s->base + (long long)s->len) {
            int rc = compute_frame(s);
            if (!rc) rc = decode_ready(s, 0);
            if (rc) return rc;
        }
        /* keep only what the next frame needs */
        size_t drop = (size_t)((long long)s->n_frames * s->hop - s->base);
        if (drop > s->len) drop = s->len;
        memmove(s->buf, s->buf + drop, sizeof(float) * (s->len - drop));
        s->len -= drop;
        s->base += (long long)drop;
    }
    return VG_OK;
}

int vg_segmenter_feed(vg_segmenter *s, const float *x, size_t n)
{
    if (!s || (!x && n)) return VG_EARG;
    s->n_samples += (long long)n;
    return push(s, x, n);
}

int vg_segmenter_finish(vg_segmenter *s)
{
    if (!s) return VG_EARG;
    s->end_s = (double)s->n_samples / s->fe.mel.sample_rate;
    /* centred frames up to 1 + n/hop, zeros after the stream (as before it) */
    long long want = 1 + s->n_samples / s->hop;
    long long need = (want - 1) * s->hop + s->n_fft - (s->base + (long long)s->len);
    if (need > 0) {
        int rc = push(s, NULL, (size_t)need);
        if (rc) return rc;
    }
    music_stream_finish(&s->music, NULL);
    int rc = settle_frames(s);
    if (rc) return rc;
    /* a last window over the tail */
    if (s->n_settled % STEP != 0) {
        int len = s->n_settled < CTX ? (int)s->n_settled : CTX;
        if ((rc = add_window(s, s->n_settled, len))) return rc;
    }
    if ((rc = decode_ready(s, 1))) return rc;
    close_open(s);
    if (s->has_held) { s->cb(s->ctx, &s->held); s->has_held = 0; }
    return VG_OK;
}
