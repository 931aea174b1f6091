/*
 * check_sources.c - the webhook sources end to end: the real `loophub run` with secrets, aliases
 * and config sections, fed the payloads GitHub, PagerDuty, GitLab and Jira publish
 * (tests/data/sources) over HTTP with the headers the senders send, signatures computed here.
 */
#include <jansson.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ithub.h"
#include "loophub/timeutil.h"
#include "testutil.h"

#define SECRET "It's a Secret to Everybody"
#define DS_FIXTURE LH_TEST_DATA "/sources/github/deployment_status-created-success.json"
#define PD_FIXTURE LH_TEST_DATA "/sources/pagerduty/incident.priority_updated.json"

/* (ready: the hub's "running" line, logged once the HTTP port listens) */
static void
hub_start(lh_it_hub_t *h, const char *const *extra)
{
    lh_it_hub_start(h, 1, extra);
}

/* "<prefix><hex HMAC-SHA256 of the file under key>" into out. */
static void
sign_file(const char *prefix, const char *key, const char *path, char *out, size_t len)
{
    size_t n;
    char *b = lh_test_read_file(path, &n);
    ck_assert_ptr_nonnull(b);
    unsigned char mac[32];
    unsigned ml = 0;
    ck_assert_ptr_nonnull(
        HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)b, n, mac, &ml));
    size_t k = (size_t)snprintf(out, len, "%s", prefix);
    for (unsigned i = 0; i < ml; i++)
        k += (size_t)snprintf(out + k, len - k, "%02x", mac[i]);
    free(b);
}

static lh_it_resp_t
post_github(const lh_it_hub_t *h, const char *path, const char *file, const char *event,
            const char *delivery, const char *signature)
{
    char ev[80], dl[120], sg[160];
    snprintf(ev, sizeof(ev), "X-GitHub-Event: %s", event);
    snprintf(dl, sizeof(dl), "X-GitHub-Delivery: %s", delivery);
    snprintf(sg, sizeof(sg), "X-Hub-Signature-256: %s", signature ? signature : "");
    const char *hdrs[] = {"Content-Type: application/json",
                          "User-Agent: GitHub-Hookshot/044aadd",
                          ev,
                          dl,
                          signature ? sg : NULL,
                          NULL};
    return lh_it_curl_file(h, "POST", path, hdrs, file);
}

static void
expect(lh_it_resp_t r, int code, const char *needle)
{
    ck_assert_msg(r.code == code && strstr(r.body, needle), "want %d with '%s', got %d: %s", code,
                  needle, r.code, r.body);
    free(r.body);
}

/* The issue's example: a GitHub deployment of repository Hello-World to production, then a
 * PagerDuty incident on the service PagerDuty calls "API Service", an alias of Hello-World:
 * one correlated alert naming the GitHub deployment. Redelivery dedupes, a bad signature is
 * refused with 401 and leaves nothing behind, a ping is answered and counted. */
