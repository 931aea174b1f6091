/*
 * check_http.c - the HTTP API of the real `loophub run` binary, driven by curl (a real client)
 * and by raw sockets for clients that misbehave.
 *
 * Each test starts its own hub on free ports with a fresh store, waits until /healthz answers,
 * and stops it with SIGTERM at the end, asserting a clean exit (under ASan that includes no
 * leaks). Events carry the current time, so the hub's clock-skew limit never interferes.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ithub.h"
#include "loophub/timeutil.h"
#include "testutil.h"

#define CONFORMANCE_DIR LH_TEST_DATA "/conformance"
#define TOKEN "t0ken-for-tests"

/* --- raw HTTP over a socket --------------------------------------------------------------- */

static int
connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends req and reads the answer until EOF (or timeout_ms). Returns the malloc'd answer, or NULL
 * when the connection failed. */
static char *
raw_exchange(int port, const char *req, size_t len, int timeout_ms)
{
    int fd = connect_port(port);
    if (fd < 0)
        return NULL;
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    size_t cap = 4096, got = 0;
    char *out = malloc(cap + 1);
    ck_assert_ptr_nonnull(out);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0)
            break;
        if (got == cap) {
            cap *= 2;
            out = realloc(out, cap + 1);
            ck_assert_ptr_nonnull(out);
        }
        ssize_t n = recv(fd, out + got, cap - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    out[got] = 0;
    close(fd);
    return out;
}

/* Ready: /healthz answers with {"status":"ok"}. */
static int
healthz_ok(void *arg)
{
    const lh_it_hub_t *h = arg;
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    char *ans = raw_exchange(h->http_port, req, sizeof(req) - 1, 1000);
    int ok = ans && strncmp(ans, "HTTP/1.1 200", 12) == 0 && strstr(ans, "{\"status\":\"ok\"}");
    free(ans);
    return ok;
}

/* --- the hub under test -------------------------------------------------------------------- */

/* Starts `loophub run` on its own ports and store with the given extra options (NULL-terminated,
 * may be NULL) and waits for /healthz. */
static void
hub_start(lh_it_hub_t *h, const char *const *extra)
{
    lh_it_hub_init(h, 1);
    h->ready = healthz_ok;
    lh_it_hub_run(h, extra);
}

/* --- curl (lh_it_curl(), ithub.h) ------------------------------------------------------------ */

static lh_it_resp_t
post(const lh_it_hub_t *h, const char *path, const char *ctype, const char *body)
{
    char ct[128];
    snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
    const char *hdrs[] = {ct, NULL};
    return lh_it_curl(h, "POST", path, hdrs, body, 0, 0);
}

/* Counts the strings in the JSON array that follows "key": in body. */
static int
count_in(const char *body, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":[", key);
    const char *p = strstr(body, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    int n = 0, depth = 0;
    for (; *p && !(*p == ']' && depth == 0); p++) {
        if (*p == '{')
            depth++;
        else if (*p == '}')
            depth--;
        else if (*p == '"' && depth == 0) {
            n++;
            for (p++; *p && *p != '"'; p++)
                if (*p == '\\' && p[1])
                    p++;
        }
    }
    return n;
}

