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
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ithub.h"
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

/* --- curl ---------------------------------------------------------------------------------- */

typedef struct {
    int code;
    char *body; /* with the headers first when asked for */
} resp_t;

/* Runs curl: method on path, extra headers (NULL-terminated, may be NULL), body from a string
 * (NULL: none), chunked when asked. with_headers puts the response headers before the body. */
static resp_t
curl_req(const lh_it_hub_t *h, const char *method, const char *path, const char *const *headers,
         const char *body, int chunked, int with_headers)
{
    char url[256], bodyfile[600];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", h->http_port, path);
    const char *argv[64] = {"curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-X", method};
    int n = 8;
    if (with_headers)
        argv[n++] = "-i";
    for (int i = 0; headers && headers[i] && n < 50; i++) {
        argv[n++] = "-H";
        argv[n++] = headers[i];
    }
    if (chunked) {
        argv[n++] = "-H";
        argv[n++] = "Transfer-Encoding: chunked";
    }
    static char at[620];
    if (body) {
        snprintf(bodyfile, sizeof(bodyfile), "%s/body.%d", h->dir, (int)getpid());
        ck_assert_int_eq(lh_test_write_file(bodyfile, body, strlen(body)), 0);
        snprintf(at, sizeof(at), "@%s", bodyfile);
        argv[n++] = "--data-binary";
        argv[n++] = at;
    }
    argv[n++] = url;
    argv[n] = NULL;
    char *out = NULL, *err = NULL;
    int st = lh_test_run(argv, NULL, &out, &err, 20000);
    ck_assert_msg(st == 0, "curl %s %s failed (%d): %s", method, path, st, err ? err : "");
    resp_t r = {0, out};
    char *nl = strrchr(out, '\n');
    ck_assert_ptr_nonnull(nl);
    r.code = atoi(nl + 1);
    *nl = 0;
    free(err);
    return r;
}

static resp_t
post(const lh_it_hub_t *h, const char *path, const char *ctype, const char *body)
{
    char ct[128];
    snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
    const char *hdrs[] = {ct, NULL};
    return curl_req(h, "POST", path, hdrs, body, 0, 0);
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
    resp_t r = post(&h, "/v1/events", "application/json", ev);
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
    resp_t r = post(&h, "/v1/events", "application/cloudevents-batch+json", batch);
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
    resp_t r = curl_req(&h, "POST", "/v1/events", hdrs, data, 0, 0);
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
    resp_t r = post(&h, "/v1/alertmanager", "application/json", am);
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
    resp_t r = post(&h, "/v1/events", "application/json", "{\"id\": \"x\",\n \"kind\": }");
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
    resp_t r = post(&h, "/v1/events", "application/json", batch);
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
    resp_t r = curl_req(&h, "POST", "/v1/events", ct, big, 0, 0); /* Content-Length: 5000 */
    ASSERT_CODE(r, 413);
    ck_assert_msg(strstr(r.body, "1000"), "%s", r.body);
    free(r.body);
    r = curl_req(&h, "POST", "/v1/events", ct, big, 1, 0); /* chunked: no length up front */
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
    resp_t r = curl_req(&h, "POST", "/v1/events", none, ev, 0, 1);
    ASSERT_CODE(r, 401);
    ck_assert_msg(strstr(r.body, "WWW-Authenticate: Bearer"), "%s", r.body);
    free(r.body);

    const char *wrong[] = {"Content-Type: application/json", "Authorization: Bearer nope", NULL};
    r = curl_req(&h, "POST", "/v1/events", wrong, ev, 0, 0);
    ASSERT_CODE(r, 401);
    free(r.body);

    const char *good[] = {"Content-Type: application/json", "Authorization: Bearer " TOKEN, NULL};
    r = curl_req(&h, "POST", "/v1/events", good, ev, 0, 0);
    ASSERT_CODE(r, 202);
    ck_assert_msg(strstr(r.body, "\"accepted\":[\"auth-1\"]"), "%s", r.body);
    free(r.body);

    r = curl_req(&h, "GET", "/healthz", NULL, NULL, 0, 0); /* reads stay open */
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
    resp_t r = curl_req(&h, "GET", "/healthz", NULL, NULL, 0, 0);
    ASSERT_CODE(r, 200);
    ck_assert_str_eq(r.body, "{\"status\":\"ok\"}");
    free(r.body);
    char *ev = event_json("m-1", "deploy", "api");
    r = post(&h, "/v1/events", "application/json", ev);
    ASSERT_CODE(r, 202);
    free(r.body);
    free(ev);
    r = curl_req(&h, "GET", "/metrics", NULL, NULL, 0, 1);
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
    resp_t r = curl_req(h, "GET", path, NULL, NULL, 0, 0);
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
    resp_t r = post(&h, "/v1/events", "application/json", d);
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
    resp_t tl = curl_req(&h, "GET", "/v1/timeline?incident=INC-t-2", NULL, NULL, 0, 0);
    const char *k = strstr(tl.body ? tl.body : "", "\"alert_id\":\"ca-");
    ck_assert_msg(k, "no alert_id: %s", tl.body);
    char path[200];
    snprintf(path, sizeof(path), "/v1/timeline?incident=%.19s", k + 12);
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

START_TEST(test_routing_errors)
{
    lh_it_hub_t h;
    hub_start(&h, NULL);
    resp_t r = curl_req(&h, "GET", "/no/such/thing", NULL, NULL, 0, 0);
    ASSERT_CODE(r, 404);
    free(r.body);
    r = curl_req(&h, "GET", "/v1/events", NULL, NULL, 0, 1);
    ASSERT_CODE(r, 405);
    ck_assert_msg(strstr(r.body, "Allow: POST"), "%s", r.body);
    free(r.body);
    r = curl_req(&h, "DELETE", "/healthz", NULL, NULL, 0, 0);
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
    resp_t r = post(&h, "/v1/events", "application/json", ev);
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
    resp_t r = post(&h, "/v1/events", "application/json", ev);
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
        {"routing_errors", test_routing_errors, 0, 0},
        {"bad_clients_leave_hub_serving", test_bad_clients_leave_hub_serving, 0, 0},
        {"shutdown_with_open_requests", test_shutdown_with_open_requests, 0, 0},
        {"address_in_use", test_address_in_use, 0, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 60, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(http_suite());
}