START_TEST(github_then_pagerduty)
{
    lh_it_hub_t h;
    char secret_file[700];
    lh_it_hub_init(&h, 1);
    snprintf(secret_file, sizeof(secret_file), "%s/github.secret", h.dir);
    ck_assert_int_eq(lh_test_write_file(secret_file, SECRET "\n", strlen(SECRET) + 1), 0);
    const char *extra[] = {"--github-secret-file", secret_file, "--service-alias",
                           "Hello-World=API Service", NULL};
    lh_it_hub_run(&h, extra);

    const char *ds = lh_it_fresh_fixture(&h, DS_FIXTURE, "ds.json", 600);
    char sig[100];
    sign_file("sha256=", SECRET, ds, sig, sizeof(sig));
    expect(post_github(&h, "/v1/events", ds, "deployment_status", "d-1", sig), 202,
           "\"accepted\":[\"gh-d-1\"]");
    /* GitHub redelivers with the same delivery id */
    expect(post_github(&h, "/v1/events", ds, "deployment_status", "d-1", sig), 202,
           "\"duplicates\":[\"gh-d-1\"]");
    /* a forged one: another secret */
    char forged[100];
    sign_file("sha256=", "guess", ds, forged, sizeof(forged));
    expect(post_github(&h, "/v1/events", ds, "deployment_status", "d-2", forged), 401,
           "does not match the secret of [source.github]");
    expect(post_github(&h, "/v1/sources/github", ds, "deployment_status", "d-3", NULL), 401,
           "no X-Hub-Signature-256 header");
    char ping[700];
    snprintf(ping, sizeof(ping), "%s/sources/github/ping.json", LH_TEST_DATA);
    char psig[100];
    sign_file("sha256=", SECRET, ping, psig, sizeof(psig));
    expect(post_github(&h, "/v1/events", ping, "ping", "d-4", psig), 202,
           "\"ignored\":[{\"id\":\"gh-d-4\",\"reason\":\"ping: the webhook reaches loophub");

    /* PagerDuty, at its own route with no header of its own (no secret set for it) */
    const char *pd = lh_it_fresh_fixture(&h, PD_FIXTURE, "pd.json", 60);
    const char *ph[] = {"Content-Type: application/json", "X-Webhook-Id: wh-1", NULL};
    lh_it_resp_t r = lh_it_curl_file(&h, "POST", "/v1/sources/pagerduty", ph, pd);
    expect(r, 202, "\"accepted\":[\"pd-wh-1\"]");

    lh_it_wait_sql(&h, "SELECT count(*) FROM correlations WHERE deploy_id = 'gh-145988746'", 1,
                   10000);
    ck_assert_int_eq(lh_it_sql_long(&h, "SELECT count(*) FROM alerts"), 1);
    ck_assert_int_eq(lh_it_sql_long(&h, "SELECT count(*) FROM events"), 2);
    ck_assert_int_eq(lh_it_sql_long(&h, "SELECT count(*) FROM events WHERE service = "
                                        "'Hello-World' AND environment = 'production'"),
                     2);
    /* nobody vouched for the forged and unsigned bodies: not quarantined either */
    ck_assert_int_eq(lh_it_sql_long(&h, "SELECT count(*) FROM quarantine"), 0);
    ck_assert_int_eq(
        lh_it_metric(&h, "loophub_source_payloads_total{source=\"github\",verdict=\"accepted\"}"),
        2);
    ck_assert_int_eq(
        lh_it_metric(&h, "loophub_source_payloads_total{source=\"github\",verdict=\"rejected\"}"),
        2);
    ck_assert_int_eq(
        lh_it_metric(&h, "loophub_source_payloads_total{source=\"github\",verdict=\"ignored\"}"),
        1);
    ck_assert_int_eq(lh_it_metric(&h, "loophub_rejected_total{reason=\"auth\"}"), 2);

    /* the sources document */
    r = lh_it_curl(&h, "GET", "/v1/sources", NULL, NULL, 0, 0);
    ck_assert_int_eq(r.code, 200);
    json_t *doc = json_loads(r.body, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    json_t *gh = json_array_get(json_object_get(doc, "sources"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(gh, "name")), "github");
    ck_assert(json_is_true(json_object_get(gh, "secret")));
    ck_assert_str_eq(json_string_value(json_object_get(gh, "route")), "/v1/sources/github");
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(gh, "payloads"), "rejected")), 2);
    json_t *pdj = json_array_get(json_object_get(doc, "sources"), 3);
    ck_assert_str_eq(json_string_value(json_object_get(pdj, "name")), "pagerduty");
    ck_assert(json_is_false(json_object_get(pdj, "secret")));
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(doc, "service_aliases"), "API Service")),
        "Hello-World");
    json_decref(doc);
    free(r.body);

    /* the same as `loophub sources` shows it */
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", h.http_port);
    const char *sargv[] = {lh_test_loophub_bin(), "sources", "--url", url, NULL};
    char *sout = NULL, *serr = NULL;
    ck_assert_int_eq(lh_test_run(sargv, NULL, &sout, &serr, 20000), 0);
    ck_assert_msg(strstr(sout, "github     /v1/sources/github     yes    yes          2        1"
                               "         2  X-GitHub-Event header") &&
                      strstr(sout, "service aliases: API Service -> Hello-World"),
                  "%s", sout);
    free(sout);
    free(serr);

    /* the timeline a user asks for names the GitHub change as the suspect */
    const char *argv[] = {lh_test_loophub_bin(), "timeline",   "--db", h.db,
                          "--incident",          "pd-PGR0VU2", NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(lh_test_run(argv, NULL, &out, &err, 20000), 0);
    ck_assert_msg(strstr(out, "gh-145988746") && strstr(out, "Codertocat"), "%s", out);
    free(out);
    free(err);
    lh_it_hub_stop(&h);
}
END_TEST

