/* Lossy-codec round trip through FFmpeg's encoders and decoders: the real
 * codecs, so that training sees their artefacts (band limits that move from
 * frame to frame, spectral holes, smeared transients), which no filter on the
 * spectrogram imitates. */
#include "lossy.h"
#include "voxgender.h"

#include <dlfcn.h>

#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *lossy_codec_name(lossy_codec c) { return c == LOSSY_OPUS ? "opus" : "mp3"; }

const char *lossy_encoder_version(lossy_codec c)
{
    /* looked up where libavcodec's own dependencies are, so that the
     * library needs neither one's headers to build */
    const char *(*version)(void);
    *(void **)&version = dlsym(RTLD_DEFAULT, c == LOSSY_OPUS ? "opus_get_version_string" : "get_lame_version");
    const char *v = version ? version() : NULL;
    return v && *v ? v : "unknown";
}

int audio_lossy_available(void)
{
    return avcodec_find_encoder_by_name("libopus") && avcodec_find_encoder_by_name("libmp3lame");
}

typedef struct roundtrip {
    AVCodecContext *enc, *dec;
    SwrContext *swr;
    AVPacket *pkt;
    AVFrame *in, *out;
    float *y;            /* decoded, resampled to the input's rate */
    size_t ny, cap;
} roundtrip;

static void roundtrip_close(roundtrip *t)
{
    avcodec_free_context(&t->enc);
    avcodec_free_context(&t->dec);
    swr_free(&t->swr);
    av_packet_free(&t->pkt);
    av_frame_free(&t->in);
    av_frame_free(&t->out);
    free(t->y);
}

static int append(roundtrip *t, const uint8_t **in, int in_n)
{
    int room = swr_get_out_samples(t->swr, in_n);
    if (room < 0) return VG_EFORMAT;
    if (t->ny + (size_t)room > t->cap) {
        size_t cap = 2 * t->cap + (size_t)room + 4096;
        float *y = realloc(t->y, sizeof(float) * cap);
        if (!y) return VG_ENOMEM;
        t->y = y;
        t->cap = cap;
    }
    uint8_t *out = (uint8_t *)(t->y + t->ny);
    int got = swr_convert(t->swr, &out, room, in, in_n);
    if (got < 0) return VG_EFORMAT;
    t->ny += (size_t)got;
    return VG_OK;
}

/* Frames the decoder has ready -> mono float at the input's rate. */
static int drain_decoder(roundtrip *t)
{
    for (;;) {
        int r = avcodec_receive_frame(t->dec, t->out);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return VG_OK;
        if (r < 0) return VG_EDECODE;
        if (!t->swr) {
            AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
            if (swr_alloc_set_opts2(&t->swr, &mono, AV_SAMPLE_FMT_FLT, t->enc->sample_rate, &t->dec->ch_layout,
                                    t->dec->sample_fmt, t->dec->sample_rate, 0, NULL) < 0 ||
                swr_init(t->swr) < 0)
                return VG_EFORMAT;
        }
        int rc = append(t, (const uint8_t **)t->out->extended_data, t->out->nb_samples);
        av_frame_unref(t->out);
        if (rc) return rc;
    }
}

/* Packets the encoder has ready -> decoder. */
static int drain_encoder(roundtrip *t)
{
    for (;;) {
        int r = avcodec_receive_packet(t->enc, t->pkt);
        if (r == AVERROR(EAGAIN)) return VG_OK;
        if (r == AVERROR_EOF) {
            if (avcodec_send_packet(t->dec, NULL) < 0) return VG_EDECODE;
            return drain_decoder(t);
        }
        if (r < 0) return VG_EFORMAT;
        r = avcodec_send_packet(t->dec, t->pkt);
        av_packet_unref(t->pkt);
        if (r < 0) return VG_EDECODE;
        int rc = drain_decoder(t);
        if (rc) return rc;
    }
}

static int supports_rate(const AVCodec *c, int rate)
{
    if (!c->supported_samplerates) return 1;
    for (const int *p = c->supported_samplerates; *p; p++)
        if (*p == rate) return 1;
    return 0;
}

/* mono, so planar and packed float are the same buffer */
static enum AVSampleFormat pick_format(const AVCodec *c)
{
    for (const enum AVSampleFormat *p = c->sample_fmts; p && *p != AV_SAMPLE_FMT_NONE; p++)
        if (*p == AV_SAMPLE_FMT_FLT || *p == AV_SAMPLE_FMT_FLTP) return *p;
    for (const enum AVSampleFormat *p = c->sample_fmts; p && *p != AV_SAMPLE_FMT_NONE; p++)
        if (*p == AV_SAMPLE_FMT_S16 || *p == AV_SAMPLE_FMT_S16P) return *p;
    return AV_SAMPLE_FMT_NONE;
}

