/*
 * check_sources.c - the webhook sources' framework (detection by header, shape and route; the
 * signature schemes; ignored payloads) and the GitHub and PagerDuty decoders, on the payloads
 * the senders publish (tests/data/sources, README.md there says where each came from).
 */
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

/* "sha256=" + hex HMAC-SHA256 of body under key (prefix "" for a bare hex, "v1=" PagerDuty's). */
static void
sign(const char *prefix, const char *key, const void *body, size_t len, char *out, size_t outlen)
{
    unsigned char mac[32];
    unsigned ml = 0;
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), key, (int)strlen(key), body, len, mac, &ml));
    size_t k = (size_t)snprintf(out, outlen, "%s", prefix);
    for (unsigned i = 0; i < ml && k + 2 < outlen; i++)
        k += (size_t)snprintf(out + k, outlen - k, "%02x", mac[i]);
}

/* --- GitHub ------------------------------------------------------------------------------------
 */

START_TEST(github_deployment_status)
{
    size_t len;
    char *b = fixture("github/deployment_status-created-success.json", &len);
    lh_kv_t h[] = {kv("X-GitHub-Event", "deployment_status"),
                   kv("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")};
    sink_t s = {0};
    ck_assert_int_eq(decode(b, len, LH_FMT_AUTO, h, 2, NULL, &s), LH_SRC_GITHUB);
    ck_assert_int_eq(s.n, 1);
    lh_event_t *ev = s.ev[0];
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(ev->id, "gh-72d3162e-cc78-11e3-81ab-4c9367dc0958");
    ck_assert_str_eq(ev->source, "github");
    ck_assert_int_eq(ev->kind, LH_KIND_DEPLOY);
    ck_assert_int_eq(ev->deploy.status, LH_DEPLOY_SUCCEEDED);
    ck_assert_str_eq(ev->service, "Hello-World");
    ck_assert_str_eq(ev->environment, "production");
    ck_assert_str_eq(ev->actor, "Codertocat");
    ck_assert_str_eq(ev->deploy.deploy_id, "gh-145988746");
    ck_assert_str_eq(ev->deploy.commit, "f95f852bd8fca8fcc58a9a2d6c842781e32a215e");
    ck_assert_str_eq(ev->deploy.version, "f95f852bd8fc");
    ck_assert_str_eq(label(ev, "ref"), "master");
    ck_assert_str_eq(label(ev, "repository"), "Codertocat/Hello-World");
    int64_t t;
    ck_assert_int_eq(lh_time_parse("2019-05-15T15:20:55Z", &t), 0);
    ck_assert_int_eq(ev->time_ns, t);
    ck_assert_int_eq(ev->raw_format, LH_FMT_GITHUB);
    ck_assert_int_eq((int)ev->raw_len, (int)len);
    sink_free(&s);

    /* without its headers (a proxy dropped them): told by its shape, its id from GitHub's */
    ck_assert_int_eq(decode(b, len, LH_FMT_AUTO, NULL, 0, NULL, &s), LH_SRC_GITHUB);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_str_eq(s.ev[0]->id, "gh-ds-209916254");
    ck_assert_str_eq(s.ev[0]->deploy.deploy_id, "gh-145988746");
    sink_free(&s);

    /* the service as owner/name */
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.src.github_service = "full_name";
    decode(b, len, LH_FMT_GITHUB, h, 2, &o, &s);
    ck_assert_str_eq(s.ev[0]->service, "Codertocat/Hello-World");
    sink_free(&s);
    free(b);
}
END_TEST

