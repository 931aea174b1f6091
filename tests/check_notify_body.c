/*
 * check_notify_body.c - the bodies the notification sinks post (adapters/notify/notify_body.c),
 * parsed back and checked field by field against what each receiver documents
 * (tests/data/notify, README.md there says where each rule came from): the webhook's loophub
 * JSON and CloudEvent, Alertmanager's postableAlert (labels, annotations, RFC 3339 times, endsAt
 * after startsAt), Slack's Block Kit message (its limits and mrkdwn escaping), PagerDuty's Events
 * API v2 trigger and resolve; every refused setting, and every allocation failing in turn.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loophub/error.h"
#include "loophub/event.h"
#include "loophub/format.h"
#include "loophub/timeutil.h"
#include "notify/notify_body.h"
#include "testutil.h"

#define T0 1795687200000000000LL /* 2026-11-26T10:00:00Z */
#define NOW (T0 + 600 * LH_NS_PER_SEC)
#define HUB "http://hub:7780/"

/* --- alerts ---------------------------------------------------------------------------------- */

static char *
dup(const char *s)
{
    char *p = strdup(s);
    ck_assert_ptr_nonnull(p);
    return p;
}

static lh_suspect_t *
add_suspect(lh_correlated_t *ca, const char *deploy_id, const char *version, const char *prev,
            double score)
{
    lh_suspect_t *s = lh_correlated_add_suspect(ca);
    ck_assert_ptr_nonnull(s);
    s->deploy_id = dup(deploy_id);
    s->event_id = dup(deploy_id);
    s->service = dup("api");
    s->environment = dup("prod");
    s->version = dup(version);
    s->previous_version = prev ? dup(prev) : NULL;
    s->actor = dup("alice");
    s->deploy_time_ns = T0 - 300 * LH_NS_PER_SEC;
    s->lead_seconds = 300;
    s->score = score;
    return s;
}

static lh_event_t *
incident_event(lh_severity_t sev, const char *title)
{
    lh_event_t *o = lh_event_new();
    ck_assert_ptr_nonnull(o);
    o->id = lh_event_str(o, "ev-inc-1", (size_t)-1);
    o->kind = LH_KIND_INCIDENT;
    o->time_ns = T0;
    o->service = lh_event_str(o, "api", (size_t)-1);
    o->environment = lh_event_str(o, "prod", (size_t)-1);
    o->incident.incident_id = lh_event_str(o, "INC-1", (size_t)-1);
    o->incident.state = LH_INCIDENT_DETECTED;
    o->incident.severity = sev;
    o->incident.title = lh_event_str(o, title, (size_t)-1);
    return o;
}

/* Incident INC-1 (critical, "5xx spike") of api/prod 5 minutes after deploy D-1 (1.4.2 by alice),
 * a second suspect D-0, revision 2, rollback targets for api and db. */
static lh_correlated_t *
incident_alert(void)
{
    lh_correlated_t *ca = lh_correlated_new();
    ck_assert_ptr_nonnull(ca);
    ca->id = dup("ca-0123abcd");
    ca->seq = 42;
    ca->kind = LH_CA_DEPLOY_PRECEDED_INCIDENT;
    ca->service = dup("api");
    ca->environment = dup("prod");
    ca->created_ns = T0 + 2 * LH_NS_PER_SEC;
    ca->rollback_version = dup("1.4.1");
    ca->outcome = incident_event(LH_SEV_CRITICAL, "5xx spike");
    lh_suspect_t *s = add_suspect(ca, "D-1", "1.4.2", "1.4.1", 0.93);
    ck_assert_int_eq(lh_suspect_add_reason(s, "same service and environment"), 0);
    ck_assert_int_eq(lh_suspect_add_reason(s, "deployed 5m before the incident"), 0);
    s = add_suspect(ca, "D-0", "1.4.1", "1.4.0", 0.41);
    s->lead_seconds = 3900;
    ck_assert_int_eq(lh_suspect_add_reason(s, "same environment"), 0);
    ca->more_suspects = 2;
    ca->revision = 2;
    ck_assert_int_eq(lh_correlated_add_change(ca, "a second incident joined"), 0);
    lh_ca_outcome_t *oc = lh_correlated_add_outcome(ca);
    ck_assert_ptr_nonnull(oc);
    oc->kind = LH_KIND_INCIDENT;
    oc->ref = dup("INC-1");
    oc->event_id = dup("ev-inc-1");
    oc->title = dup("5xx spike");
    oc->time_ns = T0;
    lh_rollback_t *r = lh_correlated_add_rollback(ca);
    ck_assert_ptr_nonnull(r);
    r->service = dup("api");
    r->version = dup("1.4.1");
    r->deploy_id = dup("D-1");
    r->from_version = dup("1.4.2");
    r = lh_correlated_add_rollback(ca);
    ck_assert_ptr_nonnull(r);
    r->service = dup("db");
    r->deploy_id = dup("B-1");
    r->from_version = dup("3.1");
    return ca;
}

static void
resolve(lh_correlated_t *ca)
{
    ca->resolved = 1;
    ca->resolved_ns = T0 + 1800 * LH_NS_PER_SEC;
    ca->revision = 3;
    ck_assert_int_eq(lh_correlated_add_change(ca, "every outcome resolved"), 0);
}

static lh_notify_body_opts_t
opts(void)
{
    lh_notify_body_opts_t o = {0};
    o.hub_url = HUB;
    o.routing_key = "R0UT1NGK3Y0000000000000000000000";
    o.now_ns = NOW;
    o.resend_ns = 30 * LH_NS_PER_SEC;
    return o;
}

/* --- helpers --------------------------------------------------------------------------------- */

/* Builds kind's body (0 expected) after a prefix already in the buffer, checks the prefix is
 * kept and returns the body parsed. */
static json_t *
body(lh_notify_kind_t kind, const lh_correlated_t *ca, const lh_notify_body_opts_t *o)
{
    lh_buf_t b = LH_BUF_INIT;
    char why[256] = "untouched";
    ck_assert_int_eq(lh_buf_append(&b, "PFX", 3), 0);
    int rc = lh_notify_body(kind, ca, o, &b, why, sizeof(why));
    ck_assert_msg(rc == 0, "%s: %s (%s)", lh_notify_kind_name(kind), lh_strerror(rc), why);
    ck_assert_uint_gt(b.len, 3);
    ck_assert_mem_eq(b.data, "PFX", 3);
    json_error_t err;
    json_t *j = json_loadb((const char *)b.data + 3, b.len - 3, 0, &err);
    ck_assert_msg(j != NULL, "not JSON: %s: %.*s", err.text, (int)b.len, (const char *)b.data);
    /* compact: one line */
    ck_assert_ptr_null(memchr(b.data, '\n', b.len));
    lh_buf_free(&b);
    return j;
}

