/*
 * cli_import.c - `loophub import FILE|-`: bulk-loads JSON lines (any format the hub reads) into a
 * store, through the hub's own pipeline (decode, redact, validate, store, correlate), in large
 * transactions, with no transport in between.
 *
 * The hub is embedded: its settings come from the same config file `loophub run` reads (store,
 * correlation, retention, redaction, limits), so an import correlates as the live hub would. It
 * takes the store's lock, so it runs while no hub writes the store. Each line is one message
 * (an event, a JSON array of events, a CloudEvents batch, an Alertmanager webhook); the hub's
 * verdicts come back per line through the adapter interface's done(), so a bad line is
 * reported by its number and quarantined, and the rest is loaded. Events are deduplicated by
 * id, so running the same import again stores nothing twice.
 *
 * Alerts the import concludes are stored, not published: once done, every sink of the store
 * (and the built-in PUB, subscription and Kafka sinks, registered if new) has them marked
 * delivered, unless --publish leaves them for the next `loophub run` to send.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "hub.h"
#include "loophub/adapter.h"
#include "loophub/error.h"
#include "loophub/hub.h"
#include "loophub/log.h"
#include "loophub/registry.h"
#include "loophub/timeutil.h"
#include "store.h"

#define CMD "import"
#define DEFAULT_BATCH 20000
#define MAX_REPORTED 50 /* bad lines told one by one; the rest are counted */

static const char usage_text[] =
    "Usage: loophub import FILE|- [--db PATH] [--config FILE] [--publish] [--batch N] [-q]\n"
    "\n"
    "Loads JSON lines (loophub JSON, CloudEvents, CDEvents, Alertmanager webhooks: any format\n"
    "the hub reads, one message a line) into the store through the hub's own pipeline,\n"
    "correlating as it goes, in large transactions. Run it while no hub writes the store.\n"
    "Events already stored (by id) are skipped, so an import can be run again. Bad lines are\n"
    "reported by their number and quarantined; the rest is loaded.\n"
    "\n"
    "Options:\n"
    "  --db PATH         the store (default loophub.db, or the config file's)\n"
    "  --config FILE     the hub's config file: its store, correlation, retention, redaction\n"
    "                    and limits settings apply, as in `loophub run`\n"
    "  --publish         leave the alerts the import concludes for the next `loophub run` to\n"
    "                    publish (default: stored, marked delivered on every sink)\n"
    "  --batch N         events per transaction (default 20000)\n"
    "  -q, --quiet       no progress and no summary, only errors\n"
    "  -h, --help        show this help\n"
    "\n"
    "On a terminal a progress line shows lines, rate and time left; otherwise one summary line.\n"
    "Exit status: 0 every line stored or already there, 1 some lines rejected or an error,\n"
    "2 bad usage.\n";

typedef struct {
    long long lines, events, stored, dup, ignored, rejected, bad_lines, told;
    long long last_bad; /* the line of the last rejection counted in bad_lines */
} counts_t;

/* The import's adapter: it submits nothing by itself (the loop below does), and takes the
 * verdicts, the token being the line number. */
static void
import_done(void *ctx, void *token, const lh_ack_t *acks, size_t n)
{
    counts_t *c = ctx;
    long long line = (long long)(intptr_t)token;
    for (size_t i = 0; i < n; i++) {
        c->events++;
        if (acks[i].status == LH_ACK_OK) {
            c->stored++;
        } else if (acks[i].status == LH_ACK_DUPLICATE) {
            c->dup++;
        } else if (acks[i].status == LH_ACK_IGNORED) {
            c->ignored++; /* a webhook's ping: read, nothing to keep */
        } else {
            c->rejected++;
            if (c->last_bad != line) {
                c->bad_lines++;
                c->last_bad = line;
            }
            if (c->told++ < MAX_REPORTED)
                lh_cli_error(CMD, "line %lld: %s%s%s", line, acks[i].id ? acks[i].id : "",
                             acks[i].id ? ": " : "", acks[i].why ? acks[i].why : "rejected");
        }
    }
}

static void
import_destroy(void *ctx)
{
    (void)ctx;
}

static const lh_adapter_ops_t import_ops = {
    .name = "import",
    .done = import_done,
    .destroy = import_destroy,
};

