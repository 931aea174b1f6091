/*
 * b_append.c - measurement 8, the append limit: the physical limit of loophub's store on this
 * machine. The hub's own events rows, byte for byte, appended to a plain rowid table without any
 * secondary index, with everything else as the hub has it: the store opened by lh_store_open()
 * with the hub's defaults (WAL, synchronous=FULL, 16 kB pages, its cache, wal_autocheckpoint=0
 * and its own background checkpointer thread, journal_size_limit), transactions through
 * lh_store_begin() and lh_store_commit() (so the checkpointer's gate applies),
 * lh_hub_opts_default()'s batch_max rows a transaction (4,000).
 *
 * "The hub's own row bytes" are taken from the hub itself rather than rebuilt here: before the
 * clock, each batch is decoded, enriched and encoded as the hub's pipeline does, inserted with
 * lh_store_insert_event() into a scratch store (the hub's schema), read back from its events
 * table and rolled back. The columns are those of the hub's events table minus its INTEGER
 * PRIMARY KEY (the rowid here as there), with their declared types: read from the schema in one
 * place, append_columns(), so a column dropped from or added to the events row needs no change
 * here. Only the inserts and the commits are timed.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "correlator.h"
#include "loophub/error.h"
#include "loophub/format.h"
#include "loophub/hub.h"
#include "store.h"

#define MAX_COLS 64

/* One captured value: an integer, a real, text or a blob (p into the batch's arena), or NULL. */
typedef struct {
    int type;
    int64_t i;
    double d;
    size_t off, len;
} val_t;

typedef struct {
    int n;
    char names[MAX_COLS][64];
    char decl[MAX_COLS][32];
} cols_t;

/* The columns of the hub's events row: every column of its events table but the INTEGER PRIMARY
 * KEY (an alias of the rowid, not stored in the record). The one place that says which columns
 * the append limit writes. */
