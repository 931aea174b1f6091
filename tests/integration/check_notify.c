/*
 * check_notify.c - the notification sinks end to end: the real `loophub run` with --sink lines,
 * a deploy and an incident posted to its HTTP port so that it correlates them, and the receivers
 * the sinks post to: an HTTP server of the test's own (libmicrohttpd, in its own thread) that
 * records every request and answers what the test tells it (503 first, 400, ...), and Debian's
 * real prometheus-alertmanager, read back through its own API and through the webhook receiver
 * it notifies in turn.
 *
 * What is checked: the webhook sink's signature (HMAC-SHA256 of the body, computed here with
 * libcrypto), a retry after a 503 with the same body, a dead letter on a 400 and a degraded
 * /healthz while posts keep failing, routing by environment, the resume of an undelivered alert
 * after a hub restart with the receiver down in between (exactly once more), Slack's and
 * PagerDuty's bodies as their receivers take them (trigger, then resolve on the same dedup key),
 * and Alertmanager's round trip (the alert with its labels in GET /api/v2/alerts, the
 * notification to its receiver, then resolved).
 */
#include <arpa/inet.h>
#include <check.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ithub.h"
#include "loophub/timeutil.h"
#include "testutil.h"

/* --- a receiver ------------------------------------------------------------------------------
 */

#define MAX_REQ 64

typedef struct {
    char path[128];
    char sig[128];
    char ctype[96];
    char *body;
} req_t;

typedef struct {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;
    req_t req[MAX_REQ];
    int n;
    int codes[8]; /* the answers to give first, in order; 200 after them (or always_code) */
    int n_codes, next_code;
    int always_code; /* 0: 200 after codes[] */
} recv_t;

typedef struct {
    char *p;
    size_t n;
} upload_t;

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
           const char *version, const char *data, size_t *data_size, void **con_cls)
{
    (void)version;
    recv_t *r = cls;
    upload_t *u = *con_cls;
    if (!u) {
        u = calloc(1, sizeof(*u));
        *con_cls = u;
        return MHD_YES;
    }
    if (*data_size) {
        u->p = realloc(u->p, u->n + *data_size + 1);
        memcpy(u->p + u->n, data, *data_size);
        u->n += *data_size;
        u->p[u->n] = '\0';
        *data_size = 0;
        return MHD_YES;
    }
    int code = 200;
    pthread_mutex_lock(&r->mu);
    if (strcmp(method, "POST") == 0 && r->n < MAX_REQ) {
        req_t *q = &r->req[r->n++];
        snprintf(q->path, sizeof(q->path), "%s", url);
        const char *s = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Loophub-Signature");
        snprintf(q->sig, sizeof(q->sig), "%s", s ? s : "");
        s = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        snprintf(q->ctype, sizeof(q->ctype), "%s", s ? s : "");
        q->body = u->p ? u->p : strdup("");
        u->p = NULL;
    }
    if (r->next_code < r->n_codes)
        code = r->codes[r->next_code++];
    else if (r->always_code)
        code = r->always_code;
    pthread_mutex_unlock(&r->mu);
    free(u->p);
    free(u);
    *con_cls = NULL;
    static const char ok[] = "{\"status\":\"ok\"}";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(sizeof(ok) - 1, (void *)ok, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)code, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void
recv_start(recv_t *r, int port)
{
    r->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port,
                            NULL, NULL, on_request, r, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                            MHD_OPTION_END);
    ck_assert_msg(r->d != NULL, "the receiver cannot listen on port %d", port);
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(r->d, MHD_DAEMON_INFO_BIND_PORT);
    r->port = i ? i->port : port;
}

static void
recv_init(recv_t *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
}

static void
recv_stop(recv_t *r)
{
    if (r->d)
        MHD_stop_daemon(r->d);
    r->d = NULL;
}

static void
recv_fini(recv_t *r)
{
    recv_stop(r);
    for (int i = 0; i < r->n; i++)
        free(r->req[i].body);
    pthread_mutex_destroy(&r->mu);
}

