/*
 * check_report.c - `loophub deployed` and `loophub audit` against a real store (storefix.h:
 * the real codec, store and correlator), read back as JSON (parsed with jansson) and text, and
 * through the subcommands themselves for their options, messages and exit codes.
 *
 * The history (T0 = 2025-11-26T10:00:00Z, minutes after it):
 *   api/prod     D-1 started 0, succeeded 5 on api-1 api-2: 0.9 -> 1.0 by alice, commit abc
 *                    (CHG-1 approved at -30, links D-1)
 *                D-2 succeeded 60 on api-1: 1.1 by bob (CHG-2 created 50, approved 70)
 *                D-3 succeeded 120 on api-1 api-2: 2.0 by carol, rolled back 150 (CHG-3
 *                    rejected 100)
 *                D-4 started 165, failed 170: 2.1 by dave (no ticket)
 *   api/staging  D-1 succeeded 0, no hosts: 1.0 by alice (CHG-1 links the deploy id, so it
 *                    approves this change too)
 *   web/prod     W-1 succeeded 0 on w-1 w-2: 5 by erin, names change ticket CHG-W (created
 *                    only: not approved)
 *                W-2 succeeded 10 on w-1: 6 by erin (an incident ticket links it)
 *                W-3 succeeded 20, no hosts: 7 by erin (CHG-S approved 15, rejected 25:
 *                    approved when it started)
 *                W-4 succeeded 30 on w-2: 8 by erin
 * Expected now: api-1 1.1 (D-2), api-2 1.0 (D-1), D-3 not running; api/staging (all) 1.0;
 * web w-2 8 (W-4), every other host 7 (W-3); the walk stops at W-3, so W-2 and W-1 are not
 * read.
 */
#include <check.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "loophub/error.h"
#include "loophub/report.h"
#include "loophub/timeutil.h"
#include "query.h"
#include "query_sql.h"
#include "storefix.h"
#include "testutil.h"

#define T0 (1764151200LL * LH_NS_PER_SEC)
#define MIN (60LL * LH_NS_PER_SEC)
#define NOW (T0 + 300 * MIN)

static void
d(lh_store_t *st, lh_correlator_t *c, const char *id, const char *did, lh_deploy_status_t s,
  int64_t m, const char *svc, const char *env, const char *ver, const char *prev, const char *actor,
  const char *const *hosts)
{
    lh_event_t *ev = fx_deploy(id, did, s, T0 + m * MIN, svc, env, ver, prev, actor);
    fx_hosts(ev, hosts);
    fx_put(st, c, ev, NOW);
}

