/*
 * check_grafana.c - the Grafana Alerting webhook decoder (codec_grafana.c) on the notification
 * Grafana publishes (tests/data/sources/grafana, README.md there says where it came from): each
 * alert into an alert event, firing and resolved, the labels that name service, environment,
 * severity and hosts, identity across redeliveries, a notification without alerts ignored, every
 * rejection naming the alert and the field, the signature with and without its timestamp
 * header, and detection by shape and route.
 *
 * Grafana publishes one firing example whose rules carry no service label; everything else is
 * that example with one field changed here (marked "variation").
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"
#include "testutil.h"

#define SRCFIX_MAX_CALLS 16
#include "srcfix.h"
#define FIXTURE "grafana/alerting-webhook-firing.json"

static json_t *
alert(json_t *root, size_t i)
{
    json_t *a = json_array_get(json_object_get(root, "alerts"), i);
    ck_assert_ptr_nonnull(a);
    return a;
}

static void
set_label(json_t *root, size_t i, const char *k, const char *v)
{
    json_t *labels = json_object_get(alert(root, i), "labels");
    if (v)
        json_object_set_new(labels, k, json_string(v));
    else
        json_object_del(labels, k);
}

/* The fixture with a service label on each alert (variation: the published rules have none). */
static json_t *
with_service(void)
{
    json_t *root = fixture_json(FIXTURE);
    set_label(root, 0, "service", "api");
    set_label(root, 1, "service", "api");
    return root;
}

/* "gf-" and 16 lowercase hex digits */
static void
assert_id(const char *id)
{
    ck_assert_uint_eq(strlen(id), 19);
    ck_assert_msg(!strncmp(id, "gf-", 3), "%s", id);
    ck_assert_uint_eq(strspn(id + 3, "0123456789abcdef"), 16);
}

/* --- the published notification ------------------------------------------------------------- */

/* As published, neither rule labels a service: each alert is rejected, saying which label to
 * add; the notification is still Grafana's, by its shape and by its route. */
START_TEST(grafana_fixture_as_published)
{
    size_t len;
    char *b = fixture(FIXTURE, &len);
    sink_t s = {0};
    for (int route = 0; route < 2; route++) {
        ck_assert_int_eq(decode(b, len, route ? LH_FMT_GRAFANA : LH_FMT_AUTO, NULL, 0, NULL, &s),
                         LH_SRC_GRAFANA);
        ck_assert_int_eq(s.n, 2);
        for (int i = 0; i < 2; i++) {
            ck_assert_ptr_null(s.ev[i]);
            ck_assert_int_eq(s.err[i], LH_EMISSING);
            char want[80];
            snprintf(want, sizeof(want),
                     "grafana alert %d: labels: no service, job, app or grafana_folder", i);
            ck_assert_msg(strstr(s.why[i], want), "%s", s.why[i]);
            assert_id(s.id[i]); /* the id is known: the hub can name the alert it refused */
        }
        ck_assert_str_ne(s.id[0], s.id[1]);
        sink_free(&s);
    }
    free(b);
}
END_TEST