/* The other states of a status, and the ones GitHub does not document. */
START_TEST(github_status_states)
{
    size_t len;
    char *b = fixture("github/deployment_status-created-success.json", &len);
    json_t *root = json_loadb(b, len, 0, NULL);
    ck_assert_ptr_nonnull(root);
    static const struct {
        const char *state;
        int err;
        lh_deploy_status_t status;
    } cases[] = {
        {"failure", 0, LH_DEPLOY_FAILED},      {"error", 0, LH_DEPLOY_FAILED},
        {"pending", 0, LH_DEPLOY_STARTED},     {"queued", 0, LH_DEPLOY_STARTED},
        {"in_progress", 0, LH_DEPLOY_STARTED}, {"inactive", LH_IGNORED, 0},
        {"exploded", LH_EDECODE, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object_set_new(json_object_get(root, "deployment_status"), "state",
                            json_string(cases[i].state));
        char *text = json_dumps(root, JSON_COMPACT);
        sink_t s = {0};
        lh_kv_t h[] = {kv("X-GitHub-Event", "deployment_status")};
        decode(text, strlen(text), LH_FMT_AUTO, h, 1, NULL, &s);
        ck_assert_int_eq(s.n, 1);
        if (cases[i].err) {
            ck_assert_ptr_null(s.ev[0]);
            ck_assert_int_eq(s.err[0], cases[i].err);
            ck_assert_msg(strstr(s.why[0], cases[i].err == LH_IGNORED ? "inactive" : "exploded"),
                          "%s", s.why[0]);
        } else {
            ck_assert_ptr_nonnull(s.ev[0]);
            ck_assert_int_eq(s.ev[0]->deploy.status, cases[i].status);
        }
        sink_free(&s);
        free(text);
    }
    json_decref(root);
    free(b);
}
END_TEST

START_TEST(github_deployment_and_ping)
{
    size_t len;
    char *b = fixture("github/deployment-created.json", &len);
    lh_kv_t h[] = {kv("X-GitHub-Event", "deployment")};
    sink_t s = {0};
    decode(b, len, LH_FMT_AUTO, h, 1, NULL, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_str_eq(s.ev[0]->id, "gh-d-145988746");
    ck_assert_int_eq(s.ev[0]->deploy.status, LH_DEPLOY_STARTED);
    ck_assert_str_eq(s.ev[0]->deploy.deploy_id, "gh-145988746");
    ck_assert_str_eq(s.ev[0]->environment, "production");
    sink_free(&s);
    free(b);

    b = fixture("github/ping.json", &len);
    lh_kv_t p[] = {kv("X-GitHub-Event", "ping"), kv("X-GitHub-Delivery", "abc")};
    decode(b, len, LH_FMT_AUTO, p, 2, NULL, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_ptr_null(s.ev[0]);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    ck_assert_str_eq(s.id[0], "gh-abc");
    ck_assert_msg(strstr(s.why[0], "ping") && strstr(s.why[0], "109948940"), "%s", s.why[0]);
    sink_free(&s);

    /* an event loophub does not read, with the body of another */
    lh_kv_t x[] = {kv("X-GitHub-Event", "push")};
    decode(b, len, LH_FMT_AUTO, x, 1, NULL, &s);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    ck_assert_msg(strstr(s.why[0], "push: not an event loophub reads"), "%s", s.why[0]);
    sink_free(&s);
    free(b);
}
END_TEST

START_TEST(github_workflow_run)
{
    size_t len;
    char *b = fixture("github/workflow_run-completed-success.json", &len);
    lh_kv_t h[] = {kv("X-GitHub-Event", "workflow_run")};
    sink_t s = {0};
    /* no workflow is a deploy by default */
    decode(b, len, LH_FMT_AUTO, h, 1, NULL, &s);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    ck_assert_msg(strstr(s.why[0], "workflows"), "%s", s.why[0]);
    sink_free(&s);

    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.src.github_workflows = "deploy*, build";
    decode(b, len, LH_FMT_AUTO, h, 1, &o, &s);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    ck_assert_msg(strstr(s.why[0], "workflow_run of 'test'"), "%s", s.why[0]);
    sink_free(&s);

    o.src.github_workflows = "deploy*, TE?T";
    o.src.default_env = "prod";
    decode(b, len, LH_FMT_AUTO, h, 1, &o, &s);
    lh_event_t *ev = s.ev[0];
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(ev->id, "gh-run-289782451");
    ck_assert_str_eq(ev->deploy.deploy_id, "gh-run-289782451");
    ck_assert_int_eq(ev->deploy.status, LH_DEPLOY_SUCCEEDED);
    ck_assert_str_eq(ev->environment, "prod");
    ck_assert_str_eq(ev->deploy.commit, "3484a3fb816e0859fd6e1cea078d76385ff50625");
    ck_assert_str_eq(label(ev, "workflow"), "test");
    int64_t t;
    ck_assert_int_eq(lh_time_parse("2020-10-05T16:32:07Z", &t), 0);
    ck_assert_int_eq(ev->deploy.commit_time_ns, t);
    sink_free(&s);
    free(b);
}
END_TEST

/* Broken GitHub payloads: a clear reason naming the field, nothing accepted. */
START_TEST(github_bad_input)
{
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"{\"deployment_status\":{\"state\":\"success\"},\"repository\":{\"full_name\":\"a/b\","
         "\"name\":\"b\"}}",
         "'deployment' is missing"},
        {"{\"deployment_status\":{\"created_at\":\"2020-01-01T00:00:00Z\"},\"deployment\":{},"
         "\"repository\":{\"full_name\":\"a/b\",\"name\":\"b\"}}",
         "'deployment_status.state' is missing"},
        {"{\"deployment_status\":{\"state\":\"success\",\"created_at\":\"yesterday\"},"
         "\"deployment\":{\"id\":1},\"repository\":{\"full_name\":\"a/b\",\"name\":\"b\"}}",
         "'deployment_status.created_at' is missing or not an RFC 3339 time"},
        {"{\"deployment_status\":{\"state\":\"success\",\"created_at\":\"2020-01-01T00:00:00Z\"},"
         "\"deployment\":{\"environment\":\"x\"},\"repository\":{\"full_name\":\"a/b\","
         "\"name\":\"b\"}}",
         "'deployment.id' is missing"},
        {"{\"deployment_status\":{\"state\":\"success\",\"created_at\":\"2020-01-01T00:00:00Z\"},"
         "\"deployment\":{\"id\":1},\"repository\":{\"full_name\":\"a/b\",\"name\":\"b\"}}",
         "'deployment.environment' is missing"},
        {"[1,2]", "a GitHub payload must be a JSON object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sink_t s = {0};
        lh_kv_t h[] = {kv("X-GitHub-Event", "deployment_status")};
        decode(cases[i].body, strlen(cases[i].body), LH_FMT_AUTO, h, 1, NULL, &s);
        ck_assert_int_ge(s.n, 1);
        ck_assert_ptr_null(s.ev[0]);
        ck_assert_int_lt(s.err[0], 0);
        ck_assert_msg(strstr(s.why[0], cases[i].want), "case %zu: '%s' lacks '%s'", i, s.why[0],
                      cases[i].want);
        sink_free(&s);
    }
}
END_TEST

/* --- signatures --------------------------------------------------------------------------------
 */

START_TEST(github_signature)
{
    size_t len;
    char *b = fixture("github/deployment_status-created-success.json", &len);
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.src.secret[LH_SRC_GITHUB] = "It's a Secret to Everybody";
    char sig[100];
    sign("sha256=", o.src.secret[LH_SRC_GITHUB], b, len, sig, sizeof(sig));
    lh_kv_t h[] = {kv("X-GitHub-Event", "deployment_status"), kv("X-Hub-Signature-256", sig)};
    sink_t s = {0};
    decode(b, len, LH_FMT_AUTO, h, 2, &o, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    sink_free(&s);
    /* upper-case hex is the same signature */
    for (char *p = sig + 7; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    h[1] = kv("X-Hub-Signature-256", sig);
    decode(b, len, LH_FMT_AUTO, h, 2, &o, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    sink_free(&s);

    /* one byte of the body changed: refused, and the decoder never saw it */
    b[len / 2] ^= 1;
    decode(b, len, LH_FMT_AUTO, h, 2, &o, &s);
    ck_assert_int_eq(s.n, 1);
    ck_assert_ptr_null(s.ev[0]);
    ck_assert_int_eq(s.err[0], LH_EAUTH);
    ck_assert_msg(strstr(s.why[0], "X-Hub-Signature-256 header does not match the secret of "
                                   "[source.github]"),
                  "%s", s.why[0]);
    sink_free(&s);
    b[len / 2] ^= 1;

    /* no signature at all; a truncated one; another digest's name */
    static const char *const bad[] = {NULL, "sha256=abcd", "md5=00", "sha256="};
    for (size_t i = 0; i < 4; i++) {
        lh_kv_t hb[] = {kv("X-GitHub-Event", "deployment_status"),
                        kv("X-Hub-Signature-256", bad[i])};
        decode(b, len, LH_FMT_AUTO, hb, bad[i] ? 2 : 1, &o, &s);
        ck_assert_int_eq(s.err[0], LH_EAUTH);
        if (!bad[i])
            ck_assert_msg(strstr(s.why[0], "no X-Hub-Signature-256 header"), "%s", s.why[0]);
        sink_free(&s);
    }
    /* through the shape (no headers at all) the secret still holds */
    decode(b, len, LH_FMT_AUTO, NULL, 0, &o, &s);
    ck_assert_int_eq(s.err[0], LH_EAUTH);
    sink_free(&s);
    /* and a source that is off refuses everything */
    o.src.off[LH_SRC_GITHUB] = 1;
    decode(b, len, LH_FMT_GITHUB, h, 2, &o, &s);
    ck_assert_int_eq(s.err[0], LH_EAUTH);
    ck_assert_msg(strstr(s.why[0], "enabled = off"), "%s", s.why[0]);
    sink_free(&s);
    free(b);
}
END_TEST

/* PagerDuty signs with every current key: any of the v1= values may match. */
START_TEST(pagerduty_signature)
{
    size_t len;
    char *b = fixture("pagerduty/incident.priority_updated.json", &len);
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.src.secret[LH_SRC_PAGERDUTY] = "whsec_new";
    char good[100], other[100], hdr[260];
    sign("v1=", "whsec_new", b, len, good, sizeof(good));
    sign("v1=", "whsec_old", b, len, other, sizeof(other));
    sink_t s = {0};
    snprintf(hdr, sizeof(hdr), "%s,%s", other, good);
    lh_kv_t h[] = {kv("X-PagerDuty-Signature", hdr)};
    ck_assert_int_eq(decode(b, len, LH_FMT_AUTO, h, 1, &o, &s), LH_SRC_PAGERDUTY);
    ck_assert_ptr_nonnull(s.ev[0]);
    sink_free(&s);
    h[0] = kv("X-PagerDuty-Signature", other);
    decode(b, len, LH_FMT_AUTO, h, 1, &o, &s);
    ck_assert_int_eq(s.err[0], LH_EAUTH);
    sink_free(&s);
    free(b);
}
END_TEST

/* GitLab sends the secret itself: compared whole, in constant time. */
START_TEST(token_signature)
{
    const char *body = "{\"object_kind\":\"push\"}";
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    o.src.secret[LH_SRC_GITLAB] = "tok-123";
    static const char *const tokens[] = {"tok-123x", "tok-12", "TOK-123", ""};
    for (size_t i = 0; i < 4; i++) {
        lh_kv_t h[] = {kv("X-Gitlab-Event", "Push Hook"), kv("X-Gitlab-Token", tokens[i])};
        sink_t s = {0};
        decode(body, strlen(body), LH_FMT_AUTO, h, 2, &o, &s);
        ck_assert_int_eq(s.n, 1);
        ck_assert_int_eq(s.err[0], LH_EAUTH);
        sink_free(&s);
    }
    lh_kv_t h[] = {kv("X-Gitlab-Event", "Push Hook"), kv("X-Gitlab-Token", "tok-123")};
    sink_t s = {0};
    decode(body, strlen(body), LH_FMT_AUTO, h, 2, &o, &s);
    ck_assert_int_ne(s.err[0], LH_EAUTH); /* past the check: the decoder's verdict */
    sink_free(&s);
}
END_TEST

/* --- PagerDuty ---------------------------------------------------------------------------------
 */

START_TEST(pagerduty_incident)
{
    size_t len;
    char *b = fixture("pagerduty/incident.triggered.assembled.json", &len);
    sink_t s = {0};
    /* no header needed: the body says what it is */
    ck_assert_int_eq(decode(b, len, LH_FMT_AUTO, NULL, 0, NULL, &s), LH_SRC_PAGERDUTY);
    lh_event_t *ev = s.ev[0];
    ck_assert_ptr_nonnull(ev);
    json_t *root = json_loadb(b, len, 0, NULL);
    json_t *e = json_object_get(root, "event"), *d = json_object_get(e, "data");
    char want[200];
    snprintf(want, sizeof(want), "pd-%s", json_string_value(json_object_get(e, "id")));
    ck_assert_str_eq(ev->id, want);
    snprintf(want, sizeof(want), "pd-%s", json_string_value(json_object_get(d, "id")));
    ck_assert_str_eq(ev->incident.incident_id, want);
    ck_assert_int_eq(ev->kind, LH_KIND_INCIDENT);
    ck_assert_int_eq(ev->incident.state, LH_INCIDENT_DETECTED);
    ck_assert_int_eq(ev->incident.severity, LH_SEV_CRITICAL); /* P1 */
    ck_assert_str_eq(ev->service, "API Service");
    ck_assert_str_eq(label(ev, "url"), lh__jstr(d, "html_url"));
    ck_assert_str_eq(ev->environment, "production");
    ck_assert_str_eq(ev->incident.title, lh__jstr(d, "title"));
    ck_assert_str_eq(ev->source, "pagerduty");
    int64_t t;
    ck_assert_int_eq(lh_time_parse(lh__jstr(e, "occurred_at"), &t), 0);
    ck_assert_int_eq(ev->time_ns, t);
    sink_free(&s);

    /* a service id mapped to a loophub name; another default environment */
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    char map[200];
    snprintf(map, sizeof(map), "PXXXXXX=web, %s = api", lh__jstr(d, "service.id"));
    o.src.pagerduty_services = map;
    o.src.default_env = "prod";
    decode(b, len, LH_FMT_PAGERDUTY, NULL, 0, &o, &s);
    ck_assert_str_eq(s.ev[0]->service, "api");
    ck_assert_str_eq(s.ev[0]->environment, "prod");
    ck_assert_str_eq(label(s.ev[0], "pagerduty_service"), lh__jstr(d, "service.id"));
    sink_free(&s);
    json_decref(root);
    free(b);

    /* the published priority_updated: the same incident, still open */
    b = fixture("pagerduty/incident.priority_updated.json", &len);
    decode(b, len, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_str_eq(s.ev[0]->incident.incident_id, "pd-PGR0VU2");
    ck_assert_int_eq(s.ev[0]->incident.state, LH_INCIDENT_DETECTED);
    ck_assert_str_eq(label(s.ev[0], "pagerduty_event"), "incident.priority_updated");
    sink_free(&s);
    /* its resolution (PagerDuty publishes no verbatim one: the type changed here) */
    root = json_loadb(b, len, 0, NULL);
    json_object_set_new(json_object_get(root, "event"), "event_type",
                        json_string("incident.resolved"));
    char *text = json_dumps(root, 0);
    decode(text, strlen(text), LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_ptr_nonnull(s.ev[0]);
    ck_assert_int_eq(s.ev[0]->incident.state, LH_INCIDENT_RESOLVED);
    sink_free(&s);
    free(text);
    json_decref(root);
    free(b);
    /* a service's own change: read, nothing recorded */
    b = fixture("pagerduty/service.updated.json", &len);
    decode(b, len, LH_FMT_AUTO, NULL, 0, NULL, &s);
    ck_assert_int_eq(s.err[0], LH_IGNORED);
    ck_assert_str_eq(s.id[0], "pd-01BRB6ZP4M6T8ZG4X6BP63ZB9O");
    sink_free(&s);
    free(b);
}
END_TEST

/* Severity from the priority, else the urgency; other event types ignored. */
START_TEST(pagerduty_severity_and_ignored)
{
    static const struct {
        const char *type, *prio, *urgency;
        lh_severity_t sev;
        int ignored;
    } cases[] = {
        {"incident.triggered", "P1", "low", LH_SEV_CRITICAL, 0},
        {"incident.priority_updated", "P2", NULL, LH_SEV_ERROR, 0},
        {"incident.acknowledged", "P3", NULL, LH_SEV_WARNING, 0},
        {"incident.reopened", "P5", NULL, LH_SEV_INFO, 0},
        {"incident.triggered", "Sev-A", "high", LH_SEV_CRITICAL, 0},
        {"incident.triggered", NULL, "low", LH_SEV_WARNING, 0},
        {"incident.triggered", NULL, NULL, LH_SEV_UNSPECIFIED, 0},
        {"incident.annotated", "P1", NULL, 0, 1},
        {"service.updated", NULL, NULL, 0, 1},
        {"pagey.ping", NULL, NULL, 0, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *data = json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", "Q1", "title", "t", "service",
                                 "id", "PS1", "summary", "api");
        if (cases[i].prio)
            json_object_set_new(data, "priority", json_pack("{s:s}", "summary", cases[i].prio));
        if (cases[i].urgency)
            json_object_set_new(data, "urgency", json_string(cases[i].urgency));
        json_t *root = json_pack("{s:{s:s, s:s, s:s, s:s, s:o}}", "event", "id", "E1", "event_type",
                                 cases[i].type, "resource_type", "incident", "occurred_at",
                                 "2026-01-02T03:04:05.678Z", "data", data);
        char *text = json_dumps(root, 0);
        sink_t s = {0};
        decode(text, strlen(text), LH_FMT_AUTO, NULL, 0, NULL, &s);
        ck_assert_int_eq(s.n, 1);
        if (cases[i].ignored) {
            ck_assert_int_eq(s.err[0], LH_IGNORED);
            ck_assert_msg(strstr(s.why[0], cases[i].type), "%s", s.why[0]);
        } else {
            ck_assert_ptr_nonnull(s.ev[0]);
            ck_assert_int_eq(s.ev[0]->incident.severity, cases[i].sev);
        }
        sink_free(&s);
        free(text);
        json_decref(root);
    }
    /* broken: no incident id, no time */
    static const char *const bad[][2] = {
        {"{\"event\":{\"id\":\"E\",\"event_type\":\"incident.triggered\",\"resource_type\":"
         "\"incident\",\"occurred_at\":\"2026-01-01T00:00:00Z\",\"data\":{\"service\":{\"summary\":"
         "\"a\"}}}}",
         "'event.data.id' is missing"},
        {"{\"event\":{\"id\":\"E\",\"event_type\":\"incident.triggered\",\"resource_type\":"
         "\"incident\",\"data\":{\"id\":\"Q\",\"service\":{\"summary\":\"a\"}}}}",
         "'event.occurred_at' is missing"},
        {"{\"event\":{\"id\":\"E\",\"event_type\":\"incident.triggered\",\"resource_type\":"
         "\"incident\",\"occurred_at\":\"2026-01-01T00:00:00Z\",\"data\":{\"id\":\"Q\"}}}",
         "'event.data.service.summary' is missing"},
    };
    for (size_t i = 0; i < 3; i++) {
        sink_t s = {0};
        decode(bad[i][0], strlen(bad[i][0]), LH_FMT_AUTO, NULL, 0, NULL, &s);
        ck_assert_ptr_null(s.ev[0]);
        ck_assert_int_lt(s.err[0], 0);
        ck_assert_msg(strstr(s.why[0], bad[i][1]), "'%s' lacks '%s'", s.why[0], bad[i][1]);
        sink_free(&s);
    }
}
END_TEST

/* --- detection ---------------------------------------------------------------------------------
 */

/* Each fixture is told by its own shape and by no other source's, and loophub's own formats are
 * not mistaken for a source. */
START_TEST(shapes_are_distinct)
{
    static const struct {
        const char *file;
        int src;
    } cases[] = {
        {"github/deployment_status-created-success.json", LH_SRC_GITHUB},
        {"github/workflow_run-completed-success.json", LH_SRC_GITHUB},
        {"github/ping.json", LH_SRC_GITHUB},
        {"pagerduty/incident.triggered.assembled.json", LH_SRC_PAGERDUTY},
        {"pagerduty/incident.priority_updated.json", LH_SRC_PAGERDUTY},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        char *b = fixture(cases[i].file, &len);
        json_t *root = json_loadb(b, len, 0, NULL);
        ck_assert_ptr_nonnull(root);
        ck_assert_int_eq(lh__source_of_shape(root), cases[i].src);
        json_decref(root);
        free(b);
    }
    static const char *const others[] = {
        "{\"id\":\"e1\",\"kind\":\"deploy\",\"service\":\"api\"}",
        "{\"specversion\":\"1.0\",\"type\":\"dev.cdevents.service.deployed.0.1.1\",\"id\":\"x\"}",
        "{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[]}",
    };
    for (size_t i = 0; i < 3; i++) {
        json_t *root = json_loads(others[i], 0, NULL);
        ck_assert_int_eq(lh__source_of_shape(root), LH_SRC_NONE);
        json_decref(root);
    }
}
END_TEST

START_TEST(headers_and_names)
{
    lh_kv_t h1[] = {kv("x-github-event", "ping")};
    ck_assert_int_eq(lh_source_of_headers(h1, 1), LH_SRC_GITHUB);
    lh_kv_t h2[] = {kv("Content-Type", "application/json"), kv("ce-type", "dev.tekton.event.x")};
    ck_assert_int_eq(lh_source_of_headers(h2, 2), LH_SRC_TEKTON);
    lh_kv_t h3[] = {kv("ce-type", "dev.cdevents.service.deployed.0.1.1")};
    ck_assert_int_eq(lh_source_of_headers(h3, 1), LH_SRC_NONE);
    ck_assert_int_eq(lh_source_of_headers(NULL, 0), LH_SRC_NONE);
    for (int i = 0; i < LH_SRC_COUNT; i++) {
        const lh_source_info_t *s = lh_source_info(i);
        ck_assert_ptr_nonnull(s);
        ck_assert_int_eq(lh_source_by_name(s->name), i);
        ck_assert_str_eq(lh_format_name((lh_format_t)(LH_FMT_GITHUB + i)), s->name);
    }
    ck_assert_ptr_null(lh_source_info(LH_SRC_COUNT));
    ck_assert_int_eq(lh_source_by_name("gitea"), LH_SRC_NONE);
}
END_TEST

START_TEST(globs_and_maps)
{
    ck_assert(lh__glob_match("deploy*", "Deploy to prod"));
    ck_assert(lh__glob_match("*prod", "deploy-prod"));
    ck_assert(lh__glob_match("a?c", "abc"));
    ck_assert(!lh__glob_match("a?c", "ac"));
    ck_assert(lh__glob_match("*", ""));
    ck_assert(!lh__glob_match("deploy", "deploy2"));
    ck_assert(lh__glob_match("*a*b*c", "xxaxxbxxc"));
    ck_assert(lh__glob_list_match(" build , *deploy* ", "nightly-deploy"));
    ck_assert(!lh__glob_list_match("build,", "deploy"));
    char out[32];
    ck_assert(lh__map_lookup("P1=api, p2 = web ,P3=", "P2", out, sizeof(out)));
    ck_assert_str_eq(out, "web");
    ck_assert(!lh__map_lookup("P1=api,P3=", "P3", out, sizeof(out)));
    ck_assert(!lh__map_lookup("P1=api", "P", out, sizeof(out)));
    ck_assert(!lh__map_lookup(NULL, "P", out, sizeof(out)));
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("sources");
    const lh_test_case_t cases[] = {
        {"github_deployment_status", github_deployment_status, 0, 0},
        {"github_status_states", github_status_states, 0, 0},
        {"github_deployment_and_ping", github_deployment_and_ping, 0, 0},
        {"github_workflow_run", github_workflow_run, 0, 0},
        {"github_bad_input", github_bad_input, 0, 0},
        {"github_signature", github_signature, 0, 0},
        {"pagerduty_signature", pagerduty_signature, 0, 0},
        {"token_signature", token_signature, 0, 0},
        {"pagerduty_incident", pagerduty_incident, 0, 0},
        {"pagerduty_severity_and_ignored", pagerduty_severity_and_ignored, 0, 0},
        {"shapes_are_distinct", shapes_are_distinct, 0, 0},
        {"headers_and_names", headers_and_names, 0, 0},
        {"globs_and_maps", globs_and_maps, 0, 0},
    };
    lh_test_add_cases(s, cases, sizeof(cases) / sizeof(cases[0]), 30, NULL, NULL);
    return lh_test_run_suite(s);
}
