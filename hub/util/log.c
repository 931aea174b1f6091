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
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "loophub/error.h"

static lh_log_level_t g_level = LH_LOG_INFO;
static lh_log_sink_fn g_sink;
static void *g_sink_arg;
static lh_log_format_t g_format = LH_LOG_TEXT;

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

void
lh_log_set_format(lh_log_format_t f)
{
    g_format = f;
}

/* 1 when stderr is the stream systemd's JOURNAL_STREAM ("<device>:<inode>") names. */
static int
stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat sb;
    return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &sb) == 0 &&
           (unsigned long long)sb.st_dev == dev && (unsigned long long)sb.st_ino == ino;
}

int
lh_log_format_parse(const char *s, lh_log_format_t *out)
{
    if (!s)
        return LH_EINVAL;
    if (!strcasecmp(s, "text"))
        *out = LH_LOG_TEXT;
    else if (!strcasecmp(s, "json"))
        *out = LH_LOG_JSON;
    else if (!strcasecmp(s, "journal"))
        *out = LH_LOG_JOURNAL;
    else if (!strcasecmp(s, "auto"))
        *out = stderr_is_journal() ? LH_LOG_JOURNAL : LH_LOG_TEXT;
    else
        return LH_EINVAL;
    return 0;
}

/* s as the inside of a JSON string into out (at most len - 1 bytes, always terminated; a cut
 * never splits an escape). Returns the length written. */
static size_t
json_escape(const char *s, char *out, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[7];
        size_t k = 0;
        if (*p == '"' || *p == '\\') {
            e[k++] = '\\';
            e[k++] = (char)*p;
        } else if (*p == '\n') {
            e[k++] = '\\';
            e[k++] = 'n';
        } else if (*p < 0x20) {
            memcpy(e, "\\u00", 4);
            e[4] = hex[*p >> 4];
            e[5] = hex[*p & 15];
            k = 6;
        } else {
            e[k++] = (char)*p;
        }
        if (n + k >= len)
            break;
        memcpy(out + n, e, k);
        n += k;
    }
    out[n] = '\0';
    return n;
}

/* msg with its control characters escaped (a newline is "\\n"), so that one call is one line:
 * input quoted in a message cannot start a line (or a journal entry of its own priority). */
static const char *
one_line(const char *msg, char *out, size_t len)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p && n + 5 < len; p++) {
        if (*p >= 0x20 && *p != 0x7f) {
            out[n++] = (char)*p;
        } else if (*p == '\n' || *p == '\t' || *p == '\r') {
            out[n++] = '\\';
            out[n++] = *p == '\n' ? 'n' : *p == '\t' ? 't' : 'r';
        } else {
            n += (size_t)snprintf(out + n, len - n, "\\x%02x", *p);
        }
    }
    out[n] = '\0';
    return out;
}

static void
stderr_sink(lh_log_level_t level, const char *component, const char *msg)
{
    static const char prio[] = {'7', '6', '4', '3', '3'}; /* debug, info, warning, err */
    char line[2048];
    struct timespec ts;
    struct tm tm;
    int n;
    char flat[1800];
    if (g_format != LH_LOG_JSON)
        msg = one_line(msg, flat, sizeof(flat));
    if (g_format == LH_LOG_JOURNAL) {
        n = snprintf(line, sizeof(line), "<%c>%s: %s\n", prio[level], component, msg);
    } else {
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        char t[80];
        snprintf(t, sizeof(t), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
        if (g_format == LH_LOG_JSON) {
            char c[128], m[1800];
            json_escape(component, c, sizeof(c));
            json_escape(msg, m, sizeof(m));
            n = snprintf(line, sizeof(line),
                         "{\"time\":\"%s\",\"level\":\"%s\",\"component\":\"%s\",\"msg\":\"%s\"}\n",
                         t, level_names[level], c, m);
        } else {
            n = snprintf(line, sizeof(line), "%s %-5s %s: %s\n", t, level_names[level], component,
                         msg);
        }
    }
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
