/*
 * check_store.c - the store as a user of the real `loophub run` binary meets it over months:
 * retention deleting what is past its time while ingest goes on (and what the timeline and
 * /metrics then say), and a restart (the dedupe index rebuilt from its horizon) that changes
 * nothing: the same input gives the same events, alerts and conclusions as a hub never
 * restarted, compared row by row.
 */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ithub.h"
#include "loophub/buf.h"
#include "loophub/timeutil.h"
#include "testutil.h"

#define DAY (86400LL * LH_NS_PER_SEC)

static void
iso(int64_t ns, char *buf, size_t cap)
{
    ck_assert_int_gt(lh_time_format(ns, buf, cap), 0);
}

/* Writes lines to <dir>/name and sends them with `loophub send --reliable`; returns its exit. */
static int
send_lines(const lh_it_hub_t *h, const char *name, const char *lines, char **err)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", h->dir, name);
    ck_assert_int_eq(lh_test_write_file(path, lines, strlen(lines)), 0);
    const char *argv[] = {lh_test_loophub_bin(), "send", "--json", path, "--to", h->router,
                          "--reliable",          "-q",   NULL};
    return lh_test_run(argv, NULL, NULL, err, 120000);
}

static long long
sql_of(const char *db, const char *sql)
{
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open_v2(db, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(c, sql, -1, &s, NULL), SQLITE_OK);
    long long v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    sqlite3_close(c);
    return v;
}

typedef struct {
    const lh_it_hub_t *h;
    long long alerts, deploys;
} expired_t;

static int
all_expired(void *arg)
{
    expired_t *e = arg;
    return lh_it_metric(e->h, "loophub_expired_total{what=\"alert\"}") == e->alerts &&
           lh_it_metric(e->h, "loophub_expired_total{what=\"deploy\"}") == e->deploys;
}

/* Old and new events interleaved in one stream: the old go in small steps between the batches
 * that store the new, every new one is stored and acknowledged, and what named an old change
 * reads as expired. */
