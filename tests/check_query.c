/*
 * check_query.c - the postmortem timeline against a real store: events encoded with the real
 * protobuf codec, stored with the real store, correlated by the real correlator (so the
 * correlations and alerts tables are what a hub writes), then queried read-only in JSON (parsed
 * back with jansson) and text, plus `loophub timeline` itself for its exit codes and messages.
 *
 * The fixture (T0 = 2025-11-26T10:00:00Z, window 2h):
 *   api/prod  D-0 succeeded at T0-3h                   -> healthy (window closed, no outcome)
 *             D-1 started T0, succeeded T0+1m          -> suspect (top suspect of INC-1)
 *             alert a-1 HighErrorRate firing error T0+3m
 *             INC-1 detected T0+5m, resolved T0+47m (ticket INC-T1)
 *             tickets CHG-7 (change, approved, links D-1), INC-T1 (incident, links INC-1)
 *   web/prod  D-3 failed at T0                         -> failed
 *             D-4 started T0+10m, rolled_back T0+20m   -> rolled_back
 *   db/prod   D-5 succeeded T0+100m                    -> pending at T0+110m, healthy later
 *   late/prod INC-2 detected T0+30m stored first, then D-7 at T0+20m (late data)
 *   two/prod  D-8 at T0, D-9 at T0+4m, INC-3 at T0+5m: two suspects, one on top
 */
#include <check.h>
#include <fcntl.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "correlator.h"
#include "loophub/error.h"
#include "loophub/event.h"
#include "loophub/format.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"
#include "query.h"
#include "query_internal.h"
#include "query_sql.h"
#include "store.h"
#include "storefix.h"
#include "testutil.h"

/* lh_cli_timeline() comes from the lh_cli library, the same code the binary runs. */
#include "cli.h"

#define T0 (1764151200LL * LH_NS_PER_SEC)
#define MIN (60LL * LH_NS_PER_SEC)

/* --- building the store ----------------------------------------------------------------------- */

#define S FX_S

static lh_event_t *
deploy(const char *id, const char *did, lh_deploy_status_t st, int64_t t, const char *svc,
       const char *ver, const char *prev, const char *actor)
{
    return fx_deploy(id, did, st, t, svc, "prod", ver, prev, actor);
}

static lh_event_t *
incident(const char *id, const char *iid, lh_incident_state_t st, int64_t t, const char *svc)
{
    lh_event_t *ev = fx_event(id, LH_KIND_INCIDENT, t, svc, "prod");
    ev->incident.incident_id = S(ev, iid);
    ev->incident.state = st;
    ev->incident.severity = LH_SEV_CRITICAL;
    ev->incident.title = S(ev, "5xx spike");
    return ev;
}

#define ticket(...) fx_ticket(__VA_ARGS__)

/* Stores ev (consumed) and correlates it, as the hub's pipeline does, late in the fixture's day. */
static void
put(lh_store_t *st, lh_correlator_t *c, lh_event_t *ev)
{
    fx_put(st, c, ev, T0 + 200 * MIN);
}

static void
build_store(void)
{
    lh_store_t *st = NULL;
    lh_correlator_t *c = NULL;
    lh_correlator_opts_t co;
    lh_correlator_opts_default(&co);
    int rc = lh_store_open(lh_test_fx.db, NULL, &st);
    ck_assert_msg(rc == 0, "open: %s; log: %s", lh_strerror(rc), lh_test_fx.log);
    ck_assert_int_eq(lh_correlator_new(st, &co, &c), 0);
    ck_assert_int_eq(lh_store_begin(st), 0);

    put(st, c,
        deploy("d-0", "D-0", LH_DEPLOY_SUCCEEDED, T0 - 180 * MIN, "api", "1.4.1", "1.4.0",
               "carol"));
    lh_event_t *d1 = deploy("d-1a", "D-1", LH_DEPLOY_STARTED, T0, "api", "1.4.2", "1.4.1", "alice");
    d1->deploy.change_ticket = S(d1, "CHG-7");
    d1->deploy.commit = S(d1, "9f3c2ab");
    d1->deploy.commit_time_ns = T0 - 40 * MIN;
    d1->deploy.artifact = S(d1, "registry/api:1.4.2");
    ck_assert_int_eq(lh_event_add_host(d1, "api-1", 5), 0);
    ck_assert_int_eq(lh_event_add_label(d1, "ci_run", 6, "https://ci.example/run/77", 25), 0);
    put(st, c, d1);
    lh_event_t *d1b =
        deploy("d-1b", "D-1", LH_DEPLOY_SUCCEEDED, T0 + MIN, "api", "1.4.2", "1.4.1", "alice");
    ck_assert_int_eq(lh_event_add_host(d1b, "api-1", 5), 0);
    ck_assert_int_eq(lh_event_add_host(d1b, "api-2", 5), 0);
    put(st, c, d1b);
    lh_event_t *a = fx_event("a-1", LH_KIND_ALERT, T0 + 3 * MIN, "api", "prod");
    a->alert.name = S(a, "HighErrorRate");
    a->alert.state = LH_ALERT_FIRING;
    a->alert.severity = LH_SEV_ERROR;
    put(st, c, a);
    lh_event_t *i1 = incident("i-1", "INC-1", LH_INCIDENT_DETECTED, T0 + 5 * MIN, "api");
    i1->incident.ticket = S(i1, "INC-T1");
    put(st, c, i1);
    put(st, c, incident("i-1r", "INC-1", LH_INCIDENT_RESOLVED, T0 + 47 * MIN, "api"));
    put(st, c, ticket("t-1", "CHG-7", LH_TICKET_CHANGE, LH_TICKET_APPROVED, T0 - 30 * MIN, "D-1"));
    put(st, c,
        ticket("t-2", "INC-T1", LH_TICKET_INCIDENT, LH_TICKET_CREATED, T0 + 6 * MIN, "INC-1"));

    put(st, c, deploy("d-3", "D-3", LH_DEPLOY_FAILED, T0, "web", "2.0", "1.9", "dave"));
    put(st, c, deploy("d-4a", "D-4", LH_DEPLOY_STARTED, T0 + 10 * MIN, "web", "2.1", "2.0", "eve"));
    put(st, c,
        deploy("d-4b", "D-4", LH_DEPLOY_ROLLED_BACK, T0 + 20 * MIN, "web", "2.1", "2.0", "eve"));
    put(st, c, deploy("d-5", "D-5", LH_DEPLOY_SUCCEEDED, T0 + 100 * MIN, "db", "9", "8", "frank"));

    put(st, c, incident("i-2", "INC-2", LH_INCIDENT_DETECTED, T0 + 30 * MIN, "late"));
    put(st, c, deploy("d-7", "D-7", LH_DEPLOY_SUCCEEDED, T0 + 20 * MIN, "late", "3", "2", "gina"));

    put(st, c, deploy("d-8", "D-8", LH_DEPLOY_SUCCEEDED, T0, "two", "5", "4", "hal"));
    put(st, c, deploy("d-9", "D-9", LH_DEPLOY_SUCCEEDED, T0 + 4 * MIN, "two", "7", "6", "ida"));
    put(st, c, incident("i-3", "INC-3", LH_INCIDENT_DETECTED, T0 + 5 * MIN, "two"));
    lh_event_t *t9 = ticket("t-9a", "CHG-9", LH_TICKET_CHANGE, LH_TICKET_APPROVED, T0, "D-9");
    t9->ticket.url = S(t9, "https://tickets.example/CHG-9");
    put(st, c, t9);
    put(st, c, ticket("t-9b", "CHG-9", LH_TICKET_CHANGE, LH_TICKET_REJECTED, T0 + MIN, "D-9"));

    /* rev/prod: INC-R detected, updated twice, resolved: one correlated alert, revised */
    put(st, c, deploy("d-r", "D-R", LH_DEPLOY_SUCCEEDED, T0, "rev", "7", "6", "rita"));
    put(st, c, incident("i-r1", "INC-R", LH_INCIDENT_DETECTED, T0 + 5 * MIN, "rev"));
    put(st, c, incident("i-r2", "INC-R", LH_INCIDENT_REPORTED, T0 + 6 * MIN, "rev"));
    lh_event_t *ir3 = incident("i-r3", "INC-R", LH_INCIDENT_REPORTED, T0 + 7 * MIN, "rev");
    ir3->incident.title = S(ir3, "5xx spike, checkout down");
    put(st, c, ir3);
    put(st, c, incident("i-r4", "INC-R", LH_INCIDENT_RESOLVED, T0 + 20 * MIN, "rev"));

    /* tix/prod: an incident naming a ticket no ticket event is */
    lh_event_t *i4 = incident("i-4", "INC-4", LH_INCIDENT_DETECTED, T0, "tix");
    i4->incident.ticket = S(i4, "INC-T4");
    put(st, c, i4);

    /* hst/prod: INC-5 on host h-1; alerts of another service on h-1 (in the window, and
     * before it), on h-9, and one of hst itself after INC-5 was resolved */
    lh_event_t *i5 = incident("i-5", "INC-5", LH_INCIDENT_DETECTED, T0 + 5 * MIN, "hst");
    ck_assert_int_eq(lh_event_add_host(i5, "h-1", 3), 0);
    put(st, c, i5);
    put(st, c, incident("i-5r", "INC-5", LH_INCIDENT_RESOLVED, T0 + 30 * MIN, "hst"));
    const struct {
        const char *id, *svc, *host;
        int64_t t;
    } al[] = {
        {"am-h1", "other", "h-1", T0 + 2 * MIN},  {"am-h1-old", "other", "h-1", T0 - 180 * MIN},
        {"am-h9", "other", "h-9", T0 + 2 * MIN},  {"am-svc", "hst", NULL, T0 + 10 * MIN},
        {"am-after", "hst", NULL, T0 + 40 * MIN},
    };
    for (size_t i = 0; i < sizeof(al) / sizeof(al[0]); i++) {
        lh_event_t *x = fx_event(al[i].id, LH_KIND_ALERT, al[i].t, al[i].svc, "prod");
        x->alert.name = S(x, al[i].id);
        x->alert.state = LH_ALERT_FIRING;
        x->alert.severity = LH_SEV_ERROR;
        if (al[i].host)
            ck_assert_int_eq(lh_event_add_host(x, al[i].host, strlen(al[i].host)), 0);
        put(st, c, x);
    }

    fx_writer_close(&st, &c);
}

static void
setup(void)
{
    lh_test_store_setup();
    build_store();
}

static lh_store_t *
open_ro(void)
{
    lh_store_opts_t o;
    lh_store_opts_default(&o);
    o.readonly = 1;
    lh_store_t *st = NULL;
    int rc = lh_store_open(lh_test_fx.db, &o, &st);
    ck_assert_msg(rc == 0, "open read-only: %s; log: %s", lh_strerror(rc), lh_test_fx.log);
    return st;
}

/* Runs a query; returns its code and the output (malloc'd, NUL-terminated) in *out. */
static int
run(const lh_timeline_req_t *req, lh_query_format_t fmt, char **out)
{
    lh_store_t *st = open_ro();
    lh_buf_t b = LH_BUF_INIT;
    int rc = lh_query_timeline(st, req, fmt, &b);
    lh_store_close(&st);
    *out = strndup(b.data ? (const char *)b.data : "", b.len);
    lh_buf_free(&b);
    return rc;
}

static json_t *
run_json(const lh_timeline_req_t *req)
{
    char *s = NULL;
    int rc = run(req, LH_QUERY_JSON, &s);
    ck_assert_msg(rc == 0, "query: %s; log: %s", lh_strerror(rc), lh_test_fx.log);
    json_error_t err;
    json_t *doc = json_loads(s, 0, &err);
    ck_assert_msg(doc != NULL, "not JSON (%s at %d): %s", err.text, err.position, s);
    free(s);
    return doc;
}

static const char *
jget_str(const json_t *o, const char *path)
{
    return json_string_value(json_object_get(o, path));
}

static char *
fmt_time(int64_t ns)
{
    static char b[64];
    ck_assert_int_gt(lh_time_format(ns, b, sizeof(b)), 0);
    return b;
}

static lh_timeline_req_t
req_incident(const char *id)
{
    lh_timeline_req_t r;
    lh_timeline_req_default(&r);
    r.mode = LH_TIMELINE_INCIDENT;
    r.incident_id = id;
    return r;
}

static lh_timeline_req_t
req_deploy(const char *id, int64_t now)
{
    lh_timeline_req_t r;
    lh_timeline_req_default(&r);
    r.mode = LH_TIMELINE_DEPLOY;
    r.deploy_id = id;
    r.now_ns = now;
    return r;
}

