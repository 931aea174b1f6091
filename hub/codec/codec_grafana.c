/*
 * codec_grafana.c - Grafana Alerting webhook notifications (the "Webhook" contact point, payload
 * version "1"; docs/sources.md, Grafana) into alert events, one per entry of alerts[].
 *
 * Identity: an alert event's id is "gf-" + 16 hex digits of lh__hash64 over the notification's
 * orgId, the alert's fingerprint, its startsAt (as nanoseconds) and its status. Grafana sends
 * the same alert again on every retry and repeat interval with those four unchanged, so a
 * redelivery dedupes in the store; the alert resolving, or firing again later (a new startsAt),
 * is a new event. Without a fingerprint the label set, keys sorted, stands in for it (Grafana's
 * fingerprint is a hash of the labels). Grafana sends no delivery id header.
 *
 * Mapping (the labels are Grafana's alert rule labels): name = alertname; state = status
 * (firing, resolved; the notification's status when an alert has none); time = startsAt when
 * firing, endsAt when resolved; service = the service label, else job, else app, else
 * grafana_folder (the rule's folder, a label Grafana adds; an alert without any of them is
 * rejected: alerts need a service); environment = env, else
 * environment, else [sources] default_environment; severity = the severity label's word
 * (lh__severity_word; another word leaves it unspecified, still visible in the labels); summary
 * = annotations.summary, else description; hosts = the host of the instance label, and the host
 * label. Every alert label is kept, plus url (generatorURL), silence_url, dashboard_url,
 * panel_url, runbook_url (the annotation) and grafana_org, unless a label of that name exists.
 *
 * Invariants: a notification that cannot be read at all (no version "1", no alerts array) is
 * one rejection; one without alerts is LH_IGNORED; otherwise every alert is reported on its own,
 * accepted or rejected as "grafana alert <i>: <field>: <what is wrong>", so one bad alert does
 * not hold back the others. The event's raw bytes are the whole notification, as signed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "hash.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"

int
lh__is_grafana(json_t *obj)
{
    json_t *v = json_object_get(obj, "version");
    return json_is_object(obj) && json_is_string(v) && !strcmp(json_string_value(v), "1") &&
           json_is_integer(json_object_get(obj, "orgId")) &&
           json_is_array(json_object_get(obj, "alerts"));
}

/* One alert being decoded. */
typedef struct {
    const lh__src_msg_t *m;
    lh_decode_sink_fn sink;
    void *arg;
    const char *org;          /* the orgId as text, "" without one */
    const char *group_status; /* the notification's status, NULL */
    size_t idx;
    char id[24]; /* the event id once it can be derived, else "" */
} gf_t;

/* Rejects the alert: "grafana alert <idx>: <field>: <reason>". Returns 1 when the sink says
 * stop, else 0. */
__attribute__((format(printf, 4, 5))) static int
reject(gf_t *g, int err, const char *field, const char *fmt, ...)
{
    char why[LH__WHY_LEN], msg[LH__WHY_LEN - 48];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(why, sizeof(why), "grafana alert %zu: %s: %s", g->idx, field, msg);
    return g->sink(NULL, err, g->id[0] ? g->id : NULL, why, g->arg) != 0;
}

/* obj[key] as an optional string: *out NULL when absent, null or "". 0, or -1 when it is
 * another type (*why_type names it). */
static int
opt_str(json_t *obj, const char *key, const char **out, const char **why_type)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        *why_type = lh__json_type_name(v);
        return -1;
    }
    *out = *json_string_value(v) ? json_string_value(v) : NULL;
    return 0;
}

static const char *
label(json_t *labels, const char *name)
{
    const char *s = json_string_value(json_object_get(labels, name));
    return s && *s ? s : NULL;
}

/* The host part of an instance label ("web-1:9100" -> "web-1", "[::1]:9100" -> "::1",
 * "https://web-1:8443/metrics" -> "web-1"; a bare IPv6 address is kept whole): its length, and
 * *host where it starts. */
static size_t
instance_host(const char *s, const char **host)
{
    const char *sep = strstr(s, "://");
    if (sep)
        s = sep + 3;
    size_t n = strcspn(s, "/?#");
    *host = s;
    if (s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        if (rb) {
            *host = s + 1;
            return (size_t)(rb - s - 1);
        }
    }
    const char *colon = memchr(s, ':', n);
    if (colon && !memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)))
        return (size_t)(colon - s);
    return n;
}

/* Adds key=value unless value is absent or the event already has a label key. 0 or LH_ENOMEM. */
static int
extra_label(lh_event_t *ev, const char *key, const char *value)
{
    if (!value || !*value || lh_event_label(ev, key))
        return 0;
    return lh_event_add_label(ev, key, (size_t)-1, value, (size_t)-1);
}

