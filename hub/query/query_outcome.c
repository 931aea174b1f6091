/*
 * query_outcome.c - an outcome's timeline (`loophub timeline --incident ID`): the whole story of
 * one incident or monitoring alert the correlator concluded on, opened by any id a responder
 * has in hand.
 *
 * ID is tried, each with one index lookup, as: a correlated alert id (`ca-...`, the id
 * `loophub tail` prints: cases), an incident id (ev_incident_id), the id of any event of an
 * outcome (a monitoring alert's `am-...` that made a revision, an incident update), an alert id
 * of a store migrated from schema 3 (alerts, no case row). An incident or event id opens that
 * outcome (its events, its resolution), with the other outcomes of its correlated alert
 * listed beside it; a correlated alert id opens every outcome the alert stands for (resolved
 * when all are).
 *
 * The document: the outcomes and their events; each suspect with its change events, hosts,
 * commit, commit time, actor, artifact, labels and linked tickets with their approval state;
 * the other monitoring alerts on the service and its hosts in the window (from the window
 * before the outcome's start until its resolution, or now); every revision of the correlated
 * alert as published (decoded from the outbox); the resolution and the time to restore.
 *
 * A store whose correlator wrote no outcome rows (an older hub) still opens by incident id:
 * the incident's events and the correlations of each of them, as before.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loophub/correlated.h"
#include "loophub/error.h"
#include "loophub/format.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"
#include "query_internal.h"
#include "query_sql.h"

#define COMPONENT "query"

/* What an ID opened: the outcomes (okeys: each outcome's key, its first event's seq as text),
 * the correlated alert, or the fallbacks. */
typedef struct {
    char **okeys;
    size_t n_okeys;
    char *case_id;     /* the correlated alert, when known */
    char *incident_id; /* the ID was an incident id (or the alert's outcome is an incident) */
    int64_t event_seq; /* an alert id of a migrated store: its one outcome event */
    int case_outcomes; /* okeys are the outcomes of case_id */
    char *primary;     /* the outcome ID named (an okey), NULL when ID named the whole alert */
} subject_t;

static void
subject_free(subject_t *sj)
{
    for (size_t i = 0; i < sj->n_okeys; i++)
        free(sj->okeys[i]);
    free(sj->okeys);
    free(sj->case_id);
    free(sj->incident_id);
    free(sj->primary);
    memset(sj, 0, sizeof(*sj));
}

static char *
dup_or_oom(qctx_t *q, const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d && !q->err)
        q->err = LH_ENOMEM;
    return d;
}

/* The first column of the first row of sql bound to id (a copy), or NULL. */
static char *
one_text(qctx_t *q, const char *sql, const char *id)
{
    sqlite3_stmt *s = lh__q_prep(q, sql);
    char *r = NULL;
    if (s) {
        lh__q_bind_text(s, 1, id);
        if (lh__q_step(q, s))
            r = dup_or_oom(q, lh__q_col_text(s, 0));
    }
    sqlite3_finalize(s);
    return r;
}

static void
add_okey(qctx_t *q, subject_t *sj, char *okey)
{
    if (!okey)
        return;
    char **p = realloc(sj->okeys, (sj->n_okeys + 1) * sizeof(*p));
    if (!p) {
        free(okey);
        q->err = LH_ENOMEM;
        return;
    }
    sj->okeys = p;
    sj->okeys[sj->n_okeys++] = okey;
}

static void
case_okeys(qctx_t *q, subject_t *sj)
{
    sqlite3_stmt *s = lh__q_prep(q, LH_Q_CASE_OUTCOMES);
    if (s)
        lh__q_bind_text(s, 1, sj->case_id);
    while (s && lh__q_step(q, s))
        add_okey(q, sj, dup_or_oom(q, lh__q_col_text(s, 0)));
    sqlite3_finalize(s);
    sj->case_outcomes = sj->n_okeys > 0;
}

