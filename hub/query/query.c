/*
 * query.c - the postmortem timeline (`loophub timeline`, GET /v1/timeline).
 *
 * A query gathers what the store knows into one JSON document (jansson): the events, decoded
 * from their canonical protobuf and written in loophub's JSON form, and the correlator's
 * conclusions read from `correlations` and `alerts`. The JSON format is that document; the
 * text format is rendered from the same document plus the decoded events, so the two can never
 * disagree about what they show.
 *
 * Invariants:
 *  - the store is only read (SELECT statements of query_sql.h);
 *  - nothing is cut silently: every document carries "total" and "truncated" for its events,
 *    and a limit only caps the events shown, never suspects, outcomes, alerts or tickets;
 *  - a stored event that cannot be decoded is skipped with a log line and counted in the
 *    document ("unreadable"), never dropped without a trace;
 *  - strings from events are printed in text with control characters replaced, so a title
 *    cannot break or forge lines on a terminal.
 */
#include "query.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_json.h"
#include "loophub/correlated.h"
#include "loophub/error.h"
#include "loophub/format.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"
#include "query_sql.h"

#define COMPONENT "query"

/* Decoded events of one list: seqs and events in time order. */
typedef struct qlist {
    lh_event_t **ev;
    size_t n, cap;
    int64_t total; /* rows matched, decoded or not */
} qlist_t;

typedef struct qctx {
    lh_store_t *st;
    sqlite3 *db;
    const lh_timeline_req_t *req;
    int64_t now;
    int err; /* first error; once set, helpers do nothing */
    int64_t unreadable;
    json_t *doc;
    qlist_t events;   /* the main list */
    qlist_t outcomes; /* deploy mode: outcome events, parallel to doc.outcomes */
    qlist_t tickets;  /* parallel to doc.tickets */
    lh_buf_t *out;
} qctx_t;

/* --- names -------------------------------------------------------------------------------- */

const char *
lh_query_format_name(lh_query_format_t f)
{
    switch (f) {
    case LH_QUERY_TEXT:
        return "text";
    case LH_QUERY_JSON:
        return "json";
    }
    return NULL;
}

int
lh_query_format_parse(const char *s, lh_query_format_t *out)
{
    if (!s)
        return LH_EINVAL;
    if (strcmp(s, "text") == 0)
        *out = LH_QUERY_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = LH_QUERY_JSON;
    else
        return LH_EINVAL;
    return 0;
}

const char *
lh_change_class_name(lh_change_class_t c)
{
    switch (c) {
    case LH_CHANGE_PENDING:
        return "pending";
    case LH_CHANGE_HEALTHY:
        return "healthy";
    case LH_CHANGE_SUSPECT:
        return "suspect";
    case LH_CHANGE_FAILED:
        return "failed";
    case LH_CHANGE_ROLLED_BACK:
        return "rolled_back";
    }
    return NULL;
}

void
lh_timeline_req_default(lh_timeline_req_t *r)
{
    memset(r, 0, sizeof(*r));
    r->mode = LH_TIMELINE_NONE;
    r->since_ns = 24 * 3600 * LH_NS_PER_SEC;
    r->window_ns = 2 * 3600 * LH_NS_PER_SEC;
}

/* --- store access ------------------------------------------------------------------------- */

static sqlite3_stmt *
prep(qctx_t *q, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (q->err)
        return NULL;
    if (sqlite3_prepare_v2(q->db, sql, -1, &s, NULL) != SQLITE_OK) {
        lh_log(LH_LOG_ERROR, COMPONENT, "prepare: %s", sqlite3_errmsg(q->db));
        sqlite3_finalize(s);
        q->err = LH_ESTORE;
        return NULL;
    }
    return s;
}

/* sqlite3_step wrapper: 1 on a row, 0 when done (or after an error, recorded in q->err). */
static int
step(qctx_t *q, sqlite3_stmt *s)
{
    if (q->err)
        return 0;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc != SQLITE_DONE) {
        lh_log(LH_LOG_ERROR, COMPONENT, "query: %s", sqlite3_errmsg(q->db));
        q->err = LH_ESTORE;
    }
    return 0;
}

static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

static const char *
col_text(sqlite3_stmt *s, int i)
{
    return (const char *)sqlite3_column_text(s, i);
}

static int
list_push(qctx_t *q, qlist_t *l, lh_event_t *ev)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        lh_event_t **p = realloc(l->ev, cap * sizeof(*p));
        if (!p) {
            q->err = LH_ENOMEM;
            return -1;
        }
        l->ev = p;
        l->cap = cap;
    }
    l->ev[l->n++] = ev;
    return 0;
}

static void
list_free(qlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        lh_event_destroy(&l->ev[i]);
    free(l->ev);
    memset(l, 0, sizeof(*l));
}

/* Decodes the canonical protobuf in column col of the current row. NULL (counted in
 * q->unreadable, logged) when it cannot be decoded; NULL with q->err set on out of memory. */
