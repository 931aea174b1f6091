/*
 * check_bad_input.c - the hub's bad-input paths that the other suites left unrun (make
 * coverage): validation limits and UTF-8, `loophub run` option and config file errors, store
 * files that cannot be opened or migrated (and are left as they were), query argument checks
 * and decoder rejections. Each test checks the exact error code and the reason a user sees.
 */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "loophub/error.h"
#include "loophub/event.h"
#include "loophub/format.h"
#include "loophub/hub.h"
#include "loophub/registry.h"
#include "loophub/timeline.h"
#include "loophub/timeutil.h"
#include "query.h"
#include "store.h"
#include "testutil.h"

#define NOW_NS (1795687200LL * LH_NS_PER_SEC) /* 2026-11-26T10:00:00Z */

/* ---- lh_event_validate -------------------------------------------------------------------- */

static lh_event_t *
deploy(void)
{
    lh_event_t *ev = lh_event_new();
    ck_assert_ptr_nonnull(ev);
    ev->kind = LH_KIND_DEPLOY;
    ev->id = lh_event_str(ev, "d-1", (size_t)-1);
    ev->service = lh_event_str(ev, "api", (size_t)-1);
    ev->time_ns = NOW_NS;
    return ev;
}

/* Validates ev (destroyed after) under lim and checks the code and the whole reason. */
static void
expect(lh_event_t *ev, const lh_limits_t *lim, int err, const char *reason)
{
    char why[256] = "";
    int rc = lh_event_validate(ev, lim, NOW_NS, why, sizeof(why));
    ck_assert_msg(rc == err, "rc %s, want %s (%s)", lh_err_name(rc), lh_err_name(err), why);
    if (reason)
        ck_assert_str_eq(why, reason);
    lh_event_destroy(&ev);
}

START_TEST(test_validate_counts_over_the_limits)
{
    lh_limits_t lim;
    lh_limits_default(&lim);
    lim.max_labels = 2;
    lim.max_links = 1;
    lh_event_t *ev = deploy();
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(lh_event_add_label(ev, "k", 1, "v", 1), 0);
    expect(ev, &lim, LH_ETOOBIG, "3 labels, over the limit of 2");

    ev = deploy();
    ev->kind = LH_KIND_TICKET;
    ev->ticket.ticket_id = lh_event_str(ev, "CHG-1", (size_t)-1);
    ck_assert_int_eq(lh_event_add_link(ev, "d-1", 3), 0);
    ck_assert_int_eq(lh_event_add_link(ev, "d-2", 3), 0);
    expect(ev, &lim, LH_ETOOBIG, "2 ticket links, over the limit of 1");
    /* at the limits: accepted */
    ev = deploy();
    ck_assert_int_eq(lh_event_add_label(ev, "k", 1, "v", 1), 0);
    ck_assert_int_eq(lh_event_add_label(ev, "k2", 2, "v", 1), 0);
    expect(ev, &lim, 0, NULL);
}
END_TEST

START_TEST(test_validate_utf8_in_lists)
{
    const char *bad = "\xc3\x28"; /* a lead byte without its continuation */
    lh_event_t *ev = deploy();
    ck_assert_int_eq(lh_event_add_host(ev, "web-1", 5), 0);
    ck_assert_int_eq(lh_event_add_host(ev, bad, 2), 0);
    expect(ev, NULL, LH_EDECODE, "field 'hosts' is not valid UTF-8");

    ev = deploy();
    ck_assert_int_eq(lh_event_add_label(ev, bad, 2, "v", 1), 0);
    expect(ev, NULL, LH_EDECODE, "field 'labels (key)' is not valid UTF-8");
    ev = deploy();
    ck_assert_int_eq(lh_event_add_label(ev, "team", 4, bad, 2), 0);
    expect(ev, NULL, LH_EDECODE, "field 'labels (value)' is not valid UTF-8");

    ev = deploy();
    ev->kind = LH_KIND_TICKET;
    ev->ticket.ticket_id = lh_event_str(ev, "CHG-1", (size_t)-1);
    ck_assert_int_eq(lh_event_add_link(ev, bad, 2), 0);
    expect(ev, NULL, LH_EDECODE, "field 'ticket.links' is not valid UTF-8");
}
END_TEST

START_TEST(test_validate_utf8_four_byte_forms)
{
    /* U+1F680 (rocket), U+10FFFF: valid four-byte forms */
    const char *good[] = {"deploy \xf0\x9f\x9a\x80", "\xf4\x8f\xbf\xbf"};
    for (size_t i = 0; i < 2; i++) {
        lh_event_t *ev = deploy();
        ev->actor = lh_event_str(ev, good[i], (size_t)-1);
        expect(ev, NULL, 0, NULL);
    }
    const char *bad[] = {
        "\xf0\x9f\x9a",         /* truncated */
        "\xf0\x8f\xbf\xbf",     /* overlong (U+FFFF in four bytes) */
        "\xf4\x90\x80\x80",     /* beyond U+10FFFF */
        "\xf8\x88\x80\x80\x80", /* a five-byte lead */
        "\xff",                 /* never a UTF-8 byte */
        "\xf0\x9f\x28\x80",     /* a continuation missing inside */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        lh_event_t *ev = deploy();
        ev->actor = lh_event_str(ev, bad[i], (size_t)-1);
        expect(ev, NULL, LH_EDECODE, "field 'actor' is not valid UTF-8");
    }
}
END_TEST

START_TEST(test_validate_commit_time_before_1970)
{
    lh_event_t *ev = deploy();
    ev->deploy.commit_time_ns = -1;
    expect(ev, NULL, LH_ERANGE, "field 'deploy.commit_time' is before 1970");
    /* a non-deploy's commit time is not looked at */
    ev = deploy();
    ev->kind = LH_KIND_INCIDENT;
    ev->incident.incident_id = lh_event_str(ev, "INC-1", (size_t)-1);
    ev->deploy.commit_time_ns = -1;
    expect(ev, NULL, 0, NULL);
    ev = deploy();
    ev->kind = LH_KIND_ALERT;
    expect(ev, NULL, LH_EMISSING, "missing field 'alert.name'");
}
END_TEST

