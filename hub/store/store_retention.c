/*
 * store_retention.c - the tally of events per kind, and retention: deleting what is past its
 * time in small steps beside ingest.
 *
 * The tally (table `tally`, schema version 5) holds, per kind, the number of events stored and the
 * earliest event time among them. The store keeps it in memory as of the open transaction and
 * writes the kinds that changed just before COMMIT, so it is exact after every commit and a
 * rollback restores the committed copy: /metrics reads it instead of counting the events table.
 *
 * Retention is by event time for events (per kind), by the time an alert revision was created for
 * the outbox (by the kind of outcome it is about) and by the time of receipt for the quarantine.
 * lh_store_expire() runs one step in a transaction of its own: per kind, at most `budget` rows are
 * looked at, walking the time index from that kind's cursor (every row is passed at most once per
 * kind; an event arriving with a time before the cursor moves it back). The walk stops at the
 * first row of the kind that is still kept: that row is the kind's oldest, for the tally. An event
 * goes with its host rows and ticket links (and the times of receipt, `arrivals`, before the
 * oldest event left); an outcome's first event takes the outcome row and its
 * correlations, and a case goes with its last outcome; a change's row (`changes`) goes once its
 * start is past the deploys' retention. What still names a deleted row (a
 * correlation naming an expired change, an alert revision of an expired outcome) stays and reads
 * as expired (docs/timeline.md). Outbox rows go only once every sink registered in this run has
 * delivered them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loophub/error.h"
#include "loophub/event.h"
#include "loophub/log.h"
#include "pbwire.h"
#include "store_internal.h"

/* ---- tally ---------------------------------------------------------------------------------- */

void
lh__store_tally_add(lh_store_t *st, int kind, int64_t t)
{
    if (kind < 0 || kind >= TALLY_KINDS)
        kind = 0;
    st->tally[kind].n++;
    if (t < st->tally[kind].oldest)
        st->tally[kind].oldest = t;
    if (t < st->exp_cursor[kind].time) { /* late: retention walks from here again */
        st->exp_cursor[kind].time = t;
        st->exp_cursor[kind].seq = 0;
    }
    st->tally_dirty |= 1u << kind;
}

int
lh__store_tally_load(lh_store_t *st)
{
    for (int k = 0; k < TALLY_KINDS; k++) {
        st->tally[k] = (tally_t){0, INT64_MAX};
        st->exp_cursor[k] = (exp_cursor_t){INT64_MIN, 0};
    }
    sqlite3_stmt *s = st->stmt[S_TALLY_LOAD];
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int k = sqlite3_column_int(s, 0);
        if (k < 0 || k >= TALLY_KINDS)
            continue;
        st->tally[k].n = sqlite3_column_int64(s, 1);
        if (sqlite3_column_type(s, 2) != SQLITE_NULL)
            st->tally[k].oldest = sqlite3_column_int64(s, 2);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return lh__store_sql_fail(st, rc, "reading the tally");
    memcpy(st->tally_ok, st->tally, sizeof(st->tally));
    return 0;
}

int
lh__store_tally_flush(lh_store_t *st)
{
    for (int k = 0; k < TALLY_KINDS; k++) {
        if (!(st->tally_dirty & (1u << k)))
            continue;
        sqlite3_stmt *s = st->stmt[S_TALLY_SET];
        sqlite3_bind_int(s, 1, k);
        sqlite3_bind_int64(s, 2, st->tally[k].n);
        if (st->tally[k].n && st->tally[k].oldest != INT64_MAX)
            sqlite3_bind_int64(s, 3, st->tally[k].oldest);
        else
            sqlite3_bind_null(s, 3);
        int rc = lh__store_step_done(st, S_TALLY_SET, "writing the tally");
        if (rc)
            return rc;
    }
    return 0;
}

void
lh__store_tally_end(lh_store_t *st, int ok)
{
    if (ok)
        memcpy(st->tally_ok, st->tally, sizeof(st->tally));
    else
        memcpy(st->tally, st->tally_ok, sizeof(st->tally));
    st->tally_dirty = 0;
}

/* ---- retention ------------------------------------------------------------------------------ */

typedef struct {
    int64_t seq, time;
    int kind, outcome;
} row_t;

