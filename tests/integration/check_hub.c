/*
 * check_hub.c - the core hub end to end: the real `loophub` binary on free loopback ports and a
 * temporary database, driven by `loophub send`, real ZMQ sockets of the test's own, `loophub tail`
 * and `loophub timeline`.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "ithub.h"
#include "loophub/correlated.h"
#include "loophub/error.h"
#include "loophub/format.h"
#include "loophub/timeutil.h"
#include "testutil.h"

/* RFC 3339 time offset_s seconds from a base read at the first call: one base per test (Check
 * forks each test), so the offsets between a test's events are exact however long sending takes
 * (a "now" per call made lead times flaky by a second). */
static void
iso(int64_t offset_s, char *buf, size_t len)
{
    static int64_t base_s;
    if (!base_s)
        base_s = lh_now_ns() / LH_NS_PER_SEC;
    lh_time_format((base_s + offset_s) * LH_NS_PER_SEC, buf, len);
}

/* Runs `loophub send ...` with --to router --reliable; returns its exit status. */
static int
send_reliable(lh_it_hub_t *h, const char *const *args, char **out, char **err)
{
    const char *argv[48] = {lh_test_loophub_bin(), "send"};
    int n = 2;
    for (int i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n++] = "--to";
    argv[n++] = h->router;
    argv[n++] = "--reliable";
    argv[n] = NULL;
    return lh_test_run(argv, NULL, out, err, 20000);
}

static void
send_deploy(lh_it_hub_t *h, const char *id, const char *deploy_id, const char *service,
            int64_t offset_s)
{
    char t[40];
    iso(offset_s, t, sizeof(t));
    const char *args[] = {"deploy",    "--id",        id,        "--service",
                          service,     "--env",       "prod",    "--time",
                          t,           "--deploy-id", deploy_id, "--status",
                          "succeeded", "--version",   "1.4.2",   "--previous-version",
                          "1.4.1",     "--actor",     "alice",   "--host",
                          "web-1",     NULL};
    char *out = NULL, *err = NULL;
    int rc = send_reliable(h, args, &out, &err);
    ck_assert_msg(rc == 0, "send deploy: rc %d: %s %s", rc, out, err);
    free(out);
    free(err);
}

static void
send_incident(lh_it_hub_t *h, const char *id, const char *incident_id, const char *service,
              int64_t offset_s)
{
    char t[40];
    iso(offset_s, t, sizeof(t));
    const char *args[] = {"incident", "--id",          id,          "--service",
                          service,    "--env",         "prod",      "--time",
                          t,          "--incident-id", incident_id, "--severity",
                          "critical", "--title",       "5xx spike", NULL};
    char *out = NULL, *err = NULL;
    int rc = send_reliable(h, args, &out, &err);
    ck_assert_msg(rc == 0, "send incident: rc %d: %s %s", rc, out, err);
    free(out);
    free(err);
}

START_TEST(test_deploy_then_incident_alerts_on_pub)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 0);
    lh_it_hub_run(&h, NULL);
    lh_it_sub_t s;
    lh_it_sub_open(&s, h.pub, "alert.prod.");
    /* no wait needed: while nobody is subscribed the hub keeps alerts in its outbox */
    send_deploy(&h, "d-1", "D-1", "api", -300);
    send_incident(&h, "i-1", "INC-1", "api", 0);
    char topic[256];
    lh_correlated_t *ca = lh_it_sub_recv_pb(&s, topic, sizeof(topic), 10000);
    ck_assert_msg(ca != NULL, "no alert on PUB");
    ck_assert_str_eq(topic, "alert.prod.api");
    ck_assert_int_eq(ca->kind, LH_CA_DEPLOY_PRECEDED_INCIDENT);
    ck_assert_uint_eq(ca->seq, 1);
    ck_assert_int_eq(ca->late, 0);
    ck_assert_uint_eq(ca->n_suspects, 1);
    ck_assert_str_eq(ca->suspects[0].deploy_id, "D-1");
    ck_assert_str_eq(ca->suspects[0].previous_version, "1.4.1");
    ck_assert_str_eq(ca->rollback_version, "1.4.1");
    ck_assert_int_eq(ca->suspects[0].lead_seconds, 300);
    ck_assert_uint_ge(ca->suspects[0].n_reasons, 2);
    int same = 0, when = 0;
    for (size_t i = 0; i < ca->suspects[0].n_reasons; i++) {
        same |= strstr(ca->suspects[0].reasons[i], "same service") != NULL;
        when |= strstr(ca->suspects[0].reasons[i], "5m before the incident") != NULL;
    }
    ck_assert_msg(same && when, "reasons name the service and the lead time");
    ck_assert_ptr_nonnull(ca->outcome);
    ck_assert_str_eq(ca->outcome->incident.incident_id, "INC-1");
    lh_correlated_destroy(&ca);
    lh_it_sub_close(&s);
    ck_assert_int_eq(lh_it_hub_term(&h), 0);
    lh_it_hub_fini(&h);
}
END_TEST