static void
now_rfc3339(char *buf, size_t len)
{
    time_t t = time(NULL) - 60;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A loophub JSON deploy or incident with the current time; service NULL leaves it out. */
static char *
event_json(const char *id, const char *kind, const char *service)
{
    char t[32], svc[96] = "";
    now_rfc3339(t, sizeof(t));
    if (service)
        snprintf(svc, sizeof(svc), "\"service\":\"%s\",", service);
    char *s = malloc(512);
    ck_assert_ptr_nonnull(s);
    if (strcmp(kind, "deploy") == 0)
        snprintf(s, 512,
                 "{\"id\":\"%s\",\"kind\":\"deploy\",\"time\":\"%s\",%s\"environment\":\"prod\","
                 "\"deploy\":{\"deploy_id\":\"D-%s\",\"status\":\"succeeded\",\"version\":\"2\"}}",
                 id, t, svc, id);
    else
        snprintf(s, 512,
                 "{\"id\":\"%s\",\"kind\":\"incident\",\"time\":\"%s\",%s\"environment\":\"prod\","
                 "\"incident\":{\"incident_id\":\"INC-%s\",\"state\":\"detected\"}}",
                 id, t, svc, id);
    return s;
}

#define ASSERT_CODE(r, want)                                                                       \
    ck_assert_msg((r).code == (want), "HTTP %d, expected %d: %s", (r).code, (want), (r).body)

/* --- tests --------------------------------------------------------------------------------- */

START_TEST(test_event_then_duplicate)
{
    lh_it_hub_t h;
    hub_start(&h, NULL);
    char *ev = event_json("d-1", "deploy", "api");
    lh_it_resp_t r = post(&h, "/v1/events", "application/json", ev);
    ASSERT_CODE(r, 202);
    ck_assert_msg(strstr(r.body, "\"accepted\":[\"d-1\"]"), "%s", r.body);
    free(r.body);
    r = post(&h, "/v1/events", "application/json", ev);
    ASSERT_CODE(r, 202);
    ck_assert_msg(strstr(r.body, "\"duplicates\":[\"d-1\"]"), "%s", r.body);
    ck_assert_msg(strstr(r.body, "\"accepted\":[]"), "%s", r.body);
    free(r.body);
    free(ev);
    lh_it_hub_stop(&h);
}
END_TEST

START_TEST(test_cloudevents_batch)
{
    lh_it_hub_t h;
    hub_start(&h, NULL);
    char *dep = lh_test_read_file(CONFORMANCE_DIR "/cdevents/v0.4.1/service_deployed.json", NULL);
    char *inc = lh_test_read_file(CONFORMANCE_DIR "/cdevents/v0.4.1/incident_detected.json", NULL);
    ck_assert_msg(dep && inc, "conformance files missing under %s", CONFORMANCE_DIR);
    char t[32];
    now_rfc3339(t, sizeof(t));
    size_t cap = strlen(dep) + strlen(inc) + 1024;
    char *batch = malloc(cap);
    snprintf(batch, cap,
             "[{\"specversion\":\"1.0\",\"id\":\"ce-1\",\"source\":\"/ci\","
             "\"type\":\"dev.cdevents.service.deployed.0.2.0\",\"time\":\"%s\","
             "\"datacontenttype\":\"application/json\",\"data\":%s},"
             "{\"specversion\":\"1.0\",\"id\":\"ce-2\",\"source\":\"/mon\","
             "\"type\":\"dev.cdevents.incident.detected.0.1.0\",\"time\":\"%s\",\"data\":%s}]",
             t, dep, t, inc);
    lh_it_resp_t r = post(&h, "/v1/events", "application/cloudevents-batch+json", batch);
    ASSERT_CODE(r, 202);
    ck_assert_msg(strstr(r.body, "\"ce-1\"") && strstr(r.body, "\"ce-2\""), "%s", r.body);
    ck_assert_int_eq(count_in(r.body, "accepted"), 2);
    free(r.body);
    free(batch);
    free(dep);
    free(inc);
    lh_it_hub_stop(&h);
}
END_TEST

START_TEST(test_cloudevents_binary)
{
    lh_it_hub_t h;
    hub_start(&h, NULL);
    char *data = lh_test_read_file(LH_TEST_DATA "/cdevents/binary/service_upgraded.json", NULL);
    ck_assert_ptr_nonnull(data);
    const char *hdrs[] = {"ce-specversion: 1.0",
                          "ce-id: bin-deploy-1",
                          "ce-source: /ci/tekton",
                          "ce-type: dev.cdevents.service.upgraded.0.2.0",
                          "ce-time: 2026-01-01T10:00:00Z",
                          "Content-Type: application/json",
                          NULL};
    lh_it_resp_t r = lh_it_curl(&h, "POST", "/v1/events", hdrs, data, 0, 0);
    ASSERT_CODE(r, 202);
    ck_assert_msg(strstr(r.body, "\"accepted\":[\"bin-deploy-1\"]"), "%s", r.body);
    free(r.body);
    free(data);
    lh_it_hub_stop(&h);
}
END_TEST

START_TEST(test_alertmanager)
{
    lh_it_hub_t h;
    hub_start(&h, NULL);
    char *am = lh_test_read_file(CONFORMANCE_DIR "/alertmanager/firing.json", NULL);
    ck_assert_msg(am != NULL, "missing %s", CONFORMANCE_DIR "/alertmanager/firing.json");
    lh_it_resp_t r = post(&h, "/v1/alertmanager", "application/json", am);
    ASSERT_CODE(r, 202);
    ck_assert_int_eq(count_in(r.body, "accepted"), 2);
    free(r.body);
    /* the same notification again: both duplicates, nothing new */
    r = post(&h, "/v1/alertmanager", "application/json", am);
    ASSERT_CODE(r, 202);
    ck_assert_int_eq(count_in(r.body, "duplicates"), 2);
    ck_assert_int_eq(count_in(r.body, "accepted"), 0);
    free(r.body);
    free(am);
    lh_it_hub_stop(&h);
}
END_TEST

START_TEST(test_broken_json)
{
    lh_it_hub_t h;
    hub_start(&h, NULL);
    lh_it_resp_t r = post(&h, "/v1/events", "application/json", "{\"id\": \"x\",\n \"kind\": }");
    ASSERT_CODE(r, 400);
    ck_assert_msg(strstr(r.body, "line 2 column"), "no position in: %s", r.body);
    ck_assert_msg(strstr(r.body, "\"rejected\":[{\"index\":0"), "%s", r.body);
    free(r.body);
    r = post(&h, "/v1/events", "application/json", "");
    ASSERT_CODE(r, 400);
    free(r.body);
    lh_it_hub_stop(&h);
}
END_TEST

START_TEST(test_missing_field_keeps_good_events)
{
    lh_it_hub_t h;
    hub_start(&h, NULL);
    char *a = event_json("g-1", "deploy", "api");
    char *b = event_json("m-1", "deploy", NULL);
    char *c = event_json("g-2", "incident", "api");
    char batch[2048];
    snprintf(batch, sizeof(batch), "[%s,%s,%s]", a, b, c);
    lh_it_resp_t r = post(&h, "/v1/events", "application/json", batch);
    ASSERT_CODE(r, 400);
    ck_assert_msg(strstr(r.body, "\"index\":1,\"id\":\"m-1\""), "%s", r.body);
    ck_assert_msg(strstr(r.body, "'service'"), "the field is not named: %s", r.body);
    ck_assert_msg(strstr(r.body, "were stored"), "%s", r.body);
    ck_assert_int_eq(count_in(r.body, "accepted"), 2);
    free(r.body);
    /* the good ones really are stored: sent again, they are duplicates */
    snprintf(batch, sizeof(batch), "[%s,%s]", a, c);
    r = post(&h, "/v1/events", "application/json", batch);
    ASSERT_CODE(r, 202);
    ck_assert_int_eq(count_in(r.body, "duplicates"), 2);
    free(r.body);
    free(a);
    free(b);
    free(c);
    lh_it_hub_stop(&h);
}
END_TEST

START_TEST(test_body_limit)
{
    lh_it_hub_t h;
    const char *extra[] = {"--max-payload", "1000", NULL};
    hub_start(&h, extra);
    char big[5001];
    memset(big, ' ', sizeof(big) - 1);
    big[0] = '[';
    big[sizeof(big) - 2] = ']';
    big[sizeof(big) - 1] = 0;
    const char *ct[] = {"Content-Type: application/json", NULL};
    lh_it_resp_t r = lh_it_curl(&h, "POST", "/v1/events", ct, big, 0, 0); /* Content-Length: 5000 */
    ASSERT_CODE(r, 413);
    ck_assert_msg(strstr(r.body, "1000"), "%s", r.body);
    free(r.body);
    r = lh_it_curl(&h, "POST", "/v1/events", ct, big, 1, 0); /* chunked: no length up front */
    ASSERT_CODE(r, 413);
    free(r.body);
    /* a body within the limit still goes through */
    char *ev = event_json("small-1", "deploy", "api");
    r = post(&h, "/v1/events", "application/json", ev);
    ASSERT_CODE(r, 202);
    free(r.body);
    free(ev);
    lh_it_hub_stop(&h);
}
END_TEST

START_TEST(test_bearer_token)
{
    lh_it_hub_t h;
    char *dir = lh_test_tmpdir();
    char path[600];
    snprintf(path, sizeof(path), "%s/token", dir);
    ck_assert_int_eq(lh_test_write_file(path, TOKEN "\n", strlen(TOKEN) + 1), 0);
    const char *extra[] = {"--http-token-file", path, NULL};
    hub_start(&h, extra);
    char *ev = event_json("auth-1", "deploy", "api");

    const char *none[] = {"Content-Type: application/json", NULL};
    lh_it_resp_t r = lh_it_curl(&h, "POST", "/v1/events", none, ev, 0, 1);
    ASSERT_CODE(r, 401);
    ck_assert_msg(strstr(r.body, "WWW-Authenticate: Bearer"), "%s", r.body);
    free(r.body);

    const char *wrong[] = {"Content-Type: application/json", "Authorization: Bearer nope", NULL};
    r = lh_it_curl(&h, "POST", "/v1/events", wrong, ev, 0, 0);
    ASSERT_CODE(r, 401);
    free(r.body);

    const char *good[] = {"Content-Type: application/json", "Authorization: Bearer " TOKEN, NULL};
    r = lh_it_curl(&h, "POST", "/v1/events", good, ev, 0, 0);
    ASSERT_CODE(r, 202);
    ck_assert_msg(strstr(r.body, "\"accepted\":[\"auth-1\"]"), "%s", r.body);
    free(r.body);

    r = lh_it_curl(&h, "GET", "/healthz", NULL, NULL, 0, 0); /* the probes stay open */
    ASSERT_CODE(r, 200);
    free(r.body);
    /* with no read token of its own, the token guards the reads too */
    r = lh_it_curl(&h, "GET", "/v1/timeline?deploy=D-auth-1", NULL, NULL, 0, 0);
    ASSERT_CODE(r, 401);
    free(r.body);
    r = lh_it_curl(&h, "GET", "/metrics", NULL, NULL, 0, 0);
    ASSERT_CODE(r, 401);
    free(r.body);
    const char *auth[] = {"Authorization: Bearer " TOKEN, NULL};
    r = lh_it_curl(&h, "GET", "/v1/timeline?deploy=D-auth-1", auth, NULL, 0, 0);
    ASSERT_CODE(r, 200);
    free(r.body);
    free(ev);
    lh_it_hub_stop(&h);
    lh_test_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(test_healthz_and_metrics)
{
    lh_it_hub_t h;
    hub_start(&h, NULL);
    lh_it_resp_t r = lh_it_curl(&h, "GET", "/healthz", NULL, NULL, 0, 0);
    ASSERT_CODE(r, 200);
    ck_assert_str_eq(r.body, "{\"status\":\"ok\"}");
    free(r.body);
    char *ev = event_json("m-1", "deploy", "api");
    r = post(&h, "/v1/events", "application/json", ev);
    ASSERT_CODE(r, 202);
    free(r.body);
    free(ev);
    r = lh_it_curl(&h, "GET", "/metrics", NULL, NULL, 0, 1);
    ASSERT_CODE(r, 200);
    ck_assert_msg(strstr(r.body, "Content-Type: text/plain; version=0.0.4"), "%s", r.body);
    /* stored: counted by kind and by the adapter it came through */
    ck_assert_msg(strstr(r.body, "\nloophub_events_total{kind=\"deploy\",adapter=\"http\"} 1\n"),
                  "%s", r.body);
    free(r.body);
    lh_it_hub_stop(&h);
}
END_TEST

static void
expect_get(lh_it_hub_t *h, const char *path, int code, const char *needle)
{
    lh_it_resp_t r = lh_it_curl(h, "GET", path, NULL, NULL, 0, 0);
    ck_assert_msg(r.code == code, "GET %s: HTTP %d, expected %d: %s", path, r.code, code, r.body);
    ck_assert_msg(!needle || strstr(r.body, needle), "GET %s lacks %s: %s", path, needle, r.body);
    free(r.body);
}

START_TEST(test_timeline_over_http)
{
    lh_it_hub_t h;
    hub_start(&h, NULL);
    char *d = event_json("t-1", "deploy", "shop");
    char *i = event_json("t-2", "incident", "shop");
    lh_it_resp_t r = post(&h, "/v1/events", "application/json", d);
    ASSERT_CODE(r, 202);
    free(r.body);
    r = post(&h, "/v1/events", "application/json", i);
    ASSERT_CODE(r, 202);
    free(r.body);
    free(d);
    free(i);
    /* the same JSON as `loophub timeline --format json`, from the running hub */
    expect_get(&h, "/v1/timeline?incident=INC-t-2", 200, "\"D-t-1\"");
    expect_get(&h, "/v1/timeline?deploy=D-t-1", 200, "\"suspect\"");
    expect_get(&h, "/v1/timeline?service=shop&env=prod&since=1h", 200, "\"t-2\"");
    expect_get(&h, "/v1/timeline?service=shop&env=prod&limit=1", 200, "\"truncated\":true");
    expect_get(&h, "/v1/timeline?incident=INC-nope", 404, "no such incident");
    /* by the correlated alert id subscribers get, and by the incident's event id */
    lh_it_resp_t tl = lh_it_curl(&h, "GET", "/v1/timeline?incident=INC-t-2", NULL, NULL, 0, 0);
    const char *k = strstr(tl.body ? tl.body : "", "\"alert_id\":\"ca-");
    ck_assert_msg(k, "no alert_id: %s", tl.body);
    char path[200];
    int idlen = (int)strcspn(k + 12, "\"");
    snprintf(path, sizeof(path), "/v1/timeline?incident=%.*s", idlen, k + 12);
    free(tl.body);
    expect_get(&h, path, 200, "\"incident_id\":\"INC-t-2\"");
    expect_get(&h, "/v1/timeline?incident=t-2", 200, "\"incident_id\":\"INC-t-2\"");
    expect_get(&h, "/v1/timeline", 400, "exactly one of");
    expect_get(&h, "/v1/timeline?incident=a&deploy=b", 400, "exactly one of");
    expect_get(&h, "/v1/timeline?service=shop", 400, "needs env");
    expect_get(&h, "/v1/timeline?service=shop&env=prod&since=soon", 400, "since=");
    /* an RFC 3339 moment, as the CLI takes */
    expect_get(&h, "/v1/timeline?service=shop&env=prod&since=2000-01-01T00:00:00Z", 200, "\"t-2\"");
    expect_get(
        &h,
        "/v1/timeline?service=shop&env=prod&since=2000-01-01T00:00:00Z&until=1999-01-01T00:00:00Z",
        400, "until= is before since=");
    expect_get(&h, "/v1/timeline?service=shop&env=prod&until=later", 400, "until=");
    expect_get(&h, "/v1/timeline?deploy=D-t-1&since=1h", 400, "go with service=");
    expect_get(&h, "/v1/timeline?deploy=D-t-1&limit=-3", 400, "limit=");
    lh_it_hub_stop(&h);
}
END_TEST

/* GET /v1/deployed and /v1/audit answer the same document, byte for byte, as `loophub deployed`
 * and `loophub audit --format json` on the hub's store (fixed moments, so "now" plays no part),
 * and refuse what the CLI refuses. */
static void
same_as_cli(lh_it_hub_t *h, const char *path, const char *const *args)
{
    lh_it_resp_t r = lh_it_curl(h, "GET", path, NULL, NULL, 0, 0);
    ck_assert_msg(r.code == 200, "GET %s: HTTP %d: %s", path, r.code, r.body);
    const char *argv[16] = {lh_test_loophub_bin()};
    int n = 1;
    for (; args[n - 1]; n++)
        argv[n] = args[n - 1];
    argv[n++] = "--db";
    argv[n++] = h->db;
    argv[n++] = "--format";
    argv[n++] = "json";
    argv[n] = NULL;
    char *out = NULL, *err = NULL;
    ck_assert_msg(lh_test_run(argv, NULL, &out, &err, 20000) == 0, "%s: %s", args[0], err);
    size_t len = strlen(out);
    ck_assert_msg(len && out[len - 1] == '\n', "%s", out);
    out[len - 1] = 0; /* the CLI ends its document with a newline */
    ck_assert_msg(!strcmp(out, r.body), "GET %s:\n%s\nCLI:\n%s", path, r.body, out);
    free(out);
    free(err);
    free(r.body);
}

START_TEST(test_reports_over_http)
{
    lh_it_hub_t h;
    hub_start(&h, NULL);
    const char *evs[] = {
        "{\"id\":\"r-t\",\"kind\":\"ticket\",\"time\":\"2026-11-30T09:00:00Z\",\"ticket\":"
        "{\"ticket_id\":\"CHG-1\",\"type\":\"change\",\"state\":\"approved\",\"links\":[\"D-1\"]}}",
        "{\"id\":\"r-1\",\"kind\":\"deploy\",\"time\":\"2026-11-30T10:00:00Z\",\"service\":\"api\","
        "\"environment\":\"prod\",\"actor\":\"alice\",\"hosts\":[\"api-1\",\"api-2\"],\"deploy\":"
        "{\"deploy_id\":\"D-1\",\"status\":\"succeeded\",\"version\":\"1.0\"}}",
        "{\"id\":\"r-2\",\"kind\":\"deploy\",\"time\":\"2026-11-30T11:00:00Z\",\"service\":\"api\","
        "\"environment\":\"prod\",\"actor\":\"bob\",\"hosts\":[\"api-1\"],\"deploy\":"
        "{\"deploy_id\":\"D-2\",\"status\":\"succeeded\",\"version\":\"2.0\"}}",
        "{\"id\":\"r-3\",\"kind\":\"deploy\",\"time\":\"2026-11-30T11:30:00Z\",\"service\":\"api\","
        "\"environment\":\"prod\",\"deploy\":{\"deploy_id\":\"D-2\",\"status\":\"rolled_back\"}}",
    };
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
        lh_it_resp_t r = post(&h, "/v1/events", "application/json", evs[i]);
        ASSERT_CODE(r, 202);
        free(r.body);
    }
    const char *a[] = {"deployed", "--at", "2026-11-30T11:15:00Z", NULL};
    same_as_cli(&h, "/v1/deployed?at=2026-11-30T11:15:00Z", a);
    const char *b[] = {"deployed", "--at", "2026-11-30T12:00:00Z", "--service", "api", "--host",
                       "api-1",    NULL};
    same_as_cli(&h, "/v1/deployed?at=2026-11-30T12:00:00Z&service=api&host=api-1", b);
    expect_get(&h, "/v1/deployed?at=2026-11-30T12:00:00Z&host=api-1", 200,
               "\"host\":\"api-1\",\"version\":\"1.0\",\"deploy_id\":\"D-1\"");
    const char *c[] = {
        "audit", "--since", "2026-11-30T00:00:00Z", "--until", "2026-12-01T00:00:00Z", NULL};
    same_as_cli(&h, "/v1/audit?since=2026-11-30T00:00:00Z&until=2026-12-01T00:00:00Z", c);
    const char *d[] = {"audit",
                       "--since",
                       "2026-11-30T00:00:00Z",
                       "--until",
                       "2026-12-01T00:00:00Z",
                       "--unapproved",
                       "--actor",
                       "bob",
                       NULL};
    same_as_cli(&h,
                "/v1/audit?since=2026-11-30T00:00:00Z&until=2026-12-01T00:00:00Z&unapproved&"
                "actor=bob",
                d);
    expect_get(&h, "/v1/audit?since=2026-11-30T00:00:00Z&until=2026-12-01T00:00:00Z", 200,
               "\"approval\":\"approved\",\"approved_by\":\"CHG-1\"");
    const char *e[] = {"dora",
                       "--since",
                       "2026-11-30T00:00:00Z",
                       "--until",
                       "2026-12-01T00:00:00Z",
                       "--by",
                       "service",
                       "--every",
                       "day",
                       NULL};
    same_as_cli(&h,
                "/v1/dora?since=2026-11-30T00:00:00Z&until=2026-12-01T00:00:00Z&by=service&"
                "every=day",
                e);
    expect_get(&h, "/v1/dora?since=2026-11-30T00:00:00Z&until=2026-12-01T00:00:00Z", 200,
               "\"deployment_frequency\":{\"deployments\":2,");
    expect_get(&h, "/v1/dora?every=month", 400, "every: 'month' is neither day nor week");
    expect_get(&h, "/v1/audit?host=x", 400, "host: not a parameter of audit");
    /* the pages refuse what their /v1 routes refuse, with the same words */
    expect_get(&h, "/incident", 400, "give id=");
    expect_get(&h, "/incident?id=INC-nope", 404, "no such incident");
    expect_get(&h, "/change?id=D-1&since=1h", 400, "since= and until= go with service=");
    expect_get(&h, "/?service=api", 400, "service= needs env=");
    expect_get(&h, "/?service=api&env=prod&since=soon", 400, "since= is not a duration");
    expect_get(&h, "/dora?every=month", 400, "every: 'month' is neither day nor week");
    expect_get(&h, "/change?id=D-1", 200, "Change D-1");
    expect_get(&h, "/v1/deployed?at=noon", 400, "at: 'noon' is neither a duration");
    expect_get(&h, "/v1/audit?limit=-1", 400, "limit: '-1' is not a number");
    expect_get(&h, "/v1/audit?unapproved=maybe", 400, "unapproved: on or off");
    expect_get(&h, "/v1/audit?since=1h&until=2h", 400, "until= is before since=");
    lh_it_hub_stop(&h);
}
END_TEST

/* /metrics carries the DORA figures per service and environment, valid for promtool: a
 * deploy followed by an incident it is blamed for is one deployment, failed. */
START_TEST(test_dora_gauges)
{
    lh_it_hub_t h;
    hub_start(&h, NULL);
    char *d = event_json("g-1", "deploy", "shop");
    char *i = event_json("g-2", "incident", "shop");
    lh_it_resp_t r = post(&h, "/v1/events", "application/json", d);
    ASSERT_CODE(r, 202);
    free(r.body);
    r = post(&h, "/v1/events", "application/json", i);
    ASSERT_CODE(r, 202);
    free(r.body);
    free(d);
    free(i);
    r = lh_it_curl(&h, "GET", "/metrics", NULL, NULL, 0, 0);
    ASSERT_CODE(r, 200);
    ck_assert_msg(strstr(r.body, "# TYPE loophub_dora_deployments gauge\n"
                                 "loophub_dora_deployments{service=\"shop\",environment=\"prod\"}"
                                 " 1\n"),
                  "%s", r.body);
    ck_assert_msg(strstr(r.body, "loophub_dora_change_failure_rate{service=\"shop\","
                                 "environment=\"prod\"} 1\n"),
                  "%s", r.body);
    /* no lead time without a commit time: no sample rather than a 0 */
    ck_assert_msg(!strstr(r.body, "loophub_dora_lead_time_median_seconds{"), "%s", r.body);
    const char *promtool[] = {"promtool", "check", "metrics", NULL};
    char *pout = NULL, *perr = NULL;
    ck_assert_msg(lh_test_run(promtool, r.body, &pout, &perr, 10000) == 0, "promtool: %s %s", pout,
                  perr);
    free(pout);
    free(perr);
    free(r.body);
    lh_it_hub_stop(&h);
}
END_TEST

START_TEST(test_routing_errors)
{
    lh_it_hub_t h;
    hub_start(&h, NULL);
    lh_it_resp_t r = lh_it_curl(&h, "GET", "/no/such/thing", NULL, NULL, 0, 0);
    ASSERT_CODE(r, 404);
    free(r.body);
    r = lh_it_curl(&h, "GET", "/v1/events", NULL, NULL, 0, 1);
    ASSERT_CODE(r, 405);
    ck_assert_msg(strstr(r.body, "Allow: POST"), "%s", r.body);
    free(r.body);
    r = lh_it_curl(&h, "DELETE", "/healthz", NULL, NULL, 0, 0);
    ASSERT_CODE(r, 405);
    free(r.body);
    r = post(&h, "/v1/events", "text/csv", "a,b,c\n");
    ASSERT_CODE(r, 415);
    ck_assert_msg(strstr(r.body, "text/csv"), "%s", r.body);
    free(r.body);
    r = post(&h, "/v1/alertmanager", "application/xml", "<x/>");
    ASSERT_CODE(r, 415);
    free(r.body);
    lh_it_hub_stop(&h);
}
END_TEST

START_TEST(test_bad_clients_leave_hub_serving)
{
    lh_it_hub_t h;
    hub_start(&h, NULL);
    /* a garbage request line: answered with an error or closed, never a crash */
    static const char garbage[] = "\x01\x02GARBAGE NOT HTTP\r\n\r\n";
    char *ans = raw_exchange(h.http_port, garbage, sizeof(garbage) - 1, 3000);
    ck_assert_ptr_nonnull(ans);
    ck_assert_msg(ans[0] == 0 || strncmp(ans, "HTTP/1.1 4", 10) == 0, "%s", ans);
    free(ans);
    /* a request cut off in the middle of its body */
    int fd = connect_port(h.http_port);
    ck_assert_int_ge(fd, 0);
    static const char cut[] = "POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Type: "
                              "application/json\r\nContent-Length: 500\r\n\r\n{\"id\":\"cut";
    ck_assert_int_eq(send(fd, cut, sizeof(cut) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(cut) - 1));
    close(fd);
    /* a connection that sends half a request line and vanishes, and one that sends nothing */
    fd = connect_port(h.http_port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(send(fd, "GET /hea", 8, MSG_NOSIGNAL), 8);
    close(fd);
    int idle = connect_port(h.http_port);
    ck_assert_int_ge(idle, 0);
    /* headers far over any sane size */
    size_t big = 256 * 1024;
    char *huge = malloc(big + 128);
    int n = snprintf(huge, 128, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset(huge + n, 'a', big);
    memcpy(huge + n + big, "\r\n\r\n", 5);
    ans = raw_exchange(h.http_port, huge, (size_t)n + big + 4, 3000);
    ck_assert_ptr_nonnull(ans);
    ck_assert_msg(ans[0] == 0 || strncmp(ans, "HTTP/1.1 4", 10) == 0, "%.200s", ans);
    free(ans);
    free(huge);

    ck_assert_msg(healthz_ok(&h), "the hub stopped answering");
    char *ev = event_json("after-1", "deploy", "api");
    lh_it_resp_t r = post(&h, "/v1/events", "application/json", ev);
    ASSERT_CODE(r, 202);
    free(r.body);
    free(ev);
    close(idle);
    lh_it_hub_stop(&h);
}
END_TEST

START_TEST(test_shutdown_with_open_requests)
{
    lh_it_hub_t h;
    hub_start(&h, NULL);
    /* one request half sent, one finished and answered, one idle keep-alive connection */
    int half = connect_port(h.http_port);
    ck_assert_int_ge(half, 0);
    static const char part[] = "POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Type: "
                               "application/json\r\nContent-Length: 400\r\n\r\n[";
    ck_assert_int_eq(send(half, part, sizeof(part) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(part) - 1));
    char *ev = event_json("s-1", "deploy", "api");
    lh_it_resp_t r = post(&h, "/v1/events", "application/json", ev);
    ASSERT_CODE(r, 202);
    free(r.body);
    free(ev);
    int idle = connect_port(h.http_port);
    ck_assert_int_ge(idle, 0);
    ck_assert_msg(healthz_ok(&h), "not serving before the stop");
    /* SIGTERM: the hub exits cleanly and promptly although clients still hold connections */
    lh_it_hub_stop(&h);
    /* the half-sent request was never stored and its connection is closed */
    char buf[256];
    struct pollfd p = {.fd = half, .events = POLLIN};
    ck_assert_int_eq(poll(&p, 1, 5000), 1);
    ssize_t n = recv(half, buf, sizeof(buf) - 1, 0);
    ck_assert_msg(n <= 0 || strncmp(buf, "HTTP/1.1 503", 12) == 0, "%.*s", (int)n, buf);
    close(half);
    close(idle);
}
END_TEST

START_TEST(test_address_in_use)
{
    int port = lh_test_free_port();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, 1), 0);
    char *dir = lh_test_tmpdir();
    char db[600], listen_s[64];
    snprintf(db, sizeof(db), "%s/hub.db", dir);
    snprintf(listen_s, sizeof(listen_s), "127.0.0.1:%d", port);
    char *pull = lh_test_endpoint(), *router = lh_test_endpoint(), *pub = lh_test_endpoint();
    const char *argv[] = {
        lh_test_loophub_bin(), "run",  "--db",      db,  "--http", listen_s, "--zmq-pull", pull,
        "--zmq-router",        router, "--zmq-pub", pub, NULL};
    char *err = NULL;
    int st = lh_test_run(argv, NULL, NULL, &err, 20000);
    ck_assert_msg(st == 1, "exit %d, stderr: %s", st, err ? err : "");
    char want[128];
    snprintf(want, sizeof(want), "cannot listen on %s: Address already in use", listen_s);
    ck_assert_msg(err && strstr(err, want), "stderr lacks '%s': %s", want, err ? err : "");
    free(err);
    free(pull);
    free(router);
    free(pub);
    close(fd);
    lh_test_rmrf(dir);
    free(dir);
}
END_TEST

/* --- tokens -------------------------------------------------------------------------------- */

#define READ_TOKEN "r3ad-t0ken"

static void
expect_code(lh_it_hub_t *h, const char *method, const char *path, const char *auth, int code)
{
    char hdr[160];
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", auth ? auth : "");
    const char *hdrs[] = {"Content-Type: application/json", hdr, NULL};
    const char *none[] = {"Content-Type: application/json", NULL};
    char *ev = strcmp(method, "POST") == 0 ? event_json("tok-1", "deploy", "api") : NULL;
    lh_it_resp_t r = lh_it_curl(h, method, path, auth ? hdrs : none, ev, 0, 0);
    ck_assert_msg(r.code == code, "%s %s with %s: HTTP %d, expected %d: %s", method, path,
                  auth ? auth : "no token", r.code, code, r.body);
    free(r.body);
    free(ev);
}

START_TEST(test_read_and_write_tokens)
{
    lh_it_hub_t h;
    char *dir = lh_test_tmpdir();
    char wpath[600], rpath[600];
    snprintf(wpath, sizeof(wpath), "%s/write", dir);
    snprintf(rpath, sizeof(rpath), "%s/read", dir);
    /* the trailing newlines (\n, \r\n) are not part of the tokens */
    ck_assert_int_eq(lh_test_write_file(wpath, TOKEN "\n", strlen(TOKEN) + 1), 0);
    ck_assert_int_eq(lh_test_write_file(rpath, READ_TOKEN "\r\n", strlen(READ_TOKEN) + 2), 0);
    const char *extra[] = {"--http-token-file", wpath, "--http-read-token-file", rpath, NULL};
    hub_start(&h, extra);
    /* every GET but the probes needs the read token */
    static const char *const guarded[] = {"/v1/timeline?deploy=D-tok-1", "/metrics"};
    for (int i = 0; i < 2; i++) {
        expect_code(&h, "GET", guarded[i], NULL, 401);
        expect_code(&h, "GET", guarded[i], "nope", 401);
        expect_code(&h, "GET", guarded[i], READ_TOKEN "x", 401);
        expect_code(&h, "GET", guarded[i], TOKEN, 401); /* the write token does not read */
    }
    expect_code(&h, "GET", "/healthz", NULL, 200);
    expect_code(&h, "GET", "/readyz", NULL, 200);
    /* writes: not with the read token */
    expect_code(&h, "POST", "/v1/events", READ_TOKEN, 403);
    expect_code(&h, "POST", "/v1/events", NULL, 401);
    expect_code(&h, "POST", "/v1/events", TOKEN, 202);
    expect_code(&h, "GET", "/v1/timeline?deploy=D-tok-1", READ_TOKEN, 200);
    expect_code(&h, "GET", "/metrics", READ_TOKEN, 200);
    lh_it_hub_stop(&h);
    lh_test_rmrf(dir);
    free(dir);
}
END_TEST

/* `loophub run` with a token file: exits 1 with stderr naming the file and what is wrong. */
static void
expect_token_file_refused(const char *option, const char *content, size_t len, const char *want)
{
    char *dir = lh_test_tmpdir();
    char db[600], path[600], listen_s[64];
    snprintf(db, sizeof(db), "%s/hub.db", dir);
    snprintf(path, sizeof(path), "%s/token", dir);
    ck_assert_int_eq(lh_test_write_file(path, content, len), 0);
    snprintf(listen_s, sizeof(listen_s), "127.0.0.1:%d", lh_test_free_port());
    char *pull = lh_test_endpoint(), *router = lh_test_endpoint(), *pub = lh_test_endpoint();
    const char *argv[] = {
        lh_test_loophub_bin(), "run",  "--db",      db,  "--http", listen_s, "--zmq-pull", pull,
        "--zmq-router",        router, "--zmq-pub", pub, option,   path,     NULL};
    char *err = NULL;
    int st = lh_test_run(argv, NULL, NULL, &err, 20000);
    ck_assert_msg(st == 1, "exit %d, stderr: %s", st, err ? err : "");
    ck_assert_msg(err && strstr(err, path) && strstr(err, want), "stderr lacks '%s': %s", want,
                  err ? err : "");
    free(err);
    free(pull);
    free(router);
    free(pub);
    lh_test_rmrf(dir);
    free(dir);
}

START_TEST(test_token_file_errors)
{
    expect_token_file_refused("--http-token-file", "", 0, "is empty");
    expect_token_file_refused("--http-read-token-file", "\n", 1, "is empty");
    static char big[5000];
    memset(big, 'a', sizeof(big));
    /* once silently cut to its first 1023 bytes */
    expect_token_file_refused("--http-token-file", big, sizeof(big), "is over 4096 bytes");
    expect_token_file_refused("--http-token-file", "one\ntwo\n", 8, "second line");
}
END_TEST

/* --- rejections at the door ---------------------------------------------------------------- */

static int64_t
db_int(const char *db, const char *sql)
{
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open_v2(db, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    ck_assert_msg(sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(c));
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(c);
    return v;
}

/* The value of one sample of /metrics (name{labels} as written), -1 when absent. */
static long long
metric_of(lh_it_hub_t *h, const char *sample)
{
    lh_it_resp_t r = lh_it_curl(h, "GET", "/metrics", NULL, NULL, 0, 0);
    ASSERT_CODE(r, 200);
    char pat[200];
    snprintf(pat, sizeof(pat), "\n%s ", sample);
    const char *p = strstr(r.body, pat);
    long long v = p ? atoll(p + strlen(pat)) : -1;
    free(r.body);
    return v;
}

/* 413 and 415 are rejections like any other: counted and quarantined, with at most the first
 * 4096 bytes of the body. */
START_TEST(test_413_415_counted_and_quarantined)
{
    lh_it_hub_t h;
    const char *extra[] = {"--max-payload", "6000", NULL};
    hub_start(&h, extra);
    char big[9001];
    memset(big, ' ', sizeof(big) - 1);
    big[0] = '[';
    big[sizeof(big) - 2] = ']';
    big[sizeof(big) - 1] = 0;
    const char *ct[] = {"Content-Type: application/json", NULL};
    lh_it_resp_t r =
        lh_it_curl(&h, "POST", "/v1/events", ct, big, 1, 0); /* chunked: cut at the limit */
    ASSERT_CODE(r, 413);
    ck_assert_msg(strstr(r.body, "body of 9000 bytes is over the limit of 6000 bytes") &&
                      strstr(r.body, "the first 4096 of 9000 bytes"),
                  "%s", r.body);
    free(r.body);
    r = lh_it_curl(&h, "POST", "/v1/events", ct, big, 0, 0); /* Content-Length: 9000 */
    ASSERT_CODE(r, 413);
    free(r.body);
    r = post(&h, "/v1/events", "text/csv", "a,b,c\n");
    ASSERT_CODE(r, 415);
    free(r.body);
    /* counted by kind, as the same payloads over ROUTER would be */
    ck_assert_int_eq(metric_of(&h, "loophub_rejected_total{reason=\"too_big\"}"), 2);
    ck_assert_int_eq(metric_of(&h, "loophub_rejected_total{reason=\"decode\"}"), 1);
    ck_assert_int_eq(metric_of(&h, "loophub_http_responses_total{code=\"413\"}"), 2);
    ck_assert_int_eq(lh_it_hub_term(&h), 0);
    ck_assert_int_eq(db_int(h.db, "SELECT count(*) FROM quarantine WHERE origin LIKE 'http:%'"), 3);
    /* the chunked body: its first 4096 bytes; the declared one: never read; the 415: whole */
    ck_assert_int_eq(db_int(h.db, "SELECT count(*) FROM quarantine WHERE length(payload) = 4096 "
                                  "AND reason LIKE 'body of 9000 bytes%'"),
                     1);
    ck_assert_int_eq(db_int(h.db, "SELECT count(*) FROM quarantine WHERE "
                                  "coalesce(length(payload), 0) = 0 AND reason LIKE '%9000%'"),
                     1);
    ck_assert_int_eq(db_int(h.db, "SELECT count(*) FROM quarantine WHERE CAST(payload AS TEXT) = "
                                  "'a,b,c' || char(10) AND reason LIKE 'unsupported content%'"),
                     1);
    lh_it_hub_fini(&h);
}
END_TEST

/* --- slow clients --------------------------------------------------------------------------- */

/* A connection to the hub from the loopback address from ("127.0.0.2": the hub sees another
 * client address), non-blocking once connected; -1 when refused. */
static int
connect_from(int port, const char *from)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in b = {.sin_family = AF_INET};
    ck_assert_int_eq(inet_pton(AF_INET, from, &b.sin_addr), 1);
    ck_assert_msg(bind(fd, (struct sockaddr *)&b, sizeof(b)) == 0, "bind %s: %s", from,
                  strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

#define N_SLOW 300

/* A client sending its request one byte every TRICKLE_MS: it never idles long enough for an
 * idle timeout. */
typedef struct {
    int fd;
    const char *req; /* what it trickles (more than it will ever get to send) */
    size_t off;
    int64_t closed_ms; /* since the start, when the hub closed it; -1 while open */
} slow_t;

#define TRICKLE_MS 100

static const char slow_headers[] =
    "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: "
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char slow_body[] =
    "POST /v1/events HTTP/1.1\r\nHost: t\r\nContent-Type: "
    "application/json\r\nContent-Length: 100000\r\n\r\n[          "
    "                                                                  "
    "                                                                  ";
#define SLOW_BODY_HEADERS 93 /* sent at once: the headers of slow_body */

/* One trickle round: a byte each from the open ones, and notes those the hub closed. Returns how
 * many are still open. */
static int
trickle(slow_t *c, int n, int64_t t0)
{
    int open_n = 0;
    for (int i = 0; i < n; i++) {
        if (c[i].closed_ms >= 0)
            continue;
        char buf[512];
        ssize_t k = recv(c[i].fd, buf, sizeof(buf), 0);
        int gone = k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
        if (!gone && c[i].req[c[i].off]) {
            k = send(c[i].fd, c[i].req + c[i].off, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (k == 1)
                c[i].off++;
            else if (errno != EAGAIN && errno != EWOULDBLOCK)
                gone = 1;
        }
        if (gone) {
            c[i].closed_ms = (lh_mono_ns() - t0) / LH_NS_PER_MS;
            close(c[i].fd);
        } else {
            open_n++;
        }
    }
    return open_n;
}

static void
slow_open(slow_t *c, int n, int port, const char *from, int bodies)
{
    for (int i = 0; i < n; i++) {
        c[i].fd = connect_from(port, from);
        ck_assert_int_ge(c[i].fd, 0);
        c[i].closed_ms = -1;
        c[i].off = 0;
        c[i].req = i < bodies ? slow_body : slow_headers;
        if (i < bodies) {
            ck_assert_int_eq(send(c[i].fd, slow_body, SLOW_BODY_HEADERS, MSG_NOSIGNAL),
                             SLOW_BODY_HEADERS);
            c[i].off = SLOW_BODY_HEADERS;
        }
    }
}

/* A request sent whole on a non-blocking socket; its answer is read by answer_in(). */
static int
request_start(int port, const char *from)
{
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    int fd = connect_from(port, from);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(req) - 1));
    return fd;
}

/* 1 once fd holds the start of an HTTP 200 answer. */
static int
answer_in(int fd)
{
    char buf[64] = "";
    ssize_t k = recv(fd, buf, sizeof(buf) - 1, MSG_PEEK);
    return k >= 12 && strncmp(buf, "HTTP/1.1 200", 12) == 0;
}

/* 300 connections trickling a byte every 100 ms, 30 of them in their body: each is closed by its
 * deadline (headers 1 s, body 2 s) although it never stops sending, and a normal client is
 * answered meanwhile, as soon as the first are closed (all 256 connections are taken before). */
START_TEST(test_slow_clients_closed_by_deadline)
{
    lh_it_hub_t h;
    const char *extra[] = {"--http-header-timeout",
                           "1s",
                           "--http-body-timeout",
                           "2s",
                           "--http-per-address",
                           "1000",
                           NULL};
    hub_start(&h, extra);
    static slow_t c[N_SLOW];
    int64_t t0 = lh_mono_ns();
    slow_open(c, N_SLOW, h.http_port, "127.0.0.1", 30);
    int normal = request_start(h.http_port, "127.0.0.1");
    int64_t answered_ms = -1, end = t0 + 10 * LH_NS_PER_SEC;
    int open_n = N_SLOW;
    while (lh_mono_ns() < end && (open_n > 0 || answered_ms < 0)) {
        open_n = trickle(c, N_SLOW, t0);
        if (answered_ms < 0 && answer_in(normal))
            answered_ms = (lh_mono_ns() - t0) / LH_NS_PER_MS;
        poll(NULL, 0, TRICKLE_MS);
    }
    close(normal);
    int64_t last = 0;
    for (int i = 0; i < N_SLOW; i++)
        last = c[i].closed_ms > last ? c[i].closed_ms : last;
    ck_assert_msg(open_n == 0, "%d slow connections still open after 10 s", open_n);
    /* the last ones waited in the backlog for the first 256 to go: two deadlines at most */
    ck_assert_msg(last < 5000, "the last slow connection was closed after %lld ms",
                  (long long)last);
    ck_assert_msg(answered_ms >= 0 && answered_ms < 3000,
                  "a normal request was answered after %lld ms", (long long)answered_ms);
    fprintf(stderr,
            "slow clients: normal request answered after %lld ms, last slow one closed "
            "after %lld ms\n",
            (long long)answered_ms, (long long)last);
    ck_assert_msg(healthz_ok(&h), "the hub stopped answering");
    ck_assert_int_eq(metric_of(&h, "loophub_http_slow_closed_total"), N_SLOW);
    lh_it_hub_stop(&h);
}
END_TEST

/* The deadlines far off (10 s) and no per-address cap to speak of (as with slow clients from
 * many addresses): 300 trickling connections take every place, yet a normal client is answered
 * within about a second, because the ones waiting longest for their headers make room. */
START_TEST(test_slow_clients_make_room_at_the_cap)
{
    lh_it_hub_t h;
    const char *extra[] = {"--http-per-address", "1000", NULL};
    hub_start(&h, extra);
    static slow_t c[N_SLOW];
    int64_t t0 = lh_mono_ns();
    slow_open(c, N_SLOW, h.http_port, "127.0.0.1", 0);
    int normal = request_start(h.http_port, "127.0.0.1");
    int64_t answered_ms = -1, end = t0 + 8 * LH_NS_PER_SEC;
    while (answered_ms < 0 && lh_mono_ns() < end) {
        trickle(c, N_SLOW, t0);
        if (answer_in(normal))
            answered_ms = (lh_mono_ns() - t0) / LH_NS_PER_MS;
        else
            poll(NULL, 0, 20);
    }
    close(normal);
    ck_assert_msg(answered_ms >= 0 && answered_ms < 3000,
                  "a normal request was answered after %lld ms (the header deadline is 10 s)",
                  (long long)answered_ms);
    fprintf(stderr, "at the cap: normal request answered after %lld ms\n", (long long)answered_ms);
    for (int i = 0; i < N_SLOW; i++)
        if (c[i].closed_ms < 0)
            close(c[i].fd);
    lh_it_hub_stop(&h);
}
END_TEST

/* 300 trickling connections from one address get 8 (the per-address cap); the others are
 * closed at once, and a client at another address is answered at once although the 8 hold on. */
START_TEST(test_per_address_cap)
{
    lh_it_hub_t h;
    const char *extra[] = {"--http-per-address", "8", NULL};
    hub_start(&h, extra);
    static slow_t c[N_SLOW];
    int64_t t0 = lh_mono_ns();
    slow_open(c, N_SLOW, h.http_port, "127.0.0.2", 0);
    int open_n = N_SLOW;
    int64_t end = t0 + 5 * LH_NS_PER_SEC;
    while (open_n > 8 && lh_mono_ns() < end) {
        open_n = trickle(c, N_SLOW, t0);
        poll(NULL, 0, 20);
    }
    ck_assert_int_eq(open_n, 8);
    int64_t t1 = lh_mono_ns();
    int normal = request_start(h.http_port, "127.0.0.1");
    int answered = 0;
    end = t1 + 2 * LH_NS_PER_SEC;
    while (!answered && lh_mono_ns() < end) {
        open_n = trickle(c, N_SLOW, t0);
        answered = answer_in(normal);
        if (!answered)
            poll(NULL, 0, 5);
    }
    int64_t ms = (lh_mono_ns() - t1) / LH_NS_PER_MS;
    close(normal);
    ck_assert_msg(answered && ms < 500, "another client waited %lld ms", (long long)ms);
    ck_assert_int_eq(open_n, 8); /* the capped ones are still there, trickling */
    fprintf(stderr, "per-address cap: another address answered after %lld ms\n", (long long)ms);
    for (int i = 0; i < N_SLOW; i++)
        if (c[i].closed_ms < 0)
            close(c[i].fd);
    lh_it_hub_stop(&h);
}
END_TEST

/* --- crash during ingest --------------------------------------------------------------------- */

/* A sender: POSTs one event per connection until the hub is gone, appending the id of each one
 * answered 202 to acked (a line each). */
static void
sender(int port, int who, const char *acked)
{
    int out = open(acked, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out < 0)
        _exit(2);
    for (int i = 0;; i++) {
        char id[32], req[1024];
        snprintf(id, sizeof(id), "k%d-%d", who, i);
        char *ev = event_json(id, "deploy", "api");
        int n = snprintf(req, sizeof(req),
                         "POST /v1/events HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                         "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                         strlen(ev), ev);
        free(ev);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
            _exit(0); /* the hub is gone */
        if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
            _exit(0);
        char ans[512];
        size_t got = 0;
        ssize_t k;
        while (got < sizeof(ans) - 1 && (k = recv(fd, ans + got, sizeof(ans) - 1 - got, 0)) > 0)
            got += (size_t)k;
        ans[got] = 0;
        close(fd);
        if (strncmp(ans, "HTTP/1.1 202", 12) != 0)
            _exit(0); /* no answer: killed in flight */
        char line[40];
        int ln = snprintf(line, sizeof(line), "%s\n", id);
        if (write(out, line, (size_t)ln) != ln)
            _exit(3);
    }
}

typedef struct {
    char paths[4][640];
    int want;
} acked_t;

static int
acked_enough(void *arg)
{
    acked_t *a = arg;
    int n = 0;
    for (int i = 0; i < 4; i++)
        n += lh_test_file_count(a->paths[i], "\n");
    return n >= a->want;
}

/* SIGKILL while four clients post events: after a restart on the same store, every event that
 * was answered 202 is there, exactly once. */
START_TEST(test_kill9_during_ingest_keeps_every_202)
{
    lh_it_hub_t h;
    hub_start(&h, NULL);
    acked_t a = {.want = 200};
    pid_t kids[4];
    for (int i = 0; i < 4; i++) {
        snprintf(a.paths[i], sizeof(a.paths[i]), "%s/acked.%d", h.dir, i);
        kids[i] = fork();
        ck_assert_int_ge(kids[i], 0);
        if (kids[i] == 0)
            sender(h.http_port, i, a.paths[i]);
    }
    ck_assert_msg(lh_test_wait_for(acked_enough, &a, 30000), "the senders got no 200 acks");
    ck_assert_int_eq(lh_test_stop(h.pid, SIGKILL, 5000), 128 + SIGKILL);
    h.pid = 0;
    for (int i = 0; i < 4; i++) {
        int st;
        ck_assert_int_eq(waitpid(kids[i], &st, 0), kids[i]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sender %d: status %d", i, st);
    }
    lh_it_hub_run(&h, NULL); /* the same store: recovery */
    ck_assert_int_eq(lh_it_hub_term(&h), 0);
    int total = 0;
    for (int i = 0; i < 4; i++) {
        char *ids = lh_test_read_file(a.paths[i], NULL);
        ck_assert_ptr_nonnull(ids);
        for (char *save = NULL, *id = strtok_r(ids, "\n", &save); id;
             id = strtok_r(NULL, "\n", &save)) {
            char sql[128];
            snprintf(sql, sizeof(sql), "SELECT count(*) FROM events WHERE id = '%s'", id);
            ck_assert_msg(db_int(h.db, sql) == 1,
                          "event %s was answered 202 but is stored %lld "
                          "times",
                          id, (long long)db_int(h.db, sql));
            total++;
        }
        free(ids);
    }
    ck_assert_int_ge(total, 200);
    ck_assert_int_ge(db_int(h.db, "SELECT count(*) FROM events"), total);
    lh_it_hub_fini(&h);
}
END_TEST

static Suite *
http_suite(void)
{
    Suite *s = suite_create("http");
    const lh_test_case_t cases[] = {
        {"event_then_duplicate", test_event_then_duplicate, 0, 0},
        {"cloudevents_batch", test_cloudevents_batch, 0, 0},
        {"cloudevents_binary", test_cloudevents_binary, 0, 0},
        {"alertmanager", test_alertmanager, 0, 0},
        {"broken_json", test_broken_json, 0, 0},
        {"missing_field_keeps_good_events", test_missing_field_keeps_good_events, 0, 0},
        {"body_limit", test_body_limit, 0, 0},
        {"bearer_token", test_bearer_token, 0, 0},
        {"healthz_and_metrics", test_healthz_and_metrics, 0, 0},
        {"timeline_over_http", test_timeline_over_http, 0, 0},
        {"reports_over_http", test_reports_over_http, 0, 0},
        {"dora_gauges", test_dora_gauges, 0, 0},
        {"routing_errors", test_routing_errors, 0, 0},
        {"bad_clients_leave_hub_serving", test_bad_clients_leave_hub_serving, 0, 0},
        {"shutdown_with_open_requests", test_shutdown_with_open_requests, 0, 0},
        {"address_in_use", test_address_in_use, 0, 0},
        {"read_and_write_tokens", test_read_and_write_tokens, 0, 0},
        {"token_file_errors", test_token_file_errors, 0, 0},
        {"413_415_counted_and_quarantined", test_413_415_counted_and_quarantined, 0, 0},
        {"slow_clients_closed_by_deadline", test_slow_clients_closed_by_deadline, 0, 0},
        {"per_address_cap", test_per_address_cap, 0, 0},
        {"slow_clients_make_room_at_the_cap", test_slow_clients_make_room_at_the_cap, 0, 0},
        {"kill9_during_ingest_keeps_every_202", test_kill9_during_ingest_keeps_every_202, 0, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 60, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(http_suite());
}
