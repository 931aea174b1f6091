/*
 * store.c - the timeline store: one SQLite file per hub (schema in store_sql.h).
 *
 * Opening: write mode first takes an exclusive flock() on the database file itself, held on a
 * separate descriptor for the store's whole life, then opens SQLite, refuses files that are not
 * SQLite databases (LH_ESTORE) or whose user_version is newer than this binary (LH_ESCHEMA),
 * both before anything is written, sets WAL and the pragmas, runs the missing migrations in one
 * transaction and starts the checkpointer. Read-only opens take no lock, run no migration, start
 * no thread and never create the file.
 *
 * Checkpoints: the writer never checkpoints (wal_autocheckpoint = 0); a commit inside which
 * SQLite copied the WAL back cost 40-100 ms of the reactor's time. A thread of the store, with
 * its own connection, does it: the writer's wal hook wakes it once the WAL passes
 * wal_checkpoint_bytes, and it runs PASSIVE checkpoints (concurrent with the writer) until at
 * most WAL_TAIL_BYTES are left, at most CKPT_PASSIVE_ROUNDS of them, then one RESTART so that the
 * WAL starts over: a PASSIVE checkpoint alone never copies the frames a busy writer keeps
 * appending, and the WAL would grow forever. The RESTART needs the write lock: it raises
 * `restarting`, and lh_store_begin() waits until it is done (typically the copy of one commit's
 * frames and two fsyncs), so it never competes with a stream of transactions. While it waits for
 * readers it holds the write lock, so it gives up after CKPT_RESTART_MS and retries with a
 * backoff. Hard cap: at WAL_CAP_FACTOR thresholds (the writer outran the thread)
 * lh_store_begin() waits for the end of a checkpoint cycle, so the WAL stays under about that
 * size plus one transaction. The one thing that can still grow it is a reader that holds an old
 * snapshot (no checkpoint can pass it); then the writer goes on and a warning is logged. The
 * store's connections retry a locked database every BUSY_SLEEP_US for up to BUSY_TIMEOUT_MS,
 * not on SQLite's 1..100 ms ladder.
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
 *   transaction), in an open-addressing table with linear probing and backward-shift deletion.
 *   A slot is 8 bytes: 31 bits of the hash (the home slot is hash & mask, so a resize needs no
 *   rehash up to DD_MAX_CAP slots) and the low 32 bits of seq. A tag match is confirmed by
 *   reading the stored id of each candidate row seq_lo + k * 2^32 up to the largest row indexed
 *   (one candidate below 2^32 rows), so neither a collision nor the short seq ever drops a
 *   distinct event or names the wrong row. Entries added in the open transaction are listed in
 *   `undo` and removed on rollback (explicit, on a failed commit, or when SQLite rolled the
 *   transaction back by itself after SQLITE_FULL / SQLITE_IOERR / SQLITE_NOMEM). Capacity for
 *   one more entry is reserved before a row is written, so a stored row always has its entry.
 * - A database error inside a transaction poisons it: the caller must roll back, and a commit of a
 *   poisoned transaction rolls back and fails (no half-written event is ever committed).
 * - Every statement is prepared once at open; all SQL text of this file is in store_sql.h.
 * - Outbox: a sink's done state is its row's done_through (every alert at or below it is done)
 *   plus its rows of outbox_done (done alerts above it). A mark at the first alert after
 *   done_through moves the mark and takes in the outbox_done rows it reaches; any other mark is
 *   a row of outbox_done. So the common in-order mark writes one small row of `sinks`, and a
 *   sink's pending scan starts at its mark (probing outbox_done per alert only when the sink has
 *   rows there).
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"
#include "loophub/error.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"
#include "store_sql.h"

#define COMPONENT "store"
#define DEFAULT_CACHE_KB 32768
/* 16 kB pages: fewer WAL frames (two syscalls each) per commit of the append-mostly events table;
 * ~15% less CPU per event than 4 kB under overload in the PULL bench, at the cost of more bytes
 * per random index page a small commit touches (higher median latency at moderate load) */
#define DEFAULT_PAGE_SIZE 16384
#define DEFAULT_WAL_CHECKPOINT_BYTES (64LL << 20)
#define MIN_WAL_CHECKPOINT_BYTES (64LL << 10)
#define WAL_CAP_FACTOR 4         /* writers wait for the checkpoint past this many thresholds */
#define WAL_KEEP_FACTOR 2        /* journal_size_limit: a restarted WAL file shrinks to this */
#define WAL_TAIL_BYTES (1 << 20) /* PASSIVE rounds go on while more than this is left */
#define CKPT_PASSIVE_ROUNDS 4    /* then RESTART, whatever is left */
#define CKPT_RESTART_MS 20       /* a RESTART gives up (and retries later) after this long */
#define CKPT_BACKOFF_MIN_MS 10   /* after a failed cycle, doubling up to the max */
#define CKPT_BACKOFF_MAX_MS 1000
#define BUSY_TIMEOUT_MS 5000
#define BUSY_SLEEP_US 150
#define DD_MIN_CAP 1024
#define DD_COUNT_ABOVE (1 << 24) /* rows; below, max(seq) sizes the dedupe index */
#define SINK_NAME_MAX 64

enum {
#define X(name, sql) S_##name,
    STORE_SQL(X)
#undef X
        S_COUNT
};

static const char *const store_sql[S_COUNT] = {
#define X(name, sql) sql,
    STORE_SQL(X)
#undef X
};

/* 8 bytes an event. The tag keeps 31 bits of the id hash (the home slot is hash & mask, so a
 * resize needs no rehash while cap <= DD_MAX_CAP) and the slot keeps the low 32 bits of the row:
 * a tag match is confirmed by reading the stored id of each row seq_lo + k * 2^32 <= max_seq. */
typedef struct dd_slot {
    uint32_t tag;    /* 0: empty; else DD_USED | the id hash's low 31 bits */
    uint32_t seq_lo; /* the row's low 32 bits */
} dd_slot_t;