/* Expects kind's body to be refused with err and a reason holding needle; out untouched. */
static void
refused(lh_notify_kind_t kind, const lh_correlated_t *ca, const lh_notify_body_opts_t *o, int err,
        const char *needle)
{
    lh_buf_t b = LH_BUF_INIT;
    char why[256] = "";
    ck_assert_int_eq(lh_buf_append(&b, "PFX", 3), 0);
    ck_assert_int_eq(lh_notify_body(kind, ca, o, &b, why, sizeof(why)), err);
    ck_assert_uint_eq(b.len, 3);
    ck_assert_msg(strstr(why, needle), "why \"%s\" does not say \"%s\"", why, needle);
    lh_buf_free(&b);
}

static const char *
sget(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    ck_assert_msg(json_is_string(v), "%s is not a string", key);
    return json_string_value(v);
}

static json_t *
fixture(const char *name)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/notify/%s", LH_TEST_DATA, name);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    ck_assert_msg(j != NULL, "cannot read %s: %s", path, err.text);
    return j;
}

static long
fixture_int(json_t *fx, const char *key)
{
    json_t *v = json_object_get(fx, key);
    ck_assert_msg(json_is_integer(v), "fixture: %s", key);
    return (long)json_integer_value(v);
}

static int
in_list(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!strcmp(json_string_value(v), s))
            return 1;
    }
    return 0;
}

static size_t
chars(const char *s)
{
    size_t c = 0;
    for (; *s; s++)
        c += ((unsigned char)*s & 0xc0) != 0x80;
    return c;
}

static int
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static int64_t
time_of(const char *s)
{
    int64_t ns = 0;
    ck_assert_msg(lh_time_parse(s, &ns) == 0, "not RFC 3339: %s", s);
    return ns;
}

/* The postableAlerts rules (tests/data/notify/alertmanager-postable-alert.json): an array of
 * alerts, each with only the documented keys, labels a non-empty object of non-empty strings with
 * valid names and an alertname, annotations strings, times RFC 3339 with endsAt not before
 * startsAt, generatorURL a URL. Returns the one alert. */
static json_t *
postable_alert(json_t *arr)
{
    json_t *fx = fixture("alertmanager-postable-alert.json");
    json_t *props = json_object_get(fx, "properties");
    ck_assert(json_is_array(arr));
    ck_assert_uint_eq(json_array_size(arr), 1);
    json_t *a = json_array_get(arr, 0);
    ck_assert(json_is_object(a));
    const char *k;
    json_t *v;
    json_object_foreach(a, k, v)
    {
        ck_assert_msg(json_object_get(props, k), "%s is not a postableAlert property", k);
    }
    size_t i;
    json_array_foreach(json_object_get(fx, "required"), i, v)
    {
        ck_assert_msg(json_object_get(a, json_string_value(v)), "no %s", json_string_value(v));
    }
    json_t *labels = json_object_get(a, "labels");
    ck_assert(json_is_object(labels));
    ck_assert_uint_gt(json_object_size(labels), 0);
    ck_assert(json_is_string(json_object_get(labels, "alertname")));
    const char *set[] = {"labels", "annotations"};
    for (int s = 0; s < 2; s++) {
        json_object_foreach(json_object_get(a, set[s]), k, v)
        {
            ck_assert_msg(json_is_string(v), "%s.%s is not a string", set[s], k);
            ck_assert_msg(*json_string_value(v), "%s.%s is empty", set[s], k);
            ck_assert_msg((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || *k == '_',
                          "bad name %s", k);
            for (const char *c = k; *c; c++)
                ck_assert_msg(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
                                     "0123456789",
                                     *c),
                              "bad name %s", k);
        }
    }
    int64_t start = time_of(sget(a, "startsAt")), end = time_of(sget(a, "endsAt"));
    ck_assert_int_ge(end, start);
    if (json_object_get(a, "generatorURL"))
        ck_assert(!strncmp(sget(a, "generatorURL"), "http", 4));
    json_decref(fx);
    return a;
}

/* --- names ----------------------------------------------------------------------------------- */

START_TEST(notify_kind_names)
{
    static const struct {
        lh_notify_kind_t k;
        const char *name;
    } kinds[] = {{LH_NOTIFY_WEBHOOK, "webhook"},
                 {LH_NOTIFY_ALERTMANAGER, "alertmanager"},
                 {LH_NOTIFY_SLACK, "slack"},
                 {LH_NOTIFY_PAGERDUTY, "pagerduty"}};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        ck_assert_str_eq(lh_notify_kind_name(kinds[i].k), kinds[i].name);
        lh_notify_kind_t k = (lh_notify_kind_t)99;
        ck_assert_int_eq(lh_notify_kind_parse(kinds[i].name, &k), 0);
        ck_assert_int_eq(k, kinds[i].k);
        char upper[32];
        snprintf(upper, sizeof(upper), "%s", kinds[i].name);
        upper[0] = (char)(upper[0] - 'a' + 'A');
        ck_assert_int_eq(lh_notify_kind_parse(upper, &k), 0);
        ck_assert_int_eq(k, kinds[i].k);
        ck_assert_str_eq(lh_notify_content_type(kinds[i].k, 0), "application/json");
    }
    lh_notify_kind_t k = LH_NOTIFY_SLACK;
    ck_assert_int_eq(lh_notify_kind_parse("email", &k), LH_EINVAL);
    ck_assert_int_eq(lh_notify_kind_parse("", &k), LH_EINVAL);
    ck_assert_int_eq(lh_notify_kind_parse(NULL, &k), LH_EINVAL);
    ck_assert_int_eq(lh_notify_kind_parse("slack ", &k), LH_EINVAL);
    ck_assert_int_eq(k, LH_NOTIFY_SLACK); /* untouched */
    ck_assert_ptr_null(lh_notify_kind_name((lh_notify_kind_t)4));
    ck_assert_ptr_null(lh_notify_kind_name((lh_notify_kind_t)-1));
    ck_assert_str_eq(lh_notify_content_type(LH_NOTIFY_WEBHOOK, 1), "application/cloudevents+json");
    /* cloudevents is the webhook's alone */
    ck_assert_str_eq(lh_notify_content_type(LH_NOTIFY_SLACK, 1), "application/json");
    ck_assert_ptr_null(lh_notify_content_type((lh_notify_kind_t)7, 0));
}
END_TEST

/* --- webhook --------------------------------------------------------------------------------- */