static lh_event_t *
decode_col(qctx_t *q, sqlite3_stmt *s, int seq_col, int col)
{
    const void *pb = sqlite3_column_blob(s, col);
    int len = sqlite3_column_bytes(s, col);
    lh_event_t *ev = NULL;
    char why[160] = "";
    int rc = lh_codec_pb_decode(pb ? pb : "", (size_t)len, &ev, why, sizeof(why));
    if (rc == LH_ENOMEM) {
        q->err = LH_ENOMEM;
        return NULL;
    }
    if (rc < 0 || !ev) {
        lh_log(LH_LOG_WARN, COMPONENT, "stored event seq %lld cannot be decoded: %s",
               (long long)sqlite3_column_int64(s, seq_col), why[0] ? why : lh_strerror(rc));
        q->unreadable++;
        return NULL;
    }
    return ev;
}

/* Steps a (seq, event) statement to the end: decodes the first `decode` rows (0: all) into l
 * and counts every row in l->total. */
static void
load_events(qctx_t *q, sqlite3_stmt *s, qlist_t *l, int64_t decode)
{
    while (step(q, s)) {
        l->total++;
        if (decode && (int64_t)l->n >= decode)
            continue;
        lh_event_t *ev = decode_col(q, s, 0, 1);
        if (ev && list_push(q, l, ev) < 0)
            lh_event_destroy(&ev);
    }
}

/* Loads every event of the subject (an incident or a deploy: sql selects them by its id) into
 * q->events. Returns 0, or -1 with q->err set (LH_ENOTFOUND when the store has none). */
static int
load_subject(qctx_t *q, const char *sql, const char *id)
{
    sqlite3_stmt *s = prep(q, sql);
    if (s) {
        bind_text(s, 1, id);
        load_events(q, s, &q->events, 0);
    }
    sqlite3_finalize(s);
    if (!q->err && q->events.total == 0)
        q->err = LH_ENOTFOUND;
    return q->err ? -1 : 0;
}

/* --- JSON helpers: on failure they record LH_ENOMEM in q->err ------------------------------- */

static void
jset(qctx_t *q, json_t *obj, const char *key, json_t *v)
{
    if (!v) {
        if (!q->err)
            q->err = LH_ENOMEM;
        return;
    }
    if (!obj || json_object_set_new(obj, key, v) < 0) {
        if (!obj)
            json_decref(v);
        if (!q->err)
            q->err = LH_ENOMEM;
    }
}

static void
jpush(qctx_t *q, json_t *arr, json_t *v)
{
    if (!v || !arr || json_array_append_new(arr, v) < 0) {
        if (!q->err)
            q->err = LH_ENOMEM;
    }
}

static json_t *
jstr(const char *s)
{
    if (!s)
        return json_null();
    json_t *v = json_string(s);
    return v ? v : json_null(); /* not UTF-8: shown as absent rather than failing the query */
}

static json_t *
jtime(int64_t ns)
{
    char b[40];
    if (ns == 0 || lh_time_format(ns, b, sizeof(b)) < 0)
        return json_null();
    return json_string(b);
}

static const char *
js(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int64_t
ji(const json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

/* Reasons are stored as a JSON array of strings; anything else is shown as one reason. */
static json_t *
jreasons(const char *text)
{
    if (!text)
        return json_array();
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    if (json_is_array(v))
        return v;
    json_decref(v);
    json_t *a = json_array();
    if (a)
        json_array_append_new(a, jstr(text));
    return a;
}

static json_t *
event_json(qctx_t *q, const lh_event_t *ev)
{
    json_t *v = lh__event_to_json(ev);
    if (!v && !q->err)
        q->err = LH_ENOMEM;
    return v;
}

/* Adds "events", "total", "truncated", "limit" (and "unreadable" when any) to the document. */
static void
doc_events(qctx_t *q, const qlist_t *l, size_t shown)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < shown && arr; i++)
        jpush(q, arr, event_json(q, l->ev[i]));
    jset(q, q->doc, "events", arr);
    jset(q, q->doc, "total", json_integer(l->total));
    jset(q, q->doc, "truncated", json_boolean((int64_t)shown < l->total));
    jset(q, q->doc, "limit", q->req->limit ? json_integer(q->req->limit) : json_null());
    if (q->unreadable)
        jset(q, q->doc, "unreadable", json_integer(q->unreadable));
}

static size_t
shown_of(const qctx_t *q, const qlist_t *l)
{
    if (q->req->limit > 0 && (int64_t)l->n > q->req->limit)
        return (size_t)q->req->limit;
    return l->n;
}

/* Ticket events linking to id, or being ticket_id. */
static void
gather_tickets(qctx_t *q, const char *id, const char *ticket_id)
{
    sqlite3_stmt *s = prep(q, LH_Q_TICKETS);
    json_t *arr = json_array();
    if (s) {
        bind_text(s, 1, id);
        bind_text(s, 2, ticket_id);
        load_events(q, s, &q->tickets, 0);
    }
    sqlite3_finalize(s);
    for (size_t i = 0; i < q->tickets.n && arr; i++)
        jpush(q, arr, event_json(q, q->tickets.ev[i]));
    jset(q, q->doc, "tickets", arr);
}

/* --- change class ------------------------------------------------------------------------- */