static int
recv_count(recv_t *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* Waits until the receiver has at least n requests; fails the test with the hub's log if not. */
static void
recv_wait(recv_t *r, int n, int timeout_ms, const lh_it_hub_t *h)
{
    int64_t end = lh_mono_ns() + (int64_t)lh_test_ms(timeout_ms) * LH_NS_PER_MS;
    while (recv_count(r) < n && lh_mono_ns() < end)
        usleep(20000);
    if (recv_count(r) < n) {
        char *log = lh_test_read_file(h->log, NULL);
        ck_abort_msg("the receiver got %d requests, expected %d; hub log:\n%s", recv_count(r), n,
                     log ? log : "");
    }
}

/* --- the story: a deploy of api to production, then an incident on it ----------------------- */

static void
post_json(const lh_it_hub_t *h, const char *json)
{
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    lh_it_resp_t r = lh_it_curl(h, "POST", "/v1/events", hdrs, json, 0, 0);
    ck_assert_msg(r.code == 202 && r.body && strstr(r.body, "\"rejected\"") == NULL,
                  "POST /v1/events: %d %s", r.code, r.body ? r.body : "");
    free(r.body);
}

static void
ago(int s, char *buf, size_t len)
{
    ck_assert_int_gt(lh_time_format(lh_now_ns() - (int64_t)s * LH_NS_PER_SEC, buf, len), 0);
}

/* A deploy of service svc in env (version 2.0; 1.9 three hours before it, out of the window: the
 * rollback target), then an incident there. */
static void
story(const lh_it_hub_t *h, const char *svc, const char *env, const char *tag)
{
    char t0[40], t1[40], t2[40], body[1400];
    ago(3 * 3600, t0, sizeof(t0)); /* outside the window: no suspect, the version before */
    ago(300, t1, sizeof(t1));
    ago(120, t2, sizeof(t2));
    /* the version before comes from the store's history: the first deploy is stored first */
    snprintf(body, sizeof(body),
             "{\"id\":\"%s-d1\",\"kind\":\"deploy\",\"time\":\"%s\",\"service\":\"%s\","
             "\"environment\":\"%s\",\"deploy\":{\"deploy_id\":\"%s-D1\",\"status\":\"succeeded\","
             "\"version\":\"1.9\"}}",
             tag, t0, svc, env, tag);
    post_json(h, body);
    snprintf(body, sizeof(body),
             "[{\"id\":\"%s-d2\",\"kind\":\"deploy\",\"time\":\"%s\",\"service\":\"%s\","
             "\"environment\":\"%s\",\"actor\":\"alice\",\"deploy\":{\"deploy_id\":\"%s-D2\","
             "\"status\":\"succeeded\",\"version\":\"2.0\"}},"
             "{\"id\":\"%s-i1\",\"kind\":\"incident\",\"time\":\"%s\",\"service\":\"%s\","
             "\"environment\":\"%s\",\"incident\":{\"incident_id\":\"%s-INC\",\"state\":"
             "\"detected\",\"severity\":\"critical\",\"title\":\"checkout errors\"}}]",
             tag, t1, svc, env, tag, tag, t2, svc, env, tag);
    post_json(h, body);
}

static void
resolve_as(const lh_it_hub_t *h, const char *svc, const char *env, const char *tag,
           const char *severity)
{
    char t[40], body[600];
    ago(30, t, sizeof(t));
    snprintf(body, sizeof(body),
             "{\"id\":\"%s-i2\",\"kind\":\"incident\",\"time\":\"%s\",\"service\":\"%s\","
             "\"environment\":\"%s\",\"incident\":{\"incident_id\":\"%s-INC\",\"state\":"
             "\"resolved\",\"severity\":\"%s\"}}",
             tag, t, svc, env, tag, severity);
    post_json(h, body);
}

static void
resolve(const lh_it_hub_t *h, const char *svc, const char *env, const char *tag)
{
    resolve_as(h, svc, env, tag, "critical");
}

static char *
write_in(const lh_it_hub_t *h, const char *name, const char *text)
{
    char *p = NULL;
    ck_assert_int_gt(asprintf(&p, "%s/%s", h->dir, name), 0);
    ck_assert_int_eq(lh_test_write_file(p, text, strlen(text)), 0);
    return p;
}

static long long
metric(const lh_it_hub_t *h, const char *family, const char *sink)
{
    char s[160];
    snprintf(s, sizeof(s), "%s{sink=\"%s\"}", family, sink);
    return lh_it_metric(h, s);
}

/* The sample once it reaches want (a count the hub moves when a receiver's answer is read,
 * after the receiver already has the request), or what it is after timeout_ms. */
static long long
metric_reaches(const lh_it_hub_t *h, const char *family, const char *sink, long long want,
               int timeout_ms)
{
    int64_t end = lh_mono_ns() + (int64_t)lh_test_ms(timeout_ms) * LH_NS_PER_MS;
    long long v;
    while ((v = metric(h, family, sink)) < want && lh_mono_ns() < end)
        usleep(20000);
    return v;
}

static void
hmac_hex(const char *key, const char *body, char *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)body,
                               strlen(body), mac, &n));
    for (unsigned int i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", mac[i]);
}

