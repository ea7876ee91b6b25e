/* Audio decoding: any FFmpeg-readable file -> mono float at a fixed rate,
 * limited to one window so that memory does not grow with the file length. */
#include "voxgender.h"
#include "decode.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void audio_decoder_versions(char *buf, size_t n)
{
    snprintf(buf, n, "avformat-%u avcodec-%u swresample-%u", avformat_version(), avcodec_version(),
             swresample_version());
}

/* The library must not print: FFmpeg logs to stderr by default. */
static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;
static void make_ffmpeg_quiet(void) { av_log_set_level(AV_LOG_QUIET); }

typedef struct decoder {
    AVFormatContext *fmt;
    AVCodecContext *codec;
    SwrContext *swr;
    AVPacket *pkt;
    AVFrame *frame;
    int stream;
} decoder;

static void decoder_close(decoder *d)
{
    swr_free(&d->swr);
    av_frame_free(&d->frame);
    av_packet_free(&d->pkt);
    avcodec_free_context(&d->codec);
    avformat_close_input(&d->fmt);
}

/* Resampler that averages all input channels into one (the usual meaning of
 * "downmix to mono"; FFmpeg's default rematrix would weight channels by
 * their speaker position instead) and converts to float at OUT_RATE. */
static int open_resampler(decoder *d, int out_rate)
{
    AVChannelLayout in_layout = {0}, mono = AV_CHANNEL_LAYOUT_MONO;   /* copy() uninits its target first */
    int nch = d->codec->ch_layout.nb_channels;
    if (nch <= 0) return VG_EFORMAT;
    if (d->codec->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
        av_channel_layout_default(&in_layout, nch);
    else if (av_channel_layout_copy(&in_layout, &d->codec->ch_layout) < 0)
        return VG_ENOMEM;

    int rc = swr_alloc_set_opts2(&d->swr, &mono, AV_SAMPLE_FMT_FLT, out_rate,
                                 &in_layout, d->codec->sample_fmt,
                                 d->codec->sample_rate, 0, NULL);
    av_channel_layout_uninit(&in_layout);
    if (rc < 0) return VG_EFORMAT;

    double *matrix = malloc(sizeof(double) * (size_t)nch);
    if (!matrix) return VG_ENOMEM;
    for (int c = 0; c < nch; c++) matrix[c] = 1.0 / nch;
    rc = swr_set_matrix(d->swr, matrix, nch);
    free(matrix);
    if (rc < 0 || swr_init(d->swr) < 0) return VG_EFORMAT;
    return VG_OK;
}

static uint32_t le32(const unsigned char *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* FFmpeg's WAV demuxer clamps the data chunk to the file size, so a WAV cut
 * short reads as a shorter recording. Compare the RIFF data chunk's declared
 * size with what the file holds. Sizes 0 and 0xFFFFFFFF are the placeholders
 * streaming writers leave, not claims. */
static int wav_is_truncated(const char *path, off_t file_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char h[12], ch[8];
    int truncated = 0;
    if (fread(h, 1, 12, f) == 12 && !memcmp(h, "RIFF", 4) && !memcmp(h + 8, "WAVE", 4)) {
        long pos = 12;
        while (fread(ch, 1, 8, f) == 8) {
            uint32_t size = le32(ch + 4);
            pos += 8;
            if (!memcmp(ch, "data", 4)) {
                truncated = size != 0 && size != 0xFFFFFFFFu && pos + (off_t)size > file_size;
                break;
            }
            pos += size + (size & 1);
            if (pos >= file_size || fseek(f, pos, SEEK_SET) != 0) break;
        }
    }
    fclose(f);
    return truncated;
}

/* True when the header alone gives codec, rate, channels and sample format
 * of an audio stream. */
static int header_describes_audio(const AVFormatContext *fmt)
{
    int found = 0;
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        const AVCodecParameters *p = fmt->streams[i]->codecpar;
        if (p->codec_type != AVMEDIA_TYPE_AUDIO) continue;
        if (p->codec_id == AV_CODEC_ID_NONE || p->sample_rate <= 0 ||
            p->ch_layout.nb_channels <= 0 || p->format < 0)
            return 0;
        found = 1;
    }
    return found && (fmt->ctx_flags & AVFMTCTX_NOHEADER) == 0;
}

static int decoder_open(decoder *d, const char *path, int out_rate,
                        vg_clip_info *info)
{
    struct stat st = {0};
    int is_stdin = !strcmp(path, "-");
    if (!is_stdin) {
        if (stat(path, &st) != 0) return errno == ENOENT ? VG_ENOENT : VG_EIO;
        if (S_ISDIR(st.st_mode)) return VG_EARG;
        if (st.st_size == 0) return VG_EEMPTY;
    }
    if (avformat_open_input(&d->fmt, is_stdin ? "pipe:0" : path, NULL, NULL) < 0) return VG_EFORMAT;
    /* avformat_find_stream_info decodes frames to learn stream parameters;
     * most containers (WAV, FLAC, Ogg, MP4/M4A, Matroska) already state them
     * in the header, and the probe would double the decoding work. */
    if (!header_describes_audio(d->fmt) && avformat_find_stream_info(d->fmt, NULL) < 0)
        return VG_EFORMAT;
    if (!is_stdin && !strcmp(d->fmt->iformat->name, "wav") && wav_is_truncated(path, st.st_size))
        return VG_EDECODE;

    const AVCodec *dec = NULL;
    d->stream = av_find_best_stream(d->fmt, AVMEDIA_TYPE_AUDIO, -1, -1, &dec, 0);
    if (d->stream == AVERROR_STREAM_NOT_FOUND) return VG_ENOSTREAM;
    if (d->stream < 0 || !dec) return VG_EUNSUPPORTED;
    /* Only the chosen stream is read; dropping the others (video) saves work. */
    for (unsigned i = 0; i < d->fmt->nb_streams; i++)
        if ((int)i != d->stream) d->fmt->streams[i]->discard = AVDISCARD_ALL;

    AVCodecParameters *par = d->fmt->streams[d->stream]->codecpar;
    /* FFmpeg rounds PCM sample sizes below 8 bits (a 1-bit WAV) up to 8-bit
     * and would decode noise. */
    if (par->codec_id >= AV_CODEC_ID_FIRST_AUDIO && par->codec_id < AV_CODEC_ID_ADPCM_IMA_QT &&
        par->bits_per_coded_sample > 0 && par->bits_per_coded_sample < 8)
        return VG_EUNSUPPORTED;
    if (par->sample_rate < VG_MIN_SOURCE_RATE || par->sample_rate > VG_MAX_SOURCE_RATE)
        return VG_ERATE;

    d->codec = avcodec_alloc_context3(dec);
    if (!d->codec) return VG_ENOMEM;
    if (avcodec_parameters_to_context(d->codec, par) < 0) return VG_EFORMAT;
    d->codec->thread_count = 1;   /* callers parallelise over files */
    if (avcodec_open2(d->codec, dec, NULL) < 0) return VG_EFORMAT;
    if (d->codec->sample_rate < VG_MIN_SOURCE_RATE ||
        d->codec->sample_rate > VG_MAX_SOURCE_RATE)
        return VG_ERATE;

    if (info) {
        info->source_rate = d->codec->sample_rate;
        info->source_channels = d->codec->ch_layout.nb_channels;
    }
    d->pkt = av_packet_alloc();
    d->frame = av_frame_alloc();
    if (!d->pkt || !d->frame) return VG_ENOMEM;
    return open_resampler(d, out_rate);
}

/* Collects resampled output: samples before SKIP are dropped, the next
 * WANT samples go to BUF. */
typedef struct sink {
    float *buf;
    size_t want, got;
    int64_t skip;        /* output samples still to drop before the window */
    int64_t total;       /* output samples produced so far */
    float scratch[4096];
} sink;

static int sink_take(sink *s, const float *x, int n)
{
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i])) return VG_ENONFINITE;
    }
    s->total += n;
    int start = 0;
    if (s->skip > 0) {
        int drop = s->skip < n ? (int)s->skip : n;
        s->skip -= drop;
        start = drop;
    }
    size_t room = s->want - s->got;
    size_t take = (size_t)(n - start) < room ? (size_t)(n - start) : room;
    memcpy(s->buf + s->got, x + start, take * sizeof(float));
    s->got += take;
    return VG_OK;
}

