/*
 * b_e2e.c - measurements 3 and 5: loophub end to end, the real `loophub run` binary in its own
 * process, fed pre-encoded protobuf events by this process:
 *  - PULL: one PUSH socket sends every payload as fast as the socket takes it;
 *  - ROUTER: one DEALER keeps a window of events outstanding, each acked after its commit;
 *  - Kafka: the topic is filled first (librdkafka producer, keyed by service, deploys and
 *    tickets also on the changes topic, as `loophub send --kafka-brokers` does), then the hub
 *    starts and consumes it through its consumer group;
 * and "all committed" is a condition on the hub: loophub_events_total on GET /metrics
 * (polled every 20 ms) reaching the number of events, or the last ack for ROUTER. Memory is the
 * hub's VmHWM from /proc/<pid>/status just before it is stopped.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "bench.h"
#include "loophub/format.h"
#include "loophub/timeutil.h"

#define POLL_MS 20

int
bench_push_all(const char *endpoint, const wl_stream_t *s, size_t from, size_t to, pid_t peer)
{
    void *ctx = zmq_ctx_new();
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    int linger = 60000;
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof(linger));
    int rc = zmq_connect(push, endpoint);
    for (size_t i = from; rc == 0 && i < to; i++)
        if (bench_zsend(push, s->data + s->off[i], s->off[i + 1] - s->off[i], 0, peer) < 0)
            rc = -1;
    if (rc)
        zmq_setsockopt(push, ZMQ_LINGER, &(int){0}, sizeof(int)); /* no one takes the rest */
    zmq_close(push);
    zmq_ctx_term(ctx);
    return rc;
}

/* Records the figures every end-to-end run shares. */
static void
record_run(const char *prefix, const bench_hub_t *h, size_t n, double secs)
{
    char key[96];
    double v;
    snprintf(key, sizeof(key), "e2e_%s_events_per_s", prefix);
    bench_set(key, (double)n / secs);
    /* ingest only: the CPU the hub spent opening its store (before /healthz) is left out */
    double cpu = bench_proc_cpu_s(h->pid);
    if (cpu > 0 && h->ready_cpu_s > 0)
        cpu -= h->ready_cpu_s;
    if (cpu > 0) {
        snprintf(key, sizeof(key), "e2e_%s_hub_cpu_us_per_event", prefix);
        bench_set(key, cpu * 1e6 / (double)n);
    }
    /* the store's I/O per event, from the hub's syscalls (the WAL, the checkpointer's copy into
     * the database file, pages read back past SQLite's cache): what grows with the store */
    double rchar, wchar, rd = -1, wr = -1;
    if (h->ready_rchar >= 0 && bench_proc_io(h->pid, &rchar, &wchar) == 0) {
        rd = (rchar - h->ready_rchar) / (double)n;
        wr = (wchar - h->ready_wchar) / (double)n;
        snprintf(key, sizeof(key), "e2e_%s_hub_read_bytes_per_event", prefix);
        bench_set(key, rd);
        snprintf(key, sizeof(key), "e2e_%s_hub_written_bytes_per_event", prefix);
        bench_set(key, wr);
    }
    if (bench_hub_metric(h, "loophub_wal_checkpoints_total", &v) == 0) {
        snprintf(key, sizeof(key), "e2e_%s_wal_checkpoints", prefix);
        bench_set(key, v);
    }
    if (bench_hub_metric(h, "loophub_wal_writer_waits_total", &v) == 0) {
        snprintf(key, sizeof(key), "e2e_%s_wal_writer_waits", prefix);
        bench_set(key, v);
    }
    if (bench_hub_metric(h, "loophub_alerts_created_total", &v) == 0) {
        snprintf(key, sizeof(key), "e2e_%s_alerts_created", prefix);
        bench_set(key, v);
    }
    if (bench_hub_metric(h, "loophub_batches_total", &v) == 0 && v > 0) {
        snprintf(key, sizeof(key), "e2e_%s_events_per_batch", prefix);
        bench_set(key, (double)n / v);
    }
    if (bench_hub_metric(h, "loophub_rejected_total", &v) == 0 && v > 0)
        bench_note("%s: the hub rejected %.0f events (see %s)", prefix, v, h->log);
    double rss = bench_vmhwm_mb(h->pid);
    snprintf(key, sizeof(key), "e2e_%s_peak_rss_mb", prefix);
    bench_set(key, rss);
    printf("  e2e %s: %zu events in %.2f s = %.0f events/s, hub %.1f us CPU/event, VmHWM %.1f "
           "MiB, %.0f bytes read and %.0f written per event\n",
           prefix, n, secs, (double)n / secs, cpu * 1e6 / (double)n, rss, rd, wr);
}