/* Opens id (see the header). Returns 0, or -1 with q->err set (LH_ENOTFOUND: nothing). */
static int
resolve(qctx_t *q, const char *id, subject_t *sj)
{
    sqlite3_stmt *s = lh__q_prep(q, LH_Q_CASE);
    if (s) {
        lh__q_bind_text(s, 1, id);
        if (lh__q_step(q, s))
            sj->case_id = dup_or_oom(q, id);
    }
    sqlite3_finalize(s);
    if (sj->case_id)
        case_okeys(q, sj);

    if (!sj->n_okeys) {
        char *first = one_text(q, LH_Q_INCIDENT_FIRST, id);
        if (first) {
            sj->incident_id = dup_or_oom(q, id);
            add_okey(q, sj, one_text(q, LH_Q_OUTCOME_OF_EVENT, first));
            free(first);
        } else {
            add_okey(q, sj, one_text(q, LH_Q_OUTCOME_OF_EVENT, id));
        }
    }
    if (!sj->n_okeys && !sj->incident_id) {
        /* an alert id whose correlated alert has no case row (schema 3) */
        s = lh__q_prep(q, LH_Q_ALERT_OUTCOME);
        if (s) {
            lh__q_bind_text(s, 1, id);
            if (lh__q_step(q, s)) {
                if (!sj->case_id)
                    sj->case_id = dup_or_oom(q, id);
                add_okey(q, sj, one_text(q, LH_Q_OUTCOME_OF_EVENT, lh__q_col_text(s, 1)));
                if (!sj->n_okeys && sqlite3_column_int(s, 2) == LH_KIND_INCIDENT &&
                    lh__q_col_text(s, 3))
                    sj->incident_id = dup_or_oom(q, lh__q_col_text(s, 3));
                else if (!sj->n_okeys)
                    sj->event_seq = sqlite3_column_int64(s, 0);
            }
        }
        sqlite3_finalize(s);
    }
    if (!q->err && !sj->n_okeys && !sj->incident_id && !sj->event_seq)
        q->err = LH_ENOTFOUND;
    if (q->err)
        return -1;

    /* an outcome of a correlated alert: that outcome, and every other one the alert stands
     * for beside it */
    if (sj->n_okeys == 1 && !sj->case_outcomes)
        sj->primary = dup_or_oom(q, sj->okeys[0]);
    if (sj->n_okeys == 1 && !sj->case_id) {
        s = lh__q_prep(q, LH_Q_OUTCOME);
        if (s) {
            lh__q_bind_text(s, 1, sj->okeys[0]);
            if (lh__q_step(q, s) && lh__q_col_text(s, 12))
                sj->case_id = dup_or_oom(q, lh__q_col_text(s, 12));
        }
        sqlite3_finalize(s);
        if (sj->case_id) {
            char *keep = sj->okeys[0];
            sj->n_okeys = 0;
            case_okeys(q, sj);
            if (!sj->n_okeys)
                add_okey(q, sj, keep);
            else
                free(keep);
        }
    }
    return q->err ? -1 : 0;
}

/* --- the document's parts ------------------------------------------------------------------- */

/* "a b c" -> ["a", "b", "c"] */
json_t *
lh__q_split_hosts(const char *s)
{
    json_t *a = json_array();
    while (a && s && *s) {
        const char *e = strchr(s, ' ');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n) {
            json_t *v = json_stringn(s, n);
            if (v)
                json_array_append_new(a, v);
        }
        s += n;
        while (*s == ' ')
            s++;
    }
    return a;
}

/* The outcomes (outcome rows; "opened": the one ID named), and *resolved: that outcome's
 * resolution, or with ID naming the whole alert the latest resolution when every outcome is
 * resolved; 0 while open (-1: no outcome rows). */
