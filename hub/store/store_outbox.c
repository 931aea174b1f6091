/*
 * store_outbox.c - the alert outbox: alert inserts, the sinks that deliver it, their done marks
 * and pending scans, and every revision read whole (what its stored payload left out put back).
 *
 * A sink's done state is its row's done_through (every alert at or below it is done)
 * plus its rows of outbox_done (done alerts above it). A mark at the first alert after
 * done_through moves the mark and takes in the outbox_done rows it reaches; any other mark is
 * a row of outbox_done. So the common in-order mark writes one small row of `sinks`, and a
 * sink's pending scan starts at its mark (probing outbox_done per alert only when the sink has
 * rows there).
 *
 * A pending scan may be nested (a callback that reads the outbox again gets a statement of its
 * own); sink names are checked here, since they go into metric labels and logs as they are.
 */
#include <stdlib.h>
#include <string.h>

#include "loophub/error.h"
#include "loophub/log.h"
#include "pbwire.h"
#include "store_internal.h"

#define SINK_NAME_MAX 64

/* ---- alert insert -------------------------------------------------------------------------- */

int
lh_store_alert_insert(lh_store_t *st, const char *alert_id, int revision, const char *outcome_id,
                      int64_t event_seq, int kind, const char *service, const char *environment,
                      int64_t outcome_seq, int late, int64_t created_ns, int64_t same_as,
                      const void *pb, size_t pb_len, int64_t *seq)
{
    int64_t dummy;
    if (!seq)
        seq = &dummy;
    *seq = 0;
    if (!alert_id || (!pb && pb_len)) {
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: alert insert: alert without an id", st->path);
        return LH_EINVAL;
    }
    int rc = lh__store_writable(st);
    if (rc)
        return rc;
    sqlite3_stmt *s = st->stmt[S_INS_ALERT];
    bind_text(s, 1, alert_id);
    sqlite3_bind_int(s, 2, kind);
    bind_text(s, 3, service);
    bind_text(s, 4, environment);
    sqlite3_bind_int64(s, 5, outcome_seq);
    sqlite3_bind_int(s, 6, late ? 1 : 0);
    sqlite3_bind_int64(s, 7, created_ns);
    bind_blob(s, 8, pb, pb_len, 1);
    sqlite3_bind_int(s, 9, revision);
    bind_text(s, 10, outcome_id);
    if (event_seq > 0)
        sqlite3_bind_int64(s, 11, event_seq);
    else
        sqlite3_bind_null(s, 11);
    if (same_as > 0)
        sqlite3_bind_int64(s, 12, same_as);
    else
        sqlite3_bind_null(s, 12);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE) {
        *seq = sqlite3_last_insert_rowid(st->db);
        return 0;
    }
    if (rc != SQLITE_CONSTRAINT_UNIQUE)
        return lh__store_sql_fail(st, rc, "inserting an alert");
    /* the statement alone was undone; the transaction goes on */
    s = st->stmt[S_GET_ALERT_SEQ];
    bind_text(s, 1, alert_id);
    sqlite3_bind_int(s, 2, revision);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *seq = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return lh__store_sql_fail(st, rc, "reading a duplicate alert");
    return LH_EDUPLICATE;
}

/* ---- sinks and done marks ----------------------------------------------------------------- */

/* [A-Za-z0-9._:-], 1..SINK_NAME_MAX bytes: a name goes into metric labels and logs as it is. */
static int
sink_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > SINK_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return 0;
    }
    return 1;
}

/* The first alert after seq: 1 and *next, 0 when there is none, or LH_ESTORE. */
static int
alert_next(lh_store_t *st, int64_t seq, int64_t *next)
{
    sqlite3_stmt *s = st->stmt[S_ALERT_NEXT];
    sqlite3_bind_int64(s, 1, seq);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *next = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : lh__store_sql_fail(st, rc, "reading the outbox");
}

/* Remembers a sink registered in this run: retention keeps what it has not delivered. */
static int
sink_active(lh_store_t *st, int64_t id)
{
    for (size_t i = 0; i < st->n_sinks; i++)
        if (st->sinks[i] == id)
            return 0;
    if (st->n_sinks == st->cap_sinks) {
        size_t cap = st->cap_sinks ? st->cap_sinks * 2 : 4;
        int64_t *v = realloc(st->sinks, cap * sizeof(*v));
        if (!v)
            return LH_ENOMEM;
        st->sinks = v;
        st->cap_sinks = cap;
    }
    st->sinks[st->n_sinks++] = id;
    return 0;
}

