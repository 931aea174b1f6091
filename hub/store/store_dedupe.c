/*
 * store_dedupe.c - the in-memory event-id dedupe index of a writable store.
 *
 * `dd` maps lh__hash64(id) -> seq for the last `horizon` rows of `events` (committed and in the
 * open transaction), in an open-addressing table with linear probing and backward-shift deletion.
 * A slot is 8 bytes: 31 bits of the hash (the home slot is hash & mask, so a resize needs no
 * rehash up to DD_MAX_CAP slots) and the low 32 bits of seq. A tag match is confirmed by
 * reading the stored id of each candidate row seq_lo + k * 2^32 up to the largest row indexed
 * (one candidate below 2^32 rows), so neither a collision nor the short seq ever drops a
 * distinct event or names the wrong row. Entries added in the open transaction are listed in
 * `undo` and removed on rollback (explicit, on a failed commit, or when SQLite rolled the
 * transaction back by itself after SQLITE_FULL / SQLITE_IOERR / SQLITE_NOMEM). Capacity for
 * one more entry is reserved before a row is written, so a row of the horizon always has its
 * entry.
 *
 * The horizon bounds the memory, whatever the history: a ring by row keeps each entry's tag (4
 * bytes a row), so when row s is added, row s - horizon leaves the index without a read, and a
 * ring by block of 64 rows their latest event time (16 bytes a block), so that forgot_max_time
 * bounds the event time of every row that left it (a block's latest time, folded in when its
 * first row leaves or its slot is taken by a newer block: at most 63 rows newer than the row that
 * left, so events in time order stay later than it). A
 * duplicate carries the same event time as its original: an id that misses in memory and whose
 * time is not later than forgot_max_time is looked up in the store through the time index (one
 * probe, `time = ? AND id = ?`), so a duplicate is recognised at any age while the event it
 * repeats is stored. Events in time order never pay that probe (their time is later than every
 * forgotten row's); late or replayed ones do.
 *
 * Loaded at open from the last `horizon` rows (a rowid range: no on-disk index; after a restart
 * forgot_max_time is the store's latest event time, an upper bound); the writer alone uses it,
 * so it takes no lock.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "loophub/error.h"
#include "loophub/log.h"
#include "store_internal.h"

#define DD_MIN_CAP 1024
#define DD_MIN_HORIZON 1024
#define DD_MAX_HORIZON ((int64_t)1 << 30) /* entries: within DD_MAX_CAP at the 70% load limit */
#define DD_USED 0x80000000u
#define DD_MAX_CAP ((size_t)1 << 31) /* 1.5 billion events at the 70% load limit */

/* ---- test hooks ----------------------------------------------------------------------------- */

static uint64_t force_hash_mod;

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

