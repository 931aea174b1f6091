/*
 * check_redact.c - privacy scrubbing (hub/redact, redact.h): every default rule, configured rules,
 * bad patterns, clean events left alone, ids never altered, the raw-bytes rule; then the hub
 * with a real store, proving that no secret reaches a stored event (any table of the store
 * file), a published alert, the quarantine or the log; the [redaction] settings; and
 * `loophub redact-check`.
 */
#include <check.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "hub.h"
#include "loophub/error.h"
#include "loophub/format.h"
#include "loophub/log.h"
#include "loophub/timeutil.h"
#include "redact.h"
#include "testutil.h"

/* The secrets of these tests: none of them may appear anywhere the hub writes. */
#define PW "hunter2-S3CRET"
#define JWT "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.sig-0123"
#define AWS "AKIAIOSFODNN7EXAMPLE"
#define URLPW "p4ss-URL-w0rd"

static const char *const secrets[] = {PW, JWT, AWS, URLPW};
#define N_SECRETS (sizeof(secrets) / sizeof(secrets[0]))

static lh_redact_t *
rules(int defaults, const char *key, const char *value)
{
    lh_redact_opts_t o;
    lh_redact_opts_default(&o);
    o.defaults = defaults;
    o.keys = key ? &key : NULL;
    o.n_keys = key ? 1 : 0;
    o.values = value ? &value : NULL;
    o.n_values = value ? 1 : 0;
    lh_redact_t *r = NULL;
    char why[256];
    ck_assert_int_eq(lh_redact_new(&o, &r, why, sizeof(why)), 0);
    return r;
}

static lh_event_t *
json_event(const char *j)
{
    lh_event_t *ev = NULL;
    char why[256];
    int rc = lh_codec_decode_one(j, strlen(j), LH_FMT_JSON, NULL, &ev, why, sizeof(why));
    ck_assert_msg(rc == 0, "%s: %s", j, why);
    return ev;
}

/* One string through the value rules: the scrubbed copy (malloc'd), or a copy when unchanged. */
static char *
scrub(const lh_redact_t *r, const char *s, int *n)
{
    char *out = NULL;
    size_t len;
    *n = lh_redact_bytes(r, s, strlen(s), &out, &len);
    ck_assert_int_ge(*n, 0);
    if (*n == 0)
        return strdup(s);
    ck_assert_uint_eq(strlen(out), len);
    return out;
}

static void
expect_scrub(const lh_redact_t *r, const char *in, const char *want)
{
    int n;
    char *got = scrub(r, in, &n);
    ck_assert_msg(strcmp(got, want) == 0, "'%s' -> '%s', want '%s'", in, got, want);
    ck_assert_int_eq(n > 0, strcmp(in, want) != 0);
    free(got);
}

/* ---- the scrubber ------------------------------------------------------------------------- */

START_TEST(test_default_key_rule)
{
    lh_redact_t *r = rules(1, NULL, NULL);
    lh_event_t *ev = json_event(
        "{\"id\":\"e-1\",\"kind\":\"deploy\",\"time\":\"2026-01-10T10:00:00Z\",\"service\":\"api\","
        "\"labels\":{\"password\":\"a1\",\"DB_PASSWD\":\"a2\",\"client_secret\":\"a3\","
        "\"token\":\"a4\",\"api_key\":\"a5\",\"X-Api-Key\":\"a6\",\"apikey\":\"a7\","
        "\"Authorization\":\"a8\",\"Cookie\":\"a9\",\"session_id\":\"a10\",\"team\":\"core\","
        "\"empty_token\":\"[redacted]\"},\"deploy\":{\"version\":\"2\"}}");
    ck_assert_int_eq(lh_redact_event(r, ev, NULL, NULL), 10);
    for (size_t i = 0; i < ev->n_labels; i++) {
        const lh_label_t *l = &ev->labels[i];
        if (strcmp(l->key, "team") == 0)
            ck_assert_str_eq(l->value, "core");
        else
            ck_assert_msg(strcmp(l->value, LH_REDACTED) == 0, "%s = %s", l->key, l->value);
    }
    /* changed: the original JSON is not kept */
    ck_assert_ptr_null(ev->raw);
    ck_assert_uint_eq(ev->raw_len, 0);
    lh_event_destroy(&ev);
    lh_redact_destroy(&r);
}
END_TEST

START_TEST(test_default_value_rules)
{
    lh_redact_t *r = rules(1, NULL, NULL);
    /* bearer tokens */
    expect_scrub(r, "curl -H 'Authorization: Bearer " JWT "' x",
                 "curl -H 'Authorization: Bearer [redacted]' x");
    expect_scrub(r, "bearer " JWT, "bearer [redacted]");
    /* AWS access key ids, long-lived and temporary */
    expect_scrub(r, "key " AWS " leaked", "key [redacted] leaked");
    expect_scrub(r, "ASIAABCDEFGHIJKLMNOP,", "[redacted],");
    expect_scrub(r, "AKIA-short", "AKIA-short");
    /* URL credentials: the user stays, the password goes, '@' in it included */
    expect_scrub(r, "clone https://bob:" URLPW "@git.example/x.git now",
                 "clone https://bob:[redacted]@git.example/x.git now");
    expect_scrub(r, "postgres://app:p@ss@db:5432/app", "postgres://app:[redacted]@db:5432/app");
    expect_scrub(r, "https://git.example:8443/x?mail=a@b", "https://git.example:8443/x?mail=a@b");
    /* key=value, key: value, JSON, query strings */
    expect_scrub(r, "login with password=" PW " failed", "login with password=[redacted] failed");
    expect_scrub(r, "GET /x?a=1&api_key=abc123&b=2", "GET /x?a=1&api_key=[redacted]&b=2");
    expect_scrub(r, "{\"db_token\": \"" PW "\", \"n\": 1}",
                 "{\"db_token\": \"[redacted]\", \"n\": 1}");
    expect_scrub(r, "Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic [redacted]");
    expect_scrub(r, "Cookie: session_id=" PW, "Cookie: [redacted]");
    expect_scrub(r, "SECRET: " PW, "SECRET: [redacted]");
    /* nothing to hide */
    expect_scrub(r, "deploy 2.3.1 of api to prod: 3 tokens of 5",
                 "deploy 2.3.1 of api to prod: 3 tokens of 5");
    expect_scrub(r, "", "");
    /* scrubbing again changes nothing more */
    expect_scrub(r, "password=[redacted] https://u:[redacted]@h bearer [redacted]",
                 "password=[redacted] https://u:[redacted]@h bearer [redacted]");
    lh_redact_destroy(&r);
}
END_TEST