static int
change_class(qctx_t *q, const char *deploy_id, int64_t window_ns, lh_change_class_t *out,
             int64_t *change_time)
{
    int64_t n = 0, t0 = 0, n_corr = 0;
    int rolled_back = 0, failed = 0, top = 0;
    sqlite3_stmt *s = prep(q, LH_Q_CHANGE_FACTS);
    if (s) {
        bind_text(s, 1, deploy_id);
        if (step(q, s)) {
            n = sqlite3_column_int64(s, 0);
            t0 = sqlite3_column_int64(s, 1);
            rolled_back = sqlite3_column_int(s, 2);
            failed = sqlite3_column_int(s, 3);
        }
    }
    sqlite3_finalize(s);
    s = prep(q, LH_Q_CHANGE_CORRELATIONS);
    if (s) {
        bind_text(s, 1, deploy_id);
        if (step(q, s)) {
            n_corr = sqlite3_column_int64(s, 0);
            top = sqlite3_column_int(s, 1);
        }
    }
    sqlite3_finalize(s);
    if (q->err)
        return q->err;
    if (n == 0)
        return LH_ENOTFOUND;
    if (rolled_back)
        *out = LH_CHANGE_ROLLED_BACK;
    else if (failed)
        *out = LH_CHANGE_FAILED;
    else if (top)
        *out = LH_CHANGE_SUSPECT;
    else if (n_corr == 0 && q->now < t0 + window_ns)
        *out = LH_CHANGE_PENDING;
    else
        *out = LH_CHANGE_HEALTHY;
    if (change_time)
        *change_time = t0;
    return 0;
}

int
lh_query_change_class(lh_store_t *st, const char *deploy_id, int64_t window_ns, int64_t now_ns,
                      lh_change_class_t *out)
{
    if (!st || !deploy_id || !out || window_ns < 0)
        return LH_EINVAL;
    qctx_t q = {.st = st, .db = lh__store_db(st), .now = now_ns ? now_ns : lh_now_ns()};
    return change_class(&q, deploy_id, window_ns, out, NULL);
}

/* --- incident ------------------------------------------------------------------------------- */

static void
gather_incident(qctx_t *q)
{
    const char *iid = q->req->incident_id;
    if (load_subject(q, LH_Q_INCIDENT_EVENTS, iid) < 0)
        return;

    /* The incident as a whole: first values seen, latest severity, first resolution. */
    const char *service = NULL, *env = NULL, *title = NULL, *ticket = NULL;
    lh_severity_t sev = LH_SEV_UNSPECIFIED;
    int64_t started = 0, resolved = 0;
    for (size_t i = 0; i < q->events.n; i++) {
        const lh_event_t *ev = q->events.ev[i];
        if (!service)
            service = ev->service;
        if (!env)
            env = ev->environment;
        if (!title)
            title = ev->incident.title;
        if (!ticket)
            ticket = ev->incident.ticket;
        if (ev->incident.severity)
            sev = ev->incident.severity;
        if (!started)
            started = ev->time_ns;
        if (!resolved && ev->incident.state == LH_INCIDENT_RESOLVED)
            resolved = ev->time_ns;
    }
    q->doc = json_object();
    jset(q, q->doc, "query", json_string("incident"));
    jset(q, q->doc, "incident_id", json_string(iid));
    jset(q, q->doc, "service", jstr(service));
    jset(q, q->doc, "environment", jstr(env));
    jset(q, q->doc, "title", jstr(title));
    jset(q, q->doc, "severity", jstr(lh_severity_name(sev)));
    jset(q, q->doc, "ticket", jstr(ticket));
    jset(q, q->doc, "started", jtime(started));
    jset(q, q->doc, "resolved", jtime(resolved));
    jset(q, q->doc, "time_to_resolve_seconds",
         resolved ? json_integer((resolved - started) / LH_NS_PER_SEC) : json_null());
    doc_events(q, &q->events, shown_of(q, &q->events));

    /* Suspects: one per change, as first recorded (earliest outcome event, best rank). */
    json_t *sus = json_array();
    sqlite3_stmt *s = prep(q, LH_Q_INCIDENT_SUSPECTS);
    if (s)
        bind_text(s, 1, iid);
    while (s && sus && step(q, s)) {
        const char *did = col_text(s, 0);
        int dup = 0;
        for (size_t i = 0; i < json_array_size(sus) && !dup; i++)
            dup = did && js(json_array_get(sus, i), "deploy_id") &&
                  strcmp(js(json_array_get(sus, i), "deploy_id"), did) == 0;
        if (dup)
            continue;
        json_t *o = json_object();
        jset(q, o, "deploy_id", jstr(did));
        jset(q, o, "event_id", jstr(col_text(s, 7)));
        jset(q, o, "service", jstr(col_text(s, 9)));
        jset(q, o, "environment", jstr(col_text(s, 10)));
        jset(q, o, "version", jstr(col_text(s, 11)));
        jset(q, o, "previous_version", jstr(col_text(s, 12)));
        jset(q, o, "actor", jstr(col_text(s, 13)));
        jset(q, o, "commit", jstr(col_text(s, 14)));
        jset(q, o, "status",
             jstr(sqlite3_column_type(s, 15) == SQLITE_NULL
                      ? NULL
                      : lh_deploy_status_name(sqlite3_column_int(s, 15))));
        jset(q, o, "deploy_time",
             sqlite3_column_type(s, 8) == SQLITE_NULL ? json_null()
                                                      : jtime(sqlite3_column_int64(s, 8)));
        jset(q, o, "rank", json_integer(sqlite3_column_int64(s, 2)));
        jset(q, o, "score", json_real(sqlite3_column_double(s, 1)));
        jset(q, o, "lead_seconds", json_integer(sqlite3_column_int64(s, 3)));
        jset(q, o, "reasons", jreasons(col_text(s, 4)));
        jset(q, o, "late", json_boolean(sqlite3_column_int(s, 5)));
        jset(q, o, "alert_seq",
             sqlite3_column_type(s, 6) == SQLITE_NULL ? json_null()
                                                      : json_integer(sqlite3_column_int64(s, 6)));
        jset(q, o, "outcome_id", jstr(col_text(s, 16)));
        jpush(q, sus, o);
    }
    sqlite3_finalize(s);
    jset(q, q->doc, "suspects", sus);

    json_t *alerts = json_array();
    s = prep(q, LH_Q_INCIDENT_ALERTS);
    if (s)
        bind_text(s, 1, iid);
    while (s && alerts && step(q, s)) {
        json_t *o = json_object();
        jset(q, o, "seq", json_integer(sqlite3_column_int64(s, 0)));
        jset(q, o, "id", jstr(col_text(s, 1)));
        jset(q, o, "kind", jstr(lh_ca_kind_name(sqlite3_column_int(s, 2))));
        jset(q, o, "late", json_boolean(sqlite3_column_int(s, 3)));
        jset(q, o, "created", jtime(sqlite3_column_int64(s, 4)));
        jset(q, o, "outcome_id", jstr(col_text(s, 5)));
        jpush(q, alerts, o);
    }
    sqlite3_finalize(s);
    jset(q, q->doc, "alerts", alerts);

    gather_tickets(q, iid, ticket);
}