static lh_timeline_req_t
req_service(const char *svc, int64_t now, int64_t since)
{
    lh_timeline_req_t r;
    lh_timeline_req_default(&r);
    r.mode = LH_TIMELINE_SERVICE;
    r.service = svc;
    r.environment = "prod";
    r.now_ns = now;
    r.since_ns = since;
    return r;
}

/* --- incident ------------------------------------------------------------------------------- */

START_TEST(incident_json)
{
    lh_timeline_req_t r = req_incident("INC-1");
    json_t *d = run_json(&r);
    ck_assert_str_eq(jget_str(d, "query"), "incident");
    ck_assert_str_eq(jget_str(d, "incident_id"), "INC-1");
    ck_assert_str_eq(jget_str(d, "service"), "api");
    ck_assert_str_eq(jget_str(d, "severity"), "critical");

    json_t *ev = json_object_get(d, "events");
    ck_assert_int_eq(json_array_size(ev), 2);
    ck_assert_str_eq(jget_str(json_array_get(ev, 0), "id"), "i-1");
    ck_assert_str_eq(jget_str(json_array_get(ev, 1), "id"), "i-1r");
    ck_assert_str_eq(jget_str(json_object_get(json_array_get(ev, 1), "incident"), "state"),
                     "resolved");
    ck_assert_int_eq(json_integer_value(json_object_get(d, "total")), 2);
    ck_assert(json_is_false(json_object_get(d, "truncated")));

    ck_assert_str_eq(jget_str(d, "resolved"), fmt_time(T0 + 47 * MIN));
    ck_assert_int_eq(json_integer_value(json_object_get(d, "time_to_resolve_seconds")), 42 * 60);

    json_t *sus = json_object_get(d, "suspects");
    ck_assert_int_eq(json_array_size(sus), 1); /* D-0 is outside the window, web is elsewhere */
    json_t *s0 = json_array_get(sus, 0);
    ck_assert_str_eq(jget_str(s0, "deploy_id"), "D-1");
    ck_assert_str_eq(jget_str(s0, "version"), "1.4.2");
    ck_assert_str_eq(jget_str(s0, "previous_version"), "1.4.1");
    ck_assert_str_eq(jget_str(s0, "actor"), "alice");
    ck_assert_str_eq(jget_str(s0, "status"), "succeeded");
    ck_assert_int_eq(json_integer_value(json_object_get(s0, "rank")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(s0, "lead_seconds")), 5 * 60);
    ck_assert(json_real_value(json_object_get(s0, "score")) > 0.0);
    ck_assert(json_is_false(json_object_get(s0, "late")));
    ck_assert_int_gt(json_array_size(json_object_get(s0, "reasons")), 0);
    ck_assert_ptr_nonnull(json_string_value(json_array_get(json_object_get(s0, "reasons"), 0)));

    json_t *al = json_object_get(d, "alerts");
    ck_assert_int_ge(json_array_size(al), 1);
    ck_assert_int_gt(json_integer_value(json_object_get(json_array_get(al, 0), "seq")), 0);
    ck_assert_ptr_nonnull(jget_str(json_array_get(al, 0), "id"));
    /* a-1 fired first with the same suspect: INC-1 joined its correlated alert */
    ck_assert_str_eq(jget_str(json_array_get(al, 0), "kind"), "deploy_preceded_alert");

    json_t *tk = json_object_get(d, "tickets");
    ck_assert_int_eq(json_array_size(tk), 1);
    ck_assert_str_eq(jget_str(json_object_get(json_array_get(tk, 0), "ticket"), "ticket_id"),
                     "INC-T1");
    json_decref(d);
}
END_TEST

START_TEST(incident_text_names_suspect_and_reasons)
{
    lh_timeline_req_t r = req_incident("INC-1");
    json_t *d = run_json(&r);
    const char *reason = json_string_value(json_array_get(
        json_object_get(json_array_get(json_object_get(d, "suspects"), 0), "reasons"), 0));
    ck_assert_ptr_nonnull(reason);
    char *text = NULL;
    ck_assert_int_eq(run(&r, LH_QUERY_TEXT, &text), 0);
    ck_assert_msg(strstr(text, "D-1") && strstr(text, "1.4.2 <- 1.4.1 by alice"), "%s", text);
    ck_assert_msg(strstr(text, reason), "reason '%s' missing: %s", reason, text);
    ck_assert_msg(strstr(text, "roll back to 1.4.1"), "%s", text);
    ck_assert_msg(strstr(text, "(time to restore 42m)"), "%s", text);
    ck_assert_msg(strstr(text, fmt_time(T0 + 5 * MIN)), "%s", text);
    ck_assert_msg(strstr(text, "INC-T1"), "%s", text);
    ck_assert(text[strlen(text) - 1] == '\n');
    free(text);
    json_decref(d);
}
END_TEST

/* Markdown for a postmortem: a summary, the suspects with their reasons, a table of the events
 * (one row each, a | in a string escaped so the table holds). */
START_TEST(incident_markdown)
{
    lh_timeline_req_t r = req_incident("INC-1");
    json_t *d = run_json(&r);
    size_t n_events = json_array_size(json_object_get(d, "events"));
    json_decref(d);
    char *md = NULL;
    ck_assert_int_eq(run(&r, LH_QUERY_MD, &md), 0);
    ck_assert_msg(strstr(md, "## Incident INC-1 on api/prod\n\n**Summary.** 5xx spike, critical;"),
                  "%s", md);
    ck_assert_msg(strstr(md, "(time to restore 42m)"), "%s", md);
    ck_assert_msg(strstr(md, "Rollback target: **1.4.1**."), "%s", md);
    ck_assert_msg(strstr(md, "### Suspects\n\n1. **D-1** api 1.4.1 -> 1.4.2 by alice"), "%s", md);
    ck_assert_msg(strstr(md, "   - same service and environment"), "%s", md);
    ck_assert_msg(strstr(md, "   - ticket CHG-7: approved"), "%s", md);
    const char *t = strstr(md, "| time (UTC) | kind | id | what |\n|---|---|---|---|\n");
    ck_assert_msg(t, "%s", md);
    size_t rows = 0;
    for (const char *p = strchr(t, '\n') + 1; (p = strstr(p, "\n| ")); p++)
        rows++;
    ck_assert_uint_eq(rows, n_events);
    free(md);
}
END_TEST

/* A standalone page: no navigation of the hub's page, the drawing, every string escaped. */
START_TEST(html_standalone)
{
    lh_timeline_req_t r = req_service("api", T0 + 200 * MIN, 0);
    r.since_ns = 0;
    r.from_ns = T0 - 240 * MIN;
    char *h = NULL;
    ck_assert_int_eq(run(&r, LH_QUERY_HTML, &h), 0);
    ck_assert_msg(!strncmp(h, "<!DOCTYPE html>", 15), "%s", h);
    ck_assert_msg(!strstr(h, "<header>") && !strstr(h, "<form"), "%s", h);
    ck_assert_msg(strstr(h, "class=\"change-marker\" data-deploy=\"D-1\" data-class=\"suspect\""),
                  "%s", h);
    ck_assert_msg(strstr(h, "class=\"change-marker\" data-deploy=\"D-0\" data-class=\"healthy\""),
                  "%s", h);
    ck_assert_msg(strstr(h, "class=\"suspect-link\" data-deploy=\"D-1\""), "%s", h);
    ck_assert_msg(strstr(h, "class=\"outcome-span incident\""), "%s", h);
    ck_assert_msg(strstr(h, "</html>\n"), "%s", h);
    free(h);
    r = req_incident("INC-1");
    ck_assert_int_eq(run(&r, LH_QUERY_HTML, &h), 0);
    ck_assert_msg(strstr(h, "Roll back to <b class=\"rollback\">1.4.1</b>"), "%s", h);
    ck_assert_msg(strstr(h, "class=\"suspect-row\""), "%s", h);
    ck_assert_msg(!strstr(h, "href=\"/change"), "a standalone page links no hub page: %s", h);
    free(h);
}
END_TEST

/* Colour only when asked (the CLI asks for a terminal): the same words either way. */
START_TEST(text_colour_only_when_asked)
{
    lh_timeline_req_t r = req_incident("INC-1");
    char *plain = NULL, *col = NULL;
    ck_assert_int_eq(run(&r, LH_QUERY_TEXT, &plain), 0);
    ck_assert_msg(!strchr(plain, '\033'), "%s", plain);
    r.color = 1;
    ck_assert_int_eq(run(&r, LH_QUERY_TEXT, &col), 0);
    ck_assert_msg(strstr(col, "\033[1mincident INC-1"), "%s", col);
    ck_assert_msg(strstr(col, "roll back to \033[1;32m1.4.1\033[0m"), "%s", col);
    /* without the escapes it is the plain text */
    char *w = col;
    for (const char *p = col; *p; p++) {
        if (*p == '\033') {
            while (*p && *p != 'm')
                p++;
            continue;
        }
        *w++ = *p;
    }
    *w = 0;
    ck_assert_str_eq(col, plain);
    free(plain);
    free(col);
}
END_TEST

/* Text keeps to 100 columns: a longer line goes on, indented, on the next (reasons, revisions). */
START_TEST(text_fits_100_columns)
{
    lh_timeline_req_t rs[4];
    rs[0] = req_incident("INC-1");
    rs[1] = req_incident("INC-R");
    rs[2] = req_deploy("D-1", T0 + 300 * MIN);
    rs[3] = req_service("api", T0 + 200 * MIN, 24 * 60 * MIN);
    for (size_t i = 0; i < 4; i++) {
        char *t = NULL;
        ck_assert_int_eq(run(&rs[i], LH_QUERY_TEXT, &t), 0);
        for (const char *l = t; *l;) {
            const char *e = strchr(l, '\n');
            ck_assert_msg(e, "no newline at the end: %s", t);
            ck_assert_msg(e - l <= 100, "query %zu: a line of %d columns: %.*s", i, (int)(e - l),
                          (int)(e - l), l);
            l = e + 1;
        }
        free(t);
    }
    /* the wrap itself: a long line is cut at a space and goes on indented */
    lh_buf_t b = LH_BUF_INIT;
    const char *line = "  - one two three four five six seven eight nine ten eleven twelve\n";
    ck_assert_int_eq(lh_buf_append(&b, "keep\n", 5), 0);
    ck_assert_int_eq(lh_buf_append(&b, line, strlen(line)), 0);
    ck_assert_int_eq(lh__q_text_fit(&b, 5, 30), 0);
    ck_assert_str_eq((const char *)b.data, "keep\n"
                                           "  - one two three four five\n"
                                           "      six seven eight nine ten\n"
                                           "      eleven twelve\n");
    lh_buf_free(&b);
}
END_TEST

/* The stores of two hubs read as one: B holds copies of D-1's events (the changes topic feeds
 * every hub) and events of its own. Events are counted once; a subject only one store knows
 * comes from that store. */
static void
build_second_store(char *path, size_t len)
{
    snprintf(path, len, "%s/b.db", lh_test_fx.dir);
    lh_store_t *st = NULL;
    lh_correlator_t *c = NULL;
    ck_assert_int_eq(lh_store_open(path, NULL, &st), 0);
    ck_assert_int_eq(lh_correlator_new(st, NULL, &c), 0);
    ck_assert_int_eq(lh_store_begin(st), 0);
    put(st, c, deploy("d-1a", "D-1", LH_DEPLOY_STARTED, T0, "api", "1.4.2", "1.4.1", "alice"));
    put(st, c,
        deploy("d-1b", "D-1", LH_DEPLOY_SUCCEEDED, T0 + MIN, "api", "1.4.2", "1.4.1", "alice"));
    lh_event_t *a = fx_event("b-alert", LH_KIND_ALERT, T0 + 4 * MIN, "api", "prod");
    a->alert.name = S(a, "LatencyHigh");
    a->alert.state = LH_ALERT_FIRING;
    a->alert.severity = LH_SEV_WARNING;
    put(st, c, a);
    put(st, c, deploy("b-d", "B-1", LH_DEPLOY_SUCCEEDED, T0, "bsvc", "2", "1", "bea"));
    put(st, c, incident("b-i", "INC-B", LH_INCIDENT_DETECTED, T0 + 5 * MIN, "bsvc"));
    fx_writer_close(&st, &c);
}

static int
run_two(const char *b, const lh_timeline_req_t *r, lh_query_format_t fmt, char **out)
{
    lh_store_t *st[2] = {open_ro(), NULL};
    lh_store_opts_t o;
    lh_store_opts_default(&o);
    o.readonly = 1;
    ck_assert_int_eq(lh_store_open(b, &o, &st[1]), 0);
    lh_buf_t buf = LH_BUF_INIT;
    int rc = lh_query_timeline_stores(st, 2, r, fmt, &buf);
    lh_store_close(&st[0]);
    lh_store_close(&st[1]);
    *out = strndup(buf.data ? (const char *)buf.data : "", buf.len);
    lh_buf_free(&buf);
    return rc;
}

