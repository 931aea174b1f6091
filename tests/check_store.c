/*
 * check_store.c - the timeline store against real SQLite files in a temporary directory:
 * round trips, dedupe (same and later transactions, across reopen, after rollback, under forced
 * hash collisions), migrations and refusals, the writer lock, the outbox, the quarantine, a
 * simulated full disk and kill -9 in the middle of ingest.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "correlate/correlator_sql.h"
#include "loophub/error.h"
#include "loophub/event.h"
#include "loophub/format.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"
#include "pbwire.h"
#include "store.h"
#include "store_sql.h"
#include "testutil.h"

static lh_store_t *
open_with(const lh_store_opts_t *o)
{
    lh_store_t *st = NULL;
    int rc = lh_store_open(lh_test_fx.db, o, &st);
    ck_assert_msg(rc == 0, "open %s: %s; log: %s", lh_test_fx.db, lh_strerror(rc), lh_test_fx.log);
    ck_assert_ptr_nonnull(st);
    return st;
}

static lh_store_t *
open_rw(void)
{
    return open_with(NULL);
}

static lh_event_t *
mk_event(const char *id, lh_kind_t kind)
{
    lh_event_t *ev = lh_event_new();
    ck_assert_ptr_nonnull(ev);
    ev->id = lh_event_str(ev, id, (size_t)-1);
    ev->kind = kind;
    ev->time_ns = 1800000000LL * 1000000000LL;
    ev->service = lh_event_str(ev, "api", (size_t)-1);
    ev->environment = lh_event_str(ev, "prod", (size_t)-1);
    return ev;
}

/* Inserts a minimal deploy whose "protobuf" is "pb:<id>". Returns the store's code. */
static int
put(lh_store_t *st, const char *id, int64_t *seq)
{
    lh_event_t *ev = mk_event(id, LH_KIND_DEPLOY);
    char pb[128];
    int n = snprintf(pb, sizeof(pb), "pb:%s", id);
    int rc = lh_store_insert_event(st, ev, 0, pb, (size_t)n, seq);
    lh_event_destroy(&ev);
    return rc;
}

static int64_t
events_in(lh_store_t *st)
{
    lh_store_stats_t s;
    ck_assert_int_eq(lh_store_stats(st, &s), 0);
    return s.events;
}

static int64_t
sql_int(lh_store_t *st, const char *sql)
{
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(lh__store_db(st), sql, -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* ---- round trip ----------------------------------------------------------------------------- */

typedef struct {
    char data[256];
    size_t len;
    int calls;
} blob_t;

static int
blob_cb(const void *pb, size_t len, void *arg)
{
    blob_t *b = arg;
    ck_assert_uint_le(len, sizeof(b->data));
    memcpy(b->data, pb, len);
    b->len = len;
    b->calls++;
    return 0;
}

/* A new store and its WAL are readable by their owner only; an existing store keeps its mode. */
START_TEST(test_new_store_is_private)
{
    umask(022);
    lh_store_t *st = open_rw();
    int64_t seq = 0;
    ck_assert_int_eq(lh_store_begin(st), 0);
    ck_assert_int_eq(put(st, "d-1", &seq), 0);
    ck_assert_int_eq(lh_store_commit(st), 0);
    struct stat sb;
    char wal[700];
    snprintf(wal, sizeof(wal), "%s-wal", lh_test_fx.db);
    ck_assert_int_eq(stat(lh_test_fx.db, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    ck_assert_int_eq(stat(wal, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    snprintf(wal, sizeof(wal), "%s-shm", lh_test_fx.db);
    ck_assert_int_eq(stat(wal, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    ck_assert_ptr_null(strstr(lh_test_fx.log, "writable by"));
    lh_store_close(&st);
    ck_assert_int_eq(chmod(lh_test_fx.db, 0640), 0);
    st = open_rw();
    ck_assert_int_eq(stat(lh_test_fx.db, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0640);
    lh_store_close(&st);

    /* a stricter umask still applies (write-only for the owner is useless, but it is theirs) */
    umask(077);
    char other[700];
    snprintf(other, sizeof(other), "%s.2", lh_test_fx.db);
    lh_store_t *s2 = NULL;
    ck_assert_int_eq(lh_store_open(other, NULL, &s2), 0);
    ck_assert_int_eq(stat(other, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    lh_store_close(&s2);
    umask(022);

    /* a directory anyone may write to: said in the log */
    char *slash = strrchr(lh_test_fx.db, '/');
    char dir[700];
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - lh_test_fx.db), lh_test_fx.db);
    ck_assert_int_eq(chmod(dir, 0777), 0);
    st = open_rw();
    lh_store_close(&st);
    ck_assert_int_eq(chmod(dir, 0700), 0);
    ck_assert_msg(strstr(lh_test_fx.log, "is writable by everyone (mode 777)") != NULL, "log: %s",
                  lh_test_fx.log);
}
END_TEST

START_TEST(test_blob_roundtrip)
{
    lh_store_t *st = open_rw();
    int64_t seq = 0;
    ck_assert_int_eq(lh_store_begin(st), 0);
    ck_assert_int_eq(put(st, "d-1", &seq), 0);
    ck_assert_int_eq(lh_store_commit(st), 0);
    ck_assert_int_gt(seq, 0);

    blob_t b = {0};
    ck_assert_int_eq(lh_store_event_blob(st, seq, blob_cb, &b), 0);
    ck_assert_int_eq(b.calls, 1);
    ck_assert_uint_eq(b.len, 6);
    ck_assert_mem_eq(b.data, "pb:d-1", 6);
    ck_assert_int_eq(lh_store_event_blob(st, seq + 100, blob_cb, &b), LH_ENOTFOUND);
    ck_assert_int_eq(b.calls, 1);
    lh_store_close(&st);
    ck_assert_ptr_null(st);
    lh_store_close(&st); /* NULL-safe */
}
END_TEST

/* With keep_original the original bytes of a non-protobuf event are kept beside the columns. */
START_TEST(test_decoded_columns)
{
    lh_store_opts_t o;
    lh_store_opts_default(&o);
    o.keep_original = 1;
    lh_store_t *st = open_with(&o);
    ck_assert_int_eq(lh_store_begin(st), 0);

    lh_event_t *d = mk_event("d-1", LH_KIND_DEPLOY);
    d->deploy.deploy_id = lh_event_str(d, "D-1", (size_t)-1);
    d->deploy.status = LH_DEPLOY_SUCCEEDED;
    d->deploy.version = lh_event_str(d, "1.4.2", (size_t)-1);
    d->deploy.previous_version = lh_event_str(d, "1.4.1", (size_t)-1);
    d->deploy.change_ticket = lh_event_str(d, "CHG-7", (size_t)-1);
    ck_assert_int_eq(lh_event_add_host(d, "web-1", (size_t)-1), 0);
    ck_assert_int_eq(lh_event_add_host(d, "web-2", (size_t)-1), 0);
    ck_assert_int_eq(lh_event_set_raw(d, "{\"id\":\"d-1\"}", 12, 2), 0);
    int64_t sd = 0;
    ck_assert_int_eq(lh_store_insert_event(st, d, 0, "x", 1, &sd), 0);

    lh_event_t *a = mk_event("a-1", LH_KIND_ALERT); /* not an outcome: no host rows */
    a->alert.name = lh_event_str(a, "HighErrorRate", (size_t)-1);
    a->alert.state = LH_ALERT_FIRING;
    a->alert.severity = LH_SEV_WARNING;
    ck_assert_int_eq(lh_event_add_host(a, "web-1", (size_t)-1), 0);
    int64_t sa = 0;
    ck_assert_int_eq(lh_store_insert_event(st, a, 0, "y", 1, &sa), 0);

    lh_event_t *i = mk_event("i-1", LH_KIND_INCIDENT); /* an outcome: host rows */
    i->incident.incident_id = lh_event_str(i, "INC-1", (size_t)-1);
    i->incident.title = lh_event_str(i, "5xx spike", (size_t)-1);
    i->incident.severity = LH_SEV_CRITICAL;
    i->incident.state = LH_INCIDENT_DETECTED;
    ck_assert_int_eq(lh_event_add_host(i, "web-2", (size_t)-1), 0);
    int64_t si = 0;
    ck_assert_int_eq(lh_store_insert_event(st, i, 1, "z", 1, &si), 0);

    lh_event_t *t = mk_event("t-1", LH_KIND_TICKET);
    t->ticket.ticket_id = lh_event_str(t, "CHG-7", (size_t)-1);
    t->ticket.state = LH_TICKET_APPROVED;
    t->ticket.type = LH_TICKET_CHANGE;
    ck_assert_int_eq(lh_event_add_link(t, "D-1", (size_t)-1), 0);
    ck_assert_int_eq(lh_event_add_link(t, "INC-1", (size_t)-1), 0);
    int64_t stk = 0;
    ck_assert_int_eq(lh_store_insert_event(st, t, 0, "w", 1, &stk), 0);
    ck_assert_int_eq(lh_store_commit(st), 0);
    ck_assert(sd < sa && sa < si && si < stk);

    sqlite3 *db = lh__store_db(st);
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(
        sqlite3_prepare_v2(db,
                           "SELECT kind, service, environment, hosts, state, deploy_id,"
                           " version, previous_version, change_ticket, raw,"
                           " raw_format, outcome, (SELECT received > 0 FROM event_received r"
                           " WHERE r.seq = events.seq) FROM events WHERE seq = ?",
                           -1, &s, NULL),
        SQLITE_OK);
    sqlite3_bind_int64(s, 1, sd);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(s, 0), LH_KIND_DEPLOY);
    ck_assert_str_eq((const char *)sqlite3_column_text(s, 1), "api");
    ck_assert_str_eq((const char *)sqlite3_column_text(s, 2), "prod");
    ck_assert_str_eq((const char *)sqlite3_column_text(s, 3), "web-1 web-2");
    ck_assert_int_eq(sqlite3_column_int(s, 4), LH_DEPLOY_SUCCEEDED);
    ck_assert_str_eq((const char *)sqlite3_column_text(s, 5), "D-1");
    ck_assert_str_eq((const char *)sqlite3_column_text(s, 6), "1.4.2");
    ck_assert_str_eq((const char *)sqlite3_column_text(s, 7), "1.4.1");
    ck_assert_ptr_null(sqlite3_column_text(s, 8)); /* change_ticket: in the protobuf only */
    ck_assert_int_eq(sqlite3_column_bytes(s, 9), 12);
    ck_assert_mem_eq(sqlite3_column_blob(s, 9), "{\"id\":\"d-1\"}", 12);
    ck_assert_int_eq(sqlite3_column_int(s, 10), 2);
    ck_assert_int_eq(sqlite3_column_int(s, 11), 0);
    ck_assert_int_eq(sqlite3_column_int(s, 12), 1);
    sqlite3_finalize(s);

    /* each fact once: what no SQL reads is in the protobuf only (a firing alert that is no
     * outcome keeps neither name nor hosts; severity, source, ticket type never) */
    ck_assert_int_eq(
        sql_int(st,
                "SELECT count(*) FROM events WHERE kind = 2 AND name IS NULL AND state = 1"
                " AND severity IS NULL AND hosts IS NULL AND raw IS NULL AND raw_format IS NULL"),
        1);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events WHERE incident_id = 'INC-1' AND"
                                 " severity IS NULL AND hosts = 'web-2' AND outcome = 1"),
                     1);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events WHERE source IS NOT NULL OR"
                                 " severity IS NOT NULL OR ticket_type IS NOT NULL OR"
                                 " commit_time IS NOT NULL OR change_ticket IS NOT NULL"),
                     0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events WHERE ticket_id = 'CHG-7' AND"
                                 " state = 2 AND kind = 4"),
                     1);
    /* deploy: 2 hosts; outcome incident: 1; non-outcome alert: none */
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM event_hosts"), 3);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM event_hosts WHERE host = 'web-2'"
                                 " AND environment = 'prod' AND kind = 3"),
                     1);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM ticket_links WHERE link IN"
                                 " ('D-1', 'INC-1')"),
                     2);

    lh_event_destroy(&d);
    lh_event_destroy(&a);
    lh_event_destroy(&i);
    lh_event_destroy(&t);
    lh_store_close(&st);
}
END_TEST

START_TEST(test_bad_calls)
{
    lh_store_t *st = open_rw();
    lh_event_t *ev = lh_event_new();
    int64_t seq = 7;
    ck_assert_int_eq(lh_store_insert_event(st, ev, 0, "x", 1, &seq), LH_EINVAL); /* no id */
    ck_assert_int_eq(seq, 0);
    lh_event_destroy(&ev);
    ck_assert_int_eq(lh_store_commit(st), LH_ESTORE); /* none open */
    ck_assert_int_eq(lh_store_begin(st), 0);
    ck_assert_int_eq(lh_store_begin(st), LH_ESTORE); /* nested */
    ck_assert_int_eq(lh_store_rollback(st), 0);
    ck_assert_int_eq(lh_store_rollback(st), 0); /* nothing open: no-op */
    /* outside a transaction an insert commits on its own */
    ck_assert_int_eq(put(st, "solo", &seq), 0);
    ck_assert_int_eq(events_in(st), 1);
    lh_store_close(&st);
    ck_assert_int_eq(lh_store_open("", NULL, &st), LH_EINVAL);
    ck_assert_ptr_null(st);
}
END_TEST

/* ---- dedupe --------------------------------------------------------------------------------- */

START_TEST(test_dup_same_txn)
{
    lh_store_t *st = open_rw();
    int64_t s1 = 0, s2 = 0;
    ck_assert_int_eq(lh_store_begin(st), 0);
    ck_assert_int_eq(put(st, "e-1", &s1), 0);
    ck_assert_int_eq(put(st, "e-1", &s2), LH_EDUPLICATE);
    ck_assert_int_eq(s2, s1);
    ck_assert_int_eq(lh_store_commit(st), 0);
    ck_assert_int_eq(events_in(st), 1);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events"), 1);
    lh_store_close(&st);
}
END_TEST

START_TEST(test_dup_later_txn)
{
    lh_store_t *st = open_rw();
    int64_t s1 = 0, s2 = 0, s3 = 0;
    ck_assert_int_eq(lh_store_begin(st), 0);
    ck_assert_int_eq(put(st, "e-1", &s1), 0);
    ck_assert_int_eq(lh_store_commit(st), 0);
    ck_assert_int_eq(lh_store_begin(st), 0);
    ck_assert_int_eq(put(st, "e-2", &s3), 0);
    ck_assert_int_eq(put(st, "e-1", &s2), LH_EDUPLICATE);
    ck_assert_int_eq(s2, s1);
    ck_assert_int_eq(lh_store_commit(st), 0);
    ck_assert_int_eq(events_in(st), 2);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events"), 2);
    lh_store_close(&st);
}
END_TEST

START_TEST(test_dup_after_reopen)
{
    lh_store_t *st = open_rw();
    int64_t seqs[50];
    char id[32];
    ck_assert_int_eq(lh_store_begin(st), 0);
    for (int i = 0; i < 50; i++) {
        snprintf(id, sizeof(id), "r-%d", i);
        ck_assert_int_eq(put(st, id, &seqs[i]), 0);
    }
    ck_assert_int_eq(lh_store_commit(st), 0);
    lh_store_close(&st);

    st = open_rw();
    ck_assert_int_eq(events_in(st), 50);
    ck_assert_int_eq(lh_store_begin(st), 0);
    for (int i = 0; i < 50; i++) {
        int64_t s = 0;
        snprintf(id, sizeof(id), "r-%d", i);
        ck_assert_int_eq(put(st, id, &s), LH_EDUPLICATE);
        ck_assert_int_eq(s, seqs[i]);
    }
    ck_assert_int_eq(lh_store_commit(st), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events"), 50);
    lh_store_close(&st);
}
END_TEST

START_TEST(test_rollback_retry)
{
    lh_store_t *st = open_rw();
    char id[32];
    int64_t seq = 0;
    ck_assert_int_eq(put(st, "kept", &seq), 0);
    ck_assert_int_eq(lh_store_begin(st), 0);
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "b-%d", i);
        ck_assert_int_eq(put(st, id, &seq), 0);
    }
    ck_assert_int_eq(put(st, "kept", &seq), LH_EDUPLICATE);
    ck_assert_int_eq(events_in(st), 11);
    ck_assert_int_eq(lh_store_rollback(st), 0);
    ck_assert_int_eq(events_in(st), 1);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events"), 1);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM event_hosts"), 0);

    ck_assert_int_eq(lh_store_begin(st), 0);
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "b-%d", i);
        ck_assert_int_eq(put(st, id, &seq), 0);
    }
    ck_assert_int_eq(put(st, "kept", &seq), LH_EDUPLICATE);
    ck_assert_int_eq(lh_store_commit(st), 0);
    ck_assert_int_eq(events_in(st), 11);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events"), 11);
    lh_store_close(&st);
}
END_TEST

START_TEST(test_seq_continues)
{
    lh_store_t *st = open_rw();
    int64_t s = 0, a = 0;
    ck_assert_int_eq(put(st, "x-1", &s), 0);
    ck_assert_int_eq(put(st, "x-2", &s), 0);
    ck_assert_int_eq(
        lh_store_alert_insert(st, "al-1", 1, NULL, 0, 1, "api", "prod", s, 0, 1, 0, "p", 1, &a), 0);
    ck_assert_int_eq(
        lh_store_alert_insert(st, "al-2", 1, NULL, 0, 1, "api", "prod", s, 0, 1, 0, "p", 1, &a), 0);
    int64_t last_event = s, last_alert = a;
    lh_store_close(&st);

    st = open_rw();
    ck_assert_int_eq(put(st, "x-3", &s), 0);
    ck_assert_int_eq(s, last_event + 1);
    ck_assert_int_eq(
        lh_store_alert_insert(st, "al-3", 1, NULL, 0, 1, "api", "prod", s, 0, 1, 0, "p", 1, &a), 0);
    ck_assert_int_eq(a, last_alert + 1);
    lh_store_close(&st);
}
END_TEST