/* With no configuration at all: the repository's name is the PagerDuty service's, GitHub says
 * production and PagerDuty nothing (production by default): they correlate. */
START_TEST(no_configuration_correlates)
{
    lh_it_hub_t h;
    hub_start(&h, NULL);
    const char *ds = lh_it_fresh_fixture(&h, DS_FIXTURE, "ds.json", 600);
    expect(post_github(&h, "/v1/events", ds, "deployment_status", "d-1", NULL), 202, "gh-d-1");
    json_t *pd = json_load_file(lh_it_fresh_fixture(&h, PD_FIXTURE, "pd0.json", 60), 0, NULL);
    json_object_set_new(
        json_object_get(json_object_get(json_object_get(pd, "event"), "data"), "service"),
        "summary", json_string("Hello-World"));
    char pdfile[700];
    snprintf(pdfile, sizeof(pdfile), "%s/pd.json", h.dir);
    ck_assert_int_eq(json_dump_file(pd, pdfile, 0), 0);
    json_decref(pd);
    /* at the generic endpoint, told by its shape */
    const char *ph[] = {"Content-Type: application/json", NULL};
    expect(lh_it_curl_file(&h, "POST", "/v1/events", ph, pdfile), 202, "pd-");
    lh_it_wait_sql(&h, "SELECT count(*) FROM correlations WHERE deploy_id = 'gh-145988746'", 1,
                   10000);
    lh_it_hub_stop(&h);
}
END_TEST

/* A hub with a write token: a source without a secret is guarded by the token (GitHub cannot
 * send it, so it must get a secret); with its secret it needs no token. Settings from the
 * config file's [source.*], [sources] and [environments] sections. */
START_TEST(token_secret_and_config_file)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 1);
    char tok[700], sec[700], conf[700], body[2600];
    snprintf(tok, sizeof(tok), "%s/token", h.dir);
    snprintf(sec, sizeof(sec), "%s/pd.secret", h.dir);
    snprintf(conf, sizeof(conf), "%s/loophub.ini", h.dir);
    ck_assert_int_eq(lh_test_write_file(tok, "t0ken\n", 6), 0);
    ck_assert_int_eq(lh_test_write_file(sec, "pdsecret", 8), 0);
    int n = snprintf(body, sizeof(body),
                     "[source.pagerduty]\nsecret_file = %s\nservices = PF9KMXH=api\n\n"
                     "[sources]\ndefault_environment = prd\n\n"
                     "[environments]\nproduction = prd, prod\n",
                     sec);
    ck_assert_int_eq(lh_test_write_file(conf, body, (size_t)n), 0);
    const char *extra[] = {"--config", conf, "--http-token-file", tok, NULL};
    lh_it_hub_run(&h, extra);

    const char *ds = lh_it_fresh_fixture(&h, DS_FIXTURE, "ds.json", 600);
    expect(post_github(&h, "/v1/events", ds, "deployment_status", "d-1", NULL), 401,
           "Authorization: Bearer");
    const char *pd = lh_it_fresh_fixture(&h, PD_FIXTURE, "pd.json", 60);
    char sig[100], hdr[140];
    sign_file("v1=", "pdsecret", pd, sig, sizeof(sig));
    snprintf(hdr, sizeof(hdr), "X-PagerDuty-Signature: v1=00,%s", sig);
    const char *ph[] = {"Content-Type: application/json", hdr, NULL};
    expect(lh_it_curl_file(&h, "POST", "/v1/events", ph, pd), 202, "\"accepted\":[\"pd-");
    const char *bad[] = {"Content-Type: application/json", "X-PagerDuty-Signature: v1=00", NULL};
    expect(lh_it_curl_file(&h, "POST", "/v1/events", bad, pd), 401, "X-PagerDuty-Signature");
    /* `loophub sources` needs the token too; with it, the counts */
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", h.http_port);
    const char *sargv[] = {
        lh_test_loophub_bin(), "sources", "--url", url, "--format", "json", NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(lh_test_run(sargv, NULL, &out, &err, 20000), 1);
    ck_assert_msg(err && strstr(err, "answered 401 (give its token: --token-file)"), "%s", err);
    free(out);
    free(err);
    const char *targv[] = {lh_test_loophub_bin(),
                           "sources",
                           "--url",
                           url,
                           "--token-file",
                           tok,
                           "--format",
                           "json",
                           NULL};
    ck_assert_int_eq(lh_test_run(targv, NULL, &out, &err, 20000), 0);
    json_t *doc = json_loads(out, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    json_t *pdj = json_array_get(json_object_get(doc, "sources"), 3);
    ck_assert(json_is_true(json_object_get(pdj, "secret")));
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(pdj, "payloads"), "accepted")), 1);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(pdj, "payloads"), "rejected")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "default_environment")), "prd");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(doc, "environment_aliases"), "prd")),
        "production");
    json_decref(doc);
    free(out);
    free(err);
    /* no hub there */
    const char *nargv[] = {lh_test_loophub_bin(), "sources", "--url", "http://127.0.0.1:1", NULL};
    ck_assert_int_eq(lh_test_run(nargv, NULL, &out, &err, 20000), 1);
    ck_assert_msg(err && strstr(err, "no answer from a hub at http://127.0.0.1:1/v1/sources"), "%s",
                  err);
    free(out);
    free(err);

    /* the map named the service, the default environment became the canonical name */
    lh_it_wait_sql(&h,
                   "SELECT count(*) FROM events WHERE service = 'api' AND environment = "
                   "'production'",
                   1, 5000);
    lh_it_hub_stop(&h);
}
END_TEST

