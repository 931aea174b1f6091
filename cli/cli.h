/*
 * cli.h - the loophub subcommands and their shared conventions.
 *
 * Each subcommand is `int lh_cli_<name>(int argc, char **argv)` with argv[0] the subcommand
 * name; it parses its own options with getopt_long, prints --help to stdout, and returns an
 * exit code: 0 ok, 1 error, 2 bad usage. Errors go to stderr as one line
 * "loophub <cmd>: <what went wrong>" through lh_cli_error().
 */
#ifndef LOOPHUB_CLI_H
#define LOOPHUB_CLI_H

#include <stddef.h>

#define LH_EXIT_OK 0
#define LH_EXIT_ERROR 1
#define LH_EXIT_USAGE 2

int lh_cli_run(int argc, char **argv);
int lh_cli_send(int argc, char **argv);
int lh_cli_tail(int argc, char **argv);
int lh_cli_timeline(int argc, char **argv);
int lh_cli_quarantine(int argc, char **argv);

/* Prints "loophub <cmd>: <message>" and a newline to stderr. */
void lh_cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* For bad usage: the error line plus "Try 'loophub <cmd> --help'." Returns LH_EXIT_USAGE. */
int lh_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