static json_t *
two_json(const char *b, const lh_timeline_req_t *r)
{
    char *s = NULL;
    int rc = run_two(b, r, LH_QUERY_JSON, &s);
    ck_assert_msg(rc == 0, "two stores: %s; log: %s", lh_strerror(rc), lh_test_fx.log);
    json_t *d = json_loads(s, 0, NULL);
    ck_assert_ptr_nonnull(d);
    free(s);
    return d;
}

START_TEST(several_stores_read_as_one)
{
    char b[700];
    build_second_store(b, sizeof(b));
    /* api/prod: A's events, B's own alert once, D-1's two events once */
    lh_timeline_req_t r = req_service("api", T0 + 200 * MIN, 24 * 60 * MIN);
    json_t *one = run_json(&r), *two = two_json(b, &r);
    size_t n1 = json_array_size(json_object_get(one, "events"));
    const json_t *ev = json_object_get(two, "events");
    ck_assert_uint_eq(json_array_size(ev), n1 + 1);
    ck_assert_int_eq(json_integer_value(json_object_get(two, "total")), (json_int_t)n1 + 1);
    ck_assert_int_eq(json_integer_value(json_object_get(two, "stores")), 2);
    int d1 = 0, balert = 0;
    for (size_t i = 0; i < json_array_size(ev); i++) {
        const char *id = jget_str(json_array_get(ev, i), "id");
        d1 += !strcmp(id, "d-1a") || !strcmp(id, "d-1b");
        balert += !strcmp(id, "b-alert");
        if (i) /* in time order */
            ck_assert_str_le(jget_str(json_array_get(ev, i - 1), "time"),
                             jget_str(json_array_get(ev, i), "time"));
    }
    ck_assert_int_eq(d1, 2);
    ck_assert_int_eq(balert, 1);
    json_decref(one);
    json_decref(two);
    /* INC-1 is A's; INC-B is B's: each comes whole from the store that knows it */
    r = req_incident("INC-1");
    one = run_json(&r);
    two = two_json(b, &r);
    ck_assert_str_eq(jget_str(json_array_get(json_object_get(two, "suspects"), 0), "deploy_id"),
                     "D-1");
    ck_assert_uint_eq(json_array_size(json_object_get(two, "suspects")),
                      json_array_size(json_object_get(one, "suspects")));
    json_t *se = json_object_get(json_array_get(json_object_get(two, "suspects"), 0), "events");
    ck_assert_uint_eq(json_array_size(se), 2); /* D-1's events, not four */
    json_decref(one);
    json_decref(two);
    r = req_incident("INC-B");
    two = two_json(b, &r);
    ck_assert_str_eq(jget_str(two, "service"), "bsvc");
    ck_assert_str_eq(jget_str(json_array_get(json_object_get(two, "suspects"), 0), "deploy_id"),
                     "B-1");
    json_decref(two);
    /* D-1 is in both: its events once; B alone would call it healthy (no outcome there), A
     * knows it is the suspect of INC-1: the worst class wins, whichever store comes first */
    r = req_deploy("D-1", T0 + 300 * MIN);
    two = two_json(b, &r);
    ck_assert_uint_eq(json_array_size(json_object_get(two, "events")), 2);
    ck_assert_str_eq(jget_str(two, "class"), "suspect");
    json_decref(two);
    {
        lh_store_opts_t o;
        lh_store_opts_default(&o);
        o.readonly = 1;
        lh_store_t *st[2] = {NULL, open_ro()};
        ck_assert_int_eq(lh_store_open(b, &o, &st[0]), 0);
        lh_buf_t buf = LH_BUF_INIT;
        ck_assert_int_eq(lh_query_timeline_stores(st, 2, &r, LH_QUERY_JSON, &buf), 0);
        ck_assert_msg(strstr((const char *)buf.data, "\"class\":\"suspect\""), "%s",
                      (const char *)buf.data);
        lh_buf_free(&buf);
        lh_store_close(&st[0]);
        lh_store_close(&st[1]);
    }
    /* an id neither knows */
    r = req_incident("INC-404");
    char *out = NULL;
    ck_assert_int_eq(run_two(b, &r, LH_QUERY_JSON, &out), LH_ENOTFOUND);
    free(out);
    /* text through the command, --db twice */
    const char *a[] = {"timeline", "--incident", "INC-B", "--db", lh_test_fx.db, "--db", b, NULL};
    fx_cli_t c = fx_cli(lh_cli_timeline, a);
    ck_assert_msg(c.code == 0 && strstr(c.out, "incident INC-B") && strstr(c.out, "B-1"), "%s %s",
                  c.out, c.err);
    fx_cli_free(&c);
    const char *n[] = {"timeline", "--incident", "INC-404", "--db", lh_test_fx.db, "--db", b, NULL};
    c = fx_cli(lh_cli_timeline, n);
    ck_assert_int_eq(c.code, 1);
    ck_assert_msg(strstr(c.err, " + "), "the stores named: %s", c.err);
    fx_cli_free(&c);
}
END_TEST

START_TEST(incident_tells_the_whole_story)
{
    /* each suspect with its change events, details and tickets; the other alerts in the window;
     * the alerts as published with their revision */
    lh_timeline_req_t r = req_incident("INC-1");
    json_t *d = run_json(&r);
    json_t *s0 = json_array_get(json_object_get(d, "suspects"), 0);
    ck_assert_str_eq(jget_str(s0, "deploy_id"), "D-1");
    json_t *ev = json_object_get(s0, "events");
    ck_assert_int_eq(json_array_size(ev), 2);
    ck_assert_str_eq(jget_str(json_object_get(json_array_get(ev, 0), "deploy"), "status"),
                     "started");
    ck_assert_str_eq(jget_str(json_object_get(json_array_get(ev, 1), "deploy"), "status"),
                     "succeeded");
    ck_assert_str_eq(jget_str(s0, "commit"), "9f3c2ab");
    ck_assert_str_eq(jget_str(s0, "commit_time"), fmt_time(T0 - 40 * MIN));
    ck_assert_str_eq(jget_str(s0, "artifact"), "registry/api:1.4.2");
    ck_assert_str_eq(jget_str(s0, "actor"), "alice");
    ck_assert_int_eq(json_array_size(json_object_get(s0, "hosts")), 2);
    ck_assert_str_eq(jget_str(json_object_get(s0, "labels"), "ci_run"),
                     "https://ci.example/run/77");
    json_t *tk = json_object_get(s0, "tickets");
    ck_assert_int_eq(json_array_size(tk), 1);
    ck_assert_str_eq(jget_str(json_array_get(tk, 0), "ticket_id"), "CHG-7");
    ck_assert_str_eq(jget_str(json_array_get(tk, 0), "approval"), "approved");

    json_t *oth = json_object_get(d, "other_alerts");
    ck_assert_int_eq(json_array_size(oth), 1);
    ck_assert_str_eq(jget_str(json_array_get(oth, 0), "id"), "a-1");

    json_t *al = json_object_get(d, "alerts");
    ck_assert_int_ge(json_array_size(al), 2); /* a-1's alert, revised when INC-1 joined it */
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(al, 0), "revision")), 1);
    ck_assert_str_eq(jget_str(json_array_get(al, 0), "top"), "D-1");
    ck_assert_str_eq(jget_str(json_array_get(al, 0), "rollback_version"), "1.4.1");
    ck_assert_int_eq(json_integer_value(json_object_get(d, "time_to_restore_seconds")), 42 * 60);
    json_decref(d);

    char *text = NULL;
    ck_assert_int_eq(run(&r, LH_QUERY_TEXT, &text), 0);
    ck_assert_msg(strstr(text, "       change events (2)\n"), "%s", text);
    ck_assert_msg(strstr(text, "d-1a  D-1 started 1.4.2 <- 1.4.1 by alice"), "%s", text);
    ck_assert_msg(strstr(text, "       hosts          api-1 api-2\n"), "%s", text);
    ck_assert_msg(strstr(text, "       labels         ci_run=https://ci.example/run/77\n"), "%s",
                  text);
    ck_assert_msg(strstr(text, "         CHG-7 (change)  approved\n"), "%s", text);
    ck_assert_msg(strstr(text, "other alerts on api/prod and its hosts (1)"), "%s", text);
    ck_assert_msg(strstr(text, "a-1  HighErrorRate firing error"), "%s", text);
    ck_assert_msg(strstr(text, "  ticket    INC-T1\n"), "%s", text);
    free(text);
}
END_TEST

START_TEST(suspect_ticket_approval)
{
    /* D-9's ticket was approved, then rejected: the latest decision stands; D-8 has none */
    lh_timeline_req_t r = req_incident("INC-3");
    json_t *d = run_json(&r);
    json_t *sus = json_object_get(d, "suspects");
    ck_assert_int_eq(json_array_size(sus), 2);
    int saw = 0;
    for (size_t i = 0; i < 2; i++) {
        json_t *o = json_array_get(sus, i);
        json_t *tk = json_object_get(o, "tickets");
        if (!strcmp(jget_str(o, "deploy_id"), "D-9")) {
            saw = 1;
            ck_assert_int_eq(json_array_size(tk), 1);
            ck_assert_str_eq(jget_str(json_array_get(tk, 0), "approval"), "rejected");
            ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(tk, 0), "events")),
                             2);
            ck_assert_str_eq(jget_str(json_array_get(tk, 0), "url"),
                             "https://tickets.example/CHG-9");
        } else {
            ck_assert_int_eq(json_array_size(tk), 0);
        }
    }
    ck_assert(saw);
    json_decref(d);
    char *text = NULL;
    ck_assert_int_eq(run(&r, LH_QUERY_TEXT, &text), 0);
    ck_assert_msg(strstr(text, "CHG-9 (change)  rejected  https://tickets.example/CHG-9"), "%s",
                  text);
    ck_assert_msg(strstr(text, "tickets (0)  none: no ticket links this change"), "%s", text);
    free(text);
}
END_TEST

START_TEST(incident_ticket_in_text)
{
    /* INC-1 names INC-T1, stored as a ticket event; INC-4 names INC-T4, never stored: both
     * show, neither as "tickets (0)" */
    lh_timeline_req_t r = req_incident("INC-1");
    char *text = NULL;
    ck_assert_int_eq(run(&r, LH_QUERY_TEXT, &text), 0);
    ck_assert_msg(strstr(text, "\ntickets (1)\n") && strstr(text, "INC-T1 created (incident)"),
                  "%s", text);
    free(text);
    r = req_incident("INC-4");
    json_t *d = run_json(&r);
    ck_assert_str_eq(jget_str(d, "ticket"), "INC-T4");
    json_decref(d);
    ck_assert_int_eq(run(&r, LH_QUERY_TEXT, &text), 0);
    ck_assert_msg(!strstr(text, "tickets (0)"), "%s", text);
    ck_assert_msg(strstr(text, "  ticket    INC-T4\n"), "%s", text);
    ck_assert_msg(strstr(text, "\ntickets (1)\n  INC-T4  named by the incident; no event of that "
                               "ticket stored\n"),
                  "%s", text);
    free(text);
}
END_TEST

START_TEST(other_alerts_on_service_and_hosts)
{
    /* in the window before INC-5 until its resolution: am-h1 (same host, other service) and
     * am-svc (same service); not am-h1-old (before the window), am-h9 (another host),
     * am-after (after the resolution) */
    lh_timeline_req_t r = req_incident("INC-5");
    json_t *d = run_json(&r);
    json_t *oth = json_object_get(d, "other_alerts");
    ck_assert_msg(json_array_size(oth) == 2, "%s", json_dumps(oth, 0));
    ck_assert_str_eq(jget_str(json_array_get(oth, 0), "id"), "am-h1");
    ck_assert_str_eq(jget_str(json_array_get(oth, 1), "id"), "am-svc");
    ck_assert_str_eq(jget_str(d, "other_alerts_from"), fmt_time(T0 + 5 * MIN - 120 * MIN));
    ck_assert_str_eq(jget_str(d, "other_alerts_to"), fmt_time(T0 + 30 * MIN));
    json_decref(d);
    /* a wider window reaches am-h1-old */
    r.window_ns = 4 * 60 * MIN;
    d = run_json(&r);
    oth = json_object_get(d, "other_alerts");
    ck_assert_int_eq(json_array_size(oth), 3);
    ck_assert_str_eq(jget_str(json_array_get(oth, 0), "id"), "am-h1-old");
    json_decref(d);
    char *s = NULL;
    r.window_ns = -1;
    ck_assert_int_eq(run(&r, LH_QUERY_JSON, &s), LH_EINVAL);
    free(s);
    r.window_ns = 2 * 60 * MIN;
    char *text = NULL;
    ck_assert_int_eq(run(&r, LH_QUERY_TEXT, &text), 0);
    ck_assert_msg(strstr(text, "other alerts on hst/prod and its hosts (2)"), "%s", text);
    ck_assert_msg(strstr(text, "am-h1 firing error  on h-1"), "%s", text);
    free(text);
}
END_TEST