START_TEST(notify_webhook)
{
    lh_correlated_t *ca = incident_alert();
    lh_notify_body_opts_t o = opts();
    /* loophub JSON: what lh_codec_alert_encode gives, read back by the codec */
    json_t *j = body(LH_NOTIFY_WEBHOOK, ca, &o);
    ck_assert_str_eq(sget(j, "id"), "ca-0123abcd");
    ck_assert(json_is_array(json_object_get(j, "suspects")));
    ck_assert_uint_eq(json_array_size(json_object_get(j, "suspects")), 2);
    char *s = json_dumps(j, JSON_COMPACT);
    lh_correlated_t *back = NULL;
    ck_assert_int_eq(lh_codec_alert_json_decode(s, strlen(s), &back), 0);
    ck_assert_str_eq(back->id, ca->id);
    ck_assert_uint_eq(back->revision, 2);
    ck_assert_uint_eq(back->n_suspects, 2);
    ck_assert_str_eq(back->suspects[0].deploy_id, "D-1");
    lh_correlated_destroy(&back);
    free(s);
    json_decref(j);

    /* a structured CloudEvent with cloudevents set */
    o.cloudevents = 1;
    j = body(LH_NOTIFY_WEBHOOK, ca, &o);
    ck_assert_str_eq(sget(j, "specversion"), "1.0");
    ck_assert_str_eq(sget(j, "id"), "ca-0123abcd-r2"); /* revision 2: its own event id */
    ck_assert_str_eq(sget(j, "source"), "loophub");
    ck_assert_str_eq(sget(j, "subject"), "api");
    ck_assert_str_eq(sget(j, "datacontenttype"), "application/json");
    ck_assert_str_eq(sget(json_object_get(j, "data"), "id"), "ca-0123abcd");
    json_decref(j);

    /* the webhook needs no settings at all */
    j = body(LH_NOTIFY_WEBHOOK, ca, NULL);
    ck_assert_str_eq(sget(j, "id"), "ca-0123abcd");
    json_decref(j);
    lh_correlated_destroy(&ca);
}
END_TEST

/* --- Alertmanager ---------------------------------------------------------------------------- */

START_TEST(notify_alertmanager)
{
    lh_correlated_t *ca = incident_alert();
    lh_notify_body_opts_t o = opts();
    const char *const labels[] = {"team=payments", "page=", "region=eu-west-1"};
    o.labels = labels;
    o.n_labels = 3;
    json_t *arr = body(LH_NOTIFY_ALERTMANAGER, ca, &o);
    json_t *a = postable_alert(arr);

    json_t *l = json_object_get(a, "labels");
    ck_assert_str_eq(sget(l, "alertname"), "DeployPrecededIncident");
    ck_assert_str_eq(sget(l, "service"), "api");
    ck_assert_str_eq(sget(l, "environment"), "prod");
    ck_assert_str_eq(sget(l, "severity"), "critical");
    ck_assert_str_eq(sget(l, "suspect_deploy"), "D-1");
    ck_assert_str_eq(sget(l, "suspect_version"), "1.4.2");
    ck_assert_str_eq(sget(l, "rollback_version"), "1.4.1");
    ck_assert_str_eq(sget(l, "loophub_alert_id"), "ca-0123abcd");
    ck_assert_str_eq(sget(l, "team"), "payments");
    ck_assert_str_eq(sget(l, "region"), "eu-west-1");
    ck_assert_ptr_null(json_object_get(l, "page")); /* empty: no label */
    ck_assert_uint_eq(json_object_size(l), 10);

    json_t *an = json_object_get(a, "annotations");
    const char *sum = sget(an, "summary");
    ck_assert_ptr_null(strchr(sum, '\n'));
    ck_assert_ptr_nonnull(strstr(sum, "incident INC-1"));
    ck_assert_ptr_nonnull(strstr(sum, "5xx spike"));
    ck_assert_ptr_nonnull(strstr(sum, "5m after deploy D-1"));
    ck_assert_ptr_nonnull(strstr(sum, "1.4.2 by alice"));
    const char *d = sget(an, "description");
    const char *d1 = strstr(d, "1. deploy D-1"), *d2 = strstr(d, "2. deploy D-0");
    ck_assert_ptr_nonnull(d1);
    ck_assert_ptr_nonnull(d2);
    ck_assert(d1 < d2); /* ranked */
    ck_assert_ptr_nonnull(strstr(d, "score 0.93"));
    ck_assert_ptr_nonnull(strstr(d, "- same service and environment"));
    ck_assert_ptr_nonnull(strstr(d, "- deployed 5m before the incident"));
    ck_assert_ptr_nonnull(strstr(d, "1h5m before"));
    ck_assert_ptr_nonnull(strstr(d, "and 2 more changes in the window"));
    ck_assert_ptr_nonnull(strstr(d, "roll back api to 1.4.1"));
    ck_assert_ptr_nonnull(strstr(d, "no known good version of db before 3.1"));
    ck_assert_ptr_nonnull(strstr(d, "revision 2: a second incident joined"));
    ck_assert_str_eq(sget(an, "loophub_url"), "http://hub:7780/incident?id=INC-1");
    ck_assert_str_eq(sget(an, "revision"), "2");
    ck_assert_ptr_null(json_object_get(an, "runbook"));

    ck_assert_int_eq(time_of(sget(a, "startsAt")), T0);
    /* open: expires after 4 resends unless re-sent */
    ck_assert_int_eq(time_of(sget(a, "endsAt")), NOW + 4 * 30 * LH_NS_PER_SEC);
    ck_assert_str_eq(sget(a, "generatorURL"), "http://hub:7780/incident?id=INC-1");
    json_decref(arr);

    /* resolved: endsAt is the resolution; the same loophub_alert_id (one Alertmanager alert) */
    resolve(ca);
    arr = body(LH_NOTIFY_ALERTMANAGER, ca, &o);
    a = postable_alert(arr);
    ck_assert_int_eq(time_of(sget(a, "endsAt")), T0 + 1800 * LH_NS_PER_SEC);
    ck_assert_str_eq(sget(json_object_get(a, "labels"), "loophub_alert_id"), "ca-0123abcd");
    ck_assert_str_eq(sget(json_object_get(a, "annotations"), "revision"), "3");
    ck_assert(!strncmp(sget(json_object_get(a, "annotations"), "summary"), "Resolved: ", 10));
    json_decref(arr);
    lh_correlated_destroy(&ca);
}
END_TEST

