/*
 * log.c - one line per message, to a pluggable sink (stderr by default).
 *
 * Rate limiting keeps a small fixed table of keys (static strings compared by pointer, then by
 * content); each key may log once per second, and the number of suppressed lines is reported
 * with the next line that gets through. The hub is single-threaded, so no locking is needed;
 * tools that log from several threads use only lh_log(), whose stderr sink writes each line
 * with one write(2).
 */
#include "loophub/log.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "loophub/error.h"

static lh_log_level_t g_level = LH_LOG_INFO;
static lh_log_sink_fn g_sink;
static void *g_sink_arg;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void
lh_log_set_level(lh_log_level_t level)
{
    g_level = level;
}

lh_log_level_t
lh_log_get_level(void)
{
    return g_level;
}

int
lh_log_level_parse(const char *s, lh_log_level_t *out)
{
    for (int i = 0; i <= LH_LOG_OFF; i++) {
        if (s && strcasecmp(s, level_names[i]) == 0) {
            *out = (lh_log_level_t)i;
            return 0;
        }
    }
    if (s && strcasecmp(s, "warning") == 0) {
        *out = LH_LOG_WARN;
        return 0;
    }
    return LH_EINVAL;
}

void
lh_log_set_sink(lh_log_sink_fn fn, void *arg)
{
    g_sink = fn;
    g_sink_arg = arg;
}

static void
stderr_sink(lh_log_level_t level, const char *component, const char *msg)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: %s\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level], component, msg);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line)) {
        n = sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

__attribute__((format(printf, 3, 0))) static void
emit(lh_log_level_t level, const char *component, const char *fmt, va_list ap)
{
    char msg[1536];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (g_sink)
        g_sink(level, component, msg, g_sink_arg);
    else
        stderr_sink(level, component, msg);
}

void
lh_log(lh_log_level_t level, const char *component, const char *fmt, ...)
{
    if (level < g_level || level >= LH_LOG_OFF)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(level, component, fmt, ap);
    va_end(ap);
}

#define RL_SLOTS 64

static struct {
    const char *key;
    int64_t last; /* CLOCK_MONOTONIC ns of the last line written; 0: none yet */
    long suppressed;
} rl[RL_SLOTS];

int
lh_log_ratelimited(const char *key, lh_log_level_t level, const char *component, const char *fmt,
                   ...)
{
    if (level < g_level || level >= LH_LOG_OFF)
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int slot = -1, free_slot = -1, oldest = 0;
    for (int i = 0; i < RL_SLOTS; i++) {
        if (rl[i].key == NULL) {
            if (free_slot < 0)
                free_slot = i;
            continue;
        }
        if (rl[i].key == key || strcmp(rl[i].key, key) == 0) {
            slot = i;
            break;
        }
        if (rl[i].last < rl[oldest].last)
            oldest = i;
    }
    if (slot < 0) {
        slot = free_slot >= 0 ? free_slot : oldest;
        rl[slot].key = key;
        rl[slot].last = 0;
        rl[slot].suppressed = 0;
    }
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    /* a whole second since the last line, not a change of the seconds digit: a burst that
     * crosses a second boundary still gets one line */
    if (rl[slot].last != 0 && now - rl[slot].last < 1000000000) {
        rl[slot].suppressed++;
        return 0;
    }
    char msg[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (rl[slot].suppressed > 0)
        lh_log(level, component, "%s (and %ld more like it in the last second)", msg,
               rl[slot].suppressed);
    else
        lh_log(level, component, "%s", msg);
    rl[slot].last = now ? now : 1;
    rl[slot].suppressed = 0;
    return 1;
}