static void
build_store(void)
{
    lh_store_t *st = NULL;
    lh_correlator_t *c = NULL;
    fx_writer_open(&st, &c, NULL);
    static const char *const a12[] = {"api-1", "api-2", NULL}, *const a1[] = {"api-1", NULL};
    static const char *const w12[] = {"w-1", "w-2", NULL}, *const w1[] = {"w-1", NULL};
    static const char *const w2[] = {"w-2", NULL};
    fx_put(st, c,
           fx_ticket("t-1", "CHG-1", LH_TICKET_CHANGE, LH_TICKET_APPROVED, T0 - 30 * MIN, "D-1"),
           NOW);
    lh_event_t *ev =
        fx_deploy("d-1a", "D-1", LH_DEPLOY_STARTED, T0, "api", "prod", "1.0", "0.9", "alice");
    ev->deploy.commit = FX_S(ev, "abc");
    fx_hosts(ev, a12);
    fx_put(st, c, ev, NOW);
    d(st, c, "d-1b", "D-1", LH_DEPLOY_SUCCEEDED, 5, "api", "prod", "1.0", NULL, "alice", a12);
    fx_put(st, c,
           fx_ticket("t-2a", "CHG-2", LH_TICKET_CHANGE, LH_TICKET_CREATED, T0 + 50 * MIN, "D-2"),
           NOW);
    d(st, c, "d-2", "D-2", LH_DEPLOY_SUCCEEDED, 60, "api", "prod", "1.1", "1.0", "bob", a1);
    fx_put(st, c,
           fx_ticket("t-2b", "CHG-2", LH_TICKET_CHANGE, LH_TICKET_APPROVED, T0 + 70 * MIN, NULL),
           NOW);
    fx_put(st, c,
           fx_ticket("t-3", "CHG-3", LH_TICKET_CHANGE, LH_TICKET_REJECTED, T0 + 100 * MIN, "D-3"),
           NOW);
    d(st, c, "d-3a", "D-3", LH_DEPLOY_SUCCEEDED, 120, "api", "prod", "2.0", "1.1", "carol", a12);
    d(st, c, "d-3b", "D-3", LH_DEPLOY_ROLLED_BACK, 150, "api", "prod", "2.0", "1.1", "carol", NULL);
    d(st, c, "d-4a", "D-4", LH_DEPLOY_STARTED, 165, "api", "prod", "2.1", "1.1", "dave", a12);
    d(st, c, "d-4b", "D-4", LH_DEPLOY_FAILED, 170, "api", "prod", "2.1", "1.1", "dave", a12);

    d(st, c, "d-1s", "D-1", LH_DEPLOY_SUCCEEDED, 0, "api", "staging", "1.0", NULL, "alice", NULL);

    fx_put(st, c,
           fx_ticket("t-w", "CHG-W", LH_TICKET_CHANGE, LH_TICKET_CREATED, T0 - 5 * MIN, NULL), NOW);
    ev = fx_deploy("w-1", "W-1", LH_DEPLOY_SUCCEEDED, T0, "web", "prod", "5", NULL, "erin");
    ev->deploy.change_ticket = FX_S(ev, "CHG-W");
    fx_hosts(ev, w12);
    fx_put(st, c, ev, NOW);
    fx_put(st, c, fx_ticket("t-wi", "INC-9", LH_TICKET_INCIDENT, LH_TICKET_APPROVED, T0, "W-2"),
           NOW);
    d(st, c, "w-2", "W-2", LH_DEPLOY_SUCCEEDED, 10, "web", "prod", "6", "5", "erin", w1);
    fx_put(st, c,
           fx_ticket("t-s1", "CHG-S", LH_TICKET_CHANGE, LH_TICKET_APPROVED, T0 + 15 * MIN, "W-3"),
           NOW);
    d(st, c, "w-3", "W-3", LH_DEPLOY_SUCCEEDED, 20, "web", "prod", "7", "6", "erin", NULL);
    fx_put(st, c,
           fx_ticket("t-s2", "CHG-S", LH_TICKET_CHANGE, LH_TICKET_REJECTED, T0 + 25 * MIN, NULL),
           NOW);
    d(st, c, "w-4", "W-4", LH_DEPLOY_SUCCEEDED, 30, "web", "prod", "8", "7", "erin", w2);
    fx_writer_close(&st, &c);
}

static void
setup(void)
{
    lh_test_store_setup();
    build_store();
}

static lh_report_req_t
req(lh_report_kind_t k)
{
    lh_report_req_t r;
    lh_report_req_default(&r, k);
    r.now_ns = NOW;
    return r;
}

#define run(r, fmt, out) fx_report((r), (fmt), (out))
#define run_json fx_report_json

static char *
run_text(const lh_report_req_t *r)
{
    char *s = NULL;
    ck_assert_int_eq(run(r, LH_QUERY_TEXT, &s), 0);
    return s;
}

static const char *
js(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* The entry of service/env in a deployed document (NULL: none). */
static json_t *
entry(json_t *doc, const char *svc, const char *env)
{
    json_t *arr = json_object_get(doc, "services");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *e = json_array_get(arr, i);
        if (!strcmp(js(e, "service"), svc) && !strcmp(js(e, "environment"), env))
            return e;
    }
    return NULL;
}

/* "host=version@deploy_id" of an entry's rows, space-separated, in document order. */
static char *
rows_of(json_t *e)
{
    static char b[512];
    b[0] = 0;
    json_t *hs = json_object_get(e, "hosts");
    for (size_t i = 0; i < json_array_size(hs); i++) {
        json_t *h = json_array_get(hs, i);
        size_t n = strlen(b);
        snprintf(b + n, sizeof(b) - n, "%s%s=%s@%s", n ? " " : "",
                 js(h, "host") ? js(h, "host") : "*", js(h, "version"), js(h, "deploy_id"));
    }
    return b;
}

static char *
iso(int64_t minutes)
{
    static char b[2][40];
    static int k;
    k ^= 1;
    ck_assert_int_gt(lh_time_format(T0 + minutes * MIN, b[k], sizeof(b[k])), 0);
    return b[k];
}

/* --- deployed ------------------------------------------------------------------------------- */