/* Every string field but the ids and references; the report names each field, never a secret. */
typedef struct {
    char fields[1024];
    int secret_seen;
} seen_t;

static void
on_field(const char *field, const char *after, void *arg)
{
    seen_t *s = arg;
    size_t n = strlen(s->fields);
    snprintf(s->fields + n, sizeof(s->fields) - n, "%s,", field);
    for (size_t i = 0; i < N_SECRETS; i++)
        if (strstr(after, secrets[i]) || strstr(field, secrets[i]))
            s->secret_seen = 1;
}

START_TEST(test_every_string_field_ids_untouched)
{
    lh_redact_t *r = rules(1, NULL, NULL);
    /* ids and references that look like secrets stay: they dedupe and link events */
    const char *sec = "token=" PW;
    lh_event_t *ev = json_event(
        "{\"id\":\"token=" PW "\",\"kind\":\"ticket\",\"time\":\"2026-01-10T10:00:00Z\","
        "\"source\":\"https://ci:" URLPW "@ci.example\",\"service\":\"api\",\"environment\":\"p\","
        "\"actor\":\"bob password=" PW "\",\"hosts\":[\"h1\",\"https://u:" URLPW "@h2\"],"
        "\"labels\":{\"note\":\"bearer " JWT "\"},"
        "\"ticket\":{\"ticket_id\":\"token=" PW "\",\"type\":\"change\",\"state\":\"created\","
        "\"url\":\"https://u:" URLPW "@jira/x\",\"summary\":\"uses " AWS "\","
        "\"links\":[\"ok\",\"https://a:" URLPW "@b/c\"]}}");
    seen_t s = {"", 0};
    ck_assert_int_eq(lh_redact_event(r, ev, on_field, &s), 7);
    ck_assert_str_eq(s.fields, "source,actor,hosts[1],labels.note,ticket.links[1],ticket.url,"
                               "ticket.summary,raw,");
    ck_assert_int_eq(s.secret_seen, 0);
    ck_assert_str_eq(ev->id, sec);
    ck_assert_str_eq(ev->ticket.ticket_id, sec);
    ck_assert_str_eq(ev->actor, "bob password=[redacted]");
    ck_assert_str_eq(ev->hosts[0], "h1");
    ck_assert_str_eq(ev->hosts[1], "https://u:[redacted]@h2");
    lh_event_destroy(&ev);

    ev = json_event("{\"id\":\"a-1\",\"kind\":\"alert\",\"time\":\"2026-01-10T10:00:00Z\","
                    "\"service\":\"api\",\"alert\":{\"name\":\"n password=" PW "\","
                    "\"fingerprint\":\"token=" PW "\",\"summary\":\"s " AWS "\","
                    "\"artifact\":\"oci://u:" URLPW "@r/i\"}}");
    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(lh_redact_event(r, ev, on_field, &s), 3);
    ck_assert_str_eq(s.fields, "alert.name,alert.summary,alert.artifact,raw,");
    ck_assert_str_eq(ev->alert.fingerprint, sec);
    lh_event_destroy(&ev);

    ev = json_event("{\"id\":\"i-1\",\"kind\":\"incident\",\"time\":\"2026-01-10T10:00:00Z\","
                    "\"service\":\"api\",\"incident\":{\"incident_id\":\"token=" PW "\","
                    "\"ticket\":\"token=" PW "\",\"title\":\"db password: " PW "\"}}");
    ck_assert_int_eq(lh_redact_event(r, ev, NULL, NULL), 1);
    ck_assert_str_eq(ev->incident.title, "db password: [redacted]");
    ck_assert_str_eq(ev->incident.incident_id, sec);
    ck_assert_str_eq(ev->incident.ticket, sec);
    lh_event_destroy(&ev);

    ev = json_event("{\"id\":\"d-1\",\"kind\":\"deploy\",\"time\":\"2026-01-10T10:00:00Z\","
                    "\"service\":\"api\",\"deploy\":{\"deploy_id\":\"token=" PW "\","
                    "\"change_ticket\":\"token=" PW "\",\"version\":\"v token=" PW "\","
                    "\"artifact\":\"https://u:" URLPW "@reg/app:2\"}}");
    ck_assert_int_eq(lh_redact_event(r, ev, NULL, NULL), 2);
    ck_assert_str_eq(ev->deploy.deploy_id, sec);
    ck_assert_str_eq(ev->deploy.change_ticket, sec);
    ck_assert_str_eq(ev->deploy.artifact, "https://u:[redacted]@reg/app:2");
    lh_event_destroy(&ev);
    lh_redact_destroy(&r);
}
END_TEST

