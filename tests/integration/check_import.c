/*
 * check_import.c - `loophub import` as a user runs it: the real binary on a file of JSON lines
 * (loophub JSON, CloudEvents, an Alertmanager webhook) and on standard input, against a real
 * store, read back with sqlite3; then the real `loophub run` on that store, with a subscriber
 * of the test's own on PUB, to see what the import left to publish.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ithub.h"
#include "loophub/timeutil.h"
#include "testutil.h"

/* Runs `loophub import args... --db db` with in on stdin (NULL: none). */
static int
import(const char *db, const char *const *args, const char *in, char **out, char **err)
{
    const char *argv[16] = {lh_test_loophub_bin(), "import"};
    int n = 2;
    for (int i = 0; args[i]; i++)
        argv[n++] = args[i];
    argv[n++] = "--db";
    argv[n++] = db;
    argv[n] = NULL;
    return lh_test_run(argv, in, out, err, lh_test_ms(60000));
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

/* A history of one deploy and one incident 5 minutes after it per service (a correlated alert
 * each), as loophub JSON, with a bad line 3 and a line that is no JSON. */
static const char history[] =
    "{\"id\":\"d-a\",\"kind\":\"deploy\",\"time\":\"2026-11-20T10:00:00Z\",\"service\":\"a\","
    "\"environment\":\"prod\",\"deploy\":{\"deploy_id\":\"D-a\",\"status\":\"succeeded\","
    "\"version\":\"2\"}}\n"
    "{\"id\":\"i-a\",\"kind\":\"incident\",\"time\":\"2026-11-20T10:05:00Z\",\"service\":\"a\","
    "\"environment\":\"prod\",\"incident\":{\"incident_id\":\"INC-a\",\"state\":\"detected\","
    "\"severity\":\"critical\"}}\n"
    "{\"id\":\"bad-1\",\"kind\":\"deploy\",\"time\":\"2026-11-20T10:06:00Z\",\"service\":\"a\"}\n"
    "\n"
    "garbage\n"
    "[{\"id\":\"d-b\",\"kind\":\"deploy\",\"time\":\"2026-11-20T11:00:00Z\",\"service\":\"b\","
    "\"environment\":\"prod\",\"deploy\":{\"deploy_id\":\"D-b\",\"status\":\"succeeded\","
    "\"version\":\"7\"}},"
    "{\"id\":\"i-b\",\"kind\":\"incident\",\"time\":\"2026-11-20T11:05:00Z\",\"service\":\"b\","
    "\"environment\":\"prod\",\"incident\":{\"incident_id\":\"INC-b\",\"state\":\"detected\","
    "\"severity\":\"critical\"}}]\n"
    "{\"specversion\":\"1.0\",\"id\":\"ce-1\",\"source\":\"/ci\",\"type\":"
    "\"dev.cdevents.service.deployed.0.1.1\",\"time\":\"2026-11-20T12:00:00Z\",\"subject\":\"c\","
    "\"data\":{\"subject\":{\"id\":\"c\",\"content\":{\"environment\":{\"id\":\"prod\"},"
    "\"artifactId\":\"pkg:oci/c@sha256:1\"}}}}\n";

START_TEST(test_bad_lines_reported_rest_loaded)
{
    char *dir = lh_test_tmpdir();
    char db[600], file[600];
    snprintf(db, sizeof(db), "%s/store.db", dir);
    snprintf(file, sizeof(file), "%s/history.jsonl", dir);
    write_file(file, history);
    char *out = NULL, *err = NULL;
    const char *a[] = {file, NULL};
    int rc = import(db, a, NULL, &out, &err);
    ck_assert_msg(rc == 1, "exit %d: %s", rc, err);
    ck_assert_msg(strstr(err, "loophub import: line 3: bad-1: kind 'deploy' without a 'deploy'"),
                  "%s", err);
    ck_assert_msg(strstr(err, "loophub import: line 5: not JSON"), "%s", err);
    /* one summary line (stderr is no terminal): 7 lines, 6 events, 2 rejected */
    ck_assert_msg(strstr(err, "import: 7 lines, 7 events: 5 stored, 0 already there, 2 rejected "
                              "on 2 lines (quarantined); 2 alerts concluded (stored, not "
                              "published)"),
                  "%s", err);
    ck_assert_str_eq(out, "");
    free(out);
    free(err);
    lh_it_hub_t h = {0};
    snprintf(h.db, sizeof(h.db), "%s", db);
    ck_assert_int_eq(lh_it_sql_long(&h, "SELECT count(*) FROM events"), 5);
    ck_assert_int_eq(lh_it_sql_long(&h, "SELECT count(*) FROM alerts"), 2);
    ck_assert_int_eq(lh_it_sql_long(&h, "SELECT count(*) FROM quarantine WHERE origin LIKE "
                                        "'import:%history.jsonl:3' OR origin LIKE "
                                        "'import:%history.jsonl:5'"),
                     2);
    /* every sink, built-in ones included, has the import's alerts done */
    ck_assert_int_eq(lh_it_sql_long(&h, "SELECT count(*) FROM sinks WHERE done_through = 2"), 3);

    /* again: nothing new, and the bad lines are told again */
    rc = import(db, a, NULL, &out, &err);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(err, "7 events: 0 stored, 5 already there, 2 rejected"), "%s", err);
    free(out);
    free(err);
    ck_assert_int_eq(lh_it_sql_long(&h, "SELECT count(*) FROM events"), 5);
    ck_assert_int_eq(lh_it_sql_long(&h, "SELECT count(*) FROM alerts"), 2);

    /* a clean file on standard input: exit 0 */
    const char *b[] = {"-", "--batch", "1", NULL};
    rc = import(db, b,
                "{\"id\":\"t-1\",\"kind\":\"ticket\",\"time\":\"2026-11-20T09:00:00Z\","
                "\"ticket\":{\"ticket_id\":\"CHG-1\",\"state\":\"approved\"}}\n",
                &out, &err);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    ck_assert_msg(strstr(err, "1 lines, 1 events: 1 stored"), "%s", err);
    free(out);
    free(err);
    lh_test_rmrf(dir);
    free(dir);
}
END_TEST