int
lh_store_sink_register(lh_store_t *st, const char *name, lh_store_sink_t *out)
{
    out->id = 0;
    if (!sink_name_ok(name)) {
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: bad sink name \"%s\" (1..%d of A-Z a-z 0-9 . _ : -)",
               st->path, name ? name : "", SINK_NAME_MAX);
        return LH_EINVAL;
    }
    sqlite3_stmt *s = st->stmt[S_SINK_ID];
    bind_text(s, 1, name);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        out->id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return st->readonly ? 0 : sink_active(st, out->id);
    if (rc != SQLITE_DONE)
        return lh__store_sql_fail(st, rc, "looking a sink up");
    if (st->readonly)
        return LH_ENOTFOUND;
    /* new: done_through 0, so every alert already in the outbox is pending for it */
    bind_text(st->stmt[S_SINK_ADD], 1, name);
    if ((rc = lh__store_step_done(st, S_SINK_ADD, "registering a sink")) != 0)
        return rc;
    out->id = sqlite3_last_insert_rowid(st->db);
    if ((rc = sink_active(st, out->id)) != 0)
        return rc;
    int64_t first = 0;
    if (alert_next(st, 0, &first) == 1)
        lh_log(LH_LOG_INFO, COMPONENT,
               "%s: sink %s is new to this store: it delivers the outbox from its oldest alert",
               st->path, name);
    return 0;
}