START_TEST(test_clean_event_unchanged)
{
    lh_redact_t *r = rules(1, NULL, NULL);
    const char *j = "{\"id\":\"d-1\",\"kind\":\"deploy\",\"time\":\"2026-01-10T10:00:00Z\","
                    "\"service\":\"api\",\"environment\":\"prod\",\"actor\":\"bob\","
                    "\"hosts\":[\"web-1\"],\"labels\":{\"team\":\"core\",\"keyboard\":\"de\"},"
                    "\"deploy\":{\"version\":\"2.0\",\"artifact\":\"https://reg.example:443/api\","
                    "\"commit\":\"abc123\"}}";
    lh_event_t *ev = json_event(j);
    lh_buf_t before = LH_BUF_INIT, after = LH_BUF_INIT;
    ck_assert_int_eq(lh_codec_pb_encode(ev, &before), 0);
    const void *raw = ev->raw;
    size_t raw_len = ev->raw_len;
    ck_assert_ptr_nonnull(raw);
    ck_assert_int_eq(lh_redact_event(r, ev, NULL, NULL), 0);
    ck_assert_int_eq(lh_codec_pb_encode(ev, &after), 0);
    ck_assert_uint_eq(before.len, after.len);
    ck_assert_int_eq(memcmp(before.data, after.data, before.len), 0);
    /* clean: the original bytes stay, as before */
    ck_assert_ptr_eq(ev->raw, raw);
    ck_assert_uint_eq(ev->raw_len, raw_len);
    lh_buf_free(&before);
    lh_buf_free(&after);
    lh_event_destroy(&ev);
    lh_redact_destroy(&r);
}
END_TEST

/* A secret in a part of the input no field maps (an unknown member): the event is clean, the
 * raw bytes are not, so they are not kept. */
START_TEST(test_raw_dropped_when_it_alone_holds_a_secret)
{
    lh_redact_t *r = rules(1, NULL, NULL);
    lh_event_t *ev = json_event("{\"id\":\"d-1\",\"kind\":\"deploy\",\"time\":"
                                "\"2026-01-10T10:00:00Z\",\"service\":\"api\",\"extra\":"
                                "{\"password\":\"" PW "\"},\"deploy\":{\"version\":\"2\"}}");
    ck_assert_ptr_nonnull(ev->raw);
    ck_assert_ptr_nonnull(memmem(ev->raw, ev->raw_len, PW, strlen(PW)));
    seen_t s = {"", 0};
    ck_assert_int_eq(lh_redact_event(r, ev, on_field, &s), 1);
    ck_assert_str_eq(s.fields, "raw,");
    ck_assert_ptr_null(ev->raw);
    lh_event_destroy(&ev);
    lh_redact_destroy(&r);
}
END_TEST

START_TEST(test_bytes_with_nul)
{
    lh_redact_t *r = rules(1, NULL, NULL);
    static const char in[] = "\x0a\x05token\x00\x12password=" PW "\x00tail";
    char *out = NULL;
    size_t len = 0;
    ck_assert_int_eq(lh_redact_bytes(r, in, sizeof(in) - 1, &out, &len), 1);
    static const char want[] = "\x0a\x05token\x00\x12password=[redacted]\x00tail";
    ck_assert_uint_eq(len, sizeof(want) - 1);
    ck_assert_int_eq(memcmp(out, want, len), 0);
    ck_assert_int_eq(out[len], 0);
    free(out);
    /* nothing found: no copy */
    ck_assert_int_eq(lh_redact_bytes(r, "\x00\x01plain", 7, &out, &len), 0);
    ck_assert_ptr_null(out);
    char *s = strdup("reason: 'token=" PW "'");
    ck_assert_int_eq(lh_redact_str(r, &s), 1);
    ck_assert_str_eq(s, "reason: 'token=[redacted]'");
    free(s);
    lh_redact_destroy(&r);
}
END_TEST

START_TEST(test_custom_rules)
{
    /* a key rule of one's own, anchored; the defaults stay */
    lh_redact_t *r = rules(1, "^(x-internal|pin)$", NULL);
    lh_event_t *ev = json_event("{\"id\":\"d-1\",\"kind\":\"deploy\",\"time\":"
                                "\"2026-01-10T10:00:00Z\",\"service\":\"api\",\"labels\":{"
                                "\"PIN\":\"1234\",\"pinned\":\"yes\",\"token\":\"t\"},"
                                "\"deploy\":{}}");
    ck_assert_int_eq(lh_redact_event(r, ev, NULL, NULL), 2);
    ck_assert_str_eq(lh_event_label(ev, "PIN"), LH_REDACTED);
    ck_assert_str_eq(lh_event_label(ev, "pinned"), "yes");
    ck_assert_str_eq(lh_event_label(ev, "token"), LH_REDACTED);
    lh_event_destroy(&ev);
    lh_redact_destroy(&r);

    /* a value rule: with groups, the last one is replaced; without, the whole match */
    r = rules(0, NULL, "(ssn|card)[ =:]+([0-9-]{6,})");
    expect_scrub(r, "card 4111-1111-1111-1111 declined", "card [redacted] declined");
    expect_scrub(r, "password=" PW, "password=" PW); /* defaults off */
    lh_redact_destroy(&r);
    r = rules(0, NULL, "[0-9]{3}-[0-9]{2}-[0-9]{4}");
    expect_scrub(r, "ssn 123-45-6789.", "ssn [redacted].");
    lh_redact_destroy(&r);
    /* defaults off and no rules: nothing changes, the raw bytes stay */
    r = rules(0, NULL, NULL);
    ev = json_event("{\"id\":\"d-1\",\"kind\":\"deploy\",\"time\":\"2026-01-10T10:00:00Z\","
                    "\"service\":\"api\",\"labels\":{\"password\":\"" PW "\"},\"deploy\":{}}");
    ck_assert_int_eq(lh_redact_event(r, ev, NULL, NULL), 0);
    ck_assert_str_eq(lh_event_label(ev, "password"), PW);
    ck_assert_ptr_nonnull(ev->raw);
    lh_event_destroy(&ev);
    lh_redact_destroy(&r);
}
END_TEST

