/*
 * store_internal.h - what the files of the store module share, and nobody else: the definition
 * of struct lh_store, the statement list and the lh__store_* functions one file gives another.
 * Private to hub/store/ (the build gives no other module this directory); the module's public
 * interface is hub/include/store.h.
 */
#ifndef LOOPHUB_STORE_INTERNAL_H
#define LOOPHUB_STORE_INTERNAL_H

#include <stdint.h>
#include <sys/types.h>

#include "store.h"
#include "store_sql.h"

#define COMPONENT "store"
#define DEFAULT_WAL_CHECKPOINT_BYTES (256LL << 20)
#define BUSY_TIMEOUT_MS 5000

enum {
#define X(name, sql) S_##name,
    STORE_SQL(X)
#undef X
        S_COUNT
};

extern const char *const lh__store_sql[S_COUNT];

/* 8 bytes an event. The tag keeps 31 bits of the id hash (the home slot is hash & mask, so a
 * resize needs no rehash while cap <= DD_MAX_CAP (store_dedupe.c)) and the slot keeps the low 32
 * bits of the row: a tag match is confirmed by reading the stored id of each row seq_lo + k * 2^32
 * <= max_seq. */
typedef struct dd_slot {
    uint32_t tag;    /* 0: empty; else DD_USED | the id hash's low 31 bits */
    uint32_t seq_lo; /* the row's low 32 bits */
} dd_slot_t;

/* The index holds the last `horizon` rows only (store_dedupe.c): the ring remembers, by row, the
 * tag of each, so that the row leaving the horizon is removed without a read, and by block of
 * 1 << DD_BLOCK_SHIFT rows their latest event time, so that the time of everything forgotten is
 * bounded (forgot_max_time) for the store lookup that recognises older duplicates. */
#define DD_BLOCK_SHIFT 6 /* 64 rows a block */
typedef struct dd_block {
    int64_t id;       /* seq >> DD_BLOCK_SHIFT of the block this slot holds, -1: none yet */
    int64_t max_time; /* the latest event time of its rows */
} dd_block_t;

typedef struct dedupe {
    dd_slot_t *slots;
    size_t cap; /* power of two */
    size_t count;
    int64_t max_seq; /* at least the largest row ever indexed: bounds the candidates of a slot */
    dd_slot_t *undo; /* entries added in the open transaction */
    size_t n_undo, cap_undo;
    int64_t horizon;        /* rows kept in the index: the last `horizon` */
    size_t max_cap;         /* the table never grows past this (sized for horizon) */
    uint32_t *ring_tag;     /* by row & ring_mask: its tag (0: none) */
    dd_block_t *ring_block; /* by (row & ring_mask) >> DD_BLOCK_SHIFT */
    size_t ring_mask;
    int64_t kept_from;       /* rows below this were forgotten */
    int64_t forgot_max_time; /* no forgotten row has a later event time (INT64_MIN: none) */
    uint64_t probes;         /* store lookups for an id older than the horizon */
} dedupe_t;

/* Events per kind (lh_kind_t) and the oldest event time of each: table `tally`, kept exact in
 * every transaction (written at commit), so nothing counts the events table. */
#define TALLY_KINDS 5
typedef struct tally {
    int64_t n;
    int64_t oldest; /* ns; INT64_MAX when there is none */
} tally_t;

/* Where retention's walk of one kind rests: the time index from (time, seq) on. */
typedef struct exp_cursor {
    int64_t time, seq;
} exp_cursor_t;

/* A table of values many events repeat, as the writer knows it (store_dict.c): every row of the
 * table, up to LH_STORE_DICT_MAX, found by an open-addressing table of entry numbers. */
typedef struct dict_entry {
    char *bytes; /* NUL-terminated copy (a label set may hold NULs before it) */
    size_t len;
    uint64_t hash;
    int64_t ref; /* its key in the table */
} dict_entry_t;
typedef struct store_dict {
    const char *what;  /* "sources", "label sets" */
    int load, add;     /* its statements (S_*) */
    size_t max_len;    /* a longer value stays in its row */
    int blob;          /* the value is bound as a blob, not text */
    dict_entry_t *ent; /* LH_STORE_DICT_MAX of them; NULL on a read-only store */
    uint16_t *slots;   /* 2 * LH_STORE_DICT_MAX: entry number + 1, 0: empty */
    size_t n, n_ok;    /* entries, and as of the last commit */
    int64_t next_ref, next_ok;
    unsigned full_logged;
} store_dict_t;

struct lh__store_ckpt; /* store_ckpt.c */