START_TEST(test_retention_beside_ingest)
{
    enum { N_OLD = 6000, N_NEW = 6000 };
    lh_it_hub_t h;
    const char *extra[] = {"--retention-alerts",
                           "1d",
                           "--retention-changes",
                           "2d",
                           "--retention-incidents",
                           "30d",
                           NULL};
    /* first a change and the incident blamed on it, correlated while nothing expires */
    lh_it_hub_start(&h, 1, NULL);
    const int64_t now = lh_now_ns();
    char t_dep[40], t_inc[40], t[40];
    iso(now - 3 * DAY, t_dep, sizeof(t_dep));
    iso(now - 3 * DAY + 5 * 60 * LH_NS_PER_SEC, t_inc, sizeof(t_inc));
    char first[1024];
    snprintf(first, sizeof(first),
             "{\"id\":\"d-old\",\"kind\":\"deploy\",\"time\":\"%s\",\"service\":\"api\","
             "\"environment\":\"prod\",\"hosts\":[\"web-1\"],\"deploy\":{\"deploy_id\":\"D-OLD\","
             "\"status\":\"succeeded\",\"version\":\"2\",\"previous_version\":\"1\"}}\n"
             "{\"id\":\"i-old\",\"kind\":\"incident\",\"time\":\"%s\",\"service\":\"api\","
             "\"environment\":\"prod\",\"hosts\":[\"web-1\"],\"incident\":{\"incident_id\":"
             "\"INC-OLD\",\"state\":\"detected\",\"severity\":\"critical\"}}\n",
             t_dep, t_inc);
    char *err = NULL;
    ck_assert_msg(send_lines(&h, "first.jsonl", first, &err) == 0, "send: %s", err ? err : "");
    free(err);
    err = NULL;
    ck_assert_int_eq(sql_of(h.db, "SELECT count(*) FROM correlations WHERE deploy_id = 'D-OLD'"),
                     1);
    ck_assert_int_eq(lh_it_hub_term(&h), 0);
    /* then the same store under retention */
    lh_it_hub_run(&h, extra);
    size_t cap = (size_t)(N_OLD + N_NEW + 4) * 320;
    char *lines = malloc(cap);
    size_t len = 0;
    lines[0] = 0;
    for (int i = 0; i < N_OLD + N_NEW; i++) {
        int old = i % 2 == 0 && i / 2 < N_OLD;
        int64_t at =
            old ? now - 2 * DAY + (int64_t)i * LH_NS_PER_MS : now - 3600 * LH_NS_PER_SEC + i;
        iso(at, t, sizeof(t));
        len += (size_t)snprintf(lines + len, cap - len,
                                "{\"id\":\"%s-%d\",\"kind\":\"alert\",\"time\":\"%s\",\"service\":"
                                "\"s%d\",\"environment\":\"prod\",\"alert\":{\"name\":\"n\","
                                "\"severity\":\"info\"}}\n",
                                old ? "old" : "new", i, t, i % 7);
    }
    ck_assert_msg(send_lines(&h, "mixed.jsonl", lines, &err) == 0, "send: %s", err ? err : "");
    free(err);
    free(lines);

    expired_t e = {&h, N_OLD, 1};
    ck_assert_msg(lh_test_wait_for(all_expired, &e, lh_test_ms(20000)),
                  "expired alert %lld deploy %lld",
                  lh_it_metric(&h, "loophub_expired_total{what=\"alert\"}"),
                  lh_it_metric(&h, "loophub_expired_total{what=\"deploy\"}"));
    /* every new one is there, no old one, and the incident (kept 30 days) */
    ck_assert_int_eq(sql_of(h.db, "SELECT count(*) FROM events WHERE id LIKE 'new-%'"), N_NEW);
    ck_assert_int_eq(sql_of(h.db, "SELECT count(*) FROM events WHERE id LIKE 'old-%'"), 0);
    ck_assert_int_eq(sql_of(h.db, "SELECT count(*) FROM events WHERE kind = 3"), 1);
    ck_assert_int_eq(lh_it_metric(&h, "loophub_store_kind_events{kind=\"alert\"}"), N_NEW);
    ck_assert_int_eq(lh_it_metric(&h, "loophub_store_kind_events{kind=\"deploy\"}"), 0);
    long long oldest = lh_it_metric(&h, "loophub_store_oldest_event_seconds{kind=\"alert\"}");
    ck_assert_int_ge(oldest, (now - 3600 * LH_NS_PER_SEC) / LH_NS_PER_SEC - 1);
    ck_assert_int_le(oldest, now / LH_NS_PER_SEC);
    ck_assert_int_eq(lh_it_metric(&h, "loophub_store_oldest_event_seconds{kind=\"deploy\"}"), 0);
    ck_assert_int_gt(lh_it_metric(&h, "loophub_store_bytes{file=\"db\"}"), 0);
    ck_assert_int_eq(lh_test_file_count(h.log, " error "), 0);

    /* the incident's alert still names the change; the change reads as expired */
    const char *tl[] = {lh_test_loophub_bin(), "timeline", "--db", h.db,
                        "--incident",          "INC-OLD",  NULL};
    char *out = NULL;
    ck_assert_int_eq(lh_test_run(tl, NULL, &out, NULL, 20000), 0);
    ck_assert_msg(strstr(out, "D-OLD") && strstr(out, "change events: expired") &&
                      strstr(out, "expired (the store's retention deleted older events): deploys"
                                  " before "),
                  "%s", out);
    free(out);
    const char *tj[] = {lh_test_loophub_bin(),
                        "timeline",
                        "--db",
                        h.db,
                        "--incident",
                        "INC-OLD",
                        "--format",
                        "json",
                        NULL};
    ck_assert_int_eq(lh_test_run(tj, NULL, &out, NULL, 20000), 0);
    ck_assert_msg(strstr(out, "\"expired\":true") && strstr(out, "\"expired_before\":{"), "%s",
                  out);
    free(out);
    const char *td[] = {lh_test_loophub_bin(), "timeline", "--db", h.db, "--deploy", "D-OLD", NULL};
    ck_assert_int_eq(lh_test_run(td, NULL, NULL, &err, 20000), 1);
    ck_assert_msg(strstr(err, "no deploy D-OLD") && strstr(err, "deploys before ") &&
                      strstr(err, "have expired: the store's retention"),
                  "%s", err);
    free(err);
    lh_it_hub_stop(&h);
}
END_TEST

/* ---- restart ------------------------------------------------------------------------------- */

/* A deterministic story over 20 services: changes (started, then succeeded or failed), incidents
 * that follow some of them, alert periods (firing at error, resolved), approval tickets, and
 * every 9th event sent again much later (past the dedupe horizon of 1024). */