/* Fills ev from the alert a whose checked fields are given. 0 or LH_ENOMEM. */
static int
fill(lh_event_t *ev, gf_t *g, json_t *a, json_t *labels, json_t *ann, const char *name,
     const char *service, const char *fp)
{
    const char *env = label(labels, "env");
    if (!env)
        env = label(labels, "environment");
    if (!env)
        env = lh__source_env(g->m);
    const char *sev = label(labels, "severity");
    if (sev && lh__severity_word(sev, &ev->alert.severity) < 0)
        ev->alert.severity = LH_SEV_UNSPECIFIED;
    const char *summary = NULL;
    if (json_is_object(ann)) {
        summary = label(ann, "summary");
        if (!summary)
            summary = label(ann, "description");
    }
    if (lh__event_set_str(ev, &ev->id, g->id) < 0 ||
        lh__event_set_str(ev, &ev->source, "grafana") < 0 ||
        lh__event_set_str(ev, &ev->service, service) < 0 ||
        lh__event_set_str(ev, &ev->environment, env) < 0 ||
        lh__event_set_str(ev, &ev->alert.name, name) < 0 ||
        lh__event_set_str(ev, &ev->alert.fingerprint, fp) < 0 ||
        lh__event_set_str(ev, &ev->alert.summary, summary) < 0)
        return LH_ENOMEM;
    const char *inst = label(labels, "instance"), *host = label(labels, "host");
    const char *ih = NULL;
    size_t ihn = 0;
    if (inst) {
        ihn = instance_host(inst, &ih);
        if (lh_event_add_host(ev, ih, ihn) < 0)
            return LH_ENOMEM;
    }
    if (host && !(ih && ihn == strlen(host) && !memcmp(ih, host, ihn)) &&
        lh_event_add_host(ev, host, (size_t)-1) < 0)
        return LH_ENOMEM;
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v)
    {
        if (lh_event_add_label(ev, k, (size_t)-1, json_string_value(v), json_string_length(v)) < 0)
            return LH_ENOMEM;
    }
    if (extra_label(ev, "url", label(a, "generatorURL")) < 0 ||
        extra_label(ev, "silence_url", label(a, "silenceURL")) < 0 ||
        extra_label(ev, "dashboard_url", label(a, "dashboardURL")) < 0 ||
        extra_label(ev, "panel_url", label(a, "panelURL")) < 0 ||
        extra_label(ev, "runbook_url", json_is_object(ann) ? label(ann, "runbook_url") : NULL) <
            0 ||
        extra_label(ev, "grafana_org", *g->org ? g->org : NULL) < 0)
        return LH_ENOMEM;
    return 0;
}

/* The alert g->idx: one event or one rejection through the sink. Returns 1 when the sink says
 * stop, 0 to go on, or LH_ENOMEM (nothing reported). */