struct lh_store {
    sqlite3 *db;
    char *path;
    int readonly;
    int lock_fd; /* -1 when read-only */
    dev_t dev;
    ino_t ino;
    int in_txn;
    int txn_failed;
    int arrival_due;        /* the transaction's first event insert writes its `arrivals` row */
    int last_err;           /* SQLite's primary code of the last failed statement, 0: none */
    char last_msg[160];     /* and its message (lh__store_last_error) */
    uint64_t discards;      /* transactions whose writes were discarded (lh__store_discards) */
    int64_t exp_outcome_to; /* the latest first event of an expired outcome (INT64_MIN: none) */
    /* the quarantine's size, known as of q_discards (reread when a discard made it stale) */
    int64_t q_max_rows, q_max_bytes;
    int64_t q_rows, q_bytes, q_evicted;
    uint64_t q_discards;
    int q_known;
    int64_t busy_t0; /* when the running statement first found the database locked */
    sqlite3_stmt *stmt[S_COUNT];
    dedupe_t dd;
    tally_t tally[TALLY_KINDS];           /* as of the open transaction */
    tally_t tally_ok[TALLY_KINDS];        /* as of the last commit */
    unsigned tally_dirty;                 /* kinds changed in the open transaction (bit per kind) */
    int keep_original;                    /* store ev->raw (lh_store_opts_t.keep_original) */
    exp_cursor_t exp_cursor[TALLY_KINDS]; /* retention, per kind (store_retention.c) */
    int64_t exp_alert_cursor[4];          /* and per lh_ca_kind_t in the outbox (seq) */
    /* the least seq the next event may take, 0: any (SQLite's largest + 1). Set when retention
     * deleted the newest rows, so a seq is never given twice: meta 'events.next_seq' */
    int64_t seq_floor, seq_floor_ok;
    int64_t *sinks; /* ids registered since open: retention keeps what one
                     * of them has not delivered */
    size_t n_sinks, cap_sinks;
    struct lh__store_ckpt *ck;  /* NULL when read-only */
    int64_t change_span;        /* meta changes.max_span, -1 until read (store_changes.c) */
    store_dict_t src;           /* the sources (store_dict.c), writable stores */
    store_dict_t labels;        /* the label sets (store_dict.c), writable stores */
    lh_buf_t lbl_buf, rest_buf; /* an event's protobuf split (insert_rows(), store.c) */
};

/* ---- store.c -------------------------------------------------------------------------------- */

/* Logs SQLite's message once and maps rc to an LH_E* code (LH_EBUSY, LH_ENOMEM or LH_ESTORE);
 * inside a transaction it poisons it, and drops its dedupe entries when SQLite rolled it back
 * itself. */
int lh__store_sql_fail(lh_store_t *st, int rc, const char *what);
/* Sleeps us microseconds, EINTR included. */
void lh__store_sleep_us(long us);
/* Steps statement idx to its end and resets it: 0, or lh__store_sql_fail()'s code. */
int lh__store_step_done(lh_store_t *st, int idx, const char *what);
/* Steps statement idx, its ?1 bound to seq, to its row: 0 (the caller reads it, then resets
 * st->stmt[idx]), or, reset, LH_ENOTFOUND when there is none or lh__store_sql_fail()'s code. */
int lh__store_row_at(lh_store_t *st, int idx, int64_t seq, const char *what);
/* 0, or LH_ESTORE (logged) on a read-only store. */
int lh__store_writable(lh_store_t *st);

/* Binds v, or NULL when v is NULL. */
static inline void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

