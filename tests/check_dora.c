/*
 * check_dora.c - `loophub dora` on a real store (storefix.h: the real codec, store and
 * correlator) against figures worked out by hand. docs/dora.md's worked example is this
 * history; keep the two together.
 *
 * The week of Monday T0 = 2025-11-24T00:00:00Z (times after T0; window 2h; incidents count from
 * severity error); every change has label team=payments but W-1 (team=web):
 *   api/prod  A-1  commit 0, started 1h, succeeded 2h                        lead 2h
 *             A-2  commit 1d, started 1d1h, succeeded 1d2h                   lead 2h
 *                  INC-1 critical 1d2h30m .. 1d4h30m (top suspect A-2)      restore 2h
 *                  INC-2 error    1d2h40m .. 1d4h10m (top suspect A-2)      restore 1h30m
 *             A-3  commit 1d2h45m, started 1d2h50m, succeeded 1d3h15m       lead 30m
 *                  (a fix while INC-1, blamed on A-2, is open: rework)
 *             A-4  started 2d, failed 2d10m                                  no commit time
 *             A-5  commit 2d, started 2d30m, succeeded 2d1h, rolled back 2d3h   lead 1h
 *             A-6  commit 4d, started 5d, succeeded 5d1h                     lead 1d1h
 *                  INC-3 warning 5d2h .. 5d3h (top suspect A-6): below error, not counted
 *   web/prod  W-1  commit 3d, started 3d1h, succeeded 3d2h                   lead 2h
 *   api/staging S-1 started 3d, succeeded 3d10m; INC-S critical 3d20m .. 3d50m (top suspect S-1)
 *
 * api/prod, the week: 6 deployments (0.857 a day: high); lead times 30m 1h 2h 2h 25h (median
 * 2h: elite; p90 25h); failed A-2 (caused INC-1 and INC-2: once), A-4 (failed), A-5 (rolled
 * back): 3 of 6, 50% (low); recovery A-2 45m (INC-1 at 1d2h30m until A-3 succeeded at 1d3h15m),
 * A-4 50m (until A-5 succeeded), A-5 2h (live at 2d1h, rolled back at 2d3h): median 50m (elite),
 * p90 2h; time to restore INC-1 2h, INC-2 1h30m: median 1h45m, p90 2h; rework:
 * 2 of 6, 33.3%.
 */
#include <check.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hub_internal.h"
#include "loophub/error.h"
#include "loophub/report.h"
#include "loophub/timeutil.h"
#include "query.h"
#include "storefix.h"
#include "testutil.h"

#define T0 (1763942400LL * LH_NS_PER_SEC) /* 2025-11-24T00:00:00Z, a Monday */
#define MIN (60LL * LH_NS_PER_SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

static lh_store_t *wst;
static lh_correlator_t *wc;

/* The history's events, stored by build_store() in the order it says. */
static lh_event_t *hist[64];
static size_t n_hist;

static void
put(lh_event_t *ev)
{
    ck_assert_uint_lt(n_hist, sizeof(hist) / sizeof(hist[0]));
    hist[n_hist++] = ev;
}

static void
dep(const char *id, const char *did, lh_deploy_status_t s, int64_t t, const char *svc,
    const char *env, int64_t commit, const char *team)
{
    lh_event_t *ev = fx_deploy(id, did, s, T0 + t, svc, env, "v", NULL, "dev");
    if (commit >= 0)
        ev->deploy.commit_time_ns = T0 + commit;
    ck_assert_int_eq(lh_event_add_label(ev, "team", 4, team, strlen(team)), 0);
    put(ev);
}

static void
inc(const char *id, const char *iid, lh_incident_state_t st, lh_severity_t sev, int64_t t,
    const char *svc, const char *env)
{
    lh_event_t *ev = fx_event(id, LH_KIND_INCIDENT, T0 + t, svc, env);
    ev->incident.incident_id = FX_S(ev, iid);
    ev->incident.state = st;
    ev->incident.severity = sev;
    put(ev);
}

/* Writes the header's history into lh_test_fx.db: in time order, or in reverse (every event
 * late: what arrives older than what the store holds). */
