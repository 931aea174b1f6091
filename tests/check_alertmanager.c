/*
 * check_alertmanager.c - Prometheus Alertmanager webhook notifications (version 4) into Alert
 * events: the documented shape and what Alertmanager 0.25 really posts (tests/data/conformance),
 * loophub's golden inputs (tests/data/alertmanager), label options, identity
 * (re-sent notifications dedupe) and per-alert rejections.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"
#include "hash.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"
#include "testutil.h"

#define MAX_CALLS 64

typedef struct {
    int n;
    lh_event_t *ev[MAX_CALLS];
    int err[MAX_CALLS];
    char id[MAX_CALLS][128];
    char why[MAX_CALLS][512];
    int stop_after;
} sink_t;

static int
collect(lh_event_t *ev, int err, const char *id, const char *why, void *arg)
{
    sink_t *s = arg;
    ck_assert_int_lt(s->n, MAX_CALLS);
    int i = s->n++;
    s->ev[i] = ev;
    s->err[i] = err;
    snprintf(s->id[i], sizeof(s->id[i]), "%s", id ? id : "");
    snprintf(s->why[i], sizeof(s->why[i]), "%s", why ? why : "");
    if (ev) {
        ck_assert_int_eq(err, 0);
        ck_assert_str_eq(id, ev->id);
    } else {
        ck_assert_int_lt(err, 0);
        ck_assert_msg(why && *why, "a rejection without a reason");
    }
    return s->stop_after && s->n >= s->stop_after;
}

static void
sink_free(sink_t *s)
{
    for (int i = 0; i < s->n; i++)
        lh_event_destroy(&s->ev[i]);
    s->n = 0;
}

static char *
conformance(const char *name)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/alertmanager/%s", lh_test_conformance_dir(), name);
    return lh_test_must_read(path);
}

static char *
golden(const char *name)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/alertmanager/%s", LH_TEST_DATA, name);
    return lh_test_must_read(path);
}

/* Decodes directly (opts may be NULL). Returns the decoder's return value. */
static int
decode_direct(const char *text, const lh_codec_opts_t *o, sink_t *s)
{
    json_error_t jerr;
    json_t *obj = json_loads(text, 0, &jerr);
    ck_assert_msg(obj != NULL, "test input is not JSON: %s", jerr.text);
    int rc = lh__alertmanager_decode(obj, o, collect, s);
    json_decref(obj);
    return rc;
}

static void
decode_public(const char *text, sink_t *s)
{
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    int rc = lh_codec_decode(text, strlen(text), LH_FMT_AUTO, &o, collect, s);
    ck_assert_int_eq(rc, s->n);
}

static void
str_eq(const char *got, const char *want, const char *what)
{
    if (!want) {
        ck_assert_msg(got == NULL, "%s: expected none, got '%s'", what, got);
        return;
    }
    ck_assert_msg(got && strcmp(got, want) == 0, "%s: expected '%s', got '%s'", what, want,
                  got ? got : "(null)");
}

static void
assert_valid(const lh_event_t *ev)
{
    char why[256] = "";
    int rc = lh_event_validate(ev, NULL, lh_now_ns(), why, sizeof(why));
    ck_assert_msg(rc == 0, "event %s fails validation: %s", ev->id, why);
}

/* The documented identity: "am-" + hex of lh__hash64(fingerprint NUL startsAt-ns NUL status). */
static void
expected_id(const char *fp, const char *starts, const char *status, char *out, size_t len)
{
    int64_t ns;
    ck_assert_int_eq(lh_time_parse(starts, &ns), 0);
    char buf[256];
    int n = snprintf(buf, sizeof(buf), "%s%c%lld%c%s", fp, 0, (long long)ns, 0, status);
    snprintf(out, len, "am-%016llx", (unsigned long long)lh__hash64(buf, (size_t)n));
}

static int64_t
ts(const char *s)
{
    int64_t ns;
    ck_assert_int_eq(lh_time_parse(s, &ns), 0);
    return ns;
}