/* The README's walk-through, steps 3 and 4 as a user types them (no --id, no --time): the
 * re-sent incident is answered duplicate, and so is a re-sent deploy; a new state of the same
 * incident is a new event. With ids drawn at random each send was a new event (and a second
 * alert). */
START_TEST(test_walkthrough_resend_is_duplicate)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 0);
    lh_it_hub_run(&h, NULL);
    const char *deploy[] = {"deploy",  "--service",
                            "api",     "--env",
                            "prod",    "--deploy-id",
                            "D-42",    "--version",
                            "1.4.2",   "--previous-version",
                            "1.4.1",   "--commit",
                            "9f2c1e0", "--actor",
                            "alice",   "--host",
                            "web-1",   "--change-ticket",
                            "CHG-7",   NULL};
    const char *incident[] = {"incident",
                              "--service",
                              "api",
                              "--env",
                              "prod",
                              "--incident-id",
                              "INC-7",
                              "--severity",
                              "critical",
                              "--title",
                              "5xx spike on checkout",
                              "--host",
                              "web-1",
                              NULL};
    const char *resolved[] = {"incident",      "--service", "api",     "--env",    "prod",
                              "--incident-id", "INC-7",     "--state", "resolved", NULL};
    char *out = NULL, *err = NULL, first[64] = "";
    ck_assert_int_eq(send_reliable(&h, deploy, &out, &err), 0);
    ck_assert_msg(strncmp(out, "ok d-", 5) == 0, "deploy: %s", out);
    free(out);
    free(err);
    ck_assert_int_eq(send_reliable(&h, incident, &out, &err), 0);
    ck_assert_msg(strncmp(out, "ok i-", 5) == 0, "incident: %s", out);
    snprintf(first, sizeof(first), "%.*s", (int)strcspn(out + 3, " \n"), out + 3);
    free(out);
    free(err);
    ck_assert_int_eq(send_reliable(&h, incident, &out, &err), 0);
    char want[96];
    snprintf(want, sizeof(want), "duplicate %s", first);
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "re-sent incident: %s (want %s)", out,
                  want);
    free(out);
    free(err);
    ck_assert_int_eq(send_reliable(&h, deploy, &out, &err), 0);
    ck_assert_msg(strncmp(out, "duplicate d-", 12) == 0, "re-sent deploy: %s", out);
    free(out);
    free(err);
    ck_assert_int_eq(send_reliable(&h, resolved, &out, &err), 0);
    ck_assert_msg(strncmp(out, "ok i-", 5) == 0 && strstr(out, first) == NULL,
                  "resolution (a new state): %s", out);
    free(out);
    free(err);
    ck_assert_int_eq(lh_it_hub_term(&h), 0);
    lh_it_hub_fini(&h);
}
END_TEST

/* Sends `loophub send args...` reliably; the command must succeed. */
static void
send_ok(lh_it_hub_t *h, const char *const *args)
{
    char *out = NULL, *err = NULL;
    int rc = send_reliable(h, args, &out, &err);
    ck_assert_msg(rc == 0, "send %s: rc %d: %s %s", args[0], rc, out, err);
    free(out);
    free(err);
}

/* The page storm of the old hub, replayed on the real binary: an incident detected, updated
 * twice, joined by a monitoring alert with the same suspect and resolved. Subscribers get one
 * alert id in three revisions (first, joined, resolved); the updates and the incident's
 * resolution while the alert still fires publish nothing. */
