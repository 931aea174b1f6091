/*
 * check_zmq.c - the ZeroMQ transports against the real `loophub` binary: limits that hold before
 * anything is copied, subscribers that cost only themselves, CURVE with an allow-list, the
 * subscription endpoint (exact per-subscriber loss counts, refusals, forgetting, `tail --subs`).
 */
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "ithub.h"
#include "loophub/buf.h"
#include "loophub/correlated.h"
#include "loophub/format.h"
#include "loophub/timeutil.h"
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
        int t = 500;
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

    lh_it_wait_sql(&h, "SELECT count(*) FROM quarantine WHERE reason LIKE '%1049076 bytes%'", 1,
                   20000);
    long hwm1 = proc_kb(h.pid, "VmHWM");
    fprintf(stderr, "oversized flood: %d of %d sent, hub VmHWM %ld -> %ld kB\n", sent, BIG_N, hwm0,
            hwm1);
    ck_assert_int_eq(lh_it_sql_long(&h, "SELECT max(length(payload)) FROM quarantine"), 4096);
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

static long metric(lh_it_hub_t *h, const char *name);

typedef struct {
    lh_it_hub_t *h;
    const char *name;
    long want;
} metric_wait_t;

static int
metric_is(void *arg)
{
    metric_wait_t *w = arg;
    return metric(w->h, w->name) == w->want;
}

/* lh_test_wait_for conditions: the file holds text more than `above` times; the metric is at
 * least w->want. */
typedef struct {
    const char *file, *text;
    int above;
} file_wait_t;

static int
file_count_above(void *arg)
{
    const file_wait_t *w = arg;
    return lh_test_file_count(w->file, w->text) > w->above;
}

static int
metric_at_least(void *arg)
{
    const metric_wait_t *w = arg;
    return metric(w->h, w->name) >= w->want;
}

/* One SUB that never reads and one that does: the one that reads gets every alert, in seq order;
 * the stuck one gets its queue's worth and then a gap it can see in seq. With ZMQ_XPUB_NODROP
 * (the old socket) the stuck one's full queue failed every send, and the healthy one lost the
 * same alerts. */
START_TEST(test_stuck_subscriber_costs_only_itself)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 1); /* /metrics */
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
    long alerts = lh_it_sql_long(&h, "SELECT count(*) FROM alerts");
    ck_assert_msg(alerts >= FLOOD, "only %ld alerts made of %d incidents", alerts, FLOOD);
    lh_it_wait_sql(&h, "SELECT done_through FROM sinks WHERE name = 'zmq-pub'", alerts, 30000);
    n_got += drain_seqs(healthy, got + n_got, FLOOD * 2 - n_got, 2000);
    /* the hub sees which subscriber stopped reading: that one alone */
    metric_wait_t mw = {&h, "loophub_zmq_pub_stalled_subscribers", 1};
    ck_assert_msg(lh_test_wait_for(metric_is, &mw, 10000), "no stalled subscriber seen: %s", h.log);
    ck_assert_int_eq(metric(&h, "loophub_zmq_pub_connections"), 2);
    ck_assert_int_ge(metric(&h, "loophub_zmq_pub_stalls_total"), 1);
    ck_assert_msg(lh_test_file_count(h.log, "zmq-pub: subscriber 127.0.0.1:") >= 1 &&
                      lh_test_file_count(h.log, "stopped reading") >= 1,
                  "the stall is not logged: %s", h.log);
    int n_stuck = drain_seqs(stuck, got_stuck, FLOOD * 2, 2000);
    mw.want = 0; /* it reads again */
    ck_assert_msg(lh_test_wait_for(metric_is, &mw, 10000), "still stalled after reading: %s",
                  h.log);
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

/* The PUB row of the delivery table, as a user sees it: `loophub tail` stopped (SIGSTOP) while
 * the hub publishes a flood loses alerts when its queue is full, and when it runs again it says
 * so on stderr ("missed N alerts (seq a..b)"). Every seq is either printed or inside a reported
 * gap, each exactly once: the report is exact about what this subscriber lost. */
START_TEST(test_tail_reports_pub_gaps)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 1);
    const char *extra[] = {"--zmq-pub-queue", "10",          "--group-window", "0", "--window",
                           "1000d",           "--log-level", "debug",          NULL};
    lh_it_hub_run(&h, extra);
    char tout[700], terr[700];
    snprintf(tout, sizeof(tout), "%s/tail.out", h.dir);
    snprintf(terr, sizeof(terr), "%s/tail.err", h.dir);
    const char *tail[] = {
        "sh", "-c", "exec \"$0\" tail --from \"$1\" 2>\"$2\"", lh_test_loophub_bin(), h.pub,
        terr, NULL};
    pid_t pid = lh_test_spawn(tail, tout);
    subs_wait_t sw = {&h, 1};
    ck_assert_msg(lh_test_wait_for(subscribed, &sw, lh_test_ms(10000)), "tail never subscribed");
    send_incidents(&h, 0, 1);
    ck_assert_msg(
        lh_test_wait_for(file_count_above, &(file_wait_t){tout, "#1 ", 0}, lh_test_ms(10000)),
        "tail printed no first alert");
    ck_assert_int_eq(kill(pid, SIGSTOP), 0);
    for (int part = 0; part < 4; part++)
        send_incidents(&h, 1 + part * (FLOOD / 4), FLOOD / 4);
    long alerts = lh_it_sql_long(&h, "SELECT count(*) FROM alerts");
    ck_assert_int_eq(alerts, FLOOD + 1);
    lh_it_wait_sql(&h, "SELECT done_through FROM sinks WHERE name = 'zmq-pub'", alerts, 60000);
    ck_assert_int_eq(kill(pid, SIGCONT), 0);
    /* a last alert, after the flood: when tail printed it, it has read everything before */
    send_incidents(&h, FLOOD + 1, 1);
    char last[32];
    snprintf(last, sizeof(last), "#%ld ", alerts + 1);
    ck_assert_msg(
        lh_test_wait_for(file_count_above, &(file_wait_t){tout, last, 0}, lh_test_ms(30000)),
        "tail never printed the last alert");
    ck_assert_int_eq(lh_test_stop(pid, SIGTERM, 10000), 0);

    /* every seq 1..alerts+1 printed or reported missed, once */
    long total = alerts + 1;
    char *seen = calloc((size_t)total + 2, 1);
    char *text = lh_test_read_file(tout, NULL);
    long printed = 0, missed = 0;
    for (const char *p = text; (p = strstr(p, " #")) != NULL; p += 2) {
        long q = atol(p + 2);
        if (q < 1 || q > total)
            continue;
        ck_assert_msg(!seen[q], "seq %ld printed twice", q);
        seen[q] = 1;
        printed++;
    }
    free(text);
    text = lh_test_read_file(terr, NULL);
    int reports = 0;
    for (const char *p = text; (p = strstr(p, "missed ")) != NULL; p += 7) {
        unsigned long long n, a, b;
        ck_assert_int_eq(sscanf(p, "missed %llu alerts (seq %llu..%llu)", &n, &a, &b), 3);
        ck_assert_uint_eq(n, b - a + 1);
        for (unsigned long long q = a; q <= b; q++) {
            ck_assert_msg(q <= (unsigned long long)total && !seen[q],
                          "seq %llu both printed and "
                          "reported missed",
                          q);
            seen[q] = 1;
        }
        missed += (long)n;
        reports++;
    }
    fprintf(stderr, "tail stopped during %ld alerts: printed %ld, reported %ld missed in %d gaps\n",
            total, printed, missed, reports);
    ck_assert_msg(reports >= 1, "no gap reported; tail's stderr: %s", text);
    free(text);
    for (long q = 1; q <= total; q++)
        ck_assert_msg(seen[q], "seq %ld neither printed nor reported missed", q);
    free(seen);
    lh_it_hub_stop(&h);
}
END_TEST