#define DD_USED 0x80000000u
#define DD_MAX_CAP ((size_t)1 << 31) /* 1.5 billion events at the 70% load limit */

typedef struct dedupe {
    dd_slot_t *slots;
    size_t cap; /* power of two */
    size_t count;
    int64_t max_seq; /* at least the largest row ever indexed: bounds the candidates of a slot */
    dd_slot_t *undo; /* entries added in the open transaction */
    size_t n_undo, cap_undo;
} dedupe_t;

/* The background checkpointer of a writable store. The writer thread touches only the atomics
 * and, rarely, mu; the thread owns db. */
typedef struct ckpt {
    sqlite3 *db; /* its own connection to the store */
    const char *path;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t wake_cv; /* the thread waits here for work */
    pthread_cond_t done_cv; /* writers wait here for a RESTART or a cycle to end */
    int wake;               /* mu: a cycle is asked for */
    uint64_t cycles;        /* mu: cycles ended */
    atomic_int stop;
    atomic_int signalled;  /* the wal hook asked for a cycle that has not ended yet */
    atomic_int restarting; /* a RESTART is pending or running: new transactions wait */
    atomic_int pinned;     /* the last RESTART gave up: a reader holds an old snapshot */
    atomic_int frames;     /* frames in the WAL after the writer's last commit */
    atomic_int in_txn;     /* the writer is inside lh_store_begin()/commit() */
    int threshold_frames, cap_frames, tail_frames;
    int64_t start_ns, deadline_ns; /* the running RESTART's busy handler gives up at deadline */
    int64_t last_log_ns;
    atomic_uint_fast64_t n_passive, n_restarts, n_restart_busy, n_restart_waits, n_cap_waits;
} ckpt_t;

struct lh_store {
    sqlite3 *db;
    char *path;
    int readonly;
    int lock_fd; /* -1 when read-only */
    dev_t dev;
    ino_t ino;
    int in_txn;
    int txn_failed;
    uint64_t discards; /* transactions whose writes were discarded (lh__store_discards) */
    int64_t busy_t0;   /* when the running statement first found the database locked */
    sqlite3_stmt *stmt[S_COUNT];
    dedupe_t dd;
    ckpt_t *ck; /* NULL when read-only */
};

/* ---- test hooks ----------------------------------------------------------------------------- */

static uint64_t force_hash_mod;
static atomic_int ckpt_hold;

void
lh__store_test_ckpt_hold(int on)
{
    atomic_store(&ckpt_hold, on);
}

void
lh__store_test_force_hash(uint64_t mod)
{
    force_hash_mod = mod;
}

static uint64_t force_hash_keep;

void
lh__store_test_force_hash_bits(uint64_t keep)
{
    force_hash_keep = keep;
}

static uint64_t
id_hash(const char *id)
{
    uint64_t h = lh__hash64(id, strlen(id));
    if (force_hash_mod)
        h %= force_hash_mod;
    if (force_hash_keep)
        h &= force_hash_keep;
    return h;
}

/* ---- writers held by this process ----------------------------------------------------------- */

typedef struct held {
    dev_t dev;
    ino_t ino;
    struct held *next;
} held_t;

static pthread_mutex_t held_mu = PTHREAD_MUTEX_INITIALIZER;
static held_t *held_list;

static int
held_find(dev_t dev, ino_t ino)
{
    for (held_t *h = held_list; h; h = h->next)
        if (h->dev == dev && h->ino == ino)
            return 1;
    return 0;
}

static void
held_remove(dev_t dev, ino_t ino)
{
    pthread_mutex_lock(&held_mu);
    for (held_t **p = &held_list; *p; p = &(*p)->next) {
        if ((*p)->dev == dev && (*p)->ino == ino) {
            held_t *h = *p;
            *p = h->next;
            free(h);
            break;
        }
    }
    pthread_mutex_unlock(&held_mu);
}

/* ---- errors --------------------------------------------------------------------------------- */

static void dd_undo_all(dedupe_t *dd);

/* Logs SQLite's message once and maps rc to an LH_E* code. When SQLite has rolled back the open
 * transaction by itself, the dedupe entries of that transaction are dropped as well. */
