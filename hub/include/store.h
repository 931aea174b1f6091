/*
 * store.h - the timeline store: one SQLite file, WAL, synchronous=FULL by default.
 *
 * The store keeps every accepted event (decoded columns + the canonical protobuf encoding, and
 * the original bytes when they were not protobuf only with keep_original), the quarantine of
 * rejected input, the correlations and the alert outbox, each for as long as its retention says
 * (lh_store_expire()). Schema and migrations live in store_sql.h and are
 * versioned with PRAGMA user_version.
 *
 * One process writes a store at a time (lh_store_open() in write mode takes an exclusive
 * advisory lock and fails with LH_ELOCKED otherwise); any number of readers may open it
 * read-only at the same time (WAL). Writes happen inside lh_store_begin()/lh_store_commit():
 * the hub commits one transaction per batch.
 *
 * Duplicate detection is by event id. The writer keeps an in-memory index of id hashes -> row
 * for the last dedupe_horizon events (16 to 28 bytes each: 21 MiB at the default; rebuilt at open
 * from those rows),
 * confirmed against the stored id, so dedupe costs no random-access on-disk index (measured: a
 * random TEXT primary key for dedupe costs ~5x on inserts). An id older than the horizon is found
 * through the time index (a duplicate has its original's event time), so every duplicate of a
 * stored event is recognised; events in time order never pay that lookup (store_dedupe.c).
 *
 * A writable store runs one thread of its own that checkpoints the WAL in the background, so a
 * commit never copies the WAL back into the database file itself (see store.c).
 */
#ifndef LOOPHUB_STORE_H
#define LOOPHUB_STORE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "loophub/buf.h"
#include "loophub/event.h"

/* The time-first indexes (schema 6, store_sql.h) lead with the event time's 4-hour bucket.
 * SQLite matches an indexed expression by its text, so every statement that means to use one
 * writes it with LH_STORE_BUCKET_OF(). The correlator seeks one bucket at a time, newest first
 * (a 2 h window spans one or two); the queries name the buckets of a time range with
 * LH_STORE_BUCKETS(from, to), a row per bucket, each a seek. The width is the schema's, not a
 * setting. Measured on a 2M-event store (one lookup of a service's deploys in a 2 h window, warm
 * 32 MiB cache): service-first 7-11 us; 4 h buckets one seek each 11-12 us, through the CTE
 * 20-22 us; 1 h buckets 21-23 us either way. */
#define LH__STORE_BUCKET 14400000000000 /* 4 h in ns; migration 5 -> 6 spells it out */
#define LH__STORE_STR(x) #x
#define LH__STORE_XSTR(x) LH__STORE_STR(x)
#define LH_STORE_BUCKET_NS LH__STORE_XSTR(LH__STORE_BUCKET)
#define LH_STORE_BUCKET_OF(col) col " / " LH_STORE_BUCKET_NS
#define LH_STORE_BUCKETS(from, to)                                                                 \
    "(WITH RECURSIVE lh_buckets(b) AS (SELECT " from " / " LH_STORE_BUCKET_NS                      \
    " UNION ALL SELECT b + 1 FROM lh_buckets WHERE b < " to " / " LH_STORE_BUCKET_NS               \
    ") SELECT b FROM lh_buckets)"

/* The id indexes that only lookups by a user read (schema 10: ev_incident_event,
 * al_outcome_id) lead with an event's arrival bucket, its seq / 262144, so that inserts land in
 * the newest bucket whatever the history. A lookup by id names every bucket the index holds with
 * LH_STORE_SEQ_BUCKETS(table, col, where): a row per bucket, newest first, each found by a seek
 * (the largest bucket below the last), then one seek of (bucket, id) each. where is the index's
 * own WHERE (the partial index is used only when the statement implies it); col is the indexed
 * column, unqualified. The width is the schema's (migration 9 -> 10 spells it out). */
#define LH__STORE_SEQ_BUCKET "262144"
#define LH_STORE_SEQ_BUCKET_OF(col) col " / " LH__STORE_SEQ_BUCKET
#define LH_STORE_SEQ_BUCKETS(table, col, where)                                                    \
    "(WITH RECURSIVE lh_buckets(b) AS (SELECT max(" col " / " LH__STORE_SEQ_BUCKET ") FROM " table \
    " WHERE " where " UNION ALL SELECT (SELECT max(" col " / " LH__STORE_SEQ_BUCKET                \
    ") FROM " table " WHERE " where " AND " col " / " LH__STORE_SEQ_BUCKET                         \
    " < b) FROM lh_buckets WHERE b IS NOT"                                                         \
    " NULL) SELECT b FROM lh_buckets)"

