/*
 * cli_redact.c - `loophub redact-check FILE`: what the redaction rules of `loophub run` would
 * change in a sample of events, before the hub runs with them.
 *
 * The rules come from the same settings as `loophub run` (--config FILE, then --redact-*
 * options over it; config.h), the events from JSON lines as `loophub send --json` takes them.
 * Each changed field is printed with its scrubbed value only: the secret itself never reaches
 * the terminal. Exit codes: 0 ok (whether or not anything would change), 1 the file cannot be
 * read, 2 bad usage (a pattern that does not compile).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "loophub/error.h"
#include "loophub/format.h"
#include "loophub/registry.h"
#include "redact.h"

#define CMD "redact-check"

static const char usage_text[] =
    "Usage: loophub redact-check [OPTIONS] FILE|-\n"
    "\n"
    "Shows what the redaction rules would change in a sample of events: FILE holds JSON\n"
    "lines as 'loophub send --json' takes them (loophub JSON, CloudEvents, Alertmanager;\n"
    "one object or array per line). For every event the rules change it prints each field\n"
    "changed with its scrubbed value, never the secret; then a summary line.\n"
    "\n"
    "Options (the same as 'loophub run'; config file key in brackets):\n"
    "  --config FILE            INI file ('loophub run --config'); its [redaction] applies\n"
    "  --redact-defaults on|off the built-in rules (default on) [redaction.defaults]\n"
    "  --redact-key REGEX       label keys whose values become [redacted] (repeatable)\n"
    "                           [redaction.key]\n"
    "  --redact-value REGEX     text replaced with [redacted] in every string but the ids;\n"
    "                           its last group only, if it has one (repeatable)\n"
    "                           [redaction.value]\n"
    "  -h, --help               show this help\n"
    "\n"
    "Exit status: 0 ok, 1 the file cannot be read, 2 bad usage (a bad pattern).\n";

enum { O_DEFAULTS = 1000, O_KEY, O_VALUE };

typedef struct {
    const lh_redact_t *r;
    long line;
    const lh_event_t *ev;
    int shown; /* the event's heading is out */
    long events, changed, values, unread;
} check_t;

static void
report(const char *field, const char *after, void *arg)
{
    check_t *k = arg;
    if (!k->shown) {
        printf("line %ld: event %s (%s)\n", k->line, k->ev->id ? k->ev->id : "(no id)",
               lh_kind_name(k->ev->kind) ? lh_kind_name(k->ev->kind) : "no kind");
        k->shown = 1;
    }
    printf("  %s: %s\n", field, after);
}

static int
on_event(lh_event_t *ev, int err, const char *id, const char *why, void *arg)
{
    check_t *k = arg;
    (void)err;
    if (!ev) {
        /* a reason may quote the value it refuses */
        char *w = strdup(why ? why : "cannot decode");
        if (w && lh_redact_str(k->r, &w) >= 0)
            printf("line %ld: not read%s%s: %s\n", k->line, id ? " event " : "", id ? id : "", w);
        free(w);
        k->unread++;
        return 0;
    }
    k->events++;
    k->ev = ev;
    k->shown = 0;
    int n = lh_redact_event(k->r, ev, report, k);
    if (n > 0) {
        k->changed++;
        k->values += n;
    }
    lh_event_destroy(&ev);
    return n < 0 ? 1 : 0;
}

