/*
 * cli_report.c - `loophub deployed`, `loophub audit` and `loophub dora`: the reports of
 * loophub/report.h over a store opened read-only (so they run beside a live hub).
 *
 * Each option but --db, --format and --help is handed by its name to lh_report_req_set(), the
 * parser GET /v1/deployed and /v1/audit use too, so an option and its HTTP argument can never
 * mean different things. Exit codes: 0 ok, 1 error (no store, database error), 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "loophub/error.h"
#include "loophub/report.h"
#include "loophub/timeutil.h"
#include "query.h"
#include "store.h"

static const char deployed_usage[] =
    "Usage: loophub deployed [--service S] [--env E] [--host H] [--at WHEN]\n"
    "                        [--db PATH] [--format text|json|md|html]\n"
    "\n"
    "The version running per service, environment and host, when and by whom it got there and\n"
    "from which change. A change runs while its latest status is succeeded: a failed or\n"
    "rolled-back change leaves the version before it in place (listed as not running). A\n"
    "change without hosts was applied to the whole service.\n"
    "\n"
    "Options:\n"
    "  --service S       only this service\n"
    "  --env E           only this environment\n"
    "  --host H          only this host\n"
    "  --at WHEN         what ran at a past moment: a duration back from now (90s, 30m, 2h,\n"
    "                    7d) or an RFC 3339 time (2026-11-30T14:05:00Z); default now\n"
    "  --db PATH         the store, opened read-only (default $LOOPHUB_DB, else ./loophub.db,\n"
    "                    else the packaged /var/lib/loophub/loophub.db)\n"
    "  --format FMT      text (default), json (GET /v1/deployed serves the same), md or html\n"
    "  -h, --help        show this help\n"
    "\n"
    "Exit status: 0 ok, 1 error (no store), 2 bad usage.\n";

static const char audit_usage[] =
    "Usage: loophub audit [--service S] [--env E] [--actor A] [--since WHEN] [--until WHEN]\n"
    "                     [--unapproved] [--limit N] [--db PATH] [--format text|json|md|html]\n"
    "\n"
    "Every change started in the period, newest first: who (actor), what (service, from and\n"
    "to version, commit, artifact), where (environment, hosts), when (started, finished,\n"
    "status), its tickets, and whether one approved it before it started: approved, approved\n"
    "after the deploy, rejected, not approved (a ticket that decided nothing) or no ticket.\n"
    "\n"
    "Options:\n"
    "  --service S       only this service\n"
    "  --env E           only this environment\n"
    "  --actor A         only changes by this actor\n"
    "  --since WHEN      start of the period: a duration back from now (90s, 30m, 2h, 7d) or\n"
    "                    an RFC 3339 time; default 7d\n"
    "  --until WHEN      end of the period, the same forms; default now\n"
    "  --unapproved      only changes not approved before they started\n"
    "  --limit N         show at most N changes (default 200; 0: all); the walk stops there and\n"
    "                    the output says until when it read the period\n"
    "  --db PATH         the store, opened read-only (default $LOOPHUB_DB, else ./loophub.db,\n"
    "                    else the packaged /var/lib/loophub/loophub.db)\n"
    "  --format FMT      text (default), json (GET /v1/audit serves the same), md or html\n"
    "  -h, --help        show this help\n"
    "\n"
    "Exit status: 0 ok, 1 error (no store), 2 bad usage.\n";

static const char dora_usage[] =
    "Usage: loophub dora [--since WHEN] [--until WHEN] [--service S] [--env E]\n"
    "                    [--by service|label:NAME] [--every day|week] [--min-severity SEV]\n"
    "                    [--db PATH] [--format text|json|md|html]\n"
    "\n"
    "The DORA figures of the period: deployment frequency, change lead time (commit to\n"
    "succeeded: median and p90), change failure rate, failed deployment recovery time,\n"
    "incident time to restore and rework rate, each with the counts behind it and its band in\n"
    "the Accelerate State of DevOps Report 2024. Definitions: docs/dora.md.\n"
    "\n"
    "Options:\n"
    "  --since WHEN      start of the period: a duration back from now (30d) or an RFC 3339\n"
    "                    time; default 30d\n"
    "  --until WHEN      end of the period, the same forms; default now\n"
    "  --service S       only this service\n"
    "  --env E           only this environment (DORA means production: --env prod)\n"
    "  --by KEY          one set of figures per service, per service and environment\n"
    "                    (service+env), or per value of a label (label:team: the label on\n"
    "                    the change, or on the incident)\n"
    "  --every PERIOD    also a trend row per day or per week (UTC, weeks from Monday)\n"
    "  --min-severity SEV  incidents below info|warning|error|critical do not count (default\n"
    "                    error; an incident without a severity always counts)\n"
    "  --db PATH         the store, opened read-only (default $LOOPHUB_DB, else ./loophub.db,\n"
    "                    else the packaged /var/lib/loophub/loophub.db)\n"
    "  --format FMT      text (default), json (GET /v1/dora serves the same), md or html\n"
    "  -h, --help        show this help\n"
    "\n"
    "Exit status: 0 ok, 1 error (no store), 2 bad usage.\n";

/* The options of every report; lh_report_req_set() refuses those a report does not take. */
static const struct option report_opts[] = {
    {"service", required_argument, NULL, 's'},
    {"env", required_argument, NULL, 'e'},
    {"environment", required_argument, NULL, 'e'},
    {"host", required_argument, NULL, 'H'},
    {"at", required_argument, NULL, 'a'},
    {"actor", required_argument, NULL, 'A'},
    {"since", required_argument, NULL, 'S'},
    {"until", required_argument, NULL, 'U'},
    {"unapproved", no_argument, NULL, 'u'},
    {"limit", required_argument, NULL, 'l'},
    {"by", required_argument, NULL, 'b'},
    {"every", required_argument, NULL, 'E'},
    {"min-severity", required_argument, NULL, 'm'},
    {"db", required_argument, NULL, 'd'},
    {"format", required_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char *
opt_name(int c)
{
    for (const struct option *o = report_opts; o->name; o++)
        if (o->val == c)
            return o->name;
    return "?";
}

static int
run_report(int argc, char **argv, lh_report_kind_t kind, const char *cmd, const char *usage)
{
    lh_report_req_t req;
    lh_report_req_default(&req, kind);
    const char *db = lh_cli_default_db();
    lh_query_format_t fmt = LH_QUERY_TEXT;
    char err[200];

    optind = 0; /* GNU: reinitialise, the subcommand may run after another getopt user */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", report_opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'f':
            if (lh_query_format_parse(optarg, &fmt) < 0)
                return lh_cli_usage_error(cmd, "unknown format '%s' (text, json, md or html)",
                                          optarg);
            break;
        case 'h':
            fputs(usage, stdout);
            return fflush(stdout) == 0 ? LH_EXIT_OK : LH_EXIT_ERROR;
        case ':':
        case '?':
            return lh_cli_getopt_error(cmd, c, argv);
        default: {
            const char *opt = opt_name(c), *name = opt;
            if (!strcmp(opt, "environment"))
                name = "env";
            else if (!strcmp(opt, "min-severity"))
                name = "min_severity";
            /* the parser's messages start with the parameter's name: say the option's */
            if (lh_report_req_set(&req, name, c == 'u' ? NULL : optarg, err, sizeof(err)) < 0)
                return lh_cli_usage_error(cmd, "--%s%s", opt, err + strlen(name));
        }
        }
    }
    if (optind < argc)
        return lh_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    int64_t from = 0, to = 0;
    if (lh_report_period(&req, 0, &from, &to) < 0) {
        char fb[40] = "?", tb[40] = "?";
        lh_time_format(from, fb, sizeof(fb));
        lh_time_format(to, tb, sizeof(tb));
        return lh_cli_usage_error(cmd, "--until (%s) is before --since (%s)", tb, fb);
    }

    lh_store_t *st = NULL;
    int rc = lh_cli_open_store(cmd, db, &st);
    if (rc)
        return rc;
    req.store_name = db;
    lh_buf_t out = LH_BUF_INIT;
    rc = lh_query_report(st, &req, fmt, &out);
    lh_store_close(&st);
    int exit_code = LH_EXIT_OK;
    if (rc < 0) {
        lh_cli_error(cmd, "cannot read %s: %s", db, lh_strerror(rc));
        exit_code = LH_EXIT_ERROR;
    } else {
        if (fmt == LH_QUERY_JSON)
            lh_buf_append(&out, "\n", 1);
        if ((out.len && fwrite(out.data, 1, out.len, stdout) != out.len) || fflush(stdout) != 0) {
            lh_cli_error(cmd, "cannot write the output: %s", strerror(errno));
            exit_code = LH_EXIT_ERROR;
        }
    }
    lh_buf_free(&out);
    return exit_code;
}

int
lh_cli_deployed(int argc, char **argv)
{
    return run_report(argc, argv, LH_REPORT_DEPLOYED, "deployed", deployed_usage);
}

int
lh_cli_audit(int argc, char **argv)
{
    return run_report(argc, argv, LH_REPORT_AUDIT, "audit", audit_usage);
}

int
lh_cli_dora(int argc, char **argv)
{
    return run_report(argc, argv, LH_REPORT_DORA, "dora", dora_usage);
}
