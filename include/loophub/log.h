/*
 * log.h - one logging entry point for the whole hub.
 *
 * lh_log(level, component, fmt, ...) formats one line and hands it to the current sink
 * (stderr by default: "2026-11-26T10:00:00.123Z warn  store: message"). Library code never
 * writes to stdout. lh_log_ratelimited() logs a message at most once a second per key, so a
 * flood of bad input cannot flood the log.
 */
#ifndef LOOPHUB_LOG_H
#define LOOPHUB_LOG_H

#include <stdarg.h>

typedef enum {
    LH_LOG_DEBUG = 0,
    LH_LOG_INFO = 1,
    LH_LOG_WARN = 2,
    LH_LOG_ERROR = 3,
    LH_LOG_OFF = 4,
} lh_log_level_t;

typedef void (*lh_log_sink_fn)(lh_log_level_t level, const char *component, const char *msg,
                               void *arg);

void lh_log(lh_log_level_t level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Logs at most once a second per key (a static string, e.g. the reject reason). Returns 1
 * when the line was written, 0 when it was suppressed; suppressed lines are counted and the
 * count is reported with the next line written for that key. */
int lh_log_ratelimited(const char *key, lh_log_level_t level, const char *component,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

void lh_log_set_level(lh_log_level_t level);
lh_log_level_t lh_log_get_level(void);

/* Parses "debug", "info", "warn", "error", "off". Returns 0 or LH_EINVAL. */
int lh_log_level_parse(const char *s, lh_log_level_t *out);

/* Replaces the sink; NULL restores the stderr sink. */
void lh_log_set_sink(lh_log_sink_fn fn, void *arg);

/* How the stderr sink writes a line:
 *   LH_LOG_TEXT     "2026-11-26T10:00:00.123Z warn  store: message" (the default)
 *   LH_LOG_JSON     {"time":"...","level":"warn","component":"store","msg":"message"}
 *   LH_LOG_JOURNAL  "<4>store: message": a syslog priority prefix and no time, for journald,
 *                   which stamps each line itself and keeps the level (sd-daemon(3)) */
typedef enum {
    LH_LOG_TEXT = 0,
    LH_LOG_JSON = 1,
    LH_LOG_JOURNAL = 2,
} lh_log_format_t;

void lh_log_set_format(lh_log_format_t f);
/* Parses "text", "json", "journal", or "auto": journal when stderr is the journal stream
 * systemd names in JOURNAL_STREAM (its device and inode match), else text. Returns 0 or
 * LH_EINVAL. */
int lh_log_format_parse(const char *s, lh_log_format_t *out);

#endif