START_TEST(test_time_and_name_parsers)
{
    int64_t ns = 0, want = 0;
    ck_assert_int_eq(lh_time_parse("2026-11-26T10:00Z", &ns), LH_EINVAL); /* no seconds */
    ck_assert_int_eq(lh_time_parse("2026-11-26T10:00:5Z", &ns), LH_EINVAL);
    /* a leap second is clamped to :59 */
    ck_assert_int_eq(lh_time_parse("2026-12-31T23:59:60Z", &ns), 0);
    ck_assert_int_eq(lh_time_parse("2026-12-31T23:59:59Z", &want), 0);
    ck_assert_int_eq(ns, want);
    ck_assert_int_eq(lh_duration_parse("2w", &ns), 0);
    ck_assert_int_eq(ns, 14 * 86400LL * LH_NS_PER_SEC);
    ck_assert_int_eq(lh_duration_parse("9999999999999d", &ns), LH_EINVAL); /* past int64 ns */
    ck_assert_int_eq(lh_duration_parse("106751d1d", &ns), LH_EINVAL);
    lh_kind_t k = LH_KIND_ALERT;
    ck_assert_int_eq(lh_kind_parse(NULL, &k), LH_EINVAL);
    ck_assert_int_eq(lh_kind_parse("release", &k), LH_EINVAL);
    ck_assert_int_eq(k, LH_KIND_ALERT);
}
END_TEST

/* ---- `loophub run` options and the config file (config.c) ---------------------------------- */

/* lh_run_conf_parse() over "run" args[0..n) with every adapter compiled in; c is freed after. */
static int
parse(const char *const *args, int n, char *err, size_t errlen)
{
    char *argv[16];
    ck_assert_int_lt(n, 15);
    argv[0] = "run";
    for (int i = 0; i < n; i++)
        argv[i + 1] = (char *)args[i];
    argv[n + 1] = NULL;
    size_t n_defs;
    const lh_adapter_def_t *const *defs = lh_registry_adapters(&n_defs);
    lh_run_conf_t c;
    ck_assert_int_eq(lh_run_conf_init(&c, defs, n_defs), 0);
    err[0] = 0;
    int rc = lh_run_conf_parse(&c, n + 1, argv, err, errlen);
    lh_run_conf_free(&c);
    return rc;
}

START_TEST(test_options_bad_values)
{
    static const struct {
        const char *opt, *val, *err;
    } cases[] = {
        {"--retention-alerts", "soon",
         "--retention-alerts: 'soon' is not a duration (like 30d, 400d, 12h) or 'forever'"},
        {"--alert-min-severity", "loud",
         "--alert-min-severity: 'loud' is not a severity (info, warning, error, critical)"},
        {"--alerts-format", "xml", "--alerts-format: 'xml' is not protobuf, json or cloudevents"},
        {"--log-level", "chatty", "--log-level: 'chatty' is not debug, info, warn or error"},
        {"--synchronous", "sometimes", "--synchronous: 'sometimes' is not full or normal"},
        {"--page-size", "1000", "--page-size: 1000 is not a power of two from 512 to 65536"},
        {"--page-size", "131072", "--page-size: 131072 is not a power of two from 512 to 65536"},
        {"--page-size", "256", "--page-size: 256 is not a power of two from 512 to 65536"},
        {"--wal-checkpoint-size", "1048575",
         "--wal-checkpoint-size: 1048575 is not from 1 MiB to 4 GiB"},
        {"--wal-checkpoint-size", "4294967297",
         "--wal-checkpoint-size: 4294967297 is not from 1 MiB to 4 GiB"},
        {"--keep-original", "maybe", "--keep-original: 'maybe' is not on or off"},
        {"--dedupe-horizon", "1000", "--dedupe-horizon: 1000 is less than 1024"},
        {"--require-approved-ticket", "prod,,staging",
         "--require-approved-ticket: an empty environment in 'prod,,staging' (give names "
         "separated by commas: prod,staging)"},
        {"--require-approved-ticket", ",",
         "--require-approved-ticket: an empty environment in ',' (give names separated by "
         "commas: prod,staging)"},
        {"--dora-metrics-window", "monthly",
         "--dora-metrics-window: 'monthly' is not a duration (like 90s, 30m, 2h, 7d)"},
    };
    char err[512];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *a[] = {cases[i].opt, cases[i].val};
        ck_assert_msg(parse(a, 2, err, sizeof(err)) == LH_EINVAL, "%s %s accepted", a[0], a[1]);
        ck_assert_str_eq(err, cases[i].err);
    }
    /* the edges are accepted */
    const char *ok[][2] = {{"--retention-alerts", "forever"},
                           {"--page-size", "512"},
                           {"--page-size", "65536"},
                           {"--wal-checkpoint-size", "1048576"},
                           {"--wal-checkpoint-size", "4294967296"},
                           {"--dedupe-horizon", "1024"},
                           {"--synchronous", "normal"},
                           {"--keep-original", "on"},
                           {"--require-approved-ticket", "prod, staging"},
                           {"--dora-metrics-window", "0"}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        ck_assert_msg(parse(ok[i], 2, err, sizeof(err)) == 0, "%s %s: %s", ok[i][0], ok[i][1], err);
}
END_TEST

START_TEST(test_options_bad_usage)
{
    char err[512];
    const char *a1[] = {"--window"};
    ck_assert_int_eq(parse(a1, 1, err, sizeof(err)), LH_EINVAL);
    ck_assert_str_eq(err, "option --window needs a value");
    const char *a2[] = {"--frobnicate", "1"};
    ck_assert_int_eq(parse(a2, 2, err, sizeof(err)), LH_EINVAL);
    ck_assert_str_eq(err, "unknown option '--frobnicate'");
    const char *a3[] = {"--window", "30m", "extra"};
    ck_assert_int_eq(parse(a3, 3, err, sizeof(err)), LH_EINVAL);
    ck_assert_str_eq(err, "unexpected argument 'extra'");
}
END_TEST

