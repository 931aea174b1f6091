/*
 * store_ckpt.c - the background WAL checkpointer of a writable store, and its stats.
 *
 * The writer never checkpoints (wal_autocheckpoint = 0); a commit inside which
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
 * snapshot (no checkpoint can pass it); then the writer goes on and a warning is logged.
 *
 * Invariants:
 * - The checkpointer's connection is the store's own: it is not registered as a writer and takes
 * *   no flock.
 * - It is stopped and joined before the writer's connection closes (lh__store_ckpt_stop() from
 *   store_free()); the last close checkpoints what is left and removes the WAL.
 * - The writer thread touches only the atomics and, rarely, mu; the thread owns its connection.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loophub/error.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"
#include "store_internal.h"

#define MIN_WAL_CHECKPOINT_BYTES (64LL << 10)
#define WAL_CAP_FACTOR 4         /* writers wait for the checkpoint past this many thresholds */
#define WAL_TAIL_BYTES (1 << 20) /* PASSIVE rounds go on while more than this is left */
#define CKPT_PASSIVE_ROUNDS 4    /* then RESTART, whatever is left */
#define CKPT_RESTART_MS 20       /* a RESTART gives up (and retries later) after this long */
#define CKPT_BACKOFF_MIN_MS 10   /* after a failed cycle, doubling up to the max */
#define CKPT_BACKOFF_MAX_MS 1000

/* The background checkpointer of a writable store. The writer thread touches only the atomics
 * and, rarely, mu; the thread owns db. */
typedef struct lh__store_ckpt {
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

/* ---- test hooks ----------------------------------------------------------------------------- */

static atomic_int ckpt_hold;

void
lh__store_test_ckpt_hold(int on)
{
    atomic_store(&ckpt_hold, on);
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
 * end blocks nobody (the next one waits for the RESTART in lh__store_ckpt_gate()), so that wait is
 * long; but once RESTART holds the write lock and waits for readers, the writer waits as long, so
 * it gives up CKPT_RESTART_MS after the writer's last transaction (and retries later). */
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
    lh__store_sleep_us(100);
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
 * Returns 0, or LH_EAGAIN when the thread should back off (a reader pins the WAL, or an error). */
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
            return LH_EAGAIN;
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
        return LH_EAGAIN;
    }
    ckpt_log(ck, LH_LOG_WARN, "background checkpoint (restart)", rc);
    return LH_EAGAIN;
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
void
lh__store_ckpt_gate(lh_store_t *st)
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
void
lh__store_ckpt_stop(lh_store_t *st)
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
int
lh__store_ckpt_start(lh_store_t *st, const lh_store_opts_t *o)
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
        return lh__store_sql_fail(st, rc, "reading the page size");
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

void
lh__store_ckpt_txn(lh_store_t *st, int in_txn)
{
    if (st->ck)
        atomic_store(&st->ck->in_txn, in_txn);
}