static void
build_store_ordered(int reverse)
{
    n_hist = 0;
    const lh_deploy_status_t ST = LH_DEPLOY_STARTED, OK = LH_DEPLOY_SUCCEEDED;
    const lh_incident_state_t DET = LH_INCIDENT_DETECTED, RES = LH_INCIDENT_RESOLVED;
    dep("a1a", "A-1", ST, 1 * HOUR, "api", "prod", 0, "payments");
    dep("a1b", "A-1", OK, 2 * HOUR, "api", "prod", 0, "payments");
    dep("a2a", "A-2", ST, DAY + HOUR, "api", "prod", DAY, "payments");
    dep("a2b", "A-2", OK, DAY + 2 * HOUR, "api", "prod", DAY, "payments");
    inc("i1a", "INC-1", DET, LH_SEV_CRITICAL, DAY + 150 * MIN, "api", "prod");
    inc("i2a", "INC-2", DET, LH_SEV_ERROR, DAY + 160 * MIN, "api", "prod");
    dep("a3a", "A-3", ST, DAY + 170 * MIN, "api", "prod", DAY + 165 * MIN, "payments");
    dep("a3b", "A-3", OK, DAY + 195 * MIN, "api", "prod", DAY + 165 * MIN, "payments");
    inc("i2b", "INC-2", RES, LH_SEV_ERROR, DAY + 250 * MIN, "api", "prod");
    inc("i1b", "INC-1", RES, LH_SEV_CRITICAL, DAY + 270 * MIN, "api", "prod");
    dep("a4a", "A-4", ST, 2 * DAY, "api", "prod", -1, "payments");
    dep("a4b", "A-4", LH_DEPLOY_FAILED, 2 * DAY + 10 * MIN, "api", "prod", -1, "payments");
    dep("a5a", "A-5", ST, 2 * DAY + 30 * MIN, "api", "prod", 2 * DAY, "payments");
    dep("a5b", "A-5", OK, 2 * DAY + HOUR, "api", "prod", 2 * DAY, "payments");
    dep("a5c", "A-5", LH_DEPLOY_ROLLED_BACK, 2 * DAY + 3 * HOUR, "api", "prod", 2 * DAY,
        "payments");
    dep("s1a", "S-1", ST, 3 * DAY, "api", "staging", -1, "payments");
    dep("s1b", "S-1", OK, 3 * DAY + 10 * MIN, "api", "staging", -1, "payments");
    inc("isa", "INC-S", DET, LH_SEV_CRITICAL, 3 * DAY + 20 * MIN, "api", "staging");
    inc("isb", "INC-S", RES, LH_SEV_CRITICAL, 3 * DAY + 50 * MIN, "api", "staging");
    dep("w1a", "W-1", ST, 3 * DAY + HOUR, "web", "prod", 3 * DAY, "web");
    dep("w1b", "W-1", OK, 3 * DAY + 2 * HOUR, "web", "prod", 3 * DAY, "web");
    dep("a6a", "A-6", ST, 5 * DAY, "api", "prod", 4 * DAY, "payments");
    dep("a6b", "A-6", OK, 5 * DAY + HOUR, "api", "prod", 4 * DAY, "payments");
    inc("i3a", "INC-3", DET, LH_SEV_WARNING, 5 * DAY + 2 * HOUR, "api", "prod");
    inc("i3b", "INC-3", RES, LH_SEV_WARNING, 5 * DAY + 3 * HOUR, "api", "prod");
    fx_writer_open(&wst, &wc, NULL);
    for (size_t i = 0; i < n_hist; i++)
        fx_put(wst, wc, hist[reverse ? n_hist - 1 - i : i], T0 + 10 * DAY);
    fx_writer_close(&wst, &wc);
    n_hist = 0;
}

static void
build_store(void)
{
    build_store_ordered(0);
}

static void
setup(void)
{
    lh_test_store_setup();
    build_store();
}

static lh_report_req_t
week(void)
{
    lh_report_req_t r;
    lh_report_req_default(&r, LH_REPORT_DORA);
    r.from_ns = T0;
    r.until_ns = T0 + 7 * DAY;
    r.now_ns = T0 + 10 * DAY;
    return r;
}

#define run_json fx_report_json

static const json_t *
fig(const json_t *doc, size_t group, const char *name)
{
    const json_t *g = json_array_get(json_object_get(doc, "groups"), group);
    ck_assert_ptr_nonnull(g);
    const json_t *f = json_object_get(json_object_get(g, "figures"), name);
    ck_assert_msg(f != NULL, "no %s", name);
    return f;
}

static long long
ji(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_integer(v), "%s is not an integer", k);
    return (long long)json_integer_value(v);
}

static double
jr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_number(v), "%s is not a number", k);
    return json_number_value(v);
}

static const char *
js(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "(null)";
}

/* api/prod's figures, as worked out in the header */
static void
assert_api_prod(const json_t *doc, size_t g)
{
    const json_t *f = fig(doc, g, "deployment_frequency");
    ck_assert_int_eq(ji(f, "deployments"), 6);
    ck_assert_double_eq_tol(jr(f, "days"), 7.0, 1e-9);
    ck_assert_double_eq_tol(jr(f, "per_day"), 0.857, 1e-9);
    ck_assert_str_eq(js(f, "band"), "high");
    f = fig(doc, g, "lead_time");
    ck_assert_int_eq(ji(f, "n"), 5);
    ck_assert_int_eq(ji(f, "median_seconds"), 2 * 3600);
    ck_assert_int_eq(ji(f, "p90_seconds"), 25 * 3600);
    ck_assert_str_eq(js(f, "band"), "elite");
    f = fig(doc, g, "change_failure_rate");
    ck_assert_int_eq(ji(f, "failed"), 3);
    ck_assert_int_eq(ji(f, "deployments"), 6);
    ck_assert_double_eq_tol(jr(f, "rate"), 0.5, 1e-9);
    ck_assert_str_eq(js(f, "band"), "low");
    f = fig(doc, g, "recovery_time");
    ck_assert_int_eq(ji(f, "n"), 3);
    ck_assert_int_eq(ji(f, "not_recovered"), 0);
    ck_assert_int_eq(ji(f, "median_seconds"), 50 * 60);
    ck_assert_int_eq(ji(f, "p90_seconds"), 2 * 3600);
    ck_assert_str_eq(js(f, "band"), "elite");
    f = fig(doc, g, "time_to_restore");
    ck_assert_int_eq(ji(f, "n"), 2);
    ck_assert_int_eq(ji(f, "open"), 0);
    ck_assert_int_eq(ji(f, "median_seconds"), 105 * 60);
    ck_assert_int_eq(ji(f, "p90_seconds"), 2 * 3600);
    ck_assert(json_is_null(json_object_get(f, "band")));
    f = fig(doc, g, "rework_rate");
    ck_assert_int_eq(ji(f, "rework"), 2);
    ck_assert_int_eq(ji(f, "deployments"), 6);
    ck_assert_double_eq_tol(jr(f, "rate"), 0.3333, 1e-9);
}

START_TEST(figures_of_one_service)
{
    lh_report_req_t r = week();
    r.service = "api";
    r.environment = "prod";
    json_t *doc = run_json(&r);
    ck_assert_str_eq(js(doc, "report"), "dora");
    ck_assert_str_eq(js(doc, "bands"), "DORA, Accelerate State of DevOps Report 2024");
    ck_assert_int_eq(json_array_size(json_object_get(doc, "groups")), 1);
    assert_api_prod(doc, 0);
    json_decref(doc);
}
END_TEST

