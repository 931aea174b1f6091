/*
 * query_gather.c - reading the store for a timeline: the events of an incident, a deploy or a
 * service, the correlator's conclusions (correlations, alerts), linked tickets, and a change's
 * outcome class. Only SELECT statements of query_sql.h; a row that cannot be decoded is
 * counted as unreadable, never dropped silently.
 */
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
#include "query_internal.h"
#include "query_sql.h"

#define COMPONENT "query"

/* --- store access ------------------------------------------------------------------------- */

sqlite3_stmt *
lh__q_prep(qctx_t *q, const char *sql)
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

int lh__q_threads_mode;

void
lh__q_test_threads(int mode)
{
    lh__q_threads_mode = mode;
}

sqlite3 *
lh__q_open_twin(qctx_t *q)
{
    const char *path = q->err ? NULL : sqlite3_db_filename(q->db, "main");
    sqlite3 *db = NULL;
    if (!path || !*path || lh__q_threads_mode == 1)
        return NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* sqlite3_step wrapper: 1 on a row, 0 when done (or after an error, recorded in q->err). */
int
lh__q_step(qctx_t *q, sqlite3_stmt *s)
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

void
lh__q_bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

#define step lh__q_step
#define col_text lh__q_col_text

const char *
lh__q_col_text(sqlite3_stmt *s, int i)
{
    return (const char *)sqlite3_column_text(s, i);
}

int
lh__q_list_push(qctx_t *q, qlist_t *l, lh_event_t *ev, int64_t seq)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        lh_event_t **p = realloc(l->ev, cap * sizeof(*p));
        if (p)
            l->ev = p;
        int64_t *ps = p ? realloc(l->seq, cap * sizeof(*ps)) : NULL;
        if (!ps) {
            q->err = LH_ENOMEM;
            return LH_ENOMEM;
        }
        l->seq = ps;
        l->cap = cap;
    }
    l->seq[l->n] = seq;
    l->ev[l->n++] = ev;
    return 0;
}

void
lh__q_list_free(qlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        lh_event_destroy(&l->ev[i]);
    free(l->ev);
    free(l->seq);
    memset(l, 0, sizeof(*l));
}

/* Decodes the canonical protobuf in column col of the current row and completes it from the
 * columns after it. NULL (counted in q->unreadable, logged) when it or its set of labels cannot be
 * decoded; NULL with q->err set on out of memory. */
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
    /* the columns it leaves out follow the event in every statement (query_sql.h) */
    if ((rc = lh_store_event_complete_row(ev, s, col)) < 0) {
        lh_event_destroy(&ev);
        if (rc == LH_ENOMEM) {
            q->err = LH_ENOMEM;
            return NULL;
        }
        lh_log(LH_LOG_WARN, COMPONENT, "stored event seq %lld cannot be read: %s",
               (long long)sqlite3_column_int64(s, seq_col), LH_STORE_LABELS_UNREADABLE);
        q->unreadable++;
        return NULL;
    }
    return ev;
}

/* Steps a (seq, event) statement to the end: decodes the first `decode` rows (0: all) into l
 * and counts every row in l->total. */
void
lh__q_load_events(qctx_t *q, sqlite3_stmt *s, qlist_t *l, int64_t decode)
{
    while (step(q, s)) {
        l->total++;
        if (decode && (int64_t)l->n >= decode)
            continue;
        lh_event_t *ev = decode_col(q, s, 0, 1);
        if (ev && lh__q_list_push(q, l, ev, sqlite3_column_int64(s, 0)) < 0)
            lh_event_destroy(&ev);
    }
}

/* Loads every event of the subject (an incident or a deploy: sql selects them by its id) into
 * q->events. Returns 0, or -1 with q->err set (LH_ENOTFOUND when the store has none). */
