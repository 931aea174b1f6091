/*
 * check_hub.c - the hub's reactor and pipeline driven in-process: lh_hub_new over a real SQLite
 * file in a temporary dir, the real ZeroMQ adapters on loopback endpoints, lh_hub_turn() as the
 * loop, real DEALER/REQ peers. Covers the invariants of hub.c: nothing acknowledged before it
 * is durable (a full disk stalls the batch, intake pauses, the ack comes after the retry that
 * commits), rejections counted once, an uncommitted message's token given back at exit, the
 * ROUTER envelope rules, the outbox cursor with an asynchronous sink, and the published alerts'
 * done marks (carried by the next batch transaction, on their own after ~1 s, at shutdown).
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "hub.h"
#include "loophub/error.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"
#include "testutil.h"
#include "zmq/zmq_adapter.h"
#ifdef LH_WITH_HTTP
#include "http/http_adapter.h"
#endif

typedef struct {
    char *dir;
    char *db;
    char *router_ep;
    void *zctx;
    lh_hub_t *hub;
    int64_t wal_bytes;   /* non-zero: the store's WAL checkpoint threshold */
    int64_t sink_behind; /* non-zero: the hub's sink_behind */
    int batch_max;       /* non-zero: the hub's batch_max */
} fx_t;

static fx_t fx;

static void
setup(void)
{
    memset(&fx, 0, sizeof(fx));
    fx.dir = lh_test_tmpdir();
    size_t n = strlen(fx.dir) + 16;
    fx.db = malloc(n);
    snprintf(fx.db, n, "%s/hub.db", fx.dir);
    fx.zctx = zmq_ctx_new();
    ck_assert_ptr_nonnull(fx.zctx);
}

static void
teardown(void)
{
    lh_hub_destroy(&fx.hub);
    if (fx.zctx)
        zmq_ctx_term(fx.zctx);
    lh_test_rmrf(fx.dir);
    free(fx.dir);
    free(fx.db);
    free(fx.router_ep);
}

/* A hub over fx.db; with_router: a ROUTER input on a fresh loopback endpoint. */
static void
hub_open(int with_router)
{
    lh_hub_opts_t o;
    lh_hub_opts_default(&o);
    o.db_path = fx.db;
    if (fx.wal_bytes)
        o.wal_checkpoint_bytes = fx.wal_bytes;
    if (fx.sink_behind)
        o.sink_behind = fx.sink_behind;
    if (fx.batch_max)
        o.batch_max = fx.batch_max;
    ck_assert_int_eq(lh_hub_new(&o, &fx.hub), 0);
    if (with_router) {
        const lh_adapter_ops_t *ops;
        void *ctx;
        fx.router_ep = lh_test_endpoint();
        const char *ep[] = {fx.router_ep};
        ck_assert_int_eq(lh_zmq_in_new(fx.zctx, LH_ZMQ_ROUTER, ep, 1, &ops, &ctx), 0);
        ck_assert_int_eq(lh_hub_add_adapter(fx.hub, ops, ctx, NULL), 0);
    }
}

static void *
peer_open(int type)
{
    void *s = zmq_socket(fx.zctx, type);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    ck_assert_int_eq(zmq_connect(s, fx.router_ep), 0);
    return s;
}

static void
send_frames(void *s, const char *const *frames, int n)
{
    for (int i = 0; i < n; i++)
        ck_assert_int_ge(zmq_send(s, frames[i], strlen(frames[i]), i + 1 < n ? ZMQ_SNDMORE : 0), 0);
}

/* One reply, frames joined with '|' into buf. Turns the hub meanwhile (when it is given).
 * Returns 1 when a reply came within timeout_ms, 0 otherwise. */
static int
recv_reply(void *s, lh_hub_t *hub, char *buf, size_t cap, int timeout_ms)
{
    int64_t end = lh_mono_ns() + (int64_t)timeout_ms * LH_NS_PER_MS;
    buf[0] = 0;
    while (lh_mono_ns() < end) {
        if (hub)
            lh_hub_turn(hub, 10);
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, hub ? 0 : 10) <= 0)
            continue;
        size_t len = 0;
        int more = 1;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            ck_assert_int_ge(zmq_msg_recv(&m, s, 0), 0);
            more = zmq_msg_more(&m);
            size_t fl = zmq_msg_size(&m);
            if (len + fl + 2 < cap) {
                memcpy(buf + len, zmq_msg_data(&m), fl);
                len += fl;
                if (more)
                    buf[len++] = '|';
                buf[len] = 0;
            }
            zmq_msg_close(&m);
        }
        return 1;
    }
    return 0;
}

/* One sample of /metrics: name{labels} exactly as written, or a bare family name for the sum of
 * all its samples. -1 when there is none. */
static int64_t
metric(lh_hub_t *hub, const char *name)
{
    lh_buf_t b = LH_BUF_INIT;
    ck_assert_int_eq(lh_hub_metrics(hub, &b), 0);
    size_t nl = strlen(name);
    int family = strchr(name, '{') == NULL;
    long long v = -1;
    for (const char *p = (const char *)b.data; p && *p;) {
        const char *q = p + nl;
        if (strncmp(p, name, nl) == 0 && family && *q == '{' && strchr(q, '}'))
            q = strchr(q, '}') + 1;
        if (strncmp(p, name, nl) == 0 && *q == ' ')
            v = (v < 0 ? 0 : v) + atoll(q + 1);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    lh_buf_free(&b);
    return v;
}

static int64_t
sql_int(lh_hub_t *hub, const char *sql)
{
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(lh__store_db(lh_hub_store(hub)), sql, -1, &s, NULL),
                     SQLITE_OK);
    int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return v;
}

/* Makes the store's file unable to grow: SQLite then fails as on a full disk (SQLITE_FULL). */
static void
disk_full(lh_hub_t *hub, int full)
{
    char sql[80];
    if (full)
        snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld",
                 (long long)sql_int(hub, "PRAGMA page_count"));
    else
        snprintf(sql, sizeof(sql), "PRAGMA max_page_count = 1073741823");
    sql_int(hub, sql);
}

/* A deploy whose six 4000-byte labels (24 kB, more than a 16 kB page) need pages the full store
 * does not have. */
static char *
big_deploy_batch(const char *id)
{
    static char note[4001];
    memset(note, 'n', 4000);
    size_t n = 32000;
    char *j = malloc(n);
    snprintf(j, n,
             "[{\"id\":\"%s\",\"kind\":\"deploy\",\"time\":\"2026-01-10T10:00:00Z\","
             "\"service\":\"api\",\"environment\":\"prod\",\"labels\":{\"n1\":\"%s\","
             "\"n2\":\"%s\",\"n3\":\"%s\",\"n4\":\"%s\",\"n5\":\"%s\",\"n6\":\"%s\"},"
             "\"deploy\":{\"deploy_id\":\"D-1\",\"status\":\"succeeded\",\"version\":\"2\"}},"
             "{\"id\":\"bad-1\",\"kind\":\"deploy\",\"time\":\"2026-01-10T10:00:00Z\","
             "\"deploy\":{\"deploy_id\":\"D-2\",\"status\":\"succeeded\"}}]",
             id, note, note, note, note, note, note);
    return j;
}

/* ---- disk full -------------------------------------------------------------------------- */