/* A fixture as a JSON document to change (a variation of what the sender published). */
static json_t *
fixture_doc(const char *rel)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/sources/%s", LH_TEST_DATA, rel);
    json_error_t e;
    json_t *doc = json_load_file(path, 0, &e);
    ck_assert_msg(doc != NULL, "%s: %s", path, e.text);
    return doc;
}

/* doc written compactly to h's dir as name (consumed); the path in out. */
static const char *
write_doc(const lh_it_hub_t *h, json_t *doc, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", h->dir, name);
    ck_assert_int_eq(json_dump_file(doc, out, JSON_COMPACT), 0);
    json_decref(doc);
    return out;
}

/* An RFC 3339 time ago_s seconds before now. */
static json_t *
ago(int ago_s)
{
    char t[40];
    ck_assert_int_gt(lh_time_format(lh_now_ns() - (int64_t)ago_s * LH_NS_PER_SEC, t, sizeof(t)), 0);
    return json_string(t);
}

/* GitLab alone: its Deployment Hook (GitLab's published example, sent to production, times
 * moved to now) then an incident opened on the same project (the published Issue Hook with type
 * incident: a variation) give one correlated alert naming the GitLab deployment. The token is
 * checked, and a redelivery (the same Idempotency-Key) is a duplicate. */