START_TEST(notify_alertmanager_variants)
{
    static const struct {
        lh_ca_kind_t kind;
        const char *name;
    } names[] = {{LH_CA_DEPLOY_PRECEDED_INCIDENT, "DeployPrecededIncident"},
                 {LH_CA_DEPLOY_PRECEDED_ALERT, "DeployPrecededAlert"},
                 {LH_CA_UNAPPROVED_CHANGE, "UnapprovedChange"},
                 {LH_CA_UNSPECIFIED, "CorrelatedAlert"}};
    lh_notify_body_opts_t o = opts();
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        lh_correlated_t *ca = incident_alert();
        ca->kind = names[i].kind;
        json_t *arr = body(LH_NOTIFY_ALERTMANAGER, ca, &o);
        json_t *a = postable_alert(arr);
        ck_assert_str_eq(sget(json_object_get(a, "labels"), "alertname"), names[i].name);
        json_decref(arr);
        lh_correlated_destroy(&ca);
    }

    /* a monitoring alert with no severity, no hub_url, the default resend, no rollback: no
     * severity label, no links, endsAt now + 4 x 60 s, the link id is the alert's own */
    lh_correlated_t *ca = incident_alert();
    ca->kind = LH_CA_DEPLOY_PRECEDED_ALERT;
    lh_event_destroy(&ca->outcome);
    lh_event_t *ev = lh_event_new();
    ck_assert_ptr_nonnull(ev);
    ev->id = lh_event_str(ev, "am-1", (size_t)-1);
    ev->kind = LH_KIND_ALERT;
    ev->time_ns = T0 + 5 * LH_NS_PER_SEC;
    ev->alert.name = lh_event_str(ev, "HighErrorRate", (size_t)-1);
    ev->alert.fingerprint = lh_event_str(ev, "c0ffee", (size_t)-1);
    ev->alert.state = LH_ALERT_FIRING;
    ev->alert.summary = lh_event_str(ev, "error rate above 5%", (size_t)-1);
    ca->outcome = ev;
    ca->outcomes[0].kind = LH_KIND_ALERT;
    free(ca->rollback_version);
    ca->rollback_version = NULL;
    lh_notify_body_opts_t bare = {.now_ns = NOW};
    json_t *arr = body(LH_NOTIFY_ALERTMANAGER, ca, &bare);
    json_t *a = postable_alert(arr);
    json_t *l = json_object_get(a, "labels");
    ck_assert_ptr_null(json_object_get(l, "severity"));
    ck_assert_ptr_null(json_object_get(l, "rollback_version"));
    ck_assert_ptr_null(json_object_get(a, "generatorURL"));
    ck_assert_ptr_null(json_object_get(json_object_get(a, "annotations"), "loophub_url"));
    ck_assert_ptr_nonnull(
        strstr(sget(json_object_get(a, "annotations"), "summary"), "alert HighErrorRate"));
    /* the case's first outcome, not this revision's own event (5 s later) */
    ck_assert_int_eq(time_of(sget(a, "startsAt")), T0);
    ck_assert_int_eq(time_of(sget(a, "endsAt")), NOW + 4 * 60 * LH_NS_PER_SEC);
    json_decref(arr);
    /* with a hub: the alert id, percent-encoded where it must be */
    free(ca->id);
    ca->id = dup("ca-1 &2/3");
    arr = body(LH_NOTIFY_ALERTMANAGER, ca, &o);
    a = postable_alert(arr);
    ck_assert_str_eq(sget(a, "generatorURL"), "http://hub:7780/incident?id=ca-1%20%262%2F3");
    json_decref(arr);

    /* an outcome later than now + 4 resends (a clock ahead): endsAt is not before startsAt */
    ca->outcomes[0].time_ns = NOW + 3600 * LH_NS_PER_SEC;
    arr = body(LH_NOTIFY_ALERTMANAGER, ca, &o);
    a = postable_alert(arr);
    ck_assert_int_eq(time_of(sget(a, "endsAt")), time_of(sget(a, "startsAt")));
    json_decref(arr);
    /* a resend so long that now + 4 x resend would overflow: the alert does not expire */
    o.resend_ns = INT64_MAX / 2;
    arr = body(LH_NOTIFY_ALERTMANAGER, ca, &o);
    a = postable_alert(arr);
    ck_assert_int_gt(time_of(sget(a, "endsAt")), NOW);
    json_decref(arr);
    lh_correlated_destroy(&ca);

    /* no outcome event at all: the outcomes' first time, then the alert's creation */
    ca = incident_alert();
    lh_event_destroy(&ca->outcome);
    ca->outcomes[0].time_ns = T0 + 7 * LH_NS_PER_SEC;
    arr = body(LH_NOTIFY_ALERTMANAGER, ca, &o);
    a = postable_alert(arr);
    ck_assert_int_eq(time_of(sget(a, "startsAt")), T0 + 7 * LH_NS_PER_SEC);
    ck_assert_ptr_nonnull(
        strstr(sget(json_object_get(a, "annotations"), "summary"), "incident INC-1"));
    json_decref(arr);
    ca->n_outcomes = 0;
    arr = body(LH_NOTIFY_ALERTMANAGER, ca, &o);
    a = postable_alert(arr);
    ck_assert_int_eq(time_of(sget(a, "startsAt")), T0 + 2 * LH_NS_PER_SEC);
    json_decref(arr);
    ca->n_outcomes = 1;
    lh_correlated_destroy(&ca);
}
END_TEST