/* --- CURVE ----------------------------------------------------------------------------------- */

/* `loophub keygen --out <dir>/<name>`: its exit status. */
static int
keygen(const char *dir, const char *name, char **err)
{
    char prefix[700];
    snprintf(prefix, sizeof(prefix), "%s/%s", dir, name);
    const char *argv[] = {lh_test_loophub_bin(), "keygen", "--out", prefix, NULL};
    char *out = NULL;
    int st = lh_test_run(argv, NULL, &out, err, 10000);
    free(out);
    return st;
}

static char *
path_in(const char *dir, const char *name)
{
    char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
    return p;
}

/* The key in a key file, newline stripped (40 characters). */
static void
key_of(const char *dir, const char *name, char key[41])
{
    char *path = path_in(dir, name);
    char *s = lh_test_must_read(path);
    ck_assert_uint_eq(strlen(s), 41);
    ck_assert_int_eq(s[40], '\n');
    memcpy(key, s, 40);
    key[40] = 0;
    free(s);
    free(path);
}

static int
mode_of(const char *dir, const char *name)
{
    char *path = path_in(dir, name);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    free(path);
    return (int)(st.st_mode & 07777);
}

START_TEST(test_keygen_writes_a_pair_and_never_overwrites)
{
    char *dir = lh_test_tmpdir();
    char *err = NULL;
    umask(0); /* keygen sets the modes itself, whatever the umask */
    ck_assert_int_eq(keygen(dir, "k", &err), 0);
    free(err);
    ck_assert_int_eq(mode_of(dir, "k.key"), 0600);
    ck_assert_int_eq(mode_of(dir, "k.pub"), 0644);
    char sec[41], pub[41], derived[41];
    key_of(dir, "k.key", sec);
    key_of(dir, "k.pub", pub);
    ck_assert_int_eq(zmq_curve_public(derived, sec), 0);
    ck_assert_str_eq(derived, pub);

    /* a second run refuses, and leaves the pair as it was */
    ck_assert_int_eq(keygen(dir, "k", &err), 1);
    ck_assert_msg(strstr(err, "exists") != NULL, "stderr: %s", err);
    free(err);
    char again[41];
    key_of(dir, "k.key", again);
    ck_assert_str_eq(again, sec);
    /* a lone .pub blocks a new pair too, and no .key is left behind */
    char *lone = path_in(dir, "p.pub");
    ck_assert_int_eq(lh_test_write_file(lone, "x\n", 2), 0);
    ck_assert_int_eq(keygen(dir, "p", &err), 1);
    free(err);
    char *pk = path_in(dir, "p.key");
    ck_assert_int_ne(access(pk, F_OK), 0);
    free(pk);
    free(lone);
    lh_test_rmrf(dir);
    free(dir);
}
END_TEST

/* Runs argv; expects exit status want and needle in stderr. */
static void
expect_fail(const char *const *argv, int want, const char *needle)
{
    char *out = NULL, *err = NULL;
    int st = lh_test_run(argv, NULL, &out, &err, 20000);
    ck_assert_msg(st == want && strstr(err, needle), "%s %s: exit %d (want %d), stderr '%s'",
                  argv[1], argv[2], st, want, err);
    free(out);
    free(err);
}

