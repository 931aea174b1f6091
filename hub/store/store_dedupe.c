/*
 * store_dedupe.c - the in-memory event-id dedupe index of a writable store.
 *
 * `dd` maps lh__hash64(id) -> seq for every row of `events` (committed and in the open
 * transaction), in an open-addressing table with linear probing and backward-shift deletion.
 * A slot is 8 bytes: 31 bits of the hash (the home slot is hash & mask, so a resize needs no
 * rehash up to DD_MAX_CAP slots) and the low 32 bits of seq. A tag match is confirmed by
 * reading the stored id of each candidate row seq_lo + k * 2^32 up to the largest row indexed
 * (one candidate below 2^32 rows), so neither a collision nor the short seq ever drops a
 * distinct event or names the wrong row. Entries added in the open transaction are listed in
 * `undo` and removed on rollback (explicit, on a failed commit, or when SQLite rolled the
 * transaction back by itself after SQLITE_FULL / SQLITE_IOERR / SQLITE_NOMEM). Capacity for
 * one more entry is reserved before a row is written, so a stored row always has its entry.
 *
 * Loaded once at open from the hashes stored in `events` (no on-disk index); the writer alone
 * uses it, so it takes no lock.
 */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "loophub/error.h"
#include "loophub/log.h"
#include "store_internal.h"

#define DD_MIN_CAP 1024
#define DD_COUNT_ABOVE (1 << 24) /* rows; below, max(seq) sizes the dedupe index */
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

/* Adds an entry; room was reserved with lh__store_dd_reserve(). */
void
lh__store_dd_add(dedupe_t *dd, uint64_t hash, int64_t seq, int with_undo)
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

void
lh__store_dd_undo_all(dedupe_t *dd)
{
    while (dd->n_undo)
        dd_remove(dd, dd->undo[--dd->n_undo]);
}

void
lh__store_dd_free(dedupe_t *dd)
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

int
lh__store_dd_load(lh_store_t *st)
{
    /* size the table once for the rows there are: rows are numbered from 1 and never deleted, so
     * max(seq) is the count, read from the end of the table; a count that large is checked with
     * a scan, so a store with a gap in its rows cannot make the index huge */
    sqlite3_stmt *s = st->stmt[S_MAX_SEQ];
    int rc = sqlite3_step(s);
    int64_t rows = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return lh__store_sql_fail(st, rc, "sizing the dedupe index");
    st->dd.max_seq = rows;
    if (rows > DD_COUNT_ABOVE) {
        s = st->stmt[S_COUNT_EVENTS];
        rc = sqlite3_step(s);
        rows = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        sqlite3_reset(s);
        if (rc != SQLITE_ROW)
            return lh__store_sql_fail(st, rc, "sizing the dedupe index");
    }
    size_t cap = DD_MIN_CAP;
    while ((uint64_t)rows * 10 >= (uint64_t)cap * 7 && cap < DD_MAX_CAP)
        cap *= 2;
    int err = dd_resize(&st->dd, cap);
    s = st->stmt[S_LOAD_IDS];
    while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        err = lh__store_dd_reserve(&st->dd, 0);
        if (!err)
            lh__store_dd_add(&st->dd, (uint64_t)sqlite3_column_int64(s, 0),
                             sqlite3_column_int64(s, 1), 0);
    }
    if (!err && rc != SQLITE_DONE)
        err = lh__store_sql_fail(st, rc, "loading the dedupe index");
    sqlite3_reset(s);
    if (err == LH_ENOMEM)
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: out of memory loading the dedupe index", st->path);
    if (err == LH_ERANGE)
        lh_log(LH_LOG_ERROR, COMPONENT, "%s: too many events for the dedupe index", st->path);
    return err;
}