static int open_codecs(roundtrip *t, lossy_codec codec, int sample_rate, int bitrate)
{
    const AVCodec *enc = avcodec_find_encoder_by_name(codec == LOSSY_OPUS ? "libopus" : "libmp3lame");
    if (!enc || !supports_rate(enc, sample_rate)) return VG_EUNSUPPORTED;
    enum AVSampleFormat fmt = pick_format(enc);
    if (fmt == AV_SAMPLE_FMT_NONE) return VG_EUNSUPPORTED;
    if (!(t->enc = avcodec_alloc_context3(enc))) return VG_ENOMEM;
    t->enc->sample_rate = sample_rate;
    t->enc->sample_fmt = fmt;
    t->enc->bit_rate = bitrate;
    av_channel_layout_default(&t->enc->ch_layout, 1);
    if (avcodec_open2(t->enc, enc, NULL) < 0) return VG_EUNSUPPORTED;

    const AVCodec *dec = avcodec_find_decoder(t->enc->codec_id);
    if (!dec) return VG_EUNSUPPORTED;
    if (!(t->dec = avcodec_alloc_context3(dec))) return VG_ENOMEM;
    t->dec->sample_rate = sample_rate;
    av_channel_layout_default(&t->dec->ch_layout, 1);
    if (t->enc->extradata_size > 0) {   /* Opus: the OpusHead the decoder needs */
        t->dec->extradata = av_mallocz((size_t)t->enc->extradata_size + AV_INPUT_BUFFER_PADDING_SIZE);
        if (!t->dec->extradata) return VG_ENOMEM;
        memcpy(t->dec->extradata, t->enc->extradata, (size_t)t->enc->extradata_size);
        t->dec->extradata_size = t->enc->extradata_size;
    }
    if (avcodec_open2(t->dec, dec, NULL) < 0) return VG_EUNSUPPORTED;

    t->pkt = av_packet_alloc();
    t->in = av_frame_alloc();
    t->out = av_frame_alloc();
    if (!t->pkt || !t->in || !t->out) return VG_ENOMEM;
    t->in->format = fmt;
    t->in->sample_rate = sample_rate;
    t->in->nb_samples = t->enc->frame_size > 0 ? t->enc->frame_size : 1024;
    if (av_channel_layout_copy(&t->in->ch_layout, &t->enc->ch_layout) < 0 || av_frame_get_buffer(t->in, 0) < 0)
        return VG_ENOMEM;
    return VG_OK;
}

int audio_lossy_roundtrip(float *x, size_t n, int sample_rate, lossy_codec codec, int bitrate)
{
    if (!x || sample_rate < 8000 || sample_rate > 48000 || bitrate <= 0) return VG_EARG;
    roundtrip t = {0};
    int rc = open_codecs(&t, codec, sample_rate, bitrate);
    const size_t fs = t.in ? (size_t)t.in->nb_samples : 0;
    for (size_t i = 0; !rc && i < n; i += fs) {
        /* whole frames only (the last one padded with silence): not every
         * encoder accepts a short final frame */
        if ((rc = av_frame_make_writable(t.in) < 0 ? VG_ENOMEM : VG_OK)) break;
        size_t k = n - i < fs ? n - i : fs;
        if (t.in->format == AV_SAMPLE_FMT_FLT || t.in->format == AV_SAMPLE_FMT_FLTP) {
            float *d = (float *)t.in->data[0];
            memcpy(d, x + i, sizeof(float) * k);
            memset(d + k, 0, sizeof(float) * (fs - k));
        } else {
            int16_t *d = (int16_t *)t.in->data[0];
            for (size_t j = 0; j < fs; j++) {
                float v = j < k ? x[i + j] * 32768.0f : 0.0f;
                d[j] = (int16_t)(v > 32767.0f ? 32767 : v < -32768.0f ? -32768 : lrintf(v));
            }
        }
        t.in->pts = (int64_t)i;
        if (avcodec_send_frame(t.enc, t.in) < 0) rc = VG_EFORMAT;
        else rc = drain_encoder(&t);
    }
    if (!rc && avcodec_send_frame(t.enc, NULL) < 0) rc = VG_EFORMAT;
    if (!rc) rc = drain_encoder(&t);
    if (!rc && t.swr) rc = append(&t, NULL, 0);   /* the resampler's tail */
    if (!rc) {
        /* no delay to remove here: both encoders put their look-ahead
         * (initial padding) on the first packet as AV_PKT_DATA_SKIP_SAMPLES
         * and the decoder drops it (the unit test checks the alignment) */
        for (size_t i = 0; i < n; i++) x[i] = i < t.ny ? t.y[i] : 0.0f;
    }
    roundtrip_close(&t);
    return rc;
}