/* What the import concluded is not published by the next hub; with --publish it is. */
START_TEST(test_publish_or_not)
{
    for (int publish = 0; publish < 2; publish++) {
        lh_it_hub_t h;
        lh_it_hub_init(&h, 0);
        char file[700];
        snprintf(file, sizeof(file), "%s/history.jsonl", h.dir);
        write_file(file, history);
        char *out = NULL, *err = NULL;
        const char *a[] = {file, publish ? "--publish" : "-q", NULL};
        int rc = import(h.db, a, NULL, &out, &err);
        ck_assert_msg(rc == 1, "exit %d: %s", rc, err);
        if (!publish)
            ck_assert_msg(!strstr(err, "import: 7 lines"), "-q prints no summary: %s", err);
        free(out);
        free(err);
        lh_it_sub_t s;
        lh_it_sub_open(&s, h.pub, "");
        lh_it_hub_run(&h, NULL);
        /* a marker alert made after the start: every alert before it has been offered */
        char in[1024];
        int64_t now = lh_now_ns() / LH_NS_PER_SEC;
        char t1[40], t2[40];
        lh_time_format((now - 600) * LH_NS_PER_SEC, t1, sizeof(t1));
        lh_time_format((now - 300) * LH_NS_PER_SEC, t2, sizeof(t2));
        snprintf(in, sizeof(in),
                 "{\"id\":\"d-m\",\"kind\":\"deploy\",\"time\":\"%s\",\"service\":\"m\","
                 "\"environment\":\"prod\",\"deploy\":{\"deploy_id\":\"D-m\",\"status\":"
                 "\"succeeded\",\"version\":\"1\"}}\n"
                 "{\"id\":\"i-m\",\"kind\":\"incident\",\"time\":\"%s\",\"service\":\"m\","
                 "\"environment\":\"prod\",\"incident\":{\"incident_id\":\"INC-m\",\"state\":"
                 "\"detected\",\"severity\":\"critical\"}}\n",
                 t1, t2);
        const char *send[] = {lh_test_loophub_bin(),
                              "send",
                              "--json",
                              "-",
                              "--reliable",
                              "--to",
                              h.router,
                              "-q",
                              NULL};
        ck_assert_int_eq(lh_test_run(send, in, &out, &err, lh_test_ms(20000)), 0);
        free(out);
        free(err);
        int got = 0, marker = 0;
        char topic[256];
        lh_correlated_t *ca;
        while (!marker && (ca = lh_it_sub_recv_pb(&s, topic, sizeof(topic), 10000))) {
            got++;
            marker = ca->service && !strcmp(ca->service, "m");
            lh_correlated_destroy(&ca);
        }
        ck_assert_msg(marker, "the marker alert never came");
        /* without --publish only the marker; with it the import's two come first */
        ck_assert_int_eq(got, publish ? 3 : 1);
        lh_it_sub_close(&s);
        lh_it_hub_stop(&h);
    }
}
END_TEST

/* Bad usage and a store in use. */
START_TEST(test_usage_and_store_in_use)
{
    char *out = NULL, *err = NULL;
    const char *none[] = {lh_test_loophub_bin(), "import", NULL};
    ck_assert_int_eq(lh_test_run(none, NULL, &out, &err, 20000), 2);
    ck_assert_msg(strstr(err, "say what to import"), "%s", err);
    free(out);
    free(err);
    const char *badb[] = {lh_test_loophub_bin(), "import", "x", "--batch", "0", NULL};
    ck_assert_int_eq(lh_test_run(badb, NULL, &out, &err, 20000), 2);
    ck_assert_msg(strstr(err, "--batch: '0' is not a number"), "%s", err);
    free(out);
    free(err);
    const char *missing[] = {lh_test_loophub_bin(), "import", "/nonexistent/x.jsonl", NULL};
    ck_assert_int_eq(lh_test_run(missing, NULL, &out, &err, 20000), 1);
    ck_assert_msg(strstr(err, "cannot open /nonexistent/x.jsonl"), "%s", err);
    free(out);
    free(err);
    const char *help[] = {lh_test_loophub_bin(), "import", "--help", NULL};
    ck_assert_int_eq(lh_test_run(help, NULL, &out, &err, 20000), 0);
    ck_assert_msg(strstr(out, "Usage: loophub import FILE|-"), "%s", out);
    free(out);
    free(err);

    lh_it_hub_t h;
    lh_it_hub_start(&h, 0, NULL);
    const char *a[] = {"-", NULL};
    int rc = import(h.db, a, "{\"id\":\"x\"}\n", &out, &err);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(err, "cannot open the store") && strstr(err, "in use"), "%s", err);
    free(out);
    free(err);
    lh_it_hub_stop(&h);
}
END_TEST

static Suite *
import_suite(void)
{
    Suite *s = suite_create("import");
    const lh_test_case_t tests[] = {
        {"bad_lines", test_bad_lines_reported_rest_loaded, 0, 0},
        {"publish_or_not", test_publish_or_not, 0, 0},
        {"usage", test_usage_and_store_in_use, 0, 0},
    };
    lh_test_add_cases(s, tests, LH_TEST_COUNT(tests), 90, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(import_suite());
}