/* Deletes the host row of r's event for host (len bytes). */
static int
delete_host(lh_store_t *st, const row_t *r, const char *env, const char *host, size_t len)
{
    sqlite3_stmt *s = st->stmt[S_EXP_HOSTS];
    sqlite3_bind_int64(s, 1, lh_store_bucket(r->time));
    sqlite3_bind_text(s, 2, host, (int)len, SQLITE_STATIC);
    if (env)
        sqlite3_bind_text(s, 3, env, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 3);
    sqlite3_bind_int64(s, 4, r->time);
    sqlite3_bind_int(s, 5, r->kind);
    sqlite3_bind_int64(s, 6, r->seq);
    return lh__store_step_done(st, S_EXP_HOSTS, "expiring an event's hosts");
}

/* Deletes the host rows of r's event (a deploy or an outcome), which event_hosts keys by host
 * (schema 14): the event's row names them. The hosts column holds them joined with spaces, exact
 * unless a host had a space: lh_store_event_strip() then kept them in the protobuf, as rows
 * before schema 8 did, and the event is read whole for them. One that does not decode any more
 * has its column's words taken (logged): a host with a space then keeps its row. */
static int
delete_hosts(lh_store_t *st, const row_t *r)
{
    sqlite3_stmt *q = st->stmt[S_EXP_HOSTS_OF];
    int rc = lh__store_row_at(st, S_EXP_HOSTS_OF, r->seq, "reading an event's hosts");
    if (rc)
        return rc == LH_ENOTFOUND ? 0 : rc;
    const void *pb = sqlite3_column_blob(q, 2);
    int in_pb = lh_pb_fields(pb ? pb : "", (size_t)sqlite3_column_bytes(q, 2), 0, NULL);
    if (in_pb < 0 || (in_pb & (1 << 6))) { /* the protobuf has them (or does not parse) */
        sqlite3_reset(q);
        lh_event_t *ev = NULL;
        char why[160] = "";
        if ((rc = lh_store_event_load(st, r->seq, &ev, why, sizeof(why))) == 0) {
            for (size_t i = 0; !rc && i < ev->n_hosts; i++)
                if (ev->hosts[i])
                    rc = delete_host(st, r, ev->environment, ev->hosts[i], strlen(ev->hosts[i]));
            lh_event_destroy(&ev);
            return rc;
        }
        if (rc != LH_EDECODE)
            return rc;
        lh_log_ratelimited("store-expire-decode", LH_LOG_ERROR, COMPONENT,
                           "%s: stored event seq %lld does not decode (%s): its hosts are taken"
                           " from its row",
                           st->path, (long long)r->seq, why);
        if ((rc = lh__store_row_at(st, S_EXP_HOSTS_OF, r->seq, "reading an event's hosts")))
            return rc == LH_ENOTFOUND ? 0 : rc;
    }
    const char *env = (const char *)sqlite3_column_text(q, 0);
    const char *p = (const char *)sqlite3_column_text(q, 1);
    while (!rc && p && *p) {
        size_t len = strcspn(p, " ");
        if (len)
            rc = delete_host(st, r, env, p, len);
        p += len + (p[len] == ' ');
    }
    sqlite3_reset(q);
    return rc;
}

/* Deletes row r and what goes with it. */
static int
delete_event(lh_store_t *st, const row_t *r)
{
    int rc = r->kind == LH_KIND_DEPLOY || r->outcome ? delete_hosts(st, r) : 0;
    if (!rc) {
        sqlite3_bind_int64(st->stmt[S_EXP_EVENT], 1, r->seq);
        rc = lh__store_step_done(st, S_EXP_EVENT, "expiring an event");
    }
    if (!rc && r->kind == LH_KIND_TICKET) {
        sqlite3_bind_int64(st->stmt[S_EXP_LINKS], 1, r->seq);
        rc = lh__store_step_done(st, S_EXP_LINKS, "expiring a ticket's links");
    }
    if (!rc && r->outcome) {
        /* the outcome whose first event this is, if any, with its correlations and its case */
        sqlite3_stmt *s = st->stmt[S_EXP_OUTCOME];
        sqlite3_bind_int64(s, 1, r->seq);
        char case_id[128] = "";
        int had = 0, step;
        while ((step = sqlite3_step(s)) == SQLITE_ROW) {
            had = 1;
            const char *c = (const char *)sqlite3_column_text(s, 0);
            if (c && strlen(c) < sizeof(case_id))
                strcpy(case_id, c);
        }
        sqlite3_reset(s);
        if (step != SQLITE_DONE)
            rc = lh__store_sql_fail(st, step, "expiring an outcome");
        if (had && r->time > st->exp_outcome_to)
            st->exp_outcome_to = r->time; /* a rolled-back step leaves it high: harmless */
        if (!rc && had) {
            sqlite3_bind_int64(st->stmt[S_EXP_CORR], 1, r->seq);
            rc = lh__store_step_done(st, S_EXP_CORR, "expiring correlations");
        }
        if (!rc && *case_id) {
            sqlite3_bind_text(st->stmt[S_EXP_CASE], 1, case_id, -1, SQLITE_TRANSIENT);
            rc = lh__store_step_done(st, S_EXP_CASE, "expiring a case");
        }
    }
    if (rc)
        return rc;
    lh__store_dd_forget(&st->dd, r->seq);
    int k = r->kind >= 0 && r->kind < TALLY_KINDS ? r->kind : 0;
    st->tally[k].n--;
    st->tally_dirty |= 1u << k;
    return 0;
}

