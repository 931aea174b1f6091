/*
 * check_zmq.c - the ZeroMQ transports against the real `loophub` binary: limits that hold before
 * anything is copied, subscribers that cost only themselves, CURVE with an allow-list.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "ithub.h"
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

static Suite *
zmq_suite(void)
{
    Suite *s = suite_create("zmq");
    const lh_test_case_t cases[] = {
        {"oversized", test_oversized_refused_before_copy, 0, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 120, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(zmq_suite());
}
