/*
 * ithub.c - the hub under test and SUB sockets for the integration suites (see ithub.h).
 *
 * Invariants: a started hub always has its own temporary dir and ports, so suites can run side
 * by side; readiness is waited for (a condition polled by lh_test_wait_for), never slept for; a
 * hub that exits while starting is noticed at once rather than at the timeout.
 */
#include "ithub.h"

#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "loophub/format.h"
#include "loophub/timeutil.h"
#include "testutil.h"

#define IT_TIMEOUT_MS 15000

void
lh_it_hub_init(lh_it_hub_t *h, int with_http)
{
    memset(h, 0, sizeof(*h));
    h->dir = lh_test_tmpdir();
    snprintf(h->db, sizeof(h->db), "%s/hub.db", h->dir);
    snprintf(h->log, sizeof(h->log), "%s/hub.log", h->dir);
    h->http_port = with_http ? lh_test_free_port() : 0;
    h->pull = lh_test_endpoint();
    h->router = lh_test_endpoint();
    h->pub = lh_test_endpoint();
}

typedef struct {
    lh_it_hub_t *h;
    int running_before; /* "hub: running" lines already in the log (a restart appends) */
} wait_t;

static int
ready_or_dead(void *arg)
{
    wait_t *w = arg;
    if (waitpid(w->h->pid, NULL, WNOHANG) == w->h->pid) {
        w->h->dead = 1;
        w->h->pid = 0;
        return 1;
    }
    if (w->h->ready)
        return w->h->ready(w->h);
    return lh_test_file_count(w->h->log, "hub: running") > w->running_before;
}

void
lh_it_hub_run(lh_it_hub_t *h, const char *const *extra)
{
    char listen[64] = "off";
    if (h->http_port)
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", h->http_port);
    /* the suites' events carry fixed times, most of them older than the default retention: kept
     * unless a test asks for retention (a kind's own setting wins over --retention) */
    const char *argv[40] = {
        lh_test_loophub_bin(), "run",    "--db",         h->db,     "--http",    listen,
        "--zmq-pull",          h->pull,  "--zmq-router", h->router, "--zmq-pub", h->pub,
        "--retention",         "forever"};
    int n = 14;
    for (int i = 0; extra && extra[i] && n < 39; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    wait_t w = {h, lh_test_file_count(h->log, "hub: running")};
    h->dead = 0;
    h->pid = lh_test_spawn(argv, h->log);
    int up = lh_test_wait_for(ready_or_dead, &w, IT_TIMEOUT_MS) && !h->dead;
    if (!up) {
        char *log = lh_test_read_file(h->log, NULL);
        ck_abort_msg("the hub did not start (%s); its log:\n%s",
                     h->dead ? "it exited" : "not ready in time", log ? log : "(none)");
    }
}

void
lh_it_hub_start(lh_it_hub_t *h, int with_http, const char *const *extra)
{
    lh_it_hub_init(h, with_http);
    lh_it_hub_run(h, extra);
}

int
lh_it_hub_term(lh_it_hub_t *h)
{
    int st = lh_test_stop(h->pid, SIGTERM, IT_TIMEOUT_MS);
    h->pid = 0;
    return st;
}

void
lh_it_hub_fini(lh_it_hub_t *h)
{
    if (h->pid)
        lh_test_stop(h->pid, SIGKILL, 5000);
    h->pid = 0;
    lh_test_rmrf(h->dir);
    free(h->dir);
    free(h->pull);
    free(h->router);
    free(h->pub);
    h->dir = h->pull = h->router = h->pub = NULL;
}

void
lh_it_hub_stop(lh_it_hub_t *h)
{
    int st = lh_it_hub_term(h);
    if (st != 0) {
        char *log = lh_test_read_file(h->log, NULL);
        ck_abort_msg("the hub exited with %d; its log:\n%s", st, log ? log : "(none)");
    }
    lh_it_hub_fini(h);
}

/* --- SUB ------------------------------------------------------------------------------------ */

void
lh_it_sub_open(lh_it_sub_t *s, const char *ep, const char *prefix)
{
    s->ctx = zmq_ctx_new();
    s->sock = zmq_socket(s->ctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt(s->sock, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, prefix, strlen(prefix));
    ck_assert_int_eq(zmq_connect(s->sock, ep), 0);
}

void
lh_it_sub_close(lh_it_sub_t *s)
{
    zmq_close(s->sock);
    zmq_ctx_term(s->ctx);
}

char *
lh_it_sub_recv_raw(lh_it_sub_t *s, char *topic, size_t tlen, size_t *len, int timeout_ms)
{
    zmq_pollitem_t it = {s->sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, lh_test_ms(timeout_ms)) <= 0)
        return NULL;
    int n = zmq_recv(s->sock, topic, tlen - 1, 0);
    ck_assert_int_ge(n, 0);
    topic[n < (int)tlen - 1 ? n : (int)tlen - 1] = 0;
    int more = 0;
    size_t ml = sizeof(more);
    zmq_getsockopt(s->sock, ZMQ_RCVMORE, &more, &ml);
    ck_assert_msg(more, "an alert has two frames");
    zmq_msg_t m;
    zmq_msg_init(&m);
    ck_assert_int_ge(zmq_msg_recv(&m, s->sock, 0), 0);
    ck_assert_msg(!zmq_msg_more(&m), "an alert has exactly two frames");
    *len = zmq_msg_size(&m);
    char *body = malloc(*len + 1);
    ck_assert_ptr_nonnull(body);
    memcpy(body, zmq_msg_data(&m), *len);
    body[*len] = 0;
    zmq_msg_close(&m);
    return body;
}

lh_correlated_t *
lh_it_sub_recv_pb(lh_it_sub_t *s, char *topic, size_t tlen, int timeout_ms)
{
    size_t len;
    char *body = lh_it_sub_recv_raw(s, topic, tlen, &len, timeout_ms);
    if (!body)
        return NULL;
    lh_correlated_t *ca = NULL;
    ck_assert_int_eq(lh_codec_alert_pb_decode(body, len, &ca), 0);
    free(body);
    return ca;
}

long
lh_it_sql_long(const lh_it_hub_t *h, const char *q)
{
    const char *argv[] = {"sqlite3", "-readonly", h->db, q, NULL};
    char *out = NULL;
    ck_assert_msg(lh_test_run(argv, NULL, &out, NULL, 10000) == 0, "sqlite3 failed: %s", q);
    long v = out ? atol(out) : 0;
    free(out);
    return v;
}

typedef struct {
    const lh_it_hub_t *h;
    const char *q;
    long want;
} sql_wait_t;

static int
sql_reached(void *arg)
{
    sql_wait_t *w = arg;
    return lh_it_sql_long(w->h, w->q) >= w->want;
}

int
lh_it_sql_reaches(const lh_it_hub_t *h, const char *q, long want, int timeout_ms)
{
    sql_wait_t w = {h, q, want};
    return lh_test_wait_for(sql_reached, &w, lh_test_ms(timeout_ms));
}

void
lh_it_wait_sql(const lh_it_hub_t *h, const char *q, long want, int timeout_ms)
{
    ck_assert_msg(lh_it_sql_reaches(h, q, want, timeout_ms), "%s: %ld, not %ld (log %s)", q,
                  lh_it_sql_long(h, q), want, h->log);
}

long long
lh_it_metric(const lh_it_hub_t *h, const char *sample)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", h->http_port);
    const char *argv[] = {"curl", "-sS", url, NULL};
    char *out = NULL;
    ck_assert_int_eq(lh_test_run(argv, NULL, &out, NULL, 10000), 0);
    char pat[200];
    snprintf(pat, sizeof(pat), "\n%s ", sample);
    const char *p = out ? strstr(out, pat) : NULL;
    long long v = p ? atoll(p + strlen(pat)) : -1;
    free(out);
    return v;
}