typedef fx_cli_t cli_result_t;
static cli_result_t cli(const char *const *args);
static void cli_free(cli_result_t *r);

/* --- opening an outcome by any of its ids ---------------------------------------------------- */

static void
sql_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK, "%s: %s", sql, err);
}

/* The id of the alert the correlator sent for outcome event evid (any revision). */
static char *
alert_of(sqlite3 *db, const char *evid)
{
    char sql[300];
    snprintf(sql, sizeof(sql),
             "SELECT a.id FROM alerts a JOIN correlations c ON c.alert_seq = a.seq"
             " JOIN events o ON o.seq = c.outcome_seq WHERE o.id = '%s'",
             evid);
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    ck_assert_msg(sqlite3_step(s) == SQLITE_ROW, "no alert for %s", evid);
    char *id = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return id;
}

/* The correlated alert (case) an outcome is part of, by its ref (incident id, alert name). */
static char *
case_of(const char *ref)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(lh_test_fx.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(
        sqlite3_prepare_v2(db, "SELECT case_id FROM outcomes WHERE ref = ?1", -1, &s, NULL),
        SQLITE_OK);
    sqlite3_bind_text(s, 1, ref, -1, SQLITE_STATIC);
    ck_assert_msg(sqlite3_step(s) == SQLITE_ROW, "no outcome %s", ref);
    ck_assert_msg(sqlite3_column_text(s, 0), "outcome %s has no case", ref);
    char *id = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return id;
}

/* Every revision of alert ca in d's "alerts", in order 1, 2, ...; the last resolved iff
 * resolved. Returns how many. */
static size_t
check_revisions(json_t *d, const char *ca, int resolved)
{
    json_t *al = json_object_get(d, "alerts");
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(al); i++) {
        json_t *a = json_array_get(al, i);
        ck_assert_str_eq(jget_str(a, "id"), ca);
        ck_assert_int_eq(json_integer_value(json_object_get(a, "revision")), (json_int_t)i + 1);
        int last = i + 1 == json_array_size(al);
        ck_assert_msg(json_is_true(json_object_get(a, "resolved")) == (last && resolved),
                      "revision %zu: %s", i + 1, json_dumps(al, 0));
        n++;
    }
    return n;
}

START_TEST(opened_by_any_id)
{
    /* INC-R: one correlated alert, revised until resolved; opened by its alert id, its
     * incident id, any of its events */
    char *ca = case_of("INC-R");
    const char *ids[] = {ca, "INC-R", "i-r1", "i-r3", "i-r4"};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        lh_timeline_req_t r = req_incident(ids[i]);
        json_t *d = run_json(&r);
        ck_assert_str_eq(jget_str(d, "incident_id"), "INC-R");
        ck_assert_str_eq(jget_str(d, "alert_id"), ca);
        ck_assert_int_eq(json_array_size(json_object_get(d, "events")), 4);
        ck_assert_int_eq(json_array_size(json_object_get(d, "outcomes")), 1);
        ck_assert_str_eq(jget_str(d, "resolved"), fmt_time(T0 + 20 * MIN));
        ck_assert_int_eq(json_integer_value(json_object_get(d, "time_to_restore_seconds")),
                         15 * 60);
        ck_assert_str_eq(jget_str(json_array_get(json_object_get(d, "suspects"), 0), "deploy_id"),
                         "D-R");
        ck_assert_uint_ge(check_revisions(d, ca, 1), 2);
        json_t *al = json_object_get(d, "alerts");
        json_t *last = json_array_get(al, json_array_size(al) - 1);
        ck_assert_str_eq(jget_str(last, "resolved_at"), fmt_time(T0 + 20 * MIN));
        ck_assert_int_gt(json_array_size(json_object_get(last, "changes")), 0);
        /* the resolution repeats the suspects (stored by reference): read back with them */
        ck_assert_str_eq(jget_str(last, "top"), "D-R");
        ck_assert_str_eq(json_string_value(json_array_get(json_object_get(last, "suspects"), 0)),
                         "D-R");
        json_decref(d);
    }
    lh_timeline_req_t r = req_incident(ca);
    char *text = NULL;
    ck_assert_int_eq(run(&r, LH_QUERY_TEXT, &text), 0);
    char want[200];
    snprintf(want, sizeof(want), "  alert     %s\n", ca);
    ck_assert_msg(strstr(text, want), "%s", text);
    /* the line wraps before "top" at the text's width */
    snprintf(want, sizeof(want), "%s  revision 1  deploy_preceded_incident", ca);
    ck_assert_msg(strstr(text, want) && strstr(text, "top D-R") && strstr(text, "[resolved]"), "%s",
                  text);
    ck_assert_msg(strstr(text, "(time to restore 15m)"), "%s", text);
    free(text);

    /* the CLI, by the id `loophub tail` shows */
    const char *a[] = {"timeline", "--incident", ca, "--db", lh_test_fx.db, NULL};
    cli_result_t c = cli(a);
    ck_assert_msg(c.code == 0, "exit %d: %s", c.code, c.err);
    ck_assert_msg(strstr(c.out, "incident INC-R"), "%s", c.out);
    cli_free(&c);
    free(ca);
}
END_TEST

START_TEST(alert_of_several_outcomes)
{
    /* a-1 fired with D-1 as suspect, INC-1 followed with the same suspect: one correlated
     * alert for both. Its id opens both; the incident id or an event id opens that outcome,
     * with the other beside it */
    char *ca = case_of("INC-1"), *ca2 = case_of("HighErrorRate");
    ck_assert_str_eq(ca, ca2);
    lh_timeline_req_t r = req_incident(ca);
    json_t *d = run_json(&r);
    ck_assert_str_eq(jget_str(d, "alert_id"), ca);
    ck_assert_str_eq(jget_str(d, "incident_id"), "INC-1");
    json_t *outs = json_object_get(d, "outcomes");
    ck_assert_int_eq(json_array_size(outs), 2);
    ck_assert_str_eq(jget_str(json_array_get(outs, 0), "kind"), "alert");
    ck_assert_str_eq(jget_str(json_array_get(outs, 1), "ref"), "INC-1");
    json_t *ev = json_object_get(d, "events");
    ck_assert_int_eq(json_array_size(ev), 3);
    ck_assert_str_eq(jget_str(json_array_get(ev, 0), "id"), "a-1");
    ck_assert_str_eq(jget_str(json_array_get(ev, 2), "id"), "i-1r");
    ck_assert(json_is_null(json_object_get(d, "resolved"))); /* a-1 still fires */
    ck_assert_int_eq(json_array_size(json_object_get(d, "other_alerts")), 0);
    ck_assert_uint_ge(check_revisions(d, ca, 0), 2);
    json_decref(d);

    r = req_incident("a-1");
    d = run_json(&r);
    ck_assert_str_eq(jget_str(d, "subject"), "alert");
    ck_assert_str_eq(jget_str(d, "title"), "HighErrorRate");
    ck_assert_str_eq(jget_str(d, "alert_id"), ca);
    ck_assert_int_eq(json_array_size(json_object_get(d, "events")), 1);
    outs = json_object_get(d, "outcomes");
    ck_assert_int_eq(json_array_size(outs), 2);
    ck_assert(json_is_true(json_object_get(json_array_get(outs, 0), "opened")));
    ck_assert(json_is_false(json_object_get(json_array_get(outs, 1), "opened")));
    json_decref(d);

    char *text = NULL;
    r = req_incident("INC-1");
    ck_assert_int_eq(run(&r, LH_QUERY_TEXT, &text), 0);
    ck_assert_msg(strstr(text, "outcomes (2)") && strstr(text, "INC-1 5xx spike  resolved ") &&
                      strstr(text, "(this timeline)"),
                  "%s", text);
    free(text);
    free(ca);
    free(ca2);
}
END_TEST

START_TEST(opened_by_alert_id_without_case)
{
    /* what the hub writes before outcomes and cases (and a store migrated from schema 3): the
     * alert id still opens its outcome, an incident or a monitoring alert */
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(lh_test_fx.db, &db), SQLITE_OK);
    char *inc = alert_of(db, "i-3"), *mon = alert_of(db, "a-1");
    /* as the migration to schema 4 leaves a store: incident outcomes without a case, no
     * monitoring alert outcome */
    sql_exec(db, "DELETE FROM cases; UPDATE outcomes SET case_id = NULL;"
                 " DELETE FROM outcomes WHERE kind = 2;");
    sqlite3_close(db);

    lh_timeline_req_t r = req_incident(inc);
    json_t *d = run_json(&r);
    ck_assert_str_eq(jget_str(d, "incident_id"), "INC-3");
    ck_assert_str_eq(jget_str(d, "alert_id"), inc);
    ck_assert_int_eq(json_array_size(json_object_get(d, "suspects")), 2);
    json_decref(d);

    r = req_incident(mon);
    d = run_json(&r);
    ck_assert_str_eq(jget_str(d, "subject"), "alert");
    ck_assert_str_eq(jget_str(d, "title"), "HighErrorRate");
    ck_assert(json_is_null(json_object_get(d, "incident_id")));
    ck_assert_str_eq(jget_str(json_array_get(json_object_get(d, "events"), 0), "id"), "a-1");
    ck_assert_str_eq(jget_str(json_array_get(json_object_get(d, "suspects"), 0), "deploy_id"),
                     "D-1");
    json_t *al = json_object_get(d, "alerts");
    ck_assert_int_ge(json_array_size(al), 1);
    for (size_t i = 0; i < json_array_size(al); i++)
        ck_assert_str_eq(jget_str(json_array_get(al, i), "id"), mon);
    ck_assert_str_eq(jget_str(json_array_get(al, 0), "kind"), "deploy_preceded_alert");
    json_decref(d);
    char *text = NULL;
    ck_assert_int_eq(run(&r, LH_QUERY_TEXT, &text), 0);
    ck_assert_msg(!strncmp(text, "alert HighErrorRate  error  api/prod\n", 37), "%s", text);
    free(text);

    char *s = NULL;
    r = req_incident("ca-0000000000000000");
    ck_assert_int_eq(run(&r, LH_QUERY_JSON, &s), LH_ENOTFOUND);
    ck_assert_str_eq(s, "");
    free(s);
    free(inc);
    free(mon);
}
END_TEST

START_TEST(opened_by_event_id_in_any_bucket)
{
    /* the id indexes the timeline opens an event id by lead with the event's arrival bucket
     * (seq / 262144, schema 10): an id is found in whichever bucket holds it, the buckets between
     * holding none. The fixture's events are in bucket 0; a ticket moved to seq 786432 (bucket 3)
     * puts the events stored after it in bucket 3. */
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(lh_test_fx.db, &db), SQLITE_OK);
    lh_store_t *st = NULL;
    lh_correlator_t *c = NULL;
    lh_correlator_opts_t co;
    lh_correlator_opts_default(&co);
    ck_assert_int_eq(lh_store_open(lh_test_fx.db, NULL, &st), 0);
    ck_assert_int_eq(lh_correlator_new(st, &co, &c), 0);
    ck_assert_int_eq(lh_store_begin(st), 0);
    put(st, c, ticket("t-far", "CHG-F", LH_TICKET_CHANGE, LH_TICKET_CREATED, T0, "D-F"));
    fx_writer_close(&st, &c);
    sql_exec(db, "UPDATE ticket_links SET seq = 786432 WHERE seq ="
                 " (SELECT seq FROM events WHERE id = 't-far');"
                 "UPDATE events SET seq = 786432 WHERE id = 't-far';");
    ck_assert_int_eq(lh_store_open(lh_test_fx.db, NULL, &st), 0);
    ck_assert_int_eq(lh_correlator_new(st, &co, &c), 0);
    ck_assert_int_eq(lh_store_begin(st), 0);
    put(st, c, incident("i-far", "INC-F", LH_INCIDENT_DETECTED, T0 + 8 * MIN, "api"));
    lh_event_t *a = fx_event("a-far", LH_KIND_ALERT, T0 + 4 * MIN, "api", "prod");
    a->alert.name = S(a, "LatencyHigh");
    a->alert.state = LH_ALERT_FIRING;
    a->alert.severity = LH_SEV_ERROR;
    put(st, c, a);
    fx_writer_close(&st, &c);
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT (SELECT group_concat(DISTINCT seq / 262144) FROM"
                                        " events INDEXED BY ev_incident_event WHERE kind = 3),"
                                        " (SELECT group_concat(DISTINCT event_seq / 262144) FROM"
                                        " alerts INDEXED BY al_outcome_id"
                                        " WHERE outcome_id IS NOT NULL)",
                                        -1, &q, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "0,3");
    ck_assert_str_eq((const char *)sqlite3_column_text(q, 1), "0,3");
    sqlite3_finalize(q);
    sqlite3_close(db);

    static const struct {
        const char *id, *subject, *title;
    } want[] = {
        {"i-1r", "incident", "5xx spike"},  /* bucket 0, an incident's later event */
        {"a-1", "alert", "HighErrorRate"},  /* bucket 0, the event of an alert revision */
        {"i-far", "incident", "5xx spike"}, /* bucket 3 */
        {"a-far", "alert", "LatencyHigh"},  /* bucket 3 */
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        lh_timeline_req_t r = req_incident(want[i].id);
        json_t *d = run_json(&r);
        ck_assert_msg(!strcmp(jget_str(d, "subject"), want[i].subject), "%s: subject %s",
                      want[i].id, jget_str(d, "subject"));
        ck_assert_str_eq(jget_str(d, "title"), want[i].title);
        json_t *ev = json_object_get(d, "events");
        int has = 0;
        for (size_t k = 0; k < json_array_size(ev); k++)
            has |= !strcmp(jget_str(json_array_get(ev, k), "id"), want[i].id);
        ck_assert_msg(has, "%s is not among the events of its timeline", want[i].id);
        json_decref(d);
    }
    char *out = NULL;
    lh_timeline_req_t r = req_incident("a-nowhere");
    ck_assert_int_eq(run(&r, LH_QUERY_JSON, &out), LH_ENOTFOUND);
    free(out);
}
END_TEST

