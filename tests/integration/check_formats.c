/*
 * check_formats.c - the foreign formats end to end, against the real `loophub run` binary: a real
 * Prometheus Alertmanager (Debian's prometheus-alertmanager) delivering webhook notifications to
 * the hub, CloudEvents/CDEvents deploys and incidents over HTTP and ZMQ correlated with
 * Alertmanager alerts, artifact identity across differently spelled services, the three alert
 * encodings on PUB (protobuf, JSON, CloudEvents) as read by a SUB socket and by `loophub tail`,
 * and the rejection and quarantine of CDEvents types the hub does not take.
 *
 * Each test starts its own hub on free loopback ports with a fresh store in a temporary dir, fills
 * the templates of tests/data/e2e/ with ids and times of its own (events carry the current time,
 * so the correlation window and the clock-skew limit behave as in production), waits for
 * conditions (never sleeps in their place) and stops every process it started with SIGTERM,
 * expecting exit 0 (under ASan that includes no leaks).
 */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "ithub.h"
#include "loophub/correlated.h"
#include "loophub/error.h"
#include "loophub/format.h"
#include "loophub/timeutil.h"
#include "testutil.h"

#define E2E_DATA LH_TEST_DATA "/e2e"
#define AM_BIN "/usr/bin/prometheus-alertmanager"
/* a purl as CDEvents producers write it (the version's ':' percent-encoded) */
#define ARTIFACT_API                                                                               \
    "pkg:oci/api@sha256%3A0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427"

/* --- small helpers -----------------------------------------------------------------------------
 */

/* RFC 3339 UTC time offset_s seconds from now, into buf; returns that time. */
static time_t
iso(long offset_s, char *buf, size_t len)
{
    time_t t = time(NULL) + offset_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return t;
}

/* Replaces every "@KEY@" of tmpl by its value; kv is a NULL-terminated list of key, value.
 * Returns a malloc'd string; a placeholder left unfilled fails the test. */
static char *
subst(const char *tmpl, const char *const *kv)
{
    size_t cap = strlen(tmpl) + 1, o = 0;
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    for (const char *p = tmpl; *p;) {
        const char *val = NULL;
        size_t skip = 1;
        if (*p == '@') {
            for (int i = 0; kv[i]; i += 2) {
                size_t kl = strlen(kv[i]);
                if (strncmp(p + 1, kv[i], kl) == 0 && p[1 + kl] == '@') {
                    val = kv[i + 1];
                    skip = kl + 2;
                    break;
                }
            }
            if (!val) {
                size_t k = strspn(p + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");
                ck_assert_msg(k == 0 || p[1 + k] != '@', "placeholder left unfilled: %.*s",
                              (int)k + 2, p);
            }
        }
        size_t vl = val ? strlen(val) : 1;
        if (o + vl + 1 > cap) {
            cap = 2 * (o + vl + 1);
            out = realloc(out, cap);
            ck_assert_ptr_nonnull(out);
        }
        memcpy(out + o, val ? val : p, vl);
        o += vl;
        p += skip;
    }
    out[o] = 0;
    return out;
}

/* Loads tests/data/e2e/<name> and fills it in. */
static char *template(const char *name, const char *const *kv)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", E2E_DATA, name);
    char *t = lh_test_read_file(path, NULL);
    ck_assert_msg(t != NULL, "missing test data %s", path);
    char *s = subst(t, kv);
    free(t);
    return s;
}

/* The JSON text on one line (for `loophub send --json`, which sends each line as is). */
static char *
one_line(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    ck_assert_msg(j != NULL, "test data is not JSON: %s (line %d)", e.text, e.line);
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    ck_assert_ptr_nonnull(s);
    return s;
}

static json_t *
parse_json(const char *text, size_t len)
{
    json_error_t e;
    json_t *j = json_loadb(text, len, 0, &e);
    ck_assert_msg(j != NULL, "not JSON (%s at line %d column %d): %.*s", e.text, e.line, e.column,
                  (int)len, text);
    return j;
}

/* The string at a path of object keys and array indexes ("suspects", "#0", "deploy_id"), NULL
 * when absent or not a string. */
static const char *
jpath_str(json_t *j, const char *const *path)
{
    for (int i = 0; j && path[i]; i++)
        j = path[i][0] == '#' ? json_array_get(j, (size_t)atoi(path[i] + 1))
                              : json_object_get(j, path[i]);
    return json_is_string(j) ? json_string_value(j) : NULL;
}

/* --- HTTP with curl ----------------------------------------------------------------------------
 */