START_TEST(gitlab_deploy_then_incident)
{
    lh_it_hub_t h;
    char secret_file[700];
    lh_it_hub_init(&h, 1);
    snprintf(secret_file, sizeof(secret_file), "%s/gitlab.secret", h.dir);
    ck_assert_int_eq(lh_test_write_file(secret_file, "gl-token\n", 9), 0);
    const char *extra[] = {"--gitlab-secret-file", secret_file, NULL};
    lh_it_hub_run(&h, extra);

    json_t *dep = fixture_doc("gitlab/deployment_hook-success.json");
    json_object_set_new(dep, "environment", json_string("production"));
    json_object_set_new(dep, "status_changed_at", ago(600));
    char dfile[700], ifile[700];
    write_doc(&h, dep, "dep.json", dfile, sizeof(dfile));
    const char *dh[] = {"Content-Type: application/json", "X-Gitlab-Event: Deployment Hook",
                        "X-Gitlab-Token: gl-token", "Idempotency-Key: 7c1f0e6a-1", NULL};
    expect(lh_it_curl_file(&h, "POST", "/v1/events", dh, dfile), 202,
           "\"accepted\":[\"gl-7c1f0e6a-1\"]");
    expect(lh_it_curl_file(&h, "POST", "/v1/events", dh, dfile), 202,
           "\"duplicates\":[\"gl-7c1f0e6a-1\"]");
    const char *bad[] = {"Content-Type: application/json", "X-Gitlab-Event: Deployment Hook",
                         "X-Gitlab-Token: guess", "Idempotency-Key: 7c1f0e6a-2", NULL};
    expect(lh_it_curl_file(&h, "POST", "/v1/events", bad, dfile), 401, "X-Gitlab-Token");

    json_t *iss = fixture_doc("gitlab/issue_hook-open.json");
    json_t *attrs = json_object_get(iss, "object_attributes");
    json_object_set_new(attrs, "type", json_string("Incident"));
    json_object_set_new(attrs, "updated_at", ago(60));
    json_object_set_new(json_object_get(iss, "project"), "name",
                        json_string("test-deployment-webhooks"));
    write_doc(&h, iss, "issue.json", ifile, sizeof(ifile));
    const char *ih[] = {"Content-Type: application/json", "X-Gitlab-Event: Issue Hook",
                        "X-Gitlab-Token: gl-token", "Idempotency-Key: 7c1f0e6a-3", NULL};
    expect(lh_it_curl_file(&h, "POST", "/v1/events", ih, ifile), 202,
           "\"accepted\":[\"gl-7c1f0e6a-3\"]");

    lh_it_wait_sql(&h, "SELECT count(*) FROM correlations WHERE deploy_id = 'gl-15'", 1, 10000);
    ck_assert_int_eq(lh_it_sql_long(&h, "SELECT count(*) FROM alerts"), 1);
    ck_assert_int_eq(lh_it_sql_long(&h, "SELECT count(*) FROM quarantine"), 0);
    const char *argv[] = {lh_test_loophub_bin(), "timeline", "--db", h.db,
                          "--incident",          "gl-1-23",  NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(lh_test_run(argv, NULL, &out, &err, 20000), 0);
    ck_assert_msg(strstr(out, "gl-15") && strstr(out, "test-deployment-webhooks"), "%s", out);
    free(out);
    free(err);
    lh_it_hub_stop(&h);
}
END_TEST

/* A change approved in Jira before its deploy started, the ticket's deploy field naming the
 * deploy: `loophub audit` shows the change approved by that ticket. The update is Atlassian's
 * published example turned into a change ticket moving to Approved (a variation). */
START_TEST(jira_approval_in_audit)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 1);
    const char *extra[] = {"--jira-deploy-field", "customfield_10050", NULL};
    lh_it_hub_run(&h, extra);

    json_t *j = fixture_doc("jira/issue_updated.assembled.json");
    json_t *fields = json_object_get(json_object_get(j, "issue"), "fields");
    json_object_set_new(fields, "issuetype", json_pack("{s:s}", "name", "Change"));
    json_object_set_new(fields, "status", json_pack("{s:s}", "name", "Approved"));
    json_object_set_new(fields, "customfield_10050", json_string("rel-42"));
    json_array_append_new(json_object_get(json_object_get(j, "changelog"), "items"),
                          json_pack("{s:s, s:s, s:s}", "field", "status", "fromString",
                                    "Awaiting approval", "toString", "Approved"));
    json_object_set_new(j, "timestamp",
                        json_integer((json_int_t)(lh_now_ns() / LH_NS_PER_MS) - 600000));
    char jfile[700];
    write_doc(&h, j, "jira.json", jfile, sizeof(jfile));
    const char *jh[] = {"Content-Type: application/json",
                        "X-Atlassian-Webhook-Identifier: 6a5b6c8e-9", NULL};
    expect(lh_it_curl_file(&h, "POST", "/v1/events", jh, jfile), 202,
           "\"accepted\":[\"jira-6a5b6c8e-9\"]");

    char t[40];
    ck_assert_int_gt(lh_time_format(lh_now_ns() - 300 * LH_NS_PER_SEC, t, sizeof(t)), 0);
    const char *sargv[] = {lh_test_loophub_bin(),
                           "send",
                           "deploy",
                           "--reliable",
                           "--to",
                           h.router,
                           "--service",
                           "JRA",
                           "--env",
                           "production",
                           "--deploy-id",
                           "rel-42",
                           "--status",
                           "succeeded",
                           "--version",
                           "1.4",
                           "--time",
                           t,
                           NULL};
    char *out = NULL, *err = NULL;
    ck_assert_msg(lh_test_run(sargv, NULL, &out, &err, 20000) == 0, "%s", err ? err : "");
    free(out);
    free(err);
    const char *aargv[] = {lh_test_loophub_bin(), "audit", "--db", h.db, "--format", "json", NULL};
    ck_assert_int_eq(lh_test_run(aargv, NULL, &out, &err, 20000), 0);
    json_t *doc = json_loads(out, 0, NULL);
    ck_assert_msg(doc != NULL, "%s", out);
    json_t *c = json_array_get(json_object_get(doc, "changes"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(c, "deploy_id")), "rel-42");
    ck_assert_str_eq(json_string_value(json_object_get(c, "approval")), "approved");
    ck_assert_str_eq(json_string_value(json_object_get(c, "approved_by")), "JRA-20002");
    json_decref(doc);
    free(out);
    free(err);
    lh_it_hub_stop(&h);
}
END_TEST