/* ---- collisions ----------------------------------------------------------------------------- */

/* Hot loops assert only on failure: Check reports every passing assertion through a pipe. */

/* How many distinct hashes the ids <prefix>0 .. <prefix>n-1 get (quadratic: n is small). */
static int
distinct_hashes(const char *prefix, int n)
{
    uint64_t *h = malloc((size_t)n * sizeof(*h));
    ck_assert_ptr_nonnull(h);
    int d = 0;
    char id[32];
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "%s%d", prefix, i);
        uint64_t v = lh__store_id_hash(id);
        int j = 0;
        while (j < d && h[j] != v)
            j++;
        if (j == d)
            h[d++] = v;
    }
    free(h);
    return d;
}

START_TEST(test_forced_collisions)
{
    enum { N = 2000 };
    static int64_t seqs[N];
    char id[32];
    lh__store_test_force_hash(61); /* 61 distinct hashes for 2000 ids */
    lh_store_t *st = open_rw();
    ck_assert_int_eq(lh_store_begin(st), 0);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "c-%d", i);
        if (put(st, id, &seqs[i]) != 0)
            ck_abort_msg("insert %s", id);
    }
    ck_assert_int_eq(lh_store_commit(st), 0);
    ck_assert_int_eq(events_in(st), N);
    /* the index hashes ids as it loads them: the hashes are not stored (id_hash is 0) */
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events WHERE id_hash != 0"), 0);
    ck_assert_int_eq(distinct_hashes("c-", N), 61);

    /* a colliding batch rolled back: its entries leave the index, the others stay findable */
    ck_assert_int_eq(lh_store_begin(st), 0);
    for (int i = 0; i < 500; i++) {
        snprintf(id, sizeof(id), "n-%d", i);
        if (put(st, id, NULL) != 0)
            ck_abort_msg("insert %s", id);
    }
    ck_assert_int_eq(lh_store_rollback(st), 0);
    ck_assert_int_eq(events_in(st), N);
    lh_store_close(&st);

    st = open_rw();
    ck_assert_int_eq(lh_store_begin(st), 0);
    for (int i = 0; i < N; i++) {
        int64_t s = 0;
        snprintf(id, sizeof(id), "c-%d", i);
        if (put(st, id, &s) != LH_EDUPLICATE || s != seqs[i])
            ck_abort_msg("%s: not found as row %lld", id, (long long)seqs[i]);
    }
    for (int i = 0; i < 500; i++) {
        snprintf(id, sizeof(id), "n-%d", i);
        if (put(st, id, NULL) != 0)
            ck_abort_msg("insert %s", id);
    }
    ck_assert_int_eq(lh_store_commit(st), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events"), N + 500);
    lh_store_close(&st);
    lh__store_test_force_hash(0);
}
END_TEST

/* The index keeps only the low bits of each hash in memory: ids equal there but not in their full
 * hashes are still told apart (by their stored ids), across rollback and reopen. */
START_TEST(test_stored_bits_collide)
{
    enum { N = 300 };
    static int64_t seqs[N];
    char id[32];
    lh__store_test_force_hash_bits(~(uint64_t)0xffffffff); /* low 32 bits 0, high bits real */
    lh_store_t *st = open_rw();
    ck_assert_int_eq(lh_store_begin(st), 0);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "lo-%d", i);
        if (put(st, id, &seqs[i]) != 0)
            ck_abort_msg("insert %s", id);
    }
    ck_assert_int_eq(lh_store_commit(st), 0);
    ck_assert_int_eq(distinct_hashes("lo-", N), N);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "lo-%d", i);
        if (lh__store_id_hash(id) & 0xffffffffu)
            ck_abort_msg("%s: low bits not forced", id);
    }

    /* a rolled-back batch leaves the index; what was there before stays findable */
    ck_assert_int_eq(lh_store_begin(st), 0);
    for (int i = 0; i < 50; i++) {
        snprintf(id, sizeof(id), "gone-%d", i);
        if (put(st, id, NULL) != 0)
            ck_abort_msg("insert %s", id);
    }
    ck_assert_int_eq(lh_store_rollback(st), 0);
    ck_assert_int_eq(events_in(st), N);
    for (int i = 0; i < N; i++) {
        int64_t s = 0;
        snprintf(id, sizeof(id), "lo-%d", i);
        if (put(st, id, &s) != LH_EDUPLICATE || s != seqs[i])
            ck_abort_msg("%s: not found as row %lld", id, (long long)seqs[i]);
    }
    ck_assert_int_eq(put(st, "gone-7", NULL), 0); /* not a duplicate of its rolled-back self */
    lh_store_close(&st);

    st = open_rw();
    for (int i = 0; i < N; i++) {
        int64_t s = 0;
        snprintf(id, sizeof(id), "lo-%d", i);
        if (put(st, id, &s) != LH_EDUPLICATE || s != seqs[i])
            ck_abort_msg("%s after reopen: not found as row %lld", id, (long long)seqs[i]);
    }
    ck_assert_int_eq(put(st, "gone-7", NULL), LH_EDUPLICATE);
    ck_assert_int_eq(put(st, "gone-8", NULL), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events"), N + 2);
    lh_store_close(&st);
    lh__store_test_force_hash_bits(0);
}
END_TEST

static void raw_exec(const char *sql);

/* Rows past 2^32: the index keeps the low 32 bits of a row, so rows 7 and 2^32 + 7 share them;
 * every candidate is checked against its stored id. All hashes collide too (modulo 1). */
START_TEST(test_rows_past_2_32)
{
    enum { N = 20 };
    const int64_t base = (int64_t)1 << 32;
    char id[32];
    int64_t s = 0;
    lh__store_test_force_hash(1);
    lh_store_t *st = open_rw();
    ck_assert_int_eq(lh_store_begin(st), 0);
    for (int i = 1; i <= N; i++) {
        snprintf(id, sizeof(id), "low-%d", i);
        ck_assert_int_eq(put(st, id, &s), 0);
        ck_assert_int_eq(s, i);
    }
    ck_assert_int_eq(put(st, "filler", &s), 0);
    ck_assert_int_eq(lh_store_commit(st), 0);
    lh_store_close(&st);
    raw_exec("UPDATE events SET seq = 4294967296 WHERE id = 'filler'");

    st = open_rw();
    ck_assert_int_eq(lh_store_begin(st), 0);
    for (int i = 1; i <= N; i++) {
        snprintf(id, sizeof(id), "high-%d", i);
        ck_assert_int_eq(put(st, id, &s), 0);
        ck_assert_int_eq(s, base + i); /* same low 32 bits as low-<i> */
    }
    ck_assert_int_eq(lh_store_commit(st), 0);
    /* a rolled-back row past 2^32 leaves no entry behind */
    ck_assert_int_eq(lh_store_begin(st), 0);
    ck_assert_int_eq(put(st, "undone", &s), 0);
    ck_assert_int_eq(s, base + N + 1);
    ck_assert_int_eq(lh_store_rollback(st), 0);

    for (int round = 0; round < 2; round++) {
        for (int i = 1; i <= N; i++) {
            snprintf(id, sizeof(id), "low-%d", i);
            ck_assert_int_eq(put(st, id, &s), LH_EDUPLICATE);
            ck_assert_int_eq(s, i);
            snprintf(id, sizeof(id), "high-%d", i);
            ck_assert_int_eq(put(st, id, &s), LH_EDUPLICATE);
            ck_assert_int_eq(s, base + i);
        }
        ck_assert_int_eq(put(st, "filler", &s), LH_EDUPLICATE);
        ck_assert_int_eq(s, base);
        lh_store_close(&st);
        st = open_rw(); /* the second round runs on the index rebuilt from the file */
    }
    ck_assert_int_eq(put(st, "undone", &s), 0);
    ck_assert_int_eq(s, base + N + 1);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events"), 2 * N + 2);
    lh_store_close(&st);
    lh__store_test_force_hash(0);
}
END_TEST

START_TEST(test_many_distinct)
{
    enum { N = 30000, BATCH = 5000 }; /* grows the index 1024 -> 65536 slots */
    char id[32];
    lh_store_opts_t o;
    lh_store_opts_default(&o);
    o.cache_kb = 4096; /* keeps the sanitizer's allocator out of the measurement */
    lh_store_t *st = NULL;
    ck_assert_int_eq(lh_store_open(lh_test_fx.db, &o, &st), 0);
    lh_event_t *ev = mk_event("placeholder", LH_KIND_ALERT);
    ev->id = id; /* one event reused, only its id changes (the arena never frees single strings) */
    for (int b = 0; b < N / BATCH; b++) {
        ck_assert_int_eq(lh_store_begin(st), 0);
        for (int i = b * BATCH; i < (b + 1) * BATCH; i++) {
            snprintf(id, sizeof(id), "%08x-%d", (unsigned)i * 2654435761u, i);
            int rc = lh_store_insert_event(st, ev, 0, id, 8, NULL);
            if (rc != 0)
                ck_abort_msg("insert %s: %s", id, lh_strerror(rc));
        }
        ck_assert_int_eq(lh_store_commit(st), 0);
    }
    ck_assert_int_eq(events_in(st), N);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events"), N);
    ck_assert_int_eq(sql_int(st, "SELECT count(DISTINCT id) FROM events"), N);
    /* every one of them is still found */
    ck_assert_int_eq(lh_store_begin(st), 0);
    for (int i = 0; i < N; i += 97) {
        snprintf(id, sizeof(id), "%08x-%d", (unsigned)i * 2654435761u, i);
        int rc = lh_store_insert_event(st, ev, 0, id, 8, NULL);
        if (rc != LH_EDUPLICATE)
            ck_abort_msg("%s not found again: %s", id, lh_strerror(rc));
    }
    ck_assert_int_eq(lh_store_commit(st), 0);
    ev->id = NULL;
    lh_event_destroy(&ev);
    lh_store_close(&st);
}
END_TEST

/* ---- migrations and refusals ---------------------------------------------------------------- */

static void
raw_exec(const char *sql)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(lh_test_fx.db, &db), SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, err ? err : "?");
    sqlite3_close(db);
}