/* One step for the events of kind k (cutoff: INT64_MIN keeps them all; the walk then only finds
 * the oldest). */
static int
expire_kind(lh_store_t *st, int k, int64_t cutoff, int budget, row_t *rows, lh_store_expired_t *out)
{
    exp_cursor_t *cur = &st->exp_cursor[k];
    if (st->tally[k].n == 0) {
        st->tally[k].oldest = INT64_MAX;
        return 0;
    }
    sqlite3_stmt *s = st->stmt[S_EXP_SCAN];
    sqlite3_bind_int64(s, 1, cur->time);
    sqlite3_bind_int64(s, 2, cur->seq);
    sqlite3_bind_int(s, 3, budget);
    int n = 0, rc;
    while (n < budget && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        rows[n].seq = sqlite3_column_int64(s, 0);
        rows[n].time = sqlite3_column_int64(s, 1);
        rows[n].kind = sqlite3_column_int(s, 2);
        rows[n].outcome = sqlite3_column_int(s, 3);
        n++;
    }
    if (n < budget && rc != SQLITE_DONE) {
        sqlite3_reset(s);
        return lh__store_sql_fail(st, rc, "walking events for retention");
    }
    sqlite3_reset(s);
    /* rows are deleted after the walk, never while it is open */
    for (int i = 0; i < n; i++) {
        const row_t *r = &rows[i];
        if (r->kind == k && r->time >= cutoff) { /* the oldest kept: the walk rests here */
            if (st->tally[k].oldest != r->time) {
                st->tally[k].oldest = r->time;
                st->tally_dirty |= 1u << k;
            }
            return 0;
        }
        if (r->kind == k) {
            int err = delete_event(st, r);
            if (err)
                return err;
            out->events[k]++;
        }
        cur->time = r->time;
        cur->seq = r->seq;
    }
    if (n == budget)
        out->more = 1;
    return 0;
}

/* The rows of the changes that started before the cutoff of deploys (store_changes.c): a change
 * goes with its first event, whatever of it is left. */
static int
expire_changes(lh_store_t *st, int64_t cutoff, int budget, lh_store_expired_t *out)
{
    sqlite3_stmt *s = st->stmt[S_EXP_CHANGES];
    sqlite3_bind_int64(s, 1, cutoff);
    sqlite3_bind_int(s, 2, budget);
    int rc = lh__store_step_done(st, S_EXP_CHANGES, "expiring changes");
    if (!rc && sqlite3_changes(st->db) >= budget)
        out->more = 1;
    return rc;
}

