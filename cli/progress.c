#include "progress.h"
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void progress_init(progress *p, const char *label, size_t total, int quiet)
{
    pthread_mutex_init(&p->lock, NULL);
    p->label = label;
    p->total = total;
    p->done = 0;
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->drawn = 0;
    p->start = now_seconds();
}

static void draw(progress *p)
{
    const int width = 30;
    int filled = p->total ? (int)(width * p->done / p->total) : width;
    double el = now_seconds() - p->start;
    double rate = el > 0 ? p->done / el : 0;
    double eta = rate > 0 ? (p->total - p->done) / rate : 0;
    fprintf(stderr, "\r%s [", p->label);
    for (int i = 0; i < width; i++) fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %zu/%zu  %.1f/s  eta %.0fs \033[K", p->done, p->total, rate, eta);
    fflush(stderr);
    p->drawn = 1;
}

void progress_step(progress *p)
{
    pthread_mutex_lock(&p->lock);
    p->done++;
    if (p->enabled) draw(p);
    pthread_mutex_unlock(&p->lock);
}

void progress_message(progress *p, const char *fmt, ...)
{
    pthread_mutex_lock(&p->lock);
    if (p->drawn) fputs("\r\033[K", stderr);
    va_list ap;
    va_start(ap, fmt);
    cli_vmessage(stderr, "", fmt, ap);   /* file names escaped */
    va_end(ap);
    if (p->enabled && p->drawn) draw(p);
    pthread_mutex_unlock(&p->lock);
}

void progress_finish(progress *p)
{
    pthread_mutex_lock(&p->lock);
    if (p->drawn) fputs("\r\033[K", stderr);
    p->drawn = 0;
    fflush(stderr);
    pthread_mutex_unlock(&p->lock);
}
