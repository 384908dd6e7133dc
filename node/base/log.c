/* log.c -- timestamped log lines on stderr. */
#include "kula/base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

static enum kula_log_level min_level = KULA_LOG_INFO;

void kula_log_set_level(enum kula_log_level level) { min_level = level; }

void kula_log(enum kula_log_level level, const char *fmt, ...)
{
    if (level < min_level)
        return;
    static const char *const names[] = { "debug", "info", "warn", "error" };
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[32];
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* One fprintf per line keeps lines whole when threads log. */
    fprintf(stderr, "%s.%03dZ %-5s %s\n", ts, (int)(tv.tv_usec / 1000), names[level], msg);
}