START_TEST(test_options_redaction_patterns)
{
    char err[512];
    /* 16 groups: one more than a value rule may have (the last group is what is replaced) */
    const char *many = "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)(m)(n)(o)(p)";
    const char *a1[] = {"--redact-value", many};
    ck_assert_int_eq(parse(a1, 2, err, sizeof(err)), LH_EINVAL);
    char want[256];
    snprintf(want, sizeof(want), "--redact-value '%s': more than 15 groups", many);
    ck_assert_str_eq(err, want);
    const char *ok[] = {"--redact-value", "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)(m)(n)(o)"};
    ck_assert_msg(parse(ok, 2, err, sizeof(err)) == 0, "%s", err);
    const char *a2[] = {"--redact-value", ""};
    ck_assert_int_eq(parse(a2, 2, err, sizeof(err)), LH_EINVAL);
    ck_assert_str_eq(err, "--redact-value '': an empty pattern would match everything");
    const char *a3[] = {"--redact-value", "x{2,1}"};
    ck_assert_int_eq(parse(a3, 2, err, sizeof(err)), LH_EINVAL);
    ck_assert_msg(strncmp(err, "--redact-value 'x{2,1}': not a valid extended regex: ", 53) == 0,
                  "%s", err);
}
END_TEST

/* With no option and no file, `loophub run` runs with the defaults the README and
 * docs/correlation.md document, which are also the library's (lh_hub_opts_default()): an
 * embedding application and the command correlate alike. */
START_TEST(test_run_defaults_are_documented)
{
    size_t n_defs;
    const lh_adapter_def_t *const *defs = lh_registry_adapters(&n_defs);
    lh_run_conf_t c;
    ck_assert_int_eq(lh_run_conf_init(&c, defs, n_defs), 0);
    char err[512] = "";
    char *argv[] = {"run", NULL};
    ck_assert_int_eq(lh_run_conf_parse(&c, 1, argv, err, sizeof(err)), 0);
    lh_hub_opts_t h;
    lh_hub_opts_default(&h);
    const int64_t min = 60 * LH_NS_PER_SEC;
    ck_assert_int_eq(c.window_ns, 120 * min);
    ck_assert_int_eq(h.window_ns, 120 * min);
    ck_assert_int_eq(c.group_window_ns, 10 * min);
    ck_assert_int_eq(h.group_window_ns, 10 * min);
    ck_assert_int_eq(c.max_suspects, 10);
    ck_assert_int_eq(h.max_suspects, 10);
    ck_assert_int_eq(c.alert_min_severity, LH_SEV_ERROR);
    ck_assert_int_eq(h.alert_min_severity, LH_SEV_ERROR);
    ck_assert_int_eq(c.batch_max, 4000);
    ck_assert_int_eq(h.batch_max, 4000);
    ck_assert_int_eq(c.batch_ms, 10);
    ck_assert_int_eq(h.batch_ms, 10);
    ck_assert_int_eq(c.dedupe_horizon, 1000000);
    ck_assert_int_eq(h.dedupe_horizon, 1000000);
    lh_run_conf_free(&c);
}
END_TEST

START_TEST(test_config_file_errors)
{
    char *dir = lh_test_tmpdir();
    char path[600], want[800], err[1024];
    const char *a[] = {"--config", path};

    snprintf(path, sizeof(path), "%s/missing.ini", dir);
    ck_assert_int_eq(parse(a, 2, err, sizeof(err)), LH_ECONFIG);
    snprintf(want, sizeof(want), "cannot open config file %s", path);
    ck_assert_str_eq(err, want);

    static const struct {
        const char *text, *err; /* err after "<path>:" */
    } cases[] = {
        {"[store]\npath = x.db\n[correlation\n", "3: section header without its closing ']'"},
        /* the settings after the broken header are not blamed on a section "[]" */
        {"[store\npath = x.db\n", "1: section header without its closing ']'"},
        {"[store]\njust words\n", "2: expected 'name = value'"},
        {"[store]\npath = x.db\ncolour = blue\n", "3: unknown setting 'colour' in [store]"},
        /* two refused settings: the first one's line and message */
        {"[store]\ncolour = blue\nshape = round\n", "2: unknown setting 'colour' in [store]"},
        {"[store]\ncolour = blue\n[zmq\n", "2: unknown setting 'colour' in [store]"},
        {"[store]\npage_size = big\n",
         "2: [store] page_size: --page-size: 'big' is not a positive number"},
        {"[retention]\nalerts = soon\n", "2: [retention] alerts: --retention-alerts: 'soon' is "
                                         "not a duration (like 30d, 400d, 12h) or 'forever'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(path, sizeof(path), "%s/hub%zu.ini", dir, i);
        ck_assert_int_eq(lh_test_write_file(path, cases[i].text, strlen(cases[i].text)), 0);
        ck_assert_int_eq(parse(a, 2, err, sizeof(err)), LH_ECONFIG);
        snprintf(want, sizeof(want), "%s:%s", path, cases[i].err);
        ck_assert_str_eq(err, want);
    }
    /* the command line does not rescue a bad file: it is read first */
    const char *b[] = {"--config", path, "--retention-alerts", "30d"};
    ck_assert_int_eq(parse(b, 4, err, sizeof(err)), LH_ECONFIG);
    lh_test_rmrf(dir);
    free(dir);
}
END_TEST

/* ---- store files that cannot be opened (store.c, store_migrate.c) ------------------------- */

/* Runs sql in a new SQLite file at path. */
static void
make_db(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK, "%s", msg);
    sqlite3_close(db);
}

/* One integer an SQL query on the file at path returns. */
static int64_t
db_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static int
open_store(const char *path, int readonly, lh_store_t **st)
{
    lh_store_opts_t o;
    lh_store_opts_default(&o);
    o.readonly = readonly;
    lh_test_fx.log[0] = 0;
    return lh_store_open(path, &o, st);
}