static int
decode_alert(gf_t *g, json_t *a)
{
    g->id[0] = 0;
    if (!json_is_object(a)) {
        char field[32];
        snprintf(field, sizeof(field), "alerts[%zu]", g->idx);
        return reject(g, LH_EDECODE, field, "must be an object, got %s", lh__json_type_name(a));
    }
    static const char *const strs[] = {"status",       "startsAt",   "endsAt",       "fingerprint",
                                       "generatorURL", "silenceURL", "dashboardURL", "panelURL"};
    const char *val[8], *type = NULL;
    for (size_t i = 0; i < 8; i++)
        if (opt_str(a, strs[i], &val[i], &type) < 0)
            return reject(g, LH_EDECODE, strs[i], "must be a string, got %s", type);
    const char *status = val[0] ? val[0] : g->group_status, *starts = val[1], *ends = val[2];
    const char *fp = val[3];
    if (!status)
        return reject(g, LH_EMISSING, "status", "missing (and the notification has none)");
    lh_alert_state_t state;
    if (!strcmp(status, "firing"))
        state = LH_ALERT_FIRING;
    else if (!strcmp(status, "resolved"))
        state = LH_ALERT_RESOLVED;
    else
        return reject(g, LH_EDECODE, "status", "'%.32s' is not firing or resolved", status);
    json_t *labels = json_object_get(a, "labels"), *ann = json_object_get(a, "annotations");
    if (!json_is_object(labels))
        return labels && !json_is_null(labels)
                   ? reject(g, LH_EDECODE, "labels", "must be an object, got %s",
                            lh__json_type_name(labels))
                   : reject(g, LH_EMISSING, "labels", "missing");
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v)
    {
        if (!json_is_string(v)) {
            char field[80];
            snprintf(field, sizeof(field), "labels.%.64s", k);
            return reject(g, LH_EDECODE, field, "must be a string, got %s", lh__json_type_name(v));
        }
    }
    if (ann && !json_is_null(ann) && !json_is_object(ann))
        return reject(g, LH_EDECODE, "annotations", "must be an object, got %s",
                      lh__json_type_name(ann));
    int64_t start_ns = 0, end_ns = 0;
    if (!starts)
        return reject(g, LH_EMISSING, "startsAt", "missing");
    if (lh_time_parse(starts, &start_ns) < 0 || start_ns <= 0)
        return reject(g, LH_EDECODE, "startsAt", "not an RFC 3339 time after 1970: '%.64s'",
                      starts);

    /* identity: orgId, fingerprint (else the sorted label set), startsAt, status */
    char *canon = NULL;
    if (!fp) {
        canon = json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS);
        if (!canon)
            return LH_ENOMEM;
    }
    char ns[24];
    snprintf(ns, sizeof(ns), "%lld", (long long)start_ns);
    const char *parts[] = {g->org, fp ? fp : canon, ns, status};
    uint64_t h = LH__HASH64_SEED;
    for (size_t i = 0; i < 4; i++)
        h = lh__hash64_update(h, parts[i], strlen(parts[i]) + 1);
    free(canon);
    snprintf(g->id, sizeof(g->id), "gf-%016llx", (unsigned long long)lh__hash64_final(h));

    if (state == LH_ALERT_RESOLVED) {
        if (!ends)
            return reject(g, LH_EMISSING, "endsAt", "missing (a resolved alert needs it)");
        if (lh_time_parse(ends, &end_ns) < 0 || end_ns <= 0)
            return reject(g, LH_EDECODE, "endsAt", "not an RFC 3339 time after 1970: '%.64s'",
                          ends);
    }
    const char *name = label(labels, "alertname");
    if (!name)
        return reject(g, LH_EMISSING, "labels.alertname", "missing: it names the alert");
    const char *service = label(labels, "service");
    if (!service)
        service = label(labels, "job");
    if (!service)
        service = label(labels, "app");
    if (!service) /* Grafana adds the rule's folder to every alert it sends */
        service = label(labels, "grafana_folder");
    if (!service)
        return reject(g, LH_EMISSING, "labels",
                      "no service, job, app or grafana_folder label names the service (add one "
                      "to the rule)");

    lh_event_t *ev = lh_event_new();
    if (!ev)
        return LH_ENOMEM;
    ev->kind = LH_KIND_ALERT;
    ev->alert.state = state;
    ev->time_ns = state == LH_ALERT_FIRING ? start_ns : end_ns;
    if (fill(ev, g, a, labels, ann, name, service, fp) < 0) {
        lh_event_destroy(&ev);
        return LH_ENOMEM;
    }
    return g->sink(ev, 0, g->id, NULL, g->arg) != 0;
}

int
lh__grafana_decode(json_t *obj, const lh__src_msg_t *m, lh_decode_sink_fn sink, void *arg)
{
    char why[LH__WHY_LEN];
#define FAIL(code, ...)                                                                            \
    do {                                                                                           \
        snprintf(why, sizeof(why), "grafana notification: " __VA_ARGS__);                          \
        sink(NULL, (code), NULL, why, arg);                                                        \
        return 1;                                                                                  \
    } while (0)
    json_t *ver = json_object_get(obj, "version");
    if (!ver)
        FAIL(LH_EMISSING, "version: missing: not a Grafana Alerting webhook (version \"1\")");
    if (!json_is_string(ver) || strcmp(json_string_value(ver), "1") != 0) {
        if (json_is_string(ver))
            FAIL(LH_EDECODE,
                 "version: '%.16s': loophub reads Grafana Alerting webhook version \"1\"",
                 json_string_value(ver));
        FAIL(LH_EDECODE, "version: must be the string \"1\", got %s", lh__json_type_name(ver));
    }
    json_t *org = json_object_get(obj, "orgId");
    char orgbuf[24] = "";
    if (org && !json_is_null(org)) {
        if (!json_is_integer(org))
            FAIL(LH_EDECODE, "orgId: must be an integer, got %s", lh__json_type_name(org));
        snprintf(orgbuf, sizeof(orgbuf), "%lld", (long long)json_integer_value(org));
    }
    json_t *alerts = json_object_get(obj, "alerts");
    if (!alerts)
        FAIL(LH_EMISSING, "alerts: missing");
    if (!json_is_array(alerts))
        FAIL(LH_EDECODE, "alerts: must be an array, got %s", lh__json_type_name(alerts));
    json_t *st = json_object_get(obj, "status");
    const char *group_status = json_is_string(st) ? json_string_value(st) : NULL;
    if (json_array_size(alerts) == 0)
        return lh__source_ignore(sink, arg, NULL,
                                 "grafana notification (status %.16s) with no alerts: nothing to "
                                 "record",
                                 group_status ? group_status : "none");
#undef FAIL
    gf_t g = {.m = m, .sink = sink, .arg = arg, .org = orgbuf, .group_status = group_status};
    int calls = 0;
    json_t *a;
    json_array_foreach(alerts, g.idx, a)
    {
        int rc = decode_alert(&g, a);
        if (rc == LH_ENOMEM)
            return LH_ENOMEM;
        calls++;
        if (rc)
            break;
    }
    return calls;
}