static void
assert_migrated(void)
{
    lh_store_t *st = open_rw();
    ck_assert_int_eq(sql_int(st, "PRAGMA user_version"), lh_store_schema_version());
    ck_assert_int_ge(lh_store_schema_version(), 1);
    ck_assert_int_eq(put(st, "m-1", NULL), 0);
    ck_assert_str_eq(sqlite3_db_filename(lh__store_db(st), "main") ? "wal" : "", "wal");
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(lh__store_db(st), "PRAGMA journal_mode", -1, &s, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    lh_store_close(&st);
}

START_TEST(test_migrate_empty_file)
{
    ck_assert_int_eq(lh_test_write_file(lh_test_fx.db, "", 0), 0);
    assert_migrated();
}
END_TEST

/* A new store takes the page size asked for; an existing one keeps its own, and its rows. */
START_TEST(test_page_size_new_store_only)
{
    lh_store_opts_t o;
    lh_store_opts_default(&o);
    ck_assert_int_eq(o.page_size, 16384);
    o.page_size = 4096;
    lh_store_t *st = NULL;
    ck_assert_int_eq(lh_store_open(lh_test_fx.db, &o, &st), 0);
    ck_assert_int_eq(sql_int(st, "PRAGMA page_size"), 4096);
    ck_assert_int_eq(put(st, "p-1", NULL), 0);
    lh_store_close(&st);
    o.page_size = 16384;
    ck_assert_int_eq(lh_store_open(lh_test_fx.db, &o, &st), 0);
    ck_assert_int_eq(sql_int(st, "PRAGMA page_size"), 4096);
    ck_assert_int_eq(events_in(st), 1);
    lh_store_close(&st);
    st = open_rw(); /* the default on an existing store: unchanged too */
    ck_assert_int_eq(sql_int(st, "PRAGMA page_size"), 4096);
    lh_store_close(&st);
}
END_TEST

START_TEST(test_migrate_version0_db)
{
    raw_exec("CREATE TABLE scratch (x); DROP TABLE scratch;");
    ck_assert_int_gt(lh_test_file_count(lh_test_fx.db, "SQLite format 3"), 0);
    assert_migrated();
}
END_TEST

static char *
snapshot(size_t *len)
{
    char *d = lh_test_read_file(lh_test_fx.db, len);
    ck_assert_ptr_nonnull(d);
    return d;
}

START_TEST(test_refuse_newer_schema)
{
    lh_store_t *st = open_rw();
    ck_assert_int_eq(put(st, "keep-me", NULL), 0);
    lh_store_close(&st);
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", lh_store_schema_version() + 1);
    raw_exec(sql);

    size_t n0, n1, n2;
    char *before = snapshot(&n0);
    ck_assert_int_eq(lh_store_open(lh_test_fx.db, NULL, &st), LH_ESCHEMA);
    ck_assert_ptr_null(st);
    ck_assert_ptr_nonnull(strstr(lh_test_fx.log, "newer than this loophub"));
    char *after = snapshot(&n1);
    ck_assert_uint_eq(n0, n1);
    ck_assert_mem_eq(before, after, n0);

    lh_store_opts_t o;
    lh_store_opts_default(&o);
    o.readonly = 1;
    ck_assert_int_eq(lh_store_open(lh_test_fx.db, &o, &st), LH_ESCHEMA);
    char *after2 = snapshot(&n2);
    ck_assert_uint_eq(n0, n2);
    ck_assert_mem_eq(before, after2, n0);
    free(before);
    free(after);
    free(after2);
}
END_TEST

START_TEST(test_refuse_not_a_database)
{
    static const char junk[] = "this is a deploy log, not a database\n"
                               "2026-11-26 10:00:00 deployed api 1.4.2\n";
    ck_assert_int_eq(lh_test_write_file(lh_test_fx.db, junk, sizeof(junk) - 1), 0);
    lh_store_t *st = NULL;
    ck_assert_int_eq(lh_store_open(lh_test_fx.db, NULL, &st), LH_ESTORE);
    ck_assert_ptr_null(st);
    ck_assert_ptr_nonnull(strstr(lh_test_fx.log, "not an SQLite database"));
    lh_store_opts_t o;
    lh_store_opts_default(&o);
    o.readonly = 1;
    ck_assert_int_eq(lh_store_open(lh_test_fx.db, &o, &st), LH_ESTORE);
    size_t n;
    char *after = snapshot(&n);
    ck_assert_uint_eq(n, sizeof(junk) - 1);
    ck_assert_mem_eq(after, junk, n);
    free(after);
}
END_TEST

/* ---- the writer lock ------------------------------------------------------------------------ */

START_TEST(test_second_writer_locked)
{
    /* another process, forked before this one opens (so it shares nothing of the store's state) */
    int go[2], done[2];
    ck_assert_int_eq(pipe(go), 0);
    ck_assert_int_eq(pipe(done), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char c;
        if (read(go[0], &c, 1) != 1)
            _exit(2);
        lh_store_t *other = NULL;
        int rc = lh_store_open(lh_test_fx.db, NULL, &other);
        int ok = rc == LH_ELOCKED && !other && strstr(lh_test_fx.log, "in use by another loophub");
        if (write(done[1], &ok, sizeof(ok)) != (ssize_t)sizeof(ok))
            _exit(3);
        _exit(0);
    }
    lh_store_t *st = open_rw();
    ck_assert_int_eq(put(st, "l-1", NULL), 0);
    ck_assert_int_eq(write(go[1], "g", 1), 1);
    int ok = 0;
    ck_assert_int_eq(read(done[0], &ok, sizeof(ok)), (ssize_t)sizeof(ok));
    ck_assert_msg(ok, "a second process could open the store for writing");
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(go[0]);
    close(go[1]);
    close(done[0]);
    close(done[1]);

    /* the same process, through another path to the same file */
    char alias[700];
    snprintf(alias, sizeof(alias), "%s/./hub.db", lh_test_fx.dir);
    lh_store_t *second = NULL;
    ck_assert_int_eq(lh_store_open(alias, NULL, &second), LH_ELOCKED);
    ck_assert_ptr_null(second);
    ck_assert_ptr_nonnull(strstr(lh_test_fx.log, "is in use by another loophub (pid unknown)"));

    /* readers keep working, and the writer still works after the refusals */
    lh_store_opts_t o;
    lh_store_opts_default(&o);
    o.readonly = 1;
    lh_store_t *ro = NULL;
    ck_assert_int_eq(lh_store_open(lh_test_fx.db, &o, &ro), 0);
    ck_assert_int_eq(events_in(ro), 1);
    ck_assert_int_eq(put(st, "l-2", NULL), 0);
    ck_assert_int_eq(events_in(ro), 2);
    ck_assert_int_ne(put(ro, "l-3", NULL), 0); /* read-only */
    lh_store_close(&ro);
    lh_store_close(&st);

    /* once the writer is gone another one may open */
    st = open_rw();
    ck_assert_int_eq(events_in(st), 2);
    lh_store_close(&st);
}
END_TEST

START_TEST(test_readonly_missing_and_closed)
{
    lh_store_opts_t o;
    lh_store_opts_default(&o);
    o.readonly = 1;
    lh_store_t *ro = NULL;
    ck_assert_int_eq(lh_store_open(lh_test_fx.db, &o, &ro), LH_ENOTFOUND);
    ck_assert_ptr_null(ro);
    ck_assert_int_eq(access(lh_test_fx.db, F_OK), -1); /* not created */

    lh_store_t *st = open_rw();
    ck_assert_int_eq(put(st, "r-1", NULL), 0);
    lh_store_close(&st);
    ck_assert_int_eq(lh_store_open(lh_test_fx.db, &o, &ro), 0);
    ck_assert_int_eq(events_in(ro), 1);
    blob_t b = {0};
    ck_assert_int_eq(lh_store_event_blob(ro, 1, blob_cb, &b), 0);
    ck_assert_mem_eq(b.data, "pb:r-1", 6);
    lh_store_close(&ro);
}
END_TEST

/* ---- outbox and quarantine ------------------------------------------------------------------ */

typedef struct {
    int64_t seqs[16];
    int n;
    int stop_after;
} visit_t;

static int
visit_cb(int64_t seq, const void *pb, size_t len, void *arg)
{
    visit_t *v = arg;
    ck_assert_uint_eq(len, 3);
    ck_assert_mem_eq(pb, "ca", 2);
    v->seqs[v->n++] = seq;
    return v->stop_after && v->n >= v->stop_after;
}

/* What a pending scan hands over, copied (at most 512 bytes a row). */
typedef struct {
    unsigned char pb[6][512];
    size_t len[6];
    int n;
} handed_t;

static int
hand_cb(int64_t seq, const void *pb, size_t len, void *arg)
{
    (void)seq;
    handed_t *h = arg;
    ck_assert_int_lt(h->n, 6);
    ck_assert_uint_le(len, sizeof(h->pb[0]));
    memcpy(h->pb[h->n], pb, len);
    h->len[h->n++] = len;
    return 0;
}

/* A revision that names its outcome event (outcome_id, event_seq) and has no field 7 leaves with
 * the event appended as field 7, read back whole; one that has the field, or does not parse (cut
 * short, a length past the end), leaves as stored, as does one whose event is another or gone.
 * One without an id (field 1) gets its row's own facts appended as the encoder writes them; one
 * that repeats a revision that is gone leaves with what it has. */
START_TEST(test_outbox_outcome_put_back)
{
    lh_store_t *st = open_rw();
    int64_t seq = 0;
    lh_event_t *ev = mk_event("e-out", LH_KIND_INCIDENT);
    ev->incident.incident_id = lh_event_str(ev, "INC-9", (size_t)-1);
    ev->source = lh_event_str(ev, "pagerduty", (size_t)-1);
    lh_buf_t pb = LH_BUF_INIT, whole = LH_BUF_INIT;
    ck_assert_int_eq(lh_store_event_encode(ev, 1, &pb), 0);
    ck_assert_int_eq(lh_store_insert_event(st, ev, 1, pb.data, pb.len, &seq), 0);
    ck_assert_int_eq(lh_codec_pb_encode(ev, &whole), 0);
    lh_event_destroy(&ev);
    static const struct {
        const char *pb;
        size_t len;
        const char *outcome_id;
    } rows[] = {
        {"\x0a\x02id", 4, "e-out"},               /* field 1 only: the event goes after it */
        {"\x0a\x02id\x3a\x00", 6, "e-out"},       /* field 7 there already */
        {"\x0a\xff\xff\xff\xff\x0f", 6, "e-out"}, /* a length past the end */
        {"\x0a\x02id", 4, "e-other"},             /* its seq holds another event */
        {"\x09\x01\x02", 3, "e-out"},             /* a fixed 64-bit value cut short */
        {"\x3a\x00", 2, "e-out"},                 /* no id: the row's own facts go after it */
    };
    for (int i = 0; i < 6; i++) {
        char id[16];
        snprintf(id, sizeof(id), "al-%d", i);
        ck_assert_int_eq(lh_store_alert_insert(st, id, 1, rows[i].outcome_id, seq, 1, "api", "prod",
                                               seq, 0, 5, 0, rows[i].pb, rows[i].len, NULL),
                         0);
    }
    lh_store_sink_t sink;
    ck_assert_int_eq(lh_store_sink_register(st, "zmq-pub", &sink), 0);
    handed_t h = {0};
    ck_assert_int_eq(lh_store_alert_pending(st, sink, 0, hand_cb, &h), 6);
    /* the first: its bytes, then tag 7 (length-delimited), the length, the event whole */
    ck_assert_uint_lt(whole.len, 128);
    ck_assert_uint_eq(h.len[0], 4 + 2 + whole.len);
    ck_assert_mem_eq(h.pb[0], "\x0a\x02id\x3a", 5);
    ck_assert_uint_eq(h.pb[0][5], whole.len);
    ck_assert_mem_eq(h.pb[0] + 6, whole.data, whole.len);
    for (int i = 1; i < 5; i++) {
        ck_assert_uint_eq(h.len[i], rows[i].len);
        ck_assert_mem_eq(h.pb[i], rows[i].pb, rows[i].len);
    }
    /* the last: id, kind 1, service, environment, created 5, revision 1 from its row (late 0 is
     * the default, left out as the encoder leaves it) */
    static const char facts[] = "\x3a\x00\x0a\x04"
                                "al-5"
                                "\x18\x01\x22\x03"
                                "api"
                                "\x2a\x04"
                                "prod"
                                "\x48\x05\x58\x01";
    ck_assert_uint_eq(h.len[5], sizeof(facts) - 1);
    ck_assert_mem_eq(h.pb[5], facts, sizeof(facts) - 1);
    /* the event gone: the first leaves as stored */
    ck_assert_int_eq(sqlite3_exec(lh__store_db(st), "DELETE FROM events", NULL, NULL, NULL),
                     SQLITE_OK);
    memset(&h, 0, sizeof(h));
    ck_assert_int_eq(lh_store_alert_pending(st, sink, 0, hand_cb, &h), 6);
    ck_assert_uint_eq(h.len[0], 4);
    /* read one by one: the same; an unknown seq is not found */
    ck_assert_int_eq(lh_store_alert_payload(st, 2, 1, &pb), 0);
    ck_assert_uint_eq(pb.len, rows[1].len);
    ck_assert_mem_eq(pb.data, rows[1].pb, rows[1].len);
    ck_assert_int_eq(lh_store_alert_payload(st, 999, 1, &pb), LH_ENOTFOUND);
    /* a revision that repeats one that is gone leaves with what it has */
    int64_t rep = 0;
    ck_assert_int_eq(lh_store_alert_insert(st, "al-r", 2, NULL, 0, 1, "api", "prod", seq, 0, 5, 999,
                                           "\x0a\x02id", 4, &rep),
                     0);
    ck_assert_int_eq(lh_store_alert_payload(st, rep, 1, &pb), 0);
    ck_assert_uint_eq(pb.len, 4);
    ck_assert_mem_eq(pb.data, "\x0a\x02id", 4);
    lh_buf_free(&pb);
    lh_buf_free(&whole);
    lh_store_close(&st);
}
END_TEST

START_TEST(test_outbox)
{
    lh_store_t *st = open_rw();
    int64_t a[3];
    const char *ids[3] = {"al-a", "al-b", "al-c"};
    ck_assert_int_eq(lh_store_begin(st), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(lh_store_alert_insert(st, ids[i], 1, NULL, 0, 1, "api", "prod", 1, 0, 5, 0,
                                               "ca1", 3, &a[i]),
                         0);
    int64_t dup = 0;
    ck_assert_int_eq(
        lh_store_alert_insert(st, "al-b", 1, NULL, 0, 1, "api", "prod", 1, 0, 5, 0, "ca1", 3, &dup),
        LH_EDUPLICATE);
    ck_assert_int_eq(dup, a[1]);
    ck_assert_int_eq(lh_store_commit(st), 0); /* the duplicate did not spoil the batch */
    ck_assert(a[0] < a[1] && a[1] < a[2]);

    /* sinks registered after the alerts: every alert is pending for each */
    lh_store_sink_t pub, kafka, again;
    ck_assert_int_eq(lh_store_sink_register(st, "zmq-pub", &pub), 0);
    ck_assert_int_eq(lh_store_sink_register(st, "kafka", &kafka), 0);
    ck_assert_int_eq(lh_store_sink_register(st, "zmq-pub", &again), 0);
    ck_assert_int_eq(again.id, pub.id);
    ck_assert_int_ne(kafka.id, pub.id);

    visit_t v = {0};
    ck_assert_int_eq(lh_store_alert_pending(st, pub, 0, visit_cb, &v), 3);
    ck_assert_int_eq(v.seqs[0], a[0]);
    ck_assert_int_eq(v.seqs[2], a[2]);

    ck_assert_int_eq(lh_store_alert_done(st, pub, a[0]), 0);
    memset(&v, 0, sizeof(v));
    ck_assert_int_eq(lh_store_alert_pending(st, pub, 0, visit_cb, &v), 2);
    ck_assert_int_eq(v.seqs[0], a[1]);
    memset(&v, 0, sizeof(v));
    ck_assert_int_eq(lh_store_alert_pending(st, kafka, 0, visit_cb, &v), 3);
    ck_assert_int_eq(v.seqs[0], a[0]);
    memset(&v, 0, sizeof(v));
    ck_assert_int_eq(lh_store_alert_pending(st, kafka, 2, visit_cb, &v), 2);
    memset(&v, 0, sizeof(v));
    v.stop_after = 1;
    ck_assert_int_eq(lh_store_alert_pending(st, kafka, 0, visit_cb, &v), 1);

    int64_t n_alerts = 0, n_corr = 0;
    ck_assert_int_eq(lh_store_row_counts(st, &n_alerts, &n_corr), 0);
    ck_assert_int_eq(n_alerts, 3);
    int64_t pending = 0;
    ck_assert_int_eq(lh_store_alert_pending_count(st, pub, &pending), 0);
    ck_assert_int_eq(pending, 2);
    lh_store_close(&st);

    /* done marks survive a restart; pending ones are still there to publish */
    st = open_rw();
    ck_assert_int_eq(lh_store_sink_register(st, "zmq-pub", &again), 0);
    ck_assert_int_eq(again.id, pub.id);
    memset(&v, 0, sizeof(v));
    ck_assert_int_eq(lh_store_alert_pending(st, pub, 0, visit_cb, &v), 2);
    ck_assert_int_eq(v.seqs[0], a[1]);
    /* marking done while visiting (what a publisher does) */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(lh_store_alert_done(st, kafka, a[i]), 0);
    memset(&v, 0, sizeof(v));
    ck_assert_int_eq(lh_store_alert_pending(st, kafka, 0, visit_cb, &v), 0);
    lh_store_sink_t bogus = {7};
    ck_assert_int_eq(lh_store_alert_pending(st, bogus, 0, visit_cb, &v), LH_EINVAL);
    ck_assert_int_eq(lh_store_alert_done(st, bogus, a[0]), LH_EINVAL);
    ck_assert_int_eq(lh_store_sink_register(st, "", &bogus), LH_EINVAL);
    ck_assert_int_eq(lh_store_sink_register(st, "with space", &bogus), LH_EINVAL);
    lh_store_close(&st);
}
END_TEST

static int
seq_cb(int64_t seq, const void *pb, size_t len, void *arg)
{
    (void)pb;
    (void)len;
    visit_t *v = arg;
    ck_assert_int_lt(v->n, 16);
    v->seqs[v->n++] = seq;
    return 0;
}

/* Seqs pending for sink, oldest first, into v (at most 16). Returns how many. */
static int
pending_of(lh_store_t *st, lh_store_sink_t sink, visit_t *v)
{
    memset(v, 0, sizeof(*v));
    int n = lh_store_alert_pending(st, sink, 0, seq_cb, v);
    ck_assert_int_ge(n, 0);
    return n;
}

/* sql_int() of the statement fmt makes (printf). */
__attribute__((format(printf, 2, 3))) static int64_t
sql_int_of(lh_store_t *st, const char *fmt, ...)
{
    char sql[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    return sql_int(st, sql);
}

static int64_t
through_of(lh_store_t *st, const char *sink)
{
    return sql_int_of(st, "SELECT done_through FROM sinks WHERE name = '%s'", sink);
}

/* A sink's done marks: a high-water mark for the alerts done in order, rows of outbox_done for
 * the ones done past a hole, taken in when the hole is filled; rolled back with their
 * transaction. */
START_TEST(test_outbox_done_marks)
{
    lh_store_t *st = open_rw();
    int64_t a[6];
    ck_assert_int_eq(lh_store_begin(st), 0);
    for (int i = 0; i < 6; i++) {
        char id[16];
        snprintf(id, sizeof(id), "al-%d", i);
        ck_assert_int_eq(lh_store_alert_insert(st, id, 1, NULL, 0, 1, "api", "prod", 1, 0, 5, 0,
                                               "ca1", 3, &a[i]),
                         0);
    }
    ck_assert_int_eq(lh_store_commit(st), 0);
    lh_store_sink_t k;
    ck_assert_int_eq(lh_store_sink_register(st, "third", &k), 0);
    visit_t v;

    /* past a hole: rows of outbox_done, the mark stays */
    ck_assert_int_eq(lh_store_alert_done(st, k, a[2]), 0);
    ck_assert_int_eq(lh_store_alert_done(st, k, a[3]), 0);
    ck_assert_int_eq(through_of(st, "third"), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM outbox_done"), 2);
    ck_assert_int_eq(pending_of(st, k, &v), 4);
    ck_assert_int_eq(v.seqs[0], a[0]);
    ck_assert_int_eq(v.seqs[1], a[1]);
    ck_assert_int_eq(v.seqs[2], a[4]);
    memset(&v, 0, sizeof(v));
    ck_assert_int_eq(lh_store_alert_pending_after(st, k, a[0], 0, visit_cb, &v), 3);
    ck_assert_int_eq(v.seqs[0], a[1]);

    /* in order: the mark moves, and takes in the rows it reaches */
    ck_assert_int_eq(lh_store_alert_done(st, k, a[0]), 0);
    ck_assert_int_eq(through_of(st, "third"), a[0]);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM outbox_done"), 2);
    ck_assert_int_eq(lh_store_alert_done(st, k, a[1]), 0);
    ck_assert_int_eq(through_of(st, "third"), a[3]);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM outbox_done"), 0);
    ck_assert_int_eq(lh_store_alert_done(st, k, a[1]), 0); /* again: nothing changes */
    ck_assert_int_eq(through_of(st, "third"), a[3]);
    ck_assert_int_eq(lh_store_alert_done(st, k, a[5] + 100), 0); /* no such alert */
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM outbox_done"), 0);
    ck_assert_int_eq(lh_store_alert_done(st, k, a[5]), 0);
    ck_assert_int_eq(pending_of(st, k, &v), 1);
    ck_assert_int_eq(v.seqs[0], a[4]);

    /* a rolled-back transaction takes its marks with it */
    ck_assert_int_eq(lh_store_begin(st), 0);
    ck_assert_int_eq(lh_store_alert_done(st, k, a[4]), 0);
    ck_assert_int_eq(through_of(st, "third"), a[5]);
    ck_assert_int_eq(pending_of(st, k, &v), 0);
    ck_assert_int_eq(lh_store_rollback(st), 0);
    ck_assert_int_eq(through_of(st, "third"), a[3]);
    ck_assert_int_eq(pending_of(st, k, &v), 1);
    ck_assert_int_eq(v.seqs[0], a[4]);
    int64_t n = 0;
    ck_assert_int_eq(lh_store_alert_pending_count(st, k, &n), 0);
    ck_assert_int_eq(n, 1);

    /* another sink, registered now, has every alert pending (a new sink replays the outbox) */
    lh_store_sink_t late;
    ck_assert_int_eq(lh_store_sink_register(st, "late", &late), 0);
    ck_assert_int_eq(pending_of(st, late, &v), 6);
    ck_assert_int_eq(lh_store_alert_pending_count(st, late, &n), 0);
    ck_assert_int_eq(n, 6);
    ck_assert_int_eq(
        sql_int(st, "SELECT count(*) FROM alert_delivery WHERE sink = 'third' AND done"), 5);
    ck_assert_int_eq(
        sql_int(st, "SELECT count(*) FROM alert_delivery WHERE sink = 'late' AND done"), 0);
    lh_store_close(&st);

    /* and across a restart */
    st = open_rw();
    ck_assert_int_eq(lh_store_sink_register(st, "third", &k), 0);
    ck_assert_int_eq(pending_of(st, k, &v), 1);
    ck_assert_int_eq(v.seqs[0], a[4]);
    lh_store_close(&st);
}
END_TEST

/* A mark for a seq no alert has (yet) changes nothing: the next alert is still delivered. */
START_TEST(test_outbox_done_of_no_alert)
{
    lh_store_t *st = open_rw();
    int64_t a1 = 0, a2 = 0;
    ck_assert_int_eq(
        lh_store_alert_insert(st, "al-1", 1, NULL, 0, 1, "api", "prod", 1, 0, 5, 0, "ca1", 3, &a1),
        0);
    lh_store_sink_t k;
    ck_assert_int_eq(lh_store_sink_register(st, "third", &k), 0);
    ck_assert_int_eq(lh_store_alert_done(st, k, a1), 0);
    ck_assert_int_eq(through_of(st, "third"), a1);
    ck_assert_int_eq(lh_store_alert_done(st, k, a1 + 1), 0);
    ck_assert_int_eq(lh_store_alert_done(st, k, a1 + 2), 0);
    ck_assert_int_eq(through_of(st, "third"), a1);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM outbox_done"), 0);
    ck_assert_int_eq(
        lh_store_alert_insert(st, "al-2", 1, NULL, 0, 1, "api", "prod", 1, 0, 5, 0, "ca1", 3, &a2),
        0);
    ck_assert_int_eq(a2, a1 + 1);
    visit_t v;
    ck_assert_int_eq(pending_of(st, k, &v), 1);
    ck_assert_int_eq(v.seqs[0], a2);
    lh_store_close(&st);
}
END_TEST

typedef struct {
    lh_store_t *st;
    lh_store_sink_t sink;
    int outer, inner;
} nested_t;

static int
count_cb(int64_t seq, const void *pb, size_t len, void *arg)
{
    (void)seq;
    (void)pb;
    (void)len;
    ((nested_t *)arg)->inner++;
    return 0;
}

static int
nested_cb(int64_t seq, const void *pb, size_t len, void *arg)
{
    (void)pb;
    (void)len;
    nested_t *n = arg;
    n->outer++;
    /* what a publisher may do from its callback: mark done, scan again */
    ck_assert_int_eq(lh_store_alert_done(n->st, n->sink, seq), 0);
    ck_assert_int_ge(lh_store_alert_pending(n->st, n->sink, 0, count_cb, n), 0);
    return 0;
}

START_TEST(test_outbox_nested_scan)
{
    lh_store_t *st = open_rw();
    ck_assert_int_eq(lh_store_begin(st), 0);
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof(id), "al-%d", i);
        ck_assert_int_eq(
            lh_store_alert_insert(st, id, 1, NULL, 0, 1, "api", "prod", 1, 0, 5, 0, "ca1", 3, NULL),
            0);
    }
    ck_assert_int_eq(lh_store_commit(st), 0);
    nested_t n = {st, {0}, 0, 0};
    ck_assert_int_eq(lh_store_sink_register(st, "zmq-pub", &n.sink), 0);
    ck_assert_int_eq(lh_store_alert_pending(st, n.sink, 0, nested_cb, &n), 3);
    ck_assert_int_eq(n.outer, 3);
    ck_assert_int_eq(n.inner, 2 + 1 + 0); /* each inner scan sees what is left */
    visit_t v;
    ck_assert_int_eq(pending_of(st, n.sink, &v), 0);
    lh_store_close(&st);
}
END_TEST

/* The outbox's statements are index searches, never scans: the done marks of a sink cost the
 * same whatever the size of the outbox, and a scan starts at its cursor. */
START_TEST(test_outbox_plans)
{
    static const struct {
        const char *name, *sql;
    } stmts[] = {
#define X(name, sql) {#name, sql},
        STORE_SQL(X)
#undef X
    };
    static const char *const outbox[] = {
        "SINK_ID",    "SINK_THROUGH", "SINK_SET_THROUGH", "ALERT_NEXT", "DONE_ADD",
        "DONE_FIRST", "DONE_TAKE",    "PENDING_ALL",      "PENDING",    "COUNT_PENDING"};
    ck_assert_int_eq(LH_STORE_SCHEMA_VERSION, lh_store_schema_version());
    lh_store_t *st = open_rw();
    size_t checked = 0;
    for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
        int mine = 0;
        for (size_t j = 0; j < sizeof(outbox) / sizeof(outbox[0]); j++)
            mine |= strcmp(stmts[i].name, outbox[j]) == 0;
        if (!mine)
            continue;
        checked++;
        char sql[1024];
        snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", stmts[i].sql);
        sqlite3_stmt *s = NULL;
        ck_assert_int_eq(sqlite3_prepare_v2(lh__store_db(st), sql, -1, &s, NULL), SQLITE_OK);
        int searches = 0;
        while (sqlite3_step(s) == SQLITE_ROW) {
            const char *d = (const char *)sqlite3_column_text(s, 3);
            /* a SELECT of subqueries alone "scans" its one constant row */
            ck_assert_msg(strncmp(d, "SCAN", 4) != 0 || strcmp(d, "SCAN CONSTANT ROW") == 0,
                          "%s: %s", stmts[i].name, d);
            searches += strncmp(d, "SEARCH", 6) == 0;
        }
        sqlite3_finalize(s);
        ck_assert_msg(searches > 0, "%s: no index search", stmts[i].name);
    }
    ck_assert_uint_eq(checked, sizeof(outbox) / sizeof(outbox[0]));
    lh_store_close(&st);
}
END_TEST

/* Schema version 2 kept delivery state in the columns pub_done and kafka_done. The dump (see
 * tests/data/store/README.md) was written by the real loophub of that release: alerts 1..6
 * published on PUB, 7..8 not; on Kafka 1, 2, 4 and 7 delivered, the others not (broker 2 was
 * down). After the migration each column is the sink of that name, with the same alerts done. */
static int
v2_pending(sqlite3 *db, const char *col, int64_t *seqs)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT seq FROM alerts WHERE %s = 0 ORDER BY seq", col);
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW && n < 16)
        seqs[n++] = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