START_TEST(test_incident_lifecycle_one_alert)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 0);
    lh_it_hub_run(&h, NULL);
    lh_it_sub_t s;
    lh_it_sub_open(&s, h.pub, "alert.prod.");
    char t0[40], t1[40], t2[40], t3[40], t4[40], t5[40];
    iso(-600, t0, sizeof(t0));
    iso(-300, t1, sizeof(t1));
    iso(-240, t2, sizeof(t2));
    iso(-200, t3, sizeof(t3));
    iso(-100, t4, sizeof(t4));
    iso(-50, t5, sizeof(t5));
    const char *deploy[] = {"deploy", "--service", "api",   "--env",
                            "prod",   "--time",    t0,      "--deploy-id",
                            "D-42",   "--version", "1.4.2", "--previous-version",
                            "1.4.1",  "--host",    "web-1", NULL};
    const char *detected[] = {"incident",  "--service",  "api",      "--env",
                              "prod",      "--time",     t1,         "--incident-id",
                              "INC-7",     "--severity", "critical", "--title",
                              "5xx spike", "--host",     "web-1",    NULL};
    const char *reported[] = {"incident", "--service",     "api",   "--env",   "prod",     "--time",
                              t2,         "--incident-id", "INC-7", "--state", "reported", NULL};
    const char *severity[] = {"incident", "--service",  "api",           "--env", "prod",
                              "--time",   t2,           "--incident-id", "INC-7", "--state",
                              "reported", "--severity", "error",         NULL};
    const char *firing[] = {
        "alert",  "--service",     "api",           "--env",  "prod",       "--time", t3,
        "--name", "HighErrorRate", "--fingerprint", "c0ffee", "--severity", "error",  NULL};
    const char *inc_resolved[] = {"incident", "--service", "api",      "--env",
                                  "prod",     "--time",    t4,         "--incident-id",
                                  "INC-7",    "--state",   "resolved", NULL};
    const char *alert_resolved[] = {"alert",         "--service",     "api",      "--env",
                                    "prod",          "--time",        t5,         "--name",
                                    "HighErrorRate", "--fingerprint", "c0ffee",   "--severity",
                                    "error",         "--state",       "resolved", NULL};
    send_ok(&h, deploy);
    send_ok(&h, detected);
    char topic[256];
    lh_correlated_t *a1 = lh_it_sub_recv_pb(&s, topic, sizeof(topic), 10000);
    ck_assert_msg(a1 != NULL, "no alert for the incident");
    ck_assert_int_eq(a1->revision, 1);
    send_ok(&h, reported);
    send_ok(&h, severity);
    send_ok(&h, firing);
    lh_correlated_t *a2 = lh_it_sub_recv_pb(&s, topic, sizeof(topic), 10000);
    ck_assert_msg(a2 != NULL, "no revision for the joined alert");
    ck_assert_str_eq(a2->id, a1->id);
    ck_assert_int_eq(a2->revision, 2); /* the updates published nothing in between */
    ck_assert_uint_eq(a2->seq, a1->seq + 1);
    ck_assert_uint_eq(a2->n_outcomes, 2);
    ck_assert_uint_eq(a2->n_changes, 1);
    ck_assert_ptr_nonnull(strstr(a2->changes[0], "joined by alert HighErrorRate"));
    send_ok(&h, inc_resolved);
    send_ok(&h, alert_resolved);
    lh_correlated_t *a3 = lh_it_sub_recv_pb(&s, topic, sizeof(topic), 10000);
    ck_assert_msg(a3 != NULL, "no final revision");
    ck_assert_str_eq(a3->id, a1->id);
    ck_assert_int_eq(a3->revision, 3);
    ck_assert_int_eq(a3->resolved, 1);
    ck_assert_uint_eq(a3->seq, a2->seq + 1);
    ck_assert_str_eq(a3->rollback_version, "1.4.1");
    lh_correlated_destroy(&a1);
    lh_correlated_destroy(&a2);
    lh_correlated_destroy(&a3);
    lh_it_sub_close(&s);
    ck_assert_int_eq(lh_it_hub_term(&h), 0);
    lh_it_hub_fini(&h);
}
END_TEST

START_TEST(test_reliable_ok_then_duplicate)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 0);
    lh_it_hub_run(&h, NULL);
    const char *args[] = {"alert",
                          "--id",
                          "a-1",
                          "--service",
                          "api",
                          "--env",
                          "prod",
                          "--name",
                          "HighErrorRate",
                          "--severity",
                          "warning",
                          "--time",
                          "2026-01-01T00:00:00Z",
                          NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(send_reliable(&h, args, &out, &err), 0);
    ck_assert_msg(strncmp(out, "ok a-1", 6) == 0, "first send: %s", out);
    free(out);
    free(err);
    ck_assert_int_eq(send_reliable(&h, args, &out, &err), 0);
    ck_assert_msg(strncmp(out, "duplicate a-1", 13) == 0, "second send: %s", out);
    free(out);
    free(err);
    ck_assert_int_eq(lh_it_hub_term(&h), 0);
    lh_it_hub_fini(&h);
}
END_TEST