static int
sql_fail(lh_store_t *st, int rc, const char *what)
{
    lh_log(LH_LOG_ERROR, COMPONENT, "%s: %s: %s (sqlite %d)", st->path, what,
           sqlite3_errmsg(st->db), rc);
    if (st->in_txn) {
        st->txn_failed = 1;
        if (sqlite3_get_autocommit(st->db)) {
            dd_undo_all(&st->dd);
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

static void
sleep_us(long us)
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
    sleep_us(BUSY_SLEEP_US);
    return 1;
}

/* ---- background checkpoints ----------------------------------------------------------------- */

static void
ckpt_log(ckpt_t *ck, lh_log_level_t level, const char *what, int rc)
{
    /* at most one line a second: the thread retries on its own */
    int64_t now = lh_mono_ns();
    if (ck->last_log_ns && now - ck->last_log_ns < LH_NS_PER_SEC)
        return;
    ck->last_log_ns = now;
    lh_log(level, COMPONENT, "%s: %s: %s (sqlite %d)", ck->path, what, sqlite3_errstr(rc), rc);
}

/* The checkpointer's busy handler, used only by RESTART. Waiting for the writer's transaction to
 * end blocks nobody (the next one waits for the RESTART in ckpt_gate()), so that wait is long;
 * but once RESTART holds the write lock and waits for readers, the writer waits as long, so it
 * gives up CKPT_RESTART_MS after the writer's last transaction (and retries later). */
static int
ckpt_busy(void *arg, int n)
{
    ckpt_t *ck = arg;
    (void)n;
    if (atomic_load(&ck->stop))
        return 0;
    int64_t now = lh_mono_ns();
    if (atomic_load(&ck->in_txn))
        ck->deadline_ns = now + CKPT_RESTART_MS * LH_NS_PER_MS;
    if (!atomic_load(&ckpt_hold) &&
        (now >= ck->deadline_ns || now - ck->start_ns >= BUSY_TIMEOUT_MS * LH_NS_PER_MS))
        return 0;
    sleep_us(100);
    return 1;
}

/* After each commit of the writer (its thread): notes the WAL size and wakes the checkpointer once
 * the WAL passes the threshold. */
static int
ckpt_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    ckpt_t *ck = arg;
    (void)db;
    (void)name;
    atomic_store_explicit(&ck->frames, frames, memory_order_relaxed);
    if (frames >= ck->threshold_frames && !atomic_exchange(&ck->signalled, 1)) {
        pthread_mutex_lock(&ck->mu);
        ck->wake = 1;
        pthread_cond_signal(&ck->wake_cv);
        pthread_mutex_unlock(&ck->mu);
    }
    return SQLITE_OK;
}

/* One cycle: PASSIVE checkpoints (concurrent with the writer) until what is left is small, then
 * one RESTART (new transactions wait for it) so that the WAL starts over. A PASSIVE checkpoint
 * alone never catches up with a busy writer: the WAL would never restart and grow forever.
 * Returns 0, or -1 when the thread should back off (a reader pins the WAL, or an error). */
static int
ckpt_cycle(ckpt_t *ck)
{
    for (int round = 0;; round++) {
        if (atomic_load(&ck->stop))
            return 0;
        int nlog = 0, nckpt = 0;
        int rc =
            sqlite3_wal_checkpoint_v2(ck->db, "main", SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
        if (rc != SQLITE_OK) {
            if (atomic_load(&ck->stop))
                return 0;
            ckpt_log(ck, LH_LOG_WARN, "background checkpoint", rc);
            return -1;
        }
        atomic_fetch_add(&ck->n_passive, 1);
        int now = atomic_load_explicit(&ck->frames, memory_order_relaxed);
        if (now < nckpt) {
            /* all was copied while the writer was idle: it restarted the WAL itself, so no
             * reader pins it any more */
            atomic_store(&ck->pinned, 0);
            return 0;
        }
        if (now - nckpt <= ck->tail_frames || round + 1 >= CKPT_PASSIVE_ROUNDS)
            break;
    }
    ck->start_ns = lh_mono_ns();
    ck->deadline_ns = ck->start_ns + CKPT_RESTART_MS * LH_NS_PER_MS;
    atomic_store(&ck->restarting, 1);
    int rc = sqlite3_wal_checkpoint_v2(ck->db, "main", SQLITE_CHECKPOINT_RESTART, NULL, NULL);
    atomic_store(&ck->restarting, 0);
    pthread_mutex_lock(&ck->mu);
    pthread_cond_broadcast(&ck->done_cv);
    pthread_mutex_unlock(&ck->mu);
    if (rc == SQLITE_OK) {
        atomic_fetch_add(&ck->n_restarts, 1);
        atomic_store(&ck->frames, 0);
        atomic_store(&ck->pinned, 0);
        return 0;
    }
    if (atomic_load(&ck->stop))
        return 0;
    if ((rc & 0xff) == SQLITE_BUSY) {
        atomic_fetch_add(&ck->n_restart_busy, 1);
        atomic_store(&ck->pinned, 1);
        return -1;
    }
    ckpt_log(ck, LH_LOG_WARN, "background checkpoint (restart)", rc);
    return -1;
}

static void
abs_deadline(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    int64_t ns = ts->tv_nsec + (ms % 1000) * LH_NS_PER_MS;
    ts->tv_sec += ms / 1000 + ns / LH_NS_PER_SEC;
    ts->tv_nsec = ns % LH_NS_PER_SEC;
}

static void *
ckpt_main(void *arg)
{
    ckpt_t *ck = arg;
    int backoff_ms = 0;
    pthread_mutex_lock(&ck->mu);
    for (;;) {
        if (backoff_ms && !atomic_load(&ck->stop)) {
            /* a reader pins the WAL (or the disk fails): wake-ups are ignored for a while */
            struct timespec ts;
            abs_deadline(&ts, backoff_ms);
            while (!atomic_load(&ck->stop) &&
                   pthread_cond_timedwait(&ck->wake_cv, &ck->mu, &ts) != ETIMEDOUT)
                ;
            if (atomic_load(&ck->frames) >= ck->threshold_frames)
                ck->wake = 1;
        }
        while (!atomic_load(&ck->stop) && !ck->wake)
            pthread_cond_wait(&ck->wake_cv, &ck->mu);
        if (atomic_load(&ck->stop))
            break;
        ck->wake = 0;
        pthread_mutex_unlock(&ck->mu);
        int rc = ckpt_cycle(ck);
        pthread_mutex_lock(&ck->mu);
        ck->cycles++;
        atomic_store(&ck->signalled, 0);
        pthread_cond_broadcast(&ck->done_cv);
        if (rc == 0)
            backoff_ms = 0;
        else
            backoff_ms = backoff_ms ? backoff_ms * 2 : CKPT_BACKOFF_MIN_MS;
        if (backoff_ms > CKPT_BACKOFF_MAX_MS)
            backoff_ms = CKPT_BACKOFF_MAX_MS;
    }
    pthread_mutex_unlock(&ck->mu);
    return NULL;
}

/* Before a transaction (writer thread): waits while a RESTART is pending or running, so that it
 * gets the write lock at once and holds it briefly; and, when the WAL has reached the hard cap
 * (WAL_CAP_FACTOR thresholds: the writer outran the checkpointer), waits for the end of a
 * checkpoint cycle. Never waits longer than BUSY_TIMEOUT_MS, nor for a WAL a reader pins. */
static void
ckpt_gate(lh_store_t *st)
{
    ckpt_t *ck = st->ck;
    if (!ck)
        return;
    int over = atomic_load_explicit(&ck->frames, memory_order_relaxed) >= ck->cap_frames;
    if (over && atomic_load(&ck->pinned)) {
        lh_log_ratelimited("store-wal-pinned", LH_LOG_WARN, COMPONENT,
                           "%s: the WAL holds %d pages and cannot restart: a reader keeps an old "
                           "snapshot open",
                           st->path, atomic_load(&ck->frames));
        over = 0;
    }
    if (!over && !atomic_load_explicit(&ck->restarting, memory_order_relaxed))
        return;
    atomic_fetch_add(over ? &ck->n_cap_waits : &ck->n_restart_waits, 1);
    struct timespec ts;
    abs_deadline(&ts, BUSY_TIMEOUT_MS);
    pthread_mutex_lock(&ck->mu);
    uint64_t cycles = ck->cycles;
    if (over) {
        ck->wake = 1;
        pthread_cond_signal(&ck->wake_cv);
    }
    while (!atomic_load(&ck->stop) &&
           (atomic_load(&ck->restarting) || (over && ck->cycles == cycles))) {
        if (pthread_cond_timedwait(&ck->done_cv, &ck->mu, &ts) == ETIMEDOUT) {
            lh_log_ratelimited("store-wal-wait", LH_LOG_WARN, COMPONENT,
                               "%s: waited %d ms for a WAL checkpoint; going on", st->path,
                               BUSY_TIMEOUT_MS);
            break;
        }
    }
    pthread_mutex_unlock(&ck->mu);
}

static void
ckpt_free(ckpt_t *ck)
{
    if (ck->db && sqlite3_close(ck->db) != SQLITE_OK)
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: close (checkpointer): %s", ck->path,
               sqlite3_errmsg(ck->db));
    pthread_mutex_destroy(&ck->mu);
    pthread_cond_destroy(&ck->wake_cv);
    pthread_cond_destroy(&ck->done_cv);
    free(ck);
}

/* Stops and joins the thread (an interrupted checkpoint is harmless: the writer's close
 * checkpoints what is left) and closes its connection. */
static void
ckpt_stop(lh_store_t *st)
{
    ckpt_t *ck = st->ck;
    if (!ck)
        return;
    sqlite3_wal_hook(st->db, NULL, NULL);
    if (ck->started) {
        pthread_mutex_lock(&ck->mu);
        atomic_store(&ck->stop, 1);
        pthread_cond_broadcast(&ck->wake_cv);
        pthread_cond_broadcast(&ck->done_cv);
        pthread_mutex_unlock(&ck->mu);
        sqlite3_interrupt(ck->db);
        pthread_join(ck->thread, NULL);
    }
    ckpt_free(ck);
    st->ck = NULL;
}

static int
ckpt_fail(lh_store_t *st, int rc, const char *what)
{
    lh_log(LH_LOG_ERROR, COMPONENT, "%s: %s: %s (sqlite %d)", st->path, what,
           st->ck->db ? sqlite3_errmsg(st->ck->db) : sqlite3_errstr(rc), rc);
    return (rc & 0xff) == SQLITE_NOMEM ? LH_ENOMEM : LH_ESTORE;
}

/* Opens the checkpointer's connection and starts its thread (writable stores, after the
 * migrations). Not registered as a writer: it is the store's own, and takes no flock. */
static int
ckpt_start(lh_store_t *st, const lh_store_opts_t *o)
{
    ckpt_t *ck = calloc(1, sizeof(*ck));
    if (!ck)
        return LH_ENOMEM;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&ck->mu, NULL);
    pthread_cond_init(&ck->wake_cv, &ca);
    pthread_cond_init(&ck->done_cv, &ca);
    pthread_condattr_destroy(&ca);
    ck->path = st->path;
    st->ck = ck;

    /* thresholds in frames of this file's page size (stores made before 16 kB pages keep theirs) */
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, SQL_PAGE_SIZE, -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    int64_t frame = (rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0) + 24;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW)
        return sql_fail(st, rc, "reading the page size");
    int64_t bytes =
        o->wal_checkpoint_bytes > 0 ? o->wal_checkpoint_bytes : DEFAULT_WAL_CHECKPOINT_BYTES;
    if (bytes < MIN_WAL_CHECKPOINT_BYTES)
        bytes = MIN_WAL_CHECKPOINT_BYTES;
    if (bytes > (INT32_MAX / WAL_CAP_FACTOR) * frame)
        bytes = (INT32_MAX / WAL_CAP_FACTOR) * frame;
    ck->threshold_frames = (int)(bytes / frame);
    ck->cap_frames = ck->threshold_frames * WAL_CAP_FACTOR;
    ck->tail_frames = (int)(WAL_TAIL_BYTES / frame);
    if (ck->tail_frames > ck->threshold_frames / 4)
        ck->tail_frames = ck->threshold_frames / 4;

    rc = sqlite3_open_v2(st->path, &ck->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return ckpt_fail(st, rc, "opening the checkpointer's connection");
    sqlite3_extended_result_codes(ck->db, 1);
    sqlite3_busy_handler(ck->db, ckpt_busy, ck);
    char sql[64];
    snprintf(sql, sizeof(sql), SQL_SYNCHRONOUS, o->synchronous_full ? "FULL" : "NORMAL");
    rc = sqlite3_exec(ck->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return ckpt_fail(st, rc, "setting the checkpointer's pragmas");
    if ((rc = pthread_create(&ck->thread, NULL, ckpt_main, ck)) != 0) {
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: cannot start the checkpointer: %s", st->path,
               strerror(rc));
        return LH_ESTORE;
    }
    ck->started = 1;
    sqlite3_wal_hook(st->db, ckpt_wal_hook, ck);
    return 0;
}