START_TEST(test_bad_patterns)
{
    lh_redact_opts_t o;
    lh_redact_opts_default(&o);
    lh_redact_t *r = NULL;
    char why[256];
    const char *bad[] = {"a("};
    o.keys = bad;
    o.n_keys = 1;
    ck_assert_int_eq(lh_redact_new(&o, &r, why, sizeof(why)), LH_EINVAL);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(why, "--redact-key 'a('") != NULL, "%s", why);
    o.n_keys = 0;
    const char *badv[] = {"[z-a]"};
    o.values = badv;
    o.n_values = 1;
    ck_assert_int_eq(lh_redact_new(&o, &r, why, sizeof(why)), LH_EINVAL);
    ck_assert_msg(strstr(why, "--redact-value '[z-a]'") != NULL, "%s", why);
    const char *empty[] = {""};
    o.values = empty;
    ck_assert_int_eq(lh_redact_new(&o, &r, why, sizeof(why)), LH_EINVAL);
    ck_assert_msg(strstr(why, "empty pattern") != NULL, "%s", why);
}
END_TEST

/* ---- through the hub, with a real store ---------------------------------------------------- */

typedef struct {
    lh_buf_t out; /* every alert published, as encoded */
    int n;
} sink_t;

static int
sink_start(void *ctx, lh_hub_t *hub)
{
    (void)ctx;
    (void)hub;
    return 0;
}

static int
sink_publish(void *ctx, int64_t seq, const lh_correlated_t *ca, const void *p, size_t len)
{
    (void)seq;
    (void)ca;
    sink_t *s = ctx;
    lh_buf_append(&s->out, p, len);
    lh_buf_append(&s->out, "\n", 1);
    s->n++;
    return 0;
}

static void
sink_destroy(void *ctx)
{
    (void)ctx;
}

static const lh_adapter_ops_t sink_ops = {
    .name = "test-sink",
    .start = sink_start,
    .publish = sink_publish,
    .destroy = sink_destroy,
};

static sink_t sink;
static lh_hub_t *hub;

static void
hub_setup(void)
{
    lh_test_store_setup();
    memset(&sink, 0, sizeof(sink));
    lh_hub_opts_t o;
    lh_hub_opts_default(&o);
    o.db_path = lh_test_fx.db;
    o.alerts_format = LH_ALERTS_JSON;
    ck_assert_int_eq(lh_hub_new(&o, &hub), 0);
    ck_assert_int_eq(lh_hub_add_adapter(hub, &sink_ops, &sink, "zmq-pub"), 0);
    ck_assert_int_eq(lh_hub_start_adapters(hub), 0);
}

static void
hub_teardown(void)
{
    lh_hub_destroy(&hub);
    lh_buf_free(&sink.out);
    lh_test_store_teardown();
}

static void
submit(const void *data, size_t len)
{
    lh_submit_t m = {.origin = "test", .data = data, .len = len};
    ck_assert_int_eq(lh_hub_submit(hub, &m), 0);
}

static void
submit_json(const char *j)
{
    submit(j, strlen(j));
}

/* Which secret the bytes hold, or NULL. */
static const char *
secret_in(const void *p, size_t len)
{
    for (size_t i = 0; p && i < N_SECRETS; i++)
        if (memmem(p, len, secrets[i], strlen(secrets[i])))
            return secrets[i];
    return NULL;
}

/* Every column of every row of every table of the store file: no secret. Returns the rows of
 * table `count` (for the tests to know they looked at something). */
static int64_t
store_holds_no_secret(const char *count)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(lh_test_fx.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *t = NULL;
    ck_assert_int_eq(
        sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &t, NULL),
        SQLITE_OK);
    int64_t rows_of_count = 0;
    int tables = 0;
    while (sqlite3_step(t) == SQLITE_ROW) {
        char sql[200];
        const char *name = (const char *)sqlite3_column_text(t, 0);
        snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\"", name);
        sqlite3_stmt *s = NULL;
        ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
        while (sqlite3_step(s) == SQLITE_ROW) {
            if (strcmp(name, count) == 0)
                rows_of_count++;
            for (int c = 0; c < sqlite3_column_count(s); c++) {
                const void *p = sqlite3_column_blob(s, c);
                const char *hit = secret_in(p, (size_t)sqlite3_column_bytes(s, c));
                ck_assert_msg(!hit, "table %s, column %s holds %s", name, sqlite3_column_name(s, c),
                              hit);
            }
        }
        sqlite3_finalize(s);
        tables++;
    }
    sqlite3_finalize(t);
    sqlite3_close(db);
    ck_assert_int_gt(tables, 3);
    return rows_of_count;
}

