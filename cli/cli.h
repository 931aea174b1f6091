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
#include <stdio.h>

#define LH_EXIT_OK 0
#define LH_EXIT_ERROR 1
#define LH_EXIT_USAGE 2

int lh_cli_run(int argc, char **argv);
int lh_cli_send(int argc, char **argv);
int lh_cli_tail(int argc, char **argv);
int lh_cli_timeline(int argc, char **argv);
int lh_cli_deployed(int argc, char **argv);
int lh_cli_audit(int argc, char **argv);
int lh_cli_dora(int argc, char **argv);
int lh_cli_import(int argc, char **argv);
int lh_cli_quarantine(int argc, char **argv);
int lh_cli_sources(int argc, char **argv);
int lh_cli_sinks(int argc, char **argv);
int lh_cli_backup(int argc, char **argv);

/* A subcommand that asks a running hub (GET path, libcurl) with --url / LOOPHUB_URL,
 * --token-file / LOOPHUB_TOKEN_FILE and --format text|json; print writes the text form of the
 * JSON answer (0, or LH_EXIT_ERROR after saying why). Returns the exit status. */
typedef int (*lh_cli_hub_printer_fn)(const char *cmd, FILE *out, const char *json);
int lh_cli_ask_hub(const char *cmd, const char *usage, const char *path,
                   lh_cli_hub_printer_fn print, int argc, char **argv);
int lh_cli_redact_check(int argc, char **argv);
int lh_cli_keygen(int argc, char **argv);

/* For `send` and `tail`: makes sock a CURVE client (before connect) from --curve-server-key and
 * --curve-key (both NULL: nothing to do, 0). Returns 0, or an exit code after saying why on
 * stderr: LH_EXIT_USAGE when only one is given, LH_EXIT_ERROR for a key file that is missing,
 * empty, oversized or no key, or a libzmq without CURVE. */
int lh_cli_curve_client(const char *cmd, void *sock, const char *server_key_path,
                        const char *key_path);

/* A watch on sock's first handshake, set up before connect (NULL when it cannot be: then
 * lh_cli_handshake_check() checks nothing). */
void *lh_cli_handshake_watch(void *zctx, void *sock);
/* Waits up to timeout_ms for the handshake watched by watch (closed here) to end: 0 when it
 * succeeded (or there is no watch); -1 when none ended in time (no hub there: the caller says
 * so); LH_EXIT_ERROR after saying why when the hub refused it (a key not in its allow list, a
 * hub that wants CURVE or does not speak it, another hub key). curve: this client speaks CURVE. */
int lh_cli_handshake_check(const char *cmd, void *watch, void *sock, const char *ep, int timeout_ms,
                           int curve);

typedef struct lh_store lh_store_t;
typedef struct lh_run_conf lh_run_conf_t;
typedef struct lh_hub_opts lh_hub_opts_t;

/* `loophub run`'s settings (config.h, parsed and checked) as the hub's options; strings point
 * into c, which must outlive the hub. `loophub import` builds its hub the same way. */
void lh_cli_hub_opts(const lh_run_conf_t *c, lh_hub_opts_t *out);

/* The store a command reads when --db is not given: $LOOPHUB_DB when set, else loophub.db in the
 * working directory when there is one, else the packaged hub's /var/lib/loophub/loophub.db when
 * there is one, else loophub.db. */
#define LH_CLI_PACKAGED_DB "/var/lib/loophub/loophub.db"
const char *lh_cli_default_db(void);

/* Opens the store at db read-only for a query command (it runs beside a live hub). Returns 0 and
 * *st, or LH_EXIT_ERROR after saying why ("no store at ...", "cannot open ..."). */
int lh_cli_open_store(const char *cmd, const char *db, lh_store_t **st);

/* What a getopt_long loop answers for ':' (a missing value) and '?' (an unknown option): the
 * usage error naming the option. Returns LH_EXIT_USAGE. */
int lh_cli_getopt_error(const char *cmd, int c, char **argv);

/* Prints "loophub <cmd>: <message>" and a newline to stderr. */
void lh_cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* For bad usage: the error line plus "Try 'loophub <cmd> --help'." Returns LH_EXIT_USAGE. */
int lh_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
