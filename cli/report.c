/* voxgender eval --report DIR: one self-contained index.html (inline SVG
 * charts, spectrograms as PNG data URIs). */
#include "report.h"
#include "cli.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* S in HTML text or an attribute: markup characters as entities, the rest
 * as in messages (cli_put_escaped: control characters and bytes that are
 * not UTF-8 escaped), so that the page stays valid UTF-8 whatever the file
 * names hold */
static void html_escape(FILE *f, const char *s)
{
    while (*s) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else {
            s = cli_put_escaped_char(f, s);
            continue;
        }
        s++;
    }
}

static void confusion_svg(FILE *f, const vg_metrics *m)
{
    const char *names[2] = {"female", "male"};
    long mx = 1;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) if (m->confusion[i][j] > mx) mx = m->confusion[i][j];
    fprintf(f, "<svg width=\"320\" height=\"272\" viewBox=\"0 0 320 272\" role=\"img\" aria-label=\"confusion matrix\">\n");
    fprintf(f, "<text x=\"190\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">predicted</text>\n");
    fprintf(f, "<text x=\"14\" y=\"150\" text-anchor=\"middle\" font-size=\"13\" transform=\"rotate(-90 14 150)\">true</text>\n");
    for (int i = 0; i < 2; i++) {
        fprintf(f, "<text x=\"%d\" y=\"36\" text-anchor=\"middle\" font-size=\"12\">%s</text>\n", 130 + 110 * i, names[i]);
        fprintf(f, "<text x=\"68\" y=\"%d\" text-anchor=\"end\" font-size=\"12\">%s</text>\n", 100 + 110 * i, names[i]);
        for (int j = 0; j < 2; j++) {
            double v = (double)m->confusion[i][j] / mx;
            int shade = (int)(255 - 180 * v);
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"108\" height=\"108\" fill=\"rgb(%d,%d,255)\" stroke=\"#333\"/>\n",
                    76 + 110 * j, 46 + 110 * i, shade, shade);
            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"22\">%ld</text>\n", 130 + 110 * j,
                    108 + 110 * i, m->confusion[i][j]);
        }
    }
    fprintf(f, "</svg>\n");
}

typedef struct { float p; int y; } scored;
static int by_p_desc(const void *a, const void *b)
{
    float x = ((const scored *)a)->p, y = ((const scored *)b)->p;
    return (x < y) - (x > y);
}

/* -1 when out of memory (nothing written) */
static int roc_svg(FILE *f, const int *labels, const float *p, size_t n, double auc)
{
    scored *s = malloc(sizeof(scored) * (n ? n : 1));
    if (!s) return -1;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) { s[i].p = p[i]; s[i].y = labels[i]; pos += labels[i] == 1; }
    qsort(s, n, sizeof(scored), by_p_desc);
    size_t neg = n - pos, tp = 0, fp = 0;
    const int W = 300, X0 = 40, Y0 = 10;
    fprintf(f, "<svg width=\"360\" height=\"350\" viewBox=\"0 0 360 350\" role=\"img\" aria-label=\"ROC curve\">\n");
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n", X0, Y0, W, W);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#aaa\" stroke-dasharray=\"4\"/>\n", X0, Y0 + W, X0 + W, Y0);
    fprintf(f, "<polyline fill=\"none\" stroke=\"#c0392b\" stroke-width=\"2\" points=\"%d,%d", X0, Y0 + W);
    for (size_t i = 0; i < n; i++) {
        if (s[i].y) tp++; else fp++;
        if (i + 1 < n && s[i + 1].p == s[i].p) continue;   /* ties: one step */
        double fx = neg ? (double)fp / neg : 0, ty = pos ? (double)tp / pos : 0;
        fprintf(f, " %.1f,%.1f", X0 + W * fx, Y0 + W * (1 - ty));
    }
    fprintf(f, "\"/>\n<text x=\"190\" y=\"338\" text-anchor=\"middle\" font-size=\"12\">false male rate</text>\n");
    fprintf(f, "<text x=\"14\" y=\"160\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 14 160)\">true male rate</text>\n");
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"14\">AUC %.4f</text>\n</svg>\n", X0 + 150, Y0 + W - 12, auc);
    free(s);
    return 0;
}

static void speakers_svg(FILE *f, const vg_metrics *m)
{
    size_t n = m->n_speakers < 80 ? m->n_speakers : 80;
    int h = 16 * (int)n + 30;
    fprintf(f, "<svg width=\"560\" height=\"%d\" viewBox=\"0 0 560 %d\" role=\"img\" aria-label=\"per-speaker accuracy\">\n", h, h);
    for (size_t k = 0; k < n; k++) {
        const vg_speaker_stat *s = &m->speakers[k];
        double acc = (double)s->correct / s->n;
        int y = 8 + 16 * (int)k;
        fprintf(f, "<text x=\"196\" y=\"%d\" text-anchor=\"end\" font-size=\"11\">", y + 11);
        html_escape(f, s->speaker);
        fprintf(f, " (%s)</text>\n", s->label ? "M" : "F");
        fprintf(f, "<rect x=\"200\" y=\"%d\" width=\"%.1f\" height=\"12\" fill=\"%s\"/>\n", y, 300 * acc,
                s->label ? "#2e86c1" : "#c0392b");
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\">%d/%d</text>\n", 205 + 300 * acc, y + 11, s->correct, s->n);
    }
    if (m->n_speakers > n)
        fprintf(f, "<text x=\"200\" y=\"%d\" font-size=\"11\">(%zu more speakers)</text>\n", h - 6, m->n_speakers - n);
    fprintf(f, "</svg>\n");
}