static json_t *
outcomes_json(qctx_t *q, const subject_t *sj, int64_t *resolved)
{
    json_t *arr = json_array();
    sqlite3_stmt *s = lh__q_prep(q, LH_Q_OUTCOME);
    *resolved = sj->n_okeys ? 0 : -1;
    int open = 0;
    for (size_t i = 0; s && arr && i < sj->n_okeys; i++) {
        int counts = !sj->primary || !strcmp(sj->primary, sj->okeys[i]);
        sqlite3_reset(s);
        lh__q_bind_text(s, 1, sj->okeys[i]);
        if (!lh__q_step(q, s))
            continue;
        json_t *o = json_object();
        lh__q_jset(q, o, "kind", lh__q_jstr(lh_kind_name(sqlite3_column_int(s, 0))));
        lh__q_jset(q, o, "ref", lh__q_jstr(lh__q_col_text(s, 1)));
        lh__q_jset(q, o, "service", lh__q_jstr(lh__q_col_text(s, 2)));
        lh__q_jset(q, o, "environment", lh__q_jstr(lh__q_col_text(s, 3)));
        lh__q_jset(q, o, "time", lh__q_jtime(sqlite3_column_int64(s, 4)));
        lh__q_jset(q, o, "event_id", lh__q_jstr(lh__q_col_text(s, 6)));
        lh__q_jset(q, o, "title", lh__q_jstr(lh__q_col_text(s, 7)));
        lh__q_jset(q, o, "hosts", lh__q_split_hosts(lh__q_col_text(s, 8)));
        lh__q_jset(q, o, "artifact", lh__q_jstr(lh__q_col_text(s, 9)));
        int is_open = sqlite3_column_int(s, 10) != 0;
        int64_t r = sqlite3_column_int64(s, 11);
        lh__q_jset(q, o, "open", json_boolean(is_open));
        lh__q_jset(q, o, "resolved", is_open ? json_null() : lh__q_jtime(r));
        lh__q_jset(q, o, "opened", json_boolean(sj->primary && counts));
        if (counts && is_open)
            open = 1;
        else if (counts && r > *resolved)
            *resolved = r;
        lh__q_jpush(q, arr, o);
    }
    sqlite3_finalize(s);
    if (open)
        *resolved = 0;
    return arr;
}

/* Ticket events (time order) summed up per ticket id: its type, latest state, approval (the
 * latest approved or rejected state: "approved", "rejected", or "none" yet) and when, url and
 * summary. */
json_t *
lh__q_ticket_summary(qctx_t *q, const qlist_t *l)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < l->n && arr; i++) {
        const lh_event_t *ev = l->ev[i];
        const char *tid = ev->ticket.ticket_id ? ev->ticket.ticket_id : ev->id;
        json_t *o = NULL;
        for (size_t k = 0; k < json_array_size(arr) && !o; k++)
            if (!strcmp(lh__q_js(json_array_get(arr, k), "ticket_id"), tid))
                o = json_array_get(arr, k);
        if (!o) {
            o = json_object();
            lh__q_jset(q, o, "ticket_id", lh__q_jstr(tid));
            lh__q_jset(q, o, "approval", json_string("none"));
            lh__q_jset(q, o, "approval_time", json_null());
            lh__q_jset(q, o, "events", json_integer(0));
            lh__q_jpush(q, arr, o);
            if (q->err)
                break;
        }
        if (ev->ticket.type)
            lh__q_jset(q, o, "type", lh__q_jstr(lh_ticket_type_name(ev->ticket.type)));
        if (ev->ticket.state)
            lh__q_jset(q, o, "state", lh__q_jstr(lh_ticket_state_name(ev->ticket.state)));
        if (ev->ticket.state == LH_TICKET_APPROVED || ev->ticket.state == LH_TICKET_REJECTED) {
            lh__q_jset(q, o, "approval", json_string(lh_ticket_state_name(ev->ticket.state)));
            lh__q_jset(q, o, "approval_time", lh__q_jtime(ev->time_ns));
        }
        if (ev->ticket.url)
            lh__q_jset(q, o, "url", lh__q_jstr(ev->ticket.url));
        if (ev->ticket.summary)
            lh__q_jset(q, o, "summary", lh__q_jstr(ev->ticket.summary));
        lh__q_jset(q, o, "last_update", lh__q_jtime(ev->time_ns));
        lh__q_jset(q, o, "events", json_integer(lh__q_ji(o, "events") + 1));
    }
    return arr;
}