static int64_t
metric(const char *name)
{
    lh_buf_t b = LH_BUF_INIT;
    ck_assert_int_eq(lh_hub_metrics(hub, &b), 0);
    lh_buf_append(&b, "", 1);
    char line[128];
    snprintf(line, sizeof(line), "\n%s ", name); /* the sample, not its HELP line */
    const char *p = strstr((const char *)b.data, line);
    int64_t v = p ? atoll(p + strlen(line)) : -1;
    lh_buf_free(&b);
    return v;
}

#define DEPLOY_WITH_SECRETS                                                                        \
    "{\"id\":\"d-1\",\"kind\":\"deploy\",\"time\":\"2026-01-10T10:00:00Z\",\"service\":\"api\","   \
    "\"environment\":\"prod\",\"actor\":\"ci password=" PW "\",\"labels\":{\"db_password\":\"" PW  \
    "\",\"Authorization\":\"Bearer " JWT "\",\"note\":\"aws " AWS "\"},\"deploy\":{\"deploy_id\":" \
    "\"D-1\",\"version\":\"2\",\"artifact\":\"https://ci:" URLPW "@reg.example/api:2\"}}"

START_TEST(test_hub_store_holds_no_secret)
{
    submit_json(DEPLOY_WITH_SECRETS);
    ck_assert_int_eq(lh_hub_turn(hub, 0), 1);
    ck_assert_int_eq(store_holds_no_secret("events"), 1);
    ck_assert_int_gt(metric("loophub_redacted_total"), 4);
    /* what a developer or auditor reads: the timeline */
    lh_timeline_req_t req = {.mode = LH_TIMELINE_DEPLOY, .deploy_id = "D-1"};
    lh_buf_t b = LH_BUF_INIT;
    ck_assert_int_eq(lh_hub_timeline(hub, &req, LH_QUERY_JSON, &b), 0);
    ck_assert_ptr_nonnull(memmem(b.data, b.len, "db_password", 11));
    ck_assert_ptr_nonnull(memmem(b.data, b.len, LH_REDACTED, strlen(LH_REDACTED)));
    ck_assert_ptr_null(secret_in(b.data, b.len));
    lh_buf_free(&b);
}
END_TEST

START_TEST(test_hub_alert_holds_no_secret)
{
    submit_json(DEPLOY_WITH_SECRETS);
    submit_json("{\"id\":\"i-1\",\"kind\":\"incident\",\"time\":\"2026-01-10T10:05:00Z\","
                "\"service\":\"api\",\"environment\":\"prod\",\"labels\":{\"session\":\"" PW "\"},"
                "\"incident\":{\"incident_id\":\"INC-1\",\"state\":\"detected\",\"severity\":"
                "\"critical\",\"title\":\"5xx after deploy; see https://ops:" URLPW
                "@grafana.example/d and Bearer " JWT "\"}}");
    ck_assert_int_eq(lh_hub_turn(hub, 0), 2);
    lh_hub_turn(hub, 0);
    ck_assert_int_ge(sink.n, 1);
    /* the alert names the deploy and carries the outcome, scrubbed */
    ck_assert_ptr_nonnull(memmem(sink.out.data, sink.out.len, "D-1", 3));
    ck_assert_ptr_nonnull(memmem(sink.out.data, sink.out.len, "grafana.example", 15));
    const char *hit = secret_in(sink.out.data, sink.out.len);
    ck_assert_msg(!hit, "published alert holds %s", hit);
    ck_assert_int_ge(store_holds_no_secret("alerts"), 1);
}
END_TEST

/* A rejected event: the quarantine keeps its scrubbed protobuf, not the message it came in. */
START_TEST(test_hub_quarantine_holds_no_secret)
{
    /* decoded, then rejected (a deploy without a service) */
    submit_json("{\"id\":\"d-2\",\"kind\":\"deploy\",\"time\":\"2026-01-10T10:00:00Z\","
                "\"labels\":{\"api-key\":\"" PW "\",\"note\":\"" AWS "\"},\"deploy\":{}}");
    /* not decoded: a bad time, the reason quotes it; JSON syntax errors keep the raw bytes */
    submit_json("{\"id\":\"d-3\",\"kind\":\"deploy\",\"time\":\"password=" PW "\","
                "\"service\":\"api\",\"deploy\":{}}");
    submit_json("{\"id\":\"d-4\",\"token\":\"" PW "\", \"url\":\"https://u:" URLPW "@h\",,,");
    /* protobuf, decoded and rejected: the message's bytes hold the secret unquoted */
    lh_event_t *ev = lh_event_new();
    ev->id = lh_event_str(ev, "d-5", (size_t)-1);
    ev->kind = LH_KIND_DEPLOY;
    ev->time_ns = 1768039200LL * 1000000000LL;
    ck_assert_int_eq(lh_event_add_label(ev, "secret", 6, PW, strlen(PW)), 0);
    lh_buf_t pb = LH_BUF_INIT;
    ck_assert_int_eq(lh_codec_pb_encode(ev, &pb), 0);
    ck_assert_ptr_nonnull(secret_in(pb.data, pb.len));
    submit(pb.data, pb.len);
    lh_buf_free(&pb);
    lh_event_destroy(&ev);
    ck_assert_int_eq(lh_hub_turn(hub, 0), 0);
    ck_assert_int_eq(store_holds_no_secret("quarantine"), 4);
    /* what is quarantined still says what it was */
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_open_v2(lh_test_fx.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM quarantine WHERE reason LIKE "
                                        "'%password=[redacted]%' AND length(payload) > 0",
                                        -1, &s, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(s, 0), 1);
    sqlite3_finalize(s);
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM quarantine WHERE event_id = 'd-5' "
                                        "AND length(payload) > 0",
                                        -1, &s, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(s, 0), 1);
    sqlite3_finalize(s);
    sqlite3_close(db);
}
END_TEST