/* The bucket of event time t, as LH_STORE_BUCKET_OF() computes it in SQL (both truncate). */
static inline int64_t
lh_store_bucket(int64_t t)
{
    return t / (int64_t)LH__STORE_BUCKET;
}

typedef struct lh_store lh_store_t;

typedef struct lh_store_opts {
    int readonly;         /* open for queries only: no lock, no migrations, no writes */
    int synchronous_full; /* 1 (default): synchronous=FULL; 0: NORMAL */
    int64_t cache_kb;     /* page cache size in KiB (default 32768) */
    int page_size;        /* bytes, for a store created now (default 16384); an existing store
                           * keeps the page size it was created with */
    /* WAL size in bytes past which the store's background thread checkpoints it (default 256 MiB);
     * writers wait for that checkpoint only when the WAL reaches 4 times this size */
    int64_t wal_checkpoint_bytes;
    /* the quarantine keeps at most this many rows and payload bytes (default 100,000 and
     * 256 MiB); past either, its oldest rows are deleted (counted: quarantine_evicted) */
    int64_t quarantine_max_rows;
    int64_t quarantine_max_bytes;
    /* events the in-memory dedupe index holds: the last this many (default 1,000,000; at least
     * 1024); older ids are looked up in the store */
    int64_t dedupe_horizon;
    /* 1: also store the original bytes of events that were not protobuf (default 0: the
     * canonical protobuf and the decoded columns hold every fact) */
    int keep_original;
} lh_store_opts_t;

#define LH_STORE_DAY_NS (86400LL * 1000000000LL)

void lh_store_opts_default(lh_store_opts_t *o);

/* Opens (creating if missing) the store at path and migrates it to the current schema. On
 * success returns 0 and *out owns the store; on error returns LH_ESTORE (message logged),
 * LH_ESCHEMA (file from a newer loophub), LH_ELOCKED (another writer) and *out is NULL. */
int lh_store_open(const char *path, const lh_store_opts_t *opts, lh_store_t **out);

/* Closes the store (rolling back an open transaction) and sets *st to NULL. NULL-safe. */
void lh_store_close(lh_store_t **st);

/* Transactions. begin/commit/rollback return 0 or LH_ESTORE (LH_EBUSY when locked). */
int lh_store_begin(lh_store_t *st);
int lh_store_commit(lh_store_t *st);
int lh_store_rollback(lh_store_t *st);

/* Inserts one event (inside a transaction). is_outcome records whether the event is an outcome
 * under the configuration in force (the correlator decides). pb/pb_len: the event's canonical
 * protobuf encoding of the event as lh_store_event_strip() leaves it, without the fields the row's
 * columns hold (each fact is stored once): what lh_store_event_encode() makes. Whoever decodes
 * events.event selects LH_STORE_EVENT_COLS and completes the event with
 * lh_store_event_complete_row() (a row written before has more of them in its protobuf; a field the
 * protobuf has is kept). The original bytes are taken from ev->raw when set. Also fills event_hosts
 * (for deploys and outcomes) and ticket_links (for tickets). Returns 0 and sets *seq (the row, in
 * arrival order) when stored; LH_EDUPLICATE when an event with the same id is already stored
 * (nothing changes, *seq is the stored row); LH_ESTORE on a database error. */
int lh_store_insert_event(lh_store_t *st, const lh_event_t *ev, int is_outcome, const void *pb,
                          size_t pb_len, int64_t *seq);

/* Before encoding the protobuf to store: clears in ev the fields its row's columns will hold
 * (id, service, environment, time, state, source; the hosts of deploys and outcomes; a deploy's
 * actor, id, versions, commit and artifact; an outcome or resolved alert's name and fingerprint;
 * the ids and artifacts the other kinds are looked up by), keeping the event in *saved.
 * lh_store_event_unstrip() puts it back. Nothing is freed or allocated. */