/* `loophub run` refuses a bad sink before it starts anything: exit 2 and the reason. */
START_TEST(run_refuses_bad_sinks)
{
    static const struct {
        const char *a, *b, *want;
    } bad[] = {
        {"--sink=a=webhook http://x", "--sink=a=slack http://y", "sink a is named twice"},
        {"--sink=a=webhook http://x sevrity=error", NULL,
         "sink a: unknown key 'sevrity' for a webhook sink"},
        {"--notify-hub-url=ftp://x", NULL, "--notify-hub-url 'ftp://x' must be an http://"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char db[] = "/tmp/lh-notify-run-XXXXXX";
        int fd = mkstemp(db);
        ck_assert_int_ge(fd, 0);
        close(fd);
        unlink(db);
        const char *argv[] = {
            lh_test_loophub_bin(), "run", "--db", db, "--http", "off", bad[i].a, bad[i].b, NULL};
        char *out = NULL, *err = NULL;
        int rc = lh_test_run(argv, NULL, &out, &err, 10000);
        ck_assert_msg(rc == 2, "%s: exit %d", bad[i].a, rc);
        ck_assert_msg(err && strstr(err, bad[i].want), "%s: %s", bad[i].a, err ? err : "");
        ck_assert_int_ne(access(db, F_OK), 0); /* no store made */
        free(out);
        free(err);
    }
}
END_TEST

/* --- webhook ---------------------------------------------------------------------------------
 */

/* A 503 first: the same body again after the backoff, signed both times; then delivered. */
START_TEST(webhook_signed_and_retried)
{
    recv_t r;
    recv_init(&r);
    r.codes[0] = 503;
    r.n_codes = 1;
    recv_start(&r, 0);
    lh_it_hub_t h;
    lh_it_hub_init(&h, 1);
    char *secret = write_in(&h, "hook.secret", "wh-s3cret\n");
    char sink[400];
    snprintf(sink, sizeof(sink), "hook=webhook http://127.0.0.1:%d/hook secret_file=%s", r.port,
             secret);
    const char *extra[] = {"--sink", sink, "--notify-hub-url", "http://loophub.example:7780", NULL};
    lh_it_hub_run(&h, extra);
    story(&h, "api", "production", "wh");
    recv_wait(&r, 2, 15000, &h);
    pthread_mutex_lock(&r.mu);
    ck_assert_str_eq(r.req[0].path, "/hook");
    ck_assert_str_eq(r.req[0].body, r.req[1].body); /* the retry posts the same alert */
    ck_assert_str_eq(r.req[0].ctype, "application/json");
    char want[80] = "sha256=";
    hmac_hex("wh-s3cret", r.req[1].body, want + 7);
    ck_assert_str_eq(r.req[1].sig, want);
    json_error_t je;
    json_t *a = json_loads(r.req[1].body, 0, &je);
    ck_assert_msg(a != NULL, "not JSON: %s", r.req[1].body);
    ck_assert_str_eq(json_string_value(json_object_get(a, "kind")), "deploy_preceded_incident");
    ck_assert_str_eq(json_string_value(json_object_get(a, "service")), "api");
    json_t *top = json_array_get(json_object_get(a, "suspects"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(top, "deploy_id")), "wh-D2");
    ck_assert_str_eq(json_string_value(json_object_get(a, "rollback_version")), "1.9");
    json_decref(a);
    pthread_mutex_unlock(&r.mu);
    /* counted once delivered, one failed post before */
    (void)metric_reaches(&h, "loophub_notify_delivered_total", "hook", 1, 5000);
    ck_assert_int_eq(metric(&h, "loophub_notify_delivered_total", "hook"), 1);
    ck_assert_int_eq(metric(&h, "loophub_notify_failed_posts_total", "hook"), 1);
    ck_assert_int_eq(metric(&h, "loophub_notify_dead_letters_total", "hook"), 0);
    ck_assert_int_eq(lh_it_metric(&h, "loophub_outbox_sink_pending{sink=\"notify-hook\"}"), 0);
    lh_it_hub_stop(&h);
    free(secret);
    recv_fini(&r);
}
END_TEST

/* A 400 is a dead letter at once (the receiver will never take it); posts that keep failing
 * make /healthz degraded, naming the sink. */
START_TEST(webhook_dead_letter_and_degraded)
{
    recv_t r;
    recv_init(&r);
    r.codes[0] = 400;
    r.n_codes = 1;
    r.always_code = 503;
    recv_start(&r, 0);
    lh_it_hub_t h;
    lh_it_hub_init(&h, 1);
    char sink[300];
    snprintf(sink, sizeof(sink), "hook=webhook http://127.0.0.1:%d/hook format=cloudevents",
             r.port);
    const char *extra[] = {"--sink", sink, "--notify-retries", "2", NULL};
    lh_it_hub_run(&h, extra);
    story(&h, "api", "production", "dl");
    recv_wait(&r, 1, 15000, &h);
    (void)metric_reaches(&h, "loophub_notify_dead_letters_total", "hook", 1, 5000);
    ck_assert_int_eq(metric(&h, "loophub_notify_dead_letters_total", "hook"), 1);
    ck_assert_int_eq(recv_count(&r), 1); /* no retry of a 400 */
    pthread_mutex_lock(&r.mu);
    ck_assert_str_eq(r.req[0].ctype, "application/cloudevents+json");
    ck_assert_str_eq(r.req[0].sig, ""); /* no secret, no signature */
    pthread_mutex_unlock(&r.mu);
    /* the resolution is a second revision: it meets 503s, three tries, then dead too */
    resolve(&h, "api", "production", "dl");
    recv_wait(&r, 4, 20000, &h);
    int64_t end = lh_mono_ns() + lh_test_ms(5000) * LH_NS_PER_MS;
    lh_it_resp_t hz = {0};
    for (;;) {
        hz = lh_it_curl(&h, "GET", "/healthz", NULL, NULL, 0, 0);
        if ((hz.body && strstr(hz.body, "degraded")) || lh_mono_ns() > end)
            break;
        free(hz.body);
        usleep(50000);
    }
    ck_assert_msg(hz.body && strstr(hz.body, "\"degraded\"") && strstr(hz.body, "sink hook"), "%s",
                  hz.body ? hz.body : "");
    free(hz.body);
    (void)metric_reaches(&h, "loophub_notify_dead_letters_total", "hook", 2, 5000);
    ck_assert_int_eq(metric(&h, "loophub_notify_dead_letters_total", "hook"), 2);
    ck_assert_int_eq(recv_count(&r), 4); /* 1 + 3 tries of the resolution */
    lh_it_hub_stop(&h);
    recv_fini(&r);
}
END_TEST

/* A receiver that takes the connection and never answers: the post times out (the sink's
 * timeout=), which is retried like a 503, then a dead letter naming the timeout. */
START_TEST(webhook_timeout)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    lh_it_hub_t h;
    lh_it_hub_init(&h, 1);
    char sink[200];
    snprintf(sink, sizeof(sink), "slow=webhook http://127.0.0.1:%d/hook timeout=1s",
             ntohs(a.sin_port));
    const char *extra[] = {"--sink", sink, "--notify-retries", "1", NULL};
    lh_it_hub_run(&h, extra);
    story(&h, "api", "production", "to");
    (void)metric_reaches(&h, "loophub_notify_dead_letters_total", "slow", 1, 15000);
    ck_assert_int_eq(metric(&h, "loophub_notify_dead_letters_total", "slow"), 1);
    ck_assert_int_eq(metric(&h, "loophub_notify_failed_posts_total", "slow"), 2); /* 1 + 1 retry */
    lh_it_resp_t r = lh_it_curl(&h, "GET", "/v1/sinks", NULL, NULL, 0, 0);
    ck_assert_msg(r.code == 200 && r.body && strstr(r.body, "timed out"), "%d %s", r.code,
                  r.body ? r.body : "");
    free(r.body);
    lh_it_hub_stop(&h);
    close(fd);
}
END_TEST