START_TEST(every_lookup_uses_an_index)
{
    /* no statement of the timeline reads a whole table: each names its index in query_sql.h,
     * and SQLite's plan says it uses one (a plain "SCAN <table>" is a full scan) */
    static const struct {
        const char *name, *sql;
    } stmts[] = {
        {"LH_Q_INCIDENT_EVENTS", LH_Q_INCIDENT_EVENTS},
        {"LH_Q_TICKETS", LH_Q_TICKETS},
        {"LH_Q_DEPLOY_EVENTS", LH_Q_DEPLOY_EVENTS},
        {"LH_Q_CHANGE_EVENTS_IN_ENV", LH_Q_CHANGE_EVENTS_IN_ENV},
        {"LH_Q_DEPLOY_OUTCOMES", LH_Q_DEPLOY_OUTCOMES},
        {"LH_Q_CHANGE_FACTS", LH_Q_CHANGE_FACTS},
        {"LH_Q_CHANGE_CORRELATIONS", LH_Q_CHANGE_CORRELATIONS},
        {"LH_Q_SERVICE_EVENTS", LH_Q_SERVICE_EVENTS},
        {"LH_Q_SERVICE_EVENTS_NEWEST", LH_Q_SERVICE_EVENTS_NEWEST},
        {"LH_Q_SERVICE_ALERTS", LH_Q_SERVICE_ALERTS},
        {"LH_Q_OUTCOME_SUSPECTS", LH_Q_OUTCOME_SUSPECTS},
        {"LH_Q_CASE", LH_Q_CASE},
        {"LH_Q_CASE_OUTCOMES", LH_Q_CASE_OUTCOMES},
        {"LH_Q_INCIDENT_FIRST", LH_Q_INCIDENT_FIRST},
        {"LH_Q_OUTCOME_OF_EVENT", LH_Q_OUTCOME_OF_EVENT},
        {"LH_Q_ALERT_OUTCOME", LH_Q_ALERT_OUTCOME},
        {"LH_Q_OUTCOME", LH_Q_OUTCOME},
        {"LH_Q_OUTCOME_EVENTS", LH_Q_OUTCOME_EVENTS},
        {"LH_Q_CASE_EVENTS", LH_Q_CASE_EVENTS},
        {"LH_Q_EVENT_BY_SEQ", LH_Q_EVENT_BY_SEQ},
        {"LH_Q_SUSPECTS_OF", LH_Q_SUSPECTS_OF},
        {"LH_Q_ALERT_IDS_OF", LH_Q_ALERT_IDS_OF},
        {"LH_Q_REVISIONS", LH_Q_REVISIONS},
        {"LH_Q_WINDOW_SERVICE_ALERTS", LH_Q_WINDOW_SERVICE_ALERTS},
        {"LH_Q_WINDOW_HOST_ALERTS", LH_Q_WINDOW_HOST_ALERTS},
    };
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(lh_test_fx.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    /* the store as the hub leaves it: it never runs ANALYZE, so plans come from the schema
     * alone (statistics of this small fixture would make scans look cheap) */
    for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
        char sql[4096];
        size_t k = i;
        snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", stmts[k].sql);
        sqlite3_stmt *s = NULL;
        ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK, "%s: %s",
                      stmts[k].name, sqlite3_errmsg(db));
        while (sqlite3_step(s) == SQLITE_ROW) {
            const char *d = (const char *)sqlite3_column_text(s, 3);
            /* a scan of a subquery's or a union's own rows reads no table, nor does one of the
             * hours of a period (LH_STORE_BUCKETS) */
            int full = !strncmp(d, "SCAN ", 5) && !strstr(d, "USING") && !strstr(d, "CONSTANT") &&
                       strncmp(d, "SCAN (subquery", 14) != 0 && strcmp(d, "SCAN lh_buckets") != 0;
            ck_assert_msg(!full, "%s: %s", stmts[k].name, d);
        }
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
}
END_TEST

START_TEST(late_suspect_is_marked)
{
    lh_timeline_req_t r = req_incident("INC-2");
    json_t *d = run_json(&r);
    json_t *s0 = json_array_get(json_object_get(d, "suspects"), 0);
    ck_assert_ptr_nonnull(s0);
    ck_assert_str_eq(jget_str(s0, "deploy_id"), "D-7");
    ck_assert(json_is_true(json_object_get(s0, "late")));
    json_decref(d);
}
END_TEST

/* --- deploy --------------------------------------------------------------------------------- */

START_TEST(deploy_json)
{
    lh_timeline_req_t r = req_deploy("D-1", T0 + 200 * MIN);
    json_t *d = run_json(&r);
    ck_assert_str_eq(jget_str(d, "query"), "deploy");
    ck_assert_str_eq(jget_str(d, "class"), "suspect");
    ck_assert_str_eq(jget_str(d, "status"), "succeeded");
    ck_assert_str_eq(jget_str(d, "change_time"), fmt_time(T0));
    ck_assert_str_eq(jget_str(d, "change_ticket"), "CHG-7");
    json_t *ev = json_object_get(d, "events");
    ck_assert_int_eq(json_array_size(ev), 2);
    ck_assert_str_eq(jget_str(json_object_get(json_array_get(ev, 0), "deploy"), "status"),
                     "started");
    ck_assert_str_eq(jget_str(json_object_get(json_array_get(ev, 1), "deploy"), "status"),
                     "succeeded");

    json_t *outs = json_object_get(d, "outcomes");
    int saw_incident = 0;
    for (size_t i = 0; i < json_array_size(outs); i++) {
        json_t *o = json_array_get(outs, i);
        json_t *inc = json_object_get(json_object_get(o, "event"), "incident");
        if (inc && jget_str(inc, "incident_id") && !strcmp(jget_str(inc, "incident_id"), "INC-1")) {
            saw_incident = 1;
            ck_assert(json_is_true(json_object_get(o, "top")));
            ck_assert_int_eq(json_integer_value(json_object_get(o, "lead_seconds")), 5 * 60);
            ck_assert_int_gt(json_array_size(json_object_get(o, "reasons")), 0);
        }
    }
    ck_assert_msg(saw_incident, "INC-1 not among the outcomes of D-1");

    json_t *tk = json_object_get(d, "tickets");
    ck_assert_int_eq(json_array_size(tk), 1);
    ck_assert_str_eq(jget_str(json_object_get(json_array_get(tk, 0), "ticket"), "ticket_id"),
                     "CHG-7");
    json_decref(d);
}
END_TEST

static const char *
class_of(const char *did, int64_t now)
{
    static char cls[32];
    lh_timeline_req_t r = req_deploy(did, now);
    json_t *d = run_json(&r);
    snprintf(cls, sizeof(cls), "%s", jget_str(d, "class") ? jget_str(d, "class") : "(none)");
    json_decref(d);

    lh_store_t *st = open_ro();
    lh_change_class_t c;
    ck_assert_int_eq(lh_query_change_class(st, did, 2 * 60 * MIN, now, &c), 0);
    ck_assert_str_eq(lh_change_class_name(c), cls);
    lh_store_close(&st);
    return cls;
}

START_TEST(outcome_classes)
{
    int64_t later = T0 + 24 * 60 * MIN;
    ck_assert_str_eq(class_of("D-0", later), "healthy");
    ck_assert_str_eq(class_of("D-1", later), "suspect");
    ck_assert_str_eq(class_of("D-3", later), "failed");
    ck_assert_str_eq(class_of("D-4", later), "rolled_back");
    ck_assert_str_eq(class_of("D-5", T0 + 110 * MIN), "pending");
    ck_assert_str_eq(class_of("D-5", T0 + 221 * MIN), "healthy");
}
END_TEST

START_TEST(several_suspects_ranked)
{
    lh_timeline_req_t r = req_incident("INC-3");
    json_t *d = run_json(&r);
    json_t *sus = json_object_get(d, "suspects");
    ck_assert_int_eq(json_array_size(sus), 2);
    json_t *s0 = json_array_get(sus, 0), *s1 = json_array_get(sus, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(s0, "rank")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(s1, "rank")), 2);
    ck_assert(json_real_value(json_object_get(s0, "score")) >=
              json_real_value(json_object_get(s1, "score")));
    char top[16], other[16];
    snprintf(top, sizeof(top), "%s", jget_str(s0, "deploy_id"));
    snprintf(other, sizeof(other), "%s", jget_str(s1, "deploy_id"));
    json_decref(d);
    /* inside the window: the top suspect is "suspect"; the other has an outcome, so it is no
     * longer pending, and not being on top it is healthy */
    ck_assert_str_eq(class_of(top, T0 + 10 * MIN), "suspect");
    ck_assert_str_eq(class_of(other, T0 + 10 * MIN), "healthy");
}
END_TEST

START_TEST(deploy_text_details)
{
    /* hosts, commit, commit time, artifact and labels: in JSON and in text */
    lh_timeline_req_t r = req_deploy("D-1", T0 + 200 * MIN);
    json_t *d = run_json(&r);
    ck_assert_str_eq(jget_str(d, "commit"), "9f3c2ab");
    ck_assert_str_eq(jget_str(d, "commit_time"), fmt_time(T0 - 40 * MIN));
    ck_assert_str_eq(jget_str(d, "artifact"), "registry/api:1.4.2");
    json_t *h = json_object_get(d, "hosts");
    ck_assert_int_eq(json_array_size(h), 2);
    ck_assert_str_eq(json_string_value(json_array_get(h, 0)), "api-1");
    ck_assert_str_eq(json_string_value(json_array_get(h, 1)), "api-2");
    ck_assert_str_eq(jget_str(json_object_get(d, "labels"), "ci_run"), "https://ci.example/run/77");
    json_decref(d);

    char *text = NULL;
    ck_assert_int_eq(run(&r, LH_QUERY_TEXT, &text), 0);
    char want[200];
    snprintf(want, sizeof(want), "  commit         9f3c2ab  committed %s\n",
             fmt_time(T0 - 40 * MIN));
    ck_assert_msg(strstr(text, want), "%s", text);
    ck_assert_msg(strstr(text, "  artifact       registry/api:1.4.2\n"), "%s", text);
    ck_assert_msg(strstr(text, "  hosts          api-1 api-2\n"), "%s", text);
    ck_assert_msg(strstr(text, "  labels         ci_run=https://ci.example/run/77\n"), "%s", text);
    free(text);
}
END_TEST