/* --- deploy --------------------------------------------------------------------------------- */

static void
gather_deploy(qctx_t *q)
{
    const char *did = q->req->deploy_id;
    if (load_subject(q, LH_Q_DEPLOY_EVENTS, did) < 0)
        return;
    lh_change_class_t cls;
    int64_t t0 = 0;
    int rc = change_class(q, did, q->req->window_ns, &cls, &t0);
    if (rc < 0) {
        q->err = rc;
        return;
    }

    /* The change as a whole: first values seen, latest status. */
    const char *service = NULL, *env = NULL, *version = NULL, *prev = NULL, *actor = NULL,
               *commit = NULL, *artifact = NULL, *ticket = NULL;
    lh_deploy_status_t status = LH_DEPLOY_UNSPECIFIED;
    for (size_t i = 0; i < q->events.n; i++) {
        const lh_event_t *ev = q->events.ev[i];
#define FIRST(var, val)                                                                            \
    if (!(var))                                                                                    \
    var = (val)
        FIRST(service, ev->service);
        FIRST(env, ev->environment);
        FIRST(version, ev->deploy.version);
        FIRST(prev, ev->deploy.previous_version);
        FIRST(actor, ev->actor);
        FIRST(commit, ev->deploy.commit);
        FIRST(artifact, ev->deploy.artifact);
        FIRST(ticket, ev->deploy.change_ticket);
#undef FIRST
        if (ev->deploy.status)
            status = ev->deploy.status;
    }
    char wbuf[40] = "";
    lh_duration_format(q->req->window_ns, wbuf, sizeof(wbuf));

    q->doc = json_object();
    jset(q, q->doc, "query", json_string("deploy"));
    jset(q, q->doc, "deploy_id", json_string(did));
    jset(q, q->doc, "service", jstr(service));
    jset(q, q->doc, "environment", jstr(env));
    jset(q, q->doc, "version", jstr(version));
    jset(q, q->doc, "previous_version", jstr(prev));
    jset(q, q->doc, "actor", jstr(actor));
    jset(q, q->doc, "commit", jstr(commit));
    jset(q, q->doc, "artifact", jstr(artifact));
    jset(q, q->doc, "change_ticket", jstr(ticket));
    jset(q, q->doc, "status", jstr(lh_deploy_status_name(status)));
    jset(q, q->doc, "class", json_string(lh_change_class_name(cls)));
    jset(q, q->doc, "change_time", jtime(t0));
    jset(q, q->doc, "window", json_string(wbuf));
    jset(q, q->doc, "window_ends", jtime(t0 + q->req->window_ns));
    doc_events(q, &q->events, shown_of(q, &q->events));

    json_t *outs = json_array();
    sqlite3_stmt *s = prep(q, LH_Q_DEPLOY_OUTCOMES);
    if (s)
        bind_text(s, 1, did);
    while (s && outs && step(q, s)) {
        lh_event_t *ev = decode_col(q, s, 9, 10);
        if (!ev)
            continue;
        if (list_push(q, &q->outcomes, ev) < 0) {
            lh_event_destroy(&ev);
            break;
        }
        json_t *o = json_object();
        jset(q, o, "event", event_json(q, ev));
        jset(q, o, "rank", json_integer(sqlite3_column_int64(s, 1)));
        jset(q, o, "suspects", json_integer(sqlite3_column_int64(s, 6)));
        jset(q, o, "top", json_boolean(sqlite3_column_int64(s, 1) == 1));
        jset(q, o, "score", json_real(sqlite3_column_double(s, 0)));
        jset(q, o, "lead_seconds", json_integer(sqlite3_column_int64(s, 2)));
        jset(q, o, "reasons", jreasons(col_text(s, 3)));
        jset(q, o, "late", json_boolean(sqlite3_column_int(s, 4)));
        jset(q, o, "alert_seq",
             sqlite3_column_type(s, 5) == SQLITE_NULL ? json_null()
                                                      : json_integer(sqlite3_column_int64(s, 5)));
        jset(q, o, "alert_id", jstr(col_text(s, 8)));
        jset(q, o, "resolved",
             sqlite3_column_type(s, 7) == SQLITE_NULL ? json_null()
                                                      : jtime(sqlite3_column_int64(s, 7)));
        jpush(q, outs, o);
    }
    sqlite3_finalize(s);
    jset(q, q->doc, "outcomes", outs);

    gather_tickets(q, did, ticket);
}