void
lh__store_wal_stats(lh_store_t *st, lh_store_wal_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!st->ck)
        return;
    out->passive = atomic_load(&st->ck->n_passive);
    out->restarts = atomic_load(&st->ck->n_restarts);
    out->restart_busy = atomic_load(&st->ck->n_restart_busy);
    out->restart_waits = atomic_load(&st->ck->n_restart_waits);
    out->cap_waits = atomic_load(&st->ck->n_cap_waits);
    out->restarting = atomic_load(&st->ck->restarting);
}

/* ---- dedupe index --------------------------------------------------------------------------- */

static inline uint32_t
dd_tag(uint64_t hash)
{
    return DD_USED | (uint32_t)(hash & ~DD_USED);
}

static int
dd_resize(dedupe_t *dd, size_t cap)
{
    dd_slot_t *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return LH_ENOMEM;
    size_t mask = cap - 1;
    for (size_t i = 0; i < dd->cap; i++) {
        if (!dd->slots[i].tag)
            continue;
        size_t j = dd->slots[i].tag & mask;
        while (slots[j].tag)
            j = (j + 1) & mask;
        slots[j] = dd->slots[i];
    }
    free(dd->slots);
    dd->slots = slots;
    dd->cap = cap;
    return 0;
}

/* Makes room for one more entry (table at most ~70% full after it, undo log slot). */
static int
dd_reserve(dedupe_t *dd, int with_undo)
{
    if (!dd->cap || (dd->count + 1) * 10 > dd->cap * 7) {
        size_t cap = dd->cap ? dd->cap * 2 : DD_MIN_CAP;
        if (cap > DD_MAX_CAP)
            return LH_ERANGE;
        int rc = dd_resize(dd, cap);
        if (rc)
            return rc;
    }
    if (with_undo && dd->n_undo == dd->cap_undo) {
        size_t cap = dd->cap_undo ? dd->cap_undo * 2 : 256;
        dd_slot_t *u = realloc(dd->undo, cap * sizeof(*u));
        if (!u)
            return LH_ENOMEM;
        dd->undo = u;
        dd->cap_undo = cap;
    }
    return 0;
}