/* Column COL of epoch row I of the history metadata ([[epoch, train_loss,
 * train_acc, val_loss, val_acc, lr], ...]), NAN when the row or the value
 * is missing or not a number (a model file may come from elsewhere). */
static double history_value(const cJSON *h, int i, int col)
{
    const cJSON *v = cJSON_GetArrayItem(cJSON_GetArrayItem(h, i), col);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void curves_svg(FILE *f, const char *history)
{
    cJSON *h = history ? cJSON_Parse(history) : NULL;
    int n = cJSON_IsArray(h) ? cJSON_GetArraySize(h) : 0;
    int usable = 0;   /* the four curves' values (columns 1-4) */
    for (int i = 0; i < n; i++)
        for (int k = 1; k <= 4; k++) usable += isfinite(history_value(h, i, k));
    if (n < 1 || !usable) {
        fprintf(f, "<p>The model file holds %s training history (trained elsewhere or imported).</p>\n",
                history ? "no readable" : "no");
        cJSON_Delete(h);
        return;
    }
    double maxloss = 0.01;
    for (int i = 0; i < n; i++)
        for (int k = 1; k <= 3; k += 2) {
            double v = history_value(h, i, k);
            if (isfinite(v) && v > maxloss) maxloss = v;
        }
    const char *what[2] = {"loss", "accuracy"};
    for (int plot = 0; plot < 2; plot++) {
        const int W = 360, H = 200, X0 = 45, Y0 = 10;
        fprintf(f, "<svg width=\"420\" height=\"250\" viewBox=\"0 0 420 250\" role=\"img\" aria-label=\"training %s\">\n", what[plot]);
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n", X0, Y0, W, H);
        for (int series = 0; series < 2; series++) {
            int col = plot == 0 ? (series ? 3 : 1) : (series ? 4 : 2);
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", series ? "#c0392b" : "#2e86c1");
            for (int i = 0; i < n; i++) {
                double v = history_value(h, i, col);
                if (!isfinite(v)) continue;   /* a gap, not a point at 0 */
                double y = plot == 0 ? v / maxloss : v;
                double x = n > 1 ? (double)i / (n - 1) : 0.5;
                fprintf(f, " %.1f,%.1f", X0 + W * x, Y0 + H * (1 - fmin(fmax(y, 0), 1)));
            }
            fprintf(f, "\"/>\n");
        }
        fprintf(f, "<text x=\"%d\" y=\"240\" text-anchor=\"middle\" font-size=\"12\">epoch 1..%d</text>\n", X0 + W / 2, n);
        fprintf(f, "<text x=\"%d\" y=\"28\" font-size=\"12\" fill=\"#2e86c1\">train %s</text>", X0 + 8, what[plot]);
        fprintf(f, "<text x=\"%d\" y=\"44\" font-size=\"12\" fill=\"#c0392b\">validation %s</text>\n", X0 + 8, what[plot]);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"11\">%.3g</text>\n", X0 - 4, Y0 + 10,
                plot == 0 ? maxloss : 1.0);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"11\">0</text>\n</svg>\n", X0 - 4, Y0 + H);
    }
    cJSON_Delete(h);
}

static void base64(FILE *f, const unsigned char *d, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
        fputc(t[v >> 18 & 63], f);
        fputc(t[v >> 12 & 63], f);
        fputc(i + 1 < n ? t[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? t[v & 63] : '=', f);
    }
}

/* The first 6 s of a recording as a log-mel PNG data URI. */
static int spectrogram_uri(FILE *f, const char *path, const char *dir)
{
    vg_frontend fe;
    vg_frontend_default(&fe, VG_FE_LOGMEL);
    float *x = NULL;
    int c, h, w;
    if (vg_features_from_audio(&fe, path, 0, 0, &x, &c, &h, &w, NULL)) return -1;
    vg_image img;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/.spec.XXXXXX.png", dir);   /* its own name, as the page's */
    int fd = mkstemps(tmp, 4);
    if (fd < 0) { free(x); return -1; }
    close(fd);
    int rc = vg_spectrogram_to_image(x, h, w, &img);
    free(x);
    if (rc || vg_image_write_png(tmp, &img)) { vg_image_free(&img); unlink(tmp); return -1; }
    vg_image_free(&img);
    FILE *p = fopen(tmp, "rb");
    long n = p && fseek(p, 0, SEEK_END) == 0 ? ftell(p) : -1;
    unsigned char *buf = n > 0 ? malloc((size_t)n) : NULL;
    size_t got = buf && fseek(p, 0, SEEK_SET) == 0 ? fread(buf, 1, (size_t)n, p) : 0;
    if (p) fclose(p);
    unlink(tmp);
    if (!got || got != (size_t)n) { free(buf); return -1; }
    fputs("data:image/png;base64,", f);
    base64(f, buf, got);
    free(buf);
    return 0;
}