/* The outbox rows every sink of this run has delivered, past the retention of their kind. */
static int
expire_alerts(lh_store_t *st, const lh_store_retention_t *r, int64_t now, int budget,
              lh_store_expired_t *out)
{
    static const int of_kind[] = {LH_KIND_NONE, LH_KIND_INCIDENT, LH_KIND_ALERT, LH_KIND_DEPLOY};
    int64_t limit = INT64_MAX;
    for (size_t i = 0; i < st->n_sinks; i++) {
        sqlite3_stmt *s = st->stmt[S_SINK_THROUGH];
        sqlite3_bind_int64(s, 1, st->sinks[i]);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW && sqlite3_column_int64(s, 0) < limit)
            limit = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return lh__store_sql_fail(st, rc, "reading a sink's mark");
    }
    for (int ck = 1; ck <= 3; ck++) {
        int64_t keep = r->keep_ns[of_kind[ck]];
        if (keep <= 0)
            continue;
        int64_t cutoff = now - keep;
        int64_t *cur = &st->exp_alert_cursor[ck];
        sqlite3_stmt *s = st->stmt[S_EXP_ALERTS_SCAN];
        sqlite3_bind_int64(s, 1, *cur);
        sqlite3_bind_int(s, 2, budget);
        sqlite3_bind_int64(s, 3, limit);
        int64_t del[256];
        int n = 0, seen = 0, rc, stop = 0;
        while (n < (int)(sizeof(del) / sizeof(del[0])) && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            seen++;
            int64_t seq = sqlite3_column_int64(s, 0);
            if (sqlite3_column_int(s, 2) == ck) {
                if (sqlite3_column_int64(s, 1) >= cutoff) {
                    stop = 1;
                    break;
                }
                del[n++] = seq;
            }
            *cur = seq;
        }
        if (!stop && rc != SQLITE_ROW && rc != SQLITE_DONE) {
            sqlite3_reset(s);
            return lh__store_sql_fail(st, rc, "walking the outbox for retention");
        }
        sqlite3_reset(s);
        if (!stop && seen == budget)
            out->more = 1;
        for (int i = 0; i < n; i++) {
            int err = lh__store_alert_unshare(st, del[i]);
            if (err)
                return err;
            sqlite3_bind_int64(st->stmt[S_EXP_ALERT], 1, del[i]);
            err = lh__store_step_done(st, S_EXP_ALERT, "expiring an alert");
            if (err)
                return err;
            out->alerts++;
        }
    }
    return 0;
}

static int
expire_quarantine(lh_store_t *st, int64_t cutoff, int budget, lh_store_expired_t *out)
{
    int64_t del[256];
    int n = 0, rc;
    if (budget > (int)(sizeof(del) / sizeof(del[0])))
        budget = (int)(sizeof(del) / sizeof(del[0]));
    sqlite3_stmt *s = st->stmt[S_EXP_QUAR_SCAN];
    sqlite3_bind_int(s, 1, budget);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && sqlite3_column_int64(s, 1) < cutoff)
        del[n++] = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return lh__store_sql_fail(st, rc, "walking the quarantine for retention");
    if (n == budget)
        out->more = 1;
    for (int i = 0; i < n; i++) {
        sqlite3_bind_int64(st->stmt[S_QUAR_DELETE], 1, del[i]);
        int err = lh__store_step_done(st, S_QUAR_DELETE, "expiring a quarantined row");
        if (err)
            return err;
        out->quarantine++;
    }
    if (n)
        st->q_known = 0; /* its size is read again */
    return 0;
}

void
lh_store_retention_default(lh_store_retention_t *r)
{
    memset(r, 0, sizeof(*r));
    r->keep_ns[LH_KIND_DEPLOY] = 400 * LH_STORE_DAY_NS;
    r->keep_ns[LH_KIND_ALERT] = 30 * LH_STORE_DAY_NS;
    r->keep_ns[LH_KIND_INCIDENT] = 400 * LH_STORE_DAY_NS;
    r->keep_ns[LH_KIND_TICKET] = 400 * LH_STORE_DAY_NS;
    r->quarantine_ns = 7 * LH_STORE_DAY_NS;
}

/* The largest seq of events (0: none), or of the floor the next event keeps to. */
static int
seq_max(lh_store_t *st, int64_t *out)
{
    sqlite3_stmt *s = st->stmt[S_MAX_SEQ];
    int rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0; /* NULL reads as 0 */
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return lh__store_sql_fail(st, rc, "reading the newest event");
    if (st->seq_floor - 1 > *out)
        *out = st->seq_floor - 1;
    return 0;
}

/* A seq names one event for good: alert revisions, correlations and the timeline keep naming a
 * row after it expired ("event expired"). SQLite gives a new row the largest seq + 1, so when
 * this step deleted the newest rows (a late or backfilled event past its retention), the next
 * event would take a seq given before: the floor keeps it above newest, in memory and in meta
 * 'events.next_seq' for the next open. */