/* Adds an entry; room was reserved with dd_reserve(). */
static void
dd_add(dedupe_t *dd, uint64_t hash, int64_t seq, int with_undo)
{
    size_t mask = dd->cap - 1;
    dd_slot_t e = {dd_tag(hash), (uint32_t)seq};
    size_t j = e.tag & mask;
    while (dd->slots[j].tag)
        j = (j + 1) & mask;
    dd->slots[j] = e;
    dd->count++;
    if (seq > dd->max_seq)
        dd->max_seq = seq;
    if (with_undo)
        dd->undo[dd->n_undo++] = e;
}

/* Removes one slot holding exactly e. Two entries with the same tag and seq_lo are
 * indistinguishable in the table (lookups confirm every candidate row), so any one will do. */
static void
dd_remove(dedupe_t *dd, dd_slot_t e)
{
    size_t mask = dd->cap - 1;
    size_t i = e.tag & mask;
    while (dd->slots[i].tag && !(dd->slots[i].tag == e.tag && dd->slots[i].seq_lo == e.seq_lo))
        i = (i + 1) & mask;
    if (!dd->slots[i].tag)
        return;
    /* backward-shift deletion keeps every probe chain unbroken without tombstones */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!dd->slots[j].tag)
            break;
        size_t k = dd->slots[j].tag & mask; /* home slot of the entry at j */
        int stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            dd->slots[i] = dd->slots[j];
            i = j;
        }
    }
    dd->slots[i].tag = 0;
    dd->slots[i].seq_lo = 0;
    dd->count--;
}

static void
dd_undo_all(dedupe_t *dd)
{
    while (dd->n_undo)
        dd_remove(dd, dd->undo[--dd->n_undo]);
}

static void
dd_free(dedupe_t *dd)
{
    free(dd->slots);
    free(dd->undo);
    memset(dd, 0, sizeof(*dd));
}

/* Returns 1 when row seq exists and holds id, 0 when not, or a negative LH_E* code. */
static int
dd_row_is(lh_store_t *st, int64_t seq, const char *id)
{
    sqlite3_stmt *s = st->stmt[S_GET_ID];
    sqlite3_bind_int64(s, 1, seq);
    int rc = sqlite3_step(s);
    int same = 0;
    if (rc == SQLITE_ROW) {
        const char *stored = (const char *)sqlite3_column_text(s, 0);
        same = stored && strcmp(stored, id) == 0;
    } else if (rc != SQLITE_DONE) {
        sqlite3_reset(s);
        return sql_fail(st, rc, "dedupe lookup");
    }
    sqlite3_reset(s);
    return same;
}

/* Looks id up. Returns 1 and *seq when stored, 0 when not, or a negative LH_E* code. */
static int
dd_lookup(lh_store_t *st, uint64_t hash, const char *id, int64_t *seq)
{
    dedupe_t *dd = &st->dd;
    if (!dd->cap)
        return 0;
    size_t mask = dd->cap - 1;
    uint32_t tag = dd_tag(hash);
    for (size_t j = tag & mask; dd->slots[j].tag; j = (j + 1) & mask) {
        if (dd->slots[j].tag != tag)
            continue;
        /* one candidate row below 2^32 rows, one more per further 2^32 */
        for (uint64_t row = dd->slots[j].seq_lo; row <= (uint64_t)dd->max_seq; row += 1ULL << 32) {
            if (row == 0)
                continue;
            int rc = dd_row_is(st, (int64_t)row, id);
            if (rc < 0)
                return rc;
            if (rc) {
                *seq = (int64_t)row;
                return 1;
            }
        }
    }
    return 0;
}

static int
dd_load(lh_store_t *st)
{
    /* size the table once for the rows there are: rows are numbered from 1 and never deleted, so
     * max(seq) is the count, read from the end of the table; a count that large is checked with
     * a scan, so a store with a gap in its rows cannot make the index huge */
    sqlite3_stmt *s = st->stmt[S_MAX_SEQ];
    int rc = sqlite3_step(s);
    int64_t rows = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return sql_fail(st, rc, "sizing the dedupe index");
    st->dd.max_seq = rows;
    if (rows > DD_COUNT_ABOVE) {
        s = st->stmt[S_COUNT_EVENTS];
        rc = sqlite3_step(s);
        rows = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        sqlite3_reset(s);
        if (rc != SQLITE_ROW)
            return sql_fail(st, rc, "sizing the dedupe index");
    }
    size_t cap = DD_MIN_CAP;
    while ((uint64_t)rows * 10 >= (uint64_t)cap * 7 && cap < DD_MAX_CAP)
        cap *= 2;
    int err = dd_resize(&st->dd, cap);
    s = st->stmt[S_LOAD_IDS];
    while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        err = dd_reserve(&st->dd, 0);
        if (!err)
            dd_add(&st->dd, (uint64_t)sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), 0);
    }
    if (!err && rc != SQLITE_DONE)
        err = sql_fail(st, rc, "loading the dedupe index");
    sqlite3_reset(s);
    if (err == LH_ENOMEM)
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: out of memory loading the dedupe index", st->path);
    if (err == LH_ERANGE)
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: too many events for the dedupe index", st->path);
    return err;
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