START_TEST(notify_alertmanager_bad_labels)
{
    lh_correlated_t *ca = incident_alert();
    lh_notify_body_opts_t o = opts();
    static const struct {
        const char *label, *why;
    } bad[] = {
        {"team", "is not name=value"},
        {"=payments", "is not [a-zA-Z_][a-zA-Z0-9_]*"},
        {"1team=payments", "label name \"1team\""},
        {"te-am=payments", "label name \"te-am\""},
        {"service=web", "label \"service\" is set by loophub"},
        {"loophub_alert_id=x", "label \"loophub_alert_id\" is set by loophub"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *const labels[] = {"team=payments", bad[i].label};
        o.labels = labels;
        o.n_labels = 2;
        refused(LH_NOTIFY_ALERTMANAGER, ca, &o, LH_EINVAL, bad[i].why);
    }
    /* a count without the array */
    o.labels = NULL;
    o.n_labels = 1;
    refused(LH_NOTIFY_ALERTMANAGER, ca, &o, LH_EINVAL, "is not name=value");
    /* the other kinds do not read the labels */
    json_decref(body(LH_NOTIFY_SLACK, ca, &o));
    lh_correlated_destroy(&ca);
}
END_TEST

START_TEST(notify_utf8)
{
    /* bytes that are not UTF-8 (a field set past validation) still make valid JSON strings */
    lh_correlated_t *ca = incident_alert();
    free(ca->service);
    ca->service = dup("ap\xff\xc3(i");
    free(ca->suspects[0].version);
    ca->suspects[0].version = dup("1.\xed\xa0\x80"); /* a surrogate */
    lh_notify_body_opts_t o = opts();
    json_t *arr = body(LH_NOTIFY_ALERTMANAGER, ca, &o);
    json_t *l = json_object_get(postable_alert(arr), "labels");
    ck_assert_str_eq(sget(l, "service"), "ap\xef\xbf\xbd\xef\xbf\xbd(i");
    ck_assert_str_eq(sget(l, "suspect_version"), "1.\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    json_decref(arr);
    lh_notify_kind_t kinds[] = {LH_NOTIFY_SLACK, LH_NOTIFY_PAGERDUTY};
    for (size_t i = 0; i < 2; i++)
        json_decref(body(kinds[i], ca, &o)); /* parses: valid UTF-8 throughout */
    /* valid multi-byte text is kept as is */
    free(ca->service);
    ca->service = dup("caf\xc3\xa9-\xf0\x9f\x9a\x80");
    arr = body(LH_NOTIFY_ALERTMANAGER, ca, &o);
    ck_assert_str_eq(sget(json_object_get(postable_alert(arr), "labels"), "service"),
                     "caf\xc3\xa9-\xf0\x9f\x9a\x80");
    json_decref(arr);
    lh_correlated_destroy(&ca);
}
END_TEST

/* --- Slack ----------------------------------------------------------------------------------- */

/* The Block Kit rules of tests/data/notify/slack-block-kit-limits.json on a message; returns the
 * number of suspect sections (those starting "*<n>.*"). */
static size_t
slack_valid(json_t *msg)
{
    json_t *fx = fixture("slack-block-kit-limits.json");
    ck_assert(json_is_string(json_object_get(msg, "text")));
    ck_assert_uint_gt(strlen(sget(msg, "text")), 0);
    json_t *blocks = json_object_get(msg, "blocks");
    ck_assert(json_is_array(blocks));
    ck_assert_uint_le(json_array_size(blocks), (size_t)fixture_int(fx, "max_blocks"));
    size_t i, suspects = 0;
    json_t *b;
    json_array_foreach(blocks, i, b)
    {
        const char *type = sget(b, "type");
        ck_assert_msg(in_list(json_object_get(fx, "block_types"), type), "block type %s", type);
        if (!strcmp(type, "header")) {
            ck_assert_uint_eq(i, 0);
            json_t *t = json_object_get(b, "text");
            ck_assert_str_eq(sget(t, "type"), sget(fx, "header_text_type"));
            ck_assert_uint_le(chars(sget(t, "text")), (size_t)fixture_int(fx, "header_text_chars"));
        } else if (!strcmp(type, "section")) {
            json_t *t = json_object_get(b, "text");
            ck_assert_str_eq(sget(t, "type"), "mrkdwn");
            const char *s = sget(t, "text");
            ck_assert_uint_gt(strlen(s), 0);
            ck_assert_uint_le(chars(s), (size_t)fixture_int(fx, "section_text_chars"));
            /* escaped: no bare < or >, every & starts an entity */
            ck_assert_ptr_null(strchr(s, '<'));
            ck_assert_ptr_null(strchr(s, '>'));
            for (const char *p = strchr(s, '&'); p; p = strchr(p + 1, '&'))
                ck_assert_msg(!strncmp(p, "&amp;", 5) || !strncmp(p, "&lt;", 4) ||
                                  !strncmp(p, "&gt;", 4),
                              "a bare & in %s", s);
            int n = 0;
            if (sscanf(s, "*%d.*", &n) == 1)
                suspects++;
        } else if (!strcmp(type, "actions")) {
            json_t *btn = json_array_get(json_object_get(b, "elements"), 0);
            ck_assert_str_eq(sget(btn, "type"), "button");
            ck_assert_str_eq(sget(json_object_get(btn, "text"), "type"), "plain_text");
            ck_assert_uint_le(chars(sget(json_object_get(btn, "text"), "text")),
                              (size_t)fixture_int(fx, "button_text_chars"));
            ck_assert_uint_le(chars(sget(btn, "url")), (size_t)fixture_int(fx, "button_url_chars"));
        }
    }
    json_decref(fx);
    return suspects;
}

static json_t *
block_of(json_t *msg, const char *type, size_t nth)
{
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(msg, "blocks"), i, b)
    {
        if (!strcmp(sget(b, "type"), type) && nth-- == 0)
            return b;
    }
    return NULL;
}

static const char *
section_text(json_t *msg, size_t nth)
{
    json_t *b = block_of(msg, "section", nth);
    ck_assert_msg(b != NULL, "no section %zu", nth);
    return sget(json_object_get(b, "text"), "text");
}

START_TEST(notify_slack)
{
    lh_correlated_t *ca = incident_alert();
    lh_notify_body_opts_t o = opts();
    json_t *msg = body(LH_NOTIFY_SLACK, ca, &o);
    ck_assert_uint_eq(slack_valid(msg), 2);
    const char *text = sget(msg, "text");
    ck_assert_ptr_nonnull(strstr(text, "incident INC-1"));
    ck_assert_ptr_nonnull(strstr(text, "after deploy D-1"));
    ck_assert_str_eq(sget(json_object_get(block_of(msg, "header", 0), "text"), "text"),
                     "Deploy preceded incident: api/prod");
    const char *out = section_text(msg, 0);
    ck_assert_ptr_nonnull(strstr(out, "*Service:* api"));
    ck_assert_ptr_nonnull(strstr(out, "*Environment:* prod"));
    ck_assert_ptr_nonnull(strstr(out, "*What:* incident INC-1 (critical): 5xx spike"));
    ck_assert_ptr_nonnull(strstr(out, "*When:* 2026-11-26T10:00:00Z"));
    ck_assert_ptr_nonnull(strstr(out, "revision 2: a second incident joined"));
    const char *s1 = section_text(msg, 1);
    ck_assert(!strncmp(s1, "*1.* deploy *D-1*", 17));
    ck_assert_ptr_nonnull(strstr(s1, "`1.4.2` by alice"));
    ck_assert_ptr_nonnull(strstr(s1, "\n\xe2\x80\xa2 same service and environment"));
    ck_assert_ptr_nonnull(strstr(s1, "\n\xe2\x80\xa2 deployed 5m before the incident"));
    ck_assert(!strncmp(section_text(msg, 2), "*2.* deploy *D-0*", 17));
    ck_assert_str_eq(section_text(msg, 3), "and 2 more changes in the window");
    const char *rb = section_text(msg, 4);
    ck_assert_ptr_nonnull(strstr(rb, "roll back api to `1.4.1`"));
    ck_assert_ptr_nonnull(strstr(rb, "no known good version of db before 3.1"));
    json_t *act = block_of(msg, "actions", 0);
    ck_assert_ptr_nonnull(act);
    ck_assert_str_eq(sget(json_array_get(json_object_get(act, "elements"), 0), "url"),
                     "http://hub:7780/incident?id=INC-1");
    ck_assert_uint_eq(json_array_size(json_object_get(msg, "blocks")), 7);
    json_decref(msg);

    /* escaping: Slack's three control characters, nothing else */
    lh_event_destroy(&ca->outcome);
    ca->outcome = incident_event(LH_SEV_ERROR, "p99 > 2s & <5xx> \"rising\"");
    lh_suspect_add_reason(&ca->suspects[0], "actor <alice> & co");
    msg = body(LH_NOTIFY_SLACK, ca, &o);
    slack_valid(msg);
    ck_assert_ptr_nonnull(strstr(section_text(msg, 0), "p99 &gt; 2s &amp; &lt;5xx&gt; \"rising\""));
    ck_assert_ptr_nonnull(strstr(section_text(msg, 1), "actor &lt;alice&gt; &amp; co"));
    ck_assert_ptr_nonnull(strstr(sget(msg, "text"), "p99 &gt; 2s &amp; &lt;5xx&gt;"));
    json_decref(msg);

    /* resolved: says so in the header, the fallback text and the outcome */
    resolve(ca);
    o.hub_url = NULL;
    msg = body(LH_NOTIFY_SLACK, ca, &o);
    slack_valid(msg);
    ck_assert(!strncmp(sget(json_object_get(block_of(msg, "header", 0), "text"), "text"),
                       "Resolved: ", 10));
    ck_assert(!strncmp(sget(msg, "text"), "Resolved: ", 10));
    ck_assert(!strncmp(section_text(msg, 0), "*Resolved* at 2026-11-26T10:30:00Z", 34));
    ck_assert_ptr_null(block_of(msg, "actions", 0)); /* no hub: no link */
    json_decref(msg);
    lh_correlated_destroy(&ca);
}
END_TEST

START_TEST(notify_slack_limits)
{
    lh_correlated_t *ca = incident_alert();
    /* 60 suspects, each with a reason far over a section's 3000 characters */
    char *reason = malloc(5001);
    ck_assert_ptr_nonnull(reason);
    for (int i = 0; i < 5000; i++)
        reason[i] = "x&"[i % 2];
    reason[5000] = '\0';
    for (int i = 0; i < 58; i++) {
        char id[16];
        snprintf(id, sizeof(id), "D-%d", i + 10);
        ck_assert_int_eq(lh_suspect_add_reason(add_suspect(ca, id, "2.0", NULL, 0.1), reason), 0);
    }
    ck_assert_int_eq(lh_suspect_add_reason(&ca->suspects[0], reason), 0);
    free(reason);
    /* a header far over 150 characters */
    free(ca->service);
    char svc[400];
    memset(svc, 's', sizeof(svc) - 1);
    svc[sizeof(svc) - 1] = '\0';
    ca->service = dup(svc);
    lh_notify_body_opts_t o = opts();
    json_t *msg = body(LH_NOTIFY_SLACK, ca, &o);
    ck_assert_uint_eq(slack_valid(msg), 5); /* at most 5 suspects */
    const char *h = sget(json_object_get(block_of(msg, "header", 0), "text"), "text");
    ck_assert_uint_eq(chars(h), 150);
    ck_assert(ends_with(h, "\xe2\x80\xa6"));
    const char *s1 = section_text(msg, 1);
    ck_assert_uint_eq(chars(s1), 3000);
    ck_assert(ends_with(s1, "\xe2\x80\xa6")); /* cut, and an entity is never cut in half */
    ck_assert(ends_with(s1, "x\xe2\x80\xa6") || ends_with(s1, "&amp;\xe2\x80\xa6"));
    ck_assert_str_eq(section_text(msg, 6), "and 57 more changes in the window"); /* 55 + 2 */
    json_decref(msg);

    /* a hub URL too long for a button: no button, the rest as before */
    char *url = malloc(3101);
    ck_assert_ptr_nonnull(url);
    memcpy(url, "http://", 7);
    memset(url + 7, 'h', 3093);
    url[3100] = '\0';
    o.hub_url = url;
    msg = body(LH_NOTIFY_SLACK, ca, &o);
    slack_valid(msg);
    ck_assert_ptr_null(block_of(msg, "actions", 0));
    json_decref(msg);
    o.hub_url = HUB;
    free(url);

    /* multi-byte text is cut between characters */
    free(ca->suspects[0].reasons[2]);
    char *wide = malloc(3 * 4000 + 1);
    ck_assert_ptr_nonnull(wide);
    for (int i = 0; i < 4000; i++)
        memcpy(wide + 3 * i, "\xe2\x82\xac", 3); /* € */
    wide[12000] = '\0';
    ca->suspects[0].reasons[2] = wide;
    msg = body(LH_NOTIFY_SLACK, ca, &o); /* parses: valid UTF-8 */
    s1 = section_text(msg, 1);
    ck_assert_uint_eq(chars(s1), 3000);
    ck_assert(ends_with(s1, "\xe2\x82\xac\xe2\x80\xa6"));
    json_decref(msg);

    /* an alert with nothing around it: a header, the outcome, no empty section */
    lh_correlated_t *bare = lh_correlated_new();
    ck_assert_ptr_nonnull(bare);
    bare->id = dup("ca-bare");
    o.hub_url = NULL;
    msg = body(LH_NOTIFY_SLACK, bare, &o);
    ck_assert_uint_eq(slack_valid(msg), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(msg, "blocks")), 2);
    ck_assert_str_eq(sget(json_object_get(block_of(msg, "header", 0), "text"), "text"),
                     "Correlated alert: ?");
    ck_assert_ptr_nonnull(strstr(sget(msg, "text"), "no suspect change"));
    json_decref(msg);
    /* the rollback version alone (no per-service targets) */
    bare->rollback_version = dup("0.9");
    bare->service = dup("web");
    msg = body(LH_NOTIFY_SLACK, bare, &o);
    ck_assert_str_eq(section_text(msg, 1), "*Rollback*\nroll back web to `0.9`");
    json_decref(msg);
    lh_correlated_destroy(&bare);
    lh_correlated_destroy(&ca);
}
END_TEST

