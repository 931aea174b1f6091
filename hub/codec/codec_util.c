/*
 * codec_util.c - what every codec file may use (declared in codec_internal.h): JSON helpers,
 * the decode failure record and the severity words producers use. Format files call these and
 * the codec's own entry points, never each other.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "codec_internal.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"

/* --- JSON helpers --------------------------------------------------------------------------- */

const char *
lh__json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

int
lh__json_set(json_t *obj, const char *key, json_t *v)
{
    return json_object_set_new_nocheck(obj, key, v) == 0 ? 0 : LH_ENOMEM;
}

int
lh__json_push(json_t *arr, json_t *v)
{
    return json_array_append_new(arr, v) == 0 ? 0 : LH_ENOMEM;
}

int
lh__json_put_str(json_t *obj, const char *key, const char *s)
{
    if (!s || !*s)
        return 0;
    return lh__json_set(obj, key, json_string_nocheck(s));
}

int
lh__json_put_time(json_t *obj, const char *key, int64_t ns)
{
    char t[40];
    if (ns == 0)
        return 0;
    if (lh_time_format(ns, t, sizeof t) < 0)
        return LH_EINVAL;
    return lh__json_set(obj, key, json_string_nocheck(t));
}

int
lh__json_put_strings(json_t *obj, const char *key, char *const *v, size_t n)
{
    if (n == 0)
        return 0;
    json_t *a = json_array();
    int rc = a ? 0 : LH_ENOMEM;
    for (size_t i = 0; i < n; i++)
        LH_KEEP_FIRST(rc, lh__json_push(a, json_string_nocheck(v[i] ? v[i] : "")));
    if (rc) {
        json_decref(a);
        return rc;
    }
    return lh__json_set(obj, key, a);
}

int
lh__event_set_str(lh_event_t *ev, char **field, const char *s)
{
    if (!s || !*s)
        return 0;
    *field = lh_event_str(ev, s, (size_t)-1);
    return *field ? 0 : LH_ENOMEM;
}

static int
dump_to_buf(const char *p, size_t n, void *arg)
{
    return lh_buf_append(arg, p, n) == 0 ? 0 : -1;
}

int
lh__json_dump(const json_t *o, size_t flags, lh_buf_t *out)
{
    size_t mark = out->len;
    if (json_dump_callback(o, dump_to_buf, out, flags) != 0) {
        out->len = mark;
        return LH_EINVAL;
    }
    return 0;
}

int
lh__failf(lh__fail_t *f, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->why, sizeof(f->why), fmt, ap);
    va_end(ap);
    f->err = err;
    return err;
}

/* --- severity words --------------------------------------------------------------------------- */

/* Severity words from producers (CDEvents customData, Alertmanager labels), case-insensitive:
 * critical/page/high/p1 -> critical, error/err/major -> error, warning/warn/medium/minor ->
 * warning, info/none/low -> info. Returns 0, or LH_EINVAL for any other word. */
int
lh__severity_word(const char *s, lh_severity_t *out)
{
    static const struct {
        const char *w;
        lh_severity_t s;
    } words[] = {
        {"critical", LH_SEV_CRITICAL}, {"crit", LH_SEV_CRITICAL},  {"page", LH_SEV_CRITICAL},
        {"high", LH_SEV_CRITICAL},     {"p1", LH_SEV_CRITICAL},    {"error", LH_SEV_ERROR},
        {"err", LH_SEV_ERROR},         {"major", LH_SEV_ERROR},    {"warning", LH_SEV_WARNING},
        {"warn", LH_SEV_WARNING},      {"medium", LH_SEV_WARNING}, {"minor", LH_SEV_WARNING},
        {"info", LH_SEV_INFO},         {"none", LH_SEV_INFO},      {"low", LH_SEV_INFO},
    };
    if (!s)
        return LH_EINVAL;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcasecmp(s, words[i].w) == 0) {
            *out = words[i].s;
            return 0;
        }
    }
    return LH_EINVAL;
}