START_TEST(test_bad_key_files_are_clear_errors)
{
    char *dir = lh_test_tmpdir();
    char *err = NULL;
    ck_assert_int_eq(keygen(dir, "hub", &err), 0);
    free(err);
    char *good = path_in(dir, "hub.pub"), *missing = path_in(dir, "nope.key");
    char *empty = path_in(dir, "empty.key"), *big = path_in(dir, "big.key");
    char *bad = path_in(dir, "bad.key"), *shortk = path_in(dir, "short.key");
    char *db = path_in(dir, "x.db");
    ck_assert_int_eq(lh_test_write_file(empty, "", 0), 0);
    char huge[4096];
    memset(huge, 'a', sizeof(huge));
    ck_assert_int_eq(lh_test_write_file(big, huge, sizeof(huge)), 0);
    /* 40 characters, but ~ is no Z85 digit */
    ck_assert_int_eq(lh_test_write_file(bad, "~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n", 41), 0);
    ck_assert_int_eq(lh_test_write_file(shortk, "abcde\n", 6), 0);
    const struct {
        const char *file, *needle;
    } cases[] = {
        {missing, "cannot read the secret key file"},
        {empty, "is empty"},
        {big, "is larger than one key"},
        {bad, "holds no CURVE key"},
        {shortk, "holds no CURVE key"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *send[] = {lh_test_loophub_bin(),
                              "send",
                              "ticket",
                              "--ticket-id",
                              "T-1",
                              "--to",
                              "tcp://127.0.0.1:1",
                              "--curve-server-key",
                              good,
                              "--curve-key",
                              cases[i].file,
                              NULL};
        expect_fail(send, 1, cases[i].needle);
        const char *tail[] = {lh_test_loophub_bin(),
                              "tail",
                              "--from",
                              "tcp://127.0.0.1:1",
                              "--curve-server-key",
                              good,
                              "--curve-key",
                              cases[i].file,
                              NULL};
        expect_fail(tail, 1, cases[i].needle);
        const char *run[] = {
            lh_test_loophub_bin(), "run",         "--db",          db,   "--http", "off",
            "--curve-secret-key",  cases[i].file, "--curve-allow", good, NULL};
        expect_fail(run, 1, cases[i].needle);
    }
    /* the server's key file is checked the same way */
    const char *server[] = {lh_test_loophub_bin(), "send", "ticket",      "--ticket-id", "T-1",
                            "--curve-server-key",  empty,  "--curve-key", good,          NULL};
    expect_fail(server, 1, "the server public key file");
    /* half a CURVE setup is bad usage */
    const char *half[] = {lh_test_loophub_bin(), "send", "ticket", "--ticket-id", "T-1",
                          "--curve-key",         good,   NULL};
    expect_fail(half, 2, "CURVE needs both");
    const char *thalf[] = {lh_test_loophub_bin(), "tail", "--curve-server-key", good, NULL};
    expect_fail(thalf, 2, "CURVE needs both");
    const char *noallow[] = {lh_test_loophub_bin(), "run", "--db", db, "--http", "off",
                             "--curve-secret-key",  good,  NULL};
    expect_fail(noallow, 2, "--curve-secret-key needs --curve-allow");
    const char *nokey[] = {lh_test_loophub_bin(), "run", "--db", db, "--http", "off",
                           "--curve-allow",       good,  NULL};
    expect_fail(nokey, 2, "--curve-allow needs --curve-secret-key");
    const char *queue[] = {lh_test_loophub_bin(), "run",      "--db", db, "--http", "off",
                           "--zmq-pub-queue",     "20000000", NULL};
    expect_fail(queue, 2, "--zmq-pub-queue: 20000000 is more than");
    /* an allow list with a line that is no key names the line */
    char *allow = path_in(dir, "allow");
    char *hubkey = path_in(dir, "hub.key");
    ck_assert_int_eq(lh_test_write_file(allow, "# ok\n\nnot a key\n", 16), 0);
    const char *badallow[] = {
        lh_test_loophub_bin(), "run",  "--db",          db,    "--http", "off",
        "--curve-secret-key",  hubkey, "--curve-allow", allow, NULL};
    expect_fail(badallow, 1, "allow:3: not a CURVE public key");
    ck_assert_int_eq(lh_test_write_file(allow, "# nobody\n", 9), 0);
    expect_fail(badallow, 1, "lists no client key");
    /* after a key only a comment may follow */
    char pubkey[41], line[100];
    key_of(dir, "hub.pub", pubkey);
    int ll = snprintf(line, sizeof(line), "%s trailing\n", pubkey);
    ck_assert_int_eq(lh_test_write_file(allow, line, (size_t)ll), 0);
    expect_fail(badallow, 1, "allow:1: not a CURVE public key");
    free(allow);
    free(hubkey);
    free(good);
    free(missing);
    free(empty);
    free(big);
    free(bad);
    free(shortk);
    free(db);
    lh_test_rmrf(dir);
    free(dir);
}
END_TEST

/* `loophub send` of one ticket to ep (--reliable when reliable), as client name (NULL:
 * plaintext). Its exit status. */
static int
send_as(lh_it_hub_t *h, const char *name, const char *id, const char *ep, int reliable)
{
    char *server = path_in(h->dir, "hub.pub");
    char key[700];
    snprintf(key, sizeof(key), "%s/%s.key", h->dir, name ? name : "");
    const char *argv[20] = {lh_test_loophub_bin(),
                            "send",
                            "ticket",
                            "--id",
                            id,
                            "--ticket-id",
                            "CHG-1",
                            "--state",
                            "approved",
                            "--to",
                            ep,
                            "--timeout",
                            "3s"};
    int n = 13;
    if (reliable)
        argv[n++] = "--reliable";
    if (name) {
        argv[n++] = "--curve-server-key";
        argv[n++] = server;
        argv[n++] = "--curve-key";
        argv[n++] = key;
    }
    argv[n] = NULL;
    char *out = NULL, *err = NULL;
    int st = lh_test_run(argv, NULL, &out, &err, 20000);
    /* a refusal is said at once and plainly, not as a timeout */
    if (st != 0)
        ck_assert_msg(strstr(err, name ? "refused this client's CURVE key"
                                       : "refused a plaintext client: it wants CURVE"),
                      "send as %s: %s", name ? name : "(plaintext)", err);
    free(out);
    free(err);
    free(server);
    return st;
}

static long
metric(lh_it_hub_t *h, const char *name)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", h->http_port);
    const char *argv[] = {"curl", "-sf", url, NULL};
    char *out = NULL;
    ck_assert_int_eq(lh_test_run(argv, NULL, &out, NULL, 10000), 0);
    char key[128];
    snprintf(key, sizeof(key), "\n%s ", name);
    char *p = strstr(out, key);
    ck_assert_msg(p != NULL, "no %s in /metrics", name);
    long v = atol(p + strlen(key));
    free(out);
    return v;
}

static void *
curve_sub(void *ctx, lh_it_hub_t *h, const char *name)
{
    void *s = zmq_socket(ctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    if (name) {
        char server[41], sec[41], pub[41], file[64];
        key_of(h->dir, "hub.pub", server);
        snprintf(file, sizeof(file), "%s.key", name);
        key_of(h->dir, file, sec);
        ck_assert_int_eq(zmq_curve_public(pub, sec), 0);
        ck_assert_int_eq(zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, 40), 0);
        ck_assert_int_eq(zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 40), 0);
        ck_assert_int_eq(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40), 0);
    }
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    ck_assert_int_eq(zmq_connect(s, h->pub), 0);
    return s;
}

/* CURVE on every hub socket with an allow list: the listed client gets in on ROUTER, PULL and
 * PUB; a client with an unknown key and a plaintext client do not (nothing of theirs is stored,
 * the refusals are counted and logged). */