START_TEST(test_migrate_v2_store)
{
    lh_test_load_store_dump(lh_test_fx.db, "v2.sql");
    int64_t want_pub[16], want_kafka[16];
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(lh_test_fx.db, &db), SQLITE_OK);
    int n_pub = v2_pending(db, "pub_done", want_pub);
    int n_kafka = v2_pending(db, "kafka_done", want_kafka);
    sqlite3_close(db);
    /* the dump holds both shapes: a pending tail (PUB), and holes under done alerts (Kafka) */
    ck_assert_int_eq(n_pub, 2);
    ck_assert_int_eq(want_pub[0], 7);
    ck_assert_int_eq(n_kafka, 4);
    ck_assert_int_eq(want_kafka[0], 3);
    ck_assert_int_eq(want_kafka[1], 5);

    lh_store_t *st = open_rw();
    ck_assert_int_eq(sql_int(st, "PRAGMA user_version"), lh_store_schema_version());
    ck_assert_int_eq(lh_store_schema_version(), 15);
    /* version 13: no revision repeats another before it */
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM alerts WHERE same_as IS NOT NULL"), 0);
    /* version 12: the times of receipt by transaction; the rows written before keep theirs */
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM arrivals"), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM event_received WHERE received > 0"),
                     sql_int(st, "SELECT count(*) FROM events"));
    /* version 11: sources by key; the rows written before keep theirs, nothing is rewritten */
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM sources"), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events WHERE source_ref IS NOT NULL"), 0);
    /* version 10: the two id indexes of the timeline lead with the event's arrival bucket */
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM sqlite_schema WHERE name IN"
                                 " ('ev_incident_event', 'al_outcome_id')"
                                 " AND sql LIKE '%(%seq / 262144, %id)%'"),
                     2);
    /* version 9: the time index holds each event's service and environment */
    sqlite3_stmt *ix = NULL;
    ck_assert_int_eq(
        sqlite3_prepare_v2(lh__store_db(st),
                           "SELECT group_concat(name, ',') FROM"
                           " (SELECT name FROM pragma_index_info('ev_time') ORDER BY seqno)",
                           -1, &ix, NULL),
        SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(ix), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(ix, 0), "time,service,environment");
    sqlite3_finalize(ix);
    /* version 5: the tally holds what the events table holds */
    ck_assert_int_eq(sql_int(st, "SELECT sum(n) FROM tally"),
                     sql_int(st, "SELECT count(*) FROM events"));
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM tally t WHERE oldest ="
                                 " (SELECT min(time) FROM events e WHERE e.kind = t.kind)"),
                     sql_int(st, "SELECT count(DISTINCT kind) FROM events"));
    /* version 4: each incident is an outcome with its events; the alerts are revision 1 */
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM outcomes WHERE kind = 3 AND open = 1"), 8);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM outcomes o JOIN events e"
                                 " ON e.seq = o.first_seq AND e.incident_id = o.ref"),
                     8);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events INDEXED BY ev_incident_event"
                                 " WHERE kind = 3 AND id LIKE 'i-%'"),
                     8);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM alerts WHERE revision = 1"), 8);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM pragma_table_info('alerts')"
                                 " WHERE name IN ('pub_done', 'kafka_done')"),
                     0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM sqlite_master WHERE name IN"
                                 " ('al_pub_pending', 'al_kafka_pending')"),
                     0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM sinks"), 2);
    ck_assert_int_eq(through_of(st, "zmq-pub"), 6);
    ck_assert_int_eq(through_of(st, "kafka"), 2);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM outbox_done"), 2); /* kafka's 4 and 7 */

    lh_store_sink_t pub, kafka;
    ck_assert_int_eq(lh_store_sink_register(st, "zmq-pub", &pub), 0);
    ck_assert_int_eq(lh_store_sink_register(st, "kafka", &kafka), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM sinks"), 2);
    visit_t v;
    ck_assert_int_eq(pending_of(st, pub, &v), n_pub);
    for (int i = 0; i < n_pub; i++)
        ck_assert_int_eq(v.seqs[i], want_pub[i]);
    ck_assert_int_eq(pending_of(st, kafka, &v), n_kafka);
    for (int i = 0; i < n_kafka; i++)
        ck_assert_int_eq(v.seqs[i], want_kafka[i]);

    /* the rest of the store came along: events (and their dedupe index), correlations */
    lh_store_stats_t s;
    ck_assert_int_eq(lh_store_stats(st, &s), 0);
    ck_assert_int_eq(s.events, 16);
    int64_t n_alerts = 0, n_corr = 0;
    ck_assert_int_eq(lh_store_row_counts(st, &n_alerts, &n_corr), 0);
    ck_assert_int_eq(n_alerts, 8);
    ck_assert_int_eq(n_corr, 8);
    ck_assert_int_eq(put(st, "d-api", NULL), LH_EDUPLICATE);

    /* the hole at 3 filled: Kafka's mark moves past 4, 7 stays a row */
    ck_assert_int_eq(lh_store_alert_done(st, kafka, 3), 0);
    ck_assert_int_eq(through_of(st, "kafka"), 4);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM outbox_done"), 1);
    int64_t seq = 0;
    ck_assert_int_eq(lh_store_alert_insert(st, "al-new", 1, NULL, 0, 1, "api", "prod", 1, 0, 5, 0,
                                           "ca1", 3, &seq),
                     0);
    ck_assert_int_eq(seq, 9); /* AUTOINCREMENT went on where the release left it */
    lh_store_close(&st);

    st = open_rw();
    ck_assert_int_eq(pending_of(st, pub, &v), 3);
    ck_assert_int_eq(v.seqs[2], 9);
    ck_assert_int_eq(pending_of(st, kafka, &v), 4);
    ck_assert_int_eq(v.seqs[0], 5);
    ck_assert_int_eq(v.seqs[1], 6);
    ck_assert_int_eq(v.seqs[2], 8);
    ck_assert_int_eq(v.seqs[3], 9);
    lh_store_close(&st);
}
END_TEST

/* The quarantine keeps its bounds: past max rows or bytes the oldest rows go, counted; a
 * rolled-back insert does not skew what the store believes is there. (Before: a million bad
 * messages were a million rows, every byte kept.) */
START_TEST(test_quarantine_bounded)
{
    lh_store_opts_t o;
    lh_store_opts_default(&o);
    o.quarantine_max_rows = 3;
    o.quarantine_max_bytes = 100;
    lh_store_t *st = NULL;
    ck_assert_int_eq(lh_store_open(lh_test_fx.db, &o, &st), 0);
    char reason[32], payload[40];
    memset(payload, 'p', sizeof(payload));
    for (int i = 1; i <= 5; i++) {
        snprintf(reason, sizeof(reason), "bad %d", i);
        ck_assert_int_eq(lh_store_quarantine(st, "zmq-pull", reason, NULL, payload, 10), 0);
    }
    lh_store_stats_t s;
    ck_assert_int_eq(lh_store_stats(st, &s), 0);
    ck_assert_int_eq(s.quarantined, 3);
    ck_assert_int_eq(s.quarantine_bytes, 30);
    ck_assert_int_eq(s.quarantine_evicted, 2);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM quarantine WHERE reason IN"
                                 " ('bad 3', 'bad 4', 'bad 5')"),
                     3);
    /* bytes: two 40-byte payloads fit in 100, a third evicts down to the bound */
    for (int i = 6; i <= 8; i++) {
        snprintf(reason, sizeof(reason), "big %d", i);
        ck_assert_int_eq(lh_store_quarantine(st, "http", reason, NULL, payload, 40), 0);
    }
    ck_assert_int_eq(lh_store_stats(st, &s), 0);
    ck_assert_int_le(s.quarantine_bytes, 100);
    ck_assert_int_eq(sql_int(st, "SELECT coalesce(sum(length(payload)), 0) FROM quarantine"),
                     s.quarantine_bytes);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM quarantine WHERE reason = 'big 8'"), 1);
    /* a rolled-back insert and eviction: the store measures again */
    int64_t before = sql_int(st, "SELECT count(*) FROM quarantine");
    ck_assert_int_eq(lh_store_begin(st), 0);
    ck_assert_int_eq(lh_store_quarantine(st, "http", "rolled back", NULL, payload, 40), 0);
    ck_assert_int_eq(lh_store_rollback(st), 0);
    ck_assert_int_eq(lh_store_stats(st, &s), 0);
    ck_assert_int_eq(s.quarantined, before);
    ck_assert_int_eq(sql_int(st, "SELECT coalesce(sum(length(payload)), 0) FROM quarantine"),
                     s.quarantine_bytes);
    lh_store_close(&st);
    /* reopened with the default bounds: what is there stays */
    st = open_rw();
    ck_assert_int_eq(lh_store_stats(st, &s), 0);
    ck_assert_int_eq(s.quarantined, before);
    ck_assert_int_eq(s.quarantine_evicted, 0);
    lh_store_close(&st);
}
END_TEST

START_TEST(test_quarantine)
{
    lh_store_t *st = open_rw();
    ck_assert_int_eq(lh_store_quarantine(st, "zmq-pull", "missing field id", NULL, "\x01\x02", 2),
                     0);
    ck_assert_int_eq(lh_store_begin(st), 0);
    ck_assert_int_eq(lh_store_quarantine(st, "http", "bad time", "e-9", "{}", 2), 0);
    ck_assert_int_eq(lh_store_commit(st), 0);
    ck_assert_int_eq(lh_store_quarantine(st, NULL, "x", NULL, NULL, 0), LH_EINVAL);
    ck_assert_int_eq(lh_store_quarantine(st, "http", NULL, NULL, NULL, 0), LH_EINVAL);
    lh_store_stats_t s;
    ck_assert_int_eq(lh_store_stats(st, &s), 0);
    ck_assert_int_eq(s.quarantined, 2);
    ck_assert_int_eq(s.events, 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM quarantine WHERE origin = 'http' AND"
                                 " reason = 'bad time' AND event_id = 'e-9' AND payload = X'7B7D'"
                                 " AND received > 0"),
                     1);
    ck_assert_int_eq(
        sql_int(st, "SELECT count(*) FROM quarantine WHERE event_id IS NULL AND length(payload)"
                    " = 2"),
        1);
    lh_store_close(&st);
}
END_TEST

/* ---- WAL checkpoints ------------------------------------------------------------------------ */

enum { WAL_LIMIT = 1 << 20, BLOB = 2048 };

static int64_t
mono_ms(void)
{
    return lh_mono_ns() / LH_NS_PER_MS;
}

static lh_store_t *
open_small_wal(void)
{
    lh_store_opts_t o;
    lh_store_opts_default(&o);
    o.wal_checkpoint_bytes = WAL_LIMIT;
    o.cache_kb = 4096;
    lh_store_t *st = NULL;
    int rc = lh_store_open(lh_test_fx.db, &o, &st);
    ck_assert_msg(rc == 0, "open: %s; log: %s", lh_strerror(rc), lh_test_fx.log);
    return st;
}

static const char *
wal_path(void)
{
    static char p[700];
    snprintf(p, sizeof(p), "%s-wal", lh_test_fx.db);
    return p;
}

static long long
wal_size(void)
{
    struct stat sb;
    return stat(wal_path(), &sb) == 0 ? (long long)sb.st_size : 0;
}

/* Salt-1 of the WAL header: SQLite changes it each time the WAL starts over (0: no header). */
static uint32_t
wal_salt1(void)
{
    unsigned char h[32];
    int fd = open(wal_path(), O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, h, sizeof(h));
    close(fd);
    if (n != (ssize_t)sizeof(h))
        return 0;
    return (uint32_t)h[16] << 24 | (uint32_t)h[17] << 16 | (uint32_t)h[18] << 8 | h[19];
}

/* The payload of row i: BLOB bytes that name i (so a row read back is the right one). */
static void
fill_blob(char *b, int i)
{
    memset(b, 'a' + i % 26, BLOB);
    snprintf(b, 32, "blob-%d.", i);
}

/* Commits rows [from, to) in batches of `batch`; asserts after each commit that the WAL file stays
 * under `bound` bytes. Returns the number of WAL restarts seen (salt changes). */
static int
commit_rows(lh_store_t *st, int from, int to, int batch, long long bound)
{
    static char b[BLOB];
    char id[32];
    int restarts = 0;
    uint32_t salt = wal_salt1();
    lh_event_t *ev = mk_event("placeholder", LH_KIND_DEPLOY);
    ev->id = id;
    for (int i = from; i < to;) {
        ck_assert_int_eq(lh_store_begin(st), 0);
        for (int end = i + batch; i < end && i < to; i++) {
            snprintf(id, sizeof(id), "w-%d", i);
            fill_blob(b, i);
            int rc = lh_store_insert_event(st, ev, 0, b, BLOB, NULL);
            if (rc != 0)
                ck_abort_msg("insert %s: %s", id, lh_strerror(rc));
        }
        ck_assert_int_eq(lh_store_commit(st), 0);
        long long sz = wal_size();
        if (sz > bound)
            ck_abort_msg("after row %d the WAL holds %lld bytes (bound %lld)", i, sz, bound);
        uint32_t now = wal_salt1();
        if (now != salt) {
            restarts++;
            salt = now;
        }
    }
    ev->id = NULL;
    lh_event_destroy(&ev);
    return restarts;
}