START_TEST(test_hub_log_holds_no_secret)
{
    lh_log_set_level(LH_LOG_DEBUG);
    /* two rejections with two reasons (one line per reason per second), each quoting */
    submit_json("{\"id\":\"d-6\",\"kind\":\"token=" PW "\",\"time\":"
                "\"2026-01-10T10:00:00Z\"}");
    lh_submit_t m = {.origin = "test",
                     .data = "x",
                     .len = 1,
                     .reject = "bad envelope from https://u:" URLPW "@peer"};
    ck_assert_int_eq(lh_hub_submit(hub, &m), 0);
    submit_json(DEPLOY_WITH_SECRETS);
    ck_assert_int_eq(lh_hub_turn(hub, 0), 1);
    ck_assert_msg(strstr(lh_test_fx.log, "rejected event d-6") != NULL, "%s", lh_test_fx.log);
    ck_assert_msg(strstr(lh_test_fx.log, "token=[redacted]") != NULL, "%s", lh_test_fx.log);
    ck_assert_msg(strstr(lh_test_fx.log, "https://u:[redacted]@peer") != NULL, "%s",
                  lh_test_fx.log);
    const char *hit = secret_in(lh_test_fx.log, strlen(lh_test_fx.log));
    ck_assert_msg(!hit, "the log holds %s:\n%s", hit, lh_test_fx.log);
    store_holds_no_secret("quarantine");
}
END_TEST

static int64_t
hub_sql(const char *sql)
{
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(lh__store_db(lh_hub_store(hub)), sql, -1, &s, NULL),
                     SQLITE_OK);
    int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return v;
}

/* A batch whose commit fails (a full disk) is scrubbed once, before it waits: the retry that
 * commits it quarantines the scrubbed protobuf, not the message's bytes. */
START_TEST(test_hub_retried_commit_keeps_no_secret)
{
    char sql[80];
    snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld",
             (long long)hub_sql("PRAGMA page_count"));
    hub_sql(sql);
    /* protobuf, rejected (no service): its bytes hold the secret where no value rule sees it */
    lh_event_t *ev = lh_event_new();
    ev->id = lh_event_str(ev, "d-5", (size_t)-1);
    ev->kind = LH_KIND_DEPLOY;
    ev->time_ns = 1768039200LL * 1000000000LL;
    ck_assert_int_eq(lh_event_add_label(ev, "secret", 6, PW, strlen(PW)), 0);
    lh_buf_t pb = LH_BUF_INIT;
    ck_assert_int_eq(lh_codec_pb_encode(ev, &pb), 0);
    submit(pb.data, pb.len);
    lh_buf_free(&pb);
    lh_event_destroy(&ev);
    /* and a deploy too big for the full store */
    static char note[4001];
    memset(note, 'n', 4000);
    char *big = malloc(40000);
    snprintf(big, 40000,
             "{\"id\":\"big-1\",\"kind\":\"deploy\",\"time\":\"2026-01-10T10:00:00Z\","
             "\"service\":\"api\",\"labels\":{\"token\":\"" PW "\",\"n1\":\"%s\",\"n2\":"
             "\"%s\",\"n3\":\"%s\",\"n4\":\"%s\",\"n5\":\"%s\",\"n6\":\"%s\"},"
             "\"deploy\":{}}",
             note, note, note, note, note, note);
    submit_json(big);
    free(big);
    int64_t end = lh_mono_ns() + 8 * LH_NS_PER_SEC;
    while (metric("loophub_store_errors_total") < 1 && lh_mono_ns() < end)
        lh_hub_turn(hub, 20);
    ck_assert_int_ge(metric("loophub_store_errors_total"), 1);
    int64_t scrubbed = metric("loophub_redacted_total");
    ck_assert_int_eq(scrubbed, 2);
    hub_sql("PRAGMA max_page_count = 1073741823");
    while (metric("loophub_batches_total") < 1 && lh_mono_ns() < end)
        lh_hub_turn(hub, 20);
    ck_assert_int_eq(metric("loophub_batches_total"), 1);
    /* scrubbed once, however many times the batch was tried */
    ck_assert_int_eq(metric("loophub_redacted_total"), scrubbed);
    ck_assert_int_eq(store_holds_no_secret("quarantine"), 1);
    ck_assert_int_eq(hub_sql("SELECT count(*) FROM quarantine WHERE event_id = 'd-5' AND "
                             "length(payload) > 0"),
                     1);
    ck_assert_int_eq(hub_sql("SELECT count(*) FROM events WHERE id = 'big-1'"), 1);
}
END_TEST

/* A label key rule of one's own cannot apply to bytes: a message whose event it changed is not
 * kept as bytes for the rest of the message's rejections either. */
