/*
 * store_backup.c - a consistent copy of a store, taken beside the hub that writes it.
 *
 * SQLite's online backup API copies every page of the source in one step (sqlite3_backup_step
 * with -1), inside one read transaction: in WAL mode that reader sees one committed moment of
 * the store and never blocks the writer, and a writer's commits meanwhile neither restart the
 * copy nor show in it. The copy is written next to its destination under a temporary name,
 * checked (PRAGMA quick_check, its events counted), synced, then renamed into place: a
 * destination is never half written. Copying the file with cp would miss what is still in the
 * WAL (a copy of a running hub's store is often an empty database).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loophub/error.h"
#include "loophub/timeutil.h"
#include "store.h"
#include "store_internal.h"

static int
sync_path(const char *path, int dir)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int
lh_store_backup(const char *path, const char *to, int overwrite, lh_store_backup_info_t *info,
                char *why, size_t whylen)
{
    memset(info, 0, sizeof(*info));
    struct stat sb, src_sb;
    if (stat(to, &sb) == 0) {
        if (!overwrite) {
            snprintf(why, whylen, "%s exists: give another name, or --force to replace it", to);
            return LH_EINVAL;
        }
        if (stat(path, &src_sb) == 0 && sb.st_dev == src_sb.st_dev && sb.st_ino == src_sb.st_ino) {
            snprintf(why, whylen, "%s is the store itself", to);
            return LH_EINVAL;
        }
    }
    char wal[4200];
    snprintf(wal, sizeof(wal), "%s-wal", to);
    if (stat(wal, &sb) == 0 && sb.st_size > 0) {
        /* a store someone has (or had) open: its WAL would be played onto the copy */
        snprintf(why, whylen,
                 "%s has a WAL beside it (%s): it is, or was, open; stop what uses it, or give "
                 "another name",
                 to, wal);
        return LH_EINVAL;
    }
    lh_store_opts_t o;
    lh_store_opts_default(&o);
    o.readonly = 1;
    lh_store_t *src = NULL;
    if (lh_store_open(path, &o, &src) < 0) {
        snprintf(why, whylen, "cannot open the store %s (the log line above says why)", path);
        return LH_ESTORE;
    }
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", to, (long)getpid()) >= sizeof(tmp)) {
        lh_store_close(&src);
        snprintf(why, whylen, "the destination's name is too long");
        return LH_EINVAL;
    }
    unlink(tmp);
    int64_t t0 = lh_mono_ns();
    sqlite3 *dst = NULL;
    int rc = 0;
    if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        snprintf(why, whylen, "cannot create %s: %s", tmp, dst ? sqlite3_errmsg(dst) : "no memory");
        rc = LH_EIO;
    }
    sqlite3_backup *b = rc == 0 ? sqlite3_backup_init(dst, "main", src->db, "main") : NULL;
    if (rc == 0 && !b) {
        snprintf(why, whylen, "cannot start the copy: %s", sqlite3_errmsg(dst));
        rc = LH_ESTORE;
    }
    if (b) {
        int s = sqlite3_backup_step(b, -1); /* every page, one read transaction */
        info->pages = sqlite3_backup_pagecount(b);
        if (sqlite3_backup_finish(b) != SQLITE_OK || s != SQLITE_DONE) {
            snprintf(why, whylen, "the copy failed: %s", sqlite3_errmsg(dst));
            rc = s == SQLITE_FULL ? LH_EIO : LH_ESTORE;
        }
    }
    lh_store_close(&src);
    /* the copy checks whole; read through the connection that wrote it, whose close (the last
     * one) checkpoints its WAL and removes it, so nothing is left beside the file */
    sqlite3_stmt *q = NULL;
    if (rc == 0 &&
        (sqlite3_prepare_v2(dst, "PRAGMA quick_check", -1, &q, NULL) != SQLITE_OK ||
         sqlite3_step(q) != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(q, 0), "ok"))) {
        snprintf(why, whylen, "the copy does not check whole: %s",
                 q && sqlite3_column_text(q, 0) ? (const char *)sqlite3_column_text(q, 0)
                                                : sqlite3_errmsg(dst));
        rc = LH_ESTORE;
    }
    sqlite3_finalize(q);
    q = NULL;
    if (rc == 0 && (sqlite3_prepare_v2(dst,
                                       "SELECT count(*), (SELECT page_count * page_size FROM "
                                       "pragma_page_count, pragma_page_size) FROM events",
                                       -1, &q, NULL) != SQLITE_OK ||
                    sqlite3_step(q) != SQLITE_ROW)) {
        snprintf(why, whylen, "the copy has no events table: %s", sqlite3_errmsg(dst));
        rc = LH_ESTORE;
    } else if (rc == 0) {
        info->events = sqlite3_column_int64(q, 0);
        info->bytes = sqlite3_column_int64(q, 1);
    }
    sqlite3_finalize(q);
    if (sqlite3_close(dst) != SQLITE_OK && rc == 0) {
        snprintf(why, whylen, "cannot close the copy %s", tmp);
        rc = LH_EIO;
    }
    if (rc == 0 && sync_path(tmp, 0) < 0) {
        snprintf(why, whylen, "cannot sync %s: %s", tmp, strerror(errno));
        rc = LH_EIO;
    }
    if (rc == 0 && rename(tmp, to) < 0) {
        snprintf(why, whylen, "cannot move the copy to %s: %s", to, strerror(errno));
        rc = LH_EIO;
    }
    if (rc == 0) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s", to);
        char *slash = strrchr(dir, '/');
        if (slash)
            *(slash == dir ? slash + 1 : slash) = '\0';
        (void)sync_path(slash ? dir : ".", 1); /* the rename, durable */
        info->secs = (double)(lh_mono_ns() - t0) / 1e9;
    } else {
        unlink(tmp);
        char side[4200];
        snprintf(side, sizeof(side), "%s-wal", tmp);
        unlink(side);
        snprintf(side, sizeof(side), "%s-shm", tmp);
        unlink(side);
    }
    return rc;
}