START_TEST(test_reliable_reports_rejections_with_line_numbers)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 0);
    lh_it_hub_run(&h, NULL);
    char path[700];
    snprintf(path, sizeof(path), "%s/events.jsonl", h.dir);
    const char *lines =
        "{\"id\":\"j-1\",\"kind\":\"deploy\",\"time\":\"2026-01-01T00:00:00Z\",\"service\":\"api\","
        "\"environment\":\"prod\",\"deploy\":{\"status\":\"succeeded\",\"version\":\"2\"}}\n"
        "\n"
        "{\"id\":\"j-2\",\"kind\":\"incident\",\"time\":\"2026-01-01T00:01:00Z\","
        "\"incident\":{\"incident_id\":\"X\"}}\n"
        "{not json\n"
        "{\"id\":\"j-1\",\"kind\":\"deploy\",\"time\":\"2026-01-01T00:00:00Z\",\"service\":\"api\","
        "\"environment\":\"prod\",\"deploy\":{\"status\":\"succeeded\",\"version\":\"2\"}}\n";
    ck_assert_int_eq(lh_test_write_file(path, lines, strlen(lines)), 0);
    const char *args[] = {"--json", path, NULL};
    char *out = NULL, *err = NULL;
    int rc = send_reliable(&h, args, &out, &err);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(out, "4 messages: 1 ok, 1 duplicate, 2 rejected") != NULL, "out: %s", out);
    ck_assert_msg(strstr(err, "line 3: rejected j-2: missing field 'service'") != NULL, "err: %s",
                  err);
    ck_assert_msg(strstr(err, "line 4: rejected") != NULL, "err: %s", err);
    free(out);
    free(err);
    ck_assert_int_eq(lh_it_hub_term(&h), 0);
    lh_it_hub_fini(&h);
}
END_TEST

START_TEST(test_restart_dedupes_and_flushes_outbox)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 0);
    /* first run: nobody subscribed, so the alert stays in the outbox */
    lh_it_hub_run(&h, NULL);
    send_deploy(&h, "d-7", "D-7", "cart", -60);
    send_incident(&h, "i-7", "INC-7", "cart", 0);
    ck_assert_int_eq(lh_it_hub_term(&h), 0);
    /* second run: a subscriber comes, the alert from before the restart reaches it */
    lh_it_hub_run(&h, NULL);
    lh_it_sub_t s;
    lh_it_sub_open(&s, h.pub, "alert.");
    char topic[256];
    lh_correlated_t *ca = lh_it_sub_recv_pb(&s, topic, sizeof(topic), 10000);
    ck_assert_msg(ca != NULL, "the outbox was not flushed after restart");
    ck_assert_str_eq(ca->suspects[0].deploy_id, "D-7");
    ck_assert_uint_eq(ca->seq, 1);
    lh_correlated_destroy(&ca);
    /* and re-sending the same events after the restart changes nothing */
    const char *args[] = {"incident", "--id", "i-7",           "--service", "cart",
                          "--env",    "prod", "--incident-id", "INC-7",     NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(send_reliable(&h, args, &out, &err), 0);
    ck_assert_msg(strncmp(out, "duplicate i-7", 13) == 0, "out: %s", out);
    free(out);
    free(err);
    /* a new incident after it: the next alert is its (seq 2), so the duplicate raised none */
    send_incident(&h, "i-8", "INC-8", "cart", 0);
    ca = lh_it_sub_recv_pb(&s, topic, sizeof(topic), 10000);
    ck_assert_msg(ca != NULL, "no alert for the incident after the duplicate");
    ck_assert_str_eq(ca->outcome->id, "i-8");
    ck_assert_uint_eq(ca->seq, 2);
    lh_correlated_destroy(&ca);
    lh_it_sub_close(&s);
    ck_assert_int_eq(lh_it_hub_term(&h), 0);
    lh_it_hub_fini(&h);
}
END_TEST

START_TEST(test_late_deploy_marks_alert_late)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 0);
    lh_it_hub_run(&h, NULL);
    lh_it_sub_t s;
    lh_it_sub_open(&s, h.pub, "alert.");
    send_incident(&h, "i-9", "INC-9", "pay", 0);
    send_deploy(&h, "d-9", "D-9", "pay", -120);
    char topic[256];
    lh_correlated_t *ca = lh_it_sub_recv_pb(&s, topic, sizeof(topic), 10000);
    ck_assert_ptr_nonnull(ca);
    ck_assert_int_eq(ca->late, 1);
    ck_assert_str_eq(ca->suspects[0].deploy_id, "D-9");
    lh_correlated_destroy(&ca);
    lh_it_sub_close(&s);
    ck_assert_int_eq(lh_it_hub_term(&h), 0);
    lh_it_hub_fini(&h);
}
END_TEST

