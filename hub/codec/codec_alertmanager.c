/*
 * codec_alertmanager.c - Prometheus Alertmanager webhook notifications (version 4) into Alert
 * events, one per alert of the notification.
 *
 * Identity: an alert event's id is "am-" + 16 hex digits of lh__hash64 over the alert's
 * fingerprint, its startsAt (as nanoseconds) and its status, so a notification Alertmanager sends
 * again (repeat_interval, a retry, an HA pair) dedupes in the store, while the same alert
 * resolving, or firing again later, is a new event. Without a fingerprint the sorted label set
 * stands in for it (that is what Alertmanager's fingerprint is a hash of).
 *
 * Invariants: a notification that cannot be read at all is one rejection; otherwise every alert
 * is reported on its own (accepted or rejected naming "alerts[i].<field>"), so one bad alert does
 * not hold back the rest. Label names used for service, environment and severity come from
 * lh_codec_opts_t; docs/formats.md is the user's table. The event keeps the alert's own object,
 * re-serialized compactly, as raw (LH_FMT_ALERTMANAGER).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "hash.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"

/* alert[key] as an optional string ("" counts as absent). */
static int
get_str(json_t *obj, size_t idx, const char *key, const char **out, lh__fail_t *f)
{
    *out = NULL;
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return lh__failf(f, LH_EDECODE, "field 'alerts[%zu].%s' must be a string, got %s", idx, key,
                         lh__json_type_name(v));
    *out = json_string_value(v);
    if (!**out)
        *out = NULL;
    return 0;
}

/* The options with the embedded defaults filled in where the caller left NULLs. */
typedef struct {
    const char *service;
    const char *severity;
    const char *env[4];
} labels_cfg_t;

static void
config(const lh_codec_opts_t *o, labels_cfg_t *c)
{
    c->service = o && o->am_service_label ? o->am_service_label : "service";
    c->severity = o && o->am_severity_label ? o->am_severity_label : "severity";
    int any = 0;
    for (int i = 0; i < 4; i++) {
        c->env[i] = o ? o->am_env_labels[i] : NULL;
        any |= c->env[i] != NULL;
    }
    if (!any) {
        c->env[0] = "env";
        c->env[1] = "environment";
    }
}

static const char *
label(json_t *labels, const char *name)
{
    if (!name)
        return NULL;
    const char *s = json_string_value(json_object_get(labels, name));
    return s && *s ? s : NULL;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Hash of the label set, independent of key order: sorted "name\0value\0" pairs. */
static int
labels_hash(json_t *labels, uint64_t *out)
{
    size_t n = json_object_size(labels), i = 0;
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
    if (!keys)
        return LH_ENOMEM;
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v)
    {
        keys[i++] = k;
    }
    qsort(keys, n, sizeof(*keys), cmp_str);
    uint64_t h = LH__HASH64_SEED;
    for (i = 0; i < n; i++) {
        const char *val = json_string_value(json_object_get(labels, keys[i]));
        h = lh__hash64_update(h, keys[i], strlen(keys[i]) + 1);
        h = lh__hash64_update(h, val ? val : "", val ? strlen(val) + 1 : 1);
    }
    free(keys);
    *out = lh__hash64_final(h);
    return 0;
}

/* The host part of a Prometheus "instance" ("web-1:9100" -> "web-1", "[::1]:9100" -> "::1",
 * "https://example.org/x" -> "example.org"). */
static void
instance_host(const char *s, const char **b, size_t *n)
{
    const char *p = strstr(s, "://");
    if (p)
        s = p + 3;
    size_t end = strcspn(s, "/?#");
    if (s[0] == '[') {
        const char *close = memchr(s, ']', end);
        if (close) {
            *b = s + 1;
            *n = (size_t)(close - s - 1);
            return;
        }
    }
    const char *colon = memchr(s, ':', end);
    /* more than one colon without brackets: a bare IPv6 address, keep it whole */
    if (colon && memchr(colon + 1, ':', (size_t)(s + end - colon - 1)))
        colon = NULL;
    *b = s;
    *n = colon ? (size_t)(colon - s) : end;
}

#define OOM(expr)                                                                                  \
    do {                                                                                           \
        if ((expr) < 0)                                                                            \
            return lh__failf(f, LH_ENOMEM, "out of memory");                                       \
    } while (0)

