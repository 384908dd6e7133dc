/* log.h -- the node's log: one line per event on stderr, UTC timestamps. */
#ifndef KULA_LOG_H
#define KULA_LOG_H

enum kula_log_level { KULA_LOG_DEBUG = 0, KULA_LOG_INFO = 1, KULA_LOG_WARN = 2, KULA_LOG_ERROR = 3 };

void kula_log_set_level(enum kula_log_level level);
void kula_log(enum kula_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define kula_debug(...) kula_log(KULA_LOG_DEBUG, __VA_ARGS__)
#define kula_info(...) kula_log(KULA_LOG_INFO, __VA_ARGS__)
#define kula_warn(...) kula_log(KULA_LOG_WARN, __VA_ARGS__)
#define kula_error(...) kula_log(KULA_LOG_ERROR, __VA_ARGS__)

#endif /* KULA_LOG_H */