uint64_t
lh__store_id_hash(const char *id)
{
    uint64_t h = lh__hash64(id, strlen(id));
    if (force_hash_mod)
        h %= force_hash_mod;
    if (force_hash_keep)
        h &= force_hash_keep;
    return h;
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
int
lh__store_dd_reserve(dedupe_t *dd, int with_undo)
{
    if (!dd->cap || (dd->count + 1) * 10 > dd->cap * 7) {
        size_t cap = dd->cap ? dd->cap * 2 : DD_MIN_CAP;
        if (cap > DD_MAX_CAP || (dd->max_cap && cap > dd->max_cap))
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

static void dd_remove(dedupe_t *dd, dd_slot_t e);

static dd_block_t *
dd_block_of(dedupe_t *dd, int64_t seq)
{
    return &dd->ring_block[((size_t)seq & dd->ring_mask) >> DD_BLOCK_SHIFT];
}

static void
dd_forgot_until(dedupe_t *dd, int64_t t)
{
    if (t > dd->forgot_max_time)
        dd->forgot_max_time = t;
}

/* Row seq leaves the index: the latest time of its block, an upper bound of its own, joins
 * forgot_max_time (nothing to do when a newer block took the slot: it was folded in then). */
static void
dd_fold(dedupe_t *dd, int64_t seq)
{
    const dd_block_t *b = dd_block_of(dd, seq);
    if (b->id == seq >> DD_BLOCK_SHIFT)
        dd_forgot_until(dd, b->max_time);
}

/* Row kept_from leaves the index (the ring's entry for it is still there). */
static void
dd_evict_oldest(dedupe_t *dd)
{
    size_t r = (size_t)dd->kept_from & dd->ring_mask;
    if (dd->ring_tag[r]) {
        dd_remove(dd, (dd_slot_t){dd->ring_tag[r], (uint32_t)dd->kept_from});
        dd_fold(dd, dd->kept_from);
        dd->ring_tag[r] = 0;
    }
    dd->kept_from++;
}

/* Adds an entry; room was reserved with lh__store_dd_reserve(). The row leaving the horizon goes
 * first (its ring slot may be the one row seq takes). */
void
lh__store_dd_add(dedupe_t *dd, uint64_t hash, int64_t seq, int64_t time, int with_undo)
{
    if (dd->ring_tag) {
        while (dd->kept_from <= seq - dd->horizon)
            dd_evict_oldest(dd);
    }
    size_t mask = dd->cap - 1;
    dd_slot_t e = {dd_tag(hash), (uint32_t)seq};
    size_t j = e.tag & mask;
    while (dd->slots[j].tag)
        j = (j + 1) & mask;
    dd->slots[j] = e;
    dd->count++;
    if (seq > dd->max_seq)
        dd->max_seq = seq;
    if (dd->ring_tag) {
        dd->ring_tag[(size_t)seq & dd->ring_mask] = e.tag;
        dd_block_t *b = dd_block_of(dd, seq);
        if (b->id != seq >> DD_BLOCK_SHIFT) {
            /* the block the slot held goes, with what of it the index still holds */
            if (b->id >= 0)
                dd_forgot_until(dd, b->max_time);
            b->id = seq >> DD_BLOCK_SHIFT;
            b->max_time = time;
        } else if (time > b->max_time) {
            b->max_time = time;
        }
    }
    if (with_undo)
        dd->undo[dd->n_undo++] = e;
}

/* Row seq is deleted: its entry goes (it may have none: forgotten already, or never kept). */
void
lh__store_dd_forget(dedupe_t *dd, int64_t seq)
{
    if (!dd->ring_tag || seq < dd->kept_from || seq > dd->max_seq)
        return;
    size_t r = (size_t)seq & dd->ring_mask;
    if (!dd->ring_tag[r])
        return;
    dd_remove(dd, (dd_slot_t){dd->ring_tag[r], (uint32_t)seq});
    /* the delete may be rolled back: the row is then found by the store lookup */
    dd_fold(dd, seq);
    dd->ring_tag[r] = 0;
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

void
lh__store_dd_undo_all(dedupe_t *dd)
{
    while (dd->n_undo) {
        dd_slot_t e = dd->undo[--dd->n_undo];
        dd_remove(dd, e);
        /* the ring slot of a row rolled back: a row of the horizon, so seq_lo names it */
        if (dd->ring_tag) {
            size_t r = e.seq_lo & dd->ring_mask;
            if (dd->ring_tag[r] == e.tag)
                dd->ring_tag[r] = 0;
        }
    }
}

void
lh__store_dd_free(dedupe_t *dd)
{
    free(dd->slots);
    free(dd->undo);
    free(dd->ring_tag);
    free(dd->ring_block);
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
        return lh__store_sql_fail(st, rc, "dedupe lookup");
    }
    sqlite3_reset(s);
    return same;
}

/* Looks id up. Returns 1 and *seq when stored, 0 when not, or a negative LH_E* code. */
int
lh__store_dd_lookup(lh_store_t *st, uint64_t hash, const char *id, int64_t *seq)
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
            if (row == 0 || (int64_t)row < dd->kept_from)
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

int
lh__store_dd_probe(lh_store_t *st, const char *id, int64_t t, int64_t *seq)
{
    if (t > st->dd.forgot_max_time)
        return 0;
    st->dd.probes++;
    sqlite3_stmt *s = st->stmt[S_DD_PROBE];
    sqlite3_bind_int64(s, 1, t);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    int found = rc == SQLITE_ROW;
    if (found)
        *seq = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return lh__store_sql_fail(st, rc, "dedupe lookup in the store");
    return found;
}

/* A single int64 read by statement idx (NULL reads as dflt). */
static int
read_one(lh_store_t *st, int idx, int64_t dflt, int64_t *out, const char *what)
{
    sqlite3_stmt *s = st->stmt[idx];
    int rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL ? sqlite3_column_int64(s, 0)
                                                                        : dflt;
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : lh__store_sql_fail(st, rc, what);
}

int
lh__store_dd_load(lh_store_t *st, int64_t horizon)
{
    dedupe_t *dd = &st->dd;
    if (horizon < DD_MIN_HORIZON)
        horizon = DD_MIN_HORIZON;
    if (horizon > DD_MAX_HORIZON)
        horizon = DD_MAX_HORIZON;
    dd->horizon = horizon;
    size_t ring = 1;
    while ((int64_t)ring < horizon)
        ring <<= 1;
    dd->max_cap = DD_MIN_CAP;
    while ((uint64_t)(horizon + 1) * 10 > (uint64_t)dd->max_cap * 7) /* + the one reserved */
        dd->max_cap <<= 1;
    dd->ring_mask = ring - 1;
    dd->forgot_max_time = INT64_MIN;
    size_t blocks = ring >> DD_BLOCK_SHIFT; /* ring >= DD_MIN_HORIZON: a whole number */
    dd->ring_tag = calloc(ring, sizeof(*dd->ring_tag));
    dd->ring_block = malloc(blocks * sizeof(*dd->ring_block));
    if (!dd->ring_tag || !dd->ring_block) {
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: out of memory for the dedupe index", st->path);
        return LH_ENOMEM;
    }
    for (size_t b = 0; b < blocks; b++)
        dd->ring_block[b] = (dd_block_t){-1, INT64_MIN};

    /* the rows of the horizon: a range of the rowid from the table's end */
    int64_t max_seq = 0;
    int err = read_one(st, S_MAX_SEQ, 0, &max_seq, "sizing the dedupe index");
    if (err)
        return err;
    dd->max_seq = max_seq;
    dd->kept_from = max_seq - horizon + 1 > 1 ? max_seq - horizon + 1 : 1;
    if (dd->kept_from > 1) /* older rows are forgotten: none is later than the latest event */
        err = read_one(st, S_MAX_TIME, INT64_MIN, &dd->forgot_max_time, "sizing the dedupe index");
    int64_t rows = max_seq - dd->kept_from + 1;
    size_t cap = DD_MIN_CAP;
    while ((uint64_t)rows * 10 >= (uint64_t)cap * 7 && cap < dd->max_cap)
        cap *= 2;
    if (!err)
        err = dd_resize(dd, cap);
    sqlite3_stmt *s = st->stmt[S_LOAD_IDS];
    sqlite3_bind_int64(s, 1, dd->kept_from);
    int rc = SQLITE_DONE;
    /* the hash of each id, from the id (events.id_hash is 0 in rows of schema 8) */
    while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        err = lh__store_dd_reserve(dd, 0);
        if (!err && id)
            lh__store_dd_add(dd, lh__store_id_hash(id), sqlite3_column_int64(s, 1),
                             sqlite3_column_int64(s, 2), 0);
    }
    if (!err && rc != SQLITE_DONE)
        err = lh__store_sql_fail(st, rc, "loading the dedupe index");
    sqlite3_reset(s);
    if (err == LH_ENOMEM)
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: out of memory loading the dedupe index", st->path);
    if (err == LH_ERANGE)
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: the dedupe index is full", st->path);
    return err;
}
