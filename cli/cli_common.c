/*
 * cli_common.c - error reporting shared by the loophub subcommands (see cli.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "cli.h"

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