static int
check_file(const lh_redact_t *r, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        lh_cli_error(CMD, "cannot open %s: %s", path, strerror(errno));
        return LH_EXIT_ERROR;
    }
    check_t k = {.r = r};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = LH_EXIT_OK;
    while (rc == LH_EXIT_OK && (len = getline(&line, &cap, f)) >= 0) {
        k.line++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        size_t skip = strspn(line, " \t");
        if (k.line == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0)
            skip = 3 + strspn(line + 3, " \t"); /* a UTF-8 byte order mark */
        if ((size_t)len == skip)
            continue;
        if (line[skip] != '{' && line[skip] != '[') {
            printf("line %ld: not JSON (each line holds one JSON object or array)\n", k.line);
            k.unread++;
            continue;
        }
        if (lh_codec_decode(line, (size_t)len, LH_FMT_AUTO, NULL, on_event, &k) < 0) {
            lh_cli_error(CMD, "out of memory");
            rc = LH_EXIT_ERROR;
        }
    }
    free(line);
    if (f != stdin)
        fclose(f);
    if (rc == LH_EXIT_OK)
        printf("%ld events read, %ld would change, %ld values redacted, %ld lines or events not "
               "read\n",
               k.events, k.changed, k.values, k.unread);
    return rc;
}

/* The command line over the config file, as for `loophub run`: a list given on the command line
 * replaces the file's. Returns 0, -1 after --help, or the exit code of an error. */
static int
parse(lh_run_conf_t *c, int argc, char **argv, const char **file)
{
    static const struct option lopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"redact-defaults", required_argument, NULL, O_DEFAULTS},
        {"redact-key", required_argument, NULL, O_KEY},
        {"redact-value", required_argument, NULL, O_VALUE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char err[512] = "";
    const char *config = NULL;
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "hc:", lopts, NULL)) != -1) {
        if (ch == 'h') {
            fputs(usage_text, stdout);
            return -1;
        }
        if (ch == 'c')
            config = optarg;
        if (ch == '?' || ch == ':')
            return lh_cli_usage_error(CMD, "unknown option or missing value: '%s'",
                                      argv[optind - 1]);
    }
    if (config && lh_run_conf_load(c, config, err, sizeof(err)) < 0) {
        lh_cli_error(CMD, "%s", err);
        return LH_EXIT_ERROR;
    }
    int keys_seen = 0, values_seen = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "hc:", lopts, NULL)) != -1) {
        lh_strlist_t *l = NULL;
        if (ch == O_DEFAULTS) {
            free(c->redact_defaults);
            if (!(c->redact_defaults = strdup(optarg)))
                return LH_EXIT_ERROR;
        } else if (ch == O_KEY) {
            l = &c->redact_keys;
            if (!keys_seen++)
                lh_strlist_free(l);
        } else if (ch == O_VALUE) {
            l = &c->redact_values;
            if (!values_seen++)
                lh_strlist_free(l);
        }
        if (l && lh_strlist_add(l, optarg) < 0)
            return LH_EXIT_ERROR;
    }
    if (optind != argc - 1)
        return lh_cli_usage_error(CMD, optind < argc ? "one FILE only" : "no FILE given");
    *file = argv[optind];
    if (lh_run_conf_check_redaction(c, err, sizeof(err)) < 0)
        return lh_cli_usage_error(CMD, "%s", err);
    return 0;
}

int
lh_cli_redact_check(int argc, char **argv)
{
    lh_run_conf_t c;
    size_t n_defs;
    const lh_adapter_def_t *const *defs = lh_registry_adapters(&n_defs);
    if (lh_run_conf_init(&c, defs, n_defs) < 0) {
        lh_cli_error(CMD, "out of memory");
        return LH_EXIT_ERROR;
    }
    const char *file = NULL;
    int rc = parse(&c, argc, argv, &file);
    if (rc != 0) {
        lh_run_conf_free(&c);
        return rc < 0 ? LH_EXIT_OK : rc; /* -1: --help */
    }
    lh_redact_opts_t o;
    lh_redact_t *r = NULL;
    char err[512] = "";
    lh_run_conf_redaction(&c, &o);
    if (lh_redact_new(&o, &r, err, sizeof(err)) < 0) {
        lh_cli_error(CMD, "%s", *err ? err : "out of memory");
        lh_run_conf_free(&c);
        return LH_EXIT_ERROR;
    }
    rc = check_file(r, file);
    lh_redact_destroy(&r);
    lh_run_conf_free(&c);
    return rc;
}