START_TEST(test_curve_admits_only_listed_keys)
{
    ck_assert_msg(zmq_has("curve"), "this libzmq has no CURVE");
    lh_it_hub_t h;
    lh_it_hub_init(&h, 1);
    char *err = NULL;
    ck_assert_int_eq(keygen(h.dir, "hub", &err), 0);
    free(err);
    ck_assert_int_eq(keygen(h.dir, "alice", &err), 0);
    free(err);
    ck_assert_int_eq(keygen(h.dir, "mallory", &err), 0);
    free(err);
    char alice[41], allow[700], hubkey[700];
    key_of(h.dir, "alice.pub", alice);
    snprintf(allow, sizeof(allow), "%s/allow", h.dir);
    snprintf(hubkey, sizeof(hubkey), "%s/hub.key", h.dir);
    char mallory[41];
    key_of(h.dir, "mallory.pub", mallory);
    /* a key with a comment after it, and one commented out: mallory stays out */
    char text[300];
    int tl = snprintf(text, sizeof(text), "# who may send\n  %s  # alice\n#%s\n", alice, mallory);
    ck_assert_int_eq(lh_test_write_file(allow, text, (size_t)tl), 0);
    char *subs = lh_test_endpoint();
    const char *extra[] = {"--curve-secret-key",
                           hubkey,
                           "--curve-allow",
                           allow,
                           "--log-level",
                           "debug",
                           "--zmq-subs",
                           subs,
                           NULL};
    lh_it_hub_run(&h, extra);
    ck_assert_int_eq(metric(&h, "loophub_zmq_curve_refused_total"), 0);

    ck_assert_int_eq(send_as(&h, "alice", "a-1", h.router, 1), 0);
    ck_assert_int_eq(send_as(&h, "alice", "a-2", h.pull, 0), 0);
    lh_it_wait_sql(&h, "SELECT count(*) FROM events WHERE id IN ('a-1', 'a-2')", 2, 10000);
    ck_assert_int_eq(metric(&h, "loophub_zmq_curve_refused_total"), 0);
    ck_assert_int_ne(send_as(&h, "mallory", "m-1", h.router, 1), 0);
    ck_assert_int_ne(send_as(&h, "mallory", "m-2", h.pull, 0), 0);
    long by_zap = metric(&h, "loophub_zmq_curve_refused_total");
    ck_assert_int_ge(by_zap, 2);
    ck_assert_msg(lh_test_file_count(h.log, "zmq-zap: refused a client from 127.0.0.1") >= 1,
                  "refusal not logged: %s", h.log);
    /* a plaintext client fails the handshake before ZAP is asked: counted all the same */
    ck_assert_int_ne(send_as(&h, NULL, "p-1", h.router, 1), 0);
    ck_assert_int_ne(send_as(&h, NULL, "p-2", h.pull, 0), 0);
    ck_assert_int_ge(metric(&h, "loophub_zmq_curve_refused_total"), by_zap + 2);
    ck_assert_msg(lh_test_file_count(h.log, ": refused a client on tcp://") >= 1,
                  "plaintext refusal not logged: %s", h.log);
    ck_assert_int_eq(
        lh_it_sql_long(&h, "SELECT count(*) FROM events WHERE id NOT IN ('a-1', 'a-2')"), 0);

    /* `loophub tail`: refused at once, or it gets the alert */
    char *server = path_in(h.dir, "hub.pub"), *akey = path_in(h.dir, "alice.key");
    char *mkey = path_in(h.dir, "mallory.key"), *tlog = path_in(h.dir, "tail.out");
    const char *tail_m[] = {lh_test_loophub_bin(), "tail", "--from",      h.pub,
                            "--curve-server-key",  server, "--curve-key", mkey,
                            "--timeout",           "10s",  NULL};
    expect_fail(tail_m, 1, "refused this client's CURVE key");
    const char *tail_p[] = {lh_test_loophub_bin(), "tail", "--from", h.pub,
                            "--timeout",           "10s",  NULL};
    expect_fail(tail_p, 1, "refused a plaintext client: it wants CURVE");
    const char *tail_a[] = {lh_test_loophub_bin(),
                            "tail",
                            "--from",
                            h.pub,
                            "--curve-server-key",
                            server,
                            "--curve-key",
                            akey,
                            "--count",
                            "1",
                            "--timeout",
                            "20s",
                            NULL};
    pid_t tail = lh_test_spawn(tail_a, tlog);
    subs_wait_t sw = {&h, 1};
    ck_assert_msg(lh_test_wait_for(subscribed, &sw, 10000), "tail never subscribed: %s", h.log);
    /* the subscription endpoint the same way */
    const char *stail_m[] = {lh_test_loophub_bin(), "tail", "--subs",      subs,
                             "--curve-server-key",  server, "--curve-key", mkey,
                             "--timeout",           "10s",  NULL};
    expect_fail(stail_m, 1, "refused this client's CURVE key");
    const char *stail_p[] = {lh_test_loophub_bin(), "tail", "--subs", subs,
                             "--timeout",           "10s",  NULL};
    expect_fail(stail_p, 1, "refused a plaintext client: it wants CURVE");
    char *stlog = path_in(h.dir, "tail-subs.out");
    const char *stail_a[] = {lh_test_loophub_bin(),
                             "tail",
                             "--subs",
                             subs,
                             "--curve-server-key",
                             server,
                             "--curve-key",
                             akey,
                             "--count",
                             "1",
                             "--timeout",
                             "20s",
                             NULL};
    pid_t stail = lh_test_spawn(stail_a, stlog);
    metric_wait_t smw = {&h, "loophub_zmq_subs_subscribers", 1};
    ck_assert_msg(lh_test_wait_for(metric_is, &smw, 10000), "tail --subs never subscribed: %s",
                  h.log);

    void *ctx = zmq_ctx_new();
    char mallory_refused[80];
    snprintf(mallory_refused, sizeof(mallory_refused), "refused key %s", mallory);
    int mallory_before = lh_test_file_count(h.log, mallory_refused);
    long refused_before = metric(&h, "loophub_zmq_curve_refused_total");
    void *sub_alice = curve_sub(ctx, &h, "alice");
    void *sub_plain = curve_sub(ctx, &h, NULL);
    void *sub_mallory = curve_sub(ctx, &h, "mallory");
    sw.want = 2;
    ck_assert_msg(lh_test_wait_for(subscribed, &sw, 10000), "no second subscriber: %s", h.log);

    /* alerts reach the listed subscriber only */
    char t0[40], t1[40];
    lh_time_format(lh_now_ns() - 600 * LH_NS_PER_SEC, t0, sizeof(t0));
    lh_time_format(lh_now_ns() - 60 * LH_NS_PER_SEC, t1, sizeof(t1));
    char path[700];
    snprintf(path, sizeof(path), "%s/alert.jsonl", h.dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "{\"id\":\"cd-1\",\"kind\":\"deploy\",\"time\":\"%s\",\"service\":\"api\","
            "\"environment\":\"prod\",\"deploy\":{\"deploy_id\":\"D-1\",\"status\":"
            "\"succeeded\",\"version\":\"2\"}}\n"
            "{\"id\":\"ci-1\",\"kind\":\"incident\",\"time\":\"%s\",\"service\":\"api\","
            "\"environment\":\"prod\",\"incident\":{\"incident_id\":\"INC-1\",\"severity\":"
            "\"critical\"}}\n",
            t0, t1);
    fclose(f);
    const char *argv[] = {
        lh_test_loophub_bin(), "send", "--json",      path, "--to", h.router, "--reliable",
        "--curve-server-key",  server, "--curve-key", akey, NULL};
    char *out = NULL;
    ck_assert_int_eq(lh_test_run(argv, NULL, &out, &err, 20000), 0);
    free(out);
    free(err);
    lh_it_sub_t w = {NULL, sub_alice};
    char topic[128];
    lh_correlated_t *ca = lh_it_sub_recv_pb(&w, topic, sizeof(topic), 10000);
    ck_assert_msg(ca != NULL, "the listed subscriber got no alert");
    ck_assert_str_eq(topic, "alert.prod.api");
    lh_correlated_destroy(&ca);
    /* the other two were turned away, which the hub says (positive evidence, no fixed wait):
     * mallory's key by name, and one more refusal (the plaintext one) in the count; only tail
     * and alice ever subscribed, so nothing can be queued for the other two */
    file_wait_t fw = {h.log, mallory_refused, mallory_before};
    ck_assert_msg(lh_test_wait_for(file_count_above, &fw, lh_test_ms(10000)),
                  "mallory's key was never refused: %s", h.log);
    metric_wait_t rw = {&h, "loophub_zmq_curve_refused_total", refused_before + 2};
    ck_assert_msg(lh_test_wait_for(metric_at_least, &rw, lh_test_ms(10000)),
                  "fewer than two refusals: %s", h.log);
    ck_assert_int_eq(lh_test_file_count(h.log, "zmq-pub: subscribe"), 2);
    zmq_pollitem_t it[] = {{sub_plain, 0, ZMQ_POLLIN, 0}, {sub_mallory, 0, ZMQ_POLLIN, 0}};
    ck_assert_int_eq(zmq_poll(it, 2, 0), 0);
    ck_assert_int_eq(lh_test_stop(tail, 0, 20000), 0);
    ck_assert_msg(lh_test_file_count(tlog, "INC-1") >= 1 || lh_test_file_count(tlog, "ci-1") >= 1,
                  "tail printed no alert: %s", tlog);
    ck_assert_int_eq(lh_test_stop(stail, 0, 20000), 0);
    ck_assert_msg(lh_test_file_count(stlog, "api/prod incident INC-1") == 1,
                  "tail --subs printed no alert: %s", stlog);
    free(stlog);
    free(subs);
    free(server);
    free(akey);
    free(mkey);
    free(tlog);
    zmq_close(sub_alice);
    zmq_close(sub_plain);
    zmq_close(sub_mallory);
    zmq_ctx_term(ctx);
    lh_it_hub_stop(&h);
}
END_TEST