/* One alert -> *out. On failure f says why and idbuf holds the id when it could be derived. */
static int
decode_alert(json_t *a, size_t idx, const char *group_status, const char *source,
             const labels_cfg_t *cfg, lh_event_t **out, char *idbuf, lh__fail_t *f)
{
    *out = NULL;
    idbuf[0] = 0;
    if (!json_is_object(a))
        return lh__failf(f, LH_EDECODE, "field 'alerts[%zu]' must be an object, got %s", idx,
                         lh__json_type_name(a));
    const char *status, *starts, *ends, *fp;
    json_t *labels = json_object_get(a, "labels");
    json_t *ann = json_object_get(a, "annotations");
    if (get_str(a, idx, "status", &status, f) < 0 || get_str(a, idx, "startsAt", &starts, f) < 0 ||
        get_str(a, idx, "endsAt", &ends, f) < 0 || get_str(a, idx, "fingerprint", &fp, f) < 0)
        return f->err;
    if (!status)
        status = group_status;
    if (!status)
        return lh__failf(f, LH_EMISSING, "missing mandatory field 'alerts[%zu].status'", idx);
    lh_alert_state_t state;
    if (strcmp(status, "firing") == 0)
        state = LH_ALERT_FIRING;
    else if (strcmp(status, "resolved") == 0)
        state = LH_ALERT_RESOLVED;
    else
        return lh__failf(f, LH_EDECODE,
                         "field 'alerts[%zu].status' is '%.32s', expected 'firing' or 'resolved'",
                         idx, status);
    if (!labels || json_is_null(labels))
        return lh__failf(f, LH_EMISSING, "missing mandatory field 'alerts[%zu].labels'", idx);
    if (!json_is_object(labels))
        return lh__failf(f, LH_EDECODE, "field 'alerts[%zu].labels' must be an object, got %s", idx,
                         lh__json_type_name(labels));
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v)
    {
        if (!json_is_string(v))
            return lh__failf(f, LH_EDECODE,
                             "field 'alerts[%zu].labels.%.64s' must be a string, got %s", idx, k,
                             lh__json_type_name(v));
    }
    if (ann && !json_is_null(ann) && !json_is_object(ann))
        return lh__failf(f, LH_EDECODE, "field 'alerts[%zu].annotations' must be an object, got %s",
                         idx, lh__json_type_name(ann));
    if (!starts)
        return lh__failf(f, LH_EMISSING, "missing mandatory field 'alerts[%zu].startsAt'", idx);
    int64_t start_ns, end_ns = 0;
    if (lh_time_parse(starts, &start_ns) < 0)
        return lh__failf(f, LH_EDECODE,
                         "field 'alerts[%zu].startsAt' is not an RFC 3339 time: '%.64s'", idx,
                         starts);
    if (state == LH_ALERT_RESOLVED) {
        if (!ends)
            return lh__failf(f, LH_EMISSING,
                             "missing field 'alerts[%zu].endsAt' (a resolved alert needs it)", idx);
        if (lh_time_parse(ends, &end_ns) < 0 || end_ns <= 0)
            return lh__failf(
                f, LH_EDECODE,
                "field 'alerts[%zu].endsAt' is not an RFC 3339 time after 1970: '%.64s'", idx,
                ends);
    }

    /* identity */
    uint64_t lh;
    if (labels_hash(labels, &lh) < 0)
        return lh__failf(f, LH_ENOMEM, "out of memory");
    char fpbuf[17];
    if (!fp) {
        snprintf(fpbuf, sizeof(fpbuf), "%016llx", (unsigned long long)lh);
        fp = fpbuf;
    }
    char nsbuf[24];
    snprintf(nsbuf, sizeof(nsbuf), "%lld", (long long)start_ns);
    uint64_t h = LH__HASH64_SEED;
    h = lh__hash64_update(h, fp, strlen(fp) + 1);
    h = lh__hash64_update(h, nsbuf, strlen(nsbuf) + 1);
    h = lh__hash64_update(h, status, strlen(status));
    snprintf(idbuf, 20, "am-%016llx", (unsigned long long)lh__hash64_final(h));

    const char *name = label(labels, "alertname");
    if (!name)
        return lh__failf(f, LH_EMISSING, "missing mandatory field 'alerts[%zu].labels.alertname'",
                         idx);

    lh_event_t *ev = lh_event_new();
    if (!ev)
        return lh__failf(f, LH_ENOMEM, "out of memory");
    int rc = 0;
    ev->kind = LH_KIND_ALERT;
    ev->time_ns = state == LH_ALERT_FIRING ? start_ns : end_ns;
    ev->alert.state = state;
    if (lh__event_set_str(ev, &ev->id, idbuf) < 0 ||
        lh__event_set_str(ev, &ev->source, source) < 0 ||
        lh__event_set_str(ev, &ev->alert.name, name) < 0 ||
        lh__event_set_str(ev, &ev->alert.fingerprint, fp) < 0)
        goto oom;
    const char *s = label(labels, cfg->service);
    if (!s)
        s = label(labels, "job");
    if (lh__event_set_str(ev, &ev->service, s) < 0)
        goto oom;
    for (int i = 0; i < 4 && !ev->environment; i++)
        if (lh__event_set_str(ev, &ev->environment, label(labels, cfg->env[i])) < 0)
            goto oom;
    s = label(labels, cfg->severity);
    if (s && lh__severity_word(s, &ev->alert.severity) < 0)
        ev->alert.severity = LH_SEV_UNSPECIFIED; /* the word stays visible in the labels */
    s = NULL;
    if (json_is_object(ann)) {
        s = json_string_value(json_object_get(ann, "summary"));
        if (!s || !*s)
            s = json_string_value(json_object_get(ann, "description"));
    }
    if (lh__event_set_str(ev, &ev->alert.summary, s) < 0)
        goto oom;
    s = label(labels, "instance");
    const char *hb = NULL;
    size_t hn = 0;
    if (s) {
        instance_host(s, &hb, &hn);
        if (lh_event_add_host(ev, hb, hn) < 0)
            goto oom;
    }
    s = label(labels, "host");
    if (s && !(hb && hn == strlen(s) && memcmp(hb, s, hn) == 0) &&
        lh_event_add_host(ev, s, (size_t)-1) < 0)
        goto oom;
    json_object_foreach(labels, k, v)
    {
        if (lh_event_add_label(ev, k, (size_t)-1, json_string_value(v), json_string_length(v)) < 0)
            goto oom;
    }
    char *raw = json_dumps(a, JSON_COMPACT);
    if (!raw)
        goto oom;
    rc = lh_event_set_raw(ev, raw, strlen(raw), LH_FMT_ALERTMANAGER);
    free(raw);
    if (rc < 0)
        goto oom;
    *out = ev;
    return 0;
