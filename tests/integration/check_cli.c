/*
 * check_cli.c - the `loophub send`, `tail` and `quarantine` commands as a user runs them: the
 * real binary, real loopback sockets, a real hub (`loophub run`) where one is needed.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ithub.h"
#include "testutil.h"

static char *dir;

static void
setup(void)
{
    dir = lh_test_tmpdir();
}

static void
teardown(void)
{
    lh_test_rmrf(dir);
    free(dir);
    dir = NULL;
}

static char *
path_in(const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* A file of n ticket events, one JSON line each. */
static char *
ticket_lines(int n)
{
    char *path = path_in("events.jsonl");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < n; i++)
        fprintf(
            f,
            "{\"id\":\"t-%d\",\"kind\":\"ticket\",\"time\":\"2026-01-10T10:00:00Z\","
            "\"ticket\":{\"ticket_id\":\"CHG-%d\",\"type\":\"change\",\"state\":\"created\"}}\n",
            i, i);
    fclose(f);
    return path;
}

/* --window beyond what the socket can queue made the sends block forever when no hub answered */
START_TEST(test_reliable_window_bounded)
{
    char *file = ticket_lines(1500);
    char *to = lh_test_endpoint(); /* nobody listens there */
    char *err = NULL;
    const char *huge[] = {
        lh_test_loophub_bin(), "send", "--json",   file,         "--reliable", "--to", to,
        "--timeout",           "1s",   "--window", "3000000000", NULL};
    int rc = lh_test_run(huge, NULL, NULL, &err, 15000);
    ck_assert_msg(rc == 2, "exit %d (-1: hung), stderr: %s", rc, err ? err : "");
    ck_assert_ptr_nonnull(strstr(err, "--window"));
    free(err);
    err = NULL;

    /* the largest window allowed: no hang, every unanswered message reported */
    const char *max[] = {
        lh_test_loophub_bin(), "send", "--json",   file,     "--reliable", "--to", to,
        "--timeout",           "1s",   "--window", "100000", NULL};
    rc = lh_test_run(max, NULL, NULL, &err, 15000);
    ck_assert_msg(rc == 1, "exit %d (-1: hung), stderr: %s", rc, err ? err : "");
    ck_assert_msg(strstr(err, "no answer") && strstr(err, "1500 of 1500"), "%s", err);
    free(err);
    free(to);
    free(file);
}
END_TEST

/* Fire and forget with no hub: an error naming the timeout, not a silent success. */
START_TEST(test_fire_and_forget_without_hub)
{
    char *to = lh_test_endpoint();
    char *err = NULL;
    const char *argv[] = {lh_test_loophub_bin(),
                          "send",
                          "ticket",
                          "--ticket-id",
                          "CHG-1",
                          "--type",
                          "change",
                          "--state",
                          "created",
                          "--to",
                          to,
                          "--timeout",
                          "1s",
                          NULL};
    int rc = lh_test_run(argv, NULL, NULL, &err, 15000);
    ck_assert_msg(rc == 1, "exit %d, stderr: %s", rc, err ? err : "");
    ck_assert_msg(strstr(err, "no hub reachable") && strstr(err, "1s"), "%s", err);
    free(err);
    free(to);
}
END_TEST

/* The hub's seq counts all alerts: with --service, the other services' alerts are no loss. */
/* a line that is not JSON is named, and nothing is sent (no hub needed to see it) */
START_TEST(test_json_lines_not_json)
{
    char *file = path_in("mixed.jsonl");
    const char *text = "\xEF\xBB\xBF{\"id\":\"x\"}\n"
                       "\n"
                       "deploy api 1.2\n"
                       "  [ ]\n";
    ck_assert_int_eq(lh_test_write_file(file, text, strlen(text)), 0);
    char *to = lh_test_endpoint(); /* nobody listens: a send would time out instead */
    const char *argv[] = {lh_test_loophub_bin(), "send", "--json", file, "--to", to,
                          "--timeout",           "1s",   NULL};
    char *out = NULL, *err = NULL;
    ck_assert_int_eq(lh_test_run(argv, NULL, &out, &err, 20000), 1);
    ck_assert_msg(strstr(err, "line 3: not JSON") != NULL, "stderr: %s", err);
    ck_assert_msg(strstr(err, "line 1") == NULL && strstr(err, "line 4") == NULL,
                  "only line 3 is wrong: %s", err);
    ck_assert_msg(strstr(err, "no hub") == NULL, "nothing was sent: %s", err);
    free(out);
    free(err);
    free(to);
    free(file);
}
END_TEST

