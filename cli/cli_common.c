/*
 * cli_common.c - error reporting and the store opening shared by the loophub subcommands (see
 * cli.h).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cli.h"
#include "loophub/error.h"
#include "store.h"

__attribute__((format(printf, 2, 0))) static void
vreport(const char *cmd, const char *fmt, va_list ap)
{
    fprintf(stderr, "loophub%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void
lh_cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, fmt, ap);
    va_end(ap);
}

int
lh_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(cmd, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try 'loophub %s --help'.\n", cmd ? cmd : "");
    return LH_EXIT_USAGE;
}

int
lh_cli_getopt_error(const char *cmd, int c, char **argv)
{
    if (c == ':')
        return lh_cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
    if (optopt && optopt < 256)
        return lh_cli_usage_error(cmd, "unknown option '-%c'", optopt);
    return lh_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
}

const char *
lh_cli_default_db(void)
{
    const char *e = getenv("LOOPHUB_DB");
    struct stat sb;
    if (e && *e)
        return e;
    if (stat("loophub.db", &sb) == 0)
        return "loophub.db";
    if (stat(LH_CLI_PACKAGED_DB, &sb) == 0)
        return LH_CLI_PACKAGED_DB;
    return "loophub.db";
}

int
lh_cli_open_store(const char *cmd, const char *db, lh_store_t **st)
{
    struct stat sb;
    *st = NULL;
    if (stat(db, &sb) != 0) {
        lh_cli_error(cmd, "no store at %s (start the hub with --db, or pass --db PATH)", db);
        return LH_EXIT_ERROR;
    }
    lh_store_opts_t opts;
    lh_store_opts_default(&opts);
    opts.readonly = 1;
    int rc = lh_store_open(db, &opts, st);
    if (rc < 0) {
        lh_cli_error(cmd, "cannot open %s: %s", db, lh_strerror(rc));
        return LH_EXIT_ERROR;
    }
    return 0;
}
