/*
 * main.c - the loophub binary: dispatches to a subcommand (git/kcat style).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *what;
} commands[] = {
    {"run", lh_cli_run, "run the hub daemon (embedded defaults, no config needed)"},
    {"send", lh_cli_send, "publish events from a pipeline script"},
    {"tail", lh_cli_tail, "subscribe to correlated alerts"},
    {"timeline", lh_cli_timeline, "postmortem view of an incident, a deploy or a service"},
    {"deployed", lh_cli_deployed, "which version runs on which host, now or at a past moment"},
    {"audit", lh_cli_audit, "who changed what, where, when, and whether it was approved"},
    {"dora", lh_cli_dora, "deployment frequency, lead time, failure rate, recovery, rework"},
    {"import", lh_cli_import, "bulk-load JSON lines into the store, correlating as it goes"},
    {"quarantine", lh_cli_quarantine, "list the messages the hub rejected, and why"},
    {"backup", lh_cli_backup, "take a consistent copy of a store, also of a running hub's"},
    {"sources", lh_cli_sources, "list a running hub's webhook sources and what each sent"},
    {"sinks", lh_cli_sinks,
     "list a running hub's sinks: what each delivered, its backlog and last error"},
    {"redact-check", lh_cli_redact_check, "show what the redaction rules change in sample events"},
    {"keygen", lh_cli_keygen, "write a ZeroMQ CURVE key pair (hub or client)"},
};

static void
usage(FILE *out)
{
    fprintf(out, "Usage: loophub COMMAND [OPTIONS]\n\n"
                 "An event hub for DevOps feedback loops: links each deploy to what happened\n"
                 "after it and alerts with the suspect deploys when an incident follows.\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].what);
    fprintf(out, "\nRun 'loophub COMMAND --help' for a command's options.\n"
                 "Exit codes: 0 ok, 1 error, 2 bad usage.\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return LH_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return LH_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("loophub %s\n", LOOPHUB_VERSION);
        return LH_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "loophub: unknown command '%s'\n", argv[1]);
    fprintf(stderr, "Try 'loophub --help'.\n");
    return LH_EXIT_USAGE;
}