/* `loophub send` as a CI step: its settings from the environment, over HTTP with the token,
 * "a,b" as two hosts, an environment required; with the hub away, --spool keeps the event and
 * the step succeeds, and the next run delivers it first. */
START_TEST(send_as_a_pipeline_step)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 1);
    char tok[700], url[64], spool[700];
    snprintf(tok, sizeof(tok), "%s/token", h.dir);
    snprintf(spool, sizeof(spool), "%s/spool", h.dir);
    ck_assert_int_eq(lh_test_write_file(tok, "t0ken\n", 6), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", h.http_port);
    setenv("LOOPHUB_URL", url, 1);
    setenv("LOOPHUB_TOKEN_FILE", tok, 1);
    setenv("LOOPHUB_SERVICE", "api", 1);
    setenv("LOOPHUB_ENV", "production", 1);
    const char *bin = lh_test_loophub_bin();
    char *out = NULL, *err = NULL;

    /* the hub is not up yet: spooled, exit 0 */
    const char *a1[] = {bin,   "send",      "deploy",       "--deploy-id",
                        "D-1", "--status",  "succeeded",    "--version",
                        "1.0", "--host",    "web-1, web-2", "--spool",
                        spool, "--timeout", "2s",           NULL};
    ck_assert_int_eq(lh_test_run(a1, NULL, &out, &err, 20000), 0);
    ck_assert_msg(strstr(err, "the hub did not take 1 event: kept in"), "%s", err);
    free(out);
    free(err);

    const char *extra[] = {"--http-token-file", tok, NULL};
    lh_it_hub_run(&h, extra);
    /* the next step: the spooled deploy first, then its own */
    const char *a2[] = {bin,        "send",    "deploy",  "--deploy-id", "D-2",
                        "--status", "started", "--spool", spool,         NULL};
    ck_assert_int_eq(lh_test_run(a2, NULL, &out, &err, 20000), 0);
    ck_assert_msg(strstr(out, "sent 2 messages: 2 ok, 0 duplicate, 0 rejected"), "%s", out);
    free(out);
    free(err);
    ck_assert_int_eq(lh_it_sql_long(&h, "SELECT count(*) FROM events WHERE service = 'api' AND "
                                        "environment = 'production'"),
                     2);
    ck_assert_int_eq(lh_it_sql_long(&h, "SELECT count(*) FROM event_hosts WHERE host IN "
                                        "('web-1', 'web-2')"),
                     2);
    /* the spool is empty again: a third run sends its one event */
    const char *a3[] = {bin,        "send",    "deploy",  "--deploy-id", "D-2",
                        "--status", "started", "--spool", spool,         NULL};
    ck_assert_int_eq(lh_test_run(a3, NULL, &out, &err, 20000), 0);
    ck_assert_msg(strstr(out, "duplicate"), "%s", out);
    free(out);
    free(err);

    /* a wrong token: the hub is there and refuses; the step fails and says why */
    char bad[700];
    snprintf(bad, sizeof(bad), "%s/bad", h.dir);
    ck_assert_int_eq(lh_test_write_file(bad, "nope\n", 5), 0);
    const char *a4[] = {bin, "send", "incident", "--incident-id", "I-1", "--token-file", bad, NULL};
    ck_assert_int_eq(lh_test_run(a4, NULL, &out, &err, 20000), 1);
    ck_assert_msg(strstr(err, "refused the request (401)"), "%s", err);
    free(out);
    free(err);

    /* no environment: refused before anything is sent */
    unsetenv("LOOPHUB_ENV");
    const char *a5[] = {bin, "send", "alert", "--name", "X", NULL};
    ck_assert_int_eq(lh_test_run(a5, NULL, &out, &err, 20000), 2);
    ck_assert_msg(strstr(err, "an alert needs an environment: --env E (or LOOPHUB_ENV)"), "%s",
                  err);
    free(out);
    free(err);
    /* --spool needs to know what the hub took */
    const char *a6[] = {bin,       "send", "deploy", "--env", "prod", "--to", "tcp://127.0.0.1:1",
                        "--spool", spool,  NULL};
    ck_assert_int_eq(lh_test_run(a6, NULL, &out, &err, 20000), 2);
    ck_assert_msg(strstr(err, "--spool needs --reliable or an http:// --to"), "%s", err);
    free(out);
    free(err);
    lh_it_hub_stop(&h);
}
END_TEST