/* --- PagerDuty ------------------------------------------------------------------------------- */

/* The Events API v2 rules of tests/data/notify/pagerduty-enqueue.json. */
static void
pd_valid(json_t *ev)
{
    json_t *fx = fixture("pagerduty-enqueue.json");
    const char *k;
    json_t *v;
    json_object_foreach(ev, k, v)
    {
        ck_assert_msg(in_list(json_object_get(fx, "fields"), k), "%s is not a field", k);
    }
    size_t i;
    json_array_foreach(json_object_get(fx, "required"), i, v)
    {
        ck_assert(json_is_string(json_object_get(ev, json_string_value(v))));
    }
    ck_assert(in_list(json_object_get(fx, "event_actions"), sget(ev, "event_action")));
    json_t *max = json_object_get(fx, "max_chars");
    ck_assert_uint_le(chars(sget(ev, "dedup_key")), (size_t)fixture_int(max, "dedup_key"));
    json_t *p = json_object_get(ev, "payload");
    if (!strcmp(sget(ev, "event_action"), "trigger")) {
        ck_assert(json_is_object(p));
        json_object_foreach(p, k, v)
        {
            ck_assert_msg(in_list(json_object_get(fx, "payload_fields"), k), "payload.%s", k);
        }
        json_array_foreach(json_object_get(fx, "payload_required"), i, v)
        {
            const char *s = sget(p, json_string_value(v));
            ck_assert_uint_gt(strlen(s), 0);
        }
        ck_assert_uint_le(chars(sget(p, "summary")), (size_t)fixture_int(max, "summary"));
        ck_assert(in_list(json_object_get(fx, "severities"), sget(p, "severity")));
        time_of(sget(p, "timestamp"));
        json_t *l;
        json_array_foreach(json_object_get(ev, "links"), i, l)
        {
            json_object_foreach(l, k, v)
            {
                ck_assert(in_list(json_object_get(fx, "link_fields"), k));
            }
        }
    } else {
        ck_assert_uint_eq(json_object_size(ev),
                          json_array_size(json_object_get(fx, "resolve_fields")));
        json_array_foreach(json_object_get(fx, "resolve_fields"), i, v)
        {
            ck_assert(json_is_string(json_object_get(ev, json_string_value(v))));
        }
    }
    json_decref(fx);
}

