/*
 * cli_backup.c - `loophub backup`: a consistent copy of a store, also of a running hub's
 * (lh_store_backup(): SQLite's online backup API, one committed moment, the hub never waits),
 * checked and renamed into place. Restore is copying the file back while no hub runs on it.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "loophub/error.h"
#include "loophub/log.h"
#include "store.h"

#define CMD "backup"

static const char usage_text[] =
    "Usage: loophub backup [--db PATH] --to FILE [--force]\n"
    "\n"
    "Copies the store, also while a hub writes it, into FILE: every event, correlation, alert\n"
    "and quarantined message committed when the copy began, nothing half written (a copy of\n"
    "the file with cp misses what is still in the WAL). The copy is checked (SQLite's\n"
    "quick_check, and opened as a store) and only then moved to FILE. To restore, stop the hub\n"
    "and put the copy where its --db points.\n"
    "\n"
    "Options:\n"
    "  --db PATH   the store (default $LOOPHUB_DB, else ./loophub.db, else the packaged\n"
    "              /var/lib/loophub/loophub.db)\n"
    "  --to FILE   where the copy goes; an existing FILE is refused\n"
    "  --force     replace an existing FILE\n"
    "  -h, --help  show this help\n"
    "\n"
    "Exit status: 0 ok, 1 error (no store, the copy failed or does not check), 2 bad usage.\n";

int
lh_cli_backup(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"to", required_argument, NULL, 't'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = lh_cli_default_db(), *to = NULL;
    int force = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 't':
            to = optarg;
            break;
        case 'f':
            force = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return LH_EXIT_OK;
        default:
            return lh_cli_getopt_error(CMD, c, argv);
        }
    }
    if (optind < argc)
        return lh_cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!to || !*to)
        return lh_cli_usage_error(CMD, "--to FILE is required: where the copy goes");
    struct stat sb;
    if (stat(db, &sb) != 0) {
        lh_cli_error(CMD, "no store at %s (pass --db PATH)", db);
        return LH_EXIT_ERROR;
    }
    if (strcmp(db, to) == 0)
        return lh_cli_usage_error(CMD, "--to is the store itself");
    lh_log_set_level(LH_LOG_WARN); /* the store's own lines only when something is wrong */
    lh_store_backup_info_t info;
    char why[600] = "";
    int rc = lh_store_backup(db, to, force, &info, why, sizeof(why));
    if (rc < 0) {
        lh_cli_error(CMD, "%s", why[0] ? why : lh_strerror(rc));
        return LH_EXIT_ERROR;
    }
    printf("backed up %s to %s: %lld events, %.1f MiB, in %.2f s\n", db, to, (long long)info.events,
           (double)info.bytes / 1048576.0, info.secs);
    return LH_EXIT_OK;
}