START_TEST(test_disk_full_no_ack_until_durable)
{
    hub_open(1);
    ck_assert_int_eq(lh_hub_start_adapters(fx.hub), 0);
    void *d = peer_open(ZMQ_DEALER);
    disk_full(fx.hub, 1);

    char *batch = big_deploy_batch("big-1");
    const char *m1[] = {"t1", batch};
    send_frames(d, m1, 2);
    const char *m2[] = {"t2", "{not json"};
    send_frames(d, m2, 2);

    /* the commit fails and is retried (once a second): no ack meanwhile, nothing stored */
    char reply[2048];
    int64_t end = lh_mono_ns() + 8 * LH_NS_PER_SEC;
    while (metric(fx.hub, "loophub_store_errors_total") < 3 && lh_mono_ns() < end)
        ck_assert_msg(!recv_reply(d, fx.hub, reply, sizeof(reply), 50),
                      "acked while the store is full: %s", reply);
    ck_assert_int_ge(metric(fx.hub, "loophub_store_errors_total"), 3);
    ck_assert_int_eq(sql_int(fx.hub, "SELECT count(*) FROM events"), 0);
    ck_assert_int_eq(metric(fx.hub, "loophub_rejected_total"), 0);

    /* room again: the very batch commits and every verdict goes out */
    disk_full(fx.hub, 0);
    char r1[2048] = "", r2[2048] = "";
    for (int got = 0; got < 2;) {
        ck_assert_msg(recv_reply(d, fx.hub, reply, sizeof(reply), 5000), "no ack after recovery");
        if (strncmp(reply, "t1|", 3) == 0)
            snprintf(r1, sizeof(r1), "%s", reply);
        else
            snprintf(r2, sizeof(r2), "%s", reply);
        got++;
    }
    ck_assert_msg(strncmp(r1, "t1|big-1|ok|bad-1|rejected: ", 27) == 0, "%s", r1);
    ck_assert_int_eq(strncmp(r2, "t2||rejected: ", 14), 0);
    ck_assert_int_eq(sql_int(fx.hub, "SELECT count(*) FROM events WHERE id = 'big-1'"), 1);
    /* each rejection counted once, however many times the batch was tried */
    ck_assert_int_eq(metric(fx.hub, "loophub_rejected_total"), 2);
    ck_assert_int_eq(metric(fx.hub, "loophub_rejected_total{reason=\"decode\"}"), 1);
    ck_assert_int_eq(metric(fx.hub, "loophub_rejected_total{reason=\"missing_field\"}"), 1);
    ck_assert_int_eq(sql_int(fx.hub, "SELECT count(*) FROM quarantine"), 2);
    ck_assert_int_eq(metric(fx.hub, "loophub_events_total"), 1);
    ck_assert_int_eq(metric(fx.hub, "loophub_events_total{kind=\"deploy\",adapter=\"zmq-in\"}"), 1);
    ck_assert_int_eq(metric(fx.hub, "loophub_store_events"), 1);
    free(batch);
    zmq_close(d);
}
END_TEST

/* Destroyed while the store refuses the batch: nothing acked, the ROUTER's token freed (the
 * suite runs under LeakSanitizer: a token lost with the batch fails the test). */
START_TEST(test_exit_with_uncommitted_batch)
{
    hub_open(1);
    ck_assert_int_eq(lh_hub_start_adapters(fx.hub), 0);
    void *d = peer_open(ZMQ_DEALER);
    disk_full(fx.hub, 1);
    char *batch = big_deploy_batch("big-2");
    const char *m1[] = {"t1", batch};
    send_frames(d, m1, 2);
    char reply[2048];
    int64_t end = lh_mono_ns() + 5 * LH_NS_PER_SEC;
    while (metric(fx.hub, "loophub_store_errors_total") < 1 && lh_mono_ns() < end)
        lh_hub_turn(fx.hub, 10);
    ck_assert_int_ge(metric(fx.hub, "loophub_store_errors_total"), 1);
    lh_hub_request_stop(fx.hub);
    ck_assert_int_eq(lh_hub_run(fx.hub), 0);
    lh_hub_destroy(&fx.hub);
    ck_assert_msg(!recv_reply(d, NULL, reply, sizeof(reply), 300), "acked: %s", reply);
    free(batch);
    zmq_close(d);
}
END_TEST

/* ---- WAL checkpoints ------------------------------------------------------------------- */

/* The store's checkpointer runs while the hub commits, and /metrics shows it. */
START_TEST(test_wal_checkpoints_in_metrics)
{
    fx.wal_bytes = 64 << 10; /* the smallest threshold the store takes */
    hub_open(1);
    ck_assert_int_eq(lh_hub_start_adapters(fx.hub), 0);
    const char *restarts = "loophub_wal_checkpoints_total{mode=\"restart\"}";
    ck_assert_int_eq(metric(fx.hub, restarts), 0);
    ck_assert_int_eq(metric(fx.hub, "loophub_wal_checkpoints_total{mode=\"passive\"}"), 0);
    void *d = peer_open(ZMQ_DEALER);
    char reply[2048];
    for (int i = 0; i < 8; i++) {
        char id[16], tag[16];
        snprintf(id, sizeof(id), "wal-%d", i);
        snprintf(tag, sizeof(tag), "t%d", i);
        char *batch = big_deploy_batch(id); /* 24 kB of labels: the WAL passes 64 kB often */
        const char *m[] = {tag, batch};
        send_frames(d, m, 2);
        ck_assert_msg(recv_reply(d, fx.hub, reply, sizeof(reply), 5000), "no ack for %s", tag);
        ck_assert_msg(strstr(reply, id) && strstr(reply, "|ok"), "reply: %s", reply);
        free(batch);
    }
    int64_t end = lh_mono_ns() + 10 * LH_NS_PER_SEC;
    while (metric(fx.hub, restarts) < 1 && lh_mono_ns() < end)
        lh_hub_turn(fx.hub, 10);
    ck_assert_int_ge(metric(fx.hub, restarts), 1);
    ck_assert_int_ge(metric(fx.hub, "loophub_wal_checkpoints_total{mode=\"passive\"}"), 1);
    /* present (-1 when missing); how often the writer waited depends on timing */
    ck_assert_int_ge(metric(fx.hub, "loophub_wal_writer_waits_total{reason=\"cap\"}"), 0);
    ck_assert_int_eq(sql_int(fx.hub, "SELECT count(*) FROM events WHERE id LIKE 'wal-%'"), 8);
    zmq_close(d);
}
END_TEST

/* ---- the DORA gauges ------------------------------------------------------------------- */

/* Sends a succeeded deploy of api/prod, an hour ago, and waits for its ack. */
static void
send_deploy(void *d, const char *id)
{
    char ts[64], j[512], reply[512];
    lh_time_format(lh_now_ns() - 3600 * LH_NS_PER_SEC, ts, sizeof(ts));
    snprintf(j, sizeof(j),
             "{\"id\":\"%s\",\"kind\":\"deploy\",\"time\":\"%s\",\"service\":\"api\","
             "\"environment\":\"prod\",\"deploy\":{\"deploy_id\":\"%s\",\"status\":\"succeeded\","
             "\"version\":\"1\"}}",
             id, ts, id);
    const char *m[] = {id, j};
    send_frames(d, m, 2);
    ck_assert_msg(recv_reply(d, fx.hub, reply, sizeof(reply), 5000), "no ack for %s", id);
    ck_assert_msg(strstr(reply, "|ok"), "reply: %s", reply);
}

/* The first scrape computes the gauges at once; once stale, a scrape gets the last ones and the
 * refresher (its own read-only connection, off the hub's thread) brings them up to date, here
 * after every scrape (the period shortened). */
START_TEST(test_dora_gauges_refreshed_off_thread)
{
    hub_open(1);
    ck_assert_int_eq(lh_hub_start_adapters(fx.hub), 0);
    void *d = peer_open(ZMQ_DEALER);
    const char *g = "loophub_dora_deployments{service=\"api\",environment=\"prod\"}";
    send_deploy(d, "dg-1");
    ck_assert_int_eq(metric(fx.hub, g), 1);
    send_deploy(d, "dg-2");
    ck_assert_int_eq(metric(fx.hub, g), 1); /* not stale yet: as last computed */
    lh__hub_test_dora_period(1);
    int64_t end = lh_mono_ns() + 10 * LH_NS_PER_SEC;
    int64_t v = 1;
    while ((v = metric(fx.hub, g)) == 1 && lh_mono_ns() < end)
        lh_hub_turn(fx.hub, 10);
    ck_assert_int_eq(v, 2);
    lh__hub_test_dora_period(0);
    zmq_close(d);
}
END_TEST

/* ---- ROUTER envelopes ------------------------------------------------------------------- */