static void
progress(FILE *err, const counts_t *c, long long bytes, long long total, int64_t t0, int final)
{
    double secs = (double)(lh_mono_ns() - t0) / 1e9;
    double rate = secs > 0 ? (double)c->lines / secs : 0;
    fprintf(err, "\r%s: %lld lines, %lld events, %.0f lines/s", CMD, c->lines, c->events, rate);
    if (total > 0 && bytes > 0) {
        double done = (double)bytes / (double)total;
        double left = done > 0 ? secs / done - secs : 0;
        fprintf(err, ", %3.0f%%, %lld:%02lld left", done * 100.0, (long long)left / 60,
                (long long)left % 60);
    }
    fprintf(err, "\033[K%s", final ? "\n" : "");
    fflush(err);
}

int
lh_cli_import(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},
        {"publish", no_argument, NULL, 'p'},
        {"batch", required_argument, NULL, 'b'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL, *config = NULL, *batch = NULL;
    int publish = 0, quiet = 0;
    optind = 0;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":hq", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            db = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'p':
            publish = 1;
            break;
        case 'b': {
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > 1000000)
                return lh_cli_usage_error(CMD,
                                          "--batch: '%s' is not a number of events from 1 "
                                          "to 1000000",
                                          optarg);
            batch = optarg;
            break;
        }
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return fflush(stdout) == 0 ? LH_EXIT_OK : LH_EXIT_ERROR;
        default:
            return lh_cli_getopt_error(CMD, ch, argv);
        }
    }
    if (optind >= argc)
        return lh_cli_usage_error(CMD, "say what to import: a file of JSON lines, or - for "
                                       "standard input");
    if (optind + 1 < argc)
        return lh_cli_usage_error(CMD, "unexpected argument '%s'", argv[optind + 1]);
    const char *path = argv[optind];

    /* the hub's settings, as `loophub run` would read them */
    char bbuf[24];
    snprintf(bbuf, sizeof(bbuf), "%d", DEFAULT_BATCH);
    /* errors only: a rejection is told here, by its line */
    const char *rargv[12] = {"import", "--log-level", "error", "--batch-max", batch ? batch : bbuf};
    int rn = 5;
    if (config) {
        rargv[rn++] = "--config";
        rargv[rn++] = config;
    }
    if (db) {
        rargv[rn++] = "--db";
        rargv[rn++] = db;
    }
    rargv[rn] = NULL;
    lh_run_conf_t c;
    size_t n_defs;
    const lh_adapter_def_t *const *defs = lh_registry_adapters(&n_defs);
    if (lh_run_conf_init(&c, defs, n_defs) < 0) {
        lh_cli_error(CMD, "out of memory");
        return LH_EXIT_ERROR;
    }
    char err[512] = "";
    int rc = lh_run_conf_parse(&c, rn, (char **)rargv, err, sizeof(err));
    if (rc != 0) {
        lh_cli_error(CMD, "%s", err);
        lh_run_conf_free(&c);
        return rc == LH_EINVAL ? LH_EXIT_USAGE : LH_EXIT_ERROR;
    }
    lh_log_set_level((lh_log_level_t)c.log_level);
    lh_log_set_format((lh_log_format_t)c.log_format);

    FILE *in = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!in) {
        lh_cli_error(CMD, "cannot open %s: %s", path, strerror(errno));
        lh_run_conf_free(&c);
        return LH_EXIT_ERROR;
    }
    struct stat sb;
    long long total = in != stdin && fstat(fileno(in), &sb) == 0 ? (long long)sb.st_size : 0;

    lh_hub_opts_t o;
    lh_cli_hub_opts(&c, &o);
    lh_hub_t *hub = NULL;
    counts_t n = {0};
    if ((rc = lh_hub_new(&o, &hub)) < 0) {
        lh_cli_error(CMD, "cannot open the store %s: %s", c.db, lh_strerror(rc));
        if (in != stdin)
            fclose(in);
        lh_run_conf_free(&c);
        return LH_EXIT_ERROR;
    }
    lh_store_t *st = lh_hub_store(hub);
    int64_t alerts_before = 0, alerts_after = 0;
    if ((rc = lh_hub_add_adapter(hub, &import_ops, &n, NULL)) == 0)
        rc = lh_store_alert_max_seq(st, &alerts_before);
    lh_adapter_t *self = lh_hub_adapter_of(hub, &n);
    int tty = !quiet && isatty(STDERR_FILENO);
    int64_t t0 = lh_mono_ns(), shown = t0;
    char origin[600];
    char *line = NULL;
    size_t cap = 0;
    long long bytes = 0;
    ssize_t len;
    int pending = 0;
    while (rc >= 0 && (len = getline(&line, &cap, in)) >= 0) {
        n.lines++;
        bytes += len;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        size_t i = 0;
        while (i < (size_t)len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i == (size_t)len)
            continue; /* a blank line */
        snprintf(origin, sizeof(origin), "import:%s:%lld", strcmp(path, "-") ? path : "stdin",
                 n.lines);
        lh_submit_t m = {.from = self,
                         .origin = origin,
                         .data = line,
                         .len = (size_t)len,
                         .token = (void *)(intptr_t)n.lines};
        if (line[i] != '{' && line[i] != '[') /* the hub would try it as protobuf */
            m.reject = "not JSON: a line is one JSON object or array";
        if ((rc = lh_hub_submit(hub, &m)) < 0)
            break;
        if (++pending >= o.batch_max) {
            rc = lh_hub_turn(hub, 0);
            pending = 0;
        }
        if (tty && lh_mono_ns() - shown > 200 * LH_NS_PER_MS) {
            progress(stderr, &n, bytes, total, t0, 0);
            shown = lh_mono_ns();
        }
    }
    int read_err = ferror(in);
    free(line);
    if (in != stdin)
        fclose(in);
    if (rc >= 0) /* the last batch */
        rc = lh_hub_turn(hub, 0);
    if (rc >= 0 && lh_hub_intake_paused(hub))
        rc = LH_ESTORE; /* the store refused the batch (full disk): logged by the hub */
    if (rc >= 0 && !publish) {
        /* what the import concluded is history: no sink delivers it, present or built in */
        static const char *const builtin[] = {"zmq-pub", "zmq-subs", "kafka"};
        lh_store_sink_t sk;
        rc = lh_store_begin(st);
        for (size_t i = 0; rc >= 0 && i < sizeof(builtin) / sizeof(builtin[0]); i++)
            rc = lh_store_sink_register(st, builtin[i], &sk);
        if (rc >= 0)
            rc = lh_store_alert_done_after(st, alerts_before);
        rc = rc >= 0 ? lh_store_commit(st) : (lh_store_rollback(st), rc);
    }
    if (rc >= 0)
        rc = lh_store_alert_max_seq(st, &alerts_after);
    lh_hub_destroy(&hub);
    lh_run_conf_free(&c);
    double secs = (double)(lh_mono_ns() - t0) / 1e9;
    if (tty)
        progress(stderr, &n, bytes, total, t0, 1);
    if (rc < 0) {
        lh_cli_error(CMD, "stopped at line %lld: %s (what was committed before stays)", n.lines,
                     lh_strerror(rc));
        return LH_EXIT_ERROR;
    }
    if (read_err) {
        lh_cli_error(CMD, "cannot read %s", path);
        return LH_EXIT_ERROR;
    }
    if (n.told > MAX_REPORTED)
        lh_cli_error(CMD, "... and %lld more rejected events (all in `loophub quarantine`)",
                     n.told - MAX_REPORTED);
    if (!quiet && n.ignored)
        fprintf(stderr, "%s: %lld payloads ignored: they record nothing (docs/sources.md)\n", CMD,
                n.ignored);
    if (!quiet)
        fprintf(stderr,
                "%s: %lld lines, %lld events: %lld stored, %lld already there, %lld rejected on "
                "%lld lines (quarantined); %lld alerts concluded (%s) in %.1f s (%.0f events/s)\n",
                CMD, n.lines, n.events, n.stored, n.dup, n.rejected, n.bad_lines,
                (long long)(alerts_after - alerts_before),
                publish ? "left for the hub to publish" : "stored, not published", secs,
                secs > 0 ? (double)n.events / secs : 0);
    return n.rejected ? LH_EXIT_ERROR : LH_EXIT_OK;
}
