/*
 * store_lock.c - the writer's lock on a store file: an exclusive flock() on the database file,
 * held on a separate descriptor for the store's whole life, and a process-wide registry of the
 * (device, inode) pairs this process holds.
 *
 * Why the registry: closing any descriptor of the file drops the POSIX locks SQLite holds on it
 * in this process, so a second write open of a file this process already holds is refused from
 * the registry before any descriptor is opened. For the same reason the flock descriptor is
 * released only after sqlite3_close() of both connections (store_free()).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loophub/error.h"
#include "loophub/log.h"
#include "store_internal.h"

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

/* A directory others may write to lets them replace the store (or its -wal) under the hub:
 * said once at open, not refused (a shared data directory is the operator's call). One with the
 * sticky bit, as /tmp, only lets them remove what they own. */
static void
check_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return;
    if ((sb.st_mode & (S_IWGRP | S_IWOTH)) && !(sb.st_mode & S_ISVTX))
        lh_log(LH_LOG_WARN, COMPONENT,
               "store directory %s is writable by %s (mode %03o): they can replace the store; "
               "keep it in a directory only the hub's user can write",
               dir, (sb.st_mode & S_IWOTH) ? "everyone" : "its group", sb.st_mode & 0777);
}

/* Takes the writer's lock: refused for a file this process already holds, then flock(). */
int
lh__store_lock_take(lh_store_t *st)
{
    struct stat sb;
    int rc = 0;
    pthread_mutex_lock(&held_mu);
    if (stat(st->path, &sb) == 0 && held_find(sb.st_dev, sb.st_ino)) {
        rc = LH_ELOCKED;
        goto out;
    }
    /* a new store is the owner's alone (0600): it holds who deployed what where; SQLite gives
     * the -wal and -shm files the mode of the database file */
    st->lock_fd = open(st->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
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
    check_dir(st->path);
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

void
lh__store_lock_release(lh_store_t *st)
{
    if (st->lock_fd >= 0) {
        held_remove(st->dev, st->ino);
        close(st->lock_fd);
    }
}