/* Push one decoded frame (or NULL to flush) through the resampler. */
static int resample_into(decoder *d, const AVFrame *f, sink *s)
{
    const uint8_t **in = f ? (const uint8_t **)f->extended_data : NULL;
    int in_n = f ? f->nb_samples : 0;
    for (;;) {
        uint8_t *out = (uint8_t *)s->scratch;
        int n = swr_convert(d->swr, &out, 4096, in, in_n);
        if (n < 0) return VG_EDECODE;
        int rc = sink_take(s, s->scratch, n);
        if (rc) return rc;
        /* Keep draining while the scratch buffer came back full. */
        if (n < 4096) return VG_OK;
        in = NULL;
        in_n = 0;
    }
}

static int receive_frames(decoder *d, sink *s)
{
    for (;;) {
        int rc = avcodec_receive_frame(d->codec, d->frame);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return VG_OK;
        if (rc < 0) return VG_EDECODE;
        if (d->frame->sample_rate && d->frame->sample_rate != d->codec->sample_rate)
            return VG_EUNSUPPORTED; /* mid-stream rate change */
        rc = resample_into(d, d->frame, s);
        av_frame_unref(d->frame);
        if (rc) return rc;
        if (s->got == s->want) return VG_OK;
    }
}

/* Read the next packet of the stream (or reach the end: *EOF set and the
 * decoder drained) and pass the frames it completes to the sink. Packets of
 * other streams are skipped. */