START_TEST(by_service_and_label)
{
    lh_report_req_t r = week();
    r.environment = "prod";
    r.by = "service";
    json_t *doc = run_json(&r);
    const json_t *groups = json_object_get(doc, "groups");
    ck_assert_int_eq(json_array_size(groups), 2);
    ck_assert_str_eq(js(json_array_get(groups, 0), "group"), "api");
    assert_api_prod(doc, 0);
    ck_assert_str_eq(js(json_array_get(groups, 1), "group"), "web");
    ck_assert_int_eq(ji(fig(doc, 1, "deployment_frequency"), "deployments"), 1);
    ck_assert_int_eq(ji(fig(doc, 1, "lead_time"), "median_seconds"), 2 * 3600);
    ck_assert_int_eq(ji(fig(doc, 1, "change_failure_rate"), "failed"), 0);
    ck_assert_str_eq(js(fig(doc, 1, "change_failure_rate"), "band"), "elite");
    json_decref(doc);
    r.by = "label:team";
    doc = run_json(&r);
    groups = json_object_get(doc, "groups");
    ck_assert_int_eq(json_array_size(groups), 2);
    ck_assert_str_eq(js(json_array_get(groups, 0), "group"), "payments");
    assert_api_prod(doc, 0);
    ck_assert_str_eq(js(json_array_get(groups, 1), "group"), "web");
    json_decref(doc);
}
END_TEST

START_TEST(every_environment_together)
{
    /* S-1 in staging and W-1 join: 8 deployments; INC-S counts for time to restore (30m) and
     * makes S-1 a failure, recovered when INC-S was resolved */
    lh_report_req_t r = week();
    json_t *doc = run_json(&r);
    ck_assert_int_eq(ji(fig(doc, 0, "deployment_frequency"), "deployments"), 8);
    ck_assert_int_eq(ji(fig(doc, 0, "change_failure_rate"), "failed"), 4);
    ck_assert_int_eq(ji(fig(doc, 0, "time_to_restore"), "n"), 3);
    ck_assert_int_eq(ji(fig(doc, 0, "time_to_restore"), "median_seconds"), 90 * 60);
    ck_assert_int_eq(ji(fig(doc, 0, "recovery_time"), "n"), 4);
    json_decref(doc);
    /* incidents from warning count: INC-3 makes A-6 a failure too, recovered at its resolution */
    r = week();
    r.service = "api";
    r.environment = "prod";
    r.min_severity = LH_SEV_WARNING;
    doc = run_json(&r);
    ck_assert_int_eq(ji(fig(doc, 0, "change_failure_rate"), "failed"), 4);
    ck_assert_int_eq(ji(fig(doc, 0, "time_to_restore"), "n"), 3);
    ck_assert_int_eq(ji(fig(doc, 0, "recovery_time"), "n"), 4);
    json_decref(doc);
}
END_TEST

START_TEST(trend_per_day)
{
    lh_report_req_t r = week();
    r.service = "api";
    r.environment = "prod";
    r.every = LH_REPORT_EVERY_DAY;
    json_t *doc = run_json(&r);
    const json_t *trend =
        json_object_get(json_array_get(json_object_get(doc, "groups"), 0), "trend");
    /* seven days and the last instant of the period (until is inclusive) */
    ck_assert_int_eq(json_array_size(trend), 8);
    static const int deps[] = {1, 2, 2, 0, 0, 1, 0, 0};
    for (size_t i = 0; i < 8; i++) {
        const json_t *f = json_object_get(json_array_get(trend, i), "figures");
        ck_assert_msg(ji(json_object_get(f, "deployment_frequency"), "deployments") == deps[i],
                      "day %zu", i);
    }
    const json_t *d1 = json_array_get(trend, 1);
    ck_assert_str_eq(js(d1, "from"), "2025-11-25T00:00:00Z");
    const json_t *f1 = json_object_get(d1, "figures");
    ck_assert_double_eq_tol(jr(json_object_get(f1, "change_failure_rate"), "rate"), 0.5, 1e-9);
    ck_assert_double_eq_tol(jr(json_object_get(f1, "rework_rate"), "rate"), 0.5, 1e-9);
    ck_assert_int_eq(ji(json_object_get(f1, "time_to_restore"), "n"), 2);
    json_decref(doc);
    r.every = LH_REPORT_EVERY_WEEK;
    doc = run_json(&r);
    trend = json_object_get(json_array_get(json_object_get(doc, "groups"), 0), "trend");
    ck_assert_int_eq(json_array_size(trend), 2);
    ck_assert_str_eq(js(json_array_get(trend, 0), "from"), "2025-11-24T00:00:00Z");
    ck_assert_int_eq(ji(json_object_get(json_object_get(json_array_get(trend, 0), "figures"),
                                        "deployment_frequency"),
                        "deployments"),
                     6);
    json_decref(doc);
}
END_TEST

START_TEST(empty_period)
{
    lh_report_req_t r = week();
    r.from_ns = T0 + 20 * DAY;
    r.until_ns = T0 + 21 * DAY;
    json_t *doc = run_json(&r);
    ck_assert_int_eq(ji(fig(doc, 0, "deployment_frequency"), "deployments"), 0);
    ck_assert(json_is_null(json_object_get(fig(doc, 0, "lead_time"), "median_seconds")));
    ck_assert(json_is_null(json_object_get(fig(doc, 0, "change_failure_rate"), "rate")));
    ck_assert(json_is_null(json_object_get(fig(doc, 0, "change_failure_rate"), "band")));
    json_decref(doc);
}
END_TEST