/* Two sinks, one routed to staging only: production's alert reaches only the other. */
START_TEST(routing_by_environment)
{
    recv_t r;
    recv_init(&r);
    recv_start(&r, 0);
    lh_it_hub_t h;
    lh_it_hub_init(&h, 1);
    char s1[200], s2[200];
    snprintf(s1, sizeof(s1), "stg=webhook http://127.0.0.1:%d/stg env=staging,stg", r.port);
    snprintf(s2, sizeof(s2),
             "prod=webhook http://127.0.0.1:%d/prod env=prod* service=api,web "
             "min_severity=error kinds=incident",
             r.port);
    const char *extra[] = {"--sink", s1, "--sink", s2, NULL};
    lh_it_hub_run(&h, extra);
    story(&h, "api", "production", "rt");
    recv_wait(&r, 1, 15000, &h);
    (void)metric_reaches(&h, "loophub_notify_unrouted_total", "stg", 1, 5000);
    ck_assert_int_eq(metric(&h, "loophub_notify_unrouted_total", "stg"), 1);
    ck_assert_int_eq(metric_reaches(&h, "loophub_notify_delivered_total", "prod", 1, 5000), 1);
    ck_assert_int_eq(recv_count(&r), 1);
    pthread_mutex_lock(&r.mu);
    ck_assert_str_eq(r.req[0].path, "/prod");
    pthread_mutex_unlock(&r.mu);
    /* the resolution comes as a warning, below min_severity: told all the same, since the sink
     * told of the alert (a resolution must follow what was posted) */
    resolve_as(&h, "api", "production", "rt", "warning");
    recv_wait(&r, 2, 15000, &h);
    pthread_mutex_lock(&r.mu);
    ck_assert_str_eq(r.req[1].path, "/prod");
    ck_assert_msg(strstr(r.req[1].body, "\"resolved\":true"), "%s", r.req[1].body);
    pthread_mutex_unlock(&r.mu);
    ck_assert_int_eq(metric(&h, "loophub_notify_unrouted_total", "prod"), 0);
    lh_it_hub_stop(&h);
    recv_fini(&r);
}
END_TEST