static char *
story(int64_t base, size_t *n_lines)
{
    enum { ROUNDS = 600 };
    size_t cap = ROUNDS * 20 * 700;
    char *s = malloc(cap);
    size_t len = 0, n = 0;
    char t[40];
    char **sent = calloc(ROUNDS * 20 + 1, sizeof(char *));
    for (int r = 0; r < ROUNDS; r++) {
        int svc = r % 20;
        int64_t at = base + (int64_t)r * 20 * LH_NS_PER_SEC;
        char line[700];
        for (int k = 0; k < 6; k++) {
            iso(at + k * LH_NS_PER_SEC, t, sizeof(t));
            int w = 0;
            switch (k) {
            case 0:
                w = snprintf(line, sizeof(line),
                             "{\"id\":\"t-%d\",\"kind\":\"ticket\",\"time\":\"%s\",\"ticket\":{"
                             "\"ticket_id\":\"CHG-%d\",\"type\":\"change\",\"state\":"
                             "\"approved\",\"links\":[\"D-%d\"]}}\n",
                             r, t, r, r);
                break;
            case 1:
            case 2:
                w = snprintf(line, sizeof(line),
                             "{\"id\":\"d-%d-%d\",\"kind\":\"deploy\",\"time\":\"%s\",\"service\":"
                             "\"s%d\",\"environment\":\"prod\",\"hosts\":[\"h%d\"],\"deploy\":{"
                             "\"deploy_id\":\"D-%d\",\"status\":\"%s\",\"version\":\"%d\"}}\n",
                             r, k, t, svc, svc % 5, r,
                             k == 1       ? "started"
                             : r % 4 == 0 ? "failed"
                                          : "succeeded",
                             r);
                break;
            case 3:
                w = snprintf(line, sizeof(line),
                             "{\"id\":\"a-%d\",\"kind\":\"alert\",\"time\":\"%s\",\"service\":"
                             "\"s%d\",\"environment\":\"prod\",\"hosts\":[\"h%d\"],\"alert\":{"
                             "\"name\":\"Err\",\"fingerprint\":\"fp-%d\",\"state\":\"firing\","
                             "\"severity\":\"error\"}}\n",
                             r, t, svc, svc % 5, svc);
                break;
            case 4:
                w = r % 3 ? snprintf(line, sizeof(line),
                                     "{\"id\":\"i-%d\",\"kind\":\"incident\",\"time\":\"%s\","
                                     "\"service\":\"s%d\",\"environment\":\"prod\",\"incident\":{"
                                     "\"incident_id\":\"INC-%d\",\"state\":\"%s\",\"severity\":"
                                     "\"critical\"}}\n",
                                     r, t, svc, r / 2, r % 2 ? "detected" : "resolved")
                          : 0;
                break;
            case 5:
                w = snprintf(line, sizeof(line),
                             "{\"id\":\"ar-%d\",\"kind\":\"alert\",\"time\":\"%s\",\"service\":"
                             "\"s%d\",\"environment\":\"prod\",\"alert\":{\"name\":\"Err\","
                             "\"fingerprint\":\"fp-%d\",\"state\":\"resolved\",\"severity\":"
                             "\"error\"}}\n",
                             r, t, svc, svc);
                break;
            }
            if (w <= 0)
                continue;
            memcpy(s + len, line, (size_t)w);
            len += (size_t)w;
            n++;
            if (n % 9 == 0 && r < ROUNDS / 2)
                sent[n / 9] = strndup(line, (size_t)w);
        }
        /* in the second half, the early events come back: duplicates of old ids */
        if (r >= ROUNDS / 2) {
            int j = (r - ROUNDS / 2) + 1;
            if (sent[j]) {
                size_t l = strlen(sent[j]);
                memcpy(s + len, sent[j], l);
                len += l;
                n++;
            }
        }
    }
    s[len] = 0;
    for (size_t i = 0; i <= ROUNDS * 20; i++)
        free(sent[i]);
    free(sent);
    *n_lines = n;
    return s;
}

/* The lines [from, to) of text (split at '\n'), malloc'd. */
static char *
lines_range(const char *text, size_t from, size_t to)
{
    const char *p = text, *a = NULL;
    size_t i = 0;
    for (; *p && i < to; p++) {
        if (i == from && !a)
            a = p;
        if (*p == '\n')
            i++;
    }
    if (!a)
        a = p;
    return strndup(a, (size_t)(p - a));
}

/* What a store concluded, row by row: every event (its id, in arrival order), every alert
 * revision, correlation and case; the hub's clock (created, received) left out. */