START_TEST(grafana_firing)
{
    json_t *root = with_service();
    char *text = json_dumps(root, JSON_COMPACT);
    size_t len = strlen(text);
    sink_t s = {0};
    ck_assert_int_eq(decode(text, len, LH_FMT_AUTO, NULL, 0, NULL, &s), LH_SRC_GRAFANA);
    ck_assert_int_eq(s.n, 2);
    lh_event_t *ev = s.ev[0];
    ck_assert_msg(ev != NULL, "%s", s.why[0]);
    assert_id(ev->id);
    ck_assert_str_eq(s.id[0], ev->id);
    ck_assert_str_eq(ev->source, "grafana");
    ck_assert_int_eq(ev->kind, LH_KIND_ALERT);
    ck_assert_int_eq(ev->alert.state, LH_ALERT_FIRING);
    ck_assert_str_eq(ev->alert.name, "High memory usage");
    ck_assert_str_eq(ev->alert.fingerprint, "c6eadffa33fcdf37");
    ck_assert_str_eq(ev->alert.summary, "This alert was triggered for zone us-1");
    ck_assert_int_eq(ev->alert.severity, LH_SEV_UNSPECIFIED);
    ck_assert_str_eq(ev->service, "api");
    ck_assert_str_eq(ev->environment, "production");
    ck_assert_int_eq(ev->time_ns, at("2021-10-12T09:51:03.157076+02:00"));
    ck_assert_uint_eq(ev->n_hosts, 0);
    ck_assert_str_eq(label(ev, "alertname"), "High memory usage");
    ck_assert_str_eq(label(ev, "team"), "blue");
    ck_assert_str_eq(label(ev, "zone"), "us-1");
    ck_assert_str_eq(label(ev, "url"), "https://play.grafana.org/alerting/1afz29v7z/edit");
    ck_assert_str_eq(label(ev, "runbook_url"), "https://myrunbook.com/runbook/1234");
    ck_assert_msg(strstr(label(ev, "silence_url"), "alerting/silence/new?alertmanager=grafana"),
                  "%s", label(ev, "silence_url"));
    ck_assert_str_eq(label(ev, "grafana_org"), "1");
    ck_assert_ptr_null(lh_event_label(ev, "dashboard_url")); /* "" in the payload */
    ck_assert_ptr_null(lh_event_label(ev, "panel_url"));
    ck_assert_int_eq(ev->raw_format, LH_FMT_GRAFANA);
    ck_assert_uint_eq(ev->raw_len, len); /* the notification as signed */
    char why[200];
    ck_assert_msg(lh_event_validate(ev, NULL, lh_now_ns(), why, sizeof(why)) == 0, "%s", why);

    ev = s.ev[1];
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(ev->alert.name, "High CPU usage");
    ck_assert_str_eq(ev->alert.fingerprint, "bc97ff14869b13e3");
    ck_assert_str_eq(label(ev, "zone"), "eu-1");
    ck_assert_int_eq(ev->time_ns, at("2021-10-12T09:56:03.157076+02:00"));
    ck_assert_str_ne(ev->id, s.ev[0]->id);
    sink_free(&s);

    /* by its route, with another default environment */
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.src.default_env = "prod";
    ck_assert_int_eq(decode(text, len, LH_FMT_GRAFANA, NULL, 0, &o, &s), LH_SRC_GRAFANA);
    ck_assert_int_eq(s.n, 2);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_str_eq(s.ev[0]->environment, "prod");
    sink_free(&s);
    free(text);
    json_decref(root);
}
END_TEST