static int
has_deploy(const json_t *sus, const char *did)
{
    for (size_t i = 0; i < json_array_size(sus); i++) {
        const char *x = lh__q_js(json_array_get(sus, i), "deploy_id");
        if (did && x && !strcmp(x, did))
            return 1;
    }
    return 0;
}

/* One suspect's change: its events (in the environment it was blamed in, when its first event
 * is still stored), what they say of it, and its tickets. */
static void
suspect_change(qctx_t *q, json_t *o, qlist_t *chg)
{
    const char *did = lh__q_js(o, "deploy_id");
    /* gather_suspects() sets "environment" (null for none) only when the first event is there */
    int env_known = json_object_get(o, "environment") != NULL;
    const char *env = lh__q_js(o, "environment");
    sqlite3_stmt *s = lh__q_prep(q, env_known ? LH_Q_CHANGE_EVENTS_IN_ENV : LH_Q_DEPLOY_EVENTS);
    if (s) {
        lh__q_bind_text(s, 1, did);
        if (env_known)
            lh__q_bind_text(s, 2, env);
        lh__q_load_events(q, s, chg, 0);
    }
    sqlite3_finalize(s);
    /* no event left of a change a correlation names: retention deleted them */
    lh__q_jset(q, o, "expired", json_boolean(chg->total == 0 && !q->err));
    lh__q_change_json(q, o, chg->ev, chg->n);
    json_t *evs = json_array();
    for (size_t i = 0; i < chg->n && evs; i++)
        lh__q_jpush(q, evs, lh__q_event_json(q, chg->ev[i]));
    lh__q_jset(q, o, "events", evs);

    qlist_t tk = {0};
    s = lh__q_prep(q, LH_Q_TICKETS);
    if (s) {
        lh__q_bind_text(s, 1, did);
        lh__q_bind_text(s, 2, lh__q_js(o, "change_ticket"));
        lh__q_load_events(q, s, &tk, 0);
    }
    sqlite3_finalize(s);
    lh__q_jset(q, o, "tickets", lh__q_ticket_summary(q, &tk));
    lh__q_list_free(&tk);
}

/* Suspects: one per change, as first concluded (the earliest outcome event naming it, best
 * rank), each with its change (suspect_change). */
static void
gather_suspects(qctx_t *q)
{
    json_t *sus = json_array();
    sqlite3_stmt *s = lh__q_prep(q, LH_Q_SUSPECTS_OF);
    for (size_t e = 0; s && sus && e < q->events.n; e++) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, q->events.seq[e]);
        while (lh__q_step(q, s)) {
            const char *did = lh__q_col_text(s, 0);
            if (has_deploy(sus, did))
                continue;
            json_t *o = json_object();
            lh__q_jset(q, o, "deploy_id", lh__q_jstr(did));
            lh__q_jset(q, o, "event_id", lh__q_jstr(lh__q_col_text(s, 7)));
            lh__q_jset(q, o, "deploy_time",
                       sqlite3_column_type(s, 8) == SQLITE_NULL
                           ? json_null()
                           : lh__q_jtime(sqlite3_column_int64(s, 8)));
            lh__q_jset(q, o, "rank", json_integer(sqlite3_column_int64(s, 2)));
            lh__q_jset(q, o, "score", json_real(sqlite3_column_double(s, 1)));
            lh__q_jset(q, o, "lead_seconds", json_integer(sqlite3_column_int64(s, 3)));
            lh__q_jset(q, o, "reasons", lh__q_jreasons(lh__q_col_text(s, 4)));
            lh__q_jset(q, o, "late", json_boolean(sqlite3_column_int(s, 5)));
            lh__q_jset(q, o, "alert_seq",
                       sqlite3_column_type(s, 6) == SQLITE_NULL
                           ? json_null()
                           : json_integer(sqlite3_column_int64(s, 6)));
            lh__q_jset(q, o, "outcome_id", lh__q_jstr(lh__q_col_text(s, 9)));
            if (sqlite3_column_int(s, 10)) /* the change's environment, from its first event */
                lh__q_jset(q, o, "environment", lh__q_jstr(lh__q_col_text(s, 11)));
            lh__q_jpush(q, sus, o);
        }
    }
    sqlite3_finalize(s);
    size_t n = json_array_size(sus);
    q->changes = n ? calloc(n, sizeof(*q->changes)) : NULL;
    if (n && !q->changes && !q->err)
        q->err = LH_ENOMEM;
    if (q->changes)
        q->n_changes = n;
    for (size_t i = 0; i < q->n_changes && !q->err; i++)
        suspect_change(q, json_array_get(sus, i), &q->changes[i]);
    lh__q_jset(q, q->doc, "suspects", sus);
}