void lh_store_event_strip(lh_event_t *ev, int is_outcome, lh_event_t *saved);
void lh_store_event_unstrip(lh_event_t *ev, const lh_event_t *saved);

/* The protobuf lh_store_insert_event() takes for ev into out (reset first): ev stripped, encoded
 * (lh_codec_pb_encode()) and put back as it was. Returns 0 or the codec's error. */
int lh_store_event_encode(lh_event_t *ev, int is_outcome, lh_buf_t *out);

/* The columns an event is read back with: its protobuf, then the columns
 * lh_store_event_complete_row() fills the decoded event from, in this order. p prefixes each
 * (a table alias and a dot, or ""). Then the event's source, named by its key in table
 * `sources` (schema 11; a scalar subquery, NULL for a row that keeps the name itself), and its
 * labels, by their key in `labelsets` (schema 15; NULL: in the protobuf, or none). */
#define LH_STORE_EVENT_COLS(p)                                                                     \
    LH_STORE_EVENT_FACT_COLS(p)                                                                    \
    ", " p "source, "                                                                              \
    "(SELECT src.source FROM sources src WHERE src.ref = " p "source_ref), "                       \
    "(SELECT lbl.labels FROM labelsets lbl WHERE lbl.ref = " p "labels_ref)"
/* The columns before the source: all a store of schema 10 or older has (a migration reads its
 * events with them; the completion then keeps the source the protobuf has). */
#define LH_STORE_EVENT_FACT_COLS(p)                                                                \
    p "event, " p "id, " p "service, " p "environment, " p "time, " p "state, " p "hosts, " p      \
      "deploy_id, " p "version, " p "previous_version, " p "previous_derived, " p "commit_sha, " p \
      "actor, " p "artifact, " p "name, " p "fingerprint, " p "incident_id, " p "ticket_id"
/* The same columns of every select of a UNION that a select of LH_STORE_EVENT_COLS("") reads:
 * each named as its column, and the source's key itself (the outer select looks it up). */
#define LH_STORE_EVENT_COLS_AS(p)                                                                  \
    p "event AS event, " p "id AS id, " p "service AS service, " p                                 \
      "environment AS environment, " p "time AS time, " p "state AS state, " p                     \
      "hosts AS hosts, " p "deploy_id AS deploy_id, " p "version AS version, " p                   \
      "previous_version AS previous_version, " p "previous_derived AS previous_derived, " p        \
      "commit_sha AS commit_sha, " p "actor AS actor, " p "artifact AS artifact, " p               \
      "name AS name, " p "fingerprint AS fingerprint, " p "incident_id AS incident_id, " p         \
      "ticket_id AS ticket_id, " p "source AS source, " p "source_ref AS source_ref, " p           \
      "labels_ref AS labels_ref"

/* The writer knows at most this many sources, each of at most LH_STORE_SOURCE_MAX_LEN bytes,
 * and as many label sets, each of at most LH_STORE_LABELS_MAX_LEN bytes of protobuf; an event of
 * any other source keeps the name in its row (events.source), one with any other labels keeps
 * them in its protobuf, so a flood of distinct values grows neither table (`sources`,
 * `labelsets`) nor the writer's memory (at most about 1.2 and 2.2 MiB). */
#define LH_STORE_DICT_MAX 4096
#define LH_STORE_SOURCES_MAX LH_STORE_DICT_MAX
#define LH_STORE_SOURCE_MAX_LEN 256
#define LH_STORE_LABELS_MAX_LEN 512

/* Sets the fields of ev, decoded from column col of the current row of s (its
 * LH_STORE_EVENT_COLS), that the protobuf left out, from the columns after it. Returns 0,
 * LH_EDECODE (its set of labels in `labelsets` does not decode: a damaged store) or LH_ENOMEM. */
int lh_store_event_complete_row(lh_event_t *ev, sqlite3_stmt *s, int col);
/* Why an event whose completion gave LH_EDECODE cannot be read, for the logs. */
#define LH_STORE_LABELS_UNREADABLE "its set of labels (table labelsets) does not decode"

/* Reads the event at seq whole: its stored protobuf decoded and completed from its row. Returns 0
 * and sets *out (the caller destroys it), LH_ENOTFOUND, LH_EDECODE (why says what), LH_ENOMEM or
 * LH_ESTORE. */