/* The sink's done_through. Returns 0, LH_EINVAL (no such sink) or LH_ESTORE. */
static int
sink_through(lh_store_t *st, lh_store_sink_t sink, int64_t *through)
{
    sqlite3_stmt *s = st->stmt[S_SINK_THROUGH];
    sqlite3_bind_int64(s, 1, sink.id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *through = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? LH_EINVAL : lh__store_sql_fail(st, rc, "reading a sink's done mark");
}

/* The sink's first row of outbox_done above seq: 1 and *first, 0 when there is none, or
 * LH_ESTORE. */
static int
done_first(lh_store_t *st, lh_store_sink_t sink, int64_t seq, int64_t *first)
{
    sqlite3_stmt *s = st->stmt[S_DONE_FIRST];
    sqlite3_bind_int64(s, 1, sink.id);
    sqlite3_bind_int64(s, 2, seq);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *first = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : lh__store_sql_fail(st, rc, "reading the done marks");
}

/* Whether seq is the first alert after through: 1, 0, or LH_ESTORE. Alert seqs have no gaps in
 * practice (AUTOINCREMENT, rows never deleted), so through + 1 needs no lookup. */
static int
first_after(lh_store_t *st, int64_t through, int64_t seq)
{
    if (seq == through + 1)
        return 1;
    int64_t next = 0;
    int rc = alert_next(st, through, &next);
    return rc < 0 ? rc : rc == 1 && next == seq;
}

int
lh_store_alert_done(lh_store_t *st, lh_store_sink_t sink, int64_t seq)
{
    int rc = lh__store_writable(st);
    if (rc)
        return rc;
    int64_t through = 0;
    if ((rc = sink_through(st, sink, &through)) != 0)
        return rc;
    if (seq <= through)
        return 0; /* done already */
    if ((rc = first_after(st, through, seq)) < 0)
        return rc;
    if (rc == 0) {
        /* out of order (or no such alert: then nothing is written) */
        sqlite3_stmt *s = st->stmt[S_DONE_ADD];
        sqlite3_bind_int64(s, 1, sink.id);
        sqlite3_bind_int64(s, 2, seq);
        return lh__store_step_done(st, S_DONE_ADD, "marking an alert done");
    }
    /* the first alert not done: the mark moves past it and past the done rows that follow it
     * without a pending alert between (usually there is no row at all: one probe) */
    through = seq;
    for (;;) {
        int64_t row = 0;
        if ((rc = done_first(st, sink, through, &row)) < 0)
            return rc;
        if (rc == 0)
            break;
        if ((rc = first_after(st, through, row)) < 0)
            return rc;
        if (rc == 0)
            break;
        sqlite3_stmt *s = st->stmt[S_DONE_TAKE];
        sqlite3_bind_int64(s, 1, sink.id);
        sqlite3_bind_int64(s, 2, row);
        if ((rc = lh__store_step_done(st, S_DONE_TAKE, "marking an alert done")) != 0)
            return rc;
        through = row;
    }
    sqlite3_stmt *s = st->stmt[S_SINK_SET_THROUGH];
    sqlite3_bind_int64(s, 1, sink.id);
    sqlite3_bind_int64(s, 2, through);
    return lh__store_step_done(st, S_SINK_SET_THROUGH, "marking an alert done");
}

/* ---- what a revision leaves out ------------------------------------------------------------
 * A revision may be stored without what the store can put back when it is read:
 * - what its row's columns hold (fields 1, 3, 4, 5, 6, 9, 11: id, kind, service, environment,
 *   late, created, revision), when it has no id;
 * - its outcome event (CorrelatedAlert field 7), the event that made it, stored at the row's
 *   event_seq (the correlator's lh__c_write_alert()); read back whole from events;
 * - its suspects, rollbacks and rollback target (fields 8, 16, 10), when it repeats those of an
 *   earlier revision of the same alert (the resolution), named by its `same_as`; copied from that
 *   revision's payload, which has them (retention makes a repeating revision whole before it
 *   deletes the one it repeats).
 * They are appended after the stored fields: a protobuf parser takes fields in any order. The
 * payload is walked and spliced with the codec's wire helpers (pbwire.h), never decoded here.
 * Revisions stored before carry their copies. One whose event is gone (a sink that did not
 * deliver it within the event's retention) leaves without its outcome, logged. */

#define PB_OUTCOME (1u << 7) /* CorrelatedAlert.outcome */
/* suspects, rollback_version, rollbacks */
#define PB_REPEATS ((1u << 8) | (1u << 10) | (1u << 16))
/* id, and with it kind, service, environment, late, created, revision: the row's own columns */
#define PB_ROW (1u << 1)

/* Appends field 7, the event at event_seq whole, to b. Returns 0, 1 when the event is not there
 * to be put back (logged), or LH_ENOMEM / LH_ESTORE. */
static int
put_outcome(lh_store_t *st, int64_t seq, int64_t event_seq, const char *outcome_id, lh_buf_t *b)
{
    lh_event_t *ev = NULL;
    char why[160] = "";
    int rc = lh_store_event_load(st, event_seq, &ev, why, sizeof(why));
    if (rc == 0 && (!ev->id || strcmp(ev->id, outcome_id) != 0))
        rc = LH_ENOTFOUND; /* not the event that made it: it expired */
    if (rc == LH_ENOTFOUND || rc == LH_EDECODE) {
        lh_log_ratelimited("store.outbox.outcome", LH_LOG_WARN, COMPONENT,
                           "%s: alert %lld leaves without its outcome event %s: %s", st->path,
                           (long long)seq, outcome_id,
                           rc == LH_EDECODE ? why : "it is no longer stored (retention)");
        lh_event_destroy(&ev);
        return 1;
    }
    if (rc < 0)
        return rc;
    rc = lh_codec_pb_encode_field(ev, 7, b);
    lh_event_destroy(&ev);
    return rc < 0 ? rc : 0;
}

/* Appends the suspects, rollbacks and rollback target of the revision at same_as to b. Returns 0
 * (also when it is gone: logged), LH_ENOMEM or LH_ESTORE. */
static int
put_repeats(lh_store_t *st, int64_t seq, int64_t same_as, lh_buf_t *b)
{
    int rc =
        lh__store_row_at(st, S_ALERT_PAYLOAD, same_as, "reading the revision an alert repeats");
    if (rc) {
        if (rc != LH_ENOTFOUND)
            return rc;
        lh_log_ratelimited("store.outbox.repeats", LH_LOG_ERROR, COMPONENT,
                           "%s: alert %lld leaves without the suspects of alert %lld: it is gone",
                           st->path, (long long)seq, (long long)same_as);
        return 0;
    }
    sqlite3_stmt *s = st->stmt[S_ALERT_PAYLOAD];
    const uint8_t *p = sqlite3_column_blob(s, 0);
    rc = lh_pb_fields(p ? p : (const uint8_t *)"", (size_t)sqlite3_column_bytes(s, 0), PB_REPEATS,
                      b);
    sqlite3_reset(s);
    return rc == LH_ENOMEM ? rc : 0;
}

/* An outbox row as its readers select it (LH_STORE_ALERT_ROW_COLS, store_sql.h), from column
 * col on: what the payload may leave out. */
typedef struct {
    int64_t seq, event_seq, same_as, created;
    const char *outcome_id, *id, *service, *environment;
    int kind, revision, late;
} alert_row_t;

static void
alert_row(sqlite3_stmt *s, int col, alert_row_t *r)
{
    r->seq = sqlite3_column_int64(s, col);
    r->event_seq = sqlite3_column_int64(s, col + 2);
    r->outcome_id = (const char *)sqlite3_column_text(s, col + 3);
    r->same_as = sqlite3_column_int64(s, col + 4);
    r->id = (const char *)sqlite3_column_text(s, col + 5);
    r->kind = sqlite3_column_int(s, col + 6);
    r->service = (const char *)sqlite3_column_text(s, col + 7);
    r->environment = (const char *)sqlite3_column_text(s, col + 8);
    r->created = sqlite3_column_int64(s, col + 9);
    r->revision = sqlite3_column_int(s, col + 10);
    r->late = sqlite3_column_int(s, col + 11);
}

/* Appends the row's own facts (fields 1, 3, 4, 5, 6, 9, 11 of CorrelatedAlert) to b, as the
 * encoder writes them (a default value is left out). */
static int
put_row(const alert_row_t *r, lh_buf_t *b)
{
    int rc = lh_pb_put_string(b, 1, r->id);
    if (!rc)
        rc = lh_pb_put_varint(b, 3, (uint64_t)r->kind);
    if (!rc)
        rc = lh_pb_put_string(b, 4, r->service);
    if (!rc)
        rc = lh_pb_put_string(b, 5, r->environment);
    if (!rc)
        rc = lh_pb_put_varint(b, 6, r->late ? 1 : 0);
    if (!rc)
        rc = lh_pb_put_varint(b, 9, (uint64_t)r->created);
    if (!rc)
        rc = lh_pb_put_varint(b, 11, (uint64_t)r->revision);
    return rc;
}

/* Revision r with payload pb whole: *out and *out_len are pb itself when it leaves nothing out,
 * else b's bytes; its outcome event only when with_outcome. Returns 0, LH_ENOMEM or LH_ESTORE. */
static int
whole(lh_store_t *st, const alert_row_t *r, const void *pb, size_t len, int with_outcome,
      lh_buf_t *b, const void **out, size_t *out_len)
{
    *out = pb;
    *out_len = len;
    int there = lh_pb_fields(pb, len, 0, NULL); /* what it has, or -1: it leaves as stored */
    if (there < 0)
        return 0;
    int own = r->id && !(there & PB_ROW);
    int outcome = with_outcome && r->outcome_id && !(there & PB_OUTCOME);
    int repeats = r->same_as > 0 && !(there & PB_REPEATS);
    if (!own && !outcome && !repeats)
        return 0;
    lh_buf_reset(b);
    int rc = lh_buf_append(b, pb, len);
    if (!rc && own)
        rc = put_row(r, b);
    if (!rc && outcome)
        rc = put_outcome(st, r->seq, r->event_seq, r->outcome_id, b);
    if (rc >= 0 && repeats)
        rc = put_repeats(st, r->seq, r->same_as, b);
    if (rc < 0)
        return rc;
    *out = b->data;
    *out_len = b->len;
    return 0;
}

int
lh_store_alert_payload(lh_store_t *st, int64_t seq, int with_outcome, lh_buf_t *out)
{
    lh_buf_reset(out);
    int rc = lh__store_row_at(st, S_ALERT_ROW, seq, "reading an alert");
    if (rc)
        return rc;
    sqlite3_stmt *s = st->stmt[S_ALERT_ROW];
    alert_row_t r;
    alert_row(s, 0, &r);
    const void *p = sqlite3_column_blob(s, 1), *w = NULL;
    size_t len = (size_t)sqlite3_column_bytes(s, 1), wlen = 0;
    rc = whole(st, &r, p ? p : "", len, with_outcome, out, &w, &wlen);
    if (!rc && w != out->data) /* nothing left out: the payload as stored */
        rc = lh_buf_append(out, w, wlen);
    sqlite3_reset(s);
    return rc < 0 ? rc : 0;
}

/* Revision rep repeats the one at seq: its payload takes seq's suspects, rollbacks and rollback
 * target in, and it repeats nothing any more. b is scratch. */
static int
unshare_one(lh_store_t *st, int64_t seq, int64_t rep, lh_buf_t *b)
{
    int err = lh__store_row_at(st, S_ALERT_PAYLOAD, rep, "reading a revision that repeats");
    if (err)
        return err == LH_ENOTFOUND ? 0 : err;
    sqlite3_stmt *s = st->stmt[S_ALERT_PAYLOAD];
    const void *p = sqlite3_column_blob(s, 0);
    lh_buf_reset(b);
    err = lh_buf_append(b, p ? p : "", (size_t)sqlite3_column_bytes(s, 0));
    sqlite3_reset(s);
    if (!err)
        err = put_repeats(st, rep, seq, b);
    if (err)
        return err;
    s = st->stmt[S_EXP_WHOLE];
    sqlite3_bind_int64(s, 1, rep);
    bind_blob(s, 2, b->data, b->len, 1);
    return lh__store_step_done(st, S_EXP_WHOLE, "making a revision whole");
}

/* Retention is about to delete the revision at seq: the revisions that repeat it take what they
 * repeat into their own payload first. Returns 0, LH_ENOMEM or LH_ESTORE. */
int
lh__store_alert_unshare(lh_store_t *st, int64_t seq)
{
    lh_buf_t b = LH_BUF_INIT;
    int err = 0, n;
    do { /* a few at a time: the ones made whole no longer match */
        sqlite3_stmt *s = st->stmt[S_EXP_REPEATS];
        sqlite3_bind_int64(s, 1, seq);
        int64_t rep[16];
        int rc = SQLITE_DONE;
        n = 0;
        while (n < 16 && (rc = sqlite3_step(s)) == SQLITE_ROW)
            rep[n++] = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        if (n < 16 && rc != SQLITE_DONE)
            err = lh__store_sql_fail(st, rc, "finding the revisions that repeat an alert");
        for (int i = 0; !err && i < n; i++)
            err = unshare_one(st, seq, rep[i], &b);
    } while (!err && n == 16);
    lh_buf_free(&b);
    return err;
}

/* Steps a "SELECT seq, payload, event_seq, outcome_id, same_as" over the outbox, calling fn per
 * row (its payload whole) until it returns non-zero. Returns the rows visited, LH_ENOMEM or
 * LH_ESTORE. The caller resets or finalizes s. */
static int
visit_pending(lh_store_t *st, sqlite3_stmt *s, lh_store_alert_fn fn, void *arg)
{
    int rc, n = 0;
    lh_buf_t b = LH_BUF_INIT; /* this scan's own: a callback may scan again */
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        alert_row_t r;
        alert_row(s, 0, &r);
        const void *p = sqlite3_column_blob(s, 1), *w = NULL;
        size_t len = (size_t)sqlite3_column_bytes(s, 1), wlen = 0;
        int err = whole(st, &r, p ? p : "", len, 1, &b, &w, &wlen);
        if (err < 0) {
            lh_buf_free(&b);
            return err;
        }
        n++;
        if (fn(r.seq, w, wlen, arg) != 0) {
            lh_buf_free(&b);
            return n;
        }
    }
    lh_buf_free(&b);
    return rc == SQLITE_DONE ? n : lh__store_sql_fail(st, rc, "reading pending alerts");
}