static int
keep_seq_floor(lh_store_t *st, int64_t newest)
{
    int64_t now = 0;
    int rc = seq_max(st, &now);
    if (rc || now >= newest)
        return rc;
    st->seq_floor = newest + 1;
    char v[32];
    snprintf(v, sizeof(v), "%lld", (long long)st->seq_floor);
    sqlite3_stmt *s = st->stmt[S_META_SET];
    sqlite3_bind_text(s, 1, "events.next_seq", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, v, -1, SQLITE_TRANSIENT);
    return lh__store_step_done(st, S_META_SET, "recording the next event's seq");
}

int
lh__store_seq_floor_load(lh_store_t *st)
{
    st->seq_floor = 0;
    sqlite3_stmt *s = st->stmt[S_SEQ_FLOOR_GET];
    int rc = sqlite3_step(s);
    int64_t floor = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return lh__store_sql_fail(st, rc, "reading the next event's seq");
    int64_t newest = 0;
    if ((rc = seq_max(st, &newest)))
        return rc;
    st->seq_floor = floor > newest + 1 ? floor : 0;
    st->seq_floor_ok = st->seq_floor;
    return 0;
}

int
lh_store_expire(lh_store_t *st, const lh_store_retention_t *r, int64_t now_ns, int budget,
                lh_store_expired_t *out)
{
    memset(out, 0, sizeof(*out));
    int rc = lh__store_writable(st);
    if (rc)
        return rc;
    if (st->in_txn) {
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: retention runs outside a transaction", st->path);
        return LH_EINVAL;
    }
    if (budget < 1)
        budget = 1;
    row_t *rows = malloc((size_t)budget * sizeof(*rows));
    if (!rows)
        return LH_ENOMEM;
    if ((rc = lh_store_begin(st)) != 0) {
        free(rows);
        return rc;
    }
    int64_t newest = 0; /* the newest row's seq: the next event's must stay above it */
    rc = seq_max(st, &newest);
    for (int k = 1; !rc && k < TALLY_KINDS; k++) {
        int64_t keep = r->keep_ns[k];
        rc = expire_kind(st, k, keep > 0 ? now_ns - keep : INT64_MIN, budget, rows, out);
    }
    /* what the timeline says of what is gone: events of this kind before then have expired */
    for (int k = 1; !rc && k < TALLY_KINDS; k++) {
        if (!out->events[k])
            continue;
        char key[32];
        snprintf(key, sizeof(key), "expired_before.%d", k);
        sqlite3_stmt *s = st->stmt[S_META_SET];
        sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 2, now_ns - r->keep_ns[k]);
        rc = lh__store_step_done(st, S_META_SET, "recording what expired");
    }
    int any = 0;
    for (int k = 1; k < TALLY_KINDS; k++)
        any |= out->events[k] > 0;
    if (!rc && any) /* the times of receipt no event is left of */
        rc = lh__store_step_done(st, S_EXP_ARRIVALS, "deleting expired times of receipt");
    if (!rc && any)
        rc = keep_seq_floor(st, newest);
    if (!rc && r->keep_ns[LH_KIND_DEPLOY] > 0)
        rc = expire_changes(st, now_ns - r->keep_ns[LH_KIND_DEPLOY], budget, out);
    if (!rc)
        rc = expire_alerts(st, r, now_ns, budget, out);
    if (!rc && r->quarantine_ns > 0)
        rc = expire_quarantine(st, now_ns - r->quarantine_ns, budget, out);
    free(rows);
    if (rc) {
        lh_store_rollback(st);
        /* the cursors may have passed rows whose delete was rolled back: walk again */
        for (int k = 0; k < TALLY_KINDS; k++)
            st->exp_cursor[k] = (exp_cursor_t){INT64_MIN, 0};
        memset(st->exp_alert_cursor, 0, sizeof(st->exp_alert_cursor));
        return rc;
    }
    if ((rc = lh_store_commit(st)) != 0) {
        for (int k = 0; k < TALLY_KINDS; k++)
            st->exp_cursor[k] = (exp_cursor_t){INT64_MIN, 0};
        memset(st->exp_alert_cursor, 0, sizeof(st->exp_alert_cursor));
        return rc;
    }
    /* the correlator's cache of changes must not outlive a deleted one */
    if (out->events[LH_KIND_DEPLOY])
        st->discards++;
    return 0;
}