START_TEST(deployed_now)
{
    lh_report_req_t r = req(LH_REPORT_DEPLOYED);
    json_t *doc = run_json(&r);
    ck_assert_str_eq(js(doc, "report"), "deployed");
    ck_assert_str_eq(js(doc, "at"), iso(300));
    json_t *api = entry(doc, "api", "prod");
    ck_assert_ptr_nonnull(api);
    /* D-3 was rolled back and D-4 failed: each host keeps what ran before */
    ck_assert_str_eq(rows_of(api), "api-1=1.1@D-2 api-2=1.0@D-1");
    json_t *nr = json_object_get(api, "not_running");
    ck_assert_int_eq(json_array_size(nr), 1);
    ck_assert_str_eq(js(json_array_get(nr, 0), "deploy_id"), "D-3");
    ck_assert_str_eq(js(json_array_get(nr, 0), "status"), "rolled_back");
    /* who, when, from which change; the previous version and commit from the change's events */
    json_t *h2 = json_array_get(json_object_get(api, "hosts"), 1);
    ck_assert_str_eq(js(h2, "since"), iso(5));
    ck_assert_str_eq(js(h2, "actor"), "alice");
    ck_assert_str_eq(js(h2, "commit"), "abc");
    ck_assert_str_eq(js(h2, "previous_version"), "0.9");
    /* the same deploy id in staging is its own change, for the whole service */
    ck_assert_str_eq(rows_of(entry(doc, "api", "staging")), "*=1.0@D-1");
    /* web: W-4 on w-2, W-3 (no hosts) for every other host; W-2 and W-1 are behind it */
    ck_assert_str_eq(rows_of(entry(doc, "web", "prod")), "w-2=8@W-4 *=7@W-3");
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "rows")), 5);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "services")), 3);
    json_decref(doc);
}
END_TEST

/* `deployed` of a whole store walks its services on two threads, each taking the next service
 * as it gets to it: the document is the same as walked on one thread, whichever took which, in
 * the services' order. 30 more services, in two environments, on hosts, with changes rolled
 * back. */
START_TEST(deployed_two_threads_same)
{
    lh_store_t *st = NULL;
    lh_correlator_t *c = NULL;
    fx_writer_open(&st, &c, NULL);
    static const char *const h1[] = {"h-1", NULL}, *const h12[] = {"h-1", "h-2", NULL};
    for (int k = 0; k < 30; k++) {
        char svc[16], id[48], did[32];
        snprintf(svc, sizeof(svc), "svc-%02d", (k * 7) % 30); /* not stored in name order */
        for (int e = 0; e < 2; e++)
            for (int v = 0; v < 3; v++) {
                const char *env = e ? "staging" : "prod";
                snprintf(did, sizeof(did), "%s-%s-%d", svc, env, v);
                snprintf(id, sizeof(id), "%s-ok", did);
                char ver[8];
                snprintf(ver, sizeof(ver), "%d.%d", k, v);
                d(st, c, id, did, LH_DEPLOY_SUCCEEDED, 10 * v + k, svc, env, ver, NULL, "ann",
                  v == 1            ? h1
                  : v == 2 && k % 3 ? h12
                                    : NULL);
                if (v == 2 && k % 4 == 0) {
                    snprintf(id, sizeof(id), "%s-rb", did);
                    d(st, c, id, did, LH_DEPLOY_ROLLED_BACK, 10 * v + k + 5, svc, env, ver, NULL,
                      "ann", NULL);
                }
            }
    }
    fx_writer_close(&st, &c);
    lh_report_req_t r[3] = {req(LH_REPORT_DEPLOYED), req(LH_REPORT_DEPLOYED),
                            req(LH_REPORT_DEPLOYED)};
    r[1].host = "h-2";
    r[2].at_ns = T0 + 25 * MIN;
    for (size_t i = 0; i < 3; i++) {
        json_t *one = fx_report_threads(&r[i], i);
        ck_assert_int_gt(json_array_size(json_object_get(one, "services")), i == 1 ? 10 : 40);
        json_decref(one);
    }
}
END_TEST

START_TEST(deployed_at_past_moments)
{
    lh_report_req_t r = req(LH_REPORT_DEPLOYED);
    r.at_ns = T0 + 130 * MIN; /* D-3 running, not rolled back yet */
    json_t *doc = run_json(&r);
    ck_assert_str_eq(rows_of(entry(doc, "api", "prod")), "api-1=2.0@D-3 api-2=2.0@D-3");
    ck_assert_int_eq(json_array_size(json_object_get(entry(doc, "api", "prod"), "not_running")), 0);
    json_decref(doc);
    r.at_ns = T0 + 30 * MIN;
    doc = run_json(&r);
    ck_assert_str_eq(rows_of(entry(doc, "api", "prod")), "api-1=1.0@D-1 api-2=1.0@D-1");
    ck_assert_str_eq(rows_of(entry(doc, "web", "prod")), "w-2=8@W-4 *=7@W-3");
    json_decref(doc);
    r.at_ns = T0 + 15 * MIN; /* before W-3: W-2 on w-1, W-1 still on w-2 */
    doc = run_json(&r);
    ck_assert_str_eq(rows_of(entry(doc, "web", "prod")), "w-1=6@W-2 w-2=5@W-1");
    json_decref(doc);
    r.at_ns = T0 + 2 * MIN; /* D-1 only started in prod */
    doc = run_json(&r);
    ck_assert_ptr_null(entry(doc, "api", "prod"));
    ck_assert_ptr_nonnull(entry(doc, "api", "staging"));
    json_decref(doc);
    /* a duration back from now */
    r.at_ns = 0;
    r.at_ago_ns = 170 * MIN; /* NOW - 170m = T0 + 130m */
    doc = run_json(&r);
    ck_assert_str_eq(js(doc, "at"), iso(130));
    ck_assert_str_eq(rows_of(entry(doc, "api", "prod")), "api-1=2.0@D-3 api-2=2.0@D-3");
    json_decref(doc);
}
END_TEST