uint64_t
lh__store_discards(const lh_store_t *st)
{
    return st->discards;
}

static int
exec_sql(lh_store_t *st, const char *sql, const char *what)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sql_fail(st, rc, what);
}

/* Reads PRAGMA user_version; a file that is not a database is reported here, before any write. */
static int
read_user_version(lh_store_t *st, int *version)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, SQL_USER_VERSION, -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int(s, 0);
        sqlite3_finalize(s);
        return 0;
    }
    sqlite3_finalize(s);
    if ((rc & 0xff) == SQLITE_NOTADB) {
        lh_log(LH_LOG_ERROR, COMPONENT, "%s is not a loophub store (not an SQLite database)",
               st->path);
        return LH_ESTORE;
    }
    return sql_fail(st, rc, "reading the schema version");
}

static int
migrate(lh_store_t *st)
{
    int rc = exec_sql(st, store_sql[S_BEGIN], "starting the migration");
    if (rc)
        return rc;
    int from = 0;
    rc = read_user_version(st, &from);
    for (int v = from; !rc && v < LH_STORE_SCHEMA_VERSION; v++)
        rc = exec_sql(st, LH_STORE_MIGRATIONS[v], "migrating the schema");
    if (!rc && from < LH_STORE_SCHEMA_VERSION) {
        char sql[64];
        snprintf(sql, sizeof(sql), SQL_SET_USER_VERSION, LH_STORE_SCHEMA_VERSION);
        rc = exec_sql(st, sql, "stamping the schema version");
    }
    if (!rc)
        rc = exec_sql(st, store_sql[S_COMMIT], "committing the migration");
    if (rc) {
        if (!sqlite3_get_autocommit(st->db))
            sqlite3_exec(st->db, store_sql[S_ROLLBACK], NULL, NULL, NULL);
        return rc;
    }
    if (from < LH_STORE_SCHEMA_VERSION)
        lh_log(from ? LH_LOG_INFO : LH_LOG_DEBUG, COMPONENT,
               "%s: schema migrated from version %d to %d", st->path, from,
               LH_STORE_SCHEMA_VERSION);
    return 0;
}

/* Takes the writer's lock: refused for a file this process already holds, then flock(). */
static int
take_lock(lh_store_t *st)
{
    struct stat sb;
    int rc = 0;
    pthread_mutex_lock(&held_mu);
    if (stat(st->path, &sb) == 0 && held_find(sb.st_dev, sb.st_ino)) {
        rc = LH_ELOCKED;
        goto out;
    }
    st->lock_fd = open(st->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (st->lock_fd < 0) {
        lh_log(LH_LOG_ERROR, COMPONENT, "cannot open store %s: %s", st->path, strerror(errno));
        rc = LH_ESTORE;
        goto out;
    }
    if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            rc = LH_ELOCKED;
        } else {
            lh_log(LH_LOG_ERROR, COMPONENT, "cannot lock store %s: %s", st->path, strerror(errno));
            rc = LH_ESTORE;
        }
        goto out;
    }
    held_t *h = malloc(sizeof(*h));
    if (!h || fstat(st->lock_fd, &sb) != 0) {
        free(h);
        lh_log(LH_LOG_ERROR, COMPONENT, "cannot lock store %s: %s", st->path,
               h ? strerror(errno) : "out of memory");
        rc = h ? LH_ESTORE : LH_ENOMEM;
        goto out;
    }
    h->dev = st->dev = sb.st_dev;
    h->ino = st->ino = sb.st_ino;
    h->next = held_list;
    held_list = h;
out:
    pthread_mutex_unlock(&held_mu);
    if (rc == LH_ELOCKED)
        lh_log(LH_LOG_ERROR, COMPONENT, "store %s is in use by another loophub (pid unknown)",
               st->path);
    if (rc && st->lock_fd >= 0) {
        close(st->lock_fd);
        st->lock_fd = -1;
    }
    return rc;
}

static void
store_free(lh_store_t *st)
{
    ckpt_stop(st);
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    if (st->db) {
        if (st->in_txn && !sqlite3_get_autocommit(st->db))
            sqlite3_exec(st->db, store_sql[S_ROLLBACK], NULL, NULL, NULL);
        if (sqlite3_close(st->db) != SQLITE_OK)
            lh_log(LH_LOG_ERROR, COMPONENT, "%s: close: %s", st->path, sqlite3_errmsg(st->db));
    }
    /* only now: closing this descriptor earlier would drop SQLite's POSIX locks */
    if (st->lock_fd >= 0) {
        held_remove(st->dev, st->ino);
        close(st->lock_fd);
    }
    dd_free(&st->dd);
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
    int err = read_user_version(st, &version);
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
        err = exec_sql(st, sql, "setting pragmas");
        if (!err)
            err = migrate(st);
    }
    for (int i = 0; !err && i < S_COUNT; i++) {
        rc = sqlite3_prepare_v3(st->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
                                NULL);
        if (rc != SQLITE_OK)
            err = sql_fail(st, rc, store_sql[i]);
    }
    /* the index is loaded through SQLite's small default cache: scanning the table through a
     * 64 MiB one costs more in allocation and page faults than the scan itself */
    if (!err && !o->readonly)
        err = dd_load(st);
    if (!err) {
        long long cache_kb = o->cache_kb > 0 ? (long long)o->cache_kb : DEFAULT_CACHE_KB;
        snprintf(sql, sizeof(sql), SQL_CACHE_SIZE, cache_kb);
        err = exec_sql(st, sql, "setting the cache size");
    }
    if (!err && !o->readonly)
        err = ckpt_start(st, o);
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
    st->readonly = o.readonly;
    int err = o.readonly ? 0 : take_lock(st);
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