int
lh_store_alert_pending_after(lh_store_t *st, lh_store_sink_t sink, int64_t after_seq, int limit,
                             lh_store_alert_fn fn, void *arg)
{
    int64_t through = 0, row = 0;
    int rc = sink_through(st, sink, &through);
    if (rc)
        return rc;
    if (after_seq < through)
        after_seq = through;
    /* no done row past the start (a sink that delivers in order): every alert there is pending */
    if ((rc = done_first(st, sink, after_seq, &row)) < 0)
        return rc;
    int idx = rc ? S_PENDING : S_PENDING_ALL;
    /* the statement of the store, unless a callback reads the outbox again during a scan: that
     * nested scan gets a statement of its own */
    sqlite3_stmt *s = st->stmt[idx], *own = NULL;
    if (sqlite3_stmt_busy(s)) {
        rc = sqlite3_prepare_v2(st->db, lh__store_sql[idx], -1, &own, NULL);
        if (rc != SQLITE_OK)
            return lh__store_sql_fail(st, rc, "preparing a nested outbox scan");
        s = own;
    }
    if (idx == S_PENDING)
        sqlite3_bind_int64(s, 1, sink.id);
    sqlite3_bind_int64(s, 2, after_seq);
    sqlite3_bind_int(s, 3, limit > 0 ? limit : -1);
    int n = visit_pending(st, s, fn, arg);
    if (own)
        sqlite3_finalize(own);
    else
        sqlite3_reset(s);
    return n;
}