/* The receiver is down when the alert is made; the hub stops with it undelivered and starts
 * again once the receiver is back: the alert arrives, once. */
START_TEST(resume_after_restart)
{
    recv_t r;
    recv_init(&r);
    recv_start(&r, 0);
    int port = r.port;
    recv_stop(&r); /* the port is known, nothing listens */
    lh_it_hub_t h;
    lh_it_hub_init(&h, 1);
    char sink[200];
    snprintf(sink, sizeof(sink), "hook=webhook http://127.0.0.1:%d/hook", port);
    const char *extra[] = {"--sink", sink, NULL};
    lh_it_hub_run(&h, extra);
    story(&h, "api", "production", "rs");
    (void)metric_reaches(&h, "loophub_notify_failed_posts_total", "hook", 1, 15000);
    ck_assert_int_ge(metric(&h, "loophub_notify_failed_posts_total", "hook"), 1);
    ck_assert_int_eq(lh_it_metric(&h, "loophub_outbox_sink_pending{sink=\"notify-hook\"}"), 1);
    ck_assert_int_eq(lh_it_hub_term(&h), 0);
    recv_start(&r, port);
    lh_it_hub_run(&h, extra);
    recv_wait(&r, 1, 15000, &h);
    (void)metric_reaches(&h, "loophub_notify_delivered_total", "hook", 1, 5000);
    ck_assert_int_eq(metric(&h, "loophub_notify_delivered_total", "hook"), 1);
    ck_assert_int_eq(lh_it_metric(&h, "loophub_outbox_sink_pending{sink=\"notify-hook\"}"), 0);
    ck_assert_int_eq(recv_count(&r), 1);
    lh_it_hub_stop(&h);
    recv_fini(&r);
}
END_TEST

/* `loophub sinks` and GET /v1/sinks: every sink with its backlog; a notification sink's receiver
 * without the URL's path (a Slack URL's path is its secret), routing and counts. */