START_TEST(cli_text_and_errors)
{
    const char *a[] = {"dora",
                       "--db",
                       lh_test_fx.db,
                       "--since",
                       "2025-11-24T00:00:00Z",
                       "--until",
                       "2025-12-01T00:00:00Z",
                       "--service",
                       "api",
                       "--env",
                       "prod",
                       "--every",
                       "day",
                       NULL};
    fx_cli_t c = fx_cli(lh_cli_dora, a);
    ck_assert_msg(c.code == 0, "exit %d: %s", c.code, c.err);
    ck_assert_msg(strstr(c.out, "  deployment frequency             0.86/day                "
                                "6 deployments in 7.0 days         high\n"),
                  "%s", c.out);
    ck_assert_msg(strstr(c.out, "  change lead time (median)        2h (p90 1d1h)"), "%s", c.out);
    ck_assert_msg(strstr(c.out, "  change failure rate              50.0%                   "
                                "3 of 6 failed                     low\n"),
                  "%s", c.out);
    ck_assert_msg(strstr(c.out, "  failed deployment recovery time  50m (p90 2h)"), "%s", c.out);
    ck_assert_msg(strstr(c.out, "  incident time to restore         1h45m (p90 2h)"), "%s", c.out);
    ck_assert_msg(strstr(c.out, "  rework rate                      33.3%"), "%s", c.out);
    ck_assert_msg(strstr(c.out, "  2025-11-25         2     2.00 "), "%s", c.out);
    for (const char *l = c.out; *l;) {
        const char *e = strchr(l, '\n');
        ck_assert_msg(e && e - l <= 100, "line too wide: %.*s", (int)(e ? e - l : 10), l);
        l = e + 1;
    }
    fx_cli_free(&c);
    static const struct {
        const char *args[4];
        const char *err;
    } bad[] = {
        {{"dora", "--by", "team", NULL}, "--by: 'team' is not service, service+env or label:NAME"},
        {{"dora", "--by", "label:", NULL}, "--by: 'label:' is not service"},
        {{"dora", "--every", "month", NULL}, "--every: 'month' is neither day nor week"},
        {{"dora", "--min-severity", "bad", NULL}, "--min-severity"},
        {{"dora", "--actor", "x", NULL}, "--actor: not a parameter of dora"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c = fx_cli(lh_cli_dora, bad[i].args);
        ck_assert_msg(c.code == 2, "%s: exit %d", bad[i].args[1], c.code);
        ck_assert_msg(strstr(c.err, bad[i].err), "%s: %s", bad[i].args[1], c.err);
        fx_cli_free(&c);
    }
}
END_TEST

/* Removes lh_test_fx.db and its WAL: the next writer starts an empty store. */
static void
drop_store(void)
{
    char p[1100];
    unlink(lh_test_fx.db);
    snprintf(p, sizeof(p), "%s-wal", lh_test_fx.db);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", lh_test_fx.db);
    unlink(p);
}

/* The requests the two tests below compare: every figure, by service and by label, a trend,
 * incidents from warning on. */
static void
requests(lh_report_req_t *r, size_t n)
{
    ck_assert_uint_eq(n, 4);
    for (size_t i = 0; i < n; i++)
        r[i] = week();
    r[1].by = "service+env";
    r[2].by = "label:team";
    r[2].every = LH_REPORT_EVERY_DAY;
    r[3].service = "api";
    r[3].environment = "prod";
    r[3].min_severity = LH_SEV_WARNING;
}

/* The facts a report reads are kept at ingest (the `changes` row of each change, an incident's
 * highest severity): the same history stored newest first, every event late, gives the same
 * figures as stored in time order. */
START_TEST(arrival_order_same_figures)
{
    lh_report_req_t r[4];
    requests(r, 4);
    json_t *in_order[4];
    for (size_t i = 0; i < 4; i++)
        in_order[i] = run_json(&r[i]);
    ck_assert_int_eq(ji(fig(in_order[3], 0, "change_failure_rate"), "failed"), 4); /* + INC-3 */
    drop_store();
    build_store_ordered(1);
    for (size_t i = 0; i < 4; i++) {
        json_t *rev = run_json(&r[i]);
        char *a = json_dumps(in_order[i], JSON_SORT_KEYS), *b = json_dumps(rev, JSON_SORT_KEYS);
        ck_assert_msg(json_equal(in_order[i], rev), "request %zu:\n in order %s\n reversed %s", i,
                      a, b);
        free(a);
        free(b);
        json_decref(rev);
        json_decref(in_order[i]);
    }
}
END_TEST

/* An incident detected before the period, blamed on a change from before it, still makes a fix
 * deployed in the period rework: from 1d2h45m, INC-1 (1d2h30m, blamed on A-2 of 1d1h) is open
 * when A-3 starts (1d2h50m). api/prod then has; rework A-3 and A-5 (rolled
 * back): 2 of 4. The suspect's service is read from its change's events. */
START_TEST(rework_by_an_incident_before_the_period)
{
    lh_report_req_t r = week();
    r.from_ns = T0 + DAY + 165 * MIN;
    r.service = "api";
    r.environment = "prod";
    json_t *doc = run_json(&r);
    ck_assert_int_eq(ji(fig(doc, 0, "deployment_frequency"), "deployments"), 4);
    ck_assert_int_eq(ji(fig(doc, 0, "rework_rate"), "rework"), 2);
    json_decref(doc);
}
END_TEST

/* The good deploy that ends a failure is the first of another change after it broke, wherever
 * it comes from: a change that started before the period (its deploy is inside it), or the
 * second success of a change redeployed (the rows keep each change's first only). Times from
 * T0, the period T0 .. T0 + 1d:
 *   pay/prod  F-1 started -2h, succeeded 3h (before the period: not counted, but its deploy is)
 *             B-1 started 1h, failed 1h10m: recovered at 3h by F-1 (1h50m), not at 4h by B-2
 *             B-2 started 3h30m, succeeded 4h
 *   api/prod  A-1 started 1h, succeeded 1h5m, succeeded again 5h
 *             A-2 started 2h, failed 2h5m: recovered at 5h by A-1 (2h55m), not at 6h by A-3
 *             A-3 started 5h30m, succeeded 6h
 * and, the period ending at 2h30m, A-2 recovered at 5h all the same. */
START_TEST(recovery_by_any_good_deploy)
{
    drop_store();
    fx_writer_open(&wst, &wc, NULL);
    static const struct {
        const char *id, *did, *svc;
        lh_deploy_status_t st;
        int64_t t;
    } ev[] = {
        {"f1a", "F-1", "pay", LH_DEPLOY_STARTED, -2 * HOUR},
        {"b1a", "B-1", "pay", LH_DEPLOY_STARTED, HOUR},
        {"b1b", "B-1", "pay", LH_DEPLOY_FAILED, HOUR + 10 * MIN},
        {"f1b", "F-1", "pay", LH_DEPLOY_SUCCEEDED, 3 * HOUR},
        {"b2a", "B-2", "pay", LH_DEPLOY_STARTED, 3 * HOUR + 30 * MIN},
        {"b2b", "B-2", "pay", LH_DEPLOY_SUCCEEDED, 4 * HOUR},
        {"a1a", "A-1", "api", LH_DEPLOY_STARTED, HOUR},
        {"a1b", "A-1", "api", LH_DEPLOY_SUCCEEDED, HOUR + 5 * MIN},
        {"a2a", "A-2", "api", LH_DEPLOY_STARTED, 2 * HOUR},
        {"a2b", "A-2", "api", LH_DEPLOY_FAILED, 2 * HOUR + 5 * MIN},
        {"a1c", "A-1", "api", LH_DEPLOY_SUCCEEDED, 5 * HOUR},
        {"a3a", "A-3", "api", LH_DEPLOY_STARTED, 5 * HOUR + 30 * MIN},
        {"a3b", "A-3", "api", LH_DEPLOY_SUCCEEDED, 6 * HOUR},
    };
    for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++)
        fx_put(wst, wc,
               fx_deploy(ev[i].id, ev[i].did, ev[i].st, T0 + ev[i].t, ev[i].svc, "prod", "v", NULL,
                         "dev"),
               T0 + 2 * DAY);
    fx_writer_close(&wst, &wc);
    /* the last: a period that ends before A-2 recovered, whose good deploy is then looked for
     * after it (the store holds events after the period) */
    static const struct {
        const char *svc;
        int64_t until;
        long long deployments, failed, recovery;
    } want[] = {
        {"pay", DAY, 2, 1, 110 * 60},
        {"api", DAY, 3, 1, 175 * 60},
        {"api", 2 * HOUR + 30 * MIN, 2, 1, 175 * 60},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        lh_report_req_t r;
        lh_report_req_default(&r, LH_REPORT_DORA);
        r.from_ns = T0;
        r.until_ns = T0 + want[i].until;
        r.now_ns = T0 + 2 * DAY;
        r.service = want[i].svc;
        r.environment = "prod";
        json_t *doc = run_json(&r);
        ck_assert_int_eq(ji(fig(doc, 0, "deployment_frequency"), "deployments"),
                         want[i].deployments);
        ck_assert_int_eq(ji(fig(doc, 0, "change_failure_rate"), "failed"), want[i].failed);
        ck_assert_int_eq(ji(fig(doc, 0, "recovery_time"), "n"), 1);
        ck_assert_msg(ji(fig(doc, 0, "recovery_time"), "median_seconds") == want[i].recovery,
                      "%s: recovered after %lld s", want[i].svc,
                      ji(fig(doc, 0, "recovery_time"), "median_seconds"));
        json_decref(doc);
    }
}
END_TEST

