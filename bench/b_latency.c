/*
 * b_latency.c - measurement 4, correlation latency: the time from sending an incident on the
 * hub's PULL socket to receiving the correlated alert on a SUB socket connected to its PUB.
 *
 * Probe services ("probe-00".."probe-49", prod) get a deploy ten minutes back first; each probe
 * is then one new incident on one of them, sent alone, and its alert is awaited before the next
 * (a few milliseconds apart, jittered so probes do not lock onto the hub's batch timer). The
 * SUB subscribes to "alert.prod.probe-" only, so the background's own alerts never reach it.
 * Idle: nothing else is sent. Under load: a second thread pushes the main workload at half of
 * the PULL peak measured in this run, paced every millisecond, on its own connection.
 *
 * Webhook answers, idle and under the same load: the time from a sender's request to the hub's
 * answer, which GitHub waits 10 s for and PagerDuty 5 s. Each probe is the deployment_status
 * payload GitHub publishes (tests/data/sources) posted to POST /v1/sources/github with its own
 * X-GitHub-Delivery, on a new connection as GitHub opens one (libcurl, reuse forbidden); the
 * answer is 202 only after the batch holding it committed, so this is the sender's view of
 * decode, store and commit.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "bench.h"
#include "loophub/format.h"
#include "loophub/timeutil.h"

#define PROBE_SERVICES 50

typedef struct {
    const char *endpoint;
    pid_t hub; /* its sends give up once the hub is gone */
    const wl_stream_t *s;
    double rate;
    atomic_int stop;
    size_t sent;
    double secs;
} bg_t;

static void *
bg_main(void *arg)
{
    bg_t *bg = arg;
    void *ctx = zmq_ctx_new();
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    int linger = 0;
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_connect(push, bg->endpoint);
    int64_t start = bench_mono_ns();
    while (!atomic_load(&bg->stop) && bg->sent < bg->s->n) {
        double due = bg->rate * bench_secs_since(start);
        while ((double)bg->sent < due && bg->sent < bg->s->n && !atomic_load(&bg->stop)) {
            size_t i = bg->sent++;
            if (bench_zsend(push, bg->s->data + bg->s->off[i], bg->s->off[i + 1] - bg->s->off[i], 0,
                            bg->hub) < 0)
                atomic_store(&bg->stop, 1);
        }
        bench_sleep_ms(1);
    }
    bg->secs = bench_secs_since(start);
    zmq_close(push);
    zmq_ctx_term(ctx);
    return NULL;
}

static int
encode_probe(lh_buf_t *out, const char *id, int kind, int svc, int64_t t)
{
    lh_event_t *ev = lh_event_new();
    char name[32];
    snprintf(name, sizeof(name), "probe-%02d", svc);
    ev->id = lh_event_str(ev, id, (size_t)-1);
    ev->service = lh_event_str(ev, name, (size_t)-1);
    ev->environment = lh_event_str(ev, "prod", 4);
    ev->time_ns = t;
    ev->kind = kind;
    if (kind == LH_KIND_DEPLOY) {
        ev->deploy.deploy_id = lh_event_str(ev, id, (size_t)-1);
        ev->deploy.status = LH_DEPLOY_SUCCEEDED;
        ev->deploy.version = lh_event_str(ev, "9.9.9", 5);
        ev->deploy.previous_version = lh_event_str(ev, "9.9.8", 5);
    } else {
        ev->incident.incident_id = lh_event_str(ev, id, (size_t)-1);
        ev->incident.state = LH_INCIDENT_DETECTED;
        ev->incident.severity = LH_SEV_CRITICAL;
        ev->incident.title = lh_event_str(ev, "probe", 5);
    }
    lh_buf_reset(out);
    int rc = lh_codec_pb_encode(ev, out);
    lh_event_destroy(&ev);
    return rc;
}