static void
zsend_raw(const char *ep, int type, const void *const *frames, const size_t *lens, int n)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, type);
    int linger = 2000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    ck_assert_int_eq(zmq_connect(s, ep), 0);
    for (int i = 0; i < n; i++)
        ck_assert_int_ge(zmq_send(s, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0), 0);
    zmq_close(s);
    zmq_ctx_term(ctx);
}

/* Publishes msg on pub until the store answers q with at least want. PUB/SUB drops what is
 * published before the hub's subscription arrives (the slow joiner), so the first message is
 * offered again until the store shows it came through; every wait is for the store. */
static void
publish_until_stored(void *pub, const char *msg, const lh_it_hub_t *h, const char *q, long want)
{
    for (int i = 0; i < 100; i++) {
        ck_assert_int_ge(zmq_send(pub, msg, strlen(msg), 0), 0);
        if (lh_it_sql_reaches(h, q, want, 100))
            return;
    }
    ck_abort_msg("never stored after 100 publications: %s", q);
}

START_TEST(test_garbage_on_every_socket_keeps_serving)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 0);
    /* a publisher of our own that the hub's SUB connects to */
    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    char *pub_ep = lh_test_endpoint();
    ck_assert_int_eq(zmq_bind(pub, pub_ep), 0);
    const char *extra[] = {"--zmq-sub", pub_ep, NULL};
    lh_it_hub_run(&h, extra);

    const char junk[] = "\x0a\xff\xff\xff\xff\x0f garbage \x00\x01";
    const void *f1[] = {junk};
    size_t l1[] = {sizeof(junk)};
    zsend_raw(h.pull, ZMQ_PUSH, f1, l1, 1);
    const char *deep = "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[";
    const void *f2[] = {deep};
    size_t l2[] = {strlen(deep)};
    zsend_raw(h.pull, ZMQ_PUSH, f2, l2, 1);
    /* a ROUTER envelope with too many frames, and an empty payload */
    const void *f3[] = {"a", "b", "c", "d"};
    size_t l3[] = {1, 1, 1, 1};
    zsend_raw(h.router, ZMQ_DEALER, f3, l3, 4);
    const void *f4[] = {""};
    size_t l4[] = {0};
    zsend_raw(h.router, ZMQ_DEALER, f4, l4, 1);
    /* garbage from the publisher the hub subscribes to, until it is quarantined */
    publish_until_stored(pub, "{\"id\":", &h,
                         "SELECT count(*) FROM quarantine WHERE origin LIKE 'zmq-sub%'", 1);
    /* an oversized field */
    char *big = malloc(10000);
    memset(big, 'x', 9999);
    big[9999] = 0;
    const char *args[] = {"alert", "--service", "api", "--name", big, NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(send_reliable(&h, args, &out, &err), 2); /* refused by send itself */
    free(out);
    free(err);
    /* the same field as a JSON line reaches the hub, which rejects it naming the field */
    char path[700];
    snprintf(path, sizeof(path), "%s/big.jsonl", h.dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "{\"id\":\"big-1\",\"kind\":\"alert\",\"time\":\"2026-01-01T00:00:00Z\","
            "\"service\":\"api\",\"alert\":{\"name\":\"%s\"}}\n",
            big);
    fclose(f);
    const char *json[] = {"--json", path, NULL};
    ck_assert_int_eq(send_reliable(&h, json, &out, &err), 1);
    ck_assert_msg(strstr(err, "rejected big-1: field 'alert.name' is 9999 bytes, over the limit"),
                  "stderr: %s", err);
    free(out);
    free(err);
    free(big);

    /* the hub still serves */
    const char *ok[] = {"ticket", "--id",    "t-1",      "--ticket-id",
                        "CHG-1",  "--state", "approved", NULL};
    ck_assert_int_eq(send_reliable(&h, ok, &out, &err), 0);
    ck_assert_msg(strncmp(out, "ok t-1", 6) == 0, "out: %s", out);
    free(out);
    free(err);
    ck_assert_int_eq(lh_it_hub_term(&h), 0);
    /* logged at most once a second per reason, so at least one line */
    ck_assert_msg(lh_test_file_count(h.log, "rejected") >= 1, "rejections are logged");

    /* rejected input is kept in the quarantine table, the good event in the timeline */
    const char *q[] = {"sqlite3", h.db,
                       "SELECT (SELECT count(*) FROM quarantine) >= 3, "
                       "(SELECT count(*) FROM events WHERE id = 't-1');",
                       NULL};
    ck_assert_int_eq(lh_test_run(q, NULL, &out, NULL, 10000), 0);
    ck_assert_str_eq(out, "1|1\n");
    free(out);
    zmq_close(pub);
    zmq_ctx_term(ctx);
    free(pub_ep);
    lh_it_hub_fini(&h);
}
END_TEST