oom:
    lh_event_destroy(&ev);
    return lh__failf(f, LH_ENOMEM, "out of memory");
}

int
lh__is_alertmanager(json_t *obj)
{
    return json_is_object(obj) && json_is_array(json_object_get(obj, "alerts")) &&
           json_object_get(obj, "version") != NULL;
}

int
lh__alertmanager_decode(json_t *obj, const lh_codec_opts_t *o, lh_decode_sink_fn sink, void *arg)
{
    char why[LH__WHY_LEN];
    if (!json_is_object(obj)) {
        sink(NULL, LH_EDECODE, NULL, "an Alertmanager notification must be a JSON object", arg);
        return 1;
    }
    json_t *ver = json_object_get(obj, "version");
    if (!ver) {
        sink(NULL, LH_EMISSING, NULL, "missing mandatory field 'version'", arg);
        return 1;
    }
    if (!json_is_string(ver) || strcmp(json_string_value(ver), "4") != 0) {
        if (json_is_string(ver))
            snprintf(why, sizeof(why),
                     "field 'version' is '%.16s': loophub reads Alertmanager webhook version 4",
                     json_string_value(ver));
        else
            snprintf(why, sizeof(why), "field 'version' must be the string \"4\", got %s",
                     lh__json_type_name(ver));
        sink(NULL, LH_EDECODE, NULL, why, arg);
        return 1;
    }
    json_t *alerts = json_object_get(obj, "alerts");
    if (!json_is_array(alerts)) {
        snprintf(why, sizeof(why), "field 'alerts' must be an array, got %s",
                 alerts ? lh__json_type_name(alerts) : "nothing");
        sink(NULL, alerts ? LH_EDECODE : LH_EMISSING, NULL, why, arg);
        return 1;
    }
    if (json_array_size(alerts) == 0) {
        sink(NULL, LH_EMISSING, NULL, "field 'alerts' is empty: the notification holds no alert",
             arg);
        return 1;
    }
    json_t *st = json_object_get(obj, "status");
    const char *group_status = json_is_string(st) ? json_string_value(st) : NULL;
    json_t *ext = json_object_get(obj, "externalURL");
    char *source = NULL;
    if (json_is_string(ext) && json_string_length(ext) > 0) {
        if (asprintf(&source, "alertmanager:%s", json_string_value(ext)) < 0)
            return LH_ENOMEM;
    }
    labels_cfg_t cfg;
    config(o, &cfg);
    int calls = 0;
    size_t i;
    json_t *a;
    json_array_foreach(alerts, i, a)
    {
        lh__fail_t f;
        f.err = 0;
        f.why[0] = 0;
        char idbuf[24];
        lh_event_t *ev = NULL;
        int rc = decode_alert(a, i, group_status, source ? source : "alertmanager", &cfg, &ev,
                              idbuf, &f);
        if (rc == LH_ENOMEM) {
            free(source);
            return LH_ENOMEM;
        }
        calls++;
        int stop = rc < 0 ? sink(NULL, rc, idbuf[0] ? idbuf : NULL, f.why, arg)
                          : sink(ev, 0, idbuf, NULL, arg);
        if (stop)
            break;
    }
    free(source);
    return calls;
}