/* A previous version the hub took from history is shown as such, in JSON and in text. */
START_TEST(deploy_previous_from_history)
{
    lh_store_t *st = NULL;
    lh_correlator_t *c = NULL;
    fx_writer_open(&st, &c, NULL);
    lh_event_t *h1 = deploy("h-1", "H-1", LH_DEPLOY_SUCCEEDED, T0, "hist", "3.0", "2.9", "ann");
    ck_assert_int_eq(lh_correlator_enrich(c, h1), 0);
    put(st, c, h1);
    lh_event_t *h2 =
        deploy("h-2", "H-2", LH_DEPLOY_SUCCEEDED, T0 + MIN, "hist", "3.1", NULL, "ann");
    ck_assert_int_eq(lh_correlator_enrich(c, h2), 0);
    put(st, c, h2);
    fx_writer_close(&st, &c);

    lh_timeline_req_t r = req_deploy("H-2", T0 + 200 * MIN);
    json_t *d = run_json(&r);
    ck_assert_str_eq(jget_str(d, "previous_version"), "3.0");
    ck_assert(json_is_true(json_object_get(d, "previous_version_derived")));
    json_decref(d);
    char *text = NULL;
    ck_assert_int_eq(run(&r, LH_QUERY_TEXT, &text), 0);
    ck_assert_msg(strstr(text, "3.1 <- 3.0 (from history) by ann"), "%s", text);
    free(text);
    /* one that named its previous version is not marked */
    r = req_deploy("H-1", T0 + 200 * MIN);
    ck_assert_int_eq(run(&r, LH_QUERY_TEXT, &text), 0);
    ck_assert_msg(strstr(text, "3.0 <- 2.9 by ann") && !strstr(text, "from history"), "%s", text);
    free(text);
}
END_TEST

/* A change's version, previous version, actor and commit are those of its latest event that
 * carries them, as the correlator reads it (docs/correlation.md): a re-run that succeeded with
 * another build shows that build, and a status-only update erases nothing. */
START_TEST(deploy_latest_values)
{
    lh_store_t *st = NULL;
    lh_correlator_t *c = NULL;
    fx_writer_open(&st, &c, NULL);
    lh_event_t *a = deploy("l-1", "L-1", LH_DEPLOY_STARTED, T0, "lat", "4.0", "3.9", "ann");
    a->deploy.commit = lh_event_str(a, "c0ffee0", (size_t)-1);
    put(st, c, a);
    lh_event_t *b = deploy("l-2", "L-1", LH_DEPLOY_SUCCEEDED, T0 + MIN, "lat", "4.1", NULL, "bob");
    b->deploy.commit = lh_event_str(b, "deadbee", (size_t)-1);
    put(st, c, b);
    lh_event_t *u =
        deploy("l-3", "L-1", LH_DEPLOY_SUCCEEDED, T0 + 2 * MIN, "lat", NULL, NULL, NULL);
    put(st, c, u);
    fx_writer_close(&st, &c);

    lh_timeline_req_t r = req_deploy("L-1", T0 + 200 * MIN);
    json_t *d = run_json(&r);
    ck_assert_str_eq(jget_str(d, "version"), "4.1");
    ck_assert_str_eq(jget_str(d, "previous_version"), "3.9");
    ck_assert_str_eq(jget_str(d, "actor"), "bob");
    ck_assert_str_eq(jget_str(d, "commit"), "deadbee");
    json_decref(d);
}
END_TEST

/* A suspect's change is the deploy id in the outcome's environment: the same id deployed to
 * staging later with another build does not leak into a prod incident's story. */
START_TEST(suspect_change_in_its_environment)
{
    lh_store_t *st = NULL;
    lh_correlator_t *c = NULL;
    fx_writer_open(&st, &c, NULL);
    put(st, c, deploy("e-1", "E-1", LH_DEPLOY_SUCCEEDED, T0, "envs", "5.0", "4.9", "ann"));
    lh_event_t *stg =
        deploy("e-2", "E-1", LH_DEPLOY_SUCCEEDED, T0 + MIN, "envs", "5.1-rc", NULL, "bob");
    stg->environment = S(stg, "staging");
    put(st, c, stg);
    put(st, c, incident("e-i", "INC-ENV", LH_INCIDENT_DETECTED, T0 + 5 * MIN, "envs"));
    fx_writer_close(&st, &c);

    lh_timeline_req_t r = req_incident("INC-ENV");
    json_t *d = run_json(&r);
    json_t *sus = json_object_get(d, "suspects");
    ck_assert_int_eq(json_array_size(sus), 1);
    json_t *s0 = json_array_get(sus, 0);
    ck_assert_str_eq(jget_str(s0, "deploy_id"), "E-1");
    ck_assert_str_eq(jget_str(s0, "environment"), "prod");
    ck_assert_str_eq(jget_str(s0, "version"), "5.0");
    ck_assert_str_eq(jget_str(s0, "actor"), "ann");
    json_t *evs = json_object_get(s0, "events");
    ck_assert_int_eq(json_array_size(evs), 1);
    ck_assert_str_eq(jget_str(json_array_get(evs, 0), "id"), "e-1");
    json_decref(d);

    /* --deploy E-1 names two changes: the request must say which environment */
    r = req_deploy("E-1", T0 + 300 * MIN);
    char *out = NULL;
    ck_assert_int_eq(run(&r, LH_QUERY_JSON, &out), LH_EAMBIGUOUS);
    free(out);
    r.environment = "staging";
    d = run_json(&r);
    ck_assert_str_eq(jget_str(d, "environment"), "staging");
    ck_assert_str_eq(jget_str(d, "version"), "5.1-rc");
    ck_assert_int_eq(json_array_size(json_object_get(d, "events")), 1);
    ck_assert_int_eq(json_array_size(json_object_get(d, "outcomes")), 0); /* INC-ENV is prod's */
    json_decref(d);
    r.environment = "prod";
    d = run_json(&r);
    ck_assert_str_eq(jget_str(d, "version"), "5.0");
    ck_assert_str_eq(jget_str(d, "class"), "suspect");
    ck_assert_int_eq(json_array_size(json_object_get(d, "outcomes")), 1);
    json_decref(d);
    r.environment = "dev";
    ck_assert_int_eq(run(&r, LH_QUERY_JSON, &out), LH_ENOTFOUND);
    free(out);
    const char *a[] = {"timeline", "--deploy", "E-1", "--db", lh_test_fx.db, NULL};
    cli_result_t c2 = cli(a);
    ck_assert_int_eq(c2.code, 1);
    ck_assert_msg(strstr(c2.err, "deploy E-1 ran in more than one environment: say which with "
                                 "--env"),
                  "%s", c2.err);
    cli_free(&c2);
    const char *b[] = {"timeline", "--deploy", "E-1",         "--env",
                       "staging",  "--db",     lh_test_fx.db, NULL};
    c2 = cli(b);
    ck_assert_msg(c2.code == 0 && strstr(c2.out, "5.1-rc"), "%s %s", c2.out, c2.err);
    cli_free(&c2);
}
END_TEST

START_TEST(deploy_text)
{
    lh_timeline_req_t r = req_deploy("D-4", T0 + 24 * 60 * MIN);
    char *text = NULL;
    ck_assert_int_eq(run(&r, LH_QUERY_TEXT, &text), 0);
    ck_assert_msg(strstr(text, "change D-4"), "%s", text);
    ck_assert_msg(strstr(text, "outcome class  rolled_back"), "%s", text);
    ck_assert_msg(strstr(text, "D-4 rolled_back 2.1 <- 2.0 by eve"), "%s", text);
    free(text);
}
END_TEST

/* --- service -------------------------------------------------------------------------------- */

START_TEST(service_json)
{
    lh_timeline_req_t r = req_service("api", T0 + 60 * MIN, 2 * 60 * MIN);
    json_t *d = run_json(&r);
    ck_assert_str_eq(jget_str(d, "query"), "service");
    json_t *ev = json_object_get(d, "events");
    /* d-1a, d-1b, a-1, i-1, i-1r: D-0 is before the period, tickets have no service */
    ck_assert_int_eq(json_array_size(ev), 5);
    ck_assert_int_eq(json_integer_value(json_object_get(d, "total")), 5);
    const char *want[] = {"d-1a", "d-1b", "a-1", "i-1", "i-1r"};
    for (size_t i = 0; i < 5; i++) {
        json_t *e = json_array_get(ev, i);
        ck_assert_str_eq(jget_str(e, "id"), want[i]);
        ck_assert_str_eq(jget_str(e, "service"), "api");
    }
    json_t *al = json_object_get(d, "alerts");
    ck_assert_int_ge(json_array_size(al), 1);
    int saw = 0;
    for (size_t i = 0; i < json_array_size(al); i++) {
        json_t *a = json_array_get(al, i);
        json_t *s0 = json_array_get(json_object_get(a, "suspects"), 0);
        if (!strcmp(jget_str(a, "outcome_id"), "i-1")) {
            saw = 1;
            ck_assert_str_eq(jget_str(s0, "deploy_id"), "D-1");
        }
    }
    ck_assert_msg(saw, "no alert for i-1");
    json_decref(d);

    /* another service in the same period: nothing of api */
    r = req_service("web", T0 + 60 * MIN, 2 * 60 * MIN);
    d = run_json(&r);
    ck_assert_int_eq(json_array_size(json_object_get(d, "events")), 3);
    ck_assert_int_eq(json_array_size(json_object_get(d, "alerts")), 0);
    json_decref(d);
}
END_TEST

START_TEST(service_text_lines)
{
    lh_timeline_req_t r = req_service("api", T0 + 60 * MIN, 2 * 60 * MIN);
    char *text = NULL;
    ck_assert_int_eq(run(&r, LH_QUERY_TEXT, &text), 0);
    ck_assert_msg(strstr(text, "D-1 succeeded 1.4.2 <- 1.4.1 by alice"), "%s", text);
    ck_assert_msg(strstr(text, "HighErrorRate firing error"), "%s", text);
    ck_assert_msg(strstr(text, "INC-1 detected critical 5xx spike"), "%s", text);
    ck_assert_msg(strstr(text, "correlated alerts"), "%s", text);
    ck_assert_ptr_null(strstr(text, "not shown"));
    free(text);
}
END_TEST

START_TEST(limit_is_reported)
{
    lh_timeline_req_t r = req_service("api", T0 + 60 * MIN, 2 * 60 * MIN);
    r.limit = 2;
    json_t *d = run_json(&r);
    /* the newest two are kept, not the oldest */
    json_t *ev = json_object_get(d, "events");
    ck_assert_int_eq(json_array_size(ev), 2);
    ck_assert_str_eq(jget_str(json_array_get(ev, 0), "id"), "i-1");
    ck_assert_str_eq(jget_str(json_array_get(ev, 1), "id"), "i-1r");
    ck_assert_int_eq(json_integer_value(json_object_get(d, "total")), 5);
    ck_assert_int_eq(json_integer_value(json_object_get(d, "left_out")), 3);
    ck_assert(json_is_true(json_object_get(d, "truncated")));
    ck_assert_int_eq(json_integer_value(json_object_get(d, "limit")), 2);
    json_decref(d);

    char *text = NULL;
    ck_assert_int_eq(run(&r, LH_QUERY_TEXT, &text), 0);
    ck_assert_msg(strstr(text, "... 3 older events not shown (--limit 2 keeps the newest)"), "%s",
                  text);
    ck_assert_msg(strstr(text, "INC-1 resolved") && !strstr(text, "D-1 started"), "%s", text);
    free(text);

    /* a limit that cuts nothing says nothing */
    r.limit = 5;
    d = run_json(&r);
    ck_assert(json_is_false(json_object_get(d, "truncated")));
    ck_assert_int_eq(json_integer_value(json_object_get(d, "left_out")), 0);
    json_decref(d);

    /* the same on an incident's and a change's own events */
    r = req_incident("INC-1");
    r.limit = 1;
    d = run_json(&r);
    ev = json_object_get(d, "events");
    ck_assert_int_eq(json_array_size(ev), 1);
    ck_assert_str_eq(jget_str(json_array_get(ev, 0), "id"), "i-1r");
    ck_assert_int_eq(json_integer_value(json_object_get(d, "left_out")), 1);
    json_decref(d);
    r = req_deploy("D-1", T0 + 200 * MIN);
    r.limit = 1;
    d = run_json(&r);
    ev = json_object_get(d, "events");
    ck_assert_int_eq(json_array_size(ev), 1);
    ck_assert_str_eq(jget_str(json_array_get(ev, 0), "id"), "d-1b");
    json_decref(d);
}
END_TEST