int lh_store_event_load(lh_store_t *st, int64_t seq, lh_event_t **out, char *why, size_t whylen);

/* Reads the protobuf of the event at seq as stored (lh_store_event_strip() left out what the
 * columns hold, and the labels named by labels_ref are in `labelsets`): calls fn(pb, len, arg)
 * once. Returns 0, LH_ENOTFOUND or LH_ESTORE. */
typedef int (*lh_store_blob_fn)(const void *pb, size_t len, void *arg);
int lh_store_event_blob(lh_store_t *st, int64_t seq, lh_store_blob_fn fn, void *arg);

/* Keeps rejected input for inspection (a caller passes a sample of a large payload, not all of
 * it). event_id may be NULL. The quarantine stays within its bounds (lh_store_opts_t): the oldest
 * rows go first. Returns 0 or LH_ESTORE. */
int lh_store_quarantine(lh_store_t *st, const char *origin, const char *reason,
                        const char *event_id, const void *payload, size_t len);

/* Outbox. lh_store_alert_insert() adds a revision of an alert (protobuf CorrelatedAlert without
 * seq); each revision is an outbox row of its own, naming the event that made it (outcome_id and
 * event_seq; NULL and 0 when none). A payload may leave out what the store puts back when the
 * revision is read (lh_store_alert_payload(), the pending scans): the outcome event (field 7),
 * when it is the event at event_seq; the suspects, rollbacks and rollback target (fields 8, 16,
 * 10), when same_as is the seq of a revision of the same alert whose payload has them (0: none).
 * Returns 0 and *seq (the row's per-hub sequence number) or LH_EDUPLICATE when that revision of
 * that alert id exists already (*seq is its), or LH_ESTORE. */
int lh_store_alert_insert(lh_store_t *st, const char *alert_id, int revision,
                          const char *outcome_id, int64_t event_seq, int kind, const char *service,
                          const char *environment, int64_t outcome_seq, int late,
                          int64_t created_ns, int64_t same_as, const void *pb, size_t pb_len,
                          int64_t *seq);

/* The payload of the revision at seq whole, as a sink gets it (what lh_store_alert_insert() let
 * it leave out put back; its outcome event only when with_outcome), into out. Returns 0,
 * LH_ENOTFOUND, LH_ENOMEM or LH_ESTORE. */
int lh_store_alert_payload(lh_store_t *st, int64_t seq, int with_outcome, lh_buf_t *out);

/* Sinks. An outbox alert is delivered to each sink on its own, and each sink has its own done
 * marks, keyed by its name (table `sinks`, schema version 3). A sink is a row: a new one needs no
 * migration. lh_store_sink_register() looks name up or adds it (name: 1..64 of A-Z a-z 0-9 and
 * . _ : -; outside or inside a transaction). A sink new to a store starts at the oldest alert:
 * every alert of the outbox is pending for it, as the fixed columns of version 2 were for a
 * sink that never ran (kept on purpose: a sink turned on late delivers the history it missed).
 * Returns 0 and *out, LH_EINVAL for a bad name, LH_ENOTFOUND (read-only store, unknown name) or
 * LH_ESTORE. A handle stays valid for the store's life. */
typedef struct lh_store_sink {
    int64_t id; /* sinks.id */
} lh_store_sink_t;
int lh_store_sink_register(lh_store_t *st, const char *name, lh_store_sink_t *out);

/* Calls fn for each alert not yet marked done for sink, oldest first, at most limit (0: all).
 * fn returns 0 to continue, non-zero to stop. Returns the number visited, LH_EINVAL (no such
 * sink) or LH_ESTORE. fn may call any other function of the store, a nested scan included. */
typedef int (*lh_store_alert_fn)(int64_t seq, const void *pb, size_t pb_len, void *arg);
int lh_store_alert_pending(lh_store_t *st, lh_store_sink_t sink, int limit, lh_store_alert_fn fn,
                           void *arg);

/* Same, but only alerts with seq > after_seq (the hub's cursor past alerts in flight). */
int lh_store_alert_pending_after(lh_store_t *st, lh_store_sink_t sink, int64_t after_seq, int limit,
                                 lh_store_alert_fn fn, void *arg);