START_TEST(notify_pagerduty)
{
    lh_correlated_t *ca = incident_alert();
    lh_notify_body_opts_t o = opts();
    json_t *ev = body(LH_NOTIFY_PAGERDUTY, ca, &o);
    pd_valid(ev);
    ck_assert_str_eq(sget(ev, "routing_key"), o.routing_key);
    ck_assert_str_eq(sget(ev, "event_action"), "trigger");
    ck_assert_str_eq(sget(ev, "dedup_key"), "ca-0123abcd");
    json_t *p = json_object_get(ev, "payload");
    ck_assert_ptr_nonnull(strstr(sget(p, "summary"), "incident INC-1"));
    ck_assert_ptr_nonnull(strstr(sget(p, "summary"), "after deploy D-1"));
    ck_assert_str_eq(sget(p, "source"), "api/prod");
    ck_assert_str_eq(sget(p, "severity"), "critical");
    ck_assert_int_eq(time_of(sget(p, "timestamp")), T0);
    ck_assert_str_eq(sget(p, "component"), "api");
    ck_assert_str_eq(sget(p, "group"), "prod");
    ck_assert_str_eq(sget(p, "class"), "deploy_preceded_incident");
    json_t *cd = json_object_get(p, "custom_details");
    ck_assert_str_eq(sget(cd, "rollback_version"), "1.4.1");
    ck_assert_int_eq(json_integer_value(json_object_get(cd, "revision")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(cd, "more_suspects")), 2);
    json_t *ch = json_object_get(cd, "changes");
    ck_assert_uint_eq(json_array_size(ch), 1);
    ck_assert_str_eq(json_string_value(json_array_get(ch, 0)), "a second incident joined");
    json_t *sus = json_object_get(cd, "suspects");
    ck_assert_uint_eq(json_array_size(sus), 2);
    json_t *s0 = json_array_get(sus, 0);
    ck_assert_str_eq(sget(s0, "deploy_id"), "D-1");
    ck_assert_str_eq(sget(s0, "version"), "1.4.2");
    ck_assert_str_eq(sget(s0, "previous_version"), "1.4.1");
    ck_assert_str_eq(sget(s0, "actor"), "alice");
    ck_assert_double_eq_tol(json_real_value(json_object_get(s0, "score")), 0.93, 1e-9);
    json_t *rs = json_object_get(s0, "reasons");
    ck_assert_uint_eq(json_array_size(rs), 2);
    ck_assert_str_eq(json_string_value(json_array_get(rs, 1)), "deployed 5m before the incident");
    ck_assert_str_eq(sget(json_array_get(sus, 1), "deploy_id"), "D-0");
    json_t *links = json_object_get(ev, "links");
    ck_assert_uint_eq(json_array_size(links), 1);
    ck_assert_str_eq(sget(json_array_get(links, 0), "href"), "http://hub:7780/incident?id=INC-1");
    ck_assert_str_eq(sget(json_array_get(links, 0), "text"), "loophub timeline");
    json_decref(ev);

    /* no hub: no links */
    o.hub_url = "";
    ev = body(LH_NOTIFY_PAGERDUTY, ca, &o);
    pd_valid(ev);
    ck_assert_ptr_null(json_object_get(ev, "links"));
    ck_assert_ptr_null(json_object_get(ev, "client_url"));
    json_decref(ev);

    /* the resolve: routing_key, event_action and dedup_key, nothing else */
    resolve(ca);
    ev = body(LH_NOTIFY_PAGERDUTY, ca, &o);
    pd_valid(ev);
    ck_assert_uint_eq(json_object_size(ev), 3);
    ck_assert_str_eq(sget(ev, "event_action"), "resolve");
    ck_assert_str_eq(sget(ev, "dedup_key"), "ca-0123abcd");
    ck_assert_str_eq(sget(ev, "routing_key"), o.routing_key);
    json_decref(ev);
    lh_correlated_destroy(&ca);
}
END_TEST

START_TEST(notify_pagerduty_severity)
{
    static const struct {
        lh_severity_t sev;
        const char *pd;
    } map[] = {{LH_SEV_CRITICAL, "critical"},
               {LH_SEV_ERROR, "error"},
               {LH_SEV_WARNING, "warning"},
               {LH_SEV_INFO, "info"},
               {LH_SEV_UNSPECIFIED, "error"}};
    lh_notify_body_opts_t o = opts();
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        for (int alert = 0; alert < 2; alert++) {
            lh_correlated_t *ca = incident_alert();
            if (alert) { /* the same from a monitoring alert's severity */
                ca->outcome->kind = LH_KIND_ALERT;
                ca->outcome->alert.severity = map[i].sev;
                ca->outcome->alert.name = ca->outcome->incident.incident_id;
                ca->outcome->incident.severity = LH_SEV_UNSPECIFIED;
            } else {
                ca->outcome->incident.severity = map[i].sev;
            }
            json_t *ev = body(LH_NOTIFY_PAGERDUTY, ca, &o);
            pd_valid(ev);
            ck_assert_str_eq(sget(json_object_get(ev, "payload"), "severity"), map[i].pd);
            json_decref(ev);
            lh_correlated_destroy(&ca);
        }
    }
    /* an unapproved change (outcome: the deploy event) is an error */
    lh_correlated_t *ca = incident_alert();
    ca->kind = LH_CA_UNAPPROVED_CHANGE;
    ca->outcome->kind = LH_KIND_DEPLOY;
    ca->outcome->incident.severity = LH_SEV_UNSPECIFIED;
    json_t *ev = body(LH_NOTIFY_PAGERDUTY, ca, &o);
    pd_valid(ev);
    json_t *p = json_object_get(ev, "payload");
    ck_assert_str_eq(sget(p, "severity"), "error");
    ck_assert_str_eq(sget(p, "class"), "unapproved_change");
    ck_assert_ptr_nonnull(strstr(sget(p, "summary"), "unapproved change D-1"));
    ck_assert_ptr_nonnull(strstr(sget(p, "summary"), "without an approved ticket"));
    json_decref(ev);
    lh_correlated_destroy(&ca);
}
END_TEST

START_TEST(notify_pagerduty_limits)
{
    lh_correlated_t *ca = incident_alert();
    lh_notify_body_opts_t o = opts();
    /* no routing key: refused, naming it (the resolve too) */
    o.routing_key = NULL;
    refused(LH_NOTIFY_PAGERDUTY, ca, &o, LH_EINVAL, "pagerduty: a routing key is required");
    o.routing_key = "";
    refused(LH_NOTIFY_PAGERDUTY, ca, &o, LH_EINVAL, "pagerduty: a routing key is required");
    refused(LH_NOTIFY_PAGERDUTY, ca, NULL, LH_EINVAL, "pagerduty: a routing key is required");
    resolve(ca);
    refused(LH_NOTIFY_PAGERDUTY, ca, &o, LH_EINVAL, "pagerduty: a routing key is required");
    ca->resolved = 0;
    o.routing_key = "key";

    /* no alert id for the dedup_key, or one longer than its 255 characters */
    char *id = ca->id;
    ca->id = NULL;
    refused(LH_NOTIFY_PAGERDUTY, ca, &o, LH_EINVAL, "no id for the dedup_key");
    char long_id[300];
    memset(long_id, 'a', 256);
    long_id[256] = '\0';
    ca->id = long_id;
    refused(LH_NOTIFY_PAGERDUTY, ca, &o, LH_EINVAL, "longer than a dedup_key's 255");
    long_id[255] = '\0'; /* 255 fits */
    json_t *ev = body(LH_NOTIFY_PAGERDUTY, ca, &o);
    pd_valid(ev);
    json_decref(ev);
    ca->id = id;

    /* a summary over 1024 characters (multi-byte ones) is cut to 1024 */
    lh_event_destroy(&ca->outcome);
    char title[4000];
    for (int i = 0; i < 1300; i++)
        memcpy(title + 3 * i, "\xe2\x82\xac", 3);
    title[3900] = '\0';
    ca->outcome = incident_event(LH_SEV_WARNING, title);
    ev = body(LH_NOTIFY_PAGERDUTY, ca, &o);
    pd_valid(ev);
    const char *sum = sget(json_object_get(ev, "payload"), "summary");
    ck_assert_uint_eq(chars(sum), 1024);
    ck_assert(ends_with(sum, "\xe2\x82\xac\xe2\x80\xa6"));
    json_decref(ev);

    /* no service and no environment: a source all the same */
    free(ca->service);
    free(ca->environment);
    ca->service = ca->environment = NULL;
    ev = body(LH_NOTIFY_PAGERDUTY, ca, &o);
    pd_valid(ev);
    ck_assert_str_eq(sget(json_object_get(ev, "payload"), "source"), "?");
    ck_assert_ptr_null(json_object_get(json_object_get(ev, "payload"), "component"));
    json_decref(ev);
    lh_correlated_destroy(&ca);
}
END_TEST