START_TEST(period_from_until)
{
    /* RFC 3339 bounds, both inclusive: a-1 (T0+3m) and i-1 (T0+5m) */
    lh_timeline_req_t r = req_service("api", T0 + 60 * MIN, 0);
    r.from_ns = T0 + 3 * MIN;
    r.until_ns = T0 + 5 * MIN;
    json_t *d = run_json(&r);
    json_t *ev = json_object_get(d, "events");
    ck_assert_int_eq(json_array_size(ev), 2);
    ck_assert_str_eq(jget_str(json_array_get(ev, 0), "id"), "a-1");
    ck_assert_str_eq(jget_str(json_array_get(ev, 1), "id"), "i-1");
    ck_assert_str_eq(jget_str(d, "from"), fmt_time(T0 + 3 * MIN));
    ck_assert_str_eq(jget_str(d, "to"), fmt_time(T0 + 5 * MIN));
    ck_assert(json_is_null(json_object_get(d, "since")));
    json_decref(d);

    /* durations back from now: since 60m, until 56m ago at T0+60m -> [T0, T0+4m] */
    r = req_service("api", T0 + 60 * MIN, 60 * MIN);
    r.until_ago_ns = 56 * MIN;
    d = run_json(&r);
    ev = json_object_get(d, "events");
    ck_assert_int_eq(json_array_size(ev), 3);
    ck_assert_str_eq(jget_str(json_array_get(ev, 2), "id"), "a-1");
    json_decref(d);

    /* the alerts of the period end with it too: INC-1's alert is after T0+4m */
    r = req_service("api", T0 + 60 * MIN, 60 * MIN);
    r.until_ns = T0 + 4 * MIN;
    d = run_json(&r);
    json_t *al = json_object_get(d, "alerts");
    for (size_t i = 0; i < json_array_size(al); i++)
        ck_assert_str_ne(jget_str(json_array_get(al, i), "outcome_id"), "i-1");
    json_decref(d);

    /* the parser */
    int64_t at = -1, ago = -1;
    ck_assert_int_eq(lh_timeline_moment_parse("2026-11-30T10:00:00Z", &at, &ago), 0);
    ck_assert_int_eq(at, 1796032800LL * LH_NS_PER_SEC);
    ck_assert_int_eq(ago, 0);
    ck_assert_int_eq(lh_timeline_moment_parse("90m", &at, &ago), 0);
    ck_assert_int_eq(at, 0);
    ck_assert_int_eq(ago, 90 * MIN);
    ck_assert_int_eq(lh_timeline_moment_parse("yesterday", &at, &ago), LH_EINVAL);
    ck_assert_int_eq(lh_timeline_moment_parse("", &at, &ago), LH_EINVAL);

    /* a period ending before it starts is refused, not shown empty */
    char *s = NULL;
    r = req_service("api", T0 + 60 * MIN, 0);
    r.from_ns = T0 + 5 * MIN;
    r.until_ns = T0 + 3 * MIN;
    ck_assert_int_eq(run(&r, LH_QUERY_JSON, &s), LH_EINVAL);
    ck_assert_str_eq(s, "");
    free(s);
    r = req_service("api", T0 + 60 * MIN, 10 * MIN);
    r.until_ago_ns = 20 * MIN;
    ck_assert_int_eq(run(&r, LH_QUERY_JSON, &s), LH_EINVAL);
    free(s);
}
END_TEST

/* --- errors --------------------------------------------------------------------------------- */

START_TEST(unknown_ids_and_bad_requests)
{
    char *s = NULL;
    lh_timeline_req_t r = req_incident("INC-9");
    ck_assert_int_eq(run(&r, LH_QUERY_JSON, &s), LH_ENOTFOUND);
    ck_assert_str_eq(s, "");
    free(s);
    r = req_deploy("D-404", 0);
    ck_assert_int_eq(run(&r, LH_QUERY_TEXT, &s), LH_ENOTFOUND);
    free(s);
    /* a deploy id is not an incident id */
    r = req_incident("D-1");
    ck_assert_int_eq(run(&r, LH_QUERY_JSON, &s), LH_ENOTFOUND);
    free(s);

    lh_store_t *st = open_ro();
    lh_change_class_t c;
    ck_assert_int_eq(lh_query_change_class(st, "D-404", 0, 0, &c), LH_ENOTFOUND);
    lh_store_close(&st);

    r = req_incident(NULL);
    ck_assert_int_eq(run(&r, LH_QUERY_JSON, &s), LH_EINVAL);
    free(s);
    r = req_service("api", 0, MIN);
    r.environment = NULL;
    ck_assert_int_eq(run(&r, LH_QUERY_JSON, &s), LH_EINVAL);
    free(s);
    r = req_service("api", 0, MIN);
    r.limit = -1;
    ck_assert_int_eq(run(&r, LH_QUERY_JSON, &s), LH_EINVAL);
    free(s);
    lh_timeline_req_default(&r);
    ck_assert_int_eq(run(&r, LH_QUERY_JSON, &s), LH_EINVAL);
    free(s);
}
END_TEST

START_TEST(empty_period_is_not_an_error)
{
    lh_timeline_req_t r = req_service("nosuch", T0, MIN);
    json_t *d = run_json(&r);
    ck_assert_int_eq(json_array_size(json_object_get(d, "events")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(d, "total")), 0);
    json_decref(d);
}
END_TEST

START_TEST(control_characters_do_not_reach_text)
{
    /* a title carrying a newline and an escape sequence, stored like any other */
    lh_store_t *st = NULL;
    ck_assert_int_eq(lh_store_open(lh_test_fx.db, NULL, &st), 0);
    lh_correlator_t *c = NULL;
    ck_assert_int_eq(lh_correlator_new(st, NULL, &c), 0);
    ck_assert_int_eq(lh_store_begin(st), 0);
    lh_event_t *ev = incident("i-cc", "INC-CC", LH_INCIDENT_DETECTED, T0, "api");
    ev->incident.title = S(ev, "bad\nline\x1b[31m");
    put(st, c, ev);
    fx_writer_close(&st, &c);

    lh_timeline_req_t r = req_incident("INC-CC");
    char *text = NULL;
    ck_assert_int_eq(run(&r, LH_QUERY_TEXT, &text), 0);
    ck_assert_ptr_null(strchr(text, '\x1b'));
    ck_assert_ptr_null(strstr(text, "bad\n"));
    ck_assert_msg(strstr(text, "bad line [31m"), "%s", text);
    free(text);
}
END_TEST

/* --- the CLI -------------------------------------------------------------------------------- */

/* Runs `loophub timeline` (lh_cli_timeline()) with its output captured. */
static cli_result_t
cli(const char *const *args)
{
    return fx_cli(lh_cli_timeline, args);
}

static void
cli_free(cli_result_t *r)
{
    fx_cli_free(r);
}

START_TEST(cli_help)
{
    const char *a[] = {"timeline", "--help", NULL};
    cli_result_t r = cli(a);
    ck_assert_int_eq(r.code, 0);
    ck_assert_msg(strstr(r.out, "Usage: loophub timeline"), "%s", r.out);
    ck_assert_str_eq(r.err, "");
    cli_free(&r);
}
END_TEST