START_TEST(sinks_listing)
{
    recv_t r;
    recv_init(&r);
    recv_start(&r, 0);
    lh_it_hub_t h;
    lh_it_hub_init(&h, 1);
    char s1[200], s2[200];
    snprintf(s1, sizeof(s1), "hook=webhook http://127.0.0.1:%d/hook env=prod*", r.port);
    snprintf(s2, sizeof(s2),
             "chat=slack http://bot:SECRETPW@127.0.0.1:%d/services/T0/B0/SECRET kinds=alert",
             r.port);
    const char *extra[] = {"--sink", s1, "--sink", s2, NULL};
    lh_it_hub_run(&h, extra);
    story(&h, "api", "production", "ls");
    recv_wait(&r, 1, 15000, &h);
    (void)metric_reaches(&h, "loophub_notify_delivered_total", "hook", 1, 5000);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", h.http_port);
    const char *argv[] = {lh_test_loophub_bin(), "sinks", "--url", url, "--format", "json", NULL};
    char *out = NULL, *err = NULL;
    int rc = lh_test_run(argv, NULL, &out, &err, 10000);
    ck_assert_msg(rc == 0, "loophub sinks: %d %s", rc, err ? err : "");
    ck_assert_msg(strstr(out, "SECRET") == NULL, "the receiver's path leaked: %s", out);
    json_error_t je;
    json_t *doc = json_loads(out, 0, &je), *hook = NULL, *chat = NULL;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(doc, "sinks"), i, x)
    {
        const char *n = json_string_value(json_object_get(x, "name"));
        if (!strcmp(n, "notify-hook"))
            hook = x;
        else if (!strcmp(n, "notify-chat"))
            chat = x;
    }
    ck_assert_msg(hook && chat, "%s", out);
    json_t *hs = json_object_get(hook, "state"), *cs = json_object_get(chat, "state");
    ck_assert_int_eq(json_integer_value(json_object_get(hook, "pending")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(hook, "adapter")), "notify");
    ck_assert_str_eq(json_string_value(json_object_get(hs, "type")), "webhook");
    char want[64];
    snprintf(want, sizeof(want), "http://127.0.0.1:%d", r.port);
    ck_assert_str_eq(json_string_value(json_object_get(hs, "receiver")), want);
    ck_assert_int_eq(json_integer_value(json_object_get(hs, "delivered")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(hs, "routing"), "env")),
                     "prod*");
    ck_assert_int_eq(json_integer_value(json_object_get(cs, "unrouted")), 1);
    /* a user and password in the URL are not shown either */
    ck_assert_str_eq(json_string_value(json_object_get(cs, "receiver")), want);
    ck_assert_str_eq(json_string_value(json_array_get(
                         json_object_get(json_object_get(cs, "routing"), "kinds"), 0)),
                     "deploy_preceded_alert");
    json_decref(doc);
    free(out);
    free(err);
    /* the text form names them; no hub there is an error that says so */
    const char *argv2[] = {lh_test_loophub_bin(), "sinks", "--url", url, NULL};
    out = err = NULL;
    ck_assert_int_eq(lh_test_run(argv2, NULL, &out, &err, 10000), 0);
    ck_assert_msg(strstr(out, "notify-hook") && strstr(out, "notify-chat"), "%s", out);
    free(out);
    free(err);
    const char *argv3[] = {lh_test_loophub_bin(), "sinks", "--url", "http://127.0.0.1:1", NULL};
    out = err = NULL;
    ck_assert_int_eq(lh_test_run(argv3, NULL, &out, &err, 10000), 1);
    ck_assert_msg(err && strstr(err, "no answer from a hub"), "%s", err ? err : "");
    free(out);
    free(err);
    ck_assert_int_eq(lh_it_hub_term(&h), 0);
    /* nor does the log: the sinks' lines there name the receiver's host only */
    char *log = lh_test_must_read(h.log);
    ck_assert_msg(strstr(log, "sink chat"), "%s", log);
    ck_assert_msg(strstr(log, "SECRET") == NULL, "the log names a receiver's path:\n%s", log);
    free(log);
    lh_it_hub_fini(&h);
    recv_fini(&r);
}
END_TEST

/* --- Slack and PagerDuty, as their receivers take them -------------------------------------- */