/* --- bad arguments, out of memory ------------------------------------------------------------ */

START_TEST(notify_bad_args)
{
    lh_correlated_t *ca = incident_alert();
    lh_notify_body_opts_t o = opts();
    lh_buf_t b = LH_BUF_INIT;
    char why[128] = "";
    ck_assert_int_eq(lh_notify_body(LH_NOTIFY_SLACK, NULL, &o, &b, why, sizeof(why)), LH_EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "no alert"));
    ck_assert_int_eq(lh_notify_body(LH_NOTIFY_SLACK, ca, &o, NULL, why, sizeof(why)), LH_EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "no output buffer"));
    refused((lh_notify_kind_t)9, ca, &o, LH_EINVAL, "notify: unknown kind 9");
    refused((lh_notify_kind_t)-1, ca, &o, LH_EINVAL, "notify: unknown kind -1");
    /* no room for a reason: the code alone */
    ck_assert_int_eq(lh_notify_body((lh_notify_kind_t)9, ca, &o, &b, NULL, 0), LH_EINVAL);
    ck_assert_int_eq(lh_notify_body((lh_notify_kind_t)9, ca, &o, &b, why, 0), LH_EINVAL);
    ck_assert_uint_eq(b.len, 0);
    /* a reason too long for why is cut, NUL-terminated */
    char small[12];
    ck_assert_int_eq(lh_notify_body(LH_NOTIFY_PAGERDUTY, ca, NULL, &b, small, sizeof(small)),
                     LH_EINVAL);
    ck_assert_str_eq(small, "pagerduty: ");
    /* success clears why */
    strcpy(why, "stale");
    ck_assert_int_eq(lh_notify_body(LH_NOTIFY_SLACK, ca, &o, &b, why, sizeof(why)), 0);
    ck_assert_str_eq(why, "");
    /* the webhook: an alert the codec cannot encode (a suspect's string not UTF-8) */
    size_t len = b.len;
    free(ca->suspects[0].actor);
    ca->suspects[0].actor = dup("al\xffice");
    ck_assert_int_eq(lh_notify_body(LH_NOTIFY_WEBHOOK, ca, &o, &b, why, sizeof(why)), LH_EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "webhook: the alert cannot be encoded"));
    ck_assert_uint_eq(b.len, len);
    lh_buf_free(&b);
    lh_correlated_destroy(&ca);
}
END_TEST

/* jansson's allocator, failing from the fail_at-th call on (counting from 0) */
static long g_calls, g_fail_at = -1;

static void *
failing_malloc(size_t n)
{
    if (g_fail_at >= 0 && g_calls++ >= g_fail_at)
        return NULL;
    return malloc(n);
}

START_TEST(notify_out_of_memory)
{
    static const lh_notify_kind_t kinds[] = {LH_NOTIFY_ALERTMANAGER, LH_NOTIFY_SLACK,
                                             LH_NOTIFY_PAGERDUTY};
    lh_correlated_t *ca = incident_alert();
    lh_notify_body_opts_t o = opts();
    const char *const labels[] = {"team=payments"};
    o.labels = labels;
    o.n_labels = 1;
    for (int resolved = 0; resolved < 2; resolved++) {
        if (resolved)
            resolve(ca);
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
            lh_buf_t want = LH_BUF_INIT;
            char why[128];
            ck_assert_int_eq(lh_notify_body(kinds[k], ca, &o, &want, why, sizeof(why)), 0);
            json_set_alloc_funcs(failing_malloc, free);
            long fails = 0;
            for (long at = 0;; at++) {
                lh_buf_t b = LH_BUF_INIT;
                ck_assert_int_eq(lh_buf_append(&b, "PFX", 3), 0);
                g_calls = 0;
                g_fail_at = at;
                int rc = lh_notify_body(kinds[k], ca, &o, &b, why, sizeof(why));
                g_fail_at = -1;
                if (rc == 0) {
                    /* every allocation made: the same body as without failures */
                    ck_assert_uint_eq(b.len, want.len + 3);
                    ck_assert_mem_eq(b.data + 3, want.data, want.len);
                    lh_buf_free(&b);
                    break;
                }
                ck_assert_msg(rc == LH_ENOMEM, "%s, allocation %ld failing: %s",
                              lh_notify_kind_name(kinds[k]), at, lh_strerror(rc));
                ck_assert_uint_eq(b.len, 3); /* out as it was */
                fails++;
                lh_buf_free(&b);
                ck_assert_int_lt(at, 100000);
            }
            json_set_alloc_funcs(malloc, free);
            ck_assert_int_gt(fails, resolved && kinds[k] == LH_NOTIFY_PAGERDUTY ? 2 : 20);
            lh_buf_free(&want);
        }
    }
    lh_correlated_destroy(&ca);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("notify_body");
    const lh_test_case_t cases[] = {
        {"notify_kind_names", notify_kind_names, 0, 0},
        {"notify_webhook", notify_webhook, 0, 0},
        {"notify_alertmanager", notify_alertmanager, 0, 0},
        {"notify_alertmanager_variants", notify_alertmanager_variants, 0, 0},
        {"notify_alertmanager_bad_labels", notify_alertmanager_bad_labels, 0, 0},
        {"notify_utf8", notify_utf8, 0, 0},
        {"notify_slack", notify_slack, 0, 0},
        {"notify_slack_limits", notify_slack_limits, 0, 0},
        {"notify_pagerduty", notify_pagerduty, 0, 0},
        {"notify_pagerduty_severity", notify_pagerduty_severity, 0, 0},
        {"notify_pagerduty_limits", notify_pagerduty_limits, 0, 0},
        {"notify_bad_args", notify_bad_args, 0, 0},
        {"notify_out_of_memory", notify_out_of_memory, 120, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 30, NULL, NULL);
    return lh_test_run_suite(s);
}