START_TEST(test_store_open_unopenable_path)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/no/such/dir/hub.db", lh_test_fx.dir);
    lh_store_t *st = NULL;
    int rc = open_store(path, 0, &st);
    ck_assert_msg(rc == LH_ESTORE, "rc %s", lh_err_name(rc));
    ck_assert_ptr_null(st);
    ck_assert_msg(strstr(lh_test_fx.log, path) != NULL, "log: %s", lh_test_fx.log);
}
END_TEST

START_TEST(test_store_readonly_not_a_store)
{
    lh_store_t *st = NULL;
    /* an empty SQLite database: not a store, and not made one by a read-only open */
    make_db(lh_test_fx.db, "CREATE TABLE notes(x); DROP TABLE notes;");
    ck_assert_int_eq(open_store(lh_test_fx.db, 1, &st), LH_ESTORE);
    ck_assert_ptr_null(st);
    ck_assert_msg(strstr(lh_test_fx.log, "is not a loophub store (empty database)") != NULL,
                  "log: %s", lh_test_fx.log);
    ck_assert_int_eq(db_int(lh_test_fx.db, "PRAGMA user_version"), 0);
}
END_TEST

START_TEST(test_store_readonly_older_schema)
{
    lh_store_t *st = NULL;
    /* a store at an older schema version: read-only opens do not migrate it */
    make_db(lh_test_fx.db, "CREATE TABLE kept(x); INSERT INTO kept VALUES (42); "
                           "PRAGMA user_version = 1;");
    ck_assert_int_eq(open_store(lh_test_fx.db, 1, &st), LH_ESCHEMA);
    ck_assert_ptr_null(st);
    char want[128];
    snprintf(want, sizeof(want), "has schema version 1, older than this loophub's %d",
             lh_store_schema_version());
    ck_assert_msg(strstr(lh_test_fx.log, want) != NULL, "log: %s", lh_test_fx.log);
    ck_assert_msg(strstr(lh_test_fx.log, "open it once with `loophub run` to migrate it") != NULL,
                  "log: %s", lh_test_fx.log);
    ck_assert_int_eq(db_int(lh_test_fx.db, "PRAGMA user_version"), 1);
    ck_assert_int_eq(db_int(lh_test_fx.db, "SELECT x FROM kept"), 42);
}
END_TEST

START_TEST(test_store_failed_migration_changes_nothing)
{
    lh_store_t *st = NULL;
    /* version 0 with a table of the user's own named like the schema's first: the first
     * migration fails half-way and is rolled back, the user's data stays */
    make_db(lh_test_fx.db, "CREATE TABLE events(note TEXT); INSERT INTO events VALUES ('mine');");
    int rc = open_store(lh_test_fx.db, 0, &st);
    ck_assert_msg(rc == LH_ESTORE, "rc %s", lh_err_name(rc));
    ck_assert_ptr_null(st);
    ck_assert_msg(strstr(lh_test_fx.log, "migrating the schema") != NULL, "log: %s",
                  lh_test_fx.log);
    ck_assert_int_eq(db_int(lh_test_fx.db, "PRAGMA user_version"), 0);
    ck_assert_int_eq(db_int(lh_test_fx.db, "SELECT count(*) FROM events WHERE note = 'mine'"), 1);
    ck_assert_int_eq(db_int(lh_test_fx.db, "SELECT count(*) FROM sqlite_master"), 1);
}
END_TEST

/* ---- query argument checks (query.c) ------------------------------------------------------- */

START_TEST(test_query_bad_arguments)
{
    lh_query_format_t f = LH_QUERY_TEXT;
    ck_assert_int_eq(lh_query_format_parse(NULL, &f), LH_EINVAL);
    ck_assert_int_eq(lh_query_format_parse("xml", &f), LH_EINVAL);
    ck_assert_int_eq(lh_query_format_parse("JSON", &f), LH_EINVAL);
    ck_assert_int_eq(f, LH_QUERY_TEXT);
    ck_assert_int_eq(lh_query_format_parse("json", &f), 0);
    ck_assert_int_eq(f, LH_QUERY_JSON);
    ck_assert_int_eq(lh_query_format_parse("text", &f), 0);
    ck_assert_int_eq(f, LH_QUERY_TEXT);

    lh_store_t *st = NULL;
    ck_assert_int_eq(open_store(lh_test_fx.db, 0, &st), 0);
    lh_buf_t out = LH_BUF_INIT;
    lh_timeline_req_t r;
    int64_t before = 0;
    ck_assert_int_eq(lh_query_expired_before(st, LH_KIND_NONE, &before), LH_EINVAL);
    ck_assert_int_eq(lh_query_expired_before(st, (lh_kind_t)9, &before), LH_EINVAL);
    ck_assert_int_eq(lh_query_expired_before(st, LH_KIND_ALERT, &before), 0);
    ck_assert_int_eq(before, 0);

    lh_timeline_req_default(&r);
    r.mode = LH_TIMELINE_DEPLOY;
    ck_assert_int_eq(lh_query_timeline(st, &r, LH_QUERY_TEXT, &out), LH_EINVAL);
    r.deploy_id = "";
    ck_assert_int_eq(lh_query_timeline(st, &r, LH_QUERY_TEXT, &out), LH_EINVAL);
    r.deploy_id = "d-1";
    r.window_ns = -1;
    ck_assert_int_eq(lh_query_timeline(st, &r, LH_QUERY_TEXT, &out), LH_EINVAL);

    lh_timeline_req_default(&r); /* mode NONE */
    ck_assert_int_eq(lh_query_timeline(st, &r, LH_QUERY_JSON, &out), LH_EINVAL);
    r.mode = LH_TIMELINE_INCIDENT;
    r.incident_id = "INC-1";
    ck_assert_int_eq(lh_query_timeline(st, &r, (lh_query_format_t)7, &out), LH_EINVAL);
    r.limit = -1;
    ck_assert_int_eq(lh_query_timeline(st, &r, LH_QUERY_JSON, &out), LH_EINVAL);

    /* a service period that ends before it starts */
    lh_timeline_req_default(&r);
    r.mode = LH_TIMELINE_SERVICE;
    r.service = "api";
    r.environment = "prod";
    r.now_ns = NOW_NS;
    r.from_ns = NOW_NS;
    r.until_ns = NOW_NS - LH_NS_PER_SEC;
    ck_assert_int_eq(lh_query_timeline(st, &r, LH_QUERY_TEXT, &out), LH_EINVAL);
    r.from_ns = 0;
    r.until_ns = 0;
    r.since_ns = -1;
    ck_assert_int_eq(lh_query_timeline(st, &r, LH_QUERY_TEXT, &out), LH_EINVAL);
    r.since_ns = 3600 * LH_NS_PER_SEC;
    r.environment = "";
    ck_assert_int_eq(lh_query_timeline(st, &r, LH_QUERY_TEXT, &out), LH_EINVAL);
    /* nothing was written for any of them; a good request still answers */
    ck_assert_uint_eq(out.len, 0);
    r.environment = "prod";
    ck_assert_int_eq(lh_query_timeline(st, &r, LH_QUERY_JSON, &out), 0);
    ck_assert_uint_gt(out.len, 0);
    lh_buf_free(&out);
    lh_store_close(&st);
}
END_TEST