/* --- service -------------------------------------------------------------------------------- */

static void
gather_service(qctx_t *q)
{
    const lh_timeline_req_t *r = q->req;
    int64_t from = q->now - r->since_ns;
    sqlite3_stmt *s = prep(q, LH_Q_SERVICE_EVENTS);
    if (s) {
        sqlite3_bind_int64(s, 1, from);
        bind_text(s, 2, r->service);
        bind_text(s, 3, r->environment);
        load_events(q, s, &q->events, r->limit);
    }
    sqlite3_finalize(s);
    if (q->err)
        return;
    char sbuf[40] = "";
    lh_duration_format(r->since_ns, sbuf, sizeof(sbuf));
    q->doc = json_object();
    jset(q, q->doc, "query", json_string("service"));
    jset(q, q->doc, "service", jstr(r->service));
    jset(q, q->doc, "environment", jstr(r->environment));
    jset(q, q->doc, "since", json_string(sbuf));
    jset(q, q->doc, "from", jtime(from));
    jset(q, q->doc, "to", jtime(q->now));
    doc_events(q, &q->events, shown_of(q, &q->events));

    json_t *alerts = json_array();
    s = prep(q, LH_Q_SERVICE_ALERTS);
    sqlite3_stmt *ss = prep(q, LH_Q_OUTCOME_SUSPECTS);
    if (s) {
        sqlite3_bind_int64(s, 1, from);
        bind_text(s, 2, r->service);
        bind_text(s, 3, r->environment);
    }
    while (s && ss && alerts && step(q, s)) {
        json_t *o = json_object();
        jset(q, o, "seq", json_integer(sqlite3_column_int64(s, 0)));
        jset(q, o, "id", jstr(col_text(s, 1)));
        jset(q, o, "kind", jstr(lh_ca_kind_name(sqlite3_column_int(s, 2))));
        jset(q, o, "late", json_boolean(sqlite3_column_int(s, 3)));
        jset(q, o, "created", jtime(sqlite3_column_int64(s, 4)));
        jset(q, o, "outcome_id", jstr(col_text(s, 6)));
        jset(q, o, "outcome_time", jtime(sqlite3_column_int64(s, 7)));
        json_t *sus = json_array();
        sqlite3_reset(ss);
        sqlite3_bind_int64(ss, 1, sqlite3_column_int64(s, 5));
        while (sus && step(q, ss)) {
            json_t *x = json_object();
            jset(q, x, "deploy_id", jstr(col_text(ss, 0)));
            jset(q, x, "rank", json_integer(sqlite3_column_int64(ss, 1)));
            jset(q, x, "score", json_real(sqlite3_column_double(ss, 2)));
            jset(q, x, "version", jstr(col_text(ss, 3)));
            jset(q, x, "previous_version", jstr(col_text(ss, 4)));
            jpush(q, sus, x);
        }
        jset(q, o, "suspects", sus);
        jpush(q, alerts, o);
    }
    sqlite3_finalize(ss);
    sqlite3_finalize(s);
    jset(q, q->doc, "alerts", alerts);
}

/* --- text ----------------------------------------------------------------------------------- */

static void tprintf(qctx_t *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
tprintf(qctx_t *q, const char *fmt, ...)
{
    if (q->err)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || lh_buf_reserve(q->out, (size_t)n) < 0) {
        q->err = LH_ENOMEM;
        return;
    }
    va_start(ap, fmt);
    vsnprintf((char *)q->out->data + q->out->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    q->out->len += (size_t)n;
}

/* Appends s (NULL: "-") with control characters replaced by spaces, padded to width columns
 * (counting UTF-8 continuation bytes as nothing). */
static void
tput(qctx_t *q, const char *s, int width)
{
    if (q->err)
        return;
    if (!s)
        s = "-";
    size_t n = strlen(s);
    if (lh_buf_reserve(q->out, n + (width > 0 ? (size_t)width : 0)) < 0) {
        q->err = LH_ENOMEM;
        return;
    }
    int cols = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        q->out->data[q->out->len++] = (c < 0x20 || c == 0x7f) ? ' ' : c;
        if ((c & 0xc0) != 0x80)
            cols++;
    }
    for (; cols < width; cols++)
        q->out->data[q->out->len++] = ' ';
    q->out->data[q->out->len] = 0;
}