/* --- the subscription endpoint --------------------------------------------------------------- */

#define SUBS_N 600
#define SUBS_PART 50
#define SUBS_QUEUE "100"

/* The value of the first sample of /metrics whose line starts with key (a name, or a name and
 * the start of its labels), or -1 when there is none. */
static long
metric_at(lh_it_hub_t *h, const char *key)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", h->http_port);
    const char *argv[] = {"curl", "-sf", url, NULL};
    char *out = NULL;
    ck_assert_int_eq(lh_test_run(argv, NULL, &out, NULL, 10000), 0);
    char k[256];
    snprintf(k, sizeof(k), "\n%s", key);
    char *p = strstr(out, k);
    long v = -1;
    if (p) {
        p = strchr(p + 1, ' ');
        v = p ? atol(p + 1) : -1;
    }
    free(out);
    return v;
}

typedef struct {
    lh_it_hub_t *h;
    const char *key;
    long want;
} at_wait_t;

static int
metric_at_is(void *arg)
{
    at_wait_t *w = arg;
    return metric_at(w->h, w->key) == w->want;
}

static void
wait_metric(lh_it_hub_t *h, const char *key, long want)
{
    at_wait_t w = {h, key, want};
    ck_assert_msg(lh_test_wait_for(metric_at_is, &w, 10000), "%s is %ld, not %ld (log %s)", key,
                  metric_at(h, key), want, h->log);
}

/* A DEALER with routing id id (NULL: the hub makes one up). */
static void *
dealer_new(void *ctx, const char *ep, const char *id, int rcvhwm, int rcvbuf)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(s, ZMQ_RCVHWM, &rcvhwm, sizeof(rcvhwm));
    if (rcvbuf > 0)
        zmq_setsockopt(s, ZMQ_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (id)
        zmq_setsockopt(s, ZMQ_ROUTING_ID, id, strlen(id));
    ck_assert_int_eq(zmq_connect(s, ep), 0);
    return s;
}

/* Sends the n frames of a request. */
static void
request(void *s, const char *const *frames, int n)
{
    for (int i = 0; i < n; i++)
        ck_assert_int_ge(zmq_send(s, frames[i], strlen(frames[i]), i < n - 1 ? ZMQ_SNDMORE : 0), 0);
}

/* One message of the subscription endpoint (always two frames): the first into word, the second
 * malloc'd (caller frees). NULL on timeout. */
static char *
subs_recv(void *s, char *word, size_t wlen, size_t *len, int timeout_ms)
{
    lh_it_sub_t w = {NULL, s};
    return lh_it_sub_recv_raw(&w, word, wlen, len, timeout_ms);
}

/* A request and its reply, which must be want (OK, ERR, PONG): its text, malloc'd. */
static char *
ask(void *s, const char *const *frames, int n, const char *want)
{
    request(s, frames, n);
    char word[64];
    size_t len;
    char *text = subs_recv(s, word, sizeof(word), &len, lh_test_ms(5000));
    ck_assert_msg(text != NULL, "no reply to %s", frames[0]);
    ck_assert_msg(strcmp(word, want) == 0, "%s: got %s '%s', want %s", frames[0], word, text, want);
    return text;
}

static void
ask_expect(void *s, const char *const *frames, int n, const char *want, const char *needle)
{
    char *text = ask(s, frames, n, want);
    ck_assert_msg(strstr(text, needle) != NULL, "%s: '%s' lacks '%s'", frames[0], text, needle);
    free(text);
}

typedef struct {
    uint64_t *seqs; /* alerts, in the order they came */
    int n, cap;
    uint64_t lost[16][3]; /* LOST notices: n, first, last */
    int n_lost;
} got_t;

/* Everything waiting on s within timeout_ms of the one before: alerts and LOST notices. */
static void
drain_subs(void *s, got_t *g, int timeout_ms)
{
    for (;;) {
        char word[128];
        size_t len;
        char *body = subs_recv(s, word, sizeof(word), &len, timeout_ms);
        if (!body)
            return;
        if (strcmp(word, "LOST") == 0) {
            ck_assert_int_lt(g->n_lost, 16);
            unsigned long long n, a, b;
            ck_assert_msg(sscanf(body, "%llu %llu %llu", &n, &a, &b) == 3, "LOST '%s'", body);
            g->lost[g->n_lost][0] = n;
            g->lost[g->n_lost][1] = a;
            g->lost[g->n_lost++][2] = b;
        } else {
            ck_assert_str_eq(word, "alert.prod.api");
            lh_correlated_t *ca = NULL;
            ck_assert_int_eq(lh_codec_alert_pb_decode(body, len, &ca), 0);
            ck_assert_int_lt(g->n, g->cap);
            g->seqs[g->n++] = ca->seq;
            lh_correlated_destroy(&ca);
        }
        free(body);
    }
}

/* One DEALER that never reads and one that does, on the subscription endpoint: the one that
 * reads gets every alert in seq order and loses none; the stuck one loses alerts once its queue
 * (and the socket buffers) are full, and the hub counts exactly those (per subscriber and in
 * total), says so with a LOST notice before the next alert it gets, and counts published only what
 * reached someone. */