int
lh_store_alert_pending(lh_store_t *st, lh_store_sink_t sink, int limit, lh_store_alert_fn fn,
                       void *arg)
{
    return lh_store_alert_pending_after(st, sink, 0, limit, fn, arg);
}

int
lh_store_alert_pending_count(lh_store_t *st, lh_store_sink_t sink, int64_t *n)
{
    *n = 0;
    int64_t through = 0;
    int rc = sink_through(st, sink, &through);
    if (rc)
        return rc;
    sqlite3_stmt *s = st->stmt[S_COUNT_PENDING];
    sqlite3_bind_int64(s, 1, sink.id);
    sqlite3_bind_int64(s, 2, through);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : lh__store_sql_fail(st, rc, "counting pending alerts");
}

/* ---- alerts no sink delivers (`loophub import`) --------------------------------------------- */

int
lh_store_alert_max_seq(lh_store_t *st, int64_t *seq)
{
    *seq = 0;
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, "SELECT coalesce(max(seq), 0) FROM alerts", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return lh__store_sql_fail(st, rc, "reading the outbox");
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *seq = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : lh__store_sql_fail(st, rc, "reading the outbox");
}

/* One statement with up to three integer parameters, run to its end; *first the first column of
 * the first row (when first is not NULL). */
static int
run3(lh_store_t *st, const char *sql, int64_t a, int64_t b, int64_t c, int64_t *first)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return lh__store_sql_fail(st, rc, "marking imported alerts done");
    int n = sqlite3_bind_parameter_count(s);
    const int64_t v[3] = {a, b, c};
    for (int i = 0; i < n && i < 3; i++)
        sqlite3_bind_int64(s, i + 1, v[i]);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (first) {
            *first = sqlite3_column_int64(s, 0);
            first = NULL;
        }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : lh__store_sql_fail(st, rc, "marking imported alerts done");
}