/* Every row [0, n) is there, with its own payload, and nothing else. */
static void
assert_rows(lh_store_t *st, int n)
{
    static char want[BLOB];
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events"), n);
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(lh__store_db(st),
                                        "SELECT id, event FROM events ORDER BY seq", -1, &s, NULL),
                     SQLITE_OK);
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "w-%d", i);
        fill_blob(want, i);
        if (sqlite3_step(s) != SQLITE_ROW)
            ck_abort_msg("row %d missing", i);
        const char *got = (const char *)sqlite3_column_text(s, 0);
        if (!got || strcmp(got, id) != 0 || sqlite3_column_bytes(s, 1) != BLOB ||
            memcmp(sqlite3_column_blob(s, 1), want, BLOB) != 0)
            ck_abort_msg("row %d: wrong id or payload (%s)", i, got ? got : "NULL");
    }
    ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM pragma_integrity_check WHERE"
                                 " integrity_check != 'ok'"),
                     0);
}

START_TEST(test_wal_bounded)
{
    enum { N = 6000, BATCH = 30 }; /* ~12 MB of payload, ~100 MB of WAL frames */
    lh_store_t *st = open_small_wal();
    /* the writer waits for the checkpointer at 4 thresholds; one more batch may land on top */
    long long bound = 4LL * WAL_LIMIT + (1LL << 20);
    int restarts = commit_rows(st, 0, N, BATCH, bound);
    lh_store_wal_stats_t ws;
    lh__store_wal_stats(st, &ws);
    ck_assert_msg(restarts >= 5 && ws.restarts >= 5,
                  "the WAL restarted %d times (store says %llu, %llu passive)", restarts,
                  (unsigned long long)ws.restarts, (unsigned long long)ws.passive);
    ck_assert_uint_ge(ws.passive, ws.restarts);
    /* and it restarts while the writer goes on, not only when the hard cap stops the writer (a
     * PASSIVE checkpoint alone never catches up with a busy writer) */
    ck_assert_msg(ws.cap_waits * 4 <= (uint64_t)restarts,
                  "%llu of %d restarts needed the writer stopped at the cap",
                  (unsigned long long)ws.cap_waits, restarts);
    assert_rows(st, N);
    lh_store_close(&st);
    ck_assert_int_eq(access(wal_path(), F_OK), -1); /* the last close checkpoints it away */

    lh_store_opts_t o;
    lh_store_opts_default(&o);
    o.readonly = 1;
    ck_assert_int_eq(lh_store_open(lh_test_fx.db, &o, &st), 0);
    assert_rows(st, N);
    lh_store_close(&st);
    st = open_small_wal();
    ck_assert_int_eq(events_in(st), N);
    ck_assert_int_eq(put(st, "w-17", NULL), LH_EDUPLICATE);
    lh_store_close(&st);
}
END_TEST

/* A reader on an old snapshot: no checkpoint can restart the WAL past it. */
static sqlite3 *
pin_snapshot(void)
{
    sqlite3 *r = NULL;
    ck_assert_int_eq(sqlite3_open_v2(lh_test_fx.db, &r, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(r, "BEGIN; SELECT count(*) FROM events;", NULL, NULL, NULL),
                     SQLITE_OK);
    return r;
}

static void
unpin_snapshot(sqlite3 *r)
{
    ck_assert_int_eq(sqlite3_exec(r, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_close(r), SQLITE_OK);
}

typedef struct {
    lh_store_t *st;
    uint64_t restarts;
} wal_wait_t;

static int
restart_busy_seen(void *arg)
{
    lh_store_wal_stats_t ws;
    lh__store_wal_stats(arg, &ws);
    return ws.restart_busy > 0;
}

static int
restarting_now(void *arg)
{
    lh_store_wal_stats_t ws;
    lh__store_wal_stats(arg, &ws);
    return ws.restarting;
}

static int
restarted_since(void *arg)
{
    wal_wait_t *w = arg;
    lh_store_wal_stats_t ws;
    lh__store_wal_stats(w->st, &ws);
    return ws.restarts > w->restarts;
}

START_TEST(test_wal_reader_pins)
{
    enum { N = 1500, BATCH = 30 };
    lh_store_t *st = open_small_wal();
    commit_rows(st, 0, 30, BATCH, 1LL << 40);
    sqlite3 *r = pin_snapshot();
    /* the writer is not held up by a WAL it cannot restart: each batch commits promptly */
    for (int i = 30; i < N; i += BATCH) {
        int64_t t0 = mono_ms();
        commit_rows(st, i, i + BATCH, BATCH, 1LL << 40);
        int64_t ms = mono_ms() - t0;
        if (ms > 2000)
            ck_abort_msg("a batch took %lld ms while a reader pinned the WAL", (long long)ms);
    }
    ck_assert_msg(lh_test_wait_for(restart_busy_seen, st, 5000), "no RESTART was attempted");
    ck_assert_int_gt(wal_size(), 4LL * WAL_LIMIT); /* it could not restart */
    /* the reader sees its snapshot, unchanged */
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(r, "SELECT count(*) FROM events", -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(s, 0), 30);
    sqlite3_finalize(s);
    unpin_snapshot(r);

    /* once the reader is gone the WAL starts over with the next checkpoint */
    lh_store_wal_stats_t ws;
    lh__store_wal_stats(st, &ws);
    wal_wait_t w = {st, ws.restarts};
    int next = N;
    int64_t t0 = mono_ms();
    while (!restarted_since(&w) && mono_ms() - t0 < 10000) {
        commit_rows(st, next, next + BATCH, BATCH, 1LL << 40);
        next += BATCH;
    }
    ck_assert_msg(restarted_since(&w), "the WAL never restarted after the reader left");
    assert_rows(st, next);
    lh_store_close(&st);
}
END_TEST

START_TEST(test_wal_close_during_checkpoint)
{
    enum { N = 600, BATCH = 30 };
    lh_store_t *st = open_small_wal();
    commit_rows(st, 0, 30, BATCH, 1LL << 40);
    sqlite3 *r = pin_snapshot();
    commit_rows(st, 30, N, BATCH, 1LL << 40);
    /* the next retry's RESTART waits for the reader until the store closes */
    lh__store_test_ckpt_hold(1);
    ck_assert_msg(lh_test_wait_for(restarting_now, st, 5000), "no RESTART started");
    int64_t t0 = mono_ms();
    lh_store_close(&st); /* stops the checkpoint in the middle; ASan checks nothing leaks */
    int64_t ms = mono_ms() - t0;
    ck_assert_msg(ms < 2000, "close took %lld ms", (long long)ms);
    lh__store_test_ckpt_hold(0);
    unpin_snapshot(r);

    st = open_small_wal();
    assert_rows(st, N);
    ck_assert_int_eq(put(st, "w-0", NULL), LH_EDUPLICATE);
    lh_store_close(&st);
}
END_TEST

/* ---- failures ------------------------------------------------------------------------------- */

START_TEST(test_disk_full)
{
    lh_store_t *st = open_rw();
    char id[32];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "f-%d", i);
        ck_assert_int_eq(put(st, id, NULL), 0);
    }
    /* a database that cannot grow behaves as a full disk: SQLITE_FULL */
    int64_t pages = sql_int(st, "PRAGMA page_count");
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld", (long long)pages + 2);
    sql_int(st, sql);

    static char big[8192];
    memset(big, 'x', sizeof(big));
    ck_assert_int_eq(lh_store_begin(st), 0);
    int rc = 0, n = 0;
    while (rc == 0 && n < 1000) {
        snprintf(id, sizeof(id), "g-%d", n++);
        lh_event_t *ev = mk_event(id, LH_KIND_DEPLOY);
        rc = lh_store_insert_event(st, ev, 0, big, sizeof(big), NULL);
        lh_event_destroy(&ev);
    }
    ck_assert_int_eq(rc, LH_ESTORE);
    ck_assert_ptr_nonnull(strstr(lh_test_fx.log, "full"));
    ck_assert_int_eq(lh_store_commit(st), LH_ESTORE); /* poisoned: refuses, rolls back */
    ck_assert_int_eq(lh_store_rollback(st), 0);
    ck_assert_int_eq(events_in(st), 10);

    /* room again: the very same batch goes in */
    sql_int(st, "PRAGMA max_page_count = 1073741823");
    ck_assert_int_eq(lh_store_begin(st), 0);
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "g-%d", i);
        lh_event_t *ev = mk_event(id, LH_KIND_DEPLOY);
        ck_assert_int_eq(lh_store_insert_event(st, ev, 0, big, sizeof(big), NULL), 0);
        lh_event_destroy(&ev);
    }
    ck_assert_int_eq(lh_store_commit(st), 0);
    ck_assert_int_eq(events_in(st), 10 + n);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events"), 10 + n);
    lh_store_close(&st);
}
END_TEST

START_TEST(test_kill9_mid_ingest)
{
    enum { BATCH = 100 };
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        lh_store_t *st = NULL;
        if (lh_store_open(lh_test_fx.db, NULL, &st))
            _exit(3);
        char id[32];
        for (int b = 1;; b++) {
            if (lh_store_begin(st))
                _exit(4);
            for (int i = 0; i < BATCH; i++) {
                snprintf(id, sizeof(id), "k-%d-%d", b, i);
                if (put(st, id, NULL))
                    _exit(5);
            }
            if (lh_store_commit(st))
                _exit(6);
            if (write(fds[1], &b, sizeof(b)) != (ssize_t)sizeof(b))
                _exit(7);
        }
    }
    close(fds[1]);
    int reported = 0, b = 0;
    while (reported < 5) {
        ck_assert_int_eq(read(fds[0], &b, sizeof(b)), (ssize_t)sizeof(b));
        reported = b;
    }
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    while (read(fds[0], &b, sizeof(b)) == (ssize_t)sizeof(b))
        reported = b; /* commits reported before the kill */
    close(fds[0]);

    lh_store_t *st = open_rw();
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM pragma_integrity_check WHERE"
                                 " integrity_check != 'ok'"),
                     0);
    int64_t n = events_in(st);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events"), n);
    ck_assert_msg(n >= (int64_t)reported * BATCH, "%lld rows, %d batches reported", (long long)n,
                  reported);
    ck_assert_msg(n % BATCH == 0, "%lld rows: a partial batch survived", (long long)n);
    /* what survived is deduped, and ingest goes on */
    ck_assert_int_eq(put(st, "k-1-0", NULL), LH_EDUPLICATE);
    ck_assert_int_eq(put(st, "after-crash", NULL), 0);
    lh_store_close(&st);
}
END_TEST

static lh_store_stats_t
stats_of(lh_store_t *st)
{
    lh_store_stats_t s;
    ck_assert_int_eq(lh_store_stats(st, &s), 0);
    return s;
}

/* A store written by the release before schema version 5 (tests/data/store/v4.sql, written by
 * the real loophub 77ae869: see README.md there) migrates on open: the tally holds what its
 * events table holds, its ids are still duplicates, its outbox keeps its delivery state, the old
 * original bytes stay, and retention runs on it. */
START_TEST(test_migrate_v4_store)
{
    lh_test_load_store_dump(lh_test_fx.db, "v4.sql");
    lh_store_t *st = open_rw();
    ck_assert_int_eq(sql_int(st, "PRAGMA user_version"), lh_store_schema_version());
    lh_store_stats_t s = stats_of(st);
    ck_assert_int_eq(s.events, 12);
    ck_assert_int_eq(s.events_by_kind[LH_KIND_DEPLOY], 4);
    ck_assert_int_eq(s.events_by_kind[LH_KIND_ALERT], 3);
    ck_assert_int_eq(s.events_by_kind[LH_KIND_INCIDENT], 4);
    ck_assert_int_eq(s.events_by_kind[LH_KIND_TICKET], 1);
    int64_t t0 = 0; /* the deploys' time */
    ck_assert_int_eq(lh_time_parse("2026-01-10T10:00:00Z", &t0), 0);
    ck_assert_int_eq(s.oldest_by_kind[LH_KIND_DEPLOY], t0);
    ck_assert_int_eq(s.oldest_by_kind[LH_KIND_TICKET], t0 - 10 * 60 * LH_NS_PER_SEC);
    ck_assert_int_eq(s.dedupe_entries, 12);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM sqlite_master WHERE name IN"
                                 " ('tl_seq', 'tally')"),
                     2);
    /* version 14: the host rows keyed without rowid; eh_seq came with version 5 and went */
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM sqlite_master WHERE name IN"
                                 " ('eh_seq', 'eh_host')"),
                     0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events WHERE raw IS NOT NULL"), 1);
    /* its ids are known; a new one is stored after its rows */
    int64_t seq = 0;
    ck_assert_int_eq(put(st, "d-api", &seq), LH_EDUPLICATE);
    ck_assert_int_eq(put(st, "d-new", &seq), 0);
    ck_assert_int_eq(seq, 13);
    /* the outbox: four alerts delivered on PUB, the last one waiting */
    lh_store_sink_t pub;
    ck_assert_int_eq(lh_store_sink_register(st, "zmq-pub", &pub), 0);
    int64_t pending = 0;
    ck_assert_int_eq(lh_store_alert_pending_count(st, pub, &pending), 0);
    ck_assert_int_eq(pending, 1);
    /* retention 100 days after: the monitoring alerts (30d) go, with their firing period; the
     * changes, incidents and the ticket (400d) stay, and so does every alert of the outbox (an
     * incident's case) */
    lh_store_retention_t r;
    lh_store_retention_default(&r);
    lh_store_expired_t x;
    ck_assert_int_eq(lh_store_expire(st, &r, t0 + 100 * LH_STORE_DAY_NS, 100, &x), 0);
    ck_assert_int_eq(x.events[LH_KIND_ALERT], 3);
    ck_assert_int_eq(
        x.events[LH_KIND_DEPLOY] + x.events[LH_KIND_INCIDENT] + x.events[LH_KIND_TICKET], 0);
    ck_assert_int_eq(x.alerts, 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM outcomes WHERE kind = 2"), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM outcomes WHERE kind = 3"), 4);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM cases"), 4);
    ck_assert_int_eq(stats_of(st).events, 10);
    ck_assert_int_eq(stats_of(st).oldest_by_kind[LH_KIND_ALERT], 0);
    lh_store_close(&st);
}
END_TEST

/* Runs correlator statement `which` (LH_CORR_SQL) on the store with the lookup parameters
 * (key, environment, from, to, limit) and returns its first column's rows joined by ' '. */
static char *
lookup(lh_store_t *st, int which, const char *key, int64_t from, int64_t to)
{
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(lh__store_db(st), LH_CORR_SQL[which], -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, "prod", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, from);
    if (which == LH_CSQL_LAST_GOOD)
        sqlite3_bind_null(s, 4); /* skip no change */
    else
        sqlite3_bind_int64(s, 4, to);
    sqlite3_bind_int(s, 5, 10);
    char *out = calloc(1, 512);
    /* the window lookups take one time bucket (?6): each of the window's, newest first */
    int64_t b = lh_store_bucket(to), last = lh_store_bucket(from);
    if (which == LH_CSQL_LAST_GOOD)
        b = last = 0;
    for (; b >= last; b--) {
        sqlite3_bind_int64(s, 6, b);
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            size_t n = strlen(out);
            snprintf(out + n, 512 - n, "%s%s", n ? " " : "",
                     (const char *)sqlite3_column_text(s, 0));
        }
        ck_assert_int_eq(rc, SQLITE_DONE);
        sqlite3_reset(s);
    }
    sqlite3_finalize(s);
    return out;
}

static void
assert_lookup(lh_store_t *st, int which, const char *key, int64_t from, int64_t to,
              const char *want)
{
    char *got = lookup(st, which, key, from, to);
    ck_assert_msg(strcmp(got, want) == 0, "lookup %d of %s: got '%s', want '%s'", which, key, got,
                  want);
    free(got);
}

/* A store written by the current release before schema version 6 (tests/data/store/v5.sql,
 * written by the real loophub 22c4c4d with make_store.sh: see README.md there) migrates on open:
 * the window indexes lead with the time bucket, the succeeded deploys have their own index, and
 * the correlator's lookups find in them what the release stored (deploys by service and host
 * across a bucket boundary, outcomes by service, the last good version). */
START_TEST(test_migrate_v5_store)
{
    lh_test_load_store_dump(lh_test_fx.db, "v5.sql");
    lh_store_t *st = open_rw();
    ck_assert_int_eq(sql_int(st, "PRAGMA user_version"), lh_store_schema_version());
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND"
                                 " name IN ('ev_deploy_svc', 'ev_outcome_svc', 'ev_artifact')"
                                 " AND sql LIKE '%(time / 14400000000000, %'"),
                     3);
    /* the host rows: their table is keyed by bucket first since version 14 */
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM sqlite_master WHERE name = 'event_hosts'"
                                 " AND sql LIKE '%PRIMARY KEY (bucket, host,%WITHOUT ROWID'"),
                     1);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM sqlite_master WHERE name = 'ev_good'"), 1);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM sqlite_master WHERE name = 'oc_dora'"), 1);
    lh_store_stats_t s = stats_of(st);
    ck_assert_int_eq(s.events, 12);
    ck_assert_int_eq(s.events_by_kind[LH_KIND_DEPLOY], 4);
    ck_assert_int_eq(s.events_by_kind[LH_KIND_ALERT], 3);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM alerts"), 5);

    int64_t t0 = 0; /* the deploys' time, 10:00; the incidents are at 10:05 */
    ck_assert_int_eq(lh_time_parse("2026-01-10T10:00:00Z", &t0), 0);
    const int64_t min = 60 * LH_NS_PER_SEC;
    /* a window from 06:30 to 10:30 spans two 4-hour buckets (04:00-08:00, 08:00-12:00), one
     * from 09:00 to 12:30 the deploys' bucket and the next */
    assert_lookup(st, LH_CSQL_CAND_SERVICE, "api", t0 - 210 * min, t0 + 30 * min, "D-api");
    assert_lookup(st, LH_CSQL_CAND_SERVICE, "api", t0 - 60 * min, t0 + 150 * min, "D-api");
    assert_lookup(st, LH_CSQL_CAND_HOST, "host-web", t0 - 210 * min, t0 + 30 * min, "D-web");
    assert_lookup(st, LH_CSQL_CAND_SERVICE, "api", t0 + min, t0 + 30 * min, "");
    assert_lookup(st, LH_CSQL_CAND_SERVICE, "api", t0 - 210 * min, t0 - min, "");
    char *out = lookup(st, LH_CSQL_OUT_SERVICE, "web", t0, t0 + 120 * min);
    ck_assert_msg(strchr(out, ' '), "the web incident and its alert: '%s'", out);
    free(out);
    assert_lookup(st, LH_CSQL_LAST_GOOD, "api", t0 + 30 * min, 0, "D-api");
    assert_lookup(st, LH_CSQL_LAST_GOOD, "api", t0 - min, 0, "");
    lh_store_close(&st);
}
END_TEST