static int
ustrlen(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return s ? n : 1;
}

static void
ttime(qctx_t *q, int64_t ns, int width)
{
    char b[40] = "-";
    if (ns)
        lh_time_format(ns, b, sizeof(b));
    tput(q, b, width);
}

static void
tdur(qctx_t *q, int64_t ns)
{
    char b[40] = "";
    lh_duration_human(ns, b, sizeof(b));
    tput(q, b, 0);
}

/* Column widths of a list of events. */
typedef struct {
    int time, id;
} widths_t;

static widths_t
widths_of(lh_event_t *const *ev, size_t n)
{
    widths_t w = {20, 2};
    for (size_t i = 0; i < n; i++) {
        char b[40];
        int t = lh_time_format(ev[i]->time_ns, b, sizeof(b));
        if (t > w.time)
            w.time = t;
        int l = ustrlen(ev[i]->id);
        if (l > w.id)
            w.id = l;
    }
    return w;
}

/* "time  kind      id  essentials" (no newline). */
static void
tevent(qctx_t *q, const lh_event_t *ev, widths_t w)
{
    tprintf(q, "  ");
    ttime(q, ev->time_ns, w.time);
    tprintf(q, "  ");
    tput(q, lh_kind_name(ev->kind), 8);
    tprintf(q, "  ");
    tput(q, ev->id, w.id);
    tprintf(q, "  ");
    switch (ev->kind) {
    case LH_KIND_DEPLOY:
        tput(q, ev->deploy.deploy_id, 0);
        tprintf(q, " ");
        tput(q, lh_deploy_status_name(ev->deploy.status), 0);
        if (ev->deploy.version || ev->deploy.previous_version) {
            tprintf(q, " ");
            tput(q, ev->deploy.version, 0);
        }
        if (ev->deploy.previous_version) {
            tprintf(q, " <- ");
            tput(q, ev->deploy.previous_version, 0);
        }
        if (ev->actor) {
            tprintf(q, " by ");
            tput(q, ev->actor, 0);
        }
        break;
    case LH_KIND_ALERT:
        tput(q, ev->alert.name, 0);
        tprintf(q, " ");
        tput(q, lh_alert_state_name(ev->alert.state), 0);
        tprintf(q, " ");
        tput(q, lh_severity_name(ev->alert.severity), 0);
        break;
    case LH_KIND_INCIDENT:
        tput(q, ev->incident.incident_id, 0);
        tprintf(q, " ");
        tput(q, lh_incident_state_name(ev->incident.state), 0);
        tprintf(q, " ");
        tput(q, lh_severity_name(ev->incident.severity), 0);
        if (ev->incident.title) {
            tprintf(q, " ");
            tput(q, ev->incident.title, 0);
        }
        break;
    case LH_KIND_TICKET:
        tput(q, ev->ticket.ticket_id, 0);
        tprintf(q, " ");
        tput(q, lh_ticket_state_name(ev->ticket.state), 0);
        if (ev->ticket.type) {
            tprintf(q, " (");
            tput(q, lh_ticket_type_name(ev->ticket.type), 0);
            tprintf(q, ")");
        }
        break;
    default:
        break;
    }
}

static void
tevents(qctx_t *q, const char *title, const qlist_t *l, size_t shown)
{
    tprintf(q, "\n%s (%lld)\n", title, (long long)l->total);
    widths_t w = widths_of(l->ev, shown);
    for (size_t i = 0; i < shown; i++) {
        tevent(q, l->ev[i], w);
        tprintf(q, "\n");
    }
    int64_t more = l->total - (int64_t)shown;
    if (more > 0 && q->req->limit > 0 && (int64_t)shown >= q->req->limit)
        tprintf(q, "  ... %lld more events not shown (--limit %lld)\n", (long long)more,
                (long long)q->req->limit);
    if (q->unreadable)
        tprintf(q, "  (%lld stored events could not be decoded; see the log)\n",
                (long long)q->unreadable);
}

/* "<version> <- <previous_version> by <actor>", each part only when o (a suspect or a deploy)
 * has it. */
static void
tversion(qctx_t *q, const json_t *o)
{
    tput(q, js(o, "version"), 0);
    if (js(o, "previous_version")) {
        tprintf(q, " <- ");
        tput(q, js(o, "previous_version"), 0);
    }
    if (js(o, "actor")) {
        tprintf(q, " by ");
        tput(q, js(o, "actor"), 0);
    }
}

static void
treasons(qctx_t *q, const json_t *o, const char *indent)
{
    json_t *r = json_object_get(o, "reasons");
    for (size_t i = 0; i < json_array_size(r); i++) {
        tprintf(q, "%s- ", indent);
        tput(q, json_string_value(json_array_get(r, i)), 0);
        tprintf(q, "\n");
    }
}