/* A resolved alert (variation: Grafana publishes no resolved example): its time is endsAt. */
START_TEST(grafana_resolved)
{
    json_t *root = with_service();
    json_t *a = alert(root, 0);
    json_object_set_new(a, "status", json_string("resolved"));
    json_object_set_new(a, "endsAt", json_string("2021-10-12T10:06:03.157076+02:00"));
    sink_t s = {0};
    decode_json(root, LH_FMT_GRAFANA, NULL, 0, NULL, &s);
    ck_assert_int_eq(s.n, 2);
    lh_event_t *ev = s.ev[0];
    ck_assert_msg(ev != NULL, "%s", s.why[0]);
    ck_assert_int_eq(ev->alert.state, LH_ALERT_RESOLVED);
    ck_assert_int_eq(ev->time_ns, at("2021-10-12T10:06:03.157076+02:00"));
    ck_assert_str_eq(ev->alert.fingerprint, "c6eadffa33fcdf37");
    ck_assert_int_eq(s.ev[1]->alert.state, LH_ALERT_FIRING); /* each alert its own status */
    sink_free(&s);

    /* an alert without a status takes the notification's */
    json_object_del(a, "status");
    json_object_set_new(root, "status", json_string("resolved"));
    decode_json(root, LH_FMT_GRAFANA, NULL, 0, NULL, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_int_eq(s.ev[0]->alert.state, LH_ALERT_RESOLVED);
    sink_free(&s);
    json_decref(root);
}
END_TEST

/* --- identity --------------------------------------------------------------------------------- */

/* The id of alert i of root, decoded. */
static void
id_of(json_t *root, size_t i, char *out, size_t len)
{
    sink_t s = {0};
    decode_json(root, LH_FMT_GRAFANA, NULL, 0, NULL, &s);
    ck_assert_int_gt(s.n, (int)i);
    ck_assert_msg(s.ev[i] != NULL, "%s", s.why[i]);
    snprintf(out, len, "%s", s.ev[i]->id);
    sink_free(&s);
}

START_TEST(grafana_redelivery)
{
    json_t *root = with_service();
    char first[32], again[32], other[32];
    id_of(root, 0, first, sizeof(first));
    id_of(root, 0, again, sizeof(again));
    ck_assert_str_eq(first, again);
    /* a repeat notification: another title, message and values, the same alert */
    json_object_set_new(root, "title", json_string("[FIRING:2] (blue) again"));
    json_object_set_new(alert(root, 0), "values", json_object());
    id_of(root, 0, again, sizeof(again));
    ck_assert_str_eq(first, again);

    /* each of fingerprint, startsAt, status and orgId makes another alert event */
    static const char *const keys[] = {"fingerprint", "startsAt", "status", "orgId"};
    for (size_t i = 0; i < 4; i++) {
        json_t *v = with_service(); /* variation: one field changed */
        json_t *target = i == 3 ? v : alert(v, 0);
        json_t *val = i == 0   ? json_string("0000000000000001")
                      : i == 1 ? json_string("2021-10-12T09:51:04.157076+02:00")
                      : i == 2 ? json_string("resolved")
                               : json_integer(2);
        json_object_set_new(target, keys[i], val);
        json_object_set_new(alert(v, 0), "endsAt", json_string("2021-10-12T10:00:00Z"));
        id_of(v, 0, other, sizeof(other));
        ck_assert_msg(strcmp(first, other) != 0, "%s changed, same id", keys[i]);
        json_decref(v);
    }
    /* the endsAt of a firing alert is not part of it */
    json_object_set_new(alert(root, 0), "endsAt", json_string("2021-10-12T10:00:00Z"));
    id_of(root, 0, again, sizeof(again));
    ck_assert_str_eq(first, again);

    /* without a fingerprint, the label set stands in for it, whatever the order of its keys */
    json_object_del(alert(root, 0), "fingerprint");
    id_of(root, 0, first, sizeof(first));
    json_t *labels = json_object_get(alert(root, 0), "labels"), *rev = json_object();
    const char *order[] = {"zone", "service", "team", "alertname"};
    for (size_t i = 0; i < 4; i++)
        json_object_set(rev, order[i], json_object_get(labels, order[i]));
    ck_assert_uint_eq(json_object_size(rev), json_object_size(labels));
    json_object_set_new(alert(root, 0), "labels", rev);
    id_of(root, 0, again, sizeof(again));
    ck_assert_str_eq(first, again);
    set_label(root, 0, "zone", "us-2");
    id_of(root, 0, other, sizeof(other));
    ck_assert_str_ne(first, other);
    json_decref(root);
}
END_TEST

/* --- the labels --------------------------------------------------------------------------------
 */

START_TEST(grafana_labels)
{
    json_t *root = fixture_json(FIXTURE);
    sink_t s = {0};
    /* the service: service, else job, else app, else grafana_folder (variations) */
    static const struct {
        const char *service, *job, *app, *folder, *want;
    } svc[] = {
        {"api", "node", "web", "Payments", "api"},  {NULL, "node", "web", "Payments", "node"},
        {NULL, NULL, "web", "Payments", "web"},     {"", "", "web", NULL, "web"},
        {NULL, NULL, NULL, "Payments", "Payments"},
    };
    for (size_t i = 0; i < sizeof(svc) / sizeof(svc[0]); i++) {
        set_label(root, 0, "service", svc[i].service);
        set_label(root, 0, "job", svc[i].job);
        set_label(root, 0, "app", svc[i].app);
        set_label(root, 0, "grafana_folder", svc[i].folder);
        decode_json(root, LH_FMT_GRAFANA, NULL, 0, NULL, &s);
        ck_assert_msg(s.ev[0] != NULL, "case %zu: %s", i, s.why[0]);
        ck_assert_str_eq(s.ev[0]->service, svc[i].want);
        sink_free(&s);
    }
    /* the environment: env, else environment, else the default */
    static const struct {
        const char *env, *environment, *want;
    } envs[] = {
        {"staging", "prod", "staging"},
        {NULL, "prod", "prod"},
        {NULL, NULL, "production"},
    };
    for (size_t i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
        set_label(root, 0, "env", envs[i].env);
        set_label(root, 0, "environment", envs[i].environment);
        decode_json(root, LH_FMT_GRAFANA, NULL, 0, NULL, &s);
        ck_assert_ptr_nonnull(s.ev[0]);
        ck_assert_str_eq(s.ev[0]->environment, envs[i].want);
        sink_free(&s);
    }
    /* the severity word; another word is unspecified but kept as a label */
    static const struct {
        const char *word;
        lh_severity_t want;
    } sevs[] = {
        {"critical", LH_SEV_CRITICAL}, {"P1", LH_SEV_CRITICAL}, {"error", LH_SEV_ERROR},
        {"Warning", LH_SEV_WARNING},   {"info", LH_SEV_INFO},   {"sev-2", LH_SEV_UNSPECIFIED},
    };
    for (size_t i = 0; i < sizeof(sevs) / sizeof(sevs[0]); i++) {
        set_label(root, 0, "severity", sevs[i].word);
        decode_json(root, LH_FMT_GRAFANA, NULL, 0, NULL, &s);
        ck_assert_ptr_nonnull(s.ev[0]);
        ck_assert_int_eq(s.ev[0]->alert.severity, sevs[i].want);
        ck_assert_str_eq(label(s.ev[0], "severity"), sevs[i].word);
        sink_free(&s);
    }
    /* hosts: the instance's host, and the host label when it is another */
    static const struct {
        const char *instance, *host, *want0, *want1;
    } hosts[] = {
        {"web-1:9100", NULL, "web-1", NULL},    {"[::1]:9100", NULL, "::1", NULL},
        {"fe80::1", NULL, "fe80::1", NULL},     {"https://web-2:8443/metrics", NULL, "web-2", NULL},
        {"web-1:9100", "web-1", "web-1", NULL}, {"web-1:9100", "db-1", "web-1", "db-1"},
        {NULL, "db-1", "db-1", NULL},
    };
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        set_label(root, 0, "instance", hosts[i].instance);
        set_label(root, 0, "host", hosts[i].host);
        decode_json(root, LH_FMT_GRAFANA, NULL, 0, NULL, &s);
        lh_event_t *ev = s.ev[0];
        ck_assert_ptr_nonnull(ev);
        ck_assert_uint_eq(ev->n_hosts, hosts[i].want1 ? 2 : 1);
        ck_assert_str_eq(ev->hosts[0], hosts[i].want0);
        if (hosts[i].want1)
            ck_assert_str_eq(ev->hosts[1], hosts[i].want1);
        sink_free(&s);
    }
    /* the summary falls back to the description; a rule's own url label wins */
    json_t *ann = json_object_get(alert(root, 0), "annotations");
    json_object_del(ann, "summary");
    set_label(root, 0, "url", "https://wiki.example/api");
    json_object_set_new(alert(root, 0), "dashboardURL", json_string("https://g.example/d/1"));
    decode_json(root, LH_FMT_GRAFANA, NULL, 0, NULL, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_str_eq(s.ev[0]->alert.summary, "The system has high memory usage");
    ck_assert_str_eq(label(s.ev[0], "url"), "https://wiki.example/api");
    ck_assert_str_eq(label(s.ev[0], "dashboard_url"), "https://g.example/d/1");
    sink_free(&s);
    /* neither, nor annotations at all; no orgId on the route */
    json_object_del(ann, "description");
    decode_json(root, LH_FMT_GRAFANA, NULL, 0, NULL, &s);
    ck_assert_ptr_null(s.ev[0]->alert.summary);
    sink_free(&s);
    json_object_del(alert(root, 0), "annotations");
    json_object_del(root, "orgId");
    decode_json(root, LH_FMT_GRAFANA, NULL, 0, NULL, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_ptr_null(lh_event_label(s.ev[0], "runbook_url"));
    ck_assert_ptr_null(lh_event_label(s.ev[0], "grafana_org"));
    sink_free(&s);
    json_decref(root);
}
END_TEST

/* --- what is not recorded ----------------------------------------------------------------------
 */

START_TEST(grafana_no_alerts)
{
    json_t *root = fixture_json(FIXTURE);
    json_object_set_new(root, "alerts", json_array()); /* variation */
    json_object_set_new(root, "status", json_string("resolved"));
    for (int route = 0; route < 2; route++) {
        sink_t s = {0};
        ck_assert_int_eq(decode_json(root, route ? LH_FMT_GRAFANA : LH_FMT_AUTO, NULL, 0, NULL, &s),
                         LH_SRC_GRAFANA);
        ck_assert_int_eq(s.n, 1);
        ck_assert_ptr_null(s.ev[0]);
        ck_assert_int_eq(s.err[0], LH_IGNORED);
        ck_assert_msg(strstr(s.why[0], "grafana notification (status resolved) with no alerts"),
                      "%s", s.why[0]);
        sink_free(&s);
    }
    json_object_del(root, "status");
    sink_t s = {0};
    decode_json(root, LH_FMT_GRAFANA, NULL, 0, NULL, &s);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    ck_assert_msg(strstr(s.why[0], "(status none)"), "%s", s.why[0]);
    sink_free(&s);
    json_decref(root);
}
END_TEST

/* One bad alert (the second): the first still accepted, the second rejected naming its index and
 * the field. */
START_TEST(grafana_bad_alerts)
{
    static const struct {
        const char *key;  /* of alerts[1]; "labels.<k>" for a label, "" for the alert itself */
        const char *json; /* the new value; NULL deletes it */
        int resolved;     /* set the alert's status to resolved first */
        int err, has_id;
        const char *want;
    } cases[] = {
        {"", "42", 0, LH_EDECODE, 0, "grafana alert 1: alerts[1]: must be an object, got a number"},
        {"status", "3", 0, LH_EDECODE, 0,
         "grafana alert 1: status: must be a string, got a number"},
        {"status", "\"pending\"", 0, LH_EDECODE, 0,
         "grafana alert 1: status: 'pending' is not firing or resolved"},
        {"status", NULL, 0, LH_EMISSING, 0, "grafana alert 1: status: missing"},
        {"labels", NULL, 0, LH_EMISSING, 0, "grafana alert 1: labels: missing"},
        {"labels", "[]", 0, LH_EDECODE, 0, "grafana alert 1: labels: must be an object, got an"},
        {"labels.zone", "1", 0, LH_EDECODE, 0,
         "grafana alert 1: labels.zone: must be a string, got a number"},
        {"annotations", "\"x\"", 0, LH_EDECODE, 0,
         "grafana alert 1: annotations: must be an object, got a string"},
        {"startsAt", NULL, 0, LH_EMISSING, 0, "grafana alert 1: startsAt: missing"},
        {"startsAt", "\"yesterday\"", 0, LH_EDECODE, 0,
         "grafana alert 1: startsAt: not an RFC 3339 time"},
        {"startsAt", "\"0001-01-01T00:00:00Z\"", 0, LH_EDECODE, 0,
         "grafana alert 1: startsAt: not an RFC 3339 time after 1970"},
        {"startsAt", "1634025363", 0, LH_EDECODE, 0,
         "grafana alert 1: startsAt: must be a string, got a number"},
        {"fingerprint", "{}", 0, LH_EDECODE, 0,
         "grafana alert 1: fingerprint: must be a string, got an object"},
        {"generatorURL", "true", 0, LH_EDECODE, 0,
         "grafana alert 1: generatorURL: must be a string, got a boolean"},
        {"endsAt", NULL, 1, LH_EMISSING, 1,
         "grafana alert 1: endsAt: missing (a resolved alert needs it)"},
        {"endsAt", "\"0001-01-01T00:00:00Z\"", 1, LH_EDECODE, 1,
         "grafana alert 1: endsAt: not an RFC 3339 time after 1970: '0001-01-01T00:00:00Z'"},
        {"labels.alertname", NULL, 0, LH_EMISSING, 1,
         "grafana alert 1: labels.alertname: missing: it names the alert"},
        {"labels.service", NULL, 0, LH_EMISSING, 1,
         "grafana alert 1: labels: no service, job, app or grafana_folder label names the "
         "service"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *root = with_service(); /* variation: one field of alerts[1] changed */
        json_t *alerts = json_object_get(root, "alerts"), *a = alert(root, 1);
        json_t *val = cases[i].json ? json_loads(cases[i].json, JSON_DECODE_ANY, NULL) : NULL;
        ck_assert(!cases[i].json || val);
        if (cases[i].resolved)
            json_object_set_new(a, "status", json_string("resolved"));
        if (!*cases[i].key)
            json_array_set_new(alerts, 1, val);
        else if (!strncmp(cases[i].key, "labels.", 7) && val)
            json_object_set_new(json_object_get(a, "labels"), cases[i].key + 7, val);
        else if (!strncmp(cases[i].key, "labels.", 7))
            json_object_del(json_object_get(a, "labels"), cases[i].key + 7);
        else if (val)
            json_object_set_new(a, cases[i].key, val);
        else
            json_object_del(a, cases[i].key);
        if (!strcmp(cases[i].key, "status") && !val)
            json_object_del(root, "status"); /* and no status of the notification either */
        sink_t s = {0};
        decode_json(root, LH_FMT_AUTO, NULL, 0, NULL, &s);
        ck_assert_int_eq(s.n, 2);
        ck_assert_msg(s.ev[0] != NULL, "case %zu: %s", i, s.why[0]);
        ck_assert_str_eq(s.ev[0]->alert.name, "High memory usage");
        ck_assert_ptr_null(s.ev[1]);
        ck_assert_int_eq(s.err[1], cases[i].err);
        ck_assert_msg(strstr(s.why[1], cases[i].want), "case %zu: '%s' lacks '%s'", i, s.why[1],
                      cases[i].want);
        if (cases[i].has_id)
            assert_id(s.id[1]);
        else
            ck_assert_str_eq(s.id[1], "");
        sink_free(&s);
        json_decref(root);
    }
}
END_TEST

/* A notification that cannot be read at all: one rejection naming the field. */
START_TEST(grafana_bad_notification)
{
    static const struct {
        const char *key, *json;
        int err;
        const char *want;
    } cases[] = {
        {"version", NULL, LH_EMISSING,
         "grafana notification: version: missing: not a Grafana Alerting webhook"},
        {"version", "\"0\"", LH_EDECODE,
         "grafana notification: version: '0': loophub reads Grafana Alerting webhook version"},
        {"version", "1", LH_EDECODE,
         "grafana notification: version: must be the string \"1\", got a number"},
        {"orgId", "\"1\"", LH_EDECODE,
         "grafana notification: orgId: must be an integer, got a string"},
        {"alerts", NULL, LH_EMISSING, "grafana notification: alerts: missing"},
        {"alerts", "{}", LH_EDECODE,
         "grafana notification: alerts: must be an array, got an object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *root = fixture_json(FIXTURE); /* variation: one field changed */
        if (cases[i].json)
            json_object_set_new(root, cases[i].key,
                                json_loads(cases[i].json, JSON_DECODE_ANY, NULL));
        else
            json_object_del(root, cases[i].key);
        sink_t s = {0};
        ck_assert_int_eq(decode_json(root, LH_FMT_GRAFANA, NULL, 0, NULL, &s), LH_SRC_GRAFANA);
        ck_assert_int_eq(s.n, 1);
        ck_assert_ptr_null(s.ev[0]);
        ck_assert_int_eq(s.err[0], cases[i].err);
        ck_assert_msg(strstr(s.why[0], cases[i].want), "case %zu: '%s' lacks '%s'", i, s.why[0],
                      cases[i].want);
        sink_free(&s);
        json_decref(root);
    }
    /* the route with an array, and with bytes that are no JSON */
    static const struct {
        const char *body, *want;
    } raw[] = {
        {"[{\"version\":\"1\",\"orgId\":1,\"alerts\":[]}]",
         "a Grafana payload must be a JSON object"},
        {"{\"version\":\"1\",", "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
        sink_t s = {0};
        decode(raw[i].body, strlen(raw[i].body), LH_FMT_GRAFANA, NULL, 0, NULL, &s);
        srcfix_one_rejection(&s, raw[i].want);
        sink_free(&s);
    }
}
END_TEST

/* A sink that says stop after the first alert gets no second call. */
START_TEST(grafana_sink_stops)
{
    json_t *root = with_service();
    sink_t s = {.stop_after = 1};
    decode_json(root, LH_FMT_GRAFANA, NULL, 0, NULL, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_ptr_nonnull(s.ev[0]);
    sink_free(&s);
    set_label(root, 0, "service", NULL); /* a rejection that is told to stop */
    s.stop_after = 1;
    decode_json(root, LH_FMT_GRAFANA, NULL, 0, NULL, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_int_eq(s.err[0], LH_EMISSING);
    sink_free(&s);
    json_decref(root);
}
END_TEST

/* --- signature and detection ------------------------------------------------------------------ */

/* hex(HMAC-SHA256(key, [ts ":"] body)), as Grafana writes X-Grafana-Alerting-Signature. */
static void
sign(const char *key, const char *ts, const char *body, size_t len, char *out, size_t outlen)
{
    size_t tl = ts ? strlen(ts) + 1 : 0;
    unsigned char *msg = malloc(tl + len + 1);
    ck_assert_ptr_nonnull(msg);
    if (ts) {
        memcpy(msg, ts, tl - 1);
        msg[tl - 1] = ':';
    }
    memcpy(msg + tl, body, len);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned ml = 0;
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), key, (int)strlen(key), msg, tl + len, mac, &ml));
    free(msg);
    size_t k = 0;
    out[0] = 0;
    for (unsigned i = 0; i < ml && k + 2 < outlen; i++)
        k += (size_t)snprintf(out + k, outlen - k, "%02x", mac[i]);
}

START_TEST(grafana_signature)
{
    char sig[160];
    /* RFC 4231 test case 2 */
    sign("Jefe", NULL, "what do ya want for nothing?", 28, sig, sizeof(sig));
    ck_assert_str_eq(sig, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    json_t *root = with_service();
    char *b = json_dumps(root, JSON_INDENT(2));
    size_t len = strlen(b);
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.src.secret[LH_SRC_GRAFANA] = "grafana webhook secret";
    const char *ts = "1700000000";
    sink_t s = {0};

    /* without the timestamp header: the body's HMAC passes, by shape and by route */
    sign(o.src.secret[LH_SRC_GRAFANA], NULL, b, len, sig, sizeof(sig));
    lh_kv_t h[] = {kv("X-Grafana-Alerting-Signature", sig), kv("Content-Type", "application/json")};
    for (int route = 0; route < 2; route++) {
        decode(b, len, route ? LH_FMT_GRAFANA : LH_FMT_AUTO, h, 2, &o, &s);
        ck_assert_int_eq(s.n, 2);
        ck_assert_msg(s.ev[0] != NULL, "%s", s.why[0]);
        ck_assert_str_eq(s.ev[0]->alert.name, "High memory usage");
        sink_free(&s);
    }
    /* ... and with a timestamp header it no longer does: the timestamp is signed too */
    lh_kv_t ht[] = {kv("x-grafana-alerting-signature", sig),
                    kv("X-Grafana-Alerting-Signature-Timestamp", ts)};
    decode(b, len, LH_FMT_GRAFANA, ht, 2, &o, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_int_eq(s.err[0], LH_EAUTH);
    ck_assert_msg(strstr(s.why[0], "X-Grafana-Alerting-Signature header does not match"), "%s",
                  s.why[0]);
    sink_free(&s);

    /* with the timestamp header: the HMAC of "timestamp:body" passes */
    char tsig[160];
    sign(o.src.secret[LH_SRC_GRAFANA], ts, b, len, tsig, sizeof(tsig));
    ck_assert_str_ne(tsig, sig);
    ht[0] = kv("X-Grafana-Alerting-Signature", tsig);
    decode(b, len, LH_FMT_GRAFANA, ht, 2, &o, &s);
    ck_assert_int_eq(s.n, 2);
    ck_assert_msg(s.ev[0] != NULL, "%s", s.why[0]);
    sink_free(&s);
    /* ... in upper case too, but not for another timestamp nor without the header */
    for (char *p = tsig; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
    ht[0] = kv("X-Grafana-Alerting-Signature", tsig);
    decode(b, len, LH_FMT_GRAFANA, ht, 2, &o, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    sink_free(&s);
    ht[1] = kv("X-Grafana-Alerting-Signature-Timestamp", "1700000001");
    decode(b, len, LH_FMT_GRAFANA, ht, 2, &o, &s);
    ck_assert_int_eq(s.err[0], LH_EAUTH);
    sink_free(&s);
    decode(b, len, LH_FMT_GRAFANA, ht, 1, &o, &s);
    ck_assert_int_eq(s.err[0], LH_EAUTH);
    sink_free(&s);

    /* a body changed after signing, another secret, no signature at all */
    h[0] = kv("X-Grafana-Alerting-Signature", sig);
    char *changed = strstr(b, "High memory");
    ck_assert_ptr_nonnull(changed);
    changed[5] = 'M';
    decode(b, len, LH_FMT_GRAFANA, h, 1, &o, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_int_eq(s.err[0], LH_EAUTH);
    sink_free(&s);
    changed[5] = 'm';
    o.src.secret[LH_SRC_GRAFANA] = "another secret";
    decode(b, len, LH_FMT_GRAFANA, h, 1, &o, &s);
    ck_assert_int_eq(s.err[0], LH_EAUTH);
    sink_free(&s);
    decode(b, len, LH_FMT_AUTO, NULL, 0, &o, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_int_eq(s.err[0], LH_EAUTH);
    ck_assert_msg(strstr(s.why[0], "no X-Grafana-Alerting-Signature header"), "%s", s.why[0]);
    sink_free(&s);
    /* no secret: no check */
    o.src.secret[LH_SRC_GRAFANA] = NULL;
    decode(b, len, LH_FMT_GRAFANA, NULL, 0, &o, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    sink_free(&s);
    free(b);
    json_decref(root);
}
END_TEST

/* Grafana's notification is told by its shape; no other source's fixture, nor Alertmanager's
 * notification, loophub JSON or a CloudEvent, is taken for Grafana's. */
START_TEST(grafana_detection)
{
    json_t *root = fixture_json(FIXTURE);
    ck_assert(lh__is_grafana(root));
    ck_assert_int_eq(lh__source_of_shape(root), LH_SRC_GRAFANA);
    json_decref(root);
    ck_assert_int_eq(lh_source_by_name("grafana"), LH_SRC_GRAFANA);
    ck_assert_str_eq(lh_source_info(LH_SRC_GRAFANA)->title, "Grafana");
    srcfix_no_other_source(lh__is_grafana, "grafana", "Grafana");
    static const char *const formats[] = {
        "{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[],\"groupKey\":\"{}:{}\"}",
        "{\"version\":\"4\",\"orgId\":1,\"alerts\":[]}",
        "{\"version\":\"1\",\"alerts\":[]}",
        "{\"version\":\"1\",\"orgId\":\"1\",\"alerts\":[]}",
        "{\"version\":\"1\",\"orgId\":1,\"alerts\":{}}",
        "{\"version\":1,\"orgId\":1,\"alerts\":[]}",
        "{\"id\":\"e1\",\"kind\":\"alert\",\"service\":\"api\",\"version\":\"1\"}",
        "{\"specversion\":\"1.0\",\"type\":\"dev.cdevents.service.deployed.0.1.1\",\"id\":\"x\"}",
        "[{\"version\":\"1\",\"orgId\":1,\"alerts\":[]}]",
    };
    srcfix_refuses(lh__is_grafana, formats, sizeof(formats) / sizeof(formats[0]), "Grafana");
    /* an Alertmanager notification on /v1/events is still Alertmanager's */
    const char *am = "{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\","
                     "\"labels\":{\"alertname\":\"A\",\"service\":\"api\"},"
                     "\"startsAt\":\"2021-10-12T09:51:03Z\"}]}";
    sink_t s = {0};
    ck_assert_int_eq(decode(am, strlen(am), LH_FMT_AUTO, NULL, 0, NULL, &s), LH_SRC_NONE);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_int_eq(s.ev[0]->raw_format, LH_FMT_ALERTMANAGER);
    sink_free(&s);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("grafana");
    const lh_test_case_t cases[] = {
        {"grafana_fixture_as_published", grafana_fixture_as_published, 0, 0},
        {"grafana_firing", grafana_firing, 0, 0},
        {"grafana_resolved", grafana_resolved, 0, 0},
        {"grafana_redelivery", grafana_redelivery, 0, 0},
        {"grafana_labels", grafana_labels, 0, 0},
        {"grafana_no_alerts", grafana_no_alerts, 0, 0},
        {"grafana_bad_alerts", grafana_bad_alerts, 0, 0},
        {"grafana_bad_notification", grafana_bad_notification, 0, 0},
        {"grafana_sink_stops", grafana_sink_stops, 0, 0},
        {"grafana_signature", grafana_signature, 0, 0},
        {"grafana_detection", grafana_detection, 0, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 30, NULL, NULL);
    return lh_test_run_suite(s);
}