/* The SUB row of the delivery table end to end: the hub subscribes to a publisher the test owns;
 * once the first event is stored (the slow joiner is past), every event published is stored and
 * a deploy and an incident over SUB raise a correlated alert. Waits are for the store. */
START_TEST(test_sub_ingest_end_to_end)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 0);
    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    int linger = 2000;
    zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof(linger));
    char *pub_ep = lh_test_endpoint();
    ck_assert_int_eq(zmq_bind(pub, pub_ep), 0);
    const char *extra[] = {"--zmq-sub", pub_ep, NULL};
    lh_it_hub_run(&h, extra);
    publish_until_stored(pub,
                         "{\"id\":\"s-0\",\"kind\":\"ticket\",\"time\":\"2026-01-01T00:00:00Z\","
                         "\"ticket\":{\"ticket_id\":\"CHG-0\",\"state\":\"approved\"}}",
                         &h, "SELECT count(*) FROM events WHERE id = 's-0'", 1);
    char msg[512];
    for (int i = 1; i <= 200; i++) {
        snprintf(msg, sizeof(msg),
                 "{\"id\":\"s-%d\",\"kind\":\"ticket\",\"time\":\"2026-01-01T00:00:%02dZ\","
                 "\"ticket\":{\"ticket_id\":\"CHG-%d\",\"state\":\"approved\"}}",
                 i, i % 60, i);
        ck_assert_int_ge(zmq_send(pub, msg, strlen(msg), 0), 0);
    }
    const char *d = "{\"id\":\"s-d\",\"kind\":\"deploy\",\"time\":\"2026-01-01T00:00:00Z\","
                    "\"service\":\"api\",\"environment\":\"prod\",\"deploy\":{\"deploy_id\":"
                    "\"D-1\",\"status\":\"succeeded\",\"version\":\"2\"}}";
    const char *inc = "{\"id\":\"s-i\",\"kind\":\"incident\",\"time\":\"2026-01-01T00:05:00Z\","
                      "\"service\":\"api\",\"environment\":\"prod\",\"incident\":{"
                      "\"incident_id\":\"INC-1\",\"severity\":\"critical\"}}";
    ck_assert_int_ge(zmq_send(pub, d, strlen(d), 0), 0);
    ck_assert_int_ge(zmq_send(pub, inc, strlen(inc), 0), 0);
    lh_it_wait_sql(&h, "SELECT count(*) FROM events WHERE id LIKE 's-%'", 203, 20000);
    lh_it_wait_sql(&h, "SELECT count(*) FROM alerts", 1, 10000);
    ck_assert_int_eq(
        lh_it_sql_long(&h, "SELECT count(*) FROM correlations WHERE deploy_id = 'D-1'"), 1);
    ck_assert_int_eq(lh_it_sql_long(&h, "SELECT count(*) FROM quarantine"), 0);
    ck_assert_int_eq(lh_it_hub_term(&h), 0);
    zmq_close(pub);
    zmq_ctx_term(ctx);
    free(pub_ep);
    lh_it_hub_fini(&h);
}
END_TEST

START_TEST(test_fire_and_forget_pull_is_stored)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 0);
    lh_it_hub_run(&h, NULL);
    const char *argv[] = {lh_test_loophub_bin(),
                          "send",
                          "deploy",
                          "--id",
                          "p-1",
                          "--service",
                          "api",
                          "--env",
                          "prod",
                          "--to",
                          h.pull,
                          NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(lh_test_run(argv, NULL, &out, &err, 20000), 0);
    free(out);
    free(err);
    /* wait until the store holds it (read-only reader beside the hub, WAL) */
    lh_it_wait_sql(&h, "SELECT count(*) FROM events WHERE id = 'p-1'", 1, 10000);
    /* and the reliable path now sees it as a duplicate */
    const char *again[] = {"deploy", "--id", "p-1", "--service", "api", "--env", "prod", NULL};
    ck_assert_int_eq(send_reliable(&h, again, &out, &err), 0);
    int dup = strncmp(out, "duplicate p-1", 13) == 0;
    free(out);
    free(err);
    ck_assert_msg(dup, "the PULL event was not stored before the reliable one");
    ck_assert_int_eq(lh_it_hub_term(&h), 0);
    lh_it_hub_fini(&h);
}
END_TEST

