/*
 * store_sources.c - each event's source stored once (table `sources`, schema version 11).
 *
 * A source names the publisher (CloudEvents `source`: "prometheus/alertmanager",
 * "https://github.com/org/repo"): a few dozen of them, each repeated in every event it sends, 20 to
 * 60 bytes each time. The stored protobuf leaves it out (lh_store_event_strip()); the row names it
 * by a small integer, events.source_ref, a key of `sources`, and every statement that reads an
 * event selects the name back with a scalar subquery (LH_STORE_EVENT_COLS, store.h), so read-only
 * connections need nothing of this file.
 *
 * The writer keeps the whole table in memory, bounded: at most LH_STORE_SOURCES_MAX names of at
 * most LH_STORE_SOURCE_MAX_LEN bytes each. A source past either bound is written to the text column
 * events.source instead, so a stream of distinct sources can never grow the table or the memory.
 * Names added in the open transaction are dropped again if it rolls back (lh__store_src_end()).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "loophub/error.h"
#include "loophub/log.h"
#include "store_internal.h"

#define SRC_SLOTS (2 * LH_STORE_SOURCES_MAX) /* a power of two: at most half full */

static void
src_reindex(src_dict_t *d)
{
    memset(d->slots, 0, SRC_SLOTS * sizeof(d->slots[0]));
    for (size_t i = 0; i < d->n; i++) {
        size_t h = (size_t)d->ent[i].hash & (SRC_SLOTS - 1);
        while (d->slots[h])
            h = (h + 1) & (SRC_SLOTS - 1);
        d->slots[h] = (uint16_t)(i + 1);
    }
}

/* Appends name (len bytes) as ref. 0, or LH_ENOMEM. */
static int
src_append(src_dict_t *d, const char *name, size_t len, uint64_t hash, int64_t ref)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return LH_ENOMEM;
    memcpy(copy, name, len);
    copy[len] = '\0';
    src_entry_t *e = &d->ent[d->n];
    e->name = copy;
    e->len = len;
    e->hash = hash;
    e->ref = ref;
    size_t h = (size_t)hash & (SRC_SLOTS - 1);
    while (d->slots[h])
        h = (h + 1) & (SRC_SLOTS - 1);
    d->slots[h] = (uint16_t)(++d->n);
    return 0;
}

int
lh__store_src_load(lh_store_t *st)
{
    src_dict_t *d = &st->src;
    if (!d->ent) {
        d->ent = calloc(LH_STORE_SOURCES_MAX, sizeof(d->ent[0]));
        d->slots = calloc(SRC_SLOTS, sizeof(d->slots[0]));
        if (!d->ent || !d->slots)
            return LH_ENOMEM;
    }
    d->next_ref = 1;
    sqlite3_stmt *s = st->stmt[S_SRC_LOAD];
    int rc = SQLITE_DONE, err = 0;
    while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 1);
        size_t len = (size_t)sqlite3_column_bytes(s, 1);
        int64_t ref = sqlite3_column_int64(s, 0);
        if (ref >= d->next_ref) /* a key is never handed out twice, kept in memory or not */
            d->next_ref = ref + 1;
        if (name &&
            d->n < LH_STORE_SOURCES_MAX) /* past it (written by hand): read by the subquery */
            err = src_append(d, name, len, lh__hash64(name, len), ref);
    }
    if (!err && rc != SQLITE_DONE)
        err = lh__store_sql_fail(st, rc, "reading the sources");
    sqlite3_reset(s);
    d->n_ok = d->n;
    d->next_ok = d->next_ref;
    return err;
}

int
lh__store_src_ref(lh_store_t *st, const char *source, int64_t *ref)
{
    src_dict_t *d = &st->src;
    *ref = 0;
    size_t len = source ? strlen(source) : 0;
    if (!len || len > LH_STORE_SOURCE_MAX_LEN || !d->ent)
        return 0;
    uint64_t hash = lh__hash64(source, len);
    for (size_t h = (size_t)hash & (SRC_SLOTS - 1); d->slots[h]; h = (h + 1) & (SRC_SLOTS - 1)) {
        const src_entry_t *e = &d->ent[d->slots[h] - 1];
        if (e->hash == hash && e->len == len && memcmp(e->name, source, len) == 0) {
            *ref = e->ref;
            return 0;
        }
    }
    if (d->n >= LH_STORE_SOURCES_MAX) {
        if (!d->full_logged++)
            lh_log(LH_LOG_WARN, COMPONENT,
                   "%s: %d sources known: events of any other source keep its name in their row",
                   st->path, LH_STORE_SOURCES_MAX);
        return 0;
    }
    sqlite3_stmt *s = st->stmt[S_SRC_ADD];
    int64_t next = d->next_ref;
    sqlite3_bind_int64(s, 1, next);
    sqlite3_bind_text(s, 2, source, (int)len, SQLITE_STATIC);
    int rc = lh__store_step_done(st, S_SRC_ADD, "adding a source");
    if (rc)
        return rc;
    if ((rc = src_append(d, source, len, hash, next)) != 0) {
        st->txn_failed = 1; /* its row is written: the transaction must not commit without it */
        return rc;
    }
    d->next_ref = next + 1;
    *ref = next;
    return 0;
}

void
lh__store_src_end(lh_store_t *st, int ok)
{
    src_dict_t *d = &st->src;
    if (ok) {
        d->n_ok = d->n;
        d->next_ok = d->next_ref;
        return;
    }
    if (d->n == d->n_ok)
        return;
    for (size_t i = d->n_ok; i < d->n; i++)
        free(d->ent[i].name);
    d->n = d->n_ok;
    d->next_ref = d->next_ok;
    src_reindex(d);
}

void
lh__store_src_free(lh_store_t *st)
{
    src_dict_t *d = &st->src;
    for (size_t i = 0; d->ent && i < d->n; i++)
        free(d->ent[i].name);
    free(d->ent);
    free(d->slots);
    memset(d, 0, sizeof(*d));
}