/* How many alerts are not yet marked done for sink. Returns 0, LH_EINVAL or LH_ESTORE. */
int lh_store_alert_pending_count(lh_store_t *st, lh_store_sink_t sink, int64_t *n);

/* Marks alert seq done for sink (outside or inside a transaction; again: no change; a seq that
 * is no alert: nothing written). Returns 0, LH_EINVAL (no such sink) or LH_ESTORE. */
int lh_store_alert_done(lh_store_t *st, lh_store_sink_t sink, int64_t seq);

/* The highest alert seq of the outbox (0: none). Returns 0 or LH_ESTORE. */
int lh_store_alert_max_seq(lh_store_t *st, int64_t *seq);
/* Marks every alert with seq > after_seq done for every sink the store knows (`loophub import`:
 * what it concluded is stored, not delivered). A sink with nothing pending up to after_seq moves
 * its mark to the end; another gets done rows for those alerts. Call inside a transaction.
 * Returns 0 or LH_ESTORE. */
int lh_store_alert_done_after(lh_store_t *st, int64_t after_seq);

/* Counters for /metrics and tests: no scan of a table (the tally and the quarantine's size are
 * kept as rows come and go). */
typedef struct lh_store_stats {
    int64_t events;
    int64_t events_by_kind[5]; /* by lh_kind_t */
    int64_t oldest_by_kind[5]; /* event time (ns) of the oldest event of each kind, 0: none */
    int64_t quarantined;
    int64_t quarantine_bytes;   /* payload bytes in the quarantine */
    int64_t quarantine_evicted; /* rows deleted to keep the quarantine in its bounds (this run) */
    int64_t db_bytes;           /* the database file's pages (free ones included) */
    int64_t free_bytes;         /* of which free pages (reused before the file grows) */
    int64_t wal_bytes;          /* the WAL file's size */
    int64_t dedupe_entries;     /* ids in the in-memory dedupe index (writer only) */
    int64_t dedupe_bytes;       /* the memory it holds now (table and ring) */
    int64_t dedupe_probes;      /* store lookups for ids older than its horizon (this run) */
} lh_store_stats_t;
int lh_store_stats(lh_store_t *st, lh_store_stats_t *out);

/* `loophub backup`: a consistent copy of the store at path into the file to, taken beside a
 * running writer (SQLite's online backup API in one read transaction: one committed moment, the
 * writer never blocked), checked, synced and renamed into place (store_backup.c). An existing
 * to is refused unless overwrite. Returns 0 with info filled, or LH_EINVAL / LH_ESTORE / LH_EIO
 * with why set. */
typedef struct lh_store_backup_info {
    int64_t events; /* events in the copy */
    int64_t bytes;  /* its size */
    int pages;
    double secs;
} lh_store_backup_info_t;
int lh_store_backup(const char *path, const char *to, int overwrite, lh_store_backup_info_t *info,
                    char *why, size_t whylen);

/* Rows of the outbox and of correlations: counted (a scan of each), for tests and tools. */
int lh_store_row_counts(lh_store_t *st, int64_t *alerts, int64_t *correlations);

/* Retention: how long each kind is kept, by event time (0: forever); outbox rows by when they
 * were created, by the kind of outcome they are about (incident alerts as incidents, alert ones
 * as alerts, unapproved changes as changes); the quarantine by when its rows were received. */
typedef struct lh_store_retention {
    int64_t keep_ns[5]; /* by lh_kind_t (index 0 unused) */
    int64_t quarantine_ns;
} lh_store_retention_t;

/* The defaults: changes, incidents and tickets 400 days, alerts 30 days, quarantine 7 days. */
void lh_store_retention_default(lh_store_retention_t *r);

typedef struct lh_store_expired {
    int64_t events[5]; /* deleted, by lh_kind_t */
    int64_t alerts;    /* outbox rows deleted */
    int64_t quarantine;
    int more; /* 1: the step stopped at its budget; more is past its time */
} lh_store_expired_t;

/* Each step that deletes events of a kind records its cutoff in the table meta, key
 * "expired_before.<lh_kind_t>" (ns): queries say what they cannot show any more. */