static void
ttickets(qctx_t *q)
{
    json_t *t = json_object_get(q->doc, "tickets");
    tprintf(q, "\ntickets (%zu)\n", json_array_size(t));
    widths_t w = widths_of(q->tickets.ev, q->tickets.n);
    for (size_t i = 0; i < q->tickets.n; i++) {
        tevent(q, q->tickets.ev[i], w);
        if (q->tickets.ev[i]->ticket.url) {
            tprintf(q, "  ");
            tput(q, q->tickets.ev[i]->ticket.url, 0);
        }
        tprintf(q, "\n");
    }
}

static void
text_incident(qctx_t *q)
{
    json_t *d = q->doc;
    tprintf(q, "incident ");
    tput(q, js(d, "incident_id"), 0);
    tprintf(q, "  ");
    tput(q, js(d, "severity"), 0);
    tprintf(q, "  ");
    tput(q, js(d, "service"), 0);
    tprintf(q, "/");
    tput(q, js(d, "environment"), 0);
    if (js(d, "title")) {
        tprintf(q, "  \"");
        tput(q, js(d, "title"), 0);
        tprintf(q, "\"");
    }
    tprintf(q, "\n  started   ");
    tput(q, js(d, "started"), 0);
    if (js(d, "resolved")) {
        tprintf(q, "\n  resolved  ");
        tput(q, js(d, "resolved"), 0);
        tprintf(q, "  (after ");
        tdur(q, ji(d, "time_to_resolve_seconds") * LH_NS_PER_SEC);
        tprintf(q, ")\n");
    } else {
        tprintf(q, "\n  not resolved\n");
    }
    tevents(q, "events", &q->events, shown_of(q, &q->events));

    json_t *sus = json_object_get(d, "suspects");
    tprintf(q, "\nsuspects (%zu)\n", json_array_size(sus));
    if (json_array_size(sus) == 0)
        tprintf(q, "  none: no deploy preceded this incident within the window\n");
    for (size_t i = 0; i < json_array_size(sus); i++) {
        json_t *o = json_array_get(sus, i);
        tprintf(q, "  #%lld  ", (long long)ji(o, "rank"));
        tput(q, js(o, "deploy_id"), 0);
        tprintf(q, "  ");
        tversion(q, o);
        tprintf(q, "  ");
        tput(q, js(o, "service"), 0);
        tprintf(q, "/");
        tput(q, js(o, "environment"), 0);
        tprintf(q, "  score %.2f  deployed ", json_real_value(json_object_get(o, "score")));
        tdur(q, ji(o, "lead_seconds") * LH_NS_PER_SEC);
        tprintf(q, " before");
        if (js(o, "status")) {
            tprintf(q, "  now ");
            tput(q, js(o, "status"), 0);
        }
        if (json_is_true(json_object_get(o, "late")))
            tprintf(q, "  [late]");
        tprintf(q, "\n");
        treasons(q, o, "       ");
        if (js(o, "previous_version")) {
            tprintf(q, "       roll back to ");
            tput(q, js(o, "previous_version"), 0);
            tprintf(q, "\n");
        }
    }

    json_t *al = json_object_get(d, "alerts");
    tprintf(q, "\nalerts sent (%zu)\n", json_array_size(al));
    for (size_t i = 0; i < json_array_size(al); i++) {
        json_t *o = json_array_get(al, i);
        tprintf(q, "  seq %-6lld  ", (long long)ji(o, "seq"));
        tput(q, js(o, "created"), 20);
        tprintf(q, "  ");
        tput(q, js(o, "kind"), 0);
        tprintf(q, "  ");
        tput(q, js(o, "id"), 0);
        if (json_is_true(json_object_get(o, "late")))
            tprintf(q, "  [late]");
        tprintf(q, "\n");
    }
    ttickets(q);
}

static void
text_deploy(qctx_t *q)
{
    json_t *d = q->doc;
    tprintf(q, "change ");
    tput(q, js(d, "deploy_id"), 0);
    tprintf(q, "  ");
    tput(q, js(d, "service"), 0);
    tprintf(q, "/");
    tput(q, js(d, "environment"), 0);
    tprintf(q, "  ");
    tversion(q, d);
    tprintf(q, "\n  outcome class  ");
    tput(q, js(d, "class"), 0);
    tprintf(q, "\n  status         ");
    tput(q, js(d, "status"), 0);
    tprintf(q, "\n  changed        ");
    tput(q, js(d, "change_time"), 0);
    tprintf(q, "  (window ");
    tput(q, js(d, "window"), 0);
    tprintf(q, ", until ");
    tput(q, js(d, "window_ends"), 0);
    tprintf(q, ")\n");
    if (js(d, "change_ticket")) {
        tprintf(q, "  change ticket  ");
        tput(q, js(d, "change_ticket"), 0);
        tprintf(q, "\n");
    }
    tevents(q, "events", &q->events, shown_of(q, &q->events));

    json_t *outs = json_object_get(d, "outcomes");
    tprintf(q, "\noutcomes (%zu)\n", json_array_size(outs));
    widths_t w = widths_of(q->outcomes.ev, q->outcomes.n);
    for (size_t i = 0; i < json_array_size(outs) && i < q->outcomes.n; i++) {
        json_t *o = json_array_get(outs, i);
        tevent(q, q->outcomes.ev[i], w);
        tprintf(q, "\n       suspect #%lld of %lld, score %.2f, ", (long long)ji(o, "rank"),
                (long long)ji(o, "suspects"), json_real_value(json_object_get(o, "score")));
        tdur(q, ji(o, "lead_seconds") * LH_NS_PER_SEC);
        tprintf(q, " after the change");
        if (json_is_true(json_object_get(o, "late")))
            tprintf(q, " [late]");
        if (json_object_get(o, "alert_seq") && !json_is_null(json_object_get(o, "alert_seq")))
            tprintf(q, ", alert seq %lld", (long long)ji(o, "alert_seq"));
        if (js(o, "resolved")) {
            tprintf(q, ", resolved ");
            tput(q, js(o, "resolved"), 0);
        }
        tprintf(q, "\n");
        treasons(q, o, "       ");
    }
    ttickets(q);
}