/* The good deploys of a service in reverse order of their changes' starts (C-k started at k
 * minutes, succeeded at 200 - k): C-0, failed at 30 s, recovers at the earliest of them, C-20's
 * at 180 min (179.5 minutes later), however far from time order the rows come. */
START_TEST(recovery_by_goods_out_of_order)
{
    drop_store();
    fx_writer_open(&wst, &wc, NULL);
    char id[32], did[16];
    fx_put(wst, wc, fx_deploy("c0a", "C-0", LH_DEPLOY_STARTED, T0, "api", "prod", "v", NULL, "dev"),
           T0 + DAY);
    fx_put(wst, wc,
           fx_deploy("c0b", "C-0", LH_DEPLOY_FAILED, T0 + 30 * LH_NS_PER_SEC, "api", "prod", "v",
                     NULL, "dev"),
           T0 + DAY);
    for (int k = 1; k <= 20; k++) {
        snprintf(did, sizeof(did), "C-%d", k);
        snprintf(id, sizeof(id), "c%da", k);
        fx_put(wst, wc,
               fx_deploy(id, did, LH_DEPLOY_STARTED, T0 + k * MIN, "api", "prod", "v", NULL, "dev"),
               T0 + DAY);
        snprintf(id, sizeof(id), "c%db", k);
        fx_put(wst, wc,
               fx_deploy(id, did, LH_DEPLOY_SUCCEEDED, T0 + (200 - k) * MIN, "api", "prod", "v",
                         NULL, "dev"),
               T0 + DAY);
    }
    fx_writer_close(&wst, &wc);
    lh_report_req_t r;
    lh_report_req_default(&r, LH_REPORT_DORA);
    r.from_ns = T0;
    r.until_ns = T0 + 12 * HOUR;
    r.now_ns = T0 + DAY;
    json_t *doc = run_json(&r);
    ck_assert_int_eq(ji(fig(doc, 0, "deployment_frequency"), "deployments"), 21);
    ck_assert_int_eq(ji(fig(doc, 0, "recovery_time"), "n"), 1);
    ck_assert_int_eq(ji(fig(doc, 0, "recovery_time"), "median_seconds"), 179 * 60 + 30);
    json_decref(doc);
}
END_TEST

/* A store the release before wrote (schema 7, tests/data/store/v7.sql: make_store.sh with
 * LH_DORA_FACTS=1) migrates to the facts of schema 8, filled from its events: its figures are
 * those that release reported from the same file (v7-dora.json, v7-dora-label.json: its `loophub
 * dora --format json`, see tests/data/store/README.md). */