/* ---- decoders (codec.c) ------------------------------------------------------------------- */

START_TEST(test_json_decode_unparsable)
{
    /* lh_codec_json_decode: JSON that does not parse, with the parser's reason and position */
    const char *bad[] = {"{\"id\": \"d-1\",", "\"a string\"", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char why[320] = "";
        lh_event_t *ev = NULL;
        int rc = lh_codec_json_decode(bad[i], strlen(bad[i]), &ev, why, sizeof(why));
        ck_assert_msg(rc == LH_EDECODE, "'%s': rc %s", bad[i], lh_err_name(rc));
        ck_assert_ptr_null(ev);
        ck_assert_msg(strncmp(why, "invalid JSON at line 1", 22) == 0, "'%s': %s", bad[i], why);
    }
}
END_TEST

/* What a decode told its sink: the events, and the first rejection. */
typedef struct {
    int n_events, n_rejects;
    lh_event_t *ev; /* the first event */
    int err;
    char why[320];
} sink_t;

static int
collect(lh_event_t *ev, int err, const char *id, const char *why, void *arg)
{
    (void)id;
    sink_t *s = arg;
    if (ev) {
        if (s->n_events++ == 0)
            s->ev = ev;
        else
            lh_event_destroy(&ev);
    } else if (s->n_rejects++ == 0) {
        s->err = err;
        snprintf(s->why, sizeof(s->why), "%s", why ? why : "");
    }
    return 0;
}

/* Decodes text as fmt and checks the one rejection it must give: code and whole reason. */
static void
reject_one(const char *text, lh_format_t fmt, int err, const char *why)
{
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    sink_t s = {0};
    int rc = lh_codec_decode(text, strlen(text), fmt, &o, collect, &s);
    ck_assert_msg(rc >= 1, "%s: rc %s", text, lh_err_name(rc));
    ck_assert_msg(s.n_events == 0 && s.n_rejects == 1, "%s: %d events, %d rejections", text,
                  s.n_events, s.n_rejects);
    ck_assert_msg(s.err == err, "%s: %s, want %s (%s)", text, lh_err_name(s.err), lh_err_name(err),
                  s.why);
    ck_assert_str_eq(s.why, why);
}

/* Decodes text as fmt into exactly one event (the caller destroys it). */
static lh_event_t *
decode_ok(const char *text, lh_format_t fmt)
{
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    sink_t s = {0};
    lh_codec_decode(text, strlen(text), fmt, &o, collect, &s);
    ck_assert_msg(s.n_events == 1 && s.n_rejects == 0, "%s: %d events, %d rejections (%s)", text,
                  s.n_events, s.n_rejects, s.why);
    return s.ev;
}

#define AM_GROUP(alert)                                                                            \
    "{\"version\":\"4\",\"groupKey\":\"{}:{}\",\"receiver\":\"loophub\",\"alerts\":[" alert "]}"
#define AM_LABELS "\"labels\":{\"alertname\":\"HighErrorRate\",\"service\":\"api\"}"
#define AM_STARTS "\"startsAt\":\"2026-11-26T09:00:00Z\""

START_TEST(test_alertmanager_rejections)
{
    reject_one(AM_GROUP("{\"status\":5," AM_LABELS "," AM_STARTS "}"), LH_FMT_ALERTMANAGER,
               LH_EDECODE, "field 'alerts[0].status' must be a string, got a number");
    /* neither the alert nor the group says firing or resolved */
    reject_one(AM_GROUP("{" AM_LABELS "," AM_STARTS "}"), LH_FMT_ALERTMANAGER, LH_EMISSING,
               "missing mandatory field 'alerts[0].status'");
    reject_one(AM_GROUP("{\"status\":\"firing\",\"labels\":\"api\"," AM_STARTS "}"),
               LH_FMT_ALERTMANAGER, LH_EDECODE,
               "field 'alerts[0].labels' must be an object, got a string");
    reject_one(
        AM_GROUP("{\"status\":\"firing\"," AM_LABELS ",\"annotations\":[\"x\"]," AM_STARTS "}"),
        LH_FMT_ALERTMANAGER, LH_EDECODE,
        "field 'alerts[0].annotations' must be an object, got an array");
    reject_one(AM_GROUP("{\"status\":\"resolved\"," AM_LABELS "," AM_STARTS "}"),
               LH_FMT_ALERTMANAGER, LH_EMISSING,
               "missing field 'alerts[0].endsAt' (a resolved alert needs it)");
    /* the group's status stands in for the alert's */
    lh_event_t *ev = decode_ok("{\"version\":\"4\",\"groupKey\":\"{}:{}\",\"status\":\"firing\","
                               "\"alerts\":[{" AM_LABELS "," AM_STARTS "}]}",
                               LH_FMT_ALERTMANAGER);
    ck_assert_int_eq(ev->alert.state, LH_ALERT_FIRING);
    lh_event_destroy(&ev);
}
END_TEST