/* --- HTTP through curl ------------------------------------------------------------------------ */

static lh_it_resp_t
curl_run(const lh_it_hub_t *h, const char *method, const char *path, const char *const *headers,
         const char *body_file, int chunked, int with_headers)
{
    char url[256], at[620];
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
    if (body_file) {
        snprintf(at, sizeof(at), "@%s", body_file);
        argv[n++] = "--data-binary";
        argv[n++] = at;
    }
    argv[n++] = url;
    argv[n] = NULL;
    char *out = NULL, *err = NULL;
    int st = lh_test_run(argv, NULL, &out, &err, 20000);
    ck_assert_msg(st == 0, "curl %s %s failed (%d): %s", method, path, st, err ? err : "");
    lh_it_resp_t r = {0, out};
    char *nl = strrchr(out, '\n');
    ck_assert_ptr_nonnull(nl);
    r.code = atoi(nl + 1);
    *nl = 0;
    free(err);
    return r;
}

lh_it_resp_t
lh_it_curl(const lh_it_hub_t *h, const char *method, const char *path, const char *const *headers,
           const char *body, int chunked, int with_headers)
{
    char bodyfile[600];
    if (body) {
        snprintf(bodyfile, sizeof(bodyfile), "%s/body.%d", h->dir, (int)getpid());
        ck_assert_int_eq(lh_test_write_file(bodyfile, body, strlen(body)), 0);
    }
    return curl_run(h, method, path, headers, body ? bodyfile : NULL, chunked, with_headers);
}

lh_it_resp_t
lh_it_curl_file(const lh_it_hub_t *h, const char *method, const char *path,
                const char *const *headers, const char *body_file)
{
    return curl_run(h, method, path, headers, body_file, 0, 0);
}

/* --- webhook fixtures ----------------------------------------------------------------------- */

const char *
lh_it_fresh_fixture(const lh_it_hub_t *h, const char *path, const char *name, int ago_s)
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
    json_t *run = json_object_get(root, "workflow_run");
    if (run)
        json_object_set_new(run, "updated_at", json_string(t));
    if (json_is_string(json_object_get(root, "status_changed_at"))) /* a GitLab deployment */
        json_object_set_new(root, "status_changed_at", json_string(t));
    json_t *ev = json_object_get(root, "event");
    if (ev)
        json_object_set_new(ev, "occurred_at", json_string(t));
    static char out[700];
    snprintf(out, sizeof(out), "%s/%s", h->dir, name);
    ck_assert_int_eq(json_dump_file(root, out, JSON_COMPACT), 0);
    json_decref(root);
    return out;
}