START_TEST(migrated_v7_store_same_figures)
{
    drop_store();
    lh_test_load_store_dump(lh_test_fx.db, "v7.sql");
    lh_store_t *st = NULL;
    lh_store_opts_t so;
    lh_store_opts_default(&so);
    ck_assert_int_eq(lh_store_open(lh_test_fx.db, &so, &st), 0);
    lh_store_close(&st);
    static const struct {
        const char *file, *by;
        lh_report_every_t every;
        int min_severity;
    } want[] = {
        {"v7-dora.json", NULL, LH_REPORT_EVERY_NONE, 0},
        {"v7-dora-label.json", "label:team", LH_REPORT_EVERY_DAY, LH_SEV_WARNING},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        lh_report_req_t r;
        lh_report_req_default(&r, LH_REPORT_DORA);
        r.from_ns = 1767916800LL * LH_NS_PER_SEC; /* 2026-01-09T00:00:00Z */
        r.until_ns = r.from_ns + 3 * DAY;
        r.by = want[i].by;
        r.every = want[i].every;
        if (want[i].min_severity)
            r.min_severity = want[i].min_severity;
        char path[1024];
        snprintf(path, sizeof(path), "%s/store/%s", LH_TEST_DATA, want[i].file);
        json_error_t e;
        json_t *old = json_load_file(path, 0, &e);
        ck_assert_msg(old != NULL, "%s: %s", path, e.text);
        json_t *now = run_json(&r);
        char *a = json_dumps(old, JSON_SORT_KEYS), *b = json_dumps(now, JSON_SORT_KEYS);
        ck_assert_msg(json_equal(old, now), "%s:\n release before %s\n this one %s", want[i].file,
                      a, b);
        free(a);
        free(b);
        json_decref(old);
        json_decref(now);
    }
}
END_TEST

/* The next of Marsaglia's xorshift32 numbers: the larger histories' choices. */
static uint32_t
xorshift(uint32_t x)
{
    x ^= x << 13;
    x ^= x >> 17;
    return x ^ x << 5;
}

/* Change D-k of the larger histories, by x's bits: it starts at k * 9 min (and up to 5 min
 * more), then succeeded, failed or rolled back, some redeployed; with a label team or a host
 * (either NULL). Returns its start. */
static int64_t
put_change(int k, uint32_t x, const char *svc, const char *env, const char *team, const char *host,
           int64_t end)
{
    char id[64], did[32];
    snprintf(did, sizeof(did), "D-%d", k);
    int64_t t = T0 + k * 9 * MIN + (x >> 9) % 300 * LH_NS_PER_SEC;
    lh_deploy_status_t end_st = (x >> 12) % 10 == 0   ? LH_DEPLOY_FAILED
                                : (x >> 12) % 10 == 1 ? LH_DEPLOY_ROLLED_BACK
                                                      : LH_DEPLOY_SUCCEEDED;
    const lh_deploy_status_t steps[] = {LH_DEPLOY_STARTED, end_st, LH_DEPLOY_SUCCEEDED};
    int n = (x >> 16) % 9 == 0 && end_st == LH_DEPLOY_SUCCEEDED ? 3 : 2; /* redeployed */
    const char *hosts[] = {host, NULL};
    for (int s = 0; s < n; s++) {
        snprintf(id, sizeof(id), "%s-%d", did, s);
        lh_event_t *ev = fx_deploy(id, did, steps[s], t + s * 4 * MIN, svc, env, "v", NULL, "dev");
        ev->deploy.commit_time_ns = t - (int64_t)((x >> 20) % 90) * MIN;
        if (team)
            ck_assert_int_eq(lh_event_add_label(ev, "team", 4, team, strlen(team)), 0);
        if (host)
            fx_hosts(ev, hosts);
        fx_put(wst, wc, ev, end);
    }
    return t;
}

/* Incident iid of the larger histories: detected 6 minutes after t, resolved 50 minutes later
 * unless it stays open; on a host (NULL: none). */
static void
put_incident(const char *iid, int64_t t, const char *svc, const char *env, lh_severity_t sev,
             int open, const char *host, int64_t end)
{
    char id[64];
    const char *hosts[] = {host, NULL};
    for (int s = 0; s < (open ? 1 : 2); s++) {
        snprintf(id, sizeof(id), "%s-%d", iid, s);
        lh_event_t *ev = fx_event(id, LH_KIND_INCIDENT, t + (6 + s * 50) * MIN, svc, env);
        ev->incident.incident_id = FX_S(ev, iid);
        ev->incident.state = s ? LH_INCIDENT_RESOLVED : LH_INCIDENT_DETECTED;
        ev->incident.severity = sev;
        if (host)
            fx_hosts(ev, hosts);
        fx_put(wst, wc, ev, end);
    }
}

/* A larger history for the two ways of reading a period: 12 services in two environments,
 * 900 changes over 6 days (succeeded, failed, rolled back, some redeployed), an incident after
 * every 7th, most resolved, at three severities. */
static void
build_many(void)
{
    fx_writer_open(&wst, &wc, NULL);
    uint32_t x = 2463534242u;
    char svc[16], iid[32], team[16];
    const int64_t end = T0 + 8 * DAY;
    for (int k = 0; k < 900; k++) {
        x = xorshift(x);
        const char *env = (x >> 3) % 2 ? "prod" : "staging";
        snprintf(svc, sizeof(svc), "svc-%u", (x >> 5) % 12);
        snprintf(team, sizeof(team), "team-%u", (x >> 5) % 12 % 4);
        int64_t t = put_change(k, x, svc, env, team, NULL, end);
        if (k % 7 == 3) {
            const lh_severity_t sev[] = {LH_SEV_WARNING, LH_SEV_ERROR, LH_SEV_CRITICAL};
            snprintf(iid, sizeof(iid), "INC-%d", k);
            put_incident(iid, t, svc, env, sev[(x >> 26) % 3], (x >> 24) % 5 == 0, NULL, end);
        }
    }
    fx_writer_close(&wst, &wc);
}