static int decode_packet(decoder *d, sink *s, int *eof)
{
    int r = av_read_frame(d->fmt, d->pkt);
    if (r == AVERROR_EOF) {
        *eof = 1;
        if (avcodec_send_packet(d->codec, NULL) < 0) return VG_EDECODE;
    } else if (r < 0) {
        return VG_EDECODE;
    } else if (d->pkt->stream_index != d->stream) {
        av_packet_unref(d->pkt);
        return VG_OK;
    } else {
        r = avcodec_send_packet(d->codec, d->pkt);
        av_packet_unref(d->pkt);
        if (r < 0 && r != AVERROR(EAGAIN)) return VG_EDECODE;
    }
    return receive_frames(d, s);
}

/* Does the container claim a length much longer than what we decoded?
 * Only trusted when the duration comes from the stream header (WAV, FLAC
 * STREAMINFO...), not when estimated from the bitrate. */
static int looks_truncated(const decoder *d, int64_t decoded, int out_rate)
{
    const AVStream *st = d->fmt->streams[d->stream];
    if (d->fmt->duration_estimation_method != AVFMT_DURATION_FROM_STREAM) return 0;
    if (st->duration <= 0) return 0;
    double claimed = st->duration * av_q2d(st->time_base);
    double got = (double)decoded / out_rate;
    return got < 0.9 * claimed - 0.05;
}

int vg_audio_load_window(const char *path, double offset, double seconds,
                         int sample_rate, float **out, vg_clip_info *info)
{
    if (!path || !out || !(seconds > 0) || !(offset >= 0) || sample_rate < 1000 ||
        sample_rate > VG_MAX_SOURCE_RATE || seconds * sample_rate > 1e9)
        return VG_EARG;
    *out = NULL;
    pthread_once(&quiet_once, make_ffmpeg_quiet);
    if (info) memset(info, 0, sizeof *info);

    size_t want = (size_t)llround(seconds * sample_rate);
    if (want == 0) return VG_EARG;
    sink *s = calloc(1, sizeof *s);
    float *buf = calloc(want, sizeof(float));
    decoder d = {0};
    int rc = (!s || !buf) ? VG_ENOMEM : decoder_open(&d, path, sample_rate, info);
    if (rc) goto fail;

    s->buf = buf;
    s->want = want;
    s->skip = llround(offset * sample_rate);

    int eof = 0;
    while (s->got < s->want && !eof)
        if ((rc = decode_packet(&d, s, &eof))) goto fail;
    if (eof && s->got < s->want && (rc = resample_into(&d, NULL, s))) goto fail;

    if (s->total == 0) { rc = VG_ENOSAMPLES; goto fail; }
    if (s->got == 0) {
        rc = VG_EOFFSET;
        goto fail;
    }
    if (eof && looks_truncated(&d, s->total, sample_rate)) { rc = VG_EDECODE; goto fail; }

    if (info) {
        info->n_valid = s->got;
        info->padded = s->got < s->want;
        info->source_seconds = (double)s->total / sample_rate;
    }
    decoder_close(&d);
    free(s);
    *out = buf;
    return VG_OK;

fail:
    decoder_close(&d);
    free(s);
    free(buf);
    return rc;
}

int vg_audio_probe(const char *path, double *seconds)
{
    if (!path || !seconds) return VG_EARG;
    pthread_once(&quiet_once, make_ffmpeg_quiet);
    decoder d = {0};
    int rc = decoder_open(&d, path, 16000, NULL);
    if (rc == VG_OK) {
        const AVStream *st = d.fmt->streams[d.stream];
        if (st->duration > 0) *seconds = st->duration * av_q2d(st->time_base);
        else if (d.fmt->duration > 0) *seconds = d.fmt->duration / (double)AV_TIME_BASE;
        else *seconds = 0;
    }
    decoder_close(&d);
    return rc;
}

