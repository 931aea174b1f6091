/*
 * store_dict.c - what many events repeat, stored once: each event's source (table `sources`,
 * schema version 11) and its set of labels (table `labelsets`, schema version 15).
 *
 * A source names the publisher (CloudEvents `source`: "prometheus/alertmanager",
 * "https://github.com/org/repo"): a few dozen of them, each repeated in every event it sends, 20 to
 * 60 bytes each time. A set of labels ("team=payments", "tier=gold") is most often the same for
 * every event of a service or a pipeline. The stored protobuf leaves either out when the row names
 * it by a small integer (events.source_ref, events.labels_ref), a key of its table, and every
 * statement that reads an event selects them back with scalar subqueries (LH_STORE_EVENT_COLS,
 * store.h), so read-only connections need nothing of this file. A label set is kept as the
 * protobuf field entries the encoder wrote (field 8 of loophub.v1.Event), so the writer moves them
 * from the event's protobuf to the table without decoding, and lh_pb_labels() (codec) adds them to
 * an event read back.
 *
 * The writer keeps each table in memory, bounded: at most LH_STORE_DICT_MAX entries of at most
 * the table's length each (LH_STORE_SOURCE_MAX_LEN, LH_STORE_LABELS_MAX_LEN). A value past either
 * bound stays in its row (the text column events.source, the labels in the protobuf), so a stream
 * of distinct values can never grow the tables or the memory. Entries added in the open
 * transaction are dropped again if it rolls back (lh__store_dicts_end()).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "loophub/error.h"
#include "loophub/log.h"
#include "store_internal.h"

#define DICT_SLOTS (2 * LH_STORE_DICT_MAX) /* a power of two: at most half full */

static void
dict_reindex(store_dict_t *d)
{
    memset(d->slots, 0, DICT_SLOTS * sizeof(d->slots[0]));
    for (size_t i = 0; i < d->n; i++) {
        size_t h = (size_t)d->ent[i].hash & (DICT_SLOTS - 1);
        while (d->slots[h])
            h = (h + 1) & (DICT_SLOTS - 1);
        d->slots[h] = (uint16_t)(i + 1);
    }
}

/* Appends v (len bytes) as ref. 0, or LH_ENOMEM. */
static int
dict_append(store_dict_t *d, const void *v, size_t len, uint64_t hash, int64_t ref)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return LH_ENOMEM;
    memcpy(copy, v, len);
    copy[len] = '\0';
    dict_entry_t *e = &d->ent[d->n];
    e->bytes = copy;
    e->len = len;
    e->hash = hash;
    e->ref = ref;
    size_t h = (size_t)hash & (DICT_SLOTS - 1);
    while (d->slots[h])
        h = (h + 1) & (DICT_SLOTS - 1);
    d->slots[h] = (uint16_t)(++d->n);
    return 0;
}

static int
dict_load(lh_store_t *st, store_dict_t *d)
{
    if (!d->ent) {
        d->ent = calloc(LH_STORE_DICT_MAX, sizeof(d->ent[0]));
        d->slots = calloc(DICT_SLOTS, sizeof(d->slots[0]));
        if (!d->ent || !d->slots)
            return LH_ENOMEM;
    }
    d->next_ref = 1;
    sqlite3_stmt *s = st->stmt[d->load];
    int rc = SQLITE_DONE, err = 0;
    while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const void *v = sqlite3_column_blob(s, 1);
        size_t len = (size_t)sqlite3_column_bytes(s, 1);
        int64_t ref = sqlite3_column_int64(s, 0);
        if (ref >= d->next_ref) /* a key is never handed out twice, kept in memory or not */
            d->next_ref = ref + 1;
        if (v && len && d->n < LH_STORE_DICT_MAX) /* past it (written by hand): the subquery */
            err = dict_append(d, v, len, lh__hash64(v, len), ref);
    }
    if (!err && rc != SQLITE_DONE)
        err = lh__store_sql_fail(st, rc, d->what);
    sqlite3_reset(s);
    d->n_ok = d->n;
    d->next_ok = d->next_ref;
    return err;
}

int
lh__store_dicts_load(lh_store_t *st)
{
    st->src.what = "sources";
    st->src.load = S_SRC_LOAD;
    st->src.add = S_SRC_ADD;
    st->src.max_len = LH_STORE_SOURCE_MAX_LEN;
    st->labels.what = "label sets";
    st->labels.load = S_LBL_LOAD;
    st->labels.add = S_LBL_ADD;
    st->labels.max_len = LH_STORE_LABELS_MAX_LEN;
    st->labels.blob = 1;
    int rc = dict_load(st, &st->src);
    return rc ? rc : dict_load(st, &st->labels);
}

int
lh__store_dict_ref(lh_store_t *st, store_dict_t *d, const void *v, size_t len, int64_t *ref)
{
    *ref = 0;
    if (!v || !len || len > d->max_len || !d->ent)
        return 0;
    uint64_t hash = lh__hash64(v, len);
    for (size_t h = (size_t)hash & (DICT_SLOTS - 1); d->slots[h]; h = (h + 1) & (DICT_SLOTS - 1)) {
        const dict_entry_t *e = &d->ent[d->slots[h] - 1];
        if (e->hash == hash && e->len == len && memcmp(e->bytes, v, len) == 0) {
            *ref = e->ref;
            return 0;
        }
    }
    if (d->n >= LH_STORE_DICT_MAX) {
        if (!d->full_logged++)
            lh_log(LH_LOG_WARN, COMPONENT,
                   "%s: %d %s known: events with any other keep theirs in their row", st->path,
                   LH_STORE_DICT_MAX, d->what);
        return 0;
    }
    sqlite3_stmt *s = st->stmt[d->add];
    int64_t next = d->next_ref;
    sqlite3_bind_int64(s, 1, next);
    if (d->blob)
        sqlite3_bind_blob(s, 2, v, (int)len, SQLITE_STATIC);
    else
        sqlite3_bind_text(s, 2, v, (int)len, SQLITE_STATIC);
    int rc = lh__store_step_done(st, d->add, d->what);
    if (rc)
        return rc;
    if ((rc = dict_append(d, v, len, hash, next)) != 0) {
        st->txn_failed = 1; /* its row is written: the transaction must not commit without it */
        return rc;
    }
    d->next_ref = next + 1;
    *ref = next;
    return 0;
}

static void
dict_end(store_dict_t *d, int ok)
{
    if (ok) {
        d->n_ok = d->n;
        d->next_ok = d->next_ref;
        return;
    }
    if (d->n == d->n_ok)
        return;
    for (size_t i = d->n_ok; i < d->n; i++)
        free(d->ent[i].bytes);
    d->n = d->n_ok;
    d->next_ref = d->next_ok;
    dict_reindex(d);
}

void
lh__store_dicts_end(lh_store_t *st, int ok)
{
    dict_end(&st->src, ok);
    dict_end(&st->labels, ok);
}

static void
dict_free(store_dict_t *d)
{
    for (size_t i = 0; d->ent && i < d->n; i++)
        free(d->ent[i].bytes);
    free(d->ent);
    free(d->slots);
    memset(d, 0, sizeof(*d));
}

void
lh__store_dicts_free(lh_store_t *st)
{
    dict_free(&st->src);
    dict_free(&st->labels);
}