START_TEST(slack_and_pagerduty)
{
    recv_t r;
    recv_init(&r);
    recv_start(&r, 0);
    lh_it_hub_t h;
    lh_it_hub_init(&h, 1);
    char *key = write_in(&h, "pd.key", "R0UTINGKEY0123456789abcdef012345\n");
    char s1[200], s2[400];
    snprintf(s1, sizeof(s1), "chat=slack http://127.0.0.1:%d/services/T0/B0/x", r.port);
    snprintf(s2, sizeof(s2), "pd=pagerduty http://127.0.0.1:%d/v2/enqueue routing_key_file=%s",
             r.port, key);
    const char *extra[] = {
        "--sink", s1, "--sink", s2, "--notify-hub-url", "http://loophub.example:7780", NULL};
    lh_it_hub_run(&h, extra);
    story(&h, "api", "production", "sp");
    /* Slack's message, PagerDuty's trigger, and a change event for the deploy of now (the one
     * three hours back is older than --notify-max-age: history is not told again) */
    recv_wait(&r, 3, 15000, &h);
    resolve(&h, "api", "production", "sp");
    recv_wait(&r, 5, 15000, &h);
    int slack = 0, trigger = 0, resolved = 0, changes = 0;
    char dedup[200] = "";
    pthread_mutex_lock(&r.mu);
    for (int i = 0; i < r.n; i++) {
        json_error_t je;
        json_t *b = json_loads(r.req[i].body, 0, &je);
        ck_assert_msg(b != NULL, "%s: not JSON: %s", r.req[i].path, r.req[i].body);
        if (!strcmp(r.req[i].path, "/services/T0/B0/x")) {
            ck_assert(json_is_string(json_object_get(b, "text")));
            ck_assert(json_array_size(json_object_get(b, "blocks")) >= 2);
            slack++;
        } else if (!strcmp(r.req[i].path, "/v2/change/enqueue")) {
            json_t *p = json_object_get(b, "payload");
            const char *sum = json_string_value(json_object_get(p, "summary"));
            const char *did = json_string_value(
                json_object_get(json_object_get(p, "custom_details"), "deploy_id"));
            ck_assert_ptr_nonnull(sum);
            ck_assert_ptr_nonnull(did);
            ck_assert_str_eq(did, "sp-D2");
            ck_assert_msg(strstr(sum, "api 2.0 deployed in production by alice"), "%s", sum);
            ck_assert_str_eq(json_string_value(json_object_get(b, "routing_key")),
                             "R0UTINGKEY0123456789abcdef012345");
            changes++;
        } else {
            ck_assert_str_eq(r.req[i].path, "/v2/enqueue");
            ck_assert_str_eq(json_string_value(json_object_get(b, "routing_key")),
                             "R0UTINGKEY0123456789abcdef012345");
            const char *act = json_string_value(json_object_get(b, "event_action"));
            const char *dk = json_string_value(json_object_get(b, "dedup_key"));
            ck_assert_ptr_nonnull(dk);
            if (!dedup[0])
                snprintf(dedup, sizeof(dedup), "%s", dk);
            ck_assert_str_eq(dk, dedup); /* one PagerDuty alert for the correlated alert */
            if (!strcmp(act, "trigger")) {
                json_t *p = json_object_get(b, "payload");
                ck_assert_str_eq(json_string_value(json_object_get(p, "severity")), "critical");
                ck_assert_ptr_nonnull(
                    json_object_get(json_object_get(p, "custom_details"), "suspects"));
                trigger++;
            } else {
                ck_assert_str_eq(act, "resolve");
                resolved++;
            }
        }
        json_decref(b);
    }
    pthread_mutex_unlock(&r.mu);
    ck_assert_int_eq(slack, 2);
    ck_assert_int_eq(trigger, 1);
    ck_assert_int_eq(resolved, 1);
    ck_assert_int_eq(changes, 1);
    ck_assert_int_eq(metric_reaches(&h, "loophub_notify_change_events_total", "pd", 1, 5000), 1);
    ck_assert_int_eq(metric(&h, "loophub_notify_stale_total", "pd"), 1); /* the old deploy */
    lh_it_hub_stop(&h);
    free(key);
    recv_fini(&r);
}
END_TEST

/* --- Alertmanager, the real one ------------------------------------------------------------- */

static int
am_alerts(int port, const char *want, char **out)
{
    char url[120];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v2/alerts", port);
    const char *argv[] = {"curl", "-s", "-m", "5", url, NULL};
    char *o = NULL, *e = NULL;
    int rc = lh_test_run(argv, NULL, &o, &e, 10000);
    free(e);
    int found = rc == 0 && o && strstr(o, want);
    free(*out);
    *out = o;
    return found;
}

