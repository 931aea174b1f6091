/*
 * timeutil.c - RFC 3339 times and "2h"-style durations.
 *
 * Calendar arithmetic is done on days since the epoch with the proleptic Gregorian calendar
 * (no timegm, no TZ environment), so results do not depend on the process's locale or zone.
 * Representable range: int64 nanoseconds, i.e. 1677-09-21 .. 2262-04-11.
 */
#include "loophub/timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "loophub/error.h"

int64_t
lh_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * LH_NS_PER_SEC + ts.tv_nsec;
}

int64_t
lh_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * LH_NS_PER_SEC + ts.tv_nsec;
}

/* Days since 1970-01-01 of a civil date (month 1..12). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

static int
digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return LH_EINVAL;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int
days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

int
lh_time_parse(const char *s, int64_t *ns)
{
    if (!s)
        return LH_EINVAL;
    const char *p = s;
    int y, mo, d, h, mi, se;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
        return LH_EINVAL;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return LH_EINVAL;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &se))
        return LH_EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60)
        return LH_EINVAL;
    int64_t frac = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        if (!isdigit((unsigned char)*p))
            return LH_EINVAL;
        while (isdigit((unsigned char)*p)) {
            if (n < 9) {
                frac = frac * 10 + (*p - '0');
                n++;
            }
            p++;
        }
        while (n++ < 9)
            frac *= 10;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int oh, om;
        p++;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
            return LH_EINVAL;
        off = sign * ((int64_t)oh * 3600 + om * 60);
    } else {
        return LH_EINVAL;
    }
    if (*p != '\0')
        return LH_EINVAL;
    if (se == 60)
        se = 59; /* leap second: clamp, SQL-style */
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
    /* Exactly the int64 ns range, so every time lh_time_format() writes parses back:
     * 1677-09-21T00:12:43.145224192Z .. 2262-04-11T23:47:16.854775807Z. In the first second of
     * it secs * 1e9 alone would overflow, hence the split. */
    const int64_t max_s = INT64_MAX / LH_NS_PER_SEC, min_s = INT64_MIN / LH_NS_PER_SEC - 1;
    if (secs > max_s || secs < min_s || (secs == max_s && frac > INT64_MAX % LH_NS_PER_SEC) ||
        (secs == min_s && frac < LH_NS_PER_SEC + INT64_MIN % LH_NS_PER_SEC))
        return LH_EINVAL;
    if (secs == min_s)
        *ns = (secs + 1) * LH_NS_PER_SEC + (frac - LH_NS_PER_SEC);
    else
        *ns = secs * LH_NS_PER_SEC + frac;
    return 0;
}

int
lh_time_format(int64_t ns, char *buf, size_t len)
{
    int64_t secs = ns / LH_NS_PER_SEC;
    int64_t frac = ns % LH_NS_PER_SEC;
    if (frac < 0) {
        frac += LH_NS_PER_SEC;
        secs -= 1;
    }
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    char fbuf[16] = "";
    if (frac) {
        snprintf(fbuf, sizeof(fbuf), ".%09lld", (long long)frac);
        size_t n = strlen(fbuf);
        while (n > 2 && fbuf[n - 1] == '0')
            fbuf[--n] = 0;
    }
    int n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", y, m, d, (int)(rem / 3600),
                     (int)(rem / 60 % 60), (int)(rem % 60), fbuf);
    if (n < 0 || (size_t)n >= len)
        return LH_ERANGE;
    return n;
}

int
lh_duration_parse(const char *s, int64_t *ns)
{
    if (!s || !*s)
        return LH_EINVAL;
    const char *p = s;
    int64_t total = 0;
    int any = 0;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return LH_EINVAL;
        int64_t v = 0;
        while (isdigit((unsigned char)*p)) {
            if (v > 1000000000LL)
                return LH_EINVAL;
            v = v * 10 + (*p - '0');
            p++;
        }
        int64_t unit;
        if (strncmp(p, "ms", 2) == 0) {
            unit = LH_NS_PER_MS;
            p += 2;
        } else if (*p == 's') {
            unit = LH_NS_PER_SEC;
            p++;
        } else if (*p == 'm') {
            unit = 60 * LH_NS_PER_SEC;
            p++;
        } else if (*p == 'h') {
            unit = 3600 * LH_NS_PER_SEC;
            p++;
        } else if (*p == 'd') {
            unit = 86400 * LH_NS_PER_SEC;
            p++;
        } else if (*p == 'w') {
            unit = 7 * 86400 * LH_NS_PER_SEC;
            p++;
        } else if (*p == '\0' && !any) {
            unit = LH_NS_PER_SEC; /* a bare number is seconds */
        } else {
            return LH_EINVAL;
        }
        if (v > INT64_MAX / unit || total > INT64_MAX - v * unit)
            return LH_EINVAL;
        total += v * unit;
        any = 1;
    }
    *ns = total;
    return 0;
}

int
lh_duration_format(int64_t ns, char *buf, size_t len)
{
    if (ns < 0)
        ns = -ns;
    static const struct {
        int64_t unit;
        const char *name;
    } units[] = {{86400 * LH_NS_PER_SEC, "d"},
                 {3600 * LH_NS_PER_SEC, "h"},
                 {60 * LH_NS_PER_SEC, "m"},
                 {LH_NS_PER_SEC, "s"},
                 {LH_NS_PER_MS, "ms"}};
    size_t off = 0;
    if (len == 0)
        return LH_ERANGE;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        int64_t v = ns / units[i].unit;
        if (v == 0)
            continue;
        ns -= v * units[i].unit;
        int n = snprintf(buf + off, len - off, "%lld%s", (long long)v, units[i].name);
        if (n < 0 || (size_t)n >= len - off)
            return LH_ERANGE;
        off += (size_t)n;
    }
    if (off == 0) {
        int n = snprintf(buf, len, "0s");
        if (n < 0 || (size_t)n >= len)
            return LH_ERANGE;
        off = (size_t)n;
    }
    return (int)off;
}

int
lh_duration_human(int64_t ns, char *buf, size_t len)
{
    if (ns < 0)
        ns = -ns;
    int64_t s = ns / LH_NS_PER_SEC;
    int n;
    if (s < 60)
        n = snprintf(buf, len, "%llds", (long long)s);
    else if (s < 3600)
        n = s % 60 ? snprintf(buf, len, "%lldm%llds", (long long)(s / 60), (long long)(s % 60))
                   : snprintf(buf, len, "%lldm", (long long)(s / 60));
    else if (s < 86400)
        n = (s / 60) % 60 ? snprintf(buf, len, "%lldh%lldm", (long long)(s / 3600),
                                     (long long)((s / 60) % 60))
                          : snprintf(buf, len, "%lldh", (long long)(s / 3600));
    else
        n = (s / 3600) % 24 ? snprintf(buf, len, "%lldd%lldh", (long long)(s / 86400),
                                       (long long)((s / 3600) % 24))
                            : snprintf(buf, len, "%lldd", (long long)(s / 86400));
    if (n < 0 || (size_t)n >= len)
        return LH_ERANGE;
    return n;
}
