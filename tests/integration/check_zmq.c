/*
 * check_zmq.c - the ZeroMQ transports against the real `loophub` binary: limits that hold before
 * anything is copied, subscribers that cost only themselves, CURVE with an allow-list.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "ithub.h"
#include "loophub/correlated.h"
#include "testutil.h"

/* One value of sqlite3's answer to sql on h's store (read-only, beside the hub), malloc'd
 * without the newline. */
static char *
sql(lh_it_hub_t *h, const char *q)
{
    const char *argv[] = {"sqlite3", "-readonly", h->db, q, NULL};
    char *out = NULL;
    ck_assert_int_eq(lh_test_run(argv, NULL, &out, NULL, 10000), 0);
    size_t n = strlen(out);
    while (n && out[n - 1] == '\n')
        out[--n] = 0;
    return out;
}

static long
sql_long(lh_it_hub_t *h, const char *q)
{
    char *s = sql(h, q);
    long v = atol(s);
    free(s);
    return v;
}

typedef struct {
    lh_it_hub_t *h;
    const char *q;
    long want;
} sql_wait_t;

static int
sql_reaches(void *arg)
{
    sql_wait_t *w = arg;
    return sql_long(w->h, w->q) >= w->want;
}

static void
wait_sql(lh_it_hub_t *h, const char *q, long want, int timeout_ms)
{
    sql_wait_t w = {h, q, want};
    ck_assert_msg(lh_test_wait_for(sql_reaches, &w, timeout_ms), "%s: %ld, not %ld (log %s)", q,
                  sql_long(h, q), want, h->log);
}

/* A field of /proc/<pid>/status in kB ("VmHWM", "VmRSS"). */
static long
proc_kb(pid_t pid, const char *field)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    char *s = lh_test_must_read(path);
    char key[64];
    snprintf(key, sizeof(key), "\n%s:", field);
    char *p = strstr(s, key);
    ck_assert_msg(p != NULL, "no %s in %s", field, path);
    long kb = atol(p + strlen(key));
    free(s);
    return kb;
}

/* --- limits before copying ------------------------------------------------------------------ */

#define BIG_N 60
#define BIG_LEN (15u << 20)
#define LIMIT (1u << 20)

/* A flood of 15 MiB messages over a 1 MiB limit: libzmq refuses them while reading (nothing is
 * queued or copied, the hub's peak memory stays where it was), and a message just over the limit
 * that does reach the hub is quarantined as its first 4 KiB with its true size in the reason. */
START_TEST(test_oversized_refused_before_copy)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 0);
    const char *extra[] = {"--max-payload", "1048576", NULL};
    lh_it_hub_run(&h, extra);
    long hwm0 = proc_kb(h.pid, "VmHWM");

    void *ctx = zmq_ctx_new();
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    int linger = 0, hwm = 4;
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(push, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    ck_assert_int_eq(zmq_connect(push, h.pull), 0);
    char *big = malloc(BIG_LEN);
    ck_assert_ptr_nonnull(big);
    memset(big, '{', BIG_LEN);
    int sent = 0;
    for (int i = 0; i < BIG_N; i++) {
        /* blocks while the hub's side is disconnected and the queue is full: bounded wait */
        int t = 2000;
        zmq_setsockopt(push, ZMQ_SNDTIMEO, &t, sizeof(t));
        if (zmq_send(push, big, BIG_LEN, 0) == (int)BIG_LEN)
            sent++;
    }
    zmq_close(push);
    ck_assert_msg(sent > 0, "no 15 MiB message could be sent at all");

    /* just over the limit, within the frame slack: it reaches the hub and is rejected */
    void *p2 = zmq_socket(ctx, ZMQ_PUSH);
    linger = 5000;
    zmq_setsockopt(p2, ZMQ_LINGER, &linger, sizeof(linger));
    ck_assert_int_eq(zmq_connect(p2, h.pull), 0);
    ck_assert_int_eq(zmq_send(p2, big, LIMIT + 500, 0), (int)(LIMIT + 500));
    zmq_close(p2);
    zmq_ctx_term(ctx);
    free(big);

    wait_sql(&h, "SELECT count(*) FROM quarantine WHERE reason LIKE '%1049076 bytes%'", 1, 20000);
    long hwm1 = proc_kb(h.pid, "VmHWM");
    fprintf(stderr, "oversized flood: %d of %d sent, hub VmHWM %ld -> %ld kB\n", sent, BIG_N, hwm0,
            hwm1);
    ck_assert_int_eq(sql_long(&h, "SELECT max(length(payload)) FROM quarantine"), 4096);
    char *why = sql(&h, "SELECT reason FROM quarantine");
    ck_assert_msg(strstr(why, "(quarantined: the first 4096 of 1049076 bytes)"), "reason: %s", why);
    free(why);
    /* one 15 MiB message taken in would show: well below one of them */
    ck_assert_msg(hwm1 - hwm0 < 12 * 1024, "the hub's peak RSS grew by %ld kB", hwm1 - hwm0);
    ck_assert_msg(lh_test_file_count(h.log, "hub: running") == 1, "the hub restarted?");
    lh_it_hub_stop(&h);
}
END_TEST