/* Binds v, or NULL when v is 0 (a time or state that is not there). */
static inline void
bind_int_or_null(sqlite3_stmt *s, int i, int64_t v)
{
    if (v)
        sqlite3_bind_int64(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

/* Binds n bytes at p; an empty blob for p non-NULL and n 0 (or not_null), else NULL. */
static inline void
bind_blob(sqlite3_stmt *s, int i, const void *p, size_t n, int not_null)
{
    if (p && n)
        sqlite3_bind_blob64(s, i, p, n, SQLITE_STATIC);
    else if (p || not_null)
        sqlite3_bind_zeroblob(s, i, 0);
    else
        sqlite3_bind_null(s, i);
}

/* ---- store_ckpt.c --------------------------------------------------------------------------- */

/* Opens the checkpointer's connection and starts its thread (writable stores, after the
 * migrations). Returns 0 or a negative LH_E* code; on failure st->ck may be set, and
 * lh__store_ckpt_stop() frees it. */
int lh__store_ckpt_start(lh_store_t *st, const lh_store_opts_t *o);
/* Stops and joins the thread and closes its connection; st->ck is NULL after. No-op when
 * read-only. */
void lh__store_ckpt_stop(lh_store_t *st);
/* Before a transaction (writer thread): waits while a RESTART is pending or running, or while the
 * WAL is at its hard cap, for at most BUSY_TIMEOUT_MS. No-op when read-only. */
void lh__store_ckpt_gate(lh_store_t *st);
/* Tells the checkpointer whether the writer is inside a transaction. No-op when read-only. */
void lh__store_ckpt_txn(lh_store_t *st, int in_txn);

/* ---- store_dedupe.c ------------------------------------------------------------------------- */

/* lh__hash64(id), under the test hooks' forced collisions. */
/* Makes room for one more entry (and an undo slot when with_undo): 0, LH_ENOMEM or LH_ERANGE. */
int lh__store_dd_reserve(dedupe_t *dd, int with_undo);
/* Adds an entry; room was reserved with lh__store_dd_reserve(). */
void lh__store_dd_add(dedupe_t *dd, uint64_t hash, int64_t seq, int64_t time, int with_undo);
/* Removes the entries added in the open transaction. */
void lh__store_dd_undo_all(dedupe_t *dd);
void lh__store_dd_free(dedupe_t *dd);
/* Looks id up. Returns 1 and *seq when stored, 0 when not, or a negative LH_E* code. */
int lh__store_dd_lookup(lh_store_t *st, uint64_t hash, const char *id, int64_t *seq);
/* Fills the index from the last `horizon` rows of the events table (writable stores, at open):
 * 0 or a negative LH_E* code, logged. */
int lh__store_dd_load(lh_store_t *st, int64_t horizon);
/* Looks id (its event time t) up beyond the horizon: 1 and *seq when stored, 0 when not (or when
 * t is later than anything forgotten: no lookup), or a negative LH_E* code. */
int lh__store_dd_probe(lh_store_t *st, const char *id, int64_t t, int64_t *seq);
/* Drops the entry of row seq (deleted by retention), if it has one. */
void lh__store_dd_forget(dedupe_t *dd, int64_t seq);

/* ---- store_retention.c ---------------------------------------------------------------------- */

/* Records an insert of kind at time t in the open transaction's tally. */
void lh__store_tally_add(lh_store_t *st, int kind, int64_t t);
/* Loads the tally at open: 0 or a negative LH_E* code. */
int lh__store_tally_load(lh_store_t *st);
int lh__store_seq_floor_load(lh_store_t *st);
/* Retention is about to delete alert revision seq: the ones that repeat it take its suspects in
 * (store_outbox.c). 0 or an LH_E* code. */
int lh__store_alert_unshare(lh_store_t *st, int64_t seq);
/* Writes the kinds changed in the open transaction (before COMMIT): 0 or an LH_E* code. */
int lh__store_tally_flush(lh_store_t *st);
/* After COMMIT (ok 1) or a rollback (ok 0). */
void lh__store_tally_end(lh_store_t *st, int ok);

/* ---- store_lock.c --------------------------------------------------------------------------- */

/* Takes the writer's lock on st->path: sets st->lock_fd, dev and ino. Returns 0, LH_ELOCKED (this
 * or another process holds it), LH_ENOMEM or LH_ESTORE, logged; on failure lock_fd stays -1. */
int lh__store_lock_take(lh_store_t *st);
/* Releases it, if taken: only after sqlite3_close() of every connection of the store. */
void lh__store_lock_release(lh_store_t *st);

/* ---- store_migrate.c ------------------------------------------------------------------------ */

/* Runs sql on the writer's connection: 0 or lh__store_sql_fail()'s code. */
int lh__store_exec(lh_store_t *st, const char *sql, const char *what);
/* Reads PRAGMA user_version: 0, or LH_ESTORE for a file that is not a database, logged. */
int lh__store_read_user_version(lh_store_t *st, int *version);
/* Runs the missing migrations in one transaction: 0, or a negative LH_E* code and nothing
 * changed. */
int lh__store_migrate(lh_store_t *st);

/* ---- store_dict.c --------------------------------------------------------------------------- */

/* Loads tables `sources` and `labelsets` (writable stores, at open): 0 or a negative LH_E* code. */
int lh__store_dicts_load(lh_store_t *st);
/* The key of value v (len bytes) in d's table, added in the open transaction when new: *ref 0
 * when v is empty, longer than d's bound or past LH_STORE_DICT_MAX (the row then keeps it).
 * Returns 0 or a negative LH_E* code. */
int lh__store_dict_ref(lh_store_t *st, store_dict_t *d, const void *v, size_t len, int64_t *ref);
/* After COMMIT (ok 1) or a rollback (ok 0: the values added since are forgotten). */
void lh__store_dicts_end(lh_store_t *st, int ok);
void lh__store_dicts_free(lh_store_t *st);

/* ---- store_changes.c ------------------------------------------------------------------------- */

/* Deploy event ev, just stored at seq, into the row of its change (table `changes`). */
int lh__store_change_add(lh_store_t *st, const lh_event_t *ev, int64_t seq);
/* Migration 7 -> 8: the rows of the changes stored before, and the incidents' severity. */
int lh__store_fill_v8(lh_store_t *st);

#endif