/* Sends one probe incident and waits for its alert. Returns the latency in ms, or -1. */
static double
probe(void *push, void *sub, lh_buf_t *buf, int i, int timeout_ms)
{
    char id[64], want[64];
    int svc = i % PROBE_SERVICES;
    snprintf(id, sizeof(id), "probe-inc-%d-%lld", i, (long long)lh_now_ns());
    snprintf(want, sizeof(want), "alert.prod.probe-%02d", svc);
    if (encode_probe(buf, id, LH_KIND_INCIDENT, svc, lh_now_ns()) != 0)
        return -1;
    int64_t t0 = bench_mono_ns();
    if (zmq_send(push, buf->data, buf->len, ZMQ_DONTWAIT) < 0)
        return -1; /* a probe at a time: a full queue is a hub that stopped taking them */
    for (;;) {
        int left = timeout_ms - (int)((bench_mono_ns() - t0) / 1000000);
        zmq_pollitem_t pi = {sub, 0, ZMQ_POLLIN, 0};
        if (left <= 0 || zmq_poll(&pi, 1, left) <= 0)
            return -1;
        char topic[128];
        int n = zmq_recv(sub, topic, sizeof(topic) - 1, 0);
        int64_t t1 = bench_mono_ns();
        int more = 0;
        size_t ml = sizeof(more);
        zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml);
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            zmq_msg_recv(&m, sub, 0);
            more = zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
        if (n > 0 && (size_t)n == strlen(want) && memcmp(topic, want, (size_t)n) == 0)
            return (double)(t1 - t0) / 1e6;
        /* a late alert of an earlier probe: keep waiting for ours */
    }
}

static int
run_probes(void *push, void *sub, int count, int first, const char *what, bg_t *bg)
{
    double *lat = calloc((size_t)count, sizeof(double));
    lh_buf_t buf = LH_BUF_INIT;
    int n = 0, lost = 0;
    uint64_t r = 12345;
    for (int i = 0; i < count; i++) {
        if (bg && bg->sent >= bg->s->n) {
            bench_note("latency: background stream ran out after %d probes", n);
            break;
        }
        double ms = probe(push, sub, &buf, first + i, 2000);
        if (ms < 0)
            lost++;
        else
            lat[n++] = ms;
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        bench_sleep_ms(2 + (int)((r >> 33) % 6));
    }
    char key[64];
    double max = 0;
    for (int i = 0; i < n; i++)
        if (lat[i] > max)
            max = lat[i];
    double p50 = bench_percentile(lat, (size_t)n, 50), p99 = bench_percentile(lat, (size_t)n, 99);
    const char *prefix = strcmp(what, "idle") == 0 ? "corr_latency_idle" : "corr_latency";
    snprintf(key, sizeof(key), "%s_p50_ms", prefix);
    bench_set(key, p50);
    snprintf(key, sizeof(key), "%s_p99_ms", prefix);
    bench_set(key, p99);
    snprintf(key, sizeof(key), "%s_max_ms", prefix);
    bench_set(key, max);
    snprintf(key, sizeof(key), "%s_samples", prefix);
    bench_set(key, n);
    if (lost)
        bench_note("latency %s: %d of %d probes got no alert within 2 s", what, lost, count);
    printf("  latency %s: %d probes, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", what, n, p50, p99,
           max);
    free(lat);
    lh_buf_free(&buf);
    return n > 0 ? 0 : -1;
}

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

/* GitHub's deployment_status example with its times moved to a minute ago (inside the hub's
 * limits), compact; NULL when the fixture is not there. */
static char *
webhook_body(void)
{
    json_t *doc = json_load_file(
        LH_BENCH_SOURCE_DIR "/tests/data/sources/github/deployment_status-created-success.json", 0,
        NULL);
    if (!doc)
        return NULL;
    char t[40];
    lh_time_format(lh_now_ns() - 60 * LH_NS_PER_SEC, t, sizeof(t));
    json_object_set_new(json_object_get(doc, "deployment_status"), "created_at", json_string(t));
    json_object_set_new(json_object_get(doc, "deployment"), "created_at", json_string(t));
    char *body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return body;
}