/* --- a slow subscriber costs only itself ----------------------------------------------------- */

#define FLOOD 4000
#define QUEUE "500"

/* `loophub send --json` of one deploy and n incidents right after it, each incident one alert
 * (--group-window 0), over the ROUTER with acks. */
static void
send_incidents(lh_it_hub_t *h, int first, int n)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/flood-%d.jsonl", h->dir, first);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    if (first == 0)
        fprintf(f, "{\"id\":\"d-1\",\"kind\":\"deploy\",\"time\":\"2026-01-01T00:00:00Z\","
                   "\"service\":\"api\",\"environment\":\"prod\",\"deploy\":{\"deploy_id\":"
                   "\"D-1\",\"status\":\"succeeded\",\"version\":\"2\"}}\n");
    /* a long title makes big alerts: the kernel's socket buffers (megabytes on loopback) then
     * hold fewer of them, and the subscriber's own queue overflows sooner */
    char title[3001];
    memset(title, 't', sizeof(title) - 1);
    title[sizeof(title) - 1] = 0;
    for (int i = first; i < first + n; i++)
        fprintf(f,
                "{\"id\":\"i-%d\",\"kind\":\"incident\",\"time\":\"2026-01-01T00:10:00Z\","
                "\"service\":\"api\",\"environment\":\"prod\",\"incident\":{\"incident_id\":"
                "\"INC-%d\",\"severity\":\"critical\",\"title\":\"%s\"}}\n",
                i, i, title);
    fclose(f);
    const char *argv[] = {lh_test_loophub_bin(), "send", "--json",    path,  "--to", h->router,
                          "--reliable",          "-q",   "--timeout", "60s", NULL};
    char *out = NULL, *err = NULL;
    int st = lh_test_run(argv, NULL, &out, &err, 90000);
    ck_assert_msg(st == 0, "send: exit %d, %s %s", st, out, err);
    free(out);
    free(err);
}

static void *
sub_new(void *ctx, const char *ep, int rcvhwm, int rcvbuf)
{
    void *s = zmq_socket(ctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(s, ZMQ_RCVHWM, &rcvhwm, sizeof(rcvhwm));
    if (rcvbuf > 0)
        zmq_setsockopt(s, ZMQ_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    ck_assert_int_eq(zmq_connect(s, ep), 0);
    return s;
}

/* Every alert waiting on s within timeout_ms of the one before: their seqs into seqs (at most
 * cap), returns how many. */
static int
drain_seqs(void *s, uint64_t *seqs, int cap, int timeout_ms)
{
    int n = 0;
    for (;;) {
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, timeout_ms) <= 0)
            return n;
        lh_it_sub_t w = {NULL, s};
        char topic[128];
        lh_correlated_t *ca = lh_it_sub_recv_pb(&w, topic, sizeof(topic), 0);
        ck_assert_ptr_nonnull(ca);
        ck_assert_str_eq(topic, "alert.prod.api");
        if (n < cap)
            seqs[n++] = ca->seq;
        lh_correlated_destroy(&ca);
    }
}