START_TEST(conformance_firing)
{
    char *text = conformance("firing.json");
    sink_t s = {0};
    ck_assert_int_eq(decode_direct(text, NULL, &s), 2);
    ck_assert_int_eq(s.n, 2);
    const char *fps[] = {"6f1c2b7e9d0a4c33", "0b9e44d1a2c35f78"};
    const char *starts[] = {"2026-11-20T10:15:30.000Z", "2026-11-20T10:15:45.000Z"};
    const char *hosts[] = {"checkout-1", "checkout-2"};
    for (int i = 0; i < 2; i++) {
        lh_event_t *ev = s.ev[i];
        ck_assert_msg(ev != NULL, "alert %d rejected: %s", i, s.why[i]);
        assert_valid(ev);
        char want[32];
        expected_id(fps[i], starts[i], "firing", want, sizeof(want));
        str_eq(ev->id, want, "id");
        ck_assert_int_eq(ev->kind, LH_KIND_ALERT);
        ck_assert_int_eq(ev->time_ns, ts(starts[i]));
        str_eq(ev->alert.name, "HighErrorRate", "name");
        str_eq(ev->alert.fingerprint, fps[i], "fingerprint");
        ck_assert_int_eq(ev->alert.state, LH_ALERT_FIRING);
        ck_assert_int_eq(ev->alert.severity, LH_SEV_CRITICAL);
        str_eq(ev->service, "checkout", "service");
        str_eq(ev->environment, "prod", "environment");
        str_eq(ev->alert.summary, "checkout 5xx ratio above 5%", "summary");
        ck_assert_uint_eq(ev->n_hosts, 1);
        str_eq(ev->hosts[0], hosts[i], "host from instance");
        str_eq(ev->source, "alertmanager:http://alertmanager.example:9093", "source");
        ck_assert_uint_eq(ev->n_labels, 5);
        str_eq(lh_event_label(ev, "instance"), i ? "checkout-2:8080" : "checkout-1:8080", "label");
        /* raw is that alert's object */
        ck_assert_int_eq(ev->raw_format, LH_FMT_ALERTMANAGER);
        json_t *raw = json_loadb(ev->raw, ev->raw_len, 0, NULL);
        ck_assert_ptr_nonnull(raw);
        str_eq(json_string_value(json_object_get(raw, "fingerprint")), fps[i], "raw");
        ck_assert_ptr_null(json_object_get(raw, "alerts"));
        json_decref(raw);
    }
    ck_assert_str_ne(s.ev[0]->id, s.ev[1]->id);
    /* the same notification re-sent gives the same ids (the store dedupes them) */
    sink_t again = {0};
    decode_direct(text, NULL, &again);
    ck_assert_int_eq(again.n, 2);
    ck_assert_str_eq(again.ev[0]->id, s.ev[0]->id);
    ck_assert_str_eq(again.ev[1]->id, s.ev[1]->id);
    sink_free(&again);
    sink_free(&s);
    free(text);
}
END_TEST

START_TEST(conformance_resolved)
{
    char *fir = conformance("firing.json"), *res = conformance("resolved.json");
    sink_t f = {0}, r = {0};
    decode_direct(fir, NULL, &f);
    ck_assert_int_eq(decode_direct(res, NULL, &r), 2);
    ck_assert_int_eq(r.n, 2);
    for (int i = 0; i < 2; i++) {
        lh_event_t *ev = r.ev[i];
        ck_assert_msg(ev != NULL, "rejected: %s", r.why[i]);
        assert_valid(ev);
        ck_assert_int_eq(ev->alert.state, LH_ALERT_RESOLVED);
        ck_assert_int_eq(ev->time_ns, ts("2026-11-20T10:41:02.000Z")); /* endsAt */
        str_eq(ev->alert.fingerprint, f.ev[i]->alert.fingerprint, "same fingerprint");
        ck_assert_str_ne(ev->id, f.ev[i]->id); /* a resolution is a new event */
        char want[32];
        expected_id(ev->alert.fingerprint,
                    i ? "2026-11-20T10:15:45.000Z" : "2026-11-20T10:15:30.000Z", "resolved", want,
                    sizeof(want));
        str_eq(ev->id, want, "id");
        ck_assert_int_eq(ev->alert.severity, LH_SEV_CRITICAL);
        str_eq(ev->service, "checkout", "service");
    }
    sink_free(&f);
    sink_free(&r);
    free(fir);
    free(res);
}
END_TEST