START_TEST(test_router_bad_envelope_answered)
{
    hub_open(1);
    ck_assert_int_eq(lh_hub_start_adapters(fx.hub), 0);
    char reply[2048];

    /* DEALER: three frames where [tag] payload was expected */
    void *d = peer_open(ZMQ_DEALER);
    const char *bad[] = {"a", "b", "c"};
    send_frames(d, bad, 3);
    ck_assert_msg(recv_reply(d, fx.hub, reply, sizeof(reply), 5000), "no answer to a bad envelope");
    ck_assert_msg(strncmp(reply, "||rejected: bad envelope", 24) == 0, "%s", reply);

    /* a good message on the same connection still works */
    const char *good[] = {"t9",
                          "{\"id\":\"x-1\",\"kind\":\"ticket\",\"time\":\"2026-01-10T10:00:00Z\","
                          "\"ticket\":{\"ticket_id\":\"CHG-1\",\"type\":\"change\","
                          "\"state\":\"created\"}}"};
    send_frames(d, good, 2);
    ck_assert(recv_reply(d, fx.hub, reply, sizeof(reply), 5000));
    ck_assert_str_eq(reply, "t9|x-1|ok");

    /* REQ: the delimiter, then too many frames; a REQ peer waits for an answer, it must come */
    void *r = peer_open(ZMQ_REQ);
    const char *bad2[] = {"a", "b", "c"};
    send_frames(r, bad2, 3);
    ck_assert_msg(recv_reply(r, fx.hub, reply, sizeof(reply), 5000), "REQ peer left waiting");
    ck_assert_msg(strncmp(reply, "||rejected: bad envelope", 24) == 0, "%s", reply);

    /* REQ with [tag][payload] is fine */
    const char *ok2[] = {"t2",
                         "{\"id\":\"x-2\",\"kind\":\"ticket\",\"time\":\"2026-01-10T10:00:00Z\","
                         "\"ticket\":{\"ticket_id\":\"CHG-2\",\"type\":\"change\","
                         "\"state\":\"created\"}}"};
    send_frames(r, ok2, 2);
    ck_assert(recv_reply(r, fx.hub, reply, sizeof(reply), 5000));
    ck_assert_str_eq(reply, "t2|x-2|ok");

    ck_assert_int_eq(metric(fx.hub, "loophub_zmq_router_bad_envelope_total"), 2);
    ck_assert_int_eq(sql_int(fx.hub, "SELECT count(*) FROM quarantine"), 2);
    zmq_close(d);
    zmq_close(r);
}
END_TEST

/* ---- lh_hub_submit: raw bytes + headers, the hub decodes ---------------------------------- */

/* An input adapter that only records the verdicts done() brings. */
typedef struct {
    int calls;
    void *token;
    lh_ack_status_t status[8];
    char id[8][64];
    char why[8][256];
    size_t n;
} fake_in_t;

static void
fake_in_done(void *ctx, void *token, const lh_ack_t *acks, size_t n)
{
    fake_in_t *f = ctx;
    f->calls++;
    f->token = token;
    f->n = n < 8 ? n : 8;
    for (size_t i = 0; i < f->n; i++) {
        f->status[i] = acks[i].status;
        snprintf(f->id[i], sizeof(f->id[i]), "%s", acks[i].id ? acks[i].id : "");
        snprintf(f->why[i], sizeof(f->why[i]), "%s", acks[i].why ? acks[i].why : "");
    }
}

static void
fake_in_destroy(void *ctx)
{
    free(ctx);
}

static const lh_adapter_ops_t fake_in_ops = {
    .name = "fake-in",
    .done = fake_in_done,
    .destroy = fake_in_destroy,
};

/* Transport headers from a golden "ce_name: value" file, with prefix ("ce-" HTTP, "ce_" Kafka)
 * and one unrelated header of that transport. Names and values point into text/names. */
typedef struct {
    lh_kv_t kv[24];
    char names[24][64];
    char *text;
    size_t n;
} hdrs_t;

static void
hdrs_load(hdrs_t *h, const char *file, const char *prefix, const char *ctype_name,
          const char *other)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/cdevents/binary/%s", LH_TEST_DATA, file);
    h->text = lh_test_must_read(path);
    h->n = 0;
    h->kv[h->n++] = (lh_kv_t){other, "x", 1};
    char *save = NULL;
    for (char *line = strtok_r(h->text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(line, ':');
        ck_assert_ptr_nonnull(colon);
        *colon = 0;
        char *val = colon + 1;
        while (*val == ' ')
            val++;
        ck_assert_uint_lt(h->n, 23);
        snprintf(h->names[h->n], sizeof(h->names[h->n]), "%s%s", prefix, line + 3);
        h->kv[h->n] = (lh_kv_t){h->names[h->n], val, strlen(val)};
        h->n++;
    }
    h->kv[h->n++] = (lh_kv_t){ctype_name, "application/json", 16};
}

/* Submits one message as adapter a, turns the hub until done() came for it. */
static void
submit_and_ack(lh_adapter_t *a, fake_in_t *f, lh_submit_t *m, void *token)
{
    m->from = a;
    m->token = token;
    int before = f->calls;
    ck_assert_int_eq(lh_hub_submit(fx.hub, m), 0);
    for (int i = 0; i < 50 && f->calls == before; i++)
        lh_hub_turn(fx.hub, 10);
    ck_assert_int_eq(f->calls, before + 1);
    ck_assert_ptr_eq(f->token, token);
}

START_TEST(test_submit_binary_mode_http_and_kafka)
{
    hub_open(0);
    fake_in_t *f = calloc(1, sizeof(*f));
    ck_assert_int_eq(lh_hub_add_adapter(fx.hub, &fake_in_ops, f, NULL), 0);
    lh_adapter_t *a = lh_hub_adapter_of(fx.hub, f);
    ck_assert_ptr_nonnull(a);
    char path[1024];
    snprintf(path, sizeof(path), "%s/cdevents/binary/service_upgraded.json", LH_TEST_DATA);
    size_t dlen = 0;
    char *data = lh_test_read_file(path, &dlen);
    ck_assert_ptr_nonnull(data);
    int tok1, tok2, tok3, tok4;

    /* HTTP spelling: stored */
    hdrs_t http;
    hdrs_load(&http, "service_upgraded.headers", "Ce-", "Content-Type", "Host");
    lh_submit_t m = {
        .origin = "http:test", .data = data, .len = dlen, .headers = http.kv, .n_headers = http.n};
    submit_and_ack(a, f, &m, &tok1);
    ck_assert_uint_eq(f->n, 1);
    ck_assert_msg(f->status[0] == LH_ACK_OK, "HTTP headers: %s", f->why[0]);
    ck_assert_str_eq(f->id[0], "bin-deploy-1");
    ck_assert_int_eq(sql_int(fx.hub, "SELECT count(*) FROM events WHERE id = 'bin-deploy-1' AND "
                                     "service = 'checkout' AND environment = 'staging'"),
                     1);

    /* Kafka spelling of the same attributes: the same event (a duplicate of it) */
    hdrs_t kafka;
    hdrs_load(&kafka, "service_upgraded.headers", "ce_", "content-type", "traceparent");
    m = (lh_submit_t){.origin = "kafka:test/0",
                      .data = data,
                      .len = dlen,
                      .headers = kafka.kv,
                      .n_headers = kafka.n};
    submit_and_ack(a, f, &m, &tok2);
    ck_assert_uint_eq(f->n, 1);
    ck_assert_int_eq(f->status[0], LH_ACK_DUPLICATE);
    ck_assert_str_eq(f->id[0], "bin-deploy-1");

    /* binary mode without ce_id: rejected by the codec, the data quarantined as it came */
    for (size_t i = 0; i < kafka.n; i++)
        if (strcmp(kafka.kv[i].key, "ce_id") == 0)
            kafka.kv[i].key = "x-not-an-id";
    submit_and_ack(a, f, &m, &tok3);
    ck_assert_int_eq(f->status[0], LH_ACK_REJECTED);
    ck_assert_msg(strstr(f->why[0], "'id'"), "%s", f->why[0]);
    ck_assert_int_eq(sql_int(fx.hub, "SELECT count(*) FROM quarantine WHERE origin = "
                                     "'kafka:test/0' AND length(payload) > 0"),
                     1);

    /* a rejection of the adapter's own: nothing decoded, counted, quarantined with its reason */
    int64_t rejected = metric(fx.hub, "loophub_rejected_total");
    m = (lh_submit_t){.origin = "zmq:test",
                      .data = "{\"id\":\"never\"}",
                      .len = 14,
                      .reject = "bad envelope: test"};
    submit_and_ack(a, f, &m, &tok4);
    ck_assert_int_eq(f->status[0], LH_ACK_REJECTED);
    ck_assert_str_eq(f->why[0], "bad envelope: test");
    ck_assert_int_eq(sql_int(fx.hub, "SELECT count(*) FROM quarantine WHERE reason = "
                                     "'bad envelope: test' AND payload = CAST('{\"id\":\"never\"}' "
                                     "AS BLOB)"),
                     1);
    ck_assert_int_eq(metric(fx.hub, "loophub_rejected_total"), rejected + 1);

    /* no adapter: no done(); an empty message is one rejection */
    int calls = f->calls;
    m = (lh_submit_t){.origin = NULL, .data = NULL, .len = 0, .token = &tok1};
    ck_assert_int_eq(lh_hub_submit(fx.hub, &m), 0);
    ck_assert_int_ge(lh_hub_turn(fx.hub, 0), 0);
    ck_assert_int_eq(f->calls, calls);
    ck_assert_int_eq(sql_int(fx.hub, "SELECT count(*) FROM quarantine WHERE origin = '?'"), 1);

    free(http.text);
    free(kafka.text);
    free(data);
}
END_TEST