/* --- the CI templates (examples/integrations) ------------------------------------------------ */

/* The shell lines of a template: GitHub Actions' `run: |` block, GitLab CI's `script:` items, a
 * Jenkinsfile's sh block; and the variables it sets itself (GitHub's env: and GitLab's variables:
 * entries without an expression, a Jenkinsfile's environment { NAME = 'value' }), as export lines
 * before them. Returns the script (malloc'd). */
static char *
template_script(const char *path)
{
    static const char sh_open[] = "sh '''", sh_close[] = "'''";
    char *text = lh_test_must_read(path);
    size_t cap = strlen(text) * 2 + 256, len = 0;
    char *out = calloc(1, cap);
    ck_assert_ptr_nonnull(out);
    int in_run = -1, in_sh = 0, in_script = 0, in_vars = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        int ind = (int)strspn(line, " ");
        const char *t = line + ind;
        if (in_run >= 0 && ind <= in_run)
            in_run = -1;
        if (in_script && strncmp(t, "- ", 2) != 0)
            in_script = 0;
        if (in_vars && ind <= 2)
            in_vars = 0;
        if (in_sh && !strcmp(t, sh_close)) {
            in_sh = 0;
            continue;
        }
        if (in_run >= 0 || in_sh) {
            len += (size_t)snprintf(out + len, cap - len, "%s\n", t);
        } else if (in_script) {
            len += (size_t)snprintf(out + len, cap - len, "%s\n", t + 2);
        } else if (!strcmp(t, "run: |")) {
            in_run = ind;
        } else if (!strcmp(t, sh_open)) {
            in_sh = 1;
        } else if (!strcmp(t, "script:")) {
            in_script = 1;
        } else if (!strcmp(t, "variables:") || !strcmp(t, "env:")) {
            in_vars = 1;
        } else if (in_vars && strchr(t, ':') && !strstr(t, "${{")) {
            const char *c = strchr(t, ':'); /* NAME: value */
            len += (size_t)snprintf(out + len, cap - len, "export %.*s=\"%s\"\n", (int)(c - t), t,
                                    c + 1 + strspn(c + 1, " "));
        } else if (!strncmp(t, "LOOPHUB_", 8) && strstr(t, " = '")) {
            const char *eq = strstr(t, " = '"); /* environment { NAME = 'value' } */
            len += (size_t)snprintf(out + len, cap - len, "export %.*s=%s\n", (int)(eq - t), t,
                                    eq + 3);
        }
    }
    free(text);
    return out;
}

/* Each template's step, run with bash as its CI system would (the CI's own variables set here),
 * stores its deploy in the hub. */