START_TEST(test_tail_filter_no_false_gap)
{
    char *db = path_in("hub.db"), *log = path_in("hub.log");
    char *pull = lh_test_endpoint(), *router = lh_test_endpoint(), *pub = lh_test_endpoint();
    const char *hub[] = {
        lh_test_loophub_bin(), "run", "--db",   db,    "--zmq-pull", pull, "--zmq-router", router,
        "--zmq-pub",           pub,   "--http", "off", NULL};
    pid_t pid = lh_test_spawn(hub, log);

    char *file = path_in("story.jsonl");
    const char *lines =
        "{\"id\":\"d-b\",\"kind\":\"deploy\",\"time\":\"2026-01-10T10:00:00Z\",\"service\":\"b\","
        "\"environment\":\"prod\",\"deploy\":{\"deploy_id\":\"D-b\",\"status\":\"succeeded\","
        "\"version\":\"2\"}}\n"
        "{\"id\":\"i-b1\",\"kind\":\"incident\",\"time\":\"2026-01-10T10:05:00Z\",\"service\":"
        "\"b\",\"environment\":\"prod\",\"incident\":{\"incident_id\":\"INC-b1\",\"state\":"
        "\"detected\",\"severity\":\"critical\"}}\n"
        "{\"id\":\"d-a\",\"kind\":\"deploy\",\"time\":\"2026-01-10T10:00:00Z\",\"service\":\"a\","
        "\"environment\":\"prod\",\"deploy\":{\"deploy_id\":\"D-a\",\"status\":\"succeeded\","
        "\"version\":\"2\"}}\n"
        "{\"id\":\"i-a\",\"kind\":\"incident\",\"time\":\"2026-01-10T10:05:00Z\",\"service\":"
        "\"a\",\"environment\":\"prod\",\"incident\":{\"incident_id\":\"INC-a\",\"state\":"
        "\"detected\",\"severity\":\"critical\"}}\n"
        "{\"id\":\"i-b2\",\"kind\":\"incident\",\"time\":\"2026-01-10T10:10:00Z\",\"service\":"
        "\"b\",\"environment\":\"prod\",\"incident\":{\"incident_id\":\"INC-b2\",\"state\":"
        "\"detected\",\"severity\":\"critical\"}}\n";
    ck_assert_int_eq(lh_test_write_file(file, lines, strlen(lines)), 0);
    char *out = NULL, *err = NULL;
    const char *send[] = {lh_test_loophub_bin(), "send", "--json", file,
                          "--reliable",          "--to", router,   NULL};
    int rc = lh_test_run(send, NULL, &out, &err, 20000);
    ck_assert_msg(rc == 0, "send: exit %d: %s", rc, err ? err : "");
    free(out);
    free(err);

    /* three alerts wait in the outbox (seq b1 < a < b2) until tail subscribes */
    const char *tail[] = {lh_test_loophub_bin(), "tail", "--from",  pub,
                          "--service",           "b",    "--count", "2",
                          "--timeout",           "20s",  NULL};
    rc = lh_test_run(tail, NULL, &out, &err, 30000);
    ck_assert_msg(rc == 0, "tail: exit %d: %s", rc, err ? err : "");
    ck_assert_msg(strstr(out, "INC-b1") && strstr(out, "INC-b2") && !strstr(out, "INC-a"), "%s",
                  out);
    ck_assert_msg(!strstr(err, "missed"), "false gap reported: %s", err);
    free(out);
    free(err);

    ck_assert_int_eq(lh_test_stop(pid, SIGTERM, 10000), 0);
    free(file);
    free(db);
    free(log);
    free(pull);
    free(router);
    free(pub);
}
END_TEST