/* ---- streaming reader: the same decoder, drained block by block */
struct vg_audio_reader {
    decoder d;
    sink *s;          /* skip 0, want = the caller's block */
    float *pending;   /* resampled samples not yet returned */
    size_t n_pending, cap_pending;
    int eof, flushed;
};

int vg_audio_reader_open(const char *path, int sample_rate, vg_audio_reader **out)
{
    if (!path || !out) return VG_EARG;
    *out = NULL;
    pthread_once(&quiet_once, make_ffmpeg_quiet);
    vg_audio_reader *r = calloc(1, sizeof *r);
    if (!r) return VG_ENOMEM;
    r->s = calloc(1, sizeof(sink));
    int rc = r->s ? decoder_open(&r->d, path, sample_rate, NULL) : VG_ENOMEM;
    if (rc) { vg_audio_reader_close(r); return rc; }
    *out = r;
    return VG_OK;
}

/* Decoded, resampled samples collect in r->pending (with room for a whole
 * codec frame, so the sink never drops any); the caller gets them in blocks
 * of its own size. */
#define READER_HEADROOM ((size_t)1 << 18)

static int reader_fill(vg_audio_reader *r)
{
    if (r->cap_pending - r->n_pending < READER_HEADROOM) {
        size_t cap = r->n_pending + 2 * READER_HEADROOM;
        float *p = realloc(r->pending, sizeof(float) * cap);
        if (!p) return VG_ENOMEM;
        r->pending = p;
        r->cap_pending = cap;
    }
    sink *s = r->s;
    s->buf = r->pending + r->n_pending;
    s->want = r->cap_pending - r->n_pending;
    s->got = 0;
    s->skip = 0;
    int rc = VG_OK;
    if (r->eof) {
        rc = resample_into(&r->d, NULL, s);
        r->flushed = 1;
    } else {
        rc = decode_packet(&r->d, s, &r->eof);
    }
    r->n_pending += s->got;
    return rc;
}

long vg_audio_reader_read(vg_audio_reader *r, float *buf, size_t max)
{
    if (!r || !buf || !max) return VG_EARG;
    while (r->n_pending < max && !r->flushed) {
        int rc = reader_fill(r);
        if (rc) return rc;
    }
    size_t n = r->n_pending < max ? r->n_pending : max;
    memcpy(buf, r->pending, sizeof(float) * n);
    memmove(r->pending, r->pending + n, sizeof(float) * (r->n_pending - n));
    r->n_pending -= n;
    return (long)n;
}

void vg_audio_reader_close(vg_audio_reader *r)
{
    if (!r) return;
    decoder_close(&r->d);
    free(r->s);
    free(r->pending);
    free(r);
}

int vg_resample(const float *in, size_t n, int in_rate, int out_rate, float **out, size_t *n_out)
{
    if (!in || !out || !n_out || n > (size_t)INT_MAX) return VG_EARG;
    *out = NULL;
    *n_out = 0;
    if (in_rate < VG_MIN_SOURCE_RATE || in_rate > VG_MAX_SOURCE_RATE || out_rate < VG_MIN_SOURCE_RATE ||
        out_rate > VG_MAX_SOURCE_RATE)
        return VG_ERATE;
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    SwrContext *swr = NULL;
    if (swr_alloc_set_opts2(&swr, &mono, AV_SAMPLE_FMT_FLT, out_rate, &mono, AV_SAMPLE_FMT_FLT, in_rate, 0,
                            NULL) < 0 || swr_init(swr) < 0) {
        swr_free(&swr);
        return VG_ENOMEM;
    }
    /* room for every output sample, the resampler's delay flushed included */
    double cap_d = (double)n * out_rate / in_rate + 256;
    if (cap_d > INT_MAX) { swr_free(&swr); return VG_EARG; }
    int cap = (int)cap_d;
    float *y = malloc(sizeof(float) * (size_t)cap);
    if (!y) { swr_free(&swr); return VG_ENOMEM; }
    const uint8_t *src = (const uint8_t *)in;
    uint8_t *dst = (uint8_t *)y;
    int got = swr_convert(swr, &dst, cap, &src, (int)n), more = -1;
    if (got >= 0) {
        dst = (uint8_t *)(y + got);
        more = swr_convert(swr, &dst, cap - got, NULL, 0);   /* flush the delay */
    }
    swr_free(&swr);
    if (got < 0 || more < 0) { free(y); return VG_EFORMAT; }
    *out = y;
    *n_out = (size_t)got + (size_t)more;
    return VG_OK;
}