START_TEST(alertmanager_round_trip)
{
    recv_t r; /* Alertmanager's own webhook receiver */
    recv_init(&r);
    recv_start(&r, 0);
    lh_it_hub_t h;
    lh_it_hub_init(&h, 1);
    int am_port = lh_test_free_port();
    char cfg[600];
    snprintf(cfg, sizeof(cfg),
             "route:\n  receiver: test\n  group_by: ['alertname', 'service']\n"
             "  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n"
             "receivers:\n  - name: test\n    webhook_configs:\n"
             "      - url: http://127.0.0.1:%d/am\n        send_resolved: true\n",
             r.port);
    char *cfgp = write_in(&h, "am.yml", cfg);
    char listen[64], storage[700];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", am_port);
    snprintf(storage, sizeof(storage), "%s/am-data", h.dir);
    char amlog[700];
    snprintf(amlog, sizeof(amlog), "%s/am.log", h.dir);
    const char *am[] = {"prometheus-alertmanager",
                        "--config.file",
                        cfgp,
                        "--storage.path",
                        storage,
                        "--web.listen-address",
                        listen,
                        "--cluster.listen-address=",
                        NULL};
    pid_t ampid = lh_test_spawn(am, amlog);
    char *out = NULL;
    int64_t end = lh_mono_ns() + lh_test_ms(15000) * LH_NS_PER_MS;
    while (!am_alerts(am_port, "[", &out) && lh_mono_ns() < end)
        usleep(100000);
    ck_assert_msg(out && strstr(out, "["), "alertmanager did not answer: %s", out ? out : "");

    char sink[300];
    snprintf(sink, sizeof(sink), "am=alertmanager http://127.0.0.1:%d label=team=payments",
             am_port);
    const char *extra[] = {
        "--sink", sink, "--notify-hub-url", "http://loophub.example:7780", "--notify-resend",
        "2s",     NULL};
    lh_it_hub_run(&h, extra);
    story(&h, "api", "production", "am");
    end = lh_mono_ns() + lh_test_ms(15000) * LH_NS_PER_MS;
    while (!am_alerts(am_port, "DeployPrecededIncident", &out) && lh_mono_ns() < end)
        usleep(100000);
    json_error_t je;
    json_t *list = out ? json_loads(out, 0, &je) : NULL;
    ck_assert_msg(json_array_size(list) == 1, "GET /api/v2/alerts: %s", out ? out : "");
    json_t *a = json_array_get(list, 0), *l = json_object_get(a, "labels");
    ck_assert_str_eq(json_string_value(json_object_get(l, "alertname")), "DeployPrecededIncident");
    ck_assert_str_eq(json_string_value(json_object_get(l, "service")), "api");
    ck_assert_str_eq(json_string_value(json_object_get(l, "environment")), "production");
    ck_assert_str_eq(json_string_value(json_object_get(l, "suspect_deploy")), "am-D2");
    ck_assert_str_eq(json_string_value(json_object_get(l, "rollback_version")), "1.9");
    ck_assert_str_eq(json_string_value(json_object_get(l, "team")), "payments");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "status"), "state")),
                     "active");
    ck_assert(strstr(json_string_value(json_object_get(a, "generatorURL")),
                     "http://loophub.example:7780/") != NULL);
    json_decref(list);
    /* Alertmanager notified its receiver */
    recv_wait(&r, 1, 15000, &h);
    pthread_mutex_lock(&r.mu);
    ck_assert(strstr(r.req[0].body, "\"status\":\"firing\"") != NULL);
    ck_assert(strstr(r.req[0].body, "am-D2") != NULL);
    pthread_mutex_unlock(&r.mu);
    /* open: posted again before its endsAt (every --notify-resend), still active there */
    (void)metric_reaches(&h, "loophub_notify_resent_total", "am", 1, 15000);
    ck_assert_int_ge(metric(&h, "loophub_notify_resent_total", "am"), 1);
    ck_assert(am_alerts(am_port, "\"state\":\"active\"", &out));
    /* resolved: the final revision ends it, and the receiver hears so */
    resolve(&h, "api", "production", "am");
    end = lh_mono_ns() + lh_test_ms(20000) * LH_NS_PER_MS;
    int seen = 0;
    while (!seen && lh_mono_ns() < end) {
        pthread_mutex_lock(&r.mu);
        for (int i = 0; i < r.n; i++)
            if (strstr(r.req[i].body, "\"status\":\"resolved\""))
                seen = 1;
        pthread_mutex_unlock(&r.mu);
        if (!seen)
            usleep(100000);
    }
    ck_assert_msg(seen, "alertmanager sent no resolved notification");
    lh_it_hub_stop(&h);
    kill(ampid, SIGTERM);
    waitpid(ampid, NULL, 0);
    free(out);
    free(cfgp);
    recv_fini(&r);
}
END_TEST

static Suite *
notify_suite(void)
{
    Suite *s = suite_create("notify");
    const lh_test_case_t cases[] = {
        {"run_refuses_bad_sinks", run_refuses_bad_sinks, 30, 0},
        {"webhook_signed_and_retried", webhook_signed_and_retried, 60, 0},
        {"webhook_dead_letter_and_degraded", webhook_dead_letter_and_degraded, 60, 0},
        {"webhook_timeout", webhook_timeout, 60, 0},
        {"routing_by_environment", routing_by_environment, 60, 0},
        {"resume_after_restart", resume_after_restart, 60, 0},
        {"sinks_listing", sinks_listing, 60, 0},
        {"slack_and_pagerduty", slack_and_pagerduty, 60, 0},
        {"alertmanager_round_trip", alertmanager_round_trip, 90, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 60, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(notify_suite());
}