START_TEST(test_hub_message_bytes_not_kept_after_a_change)
{
    lh_hub_destroy(&hub);
    lh_hub_opts_t o;
    lh_hub_opts_default(&o);
    o.db_path = lh_test_fx.db;
    const char *keys[] = {"^pin$"};
    o.redact_keys = keys;
    o.n_redact_keys = 1;
    ck_assert_int_eq(lh_hub_new(&o, &hub), 0);
    submit_json("[{\"id\":\"t-1\",\"kind\":\"ticket\",\"time\":\"2026-01-10T10:00:00Z\","
                "\"labels\":{\"pin\":\"" PW "\"},\"ticket\":{\"ticket_id\":\"CHG-1\"}},"
                "{\"id\":\"t-2\",\"kind\":7}]");
    ck_assert_int_eq(lh_hub_turn(hub, 0), 1);
    ck_assert_int_eq(store_holds_no_secret("quarantine"), 1);
    ck_assert_int_eq(hub_sql("SELECT count(*) FROM events WHERE id = 't-1' AND raw IS NULL"), 1);
}
END_TEST

START_TEST(test_hub_bad_pattern_fails_start)
{
    lh_hub_destroy(&hub);
    lh_hub_opts_t o;
    lh_hub_opts_default(&o);
    o.db_path = lh_test_fx.db;
    const char *bad[] = {"(unclosed"};
    o.redact_values = bad;
    o.n_redact_values = 1;
    ck_assert_int_eq(lh_hub_new(&o, &hub), LH_ECONFIG);
    ck_assert_ptr_null(hub);
    ck_assert_msg(strstr(lh_test_fx.log, "--redact-value '(unclosed'") != NULL, "%s",
                  lh_test_fx.log);
}
END_TEST

/* ---- settings and `loophub redact-check` ----------------------------------------------------- */

static int
run_conf(lh_run_conf_t *c, const char *const *args, int n, char *err, size_t errlen)
{
    char *argv[16];
    ck_assert_int_lt(n, 15);
    argv[0] = "run";
    for (int i = 0; i < n; i++)
        argv[i + 1] = (char *)args[i];
    argv[n + 1] = NULL;
    size_t n_defs;
    const lh_adapter_def_t *const *defs = lh_registry_adapters(&n_defs);
    ck_assert_int_eq(lh_run_conf_init(c, defs, n_defs), 0);
    return lh_run_conf_parse(c, n + 1, argv, err, errlen);
}

START_TEST(test_settings)
{
    lh_run_conf_t c;
    char err[512] = "";
    /* defaults: on, no extra rules */
    ck_assert_int_eq(run_conf(&c, NULL, 0, err, sizeof(err)), 0);
    lh_redact_opts_t o;
    ck_assert_int_eq(lh_run_conf_redaction(&c, &o), 0);
    ck_assert_int_eq(o.defaults, 1);
    ck_assert_uint_eq(o.n_keys + o.n_values, 0);
    lh_run_conf_free(&c);

    /* the config file's [redaction], keys repeated */
    char ini[700];
    snprintf(ini, sizeof(ini), "%s/hub.ini", lh_test_fx.dir);
    const char *text =
        "[redaction]\ndefaults = off\nkey = ^pin$\nkey = ^otp\nvalue = ssn=([0-9]+)\n";
    ck_assert_int_eq(lh_test_write_file(ini, text, strlen(text)), 0);
    const char *a1[] = {"--config", ini};
    ck_assert_int_eq(run_conf(&c, a1, 2, err, sizeof(err)), 0);
    ck_assert_int_eq(lh_run_conf_redaction(&c, &o), 0);
    ck_assert_int_eq(o.defaults, 0);
    ck_assert_uint_eq(o.n_keys, 2);
    ck_assert_str_eq(o.keys[1], "^otp");
    ck_assert_uint_eq(o.n_values, 1);
    lh_run_conf_free(&c);

    /* the annotated example config's [redaction] reads and compiles */
    char example[700];
    snprintf(example, sizeof(example), "%s/examples/loophub.ini", LH_SOURCE_DIR);
    const char *a0[] = {"--config", example};
    ck_assert_msg(run_conf(&c, a0, 2, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(lh_run_conf_redaction(&c, &o), 0);
    ck_assert_int_eq(o.defaults, 1);
    lh_run_conf_free(&c);

    /* a bad pattern is a clear error naming the option */
    const char *a2[] = {"--redact-key", "a("};
    ck_assert_int_eq(run_conf(&c, a2, 2, err, sizeof(err)), LH_EINVAL);
    ck_assert_msg(strstr(err, "--redact-key 'a('") != NULL, "%s", err);
    lh_run_conf_free(&c);
    const char *a3[] = {"--redact-defaults", "maybe"};
    ck_assert_int_eq(run_conf(&c, a3, 2, err, sizeof(err)), LH_EINVAL);
    ck_assert_msg(strstr(err, "--redact-defaults") != NULL, "%s", err);
    lh_run_conf_free(&c);
}
END_TEST

/* Runs `loophub redact-check args...` in-process; its stdout in the returned string. */
static char *
redact_check(const char *const *args, int n, int *rc)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/stdout", lh_test_fx.dir);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    dup2(fd, STDOUT_FILENO);
    close(fd);
    char *argv[16];
    argv[0] = "redact-check";
    for (int i = 0; i < n; i++)
        argv[i + 1] = (char *)args[i];
    argv[n + 1] = NULL;
    *rc = lh_cli_redact_check(n + 1, argv);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    return lh_test_must_read(path);
}

START_TEST(test_redact_check)
{
    char in[700];
    snprintf(in, sizeof(in), "%s/sample.jsonl", lh_test_fx.dir);
    const char *text = DEPLOY_WITH_SECRETS
        "\n"
        "[{\"id\":\"t-1\",\"kind\":\"ticket\",\"time\":\"2026-01-10T10:00:00Z\",\"ticket\":"
        "{\"ticket_id\":\"CHG-1\",\"summary\":\"clean\"}},{\"id\":\"t-2\",\"kind\":\"ticket\","
        "\"time\":\"2026-01-10T10:00:00Z\",\"labels\":{\"pin\":\"1234\"},\"ticket\":{\"ticket_id\":"
        "\"CHG-2\"}}]\n"
        "\n"
        "{\"id\":\"x\",\"kind\":\"token=" PW "\"}\n";
    ck_assert_int_eq(lh_test_write_file(in, text, strlen(text)), 0);
    int rc;
    const char *a1[] = {in};
    char *out = redact_check(a1, 1, &rc);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strstr(out, "line 1: event d-1 (deploy)\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "  labels.db_password: [redacted]\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "  deploy.artifact: https://ci:[redacted]@reg.example/api:2\n"), "%s",
                  out);
    ck_assert_msg(strstr(out, "  raw: (not kept)\n") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "t-1") == NULL && strstr(out, "t-2") == NULL, "%s", out);
    ck_assert_msg(strstr(out, "line 4: not read event x: ") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "3 events read, 1 would change, 5 values redacted, 1 lines or "
                              "events not read\n") != NULL,
                  "%s", out);
    ck_assert_msg(!secret_in(out, strlen(out)), "%s", out);
    free(out);

    /* the same options as run: one's own key rule, defaults off */
    const char *a2[] = {"--redact-defaults", "off", "--redact-key", "^pin$", in};
    out = redact_check(a2, 5, &rc);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strstr(out, "line 2: event t-2 (ticket)\n  labels.pin: [redacted]\n") != NULL,
                  "%s", out);
    ck_assert_msg(strstr(out, "3 events read, 1 would change, 1 values redacted") != NULL, "%s",
                  out);
    free(out);

    const char *a3[] = {"--redact-value", "x(", in};
    out = redact_check(a3, 3, &rc);
    ck_assert_int_eq(rc, LH_EXIT_USAGE);
    free(out);
    const char *a4[] = {"--help"};
    out = redact_check(a4, 1, &rc);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strstr(out, "Usage: loophub redact-check") != NULL, "%s", out);
    free(out);
    const char *a5[] = {"/nonexistent/sample.jsonl"};
    out = redact_check(a5, 1, &rc);
    ck_assert_int_eq(rc, LH_EXIT_ERROR);
    free(out);
}
END_TEST