START_TEST(test_subs_stuck_subscriber_counted_exactly)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 1);
    char *subs = lh_test_endpoint();
    const char *extra[] = {
        "--zmq-subs", subs, "--zmq-subs-queue", SUBS_QUEUE, "--group-window", "0", "--window",
        "1000d",      NULL};
    lh_it_hub_run(&h, extra);
    void *ctx = zmq_ctx_new();
    void *stuck = dealer_new(ctx, subs, "stuck", 1, 4096);
    void *healthy = dealer_new(ctx, subs, "healthy", 0, 0);
    const char *sub_prod[] = {"SUB", "alert.prod."}, *sub_all[] = {"SUB", ""};
    ask_expect(stuck, sub_prod, 2, "OK", "SUB prefixes=1 idle_ms=60000 queue=" SUBS_QUEUE);
    ask_expect(healthy, sub_all, 2, "OK", "SUB prefixes=1");
    ck_assert_int_eq(metric_at(&h, "loophub_zmq_subs_subscribers "), 2);

    /* in parts smaller than the queue: a burst larger than it would overflow even a subscriber
     * that reads (its queue is filled faster than libzmq's I/O thread empties it) */
    for (int part = 0; part < SUBS_N / SUBS_PART; part++)
        send_incidents(&h, part * SUBS_PART, SUBS_PART);
    long alerts = lh_it_sql_long(&h, "SELECT count(*) FROM alerts");
    ck_assert_int_ge(alerts, SUBS_N);
    lh_it_wait_sql(&h, "SELECT done_through FROM sinks WHERE name = 'zmq-subs'", alerts, 30000);

    got_t gh = {calloc(2 * SUBS_N, sizeof(uint64_t)), 0, 2 * SUBS_N, {{0}}, 0};
    got_t gs = {calloc(2 * SUBS_N, sizeof(uint64_t)), 0, 2 * SUBS_N, {{0}}, 0};
    drain_subs(healthy, &gh, 2000);
    ck_assert_int_eq(gh.n, alerts);
    for (int i = 0; i < gh.n; i++)
        ck_assert_uint_eq(gh.seqs[i], (uint64_t)i + 1);
    ck_assert_int_eq(gh.n_lost, 0);

    long dropped = metric_at(&h, "loophub_zmq_subs_subscriber_dropped{peer=\"stuck\"");
    long sent_stuck = metric_at(&h, "loophub_zmq_subs_subscriber_sent{peer=\"stuck\"");
    ck_assert_int_eq(metric_at(&h, "loophub_zmq_subs_subscriber_dropped{peer=\"healthy\""), 0);
    ck_assert_int_eq(metric_at(&h, "loophub_zmq_subs_subscriber_sent{peer=\"healthy\""), alerts);
    ck_assert_int_eq(metric_at(&h, "loophub_zmq_subs_dropped_total "), dropped);
    ck_assert_int_eq(metric_at(&h, "loophub_zmq_subs_sent_total "), alerts + sent_stuck);
    ck_assert_msg(dropped > 0, "the stuck subscriber lost nothing: make SUBS_N larger");
    ck_assert_int_eq(sent_stuck + dropped, alerts);
    /* no one reads PUB here: what was published is what the subscription endpoint sent */
    ck_assert_int_eq(metric_at(&h, "loophub_alerts_published_total "), alerts);
    ck_assert_msg(lh_test_file_count(h.log, "zmq-subs: subscriber stuck (127.0.0.1) loses alerts "
                                            "from seq ") >= 1,
                  "the loss is not logged: %s", h.log);

    /* the stuck one reads now: what it got, then on the next alert how many it lost */
    drain_subs(stuck, &gs, 1000);
    ck_assert_int_eq(gs.n, sent_stuck);
    send_incidents(&h, SUBS_N, 1);
    lh_it_wait_sql(&h, "SELECT done_through FROM sinks WHERE name = 'zmq-subs'", alerts + 1, 10000);
    drain_subs(stuck, &gs, 1000);
    drain_subs(healthy, &gh, 1000);
    ck_assert_int_eq(gh.n, alerts + 1);
    ck_assert_int_eq(gs.n, sent_stuck + 1);
    ck_assert_uint_eq(gs.seqs[gs.n - 1], (uint64_t)alerts + 1);
    ck_assert_int_ge(gs.n_lost, 1);
    /* every seq it misses is in a LOST notice, and the notices add up to the count */
    uint64_t told = 0;
    for (int k = 0; k < gs.n_lost; k++)
        told += gs.lost[k][0];
    ck_assert_uint_eq(told, (uint64_t)dropped);
    long missing = 0;
    for (uint64_t seq = 1, i = 0; seq <= (uint64_t)alerts; seq++) {
        if (i < (uint64_t)gs.n && gs.seqs[i] == seq) {
            i++;
            continue;
        }
        missing++;
        int in = 0;
        for (int k = 0; k < gs.n_lost && !in; k++)
            in = seq >= gs.lost[k][1] && seq <= gs.lost[k][2];
        ck_assert_msg(in, "seq %llu missing, in no LOST notice", (unsigned long long)seq);
    }
    ck_assert_int_eq(missing, dropped);
    ck_assert_int_eq(metric_at(&h, "loophub_zmq_subs_subscriber_dropped{peer=\"stuck\""), dropped);
    ck_assert_int_eq(metric_at(&h, "loophub_alerts_published_total "), alerts + 1);
    fprintf(stderr,
            "subs: stuck subscriber got %d of %ld alerts, lost %ld (counted), %ld missing by seq, "
            "%d LOST notice(s); healthy got %d\n",
            gs.n - 1, alerts, dropped, missing, gs.n_lost, gh.n - 1);

    /* the exposition stays clean with per-subscriber series */
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", h.http_port);
    const char *curl[] = {"curl", "-sf", url, NULL};
    char *text = NULL;
    ck_assert_int_eq(lh_test_run(curl, NULL, &text, NULL, 10000), 0);
    const char *promtool[] = {"promtool", "check", "metrics", NULL};
    char *pout = NULL, *perr = NULL;
    ck_assert_msg(lh_test_run(promtool, text, &pout, &perr, 10000) == 0, "promtool: %s %s", pout,
                  perr);
    free(text);
    free(pout);
    free(perr);
    free(gh.seqs);
    free(gs.seqs);
    zmq_close(stuck);
    zmq_close(healthy);
    zmq_ctx_term(ctx);
    lh_it_hub_stop(&h);
    free(subs);
}
END_TEST

typedef struct {
    lh_it_hub_t *h;
    void *alive;
} idle_wait_t;

/* Keeps alive pinging while waiting for the other subscriber to be forgotten for silence. */
static int
other_forgotten(void *arg)
{
    idle_wait_t *w = arg;
    const char *ping[] = {"PING"};
    ask_expect(w->alive, ping, 1, "PONG", "sent=0 dropped=0");
    return metric_at(w->h, "loophub_zmq_subs_forgotten_total{reason=\"idle\"}") == 1;
}

/* Requests the endpoint refuses (each answered ERR and counted by reason), a full table of
 * subscribers, an alert no one subscribed to (done, not published), and the three ways a
 * subscriber is forgotten: UNSUB of its last prefix, silence past --zmq-subs-idle (PING keeps it),
 * gone when an alert is sent to it (alerts then wait for the next subscriber). */