static int
in_list(const qlist_t *l, int64_t seq)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->seq[i] == seq)
            return 1;
    return 0;
}

/* Adds the rows of s (seq, event) that are neither the outcome's own events nor already in
 * q->others. */
static void
add_others(qctx_t *q, sqlite3_stmt *s)
{
    qlist_t got = {0};
    lh__q_load_events(q, s, &got, 0);
    for (size_t i = 0; i < got.n; i++) {
        if (!q->err && !in_list(&q->events, got.seq[i]) && !in_list(&q->others, got.seq[i]) &&
            lh__q_list_push(q, &q->others, got.ev[i], got.seq[i]) == 0)
            got.ev[i] = NULL;
        lh_event_destroy(&got.ev[i]);
    }
    got.n = 0;
    lh__q_list_free(&got);
}

/* The other monitoring alerts on the service and on the outcome's hosts, in [from, to]. */
static void
gather_others(qctx_t *q, const char *service, const char *env, json_t *hosts, int64_t from,
              int64_t to)
{
    sqlite3_stmt *s = service && env ? lh__q_prep(q, LH_Q_WINDOW_SERVICE_ALERTS) : NULL;
    if (s) {
        lh__q_bind_text(s, 1, service);
        lh__q_bind_text(s, 2, env);
        sqlite3_bind_int64(s, 3, from);
        sqlite3_bind_int64(s, 4, to);
        add_others(q, s);
    }
    sqlite3_finalize(s);
    s = env ? lh__q_prep(q, LH_Q_WINDOW_HOST_ALERTS) : NULL;
    for (size_t i = 0; s && i < json_array_size(hosts); i++) {
        sqlite3_reset(s);
        lh__q_bind_text(s, 1, json_string_value(json_array_get(hosts, i)));
        lh__q_bind_text(s, 2, env);
        sqlite3_bind_int64(s, 3, from);
        sqlite3_bind_int64(s, 4, to);
        add_others(q, s);
    }
    sqlite3_finalize(s);
    /* time order (insertion sort: the lists are short) */
    qlist_t *l = &q->others;
    for (size_t i = 1; i < l->n; i++) {
        for (size_t j = i; j > 0; j--) {
            lh_event_t *a = l->ev[j - 1], *b = l->ev[j];
            if (a->time_ns < b->time_ns || (a->time_ns == b->time_ns && l->seq[j - 1] <= l->seq[j]))
                break;
            l->ev[j - 1] = b;
            l->ev[j] = a;
            int64_t t = l->seq[j - 1];
            l->seq[j - 1] = l->seq[j];
            l->seq[j] = t;
        }
    }
    l->total = (int64_t)l->n;
    json_t *arr = json_array();
    for (size_t i = 0; i < l->n && arr; i++)
        lh__q_jpush(q, arr, lh__q_event_json(q, l->ev[i]));
    lh__q_jset(q, q->doc, "other_alerts", arr);
    lh__q_jset(q, q->doc, "other_alerts_from", lh__q_jtime(from));
    lh__q_jset(q, q->doc, "other_alerts_to", lh__q_jtime(to));
}