int write_report(const char *dir, const char *model_path, const vg_model *model, const char *data,
                 const vg_metrics *m, vg_item *const *items, const int *labels, const float *p,
                 size_t n, size_t n_failed)
{
    if (cli_mkdirs(dir)) return -1;
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/index.html", dir);
    /* a name of its own, so that two reports written into one folder at once
     * do not write into one temporary file */
    snprintf(tmp, sizeof tmp, "%s/.index.html.XXXXXX", dir);
    size_t *order = malloc(sizeof(size_t) * (n ? n : 1));
    int fd = order ? mkstemp(tmp) : -1;
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0) { close(fd); unlink(tmp); }
        free(order);
        return -1;
    }
    mode_t mask = umask(0);   /* mkstemp makes it 0600; give the page a file's usual mode */
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>voxgender evaluation</title>\n"
               "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
               "table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}"
               ".row{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}figure{margin:0}"
               "img.spec{width:481px;height:128px;image-rendering:pixelated;border:1px solid #999}</style>\n"
               "</head><body>\n<h1>voxgender evaluation</h1>\n<table>\n");
    fputs("<tr><th>model</th><td>", f); html_escape(f, model_path); fputs("</td></tr>\n", f);
    fputs("<tr><th>data</th><td>", f); html_escape(f, data); fputs("</td></tr>\n", f);
    const char *keys[] = {"trained_on", "training_recipe", "trained_date", "selected_epoch"};
    for (int k = 0; k < 4; k++) {
        const char *v = vg_model_meta(model, keys[k]);
        if (!v) continue;
        fprintf(f, "<tr><th>%s</th><td>", keys[k]);
        html_escape(f, v);
        fputs("</td></tr>\n", f);
    }
    fprintf(f, "<tr><th>recordings</th><td>%zu (%zu unreadable or without speech, skipped)</td></tr>\n", m->n, n_failed);
    fprintf(f, "<tr><th>accuracy</th><td>%.2f%%</td></tr>\n<tr><th>speaker-balanced accuracy</th><td>%.2f%% (%zu speakers)</td></tr>\n",
            100 * m->accuracy, 100 * m->speaker_balanced_accuracy, m->n_speakers);
    fprintf(f, "<tr><th>recall</th><td>female %.1f%%, male %.1f%%</td></tr>\n<tr><th>ROC AUC</th><td>%.4f</td></tr>\n</table>\n",
            100 * m->recall[0], 100 * m->recall[1], m->auc);
    fputs("<div class=\"row\"><figure><h2>Confusion matrix</h2>\n", f);
    confusion_svg(f, m);
    fputs("</figure><figure><h2>ROC curve</h2>\n", f);
    if (roc_svg(f, labels, p, n, m->auc)) {   /* a page without it would look complete */
        fclose(f);
        unlink(tmp);
        free(order);
        return -1;
    }
    fputs("</figure></div>\n<h2>Training curves</h2>\n<div class=\"row\">\n", f);
    curves_svg(f, vg_model_meta(model, "history"));
    fputs("</div>\n<h2>Accuracy per speaker (worst first)</h2>\n", f);
    speakers_svg(f, m);
    /* the worst-classified clips: largest error |label - p| */
    fputs("<h2>Worst-classified recordings</h2>\n<div class=\"row\">\n", f);
    for (size_t i = 0; i < n; i++) order[i] = i;
    for (size_t i = 0; i < n && i < 6; i++)       /* partial selection sort */
        for (size_t j = i + 1; j < n; j++)
            if (fabsf(labels[order[j]] - p[order[j]]) > fabsf(labels[order[i]] - p[order[i]])) {
                size_t t = order[i]; order[i] = order[j]; order[j] = t;
            }
    for (size_t k = 0; k < n && k < 6; k++) {
        size_t i = order[k];
        fputs("<figure><img class=\"spec\" alt=\"log-mel spectrogram\" src=\"", f);
        if (spectrogram_uri(f, items[i]->path, dir)) fputs("data:,", f);
        fputs("\"><figcaption>", f);
        html_escape(f, items[i]->relpath);
        fprintf(f, "<br>true %s, P(male) %.3f</figcaption></figure>\n", labels[i] ? "male" : "female", p[i]);
    }
    free(order);
    /* lets a headless browser (and the test) see that every image decoded */
    fputs("</div>\n<script>window.addEventListener('load',function(){var im=document.images,ok=0;"
          "for(var i=0;i<im.length;i++)if(im[i].complete&&im[i].naturalWidth>0)ok++;"
          "document.body.setAttribute('data-images-loaded',ok+'/'+im.length);});</script>\n</body></html>\n", f);
    if (fclose(f) != 0 || rename(tmp, path) != 0) { unlink(tmp); return -1; }
    return 0;
}