typedef struct {
    lh_it_hub_t *h;
    int want;
} subs_wait_t;

static int
subscribed(void *arg)
{
    subs_wait_t *w = arg;
    return lh_test_file_count(w->h->log, "zmq-pub: subscribe") >= w->want;
}

/* One SUB that never reads and one that does: the one that reads gets every alert, in seq order;
 * the stuck one gets its queue's worth and then a gap it can see in seq. With ZMQ_XPUB_NODROP
 * (the old socket) the stuck one's full queue failed every send, and the healthy one lost the
 * same alerts. */
START_TEST(test_stuck_subscriber_costs_only_itself)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 0);
    const char *extra[] = {"--zmq-pub-queue", QUEUE,         "--group-window", "0", "--window",
                           "1000d",           "--log-level", "debug",          NULL};
    lh_it_hub_run(&h, extra);
    void *ctx = zmq_ctx_new();
    void *stuck = sub_new(ctx, h.pub, 1, 4096);
    void *healthy = sub_new(ctx, h.pub, 0, 0);
    subs_wait_t sw = {&h, 2};
    ck_assert_msg(lh_test_wait_for(subscribed, &sw, 10000), "subscriptions never arrived: %s",
                  h.log);

    uint64_t *got = calloc(FLOOD * 2, sizeof(uint64_t));
    uint64_t *got_stuck = calloc(FLOOD * 2, sizeof(uint64_t));
    int n_got = 0;
    /* in parts, reading the healthy one between them (the test's own queue is not the point) */
    for (int part = 0; part < 8; part++) {
        send_incidents(&h, part * (FLOOD / 8), FLOOD / 8);
        n_got += drain_seqs(healthy, got + n_got, FLOOD * 2 - n_got, 200);
    }
    long alerts = sql_long(&h, "SELECT count(*) FROM alerts");
    ck_assert_msg(alerts >= FLOOD, "only %ld alerts made of %d incidents", alerts, FLOOD);
    wait_sql(&h, "SELECT done_through FROM sinks WHERE name = 'zmq-pub'", alerts, 30000);
    n_got += drain_seqs(healthy, got + n_got, FLOOD * 2 - n_got, 2000);
    int n_stuck = drain_seqs(stuck, got_stuck, FLOOD * 2, 2000);
    fprintf(stderr, "stuck subscriber: %d of %ld alerts; healthy: %d\n", n_stuck, alerts, n_got);

    ck_assert_int_eq(n_got, alerts);
    for (int i = 0; i < n_got; i++)
        ck_assert_uint_eq(got[i], (uint64_t)i + 1);
    ck_assert_msg(n_stuck < alerts, "the stuck subscriber lost nothing: make FLOOD larger");
    ck_assert_msg(n_stuck >= 1, "the stuck subscriber got nothing at all");
    int gaps = 0;
    for (int i = 0; i < n_stuck; i++) {
        ck_assert_uint_gt(got_stuck[i], i ? got_stuck[i - 1] : 0);
        gaps += got_stuck[i] != (i ? got_stuck[i - 1] : 0) + 1;
    }
    ck_assert_msg(gaps >= 1 || got_stuck[n_stuck - 1] < (uint64_t)alerts,
                  "the loss is not visible in seq");
    free(got);
    free(got_stuck);
    zmq_close(stuck);
    zmq_close(healthy);
    zmq_ctx_term(ctx);
    lh_it_hub_stop(&h);
}
END_TEST

static Suite *
zmq_suite(void)
{
    Suite *s = suite_create("zmq");
    const lh_test_case_t cases[] = {
        {"oversized", test_oversized_refused_before_copy, 0, 0},
        {"stuck_subscriber", test_stuck_subscriber_costs_only_itself, 300, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 120, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(zmq_suite());
}