START_TEST(test_subs_refusals_and_forgetting)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 1);
    char *subs = lh_test_endpoint();
    /* the idle limit scales with the machine (valgrind): a that keeps talking stays */
    char idle[32];
    snprintf(idle, sizeof(idle), "%dms", lh_test_ms(1000));
    const char *extra[] = {
        "--zmq-subs", subs,       "--zmq-subs-max", "2", "--zmq-subs-idle", idle, "--group-window",
        "0",          "--window", "1000d",          NULL};
    lh_it_hub_run(&h, extra);
    void *ctx = zmq_ctx_new();
    void *a = dealer_new(ctx, subs, "a", 0, 0);

    const char *foo[] = {"FOO", "x"};
    ask_expect(a, foo, 2, "ERR", "unknown command 'FOO'");
    const char *bare[] = {"SUB"};
    ask_expect(a, bare, 1, "ERR", "SUB: no prefix frame");
    const char *many[18] = {"SUB"};
    char names[17][8];
    for (int i = 0; i < 17; i++) {
        snprintf(names[i], sizeof(names[i]), "p%d", i);
        many[i + 1] = names[i];
    }
    ask_expect(a, many, 18, "ERR", "SUB: too many frames");
    char longp[301];
    memset(longp, 'x', 300);
    longp[300] = 0;
    const char *toolong[] = {"SUB", longp};
    ask_expect(a, toolong, 2, "ERR", "a prefix of 300 bytes, longer than 256");
    const char *ping[] = {"PING"};
    ask_expect(a, ping, 1, "ERR", "PING: not subscribed");
    const char *ping2[] = {"PING", "extra"};
    ask_expect(a, ping2, 2, "ERR", "PING: too many frames");
    ck_assert_int_eq(metric_at(&h, "loophub_zmq_subs_subscribers "), 0);
    /* 16 prefixes are the most; one it has already is no new one */
    const char *nine[10] = {"SUB"};
    for (int i = 0; i < 9; i++)
        nine[i + 1] = names[i];
    ask_expect(a, nine, 10, "OK", "SUB prefixes=9");
    const char *seven[8] = {"SUB", "n1", "n2", "n3", "n4", "n5", "n6", "n7"};
    ask_expect(a, seven, 8, "OK", "SUB prefixes=16");
    const char *again[] = {"SUB", "p0"}, *another[] = {"SUB", "p0", "another"};
    ask_expect(a, again, 2, "OK", "SUB prefixes=16");
    ask_expect(a, another, 3, "ERR", "more than 16 prefixes");
    const struct {
        const char *reason;
        long n;
    } counted[] = {{"unknown_command", 1}, {"no_prefix", 1},         {"too_many_frames", 2},
                   {"prefix_too_long", 1}, {"too_many_prefixes", 1}, {"not_subscribed", 1}};
    for (size_t i = 0; i < sizeof(counted) / sizeof(counted[0]); i++) {
        char key[128];
        snprintf(key, sizeof(key), "loophub_zmq_subs_bad_requests_total{reason=\"%s\"}",
                 counted[i].reason);
        ck_assert_int_eq(metric_at(&h, key), counted[i].n);
    }
    ck_assert_msg(lh_test_file_count(h.log, "zmq-subs: request refused: unknown command") == 1,
                  "the refusal is not logged: %s", h.log);

    /* UNSUB of every prefix: forgotten */
    const char *unsub[17] = {"UNSUB"};
    for (int i = 0; i < 9; i++)
        unsub[i + 1] = names[i];
    ask_expect(a, unsub, 10, "OK", "UNSUB prefixes=7");
    const char *unsub2[9] = {"UNSUB", "n1", "n2", "n3", "n4", "n5", "n6", "n7"};
    ask_expect(a, unsub2, 8, "OK", "UNSUB prefixes=0");
    ck_assert_int_eq(metric_at(&h, "loophub_zmq_subs_forgotten_total{reason=\"unsubscribed\"}"), 1);
    ck_assert_int_eq(metric_at(&h, "loophub_zmq_subs_subscribers "), 0);
    ask_expect(a, unsub2, 2, "ERR", "UNSUB: not subscribed");

    /* two subscribers are the most: a third is refused, plainly */
    void *b = dealer_new(ctx, subs, "b", 0, 0), *c = dealer_new(ctx, subs, "c", 0, 0);
    const char *nomatch[] = {"SUB", "alert.nomatch."};
    ask_expect(a, nomatch, 2, "OK", "SUB prefixes=1");
    ask_expect(b, nomatch, 2, "OK", "SUB prefixes=1");
    ask_expect(c, nomatch, 2, "ERR", "full: the hub has 2 subscribers");
    ck_assert_int_eq(metric_at(&h, "loophub_zmq_subs_refused_total "), 1);
    ck_assert_int_eq(metric_at(&h, "loophub_zmq_subs_subscribers "), 2);

    /* an alert neither wants: done on the sink, sent to no one, not published */
    send_incidents(&h, 0, 1);
    lh_it_wait_sql(&h, "SELECT done_through FROM sinks WHERE name = 'zmq-subs'", 1, 10000);
    ck_assert_int_eq(metric_at(&h, "loophub_zmq_subs_unmatched_total "), 1);
    ck_assert_int_eq(metric_at(&h, "loophub_zmq_subs_sent_total "), 0);
    ck_assert_int_eq(metric_at(&h, "loophub_alerts_published_total "), 0);
    /* the hub's counts above say it went to no one: nothing can be waiting at a or b */
    zmq_pollitem_t it[] = {{a, 0, ZMQ_POLLIN, 0}, {b, 0, ZMQ_POLLIN, 0}};
    ck_assert_int_eq(zmq_poll(it, 2, 0), 0);

    /* b says nothing for longer than the idle limit: forgotten; a PINGs and stays */
    idle_wait_t iw = {&h, a};
    ck_assert_msg(lh_test_wait_for(other_forgotten, &iw, lh_test_ms(10000)),
                  "b never forgotten: %s", h.log);
    ck_assert_int_eq(metric_at(&h, "loophub_zmq_subs_subscribers "), 1);
    ck_assert_int_eq(metric_at(&h, "loophub_zmq_subs_subscriber_sent{peer=\"b\""), -1);
    ask_expect(b, ping, 1, "ERR", "PING: not subscribed");

    /* a leaves without a word; the next alert for it finds it gone, and waits in the outbox */
    const char *sub_all[] = {"SUB", ""};
    ask_expect(a, sub_all, 2, "OK", "SUB prefixes=2");
    zmq_close(a);
    send_incidents(&h, 1, 1);
    wait_metric(&h, "loophub_zmq_subs_forgotten_total{reason=\"disconnected\"}", 1);
    ck_assert_int_eq(metric_at(&h, "loophub_zmq_subs_subscribers "), 0);
    ck_assert_int_eq(lh_it_sql_long(&h, "SELECT done_through FROM sinks WHERE name = 'zmq-subs'"),
                     1);
    /* the next subscriber gets it */
    ask_expect(c, sub_all, 2, "OK", "SUB prefixes=1");
    got_t g = {calloc(4, sizeof(uint64_t)), 0, 4, {{0}}, 0};
    drain_subs(c, &g, 2000);
    ck_assert_int_eq(g.n, 1);
    ck_assert_uint_eq(g.seqs[0], 2);
    ck_assert_int_eq(metric_at(&h, "loophub_alerts_published_total "), 1);
    /* a routing id that is no safe label value is shown in hex */
    void *weird = dealer_new(ctx, subs, "we\"ird", 0, 0);
    ask_expect(weird, nomatch, 2, "OK", "SUB prefixes=1");
    ck_assert_int_eq(metric_at(&h, "loophub_zmq_subs_subscriber_sent{peer=\"0x776522697264\""), 0);
    zmq_close(weird);
    free(g.seqs);
    zmq_close(b);
    zmq_close(c);
    zmq_ctx_term(ctx);
    lh_it_hub_stop(&h);
    free(subs);
}
END_TEST