/* POSTs body to the hub's path with the content type; returns the status and the body. */
static lh_it_resp_t
http_post(const lh_it_hub_t *h, const char *path, const char *ctype, const char *body)
{
    char ct[128];
    snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
    const char *hdrs[] = {ct, NULL};
    return lh_it_curl(h, "POST", path, hdrs, body, 0, 0);
}

#define ASSERT_CODE(r, want)                                                                       \
    ck_assert_msg((r).code == (want), "HTTP %d, expected %d: %s", (r).code, (want), (r).body)

/* A GET with curl: the body when the answer was 2xx, else NULL. */
static char *
http_get_ok(const char *url)
{
    const char *argv[] = {"curl", "-sf", "--max-time", "2", url, NULL};
    char *out = NULL;
    int st = lh_test_run(argv, NULL, &out, NULL, 5000);
    if (st != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* --- the store, read beside the running hub ----------------------------------------------------
 */

/* Runs a query with sqlite3 -readonly; the malloc'd output ("" when the query failed). */
static char *
sql(const char *db, const char *query)
{
    const char *argv[] = {"sqlite3", "-readonly", db, query, NULL};
    char *out = NULL;
    int st = lh_test_run(argv, NULL, &out, NULL, 10000);
    if (st != 0) {
        free(out);
        out = strdup("");
    }
    return out;
}

typedef struct {
    const char *db;
    const char *query;
    const char *want; /* the exact output */
} sql_cond_t;

static int
sql_holds(void *arg)
{
    const sql_cond_t *c = arg;
    char *out = sql(c->db, c->query);
    int ok = strcmp(out, c->want) == 0;
    free(out);
    return ok;
}

/* --- alerts on PUB -----------------------------------------------------------------------------
 */

static int
has_reason(const lh_suspect_t *s, const char *needle)
{
    for (size_t i = 0; i < s->n_reasons; i++)
        if (strstr(s->reasons[i], needle))
            return 1;
    return 0;
}

static char *
reasons_of(const lh_suspect_t *s)
{
    static char buf[2048];
    buf[0] = 0;
    for (size_t i = 0; i < s->n_reasons; i++) {
        strncat(buf, s->reasons[i], sizeof(buf) - strlen(buf) - 1);
        strncat(buf, " | ", sizeof(buf) - strlen(buf) - 1);
    }
    return buf;
}

/* --- sending over ZMQ with `loophub send --json` -----------------------------------------------
 */

/* Writes the lines to a file and sends it with --json --reliable to the hub's ROUTER. Returns the
 * exit status; *out and *err receive send's output. */
static int
send_json_lines(const lh_it_hub_t *h, const char *const *lines, char **out, char **err)
{
    static int n_files;
    char path[700];
    snprintf(path, sizeof(path), "%s/lines-%d.jsonl", h->dir, n_files++);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; lines[i]; i++)
        fprintf(f, "%s\n", lines[i]);
    fclose(f);
    const char *argv[] = {lh_test_loophub_bin(), "send", "--json", path, "--to", h->router,
                          "--reliable",          NULL};
    return lh_test_run(argv, NULL, out, err, 20000);
}

/* --- events from the templates -----------------------------------------------------------------
 */

static char *
ce_deploy(const char *id, const char *service, const char *artifact, long offset_s)
{
    char t[40];
    iso(offset_s, t, sizeof(t));
    const char *kv[] = {"ID", id, "TIME", t, "SERVICE", service, "ARTIFACT", artifact, NULL};
    return template("ce-service-deployed.json", kv);
}

static char *
ce_incident(const char *id, const char *incident, const char *service, const char *artifact,
            long offset_s)
{
    char t[40];
    iso(offset_s, t, sizeof(t));
    const char *kv[] = {"ID",      id,      "TIME",     t,        "INCIDENT", incident,
                        "SERVICE", service, "ARTIFACT", artifact, NULL};
    return template("ce-incident-detected.json", kv);
}

static char *
am_webhook(const char *service, const char *fingerprint, long offset_s)
{
    char t[40];
    iso(offset_s, t, sizeof(t));
    const char *kv[] = {"SERVICE", service, "STARTS", t, "FINGERPRINT", fingerprint, NULL};
    return template("am-webhook-firing.json", kv);
}

/* ============================================================================================== */
/* 1. a real client: Debian's prometheus-alertmanager delivers to the hub's webhook endpoint      */
/* ============================================================================================== */

typedef struct {
    char url[128];
} ready_t;

static int
am_ready(void *arg)
{
    const ready_t *r = arg;
    char *out = http_get_ok(r->url);
    free(out);
    return out != NULL;
}

typedef struct {
    int port;
    long min;
} metric_cond_t;

/* loophub_events_duplicate_total on /metrics reached min */
static int
duplicates_reached(void *arg)
{
    const metric_cond_t *c = arg;
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", c->port);
    char *m = http_get_ok(url);
    long v = -1;
    const char *p = m ? strstr(m, "\nloophub_events_duplicate_total ") : NULL;
    if (p)
        v = atol(p + strlen("\nloophub_events_duplicate_total "));
    free(m);
    return v >= c->min;
}

START_TEST(test_real_alertmanager_delivers)
{
    if (access(AM_BIN, X_OK) != 0) {
        /* a machine without the package cannot run this; say so loudly rather than pass */
        ck_abort_msg("%s is not installed (Debian package prometheus-alertmanager)", AM_BIN);
    }
    lh_it_hub_t h;
    lh_it_hub_start(&h, 1, NULL);

    /* Alertmanager's configuration, pointing its webhook at the hub */
    char hub_url[128], cfg_path[700], storage[700], listen[64], am_log[700];
    snprintf(hub_url, sizeof(hub_url), "http://127.0.0.1:%d/v1/alertmanager", h.http_port);
    const char *kv[] = {"HUB_URL", hub_url, NULL};
    char *cfg = template("alertmanager.yml.in", kv);
    snprintf(cfg_path, sizeof(cfg_path), "%s/alertmanager.yml", h.dir);
    ck_assert_int_eq(lh_test_write_file(cfg_path, cfg, strlen(cfg)), 0);
    free(cfg);
    snprintf(storage, sizeof(storage), "%s/am-data", h.dir);
    snprintf(am_log, sizeof(am_log), "%s/alertmanager.log", h.dir);
    int am_port = lh_test_free_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", am_port);
    char cfg_opt[720], storage_opt[720], listen_opt[100];
    snprintf(cfg_opt, sizeof(cfg_opt), "--config.file=%s", cfg_path);
    snprintf(storage_opt, sizeof(storage_opt), "--storage.path=%s", storage);
    snprintf(listen_opt, sizeof(listen_opt), "--web.listen-address=%s", listen);
    const char *am_argv[] = {
        AM_BIN, cfg_opt, storage_opt, listen_opt, "--cluster.listen-address=", NULL};
    pid_t am = lh_test_spawn(am_argv, am_log);
    ready_t rd;
    snprintf(rd.url, sizeof(rd.url), "http://%s/-/ready", listen);
    if (!lh_test_wait_for(am_ready, &rd, 20000)) {
        lh_test_stop(am, SIGKILL, 5000);
        char *log = lh_test_read_file(am_log, NULL);
        ck_abort_msg("alertmanager did not become ready; its log:\n%s", log ? log : "(none)");
    }

    /* an alert posted to Alertmanager's own API, as Prometheus would */
    char starts[40];
    time_t starts_t = iso(-30, starts, sizeof(starts));
    const char *akv[] = {"SERVICE", "am-checkout", "STARTS", starts, NULL};
    char *alerts = template("am-post-alerts.json", akv);
    char alerts_path[700], at[720], api[128];
    snprintf(alerts_path, sizeof(alerts_path), "%s/alerts.json", h.dir);
    ck_assert_int_eq(lh_test_write_file(alerts_path, alerts, strlen(alerts)), 0);
    free(alerts);
    snprintf(at, sizeof(at), "@%s", alerts_path);
    snprintf(api, sizeof(api), "http://%s/api/v2/alerts", listen);
    const char *post[] = {"curl",          "-sS", "-f", "-H", "Content-Type: application/json",
                          "--data-binary", at,    api,  NULL};
    char *out = NULL, *err = NULL;
    ck_assert_msg(lh_test_run(post, NULL, &out, &err, 10000) == 0, "POST %s: %s %s", api, out, err);
    free(out);
    free(err);

    /* the notification reaches the hub and becomes an alert event */
    sql_cond_t stored = {
        h.db, "SELECT count(*) FROM events WHERE kind = 2 AND service = 'am-checkout';", "1\n"};
    if (!lh_test_wait_for(sql_holds, &stored, 20000)) {
        lh_test_stop(am, SIGKILL, 5000);
        char *log = lh_test_read_file(am_log, NULL), *hl = lh_test_read_file(h.log, NULL);
        ck_abort_msg("no alert event stored; alertmanager log:\n%s\nhub log:\n%s", log ? log : "",
                     hl ? hl : "");
    }
    /* the columns the store keeps (an outcome alert: its name and fingerprint find its period);
     * severity, hosts and source are in the canonical protobuf, shown by the timeline below */
    char *row = sql(h.db, "SELECT substr(id, 1, 3), service, environment, state, outcome, "
                          "name, length(fingerprint), time / 1000000000 "
                          "FROM events WHERE kind = 2;");
    /* state 1 = firing (include/loophub/event.h) */
    char want[400];
    snprintf(want, sizeof(want), "am-|am-checkout|prod|1|1|HighErrorRate|16|%lld\n",
             (long long)starts_t);
    ck_assert_str_eq(row, want);
    free(row);

    /* the decoded event as loophub shows it: words, not numbers */
    const char *tl[] = {lh_test_loophub_bin(),
                        "timeline",
                        "--service",
                        "am-checkout",
                        "--env",
                        "prod",
                        "--db",
                        h.db,
                        "--format",
                        "json",
                        NULL};
    ck_assert_int_eq(lh_test_run(tl, NULL, &out, &err, 20000), 0);
    ck_assert_msg(strstr(out, "\"critical\"") && strstr(out, "\"firing\"") &&
                      strstr(out, "\"web-1\"") && strstr(out, "\"HighErrorRate\"") &&
                      strstr(out, "\"source\":\"alertmanager:"),
                  "timeline: %s", out);
    free(out);
    free(err);

    /* Alertmanager re-sends the group every repeat_interval: the hub sees duplicates and keeps
     * one event */
    metric_cond_t dup = {h.http_port, 1};
    ck_assert_msg(lh_test_wait_for(duplicates_reached, &dup, 20000),
                  "alertmanager's re-sent notification was never counted as a duplicate");
    char *cnt = sql(h.db, "SELECT count(*) FROM events; SELECT count(*) FROM quarantine;");
    ck_assert_str_eq(cnt, "1\n0\n");
    free(cnt);

    /* the alert ends: Alertmanager sends the resolution (send_resolved), a new event timed at
     * endsAt */
    char ends[40];
    time_t ends_t = iso(-1, ends, sizeof(ends));
    const char *rkv[] = {"SERVICE", "am-checkout", "STARTS", starts, NULL};
    char *resolved = template("am-post-alerts.json", rkv);
    json_t *rj = parse_json(resolved, strlen(resolved));
    json_object_set_new(json_array_get(rj, 0), "endsAt", json_string(ends));
    free(resolved);
    resolved = json_dumps(rj, JSON_COMPACT);
    json_decref(rj);
    ck_assert_int_eq(lh_test_write_file(alerts_path, resolved, strlen(resolved)), 0);
    free(resolved);
    ck_assert_msg(lh_test_run(post, NULL, &out, &err, 10000) == 0, "POST %s: %s %s", api, out, err);
    free(out);
    free(err);
    char q[256];
    snprintf(q, sizeof(q),
             "SELECT count(*) FROM events WHERE kind = 2 AND state = 2 AND "
             "name = 'HighErrorRate' AND service = 'am-checkout' AND time = %lld * 1000000000;",
             (long long)ends_t);
    sql_cond_t res = {h.db, q, "1\n"};
    ck_assert_msg(lh_test_wait_for(sql_holds, &res, 20000), "the resolution was never stored");

    ck_assert_int_eq(lh_test_stop(am, SIGTERM, 15000), 0);
    lh_it_hub_stop(&h);
}
END_TEST

/* ============================================================================================== */
/* 2. a CDEvents deploy, then an Alertmanager webhook for the same service: a correlated alert    */
/* ============================================================================================== */

static void
assert_deploy_preceded_am_alert(lh_correlated_t *ca, const char *topic, const char *service,
                                const char *deploy_id)
{
    char want_topic[128];
    snprintf(want_topic, sizeof(want_topic), "alert.prod.%s", service);
    ck_assert_msg(ca != NULL, "no correlated alert on PUB");
    ck_assert_str_eq(topic, want_topic);
    ck_assert_int_eq(ca->kind, LH_CA_DEPLOY_PRECEDED_ALERT);
    ck_assert_str_eq(ca->service, service);
    ck_assert_str_eq(ca->environment, "prod");
    ck_assert_uint_ge(ca->n_suspects, 1);
    ck_assert_str_eq(ca->suspects[0].deploy_id, deploy_id);
    ck_assert_str_eq(ca->suspects[0].event_id, deploy_id);
    ck_assert_str_eq(ca->suspects[0].previous_version, "1.4.1");
    ck_assert_str_eq(ca->rollback_version, "1.4.1");
    ck_assert_str_eq(ca->suspects[0].actor, "alice");
    ck_assert_int_ge(ca->suspects[0].lead_seconds, 280);
    ck_assert_int_le(ca->suspects[0].lead_seconds, 320);
    ck_assert_msg(has_reason(&ca->suspects[0], "same service and environment") &&
                      has_reason(&ca->suspects[0], "before the alert"),
                  "reasons: %s", reasons_of(&ca->suspects[0]));
    ck_assert_ptr_nonnull(ca->outcome);
    ck_assert_int_eq(ca->outcome->kind, LH_KIND_ALERT);
    ck_assert_str_eq(ca->outcome->alert.name, "HighErrorRate");
    ck_assert_int_eq(ca->outcome->alert.severity, LH_SEV_CRITICAL);
    ck_assert_int_eq(ca->outcome->alert.state, LH_ALERT_FIRING);
    ck_assert_msg(strncmp(ca->outcome->id, "am-", 3) == 0, "outcome id %s", ca->outcome->id);
}

START_TEST(test_cdevents_deploy_then_am_webhook_http)
{
    lh_it_hub_t h;
    lh_it_hub_start(&h, 1, NULL);
    lh_it_sub_t s;
    lh_it_sub_open(&s, h.pub, "alert.prod.");
    char *dep = ce_deploy("ce-dep-1", "checkout", "pkg:oci/checkout@1.4.2", -300);
    lh_it_resp_t r = http_post(&h, "/v1/events", "application/cloudevents+json", dep);
    ASSERT_CODE(r, 202);
    ck_assert_msg(strstr(r.body, "\"accepted\":[\"ce-dep-1\"]"), "%s", r.body);
    free(r.body);
    char *am = am_webhook("checkout", "5a1e0c7f00d1e001", -5);
    r = http_post(&h, "/v1/alertmanager", "application/json", am);
    ASSERT_CODE(r, 202);
    ck_assert_msg(strstr(r.body, "\"accepted\":[\"am-"), "%s", r.body);
    free(r.body);

    char topic[256];
    lh_correlated_t *ca = lh_it_sub_recv_pb(&s, topic, sizeof(topic), 10000);
    assert_deploy_preceded_am_alert(ca, topic, "checkout", "ce-dep-1");
    lh_correlated_destroy(&ca);

    /* the same notification again (an Alertmanager retry): stored once, alerted once */
    r = http_post(&h, "/v1/alertmanager", "application/json", am);
    ASSERT_CODE(r, 202);
    ck_assert_msg(strstr(r.body, "\"accepted\":[]") && strstr(r.body, "\"duplicates\":[\"am-"),
                  "%s", r.body);
    free(r.body);
    /* another alert after it: the next correlated alert is that one's, so the retry raised none */
    char *am2 = am_webhook("checkout", "5a1e0c7f00d1e002", -4);
    r = http_post(&h, "/v1/alertmanager", "application/json", am2);
    ASSERT_CODE(r, 202);
    free(r.body);
    ca = lh_it_sub_recv_pb(&s, topic, sizeof(topic), 10000);
    ck_assert_msg(ca != NULL, "no alert for the notification after the retry");
    ck_assert_ptr_nonnull(ca->outcome);
    ck_assert_str_eq(ca->outcome->alert.fingerprint, "5a1e0c7f00d1e002");
    ck_assert_uint_eq(ca->seq, 2);
    lh_correlated_destroy(&ca);
    free(am2);
    free(dep);
    free(am);
    lh_it_sub_close(&s);
    lh_it_hub_stop(&h);
}
END_TEST

START_TEST(test_cdevents_deploy_then_am_webhook_zmq)
{
    lh_it_hub_t h;
    lh_it_hub_start(&h, 1, NULL);
    lh_it_sub_t s;
    lh_it_sub_open(&s, h.pub, "alert.prod.");
    char *dep = ce_deploy("ce-dep-2", "cart", "pkg:oci/cart@1.4.2", -300);
    char *am = am_webhook("cart", "5a1e0c7f00d1e002", -5);
    char *l1 = one_line(dep), *l2 = one_line(am);
    /* the deploy first, alone, so the alert cannot come before it whatever the batching */
    const char *first[] = {l1, NULL};
    char *out = NULL, *err = NULL;
    int rc = send_json_lines(&h, first, &out, &err);
    ck_assert_msg(rc == 0, "send deploy: %d: %s %s", rc, out, err);
    ck_assert_msg(strstr(out, "ok ce-dep-2"), "out: %s", out);
    free(out);
    free(err);
    const char *second[] = {l2, NULL};
    rc = send_json_lines(&h, second, &out, &err);
    ck_assert_msg(rc == 0, "send alertmanager notification: %d: %s %s", rc, out, err);
    ck_assert_msg(strstr(out, "ok am-"), "out: %s", out);
    free(out);
    free(err);

    char topic[256];
    lh_correlated_t *ca = lh_it_sub_recv_pb(&s, topic, sizeof(topic), 10000);
    assert_deploy_preceded_am_alert(ca, topic, "cart", "ce-dep-2");
    lh_correlated_destroy(&ca);
    free(l1);
    free(l2);
    free(dep);
    free(am);
    lh_it_sub_close(&s);
    lh_it_hub_stop(&h);
}
END_TEST

/* ============================================================================================== */
/* 3. artifact identity: an incident naming the artifact a deploy shipped, service spelled apart */
/* ============================================================================================== */

START_TEST(test_artifact_identity)
{
    lh_it_hub_t h;
    lh_it_hub_start(&h, 1, NULL);
    lh_it_sub_t s;
    lh_it_sub_open(&s, h.pub, "alert.prod.");
    char *dep = ce_deploy("ce-dep-3", "api-svc", ARTIFACT_API, -600);
    /* another deploy of the same service name as the incident, different artifact, more recent:
     * a same-service relation that must rank below the artifact */
    char *other = ce_deploy("ce-dep-4", "API", "pkg:oci/api-gateway@2.0.0", -120);
    char *inc = ce_incident("ce-inc-3", "INC-3", "API", ARTIFACT_API, -10);
    lh_it_resp_t r = http_post(&h, "/v1/events", "application/cloudevents+json", dep);
    ASSERT_CODE(r, 202);
    free(r.body);
    r = http_post(&h, "/v1/events", "application/cloudevents+json", other);
    ASSERT_CODE(r, 202);
    free(r.body);
    r = http_post(&h, "/v1/events", "application/cloudevents+json", inc);
    ASSERT_CODE(r, 202);
    ck_assert_msg(strstr(r.body, "\"accepted\":[\"ce-inc-3\"]"), "%s", r.body);
    free(r.body);

    char topic[256];
    lh_correlated_t *ca = lh_it_sub_recv_pb(&s, topic, sizeof(topic), 10000);
    ck_assert_msg(ca != NULL, "no correlated alert for the artifact");
    ck_assert_int_eq(ca->kind, LH_CA_DEPLOY_PRECEDED_INCIDENT);
    ck_assert_ptr_nonnull(ca->outcome);
    ck_assert_str_eq(ca->outcome->incident.incident_id, "INC-3");
    ck_assert_uint_ge(ca->n_suspects, 1);
    const lh_suspect_t *top = &ca->suspects[0];
    ck_assert_msg(strcmp(top->deploy_id, "ce-dep-3") == 0, "top suspect %s (reasons: %s)",
                  top->deploy_id, reasons_of(top));
    ck_assert_str_eq(top->service, "api-svc");
    /* the purl's version, percent-decoded */
    ck_assert_str_eq(top->version,
                     "sha256:0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427");
    ck_assert_msg(has_reason(top, "names artifact pkg:oci/api@sha256"),
                  "no reason names the artifact: %s", reasons_of(top));
    ck_assert_msg(strstr(top->reasons[0], "artifact") != NULL,
                  "the artifact is the strongest reason, first: %s", reasons_of(top));
    if (ca->n_suspects > 1)
        ck_assert_double_gt(top->score, ca->suspects[1].score);
    lh_correlated_destroy(&ca);
    free(dep);
    free(other);
    free(inc);
    lh_it_sub_close(&s);
    lh_it_hub_stop(&h);
}
END_TEST

/* ============================================================================================== */
/* 4. the three alert encodings on PUB, read by a SUB socket and by `loophub tail --json`        */
/* ============================================================================================== */

static const char *const formats[] = {"protobuf", "json", "cloudevents"};

typedef struct {
    const char *log;
    int want;
} subs_cond_t;

static int
subscribed(void *arg)
{
    const subs_cond_t *c = arg;
    return lh_test_file_count(c->log, "zmq-pub: subscribe 'alert.") >= c->want;
}

/* The suspects[0].deploy_id and kind of an alert in loophub's JSON form. */
static void
assert_alert_json(json_t *a, const char *what, const char *service, const char *deploy_id)
{
    const char *p_dep[] = {"suspects", "#0", "deploy_id", NULL};
    const char *p_kind[] = {"kind", NULL};
    const char *p_svc[] = {"service", NULL};
    const char *p_inc[] = {"outcome", "incident", "incident_id", NULL};
    const char *d = jpath_str(a, p_dep);
    ck_assert_msg(d && strcmp(d, deploy_id) == 0, "%s: suspects[0].deploy_id: %s", what,
                  d ? d : "(none)");
    ck_assert_str_eq(jpath_str(a, p_kind) ? jpath_str(a, p_kind) : "", "deploy_preceded_incident");
    ck_assert_str_eq(jpath_str(a, p_svc) ? jpath_str(a, p_svc) : "", service);
    ck_assert_str_eq(jpath_str(a, p_inc) ? jpath_str(a, p_inc) : "", "INC-4");
    ck_assert_msg(json_is_integer(json_object_get(a, "seq")) &&
                      json_integer_value(json_object_get(a, "seq")) >= 1,
                  "seq");
}

START_TEST(test_alerts_formats)
{
    const char *fmt = formats[_i];
    const char *extra[] = {"--alerts-format", fmt, "--log-level", "debug", NULL};
    lh_it_hub_t h;
    lh_it_hub_start(&h, 1, extra);

    char tail_out[700];
    snprintf(tail_out, sizeof(tail_out), "%s/tail.out", h.dir);
    const char *targv[] = {lh_test_loophub_bin(), "tail", "--from", h.pub, "--json", "--count", "1",
                           "--timeout",           "30s",  NULL};
    pid_t tail = lh_test_spawn(targv, tail_out);
    lh_it_sub_t s;
    lh_it_sub_open(&s, h.pub, "alert.");
    /* both subscribers are known to the hub before the alert exists (PUB does not replay) */
    subs_cond_t sc = {h.log, 2};
    ck_assert_msg(lh_test_wait_for(subscribed, &sc, 10000), "tail and the SUB never subscribed");

    char *dep = ce_deploy("ce-dep-5", "search", "pkg:oci/search@3.1.0", -300);
    char *inc = ce_incident("ce-inc-5", "INC-4", "search", "pkg:oci/search@3.1.0", -5);
    /* plain application/json: the hub detects the CloudEvent by its specversion */
    lh_it_resp_t r = http_post(&h, "/v1/events", "application/json", dep);
    ASSERT_CODE(r, 202);
    free(r.body);
    r = http_post(&h, "/v1/events", "application/cloudevents+json", inc);
    ASSERT_CODE(r, 202);
    free(r.body);

    char topic[256];
    size_t len = 0;
    char *body = lh_it_sub_recv_raw(&s, topic, sizeof(topic), &len, 10000);
    ck_assert_msg(body != NULL, "no alert on PUB (format %s)", fmt);
    ck_assert_str_eq(topic, "alert.prod.search");
    if (strcmp(fmt, "protobuf") == 0) {
        lh_correlated_t *ca = NULL;
        ck_assert_int_eq(lh_codec_alert_pb_decode(body, len, &ca), 0);
        ck_assert_str_eq(ca->suspects[0].deploy_id, "ce-dep-5");
        lh_correlated_destroy(&ca);
    } else if (strcmp(fmt, "json") == 0) {
        json_t *a = parse_json(body, len);
        ck_assert_ptr_null(json_object_get(a, "specversion"));
        assert_alert_json(a, "json on PUB", "search", "ce-dep-5");
        json_decref(a);
    } else {
        json_t *ce = parse_json(body, len);
        const char *p_sv[] = {"specversion", NULL}, *p_type[] = {"type", NULL};
        const char *p_id[] = {"id", NULL}, *p_src[] = {"source", NULL};
        const char *p_subj[] = {"subject", NULL}, *p_ct[] = {"datacontenttype", NULL};
        const char *p_did[] = {"data", "id", NULL};
        ck_assert_str_eq(jpath_str(ce, p_sv) ? jpath_str(ce, p_sv) : "", "1.0");
        ck_assert_str_eq(jpath_str(ce, p_type) ? jpath_str(ce, p_type) : "",
                         "dev.loophub.alert.correlated.0.1.0");
        ck_assert_str_eq(jpath_str(ce, p_src) ? jpath_str(ce, p_src) : "", "loophub");
        ck_assert_str_eq(jpath_str(ce, p_subj) ? jpath_str(ce, p_subj) : "", "search");
        ck_assert_str_eq(jpath_str(ce, p_ct) ? jpath_str(ce, p_ct) : "", "application/json");
        const char *id = jpath_str(ce, p_id), *did = jpath_str(ce, p_did);
        ck_assert_msg(id && did && strcmp(id, did) == 0 && strncmp(id, "ca-", 3) == 0,
                      "the CloudEvent id is the alert's id: %s / %s", id ? id : "-",
                      did ? did : "-");
        json_t *tm = json_object_get(ce, "time");
        int64_t created = 0;
        ck_assert_msg(json_is_string(tm) && lh_time_parse(json_string_value(tm), &created) == 0 &&
                          created > 0,
                      "the CloudEvent's time is when the alert was created");
        json_t *data = json_object_get(ce, "data");
        ck_assert_msg(json_is_object(data), "data is the alert object");
        assert_alert_json(data, "CloudEvent data on PUB", "search", "ce-dep-5");
        json_decref(ce);
    }
    free(body);

    /* tail read the same alert, whatever the encoding, and printed it as loophub JSON */
    int st = lh_test_stop(tail, 0, 20000);
    char *t = lh_test_read_file(tail_out, NULL);
    ck_assert_msg(st == 0, "tail exited %d with %s alerts; it printed: %s", st, fmt, t ? t : "");
    ck_assert_ptr_nonnull(t);
    json_t *a = parse_json(t, strlen(t));
    char what[64];
    snprintf(what, sizeof(what), "tail --json with %s alerts", fmt);
    assert_alert_json(a, what, "search", "ce-dep-5");
    json_decref(a);
    free(t);
    free(dep);
    free(inc);
    lh_it_sub_close(&s);
    lh_it_hub_stop(&h);
}
END_TEST

/* ============================================================================================== */
/* 5. an unknown CDEvents type: rejected naming the type, quarantined, and the hub keeps serving  */
/* ============================================================================================== */

START_TEST(test_unknown_cdevents_type_quarantined)
{
    lh_it_hub_t h;
    lh_it_hub_start(&h, 1, NULL);
    const char *type = "dev.cdevents.pipelinerun.started.0.1.0";
    char t[40];
    iso(-10, t, sizeof(t));

    /* over HTTP: 400, the reason names the type */
    const char *kv1[] = {"ID", "ce-run-1", "TIME", t, NULL};
    char *run1 = template("ce-pipelinerun-started.json", kv1);
    lh_it_resp_t r = http_post(&h, "/v1/events", "application/cloudevents+json", run1);
    ASSERT_CODE(r, 400);
    ck_assert_msg(strstr(r.body, type), "the reason does not name the type: %s", r.body);
    ck_assert_msg(strstr(r.body, "\"id\":\"ce-run-1\""), "%s", r.body);
    free(r.body);

    /* over the ZMQ ROUTER with send --json --reliable: exit 1, the reason on stderr */
    const char *kv2[] = {"ID", "ce-run-2", "TIME", t, NULL};
    char *run2 = template("ce-pipelinerun-started.json", kv2);
    char *l2 = one_line(run2);
    const char *lines[] = {l2, NULL};
    char *out = NULL, *err = NULL;
    int rc = send_json_lines(&h, lines, &out, &err);
    ck_assert_msg(rc == 1, "send exit %d: %s %s", rc, out, err);
    ck_assert_msg(strstr(err, "rejected ce-run-2") && strstr(err, type), "stderr: %s", err);
    free(out);
    free(err);

    /* both are in the quarantine table with the reason, neither in the timeline */
    char q[512];
    snprintf(q, sizeof(q),
             "SELECT group_concat(event_id, ',') FROM (SELECT event_id FROM quarantine WHERE "
             "reason LIKE '%%%s%%' AND payload IS NOT NULL ORDER BY event_id); "
             "SELECT count(*) FROM events;",
             type);
    sql_cond_t qc = {h.db, q, "ce-run-1,ce-run-2\n0\n"};
    if (!lh_test_wait_for(sql_holds, &qc, 10000)) {
        char *all = sql(h.db, "SELECT origin, event_id, reason FROM quarantine;");
        ck_abort_msg("quarantine holds: %s", all);
    }

    /* and the hub keeps serving, on both transports */
    char *dep = ce_deploy("ce-dep-6", "billing", "pkg:oci/billing@1.0.0", -60);
    r = http_post(&h, "/v1/events", "application/cloudevents+json", dep);
    ASSERT_CODE(r, 202);
    ck_assert_msg(strstr(r.body, "\"accepted\":[\"ce-dep-6\"]"), "%s", r.body);
    free(r.body);
    char *inc = ce_incident("ce-inc-6", "INC-6", "billing", "pkg:oci/billing@1.0.0", -5);
    char *l3 = one_line(inc);
    const char *good[] = {l3, NULL};
    rc = send_json_lines(&h, good, &out, &err);
    ck_assert_msg(rc == 0 && strstr(out, "ok ce-inc-6"), "send: %d: %s %s", rc, out, err);
    free(out);
    free(err);
    free(run1);
    free(run2);
    free(l2);
    free(l3);
    free(dep);
    free(inc);
    lh_it_hub_stop(&h);
}
END_TEST

static Suite *
formats_suite(void)
{
    Suite *s = suite_create("formats");
    const lh_test_case_t cases[] = {
        {"real_alertmanager", test_real_alertmanager_delivers, 0, 1},
        {"cdevents_then_am_http", test_cdevents_deploy_then_am_webhook_http, 0, 1},
        {"cdevents_then_am_zmq", test_cdevents_deploy_then_am_webhook_zmq, 0, 1},
        {"artifact_identity", test_artifact_identity, 0, 1},
        {"alerts_formats", test_alerts_formats, 0, 3},
        {"unknown_cdevents_type", test_unknown_cdevents_type_quarantined, 0, 1},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 60, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(formats_suite());
}