static void
text_service(qctx_t *q)
{
    json_t *d = q->doc;
    tput(q, js(d, "service"), 0);
    tprintf(q, "/");
    tput(q, js(d, "environment"), 0);
    tprintf(q, "  since ");
    tput(q, js(d, "from"), 0);
    tprintf(q, " (last ");
    tput(q, js(d, "since"), 0);
    tprintf(q, ")\n");
    tevents(q, "events", &q->events, shown_of(q, &q->events));
    json_t *al = json_object_get(d, "alerts");
    tprintf(q, "\ncorrelated alerts (%zu)\n", json_array_size(al));
    for (size_t i = 0; i < json_array_size(al); i++) {
        json_t *o = json_array_get(al, i);
        tprintf(q, "  seq %-6lld  ", (long long)ji(o, "seq"));
        tput(q, js(o, "created"), 20);
        tprintf(q, "  ");
        tput(q, js(o, "kind"), 0);
        tprintf(q, "  outcome ");
        tput(q, js(o, "outcome_id"), 0);
        json_t *sus = json_object_get(o, "suspects");
        for (size_t k = 0; k < json_array_size(sus); k++) {
            json_t *x = json_array_get(sus, k);
            tprintf(q, k ? ", " : "  suspects ");
            tput(q, js(x, "deploy_id"), 0);
            if (js(x, "version")) {
                tprintf(q, " (");
                tput(q, js(x, "version"), 0);
                if (js(x, "previous_version")) {
                    tprintf(q, " <- ");
                    tput(q, js(x, "previous_version"), 0);
                }
                tprintf(q, ")");
            }
        }
        if (json_is_true(json_object_get(o, "late")))
            tprintf(q, "  [late]");
        tprintf(q, "\n");
    }
}

/* --- entry point ---------------------------------------------------------------------------- */

int
lh_query_timeline(lh_store_t *st, const lh_timeline_req_t *req, lh_query_format_t fmt,
                  lh_buf_t *out)
{
    if (!st || !req || !out || req->limit < 0 || (fmt != LH_QUERY_TEXT && fmt != LH_QUERY_JSON))
        return LH_EINVAL;
    switch (req->mode) {
    case LH_TIMELINE_INCIDENT:
        if (!req->incident_id || !*req->incident_id)
            return LH_EINVAL;
        break;
    case LH_TIMELINE_DEPLOY:
        if (!req->deploy_id || !*req->deploy_id || req->window_ns < 0)
            return LH_EINVAL;
        break;
    case LH_TIMELINE_SERVICE:
        if (!req->service || !*req->service || !req->environment || !*req->environment ||
            req->since_ns < 0)
            return LH_EINVAL;
        break;
    default:
        return LH_EINVAL;
    }
    qctx_t q = {.st = st, .db = lh__store_db(st), .req = req, .out = out};
    q.now = req->now_ns ? req->now_ns : lh_now_ns();
    if (!q.db)
        return LH_EINVAL;

    if (req->mode == LH_TIMELINE_INCIDENT)
        gather_incident(&q);
    else if (req->mode == LH_TIMELINE_DEPLOY)
        gather_deploy(&q);
    else
        gather_service(&q);
    if (!q.err && !q.doc)
        q.err = LH_ENOMEM;

    if (!q.err && fmt == LH_QUERY_JSON) {
        char *s = json_dumps(q.doc, JSON_COMPACT | JSON_REAL_PRECISION(6));
        if (!s || lh_buf_append(out, s, strlen(s)) < 0)
            q.err = LH_ENOMEM;
        free(s);
    } else if (!q.err) {
        if (req->mode == LH_TIMELINE_INCIDENT)
            text_incident(&q);
        else if (req->mode == LH_TIMELINE_DEPLOY)
            text_deploy(&q);
        else
            text_service(&q);
    }
    json_decref(q.doc);
    list_free(&q.events);
    list_free(&q.outcomes);
    list_free(&q.tickets);
    return q.err;
}