/* ---- outbox with an asynchronous sink --------------------------------------------------- */

/* Alerts not yet done on a sink, from the store's view of one row per (sink, alert). */
#define PENDING_ON(sink) "SELECT count(*) FROM alert_delivery WHERE sink = '" sink "' AND NOT done"
#define KAFKA_PENDING PENDING_ON("kafka")
#define PUB_PENDING PENDING_ON("zmq-pub")

typedef struct {
    int64_t seqs[64];
    int n;
} fake_sink_t;

static int
fake_start(void *ctx, lh_hub_t *hub)
{
    (void)ctx;
    (void)hub;
    return 0;
}

static int
fake_publish(void *ctx, int64_t seq, const lh_correlated_t *ca, const void *p, size_t len)
{
    (void)ca;
    (void)p;
    (void)len;
    fake_sink_t *f = ctx;
    if (f->n < 64)
        f->seqs[f->n++] = seq;
    return LH_PENDING; /* delivery reported later */
}

static void
fake_destroy(void *ctx)
{
    free(ctx);
}

static const lh_adapter_ops_t fake_ops = {
    .name = "fake-async",
    .start = fake_start,
    .publish = fake_publish,
    .destroy = fake_destroy,
};

static void
submit(lh_hub_t *hub, const char *json)
{
    lh_submit_t m = {.origin = "test", .data = json, .len = strlen(json)};
    ck_assert_int_eq(lh_hub_submit(hub, &m), 0);
}

static int
count_seq(const fake_sink_t *f, int64_t seq)
{
    int c = 0;
    for (int i = 0; i < f->n; i++)
        c += f->seqs[i] == seq;
    return c;
}

/* Events committed to the store, seen from a connection of its own (the hub's sees its open
 * transaction). */