static int
append_columns(sqlite3 *db, cols_t *c)
{
    sqlite3_stmt *s = NULL;
    c->n = 0;
    if (sqlite3_prepare_v2(db, "SELECT name, type, pk FROM pragma_table_info('events')", -1, &s,
                           NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(s) == SQLITE_ROW && c->n < MAX_COLS) {
        const char *type = (const char *)sqlite3_column_text(s, 1);
        if (sqlite3_column_int(s, 2) && type && strcmp(type, "INTEGER") == 0)
            continue;
        snprintf(c->names[c->n], sizeof(c->names[0]), "%s", sqlite3_column_text(s, 0));
        snprintf(c->decl[c->n], sizeof(c->decl[0]), "%s", type ? type : "");
        c->n++;
    }
    sqlite3_finalize(s);
    return c->n > 0 ? 0 : -1;
}

/* "CREATE TABLE append_limit (a TEXT, b INTEGER, ...)", "INSERT INTO append_limit (...)" and
 * "SELECT ... FROM events WHERE seq > ?1 ORDER BY seq". */
static void
build_sql(const cols_t *c, lh_buf_t *create, lh_buf_t *insert, lh_buf_t *select)
{
    lh_buf_printf(create, "CREATE TABLE append_limit (");
    lh_buf_printf(insert, "INSERT INTO append_limit (");
    lh_buf_printf(select, "SELECT ");
    for (int i = 0; i < c->n; i++) {
        const char *sep = i ? ", " : "";
        lh_buf_printf(create, "%s%s %s", sep, c->names[i], c->decl[i]);
        lh_buf_printf(insert, "%s%s", sep, c->names[i]);
        lh_buf_printf(select, "%s%s", sep, c->names[i]);
    }
    lh_buf_printf(create, ")");
    lh_buf_printf(insert, ") VALUES (");
    for (int i = 0; i < c->n; i++)
        lh_buf_printf(insert, "%s?%d", i ? ", " : "", i + 1);
    lh_buf_printf(insert, ")");
    lh_buf_printf(select, " FROM events WHERE seq > ?1 ORDER BY seq");
}

typedef struct {
    lh_store_t *st;
    lh_correlator_t *corr;
    sqlite3_stmt *sel;
    int ncols;
    lh_buf_t pb, arena;
    val_t *vals; /* batch rows x ncols */
} scratch_t;

/* Events [from, from + n) of s as the hub would write them: their events rows in sc->vals, bytes
 * in sc->arena (a duplicate id is skipped, as the hub skips it). Returns the number of rows, or
 * -1. */
static int
capture(scratch_t *sc, const wl_stream_t *s, size_t from, size_t n)
{
    int rc = lh_store_begin(sc->st);
    int64_t last = 0;
    sqlite3_stmt *q = NULL;
    if (rc == 0 &&
        sqlite3_prepare_v2(lh__store_db(sc->st), "SELECT coalesce(max(seq), 0) FROM events", -1, &q,
                           NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        last = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    size_t stored = 0;
    for (size_t k = 0; rc == 0 && k < n; k++) {
        char why[128];
        lh_event_t *ev = NULL;
        const uint8_t *p = s->data + s->off[from + k];
        if (lh_codec_pb_decode(p, s->off[from + k + 1] - s->off[from + k], &ev, why, sizeof(why)) !=
            0) {
            rc = -1;
            break;
        }
        lh_buf_reset(&sc->pb);
        rc = lh_correlator_enrich(sc->corr, ev);
        if (rc == 0)
            rc = lh_codec_pb_encode(ev, &sc->pb);
        if (rc == 0)
            rc = lh_store_insert_event(sc->st, ev, lh_correlator_is_outcome(sc->corr, ev),
                                       sc->pb.data, sc->pb.len, NULL);
        if (rc == 0)
            stored++;
        else if (rc == LH_EDUPLICATE)
            rc = 0;
        lh_event_destroy(&ev);
    }
    int rows = 0;
    lh_buf_reset(&sc->arena);
    sqlite3_bind_int64(sc->sel, 1, last);
    while (rc == 0 && (size_t)rows < n && sqlite3_step(sc->sel) == SQLITE_ROW) {
        for (int c = 0; c < sc->ncols; c++) {
            val_t *v = &sc->vals[(size_t)rows * (size_t)sc->ncols + (size_t)c];
            v->type = sqlite3_column_type(sc->sel, c);
            if (v->type == SQLITE_INTEGER) {
                v->i = sqlite3_column_int64(sc->sel, c);
            } else if (v->type == SQLITE_FLOAT) {
                v->d = sqlite3_column_double(sc->sel, c);
            } else if (v->type == SQLITE_TEXT || v->type == SQLITE_BLOB) {
                const void *b = v->type == SQLITE_TEXT
                                    ? (const void *)sqlite3_column_text(sc->sel, c)
                                    : sqlite3_column_blob(sc->sel, c);
                v->len = (size_t)sqlite3_column_bytes(sc->sel, c);
                v->off = sc->arena.len;
                if (lh_buf_append(&sc->arena, b ? b : "", v->len) != 0)
                    rc = -1;
            }
        }
        rows++;
    }
    sqlite3_reset(sc->sel);
    lh_store_rollback(sc->st);
    return rc == 0 && (size_t)rows == stored ? rows : -1;
}

static void
bind_row(sqlite3_stmt *ins, const val_t *row, int ncols, const uint8_t *arena)
{
    for (int c = 0; c < ncols; c++) {
        const val_t *v = &row[c];
        switch (v->type) {
        case SQLITE_INTEGER:
            sqlite3_bind_int64(ins, c + 1, v->i);
            break;
        case SQLITE_FLOAT:
            sqlite3_bind_double(ins, c + 1, v->d);
            break;
        case SQLITE_TEXT:
            sqlite3_bind_text(ins, c + 1, (const char *)arena + v->off, (int)v->len, SQLITE_STATIC);
            break;
        case SQLITE_BLOB:
            sqlite3_bind_blob(ins, c + 1, arena + v->off, (int)v->len, SQLITE_STATIC);
            break;
        default:
            sqlite3_bind_null(ins, c + 1);
            break;
        }
    }
}

int
bench_append_limit(const bench_cfg_t *cfg, const wl_stream_t *s)
{
    char dir[600], spath[700], lpath[700];
    snprintf(dir, sizeof(dir), "%s/append-limit", cfg->workdir);
    bench_rmrf(dir);
    bench_mkdir_p(dir);
    snprintf(spath, sizeof(spath), "%s/scratch.db", dir);
    snprintf(lpath, sizeof(lpath), "%s/limit.db", dir);
    lh_hub_opts_t ho;
    lh_hub_opts_default(&ho);
    size_t batch = ho.batch_max > 0 ? (size_t)ho.batch_max : 4000;

    scratch_t sc = {.pb = LH_BUF_INIT, .arena = LH_BUF_INIT};
    lh_store_t *lim = NULL;
    lh_store_opts_t so;
    lh_store_opts_default(&so);
    so.synchronous_full = 0; /* the scratch store is never committed */
    lh_correlator_opts_t co;
    lh_correlator_opts_default(&co);
    cols_t cols;
    lh_buf_t create = LH_BUF_INIT, insert = LH_BUF_INIT, select = LH_BUF_INIT;
    sqlite3_stmt *ins = NULL;
    int rc = -1;
    if (lh_store_open(spath, &so, &sc.st) != 0 || lh_correlator_new(sc.st, &co, &sc.corr) != 0 ||
        append_columns(lh__store_db(sc.st), &cols) != 0) {
        bench_note("append limit: cannot open the scratch store");
        goto out;
    }
    build_sql(&cols, &create, &insert, &select);
    sc.ncols = cols.n;
    sc.vals = calloc(batch * (size_t)cols.n, sizeof(*sc.vals));
    /* the limit's store: the hub's defaults, as `loophub run` opens it */
    if (!sc.vals ||
        sqlite3_prepare_v2(lh__store_db(sc.st), (const char *)select.data, -1, &sc.sel, NULL) !=
            SQLITE_OK ||
        lh_store_open(lpath, NULL, &lim) != 0 ||
        sqlite3_exec(lh__store_db(lim), (const char *)create.data, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(lh__store_db(lim), (const char *)insert.data, -1, &ins, NULL) !=
            SQLITE_OK) {
        bench_note("append limit: cannot prepare (%s)",
                   lim ? sqlite3_errmsg(lh__store_db(lim)) : "store");
        goto out;
    }
    int64_t timed = 0, worst = 0;
    double row_bytes = 0;
    size_t total = 0;
    rc = 0;
    for (size_t i = 0; i < s->n && rc == 0; i += batch) {
        size_t n = s->n - i < batch ? s->n - i : batch;
        int rows = capture(&sc, s, i, n);
        if (rows < 0) {
            bench_note("append limit: cannot prepare rows %zu..%zu", i, i + n);
            rc = -1;
            goto out;
        }
        n = (size_t)rows;
        total += n;
        row_bytes += (double)sc.arena.len;
        int64_t t0 = bench_mono_ns();
        rc = lh_store_begin(lim);
        for (size_t k = 0; k < n && rc == 0; k++) {
            bind_row(ins, &sc.vals[k * (size_t)cols.n], cols.n, sc.arena.data);
            if (sqlite3_step(ins) != SQLITE_DONE)
                rc = -1;
            sqlite3_reset(ins);
        }
        if (rc == 0)
            rc = lh_store_commit(lim);
        else
            lh_store_rollback(lim);
        int64_t dt = bench_mono_ns() - t0;
        timed += dt;
        if (dt > worst)
            worst = dt;
    }
    if (rc != 0) {
        bench_note("append limit: insert failed: %s", sqlite3_errmsg(lh__store_db(lim)));
    } else {
        double secs = (double)timed / 1e9;
        bench_set("append_limit_rows_per_s", (double)total / secs);
        bench_set("append_limit_worst_commit_ms", (double)worst / 1e6);
        bench_set("append_limit_batch", (double)batch);
        bench_set("append_limit_columns", (double)cols.n);
        bench_set("append_limit_value_bytes_per_row", row_bytes / (double)total);
        printf("  append limit: %zu rows (%d columns, %.0f bytes of values each) in %.2f s = %.0f "
               "rows/s, %zu a transaction (worst %.1f ms)\n",
               total, cols.n, row_bytes / (double)total, secs, (double)total / secs, batch,
               (double)worst / 1e6);
    }
out:
    sqlite3_finalize(ins);
    sqlite3_finalize(sc.sel);
    lh_store_close(&lim);
    lh_correlator_destroy(&sc.corr);
    lh_store_close(&sc.st);
    free(sc.vals);
    lh_buf_free(&sc.pb);
    lh_buf_free(&sc.arena);
    lh_buf_free(&create);
    lh_buf_free(&insert);
    lh_buf_free(&select);
    if (!cfg->keep)
        bench_rmrf(dir);
    return rc;
}