/* A store written by the current release, schema version 6 (tests/data/store/v6.sql, written by
 * the real loophub 6836001 with make_store.sh) migrates on open: the incidents' time index
 * (version 7, covering since 8: oc_dora) is there and holds every incident outcome of the
 * release, each with its severity and top suspect; the rest reads as it was. */
START_TEST(test_migrate_v6_store)
{
    lh_test_load_store_dump(lh_test_fx.db, "v6.sql");
    lh_store_t *st = open_rw();
    ck_assert_int_eq(sql_int(st, "PRAGMA user_version"), lh_store_schema_version());
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM outcomes INDEXED BY oc_dora WHERE kind = 3"
                                 " AND time >= 0"),
                     sql_int(st, "SELECT count(DISTINCT incident_id) FROM events WHERE kind = 3"));
    /* make_store.sh's incidents are critical, each blamed on its service's deploy */
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM outcomes WHERE kind = 3 AND severity = 4"
                                 " AND top = 'D-' || service"),
                     4);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM outcomes WHERE kind = 3"), 4);
    lh_store_stats_t s = stats_of(st);
    ck_assert_int_eq(s.events, 12);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM alerts"), 5);
    lh_store_close(&st);
}
END_TEST

static void labels_of(lh_store_t *st, int64_t seq, char *out, size_t len);

/* A store written by the current release before schema version 14 (tests/data/store/v13.sql,
 * written by the real loophub 3ef6e39 with make_store.sh) migrates on open: its host rows, 20 in
 * a rowid table with two indexes, become one table keyed by bucket, host, environment, time,
 * kind and seq (the deploy that named host-rack twice keeps one row); the correlator's lookups by
 * host find what the release stored; the labels of its events read back from their protobuf
 * (version 15); and retention deletes every host row with its event, the alert whose host has a
 * space included (its hosts are in its protobuf). */
START_TEST(test_migrate_v13_store)
{
    lh_test_load_store_dump(lh_test_fx.db, "v13.sql");
    lh_store_t *st = open_rw();
    ck_assert_int_eq(sql_int(st, "PRAGMA user_version"), lh_store_schema_version());
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM sqlite_master WHERE name IN"
                                 " ('eh_host', 'eh_seq', 'event_hosts14')"),
                     0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM event_hosts"), 19);
    ck_assert_int_eq(
        sql_int(st, "SELECT count(*) FROM event_hosts WHERE bucket = time / " LH_STORE_BUCKET_NS
                    " AND environment = 'prod'"),
        19);
    /* each host row names its event's host, kind and time, and a deploy's change */
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM event_hosts h JOIN events e USING (seq)"
                                 " WHERE h.kind = e.kind AND h.time = e.time AND (h.kind <> 1 OR"
                                 " h.deploy_id = e.deploy_id) AND (' ' || e.hosts || ' ') LIKE"
                                 " ('% ' || h.host || ' %')"),
                     19);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM event_hosts WHERE host = 'rack 7'"), 1);
    lh_store_stats_t s = stats_of(st);
    ck_assert_int_eq(s.events, 22);
    /* version 15: the labels of the rows before are in their protobuf, and read back as sent */
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events WHERE labels_ref IS NOT NULL"), 0);
    char got[128];
    labels_of(st, sql_int(st, "SELECT seq FROM events WHERE id = 'p-1'"), got, sizeof(got));
    ck_assert_str_eq(got, "team=payments");
    labels_of(st, sql_int(st, "SELECT seq FROM events WHERE id = 'p-2'"), got, sizeof(got));
    ck_assert_str_eq(got, "tier=gold");

    int64_t t0 = 0; /* the first deploys' time */
    ck_assert_int_eq(lh_time_parse("2026-01-10T10:00:00Z", &t0), 0);
    const int64_t min = 60 * LH_NS_PER_SEC;
    assert_lookup(st, LH_CSQL_CAND_HOST, "host-web", t0 - 210 * min, t0 + 30 * min, "D-web");
    assert_lookup(st, LH_CSQL_CAND_HOST, "host-rack", t0, t0 + 150 * min, "D-rack");
    char *out = lookup(st, LH_CSQL_OUT_HOST, "rack 7", t0, t0 + 150 * min);
    ck_assert_str_eq(out, "22");
    free(out);

    /* every event past its time: every host row goes with its event */
    lh_store_retention_t r;
    lh_store_retention_default(&r);
    for (int k = 1; k < 5; k++)
        r.keep_ns[k] = LH_STORE_DAY_NS;
    lh_store_expired_t x;
    ck_assert_int_eq(lh_store_expire(st, &r, t0 + 30 * LH_STORE_DAY_NS, 100, &x), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events"), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM event_hosts"), 0);
    lh_store_close(&st);
}
END_TEST

/* ---- sources (store_dict.c) ------------------------------------------------------------------ */

/* Inserts an alert of source (NULL: none) whose "protobuf" is its id. Returns the store's code. */
static int
put_sourced(lh_store_t *st, const char *id, const char *source)
{
    lh_event_t *ev = mk_event(id, LH_KIND_ALERT);
    if (source)
        ev->source = lh_event_str(ev, source, (size_t)-1);
    int64_t seq = 0;
    int rc = lh_store_insert_event(st, ev, 0, id, strlen(id), &seq);
    lh_event_destroy(&ev);
    return rc;
}

/* The source_ref of event id (0: NULL). */
static int64_t
ref_of(lh_store_t *st, const char *id)
{
    return sql_int_of(st, "SELECT coalesce(source_ref, 0) FROM events WHERE id = '%s'", id);
}

/* Each source is stored once, in table `sources`, and the writer's table of them is bounded: a
 * source added in a transaction that rolls back is forgotten with its row, a reopened store knows
 * the ones it has, and past LH_STORE_SOURCES_MAX a new source is kept by name in its row while
 * the known ones are still named by key. */
START_TEST(test_sources_once_bounded)
{
    lh_store_t *st = open_rw();
    ck_assert_int_eq(lh_store_begin(st), 0);
    ck_assert_int_eq(put_sourced(st, "s-1", "ci/rolled-back"), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM sources"), 1);
    ck_assert_int_eq(lh_store_rollback(st), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM sources"), 0);
    /* forgotten: key 1 goes to the next new source, the rolled-back one is new again */
    ck_assert_int_eq(put_sourced(st, "s-2", "ci/one"), 0);
    ck_assert_int_eq(put_sourced(st, "s-3", "ci/rolled-back"), 0);
    ck_assert_int_eq(put_sourced(st, "s-4", "ci/one"), 0);
    ck_assert_int_eq(put_sourced(st, "s-5", NULL), 0);
    ck_assert_int_eq(ref_of(st, "s-2"), 1);
    ck_assert_int_eq(ref_of(st, "s-3"), 2);
    ck_assert_int_eq(ref_of(st, "s-4"), 1);
    ck_assert_int_eq(ref_of(st, "s-5"), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events WHERE source IS NOT NULL"), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM sources"), 2);
    lh_store_close(&st);

    st = open_rw(); /* loaded at open: the same keys, no new row */
    ck_assert_int_eq(put_sourced(st, "s-6", "ci/rolled-back"), 0);
    ck_assert_int_eq(ref_of(st, "s-6"), 2);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM sources"), 2);

    ck_assert_int_eq(lh_store_begin(st), 0);
    char id[32], src[32];
    for (int i = 0; i < LH_STORE_SOURCES_MAX; i++) {
        snprintf(id, sizeof(id), "m-%d", i);
        snprintf(src, sizeof(src), "many/%d", i);
        ck_assert_int_eq(put_sourced(st, id, src), 0);
    }
    ck_assert_int_eq(put_sourced(st, "s-7", "ci/one"), 0);
    ck_assert_int_eq(lh_store_commit(st), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM sources"), LH_STORE_SOURCES_MAX);
    ck_assert_int_eq(ref_of(st, "s-7"), 1);
    /* the two past the bound: by name, each in its own row */
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events WHERE source_ref IS NULL"
                                 " AND source IN ('many/4094', 'many/4095')"),
                     2);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events WHERE id LIKE 'm-%'"
                                 " AND source_ref IS NOT NULL"),
                     LH_STORE_SOURCES_MAX - 2);
    /* what a reader selects: the name, by key or from the row alike (the first two of the three
     * columns after LH_STORE_EVENT_FACT_COLS, 18 of them) */
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(
        sqlite3_prepare_v2(lh__store_db(st),
                           "SELECT id, " LH_STORE_EVENT_COLS("") " FROM events WHERE id LIKE 'm-%'",
                           -1, &q, NULL),
        SQLITE_OK);
    ck_assert_int_eq(sqlite3_column_count(q), 1 + 18 + 3);
    int rows = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(q, 19);
        if (!name)
            name = (const char *)sqlite3_column_text(q, 20);
        snprintf(src, sizeof(src), "many/%s", (const char *)sqlite3_column_text(q, 0) + 2);
        ck_assert_str_eq(name ? name : "(none)", src);
        rows++;
    }
    sqlite3_finalize(q);
    ck_assert_int_eq(rows, LH_STORE_SOURCES_MAX);
    lh_store_close(&st);
}
END_TEST

/* ---- times of receipt (arrivals) ------------------------------------------------------------ */

/* The time of receipt event id reads as (view event_received). */
static int64_t
received_of(lh_store_t *st, const char *id)
{
    return sql_int_of(st,
                      "SELECT r.received FROM event_received r JOIN events e ON e.seq = r.seq"
                      " WHERE e.id = '%s'",
                      id);
}

/* The time of receipt is stored once a transaction: its first stored event names it in
 * `arrivals`, the rows keep 0, and view event_received gives every event its transaction's time.
 * A rolled-back transaction leaves no row, a duplicate-only one writes none, an event stored
 * outside a transaction has its own; retention takes the rows no event is left of. */
START_TEST(test_received_once_a_transaction)
{
    lh_store_t *st = open_rw();
    int64_t seq = 0;
    ck_assert_int_eq(lh_store_begin(st), 0);
    ck_assert_int_eq(put_sourced(st, "r-1", NULL), 0);
    ck_assert_int_eq(put_sourced(st, "r-2", NULL), 0);
    ck_assert_int_eq(put_sourced(st, "r-3", NULL), 0);
    ck_assert_int_eq(lh_store_commit(st), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM arrivals"), 1);
    ck_assert_int_eq(sql_int(st, "SELECT first_seq FROM arrivals"), 1);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events WHERE received <> 0"), 0);
    int64_t t1 = received_of(st, "r-1");
    ck_assert(t1 > 0);
    ck_assert(received_of(st, "r-2") == t1 && received_of(st, "r-3") == t1);

    ck_assert_int_eq(lh_store_begin(st), 0); /* rolled back: no row */
    ck_assert_int_eq(put_sourced(st, "r-x", NULL), 0);
    ck_assert_int_eq(lh_store_rollback(st), 0);
    ck_assert_int_eq(lh_store_begin(st), 0); /* duplicates only: no row */
    ck_assert_int_eq(put_sourced(st, "r-2", NULL), LH_EDUPLICATE);
    ck_assert_int_eq(lh_store_commit(st), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM arrivals"), 1);

    ck_assert_int_eq(put_sourced(st, "r-4", NULL), 0); /* each on its own */
    ck_assert_int_eq(put_sourced(st, "r-5", NULL), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM arrivals"), 3);
    ck_assert_int_eq(lh_store_begin(st), 0);
    ck_assert_int_eq(put_sourced(st, "r-2", NULL), LH_EDUPLICATE); /* not the first stored */
    ck_assert_int_eq(put(st, "r-6", &seq), 0);
    ck_assert_int_eq(put(st, "r-7", &seq), 0);
    ck_assert_int_eq(lh_store_commit(st), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM arrivals"), 4);
    ck_assert_int_eq(sql_int_of(st,
                                "SELECT count(*) FROM arrivals WHERE first_seq = (SELECT seq"
                                " FROM events WHERE id = '%s')",
                                "r-6"),
                     1);
    int64_t t6 = received_of(st, "r-6");
    ck_assert(t6 >= received_of(st, "r-5") && received_of(st, "r-5") >= received_of(st, "r-4"));
    ck_assert(received_of(st, "r-4") >= t1);
    ck_assert(received_of(st, "r-7") == t6);

    /* retention 31 days after: the alerts (30d) go, the deploys (400d) stay; the rows of the
     * transactions before the first deploy's go with them */
    lh_store_retention_t r;
    lh_store_retention_default(&r);
    lh_store_expired_t x;
    ck_assert_int_eq(
        lh_store_expire(st, &r, 1800000000LL * LH_NS_PER_SEC + 31 * LH_STORE_DAY_NS, 100, &x), 0);
    ck_assert_int_eq(x.events[LH_KIND_ALERT], 5);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events"), 2);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM arrivals"), 1);
    ck_assert(received_of(st, "r-6") == t6 && received_of(st, "r-7") == t6);
    lh_store_close(&st);
}
END_TEST

/* A new store's file holds no free page (the migrations replaced tables on it: store_migrate.c
 * compacts it), so a store that cannot grow fails its next write as a full disk does. */
START_TEST(test_new_store_no_free_page)
{
    lh_store_t *st = open_rw();
    ck_assert_int_eq(sql_int(st, "PRAGMA freelist_count"), 0);
    ck_assert_int_eq(sql_int(st, "PRAGMA page_size"), 16384);
    lh_store_close(&st);
}
END_TEST

/* Inserts ev (an outcome when is_outcome) with its real stored protobuf; its seq. */
static int64_t
put_encoded(lh_store_t *st, lh_event_t *ev, int is_outcome)
{
    lh_buf_t pb = {0};
    ck_assert_int_eq(lh_store_event_encode(ev, is_outcome, &pb), 0);
    int64_t seq = 0;
    ck_assert_int_eq(lh_store_insert_event(st, ev, is_outcome, pb.data, pb.len, &seq), 0);
    lh_buf_free(&pb);
    lh_event_destroy(&ev);
    return seq;
}

/* The host rows are keyed by host (schema 14), so retention finds an expiring event's rows from
 * the event: from its hosts column, or from its protobuf when a host could not be joined into
 * that column (one with a space). Every row of an expired event goes, whatever its shape,
 * and only those: a kept deploy's rows stay, and the lookups by host still find them. */
START_TEST(test_expire_host_rows)
{
    lh_store_t *st = open_rw();
    lh_event_t *d = mk_event("d-kept", LH_KIND_DEPLOY); /* 400 days: kept */
    d->deploy.deploy_id = lh_event_str(d, "D-1", (size_t)-1);
    ck_assert_int_eq(lh_event_add_host(d, "web-1", (size_t)-1), 0);
    ck_assert_int_eq(lh_event_add_host(d, "web-2", (size_t)-1), 0);
    put_encoded(st, d, 0);

    lh_event_t *a = mk_event("a-plain", LH_KIND_ALERT); /* the hosts column names them */
    a->alert.name = lh_event_str(a, "HighErrorRate", (size_t)-1);
    a->alert.state = LH_ALERT_FIRING;
    ck_assert_int_eq(lh_event_add_host(a, "web-1", (size_t)-1), 0);
    ck_assert_int_eq(lh_event_add_host(a, "web-3", (size_t)-1), 0);
    put_encoded(st, a, 1);

    a = mk_event("a-odd", LH_KIND_ALERT); /* a host with a space: the protobuf keeps them */
    a->alert.name = lh_event_str(a, "HighLatency", (size_t)-1);
    a->alert.state = LH_ALERT_FIRING;
    ck_assert_int_eq(lh_event_add_host(a, "rack 7", (size_t)-1), 0);
    ck_assert_int_eq(lh_event_add_host(a, "web-1", (size_t)-1), 0);
    put_encoded(st, a, 1);

    a = mk_event("a-noenv", LH_KIND_ALERT); /* no environment; a host named twice */
    a->environment = NULL;
    a->alert.name = lh_event_str(a, "DiskFull", (size_t)-1);
    a->alert.state = LH_ALERT_FIRING;
    ck_assert_int_eq(lh_event_add_host(a, "db-1", (size_t)-1), 0);
    ck_assert_int_eq(lh_event_add_host(a, "db-1", (size_t)-1), 0);
    put_encoded(st, a, 1);

    /* one row per host and event, '' for no environment */
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM event_hosts"), 7);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM event_hosts WHERE host = 'db-1'"
                                 " AND environment = ''"),
                     1);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM event_hosts WHERE host = 'rack 7'"
                                 " AND environment = 'prod' AND kind = 2"),
                     1);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events WHERE id = 'a-odd'"
                                 " AND hosts = 'rack 7 web-1'"),
                     1);

    lh_store_retention_t r;
    lh_store_retention_default(&r);
    lh_store_expired_t x;
    ck_assert_int_eq(
        lh_store_expire(st, &r, 1800000000LL * LH_NS_PER_SEC + 31 * LH_STORE_DAY_NS, 100, &x), 0);
    ck_assert_int_eq(x.events[LH_KIND_ALERT], 3);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM event_hosts"), 2);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM event_hosts WHERE kind = 1 AND"
                                 " deploy_id = 'D-1' AND host IN ('web-1', 'web-2')"),
                     2);

    /* an outcome whose protobuf no longer parses (a damaged store): its hosts are taken from its
     * row's column, logged, and its rows still go */
    a = mk_event("a-damaged", LH_KIND_ALERT);
    a->alert.name = lh_event_str(a, "HighErrorRate", (size_t)-1);
    a->alert.state = LH_ALERT_FIRING;
    ck_assert_int_eq(lh_event_add_host(a, "web-4", (size_t)-1), 0);
    ck_assert_int_eq(lh_event_add_host(a, "web-5", (size_t)-1), 0);
    put_encoded(st, a, 1);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM event_hosts"), 4);
    sql_int(st, "UPDATE events SET event = x'ff' WHERE id = 'a-damaged' RETURNING 1");
    ck_assert_int_eq(
        lh_store_expire(st, &r, 1800000000LL * LH_NS_PER_SEC + 31 * LH_STORE_DAY_NS, 100, &x), 0);
    ck_assert_int_eq(x.events[LH_KIND_ALERT], 1);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM event_hosts"), 2);
    ck_assert_msg(strstr(lh_test_fx.log, "does not decode"), "log: %s", lh_test_fx.log);
    lh_store_close(&st);
}
END_TEST

