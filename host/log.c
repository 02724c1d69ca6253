#include "log.h"

#include <stdio.h>
#include <time.h>

static int log_level = MQ_L_INFO;

void mq_log_set_level(int level) { log_level = level; }

void mq_logv(int level, const char *prefix, const char *fmt, va_list ap)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (level > log_level || level < 0)
        return;
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S%z", &tm);
    /* One fprintf per part, under one lock, so lines never interleave. */
    flockfile(stderr);
    fprintf(stderr, "%s [%s] %s%s", ts, names[level], prefix ? prefix : "", prefix ? ": " : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    funlockfile(stderr);
}

void mq_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mq_logv(level, NULL, fmt, ap);
    va_end(ap);
}