/* Runs `loophub quarantine --db <hub's store> args...`; returns the exit status. */
static int
quarantine(lh_it_hub_t *h, const char *const *args, char **out, char **err)
{
    const char *argv[24] = {lh_test_loophub_bin(), "quarantine", "--db", h->db};
    int n = 4;
    for (int i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return lh_test_run(argv, NULL, out, err, 20000);
}

/* What the hub refused is listed with its reason and origin, newest first, filtered by reason,
 * origin and time, capped with a count of the rest; bad options are usage errors. */
START_TEST(test_quarantine_lists_rejections)
{
    lh_it_hub_t h;
    lh_it_hub_start(&h, 0, NULL);
    char *file = path_in("bad.jsonl");
    const char *text =
        "{\"id\":\"d-1\",\"kind\":\"deploy\",\"time\":\"2026-11-26T10:00:00Z\","
        "\"deploy\":{\"deploy_id\":\"D-1\",\"status\":\"succeeded\"}}\n"
        "{\"id\":\"a-1\",\"kind\":\"alert\",\"time\":\"2026-11-26T10:00:00Z\","
        "\"service\":\"api\",\"alert\":{\"state\":\"firing\"}}\n"
        "{\"id\":\"ok-1\",\"kind\":\"ticket\",\"time\":\"2026-11-26T10:00:00Z\","
        "\"ticket\":{\"ticket_id\":\"CHG-1\",\"type\":\"change\",\"state\":\"created\"}}\n";
    ck_assert_int_eq(lh_test_write_file(file, text, strlen(text)), 0);
    const char *send[] = {lh_test_loophub_bin(), "send", "--json", file, "--to", h.router,
                          "--reliable",          "-q",   NULL};
    char *out = NULL, *err = NULL;
    int rc = lh_test_run(send, NULL, &out, &err, 20000);
    ck_assert_msg(rc == 1, "two of three rejected: exit %d %s %s", rc, out, err);
    free(out);
    free(err);

    const char *all[] = {NULL};
    ck_assert_int_eq(quarantine(&h, all, &out, &err), 0);
    ck_assert_msg(strstr(out, ": 2 rejected messages") != NULL, "%s", out);
    char *d = strstr(out, "event d-1: missing field 'service'"), *a = strstr(out, "event a-1: ");
    ck_assert_msg(d && a && a < d, "newest first, with id and reason: %s", out);
    ck_assert_msg(strstr(out, "zmq-router") != NULL, "origin: %s", out);
    free(out);
    free(err);

    const char *by_reason[] = {"--reason", "a deploy needs one", "--format", "json", NULL};
    ck_assert_int_eq(quarantine(&h, by_reason, &out, &err), 0);
    ck_assert_msg(strstr(out, "\"total\":1") && strstr(out, "\"event_id\":\"d-1\"") &&
                      !strstr(out, "\"a-1\""),
                  "%s", out);
    free(out);
    free(err);

    const char *by_origin[] = {"--origin", "http", NULL};
    ck_assert_int_eq(quarantine(&h, by_origin, &out, &err), 0);
    ck_assert_msg(strstr(out, ": 0 rejected messages") != NULL, "%s", out);
    free(out);
    free(err);

    const char *future[] = {"--since", "2099-01-01T00:00:00Z", NULL};
    ck_assert_int_eq(quarantine(&h, future, &out, &err), 0);
    ck_assert_msg(strstr(out, ": 0 rejected messages") != NULL, "%s", out);
    free(out);
    free(err);

    const char *recent[] = {"--since", "1h", "--limit", "1", "--payload", NULL};
    ck_assert_int_eq(quarantine(&h, recent, &out, &err), 0);
    ck_assert_msg(strstr(out, "(1 older not shown") && strstr(out, "a-1") && !strstr(out, "d-1\""),
                  "%s", out);
    ck_assert_msg(strstr(out, "    {\"id\":\"a-1\"") != NULL, "the sample: %s", out);
    free(out);
    free(err);

    const char *bad_since[] = {"--since", "yesterday", NULL};
    ck_assert_int_eq(quarantine(&h, bad_since, &out, &err), 2);
    ck_assert_msg(strstr(err, "bad --since 'yesterday'") != NULL, "%s", err);
    free(out);
    free(err);
    const char *bad_limit[] = {"--limit", "0", NULL};
    ck_assert_int_eq(quarantine(&h, bad_limit, &out, &err), 2);
    ck_assert_msg(strstr(err, "bad --limit '0'") != NULL, "%s", err);
    free(out);
    free(err);
    const char *bad_format[] = {"--format", "xml", NULL};
    ck_assert_int_eq(quarantine(&h, bad_format, &out, &err), 2);
    ck_assert_msg(strstr(err, "unknown format 'xml'") != NULL, "%s", err);
    free(out);
    free(err);
    const char *stray[] = {"extra", NULL};
    ck_assert_int_eq(quarantine(&h, stray, &out, &err), 2);
    ck_assert_msg(strstr(err, "unexpected argument 'extra'") != NULL, "%s", err);
    free(out);
    free(err);
    const char *no_store[] = {lh_test_loophub_bin(), "quarantine", "--db", "/nonexistent/x.db",
                              NULL};
    ck_assert_int_eq(lh_test_run(no_store, NULL, &out, &err, 20000), 1);
    ck_assert_msg(strstr(err, "no store at /nonexistent/x.db") != NULL, "%s", err);
    free(out);
    free(err);
    free(file);
    lh_it_hub_stop(&h);
}
END_TEST

static Suite *
cli_suite(void)
{
    Suite *s = suite_create("cli");
    const lh_test_case_t cases[] = {
        {"reliable_window_bounded", test_reliable_window_bounded, 60, 0},
        {"fire_and_forget_without_hub", test_fire_and_forget_without_hub, 30, 0},
        {"tail_filter_no_false_gap", test_tail_filter_no_false_gap, 90, 0},
        {"json_lines_not_json", test_json_lines_not_json, 30, 0},
        {"quarantine_lists_rejections", test_quarantine_lists_rejections, 60, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 30, setup, teardown);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(cli_suite());
}