START_TEST(deployed_filters)
{
    lh_report_req_t r = req(LH_REPORT_DEPLOYED);
    r.service = "api";
    json_t *doc = run_json(&r);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "services")), 2);
    ck_assert_str_eq(js(json_object_get(doc, "filters"), "service"), "api");
    json_decref(doc);
    r.environment = "staging";
    doc = run_json(&r);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "services")), 1);
    ck_assert_str_eq(rows_of(entry(doc, "api", "staging")), "*=1.0@D-1");
    json_decref(doc);
    r = req(LH_REPORT_DEPLOYED);
    r.host = "api-2";
    doc = run_json(&r);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "services")), 1);
    ck_assert_str_eq(rows_of(entry(doc, "api", "prod")), "api-2=1.0@D-1");
    json_decref(doc);
    r.host = "nowhere";
    doc = run_json(&r);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "services")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "rows")), 0);
    json_decref(doc);
    char *t = run_text(&r);
    ck_assert_msg(strstr(t, "no succeeded deploy with a version matches"), "%s", t);
    free(t);
}
END_TEST

START_TEST(deployed_text)
{
    lh_report_req_t r = req(LH_REPORT_DEPLOYED);
    r.store_name = "loophub.db";
    char *t = run_text(&r);
    ck_assert_msg(strstr(t, "Deployed at 2025-11-26T15:00:00Z (loophub.db): 3 services, 5 rows\n"),
                  "%s", t);
    ck_assert_msg(strstr(t, "SERVICE  ENV      HOST      VERSION  CHANGE  BY     SINCE\n"), "%s",
                  t);
    ck_assert_msg(strstr(t, "api      prod     api-1     1.1      D-2     bob    "
                            "2025-11-26T11:00:00Z\n"),
                  "%s", t);
    ck_assert_msg(strstr(t, "  not running: D-3 2.0 (rolled_back)\n"), "%s", t);
    ck_assert_msg(strstr(t, "web      prod     (others)  7        W-3     erin   "), "%s", t);
    ck_assert_msg(strstr(t, "api      staging  (all)     1.0      D-1     alice  "), "%s", t);
    /* no line wider than 100 columns */
    for (const char *l = t; *l;) {
        const char *e = strchr(l, '\n');
        ck_assert_msg(e && e - l <= 100, "line too wide: %.*s", (int)(e ? e - l : 10), l);
        l = e + 1;
    }
    free(t);
}
END_TEST

/* --- audit ---------------------------------------------------------------------------------- */

static json_t *
change_of(json_t *doc, const char *did, const char *env)
{
    json_t *arr = json_object_get(doc, "changes");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *o = json_array_get(arr, i);
        if (!strcmp(js(o, "deploy_id"), did) && !strcmp(js(o, "environment"), env))
            return o;
    }
    return NULL;
}

static lh_report_req_t
audit_all(void)
{
    lh_report_req_t r = req(LH_REPORT_AUDIT);
    r.from_ns = T0 - 60 * MIN;
    r.until_ns = NOW;
    return r;
}

START_TEST(audit_approvals)
{
    lh_report_req_t r = audit_all();
    json_t *doc = run_json(&r);
    ck_assert(json_is_true(json_object_get(doc, "complete")));
    ck_assert_int_eq(json_array_size(json_object_get(doc, "changes")), 9);
    static const struct {
        const char *did, *env, *approval, *by;
    } want[] = {
        {"D-1", "prod", "approved", "CHG-1"},
        {"D-2", "prod", "approved after the deploy", "CHG-2"},
        {"D-3", "prod", "rejected", "CHG-3"},
        {"D-4", "prod", "no ticket", NULL},
        {"D-1", "staging", "approved", "CHG-1"},
        /* approved at 15, rejected at 25: approved when it started at 20 */
        {"W-3", "prod", "approved", "CHG-S"},
        {"W-1", "prod", "not approved", "CHG-W"},
        /* an incident ticket approves no change */
        {"W-2", "prod", "no ticket", NULL},
        {"W-4", "prod", "no ticket", NULL},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        json_t *o = change_of(doc, want[i].did, want[i].env);
        ck_assert_msg(o != NULL, "%s/%s missing", want[i].did, want[i].env);
        ck_assert_msg(!strcmp(js(o, "approval"), want[i].approval), "%s/%s: %s", want[i].did,
                      want[i].env, js(o, "approval"));
        if (want[i].by)
            ck_assert_str_eq(js(o, "approved_by"), want[i].by);
        else
            ck_assert(json_is_null(json_object_get(o, "approved_by")));
    }
    json_t *counts = json_object_get(doc, "approval_counts");
    ck_assert_int_eq(json_integer_value(json_object_get(counts, "approved")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(counts, "approved after the deploy")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(counts, "rejected")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(counts, "not approved")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(counts, "no ticket")), 3);
    json_decref(doc);
}
END_TEST