#define CE(type, rest)                                                                             \
    "{\"specversion\":\"1.0\",\"id\":\"e-1\",\"source\":\"/ci\",\"type\":\"dev.cdevents." type     \
    "\"," rest "}"
#define DEPLOYED "service.deployed.0.3.0"
#define T_2026 "\"time\":\"2026-11-20T10:00:00Z\""

START_TEST(test_cloudevents_rejections)
{
    reject_one(CE(DEPLOYED, T_2026 ",\"data\":{\"context\":5,\"subject\":{\"id\":\"a\"}}"),
               LH_FMT_CLOUDEVENTS, LH_EDECODE,
               "field 'data.context' must be an object, got a number");
    /* no envelope time: the CDEvent's own timestamp is read, and named when it is wrong */
    reject_one(CE(DEPLOYED, "\"data\":{\"context\":{\"timestamp\":5},\"subject\":{\"id\":\"a\"}}"),
               LH_FMT_CLOUDEVENTS, LH_EDECODE,
               "field 'data.context.timestamp' must be a string, got a number");
    reject_one(
        CE(DEPLOYED, "\"data\":{\"context\":{\"timestamp\":\"today\"},\"subject\":{\"id\":\"a\"}}"),
        LH_FMT_CLOUDEVENTS, LH_EDECODE,
        "field 'data.context.timestamp' is not an RFC 3339 time: 'today'");
    lh_event_t *ev = decode_ok(CE(DEPLOYED, "\"data\":{\"context\":{\"timestamp\":\"2026-11-20T10:"
                                            "00:00Z\"},\"subject\":{\"id\":\"a\"}}"),
                               LH_FMT_CLOUDEVENTS);
    ck_assert_int_eq(ev->time_ns, 1795687200LL * LH_NS_PER_SEC - 6 * 86400LL * LH_NS_PER_SEC);
    lh_event_destroy(&ev);

    reject_one(CE(DEPLOYED, T_2026 ",\"data\":{\"subject\":{\"id\":\"a\",\"content\":\"x\"}}"),
               LH_FMT_CLOUDEVENTS, LH_EDECODE,
               "field 'data.subject.content' must be an object, got a string");
    reject_one(CE(DEPLOYED, T_2026 ",\"data\":{\"subject\":{\"id\":\"a\"},\"customData\":{"
                                   "\"labels\":\"team=pay\"}}"),
               LH_FMT_CLOUDEVENTS, LH_EDECODE,
               "field 'data.customData.labels' must be an object, got a string");
    reject_one(CE(DEPLOYED, T_2026 ",\"data\":{\"subject\":{\"id\":\"a\"},\"customData\":{"
                                   "\"service\":[\"api\"]}}"),
               LH_FMT_CLOUDEVENTS, LH_EDECODE,
               "field 'data.customData.service' must be a string, got an array");
    reject_one(CE(DEPLOYED, T_2026 ",\"data\":{\"subject\":{\"id\":\"a\"},\"customData\":{"
                                   "\"environment\":1}}"),
               LH_FMT_CLOUDEVENTS, LH_EDECODE,
               "field 'data.customData.environment' must be a string, got a number");
    /* an extra by its loophub name as an envelope attribute: read, and named when wrong */
    ev = decode_ok(
        CE(DEPLOYED, T_2026 ",\"deploy_id\":\"d-9\",\"data\":{\"subject\":{\"id\":\"a\"}}"),
        LH_FMT_CLOUDEVENTS);
    ck_assert_str_eq(ev->deploy.deploy_id, "d-9");
    lh_event_destroy(&ev);
    reject_one(CE(DEPLOYED, T_2026 ",\"deploy_id\":9,\"data\":{\"subject\":{\"id\":\"a\"}}"),
               LH_FMT_CLOUDEVENTS, LH_EDECODE, "field 'deploy_id' must be a string, got a number");

    reject_one(CE(DEPLOYED, T_2026 ",\"data\":{\"subject\":{\"id\":\"a\"},\"customData\":{"
                                   "\"commit_time\":\"yesterday\"}}"),
               LH_FMT_CLOUDEVENTS, LH_EDECODE,
               "field 'commit_time' is not an RFC 3339 time: 'yesterday'");
    reject_one(CE("ticket.created.0.1.0",
                  T_2026 ",\"data\":{\"subject\":{\"id\":\"T-1\"},\"customData\":{\"links\":5}}"),
               LH_FMT_CLOUDEVENTS, LH_EDECODE,
               "field 'data.customData.links' must be an array of strings, got a number");

    /* bare CDEvents */
    reject_one("{\"subject\":{\"id\":\"a\"}}", LH_FMT_CLOUDEVENTS, LH_EMISSING,
               "missing mandatory field 'context'");
    reject_one("{\"context\":{\"id\":1},\"subject\":{\"id\":\"a\"}}", LH_FMT_CLOUDEVENTS,
               LH_EDECODE, "field 'context.id' must be a string, got a number");
    reject_one("{\"context\":{\"id\":\"c\",\"specversion\":0.5},\"subject\":{\"id\":\"a\"}}",
               LH_FMT_CLOUDEVENTS, LH_EDECODE,
               "field 'context.specversion' must be a string, got a number");
    reject_one("{\"context\":{\"id\":\"c\",\"version\":true},\"subject\":{\"id\":\"a\"}}",
               LH_FMT_CLOUDEVENTS, LH_EDECODE,
               "field 'context.version' must be a string, got a boolean");
}
END_TEST