static int64_t
committed_events(void)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(fx.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM events", -1, &s, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

/* An application that submits without turning the hub (the embedding API) gets batches of
 * batch_max events: the batch commits inside the submit that fills it, not one later. */
START_TEST(test_submit_commits_at_batch_max)
{
    fx.batch_max = 2;
    hub_open(0);
    char j[256];
    for (int i = 1; i <= 3; i++) {
        snprintf(j, sizeof(j),
                 "{\"id\":\"bm-%d\",\"kind\":\"deploy\",\"time\":\"2026-01-10T10:00:0%dZ\","
                 "\"service\":\"api\",\"environment\":\"prod\",\"deploy\":{}}",
                 i, i);
        submit(fx.hub, j);
        ck_assert_int_eq(committed_events(), i < 2 ? 0 : 2);
    }
    lh_hub_turn(fx.hub, 0); /* the rest commits at the end of the turn */
    ck_assert_int_eq(committed_events(), 3);
}
END_TEST

START_TEST(test_async_sink_failure_retries_only_that_alert)
{
    hub_open(0);
    fake_sink_t *f = calloc(1, sizeof(*f));
    ck_assert_int_eq(lh_hub_add_adapter(fx.hub, &fake_ops, f, "kafka"), 0);
    ck_assert_int_eq(lh_hub_start_adapters(fx.hub), 0);
    static const char *const svc[] = {"a", "b", "c"};
    char j[512];
    for (int i = 0; i < 3; i++) {
        snprintf(j, sizeof(j),
                 "{\"id\":\"d-%s\",\"kind\":\"deploy\",\"time\":\"2026-01-10T10:00:00Z\","
                 "\"service\":\"%s\",\"environment\":\"prod\",\"deploy\":{\"deploy_id\":\"D-%s\","
                 "\"status\":\"succeeded\",\"version\":\"2\"}}",
                 svc[i], svc[i], svc[i]);
        submit(fx.hub, j);
        snprintf(j, sizeof(j),
                 "{\"id\":\"i-%s\",\"kind\":\"incident\",\"time\":\"2026-01-10T10:05:00Z\","
                 "\"service\":\"%s\",\"environment\":\"prod\",\"incident\":{\"incident_id\":"
                 "\"INC-%s\",\"state\":\"detected\",\"severity\":\"critical\"}}",
                 svc[i], svc[i], svc[i]);
        submit(fx.hub, j);
    }
    ck_assert_int_eq(lh_hub_turn(fx.hub, 0), 6);
    ck_assert_int_eq(f->n, 3); /* three alerts, all in flight */
    int64_t s1 = f->seqs[0], s2 = f->seqs[1], s3 = f->seqs[2];
    lh_adapter_t *k = lh_hub_adapter_of(fx.hub, f);

    /* the second fails: only it is offered again, not the others still in flight */
    lh_hub_alert_failed(fx.hub, k, s2);
    lh_hub_turn(fx.hub, 0);
    ck_assert_int_eq(f->n, 4);
    ck_assert_int_eq(f->seqs[3], s2);
    ck_assert_int_eq(count_seq(f, s3), 1);

    /* the first and the retried second are delivered; the third fails twice */
    lh_hub_alert_done(fx.hub, k, s1);
    lh_hub_alert_done(fx.hub, k, s2);
    lh_hub_alert_failed(fx.hub, k, s3);
    lh_hub_turn(fx.hub, 0);
    ck_assert_int_eq(f->n, 5);
    ck_assert_int_eq(f->seqs[4], s3);
    lh_hub_alert_failed(fx.hub, k, s3);
    lh_hub_turn(fx.hub, 0);
    ck_assert_int_eq(f->n, 6);
    ck_assert_int_eq(f->seqs[5], s3);
    lh_hub_alert_done(fx.hub, k, s3);
    lh_hub_outbox_kick(fx.hub);
    lh_hub_turn(fx.hub, 0);
    ck_assert_int_eq(f->n, 6);
    ck_assert_int_eq(count_seq(f, s1), 1);
    ck_assert_int_eq(count_seq(f, s2), 2);
    /* no batch follows: the delivery marks get a transaction of their own within ~1 s */
    int64_t end = lh_mono_ns() + 5 * LH_NS_PER_SEC;
    while (sql_int(fx.hub, KAFKA_PENDING) != 0 && lh_mono_ns() < end)
        lh_hub_turn(fx.hub, 20);
    ck_assert_int_eq(sql_int(fx.hub, KAFKA_PENDING), 0);
    ck_assert_int_eq(f->n, 6);
}
END_TEST

/* ---- done marks of published alerts ride in the next batch transaction ------------------- */

static int
fake_publish_sync(void *ctx, int64_t seq, const lh_correlated_t *ca, const void *p, size_t len)
{
    fake_publish(ctx, seq, ca, p, len);
    return 0; /* out now */
}

static const lh_adapter_ops_t fake_sync_ops = {
    .name = "fake-sync",
    .start = fake_start,
    .publish = fake_publish_sync,
    .destroy = fake_destroy,
};

/* A hub over fx.db with a synchronous PUB sink (returned; owned by the hub). */
static fake_sink_t *
hub_open_sync_sink(void)
{
    hub_open(0);
    fake_sink_t *f = calloc(1, sizeof(*f));
    ck_assert_int_eq(lh_hub_add_adapter(fx.hub, &fake_sync_ops, f, "zmq-pub"), 0);
    ck_assert_int_eq(lh_hub_start_adapters(fx.hub), 0);
    return f;
}

/* A deploy then an incident of service svc: one alert. */
static void
submit_pair(const char *svc)
{
    char j[512];
    snprintf(j, sizeof(j),
             "{\"id\":\"d-%s\",\"kind\":\"deploy\",\"time\":\"2026-01-10T10:00:00Z\","
             "\"service\":\"%s\",\"environment\":\"prod\",\"deploy\":{\"deploy_id\":\"D-%s\","
             "\"status\":\"succeeded\",\"version\":\"2\"}}",
             svc, svc, svc);
    submit(fx.hub, j);
    snprintf(j, sizeof(j),
             "{\"id\":\"i-%s\",\"kind\":\"incident\",\"time\":\"2026-01-10T10:05:00Z\","
             "\"service\":\"%s\",\"environment\":\"prod\",\"incident\":{\"incident_id\":"
             "\"INC-%s\",\"state\":\"detected\",\"severity\":\"critical\"}}",
             svc, svc, svc);
    submit(fx.hub, j);
}

static void
submit_ticket(const char *id)
{
    char j[512];
    snprintf(j, sizeof(j),
             "{\"id\":\"%s\",\"kind\":\"ticket\",\"time\":\"2026-01-10T10:00:00Z\","
             "\"ticket\":{\"ticket_id\":\"%s\",\"type\":\"change\",\"state\":\"created\"}}",
             id, id);
    submit(fx.hub, j);
}

START_TEST(test_done_marks_ride_in_next_batch)
{
    fake_sink_t *f = hub_open_sync_sink();
    submit_pair("a");
    ck_assert_int_eq(lh_hub_turn(fx.hub, 0), 2);
    ck_assert_int_eq(f->n, 1);
    /* published, the mark waits for a transaction: not pending for /metrics meanwhile */
    ck_assert_int_eq(sql_int(fx.hub, PUB_PENDING), 1);
    ck_assert_int_eq(metric(fx.hub, "loophub_outbox_pending"), 0);
    ck_assert_int_eq(metric(fx.hub, "loophub_alerts_published_total"), 1);

    /* the next batch commits the mark with its events */
    submit_ticket("t-1");
    ck_assert_int_eq(lh_hub_turn(fx.hub, 0), 1);
    ck_assert_int_eq(sql_int(fx.hub, PUB_PENDING), 0);

    /* a restart finds nothing to publish again */
    lh_hub_destroy(&fx.hub);
    f = hub_open_sync_sink();
    lh_hub_turn(fx.hub, 0);
    ck_assert_int_eq(f->n, 0);
    ck_assert_int_eq(metric(fx.hub, "loophub_outbox_pending"), 0);
}
END_TEST

/* A batch that cannot commit keeps the marks it carried: they are written with the retry. */
START_TEST(test_done_marks_kept_when_batch_fails)
{
    fake_sink_t *f = hub_open_sync_sink();
    submit_pair("a");
    ck_assert_int_eq(lh_hub_turn(fx.hub, 0), 2);
    ck_assert_int_eq(f->n, 1);
    disk_full(fx.hub, 1);
    char *batch = big_deploy_batch("big-3");
    submit(fx.hub, batch);
    free(batch);
    ck_assert_int_eq(lh_hub_turn(fx.hub, 0), 0);
    ck_assert_int_ge(metric(fx.hub, "loophub_store_errors_total"), 1);
    ck_assert_int_eq(sql_int(fx.hub, PUB_PENDING), 1);
    disk_full(fx.hub, 0);
    int64_t end = lh_mono_ns() + 5 * LH_NS_PER_SEC;
    while (sql_int(fx.hub, "SELECT count(*) FROM events WHERE id = 'big-3'") == 0 &&
           lh_mono_ns() < end)
        lh_hub_turn(fx.hub, 20);
    ck_assert_int_eq(sql_int(fx.hub, "SELECT count(*) FROM events WHERE id = 'big-3'"), 1);
    ck_assert_int_eq(sql_int(fx.hub, PUB_PENDING), 0);
    ck_assert_int_eq(f->n, 1);
}
END_TEST

/* Marks still waiting at shutdown are written before the store closes: lh_hub_run's shutdown
 * and lh_hub_destroy (a hub driven by lh_hub_turn) alike. */
START_TEST(test_done_marks_applied_at_shutdown)
{
    fake_sink_t *f = hub_open_sync_sink();
    submit_pair("a");
    ck_assert_int_eq(lh_hub_turn(fx.hub, 0), 2);
    ck_assert_int_eq(f->n, 1);
    ck_assert_int_eq(sql_int(fx.hub, PUB_PENDING), 1);
    lh_hub_destroy(&fx.hub);

    f = hub_open_sync_sink();
    submit_pair("b");
    ck_assert_int_eq(lh_hub_turn(fx.hub, 0), 2);
    ck_assert_int_eq(f->n, 1); /* only b's: a's was marked at the destroy */
    ck_assert_int_eq(sql_int(fx.hub, PUB_PENDING), 1);
    lh_hub_request_stop(fx.hub);
    ck_assert_int_eq(lh_hub_run(fx.hub), 0);
    ck_assert_int_eq(sql_int(fx.hub, PUB_PENDING), 0);
    lh_hub_destroy(&fx.hub);

    f = hub_open_sync_sink();
    lh_hub_turn(fx.hub, 0);
    ck_assert_int_eq(f->n, 0);
    ck_assert_int_eq(sql_int(fx.hub, "SELECT count(*) FROM alerts"), 2);
}
END_TEST

/* ---- sinks are named rows: a third sink, failures per sink, a store of schema version 2 ---- */

/* The third sink of these tests: synchronous like PUB, but it can be made busy (think of a
 * webhook whose peer is down). */
typedef struct {
    int64_t seqs[64];
    int n;
    int busy; /* publish() refuses with LH_EAGAIN while set */
} third_sink_t;

static int
third_publish(void *ctx, int64_t seq, const lh_correlated_t *ca, const void *p, size_t len)
{
    (void)ca;
    (void)p;
    (void)len;
    third_sink_t *t = ctx;
    if (t->busy)
        return LH_EAGAIN;
    if (t->n < 64)
        t->seqs[t->n++] = seq;
    return 0;
}

static const lh_adapter_ops_t third_ops = {
    .name = "test-third",
    .start = fake_start,
    .publish = third_publish,
    .destroy = fake_destroy,
};

typedef struct {
    fake_sink_t *pub;   /* "zmq-pub", synchronous */
    fake_sink_t *kafka; /* "kafka", asynchronous: reports come from the test */
    third_sink_t *third;
} three_t;

static three_t
hub_open_three(void)
{
    hub_open(0);
    three_t k = {calloc(1, sizeof(fake_sink_t)), calloc(1, sizeof(fake_sink_t)),
                 calloc(1, sizeof(third_sink_t))};
    ck_assert_int_eq(lh_hub_add_adapter(fx.hub, &fake_sync_ops, k.pub, "zmq-pub"), 0);
    ck_assert_int_eq(lh_hub_add_adapter(fx.hub, &fake_ops, k.kafka, "kafka"), 0);
    ck_assert_int_eq(lh_hub_add_adapter(fx.hub, &third_ops, k.third, "third"), 0);
    ck_assert_int_eq(lh_hub_start_adapters(fx.hub), 0);
    return k;
}

static void
wait_pending(const char *sql, int64_t want)
{
    int64_t end = lh_mono_ns() + 5 * LH_NS_PER_SEC;
    while (sql_int(fx.hub, sql) != want && lh_mono_ns() < end)
        lh_hub_turn(fx.hub, 20);
    ck_assert_int_eq(sql_int(fx.hub, sql), want);
}

/* A third sink is one more registration: it sees every alert, on its own (busy, it holds back
 * no other sink; ready again, it gets each alert once, oldest first), and its done state
 * survives a restart. */
START_TEST(test_third_sink_independent)
{
    three_t k = hub_open_three();
    k.third->busy = 1;
    submit_pair("a");
    submit_pair("b");
    ck_assert_int_eq(lh_hub_turn(fx.hub, 0), 4);
    ck_assert_int_eq(k.pub->n, 2);
    ck_assert_int_eq(k.kafka->n, 2);
    ck_assert_int_eq(k.third->n, 0);
    int64_t s1 = k.pub->seqs[0], s2 = k.pub->seqs[1];
    ck_assert(s1 < s2);
    ck_assert_int_eq(k.kafka->seqs[0], s1);
    ck_assert_int_eq(k.kafka->seqs[1], s2);
    lh_hub_alert_done(fx.hub, lh_hub_adapter_of(fx.hub, k.kafka), s1); /* s2 stays in flight */
    ck_assert_int_eq(metric(fx.hub, "loophub_outbox_sink_pending{sink=\"third\"}"), 2);

    k.third->busy = 0;
    lh_hub_outbox_kick(fx.hub);
    lh_hub_turn(fx.hub, 0);
    ck_assert_int_eq(k.third->n, 2);
    ck_assert_int_eq(k.third->seqs[0], s1);
    ck_assert_int_eq(k.third->seqs[1], s2);
    ck_assert_int_eq(k.pub->n, 2); /* nothing again on the others */
    ck_assert_int_eq(k.kafka->n, 2);
    ck_assert_int_eq(metric(fx.hub, "loophub_outbox_sink_pending{sink=\"third\"}"), 0);
    ck_assert_int_eq(metric(fx.hub, "loophub_outbox_sink_pending{sink=\"kafka\"}"), 1);
    ck_assert_int_eq(metric(fx.hub, "loophub_outbox_pending"), 1); /* the largest backlog */

    /* the marks reach the store on their own within ~1 s */
    wait_pending(PENDING_ON("third"), 0);
    wait_pending(PUB_PENDING, 0);
    ck_assert_int_eq(sql_int(fx.hub, KAFKA_PENDING), 1);
    ck_assert_int_eq(sql_int(fx.hub, "SELECT count(*) FROM sinks"), 3);

    /* restart: only Kafka's alert in flight is offered again, on Kafka only */
    lh_hub_destroy(&fx.hub);
    k = hub_open_three();
    lh_hub_turn(fx.hub, 0);
    ck_assert_int_eq(k.third->n, 0);
    ck_assert_int_eq(k.pub->n, 0);
    ck_assert_int_eq(k.kafka->n, 1);
    ck_assert_int_eq(k.kafka->seqs[0], s2);
    /* and a new alert goes to all three */
    submit_pair("c");
    ck_assert_int_eq(lh_hub_turn(fx.hub, 0), 2);
    ck_assert_int_eq(k.third->n, 1);
    ck_assert_int_eq(k.pub->n, 1);
    ck_assert_int_eq(k.kafka->n, 2);
    ck_assert_int_gt(k.third->seqs[0], s2);
    ck_assert_int_eq(k.third->seqs[0], k.kafka->seqs[1]);
}
END_TEST

/* A delivery failed on one sink is offered again on that sink only: another asynchronous sink
 * and the synchronous one see it once. */
START_TEST(test_failed_on_one_sink_retried_there_only)
{
    three_t k = hub_open_three();
    fake_sink_t *other = calloc(1, sizeof(*other));
    ck_assert_int_eq(lh_hub_add_adapter(fx.hub, &fake_ops, other, "kafka-dr"), 0);
    ck_assert_int_eq(lh_hub_start_adapters(fx.hub), 0);
    lh_adapter_t *ka = lh_hub_adapter_of(fx.hub, k.kafka);
    lh_adapter_t *ot = lh_hub_adapter_of(fx.hub, other);
    ck_assert_ptr_nonnull(ka);
    ck_assert_ptr_nonnull(ot);
    submit_pair("a");
    submit_pair("b");
    submit_pair("c");
    ck_assert_int_eq(lh_hub_turn(fx.hub, 0), 6);
    ck_assert_int_eq(k.kafka->n, 3);
    ck_assert_int_eq(other->n, 3);
    int64_t s1 = k.kafka->seqs[0], s2 = k.kafka->seqs[1], s3 = k.kafka->seqs[2];

    lh_hub_alert_failed(fx.hub, ka, s2);
    lh_hub_turn(fx.hub, 0);
    ck_assert_int_eq(k.kafka->n, 4);
    ck_assert_int_eq(k.kafka->seqs[3], s2);
    ck_assert_int_eq(other->n, 3);
    ck_assert_int_eq(k.pub->n, 3);
    ck_assert_int_eq(k.third->n, 3);

    /* done on one sink, failed on the other: offered again there, still done here */
    lh_hub_alert_done(fx.hub, ka, s3);
    lh_hub_alert_failed(fx.hub, ot, s3);
    lh_hub_turn(fx.hub, 0);
    ck_assert_int_eq(other->n, 4);
    ck_assert_int_eq(other->seqs[3], s3);
    ck_assert_int_eq(k.kafka->n, 4);
    ck_assert_int_eq(count_seq(k.kafka, s3), 1);
    /* a report of the wrong kind of handle changes nothing */
    lh_hub_alert_failed(fx.hub, NULL, s1);
    lh_hub_turn(fx.hub, 0);
    ck_assert_int_eq(k.kafka->n, 4);
    ck_assert_int_eq(other->n, 4);

    lh_hub_alert_done(fx.hub, ka, s1);
    lh_hub_alert_done(fx.hub, ka, s2);
    lh_hub_alert_done(fx.hub, ot, s1);
    lh_hub_alert_done(fx.hub, ot, s3);
    wait_pending(KAFKA_PENDING, 0);
    ck_assert_int_eq(sql_int(fx.hub, PENDING_ON("kafka-dr")), 1); /* s2 is still in flight there */
    ck_assert_int_eq(sql_int(fx.hub, "SELECT seq FROM alert_delivery WHERE sink = 'kafka-dr'"
                                     " AND NOT done"),
                     s2);
    ck_assert_int_eq(k.kafka->n, 4);
    ck_assert_int_eq(other->n, 4);
}
END_TEST

/* A sink name is registered once; a bad one is refused (and the adapter destroyed). */
START_TEST(test_sink_names_checked)
{
    hub_open(0);
    fake_sink_t *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    fake_sink_t *c = calloc(1, sizeof(*c));
    ck_assert_int_eq(lh_hub_add_adapter(fx.hub, &fake_ops, a, "kafka"), 0);
    ck_assert_int_eq(lh_hub_add_adapter(fx.hub, &fake_ops, b, "kafka"), LH_EINVAL);
    ck_assert_int_eq(lh_hub_add_adapter(fx.hub, &fake_ops, c, "no spaces"), LH_EINVAL);
    ck_assert_ptr_null(lh_hub_adapter_of(fx.hub, b));
    ck_assert_ptr_nonnull(lh_hub_adapter_of(fx.hub, a));
}
END_TEST

/* A store written by loophub 7efb9df (schema version 2, tests/data/store/v2.sql): once
 * migrated, each sink delivers what was pending in its column, and the old events still
 * correlate and dedupe. */
START_TEST(test_v2_store_delivers_per_sink)
{
    lh_test_load_store_dump(fx.db, "v2.sql");
    hub_open(0);
    fake_sink_t *pub = calloc(1, sizeof(*pub)), *kafka = calloc(1, sizeof(*kafka));
    ck_assert_int_eq(lh_hub_add_adapter(fx.hub, &fake_sync_ops, pub, "zmq-pub"), 0);
    ck_assert_int_eq(lh_hub_add_adapter(fx.hub, &fake_sync_ops, kafka, "kafka"), 0);
    ck_assert_int_eq(lh_hub_start_adapters(fx.hub), 0);
    lh_hub_turn(fx.hub, 0);
    static const int64_t want_pub[] = {7, 8}, want_kafka[] = {3, 5, 6, 8};
    ck_assert_int_eq(pub->n, 2);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pub->seqs[i], want_pub[i]);
    ck_assert_int_eq(kafka->n, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(kafka->seqs[i], want_kafka[i]);

    /* an incident of api 30 minutes after the api deploy the old store holds */
    submit(fx.hub, "{\"id\":\"i-api-2\",\"kind\":\"incident\",\"time\":\"2026-01-10T10:30:00Z\","
                   "\"service\":\"api\",\"environment\":\"prod\",\"incident\":{\"incident_id\":"
                   "\"INC-api-2\",\"state\":\"detected\",\"severity\":\"critical\"}}");
    ck_assert_int_eq(lh_hub_turn(fx.hub, 0), 1);
    ck_assert_int_eq(pub->n, 3);
    ck_assert_int_eq(pub->seqs[2], 9);
    ck_assert_int_eq(kafka->n, 5);
    ck_assert_int_eq(kafka->seqs[4], 9);
    ck_assert_int_eq(sql_int(fx.hub, "SELECT count(*) FROM correlations WHERE alert_seq = 9"
                                     " AND deploy_id = 'D-api'"),
                     1);
    /* an event the old store holds is a duplicate */
    submit(fx.hub, "{\"id\":\"d-api\",\"kind\":\"deploy\",\"time\":\"2026-01-10T10:00:00Z\","
                   "\"service\":\"api\",\"environment\":\"prod\",\"deploy\":{\"deploy_id\":"
                   "\"D-api\",\"status\":\"succeeded\",\"version\":\"2\"}}");
    ck_assert_int_eq(lh_hub_turn(fx.hub, 0), 0);
    ck_assert_int_eq(metric(fx.hub, "loophub_events_duplicate_total"), 1);
    wait_pending(PUB_PENDING, 0);
    wait_pending(KAFKA_PENDING, 0);
    ck_assert_int_eq(sql_int(fx.hub, "SELECT count(*) FROM outbox_done"), 0);
    ck_assert_int_eq(sql_int(fx.hub, "SELECT min(done_through) FROM sinks"), 9);
}
END_TEST

/* ---- health ------------------------------------------------------------------------------ */

static int fake_health_state = LH_HEALTH_OK;

static int
fake_health(void *ctx, char *why, size_t len)
{
    (void)ctx;
    if (fake_health_state != LH_HEALTH_OK)
        snprintf(why, len, "brokers unreachable");
    return fake_health_state;
}

static void
nop_destroy(void *ctx)
{
    (void)ctx;
}

static const lh_adapter_ops_t health_ops = {
    .name = "fake-health",
    .destroy = nop_destroy,
    .health = fake_health,
};

static int
has_reason(const lh_health_t *h, const char *needle)
{
    for (int i = 0; i < h->n_reasons; i++)
        if (strstr(h->reasons[i], needle))
            return 1;
    return 0;
}

START_TEST(test_health_states)
{
    fx.sink_behind = 2;
    hub_open(0);
    fake_sink_t *f = calloc(1, sizeof(*f));
    ck_assert_int_eq(lh_hub_add_adapter(fx.hub, &fake_ops, f, "kafka"), 0);
    ck_assert_int_eq(lh_hub_add_adapter(fx.hub, &health_ops, NULL, NULL), 0);
    lh_health_t h;
    lh_hub_health(fx.hub, &h);
    ck_assert_int_eq(h.status, LH_HEALTH_STARTING); /* adapters not started, no turn yet */
    ck_assert_int_eq(lh_hub_start_adapters(fx.hub), 0);
    lh_hub_turn(fx.hub, 0);
    lh_hub_health(fx.hub, &h);
    ck_assert_int_eq(h.status, LH_HEALTH_OK);
    ck_assert_int_eq(h.n_reasons, 0);

    /* an adapter still starting, then one degraded: named with its reason */
    fake_health_state = LH_HEALTH_STARTING;
    lh_hub_health(fx.hub, &h);
    ck_assert_int_eq(h.status, LH_HEALTH_STARTING);
    fake_health_state = LH_HEALTH_DEGRADED;
    lh_hub_health(fx.hub, &h);
    ck_assert_int_eq(h.status, LH_HEALTH_DEGRADED);
    ck_assert_msg(has_reason(&h, "fake-health: brokers unreachable"), "%s", h.reasons[0]);
    fake_health_state = LH_HEALTH_OK;

    /* three alerts in flight on a sink that reports nothing: over sink_behind (2) */
    static const char *const svc[] = {"a", "b", "c"};
    char j[512];
    for (int i = 0; i < 3; i++) {
        snprintf(j, sizeof(j),
                 "{\"id\":\"d-%s\",\"kind\":\"deploy\",\"time\":\"2026-01-10T10:00:00Z\","
                 "\"service\":\"%s\",\"environment\":\"prod\",\"deploy\":{\"deploy_id\":\"D-%s\","
                 "\"status\":\"succeeded\",\"version\":\"2\"}}",
                 svc[i], svc[i], svc[i]);
        submit(fx.hub, j);
        snprintf(j, sizeof(j),
                 "{\"id\":\"i-%s\",\"kind\":\"incident\",\"time\":\"2026-01-10T10:05:00Z\","
                 "\"service\":\"%s\",\"environment\":\"prod\",\"incident\":{\"incident_id\":"
                 "\"INC-%s\",\"state\":\"detected\",\"severity\":\"critical\"}}",
                 svc[i], svc[i], svc[i]);
        submit(fx.hub, j);
    }
    ck_assert_int_eq(lh_hub_turn(fx.hub, 0), 6);
    lh_hub_health(fx.hub, &h);
    ck_assert_int_eq(h.status, LH_HEALTH_DEGRADED);
    ck_assert_msg(has_reason(&h, "sink kafka behind: 3 alerts"), "%s", h.reasons[0]);
    /* delivered: healthy again */
    lh_adapter_t *k = lh_hub_adapter_of(fx.hub, f);
    for (int i = 0; i < f->n; i++)
        lh_hub_alert_done(fx.hub, k, f->seqs[i]);
    lh_hub_turn(fx.hub, 0);
    lh_hub_health(fx.hub, &h);
    ck_assert_msg(h.status == LH_HEALTH_OK, "%d %s", h.status, h.reasons[0]);
}
END_TEST

#ifdef LH_WITH_HTTP
/* A connection to the hub's own HTTP adapter on port with req sent whole; the socket. */
static int
http_send(int port, const char *req)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
    return fd;
}