START_TEST(audit_change_details)
{
    lh_report_req_t r = audit_all();
    json_t *doc = run_json(&r);
    json_t *o = change_of(doc, "D-1", "prod");
    ck_assert_str_eq(js(o, "service"), "api");
    ck_assert_str_eq(js(o, "actor"), "alice");
    ck_assert_str_eq(js(o, "previous_version"), "0.9");
    ck_assert_str_eq(js(o, "version"), "1.0");
    ck_assert_str_eq(js(o, "commit"), "abc");
    ck_assert_str_eq(js(o, "status"), "succeeded");
    ck_assert_str_eq(js(o, "started"), iso(0));
    ck_assert_str_eq(js(o, "finished"), iso(5));
    ck_assert_int_eq(json_array_size(json_object_get(o, "hosts")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "events")), 2);
    json_t *tk = json_array_get(json_object_get(o, "tickets"), 0);
    ck_assert_str_eq(js(tk, "ticket_id"), "CHG-1");
    ck_assert_str_eq(js(tk, "approval_time"), iso(-30));
    o = change_of(doc, "D-3", "prod");
    ck_assert_str_eq(js(o, "status"), "rolled_back");
    ck_assert_str_eq(js(o, "finished"), iso(150));
    /* newest first */
    json_t *arr = json_object_get(doc, "changes");
    ck_assert_str_eq(js(json_array_get(arr, 0), "deploy_id"), "D-4");
    ck_assert_str_eq(js(json_array_get(arr, 8), "deploy_id"), "W-1");
    json_decref(doc);
}
END_TEST

START_TEST(audit_filters)
{
    lh_report_req_t r = audit_all();
    r.actor = "bob";
    json_t *doc = run_json(&r);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "changes")), 1);
    ck_assert_ptr_nonnull(change_of(doc, "D-2", "prod"));
    json_decref(doc);

    r = audit_all();
    r.unapproved = 1;
    doc = run_json(&r);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "changes")), 6);
    ck_assert_ptr_null(change_of(doc, "D-1", "prod"));
    ck_assert_ptr_null(change_of(doc, "W-3", "prod"));
    ck_assert_ptr_null(change_of(doc, "D-1", "staging"));
    ck_assert(json_is_true(json_object_get(json_object_get(doc, "filters"), "unapproved")));
    json_decref(doc);

    r = audit_all();
    r.environment = "staging";
    doc = run_json(&r);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "changes")), 1);
    json_decref(doc);

    r = audit_all();
    r.service = "web";
    doc = run_json(&r);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "changes")), 4);
    json_decref(doc);
    r.service = "nothing";
    doc = run_json(&r);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "changes")), 0);
    json_decref(doc);

    /* the period: D-3 rolled back at 150 but started at 120, before it */
    r = audit_all();
    r.from_ns = T0 + 140 * MIN;
    doc = run_json(&r);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "changes")), 1);
    ck_assert_ptr_nonnull(change_of(doc, "D-4", "prod"));
    json_decref(doc);
    r.from_ns = T0 - 60 * MIN;
    r.until_ns = T0 + 9 * MIN;
    doc = run_json(&r);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "changes")), 3); /* D-1 x2, W-1 */
    json_decref(doc);
}
END_TEST

START_TEST(audit_limit_says_where_it_stopped)
{
    lh_report_req_t r = audit_all();
    r.limit = 2;
    json_t *doc = run_json(&r);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "changes")), 2);
    ck_assert(json_is_false(json_object_get(doc, "complete")));
    ck_assert_str_eq(js(json_array_get(json_object_get(doc, "changes"), 0), "deploy_id"), "D-4");
    ck_assert_str_eq(js(json_array_get(json_object_get(doc, "changes"), 1), "deploy_id"), "D-3");
    /* the next deploy event, the first not read: D-2's at 60 */
    ck_assert_str_eq(js(doc, "read_back_to"), iso(60));
    json_decref(doc);
    char *t = run_text(&r);
    ck_assert_msg(strstr(t, "--limit 2 reached: changes with activity before "), "%s", t);
    free(t);
}
END_TEST