START_TEST(test_tail_and_timeline_show_the_suspect)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 0);
    lh_it_hub_run(&h, NULL);
    char tail_log[700];
    snprintf(tail_log, sizeof(tail_log), "%s/tail.out", h.dir);
    const char *targv[] = {lh_test_loophub_bin(), "tail", "--from", h.pub, "--count", "1",
                           "--timeout",           "20s",  NULL};
    pid_t tail = lh_test_spawn(targv, tail_log);
    /* tail has subscribed once the hub has an outbox reader: wait by retrying the incident */
    send_deploy(&h, "d-3", "D-3", "search", -600);
    send_incident(&h, "i-3", "INC-3", "search", 0);
    ck_assert_int_eq(lh_test_stop(tail, 0, 25000), 0);
    char *t = lh_test_read_file(tail_log, NULL);
    /* the rollback target is the suspect's own line until the hub names one per service */
    ck_assert_msg(strstr(t, "search/prod incident INC-3") && strstr(t, "deploy D-3") &&
                      (strstr(t, "roll back to 1.4.1") || strstr(t, "roll back search to 1.4.1")),
                  "tail printed: %s", t);
    free(t);
    ck_assert_int_eq(lh_it_hub_term(&h), 0);

    const char *tl[] = {lh_test_loophub_bin(),
                        "timeline",
                        "--incident",
                        "INC-3",
                        "--db",
                        h.db,
                        "--format",
                        "json",
                        NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(lh_test_run(tl, NULL, &out, &err, 20000), 0);
    ck_assert_msg(strstr(out, "D-3") != NULL, "timeline: %s / %s", out, err);
    free(out);
    free(err);
    lh_it_hub_fini(&h);
}
END_TEST