/* Events in a stopped hub's store (count(*) of its events table), or -1. */
static double
store_events(const char *db)
{
    sqlite3 *d = NULL;
    sqlite3_stmt *q = NULL;
    double n = -1;
    if (sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(d, "SELECT count(*) FROM events", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        n = (double)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(d);
    return n;
}

int
bench_pull_run(const bench_cfg_t *cfg, const char *name, const wl_stream_t *s, const char *prefix,
               double *eps, char *db_out, size_t db_len)
{
    return bench_pull_run_on(cfg, name, NULL, s, prefix, eps, db_out, db_len);
}

static int
pull_run(const bench_cfg_t *cfg, const char *name, const char *seed_db, const char *const *extra,
         const wl_stream_t *s, const char *prefix, double *eps, char *db_out, size_t db_len)
{
    bench_hub_t h;
    if (bench_hub_start_on(cfg, name, seed_db, extra, &h) != 0)
        return -1;
    char key[96];
    double before = 0;
    if (prefix) {
        snprintf(key, sizeof(key), "e2e_%s_ready_s", prefix);
        bench_set(key, h.ready_s);
        snprintf(key, sizeof(key), "e2e_%s_open_rss_mb", prefix);
        bench_set(key, bench_vmhwm_mb(h.pid));
        snprintf(key, sizeof(key), "e2e_%s_open_cpu_s", prefix);
        bench_set(key, h.ready_cpu_s);
    }
    /* a seeded store already holds events: the run ends when the count has grown by s->n */
    if (seed_db && bench_hub_metric(&h, "loophub_events_total", &before) != 0)
        before = 0;
    int64_t start = bench_mono_ns(), done = 0;
    int rc = bench_push_all(h.pull, s, 0, s->n, h.pid);
    if (rc == 0)
        rc = bench_hub_wait_stored(&h, before + (double)s->n, POLL_MS, 600000, &done, NULL, NULL);
    if (rc == 0) {
        double secs = (double)(done - start) / 1e9;
        if (eps)
            *eps = (double)s->n / secs;
        if (prefix)
            record_run(prefix, &h, s->n, secs);
    }
    if (bench_hub_stop(&h) != 0)
        rc = -1;
    /* the hub's last close checkpointed and removed the WAL: what is left is the store */
    if (rc == 0 && prefix) {
        double bytes = (double)bench_store_bytes(h.db), n = store_events(h.db);
        if (bytes > 0 && n > 0) {
            snprintf(key, sizeof(key), "e2e_%s_store_events", prefix);
            bench_set(key, n);
            snprintf(key, sizeof(key), "e2e_%s_store_bytes_per_event", prefix);
            bench_set(key, bytes / n);
            printf("  e2e %s: store %.1f MiB on disk for %.0f events = %.0f bytes/event\n", prefix,
                   bytes / 1048576.0, n, bytes / n);
        }
    }
    if (db_out)
        snprintf(db_out, db_len, "%s", h.db);
    else if (!cfg->keep)
        bench_rmrf(h.dir);
    return rc;
}

int
bench_pull_run_on(const bench_cfg_t *cfg, const char *name, const char *seed_db,
                  const wl_stream_t *s, const char *prefix, double *eps, char *db_out,
                  size_t db_len)
{
    return pull_run(cfg, name, seed_db, NULL, s, prefix, eps, db_out, db_len);
}

/* Step 3b: the same PULL ingest with a notification sink whose receiver never answers (a
 * listening socket nobody accepts from: every post waits for its timeout), against none, back
 * to back on the first DEADSINK_EVENTS events: the sink's queue fills, the outbox keeps the rest,
 * and ingest should not notice. */
#define DEADSINK_EVENTS 300000

int
bench_e2e_deadsink(const bench_cfg_t *cfg, const wl_stream_t *s)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
        bench_note("deadsink: no listening socket for the silent receiver");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    wl_stream_t part = *s;
    if (part.n > DEADSINK_EVENTS)
        part.n = DEADSINK_EVENTS;
    char sink[160];
    snprintf(sink, sizeof(sink), "dead=webhook http://127.0.0.1:%d/never timeout=5s",
             ntohs(a.sin_port));
    const char *extra[] = {"--sink", sink, NULL};
    double none = 0, dead = 0;
    int rc = pull_run(cfg, "deadsink-none", NULL, NULL, &part, "pull_no_sink", &none, NULL, 0);
    if (rc == 0)
        rc = pull_run(cfg, "deadsink-dead", NULL, extra, &part, "pull_dead_sink", &dead, NULL, 0);
    close(fd);
    return rc;
}

int
bench_e2e_pull(const bench_cfg_t *cfg, const wl_stream_t *s)
{
    int rc = bench_pull_run(cfg, "e2e-pull", s, "pull", NULL, NULL, 0);
    double v;
    if (rc == 0 && bench_get("e2e_pull_peak_rss_mb", &v))
        bench_set("peak_rss_mb", v);
    return rc;
}

int
bench_e2e_router(const bench_cfg_t *cfg, const wl_stream_t *s)
{
    bench_hub_t h;
    if (bench_hub_start(cfg, "e2e-router", NULL, &h) != 0)
        return -1;
    void *ctx = zmq_ctx_new();
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0, hwm = 1000000;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(d, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(d, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    int rc = zmq_connect(d, h.router);
    size_t sent = 0, acked = 0, bad = 0;
    size_t window = (size_t)cfg->router_window;
    int64_t start = bench_mono_ns(), last_progress = start;
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (rc == 0 && acked < s->n) {
        while (sent < s->n && sent - acked < window) {
            uint64_t tag = sent + 1;
            if (zmq_send(d, &tag, sizeof(tag), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
                break;
            if (bench_zsend(d, s->data + s->off[sent], s->off[sent + 1] - s->off[sent], 0, h.pid) <
                0) {
                rc = -1;
                break;
            }
            sent++;
        }
        zmq_pollitem_t pi = {d, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&pi, 1, 1000) <= 0) {
            if (bench_secs_since(last_progress) > 30) {
                bench_note("router: no ack for 30 s (%zu of %zu acked)", acked, s->n);
                rc = -1;
            }
            continue;
        }
        /* replies: [tag][id][status]... one id/status pair per event of the message */
        while (zmq_msg_recv(&m, d, ZMQ_DONTWAIT) >= 0) {
            int frame = 0;
            for (;;) {
                if (frame > 0 && frame % 2 == 0) {
                    acked++;
                    if (zmq_msg_size(&m) != 2 || memcmp(zmq_msg_data(&m), "ok", 2) != 0)
                        bad++;
                }
                frame++;
                if (!zmq_msg_more(&m))
                    break;
                if (zmq_msg_recv(&m, d, 0) < 0)
                    break;
            }
            last_progress = bench_mono_ns();
        }
    }
    int64_t done = bench_mono_ns();
    zmq_msg_close(&m);
    zmq_close(d);
    zmq_ctx_term(ctx);
    if (bad)
        bench_note("router: %zu events were not acked ok", bad);
    if (rc == 0) {
        record_run("router", &h, s->n, (double)(done - start) / 1e9);
        bench_set("e2e_router_window", (double)window);
    }
    if (bench_hub_stop(&h) != 0)
        rc = -1;
    if (!cfg->keep)
        bench_rmrf(h.dir);
    return rc;
}

/* ---- Kafka ----------------------------------------------------------------------------------- */

typedef struct {
    pid_t pid;
    int out_fd, in_fd;
    char bootstrap[256];
} mock_t;

static int
mock_start(const bench_cfg_t *cfg, int parts_events, int parts_changes, mock_t *mk)
{
    char t1[64], t2[64];
    snprintf(t1, sizeof(t1), "loophub.events:%d", parts_events);
    snprintf(t2, sizeof(t2), "loophub.changes:%d", parts_changes);
    const char *argv[] = {cfg->kafka_mock, "--brokers", "1",       "--topic",          t1,
                          "--topic",       t2,          "--topic", "loophub.alerts:4", NULL};
    char log[600];
    snprintf(log, sizeof(log), "%s/kafka-mock.log", cfg->workdir);
    mk->pid = bench_spawn_piped(argv, log, &mk->out_fd, &mk->in_fd);
    if (mk->pid < 0)
        return -1;
    size_t used = 0;
    int64_t start = bench_mono_ns();
    while (bench_secs_since(start) < 10 && used < sizeof(mk->bootstrap) - 1) {
        struct pollfd p = {mk->out_fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t n = read(mk->out_fd, mk->bootstrap + used, sizeof(mk->bootstrap) - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
        mk->bootstrap[used] = 0;
        char *nl = strchr(mk->bootstrap, '\n');
        if (nl) {
            *nl = 0;
            return 0;
        }
    }
    bench_note("kafka: the mock cluster did not print its address");
    return -1;
}

static void
mock_stop(mock_t *mk)
{
    if (mk->in_fd >= 0)
        close(mk->in_fd);
    bench_stop(mk->pid, 15, 10000);
    close(mk->out_fd);
}

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    size_t *failed = opaque;
    if (m->err)
        (*failed)++;
}

static int
produce_all(const char *bootstrap, const wl_stream_t *s, double *secs)
{
    char err[512];
    size_t failed = 0;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err));
    rd_kafka_conf_set(conf, "linger.ms", "20", err, sizeof(err));
    rd_kafka_conf_set(conf, "batch.num.messages", "10000", err, sizeof(err));
    rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", err, sizeof(err));
    rd_kafka_conf_set(conf, "queue.buffering.max.kbytes", "1048576", err, sizeof(err));
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, &failed);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        bench_note("kafka: producer: %s", err);
        return -1;
    }
    int64_t start = bench_mono_ns();
    for (size_t i = 0; i < s->n; i++) {
        char key[16];
        int klen = s->svc[i] >= 0 ? snprintf(key, sizeof(key), "svc-%04d", s->svc[i]) : 0;
        int copies = s->kind[i] == LH_KIND_DEPLOY || s->kind[i] == LH_KIND_TICKET ? 2 : 1;
        for (int c = 0; c < copies; c++) {
            for (;;) {
                rd_kafka_resp_err_t e = rd_kafka_producev(
                    rk, RD_KAFKA_V_TOPIC(c == 0 ? "loophub.events" : "loophub.changes"),
                    RD_KAFKA_V_KEY(klen ? key : NULL, (size_t)klen),
                    RD_KAFKA_V_VALUE((void *)(s->data + s->off[i]), s->off[i + 1] - s->off[i]),
                    RD_KAFKA_V_MSGFLAGS(0), RD_KAFKA_V_END);
                if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                    rd_kafka_poll(rk, 10);
                    continue;
                }
                if (e) {
                    bench_note("kafka: produce: %s", rd_kafka_err2str(e));
                    rd_kafka_destroy(rk);
                    return -1;
                }
                break;
            }
        }
        if (i % 10000 == 0)
            rd_kafka_poll(rk, 0);
    }
    rd_kafka_resp_err_t e = rd_kafka_flush(rk, 300000);
    *secs = bench_secs_since(start);
    rd_kafka_destroy(rk);
    if (e || failed) {
        bench_note("kafka: %zu messages not delivered (%s)", failed, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

int
bench_e2e_kafka(const bench_cfg_t *cfg, const wl_stream_t *s)
{
    if (!cfg->kafka_mock) {
        bench_note("kafka: no kafka_mock binary, skipped");
        return -1;
    }
    /* the mock keeps at most 5 MiB a partition: 2.5 MiB each leaves room */
    size_t change_bytes = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->kind[i] == LH_KIND_DEPLOY || s->kind[i] == LH_KIND_TICKET)
            change_bytes += s->off[i + 1] - s->off[i];
    int pe = (int)(s->bytes / (2560 * 1024)) + 4, pc = (int)(change_bytes / (2560 * 1024)) + 2;
    mock_t mk = {0, -1, -1, ""};
    if (mock_start(cfg, pe, pc, &mk) != 0) {
        mock_stop(&mk);
        return -1;
    }
    double psecs = 0;
    int rc = produce_all(mk.bootstrap, s, &psecs);
    if (rc == 0) {
        printf("  kafka: topic filled with %zu events (%d partitions) in %.1f s\n", s->n, pe,
               psecs);
        bench_set("kafka_produce_events_per_s", (double)s->n / psecs);
        bench_set("kafka_partitions", pe);
    }
    bench_hub_t h = {0};
    const char *extra[] = {
        "--kafka-brokers", mk.bootstrap, "--kafka-group", "bench", "--kafka-hub-name",
        "bench",           NULL};
    if (rc == 0)
        rc = bench_hub_start(cfg, "e2e-kafka", extra, &h);
    if (rc == 0) {
        int64_t start = bench_mono_ns(), first = 0, done = 0;
        double first_count = 0;
        rc = bench_hub_wait_stored(&h, (double)s->n, POLL_MS, 600000, &done, &first, &first_count);
        if (rc == 0) {
            /* the group join (a fixed ~3 s in the mock) is not ingest: time from the first
             * stored event */
            double secs = (double)(done - first) / 1e9;
            record_run("kafka", &h, (size_t)((double)s->n - first_count), secs);
            bench_set("e2e_kafka_wall_s", (double)(done - start) / 1e9);
        }
        if (bench_hub_stop(&h) != 0)
            rc = -1;
        if (!cfg->keep)
            bench_rmrf(h.dir);
    }
    mock_stop(&mk);
    return rc;
}

/* ---- memory with 100,000 deploys inside the window ----------------------------------------- */

static int
deploys_stream(size_t n_deploys, size_t n_outcomes, int services, wl_stream_t *s)
{
    memset(s, 0, sizeof(*s));
    lh_buf_t data = LH_BUF_INIT;
    size_t n = n_deploys + n_outcomes;
    s->off = calloc(n + 1, sizeof(*s->off));
    s->svc = calloc(n, sizeof(*s->svc));
    s->kind = calloc(n, 1);
    if (!s->off || !s->svc || !s->kind)
        return -1;
    int64_t now = lh_now_ns(), min = 60 * LH_NS_PER_SEC;
    /* deploys spread over [now - 100 min, now - 10 min], outcomes over the last 10 minutes:
     * every deploy is inside the 2 h window of every outcome of its service */
    for (size_t i = 0; i < n; i++) {
        lh_event_t *ev = lh_event_new();
        char buf[96], svc[32];
        int si = (int)((i * 7919) % (size_t)services), env = (int)(i % 3);
        wl_service_name(si, svc, sizeof(svc));
        snprintf(buf, sizeof(buf), "mem-%zu", i);
        ev->id = lh_event_str(ev, buf, (size_t)-1);
        ev->service = lh_event_str(ev, svc, (size_t)-1);
        ev->environment = lh_event_str(ev, wl_envs[env], (size_t)-1);
        ev->source = lh_event_str(ev, "ci/jenkins", (size_t)-1);
        if (i < n_deploys) {
            ev->kind = LH_KIND_DEPLOY;
            ev->time_ns =
                now - 100 * min + (int64_t)((double)(90 * min) * (double)i / (double)n_deploys);
            snprintf(buf, sizeof(buf), "MEM-D%zu", i);
            ev->deploy.deploy_id = lh_event_str(ev, buf, (size_t)-1);
            ev->deploy.status = LH_DEPLOY_SUCCEEDED;
            snprintf(buf, sizeof(buf), "4.%zu.0", i);
            ev->deploy.version = lh_event_str(ev, buf, (size_t)-1);
            ev->actor = lh_event_str(ev, "dev01", (size_t)-1);
            snprintf(buf, sizeof(buf), "%s-0", svc);
            lh_event_add_host(ev, buf, strlen(buf));
        } else {
            size_t k = i - n_deploys;
            ev->kind = LH_KIND_INCIDENT;
            ev->time_ns =
                now - 10 * min + (int64_t)((double)(9 * min) * (double)k / (double)n_outcomes);
            snprintf(buf, sizeof(buf), "MEM-INC%zu", k);
            ev->incident.incident_id = lh_event_str(ev, buf, (size_t)-1);
            ev->incident.state = LH_INCIDENT_DETECTED;
            ev->incident.severity = LH_SEV_CRITICAL;
        }
        s->off[i] = data.len;
        s->svc[i] = si;
        s->kind[i] = (unsigned char)ev->kind;
        int rc = lh_codec_pb_encode(ev, &data);
        lh_event_destroy(&ev);
        if (rc != 0)
            return -1;
        s->n = i + 1;
        s->off[s->n] = data.len;
    }
    s->data = data.data;
    s->bytes = data.len;
    s->n_deploys = n_deploys;
    s->n_incidents = s->n_outcomes = n_outcomes;
    return 0;
}

int
bench_memory_deploys(const bench_cfg_t *cfg)
{
    wl_stream_t s;
    size_t n_out = cfg->n_deploys / 10;
    if (deploys_stream(cfg->n_deploys, n_out, 1000, &s) != 0) {
        wl_stream_free(&s);
        return -1;
    }
    bench_hub_t h;
    int rc = bench_hub_start(cfg, "mem-deploys", NULL, &h);
    if (rc == 0) {
        int64_t start = bench_mono_ns(), done = 0;
        rc = bench_push_all(h.pull, &s, 0, s.n, h.pid);
        if (rc == 0)
            rc = bench_hub_wait_stored(&h, (double)s.n, POLL_MS, 600000, &done, NULL, NULL);
        if (rc == 0) {
            double rss = bench_vmhwm_mb(h.pid), alerts = 0;
            bench_hub_metric(&h, "loophub_alerts_created_total", &alerts);
            bench_set("peak_rss_100k_deploys_mb", rss);
            bench_set("mem_deploys_in_window", (double)cfg->n_deploys);
            bench_set("mem_outcomes", (double)n_out);
            bench_set("mem_alerts_created", alerts);
            printf("  memory: %zu deploys in the window + %zu incidents in %.1f s, %.0f alerts, "
                   "VmHWM %.1f MiB\n",
                   cfg->n_deploys, n_out, (double)(done - start) / 1e9, alerts, rss);
        }
        if (bench_hub_stop(&h) != 0)
            rc = -1;
        if (!cfg->keep)
            bench_rmrf(h.dir);
    }
    wl_stream_free(&s);
    return rc;
}
