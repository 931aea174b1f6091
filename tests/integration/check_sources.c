/*
 * check_sources.c - the webhook sources end to end: the real `loophub run` with secrets, aliases
 * and config sections, fed the payloads GitHub and PagerDuty publish (tests/data/sources) over
 * HTTP with the headers the senders send, signatures computed here.
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

/* The fixture at path with its times moved to ago_s seconds before now (the store refuses
 * nothing old, but the correlation window is counted from the deploy), written to h's dir as
 * name; returns that path (static). */
static const char *
fresh(const lh_it_hub_t *h, const char *path, const char *name, int ago_s)
{
    json_error_t e;
    json_t *root = json_load_file(path, 0, &e);
    ck_assert_msg(root != NULL, "%s: %s", path, e.text);
    char t[40];
    ck_assert_int_gt(lh_time_format(lh_now_ns() - (int64_t)ago_s * LH_NS_PER_SEC, t, sizeof(t)), 0);
    json_t *ds = json_object_get(root, "deployment_status");
    if (ds) {
        json_object_set_new(ds, "created_at", json_string(t));
        json_object_set_new(json_object_get(root, "deployment"), "created_at", json_string(t));
    }
    json_t *ev = json_object_get(root, "event");
    if (ev)
        json_object_set_new(ev, "occurred_at", json_string(t));
    static char out[700];
    snprintf(out, sizeof(out), "%s/%s", h->dir, name);
    ck_assert_int_eq(json_dump_file(root, out, JSON_COMPACT), 0);
    json_decref(root);
    return out;
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

/* The example: a GitHub deployment of repository Hello-World to production, then a
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

    const char *ds = fresh(&h, DS_FIXTURE, "ds.json", 600);
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
    const char *pd = fresh(&h, PD_FIXTURE, "pd.json", 60);
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
    const char *ds = fresh(&h, DS_FIXTURE, "ds.json", 600);
    expect(post_github(&h, "/v1/events", ds, "deployment_status", "d-1", NULL), 202, "gh-d-1");
    json_t *pd = json_load_file(fresh(&h, PD_FIXTURE, "pd0.json", 60), 0, NULL);
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

    const char *ds = fresh(&h, DS_FIXTURE, "ds.json", 600);
    expect(post_github(&h, "/v1/events", ds, "deployment_status", "d-1", NULL), 401,
           "Authorization: Bearer");
    const char *pd = fresh(&h, PD_FIXTURE, "pd.json", 60);
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
        {"token_secret_and_config_file", token_secret_and_config_file, 0, 0},
        {"bad_settings", bad_settings, 0, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 60, NULL, NULL);
    return lh_test_run_suite(s);
}