START_TEST(cli_bad_usage)
{
    const char *const cases[][8] = {
        {"timeline", NULL},
        {"timeline", "--incident", "INC-1", "--deploy", "D-1", NULL},
        {"timeline", "--service", "api", NULL},
        {"timeline", "--service", "api", "--env", "prod", "--since", "yesterday", NULL},
        {"timeline", "--incident", "INC-1", "--format", "xml", NULL},
        {"timeline", "--incident", "INC-1", "--limit", "0", NULL},
        {"timeline", "--incident", "INC-1", "--limit", "-3", NULL},
        {"timeline", "--service", "api", "--env", "prod", "--until", "soon", NULL},
        {"timeline", "--incident", "INC-1", "--until", "1h", NULL},
        {"timeline", "--incident", "INC-1", "--bogus", NULL},
        {"timeline", "--incident", NULL},
        {"timeline", "--incident", "INC-1", "extra", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cli_result_t r = cli(cases[i]);
        ck_assert_msg(r.code == 2, "case %zu: exit %d, stderr %s", i, r.code, r.err);
        ck_assert_msg(!strncmp(r.err, "loophub timeline: ", 18), "case %zu: %s", i, r.err);
        ck_assert_msg(strstr(r.err, "\nTry 'loophub timeline --help'.\n"), "case %zu: %s", i,
                      r.err);
        /* exactly two lines: the error and the pointer to --help */
        int lines = 0;
        for (const char *p = r.err; *p; p++)
            lines += *p == '\n';
        ck_assert_msg(lines == 2, "case %zu: %s", i, r.err);
        ck_assert_str_eq(r.out, "");
        cli_free(&r);
    }
}
END_TEST

START_TEST(cli_missing_store)
{
    char missing[700];
    snprintf(missing, sizeof(missing), "%s/nope.db", lh_test_fx.dir);
    const char *a[] = {"timeline", "--incident", "INC-1", "--db", missing, NULL};
    cli_result_t r = cli(a);
    ck_assert_int_eq(r.code, 1);
    char want[900];
    snprintf(want, sizeof(want),
             "loophub timeline: no store at %s (start the hub with --db, or pass --db PATH)\n",
             missing);
    ck_assert_str_eq(r.err, want);
    ck_assert_int_ne(access(missing, F_OK), 0); /* read-only: nothing created */
    cli_free(&r);
}
END_TEST

START_TEST(cli_unknown_id)
{
    const char *a[] = {"timeline", "--incident", "INC-404", "--db", lh_test_fx.db, NULL};
    cli_result_t r = cli(a);
    ck_assert_int_eq(r.code, 1);
    char want[900];
    snprintf(want, sizeof(want),
             "loophub timeline: no incident, outcome event or correlated alert INC-404 in %s\n",
             lh_test_fx.db);
    ck_assert_str_eq(r.err, want);
    ck_assert_str_eq(r.out, "");
    cli_free(&r);

    const char *b[] = {"timeline", "--deploy", "D-404", "--db", lh_test_fx.db, NULL};
    r = cli(b);
    ck_assert_int_eq(r.code, 1);
    ck_assert_msg(strstr(r.err, "no deploy D-404 in "), "%s", r.err);
    cli_free(&r);
}
END_TEST

START_TEST(cli_ok)
{
    const char *a[] = {"timeline",    "--incident", "INC-1", "--db",
                       lh_test_fx.db, "--format",   "json",  NULL};
    cli_result_t r = cli(a);
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    json_error_t e;
    json_t *d = json_loads(r.out, 0, &e);
    ck_assert_msg(d != NULL, "%s: %s", e.text, r.out);
    ck_assert_str_eq(jget_str(d, "incident_id"), "INC-1");
    json_decref(d);
    cli_free(&r);

    const char *b[] = {"timeline", "--service", "api",         "--env",   "prod", "--since",
                       "3650d",    "--db",      lh_test_fx.db, "--limit", "1",    NULL};
    r = cli(b);
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    ck_assert_msg(strstr(r.out, "5 older events not shown (--limit 1 keeps the newest)"), "%s",
                  r.out);
    cli_free(&r);

    /* the same subcommand run twice in one process parses afresh */
    const char *c[] = {"timeline", "--deploy", "D-1", "--db", lh_test_fx.db, NULL};
    r = cli(c);
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    ck_assert_msg(strstr(r.out, "change D-1"), "%s", r.out);
    cli_free(&r);
}
END_TEST

START_TEST(cli_period)
{
    /* RFC 3339 times for --since and --until: a-1 and i-1 of api, not the rest */
    const char *a[] = {"timeline",
                       "--service",
                       "api",
                       "--env",
                       "prod",
                       "--since",
                       "2025-11-26T10:03:00Z",
                       "--until",
                       "2025-11-26T10:05:00Z",
                       "--db",
                       lh_test_fx.db,
                       NULL};
    cli_result_t r = cli(a);
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    ck_assert_msg(strstr(r.out, "events (2)") && strstr(r.out, "HighErrorRate") &&
                      strstr(r.out, "INC-1 detected") && !strstr(r.out, "INC-1 resolved"),
                  "%s", r.out);
    ck_assert_msg(strstr(r.out, "from 2025-11-26T10:03:00Z until 2025-11-26T10:05:00Z"), "%s",
                  r.out);
    cli_free(&r);

    /* until before since: a usage error naming both */
    const char *b[] = {"timeline",
                       "--service",
                       "api",
                       "--env",
                       "prod",
                       "--since",
                       "2025-11-26T10:05:00Z",
                       "--until",
                       "2025-11-26T10:03:00Z",
                       "--db",
                       lh_test_fx.db,
                       NULL};
    r = cli(b);
    ck_assert_int_eq(r.code, 2);
    ck_assert_msg(strstr(r.err, "loophub timeline: --until 2025-11-26T10:03:00Z "
                                "(2025-11-26T10:03:00Z) is before --since 2025-11-26T10:05:00Z"),
                  "%s", r.err);
    ck_assert_str_eq(r.out, "");
    cli_free(&r);
    const char *c[] = {"timeline", "--service", "api", "--env", "prod",        "--since",
                       "1h",       "--until",   "2h",  "--db",  lh_test_fx.db, NULL};
    r = cli(c);
    ck_assert_int_eq(r.code, 2);
    ck_assert_msg(strstr(r.err, "--until 2h ("), "%s", r.err);
    cli_free(&r);
    const char *e[] = {"timeline", "--service",  "api",  "--env",       "prod",
                       "--since",  "2000-13-01", "--db", lh_test_fx.db, NULL};
    r = cli(e);
    ck_assert_int_eq(r.code, 2);
    ck_assert_msg(strstr(r.err, "bad --since '2000-13-01' (a duration like"), "%s", r.err);
    cli_free(&r);
}
END_TEST

/* Each fact is stored once: the stored protobuf leaves out what the row's columns hold
 * (lh_store_event_strip()), and an event read back (LH_STORE_EVENT_COLS,
 * lh_store_event_complete_row()) is the event that was stored, field for field: its whole
 * encoding is the same. One event of each kind and shape, hosts that cannot be joined included. */
/* A damaged set of labels (table labelsets) makes its events unreadable, as a damaged protobuf
 * does: the timeline counts them ("unreadable") and answers, and a load says why. */
START_TEST(damaged_label_set_is_unreadable)
{
    lh_store_t *st = NULL;
    lh_correlator_t *c = NULL;
    fx_writer_open(&st, &c, NULL);
    lh_event_t *ev = fx_deploy("u-d1", "U-1", LH_DEPLOY_SUCCEEDED, T0 + 90 * MIN, "ulab", "prod",
                               "1.1", "1.0", "ann");
    ck_assert_int_eq(lh_event_add_label(ev, "team", 4, "unread", 6), 0);
    fx_put(st, c, ev, T0 + 100 * MIN);
    ev = fx_deploy("u-d2", "U-2", LH_DEPLOY_SUCCEEDED, T0 + 95 * MIN, "ulab", "prod", "1.2", "1.1",
                   "ann");
    fx_put(st, c, ev, T0 + 100 * MIN);
    sqlite3 *db = lh__store_db(st);
    ck_assert_int_eq(sqlite3_exec(db,
                                  "UPDATE labelsets SET labels = x'4205' WHERE ref ="
                                  " (SELECT labels_ref FROM events WHERE id = 'u-d1')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_changes(db), 1);
    int64_t seq = 0;
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(
        sqlite3_prepare_v2(db, "SELECT seq FROM events WHERE id = 'u-d1'", -1, &q, NULL),
        SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    seq = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    lh_event_t *back = NULL;
    char why[160] = "";
    ck_assert_int_eq(lh_store_event_load(st, seq, &back, why, sizeof(why)), LH_EDECODE);
    ck_assert_ptr_null(back);
    ck_assert_msg(strstr(why, "labels"), "why: %s", why);
    fx_writer_close(&st, &c);

    lh_timeline_req_t r = req_service("ulab", T0 + 200 * MIN, T0);
    json_t *doc = run_json(&r);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "unreadable")), 1);
    char *text = json_dumps(doc, JSON_COMPACT);
    ck_assert_msg(strstr(text, "U-2") && !strstr(text, "\"U-1\""), "%s", text);
    free(text);
    json_decref(doc);
}
END_TEST

START_TEST(stored_once_read_whole)
{
    lh_event_t *evs[8];
    int n = 0;
    static const char *const hosts[] = {"web-1", "web-2", NULL};
    static const char *const spaced[] = {"rack 7", "web-3", NULL};

    lh_event_t *ev = fx_deploy("w-d1", "W-1", LH_DEPLOY_SUCCEEDED, T0 + 90 * MIN, "whole", "prod",
                               "3.1", "3.0", "ann");
    ev->deploy.commit = S(ev, "abc123");
    ev->deploy.commit_time_ns = T0 + 60 * MIN;
    ev->deploy.artifact = S(ev, "pkg:oci/whole@sha256:1");
    ev->deploy.change_ticket = S(ev, "CHG-9");
    ev->deploy.previous_version_derived = 1;
    ck_assert_int_eq(lh_event_add_label(ev, "team", 4, "core", 4), 0);
    fx_hosts(ev, hosts);
    evs[n++] = ev;

    ev = fx_deploy("w-d2", "W-2", LH_DEPLOY_STARTED, T0 + 91 * MIN, "whole", "prod", "3.2", NULL,
                   "bob");
    fx_hosts(ev, spaced); /* not joinable: the protobuf keeps them */
    evs[n++] = ev;

    ev = fx_event("w-a1", LH_KIND_ALERT, T0 + 92 * MIN, "whole", "prod");
    ev->alert.name = S(ev, "HighErrorRate");
    ev->alert.fingerprint = S(ev, "fp-1");
    ev->alert.state = LH_ALERT_FIRING;
    ev->alert.severity = LH_SEV_CRITICAL; /* an outcome */
    ev->alert.summary = S(ev, "errors on whole");
    ev->alert.artifact = S(ev, "pkg:oci/whole@sha256:1");
    fx_hosts(ev, hosts);
    evs[n++] = ev;

    ev = fx_event("w-a2", LH_KIND_ALERT, T0 + 93 * MIN, "whole", "prod");
    ev->alert.name = S(ev, "Chatty");
    ev->alert.fingerprint = S(ev, "fp-2");
    ev->alert.state = LH_ALERT_FIRING;
    ev->alert.severity = LH_SEV_INFO; /* not an outcome: name, fingerprint, hosts kept */
    fx_hosts(ev, hosts);
    evs[n++] = ev;

    ev = fx_event("w-a3", LH_KIND_ALERT, T0 + 94 * MIN, "whole", "prod");
    ev->alert.name = S(ev, "Chatty");
    ev->alert.fingerprint = S(ev, "fp-2");
    ev->alert.state = LH_ALERT_RESOLVED;
    ev->alert.severity = LH_SEV_INFO;
    evs[n++] = ev;

    ev = fx_event("w-i1", LH_KIND_INCIDENT, T0 + 95 * MIN, "whole", "prod");
    ev->incident.incident_id = S(ev, "INC-W");
    ev->incident.state = LH_INCIDENT_DETECTED;
    ev->incident.severity = LH_SEV_ERROR;
    ev->incident.title = S(ev, "whole is down");
    ev->incident.ticket = S(ev, "JIRA-1");
    ev->incident.artifact = S(ev, "pkg:oci/whole@sha256:1");
    evs[n++] = ev;

    ev = fx_ticket("w-t1", "CHG-9", LH_TICKET_CHANGE, LH_TICKET_APPROVED, T0 + 96 * MIN, "W-1");
    ev->ticket.url = S(ev, "https://tickets.example/CHG-9");
    ev->actor = S(ev, "carol");
    evs[n++] = ev;

    /* sources by key (two of them, shared), and one too long for the writer's table */
    char long_src[LH_STORE_SOURCE_MAX_LEN + 2];
    memset(long_src, 's', sizeof(long_src) - 1);
    long_src[sizeof(long_src) - 1] = '\0';
    for (int k = 0; k < n; k++)
        evs[k]->source = S(evs[k], k == n - 1 ? long_src
                                   : k % 2    ? "prometheus/alertmanager"
                                              : "https://ci.example/pipelines");

    lh_buf_t want[8];
    lh_store_t *st = NULL;
    lh_correlator_t *c = NULL;
    fx_writer_open(&st, &c, NULL);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(lh_event_normalize(evs[i]), 0);
        want[i] = (lh_buf_t)LH_BUF_INIT;
        ck_assert_int_eq(lh_codec_pb_encode(evs[i], &want[i]), 0);
        fx_put(st, c, evs[i], T0 + 100 * MIN);
    }
    fx_writer_close(&st, &c);

    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(lh_test_fx.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(
                         db,
                         "SELECT id, " LH_STORE_EVENT_COLS("") " FROM events"
                                                               " WHERE id LIKE 'w-%' ORDER BY seq",
                         -1, &q, NULL),
                     SQLITE_OK);
    int i = 0;
    size_t stored = 0, whole = 0;
    for (; sqlite3_step(q) == SQLITE_ROW; i++) {
        ck_assert_int_lt(i, n);
        const char *id = (const char *)sqlite3_column_text(q, 0);
        lh_event_t *back = NULL;
        char why[128] = "";
        size_t len = (size_t)sqlite3_column_bytes(q, 1);
        ck_assert_int_eq(lh_codec_pb_decode(sqlite3_column_blob(q, 1), len, &back, why, sizeof why),
                         0);
        ck_assert_int_eq(lh_store_event_complete_row(back, q, 1), 0);
        lh_buf_t got = LH_BUF_INIT;
        ck_assert_int_eq(lh_codec_pb_encode(back, &got), 0);
        ck_assert_msg(got.len == want[i].len && memcmp(got.data, want[i].data, got.len) == 0,
                      "%s read back is not the event stored (%zu bytes against %zu)", id, got.len,
                      want[i].len);
        ck_assert_msg(len < want[i].len, "%s: stored %zu bytes of %zu", id, len, want[i].len);
        stored += len;
        whole += want[i].len;
        lh_buf_free(&got);
        lh_buf_free(&want[i]);
        lh_event_destroy(&back);
    }
    ck_assert_int_eq(i, n);
    /* the row's columns hold at least a third of what the protobuf would repeat */
    ck_assert_msg(stored * 3 < whole * 2, "stored %zu of %zu bytes", stored, whole);
    sqlite3_finalize(q);
    /* each source once; the long one by name in its row */
    ck_assert_int_eq(
        sqlite3_prepare_v2(db,
                           "SELECT (SELECT count(DISTINCT source_ref) FROM events"
                           "  WHERE id LIKE 'w-%'),"
                           " (SELECT count(*) FROM events WHERE id LIKE 'w-%' AND source_ref > 0"
                           "  AND source IS NULL),"
                           " (SELECT count(*) FROM events WHERE id LIKE 'w-%'"
                           "  AND source_ref IS NULL AND length(source) = ?1)",
                           -1, &q, NULL),
        SQLITE_OK);
    sqlite3_bind_int(q, 1, (int)strlen(long_src));
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(q, 0), 2);
    ck_assert_int_eq(sqlite3_column_int(q, 1), n - 1);
    ck_assert_int_eq(sqlite3_column_int(q, 2), 1);
    sqlite3_finalize(q);
    sqlite3_close(db);
}
END_TEST

static Suite *
query_suite(void)
{
    Suite *s = suite_create("query");
    const lh_test_case_t tests[] = {
        {"incident_json", incident_json, 0, 0},
        {"incident_text", incident_text_names_suspect_and_reasons, 0, 0},
        {"incident_markdown", incident_markdown, 0, 0},
        {"html_standalone", html_standalone, 0, 0},
        {"text_colour", text_colour_only_when_asked, 0, 0},
        {"text_fits_100_columns", text_fits_100_columns, 0, 0},
        {"several_stores", several_stores_read_as_one, 0, 0},
        {"late_suspect", late_suspect_is_marked, 0, 0},
        {"whole_story", incident_tells_the_whole_story, 0, 0},
        {"suspect_tickets", suspect_ticket_approval, 0, 0},
        {"incident_ticket_text", incident_ticket_in_text, 0, 0},
        {"other_alerts", other_alerts_on_service_and_hosts, 0, 0},
        {"by_any_id", opened_by_any_id, 0, 0},
        {"several_outcomes", alert_of_several_outcomes, 0, 0},
        {"by_alert_id_without_case", opened_by_alert_id_without_case, 0, 0},
        {"by_event_id_in_any_bucket", opened_by_event_id_in_any_bucket, 0, 0},
        {"index_only", every_lookup_uses_an_index, 0, 0},
        {"deploy_json", deploy_json, 0, 0},
        {"outcome_classes", outcome_classes, 0, 0},
        {"several_suspects", several_suspects_ranked, 0, 0},
        {"deploy_text", deploy_text, 0, 0},
        {"deploy_text_details", deploy_text_details, 0, 0},
        {"deploy_latest_values", deploy_latest_values, 0, 0},
        {"suspect_change_in_its_environment", suspect_change_in_its_environment, 0, 0},
        {"deploy_previous_from_history", deploy_previous_from_history, 0, 0},
        {"service_json", service_json, 0, 0},
        {"service_text", service_text_lines, 0, 0},
        {"limit", limit_is_reported, 0, 0},
        {"period", period_from_until, 0, 0},
        {"cli_period", cli_period, 0, 0},
        {"errors", unknown_ids_and_bad_requests, 0, 0},
        {"empty_period", empty_period_is_not_an_error, 0, 0},
        {"control_chars", control_characters_do_not_reach_text, 0, 0},
        {"cli_help", cli_help, 0, 0},
        {"cli_bad_usage", cli_bad_usage, 0, 0},
        {"cli_missing_store", cli_missing_store, 0, 0},
        {"cli_unknown_id", cli_unknown_id, 0, 0},
        {"cli_ok", cli_ok, 0, 0},
        {"stored_once", stored_once_read_whole, 0, 0},
        {"damaged_label_set", damaged_label_set_is_unreadable, 0, 0},
    };
    lh_test_add_cases(s, tests, LH_TEST_COUNT(tests), 30, setup, lh_test_store_teardown);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(query_suite());
}