START_TEST(test_alert_json_rejections)
{
    /* a consumer's decoder of the hub's own alerts (loophub tail) */
    const char *bad[] = {"[]", "{\"id\":5}", "{\"id\":\"a\",\"more_suspects\":-1}",
                         "{\"id\":\"a\",\"more_suspects\":\"3\"}", "{\"id\":\"a\","};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        lh_correlated_t *ca = NULL;
        int rc = lh_codec_alert_json_decode(bad[i], strlen(bad[i]), &ca);
        ck_assert_msg(rc == LH_EDECODE, "%s: rc %s", bad[i], lh_err_name(rc));
        ck_assert_ptr_null(ca);
    }
    lh_correlated_t *ca = NULL;
    const char *ok = "{\"id\":\"a\",\"more_suspects\":3}";
    ck_assert_int_eq(lh_codec_alert_json_decode(ok, strlen(ok), &ca), 0);
    ck_assert_uint_eq(ca->more_suspects, 3);
    lh_correlated_destroy(&ca);
}
END_TEST

START_TEST(test_cloudevents_data_and_artifacts)
{
    reject_one(CE(DEPLOYED, T_2026 ",\"data_base64\":7"), LH_FMT_CLOUDEVENTS, LH_EDECODE,
               "field 'data_base64' must be a string, got a number");
    /* the version is read from a package URL artifact only; other artifacts leave it unset */
    static const struct {
        const char *artifact, *version;
    } cases[] = {
        {"pkg:oci/checkout@1.2", "1.2"}, {"docker.io/checkout:1.2", NULL},
        {"pkg:oci@1.2", NULL},           {"pkg:oci/checkout", NULL},
        {"pkg:oci/checkout@", NULL},     {"pkg:oci/checkout@1%002", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text),
                 CE(DEPLOYED, T_2026 ",\"data\":{\"subject\":{\"id\":\"a\",\"content\":{"
                                     "\"artifactId\":\"%s\"}}}"),
                 cases[i].artifact);
        lh_event_t *ev = decode_ok(text, LH_FMT_CLOUDEVENTS);
        ck_assert_str_eq(ev->deploy.artifact, cases[i].artifact);
        if (cases[i].version)
            ck_assert_pstr_eq(ev->deploy.version, cases[i].version);
        else
            ck_assert_msg(!ev->deploy.version, "%s: version '%s'", cases[i].artifact,
                          ev->deploy.version);
        lh_event_destroy(&ev);
    }
}
END_TEST

START_TEST(test_cloudevents_binary_ignored_attributes)
{
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    char longname[80];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    const lh_kv_t attrs[] = {
        {"specversion", "1.0", 3},
        {"id", "e-7", 3},
        {"source", "/ci", 3},
        {"type", "dev.cdevents." DEPLOYED, strlen("dev.cdevents." DEPLOYED)},
        {"time", "2026-11-20T10:00:00Z", 20},
        {"data", "{\"not\":\"this\"}", 14}, /* the data is the body, never an attribute */
        {longname, "v", 1},                 /* no attribute name is that long */
        {NULL, "v", 1},
        {"", "v", 1},
    };
    const char *data = "{\"subject\":{\"id\":\"checkout\"}}";
    sink_t s = {0};
    ck_assert_int_eq(lh_codec_decode_ce_binary(attrs, sizeof(attrs) / sizeof(attrs[0]), data,
                                               strlen(data), &o, collect, &s),
                     1);
    ck_assert_msg(s.n_events == 1, "%d events, rejected: %s", s.n_events, s.why);
    ck_assert_str_eq(s.ev->id, "e-7");
    ck_assert_str_eq(s.ev->service, "checkout");
    lh_event_destroy(&s.ev);

    /* a structured content type (whitespace before it) wins over ce- headers: the body is read */
    const lh_kv_t headers[] = {
        {"ce-specversion", "1.0", 3},
        {"ce-id", "from-header", 11},
        {"Content-Type", "  application/cloudevents+json", 30},
    };
    const char *body = CE(DEPLOYED, T_2026 ",\"data\":{\"subject\":{\"id\":\"checkout\"}}");
    memset(&s, 0, sizeof(s));
    lh_codec_decode_msg(body, strlen(body), LH_FMT_AUTO, headers, 3, &o, collect, &s);
    ck_assert_msg(s.n_events == 1, "%d events, rejected: %s", s.n_events, s.why);
    ck_assert_str_eq(s.ev->id, "e-1");
    lh_event_destroy(&s.ev);
}
END_TEST

START_TEST(test_decoder_edges)
{
    /* base64 data in the URL-safe alphabet, with a line break inside, decodes as the standard */
    lh_event_t *ev = decode_ok(
        CE(DEPLOYED, T_2026 ",\"data_base64\":\"eyJzdWJqZWN0Ijp7ImlkIjoi\\nw7_Dv8O-In19\""),
        LH_FMT_CLOUDEVENTS);
    ck_assert_str_eq(ev->service, "\xc3\xbf\xc3\xbf\xc3\xbe");
    lh_event_destroy(&ev);
    /* an empty extra is no extra */
    ev = decode_ok(CE(DEPLOYED, T_2026 ",\"data\":{\"subject\":{\"id\":\"a\"},\"customData\":{"
                                       "\"environment\":\"\"}}"),
                   LH_FMT_CLOUDEVENTS);
    ck_assert_ptr_null(ev->environment);
    lh_event_destroy(&ev);
    /* an empty string field of a loophub JSON event is an absent one */
    ev = decode_ok("{\"id\":\"d-1\",\"time\":\"2026-11-26T10:00:00Z\",\"service\":\"api\","
                   "\"environment\":\"\",\"deploy\":{\"version\":\"1.2\"}}",
                   LH_FMT_JSON);
    ck_assert_ptr_null(ev->environment);
    ck_assert_str_eq(ev->deploy.version, "1.2");
    lh_event_destroy(&ev);
    /* a header without a name is skipped */
    lh_codec_opts_t o;
    lh_codec_opts_default(&o);
    const lh_kv_t headers[] = {{NULL, "x", 1}, {"Content-Type", "application/json", 16}};
    const char *body = "{\"id\":\"d-2\",\"time\":\"2026-11-26T10:00:00Z\",\"service\":\"api\","
                       "\"deploy\":{\"version\":\"1.3\"}}";
    sink_t s = {0};
    lh_codec_decode_msg(body, strlen(body), LH_FMT_AUTO, headers, 2, &o, collect, &s);
    ck_assert_msg(s.n_events == 1, "%d events, rejected: %s", s.n_events, s.why);
    ck_assert_str_eq(s.ev->id, "d-2");
    lh_event_destroy(&s.ev);
    /* the hub's own alert JSON: an empty string is an absent field */
    lh_correlated_t *ca = NULL;
    const char *j = "{\"id\":\"a\",\"service\":\"\"}";
    ck_assert_int_eq(lh_codec_alert_json_decode(j, strlen(j), &ca), 0);
    ck_assert_ptr_null(ca->service);
    lh_correlated_destroy(&ca);
}
END_TEST