/* `dora` reads a long period on two threads, sharing the changes in chunks of time (the thread
 * takes what it gets to first): the figures are the same as read on one thread, whichever
 * chunks each took, for every request of requests() and for one that starts mid-history. */
START_TEST(two_threads_same_figures)
{
    drop_store();
    build_many();
    lh_report_req_t r[5];
    requests(r, 4);
    for (size_t i = 0; i < 4; i++)
        r[i].until_ns = T0 + 8 * DAY;
    r[3].service = "svc-3";
    r[4] = r[2];
    r[4].from_ns = T0 + 2 * DAY + 7 * HOUR;
    for (size_t i = 0; i < 5; i++) {
        json_t *one = fx_report_threads(&r[i], i);
        const json_t *groups = json_object_get(one, "groups");
        ck_assert_int_gt(json_array_size(groups), i == 1 || i == 2 ? 3 : 0);
        const json_t *f = fig(one, json_array_size(groups) - 1, "change_failure_rate");
        ck_assert_msg(ji(f, "deployments") > 20 && ji(f, "failed") > 2, "request %zu", i);
        json_decref(one);
    }
}
END_TEST

/* lh__query_report_groups() (the DORA gauges of /metrics) hands over each group of the
 * document, in its order and the same, one at a time; a callback's error ends the report with
 * it; another report than dora is refused. */
typedef struct {
    json_t *seen;
    int fail_at; /* the callback's error at this group (1 first), 0: never */
} groups_seen_t;

static int
keep_group(const json_t *e, void *arg)
{
    groups_seen_t *g = arg;
    json_array_append_new(g->seen, json_deep_copy(e));
    return g->fail_at && json_array_size(g->seen) == (size_t)g->fail_at ? LH_ENOMEM : 0;
}

START_TEST(groups_one_at_a_time)
{
    lh_report_req_t r = week();
    r.by = "service+env";
    json_t *doc = run_json(&r);
    const json_t *groups = json_object_get(doc, "groups");
    ck_assert_int_ge(json_array_size(groups), 2);
    lh_store_opts_t so;
    lh_store_opts_default(&so);
    so.readonly = 1;
    lh_store_t *st = NULL;
    ck_assert_int_eq(lh_store_open(lh_test_fx.db, &so, &st), 0);
    groups_seen_t g = {json_array(), 0};
    ck_assert_int_eq(lh__query_report_groups(st, &r, keep_group, &g), 0);
    ck_assert_msg(json_equal(g.seen, groups), "the groups handed over differ from the document's");
    json_array_clear(g.seen);
    g.fail_at = 1;
    ck_assert_int_eq(lh__query_report_groups(st, &r, keep_group, &g), LH_ENOMEM);
    ck_assert_int_eq(json_array_size(g.seen), 1); /* none after the error */
    lh_report_req_t a;
    lh_report_req_default(&a, LH_REPORT_AUDIT);
    ck_assert_int_eq(lh__query_report_groups(st, &a, keep_group, &g), LH_EINVAL);
    ck_assert_int_eq(lh__query_report_groups(st, &r, NULL, &g), LH_EINVAL);
    lh_store_close(&st);
    json_decref(g.seen);
    json_decref(doc);
}
END_TEST

/* A history over twelve environments (more than LH_DORA_ENV_PASSES), among them none (NULL;
 * the empty one is stored as none, the canonical protobuf has no empty string): 10 services deploy
 * 1,200 changes over 8 days on 5 shared hosts; an incident follows every 5th, on a host of the
 * change, in the change's service or in "ops", which never deploys (so that its top suspect is
 * another service's change); every 40th change an incident in "qa", where nothing deploys. */
static const char *const ENVS[] = {"prod", "staging", "dev", NULL,  "",    "e-0",
                                   "e-1",  "e-2",     "e-3", "e-4", "e-5", "e-6"}; /* "": none */

static void
build_envs(void)
{
    fx_writer_open(&wst, &wc, NULL);
    uint32_t x = 88172645u;
    char svc[16], iid[32], host[16];
    const int64_t end = T0 + 8 * DAY;
    for (int k = 0; k < 1200; k++) {
        x = xorshift(x);
        const char *env = ENVS[(x >> 3) % 12];
        snprintf(svc, sizeof(svc), "svc-%u", (x >> 7) % 10);
        snprintf(host, sizeof(host), "h-%u", (x >> 11) % 5);
        int64_t t = put_change(k, x, svc, env, NULL, host, end);
        for (int q = 0; q < 2; q++) {
            if (q ? k % 40 != 7 : k % 5 != 3)
                continue;
            const lh_severity_t sev[] = {LH_SEV_WARNING, LH_SEV_ERROR, LH_SEV_CRITICAL};
            snprintf(iid, sizeof(iid), "INC-%d-%d", k, q);
            put_incident(iid, t, q || (x >> 27) % 3 == 0 ? "ops" : svc, q ? "qa" : env,
                         sev[(x >> 29) % 3], (x >> 24) % 5 == 0, host, end);
        }
    }
    fx_writer_close(&wst, &wc);
}

static int
cmp_entry(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp(js(x, "service"), js(y, "service"));
    const char *ex = json_string_value(json_object_get(x, "environment")),
               *ey = json_string_value(json_object_get(y, "environment"));
    return c ? c : strcmp(ex ? ex : "", ey ? ey : "");
}

/* The groups of r as the DORA gauges read them, sorted by service and environment. */
static json_t *
groups_sorted(const lh_report_req_t *r, int by_env)
{
    lh_store_opts_t so;
    lh_store_opts_default(&so);
    so.readonly = 1;
    lh_store_t *st = NULL;
    ck_assert_int_eq(lh_store_open(lh_test_fx.db, &so, &st), 0);
    groups_seen_t g = {json_array(), 0};
    ck_assert_int_eq(by_env ? lh__query_report_groups_by_env(st, r, keep_group, &g)
                            : lh__query_report_groups(st, r, keep_group, &g),
                     0);
    lh_store_close(&st);
    size_t n = json_array_size(g.seen);
    json_t **v = malloc((n + 1) * sizeof(*v)), *out = json_array();
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(g.seen, i);
    qsort(v, n, sizeof(*v), cmp_entry);
    for (size_t i = 0; i < n; i++)
        json_array_append(out, v[i]);
    free(v);
    json_decref(g.seen);
    return out;
}