START_TEST(test_cli_usage_and_errors)
{
    char *out = NULL, *err = NULL;
    const char *help[] = {lh_test_loophub_bin(), "run", "--help", NULL};
    ck_assert_int_eq(lh_test_run(help, NULL, &out, &err, 10000), 0);
    ck_assert_msg(strstr(out, "--zmq-router") && strstr(out, "--window"), "help: %s", out);
    free(out);
    free(err);
    const char *bad[] = {lh_test_loophub_bin(), "run", "--window", "soon", NULL};
    ck_assert_int_eq(lh_test_run(bad, NULL, &out, &err, 10000), 2);
    ck_assert_msg(strstr(err, "not a duration"), "err: %s", err);
    free(out);
    free(err);
    const char *pg[] = {lh_test_loophub_bin(), "run", "--page-size", "3000", NULL};
    ck_assert_int_eq(lh_test_run(pg, NULL, &out, &err, 10000), 2);
    ck_assert_msg(strstr(err, "--page-size: 3000 is not a power of two from 512 to 65536"),
                  "err: %s", err);
    free(out);
    free(err);
    /* the correlation options: each bad value named (not "cannot open the store") */
    const char *ms[] = {lh_test_loophub_bin(), "run", "--max-suspects", "5000", NULL};
    ck_assert_int_eq(lh_test_run(ms, NULL, &out, &err, 10000), 2);
    ck_assert_msg(strstr(err, "--max-suspects: at most 1000"), "err: %s", err);
    free(out);
    free(err);
    const char *ms0[] = {lh_test_loophub_bin(), "run", "--max-suspects", "0", NULL};
    ck_assert_int_eq(lh_test_run(ms0, NULL, &out, &err, 10000), 2);
    ck_assert_msg(strstr(err, "--max-suspects: '0' is not a positive number"), "err: %s", err);
    free(out);
    free(err);
    const char *gw[] = {lh_test_loophub_bin(), "run", "--group-window", "soon", NULL};
    ck_assert_int_eq(lh_test_run(gw, NULL, &out, &err, 10000), 2);
    ck_assert_msg(strstr(err, "--group-window: 'soon' is not a duration"), "err: %s", err);
    free(out);
    free(err);
    const char *unk[] = {lh_test_loophub_bin(), "frobnicate", NULL};
    ck_assert_int_eq(lh_test_run(unk, NULL, &out, &err, 10000), 2);
    free(out);
    free(err);
    const char *kind[] = {lh_test_loophub_bin(), "send", "deploy", "--severity", "error", NULL};
    ck_assert_int_eq(lh_test_run(kind, NULL, &out, &err, 10000), 2);
    ck_assert_msg(strstr(err, "does not apply to a deploy"), "err: %s", err);
    free(out);
    free(err);

    /* a file that is not a database: a clear error, exit 1, the file untouched */
    char *dir = lh_test_tmpdir();
    char path[600], cfg[600];
    snprintf(path, sizeof(path), "%s/not.db", dir);
    ck_assert_int_eq(lh_test_write_file(path, "hello, world, not sqlite at all..........", 40), 0);
    const char *nodb[] = {
        lh_test_loophub_bin(), "run", "--db",   path,  "--zmq-pull", "off", "--zmq-router", "off",
        "--zmq-pub",           "off", "--http", "off", NULL};
    ck_assert_int_eq(lh_test_run(nodb, NULL, &out, &err, 10000), 1);
    ck_assert_msg(strstr(err, "cannot open the store"), "err: %s", err);
    free(out);
    free(err);
    char *content = lh_test_read_file(path, NULL);
    ck_assert_str_eq(content, "hello, world, not sqlite at all.........");
    free(content);
    /* an unknown setting in the config file names file and line */
    snprintf(cfg, sizeof(cfg), "%s/hub.ini", dir);
    const char *ini = "[store]\npath = x.db\n[correlation]\nwindo = 2h\n";
    ck_assert_int_eq(lh_test_write_file(cfg, ini, strlen(ini)), 0);
    const char *badcfg[] = {lh_test_loophub_bin(), "run", "--config", cfg, NULL};
    ck_assert_int_eq(lh_test_run(badcfg, NULL, &out, &err, 10000), 1);
    ck_assert_msg(strstr(err, "hub.ini:4: unknown setting 'windo' in [correlation]"), "err: %s",
                  err);
    free(out);
    free(err);
    lh_test_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(test_sigterm_commits_and_exits_zero)
{
    lh_it_hub_t h;
    lh_it_hub_init(&h, 0);
    lh_it_hub_run(&h, NULL);
    /* a burst over PULL, then SIGTERM right away: what the hub took in is committed */
    char path[700];
    snprintf(path, sizeof(path), "%s/burst.jsonl", h.dir);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 2000; i++)
        fprintf(f,
                "{\"id\":\"b-%d\",\"kind\":\"alert\",\"time\":\"2026-01-01T00:00:00Z\","
                "\"service\":\"s%d\",\"alert\":{\"name\":\"n\",\"severity\":\"info\"}}\n",
                i, i % 10);
    fclose(f);
    const char *argv[] = {lh_test_loophub_bin(), "send", "--json", path, "--to", h.router,
                          "--reliable",          "-q",   NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(lh_test_run(argv, NULL, &out, &err, 60000), 0);
    free(out);
    free(err);
    ck_assert_int_eq(lh_it_hub_term(&h), 0);
    const char *q[] = {"sqlite3", h.db, "SELECT count(*) FROM events;", NULL};
    ck_assert_int_eq(lh_test_run(q, NULL, &out, NULL, 10000), 0);
    ck_assert_str_eq(out, "2000\n");
    free(out);
    ck_assert_msg(lh_test_file_count(h.log, "stopped") == 1, "clean stop logged");
    lh_it_hub_fini(&h);
}
END_TEST

static Suite *
hub_suite(void)
{
    Suite *s = suite_create("hub");
    const lh_test_case_t cases[] = {
        {"deploy_then_incident", test_deploy_then_incident_alerts_on_pub, 0, 0},
        {"reliable_ok_duplicate", test_reliable_ok_then_duplicate, 0, 0},
        {"walkthrough_resend", test_walkthrough_resend_is_duplicate, 0, 0},
        {"incident_lifecycle", test_incident_lifecycle_one_alert, 0, 0},
        {"reliable_rejections", test_reliable_reports_rejections_with_line_numbers, 0, 0},
        {"restart", test_restart_dedupes_and_flushes_outbox, 0, 0},
        {"late_deploy", test_late_deploy_marks_alert_late, 0, 0},
        {"garbage", test_garbage_on_every_socket_keeps_serving, 0, 0},
        {"sub_ingest_end_to_end", test_sub_ingest_end_to_end, 0, 0},
        {"pull", test_fire_and_forget_pull_is_stored, 0, 0},
        {"tail_timeline", test_tail_and_timeline_show_the_suspect, 0, 0},
        {"cli", test_cli_usage_and_errors, 0, 0},
        {"sigterm", test_sigterm_commits_and_exits_zero, 0, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 120, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(hub_suite());
}