/* ---- label sets (store_dict.c) --------------------------------------------------------------- */

/* Inserts a firing alert id with the labels kv ("key=value" each, n of them); its seq. */
static int64_t
put_labelled(lh_store_t *st, const char *id, const char *const *kv, int n)
{
    lh_event_t *ev = mk_event(id, LH_KIND_ALERT);
    ev->alert.name = lh_event_str(ev, "DiskFull", (size_t)-1);
    ev->alert.state = LH_ALERT_FIRING;
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(kv[i], '=');
        ck_assert_int_eq(lh_event_add_label(ev, kv[i], (size_t)(eq - kv[i]), eq + 1, (size_t)-1),
                         0);
    }
    return put_encoded(st, ev, 0);
}

/* The labels of the event at seq as a reader gets them, "key=value" joined by ",". */
static void
labels_of(lh_store_t *st, int64_t seq, char *out, size_t len)
{
    lh_event_t *ev = NULL;
    char why[128];
    ck_assert_int_eq(lh_store_event_load(st, seq, &ev, why, sizeof(why)), 0);
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ev->n_labels && n < len; i++)
        n += (size_t)snprintf(out + n, len - n, "%s%s=%s", i ? "," : "", ev->labels[i].key,
                              ev->labels[i].value);
    lh_event_destroy(&ev);
}

/* The fields of the protobuf stored for event id (lh_pb_fields()). */
static int
stored_fields(lh_store_t *st, const char *id)
{
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(lh__store_db(st), "SELECT event FROM events WHERE id = ?1",
                                        -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    const void *pb = sqlite3_column_blob(q, 0);
    int f = lh_pb_fields(pb ? pb : "", (size_t)sqlite3_column_bytes(q, 0), 0, NULL);
    sqlite3_finalize(q);
    return f;
}

static int64_t
labels_ref_of(lh_store_t *st, const char *id)
{
    return sql_int_of(st, "SELECT coalesce(labels_ref, 0) FROM events WHERE id = '%s'", id);
}

/* Each set of labels is stored once, in table `labelsets`, the event's protobuf without it, and
 * every event reads back with its labels as sent: a set added in a transaction that rolls back
 * is forgotten with its row, a reopened store knows the ones it has, a set longer than
 * LH_STORE_LABELS_MAX_LEN and any set past LH_STORE_DICT_MAX stay in their event's protobuf
 * while the known ones are still named by key. */
START_TEST(test_labels_once_bounded)
{
    static const char *const pay[] = {"team=payments", "tier=gold"};
    static const char *const web[] = {"team=web"};
    static const char *const empty[] = {"team=payments", "note="};
    char got[1024];
    lh_store_t *st = open_rw();
    ck_assert_int_eq(lh_store_begin(st), 0);
    put_labelled(st, "l-1", pay, 2);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM labelsets"), 1);
    ck_assert_int_eq(lh_store_rollback(st), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM labelsets"), 0);

    int64_t s2 = put_labelled(st, "l-2", pay, 2), s3 = put_labelled(st, "l-3", pay, 2);
    int64_t s4 = put_labelled(st, "l-4", web, 1), s5 = put_labelled(st, "l-5", NULL, 0);
    int64_t s6 = put_labelled(st, "l-6", empty, 2);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM labelsets"), 3);
    ck_assert_int_eq(labels_ref_of(st, "l-2"), 1); /* key 1 again: the rolled-back one is gone */
    ck_assert_int_eq(labels_ref_of(st, "l-3"), 1);
    ck_assert_int_eq(labels_ref_of(st, "l-4"), 2);
    ck_assert_int_eq(labels_ref_of(st, "l-5"), 0);
    ck_assert_int_eq(labels_ref_of(st, "l-6"), 3);
    /* the protobuf keeps the rest of the event (the alert's body, 11), not the labels (8) */
    ck_assert_int_eq(stored_fields(st, "l-2"), 1 << 11);
    ck_assert_int_eq(stored_fields(st, "l-6"), 1 << 11);
    labels_of(st, s2, got, sizeof(got));
    ck_assert_str_eq(got, "team=payments,tier=gold");
    labels_of(st, s3, got, sizeof(got));
    ck_assert_str_eq(got, "team=payments,tier=gold");
    labels_of(st, s4, got, sizeof(got));
    ck_assert_str_eq(got, "team=web");
    labels_of(st, s5, got, sizeof(got));
    ck_assert_str_eq(got, "");
    labels_of(st, s6, got, sizeof(got));
    ck_assert_str_eq(got, "team=payments,note=");

    /* longer than a set may be: in the protobuf, read back the same */
    char note[LH_STORE_LABELS_MAX_LEN + 16];
    memset(note, 'x', sizeof(note) - 1);
    memcpy(note, "note=", 5);
    note[sizeof(note) - 1] = '\0';
    const char *const big[] = {note};
    int64_t s7 = put_labelled(st, "l-7", big, 1);
    ck_assert_int_eq(labels_ref_of(st, "l-7"), 0);
    ck_assert_int_eq(stored_fields(st, "l-7"), 1 << 8 | 1 << 11);
    labels_of(st, s7, got, sizeof(got));
    ck_assert_str_eq(got, note);
    lh_store_close(&st);

    st = open_rw(); /* loaded at open: the same keys, no new row */
    put_labelled(st, "l-8", web, 1);
    ck_assert_int_eq(labels_ref_of(st, "l-8"), 2);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM labelsets"), 3);

    ck_assert_int_eq(lh_store_begin(st), 0);
    char id[32], kv[32];
    int64_t last = 0;
    for (int i = 0; i < LH_STORE_DICT_MAX - 1; i++) { /* 3 known: the last 2 past the bound */
        snprintf(id, sizeof(id), "m-%d", i);
        snprintf(kv, sizeof(kv), "n=%d", i);
        const char *const one[] = {kv};
        last = put_labelled(st, id, one, 1);
    }
    put_labelled(st, "l-9", pay, 2);
    ck_assert_int_eq(lh_store_commit(st), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM labelsets"), LH_STORE_DICT_MAX);
    ck_assert_int_eq(labels_ref_of(st, "l-9"), 1);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events WHERE id LIKE 'm-%'"
                                 " AND labels_ref IS NULL"),
                     2);
    labels_of(st, last, got, sizeof(got));
    snprintf(kv, sizeof(kv), "n=%d", LH_STORE_DICT_MAX - 2);
    ck_assert_str_eq(got, kv);
    lh_store_close(&st);
}
END_TEST

/* A seq names one event for good: when retention deletes the newest rows (a late alert past its
 * retention), the next event still gets a seq above every one given before, also after a
 * rollback and after the store is reopened. */
START_TEST(test_seq_never_reused)
{
    lh_store_t *st = open_rw();
    int64_t seq = 0;
    ck_assert_int_eq(put(st, "q-deploy", &seq), 0); /* kept 400 days */
    ck_assert_int_eq(put_sourced(st, "q-late-1", NULL), 0);
    ck_assert_int_eq(put_sourced(st, "q-late-2", NULL), 0);
    lh_store_retention_t r;
    lh_store_retention_default(&r);
    lh_store_expired_t x;
    const int64_t later = 1800000000LL * LH_NS_PER_SEC + 31 * LH_STORE_DAY_NS;
    ck_assert_int_eq(lh_store_expire(st, &r, later, 100, &x), 0);
    ck_assert_int_eq(x.events[LH_KIND_ALERT], 2);
    ck_assert_int_eq(sql_int(st, "SELECT max(seq) FROM events"), 1);

    ck_assert_int_eq(lh_store_begin(st), 0); /* rolled back: the floor holds */
    ck_assert_int_eq(put(st, "q-gone", &seq), 0);
    ck_assert_int_eq(seq, 4);
    ck_assert_int_eq(lh_store_rollback(st), 0);
    ck_assert_int_eq(put(st, "q-2", &seq), 0);
    ck_assert_int_eq(seq, 4);
    ck_assert_int_eq(put(st, "q-3", &seq), 0);
    ck_assert_int_eq(seq, 5);
    ck_assert_int_eq(put_sourced(st, "q-late-3", NULL), 0); /* seq 6, expires */
    ck_assert_int_eq(lh_store_expire(st, &r, later, 100, &x), 0);
    ck_assert_int_eq(x.events[LH_KIND_ALERT], 1);
    lh_store_close(&st);

    st = open_rw(); /* reopened before any event: the floor is read back */
    ck_assert_int_eq(put(st, "q-4", &seq), 0);
    ck_assert_int_eq(seq, 7);
    lh_store_close(&st);
    st = open_rw(); /* a floor below the newest row no longer counts */
    ck_assert_int_eq(put(st, "q-5", &seq), 0);
    ck_assert_int_eq(seq, 8);
    lh_store_close(&st);
}
END_TEST

/* Every event of db, by seq, read as a reader does (cols: LH_STORE_EVENT_COLS or, before schema
 * 11, LH_STORE_EVENT_FACT_COLS) and encoded whole, each protobuf after the other into out, its
 * length first; *with_src: how many have source "loophub-send". Returns how many events. */
static int
read_whole(sqlite3 *db, const char *cols, lh_buf_t *out, int *with_src)
{
    char sql[1024];
    snprintf(sql, sizeof(sql), "SELECT %s FROM events ORDER BY seq", cols);
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    int n = 0;
    *with_src = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        lh_event_t *ev = NULL;
        char why[128] = "";
        ck_assert_int_eq(lh_codec_pb_decode(sqlite3_column_blob(q, 0),
                                            (size_t)sqlite3_column_bytes(q, 0), &ev, why,
                                            sizeof(why)),
                         0);
        ck_assert_int_eq(lh_store_event_complete_row(ev, q, 0), 0);
        *with_src += ev->source && strcmp(ev->source, "loophub-send") == 0;
        lh_buf_t b = LH_BUF_INIT;
        ck_assert_int_eq(lh_codec_pb_encode(ev, &b), 0);
        uint32_t len = (uint32_t)b.len;
        ck_assert_int_eq(lh_buf_append(out, &len, sizeof(len)), 0);
        ck_assert_int_eq(lh_buf_append(out, b.data, b.len), 0);
        lh_buf_free(&b);
        lh_event_destroy(&ev);
        n++;
    }
    sqlite3_finalize(q);
    return n;
}

/* A store the current release wrote before the sources' table (schema 10): after the migration
 * every event reads back exactly as it read before (the sources in their protobuf, nothing
 * rewritten), and a new event of the same source is named by its key. */
START_TEST(test_migrate_v10_store)
{
    lh_test_load_store_dump(lh_test_fx.db, "v10.sql");
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(lh_test_fx.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    lh_buf_t before = LH_BUF_INIT, after = LH_BUF_INIT;
    int src_before = 0, src_after = 0;
    int n = read_whole(db, LH_STORE_EVENT_FACT_COLS(""), &before, &src_before);
    sqlite3_close(db);
    ck_assert_int_eq(n, 20); /* make_store.sh with LH_DORA_FACTS: see tests/data/store */

    lh_store_t *st = open_rw();
    ck_assert_int_eq(sql_int(st, "PRAGMA user_version"), lh_store_schema_version());
    ck_assert_int_eq(read_whole(lh__store_db(st), LH_STORE_EVENT_COLS(""), &after, &src_after), n);
    ck_assert_int_eq(src_after, src_before);
    ck_assert_int_eq(src_after, n - 1); /* all but j-1, sent as JSON that names no source */
    ck_assert_msg(before.len == after.len && memcmp(before.data, after.data, before.len) == 0,
                  "the events read back differ after the migration");
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM sources"), 0);
    ck_assert_int_eq(put_sourced(st, "s-new", "loophub-send"), 0);
    ck_assert_int_eq(ref_of(st, "s-new"), 1);
    lh_buf_free(&before);
    lh_buf_free(&after);
    lh_store_close(&st);
}
END_TEST

/* ---- the facts of each change (store_changes.c) --------------------------------------------- */

/* The facts' bytes: little-endian, in lh_store_facts_t's order, 0 for what a short blob lacks. */
START_TEST(test_facts_bytes)
{
    lh_store_facts_t f = {1, -2, 0x0102030405060708LL, INT64_MAX, INT64_MIN, 3}, g;
    unsigned char b[LH_STORE_FACTS_BYTES];
    lh_store_facts_encode(&f, b);
    ck_assert_int_eq(b[16], 0x08);
    ck_assert_int_eq(b[23], 0x01);
    ck_assert_int_eq(b[8], 0xfe);
    lh_store_facts_decode(b, sizeof(b), &g);
    ck_assert_mem_eq(&f, &g, sizeof(f));
    lh_store_facts_decode(b, 17, &g); /* two values whole, the rest missing */
    ck_assert_int_eq(g.deployed, 1);
    ck_assert_int_eq(g.failed, -2);
    ck_assert_int_eq(g.rolled, 0);
    ck_assert_int_eq(g.goods, 0);
    lh_store_facts_decode(NULL, 0, &g);
    ck_assert_int_eq(g.deployed, 0);
}
END_TEST

#define CT(s) (1800000000LL * LH_NS_PER_SEC + (s)*LH_NS_PER_SEC)

/* A deploy of change D-1 at CT(t) with its status, service, environment, commit time (0: none)
 * and one label (NULL: none); the protobuf is a stand-in (nothing here decodes it). */
static void
put_change(lh_store_t *st, const char *id, int64_t t, lh_deploy_status_t status, const char *svc,
           const char *env, int64_t commit, const char *lk, const char *lv)
{
    lh_event_t *ev = mk_event(id, LH_KIND_DEPLOY);
    ev->time_ns = CT(t);
    ev->service = lh_event_str(ev, svc, (size_t)-1);
    ev->environment = lh_event_str(ev, env, (size_t)-1);
    ev->deploy.deploy_id = lh_event_str(ev, "D-1", (size_t)-1);
    ev->deploy.status = status;
    ev->deploy.commit_time_ns = commit ? CT(commit) : 0;
    if (status == LH_DEPLOY_SUCCEEDED)
        ev->deploy.version = lh_event_str(ev, "1", (size_t)-1);
    if (lk)
        ck_assert_int_eq(lh_event_add_label(ev, lk, strlen(lk), lv, strlen(lv)), 0);
    int64_t seq = 0;
    ck_assert_int_eq(lh_store_insert_event(st, ev, 0, id, strlen(id), &seq), 0);
    lh_event_destroy(&ev);
}

static char *
sql_text(lh_store_t *st, const char *sql)
{
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(lh__store_db(st), sql, -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    const char *v = (const char *)sqlite3_column_text(s, 0);
    char *r = strdup(v ? v : "(null)");
    sqlite3_finalize(s);
    return r;
}

/* The facts of the change in env_key (one only). */
static lh_store_facts_t
facts_of(lh_store_t *st, const char *env_key)
{
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(lh__store_db(st),
                                        "SELECT facts FROM changes WHERE env_key = ?1", -1, &s,
                                        NULL),
                     SQLITE_OK);
    sqlite3_bind_text(s, 1, env_key, -1, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    lh_store_facts_t f;
    lh_store_facts_decode(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0), &f);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    return f;
}

/* One row per change (deploy id and environment), whatever order its events arrive in: the
 * first event's time and service, the first time of each status, the first good deploy (a
 * success with a version) and how many, the commit time of the latest event carrying one,
 * labels merged with the latest event's winning (a late event only adds labels the change
 * lacks); the store keeps the longest a change lasted. The same id in staging is a change of its
 * own; deploy retention deletes a row with its start. */
START_TEST(test_changes_row_any_order)
{
    lh_store_t *st = open_rw();
    ck_assert_int_eq(lh_store_begin(st), 0);
    put_change(st, "e2", 20, LH_DEPLOY_SUCCEEDED, "api-2", "prod", 2, "team", "b");
    put_change(st, "e3", 30, LH_DEPLOY_ROLLED_BACK, "api-2", "prod", 0, "team", "c");
    ck_assert_int_eq(lh_store_commit(st), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM changes"), 1);
    ck_assert_int_eq(sql_int(st, "SELECT started FROM changes"), CT(20));
    /* late: the change began earlier, under another service name, with an older commit */
    put_change(st, "e1", 10, LH_DEPLOY_STARTED, "api", "prod", 1, "team", "a");
    put_change(st, "e0", 15, LH_DEPLOY_SUCCEEDED, "api-2", "prod", 0, "owner", "z");
    put_change(st, "s1", 5, LH_DEPLOY_FAILED, "api", "staging", 0, NULL, NULL);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM changes"), 2);
    static const struct {
        const char *col;
        int64_t want;
    } prod[] = {
        {"started", CT(10)},
        {"last", CT(30)},
        {"commit_at", CT(20)},
        {"service = 'api'", 1},
        {"length(facts)", LH_STORE_FACTS_BYTES},
    };
    for (size_t i = 0; i < sizeof(prod) / sizeof(prod[0]); i++) {
        char q[256];
        snprintf(q, sizeof(q), "SELECT %s FROM changes WHERE env_key = 'eprod'", prod[i].col);
        ck_assert_msg(sql_int(st, q) == prod[i].want, "%s: %lld", prod[i].col,
                      (long long)sql_int(st, q));
    }
    lh_store_facts_t f = facts_of(st, "eprod");
    ck_assert_int_eq(f.deployed, CT(15));
    ck_assert_int_eq(f.failed, 0);
    ck_assert_int_eq(f.rolled, CT(30));
    ck_assert_int_eq(f.commit, CT(2));
    ck_assert_int_eq(f.good, CT(15));
    ck_assert_int_eq(f.goods, 2);
    char *lab = sql_text(st, "SELECT labels FROM changes WHERE env_key = 'eprod'");
    ck_assert_str_eq(lab, "{\"owner\":\"z\",\"team\":\"c\"}");
    free(lab);
    ck_assert_int_eq(facts_of(st, "estaging").failed, CT(5));
    /* the longest change so far: prod's, 10 to 30 */
    ck_assert_int_eq(sql_int(st, "SELECT value FROM meta WHERE key = 'changes.max_span'"),
                     20 * LH_NS_PER_SEC);
    ck_assert_int_eq(sql_int(st, "SELECT labels IS NULL FROM changes WHERE env_key = 'estaging'"),
                     1);
    /* deploys kept 12 s at CT(20): staging's change (started at 5) goes, prod's (10) stays */
    lh_store_retention_t r;
    lh_store_retention_default(&r);
    r.keep_ns[LH_KIND_DEPLOY] = 12 * LH_NS_PER_SEC;
    lh_store_expired_t x;
    ck_assert_int_eq(lh_store_expire(st, &r, CT(20), 100, &x), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM changes"), 1);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM changes WHERE env_key = 'eprod'"), 1);
    lh_store_close(&st);
}
END_TEST

/* ---- the dedupe horizon ---------------------------------------------------------------------- */

/* Inserts alert id at time t (ns offset from a base); returns the store's code. */
static int
put_at(lh_store_t *st, const char *id, int64_t t, int64_t *seq)
{
    lh_event_t *ev = mk_event(id, LH_KIND_ALERT);
    ev->time_ns = 1700000000LL * 1000000000LL + t;
    int rc = lh_store_insert_event(st, ev, 0, id, strlen(id), seq);
    lh_event_destroy(&ev);
    return rc;
}

/* An event exactly as old as its retention is kept (deleted once it is older): alerts 1 ns
 * older than, at and 1 ns newer than the cutoff. */
START_TEST(test_retention_cutoff_edge)
{
    lh_store_t *st = open_rw();
    const int64_t keep = 30 * LH_STORE_DAY_NS, now = 40 * LH_STORE_DAY_NS;
    int64_t seq = 0;
    ck_assert_int_eq(lh_store_begin(st), 0);
    ck_assert_int_eq(put_at(st, "older", now - keep - 1, &seq), 0);
    ck_assert_int_eq(put_at(st, "at", now - keep, &seq), 0);
    ck_assert_int_eq(put_at(st, "newer", now - keep + 1, &seq), 0);
    ck_assert_int_eq(lh_store_commit(st), 0);
    lh_store_retention_t r;
    lh_store_retention_default(&r);
    r.keep_ns[LH_KIND_ALERT] = keep;
    lh_store_expired_t x;
    ck_assert_int_eq(lh_store_expire(st, &r, 1700000000LL * 1000000000LL + now, 100, &x), 0);
    ck_assert_int_eq(x.events[LH_KIND_ALERT], 1);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events WHERE id = 'older'"), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events WHERE id IN ('at', 'newer')"), 2);
    lh_store_close(&st);
}
END_TEST

