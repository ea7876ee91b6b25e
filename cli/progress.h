/* A one-line progress bar on stderr, drawn only when stderr is a terminal. */
#ifndef VG_CLI_PROGRESS_H
#define VG_CLI_PROGRESS_H
#include <pthread.h>
#include <stddef.h>

typedef struct progress {
    pthread_mutex_t lock;
    const char *label;
    size_t total, done;
    int enabled;            /* stderr is a tty and not --quiet */
    int drawn;              /* a bar is on screen and must be erased before messages */
    double start;
} progress;

void progress_init(progress *p, const char *label, size_t total, int quiet);
/* Count one finished item and redraw (thread-safe). */
void progress_step(progress *p);
/* Print a message line on stderr without garbling the bar (thread-safe). */
void progress_message(progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Erase the bar. */
void progress_finish(progress *p);
double now_seconds(void);
#endif