/* Turns the hub until the answer on fd ends (the request said "Connection: close"), into out;
 * closes fd. Returns the time it took in ms, or -1 when it did not end within timeout_ms. */
static int
http_read(lh_hub_t *hub, int fd, char *out, size_t cap, int timeout_ms)
{
    int64_t t0 = lh_mono_ns(), end = t0 + (int64_t)timeout_ms * LH_NS_PER_MS;
    size_t got = 0;
    int done = 0;
    while (!done && lh_mono_ns() < end) {
        lh_hub_turn(hub, 1);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        while (poll(&p, 1, 0) == 1) {
            ssize_t n = recv(fd, out + got, cap - 1 - got, 0);
            if (n <= 0) {
                done = 1;
                break;
            }
            got += (size_t)n;
        }
    }
    out[got] = 0;
    close(fd);
    return done ? (int)((lh_mono_ns() - t0) / LH_NS_PER_MS) : -1;
}

/* One HTTP exchange (http_send, then http_read). */
static int
http_exchange(lh_hub_t *hub, int port, const char *req, char *out, size_t cap, int timeout_ms)
{
    return http_read(hub, http_send(port, req), out, cap, timeout_ms);
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"

/* Adds the HTTP adapter on a free loopback port and starts every adapter; returns the port. */
static int
http_adapter_start(lh_hub_t *hub)
{
    int port = lh_test_free_port();
    char listen[32];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    lh_http_opts_t ho;
    lh_http_opts_default(&ho);
    ho.listen = listen;
    const lh_adapter_ops_t *ops;
    void *ctx;
    ck_assert_int_eq(lh_http_new(&ho, &ops, &ctx), 0);
    ck_assert_int_eq(lh_hub_add_adapter(hub, ops, ctx, NULL), 0);
    ck_assert_int_eq(lh_hub_start_adapters(hub), 0);
    return port;
}

/* HTTP's row of the delivery table: "202 comes after the commit". A POST taken into a batch the
 * full store cannot commit gets no answer while the commit is retried (three failed tries
 * counted), nothing is stored; with room again the very request is answered 202 naming its
 * event, which is then in the store. */
START_TEST(test_http_disk_full_no_202_until_durable)
{
    hub_open(1);
    int port = http_adapter_start(fx.hub);
    disk_full(fx.hub, 1);
    char *batch = big_deploy_batch("big-http");
    /* only the big deploy: the batch's second event is a rejection, answered 400 */
    char *cut = strstr(batch, "},{\"id\":\"bad-1\"");
    ck_assert_ptr_nonnull(cut);
    strcpy(cut, "}]");
    char *req = malloc(strlen(batch) + 256);
    sprintf(req,
            "POST /v1/events HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
            "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
            strlen(batch), batch);

    int fd = http_send(port, req);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int64_t end = lh_mono_ns() + 8 * LH_NS_PER_SEC;
    while (metric(fx.hub, "loophub_store_errors_total") < 3 && lh_mono_ns() < end) {
        lh_hub_turn(fx.hub, 10);
        ck_assert_msg(poll(&p, 1, 0) == 0, "answered while the store is full");
    }
    ck_assert_int_ge(metric(fx.hub, "loophub_store_errors_total"), 3);
    ck_assert_int_eq(sql_int(fx.hub, "SELECT count(*) FROM events"), 0);

    disk_full(fx.hub, 0);
    static char ans[8192];
    ck_assert_msg(http_read(fx.hub, fd, ans, sizeof(ans), 5000) >= 0, "no answer after recovery");
    ck_assert_msg(strncmp(ans, "HTTP/1.1 202", 12) == 0, "after recovery: %s", ans);
    ck_assert_msg(strstr(ans, "\"accepted\":[\"big-http\"]"), "%s", ans);
    ck_assert_int_eq(sql_int(fx.hub, "SELECT count(*) FROM events WHERE id = 'big-http'"), 1);
    ck_assert_int_eq(metric(fx.hub, "loophub_http_responses_total{code=\"202\"}"), 1);
    free(req);
    free(batch);
}
END_TEST

/* While the store is full (a batch stalled, intake paused) /healthz, /readyz and /metrics answer
 * at once: liveness 200 degraded with the reason, readiness 503; a write is refused with 503. */
START_TEST(test_http_health_while_store_full)
{
    hub_open(1);
    int port = http_adapter_start(fx.hub);
    static char ans[65536];
    ck_assert_int_ge(http_exchange(fx.hub, port, GET("/healthz"), ans, sizeof(ans), 2000), 0);
    ck_assert_msg(strstr(ans, "HTTP/1.1 200") && strstr(ans, "{\"status\":\"ok\"}"), "%s", ans);
    ck_assert_int_ge(http_exchange(fx.hub, port, GET("/readyz"), ans, sizeof(ans), 2000), 0);
    ck_assert_msg(strstr(ans, "HTTP/1.1 200"), "%s", ans);

    void *d = peer_open(ZMQ_DEALER);
    disk_full(fx.hub, 1);
    char *batch = big_deploy_batch("big-h");
    const char *m1[] = {"t1", batch};
    send_frames(d, m1, 2);
    int64_t end = lh_mono_ns() + 5 * LH_NS_PER_SEC;
    while (metric(fx.hub, "loophub_store_errors_total") < 1 && lh_mono_ns() < end)
        lh_hub_turn(fx.hub, 10);
    ck_assert_int_eq(metric(fx.hub, "loophub_store_errors_total"), 1);
    ck_assert(lh_hub_intake_paused(fx.hub));

    int ms = http_exchange(fx.hub, port, GET("/healthz"), ans, sizeof(ans), 1000);
    ck_assert_msg(ms >= 0 && ms < 100, "/healthz took %d ms with the store full", ms);
    fprintf(stderr, "store full: /healthz answered in %d ms\n", ms);
    ck_assert_msg(strstr(ans, "HTTP/1.1 200"), "%s", ans);
    ck_assert_msg(strstr(ans, "{\"status\":\"degraded\",\"reasons\":[\"store full: "), "%s", ans);
    ms = http_exchange(fx.hub, port, GET("/readyz"), ans, sizeof(ans), 1000);
    ck_assert_msg(ms >= 0 && ms < 100, "/readyz took %d ms with the store full", ms);
    ck_assert_msg(strstr(ans, "HTTP/1.1 503") && strstr(ans, "store full"), "%s", ans);
    ms = http_exchange(fx.hub, port, GET("/metrics"), ans, sizeof(ans), 1000);
    ck_assert_msg(ms >= 0 && ms < 100, "/metrics took %d ms with the store full", ms);
    fprintf(stderr, "store full: /metrics answered in %d ms\n", ms);
    ck_assert_msg(strstr(ans, "HTTP/1.1 200") && strstr(ans, "\nloophub_store_errors_total "),
                  "%.300s", ans);
    static const char post[] = "POST /v1/events HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                               "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    ck_assert_int_ge(http_exchange(fx.hub, port, post, ans, sizeof(ans), 1000), 0);
    ck_assert_msg(strstr(ans, "HTTP/1.1 503") && strstr(ans, "Retry-After: "), "%s", ans);

    /* room again: the batch commits, the ack goes out, the hub is healthy */
    disk_full(fx.hub, 0);
    char reply[2048];
    ck_assert_msg(recv_reply(d, fx.hub, reply, sizeof(reply), 5000), "no ack after recovery");
    ck_assert_int_ge(http_exchange(fx.hub, port, GET("/readyz"), ans, sizeof(ans), 2000), 0);
    ck_assert_msg(strstr(ans, "HTTP/1.1 200") && strstr(ans, "{\"status\":\"ok\"}"), "%s", ans);
    free(batch);
    zmq_close(d);
}
END_TEST
#endif

/* ---- oversized messages ----------------------------------------------------------------- */

/* A message over max_payload, from any transport, is quarantined as its first
 * quarantine_sample bytes with its true size in the reason; one under the limit is kept whole. */
START_TEST(test_oversized_message_quarantined_as_sample)
{
    lh_hub_opts_t o;
    lh_hub_opts_default(&o);
    o.db_path = fx.db;
    o.limits.max_payload = 1000;
    o.quarantine_sample = 100;
    ck_assert_int_eq(lh_hub_new(&o, &fx.hub), 0);
    char *big = malloc(5000);
    memset(big, '{', 5000);
    lh_submit_t m = {.origin = "test", .data = big, .len = 5000};
    ck_assert_int_eq(lh_hub_submit(fx.hub, &m), 0);
    lh_submit_t small = {.origin = "test", .data = big, .len = 900};
    ck_assert_int_eq(lh_hub_submit(fx.hub, &small), 0);
    ck_assert_int_eq(lh_hub_flush(fx.hub), 0);
    free(big);
    ck_assert_int_eq(sql_int(fx.hub, "SELECT count(*) FROM quarantine"), 2);
    ck_assert_int_eq(sql_int(fx.hub, "SELECT length(payload) FROM quarantine WHERE reason LIKE "
                                     "'%5000 bytes%(quarantined: the first 100 of 5000 bytes)'"),
                     100);
    ck_assert_int_eq(sql_int(fx.hub, "SELECT length(payload) FROM quarantine WHERE reason NOT "
                                     "LIKE '%quarantined:%'"),
                     900);
    ck_assert_int_eq(metric(fx.hub, "loophub_rejected_total{reason=\"too_big\"}"), 1);
}
END_TEST

static Suite *
hub_suite(void)
{
    Suite *s = suite_create("hub");
    const lh_test_case_t cases[] = {
        {"disk_full_no_ack_until_durable", test_disk_full_no_ack_until_durable, 30, 0},
        {"exit_with_uncommitted_batch", test_exit_with_uncommitted_batch, 20, 0},
        {"dora_gauges_refreshed_off_thread", test_dora_gauges_refreshed_off_thread, 30, 0},
        {"router_bad_envelope_answered", test_router_bad_envelope_answered, 20, 0},
        {"submit_binary_mode_http_and_kafka", test_submit_binary_mode_http_and_kafka, 20, 0},
        {"wal_checkpoints_in_metrics", test_wal_checkpoints_in_metrics, 30, 0},
        {"submit_commits_at_batch_max", test_submit_commits_at_batch_max, 0, 0},
        {"async_sink_failure_retries_only_that_alert",
         test_async_sink_failure_retries_only_that_alert, 20, 0},
        {"done_marks_ride_in_next_batch", test_done_marks_ride_in_next_batch, 20, 0},
        {"done_marks_kept_when_batch_fails", test_done_marks_kept_when_batch_fails, 20, 0},
        {"done_marks_applied_at_shutdown", test_done_marks_applied_at_shutdown, 20, 0},
        {"third_sink_independent", test_third_sink_independent, 20, 0},
        {"failed_on_one_sink_retried_there_only", test_failed_on_one_sink_retried_there_only, 20,
         0},
        {"sink_names_checked", test_sink_names_checked, 20, 0},
        {"v2_store_delivers_per_sink", test_v2_store_delivers_per_sink, 20, 0},
        {"health_states", test_health_states, 20, 0},
#ifdef LH_WITH_HTTP
        {"http_health_while_store_full", test_http_health_while_store_full, 20, 0},
        {"http_disk_full_no_202_until_durable", test_http_disk_full_no_202_until_durable, 30, 0},
#endif
        {"oversized_message_quarantined_as_sample", test_oversized_message_quarantined_as_sample,
         20, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 30, setup, teardown);
    return s;
}

int
main(void)
{
    lh_log_set_level(LH_LOG_ERROR);
    return lh_test_run_suite(hub_suite());
}