static int
step_done(lh_store_t *st, int idx, const char *what)
{
    sqlite3_stmt *s = st->stmt[idx];
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return 0;
    return sql_fail(st, rc, what);
}

int
lh_store_begin(lh_store_t *st)
{
    if (st->in_txn) {
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: begin: a transaction is already open", st->path);
        return LH_ESTORE;
    }
    ckpt_gate(st);
    int rc = step_done(st, S_BEGIN, "begin");
    if (rc)
        return rc;
    st->in_txn = 1;
    st->txn_failed = 0;
    st->dd.n_undo = 0;
    if (st->ck)
        atomic_store(&st->ck->in_txn, 1);
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
        dd_undo_all(&st->dd);
        st->discards++;
        st->in_txn = 0;
        st->txn_failed = 0;
        if (st->ck)
            atomic_store(&st->ck->in_txn, 0);
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
    int rc = step_done(st, S_COMMIT, "commit");
    if (rc) {
        /* a failed commit leaves nothing half-done: the whole batch is rolled back */
        lh_store_rollback(st);
        return rc;
    }
    st->in_txn = 0;
    st->dd.n_undo = 0;
    if (st->ck)
        atomic_store(&st->ck->in_txn, 0);
    return 0;
}

/* Write calls on a read-only store fail cleanly (SQLite would refuse them anyway). */
static int
writable(lh_store_t *st)
{
    if (st->readonly) {
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: the store is open read-only", st->path);
        return LH_ESTORE;
    }
    return 0;
}

/* ---- events --------------------------------------------------------------------------------- */

static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

static void
bind_blob(sqlite3_stmt *s, int i, const void *p, size_t n, int not_null)
{
    if (p && n)
        sqlite3_bind_blob64(s, i, p, n, SQLITE_STATIC);
    else if (p || not_null)
        sqlite3_bind_zeroblob(s, i, 0);
    else
        sqlite3_bind_null(s, i);
}

static void
bind_int_or_null(sqlite3_stmt *s, int i, int64_t v)
{
    if (v)
        sqlite3_bind_int64(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

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

static int
insert_rows(lh_store_t *st, const lh_event_t *ev, uint64_t hash, int is_outcome, const void *pb,
            size_t pb_len, const char *hosts, int64_t *seq)
{
    sqlite3_stmt *s = st->stmt[S_INS_EVENT];
    int state = 0, severity = 0, ticket_type = 0;
    const char *deploy_id = NULL, *version = NULL, *prev = NULL, *commit = NULL;
    const char *artifact = NULL, *change_ticket = NULL, *name = NULL, *fingerprint = NULL;
    const char *incident_id = NULL, *ticket_id = NULL;
    int64_t commit_time = 0;

    switch (ev->kind) {
    case LH_KIND_DEPLOY:
        state = ev->deploy.status;
        deploy_id = ev->deploy.deploy_id;
        version = ev->deploy.version;
        prev = ev->deploy.previous_version;
        commit = ev->deploy.commit;
        commit_time = ev->deploy.commit_time_ns;
        artifact = ev->deploy.artifact;
        change_ticket = ev->deploy.change_ticket;
        break;
    case LH_KIND_ALERT:
        state = ev->alert.state;
        severity = ev->alert.severity;
        name = ev->alert.name;
        fingerprint = ev->alert.fingerprint;
        artifact = ev->alert.artifact;
        break;
    case LH_KIND_INCIDENT:
        state = ev->incident.state;
        severity = ev->incident.severity;
        name = ev->incident.title;
        incident_id = ev->incident.incident_id;
        ticket_id = ev->incident.ticket; /* the ticket the incident names */
        artifact = ev->incident.artifact;
        break;
    case LH_KIND_TICKET:
        state = ev->ticket.state;
        name = ev->ticket.summary;
        ticket_id = ev->ticket.ticket_id;
        ticket_type = ev->ticket.type;
        break;
    default:
        break;
    }

    bind_text(s, 1, ev->id);
    sqlite3_bind_int64(s, 2, (int64_t)hash);
    sqlite3_bind_int(s, 3, (int)ev->kind);
    sqlite3_bind_int64(s, 4, ev->time_ns);
    sqlite3_bind_int64(s, 5, lh_now_ns());
    bind_text(s, 6, ev->service);
    bind_text(s, 7, ev->environment);
    bind_text(s, 8, ev->actor);
    bind_text(s, 9, ev->source);
    bind_text(s, 10, hosts);
    sqlite3_bind_int(s, 11, is_outcome ? 1 : 0);
    bind_int_or_null(s, 12, state);
    bind_int_or_null(s, 13, severity);
    bind_text(s, 14, deploy_id);
    bind_text(s, 15, version);
    bind_text(s, 16, prev);
    bind_text(s, 17, commit);
    bind_int_or_null(s, 18, commit_time);
    bind_text(s, 19, artifact);
    bind_text(s, 20, change_ticket);
    bind_text(s, 21, name);
    bind_text(s, 22, fingerprint);
    bind_text(s, 23, incident_id);
    bind_text(s, 24, ticket_id);
    bind_int_or_null(s, 25, ticket_type);
    bind_blob(s, 26, pb, pb_len, 1);
    bind_blob(s, 27, ev->raw, ev->raw_len, 0);
    if (ev->raw)
        sqlite3_bind_int(s, 28, ev->raw_format);
    else
        sqlite3_bind_null(s, 28);
    int rc = step_done(st, S_INS_EVENT, "inserting an event");
    if (rc)
        return rc;
    *seq = sqlite3_last_insert_rowid(st->db);

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
            if ((rc = step_done(st, S_INS_HOST, "inserting an event's host")))
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
            if ((rc = step_done(st, S_INS_LINK, "inserting a ticket link")))
                return rc;
        }
    }
    return 0;
}