/* A stand-in hub for `loophub tail --subs`: a ROUTER the test answers by hand. Takes tail's next
 * request, which must be [want][prefix] (returns its routing id into id, its length). */
static size_t
fake_take(void *r, char *id, size_t idcap, const char *want, const char *prefix)
{
    zmq_pollitem_t it = {r, 0, ZMQ_POLLIN, 0};
    ck_assert_int_eq(zmq_poll(&it, 1, lh_test_ms(10000)), 1);
    int n = zmq_recv(r, id, idcap, 0);
    ck_assert_int_gt(n, 0);
    char cmd[16] = "", pfx[64] = "";
    int cl = zmq_recv(r, cmd, sizeof(cmd) - 1, 0);
    ck_assert_int_ge(cl, 0);
    ck_assert_str_eq(cmd, want);
    int pl = zmq_recv(r, pfx, sizeof(pfx) - 1, 0);
    ck_assert_int_ge(pl, 0);
    ck_assert_str_eq(pfx, prefix);
    return (size_t)n;
}

static void
fake_send(void *r, const char *id, size_t idlen, const void *a, size_t al, const void *b, size_t bl)
{
    ck_assert_int_ge(zmq_send(r, id, idlen, ZMQ_SNDMORE), 0);
    ck_assert_int_ge(zmq_send(r, a, al, ZMQ_SNDMORE), 0);
    ck_assert_int_ge(zmq_send(r, b, bl, 0), 0);
}

/* `loophub tail --subs`: against the real hub it prints the alert; against a stand-in it prints
 * a LOST notice on stderr as the exact count, subscribes again when the hub has forgotten it, and
 * ends with exit 1 when refused. */
START_TEST(test_subs_tail)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 1);
    char *subs = lh_test_endpoint();
    const char *extra[] = {"--zmq-subs", subs, "--group-window", "0", "--window", "1000d", NULL};
    lh_it_hub_run(&h, extra);
    char tlog[700];
    snprintf(tlog, sizeof(tlog), "%s/tail.out", h.dir);
    const char *tail[] = {lh_test_loophub_bin(), "tail", "--subs", subs, "--count", "1",
                          "--timeout",           "20s",  NULL};
    pid_t pid = lh_test_spawn(tail, tlog);
    wait_metric(&h, "loophub_zmq_subs_subscribers ", 1);
    send_incidents(&h, 0, 1);
    ck_assert_int_eq(lh_test_stop(pid, 0, 20000), 0);
    ck_assert_msg(lh_test_file_count(tlog, "api/prod incident INC-0") == 1, "tail printed: %s",
                  tlog);
    /* on its way out it unsubscribed */
    wait_metric(&h, "loophub_zmq_subs_forgotten_total{reason=\"unsubscribed\"}", 1);
    const char *both[] = {lh_test_loophub_bin(), "tail", "--from", h.pub, "--subs", subs, NULL};
    expect_fail(both, 2, "--from and --subs name two endpoints");
    const char *help[] = {lh_test_loophub_bin(), "tail", "--help", NULL};
    char *out = NULL;
    ck_assert_int_eq(lh_test_run(help, NULL, &out, NULL, 10000), 0);
    ck_assert_msg(strstr(out, "--subs EP"), "--help: %s", out);
    free(out);

    /* the stand-in */
    char *ep = lh_test_endpoint();
    void *ctx = zmq_ctx_new();
    void *r = zmq_socket(ctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(r, ZMQ_LINGER, &zero, sizeof(zero));
    ck_assert_int_eq(zmq_bind(r, ep), 0);
    char flog[700];
    snprintf(flog, sizeof(flog), "%s/tail-fake.out", h.dir);
    const char *tail2[] = {
        lh_test_loophub_bin(), "tail", "--subs", ep, "--env", "prod", "--count", "1",
        "--timeout",           "20s",  NULL};
    pid = lh_test_spawn(tail2, flog);
    char id[256];
    size_t idl = fake_take(r, id, sizeof(id), "SUB", "alert.prod.");
    fake_send(r, id, idl, "OK", 2, "SUB prefixes=1 idle_ms=60000 queue=10", 38);
    /* a hub that forgot it: it subscribes again */
    fake_send(r, id, idl, "ERR", 3, "PING: not subscribed (SUB again)", 32);
    idl = fake_take(r, id, sizeof(id), "SUB", "alert.prod.");
    fake_send(r, id, idl, "LOST", 4, "3 5 7", 5);
    lh_correlated_t *ca = lh_correlated_new();
    ca->id = strdup("ca-fake");
    ca->seq = 8;
    ca->service = strdup("api");
    ca->environment = strdup("prod");
    lh_buf_t pb = LH_BUF_INIT;
    ck_assert_int_eq(lh_codec_alert_pb_encode(ca, &pb), 0);
    fake_send(r, id, idl, "alert.prod.api", 14, pb.data, pb.len);
    ck_assert_int_eq(lh_test_stop(pid, 0, 20000), 0);
    fake_take(r, id, sizeof(id), "UNSUB", "alert.prod."); /* on its way out */
    ck_assert_msg(lh_test_file_count(flog, "lost 3 alerts (seq 5..7): this subscriber's queue") ==
                          1 &&
                      lh_test_file_count(flog, "#8 ca-fake api/prod") == 1 &&
                      lh_test_file_count(flog, "subscribing again") == 1,
                  "tail said: %s", flog);
    lh_buf_free(&pb);
    lh_correlated_destroy(&ca);

    /* refused: exit 1, saying why */
    pid = lh_test_spawn(tail2, flog);
    idl = fake_take(r, id, sizeof(id), "SUB", "alert.prod.");
    fake_send(r, id, idl, "ERR", 3, "full: the hub has 2 subscribers", 31);
    ck_assert_int_eq(lh_test_stop(pid, 0, 20000), 1);
    ck_assert_msg(lh_test_file_count(flog, "the hub refused: full: the hub has 2") == 1,
                  "tail said: %s", flog);
    zmq_close(r);
    zmq_ctx_term(ctx);
    free(ep);
    free(subs);
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
        {"tail_reports_pub_gaps", test_tail_reports_pub_gaps, 300, 0},
        {"keygen", test_keygen_writes_a_pair_and_never_overwrites, 0, 0},
        {"bad_key_files", test_bad_key_files_are_clear_errors, 0, 0},
        {"curve_allow", test_curve_admits_only_listed_keys, 0, 0},
        {"subs_stuck_subscriber", test_subs_stuck_subscriber_counted_exactly, 0, 0},
        {"subs_refusals_forgetting", test_subs_refusals_and_forgetting, 0, 0},
        {"subs_tail", test_subs_tail, 0, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 120, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(zmq_suite());
}