START_TEST(test_json_decode_not_an_object)
{
    const char *roots[] = {"[]", "[{\"id\":\"d-1\"}]"};
    for (size_t i = 0; i < 2; i++) {
        char why[320] = "";
        lh_event_t *ev = NULL;
        ck_assert_int_eq(lh_codec_json_decode(roots[i], strlen(roots[i]), &ev, why, sizeof(why)),
                         LH_EDECODE);
        ck_assert_ptr_null(ev);
        ck_assert_str_eq(why, "an event must be a JSON object, not an array");
    }
}
END_TEST

START_TEST(test_alertmanager_edges)
{
    /* an empty status is no status */
    reject_one(AM_GROUP("{\"status\":\"\"," AM_LABELS "," AM_STARTS "}"), LH_FMT_ALERTMANAGER,
               LH_EMISSING, "missing mandatory field 'alerts[0].status'");
    /* a bare IPv6 instance (no brackets) is kept whole as the host */
    lh_event_t *ev = decode_ok(
        AM_GROUP("{\"status\":\"firing\",\"labels\":{\"alertname\":\"Down\",\"service\":\"api\","
                 "\"instance\":\"fe80::1:9100\"}," AM_STARTS "}"),
        LH_FMT_ALERTMANAGER);
    ck_assert_uint_eq(ev->n_hosts, 1);
    ck_assert_str_eq(ev->hosts[0], "fe80::1:9100");
    lh_event_destroy(&ev);
    /* an empty alerts list holds no event: one rejection says so */
    reject_one(AM_GROUP(""), LH_FMT_ALERTMANAGER, LH_EMISSING,
               "field 'alerts' is empty: the notification holds no alert");
}
END_TEST

START_TEST(test_alert_pb_unknown_kind)
{
    lh_correlated_t *ca = lh_correlated_new();
    ck_assert_ptr_nonnull(ca);
    ca->id = strdup("a-1");
    ca->kind = (lh_ca_kind_t)99;
    lh_buf_t b = LH_BUF_INIT;
    ck_assert_int_eq(lh_codec_alert_pb_encode(ca, &b), 0);
    lh_correlated_destroy(&ca);
    lh_correlated_t *back = NULL;
    ck_assert_int_eq(lh_codec_alert_pb_decode(b.data, b.len, &back), LH_EDECODE);
    ck_assert_ptr_null(back);
    lh_buf_free(&b);

    /* a suspect's lead time must be a number of seconds */
    const char *j = "{\"id\":\"a\",\"suspects\":[{\"deploy_id\":\"d-1\",\"lead_seconds\":\"5\"}]}";
    ck_assert_int_eq(lh_codec_alert_json_decode(j, strlen(j), &back), LH_EDECODE);
    ck_assert_ptr_null(back);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("bad_input");
    const lh_test_case_t plain[] = {
        {"validate_limits", test_validate_counts_over_the_limits, 0, 0},
        {"validate_utf8_lists", test_validate_utf8_in_lists, 0, 0},
        {"validate_utf8_4byte", test_validate_utf8_four_byte_forms, 0, 0},
        {"validate_commit_time", test_validate_commit_time_before_1970, 0, 0},
        {"parsers", test_time_and_name_parsers, 0, 0},
        {"options_values", test_options_bad_values, 0, 0},
        {"options_usage", test_options_bad_usage, 0, 0},
        {"options_redaction", test_options_redaction_patterns, 0, 0},
        {"run_defaults", test_run_defaults_are_documented, 0, 0},
        {"config_file", test_config_file_errors, 0, 0},
        {"json_unparsable", test_json_decode_unparsable, 0, 0},
        {"alertmanager", test_alertmanager_rejections, 0, 0},
        {"cloudevents", test_cloudevents_rejections, 0, 0},
        {"alert_json", test_alert_json_rejections, 0, 0},
        {"ce_data_artifacts", test_cloudevents_data_and_artifacts, 0, 0},
        {"ce_binary_ignored", test_cloudevents_binary_ignored_attributes, 0, 0},
        {"json_not_object", test_json_decode_not_an_object, 0, 0},
        {"decoder_edges", test_decoder_edges, 0, 0},
        {"alertmanager_edges", test_alertmanager_edges, 0, 0},
        {"alert_pb_kind", test_alert_pb_unknown_kind, 0, 0},
    };
    const lh_test_case_t store[] = {
        {"store_unopenable", test_store_open_unopenable_path, 0, 0},
        {"store_ro_not_store", test_store_readonly_not_a_store, 0, 0},
        {"store_ro_older", test_store_readonly_older_schema, 0, 0},
        {"store_migration", test_store_failed_migration_changes_nothing, 0, 0},
        {"query_args", test_query_bad_arguments, 0, 0},
    };
    lh_test_add_cases(s, plain, LH_TEST_COUNT(plain), 30, NULL, NULL);
    lh_test_add_cases(s, store, LH_TEST_COUNT(store), 30, lh_test_store_setup,
                      lh_test_store_teardown);
    return lh_test_run_suite(s);
}
