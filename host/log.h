/*
 * log.h -- the host's error log: one line per event on stderr (journald
 * adds its own timestamp under systemd; we add ours for plain terminals).
 * Format errors as `<op> "<subject>" failed: <cause>` and log them once,
 * where they are handled. Never pass a secret to these functions.
 */
#ifndef MQ_LOG_H
#define MQ_LOG_H

#include <stdarg.h>

enum { MQ_L_ERROR = 0, MQ_L_WARN = 1, MQ_L_INFO = 2, MQ_L_DEBUG = 3 };

/* Lines above this level are dropped. Default MQ_L_INFO. */
void mq_log_set_level(int level);

void mq_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mq_logv(int level, const char *prefix, const char *fmt, va_list ap);

#endif