START_TEST(conformance_real_025)
{
    char *text = conformance("real-0.25-firing.json");
    sink_t s = {0};
    decode_public(text, &s);
    ck_assert_int_eq(s.n, 1);
    lh_event_t *ev = s.ev[0];
    ck_assert_msg(ev != NULL, "rejected: %s", s.why[0]);
    assert_valid(ev);
    char want[32];
    expected_id("69c2e62f0b0aec37", "2026-11-26T02:20:51Z", "firing", want, sizeof(want));
    str_eq(ev->id, want, "id");
    str_eq(ev->service, "checkout", "service");
    str_eq(ev->environment, "prod", "environment");
    str_eq(ev->alert.summary, "5xx", "summary");
    str_eq(ev->source, "alertmanager:http://vm:19093", "source");
    ck_assert_int_eq(ev->n_hosts, 0);
    ck_assert_int_eq(ev->raw_format, LH_FMT_ALERTMANAGER);
    sink_free(&s);
    free(text);

    /* its resolution, as 0.25 would post it */
    text = golden("real-0.25-resolved.json");
    decode_public(text, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_msg(s.ev[0] != NULL, "rejected: %s", s.why[0]);
    ck_assert_int_eq(s.ev[0]->alert.state, LH_ALERT_RESOLVED);
    ck_assert_int_eq(s.ev[0]->time_ns, ts("2026-11-26T02:31:06.52Z"));
    ck_assert_str_ne(s.ev[0]->id, want);
    sink_free(&s);
    free(text);
}
END_TEST

START_TEST(public_entry)
{
    const char *files[] = {"firing.json", "resolved.json", "real-0.25-firing.json"};
    int want[] = {2, 2, 1};
    for (int i = 0; i < 3; i++) {
        char *text = conformance(files[i]);
        sink_t s = {0};
        decode_public(text, &s);
        ck_assert_int_eq(s.n, want[i]);
        for (int k = 0; k < s.n; k++) {
            ck_assert_msg(s.ev[k] != NULL, "%s: %s", files[i], s.why[k]);
            ck_assert_int_eq(s.ev[k]->kind, LH_KIND_ALERT);
            /* raw is the alert, not the whole notification */
            ck_assert_int_eq(s.ev[k]->raw_format, LH_FMT_ALERTMANAGER);
            ck_assert_ptr_null(memmem(s.ev[k]->raw, s.ev[k]->raw_len, "groupKey", 8));
        }
        sink_free(&s);
        free(text);
    }
}
END_TEST

START_TEST(label_options)
{
    char *text = golden("custom-labels.json");
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.am_service_label = "app";
    memset(o.am_env_labels, 0, sizeof(o.am_env_labels));
    o.am_env_labels[0] = "namespace";
    o.am_severity_label = "priority";
    sink_t s = {0};
    decode_direct(text, &o, &s);
    ck_assert_int_eq(s.n, 1);
    lh_event_t *ev = s.ev[0];
    ck_assert_msg(ev != NULL, "rejected: %s", s.why[0]);
    str_eq(ev->service, "cart", "service from 'app'");
    str_eq(ev->environment, "shop-prod", "environment from 'namespace'");
    ck_assert_int_eq(ev->alert.severity, LH_SEV_CRITICAL); /* priority=page */
    ck_assert_uint_eq(ev->n_hosts, 1);
    str_eq(ev->hosts[0], "2001:db8::1", "host from a bracketed IPv6 instance");
    sink_free(&s);

    /* defaults on the same input: "service" label, no env label, no severity label */
    decode_direct(text, NULL, &s);
    ev = s.ev[0];
    ck_assert_ptr_nonnull(ev);
    str_eq(ev->service, "kube-state-metrics", "default service label");
    str_eq(ev->environment, NULL, "no env label");
    ck_assert_int_eq(ev->alert.severity, LH_SEV_UNSPECIFIED);
    sink_free(&s);
    free(text);
}
END_TEST

START_TEST(severity_words)
{
    struct {
        const char *w;
        lh_severity_t want;
    } cases[] = {
        {"critical", LH_SEV_CRITICAL}, {"page", LH_SEV_CRITICAL},     {"HIGH", LH_SEV_CRITICAL},
        {"error", LH_SEV_ERROR},       {"err", LH_SEV_ERROR},         {"warning", LH_SEV_WARNING},
        {"warn", LH_SEV_WARNING},      {"info", LH_SEV_INFO},         {"none", LH_SEV_INFO},
        {"low", LH_SEV_INFO},          {"bogus", LH_SEV_UNSPECIFIED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[512];
        snprintf(buf, sizeof(buf),
                 "{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\","
                 "\"labels\":{\"alertname\":\"A\",\"service\":\"api\",\"severity\":\"%s\"},"
                 "\"startsAt\":\"2026-11-20T10:00:00Z\",\"fingerprint\":\"ab\"}]}",
                 cases[i].w);
        sink_t s = {0};
        decode_direct(buf, NULL, &s);
        ck_assert_int_eq(s.n, 1);
        ck_assert_ptr_nonnull(s.ev[0]);
        ck_assert_msg(s.ev[0]->alert.severity == cases[i].want, "'%s' -> %d", cases[i].w,
                      s.ev[0]->alert.severity);
        str_eq(lh_event_label(s.ev[0], "severity"), cases[i].w, "label kept");
        sink_free(&s);
    }
}
END_TEST

START_TEST(fallbacks)
{
    char *text = golden("fallbacks.json");
    sink_t s = {0};
    decode_public(text, &s);
    ck_assert_int_eq(s.n, 2);
    for (int i = 0; i < 2; i++) {
        lh_event_t *ev = s.ev[i];
        ck_assert_msg(ev != NULL, "rejected: %s", s.why[i]);
        assert_valid(ev);
        str_eq(ev->service, "api", "service from 'job'");
        str_eq(ev->environment, "staging", "environment from 'environment'");
        ck_assert_int_eq(ev->alert.severity, LH_SEV_WARNING);
        str_eq(ev->alert.summary, "probe of api failed", "summary from description");
        ck_assert_uint_eq(ev->n_hosts, 1);
        str_eq(ev->hosts[0], "api.example.org", "host from a URL instance");
        str_eq(ev->source, "alertmanager", "source without externalURL");
        ck_assert_msg(ev->alert.fingerprint && strlen(ev->alert.fingerprint) == 16,
                      "a fingerprint is derived from the labels");
    }
    /* same labels in another order: same derived fingerprint, same id */
    str_eq(s.ev[1]->alert.fingerprint, s.ev[0]->alert.fingerprint, "fingerprint");
    ck_assert_str_eq(s.ev[1]->id, s.ev[0]->id);
    sink_free(&s);
    free(text);
}
END_TEST

START_TEST(per_alert_rejections)
{
    char *text = golden("mixed-bad.json");
    sink_t s = {0};
    ck_assert_int_eq(decode_direct(text, NULL, &s), 7);
    ck_assert_int_eq(s.n, 7);
    ck_assert_msg(s.ev[0] && strcmp(s.ev[0]->alert.name, "DiskFull") == 0, "%s", s.why[0]);
    ck_assert_msg(s.ev[5] && strcmp(s.ev[5]->alert.name, "Info") == 0, "%s", s.why[5]);
    ck_assert_int_eq(s.ev[5]->alert.severity, LH_SEV_INFO);
    str_eq(s.ev[0]->hosts[0], "db-1", "host from 'host'");
    struct {
        int i;
        int err;
        const char *needle;
        int has_id;
    } bad[] = {
        {1, LH_EMISSING, "'alerts[1].labels.alertname'", 1},
        {2, LH_EDECODE, "'alerts[2].labels.replica' must be a string, got a number", 0},
        {3, LH_EDECODE, "'alerts[3].startsAt' is not an RFC 3339 time", 0},
        {4, LH_EDECODE, "'alerts[4].endsAt'", 0},
        {6, LH_EDECODE, "'alerts[6]' must be an object", 0},
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        int i = bad[k].i;
        ck_assert_msg(s.ev[i] == NULL, "alert %d accepted", i);
        ck_assert_msg(s.err[i] == bad[k].err, "alert %d: %s (%s)", i, lh_err_name(s.err[i]),
                      s.why[i]);
        ck_assert_msg(strstr(s.why[i], bad[k].needle), "reason '%s' does not name '%s'", s.why[i],
                      bad[k].needle);
        if (bad[k].has_id)
            ck_assert_msg(strncmp(s.id[i], "am-", 3) == 0, "no id on alert %d", i);
    }
    sink_free(&s);

    /* the sink can stop the decoder */
    s.stop_after = 2;
    ck_assert_int_eq(decode_direct(text, NULL, &s), 2);
    ck_assert_int_eq(s.n, 2);
    sink_free(&s);

    /* through the public entry the same alerts come through */
    s.stop_after = 0;
    decode_public(text, &s);
    ck_assert_int_eq(s.n, 7);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_ptr_null(s.ev[1]);
    sink_free(&s);
    free(text);
}
END_TEST

static void
notification_reject(const char *text, int err, const char *needle)
{
    sink_t s = {0};
    ck_assert_int_eq(decode_direct(text, NULL, &s), 1);
    ck_assert_ptr_null(s.ev[0]);
    ck_assert_msg(s.err[0] == err, "%s: got %s (%s)", text, lh_err_name(s.err[0]), s.why[0]);
    ck_assert_msg(strstr(s.why[0], needle), "reason '%s' does not name '%s'", s.why[0], needle);
}

START_TEST(notification_errors)
{
    notification_reject("{\"version\":\"3\",\"alerts\":[]}", LH_EDECODE, "version 4");
    notification_reject("{\"version\":4,\"alerts\":[]}", LH_EDECODE, "'version' must be");
    notification_reject("{\"alerts\":[{}]}", LH_EMISSING, "'version'");
    notification_reject("{\"version\":\"4\",\"alerts\":{}}", LH_EDECODE, "'alerts' must be");
    notification_reject("{\"version\":\"4\"}", LH_EMISSING, "'alerts'");
    notification_reject("{\"version\":\"4\",\"alerts\":[]}", LH_EMISSING, "empty");
    notification_reject("[1]", LH_EDECODE, "JSON object");
    /* an alert without a status takes the notification's; an unknown status is refused */
    sink_t s = {0};
    decode_direct("{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[{\"labels\":{"
                  "\"alertname\":\"A\",\"service\":\"x\"},\"startsAt\":\"2026-11-20T10:00:00Z\"},"
                  "{\"status\":\"pending\",\"labels\":{\"alertname\":\"A\"},\"startsAt\":"
                  "\"2026-11-20T10:00:00Z\"},{\"status\":\"firing\",\"startsAt\":"
                  "\"2026-11-20T10:00:00Z\"},{\"status\":\"firing\",\"labels\":{\"alertname\":"
                  "\"A\"}}]}",
                  NULL, &s);
    ck_assert_int_eq(s.n, 4);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_int_eq(s.ev[0]->alert.state, LH_ALERT_FIRING);
    ck_assert_ptr_null(s.ev[1]);
    ck_assert_ptr_nonnull(strstr(s.why[1], "'alerts[1].status' is 'pending'"));
    ck_assert_ptr_nonnull(strstr(s.why[2], "'alerts[2].labels'"));
    ck_assert_int_eq(s.err[3], LH_EMISSING);
    ck_assert_ptr_nonnull(strstr(s.why[3], "'alerts[3].startsAt'"));
    sink_free(&s);
    /* detection */
    json_t *am = json_loads("{\"version\":\"4\",\"alerts\":[]}", 0, NULL);
    json_t *other = json_loads("{\"alerts\":[],\"id\":\"x\"}", 0, NULL);
    ck_assert_int_eq(lh__is_alertmanager(am), 1);
    ck_assert_int_eq(lh__is_alertmanager(other), 0);
    json_decref(am);
    json_decref(other);
}
END_TEST

/* An alert whose annotations are not an object (no test reached it before): rejected naming the
 * field, exactly, and the other alerts of the notification still come through. */
START_TEST(annotations_not_an_object)
{
    const char *kinds[] = {"\"x\"", "[]", "5", "true"};
    const char *names[] = {"a string", "an array", "a number", "a boolean"};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        char text[512], want[128];
        snprintf(text, sizeof(text),
                 "{\"version\":\"4\",\"status\":\"firing\",\"alerts\":["
                 "{\"labels\":{\"alertname\":\"A\",\"service\":\"x\"},\"startsAt\":"
                 "\"2026-11-20T10:00:00Z\"},"
                 "{\"labels\":{\"alertname\":\"B\",\"service\":\"x\"},\"annotations\":%s,"
                 "\"startsAt\":\"2026-11-20T10:00:00Z\"}]}",
                 kinds[k]);
        snprintf(want, sizeof(want), "field 'alerts[1].annotations' must be an object, got %s",
                 names[k]);
        sink_t s = {0};
        ck_assert_int_eq(decode_direct(text, NULL, &s), 2);
        ck_assert_ptr_nonnull(s.ev[0]);
        ck_assert_ptr_null(s.ev[1]);
        ck_assert_int_eq(s.err[1], LH_EDECODE);
        ck_assert_str_eq(s.why[1], want);
        sink_free(&s);
    }
    /* null counts as absent */
    sink_t s = {0};
    ck_assert_int_eq(decode_direct("{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[{"
                                   "\"labels\":{\"alertname\":\"A\",\"service\":\"x\"},"
                                   "\"annotations\":null,\"startsAt\":\"2026-11-20T10:00:00Z\"}]}",
                                   NULL, &s),
                     1);
    ck_assert_ptr_nonnull(s.ev[0]);
    sink_free(&s);
}
END_TEST

START_TEST(huge_and_deep)
{
    /* a huge summary decodes; validation names it */
    size_t big = 100000;
    char *sum = malloc(big + 1);
    memset(sum, 's', big);
    sum[big] = 0;
    json_t *o = json_pack("{s:s,s:[{s:s,s:{s:s,s:s},s:{s:s},s:s}]}", "version", "4", "alerts",
                          "status", "firing", "labels", "alertname", "A", "service", "api",
                          "annotations", "summary", sum, "startsAt", "2026-11-20T10:00:00Z");
    ck_assert_ptr_nonnull(o);
    sink_t s = {0};
    ck_assert_int_eq(lh__alertmanager_decode(o, NULL, collect, &s), 1);
    ck_assert_ptr_nonnull(s.ev[0]);
    char why[256];
    ck_assert_int_eq(lh_event_validate(s.ev[0], NULL, lh_now_ns(), why, sizeof(why)), LH_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(why, "alert.summary"));
    sink_free(&s);
    json_decref(o);
    free(sum);
    /* deeply nested junk inside an alert's annotations is ignored, past the parser's limit the
     * payload is one rejection */
    for (int depth = 300; depth <= 3300; depth += 3000) {
        size_t n = 2 * (size_t)depth + 512;
        char *t = malloc(n);
        int off = snprintf(t, n,
                           "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":{"
                           "\"alertname\":\"A\",\"service\":\"api\"},\"startsAt\":"
                           "\"2026-11-20T10:00:00Z\",\"annotations\":{\"x\":");
        for (int i = 0; i < depth; i++)
            t[off++] = '[';
        for (int i = 0; i < depth; i++)
            t[off++] = ']';
        snprintf(t + off, n - (size_t)off, "}}]}");
        decode_public(t, &s);
        ck_assert_int_eq(s.n, 1);
        if (depth == 300)
            ck_assert_msg(s.ev[0] != NULL, "rejected: %s", s.why[0]);
        else
            ck_assert_msg(s.ev[0] == NULL, "depth %d accepted", depth);
        sink_free(&s);
        free(t);
    }
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("alertmanager");
    const lh_test_case_t tests[] = {
        {"conformance_firing", conformance_firing, 0, 0},
        {"conformance_resolved", conformance_resolved, 0, 0},
        {"conformance_real_025", conformance_real_025, 0, 0},
        {"public_entry", public_entry, 0, 0},
        {"label_options", label_options, 0, 0},
        {"severity_words", severity_words, 0, 0},
        {"fallbacks", fallbacks, 0, 0},
        {"per_alert_rejections", per_alert_rejections, 0, 0},
        {"notification_errors", notification_errors, 0, 0},
        {"huge_and_deep", huge_and_deep, 0, 0},
        {"annotations_not_an_object", annotations_not_an_object, 0, 0},
    };
    lh_test_add_cases(s, tests, LH_TEST_COUNT(tests), 30, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(suite());
}