START_TEST(audit_text)
{
    lh_report_req_t r = audit_all();
    r.store_name = "loophub.db";
    char *t = run_text(&r);
    ck_assert_msg(strstr(t, "Audit of loophub.db, changes started 2025-11-26T09:00:00Z .. "
                            "2025-11-26T15:00:00Z: 9 shown\n"),
                  "%s", t);
    ck_assert_msg(strstr(t, "  3 approved, 1 approved after the deploy, 1 rejected, "
                            "1 not approved, 3 no ticket\n"),
                  "%s", t);
    ck_assert_msg(strstr(t, "2025-11-26T10:00:00Z  D-1  api/prod  0.9 -> 1.0  succeeded\n"
                            "    by alice, approved (CHG-1), finished 2025-11-26T10:05:00Z\n"
                            "    commit abc, artifact -\n"
                            "    hosts api-1 api-2\n"),
                  "%s", t);
    free(t);
}
END_TEST

START_TEST(every_report_lookup_uses_an_index)
{
    static const struct {
        const char *name, *sql;
    } stmts[] = {
        {"LH_Q_GOOD_SERVICES", LH_Q_GOOD_SERVICES},
        {"LH_Q_GOOD_ENV_FIRST", LH_Q_GOOD_ENV_FIRST},
        {"LH_Q_GOOD_ENV_NEXT", LH_Q_GOOD_ENV_NEXT},
        {"LH_Q_GOOD_ENV_TEXT_FIRST", LH_Q_GOOD_ENV_TEXT_FIRST},
        {"LH_Q_GOOD_WALK", LH_Q_GOOD_WALK},
        {"LH_Q_CHANGE_COLS_AT", LH_Q_CHANGE_COLS_AT},
        {"LH_Q_AUDIT_BUCKET", LH_Q_AUDIT_BUCKET},
        {"LH_Q_AUDIT_BUCKET_SERVICE", LH_Q_AUDIT_BUCKET_SERVICE},
        {"LH_Q_CHANGE_EVENTS_IN_ENV", LH_Q_CHANGE_EVENTS_IN_ENV},
        {"LH_Q_TICKETS", LH_Q_TICKETS},
        {"LH_Q_DORA_CHANGES", LH_Q_DORA_CHANGES},
        {"LH_Q_DORA_CHANGES_ENDS", LH_Q_DORA_CHANGES_ENDS},
        {"LH_Q_LATEST_TIME", LH_Q_LATEST_TIME},
        {"LH_Q_DORA_INCIDENTS", LH_Q_DORA_INCIDENTS},
        {"LH_Q_DORA_GOODS", LH_Q_DORA_GOODS},
        {"LH_Q_DORA_SUSPECT_SERVICE", LH_Q_DORA_SUSPECT_SERVICE},
        {"LH_Q_DORA_NEXT_GOOD", LH_Q_DORA_NEXT_GOOD},
        {"LH_Q_INCIDENT_EVENTS", LH_Q_INCIDENT_EVENTS},
    };
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(lh_test_fx.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
        char sql[4096];
        snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", stmts[i].sql);
        sqlite3_stmt *s = NULL;
        ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK, "%s: %s",
                      stmts[i].name, sqlite3_errmsg(db));
        int steps = 0;
        while (sqlite3_step(s) == SQLITE_ROW) {
            const char *p = (const char *)sqlite3_column_text(s, 3);
            int full = !strncmp(p, "SCAN ", 5) && !strstr(p, "USING") && !strstr(p, "CONSTANT") &&
                       strncmp(p, "SCAN (subquery", 14) != 0;
            ck_assert_msg(!full, "%s: %s", stmts[i].name, p);
            /* dora reads one range of the changes' key, and one of a service's good deploys */
            if (!strcmp(stmts[i].name, "LH_Q_DORA_CHANGES"))
                ck_assert_msg(strstr(p, "changes USING PRIMARY KEY (started>? AND started<?)"),
                              "%s: %s", stmts[i].name, p);
            if (!strcmp(stmts[i].name, "LH_Q_DORA_CHANGES_ENDS") && !strstr(p, "SCALAR") &&
                !strstr(p, "CONSTANT"))
                ck_assert_msg(strstr(p, "changes USING PRIMARY KEY (started>? AND started<?)"),
                              "%s: %s", stmts[i].name, p);
            if (!strcmp(stmts[i].name, "LH_Q_LATEST_TIME"))
                ck_assert_msg(strstr(p, "USING COVERING INDEX ev_time"), "%s: %s", stmts[i].name,
                              p);
            if (!strcmp(stmts[i].name, "LH_Q_DORA_INCIDENTS"))
                ck_assert_msg(strstr(p, "USING COVERING INDEX oc_dora (time>? AND time<?)"),
                              "%s: %s", stmts[i].name, p);
            if (!strcmp(stmts[i].name, "LH_Q_DORA_GOODS"))
                ck_assert_msg(strstr(p, "ev_good (service=? AND environment=? AND time>? AND"),
                              "%s: %s", stmts[i].name, p);
            /* the bucket walk is a seek on the bucket, not a walk of every deploy */
            if (!strncmp(stmts[i].name, "LH_Q_AUDIT_BUCKET", 17))
                ck_assert_msg(strstr(p, "ev_deploy_svc (<expr>=?") || strstr(p, "TEMP B-TREE"),
                              "%s: %s", stmts[i].name, p);
            steps++;
        }
        ck_assert_int_gt(steps, 0);
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
}
END_TEST