static int
insert_event(lh_store_t *st, const lh_event_t *ev, int is_outcome, const void *pb, size_t pb_len,
             int64_t *seq)
{
    uint64_t hash = id_hash(ev->id);
    int64_t found = 0;
    int rc = dd_lookup(st, hash, ev->id, &found);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        *seq = found;
        return LH_EDUPLICATE;
    }
    if ((rc = dd_reserve(&st->dd, 1)) != 0) {
        if (rc == LH_ERANGE)
            lh_log_ratelimited("store-dd-full", LH_LOG_ERROR, COMPONENT,
                               "%s: too many events for the dedupe index", st->path);
        return rc; /* nothing written yet */
    }
    char *hosts = join_hosts(ev, &rc);
    if (rc)
        return rc;
    int64_t row = 0;
    rc = insert_rows(st, ev, hash, is_outcome, pb, pb_len, hosts, &row);
    free(hosts);
    if (rc)
        return rc; /* the transaction is poisoned by sql_fail() */
    dd_add(&st->dd, hash, row, 1);
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
    int rc = writable(st);
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
        return sql_fail(st, rc, "reading an event");
    }
    const void *p = sqlite3_column_blob(s, 0);
    size_t n = (size_t)sqlite3_column_bytes(s, 0);
    fn(p ? p : "", n, arg);
    sqlite3_reset(s);
    return 0;
}

/* ---- quarantine and outbox ------------------------------------------------------------------ */

int
lh_store_quarantine(lh_store_t *st, const char *origin, const char *reason, const char *event_id,
                    const void *payload, size_t len)
{
    if (!origin || !reason || (!payload && len)) {
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: quarantine: origin and reason are required", st->path);
        return LH_EINVAL;
    }
    int rc = writable(st);
    if (rc)
        return rc;
    sqlite3_stmt *s = st->stmt[S_INS_QUAR];
    sqlite3_bind_int64(s, 1, lh_now_ns());
    bind_text(s, 2, origin);
    bind_text(s, 3, reason);
    bind_text(s, 4, event_id);
    bind_blob(s, 5, payload, len, 0);
    return step_done(st, S_INS_QUAR, "quarantining input");
}

int
lh_store_alert_insert(lh_store_t *st, const char *alert_id, int kind, const char *service,
                      const char *environment, int64_t outcome_seq, int late, int64_t created_ns,
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
    int rc = writable(st);
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
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE) {
        *seq = sqlite3_last_insert_rowid(st->db);
        return 0;
    }
    if (rc != SQLITE_CONSTRAINT_UNIQUE)
        return sql_fail(st, rc, "inserting an alert");
    /* the statement alone was undone; the transaction goes on */
    s = st->stmt[S_GET_ALERT_SEQ];
    bind_text(s, 1, alert_id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *seq = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return sql_fail(st, rc, "reading a duplicate alert");
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
    return rc == SQLITE_DONE ? 0 : sql_fail(st, rc, "reading the outbox");
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
        return 0;
    if (rc != SQLITE_DONE)
        return sql_fail(st, rc, "looking a sink up");
    if (st->readonly)
        return LH_ENOTFOUND;
    /* new: done_through 0, so every alert already in the outbox is pending for it */
    bind_text(st->stmt[S_SINK_ADD], 1, name);
    if ((rc = step_done(st, S_SINK_ADD, "registering a sink")) != 0)
        return rc;
    out->id = sqlite3_last_insert_rowid(st->db);
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
    return rc == SQLITE_DONE ? LH_EINVAL : sql_fail(st, rc, "reading a sink's done mark");
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
    return rc == SQLITE_DONE ? 0 : sql_fail(st, rc, "reading the done marks");
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
    int rc = writable(st);
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
        return step_done(st, S_DONE_ADD, "marking an alert done");
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
        if ((rc = step_done(st, S_DONE_TAKE, "marking an alert done")) != 0)
            return rc;
        through = row;
    }
    sqlite3_stmt *s = st->stmt[S_SINK_SET_THROUGH];
    sqlite3_bind_int64(s, 1, sink.id);
    sqlite3_bind_int64(s, 2, through);
    return step_done(st, S_SINK_SET_THROUGH, "marking an alert done");
}

/* Steps a "SELECT seq, payload" over the outbox, calling fn per row until it returns non-zero.
 * Returns the rows visited or LH_ESTORE. The caller resets or finalizes s. */
static int
visit_pending(lh_store_t *st, sqlite3_stmt *s, lh_store_alert_fn fn, void *arg)
{
    int rc, n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(s, 1);
        size_t len = (size_t)sqlite3_column_bytes(s, 1);
        n++;
        if (fn(sqlite3_column_int64(s, 0), p ? p : "", len, arg) != 0)
            return n;
    }
    return rc == SQLITE_DONE ? n : sql_fail(st, rc, "reading pending alerts");
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
        rc = sqlite3_prepare_v2(st->db, store_sql[idx], -1, &own, NULL);
        if (rc != SQLITE_OK)
            return sql_fail(st, rc, "preparing a nested outbox scan");
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
    return rc == SQLITE_ROW ? 0 : sql_fail(st, rc, "counting pending alerts");
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
    return rc == SQLITE_ROW ? 0 : sql_fail(st, rc, "counting rows");
}

int
lh_store_stats(lh_store_t *st, lh_store_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    int rc = 0;
    /* the writer's dedupe index holds exactly one entry per row: no scan of the biggest table */
    if (st->readonly)
        rc = count(st, S_COUNT_EVENTS, &out->events);
    else
        out->events = (int64_t)st->dd.count;
    if (!rc)
        rc = count(st, S_COUNT_QUAR, &out->quarantined);
    if (!rc)
        rc = count(st, S_COUNT_ALERTS, &out->alerts);
    if (!rc)
        rc = count(st, S_COUNT_CORR, &out->correlations);
    return rc;
}