static void
add_id(qctx_t *q, char ***ids, size_t *n, const char *id)
{
    if (!id)
        return;
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*ids)[i], id))
            return;
    char **p = realloc(*ids, (*n + 1) * sizeof(*p));
    char *d = p ? dup_or_oom(q, id) : NULL;
    if (p)
        *ids = p;
    if (!d) {
        q->err = LH_ENOMEM;
        return;
    }
    (*ids)[(*n)++] = d;
}

/* One outbox row (LH_Q_REVISIONS) as published. The revision is the row's; what it concluded
 * comes from its payload, except that the latest revision of a resolved case is resolved
 * (case_rev, case_resolved: the cases row, 0 without one). */
static json_t *
revision_json(qctx_t *q, sqlite3_stmt *s, const char *id, int64_t case_rev, int case_resolved)
{
    int latest_resolved = case_resolved && sqlite3_column_int64(s, 1) == case_rev;
    json_t *o = json_object();
    lh__q_jset(q, o, "seq", json_integer(sqlite3_column_int64(s, 0)));
    lh__q_jset(q, o, "id", lh__q_jstr(id));
    lh__q_jset(q, o, "revision", json_integer(sqlite3_column_int64(s, 1)));
    lh__q_jset(q, o, "kind", lh__q_jstr(lh_ca_kind_name(sqlite3_column_int(s, 2))));
    lh__q_jset(q, o, "late", json_boolean(sqlite3_column_int(s, 3)));
    lh__q_jset(q, o, "created", lh__q_jtime(sqlite3_column_int64(s, 4)));
    lh_correlated_t *ca = NULL;
    lh_buf_t whole = LH_BUF_INIT; /* as published (but the outcome, not shown here) */
    int rc = lh_store_alert_payload(q->st, sqlite3_column_int64(s, 0), 0, &whole);
    if (rc == 0)
        rc = lh_codec_alert_pb_decode(whole.data ? (const void *)whole.data : "", whole.len, &ca);
    lh_buf_free(&whole);
    if (rc == LH_ENOMEM && !q->err)
        q->err = LH_ENOMEM;
    if (rc < 0 || !ca) {
        lh_log(LH_LOG_WARN, COMPONENT, "stored alert seq %lld cannot be decoded: %s",
               (long long)sqlite3_column_int64(s, 0), lh_strerror(rc));
        lh__q_jset(q, o, "unreadable", json_true());
        lh__q_jset(q, o, "resolved", json_boolean(latest_resolved));
        return o;
    }
    lh__q_jset(q, o, "resolved", json_boolean(ca->resolved || latest_resolved));
    lh__q_jset(q, o, "resolved_at", ca->resolved ? lh__q_jtime(ca->resolved_ns) : json_null());
    json_t *ch = json_array(), *sus = json_array();
    for (size_t i = 0; i < ca->n_changes && ch; i++)
        lh__q_jpush(q, ch, lh__q_jstr(ca->changes[i]));
    for (size_t i = 0; i < ca->n_suspects && sus; i++)
        lh__q_jpush(q, sus, lh__q_jstr(ca->suspects[i].deploy_id));
    lh__q_jset(q, o, "changes", ch);
    lh__q_jset(q, o, "top", ca->n_suspects ? lh__q_jstr(ca->suspects[0].deploy_id) : json_null());
    lh__q_jset(q, o, "suspects", sus);
    lh__q_jset(q, o, "rollback_version", lh__q_jstr(ca->rollback_version));
    lh__q_jset(q, o, "outcomes", json_integer((json_int_t)ca->n_outcomes));
    lh_correlated_destroy(&ca);
    return o;
}

static int
by_seq(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "seq"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "seq"));
    return (x > y) - (x < y);
}

/* Every revision published of the correlated alert and of any alert the outcome events'
 * correlations name (an older hub's one alert per event), in outbox order. */
