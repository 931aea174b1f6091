/*
 * check_zmq.c - the ZeroMQ transports against the real `loophub` binary: limits that hold before
 * anything is copied, subscribers that cost only themselves, CURVE with an allow-list.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "ithub.h"
#include "loophub/correlated.h"
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
    long alerts = sql_long(&h, "SELECT count(*) FROM alerts");
    ck_assert_msg(alerts >= FLOOD, "only %ld alerts made of %d incidents", alerts, FLOOD);
    wait_sql(&h, "SELECT done_through FROM sinks WHERE name = 'zmq-pub'", alerts, 30000);
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
    const char *extra[] = {
        "--curve-secret-key", hubkey, "--curve-allow", allow, "--log-level", "debug", NULL};
    lh_it_hub_run(&h, extra);
    ck_assert_int_eq(metric(&h, "loophub_zmq_curve_refused_total"), 0);

    ck_assert_int_eq(send_as(&h, "alice", "a-1", h.router, 1), 0);
    ck_assert_int_eq(send_as(&h, "alice", "a-2", h.pull, 0), 0);
    wait_sql(&h, "SELECT count(*) FROM events WHERE id IN ('a-1', 'a-2')", 2, 10000);
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
    ck_assert_int_eq(sql_long(&h, "SELECT count(*) FROM events WHERE id NOT IN ('a-1', 'a-2')"), 0);

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

    void *ctx = zmq_ctx_new();
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
    zmq_pollitem_t it[] = {{sub_plain, 0, ZMQ_POLLIN, 0}, {sub_mallory, 0, ZMQ_POLLIN, 0}};
    ck_assert_int_eq(zmq_poll(it, 2, 500), 0);
    ck_assert_int_eq(lh_test_stop(tail, 0, 20000), 0);
    ck_assert_msg(lh_test_file_count(tlog, "INC-1") >= 1 || lh_test_file_count(tlog, "ci-1") >= 1,
                  "tail printed no alert: %s", tlog);
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

static Suite *
zmq_suite(void)
{
    Suite *s = suite_create("zmq");
    const lh_test_case_t cases[] = {
        {"oversized", test_oversized_refused_before_copy, 0, 0},
        {"stuck_subscriber", test_stuck_subscriber_costs_only_itself, 300, 0},
        {"keygen", test_keygen_writes_a_pair_and_never_overwrites, 0, 0},
        {"bad_key_files", test_bad_key_files_are_clear_errors, 0, 0},
        {"curve_allow", test_curve_admits_only_listed_keys, 0, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 120, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(zmq_suite());
}