/* --- the parameter parser and the subcommands ------------------------------------------------ */

START_TEST(parser_names_and_errors)
{
    lh_report_req_t r;
    char err[200];
    lh_report_req_default(&r, LH_REPORT_DEPLOYED);
    ck_assert_int_eq(lh_report_req_set(&r, "service", "api", err, sizeof(err)), 0);
    ck_assert_int_eq(lh_report_req_set(&r, "environment", "prod", err, sizeof(err)), 0);
    ck_assert_str_eq(r.environment, "prod");
    ck_assert_int_eq(lh_report_req_set(&r, "at", "2026-11-30T14:05:00Z", err, sizeof(err)), 0);
    ck_assert_int_gt(r.at_ns, 0);
    ck_assert_int_eq(lh_report_req_set(&r, "at", "2h", err, sizeof(err)), 0);
    ck_assert_int_eq(r.at_ns, 0);
    ck_assert_int_eq(r.at_ago_ns, 2 * 3600 * LH_NS_PER_SEC);
    ck_assert_int_eq(lh_report_req_set(&r, "actor", "bob", err, sizeof(err)), LH_EINVAL);
    ck_assert_str_eq(err, "actor: not a parameter of deployed");
    ck_assert_int_eq(lh_report_req_set(&r, "at", "soon", err, sizeof(err)), LH_EINVAL);
    ck_assert_msg(strstr(err, "at: 'soon' is neither a duration"), "%s", err);
    ck_assert_int_eq(lh_report_req_set(&r, "host", "", err, sizeof(err)), LH_EINVAL);
    ck_assert_str_eq(err, "host: empty");

    lh_report_req_default(&r, LH_REPORT_AUDIT);
    ck_assert_int_eq(r.limit, 200);
    ck_assert_int_eq(r.since_ns, 7 * 24 * 3600 * LH_NS_PER_SEC);
    ck_assert_int_eq(lh_report_req_set(&r, "unapproved", NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(r.unapproved, 1);
    ck_assert_int_eq(lh_report_req_set(&r, "unapproved", "false", err, sizeof(err)), 0);
    ck_assert_int_eq(r.unapproved, 0);
    ck_assert_int_eq(lh_report_req_set(&r, "unapproved", "maybe", err, sizeof(err)), LH_EINVAL);
    ck_assert_int_eq(lh_report_req_set(&r, "limit", "0", err, sizeof(err)), 0);
    ck_assert_int_eq(r.limit, 0);
    ck_assert_int_eq(lh_report_req_set(&r, "limit", "-1", err, sizeof(err)), LH_EINVAL);
    ck_assert_int_eq(lh_report_req_set(&r, "limit", "5x", err, sizeof(err)), LH_EINVAL);
    ck_assert_int_eq(lh_report_req_set(&r, "host", "h", err, sizeof(err)), LH_EINVAL);
    ck_assert_int_eq(lh_report_req_set(&r, "since", "2026-11-30T10:00:00Z", err, sizeof(err)), 0);
    ck_assert_int_eq(lh_report_req_set(&r, "until", "2026-11-29T10:00:00Z", err, sizeof(err)), 0);
    int64_t from, to;
    ck_assert_int_eq(lh_report_period(&r, 0, &from, &to), LH_EINVAL);
    /* the store is only asked when the request is sound */
    char *s = NULL;
    ck_assert_int_eq(run(&r, LH_QUERY_JSON, &s), LH_EINVAL);
    free(s);
    r.kind = LH_REPORT_NONE;
    ck_assert_int_eq(run(&r, LH_QUERY_JSON, &s), LH_EINVAL);
    free(s);
}
END_TEST

START_TEST(cli_reports)
{
    const char *a[] = {"deployed", "--db",     lh_test_fx.db, "--service",
                       "web",      "--format", "json",        NULL};
    fx_cli_t c = fx_cli(lh_cli_deployed, a);
    ck_assert_msg(c.code == 0, "exit %d: %s", c.code, c.err);
    json_t *doc = json_loads(c.out, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq(rows_of(entry(doc, "web", "prod")), "w-2=8@W-4 *=7@W-3");
    json_decref(doc);
    fx_cli_free(&c);

    const char *b[] = {"audit",
                       "--db",
                       lh_test_fx.db,
                       "--since",
                       "2025-11-26T09:00:00Z",
                       "--until",
                       "2025-11-26T15:00:00Z",
                       "--unapproved",
                       "--actor",
                       "carol",
                       NULL};
    c = fx_cli(lh_cli_audit, b);
    ck_assert_msg(c.code == 0, "exit %d: %s", c.code, c.err);
    ck_assert_msg(strstr(c.out, "D-3  api/prod  1.1 -> 2.0  rolled_back\n    by carol, "
                                "rejected (CHG-3)"),
                  "%s", c.out);
    fx_cli_free(&c);

    const char *h[] = {"audit", "--help", NULL};
    c = fx_cli(lh_cli_audit, h);
    ck_assert_int_eq(c.code, 0);
    ck_assert_msg(strstr(c.out, "Usage: loophub audit") && strstr(c.out, "--unapproved"), "%s",
                  c.out);
    fx_cli_free(&c);
    h[0] = "deployed";
    c = fx_cli(lh_cli_deployed, h);
    ck_assert_int_eq(c.code, 0);
    ck_assert_msg(strstr(c.out, "Usage: loophub deployed") && strstr(c.out, "--at WHEN"), "%s",
                  c.out);
    fx_cli_free(&c);

    static const struct {
        int audit;
        const char *args[6];
        const char *err;
    } bad[] = {
        {1, {"audit", "--host", "x", NULL}, "loophub audit: --host: not a parameter of audit\n"},
        {0, {"deployed", "--actor", "x", NULL}, "--actor: not a parameter of deployed"},
        {0, {"deployed", "--at", "noon", NULL}, "--at: 'noon' is neither a duration"},
        {1, {"audit", "--limit", "-2", NULL}, "--limit: '-2' is not a number"},
        {1, {"audit", "--since", "1h", "--until", "2h", NULL}, "is before --since"},
        {1, {"audit", "--format", "xml", NULL}, "unknown format 'xml'"},
        {1, {"audit", "--bogus", NULL}, "--bogus"},
        {0, {"deployed", "extra", NULL}, "unexpected argument 'extra'"},
        {0, {"deployed", "--service", NULL}, "--service"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c = fx_cli(bad[i].audit ? lh_cli_audit : lh_cli_deployed, bad[i].args);
        ck_assert_msg(c.code == 2, "%s %s: exit %d", bad[i].args[0], bad[i].args[1], c.code);
        ck_assert_msg(strstr(c.err, bad[i].err), "%s: %s", bad[i].args[1], c.err);
        ck_assert_msg(strstr(c.err, "--help"), "%s", c.err);
        ck_assert_str_eq(c.out, "");
        fx_cli_free(&c);
    }
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/none.db", lh_test_fx.dir);
    const char *m[] = {"deployed", "--db", missing, NULL};
    c = fx_cli(lh_cli_deployed, m);
    ck_assert_int_eq(c.code, 1);
    ck_assert_msg(strstr(c.err, "no store at"), "%s", c.err);
    fx_cli_free(&c);
}
END_TEST

static Suite *
report_suite(void)
{
    Suite *s = suite_create("report");
    const lh_test_case_t tests[] = {
        {"deployed_now", deployed_now, 0, 0},
        {"deployed_at", deployed_at_past_moments, 0, 0},
        {"deployed_two_threads", deployed_two_threads_same, 0, 0},
        {"deployed_filters", deployed_filters, 0, 0},
        {"deployed_text", deployed_text, 0, 0},
        {"audit_approvals", audit_approvals, 0, 0},
        {"audit_details", audit_change_details, 0, 0},
        {"audit_filters", audit_filters, 0, 0},
        {"audit_limit", audit_limit_says_where_it_stopped, 0, 0},
        {"audit_text", audit_text, 0, 0},
        {"index_only", every_report_lookup_uses_an_index, 0, 0},
        {"parser", parser_names_and_errors, 0, 0},
        {"cli", cli_reports, 0, 0},
    };
    lh_test_add_cases(s, tests, LH_TEST_COUNT(tests), 30, setup, lh_test_store_teardown);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(report_suite());
}
