/*
 * store_migrate.c - schema creation and migrations of a writable store.
 *
 * PRAGMA user_version holds the schema version; LH_STORE_MIGRATIONS (store_sql.h) takes a store
 * from each version to the next. The missing migrations run in one transaction, with the new
 * version stamped inside it, so a failed migration leaves the file as it was. A file that is not
 * an SQLite database is reported when its version is read, before anything is written; a file
 * newer than this binary is refused by lh_store_open() before migrate is reached. A migration
 * that needs more than SQL (decoding the stored events) runs its C step right after its SQL, in
 * the same transaction (7 -> 8: lh__store_fill_v8(), store_changes.c). A new store is compacted
 * once after them (VACUUM), so that its file has no free page.
 */
#include <stdio.h>

#include "loophub/error.h"
#include "loophub/log.h"
#include "store_internal.h"

int
lh__store_exec(lh_store_t *st, const char *sql, const char *what)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : lh__store_sql_fail(st, rc, what);
}

/* Reads PRAGMA user_version; a file that is not a database is reported here, before any write. */
int
lh__store_read_user_version(lh_store_t *st, int *version)
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
    return lh__store_sql_fail(st, rc, "reading the schema version");
}

int
lh__store_migrate(lh_store_t *st)
{
    int rc = lh__store_exec(st, lh__store_sql[S_BEGIN], "starting the migration");
    if (rc)
        return rc;
    int from = 0;
    rc = lh__store_read_user_version(st, &from);
    for (int v = from; !rc && v < LH_STORE_SCHEMA_VERSION; v++) {
        rc = lh__store_exec(st, LH_STORE_MIGRATIONS[v], "migrating the schema");
        /* what SQL alone cannot fill: facts that live in the stored protobuf */
        if (!rc && v == 7 && from > 0)
            rc = lh__store_fill_v8(st);
    }
    if (!rc && from < LH_STORE_SCHEMA_VERSION) {
        char sql[64];
        snprintf(sql, sizeof(sql), SQL_SET_USER_VERSION, LH_STORE_SCHEMA_VERSION);
        rc = lh__store_exec(st, sql, "stamping the schema version");
    }
    if (!rc)
        rc = lh__store_exec(st, lh__store_sql[S_COMMIT], "committing the migration");
    if (rc) {
        if (!sqlite3_get_autocommit(st->db))
            sqlite3_exec(st->db, lh__store_sql[S_ROLLBACK], NULL, NULL, NULL);
        return rc;
    }
    /* a new store ran every migration on empty tables: the pages of what they replaced (the
     * host rows' old table and indexes, 13 -> 14) are free. Rebuilt without them, a new store's
     * file holds no free page, so a store that cannot grow is full at once (a disk full stays
     * full); with no rows yet this costs as little as the migrations did. */
    if (from == 0 && (rc = lh__store_exec(st, "VACUUM", "compacting the new store")) != 0)
        return rc;
    if (from < LH_STORE_SCHEMA_VERSION)
        lh_log(from ? LH_LOG_INFO : LH_LOG_DEBUG, COMPONENT,
               "%s: schema migrated from version %d to %d", st->path, from,
               LH_STORE_SCHEMA_VERSION);
    return 0;
}