static char *
dump_of(const char *db)
{
    static const char *const q[] = {
        "SELECT seq, id, kind, time, outcome FROM events ORDER BY seq",
        "SELECT seq, id, revision, outcome_id, event_seq, kind, service, environment,"
        " outcome_seq, late FROM alerts ORDER BY seq",
        "SELECT outcome_seq, deploy_id, deploy_seq, printf('%.6f', score), rank, lead_seconds,"
        " reasons, late, alert_seq FROM correlations ORDER BY outcome_seq, deploy_id",
        "SELECT id, kind, service, time, last_time, revision, top, suspect_key, late, resolved"
        " FROM cases ORDER BY id",
        "SELECT first_seq, okey, open, resolved, case_id FROM outcomes ORDER BY first_seq",
    };
    lh_buf_t b = LH_BUF_INIT;
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open_v2(db, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        sqlite3_stmt *s = NULL;
        ck_assert_int_eq(sqlite3_prepare_v2(c, q[i], -1, &s, NULL), SQLITE_OK);
        while (sqlite3_step(s) == SQLITE_ROW) {
            for (int k = 0; k < sqlite3_column_count(s); k++) {
                const char *v = (const char *)sqlite3_column_text(s, k);
                lh_buf_append(&b, v ? v : "NULL", strlen(v ? v : "NULL"));
                lh_buf_append(&b, "|", 1);
            }
            lh_buf_append(&b, "\n", 1);
        }
        sqlite3_finalize(s);
        lh_buf_append(&b, "--\n", 3);
    }
    sqlite3_close(c);
    lh_buf_append(&b, "", 1);
    return (char *)b.data;
}

/* The first difference of two dumps, for the failure message. */
static const char *
first_diff(const char *a, const char *b)
{
    size_t i = 0;
    while (a[i] && a[i] == b[i])
        i++;
    while (i > 0 && a[i - 1] != '\n')
        i--;
    return a + i;
}

START_TEST(test_restart_equals_never_restarted)
{
    const int64_t base = lh_now_ns() - 20 * 3600 * LH_NS_PER_SEC;
    size_t n = 0;
    char *all = story(base, &n);
    ck_assert_int_gt(n, 1500);
    const char *extra[] = {"--dedupe-horizon", "1024", NULL};
    char *err = NULL;

    /* A: one run */
    lh_it_hub_t a;
    lh_it_hub_start(&a, 0, extra);
    ck_assert_msg(send_lines(&a, "all.jsonl", all, &err) == 0, "send: %s", err ? err : "");
    free(err);
    ck_assert_int_eq(lh_it_hub_term(&a), 0);

    /* B: the same input, with two restarts in the middle */
    lh_it_hub_t b;
    lh_it_hub_start(&b, 0, extra);
    size_t cut[] = {0, n / 3, 2 * n / 3, n};
    for (int part = 0; part < 3; part++) {
        char *p = lines_range(all, cut[part], cut[part + 1]);
        char name[32];
        snprintf(name, sizeof(name), "part%d.jsonl", part);
        ck_assert_msg(send_lines(&b, name, p, &err) == 0, "send part %d: %s", part, err ? err : "");
        free(err);
        err = NULL;
        free(p);
        ck_assert_int_eq(lh_it_hub_term(&b), 0);
        if (part < 2)
            lh_it_hub_run(&b, extra);
    }
    char *da = dump_of(a.db), *db = dump_of(b.db);
    ck_assert_int_gt(sql_of(a.db, "SELECT count(*) FROM alerts"), 20);
    ck_assert_int_eq(sql_of(a.db, "SELECT count(*) FROM events"),
                     sql_of(b.db, "SELECT count(*) FROM events"));
    /* each fact once: the stored protobuf leaves id, service and environment to the columns */
    ck_assert_int_eq(sql_of(a.db, "SELECT count(*) FROM events WHERE instr(event, CAST(id AS BLOB))"
                                  " OR instr(event, CAST(service AS BLOB))"),
                     0);
    /* the replays were recognised as duplicates in both, past the horizon */
    ck_assert_int_lt(sql_of(a.db, "SELECT count(*) FROM events"), (long long)n);
    ck_assert_msg(strcmp(da, db) == 0,
                  "restarted hub differs at:\n%.400s\nnever restarted:\n%.400s", first_diff(db, da),
                  first_diff(da, db));
    free(da);
    free(db);
    free(all);
    lh_it_hub_fini(&a);
    lh_it_hub_fini(&b);
}
END_TEST

static Suite *
store_suite(void)
{
    Suite *s = suite_create("it_store");
    const lh_test_case_t cases[] = {
        {"retention_beside_ingest", test_retention_beside_ingest, 120, 0},
        {"restart_equals_never_restarted", test_restart_equals_never_restarted, 180, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 120, NULL, NULL);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(store_suite());
}