static long long
sql_count(const char *sql)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(lh_test_fx.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    long long n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

/* The DORA gauges read the period one environment at a time (the memory of the largest
 * environment's changes, not of all): every group and figure is what one report over every
 * environment gives, for the whole history, a period that starts mid-history (incidents from
 * the week before it make rework) and a lower severity; and the gauges' text is the same. */
START_TEST(groups_by_environment_same)
{
    drop_store();
    build_envs();
    /* what the history must hold for the comparison to mean something */
    ck_assert_int_gt(sql_count("SELECT count(*) FROM outcomes o JOIN changes c"
                               " ON c.deploy_id = o.top WHERE o.kind = 3 AND o.service = 'ops'"),
                     10); /* incidents blamed on another service's change */
    ck_assert_int_gt(sql_count("SELECT count(*) FROM changes WHERE env_key = 'n'"), 20);
    lh_report_req_t r[3];
    for (size_t i = 0; i < 3; i++) {
        lh_report_req_default(&r[i], LH_REPORT_DORA);
        r[i].by = "service+env";
        r[i].from_ns = T0;
        r[i].until_ns = T0 + 8 * DAY;
        r[i].now_ns = T0 + 8 * DAY;
    }
    r[1].from_ns = T0 + 2 * DAY + 7 * HOUR;
    r[2].min_severity = LH_SEV_WARNING;
    for (size_t i = 0; i < 3; i++) {
        json_t *one = groups_sorted(&r[i], 0), *by_env = groups_sorted(&r[i], 1);
        /* 10 services and ops, 11 environments (NULL and "" one), qa for ops */
        ck_assert_int_gt(json_array_size(one), 60);
        int merged = 0, qa = 0;
        for (size_t k = 0; k < json_array_size(one); k++) {
            const json_t *e = json_array_get(one, k);
            const char *env = json_string_value(json_object_get(e, "environment"));
            merged += env && !*env;
            qa += env && !strcmp(env, "qa");
        }
        ck_assert_int_ge(merged, 5);
        ck_assert_int_eq(qa, 1);
        char *a = json_dumps(one, JSON_SORT_KEYS), *b = json_dumps(by_env, JSON_SORT_KEYS);
        ck_assert_msg(json_equal(one, by_env),
                      "request %zu:\n at once %.2000s\n by environment %.2000s", i, a, b);
        free(a);
        free(b);
        json_decref(one);
        json_decref(by_env);
    }
    lh_report_req_t bad = r[0];
    bad.environment = "prod"; /* a pass is of every environment's groups only */
    lh_store_opts_t so;
    lh_store_opts_default(&so);
    so.readonly = 1;
    lh_store_t *st = NULL;
    ck_assert_int_eq(lh_store_open(lh_test_fx.db, &so, &st), 0);
    groups_seen_t g = {json_array(), 0};
    ck_assert_int_eq(lh__query_report_groups_by_env(st, &bad, keep_group, &g), LH_EINVAL);
    bad = r[0];
    bad.by = "service";
    ck_assert_int_eq(lh__query_report_groups_by_env(st, &bad, keep_group, &g), LH_EINVAL);
    /* the gauges' text: the same, in the same order, as from the report at once */
    lh_buf_t t1 = LH_BUF_INIT, t2 = LH_BUF_INIT;
    lh__hub_test_dora_whole(1);
    ck_assert_int_eq(lh__hub_dora_text(st, 8 * DAY, T0 + 8 * DAY, &t1), 0);
    lh__hub_test_dora_whole(0);
    ck_assert_int_eq(lh__hub_dora_text(st, 8 * DAY, T0 + 8 * DAY, &t2), 0);
    ck_assert_uint_gt(t1.len, 1000);
    ck_assert_ptr_nonnull(memmem(t2.data, t2.len, "environment=\"\"}", 15));
    ck_assert_msg(t1.len == t2.len && !memcmp(t1.data, t2.data, t1.len),
                  "the gauges differ:\n%.*s\n---\n%.*s", (int)t1.len, t1.data, (int)t2.len,
                  t2.data);
    lh_buf_free(&t1);
    lh_buf_free(&t2);
    lh_store_close(&st);
    json_decref(g.seen);
}
END_TEST

static Suite *
dora_suite(void)
{
    Suite *s = suite_create("dora");
    const lh_test_case_t tests[] = {
        {"one_service", figures_of_one_service, 0, 0},
        {"by_service_and_label", by_service_and_label, 0, 0},
        {"every_environment", every_environment_together, 0, 0},
        {"trend", trend_per_day, 0, 0},
        {"empty", empty_period, 0, 0},
        {"cli", cli_text_and_errors, 0, 0},
        {"arrival_order", arrival_order_same_figures, 0, 0},
        {"recovery_by_any_good", recovery_by_any_good_deploy, 0, 0},
        {"recovery_out_of_order", recovery_by_goods_out_of_order, 0, 0},
        {"rework_before_period", rework_by_an_incident_before_the_period, 0, 0},
        {"migrated_v7_store", migrated_v7_store_same_figures, 0, 0},
        {"two_threads", two_threads_same_figures, 0, 0},
        {"groups_one_at_a_time", groups_one_at_a_time, 0, 0},
        {"groups_by_environment", groups_by_environment_same, 0, 0},
    };
    lh_test_add_cases(s, tests, LH_TEST_COUNT(tests), 30, setup, lh_test_store_teardown);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(dora_suite());
}