/* count webhook probes on the hub's HTTP port; sets webhook_answer[_idle]_p50/p99/max_ms. */
static int
webhook_probes(const bench_hub_t *h, const char *body, int count, int first, const char *what,
               bg_t *bg)
{
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    char url[96], dl[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/sources/github", h->http_port);
    double *lat = calloc((size_t)count, sizeof(double));
    int n = 0, bad = 0;
    for (int i = 0; i < count && lat; i++) {
        if (bg && bg->sent >= bg->s->n) {
            bench_note("webhook: background stream ran out after %d probes", n);
            break;
        }
        snprintf(dl, sizeof(dl), "X-GitHub-Delivery: bench-%d-%lld", first + i,
                 (long long)lh_now_ns());
        struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
        hd = curl_slist_append(hd, "X-GitHub-Event: deployment_status");
        hd = curl_slist_append(hd, dl);
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        int64_t t0 = bench_mono_ns();
        CURLcode rc = curl_easy_perform(c);
        double ms = (double)(bench_mono_ns() - t0) / 1e6;
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_slist_free_all(hd);
        if (rc == CURLE_OK && code == 202)
            lat[n++] = ms;
        else
            bad++;
        bench_sleep_ms(2);
    }
    curl_easy_cleanup(c);
    const char *prefix = strcmp(what, "idle") == 0 ? "webhook_answer_idle" : "webhook_answer";
    char key[64];
    double p50 = bench_percentile(lat, (size_t)n, 50), p99 = bench_percentile(lat, (size_t)n, 99);
    double max = n ? bench_percentile(lat, (size_t)n, 100) : 0;
    snprintf(key, sizeof(key), "%s_p50_ms", prefix);
    bench_set(key, p50);
    snprintf(key, sizeof(key), "%s_p99_ms", prefix);
    bench_set(key, p99);
    snprintf(key, sizeof(key), "%s_max_ms", prefix);
    bench_set(key, max);
    if (bad)
        bench_note("webhook %s: %d of %d posts were not answered 202", what, bad, count);
    printf("  webhook answer %s: %d posts, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", what, n, p50,
           p99, max);
    free(lat);
    return n > 0 ? 0 : -1;
}

/* The hub's own account of its commits during a phase (/metrics before and after): how many,
 * their mean size and time, how many took longer than 5, 10 and 25 ms, and how often a commit
 * waited for the WAL. A probe waits for the commit in progress and then its own: these say
 * whether a tail comes from long batches or from stalls. */
static const char *const COMMIT_SERIES[] = {
    "loophub_commit_seconds_count",
    "loophub_commit_seconds_sum",
    "loophub_commit_seconds_bucket{le=\"0.005\"}",
    "loophub_commit_seconds_bucket{le=\"0.01\"}",
    "loophub_commit_seconds_bucket{le=\"0.025\"}",
    "loophub_batch_events_sum",
    "loophub_wal_writer_waits_total{reason=\"restart\"}",
    "loophub_wal_writer_waits_total{reason=\"cap\"}",
    "loophub_wal_checkpoints_total{mode=\"restart\"}",
};
#define N_COMMIT_SERIES (sizeof(COMMIT_SERIES) / sizeof(COMMIT_SERIES[0]))

static void
commit_snapshot(const bench_hub_t *h, double *v)
{
    char *body = NULL;
    int rc = bench_http_get(h->http_port, "/metrics", &body);
    for (size_t i = 0; i < N_COMMIT_SERIES; i++)
        if (rc != 0 || bench_metric_in(body, COMMIT_SERIES[i], &v[i]) != 0)
            v[i] = -1;
    free(body);
}

static void
commit_report(const char *what, const double *a, const double *b)
{
    double d[N_COMMIT_SERIES];
    for (size_t i = 0; i < N_COMMIT_SERIES; i++) {
        if (a[i] < 0 || b[i] < 0)
            return; /* a hub without these series: nothing to say */
        d[i] = b[i] - a[i];
    }
    if (d[0] <= 0)
        return;
    printf("  commits %s: %.0f, mean %.0f events and %.2f ms; over 5 ms %.0f, over 10 ms %.0f, "
           "over 25 ms %.0f; WAL waits %.0f (restart) %.0f (cap), restart checkpoints %.0f\n",
           what, d[0], d[5] / d[0], 1000.0 * d[1] / d[0], d[0] - d[2], d[0] - d[3], d[0] - d[4],
           d[6], d[7], d[8]);
}

int
bench_latency(const bench_cfg_t *cfg, const wl_stream_t *background)
{
    bench_hub_t h;
    if (bench_hub_start(cfg, "latency", NULL, &h) != 0)
        return -1;
    void *ctx = zmq_ctx_new();
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int linger = 0, rc = 0;
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "alert.prod.probe-", 17);
    zmq_connect(push, h.pull);
    zmq_connect(sub, h.pub);
    lh_buf_t buf = LH_BUF_INIT;
    int64_t ten_min_ago = lh_now_ns() - 600 * LH_NS_PER_SEC;
    for (int k = 0; k < PROBE_SERVICES; k++) {
        char id[64];
        snprintf(id, sizeof(id), "probe-deploy-%d", k);
        encode_probe(&buf, id, LH_KIND_DEPLOY, k, ten_min_ago);
        bench_zsend(push, buf.data, buf.len, 0, h.pid);
    }
    lh_buf_free(&buf);
    int64_t done;
    rc = bench_hub_wait_stored(&h, PROBE_SERVICES, 10, 10000, &done, NULL, NULL);
    /* the subscription travels to the publisher asynchronously: probe until one gets through */
    int warm = 0;
    for (int i = 0; rc == 0 && i < 20; i++) {
        lh_buf_t b = LH_BUF_INIT;
        double ms = probe(push, sub, &b, 1000000 + i, 1000);
        lh_buf_free(&b);
        if (ms >= 0 && ++warm == 3)
            break;
    }
    if (rc == 0 && warm == 0) {
        bench_note("latency: no alert ever reached the SUB socket");
        rc = -1;
    }
    if (rc == 0)
        rc = run_probes(push, sub, cfg->probes, 0, "idle", NULL);
    char *hook = webhook_body();
    if (!hook)
        bench_note("webhook: the GitHub fixture is not readable: no webhook answer figures");
    if (rc == 0 && hook)
        rc = webhook_probes(&h, hook, cfg->probes, 0, "idle", NULL);
    double peak = 0;
    if (!bench_get("e2e_pull_events_per_s", &peak)) {
        const char *e = getenv("BENCH_LOAD_RATE");
        peak = e && atof(e) > 0 ? 2 * atof(e) : 40000;
        bench_note("latency: no PULL peak measured in this run; background at %.0f events/s",
                   peak / 2);
    }
    if (rc == 0 && background) {
        /* a small BENCH_SCALE has too few background events for half the peak rate to last the
         * probes (1 s of warm-up, then up to ~30 ms a probe): pace it down so that it does */
        double rate = peak / 2, lasts = (double)background->n / (1.0 + 0.030 * cfg->probes);
        if (rate > lasts) {
            bench_note("latency: background paced at %.0f events/s, not %.0f, so that its %zu "
                       "events last the probes (small BENCH_SCALE)",
                       lasts, rate, background->n);
            rate = lasts;
        }
        bg_t bg = {h.pull, h.pid, background, rate, 0, 0, 0};
        pthread_t t;
        pthread_create(&t, NULL, bg_main, &bg);
        bench_sleep_ms(1000);
        double before[N_COMMIT_SERIES], after[N_COMMIT_SERIES];
        commit_snapshot(&h, before);
        rc = run_probes(push, sub, cfg->probes, 100000, "under load", &bg);
        commit_snapshot(&h, after);
        commit_report("during the probes under load", before, after);
        if (rc == 0 && hook)
            rc = webhook_probes(&h, hook, cfg->probes, 100000, "under load", &bg);
        atomic_store(&bg.stop, 1);
        pthread_join(t, NULL);
        bench_set("corr_latency_load_events_per_s", (double)bg.sent / bg.secs);
        printf("  background: %zu events in %.1f s = %.0f events/s\n", bg.sent, bg.secs,
               (double)bg.sent / bg.secs);
    }
    free(hook);
    zmq_close(push);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    if (bench_hub_stop(&h) != 0)
        rc = -1;
    if (!cfg->keep)
        bench_rmrf(h.dir);
    return rc;
}