static void
gather_revisions(qctx_t *q, const char *case_id)
{
    char **ids = NULL;
    size_t n = 0;
    int64_t case_rev = 0;
    int case_resolved = 0;
    sqlite3_stmt *cs = case_id ? lh__q_prep(q, LH_Q_CASE) : NULL;
    if (cs) {
        lh__q_bind_text(cs, 1, case_id);
        if (lh__q_step(q, cs)) {
            case_rev = sqlite3_column_int64(cs, 0);
            case_resolved = sqlite3_column_int(cs, 1) != 0;
        }
    }
    sqlite3_finalize(cs);
    add_id(q, &ids, &n, case_id);
    sqlite3_stmt *s = lh__q_prep(q, LH_Q_ALERT_IDS_OF);
    for (size_t e = 0; s && e < q->events.n; e++) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, q->events.seq[e]);
        while (lh__q_step(q, s))
            add_id(q, &ids, &n, lh__q_col_text(s, 0));
    }
    sqlite3_finalize(s);

    json_t **rows = NULL;
    size_t nr = 0, cap = 0;
    s = lh__q_prep(q, LH_Q_REVISIONS);
    for (size_t i = 0; s && i < n; i++) {
        sqlite3_reset(s);
        lh__q_bind_text(s, 1, ids[i]);
        while (lh__q_step(q, s)) {
            if (nr == cap) {
                cap = cap ? cap * 2 : 8;
                json_t **p = realloc(rows, cap * sizeof(*p));
                if (!p) {
                    q->err = LH_ENOMEM;
                    break;
                }
                rows = p;
            }
            int is_case = case_id && !strcmp(ids[i], case_id);
            rows[nr] =
                revision_json(q, s, ids[i], is_case ? case_rev : 0, is_case && case_resolved);
            if (rows[nr])
                nr++;
        }
    }
    sqlite3_finalize(s);
    if (nr)
        qsort(rows, nr, sizeof(*rows), by_seq);
    json_t *arr = json_array();
    for (size_t i = 0; i < nr; i++) {
        if (arr && !q->err)
            lh__q_jpush(q, arr, rows[i]);
        else
            json_decref(rows[i]);
    }
    if (!arr)
        q->err = LH_ENOMEM;
    lh__q_jset(q, q->doc, "alerts", arr);
    free(rows);
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

/* --- the timeline --------------------------------------------------------------------------- */