/* One step of retention in a transaction of its own (none may be open): per kind, at most budget
 * rows are looked at. Deletes what is past its time as of now_ns, with what goes with it (host
 * rows, ticket links; an outcome's row, correlations and case with its first event; outbox rows
 * only once every sink registered since open delivered them), and keeps the oldest event time of
 * each kind for lh_store_stats(). Returns 0 and *out, LH_EINVAL (a transaction is open), or the
 * store's error (nothing deleted). */
int lh_store_expire(lh_store_t *st, const lh_store_retention_t *r, int64_t now_ns, int budget,
                    lh_store_expired_t *out);

/* The underlying connection, for modules that own their own SQL against the schema in
 * store_sql.h (correlator, queries). Never close it. */
sqlite3 *lh__store_db(lh_store_t *st);

/* How many transactions had their writes discarded (rolled back, by the caller or by SQLite)
 * since open: a cache over rows read inside a transaction must be dropped when this changes. */
uint64_t lh__store_discards(const lh_store_t *st);

/* Retention deletes an outcome with its first stored event: no outcome whose time is later than
 * this was deleted (INT64_MIN: none was), for a cache of outcome rows. Only rises. */
int64_t lh__store_outcomes_expired_to(const lh_store_t *st);

/* SQLite's primary result code (SQLITE_FULL, SQLITE_READONLY, ...) of the last statement that
 * failed since open, 0 when none did; *msg gets its message (owned by st). For health reports. */
int lh__store_last_error(const lh_store_t *st, const char **msg);

/* What `changes.facts` holds of a change (schema 8): times in ns, 0 for none. The column is
 * LH_STORE_FACTS_BYTES bytes, each value a little-endian int64 in this order, so that a report
 * reads one column per change where it read six (measured on the 10M-event bench store: 250,000
 * rows in 55 ms with six columns, 30 ms with one). */
typedef struct lh_store_facts {
    int64_t deployed; /* its first succeeded event */
    int64_t failed;   /* its first failed event */
    int64_t rolled;   /* its first rolled_back event */
    int64_t commit;   /* the commit time its latest event carrying one gave */
    int64_t good;     /* its first succeeded event with a version (what ev_good holds) */
    int64_t goods;    /* how many such events it has */
} lh_store_facts_t;
#define LH_STORE_FACTS_BYTES 48
void lh_store_facts_encode(const lh_store_facts_t *f, unsigned char out[LH_STORE_FACTS_BYTES]);
/* Decodes n bytes at p; a value it holds no bytes for reads 0. */
void lh_store_facts_decode(const void *p, size_t n, lh_store_facts_t *f);

/* Schema version this binary writes (PRAGMA user_version). */
int lh_store_schema_version(void);

/* WAL checkpointing by the store's background thread (write mode; all zero when read-only). */
typedef struct lh_store_wal_stats {
    uint64_t passive;       /* PASSIVE checkpoints run (they never block the writer) */
    uint64_t restarts;      /* RESTART checkpoints that completed: the WAL starts over */
    uint64_t restart_busy;  /* RESTART attempts given up because a reader held an old snapshot */
    uint64_t restart_waits; /* transactions that waited for a RESTART to end (a few ms) */
    uint64_t cap_waits;     /* transactions that waited because the WAL reached the hard cap */
    int restarting;         /* 1 while a RESTART is pending or running */
} lh_store_wal_stats_t;
void lh__store_wal_stats(lh_store_t *st, lh_store_wal_stats_t *out);

/* Test only: while on, a RESTART checkpoint blocked by a reader keeps waiting until the store is
 * closed, instead of giving up after a few milliseconds. Process-wide. */
void lh__store_test_ckpt_hold(int on);

/* Test only: while mod is non-zero, event id hashes are reduced modulo mod, to force collisions
 * in the dedupe index (0 restores the real hash). The hashes are not stored: a store reopened
 * hashes its ids under the rule then in force. Process-wide. */
void lh__store_test_force_hash(uint64_t mod);
/* Test only: while keep is non-zero, event id hashes (after the modulo above) are ANDed with keep,
 * e.g. ~0xffffffff gives every id the same low bits (the bits the dedupe index keeps in memory)
 * while the full hashes still differ. Same rules as lh__store_test_force_hash(). */
void lh__store_test_force_hash_bits(uint64_t keep);
/* Test only: the hash the dedupe index gives an id, under the rules above. */
uint64_t lh__store_id_hash(const char *id);

#endif