int
lh_store_alert_done_after(lh_store_t *st, int64_t after_seq)
{
    int rc = lh__store_writable(st);
    if (rc)
        return rc;
    int64_t max = 0;
    if ((rc = lh_store_alert_max_seq(st, &max)) != 0 || max <= after_seq)
        return rc;
    sqlite3_stmt *s = NULL;
    if ((rc = sqlite3_prepare_v2(st->db, "SELECT id, done_through FROM sinks ORDER BY id", -1, &s,
                                 NULL)) != SQLITE_OK)
        return lh__store_sql_fail(st, rc, "reading the sinks");
    int step = SQLITE_ROW;
    while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0), through = sqlite3_column_int64(s, 1);
        int64_t pending = 0;
        /* is an alert at or below after_seq still pending for this sink? */
        rc = run3(st,
                  "SELECT EXISTS (SELECT 1 FROM alerts a WHERE a.seq > ?2 AND a.seq <= ?3"
                  " AND NOT EXISTS (SELECT 1 FROM outbox_done d WHERE d.sink_id = ?1"
                  " AND d.seq = a.seq))",
                  id, through, after_seq, &pending);
        if (rc == 0 && !pending) /* everything before is done: the mark moves to the end */
            rc = run3(st, "UPDATE sinks SET done_through = ?2 WHERE id = ?1", id, max, 0, NULL);
        if (rc == 0 && !pending)
            rc = run3(st, "DELETE FROM outbox_done WHERE sink_id = ?1 AND seq <= ?2", id, max, 0,
                      NULL);
        if (rc == 0 && pending)
            rc = run3(st,
                      "INSERT OR IGNORE INTO outbox_done (sink_id, seq)"
                      " SELECT ?1, seq FROM alerts WHERE seq > ?2",
                      id, after_seq, 0, NULL);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = lh__store_sql_fail(st, step, "reading the sinks");
    sqlite3_finalize(s);
    return rc;
}
