/*
 * cli_timeline.c - `loophub timeline`: the postmortem view of one incident, one change, or one
 * service and environment over a period.
 *
 * Parses its options, opens the store read-only (so it runs beside a live hub), runs
 * lh_query_timeline() and writes the document to stdout. Exit codes: 0 ok, 1 error (missing
 * store, unknown id, database error), 2 bad usage, each error one line on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "loophub/error.h"
#include "loophub/timeutil.h"
#include "query.h"
#include "store.h"

#define CMD "timeline"

static const char usage_text[] =
    "Usage: loophub timeline (--incident ID | --deploy ID [--env E] |\n"
    "                         --service S --env E [--since WHEN] [--until WHEN])\n"
    "                        [--db PATH] [--format text|json|md|html] [--limit N]\n"
    "                        [--window DUR]\n"
    "\n"
    "The postmortem view of what the hub stored and concluded.\n"
    "\n"
    "Selectors (exactly one):\n"
    "  --incident ID     the whole story of an outcome: ID is an incident id, the id of any\n"
    "                    of its events, a correlated alert id (ca-..., as `loophub tail`\n"
    "                    shows) or a monitoring alert's event id for the correlation it\n"
    "                    raised. Its events; each suspect deploy the hub named (ranked, with\n"
    "                    reasons, the version to roll back to, its change events, hosts,\n"
    "                    commit, commit time, actor, artifact, labels and linked tickets with\n"
    "                    their approval state); the other alerts on the service and its hosts\n"
    "                    in the window; every revision of the correlated alert as published;\n"
    "                    the resolution and the time to restore\n"
    "  --deploy ID [--env E]\n"
    "                    the change (all events of that deploy id in that environment, its\n"
    "                    hosts, commit, commit time, artifact and labels), what followed it,\n"
    "                    linked tickets, and its outcome class: pending, healthy, suspect,\n"
    "                    failed, rolled_back; --env is needed when the id ran in several\n"
    "  --service S --env E\n"
    "                    every event of that service and environment in the period, with the\n"
    "                    correlated alerts\n"
    "\n"
    "Options:\n"
    "  --since WHEN      start of the period for --service: a duration back from now (90s,\n"
    "                    30m, 2h, 7d; default 24h) or an RFC 3339 time (2026-11-30T10:00:00Z)\n"
    "  --until WHEN      end of the period for --service, the same forms (default: now)\n"
    "  --window DUR      the correlation window (default 2h): whether a change is still\n"
    "                    pending (--deploy); how long before an outcome other alerts are\n"
    "                    shown from (--incident)\n"
    "  --db PATH         the store, opened read-only (default $LOOPHUB_DB, else ./loophub.db,\n"
    "                    else the packaged /var/lib/loophub/loophub.db). Repeat it to read\n"
    "                    the stores of a scaled-out group of hubs as one timeline (events\n"
    "                    of several stores counted once, by id)\n"
    "  --format FMT      text (default; coloured on a terminal unless NO_COLOR is set), json\n"
    "                    (one JSON document), md (Markdown for a postmortem: a summary, the\n"
    "                    suspects with reasons, a time-ordered table) or html (a standalone\n"
    "                    page with the drawing the hub's web page shows)\n"
    "  --limit N         show the newest N events; the output says how many older ones it\n"
    "                    left out\n"
    "  -h, --help        show this help\n"
    "\n"
    "Exit status: 0 ok, 1 error (no store, unknown id), 2 bad usage.\n";

static int
parse_limit(const char *s, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 1)
        return LH_EINVAL;
    *out = v;
    return 0;
}

int
lh_cli_timeline(int argc, char **argv)
{
    enum {
        O_INCIDENT = 256,
        O_DEPLOY,
        O_SERVICE,
        O_ENV,
        O_SINCE,
        O_UNTIL,
        O_WINDOW,
        O_DB,
        O_FORMAT,
        O_LIMIT
    };
    static const struct option longopts[] = {
        {"incident", required_argument, NULL, O_INCIDENT},
        {"deploy", required_argument, NULL, O_DEPLOY},
        {"service", required_argument, NULL, O_SERVICE},
        {"env", required_argument, NULL, O_ENV},
        {"environment", required_argument, NULL, O_ENV},
        {"since", required_argument, NULL, O_SINCE},
        {"until", required_argument, NULL, O_UNTIL},
        {"window", required_argument, NULL, O_WINDOW},
        {"db", required_argument, NULL, O_DB},
        {"format", required_argument, NULL, O_FORMAT},
        {"limit", required_argument, NULL, O_LIMIT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    lh_timeline_req_t req;
    lh_timeline_req_default(&req);
    const char *dbs[LH_QUERY_MAX_STORES] = {lh_cli_default_db()}, *since = NULL, *until = NULL;
    size_t n_db = 0; /* --db given this many times (0: the default) */
    lh_query_format_t fmt = LH_QUERY_TEXT;
    int selectors = 0;

    optind = 0; /* GNU: reinitialise, the subcommand may run after another getopt user */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case O_INCIDENT:
            selectors++;
            req.mode = LH_TIMELINE_INCIDENT;
            req.incident_id = optarg;
            break;
        case O_DEPLOY:
            selectors++;
            req.mode = LH_TIMELINE_DEPLOY;
            req.deploy_id = optarg;
            break;
        case O_SERVICE:
            if (!req.service)
                selectors++;
            req.mode = LH_TIMELINE_SERVICE;
            req.service = optarg;
            break;
        case O_ENV:
            req.environment = optarg;
            break;
        case O_SINCE:
            since = optarg;
            if (lh_timeline_moment_parse(optarg, &req.from_ns, &req.since_ns) < 0)
                return lh_cli_usage_error(CMD,
                                          "bad --since '%s' (a duration like 90s, 30m, 2h, 7d, or "
                                          "an RFC 3339 time like 2026-11-30T10:00:00Z)",
                                          optarg);
            break;
        case O_UNTIL:
            until = optarg;
            if (lh_timeline_moment_parse(optarg, &req.until_ns, &req.until_ago_ns) < 0)
                return lh_cli_usage_error(CMD,
                                          "bad --until '%s' (a duration like 90s, 30m, 2h, 7d, or "
                                          "an RFC 3339 time like 2026-11-30T10:00:00Z)",
                                          optarg);
            break;
        case O_WINDOW:
            if (lh_duration_parse(optarg, &req.window_ns) < 0)
                return lh_cli_usage_error(CMD, "bad duration '%s' for --window (e.g. 30m, 2h)",
                                          optarg);
            break;
        case O_DB:
            if (n_db == LH_QUERY_MAX_STORES)
                return lh_cli_usage_error(CMD, "--db: at most %d stores", LH_QUERY_MAX_STORES);
            dbs[n_db++] = optarg;
            break;
        case O_FORMAT:
            if (lh_query_format_parse(optarg, &fmt) < 0)
                return lh_cli_usage_error(CMD, "unknown format '%s' (text, json, md or html)",
                                          optarg);
            break;
        case O_LIMIT:
            if (parse_limit(optarg, &req.limit) < 0)
                return lh_cli_usage_error(CMD, "bad --limit '%s' (a positive number of events)",
                                          optarg);
            break;
        case 'h':
            fputs(usage_text, stdout);
            return fflush(stdout) == 0 ? LH_EXIT_OK : LH_EXIT_ERROR;
        default:
            return lh_cli_getopt_error(CMD, c, argv);
        }
    }
    if (optind < argc)
        return lh_cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (selectors == 0)
        return lh_cli_usage_error(CMD, "say what to show: --incident ID, --deploy ID or "
                                       "--service S --env E");
    if (selectors > 1)
        return lh_cli_usage_error(CMD, "give one of --incident, --deploy, --service");
    if (req.mode == LH_TIMELINE_SERVICE && !req.environment)
        return lh_cli_usage_error(CMD, "--service needs --env");
    if (req.mode == LH_TIMELINE_INCIDENT && req.environment)
        return lh_cli_usage_error(CMD, "--env goes with --service or --deploy");
    if (req.mode != LH_TIMELINE_SERVICE && (since || until))
        return lh_cli_usage_error(CMD, "--%s goes with --service", since ? "since" : "until");
    int64_t from = 0, to = 0;
    if (req.mode == LH_TIMELINE_SERVICE && lh_timeline_period(&req, 0, &from, &to) < 0) {
        char fb[40] = "?", tb[40] = "?";
        lh_time_format(from, fb, sizeof(fb));
        lh_time_format(to, tb, sizeof(tb));
        return lh_cli_usage_error(CMD, "--until %s (%s) is before --since %s (%s)",
                                  until ? until : "now", tb, since ? since : "24h", fb);
    }
    if ((req.incident_id && !*req.incident_id) || (req.deploy_id && !*req.deploy_id) ||
        (req.service && !*req.service) || (req.environment && !*req.environment))
        return lh_cli_usage_error(CMD, "empty id, service or environment");

    if (!n_db)
        n_db = 1;
    const char *db = dbs[0]; /* named in messages; the others are read beside it */
    lh_store_t *sts[LH_QUERY_MAX_STORES] = {NULL};
    int rc = 0;
    for (size_t i = 0; i < n_db && rc == 0; i++)
        rc = lh_cli_open_store(CMD, dbs[i], &sts[i]);
    if (rc) {
        for (size_t i = 0; i < n_db; i++)
            lh_store_close(&sts[i]);
        return rc;
    }
    char names[1024] = "";
    for (size_t i = 0, o = 0; i < n_db && o < sizeof(names); i++)
        o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", i ? " + " : "", dbs[i]);
    req.store_name = names;
    /* colour only for a person at a terminal, and never against NO_COLOR (no-color.org) */
    const char *term = getenv("TERM");
    req.color = fmt == LH_QUERY_TEXT && isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && term &&
                strcmp(term, "dumb") != 0;
    lh_buf_t out = LH_BUF_INIT;
    rc = lh_query_timeline_stores(sts, n_db, &req, fmt, &out);
    /* what may have been there once: the store's retention says until when it deleted */
    char gone[96] = "";
    int64_t before = 0;
    lh_kind_t gk = req.mode == LH_TIMELINE_INCIDENT ? LH_KIND_INCIDENT : LH_KIND_DEPLOY;
    if (rc == LH_ENOTFOUND && lh_query_expired_before(sts[0], gk, &before) == 0 && before) {
        char t[40];
        lh_time_format(before, t, sizeof(t));
        snprintf(gone, sizeof(gone), " (%ss before %s have expired: the store's retention)",
                 gk == LH_KIND_INCIDENT ? "incident" : "deploy", t);
    }
    for (size_t i = 0; i < n_db; i++)
        lh_store_close(&sts[i]);
    if (n_db > 1)
        db = names;
    int exit_code = LH_EXIT_OK;
    if (rc == LH_ENOTFOUND) {
        if (req.mode == LH_TIMELINE_INCIDENT)
            lh_cli_error(CMD, "no incident, outcome event or correlated alert %s in %s%s",
                         req.incident_id, db, gone);
        else if (req.environment)
            lh_cli_error(CMD, "no deploy %s in %s in %s%s", req.deploy_id, req.environment, db,
                         gone);
        else
            lh_cli_error(CMD, "no deploy %s in %s%s", req.deploy_id, db, gone);
        exit_code = LH_EXIT_ERROR;
    } else if (rc == LH_EAMBIGUOUS) {
        lh_cli_error(CMD, "deploy %s ran in more than one environment: say which with --env",
                     req.deploy_id);
        exit_code = LH_EXIT_ERROR;
    } else if (rc < 0) {
        lh_cli_error(CMD, "cannot read %s: %s", db, lh_strerror(rc));
        exit_code = LH_EXIT_ERROR;
    } else {
        if (fmt == LH_QUERY_JSON)
            lh_buf_append(&out, "\n", 1);
        if ((out.len && fwrite(out.data, 1, out.len, stdout) != out.len) || fflush(stdout) != 0) {
            lh_cli_error(CMD, "cannot write the output: %s", strerror(errno));
            exit_code = LH_EXIT_ERROR;
        }
    }
    lh_buf_free(&out);
    return exit_code;
}
