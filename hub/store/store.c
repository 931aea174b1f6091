/*
 * store.c - the timeline store: one SQLite file per hub (schema in store_sql.h): open and close,
 * transactions, events, quarantine and stats. The rest of the module is one concern per file:
 * store_changes.c (the facts of each change `loophub dora` reads),
 * store_ckpt.c (the background WAL checkpointer),
 * store_dedupe.c (the event-id dedupe index),
 * store_lock.c (the writer's lock),
 * store_migrate.c (schema creation and migrations),
 * store_outbox.c (the alert outbox and its sinks);
 * store_internal.h is what they share.
 *
 * Opening: write mode first takes an exclusive flock() on the database file itself, held on a
 * separate descriptor for the store's whole life, then opens SQLite, refuses files that are not
 * SQLite databases (LH_ESTORE) or whose user_version is newer than this binary (LH_ESCHEMA),
 * both before anything is written, sets WAL and the pragmas, runs the missing migrations in one
 * transaction and starts the checkpointer. Read-only opens take no lock, run no migration, start
 * no thread and never create the file.
 *
 *
 * Busy waits: the store's connections retry a locked database every BUSY_SLEEP_US for up to
 * BUSY_TIMEOUT_MS, not on SQLite's 1..100 ms ladder.
 *
 * Invariants:
 * - The flock descriptor is closed only after sqlite3_close() of both connections: closing any
 *   descriptor of the file drops the POSIX locks SQLite holds on it in this process. For the same
 *   reason a second write open of a file this process already holds is refused from a
 *   process-wide registry of (device, inode) pairs before any descriptor is opened; the
 *   checkpointer's connection is the store's own and is not registered.
 * - The checkpointer is stopped and joined before the writer's connection closes; the last close
 *   checkpoints what is left and removes the WAL.
 * - Dedupe: `dd` maps lh__hash64(id) -> seq for every row of `events` (committed and in the open
 *   transaction); entries added in the open transaction are undone on rollback (explicit, on a
 *   failed commit, or when SQLite rolled the transaction back by itself after SQLITE_FULL /
 *   SQLITE_IOERR / SQLITE_NOMEM). Capacity for one more entry is reserved before a row is
 *   written, so a stored row always has its entry (store_dedupe.c).
 * - A database error inside a transaction poisons it: the caller must roll back, and a commit of a
 *   poisoned transaction rolls back and fails (no half-written event is ever committed).
 * - Every statement is prepared once at open; all SQL text of this file is in store_sql.h.
 */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "loophub/error.h"
#include "loophub/format.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"
#include "pbwire.h"
#include "store_internal.h"
#include "store_sql.h"

#define DEFAULT_CACHE_KB 32768
#define DEFAULT_DEDUPE_HORIZON 1000000
/* 16 kB pages: fewer WAL frames (two syscalls each) per commit of the append-mostly events table;
 * ~15% less CPU per event than 4 kB under overload in the PULL bench, at the cost of more bytes
 * per random index page a small commit touches (higher median latency at moderate load) */
#ifndef LH_DEFAULT_PAGE_SIZE
#define LH_DEFAULT_PAGE_SIZE 16384 /* a build may choose another (experiments) */
#endif
#define DEFAULT_PAGE_SIZE LH_DEFAULT_PAGE_SIZE
#define WAL_KEEP_FACTOR 2 /* journal_size_limit: a restarted WAL file shrinks to this */
#define BUSY_SLEEP_US 150

const char *const lh__store_sql[S_COUNT] = {
#define X(name, sql) sql,
    STORE_SQL(X)
#undef X
};

/* ---- errors --------------------------------------------------------------------------------- */

/* Logs SQLite's message once and maps rc to an LH_E* code. When SQLite has rolled back the open
 * transaction by itself, the dedupe entries of that transaction are dropped as well. */
int
lh__store_sql_fail(lh_store_t *st, int rc, const char *what)
{
    lh_log(LH_LOG_ERROR, COMPONENT, "%s: %s: %s (sqlite %d)", st->path, what,
           sqlite3_errmsg(st->db), rc);
    st->last_err = rc & 0xff;
    snprintf(st->last_msg, sizeof(st->last_msg), "%s", sqlite3_errmsg(st->db));
    if (st->in_txn) {
        st->txn_failed = 1;
        if (sqlite3_get_autocommit(st->db)) {
            lh__store_dd_undo_all(&st->dd);
            st->discards++;
        }
    }
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return LH_EBUSY;
    case SQLITE_NOMEM:
        return LH_ENOMEM;
    default:
        return LH_ESTORE;
    }
}

/* ---- busy waits ----------------------------------------------------------------------------- */