void
lh__q_gather_incident(qctx_t *q)
{
    const char *id = q->req->incident_id;
    subject_t sj = {0};
    if (resolve(q, id, &sj) < 0) {
        subject_free(&sj);
        return;
    }
    sqlite3_stmt *s = NULL;
    /* the events of the outcome ID named, or of every outcome of the alert ID named */
    if (!sj.primary && sj.case_outcomes) {
        s = lh__q_prep(q, LH_Q_CASE_EVENTS);
        if (s)
            lh__q_bind_text(s, 1, sj.case_id);
    } else if (sj.incident_id) {
        s = lh__q_prep(q, LH_Q_INCIDENT_EVENTS);
        if (s)
            lh__q_bind_text(s, 1, sj.incident_id);
    } else if (sj.primary) {
        s = lh__q_prep(q, LH_Q_OUTCOME_EVENTS);
        if (s)
            lh__q_bind_text(s, 1, sj.primary);
    } else {
        s = lh__q_prep(q, LH_Q_EVENT_BY_SEQ);
        if (s)
            sqlite3_bind_int64(s, 1, sj.event_seq);
    }
    if (s)
        lh__q_load_events(q, s, &q->events, 0);
    sqlite3_finalize(s);
    if (!q->err && q->events.total == 0)
        q->err = LH_ENOTFOUND;
    if (q->err) {
        subject_free(&sj);
        return;
    }

    /* The outcome as a whole: first values seen, latest severity, its resolution. With
     * incident and alert outcomes together the incident is the headline. */
    const char *service = NULL, *env = NULL, *title = NULL, *ticket = NULL, *iid = NULL;
    const char *atitle = NULL;
    lh_severity_t sev = LH_SEV_UNSPECIFIED, asev = LH_SEV_UNSPECIFIED;
    int64_t started = 0, resolved = 0;
    json_t *hosts = json_array();
    for (size_t i = 0; i < q->events.n; i++) {
        const lh_event_t *ev = q->events.ev[i];
        if (!service)
            service = ev->service;
        if (!env)
            env = ev->environment;
        if (!started)
            started = ev->time_ns;
        if (ev->kind == LH_KIND_INCIDENT) {
            if (!title)
                title = ev->incident.title;
            if (!ticket)
                ticket = ev->incident.ticket;
            if (!iid)
                iid = ev->incident.incident_id;
            if (ev->incident.severity)
                sev = ev->incident.severity;
            if (!resolved && ev->incident.state == LH_INCIDENT_RESOLVED)
                resolved = ev->time_ns;
        } else if (ev->kind == LH_KIND_ALERT) {
            if (!atitle)
                atitle = ev->alert.name;
            if (ev->alert.severity)
                asev = ev->alert.severity;
        }
        for (size_t h = 0; h < ev->n_hosts && hosts; h++) {
            int seen = 0;
            for (size_t k = 0; k < json_array_size(hosts) && !seen; k++)
                seen = !strcmp(json_string_value(json_array_get(hosts, k)), ev->hosts[h]);
            if (!seen)
                lh__q_jpush(q, hosts, lh__q_jstr(ev->hosts[h]));
        }
    }
    lh_kind_t kind = iid ? LH_KIND_INCIDENT : LH_KIND_ALERT;
    if (!iid) {
        title = atitle;
        sev = asev;
        /* a firing period ends with its resolved event */
        for (size_t i = 0; i < q->events.n && !resolved; i++)
            if (q->events.ev[i]->alert.state == LH_ALERT_RESOLVED)
                resolved = q->events.ev[i]->time_ns;
    }
    int64_t out_resolved = -1;
    json_t *outs = outcomes_json(q, &sj, &out_resolved);
    if (out_resolved >= 0) /* the outcome rows know: resolved when every outcome is */
        resolved = out_resolved;
    int64_t restore = resolved ? (resolved - started) / LH_NS_PER_SEC : 0;

    q->doc = json_object();
    lh__q_jset(q, q->doc, "query", json_string("incident"));
    lh__q_jset(q, q->doc, "subject", lh__q_jstr(lh_kind_name(kind)));
    lh__q_jset(q, q->doc, "incident_id", lh__q_jstr(iid));
    lh__q_jset(q, q->doc, "alert_id", lh__q_jstr(sj.case_id));
    lh__q_jset(q, q->doc, "service", lh__q_jstr(service));
    lh__q_jset(q, q->doc, "environment", lh__q_jstr(env));
    lh__q_jset(q, q->doc, "title", lh__q_jstr(title));
    lh__q_jset(q, q->doc, "severity", lh__q_jstr(lh_severity_name(sev)));
    lh__q_jset(q, q->doc, "ticket", lh__q_jstr(ticket));
    lh__q_jset(q, q->doc, "hosts", hosts);
    lh__q_jset(q, q->doc, "started", lh__q_jtime(started));
    lh__q_jset(q, q->doc, "resolved", lh__q_jtime(resolved));
    lh__q_jset(q, q->doc, "time_to_restore_seconds",
               resolved ? json_integer(restore) : json_null());
    lh__q_jset(q, q->doc, "time_to_resolve_seconds",
               resolved ? json_integer(restore) : json_null());
    lh__q_jset(q, q->doc, "outcomes", outs);
    lh__q_doc_events(q, &q->events, lh__q_shown_of(q, &q->events));

    gather_suspects(q);
    gather_others(q, service, env, hosts, started - q->req->window_ns,
                  resolved ? resolved : q->now);
    gather_revisions(q, sj.case_id);
    /* the incident's tickets: linking to its id, or the one it names */
    lh__q_gather_tickets(q, iid, ticket);
    subject_free(&sj);
}