int
lh__q_load_subject(qctx_t *q, const char *sql, const char *id)
{
    sqlite3_stmt *s = lh__q_prep(q, sql);
    if (s) {
        lh__q_bind_text(s, 1, id);
        lh__q_load_events(q, s, &q->events, 0);
    }
    sqlite3_finalize(s);
    if (!q->err && q->events.total == 0)
        q->err = LH_ENOTFOUND;
    return q->err ? -1 : 0;
}

/* --- tickets -------------------------------------------------------------------------------- */
void
lh__q_gather_tickets(qctx_t *q, const char *id, const char *ticket_id)
{
    sqlite3_stmt *s = lh__q_prep(q, LH_Q_TICKETS);
    json_t *arr = json_array();
    if (s) {
        lh__q_bind_text(s, 1, id);
        lh__q_bind_text(s, 2, ticket_id);
        lh__q_load_events(q, s, &q->tickets, 0);
    }
    sqlite3_finalize(s);
    for (size_t i = 0; i < q->tickets.n && arr; i++)
        lh__q_jpush(q, arr, lh__q_event_json(q, q->tickets.ev[i]));
    lh__q_jset(q, q->doc, "tickets", arr);
}

/* --- change class ------------------------------------------------------------------------- */

static int
change_class(qctx_t *q, const char *deploy_id, const char *env, int by_env, int64_t window_ns,
             lh_change_class_t *out, int64_t *change_time)
{
    int64_t n = 0, t0 = 0, n_corr = 0;
    int rolled_back = 0, failed = 0, top = 0;
    sqlite3_stmt *s = lh__q_prep(q, LH_Q_CHANGE_FACTS);
    if (s) {
        lh__q_bind_text(s, 1, deploy_id);
        lh__q_bind_text(s, 2, env);
        sqlite3_bind_int(s, 3, by_env);
        if (step(q, s)) {
            n = sqlite3_column_int64(s, 0);
            t0 = sqlite3_column_int64(s, 1);
            rolled_back = sqlite3_column_int(s, 2);
            failed = sqlite3_column_int(s, 3);
        }
    }
    sqlite3_finalize(s);
    s = lh__q_prep(q, LH_Q_CHANGE_CORRELATIONS);
    if (s) {
        lh__q_bind_text(s, 1, deploy_id);
        lh__q_bind_text(s, 2, env);
        sqlite3_bind_int(s, 3, by_env);
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
    return change_class(&q, deploy_id, NULL, 0, window_ns, out, NULL);
}

/* --- deploy --------------------------------------------------------------------------------- */

void
lh__q_gather_deploy(qctx_t *q)
{
    const char *did = q->req->deploy_id, *env = q->req->environment;
    if (lh__q_load_subject(q, LH_Q_DEPLOY_EVENTS, did) < 0)
        return;
    /* a change is a deploy id in one environment: the same id deployed to staging and prod is
     * two changes, and a request must say which (docs/correlation.md) */
    size_t k = 0;
    int other = 0, match = !env;
    for (size_t i = 0; i < q->events.n; i++) {
        const char *e = q->events.ev[i]->environment, *e0 = q->events.ev[0]->environment;
        if (env && e && !strcmp(e, env))
            match = 1;
        if ((e == NULL) != (e0 == NULL) || (e && strcmp(e, e0)))
            other = 1;
    }
    if (!match) {
        q->err = LH_ENOTFOUND;
        return;
    }
    if (other && !env) {
        q->err = LH_EAMBIGUOUS;
        return;
    }
    if (env) { /* keep that environment's events */
        for (size_t i = 0; i < q->events.n; i++) {
            const char *e = q->events.ev[i]->environment;
            if (e && !strcmp(e, env)) {
                lh_event_t *t = q->events.ev[k];
                q->events.ev[k] = q->events.ev[i];
                q->events.ev[i] = t;
                int64_t ts = q->events.seq[k];
                q->events.seq[k] = q->events.seq[i];
                q->events.seq[i] = ts;
                k++;
            }
        }
        for (size_t i = k; i < q->events.n; i++)
            lh_event_destroy(&q->events.ev[i]);
        q->events.total = (int64_t)k;
        q->events.n = k;
    }
    lh_change_class_t cls;
    int64_t t0 = 0;
    int rc = change_class(q, did, env, env != NULL, q->req->window_ns, &cls, &t0);
    if (rc < 0) {
        q->err = rc;
        return;
    }

    char wbuf[40] = "";
    lh_duration_format(q->req->window_ns, wbuf, sizeof(wbuf));

    q->doc = json_object();
    lh__q_jset(q, q->doc, "query", json_string("deploy"));
    lh__q_jset(q, q->doc, "deploy_id", json_string(did));
    lh__q_change_json(q, q->doc, q->events.ev, q->events.n);
    lh__q_jset(q, q->doc, "class", json_string(lh_change_class_name(cls)));
    lh__q_jset(q, q->doc, "change_time", lh__q_jtime(t0));
    lh__q_jset(q, q->doc, "window", json_string(wbuf));
    lh__q_jset(q, q->doc, "window_ends", lh__q_jtime(t0 + q->req->window_ns));
    lh__q_doc_events(q, &q->events, lh__q_shown_of(q, &q->events));

    json_t *outs = json_array();
    sqlite3_stmt *s = lh__q_prep(q, LH_Q_DEPLOY_OUTCOMES);
    if (s) {
        lh__q_bind_text(s, 1, did);
        lh__q_bind_text(s, 2, env);
        sqlite3_bind_int(s, 3, env != NULL);
    }
    while (s && outs && step(q, s)) {
        lh_event_t *ev = decode_col(q, s, 9, 10);
        if (!ev)
            continue;
        if (lh__q_list_push(q, &q->outcomes, ev, sqlite3_column_int64(s, 9)) < 0) {
            lh_event_destroy(&ev);
            break;
        }
        json_t *o = json_object();
        lh__q_jset(q, o, "event", lh__q_event_json(q, ev));
        lh__q_jset(q, o, "rank", json_integer(sqlite3_column_int64(s, 1)));
        lh__q_jset(q, o, "suspects", json_integer(sqlite3_column_int64(s, 6)));
        lh__q_jset(q, o, "top", json_boolean(sqlite3_column_int64(s, 1) == 1));
        lh__q_jset(q, o, "score", json_real(sqlite3_column_double(s, 0)));
        lh__q_jset(q, o, "lead_seconds", json_integer(sqlite3_column_int64(s, 2)));
        lh__q_jset(q, o, "reasons", lh__q_jreasons(col_text(s, 3)));
        lh__q_jset(q, o, "late", json_boolean(sqlite3_column_int(s, 4)));
        lh__q_jset(q, o, "alert_seq",
                   sqlite3_column_type(s, 5) == SQLITE_NULL
                       ? json_null()
                       : json_integer(sqlite3_column_int64(s, 5)));
        lh__q_jset(q, o, "alert_id", lh__q_jstr(col_text(s, 8)));
        lh__q_jset(q, o, "resolved",
                   sqlite3_column_type(s, 7) == SQLITE_NULL
                       ? json_null()
                       : lh__q_jtime(sqlite3_column_int64(s, 7)));
        lh__q_jpush(q, outs, o);
    }
    sqlite3_finalize(s);
    lh__q_jset(q, q->doc, "outcomes", outs);

    lh__q_gather_tickets(q, did, lh__q_js(q->doc, "change_ticket"));
}

/* --- service -------------------------------------------------------------------------------- */

void
lh__q_gather_service(qctx_t *q)
{
    const lh_timeline_req_t *r = q->req;
    sqlite3_stmt *s = lh__q_prep(q, r->limit ? LH_Q_SERVICE_EVENTS_NEWEST : LH_Q_SERVICE_EVENTS);
    if (s) {
        sqlite3_bind_int64(s, 1, q->from);
        lh__q_bind_text(s, 2, r->service);
        lh__q_bind_text(s, 3, r->environment);
        sqlite3_bind_int64(s, 4, q->to);
        lh__q_load_events(q, s, &q->events, r->limit);
    }
    sqlite3_finalize(s);
    if (q->err)
        return;
    /* newest first from the store: back to time order */
    for (size_t i = 0, j = q->events.n; r->limit && i + 1 < j; i++, j--) {
        lh_event_t *t = q->events.ev[i];
        q->events.ev[i] = q->events.ev[j - 1];
        q->events.ev[j - 1] = t;
        int64_t ts = q->events.seq[i];
        q->events.seq[i] = q->events.seq[j - 1];
        q->events.seq[j - 1] = ts;
    }
    char sbuf[40] = "";
    if (!r->from_ns)
        lh_duration_format(r->since_ns, sbuf, sizeof(sbuf));
    q->doc = json_object();
    lh__q_jset(q, q->doc, "query", json_string("service"));
    lh__q_jset(q, q->doc, "service", lh__q_jstr(r->service));
    lh__q_jset(q, q->doc, "environment", lh__q_jstr(r->environment));
    lh__q_jset(q, q->doc, "since", sbuf[0] ? json_string(sbuf) : json_null());
    lh__q_jset(q, q->doc, "from", lh__q_jtime(q->from));
    lh__q_jset(q, q->doc, "to", lh__q_jtime(q->to));
    lh__q_doc_events(q, &q->events, lh__q_shown_of(q, &q->events));

    json_t *alerts = json_array();
    s = lh__q_prep(q, LH_Q_SERVICE_ALERTS);
    sqlite3_stmt *ss = lh__q_prep(q, LH_Q_OUTCOME_SUSPECTS);
    if (s) {
        sqlite3_bind_int64(s, 1, q->from);
        lh__q_bind_text(s, 2, r->service);
        lh__q_bind_text(s, 3, r->environment);
        sqlite3_bind_int64(s, 4, q->to);
    }
    while (s && ss && alerts && step(q, s)) {
        json_t *o = json_object();
        lh__q_jset(q, o, "seq", json_integer(sqlite3_column_int64(s, 0)));
        lh__q_jset(q, o, "id", lh__q_jstr(col_text(s, 1)));
        lh__q_jset(q, o, "kind", lh__q_jstr(lh_ca_kind_name(sqlite3_column_int(s, 2))));
        lh__q_jset(q, o, "late", json_boolean(sqlite3_column_int(s, 3)));
        lh__q_jset(q, o, "created", lh__q_jtime(sqlite3_column_int64(s, 4)));
        lh__q_jset(q, o, "outcome_id", lh__q_jstr(col_text(s, 6)));
        lh__q_jset(q, o, "outcome_time", lh__q_jtime(sqlite3_column_int64(s, 7)));
        json_t *sus = json_array();
        sqlite3_reset(ss);
        sqlite3_bind_int64(ss, 1, sqlite3_column_int64(s, 5));
        while (sus && step(q, ss)) {
            json_t *x = json_object();
            lh__q_jset(q, x, "deploy_id", lh__q_jstr(col_text(ss, 0)));
            lh__q_jset(q, x, "rank", json_integer(sqlite3_column_int64(ss, 1)));
            lh__q_jset(q, x, "score", json_real(sqlite3_column_double(ss, 2)));
            lh__q_jset(q, x, "version", lh__q_jstr(col_text(ss, 3)));
            lh__q_jset(q, x, "previous_version", lh__q_jstr(col_text(ss, 4)));
            lh__q_jpush(q, sus, x);
        }
        lh__q_jset(q, o, "suspects", sus);
        lh__q_jpush(q, alerts, o);
    }
    sqlite3_finalize(ss);
    sqlite3_finalize(s);
    lh__q_jset(q, q->doc, "alerts", alerts);
}