/* A store whose dedupe index holds h ids, committing without fsync (the dedupe tests). */
static lh_store_t *
open_horizon(int64_t h)
{
    lh_store_opts_t o;
    lh_store_opts_default(&o);
    o.dedupe_horizon = h;
    o.synchronous_full = 0;
    return open_with(&o);
}

/* Events e-from .. e-(to - 1) in one transaction, e-i at time i * step, each new (seq i + 1). */
static void
put_range(lh_store_t *st, int from, int to, int64_t step)
{
    char id[32];
    int64_t seq = 0;
    ck_assert_int_eq(lh_store_begin(st), 0);
    for (int i = from; i < to; i++) {
        snprintf(id, sizeof(id), "e-%d", i);
        ck_assert_int_eq(put_at(st, id, step * i, &seq), 0);
        ck_assert_int_eq(seq, i + 1);
    }
    ck_assert_int_eq(lh_store_commit(st), 0);
}

/* A horizon that is not a power of two leaves the ring larger than it, so the slot of a block of
 * 64 rows is taken over only after its rows left: every forgotten id is still recognised through
 * the store, with its own row, and events in time order still never pay a lookup. */
START_TEST(test_dedupe_horizon_blocks)
{
    enum { H = 1100, N = 5000, BATCH = 500 };
    lh_store_t *st = open_horizon(H);
    char id[32];
    int64_t seq = 0;
    for (int b = 0; b < N / BATCH; b++)
        put_range(st, b * BATCH, (b + 1) * BATCH, 1000);
    ck_assert_int_eq(stats_of(st).dedupe_probes, 0);
    ck_assert_int_eq(stats_of(st).dedupe_entries, H);
    /* every forgotten row, each block's first and last included, and the youngest kept ones */
    ck_assert_int_eq(lh_store_begin(st), 0);
    int64_t looked = 0;
    for (int i = 0; i < N; i++) {
        if (i < N - H - 64 && i % 64 != 0 && i % 64 != 63 && i % 7 != 0)
            continue;
        snprintf(id, sizeof(id), "e-%d", i);
        ck_assert_msg(put_at(st, id, 1000 * (int64_t)i, &seq) == LH_EDUPLICATE,
                      "e-%d was not recognised", i);
        ck_assert_int_eq(seq, i + 1);
        looked += i < N - H;
    }
    ck_assert_int_eq(lh_store_commit(st), 0);
    /* the forgotten ones were looked up in the store; the kept ones were found in memory */
    ck_assert_int_eq(stats_of(st).dedupe_probes, looked);
    lh_store_close(&st);
}
END_TEST

/* The in-memory index never holds more than the horizon, nor more memory than it sizes, however
 * many events are stored; ids older than the horizon are still recognised (through the store),
 * events in time order never pay that lookup, and a reopened store rebuilds only the horizon. */
START_TEST(test_dedupe_horizon)
{
    enum { H = 1024, N = 6000, BATCH = 500 };
    /* the bound: a table sized for H at 70% (2048 slots of 8 bytes), the ring of tags (4 bytes a
     * row) and its blocks' latest times (16 bytes per 64 rows) */
    const int64_t max_bytes = 2048 * 8 + H * 4 + (H / 64) * 16;
    lh_store_t *st = open_horizon(H);
    char id[32];
    int64_t seq = 0;
    for (int b = 0; b < N / BATCH; b++) {
        put_range(st, b * BATCH, (b + 1) * BATCH, 1);
        lh_store_stats_t s = stats_of(st);
        ck_assert_int_le(s.dedupe_entries, H);
        ck_assert_int_le(s.dedupe_bytes, max_bytes);
        ck_assert_int_eq(s.events, (b + 1) * BATCH);
    }
    lh_store_stats_t s = stats_of(st);
    ck_assert_int_eq(s.dedupe_entries, H);
    ck_assert_int_eq(s.dedupe_probes, 0); /* in time order: never a lookup in the store */

    for (int round = 0; round < 2; round++) {
        /* a duplicate at any age is recognised and names its row */
        const int ages[] = {0, 1, N / 2, N - H - 1, N - H, N - 1};
        for (size_t k = 0; k < sizeof(ages) / sizeof(ages[0]); k++) {
            snprintf(id, sizeof(id), "e-%d", ages[k]);
            ck_assert_int_eq(put_at(st, id, ages[k], &seq), LH_EDUPLICATE);
            ck_assert_int_eq(seq, ages[k] + 1);
        }
        /* the old ones were looked up in the store, the recent ones were not (the second round
         * has 2 rows more: the horizon moved past N - H) */
        const int64_t probes = round == 0 ? 4 : 5;
        ck_assert_int_eq(stats_of(st).dedupe_probes, probes);
        /* a new id with an old time is looked up and stored; a new one in order is not */
        snprintf(id, sizeof(id), "late-%d", round);
        ck_assert_int_eq(put_at(st, id, 10, &seq), 0);
        ck_assert_int_eq(stats_of(st).dedupe_probes, probes + 1);
        snprintf(id, sizeof(id), "next-%d", round);
        ck_assert_int_eq(put_at(st, id, N + 10 + round, &seq), 0);
        ck_assert_int_eq(stats_of(st).dedupe_probes, probes + 1);
        ck_assert_int_le(stats_of(st).dedupe_entries, H);
        lh_store_close(&st);
        st = open_horizon(H); /* the second round on the index rebuilt from the last H rows */
        ck_assert_int_eq(stats_of(st).dedupe_entries, H);
        ck_assert_int_le(stats_of(st).dedupe_bytes, max_bytes);
    }
    /* rows rolled back leave no entry: their ids are new again */
    ck_assert_int_eq(lh_store_begin(st), 0);
    for (int i = 0; i < 2 * H; i++) { /* more than the horizon: the ring wraps in the txn */
        snprintf(id, sizeof(id), "undone-%d", i);
        ck_assert_int_eq(put_at(st, id, N + 100 + i, &seq), 0);
    }
    ck_assert_int_eq(lh_store_rollback(st), 0);
    ck_assert_int_le(stats_of(st).dedupe_entries, H);
    for (int i = 0; i < 2 * H; i += 97) {
        snprintf(id, sizeof(id), "undone-%d", i);
        ck_assert_int_eq(put_at(st, id, N + 100 + i, &seq), 0);
    }
    /* and what was forgotten in that transaction is still found */
    ck_assert_int_eq(put_at(st, "e-5990", 5990, &seq), LH_EDUPLICATE);
    ck_assert_int_eq(seq, 5991);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events"), N + 4 + (2 * H + 96) / 97);
    lh_store_close(&st);
}
END_TEST

/* Without keep_original the original bytes are not stored: the protobuf holds every fact. */
START_TEST(test_original_not_kept)
{
    lh_store_t *st = open_rw();
    lh_event_t *d = mk_event("d-1", LH_KIND_DEPLOY);
    ck_assert_int_eq(lh_event_set_raw(d, "{\"id\":\"d-1\"}", 12, 2), 0);
    ck_assert_int_eq(lh_store_insert_event(st, d, 0, "x", 1, NULL), 0);
    lh_event_destroy(&d);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM events WHERE raw IS NULL AND raw_format"
                                 " IS NULL AND event = x'78'"),
                     1);
    lh_store_close(&st);
}
END_TEST

/* The tally is exact after commits and rollbacks, as the events table is, and a reader sees it. */
START_TEST(test_tally_exact)
{
    lh_store_t *st = open_rw();
    ck_assert_int_eq(lh_store_begin(st), 0);
    ck_assert_int_eq(put_at(st, "a", 50, NULL), 0);
    ck_assert_int_eq(put_at(st, "b", 20, NULL), 0);
    ck_assert_int_eq(put(st, "d", NULL), 0);
    ck_assert_int_eq(lh_store_commit(st), 0);
    ck_assert_int_eq(lh_store_begin(st), 0);
    ck_assert_int_eq(put_at(st, "c", 10, NULL), 0); /* older, then rolled back */
    ck_assert_int_eq(lh_store_rollback(st), 0);
    lh_store_stats_t s = stats_of(st);
    ck_assert_int_eq(s.events, 3);
    ck_assert_int_eq(s.events_by_kind[LH_KIND_ALERT], 2);
    ck_assert_int_eq(s.events_by_kind[LH_KIND_DEPLOY], 1);
    ck_assert_int_eq(s.oldest_by_kind[LH_KIND_ALERT], 1700000000LL * 1000000000LL + 20);
    ck_assert_int_eq(s.oldest_by_kind[LH_KIND_INCIDENT], 0);
    ck_assert_int_eq(sql_int(st, "SELECT n FROM tally WHERE kind = 2"), 2);
    ck_assert_int_gt(s.db_bytes, 0);
    lh_store_opts_t o;
    lh_store_opts_default(&o);
    o.readonly = 1;
    lh_store_t *ro = open_with(&o);
    ck_assert_int_eq(put(st, "e", NULL), 0);
    ck_assert_int_eq(stats_of(ro).events_by_kind[LH_KIND_DEPLOY], 2);
    lh_store_close(&ro);
    lh_store_close(&st);
}
END_TEST

static Suite *
store_suite(void)
{
    Suite *s = suite_create("store");
    const lh_test_case_t cases[] = {
        {"blob_roundtrip", test_blob_roundtrip, 10, 0},
        {"new_store_private", test_new_store_is_private, 10, 0},
        {"decoded_columns", test_decoded_columns, 10, 0},
        {"bad_calls", test_bad_calls, 10, 0},
        {"dup_same_txn", test_dup_same_txn, 10, 0},
        {"dup_later_txn", test_dup_later_txn, 10, 0},
        {"dup_after_reopen", test_dup_after_reopen, 10, 0},
        {"rollback_retry", test_rollback_retry, 10, 0},
        {"seq_continues", test_seq_continues, 10, 0},
        {"forced_collisions", test_forced_collisions, 30, 0},
        {"stored_bits_collide", test_stored_bits_collide, 30, 0},
        {"rows_past_2_32", test_rows_past_2_32, 10, 0},
        {"many_distinct", test_many_distinct, 60, 0},
        {"dedupe_horizon", test_dedupe_horizon, 60, 0},
        {"dedupe_horizon_blocks", test_dedupe_horizon_blocks, 60, 0},
        {"original_not_kept", test_original_not_kept, 10, 0},
        {"tally_exact", test_tally_exact, 10, 0},
        {"migrate_empty_file", test_migrate_empty_file, 10, 0},
        {"migrate_version0_db", test_migrate_version0_db, 10, 0},
        {"page_size_new_store_only", test_page_size_new_store_only, 10, 0},
        {"refuse_newer_schema", test_refuse_newer_schema, 10, 0},
        {"refuse_not_a_database", test_refuse_not_a_database, 10, 0},
        {"second_writer_locked", test_second_writer_locked, 10, 0},
        {"readonly_missing_and_closed", test_readonly_missing_and_closed, 10, 0},
        {"outbox", test_outbox, 10, 0},
        {"outbox_done_marks", test_outbox_done_marks, 10, 0},
        {"outbox_done_of_no_alert", test_outbox_done_of_no_alert, 10, 0},
        {"outbox_nested_scan", test_outbox_nested_scan, 10, 0},
        {"outbox_plans", test_outbox_plans, 10, 0},
        {"migrate_v2_store", test_migrate_v2_store, 10, 0},
        {"migrate_v4_store", test_migrate_v4_store, 10, 0},
        {"migrate_v5_store", test_migrate_v5_store, 10, 0},
        {"migrate_v6_store", test_migrate_v6_store, 10, 0},
        {"migrate_v13_store", test_migrate_v13_store, 10, 0},
        {"sources_once_bounded", test_sources_once_bounded, 10, 0},
        {"outbox_outcome_put_back", test_outbox_outcome_put_back, 10, 0},
        {"received_once_a_transaction", test_received_once_a_transaction, 10, 0},
        {"seq_never_reused", test_seq_never_reused, 10, 0},
        {"expire_host_rows", test_expire_host_rows, 10, 0},
        {"labels_once_bounded", test_labels_once_bounded, 30, 0},
        {"new_store_no_free_page", test_new_store_no_free_page, 10, 0},
        {"migrate_v10_store", test_migrate_v10_store, 10, 0},
        {"changes_row_any_order", test_changes_row_any_order, 0, 0},
        {"facts_bytes", test_facts_bytes, 0, 0},
        {"retention_cutoff_edge", test_retention_cutoff_edge, 0, 0},
        {"quarantine", test_quarantine, 10, 0},
        {"quarantine_bounded", test_quarantine_bounded, 10, 0},
        {"disk_full", test_disk_full, 20, 0},
        {"kill9_mid_ingest", test_kill9_mid_ingest, 30, 0},
        {"wal_bounded", test_wal_bounded, 60, 0},
        {"wal_reader_pins", test_wal_reader_pins, 60, 0},
        {"wal_close_during_checkpoint", test_wal_close_during_checkpoint, 30, 0},
    };
    lh_test_add_cases(s, cases, LH_TEST_COUNT(cases), 30, lh_test_store_setup,
                      lh_test_store_teardown);
    return s;
}

int
main(void)
{
    return lh_test_run_suite(store_suite());
}