START_TEST(ci_templates)
{
    lh_it_hub_t h;
    lh_it_hub_start(&h, 1, NULL);
    char url[64], bindir[600];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", h.http_port);
    snprintf(bindir, sizeof(bindir), "%s", lh_test_loophub_bin());
    *strrchr(bindir, '/') = 0;
    static const struct {
        const char *file, *env, *deploy_id, *service;
    } cases[] = {
        {"github-actions.yml",
         "export DEPLOY_STATUS=success GITHUB_RUN_ID=4242 GITHUB_RUN_ATTEMPT=1 "
         "GITHUB_SHA=f95f852bd8fca8fcc58a9a2d6c842781e32a215e GITHUB_ACTOR=octocat "
         "GITHUB_SERVER_URL=https://github.com GITHUB_REPOSITORY=acme/api LOOPHUB_SERVICE=api "
         "LOOPHUB_TOKEN= RUNNER_TEMP=$DIR RUNNER_TOOL_CACHE=$DIR LOOPHUB_URL=$URL\n",
         "gha-4242-1", "api"},
        {"gitlab-ci.yml",
         "export CI_JOB_STATUS=success CI_PIPELINE_ID=77 CI_PROJECT_NAME=web "
         "CI_COMMIT_SHORT_SHA=f95f852b CI_COMMIT_SHA=f95f852bd8fca8fcc58a9a2d6c842781e32a215e "
         "GITLAB_USER_LOGIN=alice CI_PIPELINE_URL=https://gitlab.example/p/77 LOOPHUB_URL=$URL\n",
         "gitlab-ci-77", "web"},
        {"Jenkinsfile",
         "export JOB_NAME=api-deploy BUILD_NUMBER=9 "
         "GIT_COMMIT=f95f852bd8fca8fcc58a9a2d6c842781e32a215e BUILD_URL=https://ci.example/9 "
         "WORKSPACE=$DIR LOOPHUB_URL=$URL\n",
         "jenkins-api-deploy-9", "api"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[700], script[700];
        snprintf(path, sizeof(path), "%s/examples/integrations/%s", LH_SOURCE_DIR, cases[i].file);
        char *body = template_script(path);
        ck_assert_msg(strstr(body, "loophub send deploy"), "%s: no step found:\n%s", cases[i].file,
                      body);
        snprintf(script, sizeof(script), "%s/step-%zu.sh", h.dir, i);
        FILE *f = fopen(script, "w");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "set -eu\nDIR=%s\nURL=%s\nexport PATH=%s:$PATH\ncd \"$DIR\"\n%s%s", h.dir, url,
                bindir, cases[i].env, body);
        fclose(f);
        free(body);
        const char *argv[] = {"bash", script, NULL};
        char *out = NULL, *err = NULL;
        int st = lh_test_run(argv, NULL, &out, &err, 30000);
        ck_assert_msg(st == 0, "%s: exit %d\n%s\n%s", cases[i].file, st, out ? out : "",
                      err ? err : "");
        free(out);
        free(err);
        char q[300];
        snprintf(q, sizeof(q),
                 "SELECT count(*) FROM events WHERE deploy_id = '%s' AND service = '%s' AND "
                 "environment = 'production' AND commit_sha = "
                 "'f95f852bd8fca8fcc58a9a2d6c842781e32a215e'",
                 cases[i].deploy_id, cases[i].service);
        lh_it_wait_sql(&h, q, 1, 10000);
    }
    lh_it_hub_stop(&h);
}
END_TEST

/* Settings that cannot work stop `loophub run` with a clear message. */
START_TEST(bad_settings)
{
    static const struct {
        const char *opt, *val, *want;
    } cases[] = {
        {"--github-secret-file", "/nonexistent/secret",
         "--github-secret-file: cannot read the "
         "secret file /nonexistent/secret"},
        {"--env-alias", "production", "--env-alias 'production': write it as NAME=ALIAS"},
        {"--github-service", "owner", "--github-service: 'owner' is not name or full_name"},
        {"--jira-enabled", "maybe", "--jira-enabled: 'maybe' is not on or off"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *dir = lh_test_tmpdir(), db[600];
        snprintf(db, sizeof(db), "%s/hub.db", dir);
        const char *argv[] = {lh_test_loophub_bin(),
                              "run",
                              "--db",
                              db,
                              "--http",
                              "off",
                              "--zmq-pull",
                              "off",
                              "--zmq-router",
                              "off",
                              "--zmq-pub",
                              "off",
                              cases[i].opt,
                              cases[i].val,
                              NULL};
        char *out = NULL, *err = NULL;
        int st = lh_test_run(argv, NULL, &out, &err, 20000);
        ck_assert_msg(st != 0 && err && strstr(err, cases[i].want), "%s: status %d, stderr: %s",
                      cases[i].opt, st, err ? err : "");
        free(out);
        free(err);
        lh_test_rmrf(dir);
        free(dir);
    }
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("sources");
    const lh_test_case_t cases[] = {
        {"github_then_pagerduty", github_then_pagerduty, 0, 0},
        {"no_configuration_correlates", no_configuration_correlates, 0, 0},
        {"gitlab_deploy_then_incident", gitlab_deploy_then_incident, 0, 0},
        {"jira_approval_in_audit", jira_approval_in_audit, 0, 0},
        {"token_secret_and_config_file", token_secret_and_config_file, 0, 0},
        {"send_as_a_pipeline_step", send_as_a_pipeline_step, 0, 0},
        {"ci_templates", ci_templates, 0, 0},
        {"bad_settings", bad_settings, 0, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 60, NULL, NULL);
    return lh_test_run_suite(s);
}