/* `loophub run --help` lists the options, from the config map */
START_TEST(test_run_help_lists_options)
{
    lh_run_conf_t c;
    size_t n_defs;
    const lh_adapter_def_t *const *defs = lh_registry_adapters(&n_defs);
    ck_assert_int_eq(lh_run_conf_init(&c, defs, n_defs), 0);
    char path[700];
    snprintf(path, sizeof(path), "%s/help", lh_test_fx.dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    lh_run_conf_help(&c, f);
    fclose(f);
    lh_run_conf_free(&c);
    char *help = lh_test_must_read(path);
    ck_assert_ptr_nonnull(strstr(help, "--redact-key REGEX"));
    ck_assert_ptr_nonnull(strstr(help, "--redact-value REGEX"));
    ck_assert_ptr_nonnull(strstr(help, "--redact-defaults on|off"));
    ck_assert_ptr_nonnull(strstr(help, "[redaction.key]"));
    free(help);
}
END_TEST

int
main(void)
{
    const lh_test_case_t unit[] = {
        {"default_key_rule", test_default_key_rule, 0, 0},
        {"default_value_rules", test_default_value_rules, 0, 0},
        {"every_string_field_ids_untouched", test_every_string_field_ids_untouched, 0, 0},
        {"clean_event_unchanged", test_clean_event_unchanged, 0, 0},
        {"raw_dropped_when_it_alone_holds_a_secret", test_raw_dropped_when_it_alone_holds_a_secret,
         0, 0},
        {"bytes_with_nul", test_bytes_with_nul, 0, 0},
        {"custom_rules", test_custom_rules, 0, 0},
        {"bad_patterns", test_bad_patterns, 0, 0},
    };
    const lh_test_case_t hubs[] = {
        {"hub_store_holds_no_secret", test_hub_store_holds_no_secret, 0, 0},
        {"hub_alert_holds_no_secret", test_hub_alert_holds_no_secret, 0, 0},
        {"hub_quarantine_holds_no_secret", test_hub_quarantine_holds_no_secret, 0, 0},
        {"hub_log_holds_no_secret", test_hub_log_holds_no_secret, 0, 0},
        {"hub_retried_commit_keeps_no_secret", test_hub_retried_commit_keeps_no_secret, 0, 0},
        {"hub_message_bytes_not_kept_after_a_change",
         test_hub_message_bytes_not_kept_after_a_change, 0, 0},
        {"hub_bad_pattern_fails_start", test_hub_bad_pattern_fails_start, 0, 0},
    };
    const lh_test_case_t cli[] = {
        {"settings", test_settings, 0, 0},
        {"redact_check", test_redact_check, 0, 0},
        {"run_help_lists_options", test_run_help_lists_options, 0, 0},
    };
    Suite *s = suite_create("redact");
    lh_test_add_cases(s, unit, LH_TEST_COUNT(unit), 30, NULL, NULL);
    lh_test_add_cases(s, hubs, LH_TEST_COUNT(hubs), 60, hub_setup, hub_teardown);
    lh_test_add_cases(s, cli, LH_TEST_COUNT(cli), 30, lh_test_store_setup, lh_test_store_teardown);
    return lh_test_run_suite(s);
}