void
lh__store_sleep_us(long us)
{
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Busy handler of the store's own connections: a locked database is retried every BUSY_SLEEP_US
 * for up to BUSY_TIMEOUT_MS per statement. SQLite's own ladder sleeps 1..100 ms, far longer than
 * the few milliseconds a RESTART checkpoint holds the write lock. */
static int
busy_retry(void *arg, int n)
{
    int64_t *t0 = arg;
    int64_t now = lh_mono_ns();
    if (n == 0)
        *t0 = now;
    else if (now - *t0 >= BUSY_TIMEOUT_MS * LH_NS_PER_MS)
        return 0;
    lh__store_sleep_us(BUSY_SLEEP_US);
    return 1;
}

/* ---- open / close --------------------------------------------------------------------------- */

void
lh_store_opts_default(lh_store_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->synchronous_full = 1;
    o->cache_kb = DEFAULT_CACHE_KB;
    o->page_size = DEFAULT_PAGE_SIZE;
    o->wal_checkpoint_bytes = DEFAULT_WAL_CHECKPOINT_BYTES;
    o->quarantine_max_rows = 100000;
    o->quarantine_max_bytes = 256LL << 20;
    o->dedupe_horizon = DEFAULT_DEDUPE_HORIZON;
}

int
lh_store_schema_version(void)
{
    return LH_STORE_SCHEMA_VERSION;
}

sqlite3 *
lh__store_db(lh_store_t *st)
{
    return st->db;
}

int
lh__store_last_error(const lh_store_t *st, const char **msg)
{
    *msg = st->last_msg;
    return st->last_err;
}

uint64_t
lh__store_discards(const lh_store_t *st)
{
    return st->discards;
}

int64_t
lh__store_outcomes_expired_to(const lh_store_t *st)
{
    return st->exp_outcome_to;
}

static void
store_free(lh_store_t *st)
{
    lh__store_ckpt_stop(st);
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    if (st->db) {
        if (st->in_txn && !sqlite3_get_autocommit(st->db))
            sqlite3_exec(st->db, lh__store_sql[S_ROLLBACK], NULL, NULL, NULL);
        if (sqlite3_close(st->db) != SQLITE_OK)
            lh_log(LH_LOG_ERROR, COMPONENT, "%s: close: %s", st->path, sqlite3_errmsg(st->db));
    }
    /* only now: closing this descriptor earlier would drop SQLite's POSIX locks */
    lh__store_lock_release(st);
    lh__store_dd_free(&st->dd);
    lh__store_dicts_free(st);
    lh_buf_free(&st->lbl_buf);
    lh_buf_free(&st->rest_buf);
    free(st->sinks);
    free(st->path);
    free(st);
}

/* Each connection belongs to one thread at a time (the reactor's, or a query's), so SQLite's own
 * locking is pure overhead: per-connection mutexes and the global allocator statistics mutex
 * cost ~7% of the hub's CPU under load. Set once, before SQLite initializes; if the process
 * already initialized SQLite elsewhere the call is refused and the defaults stay, still correct.
 * sqlite3_config() itself is not thread-safe: the first lh_store_open() must come before any
 * other thread uses SQLite (the loophub binary opens its store before it starts a thread). */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;

static void
sqlite_configure(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int
open_db(lh_store_t *st, const lh_store_opts_t *o)
{
    pthread_once(&sqlite_once, sqlite_configure);
    int flags = o->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    flags |= SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(st->path, &st->db, flags, NULL);
    if (rc != SQLITE_OK) {
        lh_log(LH_LOG_ERROR, COMPONENT, "cannot open store %s: %s", st->path,
               st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        return LH_ESTORE;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_handler(st->db, busy_retry, &st->busy_t0);

    int version = 0;
    int err = lh__store_read_user_version(st, &version);
    if (err)
        return err;
    if (version > LH_STORE_SCHEMA_VERSION) {
        lh_log(LH_LOG_ERROR, COMPONENT,
               "store %s has schema version %d, newer than this loophub's %d: use a newer loophub "
               "(the file was left unchanged)",
               st->path, version, LH_STORE_SCHEMA_VERSION);
        return LH_ESCHEMA;
    }
    if (o->readonly && version < LH_STORE_SCHEMA_VERSION) {
        if (version == 0) {
            lh_log(LH_LOG_ERROR, COMPONENT, "%s is not a loophub store (empty database)", st->path);
            return LH_ESTORE;
        }
        lh_log(LH_LOG_ERROR, COMPONENT,
               "store %s has schema version %d, older than this loophub's %d: open it once "
               "with `loophub run` to migrate it",
               st->path, version, LH_STORE_SCHEMA_VERSION);
        return LH_ESCHEMA;
    }

    char sql[256];
    if (!o->readonly) {
        int64_t wal_bytes =
            o->wal_checkpoint_bytes > 0 ? o->wal_checkpoint_bytes : DEFAULT_WAL_CHECKPOINT_BYTES;
        snprintf(sql, sizeof(sql), SQL_PRAGMAS, o->page_size > 0 ? o->page_size : DEFAULT_PAGE_SIZE,
                 o->synchronous_full ? "FULL" : "NORMAL", (long long)wal_bytes * WAL_KEEP_FACTOR);
        err = lh__store_exec(st, sql, "setting pragmas");
        if (!err)
            err = lh__store_migrate(st);
    }
    for (int i = 0; !err && i < S_COUNT; i++) {
        rc = sqlite3_prepare_v3(st->db, lh__store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                &st->stmt[i], NULL);
        if (rc != SQLITE_OK)
            err = lh__store_sql_fail(st, rc, lh__store_sql[i]);
    }
    /* the index is loaded through SQLite's small default cache: scanning the table through a
     * 64 MiB one costs more in allocation and page faults than the scan itself */
    if (!err)
        err = lh__store_tally_load(st);
    if (!err && !o->readonly)
        err = lh__store_dicts_load(st);
    if (!err && !o->readonly)
        err = lh__store_seq_floor_load(st);
    if (!err && !o->readonly)
        err = lh__store_dd_load(st,
                                o->dedupe_horizon > 0 ? o->dedupe_horizon : DEFAULT_DEDUPE_HORIZON);
    if (!err) {
        long long cache_kb = o->cache_kb > 0 ? (long long)o->cache_kb : DEFAULT_CACHE_KB;
        snprintf(sql, sizeof(sql), SQL_CACHE_SIZE, cache_kb);
        err = lh__store_exec(st, sql, "setting the cache size");
    }
    if (!err && !o->readonly)
        err = lh__store_ckpt_start(st, o);
    return err;
}

int
lh_store_open(const char *path, const lh_store_opts_t *opts, lh_store_t **out)
{
    lh_store_opts_t o;
    if (opts)
        o = *opts;
    else
        lh_store_opts_default(&o);
    *out = NULL;
    if (!path || !*path) {
        lh_log(LH_LOG_ERROR, COMPONENT, "no store path given");
        return LH_EINVAL;
    }
    if (o.readonly && access(path, F_OK) != 0) {
        lh_log(LH_LOG_ERROR, COMPONENT, "store %s: %s", path, strerror(errno));
        return errno == ENOENT ? LH_ENOTFOUND : LH_ESTORE;
    }
    lh_store_t *st = calloc(1, sizeof(*st));
    if (!st || !(st->path = strdup(path))) {
        free(st);
        return LH_ENOMEM;
    }
    st->lock_fd = -1;
    st->exp_outcome_to = INT64_MIN;
    st->change_span = -1;
    st->readonly = o.readonly;
    st->keep_original = o.keep_original;
    st->q_max_rows = o.quarantine_max_rows > 0 ? o.quarantine_max_rows : 100000;
    st->q_max_bytes = o.quarantine_max_bytes > 0 ? o.quarantine_max_bytes : 256LL << 20;
    int err = o.readonly ? 0 : lh__store_lock_take(st);
    if (!err)
        err = open_db(st, &o);
    if (err) {
        store_free(st);
        return err;
    }
    *out = st;
    return 0;
}

void
lh_store_close(lh_store_t **st)
{
    if (!st || !*st)
        return;
    store_free(*st);
    *st = NULL;
}

/* ---- transactions --------------------------------------------------------------------------- */

int
lh__store_step_done(lh_store_t *st, int idx, const char *what)
{
    sqlite3_stmt *s = st->stmt[idx];
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return 0;
    return lh__store_sql_fail(st, rc, what);
}

int
lh__store_row_at(lh_store_t *st, int idx, int64_t seq, const char *what)
{
    sqlite3_stmt *s = st->stmt[idx];
    sqlite3_bind_int64(s, 1, seq);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        return 0;
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? LH_ENOTFOUND : lh__store_sql_fail(st, rc, what);
}

int
lh_store_begin(lh_store_t *st)
{
    if (st->in_txn) {
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: begin: a transaction is already open", st->path);
        return LH_ESTORE;
    }
    lh__store_ckpt_gate(st);
    int rc = lh__store_step_done(st, S_BEGIN, "begin");
    if (rc)
        return rc;
    st->in_txn = 1;
    st->txn_failed = 0;
    st->arrival_due = 1;
    st->seq_floor_ok = st->seq_floor;
    st->dd.n_undo = 0;
    lh__store_ckpt_txn(st, 1);
    return 0;
}

int
lh_store_rollback(lh_store_t *st)
{
    int err = 0;
    if (!st->in_txn)
        return 0;
    if (!sqlite3_get_autocommit(st->db)) {
        int rc = sqlite3_step(st->stmt[S_ROLLBACK]);
        sqlite3_reset(st->stmt[S_ROLLBACK]);
        if (rc != SQLITE_DONE) {
            lh_log(LH_LOG_ERROR, COMPONENT, "%s: rollback: %s (sqlite %d)", st->path,
                   sqlite3_errmsg(st->db), rc);
            err = LH_ESTORE;
        }
    }
    if (sqlite3_get_autocommit(st->db)) {
        lh__store_dd_undo_all(&st->dd);
        lh__store_tally_end(st, 0);
        lh__store_dicts_end(st, 0);
        st->seq_floor = st->seq_floor_ok;
        st->discards++;
        st->in_txn = 0;
        st->txn_failed = 0;
        lh__store_ckpt_txn(st, 0);
    }
    return err;
}

int
lh_store_commit(lh_store_t *st)
{
    if (!st->in_txn) {
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: commit: no transaction is open", st->path);
        return LH_ESTORE;
    }
    if (st->txn_failed) {
        lh_log(LH_LOG_ERROR, COMPONENT,
               "%s: commit refused after a failed write in this transaction: rolled back",
               st->path);
        lh_store_rollback(st);
        return LH_ESTORE;
    }
    int rc = lh__store_tally_flush(st);
    if (!rc)
        rc = lh__store_step_done(st, S_COMMIT, "commit");
    if (rc) {
        /* a failed commit leaves nothing half-done: the whole batch is rolled back */
        lh_store_rollback(st);
        return rc;
    }
    st->in_txn = 0;
    st->dd.n_undo = 0;
    lh__store_tally_end(st, 1);
    lh__store_dicts_end(st, 1);
    lh__store_ckpt_txn(st, 0);
    return 0;
}

/* Write calls on a read-only store fail cleanly (SQLite would refuse them anyway). */
int
lh__store_writable(lh_store_t *st)
{
    if (st->readonly) {
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: the store is open read-only", st->path);
        return LH_ESTORE;
    }
    return 0;
}

/* ---- events --------------------------------------------------------------------------------- */

/* Space-separated hosts, malloc'd (NULL and *err = 0 when there are none). */
static char *
join_hosts(const lh_event_t *ev, int *err)
{
    size_t n = 0;
    *err = 0;
    for (size_t i = 0; i < ev->n_hosts; i++)
        if (ev->hosts[i])
            n += strlen(ev->hosts[i]) + 1;
    if (!n)
        return NULL;
    char *s = malloc(n), *p = s;
    if (!s) {
        *err = LH_ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < ev->n_hosts; i++) {
        if (!ev->hosts[i])
            continue;
        if (p != s)
            *p++ = ' ';
        size_t l = strlen(ev->hosts[i]);
        memcpy(p, ev->hosts[i], l);
        p += l;
    }
    *p = '\0';
    return s;
}

/* The fields of an event its row's columns hold, beside id, kind, time, service and environment
 * (always written): the address of each field a column is written from (NULL: that column stays
 * NULL), whether the hosts column is, and the state. insert_rows() binds them and
 * lh_store_event_strip() clears them, so the protobuf leaves out exactly what the row holds. */
enum {
    RC_ACTOR,
    RC_DEPLOY_ID,
    RC_VERSION,
    RC_PREV,
    RC_COMMIT,
    RC_ARTIFACT,
    RC_NAME,
    RC_FINGERPRINT,
    RC_INCIDENT_ID,
    RC_TICKET_ID,
    RC_N
};
typedef struct {
    char **str[RC_N];
    int hosts; /* the hosts of deploys and outcomes */
    int state;
} row_cols_t;

static void
row_cols(lh_event_t *ev, int is_outcome, row_cols_t *c)
{
    memset(c, 0, sizeof(*c));
    c->hosts = ev->kind == LH_KIND_DEPLOY || is_outcome;
    switch (ev->kind) {
    case LH_KIND_DEPLOY: /* what a change is read back as */
        c->state = ev->deploy.status;
        c->str[RC_ACTOR] = &ev->actor;
        c->str[RC_DEPLOY_ID] = &ev->deploy.deploy_id;
        c->str[RC_VERSION] = &ev->deploy.version;
        c->str[RC_PREV] = &ev->deploy.previous_version;
        c->str[RC_COMMIT] = &ev->deploy.commit;
        c->str[RC_ARTIFACT] = &ev->deploy.artifact;
        break;
    case LH_KIND_ALERT:
        c->state = ev->alert.state;
        /* an outcome alert or a resolution (it may end a period): its period is found by them */
        if (is_outcome || ev->alert.state == LH_ALERT_RESOLVED) {
            c->str[RC_NAME] = &ev->alert.name;
            c->str[RC_FINGERPRINT] = &ev->alert.fingerprint;
        }
        c->str[RC_ARTIFACT] = &ev->alert.artifact;
        break;
    case LH_KIND_INCIDENT:
        c->state = ev->incident.state;
        c->str[RC_INCIDENT_ID] = &ev->incident.incident_id;
        c->str[RC_TICKET_ID] = &ev->incident.ticket; /* the ticket the incident names */
        c->str[RC_ARTIFACT] = &ev->incident.artifact;
        break;
    case LH_KIND_TICKET:
        c->state = ev->ticket.state;
        c->str[RC_TICKET_ID] = &ev->ticket.ticket_id;
        break;
    default:
        break;
    }
}

#define PB_LABELS (1u << 8)   /* loophub.v1.Event.labels */
#define PB_FIELDS 0x7fffffffu /* every field lh_pb_fields() tells (numbers below 31) */

/* The labels of the protobuf *pb by their key in `labelsets` (store_dict.c): sets *ref and points
 * *pb at a copy without them. *ref stays 0, and *pb as it was, when the protobuf has no labels,
 * they are longer than LH_STORE_LABELS_MAX_LEN, the writer knows too many sets already, or the
 * protobuf does not split cleanly (it is then kept whole). Returns 0 or a negative LH_E* code. */
static int
split_labels(lh_store_t *st, const void **pb, size_t *len, int64_t *ref)
{
    *ref = 0;
    lh_buf_reset(&st->lbl_buf);
    lh_buf_reset(&st->rest_buf);
    int found = lh_pb_fields(*pb, *len, PB_LABELS, &st->lbl_buf);
    if (found == LH_ENOMEM)
        return found;
    if (found < 0 || !(found & PB_LABELS) || st->lbl_buf.len > LH_STORE_LABELS_MAX_LEN)
        return 0;
    if ((found = lh_pb_fields(*pb, *len, PB_FIELDS & ~PB_LABELS, &st->rest_buf)) == LH_ENOMEM)
        return found;
    if (st->lbl_buf.len + st->rest_buf.len != *len) /* a field numbered past 30: keep it whole */
        return 0;
    int rc = lh__store_dict_ref(st, &st->labels, st->lbl_buf.data, st->lbl_buf.len, ref);
    if (!rc && *ref) {
        *pb = st->rest_buf.data;
        *len = st->rest_buf.len;
    }
    return rc;
}

/* Each fact once. A decoded column is written only when some SQL reads it (an index, a WHERE, a
 * column a query or the correlator selects: store_sql.h, correlator_sql.h, query_sql.h); the
 * others stay NULL (one header byte). Written: id, kind, time, service, environment, outcome,
 * state and the references every kind is looked up by (deploy_id, incident_id, ticket_id,
 * artifact); for deploys also what a change is read back as (actor, version, previous_version,
 * commit_sha, previous_derived); the hosts of deploys and outcomes; for outcome alerts and
 * resolutions their name and fingerprint (an alert period is found by them): row_cols(); the
 * source by its key in `sources` (source_ref, store_dict.c), or by name in `source` past the
 * writer's bound; the labels by their key in `labelsets` (labels_ref), moved out of the protobuf
 * (split_labels()), or in it past the writer's bound. Never: severity, commit_time, change_ticket,
 * ticket_type, and the original bytes unless keep_original. The protobuf the caller passes holds
 * the rest: lh_store_event_strip() leaves out what row_cols() names, lh_store_event_complete_row()
 * puts it back. Rows written before schema 5 have every column, and until schema 8 the protobuf had
 * every field but id, service and environment; the completion keeps what a protobuf has. */
static int
insert_rows(lh_store_t *st, const lh_event_t *ev, int is_outcome, const void *pb, size_t pb_len,
            const char *hosts, int64_t *seq)
{
    sqlite3_stmt *s = st->stmt[S_INS_EVENT];
    row_cols_t c;
    row_cols((lh_event_t *)ev, is_outcome, &c); /* only takes the fields' addresses */
    const char *v[RC_N];
    for (int i = 0; i < RC_N; i++)
        v[i] = c.str[i] ? *c.str[i] : NULL;
    int prev_derived = v[RC_PREV] && ev->deploy.previous_version_derived;
    const char *hosts_col = c.hosts ? hosts : NULL;
    int64_t src_ref = 0; /* the source by its key, or else by name in its own column */
    int rc =
        lh__store_dict_ref(st, &st->src, ev->source, ev->source ? strlen(ev->source) : 0, &src_ref);
    int64_t lbl_ref = 0; /* the labels by their key, or else in the protobuf */
    if (!rc && ev->n_labels && pb_len)
        rc = split_labels(st, &pb, &pb_len, &lbl_ref);
    if (rc)
        return rc;

    bind_text(s, 1, ev->id);
    sqlite3_bind_int(s, 2, 0); /* id_hash: the dedupe index hashes the id when it loads */
    sqlite3_bind_int(s, 3, (int)ev->kind);
    sqlite3_bind_int64(s, 4, ev->time_ns);
    sqlite3_bind_int(s, 5, 0); /* received: the transaction's row of `arrivals` holds it */
    bind_text(s, 6, ev->service);
    bind_text(s, 7, ev->environment);
    bind_text(s, 8, v[RC_ACTOR]);
    bind_text(s, 9, src_ref ? NULL : ev->source);
    bind_text(s, 10, hosts_col);
    sqlite3_bind_int(s, 11, is_outcome ? 1 : 0);
    bind_int_or_null(s, 12, c.state);
    sqlite3_bind_null(s, 13); /* severity */
    bind_text(s, 14, v[RC_DEPLOY_ID]);
    bind_text(s, 15, v[RC_VERSION]);
    bind_text(s, 16, v[RC_PREV]);
    bind_text(s, 17, v[RC_COMMIT]);
    sqlite3_bind_null(s, 18); /* commit_time */
    bind_text(s, 19, v[RC_ARTIFACT]);
    sqlite3_bind_null(s, 20); /* change_ticket */
    bind_text(s, 21, v[RC_NAME]);
    bind_text(s, 22, v[RC_FINGERPRINT]);
    bind_text(s, 23, v[RC_INCIDENT_ID]);
    bind_text(s, 24, v[RC_TICKET_ID]);
    sqlite3_bind_null(s, 25); /* ticket_type */
    bind_blob(s, 26, pb, pb_len, 1);
    int raw = ev->raw && st->keep_original;
    bind_blob(s, 27, raw ? ev->raw : NULL, raw ? ev->raw_len : 0, 0);
    if (raw)
        sqlite3_bind_int(s, 28, ev->raw_format);
    else
        sqlite3_bind_null(s, 28);
    bind_int_or_null(s, 29, prev_derived);
    bind_int_or_null(s, 30, src_ref);
    bind_int_or_null(s, 31, st->seq_floor); /* NULL: SQLite's largest + 1 */
    bind_int_or_null(s, 32, lbl_ref);
    rc = lh__store_step_done(st, S_INS_EVENT, "inserting an event");
    if (rc)
        return rc;
    *seq = sqlite3_last_insert_rowid(st->db);
    st->seq_floor = 0;                    /* the rows after it follow it */
    if (st->arrival_due || !st->in_txn) { /* the first of its transaction (or on its own) */
        s = st->stmt[S_INS_ARRIVAL];
        sqlite3_bind_int64(s, 1, *seq);
        sqlite3_bind_int64(s, 2, lh_now_ns());
        if ((rc = lh__store_step_done(st, S_INS_ARRIVAL, "recording the time of receipt")))
            return rc;
        st->arrival_due = 0;
    }

    if (ev->kind == LH_KIND_DEPLOY || is_outcome) {
        s = st->stmt[S_INS_HOST];
        for (size_t i = 0; i < ev->n_hosts; i++) {
            if (!ev->hosts[i])
                continue;
            bind_text(s, 1, ev->hosts[i]);
            bind_text(s, 2, ev->environment);
            sqlite3_bind_int64(s, 3, ev->time_ns);
            sqlite3_bind_int64(s, 4, *seq);
            sqlite3_bind_int(s, 5, (int)ev->kind);
            bind_text(s, 6, ev->kind == LH_KIND_DEPLOY ? ev->deploy.deploy_id : NULL);
            sqlite3_bind_int64(s, 7, lh_store_bucket(ev->time_ns));
            if ((rc = lh__store_step_done(st, S_INS_HOST, "inserting an event's host")))
                return rc;
        }
    }
    if (ev->kind == LH_KIND_TICKET) {
        s = st->stmt[S_INS_LINK];
        for (size_t i = 0; i < ev->ticket.n_links; i++) {
            if (!ev->ticket.links[i])
                continue;
            bind_text(s, 1, ev->ticket.links[i]);
            sqlite3_bind_int64(s, 2, *seq);
            if ((rc = lh__store_step_done(st, S_INS_LINK, "inserting a ticket link")))
                return rc;
        }
    }
    return 0;
}

static int
insert_event(lh_store_t *st, const lh_event_t *ev, int is_outcome, const void *pb, size_t pb_len,
             int64_t *seq)
{
    uint64_t hash = lh__store_id_hash(ev->id);
    int64_t found = 0;
    int rc = lh__store_dd_lookup(st, hash, ev->id, &found);
    if (rc < 0)
        return rc;
    if (rc == 0)
        rc = lh__store_dd_probe(st, ev->id, ev->time_ns, &found);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        *seq = found;
        return LH_EDUPLICATE;
    }
    if ((rc = lh__store_dd_reserve(&st->dd, 1)) != 0) {
        if (rc == LH_ERANGE)
            lh_log_ratelimited("store-dd-full", LH_LOG_ERROR, COMPONENT,
                               "%s: too many events for the dedupe index", st->path);
        return rc; /* nothing written yet */
    }
    char *hosts = ev->kind == LH_KIND_DEPLOY || is_outcome ? join_hosts(ev, &rc) : NULL;
    if (rc)
        return rc;
    int64_t row = 0;
    rc = insert_rows(st, ev, is_outcome, pb, pb_len, hosts, &row);
    free(hosts);
    if (!rc && (rc = lh__store_change_add(st, ev, row)) != 0 && st->in_txn)
        st->txn_failed = 1; /* the event's row is written: out of memory poisons it too */
    if (rc)
        return rc; /* the transaction is poisoned by lh__store_sql_fail() */
    lh__store_dd_add(&st->dd, hash, row, ev->time_ns, 1);
    lh__store_tally_add(st, (int)ev->kind, ev->time_ns);
    *seq = row;
    return 0;
}

int
lh_store_insert_event(lh_store_t *st, const lh_event_t *ev, int is_outcome, const void *pb,
                      size_t pb_len, int64_t *seq)
{
    int64_t dummy;
    if (!seq)
        seq = &dummy;
    *seq = 0;
    if (!ev || !ev->id || (!pb && pb_len)) {
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: insert: event without an id", st->path);
        return LH_EINVAL;
    }
    int rc = lh__store_writable(st);
    if (rc)
        return rc;
    if (st->in_txn)
        return insert_event(st, ev, is_outcome, pb, pb_len, seq);
    if ((rc = lh_store_begin(st)) != 0)
        return rc;
    rc = insert_event(st, ev, is_outcome, pb, pb_len, seq);
    if (rc) {
        lh_store_rollback(st);
        return rc;
    }
    return lh_store_commit(st);
}

/* The hosts fit the hosts column: each one non-empty and without a space (it joins them with
 * spaces), so that lh_store_event_complete_row() gets the same list back. */
static int
hosts_joinable(const lh_event_t *ev)
{
    for (size_t i = 0; i < ev->n_hosts; i++)
        if (!ev->hosts[i] || !ev->hosts[i][0] || strchr(ev->hosts[i], ' '))
            return 0;
    return 1;
}

void
lh_store_event_strip(lh_event_t *ev, int is_outcome, lh_event_t *saved)
{
    row_cols_t c;
    row_cols(ev, is_outcome, &c); /* before anything is cleared: an alert's state decides */
    *saved = *ev;
    ev->id = ev->service = ev->environment = ev->source = NULL;
    ev->time_ns = 0;
    if (c.hosts && hosts_joinable(ev))
        ev->n_hosts = 0;
    for (int i = 0; i < RC_N; i++)
        if (c.str[i])
            *c.str[i] = NULL;
    switch (ev->kind) { /* the state column */
    case LH_KIND_DEPLOY:
        ev->deploy.status = 0;
        ev->deploy.previous_version_derived = 0; /* the column holds it beside the version */
        break;
    case LH_KIND_ALERT:
        ev->alert.state = 0;
        break;
    case LH_KIND_INCIDENT:
        ev->incident.state = 0;
        break;
    case LH_KIND_TICKET:
        ev->ticket.state = 0;
        break;
    default:
        break;
    }
}

void
lh_store_event_unstrip(lh_event_t *ev, const lh_event_t *saved)
{
    *ev = *saved;
}

int
lh_store_event_encode(lh_event_t *ev, int is_outcome, lh_buf_t *out)
{
    lh_event_t whole;
    lh_buf_reset(out);
    lh_store_event_strip(ev, is_outcome, &whole);
    int rc = lh_codec_pb_encode(ev, out);
    lh_store_event_unstrip(ev, &whole);
    return rc;
}

/* Text of column i of s; NULL for NULL and for '' (an event has no empty strings). */
static const char *
col_text(sqlite3_stmt *s, int i)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    return t && *t ? t : NULL;
}

/* Sets *field from column i when the protobuf left it out. Returns 0 or LH_ENOMEM. */
static int
complete_str(lh_event_t *ev, char **field, sqlite3_stmt *s, int i)
{
    const char *t;
    if (*field || !(t = col_text(s, i)))
        return 0;
    return (*field = lh_event_str(ev, t, (size_t)-1)) ? 0 : LH_ENOMEM;
}

int
lh_store_event_complete_row(lh_event_t *ev, sqlite3_stmt *s, int col)
{
    /* the order of LH_STORE_EVENT_COLS, after event */
    enum {
        ID = 1,
        SERVICE,
        ENV,
        TIME,
        STATE,
        HOSTS,
        DEPLOY_ID,
        VERSION,
        PREV,
        PREV_DERIVED,
        COMMIT,
        ACTOR,
        ARTIFACT,
        NAME,
        FINGERPRINT,
        INCIDENT_ID,
        TICKET_ID,
        SOURCE,     /* the name in the row (past the writer's bound, or before schema 5) */
        SOURCE_REF, /* the name by its key in `sources` */
        LABELS,     /* the label set by its key in `labelsets` */
    };
    int rc = 0;
    if (sqlite3_column_count(s) > col + LABELS) { /* not LH_STORE_EVENT_FACT_COLS */
        rc |= complete_str(ev, &ev->source, s, col + SOURCE);
        rc |= complete_str(ev, &ev->source, s, col + SOURCE_REF);
        const void *lbl = sqlite3_column_blob(s, col + LABELS);
        if (lbl && !ev->n_labels) {
            int err = lh_pb_labels(lbl, (size_t)sqlite3_column_bytes(s, col + LABELS), ev);
            if (err < 0)
                return err;
        }
    }
    rc |= complete_str(ev, &ev->id, s, col + ID);
    rc |= complete_str(ev, &ev->service, s, col + SERVICE);
    rc |= complete_str(ev, &ev->environment, s, col + ENV);
    if (!ev->time_ns)
        ev->time_ns = sqlite3_column_int64(s, col + TIME);
    int state = sqlite3_column_int(s, col + STATE);
    const char *hosts = col_text(s, col + HOSTS);
    if (!ev->n_hosts && hosts)
        for (const char *p = hosts; *p && !rc;) {
            size_t n = strcspn(p, " ");
            rc = lh_event_add_host(ev, p, n);
            p += n + (p[n] == ' ');
        }
    switch (ev->kind) {
    case LH_KIND_DEPLOY:
        rc |= complete_str(ev, &ev->actor, s, col + ACTOR);
        rc |= complete_str(ev, &ev->deploy.deploy_id, s, col + DEPLOY_ID);
        rc |= complete_str(ev, &ev->deploy.version, s, col + VERSION);
        if (!ev->deploy.previous_version && col_text(s, col + PREV))
            ev->deploy.previous_version_derived = sqlite3_column_int(s, col + PREV_DERIVED);
        rc |= complete_str(ev, &ev->deploy.previous_version, s, col + PREV);
        rc |= complete_str(ev, &ev->deploy.commit, s, col + COMMIT);
        rc |= complete_str(ev, &ev->deploy.artifact, s, col + ARTIFACT);
        if (!ev->deploy.status)
            ev->deploy.status = (lh_deploy_status_t)state;
        break;
    case LH_KIND_ALERT:
        rc |= complete_str(ev, &ev->alert.name, s, col + NAME);
        rc |= complete_str(ev, &ev->alert.fingerprint, s, col + FINGERPRINT);
        rc |= complete_str(ev, &ev->alert.artifact, s, col + ARTIFACT);
        if (!ev->alert.state)
            ev->alert.state = (lh_alert_state_t)state;
        break;
    case LH_KIND_INCIDENT:
        rc |= complete_str(ev, &ev->incident.incident_id, s, col + INCIDENT_ID);
        rc |= complete_str(ev, &ev->incident.ticket, s, col + TICKET_ID);
        rc |= complete_str(ev, &ev->incident.artifact, s, col + ARTIFACT);
        if (!ev->incident.state)
            ev->incident.state = (lh_incident_state_t)state;
        break;
    case LH_KIND_TICKET:
        rc |= complete_str(ev, &ev->ticket.ticket_id, s, col + TICKET_ID);
        if (!ev->ticket.state)
            ev->ticket.state = (lh_ticket_state_t)state;
        break;
    default:
        break;
    }
    return rc ? LH_ENOMEM : 0;
}

int
lh_store_event_blob(lh_store_t *st, int64_t seq, lh_store_blob_fn fn, void *arg)
{
    sqlite3_stmt *s = st->stmt[S_GET_BLOB];
    sqlite3_bind_int64(s, 1, seq);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(s);
        return LH_ENOTFOUND;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        return lh__store_sql_fail(st, rc, "reading an event");
    }
    const void *p = sqlite3_column_blob(s, 0);
    size_t n = (size_t)sqlite3_column_bytes(s, 0);
    fn(p ? p : "", n, arg);
    sqlite3_reset(s);
    return 0;
}

int
lh_store_event_load(lh_store_t *st, int64_t seq, lh_event_t **out, char *why, size_t whylen)
{
    *out = NULL;
    if (whylen)
        *why = '\0';
    int rc = lh__store_row_at(st, S_GET_EVENT, seq, "reading an event");
    if (rc)
        return rc;
    sqlite3_stmt *s = st->stmt[S_GET_EVENT];
    const void *blob = sqlite3_column_blob(s, 0);
    int err =
        lh_codec_pb_decode(blob ? blob : "", (size_t)sqlite3_column_bytes(s, 0), out, why, whylen);
    if (err == 0) /* what the stored protobuf leaves to the columns */
        err = lh_store_event_complete_row(*out, s, 0);
    if (err == LH_EDECODE && whylen)
        snprintf(why, whylen, "%s", LH_STORE_LABELS_UNREADABLE);
    sqlite3_reset(s);
    if (err < 0)
        lh_event_destroy(out);
    return err;
}

/* ---- quarantine ------------------------------------------------------------------------------ */

/* Reads the quarantine's size unless it is known and no discard happened since. */
static int
quarantine_size(lh_store_t *st)
{
    if (st->q_known && st->q_discards == st->discards)
        return 0;
    sqlite3_stmt *s = st->stmt[S_QUAR_SIZE];
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        st->q_rows = sqlite3_column_int64(s, 0);
        st->q_bytes = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return lh__store_sql_fail(st, rc, "measuring the quarantine");
    st->q_known = 1;
    st->q_discards = st->discards;
    return 0;
}

/* Deletes the oldest rows until the quarantine is within its bounds. */
static int
quarantine_evict(lh_store_t *st)
{
    while (st->q_rows > st->q_max_rows || st->q_bytes > st->q_max_bytes) {
        sqlite3_stmt *s = st->stmt[S_QUAR_OLDEST];
        int rc = sqlite3_step(s);
        int64_t seq = 0, bytes = 0;
        if (rc == SQLITE_ROW) {
            seq = sqlite3_column_int64(s, 0);
            bytes = sqlite3_column_int64(s, 1);
        }
        sqlite3_reset(s);
        if (rc == SQLITE_DONE) { /* counted more than there is: start over from the table */
            st->q_known = 0;
            return quarantine_size(st);
        }
        if (rc != SQLITE_ROW)
            return lh__store_sql_fail(st, rc, "finding the oldest quarantined row");
        s = st->stmt[S_QUAR_DELETE];
        sqlite3_bind_int64(s, 1, seq);
        if ((rc = lh__store_step_done(st, S_QUAR_DELETE, "evicting a quarantined row")))
            return rc;
        st->q_rows--;
        st->q_bytes -= bytes;
        st->q_evicted++;
    }
    return 0;
}

int
lh_store_quarantine(lh_store_t *st, const char *origin, const char *reason, const char *event_id,
                    const void *payload, size_t len)
{
    if (!origin || !reason || (!payload && len)) {
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: quarantine: origin and reason are required", st->path);
        return LH_EINVAL;
    }
    int rc = lh__store_writable(st);
    if (rc || (rc = quarantine_size(st)))
        return rc;
    sqlite3_stmt *s = st->stmt[S_INS_QUAR];
    sqlite3_bind_int64(s, 1, lh_now_ns());
    bind_text(s, 2, origin);
    bind_text(s, 3, reason);
    bind_text(s, 4, event_id);
    bind_blob(s, 5, payload, len, 0);
    if ((rc = lh__store_step_done(st, S_INS_QUAR, "quarantining input")))
        return rc;
    st->q_rows++;
    st->q_bytes += (int64_t)len;
    return quarantine_evict(st);
}

/* ---- stats ---------------------------------------------------------------------------------- */

static int
count(lh_store_t *st, int idx, int64_t *out)
{
    sqlite3_stmt *s = st->stmt[idx];
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : lh__store_sql_fail(st, rc, "counting rows");
}

int
lh_store_stats(lh_store_t *st, lh_store_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    /* a reader sees what writers committed since it opened */
    int rc = st->readonly ? lh__store_tally_load(st) : 0;
    for (int k = 0; !rc && k < TALLY_KINDS && k < 5; k++) {
        out->events_by_kind[k] = st->tally[k].n;
        out->events += st->tally[k].n;
        out->oldest_by_kind[k] =
            st->tally[k].n && st->tally[k].oldest != INT64_MAX ? st->tally[k].oldest : 0;
    }
    if (st->readonly)
        rc = count(st, S_COUNT_QUAR, &out->quarantined);
    else if ((rc = quarantine_size(st)) == 0) {
        out->quarantined = st->q_rows;
        out->quarantine_bytes = st->q_bytes;
    }
    out->quarantine_evicted = st->q_evicted;
    int64_t pages = 0, free_pages = 0, page_size = 0;
    if (!rc)
        rc = count(st, S_PAGE_COUNT, &pages);
    if (!rc)
        rc = count(st, S_FREE_COUNT, &free_pages);
    if (!rc)
        rc = count(st, S_PAGE_SIZE, &page_size);
    out->db_bytes = pages * page_size;
    out->free_bytes = free_pages * page_size;
    char wal[4096];
    struct stat sb;
    if (snprintf(wal, sizeof(wal), "%s-wal", st->path) < (int)sizeof(wal) && stat(wal, &sb) == 0)
        out->wal_bytes = (int64_t)sb.st_size;
    out->dedupe_entries = (int64_t)st->dd.count;
    if (st->dd.ring_tag)
        out->dedupe_bytes =
            (int64_t)(st->dd.cap * sizeof(dd_slot_t) + (st->dd.ring_mask + 1) * sizeof(uint32_t) +
                      ((st->dd.ring_mask + 1) >> DD_BLOCK_SHIFT) * sizeof(dd_block_t));
    out->dedupe_probes = (int64_t)st->dd.probes;
    return rc;
}

int
lh_store_row_counts(lh_store_t *st, int64_t *alerts, int64_t *correlations)
{
    int rc = count(st, S_COUNT_ALERTS, alerts);
    if (!rc)
        rc = count(st, S_COUNT_CORR, correlations);
    return rc;
}
